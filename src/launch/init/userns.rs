//! The user and pid namespaces beyond "a new one": joined before clone,
//! entered after setup, and the nested user namespace of
//! [`crate::plan::NsSetup::nest`].
//!
//! - monitor, before clone: the namespaces of `join_user_fd` and
//!   `join_pid_fd` are joined with setns, so init is created inside them
//!   ([`join`]);
//! - init, before the file system: the host's /proc is opened to write the
//!   nested namespace's maps later (the sandbox may have no /proc);
//! - init, after the file system: `enter_user_fd`, the nested namespace
//!   (with user namespaces disabled first if asked), the check that none
//!   can be made inside ([`after_setup`]).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;

use crate::launch::error::{Context, Kind, Result, SetupError};
use crate::launch::{sys, Ctx};
use crate::plan::Ids;

fn borrow(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: the descriptor numbers come from the caller's command line and
    // stay open for the process's life; a closed one gives EBADF, not UB.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// The monitor's part before clone: join the namespaces the plan names.
pub fn join(ctx: &Ctx) -> Result<()> {
    let s = &ctx.plan.ns_setup;
    if let Some(fd) = s.join_user_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWUSER)
            .map_err(|e| SetupError::errno("join user namespace", e).kind(Kind::JoinUserNs))?;
    }
    if let Some(fd) = s.join_pid_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWPID)
            .map_err(|e| SetupError::errno("join pid namespace", e).kind(Kind::JoinPidNs))?;
    }
    Ok(())
}

/// The ids the monitor maps in the sandbox's user namespace.
pub fn first_level_ids(ctx: &Ctx) -> Ids {
    ctx.plan.ns_setup.nest.unwrap_or(ctx.plan.ids)
}

/// Opened by init before the file system is built: the host's /proc, to
/// write the nested namespace's maps.
pub fn open_proc(ctx: &Ctx) -> Result<Option<OwnedFd>> {
    if ctx.plan.ns_setup.nest.is_none() {
        return Ok(None);
    }
    sys::open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY).what(|| "open /proc".into()).map(Some)
}

/// init's part after pivot_root.
pub fn after_setup(ctx: &Ctx, proc_fd: Option<&OwnedFd>) -> Result<()> {
    let s = &ctx.plan.ns_setup;
    if let Some(fd) = s.enter_user_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWUSER)
            .map_err(|e| SetupError::errno("enter user namespace", e).kind(Kind::EnterUserNs))?;
    }
    if let Some(proc_fd) = proc_fd {
        nest(ctx, proc_fd)?;
    }
    if (s.disable_userns || s.assert_userns_disabled)
        && nix::sched::unshare(CloneFlags::CLONE_NEWUSER).is_ok()
    {
        return Err(SetupError::new("disable user namespaces", "a new one could still be created")
            .kind(Kind::UsernsNotDisabled));
    }
    Ok(())
}

/// Moves into a nested user namespace mapping the plan's ids onto the
/// first level's. With `disable_userns` the first level is limited to
/// this one child first: the sandbox can then neither create user
/// namespaces nor raise the limit again (that needs privileges over the
/// first level, which the nested namespace does not have).
fn nest(ctx: &Ctx, proc_fd: &OwnedFd) -> Result<()> {
    let write = |path: &str, text: &str| -> Result<()> {
        let kind = Kind::NestOpen { path: path.to_string() };
        let fd = sys::openat(proc_fd, Path::new(path), libc::O_WRONLY, 0)
            .map_err(|e| SetupError::errno(format!("open /proc/{path}"), e).kind(kind))?;
        let kind = Kind::NestWrite { path: path.to_string() };
        sys::write_all(fd.as_raw_fd(), text)
            .map_err(|e| SetupError::errno(format!("write /proc/{path}"), e).kind(kind))
    };
    if ctx.plan.ns_setup.disable_userns {
        write("sys/user/max_user_namespaces", "1")?;
    }
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| SetupError::errno("unshare user ns", e).kind(Kind::NestUnshare))?;
    let (from, to) = (first_level_ids(ctx), ctx.plan.ids);
    // setgroups is already "deny", inherited from the first level.
    write("self/uid_map", &format!("{} {} 1\n", to.uid, from.uid))?;
    write("self/gid_map", &format!("{} {} 1\n", to.gid, from.gid))
}
