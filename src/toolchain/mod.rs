//! Toolchains: the tools a user installed in their home directory (or under
//! /opt) run in the sandbox without flags.
//!
//! The default profile hides `$HOME` behind an empty tmpfs, so `cargo`,
//! `node` from nvm or `python` through pyenv's shims would not be found.
//! [`decide`] looks at where the command is on the caller's PATH (and where
//! its symlinks and `#!` interpreter lead), and at every PATH entry, and for
//! each place the Plan does not show: the toolchain it belongs to (the
//! data-driven [`table`]) is shared read-only, with what it needs to run
//! and the variables it reads; a place no toolchain claims is shared as it
//! is. Never shared: `/`, `$HOME` or anything above it, the directories
//! every user shares (`/tmp`, `/run`, `$XDG_RUNTIME_DIR`, …), the kernel's
//! (`/proc`, `/sys`, `/dev`), and secrets: a secret of the table inside a
//! shared directory is hidden, a directory inside a secret is not shared.
//! Paths are compared with their links resolved.
//!
//! Pure: it reads the host only through [`HostFs`], and returns a
//! [`Decision`] the front end folds into the Plan.

mod caches;
pub mod table;

use std::cell::OnceCell;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::escape;
use crate::host::{Host, Private};
use crate::hostfs::{HostFs, Kind};
use crate::plan::{view, FsOp};
pub use caches::{caches, Cache, CacheMode, How};
pub use table::Table;

/// One path shared read-only (at the same path inside), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub path: PathBuf,
    pub why: String,
}

/// What toolchain sharing adds to a Plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Directories and files to bind read-only, outer ones first.
    pub shares: Vec<Share>,
    /// Secrets inside them, to hide after the binds.
    pub hides: Vec<Share>,
    /// Variables to pass from the caller's environment.
    pub env: Vec<OsString>,
    /// The PATH to set inside, when it changes.
    pub path: Option<OsString>,
    /// Places not shared, and why (for `explain`).
    pub skipped: Vec<Share>,
}

/// What [`decide`] looks at.
pub struct Input<'a> {
    pub table: &'a Table,
    pub host: &'a Host,
    /// The Plan's file-system operations so far.
    pub ops: &'a [FsOp],
    /// The command's first word, as given.
    pub command: &'a OsStr,
    /// The PATH the command will be searched on inside.
    pub inside_path: Option<&'a OsStr>,
    /// The profiles' `${…}` expansion for this host.
    pub expand: &'a dyn Fn(&str) -> Result<String, String>,
    pub fs: &'a dyn HostFs,
}

/// Where a command is on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// As found: PATH entry joined with the name, or the path given.
    pub path: PathBuf,
    /// With every link resolved.
    pub real: PathBuf,
}

/// Finds `cmd` as execvp would on `path` (absolute entries only), or at
/// `cwd`-relative `cmd` when it holds a `/`.
pub fn locate(cmd: &OsStr, path: Option<&OsStr>, cwd: &Path, fs: &dyn HostFs) -> Option<Found> {
    let executable = |p: &Path| -> Option<Found> {
        let w = fs.walk(p)?;
        matches!(w.kind, Some(Kind::File { exec: true }))
            .then(|| Found { path: p.to_path_buf(), real: w.real })
    };
    if cmd.is_empty() {
        return None;
    }
    if cmd.as_bytes().contains(&b'/') {
        return executable(&crate::values::normalize(&cwd.join(cmd)));
    }
    split_path(path?).filter(|d| d.is_absolute()).find_map(|dir| executable(&dir.join(cmd)))
}

fn split_path(path: &OsStr) -> impl Iterator<Item = PathBuf> + '_ {
    path.as_bytes().split(|&b| b == b':').map(|e| PathBuf::from(OsStr::from_bytes(e)))
}

/// The absolute interpreter a `#!` script names.
fn interpreter(fs: &dyn HostFs, script: &Path) -> Option<PathBuf> {
    let head = fs.head(script, 256)?;
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let word = line.split(|&b| b == b' ' || b == b'\t').find(|w| !w.is_empty())?;
    let p = PathBuf::from(OsStr::from_bytes(word));
    p.is_absolute().then_some(p)
}

