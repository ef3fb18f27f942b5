//! Resource limits (setrlimit) of the command, set just before execve and
//! inherited by everything it starts.
//!
//! Lowering a limit needs no privilege. Raising a hard limit needs
//! CAP_SYS_RESOURCE in the host's user namespace, which the sandbox never
//! has, so a limit above the caller's own hard limit is a setup error that
//! names the current one. RLIMIT_NPROC counts the processes of a user per
//! user namespace (Linux 5.14+): inside the sandbox's own user namespace it
//! counts the sandbox's processes, not those the same user runs elsewhere.

use crate::launch::error::{Result, SetupError};
use crate::launch::Ctx;
use crate::plan::limits::{Resource, Rlimit};

fn resource(r: Resource) -> libc::__rlimit_resource_t {
    match r {
        Resource::As => libc::RLIMIT_AS,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::Data => libc::RLIMIT_DATA,
        Resource::Fsize => libc::RLIMIT_FSIZE,
        Resource::Memlock => libc::RLIMIT_MEMLOCK,
        Resource::Nofile => libc::RLIMIT_NOFILE,
        Resource::Nproc => libc::RLIMIT_NPROC,
        Resource::Stack => libc::RLIMIT_STACK,
    }
}

fn raw(v: Option<u64>) -> libc::rlim_t {
    v.unwrap_or(libc::RLIM_INFINITY)
}

fn show(v: libc::rlim_t) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

fn get(r: Resource) -> Option<libc::rlimit> {
    let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct passed.
    (unsafe { libc::getrlimit(resource(r), &mut cur) } == 0).then_some(cur)
}

fn set(limit: &Rlimit) -> Result<()> {
    let new = libc::rlimit { rlim_cur: raw(limit.soft), rlim_max: raw(limit.hard) };
    // SAFETY: setrlimit only reads the struct passed.
    if unsafe { libc::setrlimit(resource(limit.resource), &new) } == 0 {
        return Ok(());
    }
    let e = nix::errno::Errno::last();
    let mut err = SetupError::errno(format!("limit {limit}"), e);
    if let (nix::errno::Errno::EPERM, Some(cur)) = (e, get(limit.resource)) {
        err = err.hint(format!(
            "the hard limit of {} is {} here: an unprivileged process can lower it, not raise it",
            limit.resource.name(),
            show(cur.rlim_max)
        ));
    }
    Err(err)
}

/// The command's step: every limit of the plan, in order.
pub fn apply(ctx: &Ctx) -> Result<()> {
    for limit in &ctx.plan.limits.rlimits {
        ctx.log("limit", &limit.to_string());
        set(limit)?;
    }
    Ok(())
}
