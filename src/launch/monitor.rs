//! The three processes of a run and how they talk.
//!
//! ```text
//! monitor (caller's namespaces) ── clone(NEWUSER|NEWNS|NEWPID|…) ──► init (pid 1 inside)
//!   makes the sandbox's cgroup (if limits ask for one) and its pty socket
//!   writes uid/gid maps, moves init into the cgroup, starts the user-mode
//!   network (pasta, slirp4netns) and waits until it is ready, then
//!   releases init (one byte on `release`, whose write end it holds open
//!   for its whole life), then runs the loop of supervise.rs: setup
//!   report, signals, time-out, terminal relay, status fd
//!   exits with init's status, which is the command's (124 after a time-out)
//! init: PDEATHSIG, waits for release, builds the file system, hostname,
//!   loopback, opens the pty, forks the command, then reaps everything and
//!   exits with the command's status, which it also writes on `ended`
//!   (the kernel then kills whatever the command left)
//! command: setsid, pty, cwd, capabilities, no_new_privs, fds, landlock,
//!   limits, seccomp, execve
//! ```
//!
//! In landlock-only mode (`--mode landlock`, or `--best-effort` where user
//! namespaces are refused) there is no clone and no init: see `direct.rs`.
//! What the monitor makes before it forks ([`Launch`]) and its loop are the
//! same on both paths.
//!
//! The pipes are close-on-exec: a setup failure anywhere inside travels to
//! the monitor as one [`SetupError`]; a successful execve closes the last
//! write end of `report` and the monitor reads EOF.
//!
//! Signals: the monitor and init block the signals they handle and take them
//! from a signalfd or with sigwait (no handlers, no async-signal-safety
//! concerns); pid 1 of a pid namespace would otherwise ignore every signal
//! it has no handler for. init passes INT TERM HUP QUIT USR1 USR2 WINCH ALRM
//! on to the command; SIGTSTP and SIGCONT stop and continue every process
//! inside.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use super::cgroup::Cgroup;
use super::error::{Result, SetupError, SETUP};
use super::exec::{report, Exec};
use super::supervise;
use super::timeout::Timeout;
use super::usernet::UserNet;
use super::{status, sys, tty, Ctx};
use crate::escape;
use crate::plan::landlock::Mode;

/// Signals passed on to the command.
const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
];

/// The signals the monitor and init block and take from a signalfd or
/// with sigwait.
pub(super) fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGTSTP, Signal::SIGCONT].into_iter().chain(FORWARDED) {
        set.add(s);
    }
    set
}

fn clone_flags(ctx: &Ctx) -> libc::c_int {
    let ns = &ctx.plan.namespaces;
    let mut flags = libc::CLONE_NEWNS;
    for (on, flag) in [
        (ns.user, libc::CLONE_NEWUSER),
        (ns.pid, libc::CLONE_NEWPID),
        (ns.ipc, libc::CLONE_NEWIPC),
        (ns.uts, libc::CLONE_NEWUTS),
        (ns.net, libc::CLONE_NEWNET),
        (ns.cgroup, libc::CLONE_NEWCGROUP),
    ] {
        if on {
            flags |= flag;
        }
    }
    flags
}

/// What the monitor makes before it forks, on either path.
pub(super) struct Launch {
    pub exec: Exec,
    pub reporter: status::Reporter,
    pub cgroup: Option<Cgroup>,
    pub tty: Option<tty::Outside>,
    pub timeout: Timeout,
}

/// The ends of the pipes init keeps, and what it does with them.
struct InitSide {
    release_r: OwnedFd,
    report_w: OwnedFd,
    ended_w: OwnedFd,
    tty: Option<tty::Outside>,
    /// Its own cgroup namespace, made once init is in the sandbox's cgroup.
    unshare_cgroup: bool,
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))
}

