//! The three processes of a run and how they talk.
//!
//! ```text
//! monitor (caller's namespaces) ── clone(NEWUSER|NEWNS|NEWPID|…) ──► init (pid 1 inside)
//!   makes the sandbox's cgroup (if limits ask for one) and its pty socket
//!   writes uid/gid maps, moves init into the cgroup, then releases init
//!   (one byte on `release`), then runs the loop of supervise.rs: setup
//!   report, signals, time-out, terminal relay, status fd
//!   exits with init's status, which is the command's (124 after a time-out)
//! init: PDEATHSIG, waits for release, builds the file system, hostname,
//!   loopback, opens the pty, forks the command, then reaps everything and
//!   exits with the command's status, which it also writes on `ended`
//!   (the kernel then kills whatever the command left)
//! command: setsid, pty, cwd, limits, capabilities, no_new_privs, fds, execve
//! ```
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

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use super::error::{Result, SetupError, NOT_EXECUTABLE, NOT_FOUND, SETUP};
use super::supervise;
use super::timeout::Timeout;
use super::{status, sys, tty, Ctx};
use crate::escape;

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

fn handled() -> SigSet {
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

/// The ends of the pipes init keeps, and what it does with them.
struct InitSide {
    release_r: OwnedFd,
    report_w: OwnedFd,
    ended_w: OwnedFd,
    tty: Option<tty::Outside>,
    /// Its own cgroup namespace, made once init is in the sandbox's cgroup.
    unshare_cgroup: bool,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))
}

/// Runs the plan; returns the exit status for the caller.
pub fn start(ctx: &Ctx) -> Result<u8> {
    let started = std::time::Instant::now();
    for &fd in &ctx.plan.process.keep_fds {
        if !sys::fd_is_open(fd) {
            return Err(SetupError::errno(format!("--keep-fd {fd}"), Errno::EBADF));
        }
    }
    let mut reporter = status::Reporter::new(ctx)?;
    let exec = Exec::prepare(ctx)?;
    let cgroup = super::cgroup::prepare(ctx)?;
    let tty = tty::prepare(ctx)?;
    let ((release_r, release_w), (report_r, report_w), (ended_r, ended_w)) = (pipe()?, pipe()?, pipe()?);
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled()), Some(&mut old_mask))
        .map_err(|e| SetupError::errno("block signals", e))?;

    let mut flags = clone_flags(ctx);
    if cgroup.is_some() {
        // init makes its cgroup namespace once it is in the sandbox's cgroup.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    ctx.log("clone", &format!("namespaces {flags:#x}"));
    let pid = sys::clone_fork(flags).map_err(super::ids::clone_error)?;
    if pid == 0 {
        drop((release_w, report_r, ended_r));
        let unshare_cgroup = cgroup.is_some() && ctx.plan.namespaces.cgroup;
        // Removing the cgroup is the monitor's job, never init's.
        std::mem::forget(cgroup);
        init(ctx, InitSide { release_r, report_w, ended_w, tty, unshare_cgroup }, old_mask, exec);
    }
    drop((release_r, report_w, ended_w));
    let child = Pid::from_raw(pid);
    release(ctx, child, cgroup.as_ref(), &mut reporter, release_w)?;
    let limits = &ctx.plan.limits;
    let run = supervise::Run {
        ctx,
        init: child,
        report: Some(report_r),
        ended: ended_r,
        tty: tty.map(tty::Outside::monitor_side),
        cgroup,
        reporter,
        timeout: Timeout::new(started, limits.timeout_ms, limits.kill_after_ms),
    };
    supervise::supervise(run, &handled())
}

/// After clone: the id maps, the cgroup, what the status fd needs of init
/// while it can still be inspected; then init may go on.
fn release(
    ctx: &Ctx,
    child: Pid,
    cgroup: Option<&super::cgroup::Cgroup>,
    reporter: &mut status::Reporter,
    release_w: OwnedFd,
) -> Result<()> {
    let abort = |e: SetupError| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        e
    };
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    let ids = ctx.plan.ids;
    ctx.log("uid map", &format!("uid {} -> {uid}, gid {} -> {gid}", ids.uid, ids.gid));
    super::ids::write_maps(child.as_raw(), ids, uid, gid).map_err(abort)?;
    if let Some(cg) = cgroup {
        cg.attach(ctx, child.as_raw() as u32).map_err(abort)?;
    }
    reporter.namespaces(ctx, child.as_raw() as u32);
    // From here on nothing in the sandbox may ptrace or read the monitor.
    let _ = nix::sys::prctl::set_dumpable(false);
    if std::fs::File::from(release_w).write_all(b"1").is_err() {
        let _ = waitpid(child, None);
        return Err(SetupError::new("start the sandbox", "it ended before setup"));
    }
    Ok(())
}

