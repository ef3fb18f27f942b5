//! From the Plan's seccomp part to BPF programs, with seccompiler.
//!
//! The rules form layers, installed in this order: landlock's companion
//! (seccomp/landlock.json, when its conditions hold), the built-in policy,
//! the user's `--seccomp-deny` rules, then each policy file. seccompiler
//! gives a filter one action for its matches and one for the rest, so a
//! layer becomes one filter per action and the kernel runs them all,
//! keeping the strictest answer (kill > trap > errno > log > allow; between
//! two errnos, the one from the filter installed later):
//!
//! - a deny-list layer (default allow): one filter per action, each
//!   answering its action for its calls and allow for the rest;
//! - an allow-list layer (default errno, kill, …): first a filter answering
//!   allow for every call some rule names (with the rule's argument tests)
//!   and the default for the rest, then one filter per non-allow action.
//!
//! `--seccomp-log` turns every answer but allow into SECCOMP_RET_LOG,
//! except landlock's companion, which is enforcement of landlock's rules,
//! not part of the policy being tried. Every program is put behind
//! [`guard::prefix`].

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use super::syscalls::{self, Arch};
use super::{guard, policy};
use crate::plan::seccomp::{Action, Arg, Facts, Op, Rule, Seccomp};

/// The kernel's limit on one filter (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

/// One layer: a name for messages, a default, rules, and whether
/// `--seccomp-log` applies to it.
struct Layer {
    name: String,
    default: Action,
    rules: Vec<Rule>,
    log: bool,
}

/// The programs for `s` in a sandbox with these `facts`, in installation
/// order, for the architecture this binary runs on.
pub fn compile(s: &Seccomp, facts: Facts) -> Result<Vec<BpfProgram>, String> {
    let arch = Arch::NATIVE.ok_or_else(|| {
        format!("no system-call table for this architecture ({}) yet", std::env::consts::ARCH)
    })?;
    compile_on(arch, s, facts)
}

/// [`compile`] for `arch` (tests build the programs of both).
pub fn compile_on(arch: Arch, s: &Seccomp, facts: Facts) -> Result<Vec<BpfProgram>, String> {
    let mut layers = vec![
        Layer {
            name: "landlock's companion".into(),
            default: Action::Allow,
            rules: policy::landlock_rules_on(arch, facts),
            log: false,
        },
        Layer {
            name: "built-in policy".into(),
            default: Action::Allow,
            rules: policy::base_rules_on(arch, s, facts),
            log: s.log,
        },
    ];
    let deny = s.deny.iter().map(|d| Rule {
        syscalls: vec![d.syscall.clone()],
        action: Action::Errno(d.errno),
        args: Vec::new(),
        when: None,
        unless: None,
        reason: String::new(),
    });
    layers.push(Layer {
        name: "--seccomp-deny".into(),
        default: Action::Allow,
        rules: deny.collect(),
        log: s.log,
    });
    for p in &s.policies {
        let rules = p.rules.iter().filter(|r| r.applies(facts, s.allow_userns)).cloned().collect();
        layers.push(Layer { name: p.source.clone(), default: p.default, rules, log: s.log });
    }
    let mut out = Vec::new();
    for layer in layers {
        let guard_action = if layer.log { Action::Log } else { Action::Errno(libc::ENOSYS as u32) };
        for prog in layer_programs(arch, layer).map_err(|(name, e)| format!("{name}: {e}"))? {
            let prog = guard::guarded(arch, ret(guard_action), prog);
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
    f.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
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

/// The SECCOMP_RET_* value of an action.
pub fn ret(a: Action) -> u32 {
    scmp(a).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::guard::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
    use crate::seccomp::interp::{run_all, Data};

    /// The default policy and landlock's companion compile for aarch64 with
    /// aarch64's numbers and arch check (the binary runs only on its own
    /// architecture; this is what it would install there).
    #[test]
    fn the_default_filters_compile_for_aarch64() {
        let a = Arch::Aarch64;
        let s = Seccomp::default();
        let facts = Facts { port_rules: true, ..Facts::default() };
        let progs = compile_on(a, &s, facts).unwrap();
        let answer = |arch, name: &str, args: [u64; 6]| {
            run_all(&progs, &Data { nr: a.number(name).unwrap(), arch, args })
        };
        let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
        let aarch64 = AUDIT_ARCH_AARCH64;
        assert_eq!(answer(aarch64, "keyctl", [0; 6]), errno(libc::EPERM));
        assert_eq!(answer(aarch64, "io_uring_setup", [0; 6]), errno(libc::ENOSYS));
        assert_eq!(answer(aarch64, "umount2", [0; 6]), errno(libc::EPERM));
        assert_eq!(answer(aarch64, "read", [0; 6]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(answer(aarch64, "openat", [0; 6]), libc::SECCOMP_RET_ALLOW);
        let newuser = libc::CLONE_NEWUSER as u64;
        assert_eq!(answer(aarch64, "clone", [newuser, 0, 0, 0, 0, 0]), errno(libc::EPERM));
        assert_eq!(answer(aarch64, "clone", [0; 6]), libc::SECCOMP_RET_ALLOW);
        // Port rules: a UDP socket goes, a raw one does not (landlock's companion).
        let raw = [libc::AF_INET as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0];
        assert_ne!(answer(aarch64, "socket", raw), libc::SECCOMP_RET_ALLOW);
        // No x32/i386 guard on aarch64 (its ENOSYS answer): another
        // architecture is killed by the arch check.
        assert!(guard::prefix(a, 0).is_empty());
        assert_eq!(answer(AUDIT_ARCH_X86_64, "read", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(answer(AUDIT_ARCH_I386, "read", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
    }

    /// landlock-only mode's metadata filter on aarch64: its *at calls go to
    /// the monitor (it has no chmod, chown or utimes).
    #[test]
    fn the_metadata_filter_compiles_for_aarch64() {
        let a = Arch::Aarch64;
        let prog = crate::seccomp::notify::program_on(a).unwrap();
        let answer = |name: &str| {
            run_all(
                std::slice::from_ref(&prog),
                &Data { nr: a.number(name).unwrap(), arch: AUDIT_ARCH_AARCH64, args: [0; 6] },
            )
        };
        for name in ["fchmodat", "fchmodat2", "fchownat", "utimensat", "setxattr", "fremovexattr"] {
            assert_eq!(answer(name), libc::SECCOMP_RET_USER_NOTIF, "{name}");
        }
        assert_eq!(answer("openat"), libc::SECCOMP_RET_ALLOW);
    }
}
