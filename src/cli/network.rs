//! The network options besides `--net` (which is a setting of its own, shared
//! with profiles): published ports and access to the host's loopback, both
//! only with user-mode networking.

use crate::plan::network::Publish;
use crate::plan::Plan;

use super::UsageError;

#[derive(clap::Args, Debug, Default)]
pub struct NetworkArgs {
    /// With --net user: HOST_PORT on the host reaches PORT inside the sandbox (repeatable).
    /// The host address is 127.0.0.1 unless HOST_IP is written (an IPv6 one in brackets,
    /// e.g. [::1]:8080:80); the protocol is tcp unless /udp is written.
    #[arg(long, value_name = "[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]", value_parser = parse_publish,
          action = clap::ArgAction::Append)]
    pub publish: Vec<Publish>,

    /// With --net user: let the sandbox reach services listening on the host's loopback,
    /// at the default gateway's address (10.0.2.2 with slirp4netns). Off by default: a
    /// service on the host's 127.0.0.1 is unreachable from inside.
    #[arg(long)]
    pub allow_host_loopback: bool,
}

fn parse_publish(s: &str) -> Result<Publish, String> {
    s.parse()
}

impl NetworkArgs {
    /// Adds the published ports and the host-loopback switch to the Plan's
    /// user-mode network; an error when the Plan has none.
    pub fn apply(&self, plan: &mut Plan) -> Result<(), UsageError> {
        let Some(user) = plan.network.user.as_mut() else {
            let flag = match self.publish.first() {
                Some(p) => format!("--publish {p}"),
                None if self.allow_host_loopback => "--allow-host-loopback".into(),
                None => return Ok(()),
            };
            return Err(UsageError(format!(
                "{flag}: needs user-mode networking (add --net user; without it the sandbox has only loopback or the host's network)"
            )));
        };
        user.publish.extend(&self.publish);
        user.allow_host_loopback |= self.allow_host_loopback;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use crate::host::Host;
    use crate::native::{parse, Command};
    use crate::plan::network::{self, Backend, UserNet};
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
        let plan = parse_net(&["--net", "user", "--publish", "8080:80", "--allow-host-loopback"]).unwrap();
        assert!(plan.namespaces.net);
        let expect = UserNet {
            backend: Backend::Auto,
            publish: vec!["127.0.0.1:8080:80/tcp".parse().unwrap()],
            allow_host_loopback: true,
        };
        assert_eq!(plan.network.user, Some(expect));
        // The generated resolv.conf comes last, over the profile's /etc.
        let (content, how) = (network::resolv_conf().into_bytes(), FileHow::BindRo);
        let resolv = FsOp::File { dest: "/etc/resolv.conf".into(), content, mode: 0o644, how };
        assert_eq!(plan.fs.last(), Some(&resolv));
        let plan =
            parse_net(&["--net", "user:slirp4netns", "--publish", "1:2/udp", "--publish", "3:4"]).unwrap();
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
    fn the_last_net_wins_and_none_has_no_resolv_conf() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("user.toml");
        std::fs::write(&profile, "include = [\"default\"]\n[network]\nmode = \"user\"\n").unwrap();
        let profile = profile.to_str().unwrap();
        let plan = parse_net(&["--profile", profile]).unwrap();
        assert_eq!(plan.network.user.as_ref().map(|u| u.backend), Some(Backend::Auto));
        assert_eq!(resolv_ops(&plan).len(), 1);
        let plan = parse_net(&["--profile", profile, "--net", "none"]).unwrap();
        assert!(resolv_ops(&plan).is_empty());
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
        let e = parse_net(&["--net", "user", "--publish", "8080"]).unwrap_err();
        assert!(e.contains("HOST_PORT:PORT"), "{e}");
        let e = parse_net(&["--net", "user:wifi"]).unwrap_err();
        assert!(e.contains("user:wifi"), "{e}");
    }
}
