//! The command's process: where it starts, its session, the descriptors
//! and capabilities it keeps, what pid 1 is, how signals reach it. Each
//! field is a behaviour every front end states; launch never asks which
//! front end made the Plan.

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::serde_os::{opt_os_path, opt_os_str, os_vec_path};

/// Where a command without `/` is looked for when the environment has no
/// `PATH`, unless a front end says otherwise.
pub const SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Options of the command's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Working directory inside; `None`: the first of `cwd_fallback` that
    /// can be entered, else `/`.
    #[serde(default, with = "opt_os_path")]
    pub cwd: Option<PathBuf>,
    /// Directories tried in order when `cwd` is `None`.
    #[serde(default, with = "os_vec_path", skip_serializing_if = "Vec::is_empty")]
    pub cwd_fallback: Vec<PathBuf>,
    /// `PWD` is set to the directory the command starts in.
    #[serde(default)]
    pub set_pwd: bool,
    /// Host name inside (needs its own UTS namespace).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Kill the sandbox when the monitor (the `sandbox` process) dies.
    pub die_with_parent: bool,
    /// The monitor itself is killed when its own parent dies, which takes
    /// the sandbox along (with `die_with_parent`).
    #[serde(default)]
    pub die_with_caller: bool,
    /// Run the command in a new session (no controlling terminal: TIOCSTI
    /// cannot reach the caller's terminal).
    pub new_session: bool,
    /// With a new session and a terminal on stdin, the command gets a pty
    /// of its own (job control works; the caller's terminal stays out of
    /// reach). Off: no controlling terminal at all.
    #[serde(default = "yes")]
    pub own_tty: bool,
    /// Which of the caller's descriptors reach the command.
    #[serde(default)]
    pub fds: Fds,
    /// Caller file descriptors passed on to the command besides 0, 1, 2
    /// (with `fds: listed`).
    #[serde(default)]
    pub keep_fds: Vec<i32>,
    /// Capabilities kept for the command, as ambient ones.
    #[serde(default)]
    pub caps: Vec<String>,
    /// What pid 1 of the sandbox is.
    #[serde(default)]
    pub pid1: Pid1,
    /// Whether signals to the monitor reach the command.
    #[serde(default)]
    pub signals: Signals,
    /// argv[0] given to the command instead of its path.
    #[serde(default, with = "opt_os_str", skip_serializing_if = "Option::is_none")]
    pub argv0: Option<OsString>,
    /// Where a command without `/` is looked for when the environment has
    /// no `PATH`.
    #[serde(default = "search_path")]
    pub search_path: String,
    /// The command reads one byte (or EOF) from this descriptor before its
    /// other steps, so a caller can hold it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_fd: Option<i32>,
    /// Held open by pid 1 for the sandbox's life, closed in the monitor
    /// (unless the command is pid 1): the caller sees it close when the
    /// sandbox has gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_fd: Option<i32>,
    /// Files inside the sandbox that pid 1 read-locks (fcntl F_RDLCK) for
    /// the sandbox's life.
    #[serde(default, with = "os_vec_path", skip_serializing_if = "Vec::is_empty")]
    pub lock_files: Vec<PathBuf>,
    /// SELinux exec context of the command, where SELinux is on (nothing
    /// happens elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_label: Option<String>,
}

fn yes() -> bool {
    true
}

fn search_path() -> String {
    SEARCH_PATH.to_string()
}

/// Which of the caller's descriptors reach the command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fds {
    /// 0, 1, 2 and `keep_fds`; every other one is closed on exec.
    #[default]
    Listed,
    /// Every descriptor the caller left open, but these (the ones an
    /// option consumed: status fds, seccomp programs, data).
    AllBut(Vec<i32>),
}

/// What pid 1 of the sandbox is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pid1 {
    /// sandbox's init: it forks the command and reaps; it is not dumpable
    /// (nothing inside may trace or read it); where the sandbox shares the
    /// host's processes it is the subreaper that ends everything the
    /// command started when the command ends.
    #[default]
    Init,
    /// A minimal init: it forks the command and reaps, drops every
    /// capability, stays dumpable (tools outside may open
    /// /proc/PID/ns/* of the pid reported) and runs under the seccomp
    /// programs too.
    PlainInit,
    /// No init: the command itself is pid 1.
    Command,
}

/// Whether signals to the monitor reach the command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signals {
    /// The monitor passes INT TERM HUP QUIT USR1 USR2 WINCH ALRM to init,
    /// which passes them to the command; TSTP and CONT stop and continue
    /// everything inside.
    #[default]
    Forward,
    /// Nothing is passed on: the monitor takes only SIGCHLD (any other
    /// signal has its default effect on it) and init forwards nothing.
    NotForwarded,
}
