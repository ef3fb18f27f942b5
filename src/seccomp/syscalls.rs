//! System-call names: lookup per architecture, validation and "did you
//! mean" suggestions.
//!
//! The tables are the `syscalls` crate's, generated from the kernel's own
//! tables and kept current with its releases (0.8.1: Linux 6.18), for the
//! two architectures sandbox builds for, x86_64 and aarch64. The binary
//! uses its own ([`Arch::NATIVE`]); tests resolve names on both.
//!
//! A name that is a system call of another Linux architecture only (i386's
//! `socketcall`, `open` or `chmod` on aarch64) is not on this architecture:
//! policy files skip it, as libseccomp does, and a single name given on its
//! own is refused with that reason. A name unknown on every architecture
//! is an error with the closest known name.

use super::guard::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64};

/// An architecture with a system-call table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// Every architecture with a table.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture this binary runs on, if it has a table.
    pub const NATIVE: Option<Arch> = if cfg!(target_arch = "x86_64") {
        Some(Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::Aarch64)
    } else {
        None
    };

    /// Its name, as `uname -m` says it.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The `AUDIT_ARCH_*` value seccomp reports for its native calls.
    pub const fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The number of `name` on this architecture.
    pub fn number(self, name: &str) -> Option<u32> {
        let id = match self {
            Arch::X86_64 => name.parse::<syscalls::x86_64::Sysno>().ok()?.id(),
            Arch::Aarch64 => name.parse::<syscalls::aarch64::Sysno>().ok()?.id(),
        };
        u32::try_from(id).ok()
    }

    /// The name of `nr` on this architecture.
    pub fn name_of(self, nr: u32) -> Option<&'static str> {
        let nr = usize::try_from(nr).ok()?;
        match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
            Arch::Aarch64 => syscalls::aarch64::Sysno::new(nr).map(|s| s.name()),
        }
    }

    /// Every name of the table (for suggestions).
    fn names(self) -> Vec<&'static str> {
        macro_rules! all {
            ($arch:ident) => {{
                use syscalls::$arch::Sysno;
                let (first, last) = (Sysno::first().id(), Sysno::last().id());
                (first..=last).filter_map(|n| Sysno::new(n as usize)).map(|s| s.name()).collect()
            }};
        }
        match self {
            Arch::X86_64 => all!(x86_64),
            Arch::Aarch64 => all!(aarch64),
        }
    }
}

/// ARM's private calls (`__ARM_NR_*`), which the tables do not list but
/// OCI profiles name.
const ARCH_PRIVATE: [&str; 4] = ["breakpoint", "set_tls", "usr26", "usr32"];

/// Whether `name` is a system call of some Linux architecture.
fn on_any_arch(name: &str) -> bool {
    macro_rules! any {
        ($($arch:ident)*) => { false $(|| name.parse::<syscalls::$arch::Sysno>().is_ok())* };
    }
    ARCH_PRIVATE.contains(&name)
        || any!(aarch64 arm loongarch64 mips mips64 powerpc powerpc64 riscv32 riscv64 s390x sparc sparc64 x86 x86_64)
}

/// Whether `name` is a system call of other Linux architectures only.
pub fn other_arch_on(arch: Arch, name: &str) -> bool {
    arch.number(name).is_none() && on_any_arch(name)
}

/// `Ok(nr)` on `arch`, or the error text: the name, and why it is refused
/// (another architecture's call; or unknown, with the closest known name).
pub fn check_on(arch: Arch, name: &str) -> Result<u32, String> {
    if let Some(nr) = arch.number(name) {
        return Ok(nr);
    }
    let shown = crate::escape::str(name);
    if other_arch_on(arch, name) {
        return Err(format!("`{shown}` is not a system call on {}", arch.name()));
    }
    match suggest_on(arch, name) {
        Some(s) => Err(format!("unknown system call `{shown}`; did you mean `{s}`?")),
        None => Err(format!("unknown system call `{shown}`")),
    }
}

/// The closest known name on `arch`, if it is close enough to be a typo.
pub fn suggest_on(arch: Arch, name: &str) -> Option<&'static str> {
    let names = arch.names();
    let (best, d) = names.iter().map(|&n| (n, distance(name, n))).min_by_key(|&(_, d)| d)?;
    let limit = (name.len() / 3).clamp(1, 3);
    (d <= limit).then_some(best)
}

