//! The command lines of the user-mode network stacks (pure, unit-tested).
//!
//! pasta (passt 2023-03 and later): `--config-net` configures the tap
//! interface, addresses and routes inside (copied from the host); `-f` keeps
//! it our child (so PR_SET_PDEATHSIG holds); `--pid` names a file it writes
//! once it is set up, here a pipe (`/proc/self/fd/N`), our readiness signal.
//! Port forwarding is off in both directions unless published (pasta's
//! default is `auto`, which would forward every port bound inside to the
//! host, and every port bound on the host's loopback into the sandbox).
//! `--no-map-gw` stops the gateway's address from standing for the host's
//! loopback. `--dns-forward` gives the sandbox a DNS address that pasta
//! relays to the host's first resolver; with egress filtered it is left
//! out (the sandbox's own DNS filter answers, and nothing else may).
//!
//! slirp4netns (0.4.0 and later): `--configure` sets up tap0 (10.0.2.100/24,
//! gateway 10.0.2.2, DNS 10.0.2.3) and brings up lo; `--ready-fd` is written
//! once set up, `--exit-fd` makes it exit when the monitor's end closes;
//! `--disable-host-loopback` refuses 10.0.2.2 as the host's loopback;
//! published ports are added through `--api-socket`; with egress filtered,
//! `--disable-dns` switches its forwarder at 10.0.2.3 off.

use std::net::IpAddr;

use crate::plan::network::{Proto, Publish, UserNet, DNS_FORWARDER};

pub fn pasta(user: &UserNet, init: libc::pid_t, ready_fd: i32) -> Vec<String> {
    let mut a: Vec<String> = ["--config-net", "--foreground", "--quiet"].map(String::from).to_vec();
    a.extend(["--pid".into(), format!("/proc/self/fd/{ready_fd}")]);
    a.extend(["--netns".into(), format!("/proc/{init}/ns/net")]);
    a.extend(["--userns".into(), format!("/proc/{init}/ns/user")]);
    if !user.filtered() {
        a.extend(["--dns-forward".into(), DNS_FORWARDER.to_string()]);
    }
    for (flag, proto) in [("--tcp-ports", Proto::Tcp), ("--udp-ports", Proto::Udp)] {
        let specs: Vec<String> = user
            .publish
            .iter()
            .filter(|p| p.proto == proto)
            .map(|p| format!("{}/{}:{}", p.host_ip, p.host_port, p.port))
            .collect();
        if specs.is_empty() {
            a.extend([flag.into(), "none".into()]);
        }
        for s in specs {
            a.extend([flag.into(), s]);
        }
    }
    a.extend(["--tcp-ns", "none", "--udp-ns", "none"].map(String::from));
    if !user.allow_host_loopback {
        a.push("--no-map-gw".into());
    }
    a
}

/// slirp4netns's arguments; `api` is the API socket's path when ports are
/// published.
pub fn slirp4netns(
    user: &UserNet,
    init: libc::pid_t,
    fds: (i32, i32),
    api: Option<&str>,
    ipv6: bool,
) -> Vec<String> {
    let (ready_fd, exit_fd) = fds;
    let mut a: Vec<String> = vec!["--configure".into(), "--mtu=65520".into()];
    a.push(format!("--ready-fd={ready_fd}"));
    a.push(format!("--exit-fd={exit_fd}"));
    if !user.allow_host_loopback {
        a.push("--disable-host-loopback".into());
    }
    if let Some(path) = api {
        a.push(format!("--api-socket={path}"));
    }
    if user.filtered() {
        a.push("--disable-dns".into());
    }
    if ipv6 {
        a.push("--enable-ipv6".into());
    }
    a.extend([init.to_string(), "tap0".into()]);
    a
}

/// The API request that publishes one port through slirp4netns.
pub fn add_hostfwd(p: &Publish) -> String {
    let host_addr = match p.host_ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => ip.to_string(),
    };
    serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.proto.name(),
            "host_addr": host_addr,
            "host_port": p.host_port,
            "guest_port": p.port,
        }
    })
    .to_string()
}

/// Whether the host routes IPv6 anywhere: a default route in
/// /proc/net/ipv6_route on an interface other than lo (where the kernel
/// keeps its "unreachable" default).
pub fn has_ipv6_default_route(ipv6_route: &str) -> bool {
    ipv6_route.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00" && f[9] != "lo"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::network::Backend;

    fn user(publish: &[&str], allow_host_loopback: bool) -> UserNet {
        UserNet {
            backend: Backend::Auto,
            publish: publish.iter().map(|s| s.parse().unwrap()).collect(),
            allow_host_loopback,
            ..Default::default()
        }
    }

    #[test]
    fn pasta_forwards_nothing_unless_published() {
        let a = pasta(&user(&[], false), 42, 7).join(" ");
        assert_eq!(
            a,
            "--config-net --foreground --quiet --pid /proc/self/fd/7 --netns /proc/42/ns/net \
             --userns /proc/42/ns/user --dns-forward 10.0.2.3 --tcp-ports none --udp-ports none \
             --tcp-ns none --udp-ns none --no-map-gw"
        );
        let a = pasta(&user(&["8080:80", "0.0.0.0:53:5353/udp", "[::1]:8443:443"], true), 42, 7).join(" ");
        assert!(
            a.contains("--tcp-ports 127.0.0.1/8080:80 --tcp-ports ::1/8443:443 --udp-ports 0.0.0.0/53:5353 "),
            "{a}"
        );
        assert!(!a.contains("--no-map-gw") && !a.contains("--tcp-ports none"), "{a}");
    }

    #[test]
    fn slirp4netns_arguments() {
        let a = slirp4netns(&user(&[], false), 42, (7, 8), None, false).join(" ");
        assert_eq!(a, "--configure --mtu=65520 --ready-fd=7 --exit-fd=8 --disable-host-loopback 42 tap0");
        let a = slirp4netns(&user(&["8080:80"], true), 42, (7, 8), Some("/run/x/api.sock"), true).join(" ");
        assert_eq!(a, "--configure --mtu=65520 --ready-fd=7 --exit-fd=8 --api-socket=/run/x/api.sock --enable-ipv6 42 tap0");
    }

    #[test]
    fn hostfwd_request() {
        let req: serde_json::Value =
            serde_json::from_str(&add_hostfwd(&"8080:80/udp".parse().unwrap())).unwrap();
        assert_eq!(
            req,
            serde_json::json!({"execute": "add_hostfwd", "arguments":
                {"proto": "udp", "host_addr": "127.0.0.1", "host_port": 8080, "guest_port": 80}})
        );
    }

    #[test]
    fn ipv6_default_route() {
        let lo_only = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                       00000000000000000000000000000000 ffffffff 00000001 00000001 00200200       lo\n";
        assert!(!has_ipv6_default_route(lo_only));
        let eth = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                   fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n";
        assert!(has_ipv6_default_route(&format!("{lo_only}{eth}")));
        let link = "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 \
                    00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert!(!has_ipv6_default_route(link));
    }

    #[test]
    fn filtered_egress_switches_the_backends_dns_off() {
        let mut u = user(&[], false);
        u.allow_hosts = vec!["pypi.org".parse().unwrap()];
        let a = pasta(&u, 42, 7).join(" ");
        assert!(!a.contains("--dns-forward"), "{a}");
        let a = slirp4netns(&u, 42, (7, 8), None, false).join(" ");
        assert_eq!(
            a,
            "--configure --mtu=65520 --ready-fd=7 --exit-fd=8 --disable-host-loopback --disable-dns 42 tap0"
        );
    }
}
