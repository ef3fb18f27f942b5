//! A small classic-BPF assembler for [`super::program`]: instructions with
//! symbolic forward targets, laid out at the end.
//!
//! Conditional jumps in classic BPF reach at most 255 instructions ahead
//! (8-bit offsets); `ja` reaches any distance. [`Asm::finish`] lays the
//! program out and, where a conditional jump's target is too far, retargets
//! it at a `ja` placed right after it (a trampoline), repeating until every
//! offset fits. Only the instructions seccomp's cache emulation and the
//! tests' interpreter know are emitted: `ld [k]`, `and #k`, `jeq`, `jgt`,
//! `jge`, `jset`, `ja`, `ret #k`.

use super::bpf::Insn as sock_filter;

use super::program::{Cmp, Cond};

const LD_W_ABS: u16 = 0x20;
const AND_K: u16 = 0x54;
const JA: u16 = 0x05;
pub const JEQ: u16 = 0x15;
pub const JGT: u16 = 0x25;
pub const JGE: u16 = 0x35;
pub const JSET: u16 = 0x45;
const RET_K: u16 = 0x06;
/// `struct seccomp_data`: the arguments start at byte 16, 8 bytes each.
const OFFSET_ARGS: u32 = 16;

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The next instruction.
    Next,
    /// A label, marked later.
    L(usize),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Ld(u32),
    And(u32),
    Jmp { code: u16, k: u32, t: Target, f: Target },
    Ja(usize),
    Ret(u32),
    Mark(usize),
}

