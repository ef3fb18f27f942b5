//! Integration tests of the seccomp filters (issue 6): a try-syscall helper
//! (tests/helpers/try-syscall.c, built with gcc) makes one call inside the
//! sandbox and exits with its errno; each case also runs with the rule
//! lifted, or outside, as a control, so that a test cannot pass by the
//! kernel refusing on its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;

const EPERM: i32 = libc::EPERM;
const ENOSYS: i32 = libc::ENOSYS;
const DOCKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docker-default-seccomp.json");

/// The helper, built once into a world-readable directory; `None` after a
/// [`skip`] (a failure under CI=true) when gcc cannot build it.
fn helper() -> Option<&'static Path> {
    static HELPER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = HELPER.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("sandbox-helper-").tempdir_in("/tmp").unwrap().keep();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = dir.join("try-syscall");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/try-syscall.c");
        let gcc = try_spawn(Command::new("gcc").args(["-O2", "-Wall", "-o"]).arg(&out).arg(src));
        match gcc.map(|mut gcc| gcc.wait()) {
            Ok(s) if s.success() => Ok(out),
            other => Err(format!("gcc could not build tests/helpers/try-syscall.c: {other:?}")),
        }
    });
    match built {
        Ok(p) => Some(p),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// Runs `try-syscall CASE` in a sandbox with `args`; returns its exit code.
fn try_in(args: &[&str], case: &str) -> Option<i32> {
    let h = helper()?;
    let (cwd, home) = (Dir::new(), Dir::new());
    let bind = format!("{}:/try-syscall", h.display());
    let mut all: Vec<&str> = vec!["--ro", &bind];
    all.extend(args);
    all.extend(["--", "/try-syscall", case]);
    let out = sbx(cwd.path(), home.path(), &all).output();
    assert!(out.stderr().is_empty(), "{case}: {}", out.stderr());
    Some(out.code())
}

/// Runs the helper on the host as the sandbox's caller (the control).
fn try_outside(case: &str) -> i32 {
    let mut cmd = Command::new(helper().unwrap());
    status(as_caller(&mut cmd).arg(case)).code().unwrap()
}

/// What bpf(2) with a bad pointer gives an unprivileged caller without any
/// filter: EFAULT, or EPERM where the kernel refuses unprivileged bpf before
/// it reads the pointer: `kernel.unprivileged_bpf_disabled` set (Debian's
/// default) on a kernel before 6.5, as the VM lane's Debian 12 (6.1). Only
/// there the control cannot tell the filter's EPERM from the kernel's.
fn bpf_unfiltered() -> i32 {
    let disabled =
        std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled").is_ok_and(|v| v.trim() != "0");
    let release = nix::sys::utsname::uname().unwrap().release().to_string_lossy().into_owned();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if disabled && version < (6, 5) {
        EPERM
    } else {
        libc::EFAULT
    }
}

#[test]
fn kernel_attack_surface_is_denied_with_the_documented_errno() {
    for (case, blocked, allowed) in [
        ("keyctl", EPERM, libc::EOPNOTSUPP),
        ("add_key", EPERM, libc::EFAULT),
        ("request_key", EPERM, libc::EFAULT),
        ("perf_event_open", EPERM, libc::EFAULT),
        ("bpf", EPERM, bpf_unfiltered()),
        ("userfaultfd", EPERM, libc::EINVAL),
        ("io_uring_setup", ENOSYS, libc::EFAULT),
    ] {
        let Some(code) = try_in(&[], case) else { return };
        assert_eq!(code, blocked, "{case} in the sandbox");
        assert_eq!(try_outside(case), allowed, "{case} on the host (the control)");
        let lifted = try_in(&["--seccomp", "none"], case).unwrap();
        assert_eq!(lifted, allowed, "{case} with --seccomp none");
    }
}

#[test]
fn no_nested_user_namespace_unless_allowed() {
    for (case, blocked) in [("unshare-user", EPERM), ("clone-newuser", EPERM), ("clone3", ENOSYS)] {
        let Some(code) = try_in(&[], case) else { return };
        assert_eq!(code, blocked, "{case}");
        let allowed = try_in(&["--allow-userns"], case).unwrap();
        assert_ne!(allowed, blocked, "{case} with --allow-userns");
    }
    assert_eq!(try_in(&["--allow-userns"], "unshare-user"), Some(0));
    assert_eq!(try_in(&[], "fsopen"), Some(ENOSYS), "the new mount API");
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(cwd.path(), home.path(), ["--", "unshare", "-U", "true"]).output();
    assert!(out.stderr().contains("Operation not permitted"), "{}", out.stderr());
}

#[test]
fn socket_families_outside_the_allowlist_get_eafnosupport() {
    let Some(code) = try_in(&[], "socket-packet") else { return };
    assert_eq!(code, libc::EAFNOSUPPORT);
    assert_eq!(try_in(&[], "socket-vsock"), Some(libc::EAFNOSUPPORT));
    assert_eq!(try_in(&[], "socket-unix"), Some(0));
    assert_eq!(try_in(&[], "socket-inet"), Some(0));
    assert_ne!(try_in(&["--seccomp", "none"], "socket-vsock"), Some(libc::EAFNOSUPPORT));
}

/// socketpair creates its sockets with the family's own code before it
/// asks for a pair, so it gets the same family allowlist as socket.
#[test]
fn socketpair_families_outside_the_allowlist_get_eafnosupport() {
    let Some(code) = try_in(&[], "socketpair-vsock") else { return };
    assert_eq!(code, libc::EAFNOSUPPORT, "AF_VSOCK");
    assert_eq!(try_in(&[], "socketpair-packet"), Some(libc::EAFNOSUPPORT), "AF_PACKET");
    assert_eq!(try_in(&[], "socketpair-xdp"), Some(libc::EAFNOSUPPORT), "AF_XDP");
    assert_eq!(try_in(&[], "socketpair-unix"), Some(0));
    let unfiltered = try_in(&["--seccomp", "none"], "socketpair-vsock");
    assert_ne!(unfiltered, Some(libc::EAFNOSUPPORT), "control: this kernel has AF_VSOCK ({unfiltered:?})");
}

#[test]
fn ptrace_is_denied_only_when_the_pid_namespace_is_the_hosts() {
    let Some(code) = try_in(&[], "ptrace") else { return };
    assert_eq!(code, libc::ESRCH, "allowed in the sandbox's own pid namespace");
    assert_eq!(try_in(&["--share", "pid"], "ptrace"), Some(EPERM));
    assert_eq!(try_in(&["--seccomp-deny", "ptrace"], "ptrace"), Some(EPERM), "a profile may deny it");
}

/// Landlock-only mode has no pid namespace: ptrace would reach the caller's
/// own processes, so the filter denies it as with `--share pid`.
#[test]
fn ptrace_is_denied_in_landlock_only_mode() {
    let Some(h) = helper() else { return };
    let (cwd, home) = (Dir::new(), Dir::new());
    let dir = h.parent().unwrap().to_str().unwrap();
    let helper = h.to_str().unwrap();
    let run = |mode: &str| {
        sbx(cwd.path(), home.path(), ["--mode", mode, "--ro", dir, "--", helper, "ptrace"]).output()
    };
    assert_eq!(run("landlock").code(), EPERM);
    assert_eq!(run("namespaces").code(), libc::ESRCH);
}

#[test]
fn x32_and_i386_calls_are_blocked() {
    let Some(code) = try_in(&[], "i386-getpid") else { return };
    assert_eq!(code, ENOSYS, "int 0x80 getpid");
    assert_eq!(try_outside("i386-getpid"), 0, "the control: this kernel runs i386 calls");
    assert_eq!(try_in(&[], "i386-unshare"), Some(ENOSYS), "int 0x80 unshare(CLONE_NEWUSER)");
    assert_eq!(try_in(&["--seccomp-oci", DOCKER], "i386-unshare"), Some(ENOSYS));
    // This kernel may lack the x32 ABI (ENOSYS outside too); the answer must never be 0.
    assert_eq!(try_in(&[], "x32-getpid"), Some(ENOSYS));
    assert_eq!(try_in(&["--seccomp", "none", "--seccomp-deny", "keyctl"], "x32-getpid"), Some(ENOSYS));
}

/// The filter, not the kernel, answers x32 and i386 calls: with
/// `--seccomp-log` the kernel logs what the guard matched (root reads it).
#[test]
fn the_guard_sees_x32_calls_even_where_the_kernel_has_no_x32() {
    if !root_or_skip("reading the kernel log") {
        return;
    }
    let Some(h) = helper() else { return };
    let tag = format!("/x32-{}", token());
    let (cwd, home) = (Dir::new(), Dir::new());
    let bind = format!("{}:{tag}", h.display());
    let out =
        sbx(cwd.path(), home.path(), ["--seccomp-log", "--ro", &bind, "--", &tag, "x32-getpid"]).output();
    assert_eq!(out.code(), ENOSYS, "{}", out.stderr());
    let needle = format!("exe=\"{tag}\"");
    let logged = wait_for(5.0, || {
        let log = common::out(&mut Command::new("dmesg")).stdout();
        log.lines().any(|l| l.contains(&needle) && l.contains("syscall=1073741863"))
    });
    assert!(logged, "no SECCOMP_RET_LOG record of x32 getpid (nr 0x40000027) from {tag} in dmesg");
}

#[test]
fn tiocsti_on_the_controlling_tty_is_denied() {
    let Some(h) = helper() else { return };
    let run = |extra: &[&str], case: &str| -> i32 {
        let pty = nix::pty::openpty(None, None).unwrap();
        let (cwd, home) = (Dir::new(), Dir::new());
        let bind = format!("{}:/try-syscall", h.display());
        let mut cmd = Command::new("setsid");
        // setsid -c: a new session whose controlling terminal is the pty.
        cmd.args(["-w", "-c"]).arg(bin()).args(["--no-new-session", "--ro", &bind]);
        cmd.args(extra).args(["--", "/try-syscall", case]).current_dir(cwd.path()).env("HOME", home.path());
        as_caller(&mut cmd);
        // Only stdin is the terminal: with stdout on a terminal the core
        // binds it over /dev/console, which fails from a test's fresh pty.
        cmd.stdin(Stdio::from(pty.slave)).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = spawn(&mut cmd).output();
        assert!(out.stderr().is_empty(), "{}", out.stderr());
        out.code()
    };
    assert_eq!(run(&[], "tiocsti"), EPERM);
    assert_eq!(run(&[], "tiocsti-high"), EPERM, "TIOCSTI | 1 << 32 (CVE-2019-10063)");
    let control = run(&["--seccomp-allow", "ioctl"], "tiocsti");
    assert_ne!(control, EPERM, "the control: without the rule TIOCSTI reaches the tty");
}

#[test]
fn real_programs_run_under_the_default_policy_and_dockers() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = "grep '^Seccomp:' /proc/self/status; ls / >/dev/null && python3 -c 'print(6 * 7)'";
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output().ok();
    assert_eq!(out, "Seccomp:\t2\n42\n");
    let docker = ["--seccomp", "none", "--seccomp-oci", DOCKER, "--", "sh", "-c", script];
    assert_eq!(sbx(cwd.path(), home.path(), docker).output().ok(), "Seccomp:\t2\n42\n");
    sbx(cwd.path(), home.path(), ["--seccomp-oci", DOCKER, "--", "sh", "-c", "true"]).output().ok();
    let none =
        sbx(cwd.path(), home.path(), ["--seccomp", "none", "--", "grep", "^Seccomp:", "/proc/self/status"]);
    assert_eq!(none.output().ok(), "Seccomp:\t0\n", "--seccomp none installs no filter");
    if let Some(code) = try_in(&["--seccomp", "none", "--seccomp-oci", DOCKER], "keyctl") {
        assert_eq!(code, EPERM, "Docker's profile denies keyctl");
        assert_eq!(try_in(&["--seccomp", "none", "--seccomp-oci", DOCKER], "clone3"), Some(ENOSYS));
    }
}

