//! The seccomp part of the Plan: which system-call filters the command runs
//! under. Plain data: files named on the command line are already read and
//! checked (every syscall name is known) by the front end; `launch` only
//! compiles these rules to BPF, before it starts anything. The built-in
//! policies and which of their rules apply are [`rules`].

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod rules;

/// The system-call filters of the command, installed last, just before execve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seccomp {
    /// The built-in policy: `default` (seccomp/default.json) or `none`.
    pub base: Base,
    /// Let the command make nested namespaces: lifts the denies of unshare,
    /// setns, clone with namespace flags, clone3 and the mount calls.
    #[serde(default)]
    pub allow_userns: bool,
    /// Dry run: every deny of every filter becomes SECCOMP_RET_LOG (the call
    /// goes through and the kernel logs it).
    #[serde(default)]
    pub log: bool,
    /// System calls taken out of the built-in policy's denies.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The user's own deny rules, installed after the built-in policy (so
    /// their errno wins over its for the same call).
    #[serde(default)]
    pub deny: Vec<Deny>,
    /// Policies read from files (`--seccomp-policy`, `--seccomp-oci`),
    /// installed in this order after the user's rules; every filter applies,
    /// the strictest answer wins.
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Raw classic-BPF programs read from these caller fds (`--add-seccomp-fd`),
    /// installed in order after everything else. bwrap's `--seccomp FD` is
    /// `base: none` with this one fd (bwrap has no filter of its own).
    #[serde(default)]
    pub bpf_fds: Vec<i32>,
}

impl Default for Seccomp {
    /// The default policy, no extra rules.
    fn default() -> Self {
        Seccomp {
            base: Base::Default,
            allow_userns: false,
            log: false,
            allow: Vec::new(),
            deny: Vec::new(),
            policies: Vec::new(),
            bpf_fds: Vec::new(),
        }
    }
}

/// One rule in `sandbox explain`: answer, calls, argument tests.
fn explain_rule(r: &Rule, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let args = match r.args.is_empty() {
        true => String::new(),
        false => format!(" when {}", describe_args(&r.args)),
    };
    writeln!(f, "  {:<12} {}{args}", r.action.to_string(), r.syscalls.join(" "))
}

/// Argument tests as `explain` and `--help` show them: `arg1 == 0x5412 and …`.
pub fn describe_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| {
            let op = match a.op {
                Op::Eq => "==".to_string(),
                Op::Ne => "!=".to_string(),
                Op::Lt => "<".to_string(),
                Op::Le => "<=".to_string(),
                Op::Gt => ">".to_string(),
                Op::Ge => ">=".to_string(),
                Op::MaskedEq => format!("& {:#x} ==", a.mask.unwrap_or(u64::MAX)),
                Op::AnyBits => "has any bit of".to_string(),
            };
            format!("arg{} {op} {:#x}", a.index, a.value)
        })
        .collect();
    parts.join(" and ")
}

/// The built-in policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// seccomp/default.json: a deny-list of kernel attack surface.
    Default,
    /// No built-in filter (user rules and policy files still apply).
    None,
}

/// One `--seccomp-deny NAME[:ERRNO]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    pub syscall: String,
    /// The errno the call fails with (1 = EPERM).
    pub errno: u32,
}

/// A policy: rules plus what every other call gets. This is also the format
/// of seccomp/default.json and of `--seccomp-policy FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Where it came from (a file name); set by the loader.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// What a call that no rule matches gets: `allow` makes the policy a
    /// deny-list, an errno such as `EPERM` an allow-list.
    #[serde(default = "allow")]
    pub default: Action,
    pub rules: Vec<Rule>,
    /// Names the loader skipped because they exist only on another
    /// architecture (an OCI profile lists i386's `socketcall`, for example).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

fn allow() -> Action {
    Action::Allow
}

/// Calls by name that get `action` when every argument test holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub syscalls: Vec<String>,
    pub action: Action,
    /// Argument tests, all of which must hold (none: every call matches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    /// The rule applies only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// The rule does not apply when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<Condition>,
    /// One line: why the rule is there.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What the kernel does with a matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Action {
    /// Run it.
    Allow,
    /// Run it and log it (SECCOMP_RET_LOG).
    Log,
    /// Fail with this errno, written by name (`EPERM`, `ENOSYS`) or number.
    Errno(u32),
    /// Send SIGSYS.
    Trap,
    /// Kill the whole process.
    Kill,
}

impl TryFrom<String> for Action {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "allow" => Ok(Action::Allow),
            "log" => Ok(Action::Log),
            "trap" => Ok(Action::Trap),
            "kill" => Ok(Action::Kill),
            _ => errno_from_name(&s).map(Action::Errno).ok_or_else(|| {
                format!("unknown action `{s}`: expected allow, log, trap, kill or an errno like EPERM")
            }),
        }
    }
}

impl From<Action> for String {
    fn from(a: Action) -> String {
        a.to_string()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Allow => f.write_str("allow"),
            Action::Log => f.write_str("log"),
            Action::Trap => f.write_str("trap"),
            Action::Kill => f.write_str("kill"),
            Action::Errno(n) => f.write_str(&errno_name(*n)),
        }
    }
}

/// `EPERM` → 1; a plain number from 1 to 4095 is taken as is.
pub fn errno_from_name(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=4095).contains(&n).then_some(n);
    }
    let s = match s {
        "ENOTSUP" => "EOPNOTSUPP",
        "EWOULDBLOCK" => "EAGAIN",
        "EDEADLOCK" => "EDEADLK",
        s => s,
    };
    names().iter().position(|n| n == s).map(|i| i as u32 + 1)
}

