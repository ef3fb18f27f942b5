//! What the links of `/etc` pointed at last time, and whether that still holds.
//!
//! Following every link of `/etc`, `/etc/alternatives` and `/etc/ssl/certs`
//! costs a `readlink` and a few `lstat`s per link: about 740 links and 7 ms
//! on a desktop Debian, more than the rest of a start. Their answers change
//! only when the host's files do, so they are kept in
//! `$XDG_RUNTIME_DIR/sandbox/etc-links` (a directory of the caller's, 0700;
//! the file 0600, replaced at once by a rename) and used again while every
//! directory they were read from is as it was.
//!
//! - **What is kept**: the links each directory listed, and each link's
//!   walk (where it leads, through which links, and what is there). Never
//!   a decision: what the Plan covers, what may be shown and what the
//!   caller may read are worked out again on every run.
//! - **When it holds**: [`Recorder`] notes every directory a lookup went
//!   through (each component's parent, and each listed directory with its
//!   parents). Any change to a name in a directory (a new link, a link
//!   replaced, a file become a directory), to its mode or owner, or a
//!   mount over it changes that directory's device, inode, mtime or ctime:
//!   [`load`] compares all four of each, and any difference, like any
//!   unreadable or malformed file, is a miss, after which the walk is done
//!   again and kept.
//! - **Racing a change**: timestamps move in clock ticks, so a change just
//!   after a directory was read could leave its stamp as it was. No answer
//!   read from a directory that changed less than [`SETTLE`] before the
//!   walk began is kept; a run asks the host what is not kept. `/proc`,
//!   `/sys` and `/dev` are not stamped (`/etc/mtab` leads into
//!   `/proc/self`, another directory on every run): a walk that goes
//!   through them never adds anything, wherever it goes there.
//! - **Per Plan**: which links may need something (their kept walk would
//!   add something, were the caller able to read its end) depends on the
//!   Plan's operations and the caller's private directories too; it is
//!   kept for the last few Plans ([`Needs`], keyed by a hash of both,
//!   [`key`], which a collision cannot turn into more shown), when
//!   every fact it came from is kept. A run of such a Plan then reads the
//!   stamps, checks them, and follows only those few links on the host.
//! - **A file the command could write** (with `--rw $XDG_RUNTIME_DIR`): it
//!   can only make a run show less. Every link whose kept walk would add
//!   something to the sandbox is walked again on the host and only that
//!   answer counts ([`super::extra_cached`]); a kept answer only ever says
//!   that a link needs nothing.
//! - **Only the head is read on a hit**: the stamps and the Plans' needs
//!   make a head of a few KiB; the facts (most of the file, some 160 KiB
//!   for 740 links) follow it. [`load`] reads the first 16 KiB
//!   (`FIRST_READ`) in one read, more only when the head says it is
//!   longer, and keeps the file open; the facts are read from it
//!   ([`Loaded::facts`]) only for a Plan not kept. Through the same
//!   descriptor: a run that replaces the file meanwhile renames a new one
//!   over the name, and the one open stays whole. A head length that does
//!   not end the head where it says or lies beyond the file, a head longer
//!   than 1 MiB (`MAX_HEAD`) or a section longer than 16 MiB
//!   (`MAX_SECTION`) is a miss, never a larger read.
//!
//! Written by hand: it is a few hundred entries of paths, which are bytes
//! (NUL never occurs in one), so the format is fields ending in NUL: the
//! format (`sandbox etc-links 3`), the head's length in bytes (ten decimal
//! digits), the stamps, the Plans' needs (each Plan's [`Key`] in 32
//! hexadecimal digits, then its links), and the facts' section (the
//! listings, the walks, `end`).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::hostfs::{HostFs, Kind, Link, Walk};
use crate::launch::hostfile;

/// The file in the cache directory.
pub const FILE: &str = "etc-links";

/// How long a directory must have been left alone before what was read in
/// it is kept (a few clock ticks, with room to spare).
pub const SETTLE: Duration = Duration::from_secs(2);

/// The first field of the file: its format.
const MAGIC: &[u8] = b"sandbox etc-links 3";

/// The second field is the head's length in bytes (the format, this
/// field, the stamps and the Plans' needs: where the facts' section
/// begins), in this many decimal digits.
const LEN_DIGITS: usize = 10;

/// Where the stamps begin, after the first two fields.
const STAMPS_AT: usize = MAGIC.len() + 1 + LEN_DIGITS + 1;