#[test]
fn user_rules_fail_the_chosen_call_with_the_chosen_errno() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(cwd.path(), home.path(), ["--seccomp-deny", "uname:EACCES", "--", "uname"]).output();
    assert_eq!(out.code(), 1);
    assert!(out.stderr().contains("Permission denied"), "{}", out.stderr());
    let policy = cwd.file("p.json", r#"{"rules": [{"syscalls": ["uname"], "action": "ENOTSUP"}]}"#);
    let out =
        sbx(cwd.path(), home.path(), ["--seccomp-policy", policy.to_str().unwrap(), "--", "uname"]).output();
    assert!(out.stderr().contains("Operation not supported"), "{}", out.stderr());
    if let Some(code) = try_in(&["--seccomp-log"], "keyctl") {
        assert_eq!(code, libc::EOPNOTSUPP, "--seccomp-log lets the call through");
    }
}

#[test]
fn raw_bpf_programs_from_fds_are_installed_after_ours() {
    let (cwd, home) = (Dir::new(), Dir::new());
    // ld [nr]; jeq #uname, 0, 1; ret ERRNO|EACCES; ret ALLOW
    let insns: [(u16, u8, u8, u32); 4] = [
        (0x20, 0, 0, 0),
        (0x15, 0, 1, libc::SYS_uname as u32),
        (0x06, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        (0x06, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let mut bytes = Vec::new();
    for (code, jt, jf, k) in insns {
        bytes.extend(code.to_ne_bytes());
        bytes.extend([jt, jf]);
        bytes.extend(k.to_ne_bytes());
    }
    let prog = cwd.path().join("prog.bpf");
    std::fs::write(&prog, &bytes).unwrap();
    cwd.own(&prog);
    std::fs::write(cwd.path().join("bad.bpf"), &bytes[..7]).unwrap();
    let run = |file: &str| {
        let line = format!("exec {} --add-seccomp-fd 3 -- uname 3<{file}", bin().display());
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &line]).current_dir(cwd.path()).env("HOME", home.path());
        out(as_caller(&mut cmd))
    };
    let out = run("prog.bpf");
    assert!(out.stderr().contains("Permission denied"), "{}", out.stderr());
    run("bad.bpf").fails(125, "--add-seccomp-fd 3: invalid seccomp data: 7 bytes is not a multiple of 8");
}

#[test]
fn bad_policies_are_setup_errors_with_nothing_started() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let marker = cwd.path().join("ran");
    let touch = ["--", "touch", marker.to_str().unwrap()];
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(touch);
        sbx(cwd.path(), home.path(), &all).output()
    };
    with(&["--seccomp-deny", "keyctll"]).fails(125, "unknown system call `keyctll`; did you mean `keyctl`?");
    with(&["--seccomp-deny", "uname:EWHAT"]).fails(125, "unknown errno `EWHAT`");
    with(&["--seccomp-allow", "read"]).fails(125, "the built-in policy does not deny it");
    let bad = cwd.file("bad.json", r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptace"], "action": "SCMP_ACT_ERRNO"}]}"#);
    with(&["--seccomp-oci", bad.to_str().unwrap()]).fails(125, "did you mean `ptrace`?");
    with(&["--seccomp-policy", "/nonexistent.json"]).fails(125, "No such file or directory");
    with(&["--add-seccomp-fd", "77"]).fails(125, "--add-seccomp-fd 77: Bad file descriptor");
    assert!(!marker.exists(), "nothing ran");
}

