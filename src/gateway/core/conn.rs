//! An upstream connection: plain TCP, or TLS over it (`https://` upstreams). Both are one enum,
//! so a plain connection pays a branch per read or write and nothing else: no box, no
//! dynamic call, no TLS state.
//!
//! A TLS connection remembers whom it was opened for — the trust it was verified under and the
//! name it sent as SNI and verified — and the pool hands it only to an exchange that asks for
//! the same two ([`UpstreamConn::serves`]): a connection verified for one tenant's name is
//! never another tenant's. Does not decide what the trust is (`compiled::upstream_tls`).

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Whom a TLS connection is for: what an exchange asks the pool for and opens with.
#[derive(Debug, Clone)]
pub struct Peer<'a> {
    pub trust: &'a Arc<ClientConfig>,
    /// Sent as SNI and verified against the certificate.
    pub name: ServerName<'static>,
}

/// A connection to an upstream.
#[derive(Debug)]
pub enum UpstreamConn {
    Plain(TcpStream),
    Tls(Box<Secured>),
}

/// A TLS connection and whom it was opened for.
#[derive(Debug)]
pub struct Secured {
    stream: TlsStream<TcpStream>,
    trust: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl UpstreamConn {
    /// Connects TLS over `tcp` for `peer`: the handshake, the certificate verified.
    pub async fn handshake(tcp: TcpStream, peer: &Peer<'_>) -> io::Result<UpstreamConn> {
        let connector = tokio_rustls::TlsConnector::from(peer.trust.clone());
        let stream = connector.connect(peer.name.clone(), tcp).await?;
        Ok(UpstreamConn::Tls(Box::new(Secured { stream, trust: peer.trust.clone(), name: peer.name.clone() })))
    }

    /// Whether this connection may carry an exchange that wants `peer` (`None`: plain).
    pub fn serves(&self, peer: Option<&Peer<'_>>) -> bool {
        match (self, peer) {
            (UpstreamConn::Plain(_), None) => true,
            (UpstreamConn::Tls(s), Some(p)) => Arc::ptr_eq(&s.trust, p.trust) && s.name == p.name,
            _ => false,
        }
    }

    /// Nothing arrived while it idled: no bytes, no close, no error (`pool::take`). No system
    /// call unless the event loop saw the socket become readable. A TLS connection is asked
    /// through rustls, which may hold bytes it already read.
    pub fn quiet(&mut self) -> bool {
        match self {
            UpstreamConn::Plain(conn) => {
                let mut probe = [0u8; 1];
                matches!(conn.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            UpstreamConn::Tls(s) => {
                let mut probe = [0u8; 1];
                let mut buf = ReadBuf::new(&mut probe);
                // Nobody waits for this connection while it idles: whoever takes it next polls
                // it with its own waker.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                matches!(Pin::new(&mut s.stream).poll_read(&mut cx, &mut buf), Poll::Pending)
            }
        }
    }

    /// Its two directions, to be used at once (a body going up while an early answer comes).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        match self {
            UpstreamConn::Plain(c) => {
                let (r, w) = c.split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            UpstreamConn::Tls(s) => {
                let (r, w) = tokio::io::split(&mut s.stream);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }
}

/// Reading from an upstream connection while its other half writes.
#[derive(Debug)]
pub enum ReadHalf<'a> {
    Plain(tokio::net::tcp::ReadHalf<'a>),
    Tls(tokio::io::ReadHalf<&'a mut TlsStream<TcpStream>>),
}

/// Writing to an upstream connection while its other half reads.
#[derive(Debug)]
pub enum WriteHalf<'a> {
    Plain(tokio::net::tcp::WriteHalf<'a>),
    Tls(tokio::io::WriteHalf<&'a mut TlsStream<TcpStream>>),
}

impl ReadHalf<'_> {
    /// Waits until the upstream sent something: `Ok(n)` bytes appended to `buf` (0: closed).
    /// Cancel-safe: nothing is lost when another branch of a `select!` wins.
    pub async fn arrived(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(rd) => loop {
                rd.readable().await?;
                match rd.try_read_buf(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    read => return read,
                }
            },
            // rustls answers a session ticket itself: only application data ends this read.
            ReadHalf::Tls(rd) => rd.read_buf(buf).await,
        }
    }
}

impl AsyncRead for UpstreamConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamConn::Plain(c) => Pin::new(c).poll_read(cx, buf),
            UpstreamConn::Tls(s) => Pin::new(&mut s.stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamConn::Plain(c) => Pin::new(c).poll_write(cx, buf),
            UpstreamConn::Tls(s) => Pin::new(&mut s.stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamConn::Plain(c) => Pin::new(c).poll_write_vectored(cx, bufs),
            UpstreamConn::Tls(s) => Pin::new(&mut s.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// A plain connection has nothing to flush; TLS may hold records rustls has not written.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamConn::Plain(c) => Pin::new(c).poll_flush(cx),
            UpstreamConn::Tls(s) => Pin::new(&mut s.stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamConn::Plain(c) => Pin::new(c).poll_shutdown(cx),
            UpstreamConn::Tls(s) => Pin::new(&mut s.stream).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Plain(r) => Pin::new(r).poll_read(cx, buf),
            ReadHalf::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write(cx, buf),
            WriteHalf::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            WriteHalf::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_flush(cx),
            WriteHalf::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_shutdown(cx),
            WriteHalf::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
