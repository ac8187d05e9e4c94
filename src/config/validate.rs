//! Validation: file types in, domain types out, every error collected with its key path.
//!
//! Owns the meaning of each key (SCHEDULES.md rules 2–11 as far as a single window or tenant can
//! be checked) and the cross-checks between them (unique ids, scopes naming real tenants, one
//! tenant per host and path). Does not read files (`load`) nor expand schedules (`lint`).

use super::diagnostic::Report;
use super::file::{FileDates, FileExcept, FileMonthDay, FileScope, FileSlot, FileTenant, FileWhen, FileWindow};
use super::model::{Language, Scope, Tenant, Texts, Upstream, Window};
use super::values;
use crate::hosts::HostPattern;
use crate::schedule::{Calendar, Except, Rule, Schedule, Slot, SlotEnd, WallTime, WeekdaySet};
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};

/// The longest a recurring occurrence may last, in minutes (SCHEDULES.md rule 8).
const MAX_RECURRING_MINUTES: u32 = 7 * 24 * 60;

/// Defaults in force for one file: the main file's, overridden by the file's own `[defaults]`.
#[derive(Debug, Clone, Copy)]
pub struct FileDefaults {
    pub zone: Option<Tz>,
    pub language: Language,
    /// `[defaults] zone` is there but wrong (reported there): windows without a zone of their
    /// own are not told again that they have none.
    pub zone_broken: bool,
}

/// Collects errors for one file; every method takes the key path of what it checks.
#[derive(Debug)]
pub struct Checker<'r> {
    pub file: String,
    pub report: &'r mut Report,
    /// Folder that relative paths in this file are resolved against.
    pub base: std::path::PathBuf,
    /// `[gateway] health`: what a tenant's own `health` is laid over.
    pub default_health: Option<&'r super::health::HealthCheck>,
}

