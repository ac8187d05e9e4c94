//! The gateway's own settings: `[gateway]`, `[gateway.bypass]` and the per-tenant proxy keys.
//!
//! Owns their file types, domain types ([`GatewaySettings`], [`Bypass`], [`TenantOptions`],
//! [`Cidr`]) and validation. Nothing here touches a socket: addresses are parsed, not bound.

use super::diagnostic::Report;
use super::duration::parse as timeout;
use super::health::{health, FileHealth, HealthCheck};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGateway {
    pub listen: Option<Vec<String>>,
    /// TLS listeners (HTTPS; HTTP/2 or HTTP/1.1 by ALPN), with certificates from `[[certificates]]`.
    pub listen_tls: Option<Vec<String>>,
    /// How long a client may take to complete a TLS handshake.
    pub tls_handshake_timeout: Option<String>,
    /// HTTP/2 without TLS (prior knowledge) next to HTTP/1.1 on the listeners; default on.
    pub h2c: Option<bool>,
    pub threads: Option<usize>,
    /// 421 or 404 for hosts no tenant claims.
    pub unknown_host_status: Option<u16>,
    /// A tenant id that gets unknown hosts instead of the unknown-host page.
    pub default_tenant: Option<String>,
    /// Linked from every page ("status and upcoming maintenance").
    pub status_url: Option<String>,
    /// The host the gateway serves its own status page and feeds on.
    pub status_host: Option<String>,
    /// Path of the status page on that host (default `/`).
    pub status_path: Option<String>,
    pub keepalive_timeout: Option<String>,
    /// How long a client may take to send a whole request head, from its first byte.
    pub header_timeout: Option<String>,
    /// How long a client may pause while sending a request body.
    pub body_timeout: Option<String>,
    /// How long an upgraded connection (a WebSocket) may carry nothing before it is closed.
    pub tunnel_timeout: Option<String>,
    /// Forward request fields whose names contain `_` (dropped by default).
    pub underscores_in_headers: Option<bool>,
    pub connect_timeout: Option<String>,
    pub read_timeout: Option<String>,
    pub write_timeout: Option<String>,
    /// `Retry-After` for an open-ended emergency; none when unset (SCHEDULES.md rule 9).
    pub retry_after_open_ended: Option<String>,
    /// Folder with templates that replace the built-in pages (relative to the config file).
    pub pages: Option<String>,
    /// The include file `hiatus emergency on|off` edits (relative to the config file); it must
    /// be one of the files `include` names, or else a switch would never reach the gateway.
    pub emergency_file: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub bypass: Option<FileBypass>,
    /// The admin listener (metrics, health, reload, state); loopback unless configured.
    pub admin: Option<String>,
    /// Required on every admin request when the admin listener is not on loopback.
    pub admin_token: Option<String>,
    /// `"stdout"`, `"off"`, or a file path for the access log.
    pub access_log: Option<String>,
    /// `"json"` (one object per line) or `"text"` (a combined-like line).
    pub access_log_format: Option<String>,
    /// The level of the process's log on stderr: off, error, warn, info, debug, trace.
    pub log_level: Option<String>,
    /// `"text"` or `"json"` (one object per line).
    pub log_format: Option<String>,
    /// How long a graceful stop waits for requests in flight.
    pub grace_period: Option<String>,
    /// The health check of every tenant's upstreams; a tenant's own `health` is laid over it.
    pub health: Option<FileHealth>,
    /// Failed proxied requests in a row that mark an upstream down (`0`: never).
    pub passive_failures: Option<u32>,
    /// How long an upstream marked down by requests is left out while others are up.
    pub passive_cooldown: Option<String>,
    /// An upstream's own 5xx answer counts as a failed request.
    pub passive_5xx: Option<bool>,
    /// Folder for state that outlives the process (`incidents.jsonl`), relative to the config.
    pub state_dir: Option<String>,
    /// The most the configuration's files may have together (`"16MiB"`); more is refused
    /// before it is parsed.
    pub max_config_size: Option<String>,
    /// A configuration without tenants is refused unless this says it is meant.
    pub allow_no_tenants: Option<bool>,
    /// Public answers carry `x-hiatus-generation` (the configuration's number); off by default.
    pub expose_generation: Option<bool>,
    /// How long files written in place must hold still before the watcher reads them.
    pub reload_settle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBypass {
    #[serde(default)]
    pub allow: Vec<String>,
    /// Visiting `/.hiatus/bypass/<secret>` sets a signed cookie that lets a browser through.
    pub secret: Option<String>,
    pub cookie_ttl: Option<String>,
    /// Path prefixes that always pass to the upstream, maintenance or not.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Per-tenant proxy keys in `[[tenants]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTenantOptions {
    pub connect_timeout: Option<String>,
    pub read_timeout: Option<String>,
    pub pages: Option<String>,
    #[serde(default)]
    pub replace_upstream_errors: bool,
    pub health: Option<FileHealth>,
    pub https_redirect: bool,
    pub hsts: Option<String>,
}

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not an address block; write e.g. \"10.0.0.0/8\" or \"192.0.2.7\"");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim().parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Operator access during maintenance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bypass {
    pub allow: Vec<Cidr>,
    pub secret: Option<String>,
    pub cookie_ttl: Duration,
    pub paths: Vec<String>,
}

