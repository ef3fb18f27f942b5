//! Limits, time-outs and status (issue 10): the real binary, run as an
//! unprivileged user, checked from inside and from the host.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn setup() -> (Dir, Dir) {
    (Dir::new(), Dir::new())
}

/// Host pids whose command line contains `needle`.
fn host_pids_containing(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) && pid != std::process::id() {
                out.push(pid);
            }
        }
    }
    out
}

/// The state letter of /proc/PID/stat (R, S, T, Z, …).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// `sandbox ARGS` with the status fd 3 on its stdout (and the command's
/// stdout on /dev/null), as the test user.
fn with_status_fd(cwd: &Dir, home: &Dir, args: &[&str]) -> Proc {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" \"$@\" 3>&1 >/dev/null")
        .arg(bin())
        .args(args)
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    as_caller(&mut cmd);
    spawn(&mut cmd)
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
}

#[test]
fn timeout_ends_the_command_in_about_a_second_with_124() {
    let (cwd, home) = setup();
    let tok = token();
    let start = Instant::now();
    let out = sbx(cwd.path(), home.path(), ["--timeout", "1s", "--", "sleep", &tok]).output();
    let took = start.elapsed();
    assert_eq!(out.code(), 124, "stderr:\n{}", out.stderr());
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(3), "took {took:?}");
    assert!(host_pids_with(&format!("sleep {tok}")).is_empty(), "a process is left");
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let (cwd, home) = setup();
    let tok = token();
    let script = format!("trap '' TERM; sleep {tok}; echo survived");
    let start = Instant::now();
    let args = ["--timeout", "0.5s", "--kill-after", "1s", "--", "sh", "-c", &script];
    let out = sbx(cwd.path(), home.path(), args).output();
    let took = start.elapsed();
    assert_eq!(out.code(), 124, "stderr:\n{}", out.stderr());
    assert!(!out.stdout().contains("survived"));
    assert!(took >= Duration::from_millis(1450) && took < Duration::from_secs(4), "took {took:?}");
    assert!(host_pids_with(&format!("sleep {tok}")).is_empty(), "a process is left");
}

#[test]
fn nofile_16_makes_the_17th_fd_fail() {
    let (cwd, home) = setup();
    // bash hands out {fd} from 10 up: 10..=15 fit under 16, 16 does not.
    let script =
        "ulimit -n; for i in $(seq 20); do exec {fd}</dev/null || { echo failed; break; }; echo $fd; done";
    let out =
        sbx(cwd.path(), home.path(), ["--limit", "nofile=16", "--", "bash", "-c", script]).output().ok();
    assert_eq!(out, "16\n10\n11\n12\n13\n14\n15\nfailed\n");
}

#[test]
fn fsize_limits_a_write_and_the_host_file_stays_small() {
    let (cwd, home) = setup();
    let out = sbx(
        cwd.path(),
        home.path(),
        ["--limit", "fsize=1K", "--", "sh", "-c", "head -c 4096 /dev/zero > big"],
    )
    .output();
    assert_eq!(out.code(), 128 + 25, "killed by SIGXFSZ; stderr:\n{}", out.stderr());
    assert_eq!(std::fs::metadata(cwd.path().join("big")).unwrap().len(), 1024);
}

#[test]
fn a_limit_above_the_hard_limit_is_refused_with_the_current_one() {
    let (cwd, home) = setup();
    let out = sbx(cwd.path(), home.path(), ["--limit", "nofile=unlimited", "--", "true"]).output();
    out.fails(125, "sandbox: limit nofile=unlimited: Operation not permitted");
    assert!(out.stderr().contains("hint: the hard limit of nofile is "), "{}", out.stderr());
}

#[test]
fn nproc_stops_a_fork_bomb_and_the_host_is_fine() {
    let (cwd, home) = setup();
    let tok = token();
    // 60 forks that each sleep; fork fails once the sandbox's user has 20
    // processes (init and perl included). Bounded by the count and --timeout.
    let script = format!(
        "# {tok}\n my ($ok, $fail) = (0, 0);\n\
         for (1..60) {{ my $p = fork; if (!defined $p) {{ $fail++; next }} if (!$p) {{ sleep 30; exit 0 }} $ok++ }}\n\
         my @procs = glob '/proc/[0-9]*';\n\
         print \"ok=$ok fail=$fail procs=\", scalar(@procs), \"\\n\";"
    );
    let args = ["--limit", "nproc=20", "--timeout", "10s", "--", "perl", "-e", &script];
    let out = sbx(cwd.path(), home.path(), args).output().ok();
    let nums: Vec<usize> =
        out.trim().split(' ').map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap()).collect();
    let [ok, fail, procs] = nums[..] else { panic!("{out}") };
    assert_eq!(ok, 18, "init and perl count: {out}");
    assert_eq!(fail, 42, "{out}");
    assert!(procs <= 20, "{out}");
    assert!(wait_for(3.0, || host_pids_containing(&tok).is_empty()), "processes left on the host");
    assert!(status(&mut Command::new("true")).success(), "the host can still fork");
}

