//! The `health` key: active health checks of a tenant's upstreams, as written and as validated.
//!
//! Owns [`FileHealth`] (the table as written, in `[gateway]` and in `[[tenants]]`),
//! [`HealthCheck`] / [`HealthProbe`] (what the prober runs) and their validation with key paths.
//! A tenant's table is laid over `[gateway] health` key by key, so a default can set the
//! timing once and a tenant only its `path`. Nothing here probes anything (`crate::health`).
//!
//! ```toml
//! health = { path = "/healthz", expect = 200, interval = "10s", timeout = "2s", rise = 2, fall = 3, jitter = "1s" }
//! health = { tcp = true, interval = "5s" }
//! ```

use super::diagnostic::Report;
use super::duration::parse as duration;
use serde::Deserialize;
use std::time::Duration;

/// `health = { ... }` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHealth {
    /// HTTP check: the path to GET.
    pub path: Option<String>,
    /// HTTP check: the status that means healthy (default 200).
    pub expect: Option<u16>,
    /// TCP check: a successful connect means healthy.
    pub tcp: Option<bool>,
    /// `Host` of the HTTP probe; default: the tenant's first host.
    pub host: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub jitter: Option<String>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
}

/// What one probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthProbe {
    /// Connect, nothing more.
    Tcp,
    /// `GET path` (HTTP/1.1, `Connection: close`); healthy when the status is `expect`.
    Http { path: String, expect: u16 },
}

