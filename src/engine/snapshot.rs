//! [`Snapshot`]: built once per configuration, read by every request.

use super::matcher::{Owner, PatternOwners, Specificity};
use crate::config::{Config, Scope, Tenant, Window};
use crate::hosts::HostIndex;
use crate::schedule::{Expanded, Occurrence, Timeline, UnixTime, Verdict};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How far the timelines reach around the instant a snapshot is built for.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// The instant the horizon is centred on (usually now).
    pub around: UnixTime,
    pub back_days: i64,
    pub ahead_days: i64,
    /// How far past the horizon to look for a "next start" when none lies inside it.
    pub next_start_limit_days: i64,
}

impl BuildOptions {
    pub fn around(t: UnixTime) -> BuildOptions {
        BuildOptions { around: t, back_days: 2, ahead_days: 35, next_start_limit_days: 3 * 366 }
    }
    fn horizon(&self) -> (UnixTime, UnixTime) {
        (self.around - self.back_days * 86_400, self.around + self.ahead_days * 86_400)
    }
}

/// One tenant reachable under a host, by path prefix.
#[derive(Debug)]
struct RouteEntry {
    /// `None`: the whole host.
    prefix: Option<Box<str>>,
    tenant: u32,
    timeline: u32,
}

/// What a host key resolves to: tenants by path prefix (longest first), the tenant of the whole
/// host, and the timeline for a path that matches none of them.
///
/// The whole-host tenant (by far the most common case, often the only one) is kept inline: the
/// value lives in the host index's table, so a lookup that lands here needs no further pointer.
#[derive(Debug)]
struct Routes {
    /// Entries with a path prefix that come before any whole-host claim.
    prefixed: Box<[RouteEntry]>,
    /// `(tenant, timeline)` for every other path.
    whole: Option<(u32, u32)>,
    unclaimed: u32,
}

/// Where a request goes: its tenant (if any), the timeline that applies, and the host number
/// when the host matched a numeric range (for `{n}` upstreams).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub tenant: Option<u32>,
    pub timeline: u32,
    pub number: Option<u32>,
}

/// The answer for one request at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub route: Route,
    pub verdict: Verdict,
}

/// The compiled configuration (see the module doc of `engine`).
#[derive(Debug)]
pub struct Snapshot {
    pub config: Config,
    hosts: HostIndex<Routes>,
    /// For hosts that match no pattern at all: windows scoped to everything.
    elsewhere: Routes,
    timelines: Vec<Timeline>,
    /// Timelines `timelines.len()..`: the tenant-wide ones no route uses, built on first use.
    lazy: Vec<OnceLock<Timeline>>,
    /// The windows of each timeline, for evaluating afresh outside the horizon.
    timeline_windows: Vec<Box<[u32]>>,
    /// Per tenant, the timeline of the windows that apply to it on every host (scope all and
    /// scope naming it): the tenant-wide view of status pages and metrics.
    tenant_timelines: Vec<u32>,
    /// Per timeline, built on first need: the same windows three years ahead, for instants
    /// inside the horizon whose block runs past its end (a maintenance of many weeks, or a
    /// chain of touching occurrences that never ends). Built once, not per request.
    wide: Vec<OnceLock<Timeline>>,
    options: BuildOptions,
}

/// The routes of one host ([`Snapshot::host_routes`]).
#[derive(Debug, Clone, Copy)]
pub struct HostRoutes<'s> {
    routes: &'s Routes,
    number: Option<u32>,
}

impl HostRoutes<'_> {
    /// Whether a path prefix can decide the tenant on this host (most hosts: no).
    pub fn by_path(&self) -> bool {
        !self.routes.prefixed.is_empty()
    }

    pub fn route(&self, path: &str) -> Route {
        let (tenant, timeline) = self.routes.find(path);
        Route { tenant, timeline, number: self.number }
    }
}

/// How far the wide timelines reach.
const WIDE_DAYS: i64 = 3 * 366;

