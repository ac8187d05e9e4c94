//! Benchmarks of the engine with budgets: the per-request decision, host lookup and the
//! snapshot build, on a generated configuration of 10 000 tenants.
//!
//! Everything is generated in code (no files, no network). The configuration goes through the
//! real pipeline (`config::load_str` on generated TOML), once per run, outside any measurement.
//! Every tenant has exactly ten windows that apply to it: two scoped to everything (a daily
//! routine and a weekly one), three scoped by host ranges (or tenant ids) shared by a group of
//! 100 tenants, and five of its own (daily, weekly across midnight, monthly nth weekday, a list
//! of dates, once). Tenants are mostly exact hosts, with path-prefix tenants on a shared host,
//! wildcard tenants and numeric-range tenants with a `{n}` upstream in four range groups.
//!
//! Budgets (median): `decide/hit` ≤ 50 ns, `decide/miss` ≤ 200 ns, `host_lookup` ≤ 100 ns,
//! `snapshot_build` ≤ 500 ms.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hiatus::config::{load_str, Config};
use hiatus::engine::{BuildOptions, Snapshot};
use hiatus::schedule::UnixTime;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TENANTS: usize = 10_000;
const GROUP: usize = 100;
/// 2025-03-26T10:00:00Z, a Wednesday; the horizon spans the European spring DST change.
const NOW: UnixTime = 1_742_983_200;
const DAY: i64 = 86_400;
const ZONES: [&str; 5] = ["Europe/Berlin", "Europe/Oslo", "UTC", "America/New_York", "Asia/Tokyo"];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const NTH: [&str; 5] = ["1st", "2nd", "3rd", "4th", "last"];

/// What kind of host a tenant is reached under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    /// On the host of the tenant before it, under a path prefix.
    Path,
    Wildcard,
    Range,
}

fn kind(i: usize) -> Kind {
    match i % GROUP {
        98 => Kind::Wildcard,
        99 => Kind::Range,
        n if n % 10 == 5 => Kind::Path,
        _ => Kind::Exact,
    }
}

/// A local date `days` after NOW's UTC date, as `YYYY-MM-DD`.
fn date(days: i64) -> String {
    let t = chrono::DateTime::from_timestamp(NOW + days * DAY, 0).unwrap_or_default();
    t.format("%Y-%m-%d").to_string()
}

fn tenant_toml(out: &mut String, i: usize) -> std::fmt::Result {
    writeln!(out, "[[tenants]]\nid = \"t{i}\"")?;
    match kind(i) {
        Kind::Exact => {
            writeln!(out, "hosts = [\"t{i}.example.com\"]\nupstreams = [\"10.{}.{}.1:80\"]", i / 256, i % 256)
        }
        Kind::Path => writeln!(
            out,
            "hosts = [\"t{}.example.com\"]\npath = \"/p{i}\"\nupstreams = [\"10.{}.{}.2:80\"]",
            i - 1,
            i / 256,
            i % 256
        ),
        Kind::Wildcard => writeln!(out, "hosts = [\"*.w{i}.wild.example\"]\nupstreams = [\"10.200.0.1:80\"]"),
        Kind::Range => writeln!(
            out,
            "hosts = [\"www{{{}..{}}}.r{}.range.example\"]\nupstreams = [\"10.0.0.5:{{n}}\"]",
            i * 10,
            i * 10 + 9,
            (i / GROUP) % 4
        ),
    }
}

fn group_windows(out: &mut String, g: usize) -> std::fmt::Result {
    let (lo, hi) = (g * GROUP, g * GROUP + GROUP - 1);
    // The wildcard and range tenants of the group have no `t{n}` host: name them.
    let scope = format!("{{ hosts = [\"t{{{lo}..{hi}}}.example.com\"], tenants = [\"t{}\", \"t{hi}\"] }}", hi - 1);
    let d = |k: i64| date((g as i64 * 3 + k * 11) % 36 - 1);
    writeln!(
        out,
        "[[windows]]\nid = \"g{g}-dc\"\nscope = {scope}\n\
         dates = {{ on = [\"{}\", \"{}\", \"{}\"], at = \"04:30\", until = \"06:30\" }}\n\
         title = {{ en = \"Data centre maintenance\", de = \"Wartung im Rechenzentrum\" }}",
        d(0),
        d(1),
        d(2)
    )?;
    writeln!(
        out,
        "[[windows]]\nid = \"g{g}-monthly\"\nscope = {scope}\n\
         monthly = {{ on = \"{} {}\", at = \"02:00\", until = \"04:00\" }}",
        NTH[g % 4],
        DAYS[g % 7]
    )?;
    writeln!(
        out,
        "[[windows]]\nid = \"g{g}-weekend\"\nscope = {scope}\ntentative = {}\n\
         weekly = {{ on = \"sat\", at = \"22:00\", until = \"sun 06:00\" }}",
        g % 2 == 1
    )
}