/// What toolchain sharing adds for this command.
pub fn decide(inp: &Input) -> Decision {
    let mut d = Decider::new(inp);
    let cmd = escape::os(inp.command);
    let caller_path = inp.host.var("PATH");
    if let Some(found) = locate(inp.command, caller_path, &inp.host.cwd, inp.fs) {
        d.command(&found, &cmd, inp.command.as_bytes().contains(&b'/'));
    }
    for entry in inp.inside_path.map(split_path).into_iter().flatten() {
        d.path_entry(&entry);
    }
    for tc in &inp.table.toolchains {
        let Some(root_of) = &tc.root_of else { continue };
        let Some(found) = locate(OsStr::new(root_of), caller_path, &inp.host.cwd, inp.fs) else { continue };
        if let Some(root) = found.real.parent().and_then(Path::parent) {
            d.offer(root, format!("toolchain of {root_of} ({}: the real {root_of}, two levels up)", tc.name));
        }
    }
    d.finish()
}

struct Decider<'a> {
    inp: &'a Input<'a>,
    /// Every toolchain's bin directories that exist: (toolchain, as spelled,
    /// resolved). Looked for the first time one is asked about: a command
    /// and a PATH the sandbox shows already need none.
    roots: OnceCell<Vec<(usize, PathBuf, PathBuf)>>,
    /// Toolchains in use, with why.
    active: Vec<(usize, String)>,
    out: Decision,
    /// PATH entries to replace inside (seen through a link from a hidden place).
    rewrite: Vec<(PathBuf, PathBuf)>,
    add_path: Vec<PathBuf>,
    /// The table's secrets that exist, as spelled and resolved: looked for
    /// the first time a place is offered.
    secrets: OnceCell<Vec<PathBuf>>,
}

