//! The bwrap front end's parser: argv in, Plan (or bubblewrap's message) out.

use std::collections::HashMap;
use std::path::PathBuf;

use super::*;
use crate::plan::limits::StatusStyle;
use crate::plan::{Access, Fds, FileHow, FsOp, Ids, NsSetup, Pid1, Root, RootTmpfs, Signals, Special, Upper};

#[derive(Default)]
struct FakeIo {
    fds: HashMap<i32, Vec<u8>>,
    no_cgroup_ns: bool,
    /// SELinux's answer for any label (none: not enabled).
    selinux: Option<Label>,
}

impl Io for FakeIo {
    fn read_fd(&mut self, fd: i32) -> Result<Vec<u8>, Errno> {
        self.fds.remove(&fd).ok_or(Errno::EBADF)
    }
    fn exists(&self, path: &str) -> bool {
        !(self.no_cgroup_ns && path == "/proc/self/ns/cgroup")
    }
    fn read_file(&self, _path: &str) -> Option<Vec<u8>> {
        Some(b"15000\n".to_vec())
    }
    fn effective_caps(&self) -> u64 {
        0
    }
    fn check_label(&self, _label: &str) -> Label {
        self.selinux.unwrap_or(Label::Unsupported)
    }
}

fn host() -> Host {
    let mut h = Host::fake("/work/proj");
    h.env =
        vec![("PATH".into(), "/usr/bin".into()), ("HOME".into(), "/home/u".into()), ("A".into(), "1".into())];
    h
}

fn run(args: &[&str], io: &mut FakeIo) -> Parsed {
    let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
    parse("bwrap", &argv, &host(), io)
}

fn plan(args: &[&str]) -> Plan {
    plan_io(args, &mut FakeIo::default())
}

fn plan_io(args: &[&str], io: &mut FakeIo) -> Plan {
    match run(args, io).result {
        Ok(p) => p.plan,
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}

/// The single stderr line of a refused command line, without "bwrap: ".
fn die(args: &[&str]) -> String {
    match run(args, &mut FakeIo::default()).result {
        Err(Exit { stderr, code: 1, .. }) => {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            stderr.trim_end().strip_prefix("bwrap: ").unwrap_or(&stderr).to_string()
        }
        other => panic!("{args:?}: {other:?}"),
    }
}

fn env(p: &Plan) -> Vec<String> {
    p.env.iter().map(|v| format!("{}={}", v.name.to_string_lossy(), v.value.to_string_lossy())).collect()
}

#[test]
fn a_plain_vector_gives_bubblewraps_defaults() {
    let p = plan(&["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--proc", "/proc", "true"]);
    assert_eq!(
        p.fs,
        vec![
            FsOp::Bind { src: "/usr".into(), dest: "/usr".into(), access: Access::ReadOnly, optional: false },
            FsOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() },
            FsOp::Proc { dest: "/proc".into() },
        ]
    );
    assert_eq!(p.command, vec![OsString::from("true")]);
    // Unprivileged: a user namespace is implied; nothing else is unshared.
    assert_eq!(
        p.namespaces,
        Namespaces { user: true, pid: false, ipc: false, uts: false, net: false, cgroup: false }
    );
    assert_eq!(env(&p), ["PATH=/usr/bin", "HOME=/home/u", "A=1"], "the environment passes as it is");
    assert!(!p.process.die_with_parent && !p.process.new_session);
    assert!(p.process.caps.is_empty());
    assert_eq!(p.process.cwd_fallback, vec![PathBuf::from("/work/proj"), PathBuf::from("/home/u")]);
    assert!(p.process.set_pwd);
    // bubblewrap's behaviours, stated as the Plan's.
    assert_eq!(
        p.root,
        Root {
            tmpfs: RootTmpfs::Writable,
            special: Special::Plain,
            parent_modes: vec![0o700; 3],
            source: Default::default(),
            create_dirs: Vec::new(),
            file_label: None,
        }
    );
    assert_eq!(p.process.fds, Fds::AllBut(vec![]));
    assert_eq!((p.process.pid1, p.process.signals), (Pid1::PlainInit, Signals::NotForwarded));
    assert!(!p.process.own_tty && !p.process.die_with_caller);
    assert_eq!(p.process.search_path, "/bin:/usr/bin");
    assert_eq!(p.ns_setup, NsSetup::default());
    assert_eq!(p.limits.status_style, StatusStyle::Early);
}

