//! Overlays: writable (or stacked read-only) views of host directories that
//! never change them.
//!
//! Kernel rules: since Linux 5.11 a user namespace may mount overlayfs; it
//! must then store its metadata in `user.*` xattrs (`userxattr`). The work
//! directory must be on the same file system as the upper one. Without an
//! upper layer at least two lowers are needed. NFS, FUSE and overlayfs
//! itself cannot hold an upper layer.
//!
//! Every host directory (lowers, upper, work) is opened before the scratch
//! tmpfs is mounted, and handed to overlayfs as `/proc/self/fd/N`, so a
//! name is never looked up twice. A `--persist` state directory is created
//! if absent and locked (flock on `STATEDIR/lock`) by init for the sandbox's
//! whole life: a second sandbox on the same state is refused, never allowed
//! to corrupt it. The lock dies with init, so `kill -9` leaves the state
//! usable by the next run. The state directory, `upper`, `work` and `lock`
//! are opened without following any symlink and must be the caller's; what
//! is created there is 0700 (directories) or 0600 (the lock).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::MsFlags;

use super::ops;
use super::resolve::Root;
use crate::escape;
use crate::launch::error::{Context, Kind, Result, SetupError};
use crate::launch::hostfile;
use crate::launch::sys::{fd_path, Sys};
use crate::plan::Upper;

/// The host side of one overlay, opened before anything is mounted.
pub struct Opened {
    lowers: Vec<OwnedFd>,
    /// upper and work directories, for `Dir` and `State` uppers.
    upper: Option<(OwnedFd, OwnedFd)>,
    /// Held for the sandbox's life.
    pub lock: Option<Flock<std::fs::File>>,
}

fn show(p: &Path) -> String {
    escape::path(p)
}

/// Opens a lower layer as [`open`] does (for the checks before a run).
pub fn open_lower(sys: &dyn Sys, path: &Path) -> Result<OwnedFd> {
    open_dir(sys, path, "lower")
}

fn open_dir(sys: &dyn Sys, path: &Path, role: &str) -> Result<OwnedFd> {
    let fd = sys.open(path, libc::O_PATH | libc::O_DIRECTORY).map_err(|e| {
        let err = SetupError::errno(format!("overlay {role} {}", show(path)), e)
            .kind(Kind::OverlayLayer { path: show(path) });
        if e == Errno::ENOENT {
            err.hint("it must exist on the host")
        } else {
            err
        }
    })?;
    Ok(fd)
}

/// File systems that cannot hold an overlay's upper layer.
fn unsuitable_upper(sys: &dyn Sys, fd: &OwnedFd) -> Option<&'static str> {
    match sys.fs_type(fd).ok()? {
        0x6969 => Some("nfs"),
        0x794c_7630 => Some("overlayfs"),
        0x6573_5546 => Some("fuse"),
        0xff53_4d42 | 0xfe53_4d42 => Some("cifs/smb"),
        _ => None,
    }
}

fn check_upper(sys: &dyn Sys, fd: &OwnedFd, path: &Path) -> Result<()> {
    match unsuitable_upper(sys, fd) {
        Some(fs) => Err(SetupError::new(
            format!("overlay upper {}", show(path)),
            format!("it is on {fs}, which overlayfs cannot use as an upper layer"),
        )
        .hint("put the state or upper directory on a local file system (ext4, xfs, btrfs, tmpfs)")),
        None => Ok(()),
    }
}

/// overlayfs needs the work directory on the upper directory's file system.
fn same_file_system(sys: &dyn Sys, u: &OwnedFd, upper: &Path, w: &OwnedFd, work: &Path) -> Result<()> {
    let dev = |fd: &OwnedFd| sys.fstat(fd).map(|st| st.st_dev);
    if dev(u).ok() != dev(w).ok() {
        let msg = format!("it is not on the same file system as the upper directory {}", show(upper));
        return Err(SetupError::new(format!("overlay work {}", show(work)), msg)
            .kind(Kind::OverlayWorkDir { work: show(work) }));
    }
    Ok(())
}

impl Opened {
    /// For an overlay at the root: the upper directory of a new state takes
    /// the lower root's permission bits. The root of an overlay shows the
    /// upper directory's, and a state's `upper` is made 0700, which would
    /// lock every id but the caller's out of `/`. (The state directory
    /// around it stays 0700 on the host.)
    pub fn upper_like_lower_root(&self, sys: &dyn Sys) -> Result<()> {
        let (Some((upper, _)), Some(lower)) = (&self.upper, self.lowers.first()) else { return Ok(()) };
        let what = || "overlay upper of /".to_string();
        let new = std::fs::read_dir(fd_path(upper)).is_ok_and(|mut d| d.next().is_none());
        let (u, l) = (sys.fstat(upper).what(what)?, sys.fstat(lower).what(what)?);
        let mode = l.st_mode & 0o1777;
        if new && u.st_mode & 0o7777 != mode {
            sys.chmod(&fd_path(upper), mode).what(what)?;
        }
        Ok(())
    }
}

