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
    /// Keyed by (prefix, suffix) around the digits.
    ranges: HashMap<(String, String), Vec<RangeOwner>>,
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
                let group = self.ranges.entry((prefix.to_string(), suffix.to_string())).or_default();
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
            let (Ok(n), Some(group)) =
                (digits.parse::<u32>(), self.ranges.get(&(host[..start].to_string(), host[i..].to_string())))
            else {
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
