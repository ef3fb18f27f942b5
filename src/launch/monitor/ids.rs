//! User and group id maps.
//!
//! The monitor, still in the caller's user namespace, writes the child's
//! `uid_map` and `gid_map`: one line each mapping the id the command sees
//! inside to the caller's own id outside. An unprivileged process may map
//! only its own ids, and only after writing `deny` to `setgroups` (so that
//! dropping a supplementary group can never be used to gain access,
//! CVE-2014-8989). The child waits until the maps are written.
//!
//! With `--userns auto` ([`write_ranges`]) the maps hold subordinate ids,
//! which only the setuid helpers newuidmap and newgidmap may write for an
//! unprivileged caller; they check the lines against /etc/subuid and
//! /etc/subgid, and newgidmap allows setgroups when it maps a range. The
//! monitor reads both maps and setgroups back before init goes on.
//!
//! Where user namespaces are refused, the kernel says EPERM, ENOSPC or
//! EINVAL with no reason; [`probe::userns_hint`] reads the knobs that cause it and
//! names the one to change.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::SigSet;

use crate::escape;
use crate::idmap::{self, Extent, Setgroups};
use crate::launch::error::{Result, SetupError};
use crate::launch::probe::{self, userns_hint};
use crate::plan::{Ids, Ranges};

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

/// `--userns auto`: the maps written by newuidmap and newgidmap (or by the
/// monitor itself when the caller is root), then read back: the kernel
/// must hold exactly the lines the Plan asked for, and setgroups what it
/// says, or the sandbox does not start.
pub fn write_ranges(pid: libc::pid_t, r: &Ranges) -> Result<()> {
    match &r.helpers {
        Some(h) => {
            run_helper(&h.newuidmap, pid, &r.uid)?;
            run_helper(&h.newgidmap, pid, &r.gid)?;
        }
        None => {
            let dir = format!("/proc/{pid}");
            let write = |file: &str, text: String| {
                std::fs::write(format!("{dir}/{file}"), text).map_err(|e| {
                    SetupError::errno(
                        format!("write {file}"),
                        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    )
                })
            };
            if r.setgroups == Setgroups::Deny {
                write("setgroups", "deny".into())?;
            }
            write("uid_map", idmap::map_text(&r.uid))?;
            write("gid_map", idmap::map_text(&r.gid))?;
        }
    }
    verify(pid, r)
}

/// How long newuidmap or newgidmap may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a map helper for `pid` with the lines of `map`, bounded by
/// [`HELPER_TIMEOUT`]; its own complaint is the error.
fn run_helper(helper: &Path, pid: libc::pid_t, map: &[Extent]) -> Result<()> {
    let name = helper.file_name().map_or_else(|| escape::path(helper), escape::os);
    let what = || name.clone();
    let io =
        |e: std::io::Error| SetupError::errno(what(), Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    let mut cmd = std::process::Command::new(helper);
    cmd.args(idmap::helper_args(pid, map)).env_clear().stdin(Stdio::null()).stdout(Stdio::null());
    cmd.stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child of the single-threaded
    // monitor before exec and only changes its signal mask.
    unsafe {
        cmd.pre_exec(|| SigSet::empty().thread_set_mask().map_err(Into::into));
    }
    let mut child = cmd.spawn().map_err(io)?;
    let end = Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(io)? {
            Some(status) => break status,
            None if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.try_wait();
                return Err(SetupError::new(
                    what(),
                    format!("did not finish in {} s", HELPER_TIMEOUT.as_secs()),
                ));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut said = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut said);
    }
    let line = said.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").to_string();
    let line = line.strip_prefix(&format!("{name}: ")).unwrap_or(&line).to_string();
    let cause = if line.is_empty() { format!("failed ({status})") } else { escape::str(&line) };
    Err(SetupError::new(what(), cause).hint(
        "it checks the ranges against /etc/subuid and /etc/subgid; `sandbox check` shows yours, \
         `sandbox explain --userns auto` the lines asked for",
    ))
}

/// Reads the maps and setgroups back from /proc/PID.
fn verify(pid: libc::pid_t, r: &Ranges) -> Result<()> {
    let read = |file: &str| std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    for (file, wanted) in [("uid_map", &r.uid), ("gid_map", &r.gid)] {
        let text = read(file);
        let found = idmap::parse_map_file(&text).unwrap_or_default();
        if !idmap::same_map(wanted, &found) {
            let shown = |m: &[Extent]| m.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
            return Err(SetupError::new(
                format!("check {file}"),
                format!("it holds [{}], not the [{}] asked for", shown(&found), shown(wanted)),
            ));
        }
    }
    let setgroups = read("setgroups");
    if setgroups.trim() != r.setgroups.word() {
        return Err(SetupError::new(
            "check setgroups",
            format!("it says {:?}, not {:?}", setgroups.trim(), r.setgroups.word()),
        ));
    }
    Ok(())
}
