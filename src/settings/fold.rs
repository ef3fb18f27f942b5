//! The fold: settings, in order, into a Plan. Lists append, scalars
//! override; each group of settings has its own step below.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::{BindCwd, Located, Net, Notes, Origin, Provenance, Setting, Share, Userns};
use crate::egress::{AddrRule, HostPattern};
use crate::escape;
use crate::host::Host;
use crate::plan::network::{self, Publish, UserNet};
use crate::plan::{Access, EnvVar, Fds, FileHow, FsOp, Ids, Namespaces, Pid1, Plan, Process, Signals};

/// Folds settings into a Plan for `host`.
pub fn build(host: &Host, settings: &[Located]) -> Result<(Plan, Provenance, Notes), String> {
    let mut b = Builder {
        host,
        plan: empty(host),
        prov: Provenance::default(),
        notes: Vec::new(),
        cwd_op: None,
        publish: Vec::new(),
        host_loopback: false,
        egress: Egress::default(),
        policy_files: Vec::new(),
        asked: Default::default(),
        desktop_origin: None,
        rootfs: None,
        rw_rootfs: false,
        userns: Userns::Own,
    };
    for s in settings {
        b.apply(s);
    }
    let Builder {
        mut plan,
        mut prov,
        mut notes,
        publish,
        host_loopback,
        egress,
        policy_files,
        rootfs,
        rw_rootfs,
        userns,
        asked,
        desktop_origin,
        ..
    } = b;
    super::settle::root_source(&mut plan, &mut prov, rootfs, rw_rootfs)?;
    super::settle::id_map(&mut plan, host, userns)?;
    user_net(&mut plan, publish, host_loopback)?;
    egress.attach(&mut plan, &mut notes)?;
    desktop(&mut plan, &mut prov, host, &asked, desktop_origin)?;
    // A profile's host name gives way to a shared UTS namespace; one given on
    // the command line is a conflict that validation reports.
    if !plan.namespaces.uts && prov.scalars.get("hostname") != Some(&Origin::CommandLine) {
        plan.process.hostname = None;
        prov.scalars.remove("hostname");
    }
    if let Some(pwd) = plan.process.cwd.clone() {
        set_env(&mut plan.env, &mut prov.env, "PWD".into(), pwd.into_os_string(), Origin::CommandLine);
    }
    resolv_conf(&mut plan, &mut prov);
    // Policy files are read last, against the command's final capabilities
    // (Docker's profiles include rules by capability), in the order written.
    for (path, oci) in policy_files {
        let policy = super::seccomp::read_policy(&path, oci, &plan.process.caps, host.kernel())?;
        plan.seccomp.policies.push(policy);
    }
    Ok((plan, prov, notes))
}

/// Attaches the published ports and the host-loopback switch to the
/// user-mode network the fold ended with; an error when there is none.
fn user_net(plan: &mut Plan, publish: Vec<Publish>, host_loopback: bool) -> Result<(), String> {
    match plan.network.user.as_mut() {
        Some(user) => {
            user.publish.extend(publish);
            user.allow_host_loopback |= host_loopback;
            Ok(())
        }
        None if !publish.is_empty() || host_loopback => {
            Err("publish and allow-host-loopback need user-mode networking ([network] mode = \"user\")"
                .into())
        }
        None => Ok(()),
    }
}

/// The desktop options, resolved against the session: their mounts after
/// every other operation, their variables, what the monitor provides.
fn desktop(
    plan: &mut Plan,
    prov: &mut Provenance,
    host: &Host,
    asked: &crate::desktop::resolve::Asked,
    origin: Option<Origin>,
) -> Result<(), String> {
    let Some(origin) = origin else { return Ok(()) };
    let r = crate::desktop::resolve::resolve(asked, host.session(), host.uid)?;
    for op in r.ops {
        plan.fs.push(op);
        prov.fs.push(origin.clone());
    }
    for (k, v) in r.env {
        set_env(&mut plan.env, &mut prov.env, k.into(), v.into(), origin.clone());
    }
    plan.desktop = r.desktop;
    Ok(())
}

/// The `--allow-host` and `--allow-addr` rules of the fold, and where the
/// first came from.
#[derive(Default)]
struct Egress {
    hosts: Vec<HostPattern>,
    addrs: Vec<AddrRule>,
    first: Option<(String, Origin)>,
}