/// What [`load`] reads first: the head of a desktop's `/etc` (60 stamps,
/// 8 Plans) takes a few KiB.
const FIRST_READ: usize = 16 * 1024;

/// The longest head read: the file is one the command may have written
/// (`--rw $XDG_RUNTIME_DIR`), so a forged length is a miss, not that much
/// memory. A head is a few KiB.
const MAX_HEAD: usize = 1 << 20;

/// The longest facts' section read, likewise: 740 links take 160 KiB.
const MAX_SECTION: usize = 16 << 20;

/// What `lstat` said of a directory: any change to its entries, mode,
/// owner or mount changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Stamp {
    /// The stamp of the directory at `p` (not followed), if it is one.
    pub fn of(p: &Path) -> Option<Stamp> {
        let st = nix::sys::stat::lstat(p).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return None;
        }
        Some(Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        })
    }

    /// When the directory last changed.
    fn changed(&self) -> SystemTime {
        let (s, ns) = self.ctime;
        UNIX_EPOCH + Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32)
    }
}

/// What was read, and the directories it was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub stamps: Vec<(PathBuf, Stamp)>,
    pub listings: Vec<(PathBuf, Vec<OsString>)>,
    pub walks: Vec<(PathBuf, Option<Walk>)>,
}

/// A [`HostFs`] that notes what [`HostFs::links`] and [`HostFs::walk`]
/// answered and every directory each answer's lookups went through.
pub struct Recorder<'a> {
    inner: &'a dyn HostFs,
    /// The directories the answer being made went through.
    seen: RefCell<BTreeSet<PathBuf>>,
    listings: RefCell<Vec<Noted<Vec<OsString>>>>,
    walks: RefCell<Vec<Noted<Option<Walk>>>>,
}

/// An answer about a path, with the directories it went through.
type Noted<T> = (PathBuf, T, BTreeSet<PathBuf>);

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn HostFs) -> Self {
        Recorder { inner, seen: RefCell::default(), listings: RefCell::default(), walks: RefCell::default() }
    }

    /// A lookup of `p` goes through every directory above it.
    fn above(&self, p: &Path) {
        let mut seen = self.seen.borrow_mut();
        for a in p.ancestors().skip(1) {
            if !seen.insert(a.to_path_buf()) {
                break;
            }
        }
    }

    /// What was read, with the stamps of the directories it was read from,
    /// and whether it is all of it. An answer is left out when a directory
    /// it went through is gone or changed after `settled`; `None` when
    /// nothing is left. The kernel's file systems are not stamped: `/proc`
    /// holds another `/proc/self` on every run, and a link that leads
    /// into them never adds anything ([`super::KERNEL`]).
    pub fn facts(self, settled: SystemTime) -> Option<(Facts, bool)> {
        self.facts_with(settled, Stamp::of)
    }

    /// [`Self::facts`], with `of` for [`Stamp::of`].
    fn facts_with(self, settled: SystemTime, of: impl Fn(&Path) -> Option<Stamp>) -> Option<(Facts, bool)> {
        // Each directory's stamp; `None` for one that is not there (or not
        // a directory): the stamp of the directory above it, which every
        // answer that went through it went through too, covers its coming.
        let mut stamps: HashMap<PathBuf, Option<Stamp>> = HashMap::new();
        let mut stamp = |dir: &Path| *stamps.entry(dir.to_path_buf()).or_insert_with(|| of(dir));
        let mut used: BTreeSet<PathBuf> = BTreeSet::new();
        let mut all = true;
        let mut keep = |dirs: BTreeSet<PathBuf>| {
            let dirs: BTreeSet<PathBuf> = dirs
                .into_iter()
                .filter(|d| !super::KERNEL.iter().any(|k| d.starts_with(k)) && stamp(d).is_some())
                .collect();
            let ok = dirs.iter().all(|d| stamp(d).is_some_and(|s| s.changed() <= settled));
            if ok {
                used.extend(dirs);
            }
            all &= ok;
            ok
        };
        let mut facts = Facts::default();
        for (dir, names, dirs) in self.listings.into_inner() {
            if keep(dirs) {
                facts.listings.push((dir, names));
            }
        }
        for (p, w, dirs) in self.walks.into_inner() {
            if keep(dirs) {
                facts.walks.push((p, w));
            }
        }
        if facts.listings.is_empty() && facts.walks.is_empty() {
            return None;
        }
        facts.stamps =
            used.into_iter().filter_map(|d| Some((d.clone(), stamps.get(&d).copied().flatten()?))).collect();
        Some((facts, all))
    }

    /// Runs `answer` with a fresh set of directories seen, and returns them.
    fn noting<T>(&self, answer: impl FnOnce() -> T) -> (T, BTreeSet<PathBuf>) {
        let outer = self.seen.replace(BTreeSet::new());
        let out = answer();
        (out, self.seen.replace(outer))
    }
}

