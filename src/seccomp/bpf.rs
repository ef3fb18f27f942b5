//! Classic BPF as seccomp takes it.

/// One instruction: the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A program, as `struct sock_fprog` points at it.
pub type BpfProgram = Vec<Insn>;
