//! What the monitor tells a supervisor: JSON on a status fd, and the
//! command's pid in `--pid-file`. One writer, in bubblewrap's formats (same
//! keys, same spacing; readers ignore keys they do not know), in the
//! Plan's two styles (`StatusStyle`).
//!
//! `Full`, two lines:
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
//!   `"timed-out": true` when the time-out ended it.
//!
//! `Early`, byte for byte as bubblewrap writes its `--json-status-fd` and
//! when: once the sandbox exists, before it is released, the first line
//! without `command-pid` (a failed write stops the run); at the end
//! `{ "exit-code": N }`, only if the command was executed; then the fd is
//! closed. The info fd gets the first line's object pretty-printed, at
//! the same moment, and is closed.
//!
//! Namespace ids are the inode numbers of `/proc/<pid>/ns/<name>`, always in
//! the order cgroup, ipc, mnt, net, pid, uts; the user namespace is never
//! listed (they are read before init may move into a nested one).
//!
//! A setup failure writes no exit line (the error goes to stderr). The pid
//! file is opened once, before anything starts, without following a
//! symlink and only if it is a regular file of the caller's with no other
//! hard link (created 0600 if absent; see `hostfile.rs`): it often sits in
//! the shared current directory, where the command could swap it for a
//! link to `~/.bashrc`. It is emptied and written through that descriptor
//! only, holds the command's pid while it runs (written before the full
//! first line), and its name is removed at the end if it still is that
//! file with that content.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::egress::report::Event;
use crate::egress::serve::Report;
use crate::escape;
use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::sys::write_all;
use crate::launch::{hostfile, sys, Ctx};
use crate::plan::limits::StatusStyle;
use crate::plan::network::ReportTo;
use crate::plan::Namespaces;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// sandbox's exit status.
    pub code: u8,
    /// The signal that killed the command, if one did.
    pub signal: Option<i32>,
    pub timed_out: bool,
}

/// `(name, inode)` of each namespace to report, in bubblewrap's order.
pub type NsIds = Vec<(&'static str, u64)>;

/// The ids of `pid`'s namespaces that `ns` says are the sandbox's own.
/// A namespace whose id cannot be read is left out, as bubblewrap does.
pub fn namespace_ids(pid: u32, ns: &Namespaces) -> NsIds {
    [("cgroup", ns.cgroup), ("ipc", ns.ipc), ("mnt", true), ("net", ns.net), ("pid", ns.pid), ("uts", ns.uts)]
        .into_iter()
        .filter(|(_, own)| *own)
        .filter_map(|(name, _)| {
            let meta = std::fs::metadata(format!("/proc/{pid}/ns/{name}")).ok()?;
            Some((name, meta.ino()))
        })
        .collect()
}

/// A flat JSON object of already-encoded values, spaced as bubblewrap
/// spaces it: `{ "k": v, … }\n` on one line, or one key per line indented
/// by four (`--info-fd`).
fn object(pairs: &[(String, String)], pretty: bool) -> String {
    let (open, sep, close) = if pretty { ("{\n    ", ",\n    ", "\n}\n") } else { ("{ ", ", ", " }\n") };
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    format!("{open}{}{close}", body.join(sep))
}

/// The keys of the first report: child pid, command pid (native only),
/// namespace ids.
fn start_pairs(child: u32, command: Option<u32>, ns: &[(&str, u64)]) -> Vec<(String, String)> {
    let mut pairs = vec![("child-pid".to_string(), child.to_string())];
    pairs.extend(command.map(|c| ("command-pid".to_string(), c.to_string())));
    pairs.extend(ns.iter().map(|(name, id)| (format!("{name}-namespace"), id.to_string())));
    pairs
}

/// The first status line.
pub fn start_line(child: u32, command: Option<u32>, ns: &[(&str, u64)]) -> String {
    object(&start_pairs(child, command, ns), false)
}

/// The `--info-fd` object: the first line's keys, pretty-printed.
pub fn info_object(child: u32, ns: &[(&str, u64)]) -> String {
    object(&start_pairs(child, None, ns), true)
}

/// The last status line. bubblewrap's is `{ "exit-code": N }` (an
/// [`Outcome`] without signal or time-out).
pub fn end_line(o: &Outcome) -> String {
    let mut pairs = vec![("exit-code".to_string(), o.code.to_string())];
    pairs.extend(o.signal.map(|s| ("signal".to_string(), s.to_string())));
    if o.timed_out {
        pairs.push(("timed-out".to_string(), "true".to_string()));
    }
    object(&pairs, false)
}

/// The status fds, pid file and egress report of one run.
pub struct Reporter {
    /// The egress report (`--report-fd`, `--report-file`), which also gets
    /// the start and the end.
    report: Option<Report>,
    /// The status fd.
    fd: Option<i32>,
    /// The info fd.
    info_fd: Option<i32>,
    /// Early: bubblewrap's keys and moments.
    early: bool,
    pid_file: Option<PidFile>,
    ns: NsIds,
    started: bool,
}

/// `--pid-file`: its name, the file opened once, what was written to it.
struct PidFile {
    path: PathBuf,
    file: File,
    written: String,
}

impl PidFile {
    /// Opens the file (see the module's notes) and empties it.
    fn open(path: &Path) -> Result<PidFile> {
        let what = || format!("--pid-file {}", escape::path(path));
        let file = hostfile::open_file(path).map_err(|cause| SetupError::new(what(), cause))?;
        file.set_len(0).map_err(|e| SetupError::new(what(), escape::cause(&e)))?;
        Ok(PidFile { path: path.to_path_buf(), file, written: String::new() })
    }

    /// Replaces the content with `text`, through the descriptor.
    fn write(&mut self, text: String) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.write_all_at(text.as_bytes(), 0)?;
        self.written = text;
        Ok(())
    }

    /// Whether the name still is this file, holding what was written.
    fn unchanged(&self) -> bool {
        let mut buf = vec![0u8; self.written.len() + 1];
        let n = self.file.read_at(&mut buf, 0).unwrap_or(usize::MAX);
        hostfile::is_same(&self.path, &self.file) && buf.get(..n) == Some(self.written.as_bytes())
    }
}

