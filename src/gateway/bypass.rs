//! Bypass: who may pass while a tenant is in maintenance, and who the client is.
//!
//! Owns the client address rule (the socket peer; the `X-Forwarded-For` chain only when the
//! peer is a configured trusted proxy, read from the right, skipping trusted hops), the
//! address allowlist, the always-pass paths, and the signed, expiring bypass cookie
//! (`value = <expiry>.<mac>`, keyed BLAKE2s over the expiry). Pure functions of their inputs.

use crate::config::gateway::{Bypass, Cidr};
use crate::schedule::UnixTime;
use blake2::digest::{KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac256, Digest};
use std::net::IpAddr;

pub const COOKIE: &str = "hiatus_bypass";
/// Visiting `BYPASS_PATH` + secret issues the cookie.
pub const BYPASS_PATH: &str = "/.hiatus/bypass/";

/// The client's address: the peer, or the first untrusted hop of a trusted proxy's chain.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.iter().any(|c| c.contains(peer)) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else { return Some(peer) };
    let mut client = peer;
    for hop in chain.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.iter().any(|c| c.contains(ip)) {
                    break;
                }
            }
            // A hop we cannot read ends what we can believe.
            Err(_) => break,
        }
    }
    Some(client)
}

fn mac(secret: &str, expiry: UnixTime) -> Option<Blake2sMac256> {
    // Hash the secret first: keyed BLAKE2s takes at most 32 bytes of key.
    let key = Blake2s256::digest(secret.as_bytes());
    let mut m = <Blake2sMac256 as KeyInit>::new_from_slice(&key).ok()?;
    m.update(b"hiatus-bypass:");
    m.update(expiry.to_string().as_bytes());
    Some(m)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie value valid until `expiry`.
pub fn issue(secret: &str, expiry: UnixTime) -> String {
    let tag = mac(secret, expiry).map(|m| hex(&m.finalize().into_bytes())).unwrap_or_default();
    format!("{expiry}.{tag}")
}

/// Whether a `Cookie` header carries a valid, unexpired bypass cookie.
pub fn cookie_valid(cookie_header: Option<&str>, secret: &str, now: UnixTime) -> bool {
    let Some(header) = cookie_header else { return false };
    header.split(';').any(|pair| {
        let Some((name, value)) = pair.trim().split_once('=') else { return false };
        if name != COOKIE {
            return false;
        }
        let Some((expiry, tag)) = value.split_once('.') else { return false };
        let Ok(expiry) = expiry.parse::<UnixTime>() else { return false };
        if expiry <= now || tag.len() != 64 {
            return false;
        }
        let Some(bytes) =
            (0..32).map(|i| u8::from_str_radix(tag.get(2 * i..2 * i + 2)?, 16).ok()).collect::<Option<Vec<u8>>>()
        else {
            return false;
        };
        // `verify_slice` compares in constant time.
        mac(secret, expiry).is_some_and(|m| m.verify_slice(&bytes).is_ok())
    })
}

/// Compares a presented secret with the configured one without leaking where they differ.
pub fn secret_matches(presented: &str, secret: &str) -> bool {
    let (a, b) = (Blake2s256::digest(presented.as_bytes()), Blake2s256::digest(secret.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a path means what it says: no dot segments, no encoded dot, slash or backslash, no
/// backslash. Only such a path may pass by its prefix: the upstream would resolve
/// `/.well-known/acme-challenge/../../admin` to `/admin`.
fn plain_path(path: &str) -> bool {
    let encoded = |code: &[u8]| path.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(code));
    !path.contains('\\')
        && !path.split('/').any(|segment| segment == "." || segment == "..")
        && ![b"%2e", b"%2f", b"%5c"].iter().any(|code| encoded(*code))
}

/// Why a request passes during maintenance, if it does.
pub fn passes(bypass: &Bypass, path: &str, client: Option<IpAddr>, cookie_header: Option<&str>, now: UnixTime) -> bool {
    (bypass.paths.iter().any(|p| path.starts_with(p.as_str())) && plain_path(path))
        || client.is_some_and(|ip| bypass.allow.iter().any(|c| c.contains(ip)))
        || bypass.secret.as_deref().is_some_and(|s| cookie_valid(cookie_header, s, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| Cidr::parse(c).expect("test cidr")).collect()
    }

    #[test]
    fn client_address() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        let cases = [
            // an untrusted peer's header is ignored (no spoofing)
            (ip("203.0.113.5"), Some("1.2.3.4"), ip("203.0.113.5")),
            // a trusted proxy: the rightmost untrusted hop
            (ip("10.0.0.2"), Some("198.51.100.7, 10.0.0.9"), ip("198.51.100.7")),
            (ip("10.0.0.2"), Some("6.6.6.6, 198.51.100.7"), ip("198.51.100.7")),
            (ip("10.0.0.2"), None, ip("10.0.0.2")),
            (ip("10.0.0.2"), Some("garbage"), ip("10.0.0.2")),
            (None, Some("1.2.3.4"), None),
        ];
        for (peer, xff, expected) in cases {
            assert_eq!(client_ip(peer, xff, &trusted), expected, "{peer:?} {xff:?}");
        }
    }

    #[test]
    fn paths_pass_by_prefix_only_when_plain() {
        let bypass = Bypass { paths: vec!["/.well-known/acme-challenge/".to_string()], ..Bypass::default() };
        let cases = [
            ("/.well-known/acme-challenge/Tk-9_x", true),
            ("/.well-known/acme-challenge/a.b..c", true),
            ("/.well-known/acme-challenge", false),
            ("/.well-known/acme-challenge/../../admin", false),
            ("/.well-known/acme-challenge/./x", false),
            ("/.well-known/acme-challenge/..", false),
            ("/.well-known/acme-challenge/%2e%2E/admin", false),
            ("/.well-known/acme-challenge/..%2Fadmin", false),
            ("/.well-known/acme-challenge/..%5cadmin", false),
            ("/.well-known/acme-challenge/..\\admin", false),
        ];
        for (path, expected) in cases {
            assert_eq!(passes(&bypass, path, None, None, 0), expected, "{path}");
        }
    }

    #[test]
    fn cookie_round_trip() {
        let secret = "0123456789abcdef-secret";
        let v = issue(secret, 2_000);
        let header = format!("a=b; {COOKIE}={v}; c=d");
        assert!(cookie_valid(Some(&header), secret, 1_999));
        assert!(!cookie_valid(Some(&header), secret, 2_000), "expired");
        assert!(!cookie_valid(Some(&header), "another-secret-0123456", 1_000), "other key");
        let forged = format!("{COOKIE}=3000.{}", &v[5..]);
        assert!(!cookie_valid(Some(&forged), secret, 1_000), "expiry changed");
        for junk in ["", "hiatus_bypass=", "hiatus_bypass=x.y", "hiatus_bypass=1.zz", "=;=;"] {
            assert!(!cookie_valid(Some(junk), secret, 0), "{junk}");
        }
        assert!(secret_matches(secret, secret) && !secret_matches("x", secret));
    }
}
