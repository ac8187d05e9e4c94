//! The e-mail part of a `[[notify]]` target (`type = "email"`): the SMTP server and how to reach
//! it, the sender, the recipients (`to` for everything the target takes, `subscribers` per
//! tenant) and the unsubscribe link.
//!
//! Owns the keys' validation into [`MailSettings`]; every error names its key path
//! (`notify[2].from`). Whether the server can be reached is not known here: `check` reads files,
//! it does not connect (README, "E-mail"). Sending is `crate::notify::mail`'s job.

use super::diagnostic::Report;
use lettre::message::Mailbox;
use lettre::Address;
use rustls::pki_types::pem::PemObject;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// `smtp://` (port 587 unless given): plain, then STARTTLS, which the server must offer.
    StartTls,
    /// `smtps://` (port 465 unless given): TLS from the first byte.
    Implicit,
    /// `tls = "none"` (port 25 unless given): only to a loopback host, or with `allow_plain`.
    None,
}

/// A validated e-mail target's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The sender as written (`"Status <status@example.net>"`), parsed once here.
    pub from: String,
    /// Addresses that get every event the target takes, visibly in `To`, in the target's language.
    pub to: Vec<String>,
    /// Per tenant id: addresses that get that tenant's events, in the tenant's language, each
    /// list in a mail of its own with the addresses on the envelope only (not in a header).
    pub subscribers: BTreeMap<String, Vec<String>>,
    /// A `mailto:` or `https://` URL; `{tenant}` is replaced by the tenant id of a subscriber mail.
    pub unsubscribe: Option<String>,
    /// `ca`: PEM certificates trusted for this server besides the public roots (an internal
    /// relay's own CA), read when the configuration is loaded.
    pub ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for MailSettings {
    // By hand: the password never reaches a log line, however a target is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(withheld)"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subscribers", &self.subscribers)
            .field("unsubscribe", &self.unsubscribe)
            .field("ca", &self.ca.as_ref().map(|pem| format!("{} bytes of PEM", pem.len())))
            .finish()
    }
}

/// The keys of `[[notify]]` that only e-mail targets take, as written.
#[derive(Debug, Default)]
pub struct FileMail<'a> {
    pub url: &'a str,
    pub tls: Option<&'a str>,
    pub allow_plain: Option<bool>,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a [String]>,
    pub subscribers: Option<&'a BTreeMap<String, Vec<String>>>,
    pub unsubscribe: Option<&'a str>,
    pub ca: Option<&'a str>,
}

/// `smtp://host[:port]` or `smtps://host[:port]`: scheme, host and port (if written).
pub fn smtp_url(text: &str) -> Result<(MailTls, String, Option<u16>), String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("smtp") => MailTls::StartTls,
        Some("smtps") => MailTls::Implicit,
        _ => return Err(format!("{text:?}: an e-mail target's url is smtp://HOST[:PORT] or smtps://HOST[:PORT]")),
    };
    let Some(authority) = uri.authority() else {
        return Err(format!("{text:?}: the URL names no host"));
    };
    if authority.as_str().contains('@') {
        return Err(format!("{text:?}: credentials in the URL are not supported; use `user` and `password`"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!("{text:?}: an SMTP URL has no path or query"));
    }
    let port = super::values::url_port(text, authority)?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{text:?}: the URL names no host"));
    }
    Ok((tls, host.to_string(), port))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An address as a recipient: `user@example.net`, no display name (the lists are addresses).
fn address(text: &str) -> Result<String, String> {
    text.trim().parse::<Address>().map(|a| a.to_string()).map_err(|e| format!("{text:?} is not an e-mail address: {e}"))
}

/// An unsubscribe link: `mailto:ADDRESS` or an `https://` URL (RFC 8058 wants https for the
/// one-click `List-Unsubscribe-Post`).
fn unsubscribe_url(text: &str) -> Result<String, String> {
    if let Some(rest) = text.strip_prefix("mailto:") {
        let to = rest.split('?').next().unwrap_or_default();
        address(to).map_err(|e| format!("{text:?}: {e}"))?;
        return Ok(text.to_string());
    }
    let probe = text.replace("{tenant}", "t");
    match probe.parse::<http::Uri>() {
        Ok(u) if u.scheme_str() == Some("https") && u.host().is_some_and(|h| !h.is_empty()) => Ok(text.to_string()),
        _ => Err(format!("{text:?}: expected mailto:ADDRESS or an https:// URL")),
    }
}

