//! The operator document in cluster mode: the emergency include's text, kept in etcd at
//! `<prefix>/operator`, its version the key's `mod_revision`.
//!
//! Owns applying a revision on this node ([`Applier`]: the text validated with the whole
//! configuration standing in for the emergency file, written there as an export, then the same
//! reload as a file change; never an older revision after a newer one), the local copy in
//! `state_dir` that a node started without etcd serves ([`LocalCopy`]), and the writers'
//! compare-and-swap ([`edit`]: read text and revision, write only if the revision is unchanged).
//! Talking to etcd is `client`; when to list and watch is `watch`.

use super::client::{Client, Error};
use super::contact::Contact;
use crate::control::emergency::{self, Target};
use crate::control::reload::Reloader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The operator document's key under the prefix.
pub fn operator_key(prefix: &str) -> String {
    format!("{prefix}/operator")
}

/// One revision of the operator document ("" when the key does not exist).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    pub revision: i64,
    pub text: String,
}

/// `state_dir/cluster-operator.json`: the last revision applied here, for a start without etcd.
#[derive(Debug, Clone)]
pub struct LocalCopy(PathBuf);

impl LocalCopy {
    pub const FILE_NAME: &'static str = "cluster-operator.json";

    pub fn in_dir(state_dir: &Path) -> LocalCopy {
        LocalCopy(state_dir.join(Self::FILE_NAME))
    }

    /// The copy, or `None` when there is none or it does not read (then etcd's state is awaited).
    pub fn read(&self) -> Option<Document> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaces the copy atomically (a new file synced, then renamed over the old one).
    pub fn write(&self, doc: &Document) -> std::io::Result<()> {
        use std::io::Write as _;
        if let Some(dir) = self.0.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.0.with_extension("json.new");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(serde_json::to_string(doc).map_err(std::io::Error::other)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.0)
    }
}

/// What [`Applier::apply`] did with a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Validated, exported and reloaded (or the export already held it).
    InForce,
    /// Older than the revision in force: ignored (generations only move forward).
    Old,
    /// The text does not validate with this node's configuration: logged, the node keeps its state.
    Refused,
}

/// Applies operator documents on this node, one at a time, in revision order.
#[derive(Debug)]
pub struct Applier {
    main: PathBuf,
    reloader: Arc<Reloader>,
    contact: Arc<Contact>,
    local: Option<LocalCopy>,
    /// The revision in force; held while one is applied, so two loops cannot interleave.
    in_force: Mutex<i64>,
    /// Told whenever `in_force` moves: what a writer waits on ([`Applier::wait_for`]).
    moved: Condvar,
}

impl Applier {
    /// Starts from the local copy's revision when there is one (the export holds its text).
    pub fn new(main: PathBuf, reloader: Arc<Reloader>, contact: Arc<Contact>, local: Option<LocalCopy>) -> Applier {
        let start = local.as_ref().and_then(LocalCopy::read).map_or(0, |d| d.revision);
        contact.set_revision(start);
        Applier { main, reloader, contact, local, in_force: Mutex::new(start), moved: Condvar::new() }
    }

    pub fn in_force(&self) -> i64 {
        *self.in_force.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits at most `limit` until `revision` or a newer one was applied here; whether it was
    /// put in force (`Err`: refused here, or not reached in time, in words).
    pub fn wait_for(&self, revision: i64, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut in_force = self.in_force.lock().unwrap_or_else(|e| e.into_inner());
        while *in_force < revision {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "revision {revision} is in etcd but not yet in force on this node after {limit:?}; it follows"
                ));
            }
            in_force = self.moved.wait_timeout(in_force, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        // `in_force` moves on a refused revision too; the contact keeps the last good one.
        if self.contact.revision() < revision {
            return Err(format!("revision {revision} was refused on this node (see its log)"));
        }
        Ok(())
    }

