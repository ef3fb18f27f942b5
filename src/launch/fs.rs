//! The file system: an empty tmpfs root, the Plan's operations in order,
//! then pivot_root into it.
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

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, Mode};

use super::error::{Context, Kind, Result, SetupError};
use super::resolve::is_dir;
pub use super::resolve::{open_dir_in_current_root, resolve_for_test, Root};
use super::sys::{self, fd_path};
use super::Ctx;
use crate::escape;
use crate::plan::{Access, FsOp, RootTmpfs};

impl Root {
    /// Makes the missing parents of `path` (mode [`Root::parent_mode`]).
    pub fn ensure_parent(&self, path: &Path) -> Result<OwnedFd> {
        ensure_dir(self, path, self.parent_mode.get())
    }
}

fn show(p: &Path) -> String {
    escape::path(p)
}

fn ro_parent_hint(dest: &Path) -> String {
    format!(
        "a parent of {} is read-only inside the sandbox: create it on the host first, \
         or put a --tmpfs or --rw mount on the parent before this option",
        show(dest)
    )
}

/// Makes the directory `path` (and missing parents, mode 0755) inside the root.
pub fn ensure_dir(root: &Root, path: &Path, mode: u32) -> Result<OwnedFd> {
    match root.open(path, libc::O_DIRECTORY) {
        Err(Errno::ENOENT) => {}
        other => return other.what(|| format!("open {}", show(path))),
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(SetupError::errno(format!("open {}", show(path)), Errno::ENOENT));
    };
    let pfd = ensure_dir(root, parent, root.parent_mode.get())?;
    match nix::sys::stat::mkdirat(Some(pfd.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => {
            let err =
                SetupError::errno(format!("mkdir {}", show(path)), e).kind(Kind::Mkdir { path: show(path) });
            return Err(if e == Errno::EROFS { err.hint(ro_parent_hint(path)) } else { err });
        }
    }
    root.open(path, libc::O_DIRECTORY).what(|| format!("open {}", show(path)))
}

/// Makes an empty file at `path` unless something is there already.
fn ensure_file(root: &Root, path: &Path) -> Result<OwnedFd> {
    match root.open(path, 0) {
        Err(Errno::ENOENT) => {}
        other => return other.what(|| format!("open {}", show(path))),
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(SetupError::errno(format!("create {}", show(path)), Errno::EINVAL));
    };
    let pfd = root.ensure_parent(parent)?;
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
    match sys::openat(&pfd, Path::new(name), flags, 0o444) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => {
            let err = SetupError::errno(format!("create {}", show(path)), e)
                .kind(Kind::CreateFile { path: show(path) });
            return Err(if e == Errno::EROFS { err.hint(ro_parent_hint(path)) } else { err });
        }
    }
    root.open(path, 0).what(|| format!("open {}", show(path)))
}

fn mount_fd(
    src: Option<&Path>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    nix::mount::mount(src, &fd_path(target), fstype, flags, data)
}

/// Adds `attrs` (sys::MOUNT_ATTR_*) to the mount now at `dest`, and to every
/// mount beneath it when `recursive`.
pub fn restrict(root: &Root, dest: &Path, attrs: u64, recursive: bool) -> Result<()> {
    let fd = root.open(dest, 0).what(|| format!("open {}", show(dest)))?;
    match sys::mount_setattr(&fd, attrs, recursive) {
        Err(Errno::ENOSYS) => super::remount::legacy(&fd, attrs, recursive),
        other => other,
    }
    .what(|| format!("remount {}", show(dest)))
}

fn bind_attrs(access: Access) -> u64 {
    match access {
        Access::ReadOnly => sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        Access::ReadWrite => sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        Access::Device => sys::MOUNT_ATTR_NOSUID,
    }
}

/// What one operation needs from the host, opened before the scratch tmpfs
/// hides anything.
pub enum Opened {
    Nothing,
    Bind(OwnedFd),
    Overlay(super::overlay::Opened),
}

/// Host objects for every operation, in plan order.
pub struct Sources {
    ops: Vec<Opened>,
}

