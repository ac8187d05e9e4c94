//! The gateway end to end: real sockets, real origins, the real pingora request path
//! (`server::serve`), a manual clock. Sections follow issue 3, item 6: routing, maintenance,
//! bypass, upstream failures, malformed requests.
//!
//! Instants: `T0` is Thursday 2024-11-14 10:00 UTC (11:00 in Berlin, 05:00 in New York).

use crate::gateway_support::{
    config, dead_address, lo, t0, tenant, Behaviour, H2Client, Origin, Response, TestGateway,
};
use crate::support::{at, golden};
use std::net::SocketAddr;
use std::time::Duration;

/// A window for `tenants`, in Berlin time.
fn window(id: &str, tenants: &[&str], when: &str, extra: &str) -> String {
    let tenants: Vec<String> = tenants.iter().map(|t| format!("{t:?}")).collect();
    format!("[[windows]]\nid = \"{id}\"\nscope = {{ tenants = [{}] }}\n{when}\n{extra}\n\n", tenants.join(", "))
}

/// The request id in a response header, and the body with it replaced by `REQUEST-ID`.
fn normalised(r: &Response) -> String {
    let id = r.header("x-request-id").expect("x-request-id on every gateway answer");
    assert!(id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "request id {id:?}");
    r.text().replace(id, "REQUEST-ID")
}

/// The page's `<title>`.
fn title(r: &Response) -> String {
    let text = r.text();
    let start = text.find("<title>").map_or(0, |i| i + 7);
    let end = text[start..].find("</title>").map_or(start, |i| start + i);
    text[start..end].to_string()
}

// =============================================================================================
// 1. Routing

#[tokio::test]
async fn routes_by_host_and_path_prefix() {
    let (a, b, c) = tokio::join!(
        Origin::start("a", Behaviour::Ok),
        Origin::start("b", Behaviour::Ok),
        Origin::start("c", Behaviour::Ok)
    );
    let body = tenant("a", &["a.test", "*.a.test"], &[a.addr], "")
        + &tenant("b", &["shared.test"], &[b.addr], "path = \"/mandant-b\"")
        + &tenant("c", &["shared.test"], &[c.addr], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let cases = [
        ("a.test", "/", "a GET /"),
        ("A.Test.:8080", "/x?q=1", "a GET /x?q=1"),
        ("www.a.test", "/deep/path", "a GET /deep/path"),
        ("shared.test", "/mandant-b", "b GET /mandant-b"),
        ("shared.test", "/mandant-b/x", "b GET /mandant-b/x"),
        ("shared.test", "/mandant-bx", "c GET /mandant-bx"),
        ("shared.test", "/", "c GET /"),
    ];
    let mut client = gw.client().await;
    for (host, path, expected) in cases {
        let r = client.request("GET", host, path, &[]).await;
        assert_eq!((r.status, r.text().as_str(), r.marker()), (200, expected, "proxied"), "{host}{path}");
        assert!(r.header("x-request-id").is_some(), "{host}{path}: no request id");
    }
    assert_eq!((a.hits(), b.hits(), c.hits()), (3, 2, 2));
    // A request body reaches the origin intact, with method and path.
    client
        .send_request("PUT", "shared.test", "/mandant-b/doc", &[("Content-Type", "text/plain")], b"hello\r\n\r\nbody")
        .await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "b PUT /mandant-b/doc"));
    let seen = b.seen().pop().expect("the PUT");
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str(), &seen.body[..]),
        ("PUT", "/mandant-b/doc", &b"hello\r\n\r\nbody"[..])
    );
    // The request id the client gets is the one the origin saw.
    let r = gw.get("a.test", "/id", &[]).await;
    assert_eq!(
        a.seen().last().and_then(|s| s.header("x-request-id").map(str::to_string)).as_deref(),
        r.header("x-request-id")
    );
}

#[tokio::test]
async fn round_robin_over_two_upstreams() {
    let (one, two) = tokio::join!(Origin::start("one", Behaviour::Ok), Origin::start("two", Behaviour::Ok));
    let gw = TestGateway::start(&config("", &tenant("rr", &["rr.test"], &[one.addr, two.addr], "")), t0()).await;
    let mut client = gw.client().await;
    let mut order = Vec::new();
    for i in 0..6 {
        let r = client.request("GET", "rr.test", &format!("/{i}"), &[]).await;
        assert_eq!(r.status, 200);
        order.push(r.header("x-origin").unwrap_or("?").to_string());
    }
    assert_eq!(order, ["one", "two", "one", "two", "one", "two"]);
    assert_eq!((one.hits(), two.hits()), (3, 3));
}

#[tokio::test]
async fn host_number_fills_the_upstream_template() {
    // Two origins on the same port of 127.0.0.1 and 127.0.0.2: `127.0.0.{n}:PORT`.
    let mut pair = None;
    for _ in 0..20 {
        let first = Origin::start("www1", Behaviour::Ok).await;
        let other = SocketAddr::new(lo(2), first.addr.port());
        if let Some(second) = Origin::start_on(other, "www2", Behaviour::Ok).await {
            pair = Some((first, second));
            break;
        }
    }
    let (one, two) = pair.expect("a port free on both 127.0.0.1 and 127.0.0.2");
    let port = one.addr.port();
    let body = format!(
        "[[tenants]]\nid = \"farm\"\nhosts = [\"www{{1..3}}.farm.test\"]\nupstreams = [\"127.0.0.{{n}}:{port}\"]\n"
    );
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    for (host, expected) in [("www1.farm.test", "www1"), ("www2.farm.test", "www2"), ("WWW1.farm.test", "www1")] {
        let r = client.request("GET", host, "/", &[]).await;
        assert_eq!((r.status, r.header("x-origin")), (200, Some(expected)), "{host}");
    }
    assert_eq!((one.hits(), two.hits()), (2, 1));
    // www3 names 127.0.0.3, where nothing listens: refused, not sent to another host's origin.
    let r = client.request("GET", "www3.farm.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("connection_refused")));
    assert_eq!((one.hits(), two.hits()), (2, 1));
}

#[tokio::test]
async fn forwarded_headers_are_set_and_spoofing_is_replaced() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(
        &config("trusted_proxies = [\"127.0.0.3\"]", &tenant("app", &["app.test"], &[origin.addr], "")),
        t0(),
    )
    .await;
    let spoof = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
        ("Forwarded", "for=6.6.6.6;proto=https"),
    ];
    // (client address, expected X-Forwarded-For, -Proto, -Host)
    let cases = [
        (1, "127.0.0.1", "http", "app.test:8080"),
        (2, "127.0.0.2", "http", "app.test:8080"),
        // A trusted proxy's chain is extended with the proxy itself, and its proto/host believed.
        (3, "6.6.6.6, 127.0.0.3", "https", "evil.test"),
    ];
    for (from, xff, proto, host) in cases {
        let mut client = gw.client_from(from).await;
        let r = client.request("GET", "app.test:8080", "/", &spoof).await;
        assert_eq!(r.status, 200);
        let seen = origin.seen().pop().expect("the origin got the request");
        let got = (seen.header("x-forwarded-for"), seen.header("x-forwarded-proto"), seen.header("x-forwarded-host"));
        assert_eq!(got, (Some(xff), Some(proto), Some(host)), "client 127.0.0.{from}");
        let xffs = seen.headers.iter().filter(|(n, _)| n == "x-forwarded-for").count();
        assert_eq!(xffs, 1, "one X-Forwarded-For, not the client's plus ours");
        // RFC 7239: the client's own elements only from the trusted proxy, ours always.
        let forwarded = match from {
            3 => "for=6.6.6.6;proto=https, for=127.0.0.3;proto=http;host=\"app.test:8080\"".to_string(),
            n => format!("for=127.0.0.{n};proto=http;host=\"app.test:8080\""),
        };
        assert_eq!(seen.all("forwarded"), [forwarded.as_str()], "client 127.0.0.{from}");
    }
    // Without spoofed headers a client gets its own address and the Host it asked for.
    let r = gw.get("app.test", "/", &[]).await;
    assert_eq!(r.status, 200);
    let seen = origin.seen().pop().expect("request");
    assert_eq!(
        (seen.header("x-forwarded-for"), seen.header("x-forwarded-proto"), seen.header("x-forwarded-host")),
        (Some("127.0.0.1"), Some("http"), Some("app.test"))
    );
}

