//! The monitor's side of the command's own pty (see `command/tty.rs`):
//! the master arrives from init over a socket; the monitor switches the
//! caller's terminal to raw mode and copies bytes both ways; SIGWINCH
//! resizes the pty; the caller's modes come back at the end and while the
//! monitor is stopped.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use crate::launch::command::tty::{set_window, stdin, window, Outside};

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
    /// In the monitor after clone: the end that receives the master, and
    /// the relay for it.
    pub fn from_outside(o: Outside) -> (OwnedFd, Relay) {
        let (modes, out, monitor_end) = o.monitor_parts();
        let relay = Relay { master: None, modes, out, stdin_open: true, pending: Vec::new(), raw: false };
        (monitor_end, relay)
    }

    /// The master has arrived: what the caller's terminal already holds is
    /// taken first, then raw mode on, copying starts.
    pub fn start(&mut self, master: OwnedFd) {
        let _ = nix::fcntl::fcntl(
            master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        self.master = Some(master);
        self.take_queued();
        self.resume();
    }

    /// The input the caller's terminal holds before it goes raw, read in its
    /// own (canonical) mode. There a typed end of file (script(1) sends one
    /// when its own input ends) is queued as a NUL byte that closes the
    /// line: once raw, read() returns that NUL as data, the sandbox's pty
    /// echoes `^@`, and the command never sees the end of its input. Read
    /// now, it is an end of file, and the command gets one in turn.
    fn take_queued(&mut self) {
        if !self.modes.local_flags.contains(termios::LocalFlags::ICANON) {
            return;
        }
        let mut buf = [0u8; 4096];
        loop {
            let mut fds = [PollFd::new(stdin(), PollFlags::POLLIN)];
            if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1)) {
                break;
            }
            match nix::unistd::read(0, &mut buf) {
                Ok(0) => {
                    self.stdin_open = false;
                    self.send_eof();
                    break;
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        self.write_input();
    }

    /// An end of file for the command: the pty's own VEOF character, which
    /// its line discipline turns into one when it is canonical.
    fn send_eof(&mut self) {
        let Some(master) = &self.master else { return };
        let Ok(t) = termios::tcgetattr(master) else { return };
        if t.local_flags.contains(termios::LocalFlags::ICANON) {
            self.pending.push(t.control_chars[termios::SpecialCharacterIndices::VEOF as usize]);
        }
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