impl Egress {
    fn add(&mut self, s: &Setting, o: &Origin) {
        let shown = match s {
            Setting::AllowHost(h) if !self.hosts.contains(h) => {
                self.hosts.push(h.clone());
                format!("allow-host {h}")
            }
            Setting::AllowAddr(a) if !self.addrs.contains(a) => {
                self.addrs.push(*a);
                format!("allow-addr {a}")
            }
            _ => return,
        };
        self.first.get_or_insert((shown, o.clone()));
    }

    /// Attaches the rules to the user-mode network the fold ended with.
    /// Without one, rules a profile gave do not apply (a note says so: the
    /// command line chose `--net none` or `--net host` on purpose), and
    /// rules the command line gave are an error.
    fn attach(self, plan: &mut Plan, notes: &mut Notes) -> Result<(), String> {
        let Some((shown, origin)) = self.first else { return Ok(()) };
        match plan.network.user.as_mut() {
            Some(user) => {
                user.allow_hosts.extend(self.hosts);
                user.allow_addrs.extend(self.addrs);
                Ok(())
            }
            None if origin == Origin::CommandLine => Err(format!(
                "--{shown}: needs user-mode networking (add --net user; without it the sandbox has only loopback or the host's network)"
            )),
            None => {
                let net = if plan.namespaces.net { "no network" } else { "the host's network" };
                notes.push(format!("{origin}: {shown} and the profile's other egress rules do not apply: the sandbox has {net}"));
                Ok(())
            }
        }
    }
}

/// With user-mode networking, the sandbox's /etc/resolv.conf names the
/// backend's DNS forwarder (or, with egress filtered, the sandbox's DNS
/// filter), last so that it covers the host's, unless a file-system setting
/// already puts something there. A `--rootfs` root,
/// which has nothing of the host's /etc, also gets an /etc/hosts then;
/// with the host's network it gets the host's two files, read-only.
fn resolv_conf(plan: &mut Plan, prov: &mut Provenance) {
    let rootfs = !plan.root.source.is_tmpfs();
    let origin = prov.scalars.get("net").cloned().unwrap_or(Origin::CommandLine);
    let mut add = |plan: &mut Plan, op: FsOp| {
        if !plan.fs.iter().any(|o| o.dest() == op.dest()) {
            plan.fs.push(op);
            prov.fs.push(origin.clone());
        }
    };
    let file = |dest: &str, content: String| FsOp::File {
        dest: dest.into(),
        content: content.into_bytes(),
        mode: 0o644,
        how: FileHow::BindRo,
    };
    if let Some(filtered) = plan.network.user.as_ref().map(UserNet::filtered) {
        add(plan, file(network::RESOLV_CONF, network::resolv_conf(filtered)));
        if rootfs {
            let name = plan.process.hostname.clone().unwrap_or_else(|| "localhost".into());
            add(plan, file(network::HOSTS, network::hosts(&name)));
        }
    } else if rootfs && !plan.namespaces.net {
        for dest in [network::RESOLV_CONF, network::HOSTS] {
            add(
                plan,
                FsOp::Bind { src: dest.into(), dest: dest.into(), access: Access::ReadOnly, optional: true },
            );
        }
    }
}

fn empty(host: &Host) -> Plan {
    Plan {
        namespaces: Namespaces::ALL,
        ns_setup: Default::default(),
        ids: Ids { uid: host.uid, gid: host.gid },
        id_map: Default::default(),
        root: Default::default(),
        fs: Vec::new(),
        env: Vec::new(),
        process: Process {
            cwd: None,
            cwd_fallback: Vec::new(),
            set_pwd: false,
            hostname: None,
            die_with_parent: true,
            die_with_caller: false,
            new_session: true,
            own_tty: true,
            fds: Fds::Listed,
            keep_fds: Vec::new(),
            caps: Vec::new(),
            pid1: Pid1::Init,
            signals: Signals::Forward,
            argv0: None,
            search_path: crate::plan::process::SEARCH_PATH.into(),
            block_fd: None,
            sync_fd: None,
            lock_files: Vec::new(),
            exec_label: None,
        },
        network: Default::default(),
        desktop: Default::default(),
        best_effort: false,
        limits: Default::default(),
        mode: Default::default(),
        landlock: Default::default(),
        seccomp: Default::default(),
        command: Vec::new(),
    }
}