/// Runs the plan; returns the exit status for the caller.
pub fn start(ctx: &Ctx) -> Result<u8> {
    let started = Instant::now();
    for &fd in &ctx.plan.process.keep_fds {
        if !sys::fd_is_open(fd) {
            return Err(SetupError::errno(format!("--keep-fd {fd}"), Errno::EBADF));
        }
    }
    let exec = Exec::prepare(ctx)?;
    // Fail closed before anything starts: a landlock rule this kernel lacks
    // is refused here, or listed in the best-effort warning.
    let mut warnings = super::landlock::precheck(ctx)?;
    if ctx.plan.mode == Mode::Landlock {
        warnings.extend(super::direct::check(ctx)?);
    }
    super::direct::warn(&warnings);
    let reporter = status::Reporter::new(ctx)?;
    let cgroup = super::cgroup::prepare(ctx)?;
    let tty = tty::prepare(ctx)?;
    let limits = &ctx.plan.limits;
    let timeout = Timeout::new(started, limits.timeout_ms, limits.kill_after_ms);
    let launch = Launch { exec, reporter, cgroup, tty, timeout };
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled()), Some(&mut old_mask))
        .map_err(|e| SetupError::errno("block signals", e))?;
    if ctx.plan.mode == Mode::Landlock {
        return super::direct::start(ctx, launch, old_mask);
    }
    namespaced(ctx, launch, old_mask)
}

