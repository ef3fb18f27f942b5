//! A root directory of the host (`--rootfs DIR`), put in place before the
//! Plan's operations, which then land on top of it.
//!
//! The directory is opened on the host once, before anything is mounted,
//! like every other source. It is mounted nosuid and nodev at the new
//! root: as a read-write bind (`--rw-rootfs`), or as the lower layer of an
//! overlay, whose upper layer is a tmpfs of the scratch space (writes
//! vanish; for a read-only root it holds only the mount points the
//! operations add, and the root is remounted read-only after them) or a
//! `--persist` state directory. The directory itself then never changes.
//!
//! Everything after it resolves paths inside the new root
//! (`RESOLVE_IN_ROOT`), so an absolute symlink in the directory, such as
//! `etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf`, is followed
//! within it and never to the host.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;

use super::ops;
use super::overlay;
use super::resolve::Root;
use super::sources::{open_source, Opened};
use crate::escape;
use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::sys::Sys;
use crate::launch::Ctx;
use crate::plan::{FsOp, RootSource};

fn what(dir: &Path) -> String {
    format!("rootfs {}", escape::path(dir))
}

/// Opens the root directory and what its operation needs (an overlay's
/// state directory, locked); `None` for the tmpfs root.
pub fn open(sys: &dyn Sys, source: &RootSource) -> Result<Option<(FsOp, Opened)>> {
    let (Some(op), RootSource::Dir { path: dir, .. }) = (source.op(), source) else { return Ok(None) };
    // The directory itself, first, for an error that names it.
    let fd = sys.open(dir, libc::O_PATH | libc::O_DIRECTORY).map_err(|e| {
        let err = SetupError::errno(what(dir), e).kind(Kind::BindSource { src: escape::path(dir) });
        match e {
            Errno::ENOENT => err.hint("the root directory must exist on the host"),
            Errno::ENOTDIR => err.hint("--rootfs takes a directory (unpack an image tarball into one)"),
            Errno::EACCES => err.hint("you cannot reach the directory on the host"),
            _ => err,
        }
    })?;
    let opened = match &op {
        FsOp::Overlay { lowers, upper, .. } => {
            let opened = overlay::open(sys, lowers, upper)?;
            opened.upper_like_lower_root(sys)?;
            Opened::Overlay(opened)
        }
        FsOp::Bind { src, .. } => {
            Opened::Bind(open_source(sys, src).map_err(|e| SetupError::errno(what(dir), e))?)
        }
        _ => unreachable!("a root directory is a bind or an overlay"),
    };
    drop::<OwnedFd>(fd);
    Ok(Some((op, opened)))
}

/// Mounts the root directory at the new root (`root`, in the scratch
/// tmpfs `base`).
pub fn mount(ctx: &Ctx, root: &Root, base: &OwnedFd, op: &FsOp, src: Opened) -> Result<()> {
    ctx.log("mount", &format!("root {}", escape::path(op_source(op))));
    // Numbered past the Plan's operations, so its scratch directories are its own.
    let n = ctx.plan.fs.len();
    ops::apply(ctx, root, base, n, op, src).map_err(|e| {
        if e.errno_is(Errno::EINVAL) {
            let dir = escape::path(op_source(op));
            e.hint(format!(
                "overlayfs refused {dir} as a lower layer: it may be on a file system overlayfs cannot use \
                 (another overlay's upper, fuse), or the kernel is older than 5.11; --rw-rootfs binds it instead"
            ))
        } else {
            e
        }
    })
}

fn op_source(op: &FsOp) -> &Path {
    match op {
        FsOp::Overlay { lowers, .. } => &lowers[0],
        FsOp::Bind { src, .. } => src,
        other => other.dest(),
    }
}
