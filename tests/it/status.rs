//! The status page and feeds at an injected instant: what is active, upcoming and past, in
//! which language, and feeds that keep their formats' rules.

use crate::gateway_support::{dead_address, TestGateway};

// 2024-11-14T10:00:00Z
const NOW: i64 = 1_731_578_400;

fn config() -> String {
    let up = dead_address();
    format!(
        "[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"de\"\n\n[gateway]\nstatus_host = \"status.test\"\nstatus_path = \"/status\"\n\n\
         [[tenants]]\nid = \"crm\"\nname = \"CRM\"\nhosts = [\"crm.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[tenants]]\nid = \"shop\"\nname = \"Shop\"\nhosts = [\"shop.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[windows]]\nid = \"active-db\"\nscope = {{ tenants = [\"crm\"] }}\nonce = {{ start = \"2024-11-14T09:00\", end = \"2024-11-14T13:00\" }}\n\
         title = {{ de = \"Datenbank-Umzug\", en = \"Database move\" }}\n\n\
         [[windows]]\nid = \"release\"\nscope = {{ tenants = [\"shop\"] }}\ndates = {{ on = [\"2024-11-20\"], at = \"22:00\", until = \"23:00\" }}\n\
         title = {{ de = \"Release 4.2\", en = \"Release 4.2\" }}\n\n\
         [[windows]]\nid = \"past-network\"\nonce = {{ start = \"2024-11-01T04:30\", end = \"2024-11-01T06:30\" }}\n\
         title = {{ de = \"Netzwerkwartung\", en = \"Network maintenance\" }}\n\n\
         [[windows]]\nid = \"long-ago\"\nonce = {{ start = \"2024-09-01T04:30\", end = \"2024-09-01T06:30\" }}\n"
    )
}

#[tokio::test]
async fn status_json_shows_active_upcoming_and_past_at_the_injected_time() {
    let gw = TestGateway::start(&config(), NOW).await;
    let r = gw.get("status.test", "/status/status.json", &[]).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
    let j = r.json();
    assert_eq!(j["overall"], "maintenance");
    let ids = |key: &str| -> Vec<String> {
        j[key].as_array().into_iter().flatten().map(|e| e["window"].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(ids("active"), ["active-db"]);
    assert_eq!(ids("upcoming"), ["release"]);
    assert_eq!(ids("history"), ["past-network"], "30 days back, not further");
    let tenants: Vec<(String, String)> = j["tenants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["id"].as_str().unwrap_or("").to_string(), t["state"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        tenants,
        [("crm".to_string(), "maintenance".to_string()), ("shop".to_string(), "operational".to_string())]
    );
    assert_eq!(j["tenants"][0]["until"], "2024-11-14T12:00:00+00:00");
    // Later, the release is active and the move is history.
    gw.clock.set(1_732_140_000); // 2024-11-20T22:00:00Z = 23:00 CET: the release ended exactly now
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(j["overall"], "operational");
    let history: Vec<&str> =
        j["history"].as_array().into_iter().flatten().filter_map(|e| e["window"].as_str()).collect();
    assert_eq!(history, ["release", "active-db", "past-network"], "newest first");
}

#[tokio::test]
async fn the_page_speaks_the_readers_language() {
    let gw = TestGateway::start(&config(), NOW).await;
    for (lang, expected) in [
        ("en", ["System status", "Maintenance in progress", "Database move"]),
        ("de", ["Systemstatus", "Wartungsarbeiten laufen", "Datenbank-Umzug"]),
    ] {
        let r = gw.get("status.test", "/status/", &[("accept-language", lang)]).await;
        assert_eq!((r.status, r.header("content-language")), (200, Some(lang)));
        let html = r.text();
        for needle in expected {
            assert!(html.contains(needle), "{lang}: {needle:?} missing");
        }
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external assets");
        assert!(html.contains("http-equiv=\"refresh\""), "refreshes itself");
    }
    // Other paths on the status host are not the page; other hosts never reach it.
    assert_eq!(gw.get("status.test", "/statusx", &[]).await.status, 421);
    assert_eq!(gw.get("status.test", "/status/nope", &[]).await.status, 404);
    assert_eq!(gw.get("crm.test", "/status/status.json", &[]).await.marker(), "maintenance");
}

#[tokio::test]
async fn calendar_keeps_rfc_5545_rules_and_filters_by_tenant() {
    let gw = TestGateway::start(&config(), NOW).await;
    let r = gw.get("status.test", "/status/calendar.ics", &[]).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/calendar; charset=utf-8")));
    let text = r.text();
    assert!(text.ends_with("END:VCALENDAR\r\n"), "CRLF line ends");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "folded at 75 octets: {line:?}");
        assert!(!line.contains('\n'), "no bare LF");
    }
    let unfolded = text.replace("\r\n ", "");
    assert_eq!(unfolded.matches("BEGIN:VEVENT").count(), unfolded.matches("END:VEVENT").count());
    for needle in [
        "UID:active-db-1731571200@hiatus",
        "DTSTART:20241114T080000Z",
        "DTEND:20241114T120000Z",
        "SUMMARY:Datenbank-Umzug",
        "DTSTAMP:20241114T100000Z",
    ] {
        assert!(unfolded.contains(needle), "{needle} missing");
    }
    let shop = gw.get("status.test", "/status/calendar/shop.ics", &[]).await.text().replace("\r\n ", "");
    assert!(shop.contains("SUMMARY:Release 4.2") && shop.contains("SUMMARY:Netzwerkwartung"));
    assert!(!shop.contains("Datenbank-Umzug"), "the CRM's window is not in the shop's calendar");
    assert_eq!(gw.get("status.test", "/status/calendar/nobody.ics", &[]).await.status, 404);
}

