//! Fail closed: what each part of the Plan needs from the kernel's landlock
//! ABI, and the decision to run, run with a warning, or refuse.
//!
//! | ABI | kernel | brings |
//! |---|---|---|
//! | 1 | 5.13 | file rules (read, write, exec, create, remove) |
//! | 2 | 5.19 | refer: rename and link across directories (before: always refused) |
//! | 3 | 6.2  | truncate: a read-only rule also stops `truncate` and `O_TRUNC` |
//! | 4 | 6.7  | TCP connect and bind rules |
//! | 5 | 6.10 | ioctl on devices |
//! | 6 | 6.12 | scopes: abstract unix sockets, signals |
//! | 7 | 6.15 | audit logging flags |
//!
//! A need is *required* when nothing else gives the same protection: an
//! explicit rule, a port rule, `--log-denials`, a scope whose namespace is
//! shared, everything in landlock-only mode. Refer, and ioctl on devices
//! beneath writable paths, only ever add restrictions that the mounts
//! already make, so they are used where the kernel has them and never
//! required; a scope whose namespace is the sandbox's own is the same.
//! The decision is a pure function of the Plan and the kernel's ABI, so it is
//! unit-tested for every ABI without such a kernel.

use std::fmt;

use super::{Mode, RuleAccess};
use crate::escape;
use crate::plan::Plan;

/// The newest landlock ABI this program knows and was tested with; newer
/// kernels are used at this level.
pub const KNOWN_ABI: u32 = 7;

/// One thing the Plan asks of landlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The rule or option, as the user wrote it (`--allow-connect 443`).
    pub what: String,
    /// The oldest ABI that has it.
    pub abi: u32,
    /// Refuse to run without it (unless best effort).
    pub required: bool,
}

impl Need {
    fn new(what: impl Into<String>, abi: u32, required: bool) -> Need {
        Need { what: what.into(), abi, required }
    }
}

/// Everything `plan` asks of landlock, in a fixed order.
pub fn needs(plan: &Plan) -> Vec<Need> {
    let ll = &plan.landlock;
    if !ll.enabled {
        return Vec::new();
    }
    let only = plan.mode == Mode::Landlock;
    let mut out = Vec::new();
    if only {
        // No read-only mounts here: read-only must also mean "no truncate".
        out.push(Need::new("landlock-only mode (its read-only rules need truncate control)", 3, true));
    } else if !ll.explicit() {
        out.push(Need::new("the landlock mirror of the mounts", 1, true));
    }
    for r in &ll.rules {
        let p = escape::path(&r.path);
        out.push(match r.access {
            // A path bound read-write but only allowed for reading must not
            // be truncatable either.
            RuleAccess::Read => Need::new(format!("--allow-read {p}"), 3, true),
            RuleAccess::Write => Need::new(format!("--allow-write {p}"), 1, true),
            RuleAccess::Exec => Need::new(format!("--allow-exec {p}"), 1, true),
        });
    }
    for p in &ll.connect_ports {
        out.push(Need::new(format!("--allow-connect {p}"), 4, true));
    }
    for p in &ll.bind_ports {
        out.push(Need::new(format!("--allow-bind {p}"), 4, true));
    }
    if only && plan.namespaces.net && !ll.restricts_tcp() {
        out.push(Need::new("landlock-only mode without network (TCP denied)", 4, true));
    }
    if ll.scope_abstract_unix {
        let shared = only || !plan.namespaces.net;
        out.push(Need::new(scope_text("abstract unix sockets", "network", only, shared), 6, shared));
    }
    if ll.scope_signals {
        let shared = only || !plan.namespaces.pid;
        out.push(Need::new(scope_text("signals", "pid", only, shared), 6, shared));
    }
    if ll.log_denials {
        out.push(Need::new("--log-denials", 7, true));
    }
    out
}

fn scope_text(what: &str, ns: &str, only: bool, shared: bool) -> String {
    match (only, shared) {
        (true, _) => format!("scoping {what} (landlock-only mode)"),
        (false, true) => format!("scoping {what} (the {ns} namespace is shared)"),
        (false, false) => format!("scoping {what}"),
    }
}

/// The kernel's ABI for messages: `ABI 4`, or `none`.
pub struct Found(pub u32);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("no landlock"),
            n => write!(f, "landlock ABI {n}"),
        }
    }
}

/// What may run on a kernel with landlock ABI `abi` (0: none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Required needs dropped because of best effort: the warning lists them.
    pub dropped: Vec<Need>,
    /// Optional needs this kernel lacks (shown with -v).
    pub skipped: Vec<Need>,
}

