//! `incidents`: incidents posted by operators — listed (`GET incidents`, `GET incidents/{id}`),
//! opened (`POST incidents`), updated (`POST incidents/{id}/updates`) and resolved
//! (`POST incidents/{id}/resolve`).
//!
//! Owns the incident resource's JSON and its edits of the operator file: an `[[incidents]]`
//! table (`config::incidents` reads and validates it) with `start` now, and its `updates` as
//! an inline array, one `{ at, text }` per update; resolving sets `end`. Nothing is removed:
//! the status page keeps the history. The status page, `status.json`, the feeds and
//! notifications see an incident from the reload that follows.
//!
//! Body of `POST incidents`: `title` and `text` (objects of language → text; `text` is the
//! first update), `severity` (`info`, `warning`, `critical`), `tenants` (ids), `id` (else
//! `incident-YYYYMMDD-HHMM`). Of an update: `text`. Of a resolve: `text`, optional.

use super::problem::Problem;
use super::windows::merge;
use super::{apply, edit, json, rfc3339, with_etag, Context, Request};
use crate::control::http::Answer;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use toml_edit::DocumentMut;

type Body = Map<String, Value>;

fn now(cx: &Context) -> DateTime<Utc> {
    DateTime::from_timestamp(cx.clock.now(), 0).unwrap_or_default()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn only(body: &Body, known: &[&str]) -> Result<(), Problem> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Problem::new(400, format!("unknown key `{k}`; known: {}", known.join(", ")))),
        None => Ok(()),
    }
}

/// `{ "en": "…" }` as an inline table; which languages are known is the loader's to say.
fn texts(body: &Body, key: &str) -> Result<Option<toml_edit::InlineTable>, Problem> {
    let Some(v) = body.get(key) else { return Ok(None) };
    let bad = || Problem::new(400, format!("`{key}` is an object of language → text, e.g. {{\"en\": \"…\"}}"));
    let map = v.as_object().ok_or_else(bad)?;
    let mut t = toml_edit::InlineTable::new();
    for (lang, text) in map {
        t.insert(lang, text.as_str().ok_or_else(bad)?.into());
    }
    Ok(Some(t))
}

fn update(at: DateTime<Utc>, text: toml_edit::InlineTable) -> toml_edit::Value {
    let mut u = toml_edit::InlineTable::new();
    u.insert("at", stamp(at).into());
    u.insert("text", toml_edit::Value::InlineTable(text));
    toml_edit::Value::InlineTable(u)
}

fn incidents_mut(doc: &mut DocumentMut) -> Result<&mut toml_edit::ArrayOfTables, Problem> {
    match doc.entry("incidents").or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new())) {
        toml_edit::Item::ArrayOfTables(a) => Ok(a),
        other => Err(Problem::new(
            409,
            format!(
                "the operator file's `incidents` is a {}, not [[incidents]] tables; fix it by hand",
                other.type_name()
            ),
        )),
    }
}

fn find<'d>(doc: &'d mut DocumentMut, id: &str) -> Result<&'d mut toml_edit::Table, Problem> {
    let present = doc.get("incidents").is_some();
    let missing = || Problem::new(404, format!("no operator incident {id:?}"));
    if !present {
        return Err(missing());
    }
    incidents_mut(doc)?.iter_mut().find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id)).ok_or_else(missing)
}

/// One operator incident as the API shows it: its texts in every language it has.
fn shown(x: &crate::config::incidents::OperatorIncident) -> Value {
    let texts = |t: &crate::config::model::Texts| -> Value {
        t.0.iter()
            .map(|(lang, text)| (lang.code().to_string(), Value::from(text.as_str())))
            .collect::<Map<_, _>>()
            .into()
    };
    serde_json::json!({
        "id": x.id,
        "severity": x.severity.name(),
        "tenants": x.tenants,
        "start": rfc3339(Some(x.start)),
        "end": rfc3339(x.end),
        "title": texts(&x.title),
        "updates": x.updates.iter().map(|u| serde_json::json!({ "at": rfc3339(Some(u.at)), "text": texts(&u.text) })).collect::<Vec<_>>(),
    })
}

/// `GET incidents`: the operators' incidents of the configuration in force, in file order
/// (open and resolved: the history stays), with the operator file's version as `ETag`.
pub fn list(cx: &Context) -> Result<Answer, Problem> {
    let (_, version, known) = cx.store().read_known().map_err(super::unavailable)?;
    let compiled = cx.reloader.current().load_full();
    let all: Vec<Value> = compiled.config().incidents.iter().map(shown).collect();
    Ok(super::known(json(200, &serde_json::json!({ "incidents": all })), &version, known))
}