fn own_windows(out: &mut String, i: usize) -> std::fmt::Result {
    let scope = format!("{{ tenants = [\"t{i}\"] }}");
    let zone = ZONES[i % ZONES.len()];
    let head = |k: &str| format!("[[windows]]\nid = \"t{i}-{k}\"\nscope = {scope}\nzone = \"{zone}\"");
    let (h, m) = (i % 24, (i * 13) % 60);
    writeln!(out, "{}\ndaily = {{ at = \"{h:02}:{m:02}\", for = \"20m\" }}", head("daily"))?;
    let night = if i % 3 == 0 {
        format!("on = \"{}\", at = \"22:30\", until = \"{} 05:00\"", DAYS[i % 7], DAYS[(i + 1) % 7])
    } else {
        format!("on = [\"{}\", \"{}\"], at = \"23:00\", until = \"01:30\"", DAYS[i % 7], DAYS[(i + 3) % 7])
    };
    writeln!(out, "{}\nweekly = {{ {night} }}", head("night"))?;
    writeln!(
        out,
        "{}\nmonthly = {{ on = \"{} {}\", at = \"17:00\", for = \"1h\" }}",
        head("monthly"),
        NTH[i % 5],
        DAYS[(i / 5) % 7]
    )?;
    let d = |k: i64| date((i as i64 * 7 + k * 13) % 45 - 5);
    writeln!(
        out,
        "{}\ndates = {{ on = [\"{}\", \"{}\", \"{}\", \"{}\"], at = \"04:30\", until = \"06:30\" }}",
        head("dates"),
        d(0),
        d(1),
        d(2),
        d(3)
    )?;
    let day = date((i as i64 % 40) - 3);
    let tentative = if i % 4 == 0 { format!(", tentative_from = \"{day}T12:00\"") } else { String::new() };
    writeln!(
        out,
        "{}\nonce = {{ start = \"{day}T09:00\", end = \"{day}T13:00\"{tentative} }}\n\
         title = {{ en = \"Release\", de = \"Release\" }}",
        head("release")
    )
}

fn config_text() -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(TENANTS * 1_400);
    out.push_str("[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"en\"\n");
    for i in 0..TENANTS {
        tenant_toml(&mut out, i)?;
    }
    out.push_str(
        "[[windows]]\nid = \"nightly\"\nscope = \"all\"\ndaily = { at = \"00:34\", until = \"00:55\" }\n\
         [[windows]]\nid = \"sunday\"\nscope = \"all\"\nweekly = { on = \"sun\", at = \"03:00\", for = \"2h\" }\n",
    );
    for g in 0..TENANTS / GROUP {
        group_windows(&mut out, g)?;
    }
    for i in 0..TENANTS {
        own_windows(&mut out, i)?;
    }
    Ok(out)
}

/// The validated configuration, loaded once per run (about two seconds; printed on stderr).
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let started = Instant::now();
        let text = match config_text() {
            Ok(t) => t,
            Err(e) => panic!("generating the configuration: {e}"),
        };
        let loaded = match load_str(&text, "bench.toml", Path::new(".")) {
            Ok(l) => l,
            Err(report) => panic!("generated configuration is invalid: {report:?}"),
        };
        let c = loaded.config;
        eprintln!(
            "bench config: {} tenants, {} windows, {} KiB of TOML, load_str took {:.2?}",
            c.tenants.len(),
            c.windows.len(),
            text.len() / 1024,
            started.elapsed()
        );
        c
    })
}

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let config = config().clone();
        let started = Instant::now();
        let s = Snapshot::build(config, BuildOptions::around(NOW));
        eprintln!("bench snapshot: {} timelines, built in {:.2?}", s.timelines().len(), started.elapsed());
        s
    })
}

/// A deterministic shuffle (xorshift), so rotations do not walk memory in order.
fn shuffle<T>(items: &mut [T]) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// One normalised host and path per tenant (its own host, a host in its range, a name under
/// its wildcard), plus hosts that only window ranges or nothing at all match.
fn request_targets() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = (0..TENANTS)
        .map(|i| match kind(i) {
            Kind::Exact => (format!("t{i}.example.com"), "/index.html".to_string()),
            Kind::Path => (format!("t{}.example.com", i - 1), format!("/p{i}/login")),
            Kind::Wildcard => (format!("app.w{i}.wild.example"), "/".to_string()),
            Kind::Range => (format!("www{}.r{}.range.example", i * 10 + i % 10, (i / GROUP) % 4), "/".to_string()),
        })
        .collect();
    // Hosts matched only by a window's range (no tenant), and hosts nothing matches.
    out.extend((0..TENANTS / 20).map(|k| (format!("t{}.example.com", k * 20 + 5), "/".to_string())));
    out.extend((0..TENANTS / 20).map(|k| (format!("unknown{k}.example.org"), "/".to_string())));
    shuffle(&mut out);
    out
}

