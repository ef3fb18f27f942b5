//! The delegated-subtree path against a fake cgroup tree in a temp dir.
//!
//! [`FakeFs`] keeps the kernel's rules that decide the order of the writes:
//! a new cgroup gets the interface files of the controllers its parent
//! enables; writing a pid to `cgroup.procs` moves it; a cgroup that holds a
//! process cannot enable controllers for its children, and one that enables
//! them cannot take a process (except the root); `rmdir` needs an empty
//! cgroup without children; `cgroup.kill` empties it.

use std::cell::RefCell;
use std::io::{Error, ErrorKind};
use std::path::{Path, PathBuf};

use super::*;

struct FakeFs {
    root: PathBuf,
    log: RefCell<Vec<String>>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl FakeFs {
    fn new(root: &Path) -> FakeFs {
        FakeFs { root: root.to_path_buf(), log: RefCell::new(Vec::new()) }
    }

    fn get(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn set(&self, path: &Path, s: &str) {
        std::fs::write(path, s).unwrap();
    }

    /// A cgroup directory with what the kernel would put in it.
    fn make(&self, dir: &Path, controllers: &str, procs: &str) {
        std::fs::create_dir_all(dir).unwrap();
        self.set(&dir.join("cgroup.controllers"), controllers);
        self.set(&dir.join("cgroup.procs"), procs);
        for f in ["cgroup.subtree_control", "cgroup.kill"] {
            self.set(&dir.join(f), "");
        }
        self.set(&dir.join("cgroup.events"), "populated 0\nfrozen 0\n");
        self.set(&dir.join("cgroup.freeze"), "0");
        for c in words(controllers) {
            let (file, default) = match c.as_str() {
                "memory" => ("memory.max", "max"),
                "pids" => ("pids.max", "max"),
                "cpu" => ("cpu.max", "max 100000"),
                "io" => ("io.weight", "default 100"),
                _ => continue,
            };
            self.set(&dir.join(file), default);
        }
    }

    fn busy() -> Error {
        Error::from_raw_os_error(libc::EBUSY)
    }

    fn move_pid(&self, dir: &Path, pid: &str) -> std::io::Result<()> {
        if dir != self.root && !self.get(&dir.join("cgroup.subtree_control")).trim().is_empty() {
            return Err(Self::busy());
        }
        for e in walk(&self.root) {
            let procs = e.join("cgroup.procs");
            let rest: Vec<String> = words(&self.get(&procs)).into_iter().filter(|p| p != pid).collect();
            self.set(&procs, &rest.join("\n"));
        }
        let mut all = words(&self.get(&dir.join("cgroup.procs")));
        all.push(pid.to_string());
        self.set(&dir.join("cgroup.procs"), &all.join("\n"));
        Ok(())
    }

    fn control(&self, dir: &Path, data: &str) -> std::io::Result<()> {
        let mut on = words(&self.get(&dir.join("cgroup.subtree_control")));
        let have = words(&self.get(&dir.join("cgroup.controllers")));
        for w in words(data) {
            let (sign, c) = w.split_at(1);
            match sign {
                "+" if !have.iter().any(|h| h == c) => return Err(Error::from(ErrorKind::NotFound)),
                "+" if !self.get(&dir.join("cgroup.procs")).trim().is_empty() => return Err(Self::busy()),
                "+" => on.push(c.to_string()),
                _ => on.retain(|o| o != c),
            }
        }
        self.set(&dir.join("cgroup.subtree_control"), &on.join(" "));
        Ok(())
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

impl CgroupFs for FakeFs {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, data: &str) -> std::io::Result<()> {
        self.log.borrow_mut().push(format!("{} < {data}", path.strip_prefix(&self.root).unwrap().display()));
        if !path.exists() {
            return Err(Error::from(ErrorKind::NotFound));
        }
        let dir = path.parent().unwrap();
        match path.file_name().unwrap().to_str().unwrap() {
            "cgroup.procs" => self.move_pid(dir, data),
            "cgroup.subtree_control" => self.control(dir, data),
            "cgroup.kill" => {
                self.set(path, "");
                self.set(&dir.join("cgroup.procs"), "");
                Ok(())
            }
            _ => std::fs::write(path, data),
        }
    }

    fn mkdir(&self, path: &Path) -> std::io::Result<()> {
        if path.exists() {
            return Err(Error::from(ErrorKind::AlreadyExists));
        }
        let parent_on = self.get(&path.parent().unwrap().join("cgroup.subtree_control"));
        self.make(path, &parent_on, "");
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> std::io::Result<()> {
        if !self.get(&path.join("cgroup.procs")).trim().is_empty() || walk(path).len() > 1 {
            return Err(Self::busy());
        }
        std::fs::remove_dir_all(path)
    }

    fn writable(&self, _: &Path) -> bool {
        true
    }
}

const MONITOR: u32 = 4242;
const INIT: u32 = 4300;

/// A fake /sys/fs/cgroup with the caller in a scope of its own, found the
/// way the launch finds it: from /proc/self/cgroup and mountinfo.
fn scope(tmp: &Path, procs: &str, enabled: &str) -> (FakeFs, PathBuf) {
    let fs = FakeFs::new(tmp);
    let mountinfo = format!("30 23 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", tmp.display());
    let dir = super::super::cgroup_dir(
        "0::/user.slice/user@1000.service/app.slice/run-1.scope\n",
        &mountinfo,
        false,
    )
    .unwrap();
    assert_eq!(dir, tmp.join("user.slice/user@1000.service/app.slice/run-1.scope"));
    fs.make(tmp, "cpu io memory pids hugetlb", "1");
    fs.make(&dir, "cpu io memory pids", procs);
    fs.set(&dir.join("cgroup.subtree_control"), enabled);
    (fs, dir)
}

fn all_limits() -> CgroupLimits {
    CgroupLimits { memory: Some(1 << 30), pids: Some(64), millicpus: Some(500), io_weight: Some(50) }
}

#[test]
fn writes_the_limits_moves_the_sandbox_in_and_restores_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), &MONITOR.to_string(), "");
    let d = create(&fs, &dir, MONITOR, &all_limits()).unwrap();
    let sandbox = dir.join(format!("sandbox-{MONITOR}"));
    let leaf = dir.join(format!("sandbox-{MONITOR}.monitor"));
    assert_eq!(d.dir(), Some(sandbox.as_path()));
    assert_eq!(fs.get(&leaf.join("cgroup.procs")), MONITOR.to_string());
    assert_eq!(fs.get(&dir.join("cgroup.procs")), "");
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "cpu io memory pids");
    assert_eq!(fs.get(&sandbox.join("memory.max")), "1073741824");
    assert_eq!(fs.get(&sandbox.join("pids.max")), "64");
    assert_eq!(fs.get(&sandbox.join("cpu.max")), "50000 100000");
    assert_eq!(fs.get(&sandbox.join("io.weight")), "default 50");

