//! A [`Sys`] for unit tests: it records every call that changes something
//! as a typed [`Call`], makes none, and answers the questions of the root
//! builder (does this exist, is it a directory, where is this fd) from a
//! small fake tree. It can fail on the Nth call it records.
//!
//! The tree: the host is every path, a directory, unless the test names it
//! a file, a link or missing. Mounts are kept in order: a bind shows its
//! source beneath its mount point (as the tree was when it was made), a
//! fresh file system (tmpfs, devpts, …) shows only what was created in it
//! since, proc shows the host's /proc. Paths are the ones the builder
//! names: the double does not move the root on pivot_root, so the scratch
//! tmpfs stays at /tmp and the host's objects opened after the first
//! pivot_root are named /oldroot/…; `Call`'s display names the new root
//! `/newroot` (it is /tmp/root).
//!
//! Descriptors it hands out are real (duplicates of /dev/null), so they
//! can be held and closed; each maps to the path it was opened at, and to
//! the number of mounts made by then.
//!
//! It checks one safety rule of the root builder on every call that acts
//! on a mount point through a descriptor (mount(2) on `/proc/self/fd/N`,
//! move_mount's target, mount_setattr): the descriptor was resolved after
//! every mount made at its path or above it. One resolved before such a
//! mount names what lies beneath it now, not what the path means; the
//! double panics, naming both.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{FileStat, SFlag};
use nix::sys::statvfs::FsFlags;

use super::{ResolveFlag, Sys};

mod call;
mod openat2_fails;

pub use call::Call;
pub use openat2_fails::Openat2Fails;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File,
    Link(PathBuf),
}

#[derive(Debug, Clone)]
enum Mounted {
    /// Shows this path as it was when mounted.
    Bind(PathBuf),
    /// A new, empty file system.
    Fresh,
}

/// Where a path really is: created in the fresh mount with this index, or
/// on the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Fresh(usize, PathBuf),
    Host(PathBuf),
}

pub struct RecordingSys {
    null: OwnedFd,
    /// Each descriptor's path, and how many mounts were made before it.
    fds: RefCell<HashMap<RawFd, (PathBuf, usize)>>,
    host_files: BTreeSet<PathBuf>,
    host_links: BTreeMap<PathBuf, PathBuf>,
    host_missing: BTreeSet<PathBuf>,
    mounts: RefCell<Vec<(PathBuf, Mounted)>>,
    created: RefCell<BTreeMap<Place, Node>>,
    calls: RefCell<Vec<Call>>,
    fail: Cell<Option<(usize, Errno)>>,
}

impl Default for RecordingSys {
    fn default() -> Self {
        RecordingSys {
            null: super::raw::open(Path::new("/dev/null"), libc::O_RDONLY).expect("/dev/null"),
            fds: RefCell::default(),
            host_files: BTreeSet::new(),
            host_links: BTreeMap::new(),
            host_missing: BTreeSet::new(),
            mounts: RefCell::default(),
            created: RefCell::default(),
            calls: RefCell::default(),
            fail: Cell::new(None),
        }
    }
}

impl RecordingSys {
    /// Host paths that are regular files (the rest are directories).
    pub fn files(mut self, paths: &[&str]) -> Self {
        self.host_files.extend(paths.iter().map(PathBuf::from));
        self
    }

    /// Host paths that do not exist (nor anything beneath them).
    pub fn missing(mut self, paths: &[&str]) -> Self {
        self.host_missing.extend(paths.iter().map(PathBuf::from));
        self
    }

    /// A host symlink.
    pub fn link(mut self, path: &str, target: &str) -> Self {
        self.host_links.insert(path.into(), target.into());
        self
    }

    /// The `n`th recorded call (from 1) fails with `e`, and is not made.
    pub fn fail_at(self, n: usize, e: Errno) -> Self {
        self.fail.set(Some((n, e)));
        self
    }

