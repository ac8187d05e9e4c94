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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_740_787_200; // 2025-03-01T00:00:00Z

    /// Tenants `a` and `b`, and the `[[incidents]]` given.
    fn config(incidents: &str) -> Config {
        let text = format!(
            "[defaults]\nzone = \"UTC\"\n\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\n\
             [[tenants]]\nid = \"b\"\nhosts = [\"b.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\n{incidents}"
        );
        crate::config::load_str(&text, "operator-test.toml", std::path::Path::new("."))
            .unwrap_or_else(|r| panic!("{r}"))
            .config
    }

    fn told(events: &[Event]) -> Vec<(&'static str, String)> {
        events
            .iter()
            .map(|e| match &e.subject {
                Subject::Incident { id, .. } => (e.kind.name(), id.clone()),
                Subject::Window { id, .. } => (e.kind.name(), id.clone()),
            })
            .collect()
    }

    const OPENED: &str = "[[incidents]]\nid = \"db\"\nseverity = \"critical\"\ntenants = [\"a\", \"b\"]\n\
                          start = \"2025-03-01T00:00:00Z\"\ntitle = { en = \"DB\" }\n\
                          updates = [{ at = \"2025-03-01T00:00:00Z\", text = { en = \"Restoring\" } }]\n";

    /// Slack and webhook targets hear the incident's title and the step's text in their language.
    #[test]
    fn payloads_carry_the_title_and_the_steps_text_in_the_targets_language() {
        let text = "[[incidents]]\nid = \"db\"\nseverity = \"critical\"\ntenants = [\"a\"]\n\
                    start = \"2025-03-01T00:00:00Z\"\ntitle = { en = \"DB\", de = \"Datenbank\" }\n\
                    updates = [{ at = \"2025-03-01T00:00:00Z\", text = { en = \"Restoring\", de = \"Wird repariert\" } },\n\
                    { at = \"2025-03-01T00:05:00Z\", text = { en = \"Half\", de = \"Halb\" } }]\n\n\
                    [[notify]]\nid = \"chat\"\ntype = \"slack\"\nurl = \"http://127.0.0.1:1/x\"\nlanguage = \"de\"\n\n\
                    [[notify]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/y\"\nlanguage = \"en\"\n";
        let config = config(text);
        let events = OperatorIncidents::default().look(&config, 1, T0 + 600);
        assert_eq!(told(&events), [("incident.opened", "db".into()), ("incident.updated", "db#1".into())]);
        let body = |target: usize, event: usize| -> serde_json::Value {
            let text = crate::notify::payload::body(&config, &config.notify[target], &events[event]).expect("a body");
            serde_json::from_str(&text).expect("json")
        };
        assert_eq!(body(0, 0)["text"], "Störung: Datenbank (a): Wird repariert");
        assert_eq!(body(0, 1)["text"], "Störung: neue Meldung: Datenbank (a): Halb");
        let hook = body(1, 1);
        assert_eq!((hook["incident"]["title"].as_str(), hook["incident"]["text"].as_str()), (Some("DB"), Some("Half")));
    }

    #[test]
    fn each_step_once_per_tenant_and_nothing_twice() {
        let mut o = OperatorIncidents::default();
        let opened = o.look(&config(OPENED), 1, T0 + 60);
        assert_eq!(told(&opened), [("incident.opened", "db:a".into()), ("incident.opened", "db:b".into())]);
        assert!(o.look(&config(OPENED), 1, T0 + 120).is_empty(), "the same generation is not looked at again");
        assert!(o.look(&config(OPENED), 2, T0 + 120).is_empty(), "a reload tells nothing new");

        let updated = OPENED.replace(
            "text = { en = \"Restoring\" } }]",
            "text = { en = \"Restoring\" } }, { at = \"2025-03-01T00:05:00Z\", text = { en = \"Half\" } }]\n\
             end = \"2025-03-01T00:10:00Z\"",
        );
        let later = o.look(&config(&updated), 3, T0 + 700);
        assert_eq!(
            told(&later),
            [
                ("incident.updated", "db:a#1".into()),
                ("incident.resolved", "db:a".into()),
                ("incident.updated", "db:b#1".into()),
                ("incident.resolved", "db:b".into())
            ]
        );
        let ids: HashSet<&str> = opened.iter().chain(&later).map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 6, "every event has an id of its own");
    }

    #[test]
    fn at_start_only_what_is_recent_is_told() {
        let mut o = OperatorIncidents::default();
        assert!(o.look(&config(OPENED), 1, T0 + 2 * super::super::CATCH_UP_SECS).is_empty());
        assert_eq!(OperatorIncidents::default().look(&config(OPENED), 1, T0 + 60).len(), 2);
    }
}
