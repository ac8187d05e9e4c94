//! Content negotiation: which language and which format a request gets its page in.
//!
//! Pure functions over header values; a malformed header is read as absent (never an error:
//! a page must still go out). Weights (`q=`) are respected; ties go to the earlier entry.

use crate::config::Language;

/// Splits a header list into (value, q) pairs; a bad or missing q counts as 1, q=0 as refused.
fn weighted(header: &str) -> impl Iterator<Item = (&str, f32)> {
    header.split(',').filter_map(|item| {
        let mut parts = item.split(';');
        let value = parts.next()?.trim();
        if value.is_empty() {
            return None;
        }
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")) {
                q = v.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)).unwrap_or(0.0);
            }
        }
        Some((value, q))
    })
}

/// The best supported language in an `Accept-Language` header.
pub fn language(header: Option<&str>) -> Option<Language> {
    let mut best: Option<(Language, f32)> = None;
    for (tag, q) in weighted(header?) {
        if q <= 0.0 {
            continue;
        }
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if let Some(lang) = Language::parse(primary) {
            if best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
    }
    best.map(|(l, _)| l)
}

/// Whether an `Accept` header prefers JSON (`application/json`, `application/problem+json`)
/// to HTML. Wildcards count for HTML: a client that takes anything gets the page.
pub fn prefers_json(header: Option<&str>) -> bool {
    let Some(header) = header else { return false };
    let (mut json, mut html) = (0.0f32, 0.0f32);
    for (media, q) in weighted(header) {
        let media = media.to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "application/problem+json" => json = json.max(q),
            m if m.starts_with("application/") && m.ends_with("+json") => json = json.max(q),
            "text/html" | "application/xhtml+xml" | "text/*" | "*/*" => html = html.max(q),
            _ => {}
        }
    }
    json > 0.0 && json > html
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
