//! What the front ends may know about the caller, read once.
//!
//! Building a Plan is pure: everything it needs from the host (environment,
//! ids, cwd, home, the shape of /bin and friends) comes in a [`Host`], read
//! once by [`Host::current`], so tests can build Plans for any host.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What a profile may know about the caller.
#[derive(Debug, Clone)]
pub struct Host {
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// The user's name, from the password database (or $USER).
    pub user: String,
    pub env: Vec<(OsString, OsString)>,
    /// Top-level entries that merged-usr systems make symlinks (`/bin` →
    /// `usr/bin`): the link target, or `None` when it is a real directory,
    /// absent when the host has no such entry.
    pub root_links: Vec<(PathBuf, Option<PathBuf>)>,
}

/// Top-level directories that live under /usr on merged-usr systems.
const ROOT_LINKS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

impl Host {
    /// Reads the caller's view: environment, ids, cwd, home, root links.
    pub fn current() -> Host {
        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let pw = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten();
        let var = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let home = var("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| pw.as_ref().map(|u| u.dir.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let user = pw
            .as_ref()
            .map(|u| u.name.clone())
            .or_else(|| var("USER").map(|u| u.to_string_lossy().into_owned()))
            .unwrap_or_else(|| uid.to_string());
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
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
            cwd: crate::cli::normalize(&cwd),
            home: crate::cli::normalize(&home),
            uid,
            gid,
            user,
            env,
            root_links,
        }
    }

    pub fn var(&self, name: &str) -> Option<&OsStr> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_os_str())
    }

    /// A made-up host, for tests and fuzzing.
    pub fn fake(cwd: &str) -> Host {
        Host {
            cwd: cwd.into(),
            home: "/home/u".into(),
            uid: 1000,
            gid: 1000,
            user: "u".into(),
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("SSH_AUTH_SOCK".into(), "/run/user/1000/ssh".into()),
                ("LC_ALL".into(), "C.UTF-8".into()),
                ("GITHUB_TOKEN".into(), "secret".into()),
                ("XDG_RUNTIME_DIR".into(), "/run/user/1000".into()),
            ],
            root_links: vec![("/bin".into(), Some("usr/bin".into())), ("/lib64".into(), None)],
        }
    }
}
