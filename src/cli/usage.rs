//! Usage mistakes that deserve more than "unknown option": bubblewrap's
//! spellings on the native command line, and values of a fixed set.
//!
//! People who know bwrap type `--ro-bind /usr /usr`; clap alone would
//! suggest `--allow-bind`. [`bwrap_spelling`] recognises bubblewrap's
//! options and says the native form with the user's own values
//! (`--ro /usr`), or that `sandbox bwrap` takes bubblewrap's command line
//! as it is.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::values::spell;

/// How a bubblewrap option is said natively.
#[derive(Debug, Clone, Copy)]
enum Native {
    /// `--X SRC DEST` is `--Y SRC:DEST` (or `--Y SRC` when they are equal).
    Bind(&'static str),
    /// `--X VALUE` is `--Y VALUE`.
    Renamed(&'static str),
    /// `--X` is `--Y` (no value).
    Flag(&'static str),
    /// `--setenv VAR VALUE` is `--env VAR=VALUE`.
    Env,
    /// Not needed: the native default already does it.
    Default(&'static str),
    /// No native form.
    BwrapOnly,
}

const UNSHARE: Native =
    Native::Default("every namespace is the sandbox's own by default (--share NS keeps one of the host's)");

/// bubblewrap's options that the native command line spells otherwise, or
/// not at all (those with the same name and meaning are left out).
const BWRAP: &[(&str, Native)] = &[
    ("--bind", Native::Bind("--rw")),
    ("--bind-try", Native::Bind("--rw-try")),
    ("--ro-bind", Native::Bind("--ro")),
    ("--ro-bind-try", Native::Bind("--ro-try")),
    ("--dev-bind", Native::Bind("--dev-bind")),
    ("--dev-bind-try", Native::BwrapOnly),
    ("--symlink", Native::Bind("--symlink")),
    ("--chdir", Native::Renamed("--cwd")),
    ("--dir", Native::Renamed("--mkdir")),
    ("--setenv", Native::Env),
    (
        "--unsetenv",
        Native::Default("the environment is an allowlist: a variable not passed with --keep-env is unset"),
    ),
    ("--clearenv", Native::Flag("--clear-env")),
    ("--unshare-all", UNSHARE),
    ("--unshare-user", UNSHARE),
    ("--unshare-user-try", UNSHARE),
    ("--unshare-ipc", UNSHARE),
    ("--unshare-pid", UNSHARE),
    (
        "--unshare-net",
        Native::Default("the sandbox has a network namespace of its own by default (--net none)"),
    ),
    ("--unshare-uts", UNSHARE),
    ("--unshare-cgroup", UNSHARE),
    ("--unshare-cgroup-try", UNSHARE),
    ("--share-net", Native::Flag("--net host")),
    (
        "--die-with-parent",
        Native::Default("the sandbox dies with its parent by default (--no-die-with-parent)"),
    ),
    ("--new-session", Native::Default("the command gets a new session by default (--no-new-session)")),
    ("--as-pid-1", Native::BwrapOnly),
    ("--file", Native::BwrapOnly),
    ("--bind-data", Native::BwrapOnly),
    ("--ro-bind-data", Native::BwrapOnly),
    ("--remount-ro", Native::BwrapOnly),
    ("--mqueue", Native::BwrapOnly),
    ("--perms", Native::BwrapOnly),
    ("--size", Native::BwrapOnly),
    ("--chmod", Native::BwrapOnly),
    ("--exec-label", Native::BwrapOnly),
    ("--file-label", Native::BwrapOnly),
    ("--lock-file", Native::BwrapOnly),
    ("--sync-fd", Native::BwrapOnly),
    ("--block-fd", Native::BwrapOnly),
    ("--userns-block-fd", Native::BwrapOnly),
    ("--info-fd", Native::BwrapOnly),
    ("--userns", Native::BwrapOnly),
    ("--userns2", Native::BwrapOnly),
    ("--pidns", Native::BwrapOnly),
    ("--disable-userns", Native::BwrapOnly),
    ("--assert-userns-disabled", Native::BwrapOnly),
    ("--argv0", Native::BwrapOnly),
    ("--level-prefix", Native::BwrapOnly),
    ("--cap-drop", Native::BwrapOnly),
    ("--overlay-src", Native::BwrapOnly),
    ("--tmp-overlay", Native::BwrapOnly),
    ("--args", Native::BwrapOnly),
];

/// Options whose name is the same natively but whose bubblewrap form
/// takes two words (`--dev-bind SRC DEST`, `--symlink TARGET PATH`).
const TWO_WORDS: [&str; 2] = ["--dev-bind", "--symlink"];

/// The bubblewrap option of a failed native command line, as one line:
/// what it is here. `unknown` is the option clap did not know (`--x` or
/// `--x=v`); `args` the arguments after the program name.
pub fn bwrap_spelling(unknown: &str, args: &[OsString]) -> Option<String> {
    let name = unknown.split('=').next().unwrap_or(unknown);
    let native = BWRAP.iter().find(|(n, _)| *n == name).map(|(_, how)| *how)?;
    let at = args.iter().position(|a| a.to_str().is_some_and(|a| a == unknown));
    let word = |k: usize| at.and_then(|i| args.get(i + k)).map(OsString::as_os_str);
    Some(describe(name, native, word(1), word(2)))
}

/// A native command line that parsed, but with bubblewrap's two-word form
/// of an option both share (`--dev-bind /dev /dev -- cmd`: the second word
/// would be the command, and `--` its first argument).
pub fn bwrap_two_words(args: &[OsString]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            return None;
        }
        let Some(name) = a.to_str().filter(|a| TWO_WORDS.contains(a)) else { continue };
        let (Some(src), Some(dest), Some(sep)) = (args.get(i + 1), args.get(i + 2), args.get(i + 3)) else {
            return None;
        };
        let word = |w: &OsString| !w.is_empty() && !w.to_string_lossy().starts_with('-');
        if word(src) && word(dest) && sep == "--" {
            let native = BWRAP.iter().find(|(n, _)| n == &name).map(|(_, how)| *how)?;
            return Some(describe(name, native, Some(src), Some(dest)));
        }
    }
    None
}

fn describe(name: &str, native: Native, a: Option<&OsStr>, b: Option<&OsStr>) -> String {
    let bwrap = "; `sandbox bwrap ARGS` takes bubblewrap's command line as it is";
    let value =
        |v: Option<&OsStr>, ph: &str| v.map(|v| spell(Path::new(v))).unwrap_or_else(|| ph.to_string());
    match native {
        Native::Bind(to) => {
            let (ph_a, ph_b) = if to == "--symlink" { ("TARGET", "PATH") } else { ("SRC", "DEST") };
            let (src, dest) = (value(a, ph_a), value(b, ph_b));
            let both = if src == dest && to != "--symlink" { src } else { format!("{src}:{dest}") };
            format!("{name} is bubblewrap's spelling: write {to} {both}{bwrap}")
        }
        Native::Renamed(to) => {
            format!("{name} is bubblewrap's spelling: write {to} {}{bwrap}", value(a, "VALUE"))
        }
        Native::Flag(to) => format!("{name} is bubblewrap's spelling: write {to}{bwrap}"),
        Native::Env => {
            let (var, val) = (value(a, "VAR"), value(b, "VALUE"));
            format!("{name} is bubblewrap's spelling: write --env {var}={val}{bwrap}")
        }
        Native::Default(why) => format!("{name} is bubblewrap's and not needed here: {why}"),
        Native::BwrapOnly => format!("{name} is bubblewrap's, with no native form{bwrap}"),
    }
}

/// The valid values of an option of a fixed set, for an error line
/// (`expected one of none, host, user`), from clap's error context.
pub fn valid_values(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::Strings(values)) = e.get(ContextKind::ValidValue) else { return None };
    let mut line = format!("expected one of {}", values.join(", "));
    let suggested = match e.get(ContextKind::SuggestedValue) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        Some(ContextValue::Strings(s)) => s.first().map(String::as_str),
        _ => None,
    };
    if let Some(s) = suggested {
        line.push_str(&format!("; did you mean '{s}'?"));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn spelling(a: &[&str]) -> String {
        let args = args(a);
        let unknown = a.iter().find(|w| BWRAP.iter().any(|(n, _)| w.split('=').next() == Some(n))).unwrap();
        bwrap_spelling(unknown, &args).unwrap()
    }

    #[test]
    fn bubblewrap_options_say_their_native_form_with_the_users_values() {
        assert_eq!(
            spelling(&["--ro-bind", "/usr", "/usr", "--", "ls"]),
            "--ro-bind is bubblewrap's spelling: write --ro /usr; `sandbox bwrap ARGS` takes bubblewrap's command line as it is"
        );
        assert!(spelling(&["--bind", "/a:b", "/c"]).contains("write --rw /a\\:b:/c;"));
        assert!(spelling(&["--ro-bind-try", "/x", "/y"]).contains("write --ro-try /x:/y;"));
        assert!(spelling(&["--setenv", "A", "1"]).contains("write --env A=1;"));
        assert!(spelling(&["--chdir", "/w"]).contains("write --cwd /w;"));
        assert!(spelling(&["--share-net"]).contains("write --net host;"));
        assert!(spelling(&["--ro-bind"]).contains("write --ro SRC:DEST;"), "without values");
        assert_eq!(
            spelling(&["--unshare-all"]),
            "--unshare-all is bubblewrap's and not needed here: every namespace is the sandbox's own by default \
             (--share NS keeps one of the host's)"
        );
        assert!(spelling(&["--remount-ro", "/x"])
            .starts_with("--remount-ro is bubblewrap's, with no native form;"));
        assert_eq!(bwrap_spelling("--frobnicate", &args(&["--frobnicate"])), None);
    }

    #[test]
    fn the_two_word_form_of_a_shared_option_is_caught() {
        let got = bwrap_two_words(&args(&["--dev-bind", "/dev", "/dev", "--", "true"])).unwrap();
        assert!(got.starts_with("--dev-bind is bubblewrap's spelling: write --dev-bind /dev;"), "{got}");
        let got = bwrap_two_words(&args(&["--symlink", "usr/bin", "/bin", "--", "sh"])).unwrap();
        assert!(got.contains("write --symlink usr/bin:/bin;"), "{got}");
        // The native forms, and a command that merely follows one.
        assert_eq!(bwrap_two_words(&args(&["--dev-bind", "/dev/kvm", "--", "qemu", "-x", "--"])), None);
        assert_eq!(bwrap_two_words(&args(&["--dev-bind", "/dev/kvm", "qemu", "disk.img"])), None);
        assert_eq!(bwrap_two_words(&args(&["--", "--dev-bind", "a", "b", "--"])), None);
    }

    #[test]
    fn fixed_sets_list_their_values() {
        use clap::{Parser, ValueEnum};
        #[derive(Clone, Copy, Debug, ValueEnum)]
        enum Mode {
            None,
            Host,
            User,
        }
        #[derive(Parser, Debug)]
        struct T {
            #[arg(long, value_enum)]
            net: Mode,
        }
        let e = T::try_parse_from(["t", "--net", "hots"]).unwrap_err();
        assert_eq!(valid_values(&e).unwrap(), "expected one of none, host, user; did you mean 'host'?");
        let e = T::try_parse_from(["t", "--net", "zzz"]).unwrap_err();
        assert_eq!(valid_values(&e).unwrap(), "expected one of none, host, user");
    }
}