impl Checker<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        self.report.error(&self.file, path, message);
    }

    fn ok<T>(&mut self, path: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }

    fn zone(&mut self, path: &str, own: Option<&str>, defaults: FileDefaults) -> Option<Tz> {
        match own {
            Some(z) => self.ok(path, values::zone(z)),
            None if defaults.zone.is_some() => defaults.zone,
            None if defaults.zone_broken => None,
            None => {
                self.err(path, "no time zone: set `zone` here or `[defaults] zone` (there is no hidden server zone)");
                None
            }
        }
    }

    fn texts(&mut self, path: &str, map: &BTreeMap<String, String>) -> Texts {
        let mut out = Vec::new();
        for (k, v) in map {
            if let Some(lang) = self.ok(&format!("{path}.{k}"), values::language(k)) {
                if v.trim().is_empty() {
                    self.err(&format!("{path}.{k}"), "empty text");
                } else {
                    out.push((lang, v.clone()));
                }
            }
        }
        Texts(out)
    }

    fn host_patterns(&mut self, path: &str, hosts: &[String]) -> Vec<HostPattern> {
        hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| self.ok(&format!("{path}[{i}]"), HostPattern::parse(h).map_err(|e| e.to_string())))
            .collect()
    }

    /// `[[tenants]]` entry → [`Tenant`].
    pub fn tenant(&mut self, path: &str, t: &FileTenant, defaults: FileDefaults) -> Option<Tenant> {
        let before = self.report.errors.len();
        if !valid_id(&t.id) {
            self.err(&format!("{path}.id"), format!("{:?} is not an id; use letters, digits, '-', '_' and '.'", t.id));
        }
        if t.hosts.is_empty() {
            self.err(&format!("{path}.hosts"), "a tenant needs at least one host");
        }
        let hosts = self.host_patterns(&format!("{path}.hosts"), &t.hosts);
        let path_prefix = match &t.path {
            None => None,
            Some(p) => self.ok(&format!("{path}.path"), path_prefix(p)).flatten(),
        };
        if t.upstreams.is_empty() {
            self.err(&format!("{path}.upstreams"), "a tenant needs at least one upstream (\"host:port\")");
        }
        let mut upstreams = Vec::new();
        for (i, u) in t.upstreams.iter().enumerate() {
            let p = format!("{path}.upstreams[{i}]");
            if let Some(u) = super::upstream::entry(u, &self.base, &self.file, &p, self.report) {
                if u.is_template() && !hosts.iter().all(HostPattern::is_range) {
                    self.err(&p, format!("{:?} uses {{n}}, which needs every host of the tenant to be a numeric range like \"www{{324..330}}.example.de\"", u.address));
                }
                upstreams.push(u);
            }
        }
        let zone = self.zone(&format!("{path}.zone"), t.zone.as_deref(), defaults);
        let language = match &t.language {
            Some(l) => self.ok(&format!("{path}.language"), values::language(l)),
            None => Some(defaults.language),
        };
        let options = super::gateway::FileTenantOptions {
            connect_timeout: t.connect_timeout.clone(),
            read_timeout: t.read_timeout.clone(),
            pages: t.pages.clone(),
            replace_upstream_errors: t.replace_upstream_errors,
            health: t.health.clone(),
            https_redirect: t.https_redirect,
            hsts: t.hsts.clone(),
        };
        let mut options =
            super::gateway::tenant_options(&options, self.default_health, &self.base, &self.file, path, self.report);
        // `{n}` upstreams are one server per host number, known only per request: there is no
        // fixed list to probe. Said when asked for; a gateway-wide default just skips them.
        if upstreams.iter().any(Upstream::is_template) {
            if t.health.is_some() {
                self.err(
                    &format!("{path}.health"),
                    "health checks need fixed upstreams; {n} upstreams (one per host number) are not checked",
                );
            }
            options.health = None;
        }
        if self.report.errors.len() > before {
            return None;
        }
        Some(Tenant {
            id: t.id.clone(),
            name: t.name.clone(),
            public: t.public.unwrap_or(true),
            hosts,
            path_prefix,
            upstreams,
            zone: zone?,
            language: language?,
            options,
        })
    }

    /// `[[windows]]` entry → [`Window`].
    pub fn window(&mut self, path: &str, w: &FileWindow, defaults: FileDefaults, at: (usize, usize)) -> Option<Window> {
        let before = self.report.errors.len();
        if !valid_id(&w.id) {
            self.err(&format!("{path}.id"), format!("{:?} is not an id; use letters, digits, '-', '_' and '.'", w.id));
        }
        let zone = self.zone(&format!("{path}.zone"), w.zone.as_deref(), defaults);
        let rule = self.rule(path, w);
        let recurring = !matches!(rule, Some(Rule::Once { .. }));
        let except = match &w.except {
            Some(e) if !recurring => {
                let _ = e;
                self.err(&format!("{path}.except"), "`except` applies to recurring windows, not to `once`");
                Except::default()
            }
            Some(e) => self.except(&format!("{path}.except"), e),
            None => Except::default(),
        };
        let mut also = Vec::new();
        if let Some(list) = &w.also {
            if !recurring {
                self.err(&format!("{path}.also"), "`also` applies to recurring windows, not to `once`");
            }
            for (i, d) in list.iter().enumerate() {
                let p = format!("{path}.also[{i}]");
                if let Some(d) = self.ok(&p, values::date(&d.text())) {
                    if except.excludes(d) {
                        self.err(&p, format!("{d} is both added (`also`) and excluded (`except`)"));
                    }
                    also.push(d);
                }
            }
        }
        also.sort();
        also.dedup();
        let from = self.bound(&format!("{path}.from"), w.from.as_ref(), recurring);
        let to = self.bound(&format!("{path}.to"), w.to.as_ref(), recurring);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                self.err(&format!("{path}.to"), format!("{t} is before `from` {f}"));
            }
        }
        let scope = self.scope(&format!("{path}.scope"), w.scope.as_ref());
        let title = self.texts(&format!("{path}.title"), &w.title);
        let reason = self.texts(&format!("{path}.reason"), &w.reason);
        if self.report.errors.len() > before {
            return None;
        }
        Some(Window {
            id: w.id.clone(),
            schedule: Schedule {
                zone: zone?,
                calendar: Calendar { rule: rule?, except, also, from, to },
                tentative: w.tentative,
            },
            scope: scope?,
            title,
            reason,
            source: at.0,
            position: at.1,
        })
    }

    fn bound(&mut self, path: &str, when: Option<&FileWhen>, recurring: bool) -> Option<NaiveDate> {
        let when = when?;
        if !recurring {
            self.err(path, "effective bounds apply to recurring windows; `once` has its own start and end");
            return None;
        }
        self.ok(path, values::date(&when.text()))
    }

    fn rule(&mut self, path: &str, w: &FileWindow) -> Option<Rule> {
        let given: Vec<&str> = [
            ("once", w.once.is_some()),
            ("daily", w.daily.is_some()),
            ("weekly", w.weekly.is_some()),
            ("monthly", w.monthly.is_some()),
            ("dates", w.dates.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if given.len() != 1 {
            let msg = if given.is_empty() {
                "a window needs exactly one rule: once, daily, weekly, monthly or dates".to_string()
            } else {
                format!("a window has exactly one rule, found {}", given.join(" and "))
            };
            self.err(path, msg);
            return None;
        }
        if let Some(o) = &w.once {
            let p = format!("{path}.once");
            let start = self.ok(&format!("{p}.start"), values::date_time(&o.start.text()));
            let end = match &o.end {
                Some(e) => Some(self.ok(&format!("{p}.end"), values::date_time(&e.text()))?),
                None => None,
            };
            let tentative_from = match &o.tentative_from {
                Some(e) => Some(self.ok(&format!("{p}.tentative_from"), values::date_time(&e.text()))?),
                None => None,
            };
            let start = start?;
            if let Some(end) = end {
                if end <= start {
                    self.err(&format!("{p}.end"), format!("{end} is not after the start {start}"));
                    return None;
                }
            }
            if let Some(t) = tentative_from {
                if t < start || end.is_some_and(|e| t > e) {
                    self.err(&format!("{p}.tentative_from"), format!("{t} lies outside the window"));
                    return None;
                }
                if end.is_none() {
                    self.err(
                        &format!("{p}.tentative_from"),
                        "an open-ended window has no tentative tail; give an `end`",
                    );
                    return None;
                }
            }
            return Some(Rule::Once { start, end, tentative_from });
        }
        if let Some(s) = &w.daily {
            return Some(Rule::Daily(self.slot(&format!("{path}.daily"), s, false)?));
        }
        if let Some(wk) = &w.weekly {
            let p = format!("{path}.weekly");
            let mut days = WeekdaySet::default();
            for (i, d) in wk.on.items().iter().enumerate() {
                if let Some(day) = self.ok(&format!("{p}.on[{i}]"), values::weekday(d)) {
                    days.insert(day);
                }
            }
            if wk.on.items().is_empty() {
                self.err(&format!("{p}.on"), "name at least one weekday");
            }
            let slot = FileSlot {
                at: clone_when(&wk.at),
                until: wk.until.as_ref().map(clone_when),
                duration: wk.duration.clone(),
            };
            let slot = self.slot(&p, &slot, true)?;
            return (!days.is_empty()).then_some(Rule::Weekly { days, slot });
        }
        if let Some(m) = &w.monthly {
            let p = format!("{path}.monthly");
            let on = match &m.on {
                FileMonthDay::Number(n) => self.ok(&format!("{p}.on"), values::month_day_number(*n)),
                FileMonthDay::Text(t) => self.ok(&format!("{p}.on"), values::month_day_text(t)),
            };
            let slot = FileSlot {
                at: clone_when(&m.at),
                until: m.until.as_ref().map(clone_when),
                duration: m.duration.clone(),
            };
            let slot = self.slot(&p, &slot, false)?;
            return Some(Rule::Monthly { on: on?, slot });
        }
        if let Some(FileDates { on, at, until, duration }) = &w.dates {
            let p = format!("{path}.dates");
            let mut dates = Vec::new();
            for (i, d) in on.iter().enumerate() {
                if let Some(d) = self.ok(&format!("{p}.on[{i}]"), values::date(&d.text())) {
                    dates.push(d);
                }
            }
            if on.is_empty() {
                self.err(&format!("{p}.on"), "name at least one date");
            }
            dates.sort();
            dates.dedup();
            let slot =
                FileSlot { at: clone_when(at), until: until.as_ref().map(clone_when), duration: duration.clone() };
            let slot = self.slot(&p, &slot, false)?;
            return (!dates.is_empty()).then_some(Rule::Dates { on: dates, slot });
        }
        None
    }

    fn slot(&mut self, path: &str, s: &FileSlot, weekly: bool) -> Option<Slot> {
        let at = self.ok(&format!("{path}.at"), values::start_time(&s.at.text()));
        let end = match (&s.until, &s.duration) {
            (Some(_), Some(_)) => {
                self.err(path, "give either `until` (wall clock) or `for` (exact duration), not both");
                None
            }
            (None, None) => {
                self.err(path, "give an end: `until = \"HH:MM\"` or `for = \"1h30m\"`");
                None
            }
            (None, Some(d)) => self.ok(&format!("{path}.for"), values::duration(d)).map(SlotEnd::For),
            (Some(u), None) => {
                let text = u.text();
                let p = format!("{path}.until");
                match text.trim().split_once(' ') {
                    Some((day, time)) => {
                        if !weekly {
                            self.err(&p, format!("{text:?}: an end weekday is only for weekly windows"));
                            None
                        } else {
                            let day = self.ok(&p, values::weekday(day));
                            let time = self.ok(&p, WallTime::parse(time.trim(), true));
                            Some(SlotEnd::UntilWeekday(day?, time?))
                        }
                    }
                    None => self.ok(&p, WallTime::parse(text.trim(), true)).map(SlotEnd::Until),
                }
            }
        };
        let (at, end) = (at?, end?);
        if let SlotEnd::Until(u) = end {
            if u == at {
                self.err(
                    &format!("{path}.until"),
                    format!("until {u} equals at {at}; for a whole day write for = \"24h\""),
                );
                return None;
            }
        }
        let slot = Slot { at, end };
        if slot.max_minutes() > MAX_RECURRING_MINUTES {
            self.err(path, "a recurring occurrence lasts at most 7 days; use `once` with an end date for longer spans");
            return None;
        }
        Some(slot)
    }

    fn except(&mut self, path: &str, e: &FileExcept) -> Except {
        let mut out = Except::default();
        for (i, d) in e.dates.iter().enumerate() {
            let p = format!("{path}.dates[{i}]");
            let text = d.text();
            match text.split_once("..") {
                Some((a, b)) => {
                    let a = self.ok(&p, values::date(a));
                    let b = self.ok(&p, values::date(b));
                    if let (Some(a), Some(b)) = (a, b) {
                        if a > b {
                            self.err(&p, format!("{text:?}: the range ends before it starts"));
                        } else {
                            out.ranges.push((a, b));
                        }
                    }
                }
                None => {
                    if let Some(d) = self.ok(&p, values::date(&text)) {
                        out.dates.push(d);
                    }
                }
            }
        }
        for (i, m) in e.months.iter().enumerate() {
            if let Some(m) = self.ok(&format!("{path}.months[{i}]"), values::month(m)) {
                out.months |= 1 << (m - 1);
            }
        }
        out.dates.sort();
        out.dates.dedup();
        out
    }

    fn scope(&mut self, path: &str, scope: Option<&FileScope>) -> Option<Scope> {
        match scope {
            None => Some(Scope::All),
            Some(FileScope::Word(w)) if w == "all" => Some(Scope::All),
            Some(FileScope::Word(w)) => {
                self.err(path, format!("{w:?}: a scope is \"all\" or a table {{ tenants = [...], hosts = [...] }}"));
                None
            }
            Some(FileScope::Table(t)) => {
                if t.tenants.is_empty() && t.hosts.is_empty() {
                    self.err(path, "an empty scope applies to nothing; name tenants or hosts, or write \"all\"");
                    return None;
                }
                let hosts = self.host_patterns(&format!("{path}.hosts"), &t.hosts);
                Some(Scope::Some { tenants: t.tenants.clone(), hosts })
            }
        }
    }
}

fn clone_when(w: &FileWhen) -> FileWhen {
    FileWhen::Text(w.text())
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `/mandant-a/` → `Some("/mandant-a")`; `/` → `None` (the whole host).
fn path_prefix(p: &str) -> Result<Option<String>, String> {
    if !p.starts_with('/') {
        return Err(format!("{p:?}: a path prefix starts with '/'"));
    }
    if p.contains(['?', '#', ' ']) || p.contains("//") || p.split('/').any(|s| s == ".." || s == ".") {
        return Err(format!("{p:?}: a path prefix is a plain path like \"/mandant-a\""));
    }
    let trimmed = p.trim_end_matches('/');
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// `host:port`, where host may contain `{n}`.
pub(super) fn upstream(text: &str) -> Result<Upstream, String> {
    let probe = text.replace("{n}", "1");
    let bad = || format!("{text:?} is not an upstream address; write \"host:port\", e.g. \"10.0.3.24:8080\"");
    let (host, port) = if let Some(rest) = probe.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        probe.rsplit_once(':').ok_or_else(bad)?
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || host.is_empty() || host.contains(['/', ' ', '{', '}']) {
        return Err(bad());
    }
    if text.replace("{n}", "").contains(['{', '}']) {
        return Err(format!("{text:?}: the only placeholder is {{n}}"));
    }
    // A template is filled per request, where no name is resolved: it must give an address.
    if text.contains("{n}") && host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_err() {
        return Err(format!(
            "{text:?}: a {{n}} template must give an IP address and port (names are not resolved per request), e.g. \"10.0.3.{{n}}:8080\" or \"10.0.0.5:8{{n}}\""
        ));
    }
    Ok(Upstream { address: text.to_string(), tls: None })
}

/// Where an id was written: file, key path of the item (`windows[3]`) and the id.
pub type Declared = (String, String, String);

/// Checks across files: unique ids, scopes naming existing tenants, one tenant per host+path.
///
/// Ids come from every item that parsed, valid or not (`tenant_ids`, `window_ids`): a
/// duplicate is reported even when one of the pair has other errors, and a scope naming a
/// tenant that has errors of its own does not get a misleading "no tenant" error on top.
pub fn cross_check(
    report: &mut Report,
    tenant_ids: &[Declared],
    window_ids: &[Declared],
    tenants: &[(String, String, Tenant)],
    windows: &[(String, String, Window)],
) {
    for (kind, ids) in [("tenant", tenant_ids), ("window", window_ids)] {
        let mut seen: HashMap<&str, (&str, &str)> = HashMap::new();
        for (file, path, id) in ids {
            let (first_file, first_path) = *seen.entry(id).or_insert((file, path));
            if (first_file, first_path) != (file.as_str(), path.as_str()) {
                let place =
                    if first_file == file { first_path.to_string() } else { format!("{first_path} in {first_file}") };
                report.error(file, format!("{path}.id"), format!("{kind} id {id:?} is already used by {place}"));
            }
        }
    }
    // A set, not a scan per name: configurations with 10 000 tenants name many of them.
    let known: std::collections::HashSet<&str> = tenant_ids.iter().map(|(_, _, id)| id.as_ref()).collect();
    for (file, path, w) in windows {
        if let Scope::Some { tenants: names, .. } = &w.scope {
            for (i, name) in names.iter().enumerate() {
                if !known.contains(name.as_str()) {
                    report.error(file, format!("{path}.scope.tenants[{i}]"), format!("no tenant has the id {name:?}"));
                }
            }
        }
    }
    let mut routes: HashMap<(String, Option<&str>), &str> = HashMap::new();
    for (file, path, t) in tenants {
        for (i, h) in t.hosts.iter().enumerate() {
            if let Some(other) = routes.insert((h.to_string(), t.path_prefix.as_deref()), &t.id) {
                if other != t.id {
                    report.error(
                        file,
                        format!("{path}.hosts[{i}]"),
                        format!(
                            "\"{h}{}\" is already served by tenant {other:?}",
                            t.path_prefix.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
        }
    }
}
