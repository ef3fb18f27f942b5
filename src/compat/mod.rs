//! The bwrap-compatible front end: bubblewrap 0.11's command line, parsed
//! exactly, into the same [`Plan`] the native CLI produces.
//!
//! Selected when sandbox runs as `bwrap` (a symlink) or as `sandbox bwrap
//! ARGS`. bubblewrap's argv cannot be described by clap: `--perms`,
//! `--size` and `--overlay-src` modify the *next* option, `--args FD`
//! splices NUL-separated arguments in place, and `--setenv`/`--clearenv`
//! act while parsing. So the parser is written by hand, in the shape of
//! bubblewrap's rules (not of its code):
//!
//! - [`args`]: `--args` data, the numeric forms (fds, octal modes, sizes, ids);
//! - [`parse`]: options to state, in order, with bubblewrap's messages
//!   (the file-system ones in `ops`);
//! - [`check`]: the checks bubblewrap makes after parsing, then the Plan;
//! - [`failure`]: a failed launch in bubblewrap's words.
//!
//! Defaults are bubblewrap's: nothing is mounted that the arguments do not
//! name, the environment passes as it is, no seccomp or landlock, no
//! die-with-parent or new session unless asked. Mistakes print
//! `bwrap: <message>` and exit 1, as bubblewrap does.
//!
//! One deliberate difference: sandbox never runs privileged, so `sandbox
//! bwrap` run by root still creates a user namespace (bubblewrap run by root
//! without `--unshare-user` creates none and keeps root's capabilities).

pub mod args;
pub mod check;
pub mod failure;
mod names;
mod ops;
mod options;
pub mod parse;

use std::ffi::OsString;

use nix::errno::Errno;

use crate::host::Host;
use crate::plan::Plan;

/// The bubblewrap release whose command line this front end speaks.
pub const BWRAP_VERSION: &str = "0.11.1";

/// Every long option of bubblewrap's command line (`--bind`, `--unshare-all`, …).
pub fn bwrap_options() -> Vec<&'static str> {
    names::USAGE.iter().filter_map(|(usage, _)| usage.split(' ').next()).collect()
}

/// What parsing needs from the world besides the arguments: the data
/// behind `--args`, `--file` and `--bind-data` descriptors, and a few
/// kernel facts. [`RealIo`] asks the system; unit tests pass a fake.
pub trait Io {
    /// Everything readable from `fd` until EOF (bubblewrap's `load_file_data`).
    fn read_fd(&mut self, fd: i32) -> Result<Vec<u8>, Errno>;
    /// Whether `path` exists on the host (`/proc/self/ns/cgroup` …).
    fn exists(&self, path: &str) -> bool;
    /// A small host file's content (`/proc/sys/user/max_user_namespaces` …).
    fn read_file(&self, path: &str) -> Option<Vec<u8>>;
    /// The caller's effective capabilities, as a mask by capability number.
    fn effective_caps(&self) -> u64;
    /// What SELinux says of a label of `--exec-label` or `--file-label`.
    fn check_label(&self, _label: &str) -> Label {
        Label::Unsupported
    }
}

/// SELinux's answer for a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// SELinux is not enabled: bubblewrap refuses any label.
    Unsupported,
    Valid,
    /// `security_check_context` failed with this errno.
    Invalid(Errno),
}

/// selinuxfs's magic number (`SELINUX_MAGIC`).
const SELINUX_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0xf97c_ff8c_u32 as _);

/// Whether SELinux is enabled, as libselinux's `is_selinux_enabled` sees
/// it: selinuxfs mounted at /sys/fs/selinux.
fn selinux_enabled() -> bool {
    nix::sys::statfs::statfs("/sys/fs/selinux").is_ok_and(|s| s.filesystem_type() == SELINUX_MAGIC)
}

/// The real system.
pub struct RealIo;

