use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::only::{adapt, split, HostView};
use super::*;
use crate::host::Host;

pub(super) fn host() -> Host {
    let mut h = Host::fake("/home/u/proj");
    h.root_links = vec![("/bin".into(), Some("usr/bin".into()))];
    // An empty config dir: only the built-in profiles are found.
    h.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()));
    h
}

pub(super) fn plan(profile: &str) -> Plan {
    let host = host();
    let loaded = crate::profile::load(profile, &host).unwrap();
    let (mut p, _, _) = crate::settings::build(&host, &loaded.settings).unwrap();
    p.command = vec!["true".into()];
    p
}

fn find(grants: &[Grant], path: &str) -> Option<Rights> {
    grants.iter().find(|g| g.path == Path::new(path)).map(|g| g.rights)
}

#[test]
fn the_mirror_follows_the_default_profile() {
    let g = grants(&plan("default"));
    let rx = Rights::READ | Rights::EXEC;
    assert_eq!(find(&g, "/"), Some(Rights::LIST));
    assert_eq!(find(&g, "/usr"), Some(rx));
    assert_eq!(find(&g, "/etc"), Some(rx));
    assert_eq!(find(&g, "/tmp"), Some(Rights::READ_WRITE));
    assert_eq!(find(&g, "/home/u"), Some(Rights::READ_WRITE));
    assert_eq!(find(&g, "/home/u/proj"), Some(Rights::READ_WRITE));
    assert_eq!(find(&g, "/proc"), Some(Rights::READ | Rights::WRITE_FILE));
    assert_eq!(find(&g, "/dev"), Some(Rights::READ | Rights::WRITE_FILE | Rights::IOCTL_DEV));
    assert_eq!(find(&g, "/dev/shm"), Some(Rights::READ | Rights::WRITE_FILE | Rights::CHANGE));
    assert_eq!(find(&g, "/etc/shadow"), None, "a hidden path adds nothing");
    assert_eq!(find(&g, "/bin"), None, "a symlink is checked at its target");
    assert!(g.iter().all(|g| !g.must_exist && g.except.is_empty()));
    let mut shared = plan("default");
    shared.namespaces.pid = false;
    assert_eq!(find(&grants(&shared), "/proc"), Some(Rights::READ), "host processes: read only");
}

#[test]
fn a_later_mount_replaces_earlier_grants_beneath_it() {
    let mut p = plan("none");
    let bind = |d: &str, access| FsOp::Bind { src: d.into(), dest: d.into(), access, optional: false };
    p.fs = vec![
        bind("/a/b", Access::ReadWrite),
        bind("/a", Access::ReadOnly),
        FsOp::Tmpfs { dest: "/a/t".into(), mode: 0o755, size: None },
        bind("/d", Access::Device),
    ];
    let g = grants(&p);
    assert_eq!(find(&g, "/a/b"), None);
    assert_eq!(find(&g, "/a"), Some(Rights::READ | Rights::EXEC));
    assert_eq!(find(&g, "/a/t"), Some(Rights::READ_WRITE));
    assert_eq!(find(&g, "/d"), Some(Rights::READ_WRITE | Rights::IOCTL_DEV));
}

#[test]
fn explicit_rules_replace_the_mirror_but_keep_the_sandbox_dev() {
    let mut p = plan("default");
    p.landlock.rules = vec![
        PathRule { path: "/usr".into(), access: RuleAccess::Read },
        PathRule { path: "/home/u/proj/out".into(), access: RuleAccess::Write },
    ];
    let g = grants(&p);
    let paths: Vec<&Path> = g.iter().map(|g| g.path.as_path()).collect();
    assert_eq!(
        paths,
        [Path::new("/dev"), Path::new("/dev/shm"), Path::new("/usr"), Path::new("/home/u/proj/out")]
    );
    assert_eq!(find(&g, "/usr"), Some(Rights::READ | Rights::EXEC));
    assert_eq!(find(&g, "/home/u/proj/out"), Some(Rights::READ_WRITE | Rights::IOCTL_DEV));
    assert!(g[2].must_exist && !g[0].must_exist);
}

#[test]
fn exec_rules_narrow_execution_only() {
    let mut p = plan("default");
    p.landlock.rules = vec![PathRule { path: "/usr/bin".into(), access: RuleAccess::Exec }];
    assert!(!p.landlock.explicit(), "exec rules alone keep the mirror");
    let g = grants(&p);
    assert_eq!(find(&g, "/usr"), Some(Rights::READ));
    assert_eq!(find(&g, "/home/u/proj"), Some(Rights::READ_WRITE.without(Rights::EXEC)));
    assert_eq!(find(&g, "/usr/bin"), Some(Rights::READ | Rights::EXEC));
    assert!(g.iter().all(|g| g.path == Path::new("/usr/bin") || !g.rights.contains(Rights::EXEC)));
}

