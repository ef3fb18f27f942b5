//! Parsers for option and profile values, shared by both front ends so a
//! value means the same thing wherever it is written.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use crate::escape;
use crate::plan::{Access, FsOp, Upper};

/// Splits on `:` not preceded by a backslash; `\:` is a literal colon and
/// `\\` a literal backslash.
pub fn split_colon(v: &OsStr) -> Vec<OsString> {
    let mut parts = vec![Vec::new()];
    let mut bytes = v.as_bytes().iter();
    while let Some(&b) = bytes.next() {
        let cur = parts.last_mut().expect("never empty");
        match b {
            b'\\' => match bytes.next() {
                Some(&n @ (b':' | b'\\')) => cur.push(n),
                Some(&n) => cur.extend([b'\\', n]),
                None => cur.push(b'\\'),
            },
            b':' => parts.push(Vec::new()),
            b => cur.push(b),
        }
    }
    parts.into_iter().map(OsString::from_vec).collect()
}

/// Lexical normalisation: drops `.` and empty components, resolves `..`
/// against the path itself (never past `/`).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A destination inside the sandbox: absolute, no `..`.
pub fn dest_path(v: &OsStr) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("the path is empty".into());
    }
    let p = PathBuf::from(v);
    crate::plan::check_dest(&p)?;
    Ok(normalize(&p))
}

/// A destination error of a value split at a `:`: the `:` may have been
/// meant as part of a path.
fn colon_hint(e: String) -> String {
    format!("{e} (the value was split at ':'; a literal ':' in a path is written '\\:')")
}

/// `SRC[:DEST]`: a relative SRC is taken from `base`; DEST defaults to SRC.
pub fn src_dest(v: &OsStr, base: &Path) -> Result<(PathBuf, PathBuf), String> {
    if v.as_bytes().contains(&0) {
        return Err(format!("{}: contains a NUL byte", escape::os(v)));
    }
    let parts = split_colon(v);
    let (src, dest) = match parts.as_slice() {
        [src] => (src.clone(), None),
        [src, dest] => (src.clone(), Some(dest.clone())),
        _ => {
            return Err(format!("{}: expected SRC or SRC:DEST (write a literal ':' as '\\:')", escape::os(v)))
        }
    };
    if src.is_empty() {
        return Err(format!("'{}': the source path is empty", escape::os(v)));
    }
    let src = normalize(&base.join(PathBuf::from(src)));
    let dest = match dest {
        Some(d) => dest_path(&d).map_err(colon_hint)?,
        None => src.clone(),
    };
    Ok((src, dest))
}

/// A bind operation from `SRC[:DEST]`. A writable bind under /proc or
/// /sys is refused: it could only be meant to reach the kernel's
/// interfaces, which the sandbox keeps read-only.
pub fn bind(v: &OsStr, base: &Path, access: Access, optional: bool) -> Result<FsOp, String> {
    let (src, dest) = src_dest(v, base)?;
    let kernel = dest.starts_with("/proc") || dest.starts_with("/sys");
    if kernel && access != Access::ReadOnly {
        return Err(format!(
            "{}: a writable mount under /proc or /sys is refused (use --ro to cover a file there)",
            escape::path(&dest)
        ));
    }
    Ok(FsOp::Bind { src, dest, access, optional })
}

/// A host path: a relative one is taken from `base`.
pub fn host_path(v: &OsStr, base: &Path) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("a path is empty".into());
    }
    Ok(normalize(&base.join(PathBuf::from(v))))
}

/// `--overlay PATH[:DEST]`: writes go to a tmpfs and vanish at exit.
pub fn overlay(v: &OsStr, base: &Path) -> Result<FsOp, String> {
    let (src, dest) = src_dest(v, base)?;
    Ok(FsOp::Overlay { lowers: vec![src], dest, upper: Upper::Tmpfs })
}

