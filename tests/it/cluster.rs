//! Several gateways sharing their runtime state through a real etcd (Debian's `etcd-server`,
//! installed by scripts/bootstrap.sh), started here on loopback with free ports and a data
//! folder of its own, killed at the end. The gateways are the real binary.
//!
//! Without `/usr/bin/etcd` the tests say so and pass: only a machine where the package cannot
//! be installed runs them that way (CI installs it).

use crate::control::TempDir;
use crate::support::free_port;
use hiatus::cluster::client::Client as Etcd;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ETCD: &str = "/usr/bin/etcd";

/// Polls `check` every 50 ms until it holds, at most `limit`; panics with `what` otherwise.
fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within {limit:?}");
}

/// An etcd cluster of `n` members on loopback; every member is killed when it is dropped.
struct Cluster {
    members: Vec<Option<Child>>,
    clients: Vec<String>,
    _dir: TempDir,
}

impl Cluster {
    /// `None` (with a message) when etcd is not installed.
    fn start(n: usize) -> Option<Cluster> {
        if !Path::new(ETCD).exists() {
            eprintln!("SKIPPED: {ETCD} is missing; scripts/bootstrap.sh installs Debian's etcd-server");
            return None;
        }
        let dir = TempDir::new("etcd");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> =
            ports.iter().enumerate().map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}")).collect();
        let mut members = Vec::new();
        for (i, (client, peer)) in ports.iter().enumerate() {
            let log = std::fs::File::create(dir.0.join(format!("m{i}.log"))).expect("etcd log");
            let child = Command::new(ETCD)
                .args(["--name", &format!("m{i}"), "--logger", "zap", "--log-level", "error"])
                .arg(format!("--data-dir={}", dir.0.join(format!("m{i}")).display()))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!("--initial-cluster={}", initial.join(",")))
                .args(["--initial-cluster-token", "hiatus-it", "--initial-cluster-state", "new"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start etcd");
            members.push(Some(child));
        }
        let clients: Vec<String> = ports.iter().map(|(c, _)| format!("http://127.0.0.1:{c}")).collect();
        let cluster = Cluster { members, clients, _dir: dir };
        let etcd = cluster.client();
        until("etcd to elect a leader and answer", Duration::from_secs(30), || etcd.put_if("/ready", "1", 0).is_ok());
        Some(cluster)
    }

    fn client(&self) -> Etcd {
        Etcd::new(self.clients.clone(), Duration::from_secs(2))
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
            // The member's client port stays taken, closing every connection at once as a dead
            // member's would refuse it: freed, another test's etcd could take it, and the
            // nodes would then talk to a stranger.
            let at = self.clients[i].trim_start_matches("http://").to_string();
            if let Ok(tomb) = TcpListener::bind(&at) {
                std::thread::spawn(move || for _ in tomb.incoming() {});
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for mut c in self.members.iter_mut().filter_map(Option::take) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP relay on a port of its own to `to`; `stop` closes it and every connection through it
/// (a partition of whoever connects through it), `resume` listens on the same port again.
struct Relay {
    port: u16,
    to: SocketAddr,
    open: Arc<AtomicBool>,
    /// Accepting and closing at once: etcd is unreachable here, and the port stays the relay's
    /// (a freed port may be taken by another test's etcd, which a node would then reach).
    refusing: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(to: &str) -> Relay {
        let to: SocketAddr = to.trim_start_matches("http://").parse().expect("an address");
        let relay = Relay {
            port: free_port(),
            to,
            open: Arc::new(AtomicBool::new(false)),
            refusing: Arc::default(),
            streams: Arc::default(),
        };
        relay.resume();
        relay
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn resume(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the relay's port");
        listener.set_nonblocking(true).expect("nonblocking");
        self.open.store(true, Ordering::SeqCst);
        let (open, refusing, streams, to) = (self.open.clone(), self.refusing.clone(), self.streams.clone(), self.to);
        std::thread::spawn(move || {
            while open.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(to) else { continue };
                let mut list = streams.lock().expect("streams");
                for (mut from, mut into) in
                    [(client.try_clone(), server.try_clone()), (server.try_clone(), client.try_clone())]
                        .into_iter()
                        .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut into);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
                list.extend([client, server]);
            }
        });
    }

    /// Cuts every connection and closes each new one at once, keeping the port.
    fn refuse(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        for s in self.streams.lock().expect("streams").drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn stop(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.streams.lock().expect("streams").drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // The accept loop sees the flag within 10 ms and drops the listener.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An origin answering 200 "ok" to anything, for the gateways' tenant.
fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("origin");
    let at = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            });
        }
    });
    at
}