struct FakeHost;

impl HostView for FakeHost {
    fn ids(&self) -> (u32, u32) {
        (1000, 1000)
    }
    fn has(&self, op: &FsOp) -> bool {
        op.dest() == Path::new("/bin")
    }
    fn landlock_abi(&self) -> Option<u32> {
        Some(7)
    }
}

/// A 6.1 kernel (Debian 12): landlock ABI 2, no TCP rules.
struct Abi2Host;

impl HostView for Abi2Host {
    fn ids(&self) -> (u32, u32) {
        FakeHost.ids()
    }
    fn has(&self, op: &FsOp) -> bool {
        FakeHost.has(op)
    }
    fn landlock_abi(&self) -> Option<u32> {
        Some(2)
    }
}

/// The VM lane's guest 1 (6.1) found the best-effort warning saying TCP was
/// denied by landlock, in the same line that listed the TCP rule as dropped.
#[test]
fn landlock_only_mode_never_claims_tcp_rules_the_kernel_lacks() {
    let p = plan("default");
    let text = adapt(&p, &Abi2Host).approximated.join("\n");
    assert!(!text.contains("TCP connect and bind denied by landlock"), "{text}");
    assert!(
        text.contains(
            "no network namespace: the host's network, TCP included (landlock denies TCP from ABI 4)"
        ),
        "{text}"
    );
    let text = adapt(&p, &FakeHost).approximated.join("\n");
    assert!(text.contains("TCP connect and bind denied by landlock"), "{text}");
}

#[test]
fn landlock_only_mode_adapts_the_default_profile() {
    let mut p = plan("default");
    p.process.hostname = None;
    let a = adapt(&p, &FakeHost);
    assert!(a.lost.is_empty(), "{:?}", a.lost);
    let g = &a.grants;
    let etc = g.iter().find(|g| g.path == Path::new("/etc")).unwrap();
    assert_eq!(etc.except[0], PathBuf::from("/etc/shadow"));
    assert!(etc.except.contains(&PathBuf::from("/etc/ssl/private")));
    assert_eq!(find(g, "/tmp"), None, "the profile's tmpfs: inaccessible");
    assert_eq!(find(g, "/home/u"), None);
    assert_eq!(find(g, "/home/u/proj"), Some(Rights::READ_WRITE));
    assert_eq!(find(g, "/proc"), Some(Rights::READ));
    assert_eq!(find(g, "/dev/tty"), Some(Rights::READ | Rights::WRITE_FILE | Rights::IOCTL_DEV));
    assert_eq!(find(g, "/dev/null"), Some(Rights::READ | Rights::WRITE_FILE));
    assert_eq!(find(g, "/dev"), None, "not the whole host /dev");
    assert_eq!(find(g, "/"), None, "not even listing the host's root");
    let text = a.approximated.join("\n");
    assert!(text.contains("tmpfs /tmp: inaccessible instead of empty"), "{text}");
    assert!(text.contains("UDP"), "{text}");
}

#[test]
fn landlock_only_mode_loses_what_needs_namespaces() {
    let mut p = plan("default");
    p.fs.push(FsOp::Bind { src: "/a".into(), dest: "/b".into(), access: Access::ReadOnly, optional: false });
    p.fs.push(FsOp::Dir { dest: "/made".into(), mode: 0o755 });
    p.ids.uid = 0;
    p.network.user = Some(Default::default());
    let a = adapt(&p, &FakeHost);
    let text = a.lost.join("\n");
    assert!(text.contains("--net user (needs a network namespace)"), "{text}");
    assert!(text.contains("--ro /a:/b (a different destination needs a mount namespace)"), "{text}");
    assert!(text.contains("--mkdir /made"), "{text}");
    assert!(text.contains("--hostname sandbox"), "{text}");
    assert!(text.contains("--uid 0"), "{text}");
    let filtered = crate::plan::network::UserNet {
        allow_hosts: vec!["pypi.org".parse().unwrap()],
        ..Default::default()
    };
    p.network.user = Some(filtered);
    let text = adapt(&p, &FakeHost).lost.join("\n");
    assert!(
        text.contains("--net user and its --allow-host/--allow-addr rules (need a network namespace"),
        "{text}"
    );
}

