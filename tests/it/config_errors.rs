//! Configuration errors and warnings: every mistake is reported, each with its file, key path
//! and the offending value; nothing is silently dropped.

use crate::support::{at, load, load_err, root};
use hiatus::config::{self, Diagnostic};

fn line(d: &Diagnostic) -> String {
    format!("{}: {}", d.path, d.message)
}

/// One file with many mistakes (tests/fixtures/bad): every error at once, with its key path
/// and the offending value.
#[test]
fn every_error_of_a_bad_configuration_is_reported() {
    let dir = root().join("tests/fixtures/bad");
    let text = std::fs::read_to_string(dir.join("main.toml")).expect("fixture");
    let report = match config::load_str(&text, "main.toml", &dir) {
        Ok(_) => panic!("the bad fixture must be refused"),
        Err(r) => r,
    };
    // (file ends with, key path, fragments of the message: the offending value and the hint)
    let expected: &[(&str, &str, &[&str])] = &[
        ("main.toml", "include[1]", &["\"missing.toml\"", "no such file"]),
        ("broken.toml", "", &["not valid TOML"]),
        ("main.toml", "defaults.language", &["\"fr\""]),
        ("main.toml", "colour", &["unknown key `colour`"]),
        ("main.toml", "tenants[1].upstreams[0]", &["\"10.1.0.{n}:8080\"", "numeric range"]),
        ("main.toml", "tenants[2].hosts[0]", &["\"www{330..324}.prozessplattform.de\"", "330 is greater than end 324"]),
        ("main.toml", "tenants[2].upstreams[0]", &["\"10.0.0.1\"", "host:port"]),
        ("main.toml", "tenants[2].id", &["\"ppp\"", "already used by tenants[0]"]),
        ("main.toml", "windows[0].zone", &["\"Europe/Berln\"", "did you mean \"Europe/Berlin\""]),
        ("main.toml", "windows[1].daily.at", &["\"25:00\"", "HH:MM"]),
        ("main.toml", "windows[2].daily.until", &["04:30 equals at 04:30", "for = \"24h\""]),
        ("main.toml", "windows[3]", &["exactly one rule", "daily and weekly"]),
        ("main.toml", "windows[4].titel", &["unknown key `titel`; did you mean `title`?"]),
        ("main.toml", "windows[5].scope.hosts[0]", &["\"www{330..324}.prozessplattform.de\"", "greater than"]),
        ("main.toml", "windows[6].scope.tenants[1]", &["\"nobody\""]),
        ("main.toml", "windows[7].id", &["\"bad-zone\"", "already used by windows[0]"]),
        ("main.toml", "windows[8].also[0]", &["2024-12-25", "both added", "excluded"]),
        ("main.toml", "windows[9].daily.for", &["\"1d\"", "h and m only"]),
        ("main.toml", "windows[10].weekly", &["at most 7 days"]),
        ("main.toml", "windows[11].weekly.on[1]", &["\"tues\"", "not a weekday"]),
        ("main.toml", "windows[12].monthly.on", &["\"6th tue\""]),
        ("main.toml", "windows[13].once.end", &["2024-11-14 00:34", "not after the start 2024-11-14 00:55"]),
        ("main.toml", "windows[14].daily.until", &["\"wed 06:00\"", "only for weekly"]),
        ("main.toml", "windows[15].dates.on[0]", &["\"2024-02-30\"", "not a date"]),
    ];
    let mut unmatched: Vec<&Diagnostic> = report.errors.iter().collect();
    let mut missing = Vec::new();
    for (file, path, fragments) in expected {
        let found = unmatched
            .iter()
            .position(|d| d.file.ends_with(file) && d.path == *path && fragments.iter().all(|f| d.message.contains(f)));
        match found {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(format!("{file}: {path}: {fragments:?}")),
        }
    }
    assert!(
        missing.is_empty() && unmatched.is_empty(),
        "missing:\n  {}\nunexpected:\n  {}",
        missing.join("\n  "),
        unmatched.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n  ")
    );
}

