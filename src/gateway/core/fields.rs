//! What a request field is to the gateway: one classification ([`classify`]) that both lanes
//! use when they read a request and that the upstream head is built from (`upstream`), so a
//! field is either read, replaced or dropped the same way whichever protocol brought it.
//!
//! Policy (RFC 9110 §7.6.1 and what nginx and HAProxy do by default): hop-by-hop fields end at
//! the gateway (`Connection` and every field it names, `Keep-Alive`, `Proxy-Connection`, `TE`,
//! `Trailer`, `Transfer-Encoding`, `Upgrade` unless a WebSocket is upgraded,
//! `Proxy-Authorization`); framing (`Content-Length`, `Transfer-Encoding`) is decided by the
//! gateway and written anew; `X-Forwarded-*`, `Forwarded` and `X-Request-Id` are the gateway's
//! to set; a field name with `_` is dropped unless the gateway allows them (many origins read
//! `X_Forwarded_For` as `X-Forwarded-For`, behind the gateway's back).

/// Whether a header name (a token: the parser has checked it) is `lower`, in any case. Setting
/// bit 5 lowercases a letter and leaves `-` and digits as they are, and no other token character
/// turns into a letter, digit or `-` that way: exact for these names, and a few wide compares
/// where `eq_ignore_ascii_case` goes byte by byte with a branch each (this runs for every field
/// of every head, the upstream's too).
#[inline]
pub fn name_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len() && name.iter().zip(lower).fold(0u8, |diff, (&a, &b)| diff | ((a | 0x20) ^ b)) == 0
}

/// A request field as the gateway sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Goes to the upstream as it is.
    EndToEnd,
    Host,
    Accept,
    AcceptLanguage,
    Cookie,
    ContentLength,
    TransferEncoding,
    Connection,
    Upgrade,
    Expect,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
    /// RFC 7239: the same claims as `X-Forwarded-*`; kept only from a trusted proxy.
    Forwarded,
    XRequestId,
    /// Never forwarded: `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
    /// `Proxy-Authorization`.
    HopByHop,
    /// A name with `_`: dropped unless allowed (`[gateway] underscores_in_headers`).
    Underscore,
}

/// What `name` is. Names are compared by length first: most fields are none of these.
pub fn classify(name: &[u8]) -> Field {
    let is = |lower: &[u8]| name_is(name, lower);
    let field = match name.len() {
        2 if is(b"te") => Field::HopByHop,
        4 if is(b"host") => Field::Host,
        6 if is(b"accept") => Field::Accept,
        6 if is(b"cookie") => Field::Cookie,
        6 if is(b"expect") => Field::Expect,
        7 if is(b"upgrade") => Field::Upgrade,
        7 if is(b"trailer") => Field::HopByHop,
        9 if is(b"forwarded") => Field::Forwarded,
        10 if is(b"connection") => Field::Connection,
        10 if is(b"keep-alive") => Field::HopByHop,
        12 if is(b"x-request-id") => Field::XRequestId,
        14 if is(b"content-length") => Field::ContentLength,
        15 if is(b"accept-language") => Field::AcceptLanguage,
        15 if is(b"x-forwarded-for") => Field::XForwardedFor,
        16 if is(b"x-forwarded-host") => Field::XForwardedHost,
        16 if is(b"proxy-connection") => Field::HopByHop,
        17 if is(b"x-forwarded-proto") => Field::XForwardedProto,
        17 if is(b"transfer-encoding") => Field::TransferEncoding,
        19 if is(b"proxy-authorization") => Field::HopByHop,
        _ => Field::EndToEnd,
    };
    // Branch-free over the name (a call to memchr costs more than these few bytes).
    if field == Field::EndToEnd && name.iter().fold(false, |seen, &b| seen | (b == b'_')) {
        Field::Underscore
    } else {
        field
    }
}

