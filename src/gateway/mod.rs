//! The gateway: Hiatus as the edge proxy in front of the tenant servers (pingora).
//!
//! `compiled` builds what requests read (one `ArcSwap`), `express` takes every connection
//! first and answers simple HTTP/1.1 requests itself, `proxy` holds the decision (`decide`) and
//! pingora's hooks for everything else, `respond` writes the gateway's own answers, `negotiate` picks language and format,
//! `bypass` decides who passes during maintenance, `server` wires pingora's server and the
//! background tasks, `demo` is the self-contained demo. Schedules, hosts and pages come from
//! their own modules; nothing here parses configuration files.

pub mod bypass;
pub mod express;
pub mod negotiate;
pub mod path;
pub mod proxy;
pub mod respond;

pub use crate::telemetry::Outcome;
pub use proxy::{Gateway, RequestCtx};
pub mod server;
pub mod statuspage;
