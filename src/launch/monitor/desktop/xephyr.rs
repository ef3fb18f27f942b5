//! Xephyr for `--x11 nested`: an X server of the command's own, drawn in
//! one window on the session's display.
//!
//! It picks a free display number itself (`-displayfd`: written, with a
//! newline, once it accepts connections: the readiness signal), accepts
//! only clients with a fresh random cookie, which it reads from a memory
//! file (`-auth /proc/self/fd/N`: never on disk), listens on no TCP port,
//! and has no MIT-SHM (a client could name shared-memory segments of the
//! host's IPC namespace, where the server runs). When the run ends the
//! monitor removes its socket and kills it (SIGKILL, not waited for); when
//! the monitor dies it gets SIGTERM (PR_SET_PDEATHSIG), on which it
//! removes its socket itself. (With `-displayfd` it makes no lock file.)

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::desktop::x11;
use crate::launch::error::{Result, SetupError};
use crate::launch::monitor::helper::{self, Child, Spawn};
use crate::launch::{probe, Ctx};

pub struct Xephyr {
    child: Child,
    displayfd: OwnedFd,
    cookie: [u8; 16],
    /// The memory file Xephyr reads its cookie from.
    _auth: std::fs::File,
    /// Its display number, once it said it.
    number: Option<u32>,
    /// Wait for its exit when stopping it (see `helper`'s cgroup note).
    reap_on_stop: bool,
}

/// The nested display, once ready.
#[derive(Debug, Clone, Copy)]
pub struct Nested {
    pub number: u32,
    pub cookie: [u8; 16],
}

pub fn start(ctx: &Ctx, display: &str, xauthority: &Path, title: &str, reap_on_stop: bool) -> Result<Xephyr> {
    let path = probe::which("Xephyr").ok_or_else(|| {
        SetupError::new("--x11 nested", "Xephyr not found in PATH").hint("apt install xserver-xephyr")
    })?;
    let cookie = super::random_cookie()?;
    let mut auth = helper::memfd("xephyr-auth")?;
    auth.write_all(&x11::sandbox_auth(0, &cookie))
        .map_err(|e| SetupError::new("write Xephyr's cookie", e.to_string()))?;
    let (r, w) = helper::pipe()?;
    let auth_path = format!("/proc/self/fd/{}", auth.as_raw_fd());
    let args = x11::xephyr_args(w.as_raw_fd(), &auth_path, title);
    ctx.log("x11", &format!("{} {}", path.display(), args.join(" ")));
    let env = vec![("DISPLAY", display.into()), ("XAUTHORITY", xauthority.into())];
    let child = helper::spawn(Spawn {
        name: "Xephyr",
        path: &path,
        args: &args,
        env,
        keep: vec![w.as_raw_fd(), auth.as_raw_fd()],
        deathsig: Some(Signal::SIGTERM),
    })?;
    drop(w);
    Ok(Xephyr { child, displayfd: r, cookie, _auth: auth, number: None, reap_on_stop })
}

impl Xephyr {
    pub fn pid(&self) -> nix::unistd::Pid {
        self.child.pid
    }

    /// Waits for the display number, Xephyr's exit, or the deadline.
    pub fn wait(&mut self, deadline: Instant) -> Result<Nested> {
        let failed = |otherwise: &str| {
            let out = self.child.output();
            let noise = |l: &str| {
                l.starts_with('(') || l.contains("XKEYBOARD") || l.starts_with("Errors from xkbcomp")
            };
            SetupError::new(
                format!("start {}", self.child.name),
                crate::escape::str(helper::last_line(&out, otherwise, &noise)),
            )
        };
        let mut got = Vec::new();
        loop {
            match helper::read_ready(&self.displayfd, deadline)? {
                None => return Err(failed(&format!("not ready after {} s", super::READY_TIMEOUT.as_secs()))),
                Some(b) if b.is_empty() => return Err(failed(&self.child.reap(Duration::from_secs(2)))),
                Some(b) => got.extend(b),
            }
            if let Some(n) = x11::parse_displayfd(&got) {
                let number = n.map_err(|e| SetupError::new("start Xephyr", e))?;
                self.number = Some(number);
                return Ok(Nested { number, cookie: self.cookie });
            }
        }
    }
}

impl Drop for Xephyr {
    /// Its socket removed first, while it still holds the display number
    /// (its abstract socket), so no other server's can be there; then
    /// SIGKILL, not waited for.
    fn drop(&mut self) {
        if let Some(n) = self.number {
            let path = x11::socket(n);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| {
                std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())
                    && std::os::unix::fs::MetadataExt::uid(&m) == nix::unistd::geteuid().as_raw()
            }) {
                let _ = std::fs::remove_file(path);
            }
        }
        self.child.kill(self.reap_on_stop);
    }
}
