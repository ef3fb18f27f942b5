//! Egress by host name (issue 20), with the real binary run rootless, on a
//! small internet of the test's own (tests/netutil/world.rs): the island
//! (the host) with its resolver (a zone on 127.0.0.1:53 that knows the
//! test names), and the world beyond its gateway with the test servers.
//! Timings inside are measured and bounded generously (2 s, where a
//! refusal takes milliseconds and a time-out would take seconds).

mod common;
mod netutil;

use std::net::IpAddr;
use std::path::Path;

use common::*;
use netutil::rulesets::Rulesets;
use netutil::world::{world_island, World};
use netutil::zone::{echo, greeter, http, Rr, Zone};

const ALLOWED: &str = "198.51.100.7";
const OTHER: &str = "198.51.100.8";
const THIRD: &str = "198.51.100.9";
const ROGUE_DNS: &str = "198.51.100.53";
const ALLOWED6: &str = "2001:db8:7::7";
const OTHER6: &str = "2001:db8:7::8";
const WORLD: [&str; 6] = [ALLOWED, OTHER, THIRD, ROGUE_DNS, ALLOWED6, OTHER6];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The island's resolver.
fn zone() -> Zone {
    let a = |s: &str| Rr::A(s.parse().unwrap());
    Zone::start(
        "127.0.0.1:53",
        vec![
            ("allowed.test", 60, a(ALLOWED)),
            ("other.test", 60, a(OTHER)),
            ("multi.test", 60, a(ALLOWED)),
            ("multi.test", 60, a(THIRD)),
            ("www.wild.test", 60, Rr::Cname("edge.cdn.test")),
            ("edge.cdn.test", 60, a(THIRD)),
            ("short.test", 1, a(THIRD)),
            ("six.test", 60, Rr::Aaaa(ALLOWED6.parse().unwrap())),
        ],
    )
}

/// A greeter (TCP 7000) and an echo (UDP 7001) on each world address.
fn servers(world: &World) {
    world.run(|| {
        for a in [ALLOWED, OTHER, THIRD, ALLOWED6, OTHER6] {
            greeter(ip(a), 7000, &format!("hello from {a}"));
            echo(ip(a), 7001, &format!("echo from {a}: "));
        }
    });
}

fn run(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    unchanged_rules(|| sbx(cwd.path(), home.path(), args).output())
}

/// Runs `f` (a run of the sandbox) and checks that it left the machine's
/// and the island's nftables rulesets as they were: the firewall is only
/// ever in the sandbox's own network namespace.
fn unchanged_rules<T>(f: impl FnOnce() -> T) -> T {
    let before = Rulesets::read();
    let got = f();
    if let Some(before) = before {
        before.assert_unchanged("after the run");
    }
    got
}

/// A shell line that prints what HOST:PORT says over TCP, or `unreachable`.
fn tcp(host: &str, port: u16) -> String {
    format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port} && cat <&3' 2>/dev/null || echo unreachable")
}

/// A shell line that sends `ping` over UDP to HOST:PORT and prints the
/// answer, or `no answer`.
fn udp(host: &str, port: u16) -> String {
    format!(
        "timeout 3 bash -c 'exec 3<>/dev/udp/{host}/{port} && printf ping >&3 && head -n 1 <&3' 2>/dev/null || echo 'no answer'"
    )
}

/// A shell line that runs `line` and prints `took N ms` after its output.
fn timed(line: &str) -> String {
    format!("s=$(date +%s%N); {line}; e=$(date +%s%N); echo \"took $(( (e - s) / 1000000 )) ms\"")
}

/// The milliseconds of each `took N ms` line of `out`, the rest of the text.
fn timings(out: &str) -> (Vec<u64>, String) {
    let mut ms = Vec::new();
    let mut rest = String::new();
    for l in out.lines() {
        match l.strip_prefix("took ").and_then(|t| t.strip_suffix(" ms")) {
            Some(n) => ms.push(n.parse().unwrap()),
            None => rest.push_str(&format!("{l}\n")),
        }
    }
    (ms, rest)
}

