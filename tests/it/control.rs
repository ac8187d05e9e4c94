//! The control plane end to end: reloads under load, refused reloads, metrics after known
//! traffic. In process, with real sockets on loopback, real origins, config files on disk.

use crate::gateway_support::{bounded, dead_address, Behaviour, Client, Origin};
use arc_swap::ArcSwap;
use hiatus::clock::Clock;
use hiatus::compiled::Compiled;
use hiatus::config::gateway::{AccessLogTarget, LogFormat};
use hiatus::control::reload::Reloader;
use hiatus::gateway::{server, Gateway};
use hiatus::telemetry::accesslog::AccessLog;
use hiatus::telemetry::metrics::Metrics;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A fresh folder for one test's files, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hiatus-it-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write a config file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gateway loaded from a file, with a reloader and metrics, served in process.
struct Reloadable {
    addr: SocketAddr,
    reloader: Arc<Reloader>,
    metrics: Arc<Metrics>,
    drain: Arc<hiatus::gateway::drain::Drain>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Reloadable {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn start(path: &Path, now: i64) -> Reloadable {
    let loaded = hiatus::config::load(path).unwrap_or_else(|r| panic!("config: {r}"));
    let compiled = Compiled::build(loaded.config, now, 1).expect("compile");
    let current = Arc::new(ArcSwap::from_pointee(compiled));
    let clock = Clock::manual(now);
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let reloader = Arc::new(Reloader::new(path.to_path_buf(), current.clone(), clock.clone(), Some(metrics.clone())));
    let gateway = Gateway::new(current, clock).with_metrics(metrics.clone());
    let drain = gateway.drain.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(server::serve(listener, gateway, shutdown));
    Reloadable { addr, reloader, metrics, drain, stop }
}

const NOW: i64 = 1_780_000_000; // 2026-05-28

/// Clients sending requests to `hosts` in turn until stopped (for a minute at most), keeping
/// every response's (generation, status) and every failure: a broken connection, a response
/// without a generation, or one that `fits` does not accept.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(u64, u16)>>>,
    failures: Arc<Mutex<Vec<String>>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, hosts: Vec<String>, clients: usize, fits: fn(u16, &str) -> bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<(u64, u16)>>> = Arc::default();
        let failures: Arc<Mutex<Vec<String>>> = Arc::default();
        let clients = (0..clients)
            .map(|c| {
                let (stop, seen, failures, hosts) = (stop.clone(), seen.clone(), failures.clone(), hosts.clone());
                tokio::spawn(async move {
                    let mut client = Client::connect(addr, None).await;
                    // Bounded in time: a test stops its load long before.
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) || std::time::Instant::now() > deadline {
                            break;
                        }
                        let host = &hosts[(i + c) % hosts.len()];
                        client.send_request("GET", host, "/", &[], b"").await;
                        match client.try_response(false).await {
                            Ok(r) => {
                                let g = r.header("x-hiatus-generation").and_then(|g| g.parse::<u64>().ok());
                                match g {
                                    Some(g) if fits(r.status, r.marker()) => {
                                        seen.lock().expect("lock").push((g, r.status))
                                    }
                                    _ => failures.lock().expect("lock").push(format!(
                                        "{host}: {} {:?} generation {g:?}",
                                        r.status,
                                        r.header("x-hiatus")
                                    )),
                                }
                            }
                            Err(e) => {
                                failures.lock().expect("lock").push(e);
                                client = Client::connect(addr, None).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Load { stop, seen, failures, clients }
    }

    /// Waits (bounded) for `n` more responses, or a failure.
    async fn more(&self, n: usize) {
        let target = self.seen.lock().expect("lock").len() + n;
        bounded("responses", async {
            while self.seen.lock().expect("lock").len() < target && self.failures.lock().expect("lock").is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
        .await;
    }

    /// Stops the clients: every (generation, status) seen and every failure.
    async fn finish(self) -> (Vec<(u64, u16)>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.clients {
            bounded("client task", c).await.expect("client task");
        }
        let seen = self.seen.lock().expect("lock").clone();
        let failures = self.failures.lock().expect("lock").clone();
        (seen, failures)
    }
}

/// Tenant `a` on the origin; with `maintenance`, an open-ended window on `a`.
/// [`tenants_and_windows`] with `x-hiatus-generation` on the answers: the tests tell configurations apart by it.
fn config(origin: SocketAddr, maintenance: bool) -> String {
    format!("[gateway]\nexpose_generation = true\n\n{}", tenants_and_windows(origin, maintenance))
}

/// Three tenants (`b` in maintenance) and, when `maintenance`, a window for `a`; no `[gateway]`.
fn tenants_and_windows(origin: SocketAddr, maintenance: bool) -> String {
    let window = if maintenance {
        "[[windows]]\nid = \"switch\"\nscope = { tenants = [\"a\"] }\nonce = { start = \"2020-01-01T00:00\" }\n"
    } else {
        ""
    };
    format!(
        "[defaults]\nzone = \"UTC\"\n\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"{origin}\"]\n\n\
         [[tenants]]\nid = \"b\"\nhosts = [\"b.test\"]\nupstreams = [\"{origin}\"]\n\n\
         [[tenants]]\nid = \"c\"\nhosts = [\"c.test\"]\nupstreams = [\"{}\"]\n\n\
         [[windows]]\nid = \"b-down\"\nscope = {{ tenants = [\"b\"] }}\nonce = {{ start = \"2020-01-01T00:00\" }}\n\n{window}",
        dead_address()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reloads_under_load_each_response_from_exactly_one_generation() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-load");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let load = Load::start(gw.addr, vec!["a.test".to_string()], 4, |status, marker| {
        matches!((status, marker), (200, "proxied") | (503, "maintenance"))
    });
    for i in 1..=50 {
        // Odd reloads switch maintenance on: generation 2, 4, … are in maintenance.
        dir.write("hiatus.toml", &config(origin.addr, i % 2 == 1));
        let reloader = gw.reloader.clone();
        let g = tokio::task::spawn_blocking(move || reloader.reload("test")).await.expect("join");
        assert_eq!(g, Ok(i + 1), "reload {i}");
        // Let the load see this generation: wait (bounded) for a few more responses.
        load.more(8).await;
    }
    let (seen, failures) = load.finish().await;
    assert!(failures.is_empty(), "failed or malformed responses: {failures:?}");
    assert!(seen.len() >= 400, "a real load ran: {} responses", seen.len());
    let generations: std::collections::BTreeSet<u64> = seen.iter().map(|(g, _)| *g).collect();
    assert!(generations.len() > 40, "responses came from many generations: {generations:?}");
    for (g, status) in &seen {
        let expected = if g % 2 == 0 { 503 } else { 200 };
        assert_eq!(*status, expected, "generation {g} answered {status}");
    }
    assert_eq!(gw.reloader.status().generation, 51);
}

#[tokio::test]
async fn an_invalid_reload_keeps_serving_the_running_configuration() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-bad");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    dir.write(
        "hiatus.toml",
        &format!(
            "{}\n[[windows]]\nid = \"x\"\ndaily = {{ at = \"25:00\", until = \"01:00\" }}\n",
            config(origin.addr, true)
        ),
    );
    let reloader = gw.reloader.clone();
    let result = tokio::task::spawn_blocking(move || reloader.reload("test")).await.expect("join");
    let errors = result.expect_err("the bad file is refused");
    assert!(errors.iter().any(|e| e.contains("windows[2].daily.at") && e.contains("25:00")), "{errors:?}");
    let r = Client::connect(gw.addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-generation")), (200, Some("1")), "still the first configuration");
    let status = gw.reloader.status();
    let last = status.last.expect("an attempt is recorded");
    assert_eq!((status.generation, last.ok, last.generation), (1, false, 1));
    assert!(last.errors.iter().any(|e| e.contains("25:00")));
    let text = String::from_utf8(gw.metrics.encode()).expect("utf-8");
    assert!(text.contains("hiatus_config_reloads_total{result=\"error\"} 1"), "{text}");
}

#[tokio::test]
async fn metrics_count_known_traffic_by_tenant_and_decision() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("metrics");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let mut client = Client::connect(gw.addr, None).await;
    for _ in 0..3 {
        assert_eq!(client.request("GET", "a.test", "/", &[]).await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(client.request("GET", "b.test", "/", &[]).await.status, 503);
    }
    assert_eq!(client.request("GET", "nobody.test", "/", &[]).await.status, 421);
    let failed = Client::connect(gw.addr, None).await.request("GET", "c.test", "/", &[]).await;
    assert_eq!(failed.status, 502);
    let text = String::from_utf8(gw.metrics.encode()).expect("utf-8");
    for line in [
        "hiatus_requests_total{decision=\"proxied\",status_class=\"2xx\",tenant=\"a\"} 3",
        "hiatus_requests_total{decision=\"maintenance\",status_class=\"5xx\",tenant=\"b\"} 2",
        "hiatus_requests_total{decision=\"unknown_host\",status_class=\"4xx\",tenant=\"-\"} 1",
        "hiatus_requests_total{decision=\"upstream_error\",status_class=\"5xx\",tenant=\"c\"} 1",
        "hiatus_upstream_errors_total{kind=\"connection_refused\",tenant=\"c\"} 1",
        // One histogram for all tenants (a and the failed c), the time per tenant as a sum.
        "hiatus_upstream_duration_seconds_count 4",
        "hiatus_upstream_seconds_total{tenant=\"a\"} ",
        "hiatus_config_generation 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // The running binary's version and revision, as `--version` says them.
    let build = format!(
        "hiatus_build_info{{revision=\"{}\",version=\"{}\"}} 1",
        env!("HIATUS_REVISION"),
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "missing {build:?} in\n{text}");
}

/// Serves two requests (one proxied with a secret in its query, one in maintenance) with the
/// access log in `format`; its two lines and the two responses.
async fn two_logged_requests(format: LogFormat) -> (Vec<String>, [crate::gateway_support::Response; 2], SocketAddr) {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("access-log");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let loaded = hiatus::config::load(&path).expect("config");
    let compiled = Compiled::build(loaded.config, NOW, 1).expect("compile");
    let log_path = dir.0.join("access.log");
    let log = AccessLog::start(&AccessLogTarget::File(log_path.clone()), format).expect("start the writer");
    let gateway = Gateway::new(Arc::new(ArcSwap::from_pointee(compiled)), Clock::manual(NOW)).with_access_log(log);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(server::serve(listener, gateway, shutdown));
    let mut client = Client::connect(addr, None).await;
    let proxied = client
        .request("GET", "a.test", "/x?q=1&access_token=s3cr3t&Sig=s1gn3d", &[("user-agent", "probe/1.0 \"x\"")])
        .await;
    let maintenance = client.request("HEAD", "b.test", "/y", &[]).await;
    let lines = bounded("two access log lines", async {
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.lines().count() >= 2 {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(!lines.contains("s3cr3t") && !lines.contains("s1gn3d"), "no secret of the query is logged: {lines}");
    (lines.lines().map(str::to_string).collect(), [proxied, maintenance], origin.addr)
}

#[tokio::test]
async fn the_access_log_writes_one_json_line_per_request_with_every_field() {
    let (lines, [proxied, maintenance], origin) = two_logged_requests(LogFormat::Json).await;
    let lines: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let want = [
        (
            "a",
            "a.test",
            "GET",
            "/x?q=1&access_token=[redacted]&Sig=[redacted]",
            200,
            "proxied",
            proxied.header("x-request-id"),
        ),
        ("b", "b.test", "HEAD", "/y", 503, "maintenance", maintenance.header("x-request-id")),
    ];
    for (line, (tenant, host, method, path, status, decision, id)) in lines.iter().zip(want) {
        assert_eq!(
            (line["tenant"].as_str(), line["host"].as_str(), line["method"].as_str(), line["path"].as_str()),
            (Some(tenant), Some(host), Some(method), Some(path))
        );
        assert_eq!((line["status"].as_u64(), line["decision"].as_str()), (Some(status), Some(decision)));
        assert_eq!(line["request_id"].as_str(), id);
        assert_eq!((line["client"].as_str(), line["protocol"].as_str()), (Some("127.0.0.1"), Some("HTTP/1.1")));
        assert!(line["time"].as_str().is_some_and(|t| t.ends_with('Z')) && line["total_ms"].is_number());
    }
    assert_eq!(lines[0]["bytes"].as_u64(), Some(proxied.body.len() as u64));
    assert!(!proxied.body.is_empty());
    assert_eq!(lines[1]["bytes"].as_u64(), Some(0), "HEAD: no body");
    assert_eq!(lines[0]["user_agent"].as_str(), Some("probe/1.0 \"x\""));
    assert!(lines[1]["user_agent"].is_null());
    assert_eq!(lines[0]["upstream"].as_str(), Some(origin.to_string().as_str()));
    assert!(lines[0]["upstream_ms"].is_number() && lines[1]["upstream"].is_null() && lines[1]["window"] == "b-down");
}

#[tokio::test]
async fn the_access_log_writes_a_combined_like_text_line_per_request() {
    let (lines, [proxied, maintenance], origin) = two_logged_requests(LogFormat::Text).await;
    // The time and the durations vary: each is checked for its shape, the rest as it is.
    let (time, ms) = ("[TIME]", "MS");
    let shape = |line: &str| {
        let (before, rest) = line.split_once(" [").expect("a time");
        let (t, after) = rest.split_once("] ").expect("a time");
        assert!(chrono::DateTime::parse_from_str(t, "%d/%b/%Y:%H:%M:%S %z").is_ok(), "{t}");
        let mut out = format!("{before} {time} {after}");
        for key in ["upstream_ms=", "total_ms="] {
            if let Some(at) = out.find(key) {
                let from = at + key.len();
                let end = out[from..].find(' ').map_or(out.len(), |e| from + e);
                if &out[from..end] != "-" {
                    assert!(out[from..end].parse::<f64>().is_ok(), "{line}");
                    out.replace_range(from..end, ms);
                }
            }
        }
        out
    };
    let id = |r: &crate::gateway_support::Response| r.header("x-request-id").unwrap_or_default().to_string();
    assert_eq!(
        shape(&lines[0]),
        format!(
            "127.0.0.1 - - {time} \"GET /x?q=1&access_token=[redacted]&Sig=[redacted] HTTP/1.1\" 200 {} \"-\" \"probe/1.0 \\x22x\\x22\" \
             host=a.test decision=proxied tenant=a window=- upstream={origin} upstream_ms={ms} total_ms={ms} request_id={}",
            proxied.body.len(),
            id(&proxied)
        )
    );
    assert_eq!(
        shape(&lines[1]),
        format!(
            "127.0.0.1 - - {time} \"HEAD /y HTTP/1.1\" 503 0 \"-\" \"-\" \
             host=b.test decision=maintenance tenant=b window=b-down upstream=- upstream_ms=- total_ms={ms} request_id={}",
            id(&maintenance)
        )
    );
}

/// Starts the control plane of `gw` (the file watcher, SIGHUP, …) and serves its admin
/// endpoints on loopback: the admin state and the admin listener's address. The control plane
/// runs its own runtime: started from a plain thread, as `run` does.
async fn control_plane(gw: &Reloadable, token: Option<&str>) -> (Arc<hiatus::control::admin::Admin>, SocketAddr) {
    let admin = Arc::new(hiatus::control::admin::Admin {
        reloader: gw.reloader.clone(),
        metrics: Some(gw.metrics.clone()),
        clock: Clock::manual(NOW),
        token: token.map(str::to_string),
        ready: AtomicBool::new(false),
        limits: hiatus::control::http::Limits::default(),
        acme: None,
        sections: Vec::new(),
        idempotency: Default::default(),
        operator_store: None,
    });
    hiatus::control::scrape::register(&gw.metrics, gw.reloader.clone(), Clock::manual(NOW), Some(gw.drain.clone()))
        .expect("register the scrape's gauges");
    let handle = admin.clone();
    std::thread::spawn(move || hiatus::control::start(handle)).join().expect("join").expect("control plane");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let at = listener.local_addr().expect("addr");
    tokio::spawn(admin.clone().serve(listener));
    (admin, at)
}

/// One request to the admin listener, raw: (status, body).
async fn admin(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut c = Client::connect(addr, None).await;
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let r = c.request(method, "admin", path, &headers).await;
    (r.status, r.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_answers_and_wants_its_token() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("admin");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let token = "0123456789abcdef-token";
    let (admin_state, at) = control_plane(&gw, Some(token)).await;
    assert_eq!(admin(at, "GET", "/state", None).await.0, 401, "no token");
    assert_eq!(admin(at, "GET", "/state", Some("wrong-token-0123456")).await.0, 401, "wrong token");
    assert_eq!(admin(at, "GET", "/healthz", Some(token)).await.0, 200);
    assert_eq!(admin(at, "GET", "/readyz", Some(token)).await.0, 503, "not ready before the listeners are");
    admin_state.ready.store(true, Ordering::Relaxed);
    assert_eq!(admin(at, "GET", "/readyz", Some(token)).await.0, 200);
    let (status, body) = admin(at, "GET", "/state", Some(token)).await;
    let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((status, state["generation"].as_u64()), (200, Some(1)));
    let b =
        state["tenants"].as_array().and_then(|t| t.iter().find(|t| t["tenant"] == "b")).cloned().unwrap_or_default();
    assert_eq!((b["state"].as_str(), b["window"].as_str()), (Some("maintenance"), Some("b-down")));
    dir.write("hiatus.toml", &config(origin.addr, true));
    let (status, body) = admin(at, "POST", "/reload", Some(token)).await;
    assert_eq!((status, body.contains("\"generation\":2")), (200, true), "{body}");
    dir.write("hiatus.toml", "[[windows]]\nid = 1\n");
    let (status, body) = admin(at, "POST", "/reload", Some(token)).await;
    assert!(status == 422 && body.contains("windows[0].id"), "{status} {body}");
    assert_eq!(admin(at, "GET", "/reload", Some(token)).await.0, 405);
    let (status, metrics) = admin(at, "GET", "/metrics", Some(token)).await;
    assert!(status == 200 && metrics.contains("hiatus_window_active{tenant=\"a\"} 1"), "{metrics}");
}

/// Reloads `gw` now, off the async runtime.
async fn reload(gw: &Reloadable) -> Result<u64, Vec<String>> {
    let reloader = gw.reloader.clone();
    tokio::task::spawn_blocking(move || reloader.reload("test")).await.expect("join")
}

/// A reload that changes keys only a start reads applies everything else and names each such
/// key in its answer, its status and on every later reload until the process is upgraded or
/// restarted (issue 15: reloads answered "ok" and the new port refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_names_each_changed_key_that_needs_a_restart_and_applies_the_rest() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-restart-keys");
    let gateway = "[gateway]\nlisten = [\"127.0.0.1:8080\"]\nthreads = 2\nkeepalive_timeout = \"60s\"\n\
                   expose_generation = true\n";
    let path = dir.write("hiatus.toml", &format!("{gateway}{}", tenants_and_windows(origin.addr, false)));
    let gw = start(&path, NOW).await;
    let (_admin, at) = control_plane(&gw, None).await;
    let changed = "[gateway]\nlisten = [\"127.0.0.1:8081\", \"[::1]:8081\"]\nthreads = 4\nadmin = \"127.0.0.1:9999\"\n\
                   grace_period = \"3s\"\nkeepalive_timeout = \"5s\"\nexpose_generation = true\n";
    dir.write("hiatus.toml", &format!("{changed}{}", tenants_and_windows(origin.addr, true)));
    let (status, body) = admin(at, "POST", "/reload", None).await;
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((status, &answer["ok"], &answer["generation"]), (200, &serde_json::json!(true), &serde_json::json!(2)));
    let expected: Vec<String> = ["gateway.listen", "gateway.threads", "gateway.admin", "gateway.grace_period"]
        .iter()
        .map(|k| {
            format!(
                "{k} changed: takes effect after an upgrade or restart (`hiatus run -u`); everything else is applied"
            )
        })
        .collect();
    assert_eq!(answer["warnings"], serde_json::json!(expected), "{body}");
    // Everything else is in force: the window, and keepalive_timeout.
    let r = Client::connect(gw.addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-generation")), (503, Some("2")));
    let keepalive = gw.reloader.current().load().config().gateway.keepalive_timeout;
    assert_eq!(keepalive, std::time::Duration::from_secs(5));
    let (_, state) = admin(at, "GET", "/state", None).await;
    let state: serde_json::Value = serde_json::from_str(&state).expect("JSON");
    assert_eq!(state["last_reload"]["warnings"], serde_json::json!(expected));
    // The process still runs with what it started with: a second reload says so again.
    assert_eq!(gw.reloader.apply("test").map(|a| a.warnings), Ok(expected.clone()));
    // Back to the started values: nothing to say.
    dir.write("hiatus.toml", &format!("{gateway}{}", tenants_and_windows(origin.addr, false)));
    let (status, body) = admin(at, "POST", "/reload", None).await;
    assert!(status == 200 && body.contains("\"warnings\":[]"), "{status} {body}");
}

/// Only a configuration that serves is applied: an empty file is refused, and so is one
/// without tenants, unless `allow_no_tenants` says that is meant (issue 15: a truncated file
/// gave a third of the requests a 421).
#[tokio::test]
async fn a_reload_refuses_an_empty_file_and_one_without_tenants_unless_allowed() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-no-tenants");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let refusals: [(&str, &str); 3] = [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("[defaults]\nzone = \"UTC\"\n", "tenants: no tenants"),
    ];
    for (text, why) in refusals {
        dir.write("hiatus.toml", text);
        let errors = reload(&gw).await.expect_err("refused");
        assert!(errors.len() == 1 && errors[0].contains(why), "{text:?}: {errors:?}");
        let r = Client::connect(gw.addr, None).await.request("GET", "a.test", "/", &[]).await;
        assert_eq!((r.status, r.header("x-hiatus-generation")), (200, Some("1")), "{text:?}");
    }
    dir.write("hiatus.toml", "[gateway]\nallow_no_tenants = true\n");
    assert_eq!(reload(&gw).await, Ok(2), "meant, and said so");
    let r = Client::connect(gw.addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.marker()), (421, "unknown-host"));
}

/// Upstream names are looked up before a reload's build, within a bound: a name that never
/// resolved refuses the reload with the tenant and the name (the running configuration stays);
/// a name that resolves is applied.
#[tokio::test]
async fn a_reload_refuses_an_upstream_name_that_never_resolved() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-unresolved");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let with = |upstream: &str| {
        format!(
            "{}[[tenants]]\nid = \"named\"\nhosts = [\"named.test\"]\nupstreams = [\"{upstream}\"]\n",
            config(origin.addr, false)
        )
    };
    dir.write("hiatus.toml", &with("never.invalid:80"));
    let started = std::time::Instant::now();
    let errors = reload(&gw).await.expect_err("refused");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the lookup is bounded");
    assert!(
        errors.len() == 1 && errors[0].starts_with("tenant named: upstream \"never.invalid:80\" has no address ("),
        "{errors:?}"
    );
    let r = Client::connect(gw.addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-generation")), (200, Some("1")), "the running configuration stays");
    dir.write("hiatus.toml", &with(&format!("localhost:{}", origin.addr.port())));
    assert_eq!(reload(&gw).await, Ok(2), "a name that resolves");
}

/// A reload reads no file past the running configuration's `max_config_size`, nor one nested
/// deeper than the limit; each refusal says why, in words.
#[tokio::test]
async fn a_reload_refuses_files_over_the_running_size_limit_or_nested_too_deep() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-limits");
    let small = format!("[gateway]\nmax_config_size = \"64KiB\"\n{}", tenants_and_windows(origin.addr, false));
    let path = dir.write("hiatus.toml", &small);
    let gw = start(&path, NOW).await;
    // Larger than the running limit, though the new file would allow itself more.
    let big = format!(
        "[gateway]\nmax_config_size = \"1MiB\"\n{}{}",
        tenants_and_windows(origin.addr, true),
        "# pad\n".repeat(20_000)
    );
    dir.write("hiatus.toml", &big);
    let errors = reload(&gw).await.expect_err("refused");
    assert!(
        errors.len() == 1 && errors[0].contains("is more than a configuration may have (64 KiB for all its files"),
        "{errors:?}"
    );
    // An include counts too: the files together.
    dir.write("more.toml", &"# pad\n".repeat(11_000));
    dir.write("hiatus.toml", &format!("include = [\"more.toml\"]\n{small}"));
    let errors = reload(&gw).await.expect_err("refused");
    assert!(errors.len() == 1 && errors[0].contains("more.toml: 66000 bytes (with the"), "{errors:?}");
    dir.write("hiatus.toml", &format!("{small}x = {}1{}\n", "[".repeat(1000), "]".repeat(1000)));
    let errors = reload(&gw).await.expect_err("refused");
    assert!(errors.len() == 1 && errors[0].contains("nested more than 32 deep"), "{errors:?}");
    assert_eq!(gw.reloader.status().generation, 1);
    // Within the limit: applied, and the new limit is the one the next reload reads with.
    dir.write(
        "hiatus.toml",
        &format!("[gateway]\nmax_config_size = \"1MiB\"\n{}", tenants_and_windows(origin.addr, true)),
    );
    assert_eq!(reload(&gw).await, Ok(2));
    dir.write("hiatus.toml", &big);
    assert_eq!(reload(&gw).await, Ok(3));
}

/// The watcher never applies a half-written file (issue 15: a file truncated for 1 s gave a
/// third of the requests a 421; one written in pieces 600 ms apart was loaded as three
/// generations). While requests flow, the file is written in place in pieces, truncated to
/// nothing, and cut in half, each time held in that state for longer than two of the watcher's
/// looks but shorter than `reload_settle`; then replaced by a rename, which applies at once.
/// Every response comes from a complete file, and each finished write is one generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_applies_only_complete_files_while_requests_flow() {
    use std::io::Write as _;
    use std::time::{Duration, Instant};
    // The writer's pace (a test parameter, like the settle time): each state lasts this long.
    const HOLD: Duration = Duration::from_millis(450);
    const SETTLE: Duration = Duration::from_millis(1500);
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("watch-pieces");
    let hosts: Vec<String> = (0..12).map(|i| format!("t{i}.test")).collect();
    // Version `v`: the same twelve tenants, a comment that differs; cut at tenant boundaries,
    // every piece is a valid configuration with fewer tenants.
    let version = |v: u64| -> Vec<String> {
        let mut pieces = vec![format!(
            "# version {v}\n[gateway]\nreload_settle = \"{}ms\"\nexpose_generation = true\n\n[defaults]\nzone = \"UTC\"\n",
            SETTLE.as_millis()
        )];
        pieces.extend((0..12).map(|i| {
            format!("\n[[tenants]]\nid = \"t{i}\"\nhosts = [\"t{i}.test\"]\nupstreams = [\"{}\"]\n", origin.addr)
        }));
        pieces
    };
    let path = dir.write("hiatus.toml", &version(1).concat());
    let gw = start(&path, NOW).await;
    let _control = control_plane(&gw, None).await;
    let load = Load::start(gw.addr, hosts, 4, |status, marker| (status, marker) == (200, "proxied"));
    load.more(50).await;
    let until_generation = |g: u64| {
        let reloader = gw.reloader.clone();
        async move {
            let deadline = Instant::now() + SETTLE + Duration::from_secs(4);
            while reloader.status().generation < g && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            reloader.status().generation
        }
    };
    // Ways of writing version `v` over the file in place, each intermediate state held for
    // HOLD; run on a thread of their own, so the pauses are the writer's, not the runtime's.
    type Steps = fn(&Path, &[String]);
    let writes: [(&str, Steps); 3] = [
        ("in three pieces", |p, pieces| {
            let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(p).expect("open");
            for chunk in [&pieces[..5], &pieces[5..9], &pieces[9..]] {
                f.write_all(chunk.concat().as_bytes()).expect("write");
                std::thread::sleep(HOLD);
            }
        }),
        ("truncated to nothing first", |p, pieces| {
            std::fs::File::create(p).expect("truncate");
            std::thread::sleep(HOLD);
            std::fs::write(p, pieces.concat()).expect("write");
        }),
        ("cut after six tenants first", |p, pieces| {
            let half = pieces[..7].concat().len() as u64;
            std::fs::OpenOptions::new().write(true).open(p).and_then(|f| f.set_len(half)).expect("cut");
            std::thread::sleep(HOLD);
            std::fs::write(p, pieces.concat()).expect("write");
        }),
    ];
    for (i, (how, steps)) in writes.into_iter().enumerate() {
        let g = i as u64 + 2;
        let (p, pieces) = (path.clone(), version(g));
        tokio::task::spawn_blocking(move || steps(&p, &pieces)).await.expect("writer");
        assert_eq!(until_generation(g).await, g, "{how}: the finished file is applied");
        load.more(50).await;
    }

    // The recommended way: a complete file renamed into place is applied at the next look.
    let fresh = dir.write("hiatus.toml.new", &version(5).concat());
    let renamed = Instant::now();
    std::fs::rename(&fresh, &path).expect("rename");
    assert_eq!(until_generation(5).await, 5);
    let took = renamed.elapsed();
    assert!(took < SETTLE, "a rename is applied without waiting for reload_settle: {took:?}");
    load.more(50).await;
    // A last truncation, never applied: the load sees generation 5 to the end.
    std::fs::File::create(&path).expect("truncate");
    let (seen, failures) = load.finish().await;

    assert!(failures.is_empty(), "requests saw a half-written configuration: {:?}", &failures[..failures.len().min(5)]);
    let generations: std::collections::BTreeSet<u64> = seen.iter().map(|(g, _)| *g).collect();
    assert_eq!(generations, (1..=5).collect(), "one generation per finished write");
    assert_eq!(gw.reloader.status().generation, 5);
    assert!(gw.reloader.status().last.is_some_and(|l| l.ok));
}

/// The process whose command line names `arg` (a test's own config path: unique).
fn pid_of(arg: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()).then_some(pid)
    })
}

