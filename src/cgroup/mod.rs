//! cgroup v2 limits: the decisions that `sandbox check` and the launch
//! share ([`assess`]), and the two ways of getting a cgroup of one's own:
//! a delegated subtree ([`delegated`]) and a scope of the systemd user
//! manager ([`systemd`]). The launch step that uses them is
//! `launch::monitor::cgroup`.
//!
//! An unprivileged user can limit a sandbox with a cgroup v2 of its own when
//! the user's cgroup (1) is writable by the user, because it was delegated
//! (systemd delegates user@UID.service and scopes started with
//! `Delegate=yes`), (2) lists the controllers in `cgroup.controllers`, and
//! (3) can enable them for its children in `cgroup.subtree_control`. The
//! kernel refuses (3) while the cgroup itself holds processes ("no internal
//! processes"), so the monitor first moves itself into a leaf child, which
//! only works when it is the only process there: true in a scope of its own,
//! false in the scope of a terminal that also holds the shell.
//!
//! [`CgroupFs`] is the only I/O here; the verdicts are pure functions of what
//! it read, and the launch's writes go through it too, so both are tested
//! on a fake tree.

use std::io;
use std::path::{Path, PathBuf};

pub mod delegated;
pub mod systemd;

/// The controllers sandbox limits use, in the order `check` lists them.
pub const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "io"];
pub const DELEGATE_FIX: &str =
    "run it in a systemd user session on cgroup v2, e.g. systemd-run --user --scope -p Delegate=yes sandbox …";
pub const V2_FIX: &str = "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)";
const HYBRID_FIX: &str =
    "boot with cgroup v2 only (systemd.unified_cgroup_hierarchy=1) and run it in a systemd \
     user session, e.g. systemd-run --user --scope -p Delegate=yes sandbox …";
/// When the user manager lacks a controller: Debian 12's user@.service
/// delegates `pids memory cpu`, not `io`.
pub const MANAGER_FIX: &str = "as root, let user managers delegate every controller: `systemctl edit \
     user@.service` with [Service] Delegate=yes, then log in again";
const SCOPE_FIX: &str =
    "start sandbox in a scope of its own: systemd-run --user --scope -p Delegate=yes sandbox …";

/// File access to a cgroup v2 hierarchy (the real one, or a fake in tests).
pub trait CgroupFs {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `data` to an existing interface file.
    fn write(&self, path: &Path, data: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    fn writable(&self, path: &Path) -> bool;
}

/// The mounted cgroup file system.
pub struct RealFs;

impl CgroupFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        use std::io::Write;
        // One write(2) per value: cgroup files take one value per write.
        std::fs::OpenOptions::new().write(true).open(path)?.write_all(data.as_bytes())
    }
    /// The sandbox's cgroups are the caller's alone: 0700, whatever the umask.
    /// (cgroupfs has no symlinks, so paths under the cgroup are never redirected.)
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
    fn writable(&self, path: &Path) -> bool {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
    }
}

/// Why cgroup limits cannot be had here, and what would help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub fix: String,
}

impl Refusal {
    fn new(why: impl Into<String>, fix: &str) -> Self {
        Refusal { why: why.into(), fix: fix.into() }
    }
}

/// An I/O error the way the C library words it, without Rust's "(os error N)".
pub fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = field.bytes();
    while let Some(b) = bytes.next() {
        let oct: Vec<u8> = if b == b'\\' { bytes.clone().take(3).collect() } else { Vec::new() };
        match std::str::from_utf8(&oct).ok().and_then(|s| u8::from_str_radix(s, 8).ok()) {
            Some(c) if oct.len() == 3 => {
                out.push(c);
                bytes.nth(2);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The caller's cgroup v2 directory, from /proc/self/cgroup and mountinfo
/// (`sys_fs_cgroup_v2`: /sys/fs/cgroup itself is a cgroup2 mount), or why none.
pub fn cgroup_dir(proc_cgroup: &str, mountinfo: &str, sys_fs_cgroup_v2: bool) -> Result<PathBuf, Refusal> {
    let Some(path) = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Err(Refusal::new("no cgroup v2 hierarchy in /proc/self/cgroup (cgroup v1 only)", V2_FIX));
    };
    let mounts = mountinfo.lines().filter_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let f: Vec<&str> = left.split(' ').collect();
        (right.split(' ').next() == Some("cgroup2") && f.len() > 4).then(|| (unescape(f[3]), unescape(f[4])))
    });
    let mut mounts: Vec<(String, String)> = mounts.collect();
    if sys_fs_cgroup_v2 {
        mounts.insert(0, ("/".into(), "/sys/fs/cgroup".into()));
    }
    let Some((root, at)) = mounts.into_iter().next() else {
        return Err(Refusal::new(
            "cgroup v2 is not mounted here (no cgroup2 in /proc/self/mountinfo)",
            V2_FIX,
        ));
    };
    let rel = Path::new(path).strip_prefix(&root).unwrap_or(Path::new(path.trim_start_matches('/')));
    Ok(Path::new(&at).join(rel).components().collect())
}

