//! The public cause of an Incident: what kind of trouble the health checks saw, as one of a few
//! fixed kinds that pages, the status page and its feeds may show.
//!
//! Owns [`Cause`] and its machine codes (written to `incidents.jsonl`, `status.json`, admin).
//! What exactly went wrong (an upstream's address, an OS or resolver error) is the incident's
//! *detail*, which only logs and the admin listener show: a public page names the kind, never
//! the detail. The words for each kind, per language, live in `pages::strings`.

use serde::{Serialize, Serializer};

/// The kind of trouble behind an Incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// No connection could be made (refused, no route, a name that did not resolve).
    Unreachable,
    /// A connection or an answer did not come within the probe's timeout.
    Timeout,
    /// The upstream was reached but answered wrongly: a bad status, not HTTP, a closed or reset
    /// connection in the middle of the exchange.
    Errors,
    /// Nothing more specific is known; also what an older incident line's free text reads as.
    Unavailable,
}

impl Cause {
    pub const ALL: [Cause; 4] = [Cause::Unreachable, Cause::Timeout, Cause::Errors, Cause::Unavailable];

    /// Machine name, stable: in `incidents.jsonl`, `status.json` and the admin listener.
    pub fn code(self) -> &'static str {
        match self {
            Cause::Unreachable => "unreachable",
            Cause::Timeout => "timeout",
            Cause::Errors => "errors",
            Cause::Unavailable => "unavailable",
        }
    }

    /// The kind named by `code`; `None` for anything else (such as an older free-text cause).
    pub fn from_code(code: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back() {
        for c in Cause::ALL {
            assert_eq!(Cause::from_code(c.code()), Some(c));
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::json!(c.code())));
        }
        for free_text in ["10.0.0.7:8080: connection refused", "", "Unreachable"] {
            assert_eq!(Cause::from_code(free_text), None, "{free_text:?}");
        }
    }
}
