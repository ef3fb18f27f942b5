//! Everyday use (issue 16): what /etc points at is there, a command that
//! tries the network without one fails at once, mistakes leave nothing to
//! guess, and `sandbox man` / `sandbox completions` print the committed
//! pages.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

fn run(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    sbx(cwd.path(), home.path(), args).output()
}

/// A directory under /var/lib the test creates (as root) and removes.
struct VarLib(PathBuf);

impl Drop for VarLib {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `body` on a thread with a mount namespace of its own in which /etc
/// is the host's with `links` (name, target) added by an overlay: what the
/// thread starts sees them, nothing else on the host does.
fn with_etc_links(links: &[(&str, &str)], body: impl FnOnce() + Send + 'static) {
    use nix::mount::{mount, MsFlags};
    let layers = tempfile::tempdir().unwrap();
    let (upper, work) = (layers.path().join("upper"), layers.path().join("work"));
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    for (name, target) in links {
        std::os::unix::fs::symlink(target, upper.join(name)).unwrap();
    }
    let t = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare mount (root)");
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>).unwrap();
        let opts = format!("lowerdir=/etc,upperdir={},workdir={}", upper.display(), work.display());
        mount(Some("overlay"), "/etc", Some("overlay"), MsFlags::empty(), Some(opts.as_str()))
            .expect("overlay /etc");
        body();
    });
    let joined = t.join();
    drop(layers);
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn what_a_link_in_etc_points_at_is_there_read_only() {
    if !root_or_skip("an overlay over /etc in a mount namespace of the test's own") {
        return;
    }
    let dir = VarLib(PathBuf::from(format!("/var/lib/sandbox-test-{}", token())));
    std::fs::create_dir_all(dir.0.join("resolve")).unwrap();
    let stub = dir.0.join("resolve/stub-resolv.conf");
    std::fs::write(&stub, "# the stub\nnameserver 127.0.0.53\n").unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = Dir::new();
    home.file("secret", "home secret\n");
    let secret = home.path().join("secret");
    let links = [
        ("resolv.conf", format!("..{}", stub.display())),
        ("sandbox-test-home", secret.display().to_string()),
        ("sandbox-test-root", "/root/.bashrc".to_string()),
    ];
    let links: Vec<(&str, &str)> = links.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let stub_shown = stub.display().to_string();
    with_etc_links(&links, move || {
        let cwd = Dir::new();
        let script = format!(
            "cat /etc/resolv.conf; readlink /etc/resolv.conf >/dev/null && echo still-a-link; \
             echo x >> {stub_shown} 2>/dev/null || echo read-only; \
             cat /etc/sandbox-test-home 2>/dev/null || echo home-hidden; \
             cat /etc/sandbox-test-root 2>/dev/null || echo root-hidden"
        );
        let out = sbx(cwd.path(), home.path(), ["--net", "host", "--", "sh", "-c", &script]).output();
        assert_eq!(
            out.stdout(),
            "# the stub\nnameserver 127.0.0.53\nstill-a-link\nread-only\nhome-hidden\nroot-hidden\n",
            "{}",
            out.stderr()
        );
        let explain = sbx(cwd.path(), home.path(), ["explain", "--net", "host", "--", "true"]).output().ok();
        let line = explain.lines().find(|l| l.trim_start().starts_with(&stub_shown)).unwrap_or("");
        assert!(line.ends_with("/etc/resolv.conf links there"), "{explain}");
    });
    assert_eq!(std::fs::read_to_string(&stub).unwrap(), "# the stub\nnameserver 127.0.0.53\n");
}