/// A line of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn vm_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.trim().strip_suffix(" kB")?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// A refused reload costs little memory and gives it back (issue 15: a refused 10 MB deeply
/// nested file took the gateway to 814 MB and left it at 503 MB until the next good reload).
/// The real binary, with its allocator; peak (`VmHWM`, reset before each reload) and resident
/// memory of the process around refused reloads of a 10 MB nested file and of a 20 MB file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_costs_little_memory_and_gives_it_back() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("reload-memory");
    let tenants: String = (0..200)
        .map(|i| format!("[[tenants]]\nid = \"t{i}\"\nhosts = [\"t{i}.test\"]\nupstreams = [\"{}\"]\n", origin.addr))
        .collect();
    let good = format!(
        "[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\nexpose_generation = true\n[defaults]\nzone = \"UTC\"\n{tenants}"
    );
    let path = dir.write("hiatus.toml", &good).display().to_string();
    let gw = crate::lifecycle::Running::start(&["run", "--config", &path]);
    let (addr, admin_at) = gw.started();
    let admin_at = admin_at.expect("the admin listener is announced");
    let pid = pid_of(&path).expect("the gateway's pid");
    assert_eq!(Client::connect(addr, None).await.request("GET", "t7.test", "/", &[]).await.status, 200);
    // Changed (the same bytes would be "unchanged", no generation made).
    std::fs::write(&path, format!("{good}# changed\n")).expect("write");
    let (status, _) = admin(admin_at, "POST", "/reload", None).await;
    assert_eq!(status, 200, "a good reload first: what a reload makes once exists");
    let nested = format!("x = {}{}\n", "[".repeat(5_000_000), "]".repeat(5_000_000));
    let oversized = format!("{good}{}", "# a comment to make the file large\n".repeat(600_000));
    // Within the limits, but a token a byte: parsed in the gateway it would peak at ~140× its size.
    let dense = format!("{good}x = [{}]\n", "[[1]],".repeat(200_000));
    for (name, text, why) in [
        ("a 10 MB nested file", nested, "nested more than 32 deep"),
        ("a 20 MB file", oversized, "is more than a configuration may have (16 MiB"),
        ("1.2 MB of dense arrays", dense, "unknown key `x`"),
    ] {
        let before = vm_kib(pid, "VmRSS");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak (VmHWM)");
        std::fs::write(&path, text).expect("write");
        let (status, body) = admin(admin_at, "POST", "/reload", None).await;
        assert!(status == 422 && body.contains(why), "{name}: {status} {body}");
        let (peak, after) = (vm_kib(pid, "VmHWM"), vm_kib(pid, "VmRSS"));
        assert!(peak < 2 * before, "{name}: peak {peak} KiB, running {before} KiB");
        assert!(after < before + before / 10, "{name}: {after} KiB after, {before} KiB before");
        let r = Client::connect(addr, None).await.request("GET", "t7.test", "/", &[]).await;
        assert_eq!((r.status, r.header("x-hiatus-generation")), (200, Some("2")), "{name}");
    }
}

