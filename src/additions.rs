//! What the native front end adds to a Plan on its own, once the profile
//! and the command line are folded and the command is known: the package
//! caches `--caches` asks for, the toolchains the command needs
//! ([`crate::toolchain`]), the unreachable resolver of a sandbox without a
//! network, and what the links of the shared `/etc` point at
//! ([`crate::etclinks`]). Each comes with why, for `explain`.
//!
//! A path is added right after the operation that hides it (the profile's
//! empty `$HOME`, for most), never at the end: an option written later
//! (`--hide ~/.cargo/bin`, `--tmpfs /opt`) still has the last word.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::etclinks;
use crate::host::Host;
use crate::hostfs::{HostFs, Memo};
use crate::plan::landlock::Mode;
use crate::plan::view;
use crate::plan::{network, Access, EnvVar, FileHow, FsOp, Plan, Upper};
use crate::toolchain::{self, CacheMode, How, Table};

/// What to add, as the settings say.
pub struct Wanted<'a> {
    pub toolchains: bool,
    pub caches: CacheMode,
    /// The profiles' `${…}` expansion for this host.
    pub expand: &'a dyn Fn(&str) -> Result<String, String>,
}

/// The Plan's provenance lists, kept parallel to `plan.fs` and `plan.env`.
pub struct Prov<'a, O> {
    pub fs: &'a mut Vec<O>,
    pub env: &'a mut Vec<O>,
}

/// Adds everything to `plan`; `origin` makes a provenance entry from a reason.
pub fn apply<O>(
    plan: &mut Plan,
    prov: Prov<O>,
    host: &Host,
    fs: &dyn HostFs,
    want: &Wanted,
    origin: impl Fn(String) -> O,
) -> Vec<toolchain::Share> {
    // The toolchains and /etc's links walk many paths with a common start.
    let memo = Memo::new(fs);
    let fs: &dyn HostFs = &memo;
    let mut ins = Inserter { ours: vec![false; plan.fs.len()], plan, prov, origin };
    let table = Table::builtin();
    for cache in toolchain::caches(&table, host, want.expand, fs, &ins.plan.fs.clone(), want.caches) {
        if cache.how == How::Create && !ins.plan.root.create_dirs.contains(&cache.path) {
            ins.plan.root.create_dirs.push(cache.path.clone());
        }
        ins.fs(cache_op(&cache.path, cache.how), cache.why);
    }
    crate::trace::step("monitor", "caches");
    let mut skipped = Vec::new();
    if want.toolchains && !ins.plan.command.is_empty() {
        skipped = ins.toolchains(&table, host, fs, want.expand);
    }
    crate::trace::step("monitor", "toolchains");
    ins.offline_resolver();
    let extras = etclinks::extra_cached(&ins.plan.fs, host, fs, host.cache.as_deref());
    for e in extras {
        ins.fs_after(e.op, e.why, Some(e.after));
    }
    crate::trace::step("monitor", "links of /etc");
    skipped
}

fn cache_op(p: &Path, how: How) -> FsOp {
    let bind = |access| FsOp::Bind { src: p.to_path_buf(), dest: p.to_path_buf(), access, optional: true };
    match how {
        How::ReadOnly => bind(Access::ReadOnly),
        How::ReadWrite | How::Create => bind(Access::ReadWrite),
        How::Overlay => {
            FsOp::Overlay { lowers: vec![p.to_path_buf()], dest: p.to_path_buf(), upper: Upper::Tmpfs }
        }
    }
}

struct Inserter<'p, 'q, O, F: Fn(String) -> O> {
    plan: &'p mut Plan,
    prov: Prov<'q, O>,
    origin: F,
    /// Which operations of `plan.fs` were added here.
    ours: Vec<bool>,
}

impl<O, F: Fn(String) -> O> Inserter<'_, '_, O, F> {
    /// Inserts `op` after the operation that decides what is at its
    /// destination, and after what was already added there.
    fn fs(&mut self, op: FsOp, why: String) {
        self.fs_after(op, why, None);
    }

