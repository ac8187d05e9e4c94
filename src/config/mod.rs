//! Configuration: from TOML files to one validated [`Config`].
//!
//! ```text
//! file.toml ──parse──▶ toml::Table ──serde, per item──▶ file::File* ──validate──▶ model::Config
//!     └─ include = ["windows/*.toml"] ─▶ the same, per included file ─┘        └─ lint ─▶ warnings
//! ```
//! `load` reads the main file and its includes and runs every stage, collecting *every* error with
//! its file and key path (STYLE.md 2); a configuration with errors produces no `Config`. It does
//! not build the hot-path structures (that is the `engine`'s snapshot) nor watch files.

pub mod acme;
pub mod certificates;
pub mod cluster;
pub mod diagnostic;
pub mod diff;
mod duration;
pub mod file;
pub mod gateway;
pub mod health;
pub mod incidents;
pub mod lint;
pub mod locate;
pub mod mail;
pub mod model;
pub mod notify;
pub mod read;
pub mod sections;
pub mod suggest;
pub mod upstream;
pub mod validate;
pub mod values;

pub use diagnostic::{Diagnostic, Position, Report};
pub use model::{Config, Defaults, Language, Scope, Tenant, Texts, Upstream, Window};

use file::{FileCertificate, FileDefaults as RawDefaults, FileTenant, FileWindow};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use validate::{Checker, FileDefaults};

/// A loaded configuration and its warnings.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads, parses and validates `path` and its includes. `Err` holds every error (and warning).
///
/// The files may have `[gateway] max_config_size` bytes together (or the default); a main file
/// over the default is read to find its own limit before it is parsed. For a reload, where a
/// running configuration's limit also applies, see [`load_within`].
pub fn load(path: &Path) -> Result<Loaded, Report> {
    load_within(path, None)
}

