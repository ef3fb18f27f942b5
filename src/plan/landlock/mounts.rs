//! Mount flags that follow the explicit rules (namespaces mode).
//!
//! Landlock has no right for a file's metadata: under a rule that grants
//! only reading, `chmod`, `chown`, `utime` and `setxattr` still succeed
//! wherever the mount is writable; and its execute right is checked on
//! `execve` only, not on `mmap(PROT_EXEC)`, so the dynamic loader run as a
//! program (`/lib64/ld-linux-x86-64.so.2 ./bin`) maps a binary that no
//! exec rule allows. The mounts close both gaps, since they hold for every
//! system call:
//!
//! - with explicit read or write rules, every mount of the root is made
//!   read-only except beneath the paths landlock lets the command write
//!   (its `--allow-write` paths and the sandbox's own `/dev`): the exact
//!   set of places where a write can succeed stays the same, and a
//!   metadata write anywhere else fails with EROFS;
//! - with exec rules, every mount is made noexec except beneath the
//!   `--allow-exec` paths: the kernel then refuses to map a file from
//!   anywhere else executable (mmap EPERM), whoever asks.
//!
//! A kept path beneath a read-only (noexec) bind stays read-only (noexec):
//! rights never reach beyond what the mount allows. Launch resolves the
//! paths inside the finished root, keeps a copy of the mount tree beneath
//! each, restricts the whole root and puts the copies back.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{grants, Mode, Plan, Rights};

/// Which paths keep their write and exec permission on the mounts; `None`:
/// the mounts stay as the plan made them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountRules {
    /// Everything else becomes read-only (explicit read or write rules).
    pub writable: Option<Vec<PathBuf>>,
    /// Everything else becomes noexec (exec rules).
    pub exec: Option<Vec<PathBuf>>,
}

/// The mount flags the plan's landlock rules call for.
pub fn mount_rules(plan: &Plan) -> MountRules {
    let ll = &plan.landlock;
    if !ll.enabled || plan.mode != Mode::Namespaces {
        return MountRules::default();
    }
    if !ll.explicit() && !ll.exec_narrowed() {
        return MountRules::default();
    }
    let g = grants(plan);
    let beneath = |pred: fn(Rights) -> bool| -> Vec<PathBuf> {
        let mut seen = HashSet::new();
        g.iter().filter(|g| pred(g.rights) && seen.insert(&g.path)).map(|g| g.path.clone()).collect()
    };
    let writes = |r: Rights| r.contains(Rights::WRITE_FILE) || r.contains(Rights::CHANGE);
    MountRules {
        writable: ll.explicit().then(|| beneath(writes)),
        exec: ll.exec_narrowed().then(|| beneath(|r| r.contains(Rights::EXEC))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests::plan;
    use super::super::{PathRule, RuleAccess};
    use super::*;

    fn rule(path: &str, access: RuleAccess) -> PathRule {
        PathRule { path: path.into(), access }
    }

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_mirror_leaves_the_mounts_as_they_are() {
        assert_eq!(mount_rules(&plan("default")), MountRules::default());
    }

    #[test]
    fn explicit_rules_keep_writes_beneath_write_rules_and_dev_only() {
        let mut p = plan("default");
        p.landlock.rules = vec![
            rule("/usr", RuleAccess::Read),
            rule("/home/u/proj", RuleAccess::Read),
            rule("/home/u/proj/out", RuleAccess::Write),
        ];
        let m = mount_rules(&p);
        assert_eq!(m.writable, Some(paths(&["/dev", "/dev/shm", "/home/u/proj/out"])));
        assert_eq!(m.exec, None, "no exec rule: exec stays as mounted");
        p.landlock.rules.retain(|r| r.access == RuleAccess::Read);
        assert_eq!(mount_rules(&p).writable, Some(paths(&["/dev", "/dev/shm"])), "read rules only");
    }

    #[test]
    fn exec_rules_keep_exec_beneath_them_only() {
        let mut p = plan("default");
        p.landlock.rules = vec![rule("/usr", RuleAccess::Exec), rule("/opt/tool", RuleAccess::Exec)];
        let m = mount_rules(&p);
        assert_eq!(m.writable, None, "the mirror: writes stay as mounted");
        assert_eq!(m.exec, Some(paths(&["/usr", "/opt/tool"])));
        assert!(!m.exec.unwrap().contains(&Path::new("/home/u/proj").to_path_buf()));
        p.landlock.rules = vec![rule("/usr", RuleAccess::Read), rule("/usr/bin", RuleAccess::Exec)];
        let m = mount_rules(&p);
        assert_eq!(m.exec, Some(paths(&["/usr/bin"])), "a read rule alone does not keep exec");
        assert_eq!(m.writable, Some(paths(&["/dev", "/dev/shm"])));
    }

    #[test]
    fn nothing_without_landlock_or_without_mounts() {
        let mut p = plan("default");
        p.landlock.rules = vec![rule("/usr", RuleAccess::Read), rule("/usr", RuleAccess::Exec)];
        p.landlock.enabled = false;
        assert_eq!(mount_rules(&p), MountRules::default());
        p.landlock.enabled = true;
        p.mode = Mode::Landlock;
        assert_eq!(mount_rules(&p), MountRules::default(), "landlock-only mode has no mounts");
    }
}