    /// [`Self::fs`], but after the operation at index `anchor` too.
    fn fs_after(&mut self, op: FsOp, why: String, anchor: Option<usize>) {
        let cover = match view::at(&self.plan.fs, op.dest()) {
            (_, Some(i)) => i + 1,
            (_, None) => 0,
        };
        let mut at = cover.max(anchor.map_or(0, |a| a + 1));
        while self.ours.get(at) == Some(&true) {
            at += 1;
        }
        self.plan.fs.insert(at, op);
        self.prov.fs.insert(at.min(self.prov.fs.len()), (self.origin)(why));
        self.ours.insert(at, true);
    }

    fn env(&mut self, name: OsString, value: OsString, why: String) {
        match self.plan.env.iter().position(|v| v.name == name) {
            Some(i) => {
                self.plan.env[i].value = value;
                if let Some(o) = self.prov.env.get_mut(i) {
                    *o = (self.origin)(why);
                }
            }
            None => {
                self.plan.env.push(EnvVar { name, value });
                self.prov.env.push((self.origin)(why));
            }
        }
    }

    fn toolchains(
        &mut self,
        table: &Table,
        host: &Host,
        fs: &dyn HostFs,
        expand: &dyn Fn(&str) -> Result<String, String>,
    ) -> Vec<toolchain::Share> {
        let inside_path = self.plan.env.iter().find(|v| v.name == "PATH").map(|v| v.value.clone());
        let d = toolchain::decide(&toolchain::Input {
            table,
            host,
            ops: &self.plan.fs,
            command: &self.plan.command[0],
            inside_path: inside_path.as_deref(),
            expand,
            fs,
        });
        for s in d.shares {
            let op =
                FsOp::Bind { src: s.path.clone(), dest: s.path, access: Access::ReadOnly, optional: true };
            self.fs(op, s.why);
        }
        for h in d.hides {
            self.fs(FsOp::Hide { dest: h.path, optional: true }, h.why);
        }
        for name in d.env {
            let Some(value) = host.var(&name.to_string_lossy()).map(|v| v.to_owned()) else { continue };
            if !self.plan.env.iter().any(|v| v.name == name) {
                self.env(name, value, "a toolchain's variable".into());
            }
        }
        if let Some(path) = d.path {
            self.env("PATH".into(), path, "toolchain directories on PATH".into());
        }
        d.skipped
    }

