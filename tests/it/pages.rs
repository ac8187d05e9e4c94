//! The fields of the gateway's own answers (issue 17 item 7), on both lanes: every page, the
//! status host's answers and the assets carry `Content-Security-Policy`,
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy`; a proxied response carries none of
//! them (the origin decides). `x-hiatus-generation` is shown only when `[gateway]
//! expose_generation` is on, then on every answer, ours and proxied.

use crate::gateway_support::{config, dead_address, t0, tenant, Behaviour, Origin, TestGateway};
use crate::scripted_origin::{Reply, ScriptedOrigin};
use std::net::SocketAddr;

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// Tenants `app` (open), `down` (in maintenance), `dead` (its upstream refuses), a status host.
fn pages_config(origin: SocketAddr, gateway: &str) -> String {
    let window =
        "[[windows]]\nid = \"now\"\nscope = { tenants = [\"down\"] }\nonce = { start = \"2024-11-14T00:00\" }\n";
    let body = tenant("app", &["app.test"], &[origin], "")
        + &tenant("down", &["down.test"], &[origin], "")
        + &tenant("dead", &["dead.test"], &[dead_address()], "")
        + window;
    config(&format!("status_host = \"status.test\"\n{gateway}"), &body)
}

/// (host, path, status, marker): one of each kind of answer.
const ANSWERS: [(&str, &str, u16, &str); 10] = [
    ("app.test", "/", 200, "proxied"),
    ("down.test", "/", 503, "maintenance"),
    ("dead.test", "/", 502, "upstream-error"),
    ("nobody.test", "/", 421, "unknown-host"),
    ("app.test", "/%zz", 400, "bad-request"),
    ("status.test", "/", 200, "status"),
    ("status.test", "/feed.atom", 200, "status"),
    ("app.test", "/.hiatus/hiatus.css", 200, "gateway"),
    ("app.test", "/.hiatus/reload.js", 200, "gateway"),
    ("app.test", "/.hiatus/nothing", 404, "gateway"),
];

/// The fields a response of `marker` must have, by name: `(csp, nosniff, referrer, generation)`.
type Fields = (Option<String>, Option<String>, Option<String>, Option<String>);

fn expected(marker: &str, generation: Option<&str>) -> Fields {
    let ours = marker != "proxied";
    (
        ours.then(|| CSP.to_string()),
        ours.then(|| "nosniff".to_string()),
        ours.then(|| "no-referrer".to_string()),
        generation.map(str::to_string),
    )
}

/// The four fields as a response of either lane has them.
fn fields(header: impl Fn(&str) -> Option<String>) -> Fields {
    (
        header("content-security-policy"),
        header("x-content-type-options"),
        header("referrer-policy"),
        header("x-hiatus-generation"),
    )
}

/// Every kind of answer on HTTP/1.1 and on h2c has exactly the expected fields.
async fn check(gw: &TestGateway, generation: Option<&str>) {
    let mut h2 = gw.h2().await;
    for (host, path, status, marker) in ANSWERS {
        let want = expected(marker, generation);
        let r = gw.get(host, path, &[]).await;
        assert_eq!((r.status, r.marker()), (status, marker), "HTTP/1.1 {host}{path}");
        assert_eq!(fields(|n| r.header(n).map(str::to_string)), want, "HTTP/1.1 {host}{path}");
        let r = h2.request("GET", &format!("http://{host}{path}"), &[]).await;
        assert_eq!((r.status, r.header("x-hiatus")), (status, Some(marker)), "h2c {host}{path}");
        assert_eq!(fields(|n| r.header(n).map(str::to_string)), want, "h2c {host}{path}");
    }
}

#[tokio::test]
async fn the_gateways_own_answers_carry_protective_fields_and_no_generation_by_default() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&pages_config(origin.addr, ""), t0()).await;
    check(&gw, None).await;
}

#[tokio::test]
async fn expose_generation_shows_the_generation_on_every_answer() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&pages_config(origin.addr, "expose_generation = true"), t0()).await;
    check(&gw, Some("1")).await;
}

/// An origin cannot make its response look like one of ours with a generation of its own: the
/// field is dropped whether the switch is on or off.
#[tokio::test]
async fn an_origins_own_generation_field_never_reaches_the_client() {
    let origin = ScriptedOrigin::start(|_| {
        Reply::keep(&b"HTTP/1.1 200 OK\r\nx-hiatus-generation: 99\r\nContent-Length: 2\r\n\r\nok"[..])
    })
    .await;
    for (gateway, shown) in [("", None), ("expose_generation = true", Some("1"))] {
        let gw = TestGateway::start(&pages_config(origin.addr, gateway), t0()).await;
        let r = gw.get("app.test", "/", &[]).await;
        assert_eq!((r.marker(), r.header("x-hiatus-generation")), ("proxied", shown), "{gateway:?}");
        let r = gw.h2().await.request("GET", "http://app.test/", &[]).await;
        assert_eq!(r.header("x-hiatus-generation"), shown, "h2c {gateway:?}");
    }
}
