//! One classic-BPF program for a whole stack of filters.
//!
//! The policy is described as a stack of [`Filter`]s, each the shape
//! seccompiler gives a filter (calls it names, with argument tests, one
//! answer for a match and one for the rest), in installation order. The
//! kernel runs every installed filter and keeps the strictest answer
//! (kernel/seccomp.c, `seccomp_run_filters`: it starts from ALLOW, walks
//! from the filter installed last to the first, and takes an answer only
//! when its action, compared as a signed number without the data bits, is
//! strictly lower: KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF <
//! TRACE < LOG < ALLOW; so between two answers of equal action, for example
//! two errnos, the filter installed last wins). [`build`] makes one program
//! that gives exactly that answer for every (arch, nr, args):
//!
//! 1. architecture guards: on x86_64, i386 calls (`int $0x80`) and x32 calls
//!    (nr bit 0x40000000) get the stack's guard answer (ENOSYS); any other
//!    architecture than the native one is killed;
//! 2. the numbers whose calls it inspects, one `jeq` each (the kernel
//!    answers the calls a program always allows from its cache, so the
//!    program runs almost only for these), then a binary search on the
//!    system-call number over ranges of numbers with the same decision
//!    (`jeq`/`jge` on the number only, so the kernel's emulation still sees
//!    the calls that are always allowed);
//! 3. per decision, the stack's candidate answers in the kernel's order of
//!    precedence, each behind its argument tests (64-bit arguments compared
//!    as two 32-bit halves), the first that holds answering.
//!
//! Pure: no system calls. [`answer`] is the same semantics without BPF, for
//! tests and for the launcher's question "would this call be allowed".

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use super::bpf::Insn as sock_filter;

use super::asm::{Asm, Target, JGE};
use super::guard::{AUDIT_ARCH_I386, X32_SYSCALL_BIT};
use super::syscalls::Arch;

/// SECCOMP_RET_ALLOW.
pub const ALLOW: u32 = 0x7fff_0000;
/// SECCOMP_RET_KILL_PROCESS.
pub const KILL_PROCESS: u32 = 0x8000_0000;
/// The kernel's limit on one program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// The precedence of an answer: its action, without the data bits, as the
/// kernel compares it (a signed number: KILL_PROCESS is the lowest).
pub fn rank(ret: u32) -> i32 {
    (ret & 0xffff_0000) as i32
}

/// A comparison of one argument with a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `arg & mask == value`.
    MaskedEq(u64),
    /// `arg & value != 0`.
    AnyBits,
}

/// A test of one argument: all 64 bits (`wide`) or the low 32, compared
/// unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cond {
    pub index: u8,
    pub wide: bool,
    pub cmp: Cmp,
    pub value: u64,
}

impl Cond {
    /// A test; narrow values and masks are cut to their low 32 bits and a
    /// masked value to its mask, as seccompiler does.
    pub fn new(index: u8, wide: bool, cmp: Cmp, value: u64) -> Cond {
        let cut = |v: u64| if wide { v } else { v & 0xffff_ffff };
        let cmp = match cmp {
            Cmp::MaskedEq(m) => Cmp::MaskedEq(cut(m)),
            c => c,
        };
        let value = match cmp {
            Cmp::MaskedEq(m) => cut(value) & m,
            _ => cut(value),
        };
        Cond { index: index.min(5), wide, cmp, value }
    }

    /// Whether it holds for these arguments.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[usize::from(self.index)];
        let a = if self.wide { a } else { a & 0xffff_ffff };
        let v = self.value;
        match self.cmp {
            Cmp::Eq => a == v,
            Cmp::Ne => a != v,
            Cmp::Lt => a < v,
            Cmp::Le => a <= v,
            Cmp::Gt => a > v,
            Cmp::Ge => a >= v,
            Cmp::MaskedEq(m) => a & m == v,
            Cmp::AnyBits => a & v != 0,
        }
    }
}

/// Conditions that must all hold.
pub type Alt = Vec<Cond>;

/// One filter of the stack, as seccompiler shapes it: for a call in
/// `calls` (its alternatives, any of which matches; `None`: every call of
/// that number matches) the answer is `matched`, for the rest `other`. On
/// x86_64 i386 and x32 calls get `guard`; another architecture is killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub calls: BTreeMap<u32, Option<Vec<Alt>>>,
    pub matched: u32,
    pub other: u32,
    pub guard: u32,
}

impl Filter {
    /// An empty filter: every call gets `other`.
    pub fn new(matched: u32, other: u32, guard: u32) -> Filter {
        Filter { calls: BTreeMap::new(), matched, other, guard }
    }

    /// Adds `nr` when `alt` holds (`None`: always); an unconditional match
    /// absorbs the alternatives.
    pub fn add(&mut self, nr: u32, alt: Option<Alt>) {
        match (self.calls.get_mut(&nr), alt) {
            (None, alt) => {
                self.calls.insert(nr, alt.map(|a| vec![a]));
            }
            (Some(slot), None) => *slot = None,
            (Some(Some(alts)), Some(a)) => alts.push(a),
            (Some(None), Some(_)) => {}
        }
    }
}

