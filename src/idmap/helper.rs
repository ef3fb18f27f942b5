//! Finding newuidmap and newgidmap.
//!
//! They are looked up in PATH, as a shell would, not at a fixed
//! /usr/bin: NixOS keeps its setuid wrappers in /run/wrappers/bin and the
//! unprivileged store copies elsewhere in PATH. The first one that can act
//! (owned by root and setuid, or with file capabilities) is taken; an
//! unprivileged copy earlier in PATH is passed over, since it could only
//! fail. Relative PATH entries are skipped: they would depend on the
//! current directory, which the command may share. No file the command
//! could have written is ever run outside the sandbox: only root can make
//! a root-owned setuid file.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Error, Kind};

/// What a candidate in PATH is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No executable file of that name.
    Absent,
    /// An executable file, neither setuid root nor capable.
    Unprivileged,
    /// Root's and setuid, or with file capabilities: it can write the map.
    Able,
}

/// How the real file system answers for `path`; `has_caps` says whether it
/// carries the `security.capability` attribute.
pub fn examine(path: &Path, has_caps: impl Fn(&Path) -> bool) -> Found {
    let Ok(m) = path.metadata() else { return Found::Absent };
    if !m.is_file() || m.mode() & 0o111 == 0 {
        return Found::Absent;
    }
    let root_owned = m.uid() == 0;
    if root_owned && (m.mode() & 0o4000 != 0 || has_caps(path)) {
        Found::Able
    } else {
        Found::Unprivileged
    }
}

/// The helper for `kind` along `path_var` (PATH's value), examined by
/// `examine`: the first able one, or an error naming what was found.
pub fn find(kind: Kind, path_var: &OsStr, examine: impl Fn(&Path) -> Found) -> Result<PathBuf, Error> {
    let cmd = kind.helper();
    let mut unprivileged = None;
    for dir in std::env::split_paths(path_var).filter(|d| d.is_absolute()) {
        let candidate = dir.join(cmd);
        match examine(&candidate) {
            Found::Able => return Ok(candidate),
            Found::Unprivileged => {
                unprivileged.get_or_insert(candidate);
            }
            Found::Absent => {}
        }
    }
    Err(match unprivileged {
        Some(p) => Error::new(format!(
            "--userns auto: {} is neither setuid root nor has file capabilities, so it cannot write the {} map",
            p.display(),
            kind.word()
        ))
        .hint("reinstall the uidmap package (sudo apt install --reinstall uidmap), or put its directory first in PATH"),
        None => Error::new(format!("--userns auto: {cmd} not found in PATH"))
            .hint("install shadow's newuidmap and newgidmap: sudo apt install uidmap (Fedora, Arch: shadow-utils, shadow)"),
    })
}
