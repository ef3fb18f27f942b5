//! The command line's settings in the order they were written: clap groups
//! values by flag, and the indices it records put them back in the user's
//! order (a later `--ro` over an earlier `--tmpfs` must stay later).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use clap::ArgMatches;

use super::{RunArgs, UsageError};
use crate::host::Host;
use crate::plan::{Access, FsOp};
use crate::settings::{Net, Setting, Share};
use crate::values;

/// Settings collected with the argv position they were written at.
pub(super) struct Ordered<'a> {
    m: &'a ArgMatches,
    out: Vec<(usize, Setting)>,
}

impl Ordered<'_> {
    /// Every value of the flag `id`, each turned into a setting by `f`; an
    /// error is `--FLAG <f's message>`.
    pub(super) fn each<T>(
        &mut self,
        id: &str,
        values: &[T],
        f: impl Fn(&T) -> Result<Setting, String>,
    ) -> Result<(), UsageError> {
        if values.is_empty() {
            // Nothing to place, and nothing asked of the matches: a plain
            // `sandbox -- COMMAND` has none (cli::plain_run).
            return Ok(());
        }
        let indices: Vec<usize> = self.m.indices_of(id).map(|i| i.collect()).unwrap_or_default();
        for (i, v) in values.iter().enumerate() {
            let at = indices.get(i).copied().unwrap_or(usize::MAX);
            let flag = id.replace('_', "-");
            self.out.push((at, f(v).map_err(|e| UsageError(format!("--{flag} {e}")))?));
        }
        Ok(())
    }

    /// The setting of a flag given once (or a switch), if it was given.
    pub(super) fn one(&mut self, id: &str, setting: Option<Setting>) {
        if let Some(s) = setting {
            self.out.push((self.m.index_of(id).unwrap_or(usize::MAX), s));
        }
    }
}

/// The command line's settings, in the order written.
pub(super) fn settings(run: &RunArgs, m: &ArgMatches, host: &Host) -> Result<Vec<Setting>, UsageError> {
    let mut o = Ordered { m, out: Vec::new() };
    filesystem(&mut o, run, host)?;
    environment(&mut o, run)?;
    process(&mut o, run, &host.home)?;
    run.seccomp.settings(&mut o, &host.home)?;
    run.desktop.settings(&mut o, host)?;
    run.network.settings(&mut o)?;
    match run.net {
        Some(net) if net != Net::Host && run.share.contains(&Share::Net) => {
            return Err(UsageError(format!("--net {} and --share net cannot be combined", net.name())));
        }
        _ => {}
    }
    o.out.sort_by_key(|(at, _)| *at);
    Ok(o.out.into_iter().map(|(_, s)| s).collect())
}