/// The report's lines, parsed.
fn report(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn events<'a>(lines: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

macro_rules! both_backends {
    ($body:ident: $pasta:ident, $slirp:ident) => {
        #[test]
        fn $pasta() {
            if netutil::available() {
                world_island(&WORLD, |w| $body(w, "pasta"));
            }
        }
        #[test]
        fn $slirp() {
            if netutil::available() {
                world_island(&WORLD, |w| $body(w, "slirp4netns"));
            }
        }
    };
}

/// Without egress rules, `--net user` reaches the world through either
/// backend: the baseline the rules narrow.
fn baseline(world: &World, backend: &str) {
    servers(world);
    let _z = zone();
    let net = format!("user:{backend}");
    let script = format!("{}; {}", tcp("allowed.test", 7000), tcp(OTHER, 7000));
    let out = run(&["--net", &net, "--", "sh", "-c", &script]).ok();
    assert_eq!(out, format!("hello from {ALLOWED}\nhello from {OTHER}\n"));
}
both_backends!(baseline: pasta_reaches_the_world_without_rules, slirp4netns_reaches_the_world_without_rules);

/// Under `--allow-host allowed.test`: TCP and UDP to it work; other.test
/// is refused by the resolver at once, its address used directly is
/// refused at once (TCP and UDP), and each refusal is in the report with
/// its fields, between the start and the exit.
fn names_and_addresses(world: &World, backend: &str) {
    servers(world);
    let z = zone();
    let out_dir = Dir::new();
    let report_path = out_dir.path().join("net.jsonl");
    let script = [
        tcp("allowed.test", 7000),
        udp("allowed.test", 7001),
        timed("getent hosts other.test || echo \"other.test: $?\""),
        timed(&tcp(OTHER, 7000)),
        timed(&udp(OTHER, 7001)),
    ]
    .join("; ");
    let net = format!("user:{backend}");
    let rf = report_path.to_str().unwrap();
    let args =
        ["--net", &net, "--allow-host", "allowed.test", "--report-file", rf, "--", "sh", "-c", &script];
    let (ms, out) = timings(&run(&args).ok());
    assert_eq!(
        out,
        format!("hello from {ALLOWED}\necho from {ALLOWED}: ping\nother.test: 2\nunreachable\nno answer\n")
    );
    note(&format!("{backend}: refusals inside took {ms:?} ms (name, TCP, UDP)"));
    assert!(ms.iter().all(|&t| t < 2000), "a refusal took {ms:?} ms");
    assert!(!z.asked().iter().any(|n| n == "other.test"), "a refused name reached the host's resolver");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&report_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the report file is created private");
    let lines = report(&report_path);
    let ev: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!((ev.first(), ev.last()), (Some(&"start"), Some(&"exit")), "{ev:?}");
    assert_eq!(lines.last().unwrap()["exit-code"], 0);
    let names = events(&lines, "name-refused");
    assert!(names.iter().all(|n| n["name"] == "other.test" && n["rule"] == "no-allow-host"), "{names:?}");
    assert!(names.iter().any(|n| n["type"] == "A"), "{names:?}");
    let conns = events(&lines, "connection-refused");
    let seen: Vec<(String, u64, String, String)> = conns
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("address"), c["port"].as_u64().unwrap(), s("protocol"), s("rule"))
        })
        .collect();
    let want =
        |proto: &str, port| (OTHER.to_string(), port, proto.to_string(), "unknown-address".to_string());
    assert!(seen.contains(&want("tcp", 7000)) && seen.contains(&want("udp", 7001)), "{seen:?}");
    assert!(seen.iter().all(|(a, ..)| a == OTHER), "only the other server was refused: {seen:?}");
    let allowed = events(&lines, "name-allowed");
    assert!(allowed
        .iter()
        .any(|a| a["name"] == "allowed.test" && a["addresses"] == serde_json::json!([ALLOWED])));
    assert!(lines.iter().all(|l| l["time"].as_str().is_some_and(|t| t.len() == 24 && t.ends_with('Z'))));
}
both_backends!(names_and_addresses: pasta_allows_names_and_refuses_the_rest_at_once, slirp4netns_allows_names_and_refuses_the_rest_at_once);

