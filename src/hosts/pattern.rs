//! Host patterns as written in the configuration: exact hosts, `*.suffix` wildcards and
//! `prefix{lo..hi}suffix` numeric ranges.
//!
//! Owns [`HostPattern`] (parse, match, canonical `Display`) and its error type. `matches` here is
//! the reference semantics: the index in `index` must give the same answers, only faster. Does
//! not normalise raw `Host` headers (that is `normalize`) and does not index many patterns.
//!
//! Decisions worth knowing:
//! - A range matches only the canonical decimal form of a number: `www0324` is *not* 324 (only
//!   `0` itself may start with a zero). `www324` and `www0324` are different DNS names, and
//!   treating both as 324 would give one number two hosts. Range bounds with leading zeros are
//!   refused at parse time for the same reason, so `{007..010}` fails loudly instead of silently
//!   never matching.
//! - A digit right next to the braces (`www1{0..9}`, `{1..9}0.x`) is refused: the number must
//!   be a whole run of digits in the host. That keeps "which number is this" unambiguous, and it
//!   is what lets the index split range groups at a handful of points (see `index`).
//! - The wildcard `*.example.com` matches the literal string `*.example.com` and
//!   `*.a.example.com` (it ends with `.example.com`), but not `*.com`. The index relies on this
//!   to resolve a wildcard key with the wildcard text itself as representative.

use std::fmt;
use std::str::FromStr;

/// Longest host name (DNS presentation form without the trailing dot).
pub const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// A validated host pattern, stored lowercase and without a trailing dot.
///
/// The order (derived) is only there to make sets of patterns deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPattern {
    kind: Kind,
}

// Private so that every value went through `parse`: the index trusts, e.g., that a range's
// prefix does not end in a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Exact(Box<str>),
    /// The domain after `*.`.
    Wildcard(Box<str>),
    Range {
        prefix: Box<str>,
        lo: u32,
        hi: u32,
        suffix: Box<str>,
    },
}

/// A borrowed view of a [`HostPattern`]'s parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind<'a> {
    Exact(&'a str),
    /// `suffix` is the domain after `*.`, e.g. `example.com` for `*.example.com`.
    Wildcard {
        suffix: &'a str,
    },
    Range {
        prefix: &'a str,
        lo: u32,
        hi: u32,
        suffix: &'a str,
    },
}

/// What is wrong with a pattern text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternProblem {
    #[error("empty pattern")]
    Empty,
    #[error("contains whitespace")]
    Whitespace,
    #[error("invalid character {0:?} (allowed: a-z 0-9 - . and a leading `*.` or one `{{lo..hi}}`)")]
    InvalidChar(char),
    #[error("empty label")]
    EmptyLabel,
    #[error("label {0:?} is longer than 63 characters")]
    LabelTooLong(String),
    #[error("longer than 253 characters")]
    TooLong,
    #[error("`*` is only allowed as a leading `*.`")]
    MisplacedWildcard,
    #[error("a wildcard needs a domain after `*.`")]
    BareWildcard,
    #[error("a wildcard cannot be combined with a range")]
    WildcardWithRange,
    #[error("only one `{{lo..hi}}` range is allowed")]
    SeveralRanges,
    #[error("unbalanced `{{` or `}}`")]
    UnbalancedBrace,
    #[error("range {0:?} is not of the form `{{lo..hi}}`")]
    MalformedRange(String),
    #[error("range bound {0} has a leading zero")]
    LeadingZero(String),
    #[error("range bound {0} is larger than 4294967295")]
    BoundTooLarge(String),
    #[error("range start {lo} is greater than end {hi}")]
    Reversed { lo: u32, hi: u32 },
    #[error("a digit right next to `{{lo..hi}}` makes the number ambiguous; move it into the range")]
    DigitNextToRange,
}

/// A pattern text that could not be parsed, with the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {problem}")]
pub struct HostPatternError {
    text: String,
    problem: PatternProblem,
}

impl HostPatternError {
    /// The offending text, as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn problem(&self) -> &PatternProblem {
        &self.problem
    }
}

impl HostPattern {
    /// Parses a pattern from the configuration (case-insensitive, one trailing dot allowed).
    pub fn parse(text: &str) -> Result<HostPattern, HostPatternError> {
        parse_kind(text)
            .map(|kind| HostPattern { kind })
            .map_err(|problem| HostPatternError { text: text.into(), problem })
    }

