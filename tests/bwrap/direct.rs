//! Direct tests of what Debian's bubblewrap 0.8 cannot be compared on:
//! options added later (--argv0, --level-prefix, the overlays, symlink
//! idempotence), the `sandbox bwrap` spelling, and namespace joins and
//! --userns-block-fd, which need a script around two sandboxes.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::harness::{compat_bwrap, need_reference, REFERENCE};

const USR: [&str; 8] =
    ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib64"];

/// `sandbox bwrap ARGS` with /usr and the links /bin, /lib64, /lib in place.
fn bw(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    let mut all = vec!["bwrap"];
    all.extend(USR);
    all.extend(["/lib64", "--symlink", "usr/lib", "/lib"]);
    all.extend(args);
    sbx(cwd.path(), home.path(), all).output()
}

/// A clean bubblewrap failure: exit 1, exactly `line` on stderr.
fn fails(out: &Out, line: &str) {
    assert_eq!((out.code(), out.stderr().as_str()), (1, format!("{line}\n").as_str()));
}

#[test]
fn argv0_replaces_the_commands_argv0() {
    assert_eq!(bw(&["--argv0", "right", "sh", "-c", "echo $0"]).ok(), "right\n");
    fails(&bw(&["--argv0", "a", "--argv0", "b", "true"]), "bwrap: --argv0 used multiple times");
}

#[test]
fn level_prefix_marks_errors_3_and_warnings_4() {
    let out = bw(&["--level-prefix", "--chdir", "/", "--chdir", "/nonexistent", "true"]);
    assert_eq!(out.code(), 1);
    assert_eq!(
        out.stderr(),
        "<4>bwrap: Only the last --chdir option will take effect\n\
         <3>bwrap: Can't chdir to /nonexistent: No such file or directory\n"
    );
    // Only from where it is given on.
    let out = bw(&["--chdir", "/", "--chdir", "/", "--level-prefix", "--frob"]);
    assert_eq!(
        out.stderr(),
        "bwrap: Only the last --chdir option will take effect\n<3>bwrap: Unknown option --frob\n"
    );
}

/// bubblewrap 0.9 made --symlink idempotent; the two refusals keep its words.
#[test]
fn an_identical_symlink_is_accepted_others_refused() {
    assert_eq!(bw(&["--symlink", "t", "/l", "--symlink", "t", "/l", "readlink", "/l"]).ok(), "t\n");
    fails(
        &bw(&["--symlink", "t", "/l", "--symlink", "u", "/l", "true"]),
        "bwrap: Can't make symlink at /l: existing destination is t",
    );
    fails(
        &bw(&["--dir", "/d", "--symlink", "t", "/d", "true"]),
        "bwrap: Can't make symlink at /d: destination exists and is not a symlink",
    );
}

#[test]
fn chmod_needs_an_existing_path() {
    assert_eq!(bw(&["--dir", "/d", "--chmod", "0710", "/d", "stat", "-c", "%a", "/d"]).ok(), "710\n");
    fails(
        &bw(&["--chmod", "0700", "/nope", "true"]),
        "bwrap: Can't chmod 0700 /nope: No such file or directory",
    );
}

fn layers() -> (Dir, Dir) {
    let (low, high) = (Dir::new(), Dir::new());
    low.file("both", "low\n");
    low.file("only-low", "low\n");
    high.file("both", "high\n");
    (low, high)
}

/// Writes through a --tmp-overlay vanish; the layers never change; the last
/// --overlay-src is the top layer.
#[test]
fn tmp_overlay_stacks_sources_and_keeps_the_host_unchanged() {
    let (low, high) = layers();
    let (l, h) = (low.path().to_str().unwrap(), high.path().to_str().unwrap());
    let script = "cat /o/both /o/only-low && echo new > /o/new && rm /o/only-low && ls /o";
    let out = bw(&["--overlay-src", l, "--overlay-src", h, "--tmp-overlay", "/o", "sh", "-c", script]).ok();
    assert_eq!(out, "high\nlow\nboth\nnew\n");
    assert!(
        low.path().join("only-low").exists()
            && !high.path().join("new").exists()
            && !low.path().join("new").exists()
    );
}

#[test]
fn ro_overlay_needs_two_sources_and_is_read_only() {
    let (low, high) = layers();
    let (l, h) = (low.path().to_str().unwrap(), high.path().to_str().unwrap());
    let out = bw(&[
        "--overlay-src",
        h,
        "--overlay-src",
        l,
        "--ro-overlay",
        "/o",
        "sh",
        "-c",
        "cat /o/both; touch /o/x",
    ]);
    assert_eq!(out.stdout(), "low\n", "the last --overlay-src is on top");
    assert!(out.stderr().contains("Read-only file system"), "{}", out.stderr());
    fails(
        &bw(&["--overlay-src", l, "--ro-overlay", "/o", "true"]),
        "bwrap: --ro-overlay requires at least two --overlay-src",
    );
}

