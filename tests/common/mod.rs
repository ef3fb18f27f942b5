//! Test harness: runs the real `sandbox` binary the way a user would.
//!
//! When the test process is root (CI is), every run drops to the
//! unprivileged user `sandbox-test` (made, with its subordinate ids, by
//! tests/setup-test-user), so the tests
//! exercise the rootless path; `Sbx::as_root()` runs as root on purpose.
//! The binary is copied to a world-readable directory first, since the
//! build directory may not be reachable by that user.
//!
//! Every child a test starts goes through [`out`], [`status`] or [`spawn`]
//! (and `Sbx`, which uses them): each wait has a time-out ([`timeout`]),
//! after which the child and everything it started are killed and the test
//! fails, so a hung sandbox fails CI instead of hanging it. clippy.toml
//! forbids the std calls that wait without one.
//!
//! A test that cannot run here calls [`skip`]: it prints why, uncaptured,
//! and under CI=true (where .ci/run installs everything the tests need) it
//! fails the test instead.

#![allow(dead_code)]

mod proc;
pub mod rootfs;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

#[allow(unused_imports)]
pub use proc::{kill_tree, out, out_within, spawn, status, timeout, try_spawn, Lines, Proc};

/// Whether this is a CI run (CI=true), where nothing may be skipped.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Says on the test log (stderr, not captured by the harness) that the
/// current test skips what follows, and why; under CI=true the test fails
/// instead. The caller returns (or leaves out the part) after it.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    assert!(!ci(), "{test} cannot run under CI=true, which must install what it needs: {why}");
    note(&format!("SKIPPED {test}: {why}"));
}

/// One line on the test log that the harness does not capture.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The status word (ok, limited, missing) and the whole line of `sandbox
/// check`'s cgroup line, as the test user sees it.
pub fn cgroup_check(cwd: &Dir, home: &Dir) -> (String, String) {
    let text = sbx(cwd.path(), home.path(), ["check"]).output().stdout();
    let line = text
        .lines()
        .find(|l| l.contains("cgroup v2 delegation: "))
        .unwrap_or_else(|| panic!("no cgroup line in:\n{text}"))
        .to_string();
    (line.split_whitespace().next().unwrap().to_string(), line)
}

/// Whether `--memory` and `--pids` can be applied here (by `sandbox check`).
pub fn cgroup_limits_work(status: &str, line: &str) -> bool {
    status == "ok" || (status == "limited" && line.contains(": memory pids"))
}

/// CI's machines (tests/check.rs asserts this shape): cgroup v2 mounted
/// beside v1 with only hugetlb, every controller the limits need held by v1
/// and in use by the host, so no test can give the sandbox any.
pub fn cgroup_v2_has_only_hugetlb() -> bool {
    std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").is_ok_and(|c| c.trim() == "hugetlb")
}