/// Fail closed: the first required need the kernel lacks refuses the run,
/// unless `best_effort`, which drops every such need into the warning.
pub fn decide(needs: Vec<Need>, abi: u32, best_effort: bool) -> Result<Decision, Need> {
    let mut d = Decision::default();
    for need in needs.into_iter().filter(|n| n.abi > abi) {
        match (need.required, best_effort) {
            (true, false) => return Err(need),
            (true, true) => d.dropped.push(need),
            (false, _) => d.skipped.push(need),
        }
    }
    Ok(d)
}

/// The one-line refusal: what needs which ABI, and what was found.
pub fn refusal(need: &Need, abi: u32) -> String {
    format!("{} needs landlock ABI {}, this kernel has {}", need.what, need.abi, Found(abi))
}

/// The best-effort warning listing every dropped need.
pub fn warning(d: &Decision, abi: u32) -> Option<String> {
    if d.dropped.is_empty() {
        return None;
    }
    let list: Vec<String> = d.dropped.iter().map(|n| format!("{} (ABI {})", n.what, n.abi)).collect();
    Some(format!("this kernel has {}; dropped (--best-effort): {}", Found(abi), list.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::landlock::PathRule;

    fn plan() -> Plan {
        super::super::tests::plan("none")
    }

    #[test]
    fn the_default_needs_abi_1_and_scopes_are_optional_in_own_namespaces() {
        let p = plan();
        let n = needs(&p);
        assert_eq!(n[0], Need::new("the landlock mirror of the mounts", 1, true));
        assert!(n[1..].iter().all(|n| !n.required && n.abi == 6), "{n:?}");
        let d = decide(needs(&p), 2, false).unwrap();
        assert!(d.dropped.is_empty());
        assert_eq!(d.skipped.len(), 2);
        let e = decide(needs(&p), 0, false).unwrap_err();
        assert_eq!(
            refusal(&e, 0),
            "the landlock mirror of the mounts needs landlock ABI 1, this kernel has no landlock"
        );
    }

    #[test]
    fn a_port_rule_on_a_low_abi_is_refused_naming_the_rule_and_both_abis() {
        let mut p = plan();
        p.landlock.connect_ports = vec![443];
        let e = decide(needs(&p), 3, false).unwrap_err();
        assert_eq!(
            refusal(&e, 3),
            "--allow-connect 443 needs landlock ABI 4, this kernel has landlock ABI 3"
        );
        assert!(decide(needs(&p), 4, false).is_ok());
    }

    #[test]
    fn best_effort_lists_every_dropped_rule() {
        let mut p = plan();
        p.namespaces.net = false;
        p.landlock.bind_ports = vec![8080];
        p.landlock.log_denials = true;
        p.landlock.rules.push(PathRule { path: "/data".into(), access: RuleAccess::Read });
        let d = decide(needs(&p), 2, true).unwrap();
        let w = warning(&d, 2).unwrap();
        assert_eq!(
            w,
            "this kernel has landlock ABI 2; dropped (--best-effort): --allow-read /data (ABI 3), \
             --allow-bind 8080 (ABI 4), scoping abstract unix sockets (the network namespace is shared) \
             (ABI 6), --log-denials (ABI 7)"
        );
        assert_eq!(d.skipped.len(), 1, "signals: own pid namespace");
        assert_eq!(warning(&decide(needs(&p), 7, false).unwrap(), 7), None);
    }

    #[test]
    fn shared_namespaces_make_scopes_required() {
        let mut p = plan();
        p.namespaces.pid = false;
        let e = decide(needs(&p), 5, false).unwrap_err();
        assert_eq!(e.what, "scoping signals (the pid namespace is shared)");
        p.landlock.scope_signals = false;
        assert!(decide(needs(&p), 5, false).is_ok(), "--allow-signals lifts it");
    }

    #[test]
    fn landlock_only_mode_requires_truncate_tcp_and_scopes() {
        let mut p = plan();
        p.mode = Mode::Landlock;
        let e = decide(needs(&p), 2, false).unwrap_err();
        assert!(e.what.starts_with("landlock-only mode"), "{e:?}");
        let e = decide(needs(&p), 5, false).unwrap_err();
        assert_eq!(e.what, "scoping abstract unix sockets (landlock-only mode)");
        p.namespaces.net = false;
        let n = needs(&p);
        assert!(!n.iter().any(|n| n.abi == 4), "--net host: TCP is not restricted: {n:?}");
        assert!(decide(needs(&p), 6, false).is_ok());
    }

    #[test]
    fn no_landlock_needs_nothing() {
        let mut p = plan();
        p.landlock.enabled = false;
        assert!(needs(&p).is_empty());
        assert_eq!(decide(needs(&p), 0, false), Ok(Decision::default()));
    }
}
