//! The profile file format (documented in sandbox-profile(5)).
//!
//! serde with `deny_unknown_fields`, so a typo is an error naming the key;
//! `Spanned` values, so every error and every `explain` origin carries
//! file:line:col, and so entries apply in the order they are written (by
//! position in the file, not by key).

use std::ffi::OsStr;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use crate::plan::landlock::{Mode, PathRule, RuleAccess};
use crate::plan::{Access, FsOp};
use crate::settings::{BindCwd, Net, Setting, Share};
use crate::values;

type S<T> = Spanned<T>;

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Doc {
    /// One line shown by `sandbox profiles list`.
    pub description: Option<String>,
    /// Profiles applied before this one: names on the search path, or paths
    /// (with a `/`) relative to this file.
    #[serde(default)]
    pub include: Vec<S<String>>,
    /// Run even when a confinement cannot be applied (`--best-effort`).
    pub best_effort: Option<S<bool>>,
    /// `--mode`: "namespaces" (the default) or "landlock".
    pub mode: Option<S<Mode>>,
    #[serde(default)]
    pub filesystem: Filesystem,
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub process: Process,
    #[serde(default)]
    pub landlock: Landlock,
    #[serde(default)]
    pub seccomp: Seccomp,
    #[serde(default)]
    pub limits: Limits,
}

/// `[filesystem]`: each key is the native option of the same name.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Filesystem {
    #[serde(default)]
    pub ro: Vec<S<String>>,
    #[serde(default)]
    pub rw: Vec<S<String>>,
    #[serde(default)]
    pub ro_try: Vec<S<String>>,
    #[serde(default)]
    pub rw_try: Vec<S<String>>,
    #[serde(default)]
    pub dev_bind: Vec<S<String>>,
    #[serde(default)]
    pub dev: Vec<S<String>>,
    #[serde(default)]
    pub proc: Vec<S<String>>,
    #[serde(default)]
    pub tmpfs: Vec<S<String>>,
    #[serde(default)]
    pub hide: Vec<S<String>>,
    #[serde(default)]
    pub mkdir: Vec<S<String>>,
    #[serde(default)]
    pub symlink: Vec<S<String>>,
    pub merged_usr: Option<S<bool>>,
    pub bind_cwd: Option<S<BindCwd>>,
    #[serde(default)]
    pub overlay: Vec<S<String>>,
    #[serde(default)]
    pub persist: Vec<S<String>>,
    #[serde(default)]
    pub ro_overlay: Vec<S<String>>,
}

/// `[environment]`: `set` (a table NAME = VALUE, `--env`), `keep`
/// (`--keep-env`), `clear` (`--clear-env`, applied before this file's
/// keep and set).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Environment {
    #[serde(default)]
    pub set: IndexMap<String, S<String>>,
    #[serde(default)]
    pub keep: Vec<S<String>>,
    pub clear: Option<S<bool>>,
}

/// `[network]`: `mode` (`--net`), `allow-connect`, `allow-bind` (TCP
/// ports, enforced by landlock).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Network {
    pub mode: Option<S<Net>>,
    #[serde(default)]
    pub publish: Vec<S<String>>,
    pub allow_host_loopback: Option<S<bool>>,
    #[serde(default)]
    pub allow_connect: Vec<S<u16>>,
    #[serde(default)]
    pub allow_bind: Vec<S<u16>>,
}

/// `[limits]`: `timeout`, `kill-after` (durations: "30s", "5m"), `limit`
/// (["nofile=1024", ...], `--limit`), `memory` ("512M"), `pids`, `cpus`
/// ("0.5"), `io-weight`. Each is the native option of the same name.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    pub timeout: Option<S<String>>,
    pub kill_after: Option<S<String>>,
    #[serde(default)]
    pub limit: Vec<S<String>>,
    pub memory: Option<S<String>>,
    pub pids: Option<S<u64>>,
    pub cpus: Option<S<String>>,
    pub io_weight: Option<S<u16>>,
}

/// `[seccomp]`: `base` (`--seccomp default|none`), `deny`
/// (`--seccomp-deny NAME[:ERRNO]`), `allow` (`--seccomp-allow`), `policy`
/// (`--seccomp-policy FILE`), `oci` (`--seccomp-oci FILE`), `log`
/// (`--seccomp-log`), `allow-userns` (`--allow-userns`).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Seccomp {
    pub base: Option<S<crate::plan::seccomp::Base>>,
    #[serde(default)]
    pub deny: Vec<S<String>>,
    #[serde(default)]
    pub allow: Vec<S<String>>,
    #[serde(default)]
    pub policy: Vec<S<String>>,
    #[serde(default)]
    pub oci: Vec<S<String>>,
    pub log: Option<S<bool>>,
    pub allow_userns: Option<S<bool>>,
}

/// `[landlock]`: each key is the native option of the same name;
/// `enabled = false` is `--no-landlock`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Landlock {
    pub enabled: Option<S<bool>>,
    #[serde(default)]
    pub allow_read: Vec<S<String>>,
    #[serde(default)]
    pub allow_write: Vec<S<String>>,
    #[serde(default)]
    pub allow_exec: Vec<S<String>>,
    pub allow_signals: Option<S<bool>>,
    pub allow_abstract_unix: Option<S<bool>>,
    pub log_denials: Option<S<bool>>,
}

/// `[process]`: each key is the native option of the same name.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Process {
    pub cwd: Option<S<String>>,
    pub hostname: Option<S<String>>,
    pub uid: Option<S<u32>>,
    pub gid: Option<S<u32>>,
    pub die_with_parent: Option<S<bool>>,
    pub new_session: Option<S<bool>>,
    #[serde(default)]
    pub share: Vec<S<Share>>,
    #[serde(default)]
    pub cap_add: Vec<S<String>>,
    #[serde(default)]
    pub keep_fd: Vec<S<i32>>,
}

