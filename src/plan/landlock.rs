//! Landlock in the Plan: which files and TCP ports the command may use, and
//! the scopes that keep it from reaching outside the sandbox.
//!
//! Landlock is a Linux security module that an unprivileged process applies
//! to itself; it then holds for the process and everything it starts.
//! Rights are granted *beneath* a path (a directory and everything under it,
//! or one file) and add up along a path: a right granted on `/a` holds on
//! `/a/b/c` whatever `/a/b` grants. Anything not granted is denied (EACCES).
//!
//! Two ways to say what the command may touch:
//! - the mirror of the mounts (the default, [`Landlock::rules`] holding no
//!   read or write rule): read+exec beneath every read-only bind,
//!   read-write(+exec) beneath every writable bind and tmpfs, the sandbox's
//!   own /dev and /proc (see [`grants`]), and only listing on `/` itself. A
//!   mount mistake then is not an escape.
//! - explicit rules (`--allow-read`, `--allow-write`): those paths and the
//!   sandbox's own /dev, nothing else, whatever is mounted.
//!   `--allow-exec` narrows execution independently: when any is given,
//!   programs run only from beneath those paths.
//!
//! Which kernel has what is [`compat`]'s business; the landlock-only mode
//! (no namespaces) is [`only`]'s; the mount flags that back the explicit
//! rules (read-only, noexec) are [`mounts`]'.

pub mod compat;
pub mod mounts;
pub mod only;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Access, FileHow, FsOp, Plan, RootSource, Upper};

/// The landlock part of a Plan. The default is the default profile's: on,
/// mirroring the mounts, abstract unix sockets and signals scoped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Landlock {
    /// Confine the command with landlock (`--no-landlock` turns it off).
    pub enabled: bool,
    /// Explicit rules, in the order given. With no read or write rule the
    /// file-system rules are the mirror of the mounts.
    pub rules: Vec<PathRule>,
    /// TCP ports the command may connect to. When this or `bind_ports` is
    /// non-empty, every other TCP connect and bind is denied (ABI 4).
    pub connect_ports: Vec<u16>,
    /// TCP ports the command may bind (0: any ephemeral port).
    pub bind_ports: Vec<u16>,
    /// Deny connecting to abstract unix sockets created outside the sandbox
    /// (ABI 6): the host's X11 or D-Bus sockets under `--net host`.
    pub scope_abstract_unix: bool,
    /// Deny signals to processes outside the sandbox (ABI 6).
    pub scope_signals: bool,
    /// Log the command's denials to the kernel audit log (ABI 7).
    pub log_denials: bool,
}

impl Default for Landlock {
    fn default() -> Self {
        Landlock {
            enabled: true,
            rules: Vec::new(),
            connect_ports: Vec::new(),
            bind_ports: Vec::new(),
            scope_abstract_unix: true,
            scope_signals: true,
            log_denials: false,
        }
    }
}

/// One explicit file-system rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// Absolute path inside the sandbox; the rule holds beneath it.
    #[serde(with = "super::os_path")]
    pub path: PathBuf,
    pub access: RuleAccess,
}

/// What an explicit rule allows beneath its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleAccess {
    /// Read files and list directories (and execute, unless exec rules exist).
    Read,
    /// Read, write, create, remove, rename (and execute, unless exec rules exist).
    Write,
    /// Read and execute.
    Exec,
}

/// How the command is isolated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Namespaces, mounts, landlock and seccomp (the default).
    #[default]
    Namespaces,
    /// No namespaces at all: landlock, seccomp, no_new_privs, a new session
    /// and die-with-parent only, on the host's own file system.
    Landlock,
}