/// As [`load`], but no file is read past `running_limit` bytes (all files together): a reload
/// passes the running configuration's `max_config_size`, so a file over it costs no more than
/// its metadata. An empty main file, and files that change while they are read, are refused.
pub fn load_within(path: &Path, running_limit: Option<u64>) -> Result<Loaded, Report> {
    let mut report = Report::default();
    let name = path.display().to_string();
    let text = match read::read(path, 0, running_limit.unwrap_or(read::MAX_MAX_SIZE)).and_then(|t| {
        read::not_empty(&t)?;
        Ok(t)
    }) {
        Ok(t) => t,
        Err(e) => {
            report.error(&name, "", e);
            return Err(report);
        }
    };
    let limit = match running_limit {
        Some(limit) => limit,
        // At start the file's own limit is known only from its text: found without parsing
        // the whole file when the file is larger than the default.
        None if text.len() as u64 > read::DEFAULT_MAX_SIZE => {
            let limit = declared_size_limit(&text).unwrap_or(read::DEFAULT_MAX_SIZE);
            if text.len() as u64 > limit {
                report.error(&name, "", read::too_large(text.len() as u64, 0, limit));
                return Err(report);
            }
            limit
        }
        None => read::MAX_MAX_SIZE,
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_text(&text, &name, &base, path.to_path_buf(), limit, report)
}

/// Parses and validates configuration text; includes are resolved against `base`.
pub fn load_str(text: &str, name: &str, base: &Path) -> Result<Loaded, Report> {
    let mut report = Report::default();
    if let Err(e) = read::not_empty(text).and_then(|()| read::nesting(text)) {
        report.error(name, "", e);
        return Err(report);
    }
    load_text(text, name, base, PathBuf::from(name), read::MAX_MAX_SIZE, report)
}

/// `[gateway] max_config_size` of a main file, read from its `[gateway]` table alone.
fn declared_size_limit(text: &str) -> Option<u64> {
    let headers = sections::headers(text)?;
    let at = headers.iter().position(|h| !h.array && text[h.start..].trim_start().starts_with("[gateway]"))?;
    let end = headers.get(at + 1).map_or(text.len(), |h| h.start);
    let piece: toml::Table = text.get(headers[at].start..end)?.parse().ok()?;
    let size = piece.get("gateway")?.get("max_config_size")?.as_str()?;
    gateway::config_size(size).ok()
}

/// What a load read, as a short hex text: every file's name and bytes, in the order read. Two
/// loads with the same digest read the same configuration (a reload compares them, so one
/// edit is applied once however many triggers see it).
#[derive(Default)]
struct Digest(blake2::Blake2s256);

impl Digest {
    fn add(&mut self, name: &str, text: &str) {
        self.add_bytes(name, text.as_bytes());
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) {
        use blake2::Digest as _;
        // Lengths first: ("ab", "c") and ("a", "bc") must not hash alike.
        for part in [name.as_bytes(), bytes] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    fn finish(self) -> String {
        use blake2::Digest as _;
        self.0.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// `limit`: the most bytes the files may have together, before the main file's own
/// `max_config_size` (which applies too) is known.
fn load_text(
    text: &str,
    name: &str,
    base: &Path,
    main: PathBuf,
    limit: u64,
    mut report: Report,
) -> Result<Loaded, Report> {
    let mut digest = Digest::default();
    digest.add(name, text);
    let Some(mut table) = parse_toml(text, name, &mut report) else { return Err(report) };
    // The gateway's settings first: they say how much the includes may add.
    let gateway = match table.remove("gateway") {
        Some(v) => deserialize::<gateway::FileGateway>(v, name, "gateway", &mut report)
            .map(|g| gateway::settings(&g, base, name, &mut report))
            .unwrap_or_default(),
        None => gateway::GatewaySettings::default(),
    };
    let limit = limit.min(gateway.max_config_size);
    let mut used = text.len() as u64;
    if used > limit {
        report.error(name, "", read::too_large(used, 0, limit));
        return Err(report);
    }
    let mut docs = vec![(name.to_string(), main, table)];
    // `[cluster]` is the main file's (`cluster.rs`); in an included file it is an unknown key.
    let cluster_item = docs[0].2.remove("cluster");
    // The files' texts, for the findings' positions once they are known (`locate`).
    let mut texts: Vec<(String, String)> = Vec::new();
    let includes = docs[0].2.remove("include");
    let mut include_dirs = Vec::new();
    if let Some(includes) = &includes {
        for file in include_files(includes, base, name, &mut report, &mut include_dirs) {
            let fname = file.display().to_string();
            match read::read(&file, used, limit) {
                Ok(t) => {
                    used += t.len() as u64;
                    digest.add(&fname, &t);
                    if let Some(mut table) = parse_toml(&t, &fname, &mut report) {
                        if table.remove("include").is_some() {
                            report.error(&fname, "include", "includes do not nest; list every file in the main file");
                        }
                        docs.push((fname.clone(), file, table));
                    }
                    texts.push((fname, t));
                }
                Err(e) => report.error(&fname, "", e),
            }
        }
    }

    // The main file's defaults are everyone's; an included file may override them for itself.
    let main_defaults = docs[0].2.get("defaults").cloned();
    let main_defaults = resolve_defaults(main_defaults, name, None, &mut report);
    if let Some(f) = &gateway.emergency_file {
        if !includes.as_ref().is_some_and(|i| includes_file(i, base, f)) {
            report.error(
                name,
                "gateway.emergency_file",
                format!("{}: not a file that `include` names or would name by its patterns", f.display()),
            );
        }
    }
    let mut tenants = Vec::new();
    let mut windows = Vec::new();
    // Every id that parsed, valid or not: for the cross-checks (see `validate::cross_check`).
    let mut tenant_ids: Vec<validate::Declared> = Vec::new();
    let mut window_ids: Vec<validate::Declared> = Vec::new();
    let mut sources = Vec::new();
    let mut targets: Vec<notify::NotifyTarget> = Vec::new();
    // Every target's id and tenants as written, valid or not, for the cross-checks.
    let mut declared_targets: Vec<(String, String, String, Vec<String>)> = Vec::new();
    // Every e-mail subscriber list's (file, key path, tenant id): they name declared tenants.
    let mut declared_subscribers: Vec<validate::Declared> = Vec::new();
    let mut certificates = Vec::new();
    let mut acme: Option<acme::Parsed> = None;
    // Operator incidents with where they were written, for the cross-checks.
    let mut operator_incidents: Vec<incidents::OperatorIncident> = Vec::new();
    // Every incident's id and tenants as written, valid or not, for the cross-checks.
    let mut declared_incidents: Vec<incidents::Declared> = Vec::new();
    for (index, (fname, path, mut table)) in docs.into_iter().enumerate() {
        sources.push(path);
        let defaults = if index == 0 {
            main_defaults
        } else {
            resolve_defaults(table.get("defaults").cloned(), &fname, Some(main_defaults), &mut report)
        };
        table.remove("defaults");
        if index > 0 && table.remove("gateway").is_some() {
            report.error(&fname, "gateway", "[gateway] belongs in the main file only");
        }
        let items_t = take_array(&mut table, "tenants", &fname, &mut report);
        let items_w = take_array(&mut table, "windows", &fname, &mut report);
        let items_n = take_array(&mut table, "notify", &fname, &mut report);
        let items_c = take_array(&mut table, "certificates", &fname, &mut report);
        match table.remove("acme") {
            Some(item) if index == 0 => {
                acme = deserialize::<acme::FileAcme>(item, &fname, "acme", &mut report)
                    .and_then(|a| acme::settings(&a, base, &fname, &mut report));
            }
            Some(_) => report.error(&fname, "acme", "[acme] belongs in the main file only"),
            None => {}
        }
        let items_i = take_array(&mut table, "incidents", &fname, &mut report);
        for key in table.keys() {
            const TOP: [&str; 10] = [
                "include",
                "defaults",
                "gateway",
                "tenants",
                "windows",
                "notify",
                "certificates",
                "incidents",
                "acme",
                "cluster",
            ];
            let message = match suggest::closest(key, TOP) {
                Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
                None => format!("unknown key `{key}`; expected include, defaults, gateway, tenants, windows, notify, certificates, incidents, acme or cluster"),
            };
            report.error(&fname, key, message);
        }
        for (i, item) in items_n.into_iter().enumerate() {
            let path = format!("notify[{i}]");
            if let Some(n) = deserialize::<notify::FileNotify>(item, &fname, &path, &mut report) {
                let tenants = n.tenants.clone().unwrap_or_default();
                declared_targets.push((fname.clone(), path.clone(), n.id.clone(), tenants));
                for tenant in n.subscribers.iter().flat_map(|s| s.keys()) {
                    let at = format!("{path}.subscribers.{tenant}");
                    // A target limited to some tenants hears nothing of the others: their
                    // subscribers would never get a letter.
                    if n.tenants.as_ref().is_some_and(|only| !only.contains(tenant)) {
                        report.warn(
                            &fname,
                            at.clone(),
                            format!("{tenant:?} is not in this target's `tenants`: its subscribers get no mail"),
                        );
                    }
                    declared_subscribers.push((fname.clone(), at, tenant.clone()));
                }
                if let Some(t) = notify::target(&n, base, &fname, &path, &mut report) {
                    targets.push(t);
                }
            }
        }
        for (i, item) in items_c.into_iter().enumerate() {
            let path = format!("certificates[{i}]");
            if let Some(c) = deserialize::<FileCertificate>(item, &fname, &path, &mut report) {
                if let Some(e) = certificates::entry(&c, base, &fname, &path, &mut report) {
                    certificates.push((fname.clone(), path, e));
                }
            }
        }
        for (i, item) in items_i.into_iter().enumerate() {
            let path = format!("incidents[{i}]");
            if let Some(x) = deserialize::<incidents::FileIncident>(item, &fname, &path, &mut report) {
                operator_incidents.extend(incidents::validate(&x, &fname, &path, &mut report));
                declared_incidents.push((fname.clone(), path, x.id, x.tenants));
            }
        }
        for (i, item) in items_t.into_iter().enumerate() {
            let path = format!("tenants[{i}]");
            // An item that does not deserialise still declares its id: a scope naming it is
            // not told that no tenant has it (one mistake, one error).
            let declared = declared_id(&item);
            let Some(t) = deserialize::<FileTenant>(item, &fname, &path, &mut report) else {
                tenant_ids.extend(declared.map(|id| (fname.clone(), path.clone(), id)));
                continue;
            };
            tenant_ids.push((fname.clone(), path.clone(), t.id.clone()));
            let mut checker = Checker {
                file: fname.clone(),
                report: &mut report,
                base: base.to_path_buf(),
                default_health: gateway.health.as_ref(),
            };
            if let Some(t) = checker.tenant(&path, &t, defaults) {
                tenants.push((fname.clone(), path, t));
            }
        }
        for (i, item) in items_w.into_iter().enumerate() {
            let path = format!("windows[{i}]");
            let declared = declared_id(&item);
            let Some(w) = deserialize::<FileWindow>(item, &fname, &path, &mut report) else {
                window_ids.extend(declared.map(|id| (fname.clone(), path.clone(), id)));
                continue;
            };
            window_ids.push((fname.clone(), path.clone(), w.id.clone()));
            let mut checker = Checker {
                file: fname.clone(),
                report: &mut report,
                base: base.to_path_buf(),
                default_health: gateway.health.as_ref(),
            };
            if let Some(w) = checker.window(&path, &w, defaults, (index, i)) {
                windows.push((fname.clone(), path, w));
            }
        }
    }
    validate::cross_check(&mut report, &tenant_ids, &window_ids, &tenants, &windows);
    certificates::cross_check(&certificates, !gateway.listen_tls.is_empty() && acme.is_none(), name, &mut report);
    let certificates: Vec<_> = certificates.into_iter().map(|(_, _, c)| c).collect();
    let acme = acme.map(|parsed| {
        let ids: Vec<String> = tenant_ids.iter().map(|(_, _, id)| id.clone()).collect();
        let has_default = certificates.iter().any(|c| c.default);
        acme::names(parsed, &tenants, &ids, &gateway, has_default, name, &mut report)
    });
    if !gateway.listen_tls.is_empty() && acme.is_none() {
        certificates::uncovered(&certificates, &tenants, &mut report);
    }
    if let Some(d) = &gateway.default_tenant {
        if !tenant_ids.iter().any(|(_, _, id)| id == d) {
            report.error(name, "gateway.default_tenant", format!("no tenant has the id {d:?}"));
        }
    }
    notify_cross_check(&mut report, &tenant_ids, &declared_targets);
    let cluster = cluster_item
        .and_then(|item| deserialize::<cluster::FileCluster>(item, name, "cluster", &mut report))
        .and_then(|c| cluster::settings(&c, name, &mut report));
    if cluster.is_some() && gateway.emergency_file.is_none() {
        // The operator document (etcd's `<prefix>/operator`) is applied as this file's text.
        report.error(
            name,
            "cluster",
            "cluster mode needs `[gateway] emergency_file`: each node exports etcd's operator document there",
        );
    }
    for (file, path, tenant) in &declared_subscribers {
        if !tenant_ids.iter().any(|(_, _, id)| id == tenant) {
            report.error(file, path.clone(), format!("no tenant has the id {tenant:?}"));
        }
    }
    incidents::cross_check(&declared_incidents, &tenant_ids, &mut report);
    // Certificates are read with the configuration: new ones in the same files are a change
    // (a renewal rewrites the PEM files, not the TOML).
    for c in &certificates {
        for der in &c.certificate.key.cert {
            digest.add_bytes(&c.cert.display().to_string(), der.as_ref());
        }
    }
    let config = Config {
        defaults: model::Defaults {
            zone: main_defaults.zone.unwrap_or(chrono_tz::Tz::UTC),
            language: main_defaults.language,
        },
        tenants: tenants.into_iter().map(|(_, _, t)| t).collect(),
        windows: windows.into_iter().map(|(_, _, w)| w).collect(),
        gateway,
        notify: targets,
        cluster,
        certificates,
        acme,
        incidents: operator_incidents,
        sources,
        include_dirs,
        digest: digest.finish(),
    };
    lint::quick(&config, &mut report);
    report.locate(name, text);
    for (fname, t) in &texts {
        report.locate(fname, t);
    }
    let order: Vec<&str> = std::iter::once(name).chain(texts.iter().map(|(f, _)| f.as_str())).collect();
    report.sort(&order);
    if report.has_errors() {
        return Err(report);
    }
    Ok(Loaded { config, warnings: report.warnings })
}

/// A target id is used once; a target's `tenants` name declared tenants.
fn notify_cross_check(
    report: &mut Report,
    tenant_ids: &[validate::Declared],
    targets: &[(String, String, String, Vec<String>)],
) {
    for (i, (file, path, id, tenants)) in targets.iter().enumerate() {
        if let Some((_, first, _, _)) = targets[..i].iter().find(|(_, _, other, _)| other == id) {
            report.error(file, format!("{path}.id"), format!("target id {id:?} is already used by {first}"));
        }
        for (j, tenant) in tenants.iter().enumerate() {
            if !tenant_ids.iter().any(|(_, _, id)| id == tenant) {
                report.error(file, format!("{path}.tenants[{j}]"), format!("no tenant has the id {tenant:?}"));
            }
        }
    }
}

/// What serving a configuration needs beyond [`load`] (for `run`, `check` and reloads, not for
/// the tools that only read windows): at least one tenant, unless `[gateway] allow_no_tenants`
/// says that none is meant. A file cut short, or one that lost its `include`, tends to lose
/// its tenants, and the gateway would answer every request with the unknown-host page.
pub fn servable(config: &Config) -> Result<(), Diagnostic> {
    if !config.tenants.is_empty() || config.gateway.allow_no_tenants {
        return Ok(());
    }
    Err(Diagnostic {
        file: config.sources.first().map(|p| p.display().to_string()).unwrap_or_default(),
        path: "tenants".to_string(),
        message: "no tenants: every request would get the unknown-host answer; if that is meant, \
                  set `[gateway] allow_no_tenants = true`"
            .to_string(),
        at: None,
    })
}

fn parse_toml(text: &str, name: &str, report: &mut Report) -> Option<toml::Table> {
    match sections::parse(text) {
        Ok(t) => Some(t),
        Err(e) => {
            report.error(name, "", format!("not valid TOML: {}", e.message().trim()));
            if let Some(last) = report.errors.last_mut() {
                last.at = e.span().map(|s| Position::of(text, s.start));
            }
            None
        }
    }
}

fn resolve_defaults(
    value: Option<toml::Value>,
    file: &str,
    inherit: Option<FileDefaults>,
    report: &mut Report,
) -> FileDefaults {
    let mut out = inherit.unwrap_or(FileDefaults { zone: None, language: Language::En, zone_broken: false });
    let Some(value) = value else { return out };
    let Some(raw) = deserialize::<RawDefaults>(value, file, "defaults", report) else {
        // The section's error is reported; windows that lack a zone are not told again.
        out.zone_broken |= out.zone.is_none();
        return out;
    };
    if let Some(z) = raw.zone {
        match values::zone(&z) {
            Ok(z) => (out.zone, out.zone_broken) = (Some(z), false),
            Err(e) => {
                report.error(file, "defaults.zone", e);
                (out.zone, out.zone_broken) = (None, true);
            }
        }
    }
    if let Some(l) = raw.language {
        match values::language(&l) {
            Ok(l) => out.language = l,
            Err(e) => report.error(file, "defaults.language", e),
        }
    }
    out
}

/// The `id` an item of `[[tenants]]` or `[[windows]]` declares, if it has a string one.
fn declared_id(item: &toml::Value) -> Option<String> {
    item.get("id").and_then(toml::Value::as_str).map(str::to_string)
}

fn take_array(table: &mut toml::Table, key: &str, file: &str, report: &mut Report) -> Vec<toml::Value> {
    match table.remove(key) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(other) => {
            report.error(file, key, format!("expected an array of tables ([[{key}]]), found a {}", other.type_str()));
            Vec::new()
        }
    }
}

/// Deserialises one item, keeping the key path of the first structural error in it.
fn deserialize<T: DeserializeOwned>(value: toml::Value, file: &str, path: &str, report: &mut Report) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let full = if inner == "." || inner.is_empty() { path.to_string() } else { format!("{path}.{inner}") };
            report.error(file, full, friendly(e.inner().to_string()));
            None
        }
    }
}

