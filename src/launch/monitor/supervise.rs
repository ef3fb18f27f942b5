//! The monitor's loop while the sandbox runs.
//!
//! One poll(2) over a signalfd (the handled signals stay blocked, so there
//! are no handlers), the setup report pipe, the terminal relay and the
//! time-out, until init has exited:
//!
//! - the report pipe reads EOF with nothing in it once the command has been
//!   exec'd (a setup error arrives as a [`SetupError`] instead);
//! - SIGCHLD: init has exited, with the command's status; the relay is
//!   drained, the status line written, the code returned;
//! - SIGTSTP: the caller's terminal gets its modes back, the sandbox is
//!   frozen (cgroup.freeze) or stopped (init sends SIGSTOP to every process
//!   inside), and the monitor stops itself; SIGCONT undoes all three;
//! - SIGWINCH resizes the sandbox's pty, if it has one; every other handled
//!   signal goes to init, which passes it on to the command;
//! - the time-out: SIGTERM to the command, SIGKILL to init after the grace;
//! - in landlock-only mode, the metadata listener: first its arrival from
//!   the command, then each call to make for it (`metadata/`).
//!
//! Where the command shares the host's processes (`--share pid`,
//! landlock-only mode) init is their reaper (`init/reaper.rs`): the time-out's
//! SIGKILL becomes [`reaper::END`] to init, which kills every process the
//! command started, wherever it moved, and then ends.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::cgroup::Cgroup;
use super::metadata::{self, Notifier};
use super::relay::{self, Relay};
use super::status::{Outcome, Reporter};
use super::timeout::{Due, Timeout};
use super::usernet::UserNet;
use crate::launch::error::{Result, SetupError, SETUP};
use crate::launch::init::reaper;
use crate::launch::Ctx;

/// Exit status after a time-out, as timeout(1) uses it.
pub const TIMED_OUT: u8 = 124;

/// Everything the loop watches.
pub struct Run<'a> {
    pub ctx: &'a Ctx<'a>,
    pub init: Pid,
    /// The write end of the release pipe, open for as long as the monitor
    /// lives: a hang-up tells the released process the monitor is gone
    /// (`init::wait_for_release`).
    pub _alive: OwnedFd,
    /// The user-mode network helper, stopped when this is dropped; declared
    /// before `cgroup` so it is gone before the cgroup's leaf, where it
    /// runs beside the monitor, is removed.
    pub _net: Option<UserNet>,
    /// The desktop helpers (bus proxy, nested X server), stopped when dropped.
    pub _desktop: super::desktop::Helpers,
    /// Setup report from init and the command (close-on-exec).
    pub report: Option<OwnedFd>,
    /// init's last words: how the command ended (`e` code or `s` signal).
    pub ended: Option<OwnedFd>,
    /// The socket the pty's master arrives on, and the relay for it.
    pub tty: Option<(OwnedFd, Relay)>,
    pub cgroup: Option<Cgroup>,
    pub reporter: Reporter,
    pub timeout: Timeout,
}

struct State {
    report: Option<OwnedFd>,
    report_buf: Vec<u8>,
    sock: Option<OwnedFd>,
    relay: Option<Relay>,
    command: Option<Pid>,
    /// The socket the metadata listener arrives on (the Filters' own).
    listener_sock: Option<RawFd>,
    notifier: Option<Notifier>,
    /// When to drop the setup's machine code (sys::trim_text), once.
    trim_at: Option<Instant>,
}

/// Drops the setup's machine code once it is time; how many milliseconds
/// until then otherwise (None: done, or the command has not started).
fn trim(st: &mut State, now: Instant) -> Option<u64> {
    let at = st.trim_at?;
    if at <= now {
        st.trim_at = None;
        crate::launch::sys::trim_text();
        return None;
    }
    Some(at.saturating_duration_since(now).as_micros().div_ceil(1000) as u64)
}

