//! Escape classes of SECURITY-REFERENCE.md §1 (issue 11), one test per
//! class that applies to this design, each asserting the refusal inside and
//! the unchanged host. Classes whose tests live elsewhere: 1.10–1.13
//! (seccomp bypasses, keyring, perf/userfaultfd, socket families) in
//! tests/seccomp.rs; 1.14–1.15 (landlock, abstract sockets) in
//! tests/landlock.rs; 1.22 (capabilities) and 1.24–1.25 (argument
//! injection, escape sequences) in tests/run.rs. SECURITY.md lists them all.

mod common;

use std::os::fd::AsRawFd;
use std::process::Command;

use common::*;

fn python(script: &str) -> Vec<String> {
    vec!["/usr/bin/python3".into(), "-c".into(), script.into()]
}

/// Runs `sandbox ARGS` through `sh -c` so the caller can open fds first.
fn via_shell(cwd: &Dir, home: &Dir, prelude: &str, args: &str) -> Out {
    let script = format!("{prelude}; exec \"$0\" {args}");
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &script, bin().to_str().unwrap()]).current_dir(cwd.path()).env("HOME", home.path());
    as_caller(&mut cmd);
    out(&mut cmd)
}

/// 1.3 (CVE-2024-21626): an inherited directory fd can never become the
/// working directory, directly or through a symlink, with or without
/// landlock; only 0, 1, 2 reach the command.
#[test]
fn leaked_dir_fd_as_cwd() {
    let (cwd, home) = (Dir::new(), Dir::new());
    for landlock in ["", "--no-landlock"] {
        let out = via_shell(&cwd, &home, "exec 7</", &format!("{landlock} --cwd /proc/self/fd/7 -- ls"));
        out.fails(125, "cwd /proc/self/fd/7");
        std::os::unix::fs::symlink("/proc/self/fd/7", cwd.path().join(format!("link{landlock}"))).unwrap();
        let args = format!("{landlock} --cwd {}/link{landlock} -- ls", cwd.path().display());
        via_shell(&cwd, &home, "exec 7</", &args).fails(125, "cwd");
    }
    let out = via_shell(&cwd, &home, "exec 7</; exec 8<\"$HOME\"", "-- ls /proc/self/fd");
    assert_eq!(out.ok(), "0\n1\n2\n3\n", "only stdio (3 is ls's own directory)");
}

/// 1.2 (CVE-2019-5736): no process visible inside can have its executable
/// opened for writing, and the sandbox binary is unchanged afterwards.
#[test]
fn proc_pid_exe_cannot_be_overwritten() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let before = std::fs::read(bin()).unwrap();
    let script = r#"
import os
opened = []
for p in os.listdir('/proc'):
    if p.isdigit():
        for how in (os.O_WRONLY, os.O_RDWR):
            try:
                fd = os.open('/proc/%s/exe' % p, how); opened.append(p); os.close(fd)
            except OSError:
                pass
print('opened', opened)
"#;
    for share in [&[][..], &["--share", "pid"][..]] {
        let mut args: Vec<String> = share.iter().map(|s| s.to_string()).collect();
        args.push("--".into());
        args.extend(python(script));
        let out = sbx(cwd.path(), home.path(), &args).output().ok();
        assert_eq!(out, "opened []\n", "{share:?}");
    }
    assert_eq!(std::fs::read(bin()).unwrap(), before, "the sandbox binary changed");
}

/// 1.6: with the host's pid namespace shared, the monitor cannot be
/// ptraced, read or written through /proc by the command.
#[test]
fn the_monitor_cannot_be_attached_to() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = r#"
import os, ctypes
ppid = os.getppid()
libc = ctypes.CDLL(None, use_errno=True)
monitor = None
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            cmd = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\0')
        except OSError:
            continue
        if cmd and cmd[0].endswith(b'sandbox') and int(p) != ppid:
            monitor = int(p)
