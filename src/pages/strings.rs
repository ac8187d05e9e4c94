//! The words on pages, per language, and dates written the way each language writes them.
//!
//! Owns every user-facing sentence of the built-in pages (templates only arrange them) so that
//! a translation is one place to read. `{tenant}`, `{host}` and `{status}` are filled in by
//! the caller before the template escapes the result.

use crate::config::Language;
use crate::health::Cause;
use crate::schedule::UnixTime;
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Serialize;

/// Labels and sentences of one language.
#[derive(Debug, Serialize)]
pub struct Strings {
    pub maintenance: &'static str,
    pub intro: &'static str,
    pub since: &'static str,
    pub expected_end: &'static str,
    pub possibly_until: &'static str,
    pub possible: &'static str,
    pub open_ended: &'static str,
    pub next: &'static str,
    pub status: &'static str,
    pub reload_note: &'static str,
    pub request_id: &'static str,
    pub try_again: &'static str,
    pub unknown_host_title: &'static str,
    pub unknown_host_text: &'static str,
    pub bad_request_title: &'static str,
    pub bad_request_text: &'static str,
    pub active_maintenance: &'static str,
    pub upcoming_maintenance: &'static str,
    pub not_found_title: &'static str,
    pub powered: &'static str,
    pub disruptions: &'static str,
}

/// What went wrong between the gateway and an upstream, in words a user understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    Refused,
    ConnectTimeout,
    ReadTimeout,
    Reset,
    BadResponse,
    Unavailable,
    UpstreamStatus,
    /// The gateway stopped (restart, upgrade) before the upstream answered.
    Stopping,
    /// No trusted TLS connection to the upstream (its certificate refused, or its handshake
    /// failed); what exactly goes to the log only.
    Tls,
}

impl Failure {
    pub const ALL: [Failure; 9] = [
        Failure::Refused,
        Failure::ConnectTimeout,
        Failure::ReadTimeout,
        Failure::Reset,
        Failure::BadResponse,
        Failure::Unavailable,
        Failure::UpstreamStatus,
        Failure::Stopping,
        Failure::Tls,
    ];

