//! Build script: the git revision a binary was built from, for `hiatus --version`.
//!
//! Sets `HIATUS_REVISION` for the crate: `HIATUS_GIT_REVISION` from the environment when a
//! packager sets it (a container build, whose context has no `.git`), else the short hash of
//! `git rev-parse HEAD`, else `unknown` (a source tarball without git). It asks Cargo to run it
//! again only when the checked-out commit moves, so an ordinary edit does not rerun git.

use std::path::PathBuf;
use std::process::Command;

/// What the fallback says when no revision can be found.
const UNKNOWN: &str = "unknown";

fn main() {
    println!("cargo:rerun-if-env-changed=HIATUS_GIT_REVISION");
    let revision = match std::env::var("HIATUS_GIT_REVISION") {
        Ok(given) if !given.is_empty() => checked(&given),
        _ => from_git().unwrap_or_else(|| UNKNOWN.to_string()),
    };
    println!("cargo:rustc-env=HIATUS_REVISION={revision}");
}

/// A packager's revision goes into `--version` and the man page as it is: refuse what would
/// garble them (a build error that says why beats a version line with a newline in it).
fn checked(given: &str) -> String {
    let fine = given.len() <= 64 && given.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if !fine {
        panic!("HIATUS_GIT_REVISION={given:?}: expected up to 64 characters of A-Z a-z 0-9 . _ + -");
    }
    given.to_string()
}

/// The short hash of HEAD, with the files that move when HEAD does registered for a rerun.
/// `None` outside a git checkout or without git.
fn from_git() -> Option<String> {
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD itself (a detached checkout or a branch switch) and the branch's ref (a commit on
    // it); `--git-path` finds both in a worktree too. Only existing files: Cargo reruns a build
    // script on every build while a path it was given is missing.
    let mut watched = vec!["HEAD".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    watched.push("packed-refs".to_string());
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(PathBuf::from) {
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(hash)
}

/// One git command's trimmed output, `None` when it fails or says nothing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
