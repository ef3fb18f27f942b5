//! Landlock options: file and TCP port rules, scopes, audit, the mode.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};

use super::{RunArgs, UsageError};
use crate::escape;
use crate::host::Host;
use crate::plan::landlock::{Mode, PathRule, RuleAccess};
use crate::plan::Plan;

/// How the command is isolated.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeArg {
    /// Namespaces, mounts, landlock and seccomp (the default).
    Namespaces,
    /// No namespaces: landlock, seccomp, no_new_privs, a new session and
    /// die-with-parent on the host's own file system (where user namespaces
    /// are refused).
    Landlock,
}

#[derive(Args, Debug, Default)]
pub struct LandlockArgs {
    /// Do not confine the command with landlock (the mounts and namespaces still do).
    #[arg(long)]
    pub no_landlock: bool,

    /// Landlock: allow reading (and executing) beneath PATH. Any --allow-read or
    /// --allow-write replaces the mirror of the mounts: the command may then read only
    /// beneath these paths, write only beneath --allow-write ones, and use the sandbox's
    /// own /dev; a path bound read-write but not listed cannot be written, /proc is not
    /// readable unless listed. Every mount is then also made read-only except beneath the
    /// --allow-write paths and /dev, so that metadata (chmod, utime, xattrs) cannot change
    /// elsewhere either. PATH is inside the sandbox, relative to the current directory,
    /// and must exist.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub allow_read: Vec<OsString>,

    /// Landlock: allow reading, writing, creating and removing (and executing) beneath PATH.
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub allow_write: Vec<OsString>,

    /// Landlock: allow executing beneath PATH. When any is given, programs run only
    /// from beneath --allow-exec paths (reading elsewhere is unaffected), and every
    /// mount elsewhere is noexec, so the dynamic loader cannot map a program from there
    /// either; the loader and the libraries must be beneath an --allow-exec path (/usr
    /// on merged-usr systems).
    #[arg(long, value_name = "PATH", value_parser = clap::value_parser!(OsString), action = ArgAction::Append)]
    pub allow_exec: Vec<OsString>,

    /// Landlock (ABI 4): allow TCP connections to PORT. Any --allow-connect or
    /// --allow-bind denies every other TCP connect and bind, also with --net host.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..), action = ArgAction::Append)]
    pub allow_connect: Vec<u16>,

    /// Landlock (ABI 4): allow binding TCP PORT (0: any ephemeral port).
    #[arg(long, value_name = "PORT", action = ArgAction::Append)]
    pub allow_bind: Vec<u16>,

    /// Let the command send signals to processes outside the sandbox (by default
    /// landlock ABI 6 scopes signals to the sandbox).
    #[arg(long)]
    pub allow_signals: bool,

    /// Let the command connect to abstract unix sockets made outside the sandbox,
    /// such as X11's or D-Bus's under --net host (by default landlock ABI 6 scopes them).
    #[arg(long)]
    pub allow_abstract_unix: bool,

    /// Log the command's landlock denials to the kernel audit log (ABI 7); read them
    /// with `ausearch -m 1423,1424` or `journalctl -k | grep -i landlock`.
    #[arg(long)]
    pub log_denials: bool,

    /// `namespaces` (the default) or `landlock`: no namespaces at all, for hosts that
    /// refuse user namespaces; read-only and read-write binds become landlock rules on
    /// the host's paths, tmpfs and hidden paths become inaccessible.
    #[arg(long, value_name = "MODE", value_enum)]
    pub mode: Option<ModeArg>,
}

impl LandlockArgs {
    /// Adds the landlock options to `plan`. `run` is read for the options that
    /// landlock-only mode cannot honour.
    pub fn apply(&self, run: &RunArgs, host: &Host, plan: &mut Plan) -> Result<(), UsageError> {
        let ll = &mut plan.landlock;
        let rules = [
            ("--allow-read", RuleAccess::Read, &self.allow_read),
            ("--allow-write", RuleAccess::Write, &self.allow_write),
            ("--allow-exec", RuleAccess::Exec, &self.allow_exec),
        ];
        for (flag, access, paths) in rules {
            for p in paths {
                ll.rules.push(PathRule { path: rule_path(flag, p, host)?, access });
            }
        }
        ll.connect_ports.extend(&self.allow_connect);
        ll.bind_ports.extend(&self.allow_bind);
        ll.scope_signals &= !self.allow_signals;
        ll.scope_abstract_unix &= !self.allow_abstract_unix;
        ll.log_denials |= self.log_denials;
        if self.no_landlock {
            let asked = !ll.rules.is_empty() || ll.restricts_tcp() || self.log_denials;
            if asked {
                return Err(UsageError(
                    "--no-landlock cannot be combined with --allow-* rules or --log-denials".into(),
                ));
            }
            ll.enabled = false;
        }
        match self.mode {
            Some(ModeArg::Landlock) => landlock_only(run, plan)?,
            Some(ModeArg::Namespaces) => plan.mode = Mode::Namespaces,
            None => {}
        }
        Ok(())
    }
}