use crate::plan::Namespaces;

#[test]
fn unshare_all_and_share_net_in_order() {
    let p = plan(&["--unshare-all", "true"]);
    assert_eq!(p.namespaces, Namespaces::ALL);
    let p = plan(&["--unshare-all", "--share-net", "true"]);
    assert!(!p.namespaces.net && p.namespaces.pid);
    let p = plan(&["--share-net", "--unshare-all", "true"]);
    assert!(p.namespaces.net, "--share-net only undoes what came before it");
    let mut io = FakeIo { no_cgroup_ns: true, ..Default::default() };
    assert!(!plan_io(&["--unshare-all", "true"], &mut io).namespaces.cgroup, "cgroup is a -try");
    let mut io = FakeIo { no_cgroup_ns: true, ..Default::default() };
    assert_eq!(
        run(&["--unshare-cgroup", "true"], &mut io).result.unwrap_err().stderr,
        "bwrap: Cannot create new cgroup namespace because the kernel does not support it\n"
    );
}

#[test]
fn repeated_single_options_warn_and_the_last_wins() {
    let parsed = run(
        &[
            "--chdir",
            "/a",
            "--chdir",
            "/b",
            "--level-prefix",
            "--hostname",
            "x",
            "--hostname",
            "y",
            "--unshare-uts",
            "true",
        ],
        &mut FakeIo::default(),
    );
    assert_eq!(
        parsed.warnings,
        [
            "bwrap: Only the last --chdir option will take effect",
            "<4>bwrap: Only the last --hostname option will take effect"
        ]
    );
    let p = parsed.result.unwrap().plan;
    assert_eq!(p.process.cwd, Some(PathBuf::from("/b")));
    assert_eq!(p.process.hostname.as_deref(), Some("y"));
    assert_eq!(die(&["--argv0", "a", "--argv0", "b", "true"]), "--argv0 used multiple times");
    for opt in
        ["--sync-fd", "--block-fd", "--info-fd", "--json-status-fd", "--seccomp", "--pidns", "--uid", "--gid"]
    {
        let parsed = run(&[opt, "5", opt, "6", "--unshare-pid", "true"], &mut FakeIo::default());
        assert_eq!(parsed.warnings, [format!("bwrap: Only the last {opt} option will take effect")]);
    }
}

#[test]
fn environment_options_act_in_order_while_parsing() {
    assert_eq!(env(&plan(&["--setenv", "B", "2", "--clearenv", "true"])), Vec::<String>::new());
    assert_eq!(env(&plan(&["--clearenv", "--setenv", "B", "2", "true"])), ["B=2"]);
    assert_eq!(
        env(&plan(&["--setenv", "A", "9", "--setenv", "Z", "z", "true"])),
        ["PATH=/usr/bin", "HOME=/home/u", "A=9", "Z=z"]
    );
    assert_eq!(env(&plan(&["--unsetenv", "PATH", "true"])), ["HOME=/home/u", "A=1"]);
    assert_eq!(die(&["--setenv", "A=B", "x", "true"]), "setenv failed");
    assert_eq!(die(&["--unsetenv", "", "true"]), "unsetenv failed");
    // $HOME as changed by the options is the second cwd choice.
    let p = plan(&["--setenv", "HOME", "/h", "true"]);
    assert_eq!(p.process.cwd_fallback[1], PathBuf::from("/h"));
    assert_eq!(plan(&["--clearenv", "true"]).process.cwd_fallback.len(), 1);
}

