//! The sandbox's own cgroup v2, for `--memory`, `--pids`, `--cpus` and
//! `--io-weight`: made before clone, removed at the end.
//!
//! In a delegated subtree (see [`crate::cgroup`] for when that works), under
//! the caller's cgroup D:
//!
//! ```text
//! D/                       cgroup.subtree_control += the controllers needed
//! D/sandbox-PID.monitor/   the monitor, moved out of D first (D may not hand
//!                          controllers down while it holds a process)
//! D/sandbox-PID/           init and everything it starts, with the limits
//! ```
//!
//! init is moved in right after clone, before it is released, so nothing of
//! the sandbox ever runs outside. At the end whatever is left is killed
//! (`cgroup.kill`, e.g. with `--share pid`), the cgroup removed, the
//! controllers disabled again and the monitor moved back: D is as it was.
//!
//! Otherwise the systemd user manager makes a scope ([`super::systemd`]).
//! When neither works the run is refused with the reason and the fix, or,
//! with best effort, runs without the limits after a warning.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{Result, SetupError};
use super::{systemd, Ctx};
use crate::cgroup::{self as cg, CgroupFs, Refusal, DELEGATE_FIX};
use crate::plan::limits::CgroupLimits;

/// Where the sandbox's limits live.
pub enum Cgroup {
    Delegated(Delegated<'static>),
    /// A scope of the systemd user manager, made once init exists.
    Systemd(CgroupLimits),
}

/// A cgroup made by the monitor in a delegated subtree; dropping it kills
/// what is left inside, removes it and restores the parent.
pub struct Delegated<'f> {
    fs: &'f dyn CgroupFs,
    parent: PathBuf,
    /// The monitor's pid, moved into `leaf` and back.
    pid: u32,
    leaf: Option<PathBuf>,
    enabled: Vec<String>,
    dir: Option<PathBuf>,
}

/// Decides where the limits go, and makes the delegated cgroup now.
pub fn prepare(ctx: &Ctx) -> Result<Option<Cgroup>> {
    let limits = ctx.plan.limits.cgroup;
    if !limits.any() {
        return Ok(None);
    }
    let pid = std::process::id();
    let made = cg::own_dir().and_then(|dir| create(&cg::RealFs, &dir, pid, &limits));
    let refusal = match made {
        Ok(d) => {
            ctx.log("cgroup", &d.dir().map(|p| p.display().to_string()).unwrap_or_default());
            return Ok(Some(Cgroup::Delegated(d)));
        }
        Err(r) => r,
    };
    match systemd::manager_controllers() {
        Ok(have) => match cg::assess_manager(&have, &limits.controllers()) {
            Ok(()) => {
                ctx.log("cgroup", &format!("{}; asking the systemd user manager", refusal.why));
                Ok(Some(Cgroup::Systemd(limits)))
            }
            Err(m) => refuse(ctx, format!("{}; {}", refusal.why, m.why), &m.fix).map(|()| None),
        },
        Err(e) => {
            let why = format!("{}; no systemd user manager to ask either ({e})", refusal.why);
            refuse(ctx, why, &refusal.fix).map(|()| None)
        }
    }
}

/// The error that fails closed, or under best effort the warning.
fn refuse(ctx: &Ctx, why: String, fix: &str) -> Result<()> {
    let flags = ctx.plan.limits.cgroup.flags().join(" ");
    if ctx.plan.best_effort {
        eprintln!("sandbox: warning: running without {flags} (best effort): {why}");
        return Ok(());
    }
    Err(SetupError::new(format!("cgroup limits ({flags})"), why)
        .hint(format!("{fix}; or drop {flags}, or add --best-effort to run without them")))
}

impl Cgroup {
    /// Puts init (held before its release) under the limits.
    pub fn attach(&self, ctx: &Ctx, init: u32) -> Result<()> {
        match self {
            Cgroup::Delegated(d) => d.attach(init),
            Cgroup::Systemd(limits) => match systemd::start_scope(init, limits) {
                Ok(unit) => {
                    ctx.log("cgroup", &format!("systemd scope {unit}"));
                    Ok(())
                }
                Err(e) => refuse(ctx, e, DELEGATE_FIX),
            },
        }
    }

    /// Freezes or thaws the whole sandbox (cgroup.freeze) if this cgroup can;
    /// false when the caller must stop it with signals instead.
    pub fn freeze(&self, frozen: bool) -> bool {
        match self {
            Cgroup::Delegated(d) => d.freeze(frozen),
            Cgroup::Systemd(_) => false,
        }
    }

    /// How many processes the kernel's OOM killer took in the sandbox, where
    /// its cgroup is still there to ask at the end (a delegated one; systemd
    /// 252 stops a scope at its first OOM kill and logs it itself).
    pub fn oom_kills(&self) -> u64 {
        match self {
            Cgroup::Delegated(d) => d.oom_kills(),
            Cgroup::Systemd(_) => 0,
        }
    }
}

