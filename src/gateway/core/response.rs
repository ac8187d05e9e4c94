//! The upstream's response head and what the gateway makes of it: one policy for both lanes.
//!
//! - Limits: at most [`MAX_RESPONSE_HEAD`] bytes and [`MAX_RESPONSE_HEADERS`] fields, else the
//!   answer is a bad response (502).
//! - Framing (RFC 9112 §6.3): no body for `HEAD`, 1xx, 204, 304; `Transfer-Encoding` ending in
//!   `chunked` is chunked, any other coding close-delimited; else `Content-Length` (digits only,
//!   one field: `+5`, `5, 5` or two fields are a bad response, as nginx says); else until the
//!   upstream closes.
//! - Reuse: the upstream connection is kept only when the response was framed exactly and the
//!   origin is not confused: HTTP/1.1, no `Connection: close`, no `Transfer-Encoding` beside a
//!   `Content-Length`, not an answer to `HEAD` (an origin that sends a body on `HEAD` — Python's
//!   `http.server` with `do_HEAD = do_GET` does, in a second write — would leave it for the
//!   next exchange, maybe another tenant's), no 204 that announces a body (nor a 304 with a
//!   transfer coding; a 304's `Content-Length` is the representation's), no `Connection`
//!   that names the framing fields. What is still unread when a connection is parked, or
//!   arrives while it idles, is caught by the pool (`pool::take`).
//! - `101 Switching Protocols` only when the client asked to upgrade (a WebSocket); otherwise a
//!   bad response.
//! - The client's head: the relayed fields (all but hop-by-hop ones, every field the upstream's
//!   `Connection` names, and the markers only the gateway may set), the framing the gateway
//!   sends (written by the gateway, never copied), our markers; as HTTP/1.1 bytes or as an
//!   HTTP/2 header map ([`ClientHead`]), from the one parse.

use super::fields::name_is;
use crate::gateway::http1::wire;
use crate::gateway::record::{request_id_value, RequestId};
use crate::gateway::respond::{self, decimal};
use pingora::http::ResponseHeader;

/// Largest upstream response head.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Most fields in an upstream response head.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the upstream closes: the client's connection closes after it too (HTTP/1.1).
    Close,
}

/// What the request asked of the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked {
    pub head_request: bool,
    /// The client asked to upgrade to a WebSocket (HTTP/1.1 only).
    pub upgrade: bool,
}

/// A response head, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head; the body (or the next interim head) follows.
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The upstream connection may be parked after the body.
    pub reusable: bool,
}

/// The upstream's head is not one the gateway relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadResponse(pub &'static str);

/// The gateway's own fields on a relayed response.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub request_id: &'a RequestId,
    /// `Some` when `[gateway] expose_generation` is on.
    pub generation: Option<u64>,
    /// The client's connection may stay after this response (HTTP/1.1 lane).
    pub keep_alive: bool,
    /// The client speaks HTTP/1.0: no chunked framing for it (the body is de-chunked and the
    /// connection closes after it).
    pub http10: bool,
    /// The tenant's `Strict-Transport-Security` over TLS: it replaces the upstream's.
    pub hsts: Option<&'a http::HeaderValue>,
}

/// The client's response head, made from the same parse as the exchange's own reading of it.
#[derive(Debug)]
pub enum ClientHead<'o> {
    /// HTTP/1.1: the head's bytes.
    H1(&'o mut Vec<u8>),
    /// HTTP/2: the fields, for pingora's HTTP/2 session.
    H2(&'o mut Option<ResponseHeader>),
}

impl ClientHead<'_> {
    pub fn reborrow(&mut self) -> ClientHead<'_> {
        match self {
            ClientHead::H1(out) => ClientHead::H1(out),
            ClientHead::H2(out) => ClientHead::H2(out),
        }
    }
}

/// The framing fields as the upstream sent them.
#[derive(Debug, Clone, Copy, Default)]
struct Framed<'h> {
    length: Option<u64>,
    /// `Transfer-Encoding` present, and whether its last coding is `chunked`.
    coded: bool,
    chunked: bool,
    close: bool,
    /// `Connection` names `Content-Length` or `Transfer-Encoding`.
    names_framing: bool,
    /// The `Upgrade` value (relayed only on a 101).
    upgrade: Option<&'h [u8]>,
}

