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
use crate::plan::Plan;
use crate::settings::{self, Located, Origin};

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
}

/// A finished Plan with where its entries came from and notes for the user.
#[derive(Debug)]
pub struct Built {
    pub plan: Plan,
    pub prov: settings::Provenance,
    pub notes: Vec<String>,
}

/// Parses argv (including argv[0]) against the caller's `host` view and
/// builds the Plan of a run or `explain`.
pub fn parse(args: Vec<OsString>, host: &Host) -> Result<Command, UsageError> {
    Ok(match cli::parse(args, host)? {
        cli::Command::Run { request, verbose } => Command::Run { built: build(&request, host)?, verbose },
        cli::Command::Explain { request, json } => Command::Explain { built: build(&request, host)?, json },
        cli::Command::Check => Command::Check,
        cli::Command::ProfilesList => Command::ProfilesList,
        cli::Command::ProfilesShow(name) => Command::ProfilesShow(name),
        cli::Command::Print(text) => Command::Print(text),
        cli::Command::Bwrap(args) => Command::Bwrap(args),
    })
}

/// Builds the Plan: the profile's settings first, then the command line's
/// in the order given, folded by [`settings::build`].
pub fn build(request: &Request, host: &Host) -> Result<Built, UsageError> {
    let profile = crate::profile::load(&request.profile, host).map_err(UsageError)?;
    let mut all = profile.settings;
    let own = request.settings.iter().cloned();
    all.extend(own.map(|setting| Located { setting, origin: Origin::CommandLine }));
    let (mut plan, prov, notes) = settings::build(host, &all).map_err(UsageError)?;
    request.finish(host, &mut plan)?;
    crate::plan::validate(&plan).map_err(UsageError)?;
    check(&plan).map_err(UsageError)?;
    Ok(Built { plan, prov, notes })
}

/// The native front end's own rules for a finished Plan, beyond those
/// every front end shares ([`crate::plan::validate`]).
fn check(plan: &Plan) -> Result<(), String> {
    if !plan.process.caps.is_empty() && plan.ids.uid != 0 {
        return Err("--cap-add needs --uid 0: capabilities are dropped on exec for any other uid".into());
    }
    Ok(())
}
