//! Prometheus metrics: one explicit struct, registered once into a registry the gateway owns
//! (STYLE.md 8; no global registry). Each request is counted exactly once, in `logging`, by
//! its decision. Labels are bounded: `tenant` is a configured tenant id or `-`, `decision`
//! and `kind` are fixed sets, `upstream` a configured address of a checked tenant (the gauge is
//! rebuilt from the configuration in force at each scrape, so removed upstreams disappear).

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    /// All tenants' upstream times in one histogram: a histogram per tenant would be 14 series
    /// per tenant (140 000 for 10 000 tenants) and several cache misses on every request.
    pub upstream_seconds: Histogram,
    /// Per tenant, the sum of those times (its mean: divide by its proxied requests).
    pub upstream_seconds_total: CounterVec,
    pub upstream_errors: IntCounterVec,
    pub maintenance_active: IntGaugeVec,
    /// Set from the health registry before each scrape, for configured upstreams only.
    pub upstream_healthy: IntGaugeVec,
    pub reloads: IntCounterVec,
    pub generation: IntGauge,
    pub access_log_dropped: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("hiatus_requests_total", "Requests by tenant and what the gateway decided"),
            &["tenant", "decision"],
        )?;
        let upstream_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "hiatus_upstream_duration_seconds",
                "Time from choosing an upstream to the end of its response, all tenants",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let upstream_seconds_total = CounterVec::new(
            Opts::new("hiatus_upstream_seconds_total", "Time spent on upstreams by tenant (sum of the durations)"),
            &["tenant"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new("hiatus_upstream_errors_total", "Upstream failures by kind"),
            &["tenant", "kind"],
        )?;
        let maintenance_active = IntGaugeVec::new(
            Opts::new("hiatus_maintenance_active", "1 while a tenant is in maintenance"),
            &["tenant"],
        )?;
        let upstream_healthy = IntGaugeVec::new(
            Opts::new("hiatus_upstream_healthy", "1 while a checked upstream passes its health checks, 0 when not"),
            &["tenant", "upstream"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("hiatus_config_reloads_total", "Configuration reloads by result"),
            &["result"],
        )?;
        let generation = IntGauge::new("hiatus_config_generation", "Generation of the configuration in force")?;
        let access_log_dropped = IntCounter::new(
            "hiatus_access_log_dropped_total",
            "Access log lines dropped because the writer fell behind",
        )?;
        let build_info =
            IntGaugeVec::new(Opts::new("hiatus_build_info", "Version of the running binary"), &["version"])?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        registry.register(Box::new(upstream_seconds_total.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(maintenance_active.clone()))?;
        registry.register(Box::new(upstream_healthy.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(generation.clone()))?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        registry.register(Box::new(build_info))?;
        for result in ["ok", "error"] {
            reloads.with_label_values(&[result]);
        }
        Ok(Metrics {
            registry,
            requests,
            upstream_seconds,
            upstream_seconds_total,
            upstream_errors,
            maintenance_active,
            upstream_healthy,
            reloads,
            generation,
            access_log_dropped,
        })
    }

    /// The text exposition format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// The metric handles of one configuration's tenants, each made on first use.
///
/// `with_label_values` hashes the labels and takes a lock on every call; a handle is one atomic
/// add. Made lazily, so a tenant that never sees traffic adds no series to `/metrics`.
#[derive(Debug)]
pub struct TenantHandles {
    generation: u64,
    /// One per tenant, and a last one for requests without a tenant (`-`).
    tenants: Vec<Handles>,
}

/// Decisions counted per tenant (the `decision` label), in [`TenantHandles::request`] order.
pub const DECISIONS: usize = 8;
/// Failure kinds (the `kind` label).
pub const FAILURES: usize = 7;

#[derive(Debug, Default)]
struct Handles {
    requests: [std::sync::OnceLock<prometheus::IntCounter>; DECISIONS],
    upstream: std::sync::OnceLock<prometheus::Counter>,
    errors: [std::sync::OnceLock<prometheus::IntCounter>; FAILURES],
}

impl TenantHandles {
    pub fn new(generation: u64, tenants: usize) -> TenantHandles {
        TenantHandles { generation, tenants: (0..=tenants).map(|_| Handles::default()).collect() }
    }

    /// Whether these handles belong to a configuration of `generation` with `tenants` tenants.
    pub fn fits(&self, generation: u64, tenants: usize) -> bool {
        self.generation == generation && self.tenants.len() == tenants + 1
    }

    fn of(&self, tenant: Option<usize>) -> Option<&Handles> {
        self.tenants.get(tenant.unwrap_or(self.tenants.len().saturating_sub(1)))
    }

    /// Counts one request of `tenant` (`label` is its id or `-`) with decision `index`/`name`.
    /// `label` gives the tenant's id (or `-`); it is only called to make a new series.
    pub fn request<'a>(
        &self,
        m: &Metrics,
        tenant: Option<usize>,
        label: &dyn Fn() -> &'a str,
        index: usize,
        name: &str,
    ) {
        if let Some(c) = self.of(tenant).and_then(|h| h.requests.get(index)) {
            c.get_or_init(|| m.requests.with_label_values(&[label(), name])).inc();
        }
    }

    pub fn upstream_seconds<'a>(&self, m: &Metrics, tenant: Option<usize>, label: &dyn Fn() -> &'a str, secs: f64) {
        m.upstream_seconds.observe(secs);
        if let Some(h) = self.of(tenant) {
            h.upstream.get_or_init(|| m.upstream_seconds_total.with_label_values(&[label()])).inc_by(secs);
        }
    }

    pub fn upstream_error<'a>(
        &self,
        m: &Metrics,
        tenant: Option<usize>,
        label: &dyn Fn() -> &'a str,
        index: usize,
        kind: &str,
    ) {
        if let Some(c) = self.of(tenant).and_then(|h| h.errors.get(index)) {
            c.get_or_init(|| m.upstream_errors.with_label_values(&[label(), kind])).inc();
        }
    }
}
