//! `sandbox check`: the real binary, as the caller and, when the tests run as
//! root, as an unprivileged user too (the default profile is for them).
//!
//! With CI=true it also asserts what the CI machines are known to have: user
//! namespaces, landlock ABI 7 or later, the egress firewall, and, where cgroup v2 is mounted beside
//! v1 with only hugetlb, a cgroup line that says so.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const FEATURES: [&str; 15] = [
    "user namespaces",
    "landlock",
    "seccomp filter",
    "overlayfs in user namespaces",
    "uid ranges",
    "user-mode networking",
    "egress firewall",
    "cgroup v2 delegation",
    // The graphical session (issue 17).
    "X11 display",
    "Wayland",
    "audio",
    "session bus",
    "GPU",
    "xdg-dbus-proxy",
    "Xephyr",
];

/// The line for `feature`, without its status; the status word.
fn line<'a>(out: &'a str, feature: &str) -> (&'a str, &'a str) {
    out.lines()
        .find_map(|l| {
            let (status, rest) = l.split_once(' ')?;
            let rest = rest.trim_start();
            rest.strip_prefix(feature)?.starts_with(':').then_some((status, rest))
        })
        .unwrap_or_else(|| panic!("no line for {feature:?} in:\n{out}"))
}

fn assert_report(who: &str, output: &Output) {
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{who}: stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), FEATURES.len(), "{who}:\n{out}");
    for (l, feature) in lines.iter().zip(FEATURES) {
        let (status, rest) = l.split_at(9);
        assert!(["ok       ", "limited  ", "missing  "].contains(&status), "{who}: {l}");
        assert!(rest.starts_with(&format!("{feature}: ")), "{who}: expected {feature:?} in {l:?}");
        if status.trim() == "missing" {
            assert!(l.contains("; fix: "), "{who}: a missing line names the fix: {l}");
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        assert_ci(who, &out);
    }
}

fn assert_ci(who: &str, out: &str) {
    assert_eq!(line(out, "user namespaces").0, "ok", "{who}:\n{out}");
    // .ci/run installs passt and slirp4netns and opens /dev/net/tun to users.
    assert_eq!(line(out, "user-mode networking").0, "ok", "{who}:\n{out}");
    // nf_tables is built into CI's kernel (the egress tests need it).
    assert_eq!(line(out, "egress firewall").0, "ok", "{who}:\n{out}");
    let (_, landlock) = line(out, "landlock");
    let abi: u32 = landlock
        .strip_prefix("landlock: ABI ")
        .and_then(|r| r.split(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{who}: no ABI in {landlock:?}"));
    assert!(abi >= 7, "{who}: {landlock}");
    // .ci/run installs the desktop helpers.
    assert_eq!(line(out, "xdg-dbus-proxy").0, "ok", "{who}:\n{out}");
    assert_eq!(line(out, "Xephyr").0, "ok", "{who}:\n{out}");
    let unified = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers");
    if unified.is_ok_and(|c| c.trim() == "hugetlb") {
        let (status, cgroup) = line(out, "cgroup v2 delegation");
        assert_eq!(status, "missing", "{who}: {cgroup}");
        assert!(cgroup.contains("hugetlb"), "{who}: {cgroup}");
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sandbox")
}

#[test]
fn check_as_caller() {
    let mut check = Command::new(bin());
    check.arg("check");
    assert_report("caller", &common::out(&mut check).0);
}

fn run(cmd: &str, args: &[&str]) -> Option<Output> {
    let mut c = Command::new(cmd);
    c.args(args);
    Some(common::out(&mut c).0)
}

/// The uid and gid of `sandbox-test`, created when missing (another test
/// process may be creating it at the same moment).
fn test_user() -> (String, String) {
    let id = |flag| {
        let o = run("id", &[flag, "sandbox-test"]).filter(|o| o.status.success())?;
        Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    for _ in 0..20 {
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return (uid, gid);
        }
        let args = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "sandbox-test"];
        if !run("useradd", &args).is_some_and(|o| o.status.success()) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    panic!("cannot create the user sandbox-test");
}

#[test]
fn check_as_unprivileged_user() {
    if !nix::unistd::Uid::effective().is_root() {
        return; // check_as_caller already runs unprivileged
    }
    let (uid, gid) = test_user();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let copy = dir.path().join("sandbox");
    std::fs::copy(bin(), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod binary");
    let mut setpriv = Command::new("setpriv");
    setpriv
        .args([&format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups"])
        .arg(&copy)
        .arg("check")
        .current_dir(Path::new("/"))
        .env("TMPDIR", "/tmp");
    assert_report("sandbox-test", &common::out(&mut setpriv).0);
}
