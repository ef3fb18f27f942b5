//! Landlock's TCP port rules and what they do not see (issue 14, item 5):
//! landlock checks `connect` and `bind` of plain TCP sockets only, so the
//! filter that comes with port rules (seccomp/landlock.json) refuses the
//! other ways to a TCP connection: MPTCP and other stream protocols, socket
//! types and families landlock does not check, and TCP Fast Open, which
//! connects inside a send. Each test has a host-side listener on a port the
//! rules do not allow and checks that it never got a connection, and a
//! control run without port rules shows the same probe reaching it.

mod common;

use std::net::TcpListener;

use common::*;

/// Whether the kernel's landlock ABI is at least `need`; a skip (a
/// failure under CI=true) when not.
fn landlock_abi(need: i64) -> bool {
    const VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute and size 0 the kernel reads no memory.
    let abi =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, VERSION) };
    if abi >= need {
        return true;
    }
    skip(&format!("landlock ABI {need} needed, this kernel has {abi}"));
    false
}

/// Tries every way to a TCP connection on 127.0.0.1:PORT (argv[1]) and
/// prints one `name result` line each: `ok` or the errno name.
const PROBE: &str = r#"
import errno, socket, sys
port = int(sys.argv[1])
MPTCP, SCTP, ULP, FASTOPEN_CONNECT = 262, 132, 31, 30
def run(name, f):
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
def sock(*a):
    s = socket.socket(*a)
    s.settimeout(3)
    return s
def mptcp():
    sock(socket.AF_INET, socket.SOCK_STREAM, MPTCP).connect(("127.0.0.1", port))
def mptcp6():
    sock(socket.AF_INET6, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, MPTCP)
def sctp():
    sock(socket.AF_INET, socket.SOCK_SEQPACKET, SCTP)
def fastopen_sendto():
    sock().sendto(b"x", socket.MSG_FASTOPEN, ("127.0.0.1", port))
def fastopen_sendmsg():
    sock().sendmsg([b"x"], [], socket.MSG_FASTOPEN, ("127.0.0.1", port))
def fastopen_connect():
    sock().setsockopt(socket.IPPROTO_TCP, FASTOPEN_CONNECT, 1)
def ulp():
    sock().setsockopt(socket.IPPROTO_TCP, ULP, b"tls")
def plain():
    sock().connect(("127.0.0.1", port))
def udp():
    sock(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", port))
for f in (mptcp, mptcp6, sctp, fastopen_sendto, fastopen_sendmsg, fastopen_connect, ulp, plain, udp):
    run(f.__name__, f)
"#;

/// `sandbox ARGS -- python3 -c PROBE PORT`: the probe's results by name.
fn probe(args: &[&str], port: u16) -> std::collections::BTreeMap<String, String> {
    let (cwd, home) = (Dir::new(), Dir::new());
    let port = port.to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "python3", "-c", PROBE, &port]);
    let out = sbx(cwd.path(), home.path(), &all).output();
    let text = out.ok();
    text.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A listener on 127.0.0.1 that the test asks, at the end, whether anyone
/// came (it accepts without blocking).
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn connections(l: &TcpListener) -> usize {
    // A connection the probe made is queued before the sandbox exits.
    std::iter::from_fn(|| l.accept().ok()).count()
}

/// What every run with port rules must show: each way around them refused
/// with the errno a kernel without it would give, plain TCP checked by
/// landlock, UDP (which port rules do not cover) left alone. (Python names
/// EOPNOTSUPP, 95, by its alias ENOTSUP.)
fn assert_refused(got: &std::collections::BTreeMap<String, String>, plain: &str, what: &str) {
    let want = [
        ("mptcp", "EPROTONOSUPPORT"),
        ("mptcp6", "EPROTONOSUPPORT"),
        ("sctp", "EPROTONOSUPPORT"),
        ("fastopen_sendto", "ENOTSUP"),
        ("fastopen_sendmsg", "ENOTSUP"),
        ("fastopen_connect", "ENOTSUP"),
        ("ulp", "ENOTSUP"),
        ("plain", plain),
        ("udp", "ok"),
    ];
    for (name, errno) in want {
        assert_eq!(got.get(name).map(String::as_str), Some(errno), "{what}: {name} in {got:?}");
    }
}

#[test]
fn mptcp_and_fast_open_do_not_pass_the_port_rules() {
    if !landlock_abi(4) {
        return;
    }
    let (denied, port) = listener();
    let (_allowed, allowed_port) = listener();
    let allow = allowed_port.to_string();
    for (args, what) in [
        (vec!["--net", "host", "--allow-connect", &allow], "--allow-connect"),
        (vec!["--net", "host", "--allow-bind", "0"], "--allow-bind"),
        (vec!["--net", "host", "--allow-connect", &allow, "--seccomp", "none"], "--seccomp none"),
        (vec!["--net", "host", "--allow-connect", &allow, "--seccomp-log"], "--seccomp-log"),
    ] {
        assert_refused(&probe(&args, port), "EACCES", what);
        assert_eq!(connections(&denied), 0, "{what}: the host's listener on {port} got a connection");
    }
    // The control: without port rules the same probe reaches the listener
    // (plain, MPTCP and fast open: three connections at least).
    let got = probe(&["--net", "host"], port);
    assert_eq!(got.get("mptcp").map(String::as_str), Some("ok"), "{got:?}");
    assert!(connections(&denied) >= 3, "control: {got:?}");
}

#[test]
fn landlock_only_mode_keeps_no_tcp_for_mptcp_and_fast_open() {
    if !landlock_abi(6) {
        return;
    }
    let (denied, port) = listener();
    assert_refused(&probe(&["--mode", "landlock"], port), "EACCES", "--mode landlock");
    assert_eq!(connections(&denied), 0, "the host's listener on {port} got a connection");
    let got = probe(&["--mode", "landlock", "--net", "host"], port);
    assert_eq!(got.get("mptcp").map(String::as_str), Some("ok"), "control, --net host: {got:?}");
    assert!(connections(&denied) >= 3, "control: {got:?}");
}
