//! System-call names: lookup, validation and "did you mean" suggestions.
//!
//! seccompiler keeps its name table private (and behind its `json`
//! feature), and libc's `SYS_*` constants stop at the libc release, so the
//! table is generated from the kernel's numbering (seccomp/gen-syscalls)
//! into `syscalls_x86_64.rs`. Other architectures have no table yet: every
//! name is unknown there, and a policy that names calls is a setup error.

#[allow(dead_code)]
#[path = "syscalls_x86_64.rs"]
mod x86_64;

/// The table of the architecture this binary runs on.
fn table() -> &'static [(&'static str, u32)] {
    if cfg!(target_arch = "x86_64") {
        x86_64::X86_64
    } else {
        &[]
    }
}

/// The number of `name` on this architecture.
pub fn number(name: &str) -> Option<u32> {
    table().iter().find(|(n, _)| *n == name).map(|&(_, nr)| nr)
}

/// The name of `nr` on this architecture.
pub fn name(nr: u32) -> Option<&'static str> {
    table().iter().find(|&&(_, n)| n == nr).map(|&(name, _)| name)
}

/// Whether `name` is a system call of some other Linux architecture only.
pub fn other_arch(name: &str) -> bool {
    x86_64::OTHER_ARCH.contains(&name) || (!cfg!(target_arch = "x86_64") && number(name).is_none())
}

/// `Ok(nr)`, or the error text: the name, and the closest known name.
pub fn check(name: &str) -> Result<u32, String> {
    if let Some(nr) = number(name) {
        return Ok(nr);
    }
    let shown = crate::escape::str(name);
    if table().is_empty() {
        return Err(format!(
            "`{shown}`: no system-call table for this architecture ({}) yet",
            std::env::consts::ARCH
        ));
    }
    if other_arch(name) {
        return Err(format!("`{shown}` is not a system call on {}", std::env::consts::ARCH));
    }
    match suggest(name) {
        Some(s) => Err(format!("unknown system call `{shown}`; did you mean `{s}`?")),
        None => Err(format!("unknown system call `{shown}`")),
    }
}

/// The closest known name, if it is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    let (best, d) = table().iter().map(|&(n, _)| (n, distance(name, n))).min_by_key(|&(_, d)| d)?;
    let limit = (name.len() / 3).clamp(1, 3);
    (d <= limit).then_some(best)
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

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The generated numbers agree with libc's.
    #[test]
    fn table_matches_libc() {
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
        let mut seen = std::collections::HashSet::new();
        for (n, nr) in table() {
            assert!(seen.insert(nr), "{n}: number {nr} twice");
        }
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        assert_eq!(check("keyctll").unwrap_err(), "unknown system call `keyctll`; did you mean `keyctl`?");
        assert_eq!(check("ptace").unwrap_err(), "unknown system call `ptace`; did you mean `ptrace`?");
        assert_eq!(check("socketcall").unwrap_err(), "`socketcall` is not a system call on x86_64");
        assert_eq!(check("zzzzzzzzzz").unwrap_err(), "unknown system call `zzzzzzzzzz`");
        assert!(other_arch("_llseek") && other_arch("breakpoint") && !other_arch("read"));
    }
}