    /// Without a network (`--net none`, the default) a resolver that cannot
    /// be reached, so a lookup fails at once: only where the host's
    /// `/etc/resolv.conf` would otherwise be shown, and never in
    /// landlock-only mode (no mounts there).
    fn offline_resolver(&mut self) {
        let dest = PathBuf::from(network::RESOLV_CONF);
        let plan = &self.plan;
        let offline = plan.mode == Mode::Namespaces && plan.namespaces.net && plan.network.user.is_none();
        if !offline || !view::shows(&plan.fs, &dest) {
            return;
        }
        let content = etclinks::offline_resolv_conf().into_bytes();
        let op = FsOp::File { dest, content, mode: 0o644, how: FileHow::BindRo };
        self.fs(op, "no network: an unreachable resolver".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostfs::fake::FakeFs;

    fn plan(command: &str) -> Plan {
        let bind = |p: &str, access| FsOp::Bind { src: p.into(), dest: p.into(), access, optional: false };
        let (mut p, _, _) = crate::settings::build(&Host::fake("/work/proj"), &[]).unwrap();
        p.fs = vec![
            bind("/usr", Access::ReadOnly),
            bind("/etc", Access::ReadOnly),
            FsOp::Tmpfs { dest: "/home/u".into(), mode: 0o755, size: None },
            bind("/work/proj", Access::ReadWrite),
            FsOp::Hide { dest: "/home/u/.cargo/bin".into(), optional: false },
        ];
        p.env = vec![EnvVar { name: "PATH".into(), value: "/home/u/.cargo/bin:/usr/bin".into() }];
        p.command = vec![command.into()];
        p
    }

    fn host() -> Host {
        let mut h = Host::fake("/work/proj");
        h.env.retain(|(k, _)| k != "PATH");
        h.env.push(("PATH".into(), "/home/u/.cargo/bin:/usr/bin".into()));
        h
    }

    #[test]
    fn additions_go_after_what_hides_them_and_never_undo_an_option() {
        let mut fs = FakeFs::new();
        fs.exe("/home/u/.cargo/bin/cargo").dir("/home/u/.rustup").dir("/home/u/.npm");
        fs.link("/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
        fs.file("/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n");
        let mut p = plan("cargo");
        p.namespaces.net = false;
        let (mut pf, mut pe) = (vec!["profile".to_string(); 5], vec!["profile".to_string()]);
        let expand = |s: &str| {
            Ok(s.replace("${env:CARGO_HOME:-${HOME}/.cargo}", "/home/u/.cargo")
                .replace("${env:RUSTUP_HOME:-${HOME}/.rustup}", "/home/u/.rustup")
                .replace("${HOME}", "/home/u"))
        };
        let want = Wanted { toolchains: true, caches: CacheMode::Overlay, expand: &expand };
        apply(&mut p, Prov { fs: &mut pf, env: &mut pe }, &host(), &fs, &want, |why| why);
        let got: Vec<String> =
            p.fs.iter().zip(&pf).map(|(op, why)| format!("{} {why}", op.dest().display())).collect();
        assert_eq!(
            got,
            [
                "/usr profile",
                "/etc profile",
                "/run/systemd/resolve/stub-resolv.conf /etc/resolv.conf links there",
                "/home/u profile",
                "/home/u/.npm package cache of npm",
                "/home/u/.rustup toolchain of cargo (rustup)",
                "/work/proj profile",
                "/home/u/.cargo/bin profile",
            ]
        );
        assert!(matches!(&p.fs[4], FsOp::Overlay { upper: Upper::Tmpfs, .. }));
        // The --hide of ~/.cargo/bin (the plan's last entry) is not undone.
        assert!(matches!(p.fs.last(), Some(FsOp::Hide { .. })));
    }

    #[test]
    fn without_a_network_resolv_conf_is_the_unreachable_resolver_whatever_it_links_to() {
        let mut fs = FakeFs::new();
        fs.link("/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf");
        fs.file("/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n");
        let mut p = plan("true");
        let (mut pf, mut pe) = (vec![String::new(); 5], vec![String::new()]);
        let expand = |s: &str| Ok(s.to_string());
        let want = Wanted { toolchains: true, caches: CacheMode::None, expand: &expand };
        apply(&mut p, Prov { fs: &mut pf, env: &mut pe }, &host(), &fs, &want, |why| why);
        assert_eq!(p.fs.len(), 6, "{:?}", p.fs);
        match &p.fs[2] {
            FsOp::File { dest, content, how: FileHow::BindRo, .. } => {
                assert_eq!(dest, Path::new("/etc/resolv.conf"));
                assert!(String::from_utf8_lossy(content).contains("nameserver 192.0.2.53"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pf[2], "no network: an unreachable resolver", "right after the /etc bind");
        // Landlock-only mode has no mounts to put it in.
        let mut p = plan("true");
        p.mode = Mode::Landlock;
        let (mut pf, mut pe) = (vec![String::new(); 5], vec![String::new()]);
        apply(&mut p, Prov { fs: &mut pf, env: &mut pe }, &host(), &fs, &want, |why| why);
        assert!(!p.fs.iter().any(|op| op.dest() == Path::new("/etc/resolv.conf")), "{:?}", p.fs);
    }

    #[test]
    fn nothing_is_added_when_toolchains_are_off_and_the_network_is_on() {
        let mut fs = FakeFs::new();
        fs.exe("/home/u/.cargo/bin/cargo").dir("/home/u/.rustup");
        let mut p = plan("cargo");
        p.namespaces.net = false;
        let before = p.fs.clone();
        let (mut pf, mut pe) = (vec![(); 5], vec![()]);
        let expand = |s: &str| Ok(s.to_string());
        let want = Wanted { toolchains: false, caches: CacheMode::None, expand: &expand };
        apply(&mut p, Prov { fs: &mut pf, env: &mut pe }, &host(), &fs, &want, |_| ());
        assert_eq!(p.fs, before);
    }
}