impl Reporter {
    /// Checks that a full status fd is open and makes the pid file
    /// (empty), so that a mistake in either stops the run before anything
    /// is started.
    pub fn new(ctx: &Ctx) -> Result<Reporter> {
        let l = &ctx.plan.limits;
        let early = l.status_style == StatusStyle::Early;
        if let Some(fd) = l.status_fd.filter(|_| !early) {
            if !sys::fd_is_open(fd) {
                return Err(SetupError::errno(format!("--status-fd {fd}"), Errno::EBADF));
            }
        }
        let pid_file = l.pid_file.as_deref().map(PidFile::open).transpose()?;
        let report =
            ctx.plan.network.user.as_ref().and_then(|u| u.report.as_ref()).map(open_report).transpose()?;
        Ok(Reporter {
            report,
            fd: l.status_fd,
            info_fd: l.info_fd,
            early,
            pid_file,
            ns: Vec::new(),
            started: false,
        })
    }

    /// The egress report, for the DNS filter and the refusal reader.
    pub fn report(&self) -> Report {
        self.report.clone().unwrap_or_default()
    }

    /// Reads init's namespace ids, while init may still be inspected.
    pub fn namespaces(&mut self, ctx: &Ctx, init: u32) {
        if self.fd.is_some() || self.info_fd.is_some() {
            self.ns = namespace_ids(init, &ctx.plan.namespaces);
        }
    }

    /// The sandbox exists and is not yet released: the moment for the info
    /// fd (then closed) and the early first line. A failed write stops the
    /// run.
    pub fn created(&mut self, init: u32) -> Result<()> {
        let dump = |fd: i32, text: &str| {
            write_all(fd, text)
                .map_err(|e| SetupError::errno(format!("write status fd {fd}"), e).kind(Kind::StatusWrite))
        };
        if let Some(fd) = self.info_fd.take() {
            dump(fd, &info_object(init, &self.ns))?;
            let _ = nix::unistd::close(fd);
        }
        if let Some(fd) = self.fd.filter(|_| self.early) {
            dump(fd, &start_line(init, None, &self.ns))?;
        }
        Ok(())
    }

    /// The command has been exec'd: the pid file first, so that it is in
    /// place when a supervisor reads the status line.
    /// Whether [`Reporter::started`] writes the command's pid anywhere.
    pub fn wants_command_pid(&self) -> bool {
        self.pid_file.is_some() || (self.fd.is_some() && !self.early)
    }

