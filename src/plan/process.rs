//! The command's process: where it starts, its session, the descriptors
//! and capabilities it keeps.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::serde_os::opt_os_path;

/// Options of the command's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Working directory inside; `None` means `/`.
    #[serde(default, with = "opt_os_path")]
    pub cwd: Option<PathBuf>,
    /// Host name inside (needs its own UTS namespace).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Kill the sandbox when the process that started it dies.
    pub die_with_parent: bool,
    /// Run the command in a new session (no controlling terminal: TIOCSTI
    /// cannot reach the caller's terminal).
    pub new_session: bool,
    /// Caller file descriptors passed on to the command besides 0, 1, 2.
    #[serde(default)]
    pub keep_fds: Vec<i32>,
    /// Capabilities kept for the command (only meaningful with uid 0 inside).
    #[serde(default)]
    pub caps: Vec<String>,
}