/// `oom_kill` of a memory.events file (0 when absent).
pub fn oom_kill_count(events: &str) -> u64 {
    events.lines().find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok()).unwrap_or(0)
}

/// Makes the sandbox's cgroup under `parent` with `limits`, for the monitor
/// `pid`; on failure, undoes what was done and says why.
pub fn create<'f>(
    fs: &'f dyn CgroupFs,
    parent: &Path,
    pid: u32,
    limits: &CgroupLimits,
) -> std::result::Result<Delegated<'f>, Refusal> {
    let facts = cg::Facts::read(fs, parent, pid)?;
    let plan = cg::assess(&facts, &limits.controllers())?;
    let mut d =
        Delegated { fs, parent: parent.to_path_buf(), pid, leaf: None, enabled: Vec::new(), dir: None };
    let failed = |what: &Path, e: std::io::Error| Refusal {
        why: format!("{}: {}", what.display(), cg::io_text(&e)),
        fix: DELEGATE_FIX.into(),
    };
    if plan.move_out {
        let leaf = parent.join(format!("sandbox-{pid}.monitor"));
        fs.mkdir(&leaf).map_err(|e| failed(&leaf, e))?;
        d.leaf = Some(leaf.clone());
        let procs = leaf.join("cgroup.procs");
        fs.write(&procs, &pid.to_string()).map_err(|e| failed(&procs, e))?;
    }
    if !plan.enable.is_empty() {
        let ctl = parent.join("cgroup.subtree_control");
        let add: Vec<String> = plan.enable.iter().map(|c| format!("+{c}")).collect();
        fs.write(&ctl, &add.join(" ")).map_err(|e| failed(&ctl, e))?;
        d.enabled = plan.enable;
    }
    let dir = parent.join(format!("sandbox-{pid}"));
    fs.mkdir(&dir).map_err(|e| failed(&dir, e))?;
    d.dir = Some(dir.clone());
    for (file, value) in values(limits) {
        let path = dir.join(file);
        fs.write(&path, &value).map_err(|e| failed(&path, e))?;
    }
    Ok(d)
}

/// The interface files and what goes in them.
pub fn values(l: &CgroupLimits) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = l.memory {
        out.push(("memory.max", m.to_string()));
    }
    if let Some(p) = l.pids {
        out.push(("pids.max", p.to_string()));
    }
    if let Some(c) = l.millicpus {
        // The quota per 100 ms period: 1000 millicpus = 100000 us.
        out.push(("cpu.max", format!("{} 100000", c * 100)));
    }
    if let Some(w) = l.io_weight {
        out.push(("io.weight", format!("default {w}")));
    }
    out
}

impl Delegated<'_> {
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn attach(&self, init: u32) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let procs = dir.join("cgroup.procs");
        self.fs.write(&procs, &init.to_string()).map_err(|e| {
            SetupError::new(format!("cgroup: move the sandbox into {}", dir.display()), cg::io_text(&e))
        })
    }

    fn freeze(&self, frozen: bool) -> bool {
        let Some(dir) = &self.dir else { return false };
        self.fs.write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }).is_ok()
    }

    fn oom_kills(&self) -> u64 {
        let Some(dir) = &self.dir else { return 0 };
        oom_kill_count(&self.fs.read(&dir.join("memory.events")).unwrap_or_default())
    }

    /// Kills what is left inside and waits until the cgroup is empty.
    fn empty(&self, dir: &Path) {
        let _ = self.fs.write(&dir.join("cgroup.kill"), "1");
        let end = Instant::now() + Duration::from_secs(2);
        let populated = || {
            let events = self.fs.read(&dir.join("cgroup.events")).unwrap_or_default();
            events.lines().any(|l| l == "populated 1")
        };
        while populated() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn cleanup(&mut self) -> std::result::Result<(), String> {
        let fail = |what: &Path, e: std::io::Error| format!("{}: {}", what.display(), cg::io_text(&e));
        if let Some(dir) = self.dir.take() {
            self.empty(&dir);
            self.fs.rmdir(&dir).map_err(|e| fail(&dir, e))?;
        }
        if !self.enabled.is_empty() {
            let ctl = self.parent.join("cgroup.subtree_control");
            let off: Vec<String> = self.enabled.iter().map(|c| format!("-{c}")).collect();
            self.fs.write(&ctl, &off.join(" ")).map_err(|e| fail(&ctl, e))?;
            self.enabled.clear();
        }
        if let Some(leaf) = self.leaf.take() {
            let procs = self.parent.join("cgroup.procs");
            self.fs.write(&procs, &self.pid.to_string()).map_err(|e| fail(&procs, e))?;
            self.fs.rmdir(&leaf).map_err(|e| fail(&leaf, e))?;
        }
        Ok(())
    }
}

impl Drop for Delegated<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            eprintln!("sandbox: warning: removing the sandbox's cgroup: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
