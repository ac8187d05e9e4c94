//! One set of incidents for every node: the incident keeper (`health::shared::Keeper`) over
//! etcd.
//!
//! - `<prefix>/keeper` holds `<node> <lease>`, bound to that node's lease (a few seconds, renewed
//!   every heartbeat): the node that created it decides incidents (its prober opens and closes
//!   them) until its lease ends — it stopped, crashed or lost etcd — and another node's next
//!   attempt creates the key. A node stops deciding when a renewal fails, and in any case
//!   3.5 s after the last renewal it sent (a call to etcd may hang longer than that), before
//!   etcd lets the key go at 5 s: two nodes never decide at the same time.
//! - `<prefix>/incident-log/<id>` holds one incident as a line of `incidents.jsonl`, put by the
//!   node that decided it. Every node lists and watches them (like the operator document) and
//!   takes each into its own log (`IncidentLog::adopt`), so the status pages, the metrics and
//!   the notifications of every node speak of the same incident with the same id, start and end;
//!   marks (`marks`) then send each of its events once.
//! - A change that could not be published (etcd gone just then) is retried every heartbeat. On
//!   each full listing, an open incident of this node's log that etcd does not hold is published
//!   when this node decides, and ended otherwise (the keeper's record is the truth).
//! - The keeper deletes records of incidents that ended longer ago than the log keeps them.
//!
//! Health states and routing stay per node: each node still sends requests only to upstreams its
//! own checks find healthy. Only the public record of an outage is shared.

use super::client::{Client, Error};
use super::contact::Contact;
use super::watch::{backoff, HEARTBEAT};
use crate::health::incidents::{Incident, RETAIN_SECS};
use crate::health::shared::Keeper;
use crate::health::HealthRegistry;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The keeper's lease, in seconds: how long the incidents go undecided after the keeper died.
pub const LEASE_TTL: i64 = 5;

/// How long after the renewal was sent this node still decides: the lease less a margin for
/// clocks and the keeper's next attempt.
const DECIDES_FOR: Duration = Duration::from_millis(LEASE_TTL as u64 * 1000 - 1500);

/// A watch that heard nothing this long is ended and resumed.
const QUIET: Duration = Duration::from_secs(30);

/// Heartbeats between two sweeps of old records.
const PRUNE_EVERY: u32 = 600;

/// The keeper's key.
pub fn keeper_key(prefix: &str) -> String {
    format!("{prefix}/keeper")
}

/// The folder of the incident records (ends in `/`).
pub fn records(prefix: &str) -> String {
    format!("{prefix}/incident-log/")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// This node's part in keeping incidents (see the module doc).
#[derive(Debug)]
pub struct EtcdKeeper {
    pub client: Arc<Client>,
    pub prefix: String,
    pub node: String,
    pub contact: Arc<Contact>,
    pub retry_max: Duration,
    decides: AtomicBool,
    /// When the last renewal that kept this node the keeper was sent: deciding ends
    /// [`LEASE_TTL`] less a margin after it, whatever the loop is waiting for (a call to etcd
    /// may take up to `[cluster] timeout`, longer than the lease).
    renewed: Mutex<Option<Instant>>,
    /// Changes not published yet (the latest per id), retried every heartbeat.
    pending: Mutex<Vec<Incident>>,
}

impl Keeper for EtcdKeeper {
    fn decides(&self) -> bool {
        let fresh = || {
            let renewed = *self.renewed.lock().unwrap_or_else(|e| e.into_inner());
            renewed.is_some_and(|at| at.elapsed() < DECIDES_FOR)
        };
        self.decides.load(Ordering::Acquire) && fresh()
    }

    fn publish(&self, incident: &Incident) {
        // Publishing and retrying hold the list, one at a time, and only an incident's latest
        // state waits: an older one put after a newer one (its opening after its end) would
        // undo it.
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|p| p.id != incident.id);
        self.put_or_keep(incident, &mut pending);
    }
}

