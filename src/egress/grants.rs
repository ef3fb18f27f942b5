//! What the DNS filter has made reachable, and until when: the monitor's
//! copy of the firewall's sets. It decides which set elements an answer
//! adds or renews (an element is only ever lengthened, never shortened by
//! a later answer with a smaller TTL), and tells the report why a refused
//! packet was refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::nflog::Refused;
use super::pattern::{AddrRule, Ports};
use super::ruleset::{Element, PROTO_TCP, PROTO_UDP};

/// How long an expired element is remembered, to tell `expired` from
/// `unknown-address` in the report and to delete it before adding it again
/// (the kernel drops expired elements within seconds).
const REMEMBER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct Held {
    until: Instant,
    name: String,
}

/// The elements granted so far.
#[derive(Debug, Default)]
pub struct Grants {
    held: HashMap<(IpAddr, Option<(u8, u16)>), Held>,
}

/// One change for the kernel: add `elems` for `timeout`, deleting each
/// first when `replace` (it may still be in the set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub elems: Vec<Element>,
    pub timeout: Duration,
    pub replace: bool,
}

/// Why a packet was refused, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub rule: &'static str,
    pub reason: String,
    pub name: Option<String>,
    pub ports: Vec<u16>,
}

impl Grants {
    /// The updates that make `addr` reachable on `ports` for `lifetime`
    /// from `now`, for an answer about `name`; recorded as done (call
    /// [`Grants::forget`] if the kernel refuses them).
    pub fn grant(
        &mut self,
        now: Instant,
        addr: IpAddr,
        ports: &Ports,
        lifetime: Duration,
        name: &str,
    ) -> Vec<Update> {
        let until = now + lifetime;
        let (mut fresh, mut renewed) = (Vec::new(), Vec::new());
        for e in Element::for_ports(addr, ports) {
            let key = (e.addr, e.port);
            match self.held.get(&key) {
                Some(h) if h.until >= until => continue,
                Some(_) => renewed.push(e),
                None => fresh.push(e),
            }
            self.held.insert(key, Held { until, name: name.to_string() });
        }
        self.prune(now);
        [(fresh, false), (renewed, true)]
            .into_iter()
            .filter(|(e, _)| !e.is_empty())
            .map(|(elems, replace)| Update { elems, timeout: lifetime, replace })
            .collect()
    }

    /// Forgets the elements of an update the kernel did not take.
    pub fn forget(&mut self, u: &Update) {
        for e in &u.elems {
            self.held.remove(&(e.addr, e.port));
        }
    }

    fn prune(&mut self, now: Instant) {
        self.held.retain(|_, h| h.until + REMEMBER > now);
    }

