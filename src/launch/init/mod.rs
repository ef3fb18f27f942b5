//! init, pid 1 inside, from clone to the fork of the command; the
//! monitor's side is in `monitor/`.
//!
//! init: PDEATHSIG, waits for release, builds the new root (`root/`), runs
//! its steps (host name, loopback), the user namespace after setup, the
//! lock files, opens the pty, forks the command (`command/`), then reaps
//! everything and exits with the command's status, which it also writes
//! on `ended` (`reap.rs`).
//!
//! Where the command shares the host's processes (`--share pid`), init is
//! also the reaper that ends everything the command started (`reaper.rs`).
//! In landlock-only mode init is only that: a plain fork of the monitor,
//! with no namespaces and no file system to build, between the monitor and
//! the command.
//!
//! The Plan's process options act here too: the nested user namespace
//! and the lock files after the file system (`userns.rs`, `locks.rs`); the
//! command as pid 1 itself (`Pid1::Command`); a plain init without
//! capabilities, under the seccomp programs, passing no signal on
//! (`Pid1::PlainInit`, `Signals::NotForwarded`); the sync fd held.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode as Umask;
use nix::unistd::Pid;

use crate::launch::command::exec::report;
use crate::launch::command::{self, confine, tty};
use crate::launch::error::{self, SetupError, SETUP};
use crate::launch::sys::RealSys;
use crate::launch::{root, sys, Ctx};
use crate::plan::landlock::Mode;
use crate::plan::Pid1;

mod locks;
pub mod net;
mod reap;
pub mod reaper;
pub mod userns;

pub use reap::handled;

type Step = fn(&Ctx) -> error::Result<()>;

/// Steps of init once the new root is in place, in order.
const INIT_STEPS: [(&str, Step); 2] = [("hostname", net::hostname), ("loopback", net::loopback)];

/// The ends of the pipes init keeps, and what it does with them.
pub struct InitSide {
    pub release_r: OwnedFd,
    pub report_w: OwnedFd,
    pub ended_w: OwnedFd,
    pub tty: Option<tty::Outside>,
    /// Its own cgroup namespace, made once init is in the sandbox's cgroup.
    pub unshare_cgroup: bool,
}

/// What init holds for the sandbox's life.
struct Held {
    /// Locks on persist state directories.
    locks: Vec<nix::fcntl::Flock<std::fs::File>>,
    /// The plan's lock files, read-locked.
    lock_files: Vec<OwnedFd>,
}

/// pid 1 inside: set up, fork the command, reap, exit with its status.
pub fn init(ctx: &Ctx, side: InitSide, old_mask: SigSet, mut prepared: command::Prepared) -> ! {
    let InitSide { release_r, report_w, ended_w, tty, unshare_cgroup } = side;
    // Without forwarding the monitor left these unblocked; init never dies of them.
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&reap::init_signals()), None);
    let proc = reaper_proc(ctx, &report_w);
    crate::trace::step("init", "cloned");
    wait_for_release(ctx, &release_r);
    crate::trace::step("init", "released");
    let old_umask = nix::sys::stat::umask(Umask::empty());
    let held = set_up(ctx, unshare_cgroup).unwrap_or_else(|e| report(&report_w, &e));
    crate::trace::step("init", "root built");
    if let Some(tty) = tty {
        tty.open_inside(ctx);
    }
    wait_for_network(ctx, &release_r);
    crate::trace::step("init", "network ready");
    if ctx.plan.process.pid1 == Pid1::Command {
        command::run(ctx, &report_w, &old_mask, old_umask, &mut prepared, None)
    }
    if !ctx.plan.namespaces.pid {
        // Without a pid namespace, orphans of the command come back to init.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    if proc.is_some() {
        become_reaper(ctx, &release_r);
    }
    drop(release_r);
    let keep = kept_fds(ctx, &held, &ended_w, proc.as_ref());
    let reaper = proc.as_ref().map(|_| Pid::this());
    // The command's process shares init's memory until its execve (init is
    // single-threaded, a clone of the single-threaded monitor, and waits
    // meanwhile): no copy of init's address space for a process that execs.
    let spawned = sys::spawn_sharing_memory(|| {
        command::run(ctx, &report_w, &old_mask, old_umask, &mut prepared, reaper);
    });
    match spawned.map(Pid::from_raw) {
        Err(e) => report(&report_w, &SetupError::errno("fork the command", e)),
        Ok(child) => {
            crate::trace::step("init", "command execed");
            drop(report_w);
            let _ = sys::close_all_except(&keep);
            match ctx.plan.process.pid1 {
                Pid1::PlainInit => become_plain_init(ctx, child),
                _ => {
                    let _ = nix::sys::prctl::set_dumpable(false);
                }
            }
            reap::reap(ctx, child, &ended_w, proc.as_ref())
        }
    }
}

