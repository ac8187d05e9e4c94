//! Prometheus metrics: one explicit struct, registered once into a registry the gateway owns
//! (STYLE.md 8; no global registry). Each request is counted exactly once, in
//! `Gateway::record`, by its decision. Labels are bounded: `tenant` is a configured tenant id
//! or `-`, `decision`, `status_class` and `kind` are fixed sets.
//!
//! The per-tenant counters are not prometheus series but plain atomics, a block per tenant
//! (`TenantCounts`), which a collector turns into counter families at each scrape: the request
//! path then touches a cache line or two per request instead of several heap objects, which
//! is what 10 000 tenants made expensive. The request durations by decision are atomic buckets
//! too (`durations`), the process's figures are read at a scrape (`process`), and what the
//! configuration in force says (windows, upstream health, incidents, connections) is gathered
//! by the control plane's collector at each scrape (`control::scrape`).

use super::durations::Durations;
use super::exposition::{descs, Family};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// `hiatus_requests_total`, the body bytes each way, `hiatus_upstream_seconds_total` (per
    /// tenant, the sum of the times below: its mean is that divided by its proxied requests)
    /// and `hiatus_upstream_errors_total`.
    pub tenants: Arc<TenantCounters>,
    /// The counters of requests without a tenant (`tenant="-"`).
    pub unrouted: Arc<TenantCounts>,
    /// All tenants' upstream times in one histogram: a histogram per tenant would be 14 series
    /// per tenant (140 000 for 10 000 tenants) and several cache misses on every request.
    pub upstream_seconds: Histogram,
    /// `hiatus_request_duration_seconds{decision}`.
    pub durations: Arc<Durations>,
    reloads: IntCounterVec,
    generation: IntGauge,
    last_reload_success: IntGauge,
    last_reload_successful: IntGauge,
    pub access_log_dropped: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let tenants = Arc::new(TenantCounters::new()?);
        let durations = Arc::new(Durations::new()?);
        let upstream_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "hiatus_upstream_duration_seconds",
                "Time from choosing an upstream to the end of its response, all tenants",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("hiatus_config_reloads_total", "Configuration reloads by result"),
            &["result"],
        )?;
        let generation = IntGauge::new("hiatus_config_generation", "Generation of the configuration in force")?;
        let last_reload_success = IntGauge::new(
            "hiatus_config_last_reload_success_timestamp_seconds",
            "When the configuration in force was loaded (at start or by a reload), Unix time",
        )?;
        let last_reload_successful = IntGauge::new(
            "hiatus_config_last_reload_successful",
            "1 when the last reload (or the start) succeeded, 0 when it was refused",
        )?;
        let access_log_dropped = IntCounter::new(
            "hiatus_access_log_dropped_total",
            "Access log lines dropped because the writer fell behind",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("hiatus_build_info", "Version of the running binary"),
            &["version", "revision"],
        )?;
        // The revision `build.rs` found (`--version` says the same).
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION"), env!("HIATUS_REVISION")]).set(1);
        registry.register(Box::new(TenantCollector(tenants.clone())))?;
        registry.register(Box::new(DurationsCollector(durations.clone())))?;
        registry.register(Box::new(super::process::Process::new()?))?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(generation.clone()))?;
        registry.register(Box::new(last_reload_success.clone()))?;
        registry.register(Box::new(last_reload_successful.clone()))?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        registry.register(Box::new(build_info))?;
        for result in ["ok", "unchanged", "error"] {
            reloads.with_label_values(&[result]);
        }
        Ok(Metrics {
            registry,
            unrouted: tenants.of("-"),
            tenants,
            upstream_seconds,
            durations,
            reloads,
            generation,
            last_reload_success,
            last_reload_successful,
            access_log_dropped,
        })
    }

    /// The configuration of `generation` was loaded at `at` (Unix time), at start or by a
    /// reload (`reload`: counted as one).
    pub fn loaded(&self, generation: u64, at: i64, reload: bool) {
        if reload {
            self.reloads.with_label_values(&["ok"]).inc();
        }
        self.generation.set(i64::try_from(generation).unwrap_or(i64::MAX));
        self.last_reload_success.set(at);
        self.last_reload_successful.set(1);
    }

    /// A reload found the files holding the bytes in force: no new generation, and what was
    /// loaded last still stands.
    pub fn unchanged(&self) {
        self.reloads.with_label_values(&["unchanged"]).inc();
        self.last_reload_successful.set(1);
    }

    /// A reload was refused: the configuration in force stays.
    pub fn refused(&self) {
        self.reloads.with_label_values(&["error"]).inc();
        self.last_reload_successful.set(0);
    }

    /// The text exposition format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Decisions counted per tenant (the `decision` label), in `Outcome::index` order.
