//! The network options besides `--net` (which is a setting of its own, shared
//! with profiles): published ports, access to the host's loopback, the
//! hosts and addresses egress is narrowed to, and the report of what it
//! refuses; all only with user-mode networking.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::egress::{AddrRule, HostPattern};
use crate::plan::network::{Publish, ReportTo};
use crate::plan::Plan;

use super::ordered::Ordered;
use super::UsageError;

#[derive(clap::Args, Debug, Default)]
pub struct NetworkArgs {
    /// With --net user: HOST_PORT on the host reaches PORT inside the sandbox (repeatable).
    /// The host address is 127.0.0.1 unless HOST_IP is written (an IPv6 one in brackets,
    /// e.g. [::1]:8080:80); the protocol is tcp unless /udp is written. A PORT below 1024 needs
    /// a command that may listen there: --uid 0 --cap-add net_bind_service.
    #[arg(long, value_name = "[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]", value_parser = parse_publish,
          action = clap::ArgAction::Append)]
    pub publish: Vec<Publish>,

    /// With --net user: let the sandbox reach services listening on the host's loopback,
    /// at the default gateway's address (10.0.2.2 with slirp4netns). Off by default: a
    /// service on the host's 127.0.0.1 is unreachable from inside.
    #[arg(long)]
    pub allow_host_loopback: bool,

    /// With --net user: the sandbox may resolve and reach the host names PATTERN matches, and
    /// nothing else (repeatable). PATTERN is a name (`pypi.org`) or `*.` and a name
    /// (`*.pythonhosted.org`: every name beneath it, not the name itself); `:PORT` narrows it
    /// to that TCP and UDP port. The sandbox's resolver becomes a filter that answers other
    /// names with REFUSED; each address an allowed answer gives stays reachable for its TTL
    /// (at least 60 s); every other packet is refused at once (TCP reset, ICMP
    /// administratively prohibited), IPv4 and IPv6, for any program and protocol.
    #[arg(long, value_name = "PATTERN[:PORT]", value_parser = parse_host, action = clap::ArgAction::Append)]
    pub allow_host: Vec<HostPattern>,

    /// With --net user: the sandbox may reach these addresses by number (repeatable):
    /// `192.0.2.0/24`, `192.0.2.7:443`, `2001:db8::/32`, `[2001:db8::1]:22`; `:PORT` narrows
    /// it to that TCP and UDP port. Like --allow-host, it refuses everything else.
    #[arg(long, value_name = "CIDR[:PORT]", value_parser = parse_addr, action = clap::ArgAction::Append)]
    pub allow_addr: Vec<AddrRule>,

    /// With --allow-host or --allow-addr: write JSON lines to FD for every refused name and
    /// connection (time, name or address, port, protocol, the rule that refused it), and
    /// when the command starts and ends. After the first 10 refusals of one name or address
    /// and port, the others are counted instead (a `refusals-suppressed` line).
    #[arg(long, value_name = "FD", value_parser = clap::value_parser!(i32).range(0..),
          conflicts_with = "report_file")]
    pub report_fd: Option<i32>,

    /// Like --report-fd, to the file PATH (emptied first). PATH is opened once, before
    /// anything starts, never through a symlink: it must be a regular file of yours with no
    /// other hard link, or absent (then it is created 0600).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString))]
    pub report_file: Option<OsString>,
}

fn parse_publish(s: &str) -> Result<Publish, String> {
    s.parse()
}

fn parse_host(s: &str) -> Result<HostPattern, String> {
    s.parse()
}

fn parse_addr(s: &str) -> Result<AddrRule, String> {
    s.parse()
}

impl NetworkArgs {
    /// The egress rules, as settings: the fold needs them to write the
    /// sandbox's resolv.conf.
    pub(super) fn settings(&self, o: &mut Ordered) -> Result<(), UsageError> {
        o.each("allow_host", &self.allow_host, |h| Ok(crate::settings::Setting::AllowHost(h.clone())))?;
        o.each("allow_addr", &self.allow_addr, |a| Ok(crate::settings::Setting::AllowAddr(*a)))
    }

