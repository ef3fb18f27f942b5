//! Integration tests of the core (issue 3): the real binary, run as an
//! unprivileged user, checked from inside and from the host.

mod common;

use common::*;

fn setup() -> (Dir, Dir) {
    let cwd = Dir::new();
    let home = Dir::new();
    (cwd, home)
}

#[test]
fn id_shows_the_mapped_uid() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--", "id", "-u"]).output().ok();
    assert_eq!(out.trim(), caller_uid().to_string());
    let out = sbx(cwd.path(), home.path(), ["--uid", "0", "--gid", "0", "--", "id", "-u"]).output().ok();
    assert_eq!(out.trim(), "0");
}

#[test]
fn only_the_sandbox_processes_are_visible() {
    let (cwd, home) = setup();
    let script = "for p in /proc/[0-9]*; do echo ${p#/proc/}; done";
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output().ok();
    let pids: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert!(pids.contains(&1), "init is pid 1: {pids:?}");
    assert!(pids.len() <= 3, "only init and the command: {pids:?}");
    assert!(!pids.contains(&std::process::id()));
}

#[test]
fn write_to_a_read_only_bind_fails_and_the_host_file_is_unchanged() {
    let (cwd, home) = setup();
    let data = Dir::new();
    let f = data.file("f", "original\n");
    let dest = f.to_str().unwrap();
    let script = format!("echo changed > {dest}");
    let out =
        sbx(cwd.path(), home.path(), ["--ro", data.path().to_str().unwrap(), "--", "sh", "-c", &script])
            .output();
    // The shell's failed redirection (2), not a setup failure (125).
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().starts_with("sh: 1: cannot create "), "{}", out.stderr());
    assert!(out.stderr().contains("Read-only file system"), "{}", out.stderr());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "original\n");
}

#[test]
fn write_to_a_read_write_bind_lands_on_the_host() {
    let (cwd, home) = setup();
    let data = Dir::new();
    let arg = format!("{}:/data", data.path().display());
    sbx(cwd.path(), home.path(), ["--rw", &arg, "--", "sh", "-c", "echo hello > /data/new"]).output().ok();
    assert_eq!(std::fs::read_to_string(data.path().join("new")).unwrap(), "hello\n");
}

#[test]
fn home_is_empty_and_writable() {
    let (cwd, home) = setup();
    home.file(".ssh/id_x", "PRIVATE KEY");
    home.file("notes", "secret");
    let out =
        sbx(cwd.path(), home.path(), ["--", "sh", "-c", "ls -A \"$HOME\"; touch \"$HOME/x\" && echo ok"])
            .output()
            .ok();
    assert_eq!(out, "ok\n");
    assert!(!home.path().join("x").exists(), "writes to the sandbox's home stay inside");
}

#[test]
fn secrets_in_the_environment_do_not_leak() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--", "env"])
        .env("SSH_AUTH_SOCK", "/run/user/1000/ssh-agent")
        .env("GITHUB_TOKEN", "ghp_x")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
        .env("TERM", "xterm")
        .output()
        .ok();
    for secret in ["SSH_AUTH_SOCK", "GITHUB_TOKEN", "DBUS_SESSION_BUS_ADDRESS"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(out.contains("TERM=xterm"), "allowlisted TERM kept:\n{out}");
    let out = sbx(cwd.path(), home.path(), ["--keep-env", "GITHUB_TOKEN", "--env", "A=b", "--", "env"])
        .env("GITHUB_TOKEN", "ghp_x")
        .output()
        .ok();
    assert!(out.contains("GITHUB_TOKEN=ghp_x") && out.contains("A=b"), "{out}");
}