impl Sources {
    /// Locks that must be held for the sandbox's life (persist state dirs).
    pub fn take_locks(&mut self) -> Vec<nix::fcntl::Flock<std::fs::File>> {
        self.ops
            .iter_mut()
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
fn open_source(src: &Path) -> nix::Result<OwnedFd> {
    let Ok(n) = src.strip_prefix("/proc/self/fd") else {
        return sys::open(src, libc::O_PATH);
    };
    let passed: i32 = n.to_str().and_then(|n| n.parse().ok()).ok_or(Errno::ENOENT)?;
    let path = nix::fcntl::readlink(src)?;
    let fd = sys::open(Path::new(&path), libc::O_PATH)?;
    let (a, b) = (fstat(passed)?, fstat(fd.as_raw_fd())?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(Errno::ESTALE);
    }
    Ok(fd)
}

/// Opens every bind source on the host (following symlinks, as bubblewrap's
/// realpath does) and every overlay layer, once. ESTALE: a passed
/// descriptor's path no longer names its file.
pub fn open_sources(ops: &[FsOp]) -> Result<Sources> {
    let mut binds = Vec::with_capacity(ops.len());
    for op in ops {
        let (src, dest, optional) = match op {
            FsOp::Bind { src, dest, optional, .. } => (src, dest, optional),
            FsOp::Overlay { lowers, upper, .. } => {
                binds.push(Opened::Overlay(super::overlay::open(lowers, upper)?));
                continue;
            }
            _ => {
                binds.push(Opened::Nothing);
                continue;
            }
        };
        match open_source(src) {
            Ok(fd) => binds.push(Opened::Bind(fd)),
            Err(Errno::ENOENT) if *optional => binds.push(Opened::Nothing),
            Err(e) => {
                let err = SetupError::errno(format!("bind {} -> {}", show(src), show(dest)), e)
                    .kind(Kind::BindSource { src: show(src) });
                return Err(match e {
                    Errno::ENOENT => err.hint("the source must exist on the host"),
                    Errno::EACCES => err.hint("you cannot read the source on the host"),
                    _ => err,
                });
            }
        }
    }
    Ok(Sources { ops: binds })
}

/// Builds the new root from `ops` and pivots into it.
pub fn apply(ctx: &Ctx, sources: Sources) -> Result<()> {
    let base_fd = super::scratch::mount(ctx)?;
    let open_root = || sys::openat(&base_fd, Path::new("root"), libc::O_PATH | libc::O_DIRECTORY, 0);
    let mut root = Root::new(open_root().what(|| "open the new root".into())?, true);
    let parent_modes = &ctx.plan.root.parent_modes;
    for (n, (op, src)) in ctx.plan.fs.iter().zip(sources.ops).enumerate() {
        ctx.log("mount", &describe(op));
        root.parent_mode.set(parent_modes.get(n).copied().unwrap_or(0o755));
        apply_op(ctx, &root, &base_fd, n, op, src)?;
        if op.dest() == Path::new("/") {
            // Something now covers the root: reach the top of the stack.
            root.fd = open_root().what(|| "open the new root".into())?;
        }
        if n == 0 {
            ctx.pause("mounts");
        }
    }
    // Read-only outside the write rules, noexec outside the exec rules.
    super::narrow::apply(ctx, &root)?;
    // A writable root stays so: callers create files in it.
    if ctx.plan.root.tmpfs == RootTmpfs::ReadOnly {
        ctx.log("mount", "/ read-only, pivot_root");
        let ro = MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV;
        mount_fd(None, &root.fd, None, ro, None).what(|| "remount / read-only".into())?;
    }
    pivot(&root.fd)
}

/// pivot_root into `root` and detach the old root (with the scratch tmpfs on
/// it), so no host path is reachable by name any more.
fn pivot(root: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(root.as_raw_fd()).what(|| "chdir to the new root".into())?;
    nix::unistd::pivot_root(".", ".").what(|| "pivot_root".into())?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).what(|| "detach the old root".into())?;
    nix::unistd::chdir("/").what(|| "chdir /".into())
}

fn describe(op: &FsOp) -> String {
    match op {
        FsOp::Bind { src, dest, access, .. } => format!("bind {} -> {} ({access:?})", show(src), show(dest)),
        FsOp::Tmpfs { dest, .. } => format!("tmpfs {}", show(dest)),
        FsOp::Proc { dest } => format!("proc {}", show(dest)),
        FsOp::Dev { dest } => format!("dev {}", show(dest)),
        FsOp::Dir { dest, .. } => format!("mkdir {}", show(dest)),
        FsOp::Symlink { target, dest } => format!("symlink {} -> {}", show(dest), show(target)),
        FsOp::Hide { dest } => format!("hide {}", show(dest)),
        FsOp::File { dest, how, .. } => format!("file {} ({how:?})", show(dest)),
        FsOp::Chmod { dest, mode } => format!("chmod {mode:04o} {}", show(dest)),
        FsOp::RemountRo { dest } => format!("remount read-only {}", show(dest)),
        FsOp::Mqueue { dest } => format!("mqueue {}", show(dest)),
        FsOp::Overlay { dest, .. } => format!("overlay {}", show(dest)),
    }
}

fn apply_op(ctx: &Ctx, root: &Root, base: &OwnedFd, n: usize, op: &FsOp, src: Opened) -> Result<()> {
    match op {
        FsOp::Bind { src: src_path, dest, access, .. } => {
            let Opened::Bind(src) = src else {
                ctx.log("mount", &format!("skipped: {} does not exist", show(src_path)));
                return Ok(());
            };
            let what = || format!("bind {} -> {}", show(src_path), show(dest));
            let target = if is_dir(&src).what(what)? {
                ensure_dir(root, dest, 0o755)?
            } else {
                ensure_file(root, dest)?
            };
            mount_fd(Some(&fd_path(&src)), &target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                .what(what)?;
            restrict(root, dest, bind_attrs(*access), true)
        }
        FsOp::Tmpfs { dest, mode, size } => {
            let target = ensure_dir(root, dest, 0o755)?;
            let mut data = format!("mode={mode:o}");
            if let Some(size) = size {
                data.push_str(&format!(",size={size}"));
            }
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            mount_fd(Some(Path::new("tmpfs")), &target, Some("tmpfs"), flags, Some(&data))
                .what(|| format!("tmpfs {}", show(dest)))
                .map_err(|e| e.kind(Kind::Mount { fstype: "tmpfs".into(), dest: show(dest) }))
        }
        FsOp::Proc { dest } => super::special::proc(ctx, root, dest),
        FsOp::Dev { dest } => super::special::dev(ctx, root, dest),
        FsOp::Dir { dest, mode } => ensure_dir(root, dest, *mode).map(drop),
        FsOp::Symlink { target, dest } => symlink(root, target, dest),
        FsOp::Hide { dest } => hide(ctx, root, base, dest),
        FsOp::File { dest, content, mode, how } => {
            super::files::file(root, base, n, dest, content, *mode, *how)
        }
        FsOp::Chmod { dest, mode } => super::files::chmod(root, dest, *mode),
        FsOp::RemountRo { dest } => super::files::remount_ro(root, dest),
        FsOp::Mqueue { dest } => super::files::mqueue(root, dest, ctx.plan.root.special),
        FsOp::Overlay { dest, upper, .. } => match src {
            Opened::Overlay(opened) => super::overlay::mount(root, base, n, dest, &opened, upper),
            _ => Err(SetupError::new(format!("overlay {}", show(dest)), "layers were not opened")),
        },
    }
}

fn symlink(root: &Root, target: &Path, dest: &Path) -> Result<()> {
    let what = || format!("symlink {}", show(dest));
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(SetupError::new(what(), "cannot replace the root with a symlink"));
    };
    let pfd = root.ensure_parent(parent)?;
    match nix::unistd::symlinkat(target, Some(pfd.as_raw_fd()), name) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => match nix::fcntl::readlinkat(Some(pfd.as_raw_fd()), name) {
            Ok(existing) if Path::new(&existing) == target => Ok(()),
            Ok(existing) => {
                let existing = show(Path::new(&existing));
                Err(SetupError::new(what(), format!("it exists and points at {existing}"))
                    .kind(Kind::SymlinkExists { dest: show(dest), points_at: Some(existing) }))
            }
            Err(_) => Err(SetupError::new(what(), "it exists and is not a symlink")
                .kind(Kind::SymlinkExists { dest: show(dest), points_at: None })),
        },
        Err(e) => {
            let err = SetupError::errno(what(), e).kind(Kind::Symlink { dest: show(dest) });
            Err(if e == Errno::EROFS { err.hint(ro_parent_hint(dest)) } else { err })
        }
    }
}

