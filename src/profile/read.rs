//! A parsed profile file's own settings, in file order: each key turned
//! into the [`Setting`] its command-line option gives, through the same
//! value parsers ([`crate::values`]).

use std::ffi::OsStr;
use std::path::Path;

use super::schema::{Dbus, Desktop, Doc, Environment, Landlock, Limits, Network, Process, Seccomp, S};
use crate::desktop::resolve::Ask;
use crate::plan::landlock::{PathRule, RuleAccess};
use crate::plan::{Access, FsOp};
use crate::settings::Setting;
use crate::values;

/// A setting with the byte offset it was written at; `Err` is (offset, message).
pub type Positioned = (usize, Setting);
type Out = Result<Vec<Positioned>, (usize, String)>;

/// The file's own settings (not its includes), in file order. `expand`
/// expands `${VAR}`; `base` is the directory relative sources start from.
pub fn settings(doc: &Doc, expand: &dyn Fn(&str) -> Result<String, String>, base: &Path, home: &Path) -> Out {
    let mut out: Vec<Positioned> = Vec::new();
    let val = |s: &S<String>| expand(s.get_ref()).map_err(|e| (s.span().start, e));
    // A path's leading `~` (of each `:` part) is $HOME, as in a shell.
    let path = |s: &S<String>| {
        let v = val(s)?;
        let t = values::tilde_parts(OsStr::new(&v), home).map_err(|e| (s.span().start, e))?;
        Ok(t.to_string_lossy().into_owned())
    };
    filesystem(doc, &path, base, &mut out)?;
    landlock(&doc.landlock, &path, base, &mut out)?;
    seccomp(&doc.seccomp, &path, base, &mut out)?;
    limits(&doc.limits, &val, &mut out)?;
    if let Some(m) = &doc.mode {
        out.push((m.span().start, Setting::Mode(*m.get_ref())));
    }
    environment(&doc.environment, &val, &mut out)?;
    network(&doc.network, &mut out)?;
    process(&doc.process, &val, &mut out)?;
    flag(&mut out, &doc.best_effort, |on| Some(Setting::BestEffort(on)));
    desktop(&doc.desktop, &doc.dbus, &val, &mut out)?;
    if let Some(s) = &doc.desktop.app_state {
        let dir = values::normalize(&base.join(val(s)?));
        out.push((s.span().start, Setting::Desktop(Ask::AppState(dir))));
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
}

/// `[filesystem]`: binds, overlays, special mounts, links, the current
/// directory.
fn filesystem(doc: &Doc, val: Val, base: &Path, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    let each = |out: &mut Vec<Positioned>, list: &[S<String>], f: &dyn Fn(&OsStr) -> Result<FsOp, String>| {
        for s in list {
            let op = f(OsStr::new(&val(s)?)).map_err(|e| (s.span().start, e))?;
            out.push((s.span().start, Setting::Fs(op)));
        }
        Ok::<(), (usize, String)>(())
    };
    let fs = &doc.filesystem;
    if let Some(dir) = &fs.rootfs {
        let path = values::host_path(OsStr::new(&val(dir)?), base).map_err(|e| (dir.span().start, e))?;
        out.push((dir.span().start, Setting::Rootfs(path)));
    }
    flag(out, &fs.rw_rootfs, |on| Some(Setting::RwRootfs(on)));
    let dest = values::dest_path;
    each(out, &fs.ro, &|v| values::bind(v, base, Access::ReadOnly, false))?;
    each(out, &fs.rw, &|v| values::bind(v, base, Access::ReadWrite, false))?;
    each(out, &fs.ro_try, &|v| values::bind(v, base, Access::ReadOnly, true))?;
    each(out, &fs.rw_try, &|v| values::bind(v, base, Access::ReadWrite, true))?;
    each(out, &fs.dev_bind, &|v| values::bind(v, base, Access::Device, false))?;
    each(out, &fs.overlay, &|v| values::overlay(v, base))?;
    each(out, &fs.persist, &|v| values::persist(v, base))?;
    each(out, &fs.ro_overlay, &|v| values::ro_overlay(v, base))?;
    each(out, &fs.dev, &|v| Ok(FsOp::Dev { dest: dest(v)? }))?;
    each(out, &fs.proc, &|v| Ok(FsOp::Proc { dest: dest(v)? }))?;
    each(out, &fs.tmpfs, &|v| Ok(FsOp::Tmpfs { dest: dest(v)?, mode: 0o755, size: None }))?;
    each(out, &fs.hide, &|v| Ok(FsOp::Hide { dest: dest(v)?, optional: false }))?;
    each(out, &fs.hide_try, &|v| Ok(FsOp::Hide { dest: dest(v)?, optional: true }))?;
    each(out, &fs.mkdir, &|v| Ok(FsOp::Dir { dest: dest(v)?, mode: 0o755 }))?;
    for s in &fs.state {
        let (src, dest) = values::src_dest(OsStr::new(&val(s)?), base).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::State { src, dest }));
    }
    flag(out, &fs.toolchains, |on| Some(Setting::Toolchains(on)));
    if let Some(m) = &fs.caches {
        out.push((m.span().start, Setting::Caches(*m.get_ref())));
    }
    each(out, &fs.symlink, &|v| values::symlink(v))?;
    flag(out, &fs.merged_usr, |on| on.then_some(Setting::MergedUsr));
    if let Some(m) = &fs.bind_cwd {
        out.push((m.span().start, Setting::BindCwd(*m.get_ref())));
    }
    Ok(())
}

