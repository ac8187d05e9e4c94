//! What the package ships besides the gateway, checked on the real binary: `--version` names
//! the git revision, the manual pages are valid roff naming every command, the completions
//! know every command, the packaged configuration (and its commented examples) passes
//! `check`, and the demo origin answers pipelined requests without Nagle's delay.
//! `scripts/package.sh --check` builds the `.deb` itself and checks what it installs.

use crate::control::TempDir;
use crate::support::{hiatus, root};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The commands `hiatus --help` lists (clap's `help` aside): what the manual and the
/// completions must name, read from the parser itself so a new command is checked too.
fn commands() -> Vec<String> {
    let out = hiatus(&["--help"]);
    let help = text(&out.stdout);
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(listed.len() >= 7, "{help}");
    listed
}

#[test]
fn version_names_the_git_revision() {
    // The revision build.rs should have found: a packager's, else git's, else "unknown".
    let expected = match option_env!("HIATUS_GIT_REVISION").filter(|r| !r.is_empty()) {
        Some(given) => given.to_string(),
        None => Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| text(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let out = hiatus(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("hiatus {} (revision {expected})\n", env!("CARGO_PKG_VERSION")));
}

/// `groff`'s verdict on a page: no warning of any kind (`-ww`), or the page is not valid.
fn assert_valid_roff(page: &[u8], name: &str) {
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (scripts/bootstrap.sh installs groff-base)");
    groff.stdin.take().expect("stdin").write_all(page).expect("write the page to groff");
    let out = groff.wait_with_output().expect("groff");
    assert!(out.status.success() && out.stderr.is_empty(), "{name}: {}", text(&out.stderr));
}

#[test]
fn man_prints_a_valid_page_naming_every_command() {
    let out = hiatus(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH hiatus 1"), "{page}");
    assert_valid_roff(&out.stdout, "hiatus man");
    for command in commands() {
        assert!(page.contains(&format!("hiatus\\-{command}(1)")), "{command} is missing: {page}");
    }
    // What clap does not know, added by hand: the exit codes, the signals and the files.
    for added in
        [".SH \"EXIT STATUS\"", "\\fB2\\fR", "\\fBSIGHUP\\fR", "\\fBSIGTERM\\fR", "\\fB/etc/hiatus/hiatus.toml\\fR"]
    {
        assert!(page.contains(added), "{added} is missing: {page}");
    }
    // Hidden commands are for packaging and the gateway itself, not for the manual.
    for hidden in ["vet", "completions"] {
        assert!(!page.contains(&format!("hiatus\\-{hidden}")), "{hidden}: {page}");
    }
}

#[test]
fn man_dir_writes_a_valid_page_per_command() {
    let dir = TempDir::new("man");
    let out = hiatus(&["man", "--dir", &dir.0.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut expected: Vec<String> = commands().iter().map(|c| format!("hiatus-{c}.1")).collect();
    expected.extend(
        ["hiatus.1", "hiatus-emergency-on.1", "hiatus-emergency-off.1", "hiatus-emergency-list.1"].map(String::from),
    );
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("the folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    written.sort();
    assert_eq!(written, expected);
    for name in &written {
        let page = std::fs::read(dir.0.join(name)).expect("a page");
        assert_valid_roff(&page, name);
    }
    let check = std::fs::read_to_string(dir.0.join("hiatus-check.1")).expect("hiatus-check.1");
    assert!(check.contains("\\-\\-against"), "the command's own flags: {check}");
}

#[test]
fn man_dir_that_cannot_be_made_is_a_clear_error() {
    let dir = TempDir::new("man-file");
    let file = dir.write("not-a-folder", "");
    let out = hiatus(&["man", "--dir", &file.join("pages").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot write the manual into "), "{}", text(&out.stderr));
}

#[test]
fn completions_know_every_command() {
    let out = hiatus(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    let top = script.lines().find(|l| l.trim_start().starts_with("opts=\"-h -V")).unwrap_or_else(|| panic!("{script}"));
    for command in commands() {
        assert!(top.split(['"', ' ']).any(|w| w == command), "{command}: {top}");
    }
    let syntax = Command::new("bash").args(["-n", "-c", &script]).output().expect("bash");
    assert!(syntax.status.success(), "{}", text(&syntax.stderr));
    for (shell, marker) in [("zsh", "#compdef hiatus"), ("fish", "complete -c hiatus")] {
        let out = hiatus(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(text(&out.stdout).contains(marker), "{shell}: {}", text(&out.stdout));
    }
    let out = hiatus(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'tcsh'"), "{}", text(&out.stderr));
}

#[test]
fn packaged_configuration_and_its_examples_pass_check() {
    let shipped = root().join("packaging/hiatus.toml");
    let out = hiatus(&["check", "--config", &shipped.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The commented tenant and window, uncommented, are a configuration too: an operator who
    // follows them gets one that works.
    let original = std::fs::read_to_string(&shipped).expect("packaging/hiatus.toml");
    let uncommented: String = original
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.split_once(" = ").is_some_and(|(k, _)| is_key(k)) => rest,
            _ => l,
        })
        .filter(|l| !l.starts_with("allow_no_tenants"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(uncommented.contains("\n[[tenants]]\n") && uncommented.contains("\n[[windows]]\n"), "{uncommented}");
    let dir = TempDir::new("packaged");
    let file = dir.write("hiatus.toml", &uncommented.replace("/var/lib/hiatus", "state"));
    let out = hiatus(&["check", "--config", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}\n{uncommented}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(1 tenant(s), 1 window(s)"), "{}", text(&out.stdout));
}

fn is_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The demo origin, as the binary: killed when dropped.
struct Origin(std::process::Child, std::net::SocketAddr);

impl Origin {
    fn start() -> Origin {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hiatus"))
            .args(["origin", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start hiatus origin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its first line");
        let addr = line.trim().rsplit("http://").next().and_then(|a| a.parse().ok());
        Origin(child, addr.unwrap_or_else(|| panic!("no address in {line:?}")))
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads until `count` whole demo pages arrived (each ends with `</html>`), bounded by the
/// socket's read timeout.
fn read_pages(stream: &mut std::net::TcpStream, count: usize) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while text(&seen).matches("</html>").count() < count {
        let n = stream.read(&mut buf).expect("an answer within the timeout");
        assert!(n > 0, "the origin closed: {}", text(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn demo_origin_answers_without_nagle_delay() {
    let origin = Origin::start();
    let mut stream = std::net::TcpStream::connect(origin.1).expect("connect to the origin");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let request = b"GET / HTTP/1.1\r\nHost: demo\r\n\r\n";
    // A few exchanges first: the client's kernel then delays its ACKs (it expects to send a
    // request soon and carry the ACK with it), which is when Nagle holds a small second write.
    for _ in 0..5 {
        stream.write_all(request).expect("send");
        read_pages(&mut stream, 1);
    }
    // One request at a time: the answer's head and body go out in two writes, and with Nagle
    // the second waits for the client's delayed ACK of the first (about 40 ms each time, so 20
    // exchanges take 800 ms or more); without, all of them take a few milliseconds. (The
    // origin, on pingora's HTTP/1 session, closes a connection that pipelines.)
    let pairs = 20;
    let started = Instant::now();
    for _ in 0..pairs {
        stream.write_all(request).expect("send");
        read_pages(&mut stream, 1);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(400), "{pairs} exchanges took {took:?}");
}
