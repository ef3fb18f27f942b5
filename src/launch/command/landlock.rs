//! Landlock: the command restricts itself to the Plan's files, TCP ports and
//! scopes, just before execve.
//!
//! Kernel rules this relies on:
//! - A landlock domain holds for the thread that calls
//!   `landlock_restrict_self` and everything it later starts, across execve,
//!   and can never be lifted. Unprivileged, it needs no_new_privs first.
//! - A restricted thread may not mount or pivot_root, so this runs in the
//!   command's own process, after the file system is built; and since a
//!   seccomp filter may forbid the landlock syscalls, seccomp comes after.
//! - Rules bind to the inodes opened when they are added: the paths are
//!   opened here, inside the new root, after pivot_root.
//! - File descriptors opened before keep their access (stdin, stdout,
//!   stderr and `--keep-fd` ones are meant to).
//! - Only what the ruleset *handles* is restricted. Every file-system right
//!   of the kernel's ABI (up to [`KNOWN_ABI`]) is handled; TCP only when a
//!   port rule exists (or landlock-only mode stands in for "no network");
//!   scopes as the Plan asks.
//!
//! Whether the kernel's ABI is enough was decided by [`precheck`] in the
//! monitor before anything started (`plan::landlock::compat`). The rest of
//! what does not touch the new root is worked out by [`prepare`] in the
//! monitor too, just before clone, on the plan as it runs: the same
//! decision taken again (so both always agree), the ruleset's handled
//! accesses and scopes (the crate asks the kernel its ABI as it makes
//! one), the grants. The command's process, a fork of the monitor, finds
//! them in its memory and only opens the paths and adds the rules; what
//! [`prepare`] refused is reported by the command's step, as if it had
//! happened there.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::escape;
use crate::launch::error::{Result, SetupError};
use crate::launch::{probe, Ctx};
use crate::plan::landlock::compat::{self, Found, KNOWN_ABI};
use crate::plan::landlock::only::HostView;
pub use crate::plan::landlock::only::{self, RealHost};
use crate::plan::landlock::{grants, Grant, Mode, Rights};
use crate::plan::{FsOp, Plan};

/// The running kernel's landlock ABI; 0 when it has none.
pub fn kernel_abi() -> u32 {
    probe::landlock_abi().map(|v| v.max(0) as u32).unwrap_or(0)
}

/// The monitor's check, before anything starts: refuses (exit 125) when a
/// required need is missing and the plan is not best effort; otherwise
/// returns what best effort dropped, for the one warning.
pub fn precheck(ctx: &Ctx) -> Result<Vec<String>> {
    let plan = ctx.plan;
    if !plan.landlock.enabled {
        return Ok(Vec::new());
    }
    let abi = kernel_abi();
    if plan.mode == Mode::Landlock && abi == 0 {
        return Err(SetupError::new(
            "landlock-only mode",
            "this kernel has no landlock to confine the command with",
        )
        .hint("boot with landlock in the lsm= list (CONFIG_LSM), or make user namespaces available"));
    }
    let d = compat::decide(compat::needs(plan), abi, plan.best_effort).map_err(|need| {
        SetupError::new("landlock", compat::refusal(&need, abi)).hint(
            "--best-effort runs without it (with a warning); `sandbox check` shows what this kernel has",
        )
    })?;
    for n in &d.skipped {
        ctx.log("landlock", &format!("{} skipped: this kernel has {}", n.what, Found(abi)));
    }
    Ok(compat::warning(&d, abi).into_iter().collect())
}

/// The host as the launch sees it: [`RealHost`] with this kernel's landlock
/// ABI, so that landlock-only mode's warning says what this kernel does.
pub struct KernelHost;

impl HostView for KernelHost {
    fn ids(&self) -> (u32, u32) {
        RealHost.ids()
    }

    fn has(&self, op: &FsOp) -> bool {
        RealHost.has(op)
    }

    fn landlock_abi(&self) -> Option<u32> {
        Some(kernel_abi())
    }
}

/// The file-system grants for the plan's mode.
pub fn plan_grants(plan: &Plan) -> Vec<Grant> {
    match plan.mode {
        Mode::Namespaces => grants(plan),
        Mode::Landlock => only::adapt(plan, &RealHost).grants,
    }
}

/// The landlock step's part that does not touch the new root, for
/// [`restrict`]: see the module's doc.
pub struct Prepared(Prep);

enum Prep {
    Off,
    /// A refusal, for the step to report.
    Refused(SetupError),
    /// No landlock in this kernel, and the plan is best effort.
    Skipped,
    Ready(Ready),
}

