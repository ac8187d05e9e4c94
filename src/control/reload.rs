//! Reloading: a new configuration is built completely off the request path and published with
//! one `ArcSwap` store; a configuration that fails keeps the running one (STYLE.md 3).
//!
//! Owns [`Reloader`] (load → compile → swap, with the status the admin listener shows) and the
//! change detection of [`Fingerprint`]: every file the configuration was read from, plus the
//! listings of the folders its include globs look in, by size and modification time. Requests
//! in flight keep the snapshot they loaded in `new_ctx`.

use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use blake2::{Blake2s256, Digest};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: String,
    pub trigger: String,
    pub ok: bool,
    pub generation: u64,
    pub errors: Vec<String>,
}

/// What the admin listener shows about the configuration in force.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generation: u64,
    pub hash: String,
    pub loaded_at: String,
    pub files: Vec<String>,
    pub last: Option<Attempt>,
}

/// What a set of files looked like: changes when any is written, added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

impl Fingerprint {
    pub fn of(files: &[PathBuf], dirs: &[PathBuf]) -> Fingerprint {
        let stat =
            |p: &Path| std::fs::metadata(p).ok().map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        let mut entries: Vec<(PathBuf, Option<(u64, SystemTime)>)> =
            files.iter().map(|f| (f.clone(), stat(f))).collect();
        for d in dirs {
            if let Ok(list) = std::fs::read_dir(d) {
                let mut found: Vec<PathBuf> =
                    list.filter_map(Result::ok).map(|e| e.path()).filter(|p| !files.contains(p)).collect();
                found.sort();
                entries.extend(found.into_iter().map(|p| {
                    let s = stat(&p);
                    (p, s)
                }));
            }
        }
        Fingerprint(entries)
    }
}

fn hash_files(files: &[PathBuf]) -> String {
    let mut h = Blake2s256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(f).unwrap_or_default());
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
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
            hash: hash_files(&files),
            loaded_at: now_text(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            last: None,
        };
        if let Some(m) = &metrics {
            m.generation.set(c.generation as i64);
        }
        Reloader { path, current, clock, metrics, status: Mutex::new(status), busy: Mutex::new(()) }
    }

    pub fn current(&self) -> &Arc<ArcSwap<Compiled>> {
        &self.current
    }

    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The files and folders whose change means "reload".
    pub fn watched(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let c = self.current.load();
        let mut files = c.config().sources.clone();
        if !files.contains(&self.path) {
            files.insert(0, self.path.clone());
        }
        (files, c.config().include_dirs.clone())
    }

    /// Loads the configuration anew and swaps it in; on any error the running one stays.
    /// Blocking (reads files): call it off the async request runtime.
    pub fn reload(&self, trigger: &str) -> Result<u64, Vec<String>> {
        let _one = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.current.load().generation + 1;
        let result = match crate::config::load(&self.path) {
            Err(report) => Err(report.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
            Ok(loaded) => {
                for w in &loaded.warnings {
                    log::warn!("config: {w}");
                }
                let files = loaded.config.sources.clone();
                // The same health registry: a reload keeps what the probes found.
                let health = self.current.load().health.clone();
                Compiled::build_with(loaded.config, self.clock.now(), generation, &health)
                    .map(|c| (c, files))
                    .map_err(|e| vec![e])
            }
        };
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok((compiled, files)) => {
                self.current.store(Arc::new(compiled));
                // The parser's working set and (once requests let go of it) the old configuration.
                crate::memory::release();
                status.generation = generation;
                status.hash = hash_files(&files);
                status.loaded_at = now_text();
                status.files = files.iter().map(|f| f.display().to_string()).collect();
                status.last = Some(Attempt {
                    at: now_text(),
                    trigger: trigger.to_string(),
                    ok: true,
                    generation,
                    errors: Vec::new(),
                });
                if let Some(m) = &self.metrics {
                    m.reloads.with_label_values(&["ok"]).inc();
                    m.generation.set(generation as i64);
                }
                log::info!("config: generation {generation} in force ({trigger})");
                Ok(generation)
            }
            Err(errors) => {
                for e in &errors {
                    log::error!("config reload refused ({trigger}): {e}");
                }
                let running = status.generation;
                status.last = Some(Attempt {
                    at: now_text(),
                    trigger: trigger.to_string(),
                    ok: false,
                    generation: running,
                    errors: errors.clone(),
                });
                if let Some(m) = &self.metrics {
                    m.reloads.with_label_values(&["error"]).inc();
                }
                Err(errors)
            }
        }
    }
}
