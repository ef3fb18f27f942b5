//! The new root, built by init: the sources opened on the host, a scratch
//! tmpfs made the root, an empty root in it, the Plan's operations in order,
//! the mounts narrowed for landlock, the root made read-only, pivot_root.
//!
//! Kernel rules this module relies on:
//! - In a new mount namespace owned by our user namespace we may mount
//!   tmpfs, proc, devpts and bind mounts; mounts copied from the host are
//!   locked, so their restrictions (ro, nosuid, nodev, noexec) can be added
//!   to but never removed.
//! - `mount --make-rslave /` first, so nothing done here propagates back to
//!   the host, while nothing of the host's later mounts is lost either.
//! - Every destination is resolved inside the new root with
//!   `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` and every mount goes
//!   through the resulting fd (`/proc/self/fd/N`). A symlink brought in by an
//!   earlier bind is then followed *within* the new root and can never point
//!   a later mount or a created file at the host (the CVE-2026-87766 class).
//!   Where openat2 is refused (kernels before 5.6, some seccomp sandboxes), a
//!   component-by-component walk with O_NOFOLLOW does the same (`resolve.rs`).
//! - Sources are opened on the host once, before anything is mounted, and
//!   bound through their fd: the path is never looked up twice.
//! - The root is built inside a scratch tmpfs that is itself the root by
//!   then (see `scratch.rs`), so a recursive bind of the host's `/` or
//!   `/tmp` copies the host's mounts only, never the scratch tmpfs.
//! - Bind flags (ro, nosuid, nodev) are applied with mount_setattr(2)
//!   recursively, so every submount of a read-only bind is read-only too
//!   (falling back to a remount of each mount listed in mountinfo).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::escape;
use crate::launch::error::{Context, Result};
use crate::launch::sys::Sys;
use crate::launch::Ctx;
use crate::plan::{FsOp, RootTmpfs};

mod files;
mod narrow;
mod ops;
mod overlay;
mod remount;
pub mod resolve;
mod rootfs;
mod scratch;
pub mod sources;
mod special;
#[cfg(test)]
mod tests;

pub use sources::{open_sources, Sources};

use ops::mount_fd;
use resolve::Root;

/// Builds the new root and pivots into it, in this order.
/// Every call goes through `sys`: [`RealSys`](crate::launch::sys::RealSys)
/// in a run, a recording double in the unit tests (`tests.rs`).
pub fn build(ctx: &Ctx, sys: &dyn Sys, sources: Sources) -> Result<()> {
    file_label(ctx, sys)?; // what this process creates from now on carries the Plan's label
    let base = scratch::mount(ctx, sys)?; // the scratch tmpfs is the root now, the host's beneath it
    crate::trace::step("init", "scratch root");
    let root = operations(ctx, sys, &base, sources)?; // the Plan's, in order, on an empty root
    crate::trace::step("init", "operations");
    narrow::apply(ctx, &root)?; // read-only outside the write rules, noexec outside the exec rules
    crate::trace::step("init", "narrowed");
    read_only(ctx, &root)?; // the root itself, unless the Plan keeps it writable
    pivot(&root) // into it; the old root, with the scratch tmpfs, detached
}

/// SELinux's context for the files this process creates (bubblewrap's
/// `--file-label`, setfscreatecon): the front end accepts a label only
/// where SELinux is enabled.
fn file_label(ctx: &Ctx, sys: &dyn Sys) -> Result<()> {
    let Some(label) = &ctx.plan.root.file_label else { return Ok(()) };
    ctx.log("file label", label);
    let fd = sys.open(Path::new("/proc/thread-self/attr/fscreate"), libc::O_WRONLY | libc::O_CLOEXEC);
    fd.and_then(|fd| sys.write(&fd, label.as_bytes())).what(|| "file label".into())
}