#[test]
fn perms_and_size_modify_the_next_option_only() {
    let p = plan(&[
        "--perms", "0700", "--size", "4096", "--tmpfs", "/x", "--size", "0x10", "--perms", "01777",
        "--tmpfs", "/y", "true",
    ]);
    assert_eq!(
        p.fs,
        vec![
            FsOp::Tmpfs { dest: "/x".into(), mode: 0o700, size: Some(4096) },
            FsOp::Tmpfs { dest: "/y".into(), mode: 0o1777, size: Some(16) },
        ]
    );
    assert_eq!(plan(&["--dir", "/d", "true"]).fs, vec![FsOp::Dir { dest: "/d".into(), mode: 0o755 }]);
    assert_eq!(
        die(&["--perms", "0700", "--bind", "/a", "/b", "true"]),
        "--perms must be followed by an option that creates a file"
    );
    assert_eq!(
        die(&["--perms", "0700", "--chmod", "0700", "/b", "true"]),
        "--perms must be followed by an option that creates a file"
    );
    assert_eq!(die(&["--size", "1", "--dir", "/b", "true"]), "--size must be followed by --tmpfs");
    assert_eq!(
        die(&["--perms", "0700", "--perms", "0700", "--dir", "/b", "true"]),
        "--perms given twice for the same action"
    );
    assert_eq!(
        die(&["--size", "1", "--size", "1", "--tmpfs", "/b", "true"]),
        "--size given twice for the same action"
    );
    assert_eq!(die(&["--perms", "0800", "--dir", "/b", "true"]), "--perms takes an octal argument <= 07777");
    assert_eq!(die(&["--chmod", "x", "/b", "true"]), "--chmod takes an octal argument <= 07777");
    for bad in ["0", "123bogus", "", "-1", " -1", "18446744073709551616"] {
        assert_eq!(
            die(&["--size", bad, "--tmpfs", "/b", "true"]),
            "--size takes a non-zero number of bytes",
            "{bad:?}"
        );
    }
    assert_eq!(
        die(&["--size", "9223372036854775809", "--tmpfs", "/b", "true"]),
        "--size (for tmpfs) is limited to 9223372036854775807"
    );
    // Only an option checks that the modifier was used: before the command, nothing does.
    assert!(run(&["--perms", "0700", "true"], &mut FakeIo::default()).result.is_ok());
}

#[test]
fn parents_are_made_with_the_operations_permissions() {
    let modes = |args: &[&str]| {
        let mut io = FakeIo::default();
        io.fds.insert(3, b"data".to_vec());
        plan_io(args, &mut io).root.parent_modes
    };
    assert_eq!(modes(&["--perms", "0700", "--dir", "/a/b/c", "true"]), [0o700]);
    assert_eq!(modes(&["--perms", "0604", "--dir", "/a/b", "true"]), [0o705]);
    assert_eq!(modes(&["--perms", "0750", "--tmpfs", "/a/b", "true"]), [0o750]);
    assert_eq!(modes(&["--dir", "/a/b", "--tmpfs", "/t/u", "--file", "3", "/f/g", "true"]), [0o755; 3]);
    // Mounts and links have no permissions of their own: 0700 parents.
    assert_eq!(
        modes(&["--ro-bind", "/usr", "/a/b", "--symlink", "x", "/l/m", "--bind-data", "3", "/d/e", "true"]),
        [0o700; 3]
    );
}

#[test]
fn overlay_sources_stack_with_the_last_on_top() {
    let p = plan(&[
        "--overlay-src",
        "/l1",
        "--overlay-src",
        "/l2",
        "--tmp-overlay",
        "/o",
        "--overlay-src",
        "/a",
        "--overlay-src",
        "/b",
        "--ro-overlay",
        "/r",
        "--overlay-src",
        "rel",
        "--overlay",
        "/up",
        "/work",
        "/w",
        "true",
    ]);
    assert_eq!(
        p.fs,
        vec![
            FsOp::Overlay {
                lowers: vec!["/l2".into(), "/l1".into()],
                dest: "/o".into(),
                upper: Upper::Tmpfs
            },
            FsOp::Overlay {
                lowers: vec!["/b".into(), "/a".into()],
                dest: "/r".into(),
                upper: Upper::ReadOnly
            },
            FsOp::Overlay {
                lowers: vec!["/work/proj/rel".into()],
                dest: "/w".into(),
                upper: Upper::Dir { upper: "/up".into(), work: "/work".into() },
            },
        ]
    );
    let alone = "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay";
    assert_eq!(die(&["--overlay-src", "/a", "--dir", "/x", "true"]), alone);
    assert_eq!(die(&["--overlay-src", "/a", "true"]), alone);
    assert_eq!(die(&["--overlay-src"]), alone);
    assert_eq!(die(&["--tmp-overlay", "/x", "true"]), "--tmp-overlay requires at least one --overlay-src");
    assert_eq!(
        die(&["--overlay", "/u", "/w", "/x", "true"]),
        "--overlay requires at least one --overlay-src"
    );
    assert_eq!(
        die(&["--overlay-src", "/a", "--ro-overlay", "/x", "true"]),
        "--ro-overlay requires at least two --overlay-src"
    );
    assert_eq!(die(&["--overlay-src", "/a", "--overlay", "/u", "/w"]), "--overlay takes three arguments");
}

