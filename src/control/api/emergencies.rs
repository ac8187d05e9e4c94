//! `emergencies`: switching emergencies on (`POST`) and off (`DELETE emergencies/{id}`), with
//! the semantics of `hiatus emergency on|off` — the same edits (`control::emergency`'s
//! `switch_on`, `switch_off`) on the same file: an open-ended window from now, and an `end`
//! set when it is switched off (the record stays).
//!
//! Body of `POST`: `scope` (a list of `all`, `tenant:ID`, `host:PATTERN`, as `--scope`),
//! `reason` (required), `title`, `language` (of those two texts; the main file's default
//! otherwise), `id` (else `emergency-YYYYMMDD-HHMM`).

use super::problem::Problem;
use super::windows::merge;
use super::{apply, edit, json, with_etag, Context, Request};
use crate::config::Language;
use crate::control::emergency::{self, OnRequest, ScopeArg, Target};
use crate::control::http::Answer;
use chrono::{DateTime, Utc};

fn now(cx: &Context) -> DateTime<Utc> {
    DateTime::from_timestamp(cx.clock.now(), 0).unwrap_or_default()
}

fn text(body: &serde_json::Map<String, serde_json::Value>, key: &str) -> Result<Option<String>, Problem> {
    match body.get(key) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Problem::new(400, format!("`{key}` must be a string"))),
    }
}

/// The body of `POST emergencies` as the CLI's request.
fn on_request(body: &serde_json::Map<String, serde_json::Value>) -> Result<OnRequest, Problem> {
    let known = ["scope", "reason", "title", "language", "id"];
    if let Some(k) = body.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Problem::new(400, format!("unknown key `{k}`; known: {}", known.join(", "))));
    }
    let scopes = match body.get("scope") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().ok_or_else(|| "each scope is a string".to_string()).and_then(ScopeArg::parse))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| Problem::new(400, format!("scope: {m}")))?,
        Some(serde_json::Value::String(s)) => vec![ScopeArg::parse(s).map_err(|m| Problem::new(400, m))?],
        _ => return Err(Problem::new(400, "`scope` is required: [\"all\"], [\"tenant:ID\", \"host:PATTERN\", …]")),
    };
    let reason = text(body, "reason")?.ok_or_else(|| Problem::new(400, "`reason` is required"))?;
    let language = match text(body, "language")? {
        Some(code) => {
            Some(Language::parse(&code).ok_or_else(|| Problem::new(400, format!("unknown language {code:?}")))?)
        }
        None => None,
    };
    Ok(OnRequest { scopes, reason, title: text(body, "title")?, language, id: text(body, "id")? })
}

fn problem(e: emergency::Error) -> Problem {
    match e {
        emergency::Error::Usage(m) => Problem::new(409, m),
        emergency::Error::NothingOpen(m) => Problem::new(409, m),
        emergency::Error::Invalid(r) => Problem::invalid("the configuration would have errors", r.errors),
        other => Problem::new(503, other.to_string()),
    }
}

fn target(cx: &Context) -> Result<Target, Problem> {
    Target::locate(cx.reloader.path(), None).map_err(|e| Problem::new(503, e.to_string()))
}

/// `POST emergencies`: 201 with the window's id and start.
pub async fn on(cx: &Context<'_>, req: &Request<'_>) -> Result<Answer, Problem> {
    let on = on_request(&req.json()?)?;
    let target = target(cx)?;
    let (at, if_match) = (now(cx), req.if_match());
    let (switched, version, reload) = apply(cx, move |store| {
        let taken = target.ids_elsewhere();
        let language = on.language.unwrap_or(target.language());
        edit(&*store, if_match.as_deref(), |doc| emergency::switch_on(doc, &on, language, at, &taken).map_err(problem))
    })
    .await?;
    let mut body = serde_json::json!({
        "id": switched.id,
        "start": switched.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    merge(&mut body, reload);
    let mut answer = with_etag(json(201, &body), &version);
    answer.fields.push(("location", format!("/api/v1/windows/{}", switched.id)));
    Ok(answer)
}

/// `DELETE emergencies/{id}`: sets its end now; 200 with start and end, 409 when it is not open.
pub async fn off(cx: &Context<'_>, req: &Request<'_>, id: &str) -> Result<Answer, Problem> {
    let target = target(cx)?;
    let (at, if_match, id_) = (now(cx), req.if_match(), id.to_string());
    let (switched, version, reload) = apply(cx, move |store| {
        edit(&*store, if_match.as_deref(), |doc| {
            emergency::switch_off(doc, Some(&id_), at, target.main_zone()).map_err(|e| match e {
                emergency::Error::NothingOpen(m) if m.starts_with("no window") => Problem::new(404, m),
                e => problem(e),
            })
        })
    })
    .await?;
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ended: Vec<serde_json::Value> = switched
        .iter()
        .map(|s| serde_json::json!({ "id": s.id, "start": stamp(s.start), "end": s.end.map(stamp) }))
        .collect();
    let mut body = serde_json::json!({ "id": id, "switched_off": ended });
    merge(&mut body, reload);
    Ok(with_etag(json(200, &body), &version))
}
