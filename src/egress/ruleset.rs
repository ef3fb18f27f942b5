//! The sandbox's firewall: one nf_tables table in its own network
//! namespace, as netlink messages and as the text `nft list ruleset`
//! prints for it (which `explain` shows and a test compares).
//!
//! ```text
//! table inet sandbox {
//!     set hosts4 { type ipv4_addr; flags timeout; }         addresses of allowed names, any port
//!     set hosts6 { type ipv6_addr; flags timeout; }
//!     set ports4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }   … on some ports
//!     set ports6 { type ipv6_addr . inet_proto . inet_service; flags timeout; }
//!     chain output {
//!         type filter hook output priority filter; policy drop;
//!         oif "lo" accept                                   loopback inside is not filtered
//!         ct state established,related accept              replies, and flows already allowed
//!         icmpv6 type nd-router-solicit accept              IPv6 neighbour discovery and MLD
//!         …
//!         ip daddr @hosts4 accept
//!         ip daddr . meta l4proto . th dport @ports4 accept
//!         …                                                 --allow-addr rules
//!         log prefix "sandbox-refused" group 1 snaplen 128  to the monitor's report
//!         meta l4proto tcp reject with tcp reset            connect() fails at once (ECONNREFUSED)
//!         reject with icmpx admin-prohibited                send() fails at once (EPERM)
//!     }
//! }
//! ```
//!
//! Only the output hook is filtered: whatever comes in is a reply, or
//! reaches a port published on purpose. The DNS filter's answers fill the
//! sets, each element with the lifetime of its record.

use std::net::IpAddr;
use std::time::Duration;

use super::netlink::{Batch, Buf, Kind};
use super::pattern::{AddrRule, Ports};

pub const TABLE: &str = "sandbox";
pub const CHAIN: &str = "output";
pub const LOG_PREFIX: &str = "sandbox-refused";
/// The NFLOG group the refusals are logged to (the namespace is the
/// sandbox's own, so no other reader shares it).
pub const LOG_GROUP: u16 = 1;
/// Bytes of each refused packet copied to the monitor: the IP header and
/// the ports behind it.
pub const SNAPLEN: u32 = 128;

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

/// ICMPv6 types the kernel sends for IPv6 to work at all: router and
/// neighbour solicitations and advertisements, MLD reports.
const ICMPV6_KEPT: [(u8, &str); 5] = [
    (131, "mld-listener-report"),
    (133, "nd-router-solicit"),
    (135, "nd-neighbor-solicit"),
    (136, "nd-neighbor-advert"),
    (143, "mld2-listener-report"),
];

/// The sets that answers fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Hosts4,
    Hosts6,
    Ports4,
    Ports6,
}

const SETS: [Set; 4] = [Set::Hosts4, Set::Hosts6, Set::Ports4, Set::Ports6];

impl Set {
    pub fn name(self) -> &'static str {
        match self {
            Set::Hosts4 => "hosts4",
            Set::Hosts6 => "hosts6",
            Set::Ports4 => "ports4",
            Set::Ports6 => "ports6",
        }
    }

    fn v6(self) -> bool {
        matches!(self, Set::Hosts6 | Set::Ports6)
    }

    fn ports(self) -> bool {
        matches!(self, Set::Ports4 | Set::Ports6)
    }

    /// nft's data type ids (ipv4_addr 7, ipv6_addr 8, inet_proto 12,
    /// inet_service 13), concatenated six bits each.
    fn key_type(self) -> u32 {
        let addr = if self.v6() { 8 } else { 7 };
        if self.ports() {
            (addr << 12) | (12 << 6) | 13
        } else {
            addr
        }
    }

    /// Key length: each field of a concatenation padded to 4 bytes.
    fn key_len(self) -> u32 {
        (if self.v6() { 16 } else { 4 }) + if self.ports() { 8 } else { 0 }
    }

    fn type_text(self) -> &'static str {
        match self {
            Set::Hosts4 => "ipv4_addr",
            Set::Hosts6 => "ipv6_addr",
            Set::Ports4 => "ipv4_addr . inet_proto . inet_service",
            Set::Ports6 => "ipv6_addr . inet_proto . inet_service",
        }
    }
}

