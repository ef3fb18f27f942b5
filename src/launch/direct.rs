//! Landlock-only mode: the monitor forks the command directly, without
//! namespaces.
//!
//! ```text
//! monitor (caller's namespaces) ── fork ──► command
//!   moves the command into the         PDEATHSIG, waits for release, opens
//!   sandbox's cgroup (if any), then    the pty (if any), then the command
//!   releases it; then the loop of      steps: setsid, pty, cwd, capabilities
//!   supervise.rs, as with namespaces   (only if held), no_new_privs, fds,
//!   (signals go to the command)        landlock, limits, seccomp, execve
//! ```
//!
//! There is no init and no file system to build: the command runs on the
//! host's own file system, which landlock confines (`plan::landlock::only`
//! says how each operation of the Plan is carried over). Setup steps that
//! need namespaces (INIT_STEPS: host name, loopback) do not run.
//!
//! The limits work as with namespaces (rlimits, cgroup, time-out, status
//! fd, pid file, the pty), with two differences, since there is no init and
//! no pid namespace to end with it: SIGTSTP/SIGCONT (without a cgroup to
//! freeze) and the time-out's SIGKILL reach the command's process group
//! (its own, with a new session), not every process it started; and what
//! the command leaves running when it ends is not killed, unless cgroup
//! limits put it in a cgroup of its own (emptied at the end).
//!
//! Used with `--mode landlock`, and with `--best-effort` when the kernel
//! refuses to create a user namespace (the sysctls, AppArmor's restriction
//! on Ubuntu 23.10+, a parent namespace whose max_user_namespaces is 0).

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

use super::error::{Result, SetupError};
use super::exec::{report, Exec};
use super::init::{command_signals, wait_for_release};
use super::landlock::RealHost;
use super::monitor::{handled, pipe, Launch};
use super::{supervise, tty, Ctx};
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
pub fn fallback(ctx: &Ctx, launch: Launch, old_mask: SigSet, e: Errno) -> Result<u8> {
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
    start(&ctx, launch, old_mask)
}

/// Forks and runs the command; returns its exit status. The caller has
/// blocked the handled signals (`old_mask` is the mask to restore).
pub fn start(ctx: &Ctx, launch: Launch, old_mask: SigSet) -> Result<u8> {
    let ((release_r, release_w), (report_r, report_w)) = (pipe()?, pipe()?);
    let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(umask);
    let Launch { exec, reporter, cgroup, tty, timeout } = launch;
    ctx.log("fork", "landlock-only mode: no namespaces");
    // SAFETY: the monitor is single-threaded, so fork cannot leave a lock held.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SetupError::errno("fork the command", e)),
        Ok(ForkResult::Child) => {
            drop((release_w, report_r));
            // Removing the cgroup and the pid file is the monitor's job.
            std::mem::forget((cgroup, reporter));
            command(ctx, release_r, report_w, tty, exec, &old_mask, umask)
        }
        Ok(ForkResult::Parent { child }) => {
            drop((release_r, report_w));
            if let Some(cg) = &cgroup {
                if let Err(e) = cg.attach(ctx, child.as_raw() as u32) {
                    let _ = kill(child, Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    return Err(e);
                }
            }
            let _ = nix::sys::prctl::set_dumpable(false);
            if nix::unistd::write(&release_w, b"1") != Ok(1) {
                let _ = waitpid(child, None);
                return Err(SetupError::new("start the command", "it ended before setup"));
            }
            let run = supervise::Run {
                ctx,
                init: child,
                direct: true,
                _alive: release_w,
                _net: None,
                report: Some(report_r),
                ended: None,
                tty: tty.map(tty::Outside::monitor_side),
                cgroup,
                reporter,
                timeout,
            };
            supervise::supervise(run, &handled())
        }
    }
}

/// The forked command: waits until the monitor has put it in the cgroup,
/// then its pty, its steps and execve.
fn command(
    ctx: &Ctx,
    release_r: OwnedFd,
    report_w: OwnedFd,
    tty: Option<tty::Outside>,
    exec: Exec,
    old_mask: &SigSet,
    umask: nix::sys::stat::Mode,
) -> ! {
    command_signals(old_mask);
    wait_for_release(ctx, release_r);
    if let Some(tty) = tty {
        tty.open_inside(ctx);
    }
    if let Err(e) = super::prepare_command(ctx, umask) {
        report(&report_w, &e);
    }
    ctx.log("exec", &crate::escape::os(&ctx.plan.command[0]));
    report(&report_w, &exec.run())
}

/// The process group to stop, continue or kill in place of "everything
/// inside": the command's own when it has a session of its own (its pgid
/// is its pid after setsid), else the command alone.
pub fn group(ctx: &Ctx, command: Pid) -> Pid {
    if ctx.plan.process.new_session {
        Pid::from_raw(-command.as_raw())
    } else {
        command
    }
}
