//! An HTTP/1.x request head: parsed once with `httparse`, kept as spans into the connection's
//! buffer (no copies, no header map), and checked against the gateway's admission rules.
//!
//! What is refused (the connection closes after a short plain-text answer; nothing is
//! forwarded), as nginx and HAProxy do by default or stricter:
//! - a head over [`MAX_HEAD`] bytes or with more than [`MAX_HEADERS`] fields: 431;
//! - anything `httparse` cannot read (bad tokens, bare CR, NUL, obs-fold, space before a
//!   colon), and a line that ends in a bare LF: 400; a version other than HTTP/1.0 or 1.1: 505;
//! - `TRACE`: 405; `CONNECT`: 400; a target that is not origin form (`/…`), absolute form
//!   (`http://authority/…`) or `*` with `OPTIONS`: 400;
//! - two `Host` fields, or one that differs from an absolute-form target's authority; a
//!   `Content-Length` that is not one plain number (`+5`, `5, 5`, two
//!   fields); `Transfer-Encoding` on HTTP/1.0, twice, beside a `Content-Length`, or not exactly
//!   `chunked`: 400 (501 for a coding other than chunked before it); an `Expect` other than
//!   `100-continue`: 417; more than `fields::MAX_NAMED` names in `Connection`: 400.
//!
//! A WebSocket upgrade (`GET`, HTTP/1.1, `Connection: upgrade`, `Upgrade: websocket`) is kept;
//! any other `Upgrade` (`h2c`, …) is dropped and the request goes on as a plain one.

use crate::gateway::core::fields::{classify, ConnectionTokens, Field};
use crate::gateway::core::response::digits;

/// Most fields a request head may have (HAProxy's default allows 101 lines in all).
pub const MAX_HEADERS: usize = 100;
/// Largest request head the gateway reads: a longer one is answered 431 (nginx's default
/// allows 8 KiB per line, 32 KiB in all).
pub const MAX_HEAD: usize = 32 * 1024;

/// Where in the buffer a piece of the head lies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    // u16: spans only point into a head, which is at most `MAX_HEAD` (32 KiB) long.
    start: u16,
    len: u16,
}

impl Span {
    fn of(buf: &[u8], part: &[u8]) -> Span {
        // `part` is a sub-slice of `buf` (httparse only hands those out).
        let start = (part.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize);
        Span { start: start as u16, len: part.len() as u16 }
    }

    pub fn bytes<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        let start = usize::from(self.start);
        buf.get(start..start + usize::from(self.len)).unwrap_or_default()
    }

    /// As text; `""` when it is not UTF-8.
    pub fn str<'b>(&self, buf: &'b [u8]) -> &'b str {
        std::str::from_utf8(self.bytes(buf)).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How the request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
}

/// One request head.
#[derive(Debug, Clone)]
pub struct Head {
    /// Bytes of the head, blank line included; the body or the next request follows.
    pub len: usize,
    pub method: Span,
    pub http10: bool,
    /// What goes upstream as the target: the origin form (path and query), or `*`. Empty for
    /// an absolute-form target without a path (`/`).
    pub target: Span,
    /// The path up to `?` (empty: `/`).
    pub path: Span,
    pub query: Option<Span>,
    /// The authority of an absolute-form target: it names the host, not `Host`.
    pub authority: Option<Span>,
    /// The `Host` field when it is ASCII (`None` as well when there is none: see `host_sent`).
    pub host: Option<Span>,
    /// A `Host` field was sent (readable or not).
    pub host_sent: bool,
    pub accept: Option<Span>,
    pub accept_language: Option<Span>,
    pub forwarded_proto: Option<Span>,
    pub body: Body,
    pub connection: ConnectionTokens,
    /// `Expect: 100-continue` on HTTP/1.1.
    pub expect_continue: bool,
    /// The `Upgrade` value of a WebSocket upgrade the gateway carries through.
    pub upgrade: Option<Span>,
    /// Every field, classified, in order.
    pub fields: [(Field, Span, Span); MAX_HEADERS],
    pub fields_len: usize,
}

impl Head {
    pub fn fields(&self) -> &[(Field, Span, Span)] {
        &self.fields[..self.fields_len]
    }

