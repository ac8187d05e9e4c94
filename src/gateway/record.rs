//! Recording a finished request, whichever lane served it: the shared state of all requests
//! ([`Gateway`]: the snapshot's `ArcSwap`, the clock, request ids, metrics, access log, drain) and
//! [`Gateway::record`], the one place a request is counted and logged ([`Finished`]).
//!
//! A path that carries the bypass secret (`/.hiatus/bypass/<secret>`, in any spelling) is
//! logged redacted: the secret never reaches a log line or a metric; so are the values of query
//! parameters named like secrets (`telemetry::redact`). Cookies and `Authorization` are never
//! read for a log line.

use super::bypass::BYPASS_PATH;
use super::drain::Drain;
use super::statuscache::StatusCache;

use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::pages::Failure;
use crate::schedule::Verdict;
use crate::telemetry::accesslog::{AccessLog, Entry};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::ratelimit::Limiter;
use crate::telemetry::Outcome;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The gateway service: shared state of all requests.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
    ids: Arc<RequestIds>,
    pub metrics: Option<Arc<Metrics>>,
    pub access_log: Option<AccessLog>,
    /// Open client connections, and the end of a graceful stop's grace period.
    pub drain: Arc<Drain>,
    /// A log line per upstream address at most every [`UPSTREAM_ERRORS_EVERY`].
    upstream_errors: Arc<Limiter<SocketAddr>>,
    /// The status host's answers, rendered once per generation, minute, language and tenant.
    pub status_cache: Arc<StatusCache>,
    /// ACME's challenges and issued certificates (`crate::acme`), shared with its manager.
    pub acme: Arc<crate::acme::Acme>,
    /// TLS handshakes by result, for the metrics.
    pub handshakes: Arc<crate::tls::Handshakes>,
}

