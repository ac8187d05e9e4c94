//! What an e-mail target receives: letters, each a whole RFC 5322 message with its envelope,
//! made when the event is queued so that every attempt sends the same bytes (the same
//! `Message-ID` and `Date`: receivers drop a repeat).
//!
//! Owns who gets which letter and in which language: `to` gets one letter per event in the
//! target's language, naming every tenant it may know of; each tenant's `subscribers` get one
//! letter per event in that tenant's language, naming only that tenant, with the addresses on
//! the envelope only — a subscriber learns of no other tenant and no other subscriber. Texts
//! come from the templates `mail-subject.txt`, `mail.txt` and `mail.html` (built in from
//! `pages/`, overridden like pages: the gateway's `pages` folder for `to`, the tenant's for its
//! subscribers). Sending the letters is `smtp`'s job.

use super::event::{Event, Subject};
use super::payload::{headline, language, sentence};
use crate::compiled::Compiled;
use crate::config::mail::MailSettings;
use crate::config::model::Language;
use crate::config::notify::NotifyTarget;
use crate::pages::mail::mail_words;
use crate::pages::{local_time, Pages};
use crate::schedule::OPEN_END;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use serde::{Deserialize, Serialize};
use std::time::{Duration, UNIX_EPOCH};

/// A letter as the outbox keeps it: envelope and the message's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub from: String,
    pub to: Vec<String>,
    pub message: String,
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct View<'a> {
    lang: &'static str,
    headline: &'static str,
    who: String,
    text: String,
    title: Option<&'a str>,
    reason: Option<&'a str>,
    start: Option<String>,
    end: Option<String>,
    /// The footer of a subscriber letter (why it came); `None` for `to`.
    why: Option<String>,
    unsubscribe: Option<String>,
    w: &'static crate::pages::mail::MailWords,
}

/// The letters of `event` for an e-mail target, each with its outbox id: the event's id for
/// the `to` letter, `<event id>.<tenant id>` for a tenant's subscribers.
pub fn letters(compiled: &Compiled, target: &NotifyTarget, event: &Event, now_ms: i64) -> Vec<(String, String)> {
    let Some(mail) = &target.mail else { return Vec::new() };
    let config = compiled.config();
    let Some(tenants) = event.tenants_for(target.tenants.as_deref()) else { return Vec::new() };
    let mut out = Vec::new();
    let name = |id: &str| config.tenants.iter().find(|t| t.id == id).map_or(id, |t| t.display_name()).to_string();
    if !mail.to.is_empty() {
        let who: Vec<String> = tenants.iter().flatten().map(|id| name(id)).collect();
        let lang = language(config, target);
        let zone = match tenants.as_deref() {
            Some([one]) => config.tenants.iter().find(|t| &t.id == one).map_or(config.defaults.zone, |t| t.zone),
            _ => config.defaults.zone,
        };
        let part = Part { lang, zone, who: &who, tenant: None };
        match letter(compiled, &compiled.pages, mail, event, &part, &mail.to, &event.id, now_ms) {
            Ok(l) => out.push((event.id.clone(), l)),
            Err(e) => log::error!("notify: target {}: event {}: no letter for `to`: {e}", target.id, event.id),
        }
    }
    for (tenant_id, list) in &mail.subscribers {
        let concerned = match &tenants {
            None => true,
            Some(t) => t.contains(tenant_id),
        };
        let Some((index, tenant)) = config.tenants.iter().enumerate().find(|(_, t)| &t.id == tenant_id) else {
            continue;
        };
        if !concerned || list.is_empty() {
            continue;
        }
        let pages = compiled.tenants.get(index).map_or(&compiled.pages, |t| &t.pages);
        let who = [tenant.display_name().to_string()];
        let part = Part { lang: tenant.language, zone: tenant.zone, who: &who, tenant: Some(tenant_id) };
        let id = format!("{}.{tenant_id}", event.id);
        match letter(compiled, pages, mail, event, &part, list, &id, now_ms) {
            Ok(l) => out.push((id, l)),
            Err(e) => log::error!("notify: target {}: event {}: no letter for {tenant_id}: {e}", target.id, event.id),
        }
    }
    out
}