#[tokio::test]
async fn keep_alive_serves_every_kind_of_answer_on_one_connection() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &tenant("down", &["down.test"], &[origin.addr], "")
        + &window("emergency", &["down"], "once = { start = \"2024-11-14T00:00\" }", "");
    let gw = TestGateway::start(&config("bypass = { secret = \"0123456789abcdef-secret\" }", &body), t0()).await;
    let mut client = gw.client().await;
    let steps = [
        ("GET", "app.test", "/1", 200, "proxied"),
        ("GET", "down.test", "/", 503, "maintenance"),
        ("GET", "app.test", "/2", 200, "proxied"),
        ("GET", "nobody.test", "/", 421, "unknown-host"),
        ("HEAD", "down.test", "/", 503, "maintenance"),
        ("GET", "app.test", "/.hiatus/bypass/wrong-secret-000000", 404, "gateway"),
        ("GET", "app.test", "/.hiatus/hiatus.css", 200, "gateway"),
        ("HEAD", "app.test", "/3", 200, "proxied"),
        ("GET", "app.test", "/4", 200, "proxied"),
    ];
    for (method, host, path, status, marker) in steps {
        let r = client.request(method, host, path, &[]).await;
        assert_eq!((r.status, r.marker()), (status, marker), "{method} {host}{path}");
        assert_eq!(r.header("connection"), Some("keep-alive"), "{method} {host}{path}");
    }
    // A POST with a body answered by the gateway: the body is drained, the connection stays.
    client.send_request("POST", "down.test", "/form", &[], b"field=value&other=1").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.header("connection")), (503, Some("keep-alive")));
    let r = client.request("GET", "app.test", "/5", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /5"));
    assert_eq!(origin.hits(), 5, "HEAD /3 and GET /1 /2 /4 /5");
}

#[tokio::test]
async fn h2c_is_proxied_and_routed_by_authority() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &tenant("down", &["down.test"], &[origin.addr], "")
        + &window("emergency", &["down"], "once = { start = \"2024-11-14T00:00\", end = \"2024-11-14T12:00\" }", "")
        + &tenant("dead", &["dead.test"], &[dead_address()], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut h2 = gw.h2().await;
    // No Host header: the request names its host in :authority only.
    let r = h2.request("GET", "http://app.test/over-h2", &[]).await;
    assert_eq!((r.status, r.text().as_str(), r.header("x-hiatus")), (200, "o GET /over-h2", Some("proxied")));
    let seen = origin.seen().pop().expect("request");
    assert_eq!((seen.header("host"), seen.header("x-forwarded-host")), (Some("app.test"), Some("app.test")));
    // More streams on the same connection: maintenance, HEAD, unknown host.
    let r = h2.request("GET", "http://down.test/", &[("accept-language", "de")]).await;
    assert_eq!((r.status, r.header("x-hiatus"), r.header("content-language")), (503, Some("maintenance"), Some("de")));
    assert_eq!(r.header("retry-after"), Some("Thu, 14 Nov 2024 11:00:00 GMT"));
    assert!(r.text().contains("Voraussichtliches Ende"), "{}", r.text());
    let full = r.body.len();
    let r = h2.request("HEAD", "http://down.test/", &[("accept-language", "de")]).await;
    assert_eq!((r.status, r.body.len()), (503, 0), "HEAD over h2 has no body");
    assert_eq!(r.header("content-length"), Some(full.to_string().as_str()), "HEAD keeps the real length");
    let r = h2.request("GET", "http://nobody.test/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus")), (421, Some("unknown-host")));
    // An upstream failure ends only its stream, not the connection.
    let r = h2.request("GET", "http://dead.test/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("connection_refused")));
    assert!(r.text().contains(r.header("x-request-id").expect("request id")));
    let r = h2.request("GET", "http://app.test/again", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /again"));
    assert_eq!(origin.hits(), 2);
}

#[tokio::test]
async fn unknown_hosts_get_421_and_reach_no_origin() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let mut client = gw.client().await;
    let r = client.request("GET", "nobody.test:8080", "/", &[]).await;
    assert_eq!((r.status, r.marker()), (421, "unknown-host"));
    assert_eq!(title(&r), "421 · Unknown address");
    assert!(r.text().contains("No service is offered at nobody.test:8080"), "{}", r.text());
    let r =
        client.request("GET", "nobody.test", "/", &[("Accept", "application/json"), ("Accept-Language", "nb")]).await;
    assert_eq!((r.status, r.header("content-type")), (421, Some("application/problem+json")));
    let j = r.json();
    assert_eq!(
        (j["type"].as_str(), j["host"].as_str(), j["status"].as_u64()),
        (Some("urn:hiatus:unknown_host"), Some("nobody.test"), Some(421))
    );
    assert_eq!(j["request_id"].as_str(), r.header("x-request-id"));
    // An address of a tenant's upstream is not a tenant either.
    let r = client.request("GET", &origin.addr.to_string(), "/", &[]).await;
    assert_eq!(r.status, 421);
    assert_eq!(origin.hits(), 0, "nothing reached the origin");
}

