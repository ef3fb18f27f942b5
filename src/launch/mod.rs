//! Executes a Plan: the only code that calls clone, mount, pivot_root, prctl.
//!
//! The order of the steps is fixed and stated once, below. Landlock forbids
//! mount changes, so it follows the file system; seccomp may forbid
//! anything, so it comes last, just before execve. clone with
//! CLONE_NEWUSER needs a single-threaded caller: nothing here starts threads.

mod bwrap;
mod cgroup;
mod confine;
mod direct;
mod error;
mod exec;
mod files;
mod fs;
mod hostfile;
mod ids;
mod init;
mod landlock;
mod meta;
mod monitor;
mod narrow;
mod net;
mod netargs;
mod notify;
mod overlay;
pub mod probe;
mod reaper;
mod remount;
mod resolve;
mod rlimit;
mod scratch;
mod seccomp;
mod slirpapi;
mod special;
mod status;
mod supervise;
mod sys;
mod systemd;
mod timeout;
mod tty;
mod usernet;

use nix::sys::stat::Mode;

pub use error::SetupError;

use crate::plan::Plan;

/// Resolves `path` inside the directory `root` the way every mount
/// destination is resolved (openat2 RESOLVE_IN_ROOT, or the fallback walk
/// when `fallback`), and returns where it landed. For tests and fuzzing.
pub fn resolve_in_root(
    root: &std::path::Path,
    path: &std::path::Path,
    fallback: bool,
) -> std::io::Result<std::path::PathBuf> {
    fs::resolve_for_test(root, path, fallback).map_err(|e| std::io::Error::from_raw_os_error(e as i32))
}

/// How to run, beyond what the Plan says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each setup step on stderr.
    pub verbose: bool,
    /// Test hook, honoured by debug builds only: wait forever at this setup
    /// stage, renamed `sbx-paused`, so a test can kill the monitor there.
    /// In the monitor: `before-maps`, `cgroup` (init in the sandbox's
    /// cgroup), `user-net` (the backend ready); in init: `persist-lock`
    /// (state directories locked), `mounts` (after the first mount); in the
    /// command's process: after each of `COMMAND_STEPS` by its name
    /// (`landlock`, `seccomp`, …).
    pub pause_at: Option<String>,
}

/// What every step sees.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub verbose: bool,
    /// Seccomp programs, built before clone.
    pub filters: &'a seccomp::Filters,
    /// See [`Options::pause_at`].
    pub pause_at: Option<&'a str>,
}

impl Ctx<'_> {
    /// The test hook of [`Options::pause_at`].
    pub fn pause(&self, stage: &str) {
        // Not SIGSTOP: pid 1 of a pid namespace ignores even a stop signal
        // it sends itself.
        if cfg!(debug_assertions) && self.pause_at == Some(stage) {
            let _ = nix::sys::prctl::set_name(c"sbx-paused");
            loop {
                nix::unistd::pause();
            }
        }
    }

    pub fn log(&self, step: &str, detail: &str) {
        if self.verbose {
            eprintln!("sandbox: {step}: {detail}");
        }
    }
}

type Step = fn(&Ctx) -> error::Result<()>;

/// Steps of init (pid 1) after the file system is built, in order.
const INIT_STEPS: [(&str, Step); 2] = [("hostname", net::hostname), ("loopback", net::loopback)];

