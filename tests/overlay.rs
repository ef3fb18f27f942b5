//! Integration tests of overlays (issue 8): writable views of the host that
//! never change the host, and persistent state.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// Every file and directory under `root` with its content (the host tree's
/// fingerprint before and after a run).
fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn lower() -> Dir {
    let d = Dir::new();
    d.file("a", "original a\n");
    d.file("sub/b", "original b\n");
    d.file("sub/deep/c", "original c\n");
    d
}

const CHURN: &str =
    "echo new > /data/new && echo more >> /data/a && rm /data/sub/b && mv /data/sub/deep /data/moved \
                     && mkdir /data/dir && ls /data /data/moved";

/// Whether `sandbox check` says `--overlay` cannot remove or rename a lower
/// directory with entries here: its tmpfs upper layer has no user xattrs
/// (Linux before 6.6, as the VM lane's Debian 12 6.1).
fn overlay_is_limited(cwd: &Dir, home: &Dir) -> bool {
    let text = sbx(cwd.path(), home.path(), ["check"]).output().stdout();
    let line = text.lines().find(|l| l.contains("overlayfs in user namespaces")).unwrap_or("").to_string();
    line.starts_with("limited ")
}

#[test]
fn overlay_writes_vanish_and_the_host_tree_is_unchanged() {
    let (cwd, home, low) = (Dir::new(), Dir::new(), lower());
    let before = snapshot(low.path());
    let arg = format!("{}:/data", low.path().display());
    let (churn, listing) = if overlay_is_limited(&cwd, &home) {
        // What check says, and nothing else: the move fails, the host stays.
        let mv = "mv /data/sub/deep /data/moved 2>&1; true";
        let out = sbx(cwd.path(), home.path(), ["--overlay", &arg, "--", "sh", "-c", mv]).output().ok();
        assert!(out.contains("Input/output error"), "{out}");
        assert_eq!(snapshot(low.path()), before, "the host tree changed");
        (
            "echo new > /data/new && echo more >> /data/a && rm /data/sub/b && mkdir /data/dir && ls /data",
            "a\ndir\nnew\nsub\n",
        )
    } else {
        (CHURN, "/data:\na\ndir\nmoved\nnew\nsub\n\n/data/moved:\nc\n")
    };
    let out = sbx(cwd.path(), home.path(), ["--overlay", &arg, "--", "sh", "-c", churn]).output().ok();
    assert_eq!(out, listing);
    assert_eq!(snapshot(low.path()), before, "the host tree changed");
    let out = sbx(cwd.path(), home.path(), ["--overlay", &arg, "--", "ls", "/data"]).output().ok();
    assert_eq!(out, "a\nsub\n", "writes vanished at exit");
}

#[test]
fn persist_keeps_changes_and_deletions_and_never_touches_the_host() {
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), lower(), Dir::new());
    let before = snapshot(low.path());
    let sd = state.path().join("st");
    let arg = format!("{}:{}:/data", low.path().display(), sd.display());
    sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "sh", "-c", CHURN]).output().ok();
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--persist", &arg, "--", "sh", "-c", "ls /data /data/sub; cat /data/a"],
    )
    .output()
    .ok();
    assert_eq!(out, "/data:\na\ndir\nmoved\nnew\nsub\n\n/data/sub:\noriginal a\nmore\n");
    assert_eq!(snapshot(low.path()), before, "the host lower changed");
    assert!(sd.join("upper/new").exists(), "the state directory holds the writes");
}

#[test]
fn a_state_dir_in_use_is_refused() {
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), lower(), Dir::new());
    let arg = format!("{}:{}:/data", low.path().display(), state.path().join("st").display());
    let tok = token();
    let mut first = sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "sleep", &tok]).spawn();
    assert!(wait_for(30.0, || !host_pids_with(&format!("sleep {tok}")).is_empty()));
    let out = sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "true"]).output();
    out.fails(125, "in use by another running sandbox");
    first.kill();
    first.wait();
    assert!(wait_for(30.0, || host_pids_with(&format!("sleep {tok}")).is_empty()));
    sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "true"]).output().ok();
}

