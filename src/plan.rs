//! The Plan: plain data describing one sandboxed run.
//!
//! Every front end (the native CLI, profiles, later the bwrap-compatible
//! parser) produces a `Plan`; `sandbox explain` prints one; `launch::run`
//! executes one. Nothing in this module touches the kernel.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod bwrap;
pub mod landlock;
pub mod limits;
pub mod network;
pub mod seccomp;

/// Everything `launch` needs to know, and nothing it has to look up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Which namespaces the command gets of its own.
    pub namespaces: Namespaces,
    /// The uid and gid the command sees inside.
    pub ids: Ids,
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
    /// bubblewrap's behaviour and process options (the `bwrap` front end);
    /// `None` for the native one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bwrap: Option<bwrap::Bwrap>,
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
}

/// `true` means "a new namespace of this kind"; the mount namespace is always new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    pub user: bool,
    pub pid: bool,
    pub ipc: bool,
    pub uts: bool,
    pub net: bool,
    pub cgroup: bool,
}

impl Namespaces {
    pub const ALL: Namespaces =
        Namespaces { user: true, pid: true, ipc: true, uts: true, net: true, cgroup: true };
}

/// Ids inside the sandbox; each maps to the caller's own id outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// How a bind mount may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read-only, nosuid, nodev on the mount and every submount.
    ReadOnly,
    /// Writable, nosuid, nodev.
    ReadWrite,
    /// Writable, nosuid, device nodes usable.
    Device,
}

