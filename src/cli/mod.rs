//! The native command line: the only place that spells flags.
//!
//! `parse` turns argv into a [`Command`]. For a run or `explain` that is a
//! [`Request`]: the profile `--profile` names and the command line's own
//! [`Setting`]s in the order written, which [`crate::native`] folds over the
//! profile's. It is pure: it reads only the caller's view (a [`Host`]) and
//! never changes anything. It knows nothing of profiles but their names.

use std::ffi::OsString;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::escape;
use crate::host::Host;
use crate::plan::Plan;
use crate::settings::Setting;

pub mod desktop;
pub mod landlock;
pub mod limits;
pub mod network;
mod ordered;
mod run;
pub mod seccomp;
pub mod usage;

pub use run::RunArgs;

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
127 when it was not found.\n\n\
SANDBOX_TRACE=1 in the environment prints on stderr, in microseconds since sandbox started, \
when each step of a run is done, from the monitor, init and the command up to its seccomp filter.",
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
    /// overlayfs, uid ranges, user-mode networking, cgroup delegation; and what this
    /// graphical session offers: X11, Wayland, sound, the session bus, GPU nodes, and the
    /// helpers the desktop options use (xdg-dbus-proxy, Xephyr) with their packages.
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
    /// Desktop launchers that start an application through sandbox, in
    /// ~/.local/share/applications ($XDG_DATA_HOME/applications).
    Desktop {
        #[command(subcommand)]
        action: DesktopAction,
    },
    /// Print the shell completion script for SHELL (the file under completions/), e.g.
    /// `sandbox completions bash > ~/.local/share/bash-completion/completions/sandbox`.
    Completions {
        /// The shell: `bash`, `zsh` or `fish`.
        #[arg(value_name = "SHELL", value_enum)]
        shell: Shell,
    },
    /// Print a man page (roff, as under man/): `sandbox` (the default), a subcommand's
    /// (`explain`, `check`, `bwrap`, `profiles`, `desktop`, `completions`, `man`), or `profile` for the
    /// profile format, e.g. `sandbox man | man -l -`.
    Man {
        /// The page: `sandbox`, a subcommand, or `profile`.
        #[arg(value_name = "PAGE")]
        page: Option<String>,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum DesktopAction {
    /// Write a launcher for NAME (an entry of $XDG_DATA_DIRS/applications, `.desktop`
    /// optional) or FILE.desktop: the same entry with every Exec line run through
    /// `sandbox --profile PROFILE --`, D-Bus activation off, marked as made by sandbox. The
    /// desktop shows it instead of the system's entry. A file of that name that sandbox did
    /// not make is left alone.
    Install {
        /// A desktop-file ID (org.gnome.Calculator) or a path to a .desktop file.
        #[arg(value_name = "NAME|FILE.desktop")]
        what: String,
        /// The profile the application runs under.
        #[arg(long, default_value = "desktop")]
        profile: String,
    },
    /// The launchers sandbox made: name, profile, command.
    List,
    /// Delete the launcher NAME, if sandbox made it (nothing else is touched).
    Remove {
        /// Its desktop-file ID (`.desktop` optional).
        name: String,
    },
}

/// The shells `sandbox completions` has a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
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

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    Run {
        request: Request,
        verbose: bool,
    },
    Explain {
        request: Request,
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
    /// `sandbox desktop install|list|remove`.
    Desktop(DesktopAction),
    /// `sandbox completions SHELL`.
    Completions(Shell),
    /// `sandbox man [PAGE]`.
    Man(Option<String>),
}

/// A sandbox the command line describes, before the profile is folded in.
#[derive(Debug)]
pub struct Request {
    /// The profile named with `--profile`, if one is.
    pub profile: Option<String>,
    /// The command line's settings, in the order written.
    pub settings: Vec<Setting>,
    /// The options applied to the folded Plan (see [`Request::finish`]).
    run: Box<RunArgs>,
}

impl Request {
    /// Applies the options that are not settings (yet) to the Plan the
    /// profile and [`Request::settings`] were folded into: published ports,
    /// the command, limits and status reporting, landlock's rules and mode.
    pub fn finish(&self, host: &Host, plan: &mut Plan) -> Result<(), UsageError> {
        self.run.network.apply(plan)?;
        plan.command = self.run.command.clone();
        self.run.limits.apply(plan)?;
        self.run.landlock.apply(&self.run, host, plan)
    }
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
    if let Some(plain) = plain_run(&args, host) {
        return plain;
    }
    // bubblewrap's two-word `--dev-bind SRC DEST` parses natively (DEST as
    // the command): say what was meant instead of running it.
    if let Some(line) = usage::bwrap_two_words(&args[1.min(args.len())..]) {
        return Err(UsageError(line));
    }
    let rest = args[1.min(args.len())..].to_vec();
    let cmd = if asks_for_help(&args) { command() } else { Cli::command() };
    let matches = match cmd.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return clap_error(e, &rest),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError(first_line(&e)))?;
    match cli.sub {
        Some(Sub::Check) => Ok(Command::Check),
        Some(Sub::Bwrap { args }) => Ok(Command::Bwrap(args)),
        Some(Sub::Profiles { action: ProfilesAction::List }) => Ok(Command::ProfilesList),
        Some(Sub::Profiles { action: ProfilesAction::Show { name } }) => Ok(Command::ProfilesShow(name)),
        Some(Sub::Desktop { action }) => Ok(Command::Desktop(action)),
        Some(Sub::Completions { shell }) => Ok(Command::Completions(shell)),
        Some(Sub::Man { page }) => Ok(Command::Man(page)),
        Some(Sub::Explain { json, run }) => {
            let sub = matches.subcommand_matches("explain").expect("explain matched");
            Ok(Command::Explain { request: request(run, sub, host)?, json })
        }
        None => {
            let verbose = cli.run.verbose;
            Ok(Command::Run { request: request(Box::new(cli.run), &matches, host)?, verbose })
        }
    }
}

