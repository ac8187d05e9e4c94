//! The request core: everything about a request that does not depend on the protocol the
//! client speaks. Both lanes — HTTP/1.1 (`http1`) and h2c (`h2c`) — are thin adapters over it:
//! they read a request into [`InFlight`] and the decision's inputs, and write what the core
//! hands back.
//!
//! - [`Core::plan`]: one of the gateway's own answers ([`Answer`]), or the upstream.
//! - `fields`: what each request field is (read, replaced, dropped); `upstream`: the one
//!   builder of the upstream request head; `body`: request bodies as they go upstream;
//! - `exchange`: one exchange with an upstream (pooled or fresh connection, the request and
//!   its body streamed, an early answer noticed, the response head read); [`Core::exchange`]
//!   picks upstreams and retries;
//! - `response`: the response policy (limits, framing, reuse, hop-by-hop, markers) and the
//!   client's head for either lane; `relay`: the body to an HTTP/1.x client; `tunnel`: an
//!   upgraded connection; `pool`: idle upstream connections; `chunked`: chunked framing;
//! - `own`: the gateway's own paths and the status page; failures become pages
//!   ([`InFlight::failure`]).

pub mod body;
pub mod buffers;
pub mod chunked;
pub mod conn;
pub mod exchange;
pub mod fields;
pub mod io;
pub mod own;
pub mod pool;
pub mod relay;
pub mod response;
pub mod tunnel;
pub mod upstream;

use self::exchange::{Exchange, Failed, Reply};
use self::response::{Asked, ClientHead, Stamp};
use crate::compiled::{Compiled, NoPick, TenantRuntime};
use crate::gateway::decide::{Action, Decided};
use crate::gateway::record::{Finished, Gateway, RequestId};
use crate::gateway::respond::{Answer, Marker};
use crate::health::Cause;
use crate::pages::Failure;
use crate::schedule::{UnixTime, Verdict};
use crate::telemetry::Outcome;
use body::RequestBody;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Distinguishes cores in one process: the per-thread pool is keyed by it.
static CORES: AtomicU64 = AtomicU64::new(1);

/// The request core shared by the lanes of one listener set.
#[derive(Debug)]
pub struct Core {
    pub gateway: Gateway,
    /// Pool key: connections of one core are never handed to another (tests run several).
    pub id: u64,
}

/// What a decided request gets.
#[derive(Debug)]
pub enum Plan {
    Answer(Answer),
    /// To the tenant's upstreams; the outcome to record when it is relayed.
    Proxy(Outcome),
}

/// A request in progress, on either lane: what its answer and its record need.
#[derive(Debug)]
pub struct InFlight<'a> {
    pub compiled: &'a Arc<Compiled>,
    pub method: &'a str,
    pub head_request: bool,
    pub host: Option<&'a str>,
    /// As sent, without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    /// Read for the status host's answers only (the lanes leave it `None` otherwise).
    pub accept_encoding: Option<&'a str>,
    pub started: Instant,
    pub tenant: Option<u32>,
    pub verdict: Option<Verdict>,
    pub request_id: RequestId,
    /// The client's connection stays after this request (HTTP/1.1 lane).
    pub keep_alive: bool,
    /// The socket peer.
    pub peer: Option<IpAddr>,
    /// The client as the trusted proxies say it is (`bypass::client_ip`), for the access log.
    pub client: Option<IpAddr>,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'static str,
    /// Read only when the access log is written.
    pub user_agent: Option<&'a str>,
    /// Body bytes written to the client.
    pub sent: u64,
    /// Body bytes read from the client (its request body as the upstream got it, without
    /// chunked framing; what an upgraded connection carried up).
    pub received: u64,
    pub upstream: Option<SocketAddr>,
    pub upstream_started: Option<Instant>,
    /// The tenant's `Strict-Transport-Security`, when the request came over TLS ([`hsts`]).
    pub hsts: Option<&'a http::HeaderValue>,
}

