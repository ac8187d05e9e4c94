//! The real binary's lifecycle: graceful stop with a request in flight, and the zero-downtime
//! upgrade (pingora's socket hand-over) with requests running throughout. Processes are the
//! test's own children on loopback ports; each wait is bounded.

use crate::control::TempDir;
use crate::gateway_support::{bounded, Behaviour, Client, Origin};
use crate::support::free_port;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `hiatus run`; killed when dropped.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hiatus"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hiatus");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running { child, lines }
    }

    /// Waits (bounded) for the line announcing the gateway listener; returns its address.
    pub fn listening(&self) -> SocketAddr {
        self.started().0
    }

    /// The gateway's address and, when announced before it, the admin listener's.
    pub fn started(&self) -> (SocketAddr, Option<SocketAddr>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let address = |rest: &str| rest.split(' ').next().and_then(|a| a.parse().ok());
        let mut admin = None;
        while std::time::Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                if let Some(rest) = line.strip_prefix("hiatus: admin on http://") {
                    admin = address(rest);
                }
                if let Some(rest) = line.strip_prefix("hiatus: listening on http://") {
                    return (address(rest).expect("an address"), admin);
                }
            }
        }
        panic!("hiatus did not start listening");
    }

    /// A field of the process's `/proc/<pid>/status` in kB (`"VmRSS:"`, `"VmHWM:"`).
    pub fn kib(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("the process's status");
        let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} line"));
        line.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()).expect("a number of kB")
    }

    /// Resets the process's peak RSS (`VmHWM`) to its current RSS (`clear_refs`, value 5).
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("reset the peak RSS");
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().expect("kill").success();
        assert!(ok, "kill {sig}");
    }

    /// Waits (bounded) for the process to exit; its exit status.
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// A configuration file in `dir` for one tenant `a.test` served by `origin`; its path.
pub fn write_config(dir: &TempDir, listen: &str, origin: SocketAddr) -> String {
    write_config_with(dir, listen, "127.0.0.1:0", "2s", origin)
}

fn write_config_with(dir: &TempDir, listen: &str, admin: &str, grace: &str, origin: SocketAddr) -> String {
    let log = dir.0.join("access.log").display().to_string();
    let text = format!(
        "[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"{listen}\"]\nadmin = \"{admin}\"\ngrace_period = \"{grace}\"\n\
         access_log = \"{log}\"\n\n\
         [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"{origin}\"]\n"
    );
    dir.write("hiatus.toml", &text).display().to_string()
}

/// The access log's lines with `decision`, once the process has exited.
fn logged(dir: &TempDir, decision: &str) -> usize {
    let text = std::fs::read_to_string(dir.0.join("access.log")).unwrap_or_default();
    text.lines().filter(|l| l.contains(&format!("\"decision\":\"{decision}\""))).count()
}

