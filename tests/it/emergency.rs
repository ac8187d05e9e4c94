//! `hiatus emergency` as real processes on real files (issue 15, item 6): edits that run at the
//! same moment all land (one writer at a time: a lock next to the emergency file); a temporary
//! file left by a writer killed with -9 is removed when the next edit or the gateway starts,
//! while a live writer's is never touched; an emergency switched on and off within a minute
//! keeps its seconds in the file, in `list`, on the status page and in the feeds.
//!
//! Every wait is bounded; nothing sleeps to prove a point.

use crate::control::TempDir;
use crate::gateway_support::TestGateway;
use crate::lifecycle::Running;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A configuration with `tenants` tenants (`t0`, `t1`, …) whose emergency file is `d/emergency.toml`.
/// Paths are absolute so that the same text also loads from elsewhere (`TestGateway`).
fn write_config(dir: &TempDir, tenants: usize) -> PathBuf {
    std::fs::create_dir_all(dir.0.join("d")).expect("the emergency folder");
    let d = dir.0.join("d").display().to_string();
    let mut text = format!(
        "include = [\"{d}/*.toml\"]\n\n[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"en\"\n\n\
         [gateway]\nlisten = [\"127.0.0.1:0\"]\nemergency_file = \"{d}/emergency.toml\"\n\
         status_host = \"status.test\"\nstatus_path = \"/status\"\n\n"
    );
    for i in 0..tenants {
        text.push_str(&format!(
            "[[tenants]]\nid = \"t{i}\"\nhosts = [\"t{i}.test\"]\nupstreams = [\"127.0.0.1:9\"]\n\n"
        ));
    }
    dir.write("main.toml", &text)
}

/// A configuration of two tenants in a fresh folder, with emergency `first` switched on now;
/// the folder and the main file's path.
fn one_switched_on(name: &str) -> (TempDir, String) {
    let dir = TempDir::new(name);
    let main = write_config(&dir, 2).display().to_string();
    succeeded(&hiatus(&on_args(&main, "first", "all", None)), "the first switch");
    (dir, main)
}

fn hiatus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hiatus")).args(args).output().expect("run hiatus")
}

/// The arguments of `emergency on` for window `id` over `scope`, at `at` (RFC 3339) or now.
fn on_args<'a>(main: &'a str, id: &'a str, scope: &'a str, at: Option<&'a str>) -> Vec<&'a str> {
    let mut args =
        vec!["emergency", "on", "--config", main, "--scope", scope, "--reason", "Database restore", "--id", id];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    args
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hiatus")
}

/// Waits (bounded) for a child to finish; its output.
fn finished(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("{what} did not finish within 60 s");
}

