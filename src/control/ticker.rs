//! The ticker: keeps the coarse clock ticking, rebuilds the snapshot before its horizon runs
//! out and logs the windows that start or end (`windows::WindowWatch`); a control-plane task,
//! `control::start` runs it four times a second.

use super::windows::{self, WindowWatch};
use crate::clock::Clock;
use crate::compiled::resolve::{Addresses, LOOKUP_TIMEOUT};
use crate::compiled::Compiled;
use crate::config::notify::EventKind;
use crate::config::Config;
use crate::notify::event::{Event, Subject};
use crate::schedule::UnixTime;
use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex};

/// Keeps the coarse clock ticking and rebuilds the snapshot before its horizon runs out.
#[derive(Debug)]
pub struct Ticker {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
    /// The windows in force at the last tick (only the ticker's task takes it).
    pub windows: Mutex<WindowWatch>,
    /// Notifications, told of the windows' events (`None` until the first tick opens it).
    pub notifier: Mutex<Option<crate::notify::Notifier>>,
    /// The notifier's targets and counters for `/metrics` (read without the lock above).
    pub board: crate::notify::metrics::Board,
}

impl Ticker {
    pub fn new(current: Arc<ArcSwap<Compiled>>, clock: Clock) -> Ticker {
        Ticker {
            current,
            clock,
            windows: Mutex::new(WindowWatch::default()),
            notifier: Mutex::new(None),
            board: crate::notify::metrics::Board::default(),
        }
    }
}

impl Ticker {
    /// Hands the tick's window events to the notifier, opening it (and its outbox in
    /// `state_dir`, a restart-only key) at the first tick.
    fn notify(&self, current: &Compiled, events: &[windows::Event], now: UnixTime) {
        let mut notifier = self.notifier.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if notifier.is_none() {
            let board = self.board.clone();
            match crate::notify::Notifier::open_with(current.config().gateway.state_dir.as_deref(), board.clone()) {
                Ok(n) => *notifier = Some(n),
                Err(e) => {
                    log::error!("notify: {e}; notifications are kept in memory only");
                    *notifier = crate::notify::Notifier::open_with(None, board).ok();
                }
            }
        }
        if let Some(n) = notifier.as_mut() {
            let events = events.iter().map(|e| as_notification(current.config(), e, now)).collect();
            n.look(current, events, now);
        }
    }

    /// One tick: read the clock; rebuild the timelines around `now` when the horizon is due.
    pub fn tick(&self) {
        self.clock.tick();
        let now = self.clock.now();
        let current = self.current.load_full();
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let events = windows.look(current.config(), current.generation, now);
        drop(windows);
        for event in &events {
            log::info!("{event}");
        }
        self.notify(&current, &events, now);
        if current.horizon_due(now) {
            let config: Config = current.config().clone();
            // Names are looked up again (a changed address is followed), within a bound; one
            // that fails keeps the address it had (`compiled::resolve`).
            let addresses = Addresses::look_up(&config, Some(&current.addresses), LOOKUP_TIMEOUT);
            match Compiled::build_with(config, now, current.generation, &current.health, addresses) {
                // Only over the snapshot it was built from: a reload that landed meanwhile is
                // newer and must not be replaced by the old configuration.
                Ok(c) => {
                    let previous = self.current.compare_and_swap(&current, Arc::new(c));
                    if !Arc::ptr_eq(&previous, &current) {
                        log::info!("a reload landed while re-materialising; keeping the reload");
                    }
                    crate::memory::release();
                }
                Err(e) => log::error!("re-materialising the schedule failed, keeping the old one: {e}"),
            }
        }
    }
}

/// A start or end `WindowWatch` saw, as a notification's event (`now`: when it was seen).
fn as_notification(config: &crate::config::model::Config, e: &windows::Event, now: UnixTime) -> Event {
    let (id, start, end, kind) = match e {
        windows::Event::Started { window, start, end, emergency, .. } => {
            (window, *start, *end, if *emergency { EventKind::EmergencyOn } else { EventKind::WindowStarted })
        }
        windows::Event::Ended { window, start, emergency, .. } => {
            (window, *start, now, if *emergency { EventKind::EmergencyOff } else { EventKind::WindowEnded })
        }
    };
    let tenants = match config.windows.iter().find(|w| &w.id == id).map(|w| &w.scope) {
        Some(crate::config::model::Scope::Some { tenants, .. }) => Some(tenants.clone()),
        _ => None,
    };
    let at = if matches!(kind, EventKind::WindowStarted | EventKind::EmergencyOn) { start } else { now };
    Event::new(kind, at, Subject::Window { id: id.clone(), start, end, lead: None, tenants })
}