    /// What was recorded, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// The recorded calls as text, one per line (see [`Call`]'s display).
    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.to_string()).collect()
    }

    fn record(&self, call: Call) -> nix::Result<()> {
        let mut calls = self.calls.borrow_mut();
        if let Some((n, e)) = self.fail.get() {
            if calls.len() + 1 == n {
                self.fail.set(None);
                return Err(e);
            }
        }
        calls.push(call);
        Ok(())
    }

    fn new_fd(&self, path: PathBuf) -> nix::Result<OwnedFd> {
        let fd = self.null.try_clone().map_err(|_| Errno::EMFILE)?;
        let made = self.mounts.borrow().len();
        self.fds.borrow_mut().insert(fd.as_raw_fd(), (path, made));
        Ok(fd)
    }

    fn path_of(&self, fd: &dyn AsFd) -> nix::Result<PathBuf> {
        self.fds.borrow().get(&fd.as_fd().as_raw_fd()).map(|(p, _)| p.clone()).ok_or(Errno::EBADF)
    }

    /// Panics when the descriptor `fd` (of this double) was resolved
    /// before a mount made since at its path or above it (see the module
    /// doc).
    fn check_fresh(&self, fd: RawFd, call: &str) {
        let Some((path, made)) = self.fds.borrow().get(&fd).cloned() else { return };
        let mounts = self.mounts.borrow();
        if let Some((at, _)) = mounts[made.min(mounts.len())..].iter().find(|(at, _)| path.starts_with(at)) {
            panic!(
                "{call} through the fd of {} resolved before the mount at {}: \
                 it names what is beneath that mount",
                path.display(),
                at.display()
            );
        }
    }

    /// The descriptor number of `/proc/self/fd/N`.
    fn fd_number(p: &Path) -> Option<RawFd> {
        let rest = p.strip_prefix("/proc/self/fd").ok()?;
        let mut parts = rest.components();
        let n = parts.next()?.as_os_str().to_str()?.parse().ok()?;
        parts.next().is_none().then_some(n)
    }

    /// `/proc/self/fd/N` of a descriptor this double gave out, as its path;
    /// any other path as it is.
    fn logical(&self, p: &Path) -> PathBuf {
        let fds = self.fds.borrow();
        let Ok(rest) = p.strip_prefix("/proc/self/fd") else { return p.to_path_buf() };
        let mut parts = rest.components();
        let fd = parts.next().and_then(|c| c.as_os_str().to_str()?.parse::<RawFd>().ok());
        match fd.and_then(|n| fds.get(&n)) {
            Some((base, _)) if parts.as_path().as_os_str().is_empty() => base.clone(),
            Some((base, _)) => base.join(parts.as_path()),
            None => p.to_path_buf(),
        }
    }

    /// Every `/proc/self/fd/N` in a mount's data, as its path.
    fn logical_data(&self, data: &str) -> String {
        let mut out = String::new();
        let mut rest = data;
        while let Some(i) = rest.find("/proc/self/fd/") {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let end = tail[14..].find(|c: char| !c.is_ascii_digit()).map_or(tail.len(), |j| j + 14);
            out.push_str(&self.logical(Path::new(&tail[..end])).display().to_string());
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    /// Where `p` really is, seen through the mounts before `below`.
    fn place(&self, p: &Path, below: usize) -> Place {
        let mounts = self.mounts.borrow();
        let found = mounts[..below.min(mounts.len())]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, (at, _))| p.starts_with(at))
            .max_by_key(|(i, (at, _))| (at.components().count(), *i));
        match found {
            None => Place::Host(p.to_path_buf()),
            Some((i, (_, Mounted::Fresh))) => Place::Fresh(i, p.to_path_buf()),
            Some((i, (at, Mounted::Bind(src)))) => {
                let rest = p.strip_prefix(at).unwrap_or(Path::new(""));
                let src = if rest.as_os_str().is_empty() { src.clone() } else { src.join(rest) };
                self.place(&src, i)
            }
        }
    }

    fn node(&self, p: &Path) -> Option<Node> {
        let mounts = self.mounts.borrow().len();
        match self.place(p, mounts) {
            Place::Host(h) => {
                if h.ancestors().any(|a| self.host_missing.contains(a)) {
                    None
                } else if let Some(t) = self.host_links.get(&h) {
                    Some(Node::Link(t.clone()))
                } else if self.host_files.contains(&h) {
                    Some(Node::File)
                } else {
                    Some(Node::Dir)
                }
            }
            Place::Fresh(i, q) if self.mounts.borrow()[i].0 == q => Some(Node::Dir),
            place => self.created.borrow().get(&place).cloned(),
        }
    }

    fn create(&self, p: &Path, node: Node) -> nix::Result<()> {
        let parent = p.parent().ok_or(Errno::EEXIST)?;
        if self.node(parent) != Some(Node::Dir) {
            return Err(Errno::ENOENT);
        }
        if self.node(p).is_some() {
            return Err(Errno::EEXIST);
        }
        let place = self.place(p, self.mounts.borrow().len());
        self.created.borrow_mut().insert(place, node);
        Ok(())
    }

    /// `path` from `dir`, symlinks followed (the last one only with
    /// `follow_last`); with `in_root`, `/` and `..` stop at `dir`, as
    /// RESOLVE_IN_ROOT does.
    fn resolve(&self, dir: &Path, path: &Path, in_root: bool, follow_last: bool) -> nix::Result<PathBuf> {
        let mut todo: VecDeque<Step> = steps(path).collect();
        let mut cur = dir.to_path_buf();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            match c {
                Step::Root => cur = if in_root { dir.to_path_buf() } else { PathBuf::from("/") },
                Step::Up if !in_root || cur != dir => drop(cur.pop()),
                Step::Up => {}
                Step::Name(n) => {
                    let next = cur.join(n);
                    match self.node(&next) {
                        Some(Node::Link(t)) if follow_last || !todo.is_empty() => {
                            links += 1;
                            if links > 40 {
                                return Err(Errno::ELOOP);
                            }
                            for c in steps(&t).collect::<Vec<_>>().into_iter().rev() {
                                todo.push_front(c);
                            }
                        }
                        Some(_) => cur = next,
                        None if todo.is_empty() => return Ok(next),
                        None => return Err(Errno::ENOENT),
                    }
                }
            }
        }
        Ok(cur)
    }

    /// An open of `p`: a new descriptor for it, the file created first
    /// with O_CREAT.
    fn open_at(&self, p: PathBuf, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
        let create = flags & libc::O_CREAT != 0;
        match self.node(&p) {
            Some(_) if create && flags & libc::O_EXCL != 0 => return Err(Errno::EEXIST),
            Some(n) if flags & libc::O_DIRECTORY != 0 && n != Node::Dir => return Err(Errno::ENOTDIR),
            Some(_) => {}
            None if create => {
                self.record(Call::Create { path: p.clone(), mode })?;
                self.create(&p, Node::File)?;
            }
            None => return Err(Errno::ENOENT),
        }
        self.new_fd(p)
    }
}

