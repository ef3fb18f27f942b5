//! The bad inputs of SECURITY-REFERENCE.md §3 (issue 11), table-driven:
//! each must give its exit status, one line on stderr naming the thing and
//! the cause (plus at most a `hint:` line), control characters escaped, no
//! panic text, and nothing created on the host (not even a parent
//! directory). Rows for bwrap's options live in tests/bwrap.rs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

/// Every path under `dirs`, and sandbox-named entries of /tmp and /dev/shm
/// that are not the test harness's own.
fn host_snapshot(dirs: &[&Path]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            out.insert(e.path().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            }
        }
    }
    let harness = ["sandbox-test-", "sandbox-bin-", "sandbox-helper-", "sandbox-fuzz-"];
    for d in ["/tmp", "/dev/shm"] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains("sandbox") && !harness.iter().any(|h| n.starts_with(h)) {
                out.insert(format!("{d}/{n}"));
            }
        }
    }
    out
}

#[test]
fn every_bad_input_is_refused_cleanly_and_changes_nothing() {
    let (cwd, home, files) = (Dir::new(), Dir::new(), Dir::new());
    std::os::unix::fs::symlink("loop", files.path().join("loop")).unwrap();
    let long_path = format!("/tmp/{}", "a/".repeat(2600));
    let long_name = format!("/tmp/{}", "n".repeat(300));
    let cycle_a = files.file("a.toml", "include = [\"./b.toml\"]\n");
    files.file("b.toml", "include = [\"./a.toml\"]\n");
    let bad_key = files.file("key.toml", "[filesystem]\nrwx = [\"/\"]\n");
    let bad_type = files.file("type.toml", "[process]\nuid = \"root\"\n");
    let dup_key = files.file("dup.toml", "[process]\nuid = 1\nuid = 2\n");
    let nul = files.file("nul.toml", "[filesystem]\nro = [\"/tmp/a\\u0000b\"]\n");
    let fifo = files.path().join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    files.own(&fifo);
    let looped = format!("{}:/x", files.path().join("loop").display());
    let (cycle, key, ty, dup, nulp, fifop) = (
        cycle_a.display().to_string(),
        bad_key.display().to_string(),
        bad_type.display().to_string(),
        dup_key.display().to_string(),
        nul.display().to_string(),
        fifo.display().to_string(),
    );
    let dirp = files.path().display().to_string();
    let rows: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "1 missing source",
            vec!["--ro", "/nonexistent-src:/x"],
            125,
            "bind /nonexistent-src -> /x: No such file or directory",
        ),
        ("2 relative destination", vec!["--ro", "/tmp:relative/dest"], 125, "must be an absolute path"),
        ("3 .. in destination", vec!["--ro", "/tmp:/a/../../etc"], 125, "'..' is not allowed"),
        ("6 symlink loop", vec!["--ro", &looped], 125, "Too many levels of symbolic links"),
        ("7 path of 5,000 bytes", vec!["--ro", &long_path], 125, "File name too long"),
        ("7 component of 300 bytes", vec!["--ro", &long_name], 125, "File name too long"),
        ("9 NUL in a profile value", vec!["--profile", &nulp], 125, "contains a NUL byte"),
        ("11 control characters", vec!["--ro", "/tmp/\x1b[2J\x07x"], 125, "/tmp/\\x1b[2J\\x07x"),
        ("12 empty path", vec!["--ro", ""], 125, "the source path is empty"),
        ("12 empty destination", vec!["--tmpfs", ""], 125, "the path is empty"),
        ("13 missing argument", vec!["--ro"], 125, "a value is required for '--ro"),
        ("14 unknown option", vec!["--frobnicate"], 125, "unexpected argument '--frobnicate'"),
        ("17 conflicting options", vec!["--net", "none", "--share", "net"], 125, "cannot be combined"),
        (
            "19 single-valued option twice",
            vec!["--cwd", "/a", "--cwd", "/b"],
            125,
            "cannot be used multiple times",
        ),
        ("20 include cycle", vec!["--profile", &cycle], 125, "include cycle"),
        ("21 profile is a directory", vec!["--profile", &dirp], 125, "not a regular file"),
        ("21 profile is a FIFO", vec!["--profile", &fifop], 125, "not a regular file"),
        ("22 unknown profile key", vec!["--profile", &key], 125, "key.toml:2:1: unknown field `rwx`"),
        ("22 wrong type", vec!["--profile", &ty], 125, "type.toml:2:7: invalid type"),
        ("22 duplicate key", vec!["--profile", &dup], 125, "dup.toml:3:1: duplicate key"),
        ("23 unknown system call", vec!["--seccomp-deny", "fooble"], 125, "unknown system call `fooble`"),
        ("23 socketcall on x86_64", vec!["--seccomp-deny", "socketcall"], 125, "not a system call on x86_64"),
        ("24 bad fd", vec!["--keep-fd", "99"], 125, "--keep-fd 99: Bad file descriptor"),
        ("24 fd out of range", vec!["--keep-fd", "-1"], 125, "--keep-fd"),
        ("24 bpf fd not open", vec!["--add-seccomp-fd", "77"], 125, "77"),
        (
            "24 bpf fd a standard stream",
            vec!["--add-seccomp-fd", "1"],
            125,
            "'--add-seccomp-fd <FD>': 1 is not in 3..",
        ),
        ("24 caps without uid 0", vec!["--cap-add", "CAP_CHOWN"], 125, "--cap-add needs --uid 0"),
        ("25 uid 2^32-1", vec!["--uid", "4294967295"], 125, "not an id"),
        ("25 uid -1", vec!["--uid", "-1"], 125, "not an id"),
        ("25 uid 1e3", vec!["--uid", "1e3"], 125, "not an id"),
        ("25 gid overflow", vec!["--gid", "99999999999"], 125, "not an id"),
        (
            "27 writable mount under /proc/sys",
            vec!["--rw", "/tmp:/proc/sys/kernel/x"],
            125,
            "under /proc or /sys",
        ),
        ("27 writable mount under /proc/self", vec!["--rw", "/tmp:/proc/self/x"], 125, "under /proc or /sys"),
        ("27 writable mount under /sys", vec!["--dev-bind", "/tmp:/sys/x"], 125, "under /proc or /sys"),
        ("29 invalid variable name", vec!["--env", "=x"], 125, "invalid variable name"),
        ("29 no value", vec!["--env", "NOEQUALS"], 125, "expected NAME=VALUE"),
        ("30 port out of range", vec!["--allow-connect", "70000"], 125, "70000"),
        (
            "30 landlock rule on a missing path",
            vec!["--allow-read", "/nonexistent-rule"],
            125,
            "No such file or directory",
        ),
    ];
    for (name, args, code, needle) in rows {
        let before = host_snapshot(&[cwd.path(), home.path(), files.path()]);
        let mut argv: Vec<&str> = args.clone();
        argv.extend(["--", "true"]);
        let out = sbx(cwd.path(), home.path(), &argv).output();
        let err = out.stderr();
        assert_eq!(out.code(), code, "row {name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "row {name}: panic text:\n{err}"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines[0].starts_with("sandbox: "), "row {name}: {err}");
        assert!(
            lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")),
            "row {name}: {err}"
        );
        assert!(err.contains(needle), "row {name}: expected {needle:?} in:\n{err}");
        assert!(!err.bytes().any(|b| b < 0x20 && b != b'\n'), "row {name}: raw control byte in:\n{err:?}");
        assert_eq!(
            host_snapshot(&[cwd.path(), home.path(), files.path()]),
            before,
            "row {name}: the host changed"
        );
    }
}

