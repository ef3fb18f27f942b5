//! A classic-BPF interpreter for seccomp programs, for tests: runs the
//! compiled filters over (arch, nr, args) tuples the way the kernel does
//! (every filter runs; the strictest answer wins; between equals, the
//! filter installed last), as gVisor's `pkg/seccomp` tests do.

use super::bpf::Insn as sock_filter;

/// The kernel's `struct seccomp_data`.
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Data {
    fn word(&self, offset: u32) -> u32 {
        match offset {
            0 => self.nr,
            4 => self.arch,
            16..=63 if offset % 4 == 0 => {
                let arg = self.args[(offset as usize - 16) / 8];
                if offset % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("load of offset {offset}"),
        }
    }
}

/// Runs one program; panics on an instruction seccomp filters do not use.
pub fn run(prog: &[sock_filter], d: &Data) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = &prog[pc];
        pc += 1;
        match i.code {
            0x20 => a = d.word(i.k),    // ld [k]
            0x54 => a &= i.k,           // and #k
            0x06 => return i.k,         // ret #k
            0x05 => pc += i.k as usize, // ja
            0x15 | 0x25 | 0x35 | 0x45 => {
                let taken = match i.code {
                    0x15 => a == i.k,  // jeq
                    0x25 => a > i.k,   // jgt
                    0x35 => a >= i.k,  // jge
                    _ => a & i.k != 0, // jset
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            c => panic!("unexpected BPF instruction {c:#x} at {}", pc - 1),
        }
    }
}

/// The kernel's answer for stacked `progs` (installed in this order).
pub fn run_all(progs: &[Vec<sock_filter>], d: &Data) -> u32 {
    let mut best: Option<u32> = None;
    for p in progs.iter().rev() {
        let r = run(p, d);
        // The kernel compares the action part as a signed number (KILL_PROCESS is negative).
        let rank = |v: u32| (v & 0xffff_0000) as i32;
        if best.map_or(true, |b| rank(r) < rank(b)) {
            best = Some(r);
        }
    }
    best.unwrap_or(libc::SECCOMP_RET_ALLOW)
}

/// What the kernel's `bpf_check_classic` and `seccomp_check_filter` would
/// refuse in a program of ours: a size outside 1..=4096, an instruction
/// other than those [`run`] knows, a load outside `struct seccomp_data` or
/// not aligned, a jump past the end, a last instruction that is no return.
pub fn check(prog: &[sock_filter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err(format!("{} instructions", prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let reach = |off: u32| pc + 1 + off as usize;
        let ok = match i.code {
            0x20 => i.k % 4 == 0 && i.k < 64,
            0x54 | 0x06 => true,
            0x05 => reach(i.k) < prog.len(),
            0x15 | 0x25 | 0x35 | 0x45 => reach(i.jt.into()) < prog.len() && reach(i.jf.into()) < prog.len(),
            _ => false,
        };
        if !ok {
            return Err(format!("instruction {pc}: {i:?}"));
        }
    }
    match prog.last() {
        Some(i) if i.code == 0x06 => Ok(()),
        _ => Err("the last instruction is not a return".into()),
    }
}

/// The kernel's `seccomp_is_const_allow`: whether the program answers ALLOW
/// to (arch, nr) without loading an argument, so that the kernel answers
/// that call from its cache without running the program.
pub fn const_allow(prog: &[sock_filter], arch: u32, nr: u32) -> bool {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    while let Some(i) = prog.get(pc) {
        pc += 1;
        match i.code {
            0x20 if i.k == 0 => a = nr,
            0x20 if i.k == 4 => a = arch,
            0x54 => a &= i.k,
            0x06 => return i.k == libc::SECCOMP_RET_ALLOW,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 | 0x45 => {
                let taken = match i.code {
                    0x15 => a == i.k,
                    0x25 => a > i.k,
                    0x35 => a >= i.k,
                    _ => a & i.k != 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            _ => return false,
        }
    }
    false
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::plan::seccomp::{Base, Deny, Facts, Seccomp};
    use crate::seccomp::guard::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
    use crate::seccomp::{compile::compile, oci, syscalls};

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const LOG: u32 = libc::SECCOMP_RET_LOG;
    const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

    fn errno(e: i32) -> u32 {
        libc::SECCOMP_RET_ERRNO | e as u32
    }

    fn nr(name: &str) -> u32 {
        syscalls::number(name).unwrap()
    }

    fn call(progs: &[Vec<sock_filter>], name: &str, args: &[u64]) -> u32 {
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        run_all(progs, &Data { nr: nr(name), arch: AUDIT_ARCH_X86_64, args: a })
    }

    fn default(share_pid: bool) -> Vec<Vec<sock_filter>> {
        compile(&Seccomp::default(), Facts { share_pid, ..Facts::default() }).unwrap()
    }

    #[test]
    fn the_default_policy_denies_what_it_lists_and_allows_the_rest() {
        let p = default(false);
        for name in [
            "keyctl",
            "add_key",
            "request_key",
            "perf_event_open",
            "bpf",
            "userfaultfd",
            "unshare",
            "setns",
            "mount",
            "pivot_root",
            "kexec_load",
            "init_module",
            "iopl",
            "reboot",
            "acct",
        ] {
            assert_eq!(call(&p, name, &[]), errno(libc::EPERM), "{name}");
        }
        for name in ["clone3", "io_uring_setup", "fsopen", "open_tree", "move_mount", "_sysctl"] {
            assert_eq!(call(&p, name, &[]), errno(libc::ENOSYS), "{name}");
        }
        for name in ["read", "write", "getppid", "execve", "openat", "mmap", "exit_group", "ptrace", "kill"] {
            assert_eq!(call(&p, name, &[]), ALLOW, "{name}");
        }
    }

    #[test]
    fn arguments_are_matched_on_the_bits_the_kernel_reads() {
        let p = default(false);
        let tiocsti = libc::TIOCSTI;
        assert_eq!(call(&p, "ioctl", &[0, tiocsti]), errno(libc::EPERM));
        assert_eq!(call(&p, "ioctl", &[0, tiocsti | 1 << 32]), errno(libc::EPERM), "CVE-2019-10063");
        assert_eq!(call(&p, "ioctl", &[0, 0x541c]), errno(libc::EPERM), "TIOCLINUX");
        assert_eq!(call(&p, "ioctl", &[0, libc::TCGETS]), ALLOW);
        for family in [0, 1, 2, 10, 16, 2 | 1 << 32] {
            assert_eq!(call(&p, "socket", &[family, 1, 0]), ALLOW, "family {family:#x}");
        }
        for family in (3..=45).filter(|f| ![10, 16].contains(f)) {
            assert_eq!(call(&p, "socket", &[family, 1, 0]), errno(libc::EAFNOSUPPORT), "family {family}");
        }
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(call(&p, "clone", &[sigchld]), ALLOW);
        assert_eq!(call(&p, "clone", &[libc::CLONE_THREAD as u64 | libc::CLONE_VM as u64]), ALLOW);
        for flag in [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWPID, libc::CLONE_NEWNET] {
            assert_eq!(call(&p, "clone", &[flag as u64 | sigchld]), errno(libc::EPERM), "{flag:#x}");
        }
        assert_eq!(call(&p, "personality", &[0xffff_ffff]), ALLOW);
        assert_eq!(call(&p, "personality", &[0]), ALLOW);
        assert_eq!(call(&p, "personality", &[0x0400000]), errno(libc::EPERM), "READ_IMPLIES_EXEC");
    }

    #[test]
    fn socketpair_has_the_family_allowlist_of_socket() {
        let p = default(false);
        for family in [1, 2, 10, 16] {
            assert_eq!(call(&p, "socketpair", &[family, 1, 0]), ALLOW, "family {family}");
        }
        for family in [17, 21, 30, 40, 43, 44] {
            assert_eq!(call(&p, "socketpair", &[family, 1, 0]), errno(libc::EAFNOSUPPORT), "family {family}");
        }
    }

    const MSG_FASTOPEN: u64 = 0x2000_0000;

    /// The companion of landlock's port rules, with `base` as the built-in policy.
    fn ports(base: Base, log: bool) -> Vec<Vec<sock_filter>> {
        let s = Seccomp { base, log, ..Seccomp::default() };
        compile(&s, Facts { port_rules: true, ..Facts::default() }).unwrap()
    }

    #[test]
    fn port_rules_allow_plain_tcp_only_whatever_the_policy() {
        let proto_refused = errno(libc::EPROTONOSUPPORT);
        let flags = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64;
        for p in [ports(Base::Default, false), ports(Base::None, false), ports(Base::Default, true)] {
            for family in [2, 10] {
                for ty in [1, 1 | flags] {
                    assert_eq!(call(&p, "socket", &[family, ty, 0]), ALLOW);
                    assert_eq!(call(&p, "socket", &[family, ty, 6]), ALLOW);
                    assert_eq!(call(&p, "socket", &[family, ty, 6 | 1 << 32]), ALLOW, "an int: TCP");
                    for proto in [262, 132, 256, 33, 262 | 1 << 32] {
                        assert_eq!(
                            call(&p, "socket", &[family, ty, proto]),
                            proto_refused,
                            "{family} {proto}"
                        );
                    }
                }
                assert_eq!(call(&p, "socket", &[family, 2 | flags, 17]), ALLOW, "UDP is not covered");
                assert_eq!(call(&p, "socket", &[family, 2, 1]), ALLOW, "ping sockets");
                for ty in (3..=15).chain([3 | flags, 5 | flags]) {
                    assert_eq!(call(&p, "socket", &[family, ty, 0]), proto_refused, "type {ty:#x}");
                }
            }
            assert_eq!(call(&p, "socket", &[1, 1, 262]), ALLOW, "AF_UNIX has no MPTCP");
            for family in [43, 21, 41, 30, 17] {
                assert_eq!(call(&p, "socket", &[family, 1, 0]), errno(libc::EAFNOSUPPORT), "{family}");
            }
            let notsup = errno(libc::EOPNOTSUPP);
            assert_eq!(call(&p, "sendto", &[3, 0, 1, MSG_FASTOPEN, 0, 0]), notsup);
            assert_eq!(
                call(&p, "sendto", &[3, 0, 1, MSG_FASTOPEN | libc::MSG_NOSIGNAL as u64, 0, 0]),
                notsup
            );
            assert_eq!(call(&p, "sendto", &[3, 0, 1, libc::MSG_NOSIGNAL as u64, 0, 0]), ALLOW);
            assert_eq!(
                call(&p, "sendto", &[3, 0, 1, MSG_FASTOPEN << 32, 0, 0]),
                ALLOW,
                "an int: low 32 bits"
            );
            assert_eq!(call(&p, "sendmsg", &[3, 0, MSG_FASTOPEN]), notsup);
            assert_eq!(call(&p, "sendmsg", &[3, 0, 0, MSG_FASTOPEN]), ALLOW, "flags are the third argument");
            assert_eq!(call(&p, "sendmmsg", &[3, 0, 1, MSG_FASTOPEN]), notsup);
            assert_eq!(call(&p, "setsockopt", &[3, 6, 30]), notsup, "TCP_FASTOPEN_CONNECT");
            assert_eq!(call(&p, "setsockopt", &[3, 6, 31]), notsup, "TCP_ULP");
            assert_eq!(call(&p, "setsockopt", &[3, 6, 1]), ALLOW, "TCP_NODELAY");
            assert_eq!(call(&p, "setsockopt", &[3, 1, 30]), ALLOW, "SOL_SOCKET");
        }
        let none = default(false);
        assert_eq!(call(&none, "socket", &[2, 1, 262]), ALLOW, "without port rules MPTCP is fine");
        assert_eq!(call(&none, "sendto", &[3, 0, 1, MSG_FASTOPEN]), ALLOW);
    }

    #[test]
    fn with_share_pids_only_the_caller_itself_is_changed() {
        let s = Seccomp { base: Base::None, ..Seccomp::default() };
        let facts = Facts { share_pid: true, signal_scope: true, ..Facts::default() };
        let p = compile(&s, facts).unwrap();
        let eperm = errno(libc::EPERM);
        let ptr = 0x7fff_0000u64;
        assert_eq!(call(&p, "prlimit64", &[1234, 0, ptr, 0]), eperm);
        assert_eq!(call(&p, "prlimit64", &[1234, 0, 0, ptr]), ALLOW, "reading is fine");
        assert_eq!(call(&p, "prlimit64", &[0, 0, ptr, ptr]), ALLOW);
        assert_eq!(call(&p, "prlimit64", &[1 << 32, 0, ptr, 0]), ALLOW, "pid_t: the kernel reads 0");
        assert_eq!(call(&p, "setpriority", &[0, 1234, 19]), eperm);
        assert_eq!(call(&p, "setpriority", &[0, 0, 19]), ALLOW);
        assert_eq!(call(&p, "setpriority", &[1, 0, 19]), eperm, "PRIO_PGRP");
        assert_eq!(call(&p, "setpriority", &[2, 0, 19]), eperm, "PRIO_USER with who 0: every process");
        assert_eq!(call(&p, "ioprio_set", &[1, 0, 0x6000]), ALLOW);
        assert_eq!(call(&p, "ioprio_set", &[1, 1234, 0x6000]), eperm);
        assert_eq!(call(&p, "ioprio_set", &[3, 0, 0x6000]), eperm, "IOPRIO_WHO_USER");
        for name in ["sched_setaffinity", "sched_setparam", "sched_setscheduler", "sched_setattr"] {
            assert_eq!(call(&p, name, &[1234, 0, 0]), eperm, "{name}");
            assert_eq!(call(&p, name, &[0, 0, 0]), ALLOW, "{name}");
        }
        for lifted in [Facts { signal_scope: false, ..facts }, Facts { share_pid: false, ..facts }] {
            let p = compile(&s, lifted).unwrap();
            assert_eq!(call(&p, "prlimit64", &[1234, 0, ptr, 0]), ALLOW, "{lifted:?}");
            assert_eq!(call(&p, "setpriority", &[2, 0, 19]), ALLOW, "{lifted:?}");
        }
    }

    #[test]
    fn x32_and_i386_calls_are_refused_whatever_the_number() {
        let docker = include_str!("../../tests/fixtures/docker-default-seccomp.json");
        let mut imported = Seccomp { base: Base::None, ..Seccomp::default() };
        imported.policies.push(oci::import(docker, "d", &oci::Facts { caps: &[], kernel: "6.18" }).unwrap());
        for progs in [default(false), compile(&imported, Facts::default()).unwrap()] {
            for n in
                [0u32, 1, 39, 56, 59, 101, 110, 250, 272, 435, 512, 514, 520, 547, 0x3fff_ffff, 0xbfff_ffff]
            {
                let d = Data { nr: n | 0x4000_0000, arch: AUDIT_ARCH_X86_64, args: [0; 6] };
                assert_eq!(run_all(&progs, &d), errno(libc::ENOSYS), "x32 {n:#x}");
            }
            for n in [1u32, 3, 20, 64, 102, 120, 310, 435] {
                let d = Data { nr: n, arch: AUDIT_ARCH_I386, args: [0; 6] };
                assert_eq!(run_all(&progs, &d), errno(libc::ENOSYS), "i386 {n}");
            }
            let arm = Data { nr: 0, arch: 183 | 0xc000_0000, args: [0; 6] };
            assert_eq!(run_all(&progs, &arm), KILL, "an unknown architecture is killed");
        }
    }

    #[test]
    fn ptrace_depends_on_the_pid_namespace_and_userns_can_be_allowed() {
        assert_eq!(call(&default(false), "ptrace", &[]), ALLOW);
        assert_eq!(call(&default(true), "ptrace", &[]), errno(libc::EPERM));
        assert_eq!(call(&default(true), "process_vm_readv", &[]), errno(libc::EPERM));
        let s = Seccomp { allow_userns: true, ..Seccomp::default() };
        let p = compile(&s, Facts::default()).unwrap();
        assert_eq!(call(&p, "unshare", &[]), ALLOW);
        assert_eq!(call(&p, "clone", &[libc::CLONE_NEWUSER as u64]), ALLOW);
        assert_eq!(call(&p, "clone3", &[]), ALLOW);
        assert_eq!(call(&p, "keyctl", &[]), errno(libc::EPERM));
    }

    #[test]
    fn user_rules_log_mode_and_none() {
        let mut s = Seccomp::default();
        s.deny.push(Deny { syscall: "getppid".into(), errno: libc::ESRCH as u32 });
        s.deny.push(Deny { syscall: "keyctl".into(), errno: libc::EACCES as u32 });
        s.allow.push("bpf".into());
        let p = compile(&s, Facts::default()).unwrap();
        assert_eq!(call(&p, "getppid", &[]), errno(libc::ESRCH));
        assert_eq!(call(&p, "keyctl", &[]), errno(libc::EACCES), "the user's errno wins");
        assert_eq!(call(&p, "bpf", &[]), ALLOW);
        s.log = true;
        let p = compile(&s, Facts::default()).unwrap();
        assert_eq!(call(&p, "add_key", &[]), LOG);
        assert_eq!(call(&p, "getppid", &[]), LOG);
        let x32 = Data { nr: 0x4000_0000 | 250, arch: AUDIT_ARCH_X86_64, args: [0; 6] };
        assert_eq!(run_all(&p, &x32), LOG);
        let none = Seccomp { base: Base::None, ..Seccomp::default() };
        assert!(compile(&none, Facts::default()).unwrap().is_empty(), "--seccomp none installs nothing");
    }

    #[test]
    fn dockers_profile_compiles_to_its_meaning() {
        let docker = include_str!("../../tests/fixtures/docker-default-seccomp.json");
        let mut s = Seccomp { base: Base::None, ..Seccomp::default() };
        s.policies.push(oci::import(docker, "d", &oci::Facts { caps: &[], kernel: "6.18" }).unwrap());
        let p = compile(&s, Facts::default()).unwrap();
        for name in ["read", "getppid", "execve", "ptrace", "socket"] {
            assert_eq!(call(&p, name, &[]), ALLOW, "{name}");
        }
        for name in ["keyctl", "bpf", "mount", "unshare", "kexec_load", "perf_event_open", "io_uring_setup"] {
            assert_eq!(call(&p, name, &[]), errno(libc::EPERM), "{name}");
        }
        assert_eq!(call(&p, "clone3", &[]), errno(libc::ENOSYS));
        assert_eq!(call(&p, "clone", &[libc::CLONE_NEWUSER as u64]), errno(libc::EPERM));
        assert_eq!(call(&p, "socket", &[40, 1, 0]), errno(libc::EPERM), "AF_VSOCK");
        assert_eq!(call(&p, "personality", &[0x0400000]), errno(libc::EPERM));
        for prog in &p {
            assert!(prog.len() <= 4096);
        }
    }
}
