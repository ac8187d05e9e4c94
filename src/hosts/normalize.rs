//! Normalisation of a raw `Host` header (or `:authority`) into the form host patterns match:
//! lowercase, no port, no trailing dot.
//!
//! Owns [`normalize_host`], which runs on every request: it answers with a slice of its input or
//! writes into a caller's stack buffer instead of allocating, and treats its input as hostile
//! (it never panics, whatever the bytes). It does not look anything up; that is `index`.

use super::pattern::MAX_HOST_LEN;

/// Size of the buffer [`normalize_host`] writes into: room for the longest host name.
pub const HOST_BUF_LEN: usize = 256;

const MAX_LABEL_LEN: usize = 63;

/// The port a raw `Host` value names (`example.com:8080`, `[::1]:8080`): 1 to 5 digits, or
/// `None` (no port, an empty one, or anything else after the colon). Only digits ever come back,
/// so a page may carry them into a link as they are.
pub fn port_of(raw: &str) -> Option<&str> {
    let after = match raw.strip_prefix('[') {
        Some(v6) => v6.split_once("]:")?.1,
        None => raw.rsplit_once(':')?.1,
    };
    (!after.is_empty() && after.len() <= 5 && after.bytes().all(|b| b.is_ascii_digit())).then_some(after)
}

/// Normalises a `Host` header value: strips a `:port` and one trailing dot, lowercases ASCII.
///
/// Returns `None` when the value is not a usable host: empty, longer than 253 characters, an
/// empty or over-long label, a character other than letters, digits, `-` and `.`, or a port
/// that is not a number up to 65535 (an empty port, `example.com:`, is allowed as in RFC 3986).
///
/// An IPv6 literal (`[::1]:80`) is valid and comes back bracketed and lowercased (`[::1]`): it is
/// a legitimate request, it just can never match a host pattern.
///
/// Almost every client already sends its host in lowercase, so the answer is then a slice of
/// `raw` itself; `buf` is written only when there is a capital letter to lower.
pub fn normalize_host<'a>(raw: &'a str, buf: &'a mut [u8; HOST_BUF_LEN]) -> Option<&'a str> {
    let bytes = raw.as_bytes();
    if bytes.first() == Some(&b'[') {
        return ipv6_literal(bytes, buf);
    }
    // One pass over the name: check each byte, count the label it is in, note a capital. The
    // name ends at the first colon. A colon inside a name is refused anyway, so taking the first
    // colon as the port's start accepts exactly what taking the last one would.
    let mut end = bytes.len();
    let mut label = 0;
    let mut capital = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => label += 1,
            b'A'..=b'Z' => {
                label += 1;
                capital = true;
            }
            b'.' if label == 0 => return None,
            b'.' => label = 0,
            b':' => {
                end = i;
                break;
            }
            _ => return None,
        }
        if label > MAX_LABEL_LEN {
            return None;
        }
    }
    if !valid_port_part(bytes.get(end..)?) {
        return None;
    }
    let mut name = raw.get(..end)?;
    // A name that ends in a dot loses it; an empty name (nothing before the port) is refused.
    // A dot right after another dot or at the start was refused above.
    if label == 0 {
        name = name.strip_suffix('.')?;
    }
    if name.len() > MAX_HOST_LEN {
        return None;
    }
    if !capital {
        return Some(name);
    }
    let out = buf.get_mut(..name.len())?;
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    // Always ASCII here, so this never fails; it is the safe way from bytes back to `&str`.
    std::str::from_utf8(out).ok()
}

