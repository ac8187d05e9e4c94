//! The gateway: Hiatus as the edge proxy in front of the tenant servers.
//!
//! - `decide`: the decision, a pure function of the snapshot, the request and `now`; `path`:
//!   the routing path every origin reading agrees on; `bypass`: the client address and who
//!   passes during maintenance; `negotiate`: language and format of a page.
//! - `core`: the request core both lanes share (plan, upstream head, bodies, exchange,
//!   response policy, relay, tunnel, pool, the gateway's own answers).
//! - `http1` and `h2c`: the lanes, thin adapters of a client protocol over the core.
//! - `respond`: the answers of the gateway's own and their fields; `statuspage`: the status
//!   page and its feeds; `record`: the one place a request is counted and logged.
//! - `server`: the pingora server app, and `serve` for in-process tests; `drain`: open
//!   connections and the end of a graceful stop.
//!
//! Schedules, hosts and pages come from their own modules; nothing here parses configuration
//! files.

pub mod bypass;
pub mod core;
pub mod decide;
pub mod drain;
pub mod h2c;
pub mod http1;
pub mod negotiate;
pub mod path;
pub mod record;
pub mod respond;
pub mod server;
pub mod statuscache;
pub mod statuspage;
pub mod tls;

pub use crate::telemetry::Outcome;
pub use record::Gateway;
