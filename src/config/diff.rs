//! What a new configuration changes against the one in force, by tenant and window id: the
//! words of the reload's log line ("tenants added: c; windows removed: night").
//!
//! Owns [`Changes`] and its one-line rendering. A window that only moved (another file, another
//! place in its file) is not a change; one whose schedule, scope or texts differ is. Gateway
//! keys are not listed here: a restart-only key has its own warning (`gateway::restart_warning`).

use super::model::{Config, Window};
use std::collections::HashMap;
use std::fmt;

/// Ids added, removed and changed, each list in the order of the file that has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub tenants_added: Vec<String>,
    pub tenants_removed: Vec<String>,
    pub tenants_changed: Vec<String>,
    pub windows_added: Vec<String>,
    pub windows_removed: Vec<String>,
    pub windows_changed: Vec<String>,
}

/// How many ids a list shows before it says how many more there are: a reload of a generated
/// file with thousands of tenants stays one readable line.
const SHOWN: usize = 20;

impl Changes {
    pub fn between(old: &Config, new: &Config) -> Changes {
        let (tenants_added, tenants_removed, tenants_changed) =
            compare(&old.tenants, &new.tenants, |t| &t.id, |a, b| a == b);
        let (windows_added, windows_removed, windows_changed) =
            compare(&old.windows, &new.windows, |w| &w.id, same_window);
        Changes { tenants_added, tenants_removed, tenants_changed, windows_added, windows_removed, windows_changed }
    }

    pub fn is_empty(&self) -> bool {
        self == &Changes::default()
    }
}

/// Everything of a window but where it was written.
fn same_window(a: &Window, b: &Window) -> bool {
    a.schedule == b.schedule && a.scope == b.scope && a.title == b.title && a.reason == b.reason
}

/// `(added, removed, changed)` ids between two lists keyed by id.
fn compare<T>(
    old: &[T],
    new: &[T],
    id: impl Fn(&T) -> &String,
    same: impl Fn(&T, &T) -> bool,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let before: HashMap<&String, &T> = old.iter().map(|x| (id(x), x)).collect();
    let after: HashMap<&String, &T> = new.iter().map(|x| (id(x), x)).collect();
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    for x in new {
        match before.get(id(x)) {
            None => added.push(id(x).clone()),
            Some(o) if !same(o, x) => changed.push(id(x).clone()),
            Some(_) => {}
        }
    }
    let removed = old.iter().map(&id).filter(|i| !after.contains_key(i)).cloned().collect();
    (added, removed, changed)
}

impl fmt::Display for Changes {
    /// `tenants added: a, b; windows removed: night` or `no tenant or window changed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no tenant or window changed");
        }
        let lists = [
            ("tenants added", &self.tenants_added),
            ("tenants removed", &self.tenants_removed),
            ("tenants changed", &self.tenants_changed),
            ("windows added", &self.windows_added),
            ("windows removed", &self.windows_removed),
            ("windows changed", &self.windows_changed),
        ];
        let mut first = true;
        for (what, ids) in lists.into_iter().filter(|(_, ids)| !ids.is_empty()) {
            f.write_str(if first { "" } else { "; " })?;
            first = false;
            write!(f, "{what}: {}", shown(ids))?;
        }
        Ok(())
    }
}

/// Up to 20 ids (`SHOWN`), then how many more.
pub fn shown(ids: &[String]) -> String {
    let mut out = ids.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if ids.len() > SHOWN {
        out.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration of these tenants (id, upstream) and daily windows (id, start).
    fn config(tenants: &[(&str, &str)], windows: &[(&str, &str)]) -> Config {
        let mut text = "[defaults]\nzone = \"UTC\"\n\n".to_string();
        for (id, upstream) in tenants {
            text += &format!("[[tenants]]\nid = \"{id}\"\nhosts = [\"{id}.test\"]\nupstreams = [\"{upstream}\"]\n\n");
        }
        for (id, at) in windows {
            text += &format!(
                "[[windows]]\nid = \"{id}\"\nscope = \"all\"\ndaily = {{ at = \"{at}\", until = \"23:00\" }}\n\n"
            );
        }
        crate::config::load_str(&text, "diff-test.toml", std::path::Path::new("."))
            .unwrap_or_else(|r| panic!("{r}"))
            .config
    }

    #[test]
    fn lists_what_was_added_removed_and_changed_by_id() {
        let tenants = [("a", "127.0.0.1:1"), ("b", "127.0.0.1:2")];
        let old = config(&tenants, &[("night", "02:00"), ("noon", "12:00")]);
        let new = config(
            &[("b", "127.0.0.1:3"), ("c", "127.0.0.1:4")],
            &[("noon", "12:00"), ("night", "03:00"), ("dawn", "05:00")],
        );
        let c = Changes::between(&old, &new);
        assert_eq!(
            c.to_string(),
            "tenants added: c; tenants removed: a; tenants changed: b; windows added: dawn; windows changed: night"
        );
        assert_eq!(Changes::between(&old, &old).to_string(), "no tenant or window changed");
        // Moved, not changed: the same windows in another order.
        let reordered = config(&tenants, &[("noon", "12:00"), ("night", "02:00")]);
        assert!(Changes::between(&old, &reordered).is_empty());
    }

    #[test]
    fn long_lists_are_cut() {
        let ids: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
        let text = shown(&ids);
        assert!(text.starts_with("t0, t1,") && text.ends_with("t19 and 5 more"), "{text}");
    }
}