/// A rule's path: relative paths start at the caller's current directory,
/// as for --rw.
fn rule_path(flag: &str, p: &OsString, host: &Host) -> Result<PathBuf, UsageError> {
    if p.is_empty() {
        return Err(UsageError(format!("{flag}: the path is empty")));
    }
    let path =
        PathBuf::from(crate::values::tilde(p, &host.home).map_err(|e| UsageError(format!("{flag} {e}")))?);
    let full = crate::values::normalize(&host.cwd.join(&path));
    crate::plan::check_dest(&full).map_err(|e| UsageError(format!("{flag} {}: {e}", escape::path(&path))))?;
    Ok(full)
}

/// `--mode landlock`: the options that need namespaces are errors unless
/// best effort; the profile's own host name is dropped.
fn landlock_only(run: &RunArgs, plan: &mut Plan) -> Result<(), UsageError> {
    if !plan.landlock.enabled {
        return Err(UsageError("--mode landlock cannot be combined with --no-landlock".into()));
    }
    plan.mode = Mode::Landlock;
    let mut needs_ns: Vec<String> = Vec::new();
    for p in &run.tmpfs {
        needs_ns.push(format!("--tmpfs {}", escape::os(p)));
    }
    for p in &run.hide {
        needs_ns.push(format!("--hide {}", escape::os(p)));
    }
    if let Some(h) = &run.hostname {
        needs_ns.push(format!("--hostname {}", escape::str(h)));
    }
    for op in &plan.fs {
        if let crate::plan::FsOp::Bind { src, dest, .. } = op {
            if src != dest {
                needs_ns.push(format!("{}:{}", escape::path(src), escape::path(dest)));
            }
        }
    }
    if run.hostname.is_none() {
        plan.process.hostname = None;
    }
    match needs_ns.first() {
        Some(first) if !plan.best_effort && !run.best_effort => Err(UsageError(format!(
            "{first}: needs namespaces, which --mode landlock runs without (--best-effort drops it with a warning)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use crate::host::Host;
    use crate::native::{parse, Command};
    use crate::plan::landlock::{Mode, PathRule, RuleAccess};
    use crate::plan::Plan;

    fn host() -> Host {
        let mut h = Host::fake("/work/proj");
        h.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()));
        h
    }

    fn parse_args(args: &[&str]) -> Result<Plan, String> {
        let mut argv = vec![OsString::from("sandbox")];
        argv.extend(args.iter().map(OsString::from));
        match parse(argv, &host()) {
            Ok(Command::Run { built, .. }) => Ok(built.plan),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn rules_ports_and_scopes_reach_the_plan() {
        let p = parse_args(&[
            "--allow-read",
            "/usr",
            "--allow-write",
            "out",
            "--allow-exec",
            "/usr/bin",
            "--allow-connect",
            "443",
            "--allow-bind",
            "0",
            "--allow-signals",
            "--log-denials",
            "--",
            "true",
        ])
        .unwrap();
        let ll = &p.landlock;
        assert_eq!(
            ll.rules,
            [
                PathRule { path: "/usr".into(), access: RuleAccess::Read },
                PathRule { path: "/work/proj/out".into(), access: RuleAccess::Write },
                PathRule { path: "/usr/bin".into(), access: RuleAccess::Exec },
            ]
        );
        assert_eq!((ll.connect_ports.as_slice(), ll.bind_ports.as_slice()), (&[443][..], &[0][..]));
        assert!(!ll.scope_signals && ll.scope_abstract_unix && ll.log_denials && ll.enabled);
        assert_eq!(p.mode, Mode::Namespaces);
    }

    #[test]
    fn bad_values_and_contradictions_are_usage_errors() {
        assert!(parse_args(&["--allow-connect", "0", "--", "true"]).is_err());
        assert!(parse_args(&["--allow-bind", "65536", "--", "true"]).is_err());
        let e = parse_args(&["--no-landlock", "--allow-connect", "80", "--", "true"]).unwrap_err();
        assert!(e.contains("--no-landlock cannot be combined"), "{e}");
        let e = parse_args(&["--no-landlock", "--mode", "landlock", "--", "true"]).unwrap_err();
        assert!(e.contains("--mode landlock cannot be combined with --no-landlock"), "{e}");
        assert!(!parse_args(&["--no-landlock", "--", "true"]).unwrap().landlock.enabled);
    }

    #[test]
    fn mode_landlock_drops_the_profile_hostname_and_refuses_namespace_options() {
        let p = parse_args(&["--mode", "landlock", "--", "true"]).unwrap();
        assert_eq!((p.mode, p.process.hostname), (Mode::Landlock, None));
        let e = parse_args(&["--mode", "landlock", "--hide", "/etc/x", "--", "true"]).unwrap_err();
        assert!(e.starts_with("--hide /etc/x: needs namespaces"), "{e}");
        let p =
            parse_args(&["--mode", "landlock", "--best-effort", "--hide", "/etc/x", "--", "true"]).unwrap();
        assert_eq!(p.mode, Mode::Landlock);
    }
}
