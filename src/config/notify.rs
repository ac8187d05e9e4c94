//! `[[notify]]`: where notifications go (webhook, Slack-compatible, Microsoft Teams, Discord or
//! e-mail), which events, for which tenants, and how long a delivery may be retried.
//!
//! Owns the file shape ([`FileNotify`]), its validation into [`NotifyTarget`], and the words of
//! the section that other layers share: [`EventKind`] and [`Severity`] (what `events = [...]`
//! and `min_severity` name). The e-mail keys are `super::mail`'s. Sending is `crate::notify`'s
//! job, not this module's.

use super::diagnostic::Report;
use super::mail::{FileMail, MailSettings};
use super::model::Language;
use serde::Deserialize;
use std::time::Duration;

/// What happened; the names are the ones `events = [...]` and the webhook payload's `kind` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    WindowAnnounced,
    WindowStarted,
    WindowEnded,
    EmergencyOn,
    EmergencyOff,
    IncidentOpened,
    IncidentUpdated,
    IncidentResolved,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::WindowAnnounced,
        EventKind::WindowStarted,
        EventKind::WindowEnded,
        EventKind::EmergencyOn,
        EventKind::EmergencyOff,
        EventKind::IncidentOpened,
        EventKind::IncidentUpdated,
        EventKind::IncidentResolved,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::WindowAnnounced => "window.announced",
            EventKind::WindowStarted => "window.started",
            EventKind::WindowEnded => "window.ended",
            EventKind::EmergencyOn => "emergency.on",
            EventKind::EmergencyOff => "emergency.off",
            EventKind::IncidentOpened => "incident.opened",
            EventKind::IncidentUpdated => "incident.updated",
            EventKind::IncidentResolved => "incident.resolved",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == text)
    }

    /// How much it matters: a disruption nobody planned is critical, a planned one starting a
    /// warning, everything that announces or ends something information.
    pub fn severity(self) -> Severity {
        match self {
            EventKind::EmergencyOn | EventKind::IncidentOpened => Severity::Critical,
            EventKind::WindowStarted => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// Ordered: `min_severity = "warning"` takes warning and critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical].into_iter().find(|s| s.name() == text)
    }
}

/// How a target wants its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// JSON with the documented schema (README), signed with HMAC-SHA256 when a secret is set.
    Webhook,
    /// `{"text": ...}`: Slack's incoming webhooks, also Mattermost and Rocket.Chat.
    Slack,
    /// An Adaptive Card in a `message`: Microsoft Teams' Workflows webhooks.
    Teams,
    /// `{"content", "embeds"}`: Discord's webhooks.
    Discord,
    /// Mails over SMTP (`NotifyTarget::mail`).
    Email,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Webhook => "webhook",
            TargetKind::Slack => "slack",
            TargetKind::Teams => "teams",
            TargetKind::Discord => "discord",
            TargetKind::Email => "email",
        }
    }
}

/// `[[notify]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNotify {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub secret: Option<String>,
    pub tenants: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub min_severity: Option<String>,
    pub language: Option<String>,
    pub announce: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub retry_min: Option<String>,
    pub retry_max: Option<String>,
    pub give_up_after: Option<String>,
    // E-mail targets only (`super::mail`).
    pub tls: Option<String>,
    pub allow_plain: Option<bool>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
    pub subscribers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    pub unsubscribe: Option<String>,
    pub ca: Option<String>,
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// Stable across reloads: what was sent is remembered per target id.
    pub id: String,
    pub kind: TargetKind,
    pub url: String,
    pub secret: Option<String>,
    /// `None`: every tenant (a global target).
    pub tenants: Option<Vec<String>>,
    pub events: Vec<EventKind>,
    pub min_severity: Severity,
    /// `None`: the language of the target's only tenant, else the configuration's default.
    pub language: Option<Language>,
    /// Lead times, in seconds, at which a window is announced before it starts.
    pub announce: Vec<i64>,
    /// One attempt's limit (connect, send, answer).
    pub timeout: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// A delivery still failing this long after its event was queued is given up (logged).
    pub give_up_after: Duration,
    /// `Some` for an e-mail target (`url` is then its `smtp://` or `smtps://` URL).
    pub mail: Option<MailSettings>,
}

