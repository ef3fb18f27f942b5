//! Seccomp: the filters are built in the monitor, before clone, and
//! installed by the command's process as its very last step before execve.
//!
//! Built early so that a bad policy (an unknown name, a program over the
//! kernel's 4096 instructions, an unreadable `--add-seccomp-fd`) is a setup
//! error with nothing started. Installed last because a filter may forbid
//! what the steps before it need (mount, setsid, prctl, landlock's own
//! calls). The kernel runs every installed filter on every call and keeps
//! the strictest answer; filters are inherited across fork and execve and
//! can never be removed. no_new_privs (an earlier step) is what lets an
//! unprivileged process install them.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket;
use seccompiler::{sock_filter, BpfProgram};

use super::error::{Result, SetupError};
use super::{sys, Ctx};
use crate::plan::seccomp::{Facts, Seccomp};

/// The programs to install, in order: landlock-only mode's metadata
/// filter, the plan's policy (landlock's companion first, see
/// `seccomp::compile`), then the raw `--add-seccomp-fd` programs.
#[derive(Default)]
pub struct Filters {
    policy: Vec<BpfProgram>,
    raw: Vec<BpfProgram>,
    /// Unsupported here and dropped (best effort): stays dropped.
    dropped: bool,
    pub notify: Option<Notify>,
}

/// Landlock-only mode's metadata filter (`seccomp::notify`), and the
/// socket pair its listener travels over, from the command to the monitor
/// (which does the calls: `notify.rs`).
pub struct Notify {
    program: BpfProgram,
    /// The monitor's end.
    pub ours: OwnedFd,
    /// The command's end.
    theirs: OwnedFd,
}

/// The programs of the plan's policy, for the facts of the plan as it runs
/// (the host's pid namespace with `--share pid` and in landlock-only mode;
/// port rules; the signal scope).
fn compile(plan: &crate::plan::Plan) -> Result<Vec<BpfProgram>> {
    crate::seccomp::compile::compile(&plan.seccomp, Facts::of(plan))
        .map_err(|e| SetupError::new("seccomp", e))
}

/// Builds every program of the plan (in the monitor, before clone).
pub fn prepare(plan: &crate::plan::Plan) -> Result<Filters> {
    let policy = compile(plan)?;
    let bwrap = plan.bwrap.is_some();
    let raw = plan.seccomp.bpf_fds.iter().map(|&fd| read_program(fd, bwrap)).collect::<Result<Vec<_>>>()?;
    let notify = metadata(plan)?;
    if policy.is_empty() && raw.is_empty() {
        return Ok(Filters { notify, ..Filters::default() });
    }
    if let Err(e) = supported(&plan.seccomp) {
        if plan.best_effort {
            let f = Facts::of(plan);
            let extras = match f.port_rules || f.exec_rules || (f.share_pid && f.signal_scope) {
                true => {
                    " (the default policy and the filter that backs landlock's port, exec and signal rules)"
                }
                false => "",
            };
            eprintln!("sandbox: warning: running without system-call filters{extras}: {}", e.cause);
            return Ok(Filters { dropped: true, notify, ..Filters::default() });
        }
        return Err(e);
    }
    Ok(Filters { policy, raw, dropped: false, notify })
}

/// Landlock-only mode's metadata filter, if the plan runs in that mode:
/// this kernel must have user notification (Linux 5.0), or the run is
/// refused unless best effort.
fn metadata(plan: &crate::plan::Plan) -> Result<Option<Notify>> {
    if plan.mode != crate::plan::landlock::Mode::Landlock || plan.bwrap.is_some() {
        return Ok(None);
    }
    let program = crate::seccomp::notify::program().map_err(|e| SetupError::new("seccomp", e));
    match program.and_then(|p| notify_supported().map(|()| p)) {
        Ok(program) => {
            let (ours, theirs) = socket::socketpair(
                socket::AddressFamily::Unix,
                socket::SockType::SeqPacket,
                None,
                socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| SetupError::errno("seccomp: listener socket", e))?;
            Ok(Some(Notify { program, ours, theirs }))
        }
        Err(e) if plan.best_effort => {
            eprintln!(
                "sandbox: warning: chmod, chown, utimes and xattr calls are not confined (best effort): {}",
                e.cause
            );
            Ok(None)
        }
        Err(e) => Err(e.hint(
            "landlock-only mode confines metadata calls with seccomp user notification (Linux 5.0); \
             --best-effort runs without",
        )),
    }
}

/// Whether this kernel can hand system calls to a listener.
fn notify_supported() -> Result<()> {
    let action = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 from a valid pointer.
    let rc =
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0, &action as *const u32) };
    match rc {
        0 => Ok(()),
        _ => Err(SetupError::errno("seccomp: user notification", Errno::last())),
    }
}