impl HostFs for Recorder<'_> {
    fn kind(&self, p: &Path) -> Option<Kind> {
        self.above(p);
        self.inner.kind(p)
    }

    fn read_link(&self, p: &Path) -> Option<PathBuf> {
        self.above(p);
        self.inner.read_link(p)
    }

    fn list(&self, dir: &Path) -> Vec<OsString> {
        self.inner.list(dir)
    }

    fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
        self.inner.head(p, n)
    }

    fn readable(&self, p: &Path) -> bool {
        self.inner.readable(p)
    }

    fn links(&self, dir: &Path) -> Vec<OsString> {
        let (names, dirs) = self.noting(|| {
            self.above(&dir.join("x"));
            self.inner.links(dir)
        });
        self.listings.borrow_mut().push((dir.to_path_buf(), names.clone(), dirs));
        names
    }

    fn walk(&self, p: &Path) -> Option<Walk> {
        // Through this recorder, so that every lookup is noted.
        let (w, dirs) = self.noting(|| crate::hostfs::walk(self, p));
        self.walks.borrow_mut().push((p.to_path_buf(), w.clone(), dirs));
        w
    }
}

/// A [`HostFs`] that answers [`HostFs::links`] and [`HostFs::walk`] from
/// kept [`Facts`] where it can, and asks `live` everything else.
pub struct Cached<'a> {
    live: &'a dyn HostFs,
    listings: HashMap<PathBuf, Vec<OsString>>,
    walks: HashMap<PathBuf, Option<Walk>>,
    asked: std::cell::Cell<bool>,
}

impl<'a> Cached<'a> {
    pub fn new(facts: Facts, live: &'a dyn HostFs) -> Self {
        let (listings, walks) = (facts.listings.into_iter().collect(), facts.walks.into_iter().collect());
        Cached { live, listings, walks, asked: false.into() }
    }

    /// Whether a listing or a walk was not kept and was asked of the host.
    pub fn asked_the_host(&self) -> bool {
        self.asked.get()
    }
}

impl HostFs for Cached<'_> {
    fn kind(&self, p: &Path) -> Option<Kind> {
        self.live.kind(p)
    }

    fn read_link(&self, p: &Path) -> Option<PathBuf> {
        self.live.read_link(p)
    }

    fn list(&self, dir: &Path) -> Vec<OsString> {
        self.live.list(dir)
    }

    fn head(&self, p: &Path, n: usize) -> Option<Vec<u8>> {
        self.live.head(p, n)
    }

    fn readable(&self, p: &Path) -> bool {
        self.live.readable(p)
    }

    fn links(&self, dir: &Path) -> Vec<OsString> {
        match self.listings.get(dir) {
            Some(names) => names.clone(),
            None => {
                self.asked.set(true);
                self.live.links(dir)
            }
        }
    }

    fn walk(&self, p: &Path) -> Option<Walk> {
        match self.walks.get(p) {
            Some(w) => w.clone(),
            None => {
                self.asked.set(true);
                self.live.walk(p)
            }
        }
    }
}

/// The links that may need something for one Plan (those whose kept walk
/// would add a bind or a symlink, whether or not the caller can read its
/// end): `key` says which Plan ([`key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub key: Key,
    pub links: Vec<PathBuf>,
}

/// How many Plans' [`Needs`] are kept, the latest first.
const PLANS: usize = 8;

/// Which Plan [`Needs`] are for: 128 bits of a hash ([`key`]).
pub type Key = u128;