/// Most field names one `Connection` header set may name; more is refused (400): a request
/// naming dozens of fields as hop-by-hop is not a browser's.
pub const MAX_NAMED: usize = 16;

/// The tokens of the `Connection` fields of a request or response.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
    /// Names of further hop-by-hop fields, as spans `(start, len)` into the head they came from.
    named: [(u32, u16); MAX_NAMED],
    named_len: u8,
    /// More names than [`MAX_NAMED`].
    pub overflow: bool,
}

impl ConnectionTokens {
    /// Reads one `Connection` value; `base` is where `value` lies in its head's buffer (the
    /// names are kept as offsets so that the head can move).
    pub fn read(&mut self, value: &[u8], base: usize) {
        for token in value.split(|&b| b == b',') {
            let trimmed = token.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if trimmed.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if trimmed.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            } else if usize::from(self.named_len) < MAX_NAMED {
                let start = base + (trimmed.as_ptr() as usize - value.as_ptr() as usize);
                self.named[usize::from(self.named_len)] = (start as u32, trimmed.len() as u16);
                self.named_len += 1;
            } else {
                self.overflow = true;
            }
        }
    }

    /// Whether `name` is one the `Connection` fields named (compared in `buf`, the head the
    /// tokens were read from).
    pub fn names(&self, buf: &[u8], name: &[u8]) -> bool {
        self.named[..usize::from(self.named_len)].iter().any(|&(start, len)| {
            let start = start as usize;
            buf.get(start..start + usize::from(len)).is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    pub fn any_named(&self) -> bool {
        self.named_len > 0
    }
}

/// Whether a field with this classification and name goes to the upstream as it is.
/// `named`: the request's `Connection` named it. Framing, `Cookie`, `Host` and the gateway's
/// own fields are written by the upstream head builder itself, never copied.
pub fn passes_as_is(field: Field, allow_underscores: bool, named: bool) -> bool {
    match field {
        Field::EndToEnd | Field::Accept | Field::AcceptLanguage => !named,
        Field::Underscore => allow_underscores && !named,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_agrees_with_eq_ignore_ascii_case_on_every_token_character() {
        // RFC 9110 §5.6.2 tchar, the bytes a parser lets into a header name.
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

    #[test]
    fn fields_are_classified_in_any_case_and_underscores_never_pass_as_a_known_field() {
        let cases: [(&str, Field); 14] = [
            ("Host", Field::Host),
            ("X-FORWARDED-FOR", Field::XForwardedFor),
            ("X_Forwarded_For", Field::Underscore),
            ("Content_Length", Field::Underscore),
            ("content-length", Field::ContentLength),
            ("Transfer-Encoding", Field::TransferEncoding),
            ("TE", Field::HopByHop),
            ("Trailer", Field::HopByHop),
            ("Keep-Alive", Field::HopByHop),
            ("Proxy-Authorization", Field::HopByHop),
            ("Forwarded", Field::Forwarded),
            ("Cookie", Field::Cookie),
            ("X-Custom", Field::EndToEnd),
            ("Upgrade", Field::Upgrade),
        ];
        for (name, expected) in cases {
            assert_eq!(classify(name.as_bytes()), expected, "{name}");
        }
    }

    #[test]
    fn connection_tokens_are_read_from_every_value() {
        let head = b"keep-alive, X-Secret ,close,,Upgrade, x-other";
        let mut t = ConnectionTokens::default();
        t.read(head, 0);
        assert!(t.close && t.keep_alive && t.upgrade && !t.overflow);
        assert!(t.names(head, b"x-secret") && t.names(head, b"X-OTHER"));
        assert!(!t.names(head, b"close") && !t.names(head, b"x-secre"));
        let many: Vec<u8> = (0..=MAX_NAMED).map(|i| format!("x-{i},")).collect::<String>().into_bytes();
        let mut t = ConnectionTokens::default();
        t.read(&many, 0);
        assert!(t.overflow);
    }
}
