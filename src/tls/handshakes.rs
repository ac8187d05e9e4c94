//! Handshakes by result, counted where they end (`gateway::tls`) and read at a scrape: a
//! relaxed atomic add per handshake, no label lookup on the way.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a handshake did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No certificate for the name asked (and no default).
    NoCertificate,
    /// Anything else the TLS protocol refused or the peer broke off.
    Protocol,
    /// Not done within `tls_handshake_timeout`.
    Timeout,
}

impl Failure {
    pub const ALL: [Failure; 3] = [Failure::NoCertificate, Failure::Protocol, Failure::Timeout];

    /// The metric's `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Failure::NoCertificate => "no_certificate",
            Failure::Protocol => "protocol",
            Failure::Timeout => "timeout",
        }
    }
}

/// Counts since the start.
#[derive(Debug, Default)]
pub struct Handshakes {
    ok: AtomicU64,
    failed: [AtomicU64; 3],
}

impl Handshakes {
    pub fn succeeded(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self, why: Failure) {
        self.failed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn ok_count(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    pub fn failed_count(&self, why: Failure) -> u64 {
        self.failed[why as usize].load(Ordering::Relaxed)
    }
}
