//! Hosts: the patterns a configuration names hosts with, and the index the request path finds
//! them in.
//!
//! `pattern` owns [`HostPattern`] (exact host, `*.suffix` wildcard, `prefix{lo..hi}suffix`
//! numeric range): parsing, the reference matching semantics and the canonical text.
//! `normalize` turns a raw `Host` header into the normalised form everything here matches
//! against, without allocating. `index` owns [`HostIndex`], which precomputes one value per
//! distinct "kind of host" at snapshot build time so that a request costs one lookup.
//!
//! Nothing here knows about tenants, windows or routes: the index asks its caller to resolve a
//! representative host and stores whatever comes back.

mod index;
mod normalize;
mod pattern;

pub use index::HostIndex;
pub use normalize::{normalize_host, port_of, HOST_BUF_LEN};
pub use pattern::{HostPattern, HostPatternError, PatternKind, PatternProblem, MAX_HOST_LEN};