fn path_matches(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Routes {
    /// From entries in precedence order; those after the first whole-host entry can never be
    /// chosen and are left out.
    fn new(entries: Vec<RouteEntry>, unclaimed: u32) -> Routes {
        let mut prefixed = Vec::new();
        let mut whole = None;
        for e in entries {
            if e.prefix.is_none() {
                whole = Some((e.tenant, e.timeline));
                break;
            }
            prefixed.push(e);
        }
        Routes { prefixed: prefixed.into_boxed_slice(), whole, unclaimed }
    }

    fn find(&self, path: &str) -> (Option<u32>, u32) {
        for e in self.prefixed.iter() {
            if e.prefix.as_deref().is_none_or(|p| path_matches(p, path)) {
                return (Some(e.tenant), e.timeline);
            }
        }
        match self.whole {
            Some((tenant, timeline)) => (Some(tenant), timeline),
            None => (None, self.unclaimed),
        }
    }
}

/// Collects window sets into deduplicated timelines while the snapshot is built.
struct TimelineSets {
    ids: HashMap<Box<[u32]>, u32>,
    sets: Vec<Box<[u32]>>,
}

impl TimelineSets {
    fn id(&mut self, mut windows: Vec<u32>) -> u32 {
        windows.sort_unstable();
        windows.dedup();
        let key: Box<[u32]> = windows.into_boxed_slice();
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(key.clone());
        self.ids.insert(key, id);
        id
    }
}

impl Snapshot {
    /// Compiles `config`; the timelines cover the horizon of `options`.
    pub fn build(config: Config, options: BuildOptions) -> Snapshot {
        let horizon = options.horizon();
        let limit = options.next_start_limit_days;
        // Every window is used by some timeline (scope all, a tenant it names, a host pattern
        // it names), so all are expanded, on a second thread while this one compiles the host
        // index; then this one helps expanding what is left.
        let (routing, per_window) = par_map_alongside(
            &config.windows,
            |i, w| expand_window(w, u32::try_from(i).unwrap_or(u32::MAX), horizon, limit),
            || routing(&config),
        );
        let Routing { hosts, elsewhere, sets, tenant_timelines, routed } = routing;
        // Only timelines that requests use are built now; a tenant-wide one that no route shares
        // (status page, metrics, admin) is built when first asked for: with thousands of
        // tenants that is half the timelines and half the memory of a snapshot.
        let routed_sets = sets.sets.get(..routed).unwrap_or(&sets.sets);
        let timelines = par_map_alongside(routed_sets, |_, set| assemble(set, &per_window, horizon), || ()).1;
        let lazy = (routed..sets.sets.len()).map(|_| OnceLock::new()).collect();
        let wide = (0..sets.sets.len()).map(|_| OnceLock::new()).collect();
        Snapshot {
            config,
            hosts,
            elsewhere,
            timelines,
            lazy,
            timeline_windows: sets.sets,
            tenant_timelines,
            wide,
            options,
        }
    }

    pub fn options(&self) -> &BuildOptions {
        &self.options
    }

    pub fn timelines(&self) -> &[Timeline] {
        &self.timelines
    }

    /// Timeline `id`, building a lazy one on first use.
    fn timeline(&self, id: u32) -> Option<&Timeline> {
        let id = id as usize;
        if let Some(t) = self.timelines.get(id) {
            return Some(t);
        }
        let slot = self.lazy.get(id - self.timelines.len())?;
        Some(slot.get_or_init(|| {
            let windows = self.timeline_windows.get(id).map_or(&[][..], |w| &w[..]);
            timeline_for(&self.config.windows, windows, &self.options)
        }))
    }

    /// Routes a normalised host and a request path.
    pub fn route(&self, host: &str, path: &str) -> Route {
        self.host_routes(host).route(path)
    }

    /// The routes of a normalised host: one lookup, then any number of paths routed on it.
    pub fn host_routes(&self, host: &str) -> HostRoutes<'_> {
        match self.hosts.lookup(host) {
            Some((routes, number)) => HostRoutes { routes, number },
            None => HostRoutes { routes: &self.elsewhere, number: None },
        }
    }

    /// The tenant-wide route of tenant `index` (windows on all its hosts; no host number).
    pub fn route_of_tenant(&self, index: u32) -> Route {
        let timeline = self.tenant_timelines.get(index as usize).copied().unwrap_or(self.elsewhere.unclaimed);
        Route { tenant: Some(index), timeline, number: None }
    }

    pub fn tenant(&self, route: &Route) -> Option<&Tenant> {
        route.tenant.and_then(|t| self.config.tenants.get(t as usize))
    }

    /// Indexes of the windows that apply to a route.
    pub fn windows_of(&self, route: &Route) -> &[u32] {
        self.timeline_windows.get(route.timeline as usize).map_or(&[], |w| &w[..])
    }

    pub fn window(&self, index: u32) -> Option<&Window> {
        self.config.windows.get(index as usize)
    }

    /// The verdict for a route at `now`: from the materialised timeline when `now` lies within
    /// its horizon (the hot path), else evaluated afresh around `now` (slow, exact).
    pub fn verdict(&self, route: &Route, now: UnixTime) -> Verdict {
        let Some(timeline) = self.timeline(route.timeline) else { return unreachable_open() };
        let (lo, hi) = timeline.horizon();
        match timeline.verdict(now) {
            // Open, and the next block starts past the horizon: the timeline knows its start
            // but not the rest of that block (is it tentative?); the wide timeline does.
            Some(v) if !v.is_maintenance() && v.next_start.is_some_and(|s| s >= hi) => {
                self.wide(route.timeline).and_then(|w| w.verdict(now)).unwrap_or(v)
            }
            Some(v) => v,
            // Inside the horizon but cut short by its end: ask the wide timeline, built once.
            None if lo <= now && now < hi => match self.wide(route.timeline) {
                Some(wide) => wide.verdict(now).unwrap_or_else(|| unknown_end(wide, now)),
                None => self.verdict_afresh(route.timeline, now),
            },
            None => self.verdict_afresh(route.timeline, now),
        }
    }

    /// The wide timeline of timeline `id`, built on first need.
    fn wide(&self, id: u32) -> Option<&Timeline> {
        let slot = self.wide.get(id as usize)?;
        Some(slot.get_or_init(|| {
            let windows = self.timeline_windows.get(id as usize).map_or(&[][..], |w| &w[..]);
            let options = BuildOptions { ahead_days: WIDE_DAYS, ..self.options };
            timeline_for(&self.config.windows, windows, &options)
        }))
    }

    /// `route` + `verdict` in one call: the whole decision for a request.
    pub fn decide(&self, host: &str, path: &str, now: UnixTime) -> Decision {
        let route = self.route(host, path);
        Decision { route, verdict: self.verdict(&route, now) }
    }

    fn verdict_afresh(&self, timeline: u32, now: UnixTime) -> Verdict {
        let windows = self.timeline_windows.get(timeline as usize).map_or(&[][..], |w| &w[..]);
        // Widen until the answer is not cut short by the horizon (a long chain of touching
        // occurrences); after three years an unknown end is reported as open-ended.
        let mut ahead = 60;
        loop {
            let options = BuildOptions { around: now, back_days: 8, ahead_days: ahead, ..self.options };
            let t = timeline_for(&self.config.windows, windows, &options);
            if let Some(v) = t.verdict(now) {
                return v;
            }
            if ahead >= WIDE_DAYS {
                return unknown_end(&t, now);
            }
            ahead *= 4;
        }
    }
}

