//! The plan's lock files: read locks (fcntl F_RDLCK) on files inside the
//! sandbox, taken by pid 1 once the file system is built and held for the
//! sandbox's life, so a process outside can tell whether it still runs.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

use crate::escape;
use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::{sys, Ctx};

/// Takes every lock; init keeps the descriptors.
pub fn take(ctx: &Ctx) -> Result<Vec<OwnedFd>> {
    ctx.plan.process.lock_files.iter().map(|p| lock(p)).collect()
}

/// A read lock on the whole of `path` (a sandbox path).
fn lock(path: &Path) -> Result<OwnedFd> {
    let shown = escape::path(path);
    let at = if path.is_absolute() { path.to_path_buf() } else { Path::new("/").join(path) };
    let fd = sys::open(&at, libc::O_RDONLY).map_err(|e| {
        SetupError::errno(format!("lock-file {shown}"), e).kind(Kind::LockOpen { path: shown.clone() })
    })?;
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = libc::F_RDLCK as libc::c_short;
    l.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_SETLK reads the flock struct we own for the call's duration.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLK, &l) } < 0 {
        let e = Errno::last();
        return Err(SetupError::errno(format!("lock-file {shown}"), e).kind(Kind::Lock { path: shown }));
    }
    Ok(fd)
}
