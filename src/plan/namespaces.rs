//! The namespaces of a Plan: which are the sandbox's own, the ids inside,
//! and how the user and pid namespaces are set up beyond "a new one".

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::idmap::{Extent, Setgroups};

/// `true` means "a new namespace of this kind"; the mount namespace is always new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    pub user: bool,
    pub pid: bool,
    pub ipc: bool,
    pub uts: bool,
    pub net: bool,
    pub cgroup: bool,
}

impl Namespaces {
    pub const ALL: Namespaces =
        Namespaces { user: true, pid: true, ipc: true, uts: true, net: true, cgroup: true };
}

/// Ids inside the sandbox; each maps to the caller's own id outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// How the sandbox's user namespace maps ids (`--userns`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum IdMap {
    /// `self`: the command's uid and gid ([`super::Plan::ids`]) are the
    /// caller's own outside, and no other id exists inside. The monitor
    /// writes the maps, with setgroups denied.
    #[default]
    #[serde(rename = "self")]
    Own,
    /// `auto`: the command's ids are the caller's own, every other id maps
    /// to the caller's subordinate ids (/etc/subuid, /etc/subgid).
    Ranges(Ranges),
}

impl IdMap {
    pub fn is_own(&self) -> bool {
        *self == IdMap::Own
    }
}

/// The maps of `--userns auto`, decided before anything starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranges {
    /// The lines of uid_map, in the order written.
    pub uid: Vec<Extent>,
    /// The lines of gid_map.
    pub gid: Vec<Extent>,
    /// What /proc/PID/setgroups says once the maps are written.
    pub setgroups: Setgroups,
    /// The setuid helpers that write the maps; `None`: the caller is root,
    /// and the monitor writes them itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helpers: Option<MapHelpers>,
}

/// newuidmap and newgidmap, as found along PATH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapHelpers {
    #[serde(with = "super::os_path")]
    pub newuidmap: PathBuf,
    #[serde(with = "super::os_path")]
    pub newgidmap: PathBuf,
}

/// Namespaces joined instead of created, id maps left to a helper, a
/// nested user namespace. The default: none of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NsSetup {
    /// Join the user namespace of this caller's descriptor instead of
    /// creating one (`namespaces.user` is then off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_user_fd: Option<i32>,
    /// Join the pid namespace of this descriptor; a new one
    /// (`namespaces.pid`) is made beneath it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_pid_fd: Option<i32>,
    /// Enter the user namespace of this descriptor once the file system
    /// is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enter_user_fd: Option<i32>,
    /// A helper outside writes the id maps: the monitor writes none, and
    /// waits for one byte (or EOF) on this descriptor before the sandbox
    /// goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_helper_fd: Option<i32>,
    /// `Some(outer)`: the user namespace maps the caller's ids to `outer`,
    /// and once the file system is built init moves into a nested user
    /// namespace mapping [`super::Plan::ids`] onto `outer`. With `outer`
    /// root, a /dev mounted inside gets a devpts that belongs to the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nest: Option<Ids>,
    /// No user namespace can be made inside: the outer one allows only
    /// the nested one (`max_user_namespaces` 1); needs `nest`.
    pub disable_userns: bool,
    /// Refuse to run unless a user namespace cannot be made inside.
    pub assert_userns_disabled: bool,
}
