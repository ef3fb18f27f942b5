//! Landlock-only mode: the Plan without namespaces.
//!
//! Where unprivileged user namespaces are refused, `--mode landlock` (or
//! `--best-effort`) runs the command on the host's own file system, confined
//! by landlock (files, TCP ports, scopes), seccomp, no_new_privs, a new
//! session and die-with-parent. Each file-system operation becomes:
//!
//! | operation | in landlock-only mode |
//! |---|---|
//! | `--ro P`, `--rw P`, `--dev P` | read+exec / read-write / +ioctl beneath P |
//! | a bind to a different destination | lost: needs a mount namespace |
//! | `--tmpfs P`, `--hide P` | P made inaccessible instead (no empty directory) |
//! | proc | the host's /proc, read-only |
//! | dev | the host's null, zero, full, random, urandom and tty |
//! | mkdir, symlink | kept when the host already has them, else lost |
//! | overlay, file, chmod, remount-ro, mqueue | lost: they need a mount namespace |
//!
//! and the hostname, capabilities and ids other than the caller's are lost.
//! "Inaccessible" beneath a granted directory is done by granting each of
//! the directory's entries but the excluded one ([`split`]): landlock rights
//! only ever add up along a path.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{dev_grants_only, narrow_exec, Grant, Rights};
use crate::escape::path as show;
use crate::plan::seccomp::{rules, Action, Facts};
use crate::plan::{Access, FsOp, Plan};

/// Host devices the command gets in landlock-only mode, and whether it may
/// ioctl them.
pub const DEVICES: [(&str, bool); 6] =
    [("null", false), ("zero", false), ("full", false), ("random", false), ("urandom", false), ("tty", true)];

/// What the host can tell about itself, for the parts of a Plan that exist
/// there already.
pub trait HostView {
    /// The caller's uid and gid.
    fn ids(&self) -> (u32, u32);
    /// Whether the host already has what a mkdir or symlink operation makes.
    fn has(&self, op: &FsOp) -> bool;
    /// The kernel's landlock ABI, where the caller knows it (the launch
    /// does; `explain` describes the plan for any kernel).
    fn landlock_abi(&self) -> Option<u32> {
        None
    }
}

/// The host itself: read-only looks at its files and the caller's ids.
pub struct RealHost;

impl HostView for RealHost {
    fn ids(&self) -> (u32, u32) {
        (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
    }

    fn has(&self, op: &FsOp) -> bool {
        match op {
            FsOp::Dir { dest, .. } => dest.is_dir(),
            FsOp::Symlink { target, dest } => std::fs::read_link(dest).is_ok_and(|t| t == *target),
            _ => false,
        }
    }
}

/// A Plan run without namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adapted {
    /// File-system grants on host paths.
    pub grants: Vec<Grant>,
    /// Done differently than the Plan says; fine in landlock-only mode.
    pub approximated: Vec<String>,
    /// Not possible without namespaces: refused unless best effort.
    pub lost: Vec<String>,
}

fn kind(access: Access) -> &'static str {
    match access {
        Access::ReadOnly => "--ro",
        Access::ReadWrite => "--rw",
        Access::Device => "--dev",
    }
}

/// Converts `plan` for landlock-only mode.
pub fn adapt(plan: &Plan, host: &dyn HostView) -> Adapted {
    let mut a = Adapted::default();
    let mut excluded: Vec<PathBuf> = Vec::new();
    let mut dev = Vec::new();
    for op in &plan.fs {
        carry_over(op, host, &mut a, &mut excluded, &mut dev);
    }
    let ll = &plan.landlock;
    if ll.explicit() {
        a.grants = explicit_grants(ll, dev, &excluded);
    }
    narrow_exec(ll, &mut a.grants);
    lost_process(plan, host, &mut a);
    a
}