/// Landlock's rights, grouped the way rules grant them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// List directories (not read files).
    pub const LIST: Rights = Rights(1);
    /// Read files and list directories.
    pub const READ: Rights = Rights(1 | 2);
    /// Execute files.
    pub const EXEC: Rights = Rights(4);
    /// Write and truncate existing files.
    pub const WRITE_FILE: Rights = Rights(8);
    /// Create, remove, rename and link entries.
    pub const CHANGE: Rights = Rights(16);
    /// ioctl on device files (ABI 5).
    pub const IOCTL_DEV: Rights = Rights(32);
    /// Everything a read-write bind gives.
    pub const READ_WRITE: Rights = Rights(1 | 2 | 4 | 8 | 16);

    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;
    fn bitor(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        if self.contains(Rights::READ) {
            words.push("read");
        } else if self.contains(Rights::LIST) {
            words.push("list");
        }
        for (r, w) in [
            (Rights::WRITE_FILE, "write"),
            (Rights::CHANGE, "create/remove"),
            (Rights::EXEC, "exec"),
            (Rights::IOCTL_DEV, "ioctl"),
        ] {
            if self.contains(r) {
                words.push(w);
            }
        }
        f.write_str(&words.join("+"))
    }
}

/// Rights granted beneath one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub path: PathBuf,
    pub rights: Rights,
    /// Paths beneath `path` that must stay out of reach (landlock-only
    /// mode's tmpfs and hide); launch splits the grant around them.
    pub except: Vec<PathBuf>,
    /// Refuse to run when the path is missing (explicit rules); mirror
    /// grants of missing paths are skipped.
    pub must_exist: bool,
}

impl Grant {
    fn new(path: &Path, rights: Rights) -> Grant {
        Grant { path: path.to_path_buf(), rights, except: Vec::new(), must_exist: false }
    }
}

impl Landlock {
    /// Explicit read or write rules replace the mirror.
    pub fn explicit(&self) -> bool {
        self.rules.iter().any(|r| r.access != RuleAccess::Exec)
    }

    /// Exec rules narrow execution to their paths.
    pub fn exec_narrowed(&self) -> bool {
        self.rules.iter().any(|r| r.access == RuleAccess::Exec)
    }

    /// Whether TCP is restricted at all.
    pub fn restricts_tcp(&self) -> bool {
        !self.connect_ports.is_empty() || !self.bind_ports.is_empty()
    }
}

/// Whether landlock restricts TCP in `plan`: a port rule, or landlock-only
/// mode standing in for "no network" (ABI 4).
pub fn restricts_tcp(plan: &Plan) -> bool {
    let ll = &plan.landlock;
    ll.enabled && (ll.restricts_tcp() || (plan.mode == Mode::Landlock && plan.namespaces.net))
}

/// The sandbox's /dev: its few devices usable, /dev/shm a scratch directory.
fn dev_grants(dest: &Path, out: &mut Vec<Grant>) {
    out.push(Grant::new(dest, Rights::READ | Rights::WRITE_FILE | Rights::IOCTL_DEV));
    out.push(Grant::new(&dest.join("shm"), Rights::READ | Rights::WRITE_FILE | Rights::CHANGE));
}

/// The host's own few devices, for landlock-only mode.
fn dev_grants_only(dest: &Path) -> Vec<Grant> {
    let rw = Rights::READ | Rights::WRITE_FILE;
    only::DEVICES
        .iter()
        .map(|(name, ioctl)| Grant::new(&dest.join(name), if *ioctl { rw | Rights::IOCTL_DEV } else { rw }))
        .collect()
}

/// Adds `g`, dropping earlier grants at or beneath its path: a later mount
/// covers whatever was mounted there before (landlock-only mode's
/// adaptation, one operation at a time; the full mode uses [`uncovered`]).
fn cover(out: &mut Vec<Grant>, g: Grant) {
    out.retain(|o| !o.path.starts_with(&g.path));
    out.push(g);
}

/// One operation's grant at `dest`, which it covers.
fn covering(dest: &Path, rights: Rights) -> (Option<&Path>, Vec<Grant>) {
    (Some(dest), vec![Grant::new(dest, rights)])
}

