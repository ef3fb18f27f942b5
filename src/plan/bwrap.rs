//! The part of a Plan only the bwrap-compatible front end fills in.
//!
//! `Some(Bwrap)` in [`super::Plan::bwrap`] means "behave as bubblewrap
//! does": a writable root tmpfs, bubblewrap's /dev and /proc details, the
//! caller's file descriptors passed on (except those an option consumed),
//! bubblewrap's cwd fallback and `PWD`, its error wording and exit status 1
//! for setup failures. The fields are bubblewrap's process options, as data;
//! its `--seccomp`/`--add-seccomp-fd` programs are `Plan::seccomp::bpf_fds`
//! (with no policy of sandbox's own), and landlock is off.

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// bubblewrap's process options (see bwrap(1) for each `--option`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bwrap {
    /// argv[0] given to the command instead of its path (`--argv0`).
    #[serde(with = "super::opt_os_str", skip_serializing_if = "Option::is_none")]
    pub argv0: Option<OsString>,
    /// Working directories to try, in order, when `--chdir` was not given:
    /// the caller's directory, then `$HOME`; `/` when none exists inside.
    #[serde(with = "super::os_vec_path")]
    pub cwd_fallback: Vec<PathBuf>,
    /// Files inside the sandbox that pid 1 read-locks (fcntl F_RDLCK) for
    /// the sandbox's life (`--lock-file`).
    #[serde(with = "super::os_vec_path")]
    pub lock_files: Vec<PathBuf>,
    /// Kept open by pid 1 while the sandbox lives (`--sync-fd`).
    pub sync_fd: Option<i32>,
    /// Read one byte (or EOF) from it just before the command runs (`--block-fd`).
    pub block_fd: Option<i32>,
    /// The monitor reads one byte from it before letting the sandbox go on,
    /// so that a helper outside can write the id maps (`--userns-block-fd`).
    pub userns_block_fd: Option<i32>,
    /// Gets one JSON object (child pid, namespace ids) once the sandbox runs (`--info-fd`).
    pub info_fd: Option<i32>,
    /// Gets JSON lines: the same object on one line, then the exit code (`--json-status-fd`).
    pub json_status_fd: Option<i32>,
    /// Join this user namespace instead of creating one (`--userns`).
    pub userns_fd: Option<i32>,
    /// Enter this user namespace after setup (`--userns2`).
    pub userns2_fd: Option<i32>,
    /// Join this pid namespace, or create the new one beneath it (`--pidns`).
    pub pidns_fd: Option<i32>,
    /// The command is pid 1: no reaper (`--as-pid-1`).
    pub as_pid_1: bool,
    /// Forbid further user namespaces inside (`--disable-userns`).
    pub disable_userns: bool,
    /// Refuse to run unless user namespaces cannot be created inside
    /// (`--assert-userns-disabled`).
    pub assert_userns_disabled: bool,
    /// SELinux exec context for the command (`--exec-label`); ignored
    /// where SELinux is off, as bubblewrap does.
    pub exec_label: Option<String>,
    /// SELinux context of tmpfs content (`--file-label`); ignored where
    /// SELinux is off.
    pub file_label: Option<String>,
    /// Prefix messages with their syslog level, `<3>bwrap: …` (`--level-prefix`).
    pub level_prefix: bool,
    /// The mode of the missing parent directories each file-system
    /// operation creates, one per entry of `fs`: 0755 without the group
    /// and other bits the operation's own permissions lack (so 0700 for
    /// mounts and links, which have none; 0755 for `--dir` and `--tmpfs`).
    pub parent_modes: Vec<u32>,
    /// Descriptors an option consumed (`--args`, `--file`, `--bind-fd`,
    /// the status fds…): not passed on to the command. Every other
    /// descriptor the caller left open is, as with bubblewrap.
    pub consumed_fds: Vec<i32>,
}

impl Bwrap {
    /// The lines `sandbox explain` prints for these options.
    pub fn describe(&self) -> Vec<String> {
        use crate::escape::{os, path};
        let mut out = vec!["mode:       bwrap (writable root, the caller's fds passed on)".to_string()];
        let fd = |name: &str, v: Option<i32>| v.map(|n| format!("{name:<11} fd {n}"));
        if let Some(a) = &self.argv0 {
            out.push(format!("argv0:      {}", os(a)));
        }
        if !self.cwd_fallback.is_empty() {
            let dirs: Vec<String> = self.cwd_fallback.iter().map(|p| path(p)).collect();
            out.push(format!("cwd tries:  {} /", dirs.join(" ")));
        }
        for l in &self.lock_files {
            out.push(format!("lock-file:  {}", path(l)));
        }
        out.extend(
            [
                fd("sync:", self.sync_fd),
                fd("block:", self.block_fd),
                fd("userns-block:", self.userns_block_fd),
                fd("info:", self.info_fd),
                fd("json-status:", self.json_status_fd),
                fd("userns:", self.userns_fd),
                fd("userns2:", self.userns2_fd),
                fd("pidns:", self.pidns_fd),
            ]
            .into_iter()
            .flatten(),
        );
        for (on, what) in [
            (self.as_pid_1, "as-pid-1: the command is pid 1"),
            (self.disable_userns, "disable-userns: no user namespaces inside"),
            (self.assert_userns_disabled, "assert-userns-disabled"),
        ] {
            if on {
                out.push(what.to_string());
            }
        }
        out
    }
}