/// The running process's cgroup v2 directory on this host.
pub fn own_dir() -> Result<PathBuf, Refusal> {
    resolve(&std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default())
}

/// The directory of the cgroup `path` (as systemd's `ControlGroup` names
/// it, from the root of the hierarchy) on this host.
pub fn dir_of(path: &str) -> Result<PathBuf, Refusal> {
    resolve(&format!("0::{path}\n"))
}

fn resolve(proc_cgroup: &str) -> Result<PathBuf, Refusal> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    cgroup_dir(proc_cgroup, &mountinfo, v2)
}

/// What a cgroup directory offers its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub dir: PathBuf,
    /// `cgroup.controllers`: what children could be given.
    pub controllers: Vec<String>,
    /// `cgroup.subtree_control`: what children are given now.
    pub enabled: Vec<String>,
    /// The directory and its `cgroup.subtree_control` are writable.
    pub writable: bool,
    /// Processes in `cgroup.procs` other than the caller.
    pub others: usize,
}

impl Facts {
    /// Reads `dir` through `fs`; `own_pid` is the caller, who may move out.
    pub fn read(fs: &dyn CgroupFs, dir: &Path, own_pid: u32) -> Result<Facts, Refusal> {
        let read = |name: &str| {
            fs.read(&dir.join(name)).map_err(|e| {
                Refusal::new(format!("cannot read {}/{name}: {}", dir.display(), io_text(&e)), DELEGATE_FIX)
            })
        };
        let words = |s: String| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let controllers = words(read("cgroup.controllers")?);
        let enabled = words(read("cgroup.subtree_control").unwrap_or_default());
        let procs = read("cgroup.procs").unwrap_or_default();
        let others = procs.split_whitespace().filter(|p| p.parse() != Ok(own_pid)).count();
        let writable = fs.writable(dir) && fs.writable(&dir.join("cgroup.subtree_control"));
        Ok(Facts { dir: dir.to_path_buf(), controllers, enabled, writable, others })
    }

    fn available(&self) -> String {
        if self.controllers.is_empty() {
            "none".into()
        } else {
            self.controllers.join(" ")
        }
    }
}

/// How to make a sandbox cgroup under [`Facts::dir`]: the controllers to
/// enable in its `cgroup.subtree_control`, which first needs the caller to
/// move out into a leaf child (`move_out`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub enable: Vec<String>,
    pub move_out: bool,
}

/// Whether `want` can be had under `f.dir`, and how.
pub fn assess(f: &Facts, want: &[&str]) -> Result<Delegation, Refusal> {
    let (given, lacking): (Vec<&str>, Vec<&str>) =
        want.iter().partition(|c| f.controllers.iter().any(|h| h == *c));
    if !lacking.is_empty() {
        let (why, fix) = if given.is_empty() {
            // A v2 hierarchy beside v1 (…/unified) only gets what v1 does not hold.
            let hybrid = f.dir.ends_with("unified") || f.dir.starts_with("/sys/fs/cgroup/unified");
            let why = format!("cgroup v2 controllers delegated to you: none of {}", lacking.join(" "));
            (why, if hybrid { HYBRID_FIX } else { DELEGATE_FIX })
        } else {
            let why = format!(
                "{}: {} but not {} delegated to you",
                f.dir.display(),
                given.join(" "),
                lacking.join(" ")
            );
            (why, DELEGATE_FIX)
        };
        return Err(Refusal::new(format!("{why} (available: {})", f.available()), fix));
    }
    if !f.writable {
        let why = format!("{} is not writable by you (available: {})", f.dir.display(), f.available());
        return Err(Refusal::new(why, DELEGATE_FIX));
    }
    let enable: Vec<String> =
        want.iter().filter(|c| !f.enabled.iter().any(|e| e == *c)).map(|c| c.to_string()).collect();
    if !enable.is_empty() && f.others > 0 {
        let why = format!(
            "{} also holds {} other process{}, and cgroup v2 gives controllers only to children of a \
             cgroup without processes",
            f.dir.display(),
            f.others,
            if f.others == 1 { "" } else { "es" }
        );
        return Err(Refusal::new(why, SCOPE_FIX));
    }
    Ok(Delegation { move_out: !enable.is_empty(), enable })
}

/// Whether the systemd user manager, whose own cgroup offers `have`, can
/// give a scope the controllers `want`: it silently leaves out a property
/// whose controller it lacks, so the run must be refused instead.
pub fn assess_manager(have: &[String], want: &[&str]) -> Result<(), Refusal> {
    let lacking: Vec<&str> = want.iter().copied().filter(|c| !have.iter().any(|h| h == c)).collect();
    if lacking.is_empty() {
        return Ok(());
    }
    let have = if have.is_empty() { "none".to_string() } else { have.join(" ") };
    let why = format!("the systemd user manager cannot limit {} (it has: {have})", lacking.join(" "));
    Err(Refusal::new(why, MANAGER_FIX))
}