    /// The connection may stay after the answer: HTTP/1.1 unless `close`; HTTP/1.0 only when
    /// it asked for `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        !self.connection.close && (!self.http10 || self.connection.keep_alive)
    }

    pub fn is_head(&self, buf: &[u8]) -> bool {
        self.method.bytes(buf) == b"HEAD"
    }
}

/// A request the gateway refuses before reading any further: a short plain answer, then the
/// connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub text: &'static str,
}

const fn refuse(status: u16, text: &'static str) -> Step {
    Step::Refused(Refusal { status, text })
}

/// What the bytes read so far are.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole head yet.
    Partial,
    Request(Box<Head>),
    Refused(Refusal),
}

/// What [`parse_into`] found: the head is in the caller's [`Head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Partial,
    Request,
    Refused(Refusal),
}

impl Head {
    /// An empty head to parse into, once per connection: its 100 field slots are initialised
    /// here, not per request (a head is a kilobyte; making one per request was a fifth of the
    /// lane's instructions for a maintenance page).
    pub fn boxed() -> Box<Head> {
        Box::new(Head {
            len: 0,
            method: Span::default(),
            http10: false,
            target: Span::default(),
            path: Span::default(),
            query: None,
            authority: None,
            host: None,
            host_sent: false,
            accept: None,
            accept_language: None,
            forwarded_proto: None,
            body: Body::None,
            connection: ConnectionTokens::default(),
            expect_continue: false,
            upgrade: None,
            fields: [(Field::EndToEnd, Span::default(), Span::default()); MAX_HEADERS],
            fields_len: 0,
        })
    }
}

/// The head's end is not within [`MAX_HEAD`]: 431.
pub const TOO_LARGE: Refusal = Refusal { status: 431, text: "The request's header is larger than 32 KiB.\n" };

/// Parses the start of `buf` into a head of its own (tests, benchmarks, fuzzing; the lane
/// parses into a head it keeps: [`parse_into`]).
pub fn parse(buf: &[u8]) -> Parsed {
    let mut head = Head::boxed();
    match parse_into(buf, &mut head) {
        Step::Partial => Parsed::Partial,
        Step::Request => Parsed::Request(head),
        Step::Refused(r) => Parsed::Refused(r),
    }
}

