//! `sandbox desktop install|list|remove`: launchers in the user's
//! applications directory (`$XDG_DATA_HOME/applications`, by default
//! `~/.local/share/applications`) that start an application through
//! sandbox.
//!
//! A launcher has the desktop-file ID of the entry it was made from, so the
//! desktop shows it instead of the system's (the user's data directory comes
//! first in the lookup order), with every `Exec` line wrapped (see
//! [`super::entry::rewrite`]) and the `X-Sandbox-Profile` key that marks it.
//! `remove` deletes only files that carry that key; `install` never
//! replaces a file that does not.
//!
//! Writing: the applications directory and its parents beneath `$HOME` are
//! opened one component at a time without following a symlink, created
//! 0700 when missing, and must be directories of the user's. The launcher
//! is written to a new file (O_EXCL, O_NOFOLLOW, 0600 whatever the umask)
//! and renamed over its name, so a reader sees the old file or the new one,
//! never half of one. Nothing is written anywhere else.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::entry::{self, Made, Wrap};
use crate::escape;

/// The largest `.desktop` file read.
const MAX_SIZE: u64 = 1 << 20;

/// Where entries and launchers live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub home: PathBuf,
    /// `$XDG_DATA_HOME` (default `~/.local/share`): launchers go to its
    /// `applications`.
    pub data_home: PathBuf,
    /// `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`): where
    /// entries are looked up by name.
    pub data_dirs: Vec<PathBuf>,
}

impl Dirs {
    /// The directories for this environment (relative values are ignored,
    /// as the base directory specification says).
    pub fn new(home: &Path, data_home: Option<&OsStr>, data_dirs: Option<&OsStr>) -> Dirs {
        let data_home = data_home
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".local/share"));
        let mut dirs: Vec<PathBuf> = data_dirs
            .map(|d| std::env::split_paths(d).filter(|p| p.is_absolute()).collect())
            .unwrap_or_default();
        if dirs.is_empty() {
            dirs = vec![PathBuf::from("/usr/local/share"), PathBuf::from("/usr/share")];
        }
        Dirs { home: home.to_path_buf(), data_home, data_dirs: dirs }
    }

    /// The launchers' directory.
    pub fn applications(&self) -> PathBuf {
        self.data_home.join("applications")
    }
}

/// Checks a desktop-file ID (`org.gnome.Calculator.desktop`): one file
/// name, no leading dot, letters, digits, `.`, `_` and `-`.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = id.ends_with(".desktop")
        && id.len() > ".desktop".len()
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{} is not a desktop-file ID (letters, digits, . _ - and the suffix .desktop)",
            escape::str(id)
        )),
    }
}

/// `NAME` as a desktop-file ID: `.desktop` added when missing.
pub fn id_of(name: &str) -> String {
    match name.ends_with(".desktop") {
        true => name.to_string(),
        false => format!("{name}.desktop"),
    }
}

/// The entry `what` names, and the ID its launcher gets: a path (anything
/// with a `/`) is taken as it is; a name is looked up in
/// `$XDG_DATA_DIRS/applications` (an ID `a-b.desktop` may also be the file
/// `a/b.desktop` there, as the specification allows).
pub fn find_source(what: &str, dirs: &Dirs) -> Result<(PathBuf, String), String> {
    if what.contains('/') {
        let path = PathBuf::from(what);
        let id = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        check_id(&id)?;
        return Ok((path, id));
    }
    let id = id_of(what);
    check_id(&id)?;
    let sub = id.replacen('-', "/", 1);
    for dir in &dirs.data_dirs {
        let found =
            [&id, &sub].into_iter().map(|rel| dir.join("applications").join(rel)).find(|p| p.is_file());
        if let Some(p) = found {
            return Ok((p, id));
        }
    }
    let searched: Vec<String> =
        dirs.data_dirs.iter().map(|d| escape::path(&d.join("applications"))).collect();
    Err(format!("no {id} in {}", searched.join(", ")))
}

fn io(e: Errno) -> String {
    std::io::Error::from(e).to_string()
}

/// Opens (creating 0700 when missing) the directory `name` beneath `dir`,
/// never through a symlink; it must be a directory of the caller's.
fn subdir(dir: &OwnedFd, name: &OsStr, create: bool) -> Result<OwnedFd, String> {
    let shown = escape::os(name);
    if create {
        match rustix::fs::mkdirat(dir, name, Mode::RWXU) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(format!("mkdir {shown}: {}", io(e))),
        }
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => {
            format!("{shown} is a symlink or not a directory; sandbox never follows one there")
        }
        e => format!("{shown}: {}", io(e)),
    })?;
    owned_by_me(&fd, &shown)?;
    Ok(fd)
}

fn owned_by_me(fd: &impl AsFd, shown: &str) -> Result<(), String> {
    let st = rustix::fs::fstat(fd).map_err(|e| format!("{shown}: {}", io(e)))?;
    let me = nix::unistd::geteuid().as_raw();
    match st.st_uid == me {
        true => Ok(()),
        false => Err(format!("{shown} belongs to uid {}, not to you (uid {me})", st.st_uid)),
    }
}

