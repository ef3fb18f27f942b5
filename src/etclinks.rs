//! What the links in a shared `/etc` point at.
//!
//! Sharing the host's `/etc` shares its symlinks, not what they point at:
//! on Ubuntu and Fedora `/etc/resolv.conf` is a link into
//! `/run/systemd/resolve/`, which the sandbox does not show, so DNS fails
//! even with `--net host`; `/etc/localtime`, `/etc/alternatives/*` and the
//! like can point into `/run`, `/var` or `/opt` the same way. [`extra`]
//! resolves each such link on the host, in root (`..` never climbs above
//! `/`, absolute targets start again at `/`, at most 40 links), and adds
//! what the sandbox needs to follow it: the final file or directory bound
//! read-only at its own path, and each link met on the way (`/var/run ->
//! /run`) recreated.
//!
//! Only into places the Plan leaves empty: a target the Plan covers (a
//! hidden `/etc/shadow`, the empty `$HOME`, a tmpfs) stays covered, and
//! nothing in `$HOME`, the directories every user shares (`/tmp`,
//! `/var/tmp`, `/dev/shm`, `/run/user`, `$XDG_RUNTIME_DIR`) or the kernel's
//! (`/proc`, `/sys`, `/dev`) is ever shared this way, nor anything the
//! caller may not read (a bind of it would fail the run). Only the links
//! directly in `/etc` and in the few directories of [`SUBDIRS`] are looked
//! at, so a run reads a few hundred directory entries, not all of `/etc`.

use std::path::{Path, PathBuf};

use crate::escape;
use crate::host::{Host, Private};
use crate::hostfs::{HostFs, Kind};
use crate::plan::view::{self, Shown};
use crate::plan::{Access, FsOp};

pub mod cache;

/// The directories of `/etc`, besides itself, whose links are followed.
pub const SUBDIRS: [&str; 5] = ["alternatives", "ssl", "ssl/certs", "pki/tls", "pki/tls/certs"];

/// The kernel's file systems: nothing in them is ever shown for a link.
pub const KERNEL: [&str; 3] = ["/proc", "/sys", "/dev"];

/// An operation to insert after the `/etc` bind at `after`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    pub after: usize,
    pub op: FsOp,
    pub why: String,
}

/// What the links of the host's `/etc`, where `ops` share it, need.
pub fn extra(ops: &[FsOp], host: &Host, fs: &dyn HostFs) -> Vec<Extra> {
    extra_from(ops, host, fs, fs).0
}

/// [`extra`], with what the links pointed at last time kept in the cache
/// directory `dir` (`$XDG_RUNTIME_DIR/sandbox`; [`cache`]) and used while
/// it holds, or kept there now: which links may need something for this
/// Plan (then only those are followed), else the links and walks read
/// last time. Only "this link needs nothing" is taken from the cache: what
/// a link adds is always read from `fs`.
pub fn extra_cached(ops: &[FsOp], host: &Host, fs: &dyn HostFs, dir: Option<&Path>) -> Vec<Extra> {
    let (Some(dir), Some(at)) = (dir, anchor(ops)) else {
        return extra(ops, host, fs);
    };
    let key = cache::key(ops, host);
    if let Some(kept) = cache::load(dir) {
        if let Some(links) = kept.needs(key) {
            return from_candidates(ops, host, fs, at, links);
        }
        if let Some(facts) = kept.facts() {
            let cached = cache::Cached::new(facts, fs);
            let (out, links) = extra_from(ops, host, &cached, fs);
            // The needs hold while the facts do only if they all came from
            // them. A cache: what cannot be kept is worked out next time.
            if !cached.asked_the_host() {
                let _ = kept.store_needs(dir, cache::Needs { key, links });
            }
            return out;
        }
    }
    let began = std::time::SystemTime::now();
    let recorder = cache::Recorder::new(fs);
    let (out, links) = extra_from(ops, host, &recorder, fs);
    if let Some((facts, all)) = recorder.facts(began - cache::SETTLE) {
        let needs = all.then_some(cache::Needs { key, links });
        let _ = cache::store(dir, &facts, needs);
    }
    out
}

/// The `/etc` bind the extras follow.
fn anchor(ops: &[FsOp]) -> Option<usize> {
    let etc = Path::new("/etc");
    ops.iter().rposition(|op| matches!(op, FsOp::Bind { src, dest, .. } if src == etc && dest == etc))
}

