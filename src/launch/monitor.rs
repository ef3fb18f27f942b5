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

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use super::error::{Result, SetupError, NOT_EXECUTABLE, NOT_FOUND, SETUP};
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
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled()), Some(&mut old_mask))
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
    if let Err(e) = super::ids::write_maps(pid, ctx.plan.ids, outside_uid, outside_gid) {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(e);
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
    Ok(wait_forwarding(child))
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
    let set = handled();
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

/// Everything execve needs, converted before clone so that a bad argument is
/// an error with nothing started.
pub struct Exec {
    argv: Vec<CString>,
    envp: Vec<CString>,
    path: Vec<u8>,
}

impl Exec {
    pub(super) fn prepare(ctx: &Ctx) -> Result<Exec> {
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
    pub(super) fn run(&self) -> SetupError {
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

pub(super) fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(err.code as i32)
}

/// pid 1 inside: set up, fork the command, reap, exit with its status.
fn init(ctx: &Ctx, release_r: OwnedFd, report_w: OwnedFd, old_mask: SigSet, exec: Exec) -> ! {
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
    let held = match super::setup(ctx) {
        Ok(held) => held,
        Err(e) => report(&report_w, &e),
    };
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
            if let Err(e) = super::prepare_command(ctx, old_umask) {
                report(&report_w, &e);
            }
            ctx.log("exec", &escape::os(&ctx.plan.command[0]));
            report(&report_w, &exec.run())
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_w);
            let keep: Vec<i32> = held.locks.iter().map(|l| l.as_raw_fd()).collect();
            let _ = sys::close_all_except(&keep);
            let _ = nix::sys::prctl::set_dumpable(false);
            reap(child)
        }
    }
}

/// init's loop: reap every child; when the command ends, exit with its status.
fn reap(command: Pid) -> ! {
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
            Ok(sig) => {
                let _ = kill(command, sig);
            }
            Err(_) => {}
        }
    }
}