/// Checks that a configuration made of `body` and `[defaults] zone = "Europe/Berlin"` is
/// refused with exactly one error at `path` whose message contains every fragment.
fn check_error(body: &str, path: &str, fragments: &[&str]) {
    let text = format!("{body}\n\n[defaults]\nzone = \"Europe/Berlin\"\n");
    let report = load_err(&text, &root());
    let lines: Vec<String> = report.errors.iter().map(line).collect();
    let ok = report.errors.len() == 1
        && report.errors[0].path == path
        && fragments.iter().all(|f| report.errors[0].message.contains(f));
    assert!(ok, "expected one error at {path} containing {fragments:?}, got {lines:#?}\n--- text:\n{body}");
}

#[test]
fn single_mistakes() {
    let w = |rule: &str| format!("[[windows]]\nid = \"w\"\n{rule}\n");
    let cases: Vec<(String, &str, &[&str])> = vec![
        // rules and their ends
        (w(""), "windows[0]", &["exactly one rule"]),
        (w("once = { end = \"2024-11-14T00:55\" }"), "windows[0].once", &["missing field `start`"]),
        (w("daily = { at = \"04:30\" }"), "windows[0].daily", &["give an end"]),
        (w("daily = { at = \"04:30\", until = \"05:00\", for = \"1h\" }"), "windows[0].daily", &["not both"]),
        (w("daily = { at = \"24:00\", until = \"05:00\" }"), "windows[0].daily.at", &["\"24:00\"", "only allowed as an end"]),
        (w("daily = { at = \"7:00\", until = \"08:00\" }"), "windows[0].daily.at", &["\"7:00\""]),
        (w("daily = { at = \"04:30\", until = \"24:01\" }"), "windows[0].daily.until", &["\"24:01\""]),
        (w("daily = { at = \"04:30\", for = \"0m\" }"), "windows[0].daily.for", &["\"0m\"", "longer than zero"]),
        (w("daily = { at = \"04:30\", for = \"1.5h\" }"), "windows[0].daily.for", &["\"1.5h\""]),
        (w("daily = { at = \"04:30\", for = \"30s\" }"), "windows[0].daily.for", &["\"30s\""]),
        (w("daily = { at = \"04:30\", for = \"90\" }"), "windows[0].daily.for", &["\"90\""]),
        (w("weekly = { on = \"tue\", at = \"00:00\", for = \"168h1m\" }"), "windows[0].weekly", &["at most 7 days"]),
        (w("weekly = { on = [], at = \"22:30\", until = \"06:00\" }"), "windows[0].weekly.on", &["at least one weekday"]),
        (w("weekly = { on = \"tue\", at = \"22:30\", until = \"thurs 06:00\" }"), "windows[0].weekly.until", &["\"thurs\""]),
        (w("monthly = { on = 0, at = \"10:00\", for = \"1h\" }"), "windows[0].monthly.on", &["0 is not a day"]),
        (w("monthly = { on = 32, at = \"10:00\", for = \"1h\" }"), "windows[0].monthly.on", &["32 is not a day"]),
        (w("monthly = { on = \"every tue\", at = \"10:00\", for = \"1h\" }"), "windows[0].monthly.on", &["\"every tue\""]),
        (w("dates = { on = [], at = \"04:30\", until = \"06:30\" }"), "windows[0].dates.on", &["at least one date"]),
        (w("dates = { on = [\"08.11.2024\"], at = \"04:30\", until = \"06:30\" }"), "windows[0].dates.on[0]", &["\"08.11.2024\""]),
        // once
        (w("once = { start = \"2024-11-14T00:34Z\" }"), "windows[0].once.start", &["without offset"]),
        (w("once = { start = \"2024-11-14T00:34:60\" }"), "windows[0].once.start", &["00 to 59"]),
        (w("once = { start = \"2024-11-14\" }"), "windows[0].once.start", &["\"2024-11-14\""]),
        (
            w("once = { start = \"2024-11-14T00:34\", end = \"2024-11-14T00:34\" }"),
            "windows[0].once.end",
            &["not after the start"],
        ),
        (
            w("once = { start = \"2022-06-13T00:00\", end = \"2022-06-15T00:00\", tentative_from = \"2022-06-16T00:00\" }"),
            "windows[0].once.tentative_from",
            &["2022-06-16 00:00", "outside the window"],
        ),
        (
            w("once = { start = \"2022-06-13T00:00\", tentative_from = \"2022-06-14T00:00\" }"),
            "windows[0].once.tentative_from",
            &["open-ended"],
        ),
        (
            w("once = { start = \"2024-11-14T00:34\", end = \"2024-11-14T00:55\" }\nexcept = { dates = [\"2024-11-14\"] }"),
            "windows[0].except",
            &["recurring"],
        ),
        (w("once = { start = \"2024-11-14T00:34\" }\nalso = [\"2024-11-15\"]"), "windows[0].also", &["recurring"]),
        (w("once = { start = \"2024-11-14T00:34\" }\nfrom = \"2024-11-01\""), "windows[0].from", &["bounds"]),
        // calendar modifiers
        (
            w("daily = { at = \"00:34\", until = \"00:55\" }\nexcept = { dates = [\"2024-12-31..2024-12-24\"] }"),
            "windows[0].except.dates[0]",
            &["\"2024-12-31..2024-12-24\"", "ends before it starts"],
        ),
        (
            w("daily = { at = \"00:34\", until = \"00:55\" }\nexcept = { dates = [\"2024-12-24..\"] }"),
            "windows[0].except.dates[0]",
            &["not a date"],
        ),
        (
            w("daily = { at = \"00:34\", until = \"00:55\" }\nexcept = { months = [\"jully\"] }"),
            "windows[0].except.months[0]",
            &["\"jully\""],
        ),
        (
            w("monthly = { on = \"3rd wed\", at = \"16:00\", until = \"19:00\" }\nexcept = { months = [\"jul\"] }\nalso = [\"2022-07-06\"]"),
            "windows[0].also[0]",
            &["2022-07-06", "both added"],
        ),
        (
            w("daily = { at = \"00:34\", until = \"00:55\" }\nfrom = \"2024-12-01\"\nto = \"2024-11-01\""),
            "windows[0].to",
            &["2024-11-01 is before `from` 2024-12-01"],
        ),
        // zone, id, scope, texts
        (w("zone = \"Europe/berlin\"\ndaily = { at = \"00:34\", until = \"00:55\" }"), "windows[0].zone", &["did you mean \"Europe/Berlin\""]),
        (w("zone = \"CEST\"\ndaily = { at = \"00:34\", until = \"00:55\" }"), "windows[0].zone", &["\"CEST\""]),
        ("[[windows]]\nid = \"bad id!\"\ndaily = { at = \"00:34\", until = \"00:55\" }".to_string(), "windows[0].id", &["\"bad id!\""]),
        (w("scope = \"everyone\"\ndaily = { at = \"00:34\", until = \"00:55\" }"), "windows[0].scope", &["\"everyone\""]),
        (w("scope = {}\ndaily = { at = \"00:34\", until = \"00:55\" }"), "windows[0].scope", &["empty scope"]),
        (w("scope = { hosts = [\"www{1..9}x{1..2}.de\"] }\ndaily = { at = \"00:34\", until = \"00:55\" }"), "windows[0].scope.hosts[0]", &["only one"]),
        (w("daily = { at = \"00:34\", until = \"00:55\" }\ntitle = { fr = \"Maintenance\" }"), "windows[0].title.fr", &["\"fr\""]),
        (w("daily = { at = \"00:34\", until = \"00:55\" }\nreason = { de = \" \" }"), "windows[0].reason.de", &["empty text"]),
        // file structure
        ("[windows]\nid = \"w\"".to_string(), "windows", &["array of tables"]),
        ("include = \"other.toml\"".to_string(), "include", &["list of file patterns"]),
        ("include = [\"no-such-folder/*.toml\"]".to_string(), "include[0]", &["\"no-such-folder/*.toml\"", "cannot read the folder"]),
        ("include = [\"*/*.toml\"]".to_string(), "include[0]", &["file name only"]),
        // tenants
        ("[[tenants]]\nid = \"t\"\nhosts = []\nupstreams = [\"a:80\"]".to_string(), "tenants[0].hosts", &["at least one host"]),
        ("[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]".to_string(), "tenants[0].upstreams", &["at least one upstream"]),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]\npath = \"mandant-a\"\nupstreams = [\"a:80\"]".to_string(),
            "tenants[0].path",
            &["\"mandant-a\""],
        ),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]\nupstreams = [\"a:80\"]\npublic = \"no\"".to_string(),
            "tenants[0].public",
            &["\"no\"", "boolean"],
        ),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]\nupstreams = [\"a:0\"]".to_string(),
            "tenants[0].upstreams[0]",
            &["\"a:0\""],
        ),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"www{1..9}.example\"]\nupstreams = [\"srv{n}.internal:80\"]".to_string(),
            "tenants[0].upstreams[0]",
            &["\"srv{n}.internal:80\"", "IP address"],
        ),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]\nupstreams = [\"a:80\"]\n\n[[tenants]]\nid = \"u\"\nhosts = [\"A.example\"]\nupstreams = [\"b:80\"]".to_string(),
            "tenants[1].hosts[0]",
            &["\"a.example\"", "already served by tenant \"t\""],
        ),
    ];
    for (body, path, fragments) in &cases {
        check_error(body, path, fragments);
    }
}

