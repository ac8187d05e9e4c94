//! The access log: one JSON line per request, written by a thread of its own.
//!
//! The request path only formats its line and hands it to a bounded queue (`try_send`, never
//! blocking); when the writer falls behind, lines are dropped and counted rather than slowing
//! requests down. The writer batches lines and flushes when the queue runs dry.

use crate::config::gateway::AccessLogTarget;
use serde::Serialize;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

/// One request, as logged.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub time: String,
    pub tenant: Option<&'a str>,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub decision: &'a str,
    pub window: Option<&'a str>,
    pub upstream: Option<String>,
    pub upstream_ms: Option<f64>,
    pub total_ms: f64,
    pub request_id: &'a str,
}

/// Handle for the request path.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: SyncSender<Queued>,
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
    pub fn start(target: &AccessLogTarget) -> std::io::Result<Option<AccessLog>> {
        let out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(None),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::File(p) => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        };
        let (tx, rx) = sync_channel(16 * 1024);
        std::thread::Builder::new().name("hiatus-access-log".into()).spawn(move || writer(rx, out))?;
        Ok(Some(AccessLog { tx }))
    }

    /// Queues a line; `false` when it had to be dropped.
    pub fn log(&self, entry: &Entry<'_>) -> bool {
        let Ok(line) = serde_json::to_string(entry) else { return false };
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
