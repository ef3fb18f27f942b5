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

/// `pid` and every process below it, parents first.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    all
}

/// The setup stages of a run where the monitor is killed (see
/// `launch::Options::pause_at`), the process that pauses there (0 the
/// monitor, 1 init, 2 the command's process), and the options that make
/// the stage happen; `after-exec` is the command running.
const STAGES: [(&str, usize, &[&str]); 8] = [
    ("before-maps", 0, &[]),
    ("cgroup", 0, &["--memory", "64M", "--pids", "32"]),
    ("user-net", 0, &["--net", "user"]),
    ("persist-lock", 1, &[]),
    ("mounts", 1, &[]),
    ("landlock", 2, &[]),
    ("seccomp", 2, &[]),
    ("after-exec", 2, &[]),
];

/// SIGKILL of the monitor at each setup stage: nothing it started lives
/// on (init, the command, a network backend), nothing is left mounted or
/// created on the host, and the state directory's lock is free again.
#[test]
fn sigkill_of_the_monitor_at_each_stage_leaves_nothing() {
    if !cfg!(debug_assertions) {
        skip("the pause hook exists in debug builds only");
        return;
    }
    let (cwd, home, low, state) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    low.file("f", "lower\n");
    let persist = format!("{}:{}:/data", low.path().display(), state.path().join("st").display());
    let (status, line) = cgroup_check(&cwd, &home);
    for (stage, depth, extra) in STAGES {
        if stage == "cgroup" && !cgroup_limits_work(&status, &line) {
            without_cgroup_limits(
                "killing the monitor at the cgroup stage",
                &line,
                &["kill -9 of the monitor paused at the cgroup stage (debug build)"],
            );
            continue;
        }
        kill_at(stage, depth, extra, &persist, &cwd, &home);
        let st = listing(&state.path().join("st"));
        assert!(st.iter().all(|n| ["lock", "upper", "work"].contains(&n.as_str())), "{stage}: {st:?}");
        let out = sbx(cwd.path(), home.path(), ["--persist", &persist, "--", "cat", "/data/f"]).output();
        assert_eq!(out.ok(), "lower\n", "{stage}: the state directory is usable afterwards");
    }
}

/// Runs a sandbox that pauses at `stage`, kills its monitor there and
/// checks the host.
fn kill_at(stage: &str, depth: usize, extra: &[&str], persist: &str, cwd: &Dir, home: &Dir) {
    let before = host_state();
    let tok = token();
    let mut args = vec!["--persist", persist];
    args.extend(extra);
    args.extend(["--", "sleep", &tok]);
    let mut s = sbx(cwd.path(), home.path(), &args);
    if stage != "after-exec" {
        s = s.env("SANDBOX_TEST_PAUSE_AT", stage);
    }
    let mut monitor = s.spawn();
    let m = monitor.id();
    // The process at the stage, `depth` generations below the monitor.
    let at_depth = || {
        let mut level = vec![m];
        for _ in 0..depth {
            level = level.iter().flat_map(|&p| children(p)).collect();
        }
        level
    };
    let reached = match stage {
        "after-exec" => wait_for(10.0, || host_pids_with(&format!("sleep {tok}")) == at_depth()),
        _ => wait_for(10.0, || at_depth().iter().any(|&p| comm(p) == "sbx-paused")),
    };
    assert!(reached, "{stage}: the sandbox never reached the stage: {:?}", tree(m));
    let started = tree(m);
    if stage == "user-net" {
        let backend = |p: &u32| ["pasta", "passt", "slirp4netns"].iter().any(|b| comm(*p).starts_with(b));
        assert!(started.iter().any(backend), "{stage}: no network backend among {started:?}");
    }
    kill(Pid::from_raw(m as i32), Signal::SIGKILL).unwrap();
    monitor.wait();
    let left = || started.iter().copied().filter(|&p| !gone(p)).collect::<Vec<_>>();
    if !wait_for(3.0, || left().is_empty()) {
        let left = left();
        for &p in &left {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
        panic!("{stage}: {left:?} outlived the monitor");
    }
    assert!(host_pids_with(&format!("sleep {tok}")).is_empty(), "{stage}: the command outlived the monitor");
    assert_eq!(host_state(), before, "{stage}: a mount or a file was left on the host");
    assert!(listing(cwd.path()).is_empty() && listing(home.path()).is_empty(), "{stage}: files left");
}

/// pid 1 inside reaps orphans: a double-forked child that exits is gone
/// from /proc within seconds, never left a zombie.
#[test]
fn pid_1_reaps_orphaned_zombies() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = r#"
import os, time
r, w = os.pipe()
child = os.fork()
if child == 0:
    if os.fork() == 0:
        os.close(r)
        os.write(w, b"%d\n" % os.getpid())
        time.sleep(0.3)
        os._exit(0)
    os._exit(0)
os.close(w)
os.waitpid(child, 0)
orphan = int(os.read(r, 32))
def state():
    try:
        stat = open("/proc/%d/stat" % orphan).read()
    except FileNotFoundError:
        return "gone"
    fields = stat.rsplit(")", 1)[1].split()
    return "Z" if fields[0] == "Z" else "ppid=" + fields[1]
print("orphan", state())
end = time.time() + 10
while state() != "gone" and time.time() < end:
    time.sleep(0.05)
print("orphan", state())
zombies = [p for p in os.listdir("/proc") if p.isdigit() and open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[0] == "Z"]
print("zombies", zombies)
"#;
    let out = sbx(cwd.path(), home.path(), ["--", "python3", "-c", script]).output().ok();
    assert_eq!(out, "orphan ppid=1\norphan gone\nzombies []\n", "the orphan was not reaped");
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
