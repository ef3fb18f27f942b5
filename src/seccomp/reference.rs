//! Today's programs, kept as the reference the single program is proved
//! against: each layer compiled with seccompiler into one filter per
//! action (and for an allow-list a filter for its default), each behind the
//! x32/i386 guard of [`guard`], installed in order, the kernel combining
//! their answers. This is how `compile` built the filters before the one
//! program of [`super::program`]; tests and the fuzz target run both through
//! the interpreter and require the same answer for every call.

use std::collections::BTreeMap;

use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use super::bpf::{BpfProgram, Insn};
use super::compile::{ret, Layer, MAX_INSNS};
use super::guard::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use super::syscalls::{self, Arch};
use crate::plan::seccomp::{Action, Arg, Op};

/// The programs of `layers`, in installation order.
pub fn programs(arch: Arch, layers: Vec<Layer>) -> Result<Vec<BpfProgram>, String> {
    let mut out = Vec::new();
    for layer in layers {
        let guard_action = if layer.log { Action::Log } else { Action::Errno(libc::ENOSYS as u32) };
        for prog in layer_programs(arch, layer).map_err(|(name, e)| format!("{name}: {e}"))? {
            let prog = guarded(arch, ret(guard_action), prog);
            if prog.len() > MAX_INSNS {
                return Err(format!(
                    "a filter of {} instructions is over the kernel's {MAX_INSNS}",
                    prog.len()
                ));
            }
            out.push(prog);
        }
    }
    Ok(out)
}

/// Per-call alternatives: `None` = every call matches, else any of the
/// rules (each a conjunction of conditions).
type Calls = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn layer_programs(arch: Arch, layer: Layer) -> Result<Vec<BpfProgram>, (String, String)> {
    let err = |e: String| (layer.name.clone(), e);
    let lower = |a: Action| if layer.log && a != Action::Allow { Action::Log } else { a };
    let default = lower(layer.default);
    let mut groups: Vec<(Action, Calls)> = Vec::new();
    let mut named = Calls::new();
    for rule in &layer.rules {
        let action = lower(rule.action);
        let alternatives = conditions(&rule.args).map_err(err)?;
        for name in &rule.syscalls {
            let nr = i64::from(syscalls::check_on(arch, name).map_err(err)?);
            add(&mut named, nr, alternatives.clone());
            if action == Action::Allow {
                continue;
            }
            let at = match groups.iter().position(|(a, _)| *a == action) {
                Some(i) => i,
                None => {
                    groups.push((action, Calls::new()));
                    groups.len() - 1
                }
            };
            add(&mut groups[at].1, nr, alternatives.clone());
        }
    }
    let mut programs = Vec::new();
    if default != Action::Allow {
        programs.push(filter(arch, named, default, Action::Allow).map_err(err)?);
    }
    for (action, calls) in groups {
        programs.push(filter(arch, calls, Action::Allow, action).map_err(err)?);
    }
    Ok(programs)
}

/// Adds alternatives for `nr`; an unconditional match absorbs the rest.
fn add(calls: &mut Calls, nr: i64, alternatives: Option<Vec<SeccompRule>>) {
    match (calls.get_mut(&nr), alternatives) {
        (None, alt) => {
            calls.insert(nr, alt);
        }
        (Some(slot), None) => *slot = None,
        (Some(Some(existing)), Some(more)) => existing.extend(more),
        (Some(None), Some(_)) => {}
    }
}