/// The `Strict-Transport-Security` a request's answers carry: its tenant's, over TLS only
/// (over plain HTTP browsers ignore it, RFC 6797 §8.1).
pub fn hsts(compiled: &Compiled, tenant: Option<u32>, tls: bool) -> Option<&http::HeaderValue> {
    if !tls {
        return None;
    }
    compiled.tenants.get(tenant? as usize)?.hsts.as_ref()
}

impl Core {
    pub fn new(gateway: Gateway) -> Core {
        Core { gateway, id: CORES.fetch_add(1, Ordering::Relaxed) }
    }

    /// What a decided request gets, for either lane: one of the gateway's answers, or the
    /// upstream's.
    pub fn plan(&self, req: &InFlight<'_>, d: &Decided, now: UnixTime) -> Plan {
        let compiled = req.compiled;
        let lang = Compiled::lang_index(d.lang);
        let raw_host = req.host.unwrap_or("");
        let page = |status, outcome, marker, body| Answer::page(status, outcome, marker, d.format, d.lang, body);
        // ACME's HTTP-01 (RFC 8555 §8.3) on plain connections, whatever the host, maintenance
        // or redirect would make of the request: only pending tokens are answered.
        if !d.tls && req.path.starts_with(crate::acme::challenge::PREFIX) {
            if let Some(key_authorization) = self.gateway.acme.challenges.answer(req.path) {
                let mut a = Answer::plain(200, "");
                (a.outcome, a.marker, a.content_type) = (Outcome::Gateway, Marker::Own, "application/octet-stream");
                a.body = key_authorization;
                return Plan::Answer(a);
            }
        }
        Plan::Answer(match d.action {
            Action::Own | Action::Status => {
                let canonical = crate::gateway::path::canonical(req.path).unwrap_or_default();
                if d.action == Action::Own {
                    own::hiatus_path(req, d, &canonical, req.query, now)
                } else {
                    own::status(req, d, &canonical, now, &self.gateway.status_cache)
                }
            }
            Action::BadRequest => {
                let body = compiled.shared.bad_request[lang][d.format].fill(&req.request_id, "");
                page(400, Outcome::BadRequest, Marker::BadRequest, body)
            }
            Action::UnknownHost => {
                let body = compiled.shared.unknown_host[lang][d.format].fill(&req.request_id, raw_host);
                let status = compiled.config().gateway.unknown_host_status;
                page(status, Outcome::UnknownHost, Marker::UnknownHost, body)
            }
            Action::Maintenance => {
                let (Some(t), Some(verdict)) = (req.tenant, d.verdict) else {
                    return Plan::Answer(Answer::plain(500, "The gateway could not decide this request.\n"));
                };
                match crate::compiled::pages::maintenance_page(compiled, t, &verdict, d.lang, d.format, now) {
                    Ok(rendered) => {
                        let body = rendered.body.fill(&req.request_id, raw_host);
                        let mut a = page(503, Outcome::Maintenance, Marker::Maintenance, body);
                        a.retry_after = rendered.retry_after.clone();
                        a
                    }
                    Err(e) => {
                        log::error!("maintenance page of tenant {t}: {e}");
                        let mut a = Answer::plain(503, "This service is down for maintenance.\n");
                        a.outcome = Outcome::Maintenance;
                        a.marker = Marker::Maintenance;
                        a
                    }
                }
            }
            Action::NoUpstream => req.failure(Failure::Unavailable, 503, d.lang, d.format),
            Action::HttpsRedirect => own::https_redirect(req),
            Action::Proxy { bypass } => return Plan::Proxy(if bypass { Outcome::Bypass } else { Outcome::Proxied }),
        })
    }

