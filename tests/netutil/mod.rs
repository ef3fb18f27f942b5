//! An isolated "host" for network tests, so that no packet leaves the machine
//! and parallel tests never share a port.
//!
//! [`island`] runs a test body on a thread of its own that has first
//! unshared its network and mount namespaces (root only). The island has
//! `lo` and an "uplink" `up0` (a tap device nobody reads: whatever is routed
//! out of it is dropped) with 192.0.2.2/24 and a default route via
//! 192.0.2.1, so pasta finds the host addresses and routes it copies; and an
//! /etc/resolv.conf, bound over the real one in the island's own mount
//! namespace, naming the island's DNS responder on 127.0.0.1. Every process
//! the body starts (the sandbox, pasta, slirp4netns) inherits all of it.

#![allow(dead_code)]

pub mod rulesets;
pub mod world;
pub mod zone;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The island's own address and its (unreachable) gateway.
pub const HOST_ADDR: &str = "192.0.2.2";
pub const GATEWAY: &str = "192.0.2.1";
/// The name the island's DNS responder knows, and its answer.
pub const DNS_NAME: &str = "service.sandbox-test.example";
pub const DNS_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// Whether islands can be built here: the tests must run as root. A skip
/// when not (a failure under CI=true).
pub fn available() -> bool {
    crate::common::root_or_skip("building an isolated network namespace")
}

/// Runs `body` on a fresh thread inside a new island; panics propagate.
pub fn island<F: FnOnce() + Send + 'static>(body: F) {
    let t = std::thread::spawn(move || {
        let _resolv = build_island();
        body();
    });
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

pub fn ip(args: &[&str]) {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    assert!(crate::common::status(&mut cmd).success(), "ip {}", args.join(" "));
}

/// Builds the island; the returned file is its resolv.conf, which must
/// outlive every mount on it (the kernel refuses to mount over a deleted one).
fn build_island() -> tempfile::TempPath {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).expect("unshare net and mount (root)");
    rulesets::assert_off_host();
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
        .expect("make / rslave");
    ip(&["link", "set", "lo", "up"]);
    ip(&["tuntap", "add", "dev", "up0", "mode", "tap"]);
    ip(&["addr", "add", &format!("{HOST_ADDR}/24"), "dev", "up0"]);
    ip(&["link", "set", "up0", "up"]);
    ip(&["route", "add", "default", "via", GATEWAY, "dev", "up0"]);
    bind_resolv()
}

/// Binds a resolv.conf naming 127.0.0.1 over /etc/resolv.conf in the
/// calling thread's mount namespace; the file must outlive every mount on
/// it (the kernel refuses to mount over a deleted one).
pub fn bind_resolv() -> tempfile::TempPath {
    use nix::mount::{mount, MsFlags};
    let resolv = tempfile::Builder::new().prefix("sandbox-test-resolv-").tempfile().unwrap().into_temp_path();
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    std::fs::set_permissions(
        &resolv,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644),
    )
    .unwrap();
    mount(Some(&*resolv), "/etc/resolv.conf", None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .expect("bind the island's resolv.conf");
    resolv
}

/// A TCP service on the island's 127.0.0.1 that greets each client with
/// `greeting` and counts them.
pub struct Service {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
}

impl Service {
    pub fn start(greeting: &str) -> Service {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (count, greeting) = (accepted.clone(), format!("{greeting}\n"));
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = c.write_all(greeting.as_bytes());
            }
        });
        Service { port, accepted }
    }

    pub fn clients(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The island's DNS responder on 127.0.0.1:53: [`DNS_NAME`] has the A
/// record [`DNS_ANSWER`] and no AAAA; every other name is NXDOMAIN.
pub struct Dns {
    pub queries: Arc<AtomicUsize>,
}

impl Dns {
    pub fn start() -> Dns {
        let sock = UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53 on the island");
        let queries = Arc::new(AtomicUsize::new(0));
        let count = queries.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                count.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = dns_reply(&buf[..n]) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        });
        Dns { queries }
    }

    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

/// The answer to one query (RFC 1035 wire format, one question).
fn dns_reply(q: &[u8]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let (mut at, mut labels) = (12, Vec::new());
    while *q.get(at)? != 0 {
        let len = q[at] as usize;
        labels.push(String::from_utf8_lossy(q.get(at + 1..at + 1 + len)?).to_ascii_lowercase());
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*q.get(at + 1)?, *q.get(at + 2)?]);
    let question = &q[12..at + 5];
    let known = labels.join(".") == DNS_NAME;
    let answer = known && qtype == 1;
    let rcode = if known { 0 } else { 3 };
    let mut r = vec![q[0], q[1], 0x81, 0x80 | rcode, 0, 1, 0, u8::from(answer), 0, 0, 0, 0];
    r.extend(question);
    if answer {
        r.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend(DNS_ANSWER.octets());
    }
    Some(r)
}

/// Connects to `addr` and reads everything; `None` when the connection is
/// refused, reset or yields nothing.
pub fn fetch(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    (!text.is_empty()).then_some(text)
}

/// Host pids of the children of `parent` whose command starts with the
/// path of a user-mode network backend.
pub fn backends_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:")).map(str::trim);
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv0 = String::from_utf8_lossy(cmd.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
        if ppid == Some(&parent.to_string()) && (argv0.ends_with("/pasta") || argv0.ends_with("/slirp4netns"))
        {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
pub fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_replies() {
        let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in DNS_NAME.split('.') {
            q.push(label.len() as u8);
            q.extend(label.as_bytes());
        }
        q.extend([0, 0, 1, 0, 1]);
        let r = dns_reply(&q).unwrap();
        assert_eq!(&r[..4], &[0xab, 0xcd, 0x81, 0x80]);
        assert_eq!(r[7], 1);
        assert_eq!(&r[r.len() - 4..], &DNS_ANSWER.octets());
        let n = q.len();
        q[n - 3] = 28; // AAAA: the name exists, no such record
        assert_eq!(dns_reply(&q).unwrap()[7], 0);
    }
}
