//! `[[certificates]]`: the TLS listeners' certificates, each a PEM chain and key for host
//! patterns, one of them possibly the default. The files are read and checked here, so that
//! `hiatus check`, the reload's vetting child and a start refuse a missing file, a key that
//! is not the certificate's, or an unreadable chain, with the file and key path.

use super::diagnostic::Report;
use super::file::FileCertificate;
use super::model::CertificateEntry;
use crate::hosts::HostPattern;
use crate::tls::certs::{Certificate, Which};
use std::path::Path;

/// Validates one entry (`path`: `certificates[3]`); paths are resolved against `base`.
pub fn entry(
    c: &FileCertificate,
    base: &Path,
    file: &str,
    path: &str,
    report: &mut Report,
) -> Option<CertificateEntry> {
    let before = report.errors.len();
    let mut hosts = Vec::new();
    for (i, h) in c.hosts.iter().enumerate() {
        match HostPattern::parse(h) {
            Ok(p) => hosts.push(p),
            Err(e) => report.error(file, format!("{path}.hosts[{i}]"), e.to_string()),
        }
    }
    if c.hosts.is_empty() && !c.default {
        report.error(file, format!("{path}.hosts"), "name the hosts this certificate serves, or set `default = true`");
    }
    let (cert, key) = (base.join(&c.cert), base.join(&c.key));
    let certificate = match Certificate::load(&cert, &key) {
        Ok(certificate) => Some(certificate),
        Err(e) => {
            let which = match e.which {
                Which::Cert => "cert",
                Which::Key => "key",
            };
            report.error(file, format!("{path}.{which}"), e.message);
            None
        }
    };
    if let Some(after) = certificate.as_ref().and_then(|c| c.not_after) {
        if after < chrono::Utc::now().timestamp() {
            let when = chrono::DateTime::from_timestamp(after, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
            report.warn(file, format!("{path}.cert"), format!("{}: expired at {when}", cert.display()));
        }
    }
    if report.errors.len() > before {
        return None;
    }
    Some(CertificateEntry { hosts, default: c.default, cert, key, certificate: certificate? })
}

/// A warning for each tenant host that no certificate covers when there are TLS listeners and no
/// default: a handshake for it is refused.
pub fn uncovered(
    entries: &[CertificateEntry],
    tenants: &[(String, String, crate::config::Tenant)],
    report: &mut Report,
) {
    if entries.is_empty() || entries.iter().any(|e| e.default) {
        return;
    }
    for (file, path, t) in tenants {
        for (i, h) in t.hosts.iter().enumerate() {
            let text = h.to_string();
            // A wildcard or a range is covered by a wildcard or range entry that names it, or
            // by one that covers its text (`*.a.example.com` by `*.example.com`).
            if !entries.iter().any(|e| e.hosts.iter().any(|p| *p == *h || p.matches(&text))) {
                report.warn(
                    file,
                    format!("{path}.hosts[{i}]"),
                    format!("{text}: no [[certificates]] entry covers it and there is no default; TLS handshakes for it are refused"),
                );
            }
        }
    }
}

/// Across entries and `[gateway]`: one default at most, and TLS listeners need a certificate.
pub fn cross_check(entries: &[(String, String, CertificateEntry)], listen_tls: bool, main: &str, report: &mut Report) {
    let defaults: Vec<_> = entries.iter().filter(|(_, _, e)| e.default).collect();
    for (file, path, _) in defaults.iter().skip(1) {
        report.error(file, format!("{path}.default"), "only one certificate may be the default");
    }
    if listen_tls && entries.is_empty() {
        report.error(main, "gateway.listen_tls", "TLS listeners need certificates: add a [[certificates]] entry");
    }
}