    pub fn kind(&self) -> PatternKind<'_> {
        match &self.kind {
            Kind::Exact(h) => PatternKind::Exact(h),
            Kind::Wildcard(s) => PatternKind::Wildcard { suffix: s },
            Kind::Range { prefix, lo, hi, suffix } => PatternKind::Range { prefix, lo: *lo, hi: *hi, suffix },
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self.kind, Kind::Exact(_))
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self.kind, Kind::Wildcard(_))
    }

    pub fn is_range(&self) -> bool {
        matches!(self.kind, Kind::Range { .. })
    }

    /// Whether `host` (already normalised: lowercase, no port, no trailing dot) matches.
    ///
    /// A wildcard also matches the text of an equal or narrower wildcard (`*.example.com`
    /// matches `*.example.com` and `*.a.example.com`); exact and range patterns never match a
    /// text with `*` in it.
    pub fn matches(&self, host: &str) -> bool {
        match &self.kind {
            Kind::Exact(h) => **h == *host,
            Kind::Wildcard(s) => wildcard_matches(s, host),
            Kind::Range { .. } => self.number(host).is_some(),
        }
    }

    /// For a range pattern, the number in `host` when `host` matches; `None` otherwise.
    pub fn number(&self, host: &str) -> Option<u32> {
        let Kind::Range { prefix, lo, hi, suffix } = &self.kind else { return None };
        let n = range_number(prefix, suffix, host)?;
        (*lo <= n && n <= *hi).then_some(n)
    }
}

impl FromStr for HostPattern {
    type Err = HostPatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostPattern::parse(s)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Exact(h) => f.write_str(h),
            Kind::Wildcard(s) => write!(f, "*.{s}"),
            Kind::Range { prefix, lo, hi, suffix } => write!(f, "{prefix}{{{lo}..{hi}}}{suffix}"),
        }
    }
}

/// `*.suffix` matches when `.suffix` is a proper suffix of `host`.
pub(crate) fn wildcard_matches(suffix: &str, host: &str) -> bool {
    host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes().get(host.len() - suffix.len() - 1) == Some(&b'.')
}

/// The number between `prefix` and `suffix` in `host`, if the part between them is a canonical
/// decimal number (see [`parse_decimal`]).
pub(crate) fn range_number(prefix: &str, suffix: &str, host: &str) -> Option<u32> {
    // Stripping in sequence makes sure prefix and suffix do not overlap in the host.
    let middle = strip_prefix(host.as_bytes(), prefix.as_bytes())?;
    parse_decimal(strip_suffix(middle, suffix.as_bytes())?)
}

// An empty prefix or suffix is common (`{1..9}.x.de`, `www{1..9}`), and comparing it still calls
// `memcmp` with length 0, which measured ~40 ns on the build machine: more than the rest of a
// lookup. Hence the explicit test.
fn strip_prefix<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix.is_empty() {
        return Some(bytes);
    }
    bytes.strip_prefix(prefix)
}

fn strip_suffix<'a>(bytes: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    if suffix.is_empty() {
        return Some(bytes);
    }
    bytes.strip_suffix(suffix)
}

/// A canonical decimal number: digits only, no leading zero unless it is `0`, fits in a u32.
/// Anything else (empty, 30 digits, `0324`, `3a`) is `None`, never a panic or an overflow.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u32> {
    // Ten digits is the most a u32 has; checking first bounds the loop on hostile input.
    if digits.is_empty() || digits.len() > 10 || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    Some(n)
}

fn parse_kind(text: &str) -> Result<Kind, PatternProblem> {
    if text.chars().any(char::is_whitespace) {
        return Err(PatternProblem::Whitespace);
    }
    let lower = text.to_ascii_lowercase();
    let s = lower.strip_suffix('.').unwrap_or(&lower);
    if s.is_empty() {
        return Err(PatternProblem::Empty);
    }
    if s.contains('*') {
        if s == "*" {
            return Err(PatternProblem::BareWildcard);
        }
        let Some(rest) = s.strip_prefix("*.") else { return Err(PatternProblem::MisplacedWildcard) };
        if rest.contains('*') {
            return Err(PatternProblem::MisplacedWildcard);
        }
        if rest.is_empty() {
            return Err(PatternProblem::BareWildcard);
        }
        if rest.contains(['{', '}']) {
            return Err(PatternProblem::WildcardWithRange);
        }
        validate_name(rest)?;
        return Ok(Kind::Wildcard(rest.into()));
    }
    if s.contains(['{', '}']) {
        return parse_range(s);
    }
    validate_name(s)?;
    Ok(Kind::Exact(s.into()))
}