fn succeeded(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what}: {:?}\n{stdout}{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// `emergency list --json`: (id, state, start, end) per window, in file order.
fn listed(main: &Path, at: &str) -> Vec<(String, String, String, String)> {
    let main = main.display().to_string();
    let out = hiatus(&["emergency", "list", "--config", &main, "--json", "--at", at]);
    let j: Value = serde_json::from_str(&succeeded(&out, "list")).expect("list --json");
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    j["windows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| (s(&w["id"]), s(&w["state"]), s(&w["start"]), s(&w["end"])))
        .collect()
}

fn entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .expect("read the folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The pid of a process that has exited: what a writer killed with -9 leaves in its file name.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("run true");
    let pid = child.id();
    child.wait().expect("wait for true");
    pid
}

#[test]
fn concurrent_switches_all_land() {
    let dir = TempDir::new("emergency-concurrent");
    // Enough tenants that validating an edit takes a while: a lost update has room to happen.
    let main = write_config(&dir, 400);
    let m = main.display().to_string();
    let first = hiatus(&on_args(&m, "first", "all", Some("2025-03-01T09:00:00Z")));
    succeeded(&first, "the first switch");
    // Six switches on and one switch off, all started at once.
    let mut children = Vec::new();
    for i in 0..6 {
        let (id, scope, at) = (format!("w{i}"), format!("tenant:t{i}"), format!("2025-03-01T09:15:1{i}Z"));
        children.push((id.clone(), spawn(&on_args(&m, &id, &scope, Some(&at)))));
    }
    children.push((
        "off".into(),
        spawn(&["emergency", "off", "--config", &m, "--id", "first", "--at", "2025-03-01T09:15:30Z"]),
    ));
    for (what, child) in children {
        succeeded(&finished(child, &what), &what);
    }
    let mut got = listed(&main, "2025-03-01T09:20:00Z");
    got.sort();
    let states: Vec<(&str, &str)> = got.iter().map(|l| (l.0.as_str(), l.1.as_str())).collect();
    assert_eq!(
        states,
        [
            ("first", "ended"),
            ("w0", "open"),
            ("w1", "open"),
            ("w2", "open"),
            ("w3", "open"),
            ("w4", "open"),
            ("w5", "open")
        ],
        "every switch landed"
    );
    let mut want = vec![(
        "first".to_string(),
        "ended".to_string(),
        "2025-03-01T09:00:00Z".to_string(),
        "2025-03-01T09:15:30Z".to_string(),
    )];
    for i in 0..6 {
        want.push((format!("w{i}"), "open".into(), format!("2025-03-01T09:15:1{i}Z"), "-".into()));
    }
    assert_eq!(got, want, "to the second");
    assert!(
        entries(&dir.0.join("d")).iter().all(|n| !n.ends_with(".tmp")),
        "no temporary file is left: {:?}",
        entries(&dir.0.join("d"))
    );
}

#[test]
fn a_dead_writers_temporary_file_is_removed_and_a_live_writers_is_not() {
    let (dir, m) = one_switched_on("emergency-stale");
    let d = dir.0.join("d");
    let target = d.join("emergency.toml");
    // A writer killed with -9 halfway through writing its temporary file.
    let dead = d.join(format!(".emergency.toml.{}-123.tmp", dead_pid()));
    std::fs::write(&dead, "[[windows]]\nid = \"half").expect("the dead writer's file");
    // A live writer (this test): it holds the lock and has written its temporary file.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(d.join(".emergency.toml.lock"))
        .expect("the lock file");
    lock.lock().expect("take the lock");
    let live = d.join(format!(".emergency.toml.{}-456.tmp", std::process::id()));
    let current = std::fs::read_to_string(&target).expect("the emergency file");
    std::fs::write(
        &live,
        format!(
            "{current}\n[[windows]]\nid = \"live\"\nzone = \"UTC\"\nscope = \"all\"\n\
             once = {{ start = \"2025-03-01T09:20:00\" }}\nreason = {{ en = \"live\" }}\n"
        ),
    )
    .expect("the live writer's file");

    // The gateway starts while the live writer holds the lock: it touches neither file (it
    // cannot tell them apart without the lock), and it loads neither as configuration.
    let sock = dir.0.join("upgrade.sock").display().to_string();
    let gw = Running::start(&["run", "--config", &m, "--upgrade-sock", &sock]);
    gw.started();
    assert!(live.exists() && dead.exists(), "{:?}", entries(&d));
    drop(gw);

    // An edit started now waits for the live writer, then removes what the dead one left.
    let later = spawn(&on_args(&m, "later", "tenant:t1", None));
    std::fs::rename(&live, &target).expect("the live writer's file was left alone");
    drop(lock);
    succeeded(&finished(later, "the later switch"), "the later switch");
    let ids: Vec<String> = listed(Path::new(&m), "2030-01-01T00:00:00Z").into_iter().map(|l| l.0).collect();
    assert_eq!(ids, ["first", "live", "later"], "the later edit read the live writer's result");
    assert_eq!(entries(&d), [".emergency.toml.lock", "emergency.toml"], "the dead writer's file is gone");
}

#[test]
fn the_gateway_removes_a_dead_writers_temporary_file_when_it_starts() {
    let (dir, m) = one_switched_on("emergency-start");
    let d = dir.0.join("d");
    let dead = d.join(format!(".emergency.toml.{}-789.tmp", dead_pid()));
    std::fs::write(&dead, "[[windows]]\nid = \"half").expect("the dead writer's file");
    let sock = dir.0.join("upgrade.sock").display().to_string();
    let gw = Running::start(&["run", "--config", &m, "--upgrade-sock", &sock]);
    gw.started();
    assert!(!dead.exists(), "removed at start: {:?}", entries(&d));
    assert!(d.join("emergency.toml").exists());
}

#[tokio::test]
async fn on_and_off_within_a_minute_keep_their_seconds_on_the_status_page_and_in_the_feeds() {
    let dir = TempDir::new("emergency-seconds");
    let main = write_config(&dir, 2);
    let m = main.display().to_string();
    let on = hiatus(&on_args(&m, "db", "all", Some("2024-11-14T09:15:10Z")));
    assert!(succeeded(&on, "on").contains("from 2024-11-14T09:15:10Z"));
    let while_on = TestGateway::start(&std::fs::read_to_string(&main).expect("main"), 1_731_575_720).await; // 09:15:20
    let atom_on = while_on.get("status.test", "/status/feed.atom", &[]).await.text();
    let off = hiatus(&["emergency", "off", "--config", &m, "--at", "2024-11-14T09:15:50Z"]);
    assert!(succeeded(&off, "off").contains("(2024-11-14T09:15:10Z → 2024-11-14T09:15:50Z)"));
    assert_eq!(
        listed(&main, "2024-11-14T10:00:00Z"),
        [("db".into(), "ended".into(), "2024-11-14T09:15:10Z".into(), "2024-11-14T09:15:50Z".into())]
    );

    let gw = TestGateway::start(&std::fs::read_to_string(&main).expect("main"), 1_731_578_400).await; // 10:00
    let j = gw.get("status.test", "/status/status.json", &[]).await.json();
    let history: Vec<(&str, &str, &str)> = j["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (e["window"].as_str().unwrap_or(""), e["start"].as_str().unwrap_or(""), e["end"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(history, [("db", "2024-11-14T09:15:10+00:00", "2024-11-14T09:15:50+00:00")]);
    let atom = gw.get("status.test", "/status/feed.atom", &[]).await.text();
    assert!(atom.contains("2024-11-14T09:15:10Z – 2024-11-14T09:15:50Z"), "{atom}");
    // The entry keeps its id from switch-on to switch-off: readers do not see a second one.
    let id = "<id>urn:hiatus:window:db:1731575710</id>";
    assert!(atom_on.contains(id) && atom.contains(id), "{atom_on}\n{atom}");
    let ics = gw.get("status.test", "/status/calendar.ics", &[]).await.text().replace("\r\n ", "");
    assert!(ics.contains("DTSTART:20241114T091510Z") && ics.contains("DTEND:20241114T091550Z"), "{ics}");
}

/// An operator's emergency file keeps its comments, blank lines and layout through `on` and
/// `off`: `on` appends a window, `off` writes `end` into that window's `once`, nothing else moves.
#[test]
fn on_and_off_keep_the_operators_comments_and_layout() {
    let dir = TempDir::new("emergency-comments");
    let main = write_config(&dir, 2).display().to_string();
    let hand = "# Emergency windows of the night shift.\n# Ask ops before removing anything.\n\n\
                [[windows]]   # last year's outage\nid = \"db-2024\"\nzone = \"UTC\"\n\
                once = { start = \"2024-11-02T03:10\", end = \"2024-11-02T04:00\" }   # 50 minutes\n\
                reason = { en = \"Database restore\" }\n";
    std::fs::write(dir.0.join("d/emergency.toml"), hand).expect("the operator's file");
    succeeded(&hiatus(&on_args(&main, "now", "all", Some("2026-01-05T10:00:00Z"))), "on");
    let after_on = std::fs::read_to_string(dir.0.join("d/emergency.toml")).expect("file");
    assert!(after_on.starts_with(hand), "{after_on}");
    assert!(after_on[hand.len()..].contains("\n[[windows]]\nid = \"now\"\n"), "{after_on}");
    succeeded(&hiatus(&["emergency", "off", "--config", &main, "--id", "now", "--at", "2026-01-05T10:30:00Z"]), "off");
    let after_off = std::fs::read_to_string(dir.0.join("d/emergency.toml")).expect("file");
    assert!(after_off.starts_with(hand), "{after_off}");
    assert!(
        after_off.contains("once = { start = \"2026-01-05T10:00:00\", end = \"2026-01-05T10:30:00\" }"),
        "{after_off}"
    );
    assert_eq!(after_off.len() - after_on.len(), ", end = \"2026-01-05T10:30:00\"".len(), "only `end` was added");
}
