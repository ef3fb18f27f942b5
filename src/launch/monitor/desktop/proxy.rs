//! xdg-dbus-proxy for `--dbus` (see `crate::desktop::dbus` for its
//! policy and command line).
//!
//! Its sockets are made in the host's `$XDG_RUNTIME_DIR` (a directory of
//! the user's, mode 0700 by the base directory specification: nobody else
//! can reach them there), named after the monitor's pid. The proxy gets the
//! write end of a pipe on `--fd`: it writes one byte there once it
//! listens, and exits, removing its sockets, when the read end closes. Only
//! the monitor and init hold the read end, so the proxy ends with the
//! sandbox, also when the monitor is killed with SIGKILL (init dies with
//! it, and the kernel closes both). It gets no PR_SET_PDEATHSIG: being
//! killed, it would leave its sockets behind. At the end of a run the
//! monitor kills it (SIGKILL, not waited for) and removes its sockets.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::desktop::dbus::{self, Upstream};
use crate::launch::error::{Result, SetupError};
use crate::launch::monitor::helper::{self, Child, Spawn};
use crate::launch::{probe, Ctx};
use crate::plan::desktop::{Bus, HelperFile};

pub struct Proxy {
    child: Child,
    /// The read end of the `--fd` pipe: closing it ends the proxy.
    sync: Option<OwnedFd>,
    session: Option<PathBuf>,
    system: Option<PathBuf>,
    /// Wait for its exit when stopping it (see `helper`'s cgroup note).
    reap_on_stop: bool,
}

/// The socket directory must be a directory of the user's (not a symlink).
fn check_dir(dir: &Path) -> Result<()> {
    let shown = crate::escape::path(dir);
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| SetupError::new(format!("--dbus: {shown}"), e.to_string()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        return Err(SetupError::new(
            format!("--dbus: {shown}"),
            "is not a directory of yours (XDG_RUNTIME_DIR)",
        ));
    }
    Ok(())
}

/// Starts the proxy for `bus`; [`Proxy::wait`] waits until it listens.
pub fn start(ctx: &Ctx, bus: &Bus, reap_on_stop: bool) -> Result<Proxy> {
    let path = probe::which("xdg-dbus-proxy").ok_or_else(|| {
        SetupError::new("--dbus", "xdg-dbus-proxy not found in PATH").hint("apt install xdg-dbus-proxy")
    })?;
    check_dir(&bus.socket_dir)?;
    let pid = std::process::id();
    let session = bus.policy.session().then(|| bus.socket_dir.join(format!(".sandbox-{pid}-bus")));
    let system = bus.system.as_ref().map(|_| bus.socket_dir.join(format!(".sandbox-{pid}-system-bus")));
    let (sync_r, sync_w) = helper::pipe()?;
    let s = session.as_ref().map(|p| p.to_string_lossy().into_owned());
    let y = system.as_ref().map(|p| p.to_string_lossy().into_owned());
    let args = dbus::proxy_args(
        &bus.policy,
        s.as_deref().map(|l| Upstream { address: &bus.session, listen: l }),
        bus.system.as_deref().zip(y.as_deref()).map(|(address, listen)| Upstream { address, listen }),
        sync_w.as_raw_fd(),
    );
    ctx.log("dbus", &format!("{} {}", path.display(), args.join(" ")));
    let child = helper::spawn(Spawn {
        name: "xdg-dbus-proxy",
        path: &path,
        args: &args,
        env: Vec::new(),
        keep: vec![sync_w.as_raw_fd()],
        deathsig: None,
    })?;
    drop(sync_w);
    Ok(Proxy { child, sync: Some(sync_r), session, system, reap_on_stop })
}

impl Proxy {
    pub fn pid(&self) -> nix::unistd::Pid {
        self.child.pid
    }

    /// Waits for the proxy's byte (it listens then), its exit, or the deadline.
    pub fn wait(&self, deadline: Instant) -> Result<()> {
        let sync = self.sync.as_ref().expect("open until drop");
        let failed = |otherwise: &str| {
            let out = self.child.output();
            let line = helper::last_line(&out, otherwise, &|_| false);
            SetupError::new(format!("start {}", self.child.name), crate::escape::str(line))
        };
        match helper::read_ready(sync, deadline)? {
            Some(b) if !b.is_empty() => Ok(()),
            Some(_) => Err(failed(&self.child.reap(Duration::from_secs(2)))),
            None => Err(failed(&format!("not ready after {} s", super::READY_TIMEOUT.as_secs()))),
        }
    }

    /// Where the socket of the bus `what` is on the host.
    pub fn socket(&self, what: HelperFile) -> PathBuf {
        match what {
            HelperFile::SystemBus => self.system.clone(),
            _ => self.session.clone(),
        }
        .expect("the plan asks only for the buses it proxies")
    }
}

impl Drop for Proxy {
    /// Its sockets removed (what is still a socket of ours), then SIGKILL,
    /// not waited for: killed, it could not remove them itself.
    fn drop(&mut self) {
        for p in self.session.iter().chain(&self.system) {
            if std::fs::symlink_metadata(p).is_ok_and(|m| {
                std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())
                    && m.uid() == nix::unistd::geteuid().as_raw()
            }) {
                let _ = std::fs::remove_file(p);
            }
        }
        self.child.kill(self.reap_on_stop);
        drop(self.sync.take());
    }
}