#[tokio::test]
async fn unknown_host_status_and_default_tenant_are_configurable() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let tenants = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("unknown_host_status = 404", &tenants), t0()).await;
    assert_eq!(gw.get("nobody.test", "/", &[]).await.status, 404);
    let gw = TestGateway::start(&config("default_tenant = \"app\"", &tenants), t0()).await;
    let r = gw.get("nobody.test", "/x", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /x"));
}

// =============================================================================================
// 2. Maintenance

/// `shop` (New York, German) in maintenance at T0: two back-to-back windows, Berlin
/// 10:30–13:00 and 13:00–15:00 (09:30–14:00 UTC, 04:30–09:00 in New York).
fn shop_config(origin: SocketAddr) -> String {
    let body = tenant(
        "shop",
        &["shop.test"],
        &[origin],
        "name = \"Shop & Co\"\nzone = \"America/New_York\"\nlanguage = \"de\"",
    ) + &window(
        "update",
        &["shop"],
        "once = { start = \"2024-11-14T10:30\", end = \"2024-11-14T13:00\" }",
        "title = { de = \"Geplantes Update\", en = \"Planned update\" }\n\
             reason = { de = \"Neue Version <2.0>\", en = \"New version <2.0>\" }",
    ) + &window(
        "migration",
        &["shop"],
        "once = { start = \"2024-11-14T13:00\", end = \"2024-11-14T15:00\" }",
        "title = { de = \"Datenmigration\", en = \"Data migration\" }",
    );
    config("", &body)
}

#[tokio::test]
async fn maintenance_answers_503_with_the_merged_end() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(origin.addr), t0()).await;
    let r = gw.get("shop.test", "/cart", &[]).await;
    assert_eq!(r.status, 503);
    let headers = [
        ("retry-after", "Thu, 14 Nov 2024 14:00:00 GMT"),
        ("cache-control", "no-store"),
        ("content-language", "de"),
        ("content-type", "text/html; charset=utf-8"),
        ("vary", "Accept, Accept-Language"),
        ("x-hiatus", "maintenance"),
    ];
    for (name, value) in headers {
        assert_eq!(r.all(name), [value], "{name}");
    }
    assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()));
    assert_eq!(origin.hits(), 0, "a request in maintenance never reaches the origin");
}

#[tokio::test]
async fn maintenance_page_speaks_the_tenants_zone_and_the_asked_language() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(origin.addr), t0()).await;
    // (Accept-Language, Content-Language, title, words that must appear)
    let cases: &[(Option<&str>, &str, &str, &[&str])] = &[
        (
            None,
            "de",
            "Geplantes Update · Shop &amp; Co",
            &[
                "Neue Version &lt;2.0&gt;",
                "Seit</dt><dd>Donnerstag, 14. November 2024, 04:30 Uhr EST",
                "Voraussichtliches Ende</dt>\n<dd id=\"end\">Donnerstag, 14. November 2024, 09:00 Uhr EST",
                "Shop &amp; Co ist wegen Wartungsarbeiten",
            ],
        ),
        (
            Some("en-US,en;q=0.9"),
            "en",
            "Planned update · Shop &amp; Co",
            &["New version &lt;2.0&gt;", "Expected end</dt>\n<dd id=\"end\">Thursday 14 November 2024, 09:00 EST"],
        ),
        // Norwegian words; the window has no Norwegian title, so the default language's.
        (
            Some("nb"),
            "nb",
            "Planned update · Shop &amp; Co",
            &["Forventet slutt", "torsdag 14. november 2024 kl. 09:00 EST"],
        ),
        (Some("fr, nb;q=0.5"), "nb", "Planned update · Shop &amp; Co", &["Forventet slutt"]),
        // Nothing supported: the tenant's language.
        (Some("fr, es;q=0.5"), "de", "Geplantes Update · Shop &amp; Co", &["Voraussichtliches Ende"]),
        (Some("de-AT;q=0.2, en;q=0.9"), "en", "Planned update · Shop &amp; Co", &["Expected end"]),
    ];
    let mut client = gw.client().await;
    for (accept_language, lang, expected_title, words) in cases {
        let headers: Vec<(&str, &str)> = accept_language.iter().map(|l| ("Accept-Language", *l)).collect();
        let r = client.request("GET", "shop.test", "/", &headers).await;
        assert_eq!((r.status, r.header("content-language")), (503, Some(*lang)), "{accept_language:?}");
        assert_eq!(&title(&r), expected_title, "{accept_language:?}");
        let text = r.text();
        assert!(text.contains(&format!("<html lang=\"{lang}\">")), "{accept_language:?}");
        for w in *words {
            assert!(text.contains(w), "{accept_language:?}: {w:?} missing in\n{text}");
        }
        assert!(!text.contains("<2.0>"), "the reason is escaped");
    }
}

#[tokio::test]
async fn maintenance_json_for_clients_that_prefer_it() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(origin.addr), t0()).await;
    let cases = [
        ("application/json", true),
        ("application/problem+json", true),
        ("text/html;q=0.9, application/json", true),
        ("application/json;q=0.5, text/html", false),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false),
        ("*/*", false),
        ("application/json;q=0", false),
    ];
    let mut client = gw.client().await;
    for (accept, json) in cases {
        let r = client.request("GET", "shop.test", "/api", &[("Accept", accept), ("Accept-Language", "en")]).await;
        assert_eq!(r.status, 503, "{accept}");
        let expected_type = if json { "application/problem+json" } else { "text/html; charset=utf-8" };
        assert_eq!(r.header("content-type"), Some(expected_type), "{accept}");
        if json {
            let j = r.json();
            let mut keys: Vec<&str> = j.as_object().expect("an object").keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "detail",
                    "firm_until",
                    "incidents",
                    "since",
                    "status",
                    "status_url",
                    "tenant",
                    "tentative",
                    "title",
                    "type",
                    "until",
                    "window"
                ]
            );
            assert_eq!(j["type"], "urn:hiatus:maintenance");
            assert_eq!(j["status"], 503);
            assert_eq!(j["title"], "Planned update");
            assert_eq!(j["detail"], "New version <2.0>");
            assert_eq!(j["tenant"], "shop");
            assert_eq!(j["window"], "update");
            assert_eq!(j["incidents"], serde_json::json!([]), "the tenant has no open incident");
            assert_eq!(j["since"], "2024-11-14T09:30:00Z");
            assert_eq!(j["until"], "2024-11-14T14:00:00Z");
            assert_eq!(j["tentative"], false);
        }
    }
}