    /// Machine name, used in the `X-Hiatus-Failure` header, logs, metrics and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Refused => "connection_refused",
            Failure::ConnectTimeout => "connect_timeout",
            Failure::ReadTimeout => "read_timeout",
            Failure::Reset => "connection_reset",
            Failure::BadResponse => "invalid_response",
            Failure::Unavailable => "no_upstream",
            Failure::UpstreamStatus => "upstream_error",
            Failure::Stopping => "gateway_stopping",
            Failure::Tls => "upstream_tls",
        }
    }

    /// (title, explanation) in `lang`.
    pub fn words(self, lang: Language) -> (&'static str, &'static str) {
        use Failure::*;
        use Language::*;
        match (self, lang) {
            (Refused, De) => (
                "Server nicht erreichbar",
                "Der Server von {tenant} hat die Verbindung abgelehnt. Er läuft vermutlich gerade nicht.",
            ),
            (Refused, En) => (
                "Server not reachable",
                "The server of {tenant} refused the connection. It is probably not running right now.",
            ),
            (Refused, Nb) => (
                "Serveren svarer ikke",
                "Serveren til {tenant} avviste tilkoblingen. Den kjører trolig ikke akkurat nå.",
            ),
            (ConnectTimeout, De) => (
                "Server antwortet nicht",
                "Der Server von {tenant} hat auf den Verbindungsaufbau nicht rechtzeitig geantwortet.",
            ),
            (ConnectTimeout, En) => {
                ("Server does not answer", "The server of {tenant} did not answer the connection attempt in time.")
            }
            (ConnectTimeout, Nb) => {
                ("Serveren svarer ikke", "Serveren til {tenant} svarte ikke på tilkoblingen i tide.")
            }
            (ReadTimeout, De) => (
                "Zeitüberschreitung",
                "Der Server von {tenant} hat die Anfrage angenommen, aber nicht rechtzeitig geantwortet.",
            ),
            (ReadTimeout, En) => {
                ("The server took too long", "The server of {tenant} accepted the request but did not answer in time.")
            }
            (ReadTimeout, Nb) => (
                "Serveren brukte for lang tid",
                "Serveren til {tenant} tok imot forespørselen, men svarte ikke i tide.",
            ),
            (Reset, De) => (
                "Verbindung abgebrochen",
                "Die Verbindung zum Server von {tenant} brach ab, bevor eine vollständige Antwort kam.",
            ),
            (Reset, En) => (
                "Connection lost",
                "The connection to the server of {tenant} broke off before a complete answer arrived.",
            ),
            (Reset, Nb) => (
                "Forbindelsen ble brutt",
                "Forbindelsen til serveren til {tenant} ble brutt før et fullstendig svar kom.",
            ),
            (BadResponse, De) => (
                "Ungültige Antwort",
                "Der Server von {tenant} hat eine Antwort geschickt, die nicht verstanden werden konnte.",
            ),
            (BadResponse, En) => {
                ("Invalid answer", "The server of {tenant} sent an answer that could not be understood.")
            }
            (BadResponse, Nb) => ("Ugyldig svar", "Serveren til {tenant} sendte et svar som ikke kunne forstås."),
            (Unavailable, De) => ("Dienst nicht verfügbar", "Für {tenant} ist gerade kein Server verfügbar."),
            (Unavailable, En) => ("Service unavailable", "No server of {tenant} is available right now."),
            (Unavailable, Nb) => {
                ("Tjenesten er utilgjengelig", "Ingen server for {tenant} er tilgjengelig akkurat nå.")
            }
            (UpstreamStatus, De) => ("Serverfehler", "Der Server von {tenant} meldet einen Fehler ({status})."),
            (UpstreamStatus, En) => ("Server error", "The server of {tenant} reports an error ({status})."),
            (UpstreamStatus, Nb) => ("Serverfeil", "Serveren til {tenant} melder en feil ({status})."),
            (Tls, De) => (
                "Keine sichere Verbindung",
                "Eine sichere Verbindung zum Server von {tenant} konnte nicht hergestellt werden.",
            ),
            (Tls, En) => {
                ("No secure connection", "A secure connection to the server of {tenant} could not be established.")
            }
            (Tls, Nb) => {
                ("Ingen sikker forbindelse", "En sikker forbindelse til serveren til {tenant} kunne ikke opprettes.")
            }
            (Stopping, De) => (
                "Kurz unterbrochen",
                "Das Gateway vor {tenant} wird gerade neu gestartet; die Anfrage wurde nicht fertig. Bitte versuchen Sie es gleich noch einmal.",
            ),
            (Stopping, En) => (
                "Briefly interrupted",
                "The gateway in front of {tenant} is restarting and the request did not finish. Please try again in a moment.",
            ),
            (Stopping, Nb) => (
                "Kort avbrutt",
                "Gatewayen foran {tenant} starter på nytt, og forespørselen ble ikke fullført. Prøv igjen om et øyeblikk.",
            ),
        }
    }
}

/// The public words for an Incident's cause in `lang`, said of a tenant ("CRM: not reachable").
/// Fixed phrases on purpose: what the probes really saw (addresses, OS and resolver errors) is
/// the incident's detail, which no page shows.
pub fn cause_words(cause: Cause, lang: Language) -> &'static str {
    use Cause::*;
    use Language::*;
    match (cause, lang) {
        (Unreachable, De) => "nicht erreichbar",
        (Unreachable, En) => "not reachable",
        (Unreachable, Nb) => "kan ikke nås",
        (Timeout, De) => "antwortet nicht rechtzeitig",
        (Timeout, En) => "not answering in time",
        (Timeout, Nb) => "svarer ikke i tide",
        (Errors, De) => "antwortet mit Fehlern",
        (Errors, En) => "answering with errors",
        (Errors, Nb) => "svarer med feil",
        (Unavailable, De) => "nicht verfügbar",
        (Unavailable, En) => "not available",
        (Unavailable, Nb) => "ikke tilgjengelig",
    }
}

static DE: Strings = Strings {
    maintenance: "Wartungsarbeiten",
    intro: "{tenant} ist wegen Wartungsarbeiten vorübergehend nicht erreichbar.",
    since: "Seit",
    expected_end: "Voraussichtliches Ende",
    possibly_until: "möglicherweise länger, bis",
    possible: "möglich",
    open_ended: "Das Ende ist noch nicht bekannt.",
    next: "Nächste geplante Wartung",
    status: "Status und geplante Wartungen",
    reload_note: "Diese Seite lädt sich selbst neu, wenn die Wartung endet.",
    request_id: "Anfrage-ID",
    try_again: "Bitte versuchen Sie es in einigen Minuten erneut.",
    unknown_host_title: "Unbekannte Adresse",
    unknown_host_text: "Unter {host} wird über dieses Gateway kein Dienst angeboten.",
    bad_request_title: "Ungültige Anfrage",
    bad_request_text: "Die Anfrage enthielt keine gültige Adresse (Host).",
    active_maintenance: "Laufende Wartung",
    upcoming_maintenance: "Geplante Wartung",
    not_found_title: "Nicht gefunden",
    powered: "Wartungs-Gateway",
    disruptions: "Aktuelle Störungen",
};

