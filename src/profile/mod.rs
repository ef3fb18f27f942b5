//! Profiles: TOML files that say what a command line says, reusably.
//!
//! A name is looked up in `$XDG_CONFIG_HOME/sandbox/profiles/NAME.toml`,
//! then `/etc/sandbox/profiles/NAME.toml`, then the built-ins (profiles/*.toml
//! embedded at build time). Anything with a `/` or ending in `.toml` is a
//! path: a project's own file is loaded only when named that way, never
//! because of the directory sandbox runs in.
//!
//! Loading is pure apart from reading files: it yields [`Located`] settings,
//! includes first (depth-first, in order), then the file's own keys in file
//! order. Lists append and scalars override when they are folded into a
//! Plan by [`crate::settings::build`].

mod builtin;
mod read;
mod render;
pub mod schema;
mod vars;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use render::render;

/// Expands the profiles' `${…}` variables in `s` for `host` (the toolchain
/// table uses them too).
pub fn expand(s: &str, host: &Host) -> Result<String, String> {
    vars::expand(s, host)
}

use crate::escape;
use crate::host::Host;
use crate::settings::{Located, Origin};

/// Built-in profiles, in the order `profiles list` shows them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", builtin::DEFAULT),
    ("rootfs", include_str!("../../profiles/rootfs.toml")),
    ("container", include_str!("../../profiles/container.toml")),
    ("none", include_str!("../../profiles/none.toml")),
    ("strict", include_str!("../../profiles/strict.toml")),
    ("ci", include_str!("../../profiles/ci.toml")),
    ("build", include_str!("../../profiles/build.toml")),
    ("agent", include_str!("../../profiles/agent.toml")),
    ("net-service", include_str!("../../profiles/net-service.toml")),
    ("x11", include_str!("../../profiles/x11.toml")),
    ("wayland", include_str!("../../profiles/wayland.toml")),
    ("audio", include_str!("../../profiles/audio.toml")),
    ("gpu", include_str!("../../profiles/gpu.toml")),
    ("fonts", include_str!("../../profiles/fonts.toml")),
    ("desktop", include_str!("../../profiles/desktop.toml")),
    ("browser", include_str!("../../profiles/browser.toml")),
];

/// Largest profile file accepted, and deepest include chain.
const MAX_SIZE: u64 = 1 << 20;
const MAX_DEPTH: usize = 32;

/// A profile's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors and `explain` name it: a path, or `built-in NAME`.
    pub label: String,
    pub text: String,
    /// Directory for relative includes and sources; `None` for built-ins.
    pub dir: Option<PathBuf>,
}

/// Whether `name` names a file rather than a profile on the search path.
fn is_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".toml")
}

fn search_dirs(host: &Host) -> Vec<PathBuf> {
    let config = host
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| host.home.join(".config"));
    vec![config.join("sandbox/profiles"), PathBuf::from("/etc/sandbox/profiles")]
}

/// Finds NAME (or the path NAME, relative to `base`).
pub fn find(name: &str, host: &Host, base: &Path) -> Result<Source, String> {
    if is_path(name) {
        let path = crate::values::normalize(&base.join(name));
        return read(&path).map(|text| Source {
            label: path.display().to_string(),
            text,
            dir: path.parent().map(Path::to_path_buf),
        });
    }
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(format!("profile {}: not a profile name (a path needs a '/')", escape::str(name)));
    }
    for dir in search_dirs(host) {
        let path = dir.join(format!("{name}.toml"));
        if std::fs::symlink_metadata(&path).is_ok() {
            let text = read(&path)?;
            return Ok(Source { label: path.display().to_string(), text, dir: Some(dir) });
        }
    }
    match BUILTIN.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => Ok(Source { label: format!("built-in {n}"), text: text.to_string(), dir: None }),
        None => {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Err(format!(
                "profile {}: not found in {} or the built-ins ({})",
                escape::str(name),
                search_dirs(host).iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                names.join(", ")
            ))
        }
    }
}

/// Reads a profile file: a regular file of at most 1 MiB, opened without
/// blocking (a FIFO must not hang us) and without following a final symlink
/// into a device.
fn read(path: &Path) -> Result<String, String> {
    let shown = escape::path(path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("profile {shown}: {}", crate::escape::cause(&e)))?;
    let meta = file.metadata().map_err(|e| format!("profile {shown}: {}", crate::escape::cause(&e)))?;
    if !meta.is_file() {
        return Err(format!("profile {shown}: not a regular file"));
    }
    if meta.len() > MAX_SIZE {
        return Err(format!("profile {shown}: larger than {MAX_SIZE} bytes"));
    }
    let mut text = String::new();
    file.take(MAX_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("profile {shown}: {}", crate::escape::cause(&e)))?;
    Ok(text)
}

/// A loaded profile: its settings and its own description.
#[derive(Debug)]
pub struct Loaded {
    pub label: String,
    pub description: Option<String>,
    pub settings: Vec<Located>,
}

