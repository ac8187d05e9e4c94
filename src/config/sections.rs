//! Parsing a large configuration file section by section, to keep a reload's peak memory small.
//!
//! `text.parse::<toml::Table>()` on a whole file holds every lexer token of the file and the
//! parser's intermediate tables at once, next to the table it builds: for 10 000 `[[tenants]]`
//! (940 KB) the parse peaks at 35.4 MiB of heap (valgrind massif: 12.9 MB of tokens, 10.7 MB of
//! `DeTable` nodes), during every hot reload while the running configuration is still in
//! memory. [`parse`] cuts such a file at its top-level one-key headers (`[[tenants]]`,
//! `[gateway]`, …), parses the pieces one after the other (runs of `[[key]]` sections in chunks
//! of about [`CHUNK`] bytes) and merges them, so only one chunk's transient is alive at a time.
//! Measured on that file with glibc malloc (massif): the parse now peaks at 12.4 MiB (the table
//! itself and the text); `hiatus check` peaks at 14.9 MiB instead of 35.4, in validation now.
//! Maximum RSS of `hiatus check`: 36.4 → 25.7 MiB with glibc malloc, 66.3 → 44.2 MiB with
//! mimalloc (the binary's allocator). A program that only reads and parses the file executes
//! 14% more instructions (205 M against 180 M: the boundary scan, a parser set-up per chunk);
//! its wall time is the same (0.04 to 0.05 s).
//!
//! The result is the whole-document parse, always: whenever anything is unusual (a piece does
//! not parse, a piece defines a key other than its own header's, a table is opened twice, a
//! header this scanner does not follow) the whole document is parsed as before, which also
//! gives the errors (messages and positions) exactly as before. Correctness rests on that: a
//! piece that parses alone ends with a newline after complete expressions, so the whole-document
//! parser reaches the next piece's header at the top level too; a piece that only defines its
//! own header's key cannot conflict with other pieces except through that key, which the merge
//! checks. The scanner only decides where to cut; if it cuts wrongly, a piece fails to parse.

use std::collections::BTreeSet;
use toml::{Table, Value};

/// Below this size the whole document is parsed at once: its transient is small anyway.
pub const MIN_LEN: usize = 64 * 1024;

/// Consecutive `[[key]]` sections are parsed together while they start within this many bytes
/// of the first: the transient of one parse stays well below a megabyte.
pub const CHUNK: usize = 16 * 1024;

/// Parses `text` exactly as `text.parse::<toml::Table>()` does (same table, same error), section
/// by section when it is at least [`MIN_LEN`] bytes long.
pub fn parse(text: &str) -> Result<Table, toml::de::Error> {
    if text.len() >= MIN_LEN {
        if let Some(table) = parse_sections(text) {
            return Ok(table);
        }
    }
    text.parse::<Table>()
}

/// The section-by-section parse alone, whatever the size: `None` when the document must be
/// parsed whole (it is invalid, or unusual in a way listed in the module documentation).
pub fn parse_sections(text: &str) -> Option<Table> {
    let headers = headers(text)?;
    let root_end = headers.first().map_or(text.len(), |h| h.start);
    let mut root: Table = text.get(..root_end)?.parse().ok()?;
    // Keys whose array was built from `[[key]]` sections only: the ones a `[[key]]` may extend.
    let mut arrays: BTreeSet<String> = BTreeSet::new();
    let mut i = 0;
    while i < headers.len() {
        let first = headers[i];
        // Runs of `[[key]]` sections with the same header text are parsed together, up to
        // CHUNK bytes: parsing each element alone costs a fixed overhead per parse.
        let mut next = i + 1;
        if first.array {
            let key = header_key(text, first)?;
            while headers
                .get(next)
                .is_some_and(|h| h.array && h.start - first.start < CHUNK && header_key(text, *h) == Some(key))
            {
                next += 1;
            }
        }
        let end = headers.get(next).map_or(text.len(), |h| h.start);
        let piece: Table = text.get(first.start..end)?.parse().ok()?;
        if piece.len() != 1 {
            return None;
        }
        let (key, value) = piece.into_iter().next()?;
        match (first.array, value) {
            (true, Value::Array(items)) if items.len() == next - i && items.iter().all(Value::is_table) => {
                if arrays.contains(&key) {
                    match root.get_mut(&key) {
                        Some(Value::Array(existing)) => existing.extend(items),
                        _ => return None,
                    }
                } else if root.contains_key(&key) {
                    return None;
                } else {
                    arrays.insert(key.clone());
                    root.insert(key, Value::Array(items));
                }
            }
            (false, value @ Value::Table(_)) => {
                if root.contains_key(&key) {
                    return None;
                }
                root.insert(key, value);
            }
            _ => return None,
        }
        i = next;
    }
    Some(root)
}

