//! The helper that opens the firewall's and the DNS filter's sockets
//! inside the sandbox's network namespace: a fork of the monitor that
//! joins the sandbox's user and network namespaces, checks where it is,
//! opens the four sockets, hands them over (SCM_RIGHTS) and is killed.
//!
//! It never goes on where it is: a failure to join either namespace, or a
//! network namespace after setns that is not the sandbox's, ends it with
//! its step and errno, which abort the run. It dies with the monitor
//! (PR_SET_PDEATHSIG, then its parent checked), and the monitor kills it
//! once it has answered or after [`HELPER_TIMEOUT_MS`].

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag};
use nix::unistd::{ForkResult, Pid};

use crate::egress::serve::Sockets;
use crate::launch::error::{Result, SetupError};
use crate::launch::netns::NetNs;
use crate::launch::{init, sys};
use crate::plan::network::FILTER_ADDR;

/// How long the helper may take.
const HELPER_TIMEOUT_MS: u16 = 10_000;

/// Forks the helper, which opens the sockets in the namespaces `user` and
/// `net` (`target`); receives them.
/// `fault`: the egress tests' hook (see `launch::Options::egress_fault`).
pub fn open_inside(user: &OwnedFd, net: &OwnedFd, target: NetNs, fault: Fault) -> Result<Sockets> {
    let (ours, theirs) = socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| SetupError::errno("egress: socketpair", e))?;
    let monitor = nix::unistd::getpid();
    // SAFETY: the monitor is single-threaded here (the filter's threads
    // start after this), so the child may run any code.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SetupError::errno("egress: fork the helper", e)),
        Ok(ForkResult::Child) => {
            drop(ours);
            helper(monitor, (user, net, target), fault, &theirs)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(theirs);
            let got = receive(&ours);
            // It has answered (or not in time): it has nothing left to do.
            let _ = kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            got
        }
    }
}

/// The helper: join, check, open, send, exit. A failure is sent as its
/// step's name and errno.
fn helper(monitor: Pid, ns: (&OwnedFd, &OwnedFd, NetNs), fault: Fault, to: &OwnedFd) -> ! {
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || nix::unistd::getppid() != monitor {
        sys::exit_now(1);
    }
    let sent = match inside(ns, fault) {
        Ok(fds) => {
            let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
            socket::sendmsg::<()>(
                to.as_raw_fd(),
                &[IoSlice::new(b"ok")],
                &[ControlMessage::ScmRights(&raw)],
                MsgFlags::empty(),
                None,
            )
        }
        Err((step, e)) => {
            let msg = format!("{step}\0{}", e as i32);
            socket::sendmsg::<()>(
                to.as_raw_fd(),
                &[IoSlice::new(msg.as_bytes())],
                &[],
                MsgFlags::empty(),
                None,
            )
        }
    };
    sys::exit_now(i32::from(sent.is_err()))
}

/// A fault the egress tests simulate; none outside them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fault {
    /// The helper does not join the sandbox's namespaces (a setns that
    /// did nothing).
    pub stay: bool,
    /// Nor does it check where it is, so that only the monitor's check
    /// stands.
    pub unchecked: bool,
}

type Step<T> = std::result::Result<T, (&'static str, Errno)>;

fn inside((user, net, target): (&OwnedFd, &OwnedFd, NetNs), fault: Fault) -> Step<[OwnedFd; 4]> {
    if !fault.stay {
        setns(user, CloneFlags::CLONE_NEWUSER).map_err(|e| ("join the sandbox's user namespace", e))?;
        setns(net, CloneFlags::CLONE_NEWNET).map_err(|e| ("join the sandbox's network namespace", e))?;
    }
    // What setns did, as the kernel says: nothing below may run elsewhere.
    match NetNs::current() {
        _ if fault.unchecked => {}
        Ok(here) if here == target => {}
        Ok(_) => return Err(("join the sandbox's network namespace (still elsewhere)", Errno::EINVAL)),
        Err(e) => return Err(("read the helper's network namespace", e)),
    }
    init::net::lo_up().map_err(|(_, e)| e).map_err(|e| ("bring lo up", e))?;
    let addr = SocketAddr::from((FILTER_ADDR, 53));
    let io = |step| move |e: std::io::Error| (step, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    let udp = UdpSocket::bind(addr).map_err(io("bind the DNS filter (UDP 127.0.0.1:53)"))?;
    let tcp = TcpListener::bind(addr).map_err(io("bind the DNS filter (TCP 127.0.0.1:53)"))?;
    let netlink = |step| -> Step<OwnedFd> {
        let fd = socket::socket(
            socket::AddressFamily::Netlink,
            socket::SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            socket::SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| (step, e))?;
        socket::bind(fd.as_raw_fd(), &socket::NetlinkAddr::new(0, 0)).map_err(|e| (step, e))?;
        Ok(fd)
    };
    let nft = netlink("open a netfilter socket")?;
    let log = netlink("open the NFLOG socket")?;
    Ok([udp.into(), tcp.into(), nft, log])
}

/// The helper's message: four descriptors, or its failure.
fn receive(sock: &OwnedFd) -> Result<Sockets> {
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(HELPER_TIMEOUT_MS)) {
        Ok(0) => return Err(SetupError::new("egress: the helper", "no answer in 10 s")),
        Err(e) => return Err(SetupError::errno("egress: wait for the helper", e)),
        Ok(_) => {}
    }
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = socket::recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| SetupError::errno("egress: receive from the helper", e))?;
    let raw: Vec<RawFd> = msg
        .cmsgs()
        .map_err(|e| SetupError::errno("egress: receive from the helper", e))?
        .flat_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds,
            _ => Vec::new(),
        })
        .collect();
    let n = msg.bytes;
    // SAFETY: the kernel installed these descriptors for us with the
    // message; nothing else owns them.
    let mut owned: Vec<OwnedFd> = raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
    if n == 0 && owned.is_empty() {
        return Err(SetupError::new("egress: the helper", "it ended without an answer"));
    }
    if owned.len() != 4 {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (step, code) = text.split_once('\0').unwrap_or((text.as_str(), "0"));
        let errno = Errno::from_raw(code.parse().unwrap_or(0));
        return Err(SetupError::errno(format!("egress: {step}"), errno));
    }
    let log = owned.pop().expect("four");
    let nft = owned.pop().expect("four");
    let tcp = TcpListener::from(owned.pop().expect("four"));
    let udp = UdpSocket::from(owned.pop().expect("four"));
    Ok(Sockets { udp, tcp, nft, log })
}
