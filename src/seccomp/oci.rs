//! Import of an OCI runtime's seccomp policy (`--seccomp-oci FILE`).
//!
//! Accepts a whole OCI `config.json` (its `linux.seccomp` object) or the bare
//! object, which is also Docker's profile format: `defaultAction`,
//! `defaultErrnoRet`, `architectures` or Docker's `archMap`, and `syscalls`
//! entries with `names`, `action`, `errnoRet` and `args` (`index`, `value`,
//! `valueTwo`, `op`), plus Docker's `includes`/`excludes` by capability,
//! architecture and kernel version. Those are decided here, once: against
//! the command's `--cap-add` capabilities, this architecture, and the
//! running kernel's release.
//!
//! As libseccomp does, a name that exists only on another architecture
//! (`socketcall`, `_llseek`) is skipped and listed; a name that exists
//! nowhere is an error with a suggestion. Argument tests compare all 64 bits,
//! as libseccomp does on 64-bit architectures.

use serde::Deserialize;

use crate::plan::seccomp::{Action, Arg, Op, Policy, Rule};

use super::syscalls::{self, Arch};

/// What the import needs to know about the sandbox.
pub struct Facts<'a> {
    /// Capabilities the command keeps (`CAP_SYS_ADMIN`, …).
    pub caps: &'a [String],
    /// The running kernel's release, e.g. `6.18.0`.
    pub kernel: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OciSeccomp {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<serde_json::Value>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Vec<OciSyscall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OciSyscall {
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<OciArg>>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OciArg {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// Docker's conditions on an entry.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Parses an OCI config or seccomp object into a [`Policy`] for this
/// architecture.
pub fn import(text: &str, source: &str, facts: &Facts) -> Result<Policy, String> {
    let arch = Arch::NATIVE.ok_or_else(|| {
        format!("no system-call table for this architecture ({}) yet", std::env::consts::ARCH)
    })?;
    import_on(arch, text, source, facts)
}

/// [`import`] for `arch`.
pub fn import_on(arch: Arch, text: &str, source: &str, facts: &Facts) -> Result<Policy, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let object = match value.get("linux") {
        Some(linux) => linux.get("seccomp").cloned().ok_or("the OCI config has no linux.seccomp object")?,
        None => value,
    };
    let oci: OciSeccomp = serde_json::from_value(object).map_err(|e| e.to_string())?;
    let _ = (&oci.architectures, &oci.arch_map, &oci.flags, &oci.listener_metadata);
    if oci.listener_path.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err("listenerPath: user notification (SCMP_ACT_NOTIFY) is not supported".into());
    }
    let default = action(&oci.default_action, oci.default_errno_ret)?;
    let mut policy = Policy { source: source.to_string(), default, rules: Vec::new(), skipped: Vec::new() };
    for (i, s) in oci.syscalls.iter().enumerate() {
        let at = |e: String| format!("syscalls[{i}]: {e}");
        if !wanted(arch, s.includes.as_ref(), s.excludes.as_ref(), facts).map_err(at)? {
            continue;
        }
        let mut names = Vec::new();
        for n in &s.names {
            match syscalls::check_on(arch, n) {
                Ok(_) => names.push(n.clone()),
                Err(_) if syscalls::other_arch_on(arch, n) => {
                    if !policy.skipped.contains(n) {
                        policy.skipped.push(n.clone())
                    }
                }
                Err(e) => return Err(at(e)),
            }
        }
        if names.is_empty() {
            continue;
        }
        let args = s.args.iter().flatten().map(arg).collect::<Result<Vec<_>, _>>().map_err(at)?;
        let reason = s.comment.clone().unwrap_or_default();
        let action = action(&s.action, s.errno_ret).map_err(at)?;
        policy.rules.push(Rule { syscalls: names, action, args, when: None, unless: None, reason });
    }
    super::policy::check_on(arch, &policy)?;
    Ok(policy)
}

/// `SCMP_ACT_*` to an action; ERRNO without `errnoRet` is EPERM, as in runc.
fn action(name: &str, errno: Option<u32>) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" => Action::Kill,
        "SCMP_ACT_TRAP" => Action::Trap,
        // Without a tracer the kernel answers SCMP_ACT_TRACE with ENOSYS.
        "SCMP_ACT_TRACE" => Action::Errno(libc::ENOSYS as u32),
        "SCMP_ACT_NOTIFY" => return Err("SCMP_ACT_NOTIFY (user notification) is not supported".into()),
        _ => return Err(format!("unknown action `{}`", crate::escape::str(name))),
    })
}

fn arg(a: &OciArg) -> Result<Arg, String> {
    let (op, value, mask) = match a.op.as_str() {
        "SCMP_CMP_EQ" => (Op::Eq, a.value, None),
        "SCMP_CMP_NE" => (Op::Ne, a.value, None),
        "SCMP_CMP_LT" => (Op::Lt, a.value, None),
        "SCMP_CMP_LE" => (Op::Le, a.value, None),
        "SCMP_CMP_GT" => (Op::Gt, a.value, None),
        "SCMP_CMP_GE" => (Op::Ge, a.value, None),
        // libseccomp: `value` is the mask, `valueTwo` the expected result.
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq, a.value_two, Some(a.value)),
        op => return Err(format!("unknown argument operator `{}`", crate::escape::str(op))),
    };
    Ok(Arg { index: a.index, op, value, mask, bits: 64 })
}