/// For each target, two instants in different positions of its timeline (inside a block and
/// in a gap far from it), so that alternating between them invalidates the hint every time.
fn miss_cases(snapshot: &Snapshot) -> Vec<(String, String, UnixTime, UnixTime)> {
    request_targets()
        .into_iter()
        .filter_map(|(host, path)| {
            let route = snapshot.route(&host, &path);
            let blocks = snapshot.timelines().get(route.timeline as usize)?.blocks();
            let inside = blocks.get(blocks.len() / 2)?;
            let later = blocks.get(blocks.len() / 2 + 5)?;
            let a = inside.start + (inside.end - inside.start) / 2;
            let b = later.start - 1;
            (b > inside.end).then_some((host, path, a, b))
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let snapshot = snapshot();
    let mut g = c.benchmark_group("decide");

    // Same host, same instant: the timeline's hint is valid (the common case between changes).
    g.bench_function("hit", |b| {
        b.iter(|| snapshot.decide(black_box("t4242.example.com"), black_box("/index.html"), black_box(NOW)))
    });
    // The same, while the host is in maintenance (the window in force is looked up too).
    let route = snapshot.route("t4242.example.com", "/index.html");
    let in_block = snapshot.timelines().get(route.timeline as usize).and_then(|t| t.blocks().get(3)).map(|b| b.start);
    if let Some(at) = in_block {
        g.bench_function("hit_maintenance", |b| {
            b.iter(|| snapshot.decide(black_box("t4242.example.com"), black_box("/index.html"), black_box(at)))
        });
    }

    // Rotating over a few hosts, each alternating between two positions: every call misses the
    // hint and re-seeds it; the hosts' data stays in cache, as for the busy hosts of a gateway.
    let cases = miss_cases(snapshot);
    assert!(cases.len() > TENANTS / 2, "too few miss cases: {}", cases.len());
    // Hosts with timelines of their own, so that no call finds the hint another one left.
    let mut seen = std::collections::HashSet::new();
    let few: Vec<_> =
        cases.iter().filter(|(h, p, _, _)| seen.insert(snapshot.route(h, p).timeline)).take(64).cloned().collect();
    let mut k = 0usize;
    g.bench_function("miss", |b| {
        b.iter(|| {
            // Each full round over `few` uses the other instant of every host.
            let (host, path, at, other) = &few[k % few.len()];
            k = k.wrapping_add(1);
            let now = if (k / few.len()) % 2 == 0 { *at } else { *other };
            snapshot.decide(black_box(host), black_box(path), black_box(now))
        })
    });
    // The same over every host (~11 000): now the timelines, index entries and host strings
    // come from memory (tens of MB), which is what this measures. No budget: it is bound by
    // memory latency, not by the code's work.
    let mut k = 0usize;
    g.bench_function("miss_cold", |b| {
        b.iter(|| {
            let (host, path, at, other) = &cases[k % cases.len()];
            k = k.wrapping_add(1);
            let now = if (k / cases.len()) % 2 == 0 { *at } else { *other };
            snapshot.decide(black_box(host), black_box(path), black_box(now))
        })
    });
    // Every host at one instant: the hints are valid (the usual state of a gateway between two
    // changes of a timeline), the data is cold as above.
    let targets = request_targets();
    let mut k = 0usize;
    g.bench_function("hit_cold", |b| {
        b.iter(|| {
            let (host, path) = &targets[k % targets.len()];
            k = k.wrapping_add(1);
            snapshot.decide(black_box(host), black_box(path), black_box(NOW))
        })
    });
    g.finish();
}

fn host_lookup(c: &mut Criterion) {
    let snapshot = snapshot();
    let hosts: Vec<String> = request_targets().into_iter().map(|(h, _)| h).collect();
    let mut k = 0usize;
    c.bench_function("host_lookup", |b| {
        b.iter(|| {
            let host = &hosts[k];
            k = if k + 1 == hosts.len() { 0 } else { k + 1 };
            snapshot.route(black_box(host), black_box("/"))
        })
    });
}

fn snapshot_build(c: &mut Criterion) {
    let config = config();
    // The clone is made outside the measurement and the snapshot dropped outside it: a reload
    // moves a freshly validated `Config` in and drops the old snapshot elsewhere.
    c.bench_function("snapshot_build", |b| {
        b.iter_batched(
            || config.clone(),
            |c| Snapshot::build(c, BuildOptions::around(black_box(NOW))),
            BatchSize::PerIteration,
        )
    });
}

fn fast() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

fn slow() -> Criterion {
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8))
}

criterion_group! { name = requests; config = fast(); targets = decide, host_lookup }
criterion_group! { name = build; config = slow(); targets = snapshot_build }
criterion_main!(requests, build);