/// --overlay RWSRC WORKDIR DEST: writes land in RWSRC, the lower never changes.
#[test]
fn overlay_writes_to_the_host_upper_only() {
    let (low, _) = layers();
    let state = Dir::new();
    state.mkdir("up");
    state.mkdir("work");
    let (up, work) = (state.path().join("up"), state.path().join("work"));
    let out = bw(&[
        "--overlay-src",
        low.path().to_str().unwrap(),
        "--overlay",
        up.to_str().unwrap(),
        work.to_str().unwrap(),
        "/o",
        "sh",
        "-c",
        "echo changed > /o/both && cat /o/both",
    ]);
    assert_eq!(out.ok(), "changed\n");
    assert_eq!(std::fs::read_to_string(up.join("both")).unwrap(), "changed\n");
    assert_eq!(std::fs::read_to_string(low.path().join("both")).unwrap(), "low\n");
}

#[test]
fn overlay_misuse_gets_bubblewraps_messages() {
    let (low, _) = layers();
    let l = low.path().to_str().unwrap();
    fails(&bw(&["--tmp-overlay", "/o", "true"]), "bwrap: --tmp-overlay requires at least one --overlay-src");
    fails(
        &bw(&["--overlay", "/a", "/b", "/o", "true"]),
        "bwrap: --overlay requires at least one --overlay-src",
    );
    fails(
        &bw(&["--overlay-src", l, "--dir", "/x", "true"]),
        "bwrap: --overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay",
    );
    fails(
        &bw(&["--overlay-src", "/nonexistent", "--tmp-overlay", "/o", "true"]),
        "bwrap: Can't find source path /nonexistent: No such file or directory",
    );
    // The work directory must be on the upper directory's file system
    // (/dev/shm is a tmpfs, the fixtures are on /tmp).
    let state = Dir::new();
    state.mkdir("up");
    let shm = tempfile::Builder::new().prefix("sbx-work-").tempdir_in("/dev/shm").unwrap();
    state.own(shm.path());
    let up = state.path().join("up");
    let out = bw(&[
        "--overlay-src",
        l,
        "--overlay",
        up.to_str().unwrap(),
        shm.path().to_str().unwrap(),
        "/o",
        "true",
    ]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr().contains("not on the same file system as the upper directory"), "{}", out.stderr());
}

#[test]
fn help_and_version_speak_as_bubblewrap() {
    let out = bw(&["--help"]);
    let text = out.ok();
    assert!(text.starts_with("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n"), "{text}");
    for opt in [
        "--overlay-src",
        "--tmp-overlay",
        "--argv0",
        "--level-prefix",
        "--bind-fd",
        "--chmod",
        "--json-status-fd",
    ] {
        assert!(text.contains(opt), "--help lacks {opt}");
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let v = sbx(cwd.path(), home.path(), ["bwrap", "--version"]).output().ok();
    assert!(v.starts_with("bubblewrap 0.11"), "{v}");
}

/// Run by root, `sandbox bwrap` still creates a user namespace (bubblewrap
/// run by root creates none): uid 0 inside is mapped to uid 0 only.
#[test]
fn run_by_root_it_still_uses_a_user_namespace() {
    if !root_or_skip("running the binary as root") {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = sbx(cwd.path(), home.path(), ["bwrap", "--ro-bind", "/", "/", "cat", "/proc/self/uid_map"])
        .run_as_root()
        .output()
        .ok();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "0", "1"]);
}

/// Runs `script` as the test user with `$B` set to the bwrap at `bwrap`.
fn script(bwrap: &Path, script: &str) -> String {
    let dir = Dir::new();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).current_dir(dir.path()).env("B", bwrap);
    let out = out(as_caller(&mut cmd));
    format!("{}{}exit {}", out.stdout(), out.stderr(), out.code())
}

/// Waits for sandbox 1's info file and reads its child pid into $pid.
const WAIT_PID: &str = r#"for i in $(seq 100); do pid=$(sed -n 's/.*"child-pid": \([0-9]*\).*/\1/p' info); [ -n "$pid" ] && break; sleep 0.05; done"#;

/// bubblewrap's test-specifying-pidns: sandbox 2 joins sandbox 1's user and
/// pid namespaces through --userns and --pidns and sees its pid namespace.
#[test]
fn joining_user_and_pid_namespaces_matches_bubblewrap() {
    if !need_reference() {
        return;
    }
    let s = format!(
        r#"$B --unshare-user --unshare-pid --ro-bind / / --info-fd 3 sleep 2 3>info >/dev/null 2>&1 &
{WAIT_PID}
inner=$($B --userns 7 --pidns 8 --ro-bind / / --proc /proc readlink /proc/self/ns/pid 7</proc/$pid/ns/user 8</proc/$pid/ns/pid)
[ "$inner" = "$(readlink /proc/$pid/ns/pid)" ] && echo same pid namespace || echo "differs: $inner"
kill $! 2>/dev/null; wait"#
    );
    let want = script(Path::new(REFERENCE), &s);
    assert_eq!(script(&compat_bwrap(), &s), want);
    assert!(want.starts_with("same pid namespace\n"), "{want}");
}

