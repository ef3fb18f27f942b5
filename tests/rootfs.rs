//! Containers from a directory (issue 19): `--rootfs DIR`, read-only, with
//! `--overlay /`, `--persist /:STATEDIR` or `--rw-rootfs`, and a Debian
//! root's userspace under `--userns auto` (the `container` profile).
//! Checked inside and on the host: the root directory is byte-identical
//! after every run that did not ask to write it.

mod common;
mod netutil;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::rootfs::{deb, debian_root, state_diff, tiny_root, tree_state};
use common::*;

fn run(cwd: &Dir, home: &Dir, args: &[&str]) -> Out {
    sbx(cwd.path(), home.path(), args).output()
}

/// Asserts that `root` is in `before`'s state.
fn unchanged(root: &Path, before: &std::collections::BTreeMap<std::path::PathBuf, String>) {
    let diff = state_diff(before, &tree_state(root));
    assert!(diff.is_empty(), "the root directory changed:\n{}", diff.join("\n"));
}

#[test]
fn a_root_directory_is_read_only_and_never_changes() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "cat", "ls", "touch", "id"]);
    let before = tree_state(&root);
    // The current directory and $HOME need mount points the root lacks.
    cwd.file("here", "from the host\n");
    let script = "cat here; ls /; touch /new 2>&1; touch /usr/new 2>&1; echo $PATH";
    let text = run(&cwd, &home, &["--rootfs", root.to_str().unwrap(), "--", "sh", "-c", script]).ok();
    assert!(text.starts_with("from the host\n"), "{text}");
    assert!(text.contains("touch: cannot touch '/new': Read-only file system"), "{text}");
    assert!(text.contains("touch: cannot touch '/usr/new': Read-only file system"), "{text}");
    // The `rootfs` profile: nothing of the host's /etc, the root's PATH.
    assert!(text.ends_with("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"), "{text}");
    let etc = run(&cwd, &home, &["--rootfs", root.to_str().unwrap(), "--", "ls", "-A", "/etc"]).ok();
    assert_eq!(etc, "", "the host's /etc was mixed in");
    unchanged(&root, &before);
}

#[test]
fn the_overlay_options_make_the_root_writable_and_keep_the_directory() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "cat", "ls"]);
    let state = d.path().join("state");
    let before = tree_state(&root);
    let r = root.to_str().unwrap();
    let write = ["sh", "-c", "echo kept > /etc/note && cat /etc/note"];
    let over = [&["--rootfs", r, "--overlay", "/", "--"][..], &write].concat();
    assert_eq!(run(&cwd, &home, &over).ok(), "kept\n");
    let persist = format!("/:{}", state.display());
    let args = [&["--rootfs", r, "--persist", &persist, "--"][..], &write].concat();
    assert_eq!(run(&cwd, &home, &args).ok(), "kept\n");
    let args = ["--rootfs", r, "--persist", &persist, "--", "cat", "/etc/note"];
    assert_eq!(run(&cwd, &home, &args).ok(), "kept\n", "the second run did not see the first one's write");
    assert_eq!(std::fs::read_to_string(state.join("upper/etc/note")).unwrap(), "kept\n");
    unchanged(&root, &before);
    let out = run(&cwd, &home, &["--rootfs", r, "--", "cat", "/etc/note"]);
    assert_eq!(out.code(), 1, "the note is in the directory: {}", out.stdout());
}

#[test]
fn rw_rootfs_writes_land_in_the_directory_nosuid() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "cat"]);
    let r = root.to_str().unwrap();
    let script = "echo written > /etc/note; cat /proc/self/mountinfo";
    let text = run(&cwd, &home, &["--rootfs", r, "--rw-rootfs", "--", "sh", "-c", script]).ok();
    assert_eq!(std::fs::read_to_string(root.join("etc/note")).unwrap(), "written\n");
    let top = text.lines().rfind(|l| l.split(' ').nth(4) == Some("/")).unwrap_or_else(|| panic!("{text}"));
    let opts = top.split(' ').nth(5).unwrap();
    assert!(opts.starts_with("rw,") && opts.contains("nosuid") && opts.contains("nodev"), "{top}");
    let args = ["--rootfs", r, "--rw-rootfs", "--overlay", "/", "--", "true"];
    run(&cwd, &home, &args).fails(125, "both make the root writable");
    run(&cwd, &home, &["--rw-rootfs", "--", "true"]).fails(125, "--rw-rootfs needs --rootfs");
}

