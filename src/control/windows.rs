//! Which windows are in force, looked at on the ticker: a window that starts or ends says so
//! once in the log, with its scope; a window of the emergency file is an emergency switched on
//! or off.
//!
//! Owns [`WindowWatch`], a pure state machine over `(configuration, generation, now)`: the
//! ticker hands it the configuration in force and the coarse clock's `now`, and logs the
//! [`Event`]s it returns. It looks again only when something can have changed (the next
//! start or end it computed, or a new generation), so a tick costs a comparison.
//!
//! It does not decide requests (the engine's timelines do, per request) and keeps no history
//! (incidents and the status page do).

use super::reload::same_file;
use crate::config::model::{Config, Scope};
use crate::schedule::{Expanded, UnixTime, OPEN_END};
use std::collections::HashMap;

/// What started or ended since the last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// In force from now (or, at the first look, already in force) until `end`; `start` is the
    /// occurrence's start (notifications name the occurrence by it).
    Started { window: String, scope: String, start: UnixTime, end: UnixTime, emergency: bool, first_look: bool },
    /// No longer in force: its occurrence (which started at `start`) ended, it was switched off
    /// or removed.
    Ended { window: String, scope: String, start: UnixTime, emergency: bool },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Started { window, scope, end, emergency, first_look, .. } => {
                let until = match crate::schedule::occurrence::from_unix(*end) {
                    Some(t) if *end != OPEN_END => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    _ => "further notice".to_string(),
                };
                match (emergency, first_look) {
                    (true, _) => write!(f, "emergency on: window {window} for {scope}, until {until}"),
                    (false, true) => write!(f, "window {window} in force for {scope}, until {until}"),
                    (false, false) => write!(f, "window {window} started for {scope}, until {until}"),
                }
            }
            Event::Ended { window, scope, emergency: true, .. } => {
                write!(f, "emergency off: window {window} for {scope}")
            }
            Event::Ended { window, scope, emergency: false, .. } => write!(f, "window {window} ended for {scope}"),
        }
    }
}

/// A window in force, as it was when it started (a reload may remove it).
#[derive(Debug, Clone)]
struct Active {
    scope: String,
    start: UnixTime,
    emergency: bool,
}

/// How long a look holds at most when nothing is due: a window far ahead is looked for again.
const LOOK_AT_LEAST_EVERY: i64 = 3600;

/// The windows in force at the last look, by id.
#[derive(Debug, Default)]
pub struct WindowWatch {
    active: HashMap<String, Active>,
    /// The generation of the last look (`None`: never looked).
    generation: Option<u64>,
    /// The next instant at which a window starts or ends.
    next: UnixTime,
    /// The index of the emergency file in the configuration's sources, per generation.
    emergency_source: Option<usize>,
}

impl WindowWatch {
    /// What started or ended since the last look.
    pub fn look(&mut self, config: &Config, generation: u64, now: UnixTime) -> Vec<Event> {
        let first_look = self.generation.is_none();
        let new_generation = self.generation != Some(generation);
        if !new_generation && now < self.next {
            return Vec::new();
        }
        if new_generation {
            self.emergency_source = config
                .gateway
                .emergency_file
                .as_deref()
                .and_then(|f| config.sources.iter().position(|s| same_file(s, f)));
        }
        self.generation = Some(generation);
        let mut next = now.saturating_add(LOOK_AT_LEAST_EVERY);
        // Per window in force: its occurrence's (start, end).
        let mut in_force: HashMap<&str, (UnixTime, UnixTime)> = HashMap::new();
        for (i, w) in config.windows.iter().enumerate() {
            let mut span: Option<(UnixTime, UnixTime)> = None;
            w.schedule.expand(i as u32, now, now + 1, |_, e| {
                if let Expanded::Kept(o) = e {
                    if o.contains(now) && span.is_none_or(|(_, end)| o.end > end) {
                        span = Some((o.start, o.end));
                    }
                }
            });
            match span {
                Some((start, end)) => {
                    in_force.insert(&w.id, (start, end));
                    next = next.min(end);
                }
                // A day ahead is enough: the look after next comes within the hour anyway.
                None => {
                    if let Some(start) = w.schedule.first_start_at_or_after(i as u32, now, 1) {
                        next = next.min(start);
                    }
                }
            }
        }
        self.next = next;
        let mut events = Vec::new();
        // Ended: in force before, not now (its occurrence is over, or a reload removed it).
        let mut gone: Vec<&String> = self.active.keys().filter(|id| !in_force.contains_key(id.as_str())).collect();
        gone.sort();
        for id in gone {
            if let Some(a) = self.active.get(id) {
                events.push(Event::Ended {
                    window: id.clone(),
                    scope: a.scope.clone(),
                    start: a.start,
                    emergency: a.emergency,
                });
            }
        }
        self.active.retain(|id, _| in_force.contains_key(id.as_str()));
        for w in &config.windows {
            let Some(&(start, end)) = in_force.get(w.id.as_str()) else { continue };
            if self.active.contains_key(&w.id) {
                continue;
            }
            let active =
                Active { scope: describe(&w.scope), start, emergency: Some(w.source) == self.emergency_source };
            events.push(Event::Started {
                window: w.id.clone(),
                scope: active.scope.clone(),
                start,
                end,
                emergency: active.emergency,
                first_look,
            });
            self.active.insert(w.id.clone(), active);
        }
        events
    }
}

