//! SCHEDULES.md rule by rule: configuration text → `load_str` → `Snapshot` → `decide`, with
//! concrete UTC instants worked out by hand (CET = UTC+1, CEST = UTC+2).
//!
//! Every decision is also checked against snapshots whose horizon lies elsewhere (see
//! `support::decide`), so the materialised and the afresh paths must agree.

use crate::support::{at, check_decisions, decide, load, occurrences};

/// A configuration in `zone` with the given `[[windows]]` (and tenants) text.
fn cfg(zone: &str, body: &str) -> String {
    format!("[defaults]\nzone = \"{zone}\"\n\n{body}")
}

/// Checks decisions for `target` under a configuration.
fn check(config: &str, target: &str, cases: &[(&str, &str)]) {
    check_decisions(&load(config), target, cases);
}

/// Checks the occurrences of window `id` between two instants.
fn check_occ(config: &str, id: &str, from: &str, to: &str, expected: &[&str]) {
    let got = occurrences(&load(config), id, at(from), at(to));
    assert_eq!(got, expected, "occurrences of {id} in [{from}, {to})\n{config}");
}

// Rule 1 and 9: once, multi-day, open-ended.

#[test]
fn once_short_release() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "update"
once = { start = "2024-11-14T00:34", end = "2024-11-14T00:55" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-13T23:33:59Z", "open next 2024-11-13T23:34Z update"),
            ("2024-11-14T00:34+01:00", "maintenance update until 2024-11-13T23:55Z"),
            ("2024-11-13T23:54:59Z", "maintenance update until 2024-11-13T23:55Z"),
            ("2024-11-13T23:55Z", "open"),
            ("2030-01-01T00:00Z", "open"),
        ],
    );
}

#[test]
fn once_multi_day_across_the_autumn_change() {
    // Sat 20:00 CEST → Mon 06:00 CET: the end is read in the zone's winter offset.
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "migration"
once = { start = "2024-10-26T20:00", end = "2024-10-28T06:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-10-26T17:59Z", "open next 2024-10-26T18:00Z migration"),
            ("2024-10-26T18:00Z", "maintenance migration until 2024-10-28T05:00Z"),
            ("2024-10-27T12:00Z", "maintenance migration until 2024-10-28T05:00Z"),
            ("2024-10-28T05:59+01:00", "maintenance migration until 2024-10-28T05:00Z"),
            ("2024-10-28T06:00+01:00", "open"),
        ],
    );
}

#[test]
fn once_open_ended_emergency_and_switched_off() {
    let on = cfg(
        "UTC",
        r#"[[windows]]
id = "emergency-db"
once = { start = "2025-02-10T09:12" }
reason = { de = "Störung der Datenbank", en = "Database incident" }
"#,
    );
    check(
        &on,
        "www324.prozessplattform.de",
        &[
            ("2025-02-10T09:11:59Z", "open next 2025-02-10T09:12Z emergency-db"),
            ("2025-02-10T09:12Z", "maintenance emergency-db until open"),
            ("2025-02-11T00:00Z", "maintenance emergency-db until open"),
            ("2027-06-01T00:00Z", "maintenance emergency-db until open"),
        ],
    );
    // Switching off sets the end and keeps the record.
    let off =
        on.replace("start = \"2025-02-10T09:12\" }", "start = \"2025-02-10T09:12\", end = \"2025-02-10T10:40\" }");
    check(
        &off,
        "www324.prozessplattform.de",
        &[("2025-02-10T09:12Z", "maintenance emergency-db until 2025-02-10T10:40Z"), ("2025-02-10T10:40Z", "open")],
    );
}

#[test]
fn once_with_a_tentative_tail() {
    // seed 004: down on Monday 13 June, possibly also on the 14th (Oslo, CEST).
    let c = cfg(
        "Europe/Oslo",
        r#"[[windows]]
id = "visma-release"
once = { start = "2022-06-13T00:00", end = "2022-06-15T00:00", tentative_from = "2022-06-14T00:00" }
"#,
    );
    check(
        &c,
        "visma.example",
        &[
            ("2022-06-12T21:59Z", "open next 2022-06-12T22:00Z visma-release tentative"),
            ("2022-06-12T22:00Z", "maintenance visma-release until 2022-06-14T22:00Z tentative firm 2022-06-13T22:00Z"),
            ("2022-06-13T21:59Z", "maintenance visma-release until 2022-06-14T22:00Z tentative firm 2022-06-13T22:00Z"),
            ("2022-06-13T22:00Z", "maintenance visma-release until 2022-06-14T22:00Z tentative"),
            ("2022-06-14T22:00Z", "open"),
        ],
    );
}

// Rule 3 and 6: daily, 24:00, crossing midnight.