/// `--rw DIR:/` binds DIR read-write over the root: it stays writable (the
/// read-only remount is the empty root's), the writes land in DIR; `--ro
/// DIR:/` stays read-only.
#[test]
fn a_directory_bound_read_write_at_the_root_is_writable() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "cat"]);
    let r = root.to_str().unwrap();
    let script = "echo written > /note && cat /note";
    let rw = format!("{r}:/");
    let args = ["--profile", "none", "--rw", &rw, "--cwd", "/", "--", "sh", "-c", script];
    assert_eq!(run(&cwd, &home, &args).ok(), "written\n");
    let note = root.join("note");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "written\n");
    assert_eq!(std::fs::metadata(&note).unwrap().uid(), caller_uid());
    std::fs::remove_file(&note).unwrap();
    let args = ["--profile", "none", "--ro", &rw, "--cwd", "/", "--", "sh", "-c", script];
    let out = run(&cwd, &home, &args);
    assert!(out.stderr().contains("Read-only file system"), "{}", out.stderr());
    assert!(!note.exists());
}

#[test]
fn a_missing_root_is_one_line_and_exit_125() {
    let (cwd, home) = (Dir::new(), Dir::new());
    let out = run(&cwd, &home, &["--rootfs", "/nonexistent/root", "--", "true"]);
    out.fails(125, "rootfs /nonexistent/root: No such file or directory");
    let f = cwd.file("file", "");
    let out = run(&cwd, &home, &["--rootfs", f.to_str().unwrap(), "--", "true"]);
    out.fails(125, "Not a directory");
}

/// Escape: symlinks in the root are followed inside it, at setup (mount
/// points; the files the network needs cover a link that leads nowhere
/// inside) and after; none reaches the host.
#[test]
fn absolute_symlinks_in_the_root_resolve_inside_it() {
    let (cwd, home, d, outside) = (Dir::new(), Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "cat", "ls"]);
    let secret = outside.file("secret", "host secret\n");
    // The host directory's path exists in the root too (empty there).
    let mirror = outside.path().strip_prefix("/").unwrap();
    d.mkdir(&format!("root/{}", mirror.display()));
    // `var` names the host directory, `leak` and `etc/hosts` the host's
    // file: absolute links, as a hostile image would have them.
    for (link, target) in [("var", outside.path()), ("leak", secret.as_path()), ("etc/hosts", &secret)] {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        d.own(&root.join(link));
    }
    let before = tree_state(&root);
    let r = root.to_str().unwrap();
    let args = [
        "--profile",
        "none",
        "--rootfs",
        r,
        "--cwd",
        "/",
        "--proc",
        "/proc",
        "--tmpfs",
        "/var/cache",
        "--net",
        "user",
        "--",
    ];
    let script = format!("cat /leak 2>&1; cat /etc/hosts; ls {}", outside.path().display());
    let text = run(&cwd, &home, &[&args[..], &["sh", "-c", &script]].concat()).ok();
    assert!(!text.contains("host secret"), "a link reached the host: {text}");
    assert!(text.contains("/leak: No such file"), "{text}");
    // The hosts file covers the link (which leads nowhere inside).
    assert!(text.contains("127.0.0.1\tlocalhost"), "{text}");
    assert!(text.ends_with("\ncache\n"), "the mount point was not made inside: {text}");
    let host: Vec<_> = std::fs::read_dir(outside.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(host, ["secret"], "something was made on the host");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret\n");
    unchanged(&root, &before);
}

/// Escape: a setuid-root file of the root gives nothing: the root is
/// nosuid and the command has no_new_privs. The `rootfs` profile is named:
/// without it `--userns auto` would make the command root (`container`).
#[test]
fn setuid_files_in_the_root_gain_nothing() {
    if !root_or_skip("a setuid file owned by a subordinate id") {
        return;
    }
    let (uid, _) = test_ids().unwrap();
    let (su, sg) = test_subids().unwrap();
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["sh", "id", "cat"]);
    // Root's inside the sandbox (the range's first id is 0 there), setuid.
    let suid = root.join("usr/bin/suid-id");
    std::fs::copy(root.join("usr/bin/id"), &suid).unwrap();
    std::os::unix::fs::chown(&suid, Some(su.start), Some(sg.start)).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let script = "/usr/bin/suid-id -u; cat /proc/self/status /proc/self/mountinfo";
    // Without seccomp too, whose filter would set no_new_privs by itself.
    for extra in [&[][..], &["--seccomp", "none"]] {
        let args = [
            &["--profile", "rootfs", "--rootfs", root.to_str().unwrap(), "--userns", "auto"][..],
            extra,
            &["--", "sh", "-c", script],
        ];
        let text = run(&cwd, &home, &args.concat()).ok();
        assert!(text.starts_with(&format!("{uid}\n")), "the setuid file ran as its owner: {text}");
        assert!(text.contains("NoNewPrivs:\t1\n"), "{text}");
        let top = text.lines().rfind(|l| l.split(' ').nth(4) == Some("/")).unwrap();
        assert!(top.split(' ').nth(5).unwrap().split(',').any(|o| o == "nosuid"), "{top}");
    }
    assert_eq!(std::fs::metadata(&suid).unwrap().mode() & 0o7777, 0o4755);
}

