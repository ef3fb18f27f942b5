//! init (pid 1 inside) and the command's process, from the release to
//! execve; the monitor's side is in `monitor.rs`.
//!
//! init: PDEATHSIG, waits for release, builds the file system, hostname,
//! loopback, opens the pty, forks the command, then reaps everything and
//! exits with the command's status, which it also writes on `ended`.
//!
//! Where the command shares the host's processes (`--share pid`), init is
//! also the reaper that ends everything the command started (`reaper.rs`).
//! In landlock-only mode init is only that: a plain fork of the monitor,
//! with no namespaces and no file system to build, between the monitor and
//! the command.
//!
//! In bwrap mode bubblewrap's steps come in between (see `bwrap.rs`): the
//! nested user namespace and the lock files after the file system, the
//! command as pid 1 itself with `--as-pid-1`, init without capabilities and
//! under the caller's seccomp programs, passing no signal on; and in the
//! command `--block-fd`, the ids inside a joined user namespace, the cwd
//! fallback and `PWD`, `--exec-label`.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode as Umask;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use super::error::{Result, SetupError, SETUP};
use super::exec::{report, Exec};
use super::monitor::handled;
use super::{reaper, sys, tty, Ctx};
use crate::escape;
use crate::plan::landlock::Mode;

/// The ends of the pipes init keeps, and what it does with them.
pub(super) struct InitSide {
    pub release_r: OwnedFd,
    pub report_w: OwnedFd,
    pub ended_w: OwnedFd,
    pub tty: Option<tty::Outside>,
    /// Its own cgroup namespace, made once init is in the sandbox's cgroup.
    pub unshare_cgroup: bool,
}

/// In the released process (init, or the command in landlock-only mode),
/// first: PDEATHSIG, then the wait for the release byte; exits if the
/// monitor has gone.
///
/// A PDEATHSIG set after the monitor died never fires, and the monitor may
/// write the byte and be killed before this process has run at all, so the
/// byte alone proves nothing: the monitor holds the write end open for as
/// long as it lives (`supervise::Run::_alive`), and a hang-up after the
/// byte means it is gone. Its files are closed before its children are
/// told of its death, so no moment escapes both checks.
pub(super) fn wait_for_release(ctx: &Ctx, release_r: &OwnedFd) {
    let die = ctx.plan.process.die_with_parent;
    if die {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(release_r.as_raw_fd(), &mut byte), Ok(1)) {
        sys::exit_now(SETUP as i32);
    }
    if die && sys::hung_up(release_r) {
        sys::exit_now(SETUP as i32);
    }
}

/// The signals init blocks and takes with sigwait.
fn init_signals() -> SigSet {
    let mut set = handled();
    set.add(reaper::END);
    set
}

/// The host's /proc for the reaper, opened before the mounts may hide it;
/// none when init is not the reaper.
fn reaper_proc(ctx: &Ctx, report_w: &OwnedFd) -> Option<OwnedFd> {
    if !reaper::is_reaper(ctx) {
        return None;
    }
    match reaper::open_proc() {
        Some(fd) => Some(fd),
        None => report(report_w, &SetupError::errno("reaper: open /proc", nix::errno::Errno::last())),
    }
}

/// The reaper, just before it forks the command: the monitor's death now
/// sends [`reaper::END`], which ends everything, instead of SIGKILL, which
/// ended init alone (the checks of [`wait_for_release`] once more, since
/// the monitor may have died before the change).
fn become_reaper(ctx: &Ctx, release_r: &OwnedFd) {
    let _ = nix::sys::prctl::set_child_subreaper(true);
    if ctx.plan.process.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(reaper::END);
        if sys::hung_up(release_r) {
            sys::exit_now(SETUP as i32);
        }
    }
}

/// In the command's process, first: the signal mask and dispositions the
/// command starts with.
pub(super) fn command_signals(old_mask: &SigSet) {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old_mask), None);
    // Rust's runtime ignores SIGPIPE in sandbox (a status fd or terminal
    // whose reader has gone must not kill the monitor); the command gets the
    // default back, or `yes | head` would complain.
    // SAFETY: SIG_DFL installs no handler code.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
}