/// The error of every lookup on an architecture without a table.
fn no_table() -> String {
    format!("no system-call table for this architecture ({}) yet", std::env::consts::ARCH)
}

/// The number of `name` on this architecture.
pub fn number(name: &str) -> Option<u32> {
    Arch::NATIVE?.number(name)
}

/// The name of `nr` on this architecture.
pub fn name(nr: u32) -> Option<&'static str> {
    Arch::NATIVE?.name_of(nr)
}

/// [`check_on`] this architecture.
pub fn check(name: &str) -> Result<u32, String> {
    match Arch::NATIVE {
        Some(arch) => check_on(arch, name),
        None => Err(format!("`{}`: {}", crate::escape::str(name), no_table())),
    }
}

/// Levenshtein distance over bytes.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table agrees with libc's numbers on the architecture it runs on.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_native_table_matches_libc() {
        macro_rules! same {
            ($($n:ident)*) => {$(
                let name = stringify!($n).trim_start_matches("SYS_");
                assert_eq!(number(name), Some(libc::$n as u32), "{name}");
            )*};
        }
        same!(SYS_read SYS_getppid SYS_ioctl SYS_socket SYS_clone SYS_clone3 SYS_unshare SYS_setns
              SYS_keyctl SYS_add_key SYS_request_key SYS_perf_event_open SYS_bpf SYS_userfaultfd
              SYS_io_uring_setup SYS_mount SYS_fsopen SYS_mount_setattr SYS_ptrace SYS_personality
              SYS_landlock_restrict_self SYS_fchmodat2 SYS_mseal SYS_execve SYS_exit_group);
        assert_eq!(number("open_tree_attr"), Some(467));
        assert_eq!(name(0), Some("read"));
    }

    /// aarch64's numbers (the kernel's asm-generic table) for the calls the
    /// policies name, and names that only x86_64 has.
    #[test]
    fn aarch64_has_the_generic_numbers() {
        let a = Arch::Aarch64;
        let known = [
            ("read", 63),
            ("openat", 56),
            ("umount2", 39),
            ("mount", 40),
            ("pivot_root", 41),
            ("personality", 92),
            ("unshare", 97),
            ("ptrace", 117),
            ("keyctl", 219),
            ("clone", 220),
            ("execve", 221),
            ("bpf", 280),
            ("io_uring_setup", 425),
            ("clone3", 435),
            ("landlock_restrict_self", 446),
            ("file_setattr", 469),
        ];
        for (name, nr) in known {
            assert_eq!(a.number(name), Some(nr), "{name}");
            assert_eq!(a.name_of(nr), Some(name));
        }
        for name in ["open", "chmod", "ioperm", "iopl", "uselib", "_sysctl"] {
            assert!(Arch::X86_64.number(name).is_some() && other_arch_on(a, name), "{name}");
            assert_eq!(check_on(a, name).unwrap_err(), format!("`{name}` is not a system call on aarch64"));
        }
    }

    #[test]
    fn numbers_are_unique_and_names_round_trip() {
        for arch in Arch::ALL {
            let mut seen = std::collections::HashSet::new();
            for n in arch.names() {
                let nr = arch.number(n).unwrap();
                assert!(seen.insert(nr), "{arch:?} {n}: number {nr} twice");
                assert_eq!(arch.name_of(nr), Some(n));
            }
            assert!(seen.len() > 300, "{arch:?}: {} calls", seen.len());
        }
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        for arch in Arch::ALL {
            let check = |n| check_on(arch, n);
            assert_eq!(
                check("keyctll").unwrap_err(),
                "unknown system call `keyctll`; did you mean `keyctl`?"
            );
            assert_eq!(check("ptace").unwrap_err(), "unknown system call `ptace`; did you mean `ptrace`?");
            let socketcall = format!("`socketcall` is not a system call on {}", arch.name());
            assert_eq!(check("socketcall").unwrap_err(), socketcall);
            assert_eq!(check("zzzzzzzzzz").unwrap_err(), "unknown system call `zzzzzzzzzz`");
            for foreign in ["_llseek", "breakpoint", "set_tls", "arm_fadvise64_64", "riscv_flush_icache"] {
                assert!(other_arch_on(arch, foreign), "{foreign}");
            }
            assert!(!other_arch_on(arch, "read") && !other_arch_on(arch, "no_such_call"));
        }
    }
}
