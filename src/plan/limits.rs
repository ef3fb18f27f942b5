//! The Plan's limits: a time-out, rlimits, cgroup v2 limits, and how the
//! monitor reports on the run (status fd, pid file).
//!
//! Plain data, plus the parsers for the units every front end accepts
//! (`512M`, `1.5s`, `unlimited`), so that the command line and profiles
//! spell values the same way. Nothing here touches the kernel.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod units;
pub use units::{parse_cpus, parse_duration, parse_size, show_millis, show_ms, show_size};

/// Grace period between the time-out's SIGTERM and the SIGKILL, in ms.
pub const DEFAULT_KILL_AFTER_MS: u64 = 5000;

/// Limits and reporting of one run. The default limits nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock time the command may run, in ms: then SIGTERM to the
    /// command, SIGKILL to the whole sandbox `kill_after_ms` later, and exit
    /// status 124. `None`: no time-out.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Grace period between that SIGTERM and the SIGKILL, in ms.
    #[serde(default = "default_kill_after")]
    pub kill_after_ms: u64,
    /// Resource limits (setrlimit) of the command and what it starts.
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// Limits of the whole sandbox, enforced by a cgroup v2 of its own.
    #[serde(default)]
    pub cgroup: CgroupLimits,
    /// Caller file descriptor that receives JSON lines: the pids when the
    /// command has started, its exit status when it has ended.
    #[serde(default)]
    pub status_fd: Option<i32>,
    /// What the status fd gets, and when.
    #[serde(default)]
    pub status_style: StatusStyle,
    /// Caller file descriptor that gets one JSON object (init's pid and
    /// the namespace ids) as soon as the sandbox exists; then it is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_fd: Option<i32>,
    /// Host path that holds the command's pid (host view) while it runs.
    #[serde(default, with = "super::opt_os_path")]
    pub pid_file: Option<PathBuf>,
}

/// What the status fd gets, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusStyle {
    /// The fd must be open before anything starts. First line once the
    /// command has been executed: init's and the command's pids, the
    /// namespace ids; last line the exit code, the signal that killed the
    /// command and whether the time-out fired.
    #[default]
    Full,
    /// First line as soon as the sandbox exists, before it is released:
    /// init's pid and the namespace ids (a failed write stops the run);
    /// last line only the exit code, then the fd is closed.
    Early,
}

fn default_kill_after() -> u64 {
    DEFAULT_KILL_AFTER_MS
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: None,
            kill_after_ms: DEFAULT_KILL_AFTER_MS,
            rlimits: Vec::new(),
            cgroup: CgroupLimits::default(),
            status_fd: None,
            status_style: StatusStyle::default(),
            info_fd: None,
            pid_file: None,
        }
    }
}

impl Limits {
    /// Sets `r`, replacing an earlier limit on the same resource.
    pub fn set_rlimit(&mut self, r: Rlimit) {
        self.rlimits.retain(|old| old.resource != r.resource);
        self.rlimits.push(r);
    }
}

/// One setrlimit(2) resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// Address space (bytes).
    As,
    /// Core file size (bytes).
    Core,
    /// CPU time (seconds); SIGXCPU at the soft limit, SIGKILL at the hard one.
    Cpu,
    /// Data segment (bytes).
    Data,
    /// Largest file the command may write (bytes); SIGXFSZ beyond.
    Fsize,
    /// Locked memory (bytes).
    Memlock,
    /// Open file descriptors (one more than the highest fd number).
    Nofile,
    /// Processes and threads of the user inside the sandbox's user namespace.
    Nproc,
    /// Stack (bytes).
    Stack,
}

/// The unit a resource is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Seconds,
    Count,
}

impl Resource {
    pub const ALL: [Resource; 9] = [
        Resource::As,
        Resource::Core,
        Resource::Cpu,
        Resource::Data,
        Resource::Fsize,
        Resource::Memlock,
        Resource::Nofile,
        Resource::Nproc,
        Resource::Stack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::As => "as",
            Resource::Core => "core",
            Resource::Cpu => "cpu",
            Resource::Data => "data",
            Resource::Fsize => "fsize",
            Resource::Memlock => "memlock",
            Resource::Nofile => "nofile",
            Resource::Nproc => "nproc",
            Resource::Stack => "stack",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Resource::Cpu => Unit::Seconds,
            Resource::Nofile | Resource::Nproc => Unit::Count,
            _ => Unit::Bytes,
        }
    }
}