#[test]
fn commands_that_cannot_run() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let plain = d.file("plain", "not a program");
    let da = d.path().display().to_string();
    let run = |cmd: &str| sbx(cwd.path(), home.path(), ["--ro", &da, "--", cmd]).output();
    run(plain.to_str().unwrap()).fails(126, "Permission denied");
    run(&da).fails(126, "exec");
    run("no-such-command").fails(127, "command not found");
    // 15 (CVE-2024-32462): after `--` an option is the command.
    sbx(cwd.path(), home.path(), ["--", "--bind", "/", "/", "sh"]).output().fails(127, "exec --bind");
    // 16: no command.
    sbx(cwd.path(), home.path(), Vec::<&str>::new()).output().fails(125, "no command given");
}

#[test]
fn odd_but_valid_inputs_run() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    // 8: many arguments and a long one reach the command intact.
    let many: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    let mut args = vec!["--".to_string(), "sh".into(), "-c".into(), "echo $#".into(), "sh".into()];
    args.extend(many);
    assert_eq!(sbx(cwd.path(), home.path(), &args).output().ok(), "20000\n");
    let long = "x".repeat(100_000);
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", "echo ${#1}", "sh", &long]).output().ok();
    assert_eq!(out, "100000\n");
    // 10: a path that is not UTF-8 works as bytes.
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let p = d.path().join(name);
    std::fs::write(&p, "latin-1 name\n").unwrap();
    d.own(&p);
    let mut src = d.path().as_os_str().to_owned();
    src.push(":/data");
    let out = sbx(
        cwd.path(),
        home.path(),
        [
            std::ffi::OsStr::new("--ro"),
            &src,
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            "cat /data/*".as_ref(),
        ],
    )
    .output()
    .ok();
    assert_eq!(out, "latin-1 name\n");
    // 28: a device bound without --dev-bind is mounted nodev: unusable.
    let out = sbx(cwd.path(), home.path(), ["--ro", "/dev/null:/x", "--", "sh", "-c", "cat /x 2>&1 || true"])
        .output()
        .ok();
    assert!(out.contains("Permission denied"), "{out}");
}