/// Every value has its exact syntax and every number its bounds (issue 15): times of day and
/// date-times with all their digits (`"09:0"` was read as 09:00, `"1:4"` as 01:04), thread
/// counts, durations and sizes within limits that catch a slip of unit.
#[test]
fn strict_values_and_bounded_numbers() {
    let w = |rule: &str| format!("[[windows]]\nid = \"w\"\n{rule}\n");
    let g = |keys: &str| format!("[gateway]\n{keys}\n");
    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            w("once = { start = \"2024-11-14T09:0\" }"),
            "windows[0].once.start",
            &["\"2024-11-14T09:0\"", "YYYY-MM-DDTHH:MM"],
        ),
        (
            w("once = { start = \"2024-11-14T00:00\", end = \"2024-11-14T1:4\" }"),
            "windows[0].once.end",
            &["\"2024-11-14T1:4\"", "YYYY-MM-DDTHH:MM"],
        ),
        (w("once = { start = \"2024-1-4T09:00\" }"), "windows[0].once.start", &["\"2024-1-4T09:00\""]),
        (w("daily = { at = \"+9:00\", until = \"10:00\" }"), "windows[0].daily.at", &["\"+9:00\"", "HH:MM"]),
        (w("daily = { at = \"09:00\", until = \"1:4\" }"), "windows[0].daily.until", &["\"1:4\"", "HH:MM"]),
        (
            w("weekly = { on = \"tue\", at = \"22:30\", until = \"wed 6:00\" }"),
            "windows[0].weekly.until",
            &["\"6:00\""],
        ),
        (
            w("dates = { on = [\"2024-1-4\"], at = \"04:30\", until = \"06:30\" }"),
            "windows[0].dates.on[0]",
            &["\"2024-1-4\""],
        ),
        (
            w("daily = { at = \"00:34\", until = \"00:55\" }\nexcept = { dates = [\"2024-12-24..2024-12-3\"] }"),
            "windows[0].except.dates[0]",
            &["\"2024-12-3\"", "YYYY-MM-DD"],
        ),
        (g("threads = 65536"), "gateway.threads", &["65536", "1 to 1024"]),
        (g("threads = 0"), "gateway.threads", &["0", "1 to 1024"]),
        (g("connect_timeout = \"3600h\""), "gateway.connect_timeout", &["\"3600h\"", "longer than 10m"]),
        (g("header_timeout = \"1h\""), "gateway.header_timeout", &["longer than 10m"]),
        (g("keepalive_timeout = \"2h\""), "gateway.keepalive_timeout", &["longer than 1h"]),
        (g("read_timeout = \"100000h\""), "gateway.read_timeout", &["longer than 24h"]),
        (g("tunnel_timeout = \"200h\""), "gateway.tunnel_timeout", &["longer than 168h"]),
        (g("grace_period = \"61m\""), "gateway.grace_period", &["longer than 1h"]),
        (g("retry_after_open_ended = \"169h\""), "gateway.retry_after_open_ended", &["longer than 168h"]),
        (g("reload_settle = \"2m\""), "gateway.reload_settle", &["longer than 1m"]),
        (g("max_config_size = \"16\""), "gateway.max_config_size", &["\"16\" is not a size"]),
        (g("max_config_size = \"2GiB\""), "gateway.max_config_size", &["4 KiB to 1 GiB"]),
        (g("max_config_size = \"18446744073709551615GiB\""), "gateway.max_config_size", &["4 KiB to 1 GiB"]),
        (g("health = { tcp = true, interval = \"90m\" }"), "gateway.health.interval", &["longer than 1h"]),
        ("[gateway.bypass]\ncookie_ttl = \"9000h\"".to_string(), "gateway.bypass.cookie_ttl", &["longer than 8784h"]),
        (
            "[[tenants]]\nid = \"t\"\nhosts = [\"a.example\"]\nupstreams = [\"a:80\"]\nread_timeout = \"25h\""
                .to_string(),
            "tenants[0].read_timeout",
            &["longer than 24h"],
        ),
    ];
    for (body, path, fragments) in &cases {
        check_error(body, path, fragments);
    }
    // The bounds themselves are fine.
    let at_the_bounds = "[gateway]\nthreads = 1024\nread_timeout = \"24h\"\nreload_settle = \"0s\"\n\
                         max_config_size = \"1GiB\"\nretry_after_open_ended = \"168h\"\n\
                         [defaults]\nzone = \"UTC\"\n[[windows]]\nid = \"w\"\ndaily = { at = \"00:00\", until = \"24:00\" }\n";
    let g = load(at_the_bounds).config.gateway;
    assert_eq!((g.threads, g.max_config_size, g.reload_settle.as_secs()), (1024, 1 << 30, 0));
}

