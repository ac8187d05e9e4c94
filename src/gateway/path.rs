//! Request paths as routing reads them: which tenant a path belongs to when origins may read
//! the same bytes as different resources.
//!
//! The gateway forwards the path as sent: rewriting it would change what the origin's own
//! access rules, signatures and logs see. A path-prefix tenant (`/mandant-a`) therefore cannot be
//! chosen on the raw bytes, nor on one normal form of our choosing: `/%6dandant-a/x`,
//! `//mandant-a/x`, `/x/../mandant-a/x` or `/mandant-a%2Fx` would pass as "not `mandant-a`" while
//! the origin serves `/mandant-a/x` — during `mandant-a`'s maintenance. The rule here: route on
//! what every plausible origin reading of the path agrees on, and refuse (400) a path whose
//! readings disagree.
//!
//! - **Validation** (every path): a `%` without two hex digits, `%00`, and a raw byte below 0x20
//!   or 0x7f are invalid. Origins differ most on exactly these (cut at NUL, 400, pass through).
//!   Bytes from 0x80 (UTF-8) are fine.
//! - **Base form**: escapes of unreserved characters (RFC 3986: `ALPHA DIGIT - . _ ~`) decoded,
//!   since every origin treats `%6d` as `m`; other escapes kept, their hex in upper case, so
//!   `%2f` and `%2F` compare equal. Decoded once: `%252F` is the data `%2F`, never a separator.
//! - **Readings** of the base form: `%2F`, `%5C` and `\` as separators or as data (first, so
//!   `..%2F` becomes a dot segment), then dot segments kept or resolved (RFC 3986 §5.2.4), runs of
//!   `/` kept or merged. When both are resolved and merged, the order matters (`/x//../a` is `/a`
//!   merged first, as nginx does, and `/x/a` resolved first, as RFC 3986 does), so both orders
//!   count: ten readings, not eight.
//! - **Fast path**: a path without `%`, `\`, `//` and dot segments has one reading, itself: one
//!   scan, one call of the router, no allocation. That is nearly every request.
//!
//! Paths that do not start with `/` (`*`) are validated and then their own single reading.
//! [`canonical`] gives the one fully normal form, for the gateway's own paths.
//!
//! Does not: split off the query (the caller does), know hosts or tenants (the router is a
//! closure), rewrite what the origin receives, or answer requests. Readings it does not model:
//! path parameters (`;jsessionid=…`, Tomcat's `..;`), case-insensitive or trailing-dot-stripping
//! file systems, decoding twice, and separators decoded only after dots and slashes were
//! normalised.

use std::borrow::Cow;

/// Why a path gets no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Malformed (broken escape, encoded NUL, control byte); the reason is for logs.
    #[error("invalid path: {0}")]
    Invalid(&'static str),
    /// Well-formed, but origins may read it as paths that route differently.
    #[error("ambiguous path: origins may read it as another tenant's")]
    Ambiguous,
}

/// What `route` returns for `raw` (the path without its query), provided every origin reading
/// of `raw` routes the same; the router is called once per distinct reading, once on the fast
/// path.
pub fn route_by<T: PartialEq>(raw: &str, mut route: impl FnMut(&str) -> T) -> Result<T, PathError> {
    if !has_readings(raw.as_bytes())? || !raw.starts_with('/') {
        return Ok(route(raw));
    }
    let base = decode_unreserved(raw);
    let agreed = route(&base);
    for as_separators in [false, true] {
        let path = if as_separators {
            match split_separators(&base) {
                // No encoded separators: the readings below are the ones already routed.
                Cow::Borrowed(_) => break,
                owned => owned,
            }
        } else {
            Cow::Borrowed(&*base)
        };
        let dots = remove_dot_segments(&path);
        let slashes = merge_slashes(&path);
        let dots_then_slashes = merge_slashes(&dots);
        let slashes_then_dots = remove_dot_segments(&slashes);
        let readings = [&*path, &*dots, &*slashes, &*dots_then_slashes, &*slashes_then_dots];
        for (i, reading) in readings.iter().enumerate() {
            // Most steps change nothing; the same string routes the same, and the router may
            // be a host lookup, so it is not asked twice.
            if *reading == &*base || readings[..i].contains(reading) {
                continue;
            }
            if route(reading) != agreed {
                return Err(PathError::Ambiguous);
            }
        }
    }
    Ok(agreed)
}

