//! The profile file format (documented in sandbox-profile(5)).
//!
//! serde with `deny_unknown_fields`, so a typo is an error naming the key;
//! `Spanned` values, so every error and every `explain` origin carries
//! file:line:col, and so entries apply in the order they are written (by
//! position in the file, not by key). The same types, serialized, are what
//! `sandbox profiles show` prints ([`super::render`]); [`super::read`] turns
//! a parsed file into settings.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::desktop::resolve::{BusMode, Want, X11Mode};
use crate::plan::landlock::Mode;
use crate::settings::{BindCwd, CacheMode, Net, Share, Userns};

/// A value with the place it was written (`0..0` for values rendered by
/// `sandbox profiles show`).
pub type S<T> = Spanned<T>;

/// Whether a section has nothing to say (it is then not rendered).
fn is_empty<T: Serialize>(section: &T) -> bool {
    toml::Value::try_from(section).is_ok_and(|v| v.as_table().is_some_and(|t| t.is_empty()))
}

#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Doc {
    /// One line shown by `sandbox profiles list`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Profiles applied before this one: names on the search path, or paths
    /// (with a `/`) relative to this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<S<String>>,
    /// Run even when a confinement cannot be applied (`--best-effort`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_effort: Option<S<bool>>,
    /// `--mode`: "namespaces" (the default) or "landlock".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<S<Mode>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub filesystem: Filesystem,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub environment: Environment,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub network: Network,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub process: Process,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub landlock: Landlock,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub seccomp: Seccomp,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub desktop: Desktop,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub dbus: Dbus,
}

/// `[filesystem]`: each key is the native option of the same name. The
/// fields are declared in the order `sandbox profiles show` writes them,
/// which is the order they apply in when that output is loaded: the
/// system's binds and links, hidden paths, fresh mounts, the current
/// directory, then the binds and overlays that may land inside those, and
/// last the directories and links created.
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Filesystem {
    /// `--rootfs DIR`: the root is this host directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rw_rootfs: Option<S<bool>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ro: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_usr: Option<S<bool>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hide: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hide_try: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dev: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proc: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_cwd: Option<S<BindCwd>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ro_try: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rw: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rw_try: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dev_bind: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlay: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub persist: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ro_overlay: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mkdir: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symlink: Vec<S<String>>,
    /// `--no-toolchains` when false (the default profile says true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolchains: Option<S<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caches: Option<S<CacheMode>>,
}

/// `[environment]`: `set` (a table NAME = VALUE, `--env`), `keep`
/// (`--keep-env`), `clear` (`--clear-env`, applied before this file's
/// keep and set).
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Environment {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear: Option<S<bool>>,
}

/// `[network]`: `mode` (`--net`), `publish`, `allow-host-loopback`,
/// `allow-hosts` (`--allow-host`), `allow-addrs` (`--allow-addr`),
/// `allow-connect`, `allow-bind` (TCP ports, enforced by landlock).
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<S<Net>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_host_loopback: Option<S<bool>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_addrs: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_connect: Vec<S<u16>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_bind: Vec<S<u16>>,
}

/// `[limits]`: `timeout`, `kill-after` (durations: "30s", "5m"), `limit`
/// (["nofile=1024", ...], `--limit`), `memory` ("512M"), `pids`, `cpus`
/// ("0.5"), `io-weight`. Each is the native option of the same name.
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_after: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limit: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<S<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_weight: Option<S<u16>>,
}

/// `[seccomp]`: `base` (`--seccomp default|none`), `deny`
/// (`--seccomp-deny NAME[:ERRNO]`), `allow` (`--seccomp-allow`), `policy`
/// (`--seccomp-policy FILE`), `oci` (`--seccomp-oci FILE`), `log`
/// (`--seccomp-log`), `allow-userns` (`--allow-userns`).
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Seccomp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<S<crate::plan::seccomp::Base>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oci: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<S<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_userns: Option<S<bool>>,
}

/// `[landlock]`: each key is the native option of the same name;
/// `enabled = false` is `--no-landlock`.
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Landlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<S<bool>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_read: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_write: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_exec: Vec<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_signals: Option<S<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_abstract_unix: Option<S<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_denials: Option<S<bool>>,
}

/// `[process]`: each key is the native option of the same name.
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Process {
    /// `--userns self|auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns: Option<S<Userns>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<S<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<S<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<S<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub die_with_parent: Option<S<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_session: Option<S<bool>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share: Vec<S<Share>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_fd: Vec<S<i32>>,
}

/// `[desktop]`: `x11` (`--x11 host|nested|none|auto`), `wayland`, `audio`,
/// `gpu` (`--wayland` and the others: true, false or "auto"), `app-state`
/// (`--app-state DIR`).
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Desktop {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x11: Option<S<X11Mode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wayland: Option<S<Want>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<S<Want>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<S<Want>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_state: Option<S<String>>,
}

/// `[dbus]`: `mode` (`--dbus none|filtered|open`), `see`, `talk`, `own`,
/// `call`, `system-talk` (`--dbus-see` and the others).
#[derive(Deserialize, Serialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Dbus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<S<BusMode>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub see: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub talk: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call: Vec<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_talk: Vec<S<String>>,
}