#[test]
fn status_fd_json_holds_the_pids_and_the_exit_code() {
    let (cwd, home) = setup();
    let tok = token();
    let mut child = with_status_fd(&cwd, &home, &["--status-fd", "3", "--", "sleep", &tok]);
    let mut lines = child.lines();
    let start = json(&lines.line());
    let init = start["child-pid"].as_u64().unwrap() as u32;
    let command = start["command-pid"].as_u64().unwrap() as u32;
    let cmdline = std::fs::read(format!("/proc/{command}/cmdline")).unwrap();
    assert_eq!(String::from_utf8_lossy(&cmdline), format!("sleep\0{tok}\0"));
    let nspid = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert!(nspid.lines().any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")), "init is pid 1 inside");
    let pidns =
        std::fs::metadata(format!("/proc/{init}/ns/pid")).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert_eq!(start["pid-namespace"].as_u64(), pidns.ok());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let end = json(&lines.line());
    assert_eq!(end, serde_json::json!({ "exit-code": 143, "signal": 15 }));
    assert!(lines.next_line().is_none());
    assert_eq!(child.wait().code(), Some(143), "SIGTERM to the monitor ends the command with 143");

    let child = with_status_fd(&cwd, &home, &["--json-status-fd", "3", "--", "sh", "-c", "exit 42"]);
    let out = child.output();
    let text = out.stdout();
    let lines: Vec<serde_json::Value> = text.lines().map(json).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[1], serde_json::json!({ "exit-code": 42 }));
    assert_eq!(out.code(), 42);
}

#[test]
fn status_fd_reports_a_timeout_and_nothing_for_a_setup_failure() {
    let (cwd, home) = setup();
    let child = with_status_fd(&cwd, &home, &["--status-fd", "3", "--timeout", "0.2s", "--", "sleep", "9"]);
    let text = child.output().stdout();
    let last = json(text.lines().last().unwrap());
    assert_eq!(last, serde_json::json!({ "exit-code": 124, "signal": 15, "timed-out": true }));
    let child = with_status_fd(&cwd, &home, &["--status-fd", "3", "--", "/nonexistent"]);
    let out = child.output();
    assert_eq!(out.code(), 127);
    assert_eq!(out.stdout(), "", "no line without an exec");
    let out = sbx(cwd.path(), home.path(), ["--status-fd", "9", "--", "true"]).output();
    out.fails(125, "sandbox: --status-fd 9: Bad file descriptor");
}

#[test]
fn pid_file_holds_the_command_pid_while_it_runs() {
    let (cwd, home) = setup();
    let tok = token();
    let pid_file = cwd.path().join("x.pid");
    let args = ["--pid-file", pid_file.to_str().unwrap(), "--", "sleep", &tok];
    let mut child = sbx(cwd.path(), home.path(), args).spawn();
    let text = || std::fs::read_to_string(&pid_file).unwrap_or_default();
    assert!(wait_for(5.0, || text().ends_with('\n')), "no pid in {}", pid_file.display());
    let pid: u32 = text().trim().parse().unwrap();
    assert_eq!(host_pids_with(&format!("sleep {tok}")), [pid]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().code(), Some(143));
    assert!(!pid_file.exists(), "the pid file is removed at the end");
    let out = sbx(cwd.path(), home.path(), ["--pid-file", "/nonexistent/x.pid", "--", "true"]).output();
    out.fails(125, "sandbox: --pid-file /nonexistent/x.pid: No such file or directory");
}

#[test]
fn sigtstp_and_sigcont_of_the_monitor_stop_and_continue_the_sandbox() {
    let (cwd, home) = setup();
    let tok = token();
    let script = format!("sleep {tok}");
    let mut child = with_status_fd(&cwd, &home, &["--status-fd", "3", "--", "sh", "-c", &script]);
    let mut lines = child.lines();
    let start = json(&lines.line());
    let shell = start["command-pid"].as_u64().unwrap() as u32;
    assert!(wait_for(5.0, || host_pids_with(&format!("sleep {tok}")).len() == 1));
    let sleeper = host_pids_with(&format!("sleep {tok}"))[0];
    let monitor = Pid::from_raw(child.id() as i32);
    stop_and_continue(monitor, &[child.id(), shell, sleeper]);
    kill(monitor, Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().code(), Some(143));
    assert!(host_pids_with(&format!("sleep {tok}")).is_empty());
}

