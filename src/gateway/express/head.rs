//! A request head as the express lane reads it: parsed once with `httparse`, kept as spans
//! into the connection's buffer (no copies, no header map), and the verdict whether this lane
//! may take the request at all.
//!
//! The lane takes what is common and simple: `GET`/`HEAD` over HTTP/1.1 with an origin-form
//! target, one `Host`, no body, no upgrade, no `Expect`, and a `Connection` header that says
//! nothing but `close` or `keep-alive`. Anything else goes to pingora, which has the code for
//! bodies, upgrades, HTTP/1.0 and odd framing; the split costs nothing on the common path.

/// Most headers a head may have here; more goes to pingora (which allows more).
pub const MAX_HEADERS: usize = 64;
/// Largest request head the gateway reads, for either lane: a longer one is answered 431
/// (nginx's default allows 8 KiB per line, 32 KiB in all; pingora alone would take 1 MiB).
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

    /// As text; headers only ever hold visible ASCII here (checked at parse).
    pub fn str<'b>(&self, buf: &'b [u8]) -> &'b str {
        std::str::from_utf8(self.bytes(buf)).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// One request head the express lane takes.
#[derive(Debug, Clone)]
pub struct Head {
    /// Bytes of the head, blank line included; what follows is the next request.
    pub len: usize,
    pub method: Method,
    /// The request target as sent (origin form), and its path (up to `?`).
    pub target: Span,
    pub path: Span,
    pub host: Option<Span>,
    pub accept: Option<Span>,
    pub accept_language: Option<Span>,
    pub cookie: Option<Span>,
    pub forwarded_for: Option<Span>,
    pub forwarded_proto: Option<Span>,
    pub forwarded_host: Option<Span>,
    /// `Connection: close`.
    pub close: bool,
    /// Header lines that go to the upstream unchanged, as (name, value).
    pub pass: [(Span, Span); MAX_HEADERS],
    pub pass_len: usize,
}

impl Head {
    pub fn passed(&self) -> &[(Span, Span)] {
        &self.pass[..self.pass_len]
    }
}

/// What the bytes read so far are.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A whole head this lane takes.
    Express(Box<Head>),
    /// Anything else, complete or not, malformed or not: pingora's.
    Pingora,
    /// No end of the head within [`MAX_HEAD`] bytes.
    TooLarge,
}

/// Whether a header name (a token: httparse has checked it) is `lower`, in any case. Setting bit 5
/// lowercases a letter and leaves `-` and digits as they are, and no other token character
/// turns into a letter, digit or `-` that way: exact for these names, and a few wide compares
/// where `eq_ignore_ascii_case` goes byte by byte with a branch each (this runs for every field
/// of every head, the upstream's too).
pub fn name_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len() && name.iter().zip(lower).fold(0u8, |diff, (&a, &b)| diff | ((a | 0x20) ^ b)) == 0
}

/// Visible ASCII and tabs: what `HeaderValue::to_str` accepts on the pingora path. httparse has
/// already refused control characters other than tab in values, so what is left to refuse is
/// `obs-text` (bytes of 0x80 and above), which `is_ascii` finds a word at a time.
fn visible(v: &[u8]) -> bool {
    v.is_ascii()
}

/// `Connection` tokens the lane understands; `Some(close)`, or `None` for anything else
/// (an `Upgrade`, or header names that are hop-by-hop for this request).
fn connection_close(v: &[u8]) -> Option<bool> {
    let mut close = false;
    for token in v.split(|&b| b == b',') {
        let t = token.trim_ascii();
        if t.eq_ignore_ascii_case(b"close") {
            close = true;
        } else if !t.eq_ignore_ascii_case(b"keep-alive") && !t.is_empty() {
            return None;
        }
    }
    Some(close)
}

