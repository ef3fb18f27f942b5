//! Root file systems for `--rootfs` tests.
//!
//! [`debian_root`] builds a minimal Debian (mmdebstrap `--variant=apt`,
//! as the users would, and passwd for useradd, from the mirror the
//! host's apt sources name, so it works without the internet as long as
//! that mirror answers) at most once per run of `cargo test`: under
//! `target/tmp/rootfs/run-PID-START/`, the run being the process that
//! started the test binary (cargo), named by its pid and start time. Later
//! test binaries of the same run find it there; a later run builds its own
//! and removes the trees of runs that are over. A lock keeps two builders
//! apart; a half-built tree is never used. Building it takes about 60 s
//! here.
//!
//! mmdebstrap runs as root, so the tree's owners are real ids; they are
//! then shifted to what the test user's `--userns auto --uid 0` shows as
//! those ids (0 → the test user, k → its first subordinate id + k - 1), as
//! extracting an image inside such a sandbox would leave them.
//!
//! [`tiny_root`] copies a few host programs and their libraries into a
//! directory, for tests that change the tree (escapes), in a moment.
//! [`deb`] builds a small package with `dpkg-deb --build`, [`tree_state`]
//! records everything about a tree but access times.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{note, out, out_within, skip, test_ids, test_subids, Dir};

/// What the cached root holds; a change makes a new one.
const RECIPE: &str = "mmdebstrap --variant=apt --include=passwd 1";

/// The minimal Debian root, owned for the test user's `--userns auto --uid
/// 0`; `None` (after a [`skip`]) where it cannot be built.
pub fn debian_root() -> Option<&'static Path> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(build_or_reuse).as_deref()
}

fn build_or_reuse() -> Option<PathBuf> {
    if !super::root_or_skip("building a Debian root (mmdebstrap, then shifting its owners)") {
        return None;
    }
    let Some(suite) = host_debian_suite() else {
        skip("building a Debian root needs a Debian host (VERSION_CODENAME in /etc/os-release)");
        return None;
    };
    if sandbox::launch::probe::which("mmdebstrap").is_none() {
        skip("building a Debian root needs mmdebstrap (apt install mmdebstrap)");
        return None;
    }
    let (uid, gid) = test_ids()?;
    let (subuid, subgid) = test_subids().expect("the test user has subordinate ids");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rootfs");
    std::fs::create_dir_all(&cache).unwrap();
    let lock = std::fs::OpenOptions::new().create(true).append(true).open(cache.join("lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("flock");
    remove_finished_runs(&cache);
    let run = cache.join(this_run());
    std::fs::create_dir_all(&run).unwrap();
    open_path_for_others(&run);
    let key = format!("{RECIPE} {suite} {uid}:{gid} {}:{}", subuid.start, subgid.start);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let root = run.join(format!("debian-{:016x}", h.finish()));
    let ready = root.with_extension("ready");
    if ready.exists() {
        return Some(root);
    }
    let build = run.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&build);
    let started = Instant::now();
    if !mmdebstrap(&suite, &build) {
        return None;
    }
    shift_owners(&build, (uid, subuid.start), (gid, subgid.start));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&build, &root).unwrap();
    std::fs::write(&ready, &key).unwrap();
    note(&format!("built the Debian root {} in {:.0?}", root.display(), started.elapsed()));
    Some(root)
}

/// `run-PID-START`: the process that started this test binary (cargo, for
/// every binary of one `cargo test`), by pid and start time.
pub fn this_run() -> String {
    let ppid = nix::unistd::getppid().as_raw();
    format!("run-{ppid}-{}", start_time(ppid).unwrap_or(0))
}

/// The start time of `pid` (field 22 of /proc/PID/stat), if it runs.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Removes the roots of runs whose process is gone (and what older
/// versions of this harness left beside them).
fn remove_finished_runs(cache: &Path) {
    for e in std::fs::read_dir(cache).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let live = name.strip_prefix("run-").and_then(|r| r.split_once('-')).is_some_and(|(pid, start)| {
            pid.parse().ok().and_then(start_time).is_some_and(|t| t.to_string() == start)
        });
        if name != "lock" && !live {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// `bookworm`, from /etc/os-release, when the host is Debian.
fn host_debian_suite() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    let field =
        |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim_matches('"').to_string());
    (field("ID=")?.as_str() == "debian").then_some(())?;
    field("VERSION_CODENAME=").filter(|s| !s.is_empty())
}

