//! Thin wrappers over the system calls: nix's where it has them (openat2
//! among them), libc's where it has none (mount_setattr, open_tree,
//! move_mount and close_range are not in nix 0.29; a fork-like clone with
//! namespace flags).
//!
//! Each returns `nix::Result` so callers attach the object they acted on.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// `/proc/self/fd/N`: the path through which a mount call reaches exactly
/// the object an fd holds, whatever happens to the names around it.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub fn cstring(p: &Path) -> nix::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

pub use nix::fcntl::ResolveFlag;

/// openat2(2) (nix's): opens `path` relative to `dirfd` with `resolve`
/// restrictions; O_CLOEXEC is added.
pub fn openat2(dirfd: &impl AsRawFd, path: &Path, flags: i32, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
    openat2_raw(dirfd.as_raw_fd(), path, flags, 0, resolve)
}

/// [`openat2`] with the `mode` a file created by O_CREAT gets, and a raw
/// `dirfd` (AT_FDCWD for the working directory).
pub fn openat2_raw(
    dirfd: RawFd,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: ResolveFlag,
) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow};
    let how = OpenHow::new()
        .flags(OFlag::from_bits_retain(flags | libc::O_CLOEXEC))
        .mode(nix::sys::stat::Mode::from_bits_retain(mode))
        .resolve(resolve);
    let fd = nix::fcntl::openat2(dirfd, path, how)?;
    // SAFETY: openat2 returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// openat(2) with O_CLOEXEC.
pub fn openat(dirfd: &impl AsRawFd, path: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::openat(dirfd.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// open(2) of a host path with O_CLOEXEC.
pub fn open(path: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: u32 = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to, and on every mount beneath
/// it when `recursive`. Only ever adds restrictions.
pub fn mount_setattr(fd: &impl AsRawFd, attr_set: u64, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is an empty NUL-terminated string and `attr` a valid
    // mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE: a detached copy of the
/// mount tree beneath the object `fd` refers to (its submounts included,
/// each with its flags), not changed by what later happens to the original.
pub fn clone_tree(fd: &impl AsRawFd) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: u32 = 1;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE;
    // SAFETY: the path is an empty NUL-terminated string; the kernel keeps
    // no pointer.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// move_mount(2) of the detached tree `tree` onto the object `target` refers to.
pub fn attach_tree(tree: &impl AsRawFd, target: &impl AsRawFd) -> nix::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    // SAFETY: both paths are empty NUL-terminated strings; the kernel keeps
    // no pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(r).map(drop)
}

/// Marks every fd from `first` up close-on-exec (close_range(2) with
/// CLOSE_RANGE_CLOEXEC, or a walk of /proc/self/fd on older kernels).
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range only changes flags of this process's descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return Ok(());
    }
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|_| Errno::last())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|&fd| fd >= first as RawFd) {
        // SAFETY: setting FD_CLOEXEC on a descriptor number is harmless even
        // if it was closed in between (EBADF is ignored).
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Whether `fd` is an open descriptor of this process.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Clears FD_CLOEXEC so `fd` survives execve.
pub fn keep_on_exec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: F_SETFD only changes the descriptor's flags.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// A fork-like clone(2) into new namespaces: no new stack, SIGCHLD on exit.
/// Returns 0 in the child and the child's pid in the parent.
///
/// The caller must be single-threaded (CLONE_NEWUSER refuses otherwise, and
/// only the calling thread would exist in the child).
pub fn clone_fork(flags: libc::c_int) -> nix::Result<libc::pid_t> {
    // SAFETY: with a NULL stack, clone behaves like fork: the child runs on a
    // copy of the parent's memory. The process is single-threaded here, so no
    // lock can be held by a thread that does not exist in the child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
            std::ptr::null::<libc::c_void>(),
            std::ptr::null::<libc::c_void>(),
            0usize,
        )
    };
    Errno::result(r).map(|pid| pid as libc::pid_t)
}

/// Ends the current process at once, without running destructors or atexit
/// handlers that belong to the parent's copy of the program.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// Closes every fd from 3 up except `keep` (init keeps nothing of the
/// caller's, only its own locks).
pub fn close_all_except(keep: &[RawFd]) -> nix::Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|&&fd| fd >= 3).map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for k in keep.into_iter().chain([u32::MAX]) {
        if k > first {
            // SAFETY: close_range only closes this process's descriptors;
            // nothing in init uses them afterwards.
            let r = unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0u32) };
            Errno::result(r)?;
        }
        first = k.saturating_add(1);
    }
    Ok(())
}

