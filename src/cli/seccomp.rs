//! Seccomp options of the native command line.
//!
//! Files named here are read and checked now, so that the Plan carries the
//! rules themselves and a typo is a usage error before anything starts.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, ValueEnum};

use super::UsageError;
use crate::escape;
use crate::plan::seccomp::{errno_from_name, Base, Deny};
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
    #[arg(long, value_name = "FD", value_parser = clap::value_parser!(i32).range(3..), action = ArgAction::Append)]
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
            let (name, errno) = match v.split_once(':') {
                Some((n, e)) => {
                    let errno = errno_from_name(e).ok_or_else(|| {
                        err("seccomp-deny", v, format!("unknown errno `{}`", escape::str(e)))
                    })?;
                    (n, errno)
                }
                None => (v.as_str(), libc::EPERM as u32),
            };
            syscalls::check(name).map_err(|e| err("seccomp-deny", v, e))?;
            s.deny.push(Deny { syscall: name.to_string(), errno });
        }
        for name in &self.seccomp_allow {
            syscalls::check(name).map_err(|e| err("seccomp-allow", name, e))?;
            if !policy::default_denies(name) {
                return Err(err("seccomp-allow", name, "the built-in policy does not deny it".into()));
            }
            s.allow.push(name.clone());
        }
        for file in &self.seccomp_policy {
            let (text, shown) = read("seccomp-policy", file)?;
            let p = policy::load(&text, &shown).map_err(|e| err("seccomp-policy", &shown, e))?;
            s.policies.push(p);
        }
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        for file in &self.seccomp_oci {
            let (text, shown) = read("seccomp-oci", file)?;
            let facts = oci::Facts { caps: &plan.process.caps, kernel: kernel.trim() };
            let p = oci::import(&text, &shown, &facts).map_err(|e| err("seccomp-oci", &shown, e))?;
            plan.seccomp.policies.push(p);
        }
        let s = &mut plan.seccomp;
        s.log |= self.seccomp_log;
        s.allow_userns |= self.allow_userns;
        s.bpf_fds.extend(&self.add_seccomp_fd);
        Ok(())
    }
}

fn read(flag: &str, file: &OsString) -> Result<(String, String), UsageError> {
    let shown = escape::path(Path::new(file));
    let text = std::fs::read_to_string(file).map_err(|e| {
        let text = e.to_string();
        let cause = text.split(" (os error ").next().unwrap_or(&text);
        UsageError(format!("--{flag} {shown}: {cause}"))
    })?;
    Ok((text, shown))
}