#[test]
fn the_network_has_only_loopback() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--", "cat", "/proc/net/dev"]).output().ok();
    let ifaces: Vec<&str> = out.lines().skip(2).map(|l| l.split(':').next().unwrap().trim()).collect();
    assert_eq!(ifaces, ["lo"]);
    let out =
        sbx(cwd.path(), home.path(), ["--", "cat", "/proc/net/if_inet6", "/proc/net/route"]).output().ok();
    assert!(out.contains(" lo\n"), "lo has ::1 (it is up):\n{out}");
}

#[test]
fn hostname_is_the_one_given() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--hostname", "box1", "--", "cat", "/proc/sys/kernel/hostname"])
        .output()
        .ok();
    assert_eq!(out.trim(), "box1");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "box1");
}

#[test]
fn exit_codes_come_back() {
    let (cwd, home) = setup();
    assert_eq!(sbx(cwd.path(), home.path(), ["--", "sh", "-c", "exit 42"]).output().code(), 42);
    assert_eq!(sbx(cwd.path(), home.path(), ["--", "sh", "-c", "kill -9 $$"]).output().code(), 137);
    assert_eq!(sbx(cwd.path(), home.path(), ["--", "sh", "-c", "kill -15 $$"]).output().code(), 143);
}

/// A SIGCHLD ignored by the caller must not make init vanish unwaited:
/// with SIG_IGN the kernel reaps a child itself and sends no signal, so
/// the monitor never learnt that init had ended and waited forever.
#[test]
fn an_ignored_sigchld_from_the_caller_does_not_hang_the_sandbox() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", "exit 7"]).ignoring_sigchld().output();
    assert_eq!(out.code(), 7, "{}", out.stderr());
}

#[test]
fn kill_9_of_the_monitor_kills_the_command() {
    let (cwd, home) = setup();
    let tok = token();
    let mut child = sbx(cwd.path(), home.path(), ["--", "sleep", &tok]).spawn();
    assert!(wait_for(5.0, || !host_pids_with(&format!("sleep {tok}")).is_empty()), "sleep started");
    child.kill();
    child.wait();
    assert!(
        wait_for(3.0, || host_pids_with(&format!("sleep {tok}")).is_empty()),
        "the command outlived its monitor"
    );
}

#[test]
fn without_die_with_parent_the_command_survives_its_monitor() {
    let (cwd, home) = setup();
    let tok = token();
    let mut child = sbx(cwd.path(), home.path(), ["--no-die-with-parent", "--", "sleep", &tok]).spawn();
    assert!(wait_for(5.0, || !host_pids_with(&format!("sleep {tok}")).is_empty()));
    child.kill();
    child.wait();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = host_pids_with(&format!("sleep {tok}"));
    assert!(!left.is_empty(), "the control case: it lives on");
    for pid in left {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
    }
}

#[test]
fn a_double_forked_daemon_dies_with_the_command() {
    let (cwd, home) = setup();
    let tok = token();
    let script = format!("(setsid sleep {tok} &) ; sleep 0.2; exit 0");
    sbx(cwd.path(), home.path(), ["--", "sh", "-c", &script]).output().ok();
    assert!(
        wait_for(3.0, || host_pids_with(&format!("sleep {tok}")).is_empty()),
        "the daemon outlived the sandbox"
    );
}

#[test]
fn an_inherited_fd_without_cloexec_is_not_readable_inside() {
    let (cwd, home) = setup();
    let secret = Dir::new();
    let f = secret.file("secret", "TOP-SECRET\n");
    let run = |extra: &str| {
        // The caller opens fd 7 without close-on-exec, then runs sandbox.
        let script = format!("exec 7<\"$1\"; exec \"$0\" {extra} -- sh -c 'cat <&7; ls /proc/self/fd'");
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &script, bin().to_str().unwrap(), f.to_str().unwrap()]);
        cmd.current_dir(cwd.path()).env("HOME", home.path());
        as_caller(&mut cmd);
        out(&mut cmd)
    };
    let out = run("");
    let stdout = out.stdout();
    assert!(!stdout.contains("TOP-SECRET"), "fd 7 leaked:\n{stdout}");
    let fds: Vec<&str> = stdout.lines().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "only stdio (3 is ls's own /proc/self/fd)");
    let out = run("--keep-fd 7");
    assert!(out.stdout().contains("TOP-SECRET"), "--keep-fd 7 passes it on");
}

