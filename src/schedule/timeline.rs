//! A scope's merged timeline: the hot-path answer to "is this in maintenance at `now`?".
//!
//! Owns [`Timeline`]: the occurrences of every window that applies to one scope, sorted, merged
//! into blocks (SCHEDULES.md rule 1: overlapping or touching occurrences form one block, and the
//! end reported is the block's end), materialised over a horizon. [`Timeline::verdict`] answers
//! for an instant inside the horizon; outside it, or where the horizon cuts an answer short, it
//! says so (`None`) and the snapshot evaluates afresh around that instant.
//!
//! The hot path: a position hint in one atomic word; a request whose instant still lies in the
//! hinted block or gap costs one load and two compares; otherwise a bucket index re-seeds it.
//! The hint is only a hint: any value is checked before use, so races cannot give wrong answers.
//!
//! Layout, for the request path with thousands of timelines mostly out of cache: a small index
//! of fixed-width time buckets says which few blocks can hold an instant, so a miss of the hint
//! reads about two cache lines (bucket, blocks) instead of one per step of a binary search. The
//! hint check and the verdict read those same blocks.

use super::occurrence::{Occurrence, UnixTime, OPEN_END};
use std::sync::atomic::{AtomicU32, Ordering};

/// Maximal run of overlapping or touching occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: UnixTime,
    pub end: UnixTime,
    /// Latest end of the firm (non-tentative) parts.
    pub firm_end: UnixTime,
    /// Latest end of an occurrence with a tentative part; `UnixTime::MIN` when none.
    pub tentative_until: UnixTime,
    /// Occurrences of this block: `occurrences[first..last]`.
    pub first: u32,
    pub last: u32,
}

/// Whether a scope is in maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Maintenance,
}

/// The timeline's answer for one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    /// Window in force (the one containing `now` that lasts longest), when in maintenance.
    pub window: Option<u32>,
    /// Start of the merged block in force.
    pub since: Option<UnixTime>,
    /// End of the merged block; `None` when open-ended or when open.
    pub until: Option<UnixTime>,
    /// End of the firm part of the block, when it ends before `until` (rest is "possible").
    pub firm_until: Option<UnixTime>,
    /// Start of the next block, when open (`None`: none known within the search limit).
    pub next_start: Option<UnixTime>,
    pub next_window: Option<u32>,
    /// In maintenance: the rest of the block has a tentative part. Open: the next block has.
    pub tentative: bool,
}

impl Verdict {
    pub fn is_maintenance(&self) -> bool {
        self.state == State::Maintenance
    }
}

/// Merged, sorted maintenance blocks of one scope over `[horizon.0, horizon.1)`.
#[derive(Debug)]
pub struct Timeline {
    horizon: (UnixTime, UnixTime),
    occurrences: Vec<Occurrence>,
    blocks: Vec<Block>,
    /// `buckets[k]`: the number of blocks that start before `horizon.0 + (k << shift)`. An
    /// instant in bucket `k` lies after the starts of all those, and of at most
    /// `blocks[buckets[k]..buckets[k + 1]]` besides (a couple, see `bucket_index`).
    buckets: Box<[u32]>,
    shift: u32,
    /// First occurrence start at or after `horizon.1`, with its window.
    beyond: Option<(UnixTime, u32)>,
    hint: AtomicU32,
}