#[test]
fn a_missing_zone_is_an_error_not_a_server_default() {
    let report = load_err("[[windows]]\nid = \"w\"\ndaily = { at = \"00:34\", until = \"00:55\" }\n", &root());
    let lines: Vec<String> = report.errors.iter().map(line).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("windows[0].zone: no time zone"), "{lines:#?}");
}

#[test]
fn warnings() {
    let text = r#"[defaults]
zone = "Europe/Berlin"

[[windows]]
id = "gap"
scope = { hosts = ["g.example"] }
dates = { on = ["2025-03-30", "2025-04-06"], at = "02:10", until = "02:50" }

[[windows]]
id = "tue-night"
scope = { hosts = ["t.example"] }
weekly = { on = "tue", at = "22:30", until = "06:00" }
except = { dates = ["2024-11-12", "2024-11-06", "2024-11-13..2024-11-18"] }

[[windows]]
id = "fifth"
scope = { hosts = ["f.example"] }
monthly = { on = "5th tue", at = "10:00", until = "11:00" }

[[windows]]
id = "overlap-a"
scope = { hosts = ["a.example"] }
dates = { on = ["2024-12-04"], at = "04:30", until = "06:30" }

[[windows]]
id = "overlap-b"
scope = { hosts = ["www{1..9}.example", "a.example"] }
once = { start = "2024-12-04T06:00", end = "2024-12-04T07:00" }

# Wholly inside overlap-a, and around both a and b: meant, and no page changes (no warning).
[[windows]]
id = "inside-a"
scope = { hosts = ["a.example"] }
once = { start = "2024-12-04T05:00", end = "2024-12-04T05:30" }

[[windows]]
id = "around-a-and-b"
scope = { hosts = ["a.example"] }
once = { start = "2024-12-04T04:00", end = "2024-12-04T08:00" }
"#;
    let loaded = load(text);
    // At every load: cheap checks.
    let quick: Vec<String> = loaded.warnings.iter().map(line).collect();
    assert_eq!(
        quick,
        [
            "windows[1].except: except date 2024-11-06 matches no occurrence (entry 0)",
            "windows[1].except: except range 2024-11-13..2024-11-18 matches no occurrence",
            "windows[2].monthly.on: \"5th tue\" exists in only some months; months without one are skipped, not moved",
        ]
    );
    // In `hiatus check`: the expanding checks, with the dates.
    let mut report = config::Report::default();
    config::lint::full(&loaded.config, at("2025-01-01T00:00Z"), &mut report);
    let full: Vec<String> = report.warnings.iter().map(line).collect();
    assert_eq!(
        full,
        [
            "windows[0]: the occurrence on 2025-03-30 lies wholly in the Europe/Berlin DST gap and is dropped",
            "windows[4]: window \"overlap-b\" partly overlaps window \"overlap-a\" on a shared scope (first at 2024-12-04 06:00 CET); the page shows the merged end",
        ]
    );
    assert!(report.errors.is_empty());
}

