//! Host files and directories that sandbox itself opens, creates or writes
//! at a path the command may reach: `--persist` state (STATEDIR, its
//! `upper`, `work` and `lock`), `--pid-file`, and the cache of what the
//! links of `/etc` point at (`$XDG_RUNTIME_DIR/sandbox/etc-links`).
//!
//! The command may have planted a symlink, a FIFO, a hard link or a file of
//! someone else's there in an earlier run, or plant one while this run goes
//! on. So each object is opened once and then used through its descriptor
//! only: never through a symlink (O_NOFOLLOW on the last component; beneath
//! STATEDIR, openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH from a
//! descriptor of STATEDIR), never blocking (O_NONBLOCK, in case of a FIFO),
//! and checked to be a directory or a regular file (with no other hard
//! link) owned by the caller. What sandbox creates is 0700 (directories) or
//! 0600 (files): the modes are given at creation, so a umask can only take
//! bits away.
//!
//! The components above the object (STATEDIR's parents, the pid file's
//! directory) are followed as the user wrote them: a home reached through a
//! symlink is common. Each function returns the cause of a refusal in one
//! line, to follow the object's name.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::ResolveFlag;
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use super::error::strerror;
use super::sys;

/// What an object must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

fn type_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Why the opened object `st` is not acceptable as `kind`, if it is not.
fn refusal(st: &FileStat, kind: Kind) -> Option<String> {
    let t = type_of(st);
    if t == SFlag::S_IFLNK {
        return Some("is a symlink; sandbox never follows one there".into());
    }
    match kind {
        Kind::Dir if t != SFlag::S_IFDIR => return Some("is not a directory".into()),
        Kind::File if t != SFlag::S_IFREG => return Some("is not a regular file".into()),
        _ => {}
    }
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        return Some(format!("belongs to uid {}, not to you (uid {me})", st.st_uid));
    }
    if kind == Kind::File && st.st_nlink > 1 {
        return Some("has other hard links; sandbox never writes through one".into());
    }
    None
}

/// The cause of a failed open of `name` (`subject` in the message), telling
/// a refused symlink or a wrong type from other errors.
fn open_error(dir: Option<&OwnedFd>, name: &Path, subject: &str, kind: Kind, e: Errno) -> String {
    if matches!(e, Errno::ELOOP | Errno::ENOTDIR | Errno::ENXIO | Errno::EISDIR) {
        if let Ok(st) = fstatat(dir.map(|d| d.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            if let Some(why) = refusal(&st, kind) {
                return format!("{subject} {why}");
            }
        }
    }
    match subject {
        "it" => strerror(e),
        _ => format!("{subject}: {}", strerror(e)),
    }
}

/// Checks what `fd` holds; the cause names it `subject`.
fn check(fd: &impl AsRawFd, subject: &str, kind: Kind) -> Result<(), String> {
    let st = fstat(fd.as_raw_fd()).map_err(|e| format!("{subject}: {}", strerror(e)))?;
    match refusal(&st, kind) {
        Some(why) => Err(format!("{subject} {why}")),
        None => Ok(()),
    }
}

/// Creates `dir` and its missing parents, each 0700.
pub fn create_dirs(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| crate::escape::cause(&e))
}

/// Opens the directory `path` (its last component never followed) and
/// checks that it is the caller's.
pub fn open_dir(path: &Path) -> Result<OwnedFd, String> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    let fd = sys::open(path, flags).map_err(|e| open_error(None, path, "it", Kind::Dir, e))?;
    check(&fd, "it", Kind::Dir)?;
    Ok(fd)
}

/// openat2 beneath `dir` with no symlink anywhere; where openat2 is refused
/// (ENOSYS), openat with O_NOFOLLOW, the same for a one-component name.
fn open_beneath(dir: &OwnedFd, name: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
    let resolve = ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_BENEATH;
    let flags = flags | libc::O_NOFOLLOW;
    for _ in 0..8 {
        match sys::openat2_raw(dir.as_raw_fd(), name, flags, mode, resolve) {
            Err(Errno::EAGAIN) => continue,
            Err(Errno::ENOSYS) => return sys::openat(dir, name, flags, mode),
            r => return r,
        }
    }
    Err(Errno::EAGAIN)
}

