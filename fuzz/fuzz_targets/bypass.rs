//! Who the client is and who passes during maintenance: `hiatus::gateway::bypass::client_ip`
//! on a peer and `X-Forwarded-For` lines, and `cookie_valid` on a `Cookie` header.
//!
//! Input: one flags byte (bits 0-1: no peer, an IPv4 peer, an IPv6 peer, an IPv4-mapped IPv6
//! peer; bits 2-3: splice nothing, a valid bypass cookie for tenant `t`, or an expired one into
//! the header), the peer's 4 or 16 address bytes, then text: `X-Forwarded-For` field lines
//! separated by LF, a NUL, the `Cookie` header. The trusted proxies are `10.0.0.0/8`,
//! `192.0.2.0/24` and `2001:db8::/32`.
//!
//! Beyond no panic and no hang, for every input:
//! - no peer, no address; a peer that is not trusted is the client, whatever the header says;
//! - behind a trusted peer, the client is the first hop from the right that is not trusted;
//!   reading stops at a hop that cannot be read (the last one read stands), and the peer is the
//!   client when no hop was read;
//! - a header the fuzzer wrote opens nothing (it cannot forge the MAC); one with a valid cookie
//!   for `t` spliced in among any other pairs opens `t` and never `u`; an expired one opens
//!   nothing.
#![no_main]

use hiatus::config::gateway::Cidr;
use hiatus::gateway::bypass::{client_ip, cookie_valid, is_bypass_pair, issue, COOKIE};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NOW: i64 = 1_743_300_000;
const SECRET: &str = "fuzz-secret-0123456789abcdef";

/// The rule as the module documents it, written out over the flattened chain.
fn expected(peer: IpAddr, lines: &[&str], trusted: &dyn Fn(IpAddr) -> bool) -> IpAddr {
    if !trusted(peer) {
        return peer;
    }
    let chain: Vec<&str> = lines.iter().flat_map(|l| l.split(',')).map(str::trim).filter(|h| !h.is_empty()).collect();
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !trusted(ip) {
            break;
        }
    }
    client
}

fuzz_target!(|input: &[u8]| {
    let [flags, ref rest @ ..] = *input else { return };
    let (peer, rest) = match flags & 3 {
        0 => (None, rest),
        1 if rest.len() >= 4 => {
            let (a, rest) = rest.split_at(4);
            (Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))), rest)
        }
        2 | 3 if rest.len() >= 16 => {
            let (a, rest) = rest.split_at(16);
            let mut octets: [u8; 16] = a.try_into().unwrap_or_default();
            if flags & 3 == 3 {
                octets[..12].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
            }
            (Some(IpAddr::V6(Ipv6Addr::from(octets))), rest)
        }
        _ => return,
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (forwarded, cookie) = text.split_once('\0').unwrap_or((text, ""));
    let lines: Vec<&str> = forwarded.split('\n').collect();

    let trusted: Vec<Cidr> = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]
        .iter()
        .map(|c| Cidr::parse(c).expect("a trusted block"))
        .collect();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let got = client_ip(peer, &lines, &trusted);
    match peer {
        None => assert_eq!(got, None),
        Some(p) if !is_trusted(p) => assert_eq!(got, Some(p), "an untrusted peer's header was believed"),
        Some(p) => assert_eq!(got, Some(expected(p, &lines, &is_trusted)), "{lines:?}"),
    }

    // A valid or expired cookie for `t`, as its own pair after the fuzzer's first pair.
    let spliced = match (flags >> 2) & 3 {
        1 => Some((issue(SECRET, "t", NOW + 3600), true)),
        2 => Some((issue(SECRET, "t", NOW), false)),
        _ => None,
    };
    let header = match &spliced {
        Some((value, _)) => {
            let (first, others) = cookie.split_once(';').unwrap_or((cookie, ""));
            format!("{first}; {COOKIE}={value};{others}")
        }
        None => cookie.to_string(),
    };
    for pair in header.split(';') {
        let _ = is_bypass_pair(pair.as_bytes());
    }
    let opens = |tenant: &str| cookie_valid(Some(&header), SECRET, tenant, NOW);
    assert_eq!(opens("t"), spliced.as_ref().is_some_and(|(_, valid)| *valid), "{header:?}");
    assert!(!opens("u"), "a cookie for `t` opened `u`: {header:?}");
});
