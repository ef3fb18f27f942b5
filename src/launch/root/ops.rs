//! One operation of the Plan on the root being built, and the small
//! mount and directory helpers every operation uses.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::resolve::{is_dir, is_root, Fd, Root};
use super::sources::Opened;
use super::{files, overlay, special};
use crate::escape;
use crate::launch::error::{Context, Kind, Result, SetupError};
use crate::launch::sys::{self, fd_path};
use crate::launch::Ctx;
use crate::plan::{Access, FsOp};

impl Root<'_> {
    /// Makes the missing parents of `path` (mode [`Root::parent_mode`]).
    pub fn ensure_parent(&self, path: &Path) -> Result<Fd<'_>> {
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

fn owner_hint(dest: &Path) -> String {
    format!(
        "the directory above {} belongs to an id the sandbox may not write as (a --rootfs \
         directory or a bind of another owner): create it on the host first, or use --userns auto \
         with a root your ids own",
        show(dest)
    )
}

/// Makes the directory `path` (and missing parents, mode 0755) inside the
/// root, and gives its fd.
///
/// `/` is the root's own fd, lent: `Root::open` would resolve it as "."
/// from that fd, which names the very same object (a lookup of "." never
/// steps onto a mount, and after an operation at `/` the caller reopens
/// the root at the top of its stack, `mod.rs`), so nothing is opened.
pub fn ensure_dir<'r>(root: &'r Root, path: &Path, mode: u32) -> Result<Fd<'r>> {
    if is_root(path) {
        return Ok(Fd::Lent(&root.fd));
    }
    match root.open(path, libc::O_DIRECTORY) {
        Err(Errno::ENOENT) => {}
        other => return other.map(Fd::Own).what(|| format!("open {}", show(path))),
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(SetupError::errno(format!("open {}", show(path)), Errno::ENOENT));
    };
    let pfd = ensure_dir(root, parent, root.parent_mode.get())?;
    match make_dir(root, &pfd, name, mode) {
        Ok(fd) => return Ok(Fd::Own(fd)),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(mkdir_error(path, e)),
    }
    root.open(path, libc::O_DIRECTORY).map(Fd::Own).what(|| format!("open {}", show(path)))
}

/// mkdirat `name` in `dir`, and its fd. Made just now, a directory beside
/// nothing else that runs: it is opened by its name in `dir` (O_NOFOLLOW),
/// not by the whole path again; nothing was mounted in between.
pub fn make_dir(root: &Root, dir: &OwnedFd, name: &OsStr, mode: u32) -> nix::Result<OwnedFd> {
    root.sys.mkdirat(dir, Path::new(name), mode)?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    root.sys.openat(dir, Path::new(name), flags, 0)
}

pub fn mkdir_error(path: &Path, e: Errno) -> SetupError {
    let err = SetupError::errno(format!("mkdir {}", show(path)), e).kind(Kind::Mkdir { path: show(path) });
    match e {
        Errno::EROFS => err.hint(ro_parent_hint(path)),
        Errno::EACCES | Errno::EOVERFLOW => err.hint(owner_hint(path)),
        _ => err,
    }
}

/// Creates the empty file `name` in `dir` (for a bind onto it) and gives
/// its fd: O_CREAT | O_EXCL makes a new file or fails, never follows a
/// link or opens what was there, so the fd names exactly the object a
/// lookup of the path finds until something is mounted. It is opened
/// read-only: a mount point needs no write access.
pub fn make_file(root: &Root, dir: &OwnedFd, name: &OsStr) -> nix::Result<OwnedFd> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_NOFOLLOW;
    root.sys.openat(dir, Path::new(name), flags, 0o444)
}

pub fn create_error(path: &Path, e: Errno) -> SetupError {
    let err =
        SetupError::errno(format!("create {}", show(path)), e).kind(Kind::CreateFile { path: show(path) });
    if e == Errno::EROFS {
        err.hint(ro_parent_hint(path))
    } else {
        err
    }
}

/// Makes an empty file at `path` unless something is there already, and
/// gives the fd of what is there: the file created (see [`make_file`]: the
/// caller mounts on it next, nothing is mounted in between), else the
/// object found.
fn ensure_file(root: &Root, path: &Path) -> Result<OwnedFd> {
    match root.open(path, 0) {
        Err(Errno::ENOENT) => {}
        other => return other.what(|| format!("open {}", show(path))),
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(SetupError::errno(format!("create {}", show(path)), Errno::EINVAL));
    };
    let pfd = root.ensure_parent(parent)?;
    match make_file(root, &pfd, name) {
        Ok(fd) => return Ok(fd),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(create_error(path, e)),
    }
    root.open(path, 0).what(|| format!("open {}", show(path)))
}