#[tokio::test]
async fn head_gets_the_headers_only_and_the_connection_stays() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(origin.addr), t0()).await;
    let mut client = gw.client().await;
    let get = client.request("GET", "shop.test", "/", &[]).await;
    client.send_request("HEAD", "shop.test", "/", &[], b"").await;
    let head = client.response(true).await;
    assert_eq!((head.status, head.marker()), (503, "maintenance"));
    assert_eq!(head.header("content-length"), Some(get.body.len().to_string().as_str()));
    assert_eq!(head.header("retry-after"), get.header("retry-after"));
    // No body bytes may follow the HEAD answer: the next response must start right away.
    let next = client.request("GET", "shop.test", "/", &[("Accept", "application/json")]).await;
    assert_eq!((next.status, next.header("content-type")), (503, Some("application/problem+json")));
}

#[tokio::test]
async fn open_ended_maintenance_has_no_retry_after_unless_configured() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &window("emergency", &["app"], "once = { start = \"2024-11-14T09:00\" }", "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let r = gw.get("app.test", "/", &[]).await;
    assert_eq!((r.status, r.header("retry-after")), (503, None));
    assert!(r.text().contains("The end is not known yet."), "{}", r.text());
    // Configured: a delay in seconds, which stays true however long the cached page is served.
    let gw = TestGateway::start(&config("retry_after_open_ended = \"10m\"", &body), t0()).await;
    let r = gw.get("app.test", "/", &[]).await;
    assert_eq!((r.status, r.header("retry-after")), (503, Some("600")));
    gw.clock.advance(3600);
    let r = gw.get("app.test", "/", &[]).await;
    assert_eq!((r.status, r.header("retry-after")), (503, Some("600")), "an hour later, still a delay");
}

#[tokio::test]
async fn a_tentative_tail_says_possibly_longer() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &window(
            "upgrade",
            &["app"],
            "once = { start = \"2024-11-14T10:00\", end = \"2024-11-14T16:00\", tentative_from = \"2024-11-14T13:00\" }",
            "",
        );
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    let r = client.request("GET", "app.test", "/", &[]).await;
    assert_eq!(r.status, 503);
    assert!(
        r.text().contains("Thursday 14 November 2024, 13:00 CET<br><span class=\"possible\">possibly longer, until Thursday 14 November 2024, 16:00 CET"),
        "{}",
        r.text()
    );
    assert_eq!(r.header("retry-after"), Some("Thu, 14 Nov 2024 15:00:00 GMT"), "the latest possible end");
    let j = client.request("GET", "app.test", "/", &[("Accept", "application/json")]).await.json();
    assert_eq!(
        (j["firm_until"].as_str(), j["until"].as_str(), j["tentative"].as_bool()),
        (Some("2024-11-14T12:00:00Z"), Some("2024-11-14T15:00:00Z"), Some(true))
    );
}

#[tokio::test]
async fn a_window_starts_and_ends_as_the_clock_moves() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    // Berlin 12:00–12:30 = 11:00–11:30 UTC.
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &window("short", &["app"], "once = { start = \"2024-11-14T12:00\", end = \"2024-11-14T12:30\" }", "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    let steps = [
        ("2024-11-14T10:59:59Z", 200, None),
        ("2024-11-14T11:00Z", 503, Some("Thu, 14 Nov 2024 11:30:00 GMT")),
        ("2024-11-14T11:29:59Z", 503, Some("Thu, 14 Nov 2024 11:30:00 GMT")),
        ("2024-11-14T11:30Z", 200, None),
    ];
    for (now, status, retry_after) in steps {
        gw.clock.set(at(now));
        let r = client.request("GET", "app.test", "/", &[]).await;
        assert_eq!((r.status, r.header("retry-after")), (status, retry_after), "at {now}");
        assert_eq!(r.marker(), if status == 200 { "proxied" } else { "maintenance" }, "at {now}");
    }
    assert_eq!(origin.hits(), 2);
}

#[tokio::test]
async fn golden_pages() {
    let gw_origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(gw_origin.addr), t0()).await;
    let r = gw.get("shop.test", "/", &[("Accept-Language", "de")]).await;
    golden("tests/golden/pages/maintenance-de.html", &normalised(&r));
    // A refused connection, with a window coming up (Berlin 23:00–23:30 = 22:00 UTC).
    let body = tenant("dead", &["dead.test"], &[dead_address()], "name = \"Dead <Inc>\"")
        + &window(
            "nightly",
            &["dead"],
            "once = { start = \"2024-11-14T23:00\", end = \"2024-11-14T23:30\" }",
            "title = { en = \"Nightly backup\" }",
        );
    let gw = TestGateway::start(&config("status_url = \"https://status.example/\"", &body), t0()).await;
    let r = gw.get("dead.test", "/", &[("Accept-Language", "en")]).await;
    assert_eq!(r.status, 502);
    assert!(normalised(&r).contains("<code>REQUEST-ID</code>"), "the page shows the request id");
    golden("tests/golden/pages/error-refused-en.html", &normalised(&r));
}

// =============================================================================================
// 3. Bypass

const SECRET: &str = "0123456789abcdef-secret";

/// `app` in open-ended maintenance, with every kind of bypass configured.
fn bypass_config(origin: SocketAddr) -> String {
    let gateway = format!(
        "trusted_proxies = [\"127.0.0.3/32\"]\n\n[gateway.bypass]\nallow = [\"127.0.0.1/32\", \"198.51.100.0/24\"]\n\
         secret = \"{SECRET}\"\ncookie_ttl = \"1h\"\npaths = [\"/.well-known/acme-challenge/\"]\n"
    );
    let body = tenant("app", &["app.test"], &[origin], "")
        + &window("emergency", &["app"], "once = { start = \"2024-11-14T00:00\" }", "");
    config(&gateway, &body)
}

