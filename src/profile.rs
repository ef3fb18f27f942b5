//! Built-in profiles: the starting Plan that command-line options add to.
//!
//! `default` is the friendly one (ARCHITECTURE.md, "The native CLI"): host
//! /usr and /etc read-only with the merged-usr links, fresh /tmp /dev /proc,
//! an empty $HOME, the current directory read-write, no network, an
//! environment allowlist, die-with-parent, a new session. `none` is an empty
//! root with the same isolation and nothing else.
//!
//! Building a profile is pure: everything it needs from the host comes in a
//! [`Host`], read once by [`Host::current`].

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::escape;
use crate::plan::{Access, EnvVar, FsOp, Ids, Namespaces, Plan, Process};

/// What a profile may know about the caller.
#[derive(Debug, Clone)]
pub struct Host {
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub env: Vec<(OsString, OsString)>,
    /// Top-level entries that merged-usr systems make symlinks (`/bin` →
    /// `usr/bin`): the link target, or `None` when it is a real directory,
    /// absent when the host has no such entry.
    pub root_links: Vec<(PathBuf, Option<PathBuf>)>,
    /// Secret files under /etc that exist on this host.
    pub etc_secrets: Vec<PathBuf>,
}

/// Top-level directories that live under /usr on merged-usr systems.
const ROOT_LINKS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Files under /etc that hold secrets and are hidden by the default profile.
const ETC_SECRETS: [&str; 6] = [
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/ssl/private",
];

/// Variables the default profile passes on from the caller.
const ENV_ALLOW: [&str; 12] = [
    "PATH",
    "TERM",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "USER",
    "LOGNAME",
    "TZ",
    "COLORTERM",
    "NO_COLOR",
    "SHELL",
    "EDITOR",
];

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl Host {
    /// Reads the caller's view: environment, ids, cwd, home, root links.
    pub fn current() -> Host {
        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let home = env
            .iter()
            .find(|(k, _)| k == "HOME")
            .map(|(_, v)| PathBuf::from(v))
            .filter(|p| p.is_absolute())
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.dir)
            })
            .unwrap_or_else(|| PathBuf::from("/"));
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
        let etc_secrets =
            ETC_SECRETS.iter().map(PathBuf::from).filter(|p| std::fs::symlink_metadata(p).is_ok()).collect();
        Host {
            cwd: crate::cli::normalize(&cwd),
            home: crate::cli::normalize(&home),
            uid,
            gid,
            env,
            root_links,
            etc_secrets,
        }
    }

    fn var(&self, name: &str) -> Option<&OsStr> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_os_str())
    }
}

/// A profile's Plan plus notes for the user (printed on stderr, not errors).
#[derive(Debug)]
pub struct Built {
    pub plan: Plan,
    pub notes: Vec<String>,
}

/// The built-in profile NAME.
pub fn builtin(name: &str, host: &Host) -> Result<Built, String> {
    match name {
        "default" => Ok(default(host)),
        "none" => Ok(Built { plan: empty(host), notes: Vec::new() }),
        other => Err(format!(
            "--profile {}: unknown profile (built-in profiles: default, none)",
            escape::str(other)
        )),
    }
}

/// Isolation without any file system: the base of every profile.
fn empty(host: &Host) -> Plan {
    Plan {
        namespaces: Namespaces::ALL,
        ids: Ids { uid: host.uid, gid: host.gid },
        fs: Vec::new(),
        env: Vec::new(),
        process: Process {
            cwd: None,
            hostname: Some("sandbox".into()),
            die_with_parent: true,
            new_session: true,
            keep_fds: Vec::new(),
            caps: Vec::new(),
        },
        best_effort: false,
        seccomp: Default::default(),
        command: Vec::new(),
    }
}

fn ro(p: &str) -> FsOp {
    FsOp::Bind { src: p.into(), dest: p.into(), access: Access::ReadOnly, optional: false }
}

