//! [`Compiled`]: everything a request needs, built once per configuration and swapped whole.
//!
//! Wraps the engine's [`Snapshot`] with what only the gateway needs: resolved upstream
//! addresses, per-tenant templates and timeouts, the pre-split pages that do not depend on a
//! tenant, and per-tenant page caches (a maintenance page is rendered once per block, language
//! and format, then served as shared bytes). One value behind one `ArcSwap`: a request loads it
//! once and every phase of that request sees the same generation.
//!
//! Health is the one thing that changes under a built `Compiled`: each checked tenant holds the
//! shared [`UpstreamHealth`] of its upstreams (from the [`HealthRegistry`] the prober writes),
//! so a request reads one atomic per upstream and a rebuild keeps what the probes found.

pub mod ledger;
pub mod pages;
pub mod resolve;
pub mod upstream_tls;

pub use pages::PageCache;

use crate::config::{Config, Language};
use crate::engine::{BuildOptions, Snapshot};
use crate::health::{HealthRegistry, Passive, TenantHealth, UpstreamHealth};
use crate::hosts::PatternKind;
use crate::pages::{Escape, Pages, Split, Strings, HOST, PORT, REQUEST_ID};
use crate::schedule::UnixTime;
use crate::telemetry::metrics::TenantCounts;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Why a configuration could not be compiled: what failed, and for which tenant.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The gateway's templates (`[gateway] pages`).
    #[error(transparent)]
    Pages(#[from] crate::pages::PageError),
    #[error("tenant {tenant}: {source}")]
    TenantPages { tenant: String, source: crate::pages::PageError },
    #[error("tenant {tenant}: {source}")]
    UpstreamTls { tenant: String, source: upstream_tls::TlsSetupError },
    /// The incident file in `state_dir`.
    #[error(transparent)]
    State(#[from] crate::health::incidents::StateError),
}

/// Where a tenant's requests go.
#[derive(Debug)]
pub enum Upstreams {
    /// Resolved when the configuration was compiled; an entry that did not resolve says why.
    Fixed(Vec<Result<SocketAddr, String>>),
    /// `{n}` templates, filled with the host's number per request (IP literals only).
    PerHost(Vec<String>),
}

/// A tenant as the proxy sees it.
#[derive(Debug)]
pub struct TenantRuntime {
    pub upstreams: Upstreams,
    /// Round-robin position.
    pub next: AtomicUsize,
    /// Its request counters (`control::metrics`), kept by tenant id across configurations;
    /// set by the first request this configuration records for it. A process has one
    /// `Metrics`, which every gateway of it (both lanes) records into.
    pub counts: OnceLock<Arc<TenantCounts>>,
    pub pages: Arc<Pages>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub cache: PageCache,
    /// The health check and its per-upstream state (`Fixed` upstreams only), when checked.
    pub health: Option<TenantHealth>,
    /// What requests told of each `Fixed` upstream (`health::passive`), in their order. Kept
    /// with the configuration: a reload starts the counts afresh, as nginx's does.
    pub passive: Box<[Passive]>,
    /// `Strict-Transport-Security` for answers over TLS, made once (`hsts`).
    pub hsts: Option<http::HeaderValue>,
    /// Plain HTTP is redirected to HTTPS (`https_redirect`).
    pub https_redirect: bool,
    /// TLS towards each upstream, in their order (`None`: plain); empty when none speaks TLS,
    /// so a plain tenant's pick reads nothing more.
    pub tls: Box<[Option<Arc<upstream_tls::TlsUpstream>>]>,
}

/// The upstream [`TenantRuntime::pick`] chose.
#[derive(Debug, Clone, Copy)]
pub struct Picked<'a> {
    pub addr: SocketAddr,
    /// Its index among `Fixed` upstreams (its [`Passive`] state); `None` for `{n}` templates.
    pub index: Option<usize>,
    /// TLS towards it, when it speaks TLS.
    pub tls: Option<&'a upstream_tls::TlsUpstream>,
}

/// Why no upstream was picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPick {
    /// Every upstream is unhealthy: answer at once, try nothing.
    Unhealthy,
    /// Nothing usable is configured (or a `{n}` template gave no address); says why.
    Unusable(String),
}

impl TenantRuntime {
    fn healthy(&self, index: usize) -> bool {
        self.health.as_ref().and_then(|h| h.upstreams.get(index)).is_none_or(|u| u.is_healthy())
    }

    /// Healthy by probes and not marked down by requests at `now`.
    fn preferred(&self, index: usize, now: UnixTime) -> bool {
        self.healthy(index) && self.passive.get(index).is_none_or(|p| p.usable(now))
    }

