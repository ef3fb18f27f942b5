//! `sandbox check`: what this kernel and host allow.
//!
//! Prints one line per feature, in a fixed order: the status (`ok`,
//! `limited` or `missing`), the feature, what was found and, where something
//! is lacking, the fix. Probes that can be tried are tried for real (a user
//! namespace, an overlay mount inside one) by [`crate::launch::probe`], the
//! only place with syscalls; the verdicts are pure functions of what was read.
//!
//! Then the graphical session's lines (`crate::desktop::detect`).
//!
//! Exit status: 0 when the default profile can run here (user namespaces
//! work for the caller), 1 when it cannot.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{access, AccessFlags, Uid, User};

use crate::cgroup as cg;
use crate::idmap::{self, Caller, HostView, Kind};
use crate::launch::probe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Limited,
    Missing,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    pub feature: &'static str,
    pub detail: String,
    pub fix: Option<String>,
}

impl Line {
    fn new(status: Status, feature: &'static str, detail: impl Into<String>) -> Self {
        Line { status, feature, detail: detail.into(), fix: None }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Limited => "limited",
            Status::Missing => "missing",
        };
        write!(f, "{status:<9}{}: {}", self.feature, self.detail)?;
        match &self.fix {
            Some(fix) => write!(f, "; fix: {fix}"),
            None => Ok(()),
        }
    }
}

/// Prints one line per feature; returns the exit status. A closed stdout
/// (`| head -1`) ends the report early but does not change the status.
pub fn run() -> u8 {
    let userns = user_namespaces();
    let mut out = std::io::stdout();
    let probes: [fn() -> Line; 7] = [landlock, seccomp, overlay, uid_ranges, networking, egress, cgroup];
    let mut written = writeln!(out, "{userns}");
    for probe in probes {
        if written.is_err() {
            break;
        }
        written = writeln!(out, "{}", probe());
    }
    // The graphical session: what the desktop options would find. Missing
    // pieces here never change the exit status.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let home = std::env::var_os("HOME").map_or_else(|| "/".into(), std::path::PathBuf::from);
    for d in crate::desktop::detect::lines(&crate::desktop::detect::Session::read(env, &home)) {
        if written.is_err() {
            break;
        }
        written = writeln!(out, "{}", from_desktop(d));
    }
    u8::from(userns.status == Status::Missing)
}

/// A line of the desktop's detection, as a line of this report.
fn from_desktop(d: crate::desktop::detect::Line) -> Line {
    use crate::desktop::detect::Status as D;
    let status = match d.status {
        D::Ok => Status::Ok,
        D::Limited => Status::Limited,
        D::Missing => Status::Missing,
    };
    Line { status, feature: d.feature, detail: d.detail, fix: d.fix }
}

fn read_trim(path: impl AsRef<Path>) -> Option<String> {
    Some(std::fs::read_to_string(path).ok()?.trim().to_string())
}

const USERNS: &str = "user namespaces";

fn user_namespaces() -> Line {
    let max = read_trim("/proc/sys/user/max_user_namespaces").unwrap_or_else(|| "unknown".into());
    match (probe::user_namespace(), Uid::current().is_root(), probe::userns_hint()) {
        (Ok(()), false, _) => Line::new(Status::Ok, USERNS, format!("unprivileged, max {max}")),
        (Ok(()), true, None) => {
            Line::new(Status::Ok, USERNS, format!("as root (no knob refuses unprivileged users), max {max}"))
        }
        (Ok(()), true, Some(hint)) => {
            Line::new(Status::Limited, USERNS, format!("as root only, max {max}")).fix(hint)
        }
        (Err(e), _, hint) => {
            let fix = hint.or_else(|| probe::userns_fix(e)).unwrap_or_else(|| "none known".into());
            Line::new(Status::Missing, USERNS, format!("refused ({e})")).fix(fix)
        }
    }
}

/// What each landlock ABI version adds.
const LANDLOCK_ABI: [(i64, &str); 7] = [
    (1, "fs"),
    (2, "refer"),
    (3, "truncate"),
    (4, "tcp bind/connect"),
    (5, "ioctl on devices"),
    (6, "scopes abstract unix sockets + signals"),
    (7, "audit logging flags"),
];