#[test]
fn daily_in_winter_and_summer() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "nightly"
scope = "all"
daily = { at = "00:34", until = "00:55" }
"#,
    );
    check(
        &c,
        "www400.prozessplattform.de",
        &[
            ("2024-11-14T00:33+01:00", "open next 2024-11-13T23:34Z nightly"),
            ("2024-11-14T00:34+01:00", "maintenance nightly until 2024-11-13T23:55Z"),
            ("2024-11-14T00:54:59+01:00", "maintenance nightly until 2024-11-13T23:55Z"),
            ("2024-11-14T00:55+01:00", "open next 2024-11-14T23:34Z nightly"),
            ("2024-07-01T00:33+02:00", "open next 2024-06-30T22:34Z nightly"),
            ("2024-07-01T00:40+02:00", "maintenance nightly until 2024-06-30T22:55Z"),
            ("2024-07-01T00:55+02:00", "open next 2024-07-01T22:34Z nightly"),
        ],
    );
}

#[test]
fn daily_crossing_midnight_and_ending_at_24() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "night"
daily = { at = "22:30", until = "06:00" }

[[windows]]
id = "evening"
scope = { hosts = ["evening.example"] }
daily = { at = "20:00", until = "24:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T22:29+01:00", "open next 2024-11-05T21:30Z night"),
            ("2024-11-05T23:00+01:00", "maintenance night until 2024-11-06T05:00Z"),
            ("2024-11-06T05:59+01:00", "maintenance night until 2024-11-06T05:00Z"),
            ("2024-11-06T06:00+01:00", "open next 2024-11-06T21:30Z night"),
        ],
    );
    check(
        &c,
        "evening.example",
        &[
            ("2024-11-05T19:59+01:00", "open next 2024-11-05T19:00Z evening"),
            // 20:00–24:00 touches 22:30–06:00? No: 22:30 lies inside it, so one block to 06:00.
            ("2024-11-05T20:00+01:00", "maintenance evening until 2024-11-06T05:00Z"),
            ("2024-11-05T23:59+01:00", "maintenance night until 2024-11-06T05:00Z"),
        ],
    );
    let only_evening = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "evening"
daily = { at = "20:00", until = "24:00" }
"#,
    );
    check(
        &only_evening,
        "any.example",
        &[
            ("2024-11-05T23:59+01:00", "maintenance evening until 2024-11-05T23:00Z"),
            ("2024-11-06T00:00+01:00", "open next 2024-11-06T19:00Z evening"),
            // 24:00 on the spring Saturday is Sunday 00:00 CET, before the gap.
            ("2025-03-29T23:30+01:00", "maintenance evening until 2025-03-29T23:00Z"),
            // and on the spring Sunday itself it is Monday 00:00 CEST.
            ("2025-03-30T23:30+02:00", "maintenance evening until 2025-03-30T22:00Z"),
        ],
    );
}

// Rule 4: `for` is exact elapsed time.

#[test]
fn for_is_exact_elapsed_time() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "backup"
daily = { at = "22:00", for = "1h30m" }

[[windows]]
id = "fold"
scope = { hosts = ["fold.example"] }
dates = { on = ["2024-10-27"], at = "01:30", for = "1h30m" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T22:00+01:00", "maintenance backup until 2024-11-05T22:30Z"),
            ("2024-11-05T23:29+01:00", "maintenance backup until 2024-11-05T22:30Z"),
            ("2024-11-05T23:30+01:00", "open next 2024-11-06T21:00Z backup"),
        ],
    );
    // 01:30 CEST + 90 min = 02:00 CET (the wall clock went through 02:00–03:00 CEST once).
    check_occ(&c, "fold", "2024-10-26T00:00Z", "2024-10-28T00:00Z", &["2024-10-26T23:30Z..2024-10-27T01:00Z"]);
    check(&c, "fold.example", &[("2024-10-27T02:59+02:00", "maintenance fold until 2024-10-27T01:00Z")]);
}

// Rule 6: weekly.

#[test]
fn weekly_night_windows_tuesday_and_wednesday() {
    // seed 001: Tue 22:30 → Wed 06:00 and Wed 22:30 → Thu 06:00 (CET in November).
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "tue-wed-night"
scope = "all"
weekly = { on = ["tue", "wed"], at = "22:30", until = "06:00" }
"#,
    );
    check(
        &c,
        "crm.cmo.example",
        &[
            ("2024-11-04T23:00+01:00", "open next 2024-11-05T21:30Z tue-wed-night"),
            ("2024-11-05T22:29+01:00", "open next 2024-11-05T21:30Z tue-wed-night"),
            ("2024-11-05T22:30+01:00", "maintenance tue-wed-night until 2024-11-06T05:00Z"),
            ("2024-11-06T05:59+01:00", "maintenance tue-wed-night until 2024-11-06T05:00Z"),
            ("2024-11-06T06:00+01:00", "open next 2024-11-06T21:30Z tue-wed-night"),
            ("2024-11-07T03:00+01:00", "maintenance tue-wed-night until 2024-11-07T05:00Z"),
            ("2024-11-07T06:00+01:00", "open next 2024-11-12T21:30Z tue-wed-night"),
            // Summer: CEST.
            ("2024-07-02T22:30+02:00", "maintenance tue-wed-night until 2024-07-03T04:00Z"),
        ],
    );
}

