//! Landlock-only mode: the monitor makes the command's metadata calls.
//!
//! Landlock has no right for metadata, so a confined process may chmod,
//! chown, set the times of, and set or remove extended attributes on any
//! file its user owns, `~/.bashrc` included. The command's metadata filter
//! (`seccomp::notify`) hands these calls to the monitor over a seccomp
//! listener (SECCOMP_RET_USER_NOTIF), which the command sent it before
//! execve and no longer holds. The monitor, outside the landlock domain:
//!
//! 1. reads the call's arguments from the caller's memory
//!    (process_vm_readv) and checks with SECCOMP_IOCTL_NOTIF_ID_VALID that
//!    the caller is still waiting in that call (so the pid was not reused
//!    while it read);
//! 2. resolves the path as the kernel would have for the caller: from the
//!    caller's cwd (`/proc/PID/cwd`) or directory fd (`/proc/PID/fd/N`),
//!    following the last symlink or not as the call says, magic links
//!    refused (`calls.rs`);
//! 3. finds the writable landlock rule (a path the command may write
//!    files beneath: the same list its ruleset was made of) the object lies
//!    beneath, and opens the object again from that rule's directory fd
//!    with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; the object must be
//!    the same inode as the one resolved. Nothing else is ever changed: an
//!    object outside every writable rule gets EACCES, as landlock answers;
//! 4. makes the call on that fd (fchmodat on `/proc/self/fd/N`, fchownat
//!    and utimensat with AT_EMPTY_PATH, setxattr on `/proc/self/fd/N`), with
//!    no effective capability, and returns its result. It never answers
//!    SECCOMP_USER_NOTIF_FLAG_CONTINUE, so there is no second look at the
//!    caller's memory for it to race.
//!
//! Calls on an fd (fchmod, fchown, fsetxattr, futimens, an AT_EMPTY_PATH
//! path) take the object the fd holds in the caller (`/proc/PID/fd/N`),
//! checked the same way; an object with no name (a pipe, a socket, an
//! anonymous inode, an unlinked file) is changed as it is. If the
//! monitor cannot read the caller (it made itself non-dumpable, or Yama
//! forbids), the call fails (EPERM, EFAULT): fail closed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket;

use crate::launch::command::landlock;
use crate::launch::{sys, Ctx};

mod calls;
use crate::plan::landlock::Rights;

/// One call the filter handed over.
pub struct Call {
    id: u64,
    /// The calling thread, in the monitor's pid namespace.
    pub pid: u32,
    pub nr: i32,
    pub args: [u64; 6],
}

/// The listener and the directories the command may write beneath.
pub struct Notifier {
    listener: OwnedFd,
    /// An O_PATH fd of each path the command's ruleset lets it write files
    /// beneath, opened the way landlock opened them.
    pub roots: Vec<OwnedFd>,
    /// The kernel's sizes of `struct seccomp_notif` and of the response.
    sizes: (usize, usize),
}

impl Notifier {
    pub fn new(ctx: &Ctx, listener: OwnedFd) -> Notifier {
        let mut roots = Vec::new();
        for (path, rights) in landlock::rule_paths(ctx.plan) {
            if !rights.contains(Rights::WRITE_FILE) {
                continue;
            }
            if let Ok(fd) = sys::open(&path, libc::O_PATH) {
                ctx.log("metadata", &format!("allowed beneath {}", crate::escape::path(&path)));
                roots.push(fd);
            }
        }
        Notifier { listener, roots, sizes: sizes() }
    }

    pub fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Takes one call and answers it; false when the listener is of no
    /// more use (every process under the filter has ended).
    pub fn serve(&self) -> bool {
        match self.receive() {
            Ok(call) => {
                let result = calls::handle(self, &call);
                self.respond(call.id, result);
                true
            }
            // The caller was interrupted or has gone.
            Err(Errno::ENOENT | Errno::EINTR | Errno::EAGAIN) => true,
            Err(_) => false,
        }
    }

