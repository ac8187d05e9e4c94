//! The admin listener: what operators and monitoring ask the running gateway.
//!
//! Endpoints (one flat `match`):
//! - `GET /metrics`  Prometheus text format from the gateway's own registry (README lists every
//!   metric); it names upstream addresses (`hiatus_upstream_healthy`), like `/state`.
//! - `GET /healthz`  200 while the process serves.
//! - `GET /readyz`   200 once every gateway listener accepts connections; 503 before.
//! - `POST /reload`  reload now; 200 with the new generation and `warnings` (each changed key
//!   that needs an upgrade or restart), or `"unchanged": true` and the generation in force when
//!   the files hold what it was read from; 422 with every error (the running configuration stays).
//! - `GET /certificates`  JSON: every certificate the TLS listeners may serve (configured and
//!   ACME's) with names, source, `not_after`, issuer, and each ACME name's last error.
//! - `GET /state`    JSON: generation, hash, loaded at, last reload result with errors, and per
//!   tenant the state, the window in force, the next window, its open incident (cause and
//!   detail) and, when checked, each upstream's health (healthy, since, last error, last probe).
//!   Operators only: unlike public pages, this names upstream addresses and error texts.
//!   Sections other parts add ([`StateSection`]): `cluster` in cluster mode (node, connected,
//!   revision, last contact).
//! - `/api/v1/…`     the operator API (`control::api`: tenants, windows, emergencies), with a
//!   token required for every write, also on loopback.
//!
//! `HEAD` works wherever `GET` does: the same head (its `Content-Length` too), no body.
//! Served by `control::http` (pingora's HTTP/1 session): a head within 10 s, a body within 10 s
//! and 64 KiB (413 beyond), a head that does not parse gets 400.
//!
//! Bound to loopback by default; anywhere else every request needs `Authorization: Bearer
//! <admin_token>` (validation refuses a non-loopback admin address without a token).

use super::http::{Answer, Bounded, Endpoints, Limits};
use super::reload::Reloader;
use crate::clock::Clock;
use crate::config::health::HealthProbe;
use crate::schedule::occurrence::from_unix;
use crate::telemetry::metrics::Metrics;
use pingora::http::RequestHeader;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Shared state of the admin endpoints.
#[derive(Debug)]
pub struct Admin {
    pub reloader: Arc<Reloader>,
    pub metrics: Option<Arc<Metrics>>,
    pub clock: Clock,
    pub token: Option<String>,
    /// Set once every gateway listener accepts connections.
    pub ready: AtomicBool,
    /// How long a request's head and body may take, and how large its body may be.
    pub limits: Limits,
    /// ACME's state, for `/certificates` (none: configured certificates only).
    pub acme: Option<Arc<crate::acme::Acme>>,
    /// Sections other parts of the process add to `/state` (the cluster's contact with etcd).
    pub sections: Vec<Arc<dyn StateSection>>,
    /// The operator API's `Idempotency-Key`s and their answers.
    pub idempotency: super::api::idempotency::Keys,
    /// Where the operator API writes when not in the operator file: etcd in cluster mode.
    pub operator_store: Option<Arc<dyn super::api::store::OperatorStore>>,
}

/// A section of `/state` kept by another part of the process, by name (`cluster`).
pub trait StateSection: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    fn state(&self) -> serde_json::Value;
}