#[test]
fn args_fds_are_parsed_in_place() {
    let data = b"--dir\0/tmp/hello/world\0".to_vec();
    let mut io = FakeIo::default();
    for fd in [3, 4, 5] {
        io.fds.insert(fd, data.clone());
    }
    let p = plan_io(&["--args", "3", "--args", "4", "--dir", "/z", "--args", "5", "true"], &mut io);
    assert_eq!(p.fs.len(), 4);
    assert_eq!(p.fs[2], FsOp::Dir { dest: "/z".into(), mode: 0o755 });
    assert_eq!(p.process.fds, Fds::AllBut(vec![3, 4, 5]));
    // The command must come on the real argv: a file's words stop its own parsing only.
    let mut io = FakeIo::default();
    io.fds.insert(3, b"--unshare-pid\0ignored\0--unshare-net".to_vec());
    let p = plan_io(&["--args", "3", "true"], &mut io);
    assert!(p.namespaces.pid && !p.namespaces.net);
    let mut io = FakeIo::default();
    io.fds.insert(3, b"--args\x004\0".to_vec());
    assert_eq!(
        run(&["--args", "3", "true"], &mut io).result.unwrap_err().stderr,
        "bwrap: --args not supported in arguments file\n"
    );
    assert_eq!(die(&["--args", "9", "true"]), "Can't read --args data: Bad file descriptor");
    assert_eq!(die(&["--args", "x", "true"]), "Invalid fd: x");
}

#[test]
fn at_most_9000_arguments_in_all() {
    let mut io = FakeIo::default();
    io.fds.insert(3, b"--unshare-pid\0".repeat(8997));
    assert!(run(&["--args", "3", "true"], &mut io).result.is_ok());
    let mut io = FakeIo::default();
    io.fds.insert(3, b"--unshare-pid\0".repeat(8998));
    assert_eq!(
        run(&["--args", "3", "true"], &mut io).result.unwrap_err().stderr,
        "bwrap: Exceeded maximum number of arguments 9000\n"
    );
}

#[test]
fn data_options_read_their_descriptors() {
    let mut io = FakeIo::default();
    io.fds.insert(7, b"hello".to_vec());
    io.fds.insert(8, b"x".to_vec());
    let p =
        plan_io(&["--file", "7", "/etc/f", "--perms", "0640", "--ro-bind-data", "8", "/d", "true"], &mut io);
    assert_eq!(
        p.fs,
        vec![
            FsOp::File { dest: "/etc/f".into(), content: b"hello".to_vec(), mode: 0o666, how: FileHow::Copy },
            FsOp::File { dest: "/d".into(), content: b"x".to_vec(), mode: 0o640, how: FileHow::BindRo },
        ]
    );
    assert_eq!(die(&["--bind-data", "9", "/d", "true"]), "Can't write data to file /d: Bad file descriptor");
}

#[test]
fn post_parse_checks_in_bubblewraps_order() {
    assert_eq!(die(&["--userns-block-fd", "3", "true"]), "--userns-block-fd requires --unshare-user");
    assert_eq!(
        die(&["--unshare-user", "--userns-block-fd", "3", "true"]),
        "--userns-block-fd requires --info-fd"
    );
    assert_eq!(die(&["--userns", "3", "--unshare-user", "true"]), "--userns not compatible --unshare-user");
    assert_eq!(
        die(&["--userns", "3", "--unshare-all", "true"]),
        "--userns not compatible --unshare-user-try"
    );
    assert_eq!(die(&["--disable-userns", "true"]), "--disable-userns requires --unshare-user");
    assert_eq!(
        die(&["--unshare-user", "--disable-userns", "--info-fd", "3", "--userns-block-fd", "4", "true"]),
        "--disable-userns is not compatible with  --userns-block-fd"
    );
    assert_eq!(die(&["--hostname", "h", "true"]), "Specifying --hostname requires --unshare-uts");
    assert_eq!(die(&["--as-pid-1", "true"]), "Specifying --as-pid-1 requires --unshare-pid");
    assert_eq!(
        die(&["--unshare-pid", "--as-pid-1", "--lock-file", "/l", "true"]),
        "Specifying --as-pid-1 and --lock-file is not permitted"
    );
    assert_eq!(
        die(&["--seccomp", "3", "--add-seccomp-fd", "4", "true"]),
        "--add-seccomp-fd cannot be combined with --seccomp"
    );
    assert_eq!(
        die(&["--add-seccomp-fd", "4", "--seccomp", "3", "true"]),
        "--seccomp cannot be combined with --add-seccomp-fd"
    );
    // Unprivileged, --uid needs nothing more: the user namespace is implied.
    assert_eq!(plan(&["--uid", "0", "--gid", "0", "true"]).ids, crate::plan::Ids { uid: 0, gid: 0 });
}

