//! Reading one configuration file so that only a complete one, of bounded cost, reaches the
//! TOML parser.
//!
//! Owns [`read`]: the size is checked from the file's metadata before a byte is read and again
//! while reading (the file may grow); the nesting of brackets, braces and dotted keys is
//! measured while reading ([`Nesting`]), so a deeply nested file is refused after its first
//! few bytes instead of after the parser has built its tokens (a 10 MB nested file cost the
//! parser about 500 MB); a file that changed while it was read (its size or modification time
//! moved, or fewer bytes came than it had) is refused, and so is an empty main file. It does not parse,
//! validate or watch (`super::load`, `control::reload`).

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

/// The size limit when the configuration does not set `[gateway] max_config_size`.
pub const DEFAULT_MAX_SIZE: u64 = 16 * 1024 * 1024;

/// The largest `max_config_size` there is; also what is read of a main file at start, before
/// its own limit is known.
pub const MAX_MAX_SIZE: u64 = 1024 * 1024 * 1024;

/// The smallest `max_config_size`: below it even a small configuration would not fit.
pub const MIN_MAX_SIZE: u64 = 4 * 1024;

/// How deep values may nest, counting `[`, `{` and the parts of a dotted key (`a.b.c` is 3).
/// A configuration of this gateway nests 4 deep at most (`[[tenants]]` with `health = {…}`);
/// TOML's parser has a recursion limit too, but meets it only after tokenising the whole file.
pub const MAX_NESTING: usize = 32;

/// The bytes read at a time: the nesting scan stops a refused file after one of these.
const CHUNK: usize = 64 * 1024;

/// What a file looked like: size, modification time and inode (a rename puts another one there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: SystemTime,
    pub inode: u64,
}

impl Stamp {
    pub fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp { len: m.len(), modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH), inode: m.ino() }
    }
}

/// Reads `path` as UTF-8 text when it fits into `limit` after the `used` bytes of the files
/// read before it; `Err` says why not, in words.
pub fn read(path: &Path, used: u64, limit: u64) -> Result<String, String> {
    read_with(path, used, limit, |_| ())
}

/// [`read`], calling `between` after each chunk with the bytes read so far (a test changes
/// the file there).
fn read_with(path: &Path, used: u64, limit: u64, mut between: impl FnMut(usize)) -> Result<String, String> {
    let budget = limit.saturating_sub(used);
    let too_large = |size: u64| too_large(size, used, limit);
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read the file: {e}"))?;
    // A pipe (`check --config <(…)`) has no size to compare with: only the limit applies.
    let regular = meta.is_file();
    let before = Stamp::of(&meta);
    if before.len > budget {
        return Err(too_large(before.len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(before.len).unwrap_or(0));
    let mut nesting = Nesting::default();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read the file: {e}")),
        };
        if bytes.len() as u64 + n as u64 > budget {
            return Err(too_large(bytes.len() as u64 + n as u64));
        }
        nesting.feed(&chunk[..n])?;
        bytes.extend_from_slice(&chunk[..n]);
        between(bytes.len());
    }
    let after = file.metadata().map(|m| Stamp::of(&m)).map_err(|e| format!("cannot read the file: {e}"))?;
    if regular && (after != before || bytes.len() as u64 != before.len) {
        return Err(format!(
            "the file changed while it was read ({} bytes, then {}; {} read): not applied, it is \
             read again once it holds still",
            before.len,
            after.len,
            bytes.len()
        ));
    }
    String::from_utf8(bytes).map_err(|_| "cannot read the file: it is not UTF-8 text".to_string())
}

/// The nesting check of [`read`], for text that is already in memory.
pub fn nesting(text: &str) -> Result<(), String> {
    Nesting::default().feed(text.as_bytes())
}

/// A main file must say something: an empty one is what a truncated or half-written file
/// looks like. (An included file may be empty: an emergency file before its first switch.)
pub fn not_empty(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(empty());
    }
    Ok(())
}

/// Why `size` bytes, after `used` bytes of other files, do not fit into `limit`.
pub fn too_large(size: u64, used: u64, limit: u64) -> String {
    let with = if used == 0 { String::new() } else { format!(" (with the {} before it)", show_size(used)) };
    format!(
        "{}{with} is more than a configuration may have ({} for all its files; \
         `[gateway] max_config_size` in the main file raises it)",
        show_size(size),
        show_size(limit)
    )
}

fn empty() -> String {
    "the file is empty: a truncated or half-written file is never applied (write a new file \
     beside it and rename it into place)"
        .to_string()
}

