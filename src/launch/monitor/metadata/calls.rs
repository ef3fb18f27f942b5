//! The metadata calls the monitor makes for the command in landlock-only
//! mode (see `mod.rs`): what each call asks, which object it names, the
//! check that the object lies beneath a writable rule, and the call.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use caps::CapSet;
use nix::errno::Errno;
use nix::fcntl::ResolveFlag;
use nix::sys::stat::{fstat, FileStat};

use super::{bytes, callers_fd, string, Call, Notifier};
use crate::launch::sys;
use crate::seccomp::syscalls;

const NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
/// The largest extended attribute value (XATTR_SIZE_MAX).
const XATTR_SIZE_MAX: usize = 65536;

/// What a call names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// The object of the caller's fd.
    Fd(i32),
    /// A path, from the caller's directory fd (or cwd); with `empty`, an
    /// empty path names the directory fd's object itself.
    At { dirfd: i32, path: Vec<u8>, follow: bool, empty: bool },
}

/// What a call does to it.
#[derive(Debug, PartialEq, Eq)]
enum Op {
    Mode(u32),
    Owner(u32, u32),
    /// Access and modification times; none: now.
    Times(Option<[libc::timespec; 2]>),
    SetXattr {
        name: CString,
        value: Vec<u8>,
        flags: i32,
    },
    RemoveXattr(CString),
}

/// Does `call` for the caller where the writable rules allow it.
pub fn handle(n: &Notifier, call: &Call) -> Result<(), Errno> {
    let name = syscalls::name(call.nr as u32).ok_or(Errno::ENOSYS)?;
    let (target, op) = decode(name, call)?;
    let (object, via_fd) = resolve(call, &target)?;
    // Every read of the caller is done: was it still the caller?
    if !n.still_waiting(call) {
        return Err(Errno::EINTR);
    }
    let (fd, st) = beneath(n, object, via_fd)?;
    without_capabilities(|| apply(&fd, &st, &op))
}

fn path(call: &Call, addr: u64) -> Result<Vec<u8>, Errno> {
    string(call, addr, libc::PATH_MAX as usize, Errno::ENAMETOOLONG)
}

/// `dirfd`, the path at `addr`, and AT_* `flags` (only
/// AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH are known).
fn at(call: &Call, dirfd: u64, addr: u64, flags: u64) -> Result<Target, Errno> {
    if flags & !(NOFOLLOW | EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path(call, addr)?;
    Ok(Target::At {
        dirfd: dirfd as i32,
        path,
        follow: flags & NOFOLLOW == 0,
        empty: flags & EMPTY_PATH != 0,
    })
}

/// A path from the working directory.
fn cwd(call: &Call, addr: u64, follow: bool) -> Result<Target, Errno> {
    at(call, libc::AT_FDCWD as u64, addr, if follow { 0 } else { NOFOLLOW })
}

fn decode(name: &str, call: &Call) -> Result<(Target, Op), Errno> {
    let a = call.args;
    let owner = Op::Owner(a[1] as u32, a[2] as u32);
    Ok(match name {
        "chmod" => (cwd(call, a[0], true)?, Op::Mode(a[1] as u32)),
        "fchmod" => (Target::Fd(a[0] as i32), Op::Mode(a[1] as u32)),
        "fchmodat" => (at(call, a[0], a[1], 0)?, Op::Mode(a[2] as u32)),
        "fchmodat2" => (at(call, a[0], a[1], a[3])?, Op::Mode(a[2] as u32)),
        "chown" => (cwd(call, a[0], true)?, owner),
        "lchown" => (cwd(call, a[0], false)?, owner),
        "fchown" => (Target::Fd(a[0] as i32), owner),
        "fchownat" => (at(call, a[0], a[1], a[4])?, Op::Owner(a[2] as u32, a[3] as u32)),
        "utime" => (cwd(call, a[0], true)?, Op::Times(utimbuf(call, a[1])?)),
        "utimes" => (cwd(call, a[0], true)?, Op::Times(timevals(call, a[1])?)),
        "futimesat" if a[1] == 0 => (Target::Fd(a[0] as i32), Op::Times(timevals(call, a[2])?)),
        "futimesat" => (at(call, a[0], a[1], 0)?, Op::Times(timevals(call, a[2])?)),
        "utimensat" => (utimensat(call)?, Op::Times(timespecs(call, a[2])?)),
        "setxattr" | "lsetxattr" => {
            (cwd(call, a[0], name == "setxattr")?, set_xattr(call, a[1], a[2], a[3], a[4])?)
        }
        "fsetxattr" => (Target::Fd(a[0] as i32), set_xattr(call, a[1], a[2], a[3], a[4])?),
        "removexattr" | "lremovexattr" => {
            (cwd(call, a[0], name == "removexattr")?, Op::RemoveXattr(xattr_name(call, a[1])?))
        }
        "fremovexattr" => (Target::Fd(a[0] as i32), Op::RemoveXattr(xattr_name(call, a[1])?)),
        "setxattrat" => (at(call, a[0], a[1], a[2])?, xattr_args(call, a[3], a[4], a[5])?),
        "removexattrat" => (at(call, a[0], a[1], a[2])?, Op::RemoveXattr(xattr_name(call, a[3])?)),
        _ => return Err(Errno::ENOSYS),
    })
}

/// utimensat's target: a NULL path means the directory fd itself (futimens).
fn utimensat(call: &Call) -> Result<Target, Errno> {
    let a = call.args;
    match (a[1], a[0] as i32) {
        (0, libc::AT_FDCWD) => Err(Errno::EFAULT),
        (0, _) if a[3] != 0 => Err(Errno::EINVAL),
        (0, fd) => Ok(Target::Fd(fd)),
        _ => at(call, a[0], a[1], a[3]),
    }
}

fn words(call: &Call, addr: u64, n: usize) -> Result<Vec<i64>, Errno> {
    let raw = bytes(call, addr, n * 8)?;
    Ok(raw.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().unwrap_or_default())).collect())
}

fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec { tv_sec: sec, tv_nsec: nsec }
}

/// `struct utimbuf` (seconds only).
fn utimbuf(call: &Call, addr: u64) -> Result<Option<[libc::timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let w = words(call, addr, 2)?;
    Ok(Some([ts(w[0], 0), ts(w[1], 0)]))
}

/// Two `struct timeval`, checked as utimes(2) checks them.
fn timevals(call: &Call, addr: u64) -> Result<Option<[libc::timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let w = words(call, addr, 4)?;
    if [w[1], w[3]].iter().any(|us| !(0..1_000_000).contains(us)) {
        return Err(Errno::EINVAL);
    }
    Ok(Some([ts(w[0], w[1] * 1000), ts(w[2], w[3] * 1000)]))
}

/// Two `struct timespec`, as given (utimensat checks them again).
fn timespecs(call: &Call, addr: u64) -> Result<Option<[libc::timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let w = words(call, addr, 4)?;
    Ok(Some([ts(w[0], w[1]), ts(w[2], w[3])]))
}

fn xattr_name(call: &Call, addr: u64) -> Result<CString, Errno> {
    let name = string(call, addr, 256, Errno::ERANGE)?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    CString::new(name).map_err(|_| Errno::EINVAL)
}

fn set_xattr(call: &Call, name: u64, value: u64, size: u64, flags: u64) -> Result<Op, Errno> {
    if size as usize > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let name = xattr_name(call, name)?;
    Ok(Op::SetXattr { name, value: bytes(call, value, size as usize)?, flags: flags as i32 })
}

