//! Content negotiation: which language and which format a request gets its page in.
//!
//! Pure functions over header values; a malformed header is read as absent (never an error:
//! a page must still go out). Weights (`q=`) are respected; ties go to the earlier entry.

use crate::config::Language;

/// Splits a header list into (value, q) pairs, q in thousandths; a missing q counts as 1000,
/// a malformed one as 0 (refused). Works on bytes and allocates nothing: it runs for every
/// answer of the gateway's own.
fn weighted(header: &[u8]) -> impl Iterator<Item = (&[u8], u16)> {
    header.split(|b| *b == b',').filter_map(|item| {
        let mut parts = item.split(|b| *b == b';');
        let value = parts.next()?.trim_ascii();
        if value.is_empty() {
            return None;
        }
        let mut q = 1000;
        for p in parts {
            let p = p.trim_ascii();
            if let Some(v) = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")) {
                q = qvalue(v.trim_ascii()).unwrap_or(0);
            }
        }
        Some((value, q))
    })
}

/// RFC 9110 qvalue: `0`, `0.5`, `0.123`, `1`, `1.000` → thousandths.
fn qvalue(b: &[u8]) -> Option<u16> {
    let (&first, rest) = b.split_first()?;
    if first != b'0' && first != b'1' {
        return None;
    }
    let mut q = u16::from(first - b'0') * 1000;
    match rest {
        [] => {}
        [b'.', digits @ ..] if digits.len() <= 3 => {
            for (i, d) in digits.iter().enumerate() {
                if !d.is_ascii_digit() {
                    return None;
                }
                q += u16::from(d - b'0') * [100, 10, 1][i];
            }
        }
        _ => return None,
    }
    (q <= 1000).then_some(q)
}

/// The best supported language in an `Accept-Language` header.
pub fn language(header: Option<&str>) -> Option<Language> {
    let mut best: Option<(Language, u16)> = None;
    for (tag, q) in weighted(header?.as_bytes()) {
        if q == 0 {
            continue;
        }
        let primary = tag.split(|b| *b == b'-' || *b == b'_').next().unwrap_or(b"");
        if let Some(lang) = std::str::from_utf8(primary).ok().and_then(Language::parse) {
            if best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
    }
    best.map(|(l, _)| l)
}

/// What a media range in `Accept` stands for here.
fn media_kind(media: &[u8]) -> Option<bool> {
    const JSON: [&[u8]; 2] = [b"application/json", b"application/problem+json"];
    const HTML: [&[u8]; 4] = [b"text/html", b"application/xhtml+xml", b"text/*", b"*/*"];
    let is = |t: &[u8]| media.eq_ignore_ascii_case(t);
    let structured_json = media.len() > 17
        && media[..12].eq_ignore_ascii_case(b"application/")
        && media[media.len() - 5..].eq_ignore_ascii_case(b"+json");
    if JSON.iter().any(|t| is(t)) || structured_json {
        Some(true)
    } else if HTML.iter().any(|t| is(t)) {
        Some(false)
    } else {
        None
    }
}

/// Whether an `Accept` header prefers JSON (`application/json`, `application/problem+json`)
/// to HTML. Wildcards count for HTML: a client that takes anything gets the page.
pub fn prefers_json(header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let (mut json, mut html) = (0u16, 0u16);
    for (media, q) in weighted(header.as_bytes()) {
        match media_kind(media) {
            Some(true) => json = json.max(q),
            Some(false) => html = html.max(q),
            None => {}
        }
    }
    json > 0 && json > html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        let cases: &[(Option<&str>, Option<Language>)] = &[
            (Some("de-DE,de;q=0.9,en;q=0.8"), Some(Language::De)),
            (Some("fr, en;q=0.5, nb;q=0.7"), Some(Language::Nb)),
            (Some("nn-NO"), Some(Language::Nb)),
            (Some("en;q=0, de;q=0.1"), Some(Language::De)),
            (Some("fr"), None),
            (Some(";;;,q=x,, de;q=abc"), None),
            (Some(""), None),
            (None, None),
            (Some("EN-gb"), Some(Language::En)),
        ];
        for (header, expected) in cases {
            assert_eq!(language(*header), *expected, "{header:?}");
        }
    }

    #[test]
    fn qvalues() {
        let cases = [
            ("1", Some(1000)),
            ("0", Some(0)),
            ("0.8", Some(800)),
            ("0.85", Some(850)),
            ("1.000", Some(1000)),
            ("0.001", Some(1)),
        ];
        for (text, q) in cases {
            assert_eq!(qvalue(text.as_bytes()), q, "{text}");
        }
        for bad in ["", "2", "1.5", "0.1234", "abc", "0.x", ".5", "-1"] {
            assert_eq!(qvalue(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        let cases: &[(Option<&str>, bool)] = &[
            (Some("application/json"), true),
            (Some("application/problem+json"), true),
            (Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), false),
            (Some("application/json, */*;q=0.8"), true),
            (Some("text/html;q=0.5, application/json;q=0.4"), false),
            (Some("text/html;q=0.4, application/json;q=0.5"), true),
            (Some("*/*"), false),
            (Some("application/json;q=0"), false),
            (Some("garbage;;q=="), false),
            (None, false),
        ];
        for (header, expected) in cases {
            assert_eq!(prefers_json(*header), *expected, "{header:?}");
        }
    }
}
