use super::*;
use crate::plan::{Access, FsOp};
use crate::settings::{self, Setting};

/// A fake host whose config dir is a fresh temp dir holding `files`.
fn host_with(files: &[(&str, &str)]) -> (Host, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("sandbox/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut h = Host::fake("/work/proj");
    h.env.push(("XDG_CONFIG_HOME".into(), dir.path().into()));
    h.cwd = dir.path().to_path_buf();
    h.session = crate::desktop::detect::Session::fake().into();
    (h, dir)
}

/// The Plan of a `sandbox ARGS -- …` command line on host `h`.
fn plan_of(h: &Host, args: &[&str]) -> crate::plan::Plan {
    match crate::native::parse(args.iter().map(Into::into).collect(), h) {
        Ok(crate::native::Command::Run { built, .. }) => built.plan,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn err(files: &[(&str, &str)], name: &str) -> String {
    let (h, _d) = host_with(files);
    load(name, &h).unwrap_err()
}

fn settings_of(files: &[(&str, &str)], name: &str) -> Vec<Setting> {
    let (h, _d) = host_with(files);
    load(name, &h).unwrap().settings.into_iter().map(|l| l.setting).collect()
}

#[test]
fn unknown_keys_name_the_file_line_column_key_and_section() {
    let e = err(&[("sandbox/profiles/ci.toml", "[filesystem]\nro = [\"/usr\"]\n  rwx = [\"/x\"]\n")], "ci");
    assert!(e.starts_with("profile ") && e.contains("ci.toml:3:3: unknown field `rwx`"), "{e}");
    assert!(e.contains("in [filesystem]"), "{e}");
    let e = err(&[("sandbox/profiles/p.toml", "[proces]\ncwd = \"/\"\n")], "p");
    assert!(e.contains("p.toml:1:") && e.contains("proces"), "{e}");
}

#[test]
fn wrong_types_and_bad_values_are_located() {
    let e = err(&[("sandbox/profiles/p.toml", "[process]\nuid = \"root\"\n")], "p");
    assert!(e.contains("p.toml:2:7") && e.contains("invalid type"), "{e}");
    let e = err(&[("sandbox/profiles/p.toml", "[process]\nhostname = \"a b\"\n")], "p");
    assert!(e.contains("p.toml:2:12") && e.contains("expected 1 to 64"), "{e}");
    let e = err(&[("sandbox/profiles/p.toml", "[filesystem]\ntmpfs = [\"relative\"]\n")], "p");
    assert!(e.contains("p.toml:2:10") && e.contains("absolute"), "{e}");
    let e = err(&[("sandbox/profiles/p.toml", "[network]\nmode = \"wifi\"\n")], "p");
    assert!(e.contains("p.toml:2:8") && e.contains("wifi"), "{e}");
    let e = err(&[("sandbox/profiles/p.toml", "[filesystem]\nro = [\"/a\"]\nro = [\"/b\"]\n")], "p");
    assert!(e.contains("p.toml:3:1") && e.contains("duplicate key"), "{e}");
}

#[test]
fn limits_keys_match_the_limits_options() {
    let files = [(
        "sandbox/profiles/l.toml",
        "[limits]\ntimeout = \"5m\"\nkill-after = \"2s\"\nlimit = [\"nofile=64\", \"fsize=1M\"]\nmemory = \"512M\"\n\
         pids = 100\ncpus = \"0.5\"\nio-weight = 200\n",
    )];
    let (h, _d) = host_with(&files);
    let parse = |args: &[&str]| plan_of(&h, args);
    let from_profile = parse(&["sandbox", "--profile", "l", "--", "true"]);
    let from_cli = parse(&[
        "sandbox",
        "--profile",
        "none",
        "--timeout",
        "5m",
        "--kill-after",
        "2s",
        "--limit",
        "nofile=64",
        "--limit",
        "fsize=1M",
        "--memory",
        "512M",
        "--pids",
        "100",
        "--cpus",
        "0.5",
        "--io-weight",
        "200",
        "--",
        "true",
    ]);
    assert_eq!(from_profile.limits, from_cli.limits);
    let loaded = load("l", &h).unwrap();
    let shown = render(None, &loaded.settings);
    let (h2, _d2) = host_with(&[("sandbox/profiles/r.toml", shown.as_str())]);
    let again = crate::native::parse(
        ["sandbox", "--profile", "r", "--", "true"].iter().map(Into::into).collect(),
        &h2,
    );
    let Ok(crate::native::Command::Run { built, .. }) = again else { panic!("{shown}") };
    assert_eq!(built.plan.limits, from_cli.limits, "profiles show round-trips:\n{shown}");
    let e = err(&[("sandbox/profiles/q.toml", "[limits]\nmemory = \"lots\"\n")], "q");
    assert!(e.contains("q.toml:2:10"), "{e}");
}

#[test]
fn includes_apply_depth_first_lists_append_scalars_override() {
    let files = [
        ("sandbox/profiles/base.toml", "[filesystem]\nro = [\"/base\"]\n[process]\nhostname = \"base\"\n"),
        ("sandbox/profiles/mid.toml", "include = [\"base\"]\n[filesystem]\nro = [\"/mid\"]\n"),
        ("sandbox/profiles/top.toml", "include = [\"mid\", \"./extra/more.toml\"]\n[filesystem]\nro = [\"/top\"]\n[process]\nhostname = \"top\"\n"),
        ("sandbox/profiles/extra/more.toml", "[filesystem]\ntmpfs = [\"/more\"]\n"),
    ];
    let (h, _d) = host_with(&files);
    let loaded = load("top", &h).unwrap();
    let (plan, prov, _) = settings::build(&h, &loaded.settings).unwrap();
    let dests: Vec<_> = plan.fs.iter().map(|o| o.dest().to_str().unwrap().to_string()).collect();
    assert_eq!(dests, ["/base", "/mid", "/more", "/top"]);
    assert_eq!(plan.process.hostname.as_deref(), Some("top"));
    assert!(prov.scalars["hostname"].to_string().ends_with("top.toml:5:12"), "{:?}", prov.scalars);
}

#[test]
fn include_cycles_are_named() {
    let e = err(
        &[
            ("sandbox/profiles/a.toml", "include = [\"b\"]\n"),
            ("sandbox/profiles/b.toml", "include = [\"a\"]\n"),
        ],
        "a",
    );
    assert!(e.contains("include cycle:") && e.contains("a.toml -> ") && e.contains("b.toml -> "), "{e}");
    assert_eq!(e.matches("a.toml").count(), 2, "{e}");
    let e = err(&[("sandbox/profiles/self.toml", "include = [\"./self.toml\"]\n")], "self");
    assert!(e.contains("include cycle"), "{e}");
}

#[test]
fn file_order_within_a_profile_is_kept() {
    let s = settings_of(
        &[("sandbox/profiles/p.toml", "[filesystem]\ntmpfs = [\"/a\"]\nro = [\"/x:/a/b\"]\n")],
        "p",
    );
    assert_eq!(
        s,
        [
            Setting::Fs(FsOp::Tmpfs { dest: "/a".into(), mode: 0o755, size: None }),
            Setting::Fs(FsOp::Bind {
                src: "/x".into(),
                dest: "/a/b".into(),
                access: Access::ReadOnly,
                optional: false
            }),
        ]
    );
}

#[test]
fn variables_and_relative_sources() {
    let (h, d) = host_with(&[(
        "proj/sb.toml",
        "[filesystem]\nro = [\"data\", \"${HOME}/.cargo:/cargo\"]\n[environment]\nset = { A = \"$${UID}=${UID}\" }\n",
    )]);
    let path = d.path().join("proj/sb.toml");
    let s: Vec<Setting> =
        load(path.to_str().unwrap(), &h).unwrap().settings.into_iter().map(|l| l.setting).collect();
    let data = d.path().join("proj/data");
    assert_eq!(
        s[..2],
        [
            Setting::Fs(FsOp::Bind {
                src: data.clone(),
                dest: data,
                access: Access::ReadOnly,
                optional: false
            }),
            Setting::Fs(FsOp::Bind {
                src: "/home/u/.cargo".into(),
                dest: "/cargo".into(),
                access: Access::ReadOnly,
                optional: false
            }),
        ]
    );
    assert_eq!(s[2], Setting::Env("A".into(), "${UID}=1000".into()));
    let e = err(&[("sandbox/profiles/p.toml", "[filesystem]\nro = [\"${env:NOPE}\"]\n")], "p");
    assert!(e.contains("p.toml:2:7") && e.contains("${env:NOPE} is not set"), "{e}");
}

#[test]
fn a_profile_and_a_command_line_give_the_same_plan() {
    let files = [(
        "sandbox/profiles/p.toml",
        "[filesystem]\nro = [\"/usr\"]\ntmpfs = [\"/tmp\"]\n[environment]\nset = { A = \"1\" }\n\
         [process]\nhostname = \"h\"\nuid = 0\nshare = [\"pid\"]\n[network]\nmode = \"host\"\n",
    )];
    let (h, _d) = host_with(&files);
    let from_profile = crate::native::parse(
        ["sandbox", "--profile", "p", "--", "true"].iter().map(Into::into).collect(),
        &h,
    );
    let from_cli = crate::native::parse(
        [
            "sandbox",
            "--profile",
            "none",
            "--ro",
            "/usr",
            "--tmpfs",
            "/tmp",
            "--env",
            "A=1",
            "--hostname",
            "h",
            "--uid",
            "0",
            "--share",
            "pid",
            "--net",
            "host",
            "--",
            "true",
        ]
        .iter()
        .map(Into::into)
        .collect(),
        &h,
    );
    let plan = |c| match c {
        Ok(crate::native::Command::Run { built, .. }) => built.plan,
        other => panic!("{other:?}"),
    };
    assert_eq!(plan(from_profile), plan(from_cli));
}

#[test]
fn network_keys_match_the_network_options() {
    let files = [(
        "sandbox/profiles/n.toml",
        "[network]\nmode = \"user:slirp4netns\"\npublish = [\"8080:8000\", \"127.0.0.1:5353:5300/udp\"]\nallow-host-loopback = true\n",
    )];
    let (h, _d) = host_with(&files);
    let parse = |args: &[&str]| plan_of(&h, args);
    let from_profile = parse(&["sandbox", "--profile", "n", "--", "true"]);
    let from_cli = parse(&[
        "sandbox",
        "--profile",
        "none",
        "--net",
        "user:slirp4netns",
        "--publish",
        "8080:8000",
        "--publish",
        "127.0.0.1:5353:5300/udp",
        "--allow-host-loopback",
        "--",
        "true",
    ]);
    assert_eq!(from_profile.network, from_cli.network);
    assert!(from_profile.network.user.is_some());
    let (h2, _d2) = host_with(&[("sandbox/profiles/p.toml", "[network]\npublish = [\"8080:80\"]\n")]);
    let e = crate::native::parse(
        ["sandbox", "--profile", "p", "--", "true"].iter().map(Into::into).collect(),
        &h2,
    )
    .unwrap_err()
    .0;
    assert!(e.contains("need user-mode networking"), "{e}");
    let e =
        err(&[("sandbox/profiles/q.toml", "[network]\nmode = \"user\"\npublish = [\"99999:80\"]\n")], "q");
    assert!(e.contains("q.toml:3:12"), "{e}");
}

#[test]
fn seccomp_keys_match_the_seccomp_options() {
    let (h, d) = host_with(&[]);
    let policy = d.path().join("policy.json");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/seccomp/default.json"), &policy).unwrap();
    let text = format!(
        "[seccomp]\nbase = \"none\"\ndeny = [\"ptrace:EACCES\"]\nallow = []\npolicy = [\"{}\"]\nlog = true\nallow-userns = true\n",
        policy.display()
    );
    std::fs::write(d.path().join("sandbox/profiles/s.toml"), text).unwrap();
    let parse = |args: &[&str]| plan_of(&h, args);
    let from_profile = parse(&["sandbox", "--profile", "s", "--", "true"]);
    let pol = policy.to_str().unwrap();
    let from_cli = parse(&[
        "sandbox",
        "--profile",
        "none",
        "--seccomp",
        "none",
        "--seccomp-deny",
        "ptrace:EACCES",
        "--seccomp-policy",
        pol,
        "--seccomp-log",
        "--allow-userns",
        "--",
        "true",
    ]);
    assert_eq!(from_profile.seccomp, from_cli.seccomp);
    let e = err(&[("sandbox/profiles/q.toml", "[seccomp]\ndeny = [\"keyctll\"]\n")], "q");
    assert!(e.contains("q.toml:2:9") && e.contains("did you mean `keyctl`"), "{e}");
}

#[test]
fn landlock_keys_match_the_landlock_options() {
    let files = [(
        "sandbox/profiles/p.toml",
        "mode = \"namespaces\"\n[landlock]\nallow-read = [\"/usr\"]\nallow-write = [\"/tmp\"]\nallow-exec = [\"/usr/bin\"]\n\
         allow-signals = true\nlog-denials = true\n[network]\nallow-connect = [443]\nallow-bind = [8080]\n",
    )];
    let (h, _d) = host_with(&files);
    let parse = |args: &[&str]| plan_of(&h, args);
    let from_profile = parse(&["sandbox", "--profile", "p", "--", "true"]);
    let from_cli = parse(&[
        "sandbox",
        "--profile",
        "none",
        "--mode",
        "namespaces",
        "--allow-read",
        "/usr",
        "--allow-write",
        "/tmp",
        "--allow-exec",
        "/usr/bin",
        "--allow-signals",
        "--log-denials",
        "--allow-connect",
        "443",
        "--allow-bind",
        "8080",
        "--",
        "true",
    ]);
    assert_eq!(from_profile.landlock, from_cli.landlock);
    assert_eq!(from_profile.mode, from_cli.mode);
    let e = err(&[("sandbox/profiles/q.toml", "[network]\nallow-connect = [0]\n")], "q");
    assert!(e.contains("q.toml:2:18") && e.contains("1 to 65535"), "{e}");
}

#[test]
fn command_line_adds_to_the_profile() {
    let (h, _d) = host_with(&[(
        "sandbox/profiles/p.toml",
        "[filesystem]\nro = [\"/usr\"]\n[process]\nhostname = \"p\"\n",
    )]);
    let args = ["sandbox", "--profile", "p", "--ro", "/opt", "--hostname", "c", "--", "true"];
    let Ok(crate::native::Command::Run { built, .. }) =
        crate::native::parse(args.iter().map(Into::into).collect(), &h)
    else {
        panic!()
    };
    let dests: Vec<_> = built.plan.fs.iter().map(|o| o.dest().to_path_buf()).collect();
    assert_eq!(dests, [std::path::PathBuf::from("/usr"), "/opt".into()]);
    assert_eq!(built.plan.process.hostname.as_deref(), Some("c"));
    assert_eq!(built.prov.fs[1], crate::settings::Origin::CommandLine);
}

#[test]
fn search_path_user_first_then_builtin_and_paths_only_by_name() {
    let (h, d) = host_with(&[("sandbox/profiles/default.toml", "description = \"mine\"\n")]);
    assert_eq!(load("default", &h).unwrap().description.as_deref(), Some("mine"));
    let src = find("default", &h, &h.cwd).unwrap();
    assert!(src.label.starts_with(d.path().to_str().unwrap()));
    assert!(find("strict", &h, &h.cwd).unwrap().label == "built-in strict");
    assert!(load("no-such", &h).unwrap_err().contains("not found"));
    assert!(load("../x", &h).unwrap_err().contains("No such file"));
    assert!(load("bad name", &h).unwrap_err().contains("not a profile name"));
}

#[test]
fn fifos_directories_and_huge_files_are_refused_without_hanging() {
    let (h, d) = host_with(&[]);
    let fifo = d.path().join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert!(load(fifo.to_str().unwrap(), &h).unwrap_err().contains("not a regular file"));
    let dir = d.path().join("dir.toml");
    std::fs::create_dir(&dir).unwrap();
    assert!(load(dir.to_str().unwrap(), &h).unwrap_err().contains("not a regular file"));
    let big = d.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    assert!(load(big.to_str().unwrap(), &h).unwrap_err().contains("larger than"));
}

/// `sandbox profiles show NAME` is a profile that loads back to the same
/// settings: the same Plan (the environment compared as a set: a key's
/// entries stand together, so `keep` and `set` of different includes no
/// longer interleave).
#[test]
fn every_builtin_shows_as_a_profile_that_loads_back_to_the_same_plan() {
    let (h, d) = host_with(&[]);
    let plan = |s: &[crate::settings::Located]| {
        let (mut p, _, _) = settings::build(&h, s).unwrap();
        p.env.sort_by(|a, b| a.name.cmp(&b.name));
        p
    };
    for (name, _) in BUILTIN {
        let loaded = load(name, &h).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shown = render(loaded.description.as_deref(), &loaded.settings);
        let file = d.path().join(format!("shown-{name}.toml"));
        std::fs::write(&file, &shown).unwrap();
        let again = load(file.to_str().unwrap(), &h).unwrap_or_else(|e| panic!("{name}: {e}\n{shown}"));
        assert_eq!(again.description, loaded.description, "{name}");
        assert_eq!(plan(&again.settings), plan(&loaded.settings), "{name}:\n{shown}");
    }
}

#[test]
fn strict_replaces_the_cwd_bind_of_default() {
    let (mut h, _d) = host_with(&[]);
    h.cwd = "/work/proj".into();
    let loaded = load("strict", &h).unwrap();
    let (plan, _, _) = settings::build(&h, &loaded.settings).unwrap();
    assert!(
        !plan.fs.iter().any(|o| matches!(o, FsOp::Bind { access: Access::ReadWrite, .. })),
        "{:?}",
        plan.fs
    );
    assert_eq!(plan.process.cwd.as_deref(), Some(std::path::Path::new("/tmp")));
}

/// Every key the parser accepts, `section.key`, in serde's own words: the
/// "expected one of" list of an unknown key, per section.
fn schema_keys() -> Vec<String> {
    let expected = |text: &str| -> Vec<String> {
        let msg = toml::from_str::<schema::Doc>(text).unwrap_err().message().to_string();
        msg.split('`').skip(3).step_by(2).map(str::to_string).collect()
    };
    let sections = [
        "filesystem",
        "environment",
        "network",
        "process",
        "landlock",
        "seccomp",
        "limits",
        "desktop",
        "dbus",
    ];
    let top = expected("zzz = 1\n");
    for section in sections {
        assert!(top.iter().any(|k| k == section), "{section} is not a key of {top:?}");
    }
    let mut keys: Vec<String> = top.into_iter().filter(|k| !sections.contains(&k.as_str())).collect();
    for section in sections {
        let own = expected(&format!("[{section}]\nzzz = 1\n"));
        assert!(!own.is_empty(), "[{section}]");
        keys.extend(own.into_iter().map(|k| format!("{section}.{k}")));
    }
    keys
}

#[test]
fn the_man_page_documents_every_key() {
    let man = include_str!("../../man/sandbox-profile.5");
    let keys = schema_keys();
    assert!(keys.len() > 50 && keys.contains(&"filesystem.ro".to_string()), "{keys:?}");
    for key in keys {
        let name = key.rsplit('.').next().unwrap();
        assert!(man.contains(&format!("\\fB{name}\\fR")), "sandbox-profile.5 does not document {key}");
    }
    for (name, _) in BUILTIN {
        assert!(man.contains(&format!(".TP\n\\fB{name}\\fR")), "built-in {name} undocumented");
    }
}

/// Lines and columns from the table of line starts are those of counting
/// the newlines before each offset (what line_col did for every setting).
#[test]
fn line_and_column_of_every_offset() {
    let text = "a = 1\n\n[fs]\nro = [\"/usr\"]\n  x\n";
    let by_counting = |at: usize| {
        let before = &text[..at.min(text.len())];
        let line = before.matches('\n').count() + 1;
        (line, before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1)
    };
    let table = super::LineStarts::of(text);
    for at in 0..=text.len() + 3 {
        assert_eq!(table.line_col(at), by_counting(at), "offset {at}");
    }
    assert_eq!(super::line_col("", 0), (1, 1));
}

/// build.rs's `default` is what the TOML parser makes of the file: every
/// value and its span (`Spanned`'s `==` ignores spans, its `Debug` shows
/// them), and so the same settings with the same origins (`explain`'s
/// file:line:col); loading `default` takes the generated path.
#[test]
fn the_generated_default_profile_is_the_file() {
    let src = Source { label: "built-in default".into(), text: builtin::DEFAULT.into(), dir: None };
    let generated = builtin::default_doc().unwrap();
    let parsed = parse_toml(&src).unwrap();
    assert_eq!(format!("{generated:#?}"), format!("{parsed:#?}"));
    let (h, _d) = host_with(&[]);
    let own = |doc: &schema::Doc| {
        let mut out = Vec::new();
        own_settings(&src, doc, &h, &mut out).unwrap();
        out
    };
    let want = own(&parsed);
    assert_eq!(own(&generated), want);
    let loaded = load("default", &h).unwrap();
    assert_eq!(loaded.settings, want);
    assert_eq!(loaded.description, parsed.description);
    assert!(want.len() > 20, "{}", want.len());
    let origin = Origin::Profile { file: "built-in default".into(), line: 5, col: 7 };
    assert!(want.iter().any(|l| l.origin == origin), "{want:#?}");
}
