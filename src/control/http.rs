//! A minimal HTTP/1.1 server side for the admin listener and the demo origin: read one request
//! head at a time (bounded), answer with a complete response, keep the connection.
//!
//! Not a general server: no chunked bodies, no pipelining beyond sequential requests. The data
//! path is the gateway's own; this only serves a handful of operator endpoints and the demo.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A request head.
#[derive(Debug, Default)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn wants_close(&self) -> bool {
        self.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

const MAX_HEADERS: usize = 100;
const MAX_LINE: usize = 8 * 1024;

/// Reads the next request head and discards its body; `None` at end of stream or on garbage.
pub async fn read_request<R: AsyncBufRead + Unpin>(read: &mut R) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    let mut req = Request::default();
    loop {
        line.clear();
        let n = (&mut *read).take(MAX_LINE as u64).read_line(&mut line).await?;
        if n == 0 || (n == MAX_LINE && !line.ends_with('\n')) {
            return Ok(None);
        }
        let text = line.trim_end();
        if text.is_empty() {
            if req.method.is_empty() {
                continue; // tolerate stray blank lines between requests
            }
            break;
        }
        if req.method.is_empty() {
            let mut parts = text.split(' ');
            req.method = parts.next().unwrap_or("").to_string();
            req.target = parts.next().unwrap_or("").to_string();
        } else if let Some((k, v)) = text.split_once(':') {
            if req.headers.len() >= MAX_HEADERS {
                return Ok(None);
            }
            req.headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if let Some(len) = req.header("content-length").and_then(|l| l.parse::<u64>().ok()) {
        let mut body = (&mut *read).take(len.min(1 << 20));
        tokio::io::copy(&mut body, &mut tokio::io::sink()).await?;
    }
    Ok(Some(req))
}

/// Writes a complete response with a `Content-Length`; `head_only` (the answer to `HEAD`):
/// the head says the body's length, and the body is left out.
pub async fn respond<W: AsyncWrite + Unpin>(
    write: &mut W,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    head_only: bool,
    close: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Content",
        503 => "Service Unavailable",
        _ => "",
    };
    let mut head =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    // One write: a head and a body sent apart meet Nagle and the peer's delayed ACK (40 ms).
    let mut out = head.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    write.write_all(&out).await?;
    // A pingora stream buffers writes until flushed.
    write.flush().await
}
