//! Automatic certificates (ACME) end to end against Debian's `pebble` on loopback, with the real
//! binary: pebble-challtestsrv answers pebble's DNS with 127.0.0.1 for every name, and pebble's
//! validation connects to the gateway's plain listener (its `httpPort`), where the gateway
//! answers HTTP-01 itself.
//!
//! Checked: a tenant's host gets a certificate that a client trusting pebble's issuing root
//! (`/roots/0`) accepts over the gateway's TLS listener; the account and certificate files are
//! private; a restart serves the stored certificate with no new order; the metrics count
//! handshakes by result, orders and expiry; a directory that refuses shows its error on
//! `/certificates` while traffic is served.

use crate::control::TempDir;
use crate::gateway_support::{bounded, config, tenant, Behaviour, Client, Origin};
use crate::lifecycle::Running;
use crate::support::free_port;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// pebble and its DNS server, with the CA that signs pebble's own HTTPS certificate.
struct Pebble {
    _dns: Killed,
    _pebble: Killed,
    directory: String,
    management: u16,
    /// Pebble's HTTPS is signed by this (a test CA of ours): `ca_roots` for the gateway.
    ca_pem: std::path::PathBuf,
    ca_der: CertificateDer<'static>,
}

impl Pebble {
    /// Pebble validating HTTP-01 on `http_port` (the gateway's plain listener).
    fn start(dir: &TempDir, http_port: u16) -> Pebble {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "pebble test CA");
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&ca_key).expect("CA");
        let ca_der = ca.der().clone();
        let ca_pem = dir.write("pebble-ca.pem", &ca.pem());
        let issuer = rcgen::Issuer::new(params, ca_key);
        // The leaf must not be a CA (webpki refuses a CA as an end entity).
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
        let cert = dir.write("pebble.pem", &leaf.pem());
        let key = dir.write("pebble.key", &leaf_key.serialize_pem());
        let (listen, management, dns, dns_management) = (free_port(), free_port(), free_port(), free_port());
        let pebble_config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert, "privateKey": key,
            "httpPort": http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        let pebble_json = dir.write("pebble.json", &pebble_config.to_string());
        let log = |name: &str| std::fs::File::create(dir.0.join(name)).expect("log file");
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-management", &format!("127.0.0.1:{dns_management}"), "-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble; scripts/bootstrap.sh installs it)");
        let dns_server = Killed(dns_server);
        wait_for_port(dns_management, "pebble-challtestsrv");
        let pebble = Command::new("pebble")
            .args(["-config", &pebble_json.display().to_string(), "-dnsserver", &format!("127.0.0.1:{dns}")])
            .args(["-strict=false"])
            // No random sleeps before validating; no nonces refused at random.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (Debian package pebble; scripts/bootstrap.sh installs it)");
        let pebble = Killed(pebble);
        wait_for_port(listen, "pebble");
        wait_for_port(management, "pebble's management");
        Pebble {
            _dns: dns_server,
            _pebble: pebble,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management,
            ca_pem,
            ca_der,
        }
    }

    /// The root pebble issues under (new at every pebble start), from its management API.
    async fn issuing_root(&self) -> CertificateDer<'static> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.management));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("root");
        let tls = tls_connect(addr, "127.0.0.1", roots).await.expect("pebble's management over TLS");
        let (mut read, mut write) = tokio::io::split(tls);
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = "GET /roots/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        bounded("ask for the root", write.write_all(request.as_bytes())).await.expect("write");
        let mut answer = Vec::new();
        bounded("the root", read.read_to_end(&mut answer)).await.expect("read");
        let text = String::from_utf8_lossy(&answer);
        let pem = &text[text.find("-----BEGIN").expect("a PEM root")..];
        rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).expect("the root's PEM")
    }
}

