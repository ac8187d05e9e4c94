//! HTTP/1.1 bytes the express lane writes: header lines, the `Date`, and whole answers of the
//! gateway's own (the same headers as pingora's path writes: `respond::own_headers`).

use crate::config::Language;
use crate::gateway::respond::{self, Marker};
use http::HeaderValue;

pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `Date` header, from pingora's once-a-second cache.
pub fn date(out: &mut Vec<u8>) {
    header(out, b"date", pingora::protocols::http::date::get_cached_date().as_bytes());
}

/// The status line.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(respond::decimal(u64::from(status), &mut digits));
    out.push(b' ');
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One of the gateway's own pages.
#[derive(Debug)]
pub struct Own<'a> {
    pub status: u16,
    pub format: usize,
    pub lang: Language,
    pub marker: Marker,
    pub request_id: &'a str,
    pub retry_after: Option<&'a HeaderValue>,
    pub generation: u64,
    pub body: &'a [u8],
    /// A `HEAD` request: the headers only.
    pub head_request: bool,
    pub keep_alive: bool,
}

/// Appends a whole answer of the gateway's own to `out`.
pub fn own(out: &mut Vec<u8>, a: &Own<'_>) {
    status_line(out, a.status);
    respond::own_headers(a.format, Some(a.lang), a.body.len(), a.marker, a.request_id, a.retry_after, &mut |n, v| {
        header(out, n.as_str().as_bytes(), v.as_bytes())
    });
    let mut digits = [0u8; 20];
    header(out, respond::X_HIATUS_GENERATION.as_str().as_bytes(), respond::decimal(a.generation, &mut digits));
    date(out);
    header(out, b"connection", if a.keep_alive { b"keep-alive" } else { b"close" });
    out.extend_from_slice(b"\r\n");
    if !a.head_request {
        out.extend_from_slice(a.body);
    }
}
