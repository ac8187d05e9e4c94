//! Answers the gateway gives itself: maintenance pages, failure pages, unknown hosts, assets.
//!
//! Owns the response headers of each kind (status, `Retry-After`, `Cache-Control`, `Vary`,
//! `Content-Language`, the `X-Hiatus-*` markers that tell maintenance from failure) and the
//! per-tenant page cache: a page is rendered the first time a (block, language, format) is
//! asked for and then served as shared bytes until the block changes. Writing to the socket
//! is one function, [`write()`], which keeps keep-alive (no `respond_error`, PINGORA-NOTES).

use crate::config::Language;
use crate::pages::Failure;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// Response formats: `[html, json]` index.
pub const HTML: usize = 0;
pub const JSON: usize = 1;
const CONTENT_TYPES: [&str; 2] = ["text/html; charset=utf-8", "application/problem+json"];

/// How a response of the gateway's own is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Maintenance,
    Failure(Failure),
    UnknownHost,
    BadRequest,
    Own,
}

/// A header value of one of our own answers: constant text, or bytes of this response.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Known at compile time: pingora's path takes it without a copy.
    Static(&'static str),
    Bytes(&'a [u8]),
    Header(&'a HeaderValue),
}

impl Value<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Value::Static(s) => s.as_bytes(),
            Value::Bytes(b) => b,
            Value::Header(h) => h.as_bytes(),
        }
    }
}

/// The headers of one of the gateway's own answers, handed to `put` one by one: the same set
/// whether pingora writes them ([`header`]) or the express lane does (`express::wire`).
#[allow(clippy::too_many_arguments)]
pub fn own_headers(
    format: usize,
    lang: Option<Language>,
    body_len: usize,
    marker: Marker,
    request_id: &str,
    retry_after: Option<&HeaderValue>,
    put: &mut dyn FnMut(&HeaderName, Value<'_>),
) {
    use http::header;
    put(&header::CONTENT_TYPE, Value::Static(CONTENT_TYPES[format.min(1)]));
    let mut digits = [0u8; 20];
    put(&header::CONTENT_LENGTH, Value::Bytes(decimal(body_len as u64, &mut digits)));
    put(&header::CACHE_CONTROL, Value::Static("no-store"));
    put(&header::VARY, Value::Static("Accept, Accept-Language"));
    if let Some(l) = lang {
        put(&header::CONTENT_LANGUAGE, Value::Static(l.code()));
    }
    if let Some(r) = retry_after {
        put(&header::RETRY_AFTER, Value::Header(r));
    }
    let decision = match marker {
        Marker::Maintenance => "maintenance",
        Marker::Failure(_) => "upstream-error",
        Marker::UnknownHost => "unknown-host",
        Marker::BadRequest => "bad-request",
        Marker::Own => "gateway",
    };
    put(&X_HIATUS, Value::Static(decision));
    if let Marker::Failure(f) = marker {
        put(&X_HIATUS_FAILURE, Value::Static(f.code()));
    }
    put(&X_REQUEST_ID, Value::Bytes(request_id.as_bytes()));
}

/// `n` in decimal, written into the end of `buf` (no allocation).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Builds the response header for one of the gateway's own answers (pingora's path).
pub fn header(
    status: u16,
    format: usize,
    lang: Option<Language>,
    body_len: usize,
    marker: Marker,
    request_id: &str,
    retry_after: Option<&HeaderValue>,
) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build_no_case(status, Some(10))?;
    let mut failed = None;
    own_headers(format, lang, body_len, marker, request_id, retry_after, &mut |name, value| {
        let value = match value {
            Value::Static(s) => Ok(HeaderValue::from_static(s)),
            Value::Header(v) => Ok(v.clone()),
            Value::Bytes(b) => HeaderValue::from_bytes(b),
        };
        let inserted = value
            .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "header value", e))
            .and_then(|mut v| {
                // Unique per response: never worth a place in HPACK's table (see proxy.rs).
                v.set_sensitive(*name == X_REQUEST_ID);
                h.insert_header(name.clone(), v)
            });
        if let Err(e) = inserted {
            failed.get_or_insert(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(h),
    }
}

pub const X_HIATUS: HeaderName = HeaderName::from_static("x-hiatus");
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_HIATUS_GENERATION: HeaderName = HeaderName::from_static("x-hiatus-generation");
pub const X_HIATUS_FAILURE: HeaderName = HeaderName::from_static("x-hiatus-failure");

/// Writes a complete response; a HEAD request gets the headers only (h2 does not strip bodies).
pub async fn write(session: &mut Session, header: ResponseHeader, body: Bytes) -> pingora::Result<()> {
    let head = session.req_header().method == http::Method::HEAD;
    // A request body nobody read would make pingora close the connection: drain it instead.
    session.set_close_on_response_before_downstream_finish(false);
    session.write_response_header(Box::new(header), false).await?;
    session.write_response_body(if head { None } else { Some(body) }, true).await?;
    Ok(())
}
