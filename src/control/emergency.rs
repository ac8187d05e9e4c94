//! Emergency switches (SCHEDULES.md rule 9): the file that `hiatus emergency on|off|list` edits.
//!
//! Owns finding that file (`[gateway] emergency_file`, or `--file`; either way one of the files
//! `include` names), the edits on its parsed TOML (append an open-ended window; set `end` on open
//! ones, never delete one: switching off keeps the record), listing its windows, and writing it.
//!
//! A write never leaves a file that breaks the configuration, nor one that a watching gateway
//! could read half-written: the new text goes to a temporary file in the same folder, the whole
//! configuration is loaded with that file standing in for the target ([`crate::config::load_str`]
//! on the main file with its includes spelt out), and only a configuration without errors is
//! synced and renamed over the target. The file is edited in place with `toml_edit`: an edit
//! appends one `[[windows]]` table or sets one `end`, and everything an operator wrote — keys,
//! values as written, comments, blank lines, order — stays as it was. A new file starts with
//! [`HEADER`].
//!
//! One writer at a time: an edit holds [`EditLock`] (an advisory `flock` on `.NAME.lock` beside
//! the file, never the watched file itself) from reading the file to the rename, so two
//! `hiatus emergency` at once both land, one after the other. Holding it, an edit first removes
//! the temporary files `.NAME.PID-N.tmp` that a writer killed mid-edit left (only the holder
//! makes one, so none of them is live); `hiatus run` does the same at start when the lock is
//! free ([`remove_leftovers`]). Neither name is matched by an include glob (a leading dot).
//!
//! Times are written to the second (`2025-03-01T09:15:42`): the history says when a switch
//! happened, not its minute. Files written before, with `HH:MM`, read as they always did.
//!
//! It does not talk to a running gateway (a reload picks the file up).

use crate::config::{self, values, Diagnostic, Language, Loaded, Report};
use crate::schedule::resolve;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use toml::{Table, Value};
use toml_edit::{DocumentMut, TableLike};

/// How `once` times are written: to the second. `values::date_time` reads this and `HH:MM`.
const WRITTEN: &str = "%Y-%m-%dT%H:%M:%S";

/// How long an edit waits for another one on the same file before it gives up.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The comment every written file starts with.
pub const HEADER: &str = "\
# Emergency windows (SCHEDULES.md rule 9), managed by `hiatus emergency on|off|list`.
# You may edit this file by hand: `hiatus emergency` only appends windows and sets `end`,
# and keeps everything else as written, comments included.
# Switching off sets `end`; records are never deleted, they are the history.
";

/// Why an emergency command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A wrong argument or a configuration that does not say where emergencies go.
    #[error("{0}")]
    Usage(String),
    /// The emergency file (or the main file) cannot be worked on as it is.
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// `off` found no open-ended window to switch off.
    #[error("{0}")]
    NothingOpen(String),
    /// Another edit of the same file held the lock for longer than [`LOCK_WAIT`].
    #[error("{}: another `hiatus emergency`{holder} is editing it; gave up after {} s", file.display(), waited.as_secs())]
    Busy { file: PathBuf, holder: String, waited: std::time::Duration },
    /// The configuration would have errors with the edited file; nothing was written.
    #[error("the configuration would have {} error(s) with this change; nothing was written", .0.errors.len())]
    Invalid(Report),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// One `--scope`: `all`, `tenant:ID` or `host:PATTERN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeArg {
    All,
    Tenant(String),
    Host(String),
}

impl ScopeArg {
    /// Reads the text form; whether the tenant exists and the pattern is valid is for the
    /// configuration loader to say (it does so before anything is written).
    pub fn parse(text: &str) -> Result<ScopeArg, String> {
        let t = text.trim();
        let bad = || format!("{text:?} is not a scope; write \"all\", \"tenant:ID\" or \"host:PATTERN\"");
        if t == "all" {
            return Ok(ScopeArg::All);
        }
        let (kind, value) = t.split_once(':').ok_or_else(bad)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(bad());
        }
        match kind.trim() {
            "tenant" => Ok(ScopeArg::Tenant(value.to_string())),
            "host" => Ok(ScopeArg::Host(value.to_string())),
            _ => Err(bad()),
        }
    }
}

/// `scope = "all"` or `scope = { tenants = [...], hosts = [...] }`.
fn scope_value(scopes: &[ScopeArg]) -> Result<toml_edit::Value, Error> {
    if scopes.is_empty() {
        return Err(Error::Usage("name a scope: --scope all, --scope tenant:ID or --scope host:PATTERN".into()));
    }
    if scopes.contains(&ScopeArg::All) {
        if scopes.iter().any(|s| *s != ScopeArg::All) {
            return Err(Error::Usage("--scope all already covers every tenant; leave out the others".into()));
        }
        return Ok("all".into());
    }
    let (mut tenants, mut hosts) = (Vec::new(), Vec::new());
    for s in scopes {
        let (list, v) = match s {
            ScopeArg::Tenant(t) => (&mut tenants, t),
            ScopeArg::Host(h) => (&mut hosts, h),
            ScopeArg::All => continue,
        };
        if !list.contains(&v) {
            list.push(v);
        }
    }
    let mut t = toml_edit::InlineTable::new();
    for (key, list) in [("tenants", tenants), ("hosts", hosts)] {
        if !list.is_empty() {
            t.insert(key, toml_edit::Value::Array(list.into_iter().collect()));
        }
    }
    Ok(toml_edit::Value::InlineTable(t))
}

/// What `on` adds.
#[derive(Debug, Clone)]
pub struct OnRequest {
    pub scopes: Vec<ScopeArg>,
    pub reason: String,
    pub title: Option<String>,
    /// The language of `reason` and `title`; `None`: the main file's default language.
    pub language: Option<Language>,
    /// `None`: `emergency-YYYYMMDD-HHMM`, with a suffix when that is taken.
    pub id: Option<String>,
}

/// A window that was switched on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    pub id: String,
    pub start: DateTime<Utc>,
    /// `None`: open-ended.
    pub end: Option<DateTime<Utc>>,
}

/// Where a window of the emergency file stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Started, no end: an emergency in force.
    Open,
    /// Started, ends later.
    Active,
    /// Starts later.
    Scheduled,
    /// Over: kept as history.
    Ended,
    /// Not a `once` window (hand-written); see `hiatus upcoming`.
    Recurring,
    /// Its start or zone does not parse; `hiatus check` says why.
    Invalid,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Active => "active",
            State::Scheduled => "scheduled",
            State::Ended => "ended",
            State::Recurring => "recurring",
            State::Invalid => "invalid",
        }
    }
}

/// One window of the emergency file, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub zone: Option<Tz>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub state: State,
}

/// The result of `on`/`off`: which file was written and what changed in it.
#[derive(Debug, Clone)]
pub struct Done {
    pub file: PathBuf,
    pub switched: Vec<Switched>,
    /// Warnings of the configuration about the emergency file (the rest is `check`'s business).
    pub warnings: Vec<Diagnostic>,
    /// Temporary files of writers that died mid-edit, removed before this edit.
    pub removed: Vec<PathBuf>,
}

