//! The host index: every host pattern of a snapshot, compiled so that a request costs one hash
//! lookup (plus a few string comparisons) instead of matching every pattern.
//!
//! Owns [`HostIndex`]. It is built once per snapshot from all patterns mentioned anywhere (tenant
//! hosts, window scopes). The index does not know what the patterns mean: for each *key* it calls
//! the caller's `resolve` once with a representative host, and the caller does full matching on
//! that string. A key is a set of hosts that every pattern of the snapshot treats alike:
//!
//! - an exact host (representative: the host);
//! - a wildcard `*.suffix` (representative: the text `*.suffix`, which `HostPattern::matches`
//!   accepts exactly for the equal or broader wildcards);
//! - a segment of a range group: ranges with the same prefix and suffix are one group, and the
//!   number line is cut at every range bound, so within a segment the same ranges apply
//!   (representative: the host with the segment's lowest number).
//!
//! **Invariant:** for every host, `lookup` gives the value `resolve` gave for a representative
//! that exactly the same patterns match. Range bounds alone are not enough for that: another
//! pattern can pin one number of a group (`*.www15.x.de` or `a3.b{1..9}.x` against
//! `a.www{1..20}.x.de`/`a{1..5}.b7.x`, or an exact host `www325.x.de`). Because a range's number
//! is always a whole run of digits (see `pattern`), such a pattern can only ever pin a single
//! number, so the build also cuts each group around those numbers. The `agrees_with_brute_force`
//! test holds the index to this.
//!
//! Not here: normalising the raw `Host` header (`normalize`) and deciding what a host means.

use super::pattern::{parse_decimal, range_number, HostPattern, PatternKind};
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};

/// Hosts → precomputed values, for the request path. See the module documentation.
#[derive(Debug)]
pub struct HostIndex<V> {
    exact: HashMap<HostKey, ExactEntry<V>, HostHash>,
    exact_lens: LenSet,
    /// Ordered by (prefix, suffix), so the first matching group is always the same one.
    groups: Vec<RangeGroup<V>>,
    /// Keyed by the domain after `*.`.
    wildcards: HashMap<HostKey, V, HostHash>,
    wildcard_lens: LenSet,
}

#[derive(Debug)]
struct ExactEntry<V> {
    value: V,
    /// The host's number when a range of the index also matches it, so that an exact host that
    /// is also in a range still gets its number (e.g. for `{n}` upstreams).
    number: Option<u32>,
}

#[derive(Debug)]
struct RangeGroup<V> {
    prefix: Box<str>,
    suffix: Box<str>,
    /// The last eight bytes of a suffix of at least eight, as one word (see `number`).
    suffix_tail: Option<u64>,
    /// Sorted, disjoint; only segments covered by at least one range.
    segments: Vec<Segment<V>>,
}

#[derive(Debug)]
struct Segment<V> {
    lo: u32,
    hi: u32,
    value: V,
}

/// Which string lengths (0..256) occur among the keys of a map: a bit test that saves hashing a
/// candidate that cannot be there, which is most of the wildcard walk.
#[derive(Debug, Default, Clone, Copy)]
struct LenSet([u64; 4]);

impl LenSet {
    fn insert(&mut self, len: usize) {
        if let Some(word) = self.0.get_mut(len / 64) {
            *word |= 1 << (len % 64);
        }
    }

    fn contains(&self, len: usize) -> bool {
        self.0.get(len / 64).is_some_and(|word| word >> (len % 64) & 1 == 1)
    }
}

