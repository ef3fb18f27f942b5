use super::*;
use crate::hostfs::fake::FakeFs;
use crate::plan::Access;

/// The `${…}` of profiles, enough for the table: HOME, XDG_*, env:NAME and
/// defaults.
fn expand(host: &Host) -> impl Fn(&str) -> Result<String, String> + '_ {
    move |s: &str| expand_str(s, host)
}

fn expand_str(s: &str, host: &Host) -> Result<String, String> {
    let Some(i) = s.find("${") else { return Ok(s.to_string()) };
    let (head, rest) = (&s[..i], &s[i + 2..]);
    let mut depth = 0;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => return true,
                '}' => depth -= 1,
                _ => {}
            }
            false
        })
        .map(|(j, _)| j)
        .ok_or("unterminated")?;
    let inner = &rest[..end];
    let (name, default) = match inner.find(":-") {
        Some(j) => (&inner[..j], Some(&inner[j + 2..])),
        None => (inner, None),
    };
    let home = host.home.to_string_lossy().into_owned();
    let env = |n: &str| host.var(n).map(|v| v.to_string_lossy().into_owned());
    let value = match name {
        "HOME" => Some(home.clone()),
        "XDG_CONFIG_HOME" => env(name).or(Some(format!("{home}/.config"))),
        "XDG_DATA_HOME" => env(name).or(Some(format!("{home}/.local/share"))),
        "XDG_CACHE_HOME" => env(name).or(Some(format!("{home}/.cache"))),
        _ => env(name.strip_prefix("env:").ok_or("unknown")?),
    };
    let value = match (value, default) {
        (Some(v), _) => v,
        (None, Some(d)) => expand_str(d, host)?,
        (None, None) => return Err(format!("{name} unset")),
    };
    Ok(format!("{head}{value}{}", expand_str(&rest[end + 1..], host)?))
}

fn host(path: &str) -> Host {
    let mut h = Host::fake("/work/proj");
    h.env.retain(|(k, _)| k != "PATH");
    h.env.push(("PATH".into(), path.into()));
    h
}

/// The default profile's operations for `Host::fake`.
fn default_ops() -> Vec<FsOp> {
    let bind = |p: &str, access| FsOp::Bind { src: p.into(), dest: p.into(), access, optional: false };
    vec![
        bind("/usr", Access::ReadOnly),
        bind("/etc", Access::ReadOnly),
        FsOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() },
        FsOp::Tmpfs { dest: "/tmp".into(), mode: 0o1777, size: None },
        FsOp::Tmpfs { dest: "/home/u".into(), mode: 0o755, size: None },
        FsOp::Dev { dest: "/dev".into() },
        FsOp::Proc { dest: "/proc".into() },
        bind("/work/proj", Access::ReadWrite),
    ]
}

fn run(fs: &FakeFs, host: &Host, cmd: &str) -> Decision {
    let table = Table::parse(table::BUILTIN).unwrap();
    let ops = default_ops();
    let expand = expand(host);
    let inside_path = host.var("PATH");
    decide(&Input {
        table: &table,
        host,
        ops: &ops,
        command: OsStr::new(cmd),
        inside_path,
        expand: &expand,
        fs,
    })
}

fn shares(d: &Decision) -> Vec<(String, String)> {
    d.shares.iter().map(|s| (s.path.display().to_string(), s.why.clone())).collect()
}

fn pair(p: &str, why: &str) -> (String, String) {
    (p.to_string(), why.to_string())
}

/// A rustup install: proxies in ~/.cargo/bin, toolchains in ~/.rustup.
fn rustup(fs: &mut FakeFs) {
    fs.exe("/home/u/.cargo/bin/cargo").exe("/home/u/.cargo/bin/rustc");
    fs.dir("/home/u/.rustup/toolchains/stable/bin").file("/home/u/.rustup/settings.toml", "");
    fs.file("/home/u/.cargo/config.toml", "[build]\n").file("/home/u/.cargo/credentials.toml", "token");
    fs.dir("/home/u/.cargo/registry/cache");
}

#[test]
fn cargo_from_rustup_shares_its_bin_and_rustup_home_and_never_credentials() {
    let mut fs = FakeFs::new();
    rustup(&mut fs);
    fs.exe("/usr/bin/make");
    let h = host("/home/u/.cargo/bin:/usr/bin:/bin");
    let d = run(&fs, &h, "cargo");
    assert_eq!(
        shares(&d),
        vec![
            pair("/home/u/.cargo/bin", "toolchain of cargo (rustup)"),
            pair("/home/u/.rustup", "toolchain of cargo (rustup)"),
            pair("/home/u/.cargo/config.toml", "toolchain of cargo (rustup)"),
        ]
    );
    assert!(d.hides.is_empty(), "the credentials are not in a shared directory: {:?}", d.hides);
    assert_eq!(d.path, None, "PATH already has ~/.cargo/bin");
    // The same toolchain for a command that only finds it on PATH.
    let d = run(&fs, &h, "make");
    assert_eq!(shares(&d)[0], pair("/home/u/.cargo/bin", "rustup toolchain, on PATH"));
}

