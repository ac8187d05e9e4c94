//! The events of incidents posted by operators (`[[incidents]]`, written by the operator API):
//! opened, each update, resolved.
//!
//! Owns [`OperatorIncidents`]: which of these events were seen, looked at once per generation
//! (an incident changes only with the configuration). An incident affecting several tenants
//! makes one event per tenant, with the id `INCIDENT:TENANT` (as on the status page); an
//! update's subject id is `INCIDENT#N` (its number among the updates, from 0), so each update
//! is an event of its own with a stable id. At the first look (a start) only what happened in
//! the last [`super::CATCH_UP_SECS`] is told, like the health checks' incidents.

use super::event::{Event, Subject};
use crate::config::notify::EventKind;
use crate::config::Config;
use crate::health::cause::Cause;
use crate::schedule::UnixTime;
use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct OperatorIncidents {
    generation: Option<u64>,
    /// Event ids seen; `None`: not looked yet.
    seen: Option<HashSet<String>>,
}

impl OperatorIncidents {
    /// The events not seen before, in the configuration of `generation`.
    pub fn look(&mut self, config: &Config, generation: u64, now: UnixTime) -> Vec<Event> {
        if self.generation == Some(generation) {
            return Vec::new();
        }
        self.generation = Some(generation);
        let first = self.seen.is_none();
        let seen = self.seen.get_or_insert_with(HashSet::new);
        let since = now - super::CATCH_UP_SECS;
        let mut out = Vec::new();
        for x in &config.incidents {
            for tenant in &x.tenants {
                let id = if x.tenants.len() == 1 { x.id.clone() } else { format!("{}:{tenant}", x.id) };
                let subject = |id: String| Subject::Incident {
                    id,
                    tenant: tenant.clone(),
                    cause: Cause::Unavailable,
                    start: x.start,
                    end: x.end,
                };
                let mut events = vec![Event::new(EventKind::IncidentOpened, x.start, subject(id.clone()))];
                // The text posted with the incident is part of its opening.
                for (n, u) in x.updates.iter().enumerate().filter(|(n, u)| *n > 0 || u.at > x.start) {
                    events.push(Event::new(EventKind::IncidentUpdated, u.at, subject(format!("{id}#{n}"))));
                }
                if let Some(end) = x.end {
                    events.push(Event::new(EventKind::IncidentResolved, end, subject(id.clone())));
                }
                for e in events {
                    if seen.insert(e.id.clone()) && (!first || e.at >= since) {
                        out.push(e);
                    }
                }
            }
        }
        out
    }
}
