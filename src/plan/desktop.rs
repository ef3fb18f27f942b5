//! The desktop part of a Plan: what the monitor starts and provides for
//! `--x11`, `--dbus` (the mounts and variables of `--wayland`, `--audio`,
//! `--gpu` and the host display are ordinary operations in `fs` and `env`).
//! Built by `crate::desktop::resolve` from the options and the session.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What the monitor does for a desktop application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desktop {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x11: Option<X11>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<Bus>,
    /// Files the monitor provides when the sandbox starts, with their
    /// destination inside; appended after every operation of `fs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<Helper>,
    /// What `explain` and `-v` say: openings to be aware of, things left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state: Option<AppState>,
}

/// `--app-state DIR`: the command's own settings, kept between runs in
/// `DIR/NAME/config` (NAME: the command's file name; created 0700, never
/// through a symlink) and bound read-write at `dest` (the user's
/// `$XDG_CONFIG_HOME`) right after the mount that `dest` lies in, so the
/// read-only binds beneath it still apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppState {
    #[serde(with = "super::os_path")]
    pub dir: PathBuf,
    #[serde(with = "super::os_path")]
    pub dest: PathBuf,
}

impl Desktop {
    pub fn is_empty(&self) -> bool {
        *self == Desktop::default()
    }
}

/// One file the monitor provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Helper {
    pub what: HelperFile,
    #[serde(with = "super::os_path")]
    pub dest: PathBuf,
}

/// A file the monitor provides when the sandbox starts: its source only
/// exists then (a helper's socket) or must not be in the plan (a cookie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelperFile {
    /// The session bus proxy's socket.
    SessionBus,
    /// The system bus proxy's socket.
    SystemBus,
    /// The nested X server's socket.
    NestedDisplay,
    /// An Xauthority with the one cookie of the display inside.
    Xauthority,
}

/// The X11 part the monitor acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum X11 {
    /// The session's display `number`; the cookie comes from `xauthority`.
    Host {
        number: u32,
        #[serde(with = "super::os_path")]
        xauthority: PathBuf,
    },
    /// Xephyr on the session's display (`display`, `xauthority`), in a
    /// window titled after the command; display 0 inside.
    Nested {
        display: String,
        #[serde(with = "super::os_path")]
        xauthority: PathBuf,
    },
}

/// The session bus part the monitor acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    pub policy: BusPolicy,
    /// The real session bus's address.
    pub session: String,
    /// The real system bus's address, when system names were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Where the proxy's sockets are made (the host's `$XDG_RUNTIME_DIR`).
    #[serde(with = "super::os_path")]
    pub socket_dir: PathBuf,
}

/// How much of the session bus the command gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusMode {
    /// No bus: nothing of the session bus inside (the default).
    #[default]
    None,
    /// Through xdg-dbus-proxy with `--filter` and the policy.
    Filtered,
    /// The whole bus, through the proxy without a filter.
    Open,
}

impl BusMode {
    pub fn parse(s: &str) -> Result<BusMode, String> {
        match s {
            "none" => Ok(BusMode::None),
            "filtered" => Ok(BusMode::Filtered),
            "open" => Ok(BusMode::Open),
            other => Err(format!("{other:?} is not one of none, filtered, open")),
        }
    }
}

/// What the command may do on the session bus (and on the system bus),
/// beyond talking to the bus itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusPolicy {
    pub mode: BusMode,
    /// Names it may see (listed, owner lookup).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub see: Vec<String>,
    /// Names it may call and receive signals from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub talk: Vec<String>,
    /// Names it may own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own: Vec<String>,
    /// `NAME=RULE`: only these calls on NAME.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call: Vec<String>,
    /// Names on the system bus it may talk to; any makes a filtered system
    /// bus appear at /run/dbus/system_bus_socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_talk: Vec<String>,
}

impl HelperFile {
    /// What `explain` calls it.
    pub fn describe(self) -> &'static str {
        match self {
            HelperFile::SessionBus => "the session bus, through xdg-dbus-proxy",
            HelperFile::SystemBus => "the system bus, through xdg-dbus-proxy",
            HelperFile::NestedDisplay => "the nested X server's socket (Xephyr)",
            HelperFile::Xauthority => "an Xauthority with only the display's cookie",
        }
    }
}

impl std::fmt::Display for Desktop {
    /// `explain`'s lines for the helpers (nothing when there are none).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(f, "desktop:")?;
        match &self.x11 {
            Some(X11::Host { number, .. }) => writeln!(f, "  x11 host: the session's display :{number}")?,
            Some(X11::Nested { display, .. }) => {
                writeln!(f, "  x11 nested: Xephyr on {display}, without MIT-SHM, its own cookie; :0 inside")?
            }
            None => {}
        }
        if let Some(b) = &self.bus {
            let p = &b.policy;
            let mut rules = vec![format!("{:?}", p.mode).to_lowercase()];
            for (what, names) in [("see", &p.see), ("talk", &p.talk), ("own", &p.own), ("call", &p.call)] {
                rules.extend(names.iter().map(|n| format!("{what} {n}")));
            }
            writeln!(f, "  session bus {}: {}", b.session, rules.join(", "))?;
            if !p.system_talk.is_empty() {
                writeln!(f, "  system bus: talk {}", p.system_talk.join(", "))?;
            }
        }
        for h in &self.helpers {
            writeln!(f, "  {} <- {}", crate::escape::path(&h.dest), h.what.describe())?;
        }
        if let Some(a) = &self.app_state {
            let (dir, dest) = (crate::escape::path(&a.dir), crate::escape::path(&a.dest));
            writeln!(f, "  {dest} <- {dir}/NAME/config read-write, kept between runs (NAME: the command's)")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}