#[test]
fn a_symlink_in_a_bound_dir_cannot_redirect_later_mounts_onto_the_host() {
    let (cwd, home) = setup();
    let w = Dir::new();
    let victim = Dir::new();
    let v = victim.path().to_str().unwrap().to_string();
    std::os::unix::fs::symlink(&v, w.path().join("abs")).unwrap();
    w.own(&w.path().join("abs"));
    std::os::unix::fs::symlink(format!("../../../../../..{v}"), w.path().join("rel")).unwrap();
    w.own(&w.path().join("rel"));
    let wa = format!("{}:/w", w.path().display());
    let src = Dir::new();
    src.file("payload", "x");
    for link in ["abs", "rel"] {
        let args = [
            "--rw".to_string(),
            wa.clone(),
            "--mkdir".into(),
            format!("/w/{link}/made"),
            "--tmpfs".into(),
            format!("/w/{link}/t"),
            "--rw".into(),
            format!("{}:/w/{link}/bound", src.path().display()),
            "--symlink".into(),
            format!("/etc/passwd:/w/{link}/ln"),
            "--".into(),
            "true".into(),
        ];
        let out = sbx(cwd.path(), home.path(), &args).output();
        // Either refused or created inside the sandbox: never on the host.
        assert!(out.code() == 0 || out.code() == 125, "{}", out.stderr());
        assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0, "host dir changed via {link}");
    }
}

#[test]
fn setup_errors_are_one_line_with_the_right_code() {
    let (cwd, home) = setup();
    let run = |args: &[&str]| sbx(cwd.path(), home.path(), args).output();
    run(&["--ro", "/nonexistent/src:/x", "--", "true"])
        .fails(125, "bind /nonexistent/src -> /x: No such file or directory");
    run(&["--ro", "/usr:/usr/share/sandbox-test/new", "--", "true"]).fails(125, "Read-only file system");
    run(&["--", "no-such-command-xyz"]).fails(127, "command not found");
    let data = Dir::new();
    let plain = data.file("plain", "not a program");
    let plain_dir = format!("{}", data.path().display());
    let plain = plain.to_str().unwrap();
    sbx(cwd.path(), home.path(), ["--ro", &plain_dir, "--", plain]).output().fails(126, "Permission denied");
    run(&["--", "/usr"]).fails(126, "exec /usr");
    run(&["--frobnicate", "--", "true"]).fails(125, "unexpected argument '--frobnicate'");
    run(&["--uid", "4294967295", "--", "true"]).fails(125, "--uid");
    run(&["--ro", "/tmp:relative", "--", "true"]).fails(125, "must be an absolute path");
    run(&["--ro", "/tmp:/a/../../etc", "--", "true"]).fails(125, "'..' is not allowed");
    run(&["--keep-fd", "99", "--", "true"]).fails(125, "--keep-fd 99: Bad file descriptor");
    run(&["--share", "uts", "--hostname", "x", "--", "true"]).fails(125, "UTS namespace");
    run(&[]).fails(125, "no command given");
    run(&["--"]).fails(125, "no command given");
    // CVE-2024-32462: after `--` nothing is an option.
    run(&["--", "--rw", "/", "/", "sh"]).fails(127, "exec --rw");
    // Control characters are escaped (CVE-2023-28101).
    let out = run(&["--ro", "/tmp/\x1b[2Jx", "--", "true"]);
    out.fails(125, "\\x1b[2Jx");
    assert!(!out.stderr().contains('\x1b'));
}

