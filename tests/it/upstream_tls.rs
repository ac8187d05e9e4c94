//! TLS towards upstreams: HTTPS origins started here (rustls servers with certificates rcgen
//! makes: a CA, leaves for names, an expired one), reached through the gateway on both lanes.
//!
//! Checked: pass-through over TLS with keep-alive reuse; a wrong CA, a wrong name and an
//! expired leaf each give the failure page with no TLS or address text in it, while the log
//! says exactly why; two tenants with different names (SNI) on one address never share a
//! pooled connection; `verify = false` takes any certificate; a health probe speaks TLS and
//! refuses a certificate it does not trust.

use crate::control::TempDir;
use crate::gateway_support::{bounded, config, read_head, t0, TestGateway};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Certificates

/// A CA of the test's own; its certificate is written as `ca.pem`.
struct Authority {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    dir: TempDir,
}

/// A leaf certificate and its key, as the origin serves them.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("upstream test CA {name}"));
        let key = rcgen::KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let dir = TempDir::new(name);
        dir.write("ca.pem", &cert.pem());
        Authority { issuer: rcgen::Issuer::new(params, key), dir }
    }

    fn ca_file(&self) -> String {
        self.dir.0.join("ca.pem").display().to_string()
    }

    /// A leaf for `names`; `expired`: its validity ended yesterday.
    fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("leaf params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The HTTPS origin

/// What the origin saw of one request: the name the client sent (SNI), its connection's number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hit {
    sni: Option<String>,
    conn: usize,
    path: String,
    /// The request's fields (names lower case).
    headers: Vec<(String, String)>,
}