impl<V> HostIndex<V> {
    /// Builds the index. `resolve` is called exactly once per key (see [`HostIndex::len`]), in a
    /// deterministic order, with the key's representative host. Duplicate patterns are fine.
    pub fn build<I, F>(patterns: I, mut resolve: F) -> HostIndex<V>
    where
        I: IntoIterator<Item = HostPattern>,
        F: FnMut(&str) -> V,
    {
        let patterns: BTreeSet<HostPattern> = patterns.into_iter().collect();
        let mut exacts = Vec::new();
        let mut wildcards = Vec::new();
        let mut spans: BTreeMap<(&str, &str), Vec<(u32, u32)>> = BTreeMap::new();
        for pattern in &patterns {
            match pattern.kind() {
                PatternKind::Exact(host) => exacts.push(host),
                PatternKind::Wildcard { suffix } => wildcards.push(suffix),
                PatternKind::Range { prefix, lo, hi, suffix } => {
                    spans.entry((prefix, suffix)).or_default().push((lo, hi))
                }
            }
        }

        let mut groups = Vec::with_capacity(spans.len());
        for (&(prefix, suffix), ranges) in &spans {
            let mut cuts: Vec<u64> = Vec::with_capacity(ranges.len() * 2);
            for &(lo, hi) in ranges {
                cuts.push(lo.into());
                cuts.push(u64::from(hi) + 1);
            }
            // Other patterns can pin single numbers of this group (module docs); cutting around
            // every candidate is harmless when it turns out not to matter.
            let mut pin = |text: &str| {
                for n in pinned_numbers(text, prefix, suffix).into_iter().flatten() {
                    cuts.push(n.into());
                    cuts.push(u64::from(n) + 1);
                }
            };
            let others = spans.keys().filter(|&&k| k != (prefix, suffix)).flat_map(|&(p, s)| [p, s]);
            for text in exacts.iter().chain(&wildcards).copied().chain(others) {
                pin(text);
            }
            cuts.sort_unstable();
            cuts.dedup();
            let mut segments = Vec::new();
            for pair in cuts.windows(2) {
                let &[start, next] = pair else { continue };
                // `start < next <= 2^32`, so both ends fit a u32; the conversion cannot fail.
                let (Ok(lo), Ok(hi)) = (u32::try_from(start), u32::try_from(next - 1)) else { continue };
                // Every range bound is a cut, so a range covers a segment wholly or not at all.
                if ranges.iter().any(|&(a, b)| a <= lo && hi <= b) {
                    let value = resolve(&format!("{prefix}{lo}{suffix}"));
                    segments.push(Segment { lo, hi, value });
                }
            }
            let suffix_tail = last_word(suffix.as_bytes());
            groups.push(RangeGroup { prefix: prefix.into(), suffix: suffix.into(), suffix_tail, segments });
        }

        let hash = HostHash::new();
        let mut exact = HashMap::with_capacity_and_hasher(exacts.len(), hash);
        let mut exact_lens = LenSet::default();
        for host in exacts {
            let number = range_hit(&groups, host).map(|(_, n)| n);
            exact.insert(HostKey::new(host), ExactEntry { value: resolve(host), number });
            exact_lens.insert(host.len());
        }

        let mut wildcard_map = HashMap::with_capacity_and_hasher(wildcards.len(), hash);
        let mut wildcard_lens = LenSet::default();
        for suffix in wildcards {
            wildcard_map.insert(HostKey::new(suffix), resolve(&format!("*.{suffix}")));
            wildcard_lens.insert(suffix.len());
        }

        HostIndex { exact, exact_lens, groups, wildcards: wildcard_map, wildcard_lens }
    }

    /// The value for a normalised host (see `normalize_host`) and, when a range matches it, the
    /// host's number. Exact hosts win over ranges, ranges over wildcards, and a longer wildcard
    /// suffix over a shorter one. Does not allocate.
    pub fn lookup(&self, host: &str) -> Option<(&V, Option<u32>)> {
        if self.exact_lens.contains(host.len()) {
            if let Some(entry) = self.exact.get(host.as_bytes()) {
                return Some((&entry.value, entry.number));
            }
        }
        if let Some((value, n)) = range_hit(&self.groups, host) {
            return Some((value, Some(n)));
        }
        // Left to right over the dots is longest suffix first. A dot at 0 would leave nothing
        // for the `*` to stand for.
        let bytes = host.as_bytes();
        for (dot, _) in bytes.iter().enumerate().skip(1).filter(|&(_, &b)| b == b'.') {
            if self.wildcard_lens.contains(bytes.len() - dot - 1) {
                if let Some(value) = bytes.get(dot + 1..).and_then(|rest| self.wildcards.get(rest)) {
                    return Some((value, None));
                }
            }
        }
        None
    }

