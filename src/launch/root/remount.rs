//! Read-only remounts for kernels without mount_setattr(2) (before 5.12).
//!
//! A bind remount must restate the flags the kernel locked on a mount that
//! came from the host (nosuid, nodev, noexec, ro, atime), or it fails with
//! EPERM; statvfs tells which are set. Every mount at or beneath the target
//! is listed from /proc/self/mountinfo and remounted in turn, so submounts of
//! a read-only bind are read-only too.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::statvfs::FsFlags;

use crate::launch::sys::{self, Sys};

pub fn legacy(sys: &dyn Sys, fd: &OwnedFd, attrs: u64, recursive: bool) -> nix::Result<()> {
    let top = sys.location(fd)?;
    let info = sys.mountinfo()?;
    let mut targets: Vec<PathBuf> = vec![top.clone()];
    if recursive {
        targets.extend(mount_points(&info).into_iter().filter(|p| p != &top && p.starts_with(&top)));
    }
    let mut add = MsFlags::empty();
    if attrs & sys::MOUNT_ATTR_RDONLY != 0 {
        add |= MsFlags::MS_RDONLY;
    }
    if attrs & sys::MOUNT_ATTR_NOSUID != 0 {
        add |= MsFlags::MS_NOSUID;
    }
    if attrs & sys::MOUNT_ATTR_NODEV != 0 {
        add |= MsFlags::MS_NODEV;
    }
    if attrs & sys::MOUNT_ATTR_NOEXEC != 0 {
        add |= MsFlags::MS_NOEXEC;
    }
    for t in targets {
        let locked = current_flags(sys, &t)?;
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | locked | add;
        sys.mount(None, &t, None, flags, None)?;
    }
    Ok(())
}

fn current_flags(sys: &dyn Sys, p: &Path) -> nix::Result<MsFlags> {
    let f = sys.statvfs(p)?;
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st) {
            out |= ms;
        }
    }
    Ok(out)
}

/// The mount points of a mountinfo text (field 5), octal escapes decoded.
pub fn mount_points(info: &str) -> Vec<PathBuf> {
    info.lines().filter_map(|l| l.split(' ').nth(4)).map(|p| PathBuf::from(unescape(p))).collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_points_are_unescaped() {
        let info = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    30 22 0:30 / /tmp/a\\040b rw - tmpfs tmpfs rw\n";
        assert_eq!(mount_points(info), [PathBuf::from("/proc"), PathBuf::from("/tmp/a b")]);
    }
}
