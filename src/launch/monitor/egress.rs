//! Egress by host name (`--allow-host`, `--allow-addr`): the monitor's side.
//!
//! The firewall must be in place before the command starts, and out of its
//! reach. The kernel checks CAP_NET_ADMIN for every nf_tables and NFLOG
//! message twice (netlink_ns_capable): against the credentials the netlink
//! socket was opened with (file_ns_capable) and against those of the
//! sender. So:
//!
//! - a helper forked by the monitor joins the sandbox's user namespace
//!   (entering it, a process of the namespace's owner holds every
//!   capability there) and its network namespace, brings `lo` up, opens
//!   there the DNS filter's UDP and TCP sockets on 127.0.0.1:53 and two
//!   NETLINK_NETFILTER sockets, hands the four to the monitor (SCM_RIGHTS)
//!   and exits;
//! - the monitor, whose euid owns the sandbox's user namespace from the
//!   parent namespace and so also holds every capability in it, installs
//!   the table in one batch, binds the NFLOG group, and starts the filter's
//!   threads (`egress::serve`), all before init is released.
//!
//! The command holds no capability in its namespace: its own netlink
//! sockets, nft and iptables get EPERM; the monitor's descriptors are
//! outside its reach; it cannot bind port 53 (below 1024). The helper is a
//! fork of the single-threaded monitor, before the filter's threads start.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag};
use nix::unistd::ForkResult;

use crate::egress::netlink::transact;
use crate::egress::ruleset::{Firewall, LOG_GROUP, SNAPLEN};
use crate::egress::serve::{self, Config, Report, Sockets};
use crate::egress::{nflog, routes, AddrRule};
use crate::launch::error::{Result, SetupError};
use crate::launch::{init, sys, Ctx};
use crate::plan::network::FILTER_ADDR;

/// How long the helper may take.
const HELPER_TIMEOUT_MS: u16 = 10_000;

/// Sets up the firewall and starts the DNS filter, when the plan filters
/// egress; before init is released.
pub fn start(ctx: &Ctx, init: libc::pid_t, report: Report) -> Result<()> {
    let Some(user) = ctx.plan.network.user.as_ref().filter(|u| u.filtered()) else { return Ok(()) };
    ctx.log("egress", "the firewall and the DNS filter in the sandbox's network namespace");
    let socks = open_inside(init)?;
    let mut fw = Firewall { addrs: user.allow_addrs.clone() };
    if user.allow_host_loopback {
        fw.addrs.extend(gateways(init));
    }
    let (bytes, seqs) = fw.batch(1).finish();
    transact(socks.nft.as_fd(), &bytes, &seqs).map_err(|e| firewall_error("install the firewall", e))?;
    for (req, seq) in nflog::bind_requests(LOG_GROUP, SNAPLEN, 1) {
        transact(socks.log.as_fd(), &req, &[seq])
            .map_err(|e| firewall_error("log refused packets (NFLOG)", e))?;
    }
    // The host's resolvers, as the monitor sees them (its own mount
    // namespace: the host's /etc/resolv.conf, not the sandbox's).
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let upstreams = serve::upstreams(&resolv);
    let floor = ctx.dns_floor();
    ctx.log("egress", &format!("names resolved by {upstreams:?}, kept for at least {floor:?}"));
    let cfg = Config { hosts: user.allow_hosts.clone(), addrs: fw.addrs, upstreams, floor };
    serve::start(cfg, socks, report)
        .map_err(|e| SetupError::new("egress: start the DNS filter", e.to_string()))
}

fn firewall_error(what: &str, e: Errno) -> SetupError {
    let err = SetupError::errno(format!("egress: {what}"), e);
    match e {
        Errno::ENOENT | Errno::EOPNOTSUPP | Errno::EPROTONOSUPPORT | Errno::EAFNOSUPPORT => {
            err.hint("the kernel lacks nf_tables (CONFIG_NF_TABLES_INET, NFT_REJECT_INET, NFT_CT, NFT_LOG, NETFILTER_NETLINK_LOG); `sandbox check` says what is missing")
        }
        Errno::EPERM | Errno::EACCES => err.hint("something (an LSM, a container's seccomp profile) refuses nf_tables in user namespaces here; `sandbox check` tells"),
        _ => err,
    }
}

/// The default gateways inside (IPv4 and IPv6), where the backend answers
/// for the host's loopback when `--allow-host-loopback` is given.
fn gateways(init: libc::pid_t) -> Vec<AddrRule> {
    let route = std::fs::read_to_string(format!("/proc/{init}/net/route")).unwrap_or_default();
    let route6 = std::fs::read_to_string(format!("/proc/{init}/net/ipv6_route")).unwrap_or_default();
    routes::gateways(&route, &route6)
        .into_iter()
        .map(|addr| AddrRule { prefix: if addr.is_ipv4() { 32 } else { 128 }, addr, port: None })
        .collect()
}

/// Forks the helper, which opens the sockets inside; receives them.
fn open_inside(init: libc::pid_t) -> Result<Sockets> {
    let ns = |name: &str| {
        sys::open(Path::new(&format!("/proc/{init}/ns/{name}")), libc::O_RDONLY | libc::O_CLOEXEC)
            .map_err(|e| SetupError::errno(format!("egress: open the sandbox's {name} namespace"), e))
    };
    let (user, net) = (ns("user")?, ns("net")?);
    let (ours, theirs) = socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| SetupError::errno("egress: socketpair", e))?;
    // SAFETY: the monitor is single-threaded here (the filter's threads
    // start after this), so the child may run any code.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(SetupError::errno("egress: fork the helper", e)),
        Ok(ForkResult::Child) => {
            drop(ours);
            helper(&user, &net, &theirs)
        }
        Ok(ForkResult::Parent { child }) => {
            drop((theirs, user, net));
            let got = receive(&ours);
            let _ = nix::sys::wait::waitpid(child, None);
            got
        }
    }
}

/// The helper: join, open, send, exit. A failure is sent as its step's
/// name and errno.
fn helper(user: &OwnedFd, net: &OwnedFd, to: &OwnedFd) -> ! {
    let sent = match inside(user, net) {
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

type Step<T> = std::result::Result<T, (&'static str, Errno)>;

fn inside(user: &OwnedFd, net: &OwnedFd) -> Step<[OwnedFd; 4]> {
    setns(user, CloneFlags::CLONE_NEWUSER).map_err(|e| ("join the sandbox's user namespace", e))?;
    setns(net, CloneFlags::CLONE_NEWNET).map_err(|e| ("join the sandbox's network namespace", e))?;
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
