//! Health checks end to end: origins that die and come back, the error page at once while no
//! upstream is healthy, incidents opened, closed, persisted and read back after a restart.
//!
//! Most tests drive the probes round by round (`health::probe_once`) so they depend on no timing;
//! one runs the real binary, whose prober loop, admin listener and metrics are then watched with
//! bounded polls.

use crate::control::TempDir;
use crate::gateway_support::{bounded, dead_address, Behaviour, Client, Origin, TestGateway};
use crate::lifecycle::Running;
use hiatus::config::health::HealthProbe;
use hiatus::control::prober::probe_once;
use hiatus::health::probe;
use hiatus::health::{Cause, IncidentLog};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const NOW: i64 = 1_780_000_000; // 2026-05-28

/// Tenant `a` on `upstreams`, checked every 100 ms; connect and read timeouts so long that an
/// attempted connection would show in the time an answer takes.
fn config(state_dir: &TempDir, upstreams: &[SocketAddr], rise: u32, fall: u32) -> String {
    let list: Vec<String> = upstreams.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[defaults]\nzone = \"UTC\"\n\n[gateway]\nstate_dir = \"{}\"\n\n\
         [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [{}]\n\
         connect_timeout = \"30s\"\nread_timeout = \"30s\"\n\
         health = {{ path = \"/healthz\", interval = \"100ms\", timeout = \"100ms\", rise = {rise}, fall = {fall} }}\n",
        state_dir.0.display(),
        list.join(", ")
    )
}

/// One probing round at `now`.
async fn round(gw: &TestGateway, now: i64) {
    bounded("a probing round", probe_once(&gw.current.load_full(), now)).await;
}

fn healthy(gw: &TestGateway) -> Vec<bool> {
    let c = gw.current.load_full();
    c.tenants[0].health.as_ref().map(|h| h.upstreams.iter().map(|u| u.is_healthy()).collect()).unwrap_or_default()
}

