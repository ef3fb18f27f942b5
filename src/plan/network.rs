//! The network part of a Plan: user-mode networking for the sandbox's own
//! network namespace.
//!
//! Whether the sandbox has a network namespace of its own is
//! `Plan::namespaces.net` (`--net host` or `--share net` give it back to the
//! host). With one of its own, the sandbox has only `lo`, unless [`Network::user`]
//! asks for a user-mode stack: pasta or slirp4netns, started by the monitor
//! against the new namespace, giving it a default route, a DNS forwarder
//! ([`DNS_FORWARDER`]) and the published ports.
//!
//! With `--allow-host` or `--allow-addr` ([`UserNet::allow_hosts`],
//! [`UserNet::allow_addrs`]) the user-mode network is filtered: a firewall
//! in the sandbox's namespace lets out only what the rules and the answers
//! of the sandbox's DNS filter ([`FILTER_ADDR`]) allow (see `egress`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::egress::{AddrRule, HostPattern};

/// The address inside the sandbox that answers DNS: the backend forwards UDP
/// port 53 on it to the host's resolvers (the nameservers of the host's
/// /etc/resolv.conf). slirp4netns has it built in (its network + 3); pasta
/// is told with `--dns-forward`.
pub const DNS_FORWARDER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);

/// Where the sandbox's DNS filter listens (UDP and TCP port 53), inside
/// its own network namespace, when egress is filtered.
pub const FILTER_ADDR: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Where the sandbox's generated resolv.conf goes.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The resolv.conf the sandbox gets with user-mode networking: the
/// backend's forwarder, or with `filtered` egress the sandbox's DNS filter.
pub fn resolv_conf(filtered: bool) -> String {
    match filtered {
        false => format!(
            "# Written by sandbox: the user-mode network's DNS forwarder, which\n\
             # relays to the host's resolvers.\nnameserver {DNS_FORWARDER}\n"
        ),
        true => format!(
            "# Written by sandbox: its DNS filter, which answers only the names\n\
             # --allow-host allows.\nnameserver {FILTER_ADDR}\n"
        ),
    }
}

/// Where the host names file goes (with a `--rootfs` root).
pub const HOSTS: &str = "/etc/hosts";

/// The /etc/hosts a `--rootfs` root gets with user-mode networking: the
/// loopback names and the sandbox's host name.
pub fn hosts(hostname: &str) -> String {
    format!(
        "# Written by sandbox.\n127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
}

/// Networking beyond loopback; the default is none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// A user-mode network stack in the sandbox's own network namespace;
    /// absent: only `lo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserNet>,
}

/// User-mode networking (`--net user`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserNet {
    /// The program that provides the network stack.
    #[serde(default)]
    pub backend: Backend,
    /// Host ports forwarded to ports inside the sandbox.
    #[serde(default)]
    pub publish: Vec<Publish>,
    /// Whether the sandbox may reach services on the host's loopback
    /// (through the default gateway's address). Off: it cannot.
    #[serde(default)]
    pub allow_host_loopback: bool,
    /// Names the sandbox may resolve and reach (`--allow-host`): with any
    /// of these or of `allow_addrs`, everything else is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<HostPattern>,
    /// Addresses the sandbox may reach by number (`--allow-addr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_addrs: Vec<AddrRule>,
    /// Where the refused names and connections are reported, with the
    /// start and the end of the run (`--report-fd`, `--report-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportTo>,
}

impl UserNet {
    /// Whether egress is filtered: any `--allow-host` or `--allow-addr`.
    pub fn filtered(&self) -> bool {
        !self.allow_hosts.is_empty() || !self.allow_addrs.is_empty()
    }
}

/// Where the report goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportTo {
    /// A descriptor of the caller's.
    Fd(i32),
    /// A host file, opened as the pid file is (never through a symlink, a
    /// regular file of the caller's, created 0600), emptied first.
    File(#[serde(with = "super::os_path")] PathBuf),
}

impl fmt::Display for ReportTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportTo::Fd(fd) => write!(f, "--report-fd {fd}"),
            ReportTo::File(p) => write!(f, "--report-file {}", crate::escape::path(p)),
        }
    }
}

/// Capabilities the command may not keep while egress is filtered: with
/// NET_ADMIN it could change the firewall, with NET_RAW send packets
/// beside it (packet sockets pass no netfilter hook).
pub const EGRESS_FORBIDS: [&str; 2] = ["CAP_NET_ADMIN", "CAP_NET_RAW"];

