//! TLS towards upstreams, as a request and a probe use it: one rustls `ClientConfig` per kind of
//! trust (public roots, a `ca` file, or no verification), shared by every upstream that trusts
//! alike, built once per configuration (never per request or connection).
//!
//! The public roots are webpki-roots' (Mozilla's list compiled in): the same on every machine,
//! nothing read from the system at start or reload, and already in the tree through the
//! notification client. An operator whose upstreams carry certificates of a private CA names
//! that CA with `ca`; a `ca` replaces the public roots (trusting both would let any public CA
//! vouch for an internal name). Does not open connections (`gateway::core::conn` does).

use crate::config::model::UpstreamTls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Why TLS towards an upstream cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{}: no certificate in it can be used as a CA", .0.display())]
    NoUsableCa(PathBuf),
    #[error("upstream TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// How one upstream is spoken to over TLS.
#[derive(Debug)]
pub struct TlsUpstream {
    /// Whom it trusts; pooled connections are reused only under the same one (`Arc::ptr_eq`).
    pub trust: Arc<ClientConfig>,
    /// The configured `sni`; `None`: the request's host (a probe's `Host`).
    pub sni: Option<ServerName<'static>>,
}

/// What `ClientConfig`s a build made, by kind of trust: upstreams that trust alike share one
/// (and so its session cache: a reconnect resumes).
#[derive(Debug, Default)]
pub struct Trusts {
    made: HashMap<(Option<PathBuf>, bool), Arc<ClientConfig>>,
}

impl Trusts {
    /// The upstream's TLS setup; `Err` when its CA holds no usable certificate.
    pub fn upstream(&mut self, tls: &UpstreamTls) -> Result<Arc<TlsUpstream>, TlsSetupError> {
        let key = (tls.ca.as_ref().map(|c| c.path.clone()), tls.verify);
        let trust = match self.made.get(&key) {
            Some(t) => t.clone(),
            None => {
                let t = Arc::new(client_config(tls)?);
                self.made.insert(key, t.clone());
                t
            }
        };
        // Checked when the configuration was validated.
        let sni = tls.sni.as_ref().and_then(|s| ServerName::try_from(s.clone()).ok());
        Ok(Arc::new(TlsUpstream { trust, sni }))
    }
}

fn client_config(tls: &UpstreamTls) -> Result<ClientConfig, TlsSetupError> {
    let provider = crate::tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let mut config = if !tls.verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(Unverified(provider))).with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &tls.ca {
            Some(ca) => {
                let (added, _) = roots.add_parsable_certificates(ca.certificates.iter().cloned());
                if added == 0 {
                    return Err(TlsSetupError::NoUsableCa(ca.path.clone()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // The gateway speaks HTTP/1.1 upstream, on both lanes.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `verify = false`: any certificate is taken for any name (the handshake's signatures are
/// still checked, so the peer holds the key of the certificate it showed). `check` warns.
/// Public for tests that look at which certificate a server showed.
#[derive(Debug)]
pub struct Unverified(pub Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a handshake with an upstream failed, in words for the log (the public sees only
/// `Failure::Tls`'s page). Static: the failure travels as `Failed::Upstream::why`.
pub fn handshake_words(e: &std::io::Error) -> &'static str {
    use rustls::{CertificateError, Error};
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "TLS handshake: the upstream closed the connection",
            _ => "TLS handshake: the connection failed",
        };
    };
    match tls {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => "TLS: certificate of an unknown issuer",
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "TLS: certificate not valid for the name"
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => "TLS: certificate expired",
        Error::InvalidCertificate(CertificateError::NotValidYet)
        | Error::InvalidCertificate(CertificateError::NotValidYetContext { .. }) => "TLS: certificate not valid yet",
        Error::InvalidCertificate(CertificateError::Revoked) => "TLS: certificate revoked",
        Error::InvalidCertificate(_) => "TLS: certificate refused",
        Error::AlertReceived(_) => "TLS: the upstream refused the handshake (alert)",
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } | Error::InappropriateHandshakeMessage { .. } => {
            "TLS: the upstream does not speak TLS as expected"
        }
        Error::NoApplicationProtocol => "TLS: no common application protocol",
        _ => "TLS: handshake failed",
    }
}