#[test]
fn refused_user_namespaces_are_explained() {
    // A user namespace whose max_user_namespaces is 0 refuses nested ones.
    let (cwd, home) = setup();
    let script = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" -- true";
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "sh", "-c", script, bin().to_str().unwrap()])
        .current_dir(cwd.path())
        .env("HOME", home.path());
    let out = out(as_caller(&mut cmd));
    out.fails(125, "create namespaces");
    assert!(out.stderr().contains("user.max_user_namespaces"), "{}", out.stderr());
}

#[test]
fn explain_json_round_trips_to_the_same_plan() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["explain", "--json", "--ro", "/usr:/x", "--", "echo", "hi"])
        .output()
        .ok();
    let plan: sandbox::plan::Plan = serde_json::from_str(&out).unwrap();
    assert_eq!(serde_json::to_string_pretty(&plan).unwrap() + "\n", out);
    assert_eq!(plan.command, ["echo", "hi"]);
    let text = sbx(cwd.path(), home.path(), ["explain", "--", "true"]).output().ok();
    assert!(text.contains("namespaces: own user mount pid ipc uts net cgroup"), "{text}");
}

#[test]
fn the_default_profile_runs_from_tmp_and_from_home() {
    let (cwd, home) = setup();
    sbx(cwd.path(), home.path(), ["--", "sh", "-c", "true"]).output().ok();
    let proj = home.mkdir("proj");
    let out = sbx(&proj, home.path(), ["--", "sh", "-c", "pwd; touch made"]).output();
    assert_eq!(out.ok().trim(), proj.to_str().unwrap());
    assert!(proj.join("made").exists(), "the cwd under $HOME is shared read-write");
    // $HOME itself is never shared: one line says how.
    let out = sbx(home.path(), home.path(), ["--", "sh", "-c", "pwd; ls -A"]).output();
    assert_eq!(out.ok().trim(), home.path().to_str().unwrap());
    assert!(out.stderr().contains("not sharing the current directory") && out.stderr().contains("--rw"));
}

#[test]
fn root_mode_works_too() {
    let (cwd, home) = setup();
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--", "sh", "-c", "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"],
    )
    .run_as_root()
    .output()
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], nix::unistd::getuid().as_raw().to_string());
    assert!(out.contains("CapEff:\t0000000000000000") && out.contains("CapBnd:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", "echo x > /etc/passwd-sandbox-test"])
        .run_as_root()
        .output();
    assert_eq!(out.code(), 2, "the shell's failed redirection, not a setup failure: {}", out.stderr());
    assert!(out.stderr().contains("Read-only file system"), "{}", out.stderr());
    assert!(!std::path::Path::new("/etc/passwd-sandbox-test").exists());
    assert_eq!(sbx(cwd.path(), home.path(), ["--", "sh", "-c", "exit 7"]).run_as_root().output().code(), 7);
}

#[test]
fn no_capabilities_and_no_new_privileges_for_the_command() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--", "grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        .output()
        .ok();
    for line in out.lines() {
        if line.starts_with("Cap") {
            assert!(line.ends_with("0000000000000000"), "{line}");
        }
    }
    assert!(out.contains("NoNewPrivs:\t1"));
}

#[test]
fn proc_sys_is_read_only_and_the_root_too() {
    let (cwd, home) = setup();
    let script = "echo x > /proc/sys/kernel/hostname; echo $?; mkdir /newdir; echo $?";
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output();
    let out = (out.stdout(), out.stderr());
    let out = Outs { stdout: out.0, stderr: out.1 };
    let codes: Vec<&str> = out.stdout.lines().collect();
    assert!(codes.len() == 2 && !codes.contains(&"0"), "both writes fail: {codes:?}");
    assert!(out.stderr.contains("Read-only file system"), "{}", out.stderr);
}

struct Outs {
    stdout: String,
    stderr: String,
}

