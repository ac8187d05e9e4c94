//! The addresses of upstream names, looked up before a configuration is compiled and never
//! inside the build: each lookup runs on a thread of its own and the whole set waits at most
//! [`LOOKUP_TIMEOUT`], so a resolver that hangs cannot hold a reload, the admin listener's
//! answer to `POST /reload`, or the ticker's horizon rebuild.
//!
//! A name whose lookup fails or times out keeps the address the previous generation had for it
//! (said in the log): a resolver's bad minute does not take an upstream away. A name that never
//! had an address is for the caller to refuse ([`Addresses::never_resolved`]): a reload says so.
//! Owns no sockets; `{n}` templates are IP addresses and need no lookup.

use crate::config::Config;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the lookups of one build may take together.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// Lookups at once: a configuration of many names does not start a thread per name.
const AT_ONCE: usize = 8;

/// A name's address, or why there is none (for logs and the admin listener only).
pub type Looked = Result<SocketAddr, String>;

/// What a build uses for its upstream names (`host:port` as written).
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    by_name: HashMap<String, Looked>,
    /// Names whose lookup failed now and that kept an earlier address.
    kept: Vec<String>,
}

impl Addresses {
    /// Looks up every fixed upstream name of `config` (IP addresses need none) within
    /// `timeout`; a name that fails keeps its address from `previous`, when it had one.
    pub fn look_up(config: &Config, previous: Option<&Addresses>, timeout: Duration) -> Addresses {
        let mut names: Vec<String> = config
            .tenants
            .iter()
            .flat_map(|t| t.upstreams.iter())
            .filter(|u| !u.is_template() && u.address.parse::<SocketAddr>().is_err())
            .map(|u| u.address.clone())
            .collect();
        names.sort();
        names.dedup();
        Addresses::from_lookups(look_up_all(names, timeout, system), previous)
    }

    /// Lookup results, with failures replaced by `previous`'s addresses where it had one.
    pub fn from_lookups(found: HashMap<String, Looked>, previous: Option<&Addresses>) -> Addresses {
        let mut kept = Vec::new();
        let by_name = found
            .into_iter()
            .map(|(name, looked)| {
                let looked = match (looked, previous.and_then(|p| p.by_name.get(&name))) {
                    (Err(why), Some(Ok(earlier))) => {
                        log::warn!("upstream {name}: {why}; keeping the earlier address {earlier}");
                        kept.push(name.clone());
                        Ok(*earlier)
                    }
                    (looked, _) => looked,
                };
                (name, looked)
            })
            .collect();
        kept.sort();
        Addresses { by_name, kept }
    }

    /// The address of `address` (`host:port`): itself when it is an IP address, else what the
    /// lookup found.
    pub fn get(&self, address: &str) -> Looked {
        if let Ok(a) = address.parse::<SocketAddr>() {
            return Ok(a);
        }
        match self.by_name.get(address) {
            Some(looked) => looked.clone(),
            None => Err(format!("{address} was not looked up")),
        }
    }

    /// Names without an address, now or from before, each with why: sorted.
    pub fn never_resolved(&self) -> Vec<(&str, &str)> {
        let mut list: Vec<(&str, &str)> = self
            .by_name
            .iter()
            .filter_map(|(name, looked)| looked.as_ref().err().map(|why| (name.as_str(), why.as_str())))
            .collect();
        list.sort();
        list
    }

    /// Names that failed now and kept an earlier address.
    pub fn kept(&self) -> &[String] {
        &self.kept
    }
}

/// The system's resolver: the first address of `name`.
fn system(name: &str) -> Looked {
    match name.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| format!("{name} resolves to no address")),
        Err(e) => Err(format!("{name} cannot be resolved: {e}")),
    }
}

/// Looks up `names` with `resolve` on up to `AT_ONCE` threads, waiting at most `timeout` for
/// all of them. A lookup still running then is left to finish on its own thread (a resolver
/// call cannot be cancelled); its name is answered as timed out.
pub fn look_up_all(names: Vec<String>, timeout: Duration, resolve: fn(&str) -> Looked) -> HashMap<String, Looked> {
    let deadline = Instant::now() + timeout;
    let total = names.len();
    let queue = Arc::new(Mutex::new(names.clone()));
    let (tx, rx) = mpsc::channel();
    for i in 0..AT_ONCE.min(total) {
        let (queue, tx) = (queue.clone(), tx.clone());
        let worker = move || loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop());
            // Past the deadline nobody waits for more answers: the thread ends.
            let Some(name) = next.filter(|_| Instant::now() < deadline) else { return };
            let looked = resolve(&name);
            if tx.send((name, looked)).is_err() {
                return;
            }
        };
        if let Err(e) = std::thread::Builder::new().name(format!("hiatus-lookup-{i}")).spawn(worker) {
            log::warn!("upstream lookups: no thread: {e}");
        }
    }
    drop(tx);
    let mut found = HashMap::with_capacity(total);
    while found.len() < total {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((name, looked)) => {
                found.insert(name, looked);
            }
            Err(_) => break,
        }
    }
    let waited = format!("no answer from the resolver within {}s", timeout.as_secs_f32());
    for name in names {
        found.entry(name).or_insert_with(|| Err(waited.clone()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(name: &str) -> Looked {
        match name {
            "hangs.test:80" => {
                // Bounded: longer than the test's timeout, never forever.
                std::thread::sleep(Duration::from_secs(2));
                Err("late".into())
            }
            "gone.test:80" => Err("gone.test:80 cannot be resolved: no such name".into()),
            _ => Ok("10.0.0.7:80".parse().expect("an address")),
        }
    }

    #[test]
    fn a_hanging_lookup_times_out_and_the_others_are_answered() {
        let names = ["ok.test:80", "hangs.test:80", "gone.test:80"].map(String::from).to_vec();
        let started = Instant::now();
        let found = look_up_all(names, Duration::from_millis(200), answer);
        assert!(started.elapsed() < Duration::from_millis(1500), "waited {:?}", started.elapsed());
        assert_eq!(found["ok.test:80"], Ok("10.0.0.7:80".parse().expect("addr")));
        assert!(found["hangs.test:80"].as_ref().is_err_and(|e| e.contains("within 0.2s")), "{found:?}");
        assert!(found["gone.test:80"].is_err());
    }

    #[test]
    fn a_failed_name_keeps_its_earlier_address_and_a_new_one_stays_unresolved() {
        let earlier = Addresses::from_lookups(
            HashMap::from([("db.test:5432".to_string(), Ok("10.0.0.9:5432".parse().expect("addr")))]),
            None,
        );
        let now = HashMap::from([
            ("db.test:5432".to_string(), Err("db.test:5432 cannot be resolved: timeout".to_string())),
            ("new.test:80".to_string(), Err("new.test:80 cannot be resolved: no such name".to_string())),
        ]);
        let addresses = Addresses::from_lookups(now, Some(&earlier));
        assert_eq!(addresses.get("db.test:5432"), Ok("10.0.0.9:5432".parse().expect("addr")));
        assert_eq!(addresses.kept(), ["db.test:5432"]);
        assert_eq!(addresses.never_resolved(), [("new.test:80", "new.test:80 cannot be resolved: no such name")]);
        assert_eq!(addresses.get("10.1.1.1:80"), Ok("10.1.1.1:80".parse().expect("addr")));
    }
}
