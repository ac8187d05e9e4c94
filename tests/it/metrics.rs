//! `/metrics` scraped from the admin listener of a gateway served in process, after known
//! traffic of every decision on both lanes, and parsed (a small parser of the text exposition
//! format, below): requests by tenant, decision and status class, the duration histograms,
//! body bytes, open connections by lane, the window gauges as the manual clock moves, the
//! reload gauges after a good and a bad reload, the process's figures, and `HEAD /metrics`.

use crate::control::TempDir;
use crate::gateway_support::{bounded, dead_address, Behaviour, Client, H2Client, Origin};
use arc_swap::ArcSwap;
use hiatus::clock::Clock;
use hiatus::compiled::Compiled;
use hiatus::control::admin::Admin;
use hiatus::control::reload::Reloader;
use hiatus::gateway::{server, Gateway};
use hiatus::telemetry::metrics::Metrics;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_780_000_000; // 2026-05-28T20:26:40Z
/// `w-night`: 2026-05-29 00:00 to 02:00 UTC.
const NIGHT_START: i64 = 1_780_012_800;
const NIGHT_END: i64 = NIGHT_START + 7_200;

/// `a` and `b` on the origin (`b` in an open-ended window), `c` on a dead address, `w` with a
/// night's window after `NOW`.
fn config(origin: SocketAddr, extra: &str) -> String {
    let tenant = |id: &str, upstream: SocketAddr| {
        format!("[[tenants]]\nid = \"{id}\"\nhosts = [\"{id}.test\"]\nupstreams = [\"{upstream}\"]\n\n")
    };
    format!(
        "[defaults]\nzone = \"UTC\"\n\n{}{}{}{}\
         [[windows]]\nid = \"b-down\"\nscope = {{ tenants = [\"b\"] }}\nonce = {{ start = \"2020-01-01T00:00\" }}\n\n\
         [[windows]]\nid = \"w-night\"\nscope = {{ tenants = [\"w\"] }}\n\
         once = {{ start = \"2026-05-29T00:00\", end = \"2026-05-29T02:00\" }}\n\n{extra}",
        tenant("a", origin),
        tenant("b", origin),
        tenant("c", dead_address()),
        tenant("w", origin),
    )
}

/// A gateway with metrics and its admin listener, on one manual clock.
struct Scraped {
    addr: SocketAddr,
    admin: SocketAddr,
    clock: Clock,
    reloader: Arc<Reloader>,
    dir: TempDir,
    path: PathBuf,
    origin: Origin,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Scraped {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Scraped {
    async fn start(name: &str) -> Scraped {
        let origin = Origin::start("o", Behaviour::Ok).await;
        let dir = TempDir::new(name);
        let path = dir.write("hiatus.toml", &config(origin.addr, ""));
        let loaded = hiatus::config::load(&path).unwrap_or_else(|r| panic!("config: {r}"));
        let compiled = Compiled::build(loaded.config, NOW, 1).expect("compile");
        let current = Arc::new(ArcSwap::from_pointee(compiled));
        let clock = Clock::manual(NOW);
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let reloader = Arc::new(Reloader::new(path.clone(), current.clone(), clock.clone(), Some(metrics.clone())));
        let gateway = Gateway::new(current, clock.clone()).with_metrics(metrics.clone());
        hiatus::control::scrape::register(&metrics, reloader.clone(), clock.clone(), Some(gateway.drain.clone()))
            .expect("register the scrape's gauges");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(server::serve(listener, gateway, shutdown));
        let admin = Arc::new(Admin {
            reloader: reloader.clone(),
            metrics: Some(metrics),
            clock: clock.clone(),
            token: None,
            ready: AtomicBool::new(true),
            limits: hiatus::control::http::Limits::default(),
            acme: None,
            sections: Vec::new(),
            idempotency: Default::default(),
            operator_store: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let admin_at = listener.local_addr().expect("addr");
        tokio::spawn(admin.serve(listener));
        Scraped { addr, admin: admin_at, clock, reloader, dir, path, origin, stop }
    }

    async fn scrape(&self) -> Exposition {
        let r = Client::connect(self.admin, None).await.request("GET", "admin", "/metrics", &[]).await;
        assert_eq!((r.status, r.header("content-type")), (200, Some("text/plain; version=0.0.4")));
        Exposition::parse(&r.text())
    }

    async fn reload(&self) -> Result<u64, Vec<String>> {
        let reloader = self.reloader.clone();
        tokio::task::spawn_blocking(move || reloader.reload("test")).await.expect("join")
    }
}

/// The samples of a text exposition, and each family's `# TYPE`.
#[derive(Debug)]
struct Exposition {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: HashMap<String, String>,
    text: String,
}

impl Exposition {
    /// Parses the format strictly enough that a malformed line fails the test.
    fn parse(text: &str) -> Exposition {
        let mut samples = Vec::new();
        let mut types = HashMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let (name, kind) = t.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    (name, labels(rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"))))
                }
            };
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line:?}"
            );
            samples.push((name.to_string(), labels, value));
        }
        Exposition { samples, types, text: text.to_string() }
    }

    /// The sample of `name` with exactly these labels.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut found = self.samples.iter().filter(|(n, l, _)| n == name && *l == want);
        let first = found.next().map(|(_, _, v)| *v);
        assert!(found.next().is_none(), "{name} {labels:?} twice in\n{}", self.text);
        first
    }

