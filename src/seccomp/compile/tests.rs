//! The one program against today's filters: for every configuration below,
//! on x86_64 and aarch64, the program `stack_on` builds and the filters
//! seccompiler built (`reference`, with the hand-written guards and
//! metadata filter) give the same answer, through the interpreter, for
//! every system-call number, the edge values of every argument test, i386
//! and x32 calls and a foreign architecture; the program is one the kernel
//! accepts, and every call the old filters let the kernel answer from its
//! cache, the program does too.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::plan::seccomp::{Base, Deny, Policy};
use crate::seccomp::guard::{AUDIT_ARCH_I386, X32_SYSCALL_BIT};
use crate::seccomp::interp::{self, Data};
use crate::seccomp::{oci, reference};

const DOCKER: &str = include_str!("../../../tests/fixtures/docker-default-seccomp.json");

/// A deny-list with every comparison, every action, 32 and 64 bits, and
/// two answers of one kind for one call (ENOSYS, the later group, wins).
const DENY: &str = r#"{"default": "allow", "rules": [
 {"syscalls": ["prctl"], "action": "EPERM", "args": [{"index": 0, "op": "eq", "value": 22, "bits": 32}]},
 {"syscalls": ["prctl"], "action": "ENOSYS", "args": [{"index": 0, "op": "eq", "value": 22, "bits": 32},
                                                      {"index": 1, "op": "ge", "value": 2}]},
 {"syscalls": ["fcntl"], "action": "trap", "args": [{"index": 1, "op": "masked-eq", "mask": 65280, "value": 1024}]},
 {"syscalls": ["kill"], "action": "kill", "args": [{"index": 1, "op": "gt", "value": 64},
                                                   {"index": 0, "op": "lt", "value": 4294967296}]},
 {"syscalls": ["tgkill"], "action": "log", "args": [{"index": 2, "op": "le", "value": 9, "bits": 32}]},
 {"syscalls": ["mmap"], "action": "EPERM", "args": [{"index": 2, "op": "any-bits", "value": 4, "bits": 32},
                                                    {"index": 3, "op": "any-bits", "value": 4294967328}]},
 {"syscalls": ["read"], "action": "allow"},
 {"syscalls": ["write"], "action": "E2BIG", "args": [{"index": 0, "op": "ne", "value": 1},
                                                     {"index": 0, "op": "ne", "value": 2},
                                                     {"index": 2, "op": "ge", "value": 4294967296}]},
 {"syscalls": ["getppid"], "action": "EPERM"},
 {"syscalls": ["getppid"], "action": "trap", "args": [{"index": 0, "op": "eq", "value": 5}]},
 {"syscalls": ["openat"], "action": "EACCES", "args": [{"index": 2, "op": "masked-eq", "mask": 3, "value": 1, "bits": 32}]},
 {"syscalls": ["lseek"], "action": "ESPIPE", "args": [{"index": 1, "op": "lt", "value": 18446744073709551615},
                                                      {"index": 1, "op": "gt", "value": 4294967295}]}
]}"#;

/// An allow-list (default ENOSYS) with argument tests on allowed calls and
/// a deny among its rules.
const ALLOW_LIST: &str = r#"{"default": "ENOSYS", "rules": [
 {"syscalls": ["read", "write", "openat", "close", "exit_group", "getppid", "mmap", "brk", "execve", "prctl"], "action": "allow"},
 {"syscalls": ["ioctl"], "action": "allow", "args": [{"index": 1, "op": "eq", "value": 21505, "bits": 32}]},
 {"syscalls": ["socket"], "action": "allow", "args": [{"index": 0, "op": "le", "value": 10}]},
 {"syscalls": ["socket"], "action": "EPERM", "args": [{"index": 0, "op": "eq", "value": 10}]},
 {"syscalls": ["kill"], "action": "EPERM"}
]}"#;

/// An allow-list that kills.
const KILL_LIST: &str = r#"{"default": "kill", "rules": [
 {"syscalls": ["read", "write", "exit_group", "rt_sigreturn", "sendmsg", "close"], "action": "allow"},
 {"syscalls": ["clone"], "action": "allow", "args": [{"index": 0, "op": "masked-eq", "mask": 2114060288, "value": 0, "bits": 32}]},
 {"syscalls": ["getppid"], "action": "trap"}
]}"#;

fn policy(arch: Arch, text: &str, name: &str) -> Policy {
    policy::load_on(arch, text, name).unwrap()
}

