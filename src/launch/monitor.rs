//! The three processes of a run and how they talk.
//!
//! ```text
//! monitor (caller's namespaces) ── clone(NEWUSER|NEWNS|NEWPID|…) ──► init (pid 1 inside)
//!   writes uid/gid maps, starts the user-mode network (pasta, slirp4netns)
//!   and waits until it is ready, then releases init (one byte on `release`)
//!   reads `report` until EOF: empty = the command was exec'd
//!   forwards INT TERM HUP QUIT USR1 USR2 WINCH to init, which passes them on
//!   exits with init's status, which is the command's
//! init: PDEATHSIG, waits for release, builds the file system, hostname,
//!   loopback, forks the command, then reaps everything and exits with the
//!   command's status (the kernel then kills whatever the command left)
//! command: setsid, cwd, capabilities, no_new_privs, fds, landlock, execve
//! ```
//!
//! In landlock-only mode (`--mode landlock`, or `--best-effort` where user
//! namespaces are refused) there is no clone and no init: see `direct.rs`.
//!
//! Both pipes are close-on-exec: a setup failure anywhere inside travels to
//! the monitor as one [`SetupError`]; a successful execve closes the last
//! write end and the monitor reads EOF.
//!
//! Signals: the monitor and init block the signals they handle and take them
//! with sigwait (no handlers, no async-signal-safety concerns); pid 1 of a
//! pid namespace would otherwise ignore every signal it has no handler for.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode as Umask;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use super::error::{Result, SetupError, SETUP};
pub(super) use super::exec::Exec;
use super::{sys, Ctx};
use crate::escape;
use crate::plan::landlock::Mode;

/// Signals passed on to the command.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

fn handled() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
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

/// Runs the plan; returns the exit status for the caller.
pub fn start(ctx: &Ctx) -> Result<u8> {
    for &fd in &ctx.plan.process.keep_fds {
        if !sys::fd_is_open(fd) {
            return Err(SetupError::errno(format!("--keep-fd {fd}"), Errno::EBADF));
        }
    }
    let bw = ctx.plan.bwrap.as_ref();
    if let Some(b) = bw {
        super::bwrap::before_clone(b)?;
    }
    let exec = Exec::prepare(ctx)?;
    // Fail closed before anything starts: a landlock rule this kernel lacks
    // is refused here, or listed in the best-effort warning.
    let mut warnings = super::landlock::precheck(ctx)?;
    if ctx.plan.mode == Mode::Landlock {
        warnings.extend(super::direct::check(ctx)?);
    }
    super::direct::warn(&warnings);
    let (release_r, release_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))?;
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&monitor_signals(ctx)),
        Some(&mut old_mask),
    )
    .map_err(|e| SetupError::errno("block signals", e))?;
    let outside_uid = nix::unistd::getuid().as_raw();
    let outside_gid = nix::unistd::getgid().as_raw();

    if ctx.plan.mode == Mode::Landlock {
        return super::direct::start(ctx, exec, old_mask);
    }
    ctx.log("clone", &format!("namespaces {:#x}", clone_flags(ctx)));
    let pid = match sys::clone_fork(clone_flags(ctx)) {
        Ok(pid) => pid,
        Err(e) if ctx.plan.best_effort && ctx.plan.landlock.enabled && super::direct::refused(e) => {
            return super::direct::fallback(ctx, exec, old_mask, e);
        }
        Err(e) => return Err(super::ids::clone_error(e)),
    };
    if pid == 0 {
        drop(release_w);
        drop(report_r);
        init(ctx, release_r, report_w, old_mask, exec);
    }
    drop(release_r);
    drop(report_w);
    let child = Pid::from_raw(pid);

    ctx.log(
        "uid map",
        &format!("uid {} -> {outside_uid}, gid {} -> {outside_gid}", ctx.plan.ids.uid, ctx.plan.ids.gid),
    );
    ctx.pause("before-maps");
    // A joined user namespace has its maps; with --userns-block-fd a
    // helper outside writes them.
    let helper_maps = bw.is_some_and(|b| b.userns_block_fd.is_some());
    if ctx.plan.namespaces.user && !helper_maps {
        let ids = bw.map(|b| super::bwrap::first_level_ids(ctx, b)).unwrap_or(ctx.plan.ids);
        if let Err(e) = super::ids::write_maps(pid, ids, outside_uid, outside_gid) {
            return Err(kill_with(child, e));
        }
    }
    // The user-mode network (if any) is up before the command starts, and
    // stops when `_net` is dropped, whichever way this function returns.
    let _net = match super::usernet::start(ctx, pid) {
        Ok(net) => net,
        Err(e) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(e);
        }
    };
    // From here on nothing in the sandbox may ptrace or read the monitor.
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Some(b) = bw {
        super::bwrap::started(ctx, b, pid).map_err(|e| kill_with(child, e))?;
    }
    let mut release = std::fs::File::from(release_w);
    if release.write_all(b"1").is_err() {
        return Err(finish_with(child, SetupError::new("start the sandbox", "it ended before setup")));
    }
    // Kept open until the monitor ends: init takes the pipe's hang-up as
    // the sign that the monitor is gone (see `init`).
    let _alive = release;

    let mut report = Vec::new();
    let _ = std::fs::File::from(report_r).read_to_end(&mut report);
    if !report.is_empty() {
        let err = SetupError::decode(&report).unwrap_or_else(|| SetupError::new("setup", "garbled report"));
        return Err(finish_with(child, err));
    }
    let code = wait_on(child, &monitor_signals(ctx));
    if let Some(b) = bw {
        super::bwrap::ended(b, true, code);
    }
    Ok(code)
}

