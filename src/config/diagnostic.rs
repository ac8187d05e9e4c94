//! Errors and warnings about a configuration, each with its file, line and column, and key path.
//!
//! Owns [`Diagnostic`] and [`Report`]. Every message names the offending value, so that an
//! operator can fix a file from the message alone (STYLE.md 2 and 7); the position
//! (`file:line:column`, as compilers write it, so editors jump there) is filled in once the
//! findings are known (`locate`), from the key path.

use std::fmt;

/// One finding: `file:line:column: key.path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// Key path inside the file, e.g. `windows[3].monthly.on`; empty for the file as a whole.
    pub path: String,
    pub message: String,
    /// Where in the file: the key the path names (or the nearest enclosing one that exists);
    /// `None` for the file as a whole or before it is located.
    pub at: Option<Position>,
}

/// A place in a file, both counted from 1; the column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text`.
    pub fn of(text: &str, offset: usize) -> Position {
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Position { line, column }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{}:{}:{}: ", self.file, at.line, at.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Everything found while loading: errors make the configuration unusable, warnings do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    pub fn error(&mut self, file: &str, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Diagnostic { file: file.to_string(), path: path.into(), message: message.into(), at: None });
    }
    pub fn warn(&mut self, file: &str, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Diagnostic { file: file.to_string(), path: path.into(), message: message.into(), at: None });
    }
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
    /// Orders errors and warnings as a compiler does: by file (in `files`' order, others after),
    /// then by position; findings of a file as a whole first. Stable: the same place keeps
    /// the order of its findings.
    pub fn sort(&mut self, files: &[&str]) {
        let key = |d: &Diagnostic| {
            let file = files.iter().position(|f| *f == d.file).unwrap_or(files.len());
            (file, d.at.map(|p| (p.line, p.column)))
        };
        self.errors.sort_by_key(key);
        self.warnings.sort_by_key(key);
    }
    /// Gives every finding in `file` that has none yet its position in `text` (`locate`).
    pub fn locate(&mut self, file: &str, text: &str) {
        let mut unplaced = self
            .errors
            .iter_mut()
            .chain(self.warnings.iter_mut())
            .filter(|d| d.file == file && d.at.is_none())
            .peekable();
        if unplaced.peek().is_none() {
            return;
        }
        let mut locator = super::locate::Locator::new(text);
        for d in unplaced {
            d.at = locator.position(&d.path);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}
