//! The DNS filter's decisions, over messages in wire format.
//!
//! The sandbox's resolv.conf names the filter. A query for a name that no
//! `--allow-host` rule matches is answered at once with REFUSED, and so is
//! anything that is not one plain question of class IN about a host name;
//! an allowed query goes to the host's resolver unchanged, and every A and
//! AAAA record of its answer whose owner is the name asked for, or a name
//! it leads to through the CNAME records of the answer, makes that address
//! reachable for the record's TTL (at least the floor, at most a day), on
//! the ports the matching rules allow.
//!
//! Some addresses are never made reachable by an answer, whatever the name:
//! unspecified, loopback, link-local (169.254.0.0/16 holds the cloud
//! metadata services, fe80::/10), multicast and broadcast. `--allow-addr`
//! can still allow them on purpose.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::pattern::{lookup, HostPattern, Ports};
use super::wire::{self, Name, CLASS_IN, OPCODE_MASK, QR, TC, TYPE_A, TYPE_AAAA, TYPE_CNAME};

pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;

/// The shortest time an answer keeps an address reachable, whatever its
/// TTL: long enough for a program that connects a while after its lookup,
/// or that caches answers for a minute as Java and browsers do.
pub const TTL_FLOOR: Duration = Duration::from_secs(60);

/// The longest an answer keeps an address reachable.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Why a query was refused; the `rule` of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `--allow-host` rule matches the name.
    NoRule,
    /// The name holds bytes no host name has (a dot inside a label, …).
    NotAHostName,
    /// Not one standard question of class IN.
    Unsupported(&'static str),
}

impl Refusal {
    /// The stable identifier in the report.
    pub fn id(self) -> &'static str {
        match self {
            Refusal::NoRule => "no-allow-host",
            Refusal::NotAHostName => "not-a-host-name",
            Refusal::Unsupported(_) => "unsupported-query",
        }
    }

    /// The same, in words.
    pub fn reason(self) -> String {
        match self {
            Refusal::NoRule => "no --allow-host rule matches the name".into(),
            Refusal::NotAHostName => "the name is not a host name".into(),
            Refusal::Unsupported(why) => why.into(),
        }
    }
}

/// What to do with a message sent to the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it to the resolver; the answer's addresses get `ports`.
    Forward { name: String, qtype: u16, ports: Ports, rule: HostPattern },
    /// Answer at once with `rcode`, and report it.
    Refuse { name: String, qtype: u16, rcode: u8, why: Refusal },
    /// Not a query (too short, or a response): no answer at all.
    Ignore,
}

/// Decides about one message from the command.
pub fn decide(msg: &[u8], rules: &[HostPattern]) -> Verdict {
    let Some(h) = wire::header(msg) else { return Verdict::Ignore };
    if h.flags & QR != 0 {
        return Verdict::Ignore;
    }
    let q = wire::question(msg).filter(|_| h.qdcount == 1);
    let (name, qtype) = q.as_ref().map_or((String::new(), 0), |q| (q.name.display(), q.qtype));
    let refuse = |rcode, why| Verdict::Refuse { name: name.clone(), qtype, rcode, why };
    if h.flags & OPCODE_MASK != 0 {
        return refuse(RCODE_NOTIMP, Refusal::Unsupported("not a standard query"));
    }
    let Some(q) = q else {
        return refuse(RCODE_FORMERR, Refusal::Unsupported("not exactly one question"));
    };
    if q.qclass != CLASS_IN {
        return refuse(RCODE_REFUSED, Refusal::Unsupported("a class other than IN"));
    }
    let Some(host) = q.name.host() else { return refuse(RCODE_REFUSED, Refusal::NotAHostName) };
    match lookup(rules, &host) {
        Some((ports, rule)) => Verdict::Forward { name: host, qtype, ports, rule: rule.clone() },
        None => refuse(RCODE_REFUSED, Refusal::NoRule),
    }
}

/// What an answer from the resolver gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Addresses of the name asked for, with their TTLs, in answer order
    /// (those that are never made reachable left out).
    pub addrs: Vec<(IpAddr, u32)>,
    pub rcode: u8,
    /// The resolver cut it short (TC): a client asks again over TCP.
    pub truncated: bool,
}