results = []
for target in (monitor, ppid):
    r = libc.ptrace(16, target, 0, 0)   # PTRACE_ATTACH
    results.append('attach:%d' % (ctypes.get_errno() if r != 0 else 0))
    for path in ('/proc/%d/mem' % target, '/proc/%d/environ' % target):
        try:
            open(path, 'rb').read(1); results.append('read-ok')
        except OSError as e:
            results.append('read:%d' % e.errno)
print(monitor is not None, ' '.join(results))
"#;
    let mut args = vec!["--share".to_string(), "pid".into(), "--".into()];
    args.extend(python(script));
    let out = sbx(cwd.path(), home.path(), &args).output().ok();
    assert!(out.starts_with("True "), "the monitor is visible with --share pid: {out}");
    assert!(!out.contains("attach:0") && !out.contains("read-ok"), "{out}");
}

/// 1.7: /proc/sys, sysrq-trigger, /sys and cgroup mounts are out of
/// reach; the host's hostname and core_pattern do not change.
#[test]
fn proc_sys_sys_and_cgroupfs_cannot_be_written() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let script = "for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/hostname /proc/sysrq-trigger \
                  /sys/kernel/uevent_helper; do (echo x > $f) 2>/dev/null && echo WROTE $f; done; \
                  mkdir -p /tmp/c; mount -t cgroup -o none,name=x cgroup /tmp/c 2>/dev/null && echo MOUNTED; \
                  grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status";
    for share in ["--hostname=h", "--share=uts"] {
        let out = sbx(cwd.path(), home.path(), [share, "--", "sh", "-c", script]).output().ok();
        assert!(!out.contains("WROTE") && !out.contains("MOUNTED"), "{out}");
        assert!(
            out.contains("CapEff:\t0000000000000000") && out.contains("CapBnd:\t0000000000000000"),
            "{out}"
        );
        assert!(out.contains("NoNewPrivs:\t1") && out.contains("Seccomp:\t2"), "{out}");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_name);
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), core);
}

/// 1.8: nothing mounted inside propagates to the host, and no mount inside
/// is shared.
#[test]
fn mounts_do_not_propagate_to_the_host() {
    let (cwd, home, w) = (Dir::new(), Dir::new(), Dir::new());
    w.mkdir("sub");
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let arg = format!("{}:/w", w.path().display());
    let script =
        "mount -t tmpfs none /w/sub 2>/dev/null && echo MOUNTED; grep -c shared: /proc/self/mountinfo";
    let out = sbx(cwd.path(), home.path(), ["--rw", &arg, "--", "sh", "-c", script]).output();
    assert_eq!(out.stdout(), "0\n", "{}", out.stderr());
    assert_eq!(std::fs::read_to_string("/proc/self/mountinfo").unwrap(), before);
}

/// 1.9: no nested user namespace (to regain capabilities for kernel attack
/// surface), not even by raising max_user_namespaces; --allow-userns is the
/// control that proves the test can tell.
#[test]
fn no_nested_user_namespaces() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script =
        "unshare -U true 2>/dev/null && echo NESTED; unshare -Ur true 2>/dev/null && echo NESTED-ROOT; \
                  (echo 100 > /proc/sys/user/max_user_namespaces) 2>/dev/null && echo RAISED; echo done";
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output().ok();
    assert_eq!(out, "done\n");
    let out =
        sbx(cwd.path(), home.path(), ["--allow-userns", "--", "sh", "-c", "unshare -U true && echo NESTED"])
            .output()
            .ok();
    assert_eq!(out, "NESTED\n", "the control: --allow-userns lifts it");
}

