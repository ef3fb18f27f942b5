//! Each built-in profile runs a real program doing what the profile is for,
//! as the unprivileged user, on first use (issue 16): a `make` test run and
//! a `git commit` under ci, a commit and dependency caches under agent, a
//! build filling a cache that did not exist under build, an HTTP service
//! under net-service reached from the host. (The default profile's `cargo
//! test` with the user's own toolchain is in tests/toolchains.rs.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

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

#[test]
fn agent_installs_dependencies_through_writable_caches_that_never_reach_the_host() {
    let w = world();
    w.home.file(".npm/_cacache/index", "cached\n");
    let npm = w.home.path().join(".npm");
    let script = format!(
        "cat {n}/_cacache/index && echo fetched > {n}/_cacache/new && cat {n}/_cacache/new && \
         mkdir -p node_modules/dep && echo dep > node_modules/dep/index.js && echo installed",
        n = npm.display()
    );
    let out = w.run(&["--profile", "agent", "--", "sh", "-c", &script]);
    assert_eq!(out.ok(), "cached\nfetched\ninstalled\n");
    assert!(!npm.join("_cacache/new").exists(), "the host's cache is unchanged");
    assert!(w.proj.path().join("node_modules/dep/index.js").exists(), "the project got its dependency");
}

#[test]
fn build_creates_a_missing_cache_on_the_host() {
    let w = world();
    let cargo = w.home.file(".cargo/bin/cargo", "#!/bin/sh\nmkdir -p \"$HOME/.cargo/registry/cache\" && echo crate > \"$HOME/.cargo/registry/cache/c.crate\"\n");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let registry = w.home.path().join(".cargo/registry");
    assert!(!registry.exists());
    let out = sbx(w.proj.path(), w.home.path(), ["--profile", "build", "--", "cargo", "fetch"])
        .env("PATH", &format!("{}:{PATH}", w.home.path().join(".cargo/bin").display()))
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains(&format!("created {} (0700)", registry.display())), "{}", out.stderr());
    assert_eq!(std::fs::read_to_string(registry.join("cache/c.crate")).unwrap(), "crate\n");
    let mode = std::fs::metadata(&registry).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
}

/// A free port on the host's loopback (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn fetch(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    Some(reply)
}

#[test]
fn net_service_creates_its_state_and_serves_http_to_the_host() {
    let w = world();
    let state = w.home.path().join(".local/state/sandbox/service");
    let out = w.run(&["--profile", "net-service", "--", "sh", "-c", "echo hello-state > hello.txt; pwd"]);
    assert_eq!(out.ok(), "/var/lib/service\n");
    assert!(
        out.stderr().contains(&format!("created {} (0700)", state.display())),
        "it says where: {}",
        out.stderr()
    );
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
    assert_eq!(std::fs::read_to_string(state.join("hello.txt")).unwrap(), "hello-state\n");

    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8000");
    let args =
        ["--profile", "net-service", "--publish", &publish, "--", "python3", "-m", "http.server", "8000"];
    let child = sbx(w.proj.path(), w.home.path(), args).env("PATH", PATH).spawn();
    let mut reply = None;
    assert!(
        wait_for(15.0, || {
            reply = fetch(port, "/hello.txt").filter(|r| r.starts_with("HTTP/1.0 200"));
            reply.is_some()
        }),
        "no answer on 127.0.0.1:{port}"
    );
    assert!(reply.unwrap().ends_with("\r\n\r\nhello-state\n"));
    drop(child);
    let second = w.run(&["--profile", "net-service", "--", "cat", "hello.txt"]);
    assert_eq!(second.ok(), "hello-state\n");
    assert!(!second.stderr().contains("created"), "only the first run creates it: {}", second.stderr());
}

/// build with a real package manager: npm, on PATH, fills the user's own
/// cache (~/.npm, created 0700 on the host since it did not exist yet),
/// not a tmpfs that vanishes.
#[test]
fn build_lets_npm_fill_the_users_cache() {
    if !std::path::Path::new("/usr/bin/npm").exists() {
        skip("npm is not installed (.ci/run installs it)");
        return;
    }
    let w = world();
    w.proj.file("pkg/package.json", "{\"name\": \"tiny\", \"version\": \"1.0.0\"}\n");
    let npm = w.home.path().join(".npm");
    let script = "cd pkg && npm pack --silent >/dev/null && npm cache add ./tiny-1.0.0.tgz && echo cached";
    let out = w.run(&["--profile", "build", "--", "sh", "-c", script]);
    assert_eq!(out.ok(), "cached\n");
    assert!(out.stderr().contains(&format!("created {} (0700)", npm.display())), "{}", out.stderr());
    let mode = std::fs::metadata(&npm).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
    let index = npm.join("_cacache/index-v5");
    assert!(std::fs::read_dir(&index).is_ok_and(|mut d| d.next().is_some()), "npm's cache index on the host");
}