impl<'a> Decider<'a> {
    fn new(inp: &'a Input<'a>) -> Decider<'a> {
        Decider {
            inp,
            roots: OnceCell::new(),
            active: Vec::new(),
            out: Decision::default(),
            rewrite: Vec::new(),
            add_path: Vec::new(),
            secrets: OnceCell::new(),
        }
    }

    fn roots(&self) -> &[(usize, PathBuf, PathBuf)] {
        let inp = self.inp;
        self.roots.get_or_init(|| {
            let mut roots = Vec::new();
            for (i, tc) in inp.table.toolchains.iter().enumerate() {
                for pattern in &tc.bin {
                    for p in table::paths(pattern, inp.expand, inp.fs) {
                        if let Some(real) = inp.fs.real(&p) {
                            roots.push((i, p, real));
                        }
                    }
                }
            }
            roots
        })
    }

    fn secrets(&self) -> &[PathBuf] {
        let inp = self.inp;
        self.secrets.get_or_init(|| {
            let mut secrets = Vec::new();
            for pattern in &inp.table.secrets.paths {
                for s in table::paths(pattern, inp.expand, inp.fs) {
                    if let Some(real) = inp.fs.real(&s).filter(|r| *r != s) {
                        secrets.push(real);
                    }
                    secrets.push(s);
                }
            }
            secrets
        })
    }

    fn shown(&self, p: &Path) -> bool {
        view::shows(self.inp.ops, p)
    }

    /// The toolchain root `spelled` or `real` lies beneath.
    fn claimed(&self, spelled: &Path, real: &Path) -> Option<(usize, PathBuf)> {
        self.roots()
            .iter()
            .find(|(_, s, r)| real.starts_with(r) || spelled.starts_with(s))
            .map(|(i, s, _)| (*i, s.clone()))
    }

    fn activate(&mut self, tc: usize, root: &Path, why: String) {
        self.offer(root, why.clone());
        if !self.active.iter().any(|(i, _)| *i == tc) {
            self.active.push((tc, why));
        }
    }

    /// The command, its links' target and its interpreters.
    fn command(&mut self, found: &Found, cmd: &str, by_path: bool) {
        let mut at = found.clone();
        for _ in 0..4 {
            if self.shown(&at.path) && self.shown(&at.real) {
                return;
            }
            for loc in [&at.path, &at.real] {
                if self.shown(loc) {
                    continue;
                }
                let dir = loc.parent().unwrap_or(Path::new("/"));
                let claimed = self.claimed(loc, &self.inp.fs.real(loc).unwrap_or(loc.clone()));
                if let Some((tc, root)) = &claimed {
                    let name = self.inp.table.toolchains[*tc].name.clone();
                    self.activate(*tc, root, format!("toolchain of {cmd} ({name})"));
                }
                // Claimed through its link's target only: where it was
                // found must be there too.
                if !claimed.is_some_and(|(_, root)| loc.starts_with(root)) {
                    let why =
                        if loc == &at.path { format!("holds {cmd}") } else { format!("{cmd} links into it") };
                    self.offer(dir, why);
                }
                if by_path && loc == &found.path {
                    self.add_path.push(dir.to_path_buf());
                }
            }
            let Some(next) = interpreter(self.inp.fs, &at.real) else { return };
            let Some(f) = locate(next.as_os_str(), None, Path::new("/"), self.inp.fs) else { return };
            at = f;
        }
    }

    fn path_entry(&mut self, entry: &Path) {
        if !entry.is_absolute() || self.shown(entry) {
            return;
        }
        let Some(real) = self.inp.fs.real(entry) else { return };
        if self.inp.fs.stat(&real) != Some(Kind::Dir) {
            return;
        }
        match self.claimed(entry, &real) {
            Some((tc, root)) => {
                let name = self.inp.table.toolchains[tc].name.clone();
                self.activate(tc, &root, format!("{name} toolchain, on PATH"));
            }
            None => self.offer(entry, "on PATH".to_string()),
        }
        if self.forbidden(entry).is_some() && self.forbidden(&real).is_none() {
            // Seen through a link from a place never shared (fnm's
            // $XDG_RUNTIME_DIR/fnm_multishells/…): PATH names the target.
            self.rewrite.push((entry.to_path_buf(), real));
        }
    }

    /// Shares `p` (read-only, at the same path) unless it is shown already
    /// or may never be; a place seen through a link from a hidden one is
    /// shared at its target.
    fn offer(&mut self, p: &Path, why: String) {
        let fs = self.inp.fs;
        let Some(real) = fs.real(p) else { return };
        let p = match self.forbidden(p) {
            Some(_) if self.forbidden(&real).is_none() => real.clone(),
            _ => p.to_path_buf(),
        };
        if self.shown(&p) && self.shown(&real) {
            return;
        }
        let unreadable = || (!fs.readable(&p)).then(|| "you may not read it".to_string());
        let covered = || {
            (!view::fillable(self.inp.ops, &p))
                .then(|| "an option or the profile puts something else there".to_string())
        };
        let refused =
            self.forbidden(&p).or_else(|| self.forbidden(&real)).or_else(unreadable).or_else(covered);
        if let Some(reason) = refused {
            if !self.out.skipped.iter().any(|s| s.path == p) {
                self.out.skipped.push(Share { path: p, why: format!("{why}: not shared, {reason}") });
            }
            return;
        }
        if !self.out.shares.iter().any(|s| s.path == p) {
            self.out.shares.push(Share { path: p, why });
        }
    }

    /// Why `p` may never be shared by toolchain sharing.
    fn forbidden(&self, p: &Path) -> Option<String> {
        if let Some(why) = never(self.inp.host, self.inp.fs, p) {
            return Some(why);
        }
        let secret = self.secrets().iter().find(|s| p.starts_with(s))?;
        Some(format!("{} is a secret", escape::path(secret)))
    }

    fn finish(mut self) -> Decision {
        let active = std::mem::take(&mut self.active);
        for (tc, why) in &active {
            let tc = &self.inp.table.toolchains[*tc];
            for pattern in &tc.share {
                for p in table::paths(pattern, self.inp.expand, self.inp.fs) {
                    self.offer(&p, why.clone());
                }
            }
            for name in &tc.env {
                let name = OsString::from(name);
                let set = self.inp.host.var(&name.to_string_lossy()).is_some();
                if set && !table::is_token_name(&name) && !self.out.env.contains(&name) {
                    self.out.env.push(name);
                }
            }
        }
        self.nest();
        self.hide_secrets();
        self.out.path = self.new_path();
        self.out
    }

    /// Drops a share inside another one.
    fn nest(&mut self) {
        let all = self.out.shares.clone();
        self.out.shares.retain(|s| !all.iter().any(|o| o.path != s.path && s.path.starts_with(&o.path)));
    }

    fn hide_secrets(&mut self) {
        if self.out.shares.is_empty() {
            return;
        }
        let fs = self.inp.fs;
        let mut hides = std::mem::take(&mut self.out.hides);
        for secret in self.secrets() {
            for share in &self.out.shares {
                let real = fs.real(&share.path).unwrap_or(share.path.clone());
                let inside = match (secret.strip_prefix(&share.path), secret.strip_prefix(&real)) {
                    (Ok(rest), _) | (_, Ok(rest)) => share.path.join(rest),
                    _ => continue,
                };
                if !hides.iter().any(|h| h.path == inside) {
                    let why = format!("a secret inside {}", escape::path(&share.path));
                    hides.push(Share { path: inside, why });
                }
            }
        }
        self.out.hides = hides;
    }

    fn new_path(&self) -> Option<OsString> {
        if self.rewrite.is_empty() && self.add_path.is_empty() {
            return None;
        }
        let old = self.inp.inside_path.unwrap_or_default();
        let mut entries: Vec<PathBuf> = if old.is_empty() { Vec::new() } else { split_path(old).collect() };
        for e in entries.iter_mut() {
            if let Some((_, to)) = self.rewrite.iter().find(|(from, _)| from == e) {
                *e = to.clone();
            }
        }
        for add in &self.add_path {
            if !entries.contains(add) {
                entries.push(add.clone());
            }
        }
        let joined: Vec<&[u8]> = entries.iter().map(|e| e.as_os_str().as_bytes()).collect();
        let new = OsStr::from_bytes(&joined.join(&b':')).to_owned();
        (new != old).then_some(new)
    }
}

