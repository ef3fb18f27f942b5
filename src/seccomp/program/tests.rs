use super::*;
use crate::seccomp::guard::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64};
use crate::seccomp::interp::{self, Data};

const EPERM: u32 = 0x0005_0001;
const ENOSYS: u32 = 0x0005_0026;
const TRAP: u32 = 0x0003_0000;
const LOG: u32 = 0x7ffc_0000;
const NOTIF: u32 = 0x7fc0_0000;
const X86: ArchCheck = ArchCheck { native: AUDIT_ARCH_X86_64, compat_guard: true };

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const VALUES: [u64; 8] = [0, 1, 5, 0x7fff_ffff, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005, u64::MAX];

fn random_cond(r: &mut Rng) -> Cond {
    let cmps = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::AnyBits, Cmp::MaskedEq(0)];
    let cmp = match r.pick(&cmps) {
        Cmp::MaskedEq(_) => Cmp::MaskedEq(r.pick(&VALUES)),
        c => c,
    };
    Cond::new(r.below(3) as u8, r.below(2) == 0, cmp, r.pick(&VALUES))
}

/// A stack of up to 5 filters over the numbers 0..8, with answers of every
/// kind and up to 3 alternatives of up to 3 tests.
fn random_stack(r: &mut Rng) -> Vec<Filter> {
    let answers = [ALLOW, EPERM, ENOSYS, TRAP, LOG, NOTIF, KILL_PROCESS];
    let mut stack = Vec::new();
    for _ in 0..1 + r.below(5) {
        let (matched, mut other) = (r.pick(&answers), r.pick(&answers));
        if other == matched {
            other = ALLOW;
        }
        let mut f = Filter::new(matched, other, r.pick(&[ENOSYS, LOG]));
        for _ in 0..r.below(6) {
            let nr = r.below(8) as u32;
            let alt = match r.below(4) {
                0 => None,
                _ => Some((0..1 + r.below(3)).map(|_| random_cond(r)).collect()),
            };
            f.add(nr, alt);
        }
        stack.push(f);
    }
    stack
}

/// Arguments made of the generator's values, so tests hit their edges.
fn random_args(r: &mut Rng) -> [u64; 6] {
    let mut a = [0u64; 6];
    for v in a.iter_mut().take(3) {
        *v = match r.below(3) {
            0 => r.next(),
            1 => r.pick(&VALUES).wrapping_add(r.below(3)).wrapping_sub(1),
            _ => r.pick(&VALUES),
        };
    }
    a
}

/// Random stacks: the one program, the model ([`answer`]) and the
/// filters compiled one by one and combined as the kernel combines them
/// all answer the same.
#[test]
fn random_stacks_answer_as_their_filters_combined() {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..2000 {
        let stack = random_stack(&mut r);
        let one = build(X86, &stack).unwrap().unwrap();
        interp::check(&one).unwrap();
        let apart: Vec<Vec<sock_filter>> =
            stack.iter().map(|f| build(X86, std::slice::from_ref(f)).unwrap().unwrap()).collect();
        for _ in 0..50 {
            let (nr, args) = (r.below(10) as u32, random_args(&mut r));
            let d = Data { nr, arch: AUDIT_ARCH_X86_64, args };
            let want = interp::run_all(&apart, &d);
            assert_eq!(interp::run(&one, &d), want, "{stack:#?}\nnr {nr} args {args:x?}");
            assert_eq!(answer(&stack, nr, args.map(Some)), Some(want));
        }
    }
}

#[test]
fn unknown_arguments_leave_the_answer_open_only_when_tested() {
    let mut f = Filter::new(EPERM, ALLOW, ENOSYS);
    f.add(1, Some(vec![Cond::new(2, false, Cmp::AnyBits, 0x2000_0000)]));
    f.add(2, None);
    let stack = [f];
    assert_eq!(answer(&stack, 1, [None, None, Some(0), None, None, None]), Some(ALLOW));
    assert_eq!(answer(&stack, 1, [None, None, Some(0x2000_0000), None, None, None]), Some(EPERM));
    assert_eq!(answer(&stack, 1, [None; 6]), None);
    assert_eq!(answer(&stack, 2, [None; 6]), Some(EPERM));
    assert_eq!(answer(&stack, 3, [None; 6]), Some(ALLOW));
}

/// Decisions far apart: conditional jumps that cannot reach go through
/// trampolines; the answers stay those of the model.
#[test]
fn long_decisions_are_reached_through_trampolines() {
    let mut r = Rng(7);
    let mut f = Filter::new(EPERM, ALLOW, ENOSYS);
    for nr in 0..40u32 {
        for _ in 0..12 {
            f.add(nr * 3, Some(vec![random_cond(&mut r), random_cond(&mut r)]));
        }
    }
    let stack = [f];
    let prog = build(X86, &stack).unwrap().unwrap();
    interp::check(&prog).unwrap();
    assert!(prog.len() > 1000, "{}", prog.len());
    assert!(prog.iter().any(|i| i.code == 0x05 && i.k > 255), "a trampoline");
    for _ in 0..20_000 {
        let (nr, args) = (r.below(130) as u32, random_args(&mut r));
        let d = Data { nr, arch: AUDIT_ARCH_X86_64, args };
        assert_eq!(Some(interp::run(&prog, &d)), answer(&stack, nr, args.map(Some)), "nr {nr} {args:x?}");
    }
}

#[test]
fn a_stack_over_the_kernel_limit_is_refused() {
    let mut f = Filter::new(EPERM, ALLOW, ENOSYS);
    for v in 0..1500u64 {
        f.add(16, Some(vec![Cond::new(1, true, Cmp::Eq, v << 32 | v)]));
    }
    let e = build(X86, &[f]).unwrap_err();
    assert!(e.contains("over the kernel's 4096"), "{e}");
    assert_eq!(build(X86, &[]).unwrap(), None, "an empty stack is no program");
}

/// The prologue: i386 and x32 get the guard (on x86_64 only), a foreign
/// architecture is killed, calls always allowed are cacheable.
#[test]
fn architectures_are_checked_first() {
    let mut f = Filter::new(EPERM, ALLOW, LOG);
    f.add(3, None);
    let g = Filter::new(TRAP, ALLOW, ENOSYS);
    let x86 = build(X86, &[f.clone(), g]).unwrap().unwrap();
    let run = |p: &[sock_filter], arch, nr| interp::run(p, &Data { nr, arch, args: [0; 6] });
    assert_eq!(run(&x86, AUDIT_ARCH_X86_64, 3), EPERM);
    assert_eq!(run(&x86, AUDIT_ARCH_X86_64, 3 | 0x4000_0000), ENOSYS, "x32: the stricter guard");
    assert_eq!(run(&x86, 0x4000_0003, 3), ENOSYS, "i386");
    assert_eq!(run(&x86, AUDIT_ARCH_AARCH64, 3), KILL_PROCESS);
    assert!(
        interp::const_allow(&x86, AUDIT_ARCH_X86_64, 4) && !interp::const_allow(&x86, AUDIT_ARCH_X86_64, 3)
    );
    let arm = build(ArchCheck::of(Arch::Aarch64), &[f]).unwrap().unwrap();
    assert_eq!(run(&arm, AUDIT_ARCH_AARCH64, 3 | 0x4000_0000), ALLOW, "no x32 on aarch64");
    assert_eq!(run(&arm, AUDIT_ARCH_X86_64, 3), KILL_PROCESS);
}