    /// One exchange with the tenant's upstreams, for either lane: the next healthy one, another
    /// on a connect failure (once each, at most three). The client's head is made from the
    /// response's one parse (`client_head`).
    #[allow(clippy::too_many_arguments)]
    pub async fn exchange<B: RequestBody>(
        &self,
        req: &mut InFlight<'_>,
        runtime: &TenantRuntime,
        d: &Decided,
        request: &[u8],
        body: &mut B,
        asked: Asked,
        http10: bool,
        mut client_head: ClientHead<'_>,
        mut timer: Pin<&mut tokio::time::Sleep>,
    ) -> Result<Reply, Failed> {
        let settings = &req.compiled.config().gateway;
        let number = d.route.and_then(|r| r.number);
        let start = runtime.next.fetch_add(1, Ordering::Relaxed);
        let most = runtime.upstream_count().clamp(1, 3);
        let mut tries = 0;
        let passive = &settings.passive;
        loop {
            let now = self.gateway.clock.now();
            let picked = match runtime.pick(start, tries, number, now) {
                Ok(p) => p,
                Err(NoPick::Unhealthy) => return Err(Failed::upstream(Failure::Unavailable, 503)),
                Err(NoPick::Unusable(why)) => {
                    log::warn!("tenant {:?}: no usable upstream: {why}", req.tenant);
                    return Err(Failed::upstream(Failure::Unavailable, 502));
                }
            };
            tries += 1;
            let addr = picked.addr;
            let observed = picked.index.and_then(|i| runtime.passive.get(i));
            let tls = match picked.tls {
                None => None,
                Some(t) => match sni(t, req.host) {
                    Some(name) => Some(conn::Peer { trust: &t.trust, name }),
                    None => {
                        log::warn!(
                            "tenant {}: a request without a host name for the TLS upstream {addr}",
                            tenant_id(req)
                        );
                        return Err(Failed::upstream(Failure::Tls, 502));
                    }
                },
            };
            req.upstream = Some(addr);
            req.upstream_started = Some(Instant::now());
            let x = Exchange {
                app: self.id,
                addr,
                request,
                asked,
                resend: idempotent(req.method),
                connect_timeout: runtime.connect_timeout,
                read_timeout: runtime.read_timeout,
                write_timeout: settings.write_timeout,
                stamp: Stamp {
                    request_id: &req.request_id,
                    generation: req.compiled.shown_generation(),
                    keep_alive: req.keep_alive,
                    http10,
                    hsts: req.hsts,
                },
                drain: &self.gateway.drain,
                tls,
            };
            // HTTP/1.1 clients give their buffer back after the relay (`buffers`); on h2c the
            // body leaves in pieces of the buffer, which cannot come back.
            let buf = match client_head {
                ClientHead::H1(_) => buffers::take(),
                ClientHead::H2(_) => bytes::BytesMut::with_capacity(exchange::GATHER),
            };
            let result = exchange::exchange(&x, body, buf, client_head.reborrow(), timer.as_mut()).await;
            if let Some(p) = observed {
                observe(p, &result, passive, req, addr, now);
            }
            match result {
                Ok(reply) => return Ok(reply),
                Err(Failed::Upstream { before_request: true, .. }) if tries < most => continue,
                Err(f) => {
                    if let Failed::Upstream { failure, why, os, .. } = f {
                        self.gateway.upstream_failed(req.compiled, req.tenant, addr, failure, why, os);
                    }
                    return Err(f);
                }
            }
        }
    }

    pub fn record(&self, req: &InFlight<'_>, outcome: Outcome, status: u16) {
        self.gateway.record(&Finished {
            compiled: req.compiled,
            tenant: req.tenant,
            verdict: req.verdict,
            outcome,
            upstream: req.upstream,
            upstream_time: req.upstream_started.map(|s| s.elapsed()),
            started: req.started,
            host: req.host.unwrap_or(""),
            method: req.method,
            path: req.path,
            query: req.query,
            status,
            request_id: &req.request_id,
            client: req.client,
            protocol: req.protocol,
            user_agent: req.user_agent,
            sent: req.sent,
            received: req.received,
        });
    }
}