/// Waits (bounded) until nothing accepts connections on `addr` any more (a dropped origin's
/// listener closes when its task has stopped).
async fn until_refused(addr: SocketAddr) {
    bounded("the origin to stop listening", async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// An origin on `addr` again (bounded retries while the old listener is still closing).
async fn origin_again(addr: SocketAddr) -> Origin {
    bounded("the origin to listen again", async {
        loop {
            if let Some(o) = Origin::start_on(addr, "back", Behaviour::Ok).await {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Connections waiting in `listener`'s queue (taken and closed).
fn drain(listener: &std::net::TcpListener) -> usize {
    std::iter::from_fn(|| listener.accept().ok()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_dies_gets_the_error_page_at_once_and_recovers() {
    let dir = TempDir::new("health-dies");
    let origin = Origin::start("o", Behaviour::Ok).await;
    let addr = origin.addr;
    let gw = TestGateway::start(&config(&dir, &[addr], 2, 2), NOW).await;

    // Healthy: probes are plain GETs with the tenant's host; requests are proxied.
    round(&gw, NOW).await;
    let probe = origin.seen().into_iter().next().expect("the origin was probed");
    assert_eq!((probe.method.as_str(), probe.path.as_str()), ("GET", "/healthz"));
    assert_eq!((probe.header("host"), probe.header("connection")), (Some("a.test"), Some("close")));
    assert_eq!(gw.get("a.test", "/", &[]).await.status, 200);

    // The origin dies: one failed probe is not enough (fall = 2), the second one is.
    drop(origin);
    until_refused(addr).await;
    round(&gw, NOW + 1).await;
    assert_eq!(healthy(&gw), [true]);
    let log = gw.current.load().health.clone();
    assert!(log.incidents().open().is_empty(), "no incident before `fall` failures");
    round(&gw, NOW + 2).await;
    assert_eq!(healthy(&gw), [false]);
    let open = log.incidents().open();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].tenant.as_str(), open[0].start), ("a", NOW + 2));
    assert_eq!((open[0].cause, open[0].detail.clone()), (Cause::Unreachable, format!("{addr}: connection refused")));

    // Now something accepts connections there but never answers: probes keep failing, and a
    // request must neither connect to it nor wait for the 30 s timeouts.
    let silent = std::net::TcpListener::bind(addr).expect("bind the silent listener");
    silent.set_nonblocking(true).expect("nonblocking");
    round(&gw, NOW + 3).await;
    assert_eq!(healthy(&gw), [false]);
    assert_eq!(drain(&silent), 1, "the probe connected");
    let started = Instant::now();
    let r = gw.get("a.test", "/", &[("accept-language", "en")]).await;
    let took = started.elapsed();
    assert_eq!((r.status, r.marker(), r.header("x-hiatus-failure")), (503, "upstream-error", Some("no_upstream")));
    assert!(r.text().contains("No server of a is available right now."), "{}", r.text());
    assert!(took < Duration::from_secs(2), "answered at once, not after a timeout: {took:?}");
    let json = gw.get("a.test", "/", &[("accept", "application/json")]).await;
    assert_eq!((json.status, json.header("x-hiatus-failure")), (503, Some("no_upstream")));
    // The answer keeps the client's connection: a second request on it gets the page too.
    let mut client = gw.client().await;
    for _ in 0..2 {
        let r = client.request("GET", "a.test", "/", &[]).await;
        assert_eq!((r.status, r.header("x-hiatus-failure")), (503, Some("no_upstream")));
        assert_ne!(r.header("connection"), Some("close"));
    }
    assert!(!client.closed().await, "the connection stays open after the failure page");
    assert_eq!(drain(&silent), 0, "no request reached the upstream");
    assert_eq!(log.incidents().open().len(), 1, "still the one incident");

    // Back: one good probe is not enough (rise = 2), the second one is.
    drop(silent);
    let origin = origin_again(addr).await;
    round(&gw, NOW + 4).await;
    assert_eq!(healthy(&gw), [false]);
    assert_eq!(gw.get("a.test", "/", &[]).await.status, 503);
    round(&gw, NOW + 5).await;
    assert_eq!(healthy(&gw), [true]);
    let r = gw.get("a.test", "/", &[]).await;
    assert_eq!((r.status, r.marker()), (200, "proxied"));
    assert_eq!(origin.seen().iter().filter(|s| s.path == "/healthz").count(), 2, "probed twice since");
    assert!(log.incidents().open().is_empty());

    // Persisted: a new log on the same folder (a restart) reads the incident back, closed.
    drop(gw);
    let restarted = IncidentLog::load(&dir.0, NOW + 6).expect("read the state folder");
    let history = restarted.recent(0);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!((history[0].start, history[0].end), (NOW + 2, Some(NOW + 5)));
    assert_eq!(
        (history[0].cause, history[0].detail.clone()),
        (Cause::Unreachable, format!("{addr}: connection refused"))
    );
    assert!(restarted.open().is_empty());
    let lines = std::fs::read_to_string(dir.0.join("incidents.jsonl")).expect("the file");
    assert_eq!(lines.lines().count(), 2, "append only: one line to open, one to close\n{lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_to_the_healthy_upstreams_only() {
    let dir = TempDir::new("health-two");
    let good = Origin::start("good", Behaviour::Ok).await;
    let gw = TestGateway::start(&config(&dir, &[dead_address(), good.addr], 1, 1), NOW).await;
    round(&gw, NOW).await;
    assert_eq!(healthy(&gw), [false, true]);
    let mut client = gw.client().await;
    for _ in 0..6 {
        let r = client.request("POST", "a.test", "/", &[]).await;
        assert_eq!((r.status, r.header("x-origin")), (200, Some("good")), "a POST is never retried");
    }
    assert!(gw.current.load().health.incidents().open().is_empty(), "one upstream left: no incident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_open_at_start_stays_open_until_the_checks_decide() {
    let dir = TempDir::new("health-restart");
    let origin = Origin::start("o", Behaviour::Ok).await;
    // What a crash left: an open incident, and a torn line after it.
    dir.write(
        "incidents.jsonl",
        &format!(
            "{{\"id\":\"a-1\",\"tenant\":\"a\",\"start\":{},\"end\":null,\"cause\":\"connection refused\"}}\n{{\"id\":\"a-1\",\"ten",
            NOW - 60
        ),
    );
    let gw = TestGateway::start(&config(&dir, &[origin.addr], 2, 2), NOW).await;
    let log = gw.current.load().health.clone();
    assert_eq!(log.incidents().open().len(), 1, "read back at start");
    // A line from before causes had kinds: its free text is the detail, the kind is generic.
    let open = log.incidents().open();
    assert_eq!((open[0].cause, open[0].detail.as_str()), (Cause::Unavailable, "connection refused"));
    round(&gw, NOW).await;
    assert_eq!(log.incidents().open().len(), 1, "one good probe decides nothing (rise = 2)");
    round(&gw, NOW + 1).await;
    assert!(log.incidents().open().is_empty(), "healthy by probes: ended");
    assert_eq!(log.incidents().recent(0).first().map(|i| i.end), Some(Some(NOW + 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_state_survives_a_reload() {
    let dir = TempDir::new("health-reload");
    let dead = dead_address();
    let path = dir.write("hiatus.toml", &config(&dir, &[dead], 1, 1));
    let loaded = hiatus::config::load(&path).unwrap_or_else(|r| panic!("config: {r}"));
    let compiled = hiatus::compiled::Compiled::build(loaded.config, NOW, 1).expect("compile");
    let current = std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(compiled));
    let reloader =
        hiatus::control::reload::Reloader::new(path.clone(), current.clone(), hiatus::clock::Clock::manual(NOW), None);
    probe_once(&current.load_full(), NOW).await;
    let is_healthy = || current.load().tenants[0].health.as_ref().map(|h| h.upstreams[0].is_healthy());
    assert_eq!(is_healthy(), Some(false));
    // Other bytes, so the reload builds anew (the same bytes are "unchanged", nothing rebuilt).
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{text}# edited\n")).expect("write");
    assert_eq!(reloader.reload("test"), Ok(2));
    assert_eq!(current.load().generation, 2);
    assert_eq!(is_healthy(), Some(false), "a reload keeps what the probes found");
    assert_eq!(current.load().health.incidents().open().len(), 1, "and the open incident");
}

/// What a probe should find: nothing wrong, or a kind and the plain words.
type Found = Result<(), (Cause, &'static str)>;

/// What a failed probe says: a kind for pages (`Cause`) and the plain words for operators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_failures_are_told_by_kind() {
    let http = HealthProbe::Http { path: "/healthz".to_string(), expect: 200 };
    let limit = Duration::from_millis(100);
    let cases: [(Option<Behaviour>, &HealthProbe, Found); 7] = [
        (None, &HealthProbe::Tcp, Err((Cause::Unreachable, "connection refused"))),
        (None, &http, Err((Cause::Unreachable, "connection refused"))),
        (Some(Behaviour::Ok), &http, Ok(())),
        (Some(Behaviour::Status(500)), &http, Err((Cause::Errors, "answered 500, expected 200"))),
        (Some(Behaviour::Garbage), &http, Err((Cause::Errors, "answered with something that is not HTTP"))),
        (Some(Behaviour::Close), &http, Err((Cause::Errors, "closed the connection without an answer"))),
        (Some(Behaviour::Slow(Duration::from_secs(30))), &http, Err((Cause::Timeout, "no answer within 100ms"))),
    ];
    for (behaviour, check, expected) in cases {
        let origin = match &behaviour {
            Some(b) => Some(Origin::start("o", b.clone()).await),
            None => None,
        };
        let addr = origin.as_ref().map_or_else(dead_address, |o| o.addr);
        let got = bounded("a probe", probe::probe(addr, check, "a.test", limit)).await;
        let got = got.as_ref().map_err(|e| (e.cause, e.detail.as_str())).copied();
        assert_eq!(got, expected, "{behaviour:?} {check:?}");
    }
}

/// Tenant `a` (checked, its upstream a closed port), `b` (not checked, another closed port;
/// its host `b-maint.test` in maintenance) and `c` (checked, its upstream a name that does not
/// resolve); a window coming up for `a` only.
fn three_tenants(dead_a: SocketAddr, dead_b: SocketAddr) -> String {
    let check = "health = { tcp = true, interval = \"100ms\", timeout = \"100ms\", rise = 1, fall = 1 }";
    format!(
        "[defaults]\nzone = \"UTC\"\nlanguage = \"en\"\n\n[gateway]\nstatus_host = \"status.test\"\n\n\
         [[tenants]]\nid = \"a\"\nname = \"Alpha\"\nhosts = [\"a.test\"]\nupstreams = [\"{dead_a}\"]\n{check}\n\n\
         [[tenants]]\nid = \"b\"\nname = \"Beta\"\nhosts = [\"b.test\", \"b-maint.test\"]\nupstreams = [\"{dead_b}\"]\n\n\
         [[tenants]]\nid = \"c\"\nname = \"Gamma\"\nhosts = [\"c.test\"]\nupstreams = [\"nowhere.invalid:80\"]\n{check}\n\n\
         [[windows]]\nid = \"b-maint\"\nscope = {{ hosts = [\"b-maint.test\"] }}\nonce = {{ start = \"2020-01-01T00:00\" }}\n\
         title = {{ en = \"Beta on the bench\" }}\n\n\
         [[windows]]\nid = \"a-later\"\nscope = {{ tenants = [\"a\"] }}\nonce = {{ start = \"2026-06-01T00:00\", end = \"2026-06-01T01:00\" }}\n\
         title = {{ en = \"Alpha upgrade\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_stays_on_its_own_tenants_pages_and_no_public_page_tells_internals() {
    let (dead_a, dead_b) = (dead_address(), dead_address());
    let gw = TestGateway::start(&three_tenants(dead_a, dead_b), NOW).await;
    round(&gw, NOW).await;
    let log = gw.current.load().health.clone();
    let open = log.incidents().open();
    let of = |t: &str| open.iter().find(|i| i.tenant == t).map(|i| (i.cause, i.detail.clone()));
    assert_eq!(of("a"), Some((Cause::Unreachable, format!("{dead_a}: connection refused"))));
    assert!(of("c").is_some_and(|(_, detail)| detail.contains("nowhere.invalid")), "{open:?}");
    assert_eq!(of("b"), None, "b is not checked");

    let en = [("accept-language", "en")];
    let json = [("accept", "application/json")];
    // Alpha's own pages name its incident, in words; and its own upcoming window.
    let a = gw.get("a.test", "/", &en).await;
    assert_eq!((a.status, a.header("x-hiatus-failure")), (503, Some("no_upstream")));
    assert!(a.text().contains("Alpha: not reachable") && a.text().contains("Alpha upgrade"), "{}", a.text());
    let a_json = gw.get("a.test", "/", &json).await.json();
    assert_eq!(a_json["incidents"][0]["cause"], "unreachable", "{a_json}");
    // Beta's failure page and maintenance page (HTML and JSON) know nothing of Alpha or Gamma.
    let b_fail = gw.get("b.test", "/", &en).await;
    assert_eq!(b_fail.header("x-hiatus-failure"), Some("connection_refused"));
    let b_maint = gw.get("b-maint.test", "/", &en).await;
    assert_eq!(b_maint.marker(), "maintenance");
    assert!(b_maint.text().contains("Beta on the bench"));
    for page in [&b_fail, &b_maint] {
        for other in ["Alpha", "Gamma", "Current disruptions"] {
            assert!(!page.text().contains(other), "{other:?} on Beta's page:\n{}", page.text());
        }
    }
    for host in ["b.test", "b-maint.test"] {
        let j = gw.get(host, "/", &json).await.json();
        assert_eq!(j["incidents"], serde_json::json!([]), "{host}: {j}");
        assert!(!j.to_string().contains("Alpha"), "{host}: {j}");
    }

    // No public rendering names an upstream, an OS error or a resolver error.
    let mut public = Vec::new();
    for host in ["a.test", "b.test", "b-maint.test", "c.test"] {
        for headers in [&en[..], &json[..]] {
            public.push((format!("{host} {headers:?}"), gw.get(host, "/", headers).await.text()));
        }
    }
    for path in ["/", "/status.json", "/feed.atom", "/calendar.ics", "/calendar/a.ics", "/calendar/c.ics"] {
        let r = gw.get("status.test", path, &en).await;
        assert_eq!(r.status, 200, "{path}");
        public.push((format!("status.test{path}"), r.text().replace("\r\n ", "")));
    }
    let status_page = &public[8].1;
    assert!(
        status_page.contains("Alpha: not reachable") && status_page.contains("Gamma: not reachable"),
        "{status_page}"
    );
    let internals = [
        dead_a.to_string(),
        dead_b.to_string(),
        "127.0.0.1".to_string(),
        "onnection refused".to_string(),
        "os error".to_string(),
        "nowhere.invalid".to_string(),
        "resolve".to_string(),
        "lookup".to_string(),
        "Name or service".to_string(),
        "name resolution".to_string(),
    ];
    for (what, text) in &public {
        for secret in &internals {
            assert!(!text.contains(secret.as_str()), "{what} tells {secret:?}:\n{text}");
        }
    }
}

#[test]
fn health_keys_are_validated_with_their_key_paths() {
    let text = "[defaults]\nzone = \"UTC\"\n\n[gateway]\nhealth = { tcp = true, path = \"/h\" }\n\n\
                [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\
                health = { path = \"/h\", interval = \"1s\", timeout = \"5s\", rise = 0 }\n\n\
                [[tenants]]\nid = \"b\"\nhosts = [\"b{1..9}.test\"]\nupstreams = [\"127.0.0.{n}:80\"]\n\
                health = { tcp = true }\n\n\
                [[tenants]]\nid = \"c\"\nhosts = [\"c.test\"]\nupstreams = [\"127.0.0.1:1\"]\nhealth = { tpc = true }\n";
    let report = crate::support::load_err(text, std::path::Path::new("."));
    let paths: Vec<&str> = report.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "gateway.health.tcp",
            "tenants[0].health.timeout",
            "tenants[0].health.rise",
            "tenants[1].health",
            "tenants[2].health.tpc",
        ],
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary: prober loop, admin listener, metrics

/// `/state`'s entry for tenant `a`.
async fn state_of_a(admin: SocketAddr) -> serde_json::Value {
    let state = Client::connect(admin, None).await.request("GET", "admin", "/state", &[]).await.json();
    state["tenants"][0].clone()
}

/// Polls `/state` (bounded) until tenant `a`'s first upstream is `healthy` after a probe.
async fn until_health(admin: SocketAddr, healthy: bool) -> serde_json::Value {
    bounded("the prober to change the state", async {
        loop {
            let a = state_of_a(admin).await;
            let up = &a["health"]["upstreams"][0];
            if up["healthy"] == healthy && !up["last_probe"].is_null() {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_gateway_probes_reports_and_records_incidents() {
    let dir = TempDir::new("health-binary");
    let origin = Origin::start("o", Behaviour::Ok).await;
    let addr = origin.addr;
    let text = config(&dir, &[addr], 1, 1).replace(
        "[gateway]\n",
        "[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\nstatus_host = \"status.test\"\n",
    );
    let path = dir.write("hiatus.toml", &text);
    let gw = Running::start(&["run", "--config", &path.display().to_string()]);
    let (listen, admin) = gw.started();
    let admin = admin.expect("the admin listener is announced");

    let a = until_health(admin, true).await;
    assert_eq!(a["health"]["check"], serde_json::json!({ "path": "/healthz", "expect": 200 }));
    assert_eq!(a["health"]["upstreams"][0]["address"], addr.to_string());

    drop(origin);
    let a = until_health(admin, false).await;
    assert_eq!(a["health"]["upstreams"][0]["last_error"], "connection refused");
    assert!(a["health"]["upstreams"][0]["since"].is_string(), "{a}");
    let started = Instant::now();
    let r = Client::connect(listen, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (503, Some("no_upstream")));
    assert!(started.elapsed() < Duration::from_secs(2));
    let metrics = Client::connect(admin, None).await.request("GET", "admin", "/metrics", &[]).await.text();
    let gauge = format!("hiatus_upstream_healthy{{tenant=\"a\",upstream=\"{addr}\"}} 0");
    assert!(metrics.contains(&gauge), "missing {gauge:?} in\n{metrics}");
    let a = bounded("the incident to open", async {
        loop {
            let a = state_of_a(admin).await;
            if !a["incident"].is_null() {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // The operator learns the detail here; the public pages only the kind.
    assert_eq!(a["incident"]["cause"], "unreachable");
    assert_eq!(a["incident"]["detail"], format!("{addr}: connection refused"));
    assert_eq!(a["health"]["upstreams"][0]["last_cause"], "unreachable");
    let metrics = Client::connect(admin, None).await.request("GET", "admin", "/metrics", &[]).await.text();
    assert!(metrics.lines().any(|l| l == "hiatus_incidents_open 1"), "{metrics}");
    for path in ["/", "/status.json", "/feed.atom"] {
        let r =
            Client::connect(listen, None).await.request("GET", "status.test", path, &[("accept-language", "en")]).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text().contains("not reachable"), "{path}: {}", r.text());
        assert!(
            !r.text().contains(&addr.to_string()) && !r.text().contains("connection refused"),
            "{path}: {}",
            r.text()
        );
    }

    let _origin = origin_again(addr).await;
    until_health(admin, true).await;
    let r = Client::connect(listen, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!((r.status, r.marker()), (200, "proxied"));
    bounded("the incident to end", async {
        while !state_of_a(admin).await["incident"].is_null() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let metrics = Client::connect(admin, None).await.request("GET", "admin", "/metrics", &[]).await.text();
    assert!(metrics.lines().any(|l| l == "hiatus_incidents_open 0"), "{metrics}");
    let gauge = format!("hiatus_upstream_healthy{{tenant=\"a\",upstream=\"{addr}\"}} 1");
    assert!(metrics.contains(&gauge), "missing {gauge:?} in\n{metrics}");
    drop(gw);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let history = IncidentLog::load(&dir.0, now).expect("read the state folder").recent(0);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].end.is_some());
}