/// The file-system flags: binds, overlays, special mounts, the current
/// directory. A leading `~` of each path (and of each `:` part) is $HOME,
/// where the shell did not expand it (`--ro=~/x`, `--ro /a:~/b`).
fn filesystem(o: &mut Ordered, run: &RunArgs, host: &Host) -> Result<(), UsageError> {
    let base = host.cwd.as_path();
    let home = host.home.as_path();
    let t = move |v: &OsString| values::tilde_parts(v, home);
    let bind = move |access, optional| {
        move |v: &OsString| values::bind(&t(v)?, base, access, optional).map(Setting::Fs)
    };
    let dest = move |v: &OsString| values::dest_path(&t(v)?);
    o.each("ro", &run.ro, bind(Access::ReadOnly, false))?;
    o.each("rw", &run.rw, bind(Access::ReadWrite, false))?;
    o.each("ro_try", &run.ro_try, bind(Access::ReadOnly, true))?;
    o.each("rw_try", &run.rw_try, bind(Access::ReadWrite, true))?;
    o.each("dev_bind", &run.dev_bind, bind(Access::Device, false))?;
    o.each("overlay", &run.overlay, |v| values::overlay(&t(v)?, base).map(Setting::Fs))?;
    o.each("persist", &run.persist, |v| values::persist(&t(v)?, base).map(Setting::Fs))?;
    o.each("ro_overlay", &run.ro_overlay, |v| values::ro_overlay(&t(v)?, base).map(Setting::Fs))?;
    o.each("dev", &run.dev, |v| Ok(Setting::Fs(FsOp::Dev { dest: dest(v)? })))?;
    o.each("proc", &run.proc, |v| Ok(Setting::Fs(FsOp::Proc { dest: dest(v)? })))?;
    o.each("tmpfs", &run.tmpfs, |v| {
        Ok(Setting::Fs(FsOp::Tmpfs { dest: dest(v)?, mode: 0o755, size: None }))
    })?;
    o.each("hide", &run.hide, |v| Ok(Setting::Fs(FsOp::Hide { dest: dest(v)?, optional: false })))?;
    o.each("hide_try", &run.hide_try, |v| Ok(Setting::Fs(FsOp::Hide { dest: dest(v)?, optional: true })))?;
    o.each("mkdir", &run.mkdir, |v| Ok(Setting::Fs(FsOp::Dir { dest: dest(v)?, mode: 0o755 })))?;
    o.each("state", &run.state, |v| {
        values::src_dest(&t(v)?, base).map(|(src, dest)| Setting::State { src, dest })
    })?;
    o.one("no_toolchains", run.no_toolchains.then_some(Setting::Toolchains(false)));
    o.one("caches", run.caches.map(Setting::Caches));
    o.each("symlink", &run.symlink, |v| values::symlink(&t(v)?).map(Setting::Fs))?;
    o.each("rootfs", run.rootfs.as_slice(), |v| {
        values::host_path(&values::tilde(v, home)?, base).map(Setting::Rootfs)
    })?;
    o.one("rw_rootfs", run.rw_rootfs.then_some(Setting::RwRootfs(true)));
    o.one("merged_usr", run.merged_usr.then_some(Setting::MergedUsr));
    o.one("bind_cwd", run.bind_cwd.map(Setting::BindCwd));
    Ok(())
}

/// `--env`, `--keep-env`, `--clear-env`.
fn environment(o: &mut Ordered, run: &RunArgs) -> Result<(), UsageError> {
    o.each("env", &run.env, |v| values::env_pair(v).map(|(k, v)| Setting::Env(k, v)))?;
    o.each("keep_env", &run.keep_env, |v| {
        let name = OsStr::from_bytes(v.as_bytes().strip_suffix(b"*").unwrap_or(v.as_bytes()));
        values::env_name(name).map(|_| Setting::KeepEnv(v.to_owned()))
    })?;
    o.one("clear_env", run.clear_env.then_some(Setting::ClearEnv));
    Ok(())
}

/// The network mode and namespaces, and the command's process.
fn process(o: &mut Ordered, run: &RunArgs, home: &Path) -> Result<(), UsageError> {
    o.one("net", run.net.map(Setting::Net));
    o.each("hostname", run.hostname.as_slice(), |h| values::hostname(h).map(Setting::Hostname))?;
    o.one("userns", run.userns.map(Setting::Userns));
    o.one("uid", run.uid.map(Setting::Uid));
    o.one("gid", run.gid.map(Setting::Gid));
    o.one("no_die_with_parent", run.no_die_with_parent.then_some(Setting::DieWithParent(false)));
    o.one("no_new_session", run.no_new_session.then_some(Setting::NewSession(false)));
    o.one("best_effort", run.best_effort.then_some(Setting::BestEffort(true)));
    o.each("cwd", run.cwd.as_slice(), |v| values::cwd(&values::tilde(v, home)?).map(Setting::Cwd))?;
    o.each("share", &run.share, |ns| Ok(Setting::Share(*ns)))?;
    o.each("cap_add", &run.cap_add, |cap| values::capability(cap).map(Setting::CapAdd))?;
    o.each("keep_fd", &run.keep_fd, |fd| Ok(Setting::KeepFd(*fd)))?;
    Ok(())
}
