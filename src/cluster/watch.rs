//! Following the operator document: list it at revision R, watch from R+1, apply every change
//! (`store::Applier`); after a broken watch resume from the last revision seen, after a
//! compaction list again. A heartbeat reads the key every [`HEARTBEAT`] besides: it tells
//! whether etcd answers (`contact`) and applies a newer revision that a silent watch missed.
//!
//! Both loops run on threads of their own (the client is blocking) and retry with capped
//! exponential backoff; neither ever touches the request path.

use super::client::{Client, Error};
use super::contact::Contact;
use super::store::{operator_key, Applier, Document};
use std::sync::Arc;
use std::time::Duration;

/// How often the heartbeat reads the operator key.
pub const HEARTBEAT: Duration = Duration::from_millis(1000);

/// A watch that heard nothing this long is ended and resumed (a connection that went silent).
const QUIET: Duration = Duration::from_secs(30);

/// The first wait after a failure; doubled per failure in a row up to `retry_max`.
const RETRY_MIN: Duration = Duration::from_millis(100);

/// The wait after `failures` failures in a row.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    RETRY_MIN.saturating_mul(1u32 << failures.min(16)).min(max)
}

/// Everything a loop needs.
#[derive(Debug, Clone)]
pub struct Follow {
    pub client: Arc<Client>,
    pub prefix: String,
    pub applier: Arc<Applier>,
    pub contact: Arc<Contact>,
    pub retry_max: Duration,
}

impl Follow {
    /// Lists the document: applies it and returns the store revision to watch after. A key
    /// that does not exist is seeded from this node's export when it never had a revision (the
    /// first node of a new cluster brings its emergencies), else it was deleted: "" is applied.
    fn list(&self) -> Result<i64, Error> {
        let key = operator_key(&self.prefix);
        let (kv, revision) = self.client.get(&key)?;
        self.contact.reached();
        match kv {
            Some(kv) => {
                self.applier.apply(&Document { revision: kv.mod_revision, text: kv.value });
            }
            None if self.applier.in_force() == 0 => {
                let text = self.applier.export_text().unwrap_or_default();
                if !text.trim().is_empty() && self.client.put_if(&key, &text, 0)?.is_some() {
                    log::info!("cluster: {key} did not exist; seeded with this node's emergency file");
                }
            }
            None => {
                self.applier.apply(&Document { revision, text: String::new() });
            }
        }
        Ok(revision)
    }

    /// A failure: told to the contact, then the backoff's wait.
    fn wait_after(&self, e: &Error, failures: &mut u32) {
        self.contact.lost(e);
        std::thread::sleep(backoff(*failures, self.retry_max));
        *failures = failures.saturating_add(1);
    }

    /// List, then watch, for ever.
    pub fn run(self) {
        let key = operator_key(&self.prefix);
        let mut failures = 0u32;
        loop {
            let mut from = match self.list() {
                Ok(revision) => revision + 1,
                Err(e) => {
                    self.wait_after(&e, &mut failures);
                    continue;
                }
            };
            failures = 0;
            loop {
                let start = from;
                let result = self.client.watch(&key, start, QUIET, |change| {
                    self.contact.reached();
                    from = change.revision + 1;
                    self.applier.apply(&Document { revision: change.revision, text: change.value.unwrap_or_default() });
                    true
                });
                match result {
                    // An ordinary end (silence, a closed connection): resume where it was.
                    Ok(()) => std::thread::sleep(RETRY_MIN),
                    Err(Error::Compacted(at)) => {
                        log::info!("cluster: revision {start} was compacted (now {at}); listing {key} again");
                        break;
                    }
                    // etcd unreachable or without a leader: resume from the same revision,
                    // which etcd still holds unless it compacted meanwhile (then the arm above).
                    Err(e) => {
                        self.wait_after(&e, &mut failures);
                        continue;
                    }
                }
                failures = 0;
            }
        }
    }

    /// Reads the key every [`HEARTBEAT`]: contact, and a newer revision applied if the watch
    /// has not brought it yet.
    pub fn heartbeat(self) {
        let key = operator_key(&self.prefix);
        loop {
            std::thread::sleep(HEARTBEAT);
            match self.client.get(&key) {
                Ok((kv, _)) => {
                    self.contact.reached();
                    if let Some(kv) = kv.filter(|kv| kv.mod_revision > self.applier.in_force()) {
                        self.applier.apply(&Document { revision: kv.mod_revision, text: kv.value });
                    }
                }
                Err(e) => self.contact.lost(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100ms_up_to_its_cap() {
        let max = Duration::from_secs(5);
        let waits: Vec<u128> = (0..8).map(|n| backoff(n, max).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u32::MAX, max), max);
    }
}