/// 1 → `EPERM`; a number without a name stays a number.
pub fn errno_name(n: u32) -> String {
    match names().get((n as usize).wrapping_sub(1)) {
        Some(name) if name.starts_with('E') => name.clone(),
        _ => n.to_string(),
    }
}

/// The names of errnos 1 to 133 as nix spells them (a number nix does not
/// name reads `UnknownErrno`), formatted once per process: policies name
/// an errno in every rule.
fn names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| (1..=133).map(|n| format!("{:?}", nix::errno::Errno::from_raw(n))).collect())
}

/// A test of one argument register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// Argument index, 0 to 5.
    pub index: u8,
    pub op: Op,
    pub value: u64,
    /// For `masked-eq`: `(arg & mask) == value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<u64>,
    /// Compare the low 32 bits only (for `int` arguments and ioctl requests,
    /// which the kernel truncates), or all 64.
    #[serde(default = "bits64")]
    pub bits: u8,
}

fn bits64() -> u8 {
    64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq,
    /// Any bit of `value` set: `(arg & value) != 0`.
    AnyBits,
}

/// Facts about the sandbox a rule can depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// The pid namespace is the host's: `--share pid`, or landlock-only
    /// mode, which has no namespaces at all.
    SharePid,
    /// `--allow-userns` was given.
    AllowUserns,
    /// Landlock-only mode (`--mode landlock`): no namespaces at all.
    LandlockOnly,
    /// Landlock restricts TCP ports: a port rule (`--allow-connect`,
    /// `--allow-bind`, a profile's list), or landlock-only mode standing in
    /// for "no network".
    PortRules,
    /// The host's processes are visible (as for `share-pid`) and landlock's
    /// signal scope is meant to keep them out of reach (no `--allow-signals`).
    ScopedHostPids,
    /// Landlock decides which files run (`--allow-exec`).
    ExecRules,
}

/// What the conditions of the rules are decided on, taken from the whole
/// Plan (`allow-userns` is the Seccomp part's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The pid namespace is the host's: `--share pid`, or landlock-only mode.
    pub share_pid: bool,
    /// Landlock-only mode.
    pub landlock_only: bool,
    /// Landlock restricts TCP ports.
    pub port_rules: bool,
    /// Landlock scopes signals to the sandbox.
    pub signal_scope: bool,
    /// Landlock decides which files run (`--allow-exec`).
    pub exec_rules: bool,
}

impl Facts {
    /// The facts of `plan`, in the mode it runs in.
    pub fn of(plan: &super::Plan) -> Facts {
        let ll = &plan.landlock;
        Facts {
            share_pid: plan.shares_host_pids(),
            landlock_only: plan.mode == super::landlock::Mode::Landlock,
            port_rules: super::landlock::restricts_tcp(plan),
            signal_scope: ll.enabled && ll.scope_signals,
            exec_rules: ll.enabled && ll.exec_narrowed(),
        }
    }

    /// Whether `c` holds; `allow_userns` comes from the Seccomp part.
    pub fn holds(&self, c: Condition, allow_userns: bool) -> bool {
        match c {
            Condition::SharePid => self.share_pid,
            Condition::AllowUserns => allow_userns,
            Condition::LandlockOnly => self.landlock_only,
            Condition::PortRules => self.port_rules,
            Condition::ScopedHostPids => self.share_pid && self.signal_scope,
            Condition::ExecRules => self.exec_rules,
        }
    }
}

impl Seccomp {
    /// The lines `sandbox explain` prints for a sandbox with these facts.
    pub fn explain(&self, facts: Facts, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.base {
            Base::Default => {
                writeln!(f, "seccomp:    default policy (reasons: sandbox --help, under --seccomp)")?
            }
            Base::None => writeln!(f, "seccomp:    no built-in policy (--seccomp none)")?,
        }
        for r in rules::base_rules(self, facts) {
            explain_rule(&r, f)?;
        }
        let companion = rules::landlock_rules(facts);
        if !companion.is_empty() {
            writeln!(f, "  for landlock's port rules and signal scope (whatever --seccomp says):")?;
        }
        for r in &companion {
            explain_rule(r, f)?;
        }
        if self.base == Base::Default
            || !self.deny.is_empty()
            || !self.policies.is_empty()
            || !companion.is_empty()
        {
            writeln!(f, "  {:<12} x32 and i386 system calls", "ENOSYS")?;
        }
        if self.log {
            writeln!(f, "            log only: denied calls go through and are logged (--seccomp-log)")?;
        }
        if self.allow_userns {
            writeln!(f, "            nested namespaces allowed (--allow-userns)")?;
        }
        if !self.allow.is_empty() {
            writeln!(f, "            allowed: {}", self.allow.join(" "))?;
        }
        for d in &self.deny {
            writeln!(f, "            deny {} -> {}", d.syscall, errno_name(d.errno))?;
        }
        for p in &self.policies {
            let n: usize = p.rules.iter().map(|r| r.syscalls.len()).sum();
            writeln!(
                f,
                "            policy {}: {} rules over {n} calls, default {}",
                crate::escape::str(&p.source),
                p.rules.len(),
                p.default
            )?;
            if !p.skipped.is_empty() {
                writeln!(f, "              skipped (other architectures): {}", p.skipped.len())?;
            }
        }
        for fd in &self.bpf_fds {
            writeln!(f, "            raw BPF program from fd {fd}")?;
        }
        Ok(())
    }
}