    /// The upstream for attempt `attempt` (0 = first): round robin over the healthy ones that
    /// requests have not marked down, then the next ones on retry. When requests marked every
    /// healthy one down, they are all still tried (nginx tries a lone server whatever its
    /// `max_fails`): a passive mark steers traffic, it never shuts a tenant. Reads two atomics
    /// per upstream; allocates nothing.
    pub fn pick(&self, start: usize, attempt: usize, number: Option<u32>, now: UnixTime) -> Result<Picked<'_>, NoPick> {
        match &self.upstreams {
            Upstreams::Fixed(list) if !list.is_empty() => {
                let preferred = (0..list.len()).filter(|i| self.preferred(*i, now)).count();
                let usable = |i: &usize| if preferred > 0 { self.preferred(*i, now) } else { self.healthy(*i) };
                let count =
                    if preferred > 0 { preferred } else { (0..list.len()).filter(|i| self.healthy(*i)).count() };
                if count == 0 {
                    return Err(NoPick::Unhealthy);
                }
                let k = (start + attempt) % count;
                // A probe may flip a flag between the two passes: then take any healthy one.
                let index = (0..list.len())
                    .filter(usable)
                    .nth(k)
                    .or_else(|| (0..list.len()).find(|i| self.healthy(*i)))
                    .ok_or(NoPick::Unhealthy)?;
                let tls = self.tls_of(index);
                list[index].clone().map(|addr| Picked { addr, index: Some(index), tls }).map_err(NoPick::Unusable)
            }
            Upstreams::PerHost(list) if !list.is_empty() => {
                let slot = (start + attempt) % list.len();
                let template = &list[slot];
                let n = number.ok_or_else(|| NoPick::Unusable(format!("{template} needs a host number")))?;
                let address = template.replace("{n}", &n.to_string());
                address
                    .parse()
                    .map(|addr| Picked { addr, index: None, tls: self.tls_of(slot) })
                    .map_err(|_| NoPick::Unusable(format!("{address} is not an IP address and port")))
            }
            _ => Err(NoPick::Unusable("no upstream configured".to_string())),
        }
    }

    /// TLS towards upstream `index` (in the configured order), when it speaks TLS.
    pub fn tls_of(&self, index: usize) -> Option<&upstream_tls::TlsUpstream> {
        self.tls.get(index).and_then(|t| t.as_deref())
    }

    /// The cause when requests (passive health) marked every `Fixed` upstream of this tenant
    /// down at `now`: the status page shows it as a disruption.
    pub fn passively_down(&self, now: UnixTime) -> Option<crate::health::Cause> {
        let mut cause = None;
        for p in self.passive.iter() {
            cause = Some(p.down(now)?);
        }
        cause
    }

    /// Every fixed upstream is checked and down: nothing can be picked (see [`Self::pick`]).
    pub fn all_unhealthy(&self) -> bool {
        match &self.upstreams {
            Upstreams::Fixed(list) => !list.is_empty() && (0..list.len()).all(|i| !self.healthy(i)),
            Upstreams::PerHost(_) => false,
        }
    }

    pub fn upstream_count(&self) -> usize {
        match &self.upstreams {
            Upstreams::Fixed(l) => l.len(),
            Upstreams::PerHost(l) => l.len(),
        }
    }
}

/// Pages that need no tenant: one per language and format (`[html, json]`).
#[derive(Debug)]
pub struct SharedPages {
    pub unknown_host: Vec<[Split; 2]>,
    pub bad_request: Vec<[Split; 2]>,
    pub not_found: Vec<[Split; 2]>,
}

/// The gateway's compiled configuration (see the module doc).
#[derive(Debug)]
pub struct Compiled {
    pub engine: Snapshot,
    pub tenants: Vec<TenantRuntime>,
    pub shared: SharedPages,
    /// The gateway's templates (the status page uses them).
    pub pages: Arc<Pages>,
    /// The tenant that gets unknown hosts, when configured.
    pub default_tenant: Option<u32>,
    /// Incremented by every successful load; tells responses apart by configuration.
    pub generation: u64,
    /// Upstream health and incidents, shared with every rebuild and the prober.
    pub health: Arc<HealthRegistry>,
    /// When each window (by index) last changed (`ledger`): what feeds and calendars say.
    pub changed: ledger::Changes,
    /// The TLS listeners' certificates by host (SNI), read at each handshake.
    pub certificates: crate::tls::CertStore,
    /// The port an HTTPS redirect names: the first TLS listener's (443 when there is none).
    pub https_port: u16,
    /// The upstream names' addresses it was built with: what the next rebuild keeps for a name
    /// whose lookup fails then (`resolve`).
    pub addresses: resolve::Addresses,
}

