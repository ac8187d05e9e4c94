//! The real binary's log on stderr: each event once, in either format, with `RUST_LOG` over the
//! configured level; a reload's changes and a refusal's errors (without the secret); upstream
//! errors limited per upstream; the stop and its drain. Processes are the test's own children
//! on loopback ports; every wait is bounded.

use crate::control::TempDir;
use crate::gateway_support::{dead_address, Client};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `hiatus run` with its stdout (the announcements) and stderr (the log) read line by line.
struct Logged {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every log line read so far.
    seen: Vec<String>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

impl Logged {
    fn start(config: &str, rust_log: Option<&str>) -> Logged {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hiatus"));
        command.args(["run", "--config", config]).stdout(Stdio::piped()).stderr(Stdio::piped());
        match rust_log {
            Some(spec) => command.env("RUST_LOG", spec),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command.spawn().expect("start hiatus");
        let stdout = lines_of(child.stdout.take().expect("stdout"));
        let stderr = lines_of(child.stderr.take().expect("stderr"));
        Logged { child, stdout, stderr, seen: Vec::new() }
    }

    /// The gateway's address, from its announcement on stdout.
    fn listening(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(200)) {
                if let Some(rest) = line.strip_prefix("hiatus: listening on http://") {
                    return rest.parse().expect("an address");
                }
            }
        }
        panic!("hiatus did not start listening");
    }

    /// Waits (bounded) for a log line containing `text`; returns it.
    fn expect(&mut self, text: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(text) {
                    return line;
                }
            }
        }
        panic!("no log line with {text:?} in:\n{}", self.seen.join("\n"));
    }

    /// How many of the lines read so far contain `text`.
    fn count(&self, text: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(text)).count()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().expect("kill").success();
        assert!(ok, "kill {sig}");
    }

    /// Waits (bounded) for the process to exit, reading the rest of its log.
    fn exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(line);
            }
        }
        panic!("hiatus did not exit");
    }
}

/// Writes `text` as the configuration by renaming a complete file into place, as a deploy
/// tool would (the watcher reads it at its next look, never half-written).
fn replace(dir: &TempDir, text: &str) {
    let temp = dir.write("next.tmp", text);
    std::fs::rename(temp, dir.0.join("hiatus.toml")).expect("rename into place");
}

fn config(format: &str, tenants: &[(&str, SocketAddr)], extra: &str) -> String {
    let mut text = format!(
        "[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"off\"\n\
         grace_period = \"2s\"\nlog_format = \"{format}\"\n\n"
    );
    for (id, upstream) in tenants {
        text.push_str(&format!(
            "[[tenants]]\nid = \"{id}\"\nhosts = [\"{id}.test\"]\nupstreams = [\"{upstream}\"]\n\n"
        ));
    }
    text.push_str(extra);
    text
}

/// The level of a text line.
fn level(line: &str) -> &str {
    line.split(' ').nth(1).unwrap_or_default()
}