/// Opens the directory `name` in `dir`, creating it (0700) if absent, and
/// checks that it is the caller's.
pub fn dir_beneath(dir: &OwnedFd, name: &str) -> Result<OwnedFd, String> {
    let p = Path::new(name);
    match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), p, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(format!("{name}: {}", strerror(e))),
    }
    let fd = open_beneath(dir, p, libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| open_error(Some(dir), p, name, Kind::Dir, e))?;
    check(&fd, name, Kind::Dir)?;
    Ok(fd)
}

/// Opens the regular file `name` in `dir` read-write, creating it (0600)
/// if absent, and checks that it is the caller's.
pub fn file_beneath(dir: &OwnedFd, name: &str) -> Result<std::fs::File, String> {
    let p = Path::new(name);
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NONBLOCK;
    let fd = open_beneath(dir, p, flags, 0o600).map_err(|e| open_error(Some(dir), p, name, Kind::File, e))?;
    check(&fd, name, Kind::File)?;
    Ok(fd.into())
}

/// Opens the regular file `path` read-write (its last component never
/// followed), creating it (0600) if absent, and checks that it is the
/// caller's. Nothing is truncated: the caller does that through the fd.
pub fn open_file(path: &Path) -> Result<std::fs::File, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            open_error(None, path, "it", Kind::File, errno)
        })?;
    check(&file, "it", Kind::File)?;
    Ok(file)
}

/// The regular file `name` in `dir`, opened read-only without following a
/// symlink or waiting on a FIFO, when it is the caller's and has no other
/// hard link. The caller reads what it needs of it through the handle.
pub fn file_beneath_ro(dir: &OwnedFd, name: &str) -> Result<std::fs::File, String> {
    let p = Path::new(name);
    let fd = open_beneath(dir, p, libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .map_err(|e| open_error(Some(dir), p, name, Kind::File, e))?;
    check(&fd, name, Kind::File)?;
    Ok(fd.into())
}

/// Replaces the file `name` in `dir` with `bytes` at once: written to a new
/// file of its own (O_EXCL, 0600) and renamed over `name`, so a reader sees
/// the old contents or the new, never a part.
pub fn replace_beneath(dir: &OwnedFd, name: &str, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let tmp = format!(".{name}.{}", std::process::id());
    let p = Path::new(&tmp);
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NONBLOCK;
    let unlink = || nix::unistd::unlinkat(Some(dir.as_raw_fd()), p, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let fd = match open_beneath(dir, p, flags, 0o600) {
        // Left by a run of the same pid that was killed before its rename.
        Err(Errno::EEXIST) => unlink().and_then(|()| open_beneath(dir, p, flags, 0o600)),
        r => r,
    }
    .map_err(|e| open_error(Some(dir), p, &tmp, Kind::File, e))?;
    let written =
        std::fs::File::from(fd).write_all(bytes).map_err(|e| format!("{tmp}: {}", crate::escape::cause(&e)));
    let renamed = written.and_then(|()| {
        nix::fcntl::renameat(Some(dir.as_raw_fd()), p, Some(dir.as_raw_fd()), Path::new(name))
            .map_err(|e| format!("{name}: {}", strerror(e)))
    });
    if renamed.is_err() {
        let _ = unlink();
    }
    renamed
}

/// Whether the name `path` (not followed) still is the file `fd` holds.
pub fn is_same(path: &Path, fd: &impl AsRawFd) -> bool {
    let named = fstatat(None, path, AtFlags::AT_SYMLINK_NOFOLLOW);
    let held = fstat(fd.as_raw_fd());
    matches!((named, held), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
}

#[cfg(test)]
mod tests;
