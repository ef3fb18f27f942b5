//! The sandbox's own cgroup in a delegated subtree, under the caller's
//! cgroup D (see [`super`] for when that works):
//!
//! ```text
//! D/                       cgroup.subtree_control += the controllers needed
//! D/sandbox-PID.monitor/   the monitor, moved out of D first (D may not hand
//!                          controllers down while it holds a process)
//! D/sandbox-PID/           init and everything it starts, with the limits
//! ```
//!
//! [`create`] makes it before clone; the launch moves init in right after
//! clone, before it is released ([`Delegated::attach`]), so nothing of the
//! sandbox ever runs outside. Dropping it kills whatever is left inside
//! (`cgroup.kill`, e.g. with `--share pid`), removes it, disables the
//! controllers again and moves the monitor back: D is as it was. Every
//! write goes through [`CgroupFs`], so the order is tested on a fake tree.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CgroupFs, Refusal, DELEGATE_FIX};
use crate::plan::limits::CgroupLimits;

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

/// Makes the sandbox's cgroup under `parent` with `limits`, for the monitor
/// `pid`; on failure, undoes what was done and says why.
pub fn create<'f>(
    fs: &'f dyn CgroupFs,
    parent: &Path,
    pid: u32,
    limits: &CgroupLimits,
) -> std::result::Result<Delegated<'f>, Refusal> {
    let facts = super::Facts::read(fs, parent, pid)?;
    let plan = super::assess(&facts, &limits.controllers())?;
    let mut d =
        Delegated { fs, parent: parent.to_path_buf(), pid, leaf: None, enabled: Vec::new(), dir: None };
    let failed = |what: &Path, e: std::io::Error| Refusal {
        why: format!("{}: {}", what.display(), super::io_text(&e)),
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

    /// Moves `init` (held before its release) in; why not, if it cannot.
    pub fn attach(&self, init: u32) -> Result<(), String> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let procs = dir.join("cgroup.procs");
        self.fs
            .write(&procs, &init.to_string())
            .map_err(|e| format!("move the sandbox into {}: {}", dir.display(), super::io_text(&e)))
    }

    /// Freezes or thaws everything inside (cgroup.freeze); false if it cannot.
    pub fn freeze(&self, frozen: bool) -> bool {
        let Some(dir) = &self.dir else { return false };
        self.fs.write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }).is_ok()
    }

    /// How many processes the kernel's OOM killer took inside (the
    /// cgroup's memory.events); 0 when it cannot tell.
    pub fn oom_kills(&self) -> u64 {
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
        let fail = |what: &Path, e: std::io::Error| format!("{}: {}", what.display(), super::io_text(&e));
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

/// `oom_kill` of a memory.events file (0 when absent).
pub fn oom_kill_count(events: &str) -> u64 {
    events.lines().find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok()).unwrap_or(0)
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
