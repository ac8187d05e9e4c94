//! The TLS and ACME metrics, computed at a scrape: handshakes by result, each certificate's
//! expiry by name (configured and ACME), ACME orders by result. A collector registered with
//! one call ([`register`]); nothing here runs on the request path.

use super::Acme;
use crate::compiled::Compiled;
use crate::telemetry::exposition::{descs, Family};
use crate::telemetry::metrics::Metrics;
use crate::tls::handshakes::Failure;
use crate::tls::Handshakes;
use arc_swap::ArcSwap;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::Arc;

const FAMILIES: [Family; 3] = [
    Family::counter(
        "hiatus_tls_handshakes_total",
        "TLS handshakes on the gateway's listeners by result (ok, failed) and reason of a failure (no_certificate, protocol, timeout)",
        &["result", "reason"],
    ),
    Family::gauge(
        "hiatus_certificate_expiry_timestamp_seconds",
        "The notAfter of each certificate by name it serves (configured host patterns, \"default\", ACME names) and source, Unix time",
        &["name", "source"],
    ),
    Family::counter("hiatus_acme_orders_total", "ACME orders by result (ok, failed)", &["result"]),
];

/// The collector; see the module doc.
#[derive(Debug)]
pub struct CertMetrics {
    current: Arc<ArcSwap<Compiled>>,
    acme: Arc<Acme>,
    handshakes: Arc<Handshakes>,
    descs: Vec<Desc>,
}

/// Registers the TLS and ACME metrics into `metrics`' registry.
pub fn register(
    metrics: &Metrics,
    current: Arc<ArcSwap<Compiled>>,
    acme: Arc<Acme>,
    handshakes: Arc<Handshakes>,
) -> Result<(), prometheus::Error> {
    let collector = CertMetrics { current, acme, handshakes, descs: descs(&FAMILIES)? };
    metrics.registry.register(Box::new(collector))
}

impl Collector for CertMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let [f_handshakes, f_expiry, f_orders] = &FAMILIES;
        let mut handshakes = vec![f_handshakes.sample(&["ok", ""], self.handshakes.ok_count() as f64)];
        for why in Failure::ALL {
            handshakes.push(f_handshakes.sample(&["failed", why.label()], self.handshakes.failed_count(why) as f64));
        }
        let mut expiry = Vec::new();
        let compiled = self.current.load_full();
        for listed in compiled.certificates.listed() {
            let Some(t) = listed.not_after else { continue };
            for name in &listed.names {
                expiry.push(f_expiry.sample(&[name, "configured"], t as f64));
            }
            if listed.default {
                expiry.push(f_expiry.sample(&["default", "configured"], t as f64));
            }
        }
        for (name, c) in self.acme.issued.load().iter() {
            if let Some(t) = c.not_after {
                expiry.push(f_expiry.sample(&[name, "acme"], t as f64));
            }
        }
        let (ok, failed) = self.acme.orders();
        let orders = vec![f_orders.sample(&["ok"], ok as f64), f_orders.sample(&["failed"], failed as f64)];
        vec![f_handshakes.of(handshakes), f_expiry.of(expiry), f_orders.of(orders)]
    }
}