#[test]
fn a_secret_inside_a_shared_directory_is_hidden_and_a_secret_is_never_shared() {
    let mut fs = FakeFs::new();
    rustup(&mut fs);
    fs.exe("/home/u/.cargo/tool").exe("/home/u/.ssh/bin/x");
    // A PATH entry that is CARGO_HOME itself, and one inside ~/.ssh.
    let h = host("/home/u/.cargo:/home/u/.ssh/bin:/usr/bin");
    let d = run(&fs, &h, "tool");
    assert!(shares(&d).contains(&pair("/home/u/.cargo", "holds tool")), "{:?}", shares(&d));
    let hides: Vec<String> = d.hides.iter().map(|h| h.path.display().to_string()).collect();
    assert_eq!(hides, vec!["/home/u/.cargo/credentials.toml"]);
    assert!(!shares(&d).iter().any(|(p, _)| p.contains(".ssh")), "{:?}", shares(&d));
    let skipped: Vec<&Share> = d.skipped.iter().filter(|s| s.path.starts_with("/home/u/.ssh")).collect();
    assert_eq!(skipped.len(), 1, "{:?}", d.skipped);
    assert!(skipped[0].why.ends_with("not shared, /home/u/.ssh is a secret"), "{}", skipped[0].why);
}

#[test]
fn tokens_in_the_environment_stay_out_and_toolchain_variables_pass() {
    let mut fs = FakeFs::new();
    rustup(&mut fs);
    let mut h = host("/home/u/.cargo/bin:/usr/bin");
    h.env.push(("CARGO_HOME".into(), "/home/u/.cargo".into()));
    h.env.push(("CARGO_REGISTRY_TOKEN".into(), "secret".into()));
    let d = run(&fs, &h, "cargo");
    assert_eq!(d.env, vec![OsString::from("CARGO_HOME")]);
}

#[test]
fn pyenv_shims_share_the_whole_pyenv_root() {
    let mut fs = FakeFs::new();
    fs.file(
        "/home/u/.pyenv/shims/python",
        "#!/usr/bin/env bash\nexec /home/u/.pyenv/libexec/pyenv exec python\n",
    );
    fs.exe("/home/u/.pyenv/libexec/pyenv").exe("/home/u/.pyenv/versions/3.12.1/bin/python3.12");
    fs.exe("/usr/bin/env");
    let d = run(&fs, &host("/home/u/.pyenv/shims:/usr/bin"), "python");
    assert_eq!(shares(&d), vec![pair("/home/u/.pyenv", "toolchain of python (pyenv)")]);
}

#[test]
fn nvm_shares_the_version_prefix_and_npm_links_inside_it() {
    let mut fs = FakeFs::new();
    let v = "/home/u/.nvm/versions/node/v20.11.0";
    fs.exe(&format!("{v}/bin/node")).link(&format!("{v}/bin/npm"), "../lib/node_modules/npm/bin/npm-cli.js");
    fs.file(&format!("{v}/lib/node_modules/npm/bin/npm-cli.js"), "#!/usr/bin/env node\n");
    fs.dir("/home/u/.nvm/versions/node/v18.0.0/bin").exe("/usr/bin/env");
    let d = run(&fs, &host(&format!("{v}/bin:/usr/bin")), "npm");
    assert_eq!(shares(&d), vec![pair(v, "toolchain of npm (nvm)")]);
}

#[test]
fn fnm_through_the_runtime_directory_is_shared_at_its_target_and_path_follows() {
    let mut fs = FakeFs::new();
    let inst = "/home/u/.local/share/fnm/node-versions/v20/installation";
    fs.exe(&format!("{inst}/bin/node"));
    fs.link("/run/user/1000/fnm_multishells/42_1", inst);
    let h = host("/run/user/1000/fnm_multishells/42_1/bin:/usr/bin");
    let d = run(&fs, &h, "node");
    assert_eq!(shares(&d), vec![pair("/home/u/.local/share/fnm", "toolchain of node (fnm)")]);
    assert_eq!(d.path, Some(OsString::from(format!("{inst}/bin:/usr/bin"))));
}

