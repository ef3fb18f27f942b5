//! The seccomp programs, built in the monitor before clone, so that a bad
//! policy (an unknown name, a program over the kernel's 4096 instructions,
//! an unreadable raw program fd) is a setup error with nothing started.
//! They are installed by the command's process as its very last step
//! (`command/seccomp.rs`).

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket;

use super::error::{Kind, Program, Result, SetupError};
use super::sys;
use crate::plan::seccomp::{Facts, Seccomp};
use crate::seccomp::bpf::{BpfProgram, Insn};
use crate::seccomp::compile::{self, Compiled};

/// The programs to install, in order: the plan's policy compiled into one
/// program (see `seccomp::compile`; with `listener`, it holds landlock-only
/// mode's metadata filter too, or that filter is a program of its own
/// before it), then the raw `--add-seccomp-fd` programs.
#[derive(Default)]
pub struct Filters {
    pub programs: Vec<BpfProgram>,
    pub raw: Vec<BpfProgram>,
    /// Unsupported here and dropped (best effort): stays dropped.
    dropped: bool,
    /// The first program holds the metadata filter: it is installed with a
    /// listener, which travels over this socket pair.
    pub listener: Option<Listener>,
}

/// The socket pair the metadata filter's listener travels over, from the
/// command to the monitor (which does the calls: `monitor/metadata/`).
pub struct Listener {
    /// The monitor's end.
    pub ours: OwnedFd,
    /// The command's end.
    pub theirs: OwnedFd,
}

/// The programs of the plan's policy, for the facts of the plan as it runs
/// (the host's pid namespace with `--share pid` and in landlock-only mode;
/// port rules; the signal scope), with the metadata filter when `metadata`.
fn compile(plan: &crate::plan::Plan, metadata: bool) -> Result<Compiled> {
    compile::stack(&plan.seccomp, Facts::of(plan), metadata).map_err(|e| SetupError::new("seccomp", e))
}

/// The plan's policy compiled by [`check`], for [`prepare`] to install
/// rather than compile it again.
pub struct Policy {
    /// Whether it holds landlock-only mode's metadata filter.
    metadata: bool,
    compiled: Compiled,
}

/// What [`prepare`] would refuse, without reading a raw program's fd or
/// saying anything: the policy compiles and every raw program's fd is
/// open (`sandbox explain`, and the run before anything starts). The
/// compiled policy is returned for the run's [`prepare`].
pub fn check(plan: &crate::plan::Plan) -> Result<Policy> {
    let metadata = metadata(plan)?;
    let compiled = compile(plan, metadata)?;
    for &fd in &plan.seccomp.bpf_fds {
        if !sys::fd_is_open(fd) {
            let kind = Kind::SeccompProgram { fd, problem: Program::Unreadable };
            return Err(SetupError::errno(format!("--add-seccomp-fd {fd}"), Errno::EBADF).kind(kind));
        }
    }
    Ok(Policy { metadata, compiled })
}

/// Builds every program of the plan (in the monitor, before clone); the
/// policy is `checked`'s when [`check`] compiled it for this plan already.
pub fn prepare(plan: &crate::plan::Plan, checked: Option<Policy>) -> Result<Filters> {
    let raw = plan.seccomp.bpf_fds.iter().map(|&fd| read_program(fd)).collect::<Result<Vec<_>>>()?;
    let Policy { metadata, compiled } = match checked {
        Some(policy) => policy,
        None => {
            let metadata = metadata(plan)?;
            Policy { metadata, compiled: compile(plan, metadata)? }
        }
    };
    if compiled.programs.is_empty() && raw.is_empty() {
        return with_listener(compiled, raw, false);
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
            return with_listener(metadata_only(metadata)?, Vec::new(), true);
        }
        return Err(e);
    }
    with_listener(compiled, raw, false)
}