/// A TLS connection to `addr` naming `name` (SNI), verified against `roots`.
async fn tls_connect(
    addr: SocketAddr,
    name: &str,
    roots: rustls::RootCertStore,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, std::io::Error> {
    let config = rustls::ClientConfig::builder_with_provider(hiatus::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = bounded("connect", TcpStream::connect(addr)).await?;
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    bounded("handshake", connector.connect(server_name, tcp)).await
}

/// `GET path` on the admin listener.
async fn admin(at: SocketAddr, path: &str) -> crate::gateway_support::Response {
    Client::connect(at, None).await.request("GET", "admin", path, &[]).await
}

/// Polls `/certificates` (bounded) until `done` holds of the ACME entry for `name`.
async fn certificate_until(at: SocketAddr, name: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = admin(at, "/certificates").await.json();
        let entry = body["certificates"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["source"] == "acme" && c["names"][0] == name).cloned());
        if let Some(e) = entry.filter(|e| done(e)) {
            return e;
        }
        assert!(Instant::now() < deadline, "no such certificate entry for {name} in time: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A sample of `/metrics` (the line that starts with `series`), as a number.
async fn metric(at: SocketAddr, series: &str) -> Option<f64> {
    let text = admin(at, "/metrics").await.text();
    text.lines().find_map(|l| l.strip_prefix(series)).and_then(|v| v.trim().parse().ok())
}

/// The gateway's configuration: tenant `shop` (`shop.acme.test`) on `origin`, its host under
/// ACME from `directory`.
fn gateway_config(
    dir: &TempDir,
    ports: (u16, u16, u16),
    directory: &str,
    ca: &std::path::Path,
    origin: SocketAddr,
) -> String {
    let (plain, tls, admin) = ports;
    let gateway = format!(
        "listen = [\"127.0.0.1:{plain}\"]\nlisten_tls = [\"127.0.0.1:{tls}\"]\nadmin = \"127.0.0.1:{admin}\"\n\
         state_dir = \"{}\"\n",
        dir.0.join("state").display()
    );
    let acme = format!(
        "[acme]\ndirectory = \"{directory}\"\nemail = \"ops@acme.test\"\nagree_terms = true\nca_roots = \"{}\"\n\
         tenants = [\"shop\"]\n\n",
        ca.display()
    );
    config(&gateway, &format!("{acme}{}", tenant("shop", &["shop.acme.test"], &[origin], "")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_host_gets_a_certificate_from_pebble_kept_across_a_restart() {
    let dir = TempDir::new("acme-pebble");
    let origin = Origin::start("shop", Behaviour::Ok).await;
    let ports = (free_port(), free_port(), free_port());
    let pebble = Pebble::start(&dir, ports.0);
    let path = dir.write("hiatus.toml", &gateway_config(&dir, ports, &pebble.directory, &pebble.ca_pem, origin.addr));
    let path = path.display().to_string();
    let tls = SocketAddr::from(([127, 0, 0, 1], ports.1));
    let admin_at = SocketAddr::from(([127, 0, 0, 1], ports.2));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pebble.issuing_root().await).expect("pebble's root");

    let gw = Running::start(&["run", "--config", &path]);
    gw.started();
    // Before the order is done there may be no certificate for the name (no default is
    // configured); once issued, a client that trusts pebble's root accepts the gateway.
    let entry = certificate_until(admin_at, "shop.acme.test", |e| e["issued"] == true).await;
    assert!(entry["issuer"].as_str().is_some_and(|i| i.contains("Pebble")), "{entry}");
    assert!(entry["last_error"].is_null(), "{entry}");
    let stream = tls_connect(tls, "shop.acme.test", roots.clone()).await.expect("the issued certificate is trusted");
    let leaf = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).expect("a leaf").clone();
    drop(stream);
    // The files are private: the account's key and the certificate's key.
    let mode = |p: &str| std::fs::metadata(dir.0.join(p)).expect(p).permissions().mode() & 0o777;
    assert_eq!(mode("state/acme"), 0o700);
    assert_eq!(mode("state/acme/account.json"), 0o600);
    assert_eq!(mode("state/acme/certs/shop.acme.test.key"), 0o600);
    // A name no certificate covers (and no default): the handshake is refused, counted so.
    assert!(tls_connect(tls, "other.acme.test", roots.clone()).await.is_err());
    assert_eq!(metric(admin_at, "hiatus_acme_orders_total{result=\"ok\"}").await, Some(1.0));
    assert_eq!(metric(admin_at, "hiatus_tls_handshakes_total{result=\"ok\",reason=\"\"}").await, Some(1.0));
    let refused = "hiatus_tls_handshakes_total{result=\"failed\",reason=\"no_certificate\"}";
    assert_eq!(metric(admin_at, refused).await, Some(1.0));
    let expiry =
        metric(admin_at, "hiatus_certificate_expiry_timestamp_seconds{name=\"shop.acme.test\",source=\"acme\"}");
    assert!(expiry.await.is_some_and(|t| t > 1.7e9), "the expiry gauge");
    // A reload builds a new configuration; the issued certificate is outside it and stays.
    std::fs::write(&path, format!("{}\n# edited\n", std::fs::read_to_string(&path).expect("config"))).expect("edit");
    let reloaded = Client::connect(admin_at, None).await.request("POST", "admin", "/reload", &[]).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    tls_connect(tls, "shop.acme.test", roots.clone()).await.expect("still served after a reload");
    drop(gw);

    // A restart serves the stored certificate from the start, without a new order.
    let gw = Running::start(&["run", "--config", &path]);
    gw.started();
    let stream = tls_connect(tls, "shop.acme.test", roots).await.expect("the stored certificate");
    assert_eq!(stream.get_ref().1.peer_certificates().and_then(|c| c.first()), Some(&leaf), "the same leaf");
    let mut client = Client::connect(ports_addr(ports.0), None).await;
    let answer = client.request("GET", "shop.acme.test", "/hello", &[]).await;
    assert_eq!((answer.status, answer.marker()), (200, "proxied"), "{}", answer.text());
    assert_eq!(metric(admin_at, "hiatus_acme_orders_total{result=\"ok\"}").await, Some(0.0), "no new order");
    assert_eq!(metric(admin_at, "hiatus_acme_orders_total{result=\"failed\"}").await, Some(0.0));
}

fn ports_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_refuses_is_shown_on_the_admin_endpoint_while_traffic_is_served() {
    let dir = TempDir::new("acme-refused");
    let origin = Origin::start("shop", Behaviour::Ok).await;
    let ports = (free_port(), free_port(), free_port());
    // Nothing listens at the directory's address.
    let directory = format!("https://127.0.0.1:{}/dir", free_port());
    let ca = dir.write("ca.pem", &rcgen_root_pem());
    let text = gateway_config(&dir, ports, &directory, &ca, origin.addr);
    // A short handshake timeout, for the timeout count below.
    let text = text.replacen("listen_tls", "tls_handshake_timeout = \"200ms\"\nlisten_tls", 1);
    let path = dir.write("hiatus.toml", &text);
    let gw = Running::start(&["run", "--config", &path.display().to_string()]);
    gw.started();
    let admin_at = ports_addr(ports.2);
    let entry = certificate_until(admin_at, "shop.acme.test", |e| !e["last_error"].is_null()).await;
    let message = entry["last_error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&directory), "the error names the directory: {entry}");
    assert_eq!(entry["issued"], false);
    assert!(entry["last_error"]["retry_at"].is_string(), "{entry}");
    assert_eq!(metric(admin_at, "hiatus_acme_orders_total{result=\"failed\"}").await, Some(1.0));
    // Traffic is served meanwhile, plain HTTP included.
    let mut client = Client::connect(ports_addr(ports.0), None).await;
    let answer = client.request("GET", "shop.acme.test", "/", &[]).await;
    assert_eq!((answer.status, answer.marker()), (200, "proxied"), "{}", answer.text());
    // Failed handshakes by reason: plain HTTP on the TLS port, and a client that says nothing.
    let failed = |reason: &str| format!("hiatus_tls_handshakes_total{{result=\"failed\",reason=\"{reason}\"}}");
    let before = (metric(admin_at, &failed("protocol")).await, metric(admin_at, &failed("timeout")).await);
    let tls = ports_addr(ports.1);
    let mut plain = Client::connect(tls, None).await;
    plain.send(b"GET / HTTP/1.1\r\nHost: shop.acme.test\r\n\r\n").await;
    let _silent = TcpStream::connect(tls).await.expect("connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = (metric(admin_at, &failed("protocol")).await, metric(admin_at, &failed("timeout")).await);
        let plus_one = |after: Option<f64>, before: Option<f64>| after == before.map(|b| b + 1.0);
        if plus_one(now.0, before.0) && plus_one(now.1, before.1) {
            break;
        }
        assert!(Instant::now() < deadline, "one protocol failure and one timeout more: {before:?} → {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A self-signed certificate as PEM: `ca_roots` must name a readable file.
fn rcgen_root_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    rcgen::CertificateParams::new(vec!["unused.test".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert")
        .pem()
}

/// `[acme]` as `check` reads it: every bad value named by its key path, one case at a time.
#[test]
fn bad_acme_sections_are_refused_with_their_key_paths() {
    let dir = TempDir::new("acme-check");
    let base = "[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"127.0.0.1:8080\"]\nstate_dir = \"state\"\n\n\
                [[tenants]]\nid = \"shop\"\nhosts = [\"shop.example.com\", \"*.shop.example.com\"]\nupstreams = [\"127.0.0.1:9\"]\n\n";
    let good = "directory = \"https://acme.example/dir\"\nagree_terms = true\n";
    let cases: [(&str, &str, &str); 9] = [
        ("directory = \"ftp://x\"\nagree_terms = true\n", "acme.directory", "not an http(s) URL"),
        ("directory = \"https://a/dir\"\n", "acme.agree_terms", "agree_terms = true"),
        ("email = \"nobody\"\n", "acme.email", "not an e-mail address"),
        ("renew_before = \"soon\"\n", "acme.renew_before", "not a duration"),
        ("renew_before = \"10m\"\n", "acme.renew_before", "at least"),
        ("tenants = [\"shop\", \"nope\"]\n", "acme.tenants[1]", "no tenant has the id \"nope\""),
        ("hosts = [\"*.example.com\"]\n", "acme.hosts[0]", "only exact host names"),
        ("ca_roots = \"missing.pem\"\n", "acme.ca_roots", "cannot be read"),
        ("colour = \"blue\"\n", "acme", "colour"),
    ];
    for (keys, path, words) in cases {
        let extra = if keys.starts_with("directory") { keys.to_string() } else { format!("{good}{keys}") };
        let report = crate::support::load_err(&format!("{base}[acme]\n{extra}"), &dir.0);
        let found = report.errors.iter().find(|d| d.path.starts_with(path) && d.message.contains(words));
        assert!(found.is_some(), "{keys}: expected {path}: …{words}…, got:\n{report}");
    }
    // Without a state_dir or a plain listener, ACME has nowhere to keep its files or answer.
    let report = crate::support::load_err(
        &format!("[gateway]\nlisten = []\nlisten_tls = [\"127.0.0.1:8443\"]\n\n[acme]\n{good}"),
        &dir.0,
    );
    let messages: Vec<&str> = report.errors.iter().filter(|d| d.path == "acme").map(|d| d.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("state_dir")) && messages.iter().any(|m| m.contains("plain listener")),
        "{report}"
    );
    // A good section: the tenant's exact host (the wildcard is warned about), then `hosts`.
    let loaded = hiatus::config::load_str(
        &format!("{base}[acme]\n{good}tenants = \"all\"\nhosts = [\"Extra.Example.com\"]\n"),
        "t.toml",
        &dir.0,
    )
    .unwrap_or_else(|r| panic!("{r}"));
    let acme = loaded.config.acme.expect("[acme]");
    assert_eq!(acme.names, ["shop.example.com", "extra.example.com"]);
    assert_eq!(acme.renew_before, Duration::from_secs(30 * 86_400));
    assert!(loaded.warnings.iter().any(|w| w.path == "tenants[0].hosts[1]"), "{:?}", loaded.warnings);
    assert!(
        loaded.warnings.iter().any(|w| w.path == "acme" && w.message.contains("no TLS listener")),
        "{:?}",
        loaded.warnings
    );
}

/// HTTP-01 on the request path, in-process: a pending token is answered on plain HTTP whatever
/// the host (port included), a maintenance window or `https_redirect` would do; a token that is
/// not pending goes the tenant's usual way, and the origin never sees a challenge.
#[tokio::test]
async fn pending_tokens_are_answered_before_maintenance_redirects_and_unknown_hosts() {
    use hiatus::gateway::{server, Gateway};
    let origin = Origin::start("down", Behaviour::Ok).await;
    let window =
        "[[windows]]\nid = \"now\"\nscope = { tenants = [\"down\"] }\nonce = { start = \"2024-11-14T00:00\" }\n";
    let body = tenant("down", &["down.test"], &[origin.addr], "https_redirect = true") + window;
    let loaded = crate::support::load(&config("", &body));
    let now = crate::gateway_support::t0();
    let compiled = hiatus::compiled::Compiled::build(loaded.config, now, 1).unwrap_or_else(|e| panic!("{e}"));
    let current = Arc::new(arc_swap::ArcSwap::from_pointee(compiled));
    let gateway = Gateway::new(current, hiatus::clock::Clock::manual(now));
    let acme = gateway.acme.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(server::serve(listener, gateway, shutdown));
    acme.challenges.insert("tok-1", "tok-1.thumbprint");
    let get = |host: &'static str, path: &'static str| async move {
        Client::connect(addr, None).await.request("GET", host, path, &[]).await
    };
    for host in ["down.test", "down.test:5002", "nobody.test"] {
        let answer = get(host, "/.well-known/acme-challenge/tok-1").await;
        assert_eq!((answer.status, answer.text().as_str()), (200, "tok-1.thumbprint"), "{host}");
        assert_eq!(answer.marker(), "gateway", "{host}");
    }
    // Not pending: the tenant's own way (in maintenance; ACME's path is never redirected).
    let answer = get("down.test", "/.well-known/acme-challenge/tok-2").await;
    assert_eq!((answer.status, answer.marker()), (503, "maintenance"));
    assert_eq!(get("down.test", "/").await.status, 301, "anything else is redirected");
    acme.challenges.remove("tok-1");
    let answer = get("down.test", "/.well-known/acme-challenge/tok-1").await;
    assert_eq!((answer.status, answer.marker()), (503, "maintenance"), "an order's end removes its token");
    assert_eq!(origin.hits(), 0);
}
