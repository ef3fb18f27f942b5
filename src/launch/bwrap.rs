//! bubblewrap's process options, for Plans from the bwrap front end.
//!
//! Where each one acts (bubblewrap's order, adapted to monitor → init →
//! command):
//!
//! - monitor, before clone: SIGCHLD back to its default, `--userns` and
//!   `--pidns` joined with setns (children are then created inside them);
//! - monitor, after clone and the id maps: `--die-with-parent` for the
//!   monitor itself, the `--info-fd` object and the first
//!   `--json-status-fd` line (written by status.rs, which writes the
//!   native status fd too), then a wait on `--userns-block-fd`, and only
//!   then the sandbox is released; when the command was executed and has
//!   ended, `{ "exit-code": N }`;
//! - init, after the file system: `--userns2`, the nested user namespace
//!   of `--dev` and `--disable-userns` (see [`first_level_ids`]), the check of
//!   `--assert-userns-disabled`, and the `--lock-file` read locks held by
//!   pid 1;
//! - command: `--block-fd`, the uid/gid switch inside a joined namespace,
//!   the cwd fallback and `PWD`, `--exec-label`; the seccomp programs come
//!   last of all, in `Exec::run`.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;

use super::error::{Context, Result, SetupError};
use super::{status, sys, Ctx};
use crate::escape;
use crate::plan::bwrap::Bwrap;
use crate::plan::{FsOp, Ids};

fn borrow(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: the descriptor numbers come from the caller's command line and
    // stay open for the process's life; a closed one gives EBADF, not UB.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// The monitor's part before clone.
pub fn before_clone(b: &Bwrap) -> Result<()> {
    // bubblewrap 0.11.1 does this so that an ignored SIGCHLD, inherited
    // from the caller, cannot make its children vanish unwaited.
    // SAFETY: restoring the default disposition installs no handler.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    if let Some(fd) = b.userns_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWUSER).map_err(|e| {
            let err = SetupError::errno("join user namespace", e);
            if e == Errno::EINVAL {
                err.bwrap(
                    "Joining the specified user namespace failed, it might not be a descendant of the \
                     current user namespace.",
                )
            } else {
                err.bwrap_errno("Joining specified user namespace failed")
            }
        })?;
    }
    if let Some(fd) = b.pidns_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWPID)
            .map_err(|e| SetupError::errno("join pid namespace", e).bwrap_errno("Setting pidns failed"))?;
    }
    Ok(())
}

/// The monitor's part once the child exists and its maps are written:
/// report it (`--info-fd`, `--json-status-fd`: the status writer), and wait
/// for the outside helper if one writes the maps.
pub fn started(ctx: &Ctx, b: &Bwrap, pid: i32, reporter: &mut status::Reporter) -> Result<()> {
    if ctx.plan.process.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    reporter.created(pid as u32)?;
    // Only pid 1 keeps the sync fd: the caller sees it close when the
    // sandbox is gone.
    if let Some(fd) = b.sync_fd.filter(|_| !b.as_pid_1) {
        let _ = nix::unistd::close(fd);
    }
    if let Some(fd) = b.userns_block_fd {
        let mut byte = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut byte);
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// The ids the monitor maps at the first level. bubblewrap's `--dev`
/// needs root mapped to mount devpts owned by the sandbox's user: the
/// caller's ids become 0 there, and init moves into a nested user
/// namespace mapping the requested ids onto 0 once the file system is
/// built (so /dev/pts belongs to the user, as with bubblewrap).
pub fn first_level_ids(ctx: &Ctx, b: &Bwrap) -> Ids {
    let has_dev = ctx.plan.fs.iter().any(|op| matches!(op, FsOp::Dev { .. }));
    if has_dev && ctx.plan.namespaces.user && b.userns_block_fd.is_none() {
        Ids { uid: 0, gid: 0 }
    } else {
        ctx.plan.ids
    }
}

/// Whether init moves into a nested user namespace after setup.
fn nests(ctx: &Ctx, b: &Bwrap) -> bool {
    ctx.plan.namespaces.user
        && b.userns_block_fd.is_none()
        && (first_level_ids(ctx, b) != ctx.plan.ids || b.disable_userns)
}

/// Opened by init before the file system is built: the host's /proc, to
/// write the nested namespace's maps (the sandbox may have no /proc).
pub fn open_proc(ctx: &Ctx, b: &Bwrap) -> Result<Option<OwnedFd>> {
    if !nests(ctx, b) {
        return Ok(None);
    }
    sys::open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY).what(|| "open /proc".into()).map(Some)
}