/// The user-mode network stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// pasta when it is installed, else slirp4netns.
    #[default]
    Auto,
    /// pasta (Debian package `passt`): the sandbox gets the host's addresses
    /// and routes; the gateway's address stands for the host.
    Pasta,
    /// slirp4netns: the sandbox is 10.0.2.100/24, the host 10.0.2.2.
    Slirp4netns,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Pasta => "pasta",
            Backend::Slirp4netns => "slirp4netns",
        }
    }
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port: `host_ip:host_port` on the host reaches `port` inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The host address the port is opened on (127.0.0.1 unless written).
    pub host_ip: IpAddr,
    pub host_port: u16,
    /// The port inside the sandbox.
    pub port: u16,
    #[serde(default)]
    pub proto: Proto,
}

impl fmt::Display for Publish {
    /// The `--publish` form, with the host address always written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            IpAddr::V4(ip) => write!(f, "{ip}")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]")?,
        }
        write!(f, ":{}:{}/{}", self.host_port, self.port, self.proto.name())
    }
}

impl FromStr for Publish {
    type Err = String;

    /// `[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]`; an IPv6 HOST_IP in brackets.
    fn from_str(s: &str) -> Result<Publish, String> {
        let (s, raw) = (crate::escape::str(s), s);
        let usage = || format!("{s}: expected [HOST_IP:]HOST_PORT:PORT[/tcp|/udp]");
        let e = crate::escape::str;
        let (spec, proto) = match raw.rsplit_once('/') {
            Some((spec, "tcp")) => (spec, Proto::Tcp),
            Some((spec, "udp")) => (spec, Proto::Udp),
            Some((_, other)) => return Err(format!("{s}: unknown protocol '{}' (tcp or udp)", e(other))),
            None => (raw, Proto::Tcp),
        };
        let (host_ip, ports) = if let Some(rest) = spec.strip_prefix('[') {
            let (ip, ports) = rest.split_once("]:").ok_or_else(usage)?;
            let ip = ip
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| format!("{s}: '{}' is not an IPv6 address", e(ip)))?;
            (IpAddr::V6(ip), ports)
        } else {
            match spec.matches(':').count() {
                1 => (IpAddr::V4(Ipv4Addr::LOCALHOST), spec),
                2 => {
                    let (ip, ports) = spec.split_once(':').ok_or_else(usage)?;
                    let ip = ip.parse::<Ipv4Addr>().map_err(|_| {
                        format!("{s}: '{}' is not an IPv4 address (write an IPv6 one in brackets)", e(ip))
                    })?;
                    (IpAddr::V4(ip), ports)
                }
                _ => return Err(usage()),
            }
        };
        let (host_port, port) = ports.split_once(':').ok_or_else(usage)?;
        let port_num = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{s}: '{}' is not a port from 1 to 65535", e(p))),
        };
        Ok(Publish { host_ip, host_port: port_num(host_port)?, port: port_num(port)?, proto })
    }
}

/// Checks that only make sense with the rest of the Plan known: the
/// namespace, and the command's capabilities.
pub fn validate(net: &Network, own_netns: bool, caps: &[String]) -> Result<(), String> {
    let Some(user) = &net.user else { return Ok(()) };
    if !own_netns {
        return Err("--net user needs the sandbox's own network namespace (drop --share net)".into());
    }
    if user.report.is_some() && !user.filtered() {
        let r = user.report.as_ref().map(ToString::to_string).unwrap_or_default();
        return Err(format!("{r}: reports what --allow-host and --allow-addr refuse; give one of them"));
    }
    if let Some(cap) = caps.iter().find(|c| user.filtered() && EGRESS_FORBIDS.contains(&c.as_str())) {
        return Err(format!(
            "--cap-add {cap}: not with --allow-host or --allow-addr (the command could change or pass the firewall)"
        ));
    }
    for (i, p) in user.publish.iter().enumerate() {
        let clash = user.publish[..i]
            .iter()
            .any(|q| q.host_port == p.host_port && q.proto == p.proto && q.host_ip == p.host_ip);
        if clash {
            return Err(format!("--publish {p}: the host port is published twice"));
        }
        if user.backend == Backend::Slirp4netns && p.host_ip.is_ipv6() {
            return Err(format!("--publish {p}: slirp4netns publishes on IPv4 addresses only (use pasta)"));
        }
    }
    Ok(())
}