/// What cannot be tested without cgroup limits: a [`skip`], except on CI's
/// known hybrid hierarchy, where the log says which checks of the VM lane's
/// guest 2 (tests/vm/guest2.sh, a cgroup v2 only guest with systemd, run by
/// .ci/run) test `what` instead: `guest2` names them by their titles there,
/// and this fails if the lane or one of them is gone.
pub fn without_cgroup_limits(what: &str, why: &str, guest2: &[&str]) {
    if !(ci() && cgroup_v2_has_only_hugetlb()) {
        skip(&format!("{what}: {why}"));
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lane = std::fs::read_to_string(root.join(".ci/run")).unwrap_or_default();
    assert!(lane.lines().any(|l| l.trim() == "tests/vm/run"), ".ci/run no longer runs the VM lane");
    let script = std::fs::read_to_string(root.join("tests/vm/guest2.sh")).unwrap_or_default();
    for check in guest2 {
        assert!(script.contains(&format!(": {check}\"")), "tests/vm/guest2.sh has no check '{check}'");
    }
    let thread = std::thread::current();
    let checks: Vec<String> = guest2.iter().map(|c| format!("'{c}'")).collect();
    note(&format!(
        "{}: {what}: tested in the VM lane's guest 2 (tests/vm/guest2.sh: {}, each through the delegated \
         subtree and the systemd scope), not on this host ({why})",
        thread.name().unwrap_or("a test"),
        checks.join(", ")
    ));
}

/// Whether the tests run as root (needed to run as another user, to build
/// network islands, to read the kernel's logs); a [`skip`] when not.
pub fn root_or_skip(what: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    skip(&format!("{what} needs the tests to run as root"));
    false
}

pub const TEST_USER: &str = "sandbox-test";

/// The uid/gid the sandbox runs as: `None` when the tests are not root.
pub fn test_ids() -> Option<(u32, u32)> {
    static IDS: OnceLock<Option<(u32, u32)>> = OnceLock::new();
    *IDS.get_or_init(|| {
        // SAFETY-free: geteuid has no preconditions.
        if nix::unistd::geteuid().as_raw() != 0 {
            return None;
        }
        // The user and its subordinate ids (for `--userns auto`), made or
        // repaired idempotently by the script .ci/run also runs.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/setup-test-user");
        let o = out(&mut Command::new(&script));
        assert_eq!(o.code(), 0, "{}: {}", script.display(), o.stderr());
        let u = nix::unistd::User::from_name(TEST_USER).ok().flatten();
        let u = u.expect("tests/setup-test-user did not make the unprivileged test user sandbox-test");
        Some((u.uid.as_raw(), u.gid.as_raw()))
    })
}

/// The test user's first subordinate uid and gid ranges (`None` when the
/// tests are not root).
pub fn test_subids() -> Option<(sandbox::idmap::Range, sandbox::idmap::Range)> {
    use sandbox::idmap::{Files, Kind};
    let (uid, _) = test_ids()?;
    let files = Files::read();
    let first = |k: Kind| files.ranges(k, Some(TEST_USER), uid).first().copied();
    Some((first(Kind::Uid)?, first(Kind::Gid)?))
}

/// The uid the sandbox's caller has (the test user's, or ours).
pub fn caller_uid() -> u32 {
    test_ids().map(|(u, _)| u).unwrap_or_else(|| nix::unistd::getuid().as_raw())
}

/// The binary under test, copied once per build into a world-readable
/// directory the test user can reach: `/tmp/sandbox-bin-EUID-KEY`, where
/// KEY names the build (path, size, mtime), so every test binary of a run
/// shares one copy and reruns reuse it. Copies of older builds are removed
/// a day after they were made.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let src = Path::new(env!("CARGO_BIN_EXE_sandbox"));
        let meta = std::fs::metadata(src).unwrap();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (src, meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut h);
        let euid = nix::unistd::geteuid().as_raw();
        let prefix = format!("sandbox-bin-{euid}-");
        let dir = std::env::temp_dir().join(format!("{prefix}{:016x}", h.finish()));
        let ours = |d: &Path| {
            std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir() && m.uid() == euid)
                && std::fs::metadata(d.join("sandbox")).is_ok_and(|m| m.len() == meta.len())
        };
        if !ours(&dir) {
            let tmp = tempfile::Builder::new().prefix(&prefix).tempdir().unwrap().keep();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::copy(src, tmp.join("sandbox")).unwrap();
            std::fs::set_permissions(tmp.join("sandbox"), std::fs::Permissions::from_mode(0o755)).unwrap();
            // Another test binary may have won the race: then use its copy.
            if std::fs::rename(&tmp, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
                assert!(ours(&dir), "{} is not a copy of the binary under test", dir.display());
            }
        }
        prune_old_copies(&prefix, &dir);
        dir.join("sandbox")
    })
}

