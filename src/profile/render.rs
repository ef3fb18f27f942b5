//! `sandbox profiles show`: settings written back as a profile.
//!
//! Includes are already applied and variables expanded, so the output is
//! what the profile means on this host. The settings become the profile
//! schema's own types ([`Doc`]), which serde and toml write: the output is
//! a profile that loads. Within a section each key's entries stand
//! together, in the schema's order; a comment lists the exact order in
//! which the file-system entries applied.

use toml::Spanned;

use super::schema::{Doc, S};
use crate::escape;
use crate::plan::landlock::RuleAccess;
use crate::plan::{Access, FsOp, Upper};
use crate::settings::{Located, Setting};

/// A rendered value: written nowhere yet.
fn s<T>(value: T) -> S<T> {
    Spanned::new(0..0, value)
}

fn path(p: &std::path::Path) -> S<String> {
    s(escape::path(p))
}

/// The profile key of a file-system operation and its value, or `None` for
/// what only the bwrap front end makes.
fn fs_entry(op: &FsOp) -> Option<(&'static str, String)> {
    let layer = |p: &std::path::Path| escape::path(p).replace(':', "\\:");
    Some(match op {
        FsOp::Bind { src, dest, access, optional } => {
            let key = match (access, optional) {
                (Access::ReadOnly, false) => "ro",
                (Access::ReadOnly, true) => "ro-try",
                (Access::ReadWrite, false) => "rw",
                (Access::ReadWrite, true) => "rw-try",
                (Access::Device, _) => "dev-bind",
            };
            let v = if src == dest { layer(src) } else { format!("{}:{}", layer(src), escape::path(dest)) };
            (key, v)
        }
        FsOp::Tmpfs { dest, .. } => ("tmpfs", escape::path(dest)),
        FsOp::Proc { dest } => ("proc", escape::path(dest)),
        FsOp::Dev { dest } => ("dev", escape::path(dest)),
        FsOp::Dir { dest, .. } => ("mkdir", escape::path(dest)),
        FsOp::Symlink { target, dest } => {
            ("symlink", format!("{}:{}", escape::path(target), escape::path(dest)))
        }
        FsOp::Hide { dest, optional: false } => ("hide", escape::path(dest)),
        FsOp::Hide { dest, optional: true } => ("hide-try", escape::path(dest)),
        FsOp::Overlay { lowers, dest, upper } => {
            let layers: Vec<String> = lowers.iter().map(|l| layer(l)).collect();
            let (layers, dest) = (layers.join(":"), escape::path(dest));
            match upper {
                Upper::Tmpfs => ("overlay", format!("{layers}:{dest}")),
                Upper::State { dir } => ("persist", format!("{layers}:{}:{dest}", escape::path(dir))),
                Upper::ReadOnly => ("ro-overlay", format!("{layers}:{dest}")),
                Upper::Dir { .. } => return None,
            }
        }
        // Only the bwrap front end makes these; profiles cannot say them.
        FsOp::File { .. } | FsOp::Chmod { .. } | FsOp::RemountRo { .. } | FsOp::Mqueue { .. } => return None,
    })
}

/// `--state`'s value: `DIR`, or `DIR:DEST`.
fn state_value(src: &std::path::Path, dest: &std::path::Path) -> String {
    let dir = escape::path(src).replace(':', "\\:");
    if src == dest {
        dir
    } else {
        format!("{dir}:{}", escape::path(dest))
    }
}

/// Adds a file-system operation to the `[filesystem]` list of its key.
fn add_fs(doc: &mut Doc, key: &str, v: String) {
    let f = &mut doc.filesystem;
    let list = match key {
        "ro" => &mut f.ro,
        "ro-try" => &mut f.ro_try,
        "rw" => &mut f.rw,
        "rw-try" => &mut f.rw_try,
        "dev-bind" => &mut f.dev_bind,
        "tmpfs" => &mut f.tmpfs,
        "proc" => &mut f.proc,
        "dev" => &mut f.dev,
        "mkdir" => &mut f.mkdir,
        "symlink" => &mut f.symlink,
        "hide" => &mut f.hide,
        "hide-try" => &mut f.hide_try,
        "overlay" => &mut f.overlay,
        "persist" => &mut f.persist,
        // "ro-overlay", the last key fs_entry gives.
        _ => &mut f.ro_overlay,
    };
    list.push(s(v));
}