/// One file-system operation carried over: a grant, an approximation, or
/// something lost; `excluded` collects what tmpfs and hide make
/// inaccessible, `dev` the grants of /dev.
fn carry_over(
    op: &FsOp,
    host: &dyn HostView,
    a: &mut Adapted,
    excluded: &mut Vec<PathBuf>,
    dev: &mut Vec<Grant>,
) {
    match op {
        FsOp::Bind { src, dest, access, .. } if src == dest => {
            let rights = match access {
                Access::ReadOnly => Rights::READ | Rights::EXEC,
                Access::ReadWrite => Rights::READ_WRITE,
                Access::Device => Rights::READ_WRITE | Rights::IOCTL_DEV,
            };
            excluded.retain(|e| !e.starts_with(dest));
            super::cover(&mut a.grants, Grant::new(dest, rights));
        }
        FsOp::Bind { src, dest, access, .. } => a.lost.push(format!(
            "{} {}:{} (a different destination needs a mount namespace)",
            kind(*access),
            show(src),
            show(dest)
        )),
        FsOp::Tmpfs { dest, .. } | FsOp::Hide { dest, .. } => {
            let what = if matches!(op, FsOp::Hide { .. }) { "hide" } else { "tmpfs" };
            a.approximated.push(format!("{what} {}: inaccessible instead of empty", show(dest)));
            a.grants.retain(|g| !g.path.starts_with(dest));
            for g in a.grants.iter_mut().filter(|g| dest.starts_with(&g.path)) {
                g.except.push(dest.clone());
            }
            excluded.retain(|e| !e.starts_with(dest));
            excluded.push(dest.clone());
        }
        FsOp::Proc { dest } if dest == Path::new("/proc") => {
            a.approximated.push("proc: the host's /proc, read-only".into());
            super::cover(&mut a.grants, Grant::new(dest, Rights::READ));
        }
        FsOp::Dev { dest } if dest == Path::new("/dev") => {
            a.approximated.push("dev: the host's /dev/null zero full random urandom tty only".into());
            *dev = dev_grants_only(dest);
            a.grants.retain(|g| !g.path.starts_with(dest));
            a.grants.extend(dev.iter().cloned());
        }
        FsOp::Proc { dest } => a.lost.push(format!("proc at {} (needs a mount namespace)", show(dest))),
        FsOp::Dev { dest } => a.lost.push(format!("dev at {} (needs a mount namespace)", show(dest))),
        FsOp::File { dest, .. }
        | FsOp::Chmod { dest, .. }
        | FsOp::RemountRo { dest }
        | FsOp::Mqueue { dest }
        | FsOp::Overlay { dest, .. } => {
            a.lost.push(format!("{} (needs a mount namespace)", describe(op, dest)));
        }
        FsOp::Dir { dest, .. } | FsOp::Symlink { dest, .. } => {
            if !host.has(op) {
                let what = if matches!(op, FsOp::Dir { .. }) { "--mkdir" } else { "--symlink" };
                a.lost.push(format!("{what} {} (not on the host; needs a mount namespace)", show(dest)));
            }
        }
    }
}

/// With explicit rules, the grants are the rules (and /dev's), around
/// what tmpfs and hide made inaccessible.
fn explicit_grants(ll: &super::Landlock, dev: Vec<Grant>, excluded: &[PathBuf]) -> Vec<Grant> {
    let mut grants = dev;
    for r in ll.rules.iter().filter(|r| r.access != super::RuleAccess::Exec) {
        let rights = match r.access {
            super::RuleAccess::Write => Rights::READ_WRITE | Rights::IOCTL_DEV,
            _ => Rights::READ | Rights::EXEC,
        };
        grants.push(Grant { must_exist: true, ..Grant::new(&r.path, rights) });
    }
    for g in &mut grants {
        g.except = excluded.iter().filter(|e| e.starts_with(&g.path) && **e != g.path).cloned().collect();
    }
    grants
}

/// How a file-system operation that only a mount namespace can do is named.
fn describe(op: &FsOp, dest: &Path) -> String {
    let what = match op {
        FsOp::File { .. } => "file",
        FsOp::Chmod { .. } => "chmod",
        FsOp::RemountRo { .. } => "remount-ro",
        FsOp::Mqueue { .. } => "mqueue",
        _ => "overlay",
    };
    format!("{what} {}", show(dest))
}

/// Process options that need namespaces, and what the missing namespaces mean.
fn lost_process(plan: &Plan, host: &dyn HostView, a: &mut Adapted) {
    if let Some(h) = &plan.process.hostname {
        a.lost.push(format!("--hostname {} (needs a UTS namespace)", crate::escape::str(h)));
    }
    if !plan.process.caps.is_empty() {
        a.lost.push("--cap-add (needs a user namespace)".into());
    }
    let (uid, gid) = host.ids();
    if (plan.ids.uid, plan.ids.gid) != (uid, gid) {
        a.lost.push(format!(
            "--uid {} --gid {} (only the caller's own {uid}:{gid} without a user namespace)",
            plan.ids.uid, plan.ids.gid
        ));
    }
    match &plan.network.user {
        Some(u) if u.filtered() => a.lost.push(
            "--net user and its --allow-host/--allow-addr rules (need a network namespace: the firewall and \
             the DNS filter live in it)"
                .into(),
        ),
        Some(_) => a.lost.push("--net user (needs a network namespace)".into()),
        None => {}
    }
    a.approximated.extend(without_namespaces(plan, host.landlock_abi()));
}