/// How long the command runs before the monitor drops the setup's machine
/// code from its resident set (see sys::trim_text): a sandbox that lives
/// on keeps only what its loop runs; a command that ends at once saves the
/// monitor the work and the page faults of its exit path.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs the loop; the exit status for the caller, or the setup error.
pub fn supervise(mut run: Run, signals: &nix::sys::signal::SigSet) -> Result<u8> {
    let sigfd = SignalFd::with_flags(signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| SetupError::errno("signalfd", e))?;
    run.report.iter().for_each(set_nonblocking);
    run.ended.iter().for_each(set_nonblocking);
    let (sock, relay) = match run.tty.take() {
        Some((s, r)) => (Some(s), Some(r)),
        None => (None, None),
    };
    let listener_sock = run.ctx.filters.listener.as_ref().map(|n| n.ours.as_raw_fd());
    let mut st = State {
        report: run.report.take(),
        report_buf: Vec::new(),
        sock,
        relay,
        command: None,
        listener_sock,
        notifier: None,
        trim_at: None,
    };
    loop {
        let now = Instant::now();
        let wait = match (run.timeout.wait_ms(now), trim(&mut st, now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ready = wait_once(&sigfd, &st, wait);
        if ready.report {
            if let Some(code) = read_report(&mut run, &mut st)? {
                return Ok(code);
            }
        }
        if ready.sock {
            if let (Some(sock), Some(relay)) = (st.sock.take(), st.relay.as_mut()) {
                match relay::receive(&sock) {
                    Some(master) => relay.start(master),
                    None => st.relay = None,
                }
            }
        }
        serve_metadata(run.ctx, &mut st, &ready);
        if let Some(relay) = st.relay.as_mut() {
            if ready.input {
                relay.read_input();
            }
            if ready.master_out {
                relay.write_input();
            }
            if ready.master_in {
                relay.read_output();
            }
        }
        while let Ok(Some(info)) = sigfd.read_signal() {
            if let Some(code) = on_signal(&mut run, &mut st, info.ssi_signo as i32)? {
                return Ok(code);
            }
        }
        if let Some(due) = run.timeout.due(Instant::now()) {
            on_due(&run, &st, due);
        }
    }
}

/// Landlock-only mode: takes the listener when it arrives, then makes
/// the calls it hands over; drops it once no process is left under it.
fn serve_metadata(ctx: &Ctx, st: &mut State, ready: &Ready) {
    if ready.listener_sock {
        if let Some(fd) = st.listener_sock.take() {
            // SAFETY: the fd belongs to ctx.filters, which outlives the loop.
            let sock = unsafe { BorrowedFd::borrow_raw(fd) };
            st.notifier = metadata::receive_listener(sock).map(|l| Notifier::new(ctx, l));
        }
    }
    let done = match (ready.listener, ready.listener_hup) {
        (true, _) => !st.notifier.as_ref().is_some_and(Notifier::serve),
        (false, hup) => hup,
    };
    if done {
        st.notifier = None;
    }
}

#[derive(Default)]
struct Ready {
    report: bool,
    sock: bool,
    input: bool,
    master_in: bool,
    master_out: bool,
    listener_sock: bool,
    listener: bool,
    listener_hup: bool,
}

/// One poll: which sources have something.
fn wait_once(sigfd: &SignalFd, st: &State, wait_ms: Option<u64>) -> Ready {
    let r = PollFlags::POLLIN;
    let mut fds = vec![PollFd::new(sigfd.as_fd(), r)];
    let mut slots = [usize::MAX; 7];
    let mut add = |fds: &mut Vec<PollFd>, slot: usize, fd: BorrowedFd<'static>, flags: PollFlags| {
        slots[slot] = fds.len();
        fds.push(PollFd::new(fd, flags));
    };
    // SAFETY (for the borrows below): every fd outlives this function: they
    // are owned by `st` or are the process's stdin.
    let b = |fd: i32| unsafe { BorrowedFd::borrow_raw(fd) };
    if let Some(f) = &st.report {
        add(&mut fds, 0, b(f.as_raw_fd()), r);
    }
    if let Some(f) = &st.sock {
        add(&mut fds, 1, b(f.as_raw_fd()), r);
    }
    if let Some(relay) = &st.relay {
        if relay.wants_input() {
            add(&mut fds, 2, b(0), r);
        }
        if let Some(m) = relay.master() {
            add(&mut fds, 3, b(m), r);
            if relay.has_pending() {
                add(&mut fds, 4, b(m), PollFlags::POLLOUT);
            }
        }
    }
    if let Some(f) = st.listener_sock {
        add(&mut fds, 5, b(f), r);
    }
    if let Some(n) = &st.notifier {
        add(&mut fds, 6, b(n.fd()), r);
    }
    let timeout = match wait_ms {
        Some(ms) => PollTimeout::try_from(ms.min(i32::MAX as u64) as i32).unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    if poll(&mut fds, timeout).is_err() {
        return Ready::default();
    }
    let events = |slot: usize| match slots[slot] {
        usize::MAX => PollFlags::empty(),
        i => fds[i].revents().unwrap_or(PollFlags::empty()),
    };
    let got = |slot: usize| !events(slot).is_empty();
    Ready {
        report: got(0),
        sock: got(1),
        input: got(2),
        master_in: got(3),
        master_out: got(4),
        listener_sock: got(5),
        listener: events(6).contains(PollFlags::POLLIN),
        listener_hup: events(6).intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL),
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
}

/// Reads what the report pipe has. On EOF: the command runs (an empty
/// report) or setup failed (then init is waited for and the error returned).
fn read_report(run: &mut Run, st: &mut State) -> Result<Option<u8>> {
    let Some(fd) = &st.report else { return Ok(None) };
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => st.report_buf.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(_) => return Ok(None),
        }
    }
    st.report = None;
    crate::trace::step("monitor", "report read");
    if !st.report_buf.is_empty() {
        let err =
            SetupError::decode(&st.report_buf).unwrap_or_else(|| SetupError::new("setup", "garbled report"));
        let _ = waitpid(run.init, None);
        return Err(err);
    }
    // Read from /proc only when something needs it: the status fd, the pid
    // file, or the time-out's SIGKILL where the command is not in init's
    // pid namespace.
    if run.reporter.wants_command_pid() || run.ctx.plan.shares_host_pids() {
        st.command = command_pid(run.init);
    }
    run.reporter.started(run.init.as_raw() as u32, st.command.map(|p| p.as_raw() as u32));
    st.trim_at = Some(Instant::now() + TRIM_AFTER);
    Ok(None)
}

