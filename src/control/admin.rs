//! The admin listener: what operators and monitoring ask the running gateway.
//!
//! Endpoints (one flat `match`):
//! - `GET /metrics`  Prometheus text format from the gateway's own registry (README lists every
//!   metric); it names upstream addresses (`hiatus_upstream_healthy`), like `/state`.
//! - `GET /healthz`  200 while the process serves.
//! - `GET /readyz`   200 once every gateway listener accepts connections; 503 before.
//! - `POST /reload`  reload now; 200 with the new generation and `warnings` (each changed key
//!   that needs an upgrade or restart), 422 with every error (the running configuration stays).
//! - `GET /state`    JSON: generation, hash, loaded at, last reload result with errors, and per
//!   tenant the state, the window in force, the next window, its open incident (cause and
//!   detail) and, when checked, each upstream's health (healthy, since, last error, last probe).
//!   Operators only: unlike public pages, this names upstream addresses and error texts.
//!
//! `HEAD` works wherever `GET` does: the same head (its `Content-Length` too), no body.
//!
//! Bound to loopback by default; anywhere else every request needs `Authorization: Bearer
//! <admin_token>` (validation refuses a non-loopback admin address without a token).

use super::http::{read_request, respond, Request};
use super::reload::Reloader;
use crate::clock::Clock;
use crate::config::health::HealthProbe;
use crate::schedule::occurrence::from_unix;
use crate::telemetry::metrics::Metrics;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
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

    async fn handle(&self, req: &Request) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        if self.token.is_some() {
            let presented = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
            let ok =
                matches!((presented, &self.token), (Some(p), Some(t)) if crate::gateway::bypass::secret_matches(p, t));
            if !ok {
                return (401, "text/plain", b"a bearer token is required\n".to_vec());
            }
        }
        // `HEAD` is `GET` without the body (`connection` leaves it out).
        let method = match req.method.as_str() {
            "HEAD" => "GET",
            m => m,
        };
        match (method, req.path()) {
            ("GET", "/metrics") => {
                let body = self.metrics.as_ref().map(|m| m.encode()).unwrap_or_default();
                (200, "text/plain; version=0.0.4", body)
            }
            ("GET", "/healthz") => (200, "text/plain", b"ok\n".to_vec()),
            ("GET", "/readyz") if self.ready.load(Ordering::Relaxed) => (200, "text/plain", b"ready\n".to_vec()),
            ("GET", "/readyz") => (503, "text/plain", b"starting\n".to_vec()),
            ("POST", "/reload") => {
                let reloader = self.reloader.clone();
                let result = super::reload_off_thread(reloader, "admin").await;
                match result {
                    Ok(Ok(a)) => {
                        let body = serde_json::json!({"ok": true, "generation": a.generation, "warnings": a.warnings});
                        (200, JSON, body.to_string().into_bytes())
                    }
                    Ok(Err(errors)) => {
                        (422, JSON, serde_json::json!({"ok": false, "errors": errors}).to_string().into_bytes())
                    }
                    Err(e) => (
                        503,
                        JSON,
                        serde_json::json!({"ok": false, "errors": [e.to_string()]}).to_string().into_bytes(),
                    ),
                }
            }
            ("GET", "/state") => {
                let s = self.reloader.status();
                let body = serde_json::json!({
                    "generation": s.generation,
                    "hash": s.hash,
                    "loaded_at": s.loaded_at,
                    "files": s.files,
                    "last_reload": s.last,
                    "tenants": self.tenants_json(),
                });
                (200, JSON, body.to_string().into_bytes())
            }
            (_, "/metrics" | "/healthz" | "/readyz" | "/reload" | "/state") => {
                (405, "text/plain", b"method not allowed\n".to_vec())
            }
            _ => (404, "text/plain", b"endpoints: /metrics /healthz /readyz /state, POST /reload\n".to_vec()),
        }
    }

    async fn connection<S: AsyncRead + AsyncWrite + Unpin>(self: Arc<Self>, stream: S) -> std::io::Result<()> {
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        while let Some(req) = read_request(&mut read).await? {
            let (status, content_type, body) = self.handle(&req).await;
            let close = req.wants_close();
            let head_only = req.method == "HEAD";
            respond(&mut write, status, content_type, &[("cache-control", "no-store")], &body, head_only, close)
                .await?;
            if close {
                break;
            }
        }
        Ok(())
    }

    /// Serves the admin endpoints on `listener` forever.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let me = self.clone();
            tokio::spawn(async move {
                let _ = me.connection(stream).await;
            });
        }
    }
}

/// The admin endpoints as a pingora server app: the admin listener is then one of the process's
/// listeners, handed over to the new process in an upgrade like the gateway's (a listener of
/// its own would still be bound by the old process when the new one starts).
#[derive(Debug)]
pub struct AdminApp(pub Arc<Admin>);

#[async_trait::async_trait]
impl pingora::apps::ServerApp for AdminApp {
    async fn process_new(
        self: &Arc<Self>,
        io: pingora::protocols::Stream,
        _shutdown: &pingora::server::ShutdownWatch,
    ) -> Option<pingora::protocols::Stream> {
        let _ = self.0.clone().connection(io).await;
        None
    }
}
