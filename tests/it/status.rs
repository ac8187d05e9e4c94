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
    // `?lang=` wins over Accept-Language, on the page as on the feeds.
    let r = gw.get("status.test", "/status/?lang=nb", &[("accept-language", "de")]).await;
    assert_eq!(r.header("content-language"), Some("nb"));
    assert!(r.text().contains("feed.atom?lang=nb"), "the page links its feed in its language");
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
    // The status host's answers are made once a minute: the next minute shows the end.
    gw.clock.advance(60);
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

// ---------------------------------------------------------------------------------------------
// Feeds and calendars read by real parsers (python: icalendar, recurring_ical_events, feedparser)

/// The python of the venv with the parsers (`scripts/bootstrap.sh` makes it); a test that needs
/// it fails, never skips, when it is missing.
pub(crate) fn feedcheck_python() -> std::path::PathBuf {
    let venv = std::env::var_os("HIATUS_FEEDCHECK_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::support::root().join("target/feedcheck-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bootstrap.sh, which creates the venv with icalendar, \
         recurring_ical_events and feedparser (or set HIATUS_FEEDCHECK_VENV)",
        python.display()
    );
    python
}

/// Runs `script` with the venv's python and `args`; its standard output as JSON.
fn run_python(script: &str, args: &[&std::path::Path]) -> serde_json::Value {
    let python = feedcheck_python();
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the python check failed ({}):\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{stderr}"))
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hiatus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Expands each calendar of a manifest (`[{file, from, to}]`) with recurring_ical_events: per
/// calendar the sorted `[window, start, end]` of every event that starts in `[from, to)`.
const EXPAND: &str = r#"
import sys, json, datetime
try:
    import icalendar, recurring_ical_events
except ImportError as e:
    sys.exit(f"the venv lacks a package: {e}; run scripts/bootstrap.sh")
utc = datetime.timezone.utc
out = []
for job in json.load(open(sys.argv[1])):
    cal = icalendar.Calendar.from_ical(open(job["file"], "rb").read())
    a = datetime.datetime.fromtimestamp(job["from"], utc)
    b = datetime.datetime.fromtimestamp(job["to"], utc)
    got = []
    for e in recurring_ical_events.of(cal).between(a, b):
        start = e["DTSTART"].dt
        end = e["DTEND"].dt if "DTEND" in e else start + e["DURATION"].dt
        s, t = int(start.timestamp()), int(end.timestamp())
        if job["from"] <= s < job["to"]:
            got.append([str(e["X-HIATUS-WINDOW"]), s, t])
    out.append(sorted(got))
print(json.dumps(out))
"#;

/// The occurrences the library gives the windows of a calendar (`tenant`: its calendar only),
/// as `upcoming` lists them, that start in `[from, to)`; an open end as the calendar writes it.
fn library_instants(
    compiled: &hiatus::compiled::Compiled,
    tenant: Option<&hiatus::config::Tenant>,
    now: i64,
    from: i64,
    to: i64,
) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for s in hiatus::status::shown(compiled) {
        if tenant.is_some_and(|t| !hiatus::status::audience::applies(s.window, t)) {
            continue;
        }
        s.window.schedule.expand(s.index, from, to, |_, e| {
            if let hiatus::schedule::Expanded::Kept(o) = e {
                if from <= o.start && o.start < to {
                    let end = if o.end == hiatus::schedule::OPEN_END {
                        hiatus::status::ical::check_in(o.start, now)
                    } else {
                        o.end
                    };
                    out.push((s.window.id.clone(), o.start, end));
                }
            }
        });
    }
    out.sort();
    out
}

