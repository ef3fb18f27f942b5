//! Egress filtering at run time, on threads of the monitor: the DNS filter
//! (UDP and TCP, on sockets made inside the sandbox's network namespace
//! and listening at the address its resolv.conf names), the set updates
//! through the netlink socket that holds CAP_NET_ADMIN there, and the
//! reader of the refused packets the firewall logs to NFLOG.
//!
//! An allowed answer reaches the command only after the kernel has taken
//! its addresses, so a connect right after the lookup never races the
//! update. A refusal is written to the report before it is answered.
//! Queries go to the host's resolvers from the monitor, in the host's
//! network namespace: the sandbox itself reaches no resolver but this one.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;

use super::dns::{self, Verdict, RCODE_SERVFAIL};
use super::grants::{Grants, Update};
use super::limit::Limiter;
use super::netlink::{messages, transact, Batch};
use super::nflog;
use super::pattern::{AddrRule, HostPattern, Ports};
use super::report::{line, Event};
use super::ruleset::add_elements;

/// Queries answered at the same time, at most; more get SERVFAIL.
const MAX_BUSY: usize = 64;
/// Time for all the resolvers together to answer one query.
const ASK_BUDGET: Duration = Duration::from_secs(4);
/// How long a TCP client may stay silent.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// What the filter allows and where it asks.
#[derive(Debug, Clone)]
pub struct Config {
    pub hosts: Vec<HostPattern>,
    pub addrs: Vec<AddrRule>,
    /// The host's resolvers.
    pub upstreams: Vec<SocketAddr>,
    /// The shortest time an answer keeps an address reachable.
    pub floor: Duration,
}

/// The descriptors made inside the sandbox's network namespace.
pub struct Sockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
    /// NETLINK_NETFILTER, for the set updates.
    pub nft: OwnedFd,
    /// NETLINK_NETFILTER, bound to the NFLOG group.
    pub log: OwnedFd,
}

/// Where the report goes; a write error (the reader went away) ends it.
/// Refusals go through the [`Limiter`].
#[derive(Clone, Default)]
pub struct Report(Arc<Mutex<ReportTo>>);

#[derive(Default)]
struct ReportTo {
    out: Option<std::fs::File>,
    limit: Limiter,
}

impl Report {
    pub fn new(out: Option<std::fs::File>) -> Report {
        Report(Arc::new(Mutex::new(ReportTo { out, limit: Limiter::default() })))
    }

    pub fn event(&self, e: &Event) {
        let mut to = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if to.out.is_none() {
            return;
        }
        let (write, summary) = to.limit.admit(e, Instant::now());
        let events = summary.iter().chain(write.then_some(e));
        to.write(events);
    }

    /// The counts of refusals not yet written; before the exit line.
    pub fn summarize(&self) {
        let mut to = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if to.out.is_some() {
            let events = to.limit.drain(Instant::now());
            to.write(events.iter());
        }
    }
}

impl ReportTo {
    fn write<'a>(&mut self, events: impl Iterator<Item = &'a Event>) {
        let text: String = events.map(|e| line(SystemTime::now(), e)).collect();
        if let Some(f) = self.out.as_mut() {
            if f.write_all(text.as_bytes()).is_err() {
                self.out = None;
            }
        }
    }
}

struct Nft {
    fd: OwnedFd,
    seq: u32,
    grants: Grants,
}

struct Shared {
    cfg: Config,
    nft: Mutex<Nft>,
    report: Report,
    busy: AtomicUsize,
}

/// Starts the filter's threads; they run as long as the monitor does.
pub fn start(cfg: Config, socks: Sockets, report: Report) -> std::io::Result<()> {
    let Sockets { udp, tcp, nft, log } = socks;
    let shared = Arc::new(Shared {
        cfg,
        nft: Mutex::new(Nft { fd: nft, seq: 1000, grants: Grants::default() }),
        report,
        busy: AtomicUsize::new(0),
    });
    let udp = Arc::new(udp);
    let s = shared.clone();
    std::thread::Builder::new().name("egress-dns-udp".into()).spawn(move || udp_loop(&s, &udp))?;
    let s = shared.clone();
    std::thread::Builder::new().name("egress-dns-tcp".into()).spawn(move || tcp_loop(&s, &tcp))?;
    std::thread::Builder::new().name("egress-log".into()).spawn(move || log_loop(&shared, &log))?;
    Ok(())
}