    d.attach(INIT).unwrap();
    assert_eq!(fs.get(&sandbox.join("cgroup.procs")), INIT.to_string());
    assert!(d.freeze(true));
    assert_eq!(fs.get(&sandbox.join("cgroup.freeze")), "1");
    drop(d);
    assert!(!sandbox.exists(), "the sandbox's cgroup is removed");
    assert!(!leaf.exists(), "and the monitor's leaf");
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "", "controllers off again");
    assert_eq!(fs.get(&dir.join("cgroup.procs")), MONITOR.to_string(), "the monitor is back");
    let log = fs.log.borrow().join("\n");
    let kill = log.find("sandbox-4242/cgroup.kill < 1").expect(&log);
    assert!(kill > log.find("sandbox-4242/cgroup.procs < 4300").unwrap(), "{log}");
}

#[test]
fn only_the_controllers_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), &MONITOR.to_string(), "");
    let limits = CgroupLimits { pids: Some(10), ..CgroupLimits::default() };
    let d = create(&fs, &dir, MONITOR, &limits).unwrap();
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "pids");
    assert!(!d.dir().unwrap().join("memory.max").exists());
    drop(d);
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "");
}

#[test]
fn an_enabled_tree_is_used_as_it_is_and_left_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), "", "memory pids");
    let limits = CgroupLimits { memory: Some(64 << 20), ..CgroupLimits::default() };
    let d = create(&fs, &dir, MONITOR, &limits).unwrap();
    assert!(!dir.join(format!("sandbox-{MONITOR}.monitor")).exists(), "no need to move out");
    assert_eq!(fs.get(&d.dir().unwrap().join("memory.max")), "67108864");
    drop(d);
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "memory pids");
    assert!(!dir.join(format!("sandbox-{MONITOR}")).exists());
}

#[test]
fn a_scope_shared_with_the_shell_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), &format!("100\n{MONITOR}"), "");
    let err = create(&fs, &dir, MONITOR, &all_limits()).err().unwrap();
    assert!(err.why.contains("also holds 1 other process,"), "{err:?}");
    assert!(fs.log.borrow().is_empty(), "nothing written: {:?}", fs.log.borrow());
}

#[test]
fn a_failed_write_undoes_what_was_done() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), &MONITOR.to_string(), "");
    // A stale cgroup of the same name (pid reuse after a kill -9 of a monitor).
    std::fs::create_dir(dir.join(format!("sandbox-{MONITOR}"))).unwrap();
    let err = create(&fs, &dir, MONITOR, &all_limits()).err().unwrap();
    assert!(err.why.contains(&format!("sandbox-{MONITOR}: ")), "{err:?}");
    assert_eq!(fs.get(&dir.join("cgroup.subtree_control")), "");
    assert_eq!(fs.get(&dir.join("cgroup.procs")), MONITOR.to_string());
    assert!(!dir.join(format!("sandbox-{MONITOR}.monitor")).exists());
}

#[test]
fn values_per_limit() {
    let v = values(&CgroupLimits { millicpus: Some(2500), ..CgroupLimits::default() });
    assert_eq!(v, [("cpu.max", "250000 100000".to_string())]);
}

/// The VM lane's guest 2 saw a command killed by the OOM killer end with
/// 137 and nothing said; the monitor now reads memory.events at the end.
#[test]
fn oom_kills_are_read_from_the_sandbox_s_memory_events() {
    let tmp = tempfile::tempdir().unwrap();
    let (fs, dir) = scope(tmp.path(), &MONITOR.to_string(), "");
    let limits = CgroupLimits { memory: Some(64 << 20), ..Default::default() };
    let d = create(&fs, &dir, MONITOR, &limits).unwrap();
    assert_eq!(d.oom_kills(), 0, "no memory.events yet");
    let events = dir.join(format!("sandbox-{MONITOR}/memory.events"));
    fs.set(&events, "low 0\nhigh 0\nmax 68\noom 1\noom_kill 2\noom_group_kill 0\n");
    assert_eq!(d.oom_kills(), 2);
    assert_eq!(oom_kill_count("oom 0\noom_kill 0\n"), 0);
}
