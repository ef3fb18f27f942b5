//! From the Plan's seccomp part to one BPF program.
//!
//! The rules form layers, in this order: landlock's companion
//! (seccomp/landlock.json, when its conditions hold), the built-in policy,
//! the user's `--seccomp-deny` rules, then each policy file. Their meaning
//! is that of a stack of filters, one per action of a layer, the kernel
//! keeping the strictest answer (kill > trap > errno > user notification >
//! log > allow; between two answers of one kind, for example two errnos,
//! the one of the filter installed later):
//!
//! - a deny-list layer (default allow): per action, a filter answering that
//!   action for its calls and allow for the rest;
//! - an allow-list layer (default errno, kill, …): first a filter answering
//!   allow for every call some rule names (with the rule's argument tests)
//!   and the default for the rest, then one filter per non-allow action.
//!
//! [`program`] compiles that whole stack into one program that gives the
//! same answer for every call (the tests prove it against the filters
//! seccompiler built before, see `reference`). Only when the one program
//! would be over the kernel's 4096 instructions is each layer (or, if one
//! is still too large, each of its filters) a program of its own, which the
//! kernel then combines the same way.
//!
//! `--seccomp-log` turns every answer but allow into SECCOMP_RET_LOG,
//! except landlock's companion, which is enforcement of landlock's rules,
//! not part of the policy being tried. i386 and x32 calls get ENOSYS (LOG
//! when every layer is logged).

use super::bpf::BpfProgram;

use super::program::{self, Alt, ArchCheck, Cmp, Cond, Filter};
use super::syscalls::{self, Arch};
use super::{notify, policy};
use crate::plan::seccomp::{Action, Arg, Facts, Op, Rule, Seccomp};

/// The kernel's limit on one filter (BPF_MAXINSNS).
pub const MAX_INSNS: usize = program::MAX_INSNS;

/// One layer: a name for messages, a default, rules, and whether
/// `--seccomp-log` applies to it.
pub struct Layer {
    pub name: String,
    pub default: Action,
    pub rules: Vec<Rule>,
    pub log: bool,
}

/// The programs to install, in order.
#[derive(Debug, Default)]
pub struct Compiled {
    pub programs: Vec<BpfProgram>,
    /// The first program holds landlock-only mode's metadata filter and is
    /// installed with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER).
    pub listener: bool,
}

/// The programs for `s` in a sandbox with these `facts`, in installation
/// order, for the architecture this binary runs on.
pub fn compile(s: &Seccomp, facts: Facts) -> Result<Vec<BpfProgram>, String> {
    compile_on(native()?, s, facts)
}

/// [`compile`] for `arch` (tests build the programs of both).
pub fn compile_on(arch: Arch, s: &Seccomp, facts: Facts) -> Result<Vec<BpfProgram>, String> {
    Ok(stack_on(arch, s, facts, false)?.programs)
}

/// The programs for `s` and, with `metadata`, landlock-only mode's metadata
/// filter (`notify`), on this architecture.
pub fn stack(s: &Seccomp, facts: Facts, metadata: bool) -> Result<Compiled, String> {
    stack_on(native()?, s, facts, metadata)
}

fn native() -> Result<Arch, String> {
    Arch::NATIVE
        .ok_or_else(|| format!("no system-call table for this architecture ({}) yet", std::env::consts::ARCH))
}

/// [`stack`] on `arch`. The metadata filter joins the one program when the
/// policy lets the command send the listener to the monitor afterwards
/// (`sendmsg` with flags 0 and `close` allowed whatever the fd and the
/// pointers); else it is a program of its own, installed first, as the
/// listener must be sent before a policy could refuse that.
pub fn stack_on(arch: Arch, s: &Seccomp, facts: Facts, metadata: bool) -> Result<Compiled, String> {
    let check = ArchCheck::of(arch);
    let mut layers = Vec::new();
    for layer in layers_on(arch, s, facts) {
        let f = filters(arch, &layer).map_err(|e| format!("{}: {e}", layer.name))?;
        layers.push((layer.name, f));
    }
    let all: Vec<Filter> = layers.iter().flat_map(|(_, f)| f.iter().cloned()).collect();
    let notify = match metadata {
        true => Some(notify::filter_on(arch)?),
        false => None,
    };
    if let Some(n) = &notify {
        let mut merged = vec![n.clone()];
        merged.extend(all.iter().cloned());
        if sends_listener(arch, &merged)? {
            if let Ok(Some(p)) = program::build(check, &merged) {
                return Ok(Compiled { programs: vec![p], listener: true });
            }
        }
    }
    let mut programs = Vec::new();
    if let Some(n) = &notify {
        programs.extend(program::build(check, std::slice::from_ref(n))?);
    }
    match program::build(check, &all) {
        Ok(p) => programs.extend(p),
        // Too large as one: one program per layer, or per filter.
        Err(_) => {
            for (name, filters) in &layers {
                match program::build(check, filters) {
                    Ok(p) => programs.extend(p),
                    Err(_) => {
                        for f in filters {
                            let p = program::build(check, std::slice::from_ref(f));
                            programs.extend(p.map_err(|e| format!("{name}: {e}"))?);
                        }
                    }
                }
            }
        }
    }
    Ok(Compiled { programs, listener: notify.is_some() })
}