impl Timeline {
    /// Builds from every occurrence that intersects the horizon (any order).
    pub fn new(
        mut occurrences: Vec<Occurrence>,
        horizon: (UnixTime, UnixTime),
        beyond: Option<(UnixTime, u32)>,
    ) -> Timeline {
        occurrences.sort_by_key(|o| (o.start, o.end, o.window));
        occurrences.dedup();
        // Count first, so that the blocks are allocated once at their final size.
        let mut count = 0usize;
        let mut reach = UnixTime::MIN;
        for (i, o) in occurrences.iter().enumerate() {
            if i == 0 || o.start > reach {
                count += 1;
            }
            reach = reach.max(o.end);
        }
        let mut blocks: Vec<Block> = Vec::with_capacity(count);
        for (i, o) in occurrences.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let tentative_until = if o.tentative_from < o.end { o.end } else { UnixTime::MIN };
            match blocks.last_mut() {
                Some(b) if o.start <= b.end => {
                    b.end = b.end.max(o.end);
                    b.firm_end = b.firm_end.max(o.firm_end());
                    b.tentative_until = b.tentative_until.max(tentative_until);
                    b.last = i + 1;
                }
                _ => blocks.push(Block {
                    start: o.start,
                    end: o.end,
                    firm_end: o.firm_end(),
                    tentative_until,
                    first: i,
                    last: i + 1,
                }),
            }
        }
        let (buckets, shift) = bucket_index(&blocks, horizon);
        Timeline { horizon, occurrences, blocks, buckets, shift, beyond, hint: AtomicU32::new(0) }
    }

    pub fn horizon(&self) -> (UnixTime, UnixTime) {
        self.horizon
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn occurrences(&self) -> &[Occurrence] {
        &self.occurrences
    }

    pub fn occurrences_of(&self, block: &Block) -> &[Occurrence] {
        self.occurrences.get(block.first as usize..block.last as usize).unwrap_or(&[])
    }

    /// Whether `now` lies at position `code`: `2i + 1` = inside block `i`; `2i` = in the gap
    /// before block `i` (or after the last one).
    fn holds(&self, code: usize, now: UnixTime) -> bool {
        let i = code / 2;
        if code % 2 == 1 {
            return self.blocks.get(i).is_some_and(|b| b.start <= now && now < b.end);
        }
        let after_previous = match i.checked_sub(1) {
            None => true,
            Some(p) => self.blocks.get(p).is_some_and(|b| b.end <= now),
        };
        let before_next = match self.blocks.get(i) {
            Some(b) => now < b.start,
            None => i == self.blocks.len(),
        };
        after_previous && before_next
    }

    /// The position code of `now` (see `holds`).
    fn locate(&self, now: UnixTime) -> usize {
        // The number of blocks that start at or before `now`.
        let started = self.bucket(now).map_or_else(
            || self.blocks.partition_point(|b| b.start <= now),
            |(lo, part)| lo + part.partition_point(|b| b.start <= now),
        );
        match started.checked_sub(1).and_then(|i| self.blocks.get(i)) {
            Some(b) if now < b.end => 2 * started - 1,
            _ => 2 * started,
        }
    }

    /// The blocks whose start may lie between the start of `now`'s bucket and `now`, with the
    /// index of the first; `None` outside the horizon.
    fn bucket(&self, now: UnixTime) -> Option<(usize, &[Block])> {
        if now < self.horizon.0 || now >= self.horizon.1 {
            return None;
        }
        let k = now.abs_diff(self.horizon.0).checked_shr(self.shift).unwrap_or(0);
        let k = usize::try_from(k).ok()?;
        let lo = *self.buckets.get(k)? as usize;
        let hi = *self.buckets.get(k.checked_add(1)?)? as usize;
        Some((lo, self.blocks.get(lo..hi)?))
    }

    fn position(&self, now: UnixTime) -> usize {
        let hinted = self.hint.load(Ordering::Relaxed) as usize;
        if self.holds(hinted, now) {
            return hinted;
        }
        let code = self.locate(now);
        // A code too large for the hint (four billion blocks) is simply not remembered.
        if let Ok(c) = u32::try_from(code) {
            self.hint.store(c, Ordering::Relaxed);
        }
        code
    }

    /// The answer at `now`, or `None` when `now` is outside the horizon or the horizon cuts the
    /// answer short (a block running past its end could still be extended by later ones).
    pub fn verdict(&self, now: UnixTime) -> Option<Verdict> {
        if now < self.horizon.0 || now >= self.horizon.1 {
            return None;
        }
        let code = self.position(now);
        let i = code / 2;
        if code % 2 == 1 {
            let b = self.blocks.get(i)?;
            if b.end != OPEN_END && b.end >= self.horizon.1 {
                return None;
            }
            // The window in force: among occurrences containing `now`, the one lasting longest
            // (it explains the end); a block rarely holds more than a couple.
            let window = self
                .occurrences_of(b)
                .iter()
                .filter(|o| o.contains(now))
                .max_by_key(|o| (o.end, std::cmp::Reverse(o.start)))
                .map(|o| o.window);
            let until = (b.end != OPEN_END).then_some(b.end);
            let firm_until = (b.firm_end < b.end && b.firm_end > now).then_some(b.firm_end);
            Some(Verdict {
                state: State::Maintenance,
                window,
                since: Some(b.start),
                until,
                firm_until,
                next_start: None,
                next_window: None,
                tentative: b.tentative_until > now,
            })
        } else {
            let (next_start, next_window, tentative) = match self.blocks.get(i) {
                Some(b) => {
                    let first = self.occurrences.get(b.first as usize).map(|o| o.window);
                    (Some(b.start), first, b.tentative_until != UnixTime::MIN)
                }
                None => (self.beyond.map(|b| b.0), self.beyond.map(|b| b.1), false),
            };
            Some(Verdict {
                state: State::Open,
                window: None,
                since: None,
                until: None,
                firm_until: None,
                next_start,
                next_window,
                tentative,
            })
        }
    }
}