/// The Debian archive the host's apt sources name for `suite` (deb822 or
/// one-line), else deb.debian.org.
pub fn mirror(suite: &str) -> String {
    let mut texts = Vec::new();
    for e in std::fs::read_dir("/etc/apt/sources.list.d").into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().ends_with(".sources") {
            texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    for stanza in texts.iter().flat_map(|t| t.split("\n\n")) {
        let field = |k: &str| stanza.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
        let suites = field("Suites:").unwrap_or("");
        if suites.split_whitespace().any(|s| s == suite) && field("Types:").is_some_and(|t| t.contains("deb"))
        {
            if let Some(uri) = field("URIs:").and_then(|u| u.split_whitespace().next()) {
                return uri.to_string();
            }
        }
    }
    let list = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    for line in list.lines() {
        let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('[')).collect();
        if words.len() >= 3 && words[0] == "deb" && words[2] == suite {
            return words[1].to_string();
        }
    }
    "http://deb.debian.org/debian".into()
}

/// Runs mmdebstrap into `dir`; false (after a skip) when it fails.
fn mmdebstrap(suite: &str, dir: &Path) -> bool {
    let mirror = mirror(suite);
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--mode=root", "--variant=apt", "--include=passwd", "--quiet"]);
    for p in ["/usr/share/man/*", "/usr/share/locale/*", "/usr/share/doc/*", "/usr/share/info/*"] {
        cmd.arg(format!("--dpkgopt=path-exclude={p}"));
    }
    cmd.arg(suite).arg(dir).arg(&mirror);
    let o = out_within(&mut cmd, Duration::from_secs(900));
    if o.code() != 0 {
        let _ = std::fs::remove_dir_all(dir);
        let err = o.stderr();
        let tail: Vec<&str> = err.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        skip(&format!("mmdebstrap from {mirror} failed (exit {}):\n{}", o.code(), tail.join("\n")));
        return false;
    }
    true
}

/// Gives every file under `dir` the owners `--userns auto --uid 0` shows
/// as its present ones: id 0 → `caller`, id k → `first + k - 1`. Modes are
/// put back afterwards (chown clears setuid bits).
pub fn shift_owners(dir: &Path, (uid, subuid): (u32, u32), (gid, subgid): (u32, u32)) {
    let shift = |id: u32, caller: u32, first: u32| {
        assert!(id <= 65536, "id {id} in the root is past the test user's subordinate range");
        if id == 0 {
            caller
        } else {
            first + id - 1
        }
    };
    for path in walk(dir) {
        let m = std::fs::symlink_metadata(&path).unwrap();
        let (u, g) = (shift(m.uid(), uid, subuid), shift(m.gid(), gid, subgid));
        std::os::unix::fs::lchown(&path, Some(u), Some(g)).unwrap();
        if !m.file_type().is_symlink() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m.mode() & 0o7777)).unwrap();
        }
    }
}

/// `dir` and everything beneath it, parents before children.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        let p = all[i].clone();
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            let mut children: Vec<PathBuf> =
                std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).collect();
            children.sort();
            all.extend(children);
        }
        i += 1;
    }
    all
}

/// Every entry of a tree: type, mode, owners, size, modification time,
/// the content's hash or the link's target. Two states compare equal only
/// if nothing but access times changed.
pub fn tree_state(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut state = BTreeMap::new();
    for path in walk(dir) {
        let m = std::fs::symlink_metadata(&path).unwrap();
        let what = if m.is_file() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&path).unwrap().hash(&mut h);
            format!("file {:016x}", h.finish())
        } else if m.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&path).unwrap().display())
        } else {
            format!("type {:o} rdev {}", m.mode() & 0o170000, m.rdev())
        };
        let meta = format!(
            "{what} mode {:o} owner {}:{} size {} mtime {}.{} nlink {}",
            m.mode() & 0o7777,
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.nlink()
        );
        state.insert(path.strip_prefix(dir).unwrap().to_path_buf(), meta);
    }
    state
}