/// What the links of /etc point at is kept in `$XDG_RUNTIME_DIR/sandbox`
/// (the caller's, 0700 and 0600) and read again once /etc changes: a link
/// added after the cache was written is followed on the next run. A link
/// planted where the cache goes is replaced, never written through.
#[test]
fn the_kept_answers_of_etc_links_give_way_to_a_changed_etc() {
    if !root_or_skip("an overlay over /etc in a mount namespace of the test's own") {
        return;
    }
    let (cwd, home, runtime) = (Dir::new(), Dir::new(), Dir::new());
    std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let rt = runtime.path().display().to_string();
    let explain =
        || sbx(cwd.path(), home.path(), ["explain", "--", "true"]).env("XDG_RUNTIME_DIR", &rt).output().ok();
    let kept = runtime.path().join("sandbox/etc-links");
    // A directory of the host changed in the last 2 s is not kept from:
    // the first runs may leave nothing.
    assert!(
        wait_for(20.0, || {
            explain();
            kept.is_file()
        }),
        "nothing kept in {rt}"
    );
    let (dir, file) = (std::fs::metadata(kept.parent().unwrap()).unwrap(), std::fs::metadata(&kept).unwrap());
    use std::os::unix::fs::MetadataExt;
    assert_eq!((dir.mode() & 0o7777, file.mode() & 0o7777), (0o700, 0o600));
    assert_eq!((dir.uid(), file.uid()), (caller_uid(), caller_uid()));
    let before = explain();
    // Read from the cache (the links a Plan needs, then only those
    // followed), the Plan is the one a run without it makes.
    let cold = sbx(cwd.path(), home.path(), ["explain", "--", "true"]).output().ok();
    assert_eq!(before, cold);

    let target = VarLib(PathBuf::from(format!("/var/lib/sandbox-test-{}", token())));
    std::fs::create_dir_all(&target.0).unwrap();
    std::fs::set_permissions(&target.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(target.0.join("zone"), "").unwrap();
    let zone = target.0.join("zone").display().to_string();
    let (rt2, zone2) = (rt.clone(), zone.clone());
    let (cwd_path, home_path) = (cwd.path().to_path_buf(), home.path().to_path_buf());
    with_etc_links(&[("sandbox-test-kept", zone.as_str())], move || {
        let out =
            sbx(&cwd_path, &home_path, ["explain", "--", "true"]).env("XDG_RUNTIME_DIR", &rt2).output().ok();
        let line = out.lines().find(|l| l.trim_start().starts_with(&zone2)).unwrap_or("");
        assert!(
            line.ends_with("/etc/sandbox-test-kept links there"),
            "a kept answer hid the new link:\n{out}"
        );
    });
    assert!(!before.contains(&zone), "{before}");

    // A link where the cache goes: replaced by a file, its target unchanged.
    let bait = runtime.file("bait", "bait\n");
    std::fs::remove_file(&kept).unwrap();
    std::os::unix::fs::symlink(&bait, &kept).unwrap();
    runtime.own(&kept);
    assert!(wait_for(20.0, || {
        explain();
        std::fs::symlink_metadata(&kept).unwrap().is_file()
    }));
    assert_eq!(std::fs::read_to_string(&bait).unwrap(), "bait\n");
    assert_eq!(explain(), before);
}

#[test]
fn the_fontconfig_cache_is_there() {
    let plan = run(&["explain", "--", "true"]).ok();
    assert!(plan.contains("  ro       /var/cache/fontconfig (if present)\n"), "{plan}");
    if !Path::new("/var/cache/fontconfig").is_dir() {
        note("NOT TESTED on this host: no /var/cache/fontconfig");
        return;
    }
    assert_eq!(run(&["--", "sh", "-c", "test -d /var/cache/fontconfig && echo yes"]).ok(), "yes\n");
}

#[test]
fn without_a_network_a_name_lookup_fails_at_once_and_v_says_why() {
    let start = Instant::now();
    let out =
        run(&["--", "sh", "-c", "getent hosts example.org || echo failed; grep nameserver /etc/resolv.conf"]);
    assert_eq!(out.ok(), "failed\nnameserver 192.0.2.53\n");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    let out = run(&["-v", "--", "true"]);
    assert!(
        out.stderr().lines().any(|l| l.contains("no network: only loopback") && l.contains("--net user")),
        "{}",
        out.stderr()
    );
    let quiet = run(&["--", "true"]);
    assert_eq!(quiet.stderr(), "", "nothing without -v");
}

#[test]
fn hide_of_a_missing_path_is_an_error_hide_try_is_not() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let missing = home.path().join(".sssh");
    let out = sbx(cwd.path(), home.path(), ["--hide", missing.to_str().unwrap(), "--", "true"]).output();
    out.fails(125, &format!("hide {}: No such file or directory", missing.display()));
    assert!(out.stderr().contains("--hide-try"), "{}", out.stderr());
    let out =
        sbx(cwd.path(), home.path(), ["--hide-try", missing.to_str().unwrap(), "--", "echo", "ran"]).output();
    assert_eq!(out.ok(), "ran\n");
    home.file(".ssh/id", "key");
    let ssh = home.path().join(".ssh");
    let out = sbx(
        cwd.path(),
        home.path(),
        [
            "--rw",
            home.path().to_str().unwrap(),
            "--hide",
            ssh.to_str().unwrap(),
            "--",
            "ls",
            "-A",
            ssh.to_str().unwrap(),
        ],
    )
    .output();
    assert_eq!(out.ok(), "");
}

