//! The system calls of launch.
//!
//! - [`raw`]: thin wrappers, each returning `nix::Result` so callers attach
//!   the object they acted on; re-exported here (`sys::openat`, …).
//! - [`Sys`]: the calls that build the new root (`root/`), as a trait the
//!   root builder is given explicitly: [`RealSys`] makes them;
//!   `recording::RecordingSys` (tests) records them as typed calls on a
//!   fake tree, so the order and flags of every mount are unit-tested
//!   without root.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::FileStat;
use nix::sys::statvfs::FsFlags;

mod raw;
#[cfg(test)]
pub mod recording;

pub use raw::*;

/// The calls the root builder makes. Paths of objects already opened are
/// passed as `/proc/self/fd/N` ([`fd_path`]), as the kernel takes them.
pub trait Sys {
    /// open(2) of a path, O_CLOEXEC added.
    fn open(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd>;
    /// Whether `path` can be looked up (following a final symlink when
    /// `follow`), with the errors an O_PATH open(2) of it would give, but
    /// nothing opened: stat(2) or lstat(2).
    fn lookup(&self, path: &Path, follow: bool) -> nix::Result<()> {
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        self.open(path, libc::O_PATH | nofollow).map(drop)
    }
    /// openat(2), O_CLOEXEC added; `mode` for O_CREAT.
    fn openat(&self, dir: &dyn AsFd, name: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd>;
    /// openat2(2) with `resolve`, O_CLOEXEC added.
    fn openat2(&self, dir: &dyn AsFd, path: &Path, flags: i32, resolve: ResolveFlag) -> nix::Result<OwnedFd>;
    /// fstat(2).
    fn fstat(&self, fd: &dyn AsFd) -> nix::Result<FileStat>;
    /// The file system type of the object (fstatfs(2)'s `f_type`).
    fn fs_type(&self, fd: &dyn AsFd) -> nix::Result<i64>;
    /// readlinkat(2).
    fn readlinkat(&self, dir: &dyn AsFd, name: &Path) -> nix::Result<OsString>;
    /// readlink(2) of a path.
    fn readlink(&self, path: &Path) -> nix::Result<OsString>;
    /// Where the object of `fd` is, as a path without symlinks.
    fn location(&self, fd: &dyn AsFd) -> nix::Result<PathBuf>;
    /// Whether this process may write to the object of `fd`.
    fn writable(&self, fd: &dyn AsFd) -> bool;
    /// The caller's terminal, when fd 1 is one: opened by its name beneath
    /// `host` (where the host's root is while the new root is built).
    fn terminal(&self, host: &Path) -> Option<OwnedFd>;
    /// /proc/self/mountinfo.
    fn mountinfo(&self) -> nix::Result<String>;
    /// statvfs(3)'s flags of a mount.
    fn statvfs(&self, path: &Path) -> nix::Result<FsFlags>;
    /// mkdirat(2).
    fn mkdirat(&self, dir: &dyn AsFd, name: &Path, mode: u32) -> nix::Result<()>;
    /// symlinkat(2): a link at `name` in `dir` pointing at `target`.
    fn symlinkat(&self, target: &Path, dir: &dyn AsFd, name: &Path) -> nix::Result<()>;
    /// mount(2).
    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// mount_setattr(2): adds `attrs` (`MOUNT_ATTR_*`) to the mount of
    /// `fd`, and to every one beneath it when `recursive`.
    fn mount_setattr(&self, fd: &dyn AsFd, attrs: u64, recursive: bool) -> nix::Result<()>;
    /// open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE: a detached copy.
    fn open_tree(&self, fd: &dyn AsFd) -> nix::Result<OwnedFd>;
    /// move_mount(2) of a detached tree onto the object of `target`.
    fn move_mount(&self, tree: &dyn AsFd, target: &dyn AsFd) -> nix::Result<()>;
    /// fchmod(2) of an open file.
    fn fchmod(&self, fd: &dyn AsFd, mode: u32) -> nix::Result<()>;
    /// chmod(2) of a path (following it: an O_PATH fd's magic link).
    fn chmod(&self, path: &Path, mode: u32) -> nix::Result<()>;
    /// Writes all of `data` to `fd`.
    fn write(&self, fd: &dyn AsFd, data: &[u8]) -> nix::Result<()>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// umount2(2).
    fn umount2(&self, path: &Path, flags: MntFlags) -> nix::Result<()>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    /// fchdir(2).
    fn fchdir(&self, fd: &dyn AsFd) -> nix::Result<()>;
}

/// The kernel.
pub struct RealSys;

impl Sys for RealSys {
    fn open(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
        raw::open(path, flags)
    }

    fn lookup(&self, path: &Path, follow: bool) -> nix::Result<()> {
        match follow {
            true => nix::sys::stat::stat(path).map(drop),
            false => nix::sys::stat::lstat(path).map(drop),
        }
    }

    fn openat(&self, dir: &dyn AsFd, name: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
        raw::openat(&dir.as_fd(), name, flags, mode)
    }

    fn openat2(&self, dir: &dyn AsFd, path: &Path, flags: i32, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
        raw::openat2(&dir.as_fd(), path, flags, resolve)
    }

    fn fstat(&self, fd: &dyn AsFd) -> nix::Result<FileStat> {
        nix::sys::stat::fstat(fd.as_fd().as_raw_fd())
    }

    // f_type is narrower than i64 on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    fn fs_type(&self, fd: &dyn AsFd) -> nix::Result<i64> {
        nix::sys::statfs::fstatfs(fd.as_fd()).map(|s| s.filesystem_type().0 as i64)
    }

    fn readlinkat(&self, dir: &dyn AsFd, name: &Path) -> nix::Result<OsString> {
        nix::fcntl::readlinkat(Some(dir.as_fd().as_raw_fd()), name)
    }

    fn readlink(&self, path: &Path) -> nix::Result<OsString> {
        nix::fcntl::readlink(path)
    }

    fn location(&self, fd: &dyn AsFd) -> nix::Result<PathBuf> {
        nix::fcntl::readlink(&fd_path(&fd.as_fd())).map(PathBuf::from)
    }

    fn writable(&self, fd: &dyn AsFd) -> bool {
        nix::unistd::access(&fd_path(&fd.as_fd()), nix::unistd::AccessFlags::W_OK).is_ok()
    }

    fn terminal(&self, host: &Path) -> Option<OwnedFd> {
        if !nix::unistd::isatty(1).unwrap_or(false) {
            return None;
        }
        // ttyname(3) would look the name up in the current root; the link
        // names the host's device, which is beneath `host` now.
        let name = nix::fcntl::readlink("/proc/self/fd/1").ok()?;
        let name = Path::new(&name);
        let tty = raw::open(&host.join(name.strip_prefix("/").unwrap_or(name)), libc::O_PATH).ok()?;
        let same = |a: FileStat, b: FileStat| a.st_rdev == b.st_rdev && a.st_ino == b.st_ino;
        match (nix::sys::stat::fstat(1), nix::sys::stat::fstat(tty.as_raw_fd())) {
            (Ok(a), Ok(b)) if same(a, b) => Some(tty),
            _ => None,
        }
    }

    fn mountinfo(&self) -> nix::Result<String> {
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| nix::errno::Errno::EIO)
    }

