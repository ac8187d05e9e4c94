//! The status page tells the truth and costs little: failed requests (passive health) mark a
//! tenant down without any health check and it recovers by itself; one tenant of several down is
//! a partial disruption; `status.json` is complete, paged by `next`; tenant pages link the status
//! page on the port the client used; the status host's answers are rendered once per minute and
//! generation and answer conditional requests with 304. The clock is the manual one throughout.

use crate::gateway_support::{dead_address, Behaviour, Origin, TestGateway};
use hiatus::compiled::Compiled;
use std::net::SocketAddr;
use std::sync::Arc;

// 2024-11-14T10:00:00Z
const NOW: i64 = 1_731_578_400;

/// Three public tenants: `shop` on `shop_upstreams`, `crm` and `wiki` on `ok`; failures in a
/// row mark an upstream down for five minutes; `extra` goes into `[gateway]`.
fn config(shop_upstreams: &[SocketAddr], ok: SocketAddr, extra: &str) -> String {
    let shop: Vec<String> = shop_upstreams.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[defaults]\nzone = \"UTC\"\nlanguage = \"en\"\n\n[gateway]\nstatus_host = \"status.test\"\nstatus_path = \"/status\"\n\
         passive_failures = 3\npassive_cooldown = \"5m\"\n{extra}\n\n\
         [[tenants]]\nid = \"shop\"\nname = \"Shop\"\nhosts = [\"shop.test\"]\nupstreams = [{}]\n\n\
         [[tenants]]\nid = \"crm\"\nname = \"CRM\"\nhosts = [\"crm.test\"]\nupstreams = [\"{ok}\"]\n\n\
         [[tenants]]\nid = \"wiki\"\nname = \"Wiki\"\nhosts = [\"wiki.test\"]\nupstreams = [\"{ok}\"]\n\n\
         [[windows]]\nid = \"nightly\"\nscope = {{ tenants = [\"crm\"] }}\ndaily = {{ at = \"02:00\", for = \"1h\" }}\n\
         title = {{ en = \"Nightly backup\" }}\n",
        shop.join(", ")
    )
}

/// The state of tenant `id` in `status.json` and the overall state and impact.
async fn states(gw: &TestGateway, id: &str) -> (String, String, String, Option<String>) {
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    let tenant = j["tenants"].as_array().into_iter().flatten().find(|t| t["id"] == id).cloned().unwrap_or_default();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    (s(&tenant["state"]), s(&j["overall"]), s(&j["impact"]), tenant["cause"].as_str().map(str::to_string))
}

#[tokio::test]
async fn failed_requests_mark_a_tenant_down_without_health_checks_and_it_recovers_by_itself() {
    let ok = Origin::start("ok", Behaviour::Ok).await;
    let gw = TestGateway::start(&config(&[dead_address()], ok.addr, ""), NOW).await;
    for _ in 0..2 {
        assert_eq!(gw.get("shop.test", "/", &[]).await.status, 502);
    }
    let operational = ("operational".to_string(), "operational".to_string(), "none".to_string(), None);
    assert_eq!(states(&gw, "shop").await, operational, "two failures of three: not yet");
    assert_eq!(gw.get("shop.test", "/", &[]).await.status, 502);
    gw.clock.advance(60);
    let down = ("disruption".to_string(), "disruption".to_string(), "partial".to_string(), Some("unreachable".into()));
    assert_eq!(states(&gw, "shop").await, down, "three in a row: down, one tenant of three is partial");
    let page = gw.get("status.test", "/status/", &[]).await.text();
    assert!(page.contains("class=\"banner partial\"") && page.contains("Partial disruption"), "{page}");
    assert_eq!(states(&gw, "crm").await.0, "operational", "nothing of one tenant reaches another");
    // No request for five minutes: the mark ends by itself.
    gw.clock.advance(5 * 60);
    assert_eq!(states(&gw, "shop").await, operational);
}