/// The signals the monitor takes with sigwait. bubblewrap's monitor
/// passes nothing on: a signal to it has its default effect (the sandbox
/// lives on unless --die-with-parent), so in bwrap mode only SIGCHLD.
fn monitor_signals(ctx: &Ctx) -> SigSet {
    if ctx.plan.bwrap.is_some() {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set
    } else {
        handled()
    }
}

/// Kills init after a failure in the monitor, so no process is left.
fn kill_with(child: Pid, err: SetupError) -> SetupError {
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
    err
}

/// Waits for init to end after a setup failure, so no process is left.
fn finish_with(child: Pid, err: SetupError) -> SetupError {
    let _ = waitpid(child, None);
    err
}

fn status_code(s: WaitStatus) -> Option<u8> {
    match s {
        WaitStatus::Exited(_, code) => Some(code as u8),
        WaitStatus::Signaled(_, sig, _) => Some(128u8.wrapping_add(sig as u8)),
        _ => None,
    }
}

/// The monitor's loop: pass signals on to init (or, in landlock-only mode,
/// the command) until it exits.
pub(super) fn wait_forwarding(child: Pid) -> u8 {
    wait_on(child, &handled())
}

/// Waits for `child`, passing the other signals of `set` on to it.
fn wait_on(child: Pid, set: &SigSet) -> u8 {
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(s) => {
                    if let Some(code) = status_code(s) {
                        return code;
                    }
                }
                Err(Errno::ECHILD) => return SETUP,
                Err(_) => {}
            },
            Ok(sig) => {
                let _ = kill(child, sig);
            }
            Err(_) => {}
        }
    }
}

pub(super) fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(err.code as i32)
}

/// pid 1 inside: set up, fork the command, reap, exit with its status.
fn init(ctx: &Ctx, release_r: OwnedFd, report_w: OwnedFd, old_mask: SigSet, mut exec: Exec) -> ! {
    // In bwrap mode the monitor left these unblocked; init never dies of them.
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled()), None);
    if ctx.plan.process.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(release_r.as_raw_fd(), &mut byte), Ok(1)) {
        sys::exit_now(SETUP as i32);
    }
    // Checked after set: if the monitor died before PR_SET_PDEATHSIG took
    // (even after it wrote the byte), no signal will ever come. getppid()
    // cannot tell (pid 1 of a new pid namespace sees 0), but the monitor
    // holds the pipe's write end for its whole life: a hang-up means it is
    // gone.
    if ctx.plan.process.die_with_parent && sys::hung_up(&release_r) {
        sys::exit_now(SETUP as i32);
    }
    drop(release_r);
    let old_umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let bw = ctx.plan.bwrap.as_ref();
    let proc_fd = match bw.map(|b| super::bwrap::open_proc(ctx, b)).transpose() {
        Ok(fd) => fd.flatten(),
        Err(e) => report(&report_w, &e),
    };
    let held = match super::setup(ctx) {
        Ok(held) => held,
        Err(e) => report(&report_w, &e),
    };
    let bwrap_locks = match bw.map(|b| super::bwrap::after_setup(ctx, b, proc_fd.as_ref())).transpose() {
        Ok(locks) => locks.unwrap_or_default(),
        Err(e) => report(&report_w, &e),
    };
    if bw.is_some_and(|b| b.as_pid_1) {
        command(ctx, &report_w, &old_mask, old_umask, &mut exec)
    }
    if !ctx.plan.namespaces.pid {
        // Without a pid namespace, orphans of the command come back to init.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    // SAFETY: the process is single-threaded (it is a clone of the
    // single-threaded monitor), so fork cannot leave a lock held.
    match unsafe { nix::unistd::fork() } {
        Err(e) => report(&report_w, &SetupError::errno("fork the command", e)),
        Ok(ForkResult::Child) => command(ctx, &report_w, &old_mask, old_umask, &mut exec),
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            let mut keep: Vec<i32> = held.locks.iter().map(|l| l.as_raw_fd()).collect();
            keep.extend(bwrap_locks.iter().map(|l| l.as_raw_fd()));
            keep.extend(bw.map(super::bwrap::init_keeps).unwrap_or_default());
            let _ = sys::close_all_except(&keep);
            if bw.is_some() {
                super::bwrap::become_init(ctx, child);
            } else {
                let _ = nix::sys::prctl::set_dumpable(false);
            }
            reap(child, bw.is_none())
        }
    }
}

/// The command's process: its own setup, then execve.
fn command(ctx: &Ctx, report_w: &OwnedFd, old_mask: &SigSet, old_umask: Umask, exec: &mut Exec) -> ! {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old_mask), None);
    if let Err(e) = prepare(ctx, old_umask, exec) {
        report(report_w, &e);
    }
    ctx.log("exec", &escape::os(&ctx.plan.command[0]));
    report(report_w, &exec.run())
}

/// The generic steps, with bubblewrap's own around them in bwrap mode
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

/// init's loop: reap every child; when the command ends, exit with its
/// status. Signals init receives are passed on to the command unless in
/// bwrap mode (bubblewrap's pid 1 passes nothing on).
fn reap(command: Pid, forward: bool) -> ! {
    let set = handled();
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(s) if s.pid() == Some(command) => {
                        if let Some(code) = status_code(s) {
                            sys::exit_now(code as i32);
                        }
                    }
                    Ok(_) => {}
                }
            },
            Ok(sig) if forward => {
                let _ = kill(command, sig);
            }
            Ok(_) | Err(_) => {}
        }
    }
}