/// 1.16: the session bus is neither named in the environment nor reachable
/// at its path, even when the host has one.
#[test]
fn the_session_bus_is_unreachable() {
    let (cwd, home, runtime) = (Dir::new(), Dir::new(), Dir::new());
    let bus = runtime.path().join("bus");
    let listener = std::os::unix::net::UnixListener::bind(&bus).unwrap();
    listener.set_nonblocking(true).unwrap();
    if let Some((uid, gid)) = test_ids() {
        std::os::unix::fs::chown(&bus, Some(uid), Some(gid)).unwrap();
    }
    let script = format!(
        "import os, socket\nprint(os.environ.get('DBUS_SESSION_BUS_ADDRESS'))\ns = socket.socket(socket.AF_UNIX)\n\
         try:\n    s.connect('{}'); print('CONNECTED')\nexcept OSError as e:\n    print('refused', e.errno)\n",
        bus.display()
    );
    let mut args = vec!["--".to_string()];
    args.extend(python(&script));
    let out = sbx(cwd.path(), home.path(), &args)
        .env("DBUS_SESSION_BUS_ADDRESS", &format!("unix:path={}", bus.display()))
        .env("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap())
        .output()
        .ok();
    assert!(out.starts_with("None\nrefused "), "{out}");
    assert!(listener.accept().is_err(), "nothing connected to the host's bus");
}

/// 1.17: secrets and loader variables in the caller's environment do not
/// reach the command.
#[test]
fn environment_secrets_do_not_leak() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let secrets = [
        "SSH_AUTH_SOCK",
        "GPG_AGENT_INFO",
        "DBUS_SESSION_BUS_ADDRESS",
        "XDG_RUNTIME_DIR",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "KRB5CCNAME",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "LD_LIBRARY_PATH",
    ];
    let mut s = sbx(cwd.path(), home.path(), ["--", "env"]);
    for k in secrets {
        s = s.env(k, "secret-value");
    }
    let out = s.output().ok();
    assert!(!out.contains("secret-value"), "{out}");
}

/// 1.18: fds of every kind opened by the caller without close-on-exec stay
/// outside, also at high numbers.
#[test]
fn inherited_fds_of_every_kind_stay_outside() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let prelude = "exec 3<\"$HOME\" 4</etc/hostname 5<>/dev/null 6</ 9</etc/hostname";
    let out = via_shell(&cwd, &home, prelude, "-- ls /proc/self/fd");
    assert_eq!(out.ok(), "0\n1\n2\n3\n");
    // A socket, a pipe and a high fd number, from this process.
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (r, _w) = nix::unistd::pipe().unwrap();
    // SAFETY-free: dup2 onto a number this test owns; closed again below.
    let high = nix::unistd::dup2(r.as_raw_fd(), 1000).unwrap();
    for fd in [a.as_raw_fd(), r.as_raw_fd(), high] {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).unwrap();
    }
    let out = sbx(cwd.path(), home.path(), ["--", "ls", "/proc/self/fd"]).output().ok();
    let _ = nix::unistd::close(high);
    assert_eq!(out, "0\n1\n2\n3\n");
}

/// 1.19: however soon the monitor is killed after it starts, nothing it
/// started survives (the fork window of PR_SET_PDEATHSIG).
#[test]
fn pdeathsig_has_no_fork_window() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let tok = token();
    for i in 0..150u64 {
        let mut child = sbx(cwd.path(), home.path(), ["--", "sleep", &tok]).spawn();
        std::thread::sleep(std::time::Duration::from_micros((i * 37) % 3000));
        child.kill();
        child.wait();
    }
    assert!(
        wait_for(30.0, || host_pids_with(&format!("sleep {tok}")).is_empty()),
        "a command outlived its monitor"
    );
}

/// 1.20: host processes cannot be signalled from inside.
#[test]
fn host_processes_cannot_be_signalled() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let tok = token();
    let mut sleeper = Command::new("sleep");
    sleeper.arg(&tok);
    as_caller(&mut sleeper);
    let mut sleeper = spawn(&mut sleeper);
    let pid = sleeper.id().to_string();
    let script = format!("kill -0 {pid} 2>/dev/null && echo SEEN; kill -TERM {pid} 2>/dev/null && echo KILLED; kill -TERM -1 2>/dev/null; echo done");
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", &script]).output();
    assert_eq!(out.stdout(), "done\n");
    assert!(sleeper.try_wait().is_none(), "the host process was killed");
    sleeper.kill();
    sleeper.wait();
}