const DAY: u64 = 86_400;

/// A duration that may also be written in days: `"7d"`, `"36h"`, `"90m"`, `"500ms"`.
pub fn long_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Some(days) = t.strip_suffix('d') {
        return match days.parse::<u64>() {
            Ok(n) if n > 0 && n <= 366 => Ok(Duration::from_secs(n * DAY)),
            _ => Err(format!("{text:?} is not a duration; write e.g. \"7d\", \"24h\" or \"30m\" (1 to 366 days)")),
        };
    }
    let d = super::duration::parse(t)
        .map_err(|_| format!("{text:?} is not a duration; write e.g. \"7d\", \"24h\", \"30m\" or \"500ms\""))?;
    if d.is_zero() {
        return Err(format!("{text:?}: must be longer than zero"));
    }
    if d > Duration::from_secs(366 * DAY) {
        return Err(format!("{text:?} is longer than 366 days"));
    }
    Ok(d)
}

/// An `http://` or `https://` URL with a host; anything else is refused with the reason.
pub fn target_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("{text:?}: only http:// and https:// URLs can be notified")),
    }
    if let Some(a) = uri.authority() {
        // A port that is no port would only fail at the first notification.
        super::values::url_port(text, a)?;
    }
    match uri.authority() {
        Some(a) if !a.host().is_empty() && !a.as_str().contains('@') => Ok(text.to_string()),
        Some(_) => Err(format!("{text:?}: credentials in the URL are not supported; use `secret`")),
        None => Err(format!("{text:?}: the URL names no host")),
    }
}

fn checked<T>(report: &mut Report, file: &str, path: &str, r: Result<T, String>) -> Option<T> {
    r.map_err(|e| report.error(file, path, e)).ok()
}

