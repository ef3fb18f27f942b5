//! Landlock-only mode: no namespaces; init is a plain fork of the monitor
//! that forks the command and reaps.
//!
//! ```text
//! monitor (caller's namespaces) ── fork ──► init ── fork ──► command
//!   moves init into the sandbox's    PDEATHSIG, waits   PDEATHSIG (init),
//!   cgroup (if any), releases it;    for release, opens  the command steps:
//!   then the loop of supervise.rs,   the pty, becomes    setsid, pty, cwd,
//!   as with namespaces               the reaper          capabilities (only
//!                                                         if held),
//!                                                         no_new_privs, fds,
//!                                                         landlock, limits,
//!                                                         seccomp, execve
//! ```
//!
//! There is no file system to build: the command runs on the host's own
//! file system, which landlock confines (`plan::landlock::only` says how
//! each operation of the Plan is carried over). Setup steps that need
//! namespaces (the id maps, INIT_STEPS: host name, loopback, the user-mode
//! network) do not run.
//!
//! Without a pid namespace init is the reaper of `init/reaper.rs`, as with
//! `--share pid`: a child subreaper that kills every process the command
//! started when the command ends, when the monitor dies, and for the
//! time-out's SIGKILL; SIGTSTP/SIGCONT stop and continue each of them. The
//! limits work as with namespaces (rlimits, cgroup, time-out, status fd,
//! pid file, the pty); the status fd's first line has no namespace inodes.
//!
//! Used with `--mode landlock`, and with `--best-effort` when the kernel
//! refuses to create a user namespace (the sysctls, AppArmor's restriction
//! on Ubuntu 23.10+, a parent namespace whose max_user_namespaces is 0).

use nix::errno::Errno;
use nix::sys::signal::SigSet;

use super::{clone, Launch};
use crate::launch::command::landlock::{self, KernelHost};
use crate::launch::error::{Result, SetupError};
use crate::launch::Ctx;
use crate::plan::landlock::{only, Mode};

/// Whether a failed clone means "user namespaces are refused here".
pub fn refused(e: Errno) -> bool {
    matches!(e, Errno::EPERM | Errno::EACCES | Errno::ENOSPC | Errno::EINVAL | Errno::EUSERS)
}

/// What landlock-only mode changes about the plan: refuses what cannot be
/// carried over (unless best effort); returns, for the warning, everything
/// that differs from the plan when best effort is on.
pub fn check(ctx: &Ctx) -> Result<Vec<String>> {
    let a = only::adapt(ctx.plan, &KernelHost);
    for line in &a.approximated {
        ctx.log("landlock-only", line);
    }
    if !ctx.plan.best_effort {
        if let Some(first) = a.lost.first() {
            return Err(SetupError::new("landlock-only mode", format!("cannot honour {first}"))
                .hint("--best-effort drops it with a warning"));
        }
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = a.lost.iter().map(|l| format!("dropped {l}")).collect();
    out.extend(a.approximated);
    Ok(out)
}

/// Prints the one warning, if there is anything to say.
pub fn warn(items: &[String]) {
    if !items.is_empty() {
        eprintln!("sandbox: warning: {}", items.join("; "));
    }
}

/// The clone into namespaces failed with `e` and the plan is best effort:
/// run in landlock-only mode instead, saying so.
pub fn fallback(ctx: &Ctx, launch: Launch, old_mask: SigSet, e: Errno) -> Result<u8> {
    let mut plan = ctx.plan.clone();
    plan.mode = Mode::Landlock;
    plan.process.hostname = None;
    let filters = ctx.filters.for_plan(&plan)?;
    let ctx = Ctx {
        plan: &plan,
        verbose: ctx.verbose,
        filters: &filters,
        pause_at: ctx.pause_at,
        dns_floor: ctx.dns_floor,
        egress_fault: ctx.egress_fault,
        caller: ctx.caller,
    };
    let mut items = vec![format!(
        "user namespaces are refused here ({}): running in landlock-only mode (--best-effort)",
        crate::launch::error::strerror(e)
    )];
    items.extend(landlock::precheck(&ctx)?);
    items.extend(check(&ctx)?);
    warn(&items);
    clone::clone_init(&ctx, launch, old_mask)
}
