//! `[acme]`: automatic certificates (RFC 8555) for hosts the operator names, from an ACME
//! directory such as Let's Encrypt's. The section as written ([`FileAcme`]) becomes
//! [`AcmeSettings`] here, every bad value reported with its key path; the names come from the
//! listed tenants' exact hosts and from `hosts`, checked once the tenants are known
//! ([`names`]).
//!
//! Modelled on Caddy's and Traefik's: a directory URL, a contact, agreement to the CA's terms
//! said out loud, which hosts. HTTP-01 is the challenge (a plain listener must exist), so
//! wildcard and range hosts cannot be named.

use super::diagnostic::Report;
use super::model::Tenant;
use crate::hosts::HostPattern;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Renew this long before a certificate's `notAfter` unless `renew_before` says otherwise
/// (Let's Encrypt's certificates last 90 days; Caddy and certbot renew at 30 days left).
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// `[acme]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAcme {
    /// The ACME directory URL (`https://acme-v02.api.letsencrypt.org/directory`).
    pub directory: String,
    /// The account's contact address.
    pub email: Option<String>,
    /// The CA's terms of service, agreed to (must be `true`).
    #[serde(default)]
    pub agree_terms: bool,
    /// A PEM file of roots to trust for the directory's HTTPS (a test CA such as pebble's);
    /// the system's web roots otherwise.
    pub ca_roots: Option<String>,
    /// How long before expiry a certificate is renewed: "30d", "12h".
    pub renew_before: Option<String>,
    /// Tenants whose exact hosts get certificates: ids, or `"all"`.
    pub tenants: Option<FileTenants>,
    /// More names to get certificates for.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `tenants = "all"` or `tenants = ["a", "b"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileTenants {
    Word(String),
    List(Vec<String>),
}

/// Which tenants' hosts get certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeTenants {
    All,
    Some(Vec<String>),
}

/// The validated `[acme]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    pub directory: String,
    pub email: Option<String>,
    pub ca_roots: Option<PathBuf>,
    pub renew_before: Duration,
    /// Every name to hold a certificate for: the tenants' exact hosts, then `hosts`, each once.
    pub names: Vec<String>,
}

/// The section validated on its own: the settings with `hosts` as names, and which tenants'
/// hosts [`names`] adds once the tenants are known.
#[derive(Debug)]
pub struct Parsed {
    pub settings: AcmeSettings,
    pub tenants: AcmeTenants,
}

/// Validates the section (`file` is the main file); the names are filled in by [`names`].
pub fn settings(a: &FileAcme, base: &Path, file: &str, report: &mut Report) -> Option<Parsed> {
    let before = report.errors.len();
    let directory = a.directory.trim();
    if !(directory.starts_with("https://") || directory.starts_with("http://"))
        || directory.contains(char::is_whitespace)
    {
        report.error(file, "acme.directory", format!("{:?} is not an http(s) URL of an ACME directory", a.directory));
    }
    if let Some(e) = &a.email {
        let (user, domain) = e.split_once('@').unwrap_or(("", ""));
        if user.is_empty() || !domain.contains('.') || e.contains(|c: char| c.is_whitespace() || c == ',' || c == ':') {
            report.error(file, "acme.email", format!("{e:?} is not an e-mail address"));
        }
    }
    if !a.agree_terms {
        report.error(
            file,
            "acme.agree_terms",
            "set `agree_terms = true`: the CA issues only to accounts that agree to its terms of service",
        );
    }
    let ca_roots = a.ca_roots.as_ref().map(|p| base.join(p));
    if let Some(p) = &ca_roots {
        if let Err(e) = std::fs::metadata(p) {
            report.error(file, "acme.ca_roots", format!("{}: cannot be read ({e})", p.display()));
        }
    }
    let renew_before = match a.renew_before.as_deref().map(duration) {
        None => DEFAULT_RENEW_BEFORE,
        Some(Ok(d)) if d >= Duration::from_secs(3600) => d,
        Some(Ok(_)) => {
            report.error(
                file,
                "acme.renew_before",
                "at least \"1h\": renewing closer to expiry leaves no time to retry",
            );
            DEFAULT_RENEW_BEFORE
        }
        Some(Err(e)) => {
            report.error(file, "acme.renew_before", e);
            DEFAULT_RENEW_BEFORE
        }
    };
    let tenants = match &a.tenants {
        None => AcmeTenants::Some(Vec::new()),
        Some(FileTenants::Word(w)) if w == "all" => AcmeTenants::All,
        Some(FileTenants::Word(w)) => {
            report.error(file, "acme.tenants", format!("{w:?}: write \"all\" or a list of tenant ids"));
            AcmeTenants::Some(Vec::new())
        }
        Some(FileTenants::List(ids)) => AcmeTenants::Some(ids.clone()),
    };
    let mut names = Vec::new();
    for (i, h) in a.hosts.iter().enumerate() {
        match exact(h) {
            Ok(name) => names.push(name),
            Err(e) => report.error(file, format!("acme.hosts[{i}]"), e),
        }
    }
    if report.errors.len() > before {
        return None;
    }
    let settings =
        AcmeSettings { directory: directory.to_string(), email: a.email.clone(), ca_roots, renew_before, names };
    Some(Parsed { settings, tenants })
}

