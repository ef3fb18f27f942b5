//! The readable form of a Plan, printed by `sandbox explain`: what will run,
//! so in landlock-only mode the landlock rules on the host's own paths, not
//! namespaces and mounts that will not exist.

use std::fmt;

use super::fs::{Access, FileHow, FsOp, RootSource, RootTmpfs, RootWrites, Special, Upper};
use super::namespaces::{Extent, IdMap, Setgroups};
use super::process::{Fds, Pid1, Signals, SEARCH_PATH};
use super::{landlock, seccomp, Plan};
use crate::escape::{os, path};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            landlock::Mode::Namespaces => {
                self.fmt_namespaces(f)?;
                self.fmt_mounts(f)?;
                write!(f, "{}", self.desktop)?;
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
        self.fmt_firewall(f)?;
        self.fmt_ids(f)?;
        self.fmt_ns_setup(f)
    }

    /// The command's ids and the id map.
    fn fmt_ids(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (uid, gid) = (self.ids.uid, self.ids.gid);
        let IdMap::Ranges(r) = &self.id_map else {
            return writeln!(
                f,
                "ids:        uid {uid} gid {gid} (mapped to the caller's own; no other id exists)"
            );
        };
        writeln!(
            f,
            "ids:        uid {uid} gid {gid} (the caller's own); every other id from subordinate ids:"
        )?;
        let lines = |m: &[Extent]| m.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        writeln!(f, "  uid_map   {} (inside outside count)", lines(&r.uid))?;
        writeln!(f, "  gid_map   {}", lines(&r.gid))?;
        let by = match &r.helpers {
            Some(h) => format!("written by {} and {}", path(&h.newuidmap), path(&h.newgidmap)),
            None => "written by the monitor (the caller is root)".into(),
        };
        let groups = match r.setgroups {
            Setgroups::Allow => "setgroups allowed (with CAP_SETGID inside)",
            Setgroups::Deny => "setgroups denied",
        };
        writeln!(f, "            {by}; {groups}")
    }

    /// The egress firewall, as `nft list ruleset` shows it inside.
    fn fmt_firewall(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(user) = self.network.user.as_ref().filter(|u| u.filtered()) else { return Ok(()) };
        let fw = crate::egress::ruleset::Firewall { addrs: user.allow_addrs.clone() };
        writeln!(
            f,
            "firewall:   in the sandbox's network namespace, out of the command's reach (nft list ruleset):"
        )?;
        for line in fw.render().lines() {
            writeln!(f, "              {}", line.replace('\t', "    ")).map(|_| ())?;
        }
        if user.allow_host_loopback {
            writeln!(f, "            and, before the log rule, the default gateways' addresses (--allow-host-loopback)")?;
        }
        writeln!(f, "            the sets fill from the DNS filter's answers, each address for its TTL")
    }

    /// Joined namespaces and the nested user namespace; nothing by default.
    fn fmt_ns_setup(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.ns_setup;
        let fds = [
            ("userns:     joins the one of fd", s.join_user_fd),
            ("pidns:      joins the one of fd", s.join_pid_fd),
            ("userns:     enters after setup the one of fd", s.enter_user_fd),
            ("id maps:    written by a helper outside; the monitor waits on fd", s.map_helper_fd),
        ];
        for (what, fd) in fds {
            if let Some(fd) = fd {
                writeln!(f, "{what} {fd}")?;
            }
        }
        if let Some(outer) = s.nest {
            writeln!(
                f,
                "            mapped to uid {} gid {} first, then a nested user namespace",
                outer.uid, outer.gid
            )?;
        }
        if s.disable_userns {
            writeln!(f, "            no user namespaces can be made inside")?;
        }
        if s.assert_userns_disabled {
            writeln!(f, "            refuses to run if a user namespace can be made inside")?;
        }
        Ok(())
    }

    /// `explain`'s file-system operations, in order.
    fn fmt_mounts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = match self.root.tmpfs {
            RootTmpfs::ReadOnly => "read-only",
            RootTmpfs::Writable => "writable",
        };
        match &self.root.source {
            RootSource::Tmpfs => writeln!(f, "filesystem: (in order, on an empty {root} tmpfs root)")?,
            RootSource::Dir { path: dir, writes } => {
                let writes = match writes {
                    RootWrites::ReadOnly => {
                        "read-only; mount points it lacks are made in memory, the directory never changes"
                            .into()
                    }
                    RootWrites::ReadWrite => "read-write: writes land in the directory".to_string(),
                    RootWrites::Overlay { upper } => {
                        format!("writable through an overlay, {}", upper_words(upper))
                    }
                };
                writeln!(f, "root:       {} (nosuid, nodev; {writes})", path(dir))?;
                writeln!(f, "filesystem: (in order, on that root)")?;
            }
        }
        if self.root.special == Special::Plain {
            writeln!(
                f,
                "            /dev without noexec, /dev/shm 0755, only writable /proc entries covered"
            )?;
        }
        if !self.root.parent_modes.is_empty() {
            let modes: Vec<String> = self.root.parent_modes.iter().map(|m| format!("{m:04o}")).collect();
            writeln!(
                f,
                "            missing parents made with modes {} (one per operation)",
                modes.join(" ")
            )?;
        }
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
        if p.cwd.is_none() && !p.cwd_fallback.is_empty() {
            let dirs: Vec<String> = p.cwd_fallback.iter().map(|d| path(d)).collect();
            writeln!(f, "cwd tries:  {} /", dirs.join(" "))?;
        }
        if let Some(h) = &p.hostname {
            writeln!(f, "hostname:   {}", crate::escape::str(h))?;
        }
        match p.die_with_caller && p.die_with_parent {
            true => writeln!(f, "die-with-parent: yes (the monitor too dies with its parent)")?,
            false => writeln!(f, "die-with-parent: {}", yes(p.die_with_parent))?,
        }
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
        self.fmt_behaviours(f)?;
        self.seccomp.explain(seccomp::Facts::of(self), f)?;
        if self.best_effort {
            writeln!(f, "best-effort: yes (confinements this kernel lacks are dropped with a warning)")?;
        }
        write!(f, "{}", self.limits)
    }
}

