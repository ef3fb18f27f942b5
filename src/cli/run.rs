//! The options that describe a sandbox, shared by running and `explain`:
//! every native flag is declared here or in the group it belongs to
//! (network, limits, landlock, seccomp), with its documentation, which the
//! man page and completions are generated from.

use std::ffi::OsString;

use clap::{ArgAction, Args};

use super::{desktop, landlock, limits, network, seccomp};
use crate::settings::{BindCwd, Net, Share, Userns};
use crate::values;

/// The options that describe a sandbox (shared by running and `explain`).
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Start from profile NAME (looked up in ~/.config/sandbox/profiles, /etc/sandbox/profiles,
    /// then the built-ins: default, rootfs, none, strict, ci, build, agent, net-service, x11,
    /// wayland, audio, gpu, fonts, desktop, browser) or from the file PATH (anything with a `/`). Without it: `default`, or `rootfs` with --rootfs
    /// (`container` with --rootfs and --userns auto but no --uid or --gid).
    /// See `sandbox profiles list` and sandbox-profile(5).
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,

    /// Make the host directory DIR the root (an unpacked image, an mmdebstrap or debootstrap
    /// tree) instead of pieces of the host: nothing of the host's /usr or /etc; /proc, /dev,
    /// /tmp, the current directory and the other options go on top. DIR is read-only (mount
    /// points it lacks are made in memory) unless --rw-rootfs; `--overlay /` makes the root
    /// writable with the writes vanishing at exit, `--persist /:STATEDIR` keeps them, and DIR
    /// never changes. Without --profile, the built-in profile `rootfs` applies instead of
    /// `default`. Use --userns auto for a root whose files have many owners.
    #[arg(long, value_name = "DIR", value_parser = clap::value_parser!(OsString))]
    pub rootfs: Option<OsString>,

    /// With --rootfs: the command's writes to the root land in DIR itself.
    #[arg(long)]
    pub rw_rootfs: bool,

    /// Which ids exist inside: `self` (the default: only your uid and gid, seen as --uid and
    /// --gid) or `auto` (also every other id, mapped to your subordinate ids from /etc/subuid
    /// and /etc/subgid by newuidmap and newgidmap, package uidmap), so that files of any
    /// owner, chown, su and package managers work: inside id --uid is you, the others are
    /// filled in order from your ranges (with --uid 0, rootless podman's layout).
    #[arg(long, value_name = "MODE", value_enum)]
    pub userns: Option<Userns>,

    /// Bind SRC read-only at DEST (DEST defaults to SRC; write a literal `:` as `\:`).
    /// Read-only, nosuid and nodev apply to every mount beneath SRC too.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub ro: Vec<OsString>,

    /// Bind SRC read-write at DEST (DEST defaults to SRC). Writes land on the host.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub rw: Vec<OsString>,

    /// Like --ro, but skipped when SRC does not exist.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub ro_try: Vec<OsString>,

    /// Like --rw, but skipped when SRC does not exist.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub rw_try: Vec<OsString>,

    /// Bind SRC read-write at DEST with device nodes usable (bwrap --dev-bind).
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub dev_bind: Vec<OsString>,

    /// Mount a minimal /dev at PATH: null zero full random urandom tty, a private devpts,
    /// shm, and the stdin/stdout/stderr/fd links (bwrap --dev).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub dev: Vec<OsString>,

    /// Mount a fresh /proc for the sandbox's pid namespace at PATH, with /proc/sys and
    /// friends read-only (bwrap --proc).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub proc: Vec<OsString>,

    /// Overlay the host directory PATH at DEST: the sandbox may change it, the writes go to a
    /// tmpfs and vanish at exit, the host's PATH never changes.
    #[arg(long, value_name = "PATH[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub overlay: Vec<OsString>,

    /// Like --overlay, but the writes persist in STATEDIR (created if absent, mode 0700; its
    /// upper/ and work/ hold them, its lock file is 0600), so the next run sees them; PATH on
    /// the host never changes. A state directory in use by another running sandbox is refused,
    /// and so is one that is, or holds an upper, work or lock that is, a symlink or not yours.
    #[arg(long, value_name = "PATH:STATEDIR[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub persist: Vec<OsString>,

    /// Stack several host directories read-only at DEST, the first on top.
    #[arg(long, value_name = "TOP:...:BOTTOM:DEST", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub ro_overlay: Vec<OsString>,

    /// Mount a fresh, empty tmpfs at PATH (mode 0755, nosuid, nodev).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub tmpfs: Vec<OsString>,

    /// Hide PATH: cover a directory with an empty read-only one, a file with an empty
    /// read-only file. A PATH the host does not have is an error (a typo would protect
    /// nothing); see --hide-try.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub hide: Vec<OsString>,

    /// Like --hide, but nothing is said when PATH does not exist.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub hide_try: Vec<OsString>,

    /// Bind the host directory DIR read-write at DEST (default: the same path), creating DIR
    /// and its missing parents (mode 0700) when it does not exist; a note says where the
    /// first time. For a service's state that outlives the sandbox.
    #[arg(long, value_name = "DIR[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub state: Vec<OsString>,

    /// Do not share the toolchains the command needs. By default, when the command (looked
    /// up on your PATH) or a PATH entry lives where the sandbox shows nothing of the host
    /// ($HOME, /opt), the toolchain it belongs to is shared read-only: rustup's ~/.cargo/bin
    /// and ~/.rustup, pyenv, nvm, volta, fnm, ~/.local/bin with its Python packages, Go,
    /// bun, deno, mise, asdf, /opt/NAME… (profiles/toolchains.toml); credentials inside them
    /// stay hidden. `sandbox explain` lists what is added and why.
    #[arg(long)]
    pub no_toolchains: bool,

    /// Package caches of your home: `none` (the default profile's), `ro` (those that exist,
    /// read-only: ci), `overlay` (writable, the writes vanish at exit and the host's caches
    /// never change: agent), or `rw` (read-write, a missing one created 0700 when its tool is
    /// on your PATH: build). For cargo, npm, yarn, pnpm, pip, uv, go, maven and gradle.
    #[arg(long, value_name = "MODE", value_enum)]
    pub caches: Option<crate::settings::CacheMode>,

    /// Create the directory PATH (and missing parents) inside the sandbox.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub mkdir: Vec<OsString>,

    /// Create a symbolic link at PATH pointing at TARGET.
    #[arg(long, value_name = "TARGET:PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub symlink: Vec<OsString>,

    /// Recreate the host's /bin, /sbin, /lib, /lib64…: the same symlinks into /usr where the
    /// host has them (merged /usr), read-only binds where they are directories.
    #[arg(long)]
    pub merged_usr: bool,

    /// Share the current directory: `rw`, `ro`, or `none`. Never $HOME, /tmp, /var/tmp,
    /// /dev/shm, /run, $XDG_RUNTIME_DIR, /run/user/*, or a directory above one of them,
    /// compared with symlinks resolved (then nothing is shared and a note says how to share
    /// it on purpose); a subdirectory such as /tmp/build is shared.
    #[arg(long, value_name = "MODE", value_enum)]
    pub bind_cwd: Option<BindCwd>,

    /// Network: `none` (own namespace, loopback only; the default), `host` (the host's
    /// network), or `user` (own namespace with a user-mode stack: a default route, DNS, and
    /// the ports given with --publish; pasta, or slirp4netns when pasta is missing; choose
    /// with `user:pasta` or `user:slirp4netns`).
    #[arg(long, value_name = "MODE", value_enum)]
    pub net: Option<Net>,

    #[command(flatten)]
    pub network: network::NetworkArgs,

    /// Share a namespace with the host instead of getting a new one (repeatable).
    #[arg(long, value_name = "NS", value_enum, action = ArgAction::Append)]
    pub share: Vec<Share>,

    /// Set NAME=VALUE in the command's environment.
    #[arg(long, value_name = "NAME=VALUE", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub env: Vec<OsString>,

    /// Pass NAME from the caller's environment (a trailing `*` matches a prefix, e.g. `LC_*`).
    #[arg(long, value_name = "NAME", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub keep_env: Vec<OsString>,

    /// Start from an empty environment instead of the profile's allowlist.
    #[arg(long)]
    pub clear_env: bool,

    /// Working directory inside the sandbox (absolute).
    #[arg(long, value_name = "DIR", value_parser = clap::value_parser!(OsString))]
    pub cwd: Option<OsString>,

    /// Host name inside the sandbox (default: `sandbox`).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// User id inside the sandbox (mapped to your own uid outside).
    #[arg(long, value_name = "UID", value_parser = parse_id, allow_hyphen_values = true)]
    pub uid: Option<u32>,

    /// Group id inside the sandbox (mapped to your own gid outside).
    #[arg(long, value_name = "GID", value_parser = parse_id, allow_hyphen_values = true)]
    pub gid: Option<u32>,

    /// Keep capability CAP (e.g. CAP_NET_ADMIN) for the command; needs --uid 0.
    #[arg(long, value_name = "CAP", action = ArgAction::Append)]
    pub cap_add: Vec<String>,

    /// Pass the caller's file descriptor N to the command (0, 1, 2 are always passed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(3..), action = ArgAction::Append, allow_negative_numbers = true)]
    pub keep_fd: Vec<i32>,

    /// Let the sandbox outlive the process that started it.
    #[arg(long)]
    pub no_die_with_parent: bool,

    /// Keep the caller's session and controlling terminal (allows job control, but lets
    /// the command push input into your terminal with TIOCSTI on old kernels).
    #[arg(long)]
    pub no_new_session: bool,

    /// Run even when a confinement asked for cannot be applied on this kernel; a
    /// warning lists every rule that was dropped. Without it, sandbox refuses to run.
    #[arg(long)]
    pub best_effort: bool,

    #[command(flatten)]
    pub limits: limits::LimitsArgs,

    /// Print each setup step on stderr, with the milliseconds since the launch began.
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub landlock: landlock::LandlockArgs,

    #[command(flatten)]
    pub seccomp: seccomp::SeccompArgs,

    #[command(flatten)]
    pub desktop: desktop::DesktopArgs,

    /// The command to run and its arguments (put `--` before it).
    #[arg(value_name = "COMMAND", trailing_var_arg = true,
          value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

fn parse_id(s: &str) -> Result<u32, String> {
    values::id(s)
}