/// The bucket index over `blocks` (see [`Timeline`]): the smallest power-of-two bucket width
/// that needs no more buckets than there are blocks, so the index costs at most a `u32` per
/// block, and a bucket holds the starts of one or two blocks on average.
fn bucket_index(blocks: &[Block], horizon: (UnixTime, UnixTime)) -> (Box<[u32]>, u32) {
    // Without an index (an empty horizon, or more blocks than a `u32` counts), every search
    // is a binary search over all blocks.
    if horizon.1 <= horizon.0 || u32::try_from(blocks.len()).is_err() {
        return (Box::new([]), 0);
    }
    let span = horizon.1.abs_diff(horizon.0);
    let most = blocks.len().max(1) as u64;
    // Buckets needed to cover `[horizon.0, horizon.1)` at width `1 << shift`.
    let needed = |shift: u32| (span - 1).checked_shr(shift).unwrap_or(0) + 1;
    let mut shift = 0u32;
    while needed(shift) > most {
        shift += 1;
    }
    let count = needed(shift);
    let mut buckets = Vec::with_capacity(usize::try_from(count + 1).unwrap_or(0));
    let mut before = 0usize;
    for k in 0..=count {
        // i128: `horizon.0 + (k << shift)` may lie past `i64::MAX` for the last bucket.
        let bound = i128::from(horizon.0) + (i128::from(k) << shift);
        while blocks.get(before).is_some_and(|b| i128::from(b.start) < bound) {
            before += 1;
        }
        buckets.push(u32::try_from(before).unwrap_or(u32::MAX));
    }
    (buckets.into_boxed_slice(), shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(start: i64, end: i64, window: u32) -> Occurrence {
        Occurrence { start, end, tentative_from: end, window }
    }

    /// (state, window in force or next, until, next start, tentative).
    type Seen = (State, Option<u32>, Option<i64>, Option<i64>, bool);

    fn check(t: &Timeline, now: i64, expected: Option<Seen>) {
        let got = t.verdict(now).map(|v| (v.state, v.window.or(v.next_window), v.until, v.next_start, v.tentative));
        assert_eq!(got, expected, "at {now}");
    }

    #[test]
    fn merges_overlapping_and_touching() {
        use State::*;
        let t = Timeline::new(
            vec![
                occ(100, 200, 0),
                occ(200, 300, 1),
                occ(250, 260, 2),
                occ(400, 500, 3),
                Occurrence { start: 600, end: 700, tentative_from: 650, window: 4 },
            ],
            (0, 1000),
            Some((2000, 9)),
        );
        assert_eq!(t.blocks().len(), 3);
        let cases = [
            (0, Some((Open, Some(0), None, Some(100), false))),
            (99, Some((Open, Some(0), None, Some(100), false))),
            (100, Some((Maintenance, Some(0), Some(300), None, false))),
            // back-to-back windows: the end is the merged end, never a 0-second gap
            (199, Some((Maintenance, Some(0), Some(300), None, false))),
            (200, Some((Maintenance, Some(1), Some(300), None, false))),
            (255, Some((Maintenance, Some(1), Some(300), None, false))),
            (300, Some((Open, Some(3), None, Some(400), false))),
            (550, Some((Open, Some(4), None, Some(600), true))),
            (620, Some((Maintenance, Some(4), Some(700), None, true))),
            (700, Some((Open, Some(9), None, Some(2000), false))),
            (1000, None),
            (-1, None),
        ];
        for (now, expected) in cases {
            check(&t, now, expected);
        }
        // and in reverse order, so the hint is exercised both ways
        for (now, expected) in cases.iter().rev() {
            check(&t, *now, *expected);
        }
    }

    /// The position by definition: blocks started at or before `now`, and whether the last of
    /// them still runs.
    fn scanned(t: &Timeline, now: i64) -> usize {
        let started = t.blocks().iter().filter(|b| b.start <= now).count();
        let inside = t.blocks().iter().any(|b| b.start <= now && now < b.end);
        2 * started - usize::from(inside)
    }

    /// Pseudo-random occurrences (xorshift, so the test is deterministic) of every density.
    fn random_timeline(seed: u64, horizon: (i64, i64)) -> Timeline {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m) as i64
        };
        let count = next(60);
        let span = (horizon.1 - horizon.0) as u64 + 400;
        let occ = (0..count)
            .map(|w| {
                let start = horizon.0 - 200 + next(span);
                let end = start + 1 + next(if w % 5 == 0 { 300 } else { 20 });
                occ(start, end, w as u32)
            })
            .collect();
        Timeline::new(occ, horizon, None)
    }

    #[test]
    fn positions_agree_with_a_scan() {
        for seed in 0..300u64 {
            let horizon = (1_000, 1_000 + 1 + (seed as i64 * 37) % 2_000);
            let t = random_timeline(seed, horizon);
            let mut instants: Vec<i64> = (horizon.0 - 5..horizon.1 + 5).step_by(3).collect();
            for b in t.blocks() {
                instants.extend([b.start - 1, b.start, b.end - 1, b.end]);
            }
            for &now in &instants {
                let expected = scanned(&t, now);
                assert_eq!(t.locate(now), expected, "seed {seed} at {now}");
                assert!(t.holds(expected, now), "seed {seed} at {now}");
                // Every other position is refused, so a stale hint is always re-seeded.
                for other in 0..=2 * t.blocks().len() + 2 {
                    assert_eq!(t.holds(other, now), other == expected, "seed {seed} at {now}, code {other}");
                }
            }
            // Through the hint, in an order that invalidates it often, against a search without it.
            let unhinted = random_timeline(seed, horizon);
            for &now in instants.iter().rev().chain(instants.iter().step_by(2)) {
                unhinted.hint.store(u32::MAX, Ordering::Relaxed);
                assert_eq!(t.verdict(now), unhinted.verdict(now), "seed {seed} at {now}");
            }
        }
    }

    #[test]
    fn extreme_horizons() {
        let t = Timeline::new(vec![occ(-5, 5, 0), occ(i64::MAX - 10, i64::MAX - 1, 1)], (i64::MIN, i64::MAX), None);
        for now in [i64::MIN, -6, -5, 4, 5, i64::MAX - 11, i64::MAX - 10, i64::MAX - 2] {
            assert_eq!(t.locate(now), scanned(&t, now), "at {now}");
        }
        assert_eq!(t.verdict(0).map(|v| v.since), Some(Some(-5)));
        assert_eq!(t.verdict(i64::MIN).map(|v| v.next_start), Some(Some(-5)));
        // An empty horizon answers nothing; an empty timeline is open throughout.
        assert_eq!(Timeline::new(vec![occ(1, 2, 0)], (10, 10), None).verdict(10), None);
        let empty = Timeline::new(Vec::new(), (0, 100), Some((500, 3)));
        assert_eq!(
            empty.verdict(50).map(|v| (v.state, v.next_start, v.next_window)),
            Some((State::Open, Some(500), Some(3)))
        );
    }

    #[test]
    fn horizon_cut_and_open_end() {
        let t = Timeline::new(vec![occ(900, 1100, 0)], (0, 1000), None);
        assert_eq!(t.verdict(950), None, "a block crossing the horizon end is not trusted");
        let t = Timeline::new(vec![occ(900, OPEN_END, 0)], (0, 1000), None);
        let v = t.verdict(950).expect("open-ended block is exact");
        assert_eq!((v.state, v.until, v.window), (State::Maintenance, None, Some(0)));
    }
}
