//! Atom (RFC 4287) feed of announcements: one-off and emergency windows, and incidents.
//!
//! Recurring routine windows are not announcements (they are in the calendar); entries carry
//! stable ids (`urn:hiatus:window:ID:START`, `urn:hiatus:incident:ID`) so readers do not repeat
//! them. An incident's id is a key, as in `status.json`; its title names the tenant by its public
//! name and the cause in words.

use super::{Entry, Incident, Status};
use crate::config::Language;
use crate::schedule::{occurrence::from_unix, UnixTime};

fn time(t: UnixTime) -> String {
    from_unix(t).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// "until" and "since" in `lang`.
fn words(lang: Language) -> (&'static str, &'static str) {
    match lang {
        Language::De => ("bis", "seit"),
        Language::En => ("until", "since"),
        Language::Nb => ("til", "siden"),
    }
}

/// The feed: `announcements` (windows worth announcing) and the status's incidents.
pub fn feed(title: &str, self_url: &str, announcements: &[&Entry], status: &Status) -> String {
    let (until_word, since_word) = words(status.lang);
    let mut items: Vec<(UnixTime, String)> = Vec::new();
    for e in announcements {
        let when = match e.end {
            Some(end) => format!("{} – {}", time(e.start), time(end)),
            None => format!("{since_word} {}", time(e.start)),
        };
        let reason = e.reason.as_ref().map_or(String::new(), |r| format!(". {r}"));
        let summary = format!("{when}{reason} ({})", e.affects);
        // Announced when it became known; we only know it is known now or since it started.
        let updated = e.start.min(status.now);
        items.push((
            updated,
            format!(
                "<entry><id>urn:hiatus:window:{}:{}</id><title>{}</title><updated>{}</updated><summary>{}</summary></entry>",
                xml(&e.window),
                e.start,
                xml(&e.title),
                time(updated),
                xml(&summary)
            ),
        ));
    }
    for i in &status.incidents {
        let Incident { id, name, start, end, cause, .. } = i;
        let updated = end.unwrap_or(*start);
        let state = match end {
            Some(e) => format!("{} – {}", time(*start), time(*e)),
            None => format!("{since_word} {} ({until_word} ?)", time(*start)),
        };
        items.push((
            updated,
            format!(
                "<entry><id>urn:hiatus:incident:{}</id><title>{}</title><updated>{}</updated><summary>{}</summary></entry>",
                xml(id),
                xml(&format!("{name}: {}", status.cause_words(*cause))),
                time(updated),
                xml(&state)
            ),
        ));
    }
    items.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let updated = items.first().map_or(status.now, |(t, _)| *t);
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!(
        "<title>{}</title>\n<id>urn:hiatus:feed</id>\n<updated>{}</updated>\n<author><name>Hiatus</name></author>\n<link rel=\"self\" href=\"{}\"/>\n",
        xml(title),
        time(updated),
        xml(self_url)
    ));
    for (_, item) in items {
        out.push_str(&item);
        out.push('\n');
    }
    out.push_str("</feed>\n");
    out
}
