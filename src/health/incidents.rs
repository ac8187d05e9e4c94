//! Incidents: the times a tenant had no healthy upstream, kept in memory and, with
//! `[gateway] state_dir`, in an append-only JSON lines file (`incidents.jsonl`).
//!
//! Owns [`Incident`] and [`IncidentLog`]: opening and closing incidents, the file format, and
//! reading history back at start. Each line is the whole incident as of that moment (an opening
//! line without `end`, a closing line with it, same `id`); reading keeps the last line per id.
//! Each line is written with one `write` and fsync'd before the call returns, so a crash loses at
//! most the line being written; such a torn last line is cut off with a warning at the next start,
//! never fatal. Deciding *when* a tenant is down is not done here (`control::prober`).
//!
//! An incident has a public [`Cause`] (a kind, which pages show) and an internal detail (the
//! upstream's address and the error the probes saw), which only logs and the admin listener
//! show. A line written before the two were told apart has a free-text `cause` and no `detail`:
//! it reads as the generic kind ([`Cause::Unavailable`]) with that text as its detail.

use super::cause::Cause;
use super::shared::Keeper;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The name of the file in `state_dir`.
pub const FILE_NAME: &str = "incidents.jsonl";

/// Incidents that ended longer ago than this are forgotten: dropped from memory when the next
/// one ends and from the file when it is next loaded (at start). The status page shows 30 days
/// (`status::HISTORY_DAYS`); without a limit the log would grow for as long as the gateway runs.
pub const RETAIN_SECS: i64 = 90 * 86_400;

/// Whether `i` is still kept at `now`.
fn retained(i: &Incident, now: i64) -> bool {
    i.end.is_none_or(|end| end >= now - RETAIN_SECS)
}

/// A span of time in which a tenant had no healthy upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Unique within the log: `<tenant>-<start>` (a suffix if that was taken).
    pub id: String,
    pub tenant: String,
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds; `None` while the incident is open.
    pub end: Option<i64>,
    /// The kind of trouble: what public pages may say.
    pub cause: Cause,
    /// What the health checks saw, in plain words (`10.0.0.7:8080: connection refused`): for
    /// logs and the admin listener only, never for a page.
    pub detail: String,
}

impl Incident {
    /// The incident as one line of `incidents.jsonl` (no newline): also its shape in etcd.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Line::from(self)).unwrap_or_default()
    }

    /// An incident from [`Incident::to_json`]'s shape.
    pub fn from_json(text: &str) -> Result<Incident, serde_json::Error> {
        serde_json::from_str::<Line>(text).map(Incident::from)
    }
}

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    id: String,
    tenant: String,
    start: i64,
    end: Option<i64>,
    /// A [`Cause`] code; in lines from before causes had kinds, free text.
    cause: String,
    /// Absent in lines from before causes had kinds (an older binary ignores it when reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl From<&Incident> for Line {
    fn from(i: &Incident) -> Line {
        Line {
            id: i.id.clone(),
            tenant: i.tenant.clone(),
            start: i.start,
            end: i.end,
            cause: i.cause.code().to_string(),
            detail: Some(i.detail.clone()),
        }
    }
}

impl From<Line> for Incident {
    fn from(l: Line) -> Incident {
        // An unknown cause is an older line's free text (which named addresses and errors): the
        // generic kind for pages, and the text kept as the detail for the operator.
        let (cause, detail) = match Cause::from_code(&l.cause) {
            Some(c) => (c, l.detail.unwrap_or_default()),
            None => (Cause::Unavailable, l.detail.unwrap_or(l.cause)),
        };
        Incident { id: l.id, tenant: l.tenant, start: l.start, end: l.end, cause, detail }
    }
}

/// Every incident since the log began, oldest first; persisted when opened on a folder.
#[derive(Debug)]
pub struct IncidentLog {
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
    /// Bumped on every open and close: pages cached with an older value are rendered anew,
    /// and checking costs the request path one atomic load, not the lock.
    version: AtomicU64,
    /// Cluster mode: who decides incidents (`shared`); unset, this node does.
    keeper: OnceLock<Arc<dyn Keeper>>,
}