/// A soft and a hard limit; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    pub resource: Resource,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Limits of the sandbox's own cgroup; all `None`: no cgroup is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupLimits {
    /// memory.max, in bytes.
    #[serde(default)]
    pub memory: Option<u64>,
    /// pids.max: processes and threads in the whole sandbox.
    #[serde(default)]
    pub pids: Option<u64>,
    /// cpu.max, in thousandths of a CPU (500 = half a CPU, 2000 = two).
    #[serde(default)]
    pub millicpus: Option<u64>,
    /// io.weight, 1 to 10000 (100 is the kernel's default).
    #[serde(default)]
    pub io_weight: Option<u16>,
}

impl CgroupLimits {
    pub fn any(&self) -> bool {
        *self != CgroupLimits::default()
    }

    /// The cgroup v2 controllers these limits need, in the kernel's order.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (on, name) in [
            (self.millicpus.is_some(), "cpu"),
            (self.io_weight.is_some(), "io"),
            (self.memory.is_some(), "memory"),
            (self.pids.is_some(), "pids"),
        ] {
            if on {
                out.push(name);
            }
        }
        out
    }

    /// The command-line spelling of each limit set (`--memory 512M`), for
    /// messages that say which limits could not be applied.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = self.memory {
            out.push(format!("--memory {}", show_size(m)));
        }
        if let Some(p) = self.pids {
            out.push(format!("--pids {p}"));
        }
        if let Some(c) = self.millicpus {
            out.push(format!("--cpus {}", show_millis(c)));
        }
        if let Some(w) = self.io_weight {
            out.push(format!("--io-weight {w}"));
        }
        out
    }
}

/// `NAME=VALUE` or `NAME=SOFT:HARD` (either may be `unlimited`).
pub fn parse_rlimit(s: &str) -> Result<Rlimit, String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!("`{s}`: expected NAME=VALUE, e.g. nofile=1024"));
    };
    let names = || Resource::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ");
    let Some(resource) = Resource::ALL.into_iter().find(|r| r.name() == name.trim()) else {
        return Err(format!("`{name}`: unknown limit, expected one of {}", names()));
    };
    let one = |v: &str| rlimit_value(resource, v).map_err(|e| format!("{name}={value}: {e}"));
    let (soft, hard) = match value.split_once(':') {
        Some((soft, hard)) => (one(soft)?, one(hard)?),
        None => (one(value)?, one(value)?),
    };
    if let (Some(s), Some(h)) = (soft, hard) {
        if s > h {
            return Err(format!("{name}={value}: the soft limit is above the hard one"));
        }
    } else if soft.is_none() && hard.is_some() {
        return Err(format!("{name}={value}: the soft limit is above the hard one"));
    }
    Ok(Rlimit { resource, soft, hard })
}

fn rlimit_value(resource: Resource, v: &str) -> Result<Option<u64>, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("unlimited") || v.eq_ignore_ascii_case("infinity") {
        return Ok(None);
    }
    let n = match resource.unit() {
        Unit::Bytes => parse_size(v)?,
        Unit::Count => v.parse().map_err(|_| format!("`{v}` is not a whole number or `unlimited`"))?,
        Unit::Seconds => {
            let ms = parse_duration(v)?;
            if ms % 1000 != 0 {
                return Err(format!("`{v}`: cpu time counts whole seconds"));
            }
            ms / 1000
        }
    };
    if n == u64::MAX {
        return Err(format!("`{v}` is too large"));
    }
    Ok(Some(n))
}

impl fmt::Display for Rlimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<u64>| match (v, self.resource.unit()) {
            (None, _) => "unlimited".to_string(),
            (Some(n), Unit::Bytes) => show_size(n),
            (Some(n), Unit::Seconds) => format!("{n}s"),
            (Some(n), Unit::Count) => n.to_string(),
        };
        write!(f, "{}={}", self.resource.name(), show(self.soft))?;
        if self.soft != self.hard {
            write!(f, ":{}", show(self.hard))?;
        }
        Ok(())
    }
}

