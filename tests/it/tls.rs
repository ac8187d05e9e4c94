//! TLS at the edge: the gateway's own TLS listener, end to end on loopback.
//!
//! Certificates are made here (rcgen): a test CA, leaves for `a.test` and `b.test`, one for
//! `*.wild.test`, and a default one. Clients are rustls clients that verify against the test
//! CA (or, where the point is which certificate came, accept any and compare it). Checked: SNI
//! picks the certificate (exact, wildcard, default for an unknown name and for no name);
//! HTTP/1.1 and HTTP/2 over TLS (ALPN) give the same answers as plain HTTP (pass-through,
//! maintenance, failure, status host); HSTS only over TLS; `X-Forwarded-Proto` at the origin;
//! the bypass cookie `Secure` over TLS; plain HTTP redirected (301/308) except ACME's path; a
//! connection that closes after its answer sends close_notify, and sessions resume; a
//! reload swaps the certificate for new handshakes while an open connection goes on, and a
//! bad new file keeps the old one; a TLS 1.1-only client is refused; `check` errors name the
//! file and key path.

use crate::control::TempDir;
use crate::gateway_support::{bounded, config, dead_address, t0, tenant, Behaviour, Origin};
use arc_swap::ArcSwap;
use hiatus::clock::Clock;
use hiatus::compiled::Compiled;
use hiatus::control::reload::Reloader;
use hiatus::gateway::{server, Gateway};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;

// ---------------------------------------------------------------------------------------------
// Certificates

