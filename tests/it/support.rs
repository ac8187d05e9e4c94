//! Shared helpers: configuration text in, snapshots and readable answers out.
//!
//! Everything renders to short strings (`"maintenance nightly until 2024-11-13T23:55Z"`) so the
//! tables in the other modules read like the specification they check.

use hiatus::config::{self, Loaded, Report};
use hiatus::engine::{BuildOptions, Snapshot};
use hiatus::hosts::{normalize_host, HOST_BUF_LEN};
use hiatus::schedule::{Expanded, State, UnixTime, Verdict, OPEN_END};
use std::path::{Path, PathBuf};

pub const DAY: i64 = 86_400;

/// The crate root: shipped configs, fixtures and golden files are found from here.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads configuration text that must be valid; includes resolve against the crate root.
pub fn load(text: &str) -> Loaded {
    match config::load_str(text, "t.toml", &root()) {
        Ok(l) => l,
        Err(report) => panic!("configuration should load, got:\n{report}\n--- text:\n{text}"),
    }
}

/// Loads configuration text that must be refused.
pub fn load_err(text: &str, base: &Path) -> Report {
    match config::load_str(text, "t.toml", base) {
        Ok(_) => panic!("configuration should be refused:\n{text}"),
        Err(report) => report,
    }
}

/// Loads a shipped configuration file by its path relative to the crate root.
pub fn load_file(rel: &str) -> Loaded {
    match config::load(&root().join(rel)) {
        Ok(l) => l,
        Err(report) => panic!("{rel} should load, got:\n{report}"),
    }
}

/// An instant written as RFC 3339 with optional seconds: `2024-11-08T05:00+01:00`,
/// `2024-11-08T04:00Z`, `2024-11-08T04:00:30Z`.
pub fn at(text: &str) -> UnixTime {
    let full = if text.len() >= 17 && text.as_bytes().get(16) != Some(&b':') {
        format!("{}:00{}", &text[..16], &text[16..])
    } else {
        text.to_string()
    };
    match chrono::DateTime::parse_from_rfc3339(&full) {
        Ok(t) => t.timestamp(),
        Err(e) => panic!("bad instant literal {text:?}: {e}"),
    }
}

/// An instant as `2024-11-08T05:30Z` (seconds only when not zero); `open` for no end.
pub fn show(t: UnixTime) -> String {
    if t == OPEN_END {
        return "open".to_string();
    }
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) if t % 60 == 0 => d.format("%Y-%m-%dT%H:%MZ").to_string(),
        Some(d) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("<{t}>"),
    }
}

/// A verdict as one line: `maintenance W until T [tentative] [firm T]` or `open [next T W] [tentative]`.
pub fn render(snapshot: &Snapshot, v: &Verdict) -> String {
    let id = |w: Option<u32>| w.and_then(|w| snapshot.window(w)).map_or("?".to_string(), |w| w.id.clone());
    let mut out = match v.state {
        State::Maintenance => {
            format!("maintenance {} until {}", id(v.window), v.until.map_or("open".to_string(), show))
        }
        State::Open => match v.next_start {
            Some(s) => format!("open next {} {}", show(s), id(v.next_window)),
            None => "open".to_string(),
        },
    };
    if v.tentative {
        out.push_str(" tentative");
    }
    if let Some(f) = v.firm_until {
        out.push_str(&format!(" firm {}", show(f)));
    }
    out
}

/// Splits `host/path` into a normalised host and a path (`/` when none).
pub fn host_path(target: &str) -> (String, String) {
    let (host, path) = match target.find('/') {
        Some(i) => (&target[..i], &target[i..]),
        None => (target, "/"),
    };
    let mut buf = [0u8; HOST_BUF_LEN];
    let host = normalize_host(host, &mut buf).unwrap_or_else(|| panic!("bad host in test: {host:?}")).to_string();
    (host, path.to_string())
}

/// Builds a snapshot centred on `around`, as a gateway does.
pub fn snapshot(loaded: &Loaded, around: UnixTime) -> Snapshot {
    Snapshot::build(loaded.config.clone(), BuildOptions::around(around))
}

/// The decision at `now` for `host/path`, as text, asserting that it does not depend on where
/// the snapshot's horizon lies (centred on `now`, ending shortly after it, or far away so
/// that the answer is computed afresh).
pub fn decide(loaded: &Loaded, target: &str, now: UnixTime) -> (Option<String>, String) {
    let (host, path) = host_path(target);
    let mut first: Option<(Option<String>, String)> = None;
    // Centred (the gateway's case), far before and far after (evaluated afresh), and with the
    // horizon ending a day after `now` (blocks cut short, next starts found past the horizon).
    for shift in [0, 50 * DAY, -50 * DAY, -34 * DAY] {
        let snap = snapshot(loaded, now + shift);
        let d = snap.decide(&host, &path, now);
        let tenant = snap.tenant(&d.route).map(|t| t.id.clone());
        let got = (tenant, render(&snap, &d.verdict));
        let Some(f) = &first else {
            first = Some(got);
            continue;
        };
        assert_eq!(&got, f, "{target} at {}: the answer changed with the horizon shift {shift}", show(now));
    }
    first.unwrap_or_default()
}

/// Table check for decisions: each case is `(instant, expected verdict line)` for `target`.
pub fn check_decisions(loaded: &Loaded, target: &str, cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (now, expected) in cases {
        let (_, got) = decide(loaded, target, at(now));
        if got != *expected {
            failures.push(format!("  {target} at {now}:\n    expected {expected}\n    got      {got}"));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// The occurrences of window `id` that intersect `[from, to)`, as `start..end` or
/// `DATE dropped`.
pub fn occurrences(loaded: &Loaded, id: &str, from: UnixTime, to: UnixTime) -> Vec<String> {
    let (index, w) = loaded
        .config
        .windows
        .iter()
        .enumerate()
        .find(|(_, w)| w.id == id)
        .unwrap_or_else(|| panic!("no window {id:?}"));
    let mut out = Vec::new();
    w.schedule.expand(index as u32, from, to, |date, e| match e {
        Expanded::Kept(o) if o.start < to && o.end > from => out.push(format!("{}..{}", show(o.start), show(o.end))),
        Expanded::Kept(_) => {}
        Expanded::DroppedInGap => out.push(format!("{date} dropped")),
    });
    out
}

/// Runs the `hiatus` binary from the crate root.
pub fn hiatus(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run hiatus {args:?}: {e}"))
}

/// Compares `actual` with a golden file; `HIATUS_BLESS=1` rewrites the file instead.
pub fn golden(rel: &str, actual: &str) {
    let path = root().join(rel);
    if std::env::var_os("HIATUS_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}); run with HIATUS_BLESS=1 to create it", path.display()));
    assert!(
        expected == actual,
        "{rel} differs (HIATUS_BLESS=1 regenerates it)\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// A loopback port nothing listens on now (bound, then released): for processes whose ports
/// must be known before they start.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