impl Io for RealIo {
    fn read_fd(&mut self, fd: i32) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }

    fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn effective_caps(&self) -> u64 {
        let set = caps::read(None, caps::CapSet::Effective).unwrap_or_default();
        set.iter().fold(0u64, |m, c| m | 1u64 << c.index())
    }

    fn check_label(&self, label: &str) -> Label {
        use std::io::Write;
        if !selinux_enabled() {
            return Label::Unsupported;
        }
        // libselinux's security_check_context: the context, NUL included,
        // written to selinuxfs's `context` node; the kernel refuses an
        // invalid one (EINVAL).
        let mut text = label.as_bytes().to_vec();
        text.push(0);
        let written = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/sys/fs/selinux/context")
            .and_then(|mut f| f.write_all(&text));
        match written {
            Ok(()) => Label::Valid,
            Err(e) => Label::Invalid(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL))),
        }
    }
}

/// The C library's text for `e`, as bubblewrap appends it.
pub fn strerror(e: Errno) -> String {
    crate::escape::cause(&std::io::Error::from_raw_os_error(e as i32))
}

/// How a run of the front end ends before anything is launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// The outcome of parsing: warnings to print (already formatted, in order),
/// then a Plan to run or an exit.
#[derive(Debug)]
pub struct Parsed {
    pub warnings: Vec<String>,
    pub result: Result<Box<Ready>, Exit>,
}

/// A Plan to run, and how to word a failure of its launch.
#[derive(Debug)]
pub struct Ready {
    pub plan: Plan,
    /// `--level-prefix`: messages start with their syslog level (`<3>`).
    pub level_prefix: bool,
}

impl Ready {
    /// The line to print when the launch failed (see [`failure`]).
    pub fn failure_line(&self, e: &crate::launch::SetupError) -> String {
        message(self.level_prefix, 3, &failure::words(e))
    }
}

/// One diagnostic line as bubblewrap prints it: `bwrap: <msg>`, with
/// `<level>` in front when `--level-prefix` was given (3 error, 4 warning).
pub fn message(level_prefix: bool, level: u8, msg: &str) -> String {
    if level_prefix {
        format!("<{level}>bwrap: {msg}")
    } else {
        format!("bwrap: {msg}")
    }
}

/// bubblewrap's usage text; `prog` is the name it was invoked as.
pub fn usage(prog: &str) -> String {
    let mut out = format!("usage: {prog} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    for (opt, help) in names::USAGE {
        out.push_str(&format!("    {opt:<28} {help}\n"));
    }
    out
}

/// Parses `args` (without argv[0]) as bubblewrap would, invoked as `prog`.
pub fn parse(prog: &str, args: &[OsString], host: &Host, io: &mut dyn Io) -> Parsed {
    // Like bubblewrap, a lone --version is answered before anything else.
    if args.len() == 1 && args[0] == "--version" {
        return exit_early(Vec::new(), version(), String::new(), 0);
    }
    if args.is_empty() {
        return exit_early(Vec::new(), String::new(), usage(prog), 1);
    }
    let mut st = parse::State::new(host, io.effective_caps());
    let outcome = parse::parse_all(&mut st, io, args);
    let warnings = std::mem::take(&mut st.warnings);
    let result = match outcome {
        Ok(command_at) => check::finish(st, &args[command_at..], host, io, prog).map(Box::new),
        Err(parse::Stop::Die(line)) => Err(Exit { stdout: String::new(), stderr: line + "\n", code: 1 }),
        Err(parse::Stop::Help) => Err(Exit { stdout: usage(prog), stderr: String::new(), code: 0 }),
        Err(parse::Stop::Version) => Err(Exit { stdout: version(), stderr: String::new(), code: 0 }),
    };
    Parsed { warnings, result }
}

fn exit_early(warnings: Vec<String>, stdout: String, stderr: String, code: u8) -> Parsed {
    Parsed { warnings, result: Err(Exit { stdout, stderr, code }) }
}

fn version() -> String {
    format!("bubblewrap {BWRAP_VERSION} (sandbox {})\n", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests;