/// Loads NAME (or a path, relative to the caller's cwd) with its includes.
pub fn load(name: &str, host: &Host) -> Result<Loaded, String> {
    let src = find(name, host, &host.cwd)?;
    let mut stack = Vec::new();
    let mut settings = Vec::new();
    let description = load_into(&src, host, &mut stack, &mut settings)?;
    Ok(Loaded { label: src.label, description, settings })
}

/// Loads a profile whose text is already at hand (includes are still read
/// from the search path).
pub fn load_source(src: &Source, host: &Host) -> Result<Loaded, String> {
    let mut settings = Vec::new();
    let description = load_into(src, host, &mut Vec::new(), &mut settings)?;
    Ok(Loaded { label: src.label.clone(), description, settings })
}

fn load_into(
    src: &Source,
    host: &Host,
    stack: &mut Vec<String>,
    out: &mut Vec<Located>,
) -> Result<Option<String>, String> {
    if stack.contains(&src.label) {
        stack.push(src.label.clone());
        return Err(format!("profile include cycle: {}", stack.join(" -> ")));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(format!("profile {}: includes nested deeper than {MAX_DEPTH}", src.label));
    }
    let doc = parse(src)?;
    stack.push(src.label.clone());
    for inc in &doc.include {
        let base = src.dir.clone().unwrap_or_else(|| PathBuf::from("/"));
        let name = inc.get_ref();
        if src.dir.is_none() && is_path(name) {
            return Err(located_error(src, inc.span().start, "a built-in profile includes only names"));
        }
        let child = find(name, host, &base).map_err(|e| located_error(src, inc.span().start, &e))?;
        load_into(&child, host, stack, out)?;
    }
    stack.pop();
    own_settings(src, &doc, host, out)?;
    Ok(doc.description)
}

/// A profile's text parsed. The built-in `default`'s was parsed by
/// build.rs ([`builtin`]: start-up cost); any other text, a user's
/// `default.toml` included, is parsed here.
fn parse(src: &Source) -> Result<schema::Doc, String> {
    if src.dir.is_none() && src.text == builtin::DEFAULT {
        if let Ok(doc) = builtin::default_doc() {
            return Ok(doc);
        }
    }
    parse_toml(src)
}

fn parse_toml(src: &Source) -> Result<schema::Doc, String> {
    toml::from_str(&src.text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        located_error(src, at, e.message())
    })
}

/// The file's own settings (not its includes), each with the line and
/// column it was written at.
fn own_settings(src: &Source, doc: &schema::Doc, host: &Host, out: &mut Vec<Located>) -> Result<(), String> {
    let base = src.dir.clone().unwrap_or_else(|| host.cwd.clone());
    let expand = |s: &str| vars::expand(s, host);
    let own =
        read::settings(doc, &expand, &base, &host.home).map_err(|(at, msg)| located_error(src, at, &msg))?;
    let lines = LineStarts::of(&src.text);
    for (at, setting) in own {
        let (line, col) = lines.line_col(at);
        out.push(Located { setting, origin: Origin::Profile { file: src.label.clone(), line, col } });
    }
    Ok(())
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    LineStarts::of(text).line_col(at)
}

/// Where each line of a text starts, to give many byte offsets their line
/// and column without scanning the text from its start each time.
struct LineStarts(Vec<usize>, usize);

impl LineStarts {
    fn of(text: &str) -> LineStarts {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        LineStarts(starts.collect(), text.len())
    }

    /// 1-based line and column (in bytes) of the offset `at` (the end of
    /// the text at most).
    fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.1);
        let line = self.0.partition_point(|&start| start <= at);
        (line, at - self.0[line - 1] + 1)
    }
}

/// The `[section]` a byte offset is in, for error messages.
fn section_at(text: &str, at: usize) -> Option<String> {
    text[..at.min(text.len())]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_string())
}

fn located_error(src: &Source, at: usize, msg: &str) -> String {
    let (line, col) = line_col(&src.text, at);
    let msg = msg.trim().replace('\n', " ");
    let msg = match section_at(&src.text, at) {
        Some(section) if msg.starts_with("unknown field") => format!("{msg} in [{section}]"),
        _ => msg,
    };
    format!("profile {}:{line}:{col}: {}", src.label, escape::str(&msg))
}

/// `sandbox profiles list`: name, where it was found, description.
pub fn list(host: &Host) -> Vec<(String, String, String)> {
    let mut names: Vec<String> = Vec::new();
    for dir in search_dirs(host) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut found: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".toml").map(str::to_string))
                .collect();
            found.sort();
            names.extend(found);
        }
    }
    names.extend(BUILTIN.iter().map(|(n, _)| n.to_string()));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
        .into_iter()
        .map(|name| {
            let (label, desc) = match find(&name, host, &host.cwd) {
                Ok(src) => {
                    let desc = toml::from_str::<schema::Doc>(&src.text)
                        .map(|d| d.description.unwrap_or_default())
                        .unwrap_or_else(|e| format!("(invalid: {})", e.message().trim()));
                    (src.label, desc)
                }
                Err(e) => (String::new(), format!("(unreadable: {e})")),
            };
            (name, label, desc)
        })
        .collect()
}

#[cfg(test)]
mod tests;
