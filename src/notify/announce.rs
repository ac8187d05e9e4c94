//! Announcements: a window's next occurrence entering a lead time (`announce = ["7d", "1d"]`).
//!
//! Owns [`Announcer`], a pure function of `(configuration, leads, now)` with a memo of when to
//! look again: for each window, its next start within the longest lead; an occurrence is
//! announced at the shortest lead already entered (a gateway started 12 hours before a window
//! with leads 7d and 1d says "in a day", not both). Repeats are harmless: the event's id names
//! window, occurrence and lead, and the outbox sends an id to a target once.
//!
//! It does not notice starts and ends (`control::windows::WindowWatch` does).

use super::event::{Event, Subject};
use crate::config::model::{Config, Scope};
use crate::config::notify::EventKind;
use crate::schedule::UnixTime;

/// How long a look holds at most when nothing is due.
const LOOK_AT_LEAST_EVERY: i64 = 3600;

/// When to look again.
#[derive(Debug, Default)]
pub struct Announcer {
    generation: Option<u64>,
    next: UnixTime,
}

impl Announcer {
    /// Announcements due at `now` for `leads` (seconds, ascending).
    pub fn look(&mut self, config: &Config, generation: u64, leads: &[i64], now: UnixTime) -> Vec<Event> {
        let Some(&longest) = leads.last() else { return Vec::new() };
        if self.generation == Some(generation) && now < self.next {
            return Vec::new();
        }
        self.generation = Some(generation);
        let mut next = now.saturating_add(LOOK_AT_LEAST_EVERY);
        let mut events = Vec::new();
        let days = longest / 86_400 + 2;
        for (i, w) in config.windows.iter().enumerate() {
            // Strictly after now: a window starting now is a start, not an announcement.
            let Some(start) = w.schedule.first_start_at_or_after(i as u32, now + 1, days) else { continue };
            let mut end = start;
            w.schedule.expand(i as u32, start, start + 1, |_, e| {
                if let crate::schedule::Expanded::Kept(o) = e {
                    if o.start == start {
                        end = end.max(o.end);
                    }
                }
            });
            // The shortest lead already entered; the next lead to enter is a time to look again.
            if let Some(&lead) = leads.iter().find(|&&l| start - l <= now) {
                let tenants = match &w.scope {
                    Scope::All => None,
                    Scope::Some { tenants, .. } => Some(tenants.clone()),
                };
                let subject = Subject::Window { id: w.id.clone(), start, end, lead: Some(lead), tenants };
                events.push(Event::new(EventKind::WindowAnnounced, start - lead, subject));
            }
            for &l in leads {
                if start - l > now {
                    next = next.min(start - l);
                }
            }
            next = next.min(start);
        }
        self.next = next;
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_740_787_200; // 2025-03-01T00:00:00Z
    const DAY: i64 = 86_400;

    fn config() -> Config {
        let text = "[defaults]\nzone = \"UTC\"\n\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\n\
                    [[windows]]\nid = \"upgrade\"\nscope = { tenants = [\"a\"] }\nonce = { start = \"2025-03-10T02:00\", end = \"2025-03-10T04:00\" }\n";
        crate::config::load_str(text, "announce-test.toml", std::path::Path::new("."))
            .unwrap_or_else(|r| panic!("{r}"))
            .config
    }

    fn leads(events: &[Event]) -> Vec<Option<i64>> {
        events
            .iter()
            .map(|e| match &e.subject {
                Subject::Window { lead, .. } => *lead,
                Subject::Incident { .. } => None,
            })
            .collect()
    }

    #[test]
    fn each_lead_is_announced_when_entered_and_the_shortest_one_late() {
        let c = config();
        let start = T0 + 9 * DAY + 2 * 3600;
        let mut a = Announcer::default();
        assert!(a.look(&c, 1, &[DAY, 7 * DAY], T0).is_empty(), "nine days ahead");
        assert_eq!(a.next, T0 + 3600, "at least hourly");
        let mut a = Announcer::default();
        let seven = a.look(&c, 1, &[DAY, 7 * DAY], start - 7 * DAY);
        assert_eq!(leads(&seven), [Some(7 * DAY)]);
        assert_eq!(seven[0].at, start - 7 * DAY);
        match &seven[0].subject {
            Subject::Window { end, tenants, .. } => {
                assert_eq!(*end, start + 2 * 3600);
                assert_eq!(tenants.as_deref(), Some(&["a".to_string()][..]));
            }
            Subject::Incident { .. } => panic!("a window"),
        }
        assert!(a.look(&c, 1, &[DAY, 7 * DAY], start - 7 * DAY + 5).is_empty(), "not due again");
        assert_eq!(leads(&a.look(&c, 1, &[DAY, 7 * DAY], start - DAY)), [Some(DAY)]);
        // Started 12 hours before: only the day's announcement.
        let mut late = Announcer::default();
        assert_eq!(leads(&late.look(&c, 1, &[DAY, 7 * DAY], start - 12 * 3600)), [Some(DAY)]);
        // Once it started, nothing is announced.
        assert!(Announcer::default().look(&c, 1, &[DAY], start).is_empty());
        assert!(Announcer::default().look(&c, 1, &[], start - DAY).is_empty(), "no leads, no announcements");
    }
}
