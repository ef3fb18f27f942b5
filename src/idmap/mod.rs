//! User and group id maps, decided before anything starts.
//!
//! A user namespace sees only the ids its `uid_map` and `gid_map` list.
//! `--userns self` maps one id: the command's id inside to the caller's own
//! outside. An unprivileged process may write that itself, after writing
//! `deny` to `setgroups` (so that dropping a supplementary group, which can
//! grant access where a group has fewer rights than others, stays
//! impossible: CVE-2014-8989).
//!
//! `--userns auto` maps the whole id space a distribution's userspace
//! needs: the command's id (the caller's own, or `--uid`) to the caller's
//! own id, and every other id, in order, to the caller's subordinate ids
//! from /etc/subuid and /etc/subgid. Only the setuid helpers newuidmap and
//! newgidmap (package uidmap, [`helper`]) may write such maps; they check
//! the ranges against the same files. With the command's id 0 this is
//! rootless podman's layout (0 → you, 1 → the first subordinate id, …),
//! with the caller's own id podman's `--userns=keep-id`.
//!
//! The subordinate ids are refused ([`auto_map`]) when they include root's
//! real id 0 or the caller's own: a map must never give the command an id
//! it does not own on the host. Everything here is pure: the files' text
//! comes in as strings ([`subid`]), the maps go out as data for the Plan.

pub mod helper;
pub mod subid;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use subid::Range;

/// The most lines a uid_map or gid_map may have (Linux 4.15+).
pub const MAX_EXTENTS: usize = 340;

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    /// The file listing the subordinate ids of this kind.
    pub fn file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }

    /// The setuid helper that writes this map.
    pub fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }

    /// `uid` or `gid`.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Uid => "uid",
            Kind::Gid => "gid",
        }
    }

    /// usermod's option that adds ranges of this kind.
    pub fn usermod_flag(self) -> &'static str {
        match self {
            Kind::Uid => "--add-subuids",
            Kind::Gid => "--add-subgids",
        }
    }
}

/// One line of a map: `count` ids from `inside` on are the ids from
/// `outside` on, on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extent {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl Extent {
    /// The host id of `inside`, if this line maps it.
    pub fn outside_of(&self, inside: u32) -> Option<u32> {
        let off = inside.checked_sub(self.inside)?;
        (off < self.count).then(|| self.outside + off)
    }
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// The text of a `uid_map`/`gid_map` file for `extents`, one line each.
pub fn map_text(extents: &[Extent]) -> String {
    extents.iter().map(|e| format!("{e}\n")).collect()
}

/// What `/proc/PID/setgroups` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setgroups {
    Allow,
    Deny,
}

impl Setgroups {
    pub fn word(self) -> &'static str {
        match self {
            Setgroups::Allow => "allow",
            Setgroups::Deny => "deny",
        }
    }
}

/// Whether the namespace may call setgroups(2) with `gid_map`.
///
/// A map of the caller's own gid alone is written by the caller, which the
/// kernel allows only after `deny`. A map with subordinate gids goes
/// through newgidmap, which writes `allow` whenever it maps a range from
/// /etc/subgid (the administrator's grant of gids is also the grant to
/// manage groups with them) and fails if `deny` is already written, so
/// that is the only value such a map can have. setgroups(2) still needs
/// CAP_SETGID in the namespace, which the command has only when it is
/// given (`--cap-add`).
pub fn setgroups(gid_map: &[Extent], real_gid: u32) -> Setgroups {
    let own_only = gid_map.iter().all(|e| e.count == 1 && e.outside == real_gid);
    if own_only {
        Setgroups::Deny
    } else {
        Setgroups::Allow
    }
}

/// `--userns self`: the command's id to the caller's, nothing else.
pub fn self_map(inside: u32, real: u32) -> Vec<Extent> {
    vec![Extent { inside, outside: real, count: 1 }]
}

