//! The native command line: the only place that spells flags.
//!
//! `parse` turns argv into a [`Command`] holding a finished [`Plan`]. It is
//! pure: it reads the caller's environment and current directory (passed in
//! as a [`Host`]) and, through the profile, the host's merged-usr links, and
//! never changes anything.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::escape;

pub mod landlock;
pub mod limits;
pub mod seccomp;
use crate::plan::{Access, FsOp, Plan};
use crate::profile::{self, Host};
use crate::settings::{self, BindCwd, Located, Net, Origin, Setting, Share};
use crate::values;

/// Run one command isolated: its own namespaces, a root built from read-only
/// pieces of the host, an empty home, no network.
#[derive(Parser, Debug)]
#[command(
    name = "sandbox",
    version,
    about = "Run one command isolated in a rootless sandbox",
    long_about = "Run one command isolated in a rootless sandbox: its own user, mount, pid, ipc, \
uts, net and cgroup namespaces, a root built from read-only pieces of the host, an empty \
$HOME, the current directory writable, no network, and a filtered environment.\n\n\
Exit status: the command's own; 128+N when it was killed by signal N; 124 when --timeout \
expired; 125 when the sandbox could not be set up; 126 when the command cannot be executed; \
127 when it was not found.",
    after_help = "Examples:\n  sandbox -- sh -c 'id; hostname; ls /'\n  sandbox --ro ~/data:/data --net host -- python3 app.py\n  sandbox explain -- make",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Sub {
    /// Print the plan for a command line (mounts, namespaces, environment) and run nothing.
    Explain {
        /// Print the plan as JSON (the same data `sandbox` would run).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        run: Box<RunArgs>,
    },
    /// Report what this kernel and host allow: user namespaces, landlock, seccomp,
    /// overlayfs, uid ranges, user-mode networking, cgroup delegation.
    Check,
    /// Run with bubblewrap's command line (a drop-in for bwrap 0.11).
    ///
    /// `sandbox bwrap --help` lists bubblewrap's options. The same front end runs when sandbox
    /// is invoked as `bwrap` (a symlink named bwrap). bubblewrap's defaults apply: nothing is
    /// mounted that the options do not name, the environment passes as it is, no seccomp or
    /// landlock, setup errors print `bwrap: …` and exit 1. Unlike bubblewrap run by root,
    /// sandbox always creates a user namespace.
    #[command(disable_help_flag = true)]
    Bwrap {
        /// bubblewrap's options and the command, exactly as bwrap takes them.
        #[arg(value_name = "BWRAP-ARGS", trailing_var_arg = true, allow_hyphen_values = true,
              value_parser = clap::value_parser!(OsString))]
        args: Vec<OsString>,
    },
    /// List the profiles on the search path, or show one merged and expanded.
    Profiles {
        #[command(subcommand)]
        action: ProfilesAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfilesAction {
    /// Name, where it was found, and description of every profile on the search path.
    List,
    /// A profile with its includes applied and variables expanded, as TOML.
    Show {
        /// A profile name or a path (with a `/`).
        name: String,
    },
}

/// The options that describe a sandbox (shared by running and `explain`).
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Start from profile NAME (looked up in ~/.config/sandbox/profiles, /etc/sandbox/profiles,
    /// then the built-ins: default, none, strict, ci, build, agent, net-service) or from the
    /// file PATH (anything with a `/`). See `sandbox profiles list` and sandbox-profile(5).
    #[arg(long, value_name = "NAME|PATH", default_value = "default")]
    pub profile: String,

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
    /// read-only file.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub hide: Vec<OsString>,

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

    /// Print each setup step on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub landlock: landlock::LandlockArgs,

    #[command(flatten)]
    pub seccomp: seccomp::SeccompArgs,

    /// The command to run and its arguments (put `--` before it).
    #[arg(value_name = "COMMAND", trailing_var_arg = true,
          value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

fn parse_id(s: &str) -> Result<u32, String> {
    values::id(s)
}

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    Run {
        built: Built,
        verbose: bool,
    },
    Explain {
        built: Built,
        json: bool,
    },
    Check,
    /// `sandbox profiles list`.
    ProfilesList,
    /// `sandbox profiles show NAME`.
    ProfilesShow(String),
    /// Help or version text, printed on stdout with exit 0.
    Print(String),
    /// `sandbox bwrap ARGS`: bubblewrap's command line (see [`crate::compat`]).
    Bwrap(Vec<OsString>),
}

/// A command-line mistake: one line, exit 125.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses argv (including argv[0]) against the caller's `host` view.
pub fn parse(args: Vec<OsString>, host: &Host) -> Result<Command, UsageError> {
    // bubblewrap's words go to the compat parser untouched: clap would take
    // `--` and `--help` for itself. The `bwrap` subcommand above only
    // documents this.
    if args.get(1).is_some_and(|a| a == "bwrap") {
        return Ok(Command::Bwrap(args[2..].to_vec()));
    }
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError(first_line(&e)))?;
    match cli.sub {
        Some(Sub::Check) => Ok(Command::Check),
        Some(Sub::Bwrap { args }) => Ok(Command::Bwrap(args)),
        Some(Sub::Profiles { action: ProfilesAction::List }) => Ok(Command::ProfilesList),
        Some(Sub::Profiles { action: ProfilesAction::Show { name } }) => Ok(Command::ProfilesShow(name)),
        Some(Sub::Explain { json, run }) => {
            let sub = matches.subcommand_matches("explain").expect("explain matched");
            Ok(Command::Explain { built: build(&run, sub, host)?, json })
        }
        None => Ok(Command::Run { built: build(&cli.run, &matches, host)?, verbose: cli.run.verbose }),
    }
}

