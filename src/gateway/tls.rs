//! TLS on the gateway's own listeners: a connection accepted on a `listen_tls` address is
//! handshaken here (rustls, through tokio-rustls) and then taken by a lane as any other
//! connection: ALPN `h2` to the HTTP/2 lane (`h2c`, which runs pingora's HTTP/2 over any
//! stream), `http/1.1` or no ALPN to the HTTP/1.1 lane.
//!
//! Why here and not a pingora TLS listener: the listeners stay plain pingora ones (the socket
//! hand-over of an upgrade, threads), the lanes stay the request path (pingora's TLS listener
//! would hand its streams to pingora's proxy), and the handshake gets our own timeout
//! (`tls_handshake_timeout`) and log level (a scanner's failed handshakes are not errors).
//!
//! The certificate is chosen per handshake from the configuration in force ([`Resolver`]
//! loads the one `ArcSwap<Compiled>`), so a reload swaps certificates for the next handshake
//! without touching open connections.

use super::record::Gateway;
use crate::compiled::Compiled;
use crate::telemetry::ratelimit::Limiter;
use crate::tls::handshakes::{Failure, Handshakes};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream, TimingDigest,
    UniqueID, UniqueIDType,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How often failed handshakes get an info line at most (each one is a debug line).
const FAILURES_EVERY: Duration = Duration::from_secs(10);

/// The certificate for a `ClientHello`: a configured one for the name, else one ACME issued
/// for it, else the configured default (none: the handshake is refused). Two `ArcSwap` loads and hash lookups; ACME's certificates live outside
/// `Compiled`, so a reload keeps them.
#[derive(Debug)]
pub struct Resolver {
    current: Arc<ArcSwap<Compiled>>,
    acme: Arc<crate::acme::Acme>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let compiled = self.current.load();
        let store = &compiled.certificates;
        let found = match hello.server_name() {
            Some(name) => store.named(name).cloned().or_else(|| self.acme.issued.load().resolve(name).cloned()),
            None => None,
        };
        found.or_else(|| store.default_key().cloned())
    }
}

/// The TLS side of the gateway's listeners.
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    /// The `listen_tls` addresses the process started with.
    addrs: Vec<SocketAddr>,
    /// The plain ones: an address in both is refused by `config`, but a wildcard TLS address
    /// shares its port with no plain one only if the configuration says so.
    plain: Vec<SocketAddr>,
    failures: Limiter<()>,
    /// Handshakes by result (the metrics; the failures' info line says their count).
    handshakes: Arc<Handshakes>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("addrs", &self.addrs).field("handshakes", &self.handshakes).finish()
    }
}

/// A handshaken connection and the lane its ALPN asks for.
#[derive(Debug)]
pub struct Handshaken {
    pub io: Stream,
    /// ALPN `h2`: the HTTP/2 lane.
    pub h2: bool,
}

impl Tls {
    /// The TLS side of listeners on `tls` (their bound addresses) next to plain ones on
    /// `plain`; `None` when there are no TLS listeners.
    pub fn new(gateway: &Gateway, tls: &[SocketAddr], plain: &[SocketAddr]) -> Result<Option<Tls>, String> {
        if tls.is_empty() {
            return Ok(None);
        }
        let resolver = Resolver { current: gateway.current.clone(), acme: gateway.acme.clone() };
        let config = crate::tls::server::config(Arc::new(resolver))?;
        Ok(Some(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            addrs: tls.to_vec(),
            plain: plain.to_vec(),
            failures: Limiter::new(FAILURES_EVERY),
            handshakes: gateway.handshakes.clone(),
        }))
    }

    /// Whether a connection accepted on `local` came in on a TLS listener: its address, or a
    /// TLS listener on the unspecified address with the same port (and no plain listener
    /// there).
    pub fn listens_on(&self, local: SocketAddr) -> bool {
        if self.addrs.contains(&local) {
            return true;
        }
        if self.plain.contains(&local) {
            return false;
        }
        self.addrs.iter().any(|a| a.ip().is_unspecified() && a.port() == local.port())
    }

    /// The TLS handshake within `timeout`; `None` when it failed (logged at debug, and an info
    /// line with the count every 10 s).
    pub async fn handshake(&self, io: Stream, timeout: Duration) -> Option<Handshaken> {
        let socket = io.get_socket_digest();
        let timing = io.get_timing_digest();
        let id = io.id();
        let peer = socket.as_ref().and_then(|s| s.peer_addr().cloned());
        let failure = match tokio::time::timeout(timeout, self.acceptor.accept(io)).await {
            Ok(Ok(stream)) => {
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let conn = TlsConn { inner: stream, socket, timing, id };
                self.handshakes.succeeded();
                return Some(Handshaken { io: Box::new(conn), h2 });
            }
            Ok(Err(e)) => {
                let why = if refused_for_no_certificate(&e) { Failure::NoCertificate } else { Failure::Protocol };
                self.handshakes.failed(why);
                e.to_string()
            }
            Err(_) => {
                self.handshakes.failed(Failure::Timeout);
                format!("not done within {timeout:?}")
            }
        };
        let failed = self.failed();
        let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        log::debug!("tls: handshake with {peer} failed: {failure}");
        if log::log_enabled!(log::Level::Info) && self.failures.admit(&(), Instant::now()).is_some() {
            log::info!("tls: handshake with {peer} failed: {failure} ({failed} failed handshakes since the start)");
        }
        None
    }

    /// Failed handshakes since the start.
    pub fn failed(&self) -> u64 {
        Failure::ALL.into_iter().map(|why| self.handshakes.failed_count(why)).sum()
    }
}

/// Whether rustls ended the handshake because the resolver had no certificate (its words for
/// it are the only sign: the error is `General`).
fn refused_for_no_certificate(e: &std::io::Error) -> bool {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    matches!(inner, Some(rustls::Error::General(m)) if m.contains("no server certificate"))
}

/// A TLS connection as pingora's `Stream`: the lanes read and write it like a socket; the
/// digests are the socket's (the lanes read the peer and local addresses from them).
#[derive(Debug)]
struct TlsConn {
    inner: tokio_rustls::server::TlsStream<Stream>,
    socket: Option<Arc<SocketDigest>>,
    timing: Vec<Option<TimingDigest>>,
    id: UniqueIDType,
}

impl AsyncRead for TlsConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for TlsConn {
    async fn shutdown(&mut self) {
        // close_notify, then the socket's write side.
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.inner).await;
    }
}

impl UniqueID for TlsConn {
    fn id(&self) -> UniqueIDType {
        self.id
    }
}

/// No pingora TLS digest: pingora is built without a TLS backend, and nothing reads one.
impl Ssl for TlsConn {}

impl GetTimingDigest for TlsConn {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.timing.clone()
    }
}

impl GetProxyDigest for TlsConn {
    fn get_proxy_digest(&self) -> Option<Arc<pingora::protocols::raw_connect::ProxyDigest>> {
        None
    }
}

impl GetSocketDigest for TlsConn {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.socket.clone()
    }
}

/// Peeking would have to decrypt: not offered (the lanes never peek).
#[async_trait]
impl Peek for TlsConn {}
