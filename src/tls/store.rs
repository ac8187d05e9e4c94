//! The certificates a TLS listener chooses from, by the name the client asked for (SNI):
//! exact hosts, ranges and `*.wildcards` through the same index as tenants' hosts (exact >
//! range > longer wildcard), then the default certificate. Built once per configuration; a
//! handshake's lookup allocates nothing and takes no lock.

use super::Certificate;
use crate::hosts::{normalize_host, HostIndex, HostPattern, HOST_BUF_LEN};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// One `[[certificates]]` entry: which hosts it serves.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub hosts: &'a [HostPattern],
    pub default: bool,
    pub certificate: &'a Certificate,
}

/// Certificates by host pattern, and the default.
#[derive(Debug)]
pub struct CertStore {
    /// A host's entry, by its position in `keys`.
    by_host: HostIndex<usize>,
    keys: Vec<Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    /// What the admin endpoint and the expiry gauges show, one per entry.
    listed: Vec<Listed>,
}

/// An entry as reports show it: its names, expiry and issuer.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The host patterns it serves, as written (`*.example.com`).
    pub names: Vec<String>,
    pub default: bool,
    pub not_after: Option<i64>,
    pub issuer: Option<String>,
}

impl Default for CertStore {
    fn default() -> CertStore {
        CertStore::build(&[])
    }
}

impl CertStore {
    /// The store of `entries`. A host named by several entries gets the first entry that names
    /// it by an exact host or range, else the one with the longest wildcard that covers it.
    pub fn build(entries: &[Entry<'_>]) -> CertStore {
        let patterns = entries.iter().flat_map(|e| e.hosts.iter().cloned());
        let by_host = HostIndex::build(patterns, |host| {
            let specific = entries.iter().position(|e| e.hosts.iter().any(|p| !p.is_wildcard() && p.matches(host)));
            let wildcard = || {
                entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        let longest = e.hosts.iter().filter(|p| p.is_wildcard() && p.matches(host));
                        longest.map(|p| p.to_string().len()).max().map(|len| (len, i))
                    })
                    // The longest wildcard; the first entry among equals.
                    .fold(None, |best: Option<(usize, usize)>, (len, i)| match best {
                        Some((l, _)) if l >= len => best,
                        _ => Some((len, i)),
                    })
                    .map(|(_, i)| i)
            };
            // The index asks only for hosts its patterns produced, so one of them matches.
            specific.or_else(wildcard).unwrap_or(0)
        });
        let keys = entries.iter().map(|e| e.certificate.key.clone()).collect();
        let default = entries.iter().find(|e| e.default).map(|e| e.certificate.key.clone());
        let listed = entries
            .iter()
            .map(|e| Listed {
                names: e.hosts.iter().map(|h| h.to_string()).collect(),
                default: e.default,
                not_after: e.certificate.not_after,
                issuer: e.certificate.issuer.clone(),
            })
            .collect();
        CertStore { by_host, keys, default, listed }
    }

    /// The certificate configured for a name the client asked for, without the default:
    /// ACME's certificates come between the two (`gateway::tls::Resolver`).
    pub fn named(&self, server_name: &str) -> Option<&Arc<CertifiedKey>> {
        let mut buf = [0u8; HOST_BUF_LEN];
        let host = normalize_host(server_name, &mut buf)?;
        self.by_host.lookup(host).and_then(|(&i, _)| self.keys.get(i))
    }

    /// The default certificate, when one is configured.
    pub fn default_key(&self) -> Option<&Arc<CertifiedKey>> {
        self.default.as_ref()
    }

    /// Every entry, in file order.
    pub fn listed(&self) -> &[Listed] {
        &self.listed
    }

    /// The certificate for the name a client asked for (`None`: no SNI, e.g. an IP address),
    /// else the default; `None` when neither exists (the handshake is refused).
    pub fn resolve(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let mut buf = [0u8; HOST_BUF_LEN];
        let named = server_name.and_then(|n| normalize_host(n, &mut buf)).and_then(|h| self.by_host.lookup(h));
        named.and_then(|(&i, _)| self.keys.get(i)).or(self.default.as_ref()).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_host.is_empty() && self.default.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A self-signed certificate for `name` (the store never looks inside: names are the
    /// configuration's, not the certificate's).
    fn certificate(name: &str) -> Certificate {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        Certificate::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), Path::new("c.pem"), Path::new("k.pem"))
            .expect("a good certificate")
    }

    fn patterns(hosts: &[&str]) -> Vec<HostPattern> {
        hosts.iter().map(|h| HostPattern::parse(h).expect("pattern")).collect()
    }

    #[test]
    fn exact_beats_range_beats_the_longest_wildcard_then_the_default() {
        let names = ["exact", "range", "wild", "deep", "again", "default"];
        let certs: Vec<Certificate> = names.iter().map(|n| certificate(&format!("{n}.test"))).collect();
        let hosts = [
            patterns(&["a.example.com"]),
            patterns(&["www{1..9}.example.com"]),
            patterns(&["*.example.com"]),
            patterns(&["*.b.example.com"]),
            // Names another entry already has: the first entry keeps them.
            patterns(&["a.example.com", "*.example.com"]),
            Vec::new(),
        ];
        let entries: Vec<Entry<'_>> = hosts
            .iter()
            .zip(&certs)
            .enumerate()
            .map(|(i, (hosts, certificate))| Entry { hosts, default: i == 5, certificate })
            .collect();
        let store = CertStore::build(&entries);
        let which = |sni: Option<&str>| {
            let key = store.resolve(sni).expect("a certificate");
            certs.iter().position(|c| Arc::ptr_eq(&c.key, &key)).map(|i| names[i])
        };
        let cases = [
            (Some("a.example.com"), "exact"),
            (Some("A.Example.COM."), "exact"),
            (Some("www3.example.com"), "range"),
            (Some("www30.example.com"), "wild"),
            (Some("x.example.com"), "wild"),
            (Some("x.b.example.com"), "deep"),
            (Some("b.example.com"), "wild"),
            (Some("example.com"), "default"),
            (Some("other.test"), "default"),
            (None, "default"),
        ];
        for (sni, expected) in cases {
            assert_eq!(which(sni), Some(expected), "{sni:?}");
        }
        let no_default = CertStore::build(&entries[..5]);
        assert!(no_default.resolve(Some("other.test")).is_none(), "no default: the handshake is refused");
        assert!(CertStore::default().is_empty() && CertStore::default().resolve(None).is_none());
    }
}
