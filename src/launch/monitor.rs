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
//! namespaces are refused) init is a plain fork with no namespaces and no
//! file system to build: it only reaps, and ends whatever the command
//! leaves (`reaper.rs`, as with `--share pid`); see `direct.rs`. What the
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
//! A Plan from the bwrap front end runs the same way, with bubblewrap's
//! process options at their moments (see `bwrap.rs`): user and pid
//! namespaces may be joined before clone, the id maps may be left to a
//! helper outside (`--userns-block-fd`), `--info-fd` and the first
//! `--json-status-fd` line come before the release, and, as bubblewrap's
//! monitor and pid 1 pass no signal on, the monitor takes only SIGCHLD
//! (any other signal has its default effect on it) and init forwards
//! nothing. It gets no pty: bubblewrap gives the command the caller's
//! terminal. init's side of all this is in `init.rs`.

use std::os::fd::OwnedFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::cgroup::Cgroup;
use super::error::{Result, SetupError};
use super::exec::Exec;
use super::init::{init, InitSide};
use super::supervise;
use super::timeout::Timeout;
use super::usernet::UserNet;
use super::{status, sys, tty, Ctx};
use crate::plan::landlock::Mode;

/// Signals passed on to the command (not in bwrap mode).
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

/// The signals the monitor takes from its signalfd: bubblewrap's monitor
/// passes nothing on, so in bwrap mode only SIGCHLD (a signal to it has its
/// default effect: the sandbox lives on unless --die-with-parent).
fn monitor_signals(ctx: &Ctx) -> SigSet {
    if ctx.plan.bwrap.is_some() {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set
    } else {
        handled()
    }
}

fn clone_flags(ctx: &Ctx) -> libc::c_int {
    if ctx.plan.mode == Mode::Landlock {
        return 0;
    }
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
    if let Some(b) = &ctx.plan.bwrap {
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
    let reporter = status::Reporter::new(ctx)?;
    let cgroup = super::cgroup::prepare(ctx)?;
    let tty = if ctx.plan.bwrap.is_some() { None } else { tty::prepare(ctx)? };
    let limits = &ctx.plan.limits;
    let timeout = Timeout::new(started, limits.timeout_ms, limits.kill_after_ms);
    let launch = Launch { exec, reporter, cgroup, tty, timeout };
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&monitor_signals(ctx)),
        Some(&mut old_mask),
    )
    .map_err(|e| SetupError::errno("block signals", e))?;
    clone_init(ctx, launch, old_mask)
}

/// clone init into the namespaces (none in landlock-only mode), release
/// it, supervise.
pub(super) fn clone_init(ctx: &Ctx, launch: Launch, old_mask: SigSet) -> Result<u8> {
    let own_ns = ctx.plan.mode == Mode::Namespaces;
    let ((release_r, release_w), (report_r, report_w), (ended_r, ended_w)) = (pipe()?, pipe()?, pipe()?);
    let mut flags = clone_flags(ctx);
    if launch.cgroup.is_some() {
        // init makes its cgroup namespace once it is in the sandbox's cgroup.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    match own_ns {
        true => ctx.log("clone", &format!("namespaces {flags:#x}")),
        false => ctx.log("fork", "landlock-only mode: no namespaces"),
    }
    if super::reaper::is_reaper(ctx) {
        // The second reaper, should init be killed (see reaper.rs).
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let pid = match sys::clone_fork(flags) {
        Ok(pid) => pid,
        Err(e) if !own_ns => return Err(SetupError::errno("fork", e)),
        Err(e) if ctx.plan.best_effort && ctx.plan.landlock.enabled && super::direct::refused(e) => {
            drop((release_r, release_w, report_r, report_w, ended_r, ended_w));
            return super::direct::fallback(ctx, launch, old_mask, e);
        }
        Err(e) => return Err(super::ids::clone_error(e)),
    };
    let Launch { exec, mut reporter, cgroup, tty, timeout } = launch;
    if pid == 0 {
        drop((release_w, report_r, ended_r));
        let unshare_cgroup = cgroup.is_some() && ctx.plan.namespaces.cgroup && own_ns;
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
        _alive: release_w,
        _net: net,
        report: Some(report_r),
        ended: Some(ended_r),
        tty: tty.map(tty::Outside::monitor_side),
        cgroup,
        reporter,
        timeout,
    };
    supervise::supervise(run, &monitor_signals(ctx))
}

/// After clone: the id maps, the cgroup, the user-mode network (returned:
/// it stops when dropped), what the status fd needs of init while it can
/// still be inspected, bubblewrap's reports and waits; then init may go on.
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
    let bw = ctx.plan.bwrap.as_ref();
    let ids = bw.map(|b| super::bwrap::first_level_ids(ctx, b)).unwrap_or(ctx.plan.ids);
    let own_ns = ctx.plan.mode == Mode::Namespaces;
    if own_ns {
        ctx.log("uid map", &format!("uid {} -> {uid}, gid {} -> {gid}", ids.uid, ids.gid));
    }
    ctx.pause("before-maps");
    // A joined user namespace has its maps; with --userns-block-fd a
    // helper outside writes them.
    let helper_maps = bw.is_some_and(|b| b.userns_block_fd.is_some());
    if ctx.plan.namespaces.user && !helper_maps && own_ns {
        super::ids::write_maps(child.as_raw(), ids, uid, gid).map_err(abort)?;
    }
    if let Some(cg) = cgroup {
        cg.attach(ctx, child.as_raw() as u32).map_err(abort)?;
        ctx.pause("cgroup");
    }
    if super::reaper::leaves_group(ctx) {
        let _ = nix::unistd::setpgid(child, child);
    }
    // The user-mode network (if any) is up before the command starts.
    let net = match own_ns {
        true => super::usernet::start(ctx, child.as_raw()).map_err(abort)?,
        false => None,
    };
    if own_ns {
        reporter.namespaces(ctx, child.as_raw() as u32);
    }
    // From here on nothing in the sandbox may ptrace or read the monitor.
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Some(b) = bw {
        super::bwrap::started(ctx, b, child.as_raw(), reporter).map_err(abort)?;
    }
    if nix::unistd::write(release_w, b"1") != Ok(1) {
        let _ = waitpid(child, None);
        return Err(SetupError::new("start the sandbox", "it ended before setup"));
    }
    Ok(net)
}