/// Covers `dest` with an empty read-only directory or file from the scratch
/// tmpfs. A path that does not exist is already hidden.
fn hide(ctx: &Ctx, root: &Root, base: &OwnedFd, dest: &Path) -> Result<()> {
    let what = || format!("hide {}", show(dest));
    let target = match root.open(dest, 0) {
        Err(Errno::ENOENT) => {
            ctx.log("mount", &format!("{} does not exist: nothing to hide", show(dest)));
            return Ok(());
        }
        other => other.what(what)?,
    };
    let empty = if is_dir(&target).what(what)? { "hidden-dir" } else { "hidden-file" };
    let src = sys::openat(base, Path::new(empty), libc::O_PATH, 0).what(what)?;
    mount_fd(Some(&fd_path(&src)), &target, None, MsFlags::MS_BIND, None).what(what)?;
    let attrs =
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
    restrict(root, dest, attrs, false)
}

/// Binds the host object `src` over `dest` inside the root with `attrs`.
pub fn bind_over(root: &Root, src: &OwnedFd, dest: &Path, attrs: u64) -> Result<()> {
    let target = root.open(dest, 0).what(|| format!("open {}", show(dest)))?;
    mount_fd(Some(&fd_path(src)), &target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
        .what(|| format!("bind over {}", show(dest)))?;
    restrict(root, dest, attrs, true)
}

/// Mounts a fresh file system of `fstype` on the directory `dest`.
pub fn mount_new(root: &Root, dest: &Path, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<()> {
    let target = ensure_dir(root, dest, 0o755)?;
    mount_fd(Some(Path::new(fstype)), &target, Some(fstype), flags, data)
        .what(|| format!("mount {fstype} on {}", show(dest)))
        .map_err(|e| e.kind(Kind::Mount { fstype: fstype.into(), dest: show(dest) }))
}

/// Makes an empty file at `dest` (for a bind of a device or tty onto it).
pub fn mount_point_file(root: &Root, dest: &Path) -> Result<OwnedFd> {
    ensure_file(root, dest)
}