/// Untagged enums fail with serde's generic sentence; say what the key accepts instead. An
/// unknown key gets the nearest expected one ("did you mean"), or the list of them.
fn friendly(message: String) -> String {
    let message = message.trim().to_string();
    if let Some(unknown) = suggest::unknown_field(&message) {
        return unknown;
    }
    let hints = [
        ("FileScope", "expected \"all\" or a table like { tenants = [\"a\"], hosts = [\"www{1..9}.example.de\"] }"),
        ("FileWhen", "expected a date or time as a string, e.g. \"2024-11-14T00:34\", \"2024-12-04\" or \"04:30\""),
        ("OneOrMany", "expected a weekday or a list of weekdays, e.g. \"tue\" or [\"tue\", \"wed\"]"),
        ("FileMonthDay", "expected a day number (15, -1) or a text such as \"last\", \"4th tue\", \"last fri\""),
    ];
    for (name, hint) in hints {
        if message.contains(&format!("untagged enum {name}")) {
            return hint.to_string();
        }
    }
    message
}

/// The files `include` (the main file's value) names now, with the errors in it; for tools that
/// put a file of their own in the place of one of them (`hiatus emergency`).
pub fn included_files(includes: &toml::Value, base: &Path, file: &str) -> (Vec<PathBuf>, Report) {
    let mut report = Report::default();
    let files = include_files(includes, base, file, &mut report, &mut Vec::new());
    (files, report)
}