    /// [`Exposition::get`], which must be there.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }

    /// The sum of `name`'s samples that have these labels (and any others).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }
}

/// `a="x",b="y\"z"` (the inside of the braces) as a map; escapes `\\`, `\"` and `\n`.
fn labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "a label value is quoted: {text:?}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("cut escape in {text:?}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unclosed label value in {text:?}"),
            }
        }
        out.insert(name, value);
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("{c:?} after a label value in {text:?}"),
        }
    }
    out
}

/// Scrapes until `done` accepts the exposition (connections close a moment after their
/// clients let go), for five seconds at most.
async fn scrape_until(gw: &Scraped, what: &str, done: impl Fn(&Exposition) -> bool) -> Exposition {
    bounded(what, async {
        loop {
            let e = gw.scrape().await;
            if done(&e) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn requests_are_counted_by_tenant_decision_and_status_class_on_both_lanes() {
    let gw = Scraped::start("metrics-requests").await;
    let mut client = Client::connect(gw.addr, None).await;
    let mut sent_a = 0;
    for _ in 0..3 {
        let r = client.request("GET", "a.test", "/", &[]).await;
        assert_eq!(r.status, 200);
        sent_a += r.body.len();
    }
    client.send_request("POST", "a.test", "/upload", &[], &[b'x'; 1000]).await;
    let r = client.response(false).await;
    assert_eq!(r.status, 200);
    sent_a += r.body.len();
    let mut sent_b = 0;
    for _ in 0..2 {
        let r = client.request("GET", "b.test", "/", &[]).await;
        assert_eq!(r.status, 503);
        sent_b += r.body.len();
    }
    assert_eq!(client.request("GET", "nobody.test", "/", &[]).await.status, 421);
    assert_eq!(Client::connect(gw.addr, None).await.request("GET", "c.test", "/", &[]).await.status, 502);
    let mut raw = Client::connect(gw.addr, None).await;
    raw.send(b"GET / HTTP/1.1\r\nHost: a.test\r\nno colon here\r\n\r\n").await;
    assert_eq!(raw.response(false).await.status, 400);
    let mut h2 = H2Client::connect(gw.addr).await;
    let r = h2.request("GET", "http://a.test/h2", &[]).await;
    assert_eq!(r.status, 200);
    sent_a += r.body.len();
    let r = h2.try_request("POST", "http://a.test/h2-upload", &[], Some(&[b'y'; 300])).await.expect("h2 upload");
    assert_eq!(r.status, 200);
    sent_a += r.body.len();

    // The keep-alive client and the h2c connection are open; the others close.
    let m = scrape_until(&gw, "the closed connections to be gone", |m| {
        m.get("hiatus_open_connections", &[("protocol", "http1")]) == Some(1.0)
    })
    .await;
    assert_eq!(m.value("hiatus_open_connections", &[("protocol", "h2c")]), 1.0);
    let requests = |decision: &str, class: &str, tenant: &str| {
        m.get("hiatus_requests_total", &[("decision", decision), ("status_class", class), ("tenant", tenant)])
    };
    assert_eq!(requests("proxied", "2xx", "a"), Some(6.0), "four on HTTP/1.1, two on h2c");
    assert_eq!(requests("maintenance", "5xx", "b"), Some(2.0));
    assert_eq!(requests("upstream_error", "5xx", "c"), Some(1.0));
    assert_eq!(requests("unknown_host", "4xx", "-"), Some(1.0));
    assert_eq!(requests("bad_request", "4xx", "-"), Some(1.0));
    assert_eq!(m.sum("hiatus_requests_total", &[]), 11.0, "nothing else was counted");
    assert_eq!(m.value("hiatus_request_body_bytes_total", &[("tenant", "a")]), 1300.0);
    assert_eq!(m.value("hiatus_response_body_bytes_total", &[("tenant", "a")]), sent_a as f64);
    assert_eq!(m.value("hiatus_response_body_bytes_total", &[("tenant", "b")]), sent_b as f64);
    assert_eq!(m.get("hiatus_request_body_bytes_total", &[("tenant", "b")]), None, "no zero counters");
    // A histogram per decision, each counting what its decision counted.
    assert_eq!(m.types.get("hiatus_request_duration_seconds").map(String::as_str), Some("histogram"));
    for decision in ["proxied", "maintenance", "upstream_error", "unknown_host", "bad_request", "bypass", "gateway"] {
        let count = m.value("hiatus_request_duration_seconds_count", &[("decision", decision)]);
        assert_eq!(count, m.sum("hiatus_requests_total", &[("decision", decision)]), "{decision}");
        let inf = m.value("hiatus_request_duration_seconds_bucket", &[("decision", decision), ("le", "+Inf")]);
        assert_eq!(inf, count, "{decision}");
    }
    let sum = m.value("hiatus_request_duration_seconds_sum", &[("decision", "proxied")]);
    assert!(sum > 0.0 && sum < 30.0, "{sum}");

    drop(h2);
    scrape_until(&gw, "the h2c connection to close", |m| {
        m.get("hiatus_open_connections", &[("protocol", "h2c")]) == Some(0.0)
    })
    .await;
    drop(client);
    scrape_until(&gw, "the last connection to close", |m| {
        m.get("hiatus_open_connections", &[("protocol", "http1")]) == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn window_gauges_follow_the_clock() {
    let gw = Scraped::start("metrics-windows").await;
    let window = |m: &Exposition, tenant: &str| {
        (
            m.get("hiatus_window_active", &[("tenant", tenant)]),
            m.get("hiatus_window_end_timestamp_seconds", &[("tenant", tenant)]),
            m.get("hiatus_window_next_start_timestamp_seconds", &[("tenant", tenant)]),
        )
    };
    let before = gw.scrape().await;
    assert_eq!(window(&before, "w"), (Some(0.0), None, Some(NIGHT_START as f64)), "before the night");
    assert_eq!(window(&before, "b"), (Some(1.0), None, None), "an open-ended window: no end");
    assert_eq!(window(&before, "a"), (Some(0.0), None, None), "no window ahead");
    gw.clock.set(NIGHT_START + 60);
    let during = gw.scrape().await;
    assert_eq!(window(&during, "w"), (Some(1.0), Some(NIGHT_END as f64), None), "in the night");
    gw.clock.set(NIGHT_END);
    assert_eq!(window(&gw.scrape().await, "w"), (Some(0.0), None, None), "over, none ahead");
    assert_eq!(before.types.get("hiatus_window_active").map(String::as_str), Some("gauge"));
}

#[tokio::test]
async fn reload_gauges_after_a_good_and_a_bad_reload() {
    let gw = Scraped::start("metrics-reloads").await;
    let reload = |m: &Exposition| {
        (
            m.value("hiatus_config_generation", &[]),
            m.value("hiatus_config_last_reload_success_timestamp_seconds", &[]),
            m.value("hiatus_config_last_reload_successful", &[]),
            m.value("hiatus_config_reloads_total", &[("result", "ok")]),
            m.value("hiatus_config_reloads_total", &[("result", "error")]),
        )
    };
    assert_eq!(reload(&gw.scrape().await), (1.0, NOW as f64, 1.0, 0.0, 0.0), "the start counts as loaded");
    gw.clock.advance(60);
    gw.dir.write(
        "hiatus.toml",
        &config(
            gw.origin.addr,
            &format!("[[tenants]]\nid = \"d\"\nhosts = [\"d.test\"]\nupstreams = [\"{}\"]\n", gw.origin.addr),
        ),
    );
    assert_eq!(gw.reload().await, Ok(2));
    let good = gw.scrape().await;
    assert_eq!(reload(&good), (2.0, (NOW + 60) as f64, 1.0, 1.0, 0.0));
    assert_eq!(good.get("hiatus_window_active", &[("tenant", "d")]), Some(0.0), "the new tenant's gauges");
    gw.clock.advance(60);
    std::fs::write(&gw.path, "[[windows]]\nid = 1\n").expect("write");
    assert!(gw.reload().await.is_err());
    assert_eq!(reload(&gw.scrape().await), (2.0, (NOW + 60) as f64, 0.0, 1.0, 1.0), "refused: the time stays");
}

#[tokio::test]
async fn process_figures_are_sane_and_head_has_no_body() {
    let gw = Scraped::start("metrics-process").await;
    let m = gw.scrape().await;
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let start = m.value("process_start_time_seconds", &[]);
    assert!(start <= wall + 1.0 && start > wall - 86_400.0, "this test process started today: {start}");
    assert!(m.value("process_resident_memory_bytes", &[]) > 1e6);
    assert!(m.value("process_virtual_memory_bytes", &[]) >= m.value("process_resident_memory_bytes", &[]));
    let (open, max) = (m.value("process_open_fds", &[]), m.value("process_max_fds", &[]));
    assert!(open >= 3.0 && open <= max, "{open} of {max}");
    assert!(m.value("process_threads", &[]) >= 2.0);
    assert!(m.value("process_cpu_seconds_total", &[]) > 0.0);
    assert_eq!(m.types.get("process_cpu_seconds_total").map(String::as_str), Some("counter"));
    assert_eq!(m.value("hiatus_incidents_open", &[]), 0.0);

    // HEAD: the head of a GET, no body; the next answer on the connection is whole.
    let mut admin = Client::connect(gw.admin, None).await;
    let head = admin.request("HEAD", "admin", "/metrics", &[]).await;
    let length: usize = head.header("content-length").and_then(|l| l.parse().ok()).unwrap_or_default();
    assert_eq!((head.status, head.header("content-type")), (200, Some("text/plain; version=0.0.4")));
    assert!(length > 1000, "the length a GET would have: {length}");
    let get = admin.request("GET", "admin", "/healthz", &[]).await;
    assert_eq!((get.status, get.text().as_str()), (200, "ok\n"), "no body came after the HEAD's head");
}
