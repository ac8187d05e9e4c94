//! A tenant's `upstreams` entry as validated: its address, and TLS towards it when it is
//! written `https://host[:port]` or as a table with `tls = true` (README "Upstream TLS").
//!
//! Owns the meaning of the entry's keys: the scheme, the default port 443, `ca` (a PEM file
//! read and checked here, so `hiatus check` and a reload refuse a missing or empty file with
//! its key path), `sni` and `verify`. A `verify = false` is a loud warning, never silent. The
//! address itself is checked by `validate::upstream` (`{n}` templates, `host:port`).

use super::diagnostic::Report;
use super::file::FileUpstream;
use super::model::{CaFile, Upstream, UpstreamTls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;

/// Validates one entry (`path`: `tenants[2].upstreams[0]`); `ca` is resolved against `base`.
pub fn entry(u: &FileUpstream, base: &Path, file: &str, path: &str, report: &mut Report) -> Option<Upstream> {
    let (written, table) = match u {
        FileUpstream::Address(a) => (a.as_str(), None),
        FileUpstream::Table(t) => (t.address.as_str(), Some(t)),
    };
    let (address, https) = match scheme(written) {
        Ok(split) => split,
        Err(e) => {
            report.error(file, path, e);
            return None;
        }
    };
    let address_path = if table.is_some() { format!("{path}.address") } else { path.to_string() };
    let mut upstream = match super::validate::upstream(&address) {
        Ok(u) => u,
        Err(e) => {
            report.error(file, address_path, e);
            return None;
        }
    };
    let Some(t) = table else {
        upstream.tls = https.then_some(UpstreamTls { ca: None, sni: None, verify: true });
        return Some(upstream);
    };
    let tls = t.tls.unwrap_or(https);
    if t.tls == Some(false) && https {
        report.error(file, format!("{path}.tls"), "tls = false contradicts the https:// address");
        return None;
    }
    if !tls {
        for (key, set) in [("ca", t.ca.is_some()), ("sni", t.sni.is_some()), ("verify", t.verify.is_some())] {
            if set {
                report.error(
                    file,
                    format!("{path}.{key}"),
                    format!("{key} applies to TLS upstreams only; add tls = true or write https://"),
                );
            }
        }
        return Some(upstream);
    }
    let ca = match &t.ca {
        None => None,
        Some(name) => match read_ca(&base.join(name)) {
            Ok(ca) => Some(ca),
            Err(e) => {
                report.error(file, format!("{path}.ca"), e);
                return None;
            }
        },
    };
    let sni = match &t.sni {
        Some(name) if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() => {
            report.error(file, format!("{path}.sni"), format!("{name:?} is not a host name or IP address"));
            return None;
        }
        other => other.as_ref().map(|s| s.to_ascii_lowercase()),
    };
    let verify = t.verify.unwrap_or(true);
    if !verify {
        report.warn(
            file,
            format!("{path}.verify"),
            format!("verify = false: the certificate of {address} is NOT checked; anyone on the way can read and change this tenant's traffic"),
        );
    }
    upstream.tls = Some(UpstreamTls { ca, sni, verify });
    Some(upstream)
}

/// `https://host[:port]` → (`host:port`, true), `http://host[:port]` → (`host:port`, false),
/// anything else as written. A path after the authority is refused: the request's path is
/// what goes upstream.
fn scheme(written: &str) -> Result<(String, bool), String> {
    let (rest, https, default_port) = if let Some(rest) = strip_prefix_ignore_case(written, "https://") {
        (rest, true, 443)
    } else if let Some(rest) = strip_prefix_ignore_case(written, "http://") {
        (rest, false, 80)
    } else {
        return Ok((written.to_string(), false));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(format!(
            "{written:?}: an upstream is a scheme, host and port; the request's path is what goes upstream"
        ));
    }
    let has_port = match rest.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || host.ends_with(']'))
        }
        None => false,
    };
    Ok((if has_port { rest.to_string() } else { format!("{rest}:{default_port}") }, https))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// The certificates of a PEM file, at least one.
fn read_ca(path: &Path) -> Result<CaFile, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM file of certificates: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{}: holds no certificate (\"-----BEGIN CERTIFICATE-----\")", path.display()));
    }
    Ok(CaFile { path: path.to_path_buf(), certificates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let cases = [
            ("10.0.0.1:8080", Ok(("10.0.0.1:8080", false))),
            ("https://app.internal", Ok(("app.internal:443", true))),
            ("HTTPS://app.internal:8443/", Ok(("app.internal:8443", true))),
            ("https://[::1]", Ok(("[::1]:443", true))),
            ("https://[::1]:9443", Ok(("[::1]:9443", true))),
            ("http://app.internal", Ok(("app.internal:80", false))),
        ];
        for (written, expected) in cases {
            let got = scheme(written);
            assert_eq!(
                got.as_ref().map(|(a, h)| (a.as_str(), *h)),
                expected.map_err(|e: &str| e.to_string()).as_ref().map(|x| *x),
                "{written}"
            );
        }
        assert!(scheme("https://app.internal/api").is_err());
    }

    fn check(toml: &str) -> (Option<Upstream>, Report) {
        #[derive(serde::Deserialize)]
        struct One {
            u: FileUpstream,
        }
        let one: One = toml::from_str(toml).expect("parses");
        let mut report = Report::default();
        let u = entry(&one.u, Path::new("/nonexistent"), "f.toml", "tenants[0].upstreams[0]", &mut report);
        (u, report)
    }

    #[test]
    fn tables_say_what_is_wrong_with_their_key() {
        let (u, r) = check(r#"u = { address = "a.internal:443", tls = true, sni = "api.example", verify = false }"#);
        let tls = u.and_then(|u| u.tls).expect("tls");
        assert_eq!((tls.sni.as_deref(), tls.verify), (Some("api.example"), false));
        assert!(
            r.warnings.iter().any(|w| w.path.ends_with(".verify") && w.message.contains("NOT checked")),
            "{:?}",
            r.warnings
        );

        let (u, r) = check(r#"u = { address = "a.internal:80", sni = "x" }"#);
        assert!(u.is_some());
        assert!(r.errors.iter().any(|e| e.path == "tenants[0].upstreams[0].sni"), "{:?}", r.errors);

        let (u, r) = check(r#"u = { address = "https://a.internal", ca = "missing.pem" }"#);
        assert!(u.is_none());
        assert!(
            r.errors.iter().any(|e| e.path.ends_with(".ca") && e.message.contains("missing.pem")),
            "{:?}",
            r.errors
        );

        let (_, r) = check(r#"u = { address = "https://a.internal", tls = false }"#);
        assert!(r.errors.iter().any(|e| e.path.ends_with(".tls")), "{:?}", r.errors);

        let (u, r) = check(r#"u = "https://a.internal""#);
        assert!(r.errors.is_empty() && r.warnings.is_empty());
        let u = u.expect("valid");
        assert_eq!((u.address.as_str(), u.tls.map(|t| t.verify)), ("a.internal:443", Some(true)));
    }
}
