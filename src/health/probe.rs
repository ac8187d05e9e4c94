//! One probe of one upstream: a TCP connect, or a minimal HTTP/1.1 GET, bounded by a timeout;
//! over TLS to a TLS upstream (the handshake and its certificate check are part of the probe).
//!
//! Owns the wire side of a check and its failure ([`ProbeError`]): the kind of trouble (a
//! [`Cause`], which public pages may show) and the plain words of what happened ("connection
//! refused", "answered 500, expected 200"), which only logs and the admin listener show. It does
//! not count results (`state`) nor decide when to probe (the loop in `control::prober`).

use super::cause::Cause;
use crate::config::health::HealthProbe;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// The most of an answer read to find its status line.
const STATUS_LINE_MAX: usize = 1024;

/// Why a probe failed: its kind, and in plain words what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ProbeError {
    pub cause: Cause,
    /// For logs and the admin listener only: may name addresses and carry OS or resolver texts.
    pub detail: String,
}

impl ProbeError {
    pub fn new(cause: Cause, detail: impl Into<String>) -> ProbeError {
        ProbeError { cause, detail: detail.into() }
    }
}

/// TLS towards a probed upstream: whom to trust, and the name to send and verify.
pub type ProbeTls = (Arc<ClientConfig>, ServerName<'static>);

/// Probes `addr` over plain TCP; `Err` says why it failed. Takes at most `limit`.
pub async fn probe(addr: SocketAddr, probe: &HealthProbe, host: &str, limit: Duration) -> Result<(), ProbeError> {
    probe_with(addr, probe, host, limit, None).await
}

/// Probes `addr`, over TLS when `tls` says so; `Err` says why it failed. Takes at most `limit`.
pub async fn probe_with(
    addr: SocketAddr,
    probe: &HealthProbe,
    host: &str,
    limit: Duration,
    tls: Option<ProbeTls>,
) -> Result<(), ProbeError> {
    let deadline = Instant::now() + limit;
    let stream = connect(addr, deadline, limit).await?;
    match tls {
        None => after_connect(stream, probe, host, deadline, limit).await,
        Some((trust, name)) => {
            let connector = tokio_rustls::TlsConnector::from(trust);
            let stream = match timeout_at(deadline, connector.connect(name, stream)).await {
                Err(_) => {
                    return Err(ProbeError::new(Cause::Timeout, format!("no TLS handshake within {}", show(limit))))
                }
                // Reached, but no trusted connection: the upstream is there and misbehaves.
                Ok(Err(e)) => return Err(ProbeError::new(Cause::Errors, tls_words(&e))),
                Ok(Ok(s)) => s,
            };
            after_connect(stream, probe, host, deadline, limit).await
        }
    }
}

/// The TLS failure in full, for the log and the admin listener.
fn tls_words(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => format!("TLS: {tls}"),
        None => format!("TLS handshake: {}", io_words(e)),
    }
}

async fn connect(addr: SocketAddr, deadline: Instant, limit: Duration) -> Result<TcpStream, ProbeError> {
    let within = show(limit);
    match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => Err(ProbeError::new(Cause::Timeout, format!("no connection within {within}"))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => Err(ProbeError::new(Cause::Timeout, io_words(&e))),
        // Whatever else stops a connect (refused, no route, unreachable network): not reached.
        Ok(Err(e)) => Err(ProbeError::new(Cause::Unreachable, io_words(&e))),
        Ok(Ok(s)) => Ok(s),
    }
}

/// The HTTP part of a probe, on a connected stream (plain or TLS).
async fn after_connect<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    probe: &HealthProbe,
    host: &str,
    deadline: Instant,
    limit: Duration,
) -> Result<(), ProbeError> {
    let within = show(limit);
    let HealthProbe::Http { path, expect } = probe else { return Ok(()) };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hiatus-health/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let status = match timeout_at(deadline, exchange(&mut stream, request.as_bytes())).await {
        Err(_) => return Err(ProbeError::new(Cause::Timeout, format!("no answer within {within}"))),
        // Connected, then the exchange went wrong: the upstream is there but misbehaves.
        Ok(r) => r.map_err(|detail| ProbeError::new(Cause::Errors, detail))?,
    };
    if status == *expect {
        Ok(())
    } else {
        Err(ProbeError::new(Cause::Errors, format!("answered {status}, expected {expect}")))
    }
}

/// Sends the request and reads the status code of the answer; `Err` says in plain words why not.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> Result<u16, String> {
    stream.write_all(request).await.map_err(|e| io_words(&e))?;
    stream.flush().await.map_err(|e| io_words(&e))?;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 256];
    let line_end = loop {
        if let Some(i) = buf.iter().position(|b| *b == b'\n') {
            break i;
        }
        if buf.len() >= STATUS_LINE_MAX {
            return Err("answered with something that is not HTTP".to_string());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| io_words(&e))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "closed the connection without an answer".to_string()
            } else {
                "closed the connection in the middle of the answer".to_string()
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    status_of(&buf[..line_end]).ok_or_else(|| "answered with something that is not HTTP".to_string())
}

/// `HTTP/1.1 200 OK` → 200.
fn status_of(line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut words = line.split(' ');
    let version = words.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..=599).contains(c))
}

fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".to_string(),
        ConnectionReset => "connection reset".to_string(),
        ConnectionAborted => "connection aborted".to_string(),
        BrokenPipe => "connection closed while sending the probe".to_string(),
        _ => e.to_string(),
    }
}

/// `2s`, `150ms`: how long a probe was given, in the words of the configuration.
fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let cases: [(&[u8], Option<u16>); 7] = [
            (b"HTTP/1.1 200 OK\r", Some(200)),
            (b"HTTP/1.0 503 Service Unavailable", Some(503)),
            (b"HTTP/1.1 204", Some(204)),
            (b"HTTP/2 200", None),
            (b"NONSENSE 999 <html>", None),
            (b"HTTP/1.1 2000 OK", None),
            (b"HTTP/1.1 099 Early", None),
        ];
        for (line, status) in cases {
            assert_eq!(status_of(line), status, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn durations_read_like_the_config() {
        assert_eq!(show(Duration::from_secs(2)), "2s");
        assert_eq!(show(Duration::from_millis(150)), "150ms");
    }
}
