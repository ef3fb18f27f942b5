//! Networking (issue 9): `--net none|user`, `--publish`,
//! `--allow-host-loopback`, DNS through the sandbox's resolv.conf, and the
//! backend's lifecycle, with both backends (pasta and slirp4netns). Each
//! test runs on an island of its own (see `netutil`): its own network
//! namespace with a host service on 127.0.0.1 and a DNS responder, so that
//! nothing is sent anywhere but loopback and namespaces the test created.

mod common;
mod netutil;

use common::*;
use netutil::*;

/// Where the sandbox reaches the host's loopback with each backend (when
/// allowed): pasta maps the gateway's address, slirp4netns 10.0.2.2.
fn host_from_inside(backend: &str) -> &'static str {
    if backend == "slirp4netns" {
        "10.0.2.2"
    } else {
        GATEWAY
    }
}

fn run(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    sbx(cwd.path(), home.path(), args).output()
}

/// A shell line that prints what ADDR:PORT says, or `unreachable`.
fn tcp(addr: &str, port: u16) -> String {
    format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{addr}/{port} && cat <&3' 2>/dev/null || echo unreachable")
}

macro_rules! both_backends {
    ($body:ident: $pasta:ident, $slirp:ident) => {
        #[test]
        fn $pasta() {
            if available() {
                island(|| $body("pasta"));
            }
        }
        #[test]
        fn $slirp() {
            if available() {
                island(|| $body("slirp4netns"));
            }
        }
    };
}

#[test]
fn net_none_reaches_nothing_on_the_host() {
    if !available() {
        return;
    }
    island(|| {
        let svc = Service::start("hello from the host");
        let script = format!("{}; {}", tcp("127.0.0.1", svc.port), tcp(HOST_ADDR, svc.port));
        let out = run(&["--net", "none", "--", "sh", "-c", &script]).ok();
        assert_eq!(out, "unreachable\nunreachable\n");
        assert_eq!(svc.clients(), 0);
    });
}

/// Without --allow-host-loopback a service on the host's 127.0.0.1 is
/// unreachable by every address; with it, the host's address inside reaches it.
fn host_loopback(backend: &'static str) {
    let svc = Service::start("hello from the host");
    let net = format!("user:{backend}");
    let inside = host_from_inside(backend);
    let script = [("127.0.0.1", svc.port), (inside, svc.port), (HOST_ADDR, svc.port)]
        .map(|(a, p)| tcp(a, p))
        .join("; ");
    let out = run(&["--net", &net, "--", "sh", "-c", &script]).ok();
    assert_eq!(out, "unreachable\nunreachable\nunreachable\n");
    assert_eq!(svc.clients(), 0, "the host service was reached");

    let script = format!("{}; {}", tcp(inside, svc.port), tcp("127.0.0.1", svc.port));
    let out = run(&["--net", &net, "--allow-host-loopback", "--", "sh", "-c", &script]).ok();
    assert_eq!(out, "hello from the host\nunreachable\n");
    assert_eq!(svc.clients(), 1);
}
both_backends!(host_loopback: pasta_host_loopback_only_when_allowed, slirp4netns_host_loopback_only_when_allowed);

const SERVER: &str = "use IO::Socket::INET; $| = 1; \
    my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => 8080, Listen => 5, ReuseAddr => 1) \
    or die \"listen: $!\"; print \"listening\\n\"; my $c = $s->accept; print $c \"hello from inside\\n\"; close $c;";

