//! A terminal of the sandbox's own for an interactive command.
//!
//! With a new session (the default) the command has no controlling
//! terminal, so nothing inside can push input into the caller's terminal
//! with TIOCSTI, but an interactive shell also gets no job control. When
//! stdin is a terminal, the command therefore gets a pty of its own, the way
//! `script` and `ssh -t` do it:
//!
//! - init, once the root is built, opens `/dev/ptmx` of the sandbox's own
//!   devpts instance (so `tty` inside names `/dev/pts/0`), sets the caller's
//!   terminal modes and size on it, and sends the master side to the
//!   monitor over a socket (SCM_RIGHTS);
//! - the command, after setsid, makes the pty its controlling terminal and
//!   puts it in place of those of fds 0, 1, 2 that were the caller's terminal
//!   (a redirected stdout stays redirected);
//! - the monitor (`monitor/relay.rs`) switches the caller's terminal to raw
//!   mode and copies bytes both ways; Ctrl-C, Ctrl-Z and the like are then interpreted by the
//!   sandbox's pty, for its foreground job, as a terminal would; SIGWINCH
//!   resizes the pty (the kernel then signals the job inside). The caller's
//!   modes are restored at the end and while the monitor is stopped.
//!
//! Without a /dev in the sandbox (no /dev/ptmx) the command runs as before,
//! without a controlling terminal.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use crate::launch::error::{Result, SetupError};
use crate::launch::{sys, Ctx};

/// The pty's slave side in the command's process, -1 without one. Set by
/// init before it forks the command (single-threaded), read by [`attach`].
static SLAVE: AtomicI32 = AtomicI32::new(-1);

/// What the monitor learns of the caller's terminal before clone.
pub struct Outside {
    modes: Termios,
    size: libc::winsize,
    /// The fd the relay writes to: the first of 1, 2, 0 that is the terminal.
    out: RawFd,
    monitor_end: OwnedFd,
    init_end: OwnedFd,
}

pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn rdev(fd: RawFd) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|s| s.st_rdev)
}

/// Fds among 0, 1, 2 that are the same terminal as stdin.
fn terminal_fds() -> Vec<RawFd> {
    let Some(dev) = rdev(0) else { return Vec::new() };
    (0..=2).filter(|&fd| nix::unistd::isatty(fd).unwrap_or(false) && rdev(fd) == Some(dev)).collect()
}

pub fn window(fd: RawFd) -> Option<libc::winsize> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct passed.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some(ws)
}

pub fn set_window(fd: RawFd, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ only reads the struct passed.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws) };
}

/// Before clone: a pty is due when the plan wants one, the command gets a
/// new session and stdin is a terminal.
pub fn prepare(ctx: &Ctx) -> Result<Option<Outside>> {
    let p = &ctx.plan.process;
    if !p.own_tty || !p.new_session || !nix::unistd::isatty(0).unwrap_or(false) {
        return Ok(None);
    }
    let Ok(modes) = termios::tcgetattr(stdin()) else { return Ok(None) };
    let fds = terminal_fds();
    let out = [1, 2, 0].into_iter().find(|fd| fds.contains(fd)).unwrap_or(0);
    let size = window(0).unwrap_or(libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 });
    let (monitor_end, init_end) = socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| SetupError::errno("terminal: socketpair", e))?;
    Ok(Some(Outside { modes, size, out, monitor_end, init_end }))
}

impl Outside {
    /// What the monitor keeps after clone: the caller's modes, the fd the
    /// relay writes to, and the end the master arrives on.
    pub fn monitor_parts(self) -> (Termios, RawFd, OwnedFd) {
        (self.modes, self.out, self.monitor_end)
    }

    /// In init, in the new root: allocates the pty, keeps the slave for the
    /// command, sends the master to the monitor. Without /dev/ptmx, or on any
    /// failure, the command runs without a terminal (logged with -v).
    pub fn open_inside(self, ctx: &Ctx) {
        drop(self.monitor_end);
        match allocate(&self.modes, &self.size) {
            Ok((master, slave)) => {
                let fds = [master.as_raw_fd()];
                let sent = socket::sendmsg::<()>(
                    self.init_end.as_raw_fd(),
                    &[IoSlice::new(b"m")],
                    &[ControlMessage::ScmRights(&fds)],
                    MsgFlags::empty(),
                    None,
                );
                match sent {
                    Ok(_) => SLAVE.store(std::mem::ManuallyDrop::new(slave).as_raw_fd(), Ordering::SeqCst),
                    Err(e) => ctx.log("terminal", &format!("send the pty: {e}")),
                }
            }
            Err(e) => ctx.log("terminal", &format!("no pty of its own: {e}")),
        }
    }
}

fn allocate(modes: &Termios, size: &libc::winsize) -> nix::Result<(OwnedFd, OwnedFd)> {
    let master = sys::open(Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int; TIOCGPTPEER returns a new fd.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: as above; the fd returned is new and owned by nothing else.
    let slave = Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) })?;
    // SAFETY: `slave` was just returned by the kernel.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    termios::tcsetattr(slave.as_fd(), SetArg::TCSANOW, modes)?;
    set_window(slave.as_raw_fd(), size);
    Ok((master, slave))
}

/// The command's step after `session`: the pty becomes its controlling
/// terminal and replaces the caller's terminal on 0, 1, 2.
pub fn attach(ctx: &Ctx) -> Result<()> {
    let slave = SLAVE.load(Ordering::SeqCst);
    if slave < 0 {
        return Ok(());
    }
    ctx.log("terminal", "a pty of its own as the controlling terminal");
    let err = |what: &str, e| SetupError::errno(format!("terminal: {what}"), e);
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
    Errno::result(unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) }).map_err(|e| err("TIOCSCTTY", e))?;
    for fd in terminal_fds() {
        nix::unistd::dup2(slave, fd).map_err(|e| err("dup2", e))?;
    }
    nix::unistd::close(slave).map_err(|e| err("close", e))
}