/// "20.0 MiB" etc. for messages.
pub fn show_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b >= KIB * KIB * KIB && b % (KIB * KIB * KIB) == 0 => format!("{} GiB", b / (KIB * KIB * KIB)),
        b if b >= KIB * KIB && b % (KIB * KIB) == 0 => format!("{} MiB", b / (KIB * KIB)),
        b if b >= KIB * KIB => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// The nesting scan: fed the text in pieces, it fails as soon as the nesting passes
/// [`MAX_NESTING`]. It follows strings and comments (brackets in them do not count) and counts
/// the dots since the last `=`, `,`, bracket or line end as parts of a dotted key; a float's
/// dot counts too, which only ever adds one.
#[derive(Debug, Default)]
pub struct Nesting {
    state: State,
    depth: usize,
    dots: usize,
    line: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Plain,
    Comment,
    /// `n` quotes `q` seen in a row where a string may start.
    Quotes(u8, u8),
    /// In a one-line string; `true` right after a backslash.
    Line(u8, bool),
    /// In a multi-line string: its quote, after a backslash, quotes in a row.
    Multi(u8, bool, u8),
}

impl Nesting {
    /// Scans the next piece; `Err` names the line where the nesting passed the limit.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        for &b in bytes {
            self.byte(b);
            if self.depth + self.dots > MAX_NESTING {
                return Err(format!(
                    "line {}: nested more than {MAX_NESTING} deep (brackets, braces and dotted keys); \
                     a configuration needs a few levels",
                    self.line + 1
                ));
            }
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) {
        if b == b'\n' {
            self.line += 1;
        }
        self.state = match self.state {
            State::Comment if b == b'\n' => {
                self.dots = 0;
                State::Plain
            }
            State::Comment => State::Comment,
            State::Line(q, true) => State::Line(q, false),
            State::Line(b'"', false) if b == b'\\' => State::Line(b'"', true),
            State::Line(q, false) if b == q || b == b'\n' => State::Plain,
            s @ State::Line(..) => s,
            State::Multi(q, true, _) => State::Multi(q, false, 0),
            State::Multi(b'"', false, _) if b == b'\\' => State::Multi(b'"', true, 0),
            State::Multi(q, false, n) if b == q => State::Multi(q, false, n.saturating_add(1)),
            // Three quotes or more in a row closed it (up to two of them are content).
            State::Multi(_, false, n) if n >= 3 => self.plain(b),
            State::Multi(q, false, _) => State::Multi(q, false, 0),
            State::Quotes(q, n) if b == q && n < 2 => State::Quotes(q, n + 1),
            State::Quotes(q, 2) if b == q => State::Multi(q, false, 0),
            // `""` was an empty string; this byte is outside it.
            State::Quotes(_, 2) => self.plain(b),
            // One quote opened a one-line string; this byte is its first.
            State::Quotes(q, _) => {
                self.state = State::Line(q, false);
                self.byte_in_line(q, b)
            }
            State::Plain => self.plain(b),
        };
    }

    fn byte_in_line(&mut self, q: u8, b: u8) -> State {
        match b {
            b'\\' if q == b'"' => State::Line(q, true),
            b'\n' => State::Plain,
            _ if b == q => State::Plain,
            _ => State::Line(q, false),
        }
    }

    fn plain(&mut self, b: u8) -> State {
        match b {
            b'#' => return State::Comment,
            b'"' | b'\'' => return State::Quotes(b, 1),
            b'[' | b'{' => {
                self.depth += 1;
                self.dots = 0;
            }
            b']' | b'}' => {
                self.depth = self.depth.saturating_sub(1);
                self.dots = 0;
            }
            b'=' | b',' | b'\n' => self.dots = 0,
            b'.' => self.dots += 1,
            _ => {}
        }
        State::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deepest(text: &str) -> Result<(), String> {
        let mut n = Nesting::default();
        // Fed in small pieces too: a string or a triple quote may be cut anywhere.
        for piece in text.as_bytes().chunks(3) {
            n.feed(piece)?;
        }
        Ok(())
    }

    #[test]
    fn nesting_counts_brackets_and_dotted_keys_outside_strings_and_comments() {
        let deep = |n: usize| format!("a = {}{}\n", "[".repeat(n), "]".repeat(n));
        let ok = [
            deep(MAX_NESTING),
            "[[tenants]]\nid = \"a\"\nhealth = { path = \"/h\", interval = \"1.5s\" }\n".to_string(),
            format!("s = \"{}\"\n", "[".repeat(100)),
            format!("s = '{}'\n", "{".repeat(100)),
            format!("s = \"\"\"\n{}\n\"\"\"\n", "[".repeat(100)),
            format!("s = '''{}'''\n", "[".repeat(100)),
            format!("s = \"\\\"{}\"\n", "[".repeat(100)),
            format!("s = \"\"\"\"\"{}\"\"\"\"\"\n", "[".repeat(100)),
            format!("# {}\n", "[".repeat(100)),
            format!("e = \"\"\nx = {}\n", "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING)),
            format!("k = [{}]\n", "1.5, ".repeat(100)),
            format!("\"{}\" = 1\n", "a.".repeat(100)),
        ];
        for text in &ok {
            assert_eq!(deepest(text), Ok(()), "{text}");
        }
        let bad = [
            deep(MAX_NESTING + 1),
            format!("x = 1\n{} = 1\n", vec!["a"; MAX_NESTING + 2].join(".")),
            format!("[{}]\n", vec!["a"; MAX_NESTING + 2].join(".")),
            format!("a = {}1\n", "{b=".repeat(MAX_NESTING + 1)),
            // After a closed multi-line string, brackets count again.
            format!("s = \"\"\"x\"\"\"\na = {}\n", "[".repeat(MAX_NESTING + 1)),
        ];
        for text in &bad {
            assert!(deepest(text).is_err_and(|e| e.contains("nested more than")), "{text}");
        }
        assert!(deepest(&format!("\n\n{}", deep(100))).is_err_and(|e| e.starts_with("line 3:")));
    }

    #[test]
    fn read_refuses_oversized_and_deep_files_in_words() {
        let dir = std::env::temp_dir().join(format!("hiatus-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        assert_eq!(read(&file("ok.toml", "a = 1\n"), 0, 100).as_deref(), Ok("a = 1\n"));
        assert_eq!(read(&file("empty.toml", ""), 0, 100).as_deref(), Ok(""), "an include may be empty");
        for text in ["", " \n\t\n"] {
            assert!(not_empty(text).is_err_and(|e| e.contains("empty")), "{text:?}");
        }
        assert_eq!(not_empty("# nothing yet\n"), Ok(()));
        assert!(read(&file("big.toml", &"#".repeat(101)), 0, 100).is_err_and(|e| e.starts_with("101 bytes is more")));
        let with = read(&file("big.toml", &"#".repeat(60)), 50, 100);
        assert!(with.is_err_and(|e| e.starts_with("60 bytes (with the 50 bytes before it) is more than")));
        let deep = format!("a = {}", "[".repeat(10 * CHUNK));
        assert!(read(&file("deep.toml", &deep), 0, u64::MAX).is_err_and(|e| e.contains("line 1: nested")));
        assert!(read(&dir.join("missing.toml"), 0, 100).is_err_and(|e| e.contains("cannot read")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A file that grows, or is cut, while it is read is refused; read again when it holds
    /// still, it is read whole. The file changes between two chunks of the read.
    #[test]
    fn a_file_that_changes_while_it_is_read_is_refused() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("hiatus-read-changed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("hiatus.toml");
        let text = format!("# {}\n", "x".repeat(3 * CHUNK));
        type Change = fn(&Path);
        let changes: [(&str, Change); 2] = [
            ("appended", |p| {
                let mut f = std::fs::OpenOptions::new().append(true).open(p).expect("open");
                f.write_all(b"[[tenants]]\n").expect("append");
            }),
            ("cut", |p| {
                std::fs::OpenOptions::new().write(true).open(p).and_then(|f| f.set_len(10)).expect("cut");
            }),
        ];
        for (what, change) in changes {
            std::fs::write(&path, &text).expect("write");
            let mut changed = false;
            let r = read_with(&path, 0, u64::MAX, |_| {
                if !changed {
                    change(&path);
                    changed = true;
                }
            });
            assert!(r.is_err_and(|e| e.contains("changed while it was read")), "{what}");
            assert!(read(&path, 0, u64::MAX).is_ok(), "{what}: read again, it is whole");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(show_size(16 * 1024 * 1024), "16 MiB");
        assert_eq!(show_size(21 * 1024 * 1024 / 2), "10.5 MiB");
        assert_eq!(show_size(4096), "4 KiB");
        assert_eq!(show_size(1 << 30), "1 GiB");
        assert_eq!(show_size(4097), "4097 bytes");
    }
}
