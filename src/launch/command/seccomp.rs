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

use crate::launch::error::{Kind, Result, SetupError};
use crate::launch::filters::Listener;
use crate::launch::Ctx;
use crate::seccomp::bpf::BpfProgram;

/// The last step: install every program, in order; the first with a
/// listener when it holds landlock-only mode's metadata filter.
pub fn install(ctx: &Ctx) -> Result<()> {
    let f = ctx.filters;
    let programs: Vec<&BpfProgram> = f.programs.iter().chain(&f.raw).collect();
    if programs.is_empty() {
        return Ok(());
    }
    let sizes: Vec<String> = programs.iter().map(|p| p.len().to_string()).collect();
    ctx.log("seccomp", &format!("{} filters of {} instructions", programs.len(), sizes.join("+")));
    let n = programs.len();
    for (i, prog) in programs.into_iter().enumerate() {
        match (i, &f.listener) {
            (0, Some(l)) => install_with_listener(ctx, prog, l)?,
            _ => {
                load(prog, 0).map_err(|e| {
                    SetupError::errno(format!("seccomp: install filter {} of {n}", i + 1), e)
                        .kind(Kind::SeccompInstall)
                })?;
            }
        }
    }
    Ok(())
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): the new filter's
/// listener with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0. No
/// SECCOMP_FILTER_FLAG_SPEC_ALLOW: the kernel keeps whatever speculation
/// mitigation it applies to tasks under seccomp (bench/README.md).
fn load(prog: &BpfProgram, flags: libc::c_ulong) -> nix::Result<libc::c_long> {
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `fprog` points to a program of `len` instructions (bpf::Insn
    // has sock_filter's layout) that outlives the call; the kernel copies
    // it. no_new_privs is set (an earlier step).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    Errno::result(rc)
}

/// Installs the program that holds the metadata filter with a listener
/// and sends the listener to the monitor. First of the programs: a policy
/// installed before it could refuse sendmsg (compile::stack_on merges the
/// metadata filter into the policy's program only when the policy allows
/// this sendmsg and close). The command's copy is closed here; only the
/// monitor holds one, so only it answers.
fn install_with_listener(ctx: &Ctx, prog: &BpfProgram, l: &Listener) -> Result<()> {
    ctx.log("seccomp", "chmod, chown, utimes and xattr calls go to the monitor");
    let fd = load(prog, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)
        .map_err(|e| SetupError::errno("seccomp: metadata filter", e))?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let listener = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let fds = [listener.as_raw_fd()];
    socket::sendmsg::<()>(
        l.theirs.as_raw_fd(),
        &[std::io::IoSlice::new(b"l")],
        &[socket::ControlMessage::ScmRights(&fds)],
        socket::MsgFlags::empty(),
        None,
    )
    .map_err(|e| SetupError::errno("seccomp: send the listener to the monitor", e))?;
    Ok(())
}