#[test]
fn explain_lists_the_policy() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(
        cwd.path(),
        home.path(),
        ["explain", "--share", "pid", "--seccomp-deny", "uname:EACCES", "--", "true"],
    );
    let text = out.output().ok();
    assert!(text.contains("seccomp:    default policy"), "{text}");
    assert!(text.contains("EPERM        add_key keyctl request_key"), "{text}");
    assert!(text.contains("ptrace"), "--share pid denies ptrace: {text}");
    assert!(text.contains("deny uname -> EACCES"), "{text}");
    assert!(text.contains("EPERM        prlimit64 when arg0 != 0x0"), "--share pid: host processes: {text}");
    assert!(!text.contains("sendmmsg"), "no port rules: {text}");
    let out = sbx(
        cwd.path(),
        home.path(),
        ["explain", "--allow-connect", "443", "--seccomp", "none", "--", "true"],
    );
    let text = out.output().ok();
    assert!(text.contains("port rules and signal scope (whatever --seccomp says)"), "{text}");
    assert!(text.contains("EOPNOTSUPP   sendto sendmmsg when arg3 has any bit of 0x20000000"), "{text}");
    assert!(text.contains("socket when arg0 == 0x2 and arg1 & 0xf == 0x1"), "{text}");
    let out = sbx(cwd.path(), home.path(), ["explain", "--seccomp", "none", "--", "true"]).output().ok();
    assert!(out.contains("no built-in policy (--seccomp none)") && !out.contains("keyctl"), "{out}");
}