/// A test CA and the leaves it signs, written as PEM files into a folder.
struct Pki {
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
    ca_der: CertificateDer<'static>,
    dir: TempDir,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "hiatus test CA");
        let key = rcgen::KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let ca_der = cert.der().clone();
        Pki { ca: rcgen::Issuer::new(params, key), ca_der, dir: TempDir::new(name) }
    }

    /// A leaf for `names`, signed by the CA, written as `<file>.pem` and `<file>.key`; its DER.
    fn leaf(&self, file: &str, names: &[&str]) -> CertificateDer<'static> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        self.dir.write(&format!("{file}.pem"), &cert.pem());
        self.dir.write(&format!("{file}.key"), &key.serialize_pem());
        cert.der().clone()
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.0.join(file)
    }

    /// A client that trusts the test CA, offering `alpn`.
    fn client(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA as a root");
        let mut config = ClientConfig::builder_with_provider(hiatus::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

/// The leaf certificate a handshake with `name` (a host, or an IP address: no SNI) gets.
async fn served_certificate(addr: SocketAddr, name: &str) -> CertificateDer<'static> {
    let provider = hiatus::tls::provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(hiatus::compiled::upstream_tls::Unverified(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = bounded("connect", TcpStream::connect(addr)).await.expect("connect");
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let tls = bounded("handshake", connector.connect(server_name, tcp)).await.expect("handshake");
    tls.get_ref().1.peer_certificates().and_then(|c| c.first()).expect("a certificate").clone().into_owned()
}

// ---------------------------------------------------------------------------------------------
// The gateway with a TLS listener

/// A gateway with a plain and a TLS listener, its configuration on disk (for reloads).
struct TlsGateway {
    plain: SocketAddr,
    tls: SocketAddr,
    reloader: Reloader,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// The certificates of every test: `a.test`, `b.test`, `*.wild.test`, and the default (which
/// also names the hosts the tests reach through it).
fn certificates() -> &'static str {
    "[[certificates]]\nhosts = [\"a.test\"]\ncert = \"a.pem\"\nkey = \"a.key\"\n\n\
     [[certificates]]\nhosts = [\"b.test\"]\ncert = \"b.pem\"\nkey = \"b.key\"\n\n\
     [[certificates]]\nhosts = [\"*.wild.test\"]\ncert = \"wild.pem\"\nkey = \"wild.key\"\n\n\
     [[certificates]]\ndefault = true\ncert = \"default.pem\"\nkey = \"default.key\"\n\n"
}

const DEFAULT_NAMES: [&str; 4] = ["default.test", "down.test", "fail.test", "status.test"];
const SECRET: &str = "open-sesame-0123456789";

impl TlsGateway {
    /// Tenants: `a` (a.test, redirected to HTTPS, HSTS), `b` (b.test), `wild` (*.wild.test),
    /// `down` (in maintenance), `fail` (a dead upstream); the status page on status.test.
    async fn start(pki: &Pki, origin: SocketAddr) -> TlsGateway {
        TlsGateway::start_with(pki, origin, "").await
    }

    /// As [`TlsGateway::start`], with more `[gateway]` keys.
    async fn start_with(pki: &Pki, origin: SocketAddr, keys: &str) -> TlsGateway {
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind plain");
        let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind tls");
        let (plain_addr, tls_addr) = (plain.local_addr().expect("addr"), tls.local_addr().expect("addr"));
        let window =
            "[[windows]]\nid = \"now\"\nscope = { tenants = [\"down\"] }\nonce = { start = \"2024-11-14T00:00\" }\n";
        let body = tenant("a", &["a.test"], &[origin], "https_redirect = true\nhsts = \"max-age=31536000\"")
            + &tenant("b", &["b.test"], &[origin], "hsts = \"max-age=600\"")
            + &tenant("wild", &["*.wild.test"], &[origin], "")
            + &tenant("down", &["down.test"], &[origin], "")
            + &tenant("fail", &["fail.test"], &[dead_address()], "")
            + window
            + certificates();
        let gateway = format!(
            "listen = [\"{plain_addr}\"]\nlisten_tls = [\"{tls_addr}\"]\nstatus_host = \"status.test\"\n\
             admin = \"off\"\n{keys}\n[gateway.bypass]\nsecret = \"{SECRET}\""
        );
        let path = pki.dir.write("hiatus.toml", &config(&gateway, &body));
        let loaded = hiatus::config::load(&path).unwrap_or_else(|r| panic!("load: {r}"));
        let compiled = Compiled::build(loaded.config, t0(), 1).unwrap_or_else(|e| panic!("build: {e}"));
        let clock = Clock::manual(t0());
        let current = Arc::new(ArcSwap::from_pointee(compiled));
        let reloader = Reloader::new(path, current.clone(), clock.clone(), None);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::serve_tls(plain, Some(tls), Gateway::new(current, clock), shutdown));
        TlsGateway { plain: plain_addr, tls: tls_addr, reloader, stop, task }
    }
}

async fn started() -> (Pki, Origin, TlsGateway) {
    started_with("").await
}

/// The gateway of [`TlsGateway::start`] with more `[gateway]` keys, its certificates made anew.
async fn started_with(keys: &str) -> (Pki, Origin, TlsGateway) {
    let pki = Pki::new("tls");
    pki.leaf("a", &["a.test"]);
    pki.leaf("b", &["b.test"]);
    pki.leaf("wild", &["*.wild.test"]);
    pki.leaf("default", &DEFAULT_NAMES);
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gateway = TlsGateway::start_with(&pki, origin.addr, keys).await;
    (pki, origin, gateway)
}

// ---------------------------------------------------------------------------------------------
// Clients

/// One response: status, fields (names lowercase), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// HTTP/1.1 over any stream: one request, its response read to its `Content-Length`.
async fn h1<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    method: &str,
    host: &str,
    path: &str,
    extra: &str,
) -> Answer {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\n\r\n");
    bounded("write", s.write_all(request.as_bytes())).await.expect("write the request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = bounded("read a head", s.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "closed before a response: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let fields: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        fields.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().expect("length"));
    let mut body = buf.split_off(end + 4);
    while body.len() < length && method != "HEAD" {
        let n = bounded("read a body", s.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "closed inside a body");
        body.extend_from_slice(&chunk[..n]);
    }
    Answer { status, fields, body: String::from_utf8_lossy(&body).into_owned() }
}

/// A TLS connection to `addr` for `host`, verified against the test CA, offering `alpn`.
async fn tls_to(pki: &Pki, addr: SocketAddr, host: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let tcp = bounded("connect", TcpStream::connect(addr)).await.expect("connect");
    let name = ServerName::try_from(host.to_string()).expect("server name");
    bounded("handshake", pki.client(alpn).connect(name, tcp)).await.expect("TLS handshake")
}

/// One GET over HTTP/2 on a TLS connection that negotiated `h2`.
async fn h2_get(pki: &Pki, addr: SocketAddr, host: &str, path: &str) -> Answer {
    let tls = tls_to(pki, addr, host, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN h2");
    let (mut send, conn) = bounded("h2 handshake", h2::client::handshake(tls)).await.expect("h2 handshake");
    tokio::spawn(conn);
    let request = http::Request::get(format!("https://{host}{path}")).body(()).expect("request");
    let (response, _) = send.send_request(request, true).expect("send");
    let response = bounded("h2 response", response).await.expect("h2 response");
    let status = response.status().as_u16();
    let fields = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = bounded("h2 body", body.data()).await {
        let chunk = chunk.expect("data");
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    Answer { status, fields, body: String::from_utf8_lossy(&bytes).into_owned() }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn sni_picks_the_certificate_and_the_default_serves_the_rest() {
    let pki = Pki::new("sni");
    let a = pki.leaf("a", &["a.test"]);
    let b = pki.leaf("b", &["b.test"]);
    let wild = pki.leaf("wild", &["*.wild.test"]);
    let default = pki.leaf("default", &DEFAULT_NAMES);
    let origin = Origin::start("o", Behaviour::Ok).await;
    let g = TlsGateway::start(&pki, origin.addr).await;
    let cases = [
        ("a.test", &a),
        ("A.Test", &a),
        ("b.test", &b),
        ("x.wild.test", &wild),
        ("unknown.test", &default),
        // An IP address: rustls sends no SNI.
        ("127.0.0.1", &default),
    ];
    for (name, expected) in cases {
        assert_eq!(&served_certificate(g.tls, name).await, expected, "certificate for {name}");
    }
}

#[tokio::test]
async fn http1_and_h2_over_tls_answer_as_plain_http_does() {
    let (pki, origin, g) = started().await;
    // (host, path, status, marker)
    let cases = [
        ("b.test", "/page", 200, "proxied"),
        ("x.wild.test", "/", 200, "proxied"),
        ("down.test", "/", 503, "maintenance"),
        ("fail.test", "/", 502, "upstream-error"),
        ("status.test", "/", 200, "status"),
    ];
    for (host, path, status, marker) in cases {
        let mut plain = bounded("connect", TcpStream::connect(g.plain)).await.expect("connect");
        let p = h1(&mut plain, "GET", host, path, "").await;
        let mut tls = tls_to(&pki, g.tls, host, &[b"http/1.1"]).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]), "ALPN http/1.1");
        let t1 = h1(&mut tls, "GET", host, path, "").await;
        let t2 = h2_get(&pki, g.tls, host, path).await;
        for (lane, r) in [("plain", &p), ("TLS HTTP/1.1", &t1), ("TLS h2", &t2)] {
            assert_eq!((r.status, r.field("x-hiatus")), (status, Some(marker)), "{lane} {host}{path}: {}", r.body);
        }
        // The same page, but for its request id and the scheme of its links.
        let page =
            |r: &Answer| r.body.replace(r.field("x-request-id").unwrap_or("-"), "ID").replace("http://", "https://");
        assert_eq!(page(&t1), page(&p), "{host}: the same page over TLS");
        assert_eq!(page(&t2), page(&t1), "{host}: the same page over h2");
    }
    // No ALPN at all: HTTP/1.1.
    let mut bare = tls_to(&pki, g.tls, "b.test", &[]).await;
    assert_eq!(h1(&mut bare, "GET", "b.test", "/bare", "").await.status, 200);
    assert!(origin.hits() >= 7, "the origin answered the proxied requests");
}

#[tokio::test]
async fn a_connection_that_closes_after_its_answer_ends_with_close_notify_and_its_session_resumes() {
    let (pki, _origin, g) = started().await;
    // One client configuration for every connection: its session store is what resumes.
    let client = pki.client(&[b"http/1.1"]);
    let name = ServerName::try_from("b.test").expect("server name");
    let requests = [
        "GET /ten HTTP/1.0\r\nHost: b.test\r\n\r\n",
        "GET /close HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n",
        "GET /ten-again HTTP/1.0\r\nHost: b.test\r\n\r\n",
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let tcp = bounded("connect", TcpStream::connect(g.tls)).await.expect("connect");
        let mut tls = bounded("handshake", client.connect(name.clone(), tcp)).await.expect("TLS handshake");
        let kind = tls.get_ref().1.handshake_kind();
        let expected = if i == 0 { rustls::HandshakeKind::Full } else { rustls::HandshakeKind::Resumed };
        assert_eq!(kind, Some(expected), "handshake {i}");
        bounded("write", tls.write_all(request.as_bytes())).await.expect("write the request");
        // rustls reports an end without close_notify as an error (UnexpectedEof).
        let mut answer = Vec::new();
        let read = bounded("read to the end", tls.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "{request:?}: closed without close_notify: {read:?}");
        assert!(answer.starts_with(b"HTTP/1.1 200 "), "{request:?}: {}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test]
async fn forwarded_proto_hsts_and_the_secure_bypass_cookie_follow_the_connection() {
    let (pki, origin, g) = started().await;
    // Over TLS: https upstream whatever the client claims; HSTS from the tenant, replacing none.
    let mut tls = tls_to(&pki, g.tls, "b.test", &[b"http/1.1"]).await;
    let r = h1(&mut tls, "GET", "b.test", "/over-tls", "X-Forwarded-Proto: http\r\n").await;
    assert_eq!((r.status, r.field("strict-transport-security")), (200, Some("max-age=600")));
    let h2 = h2_get(&pki, g.tls, "b.test", "/over-h2").await;
    assert_eq!((h2.status, h2.field("strict-transport-security")), (200, Some("max-age=600")));
    // Our own pages over TLS carry it too (the tenant is known); plain answers never.
    let mut plain = bounded("connect", TcpStream::connect(g.plain)).await.expect("connect");
    let p = h1(&mut plain, "GET", "b.test", "/plain", "X-Forwarded-Proto: https\r\n").await;
    assert_eq!((p.status, p.field("strict-transport-security")), (200, None));
    let seen = origin.seen();
    let proto = |path: &str| {
        let s = seen.iter().find(|s| s.path == path).unwrap_or_else(|| panic!("{path} reached the origin"));
        s.all("x-forwarded-proto").join(",")
    };
    assert_eq!(proto("/over-tls"), "https");
    assert_eq!(proto("/over-h2"), "https");
    // A client that is no trusted proxy does not make a plain request https.
    assert_eq!(proto("/plain"), "http");

    // The bypass cookie: Secure over TLS, not over plain HTTP.
    let path = format!("/.hiatus/bypass/{SECRET}");
    let mut tls = tls_to(&pki, g.tls, "down.test", &[b"http/1.1"]).await;
    let over_tls = h1(&mut tls, "GET", "down.test", &path, "").await;
    let mut plain = bounded("connect", TcpStream::connect(g.plain)).await.expect("connect");
    let over_plain = h1(&mut plain, "GET", "down.test", &path, "").await;
    let cookie = |r: &Answer| r.field("set-cookie").unwrap_or_else(|| panic!("a cookie: {r:?}")).to_string();
    assert!(cookie(&over_tls).ends_with("; Secure"), "{}", cookie(&over_tls));
    assert!(!cookie(&over_plain).contains("Secure"), "{}", cookie(&over_plain));
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_except_acme_challenges() {
    let (pki, origin, g) = started().await;
    let port = g.tls.port();
    let cases = [
        ("GET", "/x/y?q=1&r=%20", 301, Some(format!("https://a.test:{port}/x/y?q=1&r=%20"))),
        ("HEAD", "/", 301, Some(format!("https://a.test:{port}/"))),
        ("POST", "/form", 308, Some(format!("https://a.test:{port}/form"))),
        ("DELETE", "/item/7", 308, Some(format!("https://a.test:{port}/item/7"))),
        ("GET", "/.well-known/acme-challenge/token-1", 200, None),
    ];
    for (method, path, status, location) in cases {
        let mut plain = bounded("connect", TcpStream::connect(g.plain)).await.expect("connect");
        let r = h1(&mut plain, method, "A.test:80", path, "").await;
        assert_eq!(r.status, status, "{method} {path}: {r:?}");
        assert_eq!(r.field("location").map(str::to_string), location, "{method} {path}");
        assert_eq!(r.field("strict-transport-security"), None, "{method} {path}: no HSTS over plain HTTP");
    }
    assert!(origin.seen().iter().any(|s| s.path == "/.well-known/acme-challenge/token-1"), "the challenge passed");
    // Over TLS the same tenant is served, with its HSTS.
    let mut tls = tls_to(&pki, g.tls, "a.test", &[b"http/1.1"]).await;
    let r = h1(&mut tls, "POST", "a.test", "/form", "").await;
    assert_eq!((r.status, r.field("strict-transport-security")), (200, Some("max-age=31536000")));
}

#[tokio::test]
async fn a_reload_swaps_certificates_without_dropping_connections_and_a_bad_file_keeps_the_old() {
    let (pki, _origin, g) = started().await;
    let first = served_certificate(g.tls, "b.test").await;
    let mut open = tls_to(&pki, g.tls, "b.test", &[b"http/1.1"]).await;
    assert_eq!(h1(&mut open, "GET", "b.test", "/before", "").await.status, 200);

    let second = pki.leaf("b", &["b.test"]);
    assert_ne!(first, second);
    g.reloader.reload("test").unwrap_or_else(|e| panic!("reload: {e:?}"));
    assert_eq!(served_certificate(g.tls, "b.test").await, second, "new handshakes get the new certificate");
    assert_eq!(h1(&mut open, "GET", "b.test", "/after", "").await.status, 200, "the open connection goes on");

    // A key that is not the certificate's: refused with file and key path; the old one serves.
    let other = rcgen::KeyPair::generate().expect("key");
    pki.dir.write("b.key", &other.serialize_pem());
    let errors = g.reloader.reload("test").expect_err("a mismatching key is refused");
    let text = errors.join("\n");
    assert!(text.contains("certificates[1].key") && text.contains("b.key"), "{text}");
    assert_eq!(served_certificate(g.tls, "b.test").await, second, "the old certificate still serves");
    // Unreadable garbage in the certificate file: the same.
    std::fs::remove_file(pki.path("b.pem")).expect("remove");
    let errors = g.reloader.reload("test").expect_err("a missing certificate is refused").join("\n");
    assert!(errors.contains("certificates[1].cert") && errors.contains("b.pem"), "{errors}");
    assert_eq!(served_certificate(g.tls, "b.test").await, second);
    // The watcher looks at the certificate files too.
    let (files, _) = g.reloader.watched();
    assert!(files.contains(&pki.path("b.pem")) && files.contains(&pki.path("b.key")), "{files:?}");
}

/// A ClientHello that offers TLS 1.1 and nothing newer (no `supported_versions`).
fn tls11_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // ECDHE-RSA-AES128-SHA, AES128-SHA
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let name = b"a.test";
    let mut sni = vec![0x00, 0x00]; // server_name
    let list_len = name.len() + 3;
    sni.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
    sni.extend_from_slice(&(list_len as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    hello.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    hello.extend_from_slice(&sni);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn a_tls_1_1_client_gets_an_alert_and_a_modern_one_is_served_after_it() {
    let (pki, _origin, g) = started().await;
    let mut tcp = bounded("connect", TcpStream::connect(g.tls)).await.expect("connect");
    bounded("write", tcp.write_all(&tls11_client_hello())).await.expect("write");
    let mut reply = Vec::new();
    let _ = bounded("the refusal", tcp.read_to_end(&mut reply)).await;
    // A fatal alert record (21), never a ServerHello (handshake record, 22).
    assert_eq!(reply.first(), Some(&0x15), "an alert, got {reply:?}");
    assert_eq!(reply.get(5), Some(&2), "fatal");
    let mut tls = tls_to(&pki, g.tls, "a.test", &[b"http/1.1"]).await;
    assert_eq!(h1(&mut tls, "GET", "a.test", "/", "").await.status, 200);
}

#[tokio::test]
async fn a_handshake_not_done_within_its_timeout_is_dropped() {
    let (pki, _origin, g) = started_with("tls_handshake_timeout = \"1s\"").await;
    let started = std::time::Instant::now();
    let mut silent = bounded("connect", TcpStream::connect(g.tls)).await.expect("connect");
    // Half a ClientHello, then nothing: the gateway waits for the rest only so long.
    bounded("write", silent.write_all(&tls11_client_hello()[..20])).await.expect("write");
    let mut rest = Vec::new();
    let _ = bounded("the close", silent.read_to_end(&mut rest)).await;
    let waited = started.elapsed();
    assert!(rest.is_empty(), "nothing is sent to a handshake cut short: {rest:?}");
    assert!(waited >= std::time::Duration::from_millis(900), "closed after {waited:?}, before its timeout");
    // The listener still serves.
    let mut tls = tls_to(&pki, g.tls, "a.test", &[b"http/1.1"]).await;
    assert_eq!(h1(&mut tls, "GET", "a.test", "/", "").await.status, 200);
}

#[test]
fn check_names_the_file_and_key_of_a_bad_certificate() {
    let pki = Pki::new("check");
    pki.leaf("a", &["a.test"]);
    pki.leaf("b", &["b.test"]);
    let up = dead_address();
    let tenants = tenant("a", &["a.test"], &[up], "");
    let entry =
        |cert: &str, key: &str| format!("[[certificates]]\nhosts = [\"a.test\"]\ncert = \"{cert}\"\nkey = \"{key}\"\n");
    let cases = [
        (entry("a.pem", "b.key"), "certificates[0].key", "not the key of the certificate"),
        (entry("missing.pem", "a.key"), "certificates[0].cert", "missing.pem: cannot be read"),
        (entry("a.key", "a.key"), "certificates[0].cert", "no certificate"),
        (entry("a.pem", "a.pem"), "certificates[0].key", "no PEM private key"),
        (String::new(), "gateway.listen_tls", "TLS listeners need certificates"),
        (
            format!("{}[[certificates]]\ndefault = true\ncert = \"b.pem\"\nkey = \"b.key\"\n[[certificates]]\ndefault = true\ncert = \"a.pem\"\nkey = \"a.key\"\n", entry("a.pem", "a.key")),
            "certificates[2].default",
            "only one certificate may be the default",
        ),
        (
            "[[certificates]]\ncert = \"a.pem\"\nkey = \"a.key\"\n".to_string(),
            "certificates[0].hosts",
            "set `default = true`",
        ),
    ];
    for (certs, key, words) in cases {
        let text = config("listen_tls = [\"127.0.0.1:8443\"]", &format!("{tenants}{certs}"));
        let report = crate::support::load_err(&text, &pki.dir.0);
        let shown = report.to_string();
        assert!(shown.contains(key) && shown.contains(words), "{key} / {words}:\n{shown}");
    }
    // A tenant host no certificate covers, with no default: a warning (its handshakes fail).
    let hosts = tenant("a", &["a.test", "x.a.test", "c.test"], &[up], "");
    let certs = "[[certificates]]\nhosts = [\"a.test\", \"*.a.test\"]\ncert = \"a.pem\"\nkey = \"a.key\"\n";
    let text = config("listen_tls = [\"127.0.0.1:8443\"]", &format!("{hosts}{certs}"));
    let loaded = hiatus::config::load_str(&text, "t.toml", &pki.dir.0).unwrap_or_else(|r| panic!("{r}"));
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("tenants[0].hosts[2]") && warnings[0].contains("c.test"), "{warnings:?}");
    // Bad tenant keys of the same feature.
    let text = config("", &tenant("a", &["a.test"], &[up], "hsts = \"max-age=1\\r\\nx: y\""));
    assert!(crate::support::load_err(&text, &pki.dir.0).to_string().contains("tenants[0].hsts"));
}

/// The HTTPS demo (`scripts/demo.sh --tls`): what `scripts/demo-tls.sh` makes (a CA, a leaf for
/// localhost and `*.localhost`, the demo configuration with a TLS listener), run by `hiatus demo`
/// on free ports, serves the demo's tenants over HTTP/1.1 and HTTP/2 to a client that trusts
/// only the demo's CA (rustls: each demo host is named in the certificate), and plain HTTP as
/// before.
#[tokio::test]
async fn the_https_demo_serves_the_demo_tenants_with_its_certificate() {
    use crate::support::{free_port, root};
    let dir = TempDir::new("https-demo");
    let out = dir.0.join("demo-tls");
    let made =
        std::process::Command::new(root().join("scripts/demo-tls.sh")).arg(&out).status().expect("run demo-tls.sh");
    assert!(made.success(), "scripts/demo-tls.sh failed");
    let (plain, tls, origin, admin) = (free_port(), free_port(), free_port(), free_port());
    let config = std::fs::read_to_string(out.join("hiatus.toml")).expect("the demo's TLS configuration");
    assert!(config.contains("listen_tls = [\"127.0.0.1:8443\"]"), "{config}");
    let config = config
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{plain}"))
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{tls}"))
        .replace("127.0.0.1:18081", &format!("127.0.0.1:{origin}"))
        .replace("127.0.0.1:18089", &format!("127.0.0.1:{}", free_port()))
        .replace("[gateway]\n", &format!("[gateway]\nadmin = \"127.0.0.1:{admin}\"\n"));
    let path = out.join("hiatus.toml");
    std::fs::write(&path, config).expect("write the configuration");
    let origin_at = format!("127.0.0.1:{origin}");
    let demo = crate::lifecycle::Running::start(&["demo", "--config", &path.to_string_lossy(), "--origin", &origin_at]);
    let at = demo.listening();
    assert_eq!(at.port(), plain);

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(out.join("ca.pem")).expect("ca.pem");
    for c in pem_certificates(&ca) {
        roots.add(c).expect("the demo CA as a root");
    }
    let client = |alpn: &[&[u8]]| {
        let mut c = ClientConfig::builder_with_provider(hiatus::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(c))
    };
    let tls_at = SocketAddr::from(([127, 0, 0, 1], tls));
    let connect = |host: &'static str, alpn: &'static [&'static [u8]]| {
        let connector = client(alpn);
        async move {
            let tcp = bounded("connect", TcpStream::connect(tls_at)).await.expect("connect");
            let name = ServerName::try_from(host.to_string()).expect("name");
            bounded("handshake", connector.connect(name, tcp)).await.expect("a handshake verified by the demo CA")
        }
    };
    for (host, status) in [("app.localhost", 200), ("maint.localhost", 503), ("dead.localhost", 502)] {
        let mut s = connect(host, &[b"http/1.1"]).await;
        let answer = h1(&mut s, "GET", host, "/", "").await;
        assert_eq!(answer.status, status, "{host} over TLS: {answer:?}");
        if host == "app.localhost" {
            assert!(answer.body.contains("Demo origin"), "{}", answer.body);
        }
    }
    // HTTP/2 by ALPN on the same certificate.
    let s = connect("status.localhost", &[b"h2"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // Plain HTTP is still served.
    let mut plain_conn = bounded("connect", TcpStream::connect(at)).await.expect("connect");
    assert_eq!(h1(&mut plain_conn, "GET", "maint.localhost", "/", "").await.status, 503);
}

/// The certificates of a PEM text.
fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).map(|c| c.expect("a PEM certificate")).collect()
}