/// setxattrat's `struct xattr_args { u64 value; u32 size; u32 flags; }` of
/// `usize` bytes (a larger struct must end in zeros).
fn xattr_args(call: &Call, name: u64, addr: u64, usize: u64) -> Result<Op, Errno> {
    const VER0: usize = 16;
    let usize = usize as usize;
    if usize < VER0 {
        return Err(Errno::EINVAL);
    }
    if usize > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = bytes(call, addr, usize)?;
    if raw[VER0..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let value = u64::from_ne_bytes(raw[0..8].try_into().unwrap_or_default());
    let size = u32::from_ne_bytes(raw[8..12].try_into().unwrap_or_default());
    let flags = u32::from_ne_bytes(raw[12..16].try_into().unwrap_or_default());
    set_xattr(call, name, value, u64::from(size), u64::from(flags))
}

/// The object `target` names, resolved as the kernel would for the
/// caller (magic links refused), as an O_PATH fd; and whether it came from
/// an fd rather than a path.
fn resolve(call: &Call, target: &Target) -> Result<(OwnedFd, bool), Errno> {
    let (dirfd, path, follow) = match target {
        Target::Fd(fd) if *fd < 0 => return Err(Errno::EBADF),
        Target::Fd(fd) => return Ok((callers_fd(call, *fd)?, true)),
        Target::At { dirfd, path, empty, .. } if path.is_empty() => {
            return match empty {
                true => Ok((callers_fd(call, *dirfd)?, true)),
                false => Err(Errno::ENOENT),
            };
        }
        Target::At { dirfd, path, follow, .. } => (*dirfd, Path::new(OsStr::from_bytes(path)), *follow),
    };
    let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
    let base = if path.is_absolute() { None } else { Some(callers_fd(call, dirfd)?) };
    let base = base.as_ref().map_or(libc::AT_FDCWD, |b| b.as_raw_fd());
    retry(|| sys::openat2_raw(base, path, flags, 0, ResolveFlag::RESOLVE_NO_MAGICLINKS)).map(|fd| (fd, false))
}

/// openat2 answers EAGAIN when a rename anywhere raced the walk.
fn retry(open: impl Fn() -> nix::Result<OwnedFd>) -> Result<OwnedFd, Errno> {
    let mut last = Errno::EAGAIN;
    for _ in 0..8 {
        match open() {
            Err(Errno::EAGAIN) => last = Errno::EAGAIN,
            other => return other,
        }
    }
    Err(last)
}

/// The path the kernel gives for the monitor's fd.
fn name_of(fd: &OwnedFd) -> Option<std::path::PathBuf> {
    std::fs::read_link(sys::fd_path(fd)).ok()
}

/// An object without a name a path could reach: changing it touches no
/// file of the host's tree.
fn unnamed(name: &Path, st: &FileStat) -> bool {
    let text = name.as_os_str().as_bytes();
    let pseudo = [&b"pipe:["[..], b"socket:[", b"anon_inode:"].iter().any(|p| text.starts_with(p));
    pseudo || (text.ends_with(b" (deleted)") && st.st_nlink == 0)
}

/// `object` again, opened beneath the writable rule it lies beneath with
/// RESOLVE_BENEATH, if it is the same inode; else EACCES. An unnamed
/// object reached through an fd is taken as it is.
fn beneath(n: &Notifier, object: OwnedFd, via_fd: bool) -> Result<(OwnedFd, FileStat), Errno> {
    let st = fstat(object.as_raw_fd())?;
    let name = name_of(&object).ok_or(Errno::EACCES)?;
    if via_fd && unnamed(&name, &st) {
        return Ok((object, st));
    }
    let beneath =
        ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    for root in &n.roots {
        let Some(rest) = name_of(root).and_then(|r| name.strip_prefix(r).ok().map(Path::to_path_buf)) else {
            continue;
        };
        let again = match rest.as_os_str().is_empty() {
            true => root.try_clone().map_err(|_| Errno::EMFILE),
            false => retry(|| sys::openat2(root, &rest, libc::O_PATH | libc::O_NOFOLLOW, beneath)),
        };
        let Ok(again) = again else { continue };
        if fstat(again.as_raw_fd()).is_ok_and(|s| (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino)) {
            return Ok((again, st));
        }
    }
    Err(Errno::EACCES)
}

/// Runs `f` with no effective capability (a monitor run by root must not
/// lend the command CAP_CHOWN or CAP_FOWNER).
fn without_capabilities(f: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
    let held = caps::read(None, CapSet::Effective).unwrap_or_default();
    if held.is_empty() {
        return f();
    }
    caps::clear(None, CapSet::Effective).map_err(|_| Errno::EPERM)?;
    let result = f();
    let _ = caps::set(None, CapSet::Effective, &held);
    result
}

/// The call, on the object `fd` (O_PATH) holds.
fn apply(fd: &OwnedFd, st: &FileStat, op: &Op) -> Result<(), Errno> {
    let link = sys::cstring(&sys::fd_path(fd))?;
    let symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    let raw = fd.as_raw_fd();
    // SAFETY (every call below): the strings are NUL-terminated and the
    // buffers valid for the lengths passed, for the duration of the call.
    let rc = match op {
        // Linux has no mode on symlinks (fchmodat2 AT_SYMLINK_NOFOLLOW says so).
        Op::Mode(_) if symlink => return Err(Errno::EOPNOTSUPP),
        Op::Mode(mode) => unsafe { libc::fchmodat(libc::AT_FDCWD, link.as_ptr(), *mode, 0) },
        Op::Owner(uid, gid) => unsafe { libc::fchownat(raw, c"".as_ptr(), *uid, *gid, libc::AT_EMPTY_PATH) },
        Op::Times(times) => {
            let times = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
            unsafe { libc::utimensat(raw, c"".as_ptr(), times, libc::AT_EMPTY_PATH) }
        }
        // user.* attributes are not allowed on symlinks; the others need
        // capabilities the command does not have.
        Op::SetXattr { .. } | Op::RemoveXattr(_) if symlink => return Err(Errno::EPERM),
        Op::SetXattr { name, value, flags } => unsafe {
            libc::setxattr(link.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), *flags)
        },
        Op::RemoveXattr(name) => unsafe { libc::removexattr(link.as_ptr(), name.as_ptr()) },
    };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_no_path_reaches_count_as_unnamed() {
        let root = std::fs::File::open("/").unwrap();
        let mut st = fstat(root.as_raw_fd()).unwrap();
        st.st_nlink = 0;
        for name in
            ["pipe:[12]", "socket:[34]", "anon_inode:[eventfd]", "/memfd:x (deleted)", "/tmp/f (deleted)"]
        {
            assert!(unnamed(Path::new(name), &st), "{name}");
        }
        for name in ["/home/u/.bashrc", "(unreachable)/home/u/.bashrc", "/tmp/f"] {
            assert!(!unnamed(Path::new(name), &st), "{name}");
        }
        st.st_nlink = 1;
        assert!(!unnamed(Path::new("/tmp/f (deleted)"), &st), "a file named so, still linked");
    }
}
