//! Egress by host name (issue 20), with the real binary run rootless, on a
//! small internet of the test's own (tests/netutil/world.rs): the island
//! (the host) with its resolver, a zone that knows the test names, and
//! the world beyond its gateway with the test servers.

mod common;
mod netutil;

use std::net::IpAddr;

use common::*;
use netutil::world::{world_island, World};
use netutil::zone::greeter;

const ALLOWED: &str = "198.51.100.7";
const OTHER: &str = "198.51.100.8";

fn run(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    sbx(cwd.path(), home.path(), args).output()
}

/// A shell line that prints what ADDR:PORT says, or `unreachable`.
fn tcp(addr: &str, port: u16) -> String {
    format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{addr}/{port} && cat <&3' 2>/dev/null || echo unreachable")
}

fn servers(world: &World) {
    world.run(|| {
        greeter(ALLOWED.parse::<IpAddr>().unwrap(), 7000, "hello from allowed");
        greeter(OTHER.parse::<IpAddr>().unwrap(), 7000, "hello from other");
    });
}

/// Without egress rules, `--net user` reaches the world through either
/// backend: the baseline the rules narrow.
#[test]
fn without_rules_the_world_is_reachable() {
    if !netutil::available() {
        return;
    }
    world_island(&[ALLOWED, OTHER], |world| {
        servers(world);
        for backend in ["pasta", "slirp4netns"] {
            let net = format!("user:{backend}");
            let script = format!("{}; {}", tcp(ALLOWED, 7000), tcp(OTHER, 7000));
            let out = run(&["--net", &net, "--", "sh", "-c", &script]).ok();
            assert_eq!(out, "hello from allowed\nhello from other\n", "{backend}");
        }
    });
}