/// Why an auto map cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error { message: message.into(), hint: None }
    }

    fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.hint {
            Some(h) => write!(f, "\nhint: {h}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// `--userns auto` for one kind: `inside` (the command's id) to `real`
/// (the caller's id), and the ids from 0 up, skipping `inside`, to the
/// subordinate `ranges` in the order the file lists them.
///
/// Refused when a range includes root's id 0 or `real`, when two ranges
/// overlap, or when the map would need more lines than the kernel takes.
/// Ids past 4294967294 (4294967295 is the invalid id -1) are left out.
pub fn auto_map(kind: Kind, inside: u32, real: u32, ranges: &[Range]) -> Result<Vec<Extent>, Error> {
    validate(kind, real, ranges)?;
    let mut map = vec![Extent { inside, outside: real, count: 1 }];
    let mut next: u64 = 0;
    for r in ranges {
        let (mut outside, mut left) = (u64::from(r.start), u64::from(r.count));
        while left > 0 && next < u64::from(u32::MAX) {
            if next == u64::from(inside) {
                next += 1;
                continue;
            }
            // Up to `inside` (skipped) or the end of the id space.
            let stop = if next < u64::from(inside) { u64::from(inside) } else { u64::from(u32::MAX) };
            let count = left.min(stop - next);
            if count == 0 {
                break;
            }
            // Never merged with a neighbour: newuidmap checks each line against one range.
            map.push(Extent { inside: next as u32, outside: outside as u32, count: count as u32 });
            (next, outside, left) = (next + count, outside + count, left - count);
        }
    }
    if map.len() > MAX_EXTENTS {
        return Err(Error::new(format!(
            "--userns auto: {} needs {} lines in the {} map, the kernel takes {MAX_EXTENTS}",
            kind.file(),
            map.len(),
            kind.word()
        ))
        .hint(format!("merge adjacent ranges in {}", kind.file())));
    }
    Ok(map)
}

/// The subordinate ids never include root's id or the caller's, and never overlap.
fn validate(kind: Kind, real: u32, ranges: &[Range]) -> Result<(), Error> {
    let file = kind.file();
    for r in ranges {
        for (id, whose) in [(0, "root's id 0"), (real, "your own id")] {
            if r.contains(id) {
                let id = if id == 0 { String::new() } else { format!(" {id}") };
                return Err(Error::new(format!(
                    "--userns auto: the range {r} in {file} includes {whose}{id}; subordinate ids must be \
                     ids no user has"
                ))
                .hint(format!("ask the administrator to fix {file} (see subuid(5))")));
            }
        }
    }
    let mut sorted: Vec<&Range> = ranges.iter().collect();
    sorted.sort_by_key(|r| r.start);
    for pair in sorted.windows(2) {
        if pair[1].start < pair[0].end() {
            return Err(Error::new(format!(
                "--userns auto: the ranges {} and {} in {file} overlap",
                pair[0], pair[1]
            ))
            .hint(format!("ask the administrator to fix {file} (see subuid(5))")));
        }
    }
    Ok(())
}

/// The host id that `inside` has under `map`, if any.
pub fn outside_of(map: &[Extent], inside: u32) -> Option<u32> {
    map.iter().find_map(|e| e.outside_of(inside))
}

/// The arguments of newuidmap/newgidmap for `pid` and `map`:
/// `PID INSIDE OUTSIDE COUNT …`.
pub fn helper_args(pid: i32, map: &[Extent]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for e in map {
        args.extend([e.inside.to_string(), e.outside.to_string(), e.count.to_string()]);
    }
    args
}

/// The text of /etc/subuid and /etc/subgid, or why each could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub subuid: Result<String, String>,
    pub subgid: Result<String, String>,
}

impl Files {
    /// Reads both files (a missing file is an empty one's error).
    pub fn read() -> Files {
        let read = |kind: Kind| {
            std::fs::read_to_string(kind.file()).map_err(|e| {
                let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
                errno.desc().to_string()
            })
        };
        Files { subuid: read(Kind::Uid), subgid: read(Kind::Gid) }
    }

    pub fn text(&self, kind: Kind) -> &Result<String, String> {
        match kind {
            Kind::Uid => &self.subuid,
            Kind::Gid => &self.subgid,
        }
    }

    /// The ranges of the user `name` (if known) or `uid`, for `kind`.
    pub fn ranges(&self, kind: Kind, name: Option<&str>, uid: u32) -> Vec<Range> {
        let text = self.text(kind).as_deref().unwrap_or("");
        subid::ranges_for(&subid::parse(text), name, uid)
    }

    /// Every entry of both files: what a new range must not overlap.
    fn taken(&self) -> Vec<subid::Entry> {
        let text = |k: Kind| subid::parse(self.text(k).as_deref().unwrap_or(""));
        [text(Kind::Uid), text(Kind::Gid)].concat()
    }
}

/// Who runs sandbox and which ids the command has inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's name in the password database, if it has one.
    pub name: Option<String>,
    pub uid: u32,
    pub gid: u32,
}