fn clap_error(e: clap::Error) -> Result<Command, UsageError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(Command::Print(e.render().to_string())),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Err(UsageError(
            "no command given: usage: sandbox [OPTIONS] -- COMMAND [ARGS...] (see sandbox --help)".into(),
        )),
        _ => {
            let mut msg = first_line(&e);
            if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedArg) {
                msg.push_str(&format!("; did you mean '{s}'?"));
            }
            Err(UsageError(msg))
        }
    }
}

fn first_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("invalid arguments");
    escape::str(line.trim_start_matches("error: "))
}

/// Builds the Plan: the profile's settings first, then the command line's
/// in the order given, folded by [`settings::build`].
fn build(run: &RunArgs, m: &ArgMatches, host: &Host) -> Result<Built, UsageError> {
    let profile = profile::load(&run.profile, host).map_err(UsageError)?;
    let mut all = profile.settings;
    all.extend(
        cli_settings(run, m, host)?
            .into_iter()
            .map(|setting| Located { setting, origin: Origin::CommandLine }),
    );
    let (mut plan, prov, notes) = settings::build(host, &all).map_err(UsageError)?;
    run.network.apply(&mut plan)?;
    plan.command = run.command.clone();
    run.limits.apply(&mut plan)?;
    run.landlock.apply(run, host, &mut plan)?;
    run.seccomp.apply(&mut plan)?;
    crate::plan::validate(&plan).map_err(UsageError)?;
    settings::check(&plan).map_err(UsageError)?;
    Ok(Built { plan, prov, notes })
}

/// A finished Plan with where its entries came from and notes for the user.
#[derive(Debug)]
pub struct Built {
    pub plan: Plan,
    pub prov: settings::Provenance,
    pub notes: Vec<String>,
}