fn rfc3339(t: Option<i64>) -> Option<String> {
    t.and_then(from_unix).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl Admin {
    /// Per-tenant state now.
    pub fn tenants_json(&self) -> Vec<serde_json::Value> {
        let compiled = self.reloader.current().load_full();
        let now = self.clock.now();
        let engine = &compiled.engine;
        let incidents = compiled.health.incidents().open();
        compiled
            .config()
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let health = compiled.tenants.get(i).and_then(|r| r.health.as_ref()).map(|h| {
                    let upstreams: Vec<serde_json::Value> = h
                        .upstreams
                        .iter()
                        .map(|u| {
                            let d = u.detail();
                            serde_json::json!({
                                "address": u.address,
                                "healthy": u.is_healthy(),
                                "since": rfc3339(d.since),
                                // The operator's view: the detail (address, OS error) belongs here.
                                "last_error": d.last_failure.as_ref().map(|f| f.detail.as_str()),
                                "last_cause": d.last_failure.as_ref().map(|f| f.cause.code()),
                                "last_probe": rfc3339(d.last_probe),
                            })
                        })
                        .collect();
                    let check = match &h.check.probe {
                        HealthProbe::Tcp => serde_json::json!({ "tcp": true }),
                        HealthProbe::Http { path, expect } => serde_json::json!({ "path": path, "expect": expect }),
                    };
                    serde_json::json!({ "check": check, "upstreams": upstreams })
                });
                let incident = incidents.iter().find(|x| x.tenant == t.id).map(|x| {
                    serde_json::json!({
                        "id": x.id, "start": rfc3339(Some(x.start)), "cause": x.cause.code(), "detail": x.detail,
                    })
                });
                let route = engine.route_of_tenant(i as u32);
                let v = engine.verdict(&route, now);
                let window = |w: Option<u32>| w.and_then(|w| engine.window(w)).map(|w| w.id.clone());
                serde_json::json!({
                    "tenant": t.id,
                    "state": if v.is_maintenance() { "maintenance" } else { "open" },
                    "window": window(v.window),
                    "until": rfc3339(v.until),
                    "tentative": v.tentative,
                    "next_window": window(v.next_window),
                    "next_start": rfc3339(v.next_start),
                    "health": health,
                    "incident": incident,
                })
            })
            .collect()
    }

    /// The one flat dispatch (see the module doc); the token is checked first.
    async fn handle(&self, method: &str, path: &str, authorization: Option<&str>) -> Answer {
        const JSON: &str = "application/json";
        if self.token.is_some() {
            let presented = authorization.and_then(|a| a.strip_prefix("Bearer "));
            let ok =
                matches!((presented, &self.token), (Some(p), Some(t)) if crate::gateway::bypass::secret_matches(p, t));
            if !ok {
                return Answer::new(401, "text/plain", "a bearer token is required\n");
            }
        }
        // `HEAD` is `GET` without the body (`control::http` leaves it out).
        let method = match method {
            "HEAD" => "GET",
            m => m,
        };
        match (method, path) {
            ("GET", "/metrics") => {
                let body = self.metrics.as_ref().map(|m| m.encode()).unwrap_or_default();
                Answer::new(200, "text/plain; version=0.0.4", body)
            }
            ("GET", "/healthz") => Answer::new(200, "text/plain", "ok\n"),
            ("GET", "/readyz") if self.ready.load(Ordering::Relaxed) => Answer::new(200, "text/plain", "ready\n"),
            ("GET", "/readyz") => Answer::new(503, "text/plain", "starting\n"),
            ("POST", "/reload") => {
                let reloader = self.reloader.clone();
                let result = super::reload_off_thread(reloader, "admin").await;
                let (status, body) = match result {
                    Ok(Ok(a)) => (
                        200,
                        serde_json::json!({
                            "ok": true, "generation": a.generation, "unchanged": a.unchanged, "warnings": a.warnings,
                        }),
                    ),
                    Ok(Err(errors)) => (422, serde_json::json!({"ok": false, "errors": errors})),
                    Err(e) => (503, serde_json::json!({"ok": false, "errors": [e.to_string()]})),
                };
                Answer::new(status, JSON, body.to_string())
            }
            ("GET", "/state") => {
                let s = self.reloader.status();
                let mut body = serde_json::json!({
                    "generation": s.generation,
                    "hash": s.hash,
                    "loaded_at": s.loaded_at,
                    "files": s.files,
                    "last_reload": s.last,
                    "tenants": self.tenants_json(),
                });
                for section in &self.sections {
                    body[section.name()] = section.state();
                }
                Answer::new(200, JSON, body.to_string())
            }
            ("GET", "/certificates") => {
                let compiled = self.reloader.current().load_full();
                let body = crate::acme::report::certificates(&compiled, self.acme.as_deref());
                Answer::new(200, JSON, body.to_string())
            }
            (_, "/metrics" | "/healthz" | "/readyz" | "/reload" | "/state") => {
                Answer::new(405, "text/plain", "method not allowed\n")
            }
            _ => Answer::new(404, "text/plain", "endpoints: /metrics /healthz /readyz /state /certificates, POST /reload, /api/v1/ (the operator API)\n"),
        }
    }

    /// The operator API (`control::api`): it checks the token itself, since its writes need
    /// one even where the other endpoints do not.
    async fn api(&self, head: &RequestHeader, body: &[u8]) -> Answer {
        let method = match head.method.as_str() {
            "HEAD" => "GET",
            m => m,
        };
        let cx = super::api::Context {
            reloader: &self.reloader,
            clock: &self.clock,
            token: self.token.as_deref(),
            keys: &self.idempotency,
            store: self.operator_store.as_ref(),
        };
        let req = super::api::Request { method, path: head.uri.path(), head, body };
        super::api::answer(&cx, &req).await
    }

    /// The admin endpoints as a pingora server app, within `limits`.
    pub fn app(self: &Arc<Self>) -> AdminApp {
        Bounded::new(self.clone(), self.limits)
    }

    /// Serves the admin endpoints on `listener` forever.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        super::http::serve(listener, Arc::new(self.app())).await;
    }
}

#[async_trait::async_trait]
impl Endpoints for Admin {
    async fn answer(&self, head: &RequestHeader, body: &[u8]) -> Answer {
        let authorization = head.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let path = head.uri.path();
        let mut answer = if path.starts_with(super::api::PREFIX) {
            self.api(head, body).await
        } else {
            self.handle(head.method.as_str(), path, authorization).await
        };
        answer.fields.push(("cache-control", "no-store".to_string()));
        answer
    }

    /// The API's errors are all problems, this one too.
    fn too_large(&self, head: &RequestHeader) -> Answer {
        let mut answer = if head.uri.path().starts_with(super::api::PREFIX) {
            super::api::problem::Problem::new(413, format!("the body is over {} bytes", self.limits.max_body)).answer()
        } else {
            Answer::new(413, "text/plain", "the body is too large\n")
        };
        answer.fields.push(("cache-control", "no-store".to_string()));
        answer
    }
}

/// The admin endpoints as a pingora server app: the admin listener is then one of the process's
/// listeners, handed over to the new process in an upgrade like the gateway's (a listener of
/// its own would still be bound by the old process when the new one starts).
pub type AdminApp = Bounded<Admin>;
