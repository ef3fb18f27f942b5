//! The desktop helpers: xdg-dbus-proxy for `--dbus`, Xephyr for `--x11
//! nested`, and the sandbox's own Xauthority for `--x11 host`.
//!
//! They start through `helper` (the one spawn path, shared with the
//! user-mode network), both at once, as soon as the run is known to go on
//! (after the prechecks and the cgroup's leaf, which they share), and the
//! monitor waits for each one's own word that it is ready (the proxy's
//! byte on `--fd`, Xephyr's display number on `-displayfd`) as late as it
//! can: right before clone, since init binds their sockets into the root
//! and Xephyr's socket is named after the number it picks. The command
//! never starts before its bus or display. What they provide becomes ordinary operations appended
//! to the Plan's (a bind of each socket, a file with the cookie): init
//! builds them like any other, and never learns where they came from.
//!
//! Nothing is left on the host: at the end of the run both are killed
//! (SIGKILL, not waited for) and the monitor removes their sockets (in the
//! host's `$XDG_RUNTIME_DIR`, 0700, and Xephyr's in /tmp/.X11-unix with its
//! lock file); when the monitor is killed, the proxy sees its pipe close
//! and Xephyr gets SIGTERM (PR_SET_PDEATHSIG), and each removes its own.
//! Xephyr's cookie is read from a memory file (`-auth /proc/self/fd/N`),
//! never written to disk.

mod proxy;
mod xephyr;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::desktop::x11;
use crate::launch::error::{Result, SetupError};
use crate::launch::Ctx;
use crate::plan::desktop::{HelperFile, X11};
use crate::plan::{Access, FileHow, FsOp, Plan};

/// How long a helper may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The running helpers; dropping them stops them.
#[derive(Default)]
pub struct Helpers {
    proxy: Option<proxy::Proxy>,
    xephyr: Option<xephyr::Xephyr>,
}

/// Starts the helpers the plan asks for, without waiting for them
/// ([`Helpers::ready`] waits). `reap_on_stop`: they share the monitor's
/// cgroup leaf, removed after them (see `helper`).
pub fn start(ctx: &Ctx, reap_on_stop: bool) -> Result<Helpers> {
    let desktop = &ctx.plan.desktop;
    if desktop.helpers.is_empty() && desktop.app_state.is_none() {
        return Ok(Helpers::default());
    }
    if ctx.plan.mode == crate::plan::landlock::Mode::Landlock {
        let e = "they need the sandbox's own mount namespace, which landlock-only mode does not have";
        return Err(SetupError::new("--x11 nested, --x11 host, --dbus", e));
    }
    let mut helpers = Helpers::default();
    if let Some(bus) = &desktop.bus {
        helpers.proxy = Some(proxy::start(ctx, bus, reap_on_stop)?);
    }
    if let Some(X11::Nested { display, xauthority }) = &desktop.x11 {
        let title = title(&ctx.plan.command);
        helpers.xephyr = Some(xephyr::start(ctx, display, xauthority, &title, reap_on_stop)?);
    }
    Ok(helpers)
}