/// What stands in for each namespace the plan asked for, and what is open
/// without it: one line each, for the warning and `explain`. `abi`: the
/// kernel's landlock ABI when known (below 4 nothing denies TCP).
pub fn without_namespaces(plan: &Plan, abi: Option<u32>) -> Vec<String> {
    let ns = &plan.namespaces;
    let facts = Facts::of(plan);
    let base = rules::base_rules(&plan.seccomp, facts);
    let denied =
        |name: &str| base.iter().any(|r| r.action != Action::Allow && r.syscalls.iter().any(|n| n == name));
    let chattr =
        if denied("file_setattr") { "chattr flags denied" } else { "chattr flags open (seccomp policy)" };
    let mut out = vec![format!(
        "no mount namespace: the host's file system confined by landlock, and chmod, chown, utimes and \
         xattr calls only beneath writable rules (made by the monitor), {chattr}"
    )];
    if ns.net && abi.is_some_and(|abi| abi < 4) {
        out.push(
            "no network namespace: the host's network, TCP included (landlock denies TCP from ABI 4)".into(),
        );
    } else if ns.net {
        out.push(
            "no network namespace: TCP connect and bind denied by landlock, and the ways around it refused \
             by the filter (other stream protocols such as MPTCP and SCTP, raw sockets, TCP fast open); \
             UDP and other datagram protocols, ICMP and pathname unix sockets open"
                .into(),
        );
    }
    if ns.pid {
        let ptrace = if denied("ptrace") { "ptrace denied" } else { "ptrace open (seccomp policy)" };
        let scope = match facts.signal_scope {
            true => "signals to them denied by landlock, their limits, priority and CPUs by the filter",
            false => "signals, limits, priority and CPUs of them open (--allow-signals)",
        };
        out.push(format!(
            "no pid namespace: the host's processes visible ({scope}, {ptrace}), \
             and every process the command starts killed when it ends"
        ));
    }
    if ns.ipc {
        out.push(match denied("shmget") && denied("mq_open") {
            true => "no IPC namespace: System V IPC and POSIX message queues denied".into(),
            false => {
                "no IPC namespace: the host's System V IPC and POSIX message queues open (seccomp policy)"
                    .into()
            }
        });
    }
    match (ns.uts, ns.cgroup) {
        (true, true) => {
            out.push("no uts and cgroup namespaces: the host's host name and cgroups visible".into())
        }
        (true, false) => out.push("no uts namespace: the host's host name".into()),
        (false, true) => out.push("no cgroup namespace: the host's cgroups visible".into()),
        (false, false) => {}
    }
    out
}

/// Splits a grant around the paths in `except` beneath it: each entry of a
/// directory on the way gets the grant, the excluded ones nothing, and the
/// directories on the way nothing themselves (a right on a directory would
/// reach the excluded entry too). `list` names a directory's entries; a
/// directory that cannot be listed gets nothing (fail closed).
pub fn split(
    path: &Path,
    rights: Rights,
    except: &[PathBuf],
    list: &dyn Fn(&Path) -> Option<Vec<OsString>>,
) -> Vec<(PathBuf, Rights)> {
    let beneath: Vec<PathBuf> = except.iter().filter(|e| e.starts_with(path)).cloned().collect();
    if beneath.is_empty() {
        return vec![(path.to_path_buf(), rights)];
    }
    if beneath.iter().any(|e| e == path) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in list(path).unwrap_or_default() {
        out.extend(split(&path.join(name), rights, &beneath, list));
    }
    out
}

/// The head of `explain` in landlock-only mode: the plan as it will run,
/// with the landlock rules on the host's paths in place of namespaces and
/// mounts.
pub fn explain(plan: &Plan, host: &dyn HostView, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let a = adapt(plan, host);
    writeln!(
        f,
        "mode:       landlock only: no namespaces and no mounts; the command runs among the host's files, \
         processes and network, confined by landlock, seccomp and no_new_privs"
    )?;
    let (uid, gid) = host.ids();
    writeln!(f, "ids:        uid {uid} gid {gid} (the caller's own)")?;
    writeln!(f, "filesystem: the host's, with these landlock rules (nothing else is readable or writable):")?;
    for g in &a.grants {
        let except: Vec<String> = g.except.iter().map(|e| show(e)).collect();
        let except = if except.is_empty() { String::new() } else { format!(" except {}", except.join(" ")) };
        writeln!(f, "  {:<30} {}{except}", g.rights.to_string(), show(&g.path))?;
    }
    writeln!(f, "instead of namespaces:")?;
    for line in without_namespaces(plan, host.landlock_abi()) {
        writeln!(f, "  {line}")?;
    }
    let fs_lines: Vec<&String> = a.approximated.iter().filter(|l| !l.starts_with("no ")).collect();
    if !fs_lines.is_empty() {
        writeln!(f, "approximated:")?;
        for line in fs_lines {
            writeln!(f, "  {line}")?;
        }
    }
    if !a.lost.is_empty() {
        let how = if plan.best_effort { "dropped (--best-effort)" } else { "refused: needs namespaces" };
        writeln!(f, "not carried over, {how}:")?;
        for line in &a.lost {
            writeln!(f, "  {line}")?;
        }
    }
    Ok(())
}
