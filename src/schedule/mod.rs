//! Schedules: from a window's rule to merged UTC timelines (SCHEDULES.md).
//!
//! `wallclock` maps local times to UTC (the one DST formula), `rule` turns rules into local start
//! dates, `occurrence` expands one window into UTC intervals, `timeline` merges the intervals of a
//! scope and answers for an instant. Nothing here knows about hosts, tenants or HTTP.

pub mod occurrence;
pub mod rule;
pub mod timeline;
pub mod wallclock;

pub use occurrence::{Expanded, Occurrence, Schedule, UnixTime, OPEN_END};
pub use rule::{Calendar, Except, MonthDay, Rule, Slot, SlotEnd, WeekdaySet};
pub use timeline::{State, Timeline, Verdict};
pub use wallclock::{resolve, Resolution, WallTime};
