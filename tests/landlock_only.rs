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
    skip(&why);
    false
}

/// Runs sandbox to its end, at most `secs` seconds: a run that hangs (a
/// metadata call the monitor never answers, say) fails the test instead of
/// hanging it; sandbox's whole process group is killed then.
fn output_within(secs: f64, s: Sbx) -> Out {
    let mut child = s.own_process_group().spawn();
    if child.wait_up_to(std::time::Duration::from_secs_f64(secs)).is_none() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-(child.id() as i32)),
            nix::sys::signal::SIGKILL,
        );
        panic!("sandbox did not end within {secs} s");
    }
    child.output()
}

/// Runs `python3 -c script args` on the host as the sandbox's caller.
fn host_python(script: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg("-c").arg(script).args(args);
    if let Some((uid, gid)) = test_ids() {
        cmd.uid(uid).gid(gid);
    }
    common::out(&mut cmd).0
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
    let out = output_within(30.0, sbx(cwd.path(), home.path(), &args));
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
        let out = output_within(30.0, sbx(cwd.path(), home.path(), &args));
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
            let waited = monitor.wait_up_to(std::time::Duration::from_secs(5)).is_some();
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

/// Every metadata call on the file argv[1] (raw system calls, so that libc
/// picks none for us), then the fd-based ones and chattr's ioctl on a
/// read-only fd if the file can be opened.
const METADATA: &str = r#"
import ctypes, errno, fcntl, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    r = libc.syscall(nr, *args)
    print(name, "ok" if r == 0 else errno.errorcode.get(ctypes.get_errno(), "?"))
p = sys.argv[1].encode()
d, base = os.path.split(p)
U, gid, EMPTY = ctypes.c_uint(0xffffffff), os.getgid(), 0x1000
dfd = os.open(d, os.O_PATH | os.O_DIRECTORY)
pfd = os.open(p, os.O_PATH)
val = ctypes.create_string_buffer(b"in")
xargs = ctypes.create_string_buffer(struct.pack("QII", ctypes.addressof(val), 2, 0))
call("chmod", 90, p, 0o777)
call("chown", 92, p, U, gid)
call("lchown", 94, p, U, gid)
call("utime", 132, p, None)
call("utimes", 235, p, None)
call("futimesat", 261, dfd, base, None)
call("fchownat", 260, dfd, base, U, gid, 0)
call("fchmodat", 268, dfd, base, 0o770)
call("utimensat", 280, -100, p, None, 0)
call("utimensat-fd", 280, pfd, b"", None, EMPTY)
call("fchmodat2", 452, pfd, b"", 0o750, EMPTY)
call("setxattr", 188, p, b"user.a", val, 2, 0)
call("lsetxattr", 189, p, b"user.b", val, 2, 0)
call("removexattr", 197, p, b"user.h1")
call("lremovexattr", 198, p, b"user.h2")
call("setxattrat", 463, dfd, base, 0, b"user.c", xargs, 16)
call("removexattrat", 466, dfd, base, 0, b"user.h3")
try:
    fd = os.open(p, os.O_RDONLY)
except OSError as e:
    print("open", errno.errorcode[e.errno])
else:
    call("fchmod", 91, fd, 0o707)
    call("fchown", 93, fd, U, gid)
    call("fsetxattr", 190, fd, b"user.d", val, 2, 0)
    call("fremovexattr", 199, fd, b"user.h4")
    try:
        fcntl.ioctl(fd, 0x40086602, struct.pack("l", 0x40))
        print("chattr ok")
    except OSError as e:
        print("chattr", errno.errorcode[e.errno])
"#;

/// A file's metadata as the host sees it: mode, owner, times, extended
/// attributes and flags (lsattr's); `make` first gives it four attributes.
const STAT: &str = r#"
import fcntl, os, struct, sys
p = sys.argv[2]
if sys.argv[1] == "make":
    for i in range(1, 5):
        os.setxattr(p, "user.h%d" % i, b"host")
s = os.stat(p)
fd = os.open(p, os.O_RDONLY)
flags = struct.unpack("l", fcntl.ioctl(fd, 0x80086601, struct.pack("l", 0)))[0]
print(oct(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns, s.st_ctime_ns, sorted(os.listxattr(p)), flags)
"#;

fn host_stat(how: &str, path: &std::path::Path) -> String {
    let out = host_python(STAT, &[how, path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The answers METADATA prints when every call is refused.
fn all_refused(open: &str) -> String {
    let mut out = String::new();
    for name in [
        "chmod",
        "chown",
        "lchown",
        "utime",
        "utimes",
        "futimesat",
        "fchownat",
        "fchmodat",
        "utimensat",
        "utimensat-fd",
        "fchmodat2",
        "setxattr",
        "lsetxattr",
        "removexattr",
        "lremovexattr",
        "setxattrat",
        "removexattrat",
    ] {
        out.push_str(&format!("{name} EACCES\n"));
    }
    match open {
        "EACCES" => out.push_str("open EACCES\n"),
        _ => out
            .push_str("fchmod EACCES\nfchown EACCES\nfsetxattr EACCES\nfremovexattr EACCES\nchattr EPERM\n"),
    }
    out
}

#[test]
fn metadata_changes_only_beneath_writable_rules_in_landlock_only_mode() {
    if !landlock_only_mode_works_here() {
        return;
    }
    let (cwd, home, outside, read_only) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    let files = [cwd.file("mine", "x\n"), outside.file("theirs", "x\n"), read_only.file("seen", "x\n")];
    let before: Vec<String> = files.iter().map(|f| host_stat("make", f)).collect();
    let ro = read_only.path().to_str().unwrap();
    let run = |file: &std::path::Path| {
        let args = ["--mode", "landlock", "--ro", ro, "--", "/usr/bin/python3", "-c", METADATA];
        let mut args: Vec<&str> = args.to_vec();
        args.push(file.to_str().unwrap());
        output_within(30.0, sbx(cwd.path(), home.path(), &args))
    };
    // Outside every rule, and beneath a read-only one: refused, unchanged.
    for (file, open, before) in [(&files[1], "EACCES", &before[1]), (&files[2], "ok", &before[2])] {
        let out = run(file);
        assert_eq!(out.ok(), all_refused(open), "{}: {}", file.display(), out.stderr());
        assert_eq!(&host_stat("stat", file), before, "{} changed on the host", file.display());
    }
    // Through a symlink or `..` from the writable directory: the object
    // counts, not the path; the symlink itself may be changed.
    let theirs = files[1].to_str().unwrap();
    let script = r#"
import errno, os, sys
os.symlink(sys.argv[1], "link")
up = "../" * 8 + sys.argv[1].lstrip("/")
for name, f in [("chmod link", lambda: os.chmod("link", 0o777)),
                ("chmod ..", lambda: os.chmod(up, 0o777)),
                ("utime link", lambda: os.utime("link", (1, 1))),
                ("lchown link", lambda: os.lchown("link", -1, os.getgid())),
                ("utime link itself", lambda: os.utime("link", (1, 1), follow_symlinks=False))]:
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
"#;
    let args = ["--mode", "landlock", "--", "/usr/bin/python3", "-c", script, theirs];
    let out = output_within(30.0, sbx(cwd.path(), home.path(), args));
    assert_eq!(
        out.ok(),
        "chmod link EACCES\nchmod .. EACCES\nutime link EACCES\nlchown link ok\nutime link itself ok\n",
        "{}",
        out.stderr()
    );
    assert_eq!(host_stat("stat", &files[1]), before[1], "changed through a symlink");
    // Beneath the writable current directory: every call works (but chattr).
    let out = run(&files[0]);
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 22, "{text}{}", out.stderr());
    assert!(lines[..21].iter().all(|l| l.ends_with(" ok")), "{text}");
    assert_eq!(lines[21], "chattr EPERM", "chattr is denied in this mode");
    let after = host_stat("stat", &files[0]);
    assert!(after.starts_with("0o100707 "), "{after}");
    assert!(after.contains("['user.a', 'user.b', 'user.c', 'user.d']"), "{after}");
}

#[test]
fn explain_describes_the_landlock_only_plan_that_runs() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let text =
        output_within(30.0, sbx(cwd.path(), home.path(), ["explain", "--mode", "landlock", "--", "true"]))
            .ok();
    for absent in
        ["namespaces: own", "on an empty read-only tmpfs root", "  tmpfs    /tmp", "  proc     /proc"]
    {
        assert!(!text.contains(absent), "explain shows {absent:?}, which will not exist:\n{text}");
    }
    let cwd_rule = format!("read+write+create/remove+exec  {}\n", cwd.path().display());
    for said in [
        "mode:       landlock only: no namespaces and no mounts",
        "filesystem: the host's, with these landlock rules",
        "read+exec                      /usr\n",
        &cwd_rule,
        "read                           /proc\n",
        "tmpfs /tmp: inaccessible instead of empty",
        "chmod, chown, utimes and xattr calls only beneath writable rules",
        "System V IPC and POSIX message queues denied",
        "every process the command starts killed when it ends",
        "every TCP connect and bind is denied",
    ] {
        assert!(text.contains(said), "explain misses {said:?}:\n{text}");
    }
    let text = output_within(30.0, sbx(cwd.path(), home.path(), ["explain", "--", "true"])).ok();
    assert!(text.contains("namespaces: own user mount pid ipc uts net cgroup"), "{text}");
}
