//! Landlock (issue 5): file and port rules, scopes, landlock-only mode.
//! Each probe runs python3 inside and prints the errno name it got, so the
//! assertions name EACCES or EPERM, not just "failed"; each also checks the
//! host side, and a control run shows the same probe succeeding when the
//! rule allows it (so no assertion passes for an unrelated reason).

mod audit;
mod common;

use std::time::Duration;

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

/// `sandbox ARGS -- python3 -c SCRIPT SCRIPT_ARGS`, stdout lines.
fn py(cwd: &Dir, home: &Dir, args: &[&str], script: &str, script_args: &[&str]) -> Out {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--", "python3", "-c", script].map(String::from));
    all.extend(script_args.iter().map(|s| s.to_string()));
    sbx(cwd.path(), home.path(), all).output()
}

/// Prints `ok` or the errno name of each `open(path, mode)`.
const OPEN: &str = r#"
import errno, sys
for arg in sys.argv[1:]:
    mode, path = arg.split(":", 1)
    try:
        open(path, mode).write("written\n") if mode == "w" else open(path).read()
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"#;

#[test]
fn explicit_rules_a_read_write_bind_not_listed_cannot_be_written() {
    if !landlock_abi(3) {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let (a, b, c) = (Dir::new(), Dir::new(), Dir::new());
    let secret = c.file("secret", "host secret\n");
    let (a_p, b_p, c_p) =
        (a.path().to_str().unwrap(), b.path().to_str().unwrap(), c.path().to_str().unwrap());
    let args = [
        "--rw",
        a_p,
        "--rw",
        b_p,
        "--ro",
        c_p,
        "--allow-read",
        "/usr",
        "--allow-read",
        "/etc",
        "--allow-write",
        a_p,
    ];
    let probes = [
        format!("w:{a_p}/f"),
        format!("w:{b_p}/f"),
        format!("r:{}", secret.display()),
        "r:/etc/hostname".into(),
    ];
    let probes: Vec<&str> = probes.iter().map(String::as_str).collect();
    let out = py(&cwd, &home, &args, OPEN, &probes).ok();
    // b has no write rule beneath it: its mount is read-only too (EROFS).
    assert_eq!(out.lines().collect::<Vec<_>>(), ["ok", "EROFS", "EACCES", "ok"], "{out}");
    assert_eq!(std::fs::read_to_string(a.path().join("f")).unwrap(), "written\n");
    assert!(!b.path().join("f").exists(), "nothing landed on the host");
    // Control: the mirror of the mounts allows the same writes and reads.
    let args = ["--rw", a_p, "--rw", b_p, "--ro", c_p];
    let out = py(&cwd, &home, &args, OPEN, &probes).ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["ok", "ok", "ok", "ok"], "{out}");
}

#[test]
fn exec_rules_narrow_execution() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = "cp /usr/bin/true ./t && ./t; echo $?";
    let out = sbx(cwd.path(), home.path(), ["--allow-exec", "/usr", "--", "sh", "-c", script]).output().ok();
    assert_eq!(out.trim(), "126", "a copy in the writable cwd cannot run");
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output().ok();
    assert_eq!(out.trim(), "0", "control: the mirror lets it run");
}

#[test]
fn a_missing_rule_path_and_contradictions_are_errors() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(cwd.path(), home.path(), ["--allow-read", "/nonexistent-ll", "--", "true"]).output();
    out.fails(125, "landlock rule /nonexistent-ll: No such file or directory");
    let out = sbx(cwd.path(), home.path(), ["--no-landlock", "--allow-read", "/usr", "--", "true"]).output();
    out.fails(125, "--no-landlock cannot be combined");
    let out = sbx(cwd.path(), home.path(), ["--allow-connect", "70000", "--", "true"]).output();
    assert_eq!(out.code(), 125, "{}", out.stderr());
}

