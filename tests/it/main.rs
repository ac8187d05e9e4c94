//! The one integration test binary (STYLE.md: all integration tests in one binary).
//!
//! - `rules`: SCHEDULES.md rule by rule, from configuration text to decisions in UTC.
//! - `seeds`: the windows of the shipped configurations against the operator pages.
//! - `config_sections`: large files parsed section by section equal the whole-document parse.
//! - `config_errors`: every error of a bad configuration, with key paths; warnings.
//! - `properties`: `decide` against a brute-force evaluation; invariants; no panics on input.
//! - `backpressure`: slow clients and slow origins block their peer, in every direction, with
//!   the real binary's memory flat.
//! - `gateway`: the proxy end to end on loopback sockets (`gateway_support`: the harness).
//! - `protocol`: HTTP/1.1 framing and connection rules any edge proxy must keep, for every path.
//! - `protocol_h2`: the same for h2c (prior knowledge), relayed to HTTP/1.1 origins.
//! - `shapes`: request shapes beyond a GET (WebSocket upgrades and the tunnel timeout, early
//!   answers to uploads, stalled bodies and bodies cut short, bodies in maintenance, HTTP/1.0
//!   uploads, `Expect: 100-continue`).
//! - `scripted_origin`: the raw HTTP/1.1 origin both protocol suites script byte by byte.
//! - `edge_safety`: the client's address, routing on the path the origin sees, strict framing
//!   and fields on every request shape, a bypass that leaks nothing.
//! - `crossing`: no byte crosses between exchanges of two tenants sharing pooled upstream
//!   connections, whatever the origin sends, on HTTP/1.1 and h2c.
//! - `smuggling`: a table of raw requests with ambiguous framing, each followed by an innocent one;
//!   the recording origin sees exactly what the gateway decided.
//! - `health`: health checks with origins that die and come back; incidents across restarts.
//! - `cluster`: several gateways (the real binary) sharing state through a real etcd: a switch
//!   at one node in force at every node, refusals, a node cut off, member loss, compaction;
//!   the operator API writing to etcd (every node follows, stale `If-Match`, etcd out of reach).
//! - `cli`: the `hiatus` binary's contract (exit codes, JSON keys, golden `check` output).
//! - `logs`: the real binary's log on stderr: each event once, text and JSON lines, `RUST_LOG`,
//!   a reload's changes, a refusal without its secret, upstream errors limited, the stop.
//! - `metrics`: `/metrics` scraped and parsed after known traffic of every decision on both
//!   lanes; window gauges as the clock moves, reload gauges, process figures, `HEAD /metrics`.
//! - `status_truth`: passive health (failed requests mark a tenant down, it recovers by itself),
//!   the banner's severity by share, `status.json` complete with its `next` pages, the status
//!   link's port, and the status host's answers rendered once per minute with 304s.
//! - `emergency`: `hiatus emergency` edits as processes: concurrent switches all land, a dead
//!   writer's temporary file is cleaned up, seconds kept through to the status page and feeds.
//! - `package`: what the package ships besides the gateway: `--version` with the revision, the
//!   manual pages and completions, the packaged configuration, the demo origin without Nagle.
//! - `mail`: e-mail targets against SMTP sinks the tests start (aiosmtpd): the messages parsed
//!   (headers, both parts, language per tenant), 4xx retried, 5xx dropped, `/metrics` counters.
//! - `api`: the operator API on the real binary: windows and emergencies through it change pages
//!   and feeds, 422 with every problem and nothing written, `If-Match`, `Idempotency-Key`,
//!   the token and `Host` checks, comments kept, the OpenAPI description against the routes.
//! - `tls`: the gateway's TLS listener: certificates by SNI, HTTP/1.1 and h2 over TLS as plain,
//!   redirects to HTTPS, HSTS, `X-Forwarded-Proto`, certificate reloads, old TLS refused.
//! - `acme`: automatic certificates from Debian's `pebble` on loopback, HTTP-01 answered by the
//!   real binary, the issued certificate served and kept across a restart; a refusing directory.
//! - `upstream_tls`: HTTPS origins behind the gateway: verification (CA, name, expiry) with the
//!   failure page and the log's cause, pooled connections by name (SNI), TLS health probes.

mod acme;
mod api;
mod backpressure;
mod cli;
mod cluster;
mod config_errors;
mod config_sections;
mod control;
mod crossing;
mod edge_safety;
mod emergency;
mod gateway;
mod gateway_support;
mod health;
mod lifecycle;
mod logs;
mod mail;
mod metrics;
mod notify;
mod package;
mod pages;
mod properties;
mod protocol;
mod protocol_h2;
mod rules;
mod scripted_origin;
mod seeds;
mod shapes;
mod smuggling;
mod status;
mod status_truth;
mod support;
mod tls;
mod upstream_tls;