/// pid 1 inside: set up, fork the command, reap, exit with its status.
pub(super) fn init(ctx: &Ctx, side: InitSide, old_mask: SigSet, mut exec: Exec) -> ! {
    let InitSide { release_r, report_w, ended_w, tty, unshare_cgroup } = side;
    // In bwrap mode the monitor left these unblocked; init never dies of them.
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&init_signals()), None);
    let proc = reaper_proc(ctx, &report_w);
    wait_for_release(ctx, &release_r);
    if unshare_cgroup {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
            report(&report_w, &SetupError::errno("cgroup namespace", e));
        }
    }
    let old_umask = nix::sys::stat::umask(Umask::empty());
    let bw = ctx.plan.bwrap.as_ref();
    let proc_fd = match bw.map(|b| super::bwrap::open_proc(ctx, b)).transpose() {
        Ok(fd) => fd.flatten(),
        Err(e) => report(&report_w, &e),
    };
    let held = match ctx.plan.mode {
        Mode::Landlock => super::Held { locks: Vec::new() },
        Mode::Namespaces => super::setup(ctx).unwrap_or_else(|e| report(&report_w, &e)),
    };
    let bwrap_locks = match bw.map(|b| super::bwrap::after_setup(ctx, b, proc_fd.as_ref())).transpose() {
        Ok(locks) => locks.unwrap_or_default(),
        Err(e) => report(&report_w, &e),
    };
    if let Some(tty) = tty {
        tty.open_inside(ctx);
    }
    if bw.is_some_and(|b| b.as_pid_1) {
        command(ctx, &report_w, &old_mask, old_umask, &mut exec, None)
    }
    if !ctx.plan.namespaces.pid {
        // Without a pid namespace, orphans of the command come back to init.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    if proc.is_some() {
        become_reaper(ctx, &release_r);
    }
    drop(release_r);
    let reaper = proc.as_ref().map(|_| Pid::this());
    // Everything but the persist-state locks, `ended`, the reaper's /proc
    // and what bubblewrap's pid 1 holds (lock files, sync fd) is closed
    // once the command is forked.
    let mut keep: Vec<i32> = held.locks.iter().map(|l| l.as_raw_fd()).collect();
    keep.push(ended_w.as_raw_fd());
    keep.extend(proc.iter().map(|p| p.as_raw_fd()));
    keep.extend(bwrap_locks.iter().map(|l| l.as_raw_fd()));
    keep.extend(bw.map(super::bwrap::init_keeps).unwrap_or_default());
    // SAFETY: the process is single-threaded (it is a clone of the
    // single-threaded monitor), so fork cannot leave a lock held.
    match unsafe { nix::unistd::fork() } {
        Err(e) => report(&report_w, &SetupError::errno("fork the command", e)),
        Ok(ForkResult::Child) => command(ctx, &report_w, &old_mask, old_umask, &mut exec, reaper),
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            let _ = sys::close_all_except(&keep);
            match bw {
                Some(_) => super::bwrap::become_init(ctx, child),
                None => {
                    let _ = nix::sys::prctl::set_dumpable(false);
                }
            }
            reap(ctx, child, &ended_w, proc.as_ref())
        }
    }
}

/// The command's process: its own setup, then execve. With a `reaper`
/// (init's pid), it dies with init, which ends every other process.
fn command(
    ctx: &Ctx,
    report_w: &OwnedFd,
    old_mask: &SigSet,
    old_umask: Umask,
    exec: &mut Exec,
    reaper: Option<Pid>,
) -> ! {
    if let Some(init) = reaper {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if nix::unistd::getppid() != init {
            sys::exit_now(SETUP as i32);
        }
    }
    command_signals(old_mask);
    if let Err(e) = prepare(ctx, old_umask, exec) {
        report(report_w, &e);
    }
    ctx.log("exec", &escape::os(&ctx.plan.command[0]));
    report(report_w, &exec.run())
}

/// The generic steps, with bubblewrap's own before them in bwrap mode
/// (the seccomp step stays the last of all).
fn prepare(ctx: &Ctx, old_umask: Umask, exec: &mut Exec) -> Result<()> {
    let Some(b) = &ctx.plan.bwrap else {
        return super::prepare_command(ctx, old_umask);
    };
    super::bwrap::before_command(ctx, b)?;
    let pwd = super::bwrap::choose_cwd(ctx, b)?;
    exec.set_env("PWD", &pwd);
    super::bwrap::exec_label(b)?;
    if ctx.plan.process.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    super::prepare_command(ctx, old_umask)
}

/// Every process inside gets `sig` (SIGSTOP, SIGCONT): with a pid namespace
/// of its own that is kill(-1), which spares init; as the reaper, each of
/// init's descendants; otherwise (bwrap mode) the command.
fn all_inside(ctx: &Ctx, command: Pid, sig: Signal, proc: Option<&OwnedFd>) {
    match proc {
        Some(proc) => reaper::signal_all(proc, sig),
        None => {
            let target = if ctx.plan.namespaces.pid { Pid::from_raw(-1) } else { command };
            let _ = kill(target, sig);
        }
    }
}

/// init's loop: reap every child; when the command ends, write how on
/// `ended`, end everything left (as the reaper, with `proc`) and exit with
/// the command's status. [`reaper::END`] ends everything at once. Other
/// signals are passed on to the command, except in bwrap mode (bubblewrap's
/// pid 1 passes nothing on).
fn reap(ctx: &Ctx, command: Pid, ended: &OwnedFd, proc: Option<&OwnedFd>) -> ! {
    let set = init_signals();
    let forward = ctx.plan.bwrap.is_none();
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => loop {
                let last = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(WaitStatus::Exited(pid, code)) if pid == command => [b'e', code as u8],
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => [b's', sig as u8],
                    Ok(_) => continue,
                };
                let _ = nix::unistd::write(ended, &last);
                if let Some(proc) = proc {
                    reaper::end_all(proc);
                }
                let code = if last[0] == b's' { 128u8.wrapping_add(last[1]) } else { last[1] };
                sys::exit_now(code as i32);
            },
            Ok(reaper::END) => {
                if let Some(proc) = proc {
                    reaper::signal_all(proc, Signal::SIGKILL);
                }
            }
            Ok(_) | Err(_) if !forward => {}
            Ok(Signal::SIGTSTP) => all_inside(ctx, command, Signal::SIGSTOP, proc),
            Ok(Signal::SIGCONT) => all_inside(ctx, command, Signal::SIGCONT, proc),
            Ok(sig) => {
                let _ = kill(command, sig);
            }
            Err(_) => {}
        }
    }
}