/// Windows whose instants a calendar client reads differently from SCHEDULES.md unless the
/// calendar says them otherwise: starts and whole windows in the spring gap, nights across both
/// changes, the autumn fold, weekend windows whose length depends on the weekday.
fn dst_windows() -> String {
    let up = dead_address();
    format!(
        "[defaults]\nzone = \"Europe/Berlin\"\n\n[[tenants]]\nid = \"t\"\nname = \"Tenant T\"\nhosts = [\"t.test\"]\nupstreams = [\"{up}\"]\n\n\
         [[windows]]\nid = \"gap-start\"\ndaily = {{ at = \"02:30\", for = \"1h\" }}\n\n\
         [[windows]]\nid = \"gap-until\"\ndaily = {{ at = \"01:45\", until = \"02:40\" }}\n\n\
         [[windows]]\nid = \"gap-dropped\"\ndaily = {{ at = \"02:10\", until = \"02:50\" }}\n\n\
         [[windows]]\nid = \"sat-night\"\nweekly = {{ on = [\"sat\"], at = \"22:30\", until = \"06:00\" }}\n\n\
         [[windows]]\nid = \"fold\"\nzone = \"Europe/Oslo\"\ndaily = {{ at = \"02:15\", until = \"02:45\" }}\n\n\
         [[windows]]\nid = \"last-sunday\"\nmonthly = {{ on = \"last sun\", at = \"01:30\", until = \"03:30\" }}\n\
         except = {{ dates = [\"2025-10-26\", \"2026-03-29\"] }}\nalso = [\"2025-07-20\", \"2026-07-19\"]\n\n\
         [[windows]]\nid = \"weekend\"\nweekly = {{ on = [\"fri\", \"sat\"], at = \"18:00\", until = \"mon 06:00\" }}\n\n\
         [[windows]]\nid = \"new-york\"\nzone = \"America/New_York\"\nweekly = {{ on = [\"sun\"], at = \"01:30\", until = \"03:00\" }}\n\n\
         [[windows]]\nid = \"utc-night\"\nzone = \"UTC\"\ndaily = {{ at = \"23:30\", until = \"00:30\" }}\n"
    )
}