#[test]
fn words_and_argument_counts() {
    assert_eq!(die(&["--frob", "true"]), "Unknown option --frob");
    assert_eq!(die(&["-", "true"]), "Unknown option -");
    assert_eq!(die(&["--bind", "/a"]), "--bind takes two arguments");
    assert_eq!(die(&["--ro-bind-try", "/a"]), "--ro-bind-try takes two arguments");
    assert_eq!(die(&["--ro-bind-fd", "3"]), "--bind-fd takes two arguments");
    assert_eq!(die(&["--chdir"]), "--chdir takes one argument");
    assert_eq!(die(&["--tmpfs"]), "--tmpfs takes an argument");
    assert_eq!(die(&["--uid", "-1", "true"]), "Invalid uid: -1");
    assert_eq!(die(&["--sync-fd", "", "true"]), "Invalid fd:");
    assert_eq!(die(&["--cap-add", "sys_admin", "true"]), "unknown cap: sys_admin");
    // `--` ends the options: the command may begin with `-`.
    assert_eq!(
        plan(&["--", "--bind", "/", "/"]).command,
        vec![OsString::from("--bind"), "/".into(), "/".into()]
    );
    assert_eq!(plan(&["--dir", "rel/../x", "true"]).fs, vec![FsOp::Dir { dest: "/x".into(), mode: 0o755 }]);
}

#[test]
fn help_version_and_usage() {
    let r = run(&["--help"], &mut FakeIo::default()).result.unwrap_err();
    assert_eq!(
        (r.code, r.stdout.lines().next()),
        (0, Some("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]"))
    );
    let r = run(&["--version"], &mut FakeIo::default()).result.unwrap_err();
    assert!(r.stdout.starts_with("bubblewrap 0.11.1"), "{}", r.stdout);
    let r = run(&[], &mut FakeIo::default()).result.unwrap_err();
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert!(r.stderr.starts_with("usage: bwrap"));
    let r = run(&["--unshare-pid"], &mut FakeIo::default()).result.unwrap_err();
    assert!(r.code == 1 && r.stderr.starts_with("usage: bwrap"), "no command: usage on stderr");
}

#[test]
fn capabilities_edit_one_mask_in_order() {
    let caps = |args: &[&str]| plan(args).process.caps;
    assert_eq!(
        caps(&["--cap-add", "CAP_NET_ADMIN", "--cap-add", "cap_chown", "true"]),
        ["CAP_CHOWN", "CAP_NET_ADMIN"]
    );
    let all = caps(&["--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN", "true"]);
    assert!(all.len() > 30 && !all.contains(&"CAP_SYS_ADMIN".to_string()));
    assert!(caps(&["--cap-add", "CAP_CHOWN", "--cap-drop", "all", "true"]).is_empty());
}