#[tokio::test]
async fn atom_feed_announces_one_off_windows_with_stable_ids() {
    let gw = TestGateway::start(&config(), NOW).await;
    let r = gw.get("status.test", "/status/feed.atom", &[]).await;
    assert_eq!(r.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    let xml = r.text();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    for needle in [
        "<id>urn:hiatus:feed</id>",
        "<author><name>Hiatus</name></author>",
        "<id>urn:hiatus:window:release:1732136400</id>",
        "<title>Datenbank-Umzug</title>",
    ] {
        assert!(xml.contains(needle), "{needle} missing in {xml}");
    }
    assert_eq!(xml.matches("<entry>").count(), xml.matches("</entry>").count());
    assert!(!xml.contains("long-ago"), "older than 30 days is not announced");
}

#[tokio::test]
async fn an_open_incident_shows_on_the_status_page_and_on_every_page() {
    let gw = TestGateway::start(&config(), NOW).await;
    // The health checks open incidents through the registry the snapshot carries.
    let compiled = gw.current.load_full();
    let incidents = compiled.health.incidents();
    assert!(incidents.begin("shop", "10.0.0.9:80: connection refused", NOW - 600).is_some());
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(j["overall"], "disruption", "a disruption outranks maintenance");
    assert_eq!(j["incidents"][0]["tenant"], "shop");
    assert_eq!(j["tenants"][1]["state"], "disruption");
    // The CRM's maintenance page (cached before? no: the incident changes the page) names it.
    let page = gw.get("crm.test", "/", &[("accept-language", "en")]).await;
    assert_eq!(page.status, 503);
    assert!(
        page.text().contains("Current disruptions") && page.text().contains("Shop: 10.0.0.9:80: connection refused"),
        "{}",
        page.text()
    );
    incidents.end("shop", NOW);
    let page = gw.get("crm.test", "/", &[("accept-language", "en")]).await;
    assert!(!page.text().contains("Current disruptions"), "closed incidents leave the pages");
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(
        (j["overall"].as_str(), j["incidents"][0]["end"].is_string()),
        (Some("maintenance"), true),
        "history keeps it"
    );
}