/// One `GET path` with `Host: host`; the status (0 when the connection failed).
fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else { return (0, String::new()) };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes());
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn status(addr: SocketAddr) -> u16 {
    get(addr, "a.test", "/").0
}

/// A gateway process in cluster mode, in a folder of its own; killed when dropped.
struct Node {
    name: String,
    child: Child,
    dir: TempDir,
    addr: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator API's token of the nodes [`Node::start_api`] starts.
const TOKEN: &str = "cluster-api-token-0123456789";

/// `[gateway]` lines of a node whose operator API writes (a token) and that has a status page.
fn api_gateway() -> String {
    format!("admin_token = \"{TOKEN}\"\nstatus_host = \"status.test\"\nstatus_path = \"/status\"\n")
}

/// The main file of a node named `name` following `endpoints`.
fn config(dir: &TempDir, name: &str, origin: SocketAddr, endpoints: &[String], prefix: &str, extra: &str) -> PathBuf {
    config_with(dir, name, origin, endpoints, prefix, "", extra)
}

/// [`config`] with `gateway` lines in `[gateway]`.
fn config_with(
    dir: &TempDir,
    name: &str,
    origin: SocketAddr,
    endpoints: &[String],
    prefix: &str,
    gateway: &str,
    extra: &str,
) -> PathBuf {
    let endpoints: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    if !dir.0.join("emergency.toml").exists() {
        dir.write("emergency.toml", "");
    }
    let text = format!(
        "include = [\"emergency.toml\"]\n[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\n\
         emergency_file = \"emergency.toml\"\nstate_dir = \"{}\"\n{gateway}\n\
         [cluster]\nendpoints = [{}]\nprefix = \"{prefix}\"\nnode = \"{name}\"\ntimeout = \"500ms\"\nretry_max = \"500ms\"\n\n\
         [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"{origin}\"]\n\n{extra}",
        dir.0.join("state").display(),
        endpoints.join(", ")
    );
    dir.write(&format!("{name}.toml"), &text)
}

impl Node {
    fn start(name: &str, origin: SocketAddr, endpoints: &[String], prefix: &str) -> Node {
        Node::start_with(name, origin, endpoints, prefix, "")
    }

    /// [`Node::start`] with `extra` appended to the main file (tenants, targets).
    fn start_with(name: &str, origin: SocketAddr, endpoints: &[String], prefix: &str, extra: &str) -> Node {
        let dir = TempDir::new(&format!("node-{name}"));
        let main = config(&dir, name, origin, endpoints, prefix, extra);
        let (child, addr, admin) = Node::spawn(&main, &dir.0);
        Node { name: name.to_string(), child, addr, admin, dir }
    }

    /// A node whose operator API takes writes ([`TOKEN`]) and that serves `status.test`.
    fn start_api(name: &str, origin: SocketAddr, endpoints: &[String], prefix: &str) -> Node {
        Node::start_api_with(name, origin, endpoints, prefix, "")
    }

    /// [`Node::start_api`] with `extra` appended to the main file.
    fn start_api_with(name: &str, origin: SocketAddr, endpoints: &[String], prefix: &str, extra: &str) -> Node {
        let dir = TempDir::new(&format!("node-{name}"));
        let main = config_with(&dir, name, origin, endpoints, prefix, &api_gateway(), extra);
        let (child, addr, admin) = Node::spawn(&main, &dir.0);
        Node { name: name.to_string(), child, addr, admin, dir }
    }

    /// One request to the operator API with the token: status, head and body.
    fn api(&self, method: &str, path: &str, fields: &[(&str, &str)], body: &str) -> (u16, String, String) {
        let Ok(mut s) = TcpStream::connect(self.admin) else { return (0, String::new(), String::new()) };
        let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n"
        );
        for (k, v) in fields {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        let _ = s.write_all(format!("{head}\r\n{body}").as_bytes());
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (status, head.to_ascii_lowercase(), body.to_string())
    }