/// The settings as the schema's document: lists append, scalars take the
/// last value, a clear of the environment drops what came before it.
fn doc(description: Option<&str>, settings: &[Located]) -> Doc {
    let mut d = Doc { description: description.map(str::to_string), ..Doc::default() };
    for l in settings {
        let (f, env, p) = (&mut d.filesystem, &mut d.environment, &mut d.process);
        match &l.setting {
            Setting::Fs(op) => {
                if let Some((key, v)) = fs_entry(op) {
                    add_fs(&mut d, key, v);
                }
            }
            Setting::Rootfs(dir) => f.rootfs = Some(path(dir)),
            Setting::RwRootfs(on) => f.rw_rootfs = Some(s(*on)),
            Setting::Userns(u) => p.userns = Some(s(*u)),
            Setting::MergedUsr => f.merged_usr = Some(s(true)),
            Setting::State { src, dest } => f.state.push(s(state_value(src, dest))),
            Setting::Toolchains(on) => f.toolchains = Some(s(*on)),
            Setting::Caches(m) => f.caches = Some(s(*m)),
            Setting::BindCwd(m) => f.bind_cwd = Some(s(*m)),
            Setting::Env(k, v) => _ = env.set.insert(escape::os(k), s(escape::os(v))),
            Setting::KeepEnv(k) => env.keep.push(s(escape::os(k))),
            // What came before a clear no longer counts.
            Setting::ClearEnv => {
                *env = super::schema::Environment { clear: Some(s(true)), ..Default::default() }
            }
            Setting::Cwd(c) => p.cwd = Some(path(c)),
            Setting::Hostname(h) => p.hostname = Some(s(h.clone())),
            Setting::Uid(u) => p.uid = Some(s(*u)),
            Setting::Gid(g) => p.gid = Some(s(*g)),
            Setting::CapAdd(c) => p.cap_add.push(s(c.clone())),
            Setting::KeepFd(fd) => p.keep_fd.push(s(*fd)),
            Setting::DieWithParent(on) => p.die_with_parent = Some(s(*on)),
            Setting::NewSession(on) => p.new_session = Some(s(*on)),
            Setting::Share(ns) => p.share.push(s(*ns)),
            Setting::BestEffort(on) => d.best_effort = Some(s(*on)),
            Setting::Mode(m) => d.mode = Some(s(*m)),
            other => confinement(&mut d, other),
        }
    }
    d
}

