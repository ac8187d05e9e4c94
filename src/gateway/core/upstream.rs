//! The request head the upstream receives: one implementation for both lanes.
//!
//! Built from the client's fields as the lane read them (classified once, `fields::classify`)
//! and what the gateway decided: the request line (origin form), `Host` (the authority the
//! request was routed by), the end-to-end fields in order, the cookies less the bypass cookie,
//! the framing the gateway chose, the upgrade of a WebSocket, then the gateway's own
//! `X-Forwarded-For` / `-Proto` / `-Host`, `Forwarded` (RFC 7239) and `X-Request-Id`. Upstreams
//! always get HTTP/1.1.

use super::fields::{passes_as_is, Field};
use super::InFlight;
use crate::gateway::bypass::is_bypass_pair;
use crate::gateway::decide::Decided;
use crate::gateway::http1::wire;

/// How a request's body goes to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body and no `Content-Length`.
    None,
    /// `Content-Length: n` (also `0`, when the client sent it).
    Length(u64),
    /// Chunked, re-encoded by the gateway (`body`).
    Chunked,
}

/// The gateway's decisions about the upstream head.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a [u8],
    /// Origin form (`/path?query`), or `*` for `OPTIONS *`.
    pub target: &'a [u8],
    /// The authority the request was routed by: `Host` upstream.
    pub host: Option<&'a [u8]>,
    pub framing: BodyFraming,
    /// The `Upgrade` value of a WebSocket upgrade the gateway carries through.
    pub upgrade: Option<&'a [u8]>,
    /// `[gateway] underscores_in_headers`.
    pub allow_underscores: bool,
}

/// A client's request fields as a lane holds them, each with its class, in order. Generic,
/// not `dyn`: the builder walks them for every proxied request, and a call per field through a
/// vtable and a closure object cost more than the rest of the walk.
pub trait Fields {
    /// Hands every field (class, name, value) to `f`, in order.
    fn each(&self, f: impl FnMut(Field, &[u8], &[u8]));
    /// Whether the client's `Connection` named `name` (HTTP/1.1 only; HTTP/2 has none).
    fn named(&self, name: &[u8]) -> bool;
}

/// Writes the upstream request head into `out` (cleared first). The fields are walked once,
/// and again for the rarer ones that must be joined (cookies, the `X-Forwarded-For` chain).
pub fn head<F: Fields>(out: &mut Vec<u8>, o: &Outgoing<'_>, fields: &F, req: &InFlight<'_>, d: &Decided) {
    out.clear();
    out.extend_from_slice(o.method);
    out.push(b' ');
    out.extend_from_slice(o.target);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(h) = o.host {
        wire::header(out, b"host", h);
    }
    let (mut cookies, mut chain, mut proto, mut forwarded_host, mut forwarded) = (false, false, false, false, false);
    fields.each(|field, name, value| {
        match field {
            Field::Cookie => cookies = true,
            Field::XForwardedFor => chain = true,
            Field::XForwardedProto => proto = true,
            Field::XForwardedHost => forwarded_host = true,
            // RFC 7239's header says the same as X-Forwarded-*: only a trusted proxy's is kept,
            // extended by this hop's element below (`forwarded`).
            Field::Forwarded => forwarded = true,
            _ => {
                if passes_as_is(field, o.allow_underscores, fields.named(name)) {
                    wire::header(out, name, value);
                }
            }
        }
    });
    if cookies {
        write_cookies(out, fields);
    }
    match o.framing {
        BodyFraming::None => {}
        BodyFraming::Length(n) => {
            let mut digits = [0u8; 20];
            wire::header(out, b"content-length", crate::gateway::respond::decimal(n, &mut digits));
        }
        BodyFraming::Chunked => wire::header(out, b"transfer-encoding", b"chunked"),
    }
    if let Some(protocol) = o.upgrade {
        wire::header(out, b"connection", b"upgrade");
        wire::header(out, b"upgrade", protocol);
    }
    // X-Forwarded-For: a trusted proxy's chain (every line, in order) extended by that proxy;
    // anyone else's replaced by the client's own address (no spoofing).
    out.extend_from_slice(b"x-forwarded-for: ");
    if d.peer_trusted && chain {
        let mut first = true;
        fields.each(|field, _, value| {
            if field == Field::XForwardedFor {
                if !first {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value);
                first = false;
            }
        });
        out.extend_from_slice(b", ");
        if let Some(p) = req.peer {
            wire::ip(out, p);
        }
    } else if let Some(c) = d.client {
        wire::ip(out, c);
    }
    out.extend_from_slice(b"\r\n");
    // Over our own TLS it is `https`, whatever the client says. On a plain connection a
    // trusted proxy's `X-Forwarded-Proto` and `-Host` (the first of each) stand; otherwise the
    // gateway says what it saw.
    if d.tls {
        wire::header(out, b"x-forwarded-proto", b"https");
    } else if !(d.peer_trusted && proto && first_of(out, fields, Field::XForwardedProto, b"x-forwarded-proto")) {
        wire::header(out, b"x-forwarded-proto", b"http");
    }
    if !(d.peer_trusted && forwarded_host && first_of(out, fields, Field::XForwardedHost, b"x-forwarded-host")) {
        if let Some(h) = o.host {
            wire::header(out, b"x-forwarded-host", h);
        }
    }
    write_forwarded(out, fields, o, req, d, forwarded);
    wire::header(out, b"x-request-id", req.request_id.bytes());
    out.extend_from_slice(b"\r\n");
}