    /// Stops the process and runs it again on the same folder (its state_dir, its export).
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.child, self.addr, self.admin) = Node::spawn(&self.main(), &self.dir.0);
    }

    /// `hiatus run --config main`, its log in `dir/stderr.log`; the process and its addresses.
    fn spawn(main: &Path, dir: &Path) -> (Child, SocketAddr, SocketAddr) {
        let log = std::fs::File::create(dir.join("stderr.log")).expect("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hiatus"))
            .args(["run", "--config"])
            .arg(main)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start hiatus");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut out = std::io::BufReader::new(out);
            while std::io::BufRead::read_line(&mut out, &mut text).is_ok_and(|n| n > 0) {
                let _ = tx.send(std::mem::take(&mut text));
            }
        });
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while addr.is_none() && Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
            let after =
                |p: &str| line.strip_prefix(p).and_then(|r| r.split_whitespace().next()).and_then(|a| a.parse().ok());
            admin = admin.or(after("hiatus: admin on http://"));
            addr = addr.or(after("hiatus: listening on http://"));
        }
        (child, addr.expect("the gateway listens"), admin.expect("the admin listens"))
    }

    fn main(&self) -> PathBuf {
        self.dir.0.join(format!("{}.toml", self.name))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("stderr.log")).unwrap_or_default()
    }

    /// A sample of `/metrics` without labels, or -1.
    fn metric(&self, name: &str) -> f64 {
        let (_, text) = get(self.admin, "admin", "/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1.0)
    }

    fn state(&self) -> serde_json::Value {
        let (_, text) = get(self.admin, "admin", "/state");
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or_default()
    }
}