/// init's setup once released, in order: its cgroup namespace, the new
/// root and the init steps, the user namespace after setup, the lock
/// files. Returns what init holds for the sandbox's life.
fn set_up(ctx: &Ctx, unshare_cgroup: bool) -> error::Result<Held> {
    if unshare_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| SetupError::errno("cgroup namespace", e))?;
    }
    let proc_fd = userns::open_proc(ctx)?; // the host's, before the new root hides it
    let locks = match ctx.plan.mode {
        Mode::Landlock => Vec::new(),
        Mode::Namespaces => new_root(ctx)?,
    };
    userns::after_setup(ctx, proc_fd.as_ref())?;
    let lock_files = locks::take(ctx)?;
    Ok(Held { locks, lock_files })
}

/// The new root and the steps that need it; returns the persist locks.
fn new_root(ctx: &Ctx) -> error::Result<Vec<nix::fcntl::Flock<std::fs::File>>> {
    let mut sources = root::open_sources(&RealSys, &ctx.plan.root.source, &ctx.plan.fs)?;
    let locks = sources.take_locks();
    crate::trace::step("init", "sources opened");
    ctx.pause("persist-lock");
    root::build(ctx, &RealSys, sources)?;
    crate::trace::step("init", "pivoted");
    for (name, step) in INIT_STEPS {
        step(ctx)?;
        crate::trace::step("init", name);
    }
    Ok(locks)
}

/// Everything but the persist-state locks, `ended`, the reaper's /proc,
/// the lock files and the sync fd is closed once the command is forked.
fn kept_fds(ctx: &Ctx, held: &Held, ended_w: &OwnedFd, proc: Option<&OwnedFd>) -> Vec<i32> {
    let mut keep: Vec<i32> = held.locks.iter().map(|l| l.as_raw_fd()).collect();
    keep.push(ended_w.as_raw_fd());
    keep.extend(proc.iter().map(|p| p.as_raw_fd()));
    keep.extend(held.lock_files.iter().map(|l| l.as_raw_fd()));
    keep.extend(ctx.plan.process.sync_fd);
    keep
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
fn wait_for_release(ctx: &Ctx, release_r: &OwnedFd) {
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

/// With user-mode networking, the monitor's second byte: the backend,
/// started as init was released, has configured the namespace; the
/// command may start. Exits if the monitor has gone or gave up instead.
fn wait_for_network(ctx: &Ctx, release_r: &OwnedFd) {
    if ctx.plan.network.user.is_none() || ctx.plan.mode != Mode::Namespaces {
        return;
    }
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(release_r.as_raw_fd(), &mut byte), Ok(1)) {
        sys::exit_now(SETUP as i32);
    }
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

/// A plain init, once the command is forked: it drops every capability
/// and stays dumpable (tools outside open /proc/PID/ns/* of the child pid
/// reported), and runs under the plan's seccomp programs too
/// (no_new_privs first: without capabilities, seccomp needs it). If it
/// cannot filter itself, the sandbox ends.
fn become_plain_init(ctx: &Ctx, command: Pid) {
    let _ = confine::drop_all();
    let _ = nix::sys::prctl::set_dumpable(true);
    if nix::sys::prctl::set_no_new_privs().is_err() || command::seccomp::install(ctx).is_err() {
        let _ = kill(command, Signal::SIGKILL);
        sys::exit_now(1);
    }
}