/// The features of landlock ABI `abi`, oldest first ("newer" past the table).
pub fn landlock_features(abi: i64) -> Vec<&'static str> {
    let mut features: Vec<&str> = LANDLOCK_ABI.iter().filter(|(v, _)| *v <= abi).map(|(_, f)| *f).collect();
    if abi > LANDLOCK_ABI.len() as i64 {
        features.push("newer");
    }
    features
}

pub fn landlock_line(abi: Result<i64, Errno>) -> Line {
    const NAME: &str = "landlock";
    match abi {
        Ok(v) if v >= 1 => {
            Line::new(Status::Ok, NAME, format!("ABI {v}: {}", landlock_features(v).join(", ")))
        }
        Ok(v) => Line::new(Status::Missing, NAME, format!("unknown ABI {v}")),
        Err(Errno::EOPNOTSUPP) => Line::new(Status::Missing, NAME, "landlock not enabled")
            .fix("add landlock to the lsm= boot parameter / CONFIG_LSM"),
        Err(Errno::ENOSYS) => {
            Line::new(Status::Missing, NAME, "not built into this kernel (or a seccomp filter hides it)")
                .fix("use a kernel built with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13+)")
        }
        Err(e) => Line::new(Status::Missing, NAME, format!("landlock_create_ruleset: {e}")),
    }
}

fn landlock() -> Line {
    landlock_line(probe::landlock_abi())
}

pub fn seccomp_line(mode: Result<i32, Errno>, actions: Option<String>) -> Line {
    const NAME: &str = "seccomp filter";
    let fix = "use a kernel built with CONFIG_SECCOMP_FILTER=y";
    match (mode, actions) {
        (Err(e), _) => Line::new(Status::Missing, NAME, format!("prctl(PR_GET_SECCOMP): {e}")).fix(fix),
        (Ok(_), None) => {
            Line::new(Status::Missing, NAME, "no /proc/sys/kernel/seccomp/actions_avail").fix(fix)
        }
        (Ok(mode), Some(actions)) => {
            let already = if mode == 2 { "; this process is already filtered (stacked)" } else { "" };
            Line::new(Status::Ok, NAME, format!("actions: {actions}{already}"))
        }
    }
}

fn seccomp() -> Line {
    seccomp_line(probe::seccomp_mode(), read_trim("/proc/sys/kernel/seccomp/actions_avail"))
}

fn overlay() -> Line {
    let tmp = std::env::temp_dir();
    overlay_line(&tmp, probe::overlay_in_userns(&tmp))
}

/// The verdict on overlays from the probe in `tmp`: an error, or whether a
/// tmpfs takes user xattrs (`--overlay`'s upper layer is a tmpfs).
fn overlay_line(tmp: &Path, probe: Result<bool, String>) -> Line {
    const NAME: &str = "overlayfs in user namespaces";
    match probe {
        Ok(true) => Line::new(Status::Ok, NAME, format!("mounted with userxattr in {}", tmp.display())),
        Ok(false) => Line::new(
            Status::Limited,
            NAME,
            format!(
                "mounted with userxattr in {}, but tmpfs has no user xattrs before Linux 6.6, so --overlay \
                 (its upper layer is a tmpfs) cannot remove or rename a lower directory that has entries (EIO)",
                tmp.display()
            ),
        )
        .fix("--persist with the state directory on ext4, xfs or btrfs, or Linux 6.6+"),
        Err(e) => {
            let fix = match e.split([' ', ':']).next() {
                Some("mkdir") => "set TMPDIR to a directory you may write",
                Some("unshare") => "user namespaces first (see above)",
                _ => "Linux 5.11+, with TMPDIR on a file system with user xattrs (tmpfs: Linux 6.6+)",
            };
            Line::new(Status::Missing, NAME, e).fix(fix)
        }
    }
}

fn uid_ranges() -> Line {
    let uid = Uid::current().as_raw();
    let gid = nix::unistd::Gid::current().as_raw();
    let name = User::from_uid(Uid::from_raw(uid)).ok().flatten().map(|u| u.name);
    let path = std::env::var_os("PATH");
    uid_ranges_line(&crate::host::userns_view(name.clone(), path), &Caller { name, uid, gid })
}

