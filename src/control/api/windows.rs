//! `windows` and `windows/{id}`: every window, and the operator-made ones created, replaced
//! and cancelled.
//!
//! Owns the window resource: its JSON (the keys of a `[[windows]]` table, as the files spell
//! them: `scope`, `once`, `daily`, `weekly`, `monthly`, `zone`, `title`, `reason`, …; the id
//! is the path's), its conversion to a TOML table, and where an edit lands in the operator
//! file: a replaced window keeps its place and the comment above it, a new one is appended
//! after the last window. What a window may say is the configuration loader's to judge (the
//! same validation as `check`; `edit` answers 422 with every finding).
//!
//! A window of another file of the configuration is listed but not edited here: 409.

use super::problem::Problem;
use super::{apply, edit, json, with_etag, Context, Request};
use crate::config::Diagnostic;
use crate::control::http::Answer;
use std::collections::BTreeSet;
use toml_edit::DocumentMut;

/// Where a window is defined.
const OPERATOR: &str = "operator";
const CONFIG: &str = "config";

/// A TOML value as JSON (date-times as their text).
fn to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(to_json).collect(),
        toml::Value::Table(t) => t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
    }
}

/// The operator file's windows as JSON, in file order.
fn operator_windows(text: &str) -> Vec<(String, serde_json::Value)> {
    let Ok(table) = text.parse::<toml::Table>() else { return Vec::new() };
    let items = table.get("windows").and_then(toml::Value::as_array).cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|w| {
            let id = w.get("id").and_then(toml::Value::as_str)?.to_string();
            Some((id, to_json(w)))
        })
        .collect()
}

/// The ids of the windows in force that other files define.
fn config_ids(cx: &Context, operator: &BTreeSet<String>) -> BTreeSet<String> {
    let compiled = cx.reloader.current().load_full();
    compiled.config().windows.iter().map(|w| w.id.clone()).filter(|id| !operator.contains(id)).collect()
}

/// `GET windows`: every window in force and every operator-made one.
pub fn list(cx: &Context) -> Result<Answer, Problem> {
    let (text, version, known) = cx.store().read_known().map_err(super::unavailable)?;
    let operator = operator_windows(&text);
    let ids: BTreeSet<String> = operator.iter().map(|(id, _)| id.clone()).collect();
    let mut out: Vec<serde_json::Value> =
        config_ids(cx, &ids).into_iter().map(|id| serde_json::json!({ "id": id, "source": CONFIG })).collect();
    out.extend(operator.into_iter().map(|(id, w)| serde_json::json!({ "id": id, "source": OPERATOR, "window": w })));
    Ok(super::known(json(200, &serde_json::json!({ "windows": out })), &version, known))
}

/// `GET windows/{id}`.
pub fn get(cx: &Context, id: &str) -> Result<Answer, Problem> {
    let (text, version, known) = cx.store().read_known().map_err(super::unavailable)?;
    let operator = operator_windows(&text);
    if let Some((_, w)) = operator.iter().find(|(i, _)| i == id) {
        let body = serde_json::json!({ "id": id, "source": OPERATOR, "window": w });
        return Ok(super::known(json(200, &body), &version, known));
    }
    let ids = operator.into_iter().map(|(i, _)| i).collect();
    if config_ids(cx, &ids).contains(id) {
        return Ok(super::known(json(200, &serde_json::json!({ "id": id, "source": CONFIG })), &version, known));
    }
    Err(Problem::new(404, format!("no window {id:?}")))
}

/// An id as a path may carry it: what `check` would accept as a word, nothing to escape.
fn checked_id(id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Problem::new(400, "a window id is 1 to 100 of A-Z a-z 0-9 - _ ."))
    }
}

/// A JSON value as a TOML value; what TOML cannot hold is a finding at `path`.
fn to_toml(v: &serde_json::Value, path: &str, problems: &mut Vec<Diagnostic>) -> Option<toml_edit::Value> {
    let mut problem = |message: &str| {
        problems.push(Diagnostic { file: "request body".into(), path: path.into(), message: message.into(), at: None });
        None
    };
    match v {
        serde_json::Value::Null => problem("null is not a value in TOML; leave the key out"),
        serde_json::Value::Bool(b) => Some((*b).into()),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(i.into()),
            (None, Some(f)) => Some(f.into()),
            _ => problem("a number TOML cannot hold"),
        },
        serde_json::Value::String(s) => Some(s.as_str().into()),
        serde_json::Value::Array(a) => {
            let items: Vec<Option<toml_edit::Value>> =
                a.iter().enumerate().map(|(i, x)| to_toml(x, &format!("{path}[{i}]"), problems)).collect();
            items.into_iter().collect::<Option<toml_edit::Array>>().map(toml_edit::Value::Array)
        }
        serde_json::Value::Object(o) => {
            let mut t = toml_edit::InlineTable::new();
            let mut ok = true;
            for (k, x) in o {
                match to_toml(x, &format!("{path}.{k}"), problems) {
                    Some(x) => {
                        t.insert(k, x);
                    }
                    None => ok = false,
                }
            }
            ok.then_some(toml_edit::Value::InlineTable(t))
        }
    }
}