/// One step of a lookup.
enum Step {
    Root,
    Up,
    Name(OsString),
}

fn steps(p: &Path) -> impl Iterator<Item = Step> + '_ {
    p.components().filter_map(|c| match c {
        Component::RootDir => Some(Step::Root),
        Component::ParentDir => Some(Step::Up),
        Component::Normal(n) => Some(Step::Name(n.to_owned())),
        _ => None,
    })
}

impl Sys for RecordingSys {
    fn open(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
        let follow = flags & libc::O_NOFOLLOW == 0;
        let p = self.resolve(Path::new("/"), &self.logical(path), false, follow)?;
        self.open_at(p, flags, 0)
    }

    fn openat(&self, dir: &dyn AsFd, name: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
        let follow = flags & libc::O_NOFOLLOW == 0;
        let p = self.resolve(&self.path_of(dir)?, name, false, follow)?;
        self.open_at(p, flags, mode)
    }

    fn openat2(&self, dir: &dyn AsFd, path: &Path, flags: i32, resolve: ResolveFlag) -> nix::Result<OwnedFd> {
        let in_root = resolve.contains(ResolveFlag::RESOLVE_IN_ROOT);
        let p = self.resolve(&self.path_of(dir)?, path, in_root, flags & libc::O_NOFOLLOW == 0)?;
        self.open_at(p, flags, 0)
    }

    fn fstat(&self, fd: &dyn AsFd) -> nix::Result<FileStat> {
        let kind = match self.node(&self.path_of(fd)?).ok_or(Errno::ENOENT)? {
            Node::Dir => SFlag::S_IFDIR,
            Node::File => SFlag::S_IFREG,
            Node::Link(_) => SFlag::S_IFLNK,
        };
        // SAFETY: stat is plain old data; all-zero is a valid value.
        let mut st: FileStat = unsafe { std::mem::zeroed() };
        st.st_mode = kind.bits();
        st.st_dev = 1;
        Ok(st)
    }

    fn fs_type(&self, _fd: &dyn AsFd) -> nix::Result<i64> {
        Ok(0xef53)
    }

    fn readlinkat(&self, dir: &dyn AsFd, name: &Path) -> nix::Result<OsString> {
        match self.node(&self.path_of(dir)?.join(name)) {
            Some(Node::Link(t)) => Ok(t.into_os_string()),
            Some(_) => Err(Errno::EINVAL),
            None => Err(Errno::ENOENT),
        }
    }

    fn readlink(&self, path: &Path) -> nix::Result<OsString> {
        let p = self.logical(path);
        match self.node(&p) {
            Some(Node::Link(t)) => Ok(t.into_os_string()),
            _ if p != path => Ok(p.into_os_string()),
            Some(_) => Err(Errno::EINVAL),
            None => Err(Errno::ENOENT),
        }
    }