/// Whether the other end of the pipe `fd` is closed, without blocking.
pub fn hung_up(fd: &OwnedFd) -> bool {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|r| r.contains(nix::poll::PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

/// Writes all of `text` to the descriptor `fd` (retrying short writes and
/// EINTR).
pub fn write_all(fd: i32, text: &str) -> nix::Result<()> {
    // SAFETY: `fd` is a descriptor the caller handed over for this purpose
    // and keeps open for the duration of this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Drops this process's page-table entries for sandbox's own machine code
/// (the executable's PT_LOAD segments that are executable), so its
/// resident set is only what runs from here on: the kernel maps code in
/// 64 KiB windows around each page used (fault-around), so a process that
/// has run the setup holds most of the 2.8 MB binary, of which it needs a
/// few pages to wait. The pages stay in the page cache; what runs again
/// faults back in. Only the text: it is never written, so nothing is lost
/// (a writable or relocated segment would lose its changes).
pub fn trim_text() {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        _data: *mut libc::c_void,
    ) -> i32 {
        // SAFETY: the dynamic loader passes a valid dl_phdr_info for the
        // duration of the call, with `dlpi_phnum` program headers at
        // `dlpi_phdr`.
        let info = unsafe { &*info };
        // SAFETY: as above, `dlpi_phdr` points at `dlpi_phnum` headers.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let page = 4096usize;
        for ph in phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_X != 0) {
            let start = (info.dlpi_addr as usize + ph.p_vaddr as usize) & !(page - 1);
            let end = (info.dlpi_addr as usize + (ph.p_vaddr + ph.p_memsz) as usize).next_multiple_of(page);
            // SAFETY: [start, end) is the executable's own text mapping,
            // private, read-only and never written: MADV_DONTNEED only
            // drops page-table entries, and the next access maps the same
            // page-cache pages again.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
        1 // the first object is the executable itself: stop
    }
    // SAFETY: `each` follows dl_iterate_phdr's callback contract and keeps
    // nothing after it returns.
    unsafe { libc::dl_iterate_phdr(Some(each), std::ptr::null_mut()) };
}

/// Starts `f` in a child process that shares this process's memory until it
/// calls execve or exits (clone with CLONE_VM | CLONE_VFORK on a stack of
/// its own, as posix_spawn does), and returns the child's pid once it has.
/// No page table is copied and no page copied on write: a fork of init
/// cost a copy of its address space for a process that execs at once.
///
/// `f` must end in execve or exit, never return to this function's caller:
/// it runs on its own stack. While it runs this process is suspended, so
/// what `f` borrows cannot be touched by anything else; what it allocates
/// stays in the shared heap (leaked, harmless), what it changes in place is
/// seen by this process afterwards. Only for a single-threaded caller (no
/// other thread could hold a lock `f` takes, such as malloc's).
pub fn spawn_sharing_memory(f: impl FnOnce()) -> nix::Result<libc::pid_t> {
    const STACK: usize = 1 << 20;
    const PAGE: usize = 4096;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: the lowest page of our own mapping becomes the guard page.
    unsafe { libc::mprotect(stack, PAGE, libc::PROT_NONE) };
    let mut job: Option<Box<dyn FnOnce() + '_>> = Some(Box::new(f));
    extern "C" fn start(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `job` of spawn_sharing_memory, alive while
        // that function waits (CLONE_VFORK); only this child touches it then.
        let job = unsafe { &mut *(arg as *mut Option<Box<dyn FnOnce()>>) };
        if let Some(f) = job.take() {
            f();
        }
        // SAFETY: _exit is always safe; `f` should have exec'd or exited.
        unsafe { libc::_exit(127) }
    }
    // SAFETY: the stack is ours (it grows down from its top), `start` never
    // returns into this function, and CLONE_VFORK keeps this process
    // suspended until the child has exec'd or exited, so `job` and what
    // `f` borrows outlive every use the child makes of them.
    let pid = unsafe {
        libc::clone(
            start,
            (stack as *mut u8).add(STACK) as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &mut job as *mut Option<Box<dyn FnOnce() + '_>> as *mut libc::c_void,
        )
    };
    let result = Errno::result(pid);
    // SAFETY: the child has exec'd (a new address space) or exited: nothing
    // runs on this stack any more.
    unsafe { libc::munmap(stack, STACK) };
    drop(job);
    result
}