    /// Why `r` was refused, given the `--allow-addr` rules.
    pub fn why(&self, now: Instant, r: &Refused, addrs: &[AddrRule]) -> Why {
        let mine: Vec<(&Option<(u8, u16)>, &Held)> =
            self.held.iter().filter(|((a, _), _)| *a == r.addr).map(|((_, p), h)| (p, h)).collect();
        let mut ports: Vec<u16> =
            mine.iter().filter(|(_, h)| h.until > now).filter_map(|(p, _)| p.map(|p| p.1)).collect();
        ports.extend(addrs.iter().filter(|a| a.contains(r.addr)).filter_map(|a| a.port));
        ports.sort_unstable();
        ports.dedup();
        let name = mine.iter().max_by_key(|(_, h)| h.until).map(|(_, h)| h.name.clone());
        let tcp_udp = r.proto == PROTO_TCP || r.proto == PROTO_UDP;
        let on_a_listed_port = tcp_udp && r.port.is_some_and(|p| ports.contains(&p));
        if !ports.is_empty() && !on_a_listed_port {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            let reason = format!("this address is allowed on TCP and UDP port {} only", list.join(", "));
            return Why { rule: "port", reason, name, ports };
        }
        if let Some((_, h)) = mine.iter().max_by_key(|(_, h)| h.until) {
            let ago = now.saturating_duration_since(h.until).as_secs();
            let reason = format!("the answer for {} that allowed this address expired {ago} s ago", h.name);
            return Why { rule: "expired", reason, name, ports };
        }
        let reason = "no allowed name resolved to this address and no --allow-addr rule covers it".into();
        Why { rule: "unknown-address", reason, name: None, ports }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refused(addr: &str, proto: u8, port: Option<u16>) -> Refused {
        Refused { addr: ip(addr), proto, port, prefix: String::new() }
    }

    #[test]
    fn answers_add_then_only_lengthen() {
        let (mut g, t0) = (Grants::default(), Instant::now());
        let a = ip("198.51.100.7");
        let u = g.grant(t0, a, &Ports::Any, Duration::from_secs(60), "allowed.test");
        assert_eq!(
            u,
            vec![Update {
                elems: Element::for_ports(a, &Ports::Any),
                timeout: Duration::from_secs(60),
                replace: false
            }]
        );
        // A shorter answer later changes nothing; a longer one renews.
        assert!(g
            .grant(t0 + Duration::from_secs(10), a, &Ports::Any, Duration::from_secs(30), "x")
            .is_empty());
        let u = g.grant(t0 + Duration::from_secs(10), a, &Ports::Any, Duration::from_secs(120), "x");
        assert_eq!((u.len(), u[0].replace, u[0].timeout), (1, true, Duration::from_secs(120)));
        // Ports are elements of their own.
        let u = g.grant(t0, a, &Ports::Only(vec![22]), Duration::from_secs(60), "x");
        assert_eq!((u.len(), u[0].elems.len(), u[0].replace), (1, 2, false));
        // Forgotten after the kernel refused.
        g.forget(&u[0]);
        assert!(!g.grant(t0, a, &Ports::Only(vec![22]), Duration::from_secs(60), "x").is_empty());
    }

    #[test]
    fn refusals_say_why() {
        let (mut g, t0) = (Grants::default(), Instant::now());
        g.grant(t0, ip("198.51.100.7"), &Ports::Only(vec![443, 22]), Duration::from_secs(60), "forge.test");
        g.grant(t0, ip("198.51.100.8"), &Ports::Any, Duration::from_secs(5), "short.test");
        let addrs: Vec<AddrRule> = vec!["192.0.2.0/24:53".parse().unwrap()];
        let now = t0 + Duration::from_secs(7);
        let w = g.why(now, &refused("198.51.100.7", 6, Some(80)), &addrs);
        assert_eq!((w.rule, w.ports.clone(), w.name.as_deref()), ("port", vec![22, 443], Some("forge.test")));
        assert!(w.reason.contains("port 22, 443 only"), "{}", w.reason);
        assert_eq!(
            g.why(now, &refused("198.51.100.7", 1, None), &addrs).rule,
            "port",
            "ICMP to a port-only address"
        );
        let w = g.why(now, &refused("198.51.100.8", 6, Some(80)), &addrs);
        assert_eq!((w.rule, w.name.as_deref()), ("expired", Some("short.test")));
        assert!(w.reason.contains("expired 2 s ago"), "{}", w.reason);
        let w = g.why(now, &refused("198.51.100.9", 17, Some(53)), &addrs);
        assert_eq!((w.rule, w.name), ("unknown-address", None));
        let w = g.why(now, &refused("192.0.2.9", 6, Some(80)), &addrs);
        assert_eq!((w.rule, w.ports), ("port", vec![53]));
        // Long forgotten: unknown again.
        g.grant(
            now + REMEMBER + Duration::from_secs(60),
            ip("203.0.113.1"),
            &Ports::Any,
            Duration::from_secs(1),
            "z",
        );
        let later = now + REMEMBER + Duration::from_secs(60);
        assert_eq!(g.why(later, &refused("198.51.100.8", 6, Some(80)), &addrs).rule, "unknown-address");
    }
}