    /// Number of keys, which is the number of times `resolve` was called.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcards.len() + self.groups.iter().map(|g| g.segments.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key with its value, sorted by the key's text, for diagnostics: exact hosts as
    /// themselves, wildcards as `*.suffix`, range segments as `prefix{lo..hi}suffix`.
    pub fn keys(&self) -> impl Iterator<Item = (String, &V)> + '_ {
        let exact = self.exact.iter().map(|(h, e)| (h.to_string(), &e.value));
        let wildcards = self.wildcards.iter().map(|(s, v)| (format!("*.{s}"), v));
        let segments = self.groups.iter().flat_map(|g| {
            g.segments.iter().map(move |s| (format!("{}{{{}..{}}}{}", g.prefix, s.lo, s.hi, g.suffix), &s.value))
        });
        let mut all: Vec<(String, &V)> = exact.chain(wildcards).chain(segments).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter()
    }
}

/// A key of both maps: up to 30 bytes inline, so that a lookup compares the key in the entry
/// it has just found instead of following a pointer to an allocation of the key's own (with
/// 10 000 tenants, that pointer was a cache miss on every request). Longer keys live on the heap.
/// Looked up by bytes: the hosts are ASCII, and a `&str` view would need a UTF-8 check.
#[derive(Debug, Clone)]
enum HostKey {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

const INLINE_KEY: usize = 30;

impl HostKey {
    fn new(host: &str) -> HostKey {
        let mut bytes = [0; INLINE_KEY];
        match (bytes.get_mut(..host.len()), u8::try_from(host.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(host.as_bytes());
                HostKey::Inline { len, bytes }
            }
            _ => HostKey::Heap(host.as_bytes().into()),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            HostKey::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            HostKey::Heap(bytes) => bytes,
        }
    }
}

impl std::borrow::Borrow<[u8]> for HostKey {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

// Hash and equality are those of the bytes, as `Borrow` requires.
impl std::hash::Hash for HostKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl PartialEq for HostKey {
    fn eq(&self, other: &HostKey) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for HostKey {}

impl std::fmt::Display for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.bytes()))
    }
}

/// The hash of both maps. SipHash (std's default) is a good part of the lookup budget, and the
/// wildcard walk may probe more than once. Its protection against flooding is not needed here:
/// the keys come from our own configuration and lookups never insert, so a request can at worst
/// land on the longest probe sequence the table already has. What stays is a cheap, strong mix
/// (a folded 64×64→128 multiply per 16 bytes, as in wyhash/foldhash), seeded per build from
/// std's random state so that the bucket layout is not predictable either.
#[derive(Debug, Clone, Copy)]
struct HostHash {
    seed: u64,
    /// Goes into the multiplier; random too, so no input word can cancel it to zero on purpose.
    mix: u64,
}

impl HostHash {
    fn new() -> HostHash {
        let random = RandomState::new();
        HostHash { seed: random.hash_one(1_u8), mix: random.hash_one(2_u8) }
    }
}

impl BuildHasher for HostHash {
    type Hasher = HostHasher;

    fn build_hasher(&self) -> HostHasher {
        HostHasher { state: self.seed, mix: self.mix }
    }
}

#[derive(Debug)]
struct HostHasher {
    state: u64,
    mix: u64,
}

fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

// Fixed-size reads only: a variable-length copy into a padded word compiles to a `memmove` call,
// which was a fifth of a lookup. Out-of-range reads give 0 (they do not happen, see `write`).
fn read8(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_le_bytes)
}

