//! A certificate as the configuration names it: a PEM chain (leaf first) and its PEM private
//! key, read and checked once (`config` validation), then shared by every handshake.
//!
//! Checked here: both files readable, the chain non-empty, the key one rustls can sign with,
//! and the key the one of the leaf certificate. The expiry is read for a warning (an expired
//! certificate still serves: better a browser warning than no answer).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;

/// A checked certificate with its key, ready for handshakes.
#[derive(Clone)]
pub struct Certificate {
    pub key: Arc<CertifiedKey>,
    /// The leaf's `notAfter`, Unix seconds (`None` when it could not be read).
    pub not_after: Option<i64>,
    /// The issuer's common name, for the admin endpoint.
    pub issuer: Option<String>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").field("chain", &self.key.cert.len()).field("not_after", &self.not_after).finish()
    }
}

/// Equal when the chains are: the same files read again compare equal (`config::diff`).
impl PartialEq for Certificate {
    fn eq(&self, other: &Certificate) -> bool {
        self.key.cert == other.key.cert
    }
}

impl Eq for Certificate {}

/// Which of the two files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Cert,
    Key,
}

/// Why a certificate cannot be used, and in which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError {
    pub which: Which,
    pub message: String,
}

impl Certificate {
    /// Reads and checks `cert` (PEM chain, leaf first) and `key` (PEM private key).
    pub fn load(cert: &Path, key: &Path) -> Result<Certificate, CertError> {
        let cert_text = read(cert, Which::Cert)?;
        let key_text = read(key, Which::Key)?;
        Certificate::from_pem(&cert_text, &key_text, cert, key)
    }

    /// As [`Certificate::load`], from the files' contents (`cert`, `key` name them in errors).
    pub fn from_pem(cert_text: &[u8], key_text: &[u8], cert: &Path, key: &Path) -> Result<Certificate, CertError> {
        let bad = |which, message: String| CertError { which, message };
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_text)
                .collect::<Result<_, _>>()
                .map_err(|e| bad(Which::Cert, format!("{}: not a PEM certificate chain ({e})", cert.display())))?;
        if chain.is_empty() {
            return Err(bad(
                Which::Cert,
                format!("{}: no certificate (-----BEGIN CERTIFICATE-----) in it", cert.display()),
            ));
        }
        // No parser detail for the key file: it would quote the key file's lines in the log.
        let private = PrivateKeyDer::from_pem_slice(key_text).map_err(|_| {
            bad(Which::Key, format!("{}: no PEM private key in it (-----BEGIN ... PRIVATE KEY-----)", key.display()))
        })?;
        let provider = super::provider();
        let signing = provider.key_provider.load_private_key(private).map_err(|e| {
            bad(
                Which::Key,
                format!(
                    "{}: a key this server cannot sign with ({e}); use ECDSA P-256/P-384, RSA or Ed25519",
                    key.display()
                ),
            )
        })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(bad(
                    Which::Key,
                    format!("{}: not the key of the certificate in {}", key.display(), cert.display()),
                ));
            }
            Err(e) => {
                return Err(bad(Which::Cert, format!("{}: the first certificate cannot be read ({e})", cert.display())))
            }
        }
        let not_after = certified.cert.first().and_then(|leaf| super::der::not_after(leaf));
        let issuer = certified.cert.first().and_then(|leaf| super::der::issuer(leaf));
        Ok(Certificate { key: Arc::new(certified), not_after, issuer })
    }
}

/// A file's bytes, with its path in the error (never the OS's words alone).
fn read(path: &Path, which: Which) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|e| CertError { which, message: format!("{}: cannot be read ({e})", path.display()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_of_another_certificate_is_refused_as_the_key() {
        let (a, b) = (rcgen::KeyPair::generate().expect("key"), rcgen::KeyPair::generate().expect("key"));
        let params = rcgen::CertificateParams::new(vec!["a.test".to_string()]).expect("params");
        let cert = params.self_signed(&a).expect("certificate").pem();
        let (c, k) = (Path::new("a.pem"), Path::new("b.key"));
        let err = Certificate::from_pem(cert.as_bytes(), b.serialize_pem().as_bytes(), c, k).expect_err("mismatch");
        assert_eq!(err.which, Which::Key);
        assert!(err.message.contains("b.key: not the key of the certificate in a.pem"), "{}", err.message);
        let ok = Certificate::from_pem(cert.as_bytes(), a.serialize_pem().as_bytes(), c, k).expect("its own key");
        assert!(ok.not_after.is_some_and(|t| t > 1_700_000_000), "{:?}", ok.not_after);
        assert_eq!(ok.issuer.as_deref(), Some("rcgen self signed cert"));
    }
}