/// What [`Needs`] depend on besides the kept facts, the Plan's file-system
/// operations and what of the caller [`super::allowed`] reads, hashed:
/// two SipHash sums of them (std's `DefaultHasher::new`, the same in
/// every run of one build; another build may find no Plan kept). Their
/// text took 2.4 KiB a Plan (a file's contents as a list of numbers),
/// 20 µs to make, and eight of them made the head longer than the first
/// read.
///
/// A collision cannot make a run show more. A key only picks the list of
/// links a run follows, and [`super::extra_cached`] checks each link named
/// against this run's Plan (directly in `/etc` or [`super::SUBDIRS`],
/// shown as the host's) and follows it on the host for this Plan, as
/// with no cache at all: another Plan's list can only leave out a link
/// this one needs. So can a forged file, which the command (with `--rw
/// $XDG_RUNTIME_DIR`) writes with any key and any list, with no need of a
/// collision; by chance, among 8 Plans, one is 2^-125 likely.
pub fn key(ops: &[crate::plan::FsOp], host: &crate::host::Host) -> Key {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let half = |seed: u64| {
        let mut h = DefaultHasher::new();
        (seed, ops, &host.home, &host.private).hash(&mut h);
        h.finish()
    };
    (Key::from(half(1)) << 64) | Key::from(half(2))
}

/// A cache file whose directories are all as they were: its stamps and
/// Plans read, its facts read when asked, from the file kept open.
pub struct Loaded {
    file: File,
    /// The head's length: where the facts' section begins.
    head: usize,
    /// The facts' section, once read (`None` when it could not be).
    section: OnceCell<Option<Vec<u8>>>,
    pub stamps: Vec<(PathBuf, Stamp)>,
    pub needs: Vec<Needs>,
}

impl Loaded {
    /// The links that may need something for the Plan `key`, if kept.
    pub fn needs(&self, key: Key) -> Option<&[PathBuf]> {
        self.needs.iter().find(|n| n.key == key).map(|n| n.links.as_slice())
    }

    /// The kept listings and walks, read from the file now (the first
    /// time): `None` when they cannot be read or are malformed.
    pub fn facts(&self) -> Option<Facts> {
        let (listings, walks) = decode_section(self.section()?)?;
        Some(Facts { stamps: self.stamps.clone(), listings, walks })
    }

    /// The facts' section, read once.
    fn section(&self) -> Option<&[u8]> {
        self.section.get_or_init(|| read_section(&self.file, self.head)).as_deref()
    }

    /// Keeps `needs` too (the latest first, at most [`PLANS`]), with the
    /// same facts.
    pub fn store_needs(&self, dir: &Path, needs: Needs) -> Result<(), String> {
        let section = self.section().ok_or("the facts cannot be read")?;
        let others = self.needs.iter().filter(|n| n.key != needs.key).take(PLANS - 1).cloned();
        let all: Vec<Needs> = std::iter::once(needs.clone()).chain(others).collect();
        write(dir, &encode_file(&self.stamps, &all, section)?)
    }
}

/// The cache file in the directory `dir`, when every directory its facts
/// were read from is as it was: its head read, its facts not yet.
pub fn load(dir: &Path) -> Option<Loaded> {
    let fd = hostfile::open_dir(dir).ok()?;
    let file = hostfile::file_beneath_ro(&fd, FILE).ok()?;
    let bytes = read_head(&file)?;
    let (stamps, needs, head) = decode_head(&bytes)?;
    if !stamps.iter().all(|(p, s)| Stamp::of(p) == Some(*s)) {
        return None;
    }
    Some(Loaded { file, head, section: OnceCell::new(), stamps, needs })
}

/// The head of `file` (its first bytes, as long as its second field
/// says): one read of [`FIRST_READ`] bytes, and another of the rest when
/// the head is longer. `None` when the file ends before, or the length is
/// not one.
fn read_head(file: &File) -> Option<Vec<u8>> {
    let mut bytes = vec![0; FIRST_READ];
    let n = fill(file, &mut bytes)?;
    bytes.truncate(n);
    let len = head_len(&bytes)?;
    if len > n {
        if n < FIRST_READ {
            return None;
        }
        bytes.resize(len, 0);
        file.read_exact_at(&mut bytes[n..], n as u64).ok()?;
    }
    bytes.truncate(len);
    Some(bytes)
}

/// Reads `file` into `buf` until it is full or the file ends; how much.
fn fill(mut file: &File, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(n)
}

/// The facts' section of `file`: from `at` (the head's length) to its
/// end, at most [`MAX_SECTION`] bytes.
fn read_section(file: &File, at: usize) -> Option<Vec<u8>> {
    let size = usize::try_from(file.metadata().ok()?.len()).ok()?;
    let len = size.checked_sub(at).filter(|n| *n <= MAX_SECTION)?;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, at as u64).ok()?;
    Some(bytes)
}