/// Everything execve needs, converted before clone so that a bad argument is
/// an error with nothing started.
pub struct Exec {
    argv: Vec<CString>,
    envp: Vec<CString>,
    path: Vec<u8>,
}

impl Exec {
    fn prepare(ctx: &Ctx) -> Result<Exec> {
        let nul = |what: &str| SetupError::new(what.to_string(), "contains a NUL byte");
        let argv = ctx
            .plan
            .command
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| nul("command argument")))
            .collect::<Result<Vec<_>>>()?;
        if argv.is_empty() {
            return Err(SetupError::new("command", "none given"));
        }
        let mut path = b"/usr/local/bin:/usr/bin:/bin".to_vec();
        let mut envp = Vec::new();
        for v in &ctx.plan.env {
            if v.name == "PATH" {
                path = v.value.as_bytes().to_vec();
            }
            let mut kv = v.name.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend(v.value.as_bytes());
            envp.push(CString::new(kv).map_err(|_| nul("environment variable"))?);
        }
        Ok(Exec { argv, envp, path })
    }

    /// execve, searching PATH like execvp when the command has no `/`.
    fn run(&self) -> SetupError {
        let cmd = self.argv[0].as_bytes();
        let shown = escape::bytes(cmd);
        if cmd.contains(&b'/') {
            let e = self.execve(&self.argv[0]);
            let code = if e == Errno::ENOENT { NOT_FOUND } else { NOT_EXECUTABLE };
            return SetupError::errno(format!("exec {shown}"), e).code(code);
        }
        let mut denied = None;
        for dir in self.path.split(|&b| b == b':') {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend(cmd);
            let Ok(full) = CString::new(full) else { continue };
            match self.execve(&full) {
                Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {}
                Errno::EACCES => denied = Some(Errno::EACCES),
                e => return SetupError::errno(format!("exec {shown}"), e).code(NOT_EXECUTABLE),
            }
        }
        match denied {
            Some(e) => SetupError::errno(format!("exec {shown}"), e).code(NOT_EXECUTABLE),
            None => SetupError::new(format!("exec {shown}"), "command not found")
                .hint(format!(
                    "searched PATH={} inside the sandbox; share the directory it is in with --ro",
                    escape::bytes(&self.path)
                ))
                .code(NOT_FOUND),
        }
    }

    fn execve(&self, file: &CString) -> Errno {
        match nix::unistd::execve(file, &self.argv, &self.envp) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(err.code as i32)
}

/// pid 1 inside: set up, fork the command, reap, exit with its status.
fn init(ctx: &Ctx, side: InitSide, old_mask: SigSet, exec: Exec) -> ! {
    let InitSide { release_r, report_w, ended_w, tty, unshare_cgroup } = side;
    if ctx.plan.process.die_with_parent {
        // Checked after set: if the monitor died before this point, the
        // release pipe reads EOF below and init gives up.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(release_r.as_raw_fd(), &mut byte), Ok(1)) {
        sys::exit_now(SETUP as i32);
    }
    drop(release_r);
    if unshare_cgroup {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
            report(&report_w, &SetupError::errno("cgroup namespace", e));
        }
    }
    let old_umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    if let Err(e) = super::setup(ctx) {
        report(&report_w, &e);
    }
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
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            // Rust's runtime ignores SIGPIPE in sandbox (a status fd or
            // terminal whose reader has gone must not kill the monitor); the
            // command gets the default back, or `yes | head` would complain.
            // SAFETY: SIG_DFL installs no handler code.
            let _ =
                unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
            if let Err(e) = super::prepare_command(ctx, old_umask) {
                report(&report_w, &e);
            }
            ctx.log("exec", &escape::os(&ctx.plan.command[0]));
            report(&report_w, &exec.run())
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            // Everything but `ended`, which moves to fd 3, is closed.
            let ended = nix::unistd::dup2(ended_w.as_raw_fd(), 3).unwrap_or(-1);
            let _ = sys::close_from(4);
            let _ = nix::sys::prctl::set_dumpable(false);
            reap(ctx, child, ended)
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
fn reap(ctx: &Ctx, command: Pid, ended: RawFd) -> ! {
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
                // SAFETY: `ended` is init's own pipe end (or -1: EBADF).
                let _ = nix::unistd::write(unsafe { BorrowedFd::borrow_raw(ended) }, &last);
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