impl Network {
    /// The `network:` lines of `sandbox explain`; `own_netns` is
    /// `Plan::namespaces.net`.
    pub fn describe(&self, own_netns: bool) -> String {
        let Some(user) = &self.user else {
            return if own_netns { "none (own namespace, loopback only)".into() } else { "host".into() };
        };
        let backend = match user.backend {
            Backend::Auto => "pasta, or slirp4netns when pasta is missing",
            Backend::Pasta => "pasta",
            Backend::Slirp4netns => "slirp4netns",
        };
        let dns = match user.filtered() {
            true => format!("the sandbox's DNS filter at {FILTER_ADDR}"),
            false => DNS_FORWARDER.to_string(),
        };
        let mut out = format!("user-mode ({backend}); DNS through {dns}");
        let lo = if user.allow_host_loopback {
            "reachable at the default gateway's address"
        } else {
            "unreachable"
        };
        out.push_str(&format!("\n            host loopback: {lo}"));
        for p in &user.publish {
            let host = match p.host_ip {
                IpAddr::V4(ip) => format!("{ip}:{}", p.host_port),
                IpAddr::V6(ip) => format!("[{ip}]:{}", p.host_port),
            };
            out.push_str(&format!(
                "\n            publish: host {host} -> port {}/{}",
                p.port,
                p.proto.name()
            ));
        }
        if user.filtered() {
            out.push_str(&egress_lines(user));
        }
        out
    }
}