/// One rule of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Loopback,
    Established,
    Icmpv6(u8, &'static str),
    InSet(Set),
    /// An `--allow-addr` rule, for one protocol when it has a port.
    Net(AddrRule, Option<u8>),
    Log,
    RejectTcp,
    RejectRest,
}

/// The firewall of one sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firewall {
    /// `--allow-addr` rules, in order, and the addresses the run adds
    /// (the host's loopback through the gateway, when allowed).
    pub addrs: Vec<AddrRule>,
}

impl Firewall {
    pub fn rules(&self) -> Vec<Rule> {
        let mut r = vec![Rule::Loopback, Rule::Established];
        r.extend(ICMPV6_KEPT.iter().map(|&(t, n)| Rule::Icmpv6(t, n)));
        r.extend(SETS.iter().map(|&s| Rule::InSet(s)));
        for a in &self.addrs {
            match a.port {
                None => r.push(Rule::Net(*a, None)),
                Some(_) => r.extend([PROTO_TCP, PROTO_UDP].map(|p| Rule::Net(*a, Some(p)))),
            }
        }
        r.extend([Rule::Log, Rule::RejectTcp, Rule::RejectRest]);
        r
    }

    /// The batch that creates the whole table.
    pub fn batch(&self, seq: u32) -> Batch {
        let mut b = Batch::new(seq);
        b.msg(Kind::NewTable, true, |m| {
            m.str(1, TABLE).be32(2, 0);
        });
        for (i, s) in SETS.iter().enumerate() {
            b.msg(Kind::NewSet, true, |m| {
                m.str(1, TABLE)
                    .str(2, s.name())
                    .be32(3, SET_TIMEOUT)
                    .be32(4, s.key_type())
                    .be32(5, s.key_len());
                m.be32(10, i as u32 + 1);
            });
        }
        b.msg(Kind::NewChain, true, |m| {
            m.str(1, TABLE).str(3, CHAIN);
            let hook = m.nest(4);
            m.be32(1, NF_INET_LOCAL_OUT).be32(2, 0);
            m.end_nest(hook);
            m.be32(5, NF_DROP).str(7, "filter");
        });
        for rule in self.rules() {
            b.msg(Kind::NewRule, true, |m| {
                m.str(1, TABLE).str(2, CHAIN);
                let list = m.nest(4);
                encode(m, &rule);
                m.end_nest(list);
            });
        }
        b
    }

    /// The table as `nft list ruleset` prints it (sets empty).
    pub fn render(&self) -> String {
        let mut out = format!("table inet {TABLE} {{\n");
        for s in SETS {
            out.push_str(&format!(
                "\tset {} {{\n\t\ttype {}\n\t\tflags timeout\n\t}}\n\n",
                s.name(),
                s.type_text()
            ));
        }
        out.push_str(&format!(
            "\tchain {CHAIN} {{\n\t\ttype filter hook output priority filter; policy drop;\n"
        ));
        for r in self.rules() {
            out.push_str(&format!("\t\t{}\n", text(&r)));
        }
        out.push_str("\t}\n}\n");
        out
    }
}

const SET_TIMEOUT: u32 = 0x10;
const NF_INET_LOCAL_OUT: u32 = 3;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;

/// The rule in nft's words.
fn text(r: &Rule) -> String {
    match r {
        Rule::Loopback => "oif \"lo\" accept".into(),
        Rule::Established => "ct state established,related accept".into(),
        Rule::Icmpv6(_, name) => format!("icmpv6 type {name} accept"),
        Rule::InSet(s) => {
            let ip = if s.v6() { "ip6" } else { "ip" };
            match s.ports() {
                false => format!("{ip} daddr @{} accept", s.name()),
                true => format!("{ip} daddr . meta l4proto . th dport @{} accept", s.name()),
            }
        }
        Rule::Net(a, proto) => {
            let ip = if a.addr.is_ipv4() { "ip" } else { "ip6" };
            let full = if a.addr.is_ipv4() { 32 } else { 128 };
            let mut t = match a.prefix {
                p if p == full => format!("{ip} daddr {}", a.addr),
                p => format!("{ip} daddr {}/{p}", a.addr),
            };
            if let (Some(p), Some(port)) = (proto, a.port) {
                let name = if *p == PROTO_TCP { "tcp" } else { "udp" };
                t.push_str(&format!(" {name} dport {port}"));
            }
            t + " accept"
        }
        Rule::Log => format!("log prefix \"{LOG_PREFIX}\" group {LOG_GROUP} snaplen {SNAPLEN}"),
        Rule::RejectTcp => "meta l4proto tcp reject with tcp reset".into(),
        Rule::RejectRest => "reject with icmpx admin-prohibited".into(),
    }
}

