//! The architecture guards seccompiler lacks, written by hand.
//!
//! seccompiler starts every program with `arch == AUDIT_ARCH_X86_64, else
//! KILL_PROCESS` (on x86_64; AUDIT_ARCH_AARCH64 on aarch64) and then matches
//! syscall numbers. On x86_64 that leaves two holes for a deny-list (SECURITY-REFERENCE.md §1.10):
//!
//! - x32: a 64-bit process may set bit 0x40000000 in the number and reach
//!   the x32 table under the same AUDIT_ARCH_X86_64. `keyctl` is 250 but
//!   x32 `keyctl` is 0x400000fa, which no rule names, so it would pass.
//! - i386: `int $0x80` runs the i386 table under AUDIT_ARCH_I386, with other
//!   numbers. seccompiler kills the process, which is safe but takes a
//!   SIGSYS instead of an answer, and, when several filters are stacked, a
//!   KILL from one outranks every errno of the others.
//!
//! So every program gets this prefix, which answers both with `action`
//! (ENOSYS: "no such call for you"; LOG under `--seccomp-log`) before
//! seccompiler's own arch check runs. Only `arch` and `nr` are loaded, so
//! the kernel's constant-action cache still applies to the rest.

use seccompiler::sock_filter;

use super::syscalls::Arch;

/// `AUDIT_ARCH_I386`: EM_386 | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
/// `AUDIT_ARCH_X86_64`: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
/// `AUDIT_ARCH_AARCH64`: EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
/// The x32 bit of the system-call number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) const LD_W_ABS: u16 = 0x20;
pub(super) const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
pub(super) const RET_K: u16 = 0x06;
pub(super) const OFFSET_NR: u32 = 0;
pub(super) const OFFSET_ARCH: u32 = 4;

pub(super) fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

pub(super) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The prefix on `arch`: on x86_64, i386 and x32 calls get `action` (a
/// SECCOMP_RET_* value); everything else falls through to the program that
/// follows. aarch64 has no second table under its own AUDIT_ARCH (an
/// aarch32 process reports AUDIT_ARCH_ARM, which seccompiler's check kills).
pub fn prefix(arch: Arch, action: u32) -> Vec<sock_filter> {
    if arch != Arch::X86_64 {
        return Vec::new();
    }
    vec![
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH_I386, 0, 1),
        stmt(RET_K, action),
        // Not x86_64 either: seccompiler's check below kills it.
        jump(JEQ_K, AUDIT_ARCH_X86_64, 0, 3),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, action),
    ]
}

/// `program` behind the prefix. Jumps in classic BPF are relative and only
/// forward, so prepending leaves the program's own jumps intact.
pub fn guarded(arch: Arch, action: u32, program: Vec<sock_filter>) -> Vec<sock_filter> {
    let mut out = prefix(arch, action);
    out.extend(program);
    out
}
