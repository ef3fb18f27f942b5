//! `--timeout`: when to send SIGTERM to the command, and when SIGKILL to the
//! whole sandbox. Pure: the monitor's loop asks how long it may wait and
//! what is due, passing the time in.

use std::time::{Duration, Instant};

/// What the monitor must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// SIGTERM to the command (and SIGCONT, so a stopped one sees it).
    Term,
    /// SIGKILL to init: the whole pid namespace dies with it.
    Kill,
}

#[derive(Debug, Clone)]
pub struct Timeout {
    next: Option<(Instant, Due)>,
    grace: Duration,
    /// The time-out has fired: sandbox exits with 124.
    pub fired: bool,
}

impl Timeout {
    pub fn new(start: Instant, timeout_ms: Option<u64>, kill_after_ms: u64) -> Timeout {
        let next = timeout_ms.map(|t| (start + Duration::from_millis(t), Due::Term));
        Timeout { next, grace: Duration::from_millis(kill_after_ms), fired: false }
    }

    /// How long the loop may sleep, in ms; `None`: until something happens.
    pub fn wait_ms(&self, now: Instant) -> Option<u64> {
        let (at, _) = self.next?;
        let left = at.saturating_duration_since(now);
        // Round up, so the loop does not wake just before the deadline.
        Some(left.as_micros().div_ceil(1000) as u64)
    }

    /// What is due at `now`, at most once each.
    pub fn due(&mut self, now: Instant) -> Option<Due> {
        let (at, what) = self.next?;
        if now < at {
            return None;
        }
        self.fired = true;
        self.next = match what {
            Due::Term => Some((now + self.grace, Due::Kill)),
            Due::Kill => None,
        };
        Some(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_then_kill_after_the_grace() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Timeout::new(t0, Some(1000), 5000);
        assert_eq!(t.wait_ms(t0), Some(1000));
        assert_eq!(t.due(t0 + ms(999)), None);
        assert!(!t.fired);
        assert_eq!(t.due(t0 + ms(1000)), Some(Due::Term));
        assert!(t.fired);
        assert_eq!(t.due(t0 + ms(1001)), None);
        assert_eq!(t.wait_ms(t0 + ms(1000)), Some(5000));
        assert_eq!(t.due(t0 + ms(6000)), Some(Due::Kill));
        assert_eq!(t.due(t0 + ms(99000)), None);
        assert_eq!(t.wait_ms(t0 + ms(99000)), None);
    }

    #[test]
    fn no_timeout_never_fires() {
        let t0 = Instant::now();
        let mut t = Timeout::new(t0, None, 5000);
        assert_eq!(t.wait_ms(t0), None);
        assert_eq!(t.due(t0 + Duration::from_secs(1 << 20)), None);
        assert!(!t.fired);
    }

    #[test]
    fn late_wakeups_wait_zero() {
        let t0 = Instant::now();
        let t = Timeout::new(t0, Some(10), 0);
        assert_eq!(t.wait_ms(t0 + Duration::from_secs(1)), Some(0));
        assert_eq!(t.wait_ms(t0 + Duration::from_micros(9001)), Some(1));
    }
}