/// A scope in words: `all tenants`, `tenants a, b; hosts *.x.test`.
pub fn describe(scope: &Scope) -> String {
    match scope {
        Scope::All => "all tenants".to_string(),
        Scope::Some { tenants, hosts } => {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            let parts =
                [("tenants", crate::config::diff::shown(tenants)), ("hosts", crate::config::diff::shown(&hosts))];
            let parts: Vec<String> = parts
                .iter()
                .filter(|(_, list)| !list.is_empty())
                .map(|(what, list)| format!("{what} {list}"))
                .collect();
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_740_787_200; // 2025-03-01T00:00:00Z

    fn config(windows: &str) -> Config {
        let text = format!(
            "[defaults]\nzone = \"UTC\"\n\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\n{windows}"
        );
        crate::config::load_str(&text, "windows-test.toml", std::path::Path::new("."))
            .unwrap_or_else(|r| panic!("{r}"))
            .config
    }

    const NIGHT: &str = "[[windows]]\nid = \"night\"\nscope = { tenants = [\"a\"], hosts = [\"*.b.test\"] }\n\
                         daily = { at = \"02:00\", until = \"03:00\" }\n\n";
    const ALWAYS_NOON: &str =
        "[[windows]]\nid = \"noon\"\nscope = \"all\"\ndaily = { at = \"12:00\", until = \"13:00\" }\n\n";

    fn texts(events: &[Event]) -> Vec<String> {
        events.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_start_and_end_is_said_once_with_its_scope() {
        let c = config(&[NIGHT, ALWAYS_NOON].concat());
        let mut w = WindowWatch::default();
        assert!(w.look(&c, 1, T0).is_empty(), "nothing in force at midnight");
        assert!(w.look(&c, 1, T0 + 3600).is_empty());
        let started = w.look(&c, 1, T0 + 2 * 3600);
        assert_eq!(texts(&started), ["window night started for tenants a; hosts *.b.test, until 2025-03-01T03:00:00Z"]);
        assert!(w.look(&c, 1, T0 + 2 * 3600 + 1).is_empty(), "once");
        assert!(w.look(&c, 1, T0 + 2 * 3600 + 1800).is_empty(), "once");
        assert_eq!(texts(&w.look(&c, 1, T0 + 3 * 3600)), ["window night ended for tenants a; hosts *.b.test"]);
        assert!(w.look(&c, 1, T0 + 3 * 3600 + 5).is_empty());
        assert_eq!(
            texts(&w.look(&c, 1, T0 + 12 * 3600 + 30)),
            ["window noon started for all tenants, until 2025-03-01T13:00:00Z"]
        );
    }

    #[test]
    fn a_window_in_force_at_the_first_look_or_removed_by_a_reload_is_said_so() {
        let both = config(&[NIGHT, ALWAYS_NOON].concat());
        let mut w = WindowWatch::default();
        let at = T0 + 12 * 3600 + 60;
        assert_eq!(texts(&w.look(&both, 1, at)), ["window noon in force for all tenants, until 2025-03-01T13:00:00Z"]);
        // A reload removes it: it ends now, said once, however early.
        let without = config(NIGHT);
        assert_eq!(texts(&w.look(&without, 2, at + 1)), ["window noon ended for all tenants"]);
        assert!(w.look(&without, 2, at + 2).is_empty());
    }

    #[test]
    fn a_window_of_the_emergency_file_is_an_emergency_on_and_off() {
        let dir = std::env::temp_dir().join(format!("hiatus-windows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let main = dir.join("hiatus.toml");
        std::fs::write(
            &main,
            "include = [\"emergency.toml\"]\n[defaults]\nzone = \"UTC\"\n\n[gateway]\nemergency_file = \"emergency.toml\"\n\n\
             [[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n\n",
        )
        .expect("write");
        let switch = |end: &str| {
            let text = format!("[[windows]]\nid = \"outage\"\nscope = {{ tenants = [\"a\"] }}\nonce = {{ start = \"2025-03-01T09:00\"{end} }}\n");
            std::fs::write(dir.join("emergency.toml"), text).expect("write");
            crate::config::load(&main).unwrap_or_else(|r| panic!("{r}")).config
        };
        let mut w = WindowWatch::default();
        let at = T0 + 9 * 3600 + 30;
        let on = w.look(&switch(""), 1, at);
        assert_eq!(texts(&on), ["emergency on: window outage for tenants a, until further notice"]);
        // Switched off ten seconds ahead (`hiatus emergency off` sets `end`): on until then.
        let off = switch(", end = \"2025-03-01T09:00:40\"");
        assert!(w.look(&off, 2, at + 1).is_empty(), "still on until its end");
        assert_eq!(texts(&w.look(&off, 2, T0 + 9 * 3600 + 40)), ["emergency off: window outage for tenants a"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_looks_between_changes_are_skipped() {
        let c = config(NIGHT);
        let mut w = WindowWatch::default();
        w.look(&c, 1, T0);
        assert_eq!(w.next, T0 + 3600, "at least hourly");
        w.look(&c, 1, T0 + 3600);
        assert_eq!(w.next, T0 + 2 * 3600, "the next start");
        w.look(&c, 1, T0 + 2 * 3600);
        assert_eq!(w.next, T0 + 3 * 3600, "the end");
    }
}
