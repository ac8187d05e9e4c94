//! The validated configuration: domain types with no serde derives (STYLE.md 2).
//!
//! Owns [`Config`], [`Tenant`], [`Window`], [`Scope`], [`Texts`], [`Language`], [`Upstream`].
//! A value of these types is well-formed by construction: `validate` is the only producer.

use super::gateway::{GatewaySettings, TenantOptions};
use crate::hosts::HostPattern;
use crate::schedule::Schedule;
use chrono_tz::Tz;
use std::fmt;
use std::path::PathBuf;

/// Languages pages and texts come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    De,
    En,
    Nb,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::De, Language::En, Language::Nb];

    pub fn code(self) -> &'static str {
        match self {
            Language::De => "de",
            Language::En => "en",
            Language::Nb => "nb",
        }
    }

    /// Parses a language code; `no` and `nn` are read as Norwegian Bokmål's neighbours.
    pub fn parse(code: &str) -> Option<Language> {
        // Runs per request (Accept-Language): compare without allocating.
        let is = |c: &str| code.eq_ignore_ascii_case(c);
        if is("de") {
            Some(Language::De)
        } else if is("en") {
            Some(Language::En)
        } else if is("nb") || is("no") || is("nn") {
            Some(Language::Nb)
        } else {
            None
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text in several languages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts(pub Vec<(Language, String)>);

impl Texts {
    /// The text in `lang`, else in `fallback`, else any; `None` when there is no text at all.
    pub fn get(&self, lang: Language, fallback: Language) -> Option<&str> {
        let find = |l: Language| self.0.iter().find(|(k, _)| *k == l).map(|(_, v)| v.as_str());
        find(lang).or_else(|| find(fallback)).or_else(|| self.0.first().map(|(_, v)| v.as_str()))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Zone and language that windows and tenants inherit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub zone: Tz,
    pub language: Language,
}

/// Where a tenant's traffic goes: `host:port`, where `{n}` (in a template) stands for the
/// number of the requested host in the tenant's range (`www324` → `324`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub address: String,
    /// TLS towards this upstream (`https://`, or `tls = true` in its table); `None`: plain.
    pub tls: Option<UpstreamTls>,
}

/// How the gateway speaks TLS to an upstream (README "Upstream TLS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// The trust anchors read from `ca` (a PEM file), instead of the public roots.
    pub ca: Option<CaFile>,
    /// The name sent as SNI and verified; `None`: the request's host.
    pub sni: Option<String>,
    /// `false` accepts any certificate (`check` warns loudly).
    pub verify: bool,
}

/// A PEM file of trusted certificates, read and checked while the configuration is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFile {
    pub path: std::path::PathBuf,
    pub certificates: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Upstream {
    pub fn is_template(&self) -> bool {
        self.address.contains("{n}")
    }
    /// The address for a host number (templates), or the address itself.
    pub fn for_number(&self, n: Option<u32>) -> String {
        match n {
            Some(n) if self.is_template() => self.address.replace("{n}", &n.to_string()),
            _ => self.address.clone(),
        }
    }
}

/// A customer of the operator, reached by host (and path prefix), served by upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    /// The public name: pages and the status page say this, never the id, when it is set.
    pub name: Option<String>,
    /// Shown on the status page and its feeds (`public = false` keeps the tenant, its incidents
    /// and the windows that apply to it alone off them); its own pages are not affected.
    pub public: bool,
    pub hosts: Vec<HostPattern>,
    /// Normalised path prefix (`/mandant-a`, no trailing slash), matched on segment boundaries.
    pub path_prefix: Option<String>,
    pub upstreams: Vec<Upstream>,
    pub zone: Tz,
    pub language: Language,
    pub options: TenantOptions,
}

impl Tenant {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Which requests a window applies to (SCHEDULES.md rule 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Named tenants and host patterns (the union of both).
    Some {
        tenants: Vec<String>,
        hosts: Vec<HostPattern>,
    },
}

/// A named maintenance rule with its scope and texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: String,
    pub schedule: Schedule,
    pub scope: Scope,
    pub title: Texts,
    pub reason: Texts,
    /// Index into [`Config::sources`]: the file the window was written in.
    pub source: usize,
    /// Position in that file's `[[windows]]` array, for key paths in later findings.
    pub position: usize,
}

impl Window {
    /// Key path of the window in its file: `windows[3]`.
    pub fn key_path(&self) -> String {
        format!("windows[{}]", self.position)
    }

    /// Whether the window applies to a request for `tenant` on `host`.
    pub fn applies_to(&self, tenant: Option<&str>, host: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Some { tenants, hosts } => {
                tenant.is_some_and(|t| tenants.iter().any(|x| x == t)) || hosts.iter().any(|p| p.matches(host))
            }
        }
    }
}

/// A `[[certificates]]` entry, its files read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    pub hosts: Vec<HostPattern>,
    pub default: bool,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub certificate: crate::tls::Certificate,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub defaults: Defaults,
    pub tenants: Vec<Tenant>,
    pub windows: Vec<Window>,
    pub gateway: GatewaySettings,
    /// `[[notify]]`: where events are sent (`crate::notify`).
    pub notify: Vec<super::notify::NotifyTarget>,
    /// `[cluster]`: runtime state shared with other gateways through etcd (`crate::cluster`).
    pub cluster: Option<super::cluster::ClusterSettings>,
    /// The certificates of the TLS listeners, in file order.
    pub certificates: Vec<CertificateEntry>,
    /// `[acme]`: automatic certificates (`crate::acme`).
    pub acme: Option<super::acme::AcmeSettings>,
    /// `[[incidents]]`: incidents operators posted (`config::incidents`), in file order.
    pub incidents: Vec<super::incidents::OperatorIncident>,
    /// Every file read, the main file first: what a reload watches.
    pub sources: Vec<PathBuf>,
    /// Folders named by include globs: a file appearing there is a change too.
    pub include_dirs: Vec<PathBuf>,
    /// What the load read (every file's name and bytes), as a short hex digest: the same
    /// digest, the same configuration (`control::reload` applies an edit once).
    pub digest: String,
}