#[test]
fn weekly_with_an_end_weekday() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "tue-night"
weekly = { on = "tue", at = "22:30", until = "wed 06:00" }

[[windows]]
id = "weekend"
scope = { hosts = ["weekend.example"] }
weekly = { on = "fri", at = "18:00", until = "mon 06:00" }

[[windows]]
id = "six-days"
scope = { hosts = ["long.example"] }
weekly = { on = "tue", at = "18:00", until = "tue 06:00" }

[[windows]]
id = "same-day"
scope = { hosts = ["day.example"] }
weekly = { on = "tue", at = "06:00", until = "tue 18:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T22:30+01:00", "maintenance tue-night until 2024-11-06T05:00Z"),
            ("2024-11-06T23:00+01:00", "open next 2024-11-12T21:30Z tue-night"),
        ],
    );
    check(
        &c,
        "weekend.example",
        &[
            ("2024-11-08T17:59+01:00", "open next 2024-11-08T17:00Z weekend"),
            ("2024-11-09T12:00Z", "maintenance weekend until 2024-11-11T05:00Z"),
            ("2024-11-11T05:59+01:00", "maintenance weekend until 2024-11-11T05:00Z"),
            ("2024-11-11T06:00+01:00", "open next 2024-11-12T21:30Z tue-night"),
        ],
    );
    check(
        &c,
        "long.example",
        &[
            ("2024-11-10T12:00Z", "maintenance six-days until 2024-11-12T05:00Z"),
            ("2024-11-12T05:00Z", "open next 2024-11-12T17:00Z six-days"),
        ],
    );
    check(
        &c,
        "day.example",
        &[
            ("2024-11-05T12:00+01:00", "maintenance same-day until 2024-11-05T17:00Z"),
            ("2024-11-05T18:00+01:00", "open next 2024-11-05T21:30Z tue-night"),
        ],
    );
}

#[test]
fn weekly_day_sets() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "mwf"
weekly = { on = ["mon", "wed", "friday"], at = "12:00", for = "30m" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-04T12:15+01:00", "maintenance mwf until 2024-11-04T11:30Z"),
            ("2024-11-05T12:15+01:00", "open next 2024-11-06T11:00Z mwf"),
            ("2024-11-08T12:29+01:00", "maintenance mwf until 2024-11-08T11:30Z"),
            ("2024-11-09T12:15+01:00", "open next 2024-11-11T11:00Z mwf"),
        ],
    );
}

// Rule 6: monthly (days may be skipped, never moved).

#[test]
fn monthly_by_day_number() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "fifteenth"
monthly = { on = 15, at = "10:00", for = "1h" }

[[windows]]
id = "thirty-first"
scope = { hosts = ["d31.example"] }
monthly = { on = 31, at = "10:00", until = "11:00" }

[[windows]]
id = "second-last"
scope = { hosts = ["neg.example"] }
monthly = { on = -2, at = "10:00", for = "1h" }

[[windows]]
id = "last-day"
scope = { hosts = ["last.example"] }
monthly = { on = "last", at = "23:00", until = "24:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-02-15T10:30+01:00", "maintenance fifteenth until 2024-02-15T10:00Z"),
            ("2024-02-16T00:00Z", "open next 2024-03-15T09:00Z fifteenth"),
            ("2024-06-01T00:00Z", "open next 2024-06-15T08:00Z fifteenth"),
        ],
    );
    check(
        &c,
        "d31.example",
        &[
            // no 31 April: skipped, not moved to 1 May or 30 April
            ("2024-04-01T00:00Z", "open next 2024-04-15T08:00Z fifteenth"),
            ("2024-04-16T00:00Z", "open next 2024-05-15T08:00Z fifteenth"),
            ("2024-05-16T00:00Z", "open next 2024-05-31T08:00Z thirty-first"),
            // 31 March 2024 is the spring Sunday: 10:00 CEST
            ("2024-03-31T10:30+02:00", "maintenance thirty-first until 2024-03-31T09:00Z"),
        ],
    );
    check(
        &c,
        "neg.example",
        &[
            ("2024-02-16T00:00Z", "open next 2024-02-28T09:00Z second-last"),
            ("2023-02-16T00:00Z", "open next 2023-02-27T09:00Z second-last"),
        ],
    );
    check(
        &c,
        "last.example",
        &[
            ("2024-02-16T00:00Z", "open next 2024-02-29T22:00Z last-day"),
            ("2024-02-29T23:30+01:00", "maintenance last-day until 2024-02-29T23:00Z"),
            ("2023-02-16T00:00Z", "open next 2023-02-28T22:00Z last-day"),
            ("2024-04-16T00:00Z", "open next 2024-04-30T21:00Z last-day"),
        ],
    );
}

