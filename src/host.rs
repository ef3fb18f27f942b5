//! What the front ends may know about the caller, read once.
//!
//! Building a Plan is pure: everything it needs from the host (environment,
//! ids, cwd, home, the shape of /bin and friends, the kernel's release)
//! comes in a [`Host`], read once by [`Host::current`], so tests can build
//! Plans for any host. What only some runs need (the password database,
//! the kernel's release, the subordinate ids, the graphical session) is
//! read the first time it is asked for, once; [`Host::fake`] sets it.
//!
//! The directories never shared as the current directory are kept resolved
//! (symlinks followed, as the kernel's `getcwd` gives the cwd): `$HOME`
//! reached through a symlink (`/home -> var/home`, a home moved to another
//! disk) is still `$HOME`, and a string comparison could not see that.

use std::cell::OnceCell;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What a profile may know about the caller.
#[derive(Debug, Clone)]
pub struct Host {
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// The caller's entry in the password database (`None`: it has none):
    /// read the first time [`Host::account`] asks.
    pub account: OnceCell<Option<Account>>,
    pub env: Vec<(OsString, OsString)>,
    /// Top-level entries that merged-usr systems make symlinks (`/bin` →
    /// `usr/bin`): the link target, or `None` when it is a real directory,
    /// absent when the host has no such entry.
    pub root_links: Vec<(PathBuf, Option<PathBuf>)>,
    /// Directories never shared as the current directory (nor any directory
    /// above them), resolved: `$HOME`, then the scratch and runtime
    /// directories every user shares.
    pub private: Vec<PrivateDir>,
    /// The running kernel's release (`6.18.0-1-amd64`), for OCI seccomp
    /// profiles that include rules by kernel version: read the first time
    /// [`Host::kernel`] asks.
    pub kernel: OnceCell<String>,
    /// The graphical session (display, sound, bus, GPU nodes), for the
    /// desktop options: read the first time [`Host::session`] asks, so a
    /// run without them pays nothing for it.
    pub session: OnceCell<crate::desktop::detect::Session>,
    /// Subordinate ids and the helpers that map them (`--userns auto`):
    /// read the first time [`Host::userns`] asks.
    pub userns: OnceCell<crate::idmap::HostView>,
    /// Where sandbox keeps what it may reuse on the next run (what the
    /// links of `/etc` point at): `$XDG_RUNTIME_DIR/sandbox`, when that
    /// variable names a directory; `None` keeps nothing.
    pub cache: Option<PathBuf>,
}

/// The caller's entry in the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub home: PathBuf,
}

impl Account {
    /// The entry of `uid`, if the password database has one.
    fn of(uid: u32) -> Option<Account> {
        let u = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten()?;
        Some(Account { name: u.name, home: u.dir })
    }
}

/// Why a directory is never shared as the current directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Private {
    /// `$HOME`.
    Home,
    /// Scratch or runtime space every user shares, with their sockets
    /// (tmux, ssh-agent, X11): `/tmp`, `/var/tmp`, `/dev/shm`, `/run`.
    Shared,
    /// `$XDG_RUNTIME_DIR`, with the session's sockets.
    Runtime,
    /// `/run/user`: every directory in it is some user's runtime directory.
    Runtimes,
}

/// One directory never shared as the current directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrivateDir {
    pub path: PathBuf,
    pub why: Private,
}

/// The scratch and runtime directories every user shares.
const SHARED: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run"];

/// The private directories of a host whose `$HOME` is `home`, each passed
/// through `real` (which resolves symlinks on a real host).
fn private_dirs(home: &Path, runtime: Option<&Path>, real: &dyn Fn(&Path) -> PathBuf) -> Vec<PrivateDir> {
    let mut out = vec![PrivateDir { path: real(home), why: Private::Home }];
    for dir in SHARED {
        out.push(PrivateDir { path: real(Path::new(dir)), why: Private::Shared });
    }
    if let Some(r) = runtime.filter(|r| r.is_absolute()) {
        out.push(PrivateDir { path: real(r), why: Private::Runtime });
    }
    out.push(PrivateDir { path: real(Path::new("/run/user")), why: Private::Runtimes });
    out
}