/// The verdict on `--userns auto` for `caller`: the helpers (unless root,
/// who writes the maps itself) and the subordinate ranges, checked as a
/// run checks them.
pub fn uid_ranges_line(view: &HostView, caller: &Caller) -> Line {
    const NAME: &str = "uid ranges";
    let missing = |e: idmap::Error| {
        let detail = e.message.strip_prefix("--userns auto: ").unwrap_or(&e.message).to_string();
        let line = Line::new(Status::Missing, NAME, detail);
        match e.hint {
            Some(h) => line.fix(h),
            None => line,
        }
    };
    let writer = match (caller.uid, &view.newuidmap, &view.newgidmap) {
        (0, _, _) => "as root, the maps are written directly".to_string(),
        (_, Ok(u), Ok(g)) => format!("{}, {}", u.display(), g.display()),
        (_, Err(e), _) | (_, _, Err(e)) => return missing(e.clone()),
    };
    if let Err(e) = idmap::auto_maps(&view.files, caller, (caller.uid, caller.gid)) {
        return missing(e);
    }
    let ranges = |kind: Kind| {
        let list = view.files.ranges(kind, caller.name.as_deref(), caller.uid);
        let ids: u64 = list.iter().map(|r| u64::from(r.count)).sum();
        let shown: Vec<String> = list.iter().map(|r| r.to_string()).collect();
        format!("{} {} ({ids} ids)", kind.file(), shown.join(" "))
    };
    let detail = format!("{writer}; {}, {}: --userns auto works", ranges(Kind::Uid), ranges(Kind::Gid));
    Line::new(Status::Ok, NAME, detail)
}

fn networking() -> Line {
    let found: Vec<PathBuf> = ["pasta", "slirp4netns"].iter().filter_map(|c| probe::which(c)).collect();
    let tun = access("/dev/net/tun", AccessFlags::R_OK | AccessFlags::W_OK);
    networking_line(&found, tun)
}

/// The backends found in PATH (pasta first), and whether the caller may
/// open /dev/net/tun, which both need for the sandbox's tap device.
pub fn networking_line(found: &[PathBuf], tun: Result<(), Errno>) -> Line {
    const NAME: &str = "user-mode networking";
    let Some(first) = found.first() else {
        return Line::new(Status::Missing, NAME, "neither pasta nor slirp4netns in PATH")
            .fix("apt install passt");
    };
    let mut detail = format!("--net user uses {}", first.display());
    if let Some(other) = found.get(1) {
        detail.push_str(&format!(" (also {})", other.display()));
    }
    match tun {
        Ok(()) => Line::new(Status::Ok, NAME, detail),
        Err(e) => Line::new(Status::Missing, NAME, format!("{detail}, but /dev/net/tun: {}", e.desc()))
            .fix("sudo chmod 0666 /dev/net/tun (what udev does on a standard install)"),
    }
}

fn egress() -> Line {
    egress_line(probe::firewall())
}

/// Whether the egress firewall of `--allow-host` and `--allow-addr` can be
/// set up here (the probe made it in a namespace of its own), or why not.
pub fn egress_line(probe: Result<(), String>) -> Line {
    const NAME: &str = "egress firewall";
    match probe {
        Ok(()) => Line::new(
            Status::Ok,
            NAME,
            "--allow-host and --allow-addr can filter: nf_tables (timeout sets, reject, NFLOG) in a user namespace",
        ),
        Err(e) if e.starts_with("unshare") => Line::new(Status::Missing, NAME, format!("no user namespace ({e})"))
            .fix("see the user namespaces line"),
        Err(e) => Line::new(Status::Missing, NAME, e).fix(
            "a kernel with CONFIG_NF_TABLES_INET, NFT_CT, NFT_REJECT_INET, NFT_LOG and NETFILTER_NETLINK_LOG, \
             where nf_tables is not refused in user namespaces",
        ),
    }
}

const CGROUP: &str = "cgroup v2 delegation";