/// Reads the resolver's `response` to `query`; an error when it is not an
/// answer to that query (another id or question, not a response).
pub fn read_answer(query: &[u8], response: &[u8]) -> Result<Answer, &'static str> {
    let (Some(qh), Some(rh)) = (wire::header(query), wire::header(response)) else {
        return Err("too short");
    };
    if rh.id != qh.id || rh.flags & QR == 0 || rh.qdcount != 1 {
        return Err("not an answer to the query");
    }
    let (Some(q), Some(rq)) = (wire::question(query), wire::question(response)) else {
        return Err("no question");
    };
    if !q.name.same(&rq.name) || q.qtype != rq.qtype || q.qclass != rq.qclass {
        return Err("an answer to another question");
    }
    let records = wire::answers(response, &rq);
    // The names that stand for the one asked: it, and every CNAME target
    // reached from it, in any order of the records.
    let mut names: Vec<Name> = vec![rq.name.clone()];
    loop {
        let before = names.len();
        for r in records.iter().filter(|r| r.rtype == TYPE_CNAME && r.class == CLASS_IN) {
            if names.iter().any(|n| n.same(&r.owner)) {
                if let Some((target, _)) = wire::name(response, r.data_at) {
                    if !names.iter().any(|n| n.same(&target)) {
                        names.push(target);
                    }
                }
            }
        }
        if names.len() == before || names.len() > 16 {
            break;
        }
    }
    let addrs = records
        .iter()
        .filter(|r| r.class == CLASS_IN && names.iter().any(|n| n.same(&r.owner)))
        .filter_map(|r| match (r.rtype, r.data.len()) {
            (TYPE_A, 4) => {
                Some((IpAddr::V4(Ipv4Addr::new(r.data[0], r.data[1], r.data[2], r.data[3])), r.ttl))
            }
            (TYPE_AAAA, 16) => {
                let octets: [u8; 16] = r.data.try_into().ok()?;
                Some((IpAddr::V6(Ipv6Addr::from(octets)), r.ttl))
            }
            _ => None,
        })
        .filter(|(ip, _)| reachable(*ip))
        .collect();
    Ok(Answer { addrs, rcode: (rh.flags & 0x0f) as u8, truncated: rh.flags & TC != 0 })
}

/// Whether an answer may make `ip` reachable (see the module's note).
pub fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_unspecified()
                || a.octets()[0] == 0
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast())
        }
        IpAddr::V6(a) => {
            let link_local = a.segments()[0] & 0xffc0 == 0xfe80;
            let mapped = a.to_ipv4_mapped().is_some();
            !(a.is_unspecified() || a.is_loopback() || link_local || a.is_multicast() || mapped)
        }
    }
}

/// How long an address of an answer stays reachable: its TTL, at least
/// `floor`, at most [`MAX_LIFETIME`].
pub fn lifetime(ttl: u32, floor: Duration) -> Duration {
    Duration::from_secs(u64::from(ttl)).max(floor).min(MAX_LIFETIME.max(floor))
}

/// The answer to send at once for a refused query.
pub fn refusal(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    wire::error_reply(query, rcode)
}