/// The fully normal form of `raw`: unreserved characters decoded, `%2F`, `%5C` and `\` as `/`,
/// slashes merged, then dot segments resolved (nginx's order; the result has neither `//` nor
/// dot segments). For the gateway's own paths (`/.hiatus/…`, the status page); borrowed when
/// `raw` is already in that form.
pub fn canonical(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !has_readings(raw.as_bytes())? || !raw.starts_with('/') {
        return Ok(Cow::Borrowed(raw));
    }
    let base = decode_unreserved(raw);
    let split = split_separators(&base);
    let merged = merge_slashes(&split);
    let resolved = remove_dot_segments(&merged);
    if *resolved == *raw {
        Ok(Cow::Borrowed(raw))
    } else {
        Ok(Cow::Owned(resolved.into_owned()))
    }
}

/// Whether `raw` has exactly one reading (no escape, backslash, `//` or dot segment): then it
/// is its own canonical form and routes as it is. `Err` when it is malformed. One pass; the
/// caller that gets `true` needs neither [`canonical`] nor [`route_by`].
pub fn plain(raw: &str) -> Result<bool, PathError> {
    has_readings(raw.as_bytes()).map(|readings| !readings)
}

/// One pass over the raw path: `Err` if it is malformed, else whether it may be read in more
/// than one way (an escape, a backslash, `//`, or a `.` or `..` segment). A segment that merely
/// starts with a dot (`/.well-known`) stays on the fast path.
fn has_readings(raw: &[u8]) -> Result<bool, PathError> {
    // Control characters anywhere: a branch-free pass the compiler vectorises.
    if raw.iter().fold(false, |bad, &b| bad | (b < 0x20) | (b == 0x7f)) {
        return Err(PathError::Invalid("control character"));
    }
    // Then only the bytes that can start another reading, found a word at a time.
    let mut readings = false;
    for i in memchr::memchr3_iter(b'%', b'\\', b'/', raw) {
        let rest = raw.get(i + 1..).unwrap_or_default();
        match raw[i] {
            b'%' => match rest {
                [b'0', b'0', ..] => return Err(PathError::Invalid("encoded NUL (%00)")),
                [h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => readings = true,
                _ => return Err(PathError::Invalid("% not followed by two hex digits")),
            },
            b'\\' => readings = true,
            _ => {
                readings |=
                    matches!(rest, [b'/', ..] | [b'.'] | [b'.', b'/', ..] | [b'.', b'.'] | [b'.', b'.', b'/', ..])
            }
        }
    }
    Ok(readings)
}

/// The value of two hex digits.
fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |d: u8| char::from(d).to_digit(16);
    match pair {
        [h, l] => u8::try_from(digit(*h)? * 16 + digit(*l)?).ok(),
        _ => None,
    }
}

/// RFC 3986 §2.3: the characters every origin decodes from an escape without a second thought.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The base form: escapes of unreserved characters decoded, every other escape kept with its
/// hex in upper case. Afterwards each `%` starts an escape, which the steps below rely on.
fn decode_unreserved(raw: &str) -> Cow<'_, str> {
    let mut pieces = raw.split('%');
    let first = pieces.next().unwrap_or("");
    if first.len() == raw.len() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    out.push_str(first);
    for piece in pieces {
        // Validation has made every piece start with two hex digits; were it not so, the
        // bytes would be kept as they are, which is what an origin sees anyway.
        let Some((pair, rest)) = piece.split_at_checked(2) else {
            out.push('%');
            out.push_str(piece);
            continue;
        };
        match hex_pair(pair.as_bytes()) {
            Some(b) if is_unreserved(b) => out.push(char::from(b)),
            _ => {
                out.push('%');
                out.extend(pair.chars().map(|c| c.to_ascii_uppercase()));
            }
        }
        out.push_str(rest);
    }
    Cow::Owned(out)
}

/// The base form with `%2F`, `%5C` and `\` read as `/` (some origins decode them before they
/// split the path, Windows and some frameworks treat `\` as `/`).
fn split_separators(base: &str) -> Cow<'_, str> {
    let mut pieces = base.split('%');
    let first = pieces.next().unwrap_or("");
    let escaped_separator = pieces.clone().any(|p| p.starts_with("2F") || p.starts_with("5C"));
    if !escaped_separator && !base.contains('\\') {
        return Cow::Borrowed(base);
    }
    let mut out = String::with_capacity(base.len());
    let mut push = |s: &str| out.extend(s.chars().map(|c| if c == '\\' { '/' } else { c }));
    push(first);
    for piece in pieces {
        match piece.strip_prefix("2F").or_else(|| piece.strip_prefix("5C")) {
            Some(rest) => {
                push("/");
                push(rest);
            }
            None => {
                push("%");
                push(piece);
            }
        }
    }
    Cow::Owned(out)
}

