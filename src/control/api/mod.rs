//! The operator API under `/api/v1/` on the admin listener (README "Operator API").
//!
//! Endpoints ([`ROUTES`], described in `docs/openapi.json`; one flat `match` in [`answer`]):
//! - `GET tenants`: each tenant's state (open, maintenance, emergency), window in force and its
//!   end, next start, health and open incidents (`tenants`).
//! - `GET windows`, `GET|PUT|DELETE windows/{id}`: every window, and the operator-made ones
//!   created, replaced and cancelled (`windows`).
//! - `POST emergencies`, `DELETE emergencies/{id}`: emergencies on and off, as
//!   `hiatus emergency on|off` (`emergencies`).
//! - `GET incidents`, `GET incidents/{id}`, `POST incidents`, `POST incidents/{id}/updates`, `POST incidents/{id}/resolve`: incidents
//!   posted by operators (`incidents`).
//! - `GET openapi.json`: the description of all this.
//!
//! Changes go to the operator file through [`store::OperatorStore`] and are then applied as a
//! reload, so pages, feeds, calendars and notifications see them like a hand edit. In cluster
//! mode the store (handed in, see `Context::store`) is etcd's, which applies its writes itself:
//! the answer then waits for this node to have applied the revision written. A change
//! that would leave the configuration with errors is a 422 listing every one (key paths as
//! `hiatus check` gives them) and writes nothing.
//!
//! HTTP: JSON bodies with `Content-Length` (411 without, 415 not JSON, 413 over the admin
//! listener's body limit), RFC 9457 problems (`problem`), `ETag` the operator file's version,
//! `If-Match` honoured on writes (412), `Idempotency-Key` on `POST` (`idempotency`).
//! Every write needs the bearer token (`[gateway] admin_token`), on loopback too: a browser can
//! reach loopback (a cross-site `POST`, DNS rebinding); with a token configured, every request
//! needs it. Without one (the admin listener is then on loopback) the API only reads, and a
//! read must name a loopback host in `Host` (403 otherwise), which a rebound name does not.

pub mod emergencies;
pub mod idempotency;
pub mod incidents;
pub mod problem;
pub mod store;
pub mod tenants;
pub mod windows;

use crate::clock::Clock;
use crate::control::http::Answer;
use crate::control::reload::Reloader;
use pingora::http::RequestHeader;
use problem::Problem;
use std::sync::Arc;
use store::{OperatorStore, StoreError, Version};
use toml_edit::DocumentMut;

/// Every route of the API: method and path, `{id}` for a segment. `docs/openapi.json` describes
/// exactly these (a test compares them).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/tenants"),
    ("GET", "/api/v1/windows"),
    ("GET", "/api/v1/windows/{id}"),
    ("PUT", "/api/v1/windows/{id}"),
    ("DELETE", "/api/v1/windows/{id}"),
    ("POST", "/api/v1/emergencies"),
    ("DELETE", "/api/v1/emergencies/{id}"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{id}"),
    ("POST", "/api/v1/incidents"),
    ("POST", "/api/v1/incidents/{id}/updates"),
    ("POST", "/api/v1/incidents/{id}/resolve"),
    ("GET", "/api/v1/openapi.json"),
];

/// The API's description, checked in and served as is.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

pub const PREFIX: &str = "/api/v1/";

const JSON: &str = "application/json";

/// How often an edit without `If-Match` is redone when another write came between its read
/// and its write.
const EDIT_ATTEMPTS: usize = 3;

/// What the API works with: the admin listener's state.
#[derive(Debug)]
pub struct Context<'a> {
    pub reloader: &'a Arc<Reloader>,
    pub clock: &'a Clock,
    /// `[gateway] admin_token`.
    pub token: Option<&'a str>,
    pub keys: &'a idempotency::Keys,
    /// Where changes live when not in the operator file (cluster mode: etcd), handed in by
    /// the binary.
    pub store: Option<&'a Arc<dyn OperatorStore>>,
}

impl Context<'_> {
    /// Where changes live: the one place a store of another kind (etcd) plugs in.
    fn store(&self) -> Arc<dyn OperatorStore> {
        match self.store {
            Some(store) => store.clone(),
            None => Arc::new(store::FileStore { main: self.reloader.path().to_path_buf() }),
        }
    }
}

/// A request as the resources see it.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub head: &'a RequestHeader,
    pub body: &'a [u8],
}

impl Request<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn if_match(&self) -> Option<String> {
        self.field("if-match").map(str::to_string)
    }

    /// The body as a JSON object: 411 without `Content-Length`, 415 when not JSON, 400 when
    /// it does not parse or is not an object.
    fn json(&self) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
        if self.field("transfer-encoding").is_some() || self.field("content-length").is_none() {
            return Err(Problem::new(411, "send the JSON body with a Content-Length"));
        }
        let media = self.field("content-type").unwrap_or("").split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(JSON) {
            return Err(Problem::new(415, "the body must be application/json"));
        }
        match serde_json::from_slice::<serde_json::Value>(self.body) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(Problem::new(400, "the body must be a JSON object")),
            Err(e) => Err(Problem::new(400, format!("the body is not valid JSON: {e}"))),
        }
    }
}