/// Reads the framing fields; a bad response when `Content-Length` is not one plain number.
fn framed<'h>(headers: &[httparse::Header<'h>]) -> Result<Framed<'h>, BadResponse> {
    let mut f = Framed::default();
    for h in headers {
        let name = h.name.as_bytes();
        // The length first: most fields are none of these, and it rules them out at once.
        match name.len() {
            14 if name_is(name, b"content-length") => {
                if f.length.is_some() {
                    return Err(BadResponse("more than one Content-Length"));
                }
                f.length =
                    Some(digits(h.value.trim_ascii()).ok_or(BadResponse("a Content-Length that is not a number"))?);
            }
            17 if name_is(name, b"transfer-encoding") => {
                f.coded = true;
                f.chunked = h
                    .value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            10 if name_is(name, b"connection") => {
                for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    f.close |= token.eq_ignore_ascii_case(b"close");
                    f.names_framing |= token.eq_ignore_ascii_case(b"content-length")
                        || token.eq_ignore_ascii_case(b"transfer-encoding");
                }
            }
            7 if name_is(name, b"upgrade") => f.upgrade = Some(h.value),
            _ => {}
        }
    }
    Ok(f)
}

/// A plain decimal number (RFC 9110 §8.6: `1*DIGIT`), at most 18 digits so it fits a u64.
pub fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Parses the response head at the start of `buf`: `Ok(None)` until it is complete. A final
/// head (status ≥ 200, or an asked-for 101) is also written as the client's head.
pub fn parse(
    buf: &[u8],
    asked: Asked,
    client: Option<(ClientHead<'_>, &Stamp<'_>)>,
) -> Result<Option<Head>, BadResponse> {
    // Uninitialised slots: httparse writes the ones it uses (3 KiB not zeroed per response).
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_RESPONSE_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(BadResponse("a response head over 64 KiB")),
        Err(httparse::Error::TooManyHeaders) => return Err(BadResponse("more than 100 response fields")),
        Err(_) => return Err(BadResponse("a response head that is not HTTP/1.x")),
    };
    if len > MAX_RESPONSE_HEAD {
        return Err(BadResponse("a response head over 64 KiB"));
    }
    let status = resp.code.ok_or(BadResponse("no status"))?;
    if !(100..=599).contains(&status) {
        return Err(BadResponse("a status outside 100-599"));
    }
    let f = framed(resp.headers)?;
    if status == 101 {
        if !asked.upgrade || f.upgrade.is_none() {
            // Nothing asked to switch protocols (or the answer does not say to what).
            return Err(BadResponse("an unrequested 101 Switching Protocols"));
        }
    } else if status < 200 {
        // 100 Continue, 103 Early Hints: not forwarded; the final head follows.
        return Ok(Some(Head { len, status, framing: Framing::None, reusable: true }));
    }
    let bodiless = asked.head_request || status == 101 || status == 204 || status == 304;
    let framing = if bodiless {
        Framing::None
    } else if f.coded {
        if f.chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match f.length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    // A 204 that announces a body, or a 304 with a transfer coding, may well send one after its
    // head (a 304's `Content-Length` is the representation's, RFC 9110 §8.6: nothing follows).
    let announces_body = (status == 204 && (f.coded || f.length.is_some_and(|n| n > 0))) || (status == 304 && f.coded);
    let confused = f.close || (f.coded && f.length.is_some()) || f.names_framing || announces_body;
    let reusable =
        resp.version == Some(1) && !confused && !asked.head_request && status != 101 && framing != Framing::Close;
    if let Some((client, stamp)) = client {
        match client {
            ClientHead::H1(out) => {
                out.clear();
                client_head(&resp, status, framing, &f, out, stamp);
            }
            ClientHead::H2(out) => *out = Some(h2_head(&buf[..len], &resp, status, framing, &f, stamp)?),
        }
    }
    Ok(Some(Head { len, status, framing, reusable }))
}

