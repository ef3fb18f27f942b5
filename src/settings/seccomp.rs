//! Reading the seccomp policy files that settings name.
//!
//! The files are read while the settings are folded, as profiles are read
//! while they load, so that the Plan carries the rules themselves and a
//! typo is a usage error before anything starts. Parsing and checking are
//! [`crate::seccomp`]'s (pure).

use std::path::Path;

use crate::escape;
use crate::plan::seccomp::Policy;
use crate::seccomp::{oci, policy};

/// Reads a policy file: our JSON format, or (when `oci`) an OCI runtime
/// config or its `linux.seccomp` object, whose rules may depend on the
/// command's capabilities `caps` and the running kernel's release. Errors
/// name the flag and file.
pub fn read_policy(file: &Path, oci: bool, caps: &[String], kernel: &str) -> Result<Policy, String> {
    let flag = if oci { "--seccomp-oci" } else { "--seccomp-policy" };
    let shown = escape::path(file);
    let text = std::fs::read_to_string(file).map_err(|e| format!("{flag} {shown}: {}", escape::cause(&e)))?;
    let loaded = if oci {
        oci::import(&text, &shown, &oci::Facts { caps, kernel })
    } else {
        policy::load(&text, &shown)
    };
    loaded.map_err(|e| format!("{flag} {shown}: {e}"))
}
