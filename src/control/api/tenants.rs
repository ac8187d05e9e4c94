//! `GET tenants`: every tenant and where it stands now.
//!
//! Owns the tenant resource: `state` (`open`, `maintenance`, or `emergency` when the window in
//! force is open-ended, as an emergency switch makes it), the window in force and the end of
//! its block, the next window and its start, `health` (`healthy` while one upstream is,
//! `unhealthy`, `unchecked` without health checks) and the open incidents (id, start, cause
//! kind; an operator's: id, start, severity). Upstream addresses and error texts stay in
//! `GET /state`.

use super::{rfc3339, Context};
use crate::schedule::rule::Rule;

/// The tenants as JSON, in configuration order.
pub fn list(cx: &Context) -> serde_json::Value {
    let compiled = cx.reloader.current().load_full();
    let now = cx.clock.now();
    let engine = &compiled.engine;
    let incidents = compiled.health.incidents().open();
    let tenants: Vec<serde_json::Value> = compiled
        .config()
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = engine.verdict(&engine.route_of_tenant(i as u32), now);
            let in_force = v.window.and_then(|w| engine.window(w));
            let open_ended = in_force.is_some_and(|w| matches!(w.schedule.calendar.rule, Rule::Once { end: None, .. }));
            let state = match (v.is_maintenance(), open_ended) {
                (false, _) => "open",
                (true, false) => "maintenance",
                (true, true) => "emergency",
            };
            let health = match compiled.tenants.get(i).and_then(|r| r.health.as_ref()) {
                None => "unchecked",
                Some(h) if h.upstreams.iter().any(|u| u.is_healthy()) => "healthy",
                Some(_) => "unhealthy",
            };
            let mut open: Vec<serde_json::Value> = incidents
                .iter()
                .filter(|x| x.tenant == t.id)
                .map(|x| serde_json::json!({ "id": x.id, "start": rfc3339(Some(x.start)), "cause": x.cause.code() }))
                .collect();
            // And what operators posted and have not resolved.
            open.extend(
                compiled
                    .config()
                    .incidents
                    .iter()
                    .filter(|x| x.end.is_none() && x.start <= now && x.tenants.contains(&t.id))
                    .map(|x| {
                        serde_json::json!({ "id": x.id, "start": rfc3339(Some(x.start)), "severity": x.severity.name() })
                    }),
            );
            serde_json::json!({
                "id": t.id,
                "name": t.name,
                "state": state,
                "window": in_force.map(|w| w.id.as_str()),
                "until": rfc3339(v.until),
                "next_window": v.next_window.and_then(|w| engine.window(w)).map(|w| w.id.as_str()),
                "next_start": rfc3339(v.next_start),
                "health": health,
                "incidents": open,
            })
        })
        .collect();
    serde_json::json!({ "tenants": tenants })
}