/// 1.21: no hard link or rename across bind mounts.
#[test]
fn no_links_or_renames_across_mounts() {
    let (cwd, home, a, b) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    a.file("f", "a");
    let (aa, ba) = (format!("{}:/a", a.path().display()), format!("{}:/b", b.path().display()));
    let script = "ln /a/f /b/f 2>/dev/null && echo LINKED; mv /a/f /b/f 2>&1 | grep -q . ; test -e /b/f && echo MOVED; \
                  ln /a/f /tmp/f 2>/dev/null && echo LINKED-TMP; echo done";
    let out =
        sbx(cwd.path(), home.path(), ["--rw", &aa, "--ro", &ba, "--", "sh", "-c", script]).output().ok();
    assert_eq!(out, "done\n");
    assert!(a.path().join("f").exists() && !b.path().join("f").exists());
}

/// 1.23: an overlay copy-up of a setuid file never leaves a setuid file in
/// the host's upper directory, and nothing setuid runs inside (nosuid).
#[test]
fn overlay_copy_up_drops_setuid() {
    use std::os::unix::fs::PermissionsExt;
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    let f = low.file("suid", "#!/bin/sh\nid -u\n");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let sd = state.path().join("st");
    let arg = format!("{}:{}:/data", low.path().display(), sd.display());
    sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "sh", "-c", "echo '# touched' >> /data/suid"])
        .output()
        .ok();
    let up = std::fs::metadata(sd.join("upper/suid")).unwrap();
    assert_eq!(up.permissions().mode() & 0o6000, 0, "setuid kept in the upper layer");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(up.uid(), caller_uid());
}

/// 1.4 T2: a destination flipped between a directory and a symlink to a
/// host directory while sandboxes mount beneath it never creates anything
/// on the host. The mount point `dst/made` is missing, so whichever
/// directory `dst` resolves to gets `made` created in it; the victim is the
/// caller's own (permissions do not stop it), and `made` must never appear
/// there. The link is flipped between the ways a resolution could leave
/// the root being built: through `/oldroot`, where the host's root is while
/// the root is built (scratch.rs), by `..` past the root, and by the host
/// path itself.
#[test]
fn racing_a_destination_symlink_never_reaches_the_host() {
    let (cwd, home, w, src, victim) = (Dir::new(), Dir::new(), Dir::new(), Dir::new(), Dir::new());
    src.file("x", "benign");
    let v = victim.path().strip_prefix("/").unwrap().display().to_string();
    let targets = [format!("/oldroot/{v}"), format!("{}oldroot/{v}", "../".repeat(12)), format!("/{v}")];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (dst, stop) = (w.path().join("dst"), stop.clone());
        std::thread::spawn(move || {
            for target in targets.iter().cycle() {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let _ = std::fs::create_dir(&dst);
                let _ = std::fs::remove_dir_all(&dst);
                let _ = std::os::unix::fs::symlink(target, &dst);
                let _ = std::fs::remove_file(&dst);
            }
        })
    };
    let wa = format!("{}:{}", w.path().display(), w.path().display());
    let sa = format!("{}:{}/dst/made", src.path().display(), w.path().display());
    let mut mounted = 0;
    for _ in 0..100 {
        let out = sbx(cwd.path(), home.path(), ["--rw", &wa, "--rw", &sa, "--", "true"]).output();
        assert!(out.code() == 0 || out.code() == 125, "{}", out.stderr());
        mounted += usize::from(out.code() == 0);
        assert!(!victim.path().join("made").exists(), "a mount point was created on the host");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0, "the host directory changed");
    assert!(mounted > 0, "no run got its mount (the race never let one through)");
}
