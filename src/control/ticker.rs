//! The ticker: keeps the coarse clock ticking and rebuilds the snapshot before its horizon runs
//! out (a control-plane task; `control::start` runs it every second).

use crate::clock::Clock;
use crate::compiled::Compiled;
use crate::config::Config;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Keeps the coarse clock ticking and rebuilds the snapshot before its horizon runs out.
#[derive(Debug)]
pub struct Ticker {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
}

impl Ticker {
    /// One tick: read the clock; rebuild the timelines around `now` when the horizon is due.
    pub fn tick(&self) {
        self.clock.tick();
        let now = self.clock.now();
        let current = self.current.load_full();
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
