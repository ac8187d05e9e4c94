//! Routing paths, `hiatus::gateway::path::{route_by, canonical}`, on arbitrary text (a request
//! path without its query).
//!
//! Beyond no panic and no hang, for every input:
//! - `route_by` and `canonical` agree on validity (an invalid path is invalid to both);
//! - a tenant that `route_by` routes to is the one `canonical` form routes to: no spelling of a
//!   path reaches a tenant its normal form does not (`/%6dandant-a`, `/x/..%2fmandant-a`, …);
//! - with the reading itself as the "tenant", an agreed reading is the canonical form: a path
//!   that every origin reads one way is read that way;
//! - the canonical form is canonical (borrowed when normalised again);
//! - the router is asked at most once per distinct reading (eleven at most).
#![no_main]

use hiatus::gateway::path::{canonical, route_by, PathError};
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

/// Path-prefix tenants as the engine matches them (`engine::snapshot`): whole segments; the
/// longer prefix first. `None`: the host's whole-host tenant.
fn route(path: &str) -> Option<&'static str> {
    ["/mandant-a", "/mandant-b", "/api/v2", "/api", "/.hiatus"]
        .into_iter()
        .find(|p| path.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let mut calls = 0;
    let routed = route_by(raw, |p| {
        calls += 1;
        route(p)
    });
    assert!(calls <= 11, "{calls} readings of {raw:?}");
    let canon = canonical(raw);
    let invalid = matches!(routed, Err(PathError::Invalid(_)));
    assert_eq!(invalid, canon.is_err(), "{raw:?}: {routed:?} but {canon:?}");
    let Ok(canon) = canon else { return };
    if let Ok(tenant) = routed {
        assert_eq!(route(&canon), tenant, "{raw:?} routes to {tenant:?}, its canonical form {canon:?} elsewhere");
    }
    assert!(matches!(canonical(&canon), Ok(Cow::Borrowed(_))), "{raw:?} -> {canon:?} is not canonical");
    if let Ok(reading) = route_by(raw, str::to_string) {
        assert_eq!(reading, *canon, "{raw:?}: every reading is {reading:?}, the canonical form {canon:?}");
    }
});
