//! Seccomp options of the native command line.
//!
//! Files named here are read and checked now, so that the Plan carries the
//! rules themselves and a typo is a usage error before anything starts.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, ValueEnum};

use super::UsageError;
use crate::escape;
use crate::plan::seccomp::{errno_from_name, Base, Deny, Policy};
use crate::plan::Plan;
use crate::seccomp::{oci, policy, syscalls};

/// `--seccomp MODE`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The built-in deny-list (see below).
    Default,
    /// No built-in filter.
    None,
}

#[derive(clap::Args, Debug, Default)]
pub struct SeccompArgs {
    /// Built-in system-call filter: `default` (a deny-list of kernel attack surface) or `none`.
    #[arg(long, value_name = "MODE", value_enum, long_help = policy::help_text())]
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
    pub fn apply(&self, plan: &mut Plan) -> Result<(), UsageError> {
        let err = |flag: &str, v: &str, e: String| UsageError(format!("--{flag} {}: {e}", escape::str(v)));
        let s = &mut plan.seccomp;
        match self.seccomp {
            Some(Mode::Default) => s.base = Base::Default,
            Some(Mode::None) => s.base = Base::None,
            None => {}
        }
        for v in &self.seccomp_deny {
            s.deny.push(parse_deny(v).map_err(|e| err("seccomp-deny", v, e))?);
        }
        for name in &self.seccomp_allow {
            s.allow.push(check_allow(name).map_err(|e| err("seccomp-allow", name, e))?);
        }
        for file in &self.seccomp_policy {
            let p = load_file(Path::new(file), false, &plan.process.caps).map_err(UsageError)?;
            plan.seccomp.policies.push(p);
        }
        for file in &self.seccomp_oci {
            let p = load_file(Path::new(file), true, &plan.process.caps).map_err(UsageError)?;
            plan.seccomp.policies.push(p);
        }
        let s = &mut plan.seccomp;
        s.log |= self.seccomp_log;
        s.allow_userns |= self.allow_userns;
        s.bpf_fds.extend(&self.add_seccomp_fd);
        Ok(())
    }
}

/// `NAME[:ERRNO]` of `--seccomp-deny` (EPERM when no errno is given).
pub fn parse_deny(v: &str) -> Result<Deny, String> {
    let (name, errno) = match v.split_once(':') {
        Some((n, e)) => (n, errno_from_name(e).ok_or_else(|| format!("unknown errno `{}`", escape::str(e)))?),
        None => (v, libc::EPERM as u32),
    };
    syscalls::check(name)?;
    Ok(Deny { syscall: name.to_string(), errno })
}

/// A name for `--seccomp-allow`: a system call the built-in policy denies.
pub fn check_allow(name: &str) -> Result<String, String> {
    syscalls::check(name)?;
    if !policy::default_denies(name) {
        return Err("the built-in policy does not deny it".into());
    }
    Ok(name.to_string())
}

/// Reads a policy file: our JSON format, or (when `oci`) an OCI runtime
/// config or its `linux.seccomp` object. Errors name the flag and file.
pub fn load_file(file: &Path, oci: bool, caps: &[String]) -> Result<Policy, String> {
    let flag = if oci { "--seccomp-oci" } else { "--seccomp-policy" };
    let shown = escape::path(file);
    let text = std::fs::read_to_string(file).map_err(|e| format!("{flag} {shown}: {}", escape::cause(&e)))?;
    let loaded = if oci {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        oci::import(&text, &shown, &oci::Facts { caps, kernel: kernel.trim() })
    } else {
        policy::load(&text, &shown)
    };
    loaded.map_err(|e| format!("{flag} {shown}: {e}"))
}
