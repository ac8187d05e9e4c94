//! Where a key path (`windows[3].monthly.on`) is in a file's text: the line and column that
//! `check` prints, as compilers do.
//!
//! Owns [`Locator`]. Validation works on `toml::Table`s, which keep no positions; once the
//! findings are known, each one's key path is looked up in a spanned parse
//! (`toml::de::DeTable`) of the text. A path is resolved as deep as the file has it: a key
//! that is missing (a window without `zone`) is placed at the table that lacks it. A large
//! file is not parsed whole for this (a spanned tree of 10 000 tenants is tens of MiB): the
//! section that holds the path's first key (`[[windows]]` number 3, `[gateway]`) is found
//! with `sections::headers` and parsed alone, if it is small ([`MAX_PIECE`]; a larger one —
//! a section of dense arrays — places its findings at its header). A large text whose sections
//! cannot be found is not parsed again at all (its findings keep no position): locating must
//! never cost what the load cost (a 3 MB section of dense arrays took 14 s and 440 MB to parse
//! with spans). A small text is parsed whole, once. Does not validate anything.

use super::diagnostic::Position;
use super::sections;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The most structure a section may have to be parsed with spans to place a finding inside it:
/// brackets, braces, commas and equals signs, which is what a parse's cost grows with (a
/// section of comments is cheap whatever its size, one of dense arrays is not).
pub const MAX_PIECE: usize = 20_000;