#[test]
fn monthly_by_nth_weekday() {
    let c = cfg(
        "Europe/Oslo",
        r#"[[windows]]
id = "ist-saas"
monthly = { on = "4th tue", at = "17:00", for = "1h" }

[[windows]]
id = "last-fri"
scope = { hosts = ["fri.example"] }
monthly = { on = "last fri", at = "16:00", for = "2h" }

[[windows]]
id = "fifth-tue"
scope = { hosts = ["fifth.example"] }
monthly = { on = "5th tue", at = "10:00", until = "11:00" }

[[windows]]
id = "first-mon"
scope = { hosts = ["first.example"] }
monthly = { on = "1st mon", at = "08:00", until = "09:00" }
"#,
    );
    check(
        &c,
        "saas.example",
        &[
            ("2022-06-01T00:00Z", "open next 2022-06-28T15:00Z ist-saas"),
            ("2022-06-21T17:30+02:00", "open next 2022-06-28T15:00Z ist-saas"),
            ("2022-06-28T17:30+02:00", "maintenance ist-saas until 2022-06-28T16:00Z"),
            ("2024-01-01T00:00Z", "open next 2024-01-23T16:00Z ist-saas"),
        ],
    );
    check(&c, "fri.example", &[("2024-11-25T00:00Z", "open next 2024-11-26T16:00Z ist-saas")]);
    assert_eq!(
        occurrences(&load(&c), "last-fri", at("2024-11-01T00:00Z"), at("2025-01-01T00:00Z")),
        ["2024-11-29T15:00Z..2024-11-29T17:00Z", "2024-12-27T15:00Z..2024-12-27T17:00Z"]
    );
    // 2024 has a 5th Tuesday in Jan, Apr, Jul, Oct and Dec only; the others are skipped.
    assert_eq!(
        occurrences(&load(&c), "fifth-tue", at("2024-01-01T00:00Z"), at("2025-01-01T00:00Z")),
        [
            "2024-01-30T09:00Z..2024-01-30T10:00Z",
            "2024-04-30T08:00Z..2024-04-30T09:00Z",
            "2024-07-30T08:00Z..2024-07-30T09:00Z",
            "2024-10-29T09:00Z..2024-10-29T10:00Z",
            "2024-12-31T09:00Z..2024-12-31T10:00Z",
        ]
    );
    check(&c, "first.example", &[("2024-07-01T08:30+02:00", "maintenance first-mon until 2024-07-01T07:00Z")]);
}

// Rule 6: explicit dates.

#[test]
fn dates_list() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "dc"
dates = { on = ["2024-12-04", "2024-12-02", 2024-11-08], at = "04:30", until = "06:30" }
"#,
    );
    check_occ(
        &c,
        "dc",
        "2024-11-01T00:00Z",
        "2025-01-01T00:00Z",
        &[
            "2024-11-08T03:30Z..2024-11-08T05:30Z",
            "2024-12-02T03:30Z..2024-12-02T05:30Z",
            "2024-12-04T03:30Z..2024-12-04T05:30Z",
        ],
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-12-03T05:00+01:00", "open next 2024-12-04T03:30Z dc"),
            ("2024-12-04T05:00+01:00", "maintenance dc until 2024-12-04T05:30Z"),
            ("2024-12-04T06:30+01:00", "open"),
        ],
    );
}

// Rule 7: except and also, keyed by the local start date.

#[test]
fn except_dates_ranges_and_months() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "nightly"
daily = { at = "00:34", until = "00:55" }
except = { dates = ["2024-11-14", "2024-12-24..2024-12-26"], months = ["jul"] }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-13T00:40+01:00", "maintenance nightly until 2024-11-12T23:55Z"),
            ("2024-11-14T00:40+01:00", "open next 2024-11-14T23:34Z nightly"),
            ("2024-12-23T00:40+01:00", "maintenance nightly until 2024-12-22T23:55Z"),
            ("2024-12-24T00:40+01:00", "open next 2024-12-26T23:34Z nightly"),
            ("2024-12-26T00:40+01:00", "open next 2024-12-26T23:34Z nightly"),
            ("2024-06-30T00:40+02:00", "maintenance nightly until 2024-06-29T22:55Z"),
            ("2024-06-30T01:00+02:00", "open next 2024-07-31T22:34Z nightly"),
            ("2024-07-15T00:40+02:00", "open next 2024-07-31T22:34Z nightly"),
        ],
    );
}

