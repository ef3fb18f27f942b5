//! Settings: what a command-line option or a profile key says, one at a time.
//!
//! Both front ends of the native mode produce an ordered list of
//! [`Located`] settings: a profile's (includes first, then the file's own
//! keys in file order) followed by the command line's (in argv order). One
//! function, [`build`], folds them into a [`Plan`]: list-like settings
//! append, scalar ones override, so "options add to the profile" holds by
//! construction and a profile and a command line that say the same thing
//! give the same Plan. Each Plan entry remembers where it came from, for
//! `sandbox explain`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::escape;
use crate::plan::landlock::{Mode, PathRule};
use crate::plan::{Access, EnvVar, Fds, FsOp, Ids, Namespaces, Pid1, Plan, Process, Signals};
use crate::profile::Host;

/// Where a setting was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// A profile file (or built-in name) and the line and column of the key.
    Profile {
        file: String,
        line: usize,
        col: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine => f.write_str("command line"),
            Origin::Profile { file, line, col } => write!(f, "{file}:{line}:{col}"),
        }
    }
}

/// Namespaces a setting can give back to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Share {
    Ipc,
    Pid,
    Uts,
    Net,
    Cgroup,
}

/// What to do with the caller's current directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BindCwd {
    /// Share it read-write (never $HOME, /tmp, /run and the like, or a directory above them).
    Rw,
    /// Share it read-only.
    Ro,
    /// Do not share it; the command starts in $HOME (or `/`).
    None,
}

/// Network modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Net {
    /// Own network namespace with only the loopback interface up.
    None,
    /// Share the host's network namespace.
    Host,
    /// Own network namespace with user-mode networking: pasta, or slirp4netns when pasta
    /// is missing.
    User,
    /// User-mode networking with pasta.
    #[value(name = "user:pasta")]
    #[serde(rename = "user:pasta")]
    UserPasta,
    /// User-mode networking with slirp4netns.
    #[value(name = "user:slirp4netns")]
    #[serde(rename = "user:slirp4netns")]
    UserSlirp4netns,
}

impl Net {
    /// The spelling of `--net` and of the profile's `mode`.
    pub fn name(self) -> &'static str {
        match self {
            Net::None => "none",
            Net::Host => "host",
            Net::User => "user",
            Net::UserPasta => "user:pasta",
            Net::UserSlirp4netns => "user:slirp4netns",
        }
    }

    /// The user-mode backend this mode asks for, if any.
    pub fn backend(self) -> Option<crate::plan::network::Backend> {
        use crate::plan::network::Backend;
        match self {
            Net::None | Net::Host => None,
            Net::User => Some(Backend::Auto),
            Net::UserPasta => Some(Backend::Pasta),
            Net::UserSlirp4netns => Some(Backend::Slirp4netns),
        }
    }
}

/// One thing a front end said.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    Fs(FsOp),
    MergedUsr,
    BindCwd(BindCwd),
    Net(Net),
    Share(Share),
    Env(OsString, OsString),
    KeepEnv(OsString),
    ClearEnv,
    Cwd(PathBuf),
    Hostname(String),
    Uid(u32),
    Gid(u32),
    CapAdd(String),
    KeepFd(i32),
    DieWithParent(bool),
    NewSession(bool),
    BestEffort(bool),
    /// `--mode`.
    Mode(Mode),
    /// `--no-landlock` (false) or `[landlock] enabled = true`.
    Landlock(bool),
    /// `--allow-read/--allow-write/--allow-exec`.
    LandlockRule(PathRule),
    /// `--allow-connect`, `--allow-bind`.
    AllowConnect(u16),
    AllowBind(u16),
    /// `--allow-signals`, `--allow-abstract-unix`: lift a landlock scope.
    AllowSignals,
    AllowAbstractUnix,
    LogDenials,
    /// `--seccomp default|none`.
    SeccompBase(crate::plan::seccomp::Base),
    SeccompDeny(crate::plan::seccomp::Deny),
    SeccompAllow(String),
    /// A policy file (`--seccomp-policy`) or OCI config (`--seccomp-oci`),
    /// read when the settings are folded.
    SeccompFile {
        path: PathBuf,
        oci: bool,
    },
    SeccompLog,
    AllowUserns,
    /// `--publish`: attached to the user-mode network at the end of the fold
    /// (the mode may be written after it).
    Publish(crate::plan::network::Publish),
    /// `--allow-host-loopback`.
    AllowHostLoopback,
    /// `--timeout`, `--kill-after` (milliseconds).
    Timeout(u64),
    KillAfter(u64),
    /// `--limit NAME=VALUE`.
    Rlimit(crate::plan::limits::Rlimit),
    /// `--memory` (bytes), `--pids`, `--cpus` (thousandths of a CPU), `--io-weight`.
    Memory(u64),
    Pids(u64),
    Cpus(u64),
    IoWeight(u16),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub setting: Setting,
    pub origin: Origin,
}