/// `--persist PATH:STATEDIR[:DEST]`: writes persist in STATEDIR.
pub fn persist(v: &OsStr, base: &Path) -> Result<FsOp, String> {
    let parts = split_colon(v);
    let (src, state, dest) = match parts.as_slice() {
        [src, state] => (src, state, None),
        [src, state, dest] => (src, state, Some(dest)),
        _ => return Err(format!("{}: expected PATH:STATEDIR or PATH:STATEDIR:DEST", escape::os(v))),
    };
    let src = host_path(src, base)?;
    let dir = host_path(state, base)?;
    let dest = match dest {
        Some(d) => dest_path(d).map_err(colon_hint)?,
        None => src.clone(),
    };
    // `/:STATEDIR` alone is the root itself, which --rootfs makes a
    // directory of its own (the fold checks that one).
    let root = src == Path::new("/") && dest == Path::new("/");
    if !root && (dir.starts_with(&src) || src.starts_with(&dir)) {
        return Err(format!("{}: the state directory and PATH may not contain each other", escape::os(v)));
    }
    Ok(FsOp::Overlay { lowers: vec![src], dest, upper: Upper::State { dir } })
}

/// `--ro-overlay TOP:…:BOTTOM:DEST`: several lowers stacked, read-only.
pub fn ro_overlay(v: &OsStr, base: &Path) -> Result<FsOp, String> {
    let parts = split_colon(v);
    if parts.len() < 3 {
        return Err(format!(
            "{}: expected at least two layers and DEST (for one layer, use --ro)",
            escape::os(v)
        ));
    }
    let (dest, lowers) = parts.split_last().expect("at least three parts");
    let lowers = lowers.iter().map(|l| host_path(l, base)).collect::<Result<Vec<_>, _>>()?;
    Ok(FsOp::Overlay { lowers, dest: dest_path(dest).map_err(colon_hint)?, upper: Upper::ReadOnly })
}

/// A symlink operation from `TARGET:PATH`.
pub fn symlink(v: &OsStr) -> Result<FsOp, String> {
    match split_colon(v).as_slice() {
        [target, dest] if !target.is_empty() => {
            Ok(FsOp::Symlink { target: PathBuf::from(target), dest: dest_path(dest).map_err(colon_hint)? })
        }
        _ => Err(format!("{}: expected TARGET:PATH", escape::os(v))),
    }
}

/// `NAME=VALUE` of `--env`.
pub fn env_pair(kv: &OsStr) -> Result<(OsString, OsString), String> {
    let b = kv.as_bytes();
    let Some(eq) = b.iter().position(|&c| c == b'=') else {
        return Err(format!("{}: expected NAME=VALUE", escape::os(kv)));
    };
    env_name(OsStr::from_bytes(&b[..eq]))?;
    Ok((OsStr::from_bytes(&b[..eq]).to_owned(), OsStr::from_bytes(&b[eq + 1..]).to_owned()))
}

pub fn env_name(name: &OsStr) -> Result<(), String> {
    let b = name.as_bytes();
    if b.is_empty() || b.contains(&b'=') || b.contains(&0) {
        return Err(format!("'{}': invalid variable name", escape::os(name)));
    }
    Ok(())
}

pub fn id(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n != u32::MAX => Ok(n),
        _ => Err(format!("`{}` is not an id from 0 to 4294967294", escape::str(s))),
    }
}

pub fn hostname(h: &str) -> Result<String, String> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(h.to_string())
    } else {
        Err(format!("{}: expected 1 to 64 letters, digits, '-' or '.'", escape::str(h)))
    }
}

pub fn capability(name: &str) -> Result<String, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    match full.parse::<caps::Capability>() {
        Ok(c) => Ok(c.to_string()),
        Err(_) => Err(format!("{}: unknown capability", escape::str(name))),
    }
}

pub fn cwd(v: &OsStr) -> Result<PathBuf, String> {
    let p = PathBuf::from(v);
    if !p.is_absolute() {
        return Err(format!("{}: must be an absolute path inside the sandbox", escape::path(&p)));
    }
    Ok(normalize(&p))
}

/// A path written as an option value: escaped for the terminal, with `:`
/// written `\:` (and `\` as `\\`) so that `SRC[:DEST]` reads it back.
pub fn spell(p: &Path) -> String {
    escape::path(p).replace(':', "\\:")
}

