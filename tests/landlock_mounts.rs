//! The mounts back the explicit landlock rules (issue 14, items 7 and 11):
//! landlock has no right for metadata and does not check mmap(PROT_EXEC),
//! so with explicit rules every mount is read-only outside the write rules,
//! and with exec rules noexec outside the exec rules. Each test runs the
//! real binary rootless, checks the host side, and has a control run where
//! the same probe succeeds.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use common::*;

/// For each path: chmod, utime, setxattr, each `ok` or its errno name.
const METADATA: &str = r#"
import errno, os, sys
for path in sys.argv[1:]:
    calls = [
        lambda: os.chmod(path, 0o777),
        lambda: os.utime(path, (0, 0)),
        lambda: os.setxattr(path, "user.sandbox", b"1"),
    ]
    out = []
    for call in calls:
        try:
            call()
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    print(" ".join(out))
"#;

/// The user xattrs of `p`, read on the host.
fn xattrs(p: &Path) -> Vec<u8> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: `c` is NUL-terminated and `buf` is writable for its length.
    let n = unsafe { libc::listxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n >= 0, "listxattr {}: {}", p.display(), std::io::Error::last_os_error());
    buf.truncate(n as usize);
    buf
}

/// What the metadata calls can change, as the host sees it.
fn metadata(p: &Path) -> (u32, SystemTime, Vec<u8>) {
    let m = std::fs::metadata(p).unwrap();
    (m.permissions().mode() & 0o7777, m.modified().unwrap(), xattrs(p))
}

fn set_old_mtime(p: &Path) {
    let st = common::status(Command::new("touch").arg("-h").arg("-d").arg("2001-01-01").arg(p));
    assert!(st.success());
}

#[test]
fn read_rules_on_a_writable_bind_stop_metadata_writes_too() {
    let (cwd, home, d, r) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    let file = d.file("f", "data\n");
    let out_file = d.file("out/g", "data\n");
    let ro_file = r.file("sub/h", "data\n");
    for p in [&file, &out_file, &ro_file, &d.path().to_path_buf()] {
        set_old_mtime(p);
    }
    let (d_p, r_p) = (d.path().to_str().unwrap(), r.path().to_str().unwrap());
    let (out_dir, sub_dir) = (format!("{d_p}/out"), format!("{r_p}/sub"));
    let before = [metadata(&file), metadata(d.path()), metadata(&ro_file)];
    let mut args = vec!["--rw", d_p, "--ro", r_p, "--allow-read", "/usr", "--allow-read", "/etc"];
    args.extend(["--allow-read", d_p, "--allow-write", &out_dir, "--allow-write", &sub_dir]);
    args.extend(["--", "python3", "-c", METADATA]);
    let paths = [file.to_str().unwrap(), d_p, out_file.to_str().unwrap(), ro_file.to_str().unwrap()];
    args.extend(paths);
    let text = sbx(cwd.path(), home.path(), &args).output().ok();
    let lines: Vec<&str> = text.lines().collect();
    let erofs = "EROFS EROFS EROFS";
    assert_eq!(lines, [erofs, erofs, "ok ok ok", erofs], "file, dir, beneath the write rule, ro bind");
    let after = [metadata(&file), metadata(d.path()), metadata(&ro_file)];
    assert_eq!(before, after, "mode, mtime and xattrs unchanged on the host");
    // Control: beneath the write rule the same calls reached the host.
    let (mode, mtime, xattrs) = metadata(&out_file);
    assert_eq!(mode, 0o777);
    assert_eq!(mtime, SystemTime::UNIX_EPOCH);
    assert!(xattrs.starts_with(b"user.sandbox"), "{xattrs:?}");
}