/// Docker's `includes` (all must hold) and `excludes` (none may hold).
fn wanted(arch: Arch, inc: Option<&Filter>, exc: Option<&Filter>, facts: &Facts) -> Result<bool, String> {
    let arch = arch_names(arch);
    if let Some(f) = inc {
        if let Some(arches) = &f.arches {
            if !arches.iter().any(|a| arch.contains(&a.as_str())) {
                return Ok(false);
            }
        }
        if let Some(caps) = &f.caps {
            if !caps.iter().all(|c| facts.caps.contains(c)) {
                return Ok(false);
            }
        }
        if let Some(min) = &f.min_kernel {
            if !kernel_at_least(facts.kernel, min)? {
                return Ok(false);
            }
        }
    }
    if let Some(f) = exc {
        let arch_hit = f.arches.as_ref().is_some_and(|a| a.iter().any(|a| arch.contains(&a.as_str())));
        let caps_hit = f.caps.as_ref().is_some_and(|c| c.iter().any(|c| facts.caps.contains(c)));
        let kernel_hit = match &f.min_kernel {
            Some(min) => kernel_at_least(facts.kernel, min)?,
            None => false,
        };
        if arch_hit || caps_hit || kernel_hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The names Docker and Go use for `arch`.
fn arch_names(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => &["amd64", "x86_64", "SCMP_ARCH_X86_64"],
        Arch::Aarch64 => &["arm64", "aarch64", "SCMP_ARCH_AARCH64"],
    }
}

/// `6.18.0-1-amd64` >= `4.8`?
fn kernel_at_least(release: &str, min: &str) -> Result<bool, String> {
    let nums = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit()).take(2).map(|p| p.parse().unwrap_or(0)).collect()
    };
    if !min.chars().all(|c| c.is_ascii_digit() || c == '.') || min.is_empty() {
        return Err(format!("minKernel `{}`: expected a version like 4.8", crate::escape::str(min)));
    }
    Ok(nums(release) >= nums(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = include_str!("../../tests/fixtures/docker-default-seccomp.json");

    fn facts() -> Facts<'static> {
        Facts { caps: &[], kernel: "6.18.0" }
    }

    #[test]
    fn docker_default_imports() {
        let p = import(DOCKER, "docker.json", &facts()).unwrap();
        assert_eq!(p.default, Action::Errno(1));
        let rules_for = |n: &str| p.rules.iter().filter(|r| r.syscalls.iter().any(|s| s == n)).count();
        assert!(rules_for("read") == 1 && rules_for("getppid") == 1);
        assert_eq!(rules_for("socket"), 3, "three family ranges");
        assert_eq!(rules_for("bpf"), 0, "needs CAP_SYS_ADMIN or CAP_BPF");
        assert!(p.rules.iter().any(|r| r.syscalls == ["clone3"] && r.action == Action::Errno(38)));
        assert!(p.skipped.contains(&"socketcall".to_string()) && p.skipped.contains(&"_llseek".to_string()));
        let admin = ["CAP_SYS_ADMIN".to_string()];
        let with_admin = import(DOCKER, "d", &Facts { caps: &admin, kernel: "6.18.0" }).unwrap();
        assert!(with_admin.rules.iter().any(|r| r.syscalls.contains(&"bpf".to_string())));
        assert!(!with_admin.rules.iter().any(|r| r.syscalls == ["clone3"] && r.action != Action::Allow));
    }

    #[test]
    fn an_oci_config_and_its_errors() {
        let cfg = r#"{"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["keyctl"],
            "action": "SCMP_ACT_ERRNO", "errnoRet": 13}, {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]}}}"#;
        let p = import(cfg, "config.json", &facts()).unwrap();
        assert_eq!(p.default, Action::Allow);
        assert_eq!(p.rules[0].action, Action::Errno(13));
        assert_eq!(
            p.rules[1].args[0],
            Arg { index: 0, op: Op::MaskedEq, value: 8, mask: Some(255), bits: 64 }
        );
        let bad = |t: &str| import(t, "x", &facts()).unwrap_err();
        assert!(bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctll"], "action": "SCMP_ACT_ERRNO"}]}"#)
            .contains("did you mean `keyctl`"));
        assert!(bad(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).contains("unknown action"));
        assert!(bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscals": []}"#).contains("unknown field"));
        assert!(bad(r#"{"ociVersion": "1", "linux": {}}"#).contains("no linux.seccomp"));
    }

    /// Docker's profile on aarch64: the calls aarch64 lacks (`open`,
    /// `chmod`, i386's, ARM's 32-bit ones) are skipped, and the entries for
    /// x86 architectures only are left out.
    #[test]
    fn dockers_profile_imports_on_aarch64() {
        let p = import_on(Arch::Aarch64, DOCKER, "docker.json", &facts()).unwrap();
        for name in ["open", "chmod", "socketcall", "_llseek", "arch_prctl"] {
            assert!(!p.rules.iter().any(|r| r.syscalls.iter().any(|n| n == name)), "{name}");
        }
        assert!(p.skipped.contains(&"open".to_string()) && p.skipped.contains(&"chmod".to_string()));
        assert!(p.rules.iter().any(|r| r.syscalls.iter().any(|n| n == "openat")));
        let x86 = import_on(Arch::X86_64, DOCKER, "docker.json", &facts()).unwrap();
        assert!(x86.rules.iter().any(|r| r.syscalls.iter().any(|n| n == "arch_prctl")));
    }

    #[test]
    fn kernel_versions_compare_numerically() {
        assert!(kernel_at_least("6.18.0-amd64", "4.8").unwrap());
        assert!(!kernel_at_least("4.4.0", "4.8").unwrap());
        assert!(kernel_at_least("4.10.1", "4.8").unwrap());
        assert!(kernel_at_least("6.1", "x").is_err());
    }
}