fn docker(arch: Arch) -> Policy {
    oci::import_on(arch, DOCKER, "docker", &oci::Facts { caps: &[], kernel: "6.18" }).unwrap()
}

fn deny(name: &str, errno: i32) -> Deny {
    Deny { syscall: name.into(), errno: errno as u32 }
}

/// The configurations compared: (name, policy, facts, metadata filter).
fn configurations(arch: Arch) -> Vec<(&'static str, Seccomp, Facts, bool)> {
    let d = Seccomp::default;
    let none = || Seccomp { base: Base::None, ..d() };
    let ports = Facts { port_rules: true, ..Facts::default() };
    let host = Facts { share_pid: true, signal_scope: true, ..Facts::default() };
    let landlock_only = Facts {
        share_pid: true,
        landlock_only: true,
        port_rules: true,
        signal_scope: true,
        exec_rules: false,
    };
    let with = |base: Seccomp, ps: Vec<Policy>| Seccomp { policies: ps, ..base };
    let denies = Seccomp {
        deny: vec![
            deny("keyctl", libc::EACCES),
            deny("getppid", libc::ESRCH),
            deny("ioctl", libc::ENOTTY),
            deny("socket", libc::EPERM),
            deny("clone3", libc::EPERM),
        ],
        allow: vec!["bpf".into()],
        ..d()
    };
    vec![
        ("default", d(), Facts::default(), false),
        ("default, host pids", d(), host, false),
        ("default, port rules", d(), ports, false),
        ("default, exec rules", d(), Facts { exec_rules: true, ..ports }, false),
        ("landlock-only", d(), landlock_only, true),
        ("allow-userns", Seccomp { allow_userns: true, ..d() }, Facts::default(), false),
        ("log", Seccomp { log: true, ..d() }, ports, false),
        (
            "none, companion",
            none(),
            Facts { share_pid: true, signal_scope: true, port_rules: true, ..Facts::default() },
            false,
        ),
        ("user denies", denies.clone(), Facts::default(), false),
        ("user denies, landlock-only", denies, landlock_only, true),
        ("docker alone", with(none(), vec![docker(arch)]), Facts::default(), false),
        ("default and docker", with(d(), vec![docker(arch)]), ports, false),
        (
            "stacked files",
            with(d(), vec![policy(arch, DENY, "a"), policy(arch, ALLOW_LIST, "b")]),
            Facts::default(),
            false,
        ),
        ("kill list", with(none(), vec![policy(arch, KILL_LIST, "c")]), Facts::default(), false),
        ("kill list, landlock-only", with(none(), vec![policy(arch, KILL_LIST, "c")]), landlock_only, true),
        (
            "all logged",
            Seccomp {
                log: true,
                ..with(
                    d(),
                    vec![
                        policy(arch, DENY, "a"),
                        policy(arch, ALLOW_LIST, "b"),
                        policy(arch, KILL_LIST, "c"),
                    ],
                )
            },
            Facts::default(),
            true,
        ),
        ("files and docker", with(d(), vec![policy(arch, DENY, "a"), docker(arch)]), ports, false),
        ("seccomp none", none(), Facts::default(), false),
    ]
}

/// Values around the constant of one argument test.
fn edges(a: &Arg) -> Vec<u64> {
    let (v, m) = (a.value, a.mask.unwrap_or(0));
    let mut out = vec![0, u64::MAX, v, v.wrapping_sub(1), v.wrapping_add(1), v ^ 1 << 32, v | 1 << 32];
    out.extend([
        v & 0xffff_ffff,
        v | 0xffff_ffff_0000_0000,
        !v,
        1 << 31,
        m,
        v & m,
        (v & m) | !m,
        m.wrapping_add(1),
    ]);
    out.extend((0..64).map(|b| 1u64 << b).filter(|bit| v & bit != 0 || m & bit != 0));
    out
}