/// A top-level header whose key is one bare or quoted key: where a section starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte offset of the start of the header's line (before any indentation).
    pub start: usize,
    /// `[[key]]` rather than `[key]`.
    pub array: bool,
}

/// The top-level one-key headers of `text` in order, outside strings, comments and values.
///
/// Headers with dotted keys (`[windows.once]`) belong to the section before them. `None` when
/// the scanner meets something it does not follow: a header it cannot read, an unterminated
/// string, unbalanced brackets.
pub fn headers(text: &str) -> Option<Vec<Header>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    // Open `[` and `{` of values: a line that starts inside one is not a header.
    let mut depth = 0usize;
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        if line_start {
            line_start = false;
            let start = i;
            i = skip_blank(b, i);
            if depth == 0 && b.get(i) == Some(&b'[') {
                let (end, array, single) = header(b, i)?;
                if single {
                    out.push(Header { start, array });
                }
                i = end;
            }
            continue;
        }
        match b[i] {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'#' => i = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p),
            b'"' | b'\'' => i = string(b, i)?,
            b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    (depth == 0).then_some(out)
}

/// The text between the brackets of the header of `h`, as written (quotes and blanks kept).
fn header_key(text: &str, h: Header) -> Option<&[u8]> {
    let b = text.as_bytes();
    let at = skip_blank(b, h.start);
    let (end, ..) = header(b, at)?;
    let brackets = if h.array { 2 } else { 1 };
    b.get(at + brackets..end.checked_sub(brackets)?)
}

/// The key a header `h` opens, unquoted when it is a simple quoted key (`["gateway"]`).
pub fn header_name(text: &str, h: Header) -> Option<&str> {
    let key = std::str::from_utf8(header_key(text, h)?).ok()?.trim_matches([' ', '\t']);
    let unquoted = key.strip_prefix('"').and_then(|k| k.strip_suffix('"'));
    let unquoted = unquoted.or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')));
    Some(unquoted.unwrap_or(key))
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// Reads the table header whose `[` is at `i`: (offset past its closing bracket(s), whether it
/// is `[[…]]`, whether its key is a single key). `None` if it is not a header this reads.
fn header(b: &[u8], i: usize) -> Option<(usize, bool, bool)> {
    let array = b.get(i + 1) == Some(&b'[');
    let mut j = i + 1 + usize::from(array);
    let mut parts = 0;
    loop {
        j = skip_blank(b, j);
        match *b.get(j)? {
            q @ (b'"' | b'\'') => {
                if b[j..].starts_with(&[q, q, q]) {
                    return None; // keys are never multi-line strings
                }
                j = string(b, j)?;
            }
            _ => {
                let bare = b[j..].iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')).count();
                if bare == 0 {
                    return None;
                }
                j += bare;
            }
        }
        parts += 1;
        j = skip_blank(b, j);
        if b.get(j) != Some(&b'.') {
            break;
        }
        j += 1;
    }
    let close: &[u8] = if array { b"]]" } else { b"]" };
    if !b[j..].starts_with(close) {
        return None;
    }
    Some((j + close.len(), array, parts == 1))
}

/// The offset past the string whose opening quote is at `i`: basic (`"`, with `\` escapes) or
/// literal (`'`), single- or multi-line. `None` if it does not end (or a single-line one
/// meets the end of its line).
fn string(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    let escapes = q == b'"';
    let triple = [q, q, q];
    if b[i..].starts_with(&triple) {
        let mut j = i + 3;
        loop {
            match *b.get(j)? {
                b'\\' if escapes => j += 2,
                c if c == q && b[j..].starts_with(&triple) => {
                    // Up to two more quotes right before the closing three are content.
                    j += 3;
                    for _ in 0..2 {
                        if b.get(j) == Some(&q) {
                            j += 1;
                        }
                    }
                    return Some(j);
                }
                _ => j += 1,
            }
        }
    }
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            b'\\' if escapes => j += 2,
            b'\n' => return None,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
}
