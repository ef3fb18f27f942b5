//! The session bus: who may talk to whom, and the command line of
//! xdg-dbus-proxy (the filtering proxy Flatpak uses) that enforces it.
//!
//! How the proxy works (xdg-dbus-proxy(1)): it listens on a unix socket and,
//! for each client, opens its own connection to the real bus and forwards
//! messages. With `--filter` a client may only talk to the bus itself and to
//! its own unique name; every other name is invisible unless a policy lifts
//! it: SEE (listed, its owner can be asked), TALK (method calls and
//! signals), OWN (RequestName). A name ending in `.*` covers the name and
//! everything beneath it (`org.foo.*` is `org.foo` and `org.foo.bar`, never
//! `org.foobar`). `--call=NAME=RULE` allows only the calls the rule names
//! (`[METHOD][@PATH]`, METHOD `*`, an interface (`.*` allowed) or a method,
//! PATH an object path, `/*` allowed). Replies are let through once per
//! call, nothing else.
//!
//! Readiness and lifetime (`--fd=FD`): the proxy writes one byte on FD once
//! every socket listens, then exits when FD reports an error or hang-up.
//! Given the write end of a pipe whose read end only the monitor holds, the
//! proxy is ready when that byte arrives (never a sleep) and exits when the
//! monitor's read end closes: at the end of the run, and also when the
//! monitor is killed with SIGKILL, since the kernel closes a dead process's
//! descriptors (PR_SET_PDEATHSIG is the second line of defence).

pub use crate::plan::desktop::{BusMode, BusPolicy};

/// Checks a well-known bus name as the policy options take it (a trailing
/// `.*` allowed): two or more dot-separated elements of `[A-Za-z0-9_-]`,
/// none starting with a digit, 255 bytes at most, never a unique `:1.2` name.
pub fn check_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(".*").unwrap_or(name);
    let bad = |why: &str| Err(format!("{name:?} is not a bus name: {why}"));
    if base.starts_with(':') {
        return bad("a unique name (:1.N) cannot be given a policy");
    }
    if base.len() > 255 {
        return bad("longer than 255 bytes");
    }
    let elements: Vec<&str> = base.split('.').collect();
    if elements.len() < 2 {
        return bad("it needs at least two elements, as in org.example");
    }
    for e in elements {
        if e.is_empty() {
            return bad("an empty element");
        }
        if e.as_bytes()[0].is_ascii_digit() {
            return bad("an element starts with a digit");
        }
        if !e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return bad("only letters, digits, _ and - may appear in an element");
        }
    }
    Ok(())
}