#[test]
fn landlock_only_explicit_rules_keep_hidden_paths_hidden() {
    let mut p = plan("default");
    p.landlock.rules = vec![PathRule { path: "/etc".into(), access: RuleAccess::Read }];
    let a = adapt(&p, &FakeHost);
    let etc = a.grants.iter().find(|g| g.path == Path::new("/etc")).unwrap();
    assert_eq!(etc.except[0], PathBuf::from("/etc/shadow"));
    assert!(etc.except.contains(&PathBuf::from("/etc/ssl/private")));
    assert!(etc.must_exist);
    assert_eq!(find(&a.grants, "/usr"), None);
}

#[test]
fn a_later_bind_uncovers_a_hidden_path() {
    let mut p = plan("none");
    let ro =
        |d: &str| FsOp::Bind { src: d.into(), dest: d.into(), access: Access::ReadOnly, optional: false };
    p.fs = vec![ro("/etc"), FsOp::Hide { dest: "/etc/ssl".into(), optional: false }, ro("/etc/ssl/certs")];
    let a = adapt(&p, &FakeHost);
    assert_eq!(a.grants[0].except, [PathBuf::from("/etc/ssl")]);
    assert_eq!(find(&a.grants, "/etc/ssl/certs"), Some(Rights::READ | Rights::EXEC));
}

#[test]
fn split_grants_every_entry_but_the_excluded_ones() {
    let list = |p: &Path| -> Option<Vec<OsString>> {
        match p.to_str()? {
            "/etc" => Some(vec!["passwd".into(), "shadow".into(), "security".into()]),
            "/etc/security" => Some(vec!["limits.conf".into(), "opasswd".into()]),
            _ => None,
        }
    };
    let r = Rights::READ;
    let except = [PathBuf::from("/etc/shadow"), PathBuf::from("/etc/security/opasswd")];
    let got = split(Path::new("/etc"), r, &except, &list);
    let want: Vec<(PathBuf, Rights)> =
        vec![("/etc/passwd".into(), r), ("/etc/security/limits.conf".into(), r)];
    assert_eq!(got, want);
    assert_eq!(split(Path::new("/usr"), r, &except, &list), [(PathBuf::from("/usr"), r)]);
    assert!(split(Path::new("/x"), r, &[PathBuf::from("/x/y")], &list).is_empty(), "unlistable: nothing");
}

#[test]
fn explain_says_what_landlock_does() {
    let mut p = plan("default");
    let text = p.to_string();
    assert!(text.contains("landlock:   mirror of the mounts"), "{text}");
    assert!(text.contains("scoped to the sandbox: abstract unix sockets, signals"), "{text}");
    p.landlock.rules.push(PathRule { path: "/usr".into(), access: RuleAccess::Read });
    p.landlock.connect_ports.push(443);
    p.landlock.log_denials = true;
    let text = p.to_string();
    assert!(text.contains("explicit rules"), "{text}");
    assert!(text.contains("  read     /usr\n"), "{text}");
    assert!(text.contains("  connect  tcp port 443\n"), "{text}");
    assert!(text.contains("audit log"), "{text}");
    p.landlock.enabled = false;
    assert!(p.to_string().contains("landlock:   off (--no-landlock)"));
    p.mode = Mode::Landlock;
    assert!(p.to_string().contains("mode:       landlock only"));
}

#[test]
fn plans_without_landlock_fields_get_the_secure_default() {
    let p = plan("default");
    let mut json: serde_json::Value = serde_json::to_value(&p).unwrap();
    json.as_object_mut().unwrap().remove("landlock");
    json.as_object_mut().unwrap().remove("mode");
    let back: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back.landlock, Landlock::default());
    assert!(back.landlock.enabled && back.landlock.scope_signals);
    assert_eq!(back.mode, Mode::Namespaces);
}

#[test]
fn the_filter_facts_follow_port_rules_the_mode_and_the_signal_scope() {
    use crate::plan::seccomp::Facts;
    assert_eq!(
        Facts::of(&plan("default")),
        Facts {
            share_pid: false,
            landlock_only: false,
            port_rules: false,
            signal_scope: true,
            exec_rules: false
        }
    );
    let mut ports = plan("default");
    ports.landlock.connect_ports.push(443);
    assert!(Facts::of(&ports).port_rules, "a port list");
    assert!(!Facts::of(&plan("agent")).port_rules, "the agent profile allows hosts by name, not ports");
    let mut only = plan("default");
    only.mode = Mode::Landlock;
    let f = Facts::of(&only);
    assert!(f.share_pid && f.landlock_only && f.port_rules, "landlock-only mode: host pids, no TCP");
    only.namespaces.net = false;
    assert!(!Facts::of(&only).port_rules, "landlock-only mode with --net host");
    let mut shared = plan("default");
    shared.namespaces.pid = false;
    assert!(Facts::of(&shared).share_pid, "--share pid");
    shared.landlock.scope_signals = false;
    assert!(!Facts::of(&shared).signal_scope, "--allow-signals");
    shared.landlock.enabled = false;
    shared.landlock.connect_ports = vec![443];
    assert!(!Facts::of(&shared).port_rules, "--no-landlock: no port rules apply");
}