    /// Adds the published ports, the host-loopback switch and the report to
    /// the Plan's user-mode network; an error when the Plan has none.
    pub fn apply(&self, plan: &mut Plan) -> Result<(), UsageError> {
        let report = match (&self.report_fd, &self.report_file) {
            (Some(fd), _) => Some(ReportTo::Fd(*fd)),
            (None, Some(p)) if p.is_empty() => {
                return Err(UsageError("--report-file: the path is empty".into()))
            }
            (None, Some(p)) => Some(ReportTo::File(PathBuf::from(p))),
            (None, None) => None,
        };
        let Some(user) = plan.network.user.as_mut() else {
            let flag = match self.publish.first() {
                Some(p) => format!("--publish {p}"),
                None if self.allow_host_loopback => "--allow-host-loopback".into(),
                None => match report {
                    Some(r) => r.to_string(),
                    None => return Ok(()),
                },
            };
            return Err(UsageError(format!(
                "{flag}: needs user-mode networking (add --net user; without it the sandbox has only loopback or the host's network)"
            )));
        };
        user.publish.extend(&self.publish);
        user.allow_host_loopback |= self.allow_host_loopback;
        user.report = report.or(user.report.take());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use crate::host::Host;
    use crate::native::{parse, Command};
    use crate::plan::network::{self, Backend, ReportTo, UserNet};
    use crate::plan::{FileHow, FsOp, Plan};

    fn parse_net(args: &[&str]) -> Result<Plan, String> {
        let mut host = Host::fake("/work/proj");
        host.env = vec![("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into())];
        let mut argv = vec![OsString::from("sandbox")];
        argv.extend(args.iter().map(OsString::from));
        argv.extend(["--", "true"].map(OsString::from));
        match parse(argv, &host) {
            Ok(Command::Run { built, .. }) => Ok(built.plan),
            Ok(other) => panic!("{args:?}: {other:?}"),
            Err(e) => Err(e.0),
        }
    }

    fn resolv_ops(plan: &Plan) -> Vec<&FsOp> {
        plan.fs.iter().filter(|op| op.dest() == Path::new("/etc/resolv.conf")).collect()
    }

    #[test]
    fn net_user_with_published_ports() {
        let plan = parse_net(&["--net", "user", "--publish", "8080:8000", "--allow-host-loopback"]).unwrap();
        assert!(plan.namespaces.net);
        let expect = UserNet {
            backend: Backend::Auto,
            publish: vec!["127.0.0.1:8080:8000/tcp".parse().unwrap()],
            allow_host_loopback: true,
            ..Default::default()
        };
        assert_eq!(plan.network.user, Some(expect));
        // The generated resolv.conf comes last, over the profile's /etc.
        let (content, how) = (network::resolv_conf(false).into_bytes(), FileHow::BindRo);
        let resolv = FsOp::File { dest: "/etc/resolv.conf".into(), content, mode: 0o644, how };
        assert_eq!(plan.fs.last(), Some(&resolv));
        let plan =
            parse_net(&["--net", "user:slirp4netns", "--publish", "1:2000/udp", "--publish", "3:4000"])
                .unwrap();
        let user = plan.network.user.unwrap();
        assert_eq!(
            (user.backend, user.publish.len(), user.allow_host_loopback),
            (Backend::Slirp4netns, 2, false)
        );
        assert_eq!(
            parse_net(&["--net", "user:pasta"]).unwrap().network.user.unwrap().backend,
            Backend::Pasta
        );
    }

    #[test]
    fn the_last_net_wins_and_none_has_an_unreachable_resolver() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("user.toml");
        std::fs::write(&profile, "include = [\"default\"]\n[network]\nmode = \"user\"\n").unwrap();
        let profile = profile.to_str().unwrap();
        let plan = parse_net(&["--profile", profile]).unwrap();
        assert_eq!(plan.network.user.as_ref().map(|u| u.backend), Some(Backend::Auto));
        assert_eq!(resolv_ops(&plan).len(), 1);
        let plan = parse_net(&["--profile", profile, "--net", "none"]).unwrap();
        match resolv_ops(&plan).as_slice() {
            [FsOp::File { content, .. }] => {
                assert!(String::from_utf8_lossy(content).contains("\nnameserver 192.0.2.53\n"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((plan.network.user, plan.namespaces.net), (None, true));
        let plan = parse_net(&["--net", "host"]).unwrap();
        assert_eq!((plan.network.user, plan.namespaces.net), (None, false));
    }

    #[test]
    fn a_resolv_conf_of_the_users_own_is_kept() {
        let plan = parse_net(&["--net", "user", "--ro", "/srv/resolv.conf:/etc/resolv.conf"]).unwrap();
        let ops = resolv_ops(&plan);
        assert_eq!(ops.len(), 1);
        assert!(matches!(ops[0], FsOp::Bind { .. }));
    }

    #[test]
    fn refused_combinations() {
        let e = parse_net(&["--publish", "8080:80"]).unwrap_err();
        assert!(e.contains("--publish 127.0.0.1:8080:80/tcp: needs user-mode networking"), "{e}");
        let e = parse_net(&["--net", "none", "--allow-host-loopback"]).unwrap_err();
        assert!(e.contains("--allow-host-loopback: needs user-mode networking"), "{e}");
        let e = parse_net(&["--net", "user", "--share", "net"]).unwrap_err();
        assert!(e.contains("--net user and --share net cannot be combined"), "{e}");
        let e = parse_net(&["--share", "net", "--net", "user:pasta"]).unwrap_err();
        assert!(e.contains("cannot be combined"), "{e}");
        let e = parse_net(&["--net", "user", "--publish", "8080:80", "--publish", "8080:81"]).unwrap_err();
        assert!(e.contains("published twice"), "{e}");
        let e = parse_net(&["--net", "user:slirp4netns", "--publish", "[::1]:8080:80"]).unwrap_err();
        assert!(e.contains("IPv4 only") || e.contains("IPv4 addresses only"), "{e}");
        // Port 80 inside: only a command with CAP_NET_BIND_SERVICE listens there.
        let e = parse_net(&["--net", "user", "--publish", "8080:80/udp"]).unwrap_err();
        assert!(e.contains("nothing inside can listen on port 80 without CAP_NET_BIND_SERVICE: add"), "{e}");
        parse_net(&["--net", "user", "--publish", "8080:80", "--uid", "0", "--cap-add", "net_bind_service"])
            .unwrap();
        let e = parse_net(&["--net", "user", "--publish", "8080"]).unwrap_err();
        assert!(e.contains("HOST_PORT:PORT"), "{e}");
        let e = parse_net(&["--net", "user:wifi"]).unwrap_err();
        assert!(e.contains("user:wifi"), "{e}");
    }

    #[test]
    fn egress_rules_and_the_report() {
        let args = [
            "--net",
            "user",
            "--allow-host",
            "github.com:22",
            "--allow-addr",
            "192.0.2.0/24",
            "--allow-host",
            "*.pythonhosted.org",
            "--report-fd",
            "3",
        ];
        let plan = parse_net(&args).unwrap();
        let user = plan.network.user.clone().unwrap();
        let hosts: Vec<String> = user.allow_hosts.iter().map(ToString::to_string).collect();
        assert_eq!(hosts, ["github.com:22", "*.pythonhosted.org"]);
        assert_eq!(user.allow_addrs, vec!["192.0.2.0/24".parse().unwrap()]);
        assert_eq!(user.report, Some(ReportTo::Fd(3)));
        // The sandbox's resolver is its filter.
        let ops = resolv_ops(&plan);
        let FsOp::File { content, .. } = ops[0] else { panic!("{ops:?}") };
        assert!(String::from_utf8_lossy(content).ends_with("nameserver 127.0.0.1\n"));
        let plan =
            parse_net(&["--net", "user", "--allow-addr", "192.0.2.7", "--report-file", "r.jsonl"]).unwrap();
        assert_eq!(plan.network.user.unwrap().report, Some(ReportTo::File("r.jsonl".into())));
    }

    #[test]
    fn egress_mistakes_are_one_line() {
        for (args, needle) in [
            (
                &["--allow-host", "github.com"][..],
                "--allow-host github.com: needs user-mode networking (add --net user",
            ),
            (
                &["--net", "host", "--allow-addr", "192.0.2.0/24"],
                "--allow-addr 192.0.2.0/24: needs user-mode networking",
            ),
            (
                &["--net", "user", "--report-fd", "3"],
                "--report-fd 3: reports what --allow-host and --allow-addr refuse",
            ),
            (&["--report-file", "x"], "--report-file x: needs user-mode networking"),
            (&["--net", "user", "--allow-host", "*"], "that is every name"),
            (&["--net", "user", "--allow-host", "192.0.2.1"], "use --allow-addr"),
            (&["--net", "user", "--allow-addr", "192.0.2.1/24"], "did you mean 192.0.2.0/24"),
            (
                &["--net", "user", "--allow-host", "a.org", "--report-fd", "3", "--report-file", "x"],
                "cannot be used with",
            ),
            (
                &["--net", "user", "--allow-host", "a.org", "--uid", "0", "--cap-add", "NET_ADMIN"],
                "--cap-add CAP_NET_ADMIN: not with --allow-host",
            ),
        ] {
            let e = parse_net(args).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_profiles_egress_rules_give_way_to_the_command_lines_net() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("egress.toml");
        let text = "include = [\"default\"]\n[network]\nmode = \"user\"\nallow-hosts = [\"pypi.org:443\"]\nallow-addrs = [\"192.0.2.0/24:22\"]\n";
        std::fs::write(&profile, text).unwrap();
        let profile = profile.to_str().unwrap();
        let user =
            parse_net(&["--profile", profile, "--allow-host", "github.com"]).unwrap().network.user.unwrap();
        let hosts: Vec<String> = user.allow_hosts.iter().map(ToString::to_string).collect();
        assert_eq!(
            (hosts.as_slice(), user.allow_addrs.len()),
            (&["pypi.org:443".to_string(), "github.com".into()][..], 1)
        );
        // --net none: nothing to filter; a note, not an error.
        let plan = parse_net(&["--profile", profile, "--net", "none"]).unwrap();
        assert_eq!(plan.network.user, None);
    }
}