/// The validated `[gateway]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    pub listen: Vec<SocketAddr>,
    /// TLS listeners; empty: none.
    pub listen_tls: Vec<SocketAddr>,
    /// A TLS handshake must be done this long after the connection was accepted.
    pub tls_handshake_timeout: Duration,
    pub h2c: bool,
    pub threads: usize,
    pub unknown_host_status: u16,
    pub default_tenant: Option<String>,
    pub status_url: Option<String>,
    /// Normalised host of the status page, when the gateway serves one.
    pub status_host: Option<String>,
    /// Its path, without a trailing slash (`""` for the root).
    pub status_path: String,
    pub keepalive_timeout: Duration,
    /// A request head must be complete this long after its first byte (slow clients holding
    /// connections open, "slowloris"); nginx's `client_header_timeout`.
    pub header_timeout: Duration,
    /// The longest pause within a request body (nginx's `client_body_timeout`): 408 after it.
    pub body_timeout: Duration,
    /// An upgraded connection idle this long is closed (HAProxy's `timeout tunnel`).
    pub tunnel_timeout: Duration,
    /// Request fields named with `_` go upstream; by default they are dropped (nginx's
    /// `underscores_in_headers off`): many origins read `X_Forwarded_For` as
    /// `X-Forwarded-For`, which the gateway alone may set.
    pub underscores_in_headers: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub retry_after_open_ended: Option<Duration>,
    pub pages: Option<PathBuf>,
    /// Resolved against the main file's folder; checked against `include` by `config::load`.
    pub emergency_file: Option<PathBuf>,
    pub trusted_proxies: Vec<Cidr>,
    pub bypass: Bypass,
    /// `None`: no admin listener.
    pub admin: Option<SocketAddr>,
    pub admin_token: Option<String>,
    pub access_log: AccessLogTarget,
    pub access_log_format: LogFormat,
    /// `RUST_LOG` replaces it when set (`telemetry::logger`).
    pub log_level: log::LevelFilter,
    pub log_format: LogFormat,
    pub grace_period: Duration,
    /// The default health check (`None`: upstreams are not checked unless a tenant says so).
    pub health: Option<HealthCheck>,
    /// What proxied requests tell of an upstream's health (`health::passive`).
    pub passive: Passive,
    /// Resolved against the main file's folder; `None`: incidents are kept in memory only.
    pub state_dir: Option<PathBuf>,
    /// Bytes all the configuration's files may have together (`config::read`).
    pub max_config_size: u64,
    /// No tenants is what the operator means (else such a configuration is refused).
    pub allow_no_tenants: bool,
    /// Answers (ours and proxied ones) carry `x-hiatus-generation`. Off by default: the number
    /// of reloads is internal (the admin listener's `/state` has it); tests and operators who
    /// watch a reload take effect turn it on.
    pub expose_generation: bool,
    /// How long a file written in place holds still before the watcher reads it.
    pub reload_settle: Duration,
}

/// Passive health: an upstream is judged by the requests it fails (nginx's `max_fails` and
/// `fail_timeout`), with or without active checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passive {
    /// Failed requests in a row that mark an upstream down; `0` turns passive health off.
    pub failures: u32,
    /// How long it stays marked down (left out while another upstream is up); the first
    /// request after it is a trial.
    pub cooldown: Duration,
    /// Whether an upstream's own 5xx answer counts as a failure (connect failures, timeouts
    /// and resets always do).
    pub count_5xx: bool,
}