/// The command line's settings in the order they were written (clap groups
/// values by flag; the indices put them back in the user's order).
fn cli_settings(run: &RunArgs, m: &ArgMatches, host: &Host) -> Result<Vec<Setting>, UsageError> {
    let mut out: Vec<(usize, Setting)> = Vec::new();
    let mut each = |id: &str, values: &[OsString], f: &dyn Fn(&OsStr) -> Result<Setting, String>| {
        let indices: Vec<usize> = m.indices_of(id).map(|i| i.collect()).unwrap_or_default();
        for (i, v) in values.iter().enumerate() {
            let at = indices.get(i).copied().unwrap_or(usize::MAX);
            let flag = id.replace('_', "-");
            out.push((at, f(v).map_err(|e| UsageError(format!("--{flag} {e}")))?));
        }
        Ok::<(), UsageError>(())
    };
    let base = &host.cwd;
    let bind = |access, optional| move |v: &OsStr| values::bind(v, base, access, optional).map(Setting::Fs);
    each("ro", &run.ro, &bind(Access::ReadOnly, false))?;
    each("rw", &run.rw, &bind(Access::ReadWrite, false))?;
    each("ro_try", &run.ro_try, &bind(Access::ReadOnly, true))?;
    each("rw_try", &run.rw_try, &bind(Access::ReadWrite, true))?;
    each("dev_bind", &run.dev_bind, &bind(Access::Device, false))?;
    each("overlay", &run.overlay, &|v| values::overlay(v, base).map(Setting::Fs))?;
    each("persist", &run.persist, &|v| values::persist(v, base).map(Setting::Fs))?;
    each("ro_overlay", &run.ro_overlay, &|v| values::ro_overlay(v, base).map(Setting::Fs))?;
    each("dev", &run.dev, &|v| Ok(Setting::Fs(FsOp::Dev { dest: values::dest_path(v)? })))?;
    each("proc", &run.proc, &|v| Ok(Setting::Fs(FsOp::Proc { dest: values::dest_path(v)? })))?;
    each("tmpfs", &run.tmpfs, &|v| {
        Ok(Setting::Fs(FsOp::Tmpfs { dest: values::dest_path(v)?, mode: 0o755, size: None }))
    })?;
    each("hide", &run.hide, &|v| Ok(Setting::Fs(FsOp::Hide { dest: values::dest_path(v)? })))?;
    each("mkdir", &run.mkdir, &|v| Ok(Setting::Fs(FsOp::Dir { dest: values::dest_path(v)?, mode: 0o755 })))?;
    each("symlink", &run.symlink, &|v| values::symlink(v).map(Setting::Fs))?;
    each("env", &run.env, &|v| values::env_pair(v).map(|(k, v)| Setting::Env(k, v)))?;
    each("keep_env", &run.keep_env, &|v| {
        let name = OsStr::from_bytes(v.as_bytes().strip_suffix(b"*").unwrap_or(v.as_bytes()));
        values::env_name(name).map(|_| Setting::KeepEnv(v.to_owned()))
    })?;
    let mut one = |id: &str, setting: Option<Setting>| {
        if let Some(s) = setting {
            out.push((m.index_of(id).unwrap_or(usize::MAX), s));
        }
    };
    one("merged_usr", run.merged_usr.then_some(Setting::MergedUsr));
    one("bind_cwd", run.bind_cwd.map(Setting::BindCwd));
    one("clear_env", run.clear_env.then_some(Setting::ClearEnv));
    one("net", run.net.map(Setting::Net));
    one("hostname", run.hostname.clone().map(Setting::Hostname));
    one("uid", run.uid.map(Setting::Uid));
    one("gid", run.gid.map(Setting::Gid));
    one("no_die_with_parent", run.no_die_with_parent.then_some(Setting::DieWithParent(false)));
    one("no_new_session", run.no_new_session.then_some(Setting::NewSession(false)));
    one("best_effort", run.best_effort.then_some(Setting::BestEffort(true)));
    if let Some(cwd) = &run.cwd {
        one("cwd", Some(Setting::Cwd(values::cwd(cwd).map_err(|e| UsageError(format!("--cwd {e}")))?)));
    }
    if let Some(h) = &run.hostname {
        values::hostname(h).map_err(|e| UsageError(format!("--hostname {e}")))?;
    }
    let indexed = |id: &str| -> Vec<usize> { m.indices_of(id).map(|i| i.collect()).unwrap_or_default() };
    for (i, ns) in run.share.iter().enumerate() {
        out.push((indexed("share").get(i).copied().unwrap_or(usize::MAX), Setting::Share(*ns)));
    }
    for (i, cap) in run.cap_add.iter().enumerate() {
        let cap = values::capability(cap).map_err(|e| UsageError(format!("--cap-add {e}")))?;
        out.push((indexed("cap_add").get(i).copied().unwrap_or(usize::MAX), Setting::CapAdd(cap)));
    }
    for (i, fd) in run.keep_fd.iter().enumerate() {
        out.push((indexed("keep_fd").get(i).copied().unwrap_or(usize::MAX), Setting::KeepFd(*fd)));
    }
    match run.net {
        Some(net) if net != Net::Host && run.share.contains(&Share::Net) => {
            return Err(UsageError(format!("--net {} and --share net cannot be combined", net.name())));
        }
        _ => {}
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// Lexical path normalisation (see [`values::normalize`]).
pub fn normalize(p: &Path) -> PathBuf {
    values::normalize(p)
}

pub mod network;

#[cfg(test)]
mod tests;
