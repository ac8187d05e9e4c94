//! `hiatus_request_duration_seconds{decision}`: how long requests took, from their first byte
//! to their last, by decision — a fixed array of atomic buckets per decision, turned into
//! histograms only at a scrape.
//!
//! Every request of every thread lands here, mostly in one decision's buckets (`proxied`), so
//! the buckets are kept in [`SHARDS`] copies and a thread always writes the same one: two
//! cores counting into one cache line would pass it back and forth on every request. A
//! request costs two relaxed atomic adds (its bucket and the sum) and a binary search over
//! [`BOUNDS`]; the shards are added up at a scrape.

use super::exposition::Family;
use super::Outcome;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The buckets' upper bounds in seconds: a hit of the gateway's own is well under a
/// millisecond, a proxied request as slow as its upstream (up to the read timeout).
pub const BOUNDS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// [`BOUNDS`] in nanoseconds, what a request's duration is compared with.
const BOUNDS_NANOS: [u64; 14] = {
    let mut out = [0u64; 14];
    let mut i = 0;
    while i < out.len() {
        // Rounded: 0.0005 s is not exact in binary.
        out[i] = (BOUNDS[i] * 1e9 + 0.5) as u64;
        i += 1;
    }
    out
};

/// Copies of the buckets; a thread writes copy `its number % SHARDS`.
pub const SHARDS: usize = 8;

const DECISIONS: usize = Outcome::ALL.len();

/// One decision's buckets in one shard: a count per bucket (the last one above every bound)
/// and the sum of the durations in nanoseconds (exact, where adding `f64`s is not).
#[repr(align(64))]
#[derive(Debug, Default)]
struct Buckets {
    counts: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// Request durations by decision.
#[derive(Debug)]
pub struct Durations {
    /// `[shard][decision]`.
    shards: Box<[[Buckets; DECISIONS]]>,
    desc: Vec<Desc>,
}

const FAMILY: Family = Family::histogram(
    "hiatus_request_duration_seconds",
    "Time from a request's first byte to the end of its answer, by decision",
    &["decision"],
);

thread_local! {
    /// This thread's shard, handed out in turn as threads first count.
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

impl Durations {
    pub fn new() -> Result<Durations, prometheus::Error> {
        let shards = (0..SHARDS).map(|_| std::array::from_fn(|_| Buckets::default())).collect();
        Ok(Durations { shards, desc: vec![FAMILY.desc()?] })
    }

    /// Counts a request of decision `index` (`Outcome::index`) that took `took`.
    pub fn observe(&self, index: usize, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let shard = SHARD.try_with(|s| *s).unwrap_or(0);
        let Some(b) = self.shards.get(shard).and_then(|s| s.get(index)) else { return };
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        if let Some(c) = b.counts.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        b.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Decision `index`'s counts per bucket and sum in seconds, all shards added up.
    fn totals(&self, index: usize) -> ([u64; BOUNDS.len() + 1], f64) {
        let mut counts = [0u64; BOUNDS.len() + 1];
        let mut nanos = 0u128;
        for b in self.shards.iter().filter_map(|s| s.get(index)) {
            for (total, c) in counts.iter_mut().zip(&b.counts) {
                *total += c.load(Ordering::Relaxed);
            }
            nanos += u128::from(b.sum_nanos.load(Ordering::Relaxed));
        }
        (counts, nanos as f64 / 1e9)
    }
}

impl Collector for Durations {
    fn desc(&self) -> Vec<&Desc> {
        self.desc.iter().collect()
    }

    /// Every decision, counted or not: a series that appears only with its first request
    /// makes `rate()` miss that request.
    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = Outcome::ALL
            .iter()
            .map(|o| {
                let (counts, sum) = self.totals(o.index());
                FAMILY.histogram_sample(&[o.label()], &BOUNDS, &counts, sum)
            })
            .collect();
        vec![FAMILY.of(metrics)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A duration lands in the first bucket whose bound it does not exceed (a bound is "at
    /// most", as Prometheus's `le` says), and the counts are cumulative in the exposition.
    #[test]
    fn durations_land_in_their_bucket() {
        let d = Durations::new().unwrap_or_else(|e| panic!("{e}"));
        let proxied = Outcome::Proxied.index();
        for ms in [0.2, 0.5, 0.7, 30.0, 20_000.0] {
            d.observe(proxied, Duration::from_secs_f64(ms / 1000.0));
        }
        d.observe(Outcome::Maintenance.index(), Duration::from_micros(100));
        let (counts, sum) = d.totals(proxied);
        assert_eq!(counts[..3], [2, 1, 0], "0.2 and 0.5 ms at most 0.5 ms, 0.7 ms at most 1 ms");
        assert_eq!((counts[6], counts[14], counts.iter().sum::<u64>()), (1, 1, 5), "30 ms, and 20 s above all");
        assert!((sum - 20.0314).abs() < 1e-6, "{sum}");
        let families = d.collect();
        let metrics = families.first().map(|f| f.get_metric()).unwrap_or_default();
        assert_eq!(metrics.len(), Outcome::ALL.len(), "every decision, counted or not");
        let h = metrics[proxied].get_histogram();
        let cumulative: Vec<u64> = h.get_bucket().iter().map(|b| b.cumulative_count()).collect();
        assert_eq!((cumulative[0], cumulative[1], cumulative[6], h.get_sample_count()), (2, 3, 4, 5));
        assert_eq!(metrics[Outcome::Maintenance.index()].get_histogram().get_sample_count(), 1);
    }

    /// Threads write shards of their own, and a scrape adds them all up.
    #[test]
    fn shards_are_added_up() {
        let d = std::sync::Arc::new(Durations::new().unwrap_or_else(|e| panic!("{e}")));
        let threads: Vec<_> = (0..SHARDS + 2)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || d.observe(Outcome::Gateway.index(), Duration::from_millis(2)))
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let (counts, _) = d.totals(Outcome::Gateway.index());
        assert_eq!((counts[2], counts.iter().sum::<u64>()), (SHARDS as u64 + 2, SHARDS as u64 + 2));
    }
}
