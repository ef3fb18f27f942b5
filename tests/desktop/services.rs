//! The desktop a test needs, started by the test as the sandbox's caller
//! (the unprivileged test user when the tests run as root): an X server
//! (Xvfb, which needs a cookie), a session bus with two services, a
//! PulseAudio server with a null sink, a headless Weston. Each waits for
//! its server's own word that it is ready (Xvfb's `-displayfd`,
//! dbus-daemon's `--print-address`, the service's "ready" line) or for its
//! socket and a client that gets an answer, always with a time-out; each
//! is killed with everything it started when dropped.
//!
//! A missing program is a [`skip`] (a failure under CI=true, where
//! .ci/run installs them all).

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{as_caller, out, skip, spawn, Dir, Proc};
use sandbox::desktop::x11;

/// Whether every program in `progs` is installed; a [`skip`] naming the
/// missing ones when not.
pub fn have(progs: &[&str]) -> bool {
    let missing: Vec<&str> = progs.iter().copied().filter(|p| which(p).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!("not installed: {}", missing.join(" ")));
    false
}

pub fn which(prog: &str) -> Option<PathBuf> {
    std::env::split_paths("/usr/local/bin:/usr/bin:/bin").map(|d| d.join(prog)).find(|p| p.is_file())
}

/// A command run as the caller with a small fixed environment.
pub fn caller_cmd(prog: &str, runtime: &Path, home: &Path) -> Command {
    let mut c = Command::new(prog);
    c.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    as_caller(&mut c);
    c
}

/// A runtime directory (`$XDG_RUNTIME_DIR`) of the caller's: 0700.
pub fn runtime_dir() -> Dir {
    let d = Dir::new();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

/// Waits up to 30 s for `cond`, sleeping a little between tries; fails
/// the test naming `what` when it never holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < end, "{what}: not ready within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// Xvfb on a display number of its choosing, refusing clients without the
/// cookie in [`Xvfb::auth`].
pub struct Xvfb {
    pub proc: Proc,
    pub display: u32,
    /// An Xauthority file with the display's cookie (family Wild).
    pub auth: PathBuf,
    dir: Dir,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        let dir = Dir::new();
        let mut cookie = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut cookie).unwrap();
        // The server reads every record of its -auth file, whatever the number.
        let server = dir.path().join("server.auth");
        std::fs::write(&server, x11::sandbox_auth(0, &cookie)).unwrap();
        dir.own(&server);
        let mut c = caller_cmd("Xvfb", dir.path(), dir.path());
        c.args(["-displayfd", "1", "-auth"])
            .arg(&server)
            .args(["-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut proc = spawn(&mut c);
        let line = proc.lines().line();
        let display: u32 = line.trim().parse().unwrap_or_else(|_| panic!("Xvfb -displayfd wrote {line:?}"));
        let auth = dir.path().join("Xauthority");
        std::fs::write(&auth, x11::sandbox_auth(display, &cookie)).unwrap();
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
        dir.own(&auth);
        Xvfb { proc, display, auth, dir }
    }

    /// `DISPLAY`'s value.
    pub fn name(&self) -> String {
        format!(":{}", self.display)
    }

    /// A host-side X client (xdotool, import, xwininfo) on this display.
    pub fn client(&self, prog: &str) -> Command {
        let mut c = caller_cmd(prog, self.dir.path(), self.dir.path());
        c.env("DISPLAY", self.name()).env("XAUTHORITY", &self.auth);
        c
    }

    /// The colour of the pixel at (x, y) of the whole screen, as
    /// ImageMagick's `import` sees it: `srgb(r,g,b)`.
    pub fn pixel(&self, x: u32, y: u32) -> String {
        let shot = self.dir.path().join("shot.png");
        let _ = std::fs::remove_file(&shot);
        let o = out(self.client("import").args(["-window", "root"]).arg(&shot));
        assert_eq!(o.code(), 0, "import: {}", o.stderr());
        let o = out(Command::new("convert").arg(&shot).args([
            "-format",
            &format!("%[pixel:p{{{x},{y}}}]"),
            "info:",
        ]));
        o.ok().trim().to_string()
    }

    /// The number of distinct colours on the whole screen.
    pub fn colours(&self) -> usize {
        self.colours_in("640x480+0+0")
    }

    /// The number of distinct colours in the area `WxH+X+Y` of the screen.
    pub fn colours_in(&self, area: &str) -> usize {
        let shot = self.dir.path().join("shot.png");
        let _ = std::fs::remove_file(&shot);
        out(self.client("import").args(["-window", "root", "-crop", area]).arg(&shot)).ok();
        let o = out(Command::new("convert").arg(&shot).args(["-format", "%k", "info:"]));
        o.ok().trim().parse().unwrap()
    }
}

impl Drop for Xvfb {
    /// Its socket removed while it still holds the number (then `proc`,
    /// dropped, kills it: SIGKILL would leave the socket).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(x11::socket(self.display));
    }
}

