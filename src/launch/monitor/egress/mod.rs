//! Egress by host name (`--allow-host`, `--allow-addr`): the monitor's side.
//!
//! The firewall must be in place before the command starts, and out of its
//! reach. The kernel checks CAP_NET_ADMIN for every nf_tables and NFLOG
//! message twice (netlink_ns_capable): against the credentials the netlink
//! socket was opened with (file_ns_capable) and against those of the
//! sender. So:
//!
//! - before init is released (its namespaces are then still those clone
//!   made), the monitor opens them ([`prepare`]), and refuses a network
//!   namespace that is its own;
//! - while init builds the root, once the backend has configured the
//!   network (the gateways are in its routes), a helper forked by the
//!   monitor (`helper.rs`) joins the sandbox's user namespace (entering it,
//!   a process of the namespace's owner holds every capability there) and
//!   its network namespace, checks that it is there, brings `lo` up, opens
//!   there the DNS filter's UDP and TCP sockets on 127.0.0.1:53 and two
//!   NETLINK_NETFILTER sockets, hands the four to the monitor (SCM_RIGHTS)
//!   and is killed; a helper that cannot join aborts the run, it never
//!   goes on where it is;
//! - the monitor asks the kernel which namespace each socket acts on
//!   (SIOCGSKNS, `launch/netns.rs`) and refuses unless it is the sandbox's
//!   and not its own; then, owning the sandbox's user namespace from the
//!   parent namespace and so holding every capability in it, it installs
//!   the table in one batch, binds the NFLOG group, and starts the filter's
//!   threads (`egress::serve`), all before the second byte that lets init
//!   fork the command ([`Pending::start`]).
//!
//! The command holds no capability in its namespace: its own netlink
//! sockets, nft and iptables get EPERM; the monitor's descriptors are
//! outside its reach; it cannot bind port 53 (below 1024). The helper is a
//! fork of the single-threaded monitor, before the filter's threads start.
//! Nothing is left behind: the table lives and dies with the sandbox's
//! network namespace, the threads with the monitor.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

use crate::egress::netlink::transact;
use crate::egress::ruleset::{Firewall, LOG_GROUP, SNAPLEN};
use crate::egress::serve::{self, Config, Report, Sockets};
use crate::egress::{nflog, routes, AddrRule};
use crate::launch::error::{Result, SetupError};
use crate::launch::netns::{self, NetNs};
use crate::launch::{sys, Ctx};

mod helper;

/// The sandbox's user and network namespaces, opened while init is still
/// as clone made it, for a filtered run.
pub struct Pending {
    user: OwnedFd,
    net: OwnedFd,
    /// The sandbox's network namespace.
    target: NetNs,
    /// The monitor's own (the caller's): never the firewall's.
    own: NetNs,
}

/// Opens the sandbox's namespaces when the plan filters egress; before
/// init is released. Refuses a network namespace that is the caller's own.
pub fn prepare(ctx: &Ctx, init: libc::pid_t) -> Result<Option<Pending>> {
    if !ctx.plan.network.user.as_ref().is_some_and(|u| u.filtered()) {
        return Ok(None);
    }
    let ns = |name: &str| {
        sys::open(Path::new(&format!("/proc/{init}/ns/{name}")), libc::O_RDONLY | libc::O_CLOEXEC)
            .map_err(|e| SetupError::errno(format!("egress: open the sandbox's {name} namespace"), e))
    };
    let (user, net) = (ns("user")?, ns("net")?);
    let target = NetNs::of_ns_fd(net.as_fd())
        .map_err(|e| SetupError::errno("egress: the sandbox's network namespace", e))?;
    let own = NetNs::current().map_err(|e| SetupError::errno("egress: the caller's network namespace", e))?;
    netns::check("the firewall", target, target, own).map_err(refuse)?;
    Ok(Some(Pending { user, net, target, own }))
}

fn refuse(cause: String) -> SetupError {
    SetupError::new("egress: refusing to install the firewall", cause)
}

impl Pending {
    /// Whether the firewall needs the backend's routes (the gateways that
    /// stand for the host's loopback): then it waits until the network is
    /// ready; otherwise it is set up while the backend configures it.
    pub fn needs_routes(&self, ctx: &Ctx) -> bool {
        ctx.plan.network.user.as_ref().is_some_and(|u| u.allow_host_loopback)
    }