/// Argument vectors for `nr`: zeros; one argument at each of its edges;
/// and combinations (all of them while few, else a fixed sample).
fn argument_vectors(layers: &[Layer], arch: Arch, nr: u32) -> Vec<[u64; 6]> {
    let mut per: BTreeMap<u8, BTreeSet<u64>> = BTreeMap::new();
    for l in layers {
        for r in l.rules.iter().filter(|r| r.syscalls.iter().any(|n| arch.number(n) == Some(nr))) {
            for a in &r.args {
                per.entry(a.index).or_default().extend(edges(a));
            }
        }
    }
    let mut out = vec![[0u64; 6]];
    for (&i, vs) in &per {
        for &v in vs {
            let mut args = [0u64; 6];
            args[usize::from(i)] = v;
            out.push(args);
        }
    }
    let sets: Vec<(u8, Vec<u64>)> = per.into_iter().map(|(i, s)| (i, s.into_iter().collect())).collect();
    let product: usize = sets.iter().map(|(_, s)| s.len()).product();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(nr);
    for n in 0..product.min(3000) {
        let mut args = [0u64; 6];
        let mut k = n;
        for (i, s) in &sets {
            let pick = if product <= 3000 {
                let p = k % s.len();
                k /= s.len();
                p
            } else {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % s.len() as u64) as usize
            };
            args[usize::from(*i)] = s[pick];
        }
        out.push(args);
    }
    out
}

fn reference_stack(arch: Arch, s: &Seccomp, facts: Facts, metadata: bool) -> Vec<Vec<sock_filter>> {
    let mut progs = Vec::new();
    if metadata {
        progs.push(reference::metadata_program(arch).unwrap());
    }
    progs.extend(reference::programs(arch, layers_on(arch, s, facts)).unwrap());
    progs
}

use crate::seccomp::bpf::Insn as sock_filter;

#[test]
fn one_program_answers_as_the_filters_it_replaces_on_both_architectures() {
    let mut compared = 0usize;
    for arch in Arch::ALL {
        for (name, s, facts, metadata) in configurations(arch) {
            let old = reference_stack(arch, &s, facts, metadata);
            let new = stack_on(arch, &s, facts, metadata).unwrap();
            assert_eq!(new.listener, metadata, "{name}");
            if old.is_empty() {
                assert!(new.programs.is_empty(), "{name}: nothing to install");
                continue;
            }
            for p in &new.programs {
                interp::check(p).unwrap_or_else(|e| panic!("{name} on {arch:?}: {e}"));
            }
            let layers = layers_on(arch, &s, facts);
            let audit = arch.audit();
            let mut calls: Vec<(u32, u32, [u64; 6])> = Vec::new();
            for nr in (0..1024).chain([0x3fff_ffff, X32_SYSCALL_BIT - 1, u32::MAX]) {
                for args in argument_vectors(&layers, arch, nr) {
                    calls.push((audit, nr, args));
                }
                calls.push((audit, nr | X32_SYSCALL_BIT, [0; 6]));
                calls.push((AUDIT_ARCH_I386, nr, [0; 6]));
                calls.push((0xc000_00f3, nr, [0; 6])); // riscv64
            }
            for (a, nr, args) in calls {
                let d = Data { nr, arch: a, args };
                let (want, got) = (interp::run_all(&old, &d), interp::run_all(&new.programs, &d));
                assert_eq!(got, want, "{name} on {arch:?}: arch {a:#x} nr {nr:#x} args {args:x?}");
                compared += 1;
            }
            for nr in 0..1024 {
                let cached =
                    |progs: &[Vec<sock_filter>]| progs.iter().all(|p| interp::const_allow(p, audit, nr));
                if cached(&old) {
                    assert!(cached(&new.programs), "{name} on {arch:?}: nr {nr} no longer cached");
                }
            }
        }
    }
    assert!(compared > 200_000, "{compared} calls compared");
}

#[test]
fn the_default_policy_is_one_small_program() {
    for arch in Arch::ALL {
        let s = Seccomp::default();
        let facts = Facts { port_rules: true, ..Facts::default() };
        let new = stack_on(arch, &s, facts, false).unwrap();
        assert_eq!(new.programs.len(), 1, "{arch:?}");
        let old = reference_stack(arch, &s, facts, false);
        let (n, o): (usize, usize) = (new.programs[0].len(), old.iter().map(Vec::len).sum());
        assert!(old.len() >= 3 && n < o, "{arch:?}: {n} instructions against {o} in {} filters", old.len());
        let getppid = arch.number("getppid").unwrap();
        assert!(interp::const_allow(&new.programs[0], arch.audit(), getppid));
    }
}

