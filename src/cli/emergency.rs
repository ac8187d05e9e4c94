//! `hiatus emergency on|off|list --config FILE`: emergency windows switched through the config.
//!
//! Owns the arguments and the printing; reading, editing, validating and writing the emergency
//! file is `control::emergency`. Exit codes as elsewhere: 0 done, 2 the configuration would
//! have errors with the change (every error printed, nothing written), 1 anything else
//! (nothing open to switch off, a bad argument, a file that cannot be read or written, another
//! edit of the same file that did not end within 30 s: `LOCK_WAIT`).
//!
//! With `[cluster]` in the configuration, `on` and `off` edit etcd's operator document instead
//! (`cluster::store::edit`, a compare-and-swap on its revision); every node then exports it to
//! its emergency file and reloads. 1 also when etcd cannot be reached (nothing was written).

use crate::cluster::client::Client;
use crate::config::cluster::ClusterSettings;
use crate::config::Language;
use crate::control::emergency::{self, Error, OnRequest, ScopeArg, State};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Append an open-ended window starting now (UTC, to the second) to the emergency file.
    On {
        #[arg(long)]
        config: PathBuf,
        /// `all`, `tenant:ID` or `host:PATTERN`; repeat for several (tenants and hosts combine).
        #[arg(long = "scope", value_name = "SCOPE", required = true, num_args = 1..)]
        scopes: Vec<String>,
        /// Shown on the maintenance page.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        title: Option<String>,
        /// Language of reason and title (default: the config's `[defaults] language`, else en).
        #[arg(long, value_parser = ["de", "en", "nb"])]
        lang: Option<String>,
        /// Window id (default: emergency-YYYYMMDD-HHMM, with a suffix when taken).
        #[arg(long)]
        id: Option<String>,
        /// The include file to edit (default: `[gateway] emergency_file`).
        #[arg(long)]
        file: Option<PathBuf>,
        /// RFC 3339 instant to start at (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Set `end` on the open-ended window ID, or on every open one; nothing is deleted.
    Off {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        file: Option<PathBuf>,
        /// RFC 3339 instant to end at (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// The windows of the emergency file with start, end and state.
    List {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        file: Option<PathBuf>,
        /// RFC 3339 instant the state is for (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What an edit says besides what it switched: the configuration's warnings about the file,
/// and the temporary files of writers that died mid-edit that it removed first.
fn notes(done: &emergency::Done) {
    for w in &done.warnings {
        eprintln!("warning: {w}");
    }
    for r in &done.removed {
        eprintln!("note: removed {}, left by a `hiatus emergency` that did not finish", r.display());
    }
}

fn failed(e: &Error) -> ExitCode {
    if let Error::Invalid(report) = e {
        eprint!("{report}");
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    eprintln!("error: {e}");
    ExitCode::from(1)
}

fn at(text: Option<&str>) -> Result<DateTime<Utc>, ExitCode> {
    super::instant(text).map_err(|e| {
        eprintln!("error: --at: {e}");
        ExitCode::from(1)
    })
}

/// Why a switch in etcd did nothing: the edit itself, or etcd.
enum Failure {
    Edit(Error),
    Etcd(crate::cluster::client::Error),
}

impl From<crate::cluster::client::Error> for Failure {
    fn from(e: crate::cluster::client::Error) -> Failure {
        Failure::Etcd(e)
    }
}

/// `[cluster]` of the configuration at `main`, when it loads and has one; `--file` means the
/// file, as it always did.
fn cluster_of(main: &Path, file: Option<&Path>) -> Option<ClusterSettings> {
    file.is_none().then(|| crate::config::load(main).ok()?.config.cluster).flatten()
}

/// Switches in etcd: `edit` turns the document's text into the new one.
fn in_cluster(
    c: &ClusterSettings,
    main: &Path,
    edit: impl Fn(&emergency::Target, &str) -> Result<(String, emergency::Done), Error>,
) -> Result<(i64, emergency::Done), ExitCode> {
    let target = emergency::Target::locate(main, None).map_err(|e| failed(&e))?;
    // Warnings to stderr (`RUST_LOG` may say more): an attempt that etcd did not answer shows.
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = crate::telemetry::logger::install(log::LevelFilter::Warn, Default::default(), rust_log.as_deref());
    let client = Client::new(c.endpoints.clone(), c.timeout);
    crate::cluster::store::edit(&client, &c.prefix, |text| edit(&target, text).map_err(Failure::Edit)).map_err(|f| {
        match f {
            Failure::Edit(e) => failed(&e),
            Failure::Etcd(e) => {
                eprintln!("error: {e}; nothing was switched");
                ExitCode::from(1)
            }
        }
    })
}

pub fn run(action: Action) -> ExitCode {
    match action {
        Action::On { config, scopes, reason, title, lang, id, file, at: when } => {
            let now = match at(when.as_deref()) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let mut parsed = Vec::new();
            for s in &scopes {
                match ScopeArg::parse(s) {
                    Ok(s) => parsed.push(s),
                    Err(e) => {
                        eprintln!("error: --scope: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            let language = lang.as_deref().and_then(Language::parse);
            let req = OnRequest { scopes: parsed, reason, title, language, id };
            if let Some(c) = cluster_of(&config, file.as_deref()) {
                return match in_cluster(&c, &config, |t, text| emergency::on_text(t, text, &req, now)) {
                    Ok((revision, done)) => {
                        notes(&done);
                        for s in &done.switched {
                            say!("switched on: {} from {} (open-ended) in etcd {}/operator, revision {revision}; every node applies it", s.id, utc(s.start), c.prefix);
                        }
                        ExitCode::SUCCESS
                    }
                    Err(code) => code,
                };
            }
            match emergency::on(&config, file.as_deref(), &req, now) {
                Ok(done) => {
                    notes(&done);
                    for s in &done.switched {
                        say!(
                            "switched on: {} in {} from {} (open-ended); a reload of the gateway puts it in force",
                            s.id,
                            done.file.display(),
                            utc(s.start)
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e),
            }
        }
        Action::Off { config, id, file, at: when } => {
            let now = match at(when.as_deref()) {
                Ok(t) => t,
                Err(code) => return code,
            };
            if let Some(c) = cluster_of(&config, file.as_deref()) {
                return match in_cluster(&c, &config, |t, text| emergency::off_text(t, text, id.as_deref(), now)) {
                    Ok((revision, done)) => {
                        notes(&done);
                        for s in &done.switched {
                            let end = s.end.map(utc).unwrap_or_default();
                            say!(
                                "switched off: {} ({} → {}) in etcd {}/operator, revision {revision}",
                                s.id,
                                utc(s.start),
                                end,
                                c.prefix
                            );
                        }
                        ExitCode::SUCCESS
                    }
                    Err(code) => code,
                };
            }
            match emergency::off(&config, file.as_deref(), id.as_deref(), now) {
                Ok(done) => {
                    notes(&done);
                    for s in &done.switched {
                        let end = s.end.map(utc).unwrap_or_default();
                        say!("switched off: {} ({} → {}) in {}", s.id, utc(s.start), end, done.file.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e),
            }
        }
        Action::List { config, file, at: when, json } => {
            let now = match at(when.as_deref()) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let (file, listed) = match emergency::list_file(&config, file.as_deref(), now) {
                Ok(l) => l,
                Err(e) => return failed(&e),
            };
            if json {
                let windows: Vec<serde_json::Value> = listed
                    .iter()
                    .map(|l| {
                        serde_json::json!({
                            "id": l.id,
                            "state": l.state.name(),
                            "zone": l.zone.map(|z| z.name()),
                            "start": l.start.map(utc),
                            "end": l.end.map(utc),
                        })
                    })
                    .collect();
                let out = serde_json::json!({ "file": file.display().to_string(), "at": utc(now), "windows": windows });
                say!("{out}");
                return ExitCode::SUCCESS;
            }
            say!("{}: {} window(s) at {}", file.display(), listed.len(), utc(now));
            for l in &listed {
                let span = match (l.state, l.start, l.end) {
                    (State::Recurring, _, _) => "recurring; see `hiatus upcoming`".to_string(),
                    (State::Invalid, _, _) => "does not parse; see `hiatus check`".to_string(),
                    (_, Some(s), None) => format!("{} → open-ended", utc(s)),
                    (_, Some(s), Some(e)) => format!("{} → {}", utc(s), utc(e)),
                    (_, None, _) => String::new(),
                };
                say!("  {:<28} {:<9} {span}", l.id, l.state.name());
            }
            ExitCode::SUCCESS
        }
    }
}
