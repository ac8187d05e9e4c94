//! The status host's answers, rendered once per (generation, minute, language, tenant) and then
//! served as shared bytes, so a flood of the status page costs what a maintenance page does.
//!
//! Owns [`StatusCache`]: one slot per (rendering, language) — the page, `status.json`,
//! `feed.atom`, `calendar.ics` — and one per (public tenant's calendar, language), each holding
//! the latest [`Rendered`] (the answer as made and, when that is smaller, gzip-coded) with the
//! generation and minute it was rendered for. A hit is an `ArcSwap` load and a clone of the
//! answer the client takes (its body and validators are shared bytes): no lock, no rendering,
//! no compression. What the client's request adds to an answer (a feed's links carry the client's
//! scheme and port; a `status.json` page its `from`) is the slot's *variant*: another variant
//! renders and takes the slot over.
//!
//! A miss renders on the thread that saw it, once: the first request of a new minute claims the
//! slot (one atomic swap) and renders; requests that arrive meanwhile get the previous minute's
//! answer (at most a minute and one rendering old), so a flood does not render per request when
//! the minute turns. Only a slot that has nothing of this generation yet (the first request after
//! a start or a reload) lets concurrent requests render alongside the claimant. Nothing here
//! decides what is rendered (`gateway::statuspage`).

use crate::config::Language;
use crate::gateway::respond::Answer;
use crate::schedule::UnixTime;
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The renderings that have a slot per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Json,
    Feed,
    Calendar,
    /// The calendar of one tenant (its index in the configuration).
    TenantCalendar(u32),
}

/// Which answer a request wants, and of which configuration and instant.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub kind: Kind,
    pub lang: Language,
    pub generation: u64,
    /// The configuration's number of tenants (sizes the calendar slots).
    pub tenants: usize,
    pub now: UnixTime,
}

const FIXED: usize = 4;
const LANGS: usize = Language::ALL.len();

/// What a rendering is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    generation: u64,
    minute: i64,
}

impl Key {
    /// One number per key for the claim (a generation's minutes never collide in practice:
    /// the generation moves the high bits).
    fn token(self) -> u64 {
        self.generation.rotate_left(40) ^ (self.minute as u64)
    }
}

/// One rendering, in the codings it is kept in.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub plain: Answer,
    /// The same content gzip-coded, when that is smaller (`statuspage::gzipped`).
    pub gzip: Option<Answer>,
}

impl Rendered {
    /// The answer for a client that takes gzip (`gzip`) or not.
    fn pick(&self, gzip: bool) -> Answer {
        match (&self.gzip, gzip) {
            (Some(g), true) => g.clone(),
            _ => self.plain.clone(),
        }
    }
}

#[derive(Debug)]
struct Cached {
    key: Key,
    variant: Box<str>,
    rendered: Rendered,
}

#[derive(Debug, Default)]
struct Slot {
    latest: ArcSwapOption<Cached>,
    /// The token of the key being (or last) rendered: the first request of a new key claims it.
    claim: AtomicU64,
}

/// The tenants' calendar slots of one generation (made when its first calendar is asked).
#[derive(Debug)]
struct TenantSlots {
    generation: u64,
    slots: Box<[Slot]>,
}

/// Rendered status answers (see the module doc); one per gateway, shared by both lanes.
#[derive(Debug)]
pub struct StatusCache {
    fixed: [Slot; FIXED * LANGS],
    tenants: ArcSwap<TenantSlots>,
    renders: AtomicU64,
}

impl Default for StatusCache {
    fn default() -> Self {
        StatusCache {
            fixed: std::array::from_fn(|_| Slot::default()),
            tenants: ArcSwap::from_pointee(TenantSlots { generation: u64::MAX, slots: Box::default() }),
            renders: AtomicU64::new(0),
        }
    }
}

fn lang_index(lang: Language) -> usize {
    Language::ALL.iter().position(|l| *l == lang).unwrap_or(0)
}

impl StatusCache {
    /// How many renderings the cache has made (for tests and benchmarks: a flood makes one).
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The answer `wanted` with `variant`, gzip-coded when `gzip` and that was smaller: the
    /// cached one when it was rendered for this generation and minute, else `render`'s (kept
    /// for the next requests).
    pub fn answer(&self, wanted: Wanted, variant: &str, gzip: bool, render: impl FnOnce() -> Rendered) -> Answer {
        let Wanted { kind, lang, generation, tenants, now } = wanted;
        let key = Key { generation, minute: now.div_euclid(60) };
        let held;
        let slot = match kind {
            Kind::TenantCalendar(t) => {
                held = self.tenant_slots(generation, tenants);
                match held.slots.get(t as usize * LANGS + lang_index(lang)) {
                    Some(slot) => slot,
                    None => return self.rendered(render).pick(gzip),
                }
            }
            fixed => {
                let k = match fixed {
                    Kind::Page => 0,
                    Kind::Json => 1,
                    Kind::Feed => 2,
                    _ => 3,
                };
                &self.fixed[k * LANGS + lang_index(lang)]
            }
        };
        let latest = slot.latest.load();
        // Most answers have no variant: then nothing is compared (see `statuspage::below`).
        let same_variant = latest
            .as_ref()
            .filter(|c| c.variant.len() == variant.len() && (variant.is_empty() || &*c.variant == variant));
        if let Some(c) = same_variant {
            if c.key == key {
                return c.rendered.pick(gzip);
            }
            // Stale by the minute only: one request renders, the others keep the last answer.
            if c.key.generation == generation && slot.claim.swap(key.token(), Ordering::AcqRel) == key.token() {
                return c.rendered.pick(gzip);
            }
        }
        let rendered = self.rendered(render);
        let answer = rendered.pick(gzip);
        slot.claim.store(key.token(), Ordering::Release);
        slot.latest.store(Some(Arc::new(Cached { key, variant: variant.into(), rendered })));
        answer
    }