/// In maintenance for as far as `t` looks: say so, with an unknown end (like an emergency).
fn unknown_end(t: &Timeline, now: UnixTime) -> Verdict {
    let mut v = unreachable_open();
    if let Some(o) =
        t.occurrences().iter().filter(|o| o.contains(now)).max_by_key(|o| (o.end, std::cmp::Reverse(o.start)))
    {
        v.state = crate::schedule::State::Maintenance;
        v.window = Some(o.window);
        v.since = Some(o.start);
    }
    v
}

fn unreachable_open() -> Verdict {
    Verdict {
        state: crate::schedule::State::Open,
        window: None,
        since: None,
        until: None,
        firm_until: None,
        next_start: None,
        next_window: None,
        tentative: false,
    }
}

/// The host index and the window sets of a configuration (everything but the timelines).
struct Routing {
    hosts: HostIndex<Routes>,
    elsewhere: Routes,
    sets: TimelineSets,
    tenant_timelines: Vec<u32>,
    /// Sets below this index are used by routes; those above only by the tenant-wide view.
    routed: usize,
}

fn routing(config: &Config) -> Routing {
    let mut owners = PatternOwners::default();
    for (i, t) in config.tenants.iter().enumerate() {
        for h in &t.hosts {
            owners.add(h, Owner::Tenant(i as u32));
        }
    }
    let mut everywhere = Vec::new();
    let mut by_tenant: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, w) in config.windows.iter().enumerate() {
        match &w.scope {
            Scope::All => everywhere.push(i as u32),
            Scope::Some { tenants, hosts } => {
                for t in tenants {
                    by_tenant.entry(t.as_str()).or_default().push(i as u32);
                }
                for h in hosts {
                    owners.add(h, Owner::Window(i as u32));
                }
            }
        }
    }
    let mut sets = TimelineSets { ids: HashMap::new(), sets: Vec::new() };
    let elsewhere = Routes::new(Vec::new(), sets.id(everywhere.clone()));
    let patterns = std::mem::take(&mut owners.patterns);
    let hosts = HostIndex::build(patterns, |rep: &str| {
        resolve_routes(rep, &owners, &config.tenants, &everywhere, &by_tenant, &mut sets)
    });
    let routed = sets.sets.len();
    let tenant_timelines = config
        .tenants
        .iter()
        .map(|t| {
            let mut windows = everywhere.clone();
            windows.extend(by_tenant.get(t.id.as_str()).into_iter().flatten());
            sets.id(windows)
        })
        .collect();
    Routing { hosts, elsewhere, sets, tenant_timelines, routed }
}

