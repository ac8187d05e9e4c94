//! A query string as a log may show it: the values of parameters whose names look like secrets
//! (`token`, `api_key`, `X-Amz-Signature`, `code`, `session`, …) replaced by `[redacted]`.
//!
//! Owns the list of such names and [`query`]. It errs on the side of hiding: a name is a secret
//! when one of its words (split at anything not a letter or digit) is on the short list, or when
//! it contains one of the long words anywhere (`accesstoken`, `sessionid`, `author` too).

use std::borrow::Cow;

/// Words that are secrets when they are a whole word of a name: short ones would match too
/// much inside other words (`key` in `monkey`, `sig` in `design`).
const WORDS: [&str; 8] = ["key", "sig", "code", "pass", "pwd", "sid", "jwt", "otp"];

/// Parts that make a name a secret wherever they appear in it.
const PARTS: [&str; 9] =
    ["token", "secret", "password", "passwd", "auth", "signature", "session", "apikey", "credential"];

/// Whether a parameter named `name` (as sent, maybe percent-encoded) holds a secret.
pub fn is_secret(name: &str) -> bool {
    let name = decoded(name).to_ascii_lowercase();
    PARTS.iter().any(|p| name.contains(p))
        || name.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| WORDS.contains(&w))
}

/// `%XX` escapes decoded (a name may be spelt `%74oken`); anything else kept.
fn decoded(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// `query` (without its `?`) with the values of secret parameters replaced; borrowed when
/// there is none, which is the common case.
pub fn query(query: &str) -> Cow<'_, str> {
    let secret = |pair: &str| pair.split_once('=').is_some_and(|(name, _)| is_secret(name));
    if !query.split(['&', ';']).any(secret) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    loop {
        let end = rest.find(['&', ';']).unwrap_or(rest.len());
        let pair = &rest[..end];
        match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => {
                out.push_str(name);
                out.push_str("=[redacted]");
            }
            _ => out.push_str(pair),
        }
        let Some(sep) = rest[end..].chars().next() else { break };
        out.push(sep);
        rest = &rest[end + 1..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_redacted_and_the_rest_kept() {
        let cases = [
            ("q=shoes&page=2", "q=shoes&page=2"),
            ("token=abc&q=1", "token=[redacted]&q=1"),
            ("API_KEY=k1;lang=de", "API_KEY=[redacted];lang=de"),
            ("X-Amz-Signature=f00&X-Amz-Date=1", "X-Amz-Signature=[redacted]&X-Amz-Date=1"),
            ("code=oauth&state=s", "code=[redacted]&state=s"),
            ("%74oken=x&sessionid=y&password=z", "%74oken=[redacted]&sessionid=[redacted]&password=[redacted]"),
            ("auth=1&sig=2&passwd=3&secret=4", "auth=[redacted]&sig=[redacted]&passwd=[redacted]&secret=[redacted]"),
            ("monkey=1&design=2&barcode_x=3", "monkey=1&design=2&barcode_x=3"),
            ("access_token=t&", "access_token=[redacted]&"),
            ("flag&key=", "flag&key=[redacted]"),
            ("", ""),
        ];
        for (q, shown) in cases {
            assert_eq!(query(q), shown, "{q}");
        }
        assert!(matches!(query("a=1&b=2"), Cow::Borrowed(_)), "nothing to hide: no copy");
    }
}
