//! HTTP/1.1 bytes the gateway writes: header lines, addresses, the `Date`, and whole answers of
//! its own (the same fields the h2c lane writes: `respond::fields`).

use crate::gateway::respond::{self, Answer};

pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// An address as text: IPv4 digit by digit (formatting machinery cost more than the rest of
/// the upstream request head), IPv6 as `Display` writes it.
pub fn ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut digits = [0u8; 20];
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(respond::decimal(u64::from(octet), &mut digits));
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// The `Date` header, from pingora's once-a-second cache.
pub fn date(out: &mut Vec<u8>) {
    header(out, b"date", pingora::protocols::http::date::get_cached_date().as_bytes());
}

/// The status line.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(respond::decimal(u64::from(status), &mut digits));
    out.push(b' ');
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole answer of the gateway's own to `out`: status line, the answer's fields
/// (`respond::fields`), `Date`, `Connection`, and the body unless the request was `HEAD`.
/// `hsts`: see `respond::fields`.
pub fn answer(
    out: &mut Vec<u8>,
    a: &Answer,
    (request_id, generation): (&[u8], Option<u64>),
    hsts: Option<&http::HeaderValue>,
    head_request: bool,
    keep_alive: bool,
) {
    status_line(out, a.status);
    respond::fields(a, request_id, generation, hsts, &mut |n, v| header(out, n.as_str().as_bytes(), v.as_bytes()));
    date(out);
    header(out, b"connection", if keep_alive { b"keep-alive" } else { b"close" });
    out.extend_from_slice(b"\r\n");
    if !head_request {
        out.extend_from_slice(&a.body);
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for text in ["0.0.0.0", "127.0.0.1", "10.200.3.45", "255.255.255.255", "::1", "2001:db8::7", "::ffff:192.0.2.1"]
        {
            let ip: IpAddr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            let mut out = b"x".to_vec();
            super::ip(&mut out, ip);
            assert_eq!(String::from_utf8_lossy(&out[1..]), ip.to_string(), "{text}");
        }
    }
}