/// `p` with every symlink resolved, or as written when it cannot be.
fn resolved(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| crate::values::normalize(p))
}

/// Top-level directories that live under /usr on merged-usr systems.
const ROOT_LINKS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// The variables of `env` that are valid UTF-8 (every name the session
/// uses is).
fn utf8_env(env: &[(OsString, OsString)]) -> Vec<(String, String)> {
    env.iter().filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string()))).collect()
}

impl Host {
    /// Reads the caller's view: environment, ids, cwd, home, root links.
    pub fn current() -> Host {
        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let account = OnceCell::new();
        let var = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        // The password database only when $HOME does not say.
        let home = var("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| account.get_or_init(|| Account::of(uid)).as_ref().map(|a| a.home.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        // getcwd: already resolved, as the private directories are.
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let runtime = var("XDG_RUNTIME_DIR").map(PathBuf::from);
        let private = private_dirs(&home, runtime.as_deref(), &resolved);
        let root_links = ROOT_LINKS
            .iter()
            .filter_map(|p| {
                let p = Path::new(p);
                let meta = std::fs::symlink_metadata(p).ok()?;
                if meta.file_type().is_symlink() {
                    Some((p.to_path_buf(), std::fs::read_link(p).ok()))
                } else if meta.is_dir() {
                    Some((p.to_path_buf(), None))
                } else {
                    None
                }
            })
            .collect();
        Host {
            cwd: crate::values::normalize(&cwd),
            home: crate::values::normalize(&home),
            uid,
            gid,
            account,
            env,
            root_links,
            private,
            kernel: OnceCell::new(),
            session: OnceCell::new(),
            userns: OnceCell::new(),
            cache: runtime.filter(|r| r.is_absolute()).map(|r| r.join("sandbox")),
        }
    }

    /// Why `dir` (resolved) must not be shared as the current directory, if
    /// it must not: it is one of the private directories, a user's runtime
    /// directory, or a directory above one of them.
    pub fn why_private(&self, dir: &Path) -> Option<String> {
        for p in &self.private {
            let what = match p.why {
                Private::Home if dir == p.path => "your home directory",
                Private::Shared if dir == p.path => "shared by every user, sockets included",
                Private::Runtime if dir == p.path => "your runtime directory, with your session's sockets",
                Private::Runtimes if dir.parent() == Some(&p.path) => {
                    "a user's runtime directory, with session sockets"
                }
                _ => continue,
            };
            return Some(what.to_string());
        }
        let above = self.private.iter().find(|p| p.path.starts_with(dir))?;
        Some(match above.why {
            Private::Home => "it contains your home directory".to_string(),
            _ => format!("it contains {}", crate::escape::path(&above.path)),
        })
    }

    /// The graphical session, read on first use.
    pub fn session(&self) -> &crate::desktop::detect::Session {
        self.session.get_or_init(|| crate::desktop::detect::Session::read(utf8_env(&self.env), &self.home))
    }

    /// The caller's entry in the password database, read on first use.
    pub fn account(&self) -> Option<&Account> {
        self.account.get_or_init(|| Account::of(self.uid)).as_ref()
    }

    /// The user's name: from the password database, else `$USER`, else the uid.
    pub fn user(&self) -> String {
        match self.account() {
            Some(a) => a.name.clone(),
            None => {
                self.var("USER").map_or_else(|| self.uid.to_string(), |u| u.to_string_lossy().into_owned())
            }
        }
    }

    /// The running kernel's release, read on first use (empty when
    /// unreadable).
    pub fn kernel(&self) -> &str {
        self.kernel.get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string()
        })
    }

    /// Subordinate ids and the helpers that map them, read on first use:
    /// the name is the password database's, the helpers are looked for
    /// along the caller's PATH.
    pub fn userns(&self) -> &crate::idmap::HostView {
        self.userns.get_or_init(|| {
            let name = self.account().map(|a| a.name.clone());
            userns_view(name, self.var("PATH").map(OsStr::to_owned))
        })
    }

    pub fn var(&self, name: &str) -> Option<&OsStr> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_os_str())
    }

    /// A made-up host, for tests and fuzzing.
    pub fn fake(cwd: &str) -> Host {
        let same = |p: &Path| p.to_path_buf();
        Host {
            cwd: cwd.into(),
            home: "/home/u".into(),
            uid: 1000,
            gid: 1000,
            account: Some(Account { name: "u".into(), home: "/home/u".into() }).into(),
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("SSH_AUTH_SOCK".into(), "/run/user/1000/ssh".into()),
                ("LC_ALL".into(), "C.UTF-8".into()),
                ("GITHUB_TOKEN".into(), "secret".into()),
                ("XDG_RUNTIME_DIR".into(), "/run/user/1000".into()),
            ],
            root_links: vec![("/bin".into(), Some("usr/bin".into())), ("/lib64".into(), None)],
            private: private_dirs(Path::new("/home/u"), Some(Path::new("/run/user/1000")), &same),
            kernel: OnceCell::from("6.18.0".to_string()),
            session: crate::desktop::detect::Session::default().into(),
            userns: crate::idmap::HostView::fake("u").into(),
            cache: None,
        }
    }
}

