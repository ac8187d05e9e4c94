//! `GET /certificates` on the admin listener: every certificate the TLS listeners may serve,
//! configured and ACME's, with names, source, expiry and issuer, and each ACME name's last
//! error. For operators: errors are shown as the CA or the OS said them.

use super::Acme;
use crate::compiled::Compiled;

fn rfc3339(t: Option<i64>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The endpoint's JSON.
pub fn certificates(compiled: &Compiled, acme: Option<&Acme>) -> serde_json::Value {
    let mut list = Vec::new();
    for listed in compiled.certificates.listed() {
        list.push(serde_json::json!({
            "names": listed.names,
            "default": listed.default,
            "source": "configured",
            "not_after": rfc3339(listed.not_after),
            "issuer": listed.issuer,
        }));
    }
    let settings = compiled.config().acme.as_ref();
    if let (Some(acme), Some(settings)) = (acme, settings) {
        let issued = acme.issued.load();
        for name in &settings.names {
            let c = issued.get(name);
            let error = acme.last_error(name).map(|e| {
                serde_json::json!({ "at": rfc3339(Some(e.at)), "message": e.message, "retry_at": rfc3339(Some(e.retry_at)) })
            });
            list.push(serde_json::json!({
                "names": [name],
                "default": false,
                "source": "acme",
                "issued": c.is_some(),
                "not_after": rfc3339(c.and_then(|c| c.not_after)),
                "issuer": c.and_then(|c| c.issuer.clone()),
                "last_error": error,
            }));
        }
    }
    let (ok, failed) = acme.map_or((0, 0), Acme::orders);
    serde_json::json!({
        "acme": settings.map(|s| serde_json::json!({ "directory": s.directory, "orders_ok": ok, "orders_failed": failed })),
        "certificates": list,
    })
}
