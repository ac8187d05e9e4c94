//! [`Outcome`]: what the gateway did with a request, the one vocabulary of metrics labels and
//! access log lines. Decided on the request path (`gateway`), counted and logged here.

use crate::pages::Failure;

/// What the gateway did with a request: the label of logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not decided yet (the request failed before routing).
    Pending,
    Proxied,
    Maintenance,
    /// In maintenance, let through by the bypass rules.
    Bypass,
    UpstreamError(Failure),
    UnknownHost,
    BadRequest,
    /// Served by the gateway itself (`/.hiatus/` assets, bypass cookie).
    Gateway,
    /// Still waiting for its upstream when a graceful stop's grace period ended.
    Stopped,
}

impl Outcome {
    /// One of each decision, in `index` order (one failure stands for every `UpstreamError`).
    pub const ALL: [Outcome; 9] = [
        Outcome::Pending,
        Outcome::Proxied,
        Outcome::Maintenance,
        Outcome::Bypass,
        Outcome::UpstreamError(Failure::Refused),
        Outcome::UnknownHost,
        Outcome::BadRequest,
        Outcome::Gateway,
        Outcome::Stopped,
    ];

    /// Position among the decisions, for the per-tenant counters (`TenantCounts`).
    pub fn index(self) -> usize {
        match self {
            Outcome::Pending => 0,
            Outcome::Proxied => 1,
            Outcome::Maintenance => 2,
            Outcome::Bypass => 3,
            Outcome::UpstreamError(_) => 4,
            Outcome::UnknownHost => 5,
            Outcome::BadRequest => 6,
            Outcome::Gateway => 7,
            Outcome::Stopped => 8,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pending => "incomplete",
            Outcome::Proxied => "proxied",
            Outcome::Maintenance => "maintenance",
            Outcome::Bypass => "bypass",
            Outcome::UpstreamError(_) => "upstream_error",
            Outcome::UnknownHost => "unknown_host",
            Outcome::BadRequest => "bad_request",
            Outcome::Gateway => "gateway",
            Outcome::Stopped => "shutdown",
        }
    }
}
