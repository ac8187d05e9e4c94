//! The control plane end to end: reloads under load, refused reloads, metrics after known
//! traffic. In process, with real sockets on loopback, real origins, config files on disk.

use crate::gateway_support::{bounded, dead_address, Behaviour, Client, Origin};
use arc_swap::ArcSwap;
use hiatus::clock::Clock;
use hiatus::compiled::Compiled;
use hiatus::control::reload::Reloader;
use hiatus::gateway::{server, Gateway};
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(server::serve(listener, gateway, shutdown));
    Reloadable { addr, reloader, metrics, stop }
}

const NOW: i64 = 1_780_000_000; // 2026-05-28

/// Tenant `a` on the origin; with `maintenance`, an open-ended window on `a`.
fn config(origin: SocketAddr, maintenance: bool) -> String {
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
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(u64, u16)>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, seen, failures, addr) = (stop.clone(), seen.clone(), failures.clone(), gw.addr);
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(addr, None).await;
            // Bounded in count and in time.
            for _ in 0..5_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                client.send_request("GET", "a.test", "/", &[], b"").await;
                match client.try_response(false).await {
                    Ok(r) => {
                        let g = r.header("x-hiatus-generation").and_then(|g| g.parse::<u64>().ok());
                        match (g, r.status, r.marker()) {
                            (Some(g), 200, "proxied") | (Some(g), 503, "maintenance") => {
                                seen.lock().expect("lock").push((g, r.status))
                            }
                            _ => failures.lock().expect("lock").push(format!(
                                "malformed: {} {:?}",
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
        }));
    }
    for i in 1..=50 {
        // Odd reloads switch maintenance on: generation 2, 4, … are in maintenance.
        dir.write("hiatus.toml", &config(origin.addr, i % 2 == 1));
        let reloader = gw.reloader.clone();
        let g = tokio::task::spawn_blocking(move || reloader.reload("test")).await.expect("join");
        assert_eq!(g, Ok(i + 1), "reload {i}");
        // Let the load see this generation: wait (bounded) for a few more responses.
        let target = seen.lock().expect("lock").len() + 8;
        bounded("responses after a reload", async {
            while seen.lock().expect("lock").len() < target && failures.lock().expect("lock").is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        bounded("client task", c).await.expect("client task");
    }
    let failures = failures.lock().expect("lock").clone();
    assert!(failures.is_empty(), "failed or malformed responses: {failures:?}");
    let seen = seen.lock().expect("lock").clone();
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
        "hiatus_requests_total{decision=\"proxied\",tenant=\"a\"} 3",
        "hiatus_requests_total{decision=\"maintenance\",tenant=\"b\"} 2",
        "hiatus_requests_total{decision=\"unknown_host\",tenant=\"-\"} 1",
        "hiatus_requests_total{decision=\"upstream_error\",tenant=\"c\"} 1",
        "hiatus_upstream_errors_total{kind=\"connection_refused\",tenant=\"c\"} 1",
        // One histogram for all tenants (a and the failed c), the time per tenant as a sum.
        "hiatus_upstream_duration_seconds_count 4",
        "hiatus_upstream_seconds_total{tenant=\"a\"} ",
        "hiatus_config_generation 1",
        "hiatus_build_info{version=",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn the_access_log_writes_one_json_line_per_request() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("access-log");
    let path = dir.write("hiatus.toml", &config(origin.addr, false));
    let loaded = hiatus::config::load(&path).expect("config");
    let compiled = Compiled::build(loaded.config, NOW, 1).expect("compile");
    let log_path = dir.0.join("access.log");
    let log = hiatus::telemetry::accesslog::AccessLog::start(&hiatus::config::gateway::AccessLogTarget::File(
        log_path.clone(),
    ))
    .expect("start the writer");
    let gateway = Gateway::new(Arc::new(ArcSwap::from_pointee(compiled)), Clock::manual(NOW)).with_access_log(log);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(server::serve(listener, gateway, shutdown));
    let mut client = Client::connect(addr, None).await;
    let proxied = client.request("GET", "a.test", "/x?q=1", &[]).await;
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
    let lines: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let want = [
        ("a", "a.test", "GET", "/x", 200, "proxied", proxied.header("x-request-id")),
        ("b", "b.test", "HEAD", "/y", 503, "maintenance", maintenance.header("x-request-id")),
    ];
    for (line, (tenant, host, method, path, status, decision, id)) in lines.iter().zip(want) {
        assert_eq!(
            (line["tenant"].as_str(), line["host"].as_str(), line["method"].as_str(), line["path"].as_str()),
            (Some(tenant), Some(host), Some(method), Some(path))
        );
        assert_eq!((line["status"].as_u64(), line["decision"].as_str()), (Some(status), Some(decision)));
        assert_eq!(line["request_id"].as_str(), id);
        assert!(line["time"].as_str().is_some_and(|t| t.ends_with('Z')) && line["total_ms"].is_number());
    }
    assert_eq!(lines[0]["upstream"].as_str(), Some(origin.addr.to_string().as_str()));
    assert!(lines[0]["upstream_ms"].is_number() && lines[1]["upstream"].is_null() && lines[1]["window"] == "b-down");
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
    let admin_state = Arc::new(hiatus::control::admin::Admin {
        reloader: gw.reloader.clone(),
        metrics: Some(gw.metrics.clone()),
        clock: Clock::manual(NOW),
        token: Some(token.to_string()),
        ready: AtomicBool::new(false),
    });
    // The control plane runs its own runtime: start it from a plain thread, as `run` does.
    let handle = admin_state.clone();
    std::thread::spawn(move || hiatus::control::start(handle)).join().expect("join").expect("control plane");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let at = listener.local_addr().expect("addr");
    tokio::spawn(admin_state.clone().serve(listener));
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
    assert!(status == 200 && metrics.contains("hiatus_maintenance_active{tenant=\"a\"} 1"), "{metrics}");
}