/// init's part after pivot_root. Returns the lock files' descriptors, which
/// init holds for the sandbox's life.
pub fn after_setup(ctx: &Ctx, b: &Bwrap, proc_fd: Option<&OwnedFd>) -> Result<Vec<OwnedFd>> {
    if let Some(fd) = b.userns2_fd {
        nix::sched::setns(borrow(fd), CloneFlags::CLONE_NEWUSER)
            .map_err(|e| SetupError::errno("enter userns2", e).bwrap_errno("Setting userns2 failed"))?;
    }
    if let Some(proc_fd) = proc_fd {
        nest(ctx, b, proc_fd)?;
    }
    if (b.disable_userns || b.assert_userns_disabled)
        && nix::sched::unshare(CloneFlags::CLONE_NEWUSER).is_ok()
    {
        return Err(SetupError::new("disable user namespaces", "a new one could still be created")
            .bwrap("creation of new user namespaces was not disabled as requested"));
    }
    b.lock_files.iter().map(|p| lock(p)).collect()
}

/// Moves into a nested user namespace mapping the requested ids onto the
/// first level's. With `--disable-userns` the first level is limited to
/// this one child first: the sandbox can then neither create user
/// namespaces nor raise the limit again (that needs privileges over the
/// first level, which the nested namespace does not have).
fn nest(ctx: &Ctx, b: &Bwrap, proc_fd: &OwnedFd) -> Result<()> {
    let write = |path: &str, text: &str, what: &str| -> Result<()> {
        let fd = sys::openat(proc_fd, Path::new(path), libc::O_WRONLY, 0).map_err(|e| {
            SetupError::errno(format!("open /proc/{path}"), e)
                .bwrap_errno(format!("cannot open /proc/{path}"))
        })?;
        status::write_all(fd.as_raw_fd(), text)
            .map_err(|e| SetupError::errno(what.to_string(), e).bwrap_errno(what))
    };
    if b.disable_userns {
        write("sys/user/max_user_namespaces", "1", "sysctl user.max_user_namespaces = 1")?;
    }
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| SetupError::errno("unshare user ns", e).bwrap_errno("unshare user ns"))?;
    let (from, to) = (first_level_ids(ctx, b), ctx.plan.ids);
    // setgroups is already "deny", inherited from the first level.
    write("self/uid_map", &format!("{} {} 1\n", to.uid, from.uid), "setting up uid map")?;
    write("self/gid_map", &format!("{} {} 1\n", to.gid, from.gid), "setting up gid map")
}

/// A read lock on the whole of `path` (a sandbox path), as pid 1 holds it.
fn lock(path: &Path) -> Result<OwnedFd> {
    let shown = escape::path(path);
    let at = if path.is_absolute() { path.to_path_buf() } else { Path::new("/").join(path) };
    let fd = sys::open(&at, libc::O_RDONLY).map_err(|e| {
        SetupError::errno(format!("lock-file {shown}"), e)
            .bwrap_errno(format!("Unable to open lock file {shown}"))
    })?;
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = libc::F_RDLCK as libc::c_short;
    l.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_SETLK reads the flock struct we own for the call's duration.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLK, &l) } < 0 {
        let e = Errno::last();
        return Err(SetupError::errno(format!("lock-file {shown}"), e)
            .bwrap_errno(format!("Unable to lock file {shown}")));
    }
    Ok(fd)
}