#[test]
fn order_of_options_is_kept() {
    let (cwd, home) = setup();
    let a = Dir::new();
    a.file("which", "a");
    let b = Dir::new();
    b.file("which", "b");
    let ra = format!("{}:/x", a.path().display());
    let rb = format!("{}:/x", b.path().display());
    let out =
        sbx(cwd.path(), home.path(), ["--ro", &ra, "--tmpfs", "/x", "--ro", &rb, "--", "cat", "/x/which"])
            .output()
            .ok();
    assert_eq!(out, "b", "the later mount wins");
    let out = sbx(cwd.path(), home.path(), ["--ro", &rb, "--ro", &ra, "--", "cat", "/x/which"]).output().ok();
    assert_eq!(out, "a");
}

#[test]
fn hide_covers_files_and_directories() {
    let (cwd, home) = setup();
    let d = Dir::new();
    d.file("secret/key", "KEY");
    d.file("token", "TOKEN");
    let dp = d.path().display().to_string();
    let script = format!("ls -A {dp}/secret; cat {dp}/token; echo end");
    let out = sbx(
        cwd.path(),
        home.path(),
        [
            "--ro",
            &dp,
            "--hide",
            &format!("{dp}/secret"),
            "--hide",
            &format!("{dp}/token"),
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .output()
    .ok();
    assert_eq!(out, "end\n");
}

/// A trace must not change what a run does: under a policy that kills on
/// write(2), a command that never writes still runs with SANDBOX_TRACE on.
#[test]
fn sandbox_trace_writes_nothing_once_the_filter_is_on() {
    let (cwd, home) = setup();
    let policy = cwd.file(
        "kill-write.json",
        r#"{"default": "allow", "rules": [{"syscalls": ["write"], "action": "kill"}]}"#,
    );
    let p = policy.display().to_string();
    let out = sbx(cwd.path(), home.path(), ["--seccomp-policy", &p, "--", "true"])
        .env("SANDBOX_TRACE", "1")
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("init     command execed"), "{}", out.stderr());
}

/// Hidden paths under a writable bind are covered read-only, nosuid,
/// nodev, noexec: every cover is a bind of one flagged mount of the
/// scratch tmpfs, so a write to one hidden path fails and can reach
/// neither the host nor another hidden path.
#[test]
fn hidden_paths_under_a_writable_bind_stay_read_only() {
    let (cwd, home) = setup();
    let d = Dir::new();
    d.own(d.path());
    d.file("secret/key", "KEY");
    d.file("token", "TOKEN");
    d.own(&d.path().join("secret"));
    d.own(&d.path().join("secret/key"));
    d.own(&d.path().join("token"));
    let dp = d.path().display().to_string();
    let script = format!(
        "echo x > {dp}/token && echo wrote-file; touch {dp}/secret/new && echo wrote-dir; \
         grep -E ' {dp}/(token|secret) ' /proc/self/mountinfo | cut -d' ' -f5,6; echo end"
    );
    let out = sbx(
        cwd.path(),
        home.path(),
        [
            "--rw",
            &dp,
            "--hide",
            &format!("{dp}/secret"),
            "--hide",
            &format!("{dp}/token"),
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .output();
    let text = out.stdout();
    assert!(!text.contains("wrote"), "a hidden path took a write: {text}");
    let mounts: Vec<&str> = text.lines().filter(|l| l.starts_with('/')).collect();
    assert_eq!(mounts.len(), 2, "both covers mounted: {text}");
    for m in mounts {
        let opts = m.split_whitespace().nth(1).unwrap_or_default();
        for flag in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.split(',').any(|o| o == flag), "{m}: no {flag}");
        }
    }
    assert!(text.ends_with("end\n"), "{text}");
    // The host's side: as it was.
    assert_eq!(std::fs::read_to_string(d.path().join("token")).unwrap(), "TOKEN");
    assert!(!d.path().join("secret/new").exists());
    assert_eq!(std::fs::read_to_string(d.path().join("secret/key")).unwrap(), "KEY");
}

/// The parent of `pid`, from /proc.
fn parent_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|v| v.trim().parse().ok())
}