impl Filters {
    /// The same filters for `plan`, which now runs in landlock-only mode
    /// (the fallback when user namespaces are refused): the policy is
    /// compiled again (ptrace and its relatives now reach host processes,
    /// System V IPC is the host's, and landlock stands in for "no network"
    /// with its port rules),
    /// the raw programs, already read, are kept.
    pub fn for_plan(&self, plan: &crate::plan::Plan) -> Result<Filters> {
        let notify = metadata(plan)?;
        if self.dropped {
            return Ok(Filters { dropped: true, notify, ..Filters::default() });
        }
        Ok(Filters { policy: compile(plan)?, raw: self.raw.clone(), dropped: false, notify })
    }
}

/// Whether this kernel has seccomp filters (and SECCOMP_RET_LOG if asked).
fn supported(s: &Seccomp) -> Result<()> {
    let mut actions = vec![libc::SECCOMP_RET_ERRNO];
    if s.log {
        actions.push(libc::SECCOMP_RET_LOG);
    }
    for action in actions {
        // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 from a valid pointer.
        let rc = unsafe {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0, &action as *const u32)
        };
        if rc != 0 {
            return Err(SetupError::errno("seccomp", Errno::last()).hint(
                "this kernel lacks seccomp filters (CONFIG_SECCOMP_FILTER) or the action; \
                 --seccomp none or --best-effort runs without them",
            ));
        }
    }
    Ok(())
}

/// A raw program from `fd`: `struct sock_filter` records of 8 bytes, as
/// bwrap reads them. The fd is read to its end and closed. From the bwrap
/// front end (`bwrap`), any fd is taken, and errors read as bubblewrap's.
fn read_program(fd: i32, bwrap: bool) -> Result<BpfProgram> {
    read_program_checked(fd, bwrap).map_err(|e| if bwrap { bwrap_words(e) } else { e })
}

/// bubblewrap's messages for a program it cannot use.
fn bwrap_words(e: SetupError) -> SetupError {
    let msg = if e.cause.contains("multiple of 8") {
        "Invalid seccomp data, must be multiple of 8".to_string()
    } else if e.cause.contains("no seccomp program") {
        // bubblewrap hands the kernel an empty program, which refuses it.
        "Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) reported EINVAL. \
         (Hint: this requires a kernel configured with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.)"
            .to_string()
    } else {
        format!("Can't read seccomp data: {}", e.cause)
    };
    e.bwrap(msg)
}

fn read_program_checked(fd: i32, bwrap: bool) -> Result<BpfProgram> {
    let what = || format!("--add-seccomp-fd {fd}");
    if fd <= 2 && !bwrap {
        return Err(SetupError::new(what(), "0, 1 and 2 are the command's standard streams"));
    }
    if !sys::fd_is_open(fd) {
        return Err(SetupError::errno(what(), Errno::EBADF));
    }
    // SAFETY: the fd is open (checked above) and the caller handed it to
    // sandbox for this purpose; nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut bytes = Vec::new();
    std::fs::File::from(owned)
        .read_to_end(&mut bytes)
        .map_err(|e| SetupError::errno(what(), Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    parse_program(&bytes).map_err(|cause| SetupError::new(what(), cause))
}

fn parse_program(bytes: &[u8]) -> std::result::Result<BpfProgram, String> {
    if bytes.is_empty() {
        return Err("no seccomp program to read".into());
    }
    if bytes.len() % 8 != 0 {
        return Err(format!("invalid seccomp data: {} bytes is not a multiple of 8", bytes.len()));
    }
    if bytes.len() / 8 > 4096 {
        return Err(format!("{} instructions is over the kernel's 4096", bytes.len() / 8));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

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
                .bwrap_errno("prctl(PR_SET_SECCOMP)")
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

/// The monitor: the listener the command sent, once it has.
pub fn receive_listener(ours: std::os::fd::BorrowedFd) -> Option<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = socket::recvmsg::<()>(
        ours.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        socket::MsgFlags::MSG_CMSG_CLOEXEC | socket::MsgFlags::MSG_DONTWAIT,
    )
    .ok()?;
    let fds: Vec<std::os::fd::RawFd> = msg
        .cmsgs()
        .ok()?
        .flat_map(|c| match c {
            socket::ControlMessageOwned::ScmRights(fds) => fds,
            _ => Vec::new(),
        })
        .collect();
    // SAFETY: the kernel installed these descriptors for us with the
    // message; nothing else owns them. Only the first is the listener.
    let mut owned = fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    owned.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_programs_are_records_of_eight_bytes() {
        let ret_allow = [0x06u8, 0, 0, 0, 0, 0, 0xff, 0x7f];
        let p = parse_program(&ret_allow).unwrap();
        assert_eq!(p, vec![sock_filter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }]);
        assert!(parse_program(&ret_allow[..7]).unwrap_err().contains("multiple of 8"));
        assert!(parse_program(&[]).unwrap_err().contains("no seccomp program"));
    }
}