fn parse_range(s: &str) -> Result<Kind, PatternProblem> {
    if s.matches('{').count() > 1 || s.matches('}').count() > 1 {
        return Err(PatternProblem::SeveralRanges);
    }
    let (prefix, rest) = s.split_once('{').ok_or(PatternProblem::UnbalancedBrace)?;
    let (inner, suffix) = rest.split_once('}').ok_or(PatternProblem::UnbalancedBrace)?;
    let malformed = || PatternProblem::MalformedRange(inner.to_string());
    let (lo, hi) = inner.split_once("..").ok_or_else(malformed)?;
    let bound = |b: &str| -> Result<u32, PatternProblem> {
        if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
            return Err(malformed());
        }
        if b.len() > 1 && b.starts_with('0') {
            return Err(PatternProblem::LeadingZero(b.to_string()));
        }
        b.parse().map_err(|_| PatternProblem::BoundTooLarge(b.to_string()))
    };
    let (lo, hi) = (bound(lo)?, bound(hi)?);
    if lo > hi {
        return Err(PatternProblem::Reversed { lo, hi });
    }
    let digit_before = prefix.as_bytes().last().is_some_and(u8::is_ascii_digit);
    let digit_after = suffix.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if digit_before || digit_after {
        return Err(PatternProblem::DigitNextToRange);
    }
    // The longest host the range can match stands in for all of them: same labels, same
    // characters, and the most digits.
    validate_name(&format!("{prefix}{hi}{suffix}"))?;
    Ok(Kind::Range { prefix: prefix.into(), lo, hi, suffix: suffix.into() })
}