#[test]
fn explain_shows_landlock_and_no_landlock() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let text = sbx(cwd.path(), home.path(), ["explain", "--", "true"]).output().ok();
    assert!(text.contains("landlock:   mirror of the mounts"), "{text}");
    let text = sbx(cwd.path(), home.path(), ["explain", "--no-landlock", "--", "true"]).output().ok();
    assert!(text.contains("landlock:   off (--no-landlock)"), "{text}");
}

const CONNECT: &str = r#"
import errno, socket, sys
for port in sys.argv[1:]:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(port)))
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"#;

#[test]
fn tcp_connect_only_to_allowed_ports_under_net_host() {
    if !landlock_abi(4) {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pd) =
        (allowed.local_addr().unwrap().port().to_string(), denied.local_addr().unwrap().port().to_string());
    let args = ["--net", "host", "--allow-connect", &pa];
    let out = py(&cwd, &home, &args, CONNECT, &[&pa, &pd]).ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["ok", "EACCES"], "{out}");
    denied.set_nonblocking(true).unwrap();
    assert!(denied.accept().is_err(), "no connection reached the denied port");
    let out = py(&cwd, &home, &["--net", "host"], CONNECT, &[&pd]).ok();
    assert_eq!(out.trim(), "ok", "control: without port rules TCP is not restricted");
}

#[test]
fn abstract_unix_sockets_of_the_host_are_out_of_reach_under_net_host() {
    if !landlock_abi(6) {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let (cwd, home) = (Dir::new(), Dir::new());
    let name = format!("sandbox-test-{}", token());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let script = r#"
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("\0" + sys.argv[1])
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"#;
    let out = py(&cwd, &home, &["--net", "host"], script, &[&name]).ok();
    assert_eq!(out.trim(), "EPERM");
    assert!(listener.accept().is_err(), "the host listener was never reached");
    let out = py(&cwd, &home, &["--net", "host", "--allow-abstract-unix"], script, &[&name]).ok();
    assert_eq!(out.trim(), "ok", "control: --allow-abstract-unix lifts the scope");
}

#[test]
fn signals_to_host_processes_are_scoped_under_share_pid() {
    if !landlock_abi(6) {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let mut sleeper = std::process::Command::new("sleep");
    sleeper.arg("1000");
    as_caller(&mut sleeper);
    let mut sleeper = spawn(&mut sleeper);
    let pid = sleeper.id().to_string();
    let script = r#"
import errno, os, signal, sys
for sig in (0, signal.SIGTERM):
    try:
        os.kill(int(sys.argv[1]), sig)
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"#;
    let out = py(&cwd, &home, &["--share", "pid"], script, &[&pid]).ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["EPERM", "EPERM"], "{out}");
    assert!(sleeper.try_wait().is_none(), "the host process is still alive");
    let control = py(&cwd, &home, &["--share", "pid", "--allow-signals"], script, &[&pid]).ok();
    assert_eq!(control.lines().next(), Some("ok"), "control: --allow-signals lifts the scope");
    sleeper.kill();
    sleeper.wait();
}

/// `--log-denials` sets landlock's log flags: the command's denial reaches
/// the kernel's audit log as a LANDLOCK_ACCESS record naming the path;
/// without the flag the same denial leaves no record.
#[test]
fn log_denials_puts_the_commands_denials_in_the_audit_log() {
    if !landlock_abi(7) || !root_or_skip("reading the kernel's audit log") {
        return;
    }
    let audit = audit::AuditLog::open();
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let denied = d.file(&format!("denied-{}", token()), "secret\n");
    let (d_p, denied_p) = (d.path().to_str().unwrap(), denied.to_str().unwrap());
    let run = |log: &[&str]| {
        let mut args = vec!["--ro", d_p, "--allow-read", "/usr", "--allow-read", "/etc"];
        args.extend(log);
        args.extend(["--", "cat", denied_p]);
        audit.enable(true);
        let out = sbx(cwd.path(), home.path(), &args).output();
        assert_eq!(out.code(), 1, "{}", out.stderr());
        assert!(out.stderr().contains("Permission denied"), "{}", out.stderr());
        out
    };
    let mentions = |r: &audit::Record| r.kind == 1423 && r.text.contains(&format!("path=\"{denied_p}\""));
    run(&[]);
    let quiet = audit.records_until(Duration::from_secs(1), |_| false);
    assert!(!quiet.iter().any(mentions), "logged without --log-denials: {quiet:?}");
    let out = run(&["-v", "--log-denials"]);
    assert!(out.stderr().contains("log denials: true"), "{}", out.stderr());
    let logged = audit.records_until(Duration::from_secs(10), |r| r.iter().any(mentions));
    let record = logged.iter().find(|r| mentions(r));
    let record = record.unwrap_or_else(|| panic!("no LANDLOCK_ACCESS record for {denied_p}: {logged:?}"));
    assert!(record.text.contains("blockers=fs.read_file"), "{record:?}");
}

/// Runs the sandbox inside a user namespace whose max_user_namespaces is 0,
/// so that its own clone(CLONE_NEWUSER) is refused.
fn without_user_namespaces(cwd: &Dir, home: &Dir, args: &[&str]) -> Out {
    let script = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"";
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "sh", "-c", script, bin().to_str().unwrap()])
        .args(args)
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path());
    as_caller(&mut cmd);
    out(&mut cmd)
}