static EN: Strings = Strings {
    maintenance: "Maintenance",
    intro: "{tenant} is temporarily unavailable for maintenance.",
    since: "Since",
    expected_end: "Expected end",
    possibly_until: "possibly longer, until",
    possible: "possible",
    open_ended: "The end is not known yet.",
    next: "Next planned maintenance",
    status: "Status and planned maintenance",
    reload_note: "This page reloads itself when the maintenance ends.",
    request_id: "Request ID",
    try_again: "Please try again in a few minutes.",
    unknown_host_title: "Unknown address",
    unknown_host_text: "No service is offered at {host} through this gateway.",
    bad_request_title: "Bad request",
    bad_request_text: "The request did not name a valid address (Host).",
    active_maintenance: "Maintenance in progress",
    upcoming_maintenance: "Planned maintenance",
    not_found_title: "Not found",
    powered: "maintenance gateway",
    disruptions: "Current disruptions",
};

static NB: Strings = Strings {
    maintenance: "Vedlikehold",
    intro: "{tenant} er midlertidig utilgjengelig på grunn av vedlikehold.",
    since: "Siden",
    expected_end: "Forventet slutt",
    possibly_until: "muligens lenger, til",
    possible: "mulig",
    open_ended: "Slutten er ikke kjent ennå.",
    next: "Neste planlagte vedlikehold",
    status: "Status og planlagt vedlikehold",
    reload_note: "Denne siden lastes inn på nytt når vedlikeholdet er ferdig.",
    request_id: "Forespørsel-ID",
    try_again: "Prøv igjen om noen minutter.",
    unknown_host_title: "Ukjent adresse",
    unknown_host_text: "Ingen tjeneste tilbys på {host} via denne gatewayen.",
    bad_request_title: "Ugyldig forespørsel",
    bad_request_text: "Forespørselen oppga ingen gyldig adresse (Host).",
    active_maintenance: "Pågående vedlikehold",
    upcoming_maintenance: "Planlagt vedlikehold",
    not_found_title: "Ikke funnet",
    powered: "vedlikeholdsgateway",
    disruptions: "Pågående driftsforstyrrelser",
};

pub fn strings(lang: Language) -> &'static Strings {
    match lang {
        Language::De => &DE,
        Language::En => &EN,
        Language::Nb => &NB,
    }
}

const WEEKDAYS: [[&str; 7]; 3] = [
    ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"],
];
const MONTHS: [[&str; 12]; 3] = [
    [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ],
];

/// An instant as a person in `zone` reads it, in `lang`: "Donnerstag, 14. November 2024, 00:55 Uhr CET".
pub fn local_time(t: UnixTime, zone: Tz, lang: Language) -> String {
    let Some(d) = zone.timestamp_opt(t, 0).single() else { return String::new() };
    let i = match lang {
        Language::De => 0,
        Language::En => 1,
        Language::Nb => 2,
    };
    let wd = WEEKDAYS[i][d.weekday().num_days_from_monday() as usize];
    let mo = MONTHS[i][d.month0() as usize];
    let abbr = d.format("%Z");
    let (day, year, h, m) = (d.day(), d.year(), d.hour(), d.minute());
    match lang {
        Language::De => format!("{wd}, {day}. {mo} {year}, {h:02}:{m:02} Uhr {abbr}"),
        Language::En => format!("{wd} {day} {mo} {year}, {h:02}:{m:02} {abbr}"),
        Language::Nb => format!("{wd} {day}. {mo} {year} kl. {h:02}:{m:02} {abbr}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times() {
        let t = 1_731_541_700 - 1_731_541_700 % 60; // 2024-11-13T23:48:00Z
        let cases = [
            (Language::De, chrono_tz::Europe::Berlin, "Donnerstag, 14. November 2024, 00:48 Uhr CET"),
            (Language::En, chrono_tz::Europe::Berlin, "Thursday 14 November 2024, 00:48 CET"),
            (Language::Nb, chrono_tz::Europe::Oslo, "torsdag 14. november 2024 kl. 00:48 CET"),
            (Language::En, chrono_tz::UTC, "Wednesday 13 November 2024, 23:48 UTC"),
        ];
        for (lang, zone, expected) in cases {
            assert_eq!(local_time(t, zone, lang), expected);
        }
    }
}