/// Why `p` may never be shared on the sandbox's own initiative: `/`,
/// `$HOME` or above it, the kernel's, the directories every user shares.
fn never(host: &Host, fs: &dyn HostFs, p: &Path) -> Option<String> {
    let home = fs.real(&host.home).unwrap_or(host.home.clone());
    if home.starts_with(p) || host.home.starts_with(p) {
        return Some("it is your home directory or above it".into());
    }
    if ["/proc", "/sys", "/dev"].iter().any(|k| p.starts_with(k)) {
        return Some("the kernel's".into());
    }
    // Beneath $HOME is the user's own, even when $HOME lies in /tmp.
    if p.starts_with(&home) || p.starts_with(&host.home) {
        return None;
    }
    let d = host
        .private
        .iter()
        .find(|d| d.why != Private::Home && (p.starts_with(&d.path) || d.path.starts_with(p)))?;
    Some(format!("{} is shared by every user or holds your session's sockets", escape::path(&d.path)))
}

/// The hint for a command the sandbox could not find: where it is on the
/// host and what shares it. `off` says how toolchain sharing was turned
/// off, when it was.
pub fn not_found_hint(
    cmd: &OsStr,
    host: &Host,
    ops: &[FsOp],
    fs: &dyn HostFs,
    off: Option<&str>,
) -> Option<String> {
    let found = locate(cmd, host.var("PATH"), &host.cwd, fs)?;
    let dir = found.path.parent().unwrap_or(Path::new("/"));
    let shown = |p: &Path| view::shows(ops, p);
    let missing = if !shown(&found.path) { dir } else { found.real.parent().unwrap_or(Path::new("/")) };
    let mut hint = format!(
        "{} is {} on the host, which the sandbox does not show; share it with --ro {}",
        escape::os(cmd),
        escape::path(&found.path),
        crate::values::spell(missing),
    );
    if let Some(off) = off {
        hint.push_str(&format!(" (toolchain sharing is off: {off})"));
    }
    Some(hint)
}

#[cfg(test)]
mod tests;