/// `check` speaks like a compiler (issue 17 item 9): each error is `file:line:column: key:
/// message` at the key it is about, an unknown key gets the nearest expected one, and one
/// mistake is one error (no follow-ups for the same thing). Each case: the text, and every
/// error `load` reports, in order.
#[test]
fn errors_have_file_line_and_column_a_suggestion_and_no_follow_ups() {
    let cases: &[(&str, &[&str])] = &[
        // A typo in a tenant's key: one error, at the key, with the key meant.
        (
            "[defaults]\nzone = \"UTC\"\n\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstream = [\"127.0.0.1:1\"]\n",
            &["t.toml:7:1: tenants[0].upstream: unknown key `upstream`; did you mean `upstreams`?"],
        ),
        // At the top: `[[tenant]]`.
        (
            "[defaults]\nzone = \"UTC\"\n\n[[tenant]]\nid = \"a\"\n",
            &["t.toml:4:3: tenant: unknown key `tenant`; did you mean `tenants`?"],
        ),
        // Nothing near: the keys there are.
        (
            "[defaults]\nzone = \"UTC\"\ncolour = \"blue\"\n",
            &["t.toml:3:1: defaults.colour: unknown key `colour`; expected one of zone, language"],
        ),
        // A value inside an inline table: at its key.
        (
            "[defaults]\nzone = \"UTC\"\n[[windows]]\nid = \"w\"\ndaily = { at = \"25:00\", until = \"06:00\" }\n",
            &["t.toml:5:11: windows[0].daily.at: \"25:00\" is not a time of day; write HH:MM, e.g. \"00:34\""],
        ),
        // A tenant refused for a typo still declares its id: the window naming it is fine.
        (
            "[defaults]\nzone = \"UTC\"\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\
             nmae = \"A\"\n[[windows]]\nid = \"w\"\nscope = { tenants = [\"a\"] }\ndaily = { at = \"01:00\", until = \"02:00\" }\n",
            &["t.toml:7:1: tenants[0].nmae: unknown key `nmae`; did you mean `name`?"],
        ),
        // A wrong default zone: the windows that rely on it are not told they have none.
        (
            "[defaults]\nzone = \"Europe/Berln\"\n[[windows]]\nid = \"w\"\ndaily = { at = \"01:00\", until = \"02:00\" }\n\
             [[windows]]\nid = \"v\"\ndaily = { at = \"03:00\", until = \"04:00\" }\n",
            &["t.toml:2:1: defaults.zone: unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?"],
        ),
        // Nor when the [defaults] table itself is refused.
        (
            "[defaults]\nzome = \"UTC\"\n[[windows]]\nid = \"w\"\ndaily = { at = \"01:00\", until = \"02:00\" }\n",
            &["t.toml:2:1: defaults.zome: unknown key `zome`; did you mean `zone`?"],
        ),
        // Errors come in the order of the file, whatever stage found them.
        (
            "[[windows]]\nid = \"w\"\nzone = \"UTC\"\nscope = { tenants = [\"nobody\"] }\ndaily = { at = \"01:00\", until = \"02:00\" }\n\
             [[windows]]\nid = \"w\"\nzone = \"UTC\"\ndaily = { at = \"1:00\", until = \"02:00\" }\n",
            &[
                "t.toml:4:22: windows[0].scope.tenants[0]: no tenant has the id \"nobody\"",
                "t.toml:7:1: windows[1].id: window id \"w\" is already used by windows[0]",
                "t.toml:9:11: windows[1].daily.at: \"1:00\" is not a time of day; write HH:MM, e.g. \"00:34\"",
            ],
        ),
    ];
    for (text, expected) in cases {
        let report = load_err(text, &root());
        let got: Vec<String> = report.errors.iter().map(|d| d.to_string()).collect();
        assert_eq!(got, *expected, "--- text:\n{text}");
    }
}

/// An included file's findings are placed in that file.
#[test]
fn an_included_files_errors_are_placed_in_it() {
    let dir = crate::control::TempDir::new("config-positions");
    dir.write("w.toml", "\n[[windows]]\nid = \"w\"\ndaily = { at = \"01:00\", untill = \"02:00\" }\n");
    let main = dir.write("main.toml", "include = [\"w.toml\"]\n[defaults]\nzone = \"UTC\"\n");
    let report = config::load(&main).expect_err("refused");
    let file = main.with_file_name("w.toml").display().to_string();
    let got: Vec<String> = report.errors.iter().map(|d| d.to_string()).collect();
    assert_eq!(got, [format!("{file}:4:25: windows[0].daily.untill: unknown key `untill`; did you mean `until`?")]);
}

#[test]
fn shipped_configurations_load_without_errors() {
    for entry in std::fs::read_dir(root().join("config")).expect("config folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(report) = config::load(&path) {
                panic!("{}:\n{report}", path.display());
            }
        }
    }
}
