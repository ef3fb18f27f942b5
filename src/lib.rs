//! sandbox: a rootless, user-mode sandbox for Linux.
//!
//! Data flows one way: front ends (the native CLI in [`cli`] with the
//! profiles of [`profile`], put together by [`native`]; bubblewrap's command
//! line in [`compat`]) build a [`plan::Plan`]; [`launch::run`] executes it. `sandbox explain` prints the
//! Plan instead of running it.

pub mod additions;
pub mod cgroup;
pub mod check;
pub mod cli;
pub mod compat;
pub mod desktop;
pub mod dispatch;
pub mod docs;
pub mod egress;
pub mod escape;
pub mod etclinks;
pub mod host;
pub mod hostfs;
pub mod idmap;
pub mod launch;
pub mod native;
pub mod plan;
pub mod profile;
pub mod seccomp;
pub mod settings;
pub mod toolchain;
pub mod trace;
pub mod values;