/// Writes the client's HTTP/1.1 response head into `out`.
fn client_head(
    resp: &httparse::Response<'_, '_>,
    status: u16,
    framing: Framing,
    f: &Framed<'_>,
    out: &mut Vec<u8>,
    stamp: &Stamp<'_>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(u64::from(status), &mut digits));
    out.push(b' ');
    let reason = resp.reason.filter(|r| !r.is_empty());
    let canonical = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.or(canonical).unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    let dated = relayed_fields(resp.headers, &mut |name, value| {
        if !(stamp.hsts.is_some() && name_is(name, b"strict-transport-security")) {
            wire::header(out, name, value);
        }
    });
    if !dated {
        wire::date(out);
    }
    if let Some(v) = stamp.hsts {
        wire::header(out, b"strict-transport-security", v.as_bytes());
    }
    wire::header(out, b"x-hiatus", b"proxied");
    wire::header(out, b"x-request-id", stamp.request_id.bytes());
    if let Some(g) = stamp.generation {
        wire::header(out, b"x-hiatus-generation", decimal(g, &mut digits));
    }
    let keep_alive = match framing {
        Framing::Length(n) => {
            wire::header(out, b"content-length", decimal(n, &mut digits));
            stamp.keep_alive
        }
        // An HTTP/1.0 client gets the data de-chunked, delimited by the close.
        Framing::Chunked if stamp.http10 => false,
        Framing::Chunked => {
            wire::header(out, b"transfer-encoding", b"chunked");
            stamp.keep_alive
        }
        Framing::Close => false,
        Framing::None => {
            // HEAD and 304 may say how long the body would be; 1xx and 204 have none.
            if let (Some(n), true) = (f.length, status != 204 && status >= 200) {
                wire::header(out, b"content-length", decimal(n, &mut digits));
            }
            stamp.keep_alive
        }
    };
    if status == 101 {
        wire::header(out, b"connection", b"upgrade");
        wire::header(out, b"upgrade", f.upgrade.unwrap_or_default());
    } else {
        wire::header(out, b"connection", if keep_alive { b"keep-alive" } else { b"close" });
    }
    out.extend_from_slice(b"\r\n");
}

/// Hands the upstream's response fields that go on to the client to `put`: all but hop-by-hop
/// ones (RFC 9110 §7.6.1: `Connection` and the fields it names, `Keep-Alive`,
/// `Proxy-Connection`, `Proxy-Authenticate`, `TE`, `Trailer`, `Upgrade`), the framing fields
/// (the gateway writes its own) and the markers only the gateway may set. `true` when a `Date`
/// is among them.
pub fn relayed_fields<F: FnMut(&[u8], &[u8]) + ?Sized>(headers: &[httparse::Header<'_>], put: &mut F) -> bool {
    let mut named: [&[u8]; 16] = [b""; 16];
    let mut named_len = 0;
    for h in headers.iter().filter(|h| name_is(h.name.as_bytes(), b"connection")) {
        for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            let plain =
                token.is_empty() || token.eq_ignore_ascii_case(b"keep-alive") || token.eq_ignore_ascii_case(b"close");
            if !plain && named_len < named.len() {
                named[named_len] = token;
                named_len += 1;
            }
        }
    }
    let named = &named[..named_len];
    let mut dated = false;
    for h in headers {
        let name = h.name.as_bytes();
        let skip = match name.len() {
            2 => name_is(name, b"te"),
            4 => {
                dated |= name_is(name, b"date");
                false
            }
            7 => name_is(name, b"upgrade") || name_is(name, b"trailer"),
            8 => name_is(name, b"x-hiatus"),
            10 => name_is(name, b"connection") || name_is(name, b"keep-alive"),
            12 => name_is(name, b"x-request-id"),
            14 => name_is(name, b"content-length"),
            16 => name_is(name, b"x-hiatus-failure") || name_is(name, b"proxy-connection"),
            17 => name_is(name, b"transfer-encoding"),
            18 => name_is(name, b"proxy-authenticate"),
            19 => name_is(name, b"x-hiatus-generation"),
            _ => false,
        } || named.iter().any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name));
        if !skip {
            put(name, h.value);
        }
    }
    dated
}

