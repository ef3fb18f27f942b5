//! From what was asked (`--x11`, `--wayland`, `--audio`, `--gpu`, `--dbus`
//! and the profile keys) and what this session has, to what the sandbox
//! gets: the mounts, the environment, and the helpers the monitor starts.
//!
//! Pure: the session comes in a [`Session`]. Everything lands in a runtime
//! directory of the sandbox's own (a fresh 0700 tmpfs at the host's
//! `$XDG_RUNTIME_DIR` path, else `/run/user/UID`): only the sockets asked
//! for are bound into it, never the host's directory with its other
//! sockets (the keyring, gpg-agent, systemd's).
//!
//! `yes` (the command line's `--wayland`) refuses to run when the session
//! lacks the thing, naming what is missing; `auto` (the `desktop`
//! profile's) leaves it out and says so in a note. Either way a missing
//! display, sound server or GPU means less access, never more.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dbus::{self, BusPolicy};
use super::detect::{self, Kind, Session};
use super::x11;
pub use crate::plan::desktop::{AppState, Bus, BusMode, Desktop, Helper, HelperFile, X11};
use crate::plan::{Access, FsOp};

/// `--x11`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum X11Mode {
    /// No X11 inside (the default).
    #[default]
    None,
    /// The session's display: its socket and cookie.
    Host,
    /// A display of the command's own (Xephyr), shown on the session's.
    Nested,
    /// `host` when the session has an X11 display, else `none`.
    Auto,
}

impl X11Mode {
    pub fn parse(s: &str) -> Result<X11Mode, String> {
        match s {
            "none" => Ok(X11Mode::None),
            "host" => Ok(X11Mode::Host),
            "nested" => Ok(X11Mode::Nested),
            "auto" => Ok(X11Mode::Auto),
            other => Err(format!("{other:?} is not one of host, nested, none, auto")),
        }
    }
}

/// `--wayland`, `--audio`, `--gpu`: in a profile `true`, `false` or "auto".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Want {
    #[default]
    No,
    /// Required: refuse to run without it.
    Yes,
    /// Where the session has it.
    Auto,
}

impl Want {
    pub fn parse(s: &str) -> Result<Want, String> {
        match s {
            "no" | "false" => Ok(Want::No),
            "yes" | "true" => Ok(Want::Yes),
            "auto" => Ok(Want::Auto),
            other => Err(format!("{other:?} is not one of yes, no, auto")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Want::No => "no",
            Want::Yes => "yes",
            Want::Auto => "auto",
        }
    }
}

impl Serialize for Want {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Want::No => s.serialize_bool(false),
            Want::Yes => s.serialize_bool(true),
            Want::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Want {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Want, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(b) => Ok(if b { Want::Yes } else { Want::No }),
            Raw::Str(s) if s == "auto" => Ok(Want::Auto),
            Raw::Str(s) => Err(serde::de::Error::custom(format!("{s:?}: expected true, false or \"auto\""))),
        }
    }
}

/// One desktop setting of the command line or a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    X11(X11Mode),
    Wayland(Want),
    Audio(Want),
    Gpu(Want),
    Bus(BusMode),
    /// `--dbus-see`, `--dbus-talk`, `--dbus-own`, `--dbus-call`,
    /// `--dbus-system-talk`: each also makes a bus filtered when none was asked for.
    See(String),
    Talk(String),
    Own(String),
    Call(String),
    SystemTalk(String),
    /// `--app-state DIR` (absolute).
    AppState(PathBuf),
}

/// What the command line and the profiles asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub x11: X11Mode,
    pub wayland: Want,
    pub audio: Want,
    pub gpu: Want,
    pub bus: BusPolicy,
    pub app_state: Option<PathBuf>,
}

/// A bus-name setting: the [`Ask`] it becomes and the check its value passes.
pub type NameAsk = (fn(String) -> Ask, fn(&str) -> Result<(), String>);
pub const SEE: NameAsk = (Ask::See, dbus::check_name);
pub const TALK: NameAsk = (Ask::Talk, dbus::check_name);
pub const OWN: NameAsk = (Ask::Own, dbus::check_name);
pub const CALL: NameAsk = (Ask::Call, dbus::check_call);
pub const SYSTEM_TALK: NameAsk = (Ask::SystemTalk, dbus::check_name);

impl Asked {
    /// Folds one setting in: modes override, names append.
    pub fn apply(&mut self, a: &Ask) {
        let b = &mut self.bus;
        let filtered = |b: &mut BusPolicy| {
            if b.mode == BusMode::None {
                b.mode = BusMode::Filtered;
            }
        };
        match a {
            Ask::X11(m) => self.x11 = *m,
            Ask::Wayland(w) => self.wayland = *w,
            Ask::Audio(w) => self.audio = *w,
            Ask::Gpu(w) => self.gpu = *w,
            Ask::Bus(m) => b.mode = *m,
            Ask::See(n) => {
                filtered(b);
                b.see.push(n.clone())
            }
            Ask::Talk(n) => {
                filtered(b);
                b.talk.push(n.clone())
            }
            Ask::Own(n) => {
                filtered(b);
                b.own.push(n.clone())
            }
            Ask::Call(c) => {
                filtered(b);
                b.call.push(c.clone())
            }
            Ask::SystemTalk(n) => b.system_talk.push(n.clone()),
            Ask::AppState(d) => self.app_state = Some(d.clone()),
        }
    }
}