#[test]
fn the_metadata_filter_joins_only_when_the_listener_can_still_be_sent() {
    for arch in Arch::ALL {
        let ll = Facts {
            share_pid: true,
            landlock_only: true,
            port_rules: true,
            signal_scope: true,
            exec_rules: false,
        };
        let merged = stack_on(arch, &Seccomp::default(), ll, true).unwrap();
        assert_eq!((merged.programs.len(), merged.listener), (1, true), "{arch:?}");
        for refused in ["sendmsg", "close"] {
            let s = Seccomp { deny: vec![deny(refused, libc::EPERM)], ..Seccomp::default() };
            let apart = stack_on(arch, &s, ll, true).unwrap();
            assert_eq!((apart.programs.len(), apart.listener), (2, true), "{arch:?} {refused}");
            assert_eq!(apart.programs[0], notify::program_on(arch).unwrap());
        }
        // An allow-list without sendmsg keeps it apart too.
        let s =
            Seccomp { base: Base::None, policies: vec![policy(arch, ALLOW_LIST, "b")], ..Seccomp::default() };
        assert_eq!(stack_on(arch, &s, ll, true).unwrap().programs.len(), 2, "{arch:?}");
    }
}

#[test]
fn a_stack_too_large_for_one_program_is_one_program_per_layer() {
    let arch = Arch::X86_64;
    // 600 alternatives of 2 tests on one call: over 4096 instructions as
    // one decision, in two layers that each fit.
    let rules = |from: u64| -> String {
        let r: Vec<String> = (from..from + 300)
            .map(|v| format!(r#"{{"syscalls": ["ioctl"], "action": "EPERM", "args": [{{"index": 1, "op": "eq", "value": {v}}}, {{"index": 2, "op": "ne", "value": {v}}}]}}"#))
            .collect();
        format!(r#"{{"rules": [{}]}}"#, r.join(","))
    };
    let s = Seccomp {
        base: Base::None,
        policies: vec![policy(arch, &rules(1000), "x"), policy(arch, &rules(5000), "y")],
        ..Seccomp::default()
    };
    let new = stack_on(arch, &s, Facts::default(), false).unwrap();
    assert_eq!(new.programs.len(), 2);
    let old = reference_stack(arch, &s, Facts::default(), false);
    let ioctl = arch.number("ioctl").unwrap();
    for v in [0u64, 999, 1000, 1150, 1299, 1300, 5000, 5299, 5300] {
        for third in [v, v + 1] {
            let d = Data { nr: ioctl, arch: arch.audit(), args: [0, v, third, 0, 0, 0] };
            assert_eq!(interp::run_all(&new.programs, &d), interp::run_all(&old, &d), "{v} {third}");
        }
    }
}

/// The default filters on aarch64: aarch64's numbers and arch check, no
/// x32/i386 guard (another architecture is killed).
#[test]
fn the_default_filters_compile_for_aarch64() {
    let a = Arch::Aarch64;
    let progs = compile_on(a, &Seccomp::default(), Facts { port_rules: true, ..Facts::default() }).unwrap();
    let answer = |arch, name: &str, args: [u64; 6]| {
        interp::run_all(&progs, &Data { nr: a.number(name).unwrap(), arch, args })
    };
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
    let aarch64 = a.audit();
    assert_eq!(answer(aarch64, "keyctl", [0; 6]), errno(libc::EPERM));
    assert_eq!(answer(aarch64, "io_uring_setup", [0; 6]), errno(libc::ENOSYS));
    assert_eq!(answer(aarch64, "umount2", [0; 6]), errno(libc::EPERM));
    assert_eq!(answer(aarch64, "read", [0; 6]), libc::SECCOMP_RET_ALLOW);
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(answer(aarch64, "clone", [newuser, 0, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(answer(aarch64, "clone", [0; 6]), libc::SECCOMP_RET_ALLOW);
    let raw = [libc::AF_INET as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0];
    assert_ne!(answer(aarch64, "socket", raw), libc::SECCOMP_RET_ALLOW);
    let x86_64 = Arch::X86_64.audit();
    assert_eq!(answer(x86_64, "read", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
    assert_eq!(answer(AUDIT_ARCH_I386, "read", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
}

/// landlock-only mode's metadata filter on aarch64: its *at calls go to
/// the monitor (it has no chmod, chown or utimes).
#[test]
fn the_metadata_filter_compiles_for_aarch64() {
    let a = Arch::Aarch64;
    let prog = notify::program_on(a).unwrap();
    let answer =
        |name: &str| interp::run(&prog, &Data { nr: a.number(name).unwrap(), arch: a.audit(), args: [0; 6] });
    for name in ["fchmodat", "fchmodat2", "fchownat", "utimensat", "setxattr", "fremovexattr"] {
        assert_eq!(answer(name), libc::SECCOMP_RET_USER_NOTIF, "{name}");
    }
    assert_eq!(answer("openat"), libc::SECCOMP_RET_ALLOW);
}