/// A process's state and signal masks (`State`, `Sig*`, `ShdPnd`).
fn signal_state(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let keep = |l: &&str| ["State", "Sig", "ShdPnd"].iter().any(|k| l.starts_with(k));
    let lines: Vec<&str> = status.lines().filter(keep).collect();
    format!("{} | {}", String::from_utf8_lossy(&cmd).replace('\0', " "), lines.join(" "))
}

#[test]
fn signals_to_the_monitor_reach_the_command() {
    let (cwd, home) = setup();
    for (sig, code) in
        [(nix::sys::signal::SIGTERM, 143), (nix::sys::signal::SIGINT, 130), (nix::sys::signal::SIGHUP, 129)]
    {
        let tok = token();
        let mut child = sbx(cwd.path(), home.path(), ["--", "sleep", &tok]).default_signals().spawn();
        assert!(wait_for(5.0, || !host_pids_with(&format!("sleep {tok}")).is_empty()), "sleep started");
        let sleeps = host_pids_with(&format!("sleep {tok}"));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        // If one does not end, say where the signal stopped (monitor,
        // init, command): an ignored disposition shows in SigIgn.
        let Some(status) = child.wait_up_to(std::time::Duration::from_secs(30)) else {
            let mut pids = vec![child.id()];
            for p in &sleeps {
                pids.push(*p);
                pids.extend(parent_of(*p));
            }
            let states: Vec<String> = pids.iter().map(|p| format!("{p}: {}", signal_state(*p))).collect();
            panic!("{sig}: sandbox did not end within 30 s; signal state:\n{}", states.join("\n"));
        };
        assert_eq!(status.code(), Some(code), "{sig}");
        assert!(host_pids_with(&format!("sleep {tok}")).is_empty());
    }
    // A command that handles the signal decides its own status.
    let script = "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done";
    let mut child = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).default_signals().spawn();
    assert_eq!(child.lines().line(), "ready");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
    assert_eq!(child.wait().code(), Some(3));
}

#[test]
fn cap_add_keeps_only_the_named_capability_for_uid_0() {
    let (cwd, home) = setup();
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--uid", "0", "--cap-add", "CAP_NET_ADMIN", "--", "grep", "^Cap", "/proc/self/status"],
    )
    .output()
    .ok();
    let net_admin = format!("{:016x}", 1u64 << 12);
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{set}:\t{net_admin}")), "{set} in:\n{out}");
    }
}

#[test]
fn dev_is_minimal_and_usable() {
    let (cwd, home) = setup();
    let script = "ls /dev | tr '\\n' ' '; echo; echo x > /dev/null && head -c 4 /dev/urandom | wc -c; grep -c ' /dev/pts ' /proc/self/mounts";
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output().ok();
    let mut lines = out.lines();
    let names: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    for n in [
        "core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
    ] {
        assert!(names.contains(&n), "/dev/{n} missing: {names:?}");
    }
    assert!(!names.contains(&"sda") && !names.contains(&"vda") && !names.contains(&"mem"), "{names:?}");
    assert_eq!(lines.next(), Some("4"));
    assert_eq!(lines.next(), Some("1"), "a private devpts instance");
}

#[test]
fn verbose_prints_each_step() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["-v", "--", "true"]).output();
    out.ok();
    let err = out.stderr();
    for step in [
        "clone",
        "uid map",
        "mount: bind /usr",
        "hostname",
        "loopback",
        "capabilities",
        "no_new_privs",
        "exec",
    ] {
        assert!(err.contains(&format!("sandbox: {step}")), "{step} missing:\n{err}");
    }
}