/// The rows of the table that only bwrap's command line can say (8, 17, 18,
/// 24, 26, plus bad sources and unknown options), through `sandbox bwrap`.
/// bwrap mode keeps bubblewrap's status and wording (exit 1, `bwrap: …`)
/// because scripts match them; everything else is as above: one line, no
/// panic, nothing created on the host.
#[test]
fn bad_bwrap_inputs_are_refused_like_bubblewrap_and_change_nothing() {
    let (cwd, home, files) = (Dir::new(), Dir::new(), Dir::new());
    let huge = files.path().join("huge-args");
    // The bad source comes after the 2 MiB argument: only a reader that
    // took all of it reaches the error (ignored or cut short, `true` runs).
    let mut data = b"--setenv\0X\0".to_vec();
    data.extend(vec![b'y'; 2 << 20]);
    data.extend(b"\0--bind\0/nonexistent-after-2mib\0/x\0");
    std::fs::write(&huge, &data).unwrap();
    files.own(&huge);
    let rows: Vec<(&str, &str, &str)> = vec![
        ("24 --args fd not open", "--args 99", "Can't read --args data: Bad file descriptor"),
        ("24 --seccomp fd not open", "--seccomp 98", "Can't read seccomp data"),
        ("24 negative fd", "--bind-fd -1 /x", "Invalid fd: -1"),
        ("26 perms out of range", "--perms 9999 --dir /x", "--perms takes an octal argument"),
        ("26 negative size", "--size -1 --tmpfs /x", "--size takes a non-zero number of bytes"),
        ("26 size in exponent form", "--size 1e99 --tmpfs /x", "--size takes a non-zero number of bytes"),
        ("17 seccomp twice over", "--seccomp 3 --add-seccomp-fd 3", "cannot be combined"),
        ("18 disable-userns alone", "--disable-userns", "--disable-userns requires --unshare-user"),
        ("1 missing source", "--bind /nonexistent-src /x", "Can't find source path /nonexistent-src"),
        ("25 uid out of range", "--unshare-user --uid 4294967295", "Invalid uid"),
        ("14 unknown option", "--frobnicate", "Unknown option --frobnicate"),
        ("8 a 2 MiB argument through --args", "--args 5", "Can't find source path /nonexistent-after-2mib"),
    ];
    for (name, args, needle) in rows {
        let before = host_snapshot(&[cwd.path(), home.path(), files.path()]);
        let script = format!(
            "exec 3</dev/null 5<\"{}\"; exec \"$0\" bwrap --ro-bind /usr /usr {args} true",
            huge.display()
        );
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &script, bin().to_str().unwrap()]).current_dir(cwd.path()).env("HOME", home.path());
        let out = out(as_caller(&mut cmd));
        let err = out.stderr();
        assert_eq!(out.code(), 1, "row {name}: {err}");
        assert!(!err.contains("panicked"), "row {name}: panic text:\n{err}");
        assert_eq!(err.lines().count(), 1, "row {name}: one line:\n{err}");
        assert!(
            err.starts_with("bwrap: ") && err.contains(needle),
            "row {name}: expected {needle:?} in:\n{err}"
        );
        assert_eq!(
            host_snapshot(&[cwd.path(), home.path(), files.path()]),
            before,
            "row {name}: the host changed"
        );
    }
}
