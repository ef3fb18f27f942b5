//! Executes a Plan: the only code that calls clone, mount, pivot_root, prctl.
//!
//! The order of the steps is fixed and stated once, below. Landlock forbids
//! mount changes, so it follows the file system; seccomp may forbid
//! anything, so it comes last, just before execve. clone with
//! CLONE_NEWUSER needs a single-threaded caller: nothing here starts threads.

mod begin;
mod cgroup;
mod confine;
mod direct;
pub mod error;
mod exec;
mod files;
mod fs;
mod hostfile;
mod ids;
mod init;
mod landlock;
mod locks;
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
mod timeout;
mod tty;
mod usernet;
mod userns;

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

/// A step of the command's process; it may change what execve is given.
type CommandStep = fn(&Ctx, &mut exec::Exec) -> error::Result<()>;

/// Steps of the command's process before execve, in order. They run in
/// landlock-only mode too (without namespaces, see `direct.rs`).
///
/// Order: the block fd first (the caller holds the command back), then
/// the ids inside a joined user namespace, which the working directory
/// and the label are then checked as; setuid clears the parent-death
/// signal, so it is set again after. The terminal needs the new session
/// (setsid) before it and is in place before anything that may restrict
/// ioctls. landlock needs no_new_privs before it and the finished file
/// system (it forbids mounts); its rules are opened inside the new root,
/// in this process. The rlimits come after landlock, so a tight `nofile`
/// or `as` limit meant for the command cannot break the opening of the
/// rules (landlock has no say over setrlimit), and before seccomp (a
/// filter may forbid setrlimit). seccomp comes after landlock (a filter
/// may forbid the landlock syscalls) and stays the very last entry: a
/// filter may forbid what any earlier step needs.
const COMMAND_STEPS: [(&str, CommandStep); 13] = [
    ("block", |ctx, _| begin::block(ctx)),
    ("ids", |ctx, _| begin::switch_ids(ctx)),
    ("cwd", begin::cwd),
    ("exec label", |ctx, _| begin::exec_label(ctx)),
    ("die with parent", |ctx, _| begin::die_with_parent(ctx)),
    ("session", |ctx, _| begin::session(ctx)),
    ("terminal", |ctx, _| tty::attach(ctx)),
    ("capabilities", |ctx, _| confine::capabilities(ctx)),
    ("no_new_privs", |ctx, _| confine::no_new_privs(ctx)),
    ("fds", |ctx, _| confine::fds(ctx)),
    ("landlock", |ctx, _| landlock::restrict(ctx)),
    ("limits", |ctx, _| rlimit::apply(ctx)),
    ("seccomp", |ctx, _| seccomp::install(ctx)),
];

/// Runs `plan` and returns the exit status: the command's own, or 128+N
/// when it was killed by signal N. A failed setup, or a command that
/// cannot be executed, is returned for the front end to word.
pub fn run(plan: &Plan, opts: &Options) -> error::Result<u8> {
    // Built before clone: a bad policy is an error with nothing started.
    let filters = seccomp::prepare(plan)?;
    let ctx = Ctx { plan, verbose: opts.verbose, filters: &filters, pause_at: opts.pause_at.as_deref() };
    monitor::start(&ctx)
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
fn prepare_command(ctx: &Ctx, umask: Mode, exec: &mut exec::Exec) -> error::Result<()> {
    nix::sys::stat::umask(umask);
    for (name, step) in COMMAND_STEPS {
        step(ctx, exec)?;
        ctx.pause(name);
    }
    Ok(())
}
