//! Answers the gateway gives itself ([`Answer`]): maintenance and failure pages, unknown hosts,
//! bad requests, the status page, assets, the bypass redirect.
//!
//! Owns the response fields of each kind (status, `Retry-After`, `Cache-Control`, `Vary`,
//! `Content-Language`, the `X-Hiatus-*` markers that tell maintenance from failure), handed to
//! a lane one by one ([`fields`]): the HTTP/1.1 lane writes them as bytes (`http1::wire`), the
//! h2c lane into a header map ([`header`]). The same answer has the same fields on both.
//!
//! Every answer of ours carries the same protective fields ([`CONTENT_SECURITY_POLICY`],
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`): our pages take their
//! styles, script and logo from `/.hiatus/` and nothing else. A proxied response gets none of
//! them (the origin decides its own). `x-hiatus-generation` is written only when `[gateway]
//! expose_generation` is on: the number of reloads is the operator's business.

use crate::config::Language;
use crate::pages::Failure;
use crate::telemetry::Outcome;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use std::sync::Arc;

/// Response formats: `[html, json]` index.
pub use crate::compiled::pages::{HTML, JSON};
const CONTENT_TYPES: [&str; 2] = ["text/html; charset=utf-8", "application/problem+json"];

/// How a response of the gateway's own is marked (`X-Hiatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Maintenance,
    Failure(Failure),
    UnknownHost,
    BadRequest,
    /// The status page and its feeds.
    Status,
    /// Anything else of the gateway's (assets, the bypass redirect, `/.hiatus/` 404).
    Own,
}

impl Marker {
    fn label(self) -> &'static str {
        match self {
            Marker::Maintenance => "maintenance",
            Marker::Failure(_) => "upstream-error",
            Marker::UnknownHost => "unknown-host",
            Marker::BadRequest => "bad-request",
            Marker::Status => "status",
            Marker::Own => "gateway",
        }
    }
}

/// One answer of the gateway's own, ready for either lane to write.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub outcome: Outcome,
    pub marker: Marker,
    pub content_type: &'static str,
    pub lang: Option<Language>,
    pub cache_control: &'static str,
    pub vary: Option<&'static str>,
    pub retry_after: Option<HeaderValue>,
    /// Fields of rarer answers: a redirect's `Location`, a cookie, validators.
    pub extra: Extra,
    pub body: Bytes,
}

/// The further fields of an [`Answer`]: none costs no allocation, and a clone (a status-cache
/// hit) shares them, one count, instead of copying a list per request.
#[derive(Debug, Clone, Default)]
pub struct Extra(Option<Arc<Vec<(HeaderName, HeaderValue)>>>);

impl Extra {
    pub fn push(&mut self, name: HeaderName, value: HeaderValue) {
        Arc::make_mut(self.0.get_or_insert_with(Default::default)).push((name, value));
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter().flat_map(|v| v.iter())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Replaces every value of `name` (copies a shared list first).
    pub fn set(&mut self, name: &HeaderName, value: HeaderValue) {
        if let Some(list) = self.0.as_mut() {
            for (_, v) in Arc::make_mut(list).iter_mut().filter(|(n, _)| n == name) {
                *v = value.clone();
            }
        }
    }
}

impl From<Vec<(HeaderName, HeaderValue)>> for Extra {
    fn from(list: Vec<(HeaderName, HeaderValue)>) -> Extra {
        Extra((!list.is_empty()).then(|| Arc::new(list)))
    }
}

impl Answer {
    /// A page (maintenance, failure, unknown host, bad request) in `format`.
    pub fn page(status: u16, outcome: Outcome, marker: Marker, format: usize, lang: Language, body: Bytes) -> Answer {
        Answer {
            status,
            outcome,
            marker,
            content_type: CONTENT_TYPES[format.min(1)],
            lang: Some(lang),
            cache_control: "no-store",
            vary: Some("Accept, Accept-Language"),
            retry_after: None,
            extra: Extra::default(),
            body,
        }
    }