/// The main file and the emergency file it names (or `--file`).
#[derive(Debug, Clone)]
pub struct Target {
    pub main: PathBuf,
    pub file: PathBuf,
    /// The main file as parsed: the validation loads it with the includes spelt out.
    main_table: Table,
    main_zone: Option<Tz>,
    language: Language,
}

impl Target {
    /// The main file's default zone, when it names a valid one.
    pub fn main_zone(&self) -> Option<Tz> {
        self.main_zone
    }

    /// The main file's default language (`en` when it names none).
    pub fn language(&self) -> Language {
        self.language
    }

    fn base(&self) -> PathBuf {
        self.main.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn includes(&self) -> Value {
        self.main_table.get("include").cloned().unwrap_or(Value::Array(Vec::new()))
    }

    /// Finds the emergency file of the configuration at `main`; `file` (`--file`) overrides
    /// `[gateway] emergency_file`. Either must be a file `include` names or would name: a file
    /// the gateway does not read would switch nothing.
    pub fn locate(main: &Path, file: Option<&Path>) -> Result<Target, Error> {
        let name = main.display().to_string();
        let text = std::fs::read_to_string(main).map_err(io(main))?;
        let main_table = text.parse::<Table>().map_err(|e| Error::File {
            file: name.clone(),
            message: format!("not valid TOML: {}", e.message().trim()),
        })?;
        let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
        let includes = main_table.get("include").cloned().unwrap_or(Value::Array(Vec::new()));
        let configured = main_table
            .get("gateway")
            .and_then(|g| g.get("emergency_file"))
            .and_then(Value::as_str)
            .map(|f| base.join(f));
        if let Some(f) = &configured {
            if !config::includes_file(&includes, &base, f) {
                return Err(Error::File {
                    file: name,
                    message: format!(
                        "gateway.emergency_file: {}: not a file that `include` names or would name by its patterns",
                        f.display()
                    ),
                });
            }
        }
        let file = match (file, configured) {
            (Some(f), _) => {
                if !config::includes_file(&includes, &base, f) {
                    return Err(Error::Usage(format!(
                        "--file {}: not a file that {name}'s `include` names or would name, so the gateway would never read it",
                        f.display()
                    )));
                }
                f.to_path_buf()
            }
            (None, Some(f)) => f,
            (None, None) => {
                return Err(Error::Usage(format!(
                    "no emergency file: set `[gateway] emergency_file = \"…/emergency.toml\"` in {name} or pass --file"
                )))
            }
        };
        let defaults = main_table.get("defaults");
        let main_zone = defaults.and_then(|d| d.get("zone")).and_then(Value::as_str).and_then(|z| values::zone(z).ok());
        let language = defaults
            .and_then(|d| d.get("language"))
            .and_then(Value::as_str)
            .and_then(Language::parse)
            .unwrap_or(Language::En);
        Ok(Target { main: main.to_path_buf(), file, main_table, main_zone, language })
    }

    /// The emergency file as parsed; an empty table when it does not exist yet.
    pub fn read(&self) -> Result<Table, Error> {
        match std::fs::read_to_string(&self.file) {
            Ok(text) => text.parse::<Table>().map_err(|e| Error::File {
                file: self.file.display().to_string(),
                message: format!("not valid TOML: {}", e.message().trim()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Table::new()),
            Err(e) => Err(io(&self.file)(e)),
        }
    }

    /// The emergency file for an edit: its document, and whether it is new (no file, or an
    /// empty one), which then starts with [`HEADER`].
    pub fn document(&self) -> Result<(DocumentMut, bool), Error> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(&self.file)(e)),
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| Error::File {
            file: self.file.display().to_string(),
            message: format!("not valid TOML: {}", e.message().trim()),
        })?;
        Ok((doc, text.trim().is_empty()))
    }

    /// The text an edited document is written as.
    pub fn text(doc: &DocumentMut, fresh: bool) -> String {
        if fresh {
            format!("{HEADER}{doc}")
        } else {
            doc.to_string()
        }
    }

    /// Window ids in every other file of the configuration: a new id must not clash with them.
    pub fn ids_elsewhere(&self) -> BTreeSet<String> {
        let mut ids = window_ids(&self.main_table);
        let base = self.base();
        let (files, _) = config::included_files(&self.includes(), &base, &self.main.display().to_string());
        for f in files.iter().filter(|f| !same_file(f, &self.file)) {
            if let Some(t) = std::fs::read_to_string(f).ok().and_then(|t| t.parse::<Table>().ok()) {
                ids.extend(window_ids(&t));
            }
        }
        ids
    }

    /// Takes the edit lock of the file (waiting up to [`LOCK_WAIT`] for another edit to end) and
    /// removes what writers that died mid-edit left beside it; the removed files.
    pub fn lock(&self) -> Result<(EditLock, Vec<PathBuf>), Error> {
        let lock = EditLock::take(&self.file, LOCK_WAIT)?;
        let removed = remove_temporary_files(&self.file, &lock);
        Ok((lock, removed))
    }