/// Every key of the format, `section.key`, for the man page check.
pub const KEYS: &[&str] = &[
    "description",
    "include",
    "best-effort",
    "mode",
    "filesystem.ro",
    "filesystem.rw",
    "filesystem.ro-try",
    "filesystem.rw-try",
    "filesystem.dev-bind",
    "filesystem.dev",
    "filesystem.proc",
    "filesystem.tmpfs",
    "filesystem.hide",
    "filesystem.mkdir",
    "filesystem.symlink",
    "filesystem.merged-usr",
    "filesystem.bind-cwd",
    "filesystem.overlay",
    "filesystem.persist",
    "filesystem.ro-overlay",
    "environment.set",
    "environment.keep",
    "environment.clear",
    "network.mode",
    "network.publish",
    "network.allow-host-loopback",
    "network.allow-connect",
    "network.allow-bind",
    "process.cwd",
    "process.hostname",
    "process.uid",
    "process.gid",
    "process.die-with-parent",
    "process.new-session",
    "process.share",
    "process.cap-add",
    "process.keep-fd",
    "landlock.enabled",
    "landlock.allow-read",
    "landlock.allow-write",
    "landlock.allow-exec",
    "landlock.allow-signals",
    "landlock.allow-abstract-unix",
    "landlock.log-denials",
    "seccomp.base",
    "seccomp.deny",
    "seccomp.allow",
    "seccomp.policy",
    "seccomp.oci",
    "seccomp.log",
    "seccomp.allow-userns",
    "limits.timeout",
    "limits.kill-after",
    "limits.limit",
    "limits.memory",
    "limits.pids",
    "limits.cpus",
    "limits.io-weight",
];

/// A setting with the byte offset it was written at; `Err` is (offset, message).
pub type Positioned = (usize, Setting);
type Out = Result<Vec<Positioned>, (usize, String)>;

/// The file's own settings (not its includes), in file order. `expand`
/// expands `${VAR}`; `base` is the directory relative sources start from.
pub fn settings(doc: &Doc, expand: &dyn Fn(&str) -> Result<String, String>, base: &Path) -> Out {
    let mut out: Vec<Positioned> = Vec::new();
    let val = |s: &S<String>| expand(s.get_ref()).map_err(|e| (s.span().start, e));
    let push = |out: &mut Vec<Positioned>, s: &S<String>, f: &dyn Fn(&OsStr) -> Result<Setting, String>| {
        let v = val(s)?;
        let setting = f(OsStr::new(&v)).map_err(|e| (s.span().start, e))?;
        out.push((s.span().start, setting));
        Ok::<(), (usize, String)>(())
    };
    let fs = &doc.filesystem;
    let fsop = |op: FsOp| Setting::Fs(op);
    for s in &fs.ro {
        push(&mut out, s, &|v| values::bind(v, base, Access::ReadOnly, false).map(fsop))?;
    }
    for s in &fs.rw {
        push(&mut out, s, &|v| values::bind(v, base, Access::ReadWrite, false).map(fsop))?;
    }
    for s in &fs.ro_try {
        push(&mut out, s, &|v| values::bind(v, base, Access::ReadOnly, true).map(fsop))?;
    }
    for s in &fs.rw_try {
        push(&mut out, s, &|v| values::bind(v, base, Access::ReadWrite, true).map(fsop))?;
    }
    for s in &fs.dev_bind {
        push(&mut out, s, &|v| values::bind(v, base, Access::Device, false).map(fsop))?;
    }
    for s in &fs.overlay {
        push(&mut out, s, &|v| values::overlay(v, base).map(fsop))?;
    }
    for s in &fs.persist {
        push(&mut out, s, &|v| values::persist(v, base).map(fsop))?;
    }
    for s in &fs.ro_overlay {
        push(&mut out, s, &|v| values::ro_overlay(v, base).map(fsop))?;
    }
    for s in &fs.dev {
        push(&mut out, s, &|v| Ok(fsop(FsOp::Dev { dest: values::dest_path(v)? })))?;
    }
    for s in &fs.proc {
        push(&mut out, s, &|v| Ok(fsop(FsOp::Proc { dest: values::dest_path(v)? })))?;
    }
    for s in &fs.tmpfs {
        push(&mut out, s, &|v| {
            Ok(fsop(FsOp::Tmpfs { dest: values::dest_path(v)?, mode: 0o755, size: None }))
        })?;
    }
    for s in &fs.hide {
        push(&mut out, s, &|v| Ok(fsop(FsOp::Hide { dest: values::dest_path(v)? })))?;
    }
    for s in &fs.mkdir {
        push(&mut out, s, &|v| Ok(fsop(FsOp::Dir { dest: values::dest_path(v)?, mode: 0o755 })))?;
    }
    for s in &fs.symlink {
        push(&mut out, s, &|v| values::symlink(v).map(fsop))?;
    }
    flag(&mut out, &fs.merged_usr, |on| on.then_some(Setting::MergedUsr));
    if let Some(m) = &fs.bind_cwd {
        out.push((m.span().start, Setting::BindCwd(*m.get_ref())));
    }
    landlock(&doc.landlock, &val, base, &mut out)?;
    seccomp(&doc.seccomp, &val, base, &mut out)?;
    limits(&doc.limits, &val, &mut out)?;
    if let Some(m) = &doc.mode {
        out.push((m.span().start, Setting::Mode(*m.get_ref())));
    }
    environment(&doc.environment, &val, &mut out)?;
    network(&doc.network, &mut out)?;
    process(&doc.process, &val, &mut out)?;
    flag(&mut out, &doc.best_effort, |on| Some(Setting::BestEffort(on)));
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
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