/// The egress lines of `explain`: the rules, what happens to the rest,
/// the report.
fn egress_lines(user: &UserNet) -> String {
    let pad = "\n            ";
    let mut out = format!(
        "{pad}egress: only to the names and addresses below; everything else refused at once \
         (TCP reset, ICMP administratively prohibited), IPv4 and IPv6"
    );
    let ports = |p: Option<u16>| p.map_or("every port".to_string(), |p| format!("TCP and UDP port {p}"));
    for h in &user.allow_hosts {
        let what = if h.wildcard { "names beneath" } else { "the name" };
        out.push_str(&format!("{pad}allow-host: {h} ({what} {}, {})", h.name, ports(h.port)));
    }
    if user.allow_hosts.is_empty() {
        out.push_str(&format!("{pad}allow-host: none (every name is refused)"));
    }
    for a in &user.allow_addrs {
        out.push_str(&format!("{pad}allow-addr: {a} ({})", ports(a.port)));
    }
    out.push_str(&format!(
        "{pad}answers open their addresses for their TTL (at least {} s); the backend's DNS forwarder is off",
        crate::egress::dns::TTL_FLOOR.as_secs()
    ));
    if let Some(r) = &user.report {
        out.push_str(&format!("{pad}report: {r} (JSON lines: refused names and connections, start, exit)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Publish, String> {
        s.parse()
    }

    #[test]
    fn publish_forms() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let tcp = |host_ip, host_port, port| Publish { host_ip, host_port, port, proto: Proto::Tcp };
        assert_eq!(p("8080:80"), Ok(tcp(lo, 8080, 80)));
        assert_eq!(p("0.0.0.0:8080:80/tcp"), Ok(tcp(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080, 80)));
        assert_eq!(
            p("[::1]:53:5353/udp"),
            Ok(Publish { proto: Proto::Udp, ..tcp("::1".parse().unwrap(), 53, 5353) })
        );
        for bad in [
            "80",
            "a:80",
            "8080:0",
            "8080:70000",
            "1.2.3:8080:80",
            "::1:80:80",
            "[::1]8080:80",
            "8080:80/sctp",
            "",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(p("8080:80/sctp").unwrap_err().contains("sctp"));
        assert!(p("x:8080:80").unwrap_err().contains("IPv4"));
        assert!(!p("80\n:80:x").unwrap_err().contains('\n'), "errors are one line");
    }

    #[test]
    fn publish_round_trips_through_display() {
        for s in ["127.0.0.1:8080:80/tcp", "[::1]:53:5353/udp", "0.0.0.0:1:65535/tcp"] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn validation() {
        let user = |publish: &[&str], backend| Network {
            user: Some(UserNet {
                backend,
                publish: publish.iter().map(|s| p(s).unwrap()).collect(),
                ..Default::default()
            }),
        };
        assert_eq!(validate(&Network::default(), false, &[]), Ok(()));
        assert!(validate(&user(&[], Backend::Auto), false, &[]).unwrap_err().contains("--share net"));
        assert_eq!(validate(&user(&["8080:80", "8080:80/udp", "8081:80"], Backend::Auto), true, &[]), Ok(()));
        assert!(validate(&user(&["8080:80", "127.0.0.1:8080:81"], Backend::Auto), true, &[])
            .unwrap_err()
            .contains("twice"));
        assert!(validate(&user(&["[::1]:8080:80"], Backend::Slirp4netns), true, &[])
            .unwrap_err()
            .contains("IPv4"));
        assert_eq!(validate(&user(&["[::1]:8080:80"], Backend::Pasta), true, &[]), Ok(()));
    }

    #[test]
    fn json_shape() {
        let net = Network {
            user: Some(UserNet {
                backend: Backend::Pasta,
                publish: vec![p("8080:80").unwrap()],
                allow_host_loopback: true,
                ..Default::default()
            }),
        };
        let json = serde_json::to_string(&net).unwrap();
        assert_eq!(
            json,
            r#"{"user":{"backend":"pasta","publish":[{"host_ip":"127.0.0.1","host_port":8080,"port":80,"proto":"tcp"}],"allow_host_loopback":true}}"#
        );
        assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), net);
        assert_eq!(serde_json::to_string(&Network::default()).unwrap(), "{}");
    }

    fn filtered(hosts: &[&str], addrs: &[&str]) -> UserNet {
        UserNet {
            allow_hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
            allow_addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn egress_rules_and_their_report() {
        let net = |u: UserNet| Network { user: Some(u) };
        assert!(!UserNet::default().filtered());
        assert!(filtered(&[], &["192.0.2.0/24"]).filtered());
        assert_eq!(validate(&net(filtered(&["github.com:22"], &[])), true, &[]), Ok(()));
        let report = UserNet { report: Some(ReportTo::Fd(3)), ..Default::default() };
        let e = validate(&net(report), true, &[]).unwrap_err();
        assert!(e.starts_with("--report-fd 3: ") && e.contains("--allow-host"), "{e}");
        let caps = ["CAP_NET_ADMIN".to_string()];
        let e = validate(&net(filtered(&["github.com"], &[])), true, &caps).unwrap_err();
        assert!(e.starts_with("--cap-add CAP_NET_ADMIN: "), "{e}");
        assert_eq!(validate(&net(UserNet::default()), true, &caps), Ok(()));
        let raw = ["CAP_NET_RAW".to_string()];
        assert!(validate(&net(filtered(&[], &["192.0.2.1"])), true, &raw).is_err());
    }

    #[test]
    fn egress_in_resolv_conf_explain_and_json() {
        assert!(resolv_conf(false).contains("nameserver 10.0.2.3\n"));
        assert!(resolv_conf(true).ends_with("nameserver 127.0.0.1\n"));
        let mut u = filtered(&["*.pythonhosted.org", "github.com:22"], &["[2001:db8::/32]:443"]);
        u.report = Some(ReportTo::File("/run/user/1000/net.jsonl".into()));
        let net = Network { user: Some(u) };
        let text = net.describe(true);
        for needle in [
            "DNS through the sandbox's DNS filter at 127.0.0.1",
            "allow-host: *.pythonhosted.org (names beneath pythonhosted.org, every port)",
            "allow-host: github.com:22 (the name github.com, TCP and UDP port 22)",
            "allow-addr: [2001:db8::/32]:443 (TCP and UDP port 443)",
            "at least 60 s",
            "report: --report-file /run/user/1000/net.jsonl",
        ] {
            assert!(text.contains(needle), "{needle} in:\n{text}");
        }
        let json = serde_json::to_string(&net).unwrap();
        assert!(
            json.contains(r#""allow_hosts":["*.pythonhosted.org","github.com:22"],"allow_addrs":["[2001:db8::/32]:443"],"report":{"file":"/run/user/1000/net.jsonl"}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), net);
        let only_addrs = Network { user: Some(filtered(&[], &["192.0.2.7"])) };
        assert!(only_addrs.describe(true).contains("allow-host: none (every name is refused)"));
    }
}