    fn statvfs(&self, path: &Path) -> nix::Result<FsFlags> {
        nix::sys::statvfs::statvfs(path).map(|s| s.flags())
    }

    fn mkdirat(&self, dir: &dyn AsFd, name: &Path, mode: u32) -> nix::Result<()> {
        let mode = nix::sys::stat::Mode::from_bits_truncate(mode);
        nix::sys::stat::mkdirat(Some(dir.as_fd().as_raw_fd()), name, mode)
    }

    fn symlinkat(&self, target: &Path, dir: &dyn AsFd, name: &Path) -> nix::Result<()> {
        nix::unistd::symlinkat(target, Some(dir.as_fd().as_raw_fd()), name)
    }

    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(src, target, fstype, flags, data)
    }

    fn mount_setattr(&self, fd: &dyn AsFd, attrs: u64, recursive: bool) -> nix::Result<()> {
        raw::mount_setattr(&fd.as_fd(), attrs, recursive)
    }

    fn open_tree(&self, fd: &dyn AsFd) -> nix::Result<OwnedFd> {
        raw::clone_tree(&fd.as_fd())
    }

    fn move_mount(&self, tree: &dyn AsFd, target: &dyn AsFd) -> nix::Result<()> {
        raw::attach_tree(&tree.as_fd(), &target.as_fd())
    }

    fn fchmod(&self, fd: &dyn AsFd, mode: u32) -> nix::Result<()> {
        nix::sys::stat::fchmod(fd.as_fd().as_raw_fd(), nix::sys::stat::Mode::from_bits_truncate(mode))
    }

    fn chmod(&self, path: &Path, mode: u32) -> nix::Result<()> {
        let mode = nix::sys::stat::Mode::from_bits_truncate(mode);
        nix::sys::stat::fchmodat(None, path, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)
    }

    fn write(&self, fd: &dyn AsFd, data: &[u8]) -> nix::Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            match nix::unistd::write(fd.as_fd(), rest) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn umount2(&self, path: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(path, flags)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn fchdir(&self, fd: &dyn AsFd) -> nix::Result<()> {
        nix::unistd::fchdir(fd.as_fd().as_raw_fd())
    }
}
