//! A command that hammers a blocked destination does not flood the egress
//! report (issue 20), even when the report is the caller's stderr
//! (`--report-fd 2`): the first 10 refusals of each destination are
//! written in full, the rest counted in a `refusals-suppressed` line
//! before the exit line; the counts add up to what was refused.

mod common;
mod netutil;

use std::net::IpAddr;

use common::*;
use netutil::world::world_island;
use netutil::zone::{greeter, Rr, Zone};

const ALLOWED: &str = "198.51.100.7";
const OTHER: &str = "198.51.100.8";
const WORLD: [&str; 2] = [ALLOWED, OTHER];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(host: &str, port: u16) -> String {
    format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port} && cat <&3' 2>/dev/null || echo unreachable")
}

#[test]
fn a_flood_of_refusals_is_counted_not_written() {
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
        // 50 connections to the same blocked address and port, 30 lookups
        // of the same refused name, then the allowed host still answers.
        let script = format!(
            "for i in $(seq 50); do {} >/dev/null; done; \
             for i in $(seq 30); do getent hosts other.test >/dev/null; done; {}",
            tcp(OTHER, 7000),
            tcp("allowed.test", 7000)
        );
        let args =
            ["--net", "user", "--allow-host", "allowed.test", "--report-fd", "2", "--", "sh", "-c", &script];
        let (cwd, home) = (Dir::new(), Dir::new());
        let out = sbx(cwd.path(), home.path(), args).output();
        assert_eq!(out.ok(), format!("hello from {ALLOWED}\n"));
        let err = out.stderr();
        let lines: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a report line: {l}: {e}")))
            .collect();
        let of = |event: &str| lines.iter().filter(|l| l["event"] == event).collect::<Vec<_>>();
        let conns = of("connection-refused");
        let names = of("name-refused");
        let summaries = of("refusals-suppressed");
        assert_eq!(conns.len(), 10, "{err}");
        assert!(conns.iter().all(|l| l["address"] == OTHER && l["port"] == 7000 && l["protocol"] == "tcp"));
        assert_eq!(names.len(), 10, "{err}");
        assert!(names.iter().all(|l| l["name"] == "other.test"), "{err}");
        let counted = |refused: &str| -> u64 {
            summaries.iter().filter(|l| l["refused"] == refused).map(|l| l["count"].as_u64().unwrap()).sum()
        };
        // Each connection is one refused SYN: 40 more than were written.
        assert_eq!(counted("connection-refused"), 40, "{err}");
        assert!(
            summaries
                .iter()
                .filter(|l| l["refused"] == "connection-refused")
                .all(|l| l["address"] == OTHER && l["port"] == 7000 && l["protocol"] == "tcp"),
            "{err}"
        );
        // At least one query a lookup (glibc may ask A and AAAA, or again).
        assert!(10 + counted("name-refused") >= 30, "{err}");
        assert!(summaries
            .iter()
            .filter(|l| l["refused"] == "name-refused")
            .all(|l| l["name"] == "other.test"));
        // Start first, exit last, the summaries before it.
        assert_eq!(lines.first().map(|l| &l["event"]), Some(&"start".into()), "{err}");
        assert_eq!(lines.last().map(|l| &l["event"]), Some(&"exit".into()), "{err}");
        // Far fewer lines than refusals: 10 + 10 written, a few summaries.
        assert!(lines.len() <= 30, "{} lines: {err}", lines.len());
    });
}
