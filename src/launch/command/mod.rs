//! The command's process, from the fork to execve: its signal mask, then
//! its steps in order, then execve. A failure in any step travels to the
//! monitor over the report pipe and ends the process.

use std::os::fd::OwnedFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode as Umask;
use nix::unistd::Pid;

use crate::escape;
use crate::launch::error::{self, SETUP};
use crate::launch::{sys, Ctx};

mod begin;
pub mod confine;
pub mod exec;
pub mod landlock;
mod rlimit;
pub mod seccomp;
pub mod tty;

use exec::{report, Exec};

/// What the command's process is given, prepared by the monitor before
/// clone: what execve needs, and the landlock step's part that does not
/// touch the new root ([`landlock::prepare`], taken by that step).
pub struct Prepared {
    pub exec: Exec,
    pub landlock: Option<landlock::Prepared>,
}

/// A step of the command's process; it may change what execve is given.
type Step = fn(&Ctx, &mut Prepared) -> error::Result<()>;

/// Steps of the command's process before execve, in order. They run in
/// landlock-only mode too (without namespaces).
///
/// Order: the block fd first (the caller holds the command back), then
/// the ids inside a joined user namespace, which the working directory
/// and the label are then checked as; setuid clears the parent-death
/// signal, so it is set again after. The terminal needs the new session
/// (setsid) before it and is in place before anything that may restrict
/// ioctls. landlock needs no_new_privs before it and the finished file
/// system (it forbids mounts); its rules are opened inside the new root,
/// in this process. The rlimits come after landlock, so a tight `nofile`
/// or `as` limit meant for the command cannot break the opening of the
/// rules (landlock has no say over setrlimit), and before seccomp (a
/// filter may forbid setrlimit). seccomp comes after landlock (a filter
/// may forbid the landlock syscalls) and stays the very last entry: a
/// filter may forbid what any earlier step needs.
const STEPS: [(&str, Step); 13] = [
    ("block", |ctx, _| begin::block(ctx)),
    ("ids", |ctx, _| begin::switch_ids(ctx)),
    ("cwd", |ctx, p| begin::cwd(ctx, &mut p.exec)),
    ("exec label", |ctx, _| begin::exec_label(ctx)),
    ("die with parent", |ctx, _| begin::die_with_parent(ctx)),
    ("session", |ctx, _| begin::session(ctx)),
    ("terminal", |ctx, _| tty::attach(ctx)),
    ("capabilities", |ctx, _| confine::capabilities(ctx)),
    ("no_new_privs", |ctx, _| confine::no_new_privs(ctx)),
    ("fds", |ctx, _| confine::fds(ctx)),
    ("landlock", |ctx, p| landlock::restrict(ctx, &mut p.landlock)),
    ("limits", |ctx, _| rlimit::apply(ctx)),
    ("seccomp", |ctx, _| seccomp::install(ctx)),
];

/// The command's process: its own setup, then execve. With a `reaper`
/// (init's pid), it dies with init, which ends every other process.
pub fn run(
    ctx: &Ctx,
    report_w: &OwnedFd,
    old_mask: &SigSet,
    old_umask: Umask,
    prepared: &mut Prepared,
    reaper: Option<Pid>,
) -> ! {
    if let Some(init) = reaper {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if nix::unistd::getppid() != init {
            sys::exit_now(SETUP as i32);
        }
    }
    command_signals(old_mask);
    nix::sys::stat::umask(old_umask);
    for (name, step) in STEPS {
        if let Err(e) = step(ctx, prepared) {
            report(report_w, &e);
        }
        // Nothing is traced once the filter is on: a policy may kill on
        // write(2), and the trace must not change what a run does.
        if name != "seccomp" {
            crate::trace::step("command", name);
        }
        ctx.pause(name);
    }
    ctx.log("exec", &escape::os(&ctx.plan.command[0]));
    report(report_w, &prepared.exec.run())
}

/// In the command's process, first: the signal mask and dispositions the
/// command starts with.
fn command_signals(old_mask: &SigSet) {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old_mask), None);
    // Rust's runtime ignores SIGPIPE in sandbox (a status fd or terminal
    // whose reader has gone must not kill the monitor); the command gets the
    // default back, or `yes | head` would complain.
    // SAFETY: SIG_DFL installs no handler code.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
}
