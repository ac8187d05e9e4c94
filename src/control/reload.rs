//! Reloading: a new configuration is built completely off the request path and published with
//! one `ArcSwap` store; a configuration that fails keeps the running one (STYLE.md 3).
//!
//! Owns [`Reloader`] (load → compile → swap, with the status the admin listener shows) and the
//! change detection of [`Fingerprint`]: every file the configuration was read from, plus the
//! listings of the folders its include globs look in, by size, modification time and inode.
//! Requests in flight keep the snapshot they loaded in `new_ctx`.
//!
//! Only a complete configuration is applied: every file is read within the running
//! configuration's `max_config_size` and refused when it changes while it is read
//! (`config::read`); a configuration without tenants needs `allow_no_tenants`
//! (`config::servable`). Keys that only a start reads (`listen`, `threads`, `admin`, …) are
//! compared with what the process started with: a reload applies everything else and names
//! each such key in its answer, its status and the log.

use crate::clock::Clock;
use crate::compiled::resolve::{Addresses, LOOKUP_TIMEOUT};
use crate::compiled::Compiled;
use crate::config::diagnostic::Diagnostic;
use crate::config::diff::Changes;
use crate::config::gateway::{restart_only_changes, restart_warning, GatewaySettings};
use crate::config::read::Stamp;
use crate::control::vet::Vetter;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: String,
    pub trigger: String,
    pub ok: bool,
    pub generation: u64,
    pub errors: Vec<String>,
    /// Restart-only keys the new configuration changes (`restart_warning` sentences).
    pub warnings: Vec<String>,
    /// The files held what the generation in force was read from: nothing was applied.
    pub unchanged: bool,
}

/// What a reload that was applied says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub generation: u64,
    /// One sentence per restart-only key whose value is not the one the process runs with.
    pub warnings: Vec<String>,
    /// The files read what the generation in force was read from (the same digest): no new
    /// generation; `generation` is the one in force.
    pub unchanged: bool,
}

/// What the admin listener shows about the configuration in force.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generation: u64,
    /// The digest of what the generation in force was read from (`Config::digest`).
    pub hash: String,
    pub loaded_at: String,
    pub files: Vec<String>,
    pub last: Option<Attempt>,
}

/// What a set of files looked like: changes when any is written, added, removed or replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint(Vec<(PathBuf, Option<Stamp>)>);

/// Whether two paths name one file (they may be spelt differently: `./x` and `x`).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

impl Fingerprint {
    pub fn of(files: &[PathBuf], dirs: &[PathBuf]) -> Fingerprint {
        Fingerprint::of_except(files, dirs, None)
    }

    /// [`Fingerprint::of`] without `except` (a file some other path reloads for).
    pub fn of_except(files: &[PathBuf], dirs: &[PathBuf], except: Option<&Path>) -> Fingerprint {
        let stat = |p: &Path| std::fs::metadata(p).ok().map(|m| Stamp::of(&m));
        // Resolved only for a name that matches: folders of includes may hold thousands.
        let skipped = |p: &Path| except.is_some_and(|e| p.file_name() == e.file_name() && same_file(p, e));
        let mut entries: Vec<(PathBuf, Option<Stamp>)> =
            files.iter().filter(|f| !skipped(f)).map(|f| (f.clone(), stat(f))).collect();
        for d in dirs {
            if let Ok(list) = std::fs::read_dir(d) {
                // Dot-files are never configuration (include globs skip them): an editor's swap
                // file or the emergency switch's lock and temporary files change no generation.
                let hidden = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
                let mut found: Vec<PathBuf> = list
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| !files.contains(p) && !hidden(p) && !skipped(p))
                    .collect();
                found.sort();
                entries.extend(found.into_iter().map(|p| {
                    let s = stat(&p);
                    (p, s)
                }));
            }
        }
        Fingerprint(entries)
    }

    fn map(&self) -> HashMap<&Path, Option<Stamp>> {
        self.0.iter().map(|(p, s)| (p.as_path(), *s)).collect()
    }

    /// Whether the change from `before` may be in the middle of a write: a file written in
    /// place (same inode, other size or time) or one that appeared. A file replaced by another
    /// (a rename into place) or removed is complete as it is.
    pub fn may_be_half_written(&self, before: &Fingerprint) -> bool {
        let before = before.map();
        self.0.iter().any(|(path, now)| match (before.get(path.as_path()).copied().flatten(), now) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(n)) => b.inode == n.inode && b != *n,
        })
    }

    /// Whether every file that both name looks the same in both.
    pub fn agrees_with(&self, other: &Fingerprint) -> bool {
        let other = other.map();
        self.0.iter().all(|(path, stamp)| other.get(path.as_path()).is_none_or(|o| o == stamp))
    }
}