/// Checks `NAME=RULE` as `--dbus-call` takes it; RULE is
/// `[METHOD][@PATH]` (xdg-dbus-proxy's syntax).
pub fn check_call(spec: &str) -> Result<(), String> {
    let Some((name, rule)) = spec.split_once('=') else {
        return Err(format!(
            "{spec:?} is not NAME=RULE (for example org.example.App=org.example.App.Open@/org/example/*)"
        ));
    };
    check_name(name)?;
    let (method, path) = match rule.split_once('@') {
        Some((m, p)) => (m, Some(p)),
        None => (rule, None),
    };
    if !method.is_empty() && method != "*" {
        let base = method.strip_suffix(".*").unwrap_or(method);
        let ok = base.split('.').count() >= 2
            && base.split('.').all(|e| {
                !e.is_empty()
                    && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !e.as_bytes()[0].is_ascii_digit()
            });
        if !ok {
            return Err(format!("{spec:?}: {method:?} is neither *, an interface nor a method"));
        }
    }
    if let Some(p) = path {
        let base = p.strip_suffix("/*").unwrap_or(p);
        let ok = base.starts_with('/')
            && (base == "/"
                || base[1..]
                    .split('/')
                    .all(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')));
        if !ok {
            return Err(format!("{spec:?}: {p:?} is not an object path (/org/example, /org/example/*)"));
        }
    }
    Ok(())
}

impl BusPolicy {
    /// Checks every name and rule; the first mistake, in words.
    pub fn check(&self) -> Result<(), String> {
        for n in self.see.iter().chain(&self.talk).chain(&self.own).chain(&self.system_talk) {
            check_name(n)?;
        }
        for c in &self.call {
            check_call(c)?;
        }
        Ok(())
    }

    /// Whether the command gets a session bus at all.
    pub fn session(&self) -> bool {
        self.mode != BusMode::None
    }

    /// Whether the command gets a (filtered) system bus.
    pub fn system(&self) -> bool {
        !self.system_talk.is_empty()
    }
}

/// One bus the proxy serves: where the real bus is and where the proxy
/// listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream<'a> {
    /// The real bus's D-Bus address (`unix:path=/run/user/1000/bus`).
    pub address: &'a str,
    /// The socket the proxy creates.
    pub listen: &'a str,
}

/// xdg-dbus-proxy's arguments: `--fd=FD`, then the session bus with its
/// policy, then the system bus (filtered, talk only) when asked for.
pub fn proxy_args(
    policy: &BusPolicy,
    session: Option<Upstream>,
    system: Option<Upstream>,
    sync_fd: i32,
) -> Vec<String> {
    let mut args = vec![format!("--fd={sync_fd}")];
    if let Some(s) = session {
        args.push(s.address.to_string());
        args.push(s.listen.to_string());
        if policy.mode == BusMode::Filtered {
            args.push("--filter".into());
            let opts = [("see", &policy.see), ("talk", &policy.talk), ("own", &policy.own)];
            for (opt, names) in opts {
                args.extend(names.iter().map(|n| format!("--{opt}={n}")));
            }
            args.extend(policy.call.iter().map(|c| format!("--call={c}")));
        }
    }
    if let Some(s) = system {
        args.push(s.address.to_string());
        args.push(s.listen.to_string());
        args.push("--filter".into());
        args.extend(policy.system_talk.iter().map(|n| format!("--talk={n}")));
    }
    args
}

/// The path in a `unix:path=…` bus address, if it is one (the first of
/// several `;`-separated addresses; `abstract=` and `tmpdir=` have none).
pub fn address_path(address: &str) -> Option<&str> {
    let first = address.split(';').next()?;
    let params = first.strip_prefix("unix:")?;
    params.split(',').find_map(|kv| kv.strip_prefix("path="))
}

/// The session bus's address: `$DBUS_SESSION_BUS_ADDRESS`, else the
/// standard socket `$XDG_RUNTIME_DIR/bus` (as libdbus and GDBus fall back).
pub fn session_address(env_address: Option<&str>, runtime_dir: Option<&str>) -> Option<String> {
    match env_address.filter(|a| !a.is_empty()) {
        Some(a) => Some(a.to_string()),
        None => runtime_dir.map(|r| format!("unix:path={r}/bus")),
    }
}

/// The system bus's address: `$DBUS_SYSTEM_BUS_ADDRESS`, else the standard one.
pub fn system_address(env_address: Option<&str>) -> String {
    env_address
        .filter(|a| !a.is_empty())
        .map_or_else(|| "unix:path=/run/dbus/system_bus_socket".to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_bus_rules() {
        for ok in ["org.example.Allowed", "org.freedesktop.portal.*", "a.b", "org.x-y_z.A1"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("org", "two elements"),
            ("org..x", "empty element"),
            ("org.1x", "starts with a digit"),
            (":1.42", "unique name"),
            ("org.ex/ample", "only letters"),
            ("org.*", "two elements"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_name(&format!("a.{}", "b".repeat(300))).unwrap_err().contains("255"));
    }

    #[test]
    fn call_rules_follow_xdg_dbus_proxy() {
        for ok in [
            "org.example.App=*",
            "org.example.App=org.example.App.Open",
            "org.example.App=org.example.*@/org/example/*",
            "org.example.App=@/",
            "org.freedesktop.portal.*=*",
        ] {
            assert_eq!(check_call(ok), Ok(()), "{ok}");
        }
        assert!(check_call("org.example.App").unwrap_err().contains("NAME=RULE"));
        assert!(check_call("org.example.App=bad").unwrap_err().contains("neither"));
        assert!(check_call("org.example.App=*@org/x").unwrap_err().contains("object path"));
        assert!(check_call("org.example.App=*@/a//b").unwrap_err().contains("object path"));
        assert!(check_call("x=*").unwrap_err().contains("not a bus name"));
    }

    #[test]
    fn the_proxy_command_line_carries_the_policy() {
        let policy = BusPolicy {
            mode: BusMode::Filtered,
            see: vec!["org.example.Seen".into()],
            talk: vec!["org.example.Allowed".into(), "org.freedesktop.portal.*".into()],
            own: vec!["org.example.Mine".into()],
            call: vec!["org.example.C=org.example.C.Get@/c".into()],
            system_talk: vec!["org.freedesktop.NetworkManager".into()],
        };
        let session = Upstream { address: "unix:path=/run/user/1000/bus", listen: "/x/bus" };
        let system = Upstream { address: "unix:path=/run/dbus/system_bus_socket", listen: "/x/system" };
        assert_eq!(
            proxy_args(&policy, Some(session.clone()), Some(system), 5),
            [
                "--fd=5",
                "unix:path=/run/user/1000/bus",
                "/x/bus",
                "--filter",
                "--see=org.example.Seen",
                "--talk=org.example.Allowed",
                "--talk=org.freedesktop.portal.*",
                "--own=org.example.Mine",
                "--call=org.example.C=org.example.C.Get@/c",
                "unix:path=/run/dbus/system_bus_socket",
                "/x/system",
                "--filter",
                "--talk=org.freedesktop.NetworkManager",
            ]
        );
        let open = BusPolicy { mode: BusMode::Open, ..BusPolicy::default() };
        assert_eq!(
            proxy_args(&open, Some(session), None, 3),
            ["--fd=3", "unix:path=/run/user/1000/bus", "/x/bus"]
        );
        assert_eq!(policy.check(), Ok(()));
        assert!(policy.session() && policy.system());
        assert!(!BusPolicy::default().session());
    }

    #[test]
    fn addresses() {
        assert_eq!(address_path("unix:path=/run/user/1000/bus"), Some("/run/user/1000/bus"));
        assert_eq!(address_path("unix:path=/tmp/b,guid=123;tcp:host=x"), Some("/tmp/b"));
        assert_eq!(address_path("unix:abstract=/tmp/dbus-x,guid=1"), None);
        assert_eq!(session_address(None, Some("/run/user/5")).as_deref(), Some("unix:path=/run/user/5/bus"));
        assert_eq!(session_address(Some(""), None), None);
        assert_eq!(session_address(Some("unix:abstract=x"), Some("/r")).as_deref(), Some("unix:abstract=x"));
        assert_eq!(system_address(None), "unix:path=/run/dbus/system_bus_socket");
        assert_eq!(BusMode::parse("filtered"), Ok(BusMode::Filtered));
        assert!(BusMode::parse("all").unwrap_err().contains("none, filtered, open"));
    }
}