/// The grants of mount operations in order, each with the path it covers
/// (`None`: it covers nothing), without those a later operation covers: a
/// later mount covers whatever was mounted at or beneath its path (an
/// operation never covers its own grants). Linear in the number of grants
/// (times the depth of their paths): from the last operation back, a grant
/// stays unless one of its ancestors (or the path itself) was covered
/// later, instead of comparing each path with every earlier one.
fn uncovered(ops: Vec<(Option<&Path>, Vec<Grant>)>) -> Vec<Grant> {
    let mut covered: HashSet<&Path> = HashSet::new();
    let mut kept = Vec::new();
    for (cover, grants) in ops.into_iter().rev() {
        for g in grants.into_iter().rev() {
            if !g.path.ancestors().any(|a| covered.contains(a)) {
                kept.push(g);
            }
        }
        covered.extend(cover);
    }
    kept.reverse();
    kept
}

/// The mirror of the mounts, in the full (namespaces) mode.
///
/// - `/`: list only, so `ls /` works but no file on the root is readable
///   unless something below grants it; a `--rootfs` root: read+exec, or
///   read-write when it is writable;
/// - read-only binds: read+exec; read-write binds and tmpfs: read, write,
///   create/remove, exec; `--dev` binds also ioctl on devices;
/// - /proc: read, and write to existing files (the mounts keep /proc/sys
///   and friends read-only; landlock's own ptrace rule keeps
///   /proc/PID/mem and environ of processes outside the sandbox closed), so
///   that `echo 1000 > /proc/self/oom_score_adj` and `/proc/self/attr`
///   writes keep working, also for the command's children (read only
///   with `--share pid`, where /proc shows the host's processes);
/// - /dev: read, write and ioctl on the few devices there (null, zero, tty,
///   pts, ...), read-write /dev/shm;
/// - overlays: like binds (read+exec when read-only); files made from data:
///   read (and write unless bound read-only); mqueue: read-write;
/// - hide, mkdir, symlink, chmod, remount-ro: nothing (a hidden path is an
///   empty read-only mount; a symlink is checked at its target; rights only
///   add up, so a later read-only remount is the mount's to enforce).
fn mirror(plan: &Plan) -> Vec<Grant> {
    let root = match &plan.root.source {
        RootSource::Tmpfs => Rights::LIST,
        // `--rootfs`: the directory is the root, mounted as a bind or overlay would be.
        source if source.writable() => Rights::READ_WRITE,
        RootSource::Dir { .. } => Rights::READ | Rights::EXEC,
    };
    let mut ops: Vec<(Option<&Path>, Vec<Grant>)> = vec![(None, vec![Grant::new(Path::new("/"), root)])];
    for op in &plan.fs {
        ops.push(match op {
            FsOp::Bind { dest, access, .. } => {
                let rights = match access {
                    Access::ReadOnly => Rights::READ | Rights::EXEC,
                    Access::ReadWrite => Rights::READ_WRITE,
                    Access::Device => Rights::READ_WRITE | Rights::IOCTL_DEV,
                };
                covering(dest, rights)
            }
            FsOp::Tmpfs { dest, .. } => covering(dest, Rights::READ_WRITE),
            FsOp::Proc { dest } => {
                // With the host's pid namespace /proc shows host processes:
                // read only, so their oom_score_adj and the like stay theirs.
                let write = if plan.namespaces.pid { Rights::WRITE_FILE } else { Rights::NONE };
                covering(dest, Rights::READ | write)
            }
            FsOp::Dev { dest } => {
                let mut grants = Vec::new();
                dev_grants(dest, &mut grants);
                (Some(dest.as_path()), grants)
            }
            FsOp::File { dest, how, .. } => {
                let write = if *how == FileHow::BindRo { Rights::NONE } else { Rights::WRITE_FILE };
                covering(dest, Rights::READ | write)
            }
            FsOp::Mqueue { dest } => covering(dest, Rights::READ_WRITE),
            FsOp::Overlay { dest, upper, .. } => {
                let rights =
                    if *upper == Upper::ReadOnly { Rights::READ | Rights::EXEC } else { Rights::READ_WRITE };
                covering(dest, rights)
            }
            FsOp::Dir { .. }
            | FsOp::Symlink { .. }
            | FsOp::Hide { .. }
            | FsOp::Chmod { .. }
            | FsOp::RemountRo { .. } => continue,
        });
    }
    uncovered(ops)
}

