//! The built-in policies as data, and which of their rules apply to a
//! sandbox: pure decisions over the Plan, for `explain`, landlock-only
//! mode's account of what stands in for the namespaces, and the filter.
//!
//! - seccomp/default.json: the policy `--seccomp default` installs;
//! - seccomp/landlock.json: what landlock's port rules, signal scope and
//!   exec rules do not see, closed by a filter of its own whatever
//!   `--seccomp` says (`--seccomp none`, `--seccomp-allow` and
//!   `--seccomp-log` leave it as it is).
//!
//! Both are read here as written, for every architecture. Resolving their
//! names to one architecture's system calls (a name another architecture
//! has only, such as `iopl` on aarch64, has nothing to deny and is
//! skipped) and compiling them to BPF is `crate::seccomp`'s work, which
//! selects the rules with the same functions.

use super::{Condition, Facts, Policy, Rule, Seccomp};

/// seccomp/default.json, as built into the binary.
pub const DEFAULT_JSON: &str = include_str!("../../../seccomp/default.json");

/// seccomp/landlock.json, as built into the binary.
pub const LANDLOCK_JSON: &str = include_str!("../../../seccomp/landlock.json");

/// A built-in policy as written (a unit test reads both).
fn written(text: &str, source: &str) -> Policy {
    let mut p: Policy = serde_json::from_str(text).unwrap_or_else(|e| panic!("{source}: {e}"));
    p.source = source.to_string();
    p
}

/// seccomp/default.json as written.
pub fn default_policy() -> Policy {
    written(DEFAULT_JSON, "built-in default")
}

/// seccomp/landlock.json as written.
pub fn landlock_policy() -> Policy {
    written(LANDLOCK_JSON, "landlock's companion")
}

impl Rule {
    /// Whether the rule applies to a sandbox with these facts.
    pub fn applies(&self, facts: Facts, allow_userns: bool) -> bool {
        let holds = |c: Condition| facts.holds(c, allow_userns);
        self.when.map_or(true, holds) && !self.unless.is_some_and(holds)
    }
}

/// The rules of `companion` (seccomp/landlock.json) that apply: every one
/// of them needs a condition, so none applies to a sandbox without port
/// rules, exec rules or host pids.
pub fn landlock_rules_of(companion: Policy, facts: Facts) -> Vec<Rule> {
    companion.rules.into_iter().filter(|r| r.applies(facts, false)).collect()
}

/// The rules of `base` (seccomp/default.json) that apply to `s`, minus the
/// `--seccomp-allow` names; none with `--seccomp none`.
pub fn base_rules_of(base: Policy, s: &Seccomp, facts: Facts) -> Vec<Rule> {
    if s.base == super::Base::None {
        return Vec::new();
    }
    base.rules
        .into_iter()
        .filter(|r| r.applies(facts, s.allow_userns))
        .filter_map(|mut r| {
            r.syscalls.retain(|n| !s.allow.contains(n));
            (!r.syscalls.is_empty()).then_some(r)
        })
        .collect()
}

/// [`landlock_rules_of`] the built-in companion as written.
pub fn landlock_rules(facts: Facts) -> Vec<Rule> {
    landlock_rules_of(landlock_policy(), facts)
}

/// [`base_rules_of`] the built-in default as written.
pub fn base_rules(s: &Seccomp, facts: Facts) -> Vec<Rule> {
    base_rules_of(default_policy(), s, facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seccomp::{Action, Base};

    #[test]
    fn the_built_in_policies_read_and_every_rule_has_a_reason() {
        let p = default_policy();
        assert_eq!(p.default, Action::Allow);
        assert!(p.rules.len() > 20);
        for r in &p.rules {
            assert!(!r.reason.is_empty() && !r.reason.contains('\n'), "{:?}", r.syscalls);
        }
        let companion = landlock_policy();
        assert_eq!(companion.default, Action::Allow);
        for r in &companion.rules {
            assert!(!r.reason.is_empty() && !r.reason.contains('\n'), "{:?}", r.syscalls);
            assert!(
                r.when.is_some() && r.action != Action::Allow,
                "{:?} applies only with a condition",
                r.syscalls
            );
        }
    }

    #[test]
    fn the_companion_rules_follow_port_rules_and_the_signal_scope() {
        let names = |facts: Facts| -> Vec<String> {
            landlock_rules(facts).into_iter().flat_map(|r| r.syscalls).collect()
        };
        assert!(names(Facts::default()).is_empty());
        let ports = names(Facts { port_rules: true, ..Facts::default() });
        assert!(ports.contains(&"socket".into()) && ports.contains(&"sendmsg".into()));
        assert!(!ports.contains(&"prlimit64".into()));
        let host = Facts { share_pid: true, signal_scope: true, ..Facts::default() };
        assert!(names(host).contains(&"prlimit64".into()) && !names(host).contains(&"socket".into()));
        assert!(names(Facts { signal_scope: false, ..host }).is_empty(), "--allow-signals lifts them");
        assert!(names(Facts { share_pid: false, ..host }).is_empty(), "the sandbox's own pid namespace");
    }

    #[test]
    fn conditions_and_allow_shape_the_base_rules() {
        let names = |s: &Seccomp, share_pid| -> Vec<String> {
            let facts = Facts { share_pid, ..Facts::default() };
            base_rules(s, facts).into_iter().flat_map(|r| r.syscalls).collect()
        };
        let mut s = Seccomp::default();
        assert!(!names(&s, false).contains(&"ptrace".to_string()));
        assert!(names(&s, true).contains(&"ptrace".to_string()));
        assert!(names(&s, false).contains(&"unshare".to_string()));
        s.allow_userns = true;
        let lifted = names(&s, false);
        assert!(!lifted.contains(&"unshare".to_string()) && !lifted.contains(&"clone3".to_string()));
        s.allow = vec!["keyctl".into()];
        assert!(!names(&s, false).contains(&"keyctl".to_string()));
        assert!(names(&s, false).contains(&"add_key".to_string()));
        s.base = Base::None;
        assert!(names(&s, true).is_empty());
    }

    #[test]
    fn landlock_only_mode_denies_the_host_s_ipc_and_file_flags() {
        let s = Seccomp::default();
        let names = |landlock_only| -> Vec<String> {
            let facts = Facts { share_pid: landlock_only, landlock_only, ..Facts::default() };
            base_rules(&s, facts).into_iter().flat_map(|r| r.syscalls).collect()
        };
        for name in ["shmget", "shmat", "semop", "msgsnd", "mq_open", "mq_unlink", "file_setattr"] {
            assert!(names(true).contains(&name.to_string()), "{name}");
            assert!(!names(false).contains(&name.to_string()), "{name} with an IPC namespace");
        }
        let ioctls = |landlock_only| base_rules(&s, Facts { landlock_only, ..Facts::default() }).len();
        assert_eq!(ioctls(true), ioctls(false) + 9, "3 IPC and file-flag rules, 6 ioctl requests");
    }
}