#[tokio::test]
async fn allowlisted_addresses_pass_and_forwarded_for_is_believed_only_from_trusted_proxies() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&bypass_config(origin.addr), t0()).await;
    // (client address, X-Forwarded-For, status)
    let cases = [
        (1, None, 200),
        (2, None, 503),
        // An untrusted client cannot claim an allowed address.
        (2, Some("127.0.0.1"), 503),
        (2, Some("198.51.100.7"), 503),
        // A trusted proxy speaks for its client: the rightmost untrusted hop counts.
        (3, Some("198.51.100.7"), 200),
        (3, Some("203.0.113.9"), 503),
        (3, Some("198.51.100.7, 203.0.113.9"), 503),
        (3, Some("203.0.113.9, 198.51.100.7"), 200),
        (3, Some("not-an-address"), 503),
        // The proxy itself is not allowed.
        (3, None, 503),
    ];
    for (from, xff, status) in cases {
        let mut client = gw.client_from(from).await;
        let headers: Vec<(&str, &str)> = xff.iter().map(|x| ("X-Forwarded-For", *x)).collect();
        let r = client.request("GET", "app.test", "/", &headers).await;
        let marker = if status == 200 { "proxied" } else { "maintenance" };
        assert_eq!((r.status, r.marker()), (status, marker), "from 127.0.0.{from}, X-Forwarded-For {xff:?}");
    }
    assert_eq!(origin.hits(), 3);
}

#[tokio::test]
async fn the_secret_url_sets_a_cookie_that_passes_until_it_expires() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&bypass_config(origin.addr), t0()).await;
    let mut client = gw.client_from(2).await;
    for wrong in
        ["/.hiatus/bypass/0123456789abcdef-secreT", "/.hiatus/bypass/", "/.hiatus/bypass/x/../0123456789abcdef-secreT"]
    {
        let r = client.request("GET", "app.test", wrong, &[]).await;
        assert_eq!((r.status, r.header("set-cookie")), (404, None), "{wrong}");
        assert_eq!(title(&r), "404 · Not found");
    }
    let r = client.request("GET", "app.test", &format!("/.hiatus/bypass/{SECRET}"), &[]).await;
    assert_eq!((r.status, r.header("location"), r.marker()), (303, Some("/"), "gateway"));
    let set_cookie = r.header("set-cookie").expect("a cookie").to_string();
    assert!(set_cookie.contains("; Max-Age=3600; HttpOnly; SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().expect("name=value").to_string();
    assert!(cookie.starts_with("hiatus_bypass="), "{cookie}");
    let with_cookie = [("Cookie", format!("theme=dark; {cookie}"))];
    let with_cookie: Vec<(&str, &str)> = with_cookie.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let r = client.request("GET", "app.test", "/admin", &with_cookie).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /admin"));
    // A forged expiry does not pass.
    let forged = cookie.replacen("hiatus_bypass=1", "hiatus_bypass=2", 1);
    let r = client.request("GET", "app.test", "/admin", &[("Cookie", forged.as_str())]).await;
    assert_eq!(r.status, 503, "{forged}");
    gw.clock.advance(3599);
    assert_eq!(client.request("GET", "app.test", "/", &with_cookie).await.status, 200);
    gw.clock.advance(1);
    assert_eq!(client.request("GET", "app.test", "/", &with_cookie).await.status, 503, "expired");
    assert_eq!(origin.hits(), 2);
}

/// `Expect: 100-continue` on a proxied request: the gateway answers 100 Continue itself as soon
/// as the request is decided (the origin here never would), and the origin gets the body without
/// the expectation. In maintenance the client gets the 503 instead, without a 100.
#[tokio::test]
async fn expect_100_continue_is_answered_by_the_gateway() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "")
        + &tenant("down", &["down.test"], &[origin.addr], "")
        + &window("emergency", &["down"], "once = { start = \"2024-11-14T00:00\" }", "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    client.send(b"POST /form HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").await;
    let interim = tokio::time::timeout(Duration::from_secs(2), client.try_response(true))
        .await
        .expect("a 100 Continue before the body is sent")
        .expect("an interim response");
    assert_eq!(interim.status, 100);
    client.send(b"hello").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o POST /form"));
    let seen = origin.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].body.as_slice(), seen[0].header("expect")), (&b"hello"[..], None));

    let mut client = gw.client().await;
    client.send(b"POST /form HTTP/1.1\r\nHost: down.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.marker()), (503, "maintenance"));
    assert_eq!(origin.hits(), 1);
}

/// HTTP/2 clients send each cookie in a field of its own (RFC 9113 §8.2.3): the bypass cookie
/// counts in any of them, for requests with a body or without (a `POST` once read only the first
/// field).
#[tokio::test]
async fn over_h2_the_bypass_cookie_counts_in_any_cookie_field() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&bypass_config(origin.addr), t0()).await;
    let r = gw.client_from(2).await.request("GET", "app.test", &format!("/.hiatus/bypass/{SECRET}"), &[]).await;
    let set_cookie = r.header("set-cookie").expect("a cookie").to_string();
    let cookie = set_cookie.split(';').next().expect("name=value").to_string();
    let mut h2 = H2Client::connect_from(gw.addr, 2).await;
    for method in ["GET", "POST"] {
        let r = h2.request(method, "http://app.test/admin", &[("cookie", "theme=dark"), ("cookie", &cookie)]).await;
        assert_eq!((r.status, r.text()), (200, format!("o {method} /admin")), "{method}, the cookie second");
        let r = h2.request(method, "http://app.test/admin", &[("cookie", "theme=dark"), ("cookie", "lang=de")]).await;
        assert_eq!(r.status, 503, "{method} without the bypass cookie");
    }
    assert_eq!(origin.hits(), 2);
}

