//! Notifications on the real binary: webhook and Slack-compatible targets posting to sinks the
//! test starts on loopback — payload schema, the HMAC signature, one delivery per event and
//! target across a reload and across `kill -9` with the outbox in `state_dir`, a target that
//! hangs not delaying another, and retries that recover after 500s and a timeout; the Teams and
//! Discord shapes, and Discord's 429 with `retry_after` in its body.

use crate::control::TempDir;
use crate::lifecycle::Running;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a sink answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Fail,
    /// Reads the request and answers nothing for a while (the sender's timeout fires first).
    Hang,
    /// 429 the way Discord says it: when to come back is in the JSON body only (0.3 s).
    RateLimited,
}

/// One request a sink received, with what it answered.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
    answered: Mode,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// What a sink answers next (a script, popped from the end), what after it, what it received.
type SinkState = (Vec<Mode>, Mode, Vec<Received>);

/// A webhook receiver: answers by a script (then `then`), records every request.
#[derive(Clone)]
struct Sink {
    addr: SocketAddr,
    state: Arc<Mutex<SinkState>>,
}

impl Sink {
    fn start(script: &[Mode], then: Mode) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a sink");
        let addr = listener.local_addr().expect("sink address");
        let state = Arc::new(Mutex::new((script.iter().rev().copied().collect::<Vec<_>>(), then, Vec::new())));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Sink { addr, state }
    }
    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }
    fn set(&self, mode: Mode) {
        let mut s = self.state.lock().expect("sink");
        s.0.clear();
        s.1 = mode;
    }
    fn received(&self) -> Vec<Received> {
        self.state.lock().expect("sink").2.clone()
    }
    /// Requests answered with 200.
    fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.answered == Mode::Ok).collect()
    }
    /// Waits (bounded) until `f` holds of what arrived.
    fn wait(&self, what: &str, f: impl Fn(&[Received]) -> bool) {
        wait_until(what, || self.received(), |r| f(r));
    }
}

