//! What this graphical session offers a sandboxed application, for
//! `sandbox check`: the X11 display, the Wayland compositor, the audio
//! server, the session bus, GPU device nodes, and the helper programs the
//! desktop options need, each with the Debian package that brings it.
//!
//! The verdicts are pure functions of a [`Session`] (the environment and
//! what a few paths are), so they are tested for any host; [`Session::read`]
//! fills one in from this one.

use std::path::{Path, PathBuf};

use super::{dbus, x11};

/// A verdict, as `sandbox check` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Limited,
    Missing,
}

/// One line of `sandbox check`: the status, the feature, what was found
/// and, where something is lacking, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    pub feature: &'static str,
    pub detail: String,
    pub fix: Option<String>,
}

/// What one path on the host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Socket,
    CharDevice,
    File,
    Dir,
    Other,
}

/// The facts the verdicts need.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub env: Vec<(String, String)>,
    pub home: PathBuf,
    /// Paths looked at, with what they are (absent: not there).
    pub paths: Vec<(PathBuf, Kind)>,
    /// Device nodes of GPUs: `/dev/dri/renderD*`, `/dev/nvidia*`.
    pub gpu_nodes: Vec<PathBuf>,
    /// Helper programs found in PATH.
    pub programs: Vec<(&'static str, PathBuf)>,
}

/// The helper programs, what needs them, and their Debian packages.
pub const HELPERS: [(&str, &str, &str); 2] = [
    ("xdg-dbus-proxy", "--dbus filtered|open, --dbus-system-talk", "xdg-dbus-proxy"),
    ("Xephyr", "--x11 nested", "xserver-xephyr"),
];

impl Session {
    fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// What `p` is, if it was looked at and is there.
    pub fn kind_of(&self, p: &Path) -> Option<Kind> {
        self.paths.iter().find(|(q, _)| q == p).map(|(_, k)| *k)
    }

    /// The paths [`Session::read`] looks at for this environment.
    fn wanted(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(d) = self.var("DISPLAY").and_then(|d| x11::Display::parse(d).ok()) {
            out.push(d.socket());
        }
        out.push(x11::auth_file(self.var("XAUTHORITY"), &self.home));
        out.extend(wayland_socket(self));
        out.extend(pulse_socket(self));
        out.extend(self.var("XDG_RUNTIME_DIR").map(|r| Path::new(r).join("pipewire-0")));
        out.extend(bus_path(self));
        out
    }

    /// This host's session for the environment `env`: the paths above, GPU
    /// nodes, helper programs in env's PATH.
    pub fn read(env: Vec<(String, String)>, home: &Path) -> Session {
        let mut s = Session { env, home: home.to_path_buf(), ..Session::default() };
        for p in s.wanted() {
            if let Ok(m) = std::fs::metadata(&p) {
                s.paths.push((p, kind_of(&m)));
            }
        }
        for dir in ["/dev/dri", "/dev"] {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut found: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| is_gpu_node(p)).collect();
            found.sort();
            s.gpu_nodes.extend(found);
        }
        let path = s.var("PATH").unwrap_or("/usr/local/bin:/usr/bin:/bin").to_string();
        for (prog, _, _) in HELPERS {
            if let Some(p) = which(&path, prog) {
                s.programs.push((prog, p));
            }
        }
        s
    }
}

