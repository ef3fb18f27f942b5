//! User-mode networking (`--net user`): the monitor runs pasta or
//! slirp4netns against the sandbox's network namespace.
//!
//! Kernel and program rules this relies on:
//! - The backend needs init's namespaces (`/proc/PID/ns/{user,net}`), which
//!   exist once clone returns, and joins the user namespace to configure the
//!   network one; so it starts after the uid/gid maps are written, just
//!   before init is released, and configures the namespace while init
//!   builds the root. init waits for the monitor's word that it is ready
//!   before it forks the command: the command never sees a half-configured
//!   network.
//! - Ready means the backend said so, never a sleep: pasta writes its pid
//!   file (a pipe we pass it as `/proc/self/fd/N`) once the namespace is
//!   configured; slirp4netns writes "1" to `--ready-fd`. An EOF instead means
//!   it gave up; its output (kept in a memfd) then becomes the error.
//! - Stopping: when the sandbox ends, the [`UserNet`] guard closes
//!   slirp4netns's `--exit-fd` and sends SIGKILL, without waiting for the
//!   exit to finish (unless a cgroup leaf must be emptied first).
//!   When the monitor itself is killed (-9) no code of ours runs, so the
//!   kernel does it: the backend is started with PR_SET_PDEATHSIG(SIGKILL)
//!   (set in the child before exec, then getppid() checked against a monitor
//!   that died in between), and slirp4netns also sees its `--exit-fd` close.
//!   pasta does not exit when the namespace's last process does: it holds
//!   the namespace open itself, so without these it would run forever.
//! - The backend gets its own process group, so a terminal's ^C reaches the
//!   command (through the monitor) and not the network.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::launch::error::{Context, Result, SetupError};
use crate::launch::{probe, Ctx};
use crate::plan::network::{Backend, UserNet as Plan};

mod args;
mod slirp_api;

/// How long a backend may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running backend; dropping it stops it.
pub struct UserNet {
    name: &'static str,
    pid: Pid,
    /// slirp4netns's `--exit-fd` peer: closing it ends slirp4netns.
    exit: Option<OwnedFd>,
    /// Wait for its exit when stopping it: it runs in the monitor's cgroup
    /// leaf, which is removed after it (see [`UserNet::drop`]).
    reap_on_stop: bool,
}

/// A backend started and not yet ready.
pub struct Starting {
    net: UserNet,
    ready: OwnedFd,
    out: File,
    api: Option<slirp_api::ApiDir>,
    publish: Vec<crate::plan::network::Publish>,
}

/// Starts the plan's user-mode network for `init`, if it has one, without
/// waiting for it: it configures the namespace while init builds the root
/// ([`Starting::ready`] waits). `reap_on_stop`: see [`UserNet`].
pub fn spawn(ctx: &Ctx, init: libc::pid_t, reap_on_stop: bool) -> Result<Option<Starting>> {
    let Some(plan) = &ctx.plan.network.user else { return Ok(None) };
    let (backend, path) = find(plan.backend)?;
    let name = backend.name();
    let out = memfd(name)?;
    let (ready_r, ready_w) = pipe()?;
    let (args, slirp) = match backend {
        Backend::Slirp4netns => {
            let (args, extra) = slirp4netns(plan, init, ready_w.as_raw_fd())?;
            (args, Some(extra))
        }
        _ => (args::pasta(plan, init, ready_w.as_raw_fd()), None),
    };
    ctx.log("network", &format!("{} {}", path.display(), args.join(" ")));
    let mut keep = vec![ready_w.as_raw_fd()];
    keep.extend(slirp.as_ref().map(|s| s.exit_r.as_raw_fd()));
    let pid = spawn_backend(&path, &args, &out, keep)?;
    drop(ready_w);
    let (exit, api) = slirp.map_or((None, None), |s| (Some(s.exit_w), s.api));
    let net = UserNet { name, pid, exit, reap_on_stop };
    Ok(Some(Starting { net, ready: ready_r, out, api, publish: plan.publish.clone() }))
}