/// Keeps `facts` and a Plan's `needs` in the cache directory `dir` (made
/// 0700 if absent, in a parent that must exist and be the caller's).
pub fn store(dir: &Path, facts: &Facts, needs: Option<Needs>) -> Result<(), String> {
    let section = encode_section(facts);
    write(dir, &encode_file(&facts.stamps, needs.as_slice(), &section)?)
}

fn write(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    let parent = dir.parent().ok_or("no parent")?;
    let name = dir.file_name().and_then(OsStr::to_str).ok_or("no name")?;
    let parent = hostfile::open_dir(parent)?;
    let fd = hostfile::dir_beneath(&parent, name)?;
    hostfile::replace_beneath(&fd, FILE, bytes)
}

fn kind_code(k: Option<Kind>) -> &'static [u8] {
    match k {
        None => b"0",
        Some(Kind::Dir) => b"d",
        Some(Kind::File { exec: false }) => b"f",
        Some(Kind::File { exec: true }) => b"x",
        Some(Kind::Symlink) => b"l",
        Some(Kind::Other) => b"o",
    }
}

fn code_kind(c: &[u8]) -> Option<Option<Kind>> {
    Some(match c {
        b"0" => None,
        b"d" => Some(Kind::Dir),
        b"f" => Some(Kind::File { exec: false }),
        b"x" => Some(Kind::File { exec: true }),
        b"l" => Some(Kind::Symlink),
        b"o" => Some(Kind::Other),
        _ => return None,
    })
}

/// Fields, each ended by a NUL.
struct Out(Vec<u8>);

impl Out {
    fn put(&mut self, field: &[u8]) {
        self.0.extend_from_slice(field);
        self.0.push(0);
    }

    fn num(&mut self, n: impl ToString) {
        self.put(n.to_string().as_bytes());
    }

    fn path(&mut self, p: &Path) {
        self.put(p.as_os_str().as_bytes());
    }
}

/// The whole file: the format, the head's length, the stamps, the Plans'
/// needs, then the facts' `section` ([`encode_section`]). An error when
/// the head or the section is longer than [`load`] reads.
fn encode_file(stamps: &[(PathBuf, Stamp)], needs: &[Needs], section: &[u8]) -> Result<Vec<u8>, String> {
    if section.len() > MAX_SECTION {
        return Err(format!("the facts take {} bytes, more than {MAX_SECTION}", section.len()));
    }
    let mut o = Out(Vec::with_capacity(section.len() + 8192));
    o.put(MAGIC);
    o.put(&[b'0'; LEN_DIGITS]);
    o.num(stamps.len());
    for (p, s) in stamps {
        o.path(p);
        for n in [
            s.dev as i128,
            s.ino as i128,
            s.mtime.0.into(),
            s.mtime.1.into(),
            s.ctime.0.into(),
            s.ctime.1.into(),
        ] {
            o.num(n);
        }
    }
    o.num(needs.len());
    for n in needs {
        o.put(format!("{:032x}", n.key).as_bytes());
        o.num(n.links.len());
        for l in &n.links {
            o.path(l);
        }
    }
    let head = o.0.len();
    if head > MAX_HEAD {
        return Err(format!("the stamps and Plans take {head} bytes, more than {MAX_HEAD}"));
    }
    let len = format!("{head:0LEN_DIGITS$}");
    o.0[MAGIC.len() + 1..STAMPS_AT - 1].copy_from_slice(len.as_bytes());
    o.0.extend_from_slice(section);
    Ok(o.0)
}

/// The listings and walks, ending the file.
fn encode_section(f: &Facts) -> Vec<u8> {
    let mut o = Out(Vec::new());
    o.num(f.listings.len());
    for (dir, names) in &f.listings {
        o.path(dir);
        o.num(names.len());
        for n in names {
            o.put(n.as_bytes());
        }
    }
    o.num(f.walks.len());
    for (p, w) in &f.walks {
        o.path(p);
        match w {
            None => o.put(b"-"),
            Some(w) => {
                o.put(kind_code(w.kind));
                o.path(&w.real);
                o.num(w.links.len());
                for l in &w.links {
                    o.path(&l.at);
                    o.path(&l.target);
                }
            }
        }
    }
    o.put(b"end");
    o.0
}

/// A file of `f` and no Plan's needs (`None` when too long to be read).
pub fn encode(f: &Facts) -> Option<Vec<u8>> {
    encode_file(&f.stamps, &[], &encode_section(f)).ok()
}