/// The admin endpoints of `gw` on loopback with `limits`, without the control plane's loops.
async fn admin_within(gw: &Reloadable, limits: hiatus::control::http::Limits) -> SocketAddr {
    let admin = Arc::new(hiatus::control::admin::Admin {
        reloader: gw.reloader.clone(),
        metrics: Some(gw.metrics.clone()),
        clock: Clock::manual(NOW),
        token: None,
        ready: AtomicBool::new(true),
        limits,
        acme: None,
        sections: Vec::new(),
        idempotency: Default::default(),
        operator_store: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let at = listener.local_addr().expect("addr");
    tokio::spawn(admin.serve(listener));
    at
}

/// The admin listener's bounds: a head must be whole within its time however the bytes
/// trickle (pingora's own timeout is per read), a body within its time and size (413 before a
/// byte of an announced oversized one is read), a head that does not parse gets a 400, and a
/// slow client holds up no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_cuts_slow_and_oversized_requests_and_serves_the_others() {
    use std::time::{Duration, Instant};
    const HEAD: Duration = Duration::from_millis(600);
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("admin-limits");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let gw = start(&path, NOW).await;
    let limits = hiatus::control::http::Limits { head: HEAD, body: HEAD, max_body: 1024 };
    let at = admin_within(&gw, limits).await;

    // Half a head, then nothing: cut once the head's time is up.
    let mut half = Client::connect(at, None).await;
    half.send(b"GET /state HTTP/1.1\r\nHost: admin\r\n").await;
    let began = Instant::now();
    // `closed` waits a second at most; `bounded` ends the test after five.
    bounded("the cut", async { while !half.closed().await {} }).await;
    let took = began.elapsed();
    assert!(took >= HEAD - Duration::from_millis(100) && took < HEAD * 4, "cut after {took:?}");

    // A slowloris: a byte every 100 ms keeps every read short, yet the head's time runs out;
    // meanwhile other clients are answered at once.
    let mut slow = Client::connect(at, None).await;
    let trickle = tokio::spawn(async move {
        let began = Instant::now();
        let sent = slow.send_slowly(b"GET /state HTTP/1.1\r\nHost: admin\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", Duration::from_millis(100)).await;
        (sent, began.elapsed(), slow.closed().await)
    });
    for _ in 0..3 {
        let began = Instant::now();
        let r = Client::connect(at, None).await.request("GET", "admin", "/state", &[]).await;
        assert_eq!(r.status, 200);
        assert!(began.elapsed() < Duration::from_millis(500), "answered in {:?}", began.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (sent, took, closed) = bounded("the slowloris", trickle).await.expect("join");
    assert!(sent < 80 && closed, "sent {sent} bytes in {took:?}, closed: {closed}");
    assert!(took < HEAD * 4, "cut after {took:?}");

    // Bodies: an announced oversized one is refused before it is sent; a chunked one once it
    // grows past the limit; a body that stops halfway is cut; a small one is read and answered.
    let mut big = Client::connect(at, None).await;
    big.send(b"POST /reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 100000\r\n\r\n").await;
    let r = big.response(false).await;
    assert_eq!(r.status, 413);
    assert!(big.closed().await, "the rest of the body is not read");
    let mut chunked = Client::connect(at, None).await;
    let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
    chunked
        .send(
            format!("POST /reload HTTP/1.1\r\nHost: admin\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}")
                .as_bytes(),
        )
        .await;
    assert_eq!(chunked.response(false).await.status, 413);
    let mut stalled = Client::connect(at, None).await;
    stalled.send(b"POST /reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 10\r\n\r\n12345").await;
    let began = Instant::now();
    // `closed` waits a second at most; `bounded` ends the test after five.
    bounded("the stalled body", async { while !stalled.closed().await {} }).await;
    assert!(began.elapsed() < HEAD * 4, "cut after {:?}", began.elapsed());
    let mut small = Client::connect(at, None).await;
    small.send_request("GET", "admin", "/healthz", &[], b"12345").await;
    assert_eq!(small.response(false).await.status, 200);
    // Keep-alive: the next request on the same connection.
    assert_eq!(small.request("GET", "admin", "/readyz", &[]).await.status, 200);

    // A head that does not parse.
    let mut bad = Client::connect(at, None).await;
    bad.send(b"GET /state HTTP/1.1\r\nHost admin\r\n\r\n").await;
    assert_eq!(bad.response(false).await.status, 400);
}
