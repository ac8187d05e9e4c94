//! The health prober: the control-plane loop that probes every checked upstream of the
//! configuration in force and opens and closes incidents from what it finds.
//!
//! ```text
//!  run ──every interval + jitter──▶ health::probe ──result──▶ UpstreamHealth::record
//!   ▲ re-reads ArcSwap<Compiled>                               │ state::Counter
//!   │                           AtomicBool per upstream ◀──────┘ (rise / fall)
//!   │                             └─▶ the request path picks healthy ones only
//!   └── after probes: settle ──▶ IncidentLog (begin when all of a tenant's upstreams are
//!                                down, end when one is healthy again; incidents.jsonl)
//!                                cluster mode: only where the keeper decides, then published
//! ```
//!
//! [`run`] is spawned by `control::start`; [`probe_once`] runs one round directly, for tests
//! and tools. It lives in the control plane, above the snapshot it walks (`compiled`); the
//! health state it writes (`crate::health`) lies below the snapshot, which reads it.

use crate::clock::Clock;
use crate::compiled::{Compiled, TenantRuntime, Upstreams};
use crate::health::state::Thresholds;
use crate::health::{probe, Cause, Incident, ProbeError};
use crate::schedule::UnixTime;
use arc_swap::ArcSwap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// Probes in flight at once: enough for hundreds of upstreams at second intervals, few enough
/// that a mass outage (every probe waiting for its timeout) cannot exhaust sockets.
const MAX_IN_FLIGHT: usize = 32;
/// The loop never turns faster than this, whatever finishes or falls due.
const MIN_PAUSE: Duration = Duration::from_millis(10);
/// The longest the loop sleeps: a reload's new upstreams are looked at within this.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Probes every checked upstream of the configuration in force, forever: each at its tenant's
/// interval plus jitter, a bounded number at once; then settles incidents.
pub async fn run(current: Arc<ArcSwap<Compiled>>, clock: Clock) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let finished = Arc::new(Notify::new());
    loop {
        let compiled = current.load_full();
        let now = Instant::now();
        let mut wake = now + MAX_PAUSE;
        'tenants: for (t, runtime) in compiled.tenants.iter().enumerate() {
            let Some(health) = &runtime.health else { continue };
            for (u, upstream) in health.upstreams.iter().enumerate() {
                let mut d = upstream.lock();
                if d.in_flight {
                    continue;
                }
                // First sight (start, or an upstream a reload added): spread over the jitter.
                let due = *d.next_due.get_or_insert_with(|| now + random_below(health.check.jitter));
                if due > now {
                    wake = wake.min(due);
                    continue;
                }
                // All slots busy: the rest stay due and go when a probe finishes.
                let Ok(slot) = slots.clone().try_acquire_owned() else { break 'tenants };
                d.in_flight = true;
                d.next_due = Some(now + health.check.interval + random_below(health.check.jitter));
                drop(d);
                let (compiled, upstream, clock, finished) =
                    (compiled.clone(), upstream.clone(), clock.clone(), finished.clone());
                tokio::spawn(async move {
                    probe_one(&compiled, t, u, &clock).await;
                    upstream.lock().in_flight = false;
                    drop(slot);
                    finished.notify_one();
                });
            }
        }
        settle(&compiled, clock.now()).await;
        tokio::time::sleep(MIN_PAUSE).await;
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = finished.notified() => {}
        }
    }
}

/// One round: probes every checked upstream of `compiled` now (ignoring intervals), waits for
/// all of them, records the results with `now` and settles incidents. For tests and tools.
pub async fn probe_once(compiled: &Arc<Compiled>, now: UnixTime) {
    let clock = Clock::manual(now);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut probes = tokio::task::JoinSet::new();
    for (t, runtime) in compiled.tenants.iter().enumerate() {
        let count = runtime.health.as_ref().map_or(0, |h| h.upstreams.len());
        for u in 0..count {
            let (compiled, clock, slots) = (compiled.clone(), clock.clone(), slots.clone());
            probes.spawn(async move {
                let _slot = slots.acquire_owned().await;
                probe_one(&compiled, t, u, &clock).await;
            });
        }
    }
    while probes.join_next().await.is_some() {}
    settle(compiled, now).await;
}

/// Probes upstream `u` of tenant `t` and records the result.
async fn probe_one(compiled: &Compiled, t: usize, u: usize, clock: &Clock) {
    let Some(runtime) = compiled.tenants.get(t) else { return };
    let Some(health) = &runtime.health else { return };
    let Some(upstream) = health.upstreams.get(u) else { return };
    let result = match address(runtime, u) {
        Ok(addr) => {
            // A TLS upstream is probed over TLS, under its name: its `sni`, else the probe's host.
            let tls = runtime.tls_of(u).map(|t| {
                let name = t.sni.clone().or_else(|| rustls::pki_types::ServerName::try_from(health.host.clone()).ok());
                name.map(|n| (t.trust.clone(), n))
            });
            match tls {
                Some(None) => Err(ProbeError::new(Cause::Unavailable, format!("{:?} is no name for TLS", health.host))),
                tls => {
                    let tls = tls.flatten();
                    probe::probe_with(addr, &health.check.probe, &health.host, health.check.timeout, tls).await
                }
            }
        }
        // An upstream whose name did not resolve at load time fails every probe, saying why.
        Err(e) => Err(e),
    };
    upstream.record(result, &health.check, clock.now());
}