/// clone into the namespaces, release init, supervise.
fn namespaced(ctx: &Ctx, launch: Launch, old_mask: SigSet) -> Result<u8> {
    let ((release_r, release_w), (report_r, report_w), (ended_r, ended_w)) = (pipe()?, pipe()?, pipe()?);
    let mut flags = clone_flags(ctx);
    if launch.cgroup.is_some() {
        // init makes its cgroup namespace once it is in the sandbox's cgroup.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    ctx.log("clone", &format!("namespaces {flags:#x}"));
    let pid = match sys::clone_fork(flags) {
        Ok(pid) => pid,
        Err(e) if ctx.plan.best_effort && ctx.plan.landlock.enabled && super::direct::refused(e) => {
            drop((release_r, release_w, report_r, report_w, ended_r, ended_w));
            return super::direct::fallback(ctx, launch, old_mask, e);
        }
        Err(e) => return Err(super::ids::clone_error(e)),
    };
    let Launch { exec, mut reporter, cgroup, tty, timeout } = launch;
    if pid == 0 {
        drop((release_w, report_r, ended_r));
        let unshare_cgroup = cgroup.is_some() && ctx.plan.namespaces.cgroup;
        // Removing the cgroup and the pid file is the monitor's job, never init's.
        std::mem::forget((cgroup, reporter));
        init(ctx, InitSide { release_r, report_w, ended_w, tty, unshare_cgroup }, old_mask, exec);
    }
    drop((release_r, report_w, ended_w));
    let child = Pid::from_raw(pid);
    let net = release(ctx, child, cgroup.as_ref(), &mut reporter, &release_w)?;
    let run = supervise::Run {
        ctx,
        init: child,
        direct: false,
        _alive: release_w,
        _net: net,
        report: Some(report_r),
        ended: Some(ended_r),
        tty: tty.map(tty::Outside::monitor_side),
        cgroup,
        reporter,
        timeout,
    };
    supervise::supervise(run, &handled())
}

/// After clone: the id maps, the cgroup, the user-mode network (returned:
/// it stops when dropped), what the status fd needs of init while it can
/// still be inspected; then init may go on.
fn release(
    ctx: &Ctx,
    child: Pid,
    cgroup: Option<&Cgroup>,
    reporter: &mut status::Reporter,
    release_w: &OwnedFd,
) -> Result<Option<UserNet>> {
    let abort = |e: SetupError| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        e
    };
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    let ids = ctx.plan.ids;
    ctx.log("uid map", &format!("uid {} -> {uid}, gid {} -> {gid}", ids.uid, ids.gid));
    ctx.pause("before-maps");
    super::ids::write_maps(child.as_raw(), ids, uid, gid).map_err(abort)?;
    if let Some(cg) = cgroup {
        cg.attach(ctx, child.as_raw() as u32).map_err(abort)?;
    }
    // The user-mode network (if any) is up before the command starts.
    let net = super::usernet::start(ctx, child.as_raw()).map_err(abort)?;
    reporter.namespaces(ctx, child.as_raw() as u32);
    // From here on nothing in the sandbox may ptrace or read the monitor.
    let _ = nix::sys::prctl::set_dumpable(false);
    if nix::unistd::write(release_w, b"1") != Ok(1) {
        let _ = waitpid(child, None);
        return Err(SetupError::new("start the sandbox", "it ended before setup"));
    }
    Ok(net)
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
pub(super) fn wait_for_release(ctx: &Ctx, release_r: OwnedFd) {
    let die = ctx.plan.process.die_with_parent;
    if die {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(release_r.as_raw_fd(), &mut byte), Ok(1)) {
        sys::exit_now(SETUP as i32);
    }
    if die && sys::hung_up(&release_r) {
        sys::exit_now(SETUP as i32);
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
fn init(ctx: &Ctx, side: InitSide, old_mask: SigSet, exec: Exec) -> ! {
    let InitSide { release_r, report_w, ended_w, tty, unshare_cgroup } = side;
    wait_for_release(ctx, release_r);
    if unshare_cgroup {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
            report(&report_w, &SetupError::errno("cgroup namespace", e));
        }
    }
    let old_umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let held = match super::setup(ctx) {
        Ok(held) => held,
        Err(e) => report(&report_w, &e),
    };
    if let Some(tty) = tty {
        tty.open_inside(ctx);
    }
    if !ctx.plan.namespaces.pid {
        // Without a pid namespace, orphans of the command come back to init.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    // SAFETY: the process is single-threaded (it is a clone of the
    // single-threaded monitor), so fork cannot leave a lock held.
    match unsafe { nix::unistd::fork() } {
        Err(e) => report(&report_w, &SetupError::errno("fork the command", e)),
        Ok(ForkResult::Child) => {
            command_signals(&old_mask);
            if let Err(e) = super::prepare_command(ctx, old_umask) {
                report(&report_w, &e);
            }
            ctx.log("exec", &escape::os(&ctx.plan.command[0]));
            report(&report_w, &exec.run())
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            // Everything but the persist-state locks and `ended` is closed.
            let mut keep: Vec<i32> = held.locks.iter().map(|l| l.as_raw_fd()).collect();
            keep.push(ended_w.as_raw_fd());
            let _ = sys::close_all_except(&keep);
            let _ = nix::sys::prctl::set_dumpable(false);
            reap(ctx, child, &ended_w)
        }
    }
}

/// Every process inside gets `sig` (SIGSTOP, SIGCONT): with a pid namespace
/// of its own that is kill(-1), which spares init; without one, the command.
fn all_inside(ctx: &Ctx, command: Pid, sig: Signal) {
    let target = if ctx.plan.namespaces.pid { Pid::from_raw(-1) } else { command };
    let _ = kill(target, sig);
}

/// init's loop: reap every child; when the command ends, write how on
/// `ended` and exit with its status.
fn reap(ctx: &Ctx, command: Pid, ended: &OwnedFd) -> ! {
    let set = handled();
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
                let code = if last[0] == b's' { 128u8.wrapping_add(last[1]) } else { last[1] };
                sys::exit_now(code as i32);
            },
            Ok(Signal::SIGTSTP) => all_inside(ctx, command, Signal::SIGSTOP),
            Ok(Signal::SIGCONT) => all_inside(ctx, command, Signal::SIGCONT),
            Ok(sig) => {
                let _ = kill(command, sig);
            }
            Err(_) => {}
        }
    }
}
