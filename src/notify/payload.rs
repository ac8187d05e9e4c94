//! What a chat or webhook target receives: the webhook's JSON (schema `hiatus.notify/1`,
//! README), a Slack-compatible `{"text": ...}`, a Teams Adaptive Card or a Discord message, in
//! the target's language. (E-mail's letters are `letter`'s; they share `sentence` and
//! [`headline`].)
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

pub(super) fn time(t: UnixTime) -> Value {
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
pub(super) fn language(config: &Config, target: &NotifyTarget) -> Language {
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
        TargetKind::Teams => teams(event, lang, &text),
        TargetKind::Discord => discord(event, lang, &text),
        // E-mail targets get letters (`letter::letters`), not a body of this module.
        TargetKind::Email => return None,
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
                Subject::Incident { id, tenant, cause, start, end } => {
                    v["incident"] = json!({
                        "id": id, "cause": cause.code(), "start": time(*start), "end": end.map(time),
                    });
                    if let Some(said) = operator_words(config, event.kind, id, tenant, lang) {
                        v["incident"]["title"] = said.title.into();
                        v["incident"]["text"] = said.text.into();
                    }
                }
            }
            v
        }
    };
    Some(value.to_string())
}

/// What an operator's incident says at one of its events, in a language.
#[derive(Debug)]
struct Said {
    title: String,
    /// The update the event is about (`ID#N`); at the opening the text posted with it; at the
    /// resolution the last one.
    text: Option<String>,
}

/// The words of the operator's incident (`[[incidents]]`) an event with subject `id` for
/// `tenant` is about (`notify::operator` names them `ID`, `ID:TENANT`, `…#N`); `None` for an
/// incident of the health checks.
fn operator_words(config: &Config, kind: EventKind, id: &str, tenant: &str, lang: Language) -> Option<Said> {
    let (base, update) = match id.split_once('#') {
        Some((base, n)) => (base, Some(n.parse::<usize>().ok()?)),
        None => (id, None),
    };
    let suffix = format!(":{tenant}");
    let x = config.incidents.iter().find(|x| {
        x.tenants.iter().any(|t| t == tenant) && (x.id == base || base.strip_suffix(&suffix) == Some(x.id.as_str()))
    })?;
    let fallback = config.defaults.language;
    let chosen = match (update, kind) {
        (Some(n), _) => x.updates.get(n),
        (None, EventKind::IncidentOpened) => x.updates.first().filter(|u| u.at <= x.start),
        (None, _) => x.updates.last(),
    };
    Some(Said {
        title: x.title.get(lang, fallback).unwrap_or(&x.id).to_string(),
        text: chosen.and_then(|u| u.text.get(lang, fallback)).map(str::to_string),
    })
}

/// A few words for a title: what kind of thing happened, in `lang`.
pub fn headline(kind: EventKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (EventKind::WindowAnnounced, Language::De) => "Geplante Wartung",
        (EventKind::WindowAnnounced, Language::Nb) => "Planlagt vedlikehold",
        (EventKind::WindowAnnounced, _) => "Planned maintenance",
        (EventKind::WindowStarted, Language::De) => "Wartung begonnen",
        (EventKind::WindowStarted, Language::Nb) => "Vedlikehold startet",
        (EventKind::WindowStarted, _) => "Maintenance started",
        (EventKind::WindowEnded, Language::De) => "Wartung beendet",
        (EventKind::WindowEnded, Language::Nb) => "Vedlikehold avsluttet",
        (EventKind::WindowEnded, _) => "Maintenance ended",
        (EventKind::EmergencyOn, Language::De) => "Notfallwartung",
        (EventKind::EmergencyOn, Language::Nb) => "Nødvedlikehold",
        (EventKind::EmergencyOn, _) => "Emergency maintenance",
        (EventKind::EmergencyOff, Language::De) => "Notfallwartung beendet",
        (EventKind::EmergencyOff, Language::Nb) => "Nødvedlikehold avsluttet",
        (EventKind::EmergencyOff, _) => "Emergency maintenance ended",
        (EventKind::IncidentOpened, Language::De) => "Störung",
        (EventKind::IncidentOpened, Language::Nb) => "Driftsavbrudd",
        (EventKind::IncidentOpened, _) => "Incident",
        (EventKind::IncidentUpdated, Language::De) => "Störung: neue Meldung",
        (EventKind::IncidentUpdated, Language::Nb) => "Driftsavbrudd: ny melding",
        (EventKind::IncidentUpdated, _) => "Incident update",
        (EventKind::IncidentResolved, Language::De) => "Störung behoben",
        (EventKind::IncidentResolved, Language::Nb) => "Driftsavbrudd løst",
        (EventKind::IncidentResolved, _) => "Incident resolved",
    }
}