fn address(runtime: &TenantRuntime, u: usize) -> Result<SocketAddr, ProbeError> {
    match &runtime.upstreams {
        Upstreams::Fixed(list) => match list.get(u) {
            Some(Ok(addr)) => Ok(*addr),
            // The resolver's words stay in the detail: a name that does not resolve is not reached.
            Some(Err(why)) => Err(ProbeError::new(Cause::Unreachable, why.clone())),
            None => Err(ProbeError::new(Cause::Unavailable, "no such upstream")),
        },
        Upstreams::PerHost(_) => Err(ProbeError::new(Cause::Unavailable, "{n} upstreams are not checked")),
    }
}

/// A change to the incident log.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// `detail` (address and error) is for logs and the admin listener; `cause` for pages.
    Begin {
        tenant: String,
        cause: Cause,
        detail: String,
    },
    End {
        tenant: String,
    },
}

/// What the incident log should record now: an incident begins when every upstream of a
/// checked tenant is unhealthy, and ends once one is healthy *by probes* — an incident still
/// open from before a restart is not ended by the healthy state every upstream starts in.
/// Incidents of tenants no longer checked end too (nothing would ever end them).
fn changes(compiled: &Compiled, open: &[Incident]) -> Vec<Change> {
    let mut out = Vec::new();
    let config = compiled.config();
    for (runtime, tenant) in compiled.tenants.iter().zip(&config.tenants) {
        let Some(health) = &runtime.health else { continue };
        if health.upstreams.is_empty() {
            continue;
        }
        let is_open = open.iter().any(|i| i.tenant == tenant.id);
        let t = Thresholds { rise: health.check.rise, fall: health.check.fall };
        let details: Vec<_> = health.upstreams.iter().map(|u| (u, u.detail())).collect();
        if details.iter().all(|(_, d)| !d.counter.healthy()) {
            if !is_open {
                // The upstream that went down last tells what happened last.
                let last = details.iter().max_by_key(|(_, d)| d.since);
                let (cause, detail) = last.map_or_else(
                    || (Cause::Unavailable, "no healthy upstream".to_string()),
                    |(u, d)| match &d.last_failure {
                        Some(f) => (f.cause, format!("{}: {}", u.address, f.detail)),
                        None => (Cause::Unavailable, format!("{}: unhealthy", u.address)),
                    },
                );
                out.push(Change::Begin { tenant: tenant.id.clone(), cause, detail });
            }
        } else if is_open && details.iter().any(|(_, d)| d.counter.healthy() && d.counter.confirmed(t)) {
            out.push(Change::End { tenant: tenant.id.clone() });
        }
    }
    for incident in open {
        let checked = compiled
            .tenants
            .iter()
            .zip(&config.tenants)
            .any(|(r, t)| t.id == incident.tenant && r.health.as_ref().is_some_and(|h| !h.upstreams.is_empty()));
        if !checked {
            out.push(Change::End { tenant: incident.tenant.clone() });
        }
    }
    out
}

/// Applies [`changes`] to the log (file writes off the async thread). In cluster mode only the
/// node whose keeper decides does, and publishes each change (`health::shared`).
async fn settle(compiled: &Arc<Compiled>, now: UnixTime) {
    let registry = compiled.health.clone();
    let keeper = registry.incidents().keeper().cloned();
    if keeper.as_ref().is_some_and(|k| !k.decides()) {
        return;
    }
    let changes = changes(compiled, &registry.incidents().open());
    if changes.is_empty() {
        return;
    }
    let applied = tokio::task::spawn_blocking(move || {
        for change in changes {
            match change {
                Change::Begin { tenant, cause, detail } => {
                    if let Some(i) = registry.incidents().begin(&tenant, cause, &detail, now) {
                        // Logs and the admin listener are where the detail goes; pages get `cause`.
                        log::warn!(
                            "incident {}: tenant {tenant} has no healthy upstream ({}: {detail})",
                            i.id,
                            cause.code()
                        );
                        if let Some(k) = &keeper {
                            k.publish(&i);
                        }
                    }
                }
                Change::End { tenant } => {
                    if let Some(i) = registry.incidents().end(&tenant, now) {
                        log::info!("incident {} ended: tenant {tenant} is served again", i.id);
                        if let Some(k) = &keeper {
                            k.publish(&i);
                        }
                    }
                }
            }
        }
    })
    .await;
    if let Err(e) = applied {
        log::error!("incidents: recording failed: {e}");
    }
}

/// A random duration in `[0, max]`, for jitter (no need for a random number crate: the
/// standard hasher's keys are random per instance).
fn random_below(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let r = RandomState::new().build_hasher().finish();
    let span = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(r % span.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let max = Duration::from_millis(100);
        let samples: Vec<Duration> = (0..64).map(|_| random_below(max)).collect();
        assert!(samples.iter().all(|d| *d <= max));
        assert!(samples.iter().any(|d| *d != samples[0]), "not constant");
        assert_eq!(random_below(Duration::ZERO), Duration::ZERO);
    }
}