// Expressions, as nft itself encodes each rule (so that `nft list`
// prints them back as written above).

fn expr(m: &mut Buf, name: &str, body: impl FnOnce(&mut Buf)) {
    let e = m.nest(1);
    m.str(1, name);
    let d = m.nest(2);
    body(m);
    m.end_nest(d);
    m.end_nest(e);
}

fn data(m: &mut Buf, ty: u16, bytes: &[u8]) {
    let n = m.nest(ty);
    m.attr(1, bytes);
    m.end_nest(n);
}

const REG_VERDICT: u32 = 0;
const REG_1: u32 = 1;
const META_OIF: u32 = 5;
const META_NFPROTO: u32 = 15;
const META_L4PROTO: u32 = 16;
const BASE_NETWORK: u32 = 1;
const BASE_TRANSPORT: u32 = 2;

fn meta(m: &mut Buf, key: u32, dreg: u32) {
    expr(m, "meta", |m| {
        m.be32(1, dreg).be32(2, key);
    });
}

fn cmp(m: &mut Buf, op: u32, value: &[u8]) {
    expr(m, "cmp", |m| {
        m.be32(1, REG_1).be32(2, op);
        data(m, 3, value);
    });
}

fn payload(m: &mut Buf, base: u32, offset: u32, len: u32, dreg: u32) {
    expr(m, "payload", |m| {
        m.be32(1, dreg).be32(2, base).be32(3, offset).be32(4, len);
    });
}

fn verdict(m: &mut Buf, code: u32) {
    expr(m, "immediate", |m| {
        m.be32(1, REG_VERDICT);
        let d = m.nest(2);
        let v = m.nest(2);
        m.be32(1, code);
        m.end_nest(v);
        m.end_nest(d);
    });
}

fn nfproto(m: &mut Buf, v6: bool) {
    meta(m, META_NFPROTO, REG_1);
    cmp(m, 0, &[if v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 }]);
}

fn l4proto(m: &mut Buf, proto: u8) {
    meta(m, META_L4PROTO, REG_1);
    cmp(m, 0, &[proto]);
}

/// `ip daddr NET` / `ip6 daddr NET`: whole bytes compared, a mask for a
/// prefix that ends inside a byte.
fn daddr(m: &mut Buf, a: &AddrRule) {
    let (bytes, offset) = match a.addr {
        IpAddr::V4(ip) => (ip.octets().to_vec(), 16),
        IpAddr::V6(ip) => (ip.octets().to_vec(), 24),
    };
    nfproto(m, a.addr.is_ipv6());
    let p = usize::from(a.prefix);
    if p % 8 == 0 && p > 0 {
        payload(m, BASE_NETWORK, offset, (p / 8) as u32, REG_1);
        cmp(m, 0, &bytes[..p / 8]);
        return;
    }
    let len = bytes.len();
    let mask: Vec<u8> = (0..len).map(|i| (0xffu16 << (8 - p.saturating_sub(i * 8).min(8))) as u8).collect();
    payload(m, BASE_NETWORK, offset, len as u32, REG_1);
    expr(m, "bitwise", |m| {
        m.be32(1, REG_1).be32(2, REG_1).be32(3, len as u32);
        data(m, 4, &mask);
        data(m, 5, &vec![0; len]);
    });
    cmp(m, 0, &bytes);
}

