//! The launch step of the sandbox's own cgroup v2, for `--memory`,
//! `--pids`, `--cpus` and `--io-weight`: where the limits go is decided
//! before clone, init is put under them right after.
//!
//! A delegated subtree first ([`crate::cgroup::delegated`]: made now,
//! removed when dropped); otherwise a scope of the systemd user manager
//! ([`crate::cgroup::systemd`], made once init exists). When neither works
//! the run is refused with the reason and the fix, or, with best effort,
//! runs without the limits after a warning. The decisions and the
//! mechanics live in [`crate::cgroup`], which `sandbox check` shares; this
//! is what depends on the run (its plan, init's pid, its errors).

use crate::cgroup::delegated::{create, Delegated};
use crate::cgroup::{self as cg, systemd, DELEGATE_FIX};
use crate::launch::error::{Result, SetupError};
use crate::launch::Ctx;
use crate::plan::limits::CgroupLimits;

/// Where the sandbox's limits live.
pub enum Cgroup {
    Delegated(Delegated<'static>),
    /// A scope of the systemd user manager, made once init exists.
    Systemd(CgroupLimits),
}

/// Decides where the limits go, and makes the delegated cgroup now.
pub fn prepare(ctx: &Ctx) -> Result<Option<Cgroup>> {
    let limits = ctx.plan.limits.cgroup;
    if !limits.any() {
        return Ok(None);
    }
    let pid = std::process::id();
    let made = cg::own_dir().and_then(|dir| create(&cg::RealFs, &dir, pid, &limits));
    let refusal = match made {
        Ok(d) => {
            ctx.log("cgroup", &d.dir().map(|p| p.display().to_string()).unwrap_or_default());
            return Ok(Some(Cgroup::Delegated(d)));
        }
        Err(r) => r,
    };
    match systemd::manager_controllers() {
        Ok(have) => match cg::assess_manager(&have, &limits.controllers()) {
            Ok(()) => {
                ctx.log("cgroup", &format!("{}; asking the systemd user manager", refusal.why));
                Ok(Some(Cgroup::Systemd(limits)))
            }
            Err(m) => refuse(ctx, format!("{}; {}", refusal.why, m.why), &m.fix).map(|()| None),
        },
        Err(e) => {
            let why = format!("{}; no systemd user manager to ask either ({e})", refusal.why);
            refuse(ctx, why, &refusal.fix).map(|()| None)
        }
    }
}

/// The error that fails closed, or under best effort the warning.
fn refuse(ctx: &Ctx, why: String, fix: &str) -> Result<()> {
    let flags = ctx.plan.limits.cgroup.flags().join(" ");
    if ctx.plan.best_effort {
        eprintln!("sandbox: warning: running without {flags} (best effort): {why}");
        return Ok(());
    }
    Err(SetupError::new(format!("cgroup limits ({flags})"), why)
        .hint(format!("{fix}; or drop {flags}, or add --best-effort to run without them")))
}

impl Cgroup {
    /// Puts init (held before its release) under the limits.
    pub fn attach(&self, ctx: &Ctx, init: u32) -> Result<()> {
        match self {
            Cgroup::Delegated(d) => d.attach(init).map_err(|e| SetupError::new("cgroup", e)),
            Cgroup::Systemd(limits) => match systemd::start_scope(init, limits) {
                Ok(unit) => {
                    ctx.log("cgroup", &format!("systemd scope {unit}"));
                    Ok(())
                }
                Err(e) => refuse(ctx, e, DELEGATE_FIX),
            },
        }
    }

    /// Freezes or thaws the whole sandbox (cgroup.freeze) if this cgroup can;
    /// false when the caller must stop it with signals instead.
    pub fn freeze(&self, frozen: bool) -> bool {
        match self {
            Cgroup::Delegated(d) => d.freeze(frozen),
            Cgroup::Systemd(_) => false,
        }
    }

    /// How many processes the kernel's OOM killer took in the sandbox, where
    /// its cgroup is still there to ask at the end (a delegated one; systemd
    /// 252 stops a scope at its first OOM kill and logs it itself).
    pub fn oom_kills(&self) -> u64 {
        match self {
            Cgroup::Delegated(d) => d.oom_kills(),
            Cgroup::Systemd(_) => 0,
        }
    }
}
