//! Telemetry: what the request path reports — the decision labels ([`Outcome`]), the metrics
//! (`metrics`: one explicit struct, per-tenant counters as blocks of atomics; `durations`: the
//! request-duration histograms; `process`: the process's figures; `exposition`: families made
//! at a scrape) and the access log writer (`accesslog`). Below the snapshot and the request path, which record into it; the
//! admin listener (`control`) serves it.

pub mod accesslog;
pub mod durations;
pub mod exposition;
pub mod logger;
pub mod metrics;
mod outcome;
pub mod process;
pub mod ratelimit;
pub mod redact;

pub use outcome::Outcome;