/// Removes this user's copies of other builds made more than a day ago.
fn prune_old_copies(prefix: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let old = e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        let stale = old.is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600));
        if p != keep && e.file_name().to_string_lossy().starts_with(prefix) && stale {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// A temp directory owned by the sandbox's caller, removed on drop.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        let d = tempfile::Builder::new().prefix("sandbox-test-").tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some((uid, gid)) = test_ids() {
            std::os::unix::fs::chown(d.path(), Some(uid), Some(gid)).unwrap();
        }
        Dir(d)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Creates `rel` (and parents) with `content`, owned by the caller.
    pub fn file(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.path().join(rel);
        self.mkdir(p.parent().unwrap().strip_prefix(self.path()).unwrap().to_str().unwrap());
        std::fs::write(&p, content).unwrap();
        self.own(&p);
        p
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(&p).unwrap();
        let mut cur = p.clone();
        while cur != self.path() && cur.starts_with(self.path()) {
            self.own(&cur);
            cur.pop();
        }
        p
    }

    pub fn own(&self, p: &Path) {
        if let Some((uid, gid)) = test_ids() {
            let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
        }
    }
}

/// One run of the binary.
pub struct Sbx {
    cmd: Command,
    root: bool,
}

/// A fresh command for `sandbox ARGS`, in `cwd`, with `home` as $HOME and a
/// small fixed environment.
pub fn sbx<I, S>(cwd: &Path, home: &Path, args: I) -> Sbx
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    Sbx { cmd, root: false }
}

impl Sbx {
    pub fn env(mut self, k: &str, v: &str) -> Sbx {
        self.cmd.env(k, v);
        self
    }

    pub fn run_as_root(mut self) -> Sbx {
        self.root = true;
        self
    }

    /// Runs sandbox in a process group of its own (as a shell runs a job),
    /// so a test can signal the group.
    pub fn own_process_group(mut self) -> Sbx {
        self.cmd.process_group(0);
        self
    }

    /// Starts sandbox with SIGCHLD ignored, as a caller may leave it (the
    /// disposition survives execve).
    pub fn ignoring_sigchld(mut self) -> Sbx {
        // SAFETY: between fork and exec only signal(2), which is
        // async-signal-safe, runs.
        unsafe {
            self.cmd.pre_exec(|| {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            })
        };
        self
    }

    /// Starts sandbox with SIGHUP, SIGINT and SIGTERM at their default
    /// action, whatever the test runner inherited (under `nohup` SIGHUP is
    /// ignored, and an ignored signal stays ignored across execve: the
    /// monitor and the command would rightly ignore it too).
    pub fn default_signals(mut self) -> Sbx {
        // SAFETY: between fork and exec only signal(2), which is
        // async-signal-safe, runs.
        unsafe {
            self.cmd.pre_exec(|| {
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            })
        };
        self
    }

    fn prepare(mut self) -> Command {
        if !self.root {
            as_caller(&mut self.cmd);
        }
        self.cmd
    }

    /// Runs to the end (within [`timeout`]) and returns what it printed.
    pub fn output(self) -> Out {
        out(&mut self.prepare())
    }

    /// Starts it with stdout and stderr on pipes.
    pub fn spawn(self) -> Proc {
        let mut c = self.prepare();
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        spawn(&mut c)
    }
}

/// Makes `cmd` run as the sandbox's caller (the test user when we are root).
pub fn as_caller(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = test_ids() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(self.code(), 0, "exit {}; stderr:\n{}", self.code(), self.stderr());
        self.stdout()
    }

    /// Asserts a clean failure: `code`, one `sandbox:` line (plus at most one
    /// `hint:` line) on stderr that contains `needle`, and no panic text.
    pub fn fails(&self, code: i32, needle: &str) {
        let err = self.stderr();
        assert_eq!(self.code(), code, "stderr:\n{err}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic text:\n{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert!(!lines.is_empty() && lines[0].starts_with("sandbox: "), "stderr:\n{err}");
        assert!(lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")), "stderr:\n{err}");
        assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    }
}

/// Pids of host processes whose command line is exactly `needle` (words
/// joined by spaces).
pub fn host_pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.trim_end() == needle && pid != std::process::id() {
                out.push(pid);
            }
        }
    }
    out
}

/// Waits up to `secs` for `cond`.
pub fn wait_for(secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// A unique token for marking processes of one test.
pub fn token() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}{}", 100000 + std::process::id() % 100000, N.fetch_add(1, Ordering::SeqCst))
}

/// The children of `pid` whose command name (comm) is `name`.
pub fn children_named(pid: u32, name: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p: &u32| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == name))
        .collect()
}