/// A session bus (dbus-daemon) at `RUNTIME/bus` with a service owning each
/// of `names`.
pub struct Bus {
    pub daemon: Proc,
    pub services: Vec<Proc>,
    pub address: String,
    _scripts: Dir,
}

impl Bus {
    pub fn start(runtime: &Dir, home: &Dir, names: &[&str]) -> Bus {
        let mut c = caller_cmd("dbus-daemon", runtime.path(), home.path());
        c.args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .arg(format!("--address=unix:path={}/bus", runtime.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut daemon = spawn(&mut c);
        let printed = daemon.lines().line();
        let address = printed.split(',').next().unwrap().to_string();
        let scripts = Dir::new();
        let script = scripts.file("dbus-service.py", include_str!("../helpers/dbus-service.py"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let services = names
            .iter()
            .map(|name| {
                let mut s = caller_cmd("/usr/bin/python3", runtime.path(), home.path());
                s.arg(&script).arg(name).env("DBUS_SESSION_BUS_ADDRESS", &address).stdout(Stdio::piped());
                let mut p = spawn(&mut s);
                assert_eq!(p.lines().line(), "ready", "service {name}");
                p
            })
            .collect();
        Bus { daemon, services, address, _scripts: scripts }
    }
}

/// A PulseAudio server with only a null sink, listening at
/// `RUNTIME/pulse/native`.
pub struct Pulse {
    pub proc: Proc,
    pub socket: PathBuf,
}

impl Pulse {
    pub fn start(runtime: &Dir, home: &Dir) -> Pulse {
        let socket = runtime.path().join("pulse/native");
        let mut c = caller_cmd("pulseaudio", runtime.path(), home.path());
        c.args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--log-target=stderr"])
            .args(["-L", "module-null-sink sink_name=null", "-L"])
            .arg(format!("module-native-protocol-unix socket={}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let proc = spawn(&mut c);
        wait_until("pulseaudio's socket", || is_socket(&socket));
        wait_until("pactl info", || {
            out(caller_cmd("pactl", runtime.path(), home.path()).arg("info")).code() == 0
        });
        Pulse { proc, socket }
    }
}

/// Weston with the headless backend, its socket `RUNTIME/wayland-sbx`.
pub struct Weston {
    pub proc: Proc,
    pub name: &'static str,
}

impl Weston {
    pub fn start(runtime: &Dir, home: &Dir) -> Weston {
        let name = "wayland-sbx";
        let mut c = caller_cmd("weston", runtime.path(), home.path());
        c.args(["--backend=headless-backend.so", "--idle-time=0", "--no-config"])
            .arg(format!("--socket={name}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let proc = spawn(&mut c);
        wait_until("weston's socket", || is_socket(&runtime.path().join(name)));
        let info = || {
            let mut c = caller_cmd("wayland-info", runtime.path(), home.path());
            out(c.env("WAYLAND_DISPLAY", name)).code() == 0
        };
        wait_until("wayland-info", info);
        Weston { proc, name }
    }
}
