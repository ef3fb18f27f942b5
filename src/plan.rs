//! The Plan: plain data describing one sandboxed run.
//!
//! Every front end (the native CLI and profiles, the bwrap-compatible
//! parser) produces a `Plan`; `sandbox explain` prints one; `launch::run`
//! executes one. Nothing in this module touches the kernel.
//!
//! - this file: the Plan, namespaces, ids, environment, and the checks
//!   every front end relies on;
//! - [`fs`]: the file-system operations; [`process`]: the command's process;
//! - [`landlock`], [`seccomp`], [`network`], [`limits`]: each confinement;
//! - [`desktop`]: the helpers of a desktop application (bus proxy, nested X);
//! - `explain`: the readable form; `serde_os`: byte strings in JSON.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use serde::{Deserialize, Serialize};

pub mod desktop;
mod explain;
pub mod fs;
pub mod landlock;
pub mod limits;
pub mod namespaces;
pub mod network;
pub mod process;
pub mod seccomp;
mod serde_os;
pub mod view;

pub use fs::{Access, FileHow, FsOp, Root, RootSource, RootTmpfs, RootWrites, Special, Upper};
pub use namespaces::{IdMap, Ids, MapHelpers, Namespaces, NsSetup, Ranges};
pub use process::{Fds, Pid1, Process, Signals};
pub(crate) use serde_os::{opt_os_path, os_path};
use serde_os::{os_str, os_vec};

/// Everything `launch` needs to know, and nothing it has to look up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Which namespaces the command gets of its own.
    pub namespaces: Namespaces,
    /// Namespaces joined instead of created, a nested user namespace.
    #[serde(default)]
    pub ns_setup: NsSetup,
    /// The uid and gid the command sees inside.
    pub ids: Ids,
    /// How the user namespace maps ids: the command's alone (the
    /// default), or the whole id space through subordinate ids.
    #[serde(default, skip_serializing_if = "IdMap::is_own")]
    pub id_map: IdMap,
    /// How the new root is built: its tmpfs, /dev and /proc.
    #[serde(default)]
    pub root: Root,
    /// File-system operations, applied in this order on an empty tmpfs root.
    pub fs: Vec<FsOp>,
    /// The command's complete environment, in order.
    pub env: Vec<EnvVar>,
    /// Process options: cwd, hostname, session, fds, capabilities.
    pub process: Process,
    /// User-mode networking and published ports (default: loopback only).
    #[serde(default)]
    pub network: network::Network,
    /// Run even when a confinement the plan asks for cannot be applied
    /// (a warning lists what was dropped). Off: refuse instead.
    #[serde(default)]
    pub best_effort: bool,
    /// Time-out, rlimits, cgroup limits, status reporting.
    #[serde(default)]
    pub limits: limits::Limits,
    /// How the command is isolated: namespaces (the default) or landlock only.
    #[serde(default)]
    pub mode: landlock::Mode,
    /// Landlock: file and TCP port rules, scopes.
    #[serde(default)]
    pub landlock: landlock::Landlock,
    /// System-call filters, installed last before execve.
    #[serde(default)]
    pub seccomp: seccomp::Seccomp,
    /// The command and its arguments; the first word is looked up in the
    /// sandbox's PATH when it has no `/`.
    #[serde(with = "os_vec")]
    pub command: Vec<OsString>,
    /// What the monitor starts and provides for a desktop application.
    #[serde(default, skip_serializing_if = "desktop::Desktop::is_empty")]
    pub desktop: desktop::Desktop,
}

/// One `NAME=VALUE` of the command's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    #[serde(with = "os_str")]
    pub name: OsString,
    #[serde(with = "os_str")]
    pub value: OsString,
}

impl Plan {
    /// Whether the command runs among the host's processes: `--share pid`,
    /// or landlock-only mode, which has no namespaces at all.
    pub fn shares_host_pids(&self) -> bool {
        !self.namespaces.pid || self.mode == landlock::Mode::Landlock
    }
}

/// Plan-level checks that every front end relies on. Front ends validate
/// their own syntax; this catches what no single option can see.
pub fn validate(plan: &Plan) -> Result<(), String> {
    if plan.command.is_empty() {
        return Err("no command given: usage: sandbox [OPTIONS] -- COMMAND [ARGS...]".into());
    }
    if plan.process.hostname.is_some() && !plan.namespaces.uts {
        return Err("--hostname needs the sandbox's own UTS namespace (drop --share uts)".into());
    }
    if !plan.namespaces.user && plan.ns_setup.join_user_fd.is_none() {
        return Err("a user namespace is required: sandbox never runs privileged".into());
    }
    if plan.mode == landlock::Mode::Landlock {
        if !plan.id_map.is_own() {
            return Err(
                "--userns auto needs a user namespace of its own, which --mode landlock has not".into()
            );
        }
        if !plan.root.source.is_tmpfs() {
            return Err("--rootfs needs a mount namespace of its own, which --mode landlock has not".into());
        }
    }
    if !plan.id_map.is_own() && (plan.ns_setup != NsSetup::default() || !plan.namespaces.user) {
        return Err("--userns auto needs a new user namespace, made by sandbox itself".into());
    }
    for op in &plan.fs {
        check_dest(op.dest())?;
    }
    network::validate(&plan.network, plan.namespaces.net, &plan.process.caps)
}

/// A destination must be absolute, non-empty and free of `..` so that it
/// cannot name anything outside the new root even before resolution.
pub fn check_dest(dest: &std::path::Path) -> Result<(), String> {
    use std::path::Component;
    if !dest.is_absolute() {
        return Err(format!("destination {}: must be an absolute path", crate::escape::path(dest)));
    }
    if dest.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "destination {}: '..' is not allowed in a destination",
            crate::escape::path(dest)
        ));
    }
    if dest.as_os_str().as_bytes().contains(&0) {
        return Err("destination contains a NUL byte".into());
    }
    Ok(())
}
