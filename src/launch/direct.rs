//! Landlock-only mode: the monitor forks the command directly, without
//! namespaces.
//!
//! ```text
//! monitor (caller's namespaces) ── fork ──► command
//!   reads `report` until EOF           PDEATHSIG (checked after set), then the
//!   forwards signals to the command    command steps: setsid, cwd, capabilities
//!   exits with its status              (only if held), no_new_privs, fds,
//!                                      landlock, seccomp, execve
//! ```
//!
//! There is no init and no file system to build: the command runs on the
//! host's own file system, which landlock confines (`plan::landlock::only`
//! says how each operation of the Plan is carried over). Setup steps that
//! need namespaces (INIT_STEPS: host name, loopback) do not run.
//!
//! Used with `--mode landlock`, and with `--best-effort` when the kernel
//! refuses to create a user namespace (the sysctls, AppArmor's restriction
//! on Ubuntu 23.10+, a parent namespace whose max_user_namespaces is 0).

use std::io::Read;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;

use super::error::{Result, SetupError, SETUP};
use super::landlock::RealHost;
use super::monitor::{report, wait_forwarding, Exec};
use super::{sys, Ctx};
use crate::plan::landlock::{only, Mode};

/// Whether a failed clone means "user namespaces are refused here".
pub fn refused(e: Errno) -> bool {
    matches!(e, Errno::EPERM | Errno::EACCES | Errno::ENOSPC | Errno::EINVAL | Errno::EUSERS)
}

/// What landlock-only mode changes about the plan: refuses what cannot be
/// carried over (unless best effort); returns, for the warning, everything
/// that differs from the plan when best effort is on.
pub fn check(ctx: &Ctx) -> Result<Vec<String>> {
    let a = only::adapt(ctx.plan, &RealHost);
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
pub fn fallback(ctx: &Ctx, exec: Exec, old_mask: SigSet, e: Errno) -> Result<u8> {
    let mut plan = ctx.plan.clone();
    plan.mode = Mode::Landlock;
    plan.process.hostname = None;
    let filters = ctx.filters.for_plan(&plan)?;
    let ctx = Ctx { plan: &plan, verbose: ctx.verbose, filters: &filters, pause_at: ctx.pause_at };
    let mut items = vec![format!(
        "user namespaces are refused here ({}): running in landlock-only mode (--best-effort)",
        super::error::strerror(e)
    )];
    items.extend(super::landlock::precheck(&ctx)?);
    items.extend(check(&ctx)?);
    warn(&items);
    start(&ctx, exec, old_mask)
}

/// Forks and runs the command; returns its exit status. The caller has
/// blocked the forwarded signals (`old_mask` is the mask to restore).
pub fn start(ctx: &Ctx, exec: Exec, old_mask: SigSet) -> Result<u8> {
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))?;
    let monitor = nix::unistd::getpid();
    let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(umask);
    ctx.log("fork", "landlock-only mode: no namespaces");
    // SAFETY: the monitor is single-threaded, so fork cannot leave a lock held.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SetupError::errno("fork the command", e)),
        Ok(ForkResult::Child) => {
            drop(report_r);
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            if ctx.plan.process.die_with_parent {
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                // Checked after set: the monitor may have died in between.
                if nix::unistd::getppid() != monitor {
                    sys::exit_now(SETUP as i32);
                }
            }
            if let Err(e) = super::prepare_command(ctx, umask) {
                report(&report_w, &e);
            }
            ctx.log("exec", &crate::escape::os(&ctx.plan.command[0]));
            report(&report_w, &exec.run())
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            let mut buf = Vec::new();
            let _ = std::fs::File::from(report_r).read_to_end(&mut buf);
            if !buf.is_empty() {
                let err =
                    SetupError::decode(&buf).unwrap_or_else(|| SetupError::new("setup", "garbled report"));
                let _ = kill(child, Signal::SIGKILL);
                let _ = waitpid(child, None);
                return Err(err);
            }
            let _ = nix::sys::prctl::set_dumpable(false);
            Ok(wait_forwarding(child))
        }
    }
}
