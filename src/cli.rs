//! The native command line: the only place that spells flags.
//!
//! `parse` turns argv into a [`Command`] holding a finished [`Plan`]. It is
//! pure: it reads the caller's environment and current directory (passed in
//! as a [`Host`]) and, through the profile, the host's merged-usr links, and
//! never changes anything.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::escape;
use crate::plan::{Access, EnvVar, FsOp, Plan};
use crate::profile::{self, Host};

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
Exit status: the command's own; 128+N when it was killed by signal N; 125 when the sandbox \
could not be set up; 126 when the command cannot be executed; 127 when it was not found.",
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
}

/// Namespaces that `--share` can give back to the host.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    Ipc,
    Pid,
    Uts,
    Net,
    Cgroup,
}

/// Network modes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// Own network namespace with only the loopback interface up.
    None,
    /// Share the host's network namespace.
    Host,
}

/// The options that describe a sandbox (shared by running and `explain`).
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Start from profile NAME: `default` (read-only /usr and /etc, empty $HOME, the
    /// current directory writable, no network) or `none` (an empty root).
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub profile: String,

    /// Bind SRC read-only at DEST (DEST defaults to SRC; write a literal `:` as `\:`).
    /// Read-only, nosuid and nodev apply to every mount beneath SRC too.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub ro: Vec<OsString>,

    /// Bind SRC read-write at DEST (DEST defaults to SRC). Writes land on the host.
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub rw: Vec<OsString>,

    /// Bind SRC read-write at DEST with device nodes usable (like bwrap --dev-bind).
    #[arg(long, value_name = "SRC[:DEST]", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub dev: Vec<OsString>,

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

    /// Network: `none` (own namespace, loopback only; the default) or `host`.
    #[arg(long, value_name = "MODE", value_enum)]
    pub net: Option<Net>,

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
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(3..), action = ArgAction::Append)]
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

    /// Print each setup step on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub seccomp: seccomp::SeccompArgs,

    /// The command to run and its arguments (put `--` before it).
    #[arg(value_name = "COMMAND", trailing_var_arg = true,
          value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