/// `hiatus emergency ARGS --config main`; its exit status and output.
fn emergency(main: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hiatus"))
        .arg("emergency")
        .args(args)
        .arg("--config")
        .arg(main)
        .output()
        .expect("hiatus emergency");
    assert!(out.status.success(), "emergency {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn an_emergency_switched_at_one_node_is_in_force_at_every_node_and_off_again() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let (url, bodies) = sink();
    let hook = format!("[[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\nevents = [\"emergency.on\"]\n");
    let a = Node::start_with("a", origin, &etcd.clients, "/it/switch", &hook);
    let b = Node::start_with("b", origin, &etcd.clients, "/it/switch", &hook);
    assert_eq!((status(a.addr), status(b.addr)), (200, 200));
    let out = emergency(&a.main(), &["on", "--scope", "all", "--reason", "Datacenter <b>fire</b>", "--id", "fire"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("in etcd /it/switch/operator"), "{out:?}");
    until("node b answers 503", Duration::from_secs(10), || status(b.addr) == 503);
    let (_, page) = get(b.addr, "a.test", "/");
    assert!(page.contains("Datacenter &lt;b&gt;fire") && !page.contains("<b>fire"), "escaped: {page}");
    until("node a answers 503", Duration::from_secs(10), || status(a.addr) == 503);
    // The emergency file is each node's export of what etcd holds.
    let export = std::fs::read_to_string(b.dir.0.join("emergency.toml")).expect("export");
    assert!(export.contains("id = \"fire\""), "{export}");
    let revision = b.metric("hiatus_cluster_revision");
    assert!(revision > 0.0 && b.metric("hiatus_cluster_connected") == 1.0);
    // Both nodes saw the emergency start; the target hears of it once.
    let told = || bodies.lock().expect("bodies").iter().filter(|b| b.contains("emergency.on")).count();
    until("the emergency is notified", Duration::from_secs(10), || told() >= 1);
    until("the other node's claim is logged", Duration::from_secs(10), || {
        a.log().contains("is another node's to send") || b.log().contains("is another node's to send")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(told(), 1, "{:?}", bodies.lock().expect("bodies"));
    assert_eq!(b.state()["cluster"]["connected"], true);
    emergency(&b.main(), &["off", "--id", "fire"]);
    until("node a answers 200", Duration::from_secs(10), || status(a.addr) == 200);
    until("node b answers 200", Duration::from_secs(10), || status(b.addr) == 200);
    assert!(b.metric("hiatus_cluster_revision") > revision);
}

/// In cluster mode the emergency file is etcd's export: the node's applier writes and reloads
/// it, the file watcher leaves it alone. A burst of switches is one reload per revision, none
/// refused, none for "file change".
#[test]
fn a_burst_of_switches_is_one_reload_each_and_the_file_watcher_stays_out() {
    let Some(etcd) = Cluster::start(1) else { return };
    let a = Node::start("a", origin(), &etcd.clients, "/it/burst");
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "Burst", "--id", "burst"]);
    until("node a answers 503", Duration::from_secs(10), || status(a.addr) == 503);
    let on = std::fs::read_to_string(a.dir.0.join("emergency.toml")).expect("export");
    let client = etcd.client();
    let mut last = 0;
    for n in 0..20 {
        let text = if n % 2 == 0 { String::new() } else { on.clone() };
        last = client.put("/it/burst/operator", &text).expect("put");
    }
    until("the last revision is in force", Duration::from_secs(15), || {
        a.metric("hiatus_cluster_revision") == last as f64
    });
    assert_eq!(status(a.addr), 503, "the last text switches it on");
    // Several looks of the file watcher (every 200 ms) after the last write.
    std::thread::sleep(Duration::from_millis(1500));
    let log = a.log();
    assert!(!log.contains("(file change)"), "the watcher reloaded the export:\n{log}");
    assert!(!log.contains("reload refused"), "{log}");
    assert!(a.metric("hiatus_config_reloads_total{result=\"error\"}") <= 0.0, "no error was ever counted");
}

/// The `etag` field of a head read by [`Node::api`].
fn etag(head: &str) -> String {
    head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap_or_default().trim().to_string()
}

/// A window over tenant `a` in force from a minute ago for an hour, as the API takes it.
fn window_now(title: &str) -> String {
    let at = |m: i64| (chrono::Utc::now() + chrono::Duration::minutes(m)).format("%Y-%m-%dT%H:%M").to_string();
    serde_json::json!({
        "zone": "UTC", "scope": { "tenants": ["a"] },
        "once": { "start": at(-1), "end": at(60) }, "title": { "en": title },
    })
    .to_string()
}

#[test]
fn the_operator_api_writes_to_etcd_and_every_node_follows() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let a = Node::start_api("a", origin, &etcd.clients, "/it/api");
    let b = Node::start_api("b", origin, &etcd.clients, "/it/api");
    assert_eq!((status(a.addr), status(b.addr)), (200, 200));
    let (code, head, _) = a.api("GET", "/api/v1/windows", &[], "");
    assert_eq!(code, 200);
    let before = etag(&head);
    assert!(before.starts_with("\"r"), "the version is etcd's revision: {head}");

    let (code, head, body) = a.api("PUT", "/api/v1/windows/swap", &[], &window_now("Disk swap"));
    assert_eq!(code, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(answer["generation"].as_u64().is_some(), "the answer waited for this node: {answer}");
    // The answer came once node a applied the revision: no wait here.
    assert_eq!(status(a.addr), 503);
    let written = etag(&head);
    let (kv, _) = etcd.client().get("/it/api/operator").expect("get");
    let kv = kv.expect("the document is in etcd");
    assert!(kv.value.contains("id = \"swap\""), "{}", kv.value);
    assert_eq!(written, format!("\"r{}\"", kv.mod_revision));
    let (code, head, _) = a.api("GET", "/api/v1/windows/swap", &[], "");
    assert_eq!((code, etag(&head)), (200, written.clone()));
    until("node b answers 503", Duration::from_secs(10), || status(b.addr) == 503);

    // A version read before the last write is stale wherever it is presented.
    let incident = r#"{"id":"db-1","title":{"en":"Database trouble"},"text":{"en":"We are <restoring>"},
                      "severity":"critical","tenants":["a"]}"#;
    let (code, _, body) = b.api("POST", "/api/v1/incidents", &[("If-Match", &before)], incident);
    assert!(code == 412 && body.contains("\"status\":412"), "{code} {body}");
    let (code, _, body) = a.api("POST", "/api/v1/incidents", &[("If-Match", &written)], incident);
    assert_eq!(code, 201, "{body}");
    until("node b's status.json shows the incident", Duration::from_secs(10), || {
        let (_, text) = get(b.addr, "status.test", "/status/status.json");
        text.contains("\"db-1\"") && text.contains("Database trouble")
    });
    let export = std::fs::read_to_string(b.dir.0.join("emergency.toml")).expect("export");
    assert!(export.contains("id = \"swap\"") && export.contains("db-1"), "b's export: {export}");
}

#[test]
fn an_api_write_is_validated_with_the_nodes_own_configuration_before_it_reaches_etcd() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let c = format!("[[tenants]]\nid = \"c\"\nhosts = [\"c.test\"]\nupstreams = [\"{origin}\"]\n");
    let a = Node::start_api_with("a", origin, &etcd.clients, "/it/apicheck", &c);
    let b = Node::start_api("b", origin, &etcd.clients, "/it/apicheck");
    let for_c = window_now("Disk swap").replace("[\"a\"]", "[\"c\"]");
    // Node b has no tenant c: refused there with the finding, nothing written to etcd.
    let (code, _, body) = b.api("PUT", "/api/v1/windows/swap", &[], &for_c);
    assert!(code == 422 && body.contains("tenants"), "{code} {body}");
    assert!(etcd.client().get("/it/apicheck/operator").expect("get").0.is_none());
    // Node a has: in force there at its answer; node b refuses the revision and logs it.
    let (code, _, body) = a.api("PUT", "/api/v1/windows/swap", &[], &for_c);
    assert_eq!(code, 201, "{body}");
    assert_eq!(get(a.addr, "c.test", "/").0, 503);
    until("node b refuses the revision", Duration::from_secs(10), || b.log().contains("refused, revision"));
    assert_eq!(status(b.addr), 200);
}

