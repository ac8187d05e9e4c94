//! `hiatus explain --config FILE --host HOST [--path PATH] [--at RFC3339] [--json]`.

use super::{local, rfc3339};
use crate::engine::{BuildOptions, Snapshot};
use crate::hosts::normalize_host;
use crate::schedule::State;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config: &Path, host: &str, path: &str, at: Option<&str>, json: bool) -> ExitCode {
    let now = match super::instant(at) {
        Ok(t) => t.timestamp(),
        Err(e) => {
            eprintln!("error: --at: {e}");
            return ExitCode::from(1);
        }
    };
    let loaded = match super::load(config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut buf = [0u8; 256];
    let Some(normal) = normalize_host(host, &mut buf).map(str::to_string) else {
        eprintln!("error: --host: {host:?} is not a valid host name");
        return ExitCode::from(1);
    };
    let snapshot = Snapshot::build(loaded.config, BuildOptions::around(now));
    let d = snapshot.decide(&normal, path, now);
    let tenant = snapshot.tenant(&d.route);
    let v = d.verdict;
    let window = v.window.and_then(|w| snapshot.window(w));
    if json {
        let out = serde_json::json!({
            "tenant": tenant.map(|t| t.id.as_str()),
            "state": if v.state == State::Maintenance { "maintenance" } else { "open" },
            "window": window.map(|w| w.id.as_str()),
            "until": v.until.and_then(rfc3339),
            "next_start": if v.state == State::Open { v.next_start.and_then(rfc3339) } else { None },
            "tentative": v.tentative,
        });
        say!("{out}");
        return ExitCode::SUCCESS;
    }
    let zone = tenant.map_or(snapshot.config.defaults.zone, |t| t.zone);
    let lang = tenant.map_or(snapshot.config.defaults.language, |t| t.language);
    let both = |t| format!("{} ({})", local(t, zone), rfc3339(t).unwrap_or_default());
    say!("host:     {normal}{path}");
    match tenant {
        Some(t) => say!("tenant:   {} ({})", t.id, t.display_name()),
        None => say!("tenant:   none (unknown host: never forwarded)"),
    }
    say!("at:       {}", both(now));
    match v.state {
        State::Maintenance => {
            let title = window.and_then(|w| w.title.get(lang, snapshot.config.defaults.language)).unwrap_or("");
            say!("state:    MAINTENANCE{}", if v.tentative { " (partly tentative)" } else { "" });
            if let Some(w) = window {
                say!("window:   {} {title}", w.id);
            }
            if let Some(s) = v.since {
                say!("since:    {}", both(s));
            }
            match v.until {
                Some(u) => say!("until:    {}", both(u)),
                None => say!("until:    open-ended (until switched off)"),
            }
            if let Some(f) = v.firm_until {
                say!("firm:     until {}, possibly longer", both(f));
            }
        }
        State::Open => {
            say!("state:    open");
            match (v.next_start, v.next_window.and_then(|w| snapshot.window(w))) {
                (Some(s), Some(w)) => {
                    say!("next:     {} — window {}{}", both(s), w.id, if v.tentative { " (tentative)" } else { "" })
                }
                _ => say!("next:     no maintenance planned"),
            }
        }
    }
    ExitCode::SUCCESS
}
