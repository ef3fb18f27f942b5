//! The architecture guards, the first instructions of every program.
//!
//! A filter that checks only `arch == AUDIT_ARCH_X86_64` and then matches
//! system-call numbers (as seccompiler's do) leaves two holes for a
//! deny-list on x86_64 (SECURITY-REFERENCE.md §1.10):
//!
//! - x32: a 64-bit process may set bit 0x40000000 in the number and reach
//!   the x32 table under the same AUDIT_ARCH_X86_64. `keyctl` is 250 but
//!   x32 `keyctl` is 0x400000fa, which no rule names, so it would pass.
//! - i386: `int $0x80` runs the i386 table under AUDIT_ARCH_I386, with other
//!   numbers. Killing the process is safe but takes a SIGSYS instead of an
//!   answer, and a KILL outranks every errno of another filter.
//!
//! So every program answers both with the guard action (ENOSYS: "no such
//! call for you"; LOG under `--seccomp-log`) before anything else, and
//! kills a process of any other architecture (`program::build`'s
//! prologue). Only `arch` and `nr` are loaded there, so the kernel's
//! constant-action cache still applies to the calls that are always
//! allowed. aarch64 has no second table under its own AUDIT_ARCH (an
//! aarch32 process reports AUDIT_ARCH_ARM, which the arch check kills).

/// `AUDIT_ARCH_I386`: EM_386 | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
/// `AUDIT_ARCH_X86_64`: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
/// `AUDIT_ARCH_AARCH64`: EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
/// The x32 bit of the system-call number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
