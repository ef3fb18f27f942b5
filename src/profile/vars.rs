//! `${VAR}` expansion in profile values.
//!
//! Known names: HOME, CWD, UID, USER, XDG_RUNTIME_DIR, XDG_CONFIG_HOME,
//! XDG_CACHE_HOME, XDG_DATA_HOME, XDG_STATE_HOME, RUNTIME, and `env:NAME`
//! for any variable of the caller's environment. `${NAME:-default}` gives a
//! default (which is itself expanded); `$$` is a literal dollar. An unset
//! variable without a default is an error: a profile never silently binds
//! a path it did not mean.

use std::borrow::Cow;

use crate::host::Host;

/// Expands every `${…}` in `s`.
pub fn expand(s: &str, host: &Host) -> Result<String, String> {
    let mut out = String::with_capacity(s.len() + 32);
    expand_into(s, host, &mut out)?;
    Ok(out)
}

/// [`expand`], appending to `out`.
fn expand_into(s: &str, host: &Host, out: &mut String) -> Result<(), String> {
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some(r) = rest.strip_prefix('{') else {
            return Err("a '$' must start ${NAME} (write $$ for a literal dollar)".into());
        };
        let end = closing_brace(r).ok_or("unterminated ${")?;
        let inner = &r[..end];
        rest = &r[end + 1..];
        let (name, default) = match inner.find(":-") {
            Some(j) => (&inner[..j], Some(&inner[j + 2..])),
            None => (inner, None),
        };
        match (lookup(name, host)?, default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => expand_into(d, host, out)?,
            (None, None) => {
                return Err(format!("${{{name}}} is not set (write ${{{name}:-default}} to give a default)"))
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// The index of the `}` that closes a `${`, allowing nested `${…}` in defaults.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn env<'a>(host: &'a Host, name: &str) -> Option<Cow<'a, str>> {
    host.var(name).map(|v| v.to_string_lossy()).filter(|v| !v.is_empty())
}

fn lookup<'a>(name: &str, host: &'a Host) -> Result<Option<Cow<'a, str>>, String> {
    let home = || host.home.to_string_lossy();
    let xdg = |var: &str, fallback: &str| {
        env(host, var).or_else(|| Some(Cow::Owned(format!("{}/{fallback}", home()))))
    };
    Ok(match name {
        "HOME" => Some(home()),
        "CWD" => Some(host.cwd.to_string_lossy()),
        "UID" => Some(Cow::Owned(host.uid.to_string())),
        "USER" => Some(Cow::Owned(host.user())),
        "XDG_RUNTIME_DIR" => env(host, "XDG_RUNTIME_DIR"),
        "XDG_CONFIG_HOME" => xdg("XDG_CONFIG_HOME", ".config"),
        "XDG_CACHE_HOME" => xdg("XDG_CACHE_HOME", ".cache"),
        "XDG_DATA_HOME" => xdg("XDG_DATA_HOME", ".local/share"),
        "XDG_STATE_HOME" => xdg("XDG_STATE_HOME", ".local/state"),
        "RUNTIME" => Some(Cow::Owned(match env(host, "XDG_RUNTIME_DIR") {
            Some(dir) => format!("{dir}/sandbox"),
            None => format!("/tmp/sandbox-{}", host.uid),
        })),
        _ => match name.strip_prefix("env:") {
            Some(var) if !var.is_empty() => env(host, var),
            _ => {
                return Err(format!(
                    "unknown variable ${{{name}}} (use ${{env:{name}}} for an environment variable)"
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_names_defaults_and_dollars() {
        let h = Host::fake("/work");
        assert_eq!(expand("${HOME}/.cargo", &h).unwrap(), "/home/u/.cargo");
        assert_eq!(expand("${CWD}:${UID}:${USER}", &h).unwrap(), "/work:1000:u");
        assert_eq!(expand("${XDG_CACHE_HOME}/pip", &h).unwrap(), "/home/u/.cache/pip");
        assert_eq!(expand("${RUNTIME}", &h).unwrap(), "/run/user/1000/sandbox");
        assert_eq!(expand("${env:LC_ALL}", &h).unwrap(), "C.UTF-8");
        assert_eq!(expand("${env:NOPE:-${HOME}/x}", &h).unwrap(), "/home/u/x");
        assert_eq!(expand("cost: $$5", &h).unwrap(), "cost: $5");
        assert_eq!(expand("no vars", &h).unwrap(), "no vars");
    }

    #[test]
    fn unset_and_unknown_variables_are_errors() {
        let h = Host::fake("/work");
        assert!(expand("${env:NOPE}", &h).unwrap_err().contains("${env:NOPE} is not set"));
        assert!(expand("${FOO}", &h).unwrap_err().contains("unknown variable ${FOO}"));
        assert!(expand("${HOME", &h).unwrap_err().contains("unterminated"));
        assert!(expand("$HOME", &h).unwrap_err().contains("$$"));
        let mut no_runtime = h.clone();
        no_runtime.env.retain(|(k, _)| k != "XDG_RUNTIME_DIR");
        assert!(expand("${XDG_RUNTIME_DIR}", &no_runtime).is_err());
        assert_eq!(expand("${XDG_RUNTIME_DIR:-/tmp}", &no_runtime).unwrap(), "/tmp");
        assert_eq!(expand("${RUNTIME}", &no_runtime).unwrap(), "/tmp/sandbox-1000");
    }
}
