//! Host-side escapes (issue 14, items 1-4): what the sandbox shares as the
//! current directory, and every file it opens or creates on the host at a
//! path the command can reach (persist state, the pid file). Each test runs
//! the real binary rootless and checks the host side.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{sbx, Dir, Out};

/// The one-line note that says the current directory is not shared.
const NOT_SHARED: &str = "sandbox: note: not sharing the current directory";

/// Runs `script` in the default profile from `cwd` with `$HOME` = `home`,
/// after checking that `cwd` is not shared: a file written there stays
/// inside, the command starts in `$HOME`, and the note says why and how.
fn assert_not_shared(cwd: &Path, home: &Path, env: &[(&str, &str)], why: &str) -> Out {
    let made = format!("sandbox-made-{}", common::token());
    let script = format!("pwd; touch {made} 2>/dev/null; true");
    let mut run = sbx(cwd, home, ["--", "sh", "-c", script.as_str()]);
    for (k, v) in env {
        run = run.env(k, v);
    }
    let out = run.output();
    let shown = cwd.display();
    assert!(!cwd.join(&made).exists(), "{shown} was shared: the file reached the host");
    assert_eq!(out.ok().trim(), home.to_str().unwrap(), "{shown}: the command starts in $HOME");
    let err = out.stderr();
    let note = format!("{NOT_SHARED} {shown} ({why}); share it on purpose with --rw {shown}");
    assert!(err.contains(&note), "{shown}: expected {note:?} in:\n{err}");
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    out
}

#[test]
fn a_home_reached_through_a_symlink_is_never_shared() {
    // ostree's /home -> var/home: $HOME names the link, getcwd the real path.
    let d = Dir::new();
    let real = d.mkdir("var/home/u");
    std::os::unix::fs::symlink("var/home", d.path().join("home")).unwrap();
    d.own(&d.path().join("home"));
    let home = d.path().join("home/u");
    assert_not_shared(&real, &home, &[], "your home directory");
    // A directory above the home, which the written $HOME does not start with.
    let above = d.path().join("var/home");
    assert_not_shared(&above, &home, &[], "it contains your home directory");
    // A project in the home is still shared.
    let proj = d.mkdir("var/home/u/proj");
    let out = sbx(&proj, &home, ["--", "sh", "-c", "touch made"]).output();
    out.ok();
    assert!(proj.join("made").exists(), "a project under a symlinked $HOME is shared");
}

#[test]
fn shared_scratch_and_runtime_dirs_are_never_shared() {
    let d = Dir::new();
    // Not under /tmp, which would already keep /tmp from being shared.
    let home = Path::new("/nonexistent-sandbox-test-home");
    // A socket of another program (tmux, ssh-agent) and a file in /tmp.
    let sock = d.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = d.file("marker", "host");
    let probe = format!("test -e {} || test -e {} && echo visible; true", sock.display(), marker.display());
    let seen = sbx(Path::new("/tmp"), home, ["--", "sh", "-c", probe.as_str()]).output();
    assert_eq!(seen.ok().trim(), "", "host /tmp (its sockets) visible inside");
    assert_not_shared(Path::new("/tmp"), home, &[], "shared by every user, sockets included");
    for dir in ["/var/tmp", "/dev/shm", "/run"] {
        assert_not_shared(Path::new(dir), home, &[], "shared by every user, sockets included");
    }
    assert_not_shared(Path::new("/var"), home, &[], "it contains /var/tmp");
    // $XDG_RUNTIME_DIR, wherever it is, and what is in it.
    let runtime = d.mkdir("run/user/1000");
    let rt = runtime.to_str().unwrap();
    d.file("run/user/1000/bus", "session bus");
    let why = "your runtime directory, with your session's sockets";
    assert_not_shared(&runtime, home, &[("XDG_RUNTIME_DIR", rt)], why);
    let probe = sbx(&runtime, home, ["--", "sh", "-c", "test -e bus && echo visible; true"])
        .env("XDG_RUNTIME_DIR", rt)
        .output();
    assert_eq!(probe.ok().trim(), "", "the runtime dir's sockets visible inside");
    let above = d.path().join("run/user");
    assert_not_shared(&above, home, &[("XDG_RUNTIME_DIR", rt)], &format!("it contains {rt}"));
    // A subdirectory of /tmp stays shared read-write.
    let build = d.mkdir("build");
    sbx(&build, home, ["--", "sh", "-c", "touch made"]).output().ok();
    assert!(build.join("made").exists(), "/tmp/build is shared");
}

/// Runs sandbox like [`sbx`], under umask 0 (as a careless caller might).
fn sbx_umask0(cwd: &Path, home: &Path, args: &[&str]) -> Out {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "umask 0; exec \"$0\" \"$@\""])
        .arg(common::bin())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null());
    if let Some((uid, gid)) = common::test_ids() {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
    common::out(&mut cmd)
}

/// The permission bits of `p` (not followed), in octal.
fn mode(p: &Path) -> String {
    format!("{:o}", std::fs::symlink_metadata(p).unwrap().mode() & 0o7777)
}