/// The uid and gid maps of `--userns auto` for `caller`, the command
/// running as `inside` (uid, gid).
pub fn auto_maps(
    files: &Files,
    caller: &Caller,
    inside: (u32, u32),
) -> Result<(Vec<Extent>, Vec<Extent>), Error> {
    let one = |kind: Kind, inside: u32, real: u32| {
        let ranges = files.ranges(kind, caller.name.as_deref(), caller.uid);
        if ranges.is_empty() {
            let user = caller.name.clone().unwrap_or_else(|| caller.uid.to_string());
            let read = files.text(kind).as_ref().map(|_| ()).map_err(Clone::clone);
            return Err(subid::no_range(kind, &user, read, &files.taken()));
        }
        auto_map(kind, inside, real, &ranges)
    };
    Ok((one(Kind::Uid, inside.0, caller.uid)?, one(Kind::Gid, inside.1, caller.gid)?))
}

/// The lines of a `/proc/PID/uid_map` or `gid_map` as the kernel prints
/// them (three numbers each, padded); `None` if one does not parse.
pub fn parse_map_file(text: &str) -> Option<Vec<Extent>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let n: Vec<u32> = l.split_whitespace().map(|w| w.parse().ok()).collect::<Option<_>>()?;
            match n[..] {
                [inside, outside, count] => Some(Extent { inside, outside, count }),
                _ => None,
            }
        })
        .collect()
}

/// Whether the kernel holds exactly `wanted` (a helper may not have written
/// what it was asked): the same lines, in any order.
pub fn same_map(wanted: &[Extent], found: &[Extent]) -> bool {
    let sorted = |m: &[Extent]| {
        let mut v = m.to_vec();
        v.sort_by_key(|e| e.inside);
        v
    };
    sorted(wanted) == sorted(found)
}

/// What `--userns auto` needs to know of the host, read once with the
/// rest of the caller's view: the two files, the caller's name in the
/// password database (newuidmap matches ranges by it), and the helpers
/// found along PATH (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    pub files: Files,
    pub name: Option<String>,
    pub newuidmap: Result<std::path::PathBuf, Error>,
    pub newgidmap: Result<std::path::PathBuf, Error>,
}

impl HostView {
    /// A host where `name` (uid/gid 1000) has 100000-165535 and the
    /// helpers are in /usr/bin, for tests.
    pub fn fake(name: &str) -> HostView {
        let line = format!("{name}:100000:65536\n");
        HostView {
            files: Files { subuid: Ok(line.clone()), subgid: Ok(line) },
            name: Some(name.to_string()),
            newuidmap: Ok("/usr/bin/newuidmap".into()),
            newgidmap: Ok("/usr/bin/newgidmap".into()),
        }
    }
}
