//! Flags for limits, time-outs and status reporting (`--timeout`,
//! `--limit`, `--memory`, `--status-fd`, …). The values are parsed with the
//! unit parsers of [`crate::plan::limits`], which profiles share.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::ArgAction;

use super::UsageError;
use crate::plan::limits::{self, Rlimit};
use crate::plan::Plan;

#[derive(clap::Args, Debug, Default)]
pub struct LimitsArgs {
    /// Stop the command after DURATION (30s, 5m, 1.5h, 250ms; a bare number is seconds):
    /// SIGTERM to the command, then SIGKILL to the whole sandbox after --kill-after.
    /// sandbox then exits with status 124, however the command ended.
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    pub timeout: Option<u64>,

    /// Grace period between the SIGTERM of --timeout and the SIGKILL of the whole
    /// sandbox (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = limits::parse_duration)]
    pub kill_after: Option<u64>,

    /// Set a resource limit (setrlimit) of the command: NAME=VALUE or NAME=SOFT:HARD with
    /// NAME one of as, core, cpu, data, fsize, memlock, nofile, nproc, stack. Sizes take
    /// K, M, G, T (512M), cpu takes s, m, h (10s), and `unlimited` lifts a limit. A limit
    /// can be lowered freely, raised only up to your own hard limit (repeatable).
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = limits::parse_rlimit,
          action = ArgAction::Append)]
    pub limit: Vec<Rlimit>,

    /// Limit the memory of the whole sandbox to SIZE (512M, 2G; cgroup v2 memory.max).
    /// Needs cgroup v2 delegation or a systemd user manager (see `sandbox check`).
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size)]
    pub memory: Option<u64>,

    /// Limit the number of processes and threads in the whole sandbox (cgroup v2
    /// pids.max). Needs cgroup v2 delegation or a systemd user manager.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pids: Option<u64>,

    /// Limit the CPU time of the whole sandbox to FRACTION of one CPU per second (0.5: half
    /// a CPU, 2: two CPUs; cgroup v2 cpu.max). Needs cgroup v2 delegation or a systemd
    /// user manager.
    #[arg(long, value_name = "FRACTION", value_parser = limits::parse_cpus)]
    pub cpus: Option<u64>,

    /// Relative weight of the sandbox's block I/O, 1 to 10000 (default 100; cgroup v2
    /// io.weight). Needs cgroup v2 delegation or a systemd user manager.
    #[arg(long, value_name = "WEIGHT", value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub io_weight: Option<u16>,

    /// Write JSON lines to the caller's file descriptor FD: `{ "child-pid": N,
    /// "command-pid": N, ... }` when the command has started, `{ "exit-code": N }` (with
    /// "signal" and "timed-out" when they apply) when it has ended. The format of
    /// bubblewrap's --json-status-fd; readers ignore keys they do not know.
    #[arg(long, value_name = "FD", visible_alias = "json-status-fd",
          value_parser = clap::value_parser!(i32).range(1..))]
    pub status_fd: Option<i32>,

    /// Write the command's pid (as the host sees it) to PATH once it has started;
    /// the file is removed when the sandbox ends. PATH is opened once, before anything
    /// starts, never through a symlink: it must be a regular file of yours with no other
    /// hard link, or absent (then it is created 0600).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString))]
    pub pid_file: Option<OsString>,
}

impl LimitsArgs {
    pub fn apply(&self, plan: &mut Plan) -> Result<(), UsageError> {
        let l = &mut plan.limits;
        if let Some(t) = self.timeout {
            if t == 0 {
                return Err(UsageError("--timeout 0: the time-out must be longer than 0".into()));
            }
            l.timeout_ms = Some(t);
        }
        if let Some(k) = self.kill_after {
            if l.timeout_ms.is_none() {
                return Err(UsageError("--kill-after needs --timeout".into()));
            }
            l.kill_after_ms = k;
        }
        for r in &self.limit {
            l.set_rlimit(*r);
        }
        let cg = &mut l.cgroup;
        cg.memory = self.memory.or(cg.memory);
        cg.pids = self.pids.or(cg.pids);
        cg.millicpus = self.cpus.or(cg.millicpus);
        cg.io_weight = self.io_weight.or(cg.io_weight);
        if cg.memory == Some(0) {
            return Err(UsageError("--memory 0: the limit must be larger than 0".into()));
        }
        l.status_fd = self.status_fd.or(l.status_fd);
        if let Some(p) = &self.pid_file {
            if p.is_empty() {
                return Err(UsageError("--pid-file: the path is empty".into()));
            }
            l.pid_file = Some(PathBuf::from(p));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use crate::host::Host;
    use crate::native::{parse, Command};
    use crate::plan::limits::{Limits, Resource};

    fn parse_args(args: &[&str]) -> Result<Limits, String> {
        let mut argv = vec![OsString::from("sandbox")];
        argv.extend(args.iter().map(OsString::from));
        argv.extend(["--", "true"].map(OsString::from));
        match parse(argv, &Host::current()) {
            Ok(Command::Run { built, .. }) => Ok(built.plan.limits),
            Ok(other) => panic!("{args:?}: {other:?}"),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn defaults_limit_nothing() {
        assert_eq!(parse_args(&[]).unwrap(), Limits::default());
    }

    #[test]
    fn flags_land_in_the_plan() {
        let l = parse_args(&[
            "--timeout=1.5m",
            "--kill-after",
            "2s",
            "--limit",
            "nofile=16",
            "--limit",
            "fsize=1K",
            "--limit",
            "nofile=32:64",
            "--memory",
            "512M",
            "--pids",
            "100",
            "--cpus",
            "1.5",
            "--io-weight",
            "200",
            "--json-status-fd",
            "3",
            "--pid-file",
            "run/x.pid",
        ])
        .unwrap();
        assert_eq!((l.timeout_ms, l.kill_after_ms), (Some(90_000), 2000));
        let names: Vec<(Resource, Option<u64>, Option<u64>)> =
            l.rlimits.iter().map(|r| (r.resource, r.soft, r.hard)).collect();
        assert_eq!(
            names,
            [(Resource::Fsize, Some(1024), Some(1024)), (Resource::Nofile, Some(32), Some(64))]
        );
        assert_eq!(l.cgroup.memory, Some(512 << 20));
        assert_eq!(
            (l.cgroup.pids, l.cgroup.millicpus, l.cgroup.io_weight),
            (Some(100), Some(1500), Some(200))
        );
        assert_eq!(l.status_fd, Some(3));
        assert_eq!(l.pid_file.as_deref(), Some(std::path::Path::new("run/x.pid")));
    }

    #[test]
    fn mistakes_are_one_line() {
        let cases = [
            (&["--timeout", "soon"][..], "`soon` is not a duration"),
            (&["--timeout", "0"], "--timeout 0: the time-out must be longer than 0"),
            (&["--kill-after", "1s"], "--kill-after needs --timeout"),
            (&["--limit", "nofile"], "expected NAME=VALUE"),
            (&["--limit", "open=3"], "unknown limit, expected one of as, core"),
            (&["--memory", "lots"], "is not a size"),
            (&["--memory", "0"], "--memory 0: the limit must be larger than 0"),
            (&["--cpus", "0"], "at least 0.01 CPU"),
            (&["--io-weight", "0"], "--io-weight"),
            (&["--pids", "0"], "--pids"),
            (&["--status-fd", "0"], "--status-fd"),
        ];
        for (args, needle) in cases {
            let err = parse_args(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "{args:?}: {err}");
        }
    }
}