fn udp_loop(s: &Arc<Shared>, udp: &Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match udp.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let query = buf[..n].to_vec();
        let verdict = dns::decide(&query, &s.cfg.hosts);
        if let Verdict::Forward { .. } = verdict {
            let Some(guard) = Busy::enter(s) else {
                let _ = dns::refusal(&query, RCODE_SERVFAIL).map(|r| udp.send_to(&r, from));
                continue;
            };
            let (s, udp) = (s.clone(), udp.clone());
            let spawned = std::thread::Builder::new().name("egress-dns".into()).spawn(move || {
                let _guard = guard;
                if let Some(r) = s.answer(&query, verdict, false) {
                    let _ = udp.send_to(&r, from);
                }
            });
            drop(spawned);
        } else if let Some(r) = s.answer(&query, verdict, false) {
            let _ = udp.send_to(&r, from);
        }
    }
}

fn tcp_loop(s: &Arc<Shared>, tcp: &TcpListener) {
    loop {
        let conn = match tcp.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let Some(guard) = Busy::enter(s) else { continue };
        let s = s.clone();
        let spawned = std::thread::Builder::new().name("egress-dns-tcp".into()).spawn(move || {
            let _guard = guard;
            serve_tcp(&s, conn);
        });
        drop(spawned);
    }
}

/// One TCP client: length-prefixed queries until it closes or idles.
fn serve_tcp(s: &Shared, mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(TCP_IDLE));
    let _ = conn.set_write_timeout(Some(TCP_IDLE));
    loop {
        let Some(query) = read_framed(&mut conn) else { return };
        let verdict = dns::decide(&query, &s.cfg.hosts);
        let Some(r) = s.answer(&query, verdict, true) else { return };
        let mut framed = (r.len() as u16).to_be_bytes().to_vec();
        framed.extend(r);
        if conn.write_all(&framed).is_err() {
            return;
        }
    }
}

fn read_framed(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    conn.read_exact(&mut msg).ok()?;
    Some(msg)
}

/// A slot among the [`MAX_BUSY`] queries in flight.
struct Busy(Arc<Shared>);