impl Default for Passive {
    fn default() -> Self {
        Passive { failures: 5, cooldown: Duration::from_secs(10), count_5xx: false }
    }
}

/// How lines of the process's log or the access log are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Words for a person: the log's `TIME LEVEL TARGET: MESSAGE`, the access log's
    /// combined-like line.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl LogFormat {
    fn parse(text: &str) -> Result<LogFormat, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{text:?}: use \"text\" or \"json\"")),
        }
    }
}

/// `"info"` as a level of the process's log (`log_level`, `RUST_LOG`); `off` writes nothing.
pub fn log_level(text: &str) -> Result<log::LevelFilter, String> {
    text.trim()
        .parse::<log::LevelFilter>()
        .map_err(|_| format!("{text:?} is not a log level; use off, error, warn, info, debug or trace"))
}

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stdout,
    File(PathBuf),
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            listen_tls: Vec::new(),
            tls_handshake_timeout: Duration::from_secs(10),
            h2c: true,
            threads: 2,
            unknown_host_status: 421,
            default_tenant: None,
            status_url: None,
            status_host: None,
            status_path: String::new(),
            keepalive_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            tunnel_timeout: Duration::from_secs(3600),
            underscores_in_headers: false,
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            retry_after_open_ended: None,
            pages: None,
            emergency_file: None,
            trusted_proxies: Vec::new(),
            bypass: Bypass { cookie_ttl: Duration::from_secs(8 * 3600), ..Bypass::default() },
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            admin_token: None,
            access_log: AccessLogTarget::Off,
            // JSON, as the access log always was: readers of existing files keep working.
            access_log_format: LogFormat::Json,
            log_level: log::LevelFilter::Info,
            log_format: LogFormat::Text,
            grace_period: Duration::from_secs(10),
            health: None,
            passive: Passive::default(),
            state_dir: None,
            max_config_size: super::read::DEFAULT_MAX_SIZE,
            allow_no_tenants: false,
            expose_generation: false,
            reload_settle: Duration::from_secs(1),
        }
    }
}

/// The `[gateway]` keys that only the start of a process reads (`cli::run`: listeners,
/// threads, the admin listener and its token, the access log writer, the logger, the grace period,
/// HTTP/2 on the listeners, the folder of the incident log): a reload cannot change them.
/// Returns the keys whose values differ between what the process runs with and a new file.
pub fn restart_only_changes(running: &GatewaySettings, new: &GatewaySettings) -> Vec<&'static str> {
    [
        ("gateway.listen", running.listen != new.listen),
        ("gateway.listen_tls", running.listen_tls != new.listen_tls),
        ("gateway.threads", running.threads != new.threads),
        ("gateway.h2c", running.h2c != new.h2c),
        ("gateway.admin", running.admin != new.admin),
        ("gateway.admin_token", running.admin_token != new.admin_token),
        ("gateway.access_log", running.access_log != new.access_log),
        ("gateway.access_log_format", running.access_log_format != new.access_log_format),
        ("gateway.log_level", running.log_level != new.log_level),
        ("gateway.log_format", running.log_format != new.log_format),
        ("gateway.grace_period", running.grace_period != new.grace_period),
        ("gateway.state_dir", running.state_dir != new.state_dir),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

/// What a reload (and `hiatus check --against`) says about a restart-only key that changed.
pub fn restart_warning(key: &str) -> String {
    format!("{key} changed: takes effect after an upgrade or restart (`hiatus run -u`); everything else is applied")
}

/// Validated per-tenant proxy settings; `None` falls back to the gateway's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantOptions {
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub pages: Option<PathBuf>,
    pub replace_upstream_errors: bool,
    /// The tenant's check (its own table over the gateway's default); `None`: not checked.
    pub health: Option<HealthCheck>,
    /// Plain HTTP requests are redirected to HTTPS (301 for GET and HEAD, 308 otherwise),
    /// except ACME's `/.well-known/acme-challenge/`.
    pub https_redirect: bool,
    /// `Strict-Transport-Security` on answers over TLS (e.g. `max-age=31536000`).
    pub hsts: Option<String>,
}