/// A wildcard matches the names beneath it through a CNAME, and a port
/// narrows it; an answer with several addresses allows all of them;
/// --allow-addr allows an address by number on its port only.
#[test]
fn wildcards_ports_several_addresses_and_allow_addr() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        let script = [
            tcp("www.wild.test", 7000),
            udp("www.wild.test", 7001),
            "getent hosts wild.test || echo \"wild.test: $?\"".to_string(),
            "getent hosts edge.cdn.test || echo \"edge.cdn.test: $?\"".to_string(),
            tcp("multi.test", 7000),
            tcp(ALLOWED, 7000),
            udp(OTHER, 7001),
            tcp(OTHER, 7000),
        ]
        .join("; ");
        let args = [
            "--net",
            "user:pasta",
            "--allow-host",
            "*.wild.test:7001",
            "--allow-host",
            "multi.test",
            "--allow-addr",
            &format!("{OTHER}:7001"),
            "--",
            "sh",
            "-c",
            &script,
        ];
        let out = run(&args).ok();
        let want = [
            "unreachable".to_string(),
            format!("echo from {THIRD}: ping"),
            "wild.test: 2".into(),
            "edge.cdn.test: 2".into(),
            format!("hello from {ALLOWED}"),
            format!("hello from {ALLOWED}"),
            format!("echo from {OTHER}: ping"),
            "unreachable".into(),
        ];
        // multi.test's two addresses: bash connects to the first, and the
        // second was allowed by the same answer (reached by number).
        assert_eq!(out, want.join("\n") + "\n");
        let second = run(&[
            "--net",
            "user:pasta",
            "--allow-host",
            "multi.test",
            "--",
            "sh",
            "-c",
            &format!("getent ahostsv4 multi.test >/dev/null; {}", tcp(THIRD, 7000)),
        ])
        .ok();
        assert_eq!(second, format!("hello from {THIRD}\n"), "the answer's second address");
    });
}

/// An address allowed by an answer stops being allowed when its time is
/// up (here TTL 1 s, and a floor of 1 s through the debug builds' hook).
#[test]
fn a_ttl_expiry_is_honoured() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        let out_dir = Dir::new();
        let rf = out_dir.path().join("r.jsonl");
        let script = format!(
            "getent hosts short.test >/dev/null; {}; sleep 3; {}",
            tcp(THIRD, 7000),
            timed(&tcp(THIRD, 7000))
        );
        let (cwd, home) = (Dir::new(), Dir::new());
        let args =
            ["--net", "user:pasta", "--allow-host", "short.test", "--report-file", rf.to_str().unwrap()];
        let mut a = args.to_vec();
        a.extend(["--", "sh", "-c", &script]);
        let out = unchanged_rules(|| {
            sbx(cwd.path(), home.path(), a).env("SANDBOX_TEST_DNS_FLOOR_MS", "1000").output()
        })
        .ok();
        let (ms, text) = timings(&out);
        assert_eq!(text, format!("hello from {THIRD}\nunreachable\n"));
        assert!(ms[0] < 2000, "the refusal after expiry took {ms:?} ms");
        let lines = report(&rf);
        let allowed = events(&lines, "name-allowed");
        assert_eq!(allowed[0]["ttl"], 1);
        let refused = events(&lines, "connection-refused");
        assert_eq!(
            (refused[0]["rule"].as_str(), refused[0]["name"].as_str()),
            (Some("expired"), Some("short.test"))
        );
    });
}

