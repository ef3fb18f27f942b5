//! `sandbox profiles show`: settings written back as a profile.
//!
//! Includes are already applied and variables expanded, so the output is
//! what the profile means on this host. File-system entries are grouped by
//! key in the order each key first appears; a comment lists the exact order
//! in which they apply.

use std::fmt::Write;

use crate::escape;
use crate::plan::landlock::RuleAccess;
use crate::plan::{Access, FsOp, Upper};
use crate::settings::{Located, Setting};

/// Sets `key = value` in an ordered list of lines, replacing an earlier
/// value of the same key (scalars: the last one wins).
fn upsert(lines: &mut Vec<(String, String)>, key: &str, value: String) {
    match lines.iter_mut().find(|(k, _)| k == key) {
        Some(line) => line.1 = value,
        None => lines.push((key.to_string(), value)),
    }
}

fn joined(lines: &[(String, String)]) -> String {
    lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn p(path: &std::path::Path) -> String {
    q(&escape::path(path))
}

fn fs_entry(op: &FsOp) -> Option<(&'static str, String)> {
    Some(match op {
        FsOp::Bind { src, dest, access, optional } => {
            let key = match (access, optional) {
                (Access::ReadOnly, false) => "ro",
                (Access::ReadOnly, true) => "ro-try",
                (Access::ReadWrite, false) => "rw",
                (Access::ReadWrite, true) => "rw-try",
                (Access::Device, _) => "dev-bind",
            };
            let s = escape::path(src).replace(':', "\\:");
            let v = if src == dest { s } else { format!("{s}:{}", escape::path(dest)) };
            (key, q(&v))
        }
        FsOp::Tmpfs { dest, .. } => ("tmpfs", p(dest)),
        FsOp::Proc { dest } => ("proc", p(dest)),
        FsOp::Dev { dest } => ("dev", p(dest)),
        FsOp::Dir { dest, .. } => ("mkdir", p(dest)),
        FsOp::Symlink { target, dest } => {
            ("symlink", q(&format!("{}:{}", escape::path(target), escape::path(dest))))
        }
        FsOp::Hide { dest } => ("hide", p(dest)),
        FsOp::Overlay { lowers, dest, upper } => {
            let layers: Vec<String> = lowers.iter().map(|l| escape::path(l).replace(':', "\\:")).collect();
            let dest = escape::path(dest);
            match upper {
                Upper::Tmpfs => ("overlay", q(&format!("{}:{dest}", layers.join(":")))),
                Upper::State { dir } => {
                    ("persist", q(&format!("{}:{}:{dest}", layers.join(":"), escape::path(dir))))
                }
                Upper::ReadOnly => ("ro-overlay", q(&format!("{}:{dest}", layers.join(":")))),
                Upper::Dir { .. } => return None,
            }
        }
        // Only the bwrap front end makes these; profiles cannot say them.
        FsOp::File { .. } | FsOp::Chmod { .. } | FsOp::RemountRo { .. } | FsOp::Mqueue { .. } => return None,
    })
}

/// The merged profile as TOML.
pub fn render(description: Option<&str>, settings: &[Located]) -> String {
    let mut top = Vec::new();
    let mut fs: Vec<(&str, Vec<String>)> = Vec::new();
    let mut order = Vec::new();
    let mut fs_scalars = Vec::new();
    let (mut env_clear, mut keep, mut set) = (false, Vec::new(), Vec::new());
    let mut net = Vec::new();
    let (mut landlock, mut connect, mut bind) = (Vec::new(), Vec::new(), Vec::new());
    let mut rules: Vec<(&str, Vec<String>)> = Vec::new();
    let mut seccomp = Vec::new();
    let mut sc_lists: [Vec<String>; 4] = Default::default();
    let mut publish = Vec::new();
    let (mut lim, mut rlimits) = (Vec::new(), Vec::new());
    let mut process = Vec::new();
    let mut shares = Vec::new();
    let mut caps = Vec::new();
    let mut fds = Vec::new();
    if let Some(d) = description {
        upsert(&mut top, "description", q(d));
    }
    for l in settings {
        match &l.setting {
            Setting::Fs(op) => {
                let Some((key, v)) = fs_entry(op) else { continue };
                order.push(format!("{key} {v}"));
                match fs.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, vs)) => vs.push(v),
                    None => fs.push((key, vec![v])),
                }
            }
            Setting::MergedUsr => {
                order.push("merged-usr".into());
                upsert(&mut fs_scalars, "merged-usr", "true".into());
            }
            Setting::BindCwd(m) => {
                let v = q(&format!("{m:?}").to_lowercase());
                order.push(format!("bind-cwd {v}"));
                upsert(&mut fs_scalars, "bind-cwd", v);
            }
            Setting::Net(n) => upsert(&mut net, "mode", q(n.name())),
            Setting::Share(s) => shares.push(q(&format!("{s:?}").to_lowercase())),
            Setting::Env(k, v) => upsert(&mut set, &q(&escape::os(k)), q(&escape::os(v))),
            Setting::KeepEnv(k) => keep.push(q(&escape::os(k))),
            // What came before a clear no longer counts.
            Setting::ClearEnv => (env_clear, keep, set) = (true, Vec::new(), Vec::new()),
            Setting::Cwd(c) => upsert(&mut process, "cwd", p(c)),
            Setting::Hostname(h) => upsert(&mut process, "hostname", q(h)),
            Setting::Uid(u) => upsert(&mut process, "uid", u.to_string()),
            Setting::Gid(g) => upsert(&mut process, "gid", g.to_string()),
            Setting::CapAdd(c) => caps.push(q(c)),
            Setting::KeepFd(fd) => fds.push(fd.to_string()),
            Setting::DieWithParent(on) => upsert(&mut process, "die-with-parent", on.to_string()),
            Setting::NewSession(on) => upsert(&mut process, "new-session", on.to_string()),
            Setting::BestEffort(on) => upsert(&mut top, "best-effort", on.to_string()),
            Setting::Mode(m) => upsert(&mut top, "mode", q(&format!("{m:?}").to_lowercase())),
            Setting::Landlock(on) => upsert(&mut landlock, "enabled", on.to_string()),
            Setting::LandlockRule(r) => {
                let key = match r.access {
                    RuleAccess::Read => "allow-read",
                    RuleAccess::Write => "allow-write",
                    RuleAccess::Exec => "allow-exec",
                };
                match rules.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(p(&r.path)),
                    None => rules.push((key, vec![p(&r.path)])),
                }
            }
            Setting::AllowConnect(port) => connect.push(port.to_string()),
            Setting::AllowBind(port) => bind.push(port.to_string()),
            Setting::AllowSignals => upsert(&mut landlock, "allow-signals", "true".into()),
            Setting::AllowAbstractUnix => upsert(&mut landlock, "allow-abstract-unix", "true".into()),
            Setting::LogDenials => upsert(&mut landlock, "log-denials", "true".into()),
            Setting::SeccompBase(b) => upsert(&mut seccomp, "base", q(&format!("{b:?}").to_lowercase())),
            Setting::SeccompDeny(d) => sc_lists[0].push(q(&format!("{}:{}", d.syscall, d.errno))),
            Setting::SeccompAllow(n) => sc_lists[1].push(q(n)),
            Setting::SeccompFile { path, oci } => sc_lists[if *oci { 3 } else { 2 }].push(p(path)),
            Setting::SeccompLog => upsert(&mut seccomp, "log", "true".into()),
            Setting::AllowUserns => upsert(&mut seccomp, "allow-userns", "true".into()),
            // An fd of the caller: nothing a profile can say.
            Setting::SeccompFd(_) => {}
            Setting::Publish(pb) => publish.push(q(&pb.to_string())),
            Setting::AllowHostLoopback => upsert(&mut net, "allow-host-loopback", "true".into()),
            Setting::Timeout(ms) => upsert(&mut lim, "timeout", q(&format!("{ms}ms"))),
            Setting::KillAfter(ms) => upsert(&mut lim, "kill-after", q(&format!("{ms}ms"))),
            Setting::Rlimit(r) => rlimits.push(q(&r.to_string())),
            Setting::Memory(b) => upsert(&mut lim, "memory", q(&b.to_string())),
            Setting::Pids(n) => upsert(&mut lim, "pids", n.to_string()),
            Setting::Cpus(m) => upsert(&mut lim, "cpus", q(&format!("{}", *m as f64 / 1000.0))),
            Setting::IoWeight(w) => upsert(&mut lim, "io-weight", w.to_string()),
        }
    }
    let mut out = joined(&top);
    out.push_str("\n[filesystem]\n");
    if !order.is_empty() {
        out.push_str("# applied in this order:\n");
        for o in &order {
            let _ = writeln!(out, "#   {o}");
        }
    }
    for (key, vs) in &fs {
        let _ = writeln!(out, "{key} = [{}]", vs.join(", "));
    }
    out.push_str(&joined(&fs_scalars));
    out.push_str("\n[environment]\n");
    if env_clear {
        out.push_str("clear = true\n");
    }
    if !keep.is_empty() {
        let _ = writeln!(out, "keep = [{}]", keep.join(", "));
    }
    if !set.is_empty() {
        let pairs: Vec<String> = set.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(out, "set = {{ {} }}", pairs.join(", "));
    }
    out.push_str("\n[network]\n");
    out.push_str(&joined(&net));
    if !publish.is_empty() {
        let _ = writeln!(out, "publish = [{}]", publish.join(", "));
    }
    for (key, ports) in [("allow-connect", connect), ("allow-bind", bind)] {
        if !ports.is_empty() {
            let _ = writeln!(out, "{key} = [{}]", ports.join(", "));
        }
    }
    out.push_str("\n[landlock]\n");
    out.push_str(&joined(&landlock));
    for (key, paths) in rules {
        let _ = writeln!(out, "{key} = [{}]", paths.join(", "));
    }
    out.push_str("\n[seccomp]\n");
    out.push_str(&joined(&seccomp));
    for (key, vs) in ["deny", "allow", "policy", "oci"].iter().zip(&sc_lists) {
        if !vs.is_empty() {
            let _ = writeln!(out, "{key} = [{}]", vs.join(", "));
        }
    }
    out.push_str("\n[limits]\n");
    out.push_str(&joined(&lim));
    if !rlimits.is_empty() {
        let _ = writeln!(out, "limit = [{}]", rlimits.join(", "));
    }
    out.push_str("\n[process]\n");
    out.push_str(&joined(&process));
    for (key, vs) in [("share", shares), ("cap-add", caps), ("keep-fd", fds)] {
        if !vs.is_empty() {
            let _ = writeln!(out, "{key} = [{}]", vs.join(", "));
        }
    }
    out
}
