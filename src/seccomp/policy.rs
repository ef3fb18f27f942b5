//! Policies for one architecture: the built-in ones (seccomp/default.json
//! and seccomp/landlock.json, whose text and rule selection are the Plan's,
//! [`crate::plan::seccomp::rules`]) and `--seccomp-policy FILE`, which share
//! one JSON format (the serde form of [`Policy`]):
//!
//! ```json
//! {"default": "allow",
//!  "rules": [{"syscalls": ["keyctl"], "action": "EPERM", "reason": "…"},
//!            {"syscalls": ["ioctl"], "action": "EPERM",
//!             "args": [{"index": 1, "op": "eq", "value": 21522, "bits": 32}]}]}
//! ```
//!
//! Loading checks everything a kernel would otherwise only see at run time:
//! every name is a system call of this architecture, argument indices and
//! widths are valid. Pure: no system calls.

use std::sync::OnceLock;

use crate::escape;
use crate::plan::seccomp::rules;
#[cfg(test)]
use crate::plan::seccomp::rules::{DEFAULT_JSON, LANDLOCK_JSON};
use crate::plan::seccomp::{
    describe_args, errno_from_name, Action, Arg, Condition, Deny, Facts, Op, Policy, Rule, Seccomp,
};

use super::syscalls::{self, Arch};

/// The architecture policies are resolved on: this binary's (x86_64's names
/// where there is no table, so that the texts can still be shown; compiling
/// a filter then fails with "no system-call table").
fn native() -> Arch {
    Arch::NATIVE.unwrap_or(Arch::X86_64)
}

/// The built-in default policy.
pub fn default_policy() -> Policy {
    default_policy_on(native())
}

/// The built-in default policy on `arch`.
pub fn default_policy_on(arch: Arch) -> Policy {
    static PARSED: [OnceLock<Policy>; 2] = [OnceLock::new(), OnceLock::new()];
    built_in(&PARSED, arch, generated::default_policy, "built-in default")
}

/// The rules that complete landlock (seccomp/landlock.json) on `arch`.
pub fn landlock_policy_on(arch: Arch) -> Policy {
    static PARSED: [OnceLock<Policy>; 2] = [OnceLock::new(), OnceLock::new()];
    built_in(&PARSED, arch, generated::landlock_policy, "landlock's companion")
}

/// The built-in policies as build.rs wrote them from the JSON files (so a
/// run parses no JSON for them; a unit test requires them to equal what
/// [`load_on`] makes of the files).
mod generated {
    use crate::plan::seccomp::{Action, Arg, Condition, Op, Rule};
    include!(concat!(env!("OUT_DIR"), "/builtin_policies.rs"));
}

/// A built-in policy on `arch`, made once per process and architecture
/// (the help text, explain and the compiler each ask for it): the names of
/// other architectures skipped, as [`load_on`] does.
fn built_in(
    made: &'static [OnceLock<Policy>; 2],
    arch: Arch,
    rules: fn() -> (Action, Vec<Rule>),
    source: &str,
) -> Policy {
    let slot = &made[Arch::ALL.iter().position(|&a| a == arch).unwrap_or(0)];
    let p = slot.get_or_init(|| {
        let (default, rules) = rules();
        for_arch(arch, Policy { source: source.into(), default, rules, skipped: Vec::new() })
    });
    p.clone()
}

/// Parses and checks a policy in our JSON format for this architecture.
pub fn load(text: &str, source: &str) -> Result<Policy, String> {
    load_on(native(), text, source)
}

/// Parses and checks a policy in our JSON format for `arch`. A name that is
/// a system call of other architectures only is taken out of its rule and
/// listed in `skipped` (a rule left with no name goes), as OCI import and
/// libseccomp do: `ioperm` has nothing to deny on aarch64.
pub fn load_on(arch: Arch, text: &str, source: &str) -> Result<Policy, String> {
    let mut p: Policy = serde_json::from_str(text).map_err(|e| e.to_string())?;
    p.source = source.to_string();
    let p = for_arch(arch, p);
    check_on(arch, &p)?;
    Ok(p)
}

