//! A scope's merged timeline: the hot-path answer to "is this in maintenance at `now`?".
//!
//! Owns [`Timeline`]: the occurrences of every window that applies to one scope, sorted, merged
//! into blocks (SCHEDULES.md rule 1: overlapping or touching occurrences form one block, and the
//! end reported is the block's end), materialised over a horizon. [`Timeline::verdict`] answers
//! for an instant inside the horizon; outside it, or where the horizon cuts an answer short, it
//! says so (`None`) and the snapshot evaluates afresh around that instant.
//!
//! The hot path: a position hint in one atomic word; a request whose instant still lies in the
//! hinted block or gap costs one load and two compares; otherwise a binary search re-seeds it.
//! The hint is only a hint: any value is checked before use, so races cannot give wrong answers.

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
        let mut blocks: Vec<Block> = Vec::new();
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
        Timeline { horizon, occurrences, blocks, beyond, hint: AtomicU32::new(0) }
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

    /// Position code: `2i + 1` = inside block `i`; `2i` = in the gap before block `i`.
    fn bounds(&self, code: u32) -> Option<(UnixTime, UnixTime)> {
        let i = (code / 2) as usize;
        if code % 2 == 1 {
            self.blocks.get(i).map(|b| (b.start, b.end))
        } else if i <= self.blocks.len() {
            let lo = if i == 0 { UnixTime::MIN } else { self.blocks[i - 1].end };
            let hi = self.blocks.get(i).map_or(UnixTime::MAX, |b| b.start);
            Some((lo, hi))
        } else {
            None
        }
    }

    fn position(&self, now: UnixTime) -> u32 {
        let hinted = self.hint.load(Ordering::Relaxed);
        if let Some((lo, hi)) = self.bounds(hinted) {
            if lo <= now && now < hi {
                return hinted;
            }
        }
        let idx = self.blocks.partition_point(|b| b.start <= now);
        let code = if idx > 0 && now < self.blocks[idx - 1].end { 2 * (idx - 1) + 1 } else { 2 * idx };
        let code = u32::try_from(code).unwrap_or(0);
        self.hint.store(code, Ordering::Relaxed);
        code
    }

    /// The answer at `now`, or `None` when `now` is outside the horizon or the horizon cuts the
    /// answer short (a block running past its end could still be extended by later ones).
    pub fn verdict(&self, now: UnixTime) -> Option<Verdict> {
        if now < self.horizon.0 || now >= self.horizon.1 {
            return None;
        }
        let code = self.position(now);
        let i = (code / 2) as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(start: i64, end: i64, window: u32) -> Occurrence {
        Occurrence { start, end, tentative_from: end, window }
    }

    fn check(t: &Timeline, now: i64, expected: Option<(State, Option<u32>, Option<i64>, Option<i64>, bool)>) {
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

    #[test]
    fn horizon_cut_and_open_end() {
        let t = Timeline::new(vec![occ(900, 1100, 0)], (0, 1000), None);
        assert_eq!(t.verdict(950), None, "a block crossing the horizon end is not trusted");
        let t = Timeline::new(vec![occ(900, OPEN_END, 0)], (0, 1000), None);
        let v = t.verdict(950).expect("open-ended block is exact");
        assert_eq!((v.state, v.until, v.window), (State::Maintenance, None, Some(0)));
    }
}