    /// Validates `text` as the new emergency file with the whole configuration, then replaces
    /// the file atomically. Returns the configuration's warnings about the emergency file.
    /// `_lock`: this file's, held since the text was read (see [`Target::lock`]).
    pub fn commit(&self, _lock: &EditLock, text: &str) -> Result<Vec<Diagnostic>, Error> {
        let tmp = temporary_path(&self.file);
        let result = write_synced(&tmp, text, &self.file).and_then(|()| match self.load_with(&tmp) {
            Ok(loaded) => {
                std::fs::rename(&tmp, &self.file).map_err(io(&self.file))?;
                // The rename is durable once the folder is; not every platform can sync one.
                if let Ok(d) = std::fs::File::open(folder(&self.file)) {
                    let _ = d.sync_all();
                }
                let name = self.file.display().to_string();
                Ok(loaded.warnings.into_iter().filter(|w| w.file == name).collect())
            }
            Err(report) => Err(Error::Invalid(report)),
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Loads the configuration as it would be with `candidate` in the place of the target.
    ///
    /// The loader reads includes from disk, so the main file is loaded from its parsed table
    /// with `include` spelt out as the files it names now, the target swapped for `candidate`;
    /// findings about `candidate` are reported under the target's name.
    fn load_with(&self, candidate: &Path) -> Result<Loaded, Report> {
        let base = self.base();
        let name = self.main.display().to_string();
        let includes = self.includes();
        let (files, mut report) = config::included_files(&includes, &base, &name);
        // A literal include of a target that does not exist yet names the file being created.
        if let Some(items) = includes.as_array() {
            report.errors.retain(|d| {
                !items.iter().enumerate().any(|(i, item)| {
                    d.path == format!("include[{i}]")
                        && config::includes_file(&Value::Array(vec![item.clone()]), &base, &self.file)
                })
            });
        }
        if report.has_errors() {
            return Err(report);
        }
        let entry = |p: &Path| -> Option<String> {
            match p.strip_prefix(&base) {
                Ok(rel) => rel.to_str().map(str::to_string),
                Err(_) => std::path::absolute(p).ok().and_then(|a| a.to_str().map(str::to_string)),
            }
        };
        let unnamed = |p: &Path| {
            let mut r = Report::default();
            r.error(&p.display().to_string(), "", "the path is not UTF-8; it cannot be named in `include`");
            r
        };
        let mut list = Vec::new();
        for f in files.iter().filter(|f| !same_file(f, &self.file)) {
            list.push(Value::String(entry(f).ok_or_else(|| unnamed(f))?));
        }
        let cand = entry(candidate).ok_or_else(|| unnamed(candidate))?;
        list.push(Value::String(cand.clone()));
        let mut main = self.main_table.clone();
        main.insert("include".into(), Value::Array(list));
        if let Some(Value::Table(g)) = main.get_mut("gateway") {
            if let Some(ef) = g.get("emergency_file").and_then(Value::as_str).map(|f| base.join(f)) {
                if same_file(&ef, &self.file) {
                    g.insert("emergency_file".into(), Value::String(cand.clone()));
                } else if !files.iter().any(|f| same_file(f, &ef)) {
                    // Its place was checked by `locate`; spelt-out includes cannot name a file to come.
                    g.remove("emergency_file");
                }
            }
        }
        let text = toml::to_string(&main).map_err(|e| {
            let mut r = Report::default();
            r.error(&name, "", format!("cannot restate the file: {e}"));
            r
        })?;
        let cand_name = base.join(&cand).display().to_string();
        let target_name = self.file.display().to_string();
        let rename = |d: &mut Diagnostic| {
            if d.file == cand_name {
                d.file.clone_from(&target_name);
            }
        };
        match config::load_str(&text, &name, &base) {
            Ok(mut loaded) => {
                loaded.warnings.iter_mut().for_each(rename);
                Ok(loaded)
            }
            Err(mut report) => {
                report.errors.iter_mut().chain(report.warnings.iter_mut()).for_each(rename);
                Err(report)
            }
        }
    }
}

/// Writes `text` to the new file `tmp`, with `like`'s permissions when it exists, and syncs it.
fn write_synced(tmp: &Path, text: &str, like: &Path) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(tmp).map_err(io(tmp))?;
    if let Ok(meta) = std::fs::metadata(like) {
        let _ = f.set_permissions(meta.permissions());
    }
    f.write_all(text.as_bytes()).map_err(io(tmp))?;
    f.sync_all().map_err(io(tmp))
}

/// The folder a file is in (`.` for a bare name).
fn folder(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(file: &Path) -> String {
    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `.NAME.PID-NANOS.tmp` beside the file: the dot in front keeps include globs (and the
/// watcher's reloads) from reading it as configuration; the pid says who wrote it.
fn temporary_path(file: &Path) -> PathBuf {
    let nanos = Utc::now().timestamp_subsec_nanos();
    folder(file).join(format!(".{}.{}-{nanos}.tmp", file_name(file), std::process::id()))
}

/// Whether `entry` (a name in the file's folder) is a temporary file of an edit of `file`.
fn is_temporary(file: &Path, entry: &str) -> bool {
    let numbers = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    entry
        .strip_prefix(&format!(".{}.", file_name(file)))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .and_then(|middle| middle.split_once('-'))
        .is_some_and(|(pid, nanos)| numbers(pid) && numbers(nanos))
}

fn temporary_files(file: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder(file)) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| is_temporary(file, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Removes the temporary files of edits of `file`. With the lock held no live edit has one:
/// an edit writes its temporary file only while it holds the lock, so these were left by a
/// writer that died (`kill -9`, a crash, a power cut). The pid in the name is not consulted:
/// it may belong to another process by now, or to one in another pid namespace.
fn remove_temporary_files(file: &Path, _lock: &EditLock) -> Vec<PathBuf> {
    temporary_files(file).into_iter().filter(|p| std::fs::remove_file(p).is_ok()).collect()
}

/// For `hiatus run` at start: removes the temporary files that edits of the emergency file
/// left when their writer died, unless an edit holds the lock right now (that edit removes
/// them itself). Creates no lock file where there is nothing to remove. The removed files.
pub fn remove_leftovers(file: &Path) -> Result<Vec<PathBuf>, Error> {
    if temporary_files(file).is_empty() {
        return Ok(Vec::new());
    }
    match EditLock::take(file, std::time::Duration::ZERO) {
        Ok(lock) => Ok(remove_temporary_files(file, &lock)),
        Err(Error::Busy { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The right to edit one emergency file: an advisory lock (`flock`) on `.NAME.lock` beside it.
///
/// Held from reading the file to renaming the new one over it; released when dropped, and by
/// the kernel when the process dies, so a `kill -9` never leaves it taken. It is not a lock on
/// the emergency file itself: every edit renames a new file over that one, and a writer waiting
/// on the old file would get a lock nobody else asks for. For the same reason the lock file is
/// never removed (two writers could lock two different files of that name).
#[derive(Debug)]
pub struct EditLock {
    _file: std::fs::File,
}

impl EditLock {
    fn path(file: &Path) -> PathBuf {
        folder(file).join(format!(".{}.lock", file_name(file)))
    }

    /// Takes the lock of `file`, waiting up to `wait` for the edit that holds it.
    // `File::try_lock` is stable since Rust 1.89, above the declared `rust-version` (1.85), which
    // is out of date anyway: the locked dependencies need 1.95 (parking_lot). Raising it turns on
    // newer lints across the crate; that is a change of its own.
    #[allow(clippy::incompatible_msrv)]
    pub fn take(file: &Path, wait: std::time::Duration) -> Result<EditLock, Error> {
        let path = Self::path(file);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let deadline = Instant::now() + wait;
        loop {
            match f.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    // flock has no timeout of its own; an edit takes milliseconds to seconds.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let pid = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = if pid.trim().is_empty() { String::new() } else { format!(" (pid {})", pid.trim()) };
                    return Err(Error::Busy { file: file.to_path_buf(), holder, waited: wait });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
            }
        }
        // Who holds it, for the message of an edit that gives up waiting.
        if f.set_len(0).is_ok() {
            let _ = writeln!(f, "{}", std::process::id());
        }
        Ok(EditLock { _file: f })
    }
}

/// Same folder (after resolving it) and same file name.
fn same_file(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| {
        let d = folder(p);
        std::fs::canonicalize(&d).or_else(|_| std::path::absolute(&d)).unwrap_or(d)
    };
    a.file_name() == b.file_name() && resolved(a) == resolved(b)
}

fn windows(doc: &Table) -> impl Iterator<Item = &Table> {
    doc.get("windows").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_table)
}

fn window_ids(doc: &Table) -> BTreeSet<String> {
    windows(doc).filter_map(|w| w.get("id")).filter_map(Value::as_str).map(str::to_string).collect()
}

/// A window's zone: its own, else its file's default, else the main file's.
fn zone_of(w: &Table, file_zone: Option<Tz>, main_zone: Option<Tz>) -> Option<Tz> {
    match w.get("zone").and_then(Value::as_str) {
        Some(z) => values::zone(z).ok(),
        None => file_zone.or(main_zone),
    }
}

fn file_zone(doc: &Table) -> Option<Tz> {
    doc.get("defaults").and_then(|d| d.get("zone")).and_then(Value::as_str).and_then(|z| values::zone(z).ok())
}

/// A `once` start or end as an instant: text or TOML date-time, local to `zone`.
fn instant(v: &Value, zone: Tz) -> Option<DateTime<Utc>> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Datetime(d) => d.to_string(),
        _ => return None,
    };
    values::date_time(&text).ok().map(|local| resolve(zone, local).0)
}

/// The document's data, as the loader reads it (ids, zones, starts).
fn data(doc: &DocumentMut) -> Table {
    // A document that parsed as TOML parses again as a table.
    doc.to_string().parse::<Table>().unwrap_or_default()
}

/// The document's windows, whether written as `[[windows]]` or as an inline array, in order.
fn windows_mut(doc: &mut DocumentMut) -> Vec<&mut dyn TableLike> {
    match doc.get_mut("windows") {
        Some(toml_edit::Item::ArrayOfTables(a)) => a.iter_mut().map(|t| t as &mut dyn TableLike).collect(),
        Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => {
            a.iter_mut().filter_map(toml_edit::Value::as_inline_table_mut).map(|t| t as &mut dyn TableLike).collect()
        }
        _ => Vec::new(),
    }
}

/// `{ LANG = "text" }`.
fn texts(language: Language, text: &str) -> toml_edit::Value {
    let mut t = toml_edit::InlineTable::new();
    t.insert(language.code(), text.into());
    toml_edit::Value::InlineTable(t)
}

/// Appends an open-ended window starting at `at`'s second (UTC, `zone = "UTC"` on the window so
/// no file default matters), after everything else in the file. `taken`: ids used elsewhere in
/// the configuration.
pub fn switch_on(
    doc: &mut DocumentMut,
    req: &OnRequest,
    language: Language,
    at: DateTime<Utc>,
    taken: &BTreeSet<String>,
) -> Result<Switched, Error> {
    let start = at.trunc_subsecs(0);
    let mut used = window_ids(&data(doc));
    used.extend(taken.iter().cloned());
    let id = match &req.id {
        Some(id) if used.contains(id) => {
            return Err(Error::Usage(format!(
                "window id {id:?} is already used (records are kept); choose another --id or leave it out"
            )))
        }
        Some(id) => id.clone(),
        None => {
            let stem = start.format("emergency-%Y%m%d-%H%M").to_string();
            let mut id = stem.clone();
            let mut n = 2;
            while used.contains(&id) {
                id = format!("{stem}-{n}");
                n += 1;
            }
            id
        }
    };
    let scope = scope_value(&req.scopes)?;
    let mut once = toml_edit::InlineTable::new();
    once.insert("start", start.format(WRITTEN).to_string().into());
    let mut w = toml_edit::Table::new();
    w.insert("id", toml_edit::value(id.clone()));
    w.insert("zone", toml_edit::value("UTC"));
    w.insert("scope", toml_edit::value(scope));
    w.insert("once", toml_edit::value(once));
    if let Some(t) = &req.title {
        w.insert("title", toml_edit::value(texts(language, t)));
    }
    w.insert("reason", toml_edit::value(texts(language, &req.reason)));
    match doc.entry("windows").or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new())) {
        toml_edit::Item::ArrayOfTables(items) => {
            // A blank line before it, as between hand-written windows.
            w.decor_mut().set_prefix("\n");
            items.push(w);
        }
        toml_edit::Item::Value(toml_edit::Value::Array(items)) if items.iter().all(|v| v.is_inline_table()) => {
            items.push(w.into_inline_table());
        }
        other => {
            return Err(Error::Usage(format!(
                "`windows` is a {}, not an array of tables ([[windows]]); fix the file by hand",
                other.type_name()
            )))
        }
    }
    Ok(Switched { id, start, end: None })
}

/// Sets `end` on the open-ended window `id`, or on every open-ended window that has started when
/// `id` is `None`. The end is `at`'s second, or one second after the start when switched off in
/// the second it was switched on (an end must lie after the start). The start is never moved:
/// it is the record of when the switch happened, and feeds carry it in their entries' ids.
/// Nothing is removed, and nothing but `end` is written.
pub fn switch_off(
    doc: &mut DocumentMut,
    id: Option<&str>,
    at: DateTime<Utc>,
    main_zone: Option<Tz>,
) -> Result<Vec<Switched>, Error> {
    let at = at.trunc_subsecs(0);
    let read = data(doc);
    let fzone = file_zone(&read);
    let mut switched = Vec::new();
    let (mut seen, mut later) = (false, Vec::new());
    let items = read.get("windows").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut edits = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(w) = item.as_table() else { continue };
        let wid = w.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        if id.is_some_and(|id| id != wid) {
            continue;
        }
        seen = true;
        let zone = zone_of(w, fzone, main_zone);
        let Some(Value::Table(once)) = w.get("once") else { continue };
        if once.contains_key("end") {
            continue;
        }
        let bad = |m: &str| Error::File { file: String::new(), message: format!("windows[{i}] ({wid}): {m}") };
        let zone = zone.ok_or_else(|| bad("no valid zone; `hiatus check` says why"))?;
        let start = once.get("start").and_then(|s| instant(s, zone)).ok_or_else(|| bad("its start does not parse"))?;
        if start > at {
            later.push(wid);
            continue;
        }
        let end = if at > start { at } else { start + Duration::seconds(1) };
        let local = end.with_timezone(&zone).naive_local();
        // In an autumn fold a local time means its first pass (rule 5): the written end may be
        // up to an hour early, which still switches off now; it must still be after the start.
        let written = resolve(zone, local).0;
        if written <= start {
            return Err(bad(&format!(
                "{} in {zone} lies in the autumn fold before the start; set `end` by hand",
                local.format(WRITTEN)
            )));
        }
        edits.push((i, local.format(WRITTEN).to_string()));
        switched.push(Switched { id: wid, start, end: Some(written) });
    }
    if switched.is_empty() {
        let after = if later.is_empty() {
            String::new()
        } else {
            format!(" ({} open-ended window(s) start later: {})", later.len(), later.join(", "))
        };
        return Err(Error::NothingOpen(match id {
            Some(id) if !seen => format!("no window with the id {id:?}"),
            Some(id) => format!("{id} is not open{after}"),
            None => format!("no open-ended window to switch off{after}"),
        }));
    }
    let mut windows = windows_mut(doc);
    for (i, end) in edits {
        // The same windows in the same order as the data read above; `once` is a table there.
        let Some(once) = windows.get_mut(i).and_then(|w| w.get_mut("once")) else {
            return Err(Error::File { file: String::new(), message: format!("windows[{i}]: `once` cannot be edited") });
        };
        match once.as_inline_table_mut() {
            Some(inline) => {
                inline.insert("end", end.into());
                // `{ start = … }` would become `{ start = … , end = … }`: the space before
                // `}` belongs to the last value. Only this one-line table is laid out anew.
                inline.fmt();
            }
            None => {
                if let Some(table) = once.as_table_like_mut() {
                    table.insert("end", toml_edit::value(end));
                }
            }
        }
    }
    Ok(switched)
}

/// The windows of the emergency file and where they stand at `now`.
pub fn list(doc: &Table, now: DateTime<Utc>, main_zone: Option<Tz>) -> Vec<Listed> {
    let fzone = file_zone(doc);
    windows(doc)
        .map(|w| {
            let id = w.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
            let zone = zone_of(w, fzone, main_zone);
            let Some(once) = w.get("once").and_then(Value::as_table) else {
                return Listed { id, zone, start: None, end: None, state: State::Recurring };
            };
            let start = zone.and_then(|z| once.get("start").and_then(|s| instant(s, z)));
            let end = zone.and_then(|z| once.get("end").and_then(|e| instant(e, z)));
            let state = match (start, end, once.contains_key("end")) {
                (None, _, _) | (_, None, true) => State::Invalid,
                (Some(s), _, _) if s > now => State::Scheduled,
                (Some(_), None, _) => State::Open,
                (Some(_), Some(e), _) if e > now => State::Active,
                (Some(_), Some(_), _) => State::Ended,
            };
            Listed { id, zone, start, end, state }
        })
        .collect()
}

/// An emergency text that lives elsewhere (etcd's operator document in cluster mode): `text`
/// ("" when there is none) parsed for an edit, as [`Target::document`] parses the file.
fn document_of(target: &Target, text: &str) -> Result<(DocumentMut, bool), Error> {
    let doc = text.parse::<DocumentMut>().map_err(|e| Error::File {
        file: target.file.display().to_string(),
        message: format!("not valid TOML: {}", e.message().trim()),
    })?;
    Ok((doc, text.trim().is_empty()))
}

impl Target {
    /// Validates `text` as the emergency file with the whole configuration, without writing
    /// the file (cluster mode: the text goes to etcd; each node then writes its export).
    /// The configuration's warnings about the emergency file.
    pub fn check(&self, text: &str) -> Result<Vec<Diagnostic>, Error> {
        let tmp = temporary_path(&self.file);
        let result = write_synced(&tmp, text, &self.file).and_then(|()| match self.load_with(&tmp) {
            Ok(loaded) => {
                let name = self.file.display().to_string();
                Ok(loaded.warnings.into_iter().filter(|w| w.file == name).collect())
            }
            Err(report) => Err(Error::Invalid(report)),
        });
        let _ = std::fs::remove_file(&tmp);
        result
    }
}

/// `on` over a text kept elsewhere: the new text (checked with the whole configuration) and
/// what it switched.
pub fn on_text(target: &Target, text: &str, req: &OnRequest, at: DateTime<Utc>) -> Result<(String, Done), Error> {
    let (mut doc, fresh) = document_of(target, text)?;
    let language = req.language.unwrap_or(target.language);
    let switched = switch_on(&mut doc, req, language, at, &target.ids_elsewhere())?;
    let text = Target::text(&doc, fresh);
    let warnings = target.check(&text)?;
    Ok((text, Done { file: target.file.clone(), switched: vec![switched], warnings, removed: Vec::new() }))
}

/// `off` over a text kept elsewhere, as [`on_text`].
pub fn off_text(target: &Target, text: &str, id: Option<&str>, at: DateTime<Utc>) -> Result<(String, Done), Error> {
    let (mut doc, fresh) = document_of(target, text)?;
    let switched = switch_off(&mut doc, id, at, target.main_zone)?;
    let text = Target::text(&doc, fresh);
    let warnings = target.check(&text)?;
    Ok((text, Done { file: target.file.clone(), switched, warnings, removed: Vec::new() }))
}

/// `hiatus emergency on`: appends an open-ended window to the emergency file.
pub fn on(main: &Path, file: Option<&Path>, req: &OnRequest, at: DateTime<Utc>) -> Result<Done, Error> {
    let target = Target::locate(main, file)?;
    let (lock, removed) = target.lock()?;
    let (mut doc, fresh) = target.document()?;
    let language = req.language.unwrap_or(target.language);
    let switched = switch_on(&mut doc, req, language, at, &target.ids_elsewhere())?;
    let warnings = target.commit(&lock, &Target::text(&doc, fresh))?;
    drop(lock);
    Ok(Done { file: target.file, switched: vec![switched], warnings, removed })
}

/// `hiatus emergency off`: sets `end` on open-ended windows (one by id, or all).
pub fn off(main: &Path, file: Option<&Path>, id: Option<&str>, at: DateTime<Utc>) -> Result<Done, Error> {
    let target = Target::locate(main, file)?;
    let (lock, removed) = target.lock()?;
    let (mut doc, fresh) = target.document()?;
    let name = target.file.display().to_string();
    let switched = switch_off(&mut doc, id, at, target.main_zone).map_err(|e| match e {
        Error::NothingOpen(m) => Error::NothingOpen(format!("{name}: {m}")),
        Error::File { message, .. } => Error::File { file: name.clone(), message },
        e => e,
    })?;
    let warnings = target.commit(&lock, &Target::text(&doc, fresh))?;
    drop(lock);
    Ok(Done { file: target.file, switched, warnings, removed })
}

/// `hiatus emergency list`: the emergency file and its windows at `now`.
pub fn list_file(main: &Path, file: Option<&Path>, now: DateTime<Utc>) -> Result<(PathBuf, Vec<Listed>), Error> {
    let target = Target::locate(main, file)?;
    let doc = target.read()?;
    Ok((target.file.clone(), list(&doc, now, target.main_zone)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh folder under the system temp dir, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(files: &[(&str, &str)]) -> Dir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let root = std::env::temp_dir().join(format!("hiatus-emergency-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("d")).expect("temp dir");
            for (name, text) in files {
                std::fs::write(root.join(name), text).expect("write fixture");
            }
            Dir(root)
        }
        fn main(&self) -> PathBuf {
            self.0.join("main.toml")
        }
        fn emergency(&self) -> PathBuf {
            self.0.join("d/emergency.toml")
        }
        fn read(&self) -> String {
            std::fs::read_to_string(self.emergency()).expect("emergency file")
        }
        fn entries(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(self.0.join("d"))
                .expect("dir")
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
        /// The configuration loads, as `hiatus check` would load it.
        fn loads(&self) -> Loaded {
            config::load(&self.main()).unwrap_or_else(|r| panic!("config must load:\n{r}"))
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const MAIN: &str = r#"
include = ["d/*.toml"]

[defaults]
zone = "Europe/Berlin"
language = "de"

[gateway]
emergency_file = "d/emergency.toml"

[[tenants]]
id = "a"
hosts = ["www{1..9}.example.de"]
upstreams = ["127.0.0.1:9"]

[[windows]]
id = "nightly"
daily = { at = "00:34", until = "00:55" }
"#;

    /// Hand-written: comments, a file default, odd keys, a TOML date-time, an open-ended window
    /// in local time.
    const HAND: &str = r#"# written by hand
[defaults]
zone = "Europe/Oslo"

[[windows]]
id = "old"
scope = { hosts = ["www{3..4}.example.de"] }
once = { start = 2025-02-10T09:12:00, end = "2025-02-10T10:40", tentative_from = "2025-02-10T10:00" }
title = { nb = "Feil", de = "Störung \"DB\"" }

[[windows]]   # still open, local time
id = "local-open"
once = { start = "2025-03-01T08:00" }
reason = { en = "line one\nline two" }

[[windows]]
id = "weekly-hand"
weekly = { on = ["tue"], at = "22:30", until = "06:00" }
except = { months = ["jul"] }
"#;

    /// The emergency folder after an edit: the file and its lock file (kept, never removed).
    const AFTER_AN_EDIT: [&str; 2] = [".emergency.toml.lock", "emergency.toml"];

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).expect("rfc3339 in test").with_timezone(&Utc)
    }

    fn req(scopes: &[&str]) -> OnRequest {
        OnRequest {
            scopes: scopes.iter().map(|s| ScopeArg::parse(s).expect("scope in test")).collect(),
            reason: "Datenbank gestört".into(),
            title: Some("Störung".into()),
            language: None,
            id: None,
        }
    }

    /// A value on one line, keys in a fixed order (`toml::Table` sorts them): `{ start = …, end = … }`.
    fn inline(v: &Value) -> String {
        const FIRST: [&str; 5] = ["tenants", "hosts", "start", "end", "tentative_from"];
        match v {
            Value::Table(t) => {
                let mut keys: Vec<&String> = t.keys().collect();
                keys.sort_by_key(|k| (FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()), k.as_str()));
                let parts: Vec<String> = keys.iter().map(|k| format!("{k} = {}", inline(&t[k.as_str()]))).collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
            other => other.to_string(),
        }
    }

    fn window<'a>(doc: &'a Table, id: &str) -> &'a Table {
        windows(doc).find(|w| w.get("id").and_then(Value::as_str) == Some(id)).expect("window in test")
    }

    fn parsed(d: &Dir) -> Table {
        d.read().parse::<Table>().expect("written file parses")
    }

    #[test]
    fn on_writes_an_open_ended_utc_window_that_loads() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        let done = on(&d.main(), None, &req(&["tenant:a", "host:www7.example.de"]), at("2025-03-01T10:15:42+01:00"))
            .expect("on");
        assert_eq!(
            done.switched,
            vec![Switched { id: "emergency-20250301-0915".into(), start: at("2025-03-01T09:15:42Z"), end: None }]
        );
        let text = d.read();
        assert!(text.starts_with(HEADER), "{text}");
        let doc = parsed(&d);
        let w = window(&doc, "emergency-20250301-0915");
        assert_eq!(w.get("zone").and_then(Value::as_str), Some("UTC"));
        assert_eq!(w.get("once").map(inline).as_deref(), Some(r#"{ start = "2025-03-01T09:15:42" }"#));
        assert_eq!(w.get("scope").map(inline).as_deref(), Some(r#"{ tenants = ["a"], hosts = ["www7.example.de"] }"#));
        assert_eq!(w.get("reason").map(inline).as_deref(), Some(r#"{ de = "Datenbank gestört" }"#));
        let loaded = d.loads();
        assert!(loaded.config.windows.iter().any(|w| w.id == "emergency-20250301-0915"));
        let listed = list(&doc, at("2025-03-01T09:20:00Z"), None);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, State::Open);
        assert_eq!(d.entries(), AFTER_AN_EDIT, "no temporary file is left");
    }

    #[test]
    fn switching_off_keeps_the_record() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on");
        let done = off(&d.main(), None, None, at("2025-03-01T11:02:59Z")).expect("off");
        assert_eq!(done.switched.len(), 1);
        assert_eq!(done.switched[0].end, Some(at("2025-03-01T11:02:59Z")));
        let doc = parsed(&d);
        assert_eq!(windows(&doc).count(), 1, "the window stays as history");
        let w = window(&doc, "emergency-20250301-0915");
        assert_eq!(
            w.get("once").map(inline).as_deref(),
            Some(r#"{ start = "2025-03-01T09:15:00", end = "2025-03-01T11:02:59" }"#)
        );
        assert_eq!(w.get("scope").and_then(Value::as_str), Some("all"));
        d.loads();
        let listed = list(&doc, at("2025-03-01T12:00:00Z"), None);
        assert_eq!((listed[0].state, listed[0].end), (State::Ended, Some(at("2025-03-01T11:02:59Z"))));
        // Nothing open any more: exit 1, and the file stays as it was.
        let before = d.read();
        assert!(matches!(off(&d.main(), None, None, at("2025-03-01T12:00:00Z")), Err(Error::NothingOpen(_))));
        assert_eq!(d.read(), before);
    }

    #[test]
    fn on_and_off_within_a_minute_keep_their_seconds() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        let on_at = at("2025-03-01T09:15:10.750Z");
        let done = on(&d.main(), None, &req(&["all"]), on_at).expect("on");
        assert_eq!(done.switched[0].start, at("2025-03-01T09:15:10Z"), "to the second, not the minute");
        let done = off(&d.main(), None, None, at("2025-03-01T09:15:50Z")).expect("off");
        assert_eq!(
            (done.switched[0].start, done.switched[0].end),
            (at("2025-03-01T09:15:10Z"), Some(at("2025-03-01T09:15:50Z"))),
            "the start stays where it was recorded; the end is the second of the switch"
        );
        let doc = parsed(&d);
        assert_eq!(
            window(&doc, "emergency-20250301-0915").get("once").map(inline).as_deref(),
            Some(r#"{ start = "2025-03-01T09:15:10", end = "2025-03-01T09:15:50" }"#)
        );
        let loaded = d.loads();
        let w = loaded.config.windows.iter().find(|w| w.id == "emergency-20250301-0915").expect("loaded");
        let mut occurrences = Vec::new();
        w.schedule.expand(0, 0, i64::MAX - 1, |_, e| occurrences.push(e));
        assert_eq!(
            occurrences,
            vec![crate::schedule::Expanded::Kept(crate::schedule::Occurrence {
                start: at("2025-03-01T09:15:10Z").timestamp(),
                end: at("2025-03-01T09:15:50Z").timestamp(),
                tentative_from: at("2025-03-01T09:15:50Z").timestamp(),
                window: 0,
            })]
        );
    }

    #[test]
    fn off_in_the_second_of_on_ends_one_second_later() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:10.100Z")).expect("on");
        let done = off(&d.main(), None, None, at("2025-03-01T09:15:10.900Z")).expect("off");
        // An end must lie after the start; the recorded start is not moved (it may have been
        // announced already: the feed's entry id carries it).
        assert_eq!(
            (done.switched[0].start, done.switched[0].end),
            (at("2025-03-01T09:15:10Z"), Some(at("2025-03-01T09:15:11Z")))
        );
        d.loads();
    }

    #[test]
    fn files_with_minutes_only_still_read_and_switch_off_to_the_second() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        let listed = list(&parsed(&d), at("2025-03-01T10:00:00Z"), None);
        assert_eq!(listed[0].start, Some(at("2025-02-10T08:12:00Z")), "Oslo 09:12 read as before");
        let done = off(&d.main(), None, Some("local-open"), at("2025-03-01T10:30:07Z")).expect("off");
        assert_eq!(done.switched[0].end, Some(at("2025-03-01T10:30:07Z")));
        let w = parsed(&d);
        assert_eq!(
            window(&w, "local-open").get("once").map(inline).as_deref(),
            Some(r#"{ start = "2025-03-01T08:00", end = "2025-03-01T11:30:07" }"#),
            "the hand-written start is kept as written"
        );
        d.loads();
    }

    #[test]
    fn threads_switching_at_once_all_land() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        let mut first = req(&["all"]);
        first.id = Some("first".into());
        on(&d.main(), None, &first, at("2025-03-01T09:00:00Z")).expect("first");
        const N: usize = 8;
        let start = &std::sync::Barrier::new(N + 1);
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for i in 0..N {
                let main = d.main();
                handles.push(s.spawn(move || {
                    let mut r = req(&[&format!("host:www{}.example.de", i + 1)]);
                    r.id = Some(format!("w{i}"));
                    start.wait();
                    on(&main, None, &r, at("2025-03-01T09:15:00Z")).map(|_| ())
                }));
            }
            let main = d.main();
            let off_handle = s.spawn(move || {
                start.wait();
                off(&main, None, Some("first"), at("2025-03-01T09:15:00Z")).map(|_| ())
            });
            for h in handles.into_iter().chain([off_handle]) {
                h.join().expect("no panic").expect("every edit succeeds");
            }
        });
        let doc = parsed(&d);
        let mut ids: Vec<String> = window_ids(&doc).into_iter().collect();
        ids.sort();
        let mut want: Vec<String> = (0..N).map(|i| format!("w{i}")).collect();
        want.push("first".into());
        want.sort();
        assert_eq!(ids, want, "every switch on landed");
        assert!(window(&doc, "first").get("once").and_then(Value::as_table).is_some_and(|o| o.contains_key("end")));
        assert_eq!(d.entries(), AFTER_AN_EDIT, "no temporary file is left");
        d.loads();
    }

    #[test]
    fn an_edit_removes_a_dead_writers_temporary_file() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        // What `kill -9` in the middle of an edit leaves: a half-written file under a pid long gone.
        std::fs::write(d.0.join("d/.emergency.toml.4194304-17.tmp"), "[[windows]]\nid = \"ha").expect("stale");
        // Not ours: other dot files and temporary files of another file stay.
        std::fs::write(d.0.join("d/.other.toml.4194304-17.tmp"), "").expect("other");
        std::fs::write(d.0.join("d/.emergency.toml.swp"), "").expect("editor");
        d.loads();
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on");
        assert_eq!(
            d.entries(),
            vec![".emergency.toml.lock", ".emergency.toml.swp", ".other.toml.4194304-17.tmp", "emergency.toml"]
        );
    }

    #[test]
    fn on_off_on_gives_two_records() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on");
        d.loads();
        off(&d.main(), None, None, at("2025-03-01T09:15:30Z")).expect("off");
        d.loads();
        let again = on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:40Z")).expect("on again");
        assert_eq!(again.switched[0].id, "emergency-20250301-0915-2", "the same minute gets a suffix");
        d.loads();
        let listed = list(&parsed(&d), at("2025-03-01T09:30:00Z"), None);
        let states: Vec<(&str, State)> = listed.iter().map(|l| (l.id.as_str(), l.state)).collect();
        assert_eq!(states, vec![("emergency-20250301-0915", State::Ended), ("emergency-20250301-0915-2", State::Open)]);
    }

    #[test]
    fn hand_edited_windows_are_kept_as_values() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        d.loads();
        let before = HAND.parse::<Table>().expect("fixture parses");
        on(&d.main(), None, &req(&["host:www2.example.de"]), at("2025-03-01T09:15:00Z")).expect("on");
        let after = parsed(&d);
        assert_eq!(after.get("defaults"), before.get("defaults"));
        for id in ["old", "local-open", "weekly-hand"] {
            assert_eq!(window(&after, id), window(&before, id), "{id} unchanged by on");
        }
        // The file as written, the new window after it: comments and layout stay.
        let text = d.read();
        assert!(text.starts_with(HAND), "{text}");
        assert!(!text.contains(HEADER), "a header only for a new file");
        d.loads();

        // Off without an id: every open-ended window, each in its own zone (Oslo from the file).
        let done = off(&d.main(), None, None, at("2025-03-01T10:30:00Z")).expect("off");
        let ids: Vec<&str> = done.switched.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["local-open", "emergency-20250301-0915"]);
        let after = parsed(&d);
        let local = window(&after, "local-open");
        assert_eq!(
            local.get("once").map(inline).as_deref(),
            Some(r#"{ start = "2025-03-01T08:00", end = "2025-03-01T11:30:00" }"#)
        );
        assert_eq!(local.get("reason"), window(&before, "local-open").get("reason"));
        for id in ["old", "weekly-hand"] {
            assert_eq!(window(&after, id), window(&before, id), "{id} unchanged by off");
        }
        assert_eq!(windows(&after).count(), 4);
        // Off wrote `end` into the window's own `once`, nothing else: the operator's text stays.
        let text = d.read();
        let ended = HAND.replace(
            r#"once = { start = "2025-03-01T08:00" }"#,
            r#"once = { start = "2025-03-01T08:00", end = "2025-03-01T11:30:00" }"#,
        );
        assert!(text.starts_with(&ended), "{text}");
        d.loads();
        let states: Vec<State> = list(&after, at("2025-03-01T12:00:00Z"), None).iter().map(|l| l.state).collect();
        assert_eq!(states, vec![State::Ended, State::Ended, State::Recurring, State::Ended]);
    }

    #[test]
    fn off_by_id_switches_only_that_window() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on");
        let done = off(&d.main(), None, Some("emergency-20250301-0915"), at("2025-03-01T10:00:00Z")).expect("off");
        assert_eq!(done.switched.len(), 1);
        let doc = parsed(&d);
        assert!(!window(&doc, "local-open").get("once").and_then(Value::as_table).expect("once").contains_key("end"));
        for (id, want) in [("emergency-20250301-0915", "is not open"), ("nope", "no window with the id")] {
            match off(&d.main(), None, Some(id), at("2025-03-01T10:05:00Z")) {
                Err(Error::NothingOpen(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }

    #[test]
    fn one_edit_at_a_time_and_leftovers_only_under_the_lock() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        let stale = d.0.join("d/.emergency.toml.4194304-17.tmp");
        std::fs::write(&stale, "[[windows]]\nid = \"ha").expect("stale");
        // A live edit holds the lock: the gateway's start removes nothing, a second edit waits
        // and gives up after its wait, naming the holder.
        let held = EditLock::take(&d.emergency(), std::time::Duration::ZERO).expect("free");
        assert_eq!(remove_leftovers(&d.emergency()).expect("no error"), Vec::<PathBuf>::new());
        assert!(stale.exists());
        match EditLock::take(&d.emergency(), std::time::Duration::from_millis(30)) {
            Err(Error::Busy { holder, .. }) => assert_eq!(holder, format!(" (pid {})", std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        // Free again: what the dead writer left goes.
        assert_eq!(remove_leftovers(&d.emergency()).expect("no error"), vec![stale.clone()]);
        assert_eq!(d.entries(), AFTER_AN_EDIT);
        // Nothing to remove: no lock file is made for it.
        let e = Dir::new(&[("main.toml", MAIN)]);
        assert_eq!(remove_leftovers(&e.emergency()).expect("no error"), Vec::<PathBuf>::new());
        assert_eq!(e.entries(), Vec::<String>::new());
    }

    #[test]
    fn temporary_file_names() {
        let file = Path::new("d/emergency.toml");
        let made = temporary_path(file);
        assert_eq!(made.parent(), Some(Path::new("d")));
        let made = made.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (name, ours) in [
            (made.as_str(), true),
            (".emergency.toml.12-345.tmp", true),
            (".emergency.toml.12-.tmp", false),
            (".emergency.toml.x-345.tmp", false),
            (".emergency.toml.12345.tmp", false),
            (".emergency.toml.lock", false),
            (".other.toml.12-345.tmp", false),
            ("emergency.toml", false),
            (".emergency.toml.12-345.tmp.bak", false),
        ] {
            assert_eq!(is_temporary(file, name), ours, "{name}");
        }
    }

    #[test]
    fn invalid_scope_tenant_is_refused_and_the_file_is_unchanged() {
        let d = Dir::new(&[("main.toml", MAIN), ("d/emergency.toml", HAND)]);
        match on(&d.main(), None, &req(&["tenant:nope"]), at("2025-03-01T09:15:00Z")) {
            Err(Error::Invalid(report)) => {
                let all = report.to_string();
                assert!(all.contains("scope.tenants[0]: no tenant has the id \"nope\""), "{all}");
                assert!(all.contains(&d.emergency().display().to_string()), "named by the target: {all}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.read(), HAND);
        assert_eq!(d.entries(), AFTER_AN_EDIT, "no temporary file is left");
        d.loads();
    }

    #[test]
    fn every_error_is_reported_not_only_the_first() {
        let d = Dir::new(&[("main.toml", MAIN)]);
        let mut r = req(&["tenant:nope", "host:www{9..1}.example.de"]);
        r.language = Some(Language::En);
        r.id = Some("bad id".into());
        let Err(Error::Invalid(report)) = on(&d.main(), None, &r, at("2025-03-01T09:15:00Z")) else {
            panic!("must be refused")
        };
        assert!(report.errors.len() >= 2, "{report}");
        assert!(!d.emergency().exists());
    }

    #[test]
    fn ids_are_unique_across_the_configuration() {
        let d = Dir::new(&[("main.toml", &MAIN.replace("\"nightly\"", "\"emergency-20250301-0915\""))]);
        let done = on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on");
        assert_eq!(done.switched[0].id, "emergency-20250301-0915-2");
        let mut r = req(&["all"]);
        r.id = Some("emergency-20250301-0915".into());
        assert!(matches!(on(&d.main(), None, &r, at("2025-03-01T09:20:00Z")), Err(Error::Usage(_))));
        d.loads();
    }

    #[test]
    fn the_file_must_be_one_the_configuration_reads() {
        // No emergency_file and no --file.
        let d = Dir::new(&[("main.toml", &MAIN.replace("emergency_file = \"d/emergency.toml\"", ""))]);
        assert!(matches!(on(&d.main(), None, &req(&["all"]), Utc::now()), Err(Error::Usage(_))));
        // --file outside the include patterns.
        let outside = d.0.join("other.toml");
        assert!(matches!(on(&d.main(), Some(&outside), &req(&["all"]), Utc::now()), Err(Error::Usage(_))));
        // --file inside them works, spelt differently.
        let inside = d.0.join("d/./second.toml");
        on(&d.main(), Some(&inside), &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("on with --file");
        assert!(d.0.join("d/second.toml").is_file());
        d.loads();
    }

    #[test]
    fn emergency_file_is_validated_by_the_loader() {
        let main = MAIN.replace("d/emergency.toml", "elsewhere/emergency.toml");
        let d = Dir::new(&[("main.toml", &main)]);
        let report = config::load(&d.main()).expect_err("must fail");
        assert!(report.errors.iter().any(|e| e.path == "gateway.emergency_file"), "{report}");
        assert!(matches!(Target::locate(&d.main(), None), Err(Error::File { .. })));
        // A literal include names it too, before the file exists.
        let literal = MAIN.replace("\"d/*.toml\"", "\"d/emergency.toml\"");
        let d = Dir::new(&[("main.toml", &literal)]);
        on(&d.main(), None, &req(&["all"]), at("2025-03-01T09:15:00Z")).expect("creates the literal include");
        d.loads();
    }

    #[test]
    fn scopes() {
        let ok = [
            ("all", ScopeArg::All),
            ("tenant:a", ScopeArg::Tenant("a".into())),
            ("host:www{1..3}.example.de", ScopeArg::Host("www{1..3}.example.de".into())),
        ];
        for (text, want) in ok {
            assert_eq!(ScopeArg::parse(text), Ok(want), "{text}");
        }
        for bad in ["", "tenant:", "host:", "tenants:a", "everything"] {
            assert!(ScopeArg::parse(bad).is_err(), "{bad}");
        }
        assert!(scope_value(&[ScopeArg::All, ScopeArg::Tenant("a".into())]).is_err());
        assert!(scope_value(&[]).is_err());
        let both =
            scope_value(&[ScopeArg::Host("h".into()), ScopeArg::Tenant("a".into()), ScopeArg::Tenant("a".into())]);
        assert_eq!(both.map(|v| v.to_string()).ok().as_deref(), Some(r#"{ tenants = ["a"], hosts = ["h"] }"#));
    }
}