#[tokio::test]
async fn seed_calendars_expand_to_the_instants_of_upcoming() {
    let dir = scratch("calendars");
    let seeds = [
        "config/hiatus.toml",
        "config/municipal-it.toml",
        "config/prozessplattform.toml",
        "config/weekly-provider.toml",
    ];
    // Before the spring change of 2025 and before the autumn change of 2026: each range of 400
    // days holds both changes of offset, the nights across them and dates in their gaps.
    let nows = [1_742_472_000, 1_790_812_800]; // 2025-03-20T12:00Z, 2026-10-01T00:00Z
    let (mut jobs, mut expected, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for now in nows {
        let (from, to) = (now, now + 400 * 86_400);
        for seed in seeds.iter().copied().chain(["DST windows"]) {
            let mut loaded = match seed {
                "DST windows" => crate::support::load(&dst_windows()),
                file => crate::support::load_file(file),
            };
            let g = &mut loaded.config.gateway;
            (g.status_host, g.status_path, g.state_dir) = (Some("status.test".into()), "/status".into(), None);
            let compiled = hiatus::compiled::Compiled::build(loaded.config, now, 1).expect("compile");
            let gw = TestGateway::serve(compiled, now).await;
            let compiled = gw.current.load_full();
            let mut calendars = vec![("calendar.ics".to_string(), None)];
            for t in compiled.config().tenants.iter().filter(|t| t.public) {
                calendars.push((format!("calendar/{}.ics", t.id), Some(t)));
            }
            for (path, tenant) in calendars {
                let r = gw.get("status.test", &format!("/status/{path}"), &[]).await;
                assert_eq!(r.status, 200, "{seed} {path}");
                let text = r.text().replace("\r\n ", "");
                let events = text.matches("BEGIN:VEVENT").count();
                assert!(events < 120, "{seed} {path}: {events} events; recurring windows are series");
                assert!(text.contains("REFRESH-INTERVAL;VALUE=DURATION:"), "{seed} {path}");
                let series: &[&str] = match (seed, path.as_str()) {
                    ("config/weekly-provider.toml", "calendar.ics") => &["RRULE:FREQ=WEEKLY;BYDAY=TU,WE;UNTIL="],
                    ("config/municipal-it.toml", "calendar.ics") => {
                        &["RRULE:FREQ=MONTHLY;BYDAY=3WE;UNTIL=", "EXDATE;TZID=Europe/Oslo:", "BEGIN:VTIMEZONE"]
                    }
                    ("DST windows", "calendar.ics") => &["DTSTART:", "RRULE:FREQ=DAILY;UNTIL=", "DTEND:"],
                    _ => &[],
                };
                for needle in series {
                    assert!(text.contains(needle), "{seed} {path}: no {needle:?}");
                }
                if let Some(t) = tenant {
                    assert!(text.contains(&format!("X-WR-CALNAME:{}\r\n", t.display_name())), "{seed} {path}");
                }
                let file = dir.join(format!("{now}-{}-{}", seed.replace('/', "_"), path.replace('/', "_")));
                std::fs::write(&file, r.body).expect("write the calendar");
                jobs.push(serde_json::json!({ "file": file, "from": from, "to": to }));
                expected.push(library_instants(&compiled, tenant, now, from, to));
                names.push(format!("{seed} {path} at {now}"));
            }
        }
    }
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, serde_json::Value::Array(jobs).to_string()).expect("write the manifest");
    let got = run_python(EXPAND, &[&manifest]);
    let got = got.as_array().expect("a list per calendar");
    assert_eq!(got.len(), expected.len());
    let mut total = 0;
    for ((name, want), got) in names.iter().zip(&expected).zip(got) {
        let got: Vec<(String, i64, i64)> = serde_json::from_value(got.clone()).expect("[window, start, end]");
        if &got != want {
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(5).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(5).collect();
            panic!(
                "{name}: the calendar expands to {} instants, upcoming to {}; missing {missing:?}, extra {extra:?}",
                got.len(),
                want.len()
            );
        }
        total += want.len();
    }
    assert!(total > 2000, "the seeds' daily and weekly windows were compared ({total} instants)");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Parses each feed file with feedparser: what a reader keeps of it.
const PARSE_FEEDS: &str = r#"
import sys, json
try:
    import feedparser
except ImportError as e:
    sys.exit(f"the venv lacks a package: {e}; run scripts/bootstrap.sh")
out = []
for path in sys.argv[1:]:
    f = feedparser.parse(open(path, "rb").read())
    out.append({
        "bozo": bool(f.bozo), "error": str(f.get("bozo_exception", "")),
        "title": f.feed.get("title"), "language": f.feed.get("language"), "updated": f.feed.get("updated"),
        "links": [[l.get("rel"), l.get("href"), l.get("hreflang")] for l in f.feed.get("links", [])],
        "entries": [{"id": e.get("id"), "title": e.get("title"), "updated": e.get("updated"), "link": e.get("link"),
                     "content": e.content[0].value if e.get("content") else None} for e in f.entries],
    })
print(json.dumps(out))
"#;

/// `config()` with a state directory (where the window ledger is kept).
fn config_with_state(dir: &std::path::Path, release_title: &str) -> String {
    config()
        .replacen(
            "status_path = \"/status\"\n",
            &format!("status_path = \"/status\"\nstate_dir = {:?}\n", dir.display().to_string()),
            1,
        )
        .replace(
            "title = { de = \"Release 4.2\", en = \"Release 4.2\" }",
            &format!("title = {{ de = {release_title:?}, en = {release_title:?} }}"),
        )
}

#[tokio::test]
async fn feeds_keep_their_entries_until_their_subject_changes_and_answer_conditional_requests() {
    let dir = scratch("feeds");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state directory");
    let gw = TestGateway::start(&config_with_state(&state, "Release 4.2"), NOW).await;
    let host = format!("status.test:{}", gw.addr.port());
    let feed = |lang: &str| format!("/status/feed.atom?lang={lang}");
    let first = gw.get(&host, &feed("de"), &[]).await;
    assert_eq!((first.status, first.header("content-language")), (200, Some("de")));
    let (etag, modified) =
        (first.header("etag").expect("an ETag"), first.header("last-modified").expect("Last-Modified"));
    assert_eq!(modified, "Thu, 14 Nov 2024 10:00:00 GMT", "the windows were first seen at the start");
    // An hour later nothing changed: the same bytes and validators.
    gw.clock.set(NOW + 3600);
    let later = gw.get(&host, &feed("de"), &[]).await;
    assert_eq!((later.header("etag"), later.header("last-modified")), (Some(etag), Some(modified)));
    assert_eq!(later.text(), first.text());
    let calendar = gw.get(&host, "/status/calendar.ics", &[]).await;
    gw.clock.set(NOW + 5400);
    let calendar_later = gw.get(&host, "/status/calendar.ics", &[]).await;
    assert_eq!(calendar.text(), calendar_later.text(), "DTSTAMPs are when windows changed, not now");
    // Conditional requests: If-None-Match decides when sent, else If-Modified-Since.
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("if-none-match", etag)], 304),
        (&[("if-none-match", "\"other\", W/\"x\"")], 200),
        (&[("if-none-match", "\"other\""), ("if-modified-since", modified)], 200),
        (&[("if-modified-since", modified)], 304),
        (&[("if-modified-since", "Thu, 14 Nov 2024 09:59:59 GMT")], 200),
    ];
    for (headers, status) in cases {
        let r = gw.get(&host, &feed("de"), headers).await;
        assert_eq!(r.status, *status, "{headers:?}");
        assert_eq!(r.header("etag"), Some(etag), "a 304 carries the validators too");
        assert_eq!((r.body.is_empty(), r.header("content-length").is_none()), (*status == 304, *status == 304));
    }
    let cal_tag = calendar.header("etag").expect("the calendar's ETag");
    assert_eq!(gw.get(&host, "/status/calendar.ics", &[("if-none-match", cal_tag)]).await.status, 304);
    let mut h2 = gw.h2().await;
    let r = h2.request("GET", &format!("http://{host}/status/calendar/shop.ics"), &[]).await;
    let shop_tag = r.header("etag").expect("the shop calendar's ETag").to_string();
    let r =
        h2.request("GET", &format!("http://{host}/status/calendar/shop.ics"), &[("if-none-match", &shop_tag)]).await;
    assert_eq!((r.status, r.body.len()), (304, 0), "on h2c too");
    let english = gw.get(&host, &feed("en"), &[]).await;
    assert_ne!(english.header("etag"), Some(etag), "each language is its own feed");
    // The release is renamed at a reload: its entry is updated, the others stay as they were.
    let changed = NOW + 7200;
    let old = gw.current.load_full();
    let loaded = crate::support::load(&config_with_state(&state, "Release 4.3"));
    let compiled = hiatus::compiled::Compiled::build_with(loaded.config, changed, 2, &old.health, Default::default())
        .expect("compile");
    gw.current.store(std::sync::Arc::new(compiled));
    gw.clock.set(changed);
    let renamed = gw.get(&host, &feed("de"), &[("if-none-match", etag)]).await;
    assert_eq!((renamed.status, renamed.header("last-modified")), (200, Some("Thu, 14 Nov 2024 12:00:00 GMT")));
    // An incident: its entry is updated when it opens and when it closes; when it ages out of
    // the feed (30 days after its end) the feed changes then too.
    let compiled = gw.current.load_full();
    let incidents = compiled.health.incidents();
    assert!(incidents.begin("shop", Cause::Unreachable, "10.0.0.9:80: connection refused", changed + 60).is_some());
    gw.clock.set(changed + 120);
    let modified = |r: &crate::gateway_support::Response| r.header("last-modified").map(str::to_string);
    let opened = gw.get(&host, &feed("de"), &[]).await;
    assert_eq!(modified(&opened).as_deref(), Some("Thu, 14 Nov 2024 12:01:00 GMT"));
    assert!(opened.text().contains("urn:hiatus:incident:"), "{}", opened.text());
    gw.clock.set(changed + 700);
    incidents.end("shop", changed + 600);
    let closed = gw.get(&host, &feed("de"), &[]).await;
    assert_eq!(modified(&closed).as_deref(), Some("Thu, 14 Nov 2024 12:10:00 GMT"));
    gw.clock.set(changed + 600 + 31 * 86_400);
    let aged = gw.get(&host, &feed("de"), &[]).await;
    assert!(!aged.text().contains("urn:hiatus:incident:"), "30 days after its end it is gone");
    assert_eq!(modified(&aged).as_deref(), Some("Sat, 14 Dec 2024 12:10:00 GMT"), "when the incident aged out");
    let files: Vec<std::path::PathBuf> =
        [("first", &first), ("later", &later), ("english", &english), ("renamed", &renamed)]
            .iter()
            .map(|(name, r)| {
                let file = dir.join(format!("{name}.atom"));
                std::fs::write(&file, &r.body).expect("write the feed");
                file
            })
            .collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let parsed = run_python(PARSE_FEEDS, &paths);
    let [first, later, english, renamed] = [0, 1, 2, 3].map(|i| parsed[i].clone());
    for f in [&first, &later, &english, &renamed] {
        assert_eq!(f["bozo"], false, "feedparser: {}", f["error"]);
    }
    let kept = |f: &serde_json::Value| -> Vec<(String, String)> {
        f["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["id"].as_str().unwrap_or("").to_string(), e["updated"].as_str().unwrap_or("").to_string()))
            .collect()
    };
    assert_eq!(kept(&first), kept(&later), "ids and updated stay while nothing changes");
    let release = "urn:hiatus:window:release:1732136400";
    let before: Vec<(String, String)> = kept(&first);
    let after: Vec<(String, String)> = kept(&renamed);
    assert_eq!(before.len(), 3, "{first}");
    for (id, updated) in &after {
        let was = before.iter().find(|(i, _)| i == id).map(|(_, u)| u.as_str());
        if id == release {
            assert_eq!(updated, "2024-11-14T12:00:00Z", "the renamed window's entry");
        } else {
            assert_eq!(Some(updated.as_str()), was, "{id} did not change");
        }
    }
    assert_eq!(renamed["updated"], "2024-11-14T12:00:00Z");
    // Absolute links with the port the reader used, in the feed's language.
    let base = format!("http://{host}/status");
    let links = first["links"].as_array().cloned().unwrap_or_default();
    for expected in [
        serde_json::json!(["self", format!("{base}/feed.atom?lang=de"), null]),
        serde_json::json!(["alternate", format!("{base}/?lang=de"), null]),
        serde_json::json!(["alternate", format!("{base}/feed.atom?lang=en"), "en"]),
    ] {
        assert!(links.contains(&expected), "{expected} not in {links:?}");
    }
    for e in first["entries"].as_array().into_iter().flatten() {
        assert_eq!(e["link"], format!("{base}/?lang=de"), "{e}");
        assert!(e["content"].as_str().is_some_and(|c| c.contains("UTC")), "{e}");
    }
    // Per language: titles, words and the feed's own language.
    let entry = |f: &serde_json::Value, id: &str| {
        f["entries"].as_array().into_iter().flatten().find(|e| e["id"] == id).cloned().unwrap_or_default()
    };
    let db = "urn:hiatus:window:active-db:1731571200";
    assert_eq!((first["language"].as_str(), english["language"].as_str()), (Some("de"), Some("en")));
    assert_eq!(
        (entry(&first, db)["title"].as_str(), entry(&english, db)["title"].as_str()),
        (Some("Datenbank-Umzug"), Some("Database move"))
    );
    let (de, en) = (entry(&first, release)["content"].to_string(), entry(&english, release)["content"].to_string());
    assert!(de.contains("Betrifft: Shop") && de.contains("2024-11-20 22:00 CET"), "{de}");
    assert!(en.contains("Affects: Shop"), "{en}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client that takes gzip (every browser) gets the status host's answers gzip-coded, made once
/// per rendering: the same bytes inflated, their own `ETag`, `Vary: Accept-Encoding`; a client
/// that does not, or refuses it, gets them as made. On both lanes.
#[tokio::test]
async fn status_answers_come_gzip_coded_to_clients_that_take_it() {
    use std::io::Read;
    let dir = scratch("gzip");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state directory");
    let gw = TestGateway::start(&config_with_state(&state, "Release 4.2"), NOW).await;
    let host = format!("status.test:{}", gw.addr.port());
    let inflate = |body: &[u8]| {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut text).expect("a gzip body");
        text
    };
    for path in ["/status/", "/status/status.json", "/status/feed.atom", "/status/calendar.ics"] {
        let plain = gw.get(&host, path, &[]).await;
        let coded = gw.get(&host, path, &[("accept-encoding", "gzip, deflate, br, zstd")]).await;
        assert_eq!((plain.status, coded.status), (200, 200), "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert_eq!(coded.header("content-encoding"), Some("gzip"), "{path}");
        assert!(coded.body.len() < plain.body.len(), "{path}: {} against {}", coded.body.len(), plain.body.len());
        assert_eq!(inflate(&coded.body), plain.body.to_vec(), "{path}: the same content");
        for r in [&plain, &coded] {
            assert_eq!(r.header("vary"), Some("Accept-Encoding, Accept-Language"), "{path}");
        }
        let tag = coded.header("etag").expect("an ETag");
        assert_ne!(Some(tag), plain.header("etag"), "{path}: another representation, another tag");
        let refused = gw.get(&host, path, &[("accept-encoding", "gzip;q=0, br")]).await;
        assert_eq!((refused.header("content-encoding"), refused.body.len()), (None, plain.body.len()), "{path}");
        let again = gw.get(&host, path, &[("accept-encoding", "gzip"), ("if-none-match", tag)]).await;
        assert_eq!((again.status, again.body.len()), (304, 0), "{path}: the coded copy is current");
    }
    let plain = gw.get(&host, "/status/feed.atom", &[]).await;
    let mut h2 = gw.h2().await;
    let r = h2.request("GET", &format!("http://{host}/status/feed.atom"), &[("accept-encoding", "gzip")]).await;
    assert_eq!((r.status, r.header("content-encoding")), (200, Some("gzip")), "on h2c too");
    assert_eq!(inflate(&r.body), plain.body.to_vec());
}
