//! The shipped configurations (config/*.toml) against the operator pages in the seeds: every
//! data-centre date hits exactly the servers the page lists, the municipal 2022 dates are the
//! published ones, the weekly provider's nights are Tuesday and Wednesday.

use crate::support::{at, check_decisions, decide, host_path, load_file, render, snapshot};

fn check(file: &str, target: &str, cases: &[(&str, &str)]) {
    check_decisions(&load_file(file), target, cases);
}

/// Seed 000, "Wartungsplan": each date with its server ranges, transcribed from the page.
const DATA_CENTRE: [(&str, &[(u32, u32)]); 6] = [
    ("2024-11-08", &[(324, 330), (331, 337), (408, 414), (415, 421)]),
    ("2024-12-02", &[(317, 323)]),
    ("2024-12-03", &[(338, 344), (394, 400), (429, 435)]),
    ("2024-12-04", &[(310, 316), (345, 351), (352, 358), (380, 386), (401, 407)]),
    ("2024-12-05", &[(436, 442)]),
    ("2024-12-06", &[(366, 372), (422, 428)]),
];

#[test]
fn data_centre_dates_hit_exactly_the_listed_servers() {
    let loaded = load_file("config/prozessplattform.toml");
    let mut failures = Vec::new();
    for (date, ranges) in DATA_CENTRE {
        let snap = snapshot(&loaded, at(&format!("{date}T00:00Z")));
        // 04:30–06:30 CET = 03:30–05:30 UTC; probe both edges from inside and outside.
        for n in 300..=450u32 {
            let listed = ranges.iter().any(|&(lo, hi)| lo <= n && n <= hi);
            let host = format!("www{n}.prozessplattform.de");
            for (time, inside) in [("04:29", false), ("04:30", true), ("06:29", true), ("06:30", false)] {
                let now = at(&format!("{date}T{time}+01:00"));
                let got = render(&snap, &snap.decide(&host, "/", now).verdict);
                let expected = format!("maintenance dc-{date} until {date}T05:30Z");
                let ok = if listed && inside { got == expected } else { got.starts_with("open") };
                if !ok {
                    failures.push(format!("{host} at {date} {time}: got {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn prozessplattform() {
    let f = "config/prozessplattform.toml";
    check(
        f,
        "www324.prozessplattform.de",
        &[
            ("2024-11-08T05:00+01:00", "maintenance dc-2024-11-08 until 2024-11-08T05:30Z"),
            ("2024-11-08T06:30+01:00", "open next 2024-11-08T23:34Z nightly"),
            ("2024-11-14T00:34+01:00", "maintenance update-3.27.8 until 2024-11-13T23:55Z"),
            ("2024-10-15T00:40+02:00", "maintenance update-3.27.7 until 2024-10-14T22:55Z"),
            ("2024-07-01T00:40+02:00", "maintenance nightly until 2024-06-30T22:55Z"),
            // the emergency of the included file (UTC), switched off at 10:40
            ("2025-02-10T09:11Z", "open next 2025-02-10T09:12Z emergency-db-2025-02-10"),
            ("2025-02-10T10:00Z", "maintenance emergency-db-2025-02-10 until 2025-02-10T10:40Z"),
            ("2025-02-10T10:40Z", "open next 2025-02-10T23:34Z nightly"),
        ],
    );
    check(f, "www331.prozessplattform.de", &[("2025-02-10T10:00Z", "open next 2025-02-10T23:34Z nightly")]);
    check(
        f,
        "www373.prozessplattform.de",
        &[
            // the incident of 13 August 2024, 00:00–04:59, with the nightly window inside it
            ("2024-08-13T00:00+02:00", "maintenance incident-2024-08-13 until 2024-08-13T02:59Z"),
            ("2024-08-13T00:40+02:00", "maintenance incident-2024-08-13 until 2024-08-13T02:59Z"),
            ("2024-08-13T04:59+02:00", "open next 2024-08-13T22:34Z nightly"),
        ],
    );
    check(f, "www372.prozessplattform.de", &[("2024-08-13T03:00+02:00", "open next 2024-08-13T22:34Z nightly")]);
    // The path tenant on server 324 shares the server's host-scoped windows.
    let loaded = load_file(f);
    let cases = [
        ("www324.prozessplattform.de/mandant-a", Some("mandant-a")),
        ("www324.prozessplattform.de/mandant-a/login", Some("mandant-a")),
        ("www324.prozessplattform.de/mandant-b", Some("ppp")),
        ("www324.prozessplattform.de", Some("ppp")),
        ("www442.prozessplattform.de", Some("ppp")),
        ("www443.prozessplattform.de", None),
        ("www309.prozessplattform.de", None),
    ];
    for (target, tenant) in cases {
        let (got, _) = decide(&loaded, target, at("2024-11-08T05:00+01:00"));
        assert_eq!(got.as_deref(), tenant, "{target}");
    }
    check(
        f,
        "www324.prozessplattform.de/mandant-a",
        &[("2024-11-08T05:00+01:00", "maintenance dc-2024-11-08 until 2024-11-08T05:30Z")],
    );
    // A host that no tenant claims still falls under the windows for all.
    let (host, path) = host_path("example.org");
    let snap = snapshot(&loaded, at("2024-11-14T00:40+01:00"));
    let d = snap.decide(&host, &path, at("2024-11-14T00:40+01:00"));
    assert_eq!((d.route.tenant, d.verdict.is_maintenance()), (None, true));
}

#[test]
fn municipal_2022_dates_are_the_published_ones() {
    let f = "config/municipal-it.toml";
    // (date, UTC offset that day, UTC end of 16:00–19:00)
    let published = [
        ("2022-01-19", "+01:00", "2022-01-19T18:00Z"),
        ("2022-02-16", "+01:00", "2022-02-16T18:00Z"),
        ("2022-03-16", "+01:00", "2022-03-16T18:00Z"),
        ("2022-04-20", "+02:00", "2022-04-20T17:00Z"),
        ("2022-05-18", "+02:00", "2022-05-18T17:00Z"),
        ("2022-06-22", "+02:00", "2022-06-22T17:00Z"),
        ("2022-08-17", "+02:00", "2022-08-17T17:00Z"),
        ("2022-09-21", "+02:00", "2022-09-21T17:00Z"),
        ("2022-10-19", "+02:00", "2022-10-19T17:00Z"),
        ("2022-11-16", "+01:00", "2022-11-16T18:00Z"),
        ("2022-12-14", "+01:00", "2022-12-14T18:00Z"),
    ];
    let loaded = load_file(f);
    for target in ["gat.gjovikregionen.example", "visma.gjovikregionen.example"] {
        for (date, offset, end) in published {
            let cases = [
                (format!("{date}T15:59{offset}"), "open"),
                (format!("{date}T16:00{offset}"), "maintenance"),
                (format!("{date}T18:59{offset}"), "maintenance"),
                (format!("{date}T19:00{offset}"), "open"),
            ];
            for (now, state) in cases {
                let (_, got) = decide(&loaded, target, at(&now));
                let ok = if state == "open" {
                    got.starts_with("open")
                } else {
                    got == format!("maintenance gat-visma-2022 until {end}")
                };
                assert!(ok, "{target} at {now}: got {got}");
            }
        }
    }
    check(
        f,
        "gat.gjovikregionen.example",
        &[
            // the 3rd Wednesdays that were moved or dropped
            ("2022-06-15T17:00+02:00", "open next 2022-06-22T14:00Z gat-visma-2022"),
            ("2022-07-20T17:00+02:00", "open next 2022-08-17T14:00Z gat-visma-2022"),
            ("2022-12-21T17:00+01:00", "open next 2023-01-18T15:00Z gat-visma"),
            // from 2023 the rule: 3rd Wednesday, no July
            ("2023-07-19T17:00+02:00", "open next 2023-08-16T14:00Z gat-visma"),
            ("2023-08-16T17:00+02:00", "maintenance gat-visma until 2023-08-16T17:00Z"),
            // the Visma release is Visma's alone
            ("2022-06-13T12:00+02:00", "open next 2022-06-22T14:00Z gat-visma-2022"),
            // the Saturday of server work is everyone's
            ("2022-03-26T12:00+01:00", "maintenance servers-2022-03-26 until 2022-03-26T17:00Z"),
        ],
    );
    check(
        f,
        "visma.gjovikregionen.example",
        &[
            (
                "2022-06-13T12:00+02:00",
                "maintenance visma-release-2022.1 until 2022-06-14T22:00Z tentative firm 2022-06-13T22:00Z",
            ),
            ("2022-06-14T12:00+02:00", "maintenance visma-release-2022.1 until 2022-06-14T22:00Z tentative"),
            ("2022-06-15T00:00+02:00", "open next 2022-06-22T14:00Z gat-visma-2022"),
        ],
    );
    check(
        f,
        "skole.ist.gjovikregionen.example",
        &[
            ("2022-06-21T17:30+02:00", "open next 2022-06-28T15:00Z ist-saas"),
            ("2022-06-28T17:30+02:00", "maintenance ist-saas until 2022-06-28T16:00Z"),
            ("2024-01-23T17:59+01:00", "maintenance ist-saas until 2024-01-23T17:00Z"),
            ("2022-03-26T17:59+01:00", "maintenance servers-2022-03-26 until 2022-03-26T17:00Z"),
        ],
    );
    check(
        f,
        "unknown.example",
        &[("2022-03-26T12:00+01:00", "maintenance servers-2022-03-26 until 2022-03-26T17:00Z")],
    );
}

#[test]
fn weekly_provider_tuesday_and_wednesday_nights() {
    let f = "config/weekly-provider.toml";
    check(
        f,
        "shop.kunden.cmo.example",
        &[
            ("2024-11-05T22:29+01:00", "open next 2024-11-05T21:30Z tue-wed-night tentative"),
            ("2024-11-05T22:30+01:00", "maintenance tue-wed-night until 2024-11-06T05:00Z tentative"),
            ("2024-11-06T23:00+01:00", "maintenance tue-wed-night until 2024-11-07T05:00Z tentative"),
            ("2024-11-07T06:00+01:00", "open next 2024-11-12T21:30Z tue-wed-night tentative"),
            ("2017-09-21T14:40+02:00", "open next 2017-09-26T20:30Z tue-wed-night tentative"),
        ],
    );
    for target in ["crm.cmo.example", "app.crm.cmo.example"] {
        check(
            f,
            target,
            &[
                ("2017-09-21T14:35+02:00", "maintenance crm-restart-2017-09-21 until 2017-09-21T12:45Z"),
                ("2017-09-21T14:45+02:00", "open next 2017-09-26T20:30Z tue-wed-night tentative"),
            ],
        );
    }
}

#[test]
fn demo_configuration() {
    let f = "config/hiatus.toml";
    check(
        f,
        "maint.localhost",
        &[
            ("2024-12-31T22:59Z", "open next 2024-12-31T23:00Z demo-emergency"),
            ("2024-12-31T23:00Z", "maintenance demo-emergency until open"),
            ("2025-06-01T00:40+02:00", "maintenance demo-emergency until open"),
            ("2026-06-01T12:00Z", "maintenance demo-emergency until open"),
        ],
    );
    check(
        f,
        "app.localhost",
        &[
            ("2025-06-01T00:40+02:00", "maintenance nightly until 2025-05-31T22:55Z"),
            ("2025-06-01T00:55+02:00", "open next 2025-06-01T22:34Z nightly"),
        ],
    );
}