#[test]
fn a_setuid_install_refuses_to_run() {
    if !root_or_skip("making a setuid-root copy") {
        return;
    }
    let dir = Dir::new();
    let copy = dir.path().join("sandbox-suid");
    std::fs::copy(bin(), &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut cmd = std::process::Command::new(&copy);
    cmd.args(["--", "true"]).current_dir(dir.path());
    as_caller(&mut cmd).stdin(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    // A file just written can be briefly busy (ETXTBSY) while another test
    // thread's fork still holds the write descriptor: retry.
    let child = (0..20)
        .find_map(|_| match try_spawn(&mut cmd) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                None
            }
            other => Some(other.unwrap()),
        })
        .expect("the copy stayed busy");
    child.output().fails(125, "refusing to run setuid");
}

/// Started from a terminal (stdout a pty), the sandbox binds the caller's
/// terminal as /dev/console. Regression: it used to bind the caller's fd 1,
/// which lives in the caller's mount namespace, and every run from a
/// terminal failed with EINVAL.
#[test]
fn runs_from_a_terminal() {
    let (cwd, home) = setup();
    let inner = format!("{} -- sh -c 'test -c /dev/console && echo console-ok'", bin().display());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"]).current_dir(cwd.path()).env("HOME", home.path());
    let out = out(as_caller(&mut cmd));
    assert!(out.stdout().contains("console-ok"), "stdout: {} stderr: {}", out.stdout(), out.stderr());
}

/// The scratch tmpfs the root is built in never shows through a bind of the
/// host's /tmp: the sandbox sees the host's files there (found by the bwrap
/// differential suite, where `--bind /tmp /tmp` is common).
#[test]
fn a_bind_of_the_hosts_tmp_shows_the_hosts_files() {
    let (cwd, home) = setup();
    let d = Dir::new();
    let seen = d.file("seen", "host file\n");
    let script = format!("cat {}; ls -A /tmp", seen.display());
    let out = sbx(cwd.path(), home.path(), ["--ro", "/tmp", "--", "sh", "-c", &script]).output().ok();
    assert!(out.starts_with("host file\n"), "{out}");
    assert!(!out.lines().any(|l| l == "hidden-dir" || l == "root"), "the scratch tmpfs shows:\n{out}");
}

#[test]
fn sandbox_trace_times_each_step_of_every_process() {
    let (cwd, home) = setup();
    let out =
        sbx(cwd.path(), home.path(), ["--", "sh", "-c", "echo inside"]).env("SANDBOX_TRACE", "1").output();
    assert_eq!(out.ok(), "inside\n");
    let err = out.stderr();
    let steps: Vec<(u64, String)> = err
        .lines()
        .filter_map(|l| l.strip_prefix("sandbox: trace: "))
        .map(|l| {
            let (us, rest) =
                l.trim_start().split_once(" µs ").unwrap_or_else(|| panic!("bad trace line {l:?}"));
            (
                us.parse().unwrap_or_else(|_| panic!("bad time in {l:?}")),
                rest.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    let at = |name: &str| {
        steps
            .iter()
            .find(|(_, s)| s == name)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no {name:?} in:\n{err}"))
    };
    // One line per step, from the three processes, in the order they happen.
    let order = [
        "monitor host read",
        "monitor Plan built",
        "monitor clone",
        "init released",
        "init root built",
        "command landlock",
        "init command execed",
        "monitor init ended",
        "monitor done",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) <= at(pair[1]), "{} after {}:\n{err}", pair[0], pair[1]);
    }
    // Off, nothing: "0" and an empty value too.
    for off in [None, Some("0"), Some("")] {
        let mut s = sbx(cwd.path(), home.path(), ["--", "true"]);
        if let Some(v) = off {
            s = s.env("SANDBOX_TRACE", v);
        }
        let out = s.output();
        out.ok();
        assert!(!out.stderr().contains("trace:"), "{off:?}: {}", out.stderr());
    }
    // The command never sees the variable.
    let env = sbx(cwd.path(), home.path(), ["--", "env"]).env("SANDBOX_TRACE", "1").output().ok();
    assert!(!env.contains("SANDBOX_TRACE"), "{env}");
}