impl Busy {
    fn enter(s: &Arc<Shared>) -> Option<Busy> {
        if s.busy.fetch_add(1, Ordering::SeqCst) >= MAX_BUSY {
            s.busy.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Busy(s.clone()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// The answer to one message (none: it gets no answer).
    fn answer(&self, query: &[u8], verdict: Verdict, tcp: bool) -> Option<Vec<u8>> {
        match verdict {
            Verdict::Ignore => None,
            Verdict::Refuse { name, qtype, rcode, why } => {
                let (rule, reason) = (why.id(), why.reason());
                self.report.event(&Event::NameRefused { name, qtype: dns::type_name(qtype), rule, reason });
                dns::refusal(query, rcode)
            }
            Verdict::Forward { name, qtype, ports, rule } => {
                let servfail = || dns::refusal(query, RCODE_SERVFAIL);
                let Some(resp) = ask(&self.cfg.upstreams, query, tcp) else { return servfail() };
                let Ok(answer) = dns::read_answer(query, &resp) else { return servfail() };
                if answer.addrs.is_empty() {
                    return Some(resp);
                }
                match self.allow(&answer.addrs, &ports, &name) {
                    Ok(ttl) => {
                        let addresses = answer.addrs.iter().map(|(a, _)| a.to_string()).collect();
                        let rule = rule.to_string();
                        self.report.event(&Event::NameAllowed {
                            name,
                            qtype: dns::type_name(qtype),
                            rule,
                            addresses,
                            ttl,
                        });
                        Some(resp)
                    }
                    Err(e) => {
                        eprintln!("sandbox: egress: allowing the addresses of {name}: {}", e.desc());
                        servfail()
                    }
                }
            }
        }
    }

    /// Makes `addrs` reachable on `ports`; the shortest lifetime given, in
    /// seconds.
    fn allow(&self, addrs: &[(IpAddr, u32)], ports: &Ports, name: &str) -> Result<u64, Errno> {
        let mut nft = self.nft.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut updates: Vec<Update> = Vec::new();
        let mut shortest = u64::MAX;
        for &(addr, ttl) in addrs {
            let life = dns::lifetime(ttl, self.cfg.floor);
            shortest = shortest.min(life.as_secs());
            updates.extend(nft.grants.grant(now, addr, ports, life, name));
        }
        if updates.is_empty() {
            return Ok(shortest);
        }
        let mut result = nft.send(&updates, true);
        if result == Err(Errno::ENOENT) {
            // A renewed element the kernel had already dropped: add it.
            result = nft.send(&updates, false);
        }
        if result.is_err() {
            updates.iter().for_each(|u| nft.grants.forget(u));
        }
        result.map(|()| shortest)
    }
}

impl Nft {
    fn send(&mut self, updates: &[Update], replace: bool) -> Result<(), Errno> {
        let mut b = Batch::new(self.seq);
        for u in updates {
            add_elements(&mut b, &u.elems, u.timeout, u.replace && replace);
        }
        let (bytes, seqs) = b.finish();
        self.seq = self.seq.wrapping_add(seqs.len() as u32 + 2);
        transact(self.fd.as_fd(), &bytes, &seqs)
    }
}

/// The resolvers' answer to `query`, over TCP or UDP (the first valid one).
fn ask(upstreams: &[SocketAddr], query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let each = (ASK_BUDGET / upstreams.len().max(1) as u32).max(Duration::from_secs(1));
    upstreams.iter().find_map(|up| match tcp {
        true => ask_tcp(*up, query, each),
        false => ask_udp(*up, query, each),
    })
}

fn ask_udp(up: SocketAddr, query: &[u8], within: Duration) -> Option<Vec<u8>> {
    let any: SocketAddr = if up.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
    let sock = UdpSocket::bind(any).ok()?;
    sock.connect(up).ok()?;
    sock.send(query).ok()?;
    let end = Instant::now() + within;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv(&mut buf) {
            // Anything that is not the answer to this question (a late or
            // forged datagram) is skipped.
            Ok(n) if dns::read_answer(query, &buf[..n]).is_ok() => return Some(buf[..n].to_vec()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn ask_tcp(up: SocketAddr, query: &[u8], within: Duration) -> Option<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&up, within).ok()?;
    conn.set_read_timeout(Some(within)).ok()?;
    conn.set_write_timeout(Some(within)).ok()?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend(query);
    conn.write_all(&framed).ok()?;
    read_framed(&mut conn).filter(|r| dns::read_answer(query, r).is_ok())
}

fn log_loop(s: &Shared, log: &OwnedFd) {
    use nix::sys::socket::{recv, MsgFlags};
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match recv(std::os::fd::AsRawFd::as_raw_fd(log), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            // Packets came faster than they were read: some are not reported.
            Err(Errno::EINTR | Errno::ENOBUFS) => continue,
            Err(_) => return,
        };
        for m in messages(&buf[..n]) {
            let Some(r) = nflog::parse(m.ty, m.body) else { continue };
            let why = {
                let nft = s.nft.lock().unwrap_or_else(|p| p.into_inner());
                nft.grants.why(Instant::now(), &r, &s.cfg.addrs)
            };
            s.report.event(&Event::ConnectionRefused {
                address: r.addr.to_string(),
                port: r.port,
                protocol: r.proto_name(),
                rule: why.rule,
                reason: why.reason,
                name: why.name,
                ports: why.ports,
            });
        }
    }
}

/// The resolvers of a resolv.conf (`nameserver` lines, at most three as
/// glibc reads them); the local one when it names none.
pub fn upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .take(3)
        .collect();
    if out.is_empty() {
        out.push("127.0.0.1:53".parse().expect("an address"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_of_a_resolv_conf() {
        let conf = "# x\nsearch example.org\nnameserver 127.0.0.53\nnameserver  2001:db8::53 \n\
                    nameserver fe80::1%eth0\noptions edns0\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n";
        let got: Vec<String> = upstreams(conf).iter().map(|a| a.to_string()).collect();
        assert_eq!(got, vec!["127.0.0.53:53", "[2001:db8::53]:53", "192.0.2.1:53"]);
        assert_eq!(upstreams("")[0].to_string(), "127.0.0.1:53");
    }
}