/// The whole command line with every help text, for `--help`, the man page
/// and the completions. `--seccomp`'s long help lists the built-in policy's
/// rules, parsed from seccomp/default.json and landlock.json: parse builds
/// it only when help is asked for.
pub fn command() -> clap::Command {
    seccomp::LONG_HELP.store(true, std::sync::atomic::Ordering::Relaxed);
    Cli::command()
}

/// `sandbox -- COMMAND...`: no option, the default profile, no clap (what
/// clap would make of it, without building the whole command line first;
/// `cli/tests.rs` compares the two).
fn plain_run(args: &[OsString], host: &Host) -> Option<Result<Command, UsageError>> {
    if args.len() < 3 || args[1] != "--" {
        return None;
    }
    let run = RunArgs { profile: None, command: args[2..].to_vec(), ..RunArgs::default() };
    Some(
        request(Box::new(run), &ArgMatches::default(), host)
            .map(|request| Command::Run { request, verbose: false }),
    )
}

/// Whether argv may ask for help: `-h`, `--help` or a `help` subcommand
/// before the command (`--`). Erring towards yes only costs time.
fn asks_for_help(args: &[OsString]) -> bool {
    let options = args.iter().skip(1).take_while(|a| *a != "--");
    options
        .into_iter()
        .any(|a| a == "--help" || a == "-h" || a == "help" || a.to_string_lossy().starts_with("-h"))
}

fn request(run: Box<RunArgs>, m: &ArgMatches, host: &Host) -> Result<Request, UsageError> {
    let settings = ordered::settings(&run, m, host)?;
    Ok(Request { profile: run.profile.clone(), settings, run })
}

fn clap_error(e: clap::Error, args: &[OsString]) -> Result<Command, UsageError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
            if let Some(line) = usage::bwrap_spelling(arg, args) {
                return Err(UsageError(line));
            }
        }
    }
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(Command::Print(e.render().to_string())),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Err(UsageError(
            "no command given: usage: sandbox [OPTIONS] -- COMMAND [ARGS...] (see sandbox --help)".into(),
        )),
        _ => {
            let mut msg = first_line(&e);
            if let Some(values) = usage::valid_values(&e) {
                msg.push_str(&format!(": {values}"));
            } else if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedArg) {
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

#[cfg(test)]
mod tests;