/// How often a failing upstream gets a log line at most.
pub const UPSTREAM_ERRORS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug)]
struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl Gateway {
    pub fn new(current: Arc<ArcSwap<Compiled>>, clock: Clock) -> Gateway {
        // Distinct per process start so ids from restarts do not repeat.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let prefix = seed ^ std::process::id().rotate_left(16);
        Gateway {
            current,
            clock,
            ids: Arc::new(RequestIds { prefix, counter: AtomicU64::new(0) }),
            metrics: None,
            access_log: None,
            drain: Drain::new(),
            upstream_errors: Arc::new(Limiter::new(UPSTREAM_ERRORS_EVERY)),
            status_cache: Arc::new(StatusCache::default()),
            acme: crate::acme::Acme::new(),
            handshakes: Arc::default(),
        }
    }

    /// Logs an upstream's failure: at most a line per upstream every
    /// [`UPSTREAM_ERRORS_EVERY`], with the failures kept quiet since the last one and the
    /// system's error. Nothing is formatted, nor the limiter asked, when warnings are not
    /// logged.
    pub fn upstream_failed(
        &self,
        compiled: &Compiled,
        tenant: Option<u32>,
        addr: SocketAddr,
        failure: Failure,
        why: &str,
        os: Option<i32>,
    ) {
        if !log::log_enabled!(log::Level::Warn) {
            return;
        }
        let Some(quiet) = self.upstream_errors.admit(&addr, Instant::now()) else { return };
        let tenant = tenant.and_then(|t| compiled.config().tenants.get(t as usize)).map_or("-", |t| t.id.as_str());
        let os = os.map(|code| format!(": {}", std::io::Error::from_raw_os_error(code))).unwrap_or_default();
        let more = match quiet {
            0 => String::new(),
            n => format!(" ({n} more failure(s) of this upstream since its last line)"),
        };
        log::warn!("upstream {addr} of tenant {tenant}: {} ({why}{os}){more}", failure.code());
    }

    /// Counts requests into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Gateway {
        self.metrics = Some(metrics);
        self
    }

    /// Writes one access log line per request.
    pub fn with_access_log(mut self, log: Option<AccessLog>) -> Gateway {
        self.access_log = log;
        self
    }

    pub(crate) fn next_id(&self) -> RequestId {
        RequestId::new(self.ids.prefix, self.ids.counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// A request's id: 8 hex digits that differ per process start, then 10 of a counter. Kept inline
/// (no allocation per request); reads as `&str` wherever one is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 18]);

impl RequestId {
    pub fn new(prefix: u32, counter: u64) -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // 72 bits: 32 of the prefix, 40 of the counter.
        let digits = (u128::from(prefix) << 40) | u128::from(counter & 0xff_ffff_ffff);
        let mut out = [0u8; 18];
        for (i, d) in out.iter_mut().enumerate() {
            *d = HEX[((digits >> (4 * (17 - i))) & 0xf) as usize];
        }
        RequestId(out)
    }

    pub fn as_str(&self) -> &str {
        // Only hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id's bytes, for a header line: no UTF-8 check (`as_str` makes one each time).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request id as a header value marked never to be indexed: HPACK (h2) would otherwise
/// put every response's unique id into the connection's table, evicting the entries that do
/// repeat, and search the table on every response. The h2c load benchmark spent a tenth of its
/// user time there.
pub(crate) fn request_id_value(id: &RequestId) -> http::HeaderValue {
    let mut v = http::HeaderValue::from_bytes(id.bytes()).unwrap_or(http::HeaderValue::from_static("-"));
    v.set_sensitive(true);
    v
}

/// A finished request as metrics and the access log see it, whichever lane served it.
#[derive(Debug)]
pub struct Finished<'a> {
    pub compiled: &'a Compiled,
    pub tenant: Option<u32>,
    pub verdict: Option<Verdict>,
    pub outcome: Outcome,
    pub upstream: Option<SocketAddr>,
    pub upstream_time: Option<std::time::Duration>,
    pub started: Instant,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// Without its `?`.
    pub query: Option<&'a str>,
    /// 0 when no response was written.
    pub status: u16,
    pub request_id: &'a RequestId,
    /// The client as the trusted proxies say it is.
    pub client: Option<std::net::IpAddr>,
    pub protocol: &'a str,
    pub user_agent: Option<&'a str>,
    /// Body bytes written to the client (and carried down by an upgraded connection).
    pub sent: u64,
    /// Body bytes read from the client (and carried up by an upgraded connection).
    pub received: u64,
}

impl Gateway {
    /// Counts a finished request into the metrics and writes its access log line.
    pub fn record(&self, f: &Finished<'_>) {
        let config = f.compiled.config();
        // The tenant's id only when it is needed (its first count in a configuration, a log line):
        // with many tenants, reading its configuration is a cache miss on every request.
        let tenant = || f.tenant.and_then(|t| config.tenants.get(t as usize)).map(|t| t.id.as_str());
        let label = || tenant().unwrap_or("-");
        if let Some(m) = &self.metrics {
            // The tenant's counters hang off its runtime, which the request has just used (a
            // cache line already at hand); the first request of each configuration finds them.
            let counts = match f.tenant {
                None => Some(&*m.unrouted),
                Some(t) => {
                    f.compiled.tenants.get(t as usize).map(|r| &**r.counts.get_or_init(|| m.tenants.of(label())))
                }
            };
            if let Some(counts) = counts {
                counts.request(f.outcome.index(), f.status, f.received, f.sent);
                if let Some(d) = f.upstream_time {
                    counts.upstream_time(d);
                }
                if let Outcome::UpstreamError(failure) = f.outcome {
                    counts.upstream_error(Failure::ALL.iter().position(|x| *x == failure).unwrap_or(0));
                }
            }
            if let Some(d) = f.upstream_time {
                m.upstream_seconds.observe(d.as_secs_f64());
            }
            m.durations.observe(f.outcome.index(), f.started.elapsed());
        }
        if let Some(log) = &self.access_log {
            let window =
                f.verdict.and_then(|v| v.window).and_then(|w| f.compiled.engine.window(w)).map(|w| w.id.as_str());
            let path = redacted(f.path);
            let shown = match f.query {
                None => path,
                Some(q) => format!("{path}?{}", crate::telemetry::redact::query(q)).into(),
            };
            let entry = Entry {
                time: chrono::Utc::now(),
                client: f.client,
                tenant: tenant(),
                host: f.host,
                method: f.method,
                path: &shown,
                protocol: f.protocol,
                status: f.status,
                bytes: f.sent,
                decision: f.outcome.label(),
                window,
                upstream: f.upstream,
                upstream_ms: f.upstream_time.map(|d| d.as_secs_f64() * 1000.0),
                total_ms: f.started.elapsed().as_secs_f64() * 1000.0,
                user_agent: f.user_agent,
                request_id: f.request_id.as_str(),
            };
            if !log.log(&entry) {
                if let Some(m) = &self.metrics {
                    m.access_log_dropped.inc();
                }
            }
        }
    }
}

/// `path` as a log may show it: a bypass path's secret replaced (in whatever spelling the
/// gateway would have read it as one).
pub fn redacted(path: &str) -> std::borrow::Cow<'_, str> {
    let canonical = super::path::canonical(path).unwrap_or(std::borrow::Cow::Borrowed(path));
    if canonical.starts_with(BYPASS_PATH) || path.contains("bypass") && path.contains("hiatus") {
        let mut shown = BYPASS_PATH.to_string();
        shown.push_str("[redacted]");
        return shown.into();
    }
    std::borrow::Cow::Borrowed(path)
}

#[cfg(test)]
mod tests {
    use super::{redacted, request_id_value, RequestId};
    use crate::gateway::respond;
    use crate::gateway::respond::{Answer, Marker};
    use crate::telemetry::Outcome;

    #[test]
    fn bypass_secrets_never_reach_a_log_line() {
        for path in
            ["/.hiatus/bypass/s3cr3t-value-0123", "/%2Ehiatus/bypass/s3cr3t-value-0123", "//.hiatus/bypass/s3cr3t"]
        {
            assert_eq!(redacted(path), "/.hiatus/bypass/[redacted]", "{path}");
        }
        assert_eq!(redacted("/app/x"), "/app/x");
    }

    #[test]
    fn request_ids_are_never_indexed_by_hpack() {
        let id = RequestId::new(0xabcd, 42);
        let v = request_id_value(&id);
        assert_eq!((v.to_str().ok(), v.is_sensitive()), (Some(id.as_str()), true));
        let a = Answer::page(
            503,
            Outcome::Maintenance,
            Marker::Maintenance,
            0,
            crate::config::Language::En,
            bytes::Bytes::new(),
        );
        let h = respond::header(&a, id.bytes(), Some(1), None).unwrap_or_else(|e| panic!("{e}"));
        let own = h.headers.get(respond::X_REQUEST_ID).map(|v| (v.to_str().ok(), v.is_sensitive()));
        assert_eq!(own, Some((Some(id.as_str()), true)));
        assert!(!h.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.is_sensitive()));
    }

    #[test]
    fn request_ids_are_the_prefix_then_ten_digits_of_the_counter() {
        for (prefix, counter) in [(0, 0), (0xdead_beef, 1), (u32::MAX, u64::MAX), (0x0102_0304, 0x12_3456_789a)] {
            let id = RequestId::new(prefix, counter);
            assert_eq!(id.as_str(), format!("{:08x}{:010x}", prefix, counter & 0xff_ffff_ffff));
            assert_eq!(id.to_string(), id.as_str());
        }
        assert_ne!(RequestId::new(7, 1), RequestId::new(7, 2));
    }
}
