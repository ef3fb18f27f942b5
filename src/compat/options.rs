//! bubblewrap's process options as the parser collects them; [`super::check`]
//! turns them into the behaviours of the Plan.

use std::ffi::OsString;
use std::path::PathBuf;

/// bubblewrap's process options (see bwrap(1) for each `--option`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--argv0`.
    pub argv0: Option<OsString>,
    /// `--lock-file`, in order.
    pub lock_files: Vec<PathBuf>,
    /// `--sync-fd`.
    pub sync_fd: Option<i32>,
    /// `--block-fd`.
    pub block_fd: Option<i32>,
    /// `--userns-block-fd`.
    pub userns_block_fd: Option<i32>,
    /// `--info-fd`.
    pub info_fd: Option<i32>,
    /// `--json-status-fd`.
    pub json_status_fd: Option<i32>,
    /// `--userns`.
    pub userns_fd: Option<i32>,
    /// `--userns2`.
    pub userns2_fd: Option<i32>,
    /// `--pidns`.
    pub pidns_fd: Option<i32>,
    /// `--as-pid-1`.
    pub as_pid_1: bool,
    /// `--disable-userns`.
    pub disable_userns: bool,
    /// `--assert-userns-disabled`.
    pub assert_userns_disabled: bool,
    /// `--exec-label`: applied where SELinux is on.
    pub exec_label: Option<String>,
    /// `--file-label`: accepted and ignored, as bubblewrap does where
    /// SELinux is off.
    pub file_label: Option<String>,
    /// The mode of the missing parent directories each file-system
    /// operation creates, one per operation: 0755 without the group and
    /// other bits the operation's own permissions lack (so 0700 for mounts
    /// and links, which have none; 0755 for `--dir` and `--tmpfs`).
    pub parent_modes: Vec<u32>,
    /// Descriptors an option consumed (`--args`, `--file`, `--bind-fd`,
    /// the status fds…): not passed on to the command. Every other
    /// descriptor the caller left open is, as with bubblewrap.
    pub consumed_fds: Vec<i32>,
}
