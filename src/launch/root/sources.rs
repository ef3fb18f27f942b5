//! What the operations need from the host, opened before anything is
//! mounted: every bind source and overlay layer, once, so a path is never
//! looked up twice.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

use super::overlay;
use crate::escape;
use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::sys::Sys;
use crate::plan::{FsOp, RootSource};

fn show(p: &Path) -> String {
    escape::path(p)
}

/// What one operation needs from the host, opened before the scratch tmpfs
/// hides anything.
pub enum Opened {
    Nothing,
    Bind(OwnedFd),
    Overlay(overlay::Opened),
}

/// Host objects for every operation, in plan order, and for a root
/// directory's own operation.
pub struct Sources {
    ops: Vec<Opened>,
    root: Option<(FsOp, Opened)>,
}

impl Sources {
    /// The opened objects, one per operation, in plan order; first the
    /// operation that puts a root directory in place, if any.
    pub fn into_ops(self) -> (Option<(FsOp, Opened)>, Vec<Opened>) {
        (self.root, self.ops)
    }

    /// Locks that must be held for the sandbox's life (persist state dirs).
    pub fn take_locks(&mut self) -> Vec<nix::fcntl::Flock<std::fs::File>> {
        let root = self.root.iter_mut().map(|(_, o)| o);
        self.ops
            .iter_mut()
            .chain(root)
            .filter_map(|o| match o {
                Opened::Overlay(ov) => ov.lock.take(),
                _ => None,
            })
            .collect()
    }
}

/// Opens a bind source. A descriptor the caller passed (given as
/// `/proc/self/fd/N`) belongs to the caller's mount namespace, where it
/// cannot be bound from: its path is opened again here and must still be
/// the same file (else ESTALE).
pub(super) fn open_source(sys: &dyn Sys, src: &Path) -> nix::Result<OwnedFd> {
    let Ok(n) = src.strip_prefix("/proc/self/fd") else {
        return sys.open(src, libc::O_PATH);
    };
    let passed: i32 = n.to_str().and_then(|n| n.parse().ok()).ok_or(Errno::ENOENT)?;
    let path = sys.readlink(src)?;
    let fd = sys.open(Path::new(&path), libc::O_PATH)?;
    // SAFETY: the number is the caller's descriptor, open for the process's
    // life (its path was just read); a closed one gives EBADF, not UB.
    let passed = unsafe { BorrowedFd::borrow_raw(passed) };
    let (a, b) = (sys.fstat(&passed)?, sys.fstat(&fd)?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(Errno::ESTALE);
    }
    Ok(fd)
}

/// Opens every bind source on the host (following symlinks, as bubblewrap's
/// realpath does) and every overlay layer, once. ESTALE: a passed
/// descriptor's path no longer names its file.
pub fn open_sources(sys: &dyn Sys, root: &RootSource, ops: &[FsOp]) -> Result<Sources> {
    let root = super::rootfs::open(sys, root)?;
    let mut binds = Vec::with_capacity(ops.len());
    for op in ops {
        let (src, dest, optional) = match op {
            FsOp::Bind { src, dest, optional, .. } => (src, dest, optional),
            FsOp::Overlay { lowers, upper, .. } => {
                binds.push(Opened::Overlay(overlay::open(sys, lowers, upper)?));
                continue;
            }
            _ => {
                binds.push(Opened::Nothing);
                continue;
            }
        };
        match open_source(sys, src) {
            Ok(fd) => binds.push(Opened::Bind(fd)),
            Err(Errno::ENOENT) if *optional => binds.push(Opened::Nothing),
            Err(e) => return Err(bind_error(src, dest, e)),
        }
    }
    Ok(Sources { ops: binds, root })
}

fn bind_error(src: &Path, dest: &Path, e: Errno) -> SetupError {
    let err = SetupError::errno(format!("bind {} -> {}", show(src), show(dest)), e)
        .kind(Kind::BindSource { src: show(src) });
    match e {
        Errno::ENOENT => err.hint("the source must exist on the host"),
        Errno::EACCES => err.hint("you cannot read the source on the host"),
        _ => err,
    }
}

/// [`open_source`]'s answer without opening: a path is only looked up
/// (the same errors); a passed descriptor is opened and compared.
fn check_source(sys: &dyn Sys, src: &Path) -> nix::Result<()> {
    match src.starts_with("/proc/self/fd") {
        true => open_source(sys, src).map(drop),
        false => sys.lookup(src, true),
    }
}

/// What [`open_sources`] would refuse, checked before anything starts and
/// making nothing: every bind source (one of `create` may be missing, it is
/// made first), every overlay's lower layers, and that each `--hide` not
/// marked optional names something on the host (a typo would protect
/// nothing). `sandbox explain` runs it too, so it fails with the same line.
/// Paths are looked up, not opened, where the answer is the same.
pub fn check(sys: &dyn Sys, ops: &[FsOp], create: &[std::path::PathBuf]) -> Result<()> {
    for (i, op) in ops.iter().enumerate() {
        match op {
            FsOp::Bind { src, dest, optional, .. } if !create.contains(src) => match check_source(sys, src) {
                Ok(()) => {}
                Err(Errno::ENOENT) if *optional => {}
                Err(e) => return Err(bind_error(src, dest, e)),
            },
            FsOp::Overlay { lowers, .. } => {
                for l in lowers {
                    overlay::open_lower(sys, l)?;
                }
            }
            FsOp::Hide { dest, optional: false } => {
                let Some(host) = crate::plan::view::host_path(&ops[..i], dest) else { continue };
                if let Err(e) = sys.lookup(&host, false) {
                    let err = SetupError::errno(format!("hide {}", show(dest)), e);
                    return Err(match e {
                        Errno::ENOENT => err.hint(
                            "a path that does not exist protects nothing (a typo?); --hide-try skips it",
                        ),
                        _ => err,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}