#[tokio::test]
async fn a_marked_upstream_is_left_out_while_another_is_up_and_tried_again_after_the_cool_down() {
    let bad = Origin::start("bad", Behaviour::EmptyStatus(500)).await;
    let good = Origin::start("good", Behaviour::Ok).await;
    let gw = TestGateway::start(&config(&[bad.addr, good.addr], good.addr, "passive_5xx = true"), NOW).await;
    // Round robin: every other request reaches `bad` until it answered 500 three times.
    for _ in 0..6 {
        gw.get("shop.test", "/", &[]).await;
    }
    assert_eq!(bad.hits(), 3);
    for _ in 0..6 {
        assert_eq!(gw.get("shop.test", "/", &[]).await.status, 200, "only the good one now");
    }
    assert_eq!(bad.hits(), 3, "left out during the cool-down");
    gw.clock.advance(60);
    assert_eq!(states(&gw, "shop").await.0, "operational", "one upstream of two still serves: not down");
    gw.clock.advance(5 * 60);
    for _ in 0..4 {
        gw.get("shop.test", "/", &[]).await;
    }
    assert_eq!(bad.hits(), 4, "one trial after the cool-down, which fails: left out again");
}

#[tokio::test]
async fn a_lone_marked_upstream_is_still_tried_and_one_answer_lifts_the_mark() {
    let bad = Origin::start("bad", Behaviour::EmptyStatus(503)).await;
    let ok = Origin::start("ok", Behaviour::Ok).await;
    let gw = TestGateway::start(&config(&[bad.addr], ok.addr, "passive_5xx = true"), NOW).await;
    for _ in 0..5 {
        gw.get("shop.test", "/", &[]).await;
    }
    assert_eq!(bad.hits(), 5, "a lone upstream is tried whatever its mark");
    gw.clock.advance(60);
    assert_eq!(states(&gw, "shop").await.3.as_deref(), Some("errors"));
    // Without the opt-in a 5xx is an answer: it lifts the mark at once.
    let without = config(&[bad.addr], ok.addr, "");
    let gw = TestGateway::start(&without, NOW).await;
    for _ in 0..5 {
        gw.get("shop.test", "/", &[]).await;
    }
    gw.clock.advance(60);
    assert_eq!(states(&gw, "shop").await.0, "operational", "5xx do not count unless passive_5xx");
}

#[tokio::test]
async fn most_tenants_down_is_a_major_disruption() {
    let gw = TestGateway::start(&config(&[dead_address()], dead_address(), ""), NOW).await;
    for host in ["shop.test", "crm.test"] {
        for _ in 0..3 {
            gw.get(host, "/", &[]).await;
        }
    }
    gw.clock.advance(60);
    assert_eq!(states(&gw, "shop").await.2, "major", "two of three");
    let page = gw.get("status.test", "/status/", &[]).await.text();
    assert!(page.contains("class=\"banner disruption\"") && page.contains("Major disruption"), "{page}");
}

#[tokio::test]
async fn status_json_lists_every_occurrence_and_pages_on_with_next() {
    let ok = Origin::start("ok", Behaviour::Ok).await;
    let gw = TestGateway::start(&config(&[ok.addr], ok.addr, ""), NOW).await;
    let mut next = Some("/status/status.json".to_string());
    let mut upcoming = Vec::new();
    let mut pages = 0;
    let mut prev_until: Option<String> = None;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages <= 100, "the pages end");
        let j = gw.get("status.test", &path, &[]).await.json();
        if pages == 1 {
            assert_eq!(j["history"].as_array().map(Vec::len), Some(30), "30 nightly backups back, none cut");
            assert_eq!(j["horizon"]["history_from"], "2024-10-15T10:00:00+00:00");
        }
        if let Some(until) = &prev_until {
            assert_eq!(j["horizon"]["from"].as_str(), Some(until.as_str()), "pages follow each other");
        }
        prev_until = j["horizon"]["until"].as_str().map(str::to_string);
        upcoming.extend(
            j["upcoming"].as_array().into_iter().flatten().filter_map(|e| e["start"].as_str()).map(str::to_string),
        );
        next = j["next"].as_str().map(str::to_string);
    }
    assert_eq!(pages, 79, "14 days a page, three years ahead");
    let mut sorted = upcoming.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), upcoming.len(), "no occurrence twice");
    assert_eq!(upcoming.first().map(String::as_str), Some("2024-11-15T02:00:00+00:00"));
    assert!(upcoming.len() >= 3 * 365, "every day of three years: {}", upcoming.len());
    // A page the links never give: a clear refusal.
    for bad in ["/status/status.json?from=x", "/status/status.json?from=99999999999"] {
        let r = gw.get("status.test", bad, &[]).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().starts_with("from:"), "{}", r.text());
    }
}