/// The dynamic loader of /usr/bin/touch (its PT_INTERP), e.g.
/// /lib64/ld-linux-x86-64.so.2.
fn loader() -> String {
    let elf = std::fs::read("/usr/bin/touch").unwrap();
    let word = |at: usize, n: usize| elf[at..at + n].iter().rev().fold(0usize, |a, b| a << 8 | *b as usize);
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF");
    let (phoff, phentsize, phnum) = (word(0x20, 8), word(0x36, 2), word(0x38, 2));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if word(ph, 4) == 3 {
            let (off, size) = (word(ph + 8, 8), word(ph + 32, 8));
            return String::from_utf8(elf[off..off + size - 1].to_vec()).unwrap();
        }
    }
    panic!("/usr/bin/touch has no PT_INTERP");
}

/// Copies touch to the shared cwd, /tmp and /dev/shm, runs each copy
/// through the loader and touch from /usr both ways; prints each status.
fn loader_script() -> String {
    let ld = loader();
    format!(
        "for d in . /tmp /dev/shm; do cp /usr/bin/touch $d/t; done; \
         {ld} ./t ran-cwd; echo cwd $?; {ld} /tmp/t ran-tmp; echo tmp $?; \
         {ld} /dev/shm/t ran-shm; echo shm $?; \
         touch usr-direct; echo usr $?; {ld} /usr/bin/touch usr-loader; echo usr-loader $?"
    )
}

#[test]
fn allow_exec_cannot_be_bypassed_through_the_dynamic_loader() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = loader_script();
    let out = sbx(cwd.path(), home.path(), ["--allow-exec", "/usr", "--", "sh", "-c", &script]).output();
    let text = out.ok();
    assert_eq!(text.lines().collect::<Vec<_>>(), ["cwd 127", "tmp 127", "shm 127", "usr 0", "usr-loader 0"]);
    assert!(out.stderr().contains("failed to map segment"), "{}", out.stderr());
    for name in ["ran-cwd", "ran-tmp", "ran-shm"] {
        assert!(!cwd.path().join(name).exists(), "{name}: the copy ran");
    }
    assert!(cwd.path().join("usr-direct").exists() && cwd.path().join("usr-loader").exists());
    // Control: without exec rules the loader runs the copies (the
    // sandbox's /dev is always noexec).
    let out = sbx(cwd.path(), home.path(), ["--", "sh", "-c", &script]).output().ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["cwd 0", "tmp 0", "shm 127", "usr 0", "usr-loader 0"]);
    assert!(cwd.path().join("ran-cwd").exists(), "the control ran the copy");
}

/// Copies /usr/bin/touch into a memfd and runs it from there: memfds lie on
/// no mount of the sandbox and landlock does not check them.
const MEMFD_EXEC: &str = r#"
import os, sys
try:
    fd = os.memfd_create("x", int(sys.argv[1]))
except OSError as e:
    print("memfd_create", e.errno); sys.exit(0)
os.write(fd, open("/usr/bin/touch", "rb").read())
try:
    os.execv("/proc/self/fd/%d" % fd, ["touch", "ran-memfd"])
except OSError as e:
    print("exec", e.errno)
"#;

#[test]
fn allow_exec_cannot_be_bypassed_through_a_memfd() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let run = |args: &[&str], flags: &str| {
        let mut argv: Vec<&str> = args.to_vec();
        argv.extend(["--", "python3", "-c", MEMFD_EXEC, flags]);
        sbx(cwd.path(), home.path(), argv).output().ok()
    };
    // Plain memfds are refused; a sealed one (MFD_NOEXEC_SEAL, 8) is made
    // and cannot be run (EACCES).
    assert_eq!(run(&["--allow-exec", "/usr"], "0").trim(), "memfd_create 1");
    assert_eq!(run(&["--allow-exec", "/usr"], "1").trim(), "memfd_create 1", "MFD_CLOEXEC alone");
    assert_eq!(run(&["--allow-exec", "/usr"], "8").trim(), "exec 13");
    assert!(!cwd.path().join("ran-memfd").exists(), "the memfd copy ran");
    // Control: without exec rules the memfd copy runs.
    run(&[], "0");
    assert!(cwd.path().join("ran-memfd").exists(), "the control ran the memfd copy");
}