#[test]
fn landlock_only_mode_says_what_stands_in_for_each_namespace() {
    let mut p = plan("default");
    p.mode = Mode::Landlock;
    let text = super::only::without_namespaces(&p, None).join("\n");
    for said in [
        "chmod, chown, utimes and xattr calls only beneath writable rules",
        "chattr flags denied",
        "MPTCP and SCTP, raw sockets, TCP fast open",
        "UDP and other datagram protocols, ICMP and pathname unix sockets open",
        "signals to them denied by landlock, their limits, priority and CPUs by the filter",
        "ptrace denied",
        "every process the command starts killed",
        "System V IPC and POSIX message queues denied",
        "no uts and cgroup namespaces",
    ] {
        assert!(text.contains(said), "{said}: {text}");
    }
    p.seccomp.base = crate::plan::seccomp::Base::None;
    p.namespaces.uts = false;
    let text = super::only::without_namespaces(&p, None).join("\n");
    assert!(text.contains("ptrace open (seccomp policy)"), "{text}");
    assert!(text.contains("POSIX message queues open (seccomp policy)"), "{text}");
    assert!(text.contains("no cgroup namespace:") && !text.contains("uts"), "{text}");
    p.landlock.scope_signals = false;
    let text = super::only::without_namespaces(&p, None).join("\n");
    assert!(text.contains("signals, limits, priority and CPUs of them open (--allow-signals)"), "{text}");
}

/// The mirror as it was first written, comparing each new mount's path with
/// every earlier grant (quadratic): the reference for [`uncovered`].
fn mirror_by_cover(plan: &Plan) -> Vec<Grant> {
    let mut out = vec![Grant::new(Path::new("/"), Rights::LIST)];
    for op in &plan.fs {
        match op {
            FsOp::Dev { dest } => {
                out.retain(|o| !o.path.starts_with(dest));
                dev_grants(dest, &mut out);
            }
            FsOp::Bind { .. }
            | FsOp::Tmpfs { .. }
            | FsOp::Proc { .. }
            | FsOp::File { .. }
            | FsOp::Mqueue { .. } => {
                let mut one = Plan { fs: vec![op.clone()], ..plan.clone() };
                one.landlock.rules.clear();
                let g = mirror(&one).pop().expect("one grant");
                cover(&mut out, g);
            }
            _ => {}
        }
    }
    out
}

/// Random mount sequences over nested paths: the linear derivation keeps
/// exactly the grants, in the same order, that the quadratic one did.
#[test]
fn the_mirror_is_linear_and_answers_as_before() {
    let paths = ["/", "/a", "/a/b", "/a/b/c", "/a/bc", "/a/b/", "/c", "/c/a", "/dev", "/dev/shm"];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut p = plan("none");
    for _ in 0..3000 {
        p.fs = (0..next(12))
            .map(|_| {
                let dest = PathBuf::from(paths[next(paths.len())]);
                match next(7) {
                    0 => FsOp::Bind { src: dest.clone(), dest, access: Access::ReadOnly, optional: false },
                    1 => FsOp::Bind { src: dest.clone(), dest, access: Access::ReadWrite, optional: false },
                    2 => FsOp::Tmpfs { dest, mode: 0o755, size: None },
                    3 => FsOp::Dev { dest },
                    4 => FsOp::Proc { dest },
                    5 => FsOp::Hide { dest, optional: false },
                    _ => FsOp::Dir { dest, mode: 0o755 },
                }
            })
            .collect();
        assert_eq!(mirror(&p), mirror_by_cover(&p), "{:?}", p.fs);
    }
    // 2000 binds: linear, where the quadratic derivation compared 2 million pairs.
    p.fs = (0..2000)
        .map(|i| {
            let d = PathBuf::from(format!("/data/d{i}"));
            FsOp::Bind { src: d.clone(), dest: d, access: Access::ReadOnly, optional: false }
        })
        .collect();
    assert_eq!(mirror(&p).len(), 2001);
}
