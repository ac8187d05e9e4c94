//! The ticker: keeps the coarse clock ticking, rebuilds the snapshot before its horizon runs
//! out and logs the windows that start or end (`windows::WindowWatch`); a control-plane task,
//! `control::start` runs it four times a second.

use super::windows::WindowWatch;
use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::config::Config;
use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex};

/// Keeps the coarse clock ticking and rebuilds the snapshot before its horizon runs out.
#[derive(Debug)]
pub struct Ticker {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
    /// The windows in force at the last tick (only the ticker's task takes it).
    pub windows: Mutex<WindowWatch>,
}

impl Ticker {
    pub fn new(current: Arc<ArcSwap<Compiled>>, clock: Clock) -> Ticker {
        Ticker { current, clock, windows: Mutex::new(WindowWatch::default()) }
    }
}

impl Ticker {
    /// One tick: read the clock; rebuild the timelines around `now` when the horizon is due.
    pub fn tick(&self) {
        self.clock.tick();
        let now = self.clock.now();
        let current = self.current.load_full();
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in windows.look(current.config(), current.generation, now) {
            log::info!("{event}");
        }
        drop(windows);
        if current.horizon_due(now) {
            let config: Config = current.config().clone();
            match Compiled::build_with(config, now, current.generation, &current.health) {
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
