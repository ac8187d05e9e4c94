//! Metric families built at a scrape from values the process keeps its own way (blocks of
//! atomics, the configuration in force, `/proc`): what the custom collectors of `metrics`,
//! `process` and the control plane's scrape gauges share. A family is declared once as a
//! [`Family`] (name, help, type, label names), which gives both the registry's `Desc` and the
//! samples' family, so the two cannot disagree.

use prometheus::core::Desc;
use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::HashMap;

/// One metric family's declaration.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    /// In the order the samples give their values.
    pub labels: &'static [&'static str],
}

impl Family {
    pub const fn counter(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Family {
        Family { name, help, kind: MetricType::COUNTER, labels }
    }

    pub const fn gauge(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Family {
        Family { name, help, kind: MetricType::GAUGE, labels }
    }

    pub const fn histogram(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Family {
        Family { name, help, kind: MetricType::HISTOGRAM, labels }
    }

    /// The registry's description (checked there: a valid name, a help text).
    pub fn desc(&self) -> Result<Desc, prometheus::Error> {
        Desc::new(
            self.name.into(),
            self.help.into(),
            self.labels.iter().map(|l| l.to_string()).collect(),
            HashMap::new(),
        )
    }

    /// A sample of a counter or a gauge with the label `values` (as many as `labels`).
    pub fn sample(&self, values: &[&str], value: f64) -> Metric {
        let mut metric = Metric::from_label(self.pairs(values));
        if self.kind == MetricType::COUNTER {
            let mut c = proto::Counter::default();
            c.set_value(value);
            metric.set_counter(c);
        } else {
            let mut g = proto::Gauge::default();
            g.set_value(value);
            metric.set_gauge(g);
        }
        metric
    }

    /// A histogram sample: `counts[i]` observations at most `bounds[i]` (not cumulative; the
    /// last count is above every bound), their sum.
    pub fn histogram_sample(&self, values: &[&str], bounds: &[f64], counts: &[u64], sum: f64) -> Metric {
        let mut total = 0;
        let buckets = bounds
            .iter()
            .zip(counts)
            .map(|(bound, n)| {
                total += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(total);
                b
            })
            .collect();
        total += counts.get(bounds.len()).copied().unwrap_or(0);
        let mut h = proto::Histogram::default();
        h.set_bucket(buckets);
        h.set_sample_count(total);
        h.set_sample_sum(sum);
        let mut metric = Metric::from_label(self.pairs(values));
        metric.set_histogram(h);
        metric
    }

    fn pairs(&self, values: &[&str]) -> Vec<LabelPair> {
        self.labels
            .iter()
            .zip(values)
            .map(|(n, v)| {
                let mut pair = LabelPair::default();
                pair.set_name(n.to_string());
                pair.set_value(v.to_string());
                pair
            })
            .collect()
    }

    /// The family of `metrics` (the registry leaves out a family without any).
    pub fn of(&self, metrics: Vec<Metric>) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name(self.name.to_string());
        f.set_help(self.help.to_string());
        f.set_field_type(self.kind);
        f.set_metric(metrics);
        f
    }
}

/// The descriptions of `families`, built once for a collector's `desc()`.
pub fn descs(families: &[Family]) -> Result<Vec<Desc>, prometheus::Error> {
    families.iter().map(Family::desc).collect()
}
