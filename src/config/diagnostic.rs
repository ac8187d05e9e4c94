//! Errors and warnings about a configuration, each with its file and key path.
//!
//! Owns [`Diagnostic`] and [`Report`]. Every message names the offending value, so that an
//! operator can fix a file from the message alone (STYLE.md 2 and 7).

use std::fmt;

/// One finding: `file: key.path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// Key path inside the file, e.g. `windows[3].monthly.on`; empty for the file as a whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
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
        self.errors.push(Diagnostic { file: file.to_string(), path: path.into(), message: message.into() });
    }
    pub fn warn(&mut self, file: &str, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Diagnostic { file: file.to_string(), path: path.into(), message: message.into() });
    }
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
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