/// A validated health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub probe: HealthProbe,
    /// `Host` of HTTP probes; `None`: the tenant's first host.
    pub host: Option<String>,
    /// Time between the starts of two probes of one upstream.
    pub interval: Duration,
    /// Longest a probe may take (connect and answer); at most `interval`.
    pub timeout: Duration,
    /// Up to this much is added to each interval, so upstreams are not probed in lockstep.
    pub jitter: Duration,
    /// Passed probes in a row that make an unhealthy upstream healthy.
    pub rise: u32,
    /// Failed probes in a row that make a healthy upstream unhealthy.
    pub fall: u32,
}

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(2);
const RISE: u32 = 2;
const FALL: u32 = 3;
/// More would only delay detection; a typo like `fall = 3000` is caught.
const MAX_THRESHOLD: u32 = 100;
/// The longest `interval` (and so `timeout`): an upstream probed less often is not watched.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Validates a `health` table at `path`, laid over `inherit` (the gateway's default) key by
/// key. Reports every error in the table; `None` when there was one.
pub fn health(
    h: &FileHealth,
    inherit: Option<&HealthCheck>,
    file: &str,
    path: &str,
    report: &mut Report,
) -> Option<HealthCheck> {
    let before = report.errors.len();
    let key = |k: &str| format!("{path}.{k}");
    let mut err = |k: &str, m: String| report.error(file, key(k), m);

    let expect = match h.expect {
        Some(e) if !(100..=599).contains(&e) => {
            err("expect", format!("{e} is not an HTTP status (100-599)"));
            None
        }
        e => e,
    };
    let probe = match (h.tcp, &h.path) {
        (Some(true), Some(_)) => {
            err("tcp", "give either `tcp = true` (TCP connect) or `path` (HTTP GET), not both".to_string());
            None
        }
        (Some(true), None) => {
            if expect.is_some() {
                err("expect", "a TCP check has no status; `expect` belongs to an HTTP check (`path`)".to_string());
            }
            Some(HealthProbe::Tcp)
        }
        (_, Some(p)) => match request_path(p) {
            Ok(p) => {
                let inherited = match inherit.map(|i| &i.probe) {
                    Some(HealthProbe::Http { expect, .. }) => Some(*expect),
                    _ => None,
                };
                Some(HealthProbe::Http { path: p, expect: expect.or(inherited).unwrap_or(200) })
            }
            Err(e) => {
                err("path", e);
                None
            }
        },
        (tcp, None) => match inherit.map(|i| &i.probe) {
            Some(HealthProbe::Http { path, expect: inherited }) if tcp.is_none() => {
                Some(HealthProbe::Http { path: path.clone(), expect: expect.unwrap_or(*inherited) })
            }
            Some(HealthProbe::Tcp) if tcp.is_none() => {
                if expect.is_some() {
                    err(
                        "expect",
                        "the inherited check is a TCP check, which has no status; give `path` too".to_string(),
                    );
                }
                Some(HealthProbe::Tcp)
            }
            _ => {
                let at = if tcp.is_some() { key("tcp") } else { path.to_string() };
                report.error(
                    file,
                    at,
                    "say what to check: `path = \"/healthz\"` (HTTP GET) or `tcp = true` (TCP connect)",
                );
                None
            }
        },
    };

    let host = match &h.host {
        Some(text) => {
            let ok = crate::hosts::HostPattern::parse(text).is_ok_and(|p| p.is_exact());
            if !ok {
                report.error(file, key("host"), format!("{text:?} is not a host name like \"app.example.com\""));
            }
            Some(text.trim_end_matches('.').to_ascii_lowercase())
        }
        None => inherit.and_then(|i| i.host.clone()),
    };
    let positive = |report: &mut Report, k: &str, text: &Option<String>| -> Option<Duration> {
        let d = text.as_ref().map(|t| duration(t))?;
        match d {
            Ok(d) if d > MAX_INTERVAL => {
                report.error(file, key(k), format!("{d:?} is longer than 1h, the most this key takes"));
                None
            }
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                report.error(file, key(k), "must be longer than zero");
                None
            }
            Err(e) => {
                report.error(file, key(k), e);
                None
            }
        }
    };
    let own_interval = positive(report, "interval", &h.interval);
    let interval = own_interval.or(inherit.map(|i| i.interval)).unwrap_or(INTERVAL);
    // An unset timeout never exceeds the interval: a tenant that only shortens the interval
    // should not have to repeat the timeout too.
    let timeout = match positive(report, "timeout", &h.timeout) {
        Some(t) if t > interval => {
            report.error(
                file,
                key("timeout"),
                format!("{t:?} is longer than the interval {interval:?}; a probe must end before the next one"),
            );
            t
        }
        Some(t) => t,
        None => inherit.map_or(TIMEOUT, |i| i.timeout).min(interval),
    };
    let jitter = match &h.jitter {
        Some(text) => match duration(text) {
            Ok(j) if j >= interval => {
                report.error(file, key("jitter"), format!("{j:?} must be shorter than the interval {interval:?}"));
                j
            }
            Ok(j) => j,
            Err(e) => {
                report.error(file, key("jitter"), e);
                Duration::ZERO
            }
        },
        // A tenant's own interval gets a jitter to match, not the default's.
        None if own_interval.is_some() => interval / 10,
        None => inherit.map_or(interval / 10, |i| i.jitter.min(interval / 2)),
    };
    let mut threshold = |k: &str, own: Option<u32>, inherited: Option<u32>, default: u32| match own {
        Some(n) if n == 0 || n > MAX_THRESHOLD => {
            report.error(file, key(k), format!("{n}: use 1 to {MAX_THRESHOLD} probes in a row"));
            default
        }
        Some(n) => n,
        None => inherited.unwrap_or(default),
    };
    let rise = threshold("rise", h.rise, inherit.map(|i| i.rise), RISE);
    let fall = threshold("fall", h.fall, inherit.map(|i| i.fall), FALL);
    if report.errors.len() > before {
        return None;
    }
    Some(HealthCheck { probe: probe?, host, interval, timeout, jitter, rise, fall })
}