    fn rendered(&self, render: impl FnOnce() -> Rendered) -> Rendered {
        self.renders.fetch_add(1, Ordering::Relaxed);
        render()
    }

    /// The calendar slots of `generation`, made anew when the generation moved on.
    fn tenant_slots(&self, generation: u64, tenants: usize) -> Arc<TenantSlots> {
        let current = self.tenants.load_full();
        if current.generation == generation {
            return current;
        }
        let fresh =
            Arc::new(TenantSlots { generation, slots: (0..tenants * LANGS).map(|_| Slot::default()).collect() });
        // Two requests of a new generation may both make them: the later one wins, the
        // earlier one's renderings are lost once. Never an older generation over a newer one.
        let prev = self.tenants.compare_and_swap(&current, fresh.clone());
        if Arc::ptr_eq(&prev, &current) {
            fresh
        } else {
            if prev.generation == generation {
                Arc::clone(&prev)
            } else {
                fresh
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &'static str) -> impl FnOnce() -> Rendered {
        move || Rendered { plain: Answer::plain(200, text), gzip: None }
    }

    fn body(a: &Answer) -> &[u8] {
        &a.body
    }

    #[test]
    fn renders_once_per_generation_minute_language_and_variant() {
        let cache = StatusCache::default();
        let en = Language::En;
        let get = |generation, now, lang, variant, text| {
            cache.answer(Wanted { kind: Kind::Page, lang, generation, tenants: 0, now }, variant, false, render(text))
        };
        assert_eq!(body(&get(1, 60, en, "", "a")), b"a");
        assert_eq!(body(&get(1, 119, en, "", "b")), b"a", "same minute: the cached bytes");
        assert_eq!(cache.renders(), 1);
        assert_eq!(body(&get(1, 120, en, "", "c")), b"c", "the next minute renders anew");
        assert_eq!(body(&get(2, 120, en, "", "d")), b"d", "so does a new generation");
        assert_eq!(body(&get(2, 120, Language::De, "", "e")), b"e", "and another language");
        assert_eq!(body(&get(2, 120, en, "x", "f")), b"f", "and another variant");
        assert_eq!(body(&get(2, 120, en, "x", "g")), b"f");
        assert_eq!(cache.renders(), 5);
    }

    #[test]
    fn a_client_that_takes_gzip_gets_the_coded_answer_when_there_is_one() {
        let cache = StatusCache::default();
        let wanted = Wanted { kind: Kind::Feed, lang: Language::En, generation: 1, tenants: 0, now: 0 };
        let both = || Rendered { plain: Answer::plain(200, "plain"), gzip: Some(Answer::plain(200, "coded")) };
        assert_eq!(body(&cache.answer(wanted, "", true, both)), b"coded");
        assert_eq!(body(&cache.answer(wanted, "", false, render("x"))), b"plain", "the same rendering, as made");
        assert_eq!(body(&cache.answer(wanted, "", true, render("x"))), b"coded");
        assert_eq!(cache.renders(), 1);
        let page = Wanted { kind: Kind::Page, ..wanted };
        assert_eq!(body(&cache.answer(page, "", true, render("small"))), b"small", "nothing coded: as made");
    }

    #[test]
    fn a_claimed_minute_serves_the_previous_answer_meanwhile() {
        let cache = StatusCache::default();
        let key = Key { generation: 1, minute: 2 };
        let json = |now| Wanted { kind: Kind::Json, lang: Language::En, generation: 1, tenants: 0, now };
        cache.answer(json(60), "", false, render("old"));
        // Another request has claimed minute 2 and is rendering it.
        cache.fixed[LANGS + lang_index(Language::En)].claim.store(key.token(), Ordering::Relaxed);
        let a = cache.answer(json(120), "", false, render("new"));
        assert_eq!(body(&a), b"old");
        assert_eq!(cache.renders(), 1);
    }

    #[test]
    fn tenant_calendars_have_a_slot_each_and_follow_the_generation() {
        let cache = StatusCache::default();
        let cal = |t, generation, text| {
            let wanted = Wanted { kind: Kind::TenantCalendar(t), lang: Language::Nb, generation, tenants: 2, now: 0 };
            cache.answer(wanted, "", false, render(text))
        };
        assert_eq!(body(&cal(0, 1, "a0")), b"a0");
        assert_eq!(body(&cal(1, 1, "a1")), b"a1");
        assert_eq!(body(&cal(0, 1, "x")), b"a0");
        assert_eq!(body(&cal(0, 2, "b0")), b"b0", "a reload forgets them");
        assert_eq!(body(&cal(5, 2, "out")), b"out", "beyond the tenants: rendered, not kept");
        assert_eq!(body(&cal(5, 2, "out2")), b"out2");
    }
}