/// The verdict on cgroup limits: what the caller's cgroup offers (or why
/// there is none), else whether the systemd user manager can make scopes.
pub fn cgroup_line(
    facts: Result<cg::Facts, cg::Refusal>,
    systemd: impl FnOnce() -> Result<Vec<String>, String>,
) -> Line {
    let refusal = match facts {
        Err(r) => r,
        Ok(f) => {
            let given = cg::given(&f, &cg::CONTROLLERS);
            let lacking: Vec<&str> = cg::CONTROLLERS.iter().copied().filter(|c| !given.contains(c)).collect();
            let want = if given.is_empty() { &cg::CONTROLLERS[..] } else { &given[..] };
            match cg::assess(&f, want) {
                Ok(_) if lacking.is_empty() => {
                    return Line::new(Status::Ok, CGROUP, format!("{}: {}", f.dir.display(), given.join(" ")))
                }
                Ok(_) => {
                    let detail = format!(
                        "{}: {}; not {} (available: {})",
                        f.dir.display(),
                        given.join(" "),
                        lacking.join(" "),
                        f.controllers.join(" ")
                    );
                    return Line::new(Status::Limited, CGROUP, detail).fix(cg::MANAGER_FIX);
                }
                Err(r) => r,
            }
        }
    };
    match systemd() {
        Ok(have) => manager_line(&have, &refusal.why),
        Err(e) => {
            let detail = format!("{}; no systemd user manager to ask either ({e})", refusal.why);
            Line::new(Status::Missing, CGROUP, detail).fix(refusal.fix)
        }
    }
}

/// The verdict when a scope from the user manager (whose cgroup offers
/// `have`) is the way: `why` the caller's own cgroup is not.
fn manager_line(have: &[String], why: &str) -> Line {
    let given: Vec<&str> = cg::CONTROLLERS.iter().copied().filter(|c| have.iter().any(|h| h == c)).collect();
    let Err(m) = cg::assess_manager(have, &cg::CONTROLLERS) else {
        return Line::new(
            Status::Ok,
            CGROUP,
            format!("through the systemd user manager, a scope per run ({why})"),
        );
    };
    if given.is_empty() {
        return Line::new(Status::Missing, CGROUP, format!("{why}; {}", m.why)).fix(m.fix);
    }
    let detail =
        format!("through the systemd user manager, a scope per run: {}; {} ({why})", given.join(" "), m.why);
    Line::new(Status::Limited, CGROUP, detail).fix(m.fix)
}

