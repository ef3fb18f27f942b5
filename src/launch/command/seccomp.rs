//! Seccomp, the command's last step: every program built before clone
//! (`filters.rs`) is installed just before execve, because a filter may
//! forbid what the steps before it need (mount, setsid, prctl, landlock's
//! own calls). The kernel runs every installed filter on every call and
//! keeps the strictest answer; filters are inherited across fork and
//! execve and can never be removed. no_new_privs (an earlier step) is what
//! lets an unprivileged process install them.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket;
use seccompiler::BpfProgram;

use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::filters::Notify;
use crate::launch::Ctx;

/// The last step: install every filter, in order.
pub fn install(ctx: &Ctx) -> Result<()> {
    if let Some(n) = &ctx.filters.notify {
        install_notify(ctx, n)?;
    }
    let filters: Vec<&BpfProgram> = ctx.filters.policy.iter().chain(&ctx.filters.raw).collect();
    if filters.is_empty() {
        return Ok(());
    }
    let sizes: Vec<String> = filters.iter().map(|p| p.len().to_string()).collect();
    ctx.log("seccomp", &format!("{} filters of {} instructions", filters.len(), sizes.join("+")));
    for (i, prog) in filters.iter().enumerate() {
        seccompiler::apply_filter(prog).map_err(|e| {
            let errno = match &e {
                seccompiler::Error::Seccomp(io) | seccompiler::Error::Prctl(io) => {
                    Errno::from_raw(io.raw_os_error().unwrap_or(libc::EINVAL))
                }
                _ => Errno::EINVAL,
            };
            SetupError::errno(format!("seccomp: install filter {} of {}", i + 1, filters.len()), errno)
                .kind(Kind::SeccompInstall)
        })?;
    }
    Ok(())
}

/// Installs the metadata filter with a listener and sends the listener to
/// the monitor. First of the filters: a policy that is an allow-list may
/// not allow sendmsg. The command's copy is closed here; only the monitor
/// holds one, so only it answers.
fn install_notify(ctx: &Ctx, n: &Notify) -> Result<()> {
    ctx.log("seccomp", "chmod, chown, utimes and xattr calls go to the monitor");
    let prog = libc::sock_fprog {
        len: n.program.len() as u16,
        filter: n.program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to a program that outlives the call; the kernel
    // copies it and returns a new fd (the listener) that nothing else owns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        )
    };
    if fd < 0 {
        return Err(SetupError::errno("seccomp: metadata filter", Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor.
    let listener = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let fds = [listener.as_raw_fd()];
    socket::sendmsg::<()>(
        n.theirs.as_raw_fd(),
        &[std::io::IoSlice::new(b"l")],
        &[socket::ControlMessage::ScmRights(&fds)],
        socket::MsgFlags::empty(),
        None,
    )
    .map_err(|e| SetupError::errno("seccomp: send the listener to the monitor", e))?;
    Ok(())
}