    pub fn started(&mut self, init: u32, command: Option<u32>) {
        self.started = true;
        if let Some(pf) = &mut self.pid_file {
            if let Err(e) = pf.write(format!("{}\n", command.unwrap_or(init))) {
                eprintln!("sandbox: warning: --pid-file {}: {}", escape::path(&pf.path), escape::cause(&e));
            }
        }
        if !self.early {
            self.write(&start_line(init, command, &self.ns));
        }
        if let Some(r) = &self.report {
            r.event(&Event::Start { child_pid: init, command_pid: command.unwrap_or(init) });
        }
    }

    /// The sandbox has ended; nothing is written if the command never
    /// started. An early status fd is closed after its last line.
    pub fn ended(&mut self, o: &Outcome) {
        if let Some(r) = self.report.as_ref().filter(|_| self.started) {
            r.summarize();
            r.event(&Event::Exit { exit_code: o.code, signal: o.signal, timed_out: o.timed_out });
        }
        if self.started {
            let o = if self.early { Outcome { code: o.code, signal: None, timed_out: false } } else { *o };
            self.write(&end_line(&o));
        }
        if let Some(fd) = self.fd.take().filter(|_| self.early) {
            let _ = nix::unistd::close(fd);
        }
    }

    /// A supervisor that closed its end does not stop the run.
    fn write(&self, line: &str) {
        if let Some(fd) = self.fd {
            let _ = write_all(fd, line);
        }
    }
}

/// Opens the egress report: a descriptor of the caller's (a copy, closed
/// on exec, written by the monitor alone), or a host file opened as the
/// pid file is, emptied.
fn open_report(to: &ReportTo) -> Result<Report> {
    let what = || to.to_string();
    let file = match to {
        ReportTo::Fd(fd) => {
            if !sys::fd_is_open(*fd) {
                return Err(SetupError::errno(what(), Errno::EBADF));
            }
            let copy = nix::fcntl::fcntl(*fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
                .map_err(|e| SetupError::errno(what(), e))?;
            // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor nothing else owns.
            File::from(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(copy) })
        }
        ReportTo::File(path) => {
            let file = hostfile::open_file(path).map_err(|cause| SetupError::new(what(), cause))?;
            file.set_len(0).map_err(|e| SetupError::new(what(), escape::cause(&e)))?;
            file
        }
    };
    Ok(Report::new(Some(file)))
}

impl Drop for Reporter {
    /// Removes the pid file's name if it still is the file opened, holding
    /// what was written.
    fn drop(&mut self) {
        if let Some(pf) = self.pid_file.take().filter(PidFile::unchanged) {
            let _ = std::fs::remove_file(&pf.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_lines_in_bubblewraps_format() {
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

    #[test]
    fn early_formats_match_bubblewrap_to_the_byte() {
        let ids = [("ipc", 4026532181u64), ("mnt", 4026532180), ("pid", 4026532182)];
        assert_eq!(
            info_object(12345, &ids),
            "{\n    \"child-pid\": 12345,\n    \"ipc-namespace\": 4026532181,\n    \
             \"mnt-namespace\": 4026532180,\n    \"pid-namespace\": 4026532182\n}\n"
        );
        assert_eq!(
            start_line(12345, None, &ids),
            "{ \"child-pid\": 12345, \"ipc-namespace\": 4026532181, \"mnt-namespace\": 4026532180, \
             \"pid-namespace\": 4026532182 }\n"
        );
        assert_eq!(info_object(7, &[]), "{\n    \"child-pid\": 7\n}\n");
        let exit = Outcome { code: 42, signal: None, timed_out: false };
        assert_eq!(end_line(&exit), "{ \"exit-code\": 42 }\n");
    }

    #[test]
    fn ids_are_listed_in_bubblewraps_order_and_mnt_always() {
        let me = std::process::id();
        let ns = Namespaces { user: true, pid: true, ipc: false, uts: true, net: false, cgroup: true };
        let names: Vec<&str> = namespace_ids(me, &ns).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["cgroup", "mnt", "pid", "uts"]);
        let none = Namespaces { user: false, pid: false, ipc: false, uts: false, net: false, cgroup: false };
        let ids = namespace_ids(me, &none);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].1, std::fs::metadata("/proc/self/ns/mnt").unwrap().ino());
    }
}
