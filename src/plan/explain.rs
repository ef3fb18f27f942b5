//! The readable form of a Plan, printed by `sandbox explain`: what will run,
//! so in landlock-only mode the landlock rules on the host's own paths, not
//! namespaces and mounts that will not exist.

use std::fmt;

use super::fs::{Access, FileHow, FsOp, Upper};
use super::{landlock, seccomp, Plan};
use crate::escape::{os, path};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            landlock::Mode::Namespaces => {
                self.fmt_namespaces(f)?;
                self.fmt_mounts(f)?;
            }
            landlock::Mode::Landlock => landlock::only::explain(self, &landlock::only::RealHost, f)?,
        }
        self.fmt_process(f)?;
        match self.mode {
            landlock::Mode::Namespaces => writeln!(f, "{}", self.landlock)?,
            landlock::Mode::Landlock => {
                writeln!(f, "landlock:   the file-system rules above")?;
                self.landlock.fmt_ports_and_scopes(f, self.namespaces.net)?;
                writeln!(f)?;
            }
        }
        let cmd: Vec<String> = self.command.iter().map(|a| os(a)).collect();
        write!(f, "command:    {}", cmd.join(" "))
    }
}

impl Plan {
    /// `explain`'s namespaces, network and ids.
    fn fmt_namespaces(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = &self.namespaces;
        let mut own = Vec::new();
        let mut shared = Vec::new();
        for (name, on) in [
            ("user", ns.user),
            ("mount", true),
            ("pid", ns.pid),
            ("ipc", ns.ipc),
            ("uts", ns.uts),
            ("net", ns.net),
            ("cgroup", ns.cgroup),
        ] {
            if on {
                own.push(name)
            } else {
                shared.push(name)
            }
        }
        writeln!(f, "namespaces: own {}", own.join(" "))?;
        if !shared.is_empty() {
            writeln!(f, "            shared with the host: {}", shared.join(" "))?;
        }
        writeln!(f, "network:    {}", self.network.describe(ns.net))?;
        writeln!(f, "ids:        uid {} gid {} (mapped to the caller's own)", self.ids.uid, self.ids.gid)
    }

    /// `explain`'s file-system operations, in order.
    fn fmt_mounts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = if self.bwrap.is_some() { "writable" } else { "read-only" };
        writeln!(f, "filesystem: (in order, on an empty {root} tmpfs root)")?;
        for op in &self.fs {
            writeln!(f, "  {}", op_line(op))?;
        }
        Ok(())
    }

    /// `explain`'s environment, process options, seccomp and limits.
    fn fmt_process(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "environment:")?;
        for v in &self.env {
            writeln!(f, "  {}={}", os(&v.name), os(&v.value))?;
        }
        let p = &self.process;
        let cwd = p.cwd.as_deref().map(path).unwrap_or_else(|| "/".into());
        writeln!(f, "cwd:        {cwd}")?;
        if let Some(h) = &p.hostname {
            writeln!(f, "hostname:   {}", crate::escape::str(h))?;
        }
        writeln!(f, "die-with-parent: {}", yes(p.die_with_parent))?;
        writeln!(f, "new-session: {}", yes(p.new_session))?;
        if !p.keep_fds.is_empty() {
            let fds: Vec<String> = p.keep_fds.iter().map(|n| n.to_string()).collect();
            writeln!(f, "keep-fds:   {}", fds.join(" "))?;
        }
        if !p.caps.is_empty() {
            writeln!(f, "caps:       {}", p.caps.join(" "))?;
        } else {
            writeln!(f, "caps:       none")?;
        }
        if let Some(b) = &self.bwrap {
            for line in b.describe() {
                writeln!(f, "{line}")?;
            }
        }
        self.seccomp.explain(seccomp::Facts::of(self), f)?;
        if self.best_effort {
            writeln!(f, "best-effort: yes (confinements this kernel lacks are dropped with a warning)")?;
        }
        write!(f, "{}", self.limits)
    }
}

/// One file-system operation as `explain` lists it: its kind in a column of
/// eight, then where and what.
fn op_line(op: &FsOp) -> String {
    match op {
        FsOp::Bind { src, dest, access, optional } => {
            let kind = match access {
                Access::ReadOnly => "ro",
                Access::ReadWrite => "rw",
                Access::Device => "dev",
            };
            let opt = if *optional { " (if present)" } else { "" };
            if src == dest {
                format!("{kind:<8} {}{opt}", path(dest))
            } else {
                format!("{kind:<8} {} <- {}{opt}", path(dest), path(src))
            }
        }
        FsOp::Tmpfs { dest, mode, size } => {
            let size = size.map(|s| format!(" size={s}")).unwrap_or_default();
            format!("tmpfs    {} (mode {mode:04o}{size})", path(dest))
        }
        FsOp::Proc { dest } => format!("proc     {}", path(dest)),
        FsOp::Dev { dest } => format!("dev      {}", path(dest)),
        FsOp::Dir { dest, mode } => format!("mkdir    {} (mode {mode:04o})", path(dest)),
        FsOp::Symlink { target, dest } => format!("symlink  {} -> {}", path(dest), path(target)),
        FsOp::Hide { dest } => format!("hide     {}", path(dest)),
        FsOp::File { dest, content, mode, how } => {
            let how = match how {
                FileHow::Copy => "file",
                FileHow::Bind => "data",
                FileHow::BindRo => "data-ro",
            };
            format!("{how:<8} {} ({} bytes, mode {mode:04o})", path(dest), content.len())
        }
        FsOp::Chmod { dest, mode } => format!("chmod    {} {mode:04o}", path(dest)),
        FsOp::RemountRo { dest } => format!("remount  {} read-only", path(dest)),
        FsOp::Mqueue { dest } => format!("mqueue   {}", path(dest)),
        FsOp::Overlay { lowers, dest, upper } => {
            let lowers: Vec<String> = lowers.iter().map(|l| path(l)).collect();
            let upper = match upper {
                Upper::Tmpfs => "writes vanish at exit".to_string(),
                Upper::Dir { upper, work } => format!("writes to {} (work {})", path(upper), path(work)),
                Upper::State { dir } => format!("writes persist in {}", path(dir)),
                Upper::ReadOnly => "read-only".to_string(),
            };
            format!("overlay  {} <- {} ({upper})", path(dest), lowers.join(" over "))
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
