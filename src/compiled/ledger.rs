//! When each window last changed: the `updated` of its feed entries and the `LAST-MODIFIED` of
//! its calendar events, so that readers see an entry as new only when its subject changed.
//!
//! Owns [`changed_times`]: a fingerprint of everything a feed or calendar shows of a window
//! (schedule, scope, texts, and the names and visibility of the tenants it can name), compared
//! with the one recorded in `[gateway] state_dir`/`windows.json` at the last build. A window whose
//! fingerprint is unchanged keeps its recorded time; a changed one gets the build's `now`; one
//! never recorded gets the modification time of the file it was written in (a first start, or a
//! lost state directory, does not make every entry new). Without a `state_dir` every window gets
//! its file's modification time: an edit of a file then marks all of that file's windows as
//! changed, which is the documented cost of running without state. Runs at build time only;
//! a file that cannot be written is logged, never fatal.

use crate::config::{Config, Scope, Window};
use crate::schedule::UnixTime;
use blake2::{Blake2s256, Digest};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

const FILE: &str = "windows.json";

/// A short hex digest of `text` (96 bits: enough to tell versions of one thing apart).
pub fn digest(text: &str) -> String {
    Blake2s256::digest(text.as_bytes()).iter().take(12).fold(String::with_capacity(24), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What a rendering shows of `w`, as a short hex digest.
fn fingerprint(config: &Config, w: &Window) -> String {
    let mut text = format!("{:?}\n{:?}\n{:?}\n{:?}\n", w.schedule, w.scope, w.title, w.reason);
    // Who it affects is shown by public names and host patterns: a renamed tenant, or one that
    // became hidden, changes the entry too. Only tenants the window could name are hashed.
    if let Scope::Some { tenants, hosts } = &w.scope {
        for t in config.tenants.iter().filter(|t| tenants.contains(&t.id) || !hosts.is_empty()) {
            let _ = writeln!(text, "{} {:?} {} {:?}", t.id, t.name, t.public, t.hosts);
        }
    }
    digest(&text)
}

/// The modification time of the file window `w` was written in, at most `now`.
fn file_time(config: &Config, w: &Window, now: UnixTime) -> UnixTime {
    config
        .sources
        .get(w.source)
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(now, |d| (d.as_secs() as UnixTime).min(now))
}

/// When windows changed, as of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Per window, by index.
    pub windows: Vec<UnixTime>,
    /// The last change of anything shown: a window added, changed or removed, a tenant renamed
    /// or hidden. A removed window has no time of its own; this is where its removal shows.
    pub any: UnixTime,
}

/// Key of the whole configuration's fingerprint in the file (no window id starts with `/`).
const ALL: &str = "/all";

/// The recorded `id → (fingerprint, changed)` of the last build.
fn read(dir: &Path) -> HashMap<String, (String, UnixTime)> {
    let Ok(text) = std::fs::read_to_string(dir.join(FILE)) else { return HashMap::new() };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text) else {
        log::warn!("{}: not readable as a window ledger; windows count as new", dir.join(FILE).display());
        return HashMap::new();
    };
    map.into_iter()
        .filter_map(|(id, v)| Some((id, (v["fingerprint"].as_str()?.to_string(), v["changed"].as_i64()?))))
        .collect()
}

/// Writes the ledger beside the incidents: a new file, renamed over the old one.
fn write(dir: &Path, entries: &[(&str, &str, UnixTime)]) -> std::io::Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(id, fp, t)| (id.to_string(), serde_json::json!({ "fingerprint": fp, "changed": t })))
        .collect();
    let fresh = dir.join(format!("{FILE}.new"));
    std::fs::write(&fresh, serde_json::Value::Object(map).to_string())?;
    std::fs::rename(&fresh, dir.join(FILE))
}

/// The fingerprint of everything shown: every window's, and the tenants' names and visibility.
fn whole(config: &Config, prints: &[String]) -> String {
    let mut text = prints.join("\n");
    for t in &config.tenants {
        let _ = writeln!(text, "{} {:?} {}", t.id, t.name, t.public);
    }
    digest(&text)
}

/// When each window of `config` last changed, as of a build at `now`.
pub fn changed_times(config: &Config, now: UnixTime) -> Changes {
    let prints: Vec<String> = config.windows.iter().map(|w| fingerprint(config, w)).collect();
    let Some(dir) = config.gateway.state_dir.as_deref() else {
        let windows: Vec<UnixTime> = config.windows.iter().map(|w| file_time(config, w, now)).collect();
        let files = config.sources.iter().filter_map(|p| std::fs::metadata(p).ok()?.modified().ok());
        let newest = files.filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).max();
        let any = newest.map_or(now, |d| (d.as_secs() as UnixTime).min(now));
        return Changes { windows, any };
    };
    let known = read(dir);
    let windows: Vec<UnixTime> = config
        .windows
        .iter()
        .zip(&prints)
        .map(|(w, fp)| match known.get(&w.id) {
            Some((old, t)) if old == fp => *t,
            Some(_) => now,
            None => file_time(config, w, now),
        })
        .collect();
    let all = whole(config, &prints);
    let any = match known.get(ALL) {
        Some((old, t)) if *old == all => *t,
        Some(_) => now,
        None => windows.iter().copied().max().unwrap_or(now),
    };
    let mut entries: Vec<(&str, &str, UnixTime)> =
        config.windows.iter().zip(&prints).zip(&windows).map(|((w, fp), t)| (w.id.as_str(), fp.as_str(), *t)).collect();
    entries.push((ALL, all.as_str(), any));
    let same = entries.len() == known.len()
        && entries.iter().all(|(id, fp, t)| known.get(*id).is_some_and(|(k, kt)| k == fp && kt == t));
    if !same {
        if let Err(e) = write(dir, &entries) {
            log::warn!("{}: {e}; feed entries may show as updated after a restart", dir.join(FILE).display());
        }
    }
    Changes { windows, any }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, dir: &Path) -> Config {
        let text =
            format!("[gateway]\nstate_dir = {:?}\n[defaults]\nzone = \"UTC\"\n{text}", dir.display().to_string());
        crate::config::load_str(&text, "t.toml", dir).expect("valid").config
    }

    #[test]
    fn a_window_keeps_its_time_until_it_changes() {
        let dir = std::env::temp_dir().join(format!("hiatus-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let a = "[[windows]]\nid = \"a\"\ndaily = { at = \"01:00\", until = \"02:00\" }\n";
        let b = "[[windows]]\nid = \"b\"\nonce = { start = \"2030-01-01T00:00\", end = \"2030-01-01T01:00\" }\n";
        // No file behind "t.toml": a window never seen counts from the build.
        let times = |text: &str, now| {
            let c = changed_times(&config(text, &dir), now);
            (c.windows, c.any)
        };
        assert_eq!(times(&format!("{a}{b}"), 1000), (vec![1000, 1000], 1000));
        assert_eq!(times(&format!("{a}{b}"), 2000), (vec![1000, 1000], 1000), "nothing changed");
        let b2 = b.replace("01:00\" }", "02:00\" }");
        assert_eq!(times(&format!("{a}{b2}"), 3000), (vec![1000, 3000], 3000), "b changed");
        let a2 = format!("{a}title = {{ en = \"Nightly\" }}\n");
        assert_eq!(times(&format!("{a2}{b2}"), 4000), (vec![4000, 3000], 4000), "a's title changed");
        assert_eq!(times(&a2, 5000), (vec![4000], 5000), "b removed: only the whole moves");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