fn check<T>(report: &mut Report, file: &str, path: &str, r: Result<T, String>) -> Option<T> {
    r.map_err(|e| report.error(file, path, e)).ok()
}

/// The most threads a gateway runs (`threads`): one per core is the usual choice.
pub const MAX_THREADS: usize = 1024;

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// Upper bounds of the gateway's durations, in seconds: far above any use, low enough that a
/// slip of unit (`"3600h"` for `"3600s"`) is an error, not a setting.
pub mod max {
    use super::{DAY, HOUR, MINUTE};
    pub const CONNECT: u64 = 10 * MINUTE;
    pub const HEADER: u64 = 10 * MINUTE;
    pub const BODY: u64 = HOUR;
    pub const KEEPALIVE: u64 = HOUR;
    pub const READ: u64 = DAY;
    pub const WRITE: u64 = DAY;
    pub const TUNNEL: u64 = 7 * DAY;
    pub const RETRY_AFTER: u64 = 7 * DAY;
    pub const GRACE: u64 = HOUR;
    pub const COOKIE_TTL: u64 = 366 * DAY;
    pub const RELOAD_SETTLE: u64 = MINUTE;
    pub const PASSIVE_COOLDOWN: u64 = HOUR;
    /// More failures in a row than this are a slip (`passive_failures`).
    pub const PASSIVE_FAILURES: u32 = 1000;
    pub const TLS_HANDSHAKE: u64 = 10 * MINUTE;
}

/// `secs` as the duration syntax writes it (`"10m"`, `"24h"`, `"168h"`).
pub fn show_secs(secs: u64) -> String {
    match secs {
        s if s >= HOUR && s % HOUR == 0 => format!("{}h", s / HOUR),
        s if s >= MINUTE && s % MINUTE == 0 => format!("{}m", s / MINUTE),
        s => format!("{s}s"),
    }
}

/// A duration key's value: longer than zero (unless `zero` is allowed) and at most `max` seconds.
pub fn bounded_duration(text: &str, zero: bool, max: u64) -> Result<Duration, String> {
    let d = timeout(text)?;
    if d.is_zero() && !zero {
        return Err("must be longer than zero".to_string());
    }
    if d > Duration::from_secs(max) {
        return Err(format!("{text:?} is longer than {}, the most this key takes", show_secs(max)));
    }
    Ok(d)
}

/// `max_config_size`: `"16MiB"`, `"512 KiB"`, `"1GiB"`, `"20MB"` (powers of 1000), `"65536B"`;
/// between [`read::MIN_MAX_SIZE`](super::read::MIN_MAX_SIZE) and
/// [`read::MAX_MAX_SIZE`](super::read::MAX_MAX_SIZE).
pub fn config_size(text: &str) -> Result<u64, String> {
    use super::read::{show_size, MAX_MAX_SIZE, MIN_MAX_SIZE};
    let bad = || format!("{text:?} is not a size; write e.g. \"16MiB\", \"512KiB\" or \"1GiB\"");
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let unit: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(b) if (MIN_MAX_SIZE..=MAX_MAX_SIZE).contains(&b) => Ok(b),
        _ => Err(format!(
            "{text:?}: use {} to {} (the configuration's files together)",
            show_size(MIN_MAX_SIZE),
            show_size(MAX_MAX_SIZE)
        )),
    }
}

fn positive(
    report: &mut Report,
    file: &str,
    path: &str,
    text: Option<&String>,
    default: Duration,
    max: u64,
) -> Duration {
    match text.map(|t| bounded_duration(t, false, max)) {
        None => default,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            report.error(file, path, e);
            default
        }
    }
}

/// `passive_failures`, `passive_cooldown`, `passive_5xx`.
fn passive(g: &FileGateway, file: &str, report: &mut Report) -> Passive {
    let d = Passive::default();
    let failures = match g.passive_failures {
        Some(n) if n > max::PASSIVE_FAILURES => {
            report.error(
                file,
                "gateway.passive_failures",
                format!("{n}: at most {} (0 turns passive health off)", max::PASSIVE_FAILURES),
            );
            d.failures
        }
        Some(n) => n,
        None => d.failures,
    };
    Passive {
        failures,
        cooldown: positive(
            report,
            file,
            "gateway.passive_cooldown",
            g.passive_cooldown.as_ref(),
            d.cooldown,
            max::PASSIVE_COOLDOWN,
        ),
        count_5xx: g.passive_5xx.unwrap_or(d.count_5xx),
    }
}