/// Where each Plan entry came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// One per `plan.fs` entry.
    pub fs: Vec<Origin>,
    /// One per `plan.env` entry.
    pub env: Vec<Origin>,
    /// Scalar settings by name (`hostname`, `cwd`, `net`, …).
    pub scalars: BTreeMap<&'static str, Origin>,
}

/// Notes for the user (printed on stderr, not errors).
pub type Notes = Vec<String>;

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
    };
    for s in settings {
        b.apply(s)?;
    }
    let Builder { mut plan, mut prov, notes, publish, host_loopback, .. } = b;
    match plan.network.user.as_mut() {
        Some(user) => {
            user.publish.extend(publish);
            user.allow_host_loopback |= host_loopback;
        }
        None if !publish.is_empty() || host_loopback => {
            return Err(
                "publish and allow-host-loopback need user-mode networking ([network] mode = \"user\")"
                    .into(),
            )
        }
        None => {}
    }
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
    Ok((plan, prov, notes))
}

/// With user-mode networking, the sandbox's /etc/resolv.conf names the
/// backend's DNS forwarder, last so that it covers the host's, unless a
/// file-system setting already puts something there.
fn resolv_conf(plan: &mut Plan, prov: &mut Provenance) {
    use crate::plan::network;
    let dest = Path::new(network::RESOLV_CONF);
    if plan.network.user.is_none() || plan.fs.iter().any(|op| op.dest() == dest) {
        return;
    }
    let content = network::resolv_conf().into_bytes();
    let how = crate::plan::FileHow::BindRo;
    plan.fs.push(FsOp::File { dest: dest.to_path_buf(), content, mode: 0o644, how });
    prov.fs.push(prov.scalars.get("net").cloned().unwrap_or(Origin::CommandLine));
}

/// The native front end's own rules for a finished Plan, beyond those
/// every front end shares ([`crate::plan::validate`]).
pub fn check(plan: &Plan) -> Result<(), String> {
    if !plan.process.caps.is_empty() && plan.ids.uid != 0 {
        return Err("--cap-add needs --uid 0: capabilities are dropped on exec for any other uid".into());
    }
    Ok(())
}

