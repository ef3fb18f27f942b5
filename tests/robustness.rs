//! Robustness (issue 11): SIGKILL of the monitor at each setup stage leaves
//! nothing behind, and many sandboxes at once stay apart.

mod common;

use std::collections::BTreeSet;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What a run could leave on the host: our own mount table, and entries
/// named after sandbox in /tmp and /dev/shm (other than the test harness's
/// own directories; other tests create and remove theirs meanwhile).
fn host_state() -> (String, BTreeSet<String>) {
    let harness = ["sandbox-test-", "sandbox-bin-", "sandbox-helper-", "sandbox-fuzz-"];
    let mut names = BTreeSet::new();
    for d in ["/tmp", "/dev/shm"] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains("sandbox") && !harness.iter().any(|h| n.starts_with(h)) {
                names.insert(format!("{d}/{n}"));
            }
        }
    }
    (std::fs::read_to_string("/proc/self/mountinfo").unwrap(), names)
}

/// A directory's entries (none when it does not exist yet).
fn listing(d: &std::path::Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(d) else { return BTreeSet::new() };
    entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()
}

fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn gone(pid: u32) -> bool {
    matches!(state_of(pid), None | Some('Z') | Some('X'))
}

#[test]
fn sigkill_of_the_monitor_at_each_stage_leaves_nothing() {
    if !cfg!(debug_assertions) {
        skip("the pause hook exists in debug builds only");
        return;
    }
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    low.file("f", "lower\n");
    let persist = format!("{}:{}:/data", low.path().display(), state.path().join("st").display());
    for stage in ["before-maps", "mounts", "after-exec"] {
        let before = host_state();
        let tok = token();
        let mut s = sbx(cwd.path(), home.path(), ["--persist", &persist, "--", "sleep", &tok]);
        if stage != "after-exec" {
            s = s.env("SANDBOX_TEST_PAUSE_AT", stage);
        }
        let mut monitor = s.spawn();
        let m = monitor.id();
        // The process that reaches the stage: the monitor before the maps
        // are written, init (its child) during the mounts, the command after.
        let reached = match stage {
            "before-maps" => wait_for(5.0, || comm(m) == "sbx-paused"),
            "mounts" => wait_for(5.0, || children(m).iter().any(|&c| comm(c) == "sbx-paused")),
            _ => wait_for(5.0, || !host_pids_with(&format!("sleep {tok}")).is_empty()),
        };
        assert!(reached, "{stage}: the sandbox never reached the stage");
        let init = children(m);
        kill(Pid::from_raw(m as i32), Signal::SIGKILL).unwrap();
        monitor.wait();
        assert!(wait_for(3.0, || init.iter().all(|&p| gone(p))), "{stage}: init outlived the monitor");
        assert!(
            host_pids_with(&format!("sleep {tok}")).is_empty(),
            "{stage}: the command outlived the monitor"
        );
        assert_eq!(host_state(), before, "{stage}: a mount or a file was left on the host");
        assert!(listing(cwd.path()).is_empty() && listing(home.path()).is_empty(), "{stage}: files left");
        let st = listing(&state.path().join("st"));
        assert!(st.iter().all(|n| ["lock", "upper", "work"].contains(&n.as_str())), "{stage}: {st:?}");
        let out = sbx(cwd.path(), home.path(), ["--persist", &persist, "--", "cat", "/data/f"]).output();
        assert_eq!(out.ok(), "lower\n", "{stage}: the state directory is usable afterwards");
    }
}

#[test]
fn fifty_sandboxes_at_once_stay_apart() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script =
        "echo $1 > /tmp/mine-$1; sleep 0.3; ls /tmp | grep mine-; for p in /proc/[0-9]*; do echo ${p#/proc/}; done | wc -l";
    let children: Vec<_> = (0..50)
        .map(|i| {
            let n = i.to_string();
            sbx(cwd.path(), home.path(), ["--", "sh", "-c", script, "sh", &n]).spawn()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.output();
        assert_eq!(out.code(), 0, "sandbox {i}: {}", out.stderr());
        let stdout = out.stdout();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], format!("mine-{i}"), "sandbox {i} sees another's /tmp: {lines:?}");
        let procs: usize = lines[1].trim().parse().unwrap();
        assert!(procs <= 4, "sandbox {i} sees {procs} processes");
    }
}
