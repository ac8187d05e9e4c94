//! The notifications' counters on `/metrics`: per target sent, failed attempts, dropped,
//! queued and the oldest queued delivery's age (`hiatus_notify_*`, README "Metrics").
//!
//! Owns [`Board`], where the notifier publishes each target's counters whenever its targets
//! change, and [`NotifyCollector`], which reads them at a scrape. The counters are the
//! delivery threads' atomics and the board an `ArcSwap`: a scrape takes no lock that a
//! delivery or the ticker holds, so a target that hangs never holds up `/metrics`.

use super::deliver::{now_ms, TargetStats};
use crate::telemetry::exposition::{descs, Family};
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A target's id and its counters.
type Entry = (String, Arc<TargetStats>);

/// Each target's id and counters, as the notifier last published them.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<ArcSwap<Vec<Entry>>>);

impl Board {
    /// Replaces what the board shows (the notifier's targets after a change).
    pub fn publish(&self, mut targets: Vec<Entry>) {
        targets.sort_by(|a, b| a.0.cmp(&b.0));
        self.0.store(Arc::new(targets));
    }
}

const FAMILIES: [Family; 5] = [
    Family::counter("hiatus_notify_sent_total", "Notifications a target accepted", &["target"]),
    Family::counter(
        "hiatus_notify_failed_total",
        "Failed delivery attempts per target (each retry counts, and each refusal)",
        &["target"],
    ),
    Family::counter(
        "hiatus_notify_dropped_total",
        "Notifications a target refused for good or that were given up after give_up_after",
        &["target"],
    ),
    Family::gauge("hiatus_notify_queued", "Notifications waiting for delivery per target", &["target"]),
    Family::gauge(
        "hiatus_notify_oldest_queued_age_seconds",
        "How long the oldest waiting notification of a target has waited (0 when none waits)",
        &["target"],
    ),
];

/// The collector; see the module's doc.
#[derive(Debug)]
pub struct NotifyCollector {
    board: Board,
    descs: Vec<Desc>,
}

/// Registers the notification counters of `board` into `metrics`' registry.
pub fn register(metrics: &Metrics, board: Board) -> Result<(), prometheus::Error> {
    metrics.registry.register(Box::new(NotifyCollector { board, descs: descs(&FAMILIES)? }))
}

impl Collector for NotifyCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = now_ms();
        let targets = self.board.0.load();
        let mut out: [Vec<_>; 5] = Default::default();
        let [sent, failed, dropped, queued, age] = &mut out;
        for (id, s) in targets.iter() {
            let l = [id.as_str()];
            sent.push(FAMILIES[0].sample(&l, s.sent.load(Ordering::Relaxed) as f64));
            failed.push(FAMILIES[1].sample(&l, s.failed.load(Ordering::Relaxed) as f64));
            dropped.push(FAMILIES[2].sample(&l, s.dropped.load(Ordering::Relaxed) as f64));
            queued.push(FAMILIES[3].sample(&l, s.queued.load(Ordering::Relaxed) as f64));
            age.push(FAMILIES[4].sample(&l, s.oldest_age_secs(now) as f64));
        }
        FAMILIES.iter().zip(out).map(|(f, metrics)| f.of(metrics)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_shows_each_published_target() {
        let metrics = Metrics::new().expect("metrics");
        let board = Board::default();
        register(&metrics, board.clone()).expect("register");
        let (a, b) = (Arc::new(TargetStats::default()), Arc::new(TargetStats::default()));
        a.sent.store(3, Ordering::Relaxed);
        b.queued.store(2, Ordering::Relaxed);
        b.oldest_queued_ms.store(now_ms() - 61_000, Ordering::Relaxed);
        board.publish(vec![("b".into(), b), ("a".into(), a)]);
        let text = || {
            let mut out = String::new();
            prometheus::TextEncoder::new().encode_utf8(&metrics.registry.gather(), &mut out).expect("encode");
            out
        };
        let exposed = text();
        for line in [
            "hiatus_notify_sent_total{target=\"a\"} 3",
            "hiatus_notify_sent_total{target=\"b\"} 0",
            "hiatus_notify_queued{target=\"b\"} 2",
            "hiatus_notify_oldest_queued_age_seconds{target=\"a\"} 0",
            "hiatus_notify_oldest_queued_age_seconds{target=\"b\"} 61",
            "# TYPE hiatus_notify_failed_total counter",
            "# TYPE hiatus_notify_queued gauge",
        ] {
            assert!(exposed.lines().any(|l| l == line), "{line} in\n{exposed}");
        }
        board.publish(vec![]);
        assert!(!text().contains("hiatus_notify_"), "a removed target's series go");
    }
}