#[test]
fn go_shares_gopath_bin_and_goroot_from_the_real_go_binary() {
    let mut fs = FakeFs::new();
    fs.exe("/home/u/sdk/go1.22.1/bin/go").link("/home/u/bin/go", "../sdk/go1.22.1/bin/go");
    fs.exe("/home/u/go/bin/gopls").dir("/home/u/sdk/go1.22.1/src");
    let d = run(&fs, &host("/home/u/bin:/home/u/go/bin:/usr/bin"), "go");
    let got = shares(&d);
    assert!(got.contains(&pair("/home/u/bin", "holds go")), "{got:?}");
    assert!(got.contains(&pair("/home/u/sdk/go1.22.1", "toolchain of go (go)")), "{got:?}");
    assert!(got.contains(&pair("/home/u/go/bin", "go toolchain, on PATH")), "{got:?}");
}

#[test]
fn a_go_under_usr_needs_nothing() {
    let mut fs = FakeFs::new();
    fs.exe("/usr/lib/go-1.19/bin/go").link("/usr/bin/go", "../lib/go-1.19/bin/go");
    assert_eq!(run(&fs, &host("/usr/bin"), "go"), Decision::default());
}

#[test]
fn local_bin_scripts_bring_the_user_site_packages_and_their_interpreter() {
    let mut fs = FakeFs::new();
    fs.file("/home/u/.local/bin/tool", "#!/home/u/.venvs/t/bin/python\nimport tool\n");
    fs.link("/home/u/.venvs/t/bin/python", "/usr/bin/python3").exe("/usr/bin/python3");
    fs.dir("/home/u/.local/lib/python3.11/site-packages");
    let d = run(&fs, &host("/usr/bin"), "/home/u/.local/bin/tool");
    assert_eq!(
        shares(&d),
        vec![
            pair("/home/u/.local/bin", "toolchain of /home/u/.local/bin/tool (pip --user)"),
            pair("/home/u/.venvs/t/bin", "holds /home/u/.local/bin/tool"),
            pair("/home/u/.local/lib/python3.11", "toolchain of /home/u/.local/bin/tool (pip --user)"),
        ]
    );
    assert_eq!(d.path, Some(OsString::from("/usr/bin:/home/u/.local/bin")), "its directory joins PATH");
}

#[test]
fn opt_packages_are_shared_whole() {
    let mut fs = FakeFs::new();
    fs.exe("/opt/tool/bin/tool").dir("/opt/tool/lib").dir("/opt/other");
    let d = run(&fs, &host("/opt/tool/bin:/usr/bin"), "tool");
    assert_eq!(shares(&d), vec![pair("/opt/tool", "toolchain of tool (/opt)")]);
}

#[test]
fn unknown_path_entries_are_shared_as_they_are_but_never_home_or_shared_scratch() {
    let mut fs = FakeFs::new();
    fs.exe("/home/u/bin/x")
        .exe("/tmp/t/bin/y")
        .dir("/home/u/.local/state")
        .dir("/srv/tools")
        .dir("/srv/locked");
    fs.lock("/srv/locked");
    let path = "/home/u/bin:/home/u:/tmp/t/bin:/srv/tools:/srv/locked:relative:/nonexistent:/usr/bin";
    let d = run(&fs, &host(path), "x");
    assert_eq!(shares(&d), vec![pair("/home/u/bin", "holds x"), pair("/srv/tools", "on PATH")]);
    let skipped: Vec<String> = d.skipped.iter().map(|s| s.path.display().to_string()).collect();
    assert_eq!(skipped, vec!["/home/u", "/tmp/t/bin", "/srv/locked"]);
    assert!(d.skipped[2].why.ends_with("not shared, you may not read it"), "{:?}", d.skipped);
    assert!(d.skipped[0].why.contains("your home directory"), "{:?}", d.skipped);
}

#[test]
fn a_shown_command_and_path_need_nothing() {
    let mut fs = FakeFs::new();
    fs.exe("/usr/bin/make").exe("/work/proj/node_modules/.bin/jest");
    let h = host("/usr/local/bin:/usr/bin:/bin:/work/proj/node_modules/.bin");
    assert_eq!(run(&fs, &h, "make"), Decision::default());
    assert_eq!(run(&fs, &h, "./node_modules/.bin/jest"), Decision::default());
    assert_eq!(run(&fs, &h, "nonexistent"), Decision::default());
}

#[test]
fn a_link_from_a_shown_place_into_home_shares_its_target() {
    let mut fs = FakeFs::new();
    fs.link("/usr/local/bin/tool", "/home/u/src/tool/target/release/tool");
    fs.exe("/home/u/src/tool/target/release/tool");
    let d = run(&fs, &host("/usr/local/bin:/usr/bin"), "tool");
    assert_eq!(shares(&d), vec![pair("/home/u/src/tool/target/release", "tool links into it")]);
}