fn parse_id(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n != u32::MAX => Ok(n),
        _ => Err(format!("`{}` is not an id from 0 to 4294967294", escape::str(s))),
    }
}

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    Run {
        plan: Plan,
        verbose: bool,
        notes: Vec<String>,
    },
    Explain {
        plan: Plan,
        json: bool,
        notes: Vec<String>,
    },
    Check,
    /// Help or version text, printed on stdout with exit 0.
    Print(String),
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
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError(first_line(&e)))?;
    match cli.sub {
        Some(Sub::Check) => Ok(Command::Check),
        Some(Sub::Explain { json, run }) => {
            let sub = matches.subcommand_matches("explain").expect("explain matched");
            let (plan, notes) = build(&run, sub, host)?;
            Ok(Command::Explain { plan, json, notes })
        }
        None => {
            let (plan, notes) = build(&cli.run, &matches, host)?;
            Ok(Command::Run { plan, verbose: cli.run.verbose, notes })
        }
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

/// Builds the Plan: the profile first, then the command line on top, with the
/// file-system options kept in the order they were given.
fn build(run: &RunArgs, m: &ArgMatches, host: &Host) -> Result<(Plan, Vec<String>), UsageError> {
    let mut base = profile::builtin(&run.profile, host).map_err(UsageError)?;
    let plan = &mut base.plan;

    for (_, op) in fs_ops(run, m, host)? {
        plan.fs.push(op);
    }
    if let Some(net) = run.net {
        plan.namespaces.net = net == Net::None;
    }
    for s in &run.share {
        let ns = &mut plan.namespaces;
        match s {
            Share::Ipc => ns.ipc = false,
            Share::Pid => ns.pid = false,
            Share::Uts => ns.uts = false,
            Share::Net => ns.net = false,
            Share::Cgroup => ns.cgroup = false,
        }
    }
    if run.net == Some(Net::None) && run.share.contains(&Share::Net) {
        return Err(UsageError("--net none and --share net cannot be combined".into()));
    }
    if !plan.namespaces.uts && run.hostname.is_none() {
        plan.process.hostname = None;
    }
    build_env(run, host, plan)?;
    if let Some(cwd) = &run.cwd {
        let cwd = PathBuf::from(cwd);
        if !cwd.is_absolute() {
            return Err(UsageError(format!(
                "--cwd {}: must be an absolute path inside the sandbox",
                escape::path(&cwd)
            )));
        }
        plan.process.cwd = Some(normalize(&cwd));
    }
    if let Some(h) = &run.hostname {
        check_hostname(h)?;
        plan.process.hostname = Some(h.clone());
    }
    if let Some(uid) = run.uid {
        plan.ids.uid = uid;
    }
    if let Some(gid) = run.gid {
        plan.ids.gid = gid;
    }
    for cap in &run.cap_add {
        plan.process.caps.push(check_cap(cap)?);
    }
    plan.process.keep_fds.extend(&run.keep_fd);
    if run.no_die_with_parent {
        plan.process.die_with_parent = false;
    }
    if run.no_new_session {
        plan.process.new_session = false;
    }
    if run.best_effort {
        plan.best_effort = true;
    }
    plan.command = run.command.clone();
    if let Some(pwd) = plan.process.cwd.clone() {
        set_env(&mut plan.env, OsStr::new("PWD"), pwd.as_os_str());
    }
    run.seccomp.apply(plan)?;
    crate::plan::validate(plan).map_err(UsageError)?;
    Ok((base.plan, base.notes))
}

/// The file-system options in command-line order (clap groups values by
/// flag; the indices put them back in the order the user wrote them).
fn fs_ops(run: &RunArgs, m: &ArgMatches, host: &Host) -> Result<Vec<(usize, FsOp)>, UsageError> {
    let mut ops = Vec::new();
    let mut each = |id: &str, values: &[OsString], f: &dyn Fn(&OsStr) -> Result<FsOp, UsageError>| {
        let indices: Vec<usize> = m.indices_of(id).map(|i| i.collect()).unwrap_or_default();
        for (i, v) in values.iter().enumerate() {
            let at = indices.get(i).copied().unwrap_or(usize::MAX);
            ops.push((at, f(v).map_err(|e| UsageError(format!("--{id} {}", e.0)))?));
        }
        Ok::<(), UsageError>(())
    };
    let bind = |access: Access| {
        move |v: &OsStr| -> Result<FsOp, UsageError> {
            let (src, dest) = src_dest(v, host)?;
            Ok(FsOp::Bind { src, dest, access, optional: false })
        }
    };
    each("ro", &run.ro, &bind(Access::ReadOnly))?;
    each("rw", &run.rw, &bind(Access::ReadWrite))?;
    each("dev", &run.dev, &bind(Access::Device))?;
    each("tmpfs", &run.tmpfs, &|v| Ok(FsOp::Tmpfs { dest: dest_path(v)?, mode: 0o755, size: None }))?;
    each("hide", &run.hide, &|v| Ok(FsOp::Hide { dest: dest_path(v)? }))?;
    each("mkdir", &run.mkdir, &|v| Ok(FsOp::Dir { dest: dest_path(v)?, mode: 0o755 }))?;
    each("symlink", &run.symlink, &|v| {
        let parts = split_colon(v)?;
        match parts.as_slice() {
            [target, dest] if !target.is_empty() => {
                Ok(FsOp::Symlink { target: PathBuf::from(target), dest: dest_path(dest)? })
            }
            _ => Err(UsageError(format!("{}: expected TARGET:PATH", escape::os(v)))),
        }
    })?;
    ops.sort_by_key(|(at, _)| *at);
    Ok(ops)
}

/// `SRC[:DEST]`: a relative SRC is taken from the current directory; DEST
/// defaults to SRC.
fn src_dest(v: &OsStr, host: &Host) -> Result<(PathBuf, PathBuf), UsageError> {
    let parts = split_colon(v)?;
    let (src, dest) = match parts.as_slice() {
        [src] => (src.clone(), None),
        [src, dest] => (src.clone(), Some(dest.clone())),
        _ => {
            return Err(UsageError(format!(
                "{}: expected SRC or SRC:DEST (write a literal ':' as '\\:')",
                escape::os(v)
            )))
        }
    };
    if src.is_empty() {
        return Err(UsageError(format!("'{}': the source path is empty", escape::os(v))));
    }
    let src = normalize(&host.cwd.join(PathBuf::from(src)));
    let dest = match dest {
        Some(d) => dest_path(&d)?,
        None => src.clone(),
    };
    Ok((src, dest))
}

/// A destination inside the sandbox: absolute, no `..`.
fn dest_path(v: &OsStr) -> Result<PathBuf, UsageError> {
    if v.is_empty() {
        return Err(UsageError("the path is empty".into()));
    }
    let p = PathBuf::from(v);
    crate::plan::check_dest(&p).map_err(UsageError)?;
    Ok(normalize(&p))
}

/// Splits on `:` not preceded by a backslash; `\:` is a literal colon and
/// `\\` a literal backslash.
pub fn split_colon(v: &OsStr) -> Result<Vec<OsString>, UsageError> {
    let mut parts = vec![Vec::new()];
    let mut bytes = v.as_bytes().iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&n @ (b':' | b'\\')) => parts.last_mut().expect("non-empty").push(n),
                Some(&n) => parts.last_mut().expect("non-empty").extend([b'\\', n]),
                None => parts.last_mut().expect("non-empty").push(b'\\'),
            },
            b':' => parts.push(Vec::new()),
            b => parts.last_mut().expect("non-empty").push(b),
        }
    }
    Ok(parts.into_iter().map(OsString::from_vec).collect())
}

