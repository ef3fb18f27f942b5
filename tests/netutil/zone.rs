//! Test servers for the egress tests, on an island: a DNS responder that
//! serves a small zone over UDP and TCP, a TCP service that greets, a UDP
//! service that echoes. Written independently of the sandbox's own DNS
//! code, so that each checks the other.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};

/// One record of the zone.
#[derive(Debug, Clone)]
pub enum Rr {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(&'static str),
}

/// A responder serving `records` (name, TTL, record) at an address, on UDP
/// and TCP; every name it is asked about is recorded in `asked`.
pub struct Zone {
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl Zone {
    pub fn start(addr: &str, records: Vec<(&'static str, u32, Rr)>) -> Zone {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let records = Arc::new(records);
        let udp = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}/udp: {e}"));
        let (r, a) = (records.clone(), asked.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                if let Some(reply) = answer(&buf[..n], &r, &a) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        let tcp = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}/tcp: {e}"));
        let a = asked.clone();
        std::thread::spawn(move || {
            for mut c in tcp.incoming().flatten() {
                let mut len = [0u8; 2];
                while c.read_exact(&mut len).is_ok() {
                    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                    if c.read_exact(&mut q).is_err() {
                        break;
                    }
                    let Some(reply) = answer(&q, &records, &a) else { break };
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend(reply);
                    let _ = c.write_all(&framed);
                }
            }
        });
        Zone { asked }
    }

    /// The names asked so far.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn encode(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
    out
}

/// The reply to one query (one question, no compression in it).
fn answer(q: &[u8], records: &[(&'static str, u32, Rr)], asked: &Mutex<Vec<String>>) -> Option<Vec<u8>> {
    let (mut at, mut labels) = (12, Vec::new());
    while *q.get(at)? != 0 {
        let len = q[at] as usize;
        labels.push(String::from_utf8_lossy(q.get(at + 1..at + 1 + len)?).to_ascii_lowercase());
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*q.get(at + 1)?, *q.get(at + 2)?]);
    let name = labels.join(".");
    asked.lock().unwrap().push(name.clone());
    let mut found: Vec<(String, u32, Rr)> = Vec::new();
    let mut current = name.clone();
    let mut known = false;
    for _ in 0..8 {
        let here: Vec<&(&str, u32, Rr)> = records.iter().filter(|(n, _, _)| *n == current).collect();
        known |= !here.is_empty();
        if let Some((_, ttl, Rr::Cname(t))) = here.iter().find(|(_, _, r)| matches!(r, Rr::Cname(_))) {
            found.push((current.clone(), *ttl, Rr::Cname(t)));
            current = t.to_string();
            continue;
        }
        for (n, ttl, r) in here {
            match (r, qtype) {
                (Rr::A(_), 1) | (Rr::Aaaa(_), 28) => found.push((n.to_string(), *ttl, r.clone())),
                _ => {}
            }
        }
        break;
    }
    let rcode = if known { 0 } else { 3 };
    let mut r = vec![q[0], q[1], 0x81, 0x80 | rcode, 0, 1];
    r.extend((found.len() as u16).to_be_bytes());
    r.extend([0, 0, 0, 0]);
    r.extend(&q[12..at + 5]);
    for (owner, ttl, rr) in found {
        r.extend(encode(&owner));
        let (ty, data) = match rr {
            Rr::A(a) => (1u16, a.octets().to_vec()),
            Rr::Aaaa(a) => (28, a.octets().to_vec()),
            Rr::Cname(t) => (5, encode(t)),
        };
        r.extend(ty.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(ttl.to_be_bytes());
        r.extend((data.len() as u16).to_be_bytes());
        r.extend(data);
    }
    Some(r)
}

/// A TCP service at `addr` that writes `greeting` and a newline to each
/// client and closes.
pub fn greeter(addr: IpAddr, port: u16, greeting: &str) {
    let l = TcpListener::bind((addr, port)).unwrap_or_else(|e| panic!("bind {addr}:{port}/tcp: {e}"));
    let greeting = format!("{greeting}\n");
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(greeting.as_bytes());
        }
    });
}

/// A UDP service at `addr` that answers each datagram with `prefix`, the
/// datagram and a newline.
pub fn echo(addr: IpAddr, port: u16, prefix: &str) {
    let s = UdpSocket::bind((addr, port)).unwrap_or_else(|e| panic!("bind {addr}:{port}/udp: {e}"));
    let prefix = prefix.as_bytes().to_vec();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut r = prefix.clone();
            r.extend(&buf[..n]);
            r.push(b'\n');
            let _ = s.send_to(&r, from);
        }
    });
}

/// An HTTP/1.0 service at `addr` that answers every request with 200 and
/// `body`.
pub fn http(addr: IpAddr, port: u16, body: &str) {
    let l = TcpListener::bind((addr, port)).unwrap_or_else(|e| panic!("bind {addr}:{port}/tcp: {e}"));
    let reply =
        format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut req: Vec<u8> = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend(&buf[..n]),
                }
            }
            let _ = c.write_all(reply.as_bytes());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(encode(name));
        q.extend(qtype.to_be_bytes());
        q.extend(1u16.to_be_bytes());
        q
    }

    #[test]
    fn the_zone_answers_through_cnames() {
        let records = vec![
            ("www.test", 30, Rr::Cname("edge.test")),
            ("edge.test", 5, Rr::A(Ipv4Addr::new(198, 51, 100, 7))),
            ("edge.test", 5, Rr::A(Ipv4Addr::new(198, 51, 100, 8))),
        ];
        let asked = Mutex::new(Vec::new());
        let r = answer(&query("WWW.test", 1), &records, &asked).unwrap();
        assert_eq!(&r[2..8], &[0x81, 0x80, 0, 1, 0, 3]);
        assert!(r.ends_with(&[198, 51, 100, 8]));
        let r = answer(&query("edge.test", 28), &records, &asked).unwrap();
        assert_eq!(&r[2..8], &[0x81, 0x80, 0, 1, 0, 0], "the name exists, no AAAA");
        let r = answer(&query("nothing.test", 1), &records, &asked).unwrap();
        assert_eq!(r[3], 0x83);
        assert_eq!(asked.lock().unwrap().as_slice(), ["www.test", "edge.test", "nothing.test"]);
    }
}