/// `TIME LEVEL TARGET: MESSAGE`, the time RFC 3339 in UTC.
fn is_text_line(line: &str) -> bool {
    let mut parts = line.splitn(3, ' ');
    let time = parts.next().unwrap_or_default();
    let level = parts.next().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(time).is_ok()
        && time.ends_with('Z')
        && ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level)
        && parts.next().is_some_and(|rest| rest.trim_start().contains(": "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_each_event_once_start_reloads_upstream_errors_and_the_stop() {
    let dir = TempDir::new("logs-text");
    let dead = dead_address();
    let path = dir.write("hiatus.toml", &config("text", &[("a", dead)], "")).display().to_string();
    let mut gw = Logged::start(&path, None);
    let addr = gw.listening();
    gw.expect("hiatus::cli::run: hiatus ");
    assert!(gw.expect("starting: ").ends_with("generation 1, 1 tenant(s), 0 window(s)"));
    gw.expect(&format!("INFO  hiatus::cli::run: listening on http://{addr}"));

    // Five failures of one upstream: one line, with the system's error.
    let mut client = Client::connect(addr, None).await;
    for _ in 0..5 {
        let r = client.request("GET", "a.test", "/", &[]).await;
        assert_eq!(r.status, 502, "{}", r.text());
    }
    let failed = gw.expect(&format!("upstream {dead} of tenant a: connection_refused"));
    assert!(level(&failed) == "WARN" && failed.contains("os error"), "{failed}");

    // A reload: what it changed, by id.
    // Far ahead: the test's wall clock never reaches it (its start would be a line of its own).
    let window = "[[windows]]\nid = \"night\"\nscope = \"all\"\nonce = { start = \"2099-01-01T00:00\", end = \"2099-01-02T00:00\" }\n";
    replace(&dir, &config("text", &[("a", dead), ("b", dead)], window));
    gw.expect("config: generation 2 in force (file change): tenants added: b; windows added: night");

    // A refused reload: one line, every error with its file and key, not the secret.
    let wrong_time = "[[windows]]\nid = \"w\"\nscope = \"all\"\ndaily = { at = \"25:00\", until = \"03:00\" }\n";
    let bad = config("text", &[("a", dead)], wrong_time)
        .replace("grace_period", "bypass = { secret = 123456789012345678 }\ngrace_period");
    replace(&dir, &bad);
    let refused = gw.expect("config: reload refused (file change), generation 2 stays: 2 error(s): ");
    assert_eq!(level(&refused), "ERROR", "{refused}");
    assert!(refused.contains("hiatus.toml: gateway.bypass.secret: not valid"), "{refused}");
    // With its place in the file, as `check` prints it: `hiatus.toml:LINE:COLUMN: key: …`.
    let placed = refused.split("hiatus.toml:").skip(1).any(|rest| {
        let mut parts = rest.splitn(3, ':');
        let numbers = parts.by_ref().take(2).all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        numbers && parts.next().is_some_and(|m| m.starts_with(" windows[0].daily.at: "))
    });
    assert!(placed, "{refused}");
    assert!(!refused.contains("123456789012345678"), "the secret stays out of the log: {refused}");

    gw.signal("-TERM");
    let status = gw.exit();
    assert!(status.success(), "{status:?}");
    gw.expect("shutdown: SIGTERM, draining the connections");
    gw.expect("connection(s) open, grace period 2s");
    gw.expect("stopped: every connection finished");
    for (event, n) in [
        ("starting: ", 1),
        ("listening on http://", 1),
        ("connection_refused (connection refused: ", 1),
        ("config: generation 2 in force", 1),
        ("config: reload refused", 1),
        ("shutdown: SIGTERM", 1),
        ("stopping: ", 1),
        ("stopped: ", 1),
    ] {
        assert_eq!(gw.count(event), n, "{event:?} in:\n{}", gw.seen.join("\n"));
    }
    let odd: Vec<&String> = gw.seen.iter().filter(|l| !is_text_line(l)).collect();
    assert!(odd.is_empty(), "every line is a log line: {odd:?}");
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_and_rust_log_over_the_configured_level() {
    let dir = TempDir::new("logs-json");
    let dead = dead_address();
    let path = dir.write("hiatus.toml", &config("json", &[("a", dead)], "")).display().to_string();
    // Warnings only: the start and the listeners (info) are not written, the failure is.
    let mut gw = Logged::start(&path, Some("warn"));
    let addr = gw.listening();
    let mut client = Client::connect(addr, None).await;
    let r = client.request("GET", "a.test", "/", &[]).await;
    assert_eq!(r.status, 502);
    let line = gw.expect("of tenant a: connection_refused");
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!((v["level"].as_str(), v["target"].as_str()), (Some("warn"), Some("hiatus::gateway::record")));
    assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
    assert!(v["message"].as_str().is_some_and(|m| m.starts_with(&format!("upstream {dead} of tenant a"))), "{line}");
    gw.signal("-TERM");
    assert!(gw.exit().success());
    assert_eq!(gw.count("starting"), 0, "info lines are below RUST_LOG=warn: {:?}", gw.seen);
    for l in &gw.seen {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(["warn", "error"].contains(&v["level"].as_str().unwrap_or_default()), "{l}");
    }
    drop(client);
}
