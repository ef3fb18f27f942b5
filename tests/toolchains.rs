//! Tools the user installed run under the default profile (issue 16): a
//! `cargo test` with the user's own rustup toolchain, python through
//! pyenv's shims, node from nvm, a Go toolchain in $HOME, `~/.local/bin`
//! with its site-packages, a package under /opt; secrets inside those trees
//! stay hidden; `--no-toolchains` and `strict` turn it off, and the
//! not-found hint then says where the command is and how to share it.
//!
//! Each test builds the toolchain's layout in a fresh home of the test
//! user. The Rust one is real: the toolchain this test suite was built with,
//! hard-linked (or copied) into `~/.rustup/toolchains/`, with rustup's
//! proxies in `~/.cargo/bin` when rustup is installed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A home and a project of the test user's.
struct World {
    home: Dir,
    proj: Dir,
}

impl World {
    fn new() -> World {
        World { home: Dir::new(), proj: Dir::new() }
    }

    fn h(&self, rel: &str) -> String {
        self.home.path().join(rel).display().to_string()
    }

    /// `sandbox ARGS` with `path` as PATH (`~` is the home).
    fn run(&self, path: &str, args: &[&str]) -> Out {
        let path = path.replace('~', &self.home.path().display().to_string());
        sbx(self.proj.path(), self.home.path(), args).env("PATH", &path).output()
    }

