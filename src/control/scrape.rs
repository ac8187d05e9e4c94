//! The gauges a scrape reads from the configuration in force rather than from counters: per
//! tenant whether a window is in force, when it ends and when the next one starts (the
//! engine's verdict at the clock's `now`, as requests see it), each checked upstream's health,
//! the open incidents, and the open client connections by lane. A collector registered into
//! the metrics' registry ([`register`]), so every scrape computes them afresh: a tenant or an
//! upstream a reload removed is gone from the next scrape, and nothing is kept in step.
//!
//! `hiatus_upstream_healthy` names upstream addresses: `/metrics` is served on the admin
//! listener only (loopback, or behind a token), never on a public page.

use super::reload::Reloader;
use crate::clock::Clock;
use crate::gateway::drain::Drain;
use crate::telemetry::exposition::{descs, Family};
use crate::telemetry::metrics::Metrics;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::Arc;

const FAMILIES: [Family; 6] = [
    Family::gauge("hiatus_window_active", "1 while a maintenance window is in force for a tenant, else 0", &["tenant"]),
    Family::gauge(
        "hiatus_window_end_timestamp_seconds",
        "End of the maintenance in force for a tenant (its block), Unix time; absent when none is in force or it is open-ended",
        &["tenant"],
    ),
    Family::gauge(
        "hiatus_window_next_start_timestamp_seconds",
        "Start of a tenant's next maintenance while none is in force, Unix time; absent when none is known",
        &["tenant"],
    ),
    Family::gauge(
        "hiatus_upstream_healthy",
        "1 while a checked upstream passes its health checks, 0 when not",
        &["tenant", "upstream"],
    ),
    Family::gauge("hiatus_incidents_open", "Incidents open now (a checked tenant with every upstream down)", &[]),
    Family::gauge("hiatus_open_connections", "Client connections open now by protocol", &["protocol"]),
];

/// The collector; see the module's doc.
#[derive(Debug)]
pub struct Scrape {
    reloader: Arc<Reloader>,
    clock: Clock,
    /// The gateway's connections (none in a process without a gateway).
    drain: Option<Arc<Drain>>,
    descs: Vec<Desc>,
}

/// Registers the scrape-time gauges into `metrics`' registry.
pub fn register(
    metrics: &Metrics,
    reloader: Arc<Reloader>,
    clock: Clock,
    drain: Option<Arc<Drain>>,
) -> Result<(), prometheus::Error> {
    let scrape = Scrape { reloader, clock, drain, descs: descs(&FAMILIES)? };
    metrics.registry.register(Box::new(scrape))
}

impl Collector for Scrape {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let [f_active, f_end, f_next, f_healthy, f_incidents, f_connections] = &FAMILIES;
        let compiled = self.reloader.current().load_full();
        let now = self.clock.now();
        let engine = &compiled.engine;
        let mut out: [Vec<_>; 6] = Default::default();
        let [active, end, next, healthy, incidents, connections] = &mut out;
        for (i, t) in compiled.config().tenants.iter().enumerate() {
            let id = t.id.as_str();
            let v = engine.verdict(&engine.route_of_tenant(i as u32), now);
            active.push(f_active.sample(&[id], f64::from(u8::from(v.is_maintenance()))));
            if let (true, Some(until)) = (v.is_maintenance(), v.until) {
                end.push(f_end.sample(&[id], until as f64));
            }
            if let (false, Some(start)) = (v.is_maintenance(), v.next_start) {
                next.push(f_next.sample(&[id], start as f64));
            }
            let checked = compiled.tenants.get(i).and_then(|r| r.health.as_ref());
            for u in checked.iter().flat_map(|h| h.upstreams.iter()) {
                healthy.push(f_healthy.sample(&[id, u.address.as_str()], f64::from(u8::from(u.is_healthy()))));
            }
        }
        incidents.push(f_incidents.sample(&[], compiled.health.incidents().open().len() as f64));
        if let Some(drain) = &self.drain {
            let (http1, h2c) = drain.open_by_lane();
            connections.push(f_connections.sample(&["http1"], http1 as f64));
            connections.push(f_connections.sample(&["h2c"], h2c as f64));
        }
        FAMILIES.iter().zip(out).map(|(f, metrics)| f.of(metrics)).collect()
    }
}