#[test]
fn landlock_only_mode_where_user_namespaces_are_refused() {
    if !landlock_abi(6) {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let other = Dir::new();
    let secret = other.file("secret", "host secret\n");
    let secret = secret.to_str().unwrap();
    let out = without_user_namespaces(&cwd, &home, &["--", "cat", secret]);
    out.fails(125, "create namespaces");
    assert!(out.stderr().contains("--mode landlock"), "{}", out.stderr());
    assert!(!out.stdout().contains("host secret"));

    let script =
        format!("cat {secret}; echo rc=$?; echo made > made && cat made; ls /tmp >/dev/null; echo tmp=$?");
    for how in ["--best-effort", "--mode=landlock"] {
        let out = without_user_namespaces(&cwd, &home, &[how, "--", "sh", "-c", &script]);
        let stdout = out.ok();
        assert!(!stdout.contains("host secret"), "{how}: {stdout}");
        assert!(stdout.contains("rc=1\nmade\ntmp=2"), "{how}: {stdout}\n{}", out.stderr());
        assert!(out.stderr().contains("Permission denied"), "{how}: {}", out.stderr());
    }
    let out = without_user_namespaces(&cwd, &home, &["--best-effort", "--", "true"]);
    assert!(out.stderr().contains("warning: user namespaces are refused here"), "{}", out.stderr());
    assert!(out.stderr().contains("running in landlock-only mode"), "{}", out.stderr());
}

#[test]
fn landlock_only_mode_refuses_options_that_need_namespaces() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(cwd.path(), home.path(), ["--mode", "landlock", "--tmpfs", "/x", "--", "true"]).output();
    out.fails(125, "--tmpfs /x: needs namespaces");
    let out = sbx(cwd.path(), home.path(), ["--mode", "landlock", "--hostname", "h", "--", "true"]).output();
    out.fails(125, "--hostname h: needs namespaces");
    let out = sbx(cwd.path(), home.path(), ["--mode", "landlock", "--ro", "/usr:/x", "--", "true"]).output();
    out.fails(125, "/usr:/x: needs namespaces");
    if !landlock_abi(6) {
        return;
    }
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--mode", "landlock", "--best-effort", "--ro", "/usr:/x", "--", "true"],
    )
    .output();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("dropped --ro /usr:/x"), "{}", out.stderr());
    let mut child =
        sbx(cwd.path(), home.path(), ["--mode", "landlock", "--", "sh", "-c", "echo $$; sleep 5"]).spawn();
    let pid: i32 = child.lines().line().trim().parse().unwrap();
    let sid = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = sid.rsplit(") ").next().unwrap().split(' ').collect();
    assert_eq!(fields[3], pid.to_string(), "a new session: {sid}");
    child.kill();
    child.wait();
}
