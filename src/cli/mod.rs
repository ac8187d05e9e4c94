//! The command line: `hiatus check | explain | upcoming | run | demo | emergency`, and the
//! hidden `man` and `completions` that packaging calls (`manual.rs`).
//!
//! Owns argument parsing (clap types, the raw arguments) and the exit codes: 0 success, 2 a
//! configuration with errors, 1 anything else that failed. Each subcommand lives in its own
//! module and prints; none of them holds logic the library does not offer.
//! The names, flags and JSON keys of `check`, `explain` and `upcoming` are a contract.

/// `println!` that survives a reader going away (`hiatus upcoming | head`): the rest of the
/// output is dropped instead of panicking on the broken pipe (STYLE.md 3).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod api;
mod check;
mod emergency;
mod explain;
mod manual;
mod origin;
pub mod run;
mod upcoming;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `hiatus --version`: the package version and the git revision it was built from (`build.rs`;
/// `unknown` when built outside a git checkout without `HIATUS_GIT_REVISION`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("HIATUS_REVISION"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "hiatus",
    version = VERSION,
    about = "A maintenance gateway: an edge proxy that knows its tenants' maintenance windows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration: exit 0 when valid (warnings on stderr), 2 with every error.
    Check {
        #[arg(long)]
        config: PathBuf,
        /// The configuration a gateway runs with: check as its reload would (its size limit)
        /// and name the changed keys that need an upgrade or restart.
        #[arg(long)]
        against: Option<PathBuf>,
    },
    /// Say what the gateway would decide for a host (and path) at an instant.
    Explain {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        host: String,
        #[arg(long, default_value = "/")]
        path: String,
        /// RFC 3339 instant, e.g. 2024-11-14T00:40:00+01:00 (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the coming occurrences, local and UTC, with DST changes marked.
    Upcoming {
        #[arg(long)]
        config: PathBuf,
        /// Only windows that apply to this host.
        #[arg(long)]
        host: Option<String>,
        #[arg(long, default_value = "/")]
        path: String,
        /// RFC 3339 instant to start from (default: now).
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value_t = 14)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Run the gateway on the configured listeners until SIGTERM (graceful) or SIGINT.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Take over the listening sockets of a running Hiatus (zero-downtime upgrade).
        #[arg(long, short = 'u')]
        upgrade: bool,
        /// Socket for the upgrade hand-over.
        #[arg(long)]
        upgrade_sock: Option<String>,
    },
    /// The self-contained demo: the gateway plus a built-in origin server.
    Demo {
        #[arg(long, default_value = "config/hiatus.toml")]
        config: PathBuf,
        /// Where the built-in origin listens (the demo config's upstream).
        #[arg(long, default_value = "127.0.0.1:18081")]
        origin: std::net::SocketAddr,
    },
    /// The demo's built-in origin alone, for scripts (`scripts/upgrade-under-load.sh`).
    Origin {
        #[arg(long, default_value = "127.0.0.1:18081")]
        listen: std::net::SocketAddr,
    },
    /// Read a configuration as a reload would, in a process of its own (`control::vet`): the
    /// errors as a JSON array of strings on stdout, exit 2 with errors.
    #[command(hide = true)]
    Vet {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        max_size: u64,
    },
    /// Switch emergency windows on and off through the configuration's emergency file.
    Emergency {
        #[command(subcommand)]
        action: emergency::Action,
    },
    /// One request to a running gateway's operator API (README "Operator API").
    Api(api::ApiArgs),
    /// The manual page (roff) on stdout, or with `--dir` one page per command written there.
    #[command(hide = true)]
    Man {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The completion script for a shell on stdout.
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, against } => check::run(&config, against.as_deref()),
        Command::Explain { config, host, path, at, json } => explain::run(&config, &host, &path, at.as_deref(), json),
        Command::Upcoming { config, host, path, from, days, json } => {
            upcoming::run(&config, host.as_deref(), &path, from.as_deref(), days, json)
        }
        Command::Run { config, upgrade, upgrade_sock } => run::run(&config, run::RunOptions { upgrade, upgrade_sock }),
        Command::Demo { config, origin } => run::demo(&config, origin),
        Command::Origin { listen } => origin::run(listen),
        Command::Emergency { action } => emergency::run(action),
        Command::Api(args) => api::run(&args),
        Command::Man { dir } => manual::man(dir.as_deref()),
        Command::Completions { shell } => manual::completions(shell),
        Command::Vet { config, max_size } => match crate::control::vet::vet_here(&config, max_size) {
            Ok(()) => ExitCode::SUCCESS,
            Err(errors) => {
                say!("{}", serde_json::to_string(&errors).unwrap_or_default());
                ExitCode::from(2)
            }
        },
    }
}

/// Parses `--at`/`--from`, defaulting to now.
fn instant(text: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match text {
        None => Ok(chrono::Utc::now()),
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(|e| format!("{t:?} is not an RFC 3339 instant (e.g. 2024-11-14T00:40:00+01:00): {e}")),
    }
}

/// Loads a configuration or prints every error and says which exit code to use.
fn load(path: &std::path::Path) -> Result<crate::config::Loaded, ExitCode> {
    crate::config::load(path).map_err(|report| refused(path, &report))
}

/// [`load`] for serving (`check`, `run`, `demo`): also what serving needs
/// (`config::servable`), and within `running_limit` bytes when a running configuration's
/// `max_config_size` applies (`check --against`).
fn load_to_serve(path: &std::path::Path, running_limit: Option<u64>) -> Result<crate::config::Loaded, ExitCode> {
    let loaded = crate::config::load_within(path, running_limit).map_err(|report| refused(path, &report))?;
    match crate::config::servable(&loaded.config) {
        Ok(()) => Ok(loaded),
        Err(e) => Err(refused(path, &crate::config::Report { errors: vec![e], warnings: loaded.warnings })),
    }
}

/// Prints every error of `report`: exit code 2.
fn refused(path: &std::path::Path, report: &crate::config::Report) -> ExitCode {
    eprint!("{report}");
    eprintln!("{}: {} error(s)", path.display(), report.errors.len());
    ExitCode::from(2)
}

fn rfc3339(t: crate::schedule::UnixTime) -> Option<String> {
    crate::schedule::occurrence::from_unix(t).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn local(t: crate::schedule::UnixTime, zone: chrono_tz::Tz) -> String {
    crate::schedule::occurrence::from_unix(t)
        .map(|d| d.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|| "open-ended".to_string())
}