/// Counts an exchange's result into its upstream's passive state (`health::passive`): one load
/// when it answered and nothing was failing.
fn observe(
    p: &crate::health::Passive,
    result: &Result<Reply, Failed>,
    limits: &crate::config::gateway::Passive,
    req: &InFlight<'_>,
    addr: SocketAddr,
    now: UnixTime,
) {
    let cause = match result {
        Ok(reply) if limits.count_5xx && reply.status >= 500 => Some(Cause::Errors),
        Ok(_) => None,
        Err(Failed::Upstream { failure, .. }) => passive_cause(*failure),
        // The client's part failed: nothing is known of the upstream.
        Err(_) => return,
    };
    match cause {
        None => {
            if p.succeeded() {
                log::info!("upstream {addr} of tenant {}: answering again", tenant_id(req));
            }
        }
        Some(cause) => {
            if p.failed(cause, now, limits) {
                log::warn!(
                    "upstream {addr} of tenant {}: {} failed requests in a row; left out for {}s while another is up",
                    tenant_id(req),
                    limits.failures,
                    limits.cooldown.as_secs()
                );
            }
        }
    }
}

/// What a failed exchange says of its upstream, as an incident's kind; `None` when it says
/// nothing bad of it (the gateway stopping).
fn passive_cause(failure: Failure) -> Option<Cause> {
    match failure {
        Failure::Refused | Failure::Unavailable => Some(Cause::Unreachable),
        Failure::ConnectTimeout | Failure::ReadTimeout => Some(Cause::Timeout),
        Failure::Reset | Failure::BadResponse | Failure::UpstreamStatus | Failure::Tls => Some(Cause::Errors),
        Failure::Stopping => None,
    }
}

/// The name a TLS upstream is sent (SNI) and must hold a certificate for: its configured `sni`,
/// else the request's host without its port. `None` when the request names no usable host.
fn sni(
    tls: &crate::compiled::upstream_tls::TlsUpstream,
    host: Option<&str>,
) -> Option<rustls::pki_types::ServerName<'static>> {
    if let Some(name) = &tls.sni {
        return Some(name.clone());
    }
    let mut buf = [0u8; crate::hosts::HOST_BUF_LEN];
    let host = crate::hosts::normalize_host(host?, &mut buf)?;
    rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string()).ok()
}

fn tenant_id<'c>(req: &InFlight<'c>) -> &'c str {
    req.tenant.and_then(|t| req.compiled.config().tenants.get(t as usize)).map_or("-", |t| t.id.as_str())
}

/// Methods a request may be sent again with (RFC 9110 §9.2.2), when a pooled connection turns
/// out closed before any answer.
fn idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

impl<'a> InFlight<'a> {
    /// Language and format of a page decided after the request phase (proxied requests skip
    /// the negotiation until then).
    pub fn negotiate(&self) -> (crate::config::Language, usize) {
        crate::gateway::decide::negotiate(self.compiled, self.accept, self.accept_language, self.tenant)
    }

    /// Whether the gateway answers instead of the upstream's error status (a tenant option).
    pub fn replaces(&self, status: u16) -> bool {
        // The status first: the tenant's options are only read for an error status.
        matches!(status, 502..=504)
            && self
                .tenant
                .and_then(|t| self.compiled.config().tenants.get(t as usize))
                .is_some_and(|t| t.options.replace_upstream_errors)
    }

    /// The failure page for what went wrong upstream: what happened in words a user
    /// understands; addresses and OS errors go to the log only.
    pub fn failure(&self, failure: Failure, status: u16, lang: crate::config::Language, format: usize) -> Answer {
        let outcome = match failure {
            Failure::Stopping => Outcome::Stopped,
            _ => Outcome::UpstreamError(failure),
        };
        let rendered = match (self.tenant, self.verdict) {
            (Some(t), Some(verdict)) => {
                crate::compiled::pages::failure_page(self.compiled, t, &verdict, failure, status, lang, format)
                    .map_err(|e| log::error!("failure page of tenant {t}: {e}"))
                    .ok()
            }
            _ => None,
        };
        match rendered {
            Some(r) => Answer::page(
                status,
                outcome,
                Marker::Failure(failure),
                format,
                lang,
                r.body.fill(&self.request_id, self.host.unwrap_or("")),
            ),
            None => {
                let mut a = Answer::plain(status, "The service behind this gateway could not be reached.\n");
                a.outcome = outcome;
                a.marker = Marker::Failure(failure);
                a
            }
        }
    }
}