/// Lexical normalisation: drops `.` and empty components, resolves `..`
/// against the path itself (never past `/`).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn build_env(run: &RunArgs, host: &Host, plan: &mut Plan) -> Result<(), UsageError> {
    if run.clear_env {
        plan.env.clear();
    }
    for pattern in &run.keep_env {
        let pat = pattern.as_bytes();
        let (prefix, glob) = match pat.strip_suffix(b"*") {
            Some(p) => (p, true),
            None => (pat, false),
        };
        for (k, v) in &host.env {
            let kb = k.as_bytes();
            if (glob && kb.starts_with(prefix)) || (!glob && kb == prefix) {
                set_env(&mut plan.env, k, v);
            }
        }
    }
    for kv in &run.env {
        let b = kv.as_bytes();
        let Some(eq) = b.iter().position(|&c| c == b'=') else {
            return Err(UsageError(format!("--env {}: expected NAME=VALUE", escape::os(kv))));
        };
        let name = &b[..eq];
        if name.is_empty() || name.contains(&0) {
            return Err(UsageError(format!("--env {}: invalid variable name", escape::os(kv))));
        }
        set_env(&mut plan.env, OsStr::from_bytes(name), OsStr::from_bytes(&b[eq + 1..]));
    }
    Ok(())
}

/// Sets or replaces one variable, keeping the first position.
pub fn set_env(env: &mut Vec<EnvVar>, name: &OsStr, value: &OsStr) {
    if let Some(v) = env.iter_mut().find(|v| v.name == name) {
        v.value = value.to_owned();
    } else {
        env.push(EnvVar { name: name.to_owned(), value: value.to_owned() });
    }
}

fn check_hostname(h: &str) -> Result<(), UsageError> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--hostname {}: expected 1 to 64 letters, digits, '-' or '.'",
            escape::str(h)
        )))
    }
}

fn check_cap(name: &str) -> Result<String, UsageError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    match full.parse::<caps::Capability>() {
        Ok(c) => Ok(c.to_string()),
        Err(_) => Err(UsageError(format!("--cap-add {}: unknown capability", escape::str(name)))),
    }
}

pub mod seccomp;

#[cfg(test)]
mod tests;