    fn location(&self, fd: &dyn AsFd) -> nix::Result<PathBuf> {
        self.path_of(fd)
    }

    fn writable(&self, _fd: &dyn AsFd) -> bool {
        false
    }

    fn terminal(&self, _host: &Path) -> Option<OwnedFd> {
        None
    }

    fn mountinfo(&self) -> nix::Result<String> {
        Ok(String::new())
    }

    fn statvfs(&self, _path: &Path) -> nix::Result<FsFlags> {
        Ok(FsFlags::empty())
    }

    fn mkdirat(&self, dir: &dyn AsFd, name: &Path, mode: u32) -> nix::Result<()> {
        let p = self.path_of(dir)?.join(name);
        if self.node(&p).is_some() {
            return Err(Errno::EEXIST);
        }
        self.record(Call::Mkdir { path: p.clone(), mode })?;
        self.create(&p, Node::Dir)
    }

    fn symlinkat(&self, target: &Path, dir: &dyn AsFd, name: &Path) -> nix::Result<()> {
        let p = self.path_of(dir)?.join(name);
        if self.node(&p).is_some() {
            return Err(Errno::EEXIST);
        }
        self.record(Call::Symlink { target: target.to_path_buf(), path: p.clone() })?;
        self.create(&p, Node::Link(target.to_path_buf()))
    }

    fn mount(
        &self,
        src: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        if let Some(fd) = Self::fd_number(target) {
            self.check_fresh(fd, "mount");
        }
        let src = src.map(|s| self.logical(s));
        let target = self.logical(target);
        let data = data.map(|d| self.logical_data(d));
        let call = Call::Mount {
            src: src.clone(),
            target: target.clone(),
            fstype: fstype.map(str::to_string),
            flags,
            data,
        };
        self.record(call)?;
        let propagation =
            MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
        let mounted = if flags.contains(MsFlags::MS_REMOUNT) || flags.intersects(propagation) {
            return Ok(());
        } else if flags.contains(MsFlags::MS_BIND) {
            Mounted::Bind(src.ok_or(Errno::EINVAL)?)
        } else if fstype == Some("proc") {
            Mounted::Bind(PathBuf::from("/proc"))
        } else {
            Mounted::Fresh
        };
        self.mounts.borrow_mut().push((target, mounted));
        Ok(())
    }

    fn mount_setattr(&self, fd: &dyn AsFd, attrs: u64, recursive: bool) -> nix::Result<()> {
        self.check_fresh(fd.as_fd().as_raw_fd(), "mount_setattr");
        self.record(Call::SetAttr { path: self.path_of(fd)?, attrs, recursive })
    }

    fn open_tree(&self, fd: &dyn AsFd) -> nix::Result<OwnedFd> {
        let path = self.path_of(fd)?;
        self.record(Call::OpenTree { path: path.clone() })?;
        self.new_fd(path)
    }

    fn move_mount(&self, tree: &dyn AsFd, target: &dyn AsFd) -> nix::Result<()> {
        self.check_fresh(target.as_fd().as_raw_fd(), "move_mount");
        let (tree, target) = (self.path_of(tree)?, self.path_of(target)?);
        self.record(Call::MoveMount { tree: tree.clone(), target: target.clone() })?;
        // The tree shows its source as it was when cloned.
        self.mounts.borrow_mut().push((target, Mounted::Bind(tree)));
        Ok(())
    }

    fn fchmod(&self, fd: &dyn AsFd, mode: u32) -> nix::Result<()> {
        self.record(Call::Chmod { path: self.path_of(fd)?, mode })
    }

    fn chmod(&self, path: &Path, mode: u32) -> nix::Result<()> {
        self.record(Call::Chmod { path: self.logical(path), mode })
    }

    fn write(&self, fd: &dyn AsFd, data: &[u8]) -> nix::Result<()> {
        self.record(Call::Write { path: self.path_of(fd)?, len: data.len() })
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.record(Call::PivotRoot { new_root: new_root.to_path_buf(), put_old: put_old.to_path_buf() })
    }

    fn umount2(&self, path: &Path, flags: MntFlags) -> nix::Result<()> {
        self.record(Call::Umount { path: path.to_path_buf(), flags })
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::Chdir { path: path.to_path_buf() })
    }

    fn fchdir(&self, fd: &dyn AsFd) -> nix::Result<()> {
        self.record(Call::Chdir { path: self.path_of(fd)? })
    }
}