/// A victim of the caller's: its entries, contents and mode.
fn snapshot(dir: &Path) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), text, mode(&e.path()))
        })
        .collect();
    v.push((".".into(), String::new(), mode(dir)));
    v.sort();
    v
}

#[test]
fn persist_state_never_follows_a_symlink_the_command_planted() {
    // The state directory sits in the shared project, as it often does.
    for (planted, expect) in [
        ("upper", "upper is a symlink"),
        ("work", "work is a symlink"),
        ("lock", "lock is a symlink"),
        ("", "it is a symlink"),
    ] {
        let d = Dir::new();
        let proj = d.mkdir("proj");
        let lower = d.file("lower/f", "lower");
        let lower = lower.parent().unwrap().to_str().unwrap();
        let home = d.file("home/.bashrc", "original");
        let home = home.parent().unwrap();
        let persist = format!("{lower}:{}/state:/data", proj.display());
        sbx(&proj, home, ["--persist", persist.as_str(), "--", "sh", "-c", "echo kept > /data/f"])
            .output()
            .ok();
        let before = snapshot(home);
        // The command swaps STATEDIR/NAME (or STATEDIR) for a symlink to
        // $HOME (or, for the lock, a file that does not exist there).
        let name = if planted.is_empty() { "state".to_string() } else { format!("state/{planted}") };
        let target = if planted == "lock" { home.join("made") } else { home.to_path_buf() };
        let plant = format!("mv {name} {name}.old && ln -s {} {name}", target.display());
        sbx(&proj, home, ["--", "sh", "-c", plant.as_str()]).output().ok();
        assert!(std::fs::symlink_metadata(proj.join(&name)).unwrap().file_type().is_symlink());
        let attack = "cat /data/.bashrc; echo pwned > /data/.bashrc; touch /data/new";
        let out = sbx(&proj, home, ["--persist", persist.as_str(), "--", "sh", "-c", attack]).output();
        assert_eq!(snapshot(home), before, "{planted:?}: the next run changed the host's $HOME");
        assert!(!home.join("made").exists(), "{planted:?}: a file was created at the link's target");
        out.fails(125, expect);
        assert!(out.stdout().is_empty(), "{planted:?}: the command ran: {}", out.stdout());
    }
}

#[test]
fn persist_state_is_created_private_whatever_the_umask() {
    let d = Dir::new();
    let proj = d.mkdir("proj");
    let lower = d.mkdir("lower");
    let state = proj.join("a/b/state");
    let persist = format!("{}:{}:/data", lower.display(), state.display());
    sbx_umask0(&proj, &d.mkdir("home"), &["--persist", persist.as_str(), "--", "true"]).ok();
    for dir in [proj.join("a"), proj.join("a/b"), state.clone(), state.join("upper"), state.join("work")] {
        assert_eq!(mode(&dir), "700", "{}", dir.display());
    }
    assert_eq!(mode(&state.join("lock")), "600", "the lock file");
}

/// Runs `run` and waits for it within the harness's time-out: a hang is
/// a failure.
fn output_within_30s(run: common::Sbx) -> Out {
    run.spawn().output()
}

#[test]
fn the_pid_file_is_never_written_through_what_the_command_planted() {
    // The README's own example puts job.pid in the shared current directory:
    // the command swaps it for a link to ~/.bashrc, a dangling link, a FIFO.
    for (plant, why) in [
        ("ln -s $HOST_HOME/.bashrc", "it is a symlink"),
        ("ln -s $HOST_HOME/made", "it is a symlink"),
        ("mkfifo", "it is not a regular file"),
    ] {
        let d = Dir::new();
        let proj = d.mkdir("proj");
        let home = d.file("home/.bashrc", "original");
        let home = home.parent().unwrap();
        let script = format!("rm job.pid; {} job.pid", plant.replace("$HOST_HOME", home.to_str().unwrap()));
        sbx(&proj, home, ["--pid-file", "job.pid", "--", "sh", "-c", script.as_str()]).output().ok();
        let before = snapshot(home);
        let out = output_within_30s(sbx(&proj, home, ["--pid-file", "job.pid", "--", "echo", "ran"]));
        assert_eq!(snapshot(home), before, "{plant}: the next run changed the host's $HOME");
        assert!(!home.join("made").exists(), "{plant}: a file was created at the link's target");
        out.fails(125, &format!("--pid-file job.pid: {why}"));
        assert!(out.stdout().is_empty(), "{plant}: the command ran");
    }
}

#[test]
fn the_pid_file_is_created_private_and_removed_at_the_end() {
    let d = Dir::new();
    let proj = d.mkdir("proj");
    let out =
        sbx_umask0(&proj, &d.mkdir("home"), &["--pid-file", "job.pid", "--", "stat", "-c", "%a", "job.pid"]);
    assert_eq!(out.ok().trim(), "600", "the pid file's mode under umask 0");
    assert!(!proj.join("job.pid").exists(), "removed at the end");
}
