//! What every step sees: the Plan, the seccomp programs built before
//! clone, and how to log and pause.

use std::sync::OnceLock;
use std::time::Instant;

use super::filters::Filters;
use crate::plan::Plan;

/// How to run, beyond what the Plan says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each setup step on stderr.
    pub verbose: bool,
    /// Test hook, honoured by debug builds only: wait forever at this setup
    /// stage, renamed `sbx-paused`, so a test can kill the monitor there.
    /// In the monitor: `before-maps`, `cgroup` (init in the sandbox's
    /// cgroup), `user-net` (the backend ready); in init: `persist-lock`
    /// (state directories locked), `mounts` (after the first mount); in the
    /// command's process: after each of its steps by its name
    /// (`landlock`, `seccomp`, …).
    pub pause_at: Option<String>,
    /// Test hook, honoured by debug builds only: the shortest time a DNS
    /// answer keeps an address reachable under `--allow-host`, instead of
    /// `egress::dns::TTL_FLOOR`, so that a test sees an expiry in seconds.
    pub dns_floor: Option<std::time::Duration>,
    /// Test hook, honoured by debug builds only: a fault for the egress
    /// helper to simulate (`stay`: it does not join the sandbox's
    /// namespaces; `stay-unchecked`: nor checks where it is), so that a
    /// test sees the firewall refused rather than installed elsewhere.
    pub egress_fault: Option<String>,
}

/// What every step sees.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub verbose: bool,
    /// Seccomp programs, built before clone.
    pub filters: &'a Filters,
    /// See [`Options::pause_at`].
    pub pause_at: Option<&'a str>,
    /// See [`Options::dns_floor`].
    pub dns_floor: Option<std::time::Duration>,
    /// See [`Options::egress_fault`].
    pub egress_fault: Option<&'a str>,
    /// The caller's own uid and gid, read when the run started (before any
    /// namespace was joined).
    pub caller: crate::plan::Ids,
}

impl Ctx<'_> {
    /// The test hook of [`Options::pause_at`].
    pub fn pause(&self, stage: &str) {
        // Not SIGSTOP: pid 1 of a pid namespace ignores even a stop signal
        // it sends itself.
        if cfg!(debug_assertions) && self.pause_at == Some(stage) {
            let _ = nix::sys::prctl::set_name(c"sbx-paused");
            loop {
                nix::unistd::pause();
            }
        }
    }

    /// The shortest time a DNS answer keeps an address reachable.
    pub fn dns_floor(&self) -> std::time::Duration {
        match self.dns_floor {
            Some(d) if cfg!(debug_assertions) => d,
            _ => crate::egress::dns::TTL_FLOOR,
        }
    }

    /// Whether the test hook of [`Options::egress_fault`] asks for `fault`.
    pub fn egress_fault(&self, fault: &str) -> bool {
        cfg!(debug_assertions) && self.egress_fault == Some(fault)
    }

    /// With `-v`: one line for a step, and when it happened, in ms since
    /// launch began (the monitor's clock; init and the command are its
    /// forks, so their lines use the same start). Nothing at all without
    /// `-v`: no clock is read.
    pub fn log(&self, step: &str, detail: &str) {
        if self.verbose {
            let ms = start().elapsed().as_secs_f64() * 1e3;
            eprintln!("sandbox: {step}: {detail} [{ms:.3} ms]");
        }
    }
}

impl Ctx<'_> {
    /// [`Ctx::log`], the line made only when it is printed: for the steps a
    /// run repeats many times (one per mount, one per landlock rule).
    pub fn log_with(&self, step: &str, detail: impl FnOnce() -> String) {
        if self.verbose {
            self.log(step, &detail());
        }
    }
}

/// When launch began; set by [`begin`].
static START: OnceLock<Instant> = OnceLock::new();

fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Marks the start of a launch, for the times of `-v` (only when verbose).
pub fn begin(verbose: bool) {
    if verbose {
        start();
    }
}