/// Validates `[gateway]`; paths are resolved against `base` (the main file's folder).
pub fn settings(g: &FileGateway, base: &std::path::Path, file: &str, report: &mut Report) -> GatewaySettings {
    let d = GatewaySettings::default();
    let mut listen = Vec::new();
    for (i, l) in g.listen.clone().unwrap_or_default().iter().enumerate() {
        let r = l
            .parse::<SocketAddr>()
            .map_err(|_| format!("{l:?} is not a listen address; write \"ip:port\", e.g. \"127.0.0.1:8080\""));
        if let Some(a) = check(report, file, &format!("gateway.listen[{i}]"), r) {
            listen.push(a);
        }
    }
    if g.listen.is_none() {
        listen = d.listen.clone();
    } else if g.listen.as_ref().is_some_and(Vec::is_empty) {
        report.error(file, "gateway.listen", "name at least one address to listen on");
    }
    let mut listen_tls = Vec::new();
    for (i, l) in g.listen_tls.clone().unwrap_or_default().iter().enumerate() {
        let key = format!("gateway.listen_tls[{i}]");
        let r = l
            .parse::<SocketAddr>()
            .map_err(|_| format!("{l:?} is not a listen address; write \"ip:port\", e.g. \"0.0.0.0:443\""));
        if let Some(a) = check(report, file, &key, r) {
            if listen.contains(&a) {
                report.error(file, &key, format!("{a} is in `listen` too; a port is either plain or TLS"));
            }
            listen_tls.push(a);
        }
    }
    let threads = match g.threads {
        Some(n) if n == 0 || n > MAX_THREADS => {
            report.error(
                file,
                "gateway.threads",
                format!("{n}: use 1 to {MAX_THREADS} threads (one per core is the usual choice)"),
            );
            d.threads
        }
        Some(n) => n,
        None => d.threads,
    };
    let unknown_host_status = match g.unknown_host_status {
        None => d.unknown_host_status,
        Some(s @ (404 | 421)) => s,
        Some(s) => {
            report.error(file, "gateway.unknown_host_status", format!("{s}: use 421 (misdirected) or 404"));
            d.unknown_host_status
        }
    };
    let mut trusted = Vec::new();
    for (i, c) in g.trusted_proxies.iter().enumerate() {
        if let Some(c) = check(report, file, &format!("gateway.trusted_proxies[{i}]"), Cidr::parse(c)) {
            trusted.push(c);
        }
    }
    let mut bypass = d.bypass.clone();
    if let Some(b) = &g.bypass {
        for (i, c) in b.allow.iter().enumerate() {
            if let Some(c) = check(report, file, &format!("gateway.bypass.allow[{i}]"), Cidr::parse(c)) {
                bypass.allow.push(c);
            }
        }
        if let Some(s) = &b.secret {
            if s.len() < 16 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                report.error(
                    file,
                    "gateway.bypass.secret",
                    "use at least 16 characters from A-Z, a-z, 0-9, '-' and '_' (it is part of a URL)",
                );
            } else {
                bypass.secret = Some(s.clone());
            }
        }
        bypass.cookie_ttl = positive(
            report,
            file,
            "gateway.bypass.cookie_ttl",
            b.cookie_ttl.as_ref(),
            bypass.cookie_ttl,
            max::COOKIE_TTL,
        );
        for (i, p) in b.paths.iter().enumerate() {
            if !p.starts_with('/') {
                report.error(file, format!("gateway.bypass.paths[{i}]"), format!("{p:?}: a path starts with '/'"));
            } else {
                bypass.paths.push(p.clone());
            }
        }
    }
    let status_host = g.status_host.as_ref().and_then(|h| {
        let p = crate::hosts::HostPattern::parse(h).ok().filter(|p| p.is_exact());
        if p.is_none() {
            report.error(file, "gateway.status_host", format!("{h:?} is not a host name like \"status.example.com\""));
        }
        p.map(|p| p.to_string())
    });
    let status_path = match g.status_path.as_deref() {
        None => String::new(),
        Some(p) if p.starts_with('/') && !p.contains(['?', '#', ' ']) => p.trim_end_matches('/').to_string(),
        Some(p) => {
            report.error(file, "gateway.status_path", format!("{p:?}: a path starts with '/'"));
            String::new()
        }
    };
    // Pages link to the gateway's own status page unless told otherwise; the scheme is the
    // client's (TLS may end in front of the gateway).
    let status_url = g.status_url.clone().or_else(|| status_host.as_ref().map(|h| format!("//{h}{status_path}/")));
    if let Some(u) = &status_url {
        if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/')) {
            report.error(file, "gateway.status_url", format!("{u:?}: write an absolute URL or a path"));
        }
    }
    let admin = match g.admin.as_deref() {
        None => d.admin,
        Some("off") => None,
        Some(a) => check(
            report,
            file,
            "gateway.admin",
            a.parse::<SocketAddr>()
                .map_err(|_| format!("{a:?} is not an address; write \"127.0.0.1:9090\" or \"off\"")),
        ),
    };
    let admin_token = g.admin_token.clone();
    if let Some(t) = &admin_token {
        if t.len() < 16 {
            report.error(file, "gateway.admin_token", "use at least 16 characters");
        }
    }
    if admin.is_some_and(|a| !a.ip().is_loopback()) && admin_token.is_none() {
        report.error(file, "gateway.admin", "an admin listener off loopback needs `admin_token` (bearer token)");
    }
    let access_log = match g.access_log.as_deref() {
        None | Some("off") => AccessLogTarget::Off,
        Some("stdout") => AccessLogTarget::Stdout,
        Some(p) => AccessLogTarget::File(base.join(p)),
    };
    let format = |report: &mut Report, key: &str, text: Option<&String>, default: LogFormat| match text {
        None => default,
        Some(t) => check(report, file, key, LogFormat::parse(t)).unwrap_or(default),
    };
    let access_log_format =
        format(report, "gateway.access_log_format", g.access_log_format.as_ref(), d.access_log_format);
    let log_format = format(report, "gateway.log_format", g.log_format.as_ref(), d.log_format);
    let log_level = match &g.log_level {
        None => d.log_level,
        Some(t) => check(report, file, "gateway.log_level", log_level(t)).unwrap_or(d.log_level),
    };
    GatewaySettings {
        admin,
        admin_token,
        access_log,
        access_log_format,
        log_level,
        log_format,
        grace_period: positive(
            report,
            file,
            "gateway.grace_period",
            g.grace_period.as_ref(),
            d.grace_period,
            max::GRACE,
        ),
        health: g.health.as_ref().and_then(|h| health(h, None, file, "gateway.health", report)),
        passive: passive(g, file, report),
        state_dir: g.state_dir.as_ref().map(|p| base.join(p)),
        listen,
        listen_tls,
        tls_handshake_timeout: positive(
            report,
            file,
            "gateway.tls_handshake_timeout",
            g.tls_handshake_timeout.as_ref(),
            d.tls_handshake_timeout,
            max::TLS_HANDSHAKE,
        ),
        h2c: g.h2c.unwrap_or(d.h2c),
        threads,
        unknown_host_status,
        default_tenant: g.default_tenant.clone(),
        status_url,
        status_host,
        status_path,
        keepalive_timeout: positive(
            report,
            file,
            "gateway.keepalive_timeout",
            g.keepalive_timeout.as_ref(),
            d.keepalive_timeout,
            max::KEEPALIVE,
        ),
        header_timeout: positive(
            report,
            file,
            "gateway.header_timeout",
            g.header_timeout.as_ref(),
            d.header_timeout,
            max::HEADER,
        ),
        body_timeout: positive(
            report,
            file,
            "gateway.body_timeout",
            g.body_timeout.as_ref(),
            d.body_timeout,
            max::BODY,
        ),
        tunnel_timeout: positive(
            report,
            file,
            "gateway.tunnel_timeout",
            g.tunnel_timeout.as_ref(),
            d.tunnel_timeout,
            max::TUNNEL,
        ),
        underscores_in_headers: g.underscores_in_headers.unwrap_or(d.underscores_in_headers),
        connect_timeout: positive(
            report,
            file,
            "gateway.connect_timeout",
            g.connect_timeout.as_ref(),
            d.connect_timeout,
            max::CONNECT,
        ),
        read_timeout: positive(
            report,
            file,
            "gateway.read_timeout",
            g.read_timeout.as_ref(),
            d.read_timeout,
            max::READ,
        ),
        write_timeout: positive(
            report,
            file,
            "gateway.write_timeout",
            g.write_timeout.as_ref(),
            d.write_timeout,
            max::WRITE,
        ),
        retry_after_open_ended: g.retry_after_open_ended.as_ref().and_then(|t| {
            check(report, file, "gateway.retry_after_open_ended", bounded_duration(t, true, max::RETRY_AFTER))
        }),
        max_config_size: match g.max_config_size.as_deref() {
            None => d.max_config_size,
            Some(t) => check(report, file, "gateway.max_config_size", config_size(t)).unwrap_or(d.max_config_size),
        },
        allow_no_tenants: g.allow_no_tenants.unwrap_or(d.allow_no_tenants),
        expose_generation: g.expose_generation.unwrap_or(d.expose_generation),
        reload_settle: match g.reload_settle.as_deref() {
            None => d.reload_settle,
            Some(t) => check(report, file, "gateway.reload_settle", bounded_duration(t, true, max::RELOAD_SETTLE))
                .unwrap_or(d.reload_settle),
        },
        pages: g.pages.as_ref().map(|p| base.join(p)),
        emergency_file: g.emergency_file.as_ref().map(|p| base.join(p)),
        trusted_proxies: trusted,
        bypass,
    }
}