/// A refusal as the log and the admin listener show it: `file: key: message`, but not the
/// message of a key that holds a secret (`gateway.bypass.secret`, `gateway.admin_token`), nor
/// one that mentions such a key: a wrong type is shown with the value read, a syntax error
/// with its line. `hiatus check` on the operator's terminal says it all.
pub(crate) fn shown(d: &Diagnostic) -> String {
    let (key, message) = (d.path.to_ascii_lowercase(), d.message.to_ascii_lowercase());
    // A notification target's URL is a secret too: a Slack webhook's path is its credential.
    let target_url = key.starts_with("notify[") && key.ends_with(".url");
    if target_url || ["secret", "token", "password"].iter().any(|s| key.contains(s) || message.contains(s)) {
        return format!(
            "{}: {}: not valid (the message is withheld: the key holds a secret; see `hiatus check`)",
            d.file, d.path
        );
    }
    d.to_string()
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Loads, compiles and publishes configurations.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    current: Arc<ArcSwap<Compiled>>,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
    status: Mutex<Status>,
    /// One reload at a time: a watcher, a signal and an admin request may race.
    busy: Mutex<()>,
    /// The `[gateway]` settings the process started with: what its listeners, threads and
    /// admin listener really are, whatever later generations say.
    started: GatewaySettings,
    /// Reads a new configuration in a child process first (`control::vet`); `None` in tests
    /// that run the library without its binary.
    vetter: Option<Vetter>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        current: Arc<ArcSwap<Compiled>>,
        clock: Clock,
        metrics: Option<Arc<Metrics>>,
    ) -> Reloader {
        let c = current.load();
        let files = c.config().sources.clone();
        let status = Status {
            generation: c.generation,
            hash: c.config().digest.clone(),
            loaded_at: now_text(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            last: None,
        };
        if let Some(m) = &metrics {
            m.loaded(c.generation, clock.now(), false);
        }
        let started = c.config().gateway.clone();
        drop(c);
        Reloader {
            path,
            current,
            clock,
            metrics,
            status: Mutex::new(status),
            busy: Mutex::new(()),
            started,
            vetter: None,
        }
    }

    /// Every reload reads the new files in a child first (`control::vet`).
    pub fn vetted_by(mut self, vetter: Vetter) -> Reloader {
        self.vetter = Some(vetter);
        self
    }

    /// The main configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn current(&self) -> &Arc<ArcSwap<Compiled>> {
        &self.current
    }

    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The files and folders whose change means "reload": the configuration's, and the
    /// certificates and keys it names (a renewed certificate is served without a signal).
    pub fn watched(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let c = self.current.load();
        let mut files = c.config().sources.clone();
        if !files.contains(&self.path) {
            files.insert(0, self.path.clone());
        }
        for cert in &c.config().certificates {
            for f in [&cert.cert, &cert.key] {
                if !files.contains(f) {
                    files.push(f.clone());
                }
            }
        }
        (files, c.config().include_dirs.clone())
    }

    /// How the watched files look now. In cluster mode without the emergency file: there it
    /// is etcd's export, written and reloaded by the cluster's applier itself
    /// (`cluster::store::Applier`); watching it too reloaded every switch twice and, in a burst
    /// of switches, read it while the next one was written (a refused reload in the log).
    pub fn fingerprint(&self) -> Fingerprint {
        let (files, dirs) = self.watched();
        let c = self.current.load();
        let export = c.config().cluster.as_ref().and(c.config().gateway.emergency_file.as_deref());
        Fingerprint::of_except(&files, &dirs, export)
    }

    /// How long a file written in place must hold still before it is read (`reload_settle`).
    pub fn settle(&self) -> Duration {
        self.current.load().config().gateway.reload_settle
    }

    /// Loads the configuration anew and swaps it in; on any error the running one stays.
    /// Blocking (reads files): call it off the async request runtime.
    pub fn reload(&self, trigger: &str) -> Result<u64, Vec<String>> {
        self.apply(trigger).map(|a| a.generation)
    }

    /// The new configuration, vetted first when a vetter is set.
    fn load(&self, limit: u64) -> Result<crate::config::Loaded, Vec<String>> {
        self.vet(limit)?;
        crate::config::load_within(&self.path, Some(limit)).map_err(|report| report.errors.iter().map(shown).collect())
    }

    /// The child's verdict on the files as they are now (`Ok` without a vetter). A file that
    /// changed while the child read it is refused: what the gateway would read next is not
    /// what was vetted, and the watcher reloads it again.
    fn vet(&self, limit: u64) -> Result<(), Vec<String>> {
        let Some(vetter) = &self.vetter else { return Ok(()) };
        let before = self.fingerprint();
        vetter.vet(&self.path, limit)?;
        if self.fingerprint() != before {
            return Err(vec![format!(
                "{}: the configuration changed while it was checked; it is read again once it holds still",
                self.path.display()
            )]);
        }
        Ok(())
    }

    /// [`Reloader::reload`], with the warnings of a reload that was applied.
    ///
    /// One edit is applied once: when the files read hold exactly what the generation in
    /// force was read from (the same [`Config::digest`](crate::config::Config)), nothing is
    /// built or swapped and the answer is "unchanged" with the generation in force. The
    /// watcher and a SIGHUP (or `POST /reload`) that both see one edit therefore make one
    /// generation, whichever comes first; the second waits for the first (one reload at a
    /// time) and then reads the same bytes.
    pub fn apply(&self, trigger: &str) -> Result<Applied, Vec<String>> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let running = self.current.load_full();
        let generation = running.generation + 1;
        let limit = running.config().gateway.max_config_size;
        let result = match self.load(limit) {
            Err(errors) => Err(errors),
            Ok(loaded) => match crate::config::servable(&loaded.config) {
                Err(e) => Err(vec![shown(&e)]),
                Ok(()) => {
                    let warnings: Vec<String> = restart_only_changes(&self.started, &loaded.config.gateway)
                        .into_iter()
                        .map(restart_warning)
                        .collect();
                    if loaded.config.digest == running.config().digest {
                        Ok(Built::Unchanged(warnings))
                    } else {
                        for w in &loaded.warnings {
                            log::warn!("config: {w}");
                        }
                        let files = loaded.config.sources.clone();
                        let digest = loaded.config.digest.clone();
                        let changes = Changes::between(running.config(), &loaded.config);
                        // Names are looked up before the build, within a bound; a name that fails
                        // keeps the address it had, one that never had any refuses the reload.
                        let addresses = Addresses::look_up(&loaded.config, Some(&running.addresses), LOOKUP_TIMEOUT);
                        let never = unresolved(&loaded.config, &addresses);
                        if !never.is_empty() {
                            Err(never)
                        } else {
                            // The same health registry: a reload keeps what the probes found.
                            Compiled::build_with(
                                loaded.config,
                                self.clock.now(),
                                generation,
                                &running.health,
                                addresses,
                            )
                            .map(|compiled| Built::New {
                                compiled: Box::new(compiled),
                                files,
                                digest,
                                warnings,
                                changes,
                            })
                            .map_err(|e| vec![e.to_string()])
                        }
                    }
                }
            },
        };
        let in_force = running.generation;
        drop(running);
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let attempt = |ok: bool, generation: u64, errors: Vec<String>, warnings: Vec<String>, unchanged: bool| {
            Some(Attempt { at: now_text(), trigger: trigger.to_string(), ok, generation, errors, warnings, unchanged })
        };
        match result {
            Ok(Built::Unchanged(warnings)) => {
                // What the parse cost goes back now; nothing else changed.
                crate::memory::release();
                status.last = attempt(true, in_force, Vec::new(), warnings.clone(), true);
                if let Some(m) = &self.metrics {
                    m.unchanged();
                }
                log::info!("config: unchanged ({trigger}), generation {in_force} stays");
                Ok(Applied { generation: in_force, warnings, unchanged: true })
            }
            Ok(Built::New { compiled, files, digest, warnings, changes }) => {
                self.current.store(Arc::from(compiled));
                // The parser's working set and (once requests let go of it) the old configuration.
                crate::memory::release();
                status.generation = generation;
                status.hash = digest;
                status.loaded_at = now_text();
                status.files = files.iter().map(|f| f.display().to_string()).collect();
                status.last = attempt(true, generation, Vec::new(), warnings.clone(), false);
                if let Some(m) = &self.metrics {
                    m.loaded(generation, self.clock.now(), true);
                }
                for w in &warnings {
                    log::warn!("config: {w}");
                }
                log::info!("config: generation {generation} in force ({trigger}): {changes}");
                Ok(Applied { generation, warnings, unchanged: false })
            }
            Err(errors) => {
                // What the refused file cost (text, parser, half a build) goes back now, not
                // at the next good reload.
                crate::memory::release();
                let running = status.generation;
                log::error!(
                    "config: reload refused ({trigger}), generation {running} stays: {} error(s): {}",
                    errors.len(),
                    errors.join("; ")
                );
                status.last = attempt(false, running, errors.clone(), Vec::new(), false);
                if let Some(m) = &self.metrics {
                    m.refused();
                }
                Err(errors)
            }
        }
    }
}