/// Builds the routes for one host key from its representative string.
fn resolve_routes(
    rep: &str,
    owners: &PatternOwners,
    tenants: &[Tenant],
    everywhere: &[u32],
    by_tenant: &HashMap<&str, Vec<u32>>,
    sets: &mut TimelineSets,
) -> Routes {
    let mut claims: Vec<(u32, Specificity)> = Vec::new();
    let mut host_windows: Vec<u32> = Vec::new();
    owners.for_each_match(rep, |o, spec| match o {
        Owner::Tenant(t) => claims.push((t, spec)),
        Owner::Window(w) => host_windows.push(w),
    });
    let base: Vec<u32> = everywhere.iter().chain(host_windows.iter()).copied().collect();
    // Longest path prefix first, then the most specific host pattern, then config order.
    claims.sort_by(|a, b| {
        let pa = tenants.get(a.0 as usize).and_then(|t| t.path_prefix.as_deref()).map_or(0, str::len);
        let pb = tenants.get(b.0 as usize).and_then(|t| t.path_prefix.as_deref()).map_or(0, str::len);
        pb.cmp(&pa).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0))
    });
    let mut entries: Vec<RouteEntry> = Vec::new();
    for (t, _) in claims {
        let Some(tenant) = tenants.get(t as usize) else { continue };
        let prefix = tenant.path_prefix.as_deref().map(Box::from);
        if entries.iter().any(|e| e.prefix == prefix) {
            continue; // a less specific claim on the same path: shadowed
        }
        let mut windows = base.clone();
        if let Some(ws) = by_tenant.get(tenant.id.as_str()) {
            windows.extend(ws);
        }
        entries.push(RouteEntry { prefix, tenant: t, timeline: sets.id(windows) });
    }
    Routes::new(entries, sets.id(base))
}

/// How far past the horizon one expansion also looks for the next start (the first step of
/// `Schedule::first_start_at_or_after`), so that most windows are expanded only once.
const BEYOND_SPAN: i64 = 8 * 86_400;

/// A window's occurrences in the horizon and its next start after it.
type Expansion = (Vec<Occurrence>, Option<UnixTime>);

/// One window over a horizon: the occurrences that intersect it and the first start at or
/// after its end (searching at most `limit_days` ahead), as `first_start_at_or_after` gives it.
fn expand_window(w: &Window, index: u32, horizon: (UnixTime, UnixTime), limit_days: i64) -> Expansion {
    let (t0, t1) = horizon;
    // The first step's end; before `t1` when the limit is negative, and then it finds nothing.
    let step = t1.saturating_add(BEYOND_SPAN.min(limit_days.saturating_mul(86_400)));
    let reach = step.max(t1);
    let mut occurrences = Vec::new();
    let mut next: Option<UnixTime> = None;
    // Expanding up to `reach` visits a superset of the local dates that expanding up to `t1`
    // would, and the filters below keep exactly what each of the two separate calls keeps.
    w.schedule.expand(index, t0, reach, |_, e| {
        if let Expanded::Kept(o) = e {
            if o.start < t1 && o.end > t0 {
                occurrences.push(o);
            }
            if o.start >= t1 && o.start < step {
                next = Some(next.map_or(o.start, |n| n.min(o.start)));
            }
        }
    });
    // Nothing in the first step: the full search, which starts with that same step again.
    let next = next.or_else(|| w.schedule.first_start_at_or_after(index, t1, limit_days));
    (occurrences, next)
}