impl fmt::Display for Limits {
    /// The lines `sandbox explain` prints; nothing for the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.timeout_ms {
            let grace = show_ms(self.kill_after_ms);
            writeln!(f, "timeout:    {}: SIGTERM, SIGKILL {grace} later; exit status 124", show_ms(t))?;
        }
        if !self.rlimits.is_empty() {
            let all: Vec<String> = self.rlimits.iter().map(|r| r.to_string()).collect();
            writeln!(f, "rlimits:    {}", all.join(" "))?;
        }
        if self.cgroup.any() {
            let flags = self.cgroup.flags().join(" ");
            writeln!(f, "cgroup:     {flags} (a cgroup v2 of its own, removed at the end)")?;
        }
        match (self.status_fd, self.status_style) {
            (Some(fd), StatusStyle::Full) => writeln!(f, "status-fd:  {fd} (JSON lines)")?,
            (Some(fd), StatusStyle::Early) => {
                writeln!(f, "status-fd:  {fd} (JSON lines: the first before the sandbox is released)")?
            }
            (None, _) => {}
        }
        if let Some(fd) = self.info_fd {
            writeln!(f, "info-fd:    {fd} (one JSON object once the sandbox exists)")?;
        }
        if let Some(p) = &self.pid_file {
            writeln!(f, "pid-file:   {}", crate::escape::path(p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimits() {
        let r = parse_rlimit("nofile=16").unwrap();
        assert_eq!(r, Rlimit { resource: Resource::Nofile, soft: Some(16), hard: Some(16) });
        let r = parse_rlimit("as=512M").unwrap();
        assert_eq!((r.soft, r.hard), (Some(512 << 20), Some(512 << 20)));
        let r = parse_rlimit("cpu=10s:1m").unwrap();
        assert_eq!((r.soft, r.hard), (Some(10), Some(60)));
        assert_eq!(r.to_string(), "cpu=10s:60s");
        let r = parse_rlimit("core=unlimited").unwrap();
        assert_eq!((r.soft, r.hard), (None, None));
        assert_eq!(r.to_string(), "core=unlimited");
        let r = parse_rlimit("stack=8M:unlimited").unwrap();
        assert_eq!(r.to_string(), "stack=8M:unlimited");
        assert!(parse_rlimit("nofile=32:16").unwrap_err().contains("soft limit is above"));
        assert!(parse_rlimit("nofile=unlimited:16").unwrap_err().contains("soft limit is above"));
        assert!(parse_rlimit("nofiles=1").unwrap_err().contains("one of as, core, cpu"));
        assert!(parse_rlimit("nofile").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_rlimit("nofile=1K").unwrap_err().contains("whole number"));
        assert!(parse_rlimit("cpu=1.5s").unwrap_err().contains("whole seconds"));
    }

    #[test]
    fn later_rlimits_replace_earlier_ones() {
        let mut l = Limits::default();
        l.set_rlimit(parse_rlimit("nofile=16").unwrap());
        l.set_rlimit(parse_rlimit("nproc=5").unwrap());
        l.set_rlimit(parse_rlimit("nofile=32").unwrap());
        let shown: Vec<String> = l.rlimits.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["nproc=5", "nofile=32"]);
    }

    #[test]
    fn controllers_and_display() {
        let c = CgroupLimits { memory: Some(1 << 30), pids: Some(64), millicpus: Some(500), io_weight: None };
        assert_eq!(c.controllers(), ["cpu", "memory", "pids"]);
        assert_eq!(c.flags(), ["--memory 1G", "--pids 64", "--cpus 0.5"]);
        let l = Limits { timeout_ms: Some(30_000), cgroup: c, ..Limits::default() };
        let text = l.to_string();
        assert!(text.contains("timeout:    30s: SIGTERM, SIGKILL 5s later; exit status 124"), "{text}");
        assert!(text.contains("cgroup:     --memory 1G --pids 64 --cpus 0.5"), "{text}");
        assert_eq!(Limits::default().to_string(), "");
    }
}
