//! Health counting as a pure state machine: probe results in, healthy or not out.
//!
//! Owns [`Counter`] (rise/fall thresholds over consecutive results) and nothing else: no clock,
//! no IO, no addresses. An upstream starts healthy (a freshly started gateway must not answer
//! "unavailable" before it has probed anything), turns unhealthy after `fall` failed probes in a
//! row and healthy again after `rise` passed probes in a row.

/// Consecutive results needed to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub rise: u32,
    pub fall: u32,
}

/// A change of state caused by one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// The state of one upstream and the runs of results behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    healthy: bool,
    /// Passed probes in a row (0 after a failure).
    passes: u32,
    /// Failed probes in a row (0 after a pass).
    fails: u32,
}

impl Default for Counter {
    fn default() -> Self {
        Counter { healthy: true, passes: 0, fails: 0 }
    }
}

impl Counter {
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// Whether probes have shown the current state, rather than it being assumed at start:
    /// unhealthy is only ever reached by probes; healthy needs `rise` passes in a row.
    pub fn confirmed(&self, t: Thresholds) -> bool {
        !self.healthy || self.passes >= t.rise
    }

    /// Counts one probe result; returns the transition it caused, if any.
    pub fn observe(&mut self, passed: bool, t: Thresholds) -> Option<Transition> {
        if passed {
            self.passes = self.passes.saturating_add(1);
            self.fails = 0;
            if !self.healthy && self.passes >= t.rise {
                self.healthy = true;
                return Some(Transition::Up);
            }
        } else {
            self.fails = self.fails.saturating_add(1);
            self.passes = 0;
            if self.healthy && self.fails >= t.fall {
                self.healthy = false;
                return Some(Transition::Down);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `results` (`p` pass, `f` fail) into a fresh counter and renders the state after
    /// each: `u` healthy, `d` unhealthy, `U`/`D` when that result changed it.
    fn check(rise: u32, fall: u32, results: &str, expected: &str) {
        let t = Thresholds { rise, fall };
        let mut c = Counter::default();
        let got: String = results
            .chars()
            .map(|r| match (c.observe(r == 'p', t), c.healthy()) {
                (Some(Transition::Up), _) => 'U',
                (Some(Transition::Down), _) => 'D',
                (None, true) => 'u',
                (None, false) => 'd',
            })
            .collect();
        assert_eq!(got, expected, "rise {rise}, fall {fall}: {results}");
    }

    #[test]
    fn rise_and_fall() {
        let cases = [
            // Starts healthy; passes keep it so.
            (2, 3, "ppp", "uuu"),
            // `fall` failures in a row turn it down, not fewer.
            (2, 3, "fff", "uuD"),
            (2, 3, "ffpff", "uuuuu"),
            (2, 3, "ffpfff", "uuuuuD"),
            // Down: `rise` passes in a row bring it back; a failure starts the count again.
            (2, 3, "fffpp", "uuDdU"),
            (2, 3, "fffpfpp", "uuDdddU"),
            (2, 3, "fffppfff", "uuDdUuuD"),
            // Thresholds of 1: every result decides.
            (1, 1, "fpfp", "DUDU"),
            (1, 1, "ffpp", "DdUu"),
            (3, 1, "fpppf", "DddUD"),
            // Long runs do not overflow or flip back.
            (2, 2, "ffffffff", "uDdddddd"),
        ];
        for (rise, fall, results, expected) in cases {
            check(rise, fall, results, expected);
        }
    }

    #[test]
    fn confirmed_only_after_rise_passes_or_a_fall() {
        let t = Thresholds { rise: 2, fall: 2 };
        let mut c = Counter::default();
        assert!(!c.confirmed(t), "assumed healthy at start");
        c.observe(true, t);
        assert!(!c.confirmed(t));
        c.observe(true, t);
        assert!(c.confirmed(t));
        c.observe(false, t);
        assert!(!c.confirmed(t), "healthy, but the last probe failed");
        c.observe(false, t);
        assert!(c.confirmed(t) && !c.healthy());
    }
}