struct Ready {
    abi: ABI,
    ruleset: Ruleset,
    tcp: bool,
    grants: Vec<Grant>,
}

/// In the monitor, before clone: everything [`restrict`] needs but the
/// paths opened. Never fails: a refusal waits for the command's step.
pub fn prepare(ctx: &Ctx) -> Prepared {
    Prepared(match ready(ctx.plan) {
        Ok(Some(r)) => Prep::Ready(r),
        Ok(None) if !ctx.plan.landlock.enabled => Prep::Off,
        Ok(None) => Prep::Skipped,
        Err(e) => Prep::Refused(e),
    })
}

/// The ruleset to create and the grants; `None`: landlock is off, or
/// skipped (best effort) on a kernel without it.
fn ready(plan: &Plan) -> Result<Option<Ready>> {
    let ll = &plan.landlock;
    if !ll.enabled {
        return Ok(None);
    }
    let found = kernel_abi();
    // Same pure decision as the monitor's precheck: it cannot refuse here
    // unless the plan or the kernel changed in between.
    compat::decide(compat::needs(plan), found, plan.best_effort)
        .map_err(|need| SetupError::new("landlock", compat::refusal(&need, found)))?;
    if found == 0 {
        return Ok(None);
    }
    let abi = ABI::from(found.min(KNOWN_ABI) as i32);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?;
    let tcp = crate::plan::landlock::restricts_tcp(plan) && abi >= ABI::V4;
    if tcp {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(err)?;
    }
    let mut scopes = BitFlags::<Scope>::EMPTY;
    if ll.scope_abstract_unix {
        scopes |= Scope::AbstractUnixSocket;
    }
    if ll.scope_signals {
        scopes |= Scope::Signal;
    }
    if abi >= ABI::V6 && !scopes.is_empty() {
        ruleset = ruleset.scope(scopes).map_err(err)?;
    }
    Ok(Some(Ready { abi, ruleset, tcp, grants: plan_grants(plan) }))
}

fn err(e: landlock::RulesetError) -> SetupError {
    SetupError::new("landlock", e.to_string())
}

/// The step: create the ruleset [`prepare`] made ready (`prepared`, taken;
/// made here when there is none), add a rule for every path and port, and
/// restrict the command's process.
pub fn restrict(ctx: &Ctx, prepared: &mut Option<Prepared>) -> Result<()> {
    let Prepared(prep) = prepared.take().unwrap_or_else(|| prepare(ctx));
    let Ready { abi, ruleset, tcp, grants } = match prep {
        Prep::Off => {
            ctx.log("landlock", "off");
            return Ok(());
        }
        Prep::Refused(e) => return Err(e),
        Prep::Skipped => {
            ctx.log("landlock", "this kernel has no landlock: skipped (--best-effort)");
            return Ok(());
        }
        Prep::Ready(r) => r,
    };
    let ll = &ctx.plan.landlock;
    let mut created = ruleset.create().map_err(err)?;
    created = add_paths(ctx, created, abi, grants)?;
    if tcp {
        for &p in &ll.connect_ports {
            created = created.add_rule(NetPort::new(p, AccessNet::ConnectTcp)).map_err(err)?;
        }
        for &p in &ll.bind_ports {
            created = created.add_rule(NetPort::new(p, AccessNet::BindTcp)).map_err(err)?;
        }
    }
    if abi >= ABI::V7 {
        // Without --log-denials nothing is logged, not even denials that
        // happen before execve; with it, the command's own are logged too.
        created = created.log_same_exec(ll.log_denials).map_err(err)?;
        created = created.log_new_exec(ll.log_denials).map_err(err)?;
    }
    let status = created.restrict_self().map_err(err)?;
    check_status(ctx, &status, abi)
}

fn check_status(ctx: &Ctx, status: &RestrictionStatus, abi: ABI) -> Result<()> {
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(SetupError::new("landlock", format!("the ruleset was only {:?}", status.ruleset)));
    }
    ctx.log("landlock", &format!("enforced at ABI {abi} (log denials: {})", status.log_new_exec));
    Ok(())
}

/// A directory's entries, for [`only::split`].
fn list(p: &Path) -> Option<Vec<OsString>> {
    Some(std::fs::read_dir(p).ok()?.filter_map(|e| Some(e.ok()?.file_name())).collect())
}

/// Every path a rule is added for, with its rights: the grants, split
/// around excluded paths.
pub fn rule_paths(plan: &Plan) -> Vec<(std::path::PathBuf, Rights)> {
    plan_grants(plan).iter().flat_map(|g| only::split(&g.path, g.rights, &g.except, &list)).collect()
}