#[test]
fn process_options_land_in_the_plan() {
    let p = plan(&[
        "--unshare-pid",
        "--argv0",
        "right",
        "--lock-file",
        "/l",
        "--sync-fd",
        "3",
        "--block-fd",
        "4",
        "--info-fd",
        "5",
        "--json-status-fd",
        "6",
        "--seccomp",
        "7",
        "--bind-fd",
        "8",
        "/b",
        "--new-session",
        "--die-with-parent",
        "sh",
    ]);
    let pr = &p.process;
    assert_eq!(pr.argv0, Some(OsString::from("right")));
    assert_eq!(pr.lock_files, vec![PathBuf::from("/l")]);
    assert_eq!((pr.sync_fd, pr.block_fd), (Some(3), Some(4)));
    assert_eq!((p.limits.info_fd, p.limits.status_fd), (Some(5), Some(6)));
    assert_eq!(p.seccomp.bpf_fds, vec![7]);
    assert_eq!(p.seccomp.base, crate::plan::seccomp::Base::None, "no filter of sandbox's own");
    assert!(!p.landlock.enabled, "no landlock");
    assert_eq!(pr.fds, Fds::AllBut(vec![3, 4, 5, 6, 7, 8]), "every fd an option used, none other");
    assert!(pr.new_session && pr.die_with_parent && pr.die_with_caller);
    assert_eq!(
        p.fs[0],
        FsOp::Bind {
            src: "/proc/self/fd/8".into(),
            dest: "/b".into(),
            access: Access::ReadWrite,
            optional: false
        }
    );
    let text = p.to_string();
    for line in [
        "on an empty writable tmpfs root",
        "argv0:      right",
        "lock-file:  /l",
        "sync:       fd 3",
        "fds:        every one the caller left open, but 3 4 5 6 7 8",
        "pid 1:      a plain init",
        "signals:    not passed on",
        "status-fd:  6 (JSON lines: the first before the sandbox is released)",
        "info-fd:    5",
        "die-with-parent: yes (the monitor too dies with its parent)",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
}

/// bubblewrap's user namespace layout, as the Plan states it: `--dev`
/// needs root at the first level (devpts must be mounted by root to belong
/// to the user), then a nested namespace maps the requested ids onto it;
/// `--disable-userns` nests even with the same ids; a helper writing the
/// maps, or a joined namespace, nests nothing.
#[test]
fn user_namespace_layout_is_stated_in_the_plan() {
    let root = Ids { uid: 0, gid: 0 };
    let ns = |args: &[&str]| plan(args).ns_setup;
    assert_eq!(ns(&["--dev", "/dev", "true"]).nest, Some(root));
    assert_eq!(ns(&["--unshare-user", "--uid", "0", "--gid", "0", "--dev", "/dev", "true"]).nest, None);
    let me = Ids { uid: 1000, gid: 1000 };
    let disabled = ns(&["--unshare-user", "--disable-userns", "true"]);
    assert_eq!((disabled.nest, disabled.disable_userns), (Some(me), true));
    let both = ns(&["--unshare-user", "--uid", "0", "--disable-userns", "--dev", "/dev", "true"]);
    assert_eq!(both.nest, Some(Ids { uid: 0, gid: 0 }));
    let helper = ns(&["--unshare-user", "--info-fd", "3", "--userns-block-fd", "4", "--dev", "/dev", "true"]);
    assert_eq!((helper.nest, helper.map_helper_fd), (None, Some(4)));
    let joined = plan(&["--userns", "5", "--pidns", "6", "--userns2", "7", "--dev", "/dev", "true"]);
    assert!(!joined.namespaces.user);
    assert_eq!(joined.ids, me);
    let s = joined.ns_setup;
    assert_eq!((s.join_user_fd, s.join_pid_fd, s.enter_user_fd, s.nest), (Some(5), Some(6), Some(7), None));
}

/// bubblewrap's die_unless_label_valid: without SELinux any label is
/// refused; with it, the label must be one SELinux accepts.
#[test]
fn labels_need_selinux_and_a_valid_context() {
    for opt in ["--exec-label", "--file-label"] {
        assert_eq!(
            die(&[opt, "system_u:object_r:tmp_t:s0", "true"]),
            "labeling not supported on this system"
        );
        let mut io = FakeIo { selinux: Some(Label::Valid), ..Default::default() };
        let p = plan_io(&[opt, "system_u:object_r:tmp_t:s0", "true"], &mut io);
        let got = if opt == "--exec-label" { p.process.exec_label } else { p.root.file_label };
        assert_eq!(got.as_deref(), Some("system_u:object_r:tmp_t:s0"));
        let mut io = FakeIo { selinux: Some(Label::Invalid(Errno::EINVAL)), ..Default::default() };
        match run(&[opt, "bogus", "true"], &mut io).result {
            Err(Exit { stderr, code: 1, .. }) => {
                assert_eq!(stderr, "bwrap: invalid label bogus: Invalid argument\n")
            }
            other => panic!("{other:?}"),
        }
    }
}
