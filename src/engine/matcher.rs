//! Build-time matching of a representative host against every pattern in the configuration.
//!
//! Owns [`PatternOwners`]: which tenants and windows name which host patterns, indexed so that
//! the snapshot build can ask "who claims this host?" for each of thousands of keys without
//! testing every pattern. Used only while a snapshot is built; the hot path uses `HostIndex`.

use crate::hosts::HostPattern;
use std::collections::HashMap;

/// Who named a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Tenant(u32),
    Window(u32),
}

/// How specific the pattern was that matched: exact beats range beats wildcard, and a longer
/// wildcard suffix beats a shorter one.
pub type Specificity = (u8, usize);

/// `lo..=hi` of a range pattern and who named it.
type RangeOwner = (u32, u32, Owner);

#[derive(Debug, Default)]
pub struct PatternOwners {
    exact: HashMap<String, Vec<Owner>>,
    /// Keyed by the suffix including its leading dot: `*.example.com` → `.example.com`.
    wildcard: HashMap<String, Vec<Owner>>,
    /// Keyed by the prefix, then the suffix around the digits: two levels, so that a lookup can
    /// use slices of the host instead of building a `(String, String)` key per digit run.
    ranges: HashMap<String, HashMap<String, Vec<RangeOwner>>>,
    /// Every distinct pattern, in first-seen order: the keys of the host index.
    pub patterns: Vec<HostPattern>,
}

/// The parts of a canonical pattern text.
enum Shape<'a> {
    Exact(&'a str),
    Wildcard(&'a str),
    Range { prefix: &'a str, lo: u32, hi: u32, suffix: &'a str },
}

fn shape(text: &str) -> Shape<'_> {
    if let Some(rest) = text.strip_prefix('*') {
        return Shape::Wildcard(rest);
    }
    if let (Some(open), Some(close)) = (text.find('{'), text.find('}')) {
        let inner = &text[open + 1..close];
        if let Some((lo, hi)) = inner.split_once("..") {
            if let (Ok(lo), Ok(hi)) = (lo.parse(), hi.parse()) {
                return Shape::Range { prefix: &text[..open], lo, hi, suffix: &text[close + 1..] };
            }
        }
    }
    Shape::Exact(text)
}

impl PatternOwners {
    pub fn add(&mut self, pattern: &HostPattern, owner: Owner) {
        let text = pattern.to_string();
        let new = match shape(&text) {
            Shape::Exact(h) => push(self.exact.entry(h.to_string()).or_default(), owner),
            Shape::Wildcard(s) => push(self.wildcard.entry(s.to_string()).or_default(), owner),
            Shape::Range { prefix, lo, hi, suffix } => {
                let group = self.ranges.entry(prefix.to_string()).or_default().entry(suffix.to_string()).or_default();
                let new = !group.iter().any(|&(a, b, _)| a == lo && b == hi);
                group.push((lo, hi, owner));
                new
            }
        };
        if new {
            self.patterns.push(pattern.clone());
        }
    }

    /// Calls `f` for every owner of a pattern that matches `host`, with the match's specificity.
    pub fn for_each_match(&self, host: &str, mut f: impl FnMut(Owner, Specificity)) {
        if let Some(owners) = self.exact.get(host) {
            owners.iter().for_each(|&o| f(o, (3, host.len())));
        }
        // Every digit run may be the number of a range pattern.
        let bytes = host.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &host[start..i];
            if digits.len() > 1 && digits.starts_with('0') {
                continue;
            }
            let group = self.ranges.get(&host[..start]).and_then(|by_suffix| by_suffix.get(&host[i..]));
            let (Ok(n), Some(group)) = (digits.parse::<u32>(), group) else {
                continue;
            };
            for &(lo, hi, o) in group {
                if lo <= n && n <= hi {
                    f(o, (2, host.len()));
                }
            }
        }
        // `*.example.com` matches when `.example.com` is a proper suffix of the host.
        for (dot, _) in host.match_indices('.') {
            if dot == 0 {
                continue;
            }
            if let Some(owners) = self.wildcard.get(&host[dot..]) {
                owners.iter().for_each(|&o| f(o, (1, host.len() - dot)));
            }
        }
    }
}

fn push(list: &mut Vec<Owner>, owner: Owner) -> bool {
    let new = list.is_empty();
    if !list.contains(&owner) {
        list.push(owner);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(patterns: &[(&str, Owner)]) -> PatternOwners {
        let mut out = PatternOwners::default();
        for (text, owner) in patterns {
            match HostPattern::parse(text) {
                Ok(p) => out.add(&p, *owner),
                Err(e) => panic!("bad pattern in test: {e}"),
            }
        }
        out
    }

    fn check(owners: &PatternOwners, host: &str, expected: &[(Owner, Specificity)]) {
        let mut got = Vec::new();
        owners.for_each_match(host, |o, s| got.push((o, s)));
        got.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(got, expected, "{host}");
    }

    #[test]
    fn every_kind_of_pattern_and_every_digit_run() {
        use Owner::{Tenant as T, Window as W};
        let o = owners(&[
            ("www{1..20}.x.de", T(0)),
            ("www{10..30}.x.de", W(1)),
            ("a3.b{1..9}.x.de", W(2)),
            ("a{1..5}.b7.x.de", W(3)),
            ("www12.x.de", T(4)),
            ("*.x.de", T(5)),
            ("*.b7.x.de", W(6)),
            ("www{10..30}.y.de", W(7)),
        ]);
        check(&o, "www12.x.de", &[(T(4), (3, 10)), (T(0), (2, 10)), (W(1), (2, 10)), (T(5), (1, 5))]);
        check(&o, "www25.x.de", &[(W(1), (2, 10)), (T(5), (1, 5))]);
        check(&o, "www25.y.de", &[(W(7), (2, 10))]);
        check(&o, "www012.x.de", &[(T(5), (1, 5))]);
        check(&o, "a3.b7.x.de", &[(W(2), (2, 10)), (W(3), (2, 10)), (W(6), (1, 8)), (T(5), (1, 5))]);
        check(&o, "a6.b7.x.de", &[(W(6), (1, 8)), (T(5), (1, 5))]);
        check(&o, "www12.z.de", &[]);
        assert_eq!(o.patterns.len(), 8);
    }
}
