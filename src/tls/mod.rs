//! TLS material: certificates read from PEM files and checked ([`certs`]), the set a listener
//! chooses from by SNI ([`store`]), and the rustls `ServerConfig` every TLS listener shares
//! ([`server`]).
//!
//! Owns what rustls needs to answer a `ClientHello`: which certificate, which versions, which
//! ALPN protocols, the session cache and the ticketer. Does not accept connections or speak HTTP
//! (that is `gateway::tls`), and does not know tenants: a certificate is chosen by host pattern
//! alone. Layer: with `hosts/` at the bottom (it imports `hosts` only), so that `config` can
//! check certificates while it validates a file.

pub mod certs;
mod der;
pub mod handshakes;
pub mod server;
pub mod store;

pub use certs::Certificate;
pub use handshakes::Handshakes;
pub use store::CertStore;

/// The one crypto provider of the process: *ring* (a C compiler builds it; aws-lc needs far
/// longer on two cores, TLS-NOTES §2). rustls 0.23.48 deprecates the *ring* provider for its
/// lack of post-quantum key exchange; that is the price of the build, taken knowingly here.
#[allow(deprecated)]
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
