//! The kernel, but for openat2: a [`Sys`] for the tests of the walk that
//! stands in for openat2 when it fails.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::FileStat;
use nix::sys::statvfs::FsFlags;

use crate::launch::sys::{RealSys, ResolveFlag, Sys};

/// The kernel, but for an openat2 that always fails with this errno, as a
/// busy host may make it fail (see `root::resolve`).
pub struct Openat2Fails(pub Errno);

impl Sys for Openat2Fails {
    fn open(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
        RealSys.open(path, flags)
    }
    fn openat(&self, dir: &dyn AsFd, name: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
        RealSys.openat(dir, name, flags, mode)
    }
    fn openat2(&self, _: &dyn AsFd, _: &Path, _: i32, _: ResolveFlag) -> nix::Result<OwnedFd> {
        Err(self.0)
    }
    fn fstat(&self, fd: &dyn AsFd) -> nix::Result<FileStat> {
        RealSys.fstat(fd)
    }
    fn fs_type(&self, fd: &dyn AsFd) -> nix::Result<i64> {
        RealSys.fs_type(fd)
    }
    fn readlinkat(&self, dir: &dyn AsFd, name: &Path) -> nix::Result<OsString> {
        RealSys.readlinkat(dir, name)
    }
    fn readlink(&self, path: &Path) -> nix::Result<OsString> {
        RealSys.readlink(path)
    }
    fn location(&self, fd: &dyn AsFd) -> nix::Result<PathBuf> {
        RealSys.location(fd)
    }
    fn writable(&self, fd: &dyn AsFd) -> bool {
        RealSys.writable(fd)
    }
    fn terminal(&self, host: &Path) -> Option<OwnedFd> {
        RealSys.terminal(host)
    }
    fn mountinfo(&self) -> nix::Result<String> {
        RealSys.mountinfo()
    }
    fn statvfs(&self, path: &Path) -> nix::Result<FsFlags> {
        RealSys.statvfs(path)
    }
    fn mkdirat(&self, dir: &dyn AsFd, name: &Path, mode: u32) -> nix::Result<()> {
        RealSys.mkdirat(dir, name, mode)
    }
    fn symlinkat(&self, target: &Path, dir: &dyn AsFd, name: &Path) -> nix::Result<()> {
        RealSys.symlinkat(target, dir, name)
    }
    fn mount(
        &self,
        s: Option<&Path>,
        t: &Path,
        ty: Option<&str>,
        f: MsFlags,
        d: Option<&str>,
    ) -> nix::Result<()> {
        RealSys.mount(s, t, ty, f, d)
    }
    fn mount_setattr(&self, fd: &dyn AsFd, attrs: u64, recursive: bool) -> nix::Result<()> {
        RealSys.mount_setattr(fd, attrs, recursive)
    }
    fn open_tree(&self, fd: &dyn AsFd) -> nix::Result<OwnedFd> {
        RealSys.open_tree(fd)
    }
    fn move_mount(&self, tree: &dyn AsFd, target: &dyn AsFd) -> nix::Result<()> {
        RealSys.move_mount(tree, target)
    }
    fn fchmod(&self, fd: &dyn AsFd, mode: u32) -> nix::Result<()> {
        RealSys.fchmod(fd, mode)
    }
    fn chmod(&self, path: &Path, mode: u32) -> nix::Result<()> {
        RealSys.chmod(path, mode)
    }
    fn write(&self, fd: &dyn AsFd, data: &[u8]) -> nix::Result<()> {
        RealSys.write(fd, data)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        RealSys.pivot_root(new_root, put_old)
    }
    fn umount2(&self, path: &Path, flags: MntFlags) -> nix::Result<()> {
        RealSys.umount2(path, flags)
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        RealSys.chdir(path)
    }
    fn fchdir(&self, fd: &dyn AsFd) -> nix::Result<()> {
        RealSys.fchdir(fd)
    }
}
