//! The kernel's audit log, read by root through netlink: audit is enabled
//! while an [`AuditLog`] lives (and put back as it was afterwards), and the
//! records arrive on the read-only multicast group, which needs no auditd
//! and takes nothing from one that runs.

#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

const AUDIT_GET: u16 = 1000;
const AUDIT_SET: u16 = 1001;
const AUDIT_STATUS_ENABLED: u32 = 1;
/// AUDIT_NLGRP_READLOG, as a netlink group bit.
const READLOG_GROUP: u32 = 1;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;

/// One audit record: its type (1423 LANDLOCK_ACCESS, 1424 LANDLOCK_DOMAIN,
/// 1300 SYSCALL, …) and its text.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: u16,
    pub text: String,
}

pub struct AuditLog {
    control: OwnedFd,
    records: OwnedFd,
    was_enabled: bool,
}

fn netlink() -> OwnedFd {
    socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkAudit)
        .expect("netlink audit socket")
}

impl AuditLog {
    /// Enables audit and starts listening (root only).
    pub fn open() -> AuditLog {
        let control = netlink();
        bind(control.as_raw_fd(), &NetlinkAddr::new(0, 0)).expect("bind the audit control socket");
        let records = netlink();
        bind(records.as_raw_fd(), &NetlinkAddr::new(0, READLOG_GROUP)).expect("join AUDIT_NLGRP_READLOG");
        // Until the state is known a drop leaves audit as it is.
        let mut log = AuditLog { was_enabled: true, control, records };
        log.was_enabled = log.enabled();
        log.enable(true);
        log
    }

    /// Whether audit is enabled now (another test on the machine may turn
    /// it off: callers re-enable before what they check).
    pub fn enabled(&self) -> bool {
        self.request(AUDIT_GET, &[], NLM_F_REQUEST);
        let reply = self.reply(AUDIT_GET);
        u32::from_ne_bytes(reply[4..8].try_into().unwrap()) != 0
    }

    pub fn enable(&self, on: bool) {
        let mut status = [0u32; 10];
        status[0] = AUDIT_STATUS_ENABLED;
        status[1] = u32::from(on);
        let payload: Vec<u8> = status.iter().flat_map(|w| w.to_ne_bytes()).collect();
        self.request(AUDIT_SET, &payload, NLM_F_REQUEST | NLM_F_ACK);
        let ack = self.reply(libc::NLMSG_ERROR as u16);
        let errno = i32::from_ne_bytes(ack[0..4].try_into().unwrap());
        assert_eq!(errno, 0, "AUDIT_SET enabled={on}: errno {}", -errno);
    }

    fn request(&self, kind: u16, payload: &[u8], flags: u16) {
        let mut msg = Vec::with_capacity(16 + payload.len());
        msg.extend(((16 + payload.len()) as u32).to_ne_bytes());
        msg.extend(kind.to_ne_bytes());
        msg.extend(flags.to_ne_bytes());
        msg.extend(1u32.to_ne_bytes());
        msg.extend(0u32.to_ne_bytes());
        msg.extend(payload);
        send(self.control.as_raw_fd(), &msg, MsgFlags::empty()).expect("send to the audit socket");
    }

    /// The payload of the next message of type `kind` on the control socket.
    fn reply(&self, kind: u16) -> Vec<u8> {
        let timeout = TimeVal::new(5, 0);
        setsockopt(&self.control, sockopt::ReceiveTimeout, &timeout).expect("SO_RCVTIMEO");
        let mut buf = vec![0u8; 8192];
        loop {
            let n = recv(self.control.as_raw_fd(), &mut buf, MsgFlags::empty()).expect("audit reply");
            for (k, payload) in messages(&buf[..n]) {
                if k == kind {
                    return payload.to_vec();
                }
            }
        }
    }

    /// The records that arrive within `within`, until `done` says enough.
    pub fn records_until(&self, within: Duration, mut done: impl FnMut(&[Record]) -> bool) -> Vec<Record> {
        let end = Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while !done(&got) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let tv = TimeVal::new(left.as_secs() as i64, left.subsec_micros().max(1000) as i64);
            setsockopt(&self.records, sockopt::ReceiveTimeout, &tv).expect("SO_RCVTIMEO");
            let Ok(n) = recv(self.records.as_raw_fd(), &mut buf, MsgFlags::empty()) else { continue };
            for (kind, payload) in messages(&buf[..n]) {
                let text = String::from_utf8_lossy(payload).trim_end_matches('\0').to_string();
                got.push(Record { kind, text });
            }
        }
        got
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if !self.was_enabled {
            self.enable(false);
        }
    }
}

/// The (type, payload) of each netlink message in `buf`.
fn messages(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(buf[4..6].try_into().unwrap());
        if len < 16 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[16..len]));
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}
