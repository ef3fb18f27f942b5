//! Seccomp: policies as data, OCI JSON import, BPF build and guards.
//!
//! - [`syscalls`]: names to numbers on x86_64 and aarch64, with "did you
//!   mean" for typos and "not on this architecture" for other tables;
//! - [`policy`]: policies on one architecture: the built-in ones (their
//!   text and which rules apply are the Plan's, `plan::seccomp::rules`) and
//!   our JSON format for `--seccomp-policy`;
//! - [`oci`]: `--seccomp-oci`, an OCI runtime's `linux.seccomp` or Docker's
//!   profile;
//! - [`compile`]: the Plan's rules as layers of filters, compiled into one
//!   program by [`program`] (a small hand-written cBPF compiler, with its
//!   assembler in `asm`);
//! - [`notify`]: landlock-only mode's filter that hands the metadata calls
//!   to the monitor (SECCOMP_RET_USER_NOTIF).
//!
//! Everything here is pure; installing the programs is `launch`'s last
//! step before execve.

mod asm;
pub mod bpf;
pub mod compile;
mod guard;
/// The cBPF interpreter of the tests; the fuzz targets enable it with the
/// `fuzzing` feature. Not part of the library otherwise.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod interp;
pub mod notify;
pub mod oci;
pub mod policy;
pub mod program;
/// The filters as seccompiler built them before [`program`]: the reference
/// the one program is proved against (tests and fuzzing only).
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod reference;
pub mod syscalls;