/// `Forwarded` (RFC 7239 §4). A trusted proxy's elements (every line, in order) are kept and
/// this hop's appended: `for=` the proxy, `proto=` how it reached us (`https` over our own TLS).
/// Otherwise one element describes the client's request: `for=` the client (the trusted
/// `X-Forwarded-For` chain's, else the peer), `proto=` as `X-Forwarded-Proto` says. Both end
/// with `host=` the `Host` the request was routed by. Anyone else's `Forwarded` is dropped, as
/// an untrusted `X-Forwarded-For` is.
fn write_forwarded<F: Fields>(
    out: &mut Vec<u8>,
    fields: &F,
    o: &Outgoing<'_>,
    req: &InFlight<'_>,
    d: &Decided,
    sent: bool,
) {
    out.extend_from_slice(b"forwarded: ");
    let chained = d.peer_trusted && sent;
    let heard_from = if chained {
        fields.each(|field, _, value| {
            if field == Field::Forwarded {
                out.extend_from_slice(value);
                out.extend_from_slice(b", ");
            }
        });
        req.peer
    } else {
        d.client
    };
    out.extend_from_slice(b"for=");
    match heard_from {
        Some(std::net::IpAddr::V4(v4)) => wire::ip(out, v4.into()),
        // An IPv6 node is a quoted, bracketed string (§6).
        Some(v6) => {
            out.extend_from_slice(b"\"[");
            wire::ip(out, v6);
            out.extend_from_slice(b"]\"");
        }
        None => out.extend_from_slice(b"unknown"),
    }
    let https = if chained { d.tls } else { d.secure };
    out.extend_from_slice(if https { b";proto=https" } else { b";proto=http" });
    if let Some(h) = o.host {
        // A quoted-string: a port's `:` is no token character; `"` and `\` are escaped.
        out.extend_from_slice(b";host=\"");
        for &b in h {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes the first field of class `field` as `name`; `false` when there is none.
fn first_of<F: Fields>(out: &mut Vec<u8>, fields: &F, field: Field, name: &[u8]) -> bool {
    let mut done = false;
    fields.each(|f, _, value| {
        if f == field && !done {
            wire::header(out, name, value);
            done = true;
        }
    });
    done
}

/// One `Cookie` line of every cookie the client sent (HTTP/2 sends each in a field of its own,
/// RFC 9113 §8.2.3), less the gateway's bypass cookie; none when nothing is left.
fn write_cookies<F: Fields>(out: &mut Vec<u8>, fields: &F) {
    let start = out.len();
    out.extend_from_slice(b"cookie: ");
    let mut any = false;
    fields.each(|field, _, value| {
        if field != Field::Cookie {
            return;
        }
        for pair in value.split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            if pair.is_empty() || is_bypass_pair(pair) {
                continue;
            }
            if any {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(pair);
            any = true;
        }
    });
    if any {
        out.extend_from_slice(b"\r\n");
    } else {
        out.truncate(start);
    }
}
