//! The access log: one line per request, JSON or a combined-like text line
//! (`[gateway] access_log_format`), written by a thread of its own.
//!
//! The request path only formats its line and hands it to a bounded queue (`try_send`, never
//! blocking); when the writer falls behind, lines are dropped and counted rather than slowing
//! requests down. The writer batches lines and flushes when the queue runs dry.
//!
//! It writes what it is given: the path arrives redacted (`gateway::record::redacted` for the
//! bypass secret, [`super::redact::query`] for the query's secrets).

use crate::config::gateway::{AccessLogTarget, LogFormat};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

/// One request, as logged. The JSON keys are these names.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    #[serde(serialize_with = "rfc3339")]
    pub time: chrono::DateTime<chrono::Utc>,
    /// The client as the trusted proxies say it is (the first untrusted address).
    pub client: Option<IpAddr>,
    pub tenant: Option<&'a str>,
    pub host: &'a str,
    pub method: &'a str,
    /// With its query, secrets redacted.
    pub path: &'a str,
    pub protocol: &'a str,
    /// 0 when no response was written.
    pub status: u16,
    /// Body bytes written to the client.
    pub bytes: u64,
    pub decision: &'a str,
    pub window: Option<&'a str>,
    pub upstream: Option<std::net::SocketAddr>,
    pub upstream_ms: Option<f64>,
    /// The whole request, from its head to the last byte of its answer.
    pub total_ms: f64,
    pub user_agent: Option<&'a str>,
    pub request_id: &'a str,
}

fn rfc3339<S: serde::Serializer>(t: &chrono::DateTime<chrono::Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl Entry<'_> {
    /// The line in `format`, without its newline.
    pub fn line(&self, format: LogFormat) -> Option<String> {
        match format {
            LogFormat::Json => serde_json::to_string(self).ok(),
            LogFormat::Text => Some(self.text()),
        }
    }

    /// Apache's combined format (`client - - [time] "request" status bytes "referer" "agent"`,
    /// the referer always `-`: it is not read), then `key=value` fields for the rest, so that
    /// tools that read combined lines read these.
    fn text(&self) -> String {
        let mut out = String::with_capacity(256);
        let dash = |o: Option<String>| o.unwrap_or_else(|| "-".to_string());
        let _ = write!(
            out,
            "{} - - [{}] \"",
            dash(self.client.map(|c| c.to_string())),
            self.time.format("%d/%b/%Y:%H:%M:%S %z")
        );
        escaped(&mut out, self.method, false);
        out.push(' ');
        escaped(&mut out, self.path, false);
        out.push(' ');
        escaped(&mut out, self.protocol, false);
        let _ = write!(out, "\" {} {} \"-\" \"", self.status, self.bytes);
        escaped(&mut out, self.user_agent.unwrap_or("-"), false);
        out.push('"');
        let fields: [(&str, Option<String>); 8] = [
            ("host", Some(self.host.to_string())),
            ("decision", Some(self.decision.to_string())),
            ("tenant", self.tenant.map(str::to_string)),
            ("window", self.window.map(str::to_string)),
            ("upstream", self.upstream.map(|u| u.to_string())),
            ("upstream_ms", self.upstream_ms.map(|ms| format!("{ms:.3}"))),
            ("total_ms", Some(format!("{:.3}", self.total_ms))),
            ("request_id", Some(self.request_id.to_string())),
        ];
        for (key, value) in fields {
            let _ = write!(out, " {key}=");
            match value {
                Some(v) if !v.is_empty() => escaped(&mut out, &v, true),
                _ => out.push('-'),
            }
        }
        out
    }
}

/// `text` with `"`, `\`, control characters and bytes past ASCII as `\xHH` (nginx's escaping),
/// and spaces too when the value stands unquoted: a line always splits the same way.
fn escaped(out: &mut String, text: &str, space: bool) {
    for b in text.bytes() {
        match b {
            b'"' | b'\\' => {
                let _ = write!(out, "\\x{b:02X}");
            }
            b' ' if space => out.push_str("\\x20"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
}

/// Handle for the request path.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: SyncSender<Queued>,
    format: LogFormat,
}

/// What the writer is handed.
#[derive(Debug)]
enum Queued {
    Line(String),
    /// Write out everything queued before this, then say so (the process is about to exit).
    Flush(std::sync::mpsc::Sender<()>),
}

impl AccessLog {
    /// Starts the writer; `None` when the log is off.
    pub fn start(target: &AccessLogTarget, format: LogFormat) -> std::io::Result<Option<AccessLog>> {
        let out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(None),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::File(p) => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        };
        let (tx, rx) = sync_channel(16 * 1024);
        std::thread::Builder::new().name("hiatus-access-log".into()).spawn(move || writer(rx, out))?;
        Ok(Some(AccessLog { tx, format }))
    }

    /// Queues a line; `false` when it had to be dropped.
    pub fn log(&self, entry: &Entry<'_>) -> bool {
        let Some(line) = entry.line(self.format) else { return false };
        match self.tx.try_send(Queued::Line(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits (at most `within`) until every line queued so far is written; `false` if it was not.
    pub fn flush(&self, within: std::time::Duration) -> bool {
        let (done, written) = std::sync::mpsc::channel();
        self.tx.send(Queued::Flush(done)).is_ok() && written.recv_timeout(within).is_ok()
    }
}

fn writer(rx: Receiver<Queued>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut waiting = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(q) = next {
            match q {
                Queued::Line(line) => {
                    let _ = writeln!(out, "{line}");
                }
                Queued::Flush(done) => waiting.push(done),
            }
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