/// IPv6 is filtered as IPv4 is (pasta copies the island's IPv6 route).
#[test]
fn ipv6_is_filtered_too() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        let script = [tcp("six.test", 7000), timed(&tcp(OTHER6, 7000)), timed(&udp(OTHER6, 7001))].join("; ");
        let out = run(&["--net", "user:pasta", "--allow-host", "six.test", "--", "sh", "-c", &script]).ok();
        let (ms, text) = timings(&out);
        assert_eq!(text, format!("hello from {ALLOWED6}\nunreachable\nno answer\n"));
        assert!(ms.iter().all(|&t| t < 2000), "{ms:?}");
    });
}

/// The command cannot lift the rules: it holds no capability in its
/// network namespace (nft, iptables, ip and netlink fail), its
/// resolv.conf is read-only, and a resolver of its own choosing (another
/// server's address, the backend's forwarder) is an address nobody
/// allowed. Afterwards the other server is still refused.
#[test]
fn the_command_cannot_lift_the_rules() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        let rogue = world.run(|| {
            Zone::start(&format!("{ROGUE_DNS}:53"), vec![("other.test", 60, Rr::A(OTHER.parse().unwrap()))])
        });
        let script = [
            "/usr/sbin/nft list ruleset >/dev/null 2>&1 || echo \"nft list: $?\"",
            "/usr/sbin/nft flush ruleset 2>/dev/null || echo \"nft flush: $?\"",
            "/usr/sbin/nft add rule inet sandbox output accept 2>/dev/null || echo \"nft add: $?\"",
            "/usr/sbin/iptables -P OUTPUT ACCEPT 2>/dev/null || echo \"iptables: $?\"",
            "ip route add 198.51.100.0/24 dev lo 2>/dev/null || echo \"ip route: $?\"",
            "echo nameserver 198.51.100.53 > /etc/resolv.conf 2>/dev/null || echo \"resolv.conf: $?\"",
            "dig +time=1 +tries=1 @198.51.100.53 other.test >/dev/null || echo \"dig rogue: $?\"",
            "dig +time=1 +tries=1 +tcp @198.51.100.53 other.test >/dev/null || echo \"dig rogue tcp: $?\"",
            "dig +time=1 +tries=1 @10.0.2.3 other.test >/dev/null || echo \"dig forwarder: $?\"",
            &tcp(OTHER, 7000),
        ]
        .join("; ");
        for backend in ["pasta", "slirp4netns"] {
            let net = format!("user:{backend}");
            let out = run(&["--net", &net, "--allow-host", "allowed.test", "--", "sh", "-c", &script]).ok();
            assert_eq!(
                out,
                "nft list: 1\nnft flush: 1\nnft add: 1\niptables: 4\nip route: 2\nresolv.conf: 2\n\
                 dig rogue: 9\ndig rogue tcp: 9\ndig forwarder: 9\nunreachable\n",
                "{backend}"
            );
        }
        assert!(rogue.asked().is_empty(), "the rogue resolver was reached: {:?}", rogue.asked());
    });
}

