//! The egress firewall (issue 20) is only ever installed in the sandbox's
//! own network namespace, never in the caller's: run by root, whose
//! monitor holds every capability over the namespace it runs in (here an
//! island, standing for the machine), the island's and the machine's
//! nftables rulesets are unchanged after the run, and a helper that did
//! not get into the sandbox's namespace (a fault the debug build can be
//! told to simulate) makes the run refuse, with nothing installed.

mod common;
mod netutil;

use std::net::IpAddr;

use common::*;
use netutil::rulesets::Rulesets;
use netutil::world::world_island;
use netutil::zone::{greeter, Rr, Zone};

const ALLOWED: &str = "198.51.100.7";
const OTHER: &str = "198.51.100.8";
const WORLD: [&str; 2] = [ALLOWED, OTHER];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A shell line that prints what HOST:PORT says over TCP, or `unreachable`,
/// and how long it took (`took N ms`).
fn tcp_timed(host: &str, port: u16) -> String {
    format!(
        "s=$(date +%s%N); timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port} && cat <&3' 2>/dev/null \
         || echo unreachable; e=$(date +%s%N); echo \"took $(( (e - s) / 1000000 )) ms\""
    )
}

/// Run by root (slirp4netns: pasta run by root gives up its privileges
/// and cannot join the sandbox's namespaces): the rules filter as for a
/// user, and neither the island's ruleset nor the machine's changes.
#[test]
fn run_by_root_the_firewall_is_only_the_sandboxs() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        world.run(|| {
            for a in [ALLOWED, OTHER] {
                greeter(ip(a), 7000, &format!("hello from {a}"));
            }
        });
        let _z = Zone::start(
            "127.0.0.1:53",
            vec![
                ("allowed.test", 60, Rr::A(ALLOWED.parse().unwrap())),
                ("other.test", 60, Rr::A(OTHER.parse().unwrap())),
            ],
        );
        let (cwd, home) = (Dir::new(), Dir::new());
        let script = format!("{}; {}", tcp_timed("allowed.test", 7000), tcp_timed(OTHER, 7000));
        let args = ["--net", "user:slirp4netns", "--allow-host", "allowed.test", "--", "sh", "-c", &script];
        let rules = Rulesets::read();
        let out = sbx(cwd.path(), home.path(), args).run_as_root().output();
        if let Some(rules) = rules {
            rules.assert_unchanged("after the run");
        }
        let text = out.ok();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!((lines[0], lines[2]), (&*format!("hello from {ALLOWED}"), "unreachable"), "{text}");
        for took in [lines[1], lines[3]] {
            let ms: u64 =
                took.strip_prefix("took ").and_then(|t| t.strip_suffix(" ms")).unwrap().parse().unwrap();
            assert!(ms < 2000, "{text}");
        }
    });
}

/// A helper that stayed in the caller's namespaces (`stay`), whether it
/// checks where it is or only the monitor does (`stay-unchecked`): the run
/// is refused (exit 125, one line saying why) and nothing is installed in
/// the island, where the monitor, run by root, could have installed it.
#[test]
fn a_helper_outside_the_sandbox_is_refused() {
    if !netutil::available() {
        return;
    }
    for fault in ["stay", "stay-unchecked"] {
        world_island(&WORLD, move |_world| {
            let (cwd, home) = (Dir::new(), Dir::new());
            let args = ["--net", "user:slirp4netns", "--allow-host", "allowed.test", "--", "echo", "ran"];
            let rules = Rulesets::read();
            let out = sbx(cwd.path(), home.path(), args)
                .run_as_root()
                .env("SANDBOX_TEST_EGRESS_FAULT", fault)
                .output();
            if let Some(rules) = rules {
                rules.assert_unchanged(fault);
            }
            assert_eq!(out.code(), 125, "{fault}: stdout {:?}, stderr {:?}", out.stdout(), out.stderr());
            assert_eq!(out.stdout(), "", "{fault}");
            let err = out.stderr();
            assert_eq!(err.lines().count(), 1, "{fault}: {err}");
            let why = match fault {
                // The helper's own check, after its (skipped) setns.
                "stay" => "egress: join the sandbox's network namespace (still elsewhere)",
                // The monitor's, on the sockets it was handed (SIOCGSKNS).
                _ => "egress: refusing to install the firewall: the DNS filter's UDP socket is in the caller's network namespace",
            };
            assert!(err.contains(why), "{fault}: {err}");
            assert!(!err.contains("panicked"), "{fault}: {err}");
        });
    }
}