/// mount(2) onto the object `target` holds.
pub fn mount_fd(
    root: &Root,
    src: Option<&Path>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    root.sys.mount(src, &fd_path(target), fstype, flags, data)
}

/// Adds `attrs` (sys::MOUNT_ATTR_*) to the mount now at `dest`, and to every
/// mount beneath it when `recursive`.
pub fn restrict(root: &Root, dest: &Path, attrs: u64, recursive: bool) -> Result<()> {
    let fd = root.open(dest, 0).what(|| format!("open {}", show(dest)))?;
    restrict_fd(root, &fd, dest, attrs, recursive)
}

/// [`restrict`] of the mount whose root `fd` is (resolved by the caller
/// after the last mount at or above it); `dest` names it in errors.
pub fn restrict_fd(root: &Root, fd: &OwnedFd, dest: &Path, attrs: u64, recursive: bool) -> Result<()> {
    match root.sys.mount_setattr(fd, attrs, recursive) {
        Err(Errno::ENOSYS) => super::remount::legacy(root.sys, fd, attrs, recursive),
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

pub fn apply(ctx: &Ctx, root: &Root, base: &OwnedFd, n: usize, op: &FsOp, src: Opened) -> Result<()> {
    match op {
        FsOp::Bind { src: src_path, dest, access, .. } => {
            let Opened::Bind(src) = src else {
                ctx.log("mount", &format!("skipped: {} does not exist", show(src_path)));
                return Ok(());
            };
            let what = || format!("bind {} -> {}", show(src_path), show(dest));
            let target = if is_dir(root.sys, &src).what(what)? {
                ensure_dir(root, dest, 0o755)?
            } else {
                Fd::Own(ensure_file(root, dest)?)
            };
            bind_tree(root, &src, &target, dest, bind_attrs(*access), what)
        }
        FsOp::Tmpfs { dest, mode, size } => {
            let target = ensure_dir(root, dest, 0o755)?;
            let mut data = format!("mode={mode:o}");
            if let Some(size) = size {
                data.push_str(&format!(",size={size}"));
            }
            let data = labelled(ctx, data);
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            mount_fd(root, Some(Path::new("tmpfs")), &target, Some("tmpfs"), flags, Some(&data))
                .what(|| format!("tmpfs {}", show(dest)))
                .map_err(|e| e.kind(Kind::Mount { fstype: "tmpfs".into(), dest: show(dest) }))
        }
        FsOp::Proc { dest } => special::proc(ctx, root, dest),
        FsOp::Dev { dest } => special::dev(ctx, root, dest),
        FsOp::Dir { dest, mode } => ensure_dir(root, dest, *mode).map(drop),
        FsOp::Symlink { target, dest } => symlink(root, target, dest),
        FsOp::Hide { dest, .. } => hide(ctx, root, base, dest),
        FsOp::File { dest, content, mode, how } => files::file(root, base, n, dest, content, *mode, *how),
        FsOp::Chmod { dest, mode } => files::chmod(root, dest, *mode),
        FsOp::RemountRo { dest } => files::remount_ro(root, dest),
        FsOp::Mqueue { dest } => files::mqueue(root, dest, ctx.plan.root.special),
        FsOp::Overlay { dest, upper, .. } => match src {
            Opened::Overlay(opened) => overlay::mount(root, base, n, dest, &opened, upper),
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
    match root.sys.symlinkat(target, &pfd, Path::new(name)) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => match root.sys.readlinkat(&pfd, Path::new(name)) {
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
///
/// The cover is a bind of a mount that has the flags already (see
/// [`hidden_source`]): a bind copies its source mount's flags, so the one
/// mount(2) makes a read-only, nosuid, nodev, noexec cover, and the path
/// is not looked up again to set them.
fn hide(ctx: &Ctx, root: &Root, base: &OwnedFd, dest: &Path) -> Result<()> {
    let what = || format!("hide {}", show(dest));
    let target = match root.open(dest, 0) {
        Err(Errno::ENOENT) => {
            ctx.log("mount", &format!("{} does not exist: nothing to hide", show(dest)));
            return Ok(());
        }
        other => other.what(what)?,
    };
    let src = hidden_source(root, base, is_dir(root.sys, &target).what(what)?, &what)?;
    mount_fd(root, Some(&fd_path(src)), &target, None, MsFlags::MS_BIND, None).what(what)
}

/// The empty directory or file of the scratch tmpfs that covers hidden
/// paths, made the first time one is needed: bound over itself and made
/// read-only, nosuid, nodev, noexec there, so every bind of it carries
/// those flags. The fd is of that mount (the last component's lookup steps
/// onto it); nothing is mounted over it later, and the new root's
/// contents cannot reach the scratch tmpfs by name.
fn hidden_source<'r>(
    root: &'r Root,
    base: &OwnedFd,
    dir: bool,
    what: &dyn Fn() -> String,
) -> Result<&'r OwnedFd> {
    let cell = &root.hidden[usize::from(dir)];
    if let Some(fd) = cell.get() {
        return Ok(fd);
    }
    let name = Path::new(if dir { "hidden-dir" } else { "hidden-file" });
    let made = if dir {
        make_dir(root, base, name.as_os_str(), 0o755)
    } else {
        make_file(root, base, name.as_os_str())
    }
    .what(what)?;
    mount_fd(root, Some(&fd_path(&made)), &made, None, MsFlags::MS_BIND, None).what(what)?;
    let top = root.sys.openat(base, name, libc::O_PATH | libc::O_NOFOLLOW, 0).what(what)?;
    let attrs =
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
    restrict_fd(root, &top, name, attrs, false)?;
    Ok(cell.get_or_init(|| top))
}

/// A tmpfs's mount data with the Plan's SELinux file label, if it has one
/// (bubblewrap's `--file-label`: `context="LABEL"`).
pub fn labelled(ctx: &Ctx, data: String) -> String {
    match &ctx.plan.root.file_label {
        Some(label) => format!("{data},context=\"{label}\""),
        None => data,
    }
}

/// Binds the host object `src` over `target`, the object at `dest` inside
/// the root (resolved by the caller after the last mount that could change
/// what `dest` means), with `attrs`.
pub fn bind_over(root: &Root, src: &OwnedFd, target: &OwnedFd, dest: &Path, attrs: u64) -> Result<()> {
    bind_tree(root, src, target, dest, attrs, || format!("bind over {}", show(dest)))
}

/// A recursive bind of `src` onto `target` (the object at `dest`) with
/// `attrs` on every mount of it: the tree is cloned detached
/// (open_tree), its flags set there, once for the whole subtree
/// (mount_setattr), and attached (move_mount), all through the fds: no
/// path is looked up again. Kernels without open_tree (before 5.2) or
/// mount_setattr (before 5.12) take mount(2) and the remount fallback.
/// Errors name the bind (`what`), or the remount of `dest` for the flags.
fn bind_tree(
    root: &Root,
    src: &OwnedFd,
    target: &OwnedFd,
    dest: &Path,
    attrs: u64,
    what: impl Fn() -> String,
) -> Result<()> {
    let tree = match root.sys.open_tree(src) {
        Err(Errno::ENOSYS) => {
            mount_fd(root, Some(&fd_path(src)), target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                .what(what)?;
            return restrict(root, dest, attrs, true);
        }
        other => other.what(&what)?,
    };
    match root.sys.mount_setattr(&tree, attrs, true) {
        Err(Errno::ENOSYS) => {
            root.sys.move_mount(&tree, target).what(&what)?;
            restrict(root, dest, attrs, true)
        }
        other => {
            other.what(|| format!("remount {}", show(dest)))?;
            root.sys.move_mount(&tree, target).what(what)
        }
    }
}

/// Mounts a fresh file system of `fstype` on the directory `dest`.
pub fn mount_new(root: &Root, dest: &Path, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<()> {
    let target = ensure_dir(root, dest, 0o755)?;
    mount_new_on(root, &target, dest, fstype, flags, data)
}

/// Mounts a fresh file system of `fstype` on the directory `target` (the
/// object at `dest`, resolved or made by the caller just before).
pub fn mount_new_on(
    root: &Root,
    target: &OwnedFd,
    dest: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount_fd(root, Some(Path::new(fstype)), target, Some(fstype), flags, data)
        .what(|| format!("mount {fstype} on {}", show(dest)))
        .map_err(|e| e.kind(Kind::Mount { fstype: fstype.into(), dest: show(dest) }))
}

/// Makes an empty file at `dest` (for a bind of a data file onto it).
pub fn mount_point_file(root: &Root, dest: &Path) -> Result<OwnedFd> {
    ensure_file(root, dest)
}
