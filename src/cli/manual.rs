//! `hiatus man` and `hiatus completions SHELL`: the manual pages and shell completions, made
//! from the same clap definitions as the parser (`super::Cli`), so they list exactly the
//! commands and flags the binary takes. Both commands are hidden: packaging calls them
//! (`scripts/package.sh`), operators read the results.
//!
//! The main page adds what clap does not know: exit codes, signals and the installed files.

use super::Cli;
use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The sections of `hiatus(1)` after the commands, as (heading, paragraphs); a paragraph's
/// first item is set in bold as its tag.
const SECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "EXIT STATUS",
        &[
            ("0", "Success."),
            ("1", "Anything else failed: a listener could not be bound, a file could not be written."),
            ("2", "The configuration has errors; every error is printed with its file and key path."),
        ],
    ),
    (
        "SIGNALS",
        &[
            ("SIGHUP", "Reload the configuration (as a changed file or POST /reload would)."),
            ("SIGTERM", "Stop gracefully: finish the requests in flight within grace_period."),
            ("SIGQUIT", "Hand the listening sockets over to a new process started with run -u, then drain."),
            ("SIGINT", "Stop at once."),
        ],
    ),
    (
        "FILES",
        &[
            ("/etc/hiatus/hiatus.toml", "The configuration the packaged service runs (checked with hiatus check)."),
            ("/var/lib/hiatus", "The packaged service's state_dir: incidents.jsonl and windows.json."),
            ("/lib/systemd/system/hiatus.service", "The systemd unit: systemctl reload hiatus sends SIGHUP."),
        ],
    ),
];

/// Writes the manual: `hiatus(1)` on stdout, or every page into `dir` (`hiatus.1`,
/// `hiatus-check.1`, `hiatus-emergency-on.1`, …).
pub fn man(dir: Option<&Path>) -> ExitCode {
    let written = match dir {
        None => {
            let mut out = Vec::new();
            main_page(&mut out).and_then(|()| std::io::stdout().write_all(&out))
        }
        Some(dir) => pages_into(dir),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot write the manual{}: {e}",
                dir.map(|d| format!(" into {}", d.display())).unwrap_or_default()
            );
            ExitCode::from(1)
        }
    }
}

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hiatus", &mut out);
    match std::io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the completions: {e}");
            ExitCode::from(1)
        }
    }
}

/// The command tree as the pages see it: built (so subcommands carry their `hiatus-…` display
/// names) and without clap's `help` subcommand, which has no page.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `hiatus(1)`: clap's sections, then ours (`SECTIONS`), then the version.
fn main_page(out: &mut dyn Write) -> std::io::Result<()> {
    let man = Man::new(command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut roff = Roff::new();
    for (heading, paragraphs) in SECTIONS {
        roff.control("SH", [*heading]);
        for (tag, text) in *paragraphs {
            roff.control("TP", None::<&str>).text([bold(*tag)]).text([roman(*text)]);
        }
    }
    roff.to_writer(out)?;
    man.render_version_section(out)
}

/// Every visible command's page into `dir`, the main one being [`main_page`].
fn pages_into(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = command();
    let mut file = std::fs::File::create(dir.join("hiatus.1"))?;
    main_page(&mut file)?;
    let mut pending: Vec<clap::Command> = visible(&cmd);
    // The tree is a few levels deep (`emergency on`); each command is visited once.
    while let Some(sub) = pending.pop() {
        pending.extend(visible(&sub));
        Man::new(sub).generate_to(dir)?;
    }
    Ok(())
}

fn visible(cmd: &clap::Command) -> Vec<clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect()
}