/// Adds a rule for every grant, split around excluded paths; a grant whose
/// path does not exist is skipped (mirror) or refused (explicit rule).
fn add_paths(ctx: &Ctx, mut created: RulesetCreated, abi: ABI, grants: Vec<Grant>) -> Result<RulesetCreated> {
    for g in grants {
        if g.except.is_empty() {
            created = add_path(ctx, created, abi, &g, &g.path, g.rights)?;
            continue;
        }
        let parts = only::split(&g.path, g.rights, &g.except, &list);
        let except: Vec<String> = g.except.iter().map(|p| escape::path(p)).collect();
        let what = format!("{} beneath {}", g.rights, escape::path(&g.path));
        ctx.log("landlock", &format!("{what} but {} ({} rules)", except.join(" "), parts.len()));
        for (path, rights) in parts {
            created = add_path(ctx, created, abi, &g, &path, rights)?;
        }
    }
    Ok(created)
}

/// Adds the rule for `path`, a part of `g` (or all of it).
fn add_path(
    ctx: &Ctx,
    created: RulesetCreated,
    abi: ABI,
    g: &Grant,
    path: &Path,
    rights: Rights,
) -> Result<RulesetCreated> {
    let fd = match PathFd::new(path) {
        Ok(fd) => fd,
        Err(e) => {
            if g.must_exist {
                return Err(missing(path, e));
            }
            ctx.log("landlock", &format!("{} skipped: {e}", escape::path(path)));
            return Ok(created);
        }
    };
    let access = fs_access(rights, abi, is_dir(&fd));
    if access.is_empty() {
        return Ok(created);
    }
    if g.except.is_empty() {
        ctx.log_with("landlock", || format!("{rights} beneath {}", escape::path(path)));
    }
    created
        .add_rule(PathBeneath::new(fd, access))
        .map_err(|e| SetupError::new(format!("landlock rule {}", escape::path(path)), e.to_string()))
}

fn missing(path: &Path, e: landlock::PathFdError) -> SetupError {
    let cause = match &e {
        landlock::PathFdError::OpenCall { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    let cause = cause.split(" (os error").next().unwrap_or_default().to_string();
    SetupError::new(format!("landlock rule {}", escape::path(path)), cause)
        .hint("an --allow-read/--allow-write/--allow-exec path must exist inside the sandbox")
}

fn is_dir(fd: &PathFd) -> bool {
    use std::os::fd::AsRawFd;
    nix::sys::stat::fstat(fd.as_fd().as_raw_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// The landlock rights for `rights` on this ABI; a file that is not a
/// directory takes only the rights that apply to files.
pub fn fs_access(rights: Rights, abi: ABI, dir: bool) -> BitFlags<AccessFs> {
    let mut a = BitFlags::<AccessFs>::EMPTY;
    if rights.contains(Rights::LIST) {
        a |= AccessFs::ReadDir;
    }
    if rights.contains(Rights::READ) {
        a |= AccessFs::ReadFile | AccessFs::ReadDir;
    }
    if rights.contains(Rights::EXEC) {
        a |= AccessFs::Execute;
    }
    if rights.contains(Rights::WRITE_FILE) {
        a |= AccessFs::WriteFile | AccessFs::Truncate;
    }
    if rights.contains(Rights::CHANGE) {
        a |= AccessFs::from_write(ABI::V2) & !AccessFs::WriteFile;
    }
    if rights.contains(Rights::IOCTL_DEV) {
        a |= AccessFs::IoctlDev;
    }
    let known = if dir { AccessFs::from_all(abi) } else { AccessFs::from_file(abi) };
    a & known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_map_to_the_abi_s_access() {
        let rw = fs_access(Rights::READ_WRITE, ABI::V1, true);
        assert!(rw.contains(AccessFs::MakeReg | AccessFs::RemoveFile | AccessFs::WriteFile));
        assert!(!rw.contains(AccessFs::Refer) && !rw.contains(AccessFs::Truncate), "not in ABI 1");
        let rw3 = fs_access(Rights::READ_WRITE, ABI::V3, true);
        assert!(rw3.contains(AccessFs::Refer | AccessFs::Truncate));
        assert_eq!(fs_access(Rights::LIST, ABI::V7, true), AccessFs::ReadDir);
        assert_eq!(fs_access(Rights::LIST, ABI::V7, false), BitFlags::EMPTY, "nothing to list in a file");
        let dev = fs_access(Rights::READ | Rights::WRITE_FILE | Rights::IOCTL_DEV, ABI::V5, false);
        assert_eq!(dev, AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev);
        assert!(!fs_access(Rights::READ_WRITE, ABI::V7, true).contains(AccessFs::IoctlDev));
    }
}