fn default(host: &Host) -> Built {
    let mut plan = empty(host);
    let mut notes = Vec::new();
    let fs = &mut plan.fs;
    fs.push(ro("/usr"));
    for (link, target) in &host.root_links {
        match target {
            Some(t) => fs.push(FsOp::Symlink { target: t.clone(), dest: link.clone() }),
            None => fs.push(FsOp::Bind {
                src: link.clone(),
                dest: link.clone(),
                access: Access::ReadOnly,
                optional: true,
            }),
        }
    }
    fs.push(ro("/etc"));
    for secret in &host.etc_secrets {
        fs.push(FsOp::Hide { dest: secret.clone() });
    }
    fs.push(FsOp::Tmpfs { dest: "/tmp".into(), mode: 0o1777, size: None });
    fs.push(FsOp::Dev { dest: "/dev".into() });
    fs.push(FsOp::Proc { dest: "/proc".into() });
    let home = host.home.clone();
    if home != Path::new("/") {
        fs.push(FsOp::Tmpfs { dest: home.clone(), mode: 0o700, size: None });
    }

    let cwd = &host.cwd;
    let system = ["/usr", "/etc", "/proc", "/dev", "/sys"];
    let under_system =
        system.iter().any(|s| cwd.starts_with(s)) || host.root_links.iter().any(|(l, _)| cwd.starts_with(l));
    if cwd == Path::new("/") || home.starts_with(cwd) {
        let what = if *cwd == home { "your home directory" } else { "it contains your home directory" };
        notes.push(format!(
            "not sharing the current directory {} ({what}); share it with --rw {}",
            escape::path(cwd),
            escape::path(cwd)
        ));
        plan.process.cwd = Some(home.clone());
    } else {
        if !under_system {
            fs.push(FsOp::Bind {
                src: cwd.clone(),
                dest: cwd.clone(),
                access: Access::ReadWrite,
                optional: false,
            });
        }
        plan.process.cwd = Some(cwd.clone());
    }

    for name in ENV_ALLOW {
        match name.strip_suffix('*') {
            Some(prefix) => {
                for (k, v) in &host.env {
                    if k.as_bytes().starts_with(prefix.as_bytes()) {
                        plan.env.push(EnvVar { name: k.clone(), value: v.clone() });
                    }
                }
            }
            None => {
                if let Some(v) = host.var(name) {
                    plan.env.push(EnvVar { name: name.into(), value: v.to_owned() });
                }
            }
        }
    }
    if host.var("PATH").is_none() {
        plan.env.insert(0, EnvVar { name: "PATH".into(), value: DEFAULT_PATH.into() });
    }
    plan.env.push(EnvVar { name: "HOME".into(), value: home.into_os_string() });
    Built { plan, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn host(cwd: &str) -> Host {
        Host {
            cwd: cwd.into(),
            home: "/home/u".into(),
            uid: 1000,
            gid: 1000,
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("SSH_AUTH_SOCK".into(), "/run/user/1000/ssh".into()),
                ("LC_ALL".into(), "C.UTF-8".into()),
                ("GITHUB_TOKEN".into(), "secret".into()),
            ],
            root_links: vec![("/bin".into(), Some("usr/bin".into())), ("/lib64".into(), None)],
            etc_secrets: vec!["/etc/shadow".into()],
        }
    }

    #[test]
    fn default_shares_cwd_read_write_and_hides_home() {
        let b = default(&host("/home/u/proj"));
        let fs = &b.plan.fs;
        assert!(fs.contains(&FsOp::Tmpfs { dest: "/home/u".into(), mode: 0o700, size: None }));
        let cwd = FsOp::Bind {
            src: "/home/u/proj".into(),
            dest: "/home/u/proj".into(),
            access: Access::ReadWrite,
            optional: false,
        };
        let home_at = fs.iter().position(|o| o.dest() == Path::new("/home/u")).unwrap();
        let cwd_at = fs.iter().position(|o| *o == cwd).unwrap();
        assert!(home_at < cwd_at, "the cwd bind must come after the empty home");
        assert_eq!(b.plan.process.cwd.as_deref(), Some(Path::new("/home/u/proj")));
        assert!(b.notes.is_empty());
    }

    #[test]
    fn default_never_shares_home_or_root() {
        for cwd in ["/home/u", "/", "/home"] {
            let b = default(&host(cwd));
            assert!(
                !b.plan.fs.iter().any(|o| matches!(o, FsOp::Bind { access: Access::ReadWrite, .. })),
                "{cwd} must not be shared"
            );
            assert_eq!(b.notes.len(), 1, "{cwd}: one line says how to share it");
            assert!(b.notes[0].contains("--rw"));
        }
    }

    #[test]
    fn default_environment_is_an_allowlist() {
        let b = default(&host("/tmp/x"));
        let names: Vec<_> = b.plan.env.iter().map(|v| v.name.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["PATH", "LC_ALL", "HOME"]);
    }

    #[test]
    fn merged_usr_links_and_real_dirs() {
        let b = default(&host("/tmp/x"));
        assert!(b.plan.fs.contains(&FsOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() }));
        assert!(b.plan.fs.contains(&FsOp::Bind {
            src: "/lib64".into(),
            dest: "/lib64".into(),
            access: Access::ReadOnly,
            optional: true
        }));
        assert!(b.plan.fs.contains(&FsOp::Hide { dest: "/etc/shadow".into() }));
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let e = builtin("strictest", &host("/tmp")).unwrap_err();
        assert!(e.contains("unknown profile"), "{e}");
    }
}