/// A package installed with dpkg in a throwaway overlay, and run; the
/// root directory is byte-identical afterwards.
#[test]
fn dpkg_installs_into_an_overlay_and_the_root_never_changes() {
    let Some(root) = debian_root() else { return };
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let pkg = deb(&d, "sandbox-hello", "hello from a package");
    let before = tree_state(root);
    let bind = format!("{}:/pkg/hello.deb", pkg.display());
    let r = root.to_str().unwrap();
    let script =
        "dpkg -i /pkg/hello.deb >/dev/null && sandbox-hello && dpkg-query -W -f '${Status}\\n' sandbox-hello";
    let args =
        ["--profile", "container", "--rootfs", r, "--overlay", "/", "--ro", &bind, "--", "sh", "-c", script];
    assert_eq!(run(&cwd, &home, &args).ok(), "hello from a package\ninstall ok installed\n");
    unchanged(root, &before);
}

/// With `--persist /:STATEDIR` the package is still installed in the
/// second run; useradd and su work; the files of the new user are its
/// subordinate id on the host.
#[test]
fn persist_keeps_a_package_and_a_user_for_the_next_run() {
    let Some(root) = debian_root() else { return };
    let (su, _) = test_subids().unwrap();
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let pkg = deb(&d, "sandbox-hello", "hello again");
    let before = tree_state(root);
    let state = d.path().join("state");
    let persist = format!("/:{}", state.display());
    let bind = format!("{}:/pkg/hello.deb", pkg.display());
    let base = ["--profile", "container", "--rootfs", root.to_str().unwrap(), "--persist", &persist];
    let first = "dpkg -i /pkg/hello.deb >/dev/null && useradd -m app && su app -c 'echo mine > ~/f; id -un'";
    let out = run(&cwd, &home, &[&base[..], &["--ro", &bind, "--", "sh", "-c", first]].concat());
    assert_eq!(out.ok(), "app\n");
    let second = "sandbox-hello; su app -c 'id; cat ~/f'";
    let text = run(&cwd, &home, &[&base[..], &["--", "sh", "-c", second]].concat()).ok();
    assert_eq!(text, "hello again\nuid=1000(app) gid=1000(app) groups=1000(app)\nmine\n");
    let f = std::fs::metadata(state.join("upper/home/app/f")).unwrap();
    assert_eq!(f.uid(), su.start + 999, "the user's file is not its subordinate id on the host");
    unchanged(root, &before);
}

/// The issue's command lines as written, without `--profile container`:
/// a root directory with every id is a container (root inside, the
/// `container` profile), so apt-get and useradd work; the `rootfs`
/// profile's command, not root, could never listen on port 80, and is
/// told what to add before anything starts.
#[test]
fn the_issues_command_lines_work_as_written() {
    let Some(root) = debian_root() else { return };
    let (su, _) = test_subids().unwrap();
    let (cwd, home) = (Dir::new(), Dir::new());
    deb(&cwd, "hello", "hello from a package");
    std::os::unix::fs::symlink(root, cwd.path().join("debian")).unwrap();
    let before = tree_state(root);
    let sh = "apt-get install -y ./hello.deb && hello";
    let text = run(
        &cwd,
        &home,
        &["--rootfs", "./debian", "--userns", "auto", "--overlay", "/", "--", "sh", "-c", sh],
    )
    .ok();
    assert!(text.ends_with("\nhello from a package\n"), "{text}");
    let args = [
        "--rootfs",
        "./debian",
        "--userns",
        "auto",
        "--persist",
        "/:./debian-state",
        "--",
        "useradd",
        "-m",
        "app",
    ];
    run(&cwd, &home, &args).ok();
    let app = std::fs::metadata(cwd.path().join("debian-state/upper/home/app")).unwrap();
    assert!(app.is_dir() && app.uid() == su.start + 999, "app's home is not its subordinate id's: {app:?}");
    let passwd = std::fs::read_to_string(cwd.path().join("debian-state/upper/etc/passwd")).unwrap();
    assert!(passwd.contains("\napp:x:1000:1000::/home/app:"), "{passwd}");
    unchanged(root, &before);
    let args =
        ["--rootfs", "./debian", "--net", "user", "--publish", "8080:80", "--", "nginx", "-g", "daemon off;"];
    let out = run(&cwd, &home, &args);
    out.fails(125, "--publish 127.0.0.1:8080:80/tcp: nothing inside can listen on port 80 without CAP_NET_BIND_SERVICE: add --uid 0 --cap-add net_bind_service");
}