/// `GET incidents/{id}`: one of them, or 404.
pub fn get(cx: &Context, id: &str) -> Result<Answer, Problem> {
    let (_, version, known) = cx.store().read_known().map_err(super::unavailable)?;
    let compiled = cx.reloader.current().load_full();
    let found = compiled.config().incidents.iter().find(|x| x.id == id);
    let x = found.ok_or_else(|| Problem::new(404, format!("no operator incident {id:?}")))?;
    Ok(super::known(json(200, &shown(x)), &version, known))
}

/// `POST incidents`: 201 with its id and start.
pub async fn open(cx: &Context<'_>, req: &Request<'_>) -> Result<Answer, Problem> {
    let body = req.json()?;
    only(&body, &["id", "title", "text", "severity", "tenants"])?;
    let title = texts(&body, "title")?.ok_or_else(|| Problem::new(400, "`title` is required"))?;
    let text = texts(&body, "text")?;
    let severity = body.get("severity").and_then(Value::as_str).unwrap_or("warning").to_string();
    let tenants: Vec<String> = match body.get("tenants") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| Problem::new(400, "`tenants` is a list of tenant ids"))?,
        _ => return Err(Problem::new(400, "`tenants` is required: the ids of the tenants it affects")),
    };
    let wanted = body.get("id").and_then(Value::as_str).map(str::to_string);
    let at = now(cx);
    let if_match = req.if_match();
    let (id, version, reload) = apply(cx, move |store| {
        edit(&*store, if_match.as_deref(), |doc| {
            let list = incidents_mut(doc)?;
            let taken = |id: &str| list.iter().any(|t| t.get("id").and_then(|v| v.as_str()) == Some(id));
            let id = match &wanted {
                Some(id) if taken(id) => return Err(Problem::new(409, format!("incident id {id:?} is taken"))),
                Some(id) => id.clone(),
                None => {
                    let stem = at.format("incident-%Y%m%d-%H%M").to_string();
                    let mut id = stem.clone();
                    let mut n = 2;
                    while taken(&id) {
                        id = format!("{stem}-{n}");
                        n += 1;
                    }
                    id
                }
            };
            let mut t = toml_edit::Table::new();
            t.insert("id", toml_edit::value(id.clone()));
            t.insert("severity", toml_edit::value(severity.clone()));
            t.insert("tenants", toml_edit::value(tenants.iter().map(String::as_str).collect::<toml_edit::Array>()));
            t.insert("start", toml_edit::value(stamp(at)));
            t.insert("title", toml_edit::value(title.clone()));
            let mut updates = toml_edit::Array::new();
            if let Some(text) = &text {
                updates.push(update(at, text.clone()));
            }
            t.insert("updates", toml_edit::value(updates));
            t.decor_mut().set_prefix("\n");
            list.push(t);
            Ok(id)
        })
    })
    .await?;
    let mut body = serde_json::json!({ "id": id, "start": stamp(at) });
    merge(&mut body, reload);
    Ok(with_etag(json(201, &body), &version))
}

/// Appends an update (`end`: and resolves it), refusing a resolved incident.
async fn change(cx: &Context<'_>, req: &Request<'_>, id: &str, resolve: bool) -> Result<Answer, Problem> {
    let body = req.json()?;
    only(&body, &["text"])?;
    let text = texts(&body, "text")?;
    if !resolve && text.is_none() {
        return Err(Problem::new(400, "`text` is required"));
    }
    let (at, if_match, id_) = (now(cx), req.if_match(), id.to_string());
    let ((), version, reload) = apply(cx, move |store| {
        edit(&*store, if_match.as_deref(), |doc| {
            let t = find(doc, &id_)?;
            if t.contains_key("end") {
                return Err(Problem::new(409, format!("incident {id_:?} is resolved")));
            }
            if let Some(text) = &text {
                let updates = t.entry("updates").or_insert(toml_edit::value(toml_edit::Array::new()));
                let Some(list) = updates.as_array_mut() else {
                    return Err(Problem::new(409, "the incident's `updates` is not an array; fix it by hand"));
                };
                list.push(update(at, text.clone()));
            }
            if resolve {
                t.insert("end", toml_edit::value(stamp(at)));
            }
            Ok(())
        })
    })
    .await?;
    let mut body = serde_json::json!({ "id": id, "at": stamp(at), "resolved": resolve });
    merge(&mut body, reload);
    Ok(with_etag(json(200, &body), &version))
}

/// `POST incidents/{id}/updates`.
pub async fn updated(cx: &Context<'_>, req: &Request<'_>, id: &str) -> Result<Answer, Problem> {
    change(cx, req, id, false).await
}

/// `POST incidents/{id}/resolve`.
pub async fn resolve(cx: &Context<'_>, req: &Request<'_>, id: &str) -> Result<Answer, Problem> {
    change(cx, req, id, true).await
}