fn lang_index(lang: Language) -> usize {
    Language::ALL.iter().position(|l| *l == lang).unwrap_or(0)
}

impl Compiled {
    /// Compiles a validated configuration with a fresh health registry (every upstream healthy;
    /// incidents read from `[gateway] state_dir` when set), its upstream names looked up first
    /// (`resolve`; a name that does not resolve fails the requests that pick it). Fails on
    /// templates that do not compile and on a `state_dir` that cannot be used.
    pub fn build(config: Config, now: UnixTime, generation: u64) -> Result<Compiled, BuildError> {
        let registry = HealthRegistry::open(config.gateway.state_dir.as_deref(), now)?;
        let addresses = resolve::Addresses::look_up(&config, None, resolve::LOOKUP_TIMEOUT);
        Compiled::build_with(config, now, generation, &Arc::new(registry), addresses)
    }

    /// Compiles a validated configuration that shares `health` with the one it replaces, so
    /// reloads and rebuilds keep what the probes found, with the upstream names' `addresses`
    /// looked up beforehand (nothing is resolved here). Fails only on templates that do not
    /// compile.
    pub fn build_with(
        config: Config,
        now: UnixTime,
        generation: u64,
        health: &Arc<HealthRegistry>,
        addresses: resolve::Addresses,
    ) -> Result<Compiled, BuildError> {
        if config.gateway.state_dir.as_deref() != health.incidents().path().and_then(|p| p.parent()) {
            log::warn!("config: a changed gateway.state_dir takes effect at the next start");
        }
        let mut checked = HashSet::new();
        let mut trusts = upstream_tls::Trusts::default();
        let default_pages = Arc::new(Pages::load(config.gateway.pages.as_deref())?);
        let mut tenants = Vec::with_capacity(config.tenants.len());
        for t in &config.tenants {
            let pages = match &t.options.pages {
                Some(dir) => Arc::new(
                    Pages::load(Some(dir))
                        .map_err(|source| BuildError::TenantPages { tenant: t.id.clone(), source })?,
                ),
                None => default_pages.clone(),
            };
            let upstreams = if t.upstreams.iter().any(|u| u.is_template()) {
                Upstreams::PerHost(t.upstreams.iter().map(|u| u.address.clone()).collect())
            } else {
                Upstreams::Fixed(t.upstreams.iter().map(|u| addresses.get(&u.address)).collect())
            };
            let tenant_health = match (&t.options.health, &upstreams) {
                (Some(check), Upstreams::Fixed(_)) => Some(TenantHealth {
                    check: check.clone(),
                    host: probe_host(check.host.as_deref(), t),
                    upstreams: t
                        .upstreams
                        .iter()
                        .map(|u| {
                            checked.insert((t.id.clone(), u.address.clone()));
                            health.entry(&t.id, &u.address)
                        })
                        .collect::<Vec<Arc<UpstreamHealth>>>(),
                }),
                _ => None,
            };
            let passive = match &upstreams {
                Upstreams::Fixed(list) if config.gateway.passive.failures > 0 => {
                    list.iter().map(|_| Passive::default()).collect()
                }
                _ => Box::default(),
            };
            let tls = if t.upstreams.iter().any(|u| u.tls.is_some()) {
                t.upstreams
                    .iter()
                    .map(|u| u.tls.as_ref().map(|tls| trusts.upstream(tls)).transpose())
                    .collect::<Result<_, _>>()
                    .map_err(|source| BuildError::UpstreamTls { tenant: t.id.clone(), source })?
            } else {
                Box::default()
            };
            tenants.push(TenantRuntime {
                upstreams,
                next: AtomicUsize::new(0),
                counts: OnceLock::new(),
                pages,
                connect_timeout: t.options.connect_timeout.unwrap_or(config.gateway.connect_timeout),
                read_timeout: t.options.read_timeout.unwrap_or(config.gateway.read_timeout),
                cache: PageCache::default(),
                health: tenant_health,
                passive,
                // Validated as a header value (`config::gateway::hsts`); a failure drops it.
                hsts: t.options.hsts.as_deref().and_then(|h| http::HeaderValue::from_str(h).ok()),
                https_redirect: t.options.https_redirect,
                tls,
            });
        }
        health.retain(&checked);
        let shared = shared_pages(&default_pages, &config)?;
        let default_tenant = config
            .gateway
            .default_tenant
            .as_ref()
            .and_then(|d| config.tenants.iter().position(|t| &t.id == d))
            .map(|i| i as u32);
        let changed = ledger::changed_times(&config, now);
        let entries: Vec<crate::tls::store::Entry<'_>> = config
            .certificates
            .iter()
            .map(|c| crate::tls::store::Entry { hosts: &c.hosts, default: c.default, certificate: &c.certificate })
            .collect();
        let certificates = crate::tls::CertStore::build(&entries);
        let https_port = config.gateway.listen_tls.first().map_or(443, |a| a.port());
        let engine = Snapshot::build(config, BuildOptions::around(now));
        Ok(Compiled {
            engine,
            tenants,
            shared,
            pages: default_pages,
            default_tenant,
            generation,
            health: health.clone(),
            changed,
            certificates,
            https_port,
            addresses,
        })
    }

    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// The generation as answers show it (`x-hiatus-generation`): only when `[gateway]
    /// expose_generation` is on.
    pub fn shown_generation(&self) -> Option<u64> {
        self.config().gateway.expose_generation.then_some(self.generation)
    }

