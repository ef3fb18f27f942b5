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
//!
//! Building is pure but for reading the files a setting names (seccomp
//! policies), as profiles are read: no side effects.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::escape;
use crate::plan::landlock::{Mode, PathRule};
use crate::plan::{FsOp, Plan};

mod fold;
mod seccomp;
mod settle;

pub use fold::build;

/// Where a setting was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// Added by the native front end on its own (a toolchain the command
    /// needs, what a link of /etc points at), with why.
    Added(String),
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
            Origin::Added(why) => f.write_str(why),
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

/// How the user namespace maps ids (`--userns`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Userns {
    /// Only your own uid and gid, seen inside as --uid and --gid.
    #[default]
    #[value(name = "self")]
    #[serde(rename = "self")]
    Own,
    /// Also every other id, mapped to your subordinate ids (/etc/subuid, /etc/subgid)
    /// by newuidmap and newgidmap.
    Auto,
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

/// What `--caches` does with the package caches of the table.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// Not shared (the empty `$HOME` has none).
    #[default]
    None,
    /// Those that exist, read-only.
    Ro,
    /// Those that exist, writable through an overlay: writes vanish at exit
    /// and the host's caches never change.
    Overlay,
    /// Read-write; a missing one is created (0700) when its tool is on PATH.
    Rw,
}

/// One thing a front end said.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    Fs(FsOp),
    /// `--rootfs DIR`: the root is a host directory.
    Rootfs(PathBuf),
    /// `--rw-rootfs`: writes to that root go into it.
    RwRootfs(bool),
    /// `--userns`.
    Userns(Userns),
    /// `--state DIR[:DEST]`: a read-write bind whose source is made when missing.
    State {
        src: PathBuf,
        dest: PathBuf,
    },
    /// `--no-toolchains` (false), `[filesystem] toolchains`: whether the
    /// native front end shares the toolchains the command needs.
    Toolchains(bool),
    /// `--caches`: the package caches of the caller's home.
    Caches(CacheMode),
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
    /// read at the end of the fold (against the command's final capabilities).
    SeccompFile {
        path: PathBuf,
        oci: bool,
    },
    SeccompLog,
    AllowUserns,
    /// `--add-seccomp-fd`: a raw BPF program read from the fd at launch
    /// (command line only).
    SeccompFd(i32),
    /// `--publish`: attached to the user-mode network at the end of the fold
    /// (the mode may be written after it).
    Publish(crate::plan::network::Publish),
    /// `--allow-host-loopback`.
    AllowHostLoopback,
    /// `--allow-host`, `--allow-addr`: attached to the user-mode network at
    /// the end of the fold, as `--publish` is.
    AllowHost(crate::egress::HostPattern),
    AllowAddr(crate::egress::AddrRule),
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
    /// `--x11`, `--wayland`, `--audio`, `--gpu`, `--dbus` and its names:
    /// resolved against the session at the end of the fold.
    Desktop(crate::desktop::resolve::Ask),
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