/// Instructions being assembled.
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
    /// The word the accumulator holds, when known (a load can be skipped).
    acc: Option<u32>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm { ops: Vec::new(), labels: 0, acc: None }
    }

    /// A new label, to be marked once, after every jump to it.
    pub fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    /// Places `l` here. Paths join here, so the accumulator is unknown.
    pub fn mark(&mut self, l: usize) {
        self.ops.push(Op::Mark(l));
        self.acc = None;
    }

    /// Loads the word at `offset` of `struct seccomp_data`.
    pub fn ld(&mut self, offset: u32) {
        if self.acc != Some(offset) {
            self.ops.push(Op::Ld(offset));
            self.acc = Some(offset);
        }
    }

    fn and(&mut self, k: u32) {
        self.ops.push(Op::And(k));
        self.acc = None;
    }

    pub fn jmp(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.ops.push(Op::Jmp { code, k, t, f });
    }

    pub fn jeq(&mut self, k: u32, t: Target, f: Target) {
        self.jmp(JEQ, k, t, f);
    }

    pub fn ja(&mut self, l: usize) {
        self.ops.push(Op::Ja(l));
    }

    pub fn ret(&mut self, k: u32) {
        self.ops.push(Op::Ret(k));
    }

    /// Tests `c`: falls through when it holds, jumps to `fail` otherwise.
    pub fn cond(&mut self, c: &Cond, fail: usize) {
        let lo = OFFSET_ARGS + 8 * u32::from(c.index);
        let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
        let (next, fail) = (Target::Next, Target::L(fail));
        if !c.wide {
            self.half(lo, c.cmp, vl, fail);
            return;
        }
        let hi = lo + 4;
        match c.cmp {
            Cmp::Eq | Cmp::MaskedEq(_) => {
                self.half(hi, c.cmp, vh, fail);
                self.half(lo, c.cmp, vl, fail);
                return;
            }
            Cmp::AnyBits if vh == 0 => return self.half(lo, Cmp::AnyBits, vl, fail),
            Cmp::AnyBits if vl == 0 => return self.half(hi, Cmp::AnyBits, vh, fail),
            _ => {}
        }
        let pass = self.label();
        let p = Target::L(pass);
        match c.cmp {
            Cmp::Ne => {
                self.ld(hi);
                self.jeq(vh, next, p);
                self.ld(lo);
                self.jeq(vl, fail, next);
            }
            Cmp::Gt | Cmp::Ge => {
                self.ld(hi);
                self.jmp(JGT, vh, p, next);
                self.jeq(vh, next, fail);
                self.half(lo, c.cmp, vl, fail);
            }
            Cmp::Lt | Cmp::Le => {
                self.ld(hi);
                self.jmp(JGT, vh, fail, next);
                self.jeq(vh, next, p);
                self.half(lo, c.cmp, vl, fail);
            }
            Cmp::AnyBits => {
                self.ld(hi);
                self.jmp(JSET, vh, p, next);
                self.half(lo, Cmp::AnyBits, vl, fail);
            }
            Cmp::Eq | Cmp::MaskedEq(_) => unreachable!("handled above"),
        }
        self.mark(pass);
    }

    /// Tests one 32-bit word against `v` (a mask's own half for masked-eq).
    fn half(&mut self, offset: u32, cmp: Cmp, v: u32, fail: Target) {
        let next = Target::Next;
        if let Cmp::MaskedEq(m) = cmp {
            let m = if offset % 8 == 0 { m as u32 } else { (m >> 32) as u32 };
            if m == 0 {
                return; // (a & 0) == 0 always holds
            }
            self.ld(offset);
            if m != u32::MAX {
                self.and(m);
            }
            self.jeq(v, next, fail);
            return;
        }
        self.ld(offset);
        match cmp {
            Cmp::Eq => self.jeq(v, next, fail),
            Cmp::Ne => self.jeq(v, fail, next),
            Cmp::Gt => self.jmp(JGT, v, next, fail),
            Cmp::Ge => self.jmp(JGE, v, next, fail),
            Cmp::Lt => self.jmp(JGE, v, fail, next),
            Cmp::Le => self.jmp(JGT, v, fail, next),
            Cmp::AnyBits => self.jmp(JSET, v, next, fail),
            Cmp::MaskedEq(_) => unreachable!("handled above"),
        }
    }

    /// Lays the program out: drops jumps to the next instruction, adds
    /// trampolines for conditional jumps that are too far, resolves labels.
    pub fn finish(mut self) -> Result<Vec<sock_filter>, String> {
        self.drop_jumps_to_next();
        while self.add_trampolines()? {}
        let (pos, _) = self.layout();
        let len = self.ops.iter().filter(|o| !matches!(o, Op::Mark(_))).count();
        if pos.iter().any(|&p| p != usize::MAX && p >= len) {
            return Err("BPF assembly: a label past the last instruction".into());
        }
        let off = |at: usize, t: Target| -> u32 {
            match t {
                Target::Next => 0,
                Target::L(l) => (pos[l] - at - 1) as u32,
            }
        };
        let mut out = Vec::new();
        for op in &self.ops {
            let at = out.len();
            out.push(match *op {
                Op::Ld(k) => insn(LD_W_ABS, 0, 0, k),
                Op::And(k) => insn(AND_K, 0, 0, k),
                Op::Ret(k) => insn(RET_K, 0, 0, k),
                Op::Ja(l) => insn(JA, 0, 0, off(at, Target::L(l))),
                Op::Jmp { code, k, t, f } => insn(code, off(at, t) as u8, off(at, f) as u8, k),
                Op::Mark(_) => continue,
            });
        }
        Ok(out)
    }

    /// `ja L` right before the mark of `L` does nothing.
    fn drop_jumps_to_next(&mut self) {
        let mut keep = vec![true; self.ops.len()];
        for (i, op) in self.ops.iter().enumerate() {
            if let Op::Ja(l) = op {
                let marks = self.ops[i + 1..].iter().take_while(|o| matches!(o, Op::Mark(_)));
                if marks.into_iter().any(|o| matches!(o, Op::Mark(m) if m == l)) {
                    keep[i] = false;
                }
            }
        }
        let mut it = keep.into_iter();
        self.ops.retain(|_| it.next().unwrap_or(true));
    }

    /// The instruction index of every label and of every op.
    fn layout(&self) -> (Vec<usize>, Vec<usize>) {
        let mut pos = vec![usize::MAX; self.labels];
        let mut at = Vec::with_capacity(self.ops.len());
        let mut n = 0;
        for op in &self.ops {
            at.push(n);
            match op {
                Op::Mark(l) => pos[*l] = n,
                _ => n += 1,
            }
        }
        (pos, at)
    }

    /// Retargets the conditional jumps that reach too far at a `ja` right
    /// after them; whether any was.
    fn add_trampolines(&mut self) -> Result<bool, String> {
        let (pos, at) = self.layout();
        let far = |i: usize, t: Target| -> Result<Option<usize>, String> {
            let Target::L(l) = t else { return Ok(None) };
            if pos[l] == usize::MAX || pos[l] <= at[i] {
                return Err(format!("BPF assembly: label {l} is not after the jump to it"));
            }
            Ok((pos[l] - at[i] - 1 > 255).then_some(l))
        };
        let mut fixes = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            if let Op::Jmp { t, f, .. } = *op {
                let (ft, ff) = (far(i, t)?, far(i, f)?);
                if ft.is_some() || ff.is_some() {
                    fixes.push((i, ft, ff));
                }
            }
        }
        for &(i, ft, ff) in fixes.iter().rev() {
            // The jump's fall-through now skips the trampolines.
            let after = self.label();
            let mut tramp = Vec::new();
            let Op::Jmp { t, f, .. } = &mut self.ops[i] else { unreachable!("fixes are jumps") };
            for (far, branch) in [(ft, t), (ff, f)] {
                match far {
                    Some(target) => {
                        let l = self.labels;
                        self.labels += 1;
                        tramp.extend([Op::Mark(l), Op::Ja(target)]);
                        *branch = Target::L(l);
                    }
                    None if *branch == Target::Next => *branch = Target::L(after),
                    None => {}
                }
            }
            tramp.push(Op::Mark(after));
            self.ops.splice(i + 1..i + 1, tramp);
        }
        Ok(!fixes.is_empty())
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}
