//! Seccomp options of the native command line.
//!
//! Names are checked here (a typo is a usage error naming the flag); the
//! files named are read when the settings are folded.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, ValueEnum};

use super::ordered::Ordered;
use super::UsageError;
use crate::escape;
use crate::plan::seccomp::Base;
use crate::seccomp::policy;
use crate::settings::Setting;

/// `--seccomp MODE`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The built-in deny-list (see below).
    Default,
    /// No built-in filter.
    None,
}

/// Whether `--seccomp`'s long help is built (see [`super::command`]).
pub(super) static LONG_HELP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--seccomp`'s long help: the built-in policy's rules with their reasons,
/// parsed from seccomp/default.json and landlock.json. Building it costs
/// more than parsing the rest of the command line, so it is there only
/// when help is asked for (empty otherwise: nothing shows it then).
fn long_help() -> String {
    match LONG_HELP.load(std::sync::atomic::Ordering::Relaxed) {
        true => policy::help_text(),
        false => String::new(),
    }
}

#[derive(clap::Args, Debug, Default)]
pub struct SeccompArgs {
    /// Built-in system-call filter: `default` (a deny-list of kernel attack surface) or `none`.
    #[arg(long, value_name = "MODE", value_enum, long_help = long_help())]
    pub seccomp: Option<Mode>,

    /// Make system call NAME fail with ERRNO (a name such as EACCES, or a number; default
    /// EPERM). Applied after the built-in policy, so its errno wins for the same call.
    #[arg(long, value_name = "NAME[:ERRNO]", action = ArgAction::Append)]
    pub seccomp_deny: Vec<String>,

    /// Take system call NAME out of the built-in policy's denies.
    #[arg(long, value_name = "NAME", action = ArgAction::Append)]
    pub seccomp_allow: Vec<String>,

    /// Also install the policy in FILE, in sandbox's JSON format (the format of
    /// seccomp/default.json: `default`, `rules` with `syscalls`, `action`, `args`).
    #[arg(long, value_name = "FILE", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub seccomp_policy: Vec<OsString>,

    /// Also install the seccomp policy of an OCI runtime config in FILE (its `linux.seccomp`,
    /// or the bare object, such as Docker's default profile). Every filter applies: add
    /// `--seccomp none` to run under that policy alone.
    #[arg(long, value_name = "FILE", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub seccomp_oci: Vec<OsString>,

    /// Dry run: calls any filter denies go through and are logged by the kernel
    /// (SECCOMP_RET_LOG; see the audit log or dmesg).
    #[arg(long)]
    pub seccomp_log: bool,

    /// Let the command create nested namespaces (unshare, setns, clone with namespace
    /// flags, clone3, mount): needed to run a sandbox or container tool inside.
    #[arg(long)]
    pub allow_userns: bool,

    /// Also install the raw classic-BPF program read from file descriptor FD (a
    /// `struct sock_filter` array, as bwrap's --add-seccomp-fd), after every other filter.
    #[arg(long, value_name = "FD", value_parser = clap::value_parser!(i32).range(3..), action = ArgAction::Append, allow_negative_numbers = true)]
    pub add_seccomp_fd: Vec<i32>,
}

impl SeccompArgs {
    /// The seccomp settings, in the order written.
    pub(super) fn settings(&self, o: &mut Ordered, home: &std::path::Path) -> Result<(), UsageError> {
        let base = self.seccomp.map(|m| match m {
            Mode::Default => Base::Default,
            Mode::None => Base::None,
        });
        o.one("seccomp", base.map(Setting::SeccompBase));
        let named = |v: &String, e: String| format!("{}: {e}", escape::str(v));
        o.each("seccomp_deny", &self.seccomp_deny, |v| {
            policy::parse_deny(v).map(Setting::SeccompDeny).map_err(|e| named(v, e))
        })?;
        o.each("seccomp_allow", &self.seccomp_allow, |v| {
            policy::check_allow(v).map(Setting::SeccompAllow).map_err(|e| named(v, e))
        })?;
        let file = |oci| {
            move |f: &OsString| {
                Ok(Setting::SeccompFile { path: PathBuf::from(crate::values::tilde(f, home)?), oci })
            }
        };
        o.each("seccomp_policy", &self.seccomp_policy, file(false))?;
        o.each("seccomp_oci", &self.seccomp_oci, file(true))?;
        o.one("seccomp_log", self.seccomp_log.then_some(Setting::SeccompLog));
        o.one("allow_userns", self.allow_userns.then_some(Setting::AllowUserns));
        o.each("add_seccomp_fd", &self.add_seccomp_fd, |fd| Ok(Setting::SeccompFd(*fd)))
    }
}
