//! The native mode put together: the profile `--profile` names, then the
//! command line's settings, folded into one Plan.
//!
//! The one module that sees both native front ends, [`crate::cli`] (argv)
//! and [`crate::profile`] (TOML); neither imports the other, and both
//! produce [`crate::settings::Setting`]s that [`crate::settings::build`]
//! folds.

use std::ffi::OsString;

use crate::cli::{self, Request, UsageError};
use crate::host::Host;
use crate::hostfs::{HostFs, RealFs};
use crate::plan::Plan;
use crate::settings::{self, CacheMode, Located, Origin, Setting, Userns};

/// What the user asked for, with the Plan built.
#[derive(Debug)]
pub enum Command {
    Run {
        built: Built,
        verbose: bool,
    },
    Explain {
        built: Built,
        json: bool,
    },
    Check,
    /// `sandbox profiles list`.
    ProfilesList,
    /// `sandbox profiles show NAME`.
    ProfilesShow(String),
    /// Help or version text, printed on stdout with exit 0.
    Print(String),
    /// `sandbox bwrap ARGS`: bubblewrap's command line (see [`crate::compat`]).
    Bwrap(Vec<OsString>),
    /// `sandbox desktop install|list|remove`.
    Desktop(cli::DesktopAction),
    /// `sandbox completions SHELL`, `sandbox man [PAGE]`: the committed text.
    Completions(cli::Shell),
    Man(Option<String>),
}

/// A finished Plan with where its entries came from and notes for the user.
#[derive(Debug)]
pub struct Built {
    pub plan: Plan,
    pub prov: settings::Provenance,
    pub notes: Vec<String>,
    /// Toolchain places not shared, and why (explain lists them).
    pub skipped: Vec<crate::toolchain::Share>,
    /// How toolchain sharing was turned off, when it was (for the hint of
    /// a command that is not found).
    pub toolchains_off: Option<String>,
}

/// Parses argv (including argv[0]) against the caller's `host` view and
/// builds the Plan of a run or `explain`, looking at the host's file system.
pub fn parse(args: Vec<OsString>, host: &Host) -> Result<Command, UsageError> {
    parse_with(args, host, &RealFs)
}

/// [`parse`], with the host's file system seen through `fs`.
pub fn parse_with(args: Vec<OsString>, host: &Host, fs: &dyn HostFs) -> Result<Command, UsageError> {
    Ok(match cli::parse(args, host)? {
        cli::Command::Run { request, verbose } => Command::Run { built: build(&request, host, fs)?, verbose },
        cli::Command::Explain { request, json } => {
            Command::Explain { built: build(&request, host, fs)?, json }
        }
        cli::Command::Check => Command::Check,
        cli::Command::ProfilesList => Command::ProfilesList,
        cli::Command::ProfilesShow(name) => Command::ProfilesShow(name),
        cli::Command::Print(text) => Command::Print(text),
        cli::Command::Bwrap(args) => Command::Bwrap(args),
        cli::Command::Desktop(action) => Command::Desktop(action),
        cli::Command::Completions(shell) => Command::Completions(shell),
        cli::Command::Man(page) => Command::Man(page),
    })
}

/// Builds the Plan: the profile's settings first, then the command line's
/// in the order given, folded by [`settings::build`]; then what the
/// native front end adds on its own ([`crate::additions`]: caches,
/// toolchains, the offline resolver, /etc's link targets).
pub fn build(request: &Request, host: &Host, fs: &dyn HostFs) -> Result<Built, UsageError> {
    crate::trace::step("monitor", "command line parsed");
    let profile = crate::profile::load(profile_name(request), host).map_err(UsageError)?;
    crate::trace::step("monitor", "profile read");
    let mut all = profile.settings;
    let own = request.settings.iter().cloned();
    all.extend(own.map(|setting| Located { setting, origin: Origin::CommandLine }));
    let (mut plan, mut prov, notes) = settings::build(host, &all).map_err(UsageError)?;
    request.finish(host, &mut plan)?;
    crate::trace::step("monitor", "settings folded");
    let expand = |s: &str| crate::profile::expand(s, host);
    let toolchains_off = toolchains_off(&all);
    let want = crate::additions::Wanted {
        toolchains: toolchains_off.is_none(),
        caches: caches(&all),
        expand: &expand,
    };
    let out = crate::additions::Prov { fs: &mut prov.fs, env: &mut prov.env };
    let skipped = crate::additions::apply(&mut plan, out, host, fs, &want, Origin::Added);
    crate::plan::validate(&plan).map_err(UsageError)?;
    check(&plan).map_err(UsageError)?;
    Ok(Built { plan, prov, notes, skipped, toolchains_off })
}

/// How toolchain sharing is off, when it is: the last `toolchains` setting
/// says so (or none does: a profile that does not include `default`).
fn toolchains_off(all: &[Located]) -> Option<String> {
    let last = all.iter().rev().find_map(|l| match l.setting {
        Setting::Toolchains(on) => Some((on, &l.origin)),
        _ => None,
    });
    match last {
        Some((true, _)) => None,
        Some((false, Origin::CommandLine)) => Some("--no-toolchains".into()),
        Some((false, o)) => Some(format!("toolchains = false at {o}")),
        None => Some("the profile does not include `default`, which turns it on".into()),
    }
}

/// The package caches asked for: the last `caches` setting.
fn caches(all: &[Located]) -> CacheMode {
    all.iter()
        .rev()
        .find_map(|l| match l.setting {
            Setting::Caches(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// The profile named; else, when the command line gives a root directory
/// (the default profile's pieces of the host have no place there),
/// `container` if it also asks for every id (`--userns auto`) without
/// naming the command's ids (`--uid`, `--gid`): a distribution's tools
/// (apt-get, dpkg, useradd) run as root inside, as in any container;
/// `rootfs` otherwise; else `default`.
fn profile_name(request: &Request) -> &str {
    let given = |f: fn(&Setting) -> bool| request.settings.iter().any(f);
    let userns = request.settings.iter().rev().find_map(|s| match s {
        Setting::Userns(u) => Some(*u),
        _ => None,
    });
    match &request.profile {
        Some(name) => name,
        None if !given(|s| matches!(s, Setting::Rootfs(_))) => "default",
        None if userns == Some(Userns::Auto)
            && !given(|s| matches!(s, Setting::Uid(_) | Setting::Gid(_))) =>
        {
            "container"
        }
        None => "rootfs",
    }
}

/// The native front end's own rules for a finished Plan, beyond those
/// every front end shares ([`crate::plan::validate`]).
fn check(plan: &Plan) -> Result<(), String> {
    if !plan.process.caps.is_empty() && plan.ids.uid != 0 {
        return Err("--cap-add needs --uid 0: capabilities are dropped on exec for any other uid".into());
    }
    let publish = plan.network.user.iter().flat_map(|u| &u.publish);
    let bind = plan.process.caps.iter().any(|c| c == "CAP_NET_BIND_SERVICE");
    if let Some(p) = publish.filter(|p| p.port < 1024).find(|_| !bind) {
        return Err(format!(
            "--publish {p}: nothing inside can listen on port {} without CAP_NET_BIND_SERVICE: add --uid 0 \
             --cap-add net_bind_service (the `container` profile has both), or publish a port from 1024 up",
            p.port
        ));
    }
    Ok(())
}
