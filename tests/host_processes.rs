//! Host processes out of reach with the host's pid namespace (issue 14,
//! item 8): under `--share pid` and in landlock-only mode the command sees
//! the caller's other processes; landlock's signal scope keeps signals and
//! ptrace from them, and the filter that comes with it
//! (seccomp/landlock.json) refuses the calls that change them otherwise:
//! their limits (RLIMIT_CPU 1 kills), nice value, scheduling policy, CPU
//! affinity and I/O priority. The victim is a `sleep` the test starts on the
//! host as the sandbox's caller; after the run it must be alive and
//! unchanged. A control run with `--allow-signals` (which lifts the scope)
//! changes a second victim, so the observation itself can fail.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

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

/// Changes process argv[1] every way it can, then sets its own values
/// again through pid 0 (so that a refusal of every call would show), and
/// prints one `name result` line each: `ok` or the errno name. argv[2] is
/// the one CPU to pin the victim to.
const PROBE: &str = r#"
import ctypes, errno, os, resource, sys
pid, cpu = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
IOPRIO_SET, WHO_PROCESS, IDLE, BEST_EFFORT = 251, 1, 3 << 13, 2 << 13 | 4
def ioprio_set(who, prio):
    if libc.syscall(IOPRIO_SET, WHO_PROCESS, who, prio) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
def run(name, f):
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
run("victim-prlimit", lambda: resource.prlimit(pid, resource.RLIMIT_CPU, (1, 1)))
run("victim-setpriority", lambda: os.setpriority(os.PRIO_PROCESS, pid, 19))
run("victim-affinity", lambda: os.sched_setaffinity(pid, {cpu}))
run("victim-scheduler", lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)))
run("victim-ioprio", lambda: ioprio_set(pid, IDLE))
run("victim-read-limits", lambda: resource.prlimit(pid, resource.RLIMIT_CPU))
nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
run("self-prlimit", lambda: resource.prlimit(0, resource.RLIMIT_NOFILE, nofile))
run("self-setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0)))
run("self-affinity", lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)))
run("self-scheduler", lambda: os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0)))
run("self-ioprio", lambda: ioprio_set(0, BEST_EFFORT))
"#;

/// A host `sleep` of the sandbox's caller (killed when dropped, also when
/// an assertion fails).
fn victim() -> Proc {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some((uid, gid)) = test_ids() {
        cmd.uid(uid).gid(gid);
    }
    spawn(&mut cmd)
}

/// What can be changed of a process: limits, nice, policy, CPUs, I/O priority.
fn state(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let cpu = limits.lines().find(|l| l.starts_with("Max cpu time")).unwrap().to_string();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
    let (nice, policy) = (fields[16], fields[38]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let cpus = status.lines().find(|l| l.starts_with("Cpus_allowed_list")).unwrap().to_string();
    // SAFETY: ioprio_get reads no memory; IOPRIO_WHO_PROCESS is 1.
    let ioprio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid as libc::c_int) };
    format!("{cpu} | nice {nice} | policy {policy} | {cpus} | ioprio {ioprio}")
}

/// The last CPU this process may run on: the victim is pinned to it.
fn one_cpu() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap().trim();
    let last = list.rsplit([',', '-']).next().unwrap();
    last.parse().unwrap()
}

fn probe(args: &[&str], pid: u32) -> Vec<String> {
    let (cwd, home) = (Dir::new(), Dir::new());
    let (pid, cpu) = (pid.to_string(), one_cpu().to_string());
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "python3", "-c", PROBE, &pid, &cpu]);
    sbx(cwd.path(), home.path(), &all).output().ok().lines().map(String::from).collect()
}

#[test]
fn host_processes_keep_their_limits_priority_and_affinity() {
    if !landlock_abi(6) {
        return;
    }
    let mut v = victim();
    let before = state(v.id());
    for mode in [&["--share", "pid"][..], &["--mode", "landlock"]] {
        let got = probe(mode, v.id());
        let want = [
            "victim-prlimit EPERM",
            "victim-setpriority EPERM",
            "victim-affinity EPERM",
            "victim-scheduler EPERM",
            "victim-ioprio EPERM",
            "victim-read-limits ok",
            "self-prlimit ok",
            "self-setpriority ok",
            "self-affinity ok",
            "self-scheduler ok",
            "self-ioprio ok",
        ];
        assert_eq!(got, want, "{mode:?}");
        assert_eq!(state(v.id()), before, "{mode:?}: the host process was changed");
        assert!(v.try_wait().is_none(), "{mode:?}: the host process died");
    }
    drop(v);
    // The control: with the scope lifted the same probe changes a victim.
    let v = victim();
    let before = state(v.id());
    let got = probe(&["--share", "pid", "--allow-signals"], v.id());
    assert!(got.iter().take(5).all(|l| l.ends_with(" ok")), "control: {got:?}");
    let after = state(v.id());
    assert!(after.contains("Max cpu time              1 "), "control: {after}");
    assert_ne!(after, before);
}
