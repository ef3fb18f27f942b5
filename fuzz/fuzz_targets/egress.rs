//! What the egress filter reads from the command and the network: DNS
//! queries (the command's), resolver answers, NFLOG packets (headers the
//! command wrote). Invariants: never panics; a refused query gets a reply
//! that is a response echoing its id; an answer never makes an address
//! reachable that answers may not open; a name the filter forwards is a
//! host name that one of the rules matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::egress::{dns, nflog, wire, HostPattern};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let rules: Vec<HostPattern> =
        ["allowed.test", "*.wild.test:443"].iter().map(|r| r.parse().unwrap()).collect();
    match mode % 3 {
        0 => match dns::decide(rest, &rules) {
            dns::Verdict::Refuse { rcode, .. } => {
                let r = dns::refusal(rest, rcode).expect("a reply to a refused query");
                let (q, h) = (wire::header(rest).unwrap(), wire::header(&r).unwrap());
                assert_eq!(h.id, q.id);
                assert!(h.flags & wire::QR != 0);
            }
            dns::Verdict::Forward { name, .. } => {
                assert!(rules.iter().any(|p| p.matches(&name)), "{name}");
                assert_eq!(sandbox::egress::pattern::normalize(&name).as_deref(), Some(name.as_str()));
            }
            dns::Verdict::Ignore => {}
        },
        1 => {
            let split = usize::from(*rest.first().unwrap_or(&0)).min(rest.len());
            let (query, answer) = rest.split_at(split);
            if let Ok(a) = dns::read_answer(query, answer) {
                assert!(a.addrs.iter().all(|(ip, _)| dns::reachable(*ip)));
            }
        }
        _ => {
            let _ = nflog::parse(0x400, rest);
        }
    }
});
