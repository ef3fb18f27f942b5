//! The one seccomp program against the filters it replaces: the input
//! picks an architecture, the facts, the built-in policy or none, user
//! denies and allows, log mode, the metadata filter, and up to three policy
//! files of random rules (calls, every comparison in 32 and 64 bits, every
//! action, a default that makes an allow-list). Invariants: the program
//! `compile::stack_on` builds is one the kernel accepts, and for every
//! named call (and a few others), at zero arguments, at the edges of every
//! argument test and at values from the input, it answers what the
//! seccompiler filters of `seccomp::reference` answer together.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sandbox::plan::seccomp::{Action, Arg, Base, Deny, Facts, Op, Policy, Rule, Seccomp};
use sandbox::seccomp::syscalls::Arch;
use sandbox::seccomp::{compile, interp, policy, reference};

/// Calls every architecture has, with argument rules in the built-in
/// policies or none.
const NAMES: [&str; 16] = [
    "read",
    "write",
    "close",
    "ioctl",
    "socket",
    "clone",
    "prctl",
    "getppid",
    "kill",
    "mmap",
    "sendmsg",
    "keyctl",
    "setsockopt",
    "prlimit64",
    "memfd_create",
    "fchmodat",
];
const VALUES: [u64; 10] = [0, 1, 2, 10, 0x5412, 0x7fff_ffff, 0xffff_ffff, 1 << 32, (1 << 32) | 2, u64::MAX];

fn value(u: &mut Unstructured) -> Result<u64> {
    Ok(if u.arbitrary()? { *u.choose(&VALUES)? } else { u.arbitrary()? })
}

fn action(u: &mut Unstructured) -> Result<Action> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Action::Allow,
        1 => Action::Log,
        2 => Action::Trap,
        3 => Action::Kill,
        _ => Action::Errno(*u.choose(&[1, 13, 22, 38, 95, 4095])?),
    })
}

fn arg(u: &mut Unstructured) -> Result<Arg> {
    let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::MaskedEq, Op::AnyBits];
    let op = *u.choose(&ops)?;
    let bits = if u.arbitrary()? { 32 } else { 64 };
    let cut = |v: u64| if bits == 32 { v & 0xffff_ffff } else { v };
    let mask = (op == Op::MaskedEq).then(|| value(u).map(cut)).transpose()?;
    Ok(Arg { index: u.int_in_range(0..=5)?, op, value: cut(value(u)?), mask, bits })
}

fn rule(u: &mut Unstructured) -> Result<Rule> {
    let syscalls = (0..u.int_in_range(1..=3)?)
        .map(|_| u.choose(&NAMES).map(|n| n.to_string()))
        .collect::<Result<_>>()?;
    let args = (0..u.int_in_range(0..=3)?).map(|_| arg(u)).collect::<Result<_>>()?;
    Ok(Rule { syscalls, action: action(u)?, args, when: None, unless: None, reason: String::new() })
}

fn config(u: &mut Unstructured) -> Result<(Arch, Seccomp, Facts, bool)> {
    let arch = if u.arbitrary()? { Arch::X86_64 } else { Arch::Aarch64 };
    let facts = Facts {
        share_pid: u.arbitrary()?,
        landlock_only: u.arbitrary()?,
        port_rules: u.arbitrary()?,
        signal_scope: u.arbitrary()?,
        exec_rules: u.arbitrary()?,
    };
    let mut s = Seccomp {
        base: if u.arbitrary()? { Base::Default } else { Base::None },
        allow_userns: u.arbitrary()?,
        log: u.ratio(1, 4)?,
        ..Seccomp::default()
    };
    for _ in 0..u.int_in_range(0..=2)? {
        s.deny.push(Deny { syscall: u.choose(&NAMES)?.to_string(), errno: *u.choose(&[1, 38, 13])? });
    }
    if u.ratio(1, 4)? {
        s.allow.push(u.choose(&["keyctl", "clone", "ioctl"])?.to_string());
    }
    for i in 0..u.int_in_range(0..=3)? {
        let default = if u.arbitrary()? { Action::Allow } else { action(u)? };
        let rules = (0..u.int_in_range(0..=8)?).map(|_| rule(u)).collect::<Result<_>>()?;
        let p = Policy { source: format!("p{i}"), default, rules, skipped: Vec::new() };
        if policy::check_on(arch, &p).is_ok() {
            s.policies.push(p);
        }
    }
    Ok((arch, s, facts, u.arbitrary()?))
}

/// The edges of one argument test.
fn edges(a: &Arg) -> [u64; 8] {
    let (v, m) = (a.value, a.mask.unwrap_or(0));
    [v, v.wrapping_sub(1), v.wrapping_add(1), v ^ 1 << 32, m, v & m, !v, v | 0xffff_ffff_0000_0000]
}

fn compare(u: &mut Unstructured) -> Result<()> {
    let (arch, s, facts, metadata) = config(u)?;
    let mut old = Vec::new();
    if metadata {
        old.push(reference::metadata_program(arch).expect("the metadata filter"));
    }
    let layers = compile::layers_on(arch, &s, facts);
    // A reference filter over seccompiler's limit is a setup error in both.
    let Ok(progs) = reference::programs(arch, layers) else { return Ok(()) };
    old.extend(progs);
    let new = compile::stack_on(arch, &s, facts, metadata)
        .expect("what the reference compiles, the one program does");
    for p in &new.programs {
        interp::check(p).expect("a program the kernel accepts");
    }
    let layers = compile::layers_on(arch, &s, facts);
    for rule in layers.iter().flat_map(|l| l.rules.iter()) {
        for name in &rule.syscalls {
            let nr = arch.number(name).expect("a checked name");
            let mut vectors = vec![[0u64; 6]];
            for a in &rule.args {
                for e in edges(a) {
                    let mut args = [0u64; 6];
                    args[usize::from(a.index)] = e;
                    vectors.push(args);
                }
            }
            let mut args = [0u64; 6];
            for a in args.iter_mut() {
                *a = value(u)?;
            }
            vectors.push(args);
            for args in vectors {
                let d = interp::Data { nr, arch: arch.audit(), args };
                assert_eq!(interp::run_all(&new.programs, &d), interp::run_all(&old, &d), "{name} {args:x?}");
            }
        }
    }
    for nr in [0u32, 39, 500, 0x4000_0000 | 250, u32::MAX] {
        for a in [arch.audit(), 0x4000_0003] {
            let d = interp::Data { nr, arch: a, args: [0; 6] };
            assert_eq!(
                interp::run_all(&new.programs, &d),
                interp::run_all(&old, &d),
                "arch {a:#x} nr {nr:#x}"
            );
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = compare(&mut Unstructured::new(data));
});