/// The timeline of one window set from its windows' expansions.
fn assemble(set: &[u32], per_window: &[Expansion], horizon: (UnixTime, UnixTime)) -> Timeline {
    timeline_of(set.iter().filter_map(|&i| Some((i, per_window.get(i as usize)?))), horizon)
}

/// A timeline from the expansions of its windows, with their indexes.
fn timeline_of<'a>(
    expansions: impl Iterator<Item = (u32, &'a Expansion)> + Clone,
    horizon: (UnixTime, UnixTime),
) -> Timeline {
    // Sized once: with thousands of sets, growing the vector is a good part of the work.
    let mut occ = Vec::with_capacity(expansions.clone().map(|(_, (o, _))| o.len()).sum());
    let mut beyond: Option<(UnixTime, u32)> = None;
    for (i, (o, next)) in expansions {
        occ.extend_from_slice(o);
        if let Some(s) = *next {
            beyond = Some(beyond.map_or((s, i), |b| if s < b.0 { (s, i) } else { b }));
        }
    }
    Timeline::new(occ, horizon, beyond)
}

fn timeline_for(windows: &[Window], set: &[u32], options: &BuildOptions) -> Timeline {
    let horizon = options.horizon();
    let limit = options.next_start_limit_days;
    let expansions: Vec<(u32, Expansion)> =
        set.iter().filter_map(|&i| Some((i, expand_window(windows.get(i as usize)?, i, horizon, limit)))).collect();
    timeline_of(expansions.iter().map(|(i, e)| (*i, e)), horizon)
}

/// Below this many items, a step of the build runs on the calling thread alone.
const PARALLEL_FROM: usize = 512;
/// A reload runs next to the request path: it may take a second core, not the machine.
const MAX_THREADS: usize = 2;
/// Items a thread takes at a time: small enough to even out uneven items and a busy core,
/// large enough that taking them costs nothing.
const CHUNK: usize = 64;