/// The path of an HTTP probe: it goes into a request line as written, so only visible ASCII.
fn request_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("{p:?}: a path starts with '/'"));
    }
    if !p.bytes().all(|b| b.is_ascii_graphic()) || p.contains('#') {
        return Err(format!("{p:?}: use a plain path (visible ASCII, no spaces, no '#'), e.g. \"/healthz\""));
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FileHealth {
        let value: toml::Value = toml::from_str(text).expect("valid TOML");
        FileHealth::deserialize(value).expect("a health table")
    }

    /// Validates `text` over `inherit`; `Ok(check)` or `Err(key paths with errors)`.
    fn check(text: &str, inherit: Option<&HealthCheck>) -> Result<HealthCheck, Vec<String>> {
        let mut report = Report::default();
        health(&parse(text), inherit, "t.toml", "h", &mut report)
            .ok_or_else(|| report.errors.iter().map(|e| e.path.clone()).collect())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn defaults_and_kinds() {
        let http = check("path = \"/healthz\"", None).expect("valid");
        assert_eq!(http.probe, HealthProbe::Http { path: "/healthz".into(), expect: 200 });
        assert_eq!(
            (http.interval, http.timeout, http.jitter, http.rise, http.fall),
            (ms(10_000), ms(2000), ms(1000), 2, 3)
        );
        let tcp = check("tcp = true\ninterval = \"5s\"\nrise = 1\nfall = 1", None).expect("valid");
        assert_eq!((tcp.probe, tcp.interval, tcp.timeout, tcp.jitter), (HealthProbe::Tcp, ms(5000), ms(2000), ms(500)));
        let full = "path = \"/h\"\nexpect = 204\ninterval = \"100ms\"\ntimeout = \"50ms\"\njitter = \"0s\"\nrise = 4\nfall = 5\nhost = \"App.Example.com\"";
        let c = check(full, None).expect("valid");
        assert_eq!(c.probe, HealthProbe::Http { path: "/h".into(), expect: 204 });
        assert_eq!((c.interval, c.timeout, c.jitter, c.rise, c.fall), (ms(100), ms(50), ms(0), 4, 5));
        assert_eq!(c.host.as_deref(), Some("app.example.com"));
    }

    #[test]
    fn a_tenant_table_is_laid_over_the_default() {
        let default = check("path = \"/healthz\"\nexpect = 204\nfall = 5\nhost = \"a.example\"", None).expect("valid");
        let c = check("interval = \"100ms\"", Some(&default)).expect("valid");
        assert_eq!(c.probe, HealthProbe::Http { path: "/healthz".into(), expect: 204 });
        assert_eq!((c.interval, c.timeout, c.jitter, c.fall), (ms(100), ms(100), ms(10), 5));
        assert_eq!(c.host.as_deref(), Some("a.example"));
        assert_eq!(check("tcp = true", Some(&default)).map(|c| c.probe), Ok(HealthProbe::Tcp));
        assert_eq!(
            check("path = \"/ping\"", Some(&default)).map(|c| c.probe),
            Ok(HealthProbe::Http { path: "/ping".into(), expect: 204 })
        );
    }

    #[test]
    fn errors_carry_their_key_paths() {
        let cases: [(&str, &[&str]); 12] = [
            ("interval = \"5s\"", &["h"]),
            ("tcp = false", &["h.tcp"]),
            ("tcp = true\npath = \"/h\"", &["h.tcp"]),
            ("tcp = true\nexpect = 200", &["h.expect"]),
            ("path = \"healthz\"", &["h.path"]),
            ("path = \"/a b\"", &["h.path"]),
            ("path = \"/h\"\nexpect = 99", &["h.expect"]),
            ("path = \"/h\"\ninterval = \"0s\"\nrise = 0\nfall = 101", &["h.interval", "h.rise", "h.fall"]),
            ("path = \"/h\"\ninterval = \"1s\"\ntimeout = \"2s\"", &["h.timeout"]),
            ("path = \"/h\"\ninterval = \"1s\"\njitter = \"1s\"", &["h.jitter"]),
            ("path = \"/h\"\ninterval = \"2h\"", &["h.interval"]),
            ("path = \"/h\"\nhost = \"*.example.com\"\ntimeout = \"soon\"", &["h.host", "h.timeout"]),
        ];
        for (text, paths) in cases {
            assert_eq!(check(text, None).err(), Some(paths.iter().map(|p| p.to_string()).collect()), "{text}");
        }
    }
}
