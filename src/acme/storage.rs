//! What ACME keeps in `state_dir/acme/` (0700): the account (`account.json`, its private key
//! inside, 0600) and each name's certificate chain and key (`certs/NAME.pem`,
//! `certs/NAME.key`, 0600). Files are written to a temporary name and renamed, so a crash
//! leaves the old file or the new one, never half of one.

use crate::tls::Certificate;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The ACME folder of a state directory.
#[derive(Debug, Clone)]
pub struct Storage {
    dir: PathBuf,
}

/// The account file: which directory it belongs to, and instant-acme's credentials.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StoredAccount {
    pub directory: String,
    pub credentials: serde_json::Value,
}

impl Storage {
    /// `state_dir/acme`, made (0700) when missing, its mode tightened when it was wider.
    pub fn open(state_dir: &Path) -> Result<Storage, String> {
        let dir = state_dir.join("acme");
        for d in [dir.clone(), dir.join("certs")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(|e| format!("{}: cannot create it: {e}", d.display()))?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("{}: cannot make it private: {e}", d.display()))?;
        }
        Ok(Storage { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The right to order certificates now: a lock on `.orders.lock` held by the returned file
    /// until it is dropped; `Ok(None)` while another process holds it. During a zero-downtime
    /// upgrade the old and the new gateway share this folder and both run a manager: only one
    /// orders a due name, the other takes its certificate from here at its next look.
    // `File::try_lock`: above the declared rust-version, as `control::emergency::EditLock::take`
    // says why.
    #[allow(clippy::incompatible_msrv)]
    pub fn lock_orders(&self) -> Result<Option<fs::File>, String> {
        let path = self.dir.join(".orders.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: cannot open it: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(format!("{}: cannot lock it: {e}", path.display())),
        }
    }

    /// The account stored for `directory`, if any (an account of another directory is not).
    pub fn account(&self, directory: &str) -> Result<Option<serde_json::Value>, String> {
        let path = self.dir.join("account.json");
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: cannot be read: {e}", path.display())),
        };
        let stored: StoredAccount =
            serde_json::from_slice(&text).map_err(|e| format!("{}: not an account file: {e}", path.display()))?;
        Ok((stored.directory == directory).then_some(stored.credentials))
    }

    pub fn save_account(&self, directory: &str, credentials: serde_json::Value) -> Result<(), String> {
        let stored = StoredAccount { directory: directory.to_string(), credentials };
        let text = serde_json::to_vec_pretty(&stored).map_err(|e| format!("account: {e}"))?;
        write_private(&self.dir.join("account.json"), &text)
    }

    fn paths(&self, name: &str) -> (PathBuf, PathBuf) {
        let certs = self.dir.join("certs");
        (certs.join(format!("{name}.pem")), certs.join(format!("{name}.key")))
    }

    /// Keeps `name`'s chain and key (the key first: a chain without its key is useless).
    pub fn save_certificate(&self, name: &str, chain_pem: &str, key_pem: &str) -> Result<(), String> {
        let (cert, key) = self.paths(name);
        write_private(&key, key_pem.as_bytes())?;
        write_private(&cert, chain_pem.as_bytes())
    }

    /// `name`'s stored certificate, when there is a usable one.
    pub fn certificate(&self, name: &str) -> Result<Option<Certificate>, String> {
        let (cert, key) = self.paths(name);
        if !cert.exists() || !key.exists() {
            return Ok(None);
        }
        Certificate::load(&cert, &key).map(Some).map_err(|e| e.message)
    }
}

/// Writes `bytes` to `path` with mode 0600, through a temporary file renamed over it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("{}: cannot be written: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_an_account_belongs_to_its_directory() {
        let state = std::env::temp_dir().join(format!("hiatus-acme-storage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&state);
        let s = Storage::open(&state).expect("storage");
        s.save_account("https://ca/dir", serde_json::json!({"id": "x"})).expect("saved");
        assert_eq!(s.account("https://ca/dir").expect("read"), Some(serde_json::json!({"id": "x"})));
        assert_eq!(s.account("https://other/dir").expect("read"), None);
        s.save_certificate("a.test", "not a pem", "key").expect("saved");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&state.join("acme")), 0o700);
        // One orderer at a time, across processes (flock: another open file description).
        let held = s.lock_orders().expect("lock").expect("free");
        assert!(s.lock_orders().expect("lock").is_none(), "held elsewhere");
        drop(held);
        assert!(s.lock_orders().expect("lock").is_some(), "free again");
        assert_eq!(mode(&state.join("acme/account.json")), 0o600);
        assert_eq!(mode(&state.join("acme/certs/a.test.key")), 0o600);
        assert!(s.certificate("a.test").is_err(), "a broken file is an error, not a certificate");
        assert!(s.certificate("b.test").expect("none").is_none());
        let _ = fs::remove_dir_all(&state);
    }
}