struct Builder<'a> {
    host: &'a Host,
    plan: Plan,
    prov: Provenance,
    notes: Notes,
    /// Index in plan.fs of the current directory's bind, which a later
    /// bind-cwd replaces (it is a scalar).
    cwd_op: Option<usize>,
    /// Published ports and the host-loopback switch, for the user-mode
    /// network the fold ends with.
    publish: Vec<Publish>,
    host_loopback: bool,
    egress: Egress,
    /// Seccomp policy files, read when the fold is done.
    policy_files: Vec<(PathBuf, bool)>,
    /// The desktop options, resolved when the fold is done, and where the
    /// last of them was written.
    asked: crate::desktop::resolve::Asked,
    desktop_origin: Option<Origin>,
    /// `--rootfs`, `--rw-rootfs`, `--userns`: settled when the fold is done.
    rootfs: Option<PathBuf>,
    rw_rootfs: bool,
    userns: Userns,
}

impl Builder<'_> {
    fn fs(&mut self, op: FsOp, origin: &Origin) {
        self.plan.fs.push(op);
        self.prov.fs.push(origin.clone());
    }

    fn scalar(&mut self, name: &'static str, origin: &Origin) {
        self.prov.scalars.insert(name, origin.clone());
    }

    /// One setting, handed to the step of its group.
    fn apply(&mut self, l: &Located) {
        let o = &l.origin;
        match &l.setting {
            Setting::Fs(op) => self.fs(op.clone(), o),
            Setting::Rootfs(dir) => {
                self.rootfs = Some(dir.clone());
                self.scalar("rootfs", o);
            }
            Setting::RwRootfs(on) => {
                self.rw_rootfs = *on;
                self.scalar("rw-rootfs", o);
            }
            Setting::Userns(u) => {
                self.userns = *u;
                self.scalar("userns", o);
            }
            Setting::State { src, dest } => {
                let access = crate::plan::Access::ReadWrite;
                self.fs(FsOp::Bind { src: src.clone(), dest: dest.clone(), access, optional: false }, o);
                if !self.plan.root.create_dirs.contains(src) {
                    self.plan.root.create_dirs.push(src.clone());
                }
            }
            // The native front end reads these (native.rs); the fold keeps where.
            Setting::Toolchains(_) => self.scalar("toolchains", o),
            Setting::Caches(_) => self.scalar("caches", o),
            Setting::MergedUsr => self.merged_usr(o),
            Setting::BindCwd(mode) => self.bind_cwd(*mode, o),
            s @ (Setting::Net(_)
            | Setting::Share(_)
            | Setting::Publish(_)
            | Setting::AllowHostLoopback
            | Setting::AllowHost(_)
            | Setting::AllowAddr(_)) => self.network(s, o),
            s @ (Setting::Env(..) | Setting::KeepEnv(_) | Setting::ClearEnv) => self.env(s, o),
            s @ (Setting::Cwd(_)
            | Setting::Hostname(_)
            | Setting::Uid(_)
            | Setting::Gid(_)
            | Setting::CapAdd(_)
            | Setting::KeepFd(_)
            | Setting::DieWithParent(_)
            | Setting::NewSession(_)
            | Setting::BestEffort(_)
            | Setting::Mode(_)) => self.process(s, o),
            s @ (Setting::Landlock(_)
            | Setting::LandlockRule(_)
            | Setting::AllowConnect(_)
            | Setting::AllowBind(_)
            | Setting::AllowSignals
            | Setting::AllowAbstractUnix
            | Setting::LogDenials) => self.landlock(s, o),
            s @ (Setting::SeccompBase(_)
            | Setting::SeccompDeny(_)
            | Setting::SeccompAllow(_)
            | Setting::SeccompFile { .. }
            | Setting::SeccompLog
            | Setting::AllowUserns
            | Setting::SeccompFd(_)) => self.seccomp(s, o),
            s @ (Setting::Timeout(_)
            | Setting::KillAfter(_)
            | Setting::Rlimit(_)
            | Setting::Memory(_)
            | Setting::Pids(_)
            | Setting::Cpus(_)
            | Setting::IoWeight(_)) => self.limits(s, o),
            Setting::Desktop(a) => {
                self.asked.apply(a);
                self.desktop_origin = Some(o.clone());
            }
        }
    }

    /// `--net`, `--share`, `--publish`, `--allow-host-loopback`,
    /// `--allow-host`, `--allow-addr`. (Each step
    /// below sees only the settings [`Builder::apply`] hands it.)
    fn network(&mut self, s: &Setting, o: &Origin) {
        let p = &mut self.plan;
        match s {
            Setting::Net(net) => {
                p.namespaces.net = *net != Net::Host;
                p.network.user = net.backend().map(|backend| {
                    let user = p.network.user.take().unwrap_or_default();
                    UserNet { backend, ..user }
                });
                self.scalar("net", o);
            }
            Setting::Share(ns) => {
                let n = &mut p.namespaces;
                match ns {
                    Share::Ipc => n.ipc = false,
                    Share::Pid => n.pid = false,
                    Share::Uts => n.uts = false,
                    Share::Net => n.net = false,
                    Share::Cgroup => n.cgroup = false,
                }
            }
            Setting::Publish(pb) => self.publish.push(*pb),
            Setting::AllowHostLoopback => self.host_loopback = true,
            s @ (Setting::AllowHost(_) | Setting::AllowAddr(_)) => self.egress.add(s, o),
            _ => {}
        }
    }

    /// `--env`, `--keep-env`, `--clear-env`.
    fn env(&mut self, s: &Setting, o: &Origin) {
        let (env, prov) = (&mut self.plan.env, &mut self.prov.env);
        match s {
            Setting::Env(k, v) => set_env(env, prov, k.clone(), v.clone(), o.clone()),
            Setting::KeepEnv(pattern) => {
                let pat = pattern.as_bytes();
                let (prefix, glob) = match pat.strip_suffix(b"*") {
                    Some(prefix) => (prefix, true),
                    None => (pat, false),
                };
                for (k, v) in &self.host.env {
                    let kb = k.as_bytes();
                    if (glob && kb.starts_with(prefix)) || (!glob && kb == prefix) {
                        set_env(env, prov, k.clone(), v.clone(), o.clone());
                    }
                }
            }
            Setting::ClearEnv => {
                env.clear();
                prov.clear();
            }
            _ => {}
        }
    }

    /// The command's process: cwd, host name, ids, capabilities, fds,
    /// die-with-parent, session, best effort, mode.
    fn process(&mut self, s: &Setting, o: &Origin) {
        let p = &mut self.plan;
        let name = match s {
            Setting::Cwd(dir) => {
                p.process.cwd = Some(dir.clone());
                "cwd"
            }
            Setting::Hostname(h) => {
                p.process.hostname = Some(h.clone());
                "hostname"
            }
            Setting::Uid(uid) => {
                p.ids.uid = *uid;
                "uid"
            }
            Setting::Gid(gid) => {
                p.ids.gid = *gid;
                "gid"
            }
            Setting::DieWithParent(on) => {
                p.process.die_with_parent = *on;
                "die-with-parent"
            }
            Setting::NewSession(on) => {
                p.process.new_session = *on;
                "new-session"
            }
            Setting::BestEffort(on) => {
                p.best_effort = *on;
                "best-effort"
            }
            Setting::Mode(m) => {
                p.mode = *m;
                "mode"
            }
            Setting::CapAdd(cap) => {
                if !p.process.caps.contains(cap) {
                    p.process.caps.push(cap.clone());
                }
                return;
            }
            Setting::KeepFd(fd) => return p.process.keep_fds.push(*fd),
            _ => return,
        };
        self.scalar(name, o);
    }

    /// Landlock's switch, path rules, port rules, scopes and audit.
    fn landlock(&mut self, s: &Setting, o: &Origin) {
        let ll = &mut self.plan.landlock;
        match s {
            Setting::Landlock(on) => {
                ll.enabled = *on;
                self.scalar("landlock", o);
            }
            Setting::LandlockRule(r) => ll.rules.push(r.clone()),
            Setting::AllowConnect(port) => ll.connect_ports.push(*port),
            Setting::AllowBind(port) => ll.bind_ports.push(*port),
            Setting::AllowSignals => ll.scope_signals = false,
            Setting::AllowAbstractUnix => ll.scope_abstract_unix = false,
            Setting::LogDenials => ll.log_denials = true,
            _ => {}
        }
    }

    /// The seccomp policy; files are read when the fold is done.
    fn seccomp(&mut self, s: &Setting, o: &Origin) {
        let sc = &mut self.plan.seccomp;
        match s {
            Setting::SeccompBase(b) => {
                sc.base = *b;
                self.scalar("seccomp", o);
            }
            Setting::SeccompDeny(d) => sc.deny.push(d.clone()),
            Setting::SeccompAllow(name) => sc.allow.push(name.clone()),
            Setting::SeccompFile { path, oci } => self.policy_files.push((path.clone(), *oci)),
            Setting::SeccompLog => sc.log = true,
            Setting::AllowUserns => sc.allow_userns = true,
            Setting::SeccompFd(fd) => sc.bpf_fds.push(*fd),
            _ => {}
        }
    }

    /// Time-outs, rlimits and the cgroup limits.
    fn limits(&mut self, s: &Setting, o: &Origin) {
        let l = &mut self.plan.limits;
        match s {
            Setting::Timeout(ms) => {
                l.timeout_ms = Some(*ms);
                self.scalar("timeout", o);
            }
            Setting::KillAfter(ms) => {
                l.kill_after_ms = *ms;
                self.scalar("kill-after", o);
            }
            Setting::Rlimit(r) => l.set_rlimit(*r),
            Setting::Memory(b) => l.cgroup.memory = Some(*b),
            Setting::Pids(n) => l.cgroup.pids = Some(*n),
            Setting::Cpus(m) => l.cgroup.millicpus = Some(*m),
            Setting::IoWeight(w) => l.cgroup.io_weight = Some(*w),
            _ => {}
        }
    }

    /// The host's /bin, /sbin, /lib…: the same symlinks into /usr where the
    /// host has them (merged /usr), read-only binds where they are real
    /// directories.
    fn merged_usr(&mut self, o: &Origin) {
        for (link, target) in self.host.root_links.clone() {
            let op = match target {
                Some(t) => FsOp::Symlink { target: t, dest: link },
                None => {
                    FsOp::Bind { src: link.clone(), dest: link, access: Access::ReadOnly, optional: true }
                }
            };
            self.fs(op, o);
        }
    }

    /// Shares the current directory, except $HOME, the scratch and runtime
    /// directories every user shares (`/tmp`, `/run`, …) and any directory
    /// above one of them, compared resolved (then one note says how to share
    /// it on purpose).
    fn bind_cwd(&mut self, mode: BindCwd, o: &Origin) {
        if let Some(i) = self.cwd_op.take() {
            self.plan.fs.remove(i);
            self.prov.fs.remove(i);
        }
        self.notes.retain(|n| !n.starts_with("not sharing the current directory"));
        let cwd = self.host.cwd.clone();
        let home = self.host.home.clone();
        self.scalar("cwd", o);
        if mode == BindCwd::None {
            self.plan.process.cwd = Some(home);
            return;
        }
        if let Some(what) = self.host.why_private(&cwd) {
            let flag = if mode == BindCwd::Rw { "--rw" } else { "--ro" };
            let shown = escape::path(&cwd);
            self.notes.push(format!(
                "not sharing the current directory {shown} ({what}); share it on purpose with {flag} {shown}, \
                 or run from a subdirectory"
            ));
            self.plan.process.cwd = Some(home);
            return;
        }
        // Already visible read-only as part of the system (e.g. under /usr):
        // no bind over it, so /usr stays read-only.
        let system = ["/usr", "/etc", "/proc", "/dev", "/sys"];
        let under_system = system.iter().any(|s| cwd.starts_with(s))
            || self.host.root_links.iter().any(|(l, _)| cwd.starts_with(l));
        if !under_system {
            let access = if mode == BindCwd::Rw { Access::ReadWrite } else { Access::ReadOnly };
            self.fs(FsOp::Bind { src: cwd.clone(), dest: cwd.clone(), access, optional: false }, o);
            self.cwd_op = Some(self.plan.fs.len() - 1);
        }
        self.plan.process.cwd = Some(cwd);
    }
}

fn set_env(env: &mut Vec<EnvVar>, prov: &mut Vec<Origin>, name: OsString, value: OsString, o: Origin) {
    if let Some(i) = env.iter().position(|v| v.name == name) {
        env[i].value = value;
        prov[i] = o;
    } else {
        env.push(EnvVar { name, value });
        prov.push(o);
    }
}
