//! An interactive shell in the sandbox, under a pty (issue 10): job control
//! works inside, and the caller's terminal gets its modes back and no input
//! pushed into it.

mod common;

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use nix::sys::termios::tcgetattr;

/// The caller's side of a terminal: the master, read by a thread into `seen`.
struct Terminal {
    master: std::fs::File,
    slave: OwnedFd,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn new() -> Terminal {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let master = std::fs::File::from(pty.master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal { master, slave: pty.slave, seen }
    }

    /// `sandbox ARGS` as the test user, in a session of its own with this
    /// terminal as its controlling terminal (util-linux `setsid --ctty`).
    fn spawn(&self, cwd: &Dir, home: &Dir, args: &[&str]) -> Proc {
        self.spawn_to(cwd, home, args, Stdio::from(self.slave.try_clone().unwrap()))
    }

    /// The same with stdout going to `stdout`.
    fn spawn_to(&self, cwd: &Dir, home: &Dir, args: &[&str], stdout: Stdio) -> Proc {
        let io = || Stdio::from(self.slave.try_clone().unwrap());
        let mut cmd = Command::new("setsid");
        cmd.arg("--ctty")
            .arg(bin())
            .args(args)
            .current_dir(cwd.path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home.path())
            .env("TERM", "dumb")
            .stdin(io())
            .stdout(stdout)
            .stderr(io());
        spawn(as_caller(&mut cmd))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until `needle` has been shown, up to 10 s.
    fn expect(&self, needle: &str) {
        assert!(wait_for(10.0, || self.text().contains(needle)), "no {needle:?} in:\n{}", self.text());
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }
}

/// The exit code within `secs`, or `None` (and the sandbox killed).
fn wait_exit(child: &mut Proc, secs: u64) -> Option<i32> {
    let code = child.wait_up_to(Duration::from_secs(secs)).map(|st| st.code());
    if code.is_none() {
        child.kill();
    }
    code.flatten()
}

#[test]
fn an_interactive_bash_under_a_pty_has_job_control() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let mut term = Terminal::new();
    let modes = tcgetattr(term.slave.as_fd()).unwrap();
    let mut child = term.spawn(&cwd, &home, &["--", "bash", "--norc", "-i"]);

    term.send("tty; set -o | grep -c 'monitor.*on'; echo ready-$((6*7))\n");
    term.expect("ready-42");
    let shown = term.text();
    assert!(shown.contains("/dev/pts/0"), "the sandbox's own pty: {shown}");
    assert!(!shown.contains("no job control"), "{shown}");

    // Ctrl-Z stops the foreground job, inside.
    let (a, b) = (token(), token());
    term.send(&format!("sleep {a}\n"));
    assert!(wait_for(10.0, || host_pids_with(&format!("sleep {a}")).len() == 1), "{}", term.text());
    term.send("\x1a");
    term.expect("Stopped");
    term.send("kill -9 %1; echo killed-$((1+1))\n");
    term.expect("killed-2");

    // Ctrl-C interrupts the foreground job and the shell carries on.
    term.send(&format!("sleep {b}\n"));
    assert!(wait_for(10.0, || host_pids_with(&format!("sleep {b}")).len() == 1), "{}", term.text());
    term.send("\x03");
    assert!(wait_for(10.0, || host_pids_with(&format!("sleep {b}")).is_empty()), "{}", term.text());

    // TIOCSTI reaches at most the sandbox's own pty, never the caller's.
    term.send("perl -e 'ioctl(STDIN, 0x5412, $_) for split //, \": pushed\\n\"'; echo h\"\"i\n");
    term.expect("\r\nhi\r\n");
    term.send("exit\n");
    assert_eq!(wait_exit(&mut child, 10), Some(0), "{}", term.text());

    let after = tcgetattr(term.slave.as_fd()).unwrap();
    assert_eq!(format!("{:?}", after), format!("{:?}", modes), "the caller's terminal modes are restored");
    let flags = nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(term.slave.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    let mut buf = [0u8; 64];
    let left = nix::unistd::read(term.slave.as_raw_fd(), &mut buf);
    assert_eq!(left, Err(nix::errno::Errno::EAGAIN), "input left for the caller's shell: {left:?} {buf:?}");
}

#[test]
fn a_redirected_stdout_stays_redirected_and_the_window_size_comes_along() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let term = Terminal::new();
    let mut stty = Command::new("stty");
    stty.args(["rows", "33", "cols", "101"]).stdin(term.slave.try_clone().unwrap());
    assert!(status(&mut stty).success());
    let out = cwd.file("out", "");
    let file = std::fs::OpenOptions::new().write(true).open(&out).unwrap();
    let script = "echo to-file; tty >&2; stty size >&2; echo done-$((2+3)) >&2";
    let mut child = term.spawn_to(&cwd, &home, &["--", "sh", "-c", script], Stdio::from(file));
    assert_eq!(wait_exit(&mut child, 10), Some(0), "{}", term.text());
    term.expect("done-5");
    let shown = term.text();
    assert!(shown.contains("/dev/pts/0"), "stderr is the sandbox's pty: {shown}");
    assert!(shown.contains("33 101"), "with the caller's size: {shown}");
    assert_eq!(std::fs::read_to_string(out).unwrap(), "to-file\n");
}

/// A NUL before the pty's output (`^@/dev/pts/0` under script(1), issue
/// 16): an end of file the caller's terminal held in canonical mode (script
/// sends one when its own stdin ends) turned into a NUL byte when the
/// relay switched that terminal to raw mode; the sandbox's pty echoed it as
/// `^@`, and the command waited for input forever. The command gets the
/// end of file instead.
#[test]
fn an_end_of_file_queued_before_the_relay_starts_reaches_the_command() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let mut term = Terminal::new();
    term.send("\x04");
    let mut child = term.spawn(&cwd, &home, &["--", "sh", "-c", "tty; cat; echo cat-ended-$((3*3))"]);
    assert_eq!(wait_exit(&mut child, 10), Some(0), "{:?}", term.text());
    term.expect("cat-ended-9");
    let seen = term.text();
    assert!(!seen.contains('\0') && !seen.contains("^@"), "{seen:?}");
    assert!(seen.starts_with("/dev/pts/0\r\n"), "{seen:?}");
}