/// `~` and `~/…` at the start of `v` become `home` and `home/…`, as a shell
/// does at the start of a word (where it cannot: after `=` or `:`, in a
/// profile, in quotes). `~name` is an error: only the caller's own home is
/// known without reading the password database.
pub fn tilde(v: &OsStr, home: &Path) -> Result<OsString, String> {
    let b = v.as_bytes();
    match b {
        [b'~'] => Ok(home.as_os_str().to_owned()),
        [b'~', b'/', rest @ ..] => {
            let mut out = home.as_os_str().as_bytes().to_vec();
            if !out.ends_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(rest);
            Ok(OsString::from_vec(out))
        }
        [b'~', ..] => Err(format!(
            "{}: only `~` and `~/…` are expanded (to your $HOME); write the path in full, or ${{HOME}}/… in a profile",
            escape::os(v)
        )),
        _ => Ok(v.to_owned()),
    }
}

/// [`tilde`] on each `:`-separated part of `SRC:DEST`-like values, keeping
/// `\:` escapes as they are.
pub fn tilde_parts(v: &OsStr, home: &Path) -> Result<OsString, String> {
    let b = v.as_bytes();
    if !b.contains(&b'~') {
        return Ok(v.to_owned());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut start = 0;
    let mut i = 0;
    while i <= b.len() {
        let end = i == b.len();
        if end || b[i] == b':' {
            out.extend_from_slice(tilde(OsStr::from_bytes(&b[start..i]), home)?.as_bytes());
            if !end {
                out.push(b':');
            }
            start = i + 1;
        } else if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    Ok(OsString::from_vec(out))
}

#[cfg(test)]
mod tilde_tests {
    use super::*;

    fn t(v: &str) -> Result<String, String> {
        tilde_parts(OsStr::new(v), Path::new("/home/u")).map(|o| o.to_string_lossy().into_owned())
    }

    #[test]
    fn a_leading_tilde_is_home_in_every_part() {
        assert_eq!(t("~").unwrap(), "/home/u");
        assert_eq!(t("~/data").unwrap(), "/home/u/data");
        assert_eq!(t("~/data:/data").unwrap(), "/home/u/data:/data");
        assert_eq!(t("/src:~/dst").unwrap(), "/src:/home/u/dst");
        assert_eq!(t("~/a:~/state:~/b").unwrap(), "/home/u/a:/home/u/state:/home/u/b");
        assert_eq!(t("/a/~b").unwrap(), "/a/~b", "only at the start of a part");
        assert_eq!(t("/a\\:~/b").unwrap(), "/a\\:~/b", "an escaped colon starts no part");
        assert_eq!(t("./~").unwrap(), "./~");
        let e = t("~root/x").unwrap_err();
        assert!(e.starts_with("~root/x: only `~` and `~/…` are expanded"), "{e}");
        assert!(e.contains("${HOME}"), "{e}");
    }

    #[test]
    fn a_destination_error_after_a_colon_mentions_the_escape() {
        let e = src_dest(OsStr::new("/data/a:b"), Path::new("/")).unwrap_err();
        assert_eq!(
            e,
            "destination b: must be an absolute path (the value was split at ':'; a literal ':' in a path is written '\\:')"
        );
        let e = symlink(OsStr::new("x:y")).unwrap_err();
        assert!(e.ends_with("is written '\\:')"), "{e}");
        assert_eq!(
            src_dest(OsStr::new("/data/a\\:b"), Path::new("/")).unwrap(),
            (PathBuf::from("/data/a:b"), PathBuf::from("/data/a:b"))
        );
    }

    #[test]
    fn spelled_paths_read_back() {
        let p = Path::new("/data/a:b\\c");
        assert_eq!(spell(p), "/data/a\\:b\\\\c");
        let parts = split_colon(OsStr::new(&spell(p)));
        assert_eq!(parts, vec![OsString::from("/data/a:b\\c")]);
    }
}