/// The body as a `[[windows]]` table with `id` first; 422 with every key TOML cannot hold.
fn table(id: &str, body: serde_json::Map<String, serde_json::Value>) -> Result<toml_edit::Table, Problem> {
    if body.get("id").is_some_and(|v| v.as_str() != Some(id)) {
        return Err(Problem::new(400, "the body's `id` differs from the path's; leave it out"));
    }
    let mut problems = Vec::new();
    let mut t = toml_edit::Table::new();
    t.insert("id", toml_edit::value(id));
    for (k, v) in body.iter().filter(|(k, _)| *k != "id") {
        if let Some(v) = to_toml(v, k, &mut problems) {
            t.insert(k, toml_edit::value(v));
        }
    }
    if problems.is_empty() {
        Ok(t)
    } else {
        Err(Problem::invalid(format!("{} value(s) cannot be written to TOML", problems.len()), problems))
    }
}

/// The operator file's `[[windows]]`; a 409 when `windows` is written another way.
fn windows_mut(doc: &mut DocumentMut) -> Result<&mut toml_edit::ArrayOfTables, Problem> {
    match doc.entry("windows").or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new())) {
        toml_edit::Item::ArrayOfTables(a) => Ok(a),
        other => Err(Problem::new(
            409,
            format!("the operator file's `windows` is a {}, not [[windows]] tables; fix it by hand", other.type_name()),
        )),
    }
}

fn position(windows: &toml_edit::ArrayOfTables, id: &str) -> Option<usize> {
    windows.iter().position(|w| w.get("id").and_then(|v| v.as_str()) == Some(id))
}

fn operator_ids(doc: &DocumentMut) -> BTreeSet<String> {
    operator_windows(&doc.to_string()).into_iter().map(|(id, _)| id).collect()
}

fn not_here(id: &str) -> Problem {
    Problem::new(409, format!("window {id:?} is defined in a configuration file, not by operators; edit that file"))
}

/// `PUT windows/{id}`: creates (201) or replaces (200) an operator-made window.
pub async fn put(cx: &Context<'_>, req: &Request<'_>, id: &str) -> Result<Answer, Problem> {
    checked_id(id)?;
    let new = table(id, req.json()?)?;
    let elsewhere = config_ids(cx, &BTreeSet::new());
    let (id_, if_match) = (id.to_string(), req.if_match());
    let (created, version, reload) = apply(cx, move |store| {
        edit(&*store, if_match.as_deref(), |doc| {
            if elsewhere.contains(&id_) && !operator_ids(doc).contains(&id_) {
                return Err(not_here(&id_));
            }
            let windows = windows_mut(doc)?;
            let mut t = new.clone();
            match position(windows, &id_).and_then(|i| windows.get_mut(i)) {
                Some(old) => {
                    // The comment above the window and its place stay.
                    *t.decor_mut() = old.decor().clone();
                    *old = t;
                    Ok(false)
                }
                None => {
                    t.decor_mut().set_prefix("\n");
                    windows.push(t);
                    Ok(true)
                }
            }
        })
    })
    .await?;
    let mut body = serde_json::json!({ "id": id, "source": OPERATOR, "created": created });
    merge(&mut body, reload);
    Ok(with_etag(json(if created { 201 } else { 200 }, &body), &version))
}

/// `DELETE windows/{id}`: cancels an operator-made window (its table leaves the file).
pub async fn delete(cx: &Context<'_>, req: &Request<'_>, id: &str) -> Result<Answer, Problem> {
    let elsewhere = config_ids(cx, &BTreeSet::new());
    let (id_, if_match) = (id.to_string(), req.if_match());
    let ((), version, reload) = apply(cx, move |store| {
        edit(&*store, if_match.as_deref(), |doc| {
            let found =
                doc.get("windows").and_then(toml_edit::Item::as_array_of_tables).and_then(|w| position(w, &id_));
            match found {
                Some(i) => {
                    windows_mut(doc)?.remove(i);
                    Ok(())
                }
                None if elsewhere.contains(&id_) => Err(not_here(&id_)),
                None => Err(Problem::new(404, format!("no operator-made window {id_:?}"))),
            }
        })
    })
    .await?;
    let mut body = serde_json::json!({ "id": id, "cancelled": true });
    merge(&mut body, reload);
    Ok(with_etag(json(200, &body), &version))
}

/// Adds `extra`'s members to `body`.
pub fn merge(body: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_a_window_table_and_nulls_are_findings() {
        let body = serde_json::json!({
            "scope": { "tenants": ["a"] },
            "once": { "start": "2030-01-01T10:00", "end": "2030-01-01T11:00" },
            "reason": { "en": "Disk <swap>" },
        });
        let serde_json::Value::Object(map) = body else { unreachable!() };
        let t = table("disk", map).expect("a table");
        let mut doc = DocumentMut::new();
        let mut windows = toml_edit::ArrayOfTables::new();
        windows.push(t);
        doc.insert("windows", toml_edit::Item::ArrayOfTables(windows));
        let text = doc.to_string();
        assert!(text.starts_with("[[windows]]\nid = \"disk\"\n"), "{text}");
        assert!(text.contains("once = { end = \"2030-01-01T11:00\", start = \"2030-01-01T10:00\" }"), "{text}");

        let bad = serde_json::json!({ "once": { "start": null }, "title": [1, null] });
        let serde_json::Value::Object(map) = bad else { unreachable!() };
        let p = table("x", map).expect_err("nulls");
        let paths: Vec<&str> = p.errors.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["once.start", "title[1]"]);
        assert_eq!(p.status, 422);
    }

    #[test]
    fn ids() {
        assert!(checked_id("disk-2030.a_b").is_ok());
        for bad in ["", "a b", "a/b", "<x>", &"x".repeat(101)] {
            assert_eq!(checked_id(bad).map_err(|p| p.status), Err(400), "{bad}");
        }
    }
}
