//! The sandbox's default gateways, read from its `/proc/PID/net/route`
//! and `ipv6_route`: with `--allow-host-loopback` the backend answers for
//! the host's loopback there, so the firewall lets them through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The gateways of the default routes (IPv4 first), each once.
pub fn gateways(route: &str, ipv6_route: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for l in route.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask …, in hex
        // as the kernel stores them (network order read as a host u32).
        if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
            continue;
        }
        if let Ok(gw) = u32::from_str_radix(f[2], 16) {
            if gw != 0 {
                out.push(IpAddr::V4(Ipv4Addr::from(gw.to_le_bytes())));
            }
        }
    }
    for l in ipv6_route.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        // dest prefix src prefix next-hop metric refcnt use flags iface
        if f.len() < 10 || f[1] != "00" || f[0].bytes().any(|b| b != b'0') || f[9] == "lo" {
            continue;
        }
        if let Ok(hop) = u128::from_str_radix(f[4], 16) {
            if hop != 0 {
                out.push(IpAddr::V6(Ipv6Addr::from(hop)));
            }
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_gateways() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     tap0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     tap0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fe800000000000000000000000000002 00000400 00000001 00000000 00000003     tap0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 ffffffff 00000001 00000001 00200200       lo\n";
        let got: Vec<String> = gateways(route, v6).iter().map(|a| a.to_string()).collect();
        assert_eq!(got, vec!["10.0.2.2", "fe80::2"]);
        assert!(gateways("", "").is_empty());
    }
}