/// Parses the start of `buf` into `head` (whatever it held before is replaced).
pub fn parse_into(buf: &[u8], head: &mut Head) -> Step {
    // Uninitialised slots: httparse writes the ones it uses (3 KiB not zeroed per request).
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Step::Partial,
        Ok(httparse::Status::Partial) => return Step::Refused(TOO_LARGE),
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => return Step::Refused(TOO_LARGE),
        Ok(httparse::Status::Complete(n)) => n,
        Err(httparse::Error::TooManyHeaders) => return refuse(431, "The request has more than 100 header fields.\n"),
        Err(httparse::Error::Version) => return refuse(505, "Only HTTP/1.0, HTTP/1.1 and HTTP/2 are spoken here.\n"),
        Err(_) => return refuse(400, "The request's header is malformed.\n"),
    };
    // CRLF only (RFC 9112 §2.2 allows a bare LF; a proxy in front may not, and then a field
    // it reads as one line is two here: `X-A: 1\nContent-Length: 5`). Every LF in a head httparse
    // accepts ends a line, so the line ends are all there is to check: before each field name,
    // and the last two at the head's end (`crlf_before`).
    let crlf_before = |at: usize| at >= 2 && buf[at - 1] == b'\n' && buf[at - 2] == b'\r';
    if !crlf_before(len) || !crlf_before(len - 2) {
        return refuse(400, "The request's header has a line that does not end in CRLF.\n");
    }
    let (Some(method), Some(version), Some(target)) = (req.method, req.version, req.path) else {
        return refuse(400, "The request's header is malformed.\n");
    };
    match method {
        "TRACE" => return refuse(405, "TRACE is not allowed here.\n"),
        "CONNECT" => return refuse(400, "CONNECT is not served here.\n"),
        _ => {}
    }
    // Empty lines before the request line are skipped (RFC 9112 §2.2), CRLF ones only.
    let start = method.as_ptr() as usize - buf.as_ptr() as usize;
    if start % 2 != 0 || !buf[..start].chunks(2).all(|pair| pair == b"\r\n") {
        return refuse(400, "The request's header has a line that does not end in CRLF.\n");
    }
    let http10 = version == 0;
    head.len = len;
    head.method = Span::of(buf, method.as_bytes());
    head.http10 = http10;
    head.target = Span::default();
    head.path = Span::default();
    head.query = None;
    head.authority = None;
    head.host = None;
    head.host_sent = false;
    head.accept = None;
    head.accept_language = None;
    head.forwarded_proto = None;
    head.body = Body::None;
    head.connection = ConnectionTokens::default();
    head.expect_continue = false;
    head.upgrade = None;
    head.fields_len = 0;
    if let Err(r) = read_target(head, buf, method, target) {
        return Step::Refused(r);
    }
    let (mut length, mut coded) = (None, None::<bool>);
    let mut upgrade = None;
    let mut hosts = 0u8;
    for h in req.headers.iter() {
        let (name, value) = (h.name.as_bytes(), h.value);
        if !crlf_before(name.as_ptr() as usize - buf.as_ptr() as usize) {
            return refuse(400, "The request's header has a line that does not end in CRLF.\n");
        }
        let field = classify(name);
        let span = Span::of(buf, value);
        // Values the decision reads must be visible ASCII; others read as absent (a page must
        // still go out), and are forwarded as they are.
        let text = || Some(span).filter(|_| value.is_ascii());
        match field {
            // Counted apart from the value: a first `Host` that is not ASCII reads as absent, and
            // a second one must still be refused (a proxy in front may read either).
            Field::Host if hosts > 0 => return refuse(400, "The request names its host twice.\n"),
            Field::Host => {
                hosts += 1;
                head.host = text();
                head.host_sent = true;
            }
            Field::ContentLength if length.is_some() => {
                return refuse(400, "The request has more than one Content-Length.\n")
            }
            Field::ContentLength => match digits(value.trim_ascii()) {
                Some(n) => length = Some(n),
                None => return refuse(400, "The request's Content-Length is not a number.\n"),
            },
            Field::TransferEncoding if http10 || coded.is_some() => {
                return refuse(400, "The request's Transfer-Encoding cannot be read.\n")
            }
            Field::TransferEncoding => {
                let v = value.trim_ascii();
                if v.eq_ignore_ascii_case(b"chunked") {
                    coded = Some(true);
                } else if v
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|l| l.trim_ascii().eq_ignore_ascii_case(b"chunked"))
                {
                    return refuse(501, "Only the chunked transfer coding is understood here.\n");
                } else {
                    return refuse(400, "The request's Transfer-Encoding cannot be read.\n");
                }
            }
            Field::Connection => head.connection.read(value, usize::from(span.start)),
            Field::Upgrade => {
                upgrade.get_or_insert(span);
            }
            Field::Expect if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") => {
                head.expect_continue = !http10;
            }
            Field::Expect => return refuse(417, "The request's expectation cannot be met.\n"),
            Field::Accept if head.accept.is_none() => head.accept = text(),
            Field::AcceptLanguage if head.accept_language.is_none() => head.accept_language = text(),
            Field::XForwardedProto if head.forwarded_proto.is_none() => head.forwarded_proto = text(),
            _ => {}
        }
        head.fields[head.fields_len] = (field, Span::of(buf, name), span);
        head.fields_len += 1;
    }
    // An absolute-form target names the host (RFC 9112 §3.2.2); a `Host` that names another
    // is a request built to be read two ways.
    if let (Some(authority), Some(host)) = (head.authority, head.host) {
        if !authority.bytes(buf).eq_ignore_ascii_case(host.bytes(buf)) {
            return refuse(400, "The request names two different hosts.\n");
        }
    }
    // HTTP/1.1 requires `Host` (RFC 9112 §3.2); HTTP/1.0 may leave it out, and then its
    // request names no tenant's host (the default tenant, or the unknown-host page).
    if !http10 && !head.host_sent && head.authority.is_none() {
        return refuse(400, "The request names no host: HTTP/1.1 requires a Host field.\n");
    }
    if head.connection.overflow {
        return refuse(400, "The request's Connection field names too many fields.\n");
    }
    head.body = match (length, coded) {
        (Some(_), Some(_)) => return refuse(400, "The request has both Content-Length and Transfer-Encoding.\n"),
        (Some(n), None) => Body::Length(n),
        (None, Some(_)) => Body::Chunked,
        (None, None) => Body::None,
    };
    let websocket = upgrade.filter(|u| {
        head.connection.upgrade
            && !http10
            && method == "GET"
            && u.bytes(buf).split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    });
    head.upgrade = websocket;
    Step::Request
}