#[derive(Debug)]
struct Inner {
    incidents: Vec<Incident>,
    file: Option<File>,
}

/// Why the incident file in `state_dir` cannot be used: the folder or file, and what failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state_dir {}: cannot create it: {source}", dir.display())]
    Folder { dir: std::path::PathBuf, source: std::io::Error },
    #[error("{}: cannot {what}: {source}", path.display())]
    File { path: std::path::PathBuf, what: &'static str, source: std::io::Error },
}

impl IncidentLog {
    /// A log that lives as long as the process.
    pub fn in_memory() -> IncidentLog {
        IncidentLog {
            inner: Mutex::new(Inner { incidents: Vec::new(), file: None }),
            path: None,
            version: AtomicU64::new(0),
            keeper: OnceLock::new(),
        }
    }

    /// Reads `dir/incidents.jsonl` (creating the folder and file when missing) and appends to it
    /// from now on. A torn last line is cut off and a line that does not parse is skipped, each
    /// with a warning; only IO errors (no such folder can be made, no permission) fail.
    pub fn load(dir: &Path, now: i64) -> Result<IncidentLog, StateError> {
        let path = dir.join(FILE_NAME);
        let fail = |what: &'static str, source| StateError::File { path: path.clone(), what, source };
        std::fs::create_dir_all(dir).map_err(|source| StateError::Folder { dir: dir.to_path_buf(), source })?;
        let existed = path.exists();
        let bytes = if existed { std::fs::read(&path).map_err(|e| fail("read it", e))? } else { Vec::new() };
        let (mut incidents, whole) = parse(&bytes, &path);
        let all = incidents.len();
        incidents.retain(|i| retained(i, now));
        if incidents.len() < all {
            // Old incidents are dropped from the file too: a whole new file, renamed over the
            // old one, so a crash leaves one or the other. This also cuts off a torn tail.
            compact(dir, &path, &incidents).map_err(|e| fail("write it anew without old incidents", e))?;
        } else if whole < bytes.len() {
            // Cut the torn tail off, or the next line would be glued to it and lost as well.
            let f = OpenOptions::new().write(true).open(&path).map_err(|e| fail("open it", e))?;
            f.set_len(whole as u64).map_err(|e| fail("cut off the torn line", e))?;
            f.sync_all().map_err(|e| fail("sync it", e))?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| fail("open it", e))?;
        if !existed {
            // A new file's directory entry is durable only once the folder is synced.
            if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                log::warn!("incidents: cannot sync {}: {e}", dir.display());
            }
        }
        Ok(IncidentLog {
            inner: Mutex::new(Inner { incidents, file: Some(file) }),
            path: Some(path),
            version: AtomicU64::new(0),
            keeper: OnceLock::new(),
        })
    }

    /// Hands the deciding to `keeper` (cluster mode; the first call wins).
    pub fn share(&self, keeper: Arc<dyn Keeper>) {
        let _ = self.keeper.set(keeper);
    }

    /// The keeper, in cluster mode.
    pub fn keeper(&self) -> Option<&Arc<dyn Keeper>> {
        self.keeper.get()
    }

    /// Takes `incident` as another node published it (cluster mode): added, or replacing the
    /// one with its id when it differs. An open one also closes any other open incident of its
    /// tenant (one that this node opened while it decided, never published, now superseded),
    /// at the adopted one's start. An incident never opens again once ended (a late copy of its
    /// opening changes nothing: a new outage is a new id). Whether anything changed.
    pub fn adopt(&self, incident: Incident) -> bool {
        let mut inner = self.lock();
        let reopens = incident.end.is_none() && inner.incidents.iter().any(|i| i.id == incident.id && i.end.is_some());
        if reopens || inner.incidents.contains(&incident) {
            return false;
        }
        if incident.end.is_none() {
            let stale: Vec<usize> = (0..inner.incidents.len())
                .filter(|&n| {
                    let i = &inner.incidents[n];
                    i.end.is_none() && i.tenant == incident.tenant && i.id != incident.id
                })
                .collect();
            for n in stale {
                let mut closed = inner.incidents[n].clone();
                closed.end = Some(incident.start.max(closed.start));
                log::info!("incident {} ended: superseded by the cluster's incident {}", closed.id, incident.id);
                self.persist(&mut inner, &closed);
                inner.incidents[n] = closed;
            }
        }
        self.persist(&mut inner, &incident);
        match inner.incidents.iter().position(|i| i.id == incident.id) {
            Some(n) => inner.incidents[n] = incident,
            None => {
                // Kept in order of start, as local openings are.
                let at = inner.incidents.iter().rposition(|i| i.start <= incident.start).map_or(0, |n| n + 1);
                inner.incidents.insert(at, incident);
            }
        }
        self.version.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Closes the open incident `id` at `now` unless it already ended; whether it did (cluster
    /// mode: an incident the shared record no longer holds open).
    pub fn end_id(&self, id: &str, now: i64) -> bool {
        let mut inner = self.lock();
        let Some(n) = inner.incidents.iter().position(|i| i.id == id && i.end.is_none()) else { return false };
        let mut closed = inner.incidents[n].clone();
        closed.end = Some(now.max(closed.start));
        self.persist(&mut inner, &closed);
        inner.incidents[n] = closed;
        self.version.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Changes whenever an incident opens or closes.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// The file incidents are persisted in, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the list half-changed: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Incidents open now or ended at or after `since` (unix seconds), newest first.
    pub fn recent(&self, since: i64) -> Vec<Incident> {
        let inner = self.lock();
        let mut out: Vec<Incident> =
            inner.incidents.iter().filter(|i| i.end.is_none_or(|e| e >= since)).cloned().collect();
        out.reverse();
        out
    }

    /// Incidents not ended yet, oldest first.
    pub fn open(&self) -> Vec<Incident> {
        self.lock().incidents.iter().filter(|i| i.end.is_none()).cloned().collect()
    }

    /// The open incident of `tenant`, if any.
    pub fn open_for(&self, tenant: &str) -> Option<Incident> {
        self.lock().incidents.iter().find(|i| i.end.is_none() && i.tenant == tenant).cloned()
    }

    /// Opens an incident for `tenant` unless one is open; returns the new one.
    pub fn begin(&self, tenant: &str, cause: Cause, detail: &str, now: i64) -> Option<Incident> {
        let mut inner = self.lock();
        if inner.incidents.iter().any(|i| i.end.is_none() && i.tenant == tenant) {
            return None;
        }
        let base = format!("{tenant}-{now}");
        let mut id = base.clone();
        let mut n = 1;
        while inner.incidents.iter().any(|i| i.id == id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        let incident =
            Incident { id, tenant: tenant.to_string(), start: now, end: None, cause, detail: detail.to_string() };
        self.persist(&mut inner, &incident);
        inner.incidents.push(incident.clone());
        self.version.fetch_add(1, Ordering::Relaxed);
        Some(incident)
    }

    /// Closes the open incident of `tenant` at `now`; returns it. Incidents that ended more than
    /// `RETAIN_SECS` before `now` are forgotten here.
    pub fn end(&self, tenant: &str, now: i64) -> Option<Incident> {
        let mut inner = self.lock();
        let index = inner.incidents.iter().position(|i| i.end.is_none() && i.tenant == tenant)?;
        let mut closed = inner.incidents[index].clone();
        closed.end = Some(now.max(closed.start));
        self.persist(&mut inner, &closed);
        inner.incidents[index] = closed.clone();
        inner.incidents.retain(|i| retained(i, now));
        self.version.fetch_add(1, Ordering::Relaxed);
        Some(closed)
    }

    /// Appends one line and syncs it. A failure is logged, not returned: the incident still
    /// counts in memory, and losing history must not stop the gateway from serving.
    fn persist(&self, inner: &mut Inner, incident: &Incident) {
        let Some(file) = inner.file.as_mut() else { return };
        let written = serde_json::to_vec(&Line::from(incident)).map_err(std::io::Error::other).and_then(|mut line| {
            line.push(b'\n');
            file.write_all(&line)?;
            file.sync_data()
        });
        if let Err(e) = written {
            let at = self.path.as_deref().map(Path::display);
            log::error!("incidents: cannot write {}: {e}", at.map(|p| p.to_string()).unwrap_or_default());
        }
    }
}

/// Writes `incidents` as the whole file at `path`: into a new file beside it, synced, renamed
/// over the old one, and the folder synced.
fn compact(dir: &Path, path: &Path, incidents: &[Incident]) -> std::io::Result<()> {
    let fresh = dir.join(format!("{FILE_NAME}.new"));
    let mut text = Vec::new();
    for i in incidents {
        serde_json::to_writer(&mut text, &Line::from(i)).map_err(std::io::Error::other)?;
        text.push(b'\n');
    }
    let mut file = File::create(&fresh)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&fresh, path)?;
    File::open(dir)?.sync_all()
}

/// The incidents in `bytes` (last line per id wins, in order of first appearance) and how many
/// bytes are whole lines.
fn parse(bytes: &[u8], path: &Path) -> (Vec<Incident>, usize) {
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if whole < bytes.len() {
        log::warn!(
            "incidents: {}: the last line is incomplete (a crash while writing it?); dropping its {} bytes",
            path.display(),
            bytes.len() - whole
        );
    }
    let mut incidents: Vec<Incident> = Vec::new();
    for (n, line) in bytes[..whole].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Line>(line) {
            Ok(l) => match incidents.iter_mut().find(|i| i.id == l.id) {
                Some(known) => *known = l.into(),
                None => incidents.push(l.into()),
            },
            Err(e) => log::warn!("incidents: {}: line {}: skipped, not an incident: {e}", path.display(), n + 1),
        }
    }
    (incidents, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder per test, removed afterwards.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("hiatus-incidents-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            Dir(d)
        }
        fn file(&self) -> PathBuf {
            self.0.join(FILE_NAME)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ids(list: &[Incident]) -> Vec<(&str, Option<i64>)> {
        list.iter().map(|i| (i.id.as_str(), i.end)).collect()
    }

    #[test]
    fn open_then_close_one_per_tenant() {
        let log = IncidentLog::in_memory();
        let first = log.begin("a", Cause::Unreachable, "10.0.0.1:80: connection refused", 100).expect("opened");
        assert_eq!(first.id, "a-100");
        assert!(log.begin("a", Cause::Unreachable, "again", 110).is_none(), "one open incident per tenant");
        assert!(log.begin("b", Cause::Unreachable, "x", 110).is_some());
        assert_eq!(ids(&log.open()), [("a-100", None), ("b-110", None)]);
        let closed = log.end("a", 130).expect("closed");
        assert_eq!(
            (closed.end, closed.cause, closed.detail.as_str()),
            (Some(130), Cause::Unreachable, "10.0.0.1:80: connection refused")
        );
        assert!(log.end("a", 140).is_none(), "nothing open");
        assert_eq!(ids(&log.open()), [("b-110", None)]);
        // Reopened within the same second: a new id.
        log.begin("a", Cause::Unreachable, "again", 130);
        assert_eq!(ids(&log.recent(0)), [("a-130", None), ("b-110", None), ("a-100", Some(130))]);
        assert_eq!(ids(&log.recent(131)), [("a-130", None), ("b-110", None)]);
        log.end("a", 130);
        log.begin("a", Cause::Unreachable, "third", 130);
        assert_eq!(log.open_for("a").map(|i| i.id), Some("a-130-2".to_string()));
    }

    #[test]
    fn adopted_incidents_replace_by_id_and_supersede_a_stale_open_one() {
        let log = IncidentLog::in_memory();
        let stale = log.begin("a", Cause::Unreachable, "seen here", 100).expect("opened");
        let shared = Incident {
            id: "a-90".into(),
            tenant: "a".into(),
            start: 90,
            end: None,
            cause: Cause::Timeout,
            detail: "x".into(),
        };
        let before = log.version();
        assert!(log.adopt(shared.clone()));
        assert!(!log.adopt(shared.clone()), "the same incident again changes nothing");
        assert!(log.version() > before);
        assert_eq!(ids(&log.recent(0)), [("a-100", Some(100)), ("a-90", None)], "the stale one ended");
        assert_eq!(log.open_for("a").map(|i| i.id), Some("a-90".to_string()));
        assert_ne!(stale.id, "a-90");
        assert!(log.adopt(Incident { end: Some(150), ..shared.clone() }));
        assert!(log.open().is_empty());
        assert!(!log.adopt(shared), "a late copy of its opening does not open it again");
        assert!(log.open().is_empty());
        assert!(!log.end_id("a-90", 160), "already ended");
        log.begin("b", Cause::Unreachable, "x", 200);
        assert!(log.end_id("b-200", 210));
        assert_eq!(log.recent(0).first().map(|i| i.end), Some(Some(210)));
    }

    #[test]
    fn restart_keeps_history_and_open_incidents() {
        let dir = Dir::new("restart");
        {
            let log = IncidentLog::load(&dir.0, 1_000).expect("load");
            log.begin("a", Cause::Unreachable, "connection refused", 100);
            log.end("a", 160);
            log.begin("b", Cause::Errors, "answered 500, expected 200", 170);
        }
        let text = std::fs::read_to_string(dir.file()).expect("written");
        assert_eq!(text.lines().count(), 3, "append only: open, close, open\n{text}");
        let log = IncidentLog::load(&dir.0, 1_000).expect("reload");
        assert_eq!(ids(&log.recent(0)), [("b-170", None), ("a-100", Some(160))]);
        assert_eq!(
            log.open_for("b").map(|i| (i.cause, i.detail)),
            Some((Cause::Errors, "answered 500, expected 200".to_string()))
        );
        log.end("b", 200);
        let log = IncidentLog::load(&dir.0, 1_000).expect("reload again");
        assert!(log.open().is_empty());
        assert_eq!(log.recent(0).len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_not_fatal() {
        let dir = Dir::new("torn");
        {
            let log = IncidentLog::load(&dir.0, 1_000).expect("load");
            log.begin("a", Cause::Unreachable, "connection refused", 100);
        }
        let mut bytes = std::fs::read(dir.file()).expect("written");
        let whole = bytes.len();
        bytes.extend_from_slice(br#"{"id":"a-100","tenant":"a","start":100,"en"#);
        std::fs::write(dir.file(), &bytes).expect("tear");
        let log = IncidentLog::load(&dir.0, 1_000).expect("a torn line is tolerated");
        assert_eq!(ids(&log.open()), [("a-100", None)], "the torn close is lost, the open stays");
        assert_eq!(std::fs::metadata(dir.file()).map(|m| m.len() as usize).ok(), Some(whole), "tail cut off");
        log.end("a", 150);
        let log = IncidentLog::load(&dir.0, 1_000).expect("reload");
        assert_eq!(ids(&log.recent(0)), [("a-100", Some(150))], "the next line is not glued to the torn one");
    }

    /// Incidents that ended more than 90 days ago are forgotten: in memory when the next one
    /// ends, and in the file at the next load, which keeps every other incident as it was.
    #[test]
    fn old_incidents_are_forgotten_in_memory_and_in_the_file() {
        const DAY: i64 = 86_400;
        let dir = Dir::new("retain");
        {
            let log = IncidentLog::load(&dir.0, 0).expect("load");
            log.begin("a", Cause::Unreachable, "refused", 0);
            log.end("a", DAY);
            log.begin("b", Cause::Unreachable, "refused", 50 * DAY);
            log.end("b", 51 * DAY);
            log.begin("c", Cause::Unreachable, "still down", 60 * DAY);
            // 91 days after a's end: a goes when d ends, b stays (ended 40 days before).
            log.begin("d", Cause::Unreachable, "refused", 91 * DAY);
            assert_eq!(log.recent(0).len(), 4);
            log.end("d", 92 * DAY);
            assert_eq!(
                ids(&log.recent(0)),
                [("d-7862400", Some(92 * DAY)), ("c-5184000", None), ("b-4320000", Some(51 * DAY))]
            );
        }
        assert_eq!(std::fs::read_to_string(dir.file()).map(|t| t.lines().count()).ok(), Some(7), "append only");
        // Loaded 142 days in: b ended 91 days before and goes; the open c stays however old.
        let log = IncidentLog::load(&dir.0, 142 * DAY).expect("reload");
        assert_eq!(ids(&log.recent(0)), [("d-7862400", Some(92 * DAY)), ("c-5184000", None)]);
        let text = std::fs::read_to_string(dir.file()).expect("file");
        assert_eq!(text.lines().count(), 2, "one line per kept incident\n{text}");
        assert!(!dir.0.join(format!("{FILE_NAME}.new")).exists());
        log.end("c", 143 * DAY);
        let log = IncidentLog::load(&dir.0, 143 * DAY).expect("reload again");
        assert_eq!(ids(&log.recent(0)), [("d-7862400", Some(92 * DAY)), ("c-5184000", Some(143 * DAY))]);
    }

    #[test]
    fn a_garbled_line_inside_is_skipped() {
        let dir = Dir::new("garbled");
        std::fs::create_dir_all(&dir.0).expect("dir");
        let text = "{\"id\":\"a-1\",\"tenant\":\"a\",\"start\":1,\"end\":null,\"cause\":\"x\"}\n\
                    \u{0}\u{0}garbage\n\n\
                    {\"id\":\"a-1\",\"tenant\":\"a\",\"start\":1,\"end\":5,\"cause\":\"x\"}\n";
        std::fs::write(dir.file(), text).expect("write");
        let log = IncidentLog::load(&dir.0, 1_000).expect("load");
        assert_eq!(ids(&log.recent(0)), [("a-1", Some(5))]);
    }

    /// Lines written before causes had kinds carry free text (with addresses and OS errors) in
    /// `cause` and no `detail`: they still load, as the generic kind with the text as detail.
    #[test]
    fn older_lines_with_a_free_text_cause_load_as_the_generic_kind() {
        let cases = [
            (
                r#"{"id":"a-1","tenant":"a","start":1,"end":null,"cause":"10.0.0.7:8080: connection refused"}"#,
                Cause::Unavailable,
                "10.0.0.7:8080: connection refused",
            ),
            (r#"{"id":"a-1","tenant":"a","start":1,"end":null,"cause":""}"#, Cause::Unavailable, ""),
            (
                r#"{"id":"a-1","tenant":"a","start":1,"end":null,"cause":"timeout","detail":"no answer within 2s"}"#,
                Cause::Timeout,
                "no answer within 2s",
            ),
            (r#"{"id":"a-1","tenant":"a","start":1,"end":null,"cause":"errors"}"#, Cause::Errors, ""),
        ];
        for (line, cause, detail) in cases {
            let dir = Dir::new("older");
            std::fs::create_dir_all(&dir.0).expect("dir");
            std::fs::write(dir.file(), format!("{line}\n")).expect("write");
            let log = IncidentLog::load(&dir.0, 1_000).expect("load");
            let open = log.open();
            assert_eq!(open.len(), 1, "{line}");
            assert_eq!((open[0].cause, open[0].detail.as_str()), (cause, detail), "{line}");
        }
    }

    #[test]
    fn lines_keep_the_cause_as_a_code_and_the_detail_apart() {
        let dir = Dir::new("kinds");
        {
            let log = IncidentLog::load(&dir.0, 1_000).expect("load");
            log.begin("a", Cause::Unreachable, "10.0.0.1:80: connection refused", 100);
        }
        let text = std::fs::read_to_string(dir.file()).expect("written");
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).expect("JSON");
        assert_eq!(
            (line["cause"].as_str(), line["detail"].as_str()),
            (Some("unreachable"), Some("10.0.0.1:80: connection refused"))
        );
        let log = IncidentLog::load(&dir.0, 1_000).expect("reload");
        assert_eq!(
            log.open().first().map(|i| (i.cause, i.detail.clone())),
            Some((Cause::Unreachable, "10.0.0.1:80: connection refused".to_string()))
        );
    }
}
