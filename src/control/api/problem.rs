//! RFC 9457 problem details: every error the operator API answers.
//!
//! Owns [`Problem`] and its JSON (`application/problem+json`): `type` (here `about:blank`
//! for every problem; the status says the kind), `title` (the status's phrase), `status`,
//! `detail` (what went wrong, in words), and for a configuration that would not load,
//! `errors`: every finding with its file, key path and position, as `hiatus check` lists them.

use crate::config::Diagnostic;
use crate::control::http::Answer;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub detail: String,
    /// The configuration's errors (422 only).
    pub errors: Vec<Diagnostic>,
}

impl Problem {
    pub fn new(status: u16, detail: impl Into<String>) -> Problem {
        Problem { status, detail: detail.into(), errors: Vec::new() }
    }

    pub fn invalid(detail: impl Into<String>, errors: Vec<Diagnostic>) -> Problem {
        Problem { status: 422, detail: detail.into(), errors }
    }

    fn title(&self) -> &'static str {
        match self.status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            503 => "Service Unavailable",
            _ => "Error",
        }
    }

    pub fn answer(&self) -> Answer {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.title(),
            "status": self.status,
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = self.errors.iter().map(diagnostic).collect();
        }
        let mut answer = Answer::new(self.status, CONTENT_TYPE, body.to_string());
        if self.status == 401 {
            answer.fields.push(("www-authenticate", "Bearer".to_string()));
        }
        answer
    }
}

/// A finding as JSON: file, key path, message, and line and column when known.
pub fn diagnostic(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "file": d.file,
        "path": d.path,
        "message": d.message,
        "line": d.at.map(|p| p.line),
        "column": d.at.map(|p| p.column),
    })
}
