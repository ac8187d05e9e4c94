//! The operator API (`/api/v1/` on the admin listener) against the real binary, over loopback
//! sockets, with the origin the test starts: windows created, replaced and cancelled and what
//! the maintenance page, status page and feed then show; emergencies on and off; a refused
//! change with every problem listed and the file byte for byte unchanged; `If-Match`,
//! `Idempotency-Key`, the token and the `Host` check; the operator's comments kept; the
//! OpenAPI description against the router's routes.
//!
//! Every wait is bounded; nothing sleeps to prove a point.

use crate::control::TempDir;
use crate::gateway_support::{bounded, Behaviour, Client, Origin, Response};
use crate::lifecycle::Running;
use chrono::{Duration, Utc};
use std::net::SocketAddr;
use std::path::PathBuf;

const TOKEN: &str = "api-test-token-0123456789";

/// What the operator wrote by hand before any API edit: the API must keep all of it.
const OPERATOR: &str = "\
# Operator changes for the test gateway.
# Keep this comment: the API must not drop it.

[[windows]]
# a hand-written window, commented
id = \"hand\"
zone = \"UTC\"   # always UTC here
scope = { tenants = [\"b\"] }
once = { start = \"2031-01-01T10:00\", end = \"2031-01-01T11:00\" }
";

/// A running gateway with its admin listener and operator file.
struct Gw {
    _running: Running,
    _origin: Origin,
    gateway: SocketAddr,
    admin: SocketAddr,
    operator: PathBuf,
    _dir: TempDir,
}

impl Gw {
    async fn start(name: &str, token: bool) -> Gw {
        Gw::start_with(name, token, "").await
    }

    /// With `extra` at the end of the main file.
    async fn start_with(name: &str, token: bool, extra: &str) -> Gw {
        let origin = Origin::start("api", Behaviour::Ok).await;
        let dir = TempDir::new(name);
        let operator = dir.write("operator.toml", OPERATOR);
        let token = if token { format!("admin_token = \"{TOKEN}\"\n") } else { String::new() };
        let text = format!(
            "include = [\"{op}\"]\n\n[defaults]\nzone = \"UTC\"\nlanguage = \"en\"\n\n\
             [gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\n{token}emergency_file = \"{op}\"\n\
             status_host = \"status.test\"\nstatus_path = \"/status\"\n\n\
             [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"{o}\"]\n\n\
             [[tenants]]\nid = \"b\"\nhosts = [\"b.test\"]\nupstreams = [\"{o}\"]\n\n\
             [[windows]]\nid = \"from-config\"\nscope = {{ tenants = [\"b\"] }}\n\
             weekly = {{ on = [\"sun\"], at = \"03:00\", until = \"04:00\" }}\n\n{extra}",
            op = operator.display(),
            o = origin.addr,
        );
        let main = dir.write("main.toml", &text).display().to_string();
        let running = Running::start(&["run", "--config", &main]);
        let (gateway, admin) = running.started();
        let admin = admin.expect("the admin address");
        // The admin line comes before pingora binds its service: wait (bounded) until it accepts.
        bounded("the admin listener", async {
            while tokio::net::TcpStream::connect(admin).await.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
        Gw { _running: running, _origin: origin, gateway, admin, operator, _dir: dir }
    }

    /// One request to the admin listener with `Host: 127.0.0.1` (loopback), the token when
    /// `auth`, and `body` as JSON.
    async fn call(&self, method: &str, path: &str, auth: bool, extra: &[(&str, &str)], body: Option<&str>) -> Response {
        let bearer = format!("Bearer {TOKEN}");
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if auth {
            headers.push(("Authorization", &bearer));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let mut c = Client::connect(self.admin, None).await;
        let body = body.unwrap_or("");
        // Bodiless writes still say so, as curl does.
        if body.is_empty() && method != "GET" {
            headers.push(("Content-Length", "0"));
        }
        c.send_request(method, "127.0.0.1", path, &headers, body.as_bytes()).await;
        c.response(false).await
    }

    async fn get(&self, host: &str, path: &str) -> Response {
        let mut c = Client::connect(self.gateway, None).await;
        c.request("GET", host, path, &[]).await
    }

    fn file(&self) -> String {
        std::fs::read_to_string(&self.operator).expect("the operator file")
    }
}

/// `YYYY-MM-DDTHH:MM` in UTC, `minutes` from now.
fn local(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M").to_string()
}

fn window(start: i64, end: i64, title: &str) -> String {
    serde_json::json!({
        "zone": "UTC",
        "scope": { "tenants": ["a"] },
        "once": { "start": local(start), "end": local(end) },
        "title": { "en": title },
        "reason": { "en": "Disk swap" },
    })
    .to_string()
}

fn is_problem(r: &Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let j = r.json();
    assert_eq!(j["status"], status);
    assert!(j["detail"].as_str().is_some_and(|d| !d.is_empty()), "{j}");
    j
}

/// The operator's hand-written lines are all still in the file.
fn comments_kept(text: &str) {
    for line in OPERATOR.lines().filter(|l| l.contains('#')) {
        assert!(text.contains(line), "{line:?} is gone:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_made_replaced_and_cancelled_through_the_api_change_the_pages_and_the_feed() {
    let gw = Gw::start("api-windows", true).await;
    assert_eq!(gw.get("a.test", "/").await.status, 200);

    let made = gw.call("PUT", "/api/v1/windows/disk-swap", true, &[], Some(&window(-60, 60, "Disk swap now"))).await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert!(made.json()["generation"].as_u64().is_some(), "{}", made.text());
    let page = gw.get("a.test", "/").await;
    assert_eq!((page.status, page.marker()), (503, "maintenance"));
    assert_eq!(gw.get("b.test", "/").await.status, 200, "the scope is tenant a only");
    let feed = gw.get("status.test", "/status/feed.atom").await.text();
    assert!(feed.contains("urn:hiatus:window:disk-swap:"), "{feed}");
    let status = gw.get("status.test", "/status/status.json").await.text();
    assert!(status.contains("disk-swap"), "{status}");
    let calendar = gw.get("status.test", "/status/calendar.ics").await.text();
    assert!(calendar.contains("X-HIATUS-WINDOW:disk-swap"), "{calendar}");
    let tenants = gw.call("GET", "/api/v1/tenants", true, &[], None).await.json();
    assert_eq!(tenants["tenants"][0]["state"], "maintenance", "{tenants}");
    assert_eq!(tenants["tenants"][0]["window"], "disk-swap");
    comments_kept(&gw.file());

    // Replaced by next week's: open again now, and the next start is known.
    let replaced =
        gw.call("PUT", "/api/v1/windows/disk-swap", true, &[], Some(&window(7 * 1440, 7 * 1440 + 60, "Later"))).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(gw.get("a.test", "/").await.status, 200);
    let tenants = gw.call("GET", "/api/v1/tenants", true, &[], None).await.json();
    assert_eq!(tenants["tenants"][0]["state"], "open");
    assert_eq!(tenants["tenants"][0]["next_window"], "disk-swap");
    let one = gw.call("GET", "/api/v1/windows/disk-swap", true, &[], None).await;
    assert_eq!(one.json()["window"]["title"]["en"], "Later");
    assert_eq!(one.header("etag"), replaced.header("etag"));

    // A window of a configuration file is listed but not the API's to cancel.
    let listed = gw.call("GET", "/api/v1/windows", true, &[], None).await.json();
    let sources: Vec<(String, String)> = listed["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .map(|w| (w["id"].as_str().unwrap_or("").into(), w["source"].as_str().unwrap_or("").into()))
        .collect();
    for expected in [("from-config", "config"), ("hand", "operator"), ("disk-swap", "operator")] {
        assert!(sources.contains(&(expected.0.into(), expected.1.into())), "{expected:?} in {sources:?}");
    }
    let refused = gw.call("DELETE", "/api/v1/windows/from-config", true, &[], None).await;
    assert!(is_problem(&refused, 409)["detail"].as_str().unwrap_or("").contains("configuration file"));
    is_problem(&gw.call("DELETE", "/api/v1/windows/nothing-such", true, &[], None).await, 404);

    let cancelled = gw.call("DELETE", "/api/v1/windows/disk-swap", true, &[], None).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    let calendar = gw.get("status.test", "/status/calendar.ics").await.text();
    assert!(!calendar.contains("disk-swap"), "cancelled: {calendar}");
    is_problem(&gw.call("GET", "/api/v1/windows/disk-swap", true, &[], None).await, 404);
    let text = gw.file();
    assert!(!text.contains("disk-swap"), "{text}");
    comments_kept(&text);
    assert!(text.starts_with(OPERATOR), "the hand-written part is byte for byte where it was:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergencies_switch_on_and_off_and_a_retried_post_is_replayed() {
    let gw = Gw::start("api-emergency", true).await;
    let body = r#"{"scope":["tenant:a"],"reason":"Database restore","id":"db"}"#;
    let key = [("Idempotency-Key", "k-1")];
    let on = gw.call("POST", "/api/v1/emergencies", true, &key, Some(body)).await;
    assert_eq!(on.status, 201, "{}", on.text());
    assert_eq!(on.json()["id"], "db");
    let page = gw.get("a.test", "/").await;
    assert_eq!((page.status, page.marker()), (503, "maintenance"));
    let tenants = gw.call("GET", "/api/v1/tenants", true, &[], None).await.json();
    assert_eq!(tenants["tenants"][0]["state"], "emergency", "{tenants}");

    // The same key and body: the first answer again, and no second window.
    let again = gw.call("POST", "/api/v1/emergencies", true, &key, Some(body)).await;
    assert_eq!((again.status, again.text()), (201, on.text()));
    assert_eq!(gw.file().matches("id = \"db\"").count(), 1);
    // The same key with another body is refused.
    let other = r#"{"scope":["all"],"reason":"Something else"}"#;
    is_problem(&gw.call("POST", "/api/v1/emergencies", true, &key, Some(other)).await, 422);
    // Without the key a second `db` is a conflict, as with the CLI.
    is_problem(&gw.call("POST", "/api/v1/emergencies", true, &[], Some(body)).await, 409);

    let off = gw.call("DELETE", "/api/v1/emergencies/db", true, &[], None).await;
    assert_eq!(off.status, 200, "{}", off.text());
    assert!(off.json()["switched_off"][0]["end"].as_str().is_some(), "{}", off.text());
    // Switched off in the second it was switched on, it ends a second later (an end lies after
    // the start, as with the CLI): open again within that second, not at once.
    bounded("tenant a open again", async {
        while gw.get("a.test", "/").await.status != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    is_problem(&gw.call("DELETE", "/api/v1/emergencies/db", true, &[], None).await, 409);
    is_problem(&gw.call("DELETE", "/api/v1/emergencies/nope", true, &[], None).await, 404);
    let text = gw.file();
    assert!(text.contains("id = \"db\""), "the record stays: {text}");
    comments_kept(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_window_lists_every_problem_and_changes_nothing() {
    let gw = Gw::start("api-invalid", true).await;
    let before = std::fs::read(&gw.operator).expect("the operator file");
    let bad = serde_json::json!({
        "zone": "Mars/Olympus",
        "scope": { "tenants": ["a"] },
        "weekly": { "on": ["someday"], "at": "25:00", "until": "99:00" },
    })
    .to_string();
    let r = gw.call("PUT", "/api/v1/windows/broken", true, &[], Some(&bad)).await;
    let j = is_problem(&r, 422);
    let paths: Vec<&str> = j["errors"].as_array().expect("errors").iter().filter_map(|e| e["path"].as_str()).collect();
    for key in ["zone", "weekly.on", "weekly.at", "weekly.until"] {
        assert!(paths.iter().any(|p| p.contains(key)), "{key} in {paths:?}");
    }
    assert!(paths.len() >= 4, "every problem: {paths:?}");
    assert_eq!(std::fs::read(&gw.operator).expect("the operator file"), before, "byte for byte unchanged");

    // JSON TOML cannot hold: every key named.
    let nulls = r#"{"once":{"start":null},"title":{"en":null}}"#;
    let j = is_problem(&gw.call("PUT", "/api/v1/windows/broken", true, &[], Some(nulls)).await, 422);
    assert_eq!(j["errors"].as_array().map(Vec::len), Some(2), "{j}");
    is_problem(&gw.call("PUT", "/api/v1/windows/broken", true, &[], Some("{not json")).await, 400);
    is_problem(&gw.call("PUT", "/api/v1/windows/a%20b", true, &[], Some("{}")).await, 400);
    assert_eq!(std::fs::read(&gw.operator).expect("the operator file"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_refuses_a_write_over_a_version_it_did_not_see() {
    let gw = Gw::start("api-if-match", true).await;
    let listed = gw.call("GET", "/api/v1/windows", true, &[], None).await;
    let etag = listed.header("etag").expect("an ETag").to_string();
    let first =
        gw.call("PUT", "/api/v1/windows/one", true, &[("If-Match", &etag)], Some(&window(600, 660, "One"))).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_ne!(first.header("etag"), Some(etag.as_str()));
    // A second operator still holding the old ETag: refused, and the first edit stays.
    let before = gw.file();
    let second =
        gw.call("PUT", "/api/v1/windows/two", true, &[("If-Match", &etag)], Some(&window(600, 660, "Two"))).await;
    is_problem(&second, 412);
    assert_eq!(gw.file(), before);
    let fresh = first.header("etag").expect("an ETag").to_string();
    let third =
        gw.call("PUT", "/api/v1/windows/two", true, &[("If-Match", &fresh)], Some(&window(600, 660, "Two"))).await;
    assert_eq!(third.status, 201, "{}", third.text());
    let text = gw.file();
    assert!(text.contains("id = \"one\"") && text.contains("id = \"two\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_need_the_configured_token() {
    let gw = Gw::start("api-auth", true).await;
    let before = std::fs::read(&gw.operator).expect("the operator file");
    let body = window(600, 660, "x");
    let no_token = gw.call("PUT", "/api/v1/windows/x", false, &[], Some(&body)).await;
    is_problem(&no_token, 401);
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));
    let wrong =
        gw.call("PUT", "/api/v1/windows/x", false, &[("Authorization", "Bearer wrong-token")], Some(&body)).await;
    is_problem(&wrong, 401);
    is_problem(&gw.call("POST", "/api/v1/emergencies", false, &[], Some("{}")).await, 401);
    assert_eq!(std::fs::read(&gw.operator).expect("the operator file"), before);

    // With a token configured, reads need it too, whatever `Host` says.
    let mut c = Client::connect(gw.admin, None).await;
    is_problem(&c.request("GET", "localhost", "/api/v1/tenants", &[]).await, 401);

    // Bodies: JSON only, with a length.
    let mut c = Client::connect(gw.admin, None).await;
    let auth = format!("Bearer {TOKEN}");
    let text_body = [("Authorization", auth.as_str()), ("Content-Type", "text/plain")];
    c.send_request("PUT", "127.0.0.1", "/api/v1/windows/x", &text_body, b"{}").await;
    is_problem(&c.response(false).await, 415);
    let mut c = Client::connect(gw.admin, None).await;
    let chunked = format!(
        "PUT /api/v1/windows/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
    );
    c.send(chunked.as_bytes()).await;
    is_problem(&c.response(false).await, 411);
    is_problem(&gw.call("PATCH", "/api/v1/windows/x", true, &[], None).await, 405);
    is_problem(&gw.call("GET", "/api/v1/nothing", true, &[], None).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_api_only_reads_and_only_for_a_loopback_host() {
    let gw = Gw::start("api-no-token", false).await;
    assert_eq!(gw.call("GET", "/api/v1/tenants", false, &[], None).await.status, 200);
    // A rebound name reaches loopback too: refused.
    let mut c = Client::connect(gw.admin, None).await;
    is_problem(&c.request("GET", "evil.example", "/api/v1/tenants", &[]).await, 403);
    let mut c = Client::connect(gw.admin, None).await;
    assert_eq!(c.request("GET", "localhost:1234", "/api/v1/tenants", &[]).await.status, 200);
    let r = gw.call("PUT", "/api/v1/windows/x", false, &[], Some(&window(600, 660, "x"))).await;
    assert!(is_problem(&r, 403)["detail"].as_str().unwrap_or("").contains("admin_token"));
}

/// An incident posted by an operator: on the status page (escaped), in `status.json` and the
/// feed, and told to a webhook as opened, updated and resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_incident_reaches_the_status_page_the_feed_and_a_webhook() {
    let hook = Origin::start("hook", Behaviour::Ok).await;
    let target = format!("[[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"http://{}/hook\"\n", hook.addr);
    let gw = Gw::start_with("api-incident", true, &target).await;
    let opened = r#"{"id":"db-1","title":{"en":"Database trouble"},"text":{"en":"We are <restoring>"},
                     "severity":"critical","tenants":["a"]}"#;
    let r = gw.call("POST", "/api/v1/incidents", true, &[], Some(opened)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let json = gw.get("status.test", "/status/status.json").await.json();
    let incident = &json["incidents"][0];
    assert_eq!((incident["id"].as_str(), incident["title"].as_str()), (Some("db-1"), Some("Database trouble")));
    assert_eq!(incident["text"], "We are <restoring>");
    assert!(incident["end"].is_null());
    let page = gw.get("status.test", "/status").await.text();
    assert!(page.contains("Database trouble") && page.contains("We are &lt;restoring&gt;"), "{page}");
    let feed = gw.get("status.test", "/status/feed.atom").await.text();
    assert!(feed.contains("urn:hiatus:incident:db-1") && feed.contains("Database trouble"), "{feed}");

    let tenants = gw.call("GET", "/api/v1/tenants", true, &[], None).await.json();
    assert_eq!(tenants["tenants"][0]["incidents"][0]["id"], "db-1", "{tenants}");
    assert_eq!(tenants["tenants"][1]["incidents"].as_array().map(Vec::len), Some(0), "b is not affected");

    let update = r#"{"text":{"en":"Half of it is back"}}"#;
    let r = gw.call("POST", "/api/v1/incidents/db-1/updates", true, &[], Some(update)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let json = gw.get("status.test", "/status/status.json").await.json();
    assert_eq!(json["incidents"][0]["text"], "Half of it is back");
    let r = gw.call("POST", "/api/v1/incidents/db-1/resolve", true, &[], Some("{}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let json = gw.get("status.test", "/status/status.json").await.json();
    assert!(json["incidents"][0]["end"].is_string(), "{json}");
    is_problem(&gw.call("POST", "/api/v1/incidents/db-1/resolve", true, &[], Some("{}")).await, 409);
    is_problem(&gw.call("POST", "/api/v1/incidents/nope/updates", true, &[], Some(update)).await, 404);

    // The webhook hears of each step once.
    let kinds = || -> Vec<String> {
        hook.seen()
            .iter()
            .filter_map(|s| serde_json::from_slice::<serde_json::Value>(&s.body).ok())
            .filter_map(|j| j["kind"].as_str().map(str::to_string))
            .collect()
    };
    bounded("the webhook to hear of the incident", async {
        while kinds().len() < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(kinds(), ["incident.opened", "incident.updated", "incident.resolved"]);
    // Each tells the incident's title and the text of its step, in the target's language.
    let told: Vec<serde_json::Value> =
        hook.seen().iter().filter_map(|s| serde_json::from_slice(&s.body).ok()).collect();
    let texts: Vec<(&str, &str)> = told
        .iter()
        .map(|b| (b["incident"]["title"].as_str().unwrap_or(""), b["incident"]["text"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        texts,
        [
            ("Database trouble", "We are <restoring>"),
            ("Database trouble", "Half of it is back"),
            ("Database trouble", "Half of it is back")
        ]
    );
    let sentence = told[1]["text"].as_str().unwrap_or("");
    assert_eq!(sentence, "Incident update: Database trouble (a): Half of it is back", "{}", told[1]);

    // An incident for a tenant nobody has: every problem listed, nothing written.
    let before = std::fs::read(&gw.operator).expect("the operator file");
    let bad = r#"{"title":{"xx":"?"},"severity":"loud","tenants":["nobody"]}"#;
    let j = is_problem(&gw.call("POST", "/api/v1/incidents", true, &[], Some(bad)).await, 422);
    let paths: Vec<&str> = j["errors"].as_array().expect("errors").iter().filter_map(|e| e["path"].as_str()).collect();
    for key in ["severity", "title.xx", "tenants[0]"] {
        assert!(paths.iter().any(|p| p.ends_with(key)), "{key} in {paths:?}");
    }
    assert_eq!(std::fs::read(&gw.operator).expect("the operator file"), before);
    comments_kept(&gw.file());
}

/// `hiatus api` sends the same requests from the command line: exit 0 with the answer on
/// stdout, 2 with every finding on stderr for a change the configuration refuses, 1 without
/// the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_calls_the_api() {
    let gw = Gw::start("api-cli", true).await;
    let admin = format!("http://{}", gw.admin);
    let hiatus = |args: &[&str], token: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hiatus"));
        c.arg("api").args(args).args(["--admin", &admin]).env_remove("HIATUS_ADMIN_TOKEN");
        if let Some(t) = token {
            c.env("HIATUS_ADMIN_TOKEN", t);
        }
        c.output().expect("run hiatus api")
    };
    let data = window(600, 660, "From the CLI");
    let made = tokio::task::block_in_place(|| hiatus(&["PUT", "windows/from-cli", "--data", &data], Some(TOKEN)));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let out: serde_json::Value = serde_json::from_slice(&made.stdout).expect("JSON on stdout");
    assert_eq!(out["created"], true);
    assert!(gw.file().contains("id = \"from-cli\""));

    let bad = r#"{"zone":"Mars/Olympus","daily":{"at":"25:00","until":"01:00"}}"#;
    let refused = tokio::task::block_in_place(|| hiatus(&["put", "windows/from-cli", "--data", bad], Some(TOKEN)));
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("422") && err.contains("zone") && err.contains("daily.at"), "{err}");

    let no_token = tokio::task::block_in_place(|| hiatus(&["DELETE", "windows/from-cli"], None));
    assert_eq!(no_token.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("401"));
    let listed = tokio::task::block_in_place(|| hiatus(&["GET", "tenants"], Some(TOKEN)));
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
}

/// `docs/openapi.json` is a valid OpenAPI 3.1 document by `openapi-spec-validator` (in the
/// venv `scripts/bootstrap.sh` makes; missing, the test fails rather than skips).
#[test]
fn the_openapi_description_is_valid() {
    let python = crate::status::feedcheck_python();
    let file = crate::support::root().join("docs/openapi.json");
    let out = std::process::Command::new(python)
        .args(["-c", "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')"])
        .arg(&file)
        .output()
        .expect("run the validator");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid");
}

/// The paths and methods of `docs/openapi.json` are exactly the router's, and the admin
/// listener serves that file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_description_names_exactly_the_routes() {
    let doc: serde_json::Value =
        serde_json::from_str(hiatus::control::api::OPENAPI).expect("docs/openapi.json is JSON");
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let mut described: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys().filter(|k| *k != "parameters") {
            described.push((method.to_uppercase(), path.clone()));
        }
    }
    described.sort();
    let mut routes: Vec<(String, String)> =
        hiatus::control::api::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routes.sort();
    assert_eq!(described, routes);

    let gw = Gw::start("api-openapi", true).await;
    let served = bounded("the description", gw.call("GET", "/api/v1/openapi.json", true, &[], None)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), doc);
    // And the router answers each of them (a route it does not know is a 404 or a 405).
    for (method, path) in hiatus::control::api::ROUTES {
        let r = gw.call(method, &path.replace("{id}", "zzz"), true, &[], None).await;
        let j = if r.status >= 400 { r.json() } else { serde_json::Value::Null };
        assert!(
            r.status != 405 && !j["detail"].as_str().unwrap_or("").contains("no such endpoint"),
            "{method} {path}: {j}"
        );
    }
}

/// `GET incidents` and `GET incidents/{id}`: what operators posted, with every language and
/// update, the file's version as `ETag`; an unknown id is a 404 problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_incidents_are_listed_with_their_updates() {
    let gw = Gw::start("api-incident-list", true).await;
    let none = gw.call("GET", "/api/v1/incidents", true, &[], None).await;
    assert_eq!((none.status, none.json()["incidents"].as_array().map(Vec::len)), (200, Some(0)), "{}", none.text());
    let opened = r#"{"id":"db-1","title":{"en":"Database trouble","de":"Datenbankstörung"},
                     "text":{"en":"Looking"},"severity":"info","tenants":["a","b"]}"#;
    assert_eq!(gw.call("POST", "/api/v1/incidents", true, &[], Some(opened)).await.status, 201);
    let r = gw.call("POST", "/api/v1/incidents/db-1/updates", true, &[], Some(r#"{"text":{"en":"Found"}}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let written = r.header("etag").map(str::to_string);

    let list = gw.call("GET", "/api/v1/incidents", true, &[], None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.header("etag").map(str::to_string), written, "the version after the last write");
    let all = list.json();
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(1), "{all}");
    let one = gw.call("GET", "/api/v1/incidents/db-1", true, &[], None).await.json();
    assert_eq!(one, all["incidents"][0]);
    assert_eq!((one["id"].as_str(), one["severity"].as_str()), (Some("db-1"), Some("info")));
    assert_eq!(one["tenants"], serde_json::json!(["a", "b"]));
    assert_eq!(one["title"], serde_json::json!({ "en": "Database trouble", "de": "Datenbankstörung" }));
    let texts: Vec<&str> =
        one["updates"].as_array().expect("updates").iter().filter_map(|u| u["text"]["en"].as_str()).collect();
    assert_eq!(texts, ["Looking", "Found"]);
    assert!(one["start"].is_string() && one["end"].is_null(), "{one}");
    assert!(one["updates"][0]["at"].is_string(), "{one}");
    is_problem(&gw.call("GET", "/api/v1/incidents/nope", true, &[], None).await, 404);
    is_problem(&gw.call("DELETE", "/api/v1/incidents/db-1", true, &[], None).await, 405);
}

/// A body over the admin listener's limit is refused like every other API error: a problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413_problem_and_writes_nothing() {
    let gw = Gw::start("api-too-large", true).await;
    let before = gw.file();
    let big = format!(r#"{{"scope":["all"],"reason":"{}"}}"#, "x".repeat(70 * 1024));
    let r = gw.call("POST", "/api/v1/emergencies", true, &[], Some(&big)).await;
    let j = is_problem(&r, 413);
    assert!(j["detail"].as_str().is_some_and(|d| d.contains("65536")), "{j}");
    assert_eq!(gw.file(), before);
    // Outside the API the admin listener keeps its plain answer.
    let mut c = Client::connect(gw.admin, None).await;
    let bearer = format!("Bearer {TOKEN}");
    c.send_request("POST", "127.0.0.1", "/reload", &[("Authorization", &bearer)], &vec![b'x'; 70_000]).await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.header("content-type")), (413, Some("text/plain")));
}

/// An `info` incident is a notice: shown, but its tenant stays operational; a `critical` one
/// disrupts its tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_info_incident_is_a_notice_and_disrupts_nobody() {
    let gw = Gw::start("api-incident-notice", true).await;
    let info = r#"{"id":"heads-up","title":{"en":"New login page"},"severity":"info","tenants":["a"]}"#;
    assert_eq!(gw.call("POST", "/api/v1/incidents", true, &[], Some(info)).await.status, 201);
    let critical = r#"{"id":"down","title":{"en":"Database trouble"},"severity":"critical","tenants":["b"]}"#;
    assert_eq!(gw.call("POST", "/api/v1/incidents", true, &[], Some(critical)).await.status, 201);
    let json = gw.get("status.test", "/status/status.json").await.json();
    let state = |id: &str| {
        json["tenants"].as_array().and_then(|ts| ts.iter().find(|t| t["id"] == id)).map(|t| t["state"].clone())
    };
    assert_eq!(state("a"), Some("operational".into()), "{json}");
    assert_eq!(state("b"), Some("disruption".into()), "{json}");
    let notice = |id: &str| {
        json["incidents"].as_array().and_then(|xs| xs.iter().find(|x| x["id"] == id)).map(|x| x["notice"].clone())
    };
    assert_eq!((notice("heads-up"), notice("down")), (Some(true.into()), Some(false.into())), "{json}");
    let page = gw.get("status.test", "/status").await.text();
    assert!(page.contains("Notice · ") && page.contains("New login page"), "{page}");
    assert_eq!(page.matches("Notice · ").count(), 1, "only the info incident is a notice");
}