#[test]
fn an_api_write_on_a_node_cut_from_etcd_is_a_503_and_changes_nothing() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let relay = Relay::start(&etcd.clients[0]);
    let b = Node::start_api("b", origin, &[relay.url()], "/it/apicut");
    let (code, head, _) = b.api("GET", "/api/v1/windows", &[], "");
    assert_eq!(code, 200, "node b reaches etcd through the relay");
    assert!(!head.contains("x-hiatus-state"), "{head}");
    let (code, _, body) = b.api("PUT", "/api/v1/windows/before", &[], &window_now("Before the cut"));
    assert_eq!(code, 201, "{body}");
    relay.stop();
    // Reads show what the node serves, said to be that; writes are refused.
    let (code, head, body) = b.api("GET", "/api/v1/windows", &[], "");
    assert_eq!(code, 200, "{body}");
    assert!(head.contains("x-hiatus-state: in-force") && head.contains("etag: \"r"), "{head}");
    assert!(body.contains("\"before\""), "{body}");
    let (code, head, _) = b.api("GET", "/api/v1/windows/before", &[], "");
    assert!(code == 200 && head.contains("x-hiatus-state: in-force"), "{code} {head}");
    let (code, head, body) = b.api("PUT", "/api/v1/windows/swap", &[], &window_now("Disk swap"));
    assert_eq!(code, 503, "{body}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    let problem: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("etcd cannot be reached")), "{problem}");
    let (kv, _) = etcd.client().get("/it/apicut/operator").expect("get");
    assert!(kv.is_some_and(|kv| !kv.value.contains("swap")), "nothing more reached etcd");
    assert!(!std::fs::read_to_string(b.dir.0.join("emergency.toml")).unwrap_or_default().contains("swap"));
    assert_eq!(status(b.addr), 503, "the node serves on, unchanged: the window made before the cut");
}

#[test]
fn a_text_that_does_not_validate_is_refused_and_the_node_keeps_its_state() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let a = Node::start("a", origin, &etcd.clients, "/it/refuse");
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "r", "--id", "on"]);
    until("node a answers 503", Duration::from_secs(10), || status(a.addr) == 503);
    let client = etcd.client();
    let (kv, _) = client.get("/it/refuse/operator").expect("get");
    let kv = kv.expect("the document");
    let bad = "[[windows]]\nid = \"x\"\nscope = { tenants = [\"nobody\"] }\nonce = { start = \"2020-01-01T00:00\" }\n";
    let written = client.put_if("/it/refuse/operator", bad, kv.mod_revision).expect("put").expect("written");
    until("the refusal is logged", Duration::from_secs(10), || {
        a.log().contains(&format!("operator document revision {written} refused"))
    });
    assert_eq!(status(a.addr), 503, "the last good state stays in force");
    assert_eq!(a.metric("hiatus_cluster_revision"), kv.mod_revision as f64);
    assert!(std::fs::read_to_string(a.dir.0.join("emergency.toml")).expect("export").contains("id = \"on\""));
}

#[test]
fn a_node_cut_from_etcd_keeps_serving_says_so_and_converges_when_it_returns() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let relay = Relay::start(&etcd.clients[0]);
    let a = Node::start("a", origin, &etcd.clients, "/it/cut");
    let b = Node::start("b", origin, &[relay.url()], "/it/cut");
    until("node b reaches etcd", Duration::from_secs(10), || b.metric("hiatus_cluster_connected") == 1.0);
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "r", "--id", "first"]);
    until("node b answers 503", Duration::from_secs(10), || status(b.addr) == 503);
    relay.stop();
    until("node b says it lost etcd", Duration::from_secs(10), || b.metric("hiatus_cluster_connected") == 0.0);
    assert_eq!(b.state()["cluster"]["connected"], false);
    emergency(&a.main(), &["off"]);
    until("node a answers 200", Duration::from_secs(10), || status(a.addr) == 200);
    for _ in 0..5 {
        assert_eq!(status(b.addr), 503, "a cut node keeps serving its last state");
    }
    // Revisions the cut node missed are compacted away: its watch must list again.
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "r", "--id", "second"]);
    let client = etcd.client();
    let (_, revision) = client.get("/it/cut/operator").expect("get");
    client.compact(revision).expect("compact");
    relay.resume();
    until("node b reaches etcd again", Duration::from_secs(10), || b.metric("hiatus_cluster_connected") == 1.0);
    until("node b converges", Duration::from_secs(10), || {
        std::fs::read_to_string(b.dir.0.join("emergency.toml")).is_ok_and(|t| t.contains("id = \"second\""))
    });
    assert_eq!(status(b.addr), 503);
    until("node b re-lists after the compaction", Duration::from_secs(10), || b.log().contains("was compacted"));
    let log = b.log();
    assert_eq!(log.matches("lost etcd").count(), 1, "the loss is logged once: {log}");
    assert_eq!(log.matches("reached etcd again").count(), 1, "the recovery is logged once: {log}");
}