fn encode(m: &mut Buf, r: &Rule) {
    match r {
        Rule::Loopback => {
            meta(m, META_OIF, REG_1);
            cmp(m, 0, &1u32.to_ne_bytes());
        }
        Rule::Established => {
            expr(m, "ct", |m| {
                m.be32(1, REG_1).be32(2, 0);
            });
            expr(m, "bitwise", |m| {
                m.be32(1, REG_1).be32(2, REG_1).be32(3, 4);
                data(m, 4, &6u32.to_ne_bytes());
                data(m, 5, &0u32.to_ne_bytes());
            });
            cmp(m, 1, &0u32.to_ne_bytes());
        }
        Rule::Icmpv6(t, _) => {
            l4proto(m, PROTO_ICMPV6);
            payload(m, BASE_TRANSPORT, 0, 1, REG_1);
            cmp(m, 0, &[*t]);
        }
        Rule::InSet(s) => {
            nfproto(m, s.v6());
            let (offset, len) = if s.v6() { (24, 16) } else { (16, 4) };
            payload(m, BASE_NETWORK, offset, len, REG_1);
            if s.ports() {
                // The next 32-bit registers after the address: 9 and 10
                // after an IPv4 one, 2 (the second 128-bit one) and 13
                // after an IPv6 one.
                let (proto_reg, port_reg) = if s.v6() { (2, 13) } else { (9, 10) };
                meta(m, META_L4PROTO, proto_reg);
                payload(m, BASE_TRANSPORT, 2, 2, port_reg);
            }
            expr(m, "lookup", |m| {
                m.str(1, s.name()).be32(2, REG_1);
            });
        }
        Rule::Net(a, proto) => {
            daddr(m, a);
            if let (Some(p), Some(port)) = (proto, a.port) {
                l4proto(m, *p);
                payload(m, BASE_TRANSPORT, 2, 2, REG_1);
                cmp(m, 0, &port.to_be_bytes());
            }
        }
        Rule::Log => expr(m, "log", |m| {
            m.attr(1, &LOG_GROUP.to_be_bytes()).str(2, LOG_PREFIX).be32(3, SNAPLEN);
        }),
        Rule::RejectTcp => {
            l4proto(m, PROTO_TCP);
            expr(m, "reject", |m| {
                m.be32(1, 1).attr(2, &[0]);
            });
        }
        Rule::RejectRest => expr(m, "reject", |m| {
            m.be32(1, 2).attr(2, &[3]);
        }),
    }
    if !matches!(r, Rule::Log | Rule::RejectTcp | Rule::RejectRest) {
        verdict(m, NF_ACCEPT);
    }
}

/// One address made reachable by an answer, on some ports or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub addr: IpAddr,
    /// (protocol, port); none: every port and protocol.
    pub port: Option<(u8, u16)>,
}

impl Element {
    /// The elements that grant `ports` on `addr`.
    pub fn for_ports(addr: IpAddr, ports: &Ports) -> Vec<Element> {
        match ports {
            Ports::Any => vec![Element { addr, port: None }],
            Ports::Only(list) => list
                .iter()
                .flat_map(|&p| [PROTO_TCP, PROTO_UDP].map(|proto| Element { addr, port: Some((proto, p)) }))
                .collect(),
        }
    }

    pub fn set(&self) -> Set {
        match (self.addr.is_ipv6(), self.port.is_some()) {
            (false, false) => Set::Hosts4,
            (true, false) => Set::Hosts6,
            (false, true) => Set::Ports4,
            (true, true) => Set::Ports6,
        }
    }

    /// The set key: each field padded to 4 bytes.
    pub fn key(&self) -> Vec<u8> {
        let mut k = match self.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        if let Some((proto, port)) = self.port {
            k.extend([proto, 0, 0, 0]);
            k.extend(port.to_be_bytes());
            k.extend([0, 0]);
        }
        k
    }
}

/// Adds `elems` to their sets, each for `timeout`; with `replace`, each is
/// deleted first in the same batch (an element that is already there
/// keeps its old expiry on kernels before Linux 6.10 otherwise).
pub fn add_elements(b: &mut Batch, elems: &[Element], timeout: Duration, replace: bool) {
    for e in elems {
        let one = |m: &mut Buf, timeout: Option<Duration>| {
            m.str(1, TABLE).str(2, e.set().name());
            let list = m.nest(3);
            let el = m.nest(1);
            data(m, 1, &e.key());
            if let Some(t) = timeout {
                m.be64(4, t.as_millis().min(u128::from(u64::MAX)) as u64);
            }
            m.end_nest(el);
            m.end_nest(list);
        };
        if replace {
            b.msg(Kind::DelSetElem, false, |m| one(m, None));
        }
        b.msg(Kind::NewSetElem, true, |m| one(m, Some(timeout)));
    }
}

#[cfg(test)]
mod tests;