#[test]
fn except_removes_the_tail_of_a_night_window() {
    let excluded_tuesday = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "tue-night"
weekly = { on = "tue", at = "22:30", until = "06:00" }
except = { dates = ["2024-11-05"] }
"#,
    );
    check(
        &excluded_tuesday,
        "any.example",
        &[
            ("2024-11-05T23:00+01:00", "open next 2024-11-12T21:30Z tue-night"),
            ("2024-11-06T03:00+01:00", "open next 2024-11-12T21:30Z tue-night"),
        ],
    );
    // Excluding the Wednesday does not touch the Tuesday occurrence's morning.
    let excluded_wednesday = excluded_tuesday.replace("2024-11-05", "2024-11-06");
    check(
        &excluded_wednesday,
        "any.example",
        &[("2024-11-06T03:00+01:00", "maintenance tue-night until 2024-11-06T05:00Z")],
    );
}

#[test]
fn also_adds_dates_and_except_wins_over_the_rule() {
    // SCHEDULES.md's gat-visma: 3rd Wednesday, 22 June instead of 15 June, no July (Oslo).
    let c = cfg(
        "Europe/Oslo",
        r#"[[windows]]
id = "gat-visma"
monthly = { on = "3rd wed", at = "16:00", until = "19:00" }
except = { dates = ["2022-06-15"], months = ["jul"] }
also = ["2022-06-22"]

[[windows]]
id = "mondays"
scope = { hosts = ["mon.example"] }
weekly = { on = "mon", at = "10:00", for = "1h" }
also = ["2024-11-07"]
"#,
    );
    check(
        &c,
        "gat.example",
        &[
            ("2022-05-18T17:00+02:00", "maintenance gat-visma until 2022-05-18T17:00Z"),
            ("2022-06-01T00:00Z", "open next 2022-06-22T14:00Z gat-visma"),
            ("2022-06-15T17:00+02:00", "open next 2022-06-22T14:00Z gat-visma"),
            ("2022-06-22T16:00+02:00", "maintenance gat-visma until 2022-06-22T17:00Z"),
            ("2022-06-23T00:00Z", "open next 2022-08-17T14:00Z gat-visma"),
            ("2022-12-01T00:00Z", "open next 2022-12-21T15:00Z gat-visma"),
        ],
    );
    check(
        &c,
        "mon.example",
        &[
            ("2024-11-06T00:00Z", "open next 2024-11-07T09:00Z mondays"),
            ("2024-11-07T10:30+01:00", "maintenance mondays until 2024-11-07T10:00Z"),
            ("2024-11-07T11:00+01:00", "open next 2024-11-11T09:00Z mondays"),
        ],
    );
}

// Rule 8: effective bounds.

#[test]
fn from_and_to_bound_the_start_dates() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "tue-night"
weekly = { on = "tue", at = "22:30", until = "06:00" }
from = "2024-11-10"
to = "2024-11-19"
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T23:00+01:00", "open next 2024-11-12T21:30Z tue-night"),
            ("2024-11-12T23:00+01:00", "maintenance tue-night until 2024-11-13T05:00Z"),
            // The occurrence that starts on `to` runs its full length past it.
            ("2024-11-20T05:59+01:00", "maintenance tue-night until 2024-11-20T05:00Z"),
            ("2024-11-20T06:00+01:00", "open"),
        ],
    );
}

// Rule 10: tentative windows.

#[test]
fn tentative_window_is_enforced_and_marked() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "maybe"
weekly = { on = ["tue", "wed"], at = "22:30", until = "06:00" }
tentative = true

[[windows]]
id = "firm"
scope = { hosts = ["firm.example"] }
dates = { on = ["2024-11-06"], at = "06:00", until = "07:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T22:00+01:00", "open next 2024-11-05T21:30Z maybe tentative"),
            ("2024-11-05T22:30+01:00", "maintenance maybe until 2024-11-06T05:00Z tentative"),
        ],
    );
    // A firm hour right after a tentative night: one block; the tentative part is ahead until
    // 06:00, after which only the firm hour remains.
    check(
        &c,
        "firm.example",
        &[
            ("2024-11-05T22:30+01:00", "maintenance maybe until 2024-11-06T06:00Z tentative"),
            ("2024-11-06T06:30+01:00", "maintenance firm until 2024-11-06T06:00Z"),
        ],
    );
}

// Rule 11: scopes.

const SCOPES: &str = r#"[defaults]
zone = "UTC"

[[tenants]]
id = "ppp"
hosts = ["www{310..442}.example.de"]
upstreams = ["10.0.0.5:8{n}"]

[[tenants]]
id = "mandant-a"
hosts = ["www324.example.de"]
path = "/mandant-a"
upstreams = ["a.internal:80"]

