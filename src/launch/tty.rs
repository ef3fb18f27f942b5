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
//! - the monitor switches the caller's terminal to raw mode and copies bytes
//!   both ways; Ctrl-C, Ctrl-Z and the like are then interpreted by the
//!   sandbox's pty, for its foreground job, as a terminal would; SIGWINCH
//!   resizes the pty (the kernel then signals the job inside). The caller's
//!   modes are restored at the end and while the monitor is stopped.
//!
//! Without a /dev in the sandbox (no /dev/ptmx) the command runs as before,
//! without a controlling terminal.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use super::error::{Result, SetupError};
use super::{sys, Ctx};

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

fn stdin() -> BorrowedFd<'static> {
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

fn window(fd: RawFd) -> Option<libc::winsize> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct passed.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some(ws)
}

fn set_window(fd: RawFd, ws: &libc::winsize) {
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
    /// In the monitor after clone: the end that receives the master.
    pub fn monitor_side(self) -> (OwnedFd, Relay) {
        let relay = Relay {
            master: None,
            modes: self.modes,
            out: self.out,
            stdin_open: true,
            pending: Vec::new(),
            raw: false,
        };
        (self.monitor_end, relay)
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

/// Receives the master sent by [`Outside::open_inside`]; `None` when init
/// sent none (the socket closed).
pub fn receive(sock: &OwnedFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = socket::recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ok()?;
    let fd = msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
        _ => None,
    })?;
    // SAFETY: the fd just arrived with SCM_RIGHTS and belongs to nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The monitor's copy loop between the caller's terminal and the pty.
pub struct Relay {
    master: Option<OwnedFd>,
    modes: Termios,
    out: RawFd,
    stdin_open: bool,
    /// Input read from the caller, not yet taken by the pty.
    pending: Vec<u8>,
    raw: bool,
}

impl Relay {
    /// The master has arrived: raw mode on, copying starts.
    pub fn start(&mut self, master: OwnedFd) {
        let _ = nix::fcntl::fcntl(
            master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        self.master = Some(master);
        self.resume();
    }

    pub fn master(&self) -> Option<RawFd> {
        self.master.as_ref().map(|m| m.as_raw_fd())
    }

    /// Whether to poll stdin (only while nothing is pending).
    pub fn wants_input(&self) -> bool {
        self.master.is_some() && self.stdin_open && self.pending.is_empty()
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// stdin is readable (or hung up).
    pub fn read_input(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(0, &mut buf) {
            Ok(0) | Err(Errno::EIO) | Err(Errno::EBADF) => self.stdin_open = false,
            Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        self.write_input();
    }

    /// Hands pending input to the pty, as much as it takes.
    pub fn write_input(&mut self) {
        let Some(master) = &self.master else { return };
        while !self.pending.is_empty() {
            match nix::unistd::write(master, &self.pending) {
                Ok(n) => drop(self.pending.drain(..n)),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => return self.pending.clear(),
            }
        }
    }

    /// Copies one chunk of what the pty has to the caller's terminal (one per
    /// round, so a flood of output cannot starve signals and the time-out);
    /// false at its end or when it has nothing more.
    pub fn read_output(&mut self) -> bool {
        let Some(master) = &self.master else { return false };
        let mut buf = [0u8; 16384];
        loop {
            match nix::unistd::read(master.as_raw_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => return false,
                Ok(n) => {
                    write_all(self.out, &buf[..n]);
                    return true;
                }
                Err(Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
    }

    /// At the end: whatever output is left.
    pub fn drain(&mut self) {
        while self.read_output() {}
    }

    /// The caller's terminal changed size: so does the pty.
    pub fn resize(&self) {
        if let (Some(m), Some(ws)) = (&self.master, window(0)) {
            set_window(m.as_raw_fd(), &ws);
        }
    }

    /// Gives the caller's terminal its own modes back (stop, end).
    pub fn suspend(&mut self) {
        if self.raw {
            let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &self.modes);
            self.raw = false;
        }
    }

    /// Raw mode again (start, continue), and the size it may have got meanwhile.
    pub fn resume(&mut self) {
        if self.master.is_none() || self.raw {
            return;
        }
        let mut raw = self.modes.clone();
        termios::cfmakeraw(&mut raw);
        self.raw = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &raw).is_ok();
        self.resize();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.suspend();
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    // SAFETY: one of the caller's fds 0, 1, 2, open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}