impl Helpers {
    /// Waits until the helpers are ready; returns the plan to run: the
    /// given one with their files appended (`None`: nothing to add).
    pub fn ready(&mut self, ctx: &Ctx) -> Result<Option<Plan>> {
        let desktop = &ctx.plan.desktop;
        if desktop.helpers.is_empty() && desktop.app_state.is_none() {
            return Ok(None);
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        if let Some(p) = &self.proxy {
            p.wait(deadline)?;
        }
        let nested = match &mut self.xephyr {
            Some(x) => Some(x.wait(deadline)?),
            None => None,
        };
        let mut plan = ctx.plan.clone();
        for note in &desktop.notes {
            ctx.log("desktop", note);
        }
        for h in &desktop.helpers {
            let (what, dest) = (&h.what, &h.dest);
            let op = match what {
                HelperFile::SessionBus | HelperFile::SystemBus => {
                    let p = self.proxy.as_ref().expect("a proxy for the bus");
                    socket(&p.socket(*what), dest)
                }
                HelperFile::NestedDisplay => socket(&x11::socket(nested.expect("Xephyr").number), dest),
                HelperFile::Xauthority => {
                    xauthority(ctx, desktop.x11.as_ref(), nested.map(|n| n.cookie), dest)?
                }
            };
            ctx.log("desktop", &describe(&op));
            plan.fs.push(op);
        }
        if let Some(a) = &desktop.app_state {
            app_state(ctx, a, &mut plan)?;
        }
        Ok(Some(plan))
    }
    /// The helpers' pids (left alone when the monitor ends orphans).
    pub fn pids(&self) -> Vec<nix::unistd::Pid> {
        let proxy = self.proxy.as_ref().map(|p| p.pid());
        let xephyr = self.xephyr.as_ref().map(|x| x.pid());
        proxy.into_iter().chain(xephyr).collect()
    }
}

/// The nested display's window title: `sandbox: ` and the command's name.
fn title(command: &[std::ffi::OsString]) -> String {
    let name = command.first().map(|c| Path::new(c).file_name().unwrap_or(c.as_os_str()).to_string_lossy());
    format!("sandbox: {}", crate::escape::str(&name.unwrap_or_default()))
}

/// `--app-state`: `DIR/NAME/config` made (0700, its last two components
/// never through a symlink, all the user's) and bound read-write right
/// after the last mount `dest` lies in, so binds beneath it still apply.
fn app_state(ctx: &Ctx, a: &crate::plan::desktop::AppState, plan: &mut Plan) -> Result<()> {
    let name = ctx.plan.command.first().and_then(|c| Path::new(c).file_name()).map(|n| n.to_os_string());
    let name = name.filter(|n| n != "." && n != "..").unwrap_or_else(|| "app".into());
    let app = a.dir.join(&name);
    let what = || format!("--app-state {}", crate::escape::path(&app));
    crate::launch::hostfile::create_dirs(&app).map_err(|c| SetupError::new(what(), c))?;
    let fd = crate::launch::hostfile::open_dir(&app).map_err(|c| SetupError::new(what(), c))?;
    crate::launch::hostfile::dir_beneath(&fd, "config").map_err(|c| SetupError::new(what(), c))?;
    let op = FsOp::Bind {
        src: app.join("config"),
        dest: a.dest.clone(),
        access: Access::ReadWrite,
        optional: false,
    };
    ctx.log("desktop", &describe(&op));
    let at = plan.fs.iter().rposition(|o| a.dest.starts_with(o.dest())).map_or(plan.fs.len(), |i| i + 1);
    plan.fs.insert(at, op);
    Ok(())
}

fn socket(src: &Path, dest: &Path) -> FsOp {
    FsOp::Bind { src: src.to_path_buf(), dest: dest.to_path_buf(), access: Access::ReadOnly, optional: false }
}

fn describe(op: &FsOp) -> String {
    match op {
        FsOp::Bind { src, dest, .. } => {
            format!("bind {} -> {}", crate::escape::path(src), crate::escape::path(dest))
        }
        FsOp::File { dest, .. } => format!("cookie at {}", crate::escape::path(dest)),
        _ => String::new(),
    }
}

/// The sandbox's Xauthority: one record (family Wild) for the display
/// inside, with the nested server's cookie or the session display's.
/// Without a cookie (the display lets the user in another way) it is empty.
fn xauthority(ctx: &Ctx, x: Option<&X11>, nested: Option<[u8; 16]>, dest: &Path) -> Result<FsOp> {
    let content = match (x, nested) {
        (_, Some(cookie)) => x11::sandbox_auth(0, &cookie),
        (Some(X11::Host { number, xauthority }), None) => match host_cookie(xauthority, *number)? {
            Some(c) => x11::sandbox_auth(*number, &c),
            None => {
                ctx.log("x11", &format!("no cookie for :{number} in {}", crate::escape::path(xauthority)));
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    Ok(FsOp::File { dest: dest.to_path_buf(), content, mode: 0o600, how: FileHow::BindRo })
}

/// The cookie of local display `number` in the session's Xauthority file.
fn host_cookie(path: &Path, number: u32) -> Result<Option<Vec<u8>>> {
    let shown = crate::escape::path(path);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::new(format!("read {shown}"), e.to_string())),
    };
    let records = x11::parse_auth(&bytes).map_err(|e| SetupError::new(format!("read {shown}"), e))?;
    let host = nix::unistd::gethostname().unwrap_or_default();
    Ok(x11::find_cookie(&records, host.as_encoded_bytes(), number))
}

/// 16 random bytes.
fn random_cookie() -> Result<[u8; 16]> {
    let mut c = [0u8; 16];
    let read =
        std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut c));
    read.map_err(|e| SetupError::new("read /dev/urandom", e.to_string()))?;
    Ok(c)
}
