//! The refused packets, as NFLOG delivers them (nfnetlink_log): the
//! firewall's `log group` rule copies the head of each packet it is about
//! to reject to the netlink socket bound to that group, which the monitor
//! reads. Binding needs CAP_NET_ADMIN over the sandbox's network
//! namespace, so the socket is opened inside by the helper that holds it;
//! the command cannot bind one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netlink::{attrs, request, NFNL_SUBSYS_ULOG};

const NFULNL_MSG_PACKET: u16 = 0;
const NFULNL_MSG_CONFIG: u16 = 1;
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_QTHRESH: u16 = 5;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
#[cfg(test)]
const NFULA_PACKET_HDR: u16 = 1;
const NFULA_PAYLOAD: u16 = 9;
const NFULA_PREFIX: u16 = 10;

/// The requests that bind `group` to the socket and ask for the first
/// `range` bytes of each packet, each packet sent as it comes (the
/// kernel's default holds up to 100 packets for up to a second), with
/// their sequence numbers from `seq`.
pub fn bind_requests(group: u16, range: u32, seq: u32) -> Vec<(Vec<u8>, u32)> {
    let bind = request(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, seq, group, |m| {
        m.attr(NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND]);
    });
    let mut mode = range.to_be_bytes().to_vec();
    mode.extend([NFULNL_COPY_PACKET, 0]);
    let copy = request(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, seq + 1, group, |m| {
        m.attr(NFULA_CFG_MODE, &mode).be32(NFULA_CFG_QTHRESH, 1);
    });
    vec![(bind, seq), (copy, seq + 1)]
}

/// One refused packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub addr: IpAddr,
    /// Transport protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    pub proto: u8,
    /// Destination port, for TCP, UDP, UDP-Lite, SCTP and DCCP.
    pub port: Option<u16>,
    /// The log rule's prefix.
    pub prefix: String,
}

impl Refused {
    /// The protocol's name in the report.
    pub fn proto_name(&self) -> String {
        match self.proto {
            1 => "icmp".into(),
            6 => "tcp".into(),
            17 => "udp".into(),
            58 => "icmpv6".into(),
            132 => "sctp".into(),
            n => n.to_string(),
        }
    }
}

/// Reads one nfnetlink message body (after the netlink header) of type
/// `ty`; `None` unless it is an NFLOG packet with a readable IP header.
pub fn parse(ty: u16, body: &[u8]) -> Option<Refused> {
    if ty != (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET {
        return None;
    }
    let (mut payload, mut prefix) = (None, String::new());
    for (t, v) in attrs(body, 4) {
        match t {
            NFULA_PAYLOAD => payload = Some(v),
            NFULA_PREFIX => prefix = String::from_utf8_lossy(v.split(|&b| b == 0).next().unwrap_or(v)).into(),
            _ => {}
        }
    }
    let (addr, proto, l4) = ip_header(payload?)?;
    let port = match proto {
        6 | 17 | 33 | 132 | 136 => l4.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]])),
        _ => None,
    };
    Some(Refused { addr, proto, port, prefix })
}

/// The destination, protocol and transport header of an IPv4 or IPv6
/// packet (IPv6 extension headers skipped).
fn ip_header(p: &[u8]) -> Option<(IpAddr, u8, &[u8])> {
    match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            Some((IpAddr::V4(Ipv4Addr::from(dst)), *p.get(9)?, p.get(ihl.max(20)..).unwrap_or_default()))
        }
        6 => {
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            let (mut next, mut at) = (*p.get(6)?, 40);
            // Hop-by-hop, routing, destination options: 8-byte units after
            // the first 8; fragment: 8 bytes.
            for _ in 0..8 {
                match next {
                    0 | 43 | 60 => {
                        let len = (usize::from(*p.get(at + 1)?) + 1) * 8;
                        next = *p.get(at)?;
                        at += len;
                    }
                    44 => {
                        next = *p.get(at)?;
                        at += 8;
                    }
                    _ => break,
                }
            }
            Some((IpAddr::V6(Ipv6Addr::from(dst)), next, p.get(at..).unwrap_or_default()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::netlink::{messages, Buf};

    /// An NFLOG packet message as the kernel sends it (attributes seen in
    /// a capture: packet header, prefix, uid, gid, payload).
    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut b = Buf::default();
        let at = b.start_msg(NFNL_SUBSYS_ULOG << 8, 0, 0, 2, 1);
        b.attr(NFULA_PACKET_HDR, &[0x08, 0x00, 3, 0]);
        b.attr(NFULA_PREFIX, b"sandbox-refused\0");
        b.attr(11, &0xfffeu32.to_be_bytes());
        b.attr(NFULA_PAYLOAD, payload);
        b.end_msg(at);
        b.bytes
    }

    fn parsed(payload: &[u8]) -> Option<Refused> {
        let bytes = packet(payload);
        let m = &messages(&bytes)[0];
        parse(m.ty, m.body)
    }

    #[test]
    fn a_refused_tcp_connection() {
        // A SYN from 192.0.2.10 to 198.51.100.9:80, as captured.
        let syn = hex("4500003c86c640004006c7aec000020ac6336409c4660050fd17cc6800000000a002faf0ec750000");
        let r = parsed(&syn).unwrap();
        assert_eq!(r.addr, "198.51.100.9".parse::<IpAddr>().unwrap());
        assert_eq!((r.proto, r.port, r.proto_name().as_str()), (6, Some(80), "tcp"));
        assert_eq!(r.prefix, "sandbox-refused");
    }

    #[test]
    fn ipv6_with_an_extension_header_and_icmp() {
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend([0u8; 16]);
        p.extend("2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        p.extend([17, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop, next UDP
        p.extend([0x12, 0x34, 0, 53, 0, 8, 0, 0]);
        let r = parsed(&p).unwrap();
        assert_eq!((r.addr.to_string().as_str(), r.proto, r.port), ("2001:db8::7", 17, Some(53)));
        let mut icmp = hex("45000054000040004001000000000000c6336409");
        icmp.extend([8, 0, 0, 0]);
        let r = parsed(&icmp).unwrap();
        assert_eq!((r.proto_name().as_str(), r.port), ("icmp", None));
    }

    #[test]
    fn scraps_are_ignored() {
        assert_eq!(parsed(&[0x45, 0, 0]), None);
        assert_eq!(parsed(&[]), None);
        assert_eq!(parsed(&[0x70; 40]), None);
        let bytes = packet(&hex("4500003c86c640004006c7aec000020ac6336409"));
        let m = &messages(&bytes)[0];
        assert_eq!(parse(m.ty + 1, m.body), None);
        // A header without the ports: the address still counts.
        assert_eq!(parsed(&hex("4500003c86c640004006c7aec000020ac6336409")).unwrap().port, None);
    }

    #[test]
    fn binding_asks_for_packets() {
        let reqs = bind_requests(1, 128, 7);
        assert_eq!(reqs.iter().map(|r| r.1).collect::<Vec<_>>(), vec![7, 8]);
        let m = &messages(&reqs[1].0)[0];
        assert_eq!(m.ty, 0x401);
        assert_eq!(&m.body[2..4], &1u16.to_be_bytes(), "the group is the res_id");
        let want = vec![(NFULA_CFG_MODE, &[0, 0, 0, 128, 2, 0][..]), (NFULA_CFG_QTHRESH, &[0, 0, 0, 1][..])];
        assert_eq!(attrs(m.body, 4), want);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