/// Who a letter is for: its language and zone, the tenants it names, and the tenant whose
/// subscribers get it (`None`: the target's `to`).
struct Part<'a> {
    lang: Language,
    zone: chrono_tz::Tz,
    who: &'a [String],
    tenant: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
fn letter(
    compiled: &Compiled,
    pages: &Pages,
    mail: &MailSettings,
    event: &Event,
    part: &Part<'_>,
    recipients: &[String],
    id: &str,
    now_ms: i64,
) -> Result<String, String> {
    let config = compiled.config();
    let lang = part.lang;
    let words = mail_words(lang);
    let (title, reason, start, end) = match &event.subject {
        Subject::Window { id, start, end, .. } => {
            let w = config.windows.iter().find(|w| &w.id == id);
            (
                w.and_then(|w| w.title.get(lang, config.defaults.language)),
                w.and_then(|w| w.reason.get(lang, config.defaults.language)),
                local_time(*start, part.zone, lang),
                (*end != OPEN_END).then(|| local_time(*end, part.zone, lang)),
            )
        }
        Subject::Incident { start, end, .. } => {
            (None, None, local_time(*start, part.zone, lang), end.map(|e| local_time(e, part.zone, lang)))
        }
    };
    let who = if part.who.is_empty() { all_services(lang).to_string() } else { part.who.join(", ") };
    let unsubscribe = match (part.tenant, &mail.unsubscribe) {
        (Some(tenant), Some(u)) => Some(u.replace("{tenant}", tenant)),
        _ => None,
    };
    let view = View {
        lang: lang.code(),
        headline: headline(event.kind, lang),
        text: sentence(config, event, lang, part.who),
        who,
        title,
        reason,
        start: Some(start),
        end,
        why: part.tenant.map(|_| words.why.replace("{tenant}", &part.who.join(", "))),
        unsubscribe: unsubscribe.clone(),
        w: words,
    };
    // One line, whatever a template or a title holds: a line break would end the header.
    let subject = pages
        .render("mail-subject.txt", &view)
        .map_err(|e| e.to_string())?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text = pages.render("mail.txt", &view).map_err(|e| e.to_string())?;
    let html = pages.render("mail.html", &view).map_err(|e| e.to_string())?;

    let from: Mailbox = mail.from.parse().map_err(|e| format!("from: {e}"))?;
    let to: Vec<Address> = recipients.iter().filter_map(|a| a.parse().ok()).collect();
    let domain = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject)
        .message_id(Some(format!("<{id}@{domain}>")))
        .date(UNIX_EPOCH + Duration::from_millis(now_ms.max(0) as u64))
        .raw_header(header("Content-Language", lang.code().to_string())?)
        .raw_header(header("Auto-Submitted", "auto-generated".to_string())?);
    if part.tenant.is_some() {
        // A list's mail: addressed to the sender, the subscribers on the envelope only.
        builder = builder
            .to(from.clone())
            .envelope(lettre::address::Envelope::new(Some(from.email.clone()), to.clone()).map_err(|e| e.to_string())?);
    } else {
        for a in &to {
            builder = builder.to(Mailbox::new(None, a.clone()));
        }
    }
    if let Some(u) = &unsubscribe {
        builder = builder.raw_header(header("List-Unsubscribe", format!("<{u}>"))?);
        if u.starts_with("https://") {
            // RFC 8058: a one-click unsubscribe by POST, which mail clients offer as a button.
            builder = builder.raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string())?);
        }
    }
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        )
        .map_err(|e| e.to_string())?;
    let letter = Letter {
        from: from.email.to_string(),
        to: to.iter().map(Address::to_string).collect(),
        message: String::from_utf8(message.formatted()).map_err(|e| e.to_string())?,
    };
    serde_json::to_string(&letter).map_err(|e| e.to_string())
}

fn header(name: &str, value: String) -> Result<HeaderValue, String> {
    let name = HeaderName::new_from_ascii(name.to_string()).map_err(|e| e.to_string())?;
    Ok(HeaderValue::new(name, value))
}

fn all_services(lang: Language) -> &'static str {
    match lang {
        Language::De => "alle Dienste",
        Language::En => "all services",
        Language::Nb => "alle tjenester",
    }
}
