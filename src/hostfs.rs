//! A read-only view of the host's file system for the front ends.
//!
//! Building a Plan reads a little of the host: where a command is on the
//! caller's PATH, what a toolchain's directories hold, what the links in
//! `/etc` point at. Those reads go through [`HostFs`], so the decisions are
//! unit-tested against a made-up tree ([`fake::FakeFs`]) and the real one
//! ([`RealFs`]) only ever looks: `lstat`, `readlink`, `readdir` and the first
//! bytes of a regular file, opened without blocking and never through a
//! final symlink.
//!
//! [`HostFs::walk`] resolves a path the way the kernel does, one component
//! at a time, and keeps every symlink it went through: `..` never climbs
//! above `/` and an absolute target starts again at `/` (resolution "in
//! root"), and more than [`MAX_LINKS`] links is a loop.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

mod memo;
pub use memo::Memo;

/// Links followed while resolving one path before giving up (the kernel's
/// limit, ELOOP).
pub const MAX_LINKS: usize = 40;

/// What `lstat` says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// A regular file; `exec` when any execute bit is set.
    File {
        exec: bool,
    },
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// One symlink met while resolving a path: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub at: PathBuf,
    pub target: PathBuf,
}

/// A path resolved component by component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// The path with every link resolved.
    pub real: PathBuf,
    /// What is there (`None`: the last component does not exist; `real` is
    /// then where it would be).
    pub kind: Option<Kind>,
    /// The links followed, in order.
    pub links: Vec<Link>,
}

/// The calls the front ends may make on the host's file system.
pub trait HostFs {
    /// `lstat`: what is at `p` itself, `None` when nothing is.
    fn kind(&self, p: &Path) -> Option<Kind>;
    /// `readlink`.
    fn read_link(&self, p: &Path) -> Option<PathBuf>;
    /// The names in a directory, sorted; empty when it cannot be read.
    fn list(&self, dir: &Path) -> Vec<OsString>;
    /// Up to `n` first bytes of the regular file `p`.
    fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>>;
    /// Whether the caller may read `p` (and search it, a directory).
    fn readable(&self, p: &Path) -> bool;
    /// The names of the symlinks in a directory, sorted (from `readdir`'s
    /// types, without a `stat` each).
    fn links(&self, dir: &Path) -> Vec<OsString> {
        self.list(dir).into_iter().filter(|n| self.kind(&dir.join(n)) == Some(Kind::Symlink)).collect()
    }

    /// Resolves `p` (absolute) in root, keeping the links it went through;
    /// `None` on a loop, a relative path, or a component under a non-directory.
    fn walk(&self, p: &Path) -> Option<Walk> {
        walk(self, p)
    }

    /// `stat`: what `p` is once links are followed.
    fn stat(&self, p: &Path) -> Option<Kind> {
        self.walk(p).and_then(|w| w.kind)
    }

    /// The path with its links resolved, when it exists.
    fn real(&self, p: &Path) -> Option<PathBuf> {
        self.walk(p).filter(|w| w.kind.is_some()).map(|w| w.real)
    }
}

/// [`HostFs::walk`]'s resolution, each lookup made through `fs`.
pub fn walk<F: HostFs + ?Sized>(fs: &F, p: &Path) -> Option<Walk> {
    if !p.is_absolute() {
        return None;
    }
    let mut links: Vec<Link> = Vec::new();
    let mut done = PathBuf::from("/");
    // What is still to resolve, the next one last: the rest of `p`, then of
    // each link's target met on the way (`links[i].target` for `Some(i)`),
    // as the byte offset where it goes on.
    let mut todo: Vec<(Option<usize>, usize)> = vec![(None, 0)];
    let mut kind = Some(Kind::Dir);
    while let Some(&(from, at)) = todo.last() {
        let text = match from {
            None => p.as_os_str().as_bytes(),
            Some(i) => links[i].target.as_os_str().as_bytes(),
        };
        let Some((name, next)) = component(text, at) else {
            todo.pop();
            continue;
        };
        if let Some(last) = todo.last_mut() {
            last.1 = next;
        }
        if kind != Some(Kind::Dir) {
            return None;
        }
        if name == b".." {
            done.pop();
            continue;
        }
        done.push(OsStr::from_bytes(name));
        kind = fs.kind(&done);
        if kind != Some(Kind::Symlink) {
            if kind.is_none() && todo.iter().any(|&(from, at)| pending(p, &links, from, at)) {
                return None;
            }
            continue;
        }
        if links.len() >= MAX_LINKS {
            return None;
        }
        let target = fs.read_link(&done)?;
        let at = done.clone();
        done.pop();
        if target.is_absolute() {
            done = PathBuf::from("/");
        }
        links.push(Link { at, target });
        todo.push((Some(links.len() - 1), 0));
        kind = Some(Kind::Dir);
    }
    Some(Walk { real: done, kind, links })
}

