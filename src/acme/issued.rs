//! The certificates ACME issued, by name: what the TLS resolver consults after the configured
//! certificates' names and before the default. Replaced whole (`ArcSwap`) when one is issued
//! or loaded; a handshake's lookup is one hash lookup on the normalised name.

use crate::hosts::{normalize_host, HOST_BUF_LEN};
use crate::tls::Certificate;
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// Issued certificates by exact name (lower case).
#[derive(Debug, Clone, Default)]
pub struct Issued {
    by_name: HashMap<String, Certificate>,
}

impl Issued {
    /// The certificate for the name a client asked for.
    pub fn resolve(&self, server_name: &str) -> Option<&Arc<CertifiedKey>> {
        if self.by_name.is_empty() {
            return None;
        }
        let mut buf = [0u8; HOST_BUF_LEN];
        let host = normalize_host(server_name, &mut buf)?;
        self.by_name.get(host).map(|c| &c.key)
    }

    pub fn get(&self, name: &str) -> Option<&Certificate> {
        self.by_name.get(name)
    }

    /// A copy with `name`'s certificate set.
    pub fn with(&self, name: &str, certificate: Certificate) -> Issued {
        let mut next = self.clone();
        next.by_name.insert(name.to_string(), certificate);
        next
    }

    /// Names in order, with their certificates.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Certificate)> {
        let mut all: Vec<_> = self.by_name.iter().map(|(n, c)| (n.as_str(), c)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }
}