/// Whether `host` (a `Host` field) names this machine's loopback interface.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        // A bare IPv6 address has colons of its own and no port.
        None if host.parse::<std::net::Ipv6Addr>().is_ok() => host,
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Who may do what (see the module doc): `None` when allowed.
fn refused(cx: &Context, req: &Request) -> Option<Problem> {
    let presented = req.field("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let authorized =
        matches!((presented, cx.token), (Some(p), Some(t)) if crate::gateway::bypass::secret_matches(p, t));
    let write = !matches!(req.method, "GET" | "HEAD");
    match (cx.token, authorized, write) {
        (Some(_), true, _) => None,
        // A configured token is required for every request, as on the rest of the admin
        // listener: off loopback a `Host` proves nothing.
        (Some(_), false, _) => Some(Problem::new(401, "a bearer token is required")),
        (None, _, true) => Some(Problem::new(
            403,
            "writes need a bearer token, also on loopback: set `[gateway] admin_token` (a restart applies it)",
        )),
        (None, _, false) if req.field("host").is_some_and(loopback_host) => None,
        (None, _, false) => Some(Problem::new(403, "host not allowed: without a token, name a loopback host")),
    }
}

/// Answers a request under [`PREFIX`].
pub async fn answer(cx: &Context<'_>, req: &Request<'_>) -> Answer {
    if let Some(p) = refused(cx, req) {
        return p.answer();
    }
    let Some(rest) = req.path.strip_prefix(PREFIX) else { return not_found() };
    let segments: Vec<&str> = rest.split('/').collect();
    let key = match (req.method, req.field("idempotency-key")) {
        ("POST", Some(k)) if k.is_empty() || k.len() > idempotency::MAX_KEY_LEN => {
            return Problem::new(400, "Idempotency-Key: 1 to 255 characters").answer()
        }
        ("POST", Some(k)) => Some(k.to_string()),
        _ => None,
    };
    if let Some(k) = &key {
        let fingerprint = idempotency::fingerprint(req.method, req.path, req.body);
        match cx.keys.claim(k, fingerprint, cx.clock.now()) {
            idempotency::Claim::New => {}
            idempotency::Claim::Replay(a) => return a,
            idempotency::Claim::Mismatch => {
                return Problem::new(422, "this Idempotency-Key was used for another request").answer()
            }
            idempotency::Claim::InFlight => {
                return Problem::new(409, "a request with this Idempotency-Key is still being answered").answer()
            }
            idempotency::Claim::Full => return Problem::new(503, "too many requests in flight; retry").answer(),
        }
    }
    let answer = route(cx, req, &segments).await.unwrap_or_else(|p| p.answer());
    if let Some(k) = &key {
        cx.keys.finish(k, &answer, cx.clock.now());
    }
    answer
}

/// The one flat dispatch.
async fn route(cx: &Context<'_>, req: &Request<'_>, segments: &[&str]) -> Result<Answer, Problem> {
    match (req.method, segments) {
        ("GET", ["tenants"]) => Ok(json(200, &tenants::list(cx))),
        ("GET", ["windows"]) => windows::list(cx),
        ("GET", ["windows", id]) => windows::get(cx, id),
        ("PUT", ["windows", id]) => windows::put(cx, req, id).await,
        ("DELETE", ["windows", id]) => windows::delete(cx, req, id).await,
        ("POST", ["emergencies"]) => emergencies::on(cx, req).await,
        ("DELETE", ["emergencies", id]) => emergencies::off(cx, req, id).await,
        ("GET", ["incidents"]) => incidents::list(cx),
        ("GET", ["incidents", id]) => incidents::get(cx, id),
        ("POST", ["incidents"]) => incidents::open(cx, req).await,
        ("POST", ["incidents", id, "updates"]) => incidents::updated(cx, req, id).await,
        ("POST", ["incidents", id, "resolve"]) => incidents::resolve(cx, req, id).await,
        ("GET", ["openapi.json"]) => Ok(Answer::new(200, JSON, OPENAPI)),
        (
            _,
            ["tenants" | "windows" | "emergencies" | "incidents" | "openapi.json"]
            | ["windows" | "emergencies" | "incidents", _]
            | ["incidents", _, "updates" | "resolve"],
        ) => Err(Problem::new(405, format!("{} is not allowed here", req.method))),
        _ => Ok(not_found()),
    }
}

fn not_found() -> Answer {
    Problem::new(404, "no such endpoint; see GET /api/v1/openapi.json").answer()
}

pub fn json(status: u16, body: &serde_json::Value) -> Answer {
    Answer::new(status, JSON, body.to_string())
}

/// An answer with the operator file's version as its `ETag`.
pub fn with_etag(mut answer: Answer, version: &Version) -> Answer {
    answer.fields.push(("etag", version.etag()));
    answer
}

/// A read's answer with the version's `ETag`, and, when it is this node's last known state
/// rather than the store's (cluster mode, etcd unreachable), `X-Hiatus-State: in-force`.
pub fn known(answer: Answer, version: &Version, known: store::Known) -> Answer {
    let mut answer = with_etag(answer, version);
    if known == store::Known::InForce {
        answer.fields.push(("x-hiatus-state", "in-force".to_string()));
    }
    answer
}

/// What an edit did.
#[derive(Debug)]
pub struct Edited<T> {
    pub value: T,
    pub version: Version,
}

/// Reads the operator file, lets `f` edit it, and writes it if nothing else wrote meanwhile:
/// with `If-Match`, only over that version (412 otherwise); without, redone over the newer
/// text a few times. A configuration with errors is a 422 with every one; nothing is written.
/// Blocking (file IO, the edit lock, a whole configuration load): run off the runtime.
pub fn edit<T>(
    store: &dyn OperatorStore,
    if_match: Option<&str>,
    mut f: impl FnMut(&mut DocumentMut) -> Result<T, Problem>,
) -> Result<Edited<T>, Problem> {
    for _ in 0..EDIT_ATTEMPTS {
        let (text, version) = store.read().map_err(unavailable)?;
        if if_match.is_some_and(|m| !version.matches(m)) {
            return Err(Problem::new(412, "the operator file changed: GET it again for its new ETag"));
        }
        let mut doc = text
            .parse::<DocumentMut>()
            .map_err(|e| Problem::new(409, format!("the operator file is not valid TOML; fix it by hand: {e}")))?;
        let value = f(&mut doc)?;
        let new = if text.trim().is_empty() {
            format!("{}{doc}", crate::control::emergency::HEADER)
        } else {
            doc.to_string()
        };
        match store.write(&new, &version) {
            Ok((version, _)) => return Ok(Edited { value, version }),
            Err(StoreError::Conflict) if if_match.is_none() => continue,
            Err(StoreError::Conflict) => {
                return Err(Problem::new(412, "the operator file changed: GET it again for its new ETag"))
            }
            Err(StoreError::Invalid(report)) => {
                return Err(Problem::invalid(
                    format!("the configuration would have {} error(s); nothing was changed", report.errors.len()),
                    report.errors,
                ))
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(Problem::new(409, "the operator file kept changing while this edit was made; retry"))
}

fn unavailable(e: StoreError) -> Problem {
    match e {
        StoreError::Unavailable(m) => Problem::new(503, format!("the operator file cannot be used: {m}")),
        other => Problem::new(503, other.to_string()),
    }
}

/// Runs an edit off the runtime, then puts it in force: a reload, or for a store that applies
/// its writes itself (etcd) a bounded wait until this node applied the version written. The
/// answer's body gets `generation` (or, when the reload was refused or the wait ran out,
/// `reload_errors`), and the new version as its `ETag`.
pub async fn apply<T: Send + 'static>(
    cx: &Context<'_>,
    edit_fn: impl FnOnce(Arc<dyn OperatorStore>) -> Result<Edited<T>, Problem> + Send + 'static,
) -> Result<(T, Version, serde_json::Value), Problem> {
    let store = cx.store();
    let (edited, settled) = tokio::task::spawn_blocking(move || {
        let edited = edit_fn(store.clone())?;
        let settled = store.in_force(&edited.version);
        Ok::<_, Problem>((edited, settled))
    })
    .await
    .map_err(|e| Problem::new(503, format!("the edit did not finish: {e}")))??;
    let reload = match settled {
        Some(Ok(())) => serde_json::json!({ "generation": cx.reloader.current().load().generation }),
        Some(Err(why)) => serde_json::json!({ "reload_errors": [why] }),
        None => match crate::control::reload_off_thread(cx.reloader.clone(), "api").await {
            Ok(Ok(a)) => serde_json::json!({ "generation": a.generation }),
            Ok(Err(errors)) => serde_json::json!({ "reload_errors": errors }),
            Err(e) => serde_json::json!({ "reload_errors": [e.to_string()] }),
        },
    };
    Ok((edited.value, edited.version, reload))
}

/// `RFC 3339` in UTC to the second, or null.
pub fn rfc3339(t: Option<i64>) -> serde_json::Value {
    t.and_then(crate::schedule::occurrence::from_unix)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into())
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in ["localhost", "LOCALHOST:9000", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:80", "::1"] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:80", "localhost.evil.example", "10.0.0.1", "[::2]:80", ""] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }
}