/// The component of `text` at or after byte `at` and where the one after
/// it starts; `None` when none is left. Separators and `.` are skipped, as
/// [`Path::components`] skips them (but for a leading `.`, which changes
/// nothing here).
fn component(text: &[u8], mut at: usize) -> Option<(&[u8], usize)> {
    loop {
        let start = at + text.get(at..)?.iter().position(|&b| b != b'/')?;
        let end = text[start..].iter().position(|&b| b == b'/').map_or(text.len(), |n| start + n);
        if &text[start..end] != b"." {
            return Some((&text[start..end], end));
        }
        at = end;
    }
}

/// Whether a component is left in the text `from` names, after `at`.
fn pending(p: &Path, links: &[Link], from: Option<usize>, at: usize) -> bool {
    let text = match from {
        None => p.as_os_str().as_bytes(),
        Some(i) => links[i].target.as_os_str().as_bytes(),
    };
    component(text, at).is_some()
}

/// The host's own file system, looked at and never changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl HostFs for RealFs {
    fn kind(&self, p: &Path) -> Option<Kind> {
        let meta = std::fs::symlink_metadata(p).ok()?;
        let t = meta.file_type();
        Some(if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File { exec: meta.permissions().mode() & 0o111 != 0 }
        } else {
            Kind::Other
        })
    }

    fn read_link(&self, p: &Path) -> Option<PathBuf> {
        std::fs::read_link(p).ok()
    }

    fn list(&self, dir: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.flatten().map(|e| e.file_name()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    fn links(&self, dir: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
                .map(|e| e.file_name())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    fn readable(&self, p: &Path) -> bool {
        use nix::unistd::{access, AccessFlags};
        let dir = std::fs::metadata(p).is_ok_and(|m| m.is_dir());
        let mode = if dir { AccessFlags::R_OK | AccessFlags::X_OK } else { AccessFlags::R_OK };
        access(p, mode).is_ok()
    }

    fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
        // O_NOFOLLOW and O_NONBLOCK: never a link's target, never a FIFO's wait.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(p)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut buf = Vec::with_capacity(n);
        file.take(n as u64).read_to_end(&mut buf).ok()?;
        Some(buf)
    }
}

/// A made-up tree for unit tests.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Node {
        Dir,
        File { exec: bool, content: Vec<u8> },
        Link(PathBuf),
    }

    /// Paths and what they are; parents are directories implicitly.
    #[derive(Debug, Default, Clone)]
    pub struct FakeFs {
        nodes: BTreeMap<PathBuf, Node>,
        /// Paths the caller may not read (and what is beneath them).
        locked: Vec<PathBuf>,
    }

    impl FakeFs {
        pub fn new() -> FakeFs {
            FakeFs::default()
        }

        fn add(&mut self, p: &str, node: Node) -> &mut FakeFs {
            let p = PathBuf::from(p);
            for a in p.ancestors().skip(1) {
                self.nodes.entry(a.to_path_buf()).or_insert(Node::Dir);
            }
            self.nodes.insert(p, node);
            self
        }

        pub fn dir(&mut self, p: &str) -> &mut FakeFs {
            self.add(p, Node::Dir)
        }

        /// An executable file.
        pub fn exe(&mut self, p: &str) -> &mut FakeFs {
            self.add(p, Node::File { exec: true, content: b"\x7fELF".to_vec() })
        }

        /// A file with `content` (executable when it starts with `#!`).
        pub fn file(&mut self, p: &str, content: &str) -> &mut FakeFs {
            let exec = content.starts_with("#!");
            self.add(p, Node::File { exec, content: content.as_bytes().to_vec() })
        }

        pub fn link(&mut self, p: &str, target: &str) -> &mut FakeFs {
            self.add(p, Node::Link(target.into()))
        }

        /// Makes `p` (and what is beneath it) unreadable to the caller.
        pub fn lock(&mut self, p: &str) -> &mut FakeFs {
            self.locked.push(p.into());
            self
        }
    }

    impl HostFs for FakeFs {
        fn kind(&self, p: &Path) -> Option<Kind> {
            Some(match self.nodes.get(p)? {
                Node::Dir => Kind::Dir,
                Node::File { exec, .. } => Kind::File { exec: *exec },
                Node::Link(_) => Kind::Symlink,
            })
        }

        fn read_link(&self, p: &Path) -> Option<PathBuf> {
            match self.nodes.get(p)? {
                Node::Link(t) => Some(t.clone()),
                _ => None,
            }
        }

        fn list(&self, dir: &Path) -> Vec<OsString> {
            self.nodes
                .keys()
                .filter(|k| k.parent() == Some(dir) && k.as_path() != dir)
                .filter_map(|k| k.file_name().map(|n| n.to_owned()))
                .collect()
        }

        fn readable(&self, p: &Path) -> bool {
            self.real(p).is_some_and(|r| !self.locked.iter().any(|l| r.starts_with(l) || p.starts_with(l)))
        }

        fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
            match self.nodes.get(p)? {
                Node::File { content, .. } => Some(content[..content.len().min(n)].to_vec()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeFs;
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn walk_follows_links_in_root_and_keeps_them() {
        let mut fs = FakeFs::new();
        fs.link("/etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf")
            .file("/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n")
            .link("/var/run", "/run")
            .link("/etc/up", "../../../../../run");
        let w = fs.walk(Path::new("/etc/resolv.conf")).unwrap();
        assert_eq!(w.real, p("/run/systemd/resolve/stub-resolv.conf"));
        assert_eq!(w.kind, Some(Kind::File { exec: false }));
        assert_eq!(
            w.links,
            vec![Link { at: p("/etc/resolv.conf"), target: p("../run/systemd/resolve/stub-resolv.conf") }]
        );
        // A link in the middle of the path, and `..` that never climbs above /.
        let w = fs.walk(Path::new("/var/run/systemd/resolve")).unwrap();
        assert_eq!((w.real, w.kind), (p("/run/systemd/resolve"), Some(Kind::Dir)));
        assert_eq!(fs.real(Path::new("/etc/up/systemd")), Some(p("/run/systemd")));
    }

    #[test]
    fn walk_reports_missing_paths_loops_and_non_directories() {
        let mut fs = FakeFs::new();
        fs.link("/a", "/b").link("/b", "/a").file("/f", "x").link("/dangling", "/nowhere/x");
        assert_eq!(fs.walk(Path::new("/a")), None, "a loop");
        assert_eq!(fs.walk(Path::new("/f/x")), None, "beneath a file");
        assert_eq!(fs.walk(Path::new("relative")), None);
        let w = fs.walk(Path::new("/missing")).unwrap();
        assert_eq!((w.real, w.kind), (p("/missing"), None));
        assert_eq!(fs.walk(Path::new("/dangling")), None, "its target's parent is missing");
        assert_eq!(fs.real(Path::new("/missing")), None);
    }

    /// The walk as it was first written, one owned component at a time
    /// (std's `Path::components`), to hold the faster one to its answers.
    fn walk_by_components(fs: &FakeFs, p: &Path) -> Option<Walk> {
        fn rest(p: &Path) -> Vec<OsString> {
            let mut out: Vec<OsString> = p
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n.to_owned()),
                    std::path::Component::ParentDir => Some("..".into()),
                    std::path::Component::CurDir => Some(".".into()),
                    _ => None,
                })
                .collect();
            out.reverse();
            out
        }
        if !p.is_absolute() {
            return None;
        }
        let (mut links, mut done, mut todo, mut kind) = (Vec::new(), p_("/"), rest(p), Some(Kind::Dir));
        while let Some(name) = todo.pop() {
            if kind != Some(Kind::Dir) {
                return None;
            }
            match name.as_bytes() {
                b"." => continue,
                b".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let next = done.join(&name);
            kind = fs.kind(&next);
            if kind != Some(Kind::Symlink) {
                done = next;
                if kind.is_none() && !todo.is_empty() {
                    return None;
                }
                continue;
            }
            if links.len() >= MAX_LINKS {
                return None;
            }
            let target = fs.read_link(&next)?;
            links.push(Link { at: next, target: target.clone() });
            if target.is_absolute() {
                done = p_("/");
            }
            todo.extend(rest(&target));
            kind = Some(Kind::Dir);
        }
        Some(Walk { real: done, kind, links })
    }

    fn p_(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn walk_answers_as_a_walk_by_components_on_odd_spellings() {
        let mut fs = FakeFs::new();
        fs.file("/f", "x")
            .dir("/d/e")
            .link("/d/up", "..")
            .link("/d/dot", "./e/")
            .link("/d/dots", ".//./e/./")
            .link("/d/abs", "/d/e/.")
            .link("/d/miss", "nowhere")
            .link("/d/missdot", "nowhere/.")
            .link("/d/file", "../f")
            .link("/l1", "l2")
            .link("/l2", "l1")
            .link("/d/deep", "../d/up/d/dot");
        let paths = [
            "/",
            "//",
            "/.",
            "/..",
            "/../..",
            "/f",
            "/f/",
            "/f/.",
            "/f/..",
            "/f/x",
            "/d",
            "/d/",
            "/d/.",
            "/d/./e",
            "/d//e//",
            "/d/e/..",
            "/d/e/../..",
            "/missing",
            "/missing/",
            "/missing/.",
            "/missing/./",
            "/missing/..",
            "/missing/x",
            "/d/up",
            "/d/up/d/e",
            "/d/dot",
            "/d/dot/.",
            "/d/dots",
            "/d/abs",
            "/d/abs/..",
            "/d/miss",
            "/d/miss/.",
            "/d/miss/x",
            "/d/missdot",
            "/d/missdot/..",
            "/d/file",
            "/d/file/.",
            "/d/file/x",
            "/l1",
            "/l1/x",
            "/d/deep",
            "/d/deep/..",
            "/d/./up/./e",
            "relative",
            "./d",
        ];
        for p in paths {
            assert_eq!(fs.walk(Path::new(p)), walk_by_components(&fs, Path::new(p)), "{p}");
        }
    }

    #[test]
    fn the_real_view_reads_kinds_links_names_and_heads() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/script"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(root.join("dir/script"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("dir/script", root.join("link")).unwrap();
        let fs = RealFs;
        assert_eq!(fs.kind(&root.join("dir")), Some(Kind::Dir));
        assert_eq!(fs.kind(&root.join("dir/script")), Some(Kind::File { exec: true }));
        assert_eq!(fs.kind(&root.join("link")), Some(Kind::Symlink));
        assert_eq!(fs.kind(&root.join("none")), None);
        assert_eq!(fs.read_link(&root.join("link")), Some(p("dir/script")));
        assert_eq!(fs.list(root), vec![OsString::from("dir"), OsString::from("link")]);
        assert_eq!(fs.links(root), vec![OsString::from("link")]);
        assert_eq!(fs.head(&root.join("dir/script"), 9).unwrap(), b"#!/bin/sh");
        assert_eq!(fs.head(&root.join("link"), 9), None, "never through a final link");
        assert!(fs.readable(&root.join("link")) && fs.readable(root));
        assert!(!fs.readable(&root.join("none")));
        let real = std::fs::canonicalize(root.join("dir/script")).unwrap();
        assert_eq!(fs.real(&std::fs::canonicalize(root).unwrap().join("link")), Some(real));
    }
}