#[test]
fn explain_fails_as_the_run_would_with_the_same_line() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let cases: [&[&str]; 4] = [
        &["--ro", "/nonexistent-source:/x"],
        &["--persist", "/nonexistent-lower:/tmp/sandbox-test-state"],
        &["--add-seccomp-fd", "77"],
        &["--hide", "/nonexistent-hidden"],
    ];
    for args in cases {
        let mut run_args: Vec<&str> = args.to_vec();
        run_args.extend(["--", "true"]);
        let ran = sbx(cwd.path(), home.path(), &run_args).output();
        assert_eq!(ran.code(), 125, "{args:?}: {}", ran.stderr());
        let mut explain_args = vec!["explain"];
        explain_args.extend(&run_args);
        let explained = sbx(cwd.path(), home.path(), &explain_args).output();
        assert_eq!((explained.code(), explained.stderr()), (125, ran.stderr()), "{args:?}");
        assert_eq!(explained.stdout(), "", "no plan printed");
    }
}

#[test]
fn options_of_a_fixed_set_list_their_values() {
    run(&["--net", "foo", "--", "true"])
        .fails(125, "invalid value 'foo' for '--net <MODE>': expected one of none, host, user, user:pasta, user:slirp4netns");
    let out = run(&["--share", "netw", "--", "true"]);
    out.fails(125, "expected one of ipc, pid, uts, net, cgroup; did you mean 'net'?");
    run(&["--bind-cwd", "x", "--", "true"]).fails(125, "expected one of rw, ro, none");
    run(&["--seccomp", "x", "--", "true"]).fails(125, "expected one of default, none");
    run(&["--mode", "x", "--", "true"]).fails(125, "expected one of namespaces, landlock");
}

#[test]
fn bubblewraps_spellings_say_the_native_form() {
    run(&["--ro-bind", "/usr", "/usr", "--", "true"])
        .fails(125, "--ro-bind is bubblewrap's spelling: write --ro /usr;");
    run(&["--bind", "/tmp/a", "/b", "--", "true"]).fails(125, "write --rw /tmp/a:/b;");
    let out = run(&["--dev-bind", "/dev", "/dev", "--", "true"]);
    out.fails(125, "--dev-bind is bubblewrap's spelling: write --dev-bind /dev;");
    assert!(out.stderr().contains("`sandbox bwrap ARGS`"), "{}", out.stderr());
    run(&["--unshare-all", "--", "true"]).fails(125, "not needed here: every namespace is the sandbox's own");
}

#[test]
fn a_destination_error_after_a_colon_mentions_the_escape() {
    run(&["--ro", "/usr/a:b", "--", "true"])
        .fails(125, "destination b: must be an absolute path (the value was split at ':'; a literal ':' in a path is written '\\:')");
}

#[test]
fn a_tilde_in_a_value_or_a_profile_is_home() {
    let (cwd, home) = (Dir::new(), Dir::new());
    home.file("data/f", "in home\n");
    let out = sbx(cwd.path(), home.path(), ["--ro=~/data:/data", "--", "cat", "/data/f"]).output();
    assert_eq!(out.ok(), "in home\n");
    let profile = cwd.file("p.toml", "include = [\"default\"]\n[filesystem]\nro = [\"~/data:/d2\"]\n");
    let out =
        sbx(cwd.path(), home.path(), ["--profile", profile.to_str().unwrap(), "--", "cat", "/d2/f"]).output();
    assert_eq!(out.ok(), "in home\n");
    let out = sbx(cwd.path(), home.path(), ["--ro", "~root/x", "--", "true"]).output();
    out.fails(125, "only `~` and `~/…` are expanded");
    assert!(out.stderr().contains("${HOME}"), "{}", out.stderr());
}

#[test]
fn a_timeout_says_so_with_v_and_only_then() {
    let out = run(&["-v", "--timeout", "300ms", "--", "sleep", "10"]);
    assert_eq!(out.code(), 124);
    let stderr = out.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("--timeout")).collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr());
    assert!(lines[0].contains("300ms") && lines[0].contains("SIGTERM"), "{}", lines[0]);
    let out = run(&["--timeout", "300ms", "--", "sleep", "10"]);
    assert_eq!((out.code(), out.stderr().as_str()), (124, ""));
}

#[test]
fn man_and_completions_print_the_committed_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();
    assert_eq!(run(&["man"]).ok(), committed("man/sandbox.1"));
    assert_eq!(run(&["man", "profile"]).ok(), committed("man/sandbox-profile.5"));
    assert_eq!(run(&["man", "explain"]).ok(), committed("man/sandbox-explain.1"));
    assert_eq!(run(&["completions", "bash"]).ok(), committed("completions/sandbox.bash"));
    assert_eq!(run(&["completions", "zsh"]).ok(), committed("completions/_sandbox"));
    assert_eq!(run(&["completions", "fish"]).ok(), committed("completions/sandbox.fish"));
    run(&["completions", "tcsh"]).fails(125, "expected one of bash, zsh, fish");
    run(&["man", "nope"]).fails(125, "no such page");
}
