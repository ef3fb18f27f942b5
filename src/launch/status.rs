//! What the monitor tells a supervisor: JSON lines on `--status-fd` and the
//! command's pid in `--pid-file`.
//!
//! The status fd gets two lines, in the format of bubblewrap's
//! `--json-status-fd` (same keys, same spacing; readers ignore keys they do
//! not know):
//!
//! ```text
//! { "child-pid": 4242, "command-pid": 4243, "cgroup-namespace": 4026532…, … "uts-namespace": 4026532… }
//! { "exit-code": 143, "signal": 15 }
//! ```
//!
//! - the first once the command has been exec'd: `child-pid` is init (pid 1
//!   inside; a signal to it is passed on to the command), `command-pid` the
//!   command, both as the host sees them; then the inode of each namespace
//!   the sandbox has of its own (mnt always), in bubblewrap's order;
//! - the second when the sandbox has ended: `exit-code` is sandbox's own exit
//!   status; `signal` is there when the command was killed by a signal, and
//!   `"timed-out": true` when `--timeout` ended it.
//!
//! A setup failure writes no line (the error goes to stderr, status 125).
//! The pid file is made (empty) before anything starts, holds the command's
//! pid while it runs (written before the first status line), and is removed
//! at the end.

use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::errno::Errno;

use super::error::{Result, SetupError};
use super::{sys, Ctx};
use crate::escape;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// sandbox's exit status.
    pub code: u8,
    /// The signal that killed the command, if one did.
    pub signal: Option<i32>,
    pub timed_out: bool,
}

/// The first line.
pub fn start_line(child: u32, command: Option<u32>, ns: &[(&str, u64)]) -> String {
    let mut s = format!("{{ \"child-pid\": {child}");
    if let Some(c) = command {
        s.push_str(&format!(", \"command-pid\": {c}"));
    }
    for (name, id) in ns {
        s.push_str(&format!(", \"{name}-namespace\": {id}"));
    }
    s.push_str(" }\n");
    s
}

/// The last line.
pub fn end_line(o: &Outcome) -> String {
    let mut s = format!("{{ \"exit-code\": {}", o.code);
    if let Some(sig) = o.signal {
        s.push_str(&format!(", \"signal\": {sig}"));
    }
    if o.timed_out {
        s.push_str(", \"timed-out\": true");
    }
    s.push_str(" }\n");
    s
}

/// The status fd and pid file of one run.
pub struct Reporter {
    fd: Option<i32>,
    pid_file: Option<PathBuf>,
    ns: Vec<(&'static str, u64)>,
    started: bool,
    written: Option<String>,
}

impl Reporter {
    /// Checks that the status fd is open and makes the pid file (empty), so
    /// that a mistake in either stops the run before anything is started.
    pub fn new(ctx: &Ctx) -> Result<Reporter> {
        let l = &ctx.plan.limits;
        if let Some(fd) = l.status_fd {
            if !sys::fd_is_open(fd) {
                return Err(SetupError::errno(format!("--status-fd {fd}"), Errno::EBADF));
            }
        }
        let mut written = None;
        if let Some(path) = &l.pid_file {
            std::fs::write(path, "").map_err(|e| {
                let what = format!("--pid-file {}", escape::path(path));
                SetupError::errno(what, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            })?;
            written = Some(String::new());
        }
        Ok(Reporter {
            fd: l.status_fd,
            pid_file: l.pid_file.clone(),
            ns: Vec::new(),
            started: false,
            written,
        })
    }

    /// Reads init's namespace ids, while init may still be inspected.
    pub fn namespaces(&mut self, ctx: &Ctx, init: u32) {
        if self.fd.is_none() {
            return;
        }
        let ns = &ctx.plan.namespaces;
        for (name, own) in [
            ("cgroup", ns.cgroup),
            ("ipc", ns.ipc),
            ("mnt", true),
            ("net", ns.net),
            ("pid", ns.pid),
            ("uts", ns.uts),
        ] {
            if let (true, Ok(m)) = (own, std::fs::metadata(format!("/proc/{init}/ns/{name}"))) {
                self.ns.push((name, m.ino()));
            }
        }
    }

    /// The command has been exec'd: the pid file first, so that it is in
    /// place when a supervisor reads the status line.
    pub fn started(&mut self, init: u32, command: Option<u32>) {
        self.started = true;
        if let Some(path) = &self.pid_file {
            let text = format!("{}\n", command.unwrap_or(init));
            match std::fs::write(path, &text) {
                Ok(()) => self.written = Some(text),
                Err(e) => {
                    let cause =
                        super::error::strerror(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
                    eprintln!("sandbox: warning: --pid-file {}: {cause}", escape::path(path));
                }
            }
        }
        self.write(&start_line(init, command, &self.ns));
    }

    /// The sandbox has ended; nothing is written if the command never started.
    pub fn ended(&mut self, o: &Outcome) {
        if self.started {
            self.write(&end_line(o));
        }
    }

    fn write(&self, line: &str) {
        let Some(fd) = self.fd else { return };
        // SAFETY: the caller's fd, checked open in `new`; the monitor never
        // closes it, so it outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut rest = line.as_bytes();
        while !rest.is_empty() {
            match nix::unistd::write(fd, rest) {
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => {}
                // A supervisor that closed its end does not stop the run.
                Err(_) => return,
            }
        }
    }
}

impl Drop for Reporter {
    /// Removes the pid file if it still holds what was written.
    fn drop(&mut self) {
        if let (Some(path), Some(text)) = (&self.pid_file, &self.written) {
            if std::fs::read_to_string(path).ok().as_ref() == Some(text) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_bubblewraps_format() {
        let line = start_line(42, Some(43), &[("mnt", 4026531841), ("pid", 4026531836)]);
        assert_eq!(
            line,
            "{ \"child-pid\": 42, \"command-pid\": 43, \"mnt-namespace\": 4026531841, \"pid-namespace\": 4026531836 }\n"
        );
        assert_eq!(start_line(7, None, &[]), "{ \"child-pid\": 7 }\n");
        let ok = Outcome { code: 0, signal: None, timed_out: false };
        assert_eq!(end_line(&ok), "{ \"exit-code\": 0 }\n");
        let killed = Outcome { code: 124, signal: Some(9), timed_out: true };
        assert_eq!(end_line(&killed), "{ \"exit-code\": 124, \"signal\": 9, \"timed-out\": true }\n");
        for l in [line, end_line(&killed)] {
            serde_json::from_str::<serde_json::Value>(&l).expect("valid JSON");
        }
    }
}