/// The entries that differ between two states, for a failure message.
pub fn state_diff(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut diff = Vec::new();
    for (p, b) in before {
        match after.get(p) {
            None => diff.push(format!("removed {}", p.display())),
            Some(a) if a != b => diff.push(format!("changed {}: {b} -> {a}", p.display())),
            _ => {}
        }
    }
    diff.extend(after.keys().filter(|p| !before.contains_key(*p)).map(|p| format!("added {}", p.display())));
    diff
}

/// Makes `dir` and its parents searchable by others (the test user reaches
/// the root through them); leaves the modes that already allow it.
fn open_path_for_others(dir: &Path) {
    for d in dir.ancestors() {
        let Ok(m) = std::fs::metadata(d) else { continue };
        if m.mode() & 0o001 == 0 && m.uid() == nix::unistd::geteuid().as_raw() {
            let mode = m.mode() & 0o7777 | 0o011;
            let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode));
        }
    }
}

/// A small root in `dir/name`: the host's `programs` (looked up in /usr/bin
/// and /usr/sbin) and the libraries `ldd` lists for them, the merged-usr
/// links, and empty /proc, /dev, /tmp, /etc; owned by the test user, as a
/// tarball unpacked by that user would be.
pub fn tiny_root(dir: &Dir, name: &str, programs: &[&str]) -> PathBuf {
    let root = dir.mkdir(name);
    for sub in ["usr/bin", "usr/lib", "usr/lib64", "proc", "dev", "tmp", "etc"] {
        dir.mkdir(&format!("{name}/{sub}"));
    }
    for (link, target) in
        [("bin", "usr/bin"), ("sbin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]
    {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        dir.own(&root.join(link));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in programs {
        let host = ["/usr/bin", "/usr/sbin"].iter().map(|d| Path::new(d).join(p)).find(|p| p.exists());
        let host = host.unwrap_or_else(|| panic!("{p} is not in /usr/bin or /usr/sbin"));
        files.push(host.clone());
        let ldd = out(Command::new("ldd").arg(&host)).stdout();
        files.extend(ldd.split_whitespace().filter(|w| w.starts_with('/')).map(PathBuf::from));
    }
    for f in files {
        // At the path ldd names (`/lib64/ld-linux-x86-64.so.2`, the loader
        // programs ask for), beneath usr/ as merged-usr has it.
        let rel = f.strip_prefix("/").unwrap();
        let rel = if rel.starts_with("usr") { rel.to_path_buf() } else { Path::new("usr").join(rel) };
        dir.mkdir(&format!("{name}/{}", rel.parent().unwrap().display()));
        let dst = root.join(&rel);
        std::fs::copy(&f, &dst).unwrap();
        dir.own(&dst);
    }
    root
}

/// A package `name` (version 1.0, architecture all) that installs
/// `/usr/bin/NAME` printing `message`, built with `dpkg-deb --build`.
pub fn deb(dir: &Dir, name: &str, message: &str) -> PathBuf {
    let tree = dir.mkdir(&format!("{name}-pkg"));
    dir.mkdir(&format!("{name}-pkg/DEBIAN"));
    dir.mkdir(&format!("{name}-pkg/usr/bin"));
    let control = format!(
        "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: sandbox tests <tests@invalid>\n\
         Description: test package of sandbox\n"
    );
    std::fs::write(tree.join("DEBIAN/control"), control).unwrap();
    let bin = tree.join(format!("usr/bin/{name}"));
    std::fs::write(&bin, format!("#!/bin/sh\necho '{message}'\n")).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let deb = dir.path().join(format!("{name}.deb"));
    let o = out(Command::new("dpkg-deb").args(["--root-owner-group", "--build"]).arg(&tree).arg(&deb));
    assert_eq!(o.code(), 0, "dpkg-deb: {}", o.stderr());
    dir.own(&deb);
    deb
}
