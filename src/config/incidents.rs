//! `[[incidents]]`: incidents posted by operators (the operator API writes them into the
//! operator file; a hand edit works the same).
//!
//! Owns [`FileIncident`] (the file's shape) and its validation into [`OperatorIncident`]:
//! an id, a severity (`info`, `warning`, `critical`), the tenants it affects (ids that must
//! exist, checked by the caller against every file), when it started and, once resolved,
//! ended (RFC 3339), a title per language and its updates, each with its time and text per
//! language. Every finding carries its key path (`incidents[0].updates[1].at`).
//!
//! Incidents the health checks open are not here (`health::incidents`).

use super::diagnostic::Report;
use super::model::{Language, Texts};
use super::notify::Severity;
use super::values;
use crate::schedule::UnixTime;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One `[[incidents]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIncident {
    pub id: String,
    pub severity: String,
    pub tenants: Vec<String>,
    pub start: String,
    pub end: Option<String>,
    pub title: BTreeMap<String, String>,
    #[serde(default)]
    pub updates: Vec<FileUpdate>,
}

/// One `[[incidents.updates]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpdate {
    pub at: String,
    pub text: BTreeMap<String, String>,
}

/// An update of an operator's incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub at: UnixTime,
    pub text: Texts,
}

/// An incident posted by an operator, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorIncident {
    pub id: String,
    pub severity: Severity,
    pub tenants: Vec<String>,
    pub start: UnixTime,
    /// `None` while it is open.
    pub end: Option<UnixTime>,
    pub title: Texts,
    /// Oldest first.
    pub updates: Vec<Update>,
}

impl OperatorIncident {
    /// The newest update's text, in `lang` as far as there is one.
    pub fn latest(&self, lang: Language, fallback: Language) -> Option<&str> {
        self.updates.last().and_then(|u| u.text.get(lang, fallback))
    }
}

/// An instant as operators and the API write it: RFC 3339 with an offset.
pub fn instant(text: &str) -> Result<UnixTime, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp())
        .map_err(|_| format!("{text:?} is not an RFC 3339 instant; write e.g. \"2025-03-01T09:15:00Z\""))
}

pub fn severity(text: &str) -> Result<Severity, String> {
    match text {
        "info" => Ok(Severity::Info),
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        _ => Err(format!("{text:?} is not a severity; write info, warning or critical")),
    }
}

fn texts(map: &BTreeMap<String, String>, file: &str, path: &str, report: &mut Report) -> Texts {
    let mut out = Vec::new();
    for (k, v) in map {
        match values::language(k) {
            Err(e) => report.error(file, format!("{path}.{k}"), e),
            Ok(_) if v.trim().is_empty() => report.error(file, format!("{path}.{k}"), "empty text"),
            Ok(lang) => out.push((lang, v.clone())),
        }
    }
    if map.is_empty() {
        report.error(file, path, "give the text in at least one language, e.g. { en = \"…\" }");
    }
    Texts(out)
}

/// Validates one incident; `None` when it has errors (each reported).
pub fn validate(i: &FileIncident, file: &str, path: &str, report: &mut Report) -> Option<OperatorIncident> {
    let before = report.errors.len();
    let check = |key: &str, r: Result<UnixTime, String>, report: &mut Report| match r {
        Ok(t) => Some(t),
        Err(e) => {
            report.error(file, format!("{path}.{key}"), e);
            None
        }
    };
    if i.id.trim().is_empty() {
        report.error(file, format!("{path}.id"), "an incident needs an id");
    }
    let severity = severity(&i.severity).map_err(|e| report.error(file, format!("{path}.severity"), e)).ok();
    if i.tenants.is_empty() {
        report.error(file, format!("{path}.tenants"), "name the tenants it affects");
    }
    let start = check("start", instant(&i.start), report);
    let end = i.end.as_deref().and_then(|e| check("end", instant(e), report));
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            report.error(file, format!("{path}.end"), "the end lies before the start");
        }
    }
    let title = texts(&i.title, file, &format!("{path}.title"), report);
    let mut updates = Vec::new();
    for (n, u) in i.updates.iter().enumerate() {
        let at = check(&format!("updates[{n}].at"), instant(&u.at), report);
        let text = texts(&u.text, file, &format!("{path}.updates[{n}].text"), report);
        if let Some(at) = at {
            updates.push(Update { at, text });
        }
    }
    if report.errors.len() > before {
        return None;
    }
    Some(OperatorIncident {
        id: i.id.clone(),
        severity: severity?,
        tenants: i.tenants.clone(),
        start: start?,
        end,
        title,
        updates,
    })
}

/// An incident as written: file, key path, id, tenants.
pub type Declared = (String, String, String, Vec<String>);

/// Across files: ids unique, every affected tenant declared.
pub fn cross_check(incidents: &[Declared], tenant_ids: &[super::validate::Declared], report: &mut Report) {
    for (n, (file, path, id, tenants)) in incidents.iter().enumerate() {
        if incidents[..n].iter().any(|(_, _, other, _)| other == id) {
            report.error(file, format!("{path}.id"), format!("another incident has the id {id:?}"));
        }
        for (j, t) in tenants.iter().enumerate() {
            if !tenant_ids.iter().any(|(_, _, id)| id == t) {
                report.error(file, format!("{path}.tenants[{j}]"), format!("no tenant has the id {t:?}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileIncident {
        toml::from_str(text).expect("an incident table")
    }

    #[test]
    fn every_problem_with_its_key_path() {
        let i = file(
            "id = \"x\"\nseverity = \"bad\"\ntenants = []\nstart = \"yesterday\"\ntitle = { xx = \"t\" }\n\
             updates = [{ at = \"2025-03-01T09:00:00Z\", text = { en = \" \" } }]\n",
        );
        let mut r = Report::default();
        assert!(validate(&i, "f.toml", "incidents[0]", &mut r).is_none());
        let paths: Vec<&str> = r.errors.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "incidents[0].severity",
                "incidents[0].tenants",
                "incidents[0].start",
                "incidents[0].title.xx",
                "incidents[0].updates[0].text.en"
            ]
        );
    }

    #[test]
    fn a_valid_one() {
        let i = file(
            "id = \"db\"\nseverity = \"critical\"\ntenants = [\"a\"]\nstart = \"2025-03-01T09:00:00+01:00\"\n\
             title = { en = \"Database\" }\nupdates = [{ at = \"2025-03-01T08:30:00Z\", text = { en = \"Restoring\" } }]\n",
        );
        let mut r = Report::default();
        let v = validate(&i, "f.toml", "incidents[0]", &mut r).expect("valid");
        assert_eq!(v.start, 1_740_816_000);
        assert_eq!(v.severity, Severity::Critical);
        assert_eq!(v.latest(Language::De, Language::En), Some("Restoring"));
        assert!(r.errors.is_empty());
    }
}