pub const DECISIONS: usize = super::Outcome::ALL.len();
/// Failure kinds (the `kind` label), in `Failure::ALL` order.
pub const FAILURES: usize = 9;
/// Status classes (the `status_class` label), in [`status_class`] order.
pub const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// The index in [`CLASSES`] of a response's status; `none` for 0 (nothing was written: the
/// client left, or the answer could not be written).
pub fn status_class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => CLASSES.len() - 1,
    }
}

/// Where decision `index` (`Outcome::index`) keeps its counts in a block: `proxied` first, so
/// that a proxied request's count shares the first cache line with its bytes and upstream time.
fn slot(index: usize) -> usize {
    (index + DECISIONS - 1) % DECISIONS
}

/// One tenant's counters, side by side. A proxied request with a 2xx answer touches one
/// cache line of them: its upstream time, its bytes and its count share the first. With a
/// prometheus series per counter, each was a heap object of its own behind a handle, and with
/// 10 000 tenants every request missed the cache on three or four of them (`record` took
/// 0.58 µs a request with the Host spread over 10 000 tenants, 0.04 µs with one).
// `C`: the fields in this order (Rust would put the big array first).
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct TenantCounts {
    /// Time spent on upstreams, in nanoseconds (exact, where adding seconds as `f64` is not).
    upstream_nanos: AtomicU64,
    /// Request body bytes read from clients (and carried up by upgraded connections).
    bytes_in: AtomicU64,
    /// Response body bytes written to clients (and carried down by upgraded connections).
    bytes_out: AtomicU64,
    /// Requests by [`slot`] of their decision and by status class.
    requests: [[AtomicU64; CLASSES.len()]; DECISIONS],
    errors: [AtomicU64; FAILURES],
}

impl TenantCounts {
    fn requests(&self, index: usize, class: usize) -> Option<&AtomicU64> {
        self.requests.get(slot(index)).and_then(|r| r.get(class))
    }

