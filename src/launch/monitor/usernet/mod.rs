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

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::helper::{self, pipe, Child, Spawn};
use crate::launch::error::{Result, SetupError};
use crate::launch::{probe, Ctx};
use crate::plan::network::{Backend, UserNet as Plan};

mod args;
mod slirp_api;

/// How long a backend may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running backend; dropping it stops it.
pub struct UserNet {
    child: Child,
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
    let deathsig = Some(Signal::SIGKILL);
    let child = helper::spawn(Spawn { name, path: &path, args: &args, env: Vec::new(), keep, deathsig })?;
    drop(ready_w);
    let (exit, api) = slirp.map_or((None, None), |s| (Some(s.exit_w), s.api));
    let net = UserNet { child, exit, reap_on_stop };
    Ok(Some(Starting { net, ready: ready_r, api, publish: plan.publish.clone() }))
}

impl Starting {
    /// Waits until the backend is ready, then publishes the ports (slirp4netns).
    pub fn ready(self, ctx: &Ctx) -> Result<UserNet> {
        let Starting { net, ready, api, publish } = self;
        wait_ready(&net.child, &ready)?;
        ctx.log("network", &format!("{} ready", net.child.name));
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

/// Waits for the backend's first word on `ready`, its exit, or the timeout.
fn wait_ready(child: &Child, ready: &OwnedFd) -> Result<()> {
    match helper::read_ready(ready, Instant::now() + READY_TIMEOUT)? {
        Some(word) if !word.is_empty() => Ok(()),
        Some(_) => {
            let status = child.reap(Duration::from_secs(2));
            Err(failure(child.name, &child.output(), &status))
        }
        None => {
            let secs = READY_TIMEOUT.as_secs();
            Err(failure(child.name, &child.output(), &format!("not ready after {secs} s")))
        }
    }
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
    /// The helper's pid.
    pub fn pid(&self) -> Pid {
        self.child.pid
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
        self.child.kill(self.reap_on_stop);
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