/// A server inside on port 8080, published as 18080 on the host's loopback
/// (the default address), is reached from the host there and only there.
fn publish(backend: &'static str) {
    let (cwd, home) = (Dir::new(), Dir::new());
    let net = format!("user:{backend}");
    let args = ["--net", &net, "--publish", "18080:8080", "--", "perl", "-e", SERVER];
    let mut child = sbx(cwd.path(), home.path(), args).spawn();
    let first = child.lines().next_line();
    assert_eq!(first.as_deref(), Some("listening"), "the server inside did not start");
    // slirp4netns's API socket is gone from the host once the command runs.
    let api_dirs = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("sandbox-net.{}.", child.id())))
        .count();
    assert_eq!(api_dirs, 0);
    assert_eq!(fetch(&format!("{HOST_ADDR}:18080")), None, "published beyond the loopback address");
    assert_eq!(fetch("127.0.0.1:18080").as_deref(), Some("hello from inside\n"));
    child.output().ok();
}
both_backends!(publish: pasta_published_port_reached_on_loopback_only, slirp4netns_published_port_reached_on_loopback_only);

/// The sandbox's resolv.conf names the backend's forwarder, which relays to
/// the host's resolver (the island's responder on 127.0.0.1:53).
fn dns(backend: &'static str) {
    let dns = Dns::start();
    let net = format!("user:{backend}");
    let script = format!(
        "grep -v '^#' /etc/resolv.conf; getent hosts {DNS_NAME}; getent hosts missing.{DNS_NAME} || echo \"missing: $?\"; \
         awk '$2 == \"00000000\" {{ print \"default route\" }}' /proc/net/route"
    );
    let out = run(&["--net", &net, "--", "sh", "-c", &script]).ok();
    assert_eq!(out, format!("nameserver 10.0.2.3\n{DNS_ANSWER:<15} {DNS_NAME}\nmissing: 2\ndefault route\n"));
    assert!(dns.queries() >= 2, "the responder saw {} queries", dns.queries());
}
both_backends!(dns: pasta_dns_through_the_host_resolver, slirp4netns_dns_through_the_host_resolver);

/// The backend of a run, found from the host among the monitor's children.
fn backend_pids(monitor: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    assert!(wait_for(10.0, || {
        pids = backends_of(monitor);
        !pids.is_empty()
    }));
    pids
}

/// No backend process is left after the run, nor after `kill -9` of the
/// monitor. After the run the monitor kills it and does not wait for its
/// exit to finish (that took pasta tens of milliseconds): it is gone
/// moments later.
fn lifecycle(backend: &'static str) {
    let (cwd, home) = (Dir::new(), Dir::new());
    let net = format!("user:{backend}");
    let child = sbx(cwd.path(), home.path(), ["--net", &net, "--", "sleep", "1"]).spawn();
    let pids = backend_pids(child.id());
    child.output().ok();
    assert!(wait_for(5.0, || pids.iter().all(|&p| !running(p))), "left running after the run: {pids:?}");

    let mut child = sbx(cwd.path(), home.path(), ["--net", &net, "--", "sleep", "600"]).spawn();
    let pids = backend_pids(child.id());
    child.kill();
    child.wait();
    assert!(wait_for(5.0, || pids.iter().all(|&p| !running(p))), "left running after kill -9: {pids:?}");
}
both_backends!(lifecycle: pasta_is_gone_after_the_run_and_after_kill_9, slirp4netns_is_gone_after_the_run_and_after_kill_9);

/// The backend configures the namespace while init builds the root; a
/// setup error of init's own is the one reported, not the backend's
/// failure to find init's namespace once init has ended, and the command
/// starts only once the network is up.
fn setup_error_while_the_network_starts(backend: &'static str) {
    let net = format!("user:{backend}");
    for _ in 0..5 {
        let out = run(&["--net", &net, "--ro", "/nonexistent-bench-source", "--", "true"]);
        out.fails(125, "bind /nonexistent-bench-source");
    }
    // The default route is the backend's last word before it says ready.
    let out = run(&["--net", &net, "--", "sh", "-c", "awk '$2 == \"00000000\"' /proc/net/route"]).ok();
    assert!(!out.trim().is_empty(), "no default route when the command starts: {out:?}");
}
both_backends!(setup_error_while_the_network_starts: pasta_setup_error_is_init_s, slirp4netns_setup_error_is_init_s);