    /// Whether `now` is close enough to the horizon's edge that a rebuild is due.
    pub fn horizon_due(&self, now: UnixTime) -> bool {
        let (lo, hi) = self.engine.timelines().first().map_or((now, now + 1), |t| t.horizon());
        now < lo + 86_400 || now > hi - 7 * 86_400
    }

    pub fn lang_index(lang: Language) -> usize {
        lang_index(lang)
    }
}

/// The `Host` of a tenant's HTTP probes: as configured, else a name of the tenant's first host
/// pattern (a range's first number; a wildcard's domain), else the first upstream's host.
fn probe_host(configured: Option<&str>, t: &crate::config::Tenant) -> String {
    if let Some(h) = configured {
        return h.to_string();
    }
    match t.hosts.first().map(|p| p.kind()) {
        Some(PatternKind::Exact(h)) => h.to_string(),
        Some(PatternKind::Range { prefix, lo, suffix, .. }) => format!("{prefix}{lo}{suffix}"),
        Some(PatternKind::Wildcard { suffix }) => suffix.to_string(),
        None => t.upstreams.first().map(|u| u.address.clone()).unwrap_or_default(),
    }
}

/// The status link of pages: `status_url`; when that is the one made from `status_host`
/// (`//host/path/`), with a slot for the port the client used (`pages::PORT`), so a gateway
/// reached on a port other than the default links to its status page on that port too.
pub(crate) fn status_link(config: &Config) -> Option<String> {
    let g = &config.gateway;
    let url = g.status_url.as_deref()?;
    match g.status_host.as_deref() {
        Some(host) if url == format!("//{host}{}/", g.status_path) => Some(format!("//{host}{PORT}{}/", g.status_path)),
        _ => Some(url.to_string()),
    }
}

fn shared_pages(pages: &Pages, config: &Config) -> Result<SharedPages, crate::pages::PageError> {
    let status_url = status_link(config);
    let status_url = status_url.as_deref();
    let status = config.gateway.unknown_host_status;
    let mut unknown_host = Vec::new();
    let mut bad_request = Vec::new();
    let mut not_found = Vec::new();
    for lang in Language::ALL {
        let t = crate::pages::strings(lang);
        unknown_host.push(simple(
            pages,
            t,
            lang,
            status,
            t.unknown_host_title,
            t.unknown_host_text,
            "unknown_host",
            status_url,
        )?);
        bad_request.push(simple(
            pages,
            t,
            lang,
            400,
            t.bad_request_title,
            t.bad_request_text,
            "bad_request",
            status_url,
        )?);
        not_found.push(simple(pages, t, lang, 404, t.not_found_title, t.not_found_title, "not_found", status_url)?);
    }
    Ok(SharedPages { unknown_host, bad_request, not_found })
}

#[allow(clippy::too_many_arguments)]
fn simple(
    pages: &Pages,
    t: &'static Strings,
    lang: Language,
    status: u16,
    heading: &str,
    text: &str,
    kind: &str,
    status_url: Option<&str>,
) -> Result<[Split; 2], crate::pages::PageError> {
    let text = text.replace("{host}", HOST);
    let view = serde_json::json!({
        "lang": lang.code(), "t": t, "status": status, "heading": heading, "text": text,
        "status_url": status_url, "request_id": REQUEST_ID,
    });
    let html = pages.render("unknown-host.html", &view)?;
    let json = serde_json::json!({
        "type": format!("urn:hiatus:{kind}"), "title": heading, "status": status, "detail": text,
        "host": HOST, "request_id": REQUEST_ID,
    });
    Ok([Split::new(&html, Escape::Html), Split::new(&json.to_string(), Escape::Json)])
}