/// `30d`, `12h`, or any duration of the gateway's.
fn duration(text: &str) -> Result<Duration, String> {
    match text.trim().strip_suffix('d').map(str::parse::<u64>) {
        Some(Ok(days)) => Ok(Duration::from_secs(days.saturating_mul(86_400))),
        _ => super::duration::parse(text)
            .map_err(|_| format!("{text:?} is not a duration; write e.g. \"30d\" or \"12h\"")),
    }
}

/// A name HTTP-01 can prove: an exact host, lower-case (no wildcard, no range, no IP address).
fn exact(text: &str) -> Result<String, String> {
    let pattern = HostPattern::parse(text).map_err(|e| e.to_string())?;
    if pattern.is_wildcard() || pattern.is_range() {
        return Err(format!("{text}: only exact host names get certificates by HTTP-01 (no wildcards or ranges)"));
    }
    let name = pattern.to_string();
    if name.parse::<std::net::IpAddr>().is_ok() || !name.contains('.') && name != "localhost" {
        return Err(format!("{text}: not a DNS name a CA issues for"));
    }
    Ok(name)
}

/// Adds the listed tenants' exact hosts to the names (wildcards and ranges are left out with
/// a warning), and checks what the section needs of the rest: the tenants exist, a plain
/// listener answers HTTP-01, `state_dir` keeps the account and certificates.
pub fn names(
    parsed: Parsed,
    tenants: &[(String, String, Tenant)],
    known_ids: &[String],
    gateway: &super::gateway::GatewaySettings,
    has_default: bool,
    file: &str,
    report: &mut Report,
) -> AcmeSettings {
    let Parsed { mut settings, tenants: which } = parsed;
    if let AcmeTenants::Some(ids) = &which {
        for (i, id) in ids.iter().enumerate() {
            if !known_ids.iter().any(|k| k == id) {
                report.error(file, format!("acme.tenants[{i}]"), format!("no tenant has the id {id:?}"));
            }
        }
    }
    let mut from_tenants = Vec::new();
    for (tfile, path, t) in tenants {
        let listed = match &which {
            AcmeTenants::All => true,
            AcmeTenants::Some(ids) => ids.contains(&t.id),
        };
        if !listed {
            continue;
        }
        for (i, h) in t.hosts.iter().enumerate() {
            match exact(&h.to_string()) {
                Ok(name) => from_tenants.push(name),
                Err(e) => report.warn(tfile, format!("{path}.hosts[{i}]"), format!("no ACME certificate: {e}")),
            }
        }
    }
    let mut all = from_tenants;
    all.append(&mut settings.names);
    let mut seen = std::collections::HashSet::new();
    all.retain(|n| seen.insert(n.clone()));
    settings.names = all;
    if settings.names.is_empty() {
        report.warn(file, "acme", "no host to get a certificate for: list `tenants` or `hosts`");
    }
    if gateway.listen.is_empty() {
        report.error(file, "acme", "HTTP-01 needs a plain listener (gateway.listen, port 80 for a public CA)");
    }
    if gateway.listen_tls.is_empty() {
        report.warn(file, "acme", "no TLS listener (gateway.listen_tls): certificates are issued but not served");
    } else if !has_default {
        report.warn(
            file,
            "acme",
            "no default certificate: a handshake for a name without a certificate yet is refused until one is issued",
        );
    }
    if gateway.state_dir.is_none() {
        report.error(file, "acme", "set gateway.state_dir: the ACME account and certificates are kept there");
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names() {
        assert_eq!(duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(duration("soon").is_err());
        assert_eq!(exact("Shop.Example.COM"), Ok("shop.example.com".to_string()));
        for bad in ["*.example.com", "www{1..3}.example.com", "127.0.0.1", "intranet", "a b"] {
            assert!(exact(bad).is_err(), "{bad}");
        }
    }
}
