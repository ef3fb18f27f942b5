//! Package caches (`--caches`): the tools' download caches of the caller's
//! home, for the profiles that build (ci: read-only, build: read-write,
//! agent: writable with the writes vanishing at exit).

use std::ffi::OsStr;
use std::path::PathBuf;

use super::{locate, never, Table};
use crate::host::Host;
use crate::hostfs::{HostFs, Kind};
pub use crate::settings::CacheMode;

/// How one cache is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    ReadOnly,
    Overlay,
    ReadWrite,
    /// Read-write, created (0700, with missing parents) first.
    Create,
}

/// One cache directory to share at its own path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub path: PathBuf,
    pub how: How,
    pub why: String,
}

/// The caches `mode` shares on this host.
pub fn caches(
    table: &Table,
    host: &Host,
    expand: &dyn Fn(&str) -> Result<String, String>,
    fs: &dyn HostFs,
    ops: &[crate::plan::FsOp],
    mode: CacheMode,
) -> Vec<Cache> {
    let mut out: Vec<Cache> = Vec::new();
    if mode == CacheMode::None {
        return out;
    }
    for entry in &table.caches {
        let why = format!("package cache of {}", entry.tool);
        for pattern in &entry.paths {
            let Ok(text) = expand(pattern) else { continue };
            let path = crate::values::normalize(&PathBuf::from(&text));
            if !text.starts_with('/') || never(host, fs, &fs.real(&path).unwrap_or(path.clone())).is_some() {
                continue;
            }
            if !crate::plan::view::fillable(ops, &path) {
                continue;
            }
            let exists = fs.stat(&path) == Some(Kind::Dir);
            let how = match (mode, exists) {
                (CacheMode::Ro, true) => How::ReadOnly,
                (CacheMode::Overlay, true) => How::Overlay,
                (CacheMode::Rw, true) => How::ReadWrite,
                (CacheMode::Rw, false) if on_path(&entry.tool, host, fs) && fs.kind(&path).is_none() => {
                    How::Create
                }
                _ => continue,
            };
            if !out.iter().any(|c| c.path == path) {
                out.push(Cache { path, how, why: why.clone() });
            }
        }
    }
    out
}

fn on_path(tool: &str, host: &Host, fs: &dyn HostFs) -> bool {
    locate(OsStr::new(tool), host.var("PATH"), &host.cwd, fs).is_some()
}