[[tenants]]
id = "shop"
hosts = ["*.shop.example"]
upstreams = ["shop.internal:80"]

[[tenants]]
id = "crm"
hosts = ["crm.example"]
upstreams = ["crm.internal:80"]

[[windows]]
id = "all-w"
scope = "all"
once = { start = "2025-01-01T00:00", end = "2025-01-01T01:00" }

[[windows]]
id = "ppp-w"
scope = { tenants = ["ppp"] }
once = { start = "2025-01-02T00:00", end = "2025-01-02T01:00" }

[[windows]]
id = "a-w"
scope = { tenants = ["mandant-a"] }
once = { start = "2025-01-03T00:00", end = "2025-01-03T01:00" }

[[windows]]
id = "range-w"
scope = { hosts = ["www{324..330}.example.de"] }
once = { start = "2025-01-04T00:00", end = "2025-01-04T01:00" }

[[windows]]
id = "wild-w"
scope = { hosts = ["*.shop.example"] }
once = { start = "2025-01-05T00:00", end = "2025-01-05T01:00" }

[[windows]]
id = "exact-w"
scope = { hosts = ["CRM.example."] }
once = { start = "2025-01-06T00:00", end = "2025-01-06T01:00" }

[[windows]]
id = "mixed-w"
scope = { tenants = ["crm"], hosts = ["www400.example.de"] }
once = { start = "2025-01-07T00:00", end = "2025-01-07T01:00" }
"#;