/// A reload's errors for upstream names that have no address now and had none before: which
/// tenant's upstream, and the resolver's words (the reload's answer goes to the operator only).
fn unresolved(config: &crate::config::Config, addresses: &Addresses) -> Vec<String> {
    addresses
        .never_resolved()
        .into_iter()
        .map(|(name, why)| {
            let tenants: Vec<&str> = config
                .tenants
                .iter()
                .filter(|t| t.upstreams.iter().any(|u| u.address == name))
                .map(|t| t.id.as_str())
                .collect();
            format!(
                "tenant {}: upstream {name:?} has no address ({why}); a name must resolve once before it is served",
                tenants.join(", ")
            )
        })
        .collect()
}

/// What a reload built before it is applied.
enum Built {
    /// The same bytes as the generation in force; the restart warnings still hold.
    Unchanged(Vec<String>),
    New {
        compiled: Box<Compiled>,
        files: Vec<PathBuf>,
        digest: String,
        warnings: Vec<String>,
        changes: Changes,
    },
}

#[cfg(test)]
mod tests {
    use super::{shown, Diagnostic, Fingerprint};

    #[test]
    fn a_refusal_never_shows_what_a_secret_key_holds() {
        let d = |path: &str, message: &str| Diagnostic {
            file: "main.toml".into(),
            path: path.into(),
            message: message.into(),
            at: None,
        };
        let cases = [
            (
                d("gateway.bypass.secret", "invalid type: integer `123456`"),
                "main.toml: gateway.bypass.secret: not valid",
            ),
            (d("gateway.admin_token", "use at least 16 characters"), "main.toml: gateway.admin_token: not valid"),
            (d("", "TOML parse error at line 3\n  | secret = \"s3cr3t"), "main.toml: : not valid"),
            (
                d("notify[1].url", "\"https://hooks.example/T0/B0/123456\" is not reachable"),
                "main.toml: notify[1].url: not valid",
            ),
            (
                d("windows[0].daily.at", "\"25:00\" is not a time"),
                "main.toml: windows[0].daily.at: \"25:00\" is not a time",
            ),
        ];
        for (diagnostic, start) in cases {
            let text = shown(&diagnostic);
            assert!(text.starts_with(start), "{text}");
            assert!(!text.contains("123456") && !text.contains("s3cr3t"), "{text}");
        }
    }

    #[test]
    fn dot_files_in_an_include_folder_change_nothing_other_files_do() {
        let dir = std::env::temp_dir().join(format!("hiatus-fingerprint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let before = Fingerprint::of(&[], std::slice::from_ref(&dir));
        std::fs::write(dir.join(".emergency.toml.lock"), "").expect("write");
        std::fs::write(dir.join(".hiatus.toml.swp"), "x").expect("write");
        assert_eq!(Fingerprint::of(&[], std::slice::from_ref(&dir)), before, "dot-files are not looked at");
        std::fs::write(dir.join("windows.toml"), "").expect("write");
        assert_ne!(Fingerprint::of(&[], std::slice::from_ref(&dir)), before, "a new file is a change");
        // A file left out (cluster mode's export) changes nothing, named or found in a folder.
        let export = dir.join("export.toml");
        let files = [export.clone()];
        let without = Fingerprint::of_except(&files, std::slice::from_ref(&dir), Some(&export));
        std::fs::write(&export, "x = 2\n").expect("write");
        assert_eq!(Fingerprint::of_except(&files, std::slice::from_ref(&dir), Some(&export)), without);
        assert_ne!(Fingerprint::of(&files, std::slice::from_ref(&dir)), without);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