/// Without the policy (dropped, best effort): the metadata filter alone.
fn metadata_only(metadata: bool) -> Result<Compiled> {
    if !metadata {
        return Ok(Compiled::default());
    }
    let p = crate::seccomp::notify::program().map_err(|e| SetupError::new("seccomp", e))?;
    Ok(Compiled { programs: vec![p], listener: true })
}

/// The filters, with the socket pair of the listener when the first
/// program has one.
fn with_listener(compiled: Compiled, raw: Vec<BpfProgram>, dropped: bool) -> Result<Filters> {
    let listener = match compiled.listener {
        true => {
            let (ours, theirs) = socket::socketpair(
                socket::AddressFamily::Unix,
                socket::SockType::SeqPacket,
                None,
                socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| SetupError::errno("seccomp: listener socket", e))?;
            Some(Listener { ours, theirs })
        }
        false => None,
    };
    Ok(Filters { programs: compiled.programs, raw, dropped, listener })
}

/// Whether the plan gets landlock-only mode's metadata filter: only in
/// that mode, and this kernel must have user notification (Linux 5.0), or
/// the run is refused unless best effort.
fn metadata(plan: &crate::plan::Plan) -> Result<bool> {
    if plan.mode != crate::plan::landlock::Mode::Landlock {
        return Ok(false);
    }
    match notify_supported() {
        Ok(()) => Ok(true),
        Err(e) if plan.best_effort => {
            eprintln!(
                "sandbox: warning: chmod, chown, utimes and xattr calls are not confined (best effort): {}",
                e.cause
            );
            Ok(false)
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
    /// with its port rules), with the metadata filter; the raw programs,
    /// already read, are kept.
    pub fn for_plan(&self, plan: &crate::plan::Plan) -> Result<Filters> {
        let metadata = metadata(plan)?;
        match self.dropped {
            true => with_listener(metadata_only(metadata)?, Vec::new(), true),
            false => with_listener(compile(plan, metadata)?, self.raw.clone(), false),
        }
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

/// A raw program from `fd`: classic BPF, `struct sock_filter` records of 8
/// bytes. The fd is read to its end and closed.
fn read_program(fd: i32) -> Result<BpfProgram> {
    let what = || format!("--add-seccomp-fd {fd}");
    let failed = |problem: Program| Kind::SeccompProgram { fd, problem };
    if !sys::fd_is_open(fd) {
        return Err(SetupError::errno(what(), Errno::EBADF).kind(failed(Program::Unreadable)));
    }
    // SAFETY: the fd is open (checked above) and the caller handed it to
    // sandbox for this purpose; nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut bytes = Vec::new();
    std::fs::File::from(owned).read_to_end(&mut bytes).map_err(|e| {
        let e = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        SetupError::errno(what(), e).kind(failed(Program::Unreadable))
    })?;
    parse_program(&bytes).map_err(|(problem, cause)| SetupError::new(what(), cause).kind(failed(problem)))
}

fn parse_program(bytes: &[u8]) -> std::result::Result<BpfProgram, (Program, String)> {
    if bytes.is_empty() {
        return Err((Program::Empty, "no seccomp program to read".into()));
    }
    if bytes.len() % 8 != 0 {
        let cause = format!("invalid seccomp data: {} bytes is not a multiple of 8", bytes.len());
        return Err((Program::Partial, cause));
    }
    if bytes.len() / 8 > 4096 {
        return Err((
            Program::TooLong,
            format!("{} instructions is over the kernel's 4096", bytes.len() / 8),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_programs_are_records_of_eight_bytes() {
        let ret_allow = [0x06u8, 0, 0, 0, 0, 0, 0xff, 0x7f];
        let p = parse_program(&ret_allow).unwrap();
        assert_eq!(p, vec![Insn { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }]);
        assert_eq!(parse_program(&ret_allow[..7]).unwrap_err().0, Program::Partial);
        assert!(parse_program(&ret_allow[..7]).unwrap_err().1.contains("multiple of 8"));
        assert_eq!(parse_program(&[]).unwrap_err().0, Program::Empty);
    }
}