/// --userns-block-fd: the maps come from outside (here the test user
/// itself writes a root mapping) before the sandbox goes on.
#[test]
fn userns_block_fd_waits_for_maps_written_outside() {
    if !need_reference() {
        return;
    }
    let s = format!(
        r#"mkfifo f
$B --unshare-user --info-fd 3 --userns-block-fd 4 --ro-bind / / id -u 3>info 4<f &
exec 5>f
{WAIT_PID}
echo deny > /proc/$pid/setgroups; echo "0 $(id -u) 1" > /proc/$pid/uid_map; echo "0 $(id -g) 1" > /proc/$pid/gid_map
echo go >&5
wait $!"#
    );
    let want = script(Path::new(REFERENCE), &s);
    assert_eq!(script(&compat_bwrap(), &s), want);
    assert_eq!(want, "0\nexit 0");
}

/// --sync-fd: the caller sees the descriptor close when the sandbox ends,
/// not before (pid 1 holds it; the command does not).
#[test]
fn sync_fd_closes_when_the_sandbox_ends() {
    if !need_reference() {
        return;
    }
    let s = r#"mkfifo f
( $B --ro-bind / / --sync-fd 3 sh -c 'ls /proc/self/fd | tr "\n" " "; sleep 0.3' 3>f & )
start=$(date +%s%N); cat f; end=$(date +%s%N)
[ $(( (end - start) / 100000000 )) -ge 2 ] && echo "held while running" || echo "closed early""#;
    let want = script(Path::new(REFERENCE), s);
    assert_eq!(script(&compat_bwrap(), s), want);
    assert!(want.contains("held while running"), "{want}");
}

/// --userns2: sandbox 2 joins sandbox 1's user namespace for its setup
/// (--userns), then switches to a user namespace created inside it (by
/// `unshare -U` in a child of sandbox 1's command, which stays in sandbox
/// 1's namespace), with no id mapped there: bubblewrap changes no id after
/// the switch.
#[test]
fn userns2_switches_to_a_nested_user_namespace_after_setup() {
    if !need_reference() {
        return;
    }
    let s = format!(
        r#"$B --unshare-user --ro-bind / / --bind "$PWD" "$PWD" --chdir "$PWD" --info-fd 3 \
    sh -c 'unshare -U sh -c "readlink /proc/self/ns/user > u2.tmp; echo \$\$ > pid2.tmp; mv u2.tmp u2; mv pid2.tmp pid2; exec sleep 5"; true' \
    3>info >/dev/null 2>&1 &
{WAIT_PID}
for i in $(seq 100); do [ -s pid2 ] && [ -s u2 ] && break; sleep 0.05; done
inner=$($B --userns 7 --userns2 8 --ro-bind / / readlink /proc/self/ns/user 7</proc/$pid/ns/user 8</proc/$(cat pid2)/ns/user)
[ "$inner" = "$(cat u2)" ] && echo switched || echo "differs: $inner, want $(cat u2)"
[ "$(readlink /proc/$pid/ns/user)" != "$inner" ] && echo not the setup namespace
kill $(cat pid2) 2>/dev/null; wait"#
    );
    let want = script(Path::new(REFERENCE), &s);
    assert_eq!(want, "switched\nnot the setup namespace\nexit 0", "Debian's bwrap");
    assert_eq!(script(&compat_bwrap(), &s), want);
}

/// bubblewrap's own test suite runs itself again through /proc/self/exe
/// (`$BWRAP_RECURSE -- /proc/self/exe --unshare-all --bind / / …`): argv[0]
/// no longer says bwrap, and the binary must stay bubblewrap's, also with
/// an option both command lines have (`--dev-bind / /`).
#[test]
fn a_bwrap_run_again_through_proc_self_exe_stays_bwrap() {
    if !need_reference() {
        return;
    }
    let recurse = "$B --unshare-user --uid 0 --gid 0 --cap-add ALL --bind / / --bind /proc /proc --";
    let s = format!(
        "{recurse} /proc/self/exe --unshare-all --bind / / --bind /proc /proc echo hello\n\
         {recurse} /proc/self/exe --dev-bind / / -- echo again"
    );
    let want = script(Path::new(REFERENCE), &s);
    assert_eq!(want, "hello\nagain\nexit 0", "Debian's bwrap");
    assert_eq!(script(&compat_bwrap(), &s), want);
}
