//! User and group id maps.
//!
//! The monitor, still in the caller's user namespace, writes the child's
//! `uid_map` and `gid_map`: one line each mapping the id the command sees
//! inside to the caller's own id outside. An unprivileged process may map
//! only its own ids, and only after writing `deny` to `setgroups` (so that
//! dropping a supplementary group can never be used to gain access,
//! CVE-2014-8989). The child waits until the maps are written.
//!
//! Where user namespaces are refused, the kernel says EPERM, ENOSPC or
//! EINVAL with no reason; [`userns_hint`] reads the knobs that cause it and
//! names the one to change.

use std::path::Path;

use nix::errno::Errno;

use super::error::{Result, SetupError};
use crate::plan::Ids;

pub fn write_maps(pid: libc::pid_t, inside: Ids, outside_uid: u32, outside_gid: u32) -> Result<()> {
    let dir = format!("/proc/{pid}");
    let write = |file: &str, text: String| -> Result<()> {
        std::fs::write(format!("{dir}/{file}"), text).map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            let err = SetupError::errno(format!("write {file}"), errno);
            match userns_hint() {
                Some(h) if errno == Errno::EPERM || errno == Errno::EACCES => err.hint(h),
                _ => err,
            }
        })
    };
    match write("setgroups", "deny".into()) {
        // Kernels before 3.19 have no setgroups file.
        Err(_) if !Path::new(&format!("{dir}/setgroups")).exists() => {}
        other => other?,
    }
    write("uid_map", format!("{} {outside_uid} 1\n", inside.uid))?;
    write("gid_map", format!("{} {outside_gid} 1\n", inside.gid))
}

fn read_num(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Names the host setting that refuses unprivileged user namespaces, if one does.
pub fn userns_hint() -> Option<String> {
    if read_num("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        return Some(
            "unprivileged user namespaces are disabled: run 'sudo sysctl kernel.unprivileged_userns_clone=1'"
                .into(),
        );
    }
    if read_num("/proc/sys/user/max_user_namespaces") == Some(0) {
        return Some(
            "user.max_user_namespaces is 0 here: run 'sudo sysctl user.max_user_namespaces=15000' \
             (inside a container, the container's own limit applies)"
                .into(),
        );
    }
    if read_num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
        return Some(
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): run 'sudo sysctl \
             kernel.apparmor_restrict_unprivileged_userns=0', or give sandbox an AppArmor profile with 'userns,'"
                .into(),
        );
    }
    None
}

/// Said with every refusal: the way to run without user namespaces.
const LANDLOCK_ONLY: &str =
    "; or run without namespaces, confined by landlock: --mode landlock (or --best-effort)";

/// The error for a clone(CLONE_NEWUSER | ...) that failed.
pub fn clone_error(e: Errno) -> SetupError {
    let err = SetupError::errno("create namespaces", e);
    let hint = match (userns_hint(), e) {
        (Some(h), _) => h,
        (None, Errno::EINVAL) => "this kernel lacks user namespaces (CONFIG_USER_NS)".into(),
        (None, Errno::ENOSPC) => "too many nested user namespaces (user.max_user_namespaces)".into(),
        (None, Errno::EPERM) => {
            "user namespaces are refused here; inside a container, a seccomp profile or a \
             security module may forbid them"
                .into()
        }
        _ => return err,
    };
    err.hint(format!("{hint}{LANDLOCK_ONLY}"))
}