/// What the sandbox gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Mounts, after every other file-system operation.
    pub ops: Vec<FsOp>,
    /// Variables set for the command.
    pub env: Vec<(String, String)>,
    /// What the monitor starts and provides.
    pub desktop: Desktop,
}

/// Where the sandbox's runtime directory is.
pub fn runtime_dir(s: &Session, uid: u32) -> PathBuf {
    s.env
        .iter()
        .find(|(k, v)| k == "XDG_RUNTIME_DIR" && v.starts_with('/'))
        .map_or_else(|| PathBuf::from(format!("/run/user/{uid}")), |(_, v)| PathBuf::from(v))
}

fn var<'a>(s: &'a Session, name: &str) -> Option<&'a str> {
    s.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn bind(src: &Path, dest: &Path, access: Access, optional: bool) -> FsOp {
    FsOp::Bind { src: src.to_path_buf(), dest: dest.to_path_buf(), access, optional }
}

/// The note `-v` and `explain` print for `--x11 host`.
pub const X11_HOST_NOTE: &str =
    "X11: any client of a display can read the contents of every window on it and \
what is typed into them, and send them input; --x11 nested gives the command a display of its own";

/// Resolves `asked` against the session `s` for the user `uid`.
pub fn resolve(asked: &Asked, s: &Session, uid: u32) -> Result<Resolved, String> {
    let mut r = Resolved::default();
    let rt = runtime_dir(s, uid);
    x11_part(asked.x11, s, &rt, &mut r)?;
    wayland_part(asked.wayland, s, &rt, &mut r)?;
    audio_part(asked.audio, s, &rt, &mut r)?;
    gpu_part(asked.gpu, s, &mut r)?;
    bus_part(&asked.bus, s, &rt, &mut r)?;
    if let Some(dir) = &asked.app_state {
        let dest = var(s, "XDG_CONFIG_HOME")
            .filter(|d| d.starts_with('/'))
            .map_or_else(|| s.home.join(".config"), PathBuf::from);
        r.desktop.app_state = Some(crate::plan::desktop::AppState { dir: dir.clone(), dest });
    }
    if !r.ops.is_empty() || !r.desktop.helpers.is_empty() {
        r.ops.insert(0, FsOp::Tmpfs { dest: rt.clone(), mode: 0o700, size: None });
        r.env.insert(0, ("XDG_RUNTIME_DIR".into(), rt.display().to_string()));
    }
    Ok(r)
}

/// The session's display, when it is a local one with its socket there.
fn host_display(s: &Session) -> Result<(x11::Display, String), String> {
    let value = var(s, "DISPLAY").ok_or("DISPLAY is not set")?;
    let d = x11::Display::parse(value)?;
    match s.kind_of(&d.socket()) {
        Some(Kind::Socket) => Ok((d, value.to_string())),
        _ => Err(format!("DISPLAY={value} but there is no socket {}", d.socket().display())),
    }
}

fn x11_part(mode: X11Mode, s: &Session, rt: &Path, r: &mut Resolved) -> Result<(), String> {
    if mode == X11Mode::None {
        return Ok(());
    }
    let (display, value) = match (host_display(s), mode) {
        (Ok(d), _) => d,
        (Err(e), X11Mode::Auto) => {
            r.desktop.notes.push(format!("X11 left out: {e}"));
            return Ok(());
        }
        (Err(e), X11Mode::Nested) => return Err(format!("--x11 nested shows on the session's display: {e}")),
        (Err(e), _) => return Err(format!("--x11 host: {e}")),
    };
    let xauthority = x11::auth_file(var(s, "XAUTHORITY"), &s.home);
    let auth_inside = rt.join("Xauthority");
    let inside_number = if mode == X11Mode::Nested { 0 } else { display.number };
    if mode == X11Mode::Nested {
        r.desktop.helpers.push(Helper { what: HelperFile::NestedDisplay, dest: x11::socket(0) });
        r.desktop.x11 = Some(X11::Nested { display: value, xauthority });
    } else {
        r.ops.push(bind(&display.socket(), &display.socket(), Access::ReadOnly, false));
        r.desktop.x11 = Some(X11::Host { number: display.number, xauthority });
        r.desktop.notes.push(X11_HOST_NOTE.into());
    }
    r.desktop.helpers.push(Helper { what: HelperFile::Xauthority, dest: auth_inside.clone() });
    r.env.push(("DISPLAY".into(), format!(":{inside_number}")));
    r.env.push(("XAUTHORITY".into(), auth_inside.display().to_string()));
    Ok(())
}