/// Reads the request target into `head` (RFC 9112 §3.2).
fn read_target(head: &mut Head, buf: &[u8], method: &str, target: &str) -> Result<(), Refusal> {
    let bad = Refusal { status: 400, text: "The request's target is not one this gateway serves.\n" };
    let bytes = target.as_bytes();
    if target == "*" {
        if method != "OPTIONS" {
            return Err(bad);
        }
        head.target = Span::of(buf, bytes);
        head.path = head.target;
        return Ok(());
    }
    let origin_form = if bytes.first() == Some(&b'/') {
        bytes
    } else {
        let scheme = if bytes.len() > 7 && bytes[..7].eq_ignore_ascii_case(b"http://") {
            7
        } else if bytes.len() > 8 && bytes[..8].eq_ignore_ascii_case(b"https://") {
            8
        } else {
            return Err(bad);
        };
        let rest = &bytes[scheme..];
        let end = rest.iter().position(|&b| b == b'/' || b == b'?' || b == b'#').unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() || authority.contains(&b'@') {
            return Err(bad);
        }
        head.authority = Some(Span::of(buf, authority));
        &rest[end..]
    };
    // The fragment is the client's own; it never goes on (clients do not send one).
    let origin_form = match origin_form.iter().position(|&b| b == b'#') {
        Some(at) => &origin_form[..at],
        None => origin_form,
    };
    if std::str::from_utf8(origin_form).is_err() {
        return Err(Refusal { status: 400, text: "The request's path is not valid UTF-8.\n" });
    }
    head.target = Span::of(buf, origin_form);
    match origin_form.iter().position(|&b| b == b'?') {
        Some(at) => {
            head.path = Span::of(buf, &origin_form[..at]);
            head.query = Some(Span::of(buf, &origin_form[at + 1..]));
        }
        None => head.path = head.target,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(text: &str) -> Box<Head> {
        match parse(text.as_bytes()) {
            Parsed::Request(h) => h,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn a_simple_get_is_read_with_its_parts() {
        let text = "GET /a/b?c=1 HTTP/1.1\r\nHost: app.test\r\nAccept: text/html\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: keep-alive\r\nX-Other: v\r\n\r\nGET /next";
        let buf = text.as_bytes();
        let h = head(text);
        assert_eq!(h.len, text.find("GET /next").unwrap_or(0));
        assert_eq!((h.method.str(buf), h.target.str(buf), h.path.str(buf)), ("GET", "/a/b?c=1", "/a/b"));
        assert_eq!(h.query.map(|q| q.str(buf)), Some("c=1"));
        assert_eq!(h.host.map(|s| s.str(buf)), Some("app.test"));
        assert_eq!(h.accept.map(|s| s.str(buf)), Some("text/html"));
        assert!(h.keep_alive() && h.body == Body::None && h.upgrade.is_none());
        let classes: Vec<Field> = h.fields().iter().map(|f| f.0).collect();
        assert_eq!(classes, [Field::Host, Field::Accept, Field::XForwardedFor, Field::Connection, Field::EndToEnd]);
    }

    #[test]
    fn framing_is_read_strictly() {
        let cases: [(&str, Result<Body, u16>); 14] = [
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", Ok(Body::Length(3))),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\n", Ok(Body::Length(5))),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", Ok(Body::Chunked)),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Err(400)),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(400),
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Err(501)),
            ("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Err(400)),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", Err(400)),
        ];
        for (text, expected) in cases {
            let got = match parse(text.as_bytes()) {
                Parsed::Request(h) => Ok(h.body),
                Parsed::Refused(r) => Err(r.status),
                Parsed::Partial => panic!("{text:?}: partial"),
            };
            assert_eq!(got, expected, "{text:?}");
        }
    }

    #[test]
    fn methods_targets_and_versions_are_admitted_or_refused() {
        let cases: [(&str, Option<u16>); 24] = [
            ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", None),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", Some(405)),
            ("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("GET a.test/x HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("GET http://user@a/x HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", Some(505)),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: \u{e9}\r\nHost: b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", Some(417)),
            ("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", Some(400)),
            ("PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n", None),
            ("GET / HTTP/1.1\nHost: a\n\n", Some(400)),
            ("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", None),
            // A bare CR never passes httparse: the CR/LF count that finds bare LFs relies on it.
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", Some(400)),
            ("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\nY: c\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nX-A: 1\nContent-Length: 5\r\nHost: a\r\n\r\n", Some(400)),
        ];
        for (text, refused) in cases {
            let got = match parse(text.as_bytes()) {
                Parsed::Request(_) => None,
                Parsed::Refused(r) => Some(r.status),
                Parsed::Partial => panic!("{text:?}: partial"),
            };
            assert_eq!(got, refused, "{text:?}");
        }
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(matches!(
            parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Parsed::Refused(Refusal { status: 431, .. })
        ));
        let long = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {}", "x".repeat(MAX_HEAD));
        assert!(matches!(parse(long.as_bytes()), Parsed::Refused(TOO_LARGE)));
    }

    #[test]
    fn absolute_form_names_the_host_and_sends_the_origin_form() {
        for (text, authority, target, path) in [
            ("GET http://a.test/x?y=1 HTTP/1.1\r\nHost: A.test\r\n\r\n", "a.test", "/x?y=1", "/x"),
            ("GET HTTP://a.test:8080 HTTP/1.1\r\n\r\n", "a.test:8080", "", ""),
            ("GET https://a.test?q HTTP/1.1\r\n\r\n", "a.test", "?q", ""),
        ] {
            let buf = text.as_bytes();
            let h = head(text);
            assert_eq!(
                (h.authority.map(|a| a.str(buf)), h.target.str(buf), h.path.str(buf)),
                (Some(authority), target, path),
                "{text:?}"
            );
        }
    }

    #[test]
    fn only_websocket_upgrades_are_kept() {
        let buf = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(head(buf).upgrade.map(|u| u.str(buf.as_bytes())), Some("websocket"));
        for text in [
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        ] {
            assert_eq!(head(text).upgrade, None, "{text:?}");
        }
    }

    #[test]
    fn a_head_in_pieces_is_partial_until_the_blank_line() {
        let text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 1..text.len() {
            assert!(matches!(parse(&text.as_bytes()[..cut]), Parsed::Partial), "{cut}");
        }
        head(text);
    }

    #[test]
    fn invisible_values_read_as_absent() {
        let text = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: \xc3\xa9\r\n\r\n";
        let Parsed::Request(h) = parse(text) else { panic!("not taken") };
        assert_eq!(h.accept, None);
        assert_eq!(h.fields_len, 2, "still forwarded");
    }

    /// Real heads for the property below to change a few bytes of (smuggling shapes included).
    const SHAPES: [&str; 6] = [
        "GET /a?b=1 HTTP/1.1\r\nHost: app.test\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n",
        "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    ];

    proptest! {
        /// Any bytes, and real heads with a few bytes changed: no panic; a head is taken whole
        /// (every line ends in CRLF, a cut before its end is partial) and what follows it does
        /// not change it; a request never carries two framings. `cargo fuzz` (fuzz/) goes much
        /// further; this runs on every `cargo test`.
        #[test]
        fn any_bytes_are_a_head_a_refusal_or_partial(
            noise in proptest::collection::vec(any::<u8>(), 0..400),
            shape in proptest::sample::select(SHAPES.to_vec()),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut edited = shape.as_bytes().to_vec();
            for (at, byte) in edits {
                edited[at.index(shape.len())] = byte;
            }
            for buf in [noise, edited] {
                let Parsed::Request(h) = parse(&buf) else { continue };
                prop_assert!(h.len <= buf.len() && buf[..h.len].ends_with(b"\r\n\r\n"));
                prop_assert!(!buf[..h.len].windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
                prop_assert!(matches!(parse(&buf[..h.len - 1]), Parsed::Partial));
                let Parsed::Request(alone) = parse(&buf[..h.len]) else { panic!("the head alone is not taken") };
                prop_assert_eq!((alone.len, alone.body, alone.target.bytes(&buf)), (h.len, h.body, h.target.bytes(&buf)));
                let framings = h.fields().iter().filter(|f| matches!(f.0, Field::ContentLength | Field::TransferEncoding));
                prop_assert!(framings.count() <= 1);
                prop_assert!(h.fields().iter().filter(|f| f.0 == Field::Host).count() <= 1);
            }
        }
    }
}