/// The explicit rules, plus the sandbox's own /dev when the plan has one.
fn explicit(plan: &Plan) -> Vec<Grant> {
    let mut out = Vec::new();
    for op in &plan.fs {
        if let FsOp::Dev { dest } = op {
            dev_grants(dest, &mut out);
        }
    }
    for rule in &plan.landlock.rules {
        let rights = match rule.access {
            RuleAccess::Read | RuleAccess::Exec => Rights::READ | Rights::EXEC,
            RuleAccess::Write => Rights::READ_WRITE | Rights::IOCTL_DEV,
        };
        out.push(Grant { must_exist: true, ..Grant::new(&rule.path, rights) });
    }
    out
}

/// The file-system grants of the full (namespaces) mode.
pub fn grants(plan: &Plan) -> Vec<Grant> {
    let ll = &plan.landlock;
    let mut out = if ll.explicit() { explicit(plan) } else { mirror(plan) };
    narrow_exec(ll, &mut out);
    out
}

/// With exec rules, execution is allowed beneath them only.
fn narrow_exec(ll: &Landlock, out: &mut Vec<Grant>) {
    if !ll.exec_narrowed() {
        return;
    }
    for g in out.iter_mut() {
        g.rights = g.rights.without(Rights::EXEC);
    }
    for rule in ll.rules.iter().filter(|r| r.access == RuleAccess::Exec) {
        out.push(Grant { must_exist: true, ..Grant::new(&rule.path, Rights::READ | Rights::EXEC) });
    }
}

impl fmt::Display for Landlock {
    /// The `landlock:` section of `sandbox explain`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::path;
        if !self.enabled {
            return write!(f, "landlock:   off (--no-landlock)");
        }
        if self.explicit() {
            writeln!(f, "landlock:   explicit rules (nothing else is readable or writable but /dev):")?;
        } else {
            writeln!(
                f,
                "landlock:   mirror of the mounts (read+exec beneath read-only ones, read-write beneath writable ones)"
            )?;
        }
        for r in &self.rules {
            let kind = match r.access {
                RuleAccess::Read => "read",
                RuleAccess::Write => "write",
                RuleAccess::Exec => "exec",
            };
            writeln!(f, "  {kind:<8} {}", path(&r.path))?;
        }
        if self.explicit() {
            writeln!(
                f,
                "            with namespaces, every mount is read-only but beneath the write rules and /dev"
            )?;
        }
        if self.exec_narrowed() {
            writeln!(f, "            with namespaces, every mount is noexec but beneath the exec rules")?;
        }
        self.fmt_ports_and_scopes(f, false)
    }
}

impl Landlock {
    /// The port rules, scopes and logging of `explain`'s landlock section;
    /// `deny_tcp`: TCP is denied even without a port rule (landlock-only
    /// mode standing in for the network namespace).
    pub fn fmt_ports_and_scopes(&self, f: &mut fmt::Formatter<'_>, deny_tcp: bool) -> fmt::Result {
        for (kind, ports) in [("connect", &self.connect_ports), ("bind", &self.bind_ports)] {
            for p in ports {
                writeln!(f, "  {kind:<8} tcp port {p}")?;
            }
        }
        if self.restricts_tcp() {
            writeln!(f, "            every other TCP connect and bind is denied")?;
        } else if deny_tcp {
            writeln!(f, "            every TCP connect and bind is denied")?;
        }
        let mut scoped = Vec::new();
        if self.scope_abstract_unix {
            scoped.push("abstract unix sockets");
        }
        if self.scope_signals {
            scoped.push("signals");
        }
        if scoped.is_empty() {
            scoped.push("nothing");
        }
        write!(f, "            scoped to the sandbox: {}", scoped.join(", "))?;
        if self.log_denials {
            write!(f, "\n            denials logged to the kernel audit log")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
