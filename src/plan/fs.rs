//! The file-system part of a Plan: the operations that build the new root,
//! in order, on an empty tmpfs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::serde_os::{os_bytes, os_path, os_vec_path};

/// How the new root is built. The default is sandbox's: a read-only root,
/// strict /dev and /proc, parents made 0755.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Root {
    /// The tmpfs the root is built on.
    pub tmpfs: RootTmpfs,
    /// How /dev, /proc and mqueue are made.
    pub special: Special,
    /// The mode of the missing parent directories each operation of `fs`
    /// creates, one per operation; 0755 for those beyond the list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_modes: Vec<u32>,
    /// What the root is before the operations: the empty tmpfs, or a
    /// directory of the host (`--rootfs`).
    #[serde(skip_serializing_if = "RootSource::is_tmpfs")]
    pub source: RootSource,
    /// Host directories made (0700, with their missing parents) before the
    /// sources are opened, when they do not exist: state directories
    /// (`--state`) and the caches `--caches rw` fills. Each one made is
    /// said on stderr.
    #[serde(skip_serializing_if = "Vec::is_empty", with = "super::serde_os::os_vec_path")]
    pub create_dirs: Vec<PathBuf>,
    /// The SELinux context of the tmpfs mounts and the files the setup
    /// makes (bubblewrap's `--file-label`, accepted only where SELinux is
    /// enabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_label: Option<String>,
}

/// What the new root is before the Plan's operations apply on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RootSource {
    /// The empty tmpfs (`tmpfs`): the operations build everything.
    #[default]
    Tmpfs,
    /// A directory of the host (`--rootfs DIR`), nosuid and nodev, with
    /// the operations on top: nothing of the host's /usr or /etc.
    Dir {
        #[serde(with = "os_path")]
        path: PathBuf,
        writes: RootWrites,
    },
}

/// Where writes to a `--rootfs` root go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RootWrites {
    /// Nowhere: the root is read-only. It is an overlay whose upper layer
    /// (a tmpfs) holds only the mount points the operations add, made
    /// read-only once they are made, so the directory never changes and
    /// need not have them.
    ReadOnly,
    /// Into the directory itself (`--rw-rootfs`).
    ReadWrite,
    /// Into an overlay's upper layer (`--overlay /`, `--persist /:STATEDIR`):
    /// the directory never changes.
    Overlay { upper: Upper },
}

impl RootSource {
    pub fn is_tmpfs(&self) -> bool {
        *self == RootSource::Tmpfs
    }

    /// The operation that puts a directory root in place, before the
    /// Plan's own: a bind, or an overlay with the directory as its lower
    /// layer. `None` for the tmpfs root.
    pub fn op(&self) -> Option<FsOp> {
        let RootSource::Dir { path, writes } = self else { return None };
        let overlay = |upper: Upper| FsOp::Overlay { lowers: vec![path.clone()], dest: "/".into(), upper };
        Some(match writes {
            RootWrites::ReadOnly => overlay(Upper::Tmpfs),
            RootWrites::ReadWrite => {
                FsOp::Bind { src: path.clone(), dest: "/".into(), access: Access::ReadWrite, optional: false }
            }
            RootWrites::Overlay { upper } => overlay(upper.clone()),
        })
    }

    /// Whether the command may write to the root.
    pub fn writable(&self) -> bool {
        matches!(self, RootSource::Dir { writes: RootWrites::ReadWrite | RootWrites::Overlay { .. }, .. })
    }
}

/// The tmpfs the root is built on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootTmpfs {
    /// Mode 0755, made read-only (nosuid, nodev) once the operations are
    /// done: the command can write only where a mount lets it.
    #[default]
    ReadOnly,
    /// Mounted with the kernel's default options, and it stays writable:
    /// the command may create files anywhere on it.
    Writable,
}

/// How /dev ([`FsOp::Dev`]), /proc ([`FsOp::Proc`]) and mqueue
/// ([`FsOp::Mqueue`]) are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Special {
    /// /dev is a nosuid, noexec tmpfs whose device binds are noexec too,
    /// with a sticky 1777 /dev/shm; /proc/sys, sysrq-trigger, irq and bus
    /// are covered read-only whenever they exist; mqueue is nosuid, nodev,
    /// noexec.
    #[default]
    Strict,
    /// /dev is a nosuid, nodev tmpfs whose device binds are only nosuid,
    /// with a 0755 /dev/shm; of /proc/sys and friends only those the
    /// sandbox could write to are covered; mqueue has no extra flags.
    Plain,
}

