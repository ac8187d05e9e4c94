//! Prometheus metrics: one explicit struct, registered once into a registry the gateway owns
//! (STYLE.md 8; no global registry). Each request is counted exactly once, in `logging`, by
//! its decision. Labels are bounded: `tenant` is a configured tenant id or `-`, `decision`
//! and `kind` are fixed sets, `upstream` a configured address of a checked tenant (the gauge is
//! rebuilt from the configuration in force at each scrape, so removed upstreams disappear).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub upstream_seconds: HistogramVec,
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
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "hiatus_upstream_duration_seconds",
                "Time from choosing an upstream to the end of its response",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
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