impl Starting {
    /// Waits until the backend is ready, then publishes the ports (slirp4netns).
    pub fn ready(self, ctx: &Ctx) -> Result<UserNet> {
        let Starting { net, ready, out, api, publish } = self;
        wait_ready(&net, &ready, &out)?;
        ctx.log("network", &format!("{} ready", net.name));
        ctx.pause("user-net");
        if let Some(api) = api {
            for p in &publish {
                ctx.log("network", &format!("publish {p}"));
                api.add_hostfwd(p)?;
            }
            // Dropping `api` removes the socket's name and directory.
        }
        Ok(net)
    }
}

/// What slirp4netns needs besides its arguments: the `--exit-fd` pipe and,
/// for published ports, the API socket's directory.
struct Slirp {
    exit_r: OwnedFd,
    exit_w: OwnedFd,
    api: Option<slirp_api::ApiDir>,
}

fn slirp4netns(plan: &Plan, init: libc::pid_t, ready_fd: RawFd) -> Result<(Vec<String>, Slirp)> {
    if let Some(p) = plan.publish.iter().find(|p| p.host_ip.is_ipv6()) {
        return Err(SetupError::new(format!("publish {p}"), "slirp4netns publishes on IPv4 only")
            .hint("install pasta (apt install passt) or publish on an IPv4 address"));
    }
    let (exit_r, exit_w) = pipe()?;
    let api = if plan.publish.is_empty() { None } else { Some(slirp_api::ApiDir::create()?) };
    let ipv6 =
        args::has_ipv6_default_route(&std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default());
    let sock = api.as_ref().map(|a| a.socket());
    let args = args::slirp4netns(plan, init, (ready_fd, exit_r.as_raw_fd()), sock.as_deref(), ipv6);
    Ok((args, Slirp { exit_r, exit_w, api }))
}

/// The backend to run and where it is.
fn find(backend: Backend) -> Result<(Backend, PathBuf)> {
    let which = |b: Backend| probe::which(b.name()).map(|p| (b, p));
    let found = match backend {
        Backend::Auto => which(Backend::Pasta).or_else(|| which(Backend::Slirp4netns)),
        b => which(b),
    };
    found.ok_or_else(|| match backend {
        Backend::Auto => {
            SetupError::new("user-mode networking", "neither pasta nor slirp4netns found in PATH")
                .hint("apt install passt (or slirp4netns)")
        }
        Backend::Pasta => SetupError::new("pasta", "not found in PATH")
            .hint("apt install passt, or use --net user:slirp4netns"),
        Backend::Slirp4netns => SetupError::new("slirp4netns", "not found in PATH")
            .hint("apt install slirp4netns, or use --net user:pasta"),
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).what(|| "pipe".into())
}

/// A memory file for the backend's stdout and stderr.
fn memfd(name: &str) -> Result<File> {
    let fd = nix::sys::memfd::memfd_create(
        &std::ffi::CString::new(format!("sandbox-{name}")).expect("no NUL"),
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .what(|| "memfd_create".into())?;
    Ok(File::from(fd))
}

fn spawn_backend(path: &Path, args: &[String], out: &File, keep: Vec<RawFd>) -> Result<Pid> {
    let what = || format!("start {}", path.display());
    let io =
        |e: std::io::Error| SetupError::errno(what(), Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    let mut cmd = Command::new(path);
    cmd.args(args.iter().map(OsString::from))
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io)?)
        .stderr(out.try_clone().map_err(io)?)
        .process_group(0);
    let monitor = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child of a single-threaded
    // monitor before exec; it only makes system calls (sigprocmask, prctl,
    // getppid, fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // The monitor blocks the signals it takes with sigwait; the
            // mask is inherited across exec and std does not reset it.
            SigSet::empty().thread_set_mask()?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != monitor {
                return Err(Errno::ESRCH.into());
            }
            for &fd in &keep {
                fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(io)?;
    Ok(Pid::from_raw(child.id() as libc::pid_t))
}

/// Waits for the backend's first word on `ready`, its exit, or the timeout.
fn wait_ready(net: &UserNet, ready: &OwnedFd, out: &File) -> Result<()> {
    let what = || format!("start {}", net.name);
    let end = Instant::now() + READY_TIMEOUT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as u32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SetupError::errno(what(), e)),
            Ok(0) if left.is_zero() => {
                let secs = READY_TIMEOUT.as_secs();
                return Err(failure(net.name, &output(out), &format!("not ready after {secs} s")));
            }
            Ok(0) => continue,
            Ok(_) => {}
        }
        let mut buf = [0u8; 64];
        match nix::unistd::read(ready.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) => {
                let status = net.reap(Duration::from_secs(2));
                return Err(failure(net.name, &output(out), &status));
            }
            Err(e) => return Err(SetupError::errno(what(), e)),
        }
    }
}

