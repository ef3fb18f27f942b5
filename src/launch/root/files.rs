//! Small file-system operations: data files (copied or bound), chmod,
//! read-only remounts, message queues (`FsOp::File`, `Chmod`, `RemountRo`,
//! `Mqueue`).
//!
//! A data file that is bound (not copied) is written to the scratch tmpfs,
//! which is detached with the old root after pivot_root: the bind keeps the
//! file alive and nothing of it is reachable by name. A dangling symlink at
//! its destination is covered rather than an error (see [`bind_target`]).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::ops;
use super::resolve::Root;
use crate::escape;
use crate::launch::error::{Context, Kind, Result, SetupError};
use crate::launch::sys;
use crate::plan::{FileHow, Special};

fn write_all(root: &Root, fd: &OwnedFd, content: &[u8], what: &dyn Fn() -> String) -> Result<()> {
    root.sys.write(fd, content).what(what)
}

/// `FsOp::File`: content at `dest`, copied or bound.
pub fn file(
    root: &Root,
    base: &OwnedFd,
    n: usize,
    dest: &Path,
    content: &[u8],
    mode: u32,
    how: FileHow,
) -> Result<()> {
    let what = || format!("file {}", escape::path(dest));
    match how {
        FileHow::Copy => {
            let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
                return Err(SetupError::errno(what(), Errno::EINVAL));
            };
            let pfd = root.ensure_parent(parent)?;
            let flags = libc::O_CREAT | libc::O_TRUNC | libc::O_WRONLY | libc::O_NOFOLLOW;
            let fd = root
                .sys
                .openat(&pfd, Path::new(name), flags, mode)
                .what(what)
                .map_err(|e| e.kind(Kind::WriteFile { dest: escape::path(dest) }))?;
            // The mode given at creation is masked by the umask (0 here) and
            // ignored for an existing file: set it explicitly.
            root.sys.fchmod(&fd, mode).what(what)?;
            write_all(root, &fd, content, &what)
        }
        FileHow::Bind | FileHow::BindRo => {
            let name = format!("data-{n}");
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
            // The file just created (O_EXCL) in the scratch tmpfs is the
            // source: the fd written through is bound, not the name
            // looked up again.
            let src = root.sys.openat(base, Path::new(&name), flags, mode).what(what)?;
            write_all(root, &src, content, &what)?;
            let target = bind_target(root, dest)?;
            match ops::mount_fd(root, Some(&sys::fd_path(&src)), &target, None, MsFlags::MS_BIND, None) {
                // The object was just opened, yet mounting on it says ENOENT:
                // it is a mount of a file deleted since (as a container's
                // resolv.conf is once the host replaces its own).
                Err(Errno::ENOENT) => {
                    return Err(SetupError::errno(what(), Errno::ENOENT).hint(format!(
                        "{} is a mount of a file deleted on the host since; nothing can be mounted over it",
                        escape::path(dest)
                    )))
                }
                other => other.what(what)?,
            }
            let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
            if how == FileHow::BindRo {
                attrs |= sys::MOUNT_ATTR_RDONLY;
            }
            ops::restrict(root, dest, attrs, false)
        }
    }
}

/// Where a bound data file goes: the object at `dest`, a symlink followed
/// within the root; a new empty file when nothing is there;
/// or, when `dest` is a symlink that leads nowhere inside, the link itself
/// (reached through `O_PATH | O_NOFOLLOW`; a later lookup of the path stops
/// at the mount before it could follow the link). That last case is
/// systemd-resolved's /etc/resolv.conf -> ../run/systemd/resolve/... where
/// /run is not shared.
fn bind_target(root: &Root, dest: &Path) -> Result<OwnedFd> {
    let open = || format!("open {}", escape::path(dest));
    match root.open(dest, 0) {
        Err(Errno::ENOENT) => {}
        other => return other.what(open),
    }
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(SetupError::errno(open(), Errno::EINVAL));
    };
    let dir = root.ensure_parent(parent)?;
    match root.sys.openat(&dir, Path::new(name), libc::O_PATH | libc::O_NOFOLLOW, 0) {
        Err(Errno::ENOENT) => ops::mount_point_file(root, dest),
        other => other.what(open),
    }
}

/// `FsOp::Chmod`: the path must exist; no parent is created.
pub fn chmod(root: &Root, dest: &Path, mode: u32) -> Result<()> {
    let what = || format!("chmod {mode:04o} {}", escape::path(dest));
    let kind = |e: SetupError| e.kind(Kind::Chmod { dest: escape::path(dest), mode });
    // chmod through an O_PATH fd: fchmod refuses O_PATH, /proc/self/fd/N
    // (a magic link, followed once) reaches exactly the resolved inode.
    let fd = root.open(dest, 0).what(what).map_err(kind)?;
    root.sys.chmod(&sys::fd_path(&fd), mode).what(what).map_err(kind)
}

/// `FsOp::RemountRo`: only the mount at `dest`, not its submounts; `dest`
/// must already be a mount point (only its parents are made).
pub fn remount_ro(root: &Root, dest: &Path) -> Result<()> {
    let shown = escape::path(dest);
    if let Some(parent) = dest.parent() {
        root.ensure_parent(parent)?;
    }
    let fd = root
        .open(dest, 0)
        .what(|| format!("open {shown}"))
        .map_err(|e| e.kind(Kind::RemountFind { dest: shown.clone() }))?;
    // Resolved just now, after every mount so far: the mount `dest` names.
    // mount_setattr refuses a path that is not a mount's root (EINVAL).
    ops::restrict_fd(root, &fd, dest, sys::MOUNT_ATTR_RDONLY, false)
        .map_err(|e| e.kind(Kind::Remount { dest: shown }))
}

/// `FsOp::Mqueue`: strict adds nosuid, nodev, noexec.
pub fn mqueue(root: &Root, dest: &Path, special: Special) -> Result<()> {
    let flags = match special {
        Special::Strict => MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Special::Plain => MsFlags::empty(),
    };
    ops::mount_new(root, dest, "mqueue", flags, None)
}