fn read4(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

impl Hasher for HostHasher {
    fn write(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        // The last (up to) 16 bytes as two words, read overlapping where shorter; together with
        // the length this identifies the tail uniquely.
        let (a, b) = if len > 16 {
            let mut at = 0;
            while len - at > 16 {
                self.state = fold_mul(self.state ^ read8(bytes, at), self.mix ^ read8(bytes, at + 8));
                at += 16;
            }
            (read8(bytes, len - 16), read8(bytes, len - 8))
        } else if len >= 8 {
            (read8(bytes, 0), read8(bytes, len - 8))
        } else if len >= 4 {
            (read4(bytes, 0), read4(bytes, len - 4))
        } else {
            let byte = |i: usize| bytes.get(i).map_or(0, |&b| u64::from(b));
            (byte(0) << 16 | byte(len / 2) << 8 | byte(len.wrapping_sub(1)), 0)
        };
        self.state = fold_mul(self.state ^ a, self.mix ^ b ^ (len as u64).rotate_right(8));
    }

    // `str`'s `Hash` appends one 0xff byte; after the mix in `write`, xoring it in is enough
    // (it only permutes hash values, so it cannot make two keys collide).
    fn write_u8(&mut self, i: u8) {
        self.state ^= u64::from(i);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

/// The first group with a segment containing the host's number.
fn range_hit<'a, V>(groups: &'a [RangeGroup<V>], host: &str) -> Option<(&'a V, u32)> {
    groups.iter().find_map(|group| {
        let n = group.number(host)?;
        let at = group.segments.partition_point(|s| s.hi < n);
        let segment = group.segments.get(at).filter(|s| s.lo <= n)?;
        Some((&segment.value, n))
    })
}

impl<V> RangeGroup<V> {
    /// `range_number` for this group, with cheap tests in front that reject most hosts of other
    /// groups without calling into `memcmp`: the suffix's last eight bytes compared as one word,
    /// and digits right after the prefix and right before the suffix.
    fn number(&self, host: &str) -> Option<u32> {
        let bytes = host.as_bytes();
        if self.suffix_tail.is_some() && last_word(bytes) != self.suffix_tail {
            return None;
        }
        let start = self.prefix.len();
        let end = bytes.len().checked_sub(self.suffix.len())?;
        let first = bytes.get(start)?;
        let last = bytes.get(end.checked_sub(1)?)?;
        if start >= end || !first.is_ascii_digit() || !last.is_ascii_digit() {
            return None;
        }
        range_number(&self.prefix, &self.suffix, host)
    }
}

/// The last eight bytes as a word, for inputs of at least eight bytes.
fn last_word(bytes: &[u8]) -> Option<u64> {
    let tail = bytes.get(bytes.len().checked_sub(8)?..)?;
    <[u8; 8]>::try_from(tail).ok().map(u64::from_le_bytes)
}

/// Numbers of the group `prefix{..}suffix` that `text` (an exact host, a wildcard's domain or a
/// literal part of another range) could single out: the digit run right after `prefix` when
/// `text` starts with it, and the one right before `suffix` when `text` ends with it.
fn pinned_numbers(text: &str, prefix: &str, suffix: &str) -> [Option<u32>; 2] {
    let after = text.strip_prefix(prefix).map(|rest| {
        let run = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest.as_bytes().get(..run).and_then(parse_decimal)
    });
    let before = text.strip_suffix(suffix).map(|rest| {
        let run = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
        rest.as_bytes().get(rest.len() - run..).and_then(parse_decimal)
    });
    [after.flatten(), before.flatten()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(texts: &[&str]) -> Vec<HostPattern> {
        let parsed: Result<Vec<_>, _> = texts.iter().map(|t| HostPattern::parse(t)).collect();
        match parsed {
            Ok(p) => p,
            Err(e) => panic!("bad pattern in test: {e}"),
        }
    }

    /// The reference answer: every pattern (canonical text) that matches `host`, sorted.
    fn matching(patterns: &[HostPattern], host: &str) -> Vec<String> {
        let mut out: Vec<String> = patterns.iter().filter(|p| p.matches(host)).map(|p| p.to_string()).collect();
        out.sort();
        out.dedup();
        out
    }

    mod precedence {
        use super::*;

        /// The value is the representative the key was resolved with.
        fn check(index: &HostIndex<String>, host: &str, expected: Option<(&str, Option<u32>)>) {
            let got = index.lookup(host).map(|(v, n)| (v.as_str(), n));
            assert_eq!(got, expected, "host {host:?}");
        }

        #[test]
        fn exact_beats_range_beats_wildcard() {
            let texts = ["www325.x.de", "www{324..330}.x.de", "*.x.de", "*.de", "*.b.x.de", "a.b.x.de"];
            let index = HostIndex::build(patterns(&texts), str::to_string);
            check(&index, "www325.x.de", Some(("www325.x.de", Some(325))));
            check(&index, "www324.x.de", Some(("www324.x.de", Some(324))));
            check(&index, "www326.x.de", Some(("www326.x.de", Some(326))));
            check(&index, "www330.x.de", Some(("www326.x.de", Some(330))));
            check(&index, "www331.x.de", Some(("*.x.de", None)));
            check(&index, "www323.x.de", Some(("*.x.de", None)));
            check(&index, "www0324.x.de", Some(("*.x.de", None)));
            check(&index, "www99999999999999999999999999999.x.de", Some(("*.x.de", None)));
            check(&index, "www.x.de", Some(("*.x.de", None)));
            check(&index, "a.b.x.de", Some(("a.b.x.de", None)));
            check(&index, "c.b.x.de", Some(("*.b.x.de", None)));
            check(&index, "a.c.b.x.de", Some(("*.b.x.de", None)));
            check(&index, "a.c.x.de", Some(("*.x.de", None)));
            check(&index, "b.x.de", Some(("*.x.de", None)));
            check(&index, "x.de", Some(("*.de", None)));
            check(&index, "de", None);
            check(&index, ".de", None);
            check(&index, "", None);
            check(&index, "example.com", None);
            check(&index, "x.de.example.com", None);
        }

        /// Keys up to 30 bytes are kept inline, longer ones on the heap: both are found, and
        /// neither is taken for the other.
        #[test]
        fn short_and_long_keys() {
            // `len` bytes in labels of eight letters.
            let host = |len: usize| {
                let name: String = "abcdefgh.".chars().cycle().take(len - 4).collect();
                format!("{name}x.de")
            };
            let (h29, h30, h31, h80) = (host(29), host(30), host(31), host(80));
            let long_suffix = format!("{}.example", "b".repeat(40));
            let wildcard = format!("*.{long_suffix}");
            let texts = [h29.as_str(), &h30, &h31, &h80, &wildcard, "*.short.de"];
            let index = HostIndex::build(patterns(&texts), str::to_string);
            for h in [&h29, &h30, &h31, &h80] {
                check(&index, h, Some((h, None)));
            }
            check(&index, &host(32), None);
            check(&index, &format!("x.{long_suffix}"), Some((&wildcard, None)));
            check(&index, "x.short.de", Some(("*.short.de", None)));
            let keys: Vec<String> = index.keys().map(|(k, _)| k).collect();
            assert!(keys.contains(&h80) && keys.contains(&h30) && keys.contains(&wildcard), "{keys:?}");
        }
    }

    mod segmentation {
        use super::*;

        fn check(index: &HostIndex<Vec<String>>, n: u32, expected: &[&str]) {
            let host = format!("www{n}.x.de");
            let got = index.lookup(&host);
            if expected.is_empty() {
                assert!(got.is_none(), "{host} gave {got:?}");
            } else {
                assert_eq!(got, Some((&expected.iter().map(|s| s.to_string()).collect(), Some(n))), "{host}");
            }
        }

        #[test]
        fn overlapping_ranges() {
            let all = patterns(&["www{310..316}.x.de", "www{300..400}.x.de", "www{324..330}.x.de"]);
            let mut calls = 0;
            let index = HostIndex::build(all.clone(), |rep| {
                calls += 1;
                matching(&all, rep)
            });
            let wide = "www{300..400}.x.de";
            check(&index, 299, &[]);
            check(&index, 300, &[wide]);
            check(&index, 309, &[wide]);
            check(&index, 310, &[wide, "www{310..316}.x.de"]);
            check(&index, 316, &[wide, "www{310..316}.x.de"]);
            check(&index, 317, &[wide]);
            check(&index, 323, &[wide]);
            check(&index, 324, &[wide, "www{324..330}.x.de"]);
            check(&index, 330, &[wide, "www{324..330}.x.de"]);
            check(&index, 331, &[wide]);
            check(&index, 400, &[wide]);
            check(&index, 401, &[]);
            let keys: Vec<String> = index.keys().map(|(k, _)| k).collect();
            let expected = [
                "www{300..309}.x.de",
                "www{310..316}.x.de",
                "www{317..323}.x.de",
                "www{324..330}.x.de",
                "www{331..400}.x.de",
            ];
            assert_eq!(keys, expected);
            assert_eq!((index.len(), calls), (5, 5));
        }

        #[test]
        fn ranges_at_the_ends_of_u32() {
            let all = patterns(&["n{0..4294967295}.x", "n{4294967295..4294967295}.x", "n{0..0}.x"]);
            let index = HostIndex::build(all.clone(), |rep| matching(&all, rep));
            let keys: Vec<String> = index.keys().map(|(k, _)| k).collect();
            assert_eq!(keys, ["n{0..0}.x", "n{1..4294967294}.x", "n{4294967295..4294967295}.x"]);
            let found = |host: &str| index.lookup(host).map(|(v, n)| (v.len(), n));
            assert_eq!(found("n0.x"), Some((2, Some(0))));
            assert_eq!(found("n7.x"), Some((1, Some(7))));
            assert_eq!(found("n4294967295.x"), Some((2, Some(u32::MAX))));
            assert_eq!(found("n4294967296.x"), None);
        }
    }

    /// Tricky pattern sets against the reference: for every host tried, the index must give the
    /// value `resolve` computed for a representative matched by exactly the same patterns.
    mod agrees_with_brute_force {
        use super::*;

        fn check(texts: &[&str], hosts: &[String]) {
            let all = patterns(texts);
            let index = HostIndex::build(all.clone(), |rep| matching(&all, rep));
            for host in hosts {
                let expected = matching(&all, host);
                let got = index.lookup(host);
                if expected.is_empty() {
                    assert!(got.is_none(), "{host:?} gave {got:?} for {texts:?}");
                    continue;
                }
                let Some((value, number)) = got else { panic!("{host:?} not found, expected {expected:?}") };
                assert_eq!(value, &expected, "{host:?} in {texts:?}");
                let numbers: Vec<u32> = all.iter().filter_map(|p| p.number(host)).collect();
                match number {
                    Some(n) => assert!(numbers.contains(&n), "{host:?}: number {n} not among {numbers:?}"),
                    None => assert!(numbers.is_empty(), "{host:?}: no number though ranges give {numbers:?}"),
                }
            }
        }

        /// Hosts around every interesting number, in a few shapes.
        fn hosts(shapes: &[&str], numbers: impl IntoIterator<Item = u32> + Clone) -> Vec<String> {
            let mut out = Vec::new();
            for shape in shapes {
                for n in numbers.clone() {
                    out.push(shape.replace('#', &n.to_string()));
                }
                out.push(shape.replace('#', "0"));
                out.push(shape.replace('#', "007"));
                out.push(shape.replace('#', ""));
                out.push(shape.replace('#', "99999999999999999999"));
            }
            out
        }

        #[test]
        fn pinned_by_wildcard() {
            let texts = ["a.www{1..20}.x.de", "*.www15.x.de", "*.x.de", "*.www7.x.de", "www{3..7}.x.de"];
            check(&texts, &hosts(&["a.www#.x.de", "b.a.www#.x.de", "www#.x.de"], 0..25));
        }

        #[test]
        fn pinned_by_other_group() {
            let texts = ["a{1..5}.b7.x", "a3.b{1..9}.x", "a{2..4}.b8.x", "*.x"];
            let mut all = hosts(&["a#.b7.x", "a#.b8.x", "a3.b#.x"], 0..12);
            all.extend(hosts(&["a#.b#.x"], 0..12));
            check(&texts, &all);
        }

        #[test]
        fn pinned_by_exact() {
            // `www300` and `www320` are the low ends of segments, so they would be their representatives.
            let texts = [
                "www{300..400}.x.de",
                "www300.x.de",
                "www320.x.de",
                "www325.x.de",
                "www{320..330}.x.de",
                "*.x.de",
                "{1..9}.x.de",
            ];
            check(&texts, &hosts(&["www#.x.de", "#.x.de"], (0..12).chain(295..405)));
        }

        #[test]
        fn number_of_one_group_in_the_literal_of_another() {
            let texts = ["x{1..9}.y5.z", "x5.y{1..9}.z", "x{3..4}.y7.z", "x7.y{3..4}.z", "*.y5.z", "*.x5.y5.z", "*.z"];
            let all: Vec<String> = (0..11).flat_map(|a| (0..11).map(move |b| format!("x{a}.y{b}.z"))).collect();
            check(&texts, &all);
            check(&texts, &hosts(&["x#.y5.z", "x5.y#.z", "w.x#.y5.z", "w.x5.y#.z"], 0..11));
        }

        #[test]
        fn wildcards_of_every_depth() {
            let texts = ["*.com", "*.example.com", "*.a.example.com", "b.a.example.com", "*.b.a.example.com"];
            let shapes = [
                "com",
                "example.com",
                "x.example.com",
                "a.example.com",
                "b.a.example.com",
                "c.b.a.example.com",
                "d.c.b.a.example.com",
                "a.example.co",
                "xample.com",
            ];
            check(&texts, &shapes.map(String::from));
        }
    }

    /// The hash must spread hosts that differ in a digit or two, whatever their length, or
    /// lookups degrade into long probe sequences.
    #[test]
    fn host_hash_spreads() {
        let hash = HostHash::new();
        let mut low_bits = BTreeSet::new();
        for i in 0..10_000 {
            low_bits.insert(hash.hash_one(format!("shop{i}.kunde{}.example.de", i % 97)) & 0xffff);
        }
        // 10 000 random draws from 65 536 give about 9 280 distinct values.
        assert!(low_bits.len() > 9_000, "only {} distinct low 16 bits", low_bits.len());
        let text = "abcdefghijklmnopqrstuvwxyz0123456789.abcdefghijklmnopqrstuvwxyz";
        let by_length: BTreeSet<u64> =
            (0..=text.len()).filter_map(|n| text.get(..n)).map(|t| hash.hash_one(t)).collect();
        assert_eq!(by_length.len(), text.len() + 1);
        let zeros: BTreeSet<u64> = (0..40).map(|n| hash.hash_one("\0".repeat(n))).collect();
        assert_eq!(zeros.len(), 40);
    }

    #[test]
    fn size_and_keys() {
        let empty: HostIndex<u8> = HostIndex::build(Vec::new(), |_| 0);
        assert_eq!((empty.len(), empty.is_empty(), empty.keys().count()), (0, true, 0));
        assert_eq!(empty.lookup("a.de"), None);

        let texts = ["b.de", "*.de", "B.de.", "w{1..3}.de", "w{2..5}.de", "*.DE"];
        let mut reps = Vec::new();
        let index = HostIndex::build(patterns(&texts), |rep| {
            reps.push(rep.to_string());
            reps.len()
        });
        let keys: Vec<(String, usize)> = index.keys().map(|(k, v)| (k, *v)).collect();
        let expected = [("*.de", 5), ("b.de", 4), ("w{1..1}.de", 1), ("w{2..3}.de", 2), ("w{4..5}.de", 3)];
        assert_eq!(keys, expected.map(|(k, v)| (k.to_string(), v)));
        assert_eq!(reps, ["w1.de", "w2.de", "w4.de", "b.de", "*.de"]);
        assert_eq!((index.len(), index.is_empty()), (5, false));
    }
}
