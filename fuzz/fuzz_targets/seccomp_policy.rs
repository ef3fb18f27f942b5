//! Seccomp policies: arbitrary JSON through our policy loader (first byte
//! even) or the OCI import (odd), then compiled to BPF for the facts the
//! first byte's other bits pick. Invariants: never
//! panics; every compiled program uses only instructions the interpreter
//! (and the kernel) knows; whatever the policy says, x32 and i386 entry
//! points are never allowed, with the built-in policy or without it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::plan::seccomp::{Base, Facts, Seccomp};
use sandbox::seccomp::{compile, interp, oci, policy};

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const RET_ALLOW: u32 = 0x7fff_0000;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    // The other bits of the first byte: the facts the rules' conditions
    // are decided on (landlock-only mode, port rules, the signal scope).
    let bit = |n: u8| kind & (1 << n) != 0;
    let facts = Facts {
        share_pid: bit(1),
        landlock_only: bit(2),
        port_rules: bit(3),
        signal_scope: bit(4),
        exec_rules: bit(5),
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let loaded = if kind % 2 == 0 {
        policy::load(text, "fuzz.json")
    } else {
        oci::import(text, "fuzz.json", &oci::Facts { caps: &[], kernel: "6.18.0" })
    };
    let Ok(p) = loaded else { return };
    for base in [Base::Default, Base::None] {
        let s = Seccomp { base, policies: vec![p.clone()], ..Seccomp::default() };
        let Ok(progs) = compile::compile(&s, facts) else { continue };
        let progs: Vec<Vec<_>> = progs.into_iter().map(|p| p.to_vec()).collect();
        for (arch, nr) in [
            (AUDIT_ARCH_X86_64, 0x4000_0000 | 39),
            (AUDIT_ARCH_X86_64, 0x4000_0000 | 272),
            (AUDIT_ARCH_I386, 20),
            (AUDIT_ARCH_I386, 310),
        ] {
            let d = interp::Data { nr, arch, args: [0; 6] };
            assert_ne!(
                interp::run_all(&progs, &d) & 0xffff_0000,
                RET_ALLOW,
                "arch {arch:#x} nr {nr:#x} allowed"
            );
        }
        // An ordinary call runs through every program without a panic.
        let _ = interp::run_all(&progs, &interp::Data { nr: 39, arch: AUDIT_ARCH_X86_64, args: [0; 6] });
    }
});
