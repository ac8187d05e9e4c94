//! Health state that outlives a configuration: one [`UpstreamHealth`] per (tenant, upstream),
//! kept in a [`HealthRegistry`] that every `Compiled` built from it shares.
//!
//! `Compiled::build_with` asks the registry for the entries of the new configuration and hands
//! them to each tenant ([`TenantHealth`]), so a reload keeps what the probes found, and the
//! request path reads one `AtomicBool` per upstream: no lock, no map lookup. The prober writes
//! results here; the admin listener reads them. The incident log lives here too, because it is
//! as long-lived as the health state it records.

use super::incidents::IncidentLog;
use super::probe::ProbeError;
use super::state::{Counter, Thresholds, Transition};
use crate::config::health::HealthCheck;
use crate::schedule::UnixTime;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

/// Health of one upstream of one tenant.
#[derive(Debug)]
pub struct UpstreamHealth {
    pub tenant: String,
    /// As configured (`host:port`).
    pub address: String,
    /// What requests read: a copy of `detail.counter.healthy()`.
    healthy: AtomicBool,
    detail: Mutex<Detail>,
}

/// What the probes found, for the admin listener and the incident decisions.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub counter: Counter,
    /// When the current state began (unix seconds); `None` while it is the assumed start.
    pub since: Option<UnixTime>,
    /// The latest failure, kept after recovery to say what went wrong last (its detail is for
    /// logs and the admin listener only).
    pub last_failure: Option<ProbeError>,
    /// When the latest probe ended.
    pub last_probe: Option<UnixTime>,
    /// When the prober probes next; `None` until it first looks at this upstream.
    pub(crate) next_due: Option<Instant>,
    pub(crate) in_flight: bool,
}

impl UpstreamHealth {
    fn new(tenant: &str, address: &str) -> UpstreamHealth {
        UpstreamHealth {
            tenant: tenant.to_string(),
            address: address.to_string(),
            healthy: AtomicBool::new(true),
            detail: Mutex::new(Detail::default()),
        }
    }

    /// The request path's question.
    #[inline]
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The detail, for the prober's bookkeeping (`control::prober`).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Detail> {
        // The detail is plain data, valid after any panic: keep using it.
        self.detail.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn detail(&self) -> Detail {
        self.lock().clone()
    }

    /// Counts one probe result ended at `now`; logs and returns a transition.
    pub fn record(&self, result: Result<(), ProbeError>, check: &HealthCheck, now: UnixTime) -> Option<Transition> {
        let t = Thresholds { rise: check.rise, fall: check.fall };
        let mut d = self.lock();
        let transition = d.counter.observe(result.is_ok(), t);
        d.last_probe = Some(now);
        if let Err(e) = result {
            d.last_failure = Some(e);
        }
        if transition.is_some() || (d.since.is_none() && d.counter.confirmed(t)) {
            d.since = Some(now);
        }
        self.healthy.store(d.counter.healthy(), Ordering::Relaxed);
        match transition {
            Some(Transition::Down) => log::warn!(
                "health: tenant {} upstream {} is unhealthy: {}",
                self.tenant,
                self.address,
                d.last_failure.as_ref().map_or("", |f| f.detail.as_str())
            ),
            Some(Transition::Up) => {
                log::info!("health: tenant {} upstream {} is healthy again", self.tenant, self.address)
            }
            None => {}
        }
        transition
    }
}

/// A tenant's check and its upstreams' health, in the order of `Upstreams::Fixed`.
#[derive(Debug)]
pub struct TenantHealth {
    pub check: HealthCheck,
    /// `Host` of HTTP probes.
    pub host: String,
    pub upstreams: Vec<Arc<UpstreamHealth>>,
}

impl TenantHealth {
    /// Whether no upstream is healthy (the tenant gets its error page without a connect).
    pub fn all_down(&self) -> bool {
        !self.upstreams.iter().any(|u| u.is_healthy())
    }
}

/// Every upstream's health by (tenant id, configured address), and the incident log.
#[derive(Debug)]
pub struct HealthRegistry {
    entries: Mutex<HashMap<(String, String), Arc<UpstreamHealth>>>,
    incidents: IncidentLog,
}

impl HealthRegistry {
    pub fn new(incidents: IncidentLog) -> HealthRegistry {
        HealthRegistry { entries: Mutex::new(HashMap::new()), incidents }
    }

    /// With incidents persisted in `state_dir`, or in memory only; `now` (unix seconds) tells
    /// which incidents are too old to keep (`incidents::RETAIN_SECS`).
    pub fn open(state_dir: Option<&Path>, now: i64) -> Result<HealthRegistry, super::incidents::StateError> {
        let incidents = match state_dir {
            Some(dir) => IncidentLog::load(dir, now)?,
            None => IncidentLog::in_memory(),
        };
        Ok(HealthRegistry::new(incidents))
    }

    pub fn incidents(&self) -> &IncidentLog {
        &self.incidents
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<UpstreamHealth>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `address` of `tenant`, made (healthy) when new.
    pub fn entry(&self, tenant: &str, address: &str) -> Arc<UpstreamHealth> {
        self.lock()
            .entry((tenant.to_string(), address.to_string()))
            .or_insert_with(|| Arc::new(UpstreamHealth::new(tenant, address)))
            .clone()
    }

    /// Forgets entries not in `keep` (upstreams a reload removed), so the registry and the
    /// metrics it feeds stay bounded by the configuration.
    pub fn retain(&self, keep: &HashSet<(String, String)>) {
        self.lock().retain(|k, _| keep.contains(k));
    }
}
