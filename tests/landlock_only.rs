//! Landlock-only mode (`--mode landlock`, no namespaces) and `--share pid`:
//! what the missing namespaces would leave open is closed another way, and
//! checked on the host side (issue 14, items 6 and 9).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use common::*;

/// Landlock-only mode needs landlock with scopes (ABI 6); a skip under CI
/// is a failure.
fn landlock_only_mode_works_here() -> bool {
    const VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute and size 0 the kernel reads no memory.
    let abi =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, VERSION) };
    if abi >= 6 {
        return true;
    }
    let why = format!("landlock-only mode needs landlock ABI 6, this kernel has {abi}");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    false
}

/// Runs `python3 -c script args` on the host as the sandbox's caller.
fn host_python(script: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg("-c").arg(script).args(args);
    if let Some((uid, gid)) = test_ids() {
        cmd.uid(uid).gid(gid);
    }
    cmd.output().expect("run python3")
}

/// System V shared memory, message queue and semaphore set, and a POSIX
/// message queue, of the caller: made, attacked (inside), checked, removed.
const IPC: &str = r#"
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def err():
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
IPC_CREAT, IPC_NOWAIT, IPC_RMID, GETVAL = 0o1000, 0o4000, 0, 12
O_RDONLY, O_RDWR, O_CREAT = 0, 2, 0o100
class SemBuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
what, name = sys.argv[1], sys.argv[2].encode()
if what == "make":
    ids = [libc.shmget(0, 4096, IPC_CREAT | 0o600), libc.msgget(0, IPC_CREAT | 0o600),
           libc.semget(0, 1, IPC_CREAT | 0o600), libc.mq_open(name, O_RDWR | O_CREAT, 0o600, None)]
    assert min(ids) >= 0, err()
    print(*ids[:3])
    sys.exit(0)
shm, msq, sem = (int(a) for a in sys.argv[3:6])
if what == "attack":
    p = libc.shmat(shm, None, 0)
    if p is None or p == ctypes.c_void_p(-1).value:
        print("shmat", err())
    else:
        ctypes.memmove(p, b"pwned", 5)
        print("shmat ok")
    msg = ctypes.create_string_buffer(b"\x01" + b"\x00" * 7 + b"hello")
    print("msgsnd", "ok" if libc.msgsnd(msq, msg, 5, IPC_NOWAIT) == 0 else err())
    op = SemBuf(0, 1, IPC_NOWAIT)
    print("semop", "ok" if libc.semop(sem, ctypes.byref(op), 1) == 0 else err())
    print("mq_open", "ok" if libc.mq_open(name, O_RDWR) >= 0 else err())
    print("mq_unlink", "ok" if libc.mq_unlink(name) == 0 else err())
elif what == "check":
    p = libc.shmat(shm, None, 0)
    print("shm", ctypes.string_at(p, 5))
    buf = ctypes.create_string_buffer(64)
    print("msg", "none" if libc.msgrcv(msq, buf, 56, 0, IPC_NOWAIT) < 0 else "one")
    print("sem", libc.semctl(sem, 0, GETVAL))
    q = libc.mq_open(name, O_RDONLY)
    attr = MqAttr()
    print("mq", err() if q < 0 else libc.mq_getattr(q, ctypes.byref(attr)) or attr.curmsgs)
else:
    libc.shmctl(shm, IPC_RMID, None)
    libc.msgctl(msq, IPC_RMID, None)
    libc.semctl(sem, 0, IPC_RMID)
    libc.mq_unlink(name)
"#;

/// Removes the IPC objects of one test when dropped.
struct IpcObjects(Vec<String>);

impl Drop for IpcObjects {
    fn drop(&mut self) {
        let mut args = vec!["remove"];
        args.extend(self.0.iter().map(String::as_str));
        let _ = host_python(IPC, &args);
    }
}