#[tokio::test]
async fn a_maintenance_page_links_the_status_page_on_the_clients_port() {
    let ok = Origin::start("ok", Behaviour::Ok).await;
    // 02:30: the nightly backup of `crm` is on.
    let gw = TestGateway::start(&config(&[ok.addr], ok.addr, ""), NOW - 7 * 3600 - 1800).await;
    for (host, link) in [("crm.test:8080", "//status.test:8080/status/"), ("crm.test", "//status.test/status/")] {
        let r = gw.get(host, "/", &[]).await;
        assert_eq!(r.status, 503);
        // The template escapes `/` in attributes.
        let page = r.text().replace("&#x2f;", "/");
        assert!(page.contains(&format!("href=\"{link}\"")), "{host}: {page}");
        let json = gw.get(host, "/", &[("accept", "application/json")]).await.json();
        assert_eq!(json["status_url"], link, "the problem+json too");
    }
    let r = gw.get("crm.test:80\"><x", "/", &[]).await;
    assert!(!r.text().contains("<x") && !r.text().contains("status.test:80"), "only digits are taken: {}", r.text());
}

#[tokio::test]
async fn the_status_host_renders_once_per_minute_and_generation_and_answers_304() {
    let ok = Origin::start("ok", Behaviour::Ok).await;
    let text = config(&[ok.addr], ok.addr, "");
    let gw = TestGateway::start(&text, NOW).await;
    let first = gw.get("status.test", "/status/", &[]).await;
    let rendered = gw.status_cache.renders();
    for _ in 0..20 {
        let again = gw.get("status.test", "/status/", &[]).await;
        assert_eq!(again.body, first.body, "identical bytes within the minute");
    }
    assert_eq!(gw.status_cache.renders(), rendered, "served from the cache, not rendered per request");
    // Conditional requests: the page and status.json carry validators like the feeds.
    let tag = first.header("etag").map(str::to_string).unwrap_or_default();
    assert!(first.header("last-modified").is_some() && tag.starts_with('"'), "{:?}", first.header("etag"));
    let r = gw.get("status.test", "/status/", &[("if-none-match", &tag)]).await;
    assert_eq!((r.status, r.body.len()), (304, 0));
    let json = gw.get("status.test", "/status/status.json", &[]).await;
    let json_tag = json.header("etag").map(str::to_string).unwrap_or_default();
    assert_eq!(gw.get("status.test", "/status/status.json", &[("if-none-match", &json_tag)]).await.status, 304);
    let since = json.header("last-modified").map(str::to_string).unwrap_or_default();
    assert_eq!(gw.get("status.test", "/status/status.json", &[("if-modified-since", &since)]).await.status, 304);
    // The next minute: rendered anew (the page says when it was made); the old tag is stale.
    gw.clock.advance(60);
    let later = gw.get("status.test", "/status/", &[("if-none-match", &tag)]).await;
    assert_eq!(later.status, 200);
    assert_ne!(later.body, first.body);
    assert_eq!(gw.status_cache.renders(), rendered + 2, "one page and one status.json");
    // A reload (a new generation) within the same minute renders anew too.
    let renamed = text.replace("name = \"Shop\"", "name = \"Webshop\"");
    let loaded = crate::support::load(&renamed);
    let compiled = Compiled::build(loaded.config, NOW + 60, 2).unwrap_or_else(|e| panic!("build: {e}"));
    gw.current.store(Arc::new(compiled));
    let reloaded = gw.get("status.test", "/status/", &[]).await.text();
    assert!(reloaded.contains("Webshop"), "{reloaded}");
    // Per-tenant calendars are kept per tenant.
    let shop = gw.get("status.test", "/status/calendar/shop.ics", &[]).await;
    let crm = gw.get("status.test", "/status/calendar/crm.ics", &[]).await;
    assert_ne!(shop.body, crm.body);
    assert_eq!(gw.get("status.test", "/status/calendar/crm.ics", &[]).await.body, crm.body);
}
