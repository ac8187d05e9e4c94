//! The rustls `ServerConfig` of every TLS listener: TLS 1.3 and 1.2 only (rustls has neither
//! TLS 1.0/1.1 nor RSA key exchange), ALPN `h2` then `http/1.1`, a session cache and session
//! tickets for cheap resumption, and the certificate chosen per handshake by `resolver`.
//!
//! Built once per process: the resolver reads the configuration in force at each handshake,
//! so a reload changes certificates without a new `ServerConfig` (and without forgetting the
//! sessions and ticket keys of the old one).

use rustls::server::{ResolvesServerCert, ServerConfig, ServerSessionMemoryCache};
use std::sync::Arc;

/// Sessions kept for resumption by session id (TLS 1.2) and stateful TLS 1.3 resumption: about
/// nginx's `ssl_session_cache shared:SSL:5m`. A few hundred bytes each.
pub const SESSION_CACHE: usize = 20_000;

/// ALPN, the server's preference first. A client that offers ALPN but neither of these gets
/// a `no_application_protocol` alert (rustls); one that offers none speaks HTTP/1.1.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The server configuration, or why it cannot be made (the ticketer needs randomness).
pub fn config(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, String> {
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    let mut config = ServerConfig::builder_with_provider(super::provider())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    // Ticket keys rotate every 6 hours; tickets die with the process (an upgrade forgets them).
    config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| format!("TLS session tickets: {e}"))?;
    Ok(Arc::new(config))
}
