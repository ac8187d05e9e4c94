//! What a target receives: the webhook's JSON (schema `hiatus.notify/1`, README) or a
//! Slack-compatible `{"text": ...}`, in the target's language.
//!
//! Owns the payload shapes and the sentences. Window titles come from the configuration (the
//! same texts the pages show); the sentence around them is here, per language. An incident says
//! its public cause only, never its detail (an upstream's address or error). Tenants are named
//! only as far as the target may know them (`Event::tenants_for`).

use super::event::{Event, Subject};
use crate::config::model::{Config, Language};
use crate::config::notify::{EventKind, NotifyTarget, TargetKind};
use crate::schedule::{UnixTime, OPEN_END};
use serde_json::{json, Value};

pub const SCHEMA: &str = "hiatus.notify/1";

fn time(t: UnixTime) -> Value {
    match crate::schedule::occurrence::from_unix(t) {
        Some(d) if t != OPEN_END => Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        _ => Value::Null,
    }
}

fn lead_text(secs: i64) -> String {
    if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs / 60)
    }
}

/// The target's language: its own, else its only tenant's, else the configuration's default.
fn language(config: &Config, target: &NotifyTarget) -> Language {
    if let Some(l) = target.language {
        return l;
    }
    match target.tenants.as_deref() {
        Some([one]) => config.tenants.iter().find(|t| &t.id == one).map_or(config.defaults.language, |t| t.language),
        _ => config.defaults.language,
    }
}

/// The body for `target`, or `None` when the event is none of its business.
pub fn body(config: &Config, target: &NotifyTarget, event: &Event) -> Option<String> {
    let tenants = event.tenants_for(target.tenants.as_deref())?;
    let lang = language(config, target);
    let names: Vec<Value> = tenants
        .iter()
        .flatten()
        .map(|id| {
            let name = config.tenants.iter().find(|t| &t.id == id).map_or(id.as_str(), |t| t.display_name());
            json!({"id": id, "name": name})
        })
        .collect();
    let who: Vec<String> =
        names.iter().filter_map(|n| n.get("name").and_then(Value::as_str).map(str::to_string)).collect();
    let text = sentence(config, event, lang, &who);
    let value = match target.kind {
        TargetKind::Slack => json!({ "text": text }),
        TargetKind::Webhook => {
            let mut v = json!({
                "schema": SCHEMA,
                "id": event.id,
                "kind": event.kind.name(),
                "severity": event.severity().name(),
                "at": time(event.at),
                "tenants": if tenants.is_some() { Value::Array(names) } else { Value::String("all".into()) },
                "language": lang.code(),
                "text": text,
            });
            match &event.subject {
                Subject::Window { id, start, end, lead, .. } => {
                    let w = config.windows.iter().find(|w| &w.id == id);
                    let title = w.and_then(|w| w.title.get(lang, config.defaults.language));
                    let reason = w.and_then(|w| w.reason.get(lang, config.defaults.language));
                    v["window"] = json!({
                        "id": id, "title": title, "reason": reason, "start": time(*start), "end": time(*end),
                        "lead": lead.map(lead_text),
                    });
                }
                Subject::Incident { id, cause, start, end, .. } => {
                    v["incident"] = json!({
                        "id": id, "cause": cause.code(), "start": time(*start), "end": end.map(time),
                    });
                }
            }
            v
        }
    };
    Some(value.to_string())
}

/// One line a person reads.
fn sentence(config: &Config, event: &Event, lang: Language, who: &[String]) -> String {
    let who = if who.is_empty() {
        match lang {
            Language::De => "alle Dienste".to_string(),
            Language::En => "all services".to_string(),
            Language::Nb => "alle tjenester".to_string(),
        }
    } else {
        who.join(", ")
    };
    let at = |t: UnixTime| time(t).as_str().map_or_else(|| "?".to_string(), str::to_string);
    match &event.subject {
        Subject::Window { id, start, end, .. } => {
            let title = config
                .windows
                .iter()
                .find(|w| &w.id == id)
                .and_then(|w| w.title.get(lang, config.defaults.language))
                .unwrap_or(id)
                .to_string();
            let until = if *end == OPEN_END { "…".to_string() } else { at(*end) };
            match (event.kind, lang) {
                (EventKind::WindowAnnounced, Language::De) => {
                    format!("Geplante Wartung „{title}“ für {who}: {} bis {until}", at(*start))
                }
                (EventKind::WindowAnnounced, Language::Nb) => {
                    format!("Planlagt vedlikehold «{title}» for {who}: {} til {until}", at(*start))
                }
                (EventKind::WindowAnnounced, _) => {
                    format!("Planned maintenance \"{title}\" for {who}: {} to {until}", at(*start))
                }
                (EventKind::WindowStarted, Language::De) => {
                    format!("Wartung „{title}“ für {who} hat begonnen, bis {until}")
                }
                (EventKind::WindowStarted, Language::Nb) => {
                    format!("Vedlikehold «{title}» for {who} har startet, til {until}")
                }
                (EventKind::WindowStarted, _) => {
                    format!("Maintenance \"{title}\" for {who} has started, until {until}")
                }
                (EventKind::EmergencyOn, Language::De) => format!("Notfallwartung „{title}“ für {who}"),
                (EventKind::EmergencyOn, Language::Nb) => format!("Nødvedlikehold «{title}» for {who}"),
                (EventKind::EmergencyOn, _) => format!("Emergency maintenance \"{title}\" for {who}"),
                (_, Language::De) => format!("Wartung „{title}“ für {who} ist beendet"),
                (_, Language::Nb) => format!("Vedlikehold «{title}» for {who} er avsluttet"),
                (_, _) => format!("Maintenance \"{title}\" for {who} has ended"),
            }
        }
        Subject::Incident { .. } => match (event.kind, lang) {
            (EventKind::IncidentOpened, Language::De) => format!("Störung: {who} nicht erreichbar"),
            (EventKind::IncidentOpened, Language::Nb) => format!("Driftsavbrudd: {who} utilgjengelig"),
            (EventKind::IncidentOpened, _) => format!("Incident: {who} unavailable"),
            (EventKind::IncidentUpdated, Language::De) => format!("Störung: neue Meldung zu {who}"),
            (EventKind::IncidentUpdated, Language::Nb) => format!("Driftsavbrudd: ny melding om {who}"),
            (EventKind::IncidentUpdated, _) => format!("Incident update: {who}"),
            (_, Language::De) => format!("Störung behoben: {who} wieder erreichbar"),
            (_, Language::Nb) => format!("Driftsavbrudd løst: {who} tilgjengelig igjen"),
            (_, _) => format!("Resolved: {who} available again"),
        },
    }
}
