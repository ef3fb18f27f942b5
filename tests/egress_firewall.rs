//! The egress firewall's netlink messages against the real kernel (issue
//! 20): installed in an island's network namespace, the table reads back
//! through `nft list ruleset` exactly as `Firewall::render` (and so
//! `explain`) prints it, set elements carry their keys and timeouts,
//! refused packets are rejected at once and logged to NFLOG, where the
//! parser reads them back. The sandbox's own use of it is tested in
//! tests/egress.rs.

mod common;
mod netutil;

use std::net::{IpAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use netutil::*;
use sandbox::egress::netlink::{self, messages, transact};
use sandbox::egress::ruleset::{add_elements, Element, Firewall, LOG_GROUP, SNAPLEN};
use sandbox::egress::{nflog, Ports};

fn netfilter_socket() -> OwnedFd {
    use nix::sys::socket::{bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType};
    let fd =
        socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkNetFilter)
            .expect("netlink socket");
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &NetlinkAddr::new(0, 0)).expect("bind netlink");
    // Only ever an island's: never the machine's network namespace.
    netutil::rulesets::assert_socket_off_host(fd.as_fd());
    fd
}

fn nft(args: &[&str]) -> String {
    out(Command::new("nft").args(args)).stdout()
}

fn firewall() -> Firewall {
    Firewall { addrs: vec!["192.0.2.0/24:7".parse().unwrap(), "2001:db8::/33".parse().unwrap()] }
}

fn nft_or_skip() -> bool {
    if which("nft") {
        return true;
    }
    skip("nft (Debian package nftables) is not installed");
    false
}

fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).chain(["/usr/sbin".into()]).any(|d| d.join(prog).exists()))
        .unwrap_or(false)
}

#[test]
fn the_table_reads_back_as_rendered() {
    if !available() || !nft_or_skip() {
        return;
    }
    island(|| {
        let nl = netfilter_socket();
        let fw = firewall();
        let (bytes, seqs) = fw.batch(1).finish();
        transact(nl.as_fd(), &bytes, &seqs).expect("the kernel takes the batch");
        assert_eq!(nft(&["list", "ruleset"]), fw.render());
        // The same batch again: the table exists, nothing changes, the
        // error names it.
        let (bytes, seqs) = fw.batch(100).finish();
        assert_eq!(transact(nl.as_fd(), &bytes, &seqs), Err(nix::errno::Errno::EEXIST));
        assert_eq!(nft(&["list", "ruleset"]), fw.render());
    });
}

#[test]
fn elements_carry_their_keys_and_timeouts() {
    if !available() || !nft_or_skip() {
        return;
    }
    island(|| {
        let nl = netfilter_socket();
        let (bytes, seqs) = firewall().batch(1).finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();
        let mut b = netlink::Batch::new(200);
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        add_elements(
            &mut b,
            &Element::for_ports(v4, &Ports::Only(vec![443])),
            Duration::from_secs(90),
            false,
        );
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        add_elements(&mut b, &Element::for_ports(v6, &Ports::Any), Duration::from_secs(2), false);
        let (bytes, seqs) = b.finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();
        let ports4 = nft(&["list", "set", "inet", "sandbox", "ports4"]);
        assert!(ports4.contains("198.51.100.7 . tcp . 443 timeout 1m30s"), "{ports4}");
        assert!(ports4.contains("198.51.100.7 . udp . 443 timeout 1m30s"), "{ports4}");
        let hosts6 = nft(&["list", "set", "inet", "sandbox", "hosts6"]);
        assert!(hosts6.contains("2001:db8::7 timeout 2s"), "{hosts6}");
        // Replaced (deleted and added in one batch) with a longer time.
        let mut b = netlink::Batch::new(300);
        add_elements(&mut b, &Element::for_ports(v6, &Ports::Any), Duration::from_secs(60), true);
        let (bytes, seqs) = b.finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();
        let hosts6 = nft(&["list", "set", "inet", "sandbox", "hosts6"]);
        assert!(hosts6.contains("2001:db8::7 timeout 1m"), "{hosts6}");
        // A short one expires.
        let mut b = netlink::Batch::new(400);
        let gone: IpAddr = "198.51.100.9".parse().unwrap();
        add_elements(&mut b, &Element::for_ports(gone, &Ports::Any), Duration::from_millis(500), false);
        let (bytes, seqs) = b.finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();
        assert!(
            wait_for(5.0, || !nft(&["list", "set", "inet", "sandbox", "hosts4"]).contains("198.51.100.9"))
        );
    });
}

/// A TCP connection or a datagram to an address nothing allowed is
/// refused at once, and its packet is logged to the NFLOG group; an
/// allowed one goes out (here into the island's dead end).
#[test]
fn refusals_are_immediate_and_logged() {
    if !available() {
        return;
    }
    island(|| {
        let nl = netfilter_socket();
        let (bytes, seqs) = firewall().batch(1).finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();
        let log = netfilter_socket();
        for (req, seq) in nflog::bind_requests(LOG_GROUP, SNAPLEN, 10) {
            transact(log.as_fd(), &req, &[seq]).expect("bind the NFLOG group");
        }
        let mut b = netlink::Batch::new(20);
        let allowed: IpAddr = "198.51.100.7".parse().unwrap();
        add_elements(
            &mut b,
            &Element::for_ports(allowed, &Ports::Only(vec![443])),
            Duration::from_secs(60),
            false,
        );
        let (bytes, seqs) = b.finish();
        transact(nl.as_fd(), &bytes, &seqs).unwrap();

        let start = Instant::now();
        let err = TcpStream::connect_timeout(&"198.51.100.8:80".parse().unwrap(), Duration::from_secs(5))
            .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
        assert!(took < Duration::from_secs(2), "took {took:?}");
        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        let err = udp.send_to(b"x", "198.51.100.8:53").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        // Allowed on 443 only: 80 is refused, 443 goes out (no answer
        // comes from the dead end, so the connect times out instead).
        let err = TcpStream::connect_timeout(&"198.51.100.7:80".parse().unwrap(), Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        let err =
            TcpStream::connect_timeout(&"198.51.100.7:443".parse().unwrap(), Duration::from_millis(300))
                .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        // Loopback is not filtered.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        TcpStream::connect(l.local_addr().unwrap()).expect("loopback");

        let got = read_log(&log, 3);
        let seen: Vec<(String, String, Option<u16>)> =
            got.iter().map(|r| (r.addr.to_string(), r.proto_name(), r.port)).collect();
        assert_eq!(
            seen,
            vec![
                ("198.51.100.8".into(), "tcp".into(), Some(80)),
                ("198.51.100.8".into(), "udp".into(), Some(53)),
                ("198.51.100.7".into(), "tcp".into(), Some(80)),
            ]
        );
        assert!(got.iter().all(|r| r.prefix == "sandbox-refused"));
    });
}

/// The first `n` refused packets logged on `log` (5 s at most).
fn read_log(log: &OwnedFd, n: usize) -> Vec<nflog::Refused> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 65536];
    while got.len() < n && Instant::now() < end {
        let mut fds = [PollFd::new(log.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(500u16)).unwrap_or(0) == 0 {
            continue;
        }
        let len = nix::sys::socket::recv(
            std::os::fd::AsRawFd::as_raw_fd(log),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        got.extend(messages(&buf[..len]).iter().filter_map(|m| nflog::parse(m.ty, m.body)));
    }
    got
}