#[test]
fn kill_9_during_a_write_leaves_the_state_usable() {
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), lower(), Dir::new());
    let sd = state.path().join("st");
    let arg = format!("{}:{}:/data", low.path().display(), sd.display());
    let tok = token();
    let script = format!("while :; do echo {tok} >> /data/log; done");
    let mut child = sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "sh", "-c", &script]).spawn();
    assert!(wait_for(30.0, || std::fs::metadata(sd.join("upper/log"))
        .map(|m| m.len() > 1000)
        .unwrap_or(false)));
    child.kill();
    child.wait();
    assert!(wait_for(30.0, || host_pids_with(&format!("sh -c {script}")).is_empty()), "the writer died");
    let out =
        sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "sh", "-c", "test -s /data/log && echo ok"])
            .output()
            .ok();
    assert_eq!(out, "ok\n");
}

#[test]
fn ro_overlay_stacks_many_lowers_in_order_and_is_read_only() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let (top, mid, bottom) = (Dir::new(), Dir::new(), Dir::new());
    top.file("same", "top\n");
    mid.file("same", "mid\n");
    mid.file("only-mid", "m\n");
    bottom.file("same", "bottom\n");
    bottom.file("only-bottom", "b\n");
    let arg = format!("{}:{}:{}:/stack", top.path().display(), mid.path().display(), bottom.path().display());
    let script = "cat /stack/same; ls /stack; touch /stack/x 2>&1 || true";
    let out = sbx(cwd.path(), home.path(), ["--ro-overlay", &arg, "--", "sh", "-c", script]).output().ok();
    assert!(out.starts_with("top\nonly-bottom\nonly-mid\nsame\n"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    sbx(cwd.path(), home.path(), ["--ro-overlay", "/usr:/x", "--", "true"])
        .output()
        .fails(125, "at least two layers");
}

#[test]
fn a_tmpfs_backed_lower_works_too() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let shm = tempfile::Builder::new().prefix("sandbox-test-").tempdir_in("/dev/shm").unwrap();
    std::fs::write(shm.path().join("f"), "shm\n").unwrap();
    if let Some((uid, gid)) = test_ids() {
        for p in [shm.path().to_path_buf(), shm.path().join("f")] {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
        }
    }
    let before = snapshot(shm.path());
    let arg = format!("{}:/s", shm.path().display());
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--overlay", &arg, "--", "sh", "-c", "echo x >> /s/f; rm /s/f; ls -A /s"],
    )
    .output()
    .ok();
    assert_eq!(out, "");
    assert_eq!(snapshot(shm.path()), before);
}

#[test]
fn bad_layers_are_clear_errors() {
    let (cwd, home) = (Dir::new(), Dir::new());
    sbx(cwd.path(), home.path(), ["--overlay", "/nonexistent-lower:/x", "--", "true"])
        .output()
        .fails(125, "overlay lower /nonexistent-lower: No such file or directory");
    let low = lower();
    let inside = format!("{}:{}/state", low.path().display(), low.path().display());
    sbx(cwd.path(), home.path(), ["--persist", &inside, "--", "true"])
        .output()
        .fails(125, "may not contain each other");
    assert!(!low.path().join("state").exists(), "nothing created on the host");
}

#[test]
fn an_upper_on_overlayfs_is_refused_with_the_reason() {
    if !root_or_skip("making a host overlay mount for the state directory") {
        return;
    }
    let (cwd, home, low, host) = (Dir::new(), Dir::new(), lower(), Dir::new());
    for d in ["l", "u", "w", "m"] {
        host.mkdir(d);
    }
    let m = host.path().join("m");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        host.path().join("l").display(),
        host.path().join("u").display(),
        host.path().join("w").display()
    );
    let mut mount = std::process::Command::new("mount");
    mount.args(["-t", "overlay", "overlay", "-o", &opts]).arg(&m);
    assert!(status(&mut mount).success(), "mount a host overlay for the test");
    let arg = format!("{}:{}/state:/data", low.path().display(), m.display());
    let out = sbx(cwd.path(), home.path(), ["--persist", &arg, "--", "true"]).output();
    let mut umount = std::process::Command::new("umount");
    umount.arg(&m);
    status(&mut umount);
    out.fails(125, "it is on overlayfs, which overlayfs cannot use as an upper layer");
}
