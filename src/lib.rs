//! sandbox: a rootless, user-mode sandbox for Linux.
//!
//! Data flows one way: front ends (the native CLI in [`cli`]) build a
//! [`plan::Plan`]; [`launch::run`] executes it. `sandbox explain` prints the
//! Plan instead of running it.

pub mod cgroup;
pub mod check;
pub mod cli;
pub mod compat;
pub mod egress;
pub mod escape;
pub mod launch;
pub mod plan;
pub mod profile;
pub mod seccomp;
pub mod settings;
pub mod values;
