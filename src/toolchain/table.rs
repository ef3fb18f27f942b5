//! The toolchain table (`profiles/toolchains.toml`): data, not code per tool.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::hostfs::HostFs;

/// The table built into the binary.
pub const BUILTIN: &str = include_str!("../../profiles/toolchains.toml");

mod schema;

pub use schema::{CacheEntry, Secrets, Table, Toolchain};

/// The built-in table as build.rs wrote it from `profiles/toolchains.toml`:
/// every run needs the table, and parsing its TOML was a large part of the
/// monitor's start-up (a unit test requires it to equal what
/// [`Table::parse`] makes of the file).
mod generated {
    use super::{CacheEntry, Secrets, Table, Toolchain};
    include!(concat!(env!("OUT_DIR"), "/builtin_table.rs"));
}

impl Table {
    /// Parses a table; errors name the line.
    pub fn parse(text: &str) -> Result<Table, String> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            format!("toolchain table, line {}: {}", line.unwrap_or(0), e.message().trim())
        })
    }

    /// The built-in table, compiled in rather than parsed.
    pub fn builtin() -> Table {
        generated::table()
    }
}

/// The existing paths a pattern names: `${…}` expanded by `expand`, then
/// each `*` matched against one directory level. An expansion error (a
/// variable that is not set and has no default) names nothing.
pub fn paths(
    pattern: &str,
    expand: &dyn Fn(&str) -> Result<String, String>,
    fs: &dyn HostFs,
) -> Vec<PathBuf> {
    let Ok(text) = expand(pattern) else { return Vec::new() };
    let p = Path::new(&text);
    if !p.is_absolute() {
        return Vec::new();
    }
    let mut found = vec![PathBuf::from("/")];
    for c in p.components() {
        let Component::Normal(name) = c else { continue };
        if !name.as_bytes().contains(&b'*') {
            found.iter_mut().for_each(|dir| dir.push(name));
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            for entry in fs.list(dir) {
                if !entry.as_bytes().starts_with(b".") && wildcard(name.as_bytes(), entry.as_bytes()) {
                    next.push(dir.join(entry));
                }
            }
        }
        found = next;
    }
    found.retain(|f| fs.stat(f).is_some());
    found
}

/// `*` matches any run of bytes (within one component).
fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    match pat.iter().position(|&b| b == b'*') {
        None => pat == s,
        Some(i) => {
            let (head, tail) = (&pat[..i], &pat[i + 1..]);
            if !s.starts_with(head) {
                return false;
            }
            let s = &s[head.len()..];
            (0..=s.len()).any(|k| wildcard(tail, &s[k..]))
        }
    }
}

/// Whether `name` looks like it carries a credential, whatever a table says.
pub fn is_token_name(name: &OsStr) -> bool {
    let upper = name.to_string_lossy().to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY"]
        .iter()
        .any(|w| upper.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostfs::fake::FakeFs;

    #[test]
    fn the_builtin_table_parses_and_names_no_token_variable() {
        let t = Table::parse(BUILTIN).unwrap();
        assert!(t.toolchains.len() >= 15, "{}", t.toolchains.len());
        for name in [
            "rustup",
            "pyenv",
            "pip --user",
            "nvm",
            "volta",
            "fnm",
            "go",
            "bun",
            "deno",
            "mise",
            "asdf",
            "/opt",
        ] {
            assert!(t.toolchains.iter().any(|tc| tc.name == name), "{name}");
        }
        for tc in &t.toolchains {
            for v in &tc.env {
                assert!(!is_token_name(OsStr::new(v)), "{} passes {v}", tc.name);
            }
        }
        assert!(t.secrets.paths.iter().any(|s| s.ends_with("/credentials.toml")));
    }

    /// build.rs's table is what the parser makes of the file.
    #[test]
    fn the_generated_builtin_table_is_the_file() {
        assert_eq!(Table::builtin(), Table::parse(BUILTIN).unwrap());
    }

    #[test]
    fn a_mistake_in_a_table_names_its_line() {
        let e = Table::parse("[[toolchain]]\nname = \"x\"\nbin = []\nbins = []\n").unwrap_err();
        assert!(e.starts_with("toolchain table, line 4: unknown field `bins`"), "{e}");
    }

    #[test]
    fn patterns_expand_variables_and_match_one_level_per_star() {
        let mut fs = FakeFs::new();
        fs.dir("/home/u/.local/lib/python3.11")
            .dir("/home/u/.local/lib/python3.12")
            .dir("/home/u/.local/lib/perl5");
        fs.dir("/home/u/.local/lib/.python-hidden").dir("/opt/a").dir("/opt/b");
        let expand = |s: &str| Ok(s.replace("${HOME}", "/home/u"));
        let got = paths("${HOME}/.local/lib/python*", &expand, &fs);
        assert_eq!(
            got,
            vec![PathBuf::from("/home/u/.local/lib/python3.11"), "/home/u/.local/lib/python3.12".into()]
        );
        assert_eq!(paths("/opt/*", &expand, &fs), vec![PathBuf::from("/opt/a"), "/opt/b".into()]);
        assert!(paths("/opt/none", &expand, &fs).is_empty(), "only what exists");
        let failing = |_: &str| Err("unset".to_string());
        assert!(paths("${NOPE}/x", &failing, &fs).is_empty());
        assert!(paths("relative/*", &expand, &fs).is_empty());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"python*", b"python3.11"));
        assert!(wildcard(b"*", b"anything"));
        assert!(wildcard(b"a*c*e", b"abcde"));
        assert!(!wildcard(b"python*", b"perl5"));
        assert!(!wildcard(b"a*c", b"abcd"));
    }

    #[test]
    fn token_names() {
        for t in [
            "GITHUB_TOKEN",
            "CARGO_REGISTRY_TOKEN",
            "NPM_TOKEN",
            "TWINE_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "OPENAI_API_KEY",
        ] {
            assert!(is_token_name(OsStr::new(t)), "{t}");
        }
        for ok in ["CARGO_HOME", "PYENV_ROOT", "GOPATH", "NVM_DIR", "GIT_AUTHOR_NAME"] {
            assert!(!is_token_name(OsStr::new(ok)), "{ok}");
        }
    }
}
