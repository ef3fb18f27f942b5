//! Confinement of the command's process: capabilities, no_new_privs, fds.
//!
//! In its own user namespace the sandbox holds every capability over its own
//! namespaces. The command gets none (or only those `--cap-add` names, with
//! uid 0 inside): the bounding set is emptied first (dropping from it needs
//! CAP_SETPCAP, which is then still held), then the inheritable, ambient,
//! permitted and effective sets. PR_SET_NO_NEW_PRIVS makes sure no setuid
//! or file-capability binary can give any back. Landlock (landlock.rs) and
//! seccomp follow, in that order, seccomp last (it may forbid what came before).

use std::collections::HashSet;

use caps::{CapSet, Capability, CapsHashSet};

use crate::launch::error::{Result, SetupError};
use crate::launch::sys;
use crate::launch::Ctx;
use crate::plan::Fds;

pub fn capabilities(ctx: &Ctx) -> Result<()> {
    let keep: CapsHashSet =
        ctx.plan.process.caps.iter().filter_map(|c| c.parse::<Capability>().ok()).collect();
    // Landlock-only mode as an ordinary user: nothing is held, and the
    // bounding set cannot be changed without CAP_SETPCAP (no_new_privs
    // makes it moot).
    let held = caps::read(None, CapSet::Permitted).unwrap_or_default();
    if held.is_empty() && keep.is_empty() {
        ctx.log("capabilities", "none held");
        return Ok(());
    }
    ctx.log("capabilities", &if keep.is_empty() { "drop all".to_string() } else { format!("keep {keep:?}") });
    let err = |what: &str, e: caps::errors::CapsError| {
        SetupError::new(format!("capabilities: {what}"), e.to_string())
    };
    for cap in caps::all() {
        // One prctl per capability: a drop refused because the running
        // kernel predates the capability (it is not in its bounding set)
        // is asked about only then, not before every drop.
        if !keep.contains(&cap)
            && caps::drop(None, CapSet::Bounding, cap).is_err()
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| err("drop bounding", e))?;
        }
    }
    caps::set(None, CapSet::Inheritable, &keep).map_err(|e| err("set inheritable", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear ambient", e))?;
    for cap in &keep {
        caps::raise(None, CapSet::Ambient, *cap).map_err(|e| err("raise ambient", e))?;
    }
    caps::set(None, CapSet::Effective, &keep).map_err(|e| err("set effective", e))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| err("set permitted", e))?;
    Ok(())
}

/// Empties the effective, permitted and inheritable sets (a plain init).
pub fn drop_all() -> std::result::Result<(), caps::errors::CapsError> {
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set)?;
    }
    Ok(())
}

pub fn no_new_privs(ctx: &Ctx) -> Result<()> {
    ctx.log("no_new_privs", "on");
    nix::sys::prctl::set_no_new_privs().map_err(|e| SetupError::errno("no_new_privs", e))
}

/// Only 0, 1, 2 and the plan's `keep_fds` reach the command; or every
/// descriptor the caller left open but those an option consumed.
pub fn fds(ctx: &Ctx) -> Result<()> {
    if let Fds::AllBut(consumed) = &ctx.plan.process.fds {
        ctx.log("fds", &format!("close {consumed:?}, pass on the rest"));
        for &fd in consumed {
            // SAFETY: F_SETFD only changes the flags of a descriptor number;
            // EBADF for one already closed is ignored.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        return Ok(());
    }
    let keep: HashSet<i32> = ctx.plan.process.keep_fds.iter().copied().collect();
    ctx.log("fds", &format!("close all but 0 1 2 {keep:?}"));
    sys::cloexec_from(3).map_err(|e| SetupError::errno("close inherited fds", e))?;
    for fd in keep {
        sys::keep_on_exec(fd).map_err(|e| SetupError::errno(format!("keep fd {fd}"), e))?;
    }
    Ok(())
}