/// Maps `f` over `items`, in the order of `items`, while the calling thread first runs
/// `alongside`; up to [`MAX_THREADS`] threads take chunks of items as they get to them, so
/// neither a slow item nor a core busy with other work holds the others up.
fn par_map_alongside<T: Sync, R: Send, A>(
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync,
    alongside: impl FnOnce() -> A,
) -> (A, Vec<R>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS);
    if threads < 2 || items.len() < PARALLEL_FROM {
        let a = alongside();
        return (a, items.iter().enumerate().map(|(i, x)| f(i, x)).collect());
    }
    let next = AtomicUsize::new(0);
    // Takes chunks until none are left: `(index of its first item, results)` per chunk.
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            let Some(chunk) = items.get(start..items.len().min(start.saturating_add(CHUNK))) else { break };
            if chunk.is_empty() {
                break;
            }
            done.push((start, chunk.iter().enumerate().map(|(i, x)| f(start + i, x)).collect()));
        }
        done
    };
    let (a, mut chunks) = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let a = alongside();
        let mut chunks = work();
        for h in helpers {
            match h.join() {
                Ok(done) => chunks.extend(done),
                // A panic in `f` is a bug, not bad input: pass it on as it is.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (a, chunks)
    });
    chunks.sort_unstable_by_key(|c| c.0);
    let mut out = Vec::with_capacity(items.len());
    for (_, results) in chunks {
        out.extend(results);
    }
    (a, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use std::path::Path;

    fn config(text: &str) -> Config {
        match load_str(text, "test.toml", Path::new(".")) {
            Ok(l) => l.config,
            Err(report) => panic!("test config: {report:?}"),
        }
    }

    fn ts(s: &str) -> UnixTime {
        chrono::DateTime::parse_from_rfc3339(s).expect("test literal").timestamp()
    }

    /// Windows of every rule, in zones with DST, some of them bounded so that their next start
    /// lies far away or nowhere.
    const WINDOWS: &str = r#"
[defaults]
zone = "Europe/Berlin"
[[tenants]]
id = "a"
hosts = ["a.example"]
upstreams = ["127.0.0.1:1"]
[[windows]]
id = "daily"
scope = "all"
daily = { at = "02:30", until = "03:30" }
[[windows]]
id = "night"
scope = "all"
zone = "Europe/Oslo"
weekly = { on = ["tue", "sat"], at = "22:30", until = "wed 06:00" }
[[windows]]
id = "monthly"
scope = "all"
monthly = { on = "last sun", at = "01:30", for = "2h" }
[[windows]]
id = "dates"
scope = "all"
dates = { on = ["2025-03-30", "2025-04-20", "2025-09-01"], at = "02:10", until = "02:50" }
[[windows]]
id = "once"
scope = "all"
once = { start = "2025-04-02T09:00", end = "2025-04-03T10:00" }
[[windows]]
id = "open"
scope = "all"
once = { start = "2025-03-01T09:00" }
[[windows]]
id = "bounded"
scope = "all"
zone = "America/New_York"
daily = { at = "23:00", for = "3h" }
from = "2025-03-10"
to = "2025-04-01"
also = ["2025-12-24"]
"#;

    #[test]
    fn one_expansion_gives_what_the_two_separate_ones_give() {
        let config = config(WINDOWS);
        let starts = ["2025-03-20T00:00:00Z", "2025-03-29T23:59:59Z", "2025-10-20T12:00:00Z", "2024-01-01T00:00:00Z"];
        for (i, w) in config.windows.iter().enumerate() {
            let i = i as u32;
            for start in starts {
                for (days, limit) in [(1, 3 * 366), (10, 3 * 366), (35, 2), (35, 0), (3, -1)] {
                    let horizon = (ts(start), ts(start) + days * 86_400);
                    let mut occurrences = Vec::new();
                    w.schedule.expand(i, horizon.0, horizon.1, |_, e| {
                        if let Expanded::Kept(o) = e {
                            occurrences.push(o);
                        }
                    });
                    let next = w.schedule.first_start_at_or_after(i, horizon.1, limit);
                    assert_eq!(expand_window(w, i, horizon, limit), (occurrences, next), "{} from {start}", w.id);
                }
            }
        }
    }

    #[test]
    fn parallel_map_keeps_the_order() {
        for len in [0, 1, PARALLEL_FROM - 1, PARALLEL_FROM, CHUNK * 9 + 1, 5_001] {
            let items: Vec<usize> = (0..len).map(|x| x * 3).collect();
            let (side, got) = par_map_alongside(&items, |i, &x| (i, x + 1), || len * 2);
            let expected: Vec<(usize, usize)> = (0..len).map(|i| (i, i * 3 + 1)).collect();
            assert_eq!((side, got), (len * 2, expected), "{len} items");
        }
    }

    #[test]
    fn routes_by_prefix_then_whole_host() {
        let entry = |prefix: Option<&str>, tenant: u32| RouteEntry {
            prefix: prefix.map(Box::from),
            tenant,
            timeline: tenant * 10,
        };
        let routes =
            Routes::new(vec![entry(Some("/a/b"), 1), entry(Some("/a"), 2), entry(None, 3), entry(Some("/c"), 4)], 99);
        assert_eq!(routes.prefixed.len(), 2, "entries after the whole-host claim are never chosen");
        let cases = [
            ("/a/b/x", (Some(1), 10)),
            ("/a/b", (Some(1), 10)),
            ("/a/bc", (Some(2), 20)),
            ("/a", (Some(2), 20)),
            ("/ab", (Some(3), 30)),
            ("/c", (Some(3), 30)),
            ("/", (Some(3), 30)),
        ];
        for (path, expected) in cases {
            assert_eq!(routes.find(path), expected, "{path}");
        }
        let unclaimed = Routes::new(vec![entry(Some("/a"), 2)], 99);
        assert_eq!((unclaimed.find("/a/x"), unclaimed.find("/b")), ((Some(2), 20), (None, 99)));
        assert_eq!(Routes::new(Vec::new(), 7).find("/"), (None, 7));
    }

    /// A configuration large enough to be built on two threads gives the timelines that each
    /// window set gives on its own.
    #[test]
    fn a_parallel_build_agrees_with_timelines_built_alone() {
        let mut text = String::from("[defaults]\nzone = \"Europe/Berlin\"\n");
        for t in 0..40 {
            text += &format!("[[tenants]]\nid = \"t{t}\"\nhosts = [\"t{t}.example\"]\nupstreams = [\"127.0.0.1:1\"]\n");
        }
        for w in 0..PARALLEL_FROM + 100 {
            let scope = match w % 3 {
                0 => "\"all\"".to_string(),
                1 => format!("{{ tenants = [\"t{}\"] }}", w % 40),
                _ => format!("{{ hosts = [\"t{{{}..{}}}.example\"] }}", w % 40, w % 40 + 3),
            };
            let at = format!("{:02}:{:02}", (w / 60) % 24, w % 60);
            // Mostly single dates, which expand cheaply: the test is about the assembly.
            let rule = match w % 7 {
                0 => format!("daily = {{ at = \"{at}\", for = \"7m\" }}"),
                n => format!("dates = {{ on = [\"2025-04-0{n}\"], at = \"{at}\", for = \"3h\" }}"),
            };
            text += &format!("[[windows]]\nid = \"w{w}\"\nscope = {scope}\n{rule}\n");
        }
        let config = config(&text);
        let options = BuildOptions::around(ts("2025-03-28T12:00:00Z"));
        let snapshot = Snapshot::build(config.clone(), options);
        assert!(snapshot.timelines().len() > 40);
        for (set, timeline) in snapshot.timeline_windows.iter().zip(snapshot.timelines()) {
            let alone = timeline_for(&config.windows, set, &options);
            assert_eq!((timeline.blocks(), timeline.occurrences()), (alone.blocks(), alone.occurrences()), "{set:?}");
        }
    }

    /// The materialised timelines answer as a timeline built afresh for each instant does.
    #[test]
    fn materialised_timelines_agree_with_fresh_ones() {
        let config = config(WINDOWS);
        let options = BuildOptions::around(ts("2025-03-28T12:00:00Z"));
        let all: Vec<u32> = (0..config.windows.len() as u32).collect();
        let sets: Vec<Box<[u32]>> =
            vec![all.clone().into_boxed_slice(), Box::new([0, 2]), Box::new([6]), Box::new([]), Box::new([3, 1])];
        let per_window: Vec<Expansion> = config
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| expand_window(w, i as u32, options.horizon(), options.next_start_limit_days))
            .collect();
        let timelines: Vec<Timeline> = sets.iter().map(|set| assemble(set, &per_window, options.horizon())).collect();
        let (lo, hi) = options.horizon();
        for (set, timeline) in sets.iter().zip(&timelines) {
            let fresh = timeline_for(&config.windows, set, &options);
            assert_eq!((timeline.blocks(), timeline.occurrences()), (fresh.blocks(), fresh.occurrences()), "{set:?}");
            for now in (lo..hi).step_by(1_800) {
                assert_eq!(timeline.verdict(now), fresh.verdict(now), "{set:?} at {now}");
            }
        }
    }
}

