//! One look per path while a Plan is built.
//!
//! Following the links of `/etc` walks hundreds of paths that share their
//! first components (`/etc/ssl/certs/*` all lead into
//! `/usr/share/ca-certificates/mozilla/`, `/etc/alternatives/*` into a few
//! directories of `/usr`): without a memory every walk `lstat`s `/usr`,
//! `/usr/share`, … again, about 8,000 calls per start on a desktop Debian.
//! [`Memo`] answers each path's `lstat`, `readlink`, listing and access
//! check once per Plan; the host does not change in between in any way the
//! Plan could rely on (it is read again at launch, where every bind is
//! opened).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{HostFs, Kind};

/// A [`HostFs`] that asks `inner` about each path once.
pub struct Memo<'a> {
    inner: &'a dyn HostFs,
    kinds: RefCell<Map<Option<Kind>>>,
    targets: RefCell<Map<Option<PathBuf>>>,
    readable: RefCell<Map<bool>>,
    lists: RefCell<Map<Vec<OsString>>>,
}

/// Answers by path, its bytes hashed with [`Fx`] (a path spelled two ways
/// is asked about twice, and answered the same).
type Map<V> = HashMap<Vec<u8>, V, BuildHasherDefault<Fx>>;

/// The hash of rustc's own tables (FxHash), a few times faster on paths
/// than the standard one, whose resistance to chosen collisions a table
/// that lives while one Plan is built, of paths the host holds, does not
/// need.
#[derive(Default)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.add(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> Memo<'a> {
    pub fn new(inner: &'a dyn HostFs) -> Self {
        Memo {
            inner,
            kinds: RefCell::default(),
            targets: RefCell::default(),
            readable: RefCell::default(),
            lists: RefCell::default(),
        }
    }
}

/// The cached answer for `key`, or `ask`'s, remembered.
fn once<V: Clone>(map: &RefCell<Map<V>>, key: &Path, ask: impl FnOnce() -> V) -> V {
    let key = key.as_os_str().as_bytes();
    if let Some(v) = map.borrow().get(key) {
        return v.clone();
    }
    let v = ask();
    map.borrow_mut().insert(key.to_vec(), v.clone());
    v
}

impl HostFs for Memo<'_> {
    fn kind(&self, p: &Path) -> Option<Kind> {
        once(&self.kinds, p, || self.inner.kind(p))
    }

    fn read_link(&self, p: &Path) -> Option<PathBuf> {
        once(&self.targets, p, || self.inner.read_link(p))
    }

    fn list(&self, dir: &Path) -> Vec<OsString> {
        once(&self.lists, dir, || self.inner.list(dir))
    }

    fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
        self.inner.head(p, n)
    }

    fn readable(&self, p: &Path) -> bool {
        once(&self.readable, p, || self.inner.readable(p))
    }

    /// The directory's types say which names are links: each is remembered
    /// as one, so that walking it does not `lstat` it again.
    fn links(&self, dir: &Path) -> Vec<OsString> {
        let names = self.inner.links(dir);
        let mut kinds = self.kinds.borrow_mut();
        for n in &names {
            kinds.insert(dir.join(n).into_os_string().into_vec(), Some(Kind::Symlink));
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostfs::fake::FakeFs;
    use std::cell::Cell;

    /// Counts the calls that reach the tree.
    struct Counting {
        fs: FakeFs,
        calls: Cell<usize>,
    }

    impl HostFs for Counting {
        fn kind(&self, p: &Path) -> Option<Kind> {
            self.calls.set(self.calls.get() + 1);
            self.fs.kind(p)
        }
        fn read_link(&self, p: &Path) -> Option<PathBuf> {
            self.calls.set(self.calls.get() + 1);
            self.fs.read_link(p)
        }
        fn list(&self, dir: &Path) -> Vec<OsString> {
            self.fs.list(dir)
        }
        fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
            self.fs.head(p, n)
        }
        fn readable(&self, p: &Path) -> bool {
            self.calls.set(self.calls.get() + 1);
            self.fs.readable(p)
        }
        /// The real one reads the types from the directory, no `lstat`.
        fn links(&self, dir: &Path) -> Vec<OsString> {
            self.fs.links(dir)
        }
    }

    #[test]
    fn each_path_is_asked_once_and_answers_do_not_change() {
        let mut fs = FakeFs::new();
        fs.link("/etc/ssl/certs/a.pem", "/usr/share/ca/a.crt")
            .link("/etc/ssl/certs/b.pem", "/usr/share/ca/b.crt")
            .link("/etc/ssl/certs/1.0", "a.pem")
            .file("/usr/share/ca/a.crt", "a")
            .file("/usr/share/ca/b.crt", "b");
        let counting = Counting { fs: fs.clone(), calls: Cell::new(0) };
        let memo = Memo::new(&counting);
        let certs = Path::new("/etc/ssl/certs");
        assert_eq!(memo.links(certs), fs.links(certs));
        let paths = ["/etc/ssl/certs/1.0", "/etc/ssl/certs/a.pem", "/etc/ssl/certs/b.pem"];
        let first: Vec<_> = paths.iter().map(|p| memo.walk(Path::new(p))).collect();
        let asked = counting.calls.get();
        let again: Vec<_> = paths.iter().map(|p| memo.walk(Path::new(p))).collect();
        assert_eq!(first, again);
        assert_eq!(first, paths.iter().map(|p| fs.walk(Path::new(p))).collect::<Vec<_>>());
        assert_eq!(counting.calls.get(), asked, "the second walks are answered from memory");
        // /etc, /etc/ssl, /etc/ssl/certs (the links are known from the
        // listing), /usr, /usr/share, /usr/share/ca, the two files, and the
        // three links read once each.
        assert_eq!(asked, 3 + 3 + 2 + 3, "each path once");
    }
}