impl Session {
    /// A session that has everything (X11 on :0, Wayland, sound, the bus, a
    /// GPU, the helpers), as `/run/user/1000`: for tests of the front ends.
    pub fn fake() -> Session {
        let rt = "/run/user/1000";
        let socket = |p: String| (PathBuf::from(p), Kind::Socket);
        Session {
            env: [("DISPLAY", ":0"), ("WAYLAND_DISPLAY", "wayland-0"), ("XDG_RUNTIME_DIR", rt)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: PathBuf::from("/home/u"),
            paths: vec![
                socket("/tmp/.X11-unix/X0".into()),
                socket(format!("{rt}/wayland-0")),
                socket(format!("{rt}/pulse/native")),
                socket(format!("{rt}/bus")),
            ],
            gpu_nodes: vec![PathBuf::from("/dev/dri/renderD128")],
            programs: HELPERS.iter().map(|(p, _, _)| (*p, PathBuf::from("/usr/bin").join(p))).collect(),
        }
    }
}

/// `prog` in the directories of `path`: an executable file.
pub fn which(path: &str, prog: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|d| d.join(prog))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn kind_of(m: &std::fs::Metadata) -> Kind {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    match () {
        _ if t.is_socket() => Kind::Socket,
        _ if t.is_char_device() => Kind::CharDevice,
        _ if t.is_file() => Kind::File,
        _ if t.is_dir() => Kind::Dir,
        _ => Kind::Other,
    }
}

/// `/dev/dri/renderD*` and the NVIDIA nodes (`/dev/nvidia0`, `nvidiactl`,
/// `nvidia-uvm`, `nvidia-modeset`, …).
pub fn is_gpu_node(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match p.parent().and_then(|d| d.to_str()) {
        Some("/dev/dri") => name.starts_with("renderD"),
        Some("/dev") => name.starts_with("nvidia"),
        _ => false,
    }
}

/// The Wayland socket: `$WAYLAND_DISPLAY` (a name in `$XDG_RUNTIME_DIR`,
/// or an absolute path), `wayland-0` when unset.
pub fn wayland_socket(s: &Session) -> Option<PathBuf> {
    let name = s.var("WAYLAND_DISPLAY")?;
    if name.starts_with('/') {
        return Some(PathBuf::from(name));
    }
    Some(Path::new(s.var("XDG_RUNTIME_DIR")?).join(name))
}

/// The PulseAudio socket (PipeWire's pulse server uses the same one):
/// `$PULSE_SERVER` when it is `unix:PATH`, else `$XDG_RUNTIME_DIR/pulse/native`.
pub fn pulse_socket(s: &Session) -> Option<PathBuf> {
    if let Some(server) = s.var("PULSE_SERVER") {
        return server.strip_prefix("unix:").map(PathBuf::from);
    }
    Some(Path::new(s.var("XDG_RUNTIME_DIR")?).join("pulse/native"))
}

fn bus_path(s: &Session) -> Option<PathBuf> {
    let address = dbus::session_address(s.var("DBUS_SESSION_BUS_ADDRESS"), s.var("XDG_RUNTIME_DIR"))?;
    dbus::address_path(&address).map(PathBuf::from)
}

fn line(status: Status, feature: &'static str, detail: String, fix: Option<String>) -> Line {
    Line { status, feature, detail, fix }
}

fn x11_line(s: &Session) -> Line {
    const F: &str = "X11 display";
    let Some(value) = s.var("DISPLAY") else {
        return line(Status::Missing, F, "DISPLAY is not set".into(), Some(X11_FIX.into()));
    };
    let display = match x11::Display::parse(value) {
        Ok(d) => d,
        Err(e) => return line(Status::Limited, F, e, Some("run from a local X session".into())),
    };
    let sock = display.socket();
    if s.kind_of(&sock) != Some(Kind::Socket) {
        return line(
            Status::Missing,
            F,
            format!("{value}: no socket {}", sock.display()),
            Some(X11_FIX.into()),
        );
    }
    let auth = x11::auth_file(s.var("XAUTHORITY"), &s.home);
    let auth_note = match s.kind_of(&auth) {
        Some(Kind::File) => format!("Xauthority {}", auth.display()),
        _ => "no Xauthority file (the server must allow this user another way)".into(),
    };
    let nested = match s.programs.iter().any(|(p, _)| *p == "Xephyr") {
        true => "--x11 nested available (Xephyr)",
        false => "--x11 nested needs Xephyr",
    };
    line(Status::Ok, F, format!("{value} at {}, {auth_note}; {nested}", sock.display()), None)
}

const X11_FIX: &str = "run from an X11 session (or Xwayland) for --x11";

fn socket_line(feature: &'static str, what: &str, path: Option<PathBuf>, s: &Session, fix: &str) -> Line {
    let fix = Some(fix.to_string());
    match path {
        Some(p) if s.kind_of(&p) == Some(Kind::Socket) => {
            line(Status::Ok, feature, p.display().to_string(), None)
        }
        Some(p) => line(Status::Missing, feature, format!("no {what} socket at {}", p.display()), fix),
        None => line(Status::Missing, feature, format!("no {what} named by the environment"), fix),
    }
}

fn audio_line(s: &Session) -> Line {
    let fix = "start PulseAudio, or PipeWire with pipewire-pulse, for --audio";
    let mut l = socket_line("audio", "PulseAudio (or PipeWire's pulse)", pulse_socket(s), s, fix);
    let pipewire = s.var("XDG_RUNTIME_DIR").map(|r| Path::new(r).join("pipewire-0"));
    if l.status == Status::Ok && pipewire.is_some_and(|p| s.kind_of(&p) == Some(Kind::Socket)) {
        l.detail.push_str(" (PipeWire)");
    }
    l
}

fn bus_line(s: &Session) -> Line {
    const F: &str = "session bus";
    let address = dbus::session_address(s.var("DBUS_SESSION_BUS_ADDRESS"), s.var("XDG_RUNTIME_DIR"));
    let proxy = s.programs.iter().any(|(p, _)| *p == "xdg-dbus-proxy");
    let fix = || Some("run from a session with a D-Bus session bus for --dbus".to_string());
    let mut l = match (address, bus_path(s)) {
        (None, _) => {
            line(Status::Missing, F, "DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR unset".into(), fix())
        }
        (Some(a), Some(p)) if s.kind_of(&p) != Some(Kind::Socket) => {
            line(Status::Missing, F, format!("{a}: no socket at {}", p.display()), fix())
        }
        (Some(a), _) => line(Status::Ok, F, a, None),
    };
    if l.status == Status::Ok && !proxy {
        l.status = Status::Limited;
        l.detail.push_str("; --dbus needs xdg-dbus-proxy");
        l.fix = Some("apt install xdg-dbus-proxy".into());
    }
    l
}

fn gpu_line(s: &Session) -> Line {
    if s.gpu_nodes.is_empty() {
        let fix = "none needed: programs render in software without one";
        return line(
            Status::Missing,
            "GPU",
            "no /dev/dri/renderD* or /dev/nvidia* nodes".into(),
            Some(fix.into()),
        );
    }
    let names: Vec<String> = s.gpu_nodes.iter().map(|p| p.display().to_string()).collect();
    line(Status::Ok, "GPU", names.join(" "), None)
}

fn helper_lines(s: &Session) -> Vec<Line> {
    HELPERS
        .iter()
        .map(|&(prog, used, package)| match s.programs.iter().find(|(p, _)| *p == prog) {
            Some((_, path)) => line(Status::Ok, prog, format!("{} (for {used})", path.display()), None),
            None => line(
                Status::Missing,
                prog,
                format!("not in PATH (needed for {used})"),
                Some(format!("apt install {package}")),
            ),
        })
        .collect()
}

/// The desktop lines of `sandbox check`, in order.
pub fn lines(s: &Session) -> Vec<Line> {
    let mut out = vec![
        x11_line(s),
        socket_line(
            "Wayland",
            "Wayland compositor",
            wayland_socket(s),
            s,
            "run from a Wayland session for --wayland",
        ),
        audio_line(s),
        bus_line(s),
        gpu_line(s),
    ];
    out.extend(helper_lines(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(env: &[(&str, &str)], paths: &[(&str, Kind)]) -> Session {
        Session {
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            home: PathBuf::from("/home/u"),
            paths: paths.iter().map(|(p, k)| (PathBuf::from(p), *k)).collect(),
            ..Session::default()
        }
    }

    fn find<'a>(lines: &'a [Line], feature: &str) -> &'a Line {
        lines.iter().find(|l| l.feature == feature).unwrap()
    }

    #[test]
    fn a_full_session() {
        let mut s = session(
            &[
                ("DISPLAY", ":1"),
                ("WAYLAND_DISPLAY", "wayland-0"),
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
                ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
            ],
            &[
                ("/tmp/.X11-unix/X1", Kind::Socket),
                ("/home/u/.Xauthority", Kind::File),
                ("/run/user/1000/wayland-0", Kind::Socket),
                ("/run/user/1000/pulse/native", Kind::Socket),
                ("/run/user/1000/pipewire-0", Kind::Socket),
                ("/run/user/1000/bus", Kind::Socket),
            ],
        );
        s.gpu_nodes = vec![PathBuf::from("/dev/dri/renderD128")];
        s.programs =
            vec![("xdg-dbus-proxy", "/usr/bin/xdg-dbus-proxy".into()), ("Xephyr", "/usr/bin/Xephyr".into())];
        let l = lines(&s);
        assert!(l[..5].iter().all(|l| l.status == Status::Ok), "{l:#?}");
        assert!(find(&l, "X11 display").detail.contains("--x11 nested available"));
        assert!(find(&l, "audio").detail.ends_with("(PipeWire)"));
        assert_eq!(find(&l, "GPU").detail, "/dev/dri/renderD128");
        assert_eq!(find(&l, "Xephyr").status, Status::Ok);
    }

    #[test]
    fn an_empty_session_says_what_is_missing_and_how_to_get_it() {
        let l = lines(&session(&[], &[]));
        assert_eq!(find(&l, "X11 display").detail, "DISPLAY is not set");
        assert_eq!(find(&l, "Wayland").status, Status::Missing);
        assert_eq!(find(&l, "session bus").status, Status::Missing);
        assert_eq!(find(&l, "xdg-dbus-proxy").fix.as_deref(), Some("apt install xdg-dbus-proxy"));
        assert_eq!(find(&l, "Xephyr").fix.as_deref(), Some("apt install xserver-xephyr"));
        let tcp = lines(&session(&[("DISPLAY", "localhost:10.0")], &[]));
        assert_eq!(find(&tcp, "X11 display").status, Status::Limited);
        let nobus = lines(&session(&[("XDG_RUNTIME_DIR", "/r")], &[("/r/bus", Kind::Socket)]));
        let bus = find(&nobus, "session bus");
        assert_eq!((bus.status, bus.fix.as_deref()), (Status::Limited, Some("apt install xdg-dbus-proxy")));
    }

    #[test]
    fn sockets_from_the_environment() {
        let s = session(&[("WAYLAND_DISPLAY", "/abs/wl"), ("PULSE_SERVER", "unix:/p/native")], &[]);
        assert_eq!(wayland_socket(&s), Some(PathBuf::from("/abs/wl")));
        assert_eq!(pulse_socket(&s), Some(PathBuf::from("/p/native")));
        assert_eq!(pulse_socket(&session(&[("PULSE_SERVER", "tcp:host")], &[])), None);
        assert!(is_gpu_node(Path::new("/dev/dri/renderD129")));
        assert!(is_gpu_node(Path::new("/dev/nvidia-uvm")));
        assert!(!is_gpu_node(Path::new("/dev/dri/card0")));
        assert!(!is_gpu_node(Path::new("/dev/null")));
    }
}