/// `p` without the names of other architectures (listed in `skipped`).
fn for_arch(arch: Arch, mut p: Policy) -> Policy {
    let mut rules = Vec::new();
    for mut r in std::mem::take(&mut p.rules) {
        let named = !r.syscalls.is_empty();
        let (here, foreign): (Vec<String>, Vec<String>) =
            r.syscalls.into_iter().partition(|n| !syscalls::other_arch_on(arch, n));
        for n in foreign {
            if !p.skipped.contains(&n) {
                p.skipped.push(n);
            }
        }
        r.syscalls = here;
        // A rule that named nothing stays, for check_on to refuse.
        if !named || !r.syscalls.is_empty() {
            rules.push(r);
        }
    }
    p.rules = rules;
    p
}

/// Checks names (on `arch`), argument indices, widths and masks.
pub fn check_on(arch: Arch, p: &Policy) -> Result<(), String> {
    for (i, r) in p.rules.iter().enumerate() {
        let at = |e: String| format!("rule {}: {e}", i + 1);
        if r.syscalls.is_empty() {
            return Err(at("no system calls named".into()));
        }
        for name in &r.syscalls {
            syscalls::check_on(arch, name).map_err(at)?;
        }
        for a in &r.args {
            check_arg(a).map_err(at)?;
        }
    }
    Ok(())
}

fn check_arg(a: &Arg) -> Result<(), String> {
    if a.index > 5 {
        return Err(format!("argument index {} (0 to 5)", a.index));
    }
    if a.bits != 32 && a.bits != 64 {
        return Err(format!("bits {} (32 or 64)", a.bits));
    }
    if a.bits == 32 && (a.value > u64::from(u32::MAX) || a.mask.unwrap_or(0) > u64::from(u32::MAX)) {
        return Err(format!("value {:#x} does not fit the 32 bits compared", a.value));
    }
    match (a.op, a.mask) {
        (Op::MaskedEq, None) => Err("masked-eq needs a mask".into()),
        (Op::MaskedEq, Some(_)) => Ok(()),
        (_, Some(_)) => Err("only masked-eq takes a mask".into()),
        (Op::AnyBits, None) if a.value == 0 => Err("any-bits needs a non-zero value".into()),
        _ => Ok(()),
    }
}

/// The rules of seccomp/landlock.json that apply, on `arch`
/// ([`rules::landlock_rules_of`]). Without port rules, exec rules or a
/// signal scope over host processes none applies (every rule of the file
/// has one of these conditions: a unit test checks it), and the policy is
/// not even made: most runs need none of it.
pub fn landlock_rules_on(arch: Arch, facts: Facts) -> Vec<Rule> {
    if !LANDLOCK_CONDITIONS.iter().any(|&c| facts.holds(c, false)) {
        return Vec::new();
    }
    rules::landlock_rules_of(landlock_policy_on(arch), facts)
}

/// The conditions of seccomp/landlock.json's rules.
const LANDLOCK_CONDITIONS: [Condition; 3] =
    [Condition::PortRules, Condition::ExecRules, Condition::ScopedHostPids];

/// The built-in policy's rules that apply, on `arch`, minus the
/// `--seccomp-allow` names ([`rules::base_rules_of`]).
pub fn base_rules_on(arch: Arch, s: &Seccomp, facts: Facts) -> Vec<Rule> {
    rules::base_rules_of(default_policy_on(arch), s, facts)
}

/// Whether the built-in policy denies `name` in some configuration.
pub fn default_denies(name: &str) -> bool {
    default_policy().rules.iter().any(|r| r.action != Action::Allow && r.syscalls.iter().any(|n| n == name))
}

/// `NAME[:ERRNO]` of `--seccomp-deny` and the profile's `deny` (EPERM when
/// no errno is given).
pub fn parse_deny(v: &str) -> Result<Deny, String> {
    let (name, errno) = match v.split_once(':') {
        Some((n, e)) => (n, errno_from_name(e).ok_or_else(|| format!("unknown errno `{}`", escape::str(e)))?),
        None => (v, libc::EPERM as u32),
    };
    syscalls::check(name)?;
    Ok(Deny { syscall: name.to_string(), errno })
}

/// A name for `--seccomp-allow` and the profile's `allow`: a system call the
/// built-in policy denies.
pub fn check_allow(name: &str) -> Result<String, String> {
    syscalls::check(name)?;
    if !default_denies(name) {
        return Err("the built-in policy does not deny it".into());
    }
    Ok(name.to_string())
}

