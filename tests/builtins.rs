//! Each built-in profile runs a real program doing what the profile is for,
//! as the unprivileged user, on first use (issue 16): a `make` test run and
//! a `git commit` under ci, a commit and dependency caches under agent, a
//! build filling a cache that did not exist under build, an HTTP service
//! under net-service reached from the host. (The default profile's `cargo
//! test` with the user's own toolchain is in tests/toolchains.rs.)

mod common;

use std::process::Command;

use common::*;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A home with a git identity and credentials, and a git project.
struct World {
    home: Dir,
    proj: Dir,
}

fn world() -> World {
    let home = Dir::new();
    home.file(
        ".gitconfig",
        "[user]\n\tname = Sandbox Tester\n\temail = tester@example.org\n[init]\n\tdefaultBranch = main\n",
    );
    home.file(".config/git/config", "[core]\n\tabbrev = 9\n");
    home.file(".git-credentials", "https://tester:ghp_secret@github.com\n");
    let proj = Dir::new();
    proj.file("README", "a project\n");
    let w = World { home, proj };
    w.git(&["init", "-q"]);
    w
}

impl World {
    fn run(&self, args: &[&str]) -> Out {
        sbx(self.proj.path(), self.home.path(), args).env("PATH", PATH).output()
    }

    /// git on the host, as the test user, in the project.
    fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(self.proj.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", PATH);
        let out = out(as_caller(&mut cmd));
        assert_eq!(out.code(), 0, "git {args:?}: {}", out.stderr());
        out.stdout()
    }
}

/// A commit inside with the user's identity, seen from the host; the
/// credential store stays out of sight.
fn commits_with_the_users_identity(profile: &str) {
    let w = world();
    let creds = w.home.path().join(".git-credentials");
    let script = format!(
        "git add README && git commit -q -m 'from the sandbox' && git log -1 --format='%an <%ae>'; \
         cat {} 2>/dev/null || echo no-credentials",
        creds.display()
    );
    let out = w.run(&["--profile", profile, "--", "sh", "-c", &script]);
    assert_eq!(out.ok(), "Sandbox Tester <tester@example.org>\nno-credentials\n", "{profile}");
    assert_eq!(w.git(&["log", "-1", "--format=%s %an"]), "from the sandbox Sandbox Tester\n");
}

#[test]
fn ci_runs_a_make_test_suite() {
    let w = world();
    w.proj.file("Makefile", "test:\n\tpython3 -m unittest -v test_calc 2>&1\n");
    w.proj.file("calc.py", "def add(a, b):\n    return a + b\n");
    w.proj.file("test_calc.py", "import unittest, calc\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(calc.add(2, 2), 4)\n");
    let out = w.run(&["--profile", "ci", "--", "make", "test"]);
    let stdout = out.ok();
    assert!(stdout.contains("test_add (test_calc.T") && stdout.contains("\nOK\n"), "{stdout}");
    assert!(w.proj.path().join("__pycache__").is_dir(), "the project is writable");
}

#[test]
fn ci_commits_with_the_users_git_identity() {
    commits_with_the_users_identity("ci");
}

#[test]
fn agent_commits_with_the_users_git_identity() {
    commits_with_the_users_identity("agent");
}