impl EtcdKeeper {
    pub fn new(client: Arc<Client>, prefix: &str, node: &str, contact: Arc<Contact>, retry_max: Duration) -> Self {
        EtcdKeeper {
            client,
            prefix: prefix.to_string(),
            node: node.to_string(),
            contact,
            retry_max,
            decides: AtomicBool::new(false),
            renewed: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
        }
    }

    fn set_decides(&self, decides: bool) {
        self.contact.set_keeper(decides);
        if self.decides.swap(decides, Ordering::AcqRel) != decides {
            if decides {
                log::info!("cluster: node {} decides incidents now", self.node);
            } else {
                log::info!("cluster: node {} no longer decides incidents", self.node);
            }
        }
    }

    /// One attempt: renew (or take) the lease, then create the keeper key or read who holds it.
    fn campaign(&self, lease: &mut i64) -> Result<bool, Error> {
        if *lease != 0 && self.client.keep_alive(*lease)? == 0 {
            *lease = 0;
        }
        if *lease == 0 {
            *lease = self.client.grant(LEASE_TTL)?;
        }
        let mine = format!("{} {:x}", self.node, *lease);
        let held = self.client.create_or_get_leased(&keeper_key(&self.prefix), &mine, *lease)?;
        Ok(held.is_none_or(|v| v == mine))
    }

    /// Campaigns every heartbeat, for ever; while deciding, retries unpublished changes and
    /// now and then deletes old records.
    pub fn run(self: Arc<Self>) {
        let mut lease = 0;
        let mut beats = 0u32;
        loop {
            let sent = Instant::now();
            match self.campaign(&mut lease) {
                Ok(decides) => {
                    if decides {
                        *self.renewed.lock().unwrap_or_else(|e| e.into_inner()) = Some(sent);
                    }
                    self.set_decides(decides)
                }
                // Not renewed: maybe expired in etcd already; never decide on a maybe.
                Err(_) => self.set_decides(false),
            }
            if self.decides() {
                self.flush();
                if beats % PRUNE_EVERY == 0 {
                    self.prune();
                }
            }
            beats = beats.wrapping_add(1);
            std::thread::sleep(HEARTBEAT);
        }
    }

    fn flush(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for incident in std::mem::take(&mut *pending) {
            self.put_or_keep(&incident, &mut pending);
        }
    }

    /// Puts `incident`'s record; keeps it in `pending` when etcd did not take it.
    fn put_or_keep(&self, incident: &Incident, pending: &mut Vec<Incident>) {
        let key = format!("{}{}", records(&self.prefix), incident.id);
        if let Err(e) = self.client.put(&key, &incident.to_json()) {
            log::warn!("cluster: incident {} not published yet ({e}); retrying", incident.id);
            pending.push(incident.clone());
        }
    }

    fn prune(&self) {
        let Ok((kvs, _)) = self.client.list(&records(&self.prefix)) else { return };
        let old = now() - RETAIN_SECS;
        for kv in kvs {
            let ended_long_ago = Incident::from_json(&kv.value).is_ok_and(|i| i.end.is_some_and(|e| e < old));
            if ended_long_ago && self.client.delete(&kv.key).is_ok() {
                log::info!("cluster: {} deleted (ended more than {} days ago)", kv.key, RETAIN_SECS / 86_400);
            }
        }
    }

