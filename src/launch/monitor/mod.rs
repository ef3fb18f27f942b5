//! The three processes of a run and how they talk.
//!
//! ```text
//! monitor (caller's namespaces) ── clone(NEWUSER|NEWNS|NEWPID|…) ──► init (pid 1 inside)
//!   makes the sandbox's cgroup (if limits ask for one) and its pty socket
//!   writes uid/gid maps, moves init into the cgroup, starts the user-mode
//!   network (pasta, slirp4netns), releases init (one byte on `release`,
//!   whose write end it holds open for its whole life), and once the
//!   network is ready (configured while init builds the root) and, with
//!   --allow-host, its firewall installed and the DNS filter's threads
//!   started, writes a second byte, without which init does not fork the
//!   command; then runs the loop of supervise.rs: setup
//!   report, signals, time-out, terminal relay, status fd
//!   exits with init's status, which is the command's (124 after a time-out)
//! init: PDEATHSIG, waits for release, builds the file system, hostname,
//!   loopback, opens the pty, waits for the network (if any), forks the
//!   command, then reaps everything and
//!   exits with the command's status, which it also writes on `ended`
//!   (the kernel then kills whatever the command left)
//! command: setsid, pty, cwd, capabilities, no_new_privs, fds, landlock,
//!   limits, seccomp, execve
//! ```
//!
//! In landlock-only mode (`--mode landlock`, or `--best-effort` where user
//! namespaces are refused) init is a plain fork with no namespaces and no
//! file system to build: it only reaps, and ends whatever the command
//! leaves (`init/reaper.rs`, as with `--share pid`); see `direct.rs`. What the
//! monitor makes before it forks ([`Launch`]) and its loop are the same on
//! both paths.
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
//!
//! What the Plan says about the process changes only moments of this:
//! user and pid namespaces may be joined before clone (`init/userns.rs`), the id
//! maps may be left to a helper outside (`NsSetup::map_helper_fd`, waited
//! for before the release), an early status line and the info fd are
//! written before the release, and with `Signals::NotForwarded` the monitor
//! takes only SIGCHLD (any other signal has its default effect on it) and
//! init forwards nothing. With `own_tty` off the command gets no pty.
//! init's side of all this is in `init/`.

use std::os::fd::OwnedFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow};

use crate::launch::command::exec::Exec;
use crate::launch::command::{landlock, tty};
use crate::launch::error::{Result, SetupError};
use crate::launch::{hostfile, init, sys, Ctx};
use crate::plan::landlock::Mode;

mod cgroup;
mod clone;
mod desktop;
mod direct;
mod egress;
mod helper;
mod ids;
mod metadata;
mod relay;
mod status;
mod supervise;
mod timeout;
mod usernet;

/// The monitor, before clone. Each step may refuse the run with nothing
/// started; the rest happens around clone (`clone.rs`).
pub fn start(ctx: &Ctx) -> Result<u8> {
    let started = Instant::now();
    check_keep_fds(ctx)?;
    make_dirs(ctx)?; // state directories and caches that do not exist yet
    default_sigchld();
    init::userns::join(ctx)?; // init is then created inside them
    let exec = Exec::prepare(ctx)?; // a bad argument fails here, not after clone
    direct::warn(&precheck(ctx)?); // a confinement this kernel lacks: refused, or warned of
    let reporter = status::Reporter::new(ctx)?; // status fd open, pid file made
    let cgroup = cgroup::prepare(ctx)?; // a delegated cgroup made, or a systemd scope due
                                        // The bus proxy and the nested X server start now, meanwhile the rest;
                                        // ready before clone: their sockets are bound like any other file.
    let mut desktop = desktop::start(ctx, cgroup.is_some())?;
    let tty = tty::prepare(ctx)?; // the pty's socket, if the command gets one
    let timeout = timeout::Timeout::new(started, ctx.plan.limits.timeout_ms, ctx.plan.limits.kill_after_ms);
    let with_helpers = desktop.ready(ctx)?; // the plan with their sockets added
    let ctx = &Ctx { plan: with_helpers.as_ref().unwrap_or(ctx.plan), ..*ctx };
    let old_mask = block_signals(ctx)?;
    clone::clone_init(ctx, Launch { exec, reporter, cgroup, tty, timeout, desktop }, old_mask)
}

/// What the monitor makes before it forks, on either path.
struct Launch {
    exec: Exec,
    reporter: status::Reporter,
    cgroup: Option<cgroup::Cgroup>,
    tty: Option<tty::Outside>,
    timeout: timeout::Timeout,
    /// The desktop helpers, stopped when this is dropped (at the end).
    desktop: desktop::Helpers,
}

fn check_keep_fds(ctx: &Ctx) -> Result<()> {
    for &fd in &ctx.plan.process.keep_fds {
        if !sys::fd_is_open(fd) {
            return Err(SetupError::errno(format!("--keep-fd {fd}"), Errno::EBADF));
        }
    }
    Ok(())
}

/// The host directories the Plan asks for (`--state`, `--caches rw`),
/// made when missing: 0700 with their missing parents, whatever the
/// umask, then opened without following a final symlink and checked to be
/// a directory of the caller's. Each one made is said once, on stderr,
/// since the next runs will find it there.
fn make_dirs(ctx: &Ctx) -> Result<()> {
    for dir in &ctx.plan.root.create_dirs {
        let shown = crate::escape::path(dir);
        let what = || format!("create {shown}");
        if std::fs::symlink_metadata(dir).is_ok() {
            continue;
        }
        hostfile::create_dirs(dir).map_err(|cause| SetupError::new(what(), cause))?;
        hostfile::open_dir(dir).map_err(|cause| SetupError::new(what(), cause))?;
        eprintln!("sandbox: note: created {shown} (0700)");
    }
    Ok(())
}

/// An ignored SIGCHLD, inherited from the caller, would make init vanish
/// unwaited (the kernel reaps it and sends no signal).
fn default_sigchld() {
    // SAFETY: restoring the default disposition installs no handler.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
}

/// Fail closed before anything starts: a landlock rule this kernel lacks
/// is refused here, or listed in the best-effort warning, as is what
/// landlock-only mode cannot carry over.
fn precheck(ctx: &Ctx) -> Result<Vec<String>> {
    let mut warnings = landlock::precheck(ctx)?;
    if ctx.plan.mode == Mode::Landlock {
        warnings.extend(direct::check(ctx)?);
    }
    Ok(warnings)
}

/// Blocks the signals the monitor takes from its signalfd; returns the
/// mask to give back to the command.
fn block_signals(ctx: &Ctx) -> Result<SigSet> {
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&clone::monitor_signals(ctx)),
        Some(&mut old_mask),
    )
    .map_err(|e| SetupError::errno("block signals", e))?;
    Ok(old_mask)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SetupError::errno("pipe", e))
}