/// Whether the command may still send the listener and close its copy
/// once `filters` are installed.
fn sends_listener(arch: Arch, filters: &[Filter]) -> Result<bool, String> {
    let nr = |name| syscalls::check_on(arch, name);
    let sendmsg = program::answer(filters, nr("sendmsg")?, [None, None, Some(0), None, None, None]);
    let close = program::answer(filters, nr("close")?, [None; 6]);
    Ok(sendmsg == Some(program::ALLOW) && close == Some(program::ALLOW))
}

/// The layers of `s` with these facts, in installation order.
pub fn layers_on(arch: Arch, s: &Seccomp, facts: Facts) -> Vec<Layer> {
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
    layers
}

/// The filters of one layer (none for a deny-list without denies).
fn filters(arch: Arch, layer: &Layer) -> Result<Vec<Filter>, String> {
    let lower = |a: Action| if layer.log && a != Action::Allow { Action::Log } else { a };
    let guard = ret(if layer.log { Action::Log } else { Action::Errno(libc::ENOSYS as u32) });
    let default = lower(layer.default);
    let allow = ret(Action::Allow);
    let mut named = Filter::new(allow, ret(default), guard);
    let mut groups: Vec<(Action, Filter)> = Vec::new();
    for rule in &layer.rules {
        let action = lower(rule.action);
        let alt = alternative(&rule.args);
        for name in &rule.syscalls {
            let nr = syscalls::check_on(arch, name)?;
            named.add(nr, alt.clone());
            if action == Action::Allow {
                continue;
            }
            let at = match groups.iter().position(|(a, _)| *a == action) {
                Some(i) => i,
                None => {
                    groups.push((action, Filter::new(ret(action), allow, guard)));
                    groups.len() - 1
                }
            };
            groups[at].1.add(nr, alt.clone());
        }
    }
    let mut out = Vec::new();
    if default != Action::Allow {
        out.push(named);
    }
    out.extend(groups.into_iter().map(|(_, f)| f));
    Ok(out)
}

/// A rule's argument tests, all of which must hold (`None`: no tests).
fn alternative(args: &[Arg]) -> Option<Alt> {
    if args.is_empty() {
        return None;
    }
    let cond = |a: &Arg| {
        let cmp = match a.op {
            Op::Eq => Cmp::Eq,
            Op::Ne => Cmp::Ne,
            Op::Lt => Cmp::Lt,
            Op::Le => Cmp::Le,
            Op::Gt => Cmp::Gt,
            Op::Ge => Cmp::Ge,
            Op::MaskedEq => Cmp::MaskedEq(a.mask.unwrap_or(u64::MAX)),
            Op::AnyBits => Cmp::AnyBits,
        };
        Cond::new(a.index, a.bits != 32, cmp, a.value)
    };
    Some(args.iter().map(cond).collect())
}

/// The SECCOMP_RET_* value of an action.
pub fn ret(a: Action) -> u32 {
    match a {
        Action::Allow => libc::SECCOMP_RET_ALLOW,
        Action::Log => libc::SECCOMP_RET_LOG,
        Action::Errno(n) => libc::SECCOMP_RET_ERRNO | (n & libc::SECCOMP_RET_DATA),
        Action::Trap => libc::SECCOMP_RET_TRAP,
        Action::Kill => libc::SECCOMP_RET_KILL_PROCESS,
    }
}

#[cfg(test)]
mod tests;
