//! The operator API's store in cluster mode: [`EtcdStore`], the operator document in etcd
//! behind `control::api::store::OperatorStore`, so that the API writes where every node reads.
//!
//! Owns the mapping: an etcd `mod_revision` is the API's version (`ETag` `"r42"`), a write is
//! one compare-and-swap on it after the whole configuration of this node validated with the
//! new text (a text no node would accept never reaches etcd), and a written revision is in
//! force here once this node's [`Applier`] applied it (the answer waits for that, bounded,
//! so its `generation` and a following read show the change). A read while etcd cannot be
//! reached shows the revision in force here (`read_known`), marked so; a write then is a 503. It does not retry (the API's
//! edit loop does) nor apply anything itself (the watch does, through the `Applier`).

use super::client::{Client, Error};
use super::store::{Applier, EtcdOperator};
use crate::config::Diagnostic;
use crate::control::api::store::{Known, OperatorStore, StoreError, Version};
use crate::control::emergency::{self, Target};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long an API write waits for this node to apply the revision it wrote.
pub const IN_FORCE_WAIT: Duration = Duration::from_secs(5);

/// The operator document in etcd, as the operator API's store.
#[derive(Debug)]
pub struct EtcdStore {
    pub client: Arc<Client>,
    pub prefix: String,
    /// This node's main file: its configuration validates a text before it is written.
    pub main: PathBuf,
    pub applier: Arc<Applier>,
    pub wait: Duration,
}

impl EtcdStore {
    fn document(&self) -> EtcdOperator<'_> {
        EtcdOperator { client: &self.client, prefix: &self.prefix }
    }
}

/// etcd's failure in the API's words: nothing was changed (a lost answer to a write is said
/// apart, since that write may have landed).
fn etcd_failed(e: Error, writing: bool) -> StoreError {
    let what = match (&e, writing) {
        (Error::Unreachable(_), true) => "etcd did not answer the write; read again before retrying",
        (Error::Unreachable(_), false) => "etcd cannot be reached from this node; nothing was changed",
        _ => "etcd refused; nothing was changed",
    };
    StoreError::Unavailable(format!("{what} ({e})"))
}

impl OperatorStore for EtcdStore {
    fn read(&self) -> Result<(String, Version), StoreError> {
        let (text, revision) = self.document().read().map_err(|e| etcd_failed(e, false))?;
        Ok((text, Version::revision(revision)))
    }

    fn write(&self, text: &str, expected: &Version) -> Result<(Version, Vec<Diagnostic>), StoreError> {
        // A version of another store (a hash) was never read from etcd: it cannot be current.
        let Some(revision) = expected.revision_number() else { return Err(StoreError::Conflict) };
        let target = Target::locate(&self.main, None).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let warnings = target.check(text).map_err(|e| match e {
            emergency::Error::Invalid(report) => StoreError::Invalid(report),
            e => StoreError::Unavailable(e.to_string()),
        })?;
        match self.document().write_if(text, revision) {
            Ok(Some(written)) => Ok((Version::revision(written), warnings)),
            Ok(None) => Err(StoreError::Conflict),
            Err(e) => Err(etcd_failed(e, true)),
        }
    }

    fn read_known(&self) -> Result<(String, Version, Known), StoreError> {
        match self.read() {
            Ok((text, version)) => Ok((text, version, Known::Current)),
            Err(unreachable) => {
                // The export holds the text of the revision in force (0: none applied yet, and
                // then nothing is known here either).
                let revision = self.applier.in_force();
                if revision == 0 {
                    return Err(unreachable);
                }
                let text = self.applier.export_text().map_err(StoreError::Unavailable)?;
                Ok((text, Version::revision(revision), Known::InForce))
            }
        }
    }

    fn in_force(&self, version: &Version) -> Option<Result<(), String>> {
        let revision = version.revision_number()?;
        Some(self.applier.wait_for(revision, self.wait))
    }
}