    /// Counts one request with decision `index` (`Outcome::index`), answered with `status`
    /// (0: none), `bytes_in` body bytes read and `bytes_out` written.
    pub fn request(&self, index: usize, status: u16, bytes_in: u64, bytes_out: u64) {
        if let Some(c) = self.requests(index, status_class(status)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // Most requests have no body: no atomic add for nothing.
        if bytes_in > 0 {
            self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        }
        if bytes_out > 0 {
            self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        }
    }

    /// Counts the time of one upstream exchange.
    pub fn upstream_time(&self, time: std::time::Duration) {
        self.upstream_nanos.fetch_add(u64::try_from(time.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts one upstream failure of kind `index` (`Failure::ALL` order).
    pub fn upstream_error(&self, index: usize) {
        if let Some(c) = self.errors.get(index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The families `TenantCollector` makes, in this order.
const TENANT_FAMILIES: [Family; 5] = [
    Family::counter(
        "hiatus_requests_total",
        "Requests by tenant, what the gateway decided and the answer's status class",
        &["decision", "status_class", "tenant"],
    ),
    Family::counter(
        "hiatus_request_body_bytes_total",
        "Request body bytes read from clients by tenant (with what upgraded connections carried up)",
        &["tenant"],
    ),
    Family::counter(
        "hiatus_response_body_bytes_total",
        "Response body bytes written to clients by tenant (with what upgraded connections carried down)",
        &["tenant"],
    ),
    Family::counter(
        "hiatus_upstream_seconds_total",
        "Time spent on upstreams by tenant (sum of the durations)",
        &["tenant"],
    ),
    Family::counter("hiatus_upstream_errors_total", "Upstream failures by kind", &["kind", "tenant"]),
];

/// Every tenant's counters by tenant id, for as long as the process runs: counters must not
/// restart when a reload renumbers the tenants, so each id keeps its `TenantCounts`, and every
/// configuration's tenants point at them (`TenantRuntime::counts`, filled on first use). Only
/// counters above zero are exposed, so a tenant that never saw traffic adds no series to
/// `/metrics`.
#[derive(Debug)]
pub struct TenantCounters {
    by_id: Mutex<HashMap<String, Arc<TenantCounts>>>,
    descs: Vec<Desc>,
}

impl TenantCounters {
    fn new() -> Result<TenantCounters, prometheus::Error> {
        Ok(TenantCounters { by_id: Mutex::new(HashMap::new()), descs: descs(&TENANT_FAMILIES)? })
    }

    /// The counters of tenant `id` (`-` for requests without a tenant).
    pub fn of(&self, id: &str) -> Arc<TenantCounts> {
        let mut by_id = self.by_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match by_id.get(id) {
            Some(c) => c.clone(),
            None => by_id.entry(id.to_string()).or_default().clone(),
        }
    }
}

/// The names of the `decision` and `kind` labels, by index.
fn decision_names() -> [&'static str; DECISIONS] {
    crate::telemetry::Outcome::ALL.map(crate::telemetry::Outcome::label)
}

fn failure_names() -> [&'static str; FAILURES] {
    crate::pages::Failure::ALL.map(crate::pages::Failure::code)
}

/// Exposes `TenantCounters` in the registry.
struct TenantCollector(Arc<TenantCounters>);

impl Collector for TenantCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let by_id = self.0.by_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (decisions, failures) = (decision_names(), failure_names());
        let mut out: [Vec<_>; 5] = Default::default();
        let [requests, bytes_in, bytes_out, seconds, errors] = &mut out;
        // Only counters above zero.
        let push = |to: &mut Vec<_>, family: &Family, labels: &[&str], value: u64, scale: f64| {
            if value > 0 {
                to.push(family.sample(labels, value as f64 / scale));
            }
        };
        let [f_requests, f_in, f_out, f_seconds, f_errors] = &TENANT_FAMILIES;
        for (id, c) in by_id.iter() {
            for (index, decision) in decisions.iter().enumerate() {
                for (class, name) in CLASSES.iter().enumerate() {
                    let count = c.requests(index, class).map_or(0, |c| c.load(Ordering::Relaxed));
                    push(requests, f_requests, &[decision, name, id], count, 1.0);
                }
            }
            push(bytes_in, f_in, &[id], c.bytes_in.load(Ordering::Relaxed), 1.0);
            push(bytes_out, f_out, &[id], c.bytes_out.load(Ordering::Relaxed), 1.0);
            push(seconds, f_seconds, &[id], c.upstream_nanos.load(Ordering::Relaxed), 1e9);
            for (count, kind) in c.errors.iter().zip(failures) {
                push(errors, f_errors, &[kind, id], count.load(Ordering::Relaxed), 1.0);
            }
        }
        drop(by_id);
        TENANT_FAMILIES.iter().zip(out).map(|(f, metrics)| f.of(metrics)).collect()
    }
}

/// Exposes `Durations` in the registry (the struct itself stays with the metrics).
struct DurationsCollector(Arc<Durations>);

impl Collector for DurationsCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::Failure;
    use crate::telemetry::Outcome;

    #[test]
    fn label_names_follow_the_indexes() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!((o.index(), decision_names()[i]), (i, o.label()));
        }
        assert_eq!(failure_names().len(), Failure::ALL.len());
    }

    /// The exposition of `m`, which has each of `lines`.
    fn has_lines(m: &Metrics, lines: &[&str]) -> String {
        let text = String::from_utf8(m.encode()).unwrap_or_default();
        for line in lines {
            assert!(text.lines().any(|l| l == *line), "missing {line:?} in\n{text}");
        }
        text
    }

    /// A proxied 2xx request touches one cache line: its count beside its bytes and upstream
    /// time at the block's start.
    #[test]
    fn a_proxied_2xx_request_counts_in_the_first_cache_line() {
        let c = TenantCounts::default();
        let at = |p: &AtomicU64| p as *const AtomicU64 as usize - &c as *const TenantCounts as usize;
        let count = c.requests(Outcome::Proxied.index(), status_class(200)).map(at);
        assert!(count.is_some_and(|o| o + 8 <= 64), "{count:?}");
        assert!([&c.bytes_in, &c.bytes_out, &c.upstream_nanos].into_iter().all(|p| at(p) + 8 <= 64));
        assert_eq!(std::mem::size_of::<TenantCounts>(), 576);
    }

    #[test]
    fn status_classes() {
        let shown = [0, 99, 100, 101, 200, 304, 421, 503, 599, 600].map(|s| CLASSES[status_class(s)]);
        assert_eq!(shown, ["none", "none", "1xx", "1xx", "2xx", "3xx", "4xx", "5xx", "5xx", "none"]);
    }

    /// Counters are kept by tenant id (a new configuration that renumbers the tenants asks for
    /// them by id again), and only counters above zero are exposed.
    #[test]
    fn counters_are_kept_by_tenant_id_and_only_used_ones_are_exposed() {
        let m = Metrics::new().unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (m.tenants.of("a"), m.tenants.of("b"));
        a.request(Outcome::Proxied.index(), 200, 10, 100);
        a.request(Outcome::Pending.index(), 0, 0, 0);
        b.request(Outcome::Maintenance.index(), 503, 0, 7);
        a.upstream_time(std::time::Duration::from_millis(1500));
        m.tenants.of("a").request(Outcome::Proxied.index(), 200, 5, 1);
        m.tenants.of("a").request(Outcome::Proxied.index(), 404, 0, 0);
        m.tenants.of("b").upstream_error(2);
        m.unrouted.request(Outcome::UnknownHost.index(), 421, 0, 0);
        let _unused = m.tenants.of("c");
        let text = has_lines(
            &m,
            &[
                "hiatus_requests_total{decision=\"proxied\",status_class=\"2xx\",tenant=\"a\"} 2",
                "hiatus_requests_total{decision=\"proxied\",status_class=\"4xx\",tenant=\"a\"} 1",
                "hiatus_requests_total{decision=\"incomplete\",status_class=\"none\",tenant=\"a\"} 1",
                "hiatus_requests_total{decision=\"maintenance\",status_class=\"5xx\",tenant=\"b\"} 1",
                "hiatus_requests_total{decision=\"unknown_host\",status_class=\"4xx\",tenant=\"-\"} 1",
                "hiatus_request_body_bytes_total{tenant=\"a\"} 15",
                "hiatus_response_body_bytes_total{tenant=\"a\"} 101",
                "hiatus_response_body_bytes_total{tenant=\"b\"} 7",
                "hiatus_upstream_seconds_total{tenant=\"a\"} 1.5",
                "hiatus_upstream_errors_total{kind=\"read_timeout\",tenant=\"b\"} 1",
                "# TYPE hiatus_requests_total counter",
            ],
        );
        let series = text.lines().filter(|l| l.starts_with("hiatus_requests_total{")).count();
        assert_eq!(series, 5, "{text}");
        assert!(!text.contains("tenant=\"c\""), "{text}");
        assert!(!text.contains("hiatus_request_body_bytes_total{tenant=\"b\"}"), "no zero counters: {text}");
    }

    #[test]
    fn reloads_set_the_generation_the_time_and_the_result() {
        let m = Metrics::new().unwrap_or_else(|e| panic!("{e}"));
        m.loaded(1, 1_000, false);
        m.refused();
        has_lines(
            &m,
            &[
                "hiatus_config_generation 1",
                "hiatus_config_last_reload_success_timestamp_seconds 1000",
                "hiatus_config_last_reload_successful 0",
                "hiatus_config_reloads_total{result=\"error\"} 1",
                "hiatus_config_reloads_total{result=\"ok\"} 0",
            ],
        );
        m.loaded(2, 2_000, true);
        has_lines(
            &m,
            &[
                "hiatus_config_generation 2",
                "hiatus_config_last_reload_success_timestamp_seconds 2000",
                "hiatus_config_last_reload_successful 1",
                "hiatus_config_reloads_total{result=\"ok\"} 1",
            ],
        );
    }
}
