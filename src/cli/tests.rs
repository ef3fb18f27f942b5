use std::ffi::OsString;
use std::path::Path;

use crate::host::Host;
use crate::native::{parse, Command};
use crate::plan::Namespaces;
use crate::plan::{Access, FsOp, Plan};
use std::ffi::OsStr;

fn host() -> Host {
    let mut h = Host::fake("/work/proj");
    h.gid = 100;
    h.env = vec![
        ("PATH".into(), "/usr/bin".into()),
        ("GITHUB_TOKEN".into(), "t".into()),
        ("LC_ALL".into(), "C".into()),
        ("LC_TIME".into(), "C".into()),
        // An empty config dir: only the built-in profiles are found.
        ("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()),
    ];
    h.root_links = vec![("/bin".into(), Some("usr/bin".into()))];
    h
}

fn parse_ok(args: &[&str]) -> Plan {
    let mut argv = vec![OsString::from("sandbox")];
    argv.extend(args.iter().map(OsString::from));
    match parse(argv, &host()) {
        Ok(Command::Run { built, .. }) | Ok(Command::Explain { built, .. }) => built.plan,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn parse_err(args: &[&str]) -> String {
    let mut argv = vec![OsString::from("sandbox")];
    argv.extend(args.iter().map(OsString::from));
    match parse(argv, &host()) {
        Err(e) => e.0,
        Ok(c) => panic!("{args:?} parsed: {c:?}"),
    }
}

fn user_ops(plan: &Plan) -> Vec<FsOp> {
    let base = parse_ok(&["--", "true"]).fs.len();
    plan.fs[base..].to_vec()
}

#[test]
fn file_system_options_keep_command_line_order() {
    let plan =
        parse_ok(&["--tmpfs", "/a", "--ro", "/x:/a/x", "--mkdir", "/a/d", "--rw", "/y:/a", "--", "true"]);
    let dests: Vec<_> = user_ops(&plan).iter().map(|o| o.dest().to_path_buf()).collect();
    assert_eq!(dests, [Path::new("/a"), Path::new("/a/x"), Path::new("/a/d"), Path::new("/a")]);
}

#[test]
fn src_dest_forms() {
    let plan = parse_ok(&[
        "--ro",
        "data",
        "--rw",
        "/s:/d",
        "--dev-bind",
        "/dev/dri",
        "--ro",
        "/a\\:b:/c",
        "--",
        "true",
    ]);
    assert_eq!(
        user_ops(&plan),
        [
            FsOp::Bind {
                src: "/work/proj/data".into(),
                dest: "/work/proj/data".into(),
                access: Access::ReadOnly,
                optional: false
            },
            FsOp::Bind { src: "/s".into(), dest: "/d".into(), access: Access::ReadWrite, optional: false },
            FsOp::Bind {
                src: "/dev/dri".into(),
                dest: "/dev/dri".into(),
                access: Access::Device,
                optional: false
            },
            FsOp::Bind { src: "/a:b".into(), dest: "/c".into(), access: Access::ReadOnly, optional: false },
        ]
    );
}

#[test]
fn relative_sources_are_normalised() {
    let plan = parse_ok(&["--ro", "../other/./x", "--", "true"]);
    assert_eq!(user_ops(&plan)[0].dest(), Path::new("/work/other/x"));
}

#[test]
fn symlink_hide_mkdir_tmpfs() {
    let plan = parse_ok(&[
        "--symlink",
        "usr/lib:/lib",
        "--hide",
        "/etc/x",
        "--mkdir",
        "/m",
        "--tmpfs",
        "/t",
        "--",
        "true",
    ]);
    assert_eq!(
        user_ops(&plan),
        [
            FsOp::Symlink { target: "usr/lib".into(), dest: "/lib".into() },
            FsOp::Hide { dest: "/etc/x".into(), optional: false },
            FsOp::Dir { dest: "/m".into(), mode: 0o755 },
            FsOp::Tmpfs { dest: "/t".into(), mode: 0o755, size: None },
        ]
    );
}

#[test]
fn bad_paths_are_refused() {
    assert!(parse_err(&["--ro", "/a:b", "--", "true"]).contains("must be an absolute path"));
    assert!(parse_err(&["--tmpfs", "/a/../b", "--", "true"]).contains("'..' is not allowed"));
    assert!(parse_err(&["--ro", "/a:/b:/c", "--", "true"]).contains("expected SRC or SRC:DEST"));
    assert!(parse_err(&["--ro", "", "--", "true"]).contains("source path is empty"));
    assert!(parse_err(&["--symlink", "nocolon", "--", "true"]).contains("TARGET:PATH"));
    assert!(parse_err(&["--cwd", "rel", "--", "true"]).contains("absolute"));
}

#[test]
fn namespaces_and_network() {
    assert_eq!(parse_ok(&["--", "true"]).namespaces, Namespaces::ALL);
    let plan = parse_ok(&["--net", "host", "--share", "ipc", "--share", "pid", "--", "true"]);
    assert!(!plan.namespaces.net && !plan.namespaces.ipc && !plan.namespaces.pid);
    assert!(plan.namespaces.uts && plan.namespaces.cgroup && plan.namespaces.user);
    assert!(parse_err(&["--net", "none", "--share", "net", "--", "true"]).contains("cannot be combined"));
    assert!(parse_err(&["--net", "wifi", "--", "true"]).contains("wifi"));
    let plan = parse_ok(&["--share", "uts", "--", "true"]);
    assert_eq!(plan.process.hostname, None, "a shared UTS namespace keeps the host's name");
}

#[test]
fn environment_allowlist_keep_set_clear() {
    let names = |p: &Plan| p.env.iter().map(|v| v.name.to_string_lossy().into_owned()).collect::<Vec<_>>();
    let plan = parse_ok(&["--", "true"]);
    assert_eq!(names(&plan), ["LC_ALL", "LC_TIME", "PATH", "HOME", "PWD"]);
    let plan = parse_ok(&["--keep-env", "GITHUB_TOKEN", "--env", "A=1=2", "--env", "PATH=/x", "--", "true"]);
    assert_eq!(names(&plan), ["LC_ALL", "LC_TIME", "PATH", "HOME", "GITHUB_TOKEN", "A", "PWD"]);
    assert_eq!(plan.env[2].value, "/x");
    assert_eq!(plan.env[5].value, "1=2");
    let plan = parse_ok(&["--clear-env", "--keep-env", "LC_*", "--", "true"]);
    assert_eq!(names(&plan), ["LC_ALL", "LC_TIME", "PWD"]);
    assert!(parse_err(&["--env", "NOEQUALS", "--", "true"]).contains("NAME=VALUE"));
    assert!(parse_err(&["--env", "=v", "--", "true"]).contains("invalid variable name"));
}

#[test]
fn process_options() {
    let plan = parse_ok(&[
        "--uid",
        "0",
        "--gid",
        "0",
        "--hostname",
        "box",
        "--cwd",
        "/tmp/./x",
        "--no-die-with-parent",
        "--no-new-session",
        "--cap-add",
        "net_admin",
        "--keep-fd",
        "5",
        "--",
        "sh",
    ]);
    assert_eq!((plan.ids.uid, plan.ids.gid), (0, 0));
    assert_eq!(plan.process.hostname.as_deref(), Some("box"));
    assert_eq!(plan.process.cwd.as_deref(), Some(Path::new("/tmp/x")));
    assert!(!plan.process.die_with_parent && !plan.process.new_session);
    assert_eq!(plan.process.caps, ["CAP_NET_ADMIN"]);
    assert_eq!(plan.process.keep_fds, [5]);
}

#[test]
fn bad_values_are_refused_with_the_option_named() {
    assert!(parse_err(&["--uid", "-1", "--", "true"]).contains("--uid"));
    assert!(parse_err(&["--uid", "4294967295", "--", "true"]).contains("--uid"));
    assert!(parse_err(&["--gid", "1e3", "--", "true"]).contains("--gid"));
    assert!(parse_err(&["--hostname", "a b", "--", "true"]).contains("--hostname"));
    assert!(parse_err(&["--cap-add", "CAP_FLY", "--", "true"]).contains("unknown capability"));
    assert!(parse_err(&["--cap-add", "NET_ADMIN", "--", "true"]).contains("--uid 0"));
    assert!(parse_err(&["--keep-fd", "2", "--", "true"]).contains("--keep-fd"));
    assert!(parse_err(&["--profile", "nope", "--", "true"]).contains("profile nope: not found"));
    let e = parse_err(&["--hostnam", "x", "--", "true"]);
    assert!(e.contains("did you mean '--hostname'"), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
}

#[test]
fn the_command_is_never_an_option() {
    let plan = parse_ok(&["--", "--rw", "/", "sh"]);
    assert_eq!(plan.command, ["--rw", "/", "sh"]);
    let plan = parse_ok(&["ls", "-la", "--ro", "/"]);
    assert_eq!(plan.command, ["ls", "-la", "--ro", "/"]);
    assert!(parse_err(&[]).contains("no command given"));
    assert!(parse_err(&["--"]).contains("no command given"));
}

#[test]
fn dev_proc_try_and_cwd_flags() {
    let plan = parse_ok(&[
        "--profile",
        "none",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--ro-try",
        "/opt/x",
        "--rw-try",
        "/y",
        "--merged-usr",
        "--bind-cwd",
        "ro",
        "--",
        "true",
    ]);
    assert_eq!(
        plan.fs,
        [
            FsOp::Dev { dest: "/dev".into() },
            FsOp::Proc { dest: "/proc".into() },
            FsOp::Bind {
                src: "/opt/x".into(),
                dest: "/opt/x".into(),
                access: Access::ReadOnly,
                optional: true
            },
            FsOp::Bind { src: "/y".into(), dest: "/y".into(), access: Access::ReadWrite, optional: true },
            FsOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() },
            FsOp::Bind {
                src: "/work/proj".into(),
                dest: "/work/proj".into(),
                access: Access::ReadOnly,
                optional: false
            },
        ]
    );
    assert_eq!(plan.process.cwd.as_deref(), Some(Path::new("/work/proj")));
}

#[test]
fn clear_env_applies_where_it_is_written() {
    let names = |p: &Plan| p.env.iter().map(|v| v.name.to_string_lossy().into_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(&parse_ok(&["--env", "A=1", "--clear-env", "--env", "B=2", "--", "true"])),
        ["B", "PWD"]
    );
}

#[test]
fn profile_none_is_empty() {
    let plan = parse_ok(&["--profile", "none", "--ro", "/usr", "--", "true"]);
    assert_eq!(plan.fs.len(), 1);
    assert!(plan.env.iter().all(|v| v.name == "PWD"));
}

#[test]
fn explain_and_run_give_the_same_plan_and_json_round_trips() {
    let args = ["--ro", "/usr:/x", "--hostname", "h", "--", "echo", "hi"];
    let run = parse_ok(&args);
    let mut explain_args = vec!["explain", "--json"];
    explain_args.extend(args);
    assert_eq!(parse_ok(&explain_args), run);
    let json = serde_json::to_string(&run).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), run);
}

#[test]
fn non_utf8_paths_survive_the_json_plan() {
    use std::os::unix::ffi::OsStrExt;
    let mut argv = vec![OsString::from("sandbox"), "--ro".into()];
    argv.push(OsStr::from_bytes(b"/tmp/\xff").to_owned());
    argv.extend(["--".into(), "true".into()]);
    let Ok(Command::Run { built, .. }) = parse(argv, &host()) else { panic!() };
    let plan = built.plan;
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains(r#""bytes":[47,116,109,112,47,255]"#), "{json}");
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
    assert!(plan.to_string().contains("/tmp/\\xff"));
}

#[test]
fn help_and_version_print() {
    for flag in ["--help", "--version"] {
        let r = parse(vec!["sandbox".into(), flag.into()], &host());
        assert!(matches!(r, Ok(Command::Print(_))), "{flag}");
    }
}

/// `sandbox -- COMMAND` skips clap (cli::plain_run): the same Plan as clap
/// makes of the same command line with an option that changes nothing.
#[test]
fn a_command_alone_parses_as_clap_would() {
    for command in [&["true"][..], &["sh", "-c", "echo --ro /x"], &["--help"], &["-v", "--"], &["--", "x"]] {
        let mut plain = vec!["--"];
        plain.extend(command);
        let mut through_clap = vec!["--profile", "default", "--"];
        through_clap.extend(command);
        assert_eq!(parse_ok(&plain), parse_ok(&through_clap), "{command:?}");
        assert_eq!(parse_ok(&plain).command, command.iter().map(OsString::from).collect::<Vec<_>>());
    }
}
