//! The calls [`super::RecordingSys`] records, and how a test reads them.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::launch::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

/// One call that changes something, with the paths it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        src: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    SetAttr {
        path: PathBuf,
        attrs: u64,
        recursive: bool,
    },
    Mkdir {
        path: PathBuf,
        mode: u32,
    },
    /// openat with O_CREAT.
    Create {
        path: PathBuf,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
        path: PathBuf,
    },
    OpenTree {
        path: PathBuf,
    },
    MoveMount {
        tree: PathBuf,
        target: PathBuf,
    },
    Chmod {
        path: PathBuf,
        mode: u32,
    },
    Write {
        path: PathBuf,
        len: usize,
    },
    PivotRoot {
        new_root: PathBuf,
        put_old: PathBuf,
    },
    Umount {
        path: PathBuf,
        flags: MntFlags,
    },
    Chdir {
        path: PathBuf,
    },
}

/// A path as the tests read it: the new root (/tmp/root) as /newroot.
fn show(p: &Path) -> String {
    match p.strip_prefix("/tmp/root") {
        Ok(rest) => Path::new("/newroot").join(rest).display().to_string().trim_end_matches('/').to_string(),
        Err(_) => p.display().to_string(),
    }
}

/// MS_* flags by name, `bind,rec,nosuid,…`.
fn ms(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_REMOUNT, "remount"),
        (MsFlags::MS_BIND, "bind"),
        (MsFlags::MS_REC, "rec"),
        (MsFlags::MS_SLAVE, "slave"),
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
    ];
    let on: Vec<&str> = names.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, n)| *n).collect();
    if on.is_empty() {
        "-".into()
    } else {
        on.join(",")
    }
}

/// MOUNT_ATTR_* bits by name.
fn attrs(a: u64) -> String {
    let names = [
        (MOUNT_ATTR_RDONLY, "ro"),
        (MOUNT_ATTR_NOSUID, "nosuid"),
        (MOUNT_ATTR_NODEV, "nodev"),
        (MOUNT_ATTR_NOEXEC, "noexec"),
    ];
    let on: Vec<&str> = names.iter().filter(|(f, _)| a & f != 0).map(|(_, n)| *n).collect();
    on.join(",")
}

impl fmt::Display for Call {
    /// One line: `mount tmpfs /newroot/tmp (nosuid,nodev) mode=755`,
    /// `mount bind /usr -> /newroot/usr (bind,rec)`, `setattr /newroot/usr
    /// ro,nosuid,nodev recursive`, `mkdir /newroot/home 0755`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Mount { src, target, fstype, flags, data } => {
                let data = data.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
                match (fstype, src) {
                    (Some(t), _) => write!(f, "mount {t} {} ({}){data}", show(target), ms(*flags)),
                    (None, Some(s)) => {
                        write!(f, "mount {} -> {} ({}){data}", show(s), show(target), ms(*flags))
                    }
                    (None, None) => write!(f, "mount {} ({}){data}", show(target), ms(*flags)),
                }
            }
            Call::SetAttr { path, attrs: a, recursive } => {
                let rec = if *recursive { " recursive" } else { "" };
                write!(f, "setattr {} {}{rec}", show(path), attrs(*a))
            }
            Call::Mkdir { path, mode } => write!(f, "mkdir {} {mode:04o}", show(path)),
            Call::Create { path, mode } => write!(f, "create {} {mode:04o}", show(path)),
            Call::Symlink { target, path } => write!(f, "symlink {} -> {}", show(path), target.display()),
            Call::OpenTree { path } => write!(f, "open_tree {}", show(path)),
            Call::MoveMount { tree, target } => write!(f, "move_mount {} -> {}", show(tree), show(target)),
            Call::Chmod { path, mode } => write!(f, "chmod {} {mode:04o}", show(path)),
            Call::Write { path, len } => write!(f, "write {} {len} bytes", show(path)),
            Call::PivotRoot { new_root, put_old } => {
                write!(f, "pivot_root {} {}", new_root.display(), put_old.display())
            }
            Call::Umount { path, flags } => {
                let detach = if flags.contains(MntFlags::MNT_DETACH) { " detach" } else { "" };
                write!(f, "umount {}{detach}", path.display())
            }
            Call::Chdir { path } => write!(f, "chdir {}", show(path)),
        }
    }
}