/// The Debian root is built at most once per run of `cargo test`, in a
/// directory of this run only: the trees of finished runs are gone.
#[test]
fn the_debian_root_belongs_to_this_run() {
    let Some(root) = debian_root() else { return };
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootfs");
    assert_eq!(root.parent().unwrap(), cache.join(common::rootfs::this_run()), "{}", root.display());
    assert_eq!(debian_root(), Some(root));
    let trees = std::fs::read_dir(root.parent().unwrap()).unwrap().flatten();
    let names: Vec<String> = trees.map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("debian-")).count(), 2, "{names:?}");
    for e in std::fs::read_dir(&cache).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("run-").and_then(|r| r.split('-').next()?.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        assert!(name == "lock" || alive, "{name} is left from a finished run");
    }
}

/// A service of the root, reached from the host through --publish.
#[test]
fn a_service_from_the_root_is_reached_from_the_host() {
    if !netutil::available() {
        return;
    }
    let Some(root) = debian_root() else { return };
    let root = root.to_path_buf();
    netutil::island(move || {
        let (cwd, home) = (Dir::new(), Dir::new());
        const SERVER: &str = "use IO::Socket::INET; $| = 1; \
            my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => 80, Listen => 5, ReuseAddr => 1) \
            or die \"listen: $!\"; print \"listening\\n\"; my $c = $s->accept; \
            open(my $h, '<', '/etc/debian_version'); print $c 'debian ', <$h>; close $c;";
        let r = root.to_str().unwrap();
        let args = ["--profile", "container", "--rootfs", r, "--net", "user", "--publish", "18081:80"];
        let mut child =
            sbx(cwd.path(), home.path(), [&args[..], &["--", "perl", "-e", SERVER]].concat()).spawn();
        assert_eq!(child.lines().next_line().as_deref(), Some("listening"), "the service did not start");
        let answer = netutil::fetch("127.0.0.1:18081").unwrap_or_default();
        assert!(answer.starts_with("debian 12"), "{answer:?}");
        child.output().ok();
    });
}

/// `/etc/resolv.conf` and `/etc/hosts` of a root with the network: made by
/// sandbox for `--net user`, the host's for `--net host`.
#[test]
fn a_root_gets_resolv_conf_and_hosts_with_the_network() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["cat"]);
    let r = root.to_str().unwrap();
    let user =
        run(&cwd, &home, &["--rootfs", r, "--net", "user", "--", "cat", "/etc/resolv.conf", "/etc/hosts"]);
    let text = user.ok();
    assert!(text.contains("nameserver 10.0.2.3"), "{text}");
    assert!(text.contains("127.0.1.1\tsandbox"), "{text}");
    let host = run(&cwd, &home, &["--rootfs", r, "--net", "host", "--", "cat", "/etc/hosts"]).ok();
    assert_eq!(host, std::fs::read_to_string("/etc/hosts").unwrap());
    assert!(std::fs::read_dir(root.join("etc")).unwrap().next().is_none(), "files were left in the root");
}

#[test]
fn explain_shows_the_roots_source() {
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["true"]);
    let r = root.to_str().unwrap();
    let text = run(&cwd, &home, &["explain", "--rootfs", r, "--overlay", "/", "--", "true"]).ok();
    let line = format!("root:       {r} (nosuid, nodev; writable through an overlay, writes vanish at exit)");
    assert!(text.contains(&line), "{text}");
    assert!(!text.contains("/usr -> /usr") && !text.contains("ro       /usr"), "{text}");
}

/// A mount point the root lacks, under a directory of an id the sandbox
/// does not map: one line, and how to fix it.
#[test]
fn a_mount_point_under_another_owner_says_how_to_fix_it() {
    if !root_or_skip("a root directory owned by root") {
        return;
    }
    let (cwd, home, d) = (Dir::new(), Dir::new(), Dir::new());
    let root = tiny_root(&d, "root", &["true"]);
    std::fs::create_dir(root.join("home")).unwrap();
    for p in common::rootfs::walk(&root) {
        std::os::unix::fs::lchown(&p, Some(0), Some(0)).unwrap();
    }
    let args = ["--rootfs", root.to_str().unwrap(), "--", "true"];
    let out = sbx(cwd.path(), home.path(), args).env("HOME", "/home/someone").output();
    out.fails(125, "mkdir /home/someone: Permission denied");
    assert!(
        out.stderr().contains("hint: the directory above /home/someone belongs to an id"),
        "{}",
        out.stderr()
    );
}