/// The client's response head for HTTP/2: the relayed fields and our markers, in a header map
/// made directly (pingora's `insert_header` would convert every name again). Pingora's session
/// adds `Date`. A field HTTP/2 cannot carry makes it a bad response.
///
/// The values are slices of one copy of the upstream's head (`head`, which `resp` was parsed
/// from) rather than an allocation each.
fn h2_head(
    head: &[u8],
    resp: &httparse::Response<'_, '_>,
    status: u16,
    framing: Framing,
    f: &Framed<'_>,
    stamp: &Stamp<'_>,
) -> Result<ResponseHeader, BadResponse> {
    use http::header::{HeaderName, HeaderValue};
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = http::StatusCode::from_u16(status).map_err(|_| BadResponse("a status HTTP/2 cannot carry"))?;
    let fields = &mut parts.headers;
    fields.reserve(resp.headers.len() + 4);
    let shared = bytes::Bytes::copy_from_slice(head);
    // Where a value lies in `head` (every value httparse gives is a slice of it).
    let at = |v: &[u8]| (v.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    let mut broken = false;
    relayed_fields(resp.headers, &mut |name, value| {
        if stamp.hsts.is_some() && name_is(name, b"strict-transport-security") {
            return;
        }
        let start = at(value);
        let value = match start.checked_add(value.len()) {
            _ if value.is_empty() => Some(bytes::Bytes::new()),
            Some(end) if end <= shared.len() => Some(shared.slice(start..end)),
            _ => None,
        };
        match (HeaderName::from_bytes(name), value.map(HeaderValue::from_maybe_shared)) {
            (Ok(n), Some(Ok(v))) => {
                fields.append(n, v);
            }
            _ => broken = true,
        }
    });
    if broken {
        return Err(BadResponse("a response field HTTP/2 cannot carry"));
    }
    let length = match framing {
        Framing::Length(n) => Some(n),
        Framing::None if status != 204 => f.length,
        _ => None,
    };
    if let Some(n) = length {
        fields.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Some(v) = stamp.hsts {
        fields.insert(http::header::STRICT_TRANSPORT_SECURITY, v.clone());
    }
    fields.insert(respond::X_HIATUS, HeaderValue::from_static("proxied"));
    fields.insert(respond::X_REQUEST_ID, request_id_value(stamp.request_id));
    if let Some(g) = stamp.generation {
        fields.insert(respond::X_HIATUS_GENERATION, HeaderValue::from(g));
    }
    Ok(ResponseHeader::from(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head_of(text: &str, asked: Asked) -> Result<Option<Head>, BadResponse> {
        parse(text.as_bytes(), asked, None)
    }

    #[test]
    fn framing_and_reuse_follow_the_policy() {
        let get = Asked::default();
        let head = Asked { head_request: true, upgrade: false };
        let cases: [(&str, Asked, Framing, bool); 13] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", get, Framing::Length(5), true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head, Framing::None, false),
            ("HTTP/1.1 204 No Content\r\n\r\n", get, Framing::None, true),
            ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", get, Framing::None, false),
            ("HTTP/1.1 304 Not Modified\r\n\r\n", get, Framing::None, true),
            ("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", get, Framing::None, true),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
                get,
                Framing::Chunked,
                false,
            ),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", get, Framing::Chunked, true),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", get, Framing::Close, false),
            ("HTTP/1.1 200 OK\r\n\r\n", get, Framing::Close, false),
            ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", get, Framing::Length(1), false),
            (
                "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 1\r\n\r\n",
                get,
                Framing::Length(1),
                false,
            ),
            ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", get, Framing::Length(1), false),
        ];
        for (text, asked, framing, reusable) in cases {
            let h = head_of(text, asked)
                .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
                .unwrap_or_else(|| panic!("{text:?}: partial"));
            assert_eq!((h.len, h.framing, h.reusable), (text.len(), framing, reusable), "{text:?}");
        }
    }

    #[test]
    fn broken_framing_and_unrequested_upgrades_are_bad_responses() {
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 099 Odd\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert!(head_of(text, Asked::default()).is_err(), "{text:?}");
        }
        let upgrade = Asked { head_request: false, upgrade: true };
        let h =
            head_of("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", upgrade);
        assert!(matches!(h, Ok(Some(Head { status: 101, reusable: false, .. }))), "{h:?}");
        assert!(head_of("HTTP/1.1 101 Switching Protocols\r\n\r\n", upgrade).is_err(), "no Upgrade field");
        assert_eq!(head_of("HTTP/1.1 200 OK\r\nContent-Le", Asked::default()), Ok(None));
        let many: String = (0..=MAX_RESPONSE_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(head_of(&format!("HTTP/1.1 200 OK\r\n{many}\r\n"), Asked::default()).is_err());
    }

    fn client_text(text: &str, asked: Asked, http10: bool) -> String {
        let id = RequestId::new(1, 2);
        let stamp = Stamp { request_id: &id, generation: Some(7), keep_alive: true, http10, hsts: None };
        let mut out = Vec::new();
        let parsed = parse(text.as_bytes(), asked, Some((ClientHead::H1(&mut out), &stamp)));
        assert!(matches!(parsed, Ok(Some(_))), "{text:?}: {parsed:?}");
        String::from_utf8_lossy(&out).to_ascii_lowercase()
    }

    #[test]
    fn the_client_gets_the_framing_the_gateway_sends_and_no_hop_by_hop_fields() {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: x-a, content-length\r\n\
                    X-A: 1\r\nKeep-Alive: 5\r\nTrailer: x\r\nProxy-Authenticate: y\r\nX-Hiatus: maintenance\r\nX-Kept: k\r\n\r\n";
        let h = client_text(text, Asked::default(), false);
        assert!(h.contains("transfer-encoding: chunked\r\n") && h.contains("x-kept: k\r\n"), "{h}");
        for gone in ["content-length", "x-a:", "keep-alive:", "trailer", "proxy-authenticate", "x-hiatus: maintenance"]
        {
            assert!(!h.contains(gone), "{gone} in {h}");
        }
        let h = client_text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Asked::default(), true);
        assert!(!h.contains("transfer-encoding") && h.contains("connection: close\r\n"), "{h}");
        let h = client_text(
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
            Asked { head_request: true, upgrade: false },
            false,
        );
        assert!(h.contains("content-length: 9\r\n") && h.contains("connection: keep-alive"), "{h}");
    }

    /// The HTTP/2 head carries the relayed fields with their values, empty ones too, and the
    /// gateway's markers.
    #[test]
    fn the_http2_head_carries_the_relayed_fields() {
        let text = "HTTP/1.1 200 OK\r\nServer: o\r\nX-Empty:\r\nConnection: keep-alive\r\nSet-Cookie: a=1\r\n\
                    Set-Cookie: b=2\r\nX-Custom-Name: v w\r\nContent-Length: 2\r\n\r\n";
        let id = RequestId::new(1, 2);
        let stamp = Stamp { request_id: &id, generation: Some(7), keep_alive: true, http10: false, hsts: None };
        let mut out = None;
        let parsed = parse(text.as_bytes(), Asked::default(), Some((ClientHead::H2(&mut out), &stamp)));
        assert!(matches!(parsed, Ok(Some(_))));
        let h = out.expect("a head");
        let all = |name: &str| {
            h.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("?").to_string()).collect::<Vec<_>>()
        };
        assert_eq!(h.status.as_u16(), 200);
        assert_eq!(all("server"), ["o"]);
        assert_eq!(all("x-empty"), [""]);
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("x-custom-name"), ["v w"]);
        assert_eq!(all("content-length"), ["2"]);
        assert!(all("connection").is_empty());
        assert_eq!((all("x-hiatus"), all("x-hiatus-generation")), (vec!["proxied".to_string()], vec!["7".to_string()]));
        assert_eq!(all("x-request-id"), [id.as_str()]);
    }

    #[test]
    fn content_length_is_plain_digits() {
        for (v, expected) in [("0", Some(0)), ("005", Some(5)), ("123456789012345678", Some(123_456_789_012_345_678))] {
            assert_eq!(digits(v.as_bytes()), expected, "{v}");
        }
        for v in ["", "+5", "-5", "5 5", "0x5", "1234567890123456789", "5,5"] {
            assert_eq!(digits(v.as_bytes()), None, "{v}");
        }
    }

    /// Real response heads for the property below to change a few bytes of.
    const SHAPES: [&str; 5] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-a\r\nX-A: 1\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        "HTTP/1.0 304 Not Modified\r\nContent-Length: 9\r\nKeep-Alive: 5\r\n\r\n",
    ];

    proptest! {
        /// Any bytes, and real heads with a few bytes changed: no panic; a prefix is `Ok(None)`
        /// or the same answer; the client's head is one head that reads back with the same
        /// status. `cargo fuzz` (fuzz/) goes much further; this runs on every `cargo test`.
        #[test]
        fn any_bytes_are_a_head_a_bad_response_or_partial(
            noise in proptest::collection::vec(any::<u8>(), 0..400),
            shape in proptest::sample::select(SHAPES.to_vec()),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            head_request in any::<bool>(),
        ) {
            let mut edited = shape.as_bytes().to_vec();
            for (at, byte) in edits {
                edited[at.index(shape.len())] = byte;
            }
            let asked = Asked { head_request, upgrade: true };
            for buf in [noise, edited] {
                let whole = parse(&buf, asked, None);
                let part = parse(&buf[..cut.index(buf.len() + 1)], asked, None);
                prop_assert!(part == Ok(None) || part == whole, "{:?} then {:?}", part, whole);
                let Ok(Some(h)) = whole else { continue };
                prop_assert_eq!(parse(&buf[..h.len - 1], asked, None), Ok(None));
                let id = RequestId::new(1, 2);
                let stamp = Stamp { request_id: &id, generation: Some(1), keep_alive: true, http10: false, hsts: None };
                let mut out = Vec::new();
                prop_assert_eq!(parse(&buf, asked, Some((ClientHead::H1(&mut out), &stamp))), whole);
                if h.status >= 200 || h.status == 101 {
                    let again = parse(&out, asked, None);
                    prop_assert!(
                        matches!(again, Ok(Some(c)) if c.len == out.len() && c.status == h.status),
                        "{:?}: {}",
                        again,
                        String::from_utf8_lossy(&out)
                    );
                }
            }
        }
    }
}