fn empty(host: &Host) -> Plan {
    Plan {
        namespaces: Namespaces::ALL,
        ns_setup: Default::default(),
        ids: Ids { uid: host.uid, gid: host.gid },
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
    publish: Vec<crate::plan::network::Publish>,
    host_loopback: bool,
}

impl Builder<'_> {
    fn fs(&mut self, op: FsOp, origin: &Origin) {
        self.plan.fs.push(op);
        self.prov.fs.push(origin.clone());
    }

    fn scalar(&mut self, name: &'static str, origin: &Origin) {
        self.prov.scalars.insert(name, origin.clone());
    }

    fn apply(&mut self, l: &Located) -> Result<(), String> {
        let o = &l.origin;
        let p = &mut self.plan;
        match &l.setting {
            Setting::Fs(op) => self.fs(op.clone(), o),
            Setting::MergedUsr => self.merged_usr(o),
            Setting::BindCwd(mode) => self.bind_cwd(*mode, o),
            Setting::Net(net) => {
                p.namespaces.net = *net != Net::Host;
                p.network.user = net.backend().map(|backend| {
                    let user = p.network.user.take().unwrap_or_default();
                    crate::plan::network::UserNet { backend, ..user }
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
            Setting::Env(k, v) => set_env(&mut p.env, &mut self.prov.env, k.clone(), v.clone(), o.clone()),
            Setting::KeepEnv(pattern) => {
                let pat = pattern.as_bytes();
                let (prefix, glob) = match pat.strip_suffix(b"*") {
                    Some(prefix) => (prefix, true),
                    None => (pat, false),
                };
                for (k, v) in &self.host.env {
                    let kb = k.as_bytes();
                    if (glob && kb.starts_with(prefix)) || (!glob && kb == prefix) {
                        set_env(&mut p.env, &mut self.prov.env, k.clone(), v.clone(), o.clone());
                    }
                }
            }
            Setting::ClearEnv => {
                p.env.clear();
                self.prov.env.clear();
            }
            Setting::Cwd(dir) => {
                p.process.cwd = Some(dir.clone());
                self.scalar("cwd", o);
            }
            Setting::Hostname(h) => {
                p.process.hostname = Some(h.clone());
                self.scalar("hostname", o);
            }
            Setting::Uid(uid) => {
                p.ids.uid = *uid;
                self.scalar("uid", o);
            }
            Setting::Gid(gid) => {
                p.ids.gid = *gid;
                self.scalar("gid", o);
            }
            Setting::CapAdd(cap) => {
                if !p.process.caps.contains(cap) {
                    p.process.caps.push(cap.clone());
                }
            }
            Setting::KeepFd(fd) => p.process.keep_fds.push(*fd),
            Setting::DieWithParent(on) => {
                p.process.die_with_parent = *on;
                self.scalar("die-with-parent", o);
            }
            Setting::NewSession(on) => {
                p.process.new_session = *on;
                self.scalar("new-session", o);
            }
            Setting::BestEffort(on) => {
                p.best_effort = *on;
                self.scalar("best-effort", o);
            }
            Setting::Mode(m) => {
                p.mode = *m;
                self.scalar("mode", o);
            }
            Setting::Landlock(on) => {
                p.landlock.enabled = *on;
                self.scalar("landlock", o);
            }
            Setting::LandlockRule(r) => p.landlock.rules.push(r.clone()),
            Setting::AllowConnect(port) => p.landlock.connect_ports.push(*port),
            Setting::AllowBind(port) => p.landlock.bind_ports.push(*port),
            Setting::AllowSignals => p.landlock.scope_signals = false,
            Setting::AllowAbstractUnix => p.landlock.scope_abstract_unix = false,
            Setting::LogDenials => p.landlock.log_denials = true,
            Setting::SeccompBase(b) => {
                p.seccomp.base = *b;
                self.scalar("seccomp", o);
            }
            Setting::SeccompDeny(d) => p.seccomp.deny.push(d.clone()),
            Setting::SeccompAllow(name) => p.seccomp.allow.push(name.clone()),
            Setting::SeccompFile { path, oci } => {
                let policy = crate::cli::seccomp::load_file(path, *oci, &p.process.caps)?;
                p.seccomp.policies.push(policy);
            }
            Setting::SeccompLog => p.seccomp.log = true,
            Setting::AllowUserns => p.seccomp.allow_userns = true,
            Setting::Publish(pb) => self.publish.push(*pb),
            Setting::AllowHostLoopback => self.host_loopback = true,
            Setting::Timeout(ms) => {
                p.limits.timeout_ms = Some(*ms);
                self.scalar("timeout", o);
            }
            Setting::KillAfter(ms) => {
                p.limits.kill_after_ms = *ms;
                self.scalar("kill-after", o);
            }
            Setting::Rlimit(r) => p.limits.set_rlimit(*r),
            Setting::Memory(b) => p.limits.cgroup.memory = Some(*b),
            Setting::Pids(n) => p.limits.cgroup.pids = Some(*n),
            Setting::Cpus(m) => p.limits.cgroup.millicpus = Some(*m),
            Setting::IoWeight(w) => p.limits.cgroup.io_weight = Some(*w),
        }
        Ok(())
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

/// The readable "where each entry came from" listing of `sandbox explain`.
pub fn describe(plan: &Plan, prov: &Provenance) -> String {
    let mut out = String::from("where each entry came from:\n");
    for (op, o) in plan.fs.iter().zip(&prov.fs) {
        out.push_str(&format!("  {:<32} {o}\n", escape::path(op.dest())));
    }
    for (v, o) in plan.env.iter().zip(&prov.env) {
        out.push_str(&format!("  ${:<31} {o}\n", escape::os(&v.name)));
    }
    for (name, o) in &prov.scalars {
        out.push_str(&format!("  {name:<32} {o}\n"));
    }
    out
}