/// `ca`'s file (relative to the main file's folder): PEM certificates, at least one.
fn ca_file(text: &str, base: &Path) -> Result<Vec<u8>, String> {
    let file = base.join(text);
    let pem = std::fs::read(&file).map_err(|e| format!("{}: cannot read it: {e}", file.display()))?;
    let certificates = rustls::pki_types::CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
    match certificates {
        Ok(c) if !c.is_empty() => Ok(pem),
        // The parser's detail is left out: it could quote the file's lines.
        _ => Err(format!("{}: no PEM certificates in it", file.display())),
    }
}

/// Validates an e-mail target's keys at `path`; `None` after an error (each one reported).
/// `base`: the folder `ca` is relative to.
pub fn settings(f: &FileMail<'_>, base: &Path, file: &str, path: &str, report: &mut Report) -> Option<MailSettings> {
    let before = report.errors.len();
    let url = smtp_url(f.url).map_err(|e| report.error(file, format!("{path}.url"), e)).ok();
    let tls = match (f.tls, url.as_ref().map(|u| u.0)) {
        (None, scheme) => scheme,
        (Some("none"), Some(MailTls::StartTls)) => Some(MailTls::None),
        (Some("none"), Some(MailTls::Implicit)) => {
            report.error(file, format!("{path}.tls"), "\"none\" contradicts smtps:// (TLS from the first byte)");
            None
        }
        (Some("starttls"), Some(MailTls::StartTls)) | (Some("starttls"), None) => Some(MailTls::StartTls),
        (Some("implicit"), _) => Some(MailTls::Implicit),
        (Some("starttls"), Some(MailTls::Implicit)) => {
            report.error(file, format!("{path}.tls"), "\"starttls\" contradicts smtps://; use smtp://");
            None
        }
        (Some(other), _) => {
            report.error(
                file,
                format!("{path}.tls"),
                format!("{other:?}: expected \"starttls\" (smtp://), \"implicit\" (smtps://) or \"none\""),
            );
            None
        }
    };
    if let (Some(MailTls::None), Some((_, host, _))) = (tls, &url) {
        if !is_loopback(host) && f.allow_plain != Some(true) {
            report.error(
                file,
                format!("{path}.tls"),
                format!("\"none\" sends the password and the mails in clear: only to a loopback host, or set allow_plain = true ({host:?} is not loopback)"),
            );
        }
    }
    match (f.user, f.password) {
        (Some(_), None) => report.error(file, format!("{path}.password"), "`user` is set; the password is missing"),
        (None, Some(_)) => report.error(file, format!("{path}.user"), "`password` is set; the user is missing"),
        _ => {}
    }
    let from = match f.from {
        None => {
            report.error(
                file,
                format!("{path}.from"),
                "missing: an e-mail target needs a sender (from = \"Status <status@example.net>\")",
            );
            None
        }
        Some(text) => match text.parse::<Mailbox>() {
            Ok(m) => Some(m.to_string()),
            Err(e) => {
                report.error(file, format!("{path}.from"), format!("{text:?} is not an e-mail address: {e}"));
                None
            }
        },
    };
    let mut to = Vec::new();
    for (i, a) in f.to.into_iter().flatten().enumerate() {
        match address(a) {
            Ok(a) => to.push(a),
            Err(e) => report.error(file, format!("{path}.to[{i}]"), e),
        }
    }
    let mut subscribers = BTreeMap::new();
    for (tenant, list) in f.subscribers.into_iter().flatten() {
        let mut ok = Vec::new();
        for (i, a) in list.iter().enumerate() {
            match address(a) {
                Ok(a) if !ok.contains(&a) => ok.push(a),
                Ok(_) => {}
                Err(e) => report.error(file, format!("{path}.subscribers.{tenant}[{i}]"), e),
            }
        }
        subscribers.insert(tenant.clone(), ok);
    }
    if f.to.is_none() && f.subscribers.is_none() {
        report.error(
            file,
            format!("{path}.to"),
            "an e-mail target needs recipients: `to = [...]` or `subscribers = { TENANT = [...] }`",
        );
    }
    if let (Some(_), Some(MailTls::None)) = (f.ca, tls) {
        report.error(file, format!("{path}.ca"), "a CA is for TLS; this target sends in clear (tls = \"none\")");
    }
    let ca = f.ca.and_then(|c| ca_file(c, base).map_err(|e| report.error(file, format!("{path}.ca"), e)).ok());
    let unsubscribe = f
        .unsubscribe
        .and_then(|u| unsubscribe_url(u).map_err(|e| report.error(file, format!("{path}.unsubscribe"), e)).ok());
    if report.errors.len() > before {
        return None;
    }
    let (_, host, port) = url?;
    let tls = tls?;
    let port = port.unwrap_or(match tls {
        MailTls::StartTls => 587,
        MailTls::Implicit => 465,
        MailTls::None => 25,
    });
    Some(MailSettings {
        host,
        port,
        tls,
        user: f.user.map(str::to_string),
        password: f.password.map(str::to_string),
        from: from?,
        to,
        subscribers,
        unsubscribe,
        ca,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: FileMail<'_>) -> Result<MailSettings, Vec<String>> {
        let mut report = Report::default();
        settings(&f, Path::new("/nonexistent"), "f.toml", "notify[0]", &mut report)
            .ok_or_else(|| report.errors.iter().map(|d| format!("{}: {}", d.path, d.message)).collect())
    }

    #[test]
    fn urls_say_how_to_connect() {
        assert_eq!(smtp_url("smtp://mail.example.net"), Ok((MailTls::StartTls, "mail.example.net".into(), None)));
        assert_eq!(
            smtp_url("smtps://mail.example.net:2465"),
            Ok((MailTls::Implicit, "mail.example.net".into(), Some(2465)))
        );
        assert_eq!(smtp_url("smtp://[::1]:25/"), Ok((MailTls::StartTls, "::1".into(), Some(25))));
        for bad in [
            "",
            "mail.example.net",
            "http://mail.example.net",
            "smtp://u:p@mail/",
            "smtp:///",
            "smtp://m/x",
            "smtp://m?tls=1",
            "smtp://m:99999",
            "smtp://m:0",
        ] {
            assert!(smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_good_target_gets_its_defaults() {
        let subs = BTreeMap::from([("a".to_string(), vec!["x@example.net".to_string(), "x@example.net".to_string()])]);
        let to = ["ops@example.net".to_string()];
        let s = check(FileMail {
            url: "smtp://mail.example.net",
            from: Some("Status <status@example.net>"),
            to: Some(&to),
            subscribers: Some(&subs),
            user: Some("u"),
            password: Some("p"),
            unsubscribe: Some("https://example.net/leave?list={tenant}"),
            ..FileMail::default()
        })
        .expect("valid");
        assert_eq!((s.port, s.tls), (587, MailTls::StartTls));
        assert_eq!(s.subscribers["a"], ["x@example.net"], "a list's duplicates go");
        assert!(!format!("{s:?}").contains("\"p\""), "the password is withheld from Debug: {s:?}");
        let s = check(FileMail {
            url: "smtp://127.0.0.1:2525",
            tls: Some("none"),
            from: Some("a@b.c"),
            to: Some(&to),
            ..FileMail::default()
        });
        assert_eq!(s.map(|s| (s.port, s.tls)), Ok((2525, MailTls::None)));
    }

    #[test]
    fn every_bad_key_is_named() {
        let to = ["not an address".to_string()];
        let subs = BTreeMap::from([("a".to_string(), vec!["@nope".to_string()])]);
        let errors = check(FileMail {
            url: "smtp://mail.example.net",
            tls: Some("none"),
            user: Some("u"),
            from: Some("nobody"),
            to: Some(&to),
            subscribers: Some(&subs),
            unsubscribe: Some("http://example.net/leave"),
            ..FileMail::default()
        })
        .expect_err("invalid");
        for key in [
            "notify[0].tls: \"none\" sends the password",
            "notify[0].password: `user` is set",
            "notify[0].from: \"nobody\" is not an e-mail address",
            "notify[0].to[0]: \"not an address\" is not an e-mail address",
            "notify[0].subscribers.a[0]: \"@nope\"",
            "notify[0].unsubscribe: \"http://example.net/leave\": expected mailto:",
        ] {
            assert!(errors.iter().any(|e| e.starts_with(key)), "{key} in {errors:#?}");
        }
        let errors = check(FileMail { url: "smtp://exa mple", ..FileMail::default() }).expect_err("invalid");
        assert!(errors.iter().any(|e| e.starts_with("notify[0].url: \"smtp://exa mple\" is not a URL")), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("notify[0].from: missing")), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("notify[0].to: an e-mail target needs recipients")), "{errors:?}");
        let allowed = check(FileMail {
            url: "smtp://relay.internal",
            tls: Some("none"),
            allow_plain: Some(true),
            from: Some("a@b.c"),
            to: Some(&["ops@b.c".to_string()]),
            ..FileMail::default()
        });
        assert!(allowed.is_ok(), "{allowed:?}");
    }
}