/// An HTTP/1.1 origin behind TLS; answers 200 `tls <sni> <conn> <path>`, keep-alive.
struct TlsOrigin {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsOrigin {
    async fn start(leaf: Leaf) -> TlsOrigin {
        let mut config = rustls::ServerConfig::builder_with_provider(hiatus::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .expect("the leaf and its key");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the origin");
        let addr = listener.local_addr().expect("origin address");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let record = hits.clone();
        let task = tokio::spawn(async move {
            for conn in 0.. {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    // A refused handshake is the point of some tests: nothing to serve then.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    let mut reader = BufReader::new(tls);
                    while let Ok(Some(head)) = read_head(&mut reader).await {
                        let hit =
                            Hit { sni: sni.clone(), conn, path: head.path.clone(), headers: head.headers.clone() };
                        let body = format!("tls {} {conn} {}", sni.as_deref().unwrap_or("-"), head.path);
                        if let Ok(mut r) = record.lock() {
                            r.push(hit);
                        }
                        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        let out = reader.get_mut();
                        if out.write_all(answer.as_bytes()).await.is_err() || out.flush().await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        TlsOrigin { addr, hits, task }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// The log

/// Every log line of this test binary from the first call on (the gateway logs through the
/// `log` facade; this is the one logger installed in the binary).
fn log_lines() -> &'static Arc<Mutex<Vec<u8>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let filter = hiatus::telemetry::logger::Filter::configured(log::LevelFilter::Warn);
        let logger = hiatus::telemetry::logger::Logger::new(
            filter,
            hiatus::config::gateway::LogFormat::Text,
            Box::new(Sink(lines.clone())),
        );
        let logger: &'static hiatus::telemetry::logger::Logger = Box::leak(Box::new(logger));
        log::set_logger(logger).expect("the only logger of the test binary");
        log::set_max_level(log::LevelFilter::Warn);
        lines
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&log_lines().lock().map(|l| l.clone()).unwrap_or_default()).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Tests

fn tls_tenant(id: &str, host: &str, upstream: &str) -> String {
    format!("[[tenants]]\nid = \"{id}\"\nhosts = [\"{host}\"]\nupstreams = [{upstream}]\n\n")
}

fn with_ca(addr: SocketAddr, ca: &Authority, extra: &str) -> String {
    format!("{{ address = \"{addr}\", tls = true, ca = {:?}{extra} }}", ca.ca_file())
}

#[tokio::test]
async fn requests_pass_through_tls_and_reuse_the_connection_on_both_lanes() {
    let ca = Authority::new("uptls-pass");
    let origin = TlsOrigin::start(ca.leaf(&["a.test"], false)).await;
    let body = tls_tenant("a", "a.test", &with_ca(origin.addr, &ca, ""));
    let gw = TestGateway::start(&config("", &body), t0()).await;

    let mut client = gw.client().await;
    let first = bounded("first", client.request("GET", "a.test", "/one", &[])).await;
    let second = bounded("second", client.request("GET", "a.test", "/two", &[])).await;
    assert_eq!((first.status, first.text().as_str()), (200, "tls a.test 0 /one"), "SNI is the request's host");
    assert_eq!((second.status, second.text().as_str()), (200, "tls a.test 0 /two"), "the same TLS connection");

    let mut h2 = gw.h2().await;
    let r = bounded("h2", h2.request("GET", "http://a.test/three", &[])).await;
    assert_eq!((r.status, r.text().as_str()), (200, "tls a.test 0 /three"), "h2c reuses it too");
    assert_eq!(origin.hits().len(), 3);
}

#[tokio::test]
async fn certificate_errors_give_the_failure_page_and_the_cause_in_the_log() {
    log_lines();
    let trusted = Authority::new("uptls-trusted");
    let stranger = Authority::new("uptls-stranger");
    // (what is wrong, the origin's certificate, the log's words)
    let cases = [
        ("an unknown CA", stranger.leaf(&["bad.test"], false), "TLS: certificate of an unknown issuer"),
        ("another name", trusted.leaf(&["other.test"], false), "TLS: certificate not valid for the name"),
        ("an expired leaf", trusted.leaf(&["bad.test"], true), "TLS: certificate expired"),
    ];
    for (what, leaf, words) in cases {
        let origin = TlsOrigin::start(leaf).await;
        let body = tls_tenant("bad", "bad.test", &with_ca(origin.addr, &trusted, ""));
        let gw = TestGateway::start(&config("", &body), t0()).await;
        let r = bounded(what, gw.get("bad.test", "/", &[("accept", "text/html")])).await;
        assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("upstream_tls")), "{what}");
        let page = r.text();
        assert!(page.contains("secure connection"), "{what}: the failure page in words: {page}");
        for secret in ["certificate", "issuer", "expired", "TLS", "127.0.0.1", &origin.addr.port().to_string()] {
            assert!(!page.contains(secret), "{what}: the page shows {secret:?}: {page}");
        }
        let line = format!("upstream {} of tenant bad: upstream_tls ({words})", origin.addr);
        let found = bounded("the log line", async {
            for _ in 0..100 {
                if logged().contains(&line) {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            false
        })
        .await;
        assert!(found, "{what}: {line:?} not in the log:\n{}", logged());
        assert!(origin.hits().is_empty(), "{what}: no request reached the origin");
    }
}

#[tokio::test]
async fn two_names_on_one_address_never_share_a_pooled_connection() {
    let ca = Authority::new("uptls-sni");
    let origin = TlsOrigin::start(ca.leaf(&["a.test", "b.test"], false)).await;
    let upstream = with_ca(origin.addr, &ca, "");
    let body = tls_tenant("a", "a.test", &upstream) + &tls_tenant("b", "b.test", &upstream);
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    for (i, host) in ["a.test", "b.test", "a.test", "b.test", "a.test"].into_iter().enumerate() {
        let r = bounded(host, client.request("GET", host, &format!("/{i}"), &[])).await;
        assert_eq!(r.status, 200, "{host}");
    }
    let hits = origin.hits();
    assert_eq!(hits.len(), 5);
    for h in &hits {
        let same_conn: Vec<_> = hits.iter().filter(|o| o.conn == h.conn).map(|o| o.sni.clone()).collect();
        assert!(same_conn.iter().all(|s| *s == h.sni), "connection {} carried several names: {same_conn:?}", h.conn);
    }
    let conns: std::collections::BTreeSet<usize> = hits.iter().map(|h| h.conn).collect();
    assert_eq!(conns.len(), 2, "one connection per name, each reused: {hits:?}");
    let a: Vec<_> = hits.iter().filter(|h| h.sni.as_deref() == Some("a.test")).map(|h| h.path.as_str()).collect();
    assert_eq!(a, ["/0", "/2", "/4"]);
}

#[tokio::test]
async fn a_configured_sni_is_sent_and_verify_false_takes_any_certificate() {
    let ca = Authority::new("uptls-sni-set");
    let stranger = Authority::new("uptls-any");
    let named = TlsOrigin::start(ca.leaf(&["backend.internal"], false)).await;
    let unverified = TlsOrigin::start(stranger.leaf(&["whatever.example"], true)).await;
    let body = tls_tenant("n", "n.test", &with_ca(named.addr, &ca, ", sni = \"backend.internal\""))
        + &tls_tenant("u", "u.test", &format!("{{ address = \"{}\", tls = true, verify = false }}", unverified.addr));
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let r = bounded("named", gw.get("n.test", "/x", &[])).await;
    assert_eq!((r.status, r.text().as_str()), (200, "tls backend.internal 0 /x"));
    let r = bounded("unverified", gw.get("u.test", "/y", &[])).await;
    assert_eq!((r.status, r.text().as_str()), (200, "tls u.test 0 /y"), "an unknown CA and an expired leaf taken");
}

#[tokio::test]
async fn health_probes_speak_tls_and_refuse_an_untrusted_certificate() {
    let ca = Authority::new("uptls-probe");
    let stranger = Authority::new("uptls-probe-stranger");
    let origin = TlsOrigin::start(ca.leaf(&["p.test"], false)).await;
    let check = hiatus::config::health::HealthProbe::Http { path: "/health".into(), expect: 200 };
    let trust = |a: &Authority| {
        let tls = hiatus::config::model::UpstreamTls {
            ca: Some(hiatus::config::model::CaFile {
                path: a.dir.0.join("ca.pem"),
                certificates: rustls::pki_types::pem::PemObject::pem_file_iter(a.dir.0.join("ca.pem"))
                    .expect("ca.pem")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("certificates"),
            }),
            sni: None,
            verify: true,
        };
        let up = hiatus::compiled::upstream_tls::Trusts::default().upstream(&tls).expect("a trust");
        Some((up.trust.clone(), ServerName::try_from("p.test").expect("a name")))
    };
    let limit = std::time::Duration::from_secs(2);
    let ok = hiatus::health::probe::probe_with(origin.addr, &check, "p.test", limit, trust(&ca)).await;
    assert_eq!(ok, Ok(()));
    assert_eq!(origin.hits().iter().map(|h| h.path.as_str()).collect::<Vec<_>>(), ["/health"]);
    let refused = hiatus::health::probe::probe_with(origin.addr, &check, "p.test", limit, trust(&stranger)).await;
    let e = refused.expect_err("an untrusted certificate");
    assert_eq!(e.cause, hiatus::health::Cause::Errors);
    assert!(e.detail.starts_with("TLS: "), "{}", e.detail);
    let plain = hiatus::health::probe::probe(origin.addr, &check, "p.test", limit).await;
    assert!(plain.is_err(), "plain HTTP to a TLS origin is no answer");
}