/// The name of a query type for the report (its number when unknown).
pub fn type_name(qtype: u16) -> String {
    let known = [
        (1, "A"),
        (2, "NS"),
        (5, "CNAME"),
        (6, "SOA"),
        (12, "PTR"),
        (15, "MX"),
        (16, "TXT"),
        (28, "AAAA"),
        (33, "SRV"),
        (64, "SVCB"),
        (65, "HTTPS"),
        (255, "ANY"),
    ];
    known.iter().find(|(n, _)| *n == qtype).map_or_else(|| format!("TYPE{qtype}"), |(_, s)| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::wire::build::{encode_name, query, reply};
    use super::*;

    fn rules(list: &[&str]) -> Vec<HostPattern> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn allowed_names_are_forwarded_with_their_ports() {
        let r = rules(&["allowed.test", "*.wild.test:443", "allowed.test:22"]);
        match decide(&query(1, "Allowed.Test.", TYPE_A), &r) {
            Verdict::Forward { name, qtype, ports, rule } => {
                assert_eq!((name.as_str(), qtype, ports), ("allowed.test", TYPE_A, Ports::Any));
                assert_eq!(rule.to_string(), "allowed.test");
            }
            v => panic!("{v:?}"),
        }
        match decide(&query(1, "a.b.wild.test", 65), &r) {
            Verdict::Forward { ports, .. } => assert_eq!(ports, Ports::Only(vec![443])),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn everything_else_is_refused_at_once() {
        let r = rules(&["allowed.test", "*.wild.test"]);
        let refused = |msg: &[u8]| match decide(msg, &r) {
            Verdict::Refuse { rcode, why, name, .. } => (rcode, why, name),
            v => panic!("{v:?}"),
        };
        assert_eq!(
            refused(&query(1, "other.test", TYPE_A)),
            (RCODE_REFUSED, Refusal::NoRule, "other.test".into())
        );
        assert_eq!(refused(&query(1, "wild.test", TYPE_A)).1, Refusal::NoRule);
        assert_eq!(refused(&query(1, "allowed.test.evil", TYPE_A)).1, Refusal::NoRule);
        // One label "allowed.test" is not the name allowed.test.
        let mut q = query(1, "x", TYPE_A);
        q.truncate(12);
        q.extend([12]);
        q.extend(b"allowed.test");
        q.extend([0, 0, 1, 0, 1]);
        let (_, why, name) = refused(&q);
        assert_eq!((why, name.as_str()), (Refusal::NotAHostName, "allowed\\.test"));
        // Class CH (version.bind), an opcode other than QUERY, two questions.
        let mut ch = query(1, "allowed.test", 16);
        let n = ch.len();
        ch[n - 1] = 3;
        assert_eq!(refused(&ch).1.id(), "unsupported-query");
        let mut notify = query(1, "allowed.test", TYPE_A);
        notify[2] |= 0x20;
        assert_eq!(refused(&notify).0, RCODE_NOTIMP);
        let mut two = query(1, "allowed.test", TYPE_A);
        two[5] = 2;
        assert_eq!(refused(&two).0, RCODE_FORMERR);
        // Responses and scraps get no answer.
        let mut resp = query(1, "allowed.test", TYPE_A);
        resp[2] |= 0x80;
        assert_eq!(decide(&resp, &r), Verdict::Ignore);
        assert_eq!(decide(&[1, 2, 3], &r), Verdict::Ignore);
    }

    #[test]
    fn answers_give_every_address_through_cnames() {
        let q = query(9, "pypi.test", TYPE_A);
        let mut cname = encode_name("edge.cdn.test");
        cname.shrink_to_fit();
        let r = reply(
            &q,
            0,
            &[
                ("pypi.test", TYPE_CNAME, 300, cname),
                ("edge.cdn.test", TYPE_A, 30, vec![198, 51, 100, 7]),
                ("edge.cdn.test", TYPE_A, 20, vec![198, 51, 100, 8]),
                ("unrelated.test", TYPE_A, 20, vec![198, 51, 100, 9]),
                ("pypi.test", TYPE_AAAA, 40, "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets().to_vec()),
            ],
        );
        let a = read_answer(&q, &r).unwrap();
        let want: Vec<(IpAddr, u32)> = vec![
            ("198.51.100.7".parse().unwrap(), 30),
            ("198.51.100.8".parse().unwrap(), 20),
            ("2001:db8::7".parse().unwrap(), 40),
        ];
        assert_eq!(a, Answer { addrs: want, rcode: 0, truncated: false });
    }

    #[test]
    fn answers_to_other_questions_are_not_read() {
        let q = query(9, "allowed.test", TYPE_A);
        let a = |name: &str, id: u16| {
            let mut r = reply(&query(id, name, TYPE_A), 0, &[(name, TYPE_A, 30, vec![198, 51, 100, 8])]);
            r[0..2].copy_from_slice(&id.to_be_bytes());
            read_answer(&q, &r)
        };
        assert!(a("other.test", 9).is_err());
        assert!(a("allowed.test", 10).is_err());
        assert_eq!(a("ALLOWED.test", 9).unwrap().addrs.len(), 1);
        assert!(read_answer(&q, &q).is_err(), "the query itself is not an answer");
    }

    #[test]
    fn some_addresses_are_never_made_reachable() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!reachable(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["198.51.100.7", "10.0.0.1", "2001:db8::1"] {
            assert!(reachable(ip.parse().unwrap()), "{ip}");
        }
        let q = query(9, "evil.test", TYPE_A);
        let r = reply(&q, 0, &[("evil.test", TYPE_A, 30, vec![169, 254, 169, 254])]);
        assert!(read_answer(&q, &r).unwrap().addrs.is_empty());
    }

    #[test]
    fn lifetimes_have_a_floor_and_a_ceiling() {
        let floor = Duration::from_secs(60);
        assert_eq!(lifetime(0, floor), floor);
        assert_eq!(lifetime(300, floor), Duration::from_secs(300));
        assert_eq!(lifetime(u32::MAX, floor), MAX_LIFETIME);
        assert_eq!(lifetime(1, Duration::from_secs(2)), Duration::from_secs(2));
    }

    #[test]
    fn refusals_answer_the_query() {
        let q = query(0x4242, "other.test", TYPE_AAAA);
        let r = refusal(&q, RCODE_REFUSED).unwrap();
        assert_eq!(wire::header(&r).unwrap().flags & 0x800f, 0x8005);
        assert_eq!(wire::question(&r).unwrap().name.display(), "other.test");
        assert_eq!(type_name(28), "AAAA");
        assert_eq!(type_name(99), "TYPE99");
    }
}