#[test]
fn the_not_found_hint_names_the_host_path_and_the_option() {
    let mut fs = FakeFs::new();
    fs.exe("/home/u/.cargo/bin/cargo").exe("/srv/a:b/tool");
    let h = host("/home/u/.cargo/bin:/usr/bin");
    let hint = not_found_hint(OsStr::new("cargo"), &h, &default_ops(), &fs, Some("--no-toolchains")).unwrap();
    assert_eq!(
        hint,
        "cargo is /home/u/.cargo/bin/cargo on the host, which the sandbox does not show; \
         share it with --ro /home/u/.cargo/bin (toolchain sharing is off: --no-toolchains)"
    );
    let hint = not_found_hint(OsStr::new("/srv/a:b/tool"), &h, &default_ops(), &fs, None).unwrap();
    assert!(hint.ends_with("share it with --ro /srv/a\\:b"), "{hint}");
    assert_eq!(not_found_hint(OsStr::new("nope"), &h, &default_ops(), &fs, None), None);
}

fn cache_run(fs: &FakeFs, host: &Host, mode: CacheMode) -> Vec<(String, How)> {
    let table = Table::parse(table::BUILTIN).unwrap();
    let expand = expand(host);
    caches(&table, host, &expand, fs, &default_ops(), mode)
        .into_iter()
        .map(|c| (c.path.display().to_string(), c.how))
        .collect()
}

#[test]
fn caches_are_shared_as_the_mode_says_and_created_only_for_tools_on_path() {
    let mut fs = FakeFs::new();
    fs.dir("/home/u/.cargo/registry").dir("/home/u/.npm").exe("/usr/bin/go").exe("/home/u/.cargo/bin/cargo");
    let h = host("/home/u/.cargo/bin:/usr/bin");
    assert_eq!(cache_run(&fs, &h, CacheMode::None), vec![]);
    assert_eq!(
        cache_run(&fs, &h, CacheMode::Ro),
        vec![("/home/u/.cargo/registry".into(), How::ReadOnly), ("/home/u/.npm".into(), How::ReadOnly)]
    );
    assert_eq!(cache_run(&fs, &h, CacheMode::Overlay)[1], ("/home/u/.npm".into(), How::Overlay));
    // rw: cargo and go are on PATH, so their missing caches are created;
    // npm's exists; pip, maven and the rest are neither there nor used.
    assert_eq!(
        cache_run(&fs, &h, CacheMode::Rw),
        vec![
            ("/home/u/.cargo/registry".into(), How::ReadWrite),
            ("/home/u/.cargo/git".into(), How::Create),
            ("/home/u/.npm".into(), How::ReadWrite),
            ("/home/u/.cache/go-build".into(), How::Create),
            ("/home/u/go/pkg/mod".into(), How::Create),
        ]
    );
}

#[test]
fn a_cache_in_a_shared_place_or_behind_a_file_is_left_alone() {
    let mut fs = FakeFs::new();
    fs.exe("/usr/bin/pip").exe("/usr/bin/npm").file("/home/u/.npm", "not a directory");
    let mut h = host("/usr/bin");
    h.env.push(("XDG_CACHE_HOME".into(), "/tmp/cache".into()));
    assert_eq!(cache_run(&fs, &h, CacheMode::Rw), vec![]);
}

#[test]
fn a_home_in_tmp_is_still_the_users_own() {
    let mut fs = FakeFs::new();
    fs.exe("/tmp/h/.local/bin/tool").exe("/tmp/other/bin/x");
    let mut h = host("/tmp/h/.local/bin:/tmp/other/bin:/usr/bin");
    h.home = "/tmp/h".into();
    h.private = crate::host::Host::fake("/").private.into_iter().filter(|d| d.why != Private::Home).collect();
    let table = Table::parse(table::BUILTIN).unwrap();
    let ops = vec![FsOp::Tmpfs { dest: "/tmp".into(), mode: 0o1777, size: None }];
    let expand = expand(&h);
    let inside_path = h.var("PATH");
    let d = decide(&Input {
        table: &table,
        host: &h,
        ops: &ops,
        command: OsStr::new("tool"),
        inside_path,
        expand: &expand,
        fs: &fs,
    });
    assert_eq!(shares(&d), vec![pair("/tmp/h/.local/bin", "toolchain of tool (pip --user)")]);
    assert_eq!(d.skipped.len(), 1, "/tmp/other/bin is not: {:?}", d.skipped);
}