/// `[` hex digits, colons and dots `]`, optionally followed by a port.
fn ipv6_literal<'a>(bytes: &[u8], buf: &'a mut [u8; HOST_BUF_LEN]) -> Option<&'a str> {
    let close = bytes.iter().position(|&b| b == b']')?;
    let inner = bytes.get(1..close)?;
    let ipv6_char = |b: &u8| b.is_ascii_hexdigit() || *b == b':' || *b == b'.';
    if !valid_port_part(bytes.get(close + 1..)?) || !inner.contains(&b':') || !inner.iter().all(ipv6_char) {
        return None;
    }
    let literal = bytes.get(..=close)?;
    let out = buf.get_mut(..literal.len())?;
    out.copy_from_slice(literal);
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// Empty, or `:` followed by up to five digits with a value of at most 65535.
fn valid_port_part(part: &[u8]) -> bool {
    match part.split_first() {
        None => true,
        Some((b':', digits)) => {
            digits.len() <= 5
                && digits.iter().all(u8::is_ascii_digit)
                && digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65_535
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_digits_only() {
        for (raw, port) in [
            ("example.com:8080", Some("8080")),
            ("example.com", None),
            ("example.com:", None),
            ("example.com:80a", None),
            ("example.com:123456", None),
            ("[::1]:8443", Some("8443")),
            ("[::1]", None),
            ("a:b:1", Some("1")),
            ("x:\"><script>", None),
        ] {
            assert_eq!(port_of(raw), port, "{raw:?}");
        }
    }

    fn check(raw: &str, expected: Option<&str>) {
        let mut buf = [0u8; HOST_BUF_LEN];
        assert_eq!(normalize_host(raw, &mut buf), expected, "raw {raw:?}");
    }

    #[test]
    fn normalises() {
        check("WWW324.Prozessplattform.DE:8443", Some("www324.prozessplattform.de"));
        check("example.com", Some("example.com"));
        check("example.com.", Some("example.com"));
        check("example.com.:80", Some("example.com"));
        check("example.com:", Some("example.com"));
        check("example.com:65535", Some("example.com"));
        check("example.com:0", Some("example.com"));
        check("localhost", Some("localhost"));
        check("127.0.0.1:8080", Some("127.0.0.1"));
        check("[::1]:80", Some("[::1]"));
        check("[::1]", Some("[::1]"));
        check("[::1]:", Some("[::1]"));
        check("[2001:DB8::1]:443", Some("[2001:db8::1]"));
        check("[::ffff:192.0.2.1]", Some("[::ffff:192.0.2.1]"));
        let longest = format!("{}{}", format!("{}.", "a".repeat(63)).repeat(3), "b".repeat(61));
        assert_eq!(longest.len(), 253);
        check(&longest, Some(&longest));
        check(&format!("{longest}."), Some(&longest));
        check(&format!("{}.de", "A".repeat(63)), Some(&format!("{}.de", "a".repeat(63))));
    }

    #[test]
    fn refuses() {
        let cases: Vec<String> = vec![
            "".into(),
            ".".into(),
            "..".into(),
            ":80".into(),
            ".:80".into(),
            ".example.com".into(),
            "example..com".into(),
            "example.com..".into(),
            "example.com:99999".into(),
            "example.com:65536".into(),
            "example.com:123456".into(),
            "example.com:8a".into(),
            "example.com:-1".into(),
            "example.com: 80".into(),
            "a:b:c".into(),
            "exämple.com".into(),
            "ex ample.com".into(),
            " example.com".into(),
            "ex_ample.com".into(),
            "*.example.com".into(),
            "example.com/".into(),
            "user@example.com".into(),
            "exam\0ple.com".into(),
            "[::1".into(),
            "[]".into(),
            "[]:80".into(),
            "[::1]x".into(),
            "[::1]:x".into(),
            "[::1]:99999".into(),
            "[zz::1]".into(),
            "[1.2.3.4]".into(),
            "[::1]]".into(),
            "]".into(),
            "[".into(),
            "x[::1]".into(),
            format!("{}.de", "a".repeat(64)),
            format!("{}b", format!("{}.", "a".repeat(63)).repeat(4)),
            format!("[{}]", "1:".repeat(200)),
        ];
        for raw in &cases {
            check(raw, None);
        }
    }

    /// The rule as the doc comment states it, written for clarity rather than speed: split the
    /// port off at the last colon, drop one trailing dot, check every label, lowercase.
    fn reference(raw: &str) -> Option<String> {
        if raw.starts_with('[') {
            let mut buf = [0u8; HOST_BUF_LEN];
            return ipv6_literal(raw.as_bytes(), &mut buf).map(str::to_string);
        }
        let (name, port) = match raw.rfind(':') {
            Some(colon) => (&raw[..colon], Some(&raw[colon + 1..])),
            None => (raw, None),
        };
        if let Some(port) = port {
            let number = port.is_empty() || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
            if !number || (!port.is_empty() && port.parse::<u32>().ok()? > 65_535) {
                return None;
            }
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let label_ok = |l: &str| {
            (1..=MAX_LABEL_LEN).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if name.len() > MAX_HOST_LEN || !name.split('.').all(label_ok) {
            return None;
        }
        Some(name.to_ascii_lowercase())
    }

    /// Arbitrary strings, built from characters that trip up host parsers, must never panic,
    /// must give what the plain statement of the rule gives, and whatever comes back must be a
    /// fixed point of normalisation.
    #[test]
    fn never_panics_and_is_idempotent() {
        const PIECES: &[&str] = &[
            "a", "Z", "0", "9", "-", ".", ":", "[", "]", "*", "_", " ", "\0", "\u{7f}", "ü", "ß", "İ", "\u{fffd}",
            "😀", "%", "/", "@", "..", "::", "www", "324", "0324", ":8443", "[::1]", "65535", "99999",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = (next() % 120) as usize;
            let raw: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            let mut buf = [0u8; HOST_BUF_LEN];
            let got = normalize_host(&raw, &mut buf);
            assert_eq!(got.map(str::to_string), reference(&raw), "raw {raw:?}");
            let Some(host) = got else { continue };
            accepted += 1;
            assert!(!host.is_empty() && host.len() < HOST_BUF_LEN, "{raw:?} gave {host:?}");
            assert!(!host.bytes().any(|b| b.is_ascii_uppercase()), "{raw:?} gave {host:?}");
            let host = host.to_string();
            let mut again = [0u8; HOST_BUF_LEN];
            assert_eq!(normalize_host(&host, &mut again), Some(host.as_str()), "not idempotent for {raw:?}");
        }
        // The generator must actually reach the accepting paths, or this test proves little.
        assert!(accepted > 100, "only {accepted} inputs were accepted");
        // Long inputs of every shape.
        for piece in PIECES {
            check(&piece.repeat(300), None);
        }
    }
}