/// Programs that ignore proxy variables work: git over the git protocol,
/// curl without proxy settings, a UDP client (python's).
#[test]
fn programs_that_ignore_proxy_variables_work() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        let repos = tempfile::tempdir().unwrap();
        let repo = repos.path().join("repo.git");
        let git = |args: &[&str], dir: &Path| {
            let o = out(std::process::Command::new("git")
                .args(["-c", "safe.directory=*"])
                .args(args)
                .current_dir(dir));
            assert_eq!(o.code(), 0, "git {args:?}: {}", o.stderr());
        };
        git(&["init", "-q", "--bare", "-b", "main", repo.to_str().unwrap()], repos.path());
        let work = tempfile::tempdir().unwrap();
        git(&["init", "-q", "-b", "main", "."], work.path());
        std::fs::write(work.path().join("README"), "hello through git\n").unwrap();
        git(
            &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
            work.path(),
        );
        git(&["add", "README"], work.path());
        git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "readme"], work.path());
        git(&["push", "-q", repo.to_str().unwrap(), "main"], work.path());
        let base = repos.path().to_str().unwrap().to_string();
        let mut daemon = world.run(move || {
            let mut cmd = std::process::Command::new("git");
            cmd.args([
                "daemon",
                "--export-all",
                "--reuseaddr",
                &format!("--base-path={base}"),
                "--listen=198.51.100.7",
                "--port=9418",
            ]);
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
            spawn(&mut cmd)
        });
        world.run(|| http(ip(ALLOWED), 8080, "hello over http\n"));
        assert!(wait_for(10.0, || world.run(|| std::net::TcpStream::connect((ip(ALLOWED), 9418)).is_ok())));
        let script = [
            "git clone -q git://allowed.test/repo.git clone 2>&1 && cat clone/README",
            "curl -sS --max-time 5 http://allowed.test:8080/",
            "curl -s --max-time 5 http://198.51.100.8:7000/ || echo \"curl other: $?\"",
            "python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(b\"py\", (\"allowed.test\", 7001)); print(s.recv(100).decode().strip())'",
        ]
        .join("; ");
        let args = ["--net", "user", "--allow-host", "allowed.test", "--", "sh", "-c", &script];
        let (cwd, home) = (Dir::new(), Dir::new());
        let o = unchanged_rules(|| sbx(cwd.path(), home.path(), args).output());
        daemon.kill();
        daemon.wait();
        assert_eq!(
            o.ok(),
            format!("hello through git\nhello over http\ncurl other: 7\necho from {ALLOWED}: py\n")
        );
    });
}

/// The host processes (and threads) that are in, or hold a descriptor of,
/// the network namespace `ns` (`net:[inode]`).
fn holders(ns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let link =
            |p: String| std::fs::read_link(p).map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
        for t in std::fs::read_dir(format!("/proc/{name}/task")).into_iter().flatten().flatten() {
            if link(format!("/proc/{name}/task/{}/ns/net", t.file_name().to_string_lossy())) == ns {
                out.push(format!("{name} (in it)"));
            }
        }
        for fd in std::fs::read_dir(format!("/proc/{name}/fd")).into_iter().flatten().flatten() {
            if link(fd.path().to_string_lossy().into_owned()) == ns {
                out.push(format!("{name} (fd)"));
            }
        }
    }
    out
}

/// The sandbox's network namespace, once the command runs: the first
/// status line names it.
fn sandbox_netns(status: &mut Lines) -> String {
    let first: serde_json::Value = serde_json::from_str(&status.line()).unwrap();
    format!("net:[{}]", first["net-namespace"].as_u64().expect("net-namespace in the status line"))
}

/// Nothing is left on the host after the run, nor after `kill -9` of the
/// monitor: no backend, no helper, no process or descriptor holding the
/// sandbox's network namespace (where the firewall and the DNS filter's
/// sockets live), so the namespace is gone with all of it.
#[test]
fn nothing_is_left_after_the_run_or_kill_9() {
    if !netutil::available() {
        return;
    }
    world_island(&WORLD, |world| {
        servers(world);
        let _z = zone();
        for kill in [false, true] {
            let (cwd, home) = (Dir::new(), Dir::new());
            let script =
                format!("{} >&2; exec sleep {}", tcp("allowed.test", 7000), if kill { 600 } else { 1 });
            let args = [
                "--net",
                "user:pasta",
                "--allow-host",
                "allowed.test",
                "--status-fd",
                "1",
                "--",
                "sh",
                "-c",
                &script,
            ];
            let rules = Rulesets::read();
            let mut child = sbx(cwd.path(), home.path(), args).spawn();
            let ns = sandbox_netns(&mut child.lines());
            let backends = netutil::backends_of(child.id());
            assert!(!backends.is_empty() && !holders(&ns).is_empty(), "the sandbox runs");
            if kill {
                child.kill();
            }
            child.wait();
            assert!(
                wait_for(5.0, || holders(&ns).is_empty()),
                "kill -9 {kill}: still held: {:?}",
                holders(&ns)
            );
            let gone = || backends.iter().all(|&p| !netutil::running(p));
            assert!(wait_for(5.0, gone), "kill -9 {kill}: a backend is left: {backends:?}");
            if let Some(rules) = &rules {
                rules.assert_unchanged(&format!("kill -9 {kill}"));
            }
        }
    });
}