fn flag(out: &mut Vec<Positioned>, v: &Option<S<bool>>, f: impl Fn(bool) -> Option<Setting>) {
    if let Some(s) = v {
        if let Some(setting) = f(*s.get_ref()) {
            out.push((s.span().start, setting));
        }
    }
}

type Val<'a> = &'a dyn Fn(&S<String>) -> Result<String, (usize, String)>;

fn environment(env: &Environment, val: Val, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    if let Some(c) = &env.clear {
        if *c.get_ref() {
            // Clearing applies before this file's keep and set: it drops
            // what included profiles passed on.
            out.push((0, Setting::ClearEnv));
        }
    }
    for s in &env.keep {
        let v = val(s)?;
        values::env_name(OsStr::new(v.trim_end_matches('*'))).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::KeepEnv(v.into())));
    }
    for (name, s) in &env.set {
        values::env_name(OsStr::new(name)).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::Env(name.into(), val(s)?.into())));
    }
    Ok(())
}

fn landlock(ll: &Landlock, val: Val, base: &Path, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    flag(out, &ll.enabled, |on| Some(Setting::Landlock(on)));
    let rules = [
        (&ll.allow_read, RuleAccess::Read),
        (&ll.allow_write, RuleAccess::Write),
        (&ll.allow_exec, RuleAccess::Exec),
    ];
    for (paths, access) in rules {
        for s in paths {
            let v = val(s)?;
            if v.is_empty() {
                return Err((s.span().start, "the path is empty".into()));
            }
            let path = values::normalize(&base.join(&v));
            out.push((s.span().start, Setting::LandlockRule(PathRule { path, access })));
        }
    }
    flag(out, &ll.allow_signals, |on| on.then_some(Setting::AllowSignals));
    flag(out, &ll.allow_abstract_unix, |on| on.then_some(Setting::AllowAbstractUnix));
    flag(out, &ll.log_denials, |on| on.then_some(Setting::LogDenials));
    Ok(())
}

fn seccomp(sc: &Seccomp, val: Val, base: &Path, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    if let Some(b) = &sc.base {
        out.push((b.span().start, Setting::SeccompBase(*b.get_ref())));
    }
    for s in &sc.deny {
        let d = crate::seccomp::policy::parse_deny(&val(s)?).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::SeccompDeny(d)));
    }
    for s in &sc.allow {
        let name = crate::seccomp::policy::check_allow(&val(s)?).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::SeccompAllow(name)));
    }
    for (files, oci) in [(&sc.policy, false), (&sc.oci, true)] {
        for s in files {
            let path = values::normalize(&base.join(val(s)?));
            out.push((s.span().start, Setting::SeccompFile { path, oci }));
        }
    }
    flag(out, &sc.log, |on| on.then_some(Setting::SeccompLog));
    flag(out, &sc.allow_userns, |on| on.then_some(Setting::AllowUserns));
    Ok(())
}

fn limits(l: &Limits, val: Val, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    use crate::plan::limits::{parse_cpus, parse_duration, parse_rlimit, parse_size};
    let mut one = |v: &Option<S<String>>, parse: fn(&str) -> Result<u64, String>, f: fn(u64) -> Setting| {
        if let Some(s) = v {
            let n = parse(&val(s)?).map_err(|e| (s.span().start, e))?;
            out.push((s.span().start, f(n)));
        }
        Ok::<(), (usize, String)>(())
    };
    one(&l.timeout, parse_duration, Setting::Timeout)?;
    one(&l.kill_after, parse_duration, Setting::KillAfter)?;
    one(&l.memory, parse_size, Setting::Memory)?;
    one(&l.cpus, parse_cpus, Setting::Cpus)?;
    for s in &l.limit {
        let r = parse_rlimit(&val(s)?).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, Setting::Rlimit(r)));
    }
    if let Some(s) = &l.pids {
        if *s.get_ref() == 0 {
            return Err((s.span().start, "pids must be at least 1".into()));
        }
        out.push((s.span().start, Setting::Pids(*s.get_ref())));
    }
    if let Some(s) = &l.io_weight {
        if !(1..=10000).contains(s.get_ref()) {
            return Err((s.span().start, "io-weight is from 1 to 10000".into()));
        }
        out.push((s.span().start, Setting::IoWeight(*s.get_ref())));
    }
    Ok(())
}