/// The Plan's operations, in order, on the empty directory `root` of the
/// scratch tmpfs `base`.
fn operations<'s>(ctx: &Ctx, sys: &'s dyn Sys, base: &OwnedFd, sources: Sources) -> Result<Root<'s>> {
    let open_root = || sys.openat(base, Path::new("root"), libc::O_PATH | libc::O_DIRECTORY, 0);
    let mut root = Root::new(sys, open_root().what(|| "open the new root".into())?, true);
    let (dir, ops) = sources.into_ops();
    if let Some((op, src)) = dir {
        // `--rootfs`: the directory, then the operations on top of it.
        rootfs::mount(ctx, &root, base, &op, src)?;
        root.fd = open_root().what(|| "open the new root".into())?;
    }
    let parent_modes = &ctx.plan.root.parent_modes;
    for (n, (op, src)) in ctx.plan.fs.iter().zip(ops).enumerate() {
        ctx.log_with("mount", || describe(op));
        root.parent_mode.set(parent_modes.get(n).copied().unwrap_or(0o755));
        ops::apply(ctx, &root, base, n, op, src)?;
        if op.dest() == Path::new("/") {
            // Something now covers the root: reach the top of the stack.
            root.fd = open_root().what(|| "open the new root".into())?;
        }
        if n == 0 {
            ctx.pause("mounts");
        }
    }
    Ok(root)
}

/// The root read-only (nosuid, nodev); a writable root stays so: callers
/// create files in it. A `--rootfs` root made read-only is the overlay whose
/// upper layer held the mount points the operations needed. A mount the
/// Plan puts at `/` itself (`--rw DIR:/`) replaced that root and keeps its
/// own access: a read-only one is read-only already.
fn read_only(ctx: &Ctx, root: &Root) -> Result<()> {
    let plan = ctx.plan;
    if plan.root.tmpfs == RootTmpfs::Writable
        || plan.root.source.writable()
        || plan.fs.iter().any(FsOp::replaces_root)
    {
        return Ok(());
    }
    ctx.log("mount", "/ read-only, pivot_root");
    let ro =
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount_fd(root, None, &root.fd, None, ro, None).what(|| "remount / read-only".into())
}

/// pivot_root into `root` and detach the old root (with the scratch tmpfs on
/// it), so no host path is reachable by name any more.
fn pivot(root: &Root) -> Result<()> {
    let (sys, here) = (root.sys, Path::new("."));
    sys.fchdir(&root.fd).what(|| "chdir to the new root".into())?;
    sys.pivot_root(here, here).what(|| "pivot_root".into())?;
    sys.umount2(here, MntFlags::MNT_DETACH).what(|| "detach the old root".into())?;
    sys.chdir(Path::new("/")).what(|| "chdir /".into())
}

fn show(p: &Path) -> String {
    escape::path(p)
}

fn describe(op: &FsOp) -> String {
    match op {
        FsOp::Bind { src, dest, access, .. } => format!("bind {} -> {} ({access:?})", show(src), show(dest)),
        FsOp::Tmpfs { dest, .. } => format!("tmpfs {}", show(dest)),
        FsOp::Proc { dest } => format!("proc {}", show(dest)),
        FsOp::Dev { dest } => format!("dev {}", show(dest)),
        FsOp::Dir { dest, .. } => format!("mkdir {}", show(dest)),
        FsOp::Symlink { target, dest } => format!("symlink {} -> {}", show(dest), show(target)),
        FsOp::Hide { dest, .. } => format!("hide {}", show(dest)),
        FsOp::File { dest, how, .. } => format!("file {} ({how:?})", show(dest)),
        FsOp::Chmod { dest, mode } => format!("chmod {mode:04o} {}", show(dest)),
        FsOp::RemountRo { dest } => format!("remount read-only {}", show(dest)),
        FsOp::Mqueue { dest } => format!("mqueue {}", show(dest)),
        FsOp::Overlay { dest, .. } => format!("overlay {}", show(dest)),
    }
}