/// When a step answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Test {
    Always,
    /// Some alternative holds.
    Any(Vec<Alt>),
    /// No alternative holds.
    NoneOf(Vec<Alt>),
}

/// What a number gets: the first step whose test holds answers; after the
/// last, ALLOW.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Step {
    test: Test,
    ret: u32,
}

type Decision = Vec<Step>;

/// The stack's decision for `nr` (`None`: a number no filter names), in the
/// kernel's order: the lowest action first, between equals the filter
/// installed last first. A filter answering ALLOW changes nothing (the
/// kernel starts from ALLOW and takes only strictly lower answers).
fn decide(filters: &[Filter], nr: Option<u32>) -> Decision {
    let mut steps: Vec<(i32, Reverse<usize>, Step)> = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let mut push = |test, ret| {
            if rank(ret) != rank(ALLOW) {
                steps.push((rank(ret), Reverse(i), Step { test, ret }));
            }
        };
        match nr.and_then(|n| f.calls.get(&n)) {
            None => push(Test::Always, f.other),
            Some(None) => push(Test::Always, f.matched),
            Some(Some(alts)) => {
                push(Test::Any(alts.clone()), f.matched);
                push(Test::NoneOf(alts.clone()), f.other);
            }
        }
    }
    steps.sort_by_key(|(r, i, _)| (*r, *i));
    let mut out: Decision = Vec::new();
    for (_, _, step) in steps {
        let last = step.test == Test::Always;
        out.push(step);
        if last {
            break;
        }
    }
    out
}

/// The guard answer: the filters' guards, combined as the kernel combines
/// answers.
fn guard(filters: &[Filter]) -> u32 {
    let best = filters.iter().enumerate().min_by_key(|(i, f)| (rank(f.guard), Reverse(*i)));
    best.map_or(ALLOW, |(_, f)| f.guard)
}

/// The answer of the stack for a call of the native architecture `nr` with
/// these arguments; `None` for an argument whose value is not known. `None`
/// when the answer depends on an unknown argument.
pub fn answer(filters: &[Filter], nr: u32, args: [Option<u64>; 6]) -> Option<u32> {
    let alt = |a: &Alt| -> Option<bool> {
        let mut all = Some(true);
        for c in a {
            match args[usize::from(c.index)] {
                Some(v) => {
                    let mut full = [0u64; 6];
                    full[usize::from(c.index)] = v;
                    if !c.holds(&full) {
                        return Some(false);
                    }
                }
                None => all = None,
            }
        }
        all
    };
    let any = |alts: &[Alt]| -> Option<bool> {
        let mut out = Some(false);
        for a in alts {
            match alt(a) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => out = None,
            }
        }
        out
    };
    for step in decide(filters, Some(nr)) {
        let holds = match &step.test {
            Test::Always => Some(true),
            Test::Any(alts) => any(alts),
            Test::NoneOf(alts) => any(alts).map(|b| !b),
        };
        match holds {
            Some(true) => return Some(step.ret),
            Some(false) => {}
            None => return None,
        }
    }
    Some(ALLOW)
}

/// The architecture facts the program checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchCheck {
    /// AUDIT_ARCH of native calls.
    pub native: u32,
    /// x86_64: i386 calls and x32 numbers get the guard answer.
    pub compat_guard: bool,
}

impl ArchCheck {
    /// The checks of `arch`.
    pub fn of(arch: Arch) -> ArchCheck {
        ArchCheck { native: arch.audit(), compat_guard: arch == Arch::X86_64 }
    }
}

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

/// Ranges of numbers with one decision: `(first number, decision index)`,
/// the first starting at 0, each up to the next one's start.
fn ranges(filters: &[Filter]) -> (Vec<(u32, usize)>, Vec<Decision>) {
    let mut decisions: Vec<Decision> = Vec::new();
    let mut index: HashMap<Decision, usize> = HashMap::new();
    let mut id = |d: Decision| -> usize {
        *index.entry(d.clone()).or_insert_with(|| {
            decisions.push(d);
            decisions.len() - 1
        })
    };
    let unnamed = id(decide(filters, None));
    let named: std::collections::BTreeSet<u32> =
        filters.iter().flat_map(|f| f.calls.keys().copied()).collect();
    let mut out: Vec<(u32, usize)> = vec![(0, unnamed)];
    let mut push = |start: u32, d: usize| {
        if out.last().is_some_and(|&(s, _)| s == start) {
            out.pop();
        }
        if out.last().map(|&(_, last)| last) != Some(d) {
            out.push((start, d));
        }
    };
    for nr in named {
        push(nr, id(decide(filters, Some(nr))));
        if let Some(next) = nr.checked_add(1) {
            push(next, unnamed);
        }
    }
    (out, decisions)
}