/// A host port in use: one line naming the port and the backend's reason.
fn port_in_use(backend: &'static str) {
    let svc = Service::start("taken");
    let net = format!("user:{backend}");
    let publish = format!("{}:8080", svc.port);
    let out = run(&["--net", &net, "--publish", &publish, "--", "true"]);
    out.fails(125, &svc.port.to_string());
    assert!(out.stderr().contains("hint: "), "{}", out.stderr());
}
both_backends!(port_in_use: pasta_port_in_use_is_one_error, slirp4netns_port_in_use_is_one_error);

#[test]
fn options_that_need_user_mode_networking_are_refused_without_it() {
    for args in [&["--publish", "8080:80"][..], &["--net", "host", "--allow-host-loopback"]] {
        let mut a = args.to_vec();
        a.extend(["--", "true"]);
        run(&a).fails(125, "needs user-mode networking");
    }
    run(&["--net", "user", "--publish", "80", "--", "true"]).fails(125, "HOST_PORT:PORT");
    run(&["--net", "user", "--share", "net", "--", "true"]).fails(125, "cannot be combined");
}

#[test]
fn a_missing_backend_is_one_error_with_a_hint() {
    let (cwd, home) = (Dir::new(), Dir::new());
    for (net, needle, hint) in [
        ("user:pasta", "pasta: not found in PATH", "apt install passt"),
        ("user:slirp4netns", "slirp4netns: not found in PATH", "apt install slirp4netns"),
        ("user", "neither pasta nor slirp4netns", "apt install passt"),
    ] {
        let out =
            sbx(cwd.path(), home.path(), ["--net", net, "--", "true"]).env("PATH", "/nonexistent").output();
        out.fails(125, needle);
        assert!(out.stderr().contains(hint), "{}", out.stderr());
    }
}

/// systemd-resolved hosts make /etc/resolv.conf a symlink into /run, which
/// leads nowhere inside: the sandbox's file covers the link itself.
#[test]
fn the_resolv_conf_covers_a_symlink_that_leads_nowhere_inside() {
    if !available() {
        return;
    }
    island(|| {
        let etc = Dir::new();
        let link = etc.path().join("resolv.conf");
        std::os::unix::fs::symlink("../run/systemd/resolve/stub-resolv.conf", &link).unwrap();
        let arg = format!("{}:/etc", etc.path().display());
        let out =
            run(&["--net", "user:pasta", "--ro", &arg, "--", "grep", "nameserver", "/etc/resolv.conf"]).ok();
        assert_eq!(out, "nameserver 10.0.2.3\n");
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            std::path::Path::new("../run/systemd/resolve/stub-resolv.conf")
        );
    });
}

/// Landlock's TCP port rules apply under `--net user` as in every mode:
/// they confine the command, not the backend.
#[test]
fn port_rules_apply_under_user_mode_networking() {
    if !available() {
        return;
    }
    island(|| {
        let svc = Service::start("hello from the host");
        let other = if svc.port == 1 { 2 } else { 1 };
        let script = format!(
            "bash -c 'exec 3<>/dev/tcp/{GATEWAY}/{}' 2>&1 | grep -q 'Permission denied' && echo denied",
            svc.port
        );
        let args = |port: u16| {
            let p = port.to_string();
            let net = ["--net", "user:pasta", "--allow-host-loopback", "--allow-connect", &p];
            run(&[&net[..], &["--", "sh", "-c", &script]].concat())
        };
        assert_eq!(args(other).ok(), "denied\n");
        assert_eq!(svc.clients(), 0);
        let script = tcp(GATEWAY, svc.port);
        let p = svc.port.to_string();
        let out = run(&[
            "--net",
            "user:pasta",
            "--allow-host-loopback",
            "--allow-connect",
            &p,
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(out.ok(), "hello from the host\n");
        assert_eq!(svc.clients(), 1);
    });
}
