//! Tables of the bwrap front end: the usage text and capability names.

/// Every option of bubblewrap 0.11, with a one-line description, as
/// `--help` lists them.
pub const USAGE: [(&str, &str); 67] = [
    ("--help", "Print this help"),
    ("--version", "Print version"),
    ("--args FD", "Parse NUL-separated args from FD"),
    ("--argv0 VALUE", "Set argv[0] of the command to VALUE"),
    ("--level-prefix", "Prefix messages with their syslog level, e.g. <3>"),
    ("--unshare-all", "Unshare every namespace supported by default"),
    ("--share-net", "Keep the network namespace (after --unshare-all)"),
    ("--unshare-user", "Create a new user namespace (implied when not root)"),
    ("--unshare-user-try", "Create a new user namespace if possible"),
    ("--unshare-ipc", "Create a new ipc namespace"),
    ("--unshare-pid", "Create a new pid namespace"),
    ("--unshare-net", "Create a new network namespace"),
    ("--unshare-uts", "Create a new uts namespace"),
    ("--unshare-cgroup", "Create a new cgroup namespace"),
    ("--unshare-cgroup-try", "Create a new cgroup namespace if possible"),
    ("--userns FD", "Use this user namespace (not with --unshare-user)"),
    ("--userns2 FD", "After setup switch to this user namespace"),
    ("--disable-userns", "Forbid further user namespaces inside the sandbox"),
    ("--assert-userns-disabled", "Fail unless further user namespaces are forbidden"),
    ("--pidns FD", "Use this pid namespace (as parent with --unshare-pid)"),
    ("--uid UID", "Custom uid in the sandbox (needs --unshare-user or --userns)"),
    ("--gid GID", "Custom gid in the sandbox (needs --unshare-user or --userns)"),
    ("--hostname NAME", "Custom hostname in the sandbox (needs --unshare-uts)"),
    ("--chdir DIR", "Change directory to DIR"),
    ("--clearenv", "Unset all environment variables"),
    ("--setenv VAR VALUE", "Set an environment variable"),
    ("--unsetenv VAR", "Unset an environment variable"),
    ("--lock-file DEST", "Take a lock on DEST while the sandbox runs"),
    ("--sync-fd FD", "Keep this fd open while the sandbox runs"),
    ("--bind SRC DEST", "Bind mount the host path SRC on DEST"),
    ("--bind-try SRC DEST", "Like --bind, but ignore a missing SRC"),
    ("--dev-bind SRC DEST", "Bind mount SRC on DEST, allowing device access"),
    ("--dev-bind-try SRC DEST", "Like --dev-bind, but ignore a missing SRC"),
    ("--ro-bind SRC DEST", "Bind mount the host path SRC read-only on DEST"),
    ("--ro-bind-try SRC DEST", "Like --ro-bind, but ignore a missing SRC"),
    ("--bind-fd FD DEST", "Bind the open directory or path fd on DEST"),
    ("--ro-bind-fd FD DEST", "Bind the open directory or path fd read-only on DEST"),
    ("--remount-ro DEST", "Remount DEST read-only; not recursive"),
    ("--overlay-src SRC", "Read files from SRC in the following overlay"),
    ("--overlay RWSRC WORKDIR DEST", "Overlay on DEST, writes in RWSRC (WORKDIR on its file system)"),
    ("--tmp-overlay DEST", "Overlay on DEST, writes to an invisible tmpfs"),
    ("--ro-overlay DEST", "Read-only overlay on DEST"),
    ("--exec-label LABEL", "Exec label for the sandbox"),
    ("--file-label LABEL", "File label for temporary sandbox content"),
    ("--proc DEST", "Mount a new procfs on DEST"),
    ("--dev DEST", "Mount a new dev on DEST"),
    ("--tmpfs DEST", "Mount a new tmpfs on DEST"),
    ("--mqueue DEST", "Mount a new mqueue on DEST"),
    ("--dir DEST", "Create a directory at DEST"),
    ("--file FD DEST", "Copy from FD to the new file DEST"),
    ("--bind-data FD DEST", "Copy from FD to a file bind-mounted on DEST"),
    ("--ro-bind-data FD DEST", "Copy from FD to a file bind-mounted read-only on DEST"),
    ("--symlink SRC DEST", "Create a symlink at DEST with target SRC"),
    ("--seccomp FD", "Load and use seccomp rules from FD (not repeatable)"),
    ("--add-seccomp-fd FD", "Load and use seccomp rules from FD (repeatable)"),
    ("--block-fd FD", "Block on FD until some data to read is available"),
    ("--userns-block-fd FD", "Block on FD until the user namespace is ready"),
    ("--info-fd FD", "Write information about the running sandbox to FD"),
    ("--json-status-fd FD", "Write the sandbox's status to FD as JSON lines"),
    ("--new-session", "Create a new terminal session"),
    ("--die-with-parent", "Kill the command with SIGKILL when bwrap's parent dies"),
    ("--as-pid-1", "Do not install a reaper process with pid 1"),
    ("--cap-add CAP", "Add capability CAP (or ALL)"),
    ("--cap-drop CAP", "Drop capability CAP (or ALL)"),
    ("--perms OCTAL", "Permissions of the next --dir, --file, --tmpfs, --bind-data…"),
    ("--size BYTES", "Size of the next --tmpfs"),
    ("--chmod OCTAL PATH", "Change the permissions of PATH (it must exist)"),
];

/// Capability numbers for `--cap-add`/`--cap-drop`, as libcap's
/// `cap_from_name` reads them: `cap_<name>` in any case, or a number below 64.
pub fn capability(name: &str) -> Option<u8> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<u8>().ok().filter(|&n| n < 64);
    }
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("cap_")?;
    caps::all()
        .into_iter()
        .find(|c| c.to_string().eq_ignore_ascii_case(&format!("cap_{rest}")))
        .map(|c| c.index())
}

/// The names of the capabilities set in `mask` that this build knows.
pub fn cap_names(mask: u64) -> Vec<String> {
    let mut known: Vec<caps::Capability> = caps::all().into_iter().collect();
    known.sort_by_key(|c| c.index());
    known.into_iter().filter(|c| mask & (1u64 << c.index()) != 0).map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_follow_libcap() {
        assert_eq!(capability("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(capability("cap_sys_admin"), Some(21));
        assert_eq!(capability("Cap_Sys_Admin"), Some(21));
        assert_eq!(capability("21"), Some(21));
        assert_eq!(capability("63"), Some(63));
        assert_eq!(capability("sys_admin"), None);
        assert_eq!(capability("64"), None);
        assert_eq!(capability(""), None);
        assert_eq!(cap_names(1 << 21 | 1), vec!["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    }

    #[test]
    fn usage_lists_every_option_once() {
        let mut names: Vec<&str> = USAGE.iter().map(|(o, _)| o.split(' ').next().unwrap()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), USAGE.len());
    }
}