    /// Lists the records into `registry`'s log, reconciles its open incidents with them, and
    /// returns the revision to watch after.
    fn list(&self, registry: &HealthRegistry) -> Result<i64, Error> {
        let (kvs, revision) = self.client.list(&records(&self.prefix))?;
        let log = registry.incidents();
        let mut held = HashSet::new();
        for kv in kvs {
            if let Some(i) = self.read(&kv.key, &kv.value) {
                held.insert(i.id.clone());
                log.adopt(i);
            }
        }
        let pending: HashSet<String> =
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|i| i.id.clone()).collect();
        for i in log.open().into_iter().filter(|i| !held.contains(&i.id) && !pending.contains(&i.id)) {
            if self.decides() {
                self.publish(&i);
            } else if log.end_id(&i.id, now()) {
                log::info!("incident {} ended here: the cluster's incident record does not hold it", i.id);
            }
        }
        Ok(revision)
    }

    fn read(&self, key: &str, value: &str) -> Option<Incident> {
        match Incident::from_json(value) {
            Ok(i) => Some(i),
            Err(e) => {
                log::warn!("cluster: {key}: not an incident ({e}); skipped");
                None
            }
        }
    }

    /// Follows the records into `registry`'s log, for ever: list, watch from the next
    /// revision, resume after errors with backoff, list again after a compaction.
    pub fn follow(self: Arc<Self>, registry: Arc<HealthRegistry>) {
        let dir = records(&self.prefix);
        let mut failures = 0u32;
        loop {
            let mut from = match self.list(&registry) {
                Ok(revision) => revision + 1,
                Err(e) => {
                    log::debug!("cluster: incident records: {e}");
                    std::thread::sleep(backoff(failures, self.retry_max));
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            failures = 0;
            loop {
                let result = self.client.watch_prefix(&dir, from, QUIET, |change| {
                    from = change.revision + 1;
                    // A deleted record is an old one swept away: the log forgets it by itself.
                    if let Some(i) = change.value.and_then(|v| self.read(&change.key, &v)) {
                        registry.incidents().adopt(i);
                    }
                    true
                });
                match result {
                    Ok(()) => std::thread::sleep(Duration::from_millis(100)),
                    // Compacted, or etcd gone: list again (after a while), which also reconciles.
                    Err(e) => {
                        log::debug!("cluster: incident records: {e}");
                        std::thread::sleep(backoff(failures, self.retry_max));
                        failures = failures.saturating_add(1);
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciding_ends_before_the_lease_can_have_whatever_the_loop_waits_for() {
        let client = Arc::new(Client::new(vec!["http://127.0.0.1:9".into()], Duration::from_millis(100)));
        let keeper = EtcdKeeper::new(client, "/t", "n", Arc::new(Contact::new("n")), Duration::from_secs(1));
        assert!(!keeper.decides(), "not before a campaign was won");
        keeper.decides.store(true, Ordering::Release);
        assert!(!keeper.decides(), "never renewed");
        *keeper.renewed.lock().expect("lock") = Some(Instant::now());
        assert!(keeper.decides());
        let long_ago = Instant::now().checked_sub(DECIDES_FOR + Duration::from_millis(1));
        *keeper.renewed.lock().expect("lock") = long_ago;
        assert!(long_ago.is_none() || !keeper.decides(), "a renewal older than the margin decides nothing");
        assert!(DECIDES_FOR < Duration::from_secs(LEASE_TTL as u64));
    }

    #[test]
    fn only_an_incidents_latest_state_waits_to_be_published() {
        let client = Arc::new(Client::new(vec!["http://127.0.0.1:9".into()], Duration::from_millis(100)));
        let keeper = EtcdKeeper::new(client, "/t", "n", Arc::new(Contact::new("n")), Duration::from_secs(1));
        let cause = crate::health::Cause::Unreachable;
        let open = Incident { id: "a-1".into(), tenant: "a".into(), start: 1, end: None, cause, detail: String::new() };
        keeper.publish(&open);
        keeper.publish(&Incident { end: Some(5), ..open.clone() });
        keeper.publish(&Incident { id: "b-2".into(), tenant: "b".into(), ..open });
        keeper.flush();
        let pending = keeper.pending.lock().expect("lock").clone();
        let states: Vec<(&str, Option<i64>)> = pending.iter().map(|i| (i.id.as_str(), i.end)).collect();
        assert_eq!(states, [("a-1", Some(5)), ("b-2", None)], "etcd is unreachable: each waits, once, as it is now");
    }
}
