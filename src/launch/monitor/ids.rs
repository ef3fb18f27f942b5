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
//! EINVAL with no reason; [`probe::userns_hint`] reads the knobs that cause it and
//! names the one to change.

use std::path::Path;

use nix::errno::Errno;

use crate::launch::error::{Result, SetupError};
use crate::launch::probe::{self, userns_hint};
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

/// The error for a clone(CLONE_NEWUSER | ...) that failed, with the
/// host setting that refuses it, if one does.
pub fn clone_error(e: Errno) -> SetupError {
    let err = SetupError::errno("create namespaces", e);
    match probe::userns_fix(e) {
        Some(hint) => err.hint(hint),
        None => err,
    }
}