/// Whether parsing `piece` with spans costs little enough (see [`MAX_PIECE`]).
fn small(piece: &str) -> bool {
    piece.bytes().filter(|b| matches!(b, b'[' | b']' | b'{' | b'}' | b',' | b'=')).count() <= MAX_PIECE
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

/// `windows[3].monthly.on` → `windows`, 3, `monthly`, `on`; `None` for what is not a key path
/// (empty, or text such as a sentence).
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        out.push(Step::Key(key));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            out.push(Step::Index(index.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(out)
}

/// Looks key paths up in one file's text; what it parses is kept for the next path.
#[derive(Debug)]
pub struct Locator<'t> {
    text: &'t str,
    /// The top-level headers, once looked for (`None` inside: the scanner gave up).
    headers: Option<Option<Vec<sections::Header>>>,
    /// The whole text, parsed once when a section alone was not enough.
    whole: Option<Option<Spanned<DeTable<'t>>>>,
}

impl<'t> Locator<'t> {
    pub fn new(text: &'t str) -> Locator<'t> {
        Locator { text, headers: None, whole: None }
    }

    /// The position of `path` (or of the deepest part of it the file has); `None` for an
    /// empty path or one whose first key is not in the file.
    pub fn position(&mut self, path: &str) -> Option<Position> {
        let steps = steps(path)?;
        let offset = match self.in_section(&steps) {
            Some(offset) => offset,
            None => self.in_whole(&steps)?,
        };
        Some(Position::of(self.text, offset))
    }

    /// The offset found in the one section that holds `steps[0]`, for large files only.
    fn in_section(&mut self, steps: &[Step<'_>]) -> Option<usize> {
        if self.text.len() < sections::MIN_LEN {
            return None;
        }
        let text = self.text;
        let headers = self.headers.get_or_insert_with(|| sections::headers(text)).as_deref()?;
        let Step::Key(first) = steps[0] else { return None };
        // `windows[3]` is the fourth `[[windows]]`; the piece then holds one element, index 0.
        let (nth, array) = match steps.get(1) {
            Some(Step::Index(i)) => (*i, true),
            _ => (0, false),
        };
        let named: Vec<usize> =
            (0..headers.len()).filter(|&i| sections::header_name(text, headers[i]) == Some(first)).collect();
        // Where a header names the key: as a spanned parse places a table's key.
        let key_in = |h: sections::Header| h.start + text[h.start..].find(first).unwrap_or(0);
        let Some(&at) = named.get(nth) else {
            return match named.first() {
                // `tenants[7]` of seven: the first `[[tenants]]`, as the whole parse would say.
                Some(&i) => Some(key_in(headers[i])),
                // A key of the root table, before the first header.
                None => {
                    let root = text.get(..headers.first().map_or(text.len(), |h| h.start))?;
                    if !small(root) {
                        return None;
                    }
                    lookup(DeTable::parse(root).ok()?.get_ref(), steps)
                }
            };
        };
        let header = headers[at];
        if header.array != array {
            return None;
        }
        let end = headers.get(at + 1).map_or(text.len(), |h| h.start);
        let piece = text.get(header.start..end)?;
        if !small(piece) {
            return Some(key_in(header));
        }
        let table = DeTable::parse(piece).ok()?;
        let mut local: Vec<Step<'_>> = steps.to_vec();
        if array {
            local[1] = Step::Index(0);
        }
        lookup(table.get_ref(), &local).map(|o| o + header.start)
    }

    fn in_whole(&mut self, steps: &[Step<'_>]) -> Option<usize> {
        let text = self.text;
        if text.len() >= sections::MIN_LEN {
            return None;
        }
        let whole = self.whole.get_or_insert_with(|| DeTable::parse(text).ok()).as_ref()?;
        lookup(whole.get_ref(), steps)
    }
}

/// The offset of the deepest step of `steps` found from `table`: a key's own span, an array
/// element's value. `None` when not even the first key is there.
fn lookup(table: &DeTable<'_>, steps: &[Step<'_>]) -> Option<usize> {
    let Some(Step::Key(first)) = steps.first() else { return None };
    let (key, mut value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    let mut found = key.span().start;
    for step in &steps[1..] {
        let next = match (step, value.get_ref()) {
            (Step::Key(k), DeValue::Table(t)) => {
                t.iter().find(|(key, _)| key.get_ref() == k).map(|(key, v)| (key.span(), v))
            }
            (Step::Index(i), DeValue::Array(a)) => a.get(*i).map(|v| (v.span(), v)),
            _ => None,
        };
        let Some((span, v)) = next else { break };
        found = span.start;
        value = v;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(path, line, column)` in one text, through the whole-text parse and, padded past
    /// `sections::MIN_LEN`, through a section alone.
    fn check(text: &str, cases: &[(&str, Option<(usize, usize)>)]) {
        let padded = format!("{text}\n{}", "# padding so that the file is parsed by sections\n".repeat(1500));
        assert!(padded.len() >= sections::MIN_LEN);
        for source in [text, padded.as_str()] {
            let mut locator = Locator::new(source);
            for (path, expected) in cases {
                let got = locator.position(path).map(|p| (p.line, p.column));
                assert_eq!(got, *expected, "{path} in a text of {} bytes", source.len());
            }
        }
    }

    #[test]
    fn key_paths_are_found_where_the_file_has_them() {
        let text = r#"include = ["a.toml", "b.toml"]
colour = "blue"

[gateway]
listen = ["127.0.0.1:80"]
  [gateway.bypass]
  secret = "s"

[[tenants]]
id = "a"

[[tenants]]
id = "b"
health = { http = { path = "/x" } }

[[windows]]
id = "w"
daily = { at = "25:00", until = "06:00" }
title.en = "T"
"#;
        check(
            text,
            &[
                ("include[1]", Some((1, 22))),
                ("colour", Some((2, 1))),
                ("gateway.listen", Some((5, 1))),
                ("gateway.bypass.secret", Some((7, 3))),
                ("tenants[1].id", Some((13, 1))),
                ("tenants[1].health.http.path", Some((14, 21))),
                ("windows[0].daily.at", Some((18, 11))),
                ("windows[0].title.en", Some((19, 7))),
                // Missing keys: the deepest part the file has.
                ("windows[0].zone", Some((16, 1))),
                ("windows[0].daily.for", Some((18, 1))),
                ("tenants[2].id", Some((9, 3))),
                ("nothing", None),
                ("", None),
                ("line 4, column 40", None),
            ],
        );
    }

    /// Locating costs little whatever the file: a huge section is placed at its header, and a
    /// large text whose sections cannot be cut is not parsed again.
    #[test]
    fn large_pieces_are_placed_at_their_header_and_large_texts_are_not_parsed_whole() {
        let dense = format!("[[tenants]]\nid = \"a\"\n\n[[tenants]]\nid = \"b\"\nx = [{}]\n", "[[1]],".repeat(20_000));
        let mut locator = Locator::new(&dense);
        let at = |l: &mut Locator<'_>, p: &str| l.position(p).map(|p| (p.line, p.column));
        assert_eq!(at(&mut locator, "tenants[1].x"), Some((4, 3)));
        assert_eq!(at(&mut locator, "tenants[0].id"), Some((2, 1)));
        // An unbalanced bracket in a comment-free value: the scanner gives up, and so does this.
        let uncut = format!("x = \"{}\"\ny = [\n", "a".repeat(sections::MIN_LEN));
        assert_eq!(at(&mut Locator::new(&uncut), "y"), None);
        assert_eq!(at(&mut Locator::new("y = [1, 2]\n"), "y[1]"), Some((1, 9)));
    }

    #[test]
    fn steps_of_a_path() {
        assert_eq!(
            steps("windows[3].weekly.on[1]"),
            Some(vec![Step::Key("windows"), Step::Index(3), Step::Key("weekly"), Step::Key("on"), Step::Index(1)])
        );
        assert_eq!(steps("a[1][2]"), Some(vec![Step::Key("a"), Step::Index(1), Step::Index(2)]));
        assert_eq!(steps("a[x]"), None);
        assert_eq!(steps(""), None);
    }
}