/// Runs of `/` merged into one.
fn merge_slashes(path: &str) -> Cow<'_, str> {
    if !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    let mut after_slash = false;
    for c in path.chars() {
        if !(c == '/' && after_slash) {
            out.push(c);
        }
        after_slash = c == '/';
    }
    Cow::Owned(out)
}

/// RFC 3986 §5.2.4 remove_dot_segments, for a path that starts with `/`: `.` segments dropped,
/// `..` drops the segment before it (nothing above the root), and a final `.` or `..` leaves a
/// trailing `/`. An empty segment (from `//`) is a segment like any other.
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(|s| s == "." || s == "..") {
        return Cow::Borrowed(path);
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." => {}
            ".." => {
                kept.pop();
            }
            s => {
                kept.push(s);
                continue;
            }
        }
        if last {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in kept {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Tenant {
        A,
        B,
        Api,
        ApiV2,
        /// The host's whole-host tenant: what a path without a matching prefix gets.
        Host,
    }
    use Tenant::*;

    /// The engine's rule (`engine::snapshot::path_matches`): a prefix matches whole segments.
    fn route(path: &str) -> Tenant {
        let prefixes = [("/mandant-a", A), ("/mandant-b", B), ("/api/v2", ApiV2), ("/api", Api)];
        for (prefix, tenant) in prefixes {
            if path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
                return tenant;
            }
        }
        Host
    }

    const AMBIGUOUS: Result<Tenant, PathError> = Err(PathError::Ambiguous);
    /// The reason of an `Invalid` is not compared.
    const INVALID: Result<Tenant, PathError> = Err(PathError::Invalid(""));

    fn check(input: &str, expected: Result<Tenant, PathError>) {
        let got = route_by(input, route);
        let same = match (&got, &expected) {
            (Err(PathError::Invalid(_)), Err(PathError::Invalid(_))) => true,
            _ => got == expected,
        };
        assert!(same, "{input:?}: got {got:?}, expected {expected:?}");
    }

    #[test]
    fn plain_paths_route_as_they_are() {
        for (input, expected) in [
            ("/", Host),
            ("/mandant-a", A),
            ("/mandant-a/", A),
            ("/mandant-a/x/y.html", A),
            ("/mandant-ab", Host),
            ("/mandant-a.", Host),
            ("/mandant-a/x.", A),
            ("/mandant-a/...", A),
            ("/mandant-a/..x", A),
            ("/MANDANT-A/x", Host),
            ("/mandant-b/x", B),
            ("/api/v2/x", ApiV2),
            ("/api/v20", Api),
            ("/x/mandant-a", Host),
            ("/.well-known/acme-challenge/t", Host),
            ("/mandant-a/.well-known/x", A),
            ("/mandant-a/ü", A),
            ("/ü/mandant-a", Host),
            ("/mandant-a/a b", A),
            ("*", Host),
            ("mandant-a", Host),
            ("", Host),
        ] {
            check(input, Ok(expected));
        }
    }

    #[test]
    fn spellings_every_reading_agrees_on_route_there() {
        for (input, expected) in [
            ("/%6dandant-a/x", A),
            ("/%6D%61ndant-a/x", A),
            ("/mandant-%61", A),
            ("/%6D%41NDANT-A", Host),
            ("/mandant-a//x", A),
            ("/mandant-a/./x", A),
            ("/mandant-a/x/../y", A),
            ("/mandant-a/.", A),
            ("/mandant-a/x/..", A),
            ("/mandant-a/x/.%2E", A),
            ("/mandant-a/x%2Fy", A),
            ("/mandant-a/x%5cy\\z", A),
            ("/mandant-a/%C3%BC", A),
            ("/mandant-a/%c3%bc", A),
            ("/%c3%bc/mandant-a", Host),
            ("/%2Ewell-known/x", Host),
            // Decoded once: `%25` is the data `%`, so `%252F` never separates anything.
            ("/mandant-a%252Fx", Host),
            ("/mandant-a%252F..%252Fmandant-b", Host),
            ("/x%20y/mandant-a", Host),
        ] {
            check(input, Ok(expected));
        }
    }

    #[test]
    fn spellings_readings_disagree_on_are_ambiguous() {
        for input in [
            "//mandant-a/x",
            "///mandant-a",
            "/./mandant-a/x",
            "/x/../mandant-a/x",
            "/x/..%2fmandant-a/x",
            "/mandant-b/..%2Fmandant-a/x",
            "/mandant-a%2Fx",
            "/mandant-a%2fx",
            "/mandant-a%5Cx",
            "/mandant-a%5cx",
            "/mandant-a\\x",
            "/mandant-a\\..\\mandant-b",
            "/%2e%2e/mandant-a",
            "/%2E%2E/mandant-a",
            "/.%2e/mandant-a",
            "/%2e/mandant-a",
            "/mandant-a/%2e%2e/mandant-b",
            "/mandant-a/../../mandant-b",
            "/mandant-a/..",
            "/mandant-a/%2e%2e",
            "/api%2Fv2",
            "/api/v2/..",
            "/x%2F..%2Fmandant-a",
            // Merged first (nginx) this is `/mandant-a`; resolved first (RFC 3986) `/x/mandant-a`.
            "/x//../mandant-a",
            // ... and this `/x` merged first, `/mandant-a/x` resolved first.
            "/mandant-a//../x",
        ] {
            check(input, AMBIGUOUS);
        }
    }

    #[test]
    fn malformed_paths_are_invalid() {
        for input in [
            "%00",
            "/%00",
            "/mandant-a%00/x",
            "/a%zz",
            "/a%2",
            "/a%",
            "/a%%41",
            "/a%g1",
            "/a%u006d",
            "/a\0b",
            "/a\tb",
            "/a\r\nb",
            "/a\x7fb",
            "/a\x1f",
            "*%zz",
            "*\n",
        ] {
            check(input, INVALID);
            assert!(matches!(canonical(input), Err(PathError::Invalid(_))), "{input:?}");
        }
        // Anything else, including a control character spelled as an escape, is well-formed.
        check("/mandant-a/%0a", Ok(A));
        check("/mandant-a/%7F%FF", Ok(A));
    }

    #[test]
    fn the_router_is_asked_once_per_distinct_reading() {
        for (input, expected) in [
            ("/mandant-a/x/.well-known", 1),
            // An escape that is not a separator changes no reading.
            ("/mandant-a/%C3%BC.pdf", 1),
            // Kept and read as a separator.
            ("/mandant-a/x%2Fy", 2),
            // Kept; resolved (= resolved, then merged); merged; merged, then resolved: refused.
            ("/x//../mandant-a", 4),
        ] {
            let mut calls = 0;
            let _ = route_by(input, |p| {
                calls += 1;
                route(p)
            });
            assert_eq!(calls, expected, "{input:?}");
        }
    }

    #[test]
    fn canonical_forms() {
        for (input, expected) in [
            ("/", "/"),
            ("/mandant-a/x", "/mandant-a/x"),
            ("/.hiatus/app.css", "/.hiatus/app.css"),
            ("/%2Ehiatus/app.css", "/.hiatus/app.css"),
            ("//.hiatus//x/./y/../z", "/.hiatus/x/z"),
            ("/a%2fb%5Cc\\d", "/a/b/c/d"),
            ("/a%252f", "/a%252f"),
            ("/a%2a%252F", "/a%2A%252F"),
            ("/a%c3%bc", "/a%C3%BC"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/..", "/"),
            ("/../../a", "/a"),
            ("/x//../a", "/a"),
            ("*", "*"),
        ] {
            assert_eq!(canonical(input).as_deref(), Ok(expected), "{input:?}");
        }
        for already in ["/", "/mandant-a/x", "/.hiatus/app.css", "/a%C3%BC", "/a%20b", "*"] {
            assert!(matches!(canonical(already), Ok(Cow::Borrowed(_))), "{already:?}");
        }
    }

    /// Deterministic choices for building a spelling, so proptest can shrink them.
    struct Choices<'a>(std::iter::Cycle<std::slice::Iter<'a, u8>>);

    impl Choices<'_> {
        fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
            let n = self.0.next().copied().unwrap_or(0);
            from.get(usize::from(n) % from.len()).copied().unwrap_or("")
        }
        fn coin(&mut self) -> bool {
            self.0.next().is_some_and(|n| n % 4 == 0)
        }
    }

    /// Unreserved characters percent-encoded at random, in random hex case; kept escapes in
    /// random hex case.
    fn respell(segment: &str, c: &mut Choices) -> String {
        let mut out = String::new();
        let mut chars = segment.chars();
        while let Some(ch) = chars.next() {
            if ch == '%' {
                out.push('%');
                for d in chars.by_ref().take(2) {
                    out.push(if c.coin() { d.to_ascii_lowercase() } else { d });
                }
            } else if ch.is_ascii() && is_unreserved(ch as u8) && c.coin() {
                let hex = format!("{:02X}", ch as u8);
                out.push('%');
                for d in hex.chars() {
                    out.push(if c.coin() { d.to_ascii_lowercase() } else { d });
                }
            } else {
                out.push(ch);
            }
        }
        out
    }

    fn slash(c: &mut Choices) -> &'static str {
        c.pick(&["/", "/", "/", "/", "//", "%2F", "%2f", "%5C", "%5c", "\\"])
    }

    /// Spellings that every full normalisation reads as nothing: `./`, `seg/../`, in any
    /// spelling, each ending in a separator.
    fn detours(c: &mut Choices) -> String {
        let mut out = String::new();
        for _ in 0..3 {
            match c.pick(&["stop", "stop", "dot", "up"]) {
                "dot" => {
                    out += c.pick(&[".", "%2E", "%2e"]);
                    out += slash(c);
                }
                "up" => {
                    let seg = c.pick(&["x", "mandant-a", "mandant-b", "api", "v2", "..."]);
                    out += &respell(seg, c);
                    out += slash(c);
                    for _ in 0..2 {
                        out += c.pick(&[".", "%2E", "%2e"]);
                    }
                    out += slash(c);
                }
                _ => break,
            }
        }
        out
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "mandant-a",
                "mandant-b",
                "api",
                "v2",
                "mandant-ab",
                "ü",
                "%C3%BC",
                "%20",
                ".well-known",
                "...",
            ])
            .prop_map(String::from),
            "[a-z0-9._~-]{1,6}".prop_filter("not a dot segment", |s| s != "." && s != ".."),
        ]
    }

    proptest! {
        /// An equivalent spelling of a path routes where the path does, or is refused: never
        /// to another tenant.
        #[test]
        fn a_respelled_path_never_routes_elsewhere(
            segments in proptest::collection::vec(segment(), 0..5),
            trailing in any::<bool>(),
            choices in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let mut truth = format!("/{}", segments.join("/"));
            let mut c = Choices(choices.iter().cycle());
            let mut spelling = String::from("/");
            if c.coin() {
                spelling += slash(&mut c);
            }
            spelling += &detours(&mut c);
            for (i, s) in segments.iter().enumerate() {
                if i > 0 {
                    spelling += slash(&mut c);
                    spelling += &detours(&mut c);
                }
                spelling += &respell(s, &mut c);
            }
            if trailing && !segments.is_empty() {
                truth.push('/');
                spelling += slash(&mut c);
                spelling += &detours(&mut c);
                if c.coin() {
                    spelling += c.pick(&[".", "%2E", "%2e"]);
                }
            }
            let canon = canonical(&spelling);
            prop_assert_eq!(canon.as_deref(), Ok(truth.as_str()), "{}", spelling);
            let got = route_by(&spelling, route);
            prop_assert!(got == Ok(route(&truth)) || got == AMBIGUOUS, "{}: {:?}", spelling, got);
        }

        /// A path without escapes, backslashes, `//` and dot segments is its only reading.
        #[test]
        fn a_plain_path_routes_as_it_is(segments in proptest::collection::vec(segment(), 0..5)) {
            let raw = format!("/{}", segments.join("/").replace('%', ""));
            prop_assert_eq!(has_readings(raw.as_bytes()), Ok(false));
            prop_assert_eq!(route_by(&raw, route), Ok(route(&raw)));
            prop_assert!(matches!(canonical(&raw), Ok(Cow::Borrowed(_))));
        }

        /// Any string: no panic, one verdict on validity, and what `route_by` agrees on is
        /// also where the canonical form routes; the canonical form is canonical.
        #[test]
        fn any_path_is_handled(
            raw in prop_oneof![any::<String>(), r"[/\\.%25fFcCeE0-9am~-]{0,24}", r"/[/\\.%2FfcC5eE]{0,16}"],
        ) {
            let routed = route_by(&raw, route);
            let canon = canonical(&raw);
            prop_assert_eq!(routed.is_err_and(|e| e != PathError::Ambiguous), canon.is_err(), "{:?}", raw);
            if let Ok(canon) = canon {
                if let Ok(tenant) = routed {
                    prop_assert_eq!(route(&canon), tenant, "{:?}", raw);
                }
                prop_assert!(matches!(canonical(&canon), Ok(Cow::Borrowed(_))), "{:?} -> {:?}", raw, canon);
            }
        }
    }
}