/// Parses the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    // Uninitialised slots: httparse writes the ones it uses (2 KiB not zeroed per request).
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parsed::Partial,
        Ok(httparse::Status::Partial) => return Parsed::TooLarge,
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => return Parsed::TooLarge,
        Ok(httparse::Status::Complete(n)) => n,
        Err(_) => return Parsed::Pingora,
    };
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => return Parsed::Pingora,
    };
    let (Some(1), Some(target)) = (req.version, req.path) else { return Parsed::Pingora };
    if !target.starts_with('/') {
        return Parsed::Pingora;
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let mut head = Box::new(Head {
        len,
        method,
        target: Span::of(buf, target.as_bytes()),
        path: Span::of(buf, path.as_bytes()),
        host: None,
        accept: None,
        accept_language: None,
        cookie: None,
        forwarded_for: None,
        forwarded_proto: None,
        forwarded_host: None,
        close: false,
        pass: [(Span::default(), Span::default()); MAX_HEADERS],
        pass_len: 0,
    });
    for h in req.headers.iter() {
        let (name, value) = (h.name.as_bytes(), h.value);
        let span = || Some(Span::of(buf, value)).filter(|_| visible(value));
        // The first of repeated headers counts, as `HeaderMap::get` does on pingora's path.
        let first = |slot: &mut Option<Span>| {
            if slot.is_none() {
                *slot = span();
            }
        };
        let mut pass = true;
        match name.len() {
            4 if name_is(name, b"host") => {
                if head.host.is_some() {
                    return Parsed::Pingora;
                }
                head.host = span();
            }
            6 if name_is(name, b"accept") => first(&mut head.accept),
            6 if name_is(name, b"cookie") => first(&mut head.cookie),
            6 if name_is(name, b"expect") => return Parsed::Pingora,
            7 if name_is(name, b"upgrade") => return Parsed::Pingora,
            10 if name_is(name, b"connection") => {
                match connection_close(value) {
                    Some(close) => head.close |= close,
                    None => return Parsed::Pingora,
                }
                pass = false;
            }
            10 if name_is(name, b"keep-alive") => pass = false,
            14 if name_is(name, b"content-length") && value.trim_ascii() != b"0" => {
                return Parsed::Pingora;
            }
            15 if name_is(name, b"accept-language") => first(&mut head.accept_language),
            15 if name_is(name, b"x-forwarded-for") => {
                first(&mut head.forwarded_for);
                pass = false;
            }
            16 if name_is(name, b"x-forwarded-host") => {
                first(&mut head.forwarded_host);
                pass = false;
            }
            17 if name_is(name, b"x-forwarded-proto") => {
                first(&mut head.forwarded_proto);
                pass = false;
            }
            17 if name_is(name, b"transfer-encoding") => return Parsed::Pingora,
            12 if name_is(name, b"x-request-id") => pass = false,
            16 if name_is(name, b"proxy-connection") => pass = false,
            2 if name_is(name, b"te") => pass = false,
            19 if name_is(name, b"proxy-authorization") => pass = false,
            _ => {}
        }
        if pass {
            let at = head.pass_len;
            head.pass[at] = (Span::of(buf, name), Span::of(buf, value));
            head.pass_len += 1;
        }
    }
    Parsed::Express(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_agrees_with_eq_ignore_ascii_case_on_every_token_character() {
        // RFC 9110 §5.6.2 tchar, the bytes httparse lets into a header name.
        let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        let lower: Vec<u8> = (b'a'..=b'z').chain(b'0'..=b'9').chain([b'-']).collect();
        for a in (0u8..=255).filter(|&c| tchar(c)) {
            for &b in &lower {
                assert_eq!(
                    name_is(&[a], &[b]),
                    [a].eq_ignore_ascii_case(&[b]),
                    "{:?} against {:?}",
                    a as char,
                    b as char
                );
            }
        }
        assert!(name_is(b"Content-Length", b"content-length"));
        assert!(!name_is(b"Content-Lengt", b"content-length"));
        assert!(!name_is(b"Content_Length", b"content-length"));
    }

    fn head(text: &str) -> Box<Head> {
        match parse(text.as_bytes()) {
            Parsed::Express(h) => h,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn a_simple_get_is_taken_with_its_parts() {
        let text = "GET /a/b?c=1 HTTP/1.1\r\nHost: app.test\r\nAccept: text/html\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: keep-alive\r\nX-Other: v\r\n\r\nGET /next";
        let buf = text.as_bytes();
        let h = head(text);
        assert_eq!(h.len, text.find("GET /next").unwrap_or(0));
        assert_eq!((h.method, h.target.str(buf), h.path.str(buf)), (Method::Get, "/a/b?c=1", "/a/b"));
        assert_eq!(h.host.map(|s| s.str(buf)), Some("app.test"));
        assert_eq!(h.accept.map(|s| s.str(buf)), Some("text/html"));
        assert_eq!(h.forwarded_for.map(|s| s.str(buf)), Some("1.2.3.4"));
        assert!(!h.close);
        let passed: Vec<(&str, &str)> = h.passed().iter().map(|(n, v)| (n.str(buf), v.str(buf))).collect();
        assert_eq!(passed, [("Host", "app.test"), ("Accept", "text/html"), ("X-Other", "v")]);
    }

    #[test]
    fn connection_close_is_seen_and_not_passed() {
        let text =
            "HEAD / HTTP/1.1\r\nhost: a\r\nconnection: Keep-Alive, close\r\nkeep-alive: 5\r\nTE: trailers\r\n\r\n";
        let h = head(text);
        assert_eq!((h.method, h.close, h.pass_len), (Method::Head, true, 1));
    }

    #[test]
    fn everything_unusual_goes_to_pingora() {
        for text in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
            "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(matches!(parse(text.as_bytes()), Parsed::Pingora), "{text:?}");
        }
        let long = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {}", "x".repeat(MAX_HEAD));
        assert!(matches!(parse(long.as_bytes()), Parsed::TooLarge));
        assert!(matches!(parse(format!("{long}\r\n\r\n").as_bytes()), Parsed::TooLarge));
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(matches!(parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Parsed::Pingora));
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
    fn invisible_values_read_as_absent_like_on_pingoras_path() {
        let text = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: \xc3\xa9\r\n\r\n";
        let Parsed::Express(h) = parse(text) else { panic!("not taken") };
        assert_eq!(h.accept, None);
        // Control characters never reach the check: httparse refuses them (pingora then answers).
        for bad in
            [&b"GET / HTTP/1.1\r\nHost: a\r\nAccept: a\x7fb\r\n\r\n"[..], b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n"]
        {
            assert!(matches!(parse(bad), Parsed::Pingora), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
