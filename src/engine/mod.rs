//! The engine: one immutable, compiled [`Snapshot`] of a configuration, and `decide`.
//!
//! Owns the hot-path structures built from a [`Config`](crate::config::Config): the host index (host → routes by path
//! prefix → tenant and timeline), the per-scope merged timelines over a horizon, and the answer
//! for a request at an instant ([`Decision`]). Built completely off the request path; a gateway
//! holds it behind one `ArcSwap` and swaps it whole (reload, emergency switch, new horizon).
//! Does not read files, speak HTTP or look at the wall clock: `now` is always an argument.

mod matcher;
mod snapshot;

pub use snapshot::{BuildOptions, Decision, Route, Snapshot};