/// Looks up something the session may have: `Ok(None)` when `want` is
/// `auto` and it is missing (with a note), an error when it is `yes`.
fn wanted<T>(
    want: Want,
    what: &str,
    flag: &str,
    found: Result<T, String>,
    r: &mut Resolved,
) -> Result<Option<T>, String> {
    match (want, found) {
        (Want::No, _) => Ok(None),
        (_, Ok(t)) => Ok(Some(t)),
        (Want::Auto, Err(e)) => {
            r.desktop.notes.push(format!("{what} left out: {e}"));
            Ok(None)
        }
        (Want::Yes, Err(e)) => Err(format!("{flag}: {e}")),
    }
}

fn socket_at(s: &Session, path: Option<PathBuf>, what: &str) -> Result<PathBuf, String> {
    let p = path.ok_or_else(|| format!("no {what} named by the environment"))?;
    match s.kind_of(&p) {
        Some(Kind::Socket) => Ok(p),
        _ => Err(format!("no {what} socket at {}", p.display())),
    }
}

fn wayland_part(want: Want, s: &Session, rt: &Path, r: &mut Resolved) -> Result<(), String> {
    let found = socket_at(s, detect::wayland_socket(s), "Wayland compositor");
    let Some(sock) = wanted(want, "Wayland", "--wayland", found, r)? else { return Ok(()) };
    let name = sock.file_name().map_or_else(|| "wayland-0".into(), |n| n.to_string_lossy().into_owned());
    r.ops.push(bind(&sock, &rt.join(&name), Access::ReadOnly, false));
    r.env.push(("WAYLAND_DISPLAY".into(), name));
    Ok(())
}

fn audio_part(want: Want, s: &Session, rt: &Path, r: &mut Resolved) -> Result<(), String> {
    let found = socket_at(s, detect::pulse_socket(s), "PulseAudio (or PipeWire pulse)");
    let Some(sock) = wanted(want, "Sound", "--audio", found, r)? else { return Ok(()) };
    r.ops.push(bind(&sock, &rt.join("pulse/native"), Access::ReadOnly, false));
    let cookie = var(s, "PULSE_COOKIE").map_or_else(|| s.home.join(".config/pulse/cookie"), PathBuf::from);
    r.ops.push(bind(&cookie, &cookie, Access::ReadOnly, true));
    Ok(())
}

/// sysfs entries Mesa and libdrm read to identify a GPU.
const GPU_SYSFS: [&str; 3] = ["/sys/dev/char", "/sys/devices", "/sys/class/drm"];

fn gpu_part(want: Want, s: &Session, r: &mut Resolved) -> Result<(), String> {
    let found = match s.gpu_nodes.is_empty() {
        true => Err("no /dev/dri/renderD* or /dev/nvidia* device nodes".to_string()),
        false => Ok(s.gpu_nodes.clone()),
    };
    let Some(nodes) = wanted(want, "GPU", "--gpu", found, r)? else { return Ok(()) };
    for n in nodes {
        r.ops.push(bind(&n, &n, Access::Device, false));
    }
    for p in GPU_SYSFS {
        r.ops.push(bind(Path::new(p), Path::new(p), Access::ReadOnly, true));
    }
    Ok(())
}

/// Where the system bus's socket is inside.
pub const SYSTEM_BUS_INSIDE: &str = "/run/dbus/system_bus_socket";

fn bus_part(policy: &BusPolicy, s: &Session, rt: &Path, r: &mut Resolved) -> Result<(), String> {
    if !policy.session() && !policy.system() {
        return Ok(());
    }
    policy.check().map_err(|e| format!("--dbus: {e}"))?;
    let socket_dir = var(s, "XDG_RUNTIME_DIR")
        .filter(|d| d.starts_with('/'))
        .ok_or("--dbus: XDG_RUNTIME_DIR is not set (the proxy's socket is made there)")?;
    let session =
        dbus::session_address(var(s, "DBUS_SESSION_BUS_ADDRESS"), Some(socket_dir)).unwrap_or_default();
    if policy.session() {
        let inside = rt.join("bus");
        r.desktop.helpers.push(Helper { what: HelperFile::SessionBus, dest: inside.clone() });
        r.env.push(("DBUS_SESSION_BUS_ADDRESS".into(), format!("unix:path={}", inside.display())));
        if policy.mode == dbus::BusMode::Open {
            r.desktop.notes.push(
                "D-Bus open: the command can call every service of your session (systemd --user, the \
                 desktop shell, …), which can act outside the sandbox for it"
                    .into(),
            );
        }
    }
    let system = policy.system().then(|| dbus::system_address(var(s, "DBUS_SYSTEM_BUS_ADDRESS")));
    if system.is_some() {
        r.desktop
            .helpers
            .push(Helper { what: HelperFile::SystemBus, dest: PathBuf::from(SYSTEM_BUS_INSIDE) });
        r.env.push(("DBUS_SYSTEM_BUS_ADDRESS".into(), format!("unix:path={SYSTEM_BUS_INSIDE}")));
    }
    r.desktop.bus =
        Some(Bus { policy: policy.clone(), session, system, socket_dir: PathBuf::from(socket_dir) });
    Ok(())
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