    /// An executable script at `rel` in the home.
    fn script(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home.file(rel, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn link(&self, rel: &str, target: &str) {
        let p = self.home.path().join(rel);
        self.home.mkdir(p.parent().unwrap().strip_prefix(self.home.path()).unwrap().to_str().unwrap());
        std::os::unix::fs::symlink(target, &p).unwrap();
        self.home.own(&p);
    }
}

/// Runs `sh -c script` as the test user, to build a fixture.
fn as_user(script: &str) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    let out = out(as_caller(&mut cmd));
    assert_eq!(out.code(), 0, "{script}: {}", out.stderr());
}

/// The sysroot of the toolchain that built these tests.
fn sysroot() -> Option<PathBuf> {
    let mut cmd = Command::new(std::env::var_os("RUSTC").unwrap_or("rustc".into()));
    cmd.args(["--print", "sysroot"]);
    let out = out(&mut cmd);
    (out.code() == 0).then(|| PathBuf::from(out.stdout().trim()))
}

/// Hard-links (as `cp -al`, root only) or copies `src` to `dst`.
fn link_tree(src: &Path, dst: &Path) {
    let mut cp = Command::new("cp");
    cp.arg("-al").arg(src).arg(dst);
    if !status(&mut cp).success() {
        let _ = std::fs::remove_dir_all(dst);
        let mut cp = Command::new("cp");
        assert!(status(cp.arg("-a").arg(src).arg(dst)).success(), "copy {}", src.display());
    }
}

/// The user's own rustup install: the running toolchain (without its
/// documentation) in ~/.rustup, rustup's proxies (or links) in ~/.cargo/bin.
fn rustup_home(w: &World) -> bool {
    let Some(sysroot) = sysroot() else {
        skip("no rustc to find the toolchain with");
        return false;
    };
    let name = sysroot.file_name().unwrap().to_string_lossy().into_owned();
    let tc = w.home.mkdir(&format!(".rustup/toolchains/{name}"));
    for part in ["bin", "lib", "libexec", "etc"] {
        if sysroot.join(part).exists() {
            link_tree(&sysroot.join(part), &tc.join(part));
        }
    }
    w.home.file(
        ".rustup/settings.toml",
        &format!("version = \"12\"\ndefault_toolchain = \"{name}\"\nprofile = \"minimal\"\n"),
    );
    // What rustup's installer makes beside the toolchains: the proxies look
    // for them (and would make them, in vain on a read-only ~/.rustup).
    for dir in ["downloads", "tmp", "update-hashes"] {
        w.home.mkdir(&format!(".rustup/{dir}"));
    }
    let real_hash = sysroot.parent().and_then(Path::parent).map(|r| r.join("update-hashes").join(&name));
    if let Some(h) = real_hash.and_then(|p| std::fs::read_to_string(p).ok()) {
        w.home.file(&format!(".rustup/update-hashes/{name}"), &h);
    }
    let rustup = which("rustup");
    w.home.mkdir(".cargo/bin");
    for tool in ["cargo", "rustc", "rustdoc"] {
        match &rustup {
            Some(_) => w.link(&format!(".cargo/bin/{tool}"), "rustup"),
            None => {
                w.link(&format!(".cargo/bin/{tool}"), &format!("../../.rustup/toolchains/{name}/bin/{tool}"))
            }
        }
    }
    if let Some(r) = rustup {
        link_tree(&std::fs::canonicalize(r).unwrap(), &w.home.path().join(".cargo/bin/rustup"));
    }
    // Directories the test user may use (hard-linked files stay root's).
    let mut chown = Command::new("sh");
    chown.arg("-c").arg(format!("find '{}' -type d -exec chown {} {{}} +", w.h(".rustup"), caller_uid()));
    assert!(status(&mut chown).success());
    true
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

#[test]
fn cargo_test_runs_with_the_users_own_rustup_toolchain() {
    let w = World::new();
    if !rustup_home(&w) {
        return;
    }
    w.proj.file(
        "Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    );
    w.proj.file(
        "src/lib.rs",
        "pub fn two() -> u32 {\n    2\n}\n\n#[test]\nfn it_adds() {\n    assert_eq!(two() + 2, 4);\n}\n",
    );
    w.home.file(".cargo/credentials.toml", "[registry]\ntoken = \"cio_secret\"\n");
    let path = format!("~/.cargo/bin:{PATH}");
    let out = w.run(&path, &["--", "cargo", "test", "--offline"]);
    assert_eq!(out.code(), 0, "stdout:\n{}\nstderr:\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains("test it_adds ... ok"), "{}", out.stdout());
    assert!(w.proj.path().join("target/debug").is_dir(), "the build went to the project on the host");
    // What explain says, and the credentials: never visible.
    let explain = w.run(&path, &["explain", "--", "cargo", "test"]).ok();
    for line in [&w.h(".cargo/bin"), &w.h(".rustup")] {
        assert!(
            explain
                .lines()
                .any(|l| l.trim_start().starts_with(line.as_str())
                    && l.ends_with("toolchain of cargo (rustup)")),
            "{line}:\n{explain}"
        );
    }
    let creds = w.h(".cargo/credentials.toml");
    let out = w.run(&path, &["--", "sh", "-c", &format!("cat {creds}; cargo --version")]);
    assert!(out.stdout().starts_with("cargo "), "{}", out.stderr());
    assert!(
        !out.stdout().contains("cio_secret") && out.stderr().contains("No such file"),
        "{}",
        out.stderr()
    );
}

/// pyenv's layout: shims that run `pyenv exec`, which picks the version.
fn pyenv_home(w: &World) {
    let root = w.h(".pyenv");
    w.home.mkdir(".pyenv/versions");
    as_user(&format!("/usr/bin/python3 -m venv --without-pip {root}/versions/3.11.2"));
    w.home.file(".pyenv/version", "3.11.2\n");
    let site = "lib/python3.11/site-packages";
    w.home.file(&format!(".pyenv/versions/3.11.2/{site}/marker.py"), "WHERE = 'pyenv 3.11.2'\n");
    w.script(
        ".pyenv/shims/python",
        &format!("#!/usr/bin/env bash\nset -e\nexport PYENV_ROOT=\"{root}\"\nexec \"{root}/libexec/pyenv\" exec \"${{0##*/}}\" \"$@\"\n"),
    );
    w.script(
        ".pyenv/libexec/pyenv",
        "#!/usr/bin/env bash\n[ \"$1\" = exec ] || exit 2; shift; name=$1; shift\n\
         version=${PYENV_VERSION:-$(cat \"$PYENV_ROOT/version\")}\n\
         exec \"$PYENV_ROOT/versions/$version/bin/$name\" \"$@\"\n",
    );
}

#[test]
fn python_through_pyenv_shims() {
    let w = World::new();
    pyenv_home(&w);
    let out = w.run(
        &format!("~/.pyenv/shims:{PATH}"),
        &["--", "python", "-c", "import marker, sys; print(marker.WHERE, sys.prefix)"],
    );
    assert_eq!(out.ok(), format!("pyenv 3.11.2 {}\n", w.h(".pyenv/versions/3.11.2")));
}

#[test]
fn node_from_nvm() {
    let w = World::new();
    let v = ".nvm/versions/node/v20.0.0";
    w.link(&format!("{v}/bin/node"), "/usr/bin/node");
    w.proj.file(
        "app.js",
        "console.log('node', process.version.split('.')[0] !== '', require('os').homedir() !== '');\n",
    );
    let out = w.run(&format!("~/{v}/bin:{PATH}"), &["--", "node", "app.js"]);
    assert_eq!(out.ok(), "node true true\n");
    let explain = w.run(&format!("~/{v}/bin:{PATH}"), &["explain", "--", "node", "app.js"]).ok();
    assert!(
        explain.contains(&format!("{}   ", w.h(v))) || explain.contains("toolchain of node (nvm)"),
        "{explain}"
    );
}

#[test]
fn a_go_toolchain_in_home_with_gopath_bin() {
    let w = World::new();
    let goroot = w.h("sdk/go1.22.0");
    w.home.file("sdk/go1.22.0/VERSION", "go1.22.0\n");
    w.home.file("sdk/go1.22.0/src/runtime/marker", "runtime sources\n");
    w.script("sdk/go1.22.0/bin/go", "#!/bin/sh\nroot=$(cd \"$(dirname \"$(readlink -f \"$0\")\")/..\" && pwd)\ncat \"$root/VERSION\" \"$root/src/runtime/marker\"\n");
    w.link("bin/go", &format!("{goroot}/bin/go"));
    w.script("go/bin/gotool", "#!/bin/sh\necho gotool ran\n");
    let out = w.run(&format!("~/bin:~/go/bin:{PATH}"), &["--", "sh", "-c", "go && gotool"]);
    assert_eq!(out.ok(), "go1.22.0\nruntime sources\ngotool ran\n");
}

#[test]
fn local_bin_scripts_find_their_user_site_packages() {
    let w = World::new();
    w.script(".local/bin/hello", "#!/usr/bin/python3\nimport hellolib\nprint(hellolib.GREETING)\n");
    w.home.file(".local/lib/python3.11/site-packages/hellolib.py", "GREETING = 'hello from site-packages'\n");
    let out = w.run(PATH, &["--", &w.h(".local/bin/hello")]);
    assert_eq!(out.ok(), "hello from site-packages\n");
    // Its directory joins PATH inside.
    let env = w.run(PATH, &["explain", "--", &w.h(".local/bin/hello")]).ok();
    assert!(env.contains(&format!("PATH={PATH}:{}", w.h(".local/bin"))), "{env}");
}

/// A directory of /opt the test creates (root) and removes.
struct Opt(PathBuf);

impl Drop for Opt {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_package_under_opt_is_shared_whole() {
    if !root_or_skip("creating a package under /opt") {
        return;
    }
    let opt = Opt(PathBuf::from(format!("/opt/sandbox-test-{}", token())));
    std::fs::create_dir_all(opt.0.join("bin")).unwrap();
    std::fs::create_dir_all(opt.0.join("share")).unwrap();
    std::fs::write(opt.0.join("share/data"), "opt data\n").unwrap();
    let tool = opt.0.join("bin/tool");
    std::fs::write(&tool, "#!/bin/sh\ncat \"$(dirname \"$0\")/../share/data\"\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let w = World::new();
    let out = w.run(&format!("{}:{PATH}", opt.0.join("bin").display()), &["--", "tool"]);
    assert_eq!(out.ok(), "opt data\n");
}

#[test]
fn secrets_inside_a_shared_tree_and_tokens_stay_out() {
    let w = World::new();
    w.script(".cargo/tool", "#!/bin/sh\necho tool ran\n");
    w.home.file(".cargo/credentials.toml", "token = \"cio_secret\"\n");
    w.home.file(".npmrc", "//registry.npmjs.org/:_authToken=npm_secret\n");
    let script = format!(
        "tool; cat {} {} 2>&1 | grep -c secret; env | grep -c -E 'TOKEN|PASSWORD'",
        w.h(".cargo/credentials.toml"),
        w.h(".npmrc")
    );
    let out = sbx(w.proj.path(), w.home.path(), ["--", "sh", "-c", &script])
        .env("PATH", &format!("{}:{PATH}", w.h(".cargo")))
        .env("CARGO_REGISTRY_TOKEN", "cio_secret")
        .env("GITHUB_TOKEN", "ghp_secret")
        .env("NPM_CONFIG_PASSWORD", "npm_secret")
        .output();
    assert_eq!(out.stdout(), "tool ran\n0\n0\n", "{}", out.stderr());
}

#[test]
fn no_toolchains_and_strict_leave_them_out_and_the_hint_says_where_they_are() {
    let w = World::new();
    w.script(".local/bin/mytool", "#!/bin/sh\necho ran\n");
    let path = format!("~/.local/bin:{PATH}");
    assert_eq!(w.run(&path, &["--", "mytool"]).ok(), "ran\n");
    let dir = w.h(".local/bin");
    let hint = format!(
        "hint: mytool is {dir}/mytool on the host, which the sandbox does not show; share it with --ro {dir}"
    );
    let out = w.run(&path, &["--no-toolchains", "--", "mytool"]);
    out.fails(127, "exec mytool: command not found");
    assert!(
        out.stderr().contains(&format!("{hint} (toolchain sharing is off: --no-toolchains)")),
        "{}",
        out.stderr()
    );
    let out = w.run(&path, &["--profile", "strict", "--", "mytool"]);
    out.fails(127, "exec mytool: command not found");
    assert!(out.stderr().contains(&hint), "{}", out.stderr());
    assert!(out.stderr().contains("toolchain sharing is off"), "{}", out.stderr());
    // And with --ro, as the hint says, it runs.
    assert_eq!(w.run(&path, &["--profile", "strict", "--ro", &dir, "--", "mytool"]).ok(), "ran\n");
}