    /// A short plain-text answer for a request that cannot be read well enough for a page (a
    /// head too large or too slow, a framing the gateway refuses): nothing of it is trusted,
    /// not even its tenant.
    pub fn plain(status: u16, text: &'static str) -> Answer {
        Answer {
            status,
            outcome: Outcome::BadRequest,
            marker: Marker::BadRequest,
            content_type: "text/plain; charset=utf-8",
            lang: None,
            cache_control: "no-store",
            vary: None,
            retry_after: None,
            extra: Extra::default(),
            body: Bytes::from_static(text.as_bytes()),
        }
    }
}

/// A header value of one of our own answers: constant text, or bytes of this response.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
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

/// The fields of an answer, handed to `put` one by one: the same set whichever lane writes them.
/// `generation`: `Some` when `[gateway] expose_generation` is on. `hsts`: the tenant's
/// `Strict-Transport-Security`, on an answer over TLS.
pub fn fields(
    a: &Answer,
    request_id: &[u8],
    generation: Option<u64>,
    hsts: Option<&HeaderValue>,
    put: &mut dyn FnMut(&HeaderName, Value<'_>),
) {
    use http::header;
    put(&header::CONTENT_TYPE, Value::Static(a.content_type));
    let mut digits = [0u8; 20];
    // A 304 has no content, and its Content-Length would have to be the 200's (RFC 9110 §8.6).
    if a.status != 304 {
        put(&header::CONTENT_LENGTH, Value::Bytes(decimal(a.body.len() as u64, &mut digits)));
    }
    put(&header::CACHE_CONTROL, Value::Static(a.cache_control));
    if let Some(v) = a.vary {
        put(&header::VARY, Value::Static(v));
    }
    if let Some(l) = a.lang {
        put(&header::CONTENT_LANGUAGE, Value::Static(l.code()));
    }
    if let Some(r) = &a.retry_after {
        put(&header::RETRY_AFTER, Value::Header(r));
    }
    for (name, value) in a.extra.iter() {
        put(name, Value::Header(value));
    }
    put(&header::CONTENT_SECURITY_POLICY, Value::Static(CONTENT_SECURITY_POLICY));
    put(&header::X_CONTENT_TYPE_OPTIONS, Value::Static("nosniff"));
    put(&header::REFERRER_POLICY, Value::Static("no-referrer"));
    if let Some(v) = hsts {
        put(&header::STRICT_TRANSPORT_SECURITY, Value::Header(v));
    }
    put(&X_HIATUS, Value::Static(a.marker.label()));
    if let Marker::Failure(f) = a.marker {
        put(&X_HIATUS_FAILURE, Value::Static(f.code()));
    }
    put(&X_REQUEST_ID, Value::Bytes(request_id));
    if let Some(g) = generation {
        put(&X_HIATUS_GENERATION, Value::Bytes(decimal(g, &mut digits)));
    }
}

/// What our pages may load: styles, script and images from this host's `/.hiatus/` (the
/// built-in pages have no inline script or style), nothing else; no framing (a maintenance page
/// in someone's frame is a clickjacking target), no forms, no `<base>`. Overriding templates
/// must follow it too (README, "Pages").
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
    img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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

/// The response head of an answer as a header map, for the h2c lane (pingora's HTTP/2 session
/// adds `Date`).
pub fn header(
    a: &Answer,
    request_id: &[u8],
    generation: Option<u64>,
    hsts: Option<&HeaderValue>,
) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build_no_case(a.status, Some(16))?;
    let mut failed = None;
    fields(a, request_id, generation, hsts, &mut |name, value| {
        let value = match value {
            Value::Static(s) => Ok(HeaderValue::from_static(s)),
            Value::Header(v) => Ok(v.clone()),
            Value::Bytes(b) => HeaderValue::from_bytes(b),
        };
        let inserted = value
            .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "header value", e))
            .and_then(|mut v| {
                // Unique per response: never worth a place in HPACK's table (`record`).
                v.set_sensitive(*name == X_REQUEST_ID);
                h.append_header(name.clone(), v).map(|_| ())
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