fn filter(arch: Arch, calls: Calls, mismatch: Action, matched: Action) -> Result<BpfProgram, String> {
    let rules = calls.into_iter().map(|(nr, alt)| (nr, alt.unwrap_or_default())).collect();
    let arch = match arch {
        Arch::X86_64 => TargetArch::x86_64,
        Arch::Aarch64 => TargetArch::aarch64,
    };
    let f = SeccompFilter::new(rules, scmp(mismatch), scmp(matched), arch).map_err(|e| e.to_string())?;
    let prog: seccompiler::BpfProgram = f.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
    Ok(prog.into_iter().map(|i| Insn { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect())
}

/// The argument tests of one rule as seccompiler rules (any of which
/// matches). `any-bits` is one alternative per bit, so the result is the
/// cross product.
fn conditions(args: &[Arg]) -> Result<Option<Vec<SeccompRule>>, String> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut alternatives: Vec<Vec<SeccompCondition>> = vec![Vec::new()];
    for a in args {
        let len = if a.bits == 32 { SeccompCmpArgLen::Dword } else { SeccompCmpArgLen::Qword };
        let cond = |op, v| SeccompCondition::new(a.index, len.clone(), op, v).map_err(|e| e.to_string());
        let options: Vec<SeccompCondition> = match a.op {
            Op::Eq => vec![cond(SeccompCmpOp::Eq, a.value)?],
            Op::Ne => vec![cond(SeccompCmpOp::Ne, a.value)?],
            Op::Lt => vec![cond(SeccompCmpOp::Lt, a.value)?],
            Op::Le => vec![cond(SeccompCmpOp::Le, a.value)?],
            Op::Gt => vec![cond(SeccompCmpOp::Gt, a.value)?],
            Op::Ge => vec![cond(SeccompCmpOp::Ge, a.value)?],
            Op::MaskedEq => vec![cond(SeccompCmpOp::MaskedEq(a.mask.unwrap_or(u64::MAX)), a.value)?],
            Op::AnyBits => (0..64)
                .map(|b| 1u64 << b)
                .filter(|bit| a.value & bit != 0)
                .map(|bit| cond(SeccompCmpOp::MaskedEq(bit), bit))
                .collect::<Result<_, _>>()?,
        };
        alternatives = alternatives
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |c| {
                    let mut v = prefix.clone();
                    v.push(c.clone());
                    v
                })
            })
            .collect();
    }
    alternatives
        .into_iter()
        .map(|c| SeccompRule::new(c).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()
        .map(Some)
}

fn scmp(a: Action) -> SeccompAction {
    match a {
        Action::Allow => SeccompAction::Allow,
        Action::Log => SeccompAction::Log,
        Action::Errno(n) => SeccompAction::Errno(n),
        Action::Trap => SeccompAction::Trap,
        Action::Kill => SeccompAction::KillProcess,
    }
}

/// Landlock-only mode's metadata filter as it was written by hand: the
/// guard, the arch check, one `jeq` per call.
pub fn metadata_program(arch: Arch) -> Result<BpfProgram, String> {
    let here = super::notify::METADATA_CALLS.iter().filter(|n| !syscalls::other_arch_on(arch, n));
    let nrs: Vec<u32> = here.map(|n| syscalls::check_on(arch, n)).collect::<Result<_, _>>()?;
    let mut out: Vec<Insn> = vec![
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, arch.audit(), 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFFSET_NR),
    ];
    let n = nrs.len();
    for (i, &nr) in nrs.iter().enumerate() {
        // On a match, jump over the remaining tests and the RET ALLOW.
        out.push(jump(JEQ_K, nr, (n - i) as u8, 0));
    }
    out.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    out.push(stmt(RET_K, libc::SECCOMP_RET_USER_NOTIF));
    Ok(guarded(arch, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32, out))
}

// The guard prefix of every reference program, as it was written by hand.

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The prefix on `arch`: on x86_64, i386 and x32 calls get `action` (a
/// SECCOMP_RET_* value); everything else falls through to the program that
/// follows. aarch64 has no second table under its own AUDIT_ARCH (an
/// aarch32 process reports AUDIT_ARCH_ARM, which seccompiler's check kills).
pub fn prefix(arch: Arch, action: u32) -> Vec<Insn> {
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
pub fn guarded(arch: Arch, action: u32, program: Vec<Insn>) -> Vec<Insn> {
    let mut out = prefix(arch, action);
    out.extend(program);
    out
}