fn port(s: &S<u16>, f: fn(u16) -> Setting, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    if *s.get_ref() == 0 {
        return Err((s.span().start, "a port is a number from 1 to 65535".into()));
    }
    out.push((s.span().start, f(*s.get_ref())));
    Ok(())
}

fn network(net: &Network, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    for s in &net.publish {
        let pb = s.get_ref().parse().map_err(|e: String| (s.span().start, e))?;
        out.push((s.span().start, Setting::Publish(pb)));
    }
    flag(out, &net.allow_host_loopback, |on| on.then_some(Setting::AllowHostLoopback));
    for s in &net.allow_hosts {
        let h = s.get_ref().parse().map_err(|e: String| (s.span().start, e))?;
        out.push((s.span().start, Setting::AllowHost(h)));
    }
    for s in &net.allow_addrs {
        let a = s.get_ref().parse().map_err(|e: String| (s.span().start, e))?;
        out.push((s.span().start, Setting::AllowAddr(a)));
    }
    for s in &net.allow_connect {
        port(s, Setting::AllowConnect, out)?;
    }
    for s in &net.allow_bind {
        port(s, Setting::AllowBind, out)?;
    }
    if let Some(m) = &net.mode {
        out.push((m.span().start, Setting::Net(*m.get_ref())));
    }
    Ok(())
}

fn process(p: &Process, val: Val, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    let at = |s: &S<String>| s.span().start;
    if let Some(u) = &p.userns {
        out.push((u.span().start, Setting::Userns(*u.get_ref())));
    }
    if let Some(s) = &p.cwd {
        let v = val(s)?;
        out.push((at(s), Setting::Cwd(values::cwd(OsStr::new(&v)).map_err(|e| (at(s), e))?)));
    }
    if let Some(s) = &p.hostname {
        out.push((at(s), Setting::Hostname(values::hostname(&val(s)?).map_err(|e| (at(s), e))?)));
    }
    for (v, f) in [(&p.uid, Setting::Uid as fn(u32) -> Setting), (&p.gid, Setting::Gid)] {
        if let Some(s) = v {
            values::id(&s.get_ref().to_string()).map_err(|e| (s.span().start, e))?;
            out.push((s.span().start, f(*s.get_ref())));
        }
    }
    flag(out, &p.die_with_parent, |on| Some(Setting::DieWithParent(on)));
    flag(out, &p.new_session, |on| Some(Setting::NewSession(on)));
    for s in &p.share {
        out.push((s.span().start, Setting::Share(*s.get_ref())));
    }
    for s in &p.cap_add {
        out.push((at(s), Setting::CapAdd(values::capability(&val(s)?).map_err(|e| (at(s), e))?)));
    }
    for s in &p.keep_fd {
        if *s.get_ref() < 3 {
            return Err((s.span().start, "keep-fd takes fds from 3 up (0, 1, 2 are always passed)".into()));
        }
        out.push((s.span().start, Setting::KeepFd(*s.get_ref())));
    }
    Ok(())
}

/// `[desktop]` and `[dbus]`.
fn desktop(d: &Desktop, b: &Dbus, val: Val, out: &mut Vec<Positioned>) -> Result<(), (usize, String)> {
    let mut one = |at: usize, a: Ask| out.push((at, Setting::Desktop(a)));
    if let Some(m) = &d.x11 {
        one(m.span().start, Ask::X11(*m.get_ref()));
    }
    for (w, f) in [(&d.wayland, Ask::Wayland as fn(_) -> Ask), (&d.audio, Ask::Audio), (&d.gpu, Ask::Gpu)] {
        if let Some(w) = w {
            one(w.span().start, f(*w.get_ref()));
        }
    }
    if let Some(m) = &b.mode {
        one(m.span().start, Ask::Bus(*m.get_ref()));
    }
    use crate::desktop::resolve::{NameAsk, CALL, OWN, SEE, SYSTEM_TALK, TALK};
    let names: [(&Vec<S<String>>, NameAsk); 5] =
        [(&b.see, SEE), (&b.talk, TALK), (&b.own, OWN), (&b.call, CALL), (&b.system_talk, SYSTEM_TALK)];
    for (list, (f, check)) in names {
        for s in list {
            let v = val(s)?;
            check(&v).map_err(|e| (s.span().start, e))?;
            one(s.span().start, f(v));
        }
    }
    Ok(())
}
