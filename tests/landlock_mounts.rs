//! The mounts back the explicit landlock rules (issue 14): landlock has no
//! right for metadata, so with explicit rules every mount is read-only
//! outside the write rules. Each test runs the real binary rootless, checks
//! the host side, and has a control where the same probe succeeds.

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
    let st = Command::new("touch").arg("-h").arg("-d").arg("2001-01-01").arg(p).status().unwrap();
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