/// Waits (bounded) until the origin has received `n` requests.
async fn origin_has(origin: &Origin, n: usize) {
    bounded("the origin to receive the requests", async {
        while origin.hits() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_when_it_has() {
    let origin = Origin::start("slow", Behaviour::Slow(Duration::from_millis(800))).await;
    let dir = TempDir::new("sigterm");
    // A grace period far longer than the request: the process leaves when the request is done.
    let config = write_config_with(&dir, "127.0.0.1:0", "127.0.0.1:0", "60s", origin.addr);
    let mut gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    let mut busy = Client::connect(addr, None).await;
    // An idle keep-alive connection, its one request answered before the stop.
    let mut idle = Client::connect(addr, None).await;
    let r = idle.request("GET", "a.test", "/first", &[]).await;
    assert_eq!((r.status, r.header("connection")), (200, Some("keep-alive")));
    busy.send_request("GET", "a.test", "/slow", &[], b"").await;
    origin_has(&origin, 2).await;
    let stopped = std::time::Instant::now();
    gw.signal("-TERM");
    let r = busy.response(false).await;
    assert_eq!((r.status, r.marker()), (200, "proxied"), "the request in flight finished");
    assert_eq!(r.header("connection"), Some("close"), "a draining gateway closes after the answer");
    let closed = bounded("the idle connection to close", async {
        while !idle.closed().await {}
        true
    })
    .await;
    assert!(closed, "the idle keep-alive connection is closed cleanly");
    let status = tokio::task::spawn_blocking(move || gw.exited_within(Duration::from_secs(20))).await.expect("join");
    assert!(status.is_some_and(|s| s.success()), "exited cleanly: {status:?}");
    assert!(stopped.elapsed() < Duration::from_secs(20), "long before the grace period's end");
    assert_eq!(logged(&dir, "proxied"), 2, "both requests are in the access log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_waiting_when_a_short_grace_period_ends_gets_a_503_page() {
    let origin = Origin::start("stuck", Behaviour::Slow(Duration::from_secs(30))).await;
    let dir = TempDir::new("grace-over");
    let config = write_config_with(&dir, "127.0.0.1:0", "127.0.0.1:0", "300ms", origin.addr);
    let mut gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    let mut client = Client::connect(addr, None).await;
    client.send_request("GET", "a.test", "/stuck", &[("accept-language", "en")], b"").await;
    origin_has(&origin, 1).await;
    let stopped = std::time::Instant::now();
    gw.signal("-TERM");
    let r = client.response(false).await;
    let took = stopped.elapsed();
    assert_eq!((r.status, r.header("x-hiatus-failure")), (503, Some("gateway_stopping")), "{}", r.text());
    assert!(r.text().contains("restarting"), "the page says what happened: {}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    // 300 ms: not rounded down to nothing (cut at once) nor up to whole seconds.
    assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(950), "answered after {took:?}");
    let status = tokio::task::spawn_blocking(move || gw.exited_within(Duration::from_secs(20))).await.expect("join");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(logged(&dir, "shutdown"), 1, "counted as cut by the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_still_arriving_when_the_grace_period_ends_gets_a_503() {
    // An upstream that takes the connection and waits, like an origin reading a slow upload.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("upstream");
    let dir = TempDir::new("grace-over-upload");
    let at = upstream.local_addr().expect("addr");
    let config = write_config_with(&dir, "127.0.0.1:0", "127.0.0.1:0", "300ms", at);
    let mut gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    let mut client = Client::connect(addr, None).await;
    // 10 of 100 bytes of the body, then nothing: the request waits for the rest.
    client.send(b"POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789").await;
    // The gateway has read the head once it opens the upstream connection to stream the body
    // into: only then is the request in flight (a signal before that finds an idle connection).
    let (_held, _) = bounded("the upstream connection", upstream.accept()).await.expect("accept");
    let took = std::time::Instant::now();
    gw.signal("-TERM");
    let r = client.response(false).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("restarting"), "{}", r.text());
    assert!(took.elapsed() < Duration::from_secs(2), "answered after {:?}", took.elapsed());
    let status = tokio::task::spawn_blocking(move || gw.exited_within(Duration::from_secs(20))).await.expect("join");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(logged(&dir, "shutdown"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_stream_still_waiting_when_the_grace_period_ends_gets_a_503_page() {
    let origin = Origin::start("stuck", Behaviour::Slow(Duration::from_secs(30))).await;
    let dir = TempDir::new("grace-over-h2c");
    let config = write_config_with(&dir, "127.0.0.1:0", "127.0.0.1:0", "300ms", origin.addr);
    let mut gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    let mut client = crate::gateway_support::H2Client::connect(addr).await;
    let uri = format!("http://a.test:{}/stuck", addr.port());
    let asked = tokio::spawn(async move { client.request("GET", &uri, &[("accept-language", "en")]).await });
    origin_has(&origin, 1).await;
    gw.signal("-TERM");
    let r = bounded("the h2c answer", asked).await.expect("the request task");
    assert_eq!((r.status, r.header("x-hiatus-failure")), (503, Some("gateway_stopping")), "{}", r.text());
    assert!(r.text().contains("restarting"), "{}", r.text());
    let status = tokio::task::spawn_blocking(move || gw.exited_within(Duration::from_secs(20))).await.expect("join");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert_eq!(logged(&dir, "shutdown"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_hands_over_the_sockets_without_losing_a_request() {
    let origin = Origin::start("o", Behaviour::Slow(Duration::from_millis(50))).await;
    let dir = TempDir::new("upgrade");
    let listen = format!("127.0.0.1:{}", free_port());
    // The admin listener on a fixed port too, as configured in production: it is handed over.
    let admin = format!("127.0.0.1:{}", free_port());
    let config = write_config_with(&dir, &listen, &admin, "2s", origin.addr);
    let sock = dir.0.join("upgrade.sock").display().to_string();
    let mut old = Running::start(&["run", "--config", &config, "--upgrade-sock", &sock]);
    let addr = old.listening();
    // Requests on fresh connections throughout the hand-over (bounded in count and time): the
    // old process hands over at once, accepts for 5 s more (pingora's close timeout), drains.
    let load = tokio::spawn(async move {
        let mut results = Vec::new();
        let started = std::time::Instant::now();
        while results.len() < 400 && started.elapsed() < Duration::from_secs(8) {
            let mut c = Client::connect(addr, None).await;
            c.send_request("GET", "a.test", "/", &[("connection", "close")], b"").await;
            results.push(c.try_response(false).await.map(|r| r.status));
        }
        results
    });
    let new = Running::start(&["run", "--config", &config, "--upgrade-sock", &sock, "-u"]);
    // The new process waits for the sockets; the old one hands them over on SIGQUIT.
    tokio::time::sleep(Duration::from_millis(300)).await;
    old.signal("-QUIT");
    let new_addr = tokio::task::spawn_blocking(move || {
        let a = new.listening();
        (new, a)
    })
    .await
    .expect("join");
    assert_eq!(new_addr.1, addr, "the new process serves the same address");
    let old_exit = tokio::task::spawn_blocking(move || old.exited_within(Duration::from_secs(20))).await.expect("join");
    let results = bounded("the load", load).await.expect("load task");
    let failed: Vec<_> = results.iter().filter(|r| !matches!(r, Ok(200))).collect();
    assert!(results.len() >= 20, "requests ran during the upgrade: {}", results.len());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        results.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(old_exit.is_some(), "the old process exited after handing over");
    // The new one still serves, and answers on the admin listener.
    let r = Client::connect(addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!(r.status, 200);
    let admin: SocketAddr = admin.parse().expect("admin address");
    let r = Client::connect(admin, None).await.request("GET", "admin", "/healthz", &[]).await;
    assert_eq!(r.status, 200, "the admin listener serves after the upgrade");
    drop(new_addr);
}

/// An idle keep-alive connection costs the real binary little memory. Pingora's listener put a
/// zeroed 64 KiB read buffer in front of every client socket by default: 42 KiB of resident
/// memory per idle connection, where nginx needs one or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_costs_little_memory() {
    const CONNECTIONS: usize = 300;
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("idle-memory");
    let config = write_config(&dir, "127.0.0.1:0", origin.addr);
    let gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    let resident_kib = || gw.kib("VmRSS:");
    let mut open = Vec::new();
    let connect_and_ask = async |count: usize, open: &mut Vec<Client>| {
        for _ in 0..count {
            let mut c = Client::connect(addr, None).await;
            let r = c.request("GET", "a.test", "/", &[]).await;
            assert_eq!((r.status, r.header("connection")), (200, Some("keep-alive")));
            open.push(c);
        }
    };
    // Warm up first: the allocator, the upstream pool and the metrics' series.
    connect_and_ask(20, &mut open).await;
    let before = resident_kib();
    connect_and_ask(CONNECTIONS, &mut open).await;
    let per = (resident_kib().saturating_sub(before)) as f64 / CONNECTIONS as f64;
    assert!(per < 24.0, "{per:.1} KiB of resident memory per idle keep-alive connection");
    drop(open);
}

/// An origin that reads each request's `Content-Length` body to its end, dropping it, and
/// answers 200 "ok" (the test origin of `gateway_support` keeps bodies, 100 MiB here).
async fn sink_origin() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut have = Vec::new();
                loop {
                    // The head, then its body.
                    let end = loop {
                        if let Some(i) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&have[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut left = length.saturating_sub(have.len() - end);
                    have.clear();
                    while left > 0 {
                        match conn.read(&mut buf[..left.min(64 * 1024)]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left -= n,
                        }
                    }
                    if conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A 100 MiB upload streams through: the gateway holds a read's worth of it at a time, not the
/// body (issue 16: its RSS grows by less than 8 MiB). The peak is the kernel's (`VmHWM`, reset
/// just before the upload through `clear_refs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_streams_through_in_little_memory() {
    const SIZE: usize = 100 * 1024 * 1024;
    let origin = sink_origin().await;
    let dir = TempDir::new("upload-memory");
    let config = write_config(&dir, "127.0.0.1:0", origin);
    let gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    // Warm up with a small upload: buffers, pool, metrics.
    let mut warm = Client::connect(addr, None).await;
    let r = warm.request("GET", "a.test", "/", &[]).await;
    assert_eq!(r.status, 200);
    gw.reset_peak();
    let before = gw.kib("VmRSS:");
    let mut client = Client::connect(addr, None).await;
    let head = format!("POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: {SIZE}\r\n\r\n");
    client.send(head.as_bytes()).await;
    let piece = vec![b'x'; 256 * 1024];
    for _ in 0..SIZE / piece.len() {
        client.send(&piece).await;
    }
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"), "the origin got the whole body");
    let grew = gw.kib("VmHWM:").saturating_sub(before);
    assert!(grew < 8 * 1024, "the gateway's peak RSS grew by {grew} KiB during a 100 MiB upload");
}

/// Polls `host` until the answer's status is `want`; the time it took, or `None` after `limit`.
async fn until_status(addr: SocketAddr, host: &str, want: u16, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        let r = Client::connect(addr, None).await.request("GET", host, "/", &[]).await;
        if r.status == want {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn hiatus(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hiatus")).args(args).output().expect("run hiatus")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_on_and_off_reach_clients_within_a_second() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("emergency");
    dir.write("emergency.toml", "");
    let config = dir
        .write(
            "hiatus.toml",
            &format!(
                "include = [\"emergency.toml\"]\n[defaults]\nzone = \"Europe/Berlin\"\n\n[gateway]\nlisten = [\"127.0.0.1:0\"]\n\
                 admin = \"127.0.0.1:0\"\ngrace_period = \"1s\"\nemergency_file = \"emergency.toml\"\n\n\
                 [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"{}\"]\n\n\
                 [[tenants]]\nid = \"b\"\nhosts = [\"b.test\"]\nupstreams = [\"{}\"]\n",
                origin.addr, origin.addr
            ),
        )
        .display()
        .to_string();
    let gw = Running::start(&["run", "--config", &config]);
    let addr = gw.listening();
    assert_eq!(Client::connect(addr, None).await.request("GET", "a.test", "/", &[]).await.status, 200);

    let on = hiatus(&["emergency", "on", "--config", &config, "--scope", "tenant:a", "--reason", "Database restore"]);
    assert!(on.status.success(), "emergency on: {}", String::from_utf8_lossy(&on.stderr));
    let took = until_status(addr, "a.test", 503, Duration::from_secs(3)).await;
    assert!(took.is_some_and(|t| t < Duration::from_secs(1)), "maintenance seen after {took:?}");
    let page = Client::connect(addr, None).await.request("GET", "a.test", "/", &[("accept-language", "en")]).await;
    assert_eq!(page.marker(), "maintenance");
    assert!(page.text().contains("Database restore"), "{}", page.text());
    assert_eq!(
        Client::connect(addr, None).await.request("GET", "b.test", "/", &[]).await.status,
        200,
        "other tenants unaffected"
    );

    let off = hiatus(&["emergency", "off", "--config", &config]);
    assert!(off.status.success(), "emergency off: {}", String::from_utf8_lossy(&off.stderr));
    let took = until_status(addr, "a.test", 200, Duration::from_secs(3)).await;
    assert!(took.is_some_and(|t| t < Duration::from_secs(1)), "end seen after {took:?}");
    // History is kept: the window is still there, with an end.
    let file = std::fs::read_to_string(dir.0.join("emergency.toml")).expect("emergency file");
    assert!(file.contains("Database restore") && file.contains("end = "), "{file}");
    drop(gw);
}

/// `hiatus_config_reloads_total` by result, from the admin listener's `/metrics`.
async fn reloads(admin: SocketAddr) -> std::collections::BTreeMap<String, u64> {
    let r = Client::connect(admin, None).await.request("GET", "admin", "/metrics", &[]).await;
    r.text()
        .lines()
        .filter_map(|l| l.strip_prefix("hiatus_config_reloads_total{result=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(result, n)| (result.to_string(), n.trim().parse().unwrap_or(0)))
        .collect()
}

/// One edit, one generation: the file watcher and a SIGHUP that both see an edit apply it
/// once; the second finds the bytes of the generation in force and says "unchanged". An
/// explicit reload of unchanged files (`POST /reload`) is answered the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_seen_by_the_watcher_and_a_sighup_makes_one_generation() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("one-reload");
    let config = write_config(&dir, "127.0.0.1:0", origin.addr);
    let gw = Running::start(&["run", "--config", &config]);
    let (addr, admin) = gw.started();
    let admin = admin.expect("the admin listener is announced");
    let text = std::fs::read_to_string(&config).expect("config");
    // Renamed into place: the watcher applies it at its next look, as the signal arrives.
    let next = dir.write(
        "next.toml.new",
        &format!("{text}\n[[windows]]\nid = \"hup\"\nonce = {{ start = \"2020-01-01T00:00\" }}\n"),
    );
    std::fs::rename(&next, &config).expect("rename");
    gw.signal("-HUP");
    let counted = bounded("both reloads", async {
        loop {
            let r = reloads(admin).await;
            if r.get("ok").copied().unwrap_or(0) + r.get("unchanged").copied().unwrap_or(0) >= 2 {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!((counted.get("ok"), counted.get("unchanged")), (Some(&1), Some(&1)), "{counted:?}");
    // The edit is in force (its window); that it came once, as generation 2, `/state` says below
    // (`x-hiatus-generation` is off by default).
    let r = Client::connect(addr, None).await.request("GET", "a.test", "/", &[]).await;
    assert_eq!(r.status, 503, "the edit is in force");
    let r = Client::connect(admin, None).await.request("POST", "admin", "/reload", &[]).await;
    assert_eq!(r.status, 200);
    let answer = r.json();
    assert_eq!((answer["generation"].as_u64(), answer["unchanged"].as_bool()), (Some(2), Some(true)), "{answer}");
    let state = Client::connect(admin, None).await.request("GET", "admin", "/state", &[]).await.json();
    assert_eq!(state["generation"].as_u64(), Some(2));
    assert_eq!(state["last_reload"]["unchanged"].as_bool(), Some(true), "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_a_bad_file_keeps_the_running_configuration() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let dir = TempDir::new("sighup");
    let config = write_config(&dir, "127.0.0.1:0", origin.addr);
    let gw = Running::start(&["run", "--config", &config]);
    let (addr, admin) = gw.started();
    let admin = admin.expect("the admin listener is announced");
    let state = |admin: SocketAddr| async move {
        let r = Client::connect(admin, None).await.request("GET", "admin", "/state", &[]).await;
        r.json()
    };
    // A valid change: the window switches tenant a to maintenance after SIGHUP.
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}\n[[windows]]\nid = \"hup\"\nonce = {{ start = \"2020-01-01T00:00\" }}\n"))
        .expect("write");
    gw.signal("-HUP");
    let took = bounded("the reload", async {
        loop {
            let s = state(admin).await;
            if s["generation"].as_u64() >= Some(2) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(took["last_reload"]["ok"].as_bool() == Some(true), "{took}");
    assert_eq!(Client::connect(addr, None).await.request("GET", "a.test", "/", &[]).await.status, 503);
    // A broken file: refused with its key path, the process lives on, nothing changes.
    std::fs::write(&config, "[[tenants]]\nid = \"a\"\nhosts = 5\n").expect("write");
    gw.signal("-HUP");
    let last = bounded("the refusal", async {
        loop {
            let s = state(admin).await;
            if s["last_reload"]["ok"].as_bool() == Some(false) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(last["generation"].as_u64(), Some(2));
    assert!(last["last_reload"]["errors"].to_string().contains("tenants[0].hosts"), "{last}");
    assert_eq!(
        Client::connect(addr, None).await.request("GET", "a.test", "/", &[]).await.status,
        503,
        "still generation 2"
    );
}
