//! The control plane: everything that changes or reports on the running gateway without being
//! on the request path — reloads (file watch, SIGHUP, admin), the admin listener, metrics,
//! the access log writer, the coarse clock's ticker, the emergency switch's file edits, and the
//! health prober (`prober`).
//!
//! [`start`] runs the loops on a thread and tokio runtime of their own, so nothing here
//! competes with pingora's request runtimes and a slow reload never delays a request.

pub mod admin;
pub mod api;
pub mod emergency;
pub mod http;
pub mod prober;
pub mod reload;
pub mod scrape;
pub mod ticker;
pub mod vet;
pub mod windows;

use admin::Admin;
use reload::{Fingerprint, Reloader};
use std::sync::Arc;
use std::time::Duration;
use ticker::Ticker;

/// How often files are looked at. A file replaced by another (renamed into place) is read once
/// one more look finds it unchanged; a file written in place once it has held still for the
/// configuration's `reload_settle` (an editor or a script may write it in pieces).
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Starts the control plane; returns once SIGHUP is handled. The admin endpoints are served
/// where their listener is: one of pingora's in `hiatus run` (`admin::AdminApp`, handed over in
/// an upgrade), [`admin::Admin::serve`] on a listener of the caller's elsewhere.
pub fn start(admin: Arc<Admin>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Install the SIGHUP handler now: until a handler exists, SIGHUP kills the process.
    let hup = runtime.block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) })?;
    std::thread::Builder::new().name("hiatus-control".into()).spawn(move || {
        runtime.block_on(async move {
            tokio::spawn(on_sighup(admin.reloader.clone(), hup));
            tokio::spawn(ticker(admin.clone()));
            tokio::spawn(prober::run(admin.reloader.current().clone(), admin.clock.clone()));
            watch(admin.reloader.clone()).await;
        })
    })?;
    Ok(())
}

/// How long after a reload the replaced configuration's memory is handed back once more:
/// requests in flight and the health loop may hold it for a moment after the swap.
const RELEASE_AGAIN_AFTER: Duration = Duration::from_millis(1500);

/// Reloads on a blocking thread (it reads files and builds for a while). After a successful
/// reload, `memory::release` runs once more a little later: without it the allocator keeps the
/// replaced configuration resident for its own purge delay (measured with 10 000 tenants: 43 MiB
/// for ten seconds after each reload, 31 MiB with the second release).
pub(crate) async fn reload_off_thread(
    reloader: Arc<Reloader>,
    trigger: &'static str,
) -> Result<Result<reload::Applied, Vec<String>>, tokio::task::JoinError> {
    let result = tokio::task::spawn_blocking(move || reloader.apply(trigger)).await;
    if matches!(result, Ok(Ok(_))) {
        tokio::spawn(async {
            tokio::time::sleep(RELEASE_AGAIN_AFTER).await;
            crate::memory::release();
        });
    }
    result
}

async fn on_sighup(reloader: Arc<Reloader>, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        let _ = reload_off_thread(reloader.clone(), "SIGHUP").await;
    }
}

/// Ticks on a blocking thread: a horizon rebuild compiles the whole configuration (resolving
/// its upstream names), which must not hold up the watcher, SIGHUP and the prober that share
/// this runtime. One tick at a time; a tick that takes longer delays the next (`interval`'s
/// missed ticks are skipped, not caught up).
async fn ticker(admin: Arc<Admin>) {
    let ticker = Arc::new(Ticker::new(admin.reloader.current().clone(), admin.clock.clone()));
    if let Some(Err(e)) = admin.metrics.as_ref().map(|m| crate::notify::metrics::register(m, ticker.board.clone())) {
        log::error!("metrics: the notification counters: {e}");
    }
    let mut every = tokio::time::interval(Duration::from_millis(250));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let ticker = ticker.clone();
        let _ = tokio::task::spawn_blocking(move || ticker.tick()).await;
    }
}

/// Polls the configuration's files; reloads when they changed and then held still: for one
/// more look when every change is a file replaced or removed, for `reload_settle` when a file
/// was written in place or appeared. A reload that finds a file changed while it was read is
/// refused (`config::read`) and the change is taken up again, as a new one.
async fn watch(reloader: Arc<Reloader>) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    let mut seen = reloader.fingerprint();
    // The files as they looked when last changed, and since when they look so.
    let mut pending: Option<(Fingerprint, tokio::time::Instant)> = None;
    loop {
        every.tick().await;
        let now = reloader.fingerprint();
        if now == seen {
            pending = None;
            continue;
        }
        let since = match &pending {
            Some((p, since)) if *p == now => *since,
            _ => {
                pending = Some((now, tokio::time::Instant::now()));
                continue;
            }
        };
        if now.may_be_half_written(&seen) && since.elapsed() < reloader.settle() {
            continue;
        }
        pending = None;
        let _ = reload_off_thread(reloader.clone(), "file change").await;
        // What the new configuration reads may differ (includes): look afresh. A file that
        // moved while or after it was read is left looking changed, to be taken up again.
        let after = reloader.fingerprint();
        seen = if after.agrees_with(&now) { after } else { now };
    }
}