#[test]
fn scopes_all_tenants_hosts_ranges_wildcards_and_paths() {
    let loaded = load(SCOPES);
    // Each window has its own day; probe every day and list the windows in force.
    let probe = |target: &str| -> (Option<String>, Vec<String>) {
        let mut tenant = None;
        let mut ids = Vec::new();
        for day in 1..=7 {
            let (t, v) = decide(&loaded, target, at(&format!("2025-01-0{day}T00:30Z")));
            tenant = t;
            if let Some(rest) = v.strip_prefix("maintenance ") {
                ids.push(rest.split(' ').next().unwrap_or_default().to_string());
            }
        }
        (tenant, ids)
    };
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("www324.example.de", Some("ppp"), &["all-w", "ppp-w", "range-w"]),
        ("www324.example.de/other", Some("ppp"), &["all-w", "ppp-w", "range-w"]),
        ("www324.example.de/mandant-a", Some("mandant-a"), &["all-w", "a-w", "range-w"]),
        ("www324.example.de/mandant-a/x?y", Some("mandant-a"), &["all-w", "a-w", "range-w"]),
        ("WWW324.Example.DE:443/mandant-a", Some("mandant-a"), &["all-w", "a-w", "range-w"]),
        ("www324.example.de/mandant-ab", Some("ppp"), &["all-w", "ppp-w", "range-w"]),
        ("www330.example.de", Some("ppp"), &["all-w", "ppp-w", "range-w"]),
        ("www323.example.de", Some("ppp"), &["all-w", "ppp-w"]),
        ("www331.example.de", Some("ppp"), &["all-w", "ppp-w"]),
        ("www325.example.de/mandant-a", Some("ppp"), &["all-w", "ppp-w", "range-w"]),
        ("www0324.example.de", None, &["all-w"]),
        ("www310.example.de", Some("ppp"), &["all-w", "ppp-w"]),
        ("www442.example.de", Some("ppp"), &["all-w", "ppp-w"]),
        ("www443.example.de", None, &["all-w"]),
        ("www400.example.de", Some("ppp"), &["all-w", "ppp-w", "mixed-w"]),
        ("a.shop.example", Some("shop"), &["all-w", "wild-w"]),
        ("b.a.shop.example", Some("shop"), &["all-w", "wild-w"]),
        ("shop.example", None, &["all-w"]),
        ("crm.example", Some("crm"), &["all-w", "exact-w", "mixed-w"]),
        ("crm.example.", Some("crm"), &["all-w", "exact-w", "mixed-w"]),
        ("unknown.example", None, &["all-w"]),
    ];
    let mut failures = Vec::new();
    for &(target, tenant, ids) in cases {
        let got = probe(target);
        let expected = (tenant.map(str::to_string), ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if got != expected {
            failures.push(format!("{target}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// Rule 1: merged blocks report the merged end.

#[test]
fn back_to_back_and_overlapping_windows_merge() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "first"
daily = { at = "22:00", until = "23:00" }

[[windows]]
id = "second"
daily = { at = "23:00", until = "01:00" }

[[windows]]
id = "extra"
once = { start = "2024-11-06T00:30", end = "2024-11-06T02:00" }

[[windows]]
id = "gap-after"
scope = { hosts = ["gap.example"] }
daily = { at = "01:01", until = "01:30" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            // Never a 0-second gap between 23:00 and 23:00.
            ("2024-11-04T22:30+01:00", "maintenance first until 2024-11-05T00:00Z"),
            ("2024-11-04T23:00+01:00", "maintenance second until 2024-11-05T00:00Z"),
            // The overlapping one-off on the night to 6 November extends the block to 02:00.
            ("2024-11-05T22:30+01:00", "maintenance first until 2024-11-06T01:00Z"),
            ("2024-11-06T00:45+01:00", "maintenance extra until 2024-11-06T01:00Z"),
            ("2024-11-06T02:00+01:00", "open next 2024-11-06T21:00Z first"),
        ],
    );
    // One minute apart is not touching: two blocks.
    check(
        &c,
        "gap.example",
        &[
            ("2024-11-04T22:30+01:00", "maintenance first until 2024-11-05T00:00Z"),
            ("2024-11-05T01:00+01:00", "open next 2024-11-05T00:01Z gap-after"),
        ],
    );
}

#[test]
fn chains_of_touching_days_merge_across_midnight() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "evening"
daily = { at = "20:00", until = "24:00" }

[[windows]]
id = "morning"
daily = { at = "00:00", until = "02:00" }
"#,
    );
    check(
        &c,
        "any.example",
        &[
            ("2024-11-05T21:00+01:00", "maintenance evening until 2024-11-06T01:00Z"),
            ("2024-11-06T00:00+01:00", "maintenance morning until 2024-11-06T01:00Z"),
            ("2024-11-06T02:00+01:00", "open next 2024-11-06T19:00Z evening"),
        ],
    );
}

// Rule 5: DST, in Berlin and Oslo, for 2024, 2025 and 2026.

/// (zone, spring Saturday, spring Sunday, Monday after, autumn Saturday, autumn Sunday).
const DST_DAYS: [(&str, &str, &str, &str, &str, &str); 6] = [
    ("Europe/Berlin", "2024-03-30", "2024-03-31", "2024-04-01", "2024-10-26", "2024-10-27"),
    ("Europe/Berlin", "2025-03-29", "2025-03-30", "2025-03-31", "2025-10-25", "2025-10-26"),
    ("Europe/Berlin", "2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25"),
    ("Europe/Oslo", "2024-03-30", "2024-03-31", "2024-04-01", "2024-10-26", "2024-10-27"),
    ("Europe/Oslo", "2025-03-29", "2025-03-30", "2025-03-31", "2025-10-25", "2025-10-26"),
    ("Europe/Oslo", "2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25"),
];

#[test]
fn dst_gap_and_fold_in_berlin_and_oslo() {
    for (zone, sat, sun, mon, asat, asun) in DST_DAYS {
        // Both transitions happen at 01:00 UTC in these zones. Each window has its own host.
        let windows = [
            ("gap-start", format!(r#"dates = {{ on = ["{sun}"], at = "02:30", until = "04:00" }}"#)),
            (
                "gap-whole",
                format!(
                    r#"daily = {{ at = "02:10", until = "02:50" }}
from = "{sat}"
to = "{mon}""#
                ),
            ),
            ("gap-end", format!(r#"dates = {{ on = ["{sun}"], at = "01:00", until = "02:30" }}"#)),
            ("gap-for", format!(r#"dates = {{ on = ["{sun}"], at = "02:15", for = "30m" }}"#)),
            ("fold", format!(r#"dates = {{ on = ["{asun}"], at = "02:30", until = "03:30" }}"#)),
            ("fold-start", format!(r#"dates = {{ on = ["{asun}"], at = "02:30", for = "30m" }}"#)),
            ("fold-end", format!(r#"dates = {{ on = ["{asun}"], at = "01:30", until = "02:30" }}"#)),
            ("night", r#"weekly = { on = "sat", at = "22:30", until = "06:00" }"#.to_string()),
            ("night-for", r#"weekly = { on = "sat", at = "22:30", for = "8h" }"#.to_string()),
        ];
        let body: String = windows
            .iter()
            .map(|(id, rule)| {
                format!("[[windows]]\nid = \"{id}\"\nscope = {{ hosts = [\"{id}.example\"] }}\n{rule}\n\n")
            })
            .collect();
        let loaded = load(&cfg(zone, &body));
        let occ = |id: &str, from: &str, to: &str| occurrences(&loaded, id, at(from), at(to));
        let (s0, s1) = (format!("{sun}T00:00Z"), format!("{sun}T23:59Z"));
        let (a0, a1) = (format!("{asun}T00:00Z"), format!("{asun}T23:59Z"));
        let (sat12, asat12) = (format!("{sat}T12:00Z"), format!("{asat}T12:00Z"));
        let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
            // a skipped start maps to the transition instant (03:00 local summer time)
            ("gap-start", occ("gap-start", &s0, &s1), vec![format!("{sun}T01:00Z..{sun}T02:00Z")]),
            // wholly inside the gap: dropped; the days around it are normal
            (
                "gap-whole",
                occ("gap-whole", &format!("{sat}T00:00Z"), &format!("{mon}T23:59Z")),
                vec![
                    format!("{sat}T01:10Z..{sat}T01:50Z"),
                    format!("{sun} dropped"),
                    format!("{mon}T00:10Z..{mon}T00:50Z"),
                ],
            ),
            // a skipped end also maps to the transition instant
            ("gap-end", occ("gap-end", &s0, &s1), vec![format!("{sun}T00:00Z..{sun}T01:00Z")]),
            // an exact duration counts from the transition instant
            ("gap-for", occ("gap-for", &s0, &s1), vec![format!("{sun}T01:00Z..{sun}T01:30Z")]),
            // a repeated time means its first pass (summer time); 03:30 exists once (winter time)
            ("fold", occ("fold", &a0, &a1), vec![format!("{asun}T00:30Z..{asun}T02:30Z")]),
            ("fold-start", occ("fold-start", &a0, &a1), vec![format!("{asun}T00:30Z..{asun}T01:00Z")]),
            ("fold-end", occ("fold-end", &asat12, &a1), vec![format!("{asat}T23:30Z..{asun}T00:30Z")]),
            // night windows: 6.5 h elapsed in spring, 8.5 h in autumn
            ("night", occ("night", &sat12, &s1), vec![format!("{sat}T21:30Z..{sun}T04:00Z")]),
            ("night", occ("night", &asat12, &a1), vec![format!("{asat}T20:30Z..{asun}T05:00Z")]),
            // an exact duration is 8 h either way; the wall clock then shows 07:30 and 05:30
            ("night-for", occ("night-for", &sat12, &s1), vec![format!("{sat}T21:30Z..{sun}T05:30Z")]),
            ("night-for", occ("night-for", &asat12, &a1), vec![format!("{asat}T20:30Z..{asun}T04:30Z")]),
        ];
        for (id, got, expected) in cases {
            assert_eq!(got, expected, "{zone} {id}");
        }
        // The same through decide.
        let decisions = [
            ("gap-start", format!("{sun}T00:59Z"), format!("open next {sun}T01:00Z gap-start")),
            ("gap-start", format!("{sun}T01:00Z"), format!("maintenance gap-start until {sun}T02:00Z")),
            ("gap-end", format!("{sun}T00:59Z"), format!("maintenance gap-end until {sun}T01:00Z")),
            ("gap-end", format!("{sun}T01:00Z"), "open".to_string()),
            ("gap-whole", format!("{sun}T01:00Z"), format!("open next {mon}T00:10Z gap-whole")),
            ("fold", format!("{asun}T00:29Z"), format!("open next {asun}T00:30Z fold")),
            ("fold", format!("{asun}T02:29Z"), format!("maintenance fold until {asun}T02:30Z")),
            ("night", format!("{sun}T03:59Z"), format!("maintenance night until {sun}T04:00Z")),
            ("night", format!("{asun}T04:59Z"), format!("maintenance night until {asun}T05:00Z")),
        ];
        for (id, now, expected) in &decisions {
            check_decisions(&loaded, &format!("{id}.example"), &[(now.as_str(), expected.as_str())]);
        }
    }
}

#[test]
fn once_starting_in_the_gap_and_in_the_fold() {
    let c = cfg(
        "Europe/Berlin",
        r#"[[windows]]
id = "gap"
scope = { hosts = ["gap.example"] }
once = { start = "2025-03-30T02:30", end = "2025-03-30T04:00" }

[[windows]]
id = "empty"
scope = { hosts = ["empty.example"] }
once = { start = "2025-03-30T02:10", end = "2025-03-30T02:50" }

[[windows]]
id = "fold"
scope = { hosts = ["fold.example"] }
once = { start = "2025-10-26T02:30", end = "2025-10-26T02:45" }
"#,
    );
    check_occ(&c, "gap", "2025-03-29T00:00Z", "2025-03-31T00:00Z", &["2025-03-30T01:00Z..2025-03-30T02:00Z"]);
    check_occ(&c, "empty", "2025-03-29T00:00Z", "2025-03-31T00:00Z", &["2025-03-30 dropped"]);
    check_occ(&c, "fold", "2025-10-25T00:00Z", "2025-10-27T00:00Z", &["2025-10-26T00:30Z..2025-10-26T00:45Z"]);
    check(&c, "empty.example", &[("2025-03-30T01:00Z", "open")]);
    check(&c, "gap.example", &[("2025-03-30T00:59Z", "open next 2025-03-30T01:00Z gap")]);
}