/// The fields of a file, read in order, each ended by a NUL.
struct In<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> In<'b> {
    fn field(&mut self) -> Option<&'b [u8]> {
        let rest = self.bytes.get(self.at..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        self.at += end + 1;
        Some(&rest[..end])
    }

    fn num<T: std::str::FromStr>(&mut self) -> Option<T> {
        std::str::from_utf8(self.field()?).ok()?.parse().ok()
    }

    /// A count, at most the fields left could hold.
    fn count(&mut self) -> Option<usize> {
        let left = self.bytes.len() - self.at;
        self.num::<usize>().filter(|n| *n <= left)
    }

    /// A [`Key`]: 32 hexadecimal digits.
    fn key(&mut self) -> Option<Key> {
        let f = self.field()?;
        if f.len() != 32 || !f.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        Key::from_str_radix(std::str::from_utf8(f).ok()?, 16).ok()
    }

    fn path(&mut self) -> Option<PathBuf> {
        let f = self.field()?;
        (!f.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(f)))
    }

    fn abs(&mut self) -> Option<PathBuf> {
        self.path().filter(|p| p.is_absolute())
    }

    /// One name in a directory: never `.`, `..`, or with a `/`.
    fn name(&mut self) -> Option<OsString> {
        let f = self.field()?;
        let plain = !f.is_empty() && f != b"." && f != b".." && !f.contains(&b'/');
        plain.then(|| OsStr::from_bytes(f).to_os_string())
    }
}

/// The head's length its second field gives, when the first is this
/// format's and the length is one a head can have.
fn head_len(bytes: &[u8]) -> Option<usize> {
    let mut i = In { bytes, at: 0 };
    if i.field()? != MAGIC {
        return None;
    }
    let digits = i.field()?;
    if digits.len() != LEN_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (STAMPS_AT..=MAX_HEAD).contains(&len).then_some(len)
}

/// The stamps and the Plans' needs, and where the facts' section begins.
type Head = (Vec<(PathBuf, Stamp)>, Vec<Needs>, usize);

/// The head at the start of `bytes`: it must end exactly where its
/// length says.
fn decode_head(bytes: &[u8]) -> Option<Head> {
    let len = head_len(bytes)?;
    let mut i = In { bytes: bytes.get(..len)?, at: STAMPS_AT };
    let mut stamps = Vec::new();
    for _ in 0..i.count()? {
        let p = i.abs()?;
        let (dev, ino) = (i.num()?, i.num()?);
        let mtime = (i.num()?, i.num()?);
        let ctime = (i.num()?, i.num()?);
        stamps.push((p, Stamp { dev, ino, mtime, ctime }));
    }
    let mut needs = Vec::new();
    for _ in 0..i.count()? {
        let key = i.key()?;
        let links = (0..i.count()?).map(|_| i.abs()).collect::<Option<_>>()?;
        needs.push(Needs { key, links });
    }
    (i.at == len).then_some((stamps, needs, len))
}

type Section = (Vec<(PathBuf, Vec<OsString>)>, Vec<(PathBuf, Option<Walk>)>);

fn decode_section(bytes: &[u8]) -> Option<Section> {
    let mut i = In { bytes, at: 0 };
    let mut listings = Vec::new();
    for _ in 0..i.count()? {
        let dir = i.abs()?;
        let names = (0..i.count()?).map(|_| i.name()).collect::<Option<_>>()?;
        listings.push((dir, names));
    }
    let mut walks = Vec::new();
    for _ in 0..i.count()? {
        let p = i.abs()?;
        let code = i.field()?;
        if code == b"-" {
            walks.push((p, None));
            continue;
        }
        let kind = code_kind(code)?;
        let real = i.abs()?;
        let links = (0..i.count()?)
            .map(|_| Some(Link { at: i.abs()?, target: i.path()? }))
            .collect::<Option<Vec<_>>>()?;
        walks.push((p, Some(Walk { real, kind, links })));
    }
    (i.field()? == b"end" && i.at == bytes.len()).then_some((listings, walks))
}

/// The facts of a whole file (its Plans' needs left out).
pub fn decode(bytes: &[u8]) -> Option<Facts> {
    let (stamps, _, section) = decode_head(bytes)?;
    let (listings, walks) = decode_section(&bytes[section..])?;
    Some(Facts { stamps, listings, walks })
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