/// The directories whose links are followed, `/etc` first.
fn dirs() -> impl Iterator<Item = PathBuf> {
    let etc = Path::new("/etc");
    std::iter::once(etc.to_path_buf()).chain(SUBDIRS.iter().map(|s| etc.join(s)))
}

/// [`extra`] with the links and walks of `facts`; what a link adds is
/// read again from `live` (`facts` may be a cache the command could write).
/// Also returns the candidates: the links whose walk in `facts` would add
/// something, were the caller able to read its end.
fn extra_from(
    ops: &[FsOp],
    host: &Host,
    facts: &dyn HostFs,
    live: &dyn HostFs,
) -> (Vec<Extra>, Vec<PathBuf>) {
    let Some(at) = anchor(ops) else {
        return (Vec::new(), Vec::new());
    };
    let mut candidates = Vec::new();
    for dir in dirs() {
        for name in facts.links(&dir) {
            let link = dir.join(name);
            // Covered inside (a hidden file, user-mode networking's own
            // resolv.conf): the host's link is not what the command sees.
            if view::at(ops, &link).0 == Shown::Same
                && !follow(ops, host, facts, &link, Readable::Any).is_empty()
            {
                candidates.push(link);
            }
        }
    }
    (from_candidates(ops, host, live, at, &candidates), candidates)
}

/// What the `candidates` (links in `/etc` and [`SUBDIRS`]) need, each
/// followed on `live`; anything else named there is passed over.
fn from_candidates(
    ops: &[FsOp],
    host: &Host,
    live: &dyn HostFs,
    at: usize,
    candidates: &[PathBuf],
) -> Vec<Extra> {
    let mut out: Vec<Extra> = Vec::new();
    for link in candidates {
        // A link directly in one of the directories, shown as the host's.
        let direct = match (link.parent(), link.file_name()) {
            (Some(dir), Some(name)) => dirs().any(|d| d == dir) && dir.join(name) == *link,
            _ => false,
        };
        if !direct || view::at(ops, link).0 != Shown::Same {
            continue;
        }
        let why = format!("{} links there", escape::path(link));
        for op in follow(ops, host, live, link, Readable::Asked) {
            if !out.iter().any(|e| e.op.dest() == op.dest()) {
                out.push(Extra { after: at, op, why: why.clone() });
            }
        }
    }
    out
}

/// Whether [`follow`] asks `fs` if the caller can read a link's end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Readable {
    Asked,
    /// Taken as readable: which links may need something does not depend
    /// on what the caller can read today (that is asked on the host).
    Any,
}

/// What following `link` needs, when all of it may be shown.
fn follow(ops: &[FsOp], host: &Host, fs: &dyn HostFs, link: &Path, readable: Readable) -> Vec<FsOp> {
    let Some(walk) = fs.walk(link) else { return Vec::new() };
    if !matches!(walk.kind, Some(Kind::File { .. } | Kind::Dir)) {
        return Vec::new();
    }
    let mut add = Vec::new();
    for l in &walk.links {
        match view::at(ops, &l.at) {
            (Shown::Same, _) => {}
            (_, None) if allowed(host, &l.at) => {
                add.push(FsOp::Symlink { target: l.target.clone(), dest: l.at.clone() })
            }
            _ => return Vec::new(),
        }
    }
    match view::at(ops, &walk.real) {
        (Shown::Same, _) => {}
        (_, None) if allowed(host, &walk.real) && (readable == Readable::Any || fs.readable(&walk.real)) => {
            add.push(FsOp::Bind {
                src: walk.real.clone(),
                dest: walk.real.clone(),
                access: Access::ReadOnly,
                optional: true,
            })
        }
        _ => return Vec::new(),
    }
    add
}

/// Whether a link's target may be shown: never `$HOME`, the kernel's, or
/// the directories every user shares (but `/run` itself, where the links
/// of `/etc` mostly point).
fn allowed(host: &Host, p: &Path) -> bool {
    if p.starts_with(&host.home) || host.home.starts_with(p) || p == Path::new("/") {
        return false;
    }
    if KERNEL.iter().any(|k| p.starts_with(k)) {
        return false;
    }
    !host.private.iter().any(|d| match d.why {
        Private::Home => p.starts_with(&d.path),
        Private::Shared if d.path == Path::new("/run") => false,
        Private::Shared | Private::Runtime | Private::Runtimes => {
            p.starts_with(&d.path) || d.path.starts_with(p)
        }
    })
}