#[test]
fn host_ipc_objects_are_unreachable_in_landlock_only_mode() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let name = format!("/sbx-{}", token());
    let made = host_python(IPC, &["make", &name]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let ids: Vec<String> =
        String::from_utf8_lossy(&made.stdout).split_whitespace().map(String::from).collect();
    let mut objects = IpcObjects(vec![name.clone()]);
    objects.0.extend(ids.iter().cloned());
    let mut args = vec!["--mode", "landlock", "--", "/usr/bin/python3", "-c", IPC, "attack", &name];
    args.extend(ids.iter().map(String::as_str));
    let out = sbx(cwd.path(), home.path(), &args).output();
    // glibc's mq_unlink turns EPERM into EACCES, as POSIX words it.
    assert_eq!(
        out.ok(),
        "shmat EPERM\nmsgsnd EPERM\nsemop EPERM\nmq_open EPERM\nmq_unlink EACCES\n",
        "stderr: {}",
        out.stderr()
    );
    let mut check = vec!["check", name.as_str()];
    check.extend(ids.iter().map(String::as_str));
    let host = host_python(IPC, &check);
    let host = String::from_utf8_lossy(&host.stdout);
    assert_eq!(
        host, "shm b'\\x00\\x00\\x00\\x00\\x00'\nmsg none\nsem 0\nmq 0\n",
        "the host's objects changed"
    );
    drop(objects);
}

/// Kills the host processes `sleep TOKEN` of a test when dropped, so that
/// a failing test leaves nothing running.
struct Sleepers(Vec<String>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for needle in &self.0 {
            for pid in host_pids_with(needle) {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
            }
        }
    }
}

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Shell: waits up to 5 s until a process with the command line "$1" runs.
const WAIT_FOR: &str =
    "w() { for i in $(seq 100); do pgrep -fx \"$1\" >/dev/null && return; sleep 0.05; done; }; w";

/// The modes without a pid namespace of the sandbox's own.
const HOST_PID_MODES: [&[&str]; 2] = [&["--mode", "landlock"], &["--share", "pid"]];

#[test]
fn a_double_forked_daemon_does_not_outlive_a_normal_exit() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    for mode in HOST_PID_MODES {
        let daemon = format!("sleep {}", token());
        let _sleepers = Sleepers(vec![daemon.clone()]);
        // The subshell starts the daemon in a session of its own and exits:
        // the daemon is an orphan before the command ends, which waits
        // until it runs.
        let script = format!("(setsid {daemon} >/dev/null 2>&1 &); {WAIT_FOR} '{daemon}'; echo started");
        let mut args = mode.to_vec();
        args.extend(["--", "sh", "-c", &script]);
        let out = sbx(cwd.path(), home.path(), &args).output();
        assert_eq!(out.ok(), "started\n", "{mode:?}");
        assert!(
            wait_for(5.0, || host_pids_with(&daemon).is_empty()),
            "{mode:?}: the daemon outlived the sandbox: {:?}",
            host_pids_with(&daemon)
        );
    }
}

#[test]
fn nothing_outlives_a_sigkill_of_the_monitor() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    for mode in HOST_PID_MODES {
        let (daemon, command) = (format!("sleep {}", token()), format!("sleep {}", token()));
        let _sleepers = Sleepers(vec![daemon.clone(), command.clone()]);
        let script = format!("(setsid {daemon} >/dev/null 2>&1 &); {command}");
        let mut args = mode.to_vec();
        args.extend(["--", "sh", "-c", &script]);
        // The monitor, its whole process group (`kill -9 %1`), init alone.
        for target in ["monitor", "group", "init"] {
            let mut monitor = sbx(cwd.path(), home.path(), &args).own_process_group().spawn();
            let both = || !host_pids_with(&daemon).is_empty() && !host_pids_with(&command).is_empty();
            assert!(wait_for(5.0, both), "{mode:?}: the command never started");
            let pid = monitor.id() as i32;
            let victim = match target {
                "monitor" => pid,
                "group" => -pid,
                _ => children(pid as u32)[0] as i32,
            };
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim), nix::sys::signal::SIGKILL).unwrap();
            let waited = wait_for(5.0, || monitor.try_wait().unwrap().is_some());
            assert!(waited, "{mode:?}: sandbox did not end after kill -9 of the {target}");
            let gone = || host_pids_with(&daemon).is_empty() && host_pids_with(&command).is_empty();
            assert!(
                wait_for(5.0, gone),
                "{mode:?}: left running after kill -9 of the {target}: daemon {:?}, command {:?}",
                host_pids_with(&daemon),
                host_pids_with(&command)
            );
        }
    }
}