/// The command's host pid: init's first child.
fn command_pid(init: Pid) -> Option<Pid> {
    let text = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok().map(Pid::from_raw)
}

fn on_signal(run: &mut Run, st: &mut State, signo: i32) -> Result<Option<u8>> {
    let Ok(sig) = Signal::try_from(signo) else { return Ok(None) };
    let init = run.init;
    let freeze = |on: bool| run.cgroup.as_ref().is_some_and(|c| c.freeze(on));
    match sig {
        Signal::SIGCHLD => match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                return finish(run, st, s).map(Some)
            }
            Err(Errno::ECHILD) => return Ok(Some(SETUP)),
            _ => {}
        },
        Signal::SIGWINCH if st.relay.as_ref().is_some_and(|r| r.master().is_some()) => {
            st.relay.as_ref().map(Relay::resize);
        }
        Signal::SIGTSTP => {
            st.relay.as_mut().map(Relay::suspend);
            if !freeze(true) {
                stop(run, true);
            }
            let _ = kill(Pid::this(), Signal::SIGSTOP);
        }
        Signal::SIGCONT => {
            st.relay.as_mut().map(Relay::resume);
            if !freeze(false) {
                stop(run, false);
            }
        }
        sig => {
            let _ = kill(init, sig);
        }
    }
    Ok(None)
}

/// Stops (or continues) the sandbox with signals, where no cgroup freezes
/// it: init stops (continues) everything inside on SIGTSTP (SIGCONT).
fn stop(run: &Run, on: bool) {
    let _ = kill(run.init, if on { Signal::SIGTSTP } else { Signal::SIGCONT });
}

fn on_due(run: &Run, st: &State, due: Due) {
    let init = run.init;
    match due {
        Due::Term => {
            // One line with -v, as timeout(1) --verbose says it.
            let limits = &run.ctx.plan.limits;
            let show = crate::plan::limits::show_ms;
            run.ctx.log(
                "timeout",
                &format!(
                    "--timeout {} reached: SIGTERM to the command, SIGKILL to the sandbox {} later if it is still there (exit status 124)",
                    show(limits.timeout_ms.unwrap_or(0)),
                    show(limits.kill_after_ms)
                ),
            );
            let _ = kill(init, Signal::SIGTERM);
            if !run.cgroup.as_ref().is_some_and(|c| c.freeze(false)) {
                stop(run, false);
            }
        }
        Due::Kill => {
            run.ctx.log("timeout", "the grace after SIGTERM is over: SIGKILL to the sandbox");
            // The reaper kills every descendant, then ends with the command.
            let reaper = reaper::is_reaper(run.ctx);
            let _ = kill(init, if reaper { reaper::END } else { Signal::SIGKILL });
            if run.ctx.plan.shares_host_pids() {
                // Without a pid namespace the command does not die with init.
                if let Some(c) = st.command {
                    let _ = kill(c, Signal::SIGKILL);
                }
            }
        }
    }
}

/// init has exited: the rest of the output, the status line, the code.
fn finish(run: &mut Run, st: &mut State, s: WaitStatus) -> Result<u8> {
    crate::trace::step("monitor", "init ended");
    if let Some(relay) = st.relay.as_mut() {
        relay.drain();
    }
    read_report(run, st)?;
    let mut last = [0u8; 2];
    let said = match &run.ended {
        Some(fd) => nix::unistd::read(fd.as_raw_fd(), &mut last).unwrap_or(0),
        None => 0,
    };
    let (code, signal) = match (s, said, last) {
        (_, 2, [b's', sig]) => (128u8.wrapping_add(sig), Some(sig as i32)),
        (WaitStatus::Exited(_, code), _, _) => (code as u8, None),
        (WaitStatus::Signaled(_, sig, _), _, _) => (128u8.wrapping_add(sig as u8), Some(sig as i32)),
        _ => (SETUP, None),
    };
    if reaper::is_reaper(run.ctx) {
        let mut keep: Vec<Pid> = run._net.iter().map(UserNet::pid).collect();
        keep.extend(run._desktop.pids());
        reaper::end_orphans(&keep);
    }
    let timed_out = run.timeout.fired;
    let oom_kills = run.cgroup.as_ref().map_or(0, Cgroup::oom_kills);
    if oom_kills > 0 {
        let memory = run.ctx.plan.limits.cgroup.flags().into_iter().find(|f| f.starts_with("--memory"));
        let n = if oom_kills == 1 { "1 process".to_string() } else { format!("{oom_kills} processes") };
        eprintln!(
            "sandbox: note: the sandbox reached {}: the kernel's OOM killer killed {n} in it",
            memory.unwrap_or_else(|| "its memory limit".into())
        );
    }
    let outcome = Outcome { code: if timed_out { TIMED_OUT } else { code }, signal, timed_out };
    run.reporter.ended(&outcome);
    crate::trace::step("monitor", "done");
    Ok(outcome.code)
}