/// Whether `candidate` is a file that `include` names, or would name once it exists.
///
/// Folders are compared after resolving them (`./d` and `d` are one folder); the file name is
/// matched as `load` matches it.
pub fn includes_file(includes: &toml::Value, base: &Path, candidate: &Path) -> bool {
    let Some(items) = includes.as_array() else { return false };
    let Some(cname) = candidate.file_name().map(|n| n.to_string_lossy().into_owned()) else { return false };
    let folder = |p: &Path| {
        let p = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::canonicalize(&p).or_else(|_| std::path::absolute(&p)).unwrap_or(p)
    };
    let cfolder = folder(candidate);
    items.iter().filter_map(toml::Value::as_str).any(|pattern| {
        let full = base.join(pattern);
        let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        folder(&full) == cfolder && glob_match(&name, &cname)
    })
}

/// Files named by `include`: literal paths, or globs with `*`/`?` in the file name.
fn include_files(
    value: &toml::Value,
    base: &Path,
    file: &str,
    report: &mut Report,
    dirs: &mut Vec<PathBuf>,
) -> Vec<PathBuf> {
    let Some(items) = value.as_array() else {
        report.error(file, "include", "expected a list of file patterns, e.g. [\"windows/*.toml\"]");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("include[{i}]");
        let Some(pattern) = item.as_str() else {
            report.error(file, &path, format!("expected a file pattern string, found a {}", item.type_str()));
            continue;
        };
        let full = base.join(pattern);
        let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.contains(['*', '?']) {
            if full.is_file() {
                out.push(full);
            } else {
                report.error(file, &path, format!("{pattern:?}: no such file"));
            }
            continue;
        }
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.to_string_lossy().contains(['*', '?']) {
            report.error(file, &path, format!("{pattern:?}: wildcards are allowed in the file name only"));
            continue;
        }
        // A glob that matches nothing is fine (an empty emergency folder); a missing folder is not.
        dirs.push(dir.clone());
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .filter(|p| p.file_name().is_some_and(|n| glob_match(&name, &n.to_string_lossy())))
                    .collect();
                found.sort();
                out.extend(found);
            }
            Err(e) => report.error(file, &path, format!("{pattern:?}: cannot read the folder: {e}")),
        }
    }
    out.dedup();
    out
}

