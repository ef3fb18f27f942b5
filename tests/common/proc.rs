//! Children of a test, each wait bounded: [`out`] and [`status`] run a
//! command to its end, [`spawn`] starts one as a [`Proc`]. A child that
//! outlives [`timeout`] is killed with everything it started, and the test
//! fails saying which command hung. A `Proc` dropped while running (a
//! failed assertion) is killed the same way.
//!
//! These are the only places in tests/ allowed the std calls that wait
//! without a time-out (clippy.toml lists them).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::Out;

/// How long one child may take: 60 s, or SANDBOX_TEST_TIMEOUT seconds.
pub fn timeout() -> Duration {
    let secs = std::env::var("SANDBOX_TEST_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    Duration::from_secs(secs)
}

/// Runs `cmd` to its end with stdin on /dev/null and stdout and stderr on
/// pipes, as `Command::output` does. (For another stdin, set it and the
/// pipes, then `spawn(cmd).output()`.)
pub fn out(cmd: &mut Command) -> Out {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    spawn(cmd).output()
}

/// Runs `cmd` with inherited stdout and stderr, to its end.
pub fn status(cmd: &mut Command) -> ExitStatus {
    spawn(cmd).wait()
}

/// Starts `cmd` (stdin, stdout and stderr as the caller set them).
pub fn spawn(cmd: &mut Command) -> Proc {
    try_spawn(cmd).unwrap_or_else(|e| panic!("start {}: {e}", describe(cmd)))
}

/// Starts `cmd`, or says why it could not start.
pub fn try_spawn(cmd: &mut Command) -> std::io::Result<Proc> {
    try_spawn_within(cmd, timeout())
}

/// [`out`] for the few children that need longer than [`timeout`] (building
/// a root file system from a mirror): killed after `limit`.
pub fn out_within(cmd: &mut Command, limit: Duration) -> Out {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    try_spawn_within(cmd, limit).unwrap_or_else(|e| panic!("start {}: {e}", describe(cmd))).output()
}

fn try_spawn_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Proc> {
    let child = cmd.spawn()?;
    Ok(Proc { child, what: describe(cmd), deadline: Instant::now() + limit, limit })
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let text = words.join(" ");
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

/// A running child of the test.
pub struct Proc {
    child: Child,
    what: String,
    deadline: Instant,
    limit: Duration,
}

impl Proc {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL to the child itself (not what it started).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("waitpid")
    }

    /// Waits up to `limit`; `None` (the child still running) after it.
    pub fn wait_up_to(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the end; past the time-out, kills everything and fails.
    pub fn wait(&mut self) -> ExitStatus {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.wait_up_to(left) {
            Some(st) => st,
            None => self.hung("did not end"),
        }
    }

    /// The child's stdout, line by line, each line within the time-out.
    pub fn lines(&mut self) -> Lines {
        let stdout = self.child.stdout.take().expect("stdout is a pipe (taken once)");
        Lines::new(stdout, self.what.clone())
    }

    /// Waits for the end and for stdout and stderr to close.
    pub fn output(mut self) -> Out {
        let stdout = self.child.stdout.take().map(reader);
        let stderr = self.child.stderr.take().map(reader);
        let status = self.wait();
        let mut collect = |r: Option<Receiver<Vec<u8>>>, name: &str| -> Vec<u8> {
            let Some(r) = r else { return Vec::new() };
            let left = self.deadline.saturating_duration_since(Instant::now());
            match r.recv_timeout(left.max(Duration::from_secs(1))) {
                Ok(data) => data,
                Err(_) => {
                    self.hung(&format!("ended, but its {name} was still open (a process it left holds it)"))
                }
            }
        };
        let (stdout, stderr) = (collect(stdout, "stdout"), collect(stderr, "stderr"));
        Out(std::process::Output { status, stdout, stderr })
    }

    fn hung(&mut self, how: &str) -> ! {
        kill_tree(self.child.id());
        let _ = self.child.wait();
        panic!("{} {how} within {:?}: killed it and what it started", self.what, self.limit);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill_tree(self.child.id());
            let _ = self.child.wait();
        }
    }
}

/// Reads `r` to its end on a thread; the data arrives on the channel.
fn reader(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut data = Vec::new();
        let _ = r.read_to_end(&mut data);
        let _ = tx.send(data);
    });
    rx
}

/// A child's stdout, line by line, with a time-out on each line.
pub struct Lines {
    rx: Receiver<String>,
    what: String,
}

impl Lines {
    fn new(stdout: ChildStdout, what: String) -> Lines {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, what }
    }

    /// The next line; `None` at the end of the output. Fails the test when
    /// no line comes within the time-out.
    pub fn next_line(&mut self) -> Option<String> {
        match self.rx.recv_timeout(timeout()) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("{}: no line within {:?}", self.what, timeout()),
        }
    }

    /// The next line, which must come.
    pub fn line(&mut self) -> String {
        self.next_line().unwrap_or_else(|| panic!("{}: its output ended", self.what))
    }
}

/// SIGKILL to `pid` and every descendant of it (found through /proc before
/// any is killed, so none is reparented out of sight first).
pub fn kill_tree(pid: u32) {
    for _ in 0..3 {
        let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid =
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if let Some(ppid) = ppid {
                parents.entry(ppid).or_default().push(p);
            }
        }
        let mut all = vec![pid];
        let mut i = 0;
        while i < all.len() {
            all.extend(parents.get(&all[i]).cloned().unwrap_or_default());
            i += 1;
        }
        for p in all {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), nix::sys::signal::SIGKILL);
        }
    }
}