/// Opens the applications directory: `$HOME` (or the data directory when
/// it lies elsewhere) as written, then each component beneath it without
/// following a symlink, created 0700 when `create` and missing.
fn open_applications(dirs: &Dirs, create: bool) -> Result<OwnedFd, String> {
    let target = dirs.applications();
    let (base, rest) = match target.strip_prefix(&dirs.home) {
        Ok(rest) => (dirs.home.as_path(), rest.to_path_buf()),
        Err(_) => (dirs.data_home.as_path(), PathBuf::from("applications")),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = rustix::fs::open(base, flags, Mode::empty())
        .map_err(|e| format!("{}: {}", escape::path(base), io(e)))?;
    for c in rest.components() {
        let Component::Normal(name) = c else {
            return Err(format!("{}: not a plain path", escape::path(&target)));
        };
        fd = subdir(&fd, name, create)?;
    }
    Ok(fd)
}

/// Reads the regular file `name` beneath `dir`, never through a symlink.
fn read_beneath(dir: &OwnedFd, name: &str) -> Result<Option<String>, String> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => return Err(format!("{name} is a symlink; sandbox never follows one there")),
        Err(e) => return Err(format!("{name}: {}", io(e))),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| format!("{name}: {}", io(e)))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(format!("{name} is not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::from(fd).take(MAX_SIZE).read_to_string(&mut text).map_err(|e| format!("{name}: {e}"))?;
    Ok(Some(text))
}

/// Reads the entry at `path` (a file of at most 1 MiB).
pub fn read_source(path: &Path) -> Result<String, String> {
    let shown = escape::path(path);
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    if !file.metadata().map_err(|e| format!("{shown}: {e}"))?.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_SIZE).read_to_string(&mut text).map_err(|e| format!("{shown}: {e}"))?;
    Ok(text)
}

/// Writes `text` as `id` beneath `dir`: a new 0600 file renamed over the name.
fn write_atomically(dir: &OwnedFd, id: &str, text: &str) -> Result<(), String> {
    let tmp = format!(".{id}.sandbox-{}", std::process::id());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, tmp.as_str(), flags, Mode::RUSR | Mode::WUSR)
        .map_err(|e| format!("create {tmp}: {}", io(e)))?;
    let written = (|| {
        rustix::fs::fchmod(&fd, Mode::RUSR | Mode::WUSR)?;
        let mut file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        rustix::fs::fsync(&file)?;
        rustix::fs::renameat(dir, tmp.as_str(), dir, id)
    })();
    written.map_err(|e| {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        format!("write {id}: {}", io(e))
    })
}

/// What was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub path: PathBuf,
    /// Whether it replaced a launcher sandbox had made before.
    pub replaced: bool,
}

/// Installs a launcher for the entry at `source` as `id`, running under
/// `wrap.profile`. A file of that name that sandbox did not make is left
/// alone (an error says so).
pub fn install(source_text: &str, id: &str, wrap: &Wrap, dirs: &Dirs) -> Result<Installed, String> {
    check_id(id)?;
    let text = entry::rewrite(source_text, wrap).map_err(|e| format!("{}: {e}", escape::str(wrap.source)))?;
    let dir = open_applications(dirs, true)?;
    let path = dirs.applications().join(id);
    let replaced = match read_beneath(&dir, id)? {
        None => false,
        Some(old) if entry::made_by_sandbox(&old).is_some() => true,
        Some(_) => {
            return Err(format!(
                "{} exists and was not made by sandbox; move it away first",
                escape::path(&path)
            ))
        }
    };
    write_atomically(&dir, id, &text)?;
    Ok(Installed { path, replaced })
}

/// One launcher sandbox made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub made: Made,
}

/// Every launcher sandbox made, by ID.
pub fn list(dirs: &Dirs) -> Result<Vec<Listed>, String> {
    let dir = match open_applications(dirs, false) {
        Ok(d) => d,
        Err(_) if !dirs.applications().exists() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let entries = rustix::fs::Dir::read_from(&dir)
        .map_err(|e| format!("read {}: {}", escape::path(&dirs.applications()), io(e)))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = OsStr::from_bytes(e.file_name().to_bytes());
        let Some(id) = name.to_str().filter(|n| check_id(n).is_ok()) else { continue };
        if let Ok(Some(text)) = read_beneath(&dir, id) {
            if let Some(made) = entry::made_by_sandbox(&text) {
                out.push(Listed { id: id.to_string(), made });
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Deletes the launcher `name` (an ID, `.desktop` optional) if sandbox made
/// it; returns its path.
pub fn remove(name: &str, dirs: &Dirs) -> Result<PathBuf, String> {
    let id = id_of(name);
    check_id(&id)?;
    let path = dirs.applications().join(&id);
    let shown = escape::path(&path);
    let dir = open_applications(dirs, false)?;
    match read_beneath(&dir, &id)? {
        None => Err(format!("{shown}: no such launcher")),
        Some(text) if entry::made_by_sandbox(&text).is_none() => {
            Err(format!("{shown} was not made by sandbox; left alone"))
        }
        Some(_) => {
            rustix::fs::unlinkat(&dir, id.as_str(), AtFlags::empty())
                .map_err(|e| format!("remove {shown}: {}", io(e)))?;
            Ok(path)
        }
    }
}

#[cfg(test)]
#[path = "launcher_tests.rs"]
mod tests;