#[tokio::test]
async fn always_pass_paths_and_the_gateways_own_assets() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&bypass_config(origin.addr), t0()).await;
    let mut client = gw.client_from(2).await;
    let r = client.request("GET", "app.test", "/.well-known/acme-challenge/token", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /.well-known/acme-challenge/token"));
    let r = client.request("GET", "app.test", "/.well-known/other", &[]).await;
    assert_eq!(r.status, 503);
    // The prefix cannot be used to reach other paths: the origin would resolve these.
    for escape in [
        "/.well-known/acme-challenge/../../admin",
        "/.well-known/acme-challenge/%2e%2E/%2e%2e/admin",
        "/.well-known/acme-challenge/..%2f..%2fadmin",
        "/.well-known/acme-challenge/..\\..\\admin",
    ] {
        let r = client.request("GET", "app.test", escape, &[]).await;
        assert_eq!((r.status, r.marker()), (503, "maintenance"), "{escape}");
    }
    let r = client.request("GET", "app.test", "/.hiatus/hiatus.css", &[]).await;
    assert_eq!((r.status, r.header("content-type"), r.marker()), (200, Some("text/css; charset=utf-8"), "gateway"));
    assert!(!r.body.is_empty());
    let r = client.request("GET", "app.test", "/.hiatus/logo.svg", &[]).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/svg+xml")));
    let r = client.request("GET", "app.test", "/.hiatus/nothing", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(origin.hits(), 1, "only the ACME request reached the origin");
}

// =============================================================================================
// 4. Upstream failures

/// One tenant per origin behaviour, read timeout 300 ms.
async fn failing_origins() -> (Vec<(&'static str, Origin)>, String) {
    let behaviours = [
        ("slow", Behaviour::Slow(Duration::from_secs(30))),
        ("reset", Behaviour::Reset),
        ("close", Behaviour::Close),
        ("garbage", Behaviour::Garbage),
        ("half", Behaviour::HalfBody),
        ("status503", Behaviour::Status(503)),
        ("status500", Behaviour::Status(500)),
        ("empty502", Behaviour::EmptyStatus(502)),
        ("chunked503", Behaviour::ChunkedStatus(503)),
    ];
    let mut origins = Vec::new();
    let mut body = String::new();
    for (name, behaviour) in behaviours {
        let origin = Origin::start(name, behaviour).await;
        body += &tenant(name, &[&format!("{name}.test")], &[origin.addr], "read_timeout = \"300ms\"");
        body += &tenant(
            &format!("{name}-r"),
            &[&format!("{name}-r.test")],
            &[origin.addr],
            "read_timeout = \"300ms\"\nreplace_upstream_errors = true",
        );
        origins.push((name, origin));
    }
    body += &tenant("dead", &["dead.test"], &[dead_address()], "");
    (origins, body)
}

#[tokio::test]
async fn upstream_failures_get_a_page_that_says_what_happened() {
    let (_origins, body) = failing_origins().await;
    let gw = TestGateway::start(&config("", &body), t0()).await;
    // (host, status, x-hiatus-failure, heading)
    let cases = [
        ("dead.test", 502, "connection_refused", "Server not reachable"),
        ("slow.test", 504, "read_timeout", "The server took too long"),
        ("reset.test", 502, "connection_reset", "Connection lost"),
        ("close.test", 502, "connection_reset", "Connection lost"),
        ("garbage.test", 502, "invalid_response", "Invalid answer"),
    ];
    for (host, status, failure, heading) in cases {
        let started = std::time::Instant::now();
        let mut client = gw.client().await;
        let r = client.request("GET", host, "/", &[]).await;
        assert_eq!(
            (r.status, r.marker(), r.header("x-hiatus-failure")),
            (status, "upstream-error", Some(failure)),
            "{host}"
        );
        assert_eq!(title(&r), format!("{status} · {heading}"), "{host}");
        let id = r.header("x-request-id").expect("request id");
        assert!(r.text().contains(&format!("<code>{id}</code>")), "{host}: the page shows the request id");
        assert!(r.text().contains(&format!("HTTP {status} · {failure}")), "{host}");
        assert_eq!((r.header("cache-control"), r.header("retry-after")), (Some("no-store"), None), "{host}");
        // The request was read whole and the answer is complete: the client's connection
        // stays (as with nginx), and the next request on it is answered.
        assert_eq!(r.header("connection"), Some("keep-alive"), "{host}");
        let again = client.request("GET", host, "/", &[]).await;
        assert_eq!(again.header("x-hiatus-failure"), Some(failure), "{host}: the second answer on the connection");
        assert!(started.elapsed() < Duration::from_secs(3), "{host}: took {:?}", started.elapsed());
        // JSON for JSON clients.
        let r = gw.get(host, "/", &[("Accept", "application/json"), ("Accept-Language", "de")]).await;
        let j = r.json();
        assert_eq!(
            (j["type"].as_str(), j["status"].as_u64()),
            (Some(format!("urn:hiatus:{failure}").as_str()), Some(status as u64)),
            "{host}"
        );
        assert_eq!(
            (j["tenant"].as_str(), j["request_id"].as_str()),
            (host.strip_suffix(".test"), r.header("x-request-id"))
        );
        assert_eq!(r.header("content-language"), Some("de"));
    }
}

/// A connection keeps one timer for its upstream reads and moves it before each read. A
/// tenant with a short `read_timeout` after one with a long timeout on the same client
/// connection must still get its own, earlier deadline.
#[tokio::test]
async fn a_short_read_timeout_after_a_long_one_on_one_connection_still_applies() {
    let fast = Origin::start("fast", Behaviour::Ok).await;
    let slow = Origin::start("slow", Behaviour::Slow(Duration::from_secs(30))).await;
    let body = tenant("fast", &["fast.test"], &[fast.addr], "read_timeout = \"60s\"")
        + &tenant("slow", &["slow.test"], &[slow.addr], "read_timeout = \"300ms\"");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    for round in 0..2 {
        let r = client.request("GET", "fast.test", "/", &[]).await;
        assert_eq!(r.status, 200, "round {round}");
        let started = std::time::Instant::now();
        let r = client.request("GET", "slow.test", "/", &[]).await;
        assert_eq!((r.status, r.header("x-hiatus-failure")), (504, Some("read_timeout")), "round {round}");
        assert!(started.elapsed() < Duration::from_secs(5), "round {round}: took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn a_response_cut_short_is_not_replaced_but_the_connection_closes() {
    let (_origins, body) = failing_origins().await;
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    client.send_request("GET", "half.test", "/", &[], b"").await;
    let cut = client.try_response(false).await.expect_err("the body is incomplete");
    assert!(cut.contains("closed after 10 of 1000 body bytes"), "{cut}");
}

#[tokio::test]
async fn upstream_error_statuses_pass_or_are_replaced() {
    let (origins, body) = failing_origins().await;
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    // (host, status, x-hiatus, x-hiatus-failure, body contains)
    let cases = [
        ("status503.test", 503, "proxied", None, "origin status503 says 503"),
        ("status500.test", 500, "proxied", None, "origin status500 says 500"),
        ("empty502.test", 502, "proxied", None, ""),
        ("status503-r.test", 503, "upstream-error", Some("upstream_error"), "reports an error (503)"),
        // Only 502–504 are replaced.
        ("status500-r.test", 500, "proxied", None, "origin status500 says 500"),
        ("empty502-r.test", 502, "upstream-error", Some("upstream_error"), "reports an error (502)"),
        ("chunked503.test", 503, "proxied", None, "chunked says 503"),
        ("chunked503-r.test", 503, "upstream-error", Some("upstream_error"), "reports an error (503)"),
    ];
    for (host, status, marker, failure, words) in cases {
        client.send_request("GET", host, "/", &[], b"").await;
        let r = client.try_response(false).await.unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(
            (r.status, r.all("x-hiatus"), r.header("x-hiatus-failure")),
            (status, vec![marker], failure),
            "{host}"
        );
        assert!(r.text().contains(words), "{host}: {words:?} not in {}", r.text());
        assert_eq!(r.header("connection"), Some("keep-alive"), "{host}: an answered request keeps the connection");
        // HEAD on the same connection: headers only, and the connection still works after it.
        client.send_request("HEAD", host, "/", &[], b"").await;
        let head = client.try_response(true).await.unwrap_or_else(|e| panic!("HEAD {host}: {e}"));
        assert_eq!((head.status, head.marker()), (status, marker), "HEAD {host}");
    }
    let hits: usize = origins.iter().map(|(_, o)| o.hits()).sum();
    assert_eq!(hits, 2 * cases.len());
    // The same over HTTP/2, where a missing body would leave the stream short.
    let mut h2 = gw.h2().await;
    for (host, status, marker, _, words) in cases {
        let r = h2.request("GET", &format!("http://{host}/"), &[]).await;
        assert_eq!((r.status, r.header("x-hiatus")), (status, Some(marker)), "h2 {host}");
        assert!(r.text().contains(words), "h2 {host}: {words:?} not in {}", r.text());
        if let Some(length) = r.header("content-length") {
            assert_eq!(length, r.body.len().to_string(), "h2 {host}: the body is as long as announced");
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_tried_on_the_next_upstream_for_every_method() {
    let (good, good2) = tokio::join!(Origin::start("good", Behaviour::Ok), Origin::start("good2", Behaviour::Ok));
    let dead = dead_address();
    let body = tenant("get", &["get.test"], &[dead, good.addr], "")
        + &tenant("post", &["post.test"], &[dead, good2.addr], "")
        + &tenant("deadboth", &["deadboth.test"], &[dead, dead_address()], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    // The first request of a tenant starts at its first upstream: the dead one.
    let r = gw.get("get.test", "/once", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "good GET /once"));
    assert_eq!(good.hits(), 1);
    // Nothing reached the refusing upstream, so a POST goes to the next one too (as nginx and
    // HAProxy retry a failed connect); a request that reached an upstream is never repeated.
    let mut client = gw.client().await;
    client.send_request("POST", "post.test", "/order", &[], b"{\"qty\":1}").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "good2 POST /order"));
    assert_eq!(good2.hits(), 1);
    let r = gw.get("deadboth.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("connection_refused")));
}

#[tokio::test]
async fn the_failure_page_mentions_maintenance_coming_or_in_force() {
    let dead = dead_address();
    let body = tenant("dead", &["dead.test"], &[dead], "language = \"de\"")
        + &window(
            "nightly",
            &["dead"],
            "daily = { at = \"23:00\", until = \"23:30\" }",
            "title = { de = \"Nächtliche Sicherung\", en = \"Nightly backup\" }",
        );
    let gw = TestGateway::start(&config("[gateway.bypass]\npaths = [\"/api/\"]", &body), t0()).await;
    let r = gw.get("dead.test", "/", &[]).await;
    assert_eq!(r.status, 502);
    assert!(
        r.text().contains(
            "<h2>Geplante Wartung</h2><p>Nächtliche Sicherung: Donnerstag, 14. November 2024, 23:00 Uhr CET</p>"
        ),
        "{}",
        r.text()
    );
    // In the window, a bypassed request whose upstream fails hears about the maintenance.
    gw.clock.set(at("2024-11-14T22:10Z"));
    let r = gw.get("dead.test", "/api/x", &[("Accept-Language", "en")]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("connection_refused")));
    assert!(
        r.text().contains(
            "<h2>Maintenance in progress</h2><p>Nightly backup: Expected end Thursday 14 November 2024, 23:30 CET</p>"
        ),
        "{}",
        r.text()
    );
    assert_eq!(gw.get("dead.test", "/", &[]).await.status, 503);
}

#[tokio::test]
async fn a_connect_timeout_on_a_full_backlog() {
    // A listener that never accepts, with a backlog of one: once the accept queue is full,
    // Linux drops further SYNs, so a connect can only time out.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("address");
    let mut fillers = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(150), tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the backlog never filled up after {} connections", fillers.len());
    let body = tenant("stuck", &["stuck.test"], &[addr], "connect_timeout = \"200ms\"");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let started = std::time::Instant::now();
    let r = gw.get("stuck.test", "/", &[]).await;
    assert_eq!((r.status, r.header("x-hiatus-failure")), (504, Some("connect_timeout")));
    assert!(title(&r).contains("Server does not answer"), "{}", title(&r));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    drop(listener);
}

// =============================================================================================
// 5. Malformed requests

#[tokio::test]
async fn malformed_hosts_get_a_400_page_and_nothing_panics() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let long = format!("{}.test", "a".repeat(300));
    let ua = "User-Agent: hiatus-test\r\n";
    // (request, status, x-hiatus): `refused` where the head itself is refused (a plain 400, and
    // the connection closes: nothing of such a request is trusted).
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (format!("GET / HTTP/1.1\r\nHost: ex ample\r\n{ua}\r\n").into_bytes(), 400, "bad-request"),
        // HTTP/1.1 requires Host (refused at the head, as nginx does); HTTP/1.0 may leave it
        // out and then names no tenant's host.
        (format!("GET / HTTP/1.1\r\n{ua}\r\n").into_bytes(), 400, "refused"),
        (format!("GET / HTTP/1.0\r\n{ua}\r\n").into_bytes(), 421, "unknown-host"),
        (format!("GET / HTTP/1.1\r\nHost: \r\n{ua}\r\n").into_bytes(), 400, "bad-request"),
        (format!("GET / HTTP/1.1\r\nHost: {long}\r\n\r\n").into_bytes(), 400, "bad-request"),
        (b"GET / HTTP/1.1\r\nHost: <script>alert(1)</script>\r\n\r\n".to_vec(), 400, "bad-request"),
        (b"GET / HTTP/1.1\r\nHost: \xff\xfe.test\r\n\r\n".to_vec(), 400, "bad-request"),
        (b"GET / HTTP/1.1\r\nHost: app.test:99999\r\n\r\n".to_vec(), 400, "bad-request"),
        (b"GET / HTTP/1.1\r\nHost: app.test:80:80\r\n\r\n".to_vec(), 400, "bad-request"),
        (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n".to_vec(), 421, "unknown-host"),
        (b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: evil.test\r\n\r\n".to_vec(), 400, "refused"),
        (b"GET http://app.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n".to_vec(), 400, "refused"),
        (b"GET http://app.test/abs HTTP/1.1\r\nHost: app.test\r\n\r\n".to_vec(), 200, "proxied"),
        (b"GET /a%00b HTTP/1.1\r\nHost: app.test\r\n\r\n".to_vec(), 400, "bad-request"),
    ];
    for (raw, status, marker) in &cases {
        let shown = String::from_utf8_lossy(raw).into_owned();
        let mut client = gw.client().await;
        client.send(raw).await;
        let r = client.try_response(false).await.unwrap_or_else(|e| panic!("{shown:?}: {e}"));
        if *marker == "refused" {
            assert_eq!(
                (r.status, r.marker(), r.header("connection")),
                (400, "bad-request", Some("close")),
                "{shown:?}"
            );
            assert!(client.closed().await, "{shown:?}");
            continue;
        }
        assert_eq!((r.status, r.marker()), (*status, *marker), "{shown:?}");
        let text = r.text();
        assert!(!text.contains("<script") && !text.contains("alert(1)"), "{shown:?}: request text in the page");
        if *marker == "bad-request" {
            assert_eq!(title(&r), "400 · Bad request", "{shown:?}");
            if shown.contains("HTTP/1.0") {
                // HTTP/1.0 without `Connection: keep-alive` is not switched to keep-alive.
                assert_eq!(r.header("connection"), Some("close"), "{shown:?}");
                assert!(client.closed().await, "{shown:?}");
                continue;
            }
            assert_eq!(r.header("connection"), Some("keep-alive"), "{shown:?}");
            // The connection stays usable after a bad request.
            let next = client.request("GET", "app.test", "/after", &[]).await;
            assert_eq!(next.status, 200, "{shown:?}: the next request");
        }
    }
    let r = gw.get("nobody.test", "/", &[("Accept", "application/json")]).await;
    assert_eq!(r.json()["host"], "nobody.test");
    let proxied = cases.iter().filter(|c| c.1 == 200).count();
    let after =
        cases.iter().filter(|c| c.2 == "bad-request" && !String::from_utf8_lossy(&c.0).contains("HTTP/1.0")).count();
    assert_eq!(origin.hits(), proxied + after, "only well-formed requests reached the origin");
}

#[tokio::test]
async fn malformed_negotiation_headers_still_get_a_page() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = TestGateway::start(&shop_config(origin.addr), t0()).await;
    // (header lines, Content-Type, Content-Language)
    let html = "text/html; charset=utf-8";
    let cases: Vec<(&[u8], &str, &str)> = vec![
        (b"Accept: ;;;q=abc,,,\r\n", html, "de"),
        (b"Accept: application/json;q=abc\r\n", html, "de"),
        (b"Accept: application/json;q=2, text/html;q=0.1\r\n", html, "de"),
        (b"Accept: \xff\xfe\r\n", html, "de"),
        (b"Accept-Language: \xff;q=2\r\n", html, "de"),
        (b"Accept-Language: en;q=2\r\n", html, "de"),
        (b"Accept-Language: ,,,;q=,en-\r\n", html, "en"),
        (b"Accept-Language: *\r\n", html, "de"),
        (b"Accept: application/json\r\nAccept-Language: nb;q=0.001, en;q=0\r\n", "application/problem+json", "nb"),
    ];
    let mut client = gw.client().await;
    for (lines, content_type, lang) in cases {
        let mut raw = b"GET / HTTP/1.1\r\nHost: shop.test\r\n".to_vec();
        raw.extend_from_slice(lines);
        raw.extend_from_slice(b"\r\n");
        client.send(&raw).await;
        let r = client.response(false).await;
        let shown = String::from_utf8_lossy(lines).into_owned();
        assert_eq!(
            (r.status, r.header("content-type"), r.header("content-language")),
            (503, Some(content_type), Some(lang)),
            "{shown:?}"
        );
    }
}

// =============================================================================================
// Per-tenant templates

#[tokio::test]
async fn a_tenant_can_bring_its_own_maintenance_template() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = crate::control::TempDir::new("pages");
    dir.write(
        "maintenance.html",
        "<!doctype html><html lang=\"{{ lang }}\"><title>{{ title }}</title><h1 class=\"own\">Wir sind gleich zurück: {{ title }}</h1><p>{{ until }}</p></html>",
    );
    let pages = dir.0.display().to_string();
    let body = tenant("own", &["own.test"], &[origin.addr], &format!("pages = {pages:?}"))
        + &tenant("plain", &["plain.test"], &[origin.addr], "")
        + &window(
            "both",
            &["own", "plain"],
            "once = { start = \"2024-11-14T10:00\", end = \"2024-11-14T12:00\" }",
            "title = { en = \"<Upgrade>\" }",
        );
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let own = gw.get("own.test", "/", &[]).await;
    assert_eq!(own.status, 503);
    assert!(
        own.text().contains("<h1 class=\"own\">Wir sind gleich zurück: &lt;Upgrade&gt;</h1>"),
        "own template, autoescaped: {}",
        own.text()
    );
    assert!(own.text().contains("Thursday 14 November 2024, 12:00 CET"), "{}", own.text());
    let plain = gw.get("plain.test", "/", &[]).await;
    assert!(
        !plain.text().contains("class=\"own\"") && plain.text().contains("&lt;Upgrade&gt;"),
        "others keep the built-in page"
    );
    // A template folder that does not compile is refused when the configuration is built.
    dir.write("maintenance.html", "{% if %}");
    let loaded = crate::support::load(&config("", &body));
    let err = hiatus::compiled::Compiled::build(loaded.config, t0(), 1).expect_err("a broken template is refused");
    // Typed: which tenant's templates, and which template (the message says both).
    let hiatus::compiled::BuildError::TenantPages { tenant, source } = &err else { panic!("not its pages: {err}") };
    assert!(
        tenant == "own"
            && matches!(source, hiatus::pages::PageError::Compile { name, .. } if name == "maintenance.html")
    );
    assert!(err.to_string().starts_with("tenant own: template maintenance.html: "), "{err}");
}

#[tokio::test]
async fn without_h2c_a_short_http_1_0_request_is_answered() {
    // With h2c off, a connection is HTTP/1.x from its first byte (no preface is looked for).
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("h2c = false", &body), t0()).await;
    let mut client = gw.client().await;
    // 18 bytes, no Host (HTTP/1.0 may leave it out): answered at once. It names no tenant's
    // host: the unknown-host page.
    client.send(b"GET / HTTP/1.0\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!(r.marker(), "unknown-host");
    assert_eq!(origin.hits(), 0);
    // With a default tenant, that tenant serves it; HTTP/1.1 without Host stays a bad request.
    let gw = TestGateway::start(&config("h2c = false\ndefault_tenant = \"app\"", &body), t0()).await;
    let mut client = gw.client().await;
    client.send(b"GET /old HTTP/1.0\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /old"));
    let mut client = gw.client().await;
    client.send(b"GET / HTTP/1.1\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.marker()), (400, "bad-request"));
    assert_eq!(origin.hits(), 1);
}
