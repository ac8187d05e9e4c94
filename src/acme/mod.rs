//! Automatic certificates (ACME, RFC 8555) for the names `[acme]` lists: an account created
//! once, an order per name without a valid certificate, HTTP-01 answered by the gateway itself,
//! certificates kept in `state_dir` and renewed ahead of expiry.
//!
//! Owns [`Acme`], what the request path and the control plane share: the pending challenges
//! ([`challenge`]), the issued certificates ([`issued`]) that the TLS resolver consults after
//! the configured ones, the orders' outcomes and last errors. The work itself runs on a thread
//! of its own ([`manager`]), never on a request runtime: issuance never blocks traffic, and a
//! host without a certificate yet gets the default one. The issued certificates live outside
//! `Compiled`, so a reload keeps them.
//!
//! Does not: choose certificates for configured hosts (`tls::store`), handshake
//! (`gateway::tls`), or parse `[acme]` (`config::acme`). TLS-ALPN-01 is not offered.
//!
//! Layer L4: imports `compiled`, `config`, `tls`, `telemetry`, `clock`.

pub mod challenge;
mod client;
pub mod issued;
pub mod manager;
pub mod metrics;
pub mod renew;
pub mod report;
pub mod storage;

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the gateway and the ACME manager share (one per process).
#[derive(Debug, Default)]
pub struct Acme {
    /// HTTP-01 answers by token, read lock-free by the request path.
    pub challenges: challenge::Challenges,
    /// Certificates issued by ACME, read lock-free at every handshake.
    pub issued: ArcSwap<issued::Issued>,
    /// Orders that ended with a certificate, and orders that failed.
    orders_ok: AtomicU64,
    orders_failed: AtomicU64,
    /// The last error per name, for the admin endpoint (the control plane's only).
    errors: Mutex<HashMap<String, LastError>>,
}

/// The last failure of a name's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// Unix seconds.
    pub at: i64,
    pub message: String,
    /// When the next attempt is due, Unix seconds.
    pub retry_at: i64,
}

impl Acme {
    pub fn new() -> Arc<Acme> {
        Arc::new(Acme::default())
    }

    pub fn order_succeeded(&self, name: &str) {
        self.orders_ok.fetch_add(1, Ordering::Relaxed);
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }

    pub fn order_failed(&self, name: &str, error: LastError) {
        self.orders_failed.fetch_add(1, Ordering::Relaxed);
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), error);
    }

    /// Orders by result since the start: (ok, failed).
    pub fn orders(&self) -> (u64, u64) {
        (self.orders_ok.load(Ordering::Relaxed), self.orders_failed.load(Ordering::Relaxed))
    }

    /// The last error of `name`'s orders, when its last order failed.
    pub fn last_error(&self, name: &str) -> Option<LastError> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }
}