/// How a bind mount may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read-only, nosuid, nodev on the mount and every submount.
    ReadOnly,
    /// Writable, nosuid, nodev.
    ReadWrite,
    /// Writable, nosuid, device nodes usable.
    Device,
}

/// One file-system operation. Destinations are absolute paths inside the
/// sandbox, free of `..`; sources are absolute host paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FsOp {
    /// Recursive bind of a host path.
    Bind {
        #[serde(with = "os_path")]
        src: PathBuf,
        #[serde(with = "os_path")]
        dest: PathBuf,
        access: Access,
        /// Skip silently when the source does not exist.
        #[serde(default, skip_serializing_if = "is_false")]
        optional: bool,
    },
    /// A fresh tmpfs (nosuid, nodev).
    Tmpfs {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// A fresh procfs for the sandbox's pid namespace, with /proc/sys and
    /// friends read-only.
    Proc {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A minimal /dev: null zero full random urandom tty, pts, shm, std links.
    Dev {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A directory (and its missing parents).
    Dir {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
    },
    /// A symbolic link at `dest` pointing at `target`.
    Symlink {
        #[serde(with = "os_path")]
        target: PathBuf,
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// Cover whatever is at `dest` with an empty read-only directory or file.
    Hide {
        #[serde(with = "os_path")]
        dest: PathBuf,
        /// Fine when nothing is there (`--hide-try`); otherwise a path the
        /// host does not have is an error before anything starts (a typo
        /// would protect nothing).
        #[serde(default, skip_serializing_if = "is_false")]
        optional: bool,
    },
    /// A file with the given content: created at `dest` (`copy`, bwrap
    /// --file) or made in the scratch tmpfs and bound over `dest` (`bind`,
    /// `bind-ro`: bwrap --bind-data, --ro-bind-data).
    File {
        #[serde(with = "os_path")]
        dest: PathBuf,
        #[serde(with = "os_bytes")]
        content: Vec<u8>,
        mode: u32,
        how: FileHow,
    },
    /// chmod of an existing path (bwrap --chmod).
    Chmod {
        #[serde(with = "os_path")]
        dest: PathBuf,
        mode: u32,
    },
    /// Make the mount at `dest` read-only, not recursively; only the
    /// parents of `dest` are made, it must be a mount point (bwrap
    /// --remount-ro).
    RemountRo {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// A POSIX message queue file system (bwrap --mqueue).
    Mqueue {
        #[serde(with = "os_path")]
        dest: PathBuf,
    },
    /// An overlay of host directories at `dest`.
    Overlay {
        /// Lower layers, the top one first (the kernel's lowerdir order).
        #[serde(with = "os_vec_path")]
        lowers: Vec<PathBuf>,
        #[serde(with = "os_path")]
        dest: PathBuf,
        upper: Upper,
    },
}

/// How an `FsOp::File` reaches its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileHow {
    Copy,
    Bind,
    BindRo,
}

/// Where an overlay's writes go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Upper {
    /// A tmpfs inside the sandbox: writes vanish at exit.
    Tmpfs,
    /// Host directories: writes persist there, the lowers never change.
    Dir {
        #[serde(with = "os_path")]
        upper: PathBuf,
        #[serde(with = "os_path")]
        work: PathBuf,
    },
    /// A state directory holding `upper/` and `work/`, created if absent and
    /// locked while a sandbox uses it.
    State {
        #[serde(with = "os_path")]
        dir: PathBuf,
    },
    /// No upper layer: the overlay is read-only.
    ReadOnly,
}

impl FsOp {
    /// The path inside the sandbox this operation acts on.
    pub fn dest(&self) -> &Path {
        match self {
            FsOp::Bind { dest, .. }
            | FsOp::Tmpfs { dest, .. }
            | FsOp::Proc { dest }
            | FsOp::Dev { dest }
            | FsOp::Dir { dest, .. }
            | FsOp::Symlink { dest, .. }
            | FsOp::Hide { dest, .. }
            | FsOp::File { dest, .. }
            | FsOp::Chmod { dest, .. }
            | FsOp::RemountRo { dest }
            | FsOp::Mqueue { dest }
            | FsOp::Overlay { dest, .. } => dest,
        }
    }

    /// Whether this operation mounts something at `/` itself, covering the
    /// root and everything mounted on it before: `/` then has this mount's
    /// own access (`--rw DIR:/` writable, `--ro DIR:/` read-only), and the
    /// read-only remount of the root is not applied over it.
    pub fn replaces_root(&self) -> bool {
        let meta = matches!(
            self,
            FsOp::Dir { .. } | FsOp::Symlink { .. } | FsOp::Chmod { .. } | FsOp::RemountRo { .. }
        );
        !meta && self.dest() == Path::new("/")
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}
