//! The filter of landlock-only mode that hands metadata calls to the
//! monitor.
//!
//! Landlock has no right for a file's metadata: a process it confines may
//! still chmod, chown, set the times of and set extended attributes on any
//! file its user owns. With namespaces the read-only mounts stop that;
//! without them this filter answers SECCOMP_RET_USER_NOTIF for every such
//! call, and the monitor, which receives the filter's listener, does the
//! call itself where landlock would let the command write (see
//! `launch/notify.rs`) and returns the result. Every other call is allowed
//! (the policy's filters decide about it).

use super::bpf::BpfProgram;

use super::program::{self, Filter};
use super::syscalls::{self, Arch};

/// The architecture the filter passes to the monitor (0 where sandbox has
/// no system-call table, and no filter).
pub const NATIVE_ARCH: u32 = match Arch::NATIVE {
    Some(arch) => arch.audit(),
    None => 0,
};

/// The calls that change a file's mode, owner, times or extended
/// attributes, through a path, a directory fd and a path, or an fd.
pub const METADATA_CALLS: [&str; 20] = [
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "setxattrat",
    "removexattrat",
];

/// The program: the x32/i386 guard (ENOSYS, so that no other table slips
/// past), any other architecture killed, then USER_NOTIF for the metadata
/// calls and ALLOW for the rest.
pub fn program() -> Result<BpfProgram, String> {
    match Arch::NATIVE {
        Some(arch) => program_on(arch),
        None => Err(format!("no system-call table for this architecture ({}) yet", std::env::consts::ARCH)),
    }
}

/// [`program`] for `arch`: [`filter_on`] alone.
pub fn program_on(arch: Arch) -> Result<BpfProgram, String> {
    let f = filter_on(arch)?;
    let built = program::build(program::ArchCheck::of(arch), std::slice::from_ref(&f))?;
    built.ok_or_else(|| "the metadata filter compiled to nothing".to_string())
}

/// The filter as one layer of a stack (see `program`): USER_NOTIF for the
/// metadata calls `arch` has (aarch64 has only the `*at` forms: no
/// `chmod`, `chown`, `utimes`, …), ALLOW for the rest, ENOSYS for i386
/// and x32 calls; never turned into LOG by `--seccomp-log`.
pub fn filter_on(arch: Arch) -> Result<Filter, String> {
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let mut f = Filter::new(libc::SECCOMP_RET_USER_NOTIF, libc::SECCOMP_RET_ALLOW, enosys);
    for name in METADATA_CALLS.iter().filter(|n| !syscalls::other_arch_on(arch, n)) {
        f.add(syscalls::check_on(arch, name)?, None);
    }
    Ok(f)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::seccomp::guard::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
    use crate::seccomp::interp::{run, Data};

    fn answer(arch: u32, nr: u32) -> u32 {
        run(&program().unwrap(), &Data { nr, arch, args: [0; 6] })
    }

    #[test]
    fn metadata_calls_go_to_the_monitor_and_nothing_else_does() {
        for name in METADATA_CALLS {
            assert_eq!(
                answer(AUDIT_ARCH_X86_64, syscalls::number(name).unwrap()),
                libc::SECCOMP_RET_USER_NOTIF
            );
        }
        for name in ["read", "openat", "getxattr", "listxattr", "stat", "write", "unlinkat"] {
            assert_eq!(answer(AUDIT_ARCH_X86_64, syscalls::number(name).unwrap()), libc::SECCOMP_RET_ALLOW);
        }
        let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let chmod = syscalls::number("chmod").unwrap();
        assert_eq!(answer(AUDIT_ARCH_X86_64, chmod | 0x4000_0000), enosys, "x32 chmod");
        assert_eq!(answer(AUDIT_ARCH_I386, 15), enosys, "i386 chmod");
        assert_eq!(answer(0xc000_00b7, chmod), libc::SECCOMP_RET_KILL_PROCESS, "another architecture");
    }
}