/// Validates one `[[notify]]` entry at `path` (`notify[2]`); `None` after an error. `base`: the
/// folder an e-mail target's `ca` file is relative to.
pub fn target(
    f: &FileNotify,
    base: &std::path::Path,
    file: &str,
    path: &str,
    report: &mut Report,
) -> Option<NotifyTarget> {
    let before = report.errors.len();
    let id = f.id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        report.error(file, format!("{path}.id"), format!("{:?}: use letters, digits, '-', '_' and '.'", f.id));
    }
    let kind = match f.kind.as_str() {
        "webhook" => Some(TargetKind::Webhook),
        "slack" => Some(TargetKind::Slack),
        "teams" => Some(TargetKind::Teams),
        "discord" => Some(TargetKind::Discord),
        "email" => Some(TargetKind::Email),
        other => {
            report.error(
                file,
                format!("{path}.type"),
                format!("{other:?}: expected \"webhook\", \"slack\", \"teams\", \"discord\" or \"email\""),
            );
            None
        }
    };
    let mut mail = None;
    let url = if kind == Some(TargetKind::Email) {
        let keys = FileMail {
            url: &f.url,
            tls: f.tls.as_deref(),
            allow_plain: f.allow_plain,
            user: f.user.as_deref(),
            password: f.password.as_deref(),
            from: f.from.as_deref(),
            to: f.to.as_deref(),
            subscribers: f.subscribers.as_ref(),
            unsubscribe: f.unsubscribe.as_deref(),
            ca: f.ca.as_deref(),
        };
        mail = super::mail::settings(&keys, base, file, path, report);
        Some(f.url.clone())
    } else {
        for (key, set) in [
            ("tls", f.tls.is_some()),
            ("allow_plain", f.allow_plain.is_some()),
            ("user", f.user.is_some()),
            ("password", f.password.is_some()),
            ("from", f.from.is_some()),
            ("to", f.to.is_some()),
            ("subscribers", f.subscribers.is_some()),
            ("unsubscribe", f.unsubscribe.is_some()),
            ("ca", f.ca.is_some()),
        ] {
            if set && kind.is_some() {
                report.error(file, format!("{path}.{key}"), "only e-mail targets (type = \"email\") take this key");
            }
        }
        checked(report, file, &format!("{path}.url"), target_url(&f.url))
    };
    if kind.is_some_and(|k| k != TargetKind::Webhook) && f.secret.is_some() {
        report.error(
            file,
            format!("{path}.secret"),
            "only a generic webhook is signed; a chat webhook's URL is the secret",
        );
    }
    let mut events = Vec::new();
    for (i, e) in f.events.iter().flatten().enumerate() {
        match EventKind::parse(e) {
            Some(k) => events.push(k),
            None => {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                report.error(
                    file,
                    format!("{path}.events[{i}]"),
                    format!("unknown event kind {e:?}; expected one of {}", known.join(", ")),
                );
            }
        }
    }
    if f.events.is_none() {
        events = EventKind::ALL.to_vec();
    }
    let min_severity = match &f.min_severity {
        None => Severity::Info,
        Some(s) => checked(
            report,
            file,
            &format!("{path}.min_severity"),
            Severity::parse(s).ok_or_else(|| format!("{s:?}: expected \"info\", \"warning\" or \"critical\"")),
        )
        .unwrap_or(Severity::Info),
    };
    let language = f
        .language
        .as_ref()
        .and_then(|l| checked(report, file, &format!("{path}.language"), super::values::language(l)));
    let mut announce = Vec::new();
    for (i, a) in f.announce.iter().flatten().enumerate() {
        if let Some(d) = checked(report, file, &format!("{path}.announce[{i}]"), long_duration(a)) {
            announce.push(d.as_secs() as i64);
        }
    }
    if f.announce.is_none() {
        announce.push(DAY as i64);
    }
    announce.sort_unstable();
    announce.dedup();
    let mut duration = |key: &str, text: &Option<String>, default: Duration| match text {
        None => default,
        Some(t) => checked(report, file, &format!("{path}.{key}"), long_duration(t)).unwrap_or(default),
    };
    let timeout = duration("timeout", &f.timeout, Duration::from_secs(10));
    let retry_min = duration("retry_min", &f.retry_min, Duration::from_secs(5));
    let retry_max = duration("retry_max", &f.retry_max, Duration::from_secs(3600));
    let give_up_after = duration("give_up_after", &f.give_up_after, Duration::from_secs(DAY));
    if retry_min > retry_max {
        report.error(file, format!("{path}.retry_min"), "longer than retry_max");
    }
    if report.errors.len() > before {
        return None;
    }
    Some(NotifyTarget {
        id: id.to_string(),
        kind: kind?,
        url: url?,
        secret: f.secret.clone(),
        tenants: f.tenants.clone(),
        events,
        min_severity,
        language,
        announce,
        timeout,
        retry_min,
        retry_max,
        give_up_after,
        mail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "http://127.0.0.1:9/hook",
            "https://hooks.slack.com/services/T/B/X",
            "http://[::1]/h",
            "http://[::1]:8080/h",
        ] {
            assert_eq!(target_url(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "hooks.example",
            "ftp://x/y",
            "http://user:pw@x/",
            "http:///nohost",
            "http://a b/",
            "http://127.0.0.1:70000/x",
            "http://127.0.0.1:0/x",
        ] {
            assert!(target_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_take_days() {
        assert_eq!(long_duration("7d"), Ok(Duration::from_secs(7 * DAY)));
        assert_eq!(long_duration("24h"), Ok(Duration::from_secs(DAY)));
        assert_eq!(long_duration("200ms"), Ok(Duration::from_millis(200)));
        for bad in ["0d", "d", "1w", "400d", "0s"] {
            assert!(long_duration(bad).is_err(), "{bad}");
        }
    }
}