/// Microsoft Teams (Workflows, "When a Teams webhook request is received"): a message with one
/// Adaptive Card, the only form those webhooks take (MessageCard went with the connectors).
fn teams(event: &Event, lang: Language, text: &str) -> Value {
    let colour = match event.severity() {
        crate::config::notify::Severity::Critical => "Attention",
        crate::config::notify::Severity::Warning => "Warning",
        crate::config::notify::Severity::Info => "Good",
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": headline(event.kind, lang), "weight": "Bolder",
                     "size": "Medium", "color": colour, "wrap": true},
                    {"type": "TextBlock", "text": text, "wrap": true},
                    {"type": "FactSet", "facts": [
                        {"title": "kind", "value": event.kind.name()},
                        {"title": "id", "value": event.id},
                    ]},
                ],
            },
        }],
    })
}

/// Discord's limits: `content` up to 2000 characters, an embed's description up to 4096.
const DISCORD_CONTENT: usize = 2000;

/// Discord: the sentence as `content` and an embed with the headline, coloured by severity.
/// `allowed_mentions` is empty: a window's title reaches no `@everyone`.
fn discord(event: &Event, lang: Language, text: &str) -> Value {
    let colour = match event.severity() {
        crate::config::notify::Severity::Critical => 0xD0_3030,
        crate::config::notify::Severity::Warning => 0xE0_A000,
        crate::config::notify::Severity::Info => 0x30_A050,
    };
    let content: String = text.chars().take(DISCORD_CONTENT).collect();
    json!({
        "content": content,
        "embeds": [{
            "title": headline(event.kind, lang),
            "description": content,
            "color": colour,
            "timestamp": time(event.at),
            "footer": {"text": event.id},
        }],
        "allowed_mentions": {"parse": []},
    })
}

/// One line a person reads.
pub(super) fn sentence(config: &Config, event: &Event, lang: Language, who: &[String]) -> String {
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
        Subject::Incident { id, tenant, .. } => match operator_words(config, event.kind, id, tenant, lang) {
            Some(Said { title, text: Some(text) }) => {
                format!("{}: {title} ({who}): {text}", headline(event.kind, lang))
            }
            Some(Said { title, text: None }) => format!("{}: {title} ({who})", headline(event.kind, lang)),
            None => health_sentence(event.kind, lang, &who),
        },
    }
}

/// An incident of the health checks in words: its tenants unavailable, or available again.
fn health_sentence(kind: EventKind, lang: Language, who: &str) -> String {
    match (kind, lang) {
        (EventKind::IncidentOpened, Language::De) => format!("Störung: {who} nicht erreichbar"),
        (EventKind::IncidentOpened, Language::Nb) => format!("Driftsavbrudd: {who} utilgjengelig"),
        (EventKind::IncidentOpened, _) => format!("Incident: {who} unavailable"),
        (EventKind::IncidentUpdated, Language::De) => format!("Störung: neue Meldung zu {who}"),
        (EventKind::IncidentUpdated, Language::Nb) => format!("Driftsavbrudd: ny melding om {who}"),
        (EventKind::IncidentUpdated, _) => format!("Incident update: {who}"),
        (_, Language::De) => format!("Störung behoben: {who} wieder erreichbar"),
        (_, Language::Nb) => format!("Driftsavbrudd løst: {who} tilgjengelig igjen"),
        (_, _) => format!("Resolved: {who} available again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Subject;

    fn event(kind: EventKind) -> Event {
        let subject =
            Subject::Window { id: "w".into(), start: 1_700_000_000, end: 1_700_003_600, lead: None, tenants: None };
        Event::new(kind, 1_700_000_000, subject)
    }

    #[test]
    fn teams_gets_one_adaptive_card() {
        let v = teams(&event(EventKind::EmergencyOn), Language::De, "Notfallwartung „x“");
        assert_eq!(v["type"], "message");
        let card = &v["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][0]["text"], "Notfallwartung");
        assert_eq!(card["content"]["body"][0]["color"], "Attention");
        assert_eq!(card["content"]["body"][1]["text"], "Notfallwartung „x“");
    }

    #[test]
    fn discord_content_is_cut_to_its_limit_and_mentions_nobody() {
        let long = "@everyone ".repeat(300);
        let v = discord(&event(EventKind::WindowStarted), Language::En, &long);
        assert_eq!(v["content"].as_str().map(|c| c.chars().count()), Some(DISCORD_CONTENT));
        assert_eq!(v["embeds"][0]["title"], "Maintenance started");
        assert_eq!(v["embeds"][0]["color"], 0xE0_A000);
        assert_eq!(v["embeds"][0]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn every_kind_has_a_headline_in_every_language() {
        for kind in EventKind::ALL {
            let words: Vec<&str> = Language::ALL.iter().map(|l| headline(kind, *l)).collect();
            assert!(words.iter().all(|w| !w.is_empty()));
            assert_ne!(words[0], words[1], "{kind:?} is translated");
        }
    }
}