/// Opens (and for a state directory creates and locks) the host side.
pub fn open(sys: &dyn Sys, lowers: &[std::path::PathBuf], upper: &Upper) -> Result<Opened> {
    let lowers = lowers.iter().map(|l| open_dir(sys, l, "lower")).collect::<Result<Vec<_>>>()?;
    let (upper, lock) = match upper {
        Upper::Tmpfs | Upper::ReadOnly => (None, None),
        Upper::Dir { upper, work } => {
            let u = open_dir(sys, upper, "upper")?;
            check_upper(sys, &u, upper)?;
            let w = open_dir(sys, work, "work")?;
            same_file_system(sys, &u, upper, &w, work)?;
            (Some((u, w)), None)
        }
        Upper::State { dir } => {
            let (u, w, lock) = state(sys, dir)?;
            (Some((u, w)), Some(lock))
        }
    };
    Ok(Opened { lowers, upper, lock })
}

/// Creates `dir/{upper,work}` if absent and takes the state lock. The
/// command may reach its state directory (it often sits in the shared
/// project) and swap any of these for a symlink: nothing under `dir`, nor
/// `dir` itself, is ever followed, and each must be the caller's (see
/// `hostfile.rs`).
fn state(sys: &dyn Sys, dir: &Path) -> Result<(OwnedFd, OwnedFd, Flock<std::fs::File>)> {
    let what = || format!("persist {}", show(dir));
    let refused = |cause: String| {
        SetupError::new(what(), cause)
            .hint("a command that could write to the state directory may have put it there: check it, then remove it")
    };
    hostfile::create_dirs(dir).map_err(|cause| SetupError::new(what(), cause))?;
    let state = hostfile::open_dir(dir).map_err(refused)?;
    let lock_file = hostfile::file_beneath(&state, "lock").map_err(refused)?;
    let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| match e {
        Errno::EWOULDBLOCK => {
            SetupError::new(what(), "the state directory is in use by another running sandbox")
        }
        e => SetupError::errno(what(), e),
    })?;
    let u = hostfile::dir_beneath(&state, "upper").map_err(refused)?;
    check_upper(sys, &u, dir)?;
    let w = hostfile::dir_beneath(&state, "work").map_err(refused)?;
    Ok((u, w, lock))
}

/// Mounts the overlay at `dest`; `n` numbers the scratch dirs of a tmpfs upper.
pub fn mount(
    root: &Root,
    base: &OwnedFd,
    n: usize,
    dest: &Path,
    opened: &Opened,
    upper: &Upper,
) -> Result<()> {
    let what = || format!("overlay {}", show(dest));
    let lower: Vec<String> = opened.lowers.iter().map(|fd| fd_path(fd).display().to_string()).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    let scratch;
    let (u, w) = match (upper, &opened.upper) {
        (Upper::Tmpfs, _) => {
            let (up, wk) = (format!("overlay-upper-{n}"), format!("overlay-work-{n}"));
            for dir in [&up, &wk] {
                root.sys.mkdirat(base, Path::new(dir), 0o755).what(what)?;
            }
            let up = root.sys.openat(base, Path::new(&up), libc::O_PATH, 0).what(what)?;
            let wk = root.sys.openat(base, Path::new(&wk), libc::O_PATH, 0).what(what)?;
            scratch = (up, wk);
            (Some(&scratch.0), Some(&scratch.1))
        }
        (_, Some((u, w))) => (Some(u), Some(w)),
        _ => (None, None),
    };
    if let (Some(u), Some(w)) = (u, w) {
        data.push_str(&format!(",upperdir={},workdir={}", fd_path(u).display(), fd_path(w).display()));
    }
    data.push_str(",userxattr");
    let target = ops::ensure_dir(root, dest, 0o755)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    ops::mount_fd(root, Some(Path::new("overlay")), &target, Some("overlay"), flags, Some(data.as_str()))
        .map_err(|e| {
            let err = SetupError::errno(what(), e).kind(Kind::Overlay { dest: show(dest) });
            match e {
            Errno::EINVAL => err.hint(
                "overlayfs refused these layers: a layer may be on a file system it cannot use (nfs, fuse, \
                 overlayfs as upper), or the kernel is older than 5.11 (no overlayfs in user namespaces)",
            ),
            Errno::ELOOP => err.hint("overlay directories may not overlap"),
            _ => err,
        }
        })
}
