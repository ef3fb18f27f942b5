//! init as the reaper of a sandbox that shares the host's processes
//! (`--share pid`, landlock-only mode).
//!
//! With a pid namespace of its own the kernel ends everything inside when
//! init exits. Without one, nothing would: a daemon that double-forks and
//! calls setsid leaves the command's process tree and lives on. So init:
//!
//! - is a child subreaper (PR_SET_CHILD_SUBREAPER): every orphan of the
//!   command becomes init's child, whatever session or process group it
//!   made, so the command's processes are always init's descendants;
//! - when the command ends, kills every descendant and reaps them until it
//!   has no child left ([`end_all`]), then exits;
//! - when the monitor dies (die-with-parent), gets [`END`] as its
//!   PR_SET_PDEATHSIG instead of SIGKILL, which it blocks and takes from
//!   sigwait: it kills every descendant and ends the same way. The monitor
//!   sends [`END`] too for the time-out's SIGKILL;
//! - gives the command PR_SET_PDEATHSIG SIGKILL, so that a SIGKILL of init
//!   itself still ends the command (but not what the command started: that
//!   needs init, or a cgroup);
//! - is put in a process group of its own by the monitor before its
//!   release, when the command makes a session of its own (the default), so
//!   that a SIGKILL of the caller's job (`kill -9 %1`, a supervisor killing
//!   the process group) reaches the monitor and leaves init to end the
//!   rest. With `--no-new-session` the command stays in init's group, which
//!   must stay the terminal's foreground group, and init stays in the
//!   caller's.
//!
//! The monitor is a child subreaper as well: should init itself be killed
//! with SIGKILL (by the caller: `pkill -9 sandbox` hits both), the orphans
//! become the monitor's, which kills them once it has seen init end
//! ([`end_orphans`]). What is left is the case where both are killed with
//! SIGKILL and the sandbox has no cgroup of its own: the command dies
//! (PDEATHSIG), the processes it started live on.
//!
//! The command cannot signal init or the monitor (landlock's signal scope,
//! ABI 6, which both modes require), trace them (seccomp denies ptrace and
//! its relatives there) or read their memory (neither is dumpable).
//!
//! Descendants are found by a walk of /proc (the host's, opened before the
//! mounts): each process's parent from its `stat`. A process that forks
//! while the walk runs is found on the next round; a killed process cannot
//! fork any more, so the rounds end.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::launch::{sys, Ctx};

/// init's "end everything" signal: its PR_SET_PDEATHSIG, and the monitor's
/// SIGKILL of the sandbox after the time-out's grace. A signal no program
/// sends in the ordinary course of things.
pub const END: Signal = Signal::SIGPWR;

/// Whether init of this sandbox is the reaper: sandbox's own init, with
/// the host's pid namespace.
pub fn is_reaper(ctx: &Ctx) -> bool {
    ctx.plan.process.pid1 == crate::plan::Pid1::Init && ctx.plan.shares_host_pids()
}

/// Whether the monitor moves init to a process group of its own.
pub fn leaves_group(ctx: &Ctx) -> bool {
    is_reaper(ctx) && ctx.plan.process.new_session
}

/// The host's /proc, opened by init before anything is mounted.
pub fn open_proc() -> Option<OwnedFd> {
    sys::open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY).ok()
}

/// The parent of `pid`, from `/proc/PID/stat` (after the command name,
/// which may hold spaces and parentheses: field 4 follows the last `)`).
fn parent(proc: &OwnedFd, pid: &str) -> Option<i32> {
    let fd = sys::openat(proc, &Path::new(pid).join("stat"), libc::O_RDONLY, 0).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    text.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Each process's children, from one walk of /proc.
fn tree(proc: &OwnedFd) -> HashMap<i32, Vec<i32>> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(dir) = nix::dir::Dir::openat(
        Some(proc.as_raw_fd()),
        ".",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    ) else {
        return children;
    };
    for entry in dir.into_iter().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else { continue };
        if let Some(ppid) = parent(proc, &name) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    children
}

/// Every descendant of `root` in `tree` but `skip` and theirs.
fn descendants(tree: &HashMap<i32, Vec<i32>>, root: Pid, skip: &[Pid]) -> Vec<Pid> {
    let mut out = Vec::new();
    let mut next = vec![root.as_raw()];
    while let Some(p) = next.pop() {
        for &c in tree.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if !skip.contains(&Pid::from_raw(c)) {
                out.push(Pid::from_raw(c));
                next.push(c);
            }
        }
    }
    out
}

/// Sends `sig` to every descendant of this process.
pub fn signal_all(proc: &OwnedFd, sig: Signal) {
    for pid in descendants(&tree(proc), Pid::this(), &[]) {
        let _ = kill(pid, sig);
    }
}

/// Kills every descendant and reaps until no child is left.
pub fn end_all(proc: &OwnedFd) {
    loop {
        signal_all(proc, Signal::SIGKILL);
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::ECHILD) => return,
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The monitor's part, once init has exited: the monitor is a child
/// subreaper too, so if init was killed (by SIGKILL, which it cannot
/// handle) what the command left became the monitor's. Kills every
/// descendant of the monitor but `keep` (the user-mode network helper,
/// which its guard stops) and reaps them, without touching other children.
pub fn end_orphans(keep: &[Pid]) {
    let Some(proc) = open_proc() else { return };
    let me = Pid::this();
    loop {
        let tree = tree(&proc);
        let left = descendants(&tree, me, keep);
        if left.is_empty() {
            return;
        }
        for &pid in &left {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let mine = tree.get(&me.as_raw()).cloned().unwrap_or_default();
        for pid in left.iter().filter(|p| mine.contains(&p.as_raw())) {
            let _ = waitpid(*pid, Some(WaitPidFlag::WNOHANG));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