/// Steps of the command's process before execve, in order. They run in
/// landlock-only mode too (without namespaces, see `direct.rs`).
///
/// Order: the terminal needs the new session (setsid) before it and is in
/// place before anything that may restrict ioctls. landlock needs
/// no_new_privs before it and the finished file system (it forbids mounts);
/// its rules are opened inside the new root, in this process. The rlimits
/// come after landlock, so a tight `nofile` or `as` limit meant for the
/// command cannot break the opening of the rules (landlock has no say over
/// setrlimit), and before seccomp (a filter may forbid setrlimit). seccomp
/// comes after landlock (a filter may forbid the landlock syscalls) and
/// stays the very last entry: a filter may forbid what any earlier step needs.
const COMMAND_STEPS: [(&str, Step); 9] = [
    ("session", session),
    ("terminal", tty::attach),
    ("cwd", cwd),
    ("capabilities", confine::capabilities),
    ("no_new_privs", confine::no_new_privs),
    ("fds", confine::fds),
    ("landlock", landlock::restrict),
    ("limits", rlimit::apply),
    ("seccomp", seccomp::install),
];

/// Runs `plan` and returns the exit status: the command's own, 128+N when it
/// was killed by signal N, 125 when setup failed, 126/127 when the command
/// cannot be executed / was not found.
///
/// A Plan from the bwrap front end reports a setup failure as bubblewrap
/// does: one `bwrap: …` line in its words, exit status 1.
pub fn run(plan: &Plan, opts: &Options) -> u8 {
    // Built before clone: a bad policy is an error with nothing started.
    let filters = match seccomp::prepare(plan) {
        Ok(f) => f,
        Err(e) => return failed(plan, &e),
    };
    let ctx = Ctx { plan, verbose: opts.verbose, filters: &filters, pause_at: opts.pause_at.as_deref() };
    match monitor::start(&ctx) {
        Ok(code) => code,
        Err(e) => failed(plan, &e),
    }
}

/// Prints a setup failure and returns the exit status for it.
fn failed(plan: &Plan, e: &SetupError) -> u8 {
    match &plan.bwrap {
        Some(b) => {
            eprintln!("{}", crate::compat::message(b.level_prefix, 3, &e.bwrap_line()));
            1
        }
        None => {
            eprintln!("sandbox: {e}");
            e.code
        }
    }
}

/// What init keeps open for the sandbox's life.
pub struct Held {
    /// Locks on persist state directories.
    pub locks: Vec<nix::fcntl::Flock<std::fs::File>>,
}

/// Init's setup: mounts and pivot_root, then the init steps.
fn setup(ctx: &Ctx) -> error::Result<Held> {
    let mut sources = fs::open_sources(&ctx.plan.fs)?;
    let locks = sources.take_locks();
    ctx.pause("persist-lock");
    fs::apply(ctx, sources)?;
    for (_name, step) in INIT_STEPS {
        step(ctx)?;
    }
    Ok(Held { locks })
}

/// The command's own setup, after fork.
fn prepare_command(ctx: &Ctx, umask: Mode) -> error::Result<()> {
    nix::sys::stat::umask(umask);
    for (name, step) in COMMAND_STEPS {
        step(ctx)?;
        ctx.pause(name);
    }
    Ok(())
}

fn session(ctx: &Ctx) -> error::Result<()> {
    if ctx.plan.process.new_session {
        ctx.log("session", "setsid");
        nix::unistd::setsid().map_err(|e| SetupError::errno("setsid", e))?;
    }
    Ok(())
}

fn cwd(ctx: &Ctx) -> error::Result<()> {
    if ctx.plan.bwrap.is_some() {
        // Already chosen by bubblewrap's fallback rule (bwrap::choose_cwd).
        return Ok(());
    }
    let dir = ctx.plan.process.cwd.as_deref().unwrap_or(std::path::Path::new("/"));
    let shown = crate::escape::path(dir);
    ctx.log("cwd", &shown);
    // Resolved inside the root with magic links refused, then checked: an
    // inherited fd must never become a working directory outside the
    // sandbox (`--cwd /proc/self/fd/N`, CVE-2024-21626 in runc).
    let err = |e| SetupError::errno(format!("cwd {shown}"), e);
    let fd = fs::open_dir_in_current_root(dir).map_err(err)?;
    nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(err)?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(SetupError::new(format!("cwd {shown}"), "it is not reachable from the sandbox's root")),
    }
}
