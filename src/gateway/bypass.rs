//! Bypass: who may pass while a tenant is in maintenance, and who the client is.
//!
//! Owns the client address rule (the socket peer; the `X-Forwarded-For` chain only when the
//! peer is a configured trusted proxy, read from the right, skipping trusted hops), the
//! address allowlist, the always-pass paths, and the signed, expiring bypass cookie
//! (`value = <expiry>.<mac>`, keyed BLAKE2s over the tenant's id and the expiry, so a cookie
//! opens only the tenant that issued it). Pure functions of their inputs.

use crate::config::gateway::{Bypass, Cidr};
use crate::schedule::UnixTime;
use blake2::digest::{KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac256, Digest};
use std::net::IpAddr;

pub const COOKIE: &str = "hiatus_bypass";
/// Visiting `BYPASS_PATH` + secret issues the cookie.
pub const BYPASS_PATH: &str = "/.hiatus/bypass/";

/// The client's address: the peer, or — when the peer is a trusted proxy — the first untrusted
/// hop of the `X-Forwarded-For` chain read from the right (nginx's `real_ip_recursive`). The
/// chain is every field line joined in order: a trusted proxy such as HAProxy appends a line of
/// its own, so the first line is whatever the client wrote. A hop that cannot be read ends what
/// can be believed: the last hop read stands.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.iter().rev().flat_map(|line| line.rsplit(',')) {
        let hop = hop.trim();
        if hop.is_empty() {
            continue;
        }
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(client)
}

fn mac(secret: &str, tenant: &str, expiry: UnixTime) -> Option<Blake2sMac256> {
    // Hash the secret first: keyed BLAKE2s takes at most 32 bytes of key.
    let key = Blake2s256::digest(secret.as_bytes());
    let mut m = <Blake2sMac256 as KeyInit>::new_from_slice(&key).ok()?;
    m.update(b"hiatus-bypass:");
    // The tenant's id is bound into the tag: a cookie opens the tenant that issued it only.
    m.update(&(tenant.len() as u64).to_be_bytes());
    m.update(tenant.as_bytes());
    m.update(expiry.to_string().as_bytes());
    Some(m)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie value for `tenant` (its id), valid until `expiry`.
pub fn issue(secret: &str, tenant: &str, expiry: UnixTime) -> String {
    let tag = mac(secret, tenant, expiry).map(|m| hex(&m.finalize().into_bytes())).unwrap_or_default();
    format!("{expiry}.{tag}")
}

/// Whether a `Cookie` header carries a valid, unexpired bypass cookie for `tenant`.
pub fn cookie_valid(cookie_header: Option<&str>, secret: &str, tenant: &str, now: UnixTime) -> bool {
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
        mac(secret, tenant, expiry).is_some_and(|m| m.verify_slice(&bytes).is_ok())
    })
}

/// Whether one `name=value` pair of a `Cookie` header is the bypass cookie: such pairs never
/// go to the upstream (it is the gateway's, and a tenant's origin has no business with it).
pub fn is_bypass_pair(pair: &[u8]) -> bool {
    let pair = pair.trim_ascii();
    pair.len() > COOKIE.len() && pair.starts_with(COOKIE.as_bytes()) && pair[COOKIE.len()] == b'='
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
/// `tenant` is the id of the request's tenant: only its own cookie counts.
pub fn passes(
    bypass: &Bypass,
    path: &str,
    client: Option<IpAddr>,
    cookie_header: Option<&str>,
    tenant: &str,
    now: UnixTime,
) -> bool {
    (bypass.paths.iter().any(|p| path.starts_with(p.as_str())) && plain_path(path))
        || client.is_some_and(|ip| bypass.allow.iter().any(|c| c.contains(ip)))
        || bypass.secret.as_deref().is_some_and(|s| cookie_valid(cookie_header, s, tenant, now))
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
        let cases: [(Option<IpAddr>, &[&str], Option<IpAddr>); 10] = [
            // an untrusted peer's header is ignored (no spoofing)
            (ip("203.0.113.5"), &["1.2.3.4"], ip("203.0.113.5")),
            // a trusted proxy: the rightmost untrusted hop
            (ip("10.0.0.2"), &["198.51.100.7, 10.0.0.9"], ip("198.51.100.7")),
            (ip("10.0.0.2"), &["6.6.6.6, 198.51.100.7"], ip("198.51.100.7")),
            (ip("10.0.0.2"), &[], ip("10.0.0.2")),
            (ip("10.0.0.2"), &["garbage"], ip("10.0.0.2")),
            (None, &["1.2.3.4"], None),
            // several lines: the client wrote the first, the trusted proxy appended the last
            (ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7"], ip("198.51.100.7")),
            (ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7, 10.0.0.3"], ip("198.51.100.7")),
            (ip("10.0.0.2"), &["6.6.6.6", "10.0.0.3", "10.0.0.4"], ip("6.6.6.6")),
            // an empty element is skipped, not believed
            (ip("10.0.0.2"), &["198.51.100.7", ""], ip("198.51.100.7")),
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
            assert_eq!(passes(&bypass, path, None, None, "t", 0), expected, "{path}");
        }
    }

    #[test]
    fn cookie_round_trip() {
        let secret = "0123456789abcdef-secret";
        let v = issue(secret, "a", 2_000);
        let header = format!("x=b; {COOKIE}={v}; c=d");
        assert!(cookie_valid(Some(&header), secret, "a", 1_999));
        assert!(!cookie_valid(Some(&header), secret, "a", 2_000), "expired");
        assert!(!cookie_valid(Some(&header), secret, "b", 1_999), "another tenant's");
        assert!(!cookie_valid(Some(&header), "another-secret-0123456", "a", 1_000), "other key");
        let forged = format!("{COOKIE}=3000.{}", &v[5..]);
        assert!(!cookie_valid(Some(&forged), secret, "a", 1_000), "expiry changed");
        for junk in ["", "hiatus_bypass=", "hiatus_bypass=x.y", "hiatus_bypass=1.zz", "=;=;"] {
            assert!(!cookie_valid(Some(junk), secret, "a", 0), "{junk}");
        }
        assert!(secret_matches(secret, secret) && !secret_matches("x", secret));
        // The tenant's id is length-prefixed: "ab" + expiry 1 is not "a" + expiry "b1".
        assert_ne!(issue(secret, "ab", 1), issue(secret, "a", 1));
    }

    #[test]
    fn bypass_pairs_are_told_from_other_cookies() {
        for (pair, expected) in [
            (" hiatus_bypass=1.ab", true),
            ("hiatus_bypass=", true),
            ("hiatus_bypassed=1", false),
            ("hiatus_bypass", false),
            ("x=hiatus_bypass=1", false),
            ("session=1", false),
        ] {
            assert_eq!(is_bypass_pair(pair.as_bytes()), expected, "{pair}");
        }
    }
}