/// The one program for `filters` (installation order) on an architecture;
/// `None` for an empty stack. An error when it is over the kernel's limit.
pub fn build(arch: ArchCheck, filters: &[Filter]) -> Result<Option<Vec<sock_filter>>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut asm = Asm::new();
    prologue(&mut asm, arch, guard(filters));
    let (ranges, decisions) = ranges(filters);
    let mut uses = vec![0usize; decisions.len()];
    for &(_, d) in &ranges {
        uses[d] += 1;
    }
    let hot = inspected(&ranges, &decisions);
    let shared: Vec<Option<usize>> = decisions
        .iter()
        .zip(&uses)
        .enumerate()
        .map(|(i, (d, &n))| {
            ((n > 1 || hot.iter().any(|&(_, h)| h == i)) && trivial(d).is_none()).then(|| asm.label())
        })
        .collect();
    for &(nr, d) in &hot {
        let l = shared[d].expect("an inspected decision has a label");
        asm.jeq(nr, Target::L(l), Target::Next);
    }
    search(&mut asm, &ranges, &decisions, &shared);
    for (d, label) in decisions.iter().zip(&shared) {
        if let Some(l) = label {
            asm.mark(*l);
            emit_decision(&mut asm, d);
        }
    }
    let prog = asm.finish()?;
    if prog.len() > MAX_INSNS {
        return Err(format!("a filter of {} instructions is over the kernel's {MAX_INSNS}", prog.len()));
    }
    Ok(Some(prog))
}

/// Loads the architecture: i386 gets the guard, a foreign one is killed;
/// then loads the number: x32 numbers get the guard.
fn prologue(asm: &mut Asm, arch: ArchCheck, guard: u32) {
    asm.ld(OFFSET_ARCH);
    // The native architecture first: one test for nearly every call.
    let native = asm.label();
    asm.jeq(arch.native, Target::L(native), Target::Next);
    if arch.compat_guard {
        let other = asm.label();
        asm.jeq(AUDIT_ARCH_I386, Target::Next, Target::L(other));
        asm.ret(guard);
        asm.mark(other);
    }
    asm.ret(KILL_PROCESS);
    asm.mark(native);
    asm.ld(OFFSET_NR);
    if arch.compat_guard {
        let below = asm.label();
        asm.jmp(JGE, X32_SYSCALL_BIT, Target::Next, Target::L(below));
        asm.ret(guard);
        asm.mark(below);
    }
}

/// The numbers whose decision tests arguments, each alone in its range,
/// with that decision (16 at most, the lowest numbers first). The kernel
/// answers the calls a program allows without looking from its cache, so
/// the program runs almost only for these: they are tested before the
/// binary search, ioctl (16 on x86_64, 29 on aarch64) among the first.
fn inspected(ranges: &[(u32, usize)], decisions: &[Decision]) -> Vec<(u32, usize)> {
    let single = |i: usize| ranges.get(i + 1).is_some_and(|&(next, _)| next == ranges[i].0 + 1);
    (0..ranges.len())
        .filter(|&i| single(i) && trivial(&decisions[ranges[i].1]).is_none())
        .map(|i| ranges[i])
        .take(16)
        .collect()
}

/// The answer of a decision that tests no argument.
fn trivial(d: &Decision) -> Option<u32> {
    match d.first() {
        None => Some(ALLOW),
        Some(Step { test: Test::Always, ret }) => Some(*ret),
        Some(_) => None,
    }
}

/// A binary search over `ranges` (the number is loaded); each leaf answers
/// or jumps to its shared decision.
fn search(asm: &mut Asm, ranges: &[(u32, usize)], decisions: &[Decision], shared: &[Option<usize>]) {
    if let [(_, d)] = ranges {
        match (trivial(&decisions[*d]), shared[*d]) {
            (Some(ret), _) => asm.ret(ret),
            (None, Some(l)) => asm.ja(l),
            (None, None) => emit_decision(asm, &decisions[*d]),
        }
        return;
    }
    let mid = ranges.len() / 2;
    let right = asm.label();
    asm.jmp(JGE, ranges[mid].0, Target::L(right), Target::Next);
    search(asm, &ranges[..mid], decisions, shared);
    asm.mark(right);
    search(asm, &ranges[mid..], decisions, shared);
}

/// The steps of a decision, then ALLOW.
fn emit_decision(asm: &mut Asm, d: &Decision) {
    for step in d {
        match &step.test {
            Test::Always => {
                asm.ret(step.ret);
                return;
            }
            Test::Any(alts) => {
                let (hit, next) = (asm.label(), asm.label());
                for (i, alt) in alts.iter().enumerate() {
                    let last = i + 1 == alts.len();
                    let fail = if last { next } else { asm.label() };
                    alt.iter().for_each(|c| asm.cond(c, fail));
                    if !last {
                        asm.ja(hit);
                        asm.mark(fail);
                    }
                }
                asm.mark(hit);
                asm.ret(step.ret);
                asm.mark(next);
            }
            Test::NoneOf(alts) => {
                let (answer, next) = (asm.label(), asm.label());
                for (i, alt) in alts.iter().enumerate() {
                    let fail = if i + 1 == alts.len() { answer } else { asm.label() };
                    alt.iter().for_each(|c| asm.cond(c, fail));
                    asm.ja(next);
                    asm.mark(fail);
                }
                asm.ret(step.ret);
                asm.mark(next);
            }
        }
    }
    asm.ret(ALLOW);
}

#[cfg(test)]
mod tests;
