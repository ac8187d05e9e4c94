//! "Did you mean": the nearest expected word to a mistyped one (keys, time zones).
//!
//! Owns the edit distance and the rewording of serde's unknown-field sentence into the one
//! `check` prints: the unknown key and the nearest expected key, or the list when none is near.

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate nearest to `word`, when it is near enough to be what was meant: at most a
/// third of the word's characters off but at least two (a swap of neighbours is two; one for
/// words of up to three characters), ignoring case.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    let n = word.chars().count();
    let limit = if n <= 3 { 1 } else { (n / 3).max(2) };
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// serde's "unknown field `titel`, expected one of `id`, `title`, …" (or "expected `a` or
/// `b`", or "there are no fields") as "unknown key `titel`; did you mean `title`?", or with
/// the expected keys listed when none is near; `None` for any other message.
pub fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, expected) = rest.split_once('`')?;
    let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    Some(match closest(unknown, keys.iter().copied()) {
        Some(near) => format!("unknown key `{unknown}`; did you mean `{near}`?"),
        None if keys.is_empty() => format!("unknown key `{unknown}`; this table has no keys"),
        None => format!("unknown key `{unknown}`; expected one of {}", keys.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_reworded_with_the_nearest_key() {
        for (message, expected) in [
            (
                "unknown field `titel`, expected one of `id`, `zone`, `title`, `reason`",
                Some("unknown key `titel`; did you mean `title`?"),
            ),
            ("unknown field `Zone`, expected one of `id`, `zone`", Some("unknown key `Zone`; did you mean `zone`?")),
            (
                "unknown field `upstream`, expected one of `hosts`, `upstreams`",
                Some("unknown key `upstream`; did you mean `upstreams`?"),
            ),
            (
                "unknown field `x`, expected `tenants` or `hosts`",
                Some("unknown key `x`; expected one of tenants, hosts"),
            ),
            (
                "unknown field `colour`, expected one of `id`, `zone`",
                Some("unknown key `colour`; expected one of id, zone"),
            ),
            ("unknown field `a`, there are no fields", Some("unknown key `a`; this table has no keys")),
            ("invalid type: integer `3`, expected a string", None),
        ] {
            assert_eq!(unknown_field(message).as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn only_near_words_are_suggested() {
        assert_eq!(closest("tenant", ["include", "tenants", "windows"]), Some("tenants"));
        assert_eq!(closest("windwos", ["tenants", "windows"]), Some("windows"));
        assert_eq!(closest("colour", ["include", "defaults", "gateway", "tenants", "windows"]), None);
        assert_eq!(closest("ab", ["xy"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