    /// The export's text now ("" when there is no file).
    pub fn export_text(&self) -> Result<String, String> {
        let target = Target::locate(&self.main, None).map_err(|e| e.to_string())?;
        match std::fs::read_to_string(&target.file) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(format!("{}: {e}", target.file.display())),
        }
    }

    /// Puts `doc` in force unless a newer revision is; see [`Applied`]. Blocking (files, reload).
    pub fn apply(&self, doc: &Document) -> Applied {
        let mut in_force = self.in_force.lock().unwrap_or_else(|e| e.into_inner());
        if doc.revision < *in_force {
            return Applied::Old;
        }
        let same_text = self.export_text().is_ok_and(|t| t == doc.text);
        if doc.revision == *in_force && same_text {
            return Applied::InForce;
        }
        let outcome = if same_text { Ok(()) } else { self.export(doc) };
        *in_force = doc.revision;
        self.moved.notify_all();
        match outcome {
            Ok(()) => {
                self.contact.set_revision(doc.revision);
                if let Some(local) = &self.local {
                    if let Err(e) = local.write(doc) {
                        log::warn!("cluster: cannot keep the local copy of revision {}: {e}", doc.revision);
                    }
                }
                Applied::InForce
            }
            Err(why) => {
                log::error!(
                    "cluster: operator document revision {} refused, revision {} stays in force: {why}",
                    doc.revision,
                    self.contact.revision()
                );
                Applied::Refused
            }
        }
    }

    /// Validates the text with the whole configuration, writes it as the emergency file (the
    /// export) and reloads now rather than when the file watcher notices.
    fn export(&self, doc: &Document) -> Result<(), String> {
        let target = Target::locate(&self.main, None).map_err(|e| e.to_string())?;
        let (lock, _) = target.lock().map_err(|e| e.to_string())?;
        target.commit(&lock, &doc.text).map_err(|e| match e {
            emergency::Error::Invalid(report) => {
                let shown: Vec<String> = report.errors.iter().map(crate::control::reload::shown).collect();
                format!("{} error(s): {}", shown.len(), shown.join("; "))
            }
            e => e.to_string(),
        })?;
        drop(lock);
        let trigger = format!("cluster revision {}", doc.revision);
        self.reloader.apply(&trigger).map(|_| ()).map_err(|errors| errors.join("; "))
    }
}

/// The operator document in etcd as a store of text with a version: what a writer (the
/// emergency switch, the operator API) needs — read the text and its version, write a new text
/// only if the version is unchanged.
#[derive(Debug)]
pub struct EtcdOperator<'a> {
    pub client: &'a Client,
    pub prefix: &'a str,
}

impl EtcdOperator<'_> {
    /// The text ("" when there is none) and its version (the key's `mod_revision`, 0: none).
    pub fn read(&self) -> Result<(String, i64), Error> {
        let (kv, _) = self.client.get(&operator_key(self.prefix))?;
        Ok(kv.map_or((String::new(), 0), |kv| (kv.value, kv.mod_revision)))
    }

    /// Writes `text` if the version is still `version`: the new version, or `None` when another
    /// write came first (read again).
    pub fn write_if(&self, text: &str, version: i64) -> Result<Option<i64>, Error> {
        self.client.put_if(&operator_key(self.prefix), text, version)
    }
}

/// How often a writer retries when another write came between its read and its write.
const CAS_TRIES: usize = 5;

/// Reads the operator document, makes the new text with `change`, and writes it only if the
/// document did not change meanwhile (a compare-and-swap txn on its `mod_revision`); retried
/// from the read up to `CAS_TRIES` times. The revision written and what `change` returned.
pub fn edit<T, E: From<Error>>(
    client: &Client,
    prefix: &str,
    mut change: impl FnMut(&str) -> Result<(String, T), E>,
) -> Result<(i64, T), E> {
    let key = operator_key(prefix);
    let store = EtcdOperator { client, prefix };
    let mut last = Error::Refused("no attempt".into());
    // A write whose answer was lost, or whose compare failed: the next read tells whether it
    // landed (then the document is as this edit wants it, whoever wrote it).
    let mut unanswered: Option<(String, T)> = None;
    for attempt in 0..CAS_TRIES {
        if attempt > 0 {
            log::warn!("cluster: {key}: attempt {} after: {last}", attempt + 1);
            // A member lost mid-election answers nothing for a moment: wait before again.
            std::thread::sleep(super::watch::backoff(attempt as u32 + 2, std::time::Duration::from_secs(2)));
        }
        let (text, version) = match store.read() {
            Ok(read) => read,
            Err(e @ Error::Unreachable(_)) => {
                last = e;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Some((new, said)) = unanswered.take() {
            if new == text {
                return Ok((version, said));
            }
        }
        let (new, said) = change(&text)?;
        match store.write_if(&new, version) {
            Ok(Some(revision)) => return Ok((revision, said)),
            // Another write came first, or ours did: the client tries the next endpoint when
            // one fails to answer, and a write that member made before it failed then makes
            // our own compare fail. The next read tells (the convergence bench met it: an
            // `off` that landed, tried again, then found nothing open).
            Ok(None) => {
                last = Error::Refused(format!("{key} changed while it was edited, {CAS_TRIES} times; try again"));
                unanswered = Some((new, said));
            }
            Err(e @ Error::Unreachable(_)) => {
                last = e;
                unanswered = Some((new, said));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}
