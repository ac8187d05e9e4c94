//! The status page and feeds at an injected instant: what is active, upcoming and past, in
//! which language, and feeds that keep their formats' rules; what they may say of tenants
//! (public names, not hidden tenants) and of incidents (their own tenant's pages only).

use crate::gateway_support::{dead_address, TestGateway};
use hiatus::health::Cause;

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
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"de\">"
    ));
    for needle in [
        "<id>urn:hiatus:feed:de</id>",
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
async fn an_open_incident_shows_on_the_status_page_and_on_its_own_tenants_pages_only() {
    let gw = TestGateway::start(&config(), NOW).await;
    // The health checks open incidents through the registry the snapshot carries.
    let compiled = gw.current.load_full();
    let incidents = compiled.health.incidents();
    assert!(incidents.begin("shop", Cause::Unreachable, "10.0.0.9:80: connection refused", NOW - 600).is_some());
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(j["overall"], "disruption", "a disruption outranks maintenance");
    let incident = &j["incidents"][0];
    assert_eq!(
        (incident["tenant"].as_str(), incident["name"].as_str(), incident["cause"].as_str()),
        (Some("shop"), Some("Shop"), Some("unreachable"))
    );
    assert_eq!(incident["cause_text"], "nicht erreichbar", "in the reader's language (here the default, de)");
    assert_eq!(
        (j["tenants"][1]["state"].as_str(), j["tenants"][1]["cause"].as_str()),
        (Some("disruption"), Some("unreachable"))
    );
    // The shop's own failure page names its incident, in words; the CRM's pages do not.
    let own = gw.get("shop.test", "/", &[("accept-language", "en")]).await;
    assert_eq!(own.marker(), "upstream-error");
    assert!(own.text().contains("Current disruptions") && own.text().contains("Shop: not reachable"), "{}", own.text());
    let own = gw.get("shop.test", "/", &[("accept", "application/json")]).await.json();
    assert_eq!(own["incidents"][0]["cause"], "unreachable", "{own}");
    let crm = gw.get("crm.test", "/", &[("accept-language", "en")]).await;
    assert_eq!(crm.status, 503);
    assert!(!crm.text().contains("Current disruptions") && !crm.text().contains("Shop"), "{}", crm.text());
    let crm = gw.get("crm.test", "/", &[("accept", "application/json")]).await.json();
    assert_eq!(crm["incidents"], serde_json::json!([]), "{crm}");
    incidents.end("shop", NOW);
    let own = gw.get("shop.test", "/", &[("accept-language", "en")]).await;
    assert!(!own.text().contains("Current disruptions"), "closed incidents leave the pages");
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(
        (j["overall"].as_str(), j["incidents"][0]["end"].is_string()),
        (Some("maintenance"), true),
        "history keeps it"
    );
}

/// Every rendering of the status host, as text: page, `status.json`, feed, calendar.
async fn four_renderings(gw: &TestGateway, lang: &str) -> [(&'static str, String); 4] {
    let mut out = [
        ("/status/", String::new()),
        ("/status/status.json", String::new()),
        ("/status/feed.atom", String::new()),
        ("/status/calendar.ics", String::new()),
    ];
    for (path, text) in out.iter_mut() {
        let r = gw.get("status.test", path, &[("accept-language", lang)]).await;
        assert_eq!(r.status, 200, "{path}");
        // Folded calendar lines are unfolded, so that a name cannot hide across a fold.
        *text = r.text().replace("\r\n ", "");
    }
    out
}

/// Tenant `hush` (`public = false`) beside the public `crm`: windows on it alone, on it and the
/// CRM, on its host; an open incident.
fn config_with_a_hidden_tenant() -> String {
    let up = dead_address();
    format!(
        "[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"en\"\n\n[gateway]\nstatus_host = \"status.test\"\nstatus_path = \"/status\"\n\n\
         [[tenants]]\nid = \"crm\"\nname = \"CRM\"\nhosts = [\"crm.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[tenants]]\nid = \"hush\"\nname = \"Hidden Corp\"\npublic = false\nhosts = [\"hidden-corp.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[windows]]\nid = \"secret-migration\"\nscope = {{ tenants = [\"hush\"] }}\nonce = {{ start = \"2024-11-14T09:00\", end = \"2024-11-14T13:00\" }}\n\
         title = {{ en = \"Secret migration\" }}\n\n\
         [[windows]]\nid = \"host-patch\"\nscope = {{ hosts = [\"hidden-corp.test\"] }}\nonce = {{ start = \"2024-11-16T09:00\", end = \"2024-11-16T10:00\" }}\n\
         title = {{ en = \"Host patch\" }}\n\n\
         [[windows]]\nid = \"shared-upgrade\"\nscope = {{ tenants = [\"crm\", \"hush\"], hosts = [\"hidden-corp.test\"] }}\n\
         once = {{ start = \"2024-11-18T22:00\", end = \"2024-11-18T23:00\" }}\ntitle = {{ en = \"Shared upgrade\" }}\n"
    )
}

#[tokio::test]
async fn a_tenant_that_is_not_public_stays_off_all_four_renderings() {
    let gw = TestGateway::start(&config_with_a_hidden_tenant(), NOW).await;
    let compiled = gw.current.load_full();
    assert!(compiled
        .health
        .incidents()
        .begin("hush", Cause::Timeout, "10.0.0.9:80: no answer within 2s", NOW - 60)
        .is_some());
    for (path, text) in four_renderings(&gw, "en").await {
        for hidden in
            ["hush", "Hidden Corp", "hidden-corp", "Secret migration", "secret-migration", "Host patch", "host-patch"]
        {
            assert!(!text.contains(hidden), "{path} shows {hidden:?}:\n{text}");
        }
    }
    // A window that applies to a public tenant too is shown, for the public tenant only.
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    assert_eq!(j["upcoming"][0]["window"], "shared-upgrade", "{j}");
    assert_eq!(j["upcoming"][0]["affects"], "CRM", "neither the hidden tenant's name nor its host");
    let ids: Vec<&str> = j["tenants"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["crm"]);
    assert_eq!(j["incidents"], serde_json::json!([]));
    assert_eq!(j["overall"], "operational", "the hidden tenant's incident and maintenance do not count");
    let page = gw.get("status.test", "/status/", &[("accept-language", "en")]).await.text();
    assert!(page.contains("Shared upgrade") && page.contains("All systems operational"), "{page}");
    assert!(gw.get("status.test", "/status/calendar.ics", &[]).await.text().contains("SUMMARY:Shared upgrade"));
    let crm = gw.get("status.test", "/status/calendar/crm.ics", &[]).await.text().replace("\r\n ", "");
    assert!(crm.contains("SUMMARY:Shared upgrade") && crm.contains("DESCRIPTION:CRM\r\n"), "{crm}");
    assert_eq!(gw.get("status.test", "/status/calendar/hush.ics", &[]).await.status, 404, "as unknown as no tenant");
    // Its own pages are its own business: its maintenance and its incident are on them.
    let own = gw.get("hidden-corp.test", "/", &[("accept-language", "en")]).await;
    assert_eq!(own.status, 503);
    assert!(
        own.text().contains("Secret migration") && own.text().contains("Hidden Corp: not answering in time"),
        "{}",
        own.text()
    );
}

#[tokio::test]
async fn the_status_page_and_feeds_name_tenants_by_their_public_name() {
    let up = dead_address();
    let text = format!(
        "[defaults]\nzone = \"UTC\"\nlanguage = \"en\"\n\n[gateway]\nstatus_host = \"status.test\"\nstatus_path = \"/status\"\n\n\
         [[tenants]]\nid = \"k-4711\"\nname = \"Kanzlei Meyer\"\nhosts = [\"meyer.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[tenants]]\nid = \"k-0815\"\nhosts = [\"other.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[windows]]\nid = \"meyer-update\"\nscope = {{ tenants = [\"k-4711\"] }}\nonce = {{ start = \"2024-11-14T09:00\", end = \"2024-11-14T13:00\" }}\n\
         title = {{ en = \"Update\" }}\n"
    );
    let gw = TestGateway::start(&text, NOW).await;
    let compiled = gw.current.load_full();
    assert!(compiled
        .health
        .incidents()
        .begin("k-4711", Cause::Errors, "10.0.0.9:80: answered 500, expected 200", NOW - 60)
        .is_some());
    let [(_, page), (_, json), (_, feed), (_, calendar)] = four_renderings(&gw, "en").await;
    assert!(page.contains("Kanzlei Meyer") && page.contains("Kanzlei Meyer: answering with errors"), "{page}");
    assert!(page.contains("k-0815"), "a tenant without a name is called by its id");
    // Atom `<id>`s are keys (like `status.json`'s), which readers do not show.
    let shown =
        feed.split("<id>").map(|part| part.split_once("</id>").map_or(part, |(_, rest)| rest)).collect::<String>();
    assert!(feed.contains("<title>Kanzlei Meyer: answering with errors</title>"), "{feed}");
    assert!(calendar.contains("DESCRIPTION:Kanzlei Meyer"), "{calendar}");
    for (what, text) in [("page", &page), ("feed", &shown), ("calendar", &calendar)] {
        assert!(!text.contains("k-4711"), "{what} calls the tenant by its id:\n{text}");
    }
    // `status.json` keeps the id, as a stable key beside the name.
    let j: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        (j["tenants"][0]["id"].as_str(), j["tenants"][0]["name"].as_str()),
        (Some("k-4711"), Some("Kanzlei Meyer"))
    );
    assert_eq!(
        (j["incidents"][0]["name"].as_str(), j["incidents"][0]["cause_text"].as_str()),
        (Some("Kanzlei Meyer"), Some("answering with errors"))
    );
    let own = gw.get("status.test", "/status/calendar/k-4711.ics", &[]).await.text().replace("\r\n ", "");
    assert!(own.contains("X-WR-CALNAME:Kanzlei Meyer") && own.contains("SUMMARY:Update"), "{own}");
}
