//! The programs the monitor runs beside the sandbox (pasta or
//! slirp4netns, xdg-dbus-proxy, Xephyr): how each is started, how it says
//! it is ready, and how it is stopped. `usernet/` and `desktop/` say what
//! each one is run with; this is the one place that starts them. (The
//! egress helper, `egress/helper.rs`, runs no program: it is a bare fork
//! of the monitor that joins the sandbox's namespaces and hands sockets
//! back, reaped as soon as it has answered.)
//!
//! - Each runs in a process group of its own, so a terminal's ^C reaches
//!   the command (through the monitor) and not the helper, with the signal
//!   mask the monitor blocked for its signalfd cleared (a mask survives
//!   exec), stdin on /dev/null and stdout and stderr in a memory file whose
//!   last meaningful line becomes the error when it fails.
//! - They start while the sandbox is being set up, never waited for on the
//!   way: the monitor waits for each one's own word that it is ready (a
//!   byte, a pid file, a display number on a descriptor: [`poll_first`],
//!   bounded, never a sleep) only where the sandbox needs it.
//! - Stopping is SIGKILL, not waited for ([`Child::kill`]): the kernel
//!   reaps the helper once the monitor exits. It is waited for only where
//!   the monitor's cgroup leaf, which it shares, is removed after it (a
//!   cgroup with a process in it cannot be removed).
//! - When the monitor is killed (-9) no code of ours runs: the kernel ends
//!   the helper with PR_SET_PDEATHSIG (set in the child before exec, then
//!   getppid() checked against a monitor that died in between), or the
//!   helper sees a descriptor only the sandbox holds close.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::launch::error::{Context, Result, SetupError};

/// A helper that is running; dropping it does not stop it (its owner does).
pub struct Child {
    pub name: &'static str,
    pub pid: Pid,
    out: File,
    /// Killed or waited for already: not signalled again (once waited
    /// for, its pid may be another process's).
    reaped: std::cell::Cell<bool>,
}

/// How to start a helper.
pub struct Spawn<'a> {
    pub name: &'static str,
    pub path: &'a Path,
    pub args: &'a [String],
    /// Variables set for it beside the monitor's own.
    pub env: Vec<(&'static str, OsString)>,
    /// Descriptors the helper inherits, at the same numbers.
    pub keep: Vec<RawFd>,
    /// The signal the kernel sends it when the monitor dies, if any.
    pub deathsig: Option<Signal>,
}

/// A memory file (close-on-exec) named `sandbox-NAME`.
pub fn memfd(name: &str) -> Result<File> {
    let fd = nix::sys::memfd::memfd_create(
        &std::ffi::CString::new(format!("sandbox-{name}")).expect("no NUL"),
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .what(|| "memfd_create".into())?;
    Ok(File::from(fd))
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).what(|| "pipe".into())
}

/// Starts a helper.
pub fn spawn(s: Spawn) -> Result<Child> {
    let what = || format!("start {}", s.path.display());
    let io =
        |e: std::io::Error| SetupError::errno(what(), Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    let out = memfd(s.name)?;
    let mut cmd = Command::new(s.path);
    cmd.args(s.args.iter().map(OsString::from))
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io)?)
        .stderr(out.try_clone().map_err(io)?)
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    let monitor = nix::unistd::getpid();
    let (keep, deathsig) = (s.keep, s.deathsig);
    // SAFETY: the closure runs in the forked child of a single-threaded
    // monitor before exec; it only makes system calls (sigprocmask, prctl,
    // getppid, fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // The monitor blocks the signals it takes with sigwait; the
            // mask is inherited across exec and std does not reset it.
            SigSet::empty().thread_set_mask()?;
            if let Some(sig) = deathsig {
                nix::sys::prctl::set_pdeathsig(sig)?;
                if nix::unistd::getppid() != monitor {
                    return Err(Errno::ESRCH.into());
                }
            }
            for &fd in &keep {
                fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(io)?;
    let pid = Pid::from_raw(child.id() as libc::pid_t);
    Ok(Child { name: s.name, pid, out, reaped: Default::default() })
}

/// The index of the first of `fds` with something to read (or a hang-up),
/// once one has, or `None` when `deadline` passed first.
pub fn poll_first(fds: &[BorrowedFd], deadline: Instant) -> Result<Option<usize>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as u32).unwrap_or(PollTimeout::MAX);
        let mut polled: Vec<PollFd> = fds.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
        match poll(&mut polled, ms) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SetupError::errno("poll", e)),
            Ok(0) if left.is_zero() => return Ok(None),
            Ok(0) => continue,
            Ok(_) => {}
        }
        return Ok(polled.iter().position(|p| p.revents().is_some_and(|r| !r.is_empty())));
    }
}

/// What one read of `fd` returns (empty: end of file).
pub fn read_some(fd: &OwnedFd) -> Result<Vec<u8>> {
    let mut buf = [0u8; 64];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) => return Err(SetupError::errno("read", e)),
        }
    }
}

/// What arrived on `fd` (empty: end of file), once something did, or
/// `None` when `deadline` passed first.
pub fn read_ready(fd: &OwnedFd, deadline: Instant) -> Result<Option<Vec<u8>>> {
    use std::os::fd::AsFd;
    match poll_first(&[fd.as_fd()], deadline)? {
        Some(_) => read_some(fd).map(Some),
        None => Ok(None),
    }
}

impl Child {
    /// The last 16 KiB the helper printed (its writes moved the shared
    /// file offset, so read at explicit ones).
    pub fn output(&self) -> String {
        let len = self.out.metadata().map_or(0, |m| m.len());
        let start = len.saturating_sub(16 * 1024);
        let mut buf = vec![0u8; (len - start) as usize];
        let mut got = 0;
        while got < buf.len() {
            match self.out.read_at(&mut buf[got..], start + got as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        String::from_utf8_lossy(&buf[..got]).into_owned()
    }

    /// Waits up to `grace` for the helper to exit, then kills it; its
    /// status, in words. For a helper that failed, or one that cleans up
    /// after itself when told to stop.
    pub fn reap(&self, grace: Duration) -> String {
        self.reaped.set(true);
        let end = Instant::now() + grace;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(WaitStatus::StillAlive) => {
                    let _ = kill(self.pid, Signal::SIGKILL);
                    let _ = waitpid(self.pid, None);
                    return "killed: it did not exit".into();
                }
                Ok(WaitStatus::Exited(_, code)) => return format!("exited with status {code}"),
                Ok(WaitStatus::Signaled(_, sig, _)) => return format!("killed by {sig}"),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return "gone".into(),
            }
        }
    }

    /// SIGKILL; its exit waited for only when `wait` (see the module's
    /// note on cgroup leaves).
    pub fn kill(&self, wait: bool) {
        if self.reaped.replace(true) {
            return;
        }
        let _ = kill(self.pid, Signal::SIGKILL);
        if wait {
            let _ = waitpid(self.pid, None);
        }
    }
}

/// The last meaningful line of a helper's output, or `otherwise`.
pub fn last_line<'a>(output: &'a str, otherwise: &'a str, noise: &dyn Fn(&str) -> bool) -> &'a str {
    output.lines().map(str::trim).filter(|l| !l.is_empty() && !noise(l)).last().unwrap_or(otherwise)
}