/// One file-system operation. Destinations are absolute paths inside the
/// sandbox, free of `..`; sources are absolute host paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FsOp {
    /// Recursive bind of a host path.
    Bind {
        #[serde(with = "os_path")]
        src: PathBuf,
        #[serde(with = "os_path")]
        dest: PathBuf,
        access: Access,
        /// Skip silently when the source does not exist.
        #[serde(default, skip_serializing_if = "is_false")]
        optional: bool,
    },
    /// A fresh tmpfs (nosuid, nodev).
    Tmpfs {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// A fresh procfs for the sandbox's pid namespace, with /proc/sys and
    /// friends read-only.
    Proc {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A minimal /dev: null zero full random urandom tty, pts, shm, std links.
    Dev {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A directory (and its missing parents).
    Dir {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
    },
    /// A symbolic link at `dest` pointing at `target`.
    Symlink {
        #[serde(with = "os_path")]
        target: PathBuf,
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// Cover whatever is at `dest` with an empty read-only directory or file.
    Hide {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A file with the given content: created at `dest` (`copy`, bwrap
    /// --file) or made in the scratch tmpfs and bound over `dest` (`bind`,
    /// `bind-ro`: bwrap --bind-data, --ro-bind-data).
    File {
        #[serde(with = "os_path")]
        dest: PathBuf,
        #[serde(with = "os_bytes")]
        content: Vec<u8>,
        mode: u32,
        how: FileHow,
    },
    /// chmod of an existing path (bwrap --chmod).
    Chmod {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
    },
    /// Make the mount at `dest` read-only, not recursively (bwrap --remount-ro).
    RemountRo {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A POSIX message queue file system (bwrap --mqueue).
    Mqueue {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// An overlay of host directories at `dest`.
    Overlay {
        /// Lower layers, the top one first (the kernel's lowerdir order).
        #[serde(with = "os_vec_path")]
        lowers: Vec<PathBuf>,
        #[serde(with = "os_path")]
        dest: PathBuf,
        upper: Upper,
    },
}

/// How an `FsOp::File` reaches its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileHow {
    Copy,
    Bind,
    BindRo,
}

/// Where an overlay's writes go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Upper {
    /// A tmpfs inside the sandbox: writes vanish at exit.
    Tmpfs,
    /// Host directories: writes persist there, the lowers never change.
    Dir {
        #[serde(with = "os_path")]
        upper: PathBuf,
        #[serde(with = "os_path")]
        work: PathBuf,
    },
    /// A state directory holding `upper/` and `work/`, created if absent and
    /// locked while a sandbox uses it.
    State {
        #[serde(with = "os_path")]
        dir: PathBuf,
    },
    /// No upper layer: the overlay is read-only.
    ReadOnly,
}

impl FsOp {
    /// The path inside the sandbox this operation acts on.
    pub fn dest(&self) -> &std::path::Path {
        match self {
            FsOp::Bind { dest, .. }
            | FsOp::Tmpfs { dest, .. }
            | FsOp::Proc { dest }
            | FsOp::Dev { dest }
            | FsOp::Dir { dest, .. }
            | FsOp::Symlink { dest, .. }
            | FsOp::Hide { dest }
            | FsOp::File { dest, .. }
            | FsOp::Chmod { dest, .. }
            | FsOp::RemountRo { dest }
            | FsOp::Mqueue { dest }
            | FsOp::Overlay { dest, .. } => dest,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
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
    // bwrap keeps capabilities for any uid as ambient ones.
    if !plan.process.caps.is_empty() && plan.ids.uid != 0 && plan.bwrap.is_none() {
        return Err("--cap-add needs --uid 0: capabilities are dropped on exec for any other uid".into());
    }
    let joins_userns = plan.bwrap.as_ref().is_some_and(|b| b.userns_fd.is_some());
    if !plan.namespaces.user && !joins_userns {
        return Err("a user namespace is required: sandbox never runs privileged".into());
    }
    for op in &plan.fs {
        check_dest(op.dest())?;
    }
    network::validate(&plan.network, plan.namespaces.net)
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

impl fmt::Display for Plan {
    /// The readable form printed by `sandbox explain`: what will run, so in
    /// landlock-only mode the landlock rules on the host's own paths, not
    /// namespaces and mounts that will not exist.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            landlock::Mode::Namespaces => self.fmt_namespaces_and_mounts(f)?,
            landlock::Mode::Landlock => landlock::only::explain(self, &landlock::only::RealHost, f)?,
        }
        self.fmt_process(f)?;
        match self.mode {
            landlock::Mode::Namespaces => writeln!(f, "{}", self.landlock)?,
            landlock::Mode::Landlock => {
                writeln!(f, "landlock:   the file-system rules above")?;
                self.landlock.fmt_ports_and_scopes(f, self.namespaces.net)?;
                writeln!(f)?;
            }
        }
        let cmd: Vec<String> = self.command.iter().map(|a| crate::escape::os(a)).collect();
        write!(f, "command:    {}", cmd.join(" "))
    }
}

impl Plan {
    /// `explain`'s namespaces, network, ids and mounts.
    fn fmt_namespaces_and_mounts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::path;
        let ns = &self.namespaces;
        let mut own = Vec::new();
        let mut shared = Vec::new();
        for (name, on) in [
            ("user", ns.user),
            ("mount", true),
            ("pid", ns.pid),
            ("ipc", ns.ipc),
            ("uts", ns.uts),
            ("net", ns.net),
            ("cgroup", ns.cgroup),
        ] {
            if on {
                own.push(name)
            } else {
                shared.push(name)
            }
        }
        writeln!(f, "namespaces: own {}", own.join(" "))?;
        if !shared.is_empty() {
            writeln!(f, "            shared with the host: {}", shared.join(" "))?;
        }
        writeln!(f, "network:    {}", self.network.describe(ns.net))?;
        writeln!(f, "ids:        uid {} gid {} (mapped to the caller's own)", self.ids.uid, self.ids.gid)?;
        let root = if self.bwrap.is_some() { "writable" } else { "read-only" };
        writeln!(f, "filesystem: (in order, on an empty {root} tmpfs root)")?;
        for op in &self.fs {
            match op {
                FsOp::Bind { src, dest, access, optional } => {
                    let kind = match access {
                        Access::ReadOnly => "ro",
                        Access::ReadWrite => "rw",
                        Access::Device => "dev",
                    };
                    let opt = if *optional { " (if present)" } else { "" };
                    if src == dest {
                        writeln!(f, "  {kind:<8} {}{opt}", path(dest))?;
                    } else {
                        writeln!(f, "  {kind:<8} {} <- {}{opt}", path(dest), path(src))?;
                    }
                }
                FsOp::Tmpfs { dest, mode, size } => {
                    let size = size.map(|s| format!(" size={s}")).unwrap_or_default();
                    writeln!(f, "  tmpfs    {} (mode {mode:04o}{size})", path(dest))?;
                }
                FsOp::Proc { dest } => writeln!(f, "  proc     {}", path(dest))?,
                FsOp::Dev { dest } => writeln!(f, "  dev      {}", path(dest))?,
                FsOp::Dir { dest, mode } => writeln!(f, "  mkdir    {} (mode {mode:04o})", path(dest))?,
                FsOp::Symlink { target, dest } => {
                    writeln!(f, "  symlink  {} -> {}", path(dest), path(target))?
                }
                FsOp::Hide { dest } => writeln!(f, "  hide     {}", path(dest))?,
                FsOp::File { dest, content, mode, how } => {
                    let how = match how {
                        FileHow::Copy => "file",
                        FileHow::Bind => "data",
                        FileHow::BindRo => "data-ro",
                    };
                    writeln!(f, "  {how:<8} {} ({} bytes, mode {mode:04o})", path(dest), content.len())?
                }
                FsOp::Chmod { dest, mode } => writeln!(f, "  chmod    {} {mode:04o}", path(dest))?,
                FsOp::RemountRo { dest } => writeln!(f, "  remount  {} read-only", path(dest))?,
                FsOp::Mqueue { dest } => writeln!(f, "  mqueue   {}", path(dest))?,
                FsOp::Overlay { lowers, dest, upper } => {
                    let lowers: Vec<String> = lowers.iter().map(|l| path(l)).collect();
                    let upper = match upper {
                        Upper::Tmpfs => "writes vanish at exit".to_string(),
                        Upper::Dir { upper, work } => {
                            format!("writes to {} (work {})", path(upper), path(work))
                        }
                        Upper::State { dir } => format!("writes persist in {}", path(dir)),
                        Upper::ReadOnly => "read-only".to_string(),
                    };
                    writeln!(f, "  overlay  {} <- {} ({upper})", path(dest), lowers.join(" over "))?
                }
            }
        }
        Ok(())
    }

    /// `explain`'s environment, process options, seccomp and limits.
    fn fmt_process(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::{os, path};
        writeln!(f, "environment:")?;
        for v in &self.env {
            writeln!(f, "  {}={}", os(&v.name), os(&v.value))?;
        }
        let p = &self.process;
        let cwd = p.cwd.as_deref().map(path).unwrap_or_else(|| "/".into());
        writeln!(f, "cwd:        {cwd}")?;
        if let Some(h) = &p.hostname {
            writeln!(f, "hostname:   {}", crate::escape::str(h))?;
        }
        writeln!(f, "die-with-parent: {}", yes(p.die_with_parent))?;
        writeln!(f, "new-session: {}", yes(p.new_session))?;
        if !p.keep_fds.is_empty() {
            let fds: Vec<String> = p.keep_fds.iter().map(|n| n.to_string()).collect();
            writeln!(f, "keep-fds:   {}", fds.join(" "))?;
        }
        if !p.caps.is_empty() {
            writeln!(f, "caps:       {}", p.caps.join(" "))?;
        } else {
            writeln!(f, "caps:       none")?;
        }
        if let Some(b) = &self.bwrap {
            for line in b.describe() {
                writeln!(f, "{line}")?;
            }
        }
        self.seccomp.explain(seccomp::Facts::of(self), f)?;
        if self.best_effort {
            writeln!(f, "best-effort: yes (confinements this kernel lacks are dropped with a warning)")?;
        }
        write!(f, "{}", self.limits)
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Serde for byte strings: UTF-8 text as a JSON string, anything else as
/// `{"bytes": [..]}` so that no path is ever mangled.
mod os_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Repr {
        Text(String),
        Bytes { bytes: Vec<u8> },
    }

    pub(super) fn to_repr(s: &std::ffi::OsStr) -> Repr {
        match s.to_str() {
            Some(t) => Repr::Text(t.to_owned()),
            None => Repr::Bytes { bytes: s.as_bytes().to_vec() },
        }
    }

    pub(super) fn from_repr(r: Repr) -> OsString {
        match r {
            Repr::Text(t) => OsString::from(t),
            Repr::Bytes { bytes } => OsString::from_vec(bytes),
        }
    }

    pub fn serialize<S: Serializer>(v: &OsString, s: S) -> Result<S::Ok, S::Error> {
        to_repr(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OsString, D::Error> {
        Repr::deserialize(d).map(from_repr)
    }
}

mod os_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        os_str::to_repr(std::ffi::OsStr::from_bytes(v)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        os_str::Repr::deserialize(d).map(|r| os_str::from_repr(r).into_vec())
    }
}

mod opt_os_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<OsString>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|p| os_str::to_repr(p)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OsString>, D::Error> {
        Option::<os_str::Repr>::deserialize(d).map(|o| o.map(os_str::from_repr))
    }
}

mod os_vec_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        let r: Vec<os_str::Repr> = v.iter().map(|p| os_str::to_repr(p.as_os_str())).collect();
        r.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Vec::<os_str::Repr>::deserialize(d)
            .map(|v| v.into_iter().map(|r| PathBuf::from(os_str::from_repr(r))).collect())
    }
}

mod os_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        os_str::to_repr(v.as_os_str()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        os_str::Repr::deserialize(d).map(|r| PathBuf::from(os_str::from_repr(r)))
    }
}

mod opt_os_path {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|p| os_str::to_repr(p.as_os_str())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Option::<os_str::Repr>::deserialize(d).map(|o| o.map(|r| PathBuf::from(os_str::from_repr(r))))
    }
}

mod os_vec {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[OsString], s: S) -> Result<S::Ok, S::Error> {
        let r: Vec<os_str::Repr> = v.iter().map(|a| os_str::to_repr(a)).collect();
        r.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OsString>, D::Error> {
        Vec::<os_str::Repr>::deserialize(d).map(|v| v.into_iter().map(os_str::from_repr).collect())
    }
}