impl Plan {
    /// The process's behaviours that differ from sandbox's defaults.
    fn fmt_behaviours(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.process;
        if let Fds::AllBut(used) = &p.fds {
            let used: Vec<String> = used.iter().map(|n| n.to_string()).collect();
            writeln!(f, "fds:        every one the caller left open, but {}", used.join(" "))?;
        }
        if p.new_session && !p.own_tty {
            writeln!(f, "terminal:   none of its own")?;
        }
        match p.pid1 {
            Pid1::Init => {}
            Pid1::PlainInit => writeln!(f, "pid 1:      a plain init (no capabilities, dumpable, filtered)")?,
            Pid1::Command => writeln!(f, "pid 1:      the command itself")?,
        }
        if p.signals == Signals::NotForwarded {
            writeln!(f, "signals:    not passed on to the command")?;
        }
        if let Some(a) = &p.argv0 {
            writeln!(f, "argv0:      {}", os(a))?;
        }
        if p.search_path != SEARCH_PATH {
            writeln!(f, "search:     {} (when PATH is unset)", crate::escape::str(&p.search_path))?;
        }
        if p.set_pwd {
            writeln!(f, "pwd:        set to the directory the command starts in")?;
        }
        for (what, fd) in [("block:      fd", p.block_fd), ("sync:       fd", p.sync_fd)] {
            if let Some(fd) = fd {
                writeln!(f, "{what} {fd}")?;
            }
        }
        for l in &p.lock_files {
            writeln!(f, "lock-file:  {}", path(l))?;
        }
        if let Some(label) = &p.exec_label {
            writeln!(f, "exec-label: {}", crate::escape::str(label))?;
        }
        Ok(())
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
        FsOp::Hide { dest, optional } => {
            format!("hide     {}{}", path(dest), if *optional { " (if present)" } else { "" })
        }
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
            format!("overlay  {} <- {} ({})", path(dest), lowers.join(" over "), upper_words(upper))
        }
    }
}

/// Where an overlay's writes go, in words.
fn upper_words(upper: &Upper) -> String {
    match upper {
        Upper::Tmpfs => "writes vanish at exit".to_string(),
        Upper::Dir { upper, work } => format!("writes to {} (work {})", path(upper), path(work)),
        Upper::State { dir } => format!("writes persist in {}", path(dir)),
        Upper::ReadOnly => "read-only".to_string(),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
