//! Resolving a path inside the root being built, so that no symlink can
//! lead a mount or a created file out of it.
//!
//! Kernel rules this relies on:
//! - openat2(2) with RESOLVE_IN_ROOT treats the directory fd as `/` for the
//!   whole lookup: absolute symlinks and `..` stop there.
//!   RESOLVE_NO_MAGICLINKS refuses /proc/PID/fd/N and friends (ELOOP),
//!   which would jump anywhere.
//! - Where openat2 is refused (kernels before 5.6, some seccomp sandboxes),
//!   a component-by-component walk with O_NOFOLLOW does the same by hand.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{fstat, SFlag};

use super::sys::{self, fd_path};

/// The root being built, and whether openat2 can be used to reach into it.
pub struct Root {
    pub(super) fd: OwnedFd,
    openat2: Cell<bool>,
    /// The mode of missing parent directories the current operation
    /// creates (0755; bubblewrap narrows it, see `Bwrap::parent_modes`).
    pub(super) parent_mode: Cell<u32>,
}

impl Root {
    pub(super) fn new(fd: OwnedFd, openat2: bool) -> Root {
        Root { fd, openat2: Cell::new(openat2), parent_mode: Cell::new(0o755) }
    }
}

impl Root {
    /// Opens `path` (absolute, inside the root) with O_PATH, following
    /// symlinks only within the root.
    pub fn open(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
        let rel = relative(path);
        if self.openat2.get() {
            let resolve = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;
            // EAGAIN: a `..` raced with a rename or mount somewhere on the
            // system and the kernel could not prove it stayed inside; it
            // asks to retry (openat2(2)). The walk below is the last resort.
            for _ in 0..32 {
                match sys::openat2(&self.fd, &rel, libc::O_PATH | flags, resolve) {
                    Err(Errno::EAGAIN) => continue,
                    Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
                        self.openat2.set(false);
                        break;
                    }
                    other => return other,
                }
            }
        }
        walk_in_root(&self.fd, &rel, flags)
    }
}

/// Opens the directory `path` of the current root the way destinations are
/// resolved: symlinks stay inside, magic links (/proc/self/fd/N) are refused.
pub fn open_dir_in_current_root(path: &Path) -> nix::Result<OwnedFd> {
    let fd = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY)?;
    Root::new(fd, true).open(path, libc::O_DIRECTORY)
}

/// See [`super::resolve_in_root`].
pub fn resolve_for_test(root: &Path, path: &Path, fallback: bool) -> nix::Result<PathBuf> {
    let fd = sys::open(root, libc::O_PATH | libc::O_DIRECTORY)?;
    let root = Root::new(fd, !fallback);
    let got = root.open(path, 0)?;
    std::fs::read_link(fd_path(&got)).map_err(|_| Errno::EBADF)
}

fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf =
        path.components().filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir)).collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The openat2 fallback: resolve `rel` one component at a time with
/// O_NOFOLLOW, expanding symlinks by hand so that `/` and `..` stop at `root`.
fn walk_in_root(root: &OwnedFd, rel: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = vec![root.try_clone().map_err(|_| Errno::EMFILE)?];
    let mut todo: VecDeque<OsString> = rel.iter().map(OsStr::to_owned).collect();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == "." || name.is_empty() {
            continue;
        }
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let cur = stack.last().ok_or(Errno::ENOENT)?;
        let fd = sys::openat(cur, Path::new(&name), libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        if SFlag::from_bits_truncate(fstat(fd.as_raw_fd())?.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
            links += 1;
            if links > 40 {
                return Err(Errno::ELOOP);
            }
            let target = nix::fcntl::readlinkat(Some(cur.as_fd().as_raw_fd()), Path::new(&name))?;
            let target = Path::new(&target);
            if target.is_absolute() {
                stack.truncate(1);
            }
            for c in target.iter().rev() {
                if c != "/" {
                    todo.push_front(c.to_owned());
                }
            }
            continue;
        }
        stack.push(fd);
    }
    let fd = stack.pop().ok_or(Errno::ENOENT)?;
    if flags & libc::O_DIRECTORY != 0 && !is_dir(&fd)? {
        return Err(Errno::ENOTDIR);
    }
    Ok(fd)
}

pub(super) fn is_dir(fd: &OwnedFd) -> nix::Result<bool> {
    Ok(SFlag::from_bits_truncate(fstat(fd.as_raw_fd())?.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The fallback walk and openat2(RESOLVE_IN_ROOT) agree on where each
    /// path lands, and neither ever leaves the root.
    #[test]
    fn in_root_resolution_never_escapes() {
        let outside = tempfile::tempdir().unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        let r = root_dir.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/marker"), "inside").unwrap();
        std::fs::write(outside.path().join("marker"), "outside").unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../../../../../etc", r.join("a/rel")).unwrap();
        symlink(outside.path(), r.join("host")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let root_fd = sys::open(r, libc::O_PATH | libc::O_DIRECTORY).unwrap();
        let root = Root::new(root_fd.try_clone().unwrap(), true);
        let land = |fd: nix::Result<OwnedFd>| fd.map(|fd| std::fs::read_link(fd_path(&fd)).unwrap());
        for (path, expect) in [
            ("/abs/marker", Some(r.join("etc/marker"))),
            ("/a/rel/marker", Some(r.join("etc/marker"))),
            ("/a/b/../../../etc/marker", Some(r.join("etc/marker"))),
            ("/", Some(r.to_path_buf())),
            ("/host/marker", None),
            ("/loop", None),
        ] {
            let via_openat2 = land(root.open(Path::new(path), 0));
            let via_walk = land(walk_in_root(&root_fd, &relative(Path::new(path)), 0));
            assert_eq!(via_openat2.as_ref().ok(), expect.as_ref(), "openat2 {path}");
            assert_eq!(via_walk.as_ref().ok(), expect.as_ref(), "walk {path}");
        }
        assert_eq!(walk_in_root(&root_fd, Path::new("loop"), 0).unwrap_err(), Errno::ELOOP);
        assert_eq!(
            walk_in_root(&root_fd, Path::new("etc/marker"), libc::O_DIRECTORY).unwrap_err(),
            Errno::ENOTDIR
        );
    }
}