/// Inserts each extra after its anchor, keeping their order; `origin` gives
/// each one's provenance entry from its reason.
pub fn insert<O>(ops: &mut Vec<FsOp>, prov: &mut Vec<O>, extras: Vec<Extra>, origin: impl Fn(&str) -> O) {
    let mut extras = extras;
    // From the last anchor to the first, so earlier indices stay valid.
    extras.sort_by_key(|e| std::cmp::Reverse(e.after));
    let mut i = 0;
    while i < extras.len() {
        let after = extras[i].after;
        let group: Vec<Extra> = extras[i..].iter().take_while(|e| e.after == after).cloned().collect();
        i += group.len();
        for (k, e) in group.into_iter().enumerate() {
            let at = (after + 1 + k).min(ops.len());
            ops.insert(at, e.op);
            prov.insert(at.min(prov.len()), origin(&e.why));
        }
    }
}

/// The resolv.conf of a sandbox without a network (`--net none`): a
/// resolver that cannot be reached, so a name lookup fails at once instead
/// of waiting for one that never answers.
pub fn offline_resolv_conf() -> String {
    "# sandbox: --net none, the sandbox has no network (loopback only);\n\
     # --net user or --net host give it one. This resolver is unreachable\n\
     # (no route), so name lookups fail at once.\n\
     nameserver 192.0.2.53\n\
     options attempts:1 timeout:1\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostfs::fake::FakeFs;

    fn ops() -> Vec<FsOp> {
        let ro =
            |p: &str| FsOp::Bind { src: p.into(), dest: p.into(), access: Access::ReadOnly, optional: false };
        vec![
            ro("/usr"),
            ro("/etc"),
            FsOp::Hide { dest: "/etc/shadow".into(), optional: false },
            FsOp::Tmpfs { dest: "/tmp".into(), mode: 0o1777, size: None },
            FsOp::Tmpfs { dest: "/home/u".into(), mode: 0o755, size: None },
        ]
    }

    fn host_fs() -> FakeFs {
        let mut fs = FakeFs::new();
        fs.link("/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
        fs.file("/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n");
        fs.link("/etc/localtime", "/usr/share/zoneinfo/Europe/Paris")
            .file("/usr/share/zoneinfo/Europe/Paris", "");
        fs.link("/etc/machine-id", "/var/run/machine-id")
            .link("/var/run", "/run")
            .file("/run/machine-id", "");
        fs.link("/etc/alternatives/java", "/opt/jdk/bin/java").exe("/opt/jdk/bin/java");
        fs.link("/etc/mtab", "../proc/self/mounts").dir("/proc/self").file("/proc/self/mounts", "");
        fs.link("/etc/secret-link", "/etc/shadow").file("/etc/shadow", "root:x");
        fs.link("/etc/homey", "/home/u/.config/x").file("/home/u/.config/x", "");
        fs.link("/etc/scratch", "/tmp/x").file("/tmp/x", "");
        fs.link("/etc/session", "/run/user/1000/bus").dir("/run/user/1000/bus");
        fs.link("/etc/dangling", "/run/nothing/here");
        fs.link("/etc/loop", "/etc/loop");
        fs.link("/etc/roots", "/root/secret").file("/root/secret", "").lock("/root");
        fs.file("/etc/passwd", "");
        fs
    }

    fn extras() -> Vec<(String, String)> {
        extra(&ops(), &Host::fake("/work"), &host_fs())
            .into_iter()
            .map(|e| {
                assert_eq!(e.after, 1, "{e:?}");
                let what = match &e.op {
                    FsOp::Bind { src, dest, access: Access::ReadOnly, optional: true } if src == dest => {
                        format!("ro {}", dest.display())
                    }
                    FsOp::Symlink { target, dest } => {
                        format!("symlink {} -> {}", dest.display(), target.display())
                    }
                    other => panic!("{other:?}"),
                };
                (what, e.why)
            })
            .collect()
    }

    #[test]
    fn link_targets_in_empty_places_are_shown_read_only() {
        let got = extras();
        let want = [
            ("symlink /var/run -> /run", "/etc/machine-id links there"),
            ("ro /run/machine-id", "/etc/machine-id links there"),
            ("ro /run/systemd/resolve/stub-resolv.conf", "/etc/resolv.conf links there"),
            ("ro /opt/jdk/bin/java", "/etc/alternatives/java links there"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn nothing_covered_private_or_the_kernels_is_ever_shown() {
        let got = extras();
        for never in
            ["/etc/shadow", "/home/u", "/tmp/x", "/run/user", "/proc", "/run/nothing", "zoneinfo", "/root"]
        {
            assert!(!got.iter().any(|(w, _)| w.contains(never)), "{never}: {got:?}");
        }
    }

    #[test]
    fn a_resolv_conf_the_plan_writes_itself_is_left_alone() {
        let mut ops = ops();
        let content = b"nameserver 10.0.2.3\n".to_vec();
        let how = crate::plan::FileHow::BindRo;
        ops.push(FsOp::File { dest: "/etc/resolv.conf".into(), content, mode: 0o644, how });
        let got = extra(&ops, &Host::fake("/work"), &host_fs());
        assert!(!got.iter().any(|e| e.why.starts_with("/etc/resolv.conf")), "{got:?}");
    }

    /// A cache the command could have written (`--rw $XDG_RUNTIME_DIR`)
    /// only makes a run show less: whatever it says, what is added is what
    /// the host's links need.
    #[test]
    fn a_forged_cache_never_adds_what_the_host_does_not_need() {
        use crate::hostfs::{Link, Walk};
        let host = host_fs();
        let forged = |link: &str, real: &str| {
            let links = vec![Link { at: link.into(), target: real.into() }];
            (link.into(), Some(Walk { real: real.into(), kind: Some(Kind::File { exec: false }), links }))
        };
        let facts = cache::Facts {
            stamps: vec![],
            listings: vec![("/etc".into(), vec!["resolv.conf".into(), "localtime".into(), "ghost".into()])],
            walks: vec![
                forged("/etc/resolv.conf", "/srv/forged"),
                forged("/etc/localtime", "/opt/forged"),
                forged("/etc/ghost", "/var/forged"),
            ],
        };
        let mut fs = host_fs();
        fs.file("/srv/forged", "").file("/opt/forged", "").file("/var/forged", "");
        let cached = cache::Cached::new(facts, &fs);
        let (got, _) = extra_from(&ops(), &Host::fake("/work"), &cached, &fs);
        let live = extra(&ops(), &Host::fake("/work"), &host);
        assert!(!got.is_empty());
        assert!(got.iter().all(|e| live.contains(e)), "{got:?}\nnot all in\n{live:?}");
    }

    /// The same for a forged list of the links a Plan needs: only links
    /// directly in /etc and its few directories are followed, and not one
    /// the Plan covers.
    #[test]
    fn forged_needs_follow_only_the_links_of_etc() {
        let mut fs = host_fs();
        fs.file("/srv/forged", "").link("/srv/link", "/srv/forged").link("/etc/ssl/x", "/srv/forged");
        let mut ops = ops();
        ops.push(FsOp::Hide { dest: "/etc/resolv.conf".into(), optional: false });
        let forged: Vec<PathBuf> =
            ["/srv/forged", "/srv/link", "/etc/../srv/link", "/etc/ssl/../../srv/link", "/etc/resolv.conf"]
                .iter()
                .map(PathBuf::from)
                .collect();
        let got = from_candidates(&ops, &Host::fake("/work"), &fs, 1, &forged);
        assert_eq!(got, vec![], "{got:?}");
        // A real link of /etc/ssl named: followed as the host has it.
        let got = from_candidates(&ops, &Host::fake("/work"), &fs, 1, &["/etc/ssl/x".into()]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].why.starts_with("/etc/ssl/x"));
    }

    #[test]
    fn without_a_shared_etc_nothing_is_added() {
        let mut ops = ops();
        ops.remove(1);
        assert!(extra(&ops, &Host::fake("/work"), &host_fs()).is_empty());
    }

    #[test]
    fn extras_go_right_after_their_anchor_in_order() {
        let mut ops = ops();
        let mut prov: Vec<String> = ops.iter().map(|_| "profile".to_string()).collect();
        let extras = extra(&ops, &Host::fake("/work"), &host_fs());
        let n = extras.len();
        insert(&mut ops, &mut prov, extras, |why| why.to_string());
        assert_eq!(ops.len(), 5 + n);
        assert_eq!(ops[2].dest(), Path::new("/var/run"));
        assert_eq!(prov[2], "/etc/machine-id links there");
        assert_eq!(ops[1 + n].dest(), Path::new("/opt/jdk/bin/java"));
        assert_eq!(ops[2 + n].dest(), Path::new("/etc/shadow"), "the hide still follows");
    }

    #[test]
    fn the_offline_resolver_has_no_route_from_a_loopback_only_namespace() {
        let text = offline_resolv_conf();
        let ns: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("nameserver ")).collect();
        assert_eq!(ns, ["192.0.2.53"], "TEST-NET-1, never loopback");
        assert!(text.contains("--net user or --net host"));
    }
}