fn cgroup() -> Line {
    let facts = cg::own_dir().and_then(|dir| cg::Facts::read(&cg::RealFs, &dir, std::process::id()));
    cgroup_line(facts, probe::systemd_user_manager)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(controllers: &str, others: usize, writable: bool) -> cg::Facts {
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect();
        cg::Facts { dir: "/cg/u".into(), controllers: words(controllers), enabled: vec![], writable, others }
    }

    fn no_manager() -> Result<Vec<String>, String> {
        Err("busctl --user: Failed to connect to bus: No medium found".into())
    }

    #[test]
    fn cgroup_delegated() {
        let line = cgroup_line(Ok(facts("cpuset cpu io memory pids", 0, true)), no_manager);
        assert_eq!(line.to_string(), "ok       cgroup v2 delegation: /cg/u: memory pids cpu io");
        let line = cgroup_line(Ok(facts("memory pids", 0, true)), no_manager);
        assert_eq!(line.status, Status::Limited);
        assert!(line.detail.contains("memory pids; not cpu io (available: memory pids)"), "{line}");
    }

    #[test]
    fn cgroup_hybrid_hugetlb_only() {
        let line = cgroup_line(Ok(facts("hugetlb", 0, true)), no_manager).to_string();
        assert!(line.starts_with("missing  cgroup v2 delegation: "), "{line}");
        assert!(line.contains("none of memory pids cpu io (available: hugetlb)"), "{line}");
        assert!(line.contains("no systemd user manager to ask either (busctl --user: Failed"), "{line}");
        assert!(
            line.contains("fix: run it in a systemd user session on cgroup v2, e.g. systemd-run"),
            "{line}"
        );
        let unified = cg::Facts { dir: "/sys/fs/cgroup/unified".into(), ..facts("hugetlb", 0, false) };
        let line = cgroup_line(Ok(unified), no_manager).to_string();
        assert!(line.contains("none of memory pids cpu io (available: hugetlb)"), "{line}");
        assert!(line.contains("fix: boot with cgroup v2 only"), "{line}");
    }

    #[test]
    fn cgroup_shared_or_unwritable_or_v1() {
        let line = cgroup_line(Ok(facts("cpu io memory pids", 3, true)), no_manager);
        assert_eq!(line.status, Status::Missing);
        assert!(line.detail.contains("also holds 3 other processes"), "{line}");
        assert!(line.fix.as_deref().unwrap().contains("scope of its own"), "{line}");
        let line = cgroup_line(Ok(facts("cpu io memory pids", 0, false)), no_manager);
        assert!(line.detail.contains("not writable by you (available: cpu io memory pids)"), "{line}");
        let v1 = cg::cgroup_dir("4:memory:/x\n", "", false);
        let line = cgroup_line(v1.map(|_| facts("", 0, true)), no_manager);
        assert!(line.detail.contains("cgroup v1 only"), "{line}");
    }

    /// The VM lane's guest 1 (6.1) found --overlay failing with EIO to
    /// remove a lower directory while check said ok.
    #[test]
    fn overlay_without_user_xattrs_on_tmpfs_is_limited() {
        let line = overlay_line(Path::new("/tmp"), Ok(false));
        assert_eq!(line.status, Status::Limited);
        assert!(
            line.detail.contains("--overlay (its upper layer is a tmpfs) cannot remove or rename"),
            "{line}"
        );
        assert!(line.fix.unwrap().starts_with("--persist with the state directory on ext4"));
        assert_eq!(overlay_line(Path::new("/tmp"), Ok(true)).status, Status::Ok);
        let line = overlay_line(Path::new("/tmp"), Err("mount overlay: EINVAL: Invalid argument".into()));
        assert_eq!(line.status, Status::Missing);
    }

    #[test]
    fn cgroup_through_systemd() {
        let all = || Ok(["cpuset", "cpu", "io", "memory", "pids"].map(String::from).to_vec());
        let line = cgroup_line(Ok(facts("hugetlb", 0, true)), all);
        assert_eq!(line.status, Status::Ok);
        assert!(
            line.detail.starts_with("through the systemd user manager, a scope per run (cgroup v2"),
            "{line}"
        );
    }

    /// Debian 12's user@.service delegates pids memory cpu: a scope from its
    /// user manager cannot have io.weight (the VM lane's guest 2 saw systemd
    /// leave IOWeight out without a word).
    #[test]
    fn cgroup_through_a_systemd_without_io() {
        let debian12 = || Ok(["cpu", "memory", "pids"].map(String::from).to_vec());
        let line = cgroup_line(Ok(facts("cpu memory pids", 0, false)), debian12);
        assert_eq!(line.status, Status::Limited);
        assert!(
            line.detail.starts_with(
                "through the systemd user manager, a scope per run: memory pids cpu; the systemd user manager \
                 cannot limit io (it has: cpu memory pids) (/cg/u is not writable"
            ),
            "{line}"
        );
        assert!(line.fix.unwrap().contains("Delegate=yes"));
        let line = cgroup_line(Ok(facts("hugetlb", 0, true)), || Ok(vec![]));
        assert_eq!(line.status, Status::Missing, "{line}");
        assert!(line
            .detail
            .ends_with("the systemd user manager cannot limit memory pids cpu io (it has: none)"));
    }

    #[test]
    fn landlock_features_per_abi() {
        assert_eq!(landlock_features(0), Vec::<&str>::new());
        assert_eq!(landlock_features(1), ["fs"]);
        assert_eq!(landlock_features(3), ["fs", "refer", "truncate"]);
        assert_eq!(landlock_features(7).len(), 7);
        assert_eq!(landlock_features(9)[..7], landlock_features(7));
        assert_eq!(landlock_features(9)[7], "newer");
        assert_eq!(landlock_features(6)[5], "scopes abstract unix sockets + signals");
        let line = landlock_line(Ok(4)).to_string();
        assert_eq!(line, "ok       landlock: ABI 4: fs, refer, truncate, tcp bind/connect");
        let line = landlock_line(Err(Errno::EOPNOTSUPP)).to_string();
        assert!(
            line.starts_with("missing  landlock: landlock not enabled; fix: add landlock to the lsm="),
            "{line}"
        );
        assert!(landlock_line(Err(Errno::ENOSYS)).fix.unwrap().contains("CONFIG_SECURITY_LANDLOCK"));
    }

    #[test]
    fn uid_ranges_verdicts() {
        let alice = Caller { name: Some("u".into()), uid: 1000, gid: 1000 };
        let view = HostView::fake("u");
        let line = uid_ranges_line(&view, &alice).to_string();
        assert_eq!(
            line,
            "ok       uid ranges: /usr/bin/newuidmap, /usr/bin/newgidmap; /etc/subuid 100000-165535 (65536 ids), \
             /etc/subgid 100000-165535 (65536 ids): --userns auto works"
        );
        let bob = Caller { name: Some("bob".into()), uid: 1001, gid: 1001 };
        let line = uid_ranges_line(&view, &bob);
        assert_eq!(line.status, Status::Missing);
        assert_eq!(line.detail, "bob has no subordinate uids in /etc/subuid");
        assert!(line.fix.unwrap().starts_with("sudo usermod --add-subuids 165536-231071"));
        let no_helper = HostView {
            newgidmap: Err(
                idmap::helper::find(Kind::Gid, "".as_ref(), |_| idmap::helper::Found::Absent).unwrap_err()
            ),
            ..HostView::fake("u")
        };
        let line = uid_ranges_line(&no_helper, &alice);
        assert_eq!(line.detail, "newgidmap not found in PATH");
        let root = Caller { name: Some("root".into()), uid: 0, gid: 0 };
        let view = HostView {
            files: idmap::Files { subuid: Ok("root:0:65536".into()), subgid: Ok("root:100000:10".into()) },
            ..no_helper
        };
        let line = uid_ranges_line(&view, &root);
        assert_eq!(line.status, Status::Missing);
        assert!(line.detail.contains("includes root's id 0"), "{line}");
    }

    #[test]
    fn seccomp_verdicts() {
        let line = seccomp_line(Ok(0), Some("kill_process errno allow".into()));
        assert_eq!(line.to_string(), "ok       seccomp filter: actions: kill_process errno allow");
        assert_eq!(seccomp_line(Err(Errno::EINVAL), None).status, Status::Missing);
        assert_eq!(seccomp_line(Ok(0), None).status, Status::Missing);
    }

    #[test]
    fn egress_verdicts() {
        let ok = egress_line(Ok(())).to_string();
        assert!(ok.starts_with("ok       egress firewall: --allow-host and --allow-addr can filter"), "{ok}");
        let no = egress_line(Err("nf_tables: Operation not supported".into())).to_string();
        assert!(
            no.starts_with(
                "missing  egress firewall: nf_tables: Operation not supported; fix: a kernel with"
            ),
            "{no}"
        );
        let userns = egress_line(Err("unshare: EPERM".into()));
        assert_eq!(userns.fix.as_deref(), Some("see the user namespaces line"));
    }

    #[test]
    fn networking_verdicts() {
        let both = [PathBuf::from("/usr/bin/pasta"), PathBuf::from("/usr/bin/slirp4netns")];
        let line = networking_line(&both, Ok(())).to_string();
        assert_eq!(
            line,
            "ok       user-mode networking: --net user uses /usr/bin/pasta (also /usr/bin/slirp4netns)"
        );
        let line = networking_line(&both[1..], Err(Errno::EACCES)).to_string();
        assert_eq!(
            line,
            "missing  user-mode networking: --net user uses /usr/bin/slirp4netns, but /dev/net/tun: \
             Permission denied; fix: sudo chmod 0666 /dev/net/tun (what udev does on a standard install)"
        );
        assert_eq!(networking_line(&[], Ok(())).fix.as_deref(), Some("apt install passt"));
    }
}