/// Checks a lowercase host name: allowed characters first (the most useful message), then
/// labels, then the total length.
fn validate_name(name: &str) -> Result<(), PatternProblem> {
    if let Some(c) = name.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.')) {
        return Err(PatternProblem::InvalidChar(c));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(PatternProblem::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(PatternProblem::LabelTooLong(label.to_string()));
        }
    }
    if name.len() > MAX_HOST_LEN {
        return Err(PatternProblem::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    mod parse {
        use super::*;

        /// `Ok` holds the canonical form, `Err` the whole error message.
        fn check(input: &str, expected: Result<&str, &str>) {
            let got = HostPattern::parse(input).map(|p| p.to_string()).map_err(|e| e.to_string());
            assert_eq!(got.as_deref().map_err(String::as_str), expected, "input {input:?}");
            // The canonical form must parse back to itself.
            if let Ok(canonical) = &got {
                let again = HostPattern::parse(canonical).map(|p| p.to_string());
                assert_eq!(again.as_ref(), Ok(canonical), "canonical form {canonical:?} does not round-trip");
            }
        }

        #[test]
        fn good_patterns() {
            check("www.example.com", Ok("www.example.com"));
            check("WWW.Example.COM.", Ok("www.example.com"));
            check("a-b.c0.de", Ok("a-b.c0.de"));
            check("localhost", Ok("localhost"));
            check("*.Example.com", Ok("*.example.com"));
            check("*.example.com.", Ok("*.example.com"));
            check("*.com", Ok("*.com"));
            check("www{324..330}.prozessplattform.de", Ok("www{324..330}.prozessplattform.de"));
            check("WWW{324..330}.Prozessplattform.DE.", Ok("www{324..330}.prozessplattform.de"));
            check("{0..9}.x.de", Ok("{0..9}.x.de"));
            check("www{5..5}", Ok("www{5..5}"));
            check("n{0..4294967295}.x", Ok("n{0..4294967295}.x"));
            check("a-{1..3}-b.x", Ok("a-{1..3}-b.x"));
        }

        #[test]
        fn bad_patterns() {
            let long_label = "a".repeat(64);
            let too_long = format!("{}de", format!("{}.", "a".repeat(63)).repeat(4));
            let cases: Vec<(String, String)> = vec![
                ("".into(), r#""": empty pattern"#.into()),
                (".".into(), r#"".": empty pattern"#.into()),
                ("www .x.de".into(), r#""www .x.de": contains whitespace"#.into()),
                (" www.x.de".into(), r#"" www.x.de": contains whitespace"#.into()),
                ("www.x.de\t".into(), r#""www.x.de\t": contains whitespace"#.into()),
                ("www..x.de".into(), r#""www..x.de": empty label"#.into()),
                (".x.de".into(), r#"".x.de": empty label"#.into()),
                ("x.de..".into(), r#""x.de..": empty label"#.into()),
                (
                    "www_1.x.de".into(),
                    r#""www_1.x.de": invalid character '_' (allowed: a-z 0-9 - . and a leading `*.` or one `{lo..hi}`)"#
                        .into(),
                ),
                (
                    "wüw.x.de".into(),
                    r#""wüw.x.de": invalid character 'ü' (allowed: a-z 0-9 - . and a leading `*.` or one `{lo..hi}`)"#
                        .into(),
                ),
                (
                    "x.de:80".into(),
                    r#""x.de:80": invalid character ':' (allowed: a-z 0-9 - . and a leading `*.` or one `{lo..hi}`)"#
                        .into(),
                ),
                ("a.*.x.de".into(), r#""a.*.x.de": `*` is only allowed as a leading `*.`"#.into()),
                ("*x.de".into(), r#""*x.de": `*` is only allowed as a leading `*.`"#.into()),
                ("*.*.x.de".into(), r#""*.*.x.de": `*` is only allowed as a leading `*.`"#.into()),
                ("*".into(), r#""*": a wildcard needs a domain after `*.`"#.into()),
                ("*.".into(), r#""*.": a wildcard needs a domain after `*.`"#.into()),
                ("*..".into(), r#""*..": a wildcard needs a domain after `*.`"#.into()),
                ("*..x.de".into(), r#""*..x.de": empty label"#.into()),
                ("*.www{1..3}.x.de".into(), r#""*.www{1..3}.x.de": a wildcard cannot be combined with a range"#.into()),
                ("www{330..324}.x.de".into(), r#""www{330..324}.x.de": range start 330 is greater than end 324"#.into()),
                ("www{1..3}.x{4..5}".into(), r#""www{1..3}.x{4..5}": only one `{lo..hi}` range is allowed"#.into()),
                ("www{1..3.x".into(), r#""www{1..3.x": unbalanced `{` or `}`"#.into()),
                ("www}1..3{.x".into(), r#""www}1..3{.x": unbalanced `{` or `}`"#.into()),
                ("www1..3}.x".into(), r#""www1..3}.x": unbalanced `{` or `}`"#.into()),
                ("www{1-3}.x".into(), r#""www{1-3}.x": range "1-3" is not of the form `{lo..hi}`"#.into()),
                ("www{..3}.x".into(), r#""www{..3}.x": range "..3" is not of the form `{lo..hi}`"#.into()),
                ("www{a..3}.x".into(), r#""www{a..3}.x": range "a..3" is not of the form `{lo..hi}`"#.into()),
                ("www{1...3}.x".into(), r#""www{1...3}.x": range "1...3" is not of the form `{lo..hi}`"#.into()),
                ("www{007..9}.x".into(), r#""www{007..9}.x": range bound 007 has a leading zero"#.into()),
                (
                    "www{1..4294967296}.x".into(),
                    r#""www{1..4294967296}.x": range bound 4294967296 is larger than 4294967295"#.into(),
                ),
                (
                    "www1{0..9}.x".into(),
                    r#""www1{0..9}.x": a digit right next to `{lo..hi}` makes the number ambiguous; move it into the range"#
                        .into(),
                ),
                (
                    "www{0..9}1.x".into(),
                    r#""www{0..9}1.x": a digit right next to `{lo..hi}` makes the number ambiguous; move it into the range"#
                        .into(),
                ),
                ("www{1..3}..x".into(), r#""www{1..3}..x": empty label"#.into()),
                (
                    "w_{1..3}.x".into(),
                    r#""w_{1..3}.x": invalid character '_' (allowed: a-z 0-9 - . and a leading `*.` or one `{lo..hi}`)"#
                        .into(),
                ),
                (format!("{long_label}.de"), format!(r#""{long_label}.de": label "{long_label}" is longer than 63 characters"#)),
                (too_long.clone(), format!(r#""{too_long}": longer than 253 characters"#)),
            ];
            for (input, message) in &cases {
                check(input, Err(message));
            }
        }
    }

    mod matching {
        use super::*;

        /// `number` is what [`HostPattern::number`] must say; `matches` is checked as well.
        fn check(pattern: &str, host: &str, matches: bool, number: Option<u32>) {
            let p = HostPattern::parse(pattern).map_err(|e| e.to_string());
            let Ok(p) = p else { panic!("bad pattern in test: {p:?}") };
            assert_eq!(p.matches(host), matches, "{pattern} vs {host:?}");
            assert_eq!(p.number(host), number, "number of {host:?} in {pattern}");
        }

        #[test]
        fn exact() {
            check("www.example.com", "www.example.com", true, None);
            check("www.example.com", "example.com", false, None);
            check("www.example.com", "www.example.co", false, None);
            check("www.example.com", "a.www.example.com", false, None);
            check("www.example.com", "*.example.com", false, None);
        }

        #[test]
        fn wildcard() {
            check("*.example.com", "a.example.com", true, None);
            check("*.example.com", "a.b.example.com", true, None);
            check("*.example.com", "example.com", false, None);
            check("*.example.com", ".example.com", false, None);
            check("*.example.com", "aexample.com", false, None);
            check("*.example.com", "example.com.evil", false, None);
            check("*.example.com", "", false, None);
            // Representatives of wildcard keys: equal or narrower wildcards match, broader not.
            check("*.example.com", "*.example.com", true, None);
            check("*.example.com", "*.a.example.com", true, None);
            check("*.example.com", "*.com", false, None);
            check("*.a.example.com", "*.example.com", false, None);
            check("*.example.com", "*.xample.com", false, None);
        }

        #[test]
        fn range() {
            let p = "www{324..330}.x.de";
            check(p, "www324.x.de", true, Some(324));
            check(p, "www327.x.de", true, Some(327));
            check(p, "www330.x.de", true, Some(330));
            check(p, "www323.x.de", false, None);
            check(p, "www331.x.de", false, None);
            check(p, "www0324.x.de", false, None);
            check(p, "www000324.x.de", false, None);
            check(p, "www.x.de", false, None);
            check(p, "wwwa24.x.de", false, None);
            check(p, "www3a4.x.de", false, None);
            check(p, "www-324.x.de", false, None);
            check(p, "www+324.x.de", false, None);
            check(p, "www324.x.de.x.de", false, None);
            check(p, "a.www324.x.de", false, None);
            check(p, "www99999999999999999999999999999.x.de", false, None);
            check(p, "www4294967296.x.de", false, None);
            check(p, "*.x.de", false, None);
            check(p, "*324.x.de", false, None);
            check("{0..9}.x.de", "0.x.de", true, Some(0));
            check("{0..9}.x.de", "00.x.de", false, None);
            check("{0..9}.x.de", ".x.de", false, None);
            check("n{4294967290..4294967295}", "n4294967295", true, Some(4294967295));
            check("n{4294967290..4294967295}", "n4294967289", false, None);
            // Prefix and suffix may not share characters of the host.
            check("a{1..3}-a", "a-a", false, None);
            check("a{1..3}-a", "a2-a", true, Some(2));
            // Not a range: no number.
            check("*.x.de", "www324.x.de", true, None);
        }

        #[test]
        fn decimal_numbers() {
            let cases: &[(&str, Option<u32>)] = &[
                ("0", Some(0)),
                ("7", Some(7)),
                ("324", Some(324)),
                ("4294967295", Some(u32::MAX)),
                ("4294967296", None),
                ("9999999999", None),
                ("99999999999999999999999999999", None),
                ("", None),
                ("00", None),
                ("0324", None),
                ("3a", None),
                ("-3", None),
                ("٣", None),
            ];
            for &(digits, expected) in cases {
                assert_eq!(parse_decimal(digits.as_bytes()), expected, "{digits:?}");
            }
        }
    }

    #[test]
    fn kind_and_predicates() {
        let parts = |t: &str| {
            let p = HostPattern::parse(t).map_err(|e| e.to_string());
            p.map(|p| (format!("{:?}", p.kind()), p.is_exact(), p.is_wildcard(), p.is_range()))
        };
        assert_eq!(parts("a.de"), Ok((r#"Exact("a.de")"#.to_string(), true, false, false)));
        assert_eq!(parts("*.a.de"), Ok((r#"Wildcard { suffix: "a.de" }"#.to_string(), false, true, false)));
        assert_eq!(
            parts("w{1..2}.de"),
            Ok((r#"Range { prefix: "w", lo: 1, hi: 2, suffix: ".de" }"#.to_string(), false, false, true))
        );
    }
}