#[test]
fn a_node_started_while_etcd_is_down_serves_its_local_copy() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let relay = Relay::start(&etcd.clients[0]);
    let a = Node::start("a", origin, &[relay.url()], "/it/local");
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "r", "--id", "kept"]);
    until("node a answers 503", Duration::from_secs(10), || status(a.addr) == 503);
    let revision = a.metric("hiatus_cluster_revision");
    // Restart the node in the same folder, with etcd out of its reach.
    let mut again = a;
    relay.refuse();
    again.restart();
    assert_eq!(status(again.addr), 503, "the last known state is served");
    assert_eq!(again.state()["cluster"]["connected"], false);
    let said = |t: &str| {
        t.contains(&format!("serving operator document revision {revision} (local copy)"))
            && t.contains("cannot reach etcd at start")
    };
    until("it says so in its log", Duration::from_secs(10), || said(&again.log()));
}

#[test]
fn a_member_lost_with_quorum_kept_fails_no_request_and_switches_still_converge() {
    let Some(mut etcd) = Cluster::start(3) else { return };
    let origin = origin();
    let a = Node::start("a", origin, &etcd.clients, "/it/member");
    let b = Node::start("b", origin, &etcd.clients, "/it/member");
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (stop, seen, addrs) = (stop.clone(), seen.clone(), [a.addr, b.addr]);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 100_000 {
                let s = status(addrs[n % 2]);
                seen.lock().expect("seen").push(s);
                n += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // The first endpoint of every node and of the switch: they must move on to the others.
    etcd.kill(0);
    emergency(&a.main(), &["on", "--scope", "all", "--reason", "r", "--id", "member"]);
    until("both nodes answer 503", Duration::from_secs(10), || status(a.addr) == 503 && status(b.addr) == 503);
    stop.store(true, Ordering::SeqCst);
    load.join().expect("load");
    let seen = seen.lock().expect("seen");
    assert!(seen.len() > 10, "requests were made: {}", seen.len());
    assert!(
        seen.iter().all(|s| *s == 200 || *s == 503),
        "every request answered: {:?}",
        seen.iter().filter(|s| **s != 200 && **s != 503).collect::<Vec<_>>()
    );
    assert!(a.metric("hiatus_cluster_connected") == 1.0 && b.metric("hiatus_cluster_connected") == 1.0);
}

#[test]
fn a_watch_from_a_compacted_revision_is_told_so() {
    let Some(etcd) = Cluster::start(1) else { return };
    let client = etcd.client();
    let first = client.put_if("/it/compact/k", "1", 0).expect("put").expect("created");
    let second = client.put_if("/it/compact/k", "2", first).expect("put").expect("written");
    client.compact(second).expect("compact");
    let mut changes = Vec::new();
    let result = client.watch("/it/compact/k", first, Duration::from_secs(2), |c| {
        changes.push(c);
        false
    });
    assert_eq!(result, Err(hiatus::cluster::client::Error::Compacted(second)));
    assert!(changes.is_empty());
    // From the compaction on, the watch works and brings the next change.
    let third = client.put_if("/it/compact/k", "3", second).expect("put").expect("written");
    let result = client.watch("/it/compact/k", third, Duration::from_secs(2), |c| {
        changes.push(c);
        false
    });
    assert_eq!(result, Ok(()));
    assert_eq!(
        changes.iter().map(|c| (c.value.clone(), c.revision)).collect::<Vec<_>>(),
        [(Some("3".to_string()), third)]
    );
}

/// A webhook receiver answering 200 to every POST; the bodies it received.
fn sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("sink");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut seen = Vec::new();
            let mut buf = [0u8; 8192];
            // The head, then as many body bytes as Content-Length says.
            let complete = |seen: &[u8]| {
                let text = String::from_utf8_lossy(seen);
                let (head, body) = text.split_once("\r\n\r\n")?;
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                (body.len() >= length).then(|| body.to_string())
            };
            let body = loop {
                if let Some(body) = complete(&seen) {
                    break Some(body);
                }
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            };
            if let Some(body) = body {
                kept.lock().expect("bodies").push(body);
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

/// The open incident of tenant `down` on `node`, as its admin `/state` shows it: id and start.
fn incident_of(node: &Node) -> Option<(String, String)> {
    let state = node.state();
    let tenant = state["tenants"].as_array()?.iter().find(|t| t["tenant"] == "down")?.clone();
    let i = &tenant["incident"];
    Some((i["id"].as_str()?.to_string(), i["start"].as_str()?.to_string()))
}

/// An outage every node's checks see is one incident: one node (the keeper, by an etcd lease)
/// decides it, all show it with the same id and start, each of its events is sent once; when
/// the keeper dies, another node takes over and resolves it.
#[test]
fn an_outage_seen_by_every_node_is_one_incident_notified_once_even_when_its_keeper_dies() {
    let Some(etcd) = Cluster::start(1) else { return };
    let origin = origin();
    let (url, bodies) = sink();
    let dead = free_port();
    let extra = format!(
        "[[tenants]]\nid = \"down\"\nhosts = [\"down.test\"]\nupstreams = [\"127.0.0.1:{dead}\"]\n\
         health = {{ tcp = true, interval = \"100ms\", timeout = \"100ms\", rise = 1, fall = 1 }}\n\n\
         [[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\nevents = [\"incident.opened\", \"incident.resolved\"]\n"
    );
    let mut a = Node::start_with("a", origin, &etcd.clients, "/it/incident", &extra);
    until("the first node opens the incident", Duration::from_secs(15), || a.metric("hiatus_incidents_open") == 1.0);
    // A second later: its own checks would open an incident with another id and start.
    std::thread::sleep(Duration::from_millis(1100));
    let mut b = Node::start_with("b", origin, &etcd.clients, "/it/incident", &extra);
    until("the second node shows it too", Duration::from_secs(15), || b.metric("hiatus_incidents_open") == 1.0);
    std::thread::sleep(Duration::from_millis(500));
    let (ia, ib) = (incident_of(&a), incident_of(&b));
    assert!(ia.is_some() && ia == ib, "one incident, the same id and start on both nodes: {ia:?} {ib:?}");
    let keepers: Vec<f64> = [&a, &b].iter().map(|n| n.metric("hiatus_cluster_incident_keeper")).collect();
    assert_eq!(keepers, [1.0, 0.0], "one keeper, the node that came first");
    let (id, _) = ia.expect("the incident");
    let record = etcd.client().get(&format!("/it/incident/incident-log/{id}")).expect("get").0.expect("the record");
    assert!(record.value.contains("\"end\":null"), "open in etcd: {}", record.value);
    let opened = || bodies.lock().expect("bodies").iter().filter(|b| b.contains("incident.opened")).count();
    until("the incident is notified", Duration::from_secs(10), || opened() >= 1);
    // Both nodes' tickers have looked at the incident several times by now (every 250 ms).
    until("another node's claim is logged", Duration::from_secs(10), || {
        a.log().contains("is another node's to send") || b.log().contains("is another node's to send")
    });
    // The keeper dies (no goodbye: its lease runs out); the other node takes over.
    let (keeper, other) = (&mut a, &mut b);
    let _ = keeper.child.kill();
    let _ = keeper.child.wait();
    until("the other node decides incidents", Duration::from_secs(15), || {
        other.metric("hiatus_cluster_incident_keeper") == 1.0
    });
    assert_eq!(incident_of(other).map(|(i, _)| i), Some(id.clone()), "the same incident goes on");
    // The upstream comes back: the new keeper resolves the incident, once, for everyone.
    let back = TcpListener::bind(("127.0.0.1", dead)).expect("the upstream's port");
    std::thread::spawn(move || for _ in back.incoming() {});
    until("the incident is resolved", Duration::from_secs(10), || other.metric("hiatus_incidents_open") == 0.0);
    let resolved = || bodies.lock().expect("bodies").iter().filter(|b| b.contains("incident.resolved")).count();
    until("the resolution is notified", Duration::from_secs(10), || resolved() >= 1);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!((opened(), resolved()), (1, 1), "{:?}", bodies.lock().expect("bodies"));
    let record = etcd.client().get(&format!("/it/incident/incident-log/{id}")).expect("get").0.expect("the record");
    assert!(!record.value.contains("\"end\":null"), "ended in etcd: {}", record.value);
    // The dead keeper comes back with its own copy open (in its state_dir): it takes the ended
    // incident from etcd.
    keeper.restart();
    until("the restarted node has the incident ended", Duration::from_secs(15), || {
        keeper.metric("hiatus_incidents_open") == 0.0
    });
}

/// In process, without etcd: revisions are applied in order only, and each through the reload.
#[test]
fn a_node_never_applies_an_older_revision_after_a_newer_one() {
    use hiatus::cluster::store::{Applied, Applier, Document};
    let dir = TempDir::new("monotonic");
    let main = config(&dir, "m", "127.0.0.1:1".parse().expect("addr"), &["http://127.0.0.1:1".into()], "/m", "");
    let loaded = hiatus::config::load(&main).unwrap_or_else(|r| panic!("config: {r}"));
    let now = chrono::Utc::now().timestamp();
    let compiled = hiatus::compiled::Compiled::build(loaded.config, now, 1).expect("compile");
    let current = Arc::new(arc_swap::ArcSwap::from_pointee(compiled));
    let reloader = Arc::new(hiatus::control::reload::Reloader::new(
        main.clone(),
        current.clone(),
        hiatus::clock::Clock::system(),
        None,
    ));
    let contact = Arc::new(hiatus::cluster::contact::Contact::new("m"));
    let local = hiatus::cluster::store::LocalCopy::in_dir(&dir.0.join("state"));
    let applier = Applier::new(main, reloader, contact.clone(), Some(local.clone()));
    let on = "[[windows]]\nid = \"e\"\nzone = \"UTC\"\nscope = \"all\"\nonce = { start = \"2020-01-01T00:00:00\" }\nreason = { en = \"r\" }\n";
    let windows = || current.load().config().windows.iter().map(|w| w.id.clone()).collect::<Vec<_>>();
    assert_eq!(applier.apply(&Document { revision: 7, text: on.into() }), Applied::InForce);
    assert_eq!((windows(), current.load().generation, contact.revision()), (vec!["e".to_string()], 2, 7));
    assert_eq!(applier.apply(&Document { revision: 5, text: String::new() }), Applied::Old);
    assert_eq!((windows(), current.load().generation), (vec!["e".to_string()], 2), "an older revision changes nothing");
    assert_eq!(local.read(), Some(Document { revision: 7, text: on.into() }), "the local copy is the newest");
    assert_eq!(applier.apply(&Document { revision: 9, text: "[[windows]]\nid = 3\n".into() }), Applied::Refused);
    assert_eq!((windows(), contact.revision()), (vec!["e".to_string()], 7), "a refused text changes nothing");
    assert_eq!(applier.apply(&Document { revision: 10, text: String::new() }), Applied::InForce);
    assert!(windows().is_empty());
    assert_eq!(current.load().generation, 3);
}

/// `hiatus check` names what is wrong with `[cluster]`, and that cluster mode needs the export.
#[test]
fn check_names_every_mistake_of_the_cluster_section() {
    let dir = TempDir::new("cluster-check");
    dir.write("emergency.toml", "");
    let tenant =
        "[defaults]\nzone = \"UTC\"\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n";
    let cases = [
        ("[cluster]\nendpoints = [\"http://127.0.0.1:2379\"]\n", "cluster mode needs `[gateway] emergency_file`"),
        (
            "include = [\"emergency.toml\"]\n[gateway]\nemergency_file = \"emergency.toml\"\n[cluster]\nendpoints = [\"https://e:2379\"]\nnode = \"a b\"\n",
            "cluster.node",
        ),
        ("include = [\"emergency.toml\"]\n[gateway]\nemergency_file = \"emergency.toml\"\n[cluster]\nendpoint = []\n", "endpoint"),
    ];
    for (text, said) in cases {
        let main = dir.write("main.toml", &format!("{text}\n{tenant}"));
        let out =
            Command::new(env!("CARGO_BIN_EXE_hiatus")).args(["check", "--config"]).arg(&main).output().expect("check");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains(said), "{said}: {text}");
    }
    let good = "include = [\"emergency.toml\"]\n[gateway]\nemergency_file = \"emergency.toml\"\n[cluster]\nendpoints = [\"http://127.0.0.1:2379\"]\n";
    let main = dir.write("main.toml", &format!("{good}\n{tenant}"));
    let out =
        Command::new(env!("CARGO_BIN_EXE_hiatus")).args(["check", "--config"]).arg(&main).output().expect("check");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
