use super::*;
use crate::egress::netlink::{attrs, messages};

fn addr(s: &str) -> AddrRule {
    s.parse().unwrap()
}

/// What `nft list ruleset` prints for the table (checked against nft
/// itself by tests/egress_firewall.rs).
const LISTED: &str = "table inet sandbox {
\tset hosts4 {
\t\ttype ipv4_addr
\t\tflags timeout
\t}

\tset hosts6 {
\t\ttype ipv6_addr
\t\tflags timeout
\t}

\tset ports4 {
\t\ttype ipv4_addr . inet_proto . inet_service
\t\tflags timeout
\t}

\tset ports6 {
\t\ttype ipv6_addr . inet_proto . inet_service
\t\tflags timeout
\t}

\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toif \"lo\" accept
\t\tct state established,related accept
\t\ticmpv6 type mld-listener-report accept
\t\ticmpv6 type nd-router-solicit accept
\t\ticmpv6 type nd-neighbor-solicit accept
\t\ticmpv6 type nd-neighbor-advert accept
\t\ticmpv6 type mld2-listener-report accept
\t\tip daddr @hosts4 accept
\t\tip6 daddr @hosts6 accept
\t\tip daddr . meta l4proto . th dport @ports4 accept
\t\tip6 daddr . meta l4proto . th dport @ports6 accept
\t\tip daddr 192.0.2.0/24 accept
\t\tip daddr 198.51.100.0/23 tcp dport 22 accept
\t\tip daddr 198.51.100.0/23 udp dport 22 accept
\t\tip6 daddr 2001:db8::/33 accept
\t\tip daddr 203.0.113.9 accept
\t\tlog prefix \"sandbox-refused\" group 1 snaplen 128
\t\tmeta l4proto tcp reject with tcp reset
\t\treject with icmpx admin-prohibited
\t}
}
";

pub fn sample() -> Firewall {
    Firewall {
        addrs: vec![
            addr("192.0.2.0/24"),
            addr("198.51.100.0/23:22"),
            addr("2001:db8::/33"),
            addr("203.0.113.9"),
        ],
    }
}

#[test]
fn the_table_in_nft_words() {
    assert_eq!(sample().render(), LISTED);
}

#[test]
fn the_batch_holds_table_sets_chain_and_one_message_per_rule() {
    let fw = sample();
    let (bytes, seqs) = fw.batch(100).finish();
    let msgs = messages(&bytes);
    let kinds: Vec<u16> = msgs.iter().map(|m| m.ty & 0xff).collect();
    let rules = fw.rules().len();
    let mut want = vec![0x10, Kind::NewTable as u16];
    want.extend([Kind::NewSet as u16; 4]);
    want.push(Kind::NewChain as u16);
    want.extend(vec![Kind::NewRule as u16; rules]);
    want.push(0x11);
    assert_eq!(kinds, want);
    assert_eq!(seqs, (101..101 + 6 + rules as u32).collect::<Vec<_>>());
    // The concatenated IPv4 set, as nft makes it.
    let set = attrs(msgs[4].body, 4);
    assert_eq!(set[1], (2, &b"ports4\0"[..]));
    assert_eq!(set[3], (4, &0x730du32.to_be_bytes()[..]));
    assert_eq!(set[4], (5, &12u32.to_be_bytes()[..]));
}

#[test]
fn element_keys_pad_each_field_to_four_bytes() {
    // nft --debug=netlink: `element 076433c6 00000006 0000bb01` for
    // 198.51.100.7 . tcp . 443.
    let e = Element { addr: "198.51.100.7".parse().unwrap(), port: Some((PROTO_TCP, 443)) };
    assert_eq!(e.key(), vec![198, 51, 100, 7, 6, 0, 0, 0, 1, 187, 0, 0]);
    assert_eq!(e.set(), Set::Ports4);
    let any = Element::for_ports("2001:db8::1".parse().unwrap(), &Ports::Any);
    assert_eq!((any.len(), any[0].set(), any[0].key().len()), (1, Set::Hosts6, 16));
    let some = Element::for_ports("2001:db8::1".parse().unwrap(), &Ports::Only(vec![22, 443]));
    assert_eq!(some.len(), 4);
    assert!(some.iter().all(|e| e.set() == Set::Ports6 && e.key().len() == 24));
}

#[test]
fn replacing_deletes_first_in_the_same_batch() {
    let mut b = Batch::new(1);
    let e = Element::for_ports("198.51.100.7".parse().unwrap(), &Ports::Any);
    add_elements(&mut b, &e, Duration::from_secs(90), true);
    let (bytes, _) = b.finish();
    let msgs = messages(&bytes);
    let kinds: Vec<u16> = msgs.iter().map(|m| m.ty & 0xff).collect();
    assert_eq!(kinds, vec![0x10, Kind::DelSetElem as u16, Kind::NewSetElem as u16, 0x11]);
    // The timeout, in milliseconds, inside the element.
    let list = attrs(msgs[2].body, 4);
    let elem = attrs(list[2].1, 0);
    let fields = attrs(elem[0].1, 0);
    assert_eq!(fields[1], (4, &90_000u64.to_be_bytes()[..]));
}