/// Looks (every 20 ms, for 20 s at the most) until `done` holds of what `look` returns; that, or a
/// panic that shows the last look.
pub(crate) fn wait_until<T: std::fmt::Debug>(what: &str, look: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = look();
        if done(&seen) {
            return seen;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; got {seen:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(stream: std::net::TcpStream, state: &Mutex<SinkState>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    loop {
        let mut headers = Vec::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap_or(0));
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mode = {
            let mut s = state.lock().expect("sink");
            let mode = s.0.pop().unwrap_or(s.1);
            s.2.push(Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                answered: mode,
                at: Instant::now(),
            });
            mode
        };
        let answer: &[u8] = match mode {
            Mode::Ok => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            Mode::Fail => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
            Mode::RateLimited => {
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n\
                  {\"message\": \"You are being rate limited.\", \"retry_after\": 0.300}"
            }
            Mode::Hang => {
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
        };
        if reader.get_mut().write_all(answer).is_err() {
            return;
        }
    }
}

/// `YYYY-MM-DDTHH:MM` in UTC, `mins` minutes from now.
pub(crate) fn minutes_from_now(mins: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(mins)).format("%Y-%m-%dT%H:%M").to_string()
}

fn window(id: &str, from: i64, to: i64) -> String {
    format!(
        "[[windows]]\nid = \"{id}\"\nscope = {{ tenants = [\"a\"] }}\ntitle = {{ en = \"Upgrade {id}\" }}\n\
         once = {{ start = \"{}\", end = \"{}\" }}\n\n",
        minutes_from_now(from),
        minutes_from_now(to)
    )
}

fn write(dir: &TempDir, windows: &str, targets: &str) -> String {
    let state = dir.0.join("state").display().to_string();
    let text = format!(
        "[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\n\n\
         [[tenants]]\nid = \"a\"\nname = \"Shop A\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:9\"]\n\n\
         [[tenants]]\nid = \"b\"\nhosts = [\"b.test\"]\nupstreams = [\"127.0.0.1:9\"]\n\n{windows}{targets}"
    );
    dir.write("hiatus.toml", &text).display().to_string()
}

fn verify(secret: &str, r: &Received) -> bool {
    let (Some(ts), Some(sig)) = (r.header("x-hiatus-timestamp"), r.header("x-hiatus-signature")) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    sig == format!("sha256={hex}")
}

fn ids(rs: &[Received]) -> Vec<String> {
    let mut v: Vec<String> = rs.iter().map(|r| r.header("x-hiatus-event-id").unwrap_or_default().to_string()).collect();
    v.sort();
    v
}

#[test]
fn each_event_reaches_each_target_once_signed_across_a_reload_and_a_kill_9() {
    let hook = Sink::start(&[], Mode::Ok);
    let chat = Sink::start(&[], Mode::Ok);
    let other = Sink::start(&[], Mode::Ok);
    let dir = TempDir::new("notify-once");
    let targets = format!(
        "[[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"s3cret\"\nretry_min = \"100ms\"\nretry_max = \"200ms\"\n\n\
         [[notify]]\nid = \"chat\"\ntype = \"slack\"\nurl = \"{}\"\ntenants = [\"a\"]\nevents = [\"window.started\"]\n\n\
         [[notify]]\nid = \"b-only\"\ntype = \"webhook\"\nurl = \"{}\"\ntenants = [\"b\"]\n\n",
        hook.url(),
        chat.url(),
        other.url()
    );
    let now = window("now", -1, 60);
    let later = window("later", 180, 240);
    let config = write(&dir, &[now.as_str(), &later].concat(), &targets);
    let gw = Running::start(&["run", "--config", &config]);
    gw.listening();
    hook.wait("a start and an announcement", |r| r.len() >= 2);
    chat.wait("the start in Slack's shape", |r| !r.is_empty());

    let got = hook.accepted();
    let started = got.iter().find(|r| r.json()["kind"] == "window.started").expect("window.started");
    let body = started.json();
    assert_eq!(body["schema"], "hiatus.notify/1");
    assert_eq!(body["id"].as_str(), started.header("x-hiatus-event-id"), "the id is in the payload and the header");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["window"]["id"], "now");
    assert_eq!(body["window"]["title"], "Upgrade now");
    assert_eq!(body["tenants"], serde_json::json!([{"id": "a", "name": "Shop A"}]));
    assert!(body["text"].as_str().is_some_and(|t| t.contains("Upgrade now") && t.contains("Shop A")), "{body}");
    assert_eq!(started.header("content-type"), Some("application/json"));
    let announced = got.iter().find(|r| r.json()["kind"] == "window.announced").expect("window.announced");
    assert_eq!(announced.json()["window"]["lead"], "1d");
    for r in &got {
        assert!(verify("s3cret", r), "signature of {}", r.body);
        assert!(!verify("other", r));
    }
    let slack = chat.received()[0].json();
    assert_eq!(slack.as_object().map(|o| o.len()), Some(1), "Slack's shape: text only: {slack}");
    assert!(slack["text"].as_str().is_some_and(|t| t.contains("Upgrade now")));

    // A reload adds a window: its announcement goes out, nothing earlier goes again.
    let config = write(&dir, &[now.as_str(), &later, &window("second", 200, 260)].concat(), &targets);
    hook.wait("the new window's announcement", |r| r.len() >= 3);

    // The hook fails now: the next window's announcement is retried, with one id...
    hook.set(Mode::Fail);
    write(&dir, &[now.as_str(), &later, &window("second", 200, 260), &window("third", 300, 360)].concat(), &targets);
    hook.wait("retries of the third window's announcement", |r| {
        r.iter().filter(|r| r.answered == Mode::Fail).count() >= 2
    });
    // Every attempt of an event sends the same bytes (grouped by event id: another event that
    // falls due meanwhile is retried beside it).
    let mut attempts: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in hook.received().iter().filter(|r| r.answered == Mode::Fail) {
        let id = r.header("x-hiatus-event-id").unwrap_or_default().to_string();
        attempts.entry(id).or_default().push(r.body.clone());
    }
    assert!(attempts.values().any(|a| a.len() >= 2), "{attempts:?}");
    for (id, bodies) in &attempts {
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every attempt of {id} sends the same bytes: {bodies:#?}");
    }
    // ...until the process is killed (SIGKILL) and started again with the hook back up.
    drop(gw);
    hook.set(Mode::Ok);
    let gw = Running::start(&["run", "--config", &config]);
    gw.listening();
    hook.wait("the third window's announcement after the restart", |r| {
        r.iter().filter(|r| r.answered == Mode::Ok).count() >= 4
    });
    std::thread::sleep(Duration::from_millis(1500)); // anything sent twice would have come by now
    let accepted = ids(&hook.accepted());
    let mut unique = accepted.clone();
    unique.dedup();
    assert_eq!(accepted, unique, "each event accepted once");
    assert_eq!(accepted.len(), 4, "started, and three announcements: {accepted:?}");
    assert_eq!(chat.received().len(), 1, "the Slack target wants starts only, once");
    assert!(other.received().is_empty(), "tenant b's target hears nothing of tenant a");
    drop(gw);
}

#[test]
fn a_hanging_target_delays_no_other_and_failing_ones_recover() {
    let hanging = Sink::start(&[Mode::Hang], Mode::Ok);
    let flaky = Sink::start(&[Mode::Fail, Mode::Fail], Mode::Ok);
    let fine = Sink::start(&[], Mode::Ok);
    let dir = TempDir::new("notify-down");
    let target = |id: &str, url: String, extra: &str| {
        format!("[[notify]]\nid = \"{id}\"\ntype = \"webhook\"\nurl = \"{url}\"\nevents = [\"window.started\"]\n{extra}\n\n")
    };
    let targets = [
        target("hanging", hanging.url(), "timeout = \"1s\"\nretry_min = \"100ms\"\nretry_max = \"100ms\""),
        target("flaky", flaky.url(), "retry_min = \"200ms\"\nretry_max = \"400ms\""),
        target("fine", fine.url(), ""),
    ]
    .concat();
    let config = write(&dir, &window("now", -1, 60), &targets);
    let gw = Running::start(&["run", "--config", &config]);
    gw.listening();
    fine.wait("the fine target's delivery", |r| !r.is_empty());
    hanging.wait("the hanging target's first attempt", |r| !r.is_empty());
    let first_hang = hanging.received()[0].at;
    assert!(
        fine.received()[0].at < first_hang + Duration::from_millis(900),
        "the fine target did not wait for the hanging one's timeout"
    );
    hanging.wait("the hanging target's retry after its timeout", |r| r.iter().any(|r| r.answered == Mode::Ok));
    flaky.wait("the flaky target's recovery", |r| r.iter().any(|r| r.answered == Mode::Ok));
    let attempts = flaky.received();
    let seen: Vec<(Mode, Option<&str>)> =
        attempts.iter().map(|r| (r.answered, r.header("x-hiatus-event-id"))).collect();
    assert_eq!(attempts.len(), 3, "two 500s, then accepted: {seen:?}");
    assert!(attempts.iter().all(|r| r.header("x-hiatus-event-id") == attempts[0].header("x-hiatus-event-id")));
    let gap = attempts[1].at - attempts[0].at;
    assert!(gap >= Duration::from_millis(100), "backed off at least half of retry_min: {gap:?}");
    let retry = hanging.received();
    assert_eq!(retry.len(), 2);
    assert!(retry[1].at - retry[0].at >= Duration::from_millis(900), "the first attempt timed out first");
    drop(gw);
}

#[test]
fn check_names_each_bad_target_key() {
    let dir = TempDir::new("notify-check");
    let targets = "[[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"ftp://x/y\"\nevents = [\"window.started\", \"window.exploded\"]\n\n\
                   [[notify]]\nid = \"chat\"\ntype = \"pager\"\nurl = \"not a url\"\ntenants = [\"zz\"]\nannounce = [\"1w\"]\nmin_severity = \"loud\"\n\n\
                   [[notify]]\nid = \"hook\"\ntype = \"slack\"\nurl = \"https://hooks.example/x\"\n";
    let config = write(&dir, "", targets);
    let out = crate::support::hiatus(&["check", "--config", &config]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "notify[0].url: \"ftp://x/y\": only http:// and https:// URLs can be notified",
        "notify[0].events[1]: unknown event kind \"window.exploded\"",
        "notify[1].type: \"pager\": expected \"webhook\", \"slack\", \"teams\", \"discord\" or \"email\"",
        "notify[1].url: \"not a url\" is not a URL",
        "notify[1].announce[0]: \"1w\" is not a duration",
        "notify[1].min_severity: \"loud\"",
        "notify[1].tenants[0]: no tenant has the id \"zz\"",
        "notify[2].id: target id \"hook\" is already used by notify[0]",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn teams_gets_an_adaptive_card_and_discord_content_with_an_embed_after_its_429() {
    let teams = Sink::start(&[], Mode::Ok);
    let discord = Sink::start(&[Mode::RateLimited], Mode::Ok);
    let dir = TempDir::new("notify-chat");
    // retry_min is long: a retry within it shows that the 429's `retry_after` was read.
    let targets = format!(
        "[[notify]]\nid = \"teams\"\ntype = \"teams\"\nurl = \"{}\"\nevents = [\"window.started\"]\n\n\
         [[notify]]\nid = \"discord\"\ntype = \"discord\"\nurl = \"{}\"\nevents = [\"window.started\"]\nretry_min = \"30s\"\nretry_max = \"60s\"\n\n",
        teams.url(),
        discord.url()
    );
    let config = write(&dir, &window("now", -1, 60), &targets);
    let gw = Running::start(&["run", "--config", &config]);
    gw.listening();
    teams.wait("the Teams card", |r| !r.is_empty());
    let card = teams.received()[0].json();
    assert_eq!(card["type"], "message");
    let attachment = &card["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let content = &attachment["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["version"], "1.4");
    assert_eq!(content["body"][0]["text"], "Maintenance started");
    assert!(
        content["body"][1]["text"].as_str().is_some_and(|t| t.contains("Upgrade now") && t.contains("Shop A")),
        "{card}"
    );

    discord.wait("Discord's retry after its 429", |r| r.iter().any(|r| r.answered == Mode::Ok));
    let got = discord.received();
    assert_eq!(got.len(), 2, "one 429, then accepted");
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(250) && gap < Duration::from_secs(10),
        "retry_after (0.3 s) was kept: {gap:?}"
    );
    assert_eq!(got[0].body, got[1].body, "the same message again");
    let message = got[1].json();
    assert!(message["content"].as_str().is_some_and(|t| t.contains("Upgrade now")), "{message}");
    assert_eq!(message["embeds"][0]["title"], "Maintenance started");
    assert_eq!(message["embeds"][0]["footer"]["text"].as_str(), got[1].header("x-hiatus-event-id"));
    assert_eq!(message["allowed_mentions"]["parse"], serde_json::json!([]));
    drop(gw);
}
