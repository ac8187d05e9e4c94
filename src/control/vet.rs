//! A reload's configuration is first read in a child process (`hiatus vet`).
//!
//! Why: the TOML parser's working set grows with the number of tokens, not bytes — a file of
//! dense tiny arrays within `max_config_size` can take a hundred times its size while it is
//! read, and the gateway's heap would keep that peak (issue 15: a refused reload must not cost
//! the running gateway memory). A child that parses and validates the files takes that peak in
//! its own address space and ends; the gateway parses only what the child found valid, and a
//! valid configuration costs what it defines. A child that crashes or is killed (the kernel's
//! OOM killer picks it first: it raises its own `oom_score_adj`) refuses the reload and leaves
//! the gateway as it was.
//!
//! The child reads the files as they are when it runs; [`Vetter::vet`] compares the watched
//! files' fingerprint before and after, so a file that changed while it was vetted is refused
//! (the watcher sees the change and reloads again).

use crate::control::reload::shown;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a child may take: a 16 MiB configuration is read in about a second.
pub const VET_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the child's end is looked for.
const POLL: Duration = Duration::from_millis(5);

/// The binary that vets (`hiatus vet`), usually the running one.
#[derive(Debug, Clone)]
pub struct Vetter {
    exe: PathBuf,
    timeout: Duration,
}

impl Vetter {
    pub fn new(exe: PathBuf) -> Vetter {
        Vetter { exe, timeout: VET_TIMEOUT }
    }

    /// The running binary (`/proc/self/exe`).
    pub fn this_binary() -> std::io::Result<Vetter> {
        std::env::current_exe().map(Vetter::new)
    }

    /// Reads, parses and validates `config` within `max_size` bytes in a child: `Ok` when the
    /// child found it servable, else every error it found, or why it could not say.
    pub fn vet(&self, config: &Path, max_size: u64) -> Result<(), Vec<String>> {
        let mut child = Command::new(&self.exe)
            .arg("vet")
            .arg("--config")
            .arg(config)
            .arg("--max-size")
            .arg(max_size.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                vec![format!("the configuration could not be checked: {} did not start: {e}", self.exe.display())]
            })?;
        // Read the verdict while the child runs: a long list of errors must not fill the pipe
        // and leave the child waiting for a reader that waits for it.
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).map(|_| out)
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!("the configuration was still being read after {} s", self.timeout.as_secs()));
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(e) => break Err(format!("the check of the configuration was lost: {e}")),
            }
        };
        let out = reader.join().ok().and_then(Result::ok).unwrap_or_default();
        let status = status.map_err(|e| vec![e])?;
        if status.success() {
            return Ok(());
        }
        match serde_json::from_str::<Vec<String>>(out.trim()) {
            Ok(errors) if status.code() == Some(2) && !errors.is_empty() => Err(errors),
            _ => Err(vec![format!(
                "the configuration could not be read: the process that reads it ended ({status}); \
                 the file may need more memory to parse than it is worth (dense arrays?)"
            )]),
        }
    }
}

/// `hiatus vet`: the child's side. Prints the errors as one JSON array of strings; exit code 0
/// when servable, 2 with errors.
pub fn vet_here(config: &Path, max_size: u64) -> Result<(), Vec<String>> {
    // Of the two processes, this one should be the one the OOM killer picks.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    let loaded = crate::config::load_within(config, Some(max_size))
        .map_err(|report| report.errors.iter().map(shown).collect::<Vec<_>>())?;
    crate::config::servable(&loaded.config).map_err(|e| vec![shown(&e)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A stand-in for `hiatus vet`: a shell script with the given body.
    fn script(name: &str, body: &str) -> (PathBuf, Vetter) {
        let dir = std::env::temp_dir().join(format!("hiatus-vet-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let exe = dir.join("vet.sh");
        std::fs::write(&exe, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        (dir, Vetter::new(exe))
    }

    #[test]
    fn the_childs_errors_are_the_reloads_errors() {
        let (dir, vetter) = script("errors", r#"echo '["a.toml: tenants[0].x: unknown field", "b"]'; exit 2"#);
        let errors = vetter.vet(Path::new("a.toml"), 1).expect_err("refused");
        assert_eq!(errors, vec!["a.toml: tenants[0].x: unknown field".to_string(), "b".to_string()]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_child_that_passes_its_arguments_through_and_succeeds_is_ok() {
        let (dir, vetter) = script(
            "ok",
            r#"[ "$1 $2 $3 $4 $5" = "vet --config /etc/x.toml --max-size 4096" ] || { echo '["wrong arguments"]'; exit 2; }"#,
        );
        assert_eq!(vetter.vet(Path::new("/etc/x.toml"), 4096), Ok(()));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_child_killed_by_a_signal_or_silent_refuses_with_a_reason() {
        let (dir, vetter) = script("killed", "kill -9 $$");
        let errors = vetter.vet(Path::new("a.toml"), 1).expect_err("refused");
        assert!(errors.len() == 1 && errors[0].contains("signal: 9"), "{errors:?}");
        let (dir2, vetter) = script("silent", "exit 2");
        let errors = vetter.vet(Path::new("a.toml"), 1).expect_err("refused");
        assert!(errors.len() == 1 && errors[0].contains("exit status: 2"), "{errors:?}");
        let _ = (std::fs::remove_dir_all(dir), std::fs::remove_dir_all(dir2));
    }

    #[test]
    fn a_child_that_takes_too_long_is_killed() {
        let (dir, mut vetter) = script("slow", "exec sleep 30");
        vetter.timeout = Duration::from_millis(100);
        let started = Instant::now();
        let errors = vetter.vet(Path::new("a.toml"), 1).expect_err("refused");
        assert!(errors[0].contains("still being read"), "{errors:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "the child was not killed");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_binary_that_cannot_start_refuses() {
        let errors =
            Vetter::new(PathBuf::from("/nonexistent/hiatus")).vet(Path::new("a.toml"), 1).expect_err("refused");
        assert!(errors[0].contains("did not start"), "{errors:?}");
    }

    #[test]
    fn a_flood_of_errors_does_not_deadlock_on_the_pipe() {
        // 200 KiB of output: more than a pipe holds while nobody reads.
        let (dir, vetter) = script(
            "flood",
            r#"printf '['; i=0; while [ $i -lt 4000 ]; do printf '"%050d",' $i; i=$((i+1)); done; printf '"end"]'; exit 2"#,
        );
        let errors = vetter.vet(Path::new("a.toml"), 1).expect_err("refused");
        assert_eq!(errors.len(), 4001);
        let _ = std::fs::remove_dir_all(dir);
    }
}
