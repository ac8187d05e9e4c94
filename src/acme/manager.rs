//! The ACME manager: a thread with its own runtime, off the request path, started with the
//! control plane. Every few seconds it reads `[acme]` of the configuration in force (a reload's
//! new names are seen at the next look), loads certificates kept in `state_dir`, and orders
//! what [`Schedule`] says is due, one name at a time. An order's failure is logged, shown on
//! the admin endpoint and backed off; the gateway keeps serving whatever it served.

use super::client::{self, OrderError};
use super::issued::Issued;
use super::renew::Schedule;
use super::storage::Storage;
use super::{Acme, LastError};
use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::config::acme::AcmeSettings;
use crate::tls::Certificate;
use arc_swap::ArcSwap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often the manager looks at the configuration when nothing is due.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Loads what `state_dir` keeps for the configuration in force (so a restart serves stored
/// certificates from its first handshake), then starts the manager's thread. Nothing happens
/// without `[acme]`; the thread still runs, for a reload that adds it.
pub fn start(current: Arc<ArcSwap<Compiled>>, acme: Arc<Acme>, clock: Clock) -> Result<(), String> {
    let compiled = current.load_full();
    if let (Some(settings), Some(dir)) = (&compiled.config().acme, &compiled.config().gateway.state_dir) {
        let storage = Storage::open(dir)?;
        load_stored(&acme, &storage, settings);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("acme: cannot start its runtime: {e}"))?;
    std::thread::Builder::new()
        .name("hiatus-acme".to_string())
        .spawn(move || runtime.block_on(run(current, acme, clock)))
        .map_err(|e| format!("acme: cannot start its thread: {e}"))?;
    Ok(())
}

/// Puts the stored certificates of `settings`' names into `acme.issued` (those not there yet),
/// and drops issued ones no longer named.
fn load_stored(acme: &Acme, storage: &Storage, settings: &AcmeSettings) {
    let issued = acme.issued.load_full();
    let mut next: Issued = Issued::default();
    let mut changed = false;
    for name in &settings.names {
        if let Some(c) = issued.get(name) {
            next = next.with(name, c.clone());
            continue;
        }
        match storage.certificate(name) {
            Ok(Some(c)) => {
                log::info!("acme: {name}: the stored certificate is served (until {})", expiry(c.not_after));
                next = next.with(name, c);
                changed = true;
            }
            Ok(None) => {}
            Err(e) => log::warn!("acme: {name}: the stored certificate is not used: {e}"),
        }
    }
    if changed || issued.iter().count() != next.iter().count() {
        acme.issued.store(Arc::new(next));
    }
}

fn expiry(not_after: Option<i64>) -> String {
    not_after.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map_or_else(|| "?".to_string(), |t| t.to_rfc3339())
}

/// The manager's loop (runs as long as the process).
async fn run(current: Arc<ArcSwap<Compiled>>, acme: Arc<Acme>, clock: Clock) {
    let mut schedule = Schedule::default();
    // The account of the directory it was made for, kept across looks.
    let mut account: Option<(String, instant_acme::Account)> = None;
    loop {
        let compiled = current.load_full();
        let wait = match (&compiled.config().acme, &compiled.config().gateway.state_dir) {
            (Some(settings), Some(dir)) => look(settings, dir, &acme, &clock, &mut schedule, &mut account).await,
            _ => LOOK_EVERY,
        };
        drop(compiled);
        tokio::time::sleep(wait).await;
    }
}

/// One look: what is due is ordered. Returns how long to sleep.
async fn look(
    settings: &AcmeSettings,
    dir: &Path,
    acme: &Acme,
    clock: &Clock,
    schedule: &mut Schedule,
    account: &mut Option<(String, instant_acme::Account)>,
) -> Duration {
    let storage = match Storage::open(dir) {
        Ok(s) => s,
        Err(e) => {
            log::error!("acme: {e}");
            return Duration::from_secs(60);
        }
    };
    load_stored(acme, &storage, settings);
    let issued = acme.issued.load_full();
    let now = clock.now();
    let wanted: Vec<String> = schedule
        .wanted(&settings.names, |n| issued.get(n).and_then(|c| c.not_after), now, settings.renew_before)
        .into_iter()
        .map(str::to_string)
        .collect();
    drop(issued);
    if wanted.is_empty() {
        return until_next(schedule, clock);
    }
    // The other gateway of an upgrade may be ordering the same names: it holds the lock, and
    // its certificates are read from storage at the next look.
    let _orders = match storage.lock_orders() {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            log::info!("acme: another process is ordering certificates here; looking again shortly");
            return LOOK_EVERY;
        }
        Err(e) => {
            log::error!("acme: {e}");
            return Duration::from_secs(60);
        }
    };
    for name in &wanted {
        let result = match account {
            Some((directory, a)) if *directory == settings.directory => Ok(a.clone()),
            _ => client::account(settings, &storage).await.inspect(|a| {
                *account = Some((settings.directory.clone(), a.clone()));
            }),
        };
        let outcome = match result {
            Ok(a) => ordered(name, client::order(&a, name, &acme.challenges).await, &storage),
            Err(e) => Err(e),
        };
        let now = clock.now();
        match outcome {
            Ok(certificate) => {
                log::info!(
                    "acme: {name}: certificate issued, served from now on (until {})",
                    expiry(certificate.not_after)
                );
                let next = acme.issued.load().with(name, certificate);
                acme.issued.store(Arc::new(next));
                acme.order_succeeded(name);
                schedule.succeeded(name);
            }
            Err(e) => {
                let retry_at = schedule.failed(name, now, e.rate_limited);
                let again = expiry(Some(retry_at));
                log::warn!("acme: {name}: no certificate: {}; trying again at {again}", e.message);
                acme.order_failed(name, LastError { at: now, message: e.message, retry_at });
            }
        }
    }
    until_next(schedule, clock)
}

/// How long to sleep until the schedule's next look (1 s to [`LOOK_EVERY`]).
fn until_next(schedule: &Schedule, clock: &Clock) -> Duration {
    let next = schedule.next_look(clock.now(), LOOK_EVERY.as_secs() as i64) - clock.now();
    Duration::from_secs(next.clamp(1, LOOK_EVERY.as_secs() as i64) as u64)
}

/// An order's PEM checked as a certificate and kept in storage.
fn ordered(
    name: &str,
    pem: Result<(String, String), OrderError>,
    storage: &Storage,
) -> Result<Certificate, OrderError> {
    let (chain, key) = pem?;
    let certificate = Certificate::from_pem(chain.as_bytes(), key.as_bytes(), Path::new(name), Path::new(name))
        .map_err(|e| OrderError { message: format!("the issued certificate: {}", e.message), rate_limited: None })?;
    storage.save_certificate(name, &chain, &key).map_err(|e| OrderError { message: e, rate_limited: None })?;
    Ok(certificate)
}
