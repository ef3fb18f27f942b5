//! Which command line a run speaks: the native one, or bubblewrap's.
//!
//! Installed as `bwrap`, sandbox is called with bubblewrap's arguments, and
//! argv[0] says so. But a program that re-executes itself through
//! `/proc/self/exe` (bubblewrap's own test suite runs `bwrap … --
//! /proc/self/exe --unshare-all --bind / / …`) passes `/proc/self/exe` as
//! argv[0]. Then the real name of the binary decides when it is `bwrap` (a
//! copy or hard link), and otherwise the shape of the arguments: the first
//! option only one of the two command lines has, or bubblewrap's two-word
//! form of an option both have (`--dev-bind / /`). An environment marker
//! would not do: bubblewrap's `--clearenv` and `env -i` remove it, and a
//! native sandbox would pass it on.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Whether argv (with argv[0]) is bubblewrap's command line; `exe` reads
/// what `/proc/self/exe` links to, asked only when argv[0] is such a path.
pub fn bwrap_mode(argv: &[OsString], exe: impl FnOnce() -> Option<PathBuf>) -> bool {
    let Some(argv0) = argv.first().map(Path::new) else { return false };
    if argv0.file_name().is_some_and(|n| n == "bwrap") {
        return true;
    }
    if !is_proc_exe(argv0) {
        return false;
    }
    exe().is_some_and(|e| e.file_name().is_some_and(|n| n == "bwrap")) || bwrap_shape(&argv[1..])
}

/// `/proc/self/exe`, `/proc/thread-self/exe` or `/proc/PID/exe`.
fn is_proc_exe(p: &Path) -> bool {
    let parts: Vec<&OsStr> = p.iter().collect();
    match parts.as_slice() {
        [root, proc, who, exe] => {
            let who = who.to_string_lossy();
            *root == "/"
                && *proc == "proc"
                && *exe == "exe"
                && (who == "self"
                    || who == "thread-self"
                    || (!who.is_empty() && who.bytes().all(|b| b.is_ascii_digit())))
        }
        _ => false,
    }
}

/// Options both command lines have with one value each.
const SHARED_ONE: [&str; 9] = [
    "--tmpfs",
    "--proc",
    "--dev",
    "--hostname",
    "--uid",
    "--gid",
    "--cap-add",
    "--add-seccomp-fd",
    "--json-status-fd",
];

/// Whether the arguments are shaped like bubblewrap's.
fn bwrap_shape(args: &[OsString]) -> bool {
    let native = native_options();
    let bwrap = crate::compat::bwrap_options();
    let word = |k: usize| args.get(k).is_some_and(|w| !w.is_empty() && !w.to_string_lossy().starts_with('-'));
    let mut i = 0;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if arg == "--" || !arg.starts_with("--") {
            return false;
        }
        let name = arg.split('=').next().unwrap_or(arg);
        match (bwrap.contains(&name), native.iter().any(|n| n == name)) {
            (true, false) => return true,
            (false, _) => return false,
            (true, true) if ["--dev-bind", "--symlink"].contains(&name) => return word(i + 1) && word(i + 2),
            (true, true) if SHARED_ONE.contains(&name) && !arg.contains('=') => i += 2,
            (true, true) => i += 1,
        }
    }
    false
}

/// The native command line's long options.
fn native_options() -> Vec<String> {
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            out.push(format!("--{l}"));
        }
        for alias in a.get_all_aliases().into_iter().flatten() {
            out.push(format!("--{alias}"));
        }
    }
    out.extend(["--help".to_string(), "--version".to_string()]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(a: &[&str]) -> bool {
        let argv: Vec<OsString> = a.iter().map(OsString::from).collect();
        bwrap_mode(&argv, || Some("/usr/local/bin/sandbox".into()))
    }

    #[test]
    fn the_name_bwrap_means_bubblewraps_command_line() {
        assert!(mode(&["bwrap", "--ro", "/usr"]));
        assert!(mode(&["/usr/local/bin/bwrap", "--help"]));
        assert!(!mode(&["sandbox", "--unshare-all"]), "the native parser words that mistake");
        assert!(!mode(&["/usr/bin/sandbox", "--", "true"]));
    }

    #[test]
    fn a_reexecution_through_proc_self_exe_keeps_the_shape_it_was_given() {
        // bubblewrap's test suite.
        assert!(mode(&[
            "/proc/self/exe",
            "--unshare-all",
            "--bind",
            "/",
            "/",
            "--bind",
            "/proc",
            "/proc",
            "echo"
        ]));
        assert!(mode(&["/proc/self/exe", "--dev-bind", "/", "/", "--", "true"]));
        assert!(mode(&["/proc/thread-self/exe", "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr", "true"]));
        assert!(mode(&["/proc/4242/exe", "--setenv", "A", "B", "true"]));
        // A native sandbox re-executing itself.
        assert!(!mode(&["/proc/self/exe", "--ro", "/data", "--", "true"]));
        assert!(!mode(&["/proc/self/exe", "--tmpfs", "/tmp", "--net", "host", "--", "true"]));
        assert!(!mode(&["/proc/self/exe", "--dev-bind", "/dev/kvm", "--", "qemu"]));
        assert!(!mode(&["/proc/self/exe", "explain", "--", "true"]));
        assert!(!mode(&["/proc/self/exe"]));
        assert!(!mode(&["/proc/x/exe", "--unshare-all"]), "not a pid");
    }

    #[test]
    fn a_binary_whose_real_name_is_bwrap_stays_bwrap() {
        let argv: Vec<OsString> = ["/proc/self/exe", "--ro", "/x"].iter().map(OsString::from).collect();
        assert!(bwrap_mode(&argv, || Some("/usr/bin/bwrap".into())));
    }

    #[test]
    fn the_real_name_is_read_only_for_a_reexecution() {
        for a in [&["sandbox", "--", "true"][..], &["/usr/bin/bwrap", "--ro-bind", "/", "/"], &[]] {
            let argv: Vec<OsString> = a.iter().map(OsString::from).collect();
            bwrap_mode(&argv, || panic!("{a:?}: /proc/self/exe read"));
        }
    }
}
