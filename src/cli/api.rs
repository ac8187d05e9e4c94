//! `hiatus api METHOD PATH`: one request to a running gateway's operator API (`/api/v1/`).
//!
//! Owns the arguments, the request and the printing: the answer's body on stdout (a problem's
//! detail and each finding on stderr), exit 0 for 2xx, 2 for a 422 (the configuration would
//! have errors; nothing was changed), 1 for anything else. The token comes from
//! `HIATUS_ADMIN_TOKEN` or `--token-file` (never an argument: `ps` would show it).
//!
//! Unlike `hiatus emergency`, which edits the emergency file itself and works with no gateway
//! running, this needs a running gateway: the gateway writes the same file and reloads.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The admin listener's default address (`[gateway] admin`).
const DEFAULT_ADMIN: &str = "http://127.0.0.1:9090";

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// GET, PUT, POST or DELETE.
    #[arg(value_parser = ["GET", "PUT", "POST", "DELETE", "get", "put", "post", "delete"])]
    method: String,
    /// Below /api/v1/: `tenants`, `windows`, `windows/ID`, `emergencies`, `emergencies/ID`.
    path: String,
    /// The admin listener (else `HIATUS_ADMIN`, else http://127.0.0.1:9090).
    #[arg(long)]
    admin: Option<String>,
    /// The body: JSON text, or `@FILE` to read it from a file (`@-`: standard input).
    #[arg(long)]
    data: Option<String>,
    /// Write only over this version of the operator file (an `ETag` from a GET).
    #[arg(long)]
    if_match: Option<String>,
    /// A POST retried with the same key is answered once (the first answer is replayed).
    #[arg(long)]
    idempotency_key: Option<String>,
    /// A file holding the admin token (else `HIATUS_ADMIN_TOKEN`).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

fn body(data: &str) -> Result<String, String> {
    match data.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}")),
        Some(file) => std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}")),
        None => Ok(data.to_string()),
    }
}

fn token(file: Option<&PathBuf>) -> Result<Option<String>, String> {
    match file {
        Some(f) => {
            std::fs::read_to_string(f).map(|t| Some(t.trim().to_string())).map_err(|e| format!("{}: {e}", f.display()))
        }
        None => Ok(std::env::var("HIATUS_ADMIN_TOKEN").ok().filter(|t| !t.is_empty())),
    }
}

/// Prints a problem's detail and findings on stderr.
fn explain(text: &str) {
    let Ok(p) = serde_json::from_str::<serde_json::Value>(text) else {
        eprintln!("{}", text.trim());
        return;
    };
    eprintln!("error: {} {}: {}", p["status"], p["title"].as_str().unwrap_or(""), p["detail"].as_str().unwrap_or(""));
    for e in p["errors"].as_array().into_iter().flatten() {
        let at = match (e["line"].as_u64(), e["column"].as_u64()) {
            (Some(l), Some(c)) => format!(":{l}:{c}"),
            _ => String::new(),
        };
        eprintln!(
            "  {}{at}: {}: {}",
            e["file"].as_str().unwrap_or(""),
            e["path"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        );
    }
}

fn call(args: &ApiArgs) -> Result<(u16, Option<String>, String), String> {
    let admin = args.admin.clone().or_else(|| std::env::var("HIATUS_ADMIN").ok()).unwrap_or(DEFAULT_ADMIN.into());
    let url = format!("{}/api/v1/{}", admin.trim_end_matches('/'), args.path.trim_start_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let method = args.method.to_ascii_uppercase();
    let mut req = ureq::http::Request::builder().method(method.as_str()).uri(&url);
    if let Some(t) = token(args.token_file.as_ref())? {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(m) = &args.if_match {
        req = req.header("if-match", m);
    }
    if let Some(k) = &args.idempotency_key {
        req = req.header("idempotency-key", k);
    }
    let data = args.data.as_deref().map(body).transpose()?;
    let response = match data {
        Some(d) => {
            let req = req.header("content-type", "application/json").body(d).map_err(|e| e.to_string())?;
            agent.run(req)
        }
        None => {
            let req = req.header("content-length", "0").body(()).map_err(|e| e.to_string())?;
            agent.run(req)
        }
    }
    .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.into_body().read_to_string().map_err(|e| format!("{url}: {e}"))?;
    Ok((status, etag, text))
}

pub fn run(args: &ApiArgs) -> ExitCode {
    match call(args) {
        Ok((status, etag, text)) if (200..300).contains(&status) => {
            if let Some(e) = etag {
                eprintln!("etag: {e}");
            }
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Ok((status, _, text)) => {
            explain(&text);
            ExitCode::from(if status == 422 { 2 } else { 1 })
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
