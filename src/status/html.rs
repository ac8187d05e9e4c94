//! The status page in HTML: the template `status.html` (overridable like the other pages)
//! filled from a [`Status`], in the reader's language, with no external assets (styles inline)
//! and a refresh every minute. Tenants appear by their public name, causes in words; an
//! overriding template gets nothing else to show (the view has no ids, no details).

use super::{Entry, Impact, Overall, Status};
use crate::config::Language;
use crate::pages::{local_time, Pages};
use crate::schedule::UnixTime;
use chrono_tz::Tz;
use serde_json::{json, Value};

/// The page's own words (the maintenance pages' words live in `pages::strings`).
fn words(lang: Language) -> Value {
    match lang {
        Language::De => json!({
            "title": "Systemstatus", "operational": "Alle Systeme betriebsbereit", "maintenance": "Wartungsarbeiten laufen",
            "disruption": "Störung", "partial": "Teilweise Störung", "state_operational": "Betriebsbereit", "state_maintenance": "Wartung",
            "state_disruption": "Störung", "active": "Laufende Wartungen", "upcoming": "Geplante Wartungen (14 Tage)",
            "history": "Verlauf (30 Tage)", "incidents": "Störungen", "until": "bis", "since": "seit",
            "open_ended": "Ende offen", "more": "weitere Termine", "everyone": "alle Dienste", "nothing": "Keine.",
            "next": "Nächste Wartung", "tentative": "möglich", "calendar": "Kalender abonnieren (iCal)",
            "feed": "Meldungen abonnieren (Atom)", "json": "Maschinenlesbar (JSON)", "updated": "Stand",
            "services": "Dienste", "notice": "Hinweis",
        }),
        Language::En => json!({
            "title": "System status", "operational": "All systems operational", "maintenance": "Maintenance in progress",
            "disruption": "Major disruption", "partial": "Partial disruption", "state_operational": "Operational", "state_maintenance": "Maintenance",
            "state_disruption": "Disruption", "active": "Maintenance in progress", "upcoming": "Planned maintenance (14 days)",
            "history": "History (30 days)", "incidents": "Incidents", "until": "until", "since": "since",
            "open_ended": "end not known yet", "more": "more dates", "everyone": "all services", "nothing": "None.",
            "next": "Next maintenance", "tentative": "possible", "calendar": "Subscribe to the calendar (iCal)",
            "feed": "Subscribe to announcements (Atom)", "json": "Machine-readable (JSON)", "updated": "As of",
            "services": "Services", "notice": "Notice",
        }),
        Language::Nb => json!({
            "title": "Systemstatus", "operational": "Alle systemer i drift", "maintenance": "Vedlikehold pågår",
            "disruption": "Driftsforstyrrelse", "partial": "Delvis driftsforstyrrelse", "state_operational": "I drift", "state_maintenance": "Vedlikehold",
            "state_disruption": "Forstyrrelse", "active": "Pågående vedlikehold", "upcoming": "Planlagt vedlikehold (14 dager)",
            "history": "Historikk (30 dager)", "incidents": "Driftsforstyrrelser", "until": "til", "since": "siden",
            "open_ended": "slutt ikke kjent ennå", "more": "flere datoer", "everyone": "alle tjenester", "nothing": "Ingen.",
            "next": "Neste vedlikehold", "tentative": "mulig", "calendar": "Abonner på kalenderen (iCal)",
            "feed": "Abonner på meldinger (Atom)", "json": "Maskinlesbar (JSON)", "updated": "Per",
            "services": "Tjenester", "notice": "Merknad",
        }),
    }
}

fn when(t: Option<UnixTime>, zone: Tz, lang: Language) -> Option<String> {
    t.map(|t| local_time(t, zone, lang))
}

fn entry(e: &Entry, lang: Language, everyone: &str) -> Value {
    json!({
        "title": e.title, "reason": e.reason,
        "affects": if e.affects == "*" { everyone.to_string() } else { e.affects.clone() },
        "start": local_time(e.start, e.zone, lang), "end": when(e.end, e.zone, lang),
        "tentative": e.tentative, "more": e.more,
    })
}

/// Renders the page; `base` is the status path (links to the feeds hang below it).
pub fn render(pages: &Pages, status: &Status, lang: Language, base: &str) -> Result<String, crate::pages::PageError> {
    let w = words(lang);
    let everyone = w["everyone"].as_str().unwrap_or("*").to_string();
    // The banner's severity follows the share of tenants disrupted: one of several is partial.
    let overall = match (status.overall, status.impact) {
        (Overall::Operational, _) => "operational",
        (Overall::Maintenance, _) => "maintenance",
        (Overall::Disruption, Impact::Major | Impact::None) => "disruption",
        (Overall::Disruption, Impact::Partial) => "partial",
    };
    let tenants: Vec<Value> = status
        .tenants
        .iter()
        .map(|t| {
            let state = match t.state {
                Overall::Operational => "operational",
                Overall::Maintenance => "maintenance",
                Overall::Disruption => "disruption",
            };
            json!({
                "name": t.name, "state": state, "window": t.window, "cause": t.cause.map(|c| status.cause_words(c)),
                "until": when(t.until, t.zone, lang), "since": when(t.since, t.zone, lang),
                "next": when(t.next_start, t.zone, lang),
            })
        })
        .collect();
    let view = json!({
        "lang": lang.code(), "w": w, "overall": overall,
        "updated": local_time(status.now, status.zone, lang),
        "tenants": tenants,
        "active": status.active.iter().map(|e| entry(e, lang, &everyone)).collect::<Vec<_>>(),
        "upcoming": status.upcoming.iter().map(|e| entry(e, lang, &everyone)).collect::<Vec<_>>(),
        "history": status.history.iter().map(|e| entry(e, lang, &everyone)).collect::<Vec<_>>(),
        "incidents": status.incidents.iter().map(|i| json!({
            "tenant": i.name,
            "cause": i.title.clone().unwrap_or_else(|| status.cause_words(i.cause).to_string()),
            "text": i.text,
            "notice": i.notice,
            "start": local_time(i.start, status.zone, lang), "end": when(i.end, status.zone, lang),
        })).collect::<Vec<_>>(),
        "base": base,
    });
    pages.render("status.html", &view)
}
