//! Executes a Plan: the only code that calls clone, mount, pivot_root,
//! prctl. Grouped by the process that runs each step, in the order they
//! run:
//!
//! ```text
//! run        the seccomp programs (filters.rs), then the monitor
//! monitor/   before clone: checks, cgroup, pty, status fds; clone;
//!            after clone: id maps, cgroup, user-mode network; release;
//!            while init builds the root: the network ready and its
//!            firewall set up; the second byte;
//!            then supervise until init ends          (monitor/mod.rs)
//! init/      pid 1: the new root (root/), hostname, loopback, the nested
//!            user namespace, lock files; fork the command; reap
//!                                                   (init/mod.rs)
//! root/      the new root: sources, scratch, each operation, narrowing,
//!            read-only root, pivot_root               (root/mod.rs)
//! command/   the command's steps, seccomp last; execve (command/mod.rs)
//! ```
//!
//! Each folder's `mod.rs` lists its steps in order. root/ makes every call
//! through the `Sys` trait (sys/: the kernel, or a recording double in
//! unit tests). A folder uses the
//! leaves beside this file (ctx, error, sys, filters, hostfile, netns, probe) and
//! the folders after it in this list, never one before it: monitor may
//! use init, root and command; init may use root and command; command may
//! use root (path resolution); root uses only the leaves.
//!
//! Landlock forbids mount changes, so it follows the file system; seccomp
//! may forbid anything, so it comes last, just before execve. clone with
//! CLONE_NEWUSER needs a single-threaded caller: nothing here starts a
//! thread before it (the egress filter's threads start in the monitor
//! after clone, once the helper it forks has gone).

mod command;
mod ctx;
pub mod error;
mod filters;
pub mod hostfile;
mod init;
mod monitor;
pub mod netns;
pub mod probe;
mod root;
mod sys;

pub use ctx::{Ctx, Options};
pub use error::SetupError;

use crate::plan::Plan;

/// What a run checks before anything starts, checked without starting or
/// making anything: the seccomp programs compile, every bind source and
/// overlay layer is there (a directory the run is to create may be
/// missing), every `--hide` names something. The native front end calls
/// it before a run and for `sandbox explain`, so a command line that cannot
/// run fails there with the same line and nothing made on the host. (The
/// bwrap front end does not: bubblewrap reports these after its info fd.)
/// A run goes on with [`Checked::run`], which installs the programs
/// compiled here.
pub fn check(plan: &Plan) -> error::Result<Checked<'_>> {
    let policy = filters::check(plan)?;
    if plan.mode == crate::plan::landlock::Mode::Namespaces {
        root::sources::check(&sys::RealSys, &plan.fs, &plan.root.create_dirs)?;
    }
    Ok(Checked { plan, policy })
}

/// A Plan [`check`] found fit to run, with its seccomp policy compiled.
pub struct Checked<'a> {
    plan: &'a Plan,
    policy: filters::Policy,
}

impl Checked<'_> {
    /// [`run`], with the seccomp policy [`check`] compiled.
    pub fn run(self, opts: &Options) -> error::Result<u8> {
        start(self.plan, Some(self.policy), opts)
    }
}

/// Runs `plan` and returns the exit status: the command's own, or 128+N
/// when it was killed by signal N. A failed setup, or a command that
/// cannot be executed, is returned for the front end to word.
pub fn run(plan: &Plan, opts: &Options) -> error::Result<u8> {
    start(plan, None, opts)
}

fn start(plan: &Plan, policy: Option<filters::Policy>, opts: &Options) -> error::Result<u8> {
    ctx::begin(opts.verbose);
    // Built before clone: a bad policy is an error with nothing started.
    let filters = filters::prepare(plan, policy)?;
    crate::trace::step("monitor", "seccomp program compiled");
    let caller =
        crate::plan::Ids { uid: nix::unistd::getuid().as_raw(), gid: nix::unistd::getgid().as_raw() };
    let ctx = Ctx {
        plan,
        verbose: opts.verbose,
        filters: &filters,
        pause_at: opts.pause_at.as_deref(),
        dns_floor: opts.dns_floor,
        egress_fault: opts.egress_fault.as_deref(),
        caller,
    };
    monitor::start(&ctx)
}

/// Resolves `path` inside the directory `root` the way every mount
/// destination is resolved (openat2 RESOLVE_IN_ROOT, or the fallback walk
/// when `fallback`), and returns where it landed. For tests and fuzzing.
pub fn resolve_in_root(
    root: &std::path::Path,
    path: &std::path::Path,
    fallback: bool,
) -> std::io::Result<std::path::PathBuf> {
    root::resolve::resolve_for_test(root, path, fallback)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
}
