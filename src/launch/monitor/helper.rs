//! Helper programs the monitor starts beside the sandbox (pasta or
//! slirp4netns, xdg-dbus-proxy, Xephyr): how each is started, how it says
//! it is ready, and how it is stopped.
//!
//! - Each runs in a process group of its own, so a terminal's ^C reaches
//!   the command (through the monitor) and not the helper, with the signal
//!   mask the monitor blocked for its signalfd cleared (a mask survives
//!   exec), stdin on /dev/null and stdout and stderr in a memory file whose
//!   last meaningful line becomes the error when it fails.
//! - Ready means the helper said so on a descriptor, never a sleep: a
//!   byte, a pid file, a display number ([`read_ready`], bounded).
//! - When the monitor is killed (-9) no code of ours runs: the kernel ends
//!   the helper with PR_SET_PDEATHSIG (set in the child before exec, then
//!   getppid() checked against a monitor that died in between), or the
//!   helper sees a descriptor only the sandbox holds close.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
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
}

/// How to start a helper.
pub struct Spawn<'a> {
    pub name: &'static str,
    pub path: &'a Path,
    pub args: &'a [String],
    /// Variables set for it beside the monitor's own.
    pub env: Vec<(String, std::ffi::OsString)>,
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
    Ok(Child { name: s.name, pid: Pid::from_raw(child.id() as libc::pid_t), out })
}

/// What arrived on `fd` (empty: end of file), once something did, or
/// `None` when `deadline` passed first.
pub fn read_ready(fd: &OwnedFd, deadline: Instant) -> Result<Option<Vec<u8>>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as u32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SetupError::errno("poll", e)),
            Ok(0) if left.is_zero() => return Ok(None),
            Ok(0) => continue,
            Ok(_) => {}
        }
        let mut buf = [0u8; 64];
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            Ok(n) => return Ok(Some(buf[..n].to_vec())),
            Err(e) => return Err(SetupError::errno("read", e)),
        }
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
    /// status, in words.
    pub fn reap(&self, grace: Duration) -> String {
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

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&self, grace: Duration) {
        let _ = kill(self.pid, Signal::SIGTERM);
        self.reap(grace);
    }
}

/// The last meaningful line of a helper's output, or `otherwise`.
pub fn last_line<'a>(output: &'a str, otherwise: &'a str, noise: &dyn Fn(&str) -> bool) -> &'a str {
    output.lines().map(str::trim).filter(|l| !l.is_empty() && !noise(l)).last().unwrap_or(otherwise)
}