#[test]
fn the_command_gets_sigpipe_back_and_no_blocked_signals() {
    let (cwd, home) = setup();
    let script = "grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -c 1 >/dev/null";
    let run = sbx(cwd.path(), home.path(), ["--", "sh", "-c", script]).output();
    let out = run.ok();
    assert_eq!(run.stderr(), "", "no complaint from yes: SIGPIPE killed it");
    let mask = |name: &str| {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split('\t').nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "{out}");
    assert_eq!(mask("SigIgn:") & (1 << (Signal::SIGPIPE as u32 - 1)), 0, "SIGPIPE is ignored: {out}");
}

/// Landlock-only mode (no namespaces) needs landlock with scopes (ABI 6).
fn landlock_only_mode_works_here() -> bool {
    const VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute and size 0 the kernel reads no memory.
    let abi =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, VERSION) };
    if abi >= 6 {
        return true;
    }
    skip(&format!("landlock-only mode needs landlock ABI 6, this kernel has {abi}"));
    false
}

#[test]
fn time_out_and_rlimits_in_landlock_only_mode() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home) = setup();
    let tok = token();
    let _sleepers = Sleepers(format!("sleep {tok}"));
    // The command ignores SIGTERM and has a child: the SIGKILL after the
    // grace reaches every process it started.
    let script = format!("trap '' TERM; sleep {tok}; echo survived");
    let args = ["--mode", "landlock", "--timeout", "0.5s", "--kill-after", "0.5s", "--", "sh", "-c", &script];
    let start = Instant::now();
    let out = sbx(cwd.path(), home.path(), args).output();
    let took = start.elapsed();
    assert_eq!(out.code(), 124, "stderr:\n{}", out.stderr());
    assert!(!out.stdout().contains("survived"));
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(3), "took {took:?}");
    assert!(wait_for(2.0, || host_pids_with(&format!("sleep {tok}")).is_empty()), "a process is left");

    let script =
        "ulimit -n; for i in $(seq 20); do exec {fd}</dev/null || { echo failed; break; }; echo $fd; done";
    let args = ["--mode", "landlock", "--limit", "nofile=16", "--", "bash", "-c", script];
    let out = sbx(cwd.path(), home.path(), args).output().ok();
    assert_eq!(out, "16\n10\n11\n12\n13\n14\n15\nfailed\n");
}

/// Kills the host processes `sleep TOKEN` when dropped: in landlock-only
/// mode they are host processes, and a failing test must not leave them.
struct Sleepers(String);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for pid in host_pids_with(&self.0) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

#[test]
fn status_fd_pid_file_and_signals_in_landlock_only_mode() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home) = setup();
    let tok = token();
    let _sleepers = Sleepers(format!("sleep {tok}"));
    let pid_file = cwd.path().join("x.pid");
    let script = format!("sleep {tok}; true");
    let args = ["--mode", "landlock", "--status-fd", "3", "--pid-file", pid_file.to_str().unwrap()];
    let args: Vec<&str> = args.into_iter().chain(["--", "sh", "-c", &script]).collect();
    let mut child = with_status_fd(&cwd, &home, &args);
    let mut lines = child.lines();
    let start = json(&lines.line());
    // init (the reaper, with no namespaces: no inodes) and its child, the command.
    let (init, shell) = (start["child-pid"].as_u64().unwrap(), start["command-pid"].as_u64().unwrap());
    assert_eq!(start, serde_json::json!({ "child-pid": init, "command-pid": shell }));
    let ppid = std::fs::read_to_string(format!("/proc/{shell}/stat")).unwrap();
    assert_eq!(ppid.rsplit(") ").next().unwrap().split(' ').nth(1), Some(init.to_string().as_str()));
    let shell = shell as u32;
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), format!("{shell}\n"));
    assert!(wait_for(5.0, || host_pids_with(&format!("sleep {tok}")).len() == 1));
    let sleeper = host_pids_with(&format!("sleep {tok}"))[0];
    let monitor = Pid::from_raw(child.id() as i32);
    stop_and_continue(monitor, &[child.id(), shell, sleeper]);
    kill(monitor, Signal::SIGTERM).unwrap();
    let end = json(&lines.line());
    assert_eq!(end, serde_json::json!({ "exit-code": 143, "signal": 15 }));
    assert_eq!(child.wait().code(), Some(143), "SIGTERM reaches the command");
    assert!(!pid_file.exists(), "the pid file is removed at the end");
}

/// SIGTSTP to the monitor stops every one of `pids`; SIGCONT continues them.
fn stop_and_continue(monitor: Pid, pids: &[u32]) {
    kill(monitor, Signal::SIGTSTP).unwrap();
    for &pid in pids {
        assert!(wait_for(3.0, || state(pid) == Some('T')), "{pid} is not stopped: {:?}", state(pid));
    }
    kill(monitor, Signal::SIGCONT).unwrap();
    for &pid in pids {
        assert!(wait_for(3.0, || state(pid) == Some('S')), "{pid} did not continue: {:?}", state(pid));
    }
}