/// The last 16 KiB the backend printed (its writes moved the shared file
/// offset, so read at explicit ones).
fn output(out: &File) -> String {
    let len = out.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(16 * 1024);
    let mut buf = vec![0u8; (len - start) as usize];
    let mut got = 0;
    while got < buf.len() {
        match out.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    String::from_utf8_lossy(&buf[..got]).into_owned()
}

/// The error for a backend that did not come up: its last meaningful line,
/// and a hint where the cause is known.
pub fn failure(name: &str, output: &str, otherwise: &str) -> SetupError {
    let noise = |l: &&str| {
        l.is_empty()
            || (l.starts_with("Failed to send") && l.ends_with("to syslog"))
            || l.starts_with("WARNING:")
    };
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !noise(l)).collect();
    let cause = lines.iter().rev().find(|l| !l.starts_with("child failed")).copied().unwrap_or(otherwise);
    let err = SetupError::new(format!("start {name}"), crate::escape::str(cause));
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    if has("/dev/net/tun") || has("tun socket") {
        err.hint(
            "/dev/net/tun is not usable by you: make it mode 0666 as udev does on a standard \
             install (sudo chmod 0666 /dev/net/tun)",
        )
    } else if has("No external routable interface") || has("External interface not usable") {
        err.hint("pasta copies the host's addresses and routes, and the host has no default route: use --net user:slirp4netns")
    } else if has("Failed to bind") || has("Address already in use") {
        err.hint("a published host port is in use or not allowed (ports below 1024 need privileges)")
    } else {
        err
    }
}

impl UserNet {
    /// Waits up to `grace` for the backend to exit, then kills it; its
    /// status, in words.
    fn reap(&self, grace: Duration) -> String {
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
}

impl UserNet {
    /// The helper's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

impl Drop for UserNet {
    /// Stops the backend once the command's status is known: SIGKILL (it
    /// keeps no state worth a clean exit: pasta's pid file is our pipe,
    /// slirp4netns's API socket is gone already), and no waiting for its
    /// exit to finish, which took pasta tens of milliseconds after SIGTERM;
    /// when the monitor exits, the kernel reaps it. Only where the
    /// monitor's cgroup leaf is removed after it is it waited for (a
    /// cgroup with a process in it cannot be removed).
    fn drop(&mut self) {
        drop(self.exit.take());
        let _ = kill(self.pid, Signal::SIGKILL);
        if self.reap_on_stop {
            let _ = waitpid(self.pid, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::failure;

    #[test]
    fn failures_become_one_line_with_a_hint() {
        let pasta = "Failed to send 46 bytes to syslog\nNo external routable interface for IPv6\n\
                     Failed to send 36 bytes to syslog\nFailed to open tun socket in namespace\n";
        let e = failure("pasta", pasta, "exited with status 1");
        assert_eq!(e.what, "start pasta");
        assert_eq!(e.cause, "Failed to open tun socket in namespace");
        assert!(e.hint.unwrap().contains("chmod 0666 /dev/net/tun"));
        let slirp = "open(\"/dev/net/tun\"): Permission denied\nchild failed(1)\n";
        let e = failure("slirp4netns", slirp, "exited with status 1");
        assert_eq!(e.cause, "open(\"/dev/net/tun\"): Permission denied");
        assert!(e.hint.is_some());
        let e = failure("pasta", "Failed to bind any port for '-t 127.0.0.1/80:80', exiting\n", "x");
        assert!(e.hint.unwrap().contains("in use"));
        let e = failure("pasta", "", "exited with status 1");
        assert_eq!((e.cause.as_str(), e.hint), ("exited with status 1", None));
    }
}
