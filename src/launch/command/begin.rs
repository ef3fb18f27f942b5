//! The command's first steps, before it is confined: the block fd, the ids
//! inside a joined user namespace, the working directory (and `PWD`), the
//! exec label, the parent-death signal again, the session.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::exec::Exec;
use crate::escape;
use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::Ctx;

/// Waits for one byte (or EOF) on the plan's block fd, if it has one.
pub fn block(ctx: &Ctx) -> Result<()> {
    if let Some(fd) = ctx.plan.process.block_fd {
        ctx.log("block", &format!("waiting on fd {fd}"));
        let mut byte = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut byte);
    }
    Ok(())
}

/// Inside a joined user namespace nobody wrote the maps for this run:
/// take the plan's ids there, those that differ from the caller's own (as
/// bubblewrap compares them with its real ids). After a switch to another
/// user namespace (`--userns2`), where the ids may not be mapped at all,
/// nothing changes unless other ids were asked for.
pub fn switch_ids(ctx: &Ctx) -> Result<()> {
    if ctx.plan.ns_setup.join_user_fd.is_none() {
        return Ok(());
    }
    let ids = ctx.plan.ids;
    if ids.gid != ctx.caller.gid {
        nix::unistd::setgid(ids.gid.into())
            .map_err(|e| SetupError::errno("setgid", e).kind(Kind::SetGid { gid: ids.gid }))?;
    }
    if ids.uid != ctx.caller.uid {
        nix::unistd::setuid(ids.uid.into())
            .map_err(|e| SetupError::errno("setuid", e).kind(Kind::SetUid { uid: ids.uid }))?;
    }
    Ok(())
}

/// The working directory: `cwd` (which must be there), else the first of
/// `cwd_fallback` that can be entered, else `/`; `PWD` set to it when the
/// plan says so.
pub fn cwd(ctx: &Ctx, exec: &mut Exec) -> Result<()> {
    let p = &ctx.plan.process;
    let dir = match &p.cwd {
        Some(dir) => {
            let shown = escape::path(dir);
            ctx.log("cwd", &shown);
            enter(dir).map_err(|e| {
                let err = match e {
                    Errno::EXDEV => {
                        SetupError::new(format!("cwd {shown}"), "it is not reachable from the sandbox's root")
                    }
                    e => SetupError::errno(format!("cwd {shown}"), e),
                };
                SetupError { errno: Some(e as i32), ..err }.kind(Kind::Chdir { dir: shown.clone() })
            })?;
            dir.as_path()
        }
        None => match p.cwd_fallback.iter().find(|d| enter(d).is_ok()) {
            Some(dir) => {
                ctx.log("cwd", &escape::path(dir));
                dir.as_path()
            }
            None => {
                ctx.log("cwd", "/");
                enter(Path::new("/"))
                    .map_err(|e| SetupError::errno("cwd /", e).kind(Kind::Chdir { dir: "/".into() }))?;
                Path::new("/")
            }
        },
    };
    if p.set_pwd {
        exec.set_env("PWD", &OsString::from(dir));
    }
    Ok(())
}

/// chdir, resolved inside the sandbox's root with magic links refused,
/// then checked: an inherited descriptor (`--cwd /proc/self/fd/N`) never
/// becomes a working directory outside it (the cwd escape of
/// CVE-2024-21626 in runc). EXDEV when it would.
fn enter(dir: &Path) -> nix::Result<()> {
    let fd = crate::launch::root::resolve::open_dir_in_current_root(dir)?;
    nix::unistd::fchdir(fd.as_raw_fd())?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(Errno::EXDEV),
    }
}

/// SELinux's exec context for the command, where SELinux is on (nothing
/// happens elsewhere).
pub fn exec_label(ctx: &Ctx) -> Result<()> {
    let Some(label) = &ctx.plan.process.exec_label else { return Ok(()) };
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return Ok(());
    }
    std::fs::write("/proc/thread-self/attr/exec", label.as_bytes()).map_err(|e| {
        let e = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        SetupError::errno(format!("exec label {}", escape::str(label)), e).kind(Kind::ExecLabel)
    })
}

/// The command dies with its parent (init, or the monitor when the command
/// is pid 1). Set here again: a change of ids clears it.
pub fn die_with_parent(ctx: &Ctx) -> Result<()> {
    if ctx.plan.process.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    Ok(())
}

pub fn session(ctx: &Ctx) -> Result<()> {
    if ctx.plan.process.new_session {
        ctx.log("session", "setsid");
        nix::unistd::setsid().map_err(|e| SetupError::errno("setsid", e))?;
    }
    Ok(())
}