/// The network, landlock, seccomp and limits settings of [`doc`].
fn confinement(d: &mut Doc, setting: &Setting) {
    let (n, ll, sc, lim) = (&mut d.network, &mut d.landlock, &mut d.seccomp, &mut d.limits);
    match setting {
        Setting::Net(net) => n.mode = Some(s(*net)),
        Setting::Publish(pb) => n.publish.push(s(pb.to_string())),
        Setting::AllowHostLoopback => n.allow_host_loopback = Some(s(true)),
        Setting::AllowHost(h) => n.allow_hosts.push(s(h.to_string())),
        Setting::AllowAddr(a) => n.allow_addrs.push(s(a.to_string())),
        Setting::AllowConnect(port) => n.allow_connect.push(s(*port)),
        Setting::AllowBind(port) => n.allow_bind.push(s(*port)),
        Setting::Landlock(on) => ll.enabled = Some(s(*on)),
        Setting::LandlockRule(r) => match r.access {
            RuleAccess::Read => ll.allow_read.push(path(&r.path)),
            RuleAccess::Write => ll.allow_write.push(path(&r.path)),
            RuleAccess::Exec => ll.allow_exec.push(path(&r.path)),
        },
        Setting::AllowSignals => ll.allow_signals = Some(s(true)),
        Setting::AllowAbstractUnix => ll.allow_abstract_unix = Some(s(true)),
        Setting::LogDenials => ll.log_denials = Some(s(true)),
        Setting::SeccompBase(b) => sc.base = Some(s(*b)),
        Setting::SeccompDeny(deny) => sc.deny.push(s(format!("{}:{}", deny.syscall, deny.errno))),
        Setting::SeccompAllow(name) => sc.allow.push(s(name.clone())),
        Setting::SeccompFile { path: p, oci: false } => sc.policy.push(path(p)),
        Setting::SeccompFile { path: p, oci: true } => sc.oci.push(path(p)),
        Setting::SeccompLog => sc.log = Some(s(true)),
        Setting::AllowUserns => sc.allow_userns = Some(s(true)),
        Setting::Timeout(ms) => lim.timeout = Some(s(format!("{ms}ms"))),
        Setting::KillAfter(ms) => lim.kill_after = Some(s(format!("{ms}ms"))),
        Setting::Rlimit(r) => lim.limit.push(s(r.to_string())),
        Setting::Memory(b) => lim.memory = Some(s(b.to_string())),
        Setting::Pids(count) => lim.pids = Some(s(*count)),
        Setting::Cpus(m) => lim.cpus = Some(s(format!("{}", *m as f64 / 1000.0))),
        Setting::IoWeight(w) => lim.io_weight = Some(s(*w)),
        Setting::Desktop(a) => desktop(d, a),
        // An fd of the caller: nothing a profile can say.
        Setting::SeccompFd(_) => {}
        // doc() takes these; listed so that a new setting must be placed.
        Setting::Fs(_)
        | Setting::Rootfs(_)
        | Setting::RwRootfs(_)
        | Setting::Userns(_)
        | Setting::MergedUsr
        | Setting::State { .. }
        | Setting::Toolchains(_)
        | Setting::Caches(_)
        | Setting::BindCwd(_)
        | Setting::Env(..)
        | Setting::KeepEnv(_)
        | Setting::ClearEnv
        | Setting::Cwd(_)
        | Setting::Hostname(_)
        | Setting::Uid(_)
        | Setting::Gid(_)
        | Setting::CapAdd(_)
        | Setting::KeepFd(_)
        | Setting::DieWithParent(_)
        | Setting::NewSession(_)
        | Setting::Share(_)
        | Setting::BestEffort(_)
        | Setting::Mode(_) => {}
    }
}

/// A `[desktop]` or `[dbus]` setting.
fn desktop(d: &mut Doc, a: &crate::desktop::resolve::Ask) {
    use crate::desktop::resolve::Ask;
    let (dk, b) = (&mut d.desktop, &mut d.dbus);
    match a {
        Ask::X11(m) => dk.x11 = Some(s(*m)),
        Ask::Wayland(w) => dk.wayland = Some(s(*w)),
        Ask::Audio(w) => dk.audio = Some(s(*w)),
        Ask::Gpu(w) => dk.gpu = Some(s(*w)),
        Ask::Bus(m) => b.mode = Some(s(*m)),
        Ask::See(n) => b.see.push(s(n.clone())),
        Ask::Talk(n) => b.talk.push(s(n.clone())),
        Ask::Own(n) => b.own.push(s(n.clone())),
        Ask::Call(c) => b.call.push(s(c.clone())),
        Ask::SystemTalk(n) => b.system_talk.push(s(n.clone())),
        Ask::AppState(d) => dk.app_state = Some(path(d)),
    }
}

/// The merged profile as TOML.
pub fn render(description: Option<&str>, settings: &[Located]) -> String {
    let mut out = String::new();
    let order: Vec<String> = settings
        .iter()
        .filter_map(|l| match &l.setting {
            Setting::Fs(op) => fs_entry(op).map(|(k, v)| format!("{k} {}", toml::Value::String(v))),
            Setting::MergedUsr => Some("merged-usr".into()),
            Setting::BindCwd(m) => Some(format!("bind-cwd {}", toml::Value::try_from(m).ok()?)),
            Setting::State { src, dest } => {
                Some(format!("state {}", toml::Value::String(state_value(src, dest))))
            }
            _ => None,
        })
        .collect();
    if !order.is_empty() {
        out.push_str("# [filesystem] entries applied in this order:\n");
        for o in &order {
            out.push_str(&format!("#   {o}\n"));
        }
        out.push('\n');
    }
    match toml::to_string(&doc(description, settings)) {
        Ok(text) => out.push_str(&text),
        // The schema's types always serialize; say so if they ever do not.
        Err(e) => out.push_str(&format!(
            "# cannot write the profile: {e}
"
        )),
    }
    out
}
