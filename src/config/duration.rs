//! Durations as the gateway's keys write them (`500ms`, `2s`, `1m30s`): one parser for the
//! `[gateway]` timeouts and the health checks' intervals, below both.

use std::time::Duration;

/// `500ms`, `2s`, `1m`, `1h`, `1m30s`: a duration of the gateway's (timeouts, intervals, grace periods).
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration; write e.g. \"500ms\", \"2s\", \"1m30s\"");
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let c = rest.chars().next().ok_or_else(bad)?;
        if c.is_ascii_digit() {
            digits.push(c);
            rest = &rest[1..];
            continue;
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(n), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(n), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(n.saturating_mul(60)), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(n.saturating_mul(3600)), 1)
        } else {
            return Err(bad());
        };
        total = total.saturating_add(unit);
        rest = &rest[len..];
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(total)
}
