//! iCalendar (RFC 5545) feed of planned windows, for calendar subscriptions.
//!
//! One VEVENT per occurrence from 30 days back to 180 days ahead, UTC times, stable UIDs
//! (`window-start@hiatus`), TEXT values escaped and lines folded at 75 octets with CRLF endings.

use super::{Entry, Status};
use crate::schedule::{occurrence::from_unix, UnixTime};
use std::fmt::Write;

fn stamp(t: UnixTime) -> String {
    from_unix(t).map(|d| d.format("%Y%m%dT%H%M%SZ").to_string()).unwrap_or_default()
}

/// RFC 5545 §3.3.11: backslash, semicolon, comma and newlines are escaped in TEXT.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets without splitting a character (§3.1).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// The calendar of `entries` (planned windows), named `name`.
pub fn calendar(name: &str, entries: &[Entry], status: &Status) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Hiatus//Maintenance windows//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    for e in entries {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}-{}@hiatus", e.window, e.start));
        line(&mut out, &format!("DTSTAMP:{}", stamp(status.now)));
        line(&mut out, &format!("DTSTART:{}", stamp(e.start)));
        if let Some(end) = e.end {
            line(&mut out, &format!("DTEND:{}", stamp(end)));
        }
        line(&mut out, &format!("SUMMARY:{}", text(&e.title)));
        let mut description = String::new();
        if let Some(r) = &e.reason {
            let _ = writeln!(description, "{r}");
        }
        let _ = write!(description, "{}", e.affects);
        line(&mut out, &format!("DESCRIPTION:{}", text(&description)));
        line(&mut out, if e.tentative { "STATUS:TENTATIVE" } else { "STATUS:CONFIRMED" });
        line(&mut out, "TRANSP:OPAQUE");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_escaping() {
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", text(&"Wartung; Teil 1, Ä\\".repeat(6))));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{l:?} is {} octets", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert!(unfolded.starts_with("SUMMARY:Wartung\\; Teil 1\\, Ä\\\\Wartung"), "{unfolded}");
        assert_eq!(text("a\nb"), "a\\nb");
    }
}
