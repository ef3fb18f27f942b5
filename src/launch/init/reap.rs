//! init's loop: it reaps every child; when the command ends it says how
//! on `ended`, ends what is left (as the reaper) and exits with the
//! command's status. Signals it takes with sigwait (no handlers); with
//! `Signals::Forward` it passes INT TERM HUP QUIT USR1 USR2 WINCH ALRM on
//! to the command, and SIGTSTP and SIGCONT stop and continue every
//! process inside.

use std::os::fd::OwnedFd;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::reaper;
use crate::launch::{sys, Ctx};
use crate::plan::Signals;

/// Signals passed on to the command (with `Signals::Forward`).
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
pub fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGTSTP, Signal::SIGCONT].into_iter().chain(FORWARDED) {
        set.add(s);
    }
    set
}

/// The signals init blocks and takes with sigwait.
pub(super) fn init_signals() -> SigSet {
    let mut set = handled();
    set.add(reaper::END);
    set
}

/// Every process inside gets `sig` (SIGSTOP, SIGCONT): with a pid namespace
/// of its own that is kill(-1), which spares init; as the reaper, each of
/// init's descendants; otherwise the command.
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
/// signals are passed on to the command, if the plan forwards signals.
pub(super) fn reap(ctx: &Ctx, command: Pid, ended: &OwnedFd, proc: Option<&OwnedFd>) -> ! {
    let set = init_signals();
    let forward = ctx.plan.process.signals == Signals::Forward;
    // After a moment with nothing to do, the setup's code goes from init's
    // resident set (see sys::trim_text and the monitor's TRIM_AFTER).
    let mut trimmed = false;
    loop {
        match next_signal(&set, &mut trimmed) {
            Ok(Signal::SIGCHLD) => loop {
                let last = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(WaitStatus::Exited(pid, code)) if pid == command => [b'e', code as u8],
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => [b's', sig as u8],
                    Ok(_) => continue,
                };
                crate::trace::step("init", "command ended");
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

/// The next of `set`, waited for with sigwait; the first time for 100 ms
/// only, after which, with nothing to do, init's resident set drops the
/// setup's machine code (see sys::trim_text and the monitor's TRIM_AFTER).
fn next_signal(set: &SigSet, trimmed: &mut bool) -> nix::Result<Signal> {
    if !*trimmed {
        *trimmed = true;
        let pause = libc::timespec { tv_sec: 0, tv_nsec: 100_000_000 };
        // SAFETY: `set` is a valid sigset_t, the info pointer may be null,
        // `pause` lives across the call.
        let r = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &pause) };
        if r > 0 {
            return Signal::try_from(r);
        }
        sys::trim_text();
    }
    set.wait()
}
