//! cgroup limits through the systemd user manager: a transient scope per run.
//!
//! When the caller's own cgroup cannot hand controllers down (see
//! [`super`]), the user's systemd instance still can: it manages
//! user@UID.service and everything below it. `systemd-run --user --scope`
//! asks it for a scope around a command it then starts itself; the monitor
//! needs one around a process that already exists (init, held before its
//! release), so it makes the same D-Bus call as systemd-run,
//! `StartTransientUnit` with `PIDs`, through `busctl`, and waits until init
//! shows up in the scope before releasing it. The scope holds only the
//! sandbox (not the monitor), carries the limits as unit properties, and is
//! collected by systemd when its last process has ended.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::plan::limits::CgroupLimits;

const SERVICE: &str = "org.freedesktop.systemd1";
const OBJECT: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// The controllers the caller's systemd user manager can give its scopes:
/// those of its own cgroup (`ControlGroup`, e.g.
/// /user.slice/user-1000.slice/user@1000.service); why there is no manager
/// to ask otherwise.
pub fn manager_controllers() -> Result<Vec<String>, String> {
    let args = ["get-property", SERVICE, OBJECT, MANAGER, "ControlGroup"].map(String::from);
    let out = busctl(&args)?;
    let path =
        control_group(&out).ok_or_else(|| format!("busctl --user: no ControlGroup in {:?}", out.trim()))?;
    let dir = crate::cgroup::dir_of(&path).map_err(|r| r.why)?;
    let file = dir.join("cgroup.controllers");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("{}: {}", file.display(), crate::cgroup::io_text(&e)))?;
    Ok(text.split_whitespace().map(String::from).collect())
}

/// The path in busctl's answer to `get-property … ControlGroup`: `s "/…"`.
fn control_group(out: &str) -> Option<String> {
    let path = out.trim().strip_prefix("s \"")?.strip_suffix('"')?;
    path.starts_with('/').then(|| path.to_string())
}

/// The busctl arguments of `StartTransientUnit` for a scope named `unit`
/// around `pid` with `limits` as its properties.
pub fn scope_call(unit: &str, pid: u32, limits: &CgroupLimits) -> Vec<String> {
    let mut props: Vec<[String; 3]> = vec![
        ["Description".into(), "s".into(), format!("sandbox {pid}")],
        ["CollectMode".into(), "s".into(), "inactive-or-failed".into()],
    ];
    let mut t = |name: &str, v: Option<u64>| {
        if let Some(v) = v {
            props.push([name.into(), "t".into(), v.to_string()]);
        }
    };
    t("MemoryMax", limits.memory);
    t("TasksMax", limits.pids);
    t("CPUQuotaPerSecUSec", limits.millicpus.map(|m| m * 1000));
    t("IOWeight", limits.io_weight.map(u64::from));
    let mut args: Vec<String> = ["call", SERVICE, OBJECT, MANAGER]
        .into_iter()
        .chain(["StartTransientUnit", "ssa(sv)a(sa(sv))"])
        .map(String::from)
        .collect();
    args.extend([unit.to_string(), "fail".into(), (props.len() + 1).to_string()]);
    args.extend(["PIDs", "au", "1"].map(String::from));
    args.push(pid.to_string());
    args.extend(props.into_iter().flatten());
    args.push("0".into());
    args
}

/// Puts `pid` into a new scope with `limits`; returns the unit's name.
pub fn start_scope(pid: u32, limits: &CgroupLimits) -> Result<String, String> {
    let unit = format!("sandbox-{pid}.scope");
    busctl(&scope_call(&unit, pid, limits))?;
    let end = Instant::now() + Duration::from_secs(5);
    let inside = || {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.lines().any(|l| l.starts_with("0::") && l.ends_with(&format!("/{unit}"))))
    };
    while !inside() {
        if Instant::now() > end {
            return Err(format!("{unit} was started, but the sandbox did not show up in it"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(unit)
}

// busctl fails at once without a bus and is bounded by its own
// --timeout (25 s by default) with one.
#[allow(clippy::disallowed_methods)]
fn busctl(args: &[String]) -> Result<String, String> {
    let out = Command::new("busctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("busctl --user: {}", crate::cgroup::io_text(&e)))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or("failed");
    let first = first.split(" (consider").next().unwrap_or(first);
    Err(format!("busctl --user: {}", first.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manager_s_cgroup_from_busctl() {
        let out = "s \"/user.slice/user-1000.slice/user@1000.service\"\n";
        assert_eq!(control_group(out).as_deref(), Some("/user.slice/user-1000.slice/user@1000.service"));
        assert_eq!(control_group("s \"\"\n"), None, "a manager without a cgroup");
        assert_eq!(control_group("u 7\n"), None);
    }

    #[test]
    fn the_call_systemd_run_would_make() {
        let limits =
            CgroupLimits { memory: Some(1 << 30), pids: Some(64), millicpus: Some(500), io_weight: None };
        let args = scope_call("sandbox-7.scope", 7, &limits).join(" ");
        assert_eq!(
            args,
            "call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
             StartTransientUnit ssa(sv)a(sa(sv)) sandbox-7.scope fail 6 PIDs au 1 7 \
             Description s sandbox 7 CollectMode s inactive-or-failed MemoryMax t 1073741824 \
             TasksMax t 64 CPUQuotaPerSecUSec t 500000 0"
        );
    }
}
