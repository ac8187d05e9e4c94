//! The `hiatus` binary's contract: exit codes, `check` output (golden), the JSON keys of
//! `explain` and `upcoming`, local and UTC times in human output.

use crate::control::TempDir;
use crate::support::{golden, hiatus, root};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_every_shipped_configuration() {
    let mut files: Vec<_> = std::fs::read_dir(root().join("config"))
        .expect("config folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let rel = format!("config/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
        let out = hiatus(&["check", "--config", &rel]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{rel}: {}", text(&out.stderr));
        assert!(stdout.starts_with(&format!("ok: {rel} (")), "{rel}: {stdout}");
        assert!(!text(&out.stderr).contains("error"), "{rel}: {}", text(&out.stderr));
        // Their windows nest (an update in the nightly slot) but never partly overlap: no warning.
        assert_eq!(text(&out.stderr), "", "{rel}");
        assert!(stdout.ends_with(" 0 warning(s))\n"), "{rel}: {stdout}");
    }
}

#[test]
fn check_lists_every_error_and_exits_2() {
    let out = hiatus(&["check", "--config", "tests/fixtures/bad/main.toml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(text(&out.stdout), "");
    let errors = stderr.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, 24, "{stderr}");
    assert!(stderr.ends_with("tests/fixtures/bad/main.toml: 24 error(s)\n"), "{stderr}");
    golden("tests/golden/check-bad.txt", &stderr);
}

#[test]
fn check_on_a_missing_file_exits_2() {
    let out = hiatus(&["check", "--config", "tests/fixtures/no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("tests/fixtures/no-such-file.toml: cannot read the file"),
        "{}",
        text(&out.stderr)
    );
}

/// `check` refuses what a gateway would refuse to serve, and says why (issue 15): it called a
/// 0-byte file "ok (0 tenants)".
#[test]
fn check_refuses_an_empty_file_and_one_without_tenants_and_says_why() {
    let dir = TempDir::new("check-empty");
    // A file over its own limit: `check` measures it as the reload of a gateway running it would.
    let big = format!(
        "[gateway]\nmax_config_size = \"4KiB\"\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:9\"]\n{}",
        "# padding\n".repeat(500)
    );
    let cases: [(&str, i32, &[&str]); 5] = [
        ("", 2, &["the file is empty", "rename it into place"]),
        (" \n\n", 2, &["the file is empty"]),
        ("[defaults]\nzone = \"UTC\"\n", 2, &["tenants: no tenants", "allow_no_tenants = true"]),
        ("# all tenants moved elsewhere\n[gateway]\nallow_no_tenants = true\n", 0, &[]),
        (&big, 2, &["is more than a configuration may have (4 KiB"]),
    ];
    for (i, (body, code, fragments)) in cases.iter().enumerate() {
        let path = dir.write(&format!("c{i}.toml"), body);
        let out = hiatus(&["check", "--config", &path.display().to_string()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{body:?}: {stderr}");
        assert!(fragments.iter().all(|f| stderr.contains(f)), "{body:?}: {stderr}");
        if *code == 0 {
            assert!(text(&out.stdout).contains("(0 tenant(s)"), "{}", text(&out.stdout));
        } else {
            assert_eq!(text(&out.stdout), "", "no \"ok\" for {body:?}");
        }
    }
}

/// `check --against RUNNING` says what a reload of a gateway running `RUNNING` would say: the
/// restart-only keys that changed, each by name, and a file over the running size limit.
#[test]
fn check_against_the_running_configuration_names_the_keys_that_need_a_restart() {
    let dir = TempDir::new("check-against");
    let tenant =
        "[defaults]\nzone = \"UTC\"\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:9\"]\n";
    let running = dir.write(
        "running.toml",
        &format!("[gateway]\nlisten = [\"127.0.0.1:8080\"]\nthreads = 2\nmax_config_size = \"4KiB\"\n{tenant}"),
    );
    let new = dir.write(
        "new.toml",
        &format!(
            "[gateway]\nlisten = [\"127.0.0.1:8081\"]\nthreads = 4\nadmin = \"off\"\nkeepalive_timeout = \"5s\"\n{tenant}"
        ),
    );
    let (running, new) = (running.display().to_string(), new.display().to_string());
    let out = hiatus(&["check", "--config", &new, "--against", &running]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warned: Vec<&str> = stderr.lines().filter(|l| l.contains("takes effect after an upgrade or restart")).collect();
    assert_eq!(warned.len(), 3, "{stderr}");
    for key in ["gateway.listen changed", "gateway.threads changed", "gateway.admin changed"] {
        assert!(warned.iter().any(|l| l.contains(key)), "{key}: {stderr}");
    }
    assert!(!stderr.contains("keepalive"), "a reload applies keepalive_timeout: {stderr}");
    assert!(text(&out.stdout).contains("3 warning(s)"), "{}", text(&out.stdout));
    // Without --against there is nothing to compare with.
    let alone = hiatus(&["check", "--config", &new]);
    assert!(alone.status.success() && !text(&alone.stderr).contains("restart"), "{}", text(&alone.stderr));
    // The running configuration's size limit applies, as it would to its reload.
    let big = dir.write("big.toml", &format!("{tenant}{}", "# padding\n".repeat(500)));
    let out = hiatus(&["check", "--config", &big.display().to_string(), "--against", &running]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is more than a configuration may have (4 KiB"), "{}", text(&out.stderr));
}

/// Runs `explain --json` and returns the parsed object.
fn explain_json(config: &str, host: &str, path: &str, at: &str) -> Value {
    let out = hiatus(&["explain", "--config", config, "--host", host, "--path", path, "--at", at, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn explain_json_keys_and_values() {
    let pp = "config/prozessplattform.toml";
    let cases: Vec<(&str, &str, &str, &str, Value)> = vec![
        (
            pp,
            "www324.prozessplattform.de",
            "/",
            "2024-11-08T05:00:00+01:00",
            json!({"tenant": "ppp", "state": "maintenance", "window": "dc-2024-11-08",
                   "until": "2024-11-08T05:30:00Z", "next_start": null, "tentative": false}),
        ),
        (
            pp,
            "WWW324.prozessplattform.de:443",
            "/mandant-a/start",
            "2024-11-08T05:00:00+01:00",
            json!({"tenant": "mandant-a", "state": "maintenance", "window": "dc-2024-11-08",
                   "until": "2024-11-08T05:30:00Z", "next_start": null, "tentative": false}),
        ),
        (
            pp,
            "www323.prozessplattform.de",
            "/",
            "2024-11-08T05:00:00+01:00",
            json!({"tenant": "ppp", "state": "open", "window": null,
                   "until": null, "next_start": "2024-11-08T23:34:00Z", "tentative": false}),
        ),
        (
            pp,
            "example.org",
            "/",
            "2024-11-08T05:00:00+01:00",
            json!({"tenant": null, "state": "open", "window": null,
                   "until": null, "next_start": "2024-11-08T23:34:00Z", "tentative": false}),
        ),
        (
            "config/weekly-provider.toml",
            "shop.kunden.cmo.example",
            "/",
            "2024-11-05T22:30:00+01:00",
            json!({"tenant": "customers", "state": "maintenance", "window": "tue-wed-night",
                   "until": "2024-11-06T05:00:00Z", "next_start": null, "tentative": true}),
        ),
        (
            "config/hiatus.toml",
            "maint.localhost",
            "/",
            "2025-06-01T12:00:00Z",
            json!({"tenant": "maint", "state": "maintenance", "window": "demo-emergency",
                   "until": null, "next_start": null, "tentative": false}),
        ),
        (
            "config/municipal-it.toml",
            "visma.gjovikregionen.example",
            "/",
            "2022-06-14T12:00:00+02:00",
            json!({"tenant": "visma", "state": "maintenance", "window": "visma-release-2022.1",
                   "until": "2022-06-14T22:00:00Z", "next_start": null, "tentative": true}),
        ),
    ];
    for (config, host, path, at, expected) in cases {
        let got = explain_json(config, host, path, at);
        let keys: Vec<&str> = got.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, ["next_start", "state", "tenant", "tentative", "until", "window"], "{host}");
        assert_eq!(got, expected, "{config} {host}{path} at {at}");
    }
}

#[test]
fn explain_human_output_shows_local_and_utc() {
    let out = hiatus(&[
        "explain",
        "--config",
        "config/prozessplattform.toml",
        "--host",
        "www324.prozessplattform.de",
        "--at",
        "2024-11-08T05:00:00+01:00",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    for line in [
        "tenant:   ppp (PICTURE-Prozessplattform)",
        "at:       Fri 2024-11-08 05:00 CET (2024-11-08T04:00:00Z)",
        "state:    MAINTENANCE",
        "window:   dc-2024-11-08 Wartungsarbeiten durch den Rechenzentrumsbetreiber",
        "since:    Fri 2024-11-08 04:30 CET (2024-11-08T03:30:00Z)",
        "until:    Fri 2024-11-08 06:30 CET (2024-11-08T05:30:00Z)",
    ] {
        assert!(stdout.lines().any(|l| l == line), "missing {line:?} in:\n{stdout}");
    }
    let out = hiatus(&[
        "explain",
        "--config",
        "config/municipal-it.toml",
        "--host",
        "gat.gjovikregionen.example",
        "--at",
        "2022-06-15T17:00:00+02:00",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("state:    open"), "{stdout}");
    assert!(
        stdout.contains("next:     Wed 2022-06-22 16:00 CEST (2022-06-22T14:00:00Z) — window gat-visma-2022"),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_exit_1() {
    let cases: &[&[&str]] = &[
        &["explain", "--config", "config/hiatus.toml", "--host", "app.localhost", "--at", "2024-11-08 05:00"],
        &["explain", "--config", "config/hiatus.toml", "--host", "bad host!"],
        &["upcoming", "--config", "config/hiatus.toml", "--from", "yesterday"],
    ];
    for args in cases {
        let out = hiatus(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).starts_with("error: --"), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn upcoming_json_marks_dst_across_the_spring_change() {
    let out = hiatus(&[
        "upcoming",
        "--config",
        "tests/fixtures/dst-upcoming.toml",
        "--from",
        "2025-03-29T12:00:00Z",
        "--days",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(got["from"], "2025-03-29T12:00:00Z");
    assert_eq!(got["to"], "2025-03-31T12:00:00Z");
    assert_eq!(got["host"], Value::Null);
    let list = got["occurrences"].as_array().expect("a list");
    let rows: Vec<String> = list
        .iter()
        .map(|o| {
            let mut keys: Vec<&str> = o.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
            keys.sort_unstable();
            assert_eq!(keys, ["dst", "end", "end_local", "start", "start_local", "tentative", "window", "zone"]);
            assert_eq!(o["zone"], "Europe/Berlin");
            format!(
                "{} {} {} | {} → {} | {}",
                o["window"].as_str().unwrap_or("?"),
                o["start"].as_str().unwrap_or("?"),
                o["end"].as_str().unwrap_or("?"),
                o["start_local"].as_str().unwrap_or("?"),
                o["end_local"].as_str().unwrap_or("?"),
                o["dst"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "night 2025-03-29T21:30:00Z 2025-03-30T00:00:00Z | Sat 2025-03-29 22:30 CET → Sun 2025-03-30 01:00 CET | -",
            "across 2025-03-30T00:30:00Z 2025-03-30T01:30:00Z | Sun 2025-03-30 01:30 CET → Sun 2025-03-30 03:30 CEST | crosses a DST change (UTC+01:00 → UTC+02:00)",
            "gap 2025-03-30T01:00:00Z 2025-03-30T01:30:00Z | Sun 2025-03-30 03:00 CEST → Sun 2025-03-30 03:30 CEST | starts in the DST gap: begins at the transition",
            "night 2025-03-30T20:30:00Z 2025-03-30T23:00:00Z | Sun 2025-03-30 22:30 CEST → Mon 2025-03-31 01:00 CEST | clocks changed since the previous one (now UTC+02:00)",
            "across 2025-03-30T23:30:00Z 2025-03-31T01:30:00Z | Mon 2025-03-31 01:30 CEST → Mon 2025-03-31 03:30 CEST | clocks changed since the previous one (now UTC+02:00)",
            // the previous occurrence of "empty" was dropped, so nothing listed before it to compare
            "empty 2025-03-31T00:10:00Z 2025-03-31T00:50:00Z | Mon 2025-03-31 02:10 CEST → Mon 2025-03-31 02:50 CEST | -",
            "gap 2025-03-31T00:30:00Z 2025-03-31T01:30:00Z | Mon 2025-03-31 02:30 CEST → Mon 2025-03-31 03:30 CEST | -",
        ]
    );
    // The human listing shows the dropped occurrence where it would have been.
    let out = hiatus(&[
        "upcoming",
        "--config",
        "tests/fixtures/dst-upcoming.toml",
        "--from",
        "2025-03-29T12:00:00Z",
        "--days",
        "2",
    ]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let gap = lines.iter().position(|l| l.starts_with("  gap ") && l.contains("[DST: starts in the DST gap"));
    let dropped =
        lines.iter().position(|l| *l == "  empty                2025-03-30: dropped, lies wholly in the DST gap");
    assert!(gap.is_some() && dropped == gap.map(|g| g + 1), "{stdout}");
    // A week later that drop is history.
    let out = hiatus(&[
        "upcoming",
        "--config",
        "tests/fixtures/dst-upcoming.toml",
        "--from",
        "2025-04-05T00:00:00Z",
        "--days",
        "1",
    ]);
    assert!(!text(&out.stdout).contains("dropped"), "{}", text(&out.stdout));
}

#[test]
fn upcoming_for_a_host_lists_only_its_windows() {
    let out = hiatus(&[
        "upcoming",
        "--config",
        "config/prozessplattform.toml",
        "--host",
        "www317.prozessplattform.de",
        "--from",
        "2024-12-01T12:00:00Z",
        "--days",
        "2",
        "--json",
    ]);
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((got["host"].as_str(), got["tenant"].as_str()), (Some("www317.prozessplattform.de"), Some("ppp")));
    let ids: Vec<(&str, &str)> = got["occurrences"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| (o["window"].as_str().unwrap_or("?"), o["start"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        ids,
        [
            ("nightly", "2024-12-01T23:34:00Z"),
            ("dc-2024-12-02", "2024-12-02T03:30:00Z"),
            ("nightly", "2024-12-02T23:34:00Z"),
        ]
    );
}

#[test]
fn a_closed_pipe_ends_upcoming_quietly() {
    // `hiatus upcoming ... | head -1`: megabytes of output, a reader that stops after a line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .args(["upcoming", "--config", "tests/fixtures/dst-upcoming.toml", "--from", "2025-01-01T00:00:00Z"])
        .args(["--days", "3660"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hiatus");
    let stdout = child.stdout.take().expect("piped");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("first line");
    assert!(first.starts_with("upcoming for all windows"), "{first}");
    // The reader is gone now.
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
}