/// /etc/subuid, /etc/subgid and newuidmap/newgidmap along `path` (PATH,
/// or the usual directories without it).
pub fn userns_view(name: Option<String>, path: Option<OsString>) -> crate::idmap::HostView {
    use crate::idmap::{helper, Files, HostView, Kind};
    let path = path.unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let find = |kind| {
        let examine = |p: &Path| helper::examine(p, crate::launch::probe::has_file_caps);
        helper::find(kind, &path, examine)
    };
    HostView { files: Files::read(), name, newuidmap: find(Kind::Uid), newgidmap: find(Kind::Gid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_shared_scratch_runtime_dirs_and_their_ancestors_are_private() {
        let h = Host::fake("/work/proj");
        let why = |d: &str| h.why_private(Path::new(d));
        assert_eq!(why("/home/u").as_deref(), Some("your home directory"));
        assert_eq!(why("/home").as_deref(), Some("it contains your home directory"));
        assert_eq!(why("/").as_deref(), Some("it contains your home directory"));
        for d in ["/tmp", "/var/tmp", "/dev/shm", "/run"] {
            assert_eq!(why(d).as_deref(), Some("shared by every user, sockets included"), "{d}");
        }
        assert_eq!(why("/var").as_deref(), Some("it contains /var/tmp"));
        assert_eq!(why("/dev").as_deref(), Some("it contains /dev/shm"));
        assert!(why("/run/user/1000").unwrap().starts_with("your runtime directory"));
        assert!(why("/run/user/1001").unwrap().starts_with("a user's runtime directory"));
        assert_eq!(why("/run/user").as_deref(), Some("it contains /run/user/1000"));
        for fine in ["/home/u/proj", "/tmp/build", "/var/tmp/x", "/run/user/1000/sub", "/work/proj", "/usr"] {
            assert_eq!(why(fine), None, "{fine}");
        }
    }

    #[test]
    fn the_user_is_the_password_databases_else_user_else_the_uid() {
        let h = Host::fake("/");
        assert_eq!(h.user(), "u");
        let mut h = Host { account: None.into(), ..Host::fake("/") };
        h.env.push(("USER".into(), "env-user".into()));
        assert_eq!(h.user(), "env-user");
        h.env.retain(|(k, _)| k != "USER");
        assert_eq!(h.user(), "1000");
    }

    #[test]
    fn a_home_reached_through_a_symlink_is_compared_resolved() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("var/home/u");
        std::fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink("var/home", d.path().join("home")).unwrap();
        let home = d.path().join("home/u");
        let private = private_dirs(&home, None, &resolved);
        let h = Host { private, home, ..Host::fake("/") };
        let real = std::fs::canonicalize(&real).unwrap();
        assert_eq!(h.why_private(&real).as_deref(), Some("your home directory"));
        let above = real.parent().unwrap();
        assert_eq!(h.why_private(above).as_deref(), Some("it contains your home directory"));
        assert_eq!(h.why_private(&real.join("proj")), None);
    }
}
