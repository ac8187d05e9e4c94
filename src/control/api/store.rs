//! Where the operator API's changes live: the operator file, behind [`OperatorStore`].
//!
//! Owns the write protocol "read text and version → edit → write only if the version is still
//! the one read" ([`OperatorStore`]), the [`Version`] of a text (what `ETag` carries), and
//! [`FileStore`]: the operator file on disk, which is `[gateway] emergency_file` (one include
//! file for everything an operator changes at run time, emergencies and API edits alike). Its
//! write reuses `control::emergency`'s machinery — the edit lock, a temporary file beside the
//! target, the whole configuration validated with it standing in, fsync, rename — so the CLI
//! and the API never write past each other.
//!
//! It does not edit documents (the resources do) nor reload (the API does, after a write). A
//! store of another kind implements the same trait: cluster mode's `cluster::api::EtcdStore`,
//! handed in by the binary (control must not know about etcd), whose versions are etcd
//! revisions ([`Version::revision`]) and which puts its writes in force itself
//! ([`OperatorStore::in_force`]).

use crate::config::{Diagnostic, Report};
use crate::control::emergency::{self, Target};
use blake2::{Blake2s256, Digest};
use std::path::PathBuf;

/// The version of an operator file's text: a hash of its bytes (the same text, the same
/// version, whoever wrote it). Shown quoted as an `ETag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(String);

impl Version {
    pub fn of(text: &str) -> Version {
        let hash = Blake2s256::new().chain_update(b"hiatus-operator-v1\n").chain_update(text.as_bytes()).finalize();
        Version(hash.iter().take(12).map(|b| format!("{b:02x}")).collect())
    }

    /// The version of a store that numbers its writes (etcd's `mod_revision`): `r42`.
    pub fn revision(number: i64) -> Version {
        Version(format!("r{number}"))
    }

    /// The number of a [`Version::revision`]; `None` for a hash.
    pub fn revision_number(&self) -> Option<i64> {
        self.0.strip_prefix('r')?.parse().ok()
    }

    /// `"…"`: the strong entity tag of this version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// Whether an `If-Match` value names this version (`*` names any; a list is allowed).
    pub fn matches(&self, if_match: &str) -> bool {
        let etag = self.etag();
        if_match.split(',').map(str::trim).any(|t| t == "*" || t == etag)
    }
}

/// Why a store did not write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The text changed since it was read: read again and redo the edit.
    #[error("the operator file changed since it was read")]
    Conflict,
    /// The configuration would have errors with the new text; nothing was written.
    #[error("the configuration would have {} error(s) with this change", .0.errors.len())]
    Invalid(Report),
    /// The configuration names no operator file, or it cannot be read or written.
    #[error("{0}")]
    Unavailable(String),
}

/// The operator file's text, versioned: the one interface the API writes through.
pub trait OperatorStore: Send + Sync + std::fmt::Debug {
    /// The text as it is now (empty when there is none yet) and its version.
    fn read(&self) -> Result<(String, Version), StoreError>;

    /// Writes `text` if the stored version is still `expected`, after the whole configuration
    /// validated with it; the new version. Warnings about the operator file come back too.
    fn write(&self, text: &str, expected: &Version) -> Result<(Version, Vec<Diagnostic>), StoreError>;

    /// For a read that changes nothing (a `GET`): [`OperatorStore::read`], or, when the store
    /// cannot be reached now, the text and version this node last put in force, marked
    /// `Known::InForce` (a node cut from etcd still shows what it serves). Writes always
    /// [`OperatorStore::read`]: an edit is never made on a copy.
    fn read_known(&self) -> Result<(String, Version, Known), StoreError> {
        self.read().map(|(text, version)| (text, version, Known::Current))
    }

    /// After a write: `None` when the store leaves applying it to the API (a reload, as for
    /// a file); else waits, bounded, until `version` is in force on this node, and says
    /// whether it is (`Err`: why not yet). Blocking.
    fn in_force(&self, _version: &Version) -> Option<Result<(), String>> {
        None
    }
}

/// Where a [`OperatorStore::read_known`] answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// The store itself.
    Current,
    /// This node's last applied version: the store could not be reached.
    InForce,
}

/// The operator file of the configuration at `main` (`[gateway] emergency_file`).
#[derive(Debug, Clone)]
pub struct FileStore {
    pub main: PathBuf,
}

impl FileStore {
    /// Found anew at each call: a reload may have moved the operator file.
    fn target(&self) -> Result<Target, StoreError> {
        Target::locate(&self.main, None).map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn text(target: &Target) -> Result<String, StoreError> {
        match std::fs::read_to_string(&target.file) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(StoreError::Unavailable(format!("{}: {e}", target.file.display()))),
        }
    }
}

impl OperatorStore for FileStore {
    fn read(&self) -> Result<(String, Version), StoreError> {
        let text = Self::text(&self.target()?)?;
        let version = Version::of(&text);
        Ok((text, version))
    }

    fn write(&self, text: &str, expected: &Version) -> Result<(Version, Vec<Diagnostic>), StoreError> {
        let target = self.target()?;
        let (lock, _) = target.lock().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Under the lock nobody else writes: the version read now is the one replaced.
        if Version::of(&Self::text(&target)?) != *expected {
            return Err(StoreError::Conflict);
        }
        match target.commit(&lock, text) {
            Ok(warnings) => Ok((Version::of(text), warnings)),
            Err(emergency::Error::Invalid(report)) => Err(StoreError::Invalid(report)),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_text_and_if_match_reads_lists_and_stars() {
        let a = Version::of("a = 1\n");
        assert_eq!(a, Version::of("a = 1\n"));
        assert_ne!(a, Version::of("a = 2\n"));
        assert!(a.matches(&a.etag()));
        assert!(a.matches("*"));
        assert!(a.matches(&format!("\"x\", {}", a.etag())));
        assert!(!a.matches("\"x\""));
        assert!(!a.matches(&Version::of("").etag()));
    }

    #[test]
    fn revisions_are_versions_that_give_their_number_back() {
        let r = Version::revision(42);
        assert_eq!(r.etag(), "\"r42\"");
        assert_eq!(r.revision_number(), Some(42));
        assert!(r.matches("\"r42\"") && !r.matches("\"r41\""));
        assert_eq!(Version::of("a").revision_number(), None);
    }
}