#[cfg(test)]
mod wide_tests {
    use super::*;
    use crate::config::load_str;
    use crate::schedule::State;
    use std::path::Path;

    fn snapshot(windows: &str, around: UnixTime) -> Snapshot {
        let text = format!(
            "[defaults]\nzone = \"UTC\"\n[[tenants]]\nid = \"a\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:1\"]\n{windows}"
        );
        match load_str(&text, "t.toml", Path::new(".")) {
            Ok(l) => Snapshot::build(l.config, BuildOptions::around(around)),
            Err(r) => panic!("{r}"),
        }
    }

    const NOW: UnixTime = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn a_block_past_the_horizon_gets_its_real_end_from_the_wide_timeline() {
        // 60 days of maintenance: the block runs past the 35-day horizon.
        let s = snapshot(
            "[[windows]]\nid = \"move\"\nonce = { start = \"2025-12-31T00:00\", end = \"2026-03-01T00:00\" }\n",
            NOW,
        );
        let route = s.route("a.test", "/");
        for _ in 0..2 {
            let v = s.verdict(&route, NOW);
            assert_eq!((v.state, v.until), (State::Maintenance, Some(1_772_323_200)), "until 2026-03-01");
        }
        assert!(s.wide[route.timeline as usize].get().is_some(), "built once and kept");
    }

    #[test]
    fn a_chain_that_never_ends_is_maintenance_with_an_unknown_end() {
        let s = snapshot("[[windows]]\nid = \"always\"\ndaily = { at = \"00:00\", for = \"24h\" }\n", NOW);
        let route = s.route("a.test", "/");
        let v = s.verdict(&route, NOW + 3600);
        assert_eq!((v.state, v.until, v.window.is_some()), (State::Maintenance, None, true));
    }
}
