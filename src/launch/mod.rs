//! Executes a Plan: the only code that calls clone, mount, pivot_root, prctl.
//!
//! The order of the steps is fixed and stated once, below. Landlock (once it
//! lands) forbids mount changes, so it follows the file system; seccomp may
//! forbid anything, so it comes last, just before execve. clone with
//! CLONE_NEWUSER needs a single-threaded caller: nothing here starts threads.

mod bpf;
mod bwrap;
mod confine;
mod error;
mod exec;
mod files;
mod fs;
mod ids;
mod monitor;
mod net;
mod overlay;
pub mod probe;
mod remount;
mod scratch;
mod special;
pub mod status;
mod sys;

use nix::sys::stat::Mode;

pub use error::SetupError;

use crate::plan::Plan;

/// How to run, beyond what the Plan says.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each setup step on stderr.
    pub verbose: bool,
}

/// What every step sees.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub verbose: bool,
}

impl Ctx<'_> {
    pub fn log(&self, step: &str, detail: &str) {
        if self.verbose {
            eprintln!("sandbox: {step}: {detail}");
        }
    }
}

type Step = fn(&Ctx) -> error::Result<()>;

/// Steps of init (pid 1) after the file system is built, in order.
const INIT_STEPS: [(&str, Step); 2] = [("hostname", net::hostname), ("loopback", net::loopback)];

/// Steps of the command's process before execve, in order.
const COMMAND_STEPS: [(&str, Step); 5] = [
    ("session", session),
    ("cwd", cwd),
    ("capabilities", confine::capabilities),
    ("no_new_privs", confine::no_new_privs),
    ("fds", confine::fds),
];

/// Runs `plan` and returns the exit status: the command's own, 128+N when it
/// was killed by signal N, 125 when setup failed, 126/127 when the command
/// cannot be executed / was not found.
///
/// A Plan from the bwrap front end reports a setup failure as bubblewrap
/// does: one `bwrap: …` line in its words, exit status 1.
pub fn run(plan: &Plan, opts: &Options) -> u8 {
    let ctx = Ctx { plan, verbose: opts.verbose };
    match monitor::start(&ctx) {
        Ok(code) => code,
        Err(e) => match &plan.bwrap {
            Some(b) => {
                eprintln!("{}", crate::compat::message(b.level_prefix, 3, &e.bwrap_line()));
                1
            }
            None => {
                eprintln!("sandbox: {e}");
                e.code
            }
        },
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
    fs::apply(ctx, sources)?;
    for (_name, step) in INIT_STEPS {
        step(ctx)?;
    }
    Ok(Held { locks })
}

/// The command's own setup, after fork.
fn prepare_command(ctx: &Ctx, umask: Mode) -> error::Result<()> {
    nix::sys::stat::umask(umask);
    for (_name, step) in COMMAND_STEPS {
        step(ctx)?;
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
    ctx.log("cwd", &crate::escape::path(dir));
    nix::unistd::chdir(dir).map_err(|e| SetupError::errno(format!("cwd {}", crate::escape::path(dir)), e))
}
