//! The configuration file as written: serde types that mirror the TOML and never leave `config`.
//!
//! Owns the shape of a file (keys, nesting, which keys are optional) and nothing else: values are
//! kept as text where they need parsing (times, dates, zones, host patterns), so that validation
//! (`validate`) can report each bad value with its key path. Unknown keys are errors here.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[defaults]`: the zone and language a file's windows and tenants inherit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDefaults {
    pub zone: Option<String>,
    pub language: Option<String>,
}

/// `[[tenants]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenant {
    pub id: String,
    pub name: Option<String>,
    /// Whether the status page and its feeds show the tenant (default true).
    pub public: Option<bool>,
    pub hosts: Vec<String>,
    /// Path prefix, e.g. `/mandant-a`; requests under it belong to this tenant.
    pub path: Option<String>,
    #[serde(default)]
    pub upstreams: Vec<FileUpstream>,
    pub zone: Option<String>,
    pub language: Option<String>,
    // Proxy keys, validated by `gateway::tenant_options`.
    pub connect_timeout: Option<String>,
    pub read_timeout: Option<String>,
    pub pages: Option<String>,
    #[serde(default)]
    pub replace_upstream_errors: bool,
    /// Active health checks of the upstreams (`super::health`).
    pub health: Option<super::health::FileHealth>,
    #[serde(default)]
    pub https_redirect: bool,
    pub hsts: Option<String>,
}

/// `[[certificates]]`: a PEM chain and key for host patterns, or the default certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCertificate {
    #[serde(default)]
    pub hosts: Vec<String>,
    pub cert: String,
    pub key: String,
    /// Served to clients that name no host, or a host no entry covers.
    #[serde(default)]
    pub default: bool,
}

/// An upstream: `"host:port"`, `"https://host[:port]"`, or a table with TLS settings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileUpstream {
    Address(String),
    Table(FileUpstreamTable),
}

/// `{ address = "host:port", tls = true, ca = "ca.pem", sni = "name", verify = true }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstreamTable {
    pub address: String,
    pub tls: Option<bool>,
    pub ca: Option<String>,
    pub sni: Option<String>,
    pub verify: Option<bool>,
}

/// A window's scope: `"all"`, or a table naming tenants and/or host patterns.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileScope {
    Word(String),
    Table(FileScopeTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileScopeTable {
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// A date, time or date-time: a string, or TOML's own date/time literal.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileWhen {
    Text(String),
    Toml(toml::value::Datetime),
}

impl FileWhen {
    pub fn text(&self) -> String {
        let text = match self {
            FileWhen::Text(s) => s.clone(),
            FileWhen::Toml(d) => d.to_string(),
        };
        // A bare TOML time (`at = 04:30`) reaches us as `04:30:00` (a string, once it went
        // through a `toml::Value`); times of day are HH:MM everywhere else, so whole minutes
        // are given that form. Other seconds stay and are refused by validation.
        match text.strip_suffix(":00") {
            Some(hm)
                if hm.len() == 5 && hm.as_bytes()[2] == b':' && hm.bytes().filter(u8::is_ascii_digit).count() == 4 =>
            {
                hm.to_string()
            }
            _ => text,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOnce {
    pub start: FileWhen,
    pub end: Option<FileWhen>,
    pub tentative_from: Option<FileWhen>,
}

/// `at` with an end: `until` (wall clock) or `for` (exact duration), exactly one of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSlot {
    pub at: FileWhen,
    pub until: Option<FileWhen>,
    #[serde(rename = "for")]
    pub duration: Option<String>,
}

/// One value or a list (`on = "tue"` or `on = ["tue", "wed"]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWeekly {
    pub on: OneOrMany,
    pub at: FileWhen,
    /// `"06:00"` (next day when not after `at`) or `"wed 06:00"` (the next Wednesday).
    pub until: Option<FileWhen>,
    #[serde(rename = "for")]
    pub duration: Option<String>,
}

/// `on = 15`, `on = -1`, `on = "last"`, `on = "4th tue"`, `on = "last fri"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileMonthDay {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMonthly {
    pub on: FileMonthDay,
    pub at: FileWhen,
    pub until: Option<FileWhen>,
    #[serde(rename = "for")]
    pub duration: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDates {
    pub on: Vec<FileWhen>,
    pub at: FileWhen,
    pub until: Option<FileWhen>,
    #[serde(rename = "for")]
    pub duration: Option<String>,
}

/// `except = { dates = ["2022-06-15", "2022-12-24..2022-12-31"], months = ["jul"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExcept {
    #[serde(default)]
    pub dates: Vec<FileWhen>,
    #[serde(default)]
    pub months: Vec<String>,
}

/// `[[windows]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWindow {
    pub id: String,
    pub zone: Option<String>,
    pub scope: Option<FileScope>,
    pub once: Option<FileOnce>,
    pub daily: Option<FileSlot>,
    pub weekly: Option<FileWeekly>,
    pub monthly: Option<FileMonthly>,
    pub dates: Option<FileDates>,
    pub except: Option<FileExcept>,
    pub also: Option<Vec<FileWhen>>,
    pub from: Option<FileWhen>,
    pub to: Option<FileWhen>,
    #[serde(default)]
    pub tentative: bool,
    #[serde(default)]
    pub title: BTreeMap<String, String>,
    #[serde(default)]
    pub reason: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_literals_read_like_strings() {
        // The way `load` reads an item: TOML text → `toml::Value` → file type.
        let read = |text: &str| -> FileSlot {
            let value: toml::Value = toml::from_str(text).expect("valid TOML");
            FileSlot::deserialize(value).expect("a slot")
        };
        let slot = read("at = 04:30\nuntil = 06:00:00");
        assert_eq!(slot.at.text(), "04:30");
        assert_eq!(slot.until.as_ref().map(FileWhen::text).as_deref(), Some("06:00"));
        assert_eq!(read("at = 04:30:10").at.text(), "04:30:10", "seconds stay, for validation to refuse");
        assert_eq!(read("at = \"04:30\"").at.text(), "04:30");
        let value: toml::Value = toml::from_str("start = 2024-11-14T00:34").expect("valid TOML");
        assert_eq!(FileOnce::deserialize(value).expect("once").start.text(), "2024-11-14T00:34:00");
    }
}