    fn receive(&self) -> Result<Call, Errno> {
        let mut buf = vec![0u64; self.sizes.0.div_ceil(8)];
        // SAFETY: the buffer is zeroed (the kernel insists) and at least as
        // large as the kernel's struct seccomp_notif and libc's.
        Errno::result(unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, buf.as_mut_ptr()) })?;
        // SAFETY: the buffer holds a struct seccomp_notif the kernel wrote.
        let n: libc::seccomp_notif = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        if n.data.arch != crate::seccomp::notify::NATIVE_ARCH {
            self.respond(n.id, Err(Errno::ENOSYS));
            return Err(Errno::EAGAIN);
        }
        Ok(Call { id: n.id, pid: n.pid, nr: n.data.nr, args: n.data.args })
    }

    fn respond(&self, id: u64, result: Result<(), Errno>) {
        let error = match result {
            Ok(()) => 0,
            Err(e) => -(e as i32),
        };
        let mut buf = vec![0u64; self.sizes.1.div_ceil(8)];
        let resp = libc::seccomp_notif_resp { id, val: 0, error, flags: 0 };
        // SAFETY: the buffer is at least as large as libc's struct.
        unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast(), resp) };
        // SAFETY: the buffer holds a struct seccomp_notif_resp of the
        // kernel's size. An error (the caller has gone) needs no answer.
        let _ = unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, buf.as_mut_ptr()) };
    }

    /// Whether `call`'s thread still waits in that call: checked after its
    /// memory was read and before anything is done for it.
    pub fn still_waiting(&self, call: &Call) -> bool {
        // SAFETY: SECCOMP_IOCTL_NOTIF_ID_VALID reads one u64.
        unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &call.id as *const u64) == 0 }
    }
}

/// The kernel's struct sizes, never less than libc's.
fn sizes() -> (usize, usize) {
    let mut s = libc::seccomp_notif_sizes { seccomp_notif: 0, seccomp_notif_resp: 0, seccomp_data: 0 };
    // SAFETY: SECCOMP_GET_NOTIF_SIZES writes one struct seccomp_notif_sizes.
    unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_NOTIF_SIZES, 0, &mut s as *mut _) };
    (
        (s.seccomp_notif as usize).max(std::mem::size_of::<libc::seccomp_notif>()),
        (s.seccomp_notif_resp as usize).max(std::mem::size_of::<libc::seccomp_notif_resp>()),
    )
}

/// Reads up to `buf.len()` bytes at `addr` of process `pid`.
fn read_some(pid: u32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes `buf`, valid for writes of its length; the
    // kernel only reads `remote` in the other process.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    Errno::result(n).map(|n| n as usize)
}

/// Exactly `len` bytes at `addr` of the caller.
pub fn bytes(call: &Call, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    if len == 0 {
        return Ok(buf);
    }
    if addr == 0 || read_some(call.pid, addr, &mut buf)? != len {
        return Err(Errno::EFAULT);
    }
    Ok(buf)
}

/// The NUL-terminated string at `addr` of the caller, of fewer than `max`
/// bytes (`too_long` otherwise). Read a page at most at a time, so that a
/// string that ends just before unmapped memory is read whole.
pub fn string(call: &Call, addr: u64, max: usize, too_long: Errno) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let want = (4096 - (at % 4096) as usize).min(max - out.len());
        let mut chunk = vec![0u8; want];
        let n = read_some(call.pid, at, &mut chunk)?;
        if n == 0 {
            return Err(Errno::EFAULT);
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Err(too_long)
}

/// The object the caller's fd `fd` holds (AT_FDCWD: its working
/// directory), as an O_PATH fd of the monitor.
pub fn callers_fd(call: &Call, fd: i32) -> Result<OwnedFd, Errno> {
    let link = match fd {
        libc::AT_FDCWD => format!("/proc/{}/cwd", call.pid),
        fd if fd >= 0 => format!("/proc/{}/fd/{fd}", call.pid),
        _ => return Err(Errno::EBADF),
    };
    sys::open(Path::new(&link), libc::O_PATH).map_err(|e| match e {
        Errno::ENOENT if fd >= 0 => Errno::EBADF,
        e => e,
    })
}

/// The monitor: the listener the command sent, once it has.
pub fn receive_listener(ours: std::os::fd::BorrowedFd) -> Option<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = socket::recvmsg::<()>(
        ours.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        socket::MsgFlags::MSG_CMSG_CLOEXEC | socket::MsgFlags::MSG_DONTWAIT,
    )
    .ok()?;
    let fds: Vec<std::os::fd::RawFd> = msg
        .cmsgs()
        .ok()?
        .flat_map(|c| match c {
            socket::ControlMessageOwned::ScmRights(fds) => fds,
            _ => Vec::new(),
        })
        .collect();
    // SAFETY: the kernel installed these descriptors for us with the
    // message; nothing else owns them. Only the first is the listener.
    let mut owned = fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    owned.next()
}