    /// Sets up the firewall and starts the DNS filter, before init may
    /// fork the command.
    pub fn start(self, ctx: &Ctx, init: libc::pid_t, report: Report) -> Result<()> {
        let Some(user) = ctx.plan.network.user.as_ref() else { return Ok(()) };
        ctx.log("egress", &format!("the firewall and the DNS filter in {}", self.target));
        let fault = helper::Fault {
            stay: ctx.egress_fault("stay") || ctx.egress_fault("stay-unchecked"),
            unchecked: ctx.egress_fault("stay-unchecked"),
        };
        let socks = helper::open_inside(&self.user, &self.net, self.target, fault)?;
        self.verify(&socks)?;
        let mut fw = Firewall { addrs: user.allow_addrs.clone() };
        if user.allow_host_loopback {
            fw.addrs.extend(gateways(init));
        }
        let (bytes, seqs) = fw.batch(1).finish();
        transact(socks.nft.as_fd(), &bytes, &seqs).map_err(|e| firewall_error("install the firewall", e))?;
        for (req, seq) in nflog::bind_requests(LOG_GROUP, SNAPLEN, 1) {
            transact(socks.log.as_fd(), &req, &[seq])
                .map_err(|e| firewall_error("log refused packets (NFLOG)", e))?;
        }
        // The host's resolvers, as the monitor sees them (its own mount
        // namespace: the host's /etc/resolv.conf, not the sandbox's).
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstreams = serve::upstreams(&resolv);
        let floor = ctx.dns_floor();
        ctx.log("egress", &format!("names resolved by {upstreams:?}, kept for at least {floor:?}"));
        let cfg = Config { hosts: user.allow_hosts.clone(), addrs: fw.addrs, upstreams, floor };
        serve::start(cfg, socks, report)
            .map_err(|e| SetupError::new("egress: start the DNS filter", e.to_string()))
    }

    /// Every socket the helper handed over acts on the sandbox's network
    /// namespace, and none on the monitor's own, as the kernel says.
    fn verify(&self, socks: &Sockets) -> Result<()> {
        let all = [
            ("the DNS filter's UDP socket", socks.udp.as_fd()),
            ("the DNS filter's TCP socket", socks.tcp.as_fd()),
            ("the netfilter socket", socks.nft.as_fd()),
            ("the NFLOG socket", socks.log.as_fd()),
        ];
        for (what, fd) in all {
            let got = NetNs::of_socket(fd)
                .map_err(|e| SetupError::errno(format!("egress: the network namespace of {what}"), e))?;
            netns::check(what, got, self.target, self.own).map_err(refuse)?;
        }
        Ok(())
    }
}

fn firewall_error(what: &str, e: Errno) -> SetupError {
    let err = SetupError::errno(format!("egress: {what}"), e);
    match e {
        Errno::ENOENT | Errno::EOPNOTSUPP | Errno::EPROTONOSUPPORT | Errno::EAFNOSUPPORT => {
            err.hint("the kernel lacks nf_tables (CONFIG_NF_TABLES_INET, NFT_REJECT_INET, NFT_CT, NFT_LOG, NETFILTER_NETLINK_LOG); `sandbox check` says what is missing")
        }
        Errno::EPERM | Errno::EACCES => err.hint("something (an LSM, a container's seccomp profile) refuses nf_tables in user namespaces here; `sandbox check` tells"),
        _ => err,
    }
}

/// The default gateways inside (IPv4 and IPv6), where the backend answers
/// for the host's loopback when `--allow-host-loopback` is given.
fn gateways(init: libc::pid_t) -> Vec<AddrRule> {
    let route = std::fs::read_to_string(format!("/proc/{init}/net/route")).unwrap_or_default();
    let route6 = std::fs::read_to_string(format!("/proc/{init}/net/ipv6_route")).unwrap_or_default();
    routes::gateways(&route, &route6)
        .into_iter()
        .map(|addr| AddrRule { prefix: if addr.is_ipv4() { 32 } else { 128 }, addr, port: None })
        .collect()
}