/// A `Strict-Transport-Security` value: `max-age=N` and optional directives
/// (`includeSubDomains`, `preload`), nothing that could end the field.
pub fn hsts(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?}: write e.g. \"max-age=31536000\" or \"max-age=31536000; includeSubDomains\"");
    let t = text.trim();
    let mut parts = t.split(';').map(str::trim);
    let age = parts.next().and_then(|p| p.strip_prefix("max-age=")).ok_or_else(bad)?;
    if age.is_empty() || age.len() > 10 || !age.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    for p in parts {
        if !(p.eq_ignore_ascii_case("includesubdomains") || p.eq_ignore_ascii_case("preload")) {
            return Err(bad());
        }
    }
    Ok(t.to_string())
}

/// Validates the per-tenant proxy keys; `default_health` is `[gateway] health`.
pub fn tenant_options(
    t: &FileTenantOptions,
    default_health: Option<&HealthCheck>,
    base: &std::path::Path,
    file: &str,
    path: &str,
    report: &mut Report,
) -> TenantOptions {
    let opt = |report: &mut Report, key: &str, v: &Option<String>, max: u64| {
        v.as_ref().and_then(|t| check(report, file, &format!("{path}.{key}"), bounded_duration(t, false, max)))
    };
    TenantOptions {
        connect_timeout: opt(report, "connect_timeout", &t.connect_timeout, max::CONNECT),
        read_timeout: opt(report, "read_timeout", &t.read_timeout, max::READ),
        pages: t.pages.as_ref().map(|p| base.join(p)),
        replace_upstream_errors: t.replace_upstream_errors,
        https_redirect: t.https_redirect,
        hsts: t.hsts.as_ref().and_then(|h| check(report, file, &format!("{path}.hsts"), hsts(h))),
        health: match &t.health {
            Some(h) => health(h, default_health, file, &format!("{path}.health"), report),
            None => default_health.cloned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let cases = [
            ("10.0.0.0/8", "10.200.1.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("2001:db8::/32", "2001:db8:1::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("127.0.0.1/32", "::ffff:127.0.0.1", true),
        ];
        for (net, ip, inside) in cases {
            let c = Cidr::parse(net).expect("valid in test");
            assert_eq!(c.contains(ip.parse().expect("ip")), inside, "{net} ∋ {ip}");
        }
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts() {
        let ok = [("500ms", 500), ("2s", 2000), ("1m30s", 90_000), ("1h", 3_600_000)];
        for (t, ms) in ok {
            assert_eq!(timeout(t).map(|d| d.as_millis()), Ok(ms), "{t}");
        }
        for bad in ["", "5", "1d", "s", "1.5s", "-1s"] {
            assert!(timeout(bad).is_err(), "{bad}");
        }
    }
}