/// `*` matches any run of characters, `?` one character. As in a shell, a name that starts with
/// a dot is matched only by a pattern that does: temporary and lock files (`hiatus emergency`'s
/// `.NAME.PID-N.tmp` and `.NAME.lock`, an editor's) are never read as configuration.
fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, ok) in [
            ("*.toml", "a.toml", true),
            ("*.toml", "a.toml.bak", false),
            ("e?.toml", "e1.toml", true),
            ("*", "x", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            // A leading dot only by a leading dot: editors' and `hiatus emergency`'s temporary
            // and lock files are never configuration.
            ("*", ".emergency.toml.4711-1.tmp", false),
            ("*.toml*", ".emergency.toml.4711-1.tmp", false),
            ("?emergency.toml.lock", ".emergency.toml.lock", false),
            (".*.toml", ".hidden.toml", true),
        ] {
            assert_eq!(glob_match(p, n), ok, "{p} {n}");
        }
    }

    #[test]
    fn duplicate_ids_are_found_next_to_other_errors() {
        // The first "w" and the first "t" have errors of their own; the duplicates must still
        // be reported, and the scope naming "t" must not claim that no tenant has that id.
        let text = r#"
[defaults]
zone = "UTC"
[[tenants]]
id = "t"
hosts = ["a.example"]
upstreams = ["no-port"]
[[tenants]]
id = "t"
hosts = ["b.example"]
upstreams = ["b.internal:80"]
[[windows]]
id = "w"
zone = "Mars/Olympus"
daily = { at = "01:00", until = "02:00" }
[[windows]]
id = "w"
scope = { tenants = ["t"] }
daily = { at = "01:00", until = "02:00" }
"#;
        let Err(report) = load_str(text, "t.toml", Path::new(".")) else { panic!("must be refused") };
        let errors: Vec<String> = report.errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
        assert!(
            errors.contains(&"tenants[1].id: tenant id \"t\" is already used by tenants[0]".to_string()),
            "{errors:#?}"
        );
        assert!(
            errors.contains(&"windows[1].id: window id \"w\" is already used by windows[0]".to_string()),
            "{errors:#?}"
        );
        assert!(!errors.iter().any(|e| e.contains("no tenant has the id")), "{errors:#?}");
        assert_eq!(errors.len(), 4, "{errors:#?}");
    }
}