/// The controllers of `want` that `f` has, in `want`'s order.
pub fn given<'a>(f: &Facts, want: &[&'a str]) -> Vec<&'a str> {
    want.iter().copied().filter(|c| f.controllers.iter().any(|h| h == c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_cgroups_are_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sandbox-1");
        RealFs.mkdir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o700);
    }

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    fn facts(controllers: &str, enabled: &str, writable: bool, others: usize) -> Facts {
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect();
        Facts {
            dir: "/cg/u".into(),
            controllers: words(controllers),
            enabled: words(enabled),
            writable,
            others,
        }
    }

    #[test]
    fn finds_the_directory() {
        let mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        let pc = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope\n";
        let want = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope";
        assert_eq!(cgroup_dir(pc, mi, true).unwrap(), Path::new(want));
        assert_eq!(cgroup_dir(pc, mi, false).unwrap(), Path::new(want), "through mountinfo too");
        let pc = "9:name=systemd:/\n4:memory:/x\n0::/\n";
        assert_eq!(cgroup_dir(pc, HYBRID, false).unwrap(), Path::new("/sys/fs/cgroup/unified"));
        let mi = "41 31 0:38 /ctr /sys/fs/cg\\040two rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_dir("0::/ctr/job\n", mi, false).unwrap(), Path::new("/sys/fs/cg two/job"));
        assert_eq!(cgroup_dir("0::/ctrl/job\n", mi, false).unwrap(), Path::new("/sys/fs/cg two/ctrl/job"));
    }

    #[test]
    fn v1_only_or_unmounted() {
        let err = cgroup_dir("4:memory:/x\n1:cpu:/\n", HYBRID, false).unwrap_err();
        assert!(err.why.contains("cgroup v1 only"), "{err:?}");
        let mi_v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let err = cgroup_dir("0::/\n", mi_v1, false).unwrap_err();
        assert!(err.why.contains("not mounted"), "{err:?}");
        assert_eq!(err.fix, V2_FIX);
    }

    #[test]
    fn hybrid_hierarchy_with_hugetlb_only() {
        let err = assess(&facts("hugetlb", "", true, 0), &["memory", "pids"]).unwrap_err();
        assert_eq!(
            err.why,
            "cgroup v2 controllers delegated to you: none of memory pids (available: hugetlb)"
        );
        assert_eq!(err.fix, DELEGATE_FIX);
        let unified = Facts { dir: "/sys/fs/cgroup/unified".into(), ..facts("hugetlb", "", false, 0) };
        let err = assess(&unified, &["memory"]).unwrap_err();
        assert!(err.fix.starts_with("boot with cgroup v2 only"), "{err:?}");
    }

    #[test]
    fn partial_and_unwritable() {
        let err = assess(&facts("memory pids", "", true, 0), &["memory", "cpu"]).unwrap_err();
        assert_eq!(err.why, "/cg/u: memory but not cpu delegated to you (available: memory pids)");
        let err = assess(&facts("memory pids", "", false, 0), &["memory"]).unwrap_err();
        assert_eq!(err.why, "/cg/u is not writable by you (available: memory pids)");
        let err = assess(&facts("hugetlb", "", false, 0), &["memory"]).unwrap_err();
        assert!(err.why.starts_with("cgroup v2 controllers delegated to you: none of memory"), "{err:?}");
        assert_eq!(given(&facts("memory pids", "", true, 0), &CONTROLLERS), ["memory", "pids"]);
    }

    #[test]
    fn a_scope_of_its_own_moves_out_first() {
        let d = assess(&facts("cpu io memory pids", "", true, 0), &["memory", "pids"]).unwrap();
        assert_eq!(d, Delegation { enable: vec!["memory".into(), "pids".into()], move_out: true });
        let d = assess(&facts("cpu io memory pids", "memory", true, 0), &["memory", "pids"]).unwrap();
        assert_eq!(d.enable, ["pids"]);
    }

    #[test]
    fn a_user_manager_without_io_cannot_limit_io() {
        let debian12: Vec<String> = ["cpu", "memory", "pids"].map(String::from).to_vec();
        assert_eq!(assess_manager(&debian12, &["memory", "pids", "cpu"]), Ok(()));
        let err = assess_manager(&debian12, &["cpu", "io", "memory"]).unwrap_err();
        assert_eq!(err.why, "the systemd user manager cannot limit io (it has: cpu memory pids)");
        assert!(err.fix.contains("Delegate=yes"), "{err:?}");
        let err = assess_manager(&[], &["memory"]).unwrap_err();
        assert_eq!(err.why, "the systemd user manager cannot limit memory (it has: none)");
    }

    #[test]
    fn other_processes_block_enabling_but_not_an_enabled_tree() {
        let err = assess(&facts("memory pids", "", true, 2), &["memory"]).unwrap_err();
        assert!(err.why.contains("also holds 2 other processes"), "{err:?}");
        assert!(err.fix.contains("systemd-run --user --scope -p Delegate=yes sandbox"), "{err:?}");
        let d = assess(&facts("memory pids", "memory pids", true, 5), &["memory"]).unwrap();
        assert_eq!(d, Delegation { enable: vec![], move_out: false });
    }
}