/// The default policy as text for `--help` and the man page: one entry per
/// rule with its calls, answer and reason.
pub fn help_text() -> String {
    let mut out =
        String::from("Built-in policy: `default` or `none`.\n\n`default` denies (calls, answer, why):\n");
    for r in default_policy().rules {
        out.push_str(&help_entry(&r));
    }
    out.push_str(
        "\nOn x86_64 every filter also answers ENOSYS to x32 calls (number bit 0x40000000) and to \
         i386 calls (int 0x80), which would otherwise slip past rules written for 64-bit numbers.\n\n\
         `none` installs no built-in filter; --seccomp-deny, --seccomp-policy, --seccomp-oci and \
         --add-seccomp-fd still apply.\n\n\
         Whatever --seccomp says, landlock's port rules, signal scope and exec rules come with a filter of their \
         own (seccomp/landlock.json) for what landlock does not see:\n",
    );
    for r in landlock_policy_on(native()).rules {
        out.push_str(&help_entry(&r));
    }
    out
}

/// One rule in the help: calls, arguments, answer, when, why.
fn help_entry(r: &Rule) -> String {
    let mut names = r.syscalls.join(", ");
    if !r.args.is_empty() {
        names.push_str(&format!(" ({})", describe_args(&r.args)));
    }
    let cond = match (r.when, r.unless) {
        (Some(Condition::SharePid), _) => ", only with --share pid or in landlock-only mode",
        (Some(Condition::LandlockOnly), _) => ", only in landlock-only mode",
        (Some(Condition::PortRules), _) => {
            ", with port rules: --allow-connect, --allow-bind, landlock-only mode"
        }
        (Some(Condition::ScopedHostPids), _) => {
            ", with --share pid or in landlock-only mode, lifted by --allow-signals"
        }
        (Some(Condition::ExecRules), _) => ", with --allow-exec",
        (_, Some(Condition::AllowUserns)) => ", lifted by --allow-userns",
        _ => "",
    };
    format!("\n  - {names} ({}{cond}): {}\n", r.action, r.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seccomp::Base;

    #[test]
    fn the_help_lists_every_built_in_rule_with_its_reason() {
        let help = help_text();
        assert!(help.contains("keyctl") && help.contains("CVE-2019-10063"));
        assert!(help.contains("MPTCP") && help.contains("prlimit64"));
        assert!(help.contains("only in landlock-only mode"));
        for r in default_policy().rules.iter().chain(&landlock_policy_on(native()).rules) {
            assert!(help.contains(&r.reason), "{:?}", r.syscalls);
        }
        for r in &landlock_policy_on(native()).rules {
            assert!(
                r.when.is_some_and(|c| LANDLOCK_CONDITIONS.contains(&c)),
                "{:?}: landlock_rules_on skips the file without these conditions",
                r.syscalls
            );
        }
    }

    /// `explain` and landlock-only mode's account read the built-in
    /// policies as written (the Plan knows no architecture): on x86_64
    /// that is exactly what the filter gets, on aarch64 it adds only the
    /// names aarch64 has no call for.
    #[test]
    fn the_rules_as_written_are_the_rules_the_filter_gets() {
        let mut seccomps = vec![Seccomp::default()];
        seccomps.push(Seccomp { allow_userns: true, allow: vec!["keyctl".into()], ..Seccomp::default() });
        seccomps.push(Seccomp { base: Base::None, ..Seccomp::default() });
        for bits in 0..32 {
            let on = |i: u8| bits & (1 << i) != 0;
            let facts = Facts {
                share_pid: on(0),
                landlock_only: on(1),
                port_rules: on(2),
                signal_scope: on(3),
                exec_rules: on(4),
            };
            assert_eq!(landlock_rules_on(Arch::X86_64, facts), rules::landlock_rules(facts), "{facts:?}");
            for s in &seccomps {
                assert_eq!(base_rules_on(Arch::X86_64, s, facts), rules::base_rules(s, facts), "{facts:?}");
                let names =
                    |r: Vec<Rule>| -> Vec<String> { r.into_iter().flat_map(|r| r.syscalls).collect() };
                let mut written = names(rules::base_rules(s, facts));
                written.retain(|n| Arch::Aarch64.number(n).is_some());
                assert_eq!(names(base_rules_on(Arch::Aarch64, s, facts)), written, "{facts:?}");
            }
        }
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        let bad = |text: &str| load(text, "t").unwrap_err();
        assert!(bad(r#"{"rules": [{"syscalls": ["keyctll"], "action": "EPERM"}]}"#)
            .contains("did you mean `keyctl`"));
        assert!(bad(r#"{"rules": [{"syscalls": ["read"], "action": "EPRM"}]}"#).contains("unknown action"));
        assert!(bad(r#"{"rules": [{"syscalls": ["read"], "action": "EPERM", "args": [{"index": 6, "op": "eq", "value": 1}]}]}"#).contains("index 6"));
        assert!(bad(r#"{"rules": [{"syscalls": ["read"], "action": "EPERM", "args": [{"index": 0, "op": "masked-eq", "value": 1}]}]}"#).contains("mask"));
        assert!(bad(r#"{"rules": [], "extra": 1}"#).contains("unknown field"));
        let ok = load(r#"{"default": "EPERM", "rules": [{"syscalls": ["read"], "action": "allow"}]}"#, "t")
            .unwrap();
        assert_eq!(ok.default, Action::Errno(1));
    }

    /// build.rs's rules are what the JSON loader makes of the files, with
    /// every check it makes, on both architectures.
    #[test]
    fn the_generated_built_in_policies_are_the_json_files() {
        for arch in Arch::ALL {
            assert_eq!(default_policy_on(arch), load_on(arch, DEFAULT_JSON, "built-in default").unwrap());
            assert_eq!(
                landlock_policy_on(arch),
                load_on(arch, LANDLOCK_JSON, "landlock's companion").unwrap()
            );
        }
    }

    /// The built-in policies resolve on every architecture: each name is a
    /// system call there, or one of the names listed here as missing from
    /// it (skipped, with nothing to deny).
    #[test]
    fn the_built_in_policies_resolve_on_every_architecture() {
        let missing = |arch| -> &[&str] {
            match arch {
                Arch::X86_64 => &[],
                Arch::Aarch64 => &["ioperm", "iopl", "uselib", "ustat", "sysfs", "_sysctl"],
            }
        };
        for arch in Arch::ALL {
            for (text, p) in
                [(DEFAULT_JSON, default_policy_on(arch)), (LANDLOCK_JSON, landlock_policy_on(arch))]
            {
                let all: Policy = serde_json::from_str(text).unwrap();
                let mut skipped = p.skipped.clone();
                skipped.sort();
                let mut want: Vec<String> = missing(arch)
                    .iter()
                    .filter(|n| all.rules.iter().any(|r| r.syscalls.iter().any(|s| s == *n)))
                    .map(|n| n.to_string())
                    .collect();
                want.sort();
                assert_eq!(skipped, want, "{arch:?} {}", p.source);
                for r in &p.rules {
                    for n in &r.syscalls {
                        assert!(arch.number(n).is_some(), "{arch:?}: {n}");
                    }
                }
            }
            assert!(default_policy_on(arch).rules.iter().any(|r| r.syscalls.contains(&"keyctl".to_string())));
            assert!(default_denies("keyctl"));
        }
        let aarch64 = default_policy_on(Arch::Aarch64);
        assert!(!aarch64.rules.iter().any(|r| r.syscalls.iter().any(|n| n == "iopl")), "the rule goes");
        let x86 = load_on(
            Arch::X86_64,
            r#"{"rules": [{"syscalls": ["socketcall", "keyctl"], "action": "EPERM"}]}"#,
            "t",
        );
        let x86 = x86.unwrap();
        assert_eq!(
            (x86.skipped.as_slice(), x86.rules[0].syscalls.as_slice()),
            (&["socketcall".to_string()][..], &["keyctl".to_string()][..])
        );
        let bad = load_on(Arch::Aarch64, r#"{"rules": [{"syscalls": ["keyctll"], "action": "EPERM"}]}"#, "t");
        assert!(bad.unwrap_err().contains("did you mean `keyctl`"));
    }
}