/// The command's part before the generic steps: wait on `--block-fd`,
/// take the requested ids inside a joined user namespace.
pub fn before_command(ctx: &Ctx, b: &Bwrap) -> Result<()> {
    if let Some(fd) = b.block_fd {
        let mut byte = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut byte);
    }
    if b.userns_fd.is_some() {
        let ids = ctx.plan.ids;
        if ids.gid != nix::unistd::getgid().as_raw() {
            nix::unistd::setgid(ids.gid.into()).map_err(|e| {
                SetupError::errno("setgid", e).bwrap_errno(format!("unable to switch to gid {}", ids.gid))
            })?;
        }
        if ids.uid != nix::unistd::getuid().as_raw() {
            nix::unistd::setuid(ids.uid.into()).map_err(|e| {
                SetupError::errno("setuid", e).bwrap_errno(format!("unable to switch to uid {}", ids.uid))
            })?;
        }
    }
    Ok(())
}

/// bubblewrap's working directory: `--chdir` (which must exist), else the
/// caller's directory if it exists inside, else `$HOME`, else `/`. Returns
/// the value for `PWD`.
pub fn choose_cwd(ctx: &Ctx, b: &Bwrap) -> Result<OsString> {
    if let Some(dir) = &ctx.plan.process.cwd {
        let shown = escape::path(dir);
        enter(dir).map_err(|e| {
            SetupError::errno(format!("cwd {shown}"), e).bwrap_errno(format!("Can't chdir to {shown}"))
        })?;
        return Ok(dir.clone().into_os_string());
    }
    for dir in &b.cwd_fallback {
        if enter(dir).is_ok() {
            ctx.log("cwd", &escape::path(dir));
            return Ok(dir.clone().into_os_string());
        }
    }
    Ok(OsString::from("/"))
}

/// chdir, resolved inside the sandbox's root: an inherited descriptor
/// (`--chdir /proc/self/fd/N`) never becomes a working directory outside
/// it (the cwd escape class of CVE-2024-21626), as in the native `cwd` step.
fn enter(dir: &Path) -> nix::Result<()> {
    let fd = super::fs::open_dir_in_current_root(dir)?;
    nix::unistd::fchdir(fd.as_raw_fd())?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(Errno::EXDEV),
    }
}

/// SELinux's exec context for the command, where SELinux is on (a no-op
/// elsewhere, as in bubblewrap).
pub fn exec_label(b: &Bwrap) -> Result<()> {
    let Some(label) = &b.exec_label else { return Ok(()) };
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return Ok(());
    }
    std::fs::write("/proc/thread-self/attr/exec", label.as_bytes()).map_err(|e| {
        let e = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        SetupError::errno(format!("exec label {}", escape::str(label)), e).bwrap_errno("label_exec")
    })
}

/// Marks the descriptors bwrap's options consumed close-on-exec; every
/// other descriptor the caller passed reaches the command.
pub fn consumed_fds(b: &Bwrap) {
    for &fd in &b.consumed_fds {
        // SAFETY: F_SETFD only changes the flags of a descriptor number;
        // EBADF for one already closed is ignored.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// init once the command is forked: like bubblewrap's pid 1 it drops
/// every capability and stays dumpable (tools outside open
/// /proc/PID/ns/* of the child pid it reports), and runs under the caller's
/// seccomp programs too (no_new_privs first: without capabilities,
/// seccomp needs it). If it cannot filter itself, the sandbox ends.
pub fn become_init(ctx: &Ctx, command: nix::unistd::Pid) {
    let _ = super::confine::drop_all();
    let _ = nix::sys::prctl::set_dumpable(true);
    if nix::sys::prctl::set_no_new_privs().is_err() || super::seccomp::install(ctx).is_err() {
        let _ = nix::sys::signal::kill(command, nix::sys::signal::Signal::SIGKILL);
        sys::exit_now(1);
    }
}

/// The fds init keeps besides its own: the sync fd.
pub fn init_keeps(b: &Bwrap) -> Vec<i32> {
    b.sync_fd.into_iter().collect()
}