/// With --allow-host-loopback the host's loopback services stay reachable
/// through the gateway's address, and nothing else opens; the report goes
/// to a descriptor (--report-fd 2, here the command's stderr too).
fn host_loopback(world: &World, backend: &str) {
    servers(world);
    let _z = zone();
    let svc = netutil::Service::start("hello from the host");
    let gw = if backend == "slirp4netns" { "10.0.2.2" } else { netutil::GATEWAY };
    let net = format!("user:{backend}");
    let script = format!("{}; {}", tcp(gw, svc.port), tcp(OTHER, 7000));
    let args = [
        "--net",
        &net,
        "--allow-host-loopback",
        "--allow-host",
        "allowed.test",
        "--report-fd",
        "2",
        "--",
        "sh",
        "-c",
        &script,
    ];
    let o = run(&args);
    assert_eq!(o.ok(), format!("hello from the host\nunreachable\n"));
    let lines: Vec<serde_json::Value> =
        o.stderr().lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let refused = events(&lines, "connection-refused");
    assert_eq!(refused.len(), 1, "{lines:?}");
    assert_eq!((refused[0]["address"].as_str(), refused[0]["port"].as_u64()), (Some(OTHER), Some(7000)));
    assert_eq!(events(&lines, "exit").len(), 1);
}
both_backends!(host_loopback: pasta_host_loopback_stays_reachable_when_allowed, slirp4netns_host_loopback_stays_reachable_when_allowed);

/// The report file is opened as the pid file is: a symlink the command
/// could have planted (to ~/.bashrc) is refused with one line, and the
/// file it points to is never written.
#[test]
fn the_report_file_is_never_written_through_a_symlink() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let target = home.file("bashrc", "untouched\n");
    let link = cwd.path().join("net.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let args =
        ["--net", "user", "--allow-host", "a.test", "--report-file", link.to_str().unwrap(), "--", "true"];
    let o = sbx(cwd.path(), home.path(), args).output();
    o.fails(125, "is a symlink");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
}

/// A published port still answers the host: replies to connections that
/// come in are not refused. (pasta hands a connection from the host's
/// loopback to the namespace's own loopback, which is not filtered;
/// slirp4netns brings it in through the tap device, and its replies meet
/// the firewall.)
fn published(_world: &World, backend: &str) {
    let (cwd, home) = (Dir::new(), Dir::new());
    let server = "use IO::Socket::INET; $| = 1; \
        my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => 8080, Listen => 5, ReuseAddr => 1) \
        or die \"listen: $!\"; print \"listening\\n\"; while (my $c = $s->accept) { print $c \"hello from inside\\n\"; close $c; }";
    let net = format!("user:{backend}");
    let args = [
        "--net",
        &net,
        "--allow-host",
        "allowed.test",
        "--publish",
        "18081:8080",
        "--",
        "perl",
        "-e",
        server,
    ];
    let rules = Rulesets::read();
    let mut child = sbx(cwd.path(), home.path(), args).spawn();
    assert_eq!(child.lines().next_line().as_deref(), Some("listening"));
    // Asked again while the machine is busy; one answer is enough.
    let answered = || netutil::fetch("127.0.0.1:18081").as_deref() == Some("hello from inside\n");
    assert!(wait_for(20.0, answered), "{backend}: the published port did not answer");
    child.kill();
    child.wait();
    if let Some(rules) = rules {
        rules.assert_unchanged("kill -9");
    }
}
both_backends!(published: pasta_published_ports_still_answer, slirp4netns_published_ports_still_answer);
