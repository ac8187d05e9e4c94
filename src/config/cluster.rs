//! `[cluster]`: several gateways sharing their runtime state through etcd (`crate::cluster`).
//!
//! Owns the section's file shape ([`FileCluster`]) and its validation into [`ClusterSettings`]:
//! the etcd endpoints (`http://host:port`, the JSON gateway of etcd's v3 API), the key prefix,
//! this node's name and the timeouts. It is read from the main file only; a start reads it
//! (talking to etcd is the control plane's job, not the loader's).

use super::diagnostic::Report;
use serde::Deserialize;
use std::time::Duration;

/// `[cluster]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    pub endpoints: Vec<String>,
    pub prefix: Option<String>,
    pub node: Option<String>,
    pub timeout: Option<String>,
    pub retry_max: Option<String>,
}

/// A validated `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `http://host:port` without a trailing slash; tried in order, the next after a failure.
    pub endpoints: Vec<String>,
    /// Every key lives under it: `<prefix>/operator`, `<prefix>/sent/…`. No trailing slash.
    pub prefix: String,
    /// This gateway's name in logs and in the delivery marks it writes.
    pub node: String,
    /// One request to etcd (range, put, txn) and the heartbeat's budget.
    pub timeout: Duration,
    /// The longest wait between two attempts to reach etcd again (backoff from 100 ms).
    pub retry_max: Duration,
}

/// `http://host:port`: etcd's client URL. TLS towards etcd is not offered (loopback or a
/// private network; README "Several gateways").
fn endpoint(text: &str) -> Result<String, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{text:?}: write http://host:port (etcd's client URL; https is not supported)"));
    }
    match uri.authority() {
        Some(a) if !a.host().is_empty() && a.port_u16().is_some() && !a.as_str().contains('@') => {}
        _ => return Err(format!("{text:?}: write http://host:port")),
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(format!("{text:?}: an endpoint has no path"));
    }
    Ok(format!("http://{}", uri.authority().map(|a| a.as_str()).unwrap_or_default()))
}

fn prefix(text: &str) -> Result<String, String> {
    let t = text.trim_end_matches('/');
    let fine = |b: u8| b.is_ascii_alphanumeric() || b"-_./".contains(&b);
    if !t.starts_with('/') || t.len() < 2 || !t.bytes().all(fine) || t.contains("//") {
        return Err(format!(
            "{text:?}: write a key prefix like \"/hiatus/prod\" (letters, digits, '-', '_', '.', '/')"
        ));
    }
    Ok(t.to_string())
}

fn node(text: &str) -> Result<String, String> {
    let fine = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
    if text.is_empty() || text.len() > 64 || !text.bytes().all(fine) {
        return Err(format!("{text:?}: use 1 to 64 letters, digits, '-', '_' and '.'"));
    }
    Ok(text.to_string())
}

/// This host's name, the default node name ("gateway" when it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| node(h).is_ok())
        .unwrap_or_else(|| "gateway".to_string())
}

/// Validates `[cluster]` of the main file `file`; `None` after an error (reported).
pub fn settings(f: &FileCluster, file: &str, report: &mut Report) -> Option<ClusterSettings> {
    let before = report.errors.len();
    let mut check =
        |key: &str, r: Result<String, String>| r.map_err(|e| report.error(file, format!("cluster.{key}"), e)).ok();
    if f.endpoints.is_empty() {
        check("endpoints", Err("name at least one etcd endpoint, e.g. [\"http://127.0.0.1:2379\"]".into()));
    }
    let endpoints: Vec<String> =
        f.endpoints.iter().enumerate().filter_map(|(i, e)| check(&format!("endpoints[{i}]"), endpoint(e))).collect();
    let prefix = check("prefix", prefix(f.prefix.as_deref().unwrap_or("/hiatus")));
    let node = match &f.node {
        Some(n) => check("node", node(n)),
        None => Some(host_name()),
    };
    let mut duration = |key: &str, text: Option<&str>, default: Duration, max: u64| match text {
        None => Some(default),
        Some(t) => super::gateway::bounded_duration(t, false, max)
            .map_err(|e| report.error(file, format!("cluster.{key}"), e))
            .ok(),
    };
    let timeout = duration("timeout", f.timeout.as_deref(), Duration::from_secs(2), 60);
    let retry_max = duration("retry_max", f.retry_max.as_deref(), Duration::from_secs(5), 300);
    if report.errors.len() > before {
        return None;
    }
    Some(ClusterSettings { endpoints, prefix: prefix?, node: node?, timeout: timeout?, retry_max: retry_max? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<ClusterSettings, Vec<String>> {
        let f: FileCluster = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut report = Report::default();
        settings(&f, "main.toml", &mut report).ok_or_else(|| report.errors.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn a_cluster_section_is_read_with_defaults() {
        let s = check("endpoints = [\"http://127.0.0.1:2379\", \"http://10.0.0.2:2379/\"]\nnode = \"edge-1\"")
            .expect("valid");
        assert_eq!(s.endpoints, ["http://127.0.0.1:2379", "http://10.0.0.2:2379"]);
        assert_eq!((s.prefix.as_str(), s.node.as_str()), ("/hiatus", "edge-1"));
        assert_eq!((s.timeout, s.retry_max), (Duration::from_secs(2), Duration::from_secs(5)));
        let s = check("endpoints = [\"http://e:1\"]\nprefix = \"/h/prod/\"\ntimeout = \"500ms\"").expect("valid");
        assert_eq!((s.prefix.as_str(), s.timeout), ("/h/prod", Duration::from_millis(500)));
    }

    #[test]
    fn every_bad_key_is_named() {
        let cases = [
            ("endpoints = []", "cluster.endpoints"),
            ("endpoints = [\"https://e:2379\"]", "cluster.endpoints[0]"),
            ("endpoints = [\"http://e\"]", "cluster.endpoints[0]"),
            ("endpoints = [\"http://e:1/v3\"]", "cluster.endpoints[0]"),
            ("endpoints = [\"http://e:1\"]\nprefix = \"hiatus\"", "cluster.prefix"),
            ("endpoints = [\"http://e:1\"]\nprefix = \"/a//b\"", "cluster.prefix"),
            ("endpoints = [\"http://e:1\"]\nnode = \"a b\"", "cluster.node"),
            ("endpoints = [\"http://e:1\"]\ntimeout = \"0s\"", "cluster.timeout"),
            ("endpoints = [\"http://e:1\"]\nretry_max = \"1 hour\"", "cluster.retry_max"),
        ];
        for (text, key) in cases {
            let errors = check(text).expect_err(text);
            assert!(errors.iter().any(|e| e.contains(key)), "{text}: {errors:?}");
        }
    }
}
