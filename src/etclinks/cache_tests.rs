use super::*;
use crate::hostfs::RealFs;
use std::os::unix::fs::{symlink, FileExt, MetadataExt, PermissionsExt};

/// A tree with links like /etc's: `etc/` holds links into `usr/` and `run/`.
struct Tree {
    dir: tempfile::TempDir,
}

/// The tests that make a [`Tree`]: each gets a directory of its own, made
/// before any of them runs. The stamps are of every directory above a tree
/// too, so none of them may change while another test runs: not /tmp,
/// where tests make their files all the time, nor a parent they all share.
const TESTS: [&str; 11] =
    ["kept", "stamped", "changed", "modes", "planted", "cut", "fresh", "plans", "lengths", "lazy", "long"];

impl Tree {
    fn new(test: &str) -> Tree {
        static MADE: std::sync::Once = std::sync::Once::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/etclinks-cache");
        MADE.call_once(|| {
            let _ = std::fs::remove_dir_all(&root);
            for t in TESTS {
                std::fs::create_dir_all(root.join(t)).unwrap();
            }
        });
        assert!(TESTS.contains(&test), "{test}: add it to TESTS");
        let dir = tempfile::tempdir_in(root.join(test)).unwrap();
        for d in ["etc/alternatives", "usr/share/zoneinfo", "usr/bin", "run/resolve", "cache"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::set_permissions(dir.path().join("cache"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(dir.path().join("usr/share/zoneinfo/Paris"), "").unwrap();
        std::fs::write(dir.path().join("usr/bin/vim"), "").unwrap();
        std::fs::write(dir.path().join("run/resolve/stub"), "").unwrap();
        let t = Tree { dir };
        symlink(t.p("usr/share/zoneinfo/Paris"), t.p("etc/localtime")).unwrap();
        symlink("../run/resolve/stub", t.p("etc/resolv.conf")).unwrap();
        symlink(t.p("usr/bin/vim"), t.p("etc/alternatives/editor")).unwrap();
        symlink("/proc/self/mounts", t.p("etc/mtab")).unwrap();
        t
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The cache directory: `cache/sandbox`, made by [`store`].
    fn cache(&self) -> PathBuf {
        self.p("cache/sandbox")
    }

    /// Lists `etc` and `etc/alternatives` and walks each link, as
    /// [`super::super::extra_cached`] does, through a recorder.
    fn record(&self, settled: SystemTime) -> Option<Facts> {
        let rec = Recorder::new(&RealFs);
        for dir in [self.p("etc"), self.p("etc/alternatives"), self.p("etc/pki/tls")] {
            for name in rec.links(&dir) {
                rec.walk(&dir.join(name));
            }
        }
        rec.facts(settled).map(|(f, _)| f)
    }

    /// Records and keeps the facts, whatever their age.
    fn keep(&self) -> Facts {
        let facts = self.record(SystemTime::now() + Duration::from_secs(60)).expect("recorded");
        store(&self.cache(), &facts, None).unwrap();
        facts
    }
}

/// The kept facts in `dir`, when they hold.
fn kept(dir: &Path) -> Option<Facts> {
    load(dir)?.facts()
}

#[test]
fn what_is_kept_is_read_back_and_answers_without_the_host() {
    let t = Tree::new("kept");
    let facts = t.keep();
    assert_eq!(facts.listings.len(), 3, "an absent directory's (empty) too");
    assert_eq!(facts.walks.len(), 4, "{:?}", facts.walks);
    assert_eq!(kept(&t.cache()), Some(facts.clone()));
    // Answered from the facts alone: the host (an empty made-up tree) is
    // never asked for a listed directory or a walked link.
    let none = crate::hostfs::fake::FakeFs::new();
    let cached = Cached::new(facts, &none);
    let names = cached.links(&t.p("etc"));
    assert_eq!(
        names,
        vec![OsString::from("localtime"), OsString::from("mtab"), OsString::from("resolv.conf")]
    );
    let w = cached.walk(&t.p("etc/resolv.conf")).expect("walk kept");
    assert_eq!(w.real, t.p("run/resolve/stub"));
    assert_eq!(w.kind, Some(Kind::File { exec: false }));
    assert_eq!(w.links, vec![Link { at: t.p("etc/resolv.conf"), target: "../run/resolve/stub".into() }]);
    // What was not kept is asked of the host.
    assert_eq!(cached.walk(&t.p("etc/other")), None);
    assert!(cached.links(&t.p("usr")).is_empty());
}

#[test]
fn every_directory_a_lookup_went_through_is_stamped() {
    let t = Tree::new("stamped");
    let facts = t.keep();
    let stamped: BTreeSet<&Path> = facts.stamps.iter().map(|(p, _)| p.as_path()).collect();
    for d in
        ["etc", "etc/alternatives", "usr/share/zoneinfo", "usr/share", "usr/bin", "usr", "run/resolve", "run"]
    {
        assert!(stamped.contains(t.p(d).as_path()), "{d}: {stamped:?}");
    }
    assert!(stamped.contains(Path::new("/")));
    assert!(!stamped.contains(t.p("cache").as_path()), "never looked in: {stamped:?}");
    assert!(!stamped.iter().any(|p| p.starts_with("/proc")), "{stamped:?}");
}

/// Each change that can alter an answer makes the kept facts a miss.
#[test]
fn a_change_to_any_directory_read_is_a_miss() {
    type Change = (&'static str, fn(&Tree));
    let changes: [Change; 7] = [
        ("an absent directory listed made", |t| {
            std::fs::create_dir_all(t.p("etc/pki/tls")).unwrap();
            symlink("/usr", t.p("etc/pki/tls/x")).unwrap();
        }),
        ("a new link in etc", |t| symlink("/usr", t.p("etc/new")).unwrap()),
        ("a link replaced", |t| {
            std::fs::remove_file(t.p("etc/alternatives/editor")).unwrap();
            symlink("/run/resolve/stub", t.p("etc/alternatives/editor")).unwrap();
        }),
        ("a target become a directory", |t| {
            std::fs::remove_file(t.p("run/resolve/stub")).unwrap();
            std::fs::create_dir(t.p("run/resolve/stub")).unwrap();
        }),
        ("a directory on the way replaced by a link", |t| {
            std::fs::rename(t.p("usr/share/zoneinfo"), t.p("usr/share/zi")).unwrap();
            symlink("zi", t.p("usr/share/zoneinfo")).unwrap();
        }),
        ("a directory on the way made unsearchable", |t| {
            std::fs::set_permissions(t.p("usr/bin"), std::fs::Permissions::from_mode(0o700)).unwrap()
        }),
        ("a target removed", |t| std::fs::remove_file(t.p("usr/bin/vim")).unwrap()),
    ];
    for (what, change) in changes {
        let t = Tree::new("changed");
        t.keep();
        assert!(kept(&t.cache()).is_some(), "{what}: kept");
        change(&t);
        assert_eq!(kept(&t.cache()), None, "{what}: still used after the change");
    }
}

#[test]
fn nothing_is_kept_from_a_directory_that_just_changed() {
    let t = Tree::new("fresh");
    // The tree was made just now: not settled a moment ago.
    assert_eq!(t.record(SystemTime::now() - SETTLE), None);
    assert!(t.record(SystemTime::now() + SETTLE).is_some());
}

#[test]
fn only_what_went_through_a_changed_directory_is_left_out() {
    let mut fs = crate::hostfs::fake::FakeFs::new();
    fs.link("/etc/resolv.conf", "../run/resolve/stub").file("/run/resolve/stub", "");
    fs.link("/etc/localtime", "/usr/share/zoneinfo/Paris").file("/usr/share/zoneinfo/Paris", "");
    fs.link("/etc/alternatives/vi", "/usr/bin/vim").exe("/usr/bin/vim");
    let rec = Recorder::new(&fs);
    for dir in ["/etc", "/etc/alternatives"] {
        for name in rec.links(Path::new(dir)) {
            rec.walk(&Path::new(dir).join(name));
        }
    }
    let cut = UNIX_EPOCH + Duration::from_secs(1000);
    // /run/resolve changed after the cut; everything else before.
    let of = |p: &Path| {
        let ctime = if p == Path::new("/run/resolve") { (2000, 0) } else { (10, 0) };
        Some(Stamp { dev: 1, ino: p.as_os_str().len() as u64, mtime: ctime, ctime })
    };
    let (facts, all) = rec.facts_with(cut, of).unwrap();
    assert!(!all, "one walk left out");
    let walked: Vec<&Path> = facts.walks.iter().map(|(p, _)| p.as_path()).collect();
    assert_eq!(walked, [Path::new("/etc/localtime"), Path::new("/etc/alternatives/vi")]);
    assert_eq!(facts.listings.len(), 2);
    assert!(!facts.stamps.iter().any(|(p, _)| p.starts_with("/run")), "{:?}", facts.stamps);
}

#[test]
fn the_cache_is_made_0700_and_0600() {
    // Modes given at creation: the usual umask (022) would leave 0755 and
    // 0644 otherwise.
    let t = Tree::new("modes");
    t.keep();
    let dir = std::fs::symlink_metadata(t.cache()).unwrap();
    let file = std::fs::symlink_metadata(t.cache().join(FILE)).unwrap();
    assert!(dir.is_dir() && file.is_file());
    assert_eq!((dir.mode() & 0o7777, file.mode() & 0o7777), (0o700, 0o600));
    // A temporary file left by a killed run of the same pid is replaced.
    std::fs::write(t.cache().join(format!(".{FILE}.{}", std::process::id())), "stale").unwrap();
    t.keep();
    // Replaced, not rewritten: no temporary file is left.
    let names: Vec<_> = std::fs::read_dir(t.cache()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![OsString::from(FILE)]);
}

#[test]
fn a_symlink_planted_for_the_cache_is_never_followed() {
    let t = Tree::new("planted");
    let facts = t.keep();
    let elsewhere = t.p("elsewhere");
    std::fs::write(&elsewhere, encode(&facts).unwrap()).unwrap();
    // The file a link: not read, and a new cache replaces the link itself.
    std::fs::remove_file(t.cache().join(FILE)).unwrap();
    symlink(&elsewhere, t.cache().join(FILE)).unwrap();
    assert_eq!(kept(&t.cache()), None);
    store(&t.cache(), &Facts::default(), None).unwrap();
    assert_eq!(std::fs::read(&elsewhere).unwrap(), encode(&facts).unwrap(), "written through the link");
    assert!(std::fs::symlink_metadata(t.cache().join(FILE)).unwrap().is_file());
    // The directory a link: neither read nor written through.
    let real = t.p("cache/real");
    std::fs::rename(t.cache(), &real).unwrap();
    symlink(&real, t.cache()).unwrap();
    assert_eq!(kept(&t.cache()), None);
    assert!(store(&t.cache(), &facts, None).is_err());
    assert_eq!(std::fs::read(real.join(FILE)).unwrap(), encode(&Facts::default()).unwrap());
}

#[test]
fn a_malformed_or_cut_file_is_a_miss() {
    let t = Tree::new("cut");
    let facts = t.keep();
    let bytes = encode(&facts).unwrap();
    assert_eq!(decode(&bytes), Some(facts.clone()));
    for n in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(decode(&bytes[..n]), None, "cut at {n}");
    }
    let mut other = bytes.clone();
    other[7] = b'X';
    assert_eq!(decode(&other), None, "another format");
    let past = [MAGIC, b"\x000000000041\0999999999\0"].concat();
    assert_eq!(head_len(&past), Some(past.len()));
    assert_eq!(decode(&past), None, "a count past the end");
    // A name in a listing that is not one name: the file is refused.
    for bad in ["..", ".", "a/b", "../../srv"] {
        let mut f = facts.clone();
        f.listings[0].1.push(bad.into());
        assert_eq!(decode(&encode(&f).unwrap()), None, "{bad}");
    }
}

/// Each Plan's needs are kept with the facts, the latest first, eight at
/// most, and read back only while the facts hold.
#[test]
fn the_needs_of_the_last_plans_are_kept_with_the_facts() {
    let t = Tree::new("plans");
    let facts = t.keep();
    let needs = |k: usize| Needs { key: Key::MAX - k as Key, links: vec![t.p(&format!("etc/l{k}"))] };
    store(&t.cache(), &facts, Some(needs(0))).unwrap();
    for k in 1..10 {
        load(&t.cache()).unwrap().store_needs(&t.cache(), needs(k)).unwrap();
    }
    let kept = load(&t.cache()).unwrap();
    assert_eq!(kept.facts(), Some(facts));
    let keys: Vec<Key> = kept.needs.iter().map(|n| Key::MAX - n.key).collect();
    assert_eq!(keys, [9, 8, 7, 6, 5, 4, 3, 2]);
    assert_eq!(kept.needs(Key::MAX - 5), Some(&[t.p("etc/l5")][..]));
    assert_eq!(kept.needs(Key::MAX - 1), None);
    // Again for a Plan kept already: it moves to the front, once.
    kept.store_needs(&t.cache(), needs(5)).unwrap();
    let again = load(&t.cache()).unwrap();
    assert_eq!(again.needs.len(), 8);
    assert_eq!(again.needs[0].key, Key::MAX - 5);
    symlink("/usr", t.p("etc/new")).unwrap();
    assert!(load(&t.cache()).is_none(), "needs used after /etc changed");
}

#[test]
fn names_of_any_bytes_survive() {
    let odd = OsString::from(OsStr::from_bytes(b"a\nb\xff c"));
    let walk = Walk {
        real: PathBuf::from("/x").join(&odd),
        kind: Some(Kind::File { exec: true }),
        links: vec![Link { at: PathBuf::from("/etc").join(&odd), target: PathBuf::from("../x").join(&odd) }],
    };
    let stamp = Stamp { dev: u64::MAX, ino: 1, mtime: (-1, 5), ctime: (i64::MAX, 999_999_999) };
    let facts = Facts {
        stamps: vec![("/".into(), stamp)],
        listings: vec![("/etc".into(), vec![odd.clone()]), ("/etc/ssl".into(), vec![])],
        walks: vec![("/etc/a".into(), None), (PathBuf::from("/etc").join(&odd), Some(walk))],
    };
    assert_eq!(decode(&encode(&facts).unwrap()), Some(facts));
}

/// Two Plans' keys.
const PLAN: Key = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
const OTHER: Key = 1;

/// The file of `t`'s cache, kept with the needs of [`PLAN`].
fn keep_with_needs(t: &Tree) -> (Facts, Vec<u8>) {
    let facts = t.keep();
    let needs = Needs { key: PLAN, links: vec![t.p("etc/resolv.conf")] };
    store(&t.cache(), &facts, Some(needs)).unwrap();
    (facts, std::fs::read(t.cache().join(FILE)).unwrap())
}

/// `bytes` with the head's length field saying `len`.
fn with_len(bytes: &[u8], len: &str) -> Vec<u8> {
    [&bytes[..MAGIC.len() + 1], len.as_bytes(), &bytes[STAMPS_AT - 1..]].concat()
}

/// The head's length says where the facts begin; any other length, one
/// beyond the file, or a file of the format before is a miss, and a
/// forged length never makes a run read more than [`MAX_HEAD`].
#[test]
fn a_head_length_that_does_not_end_the_head_is_a_miss() {
    let t = Tree::new("lengths");
    let (facts, bytes) = keep_with_needs(&t);
    let head = head_len(&bytes).unwrap();
    assert!(head < FIRST_READ && head < bytes.len(), "{head} of {}", bytes.len());
    assert_eq!(decode_head(&bytes).map(|h| h.2), Some(head));
    let file = t.cache().join(FILE);
    let put = |bytes: &[u8]| std::fs::write(&file, bytes).unwrap();
    put(&bytes);
    assert!(load(&t.cache()).is_some_and(|k| k.needs(PLAN).is_some()));
    let len = |n: usize| format!("{n:010}");
    let forged = [
        ("one byte longer", len(head + 1)),
        ("one byte shorter", len(head - 1)),
        ("a field longer", len(head + 10)),
        ("only the first two fields", len(STAMPS_AT)),
        ("shorter than the first two fields", len(STAMPS_AT - 1)),
        ("the whole file", len(bytes.len())),
        ("beyond the file", len(bytes.len() + 1)),
        ("beyond the first read and the file", len(FIRST_READ + 1)),
        ("beyond what is ever read", len(MAX_HEAD + 1)),
        ("the largest", "9999999999".into()),
        ("zero", len(0)),
        ("not ten digits", format!("{head}")),
        ("signed", format!("+{head:09}")),
        ("not a number", "0000000x00".into()),
    ];
    for (what, l) in forged {
        let b = with_len(&bytes, &l);
        assert_eq!(decode(&b), None, "{what}");
        put(&b);
        assert!(load(&t.cache()).is_none(), "{what}: loaded");
    }
    // A key not of 32 hexadecimal digits.
    let hex = format!("{PLAN:032x}");
    let at = bytes.windows(32).position(|w| w == hex.as_bytes()).unwrap();
    for bad in [format!("+{}", &hex[1..]), format!("{}g", &hex[..31]), format!("{} ", &hex[..31])] {
        put(&[&bytes[..at], bad.as_bytes(), &bytes[at + 32..]].concat());
        assert!(load(&t.cache()).is_none(), "key {bad:?}");
    }
    // The format before: no length, its head straight after the format.
    let v2 = [b"sandbox etc-links 2\0", &bytes[STAMPS_AT..]].concat();
    put(&v2);
    assert!(load(&t.cache()).is_none(), "a v2 file loaded");
    // Cut in the head: a miss; in the facts: the Plan's needs still read.
    for n in [0, 10, STAMPS_AT, head - 1] {
        put(&bytes[..n]);
        assert!(load(&t.cache()).is_none(), "cut at {n}: loaded");
    }
    for n in [head, head + 1, bytes.len() - 1] {
        put(&bytes[..n]);
        let kept = load(&t.cache()).expect("a head whole");
        assert!(kept.needs(PLAN).is_some());
        assert_eq!(kept.facts(), None, "cut at {n}");
    }
    put(&bytes);
    assert_eq!(load(&t.cache()).and_then(|k| k.facts()), Some(facts));
}

/// A Plan that is kept is answered from the head: the facts are read
/// from the file only when asked, and a section that cannot be read then
/// is a miss of the facts, never a different answer.
#[test]
fn a_kept_plan_is_answered_without_reading_the_facts() {
    let t = Tree::new("lazy");
    let (facts, bytes) = keep_with_needs(&t);
    let head = head_len(&bytes).unwrap();
    let kept = load(&t.cache()).unwrap();
    // The section overwritten in place after the head was read (by the
    // command, with `--rw $XDG_RUNTIME_DIR`): had it been read with the
    // head, the old facts would be answered.
    let f = std::fs::OpenOptions::new().write(true).open(t.cache().join(FILE)).unwrap();
    f.write_all_at(&vec![b'#'; bytes.len() - head], head as u64).unwrap();
    assert_eq!(kept.needs(PLAN), Some(&[t.p("etc/resolv.conf")][..]));
    assert_eq!(kept.facts(), None, "the facts were read with the head");
    assert!(kept.store_needs(&t.cache(), Needs { key: OTHER, links: vec![] }).is_ok());
    // Read again: the Plan kept is still answered; another is not.
    let kept = load(&t.cache()).unwrap();
    assert!(kept.needs(PLAN).is_some() && kept.needs(OTHER).is_some());
    assert_eq!(kept.facts(), None);
    // A section longer than is ever read (a sparse file): not read.
    store(&t.cache(), &facts, Some(Needs { key: PLAN, links: vec![] })).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(t.cache().join(FILE)).unwrap();
    f.set_len((head + MAX_SECTION + 1) as u64).unwrap();
    let kept = load(&t.cache()).unwrap();
    assert_eq!(kept.needs(PLAN), Some(&[][..]));
    assert_eq!(kept.facts(), None);
    assert!(kept.store_needs(&t.cache(), Needs { key: OTHER, links: vec![] }).is_err());
}

/// A head longer than the first read (many Plans, many links) is read
/// whole with a second read.
#[test]
fn a_head_longer_than_the_first_read_is_read_whole() {
    let t = Tree::new("long");
    let facts = t.keep();
    let links: Vec<PathBuf> =
        (0..200).map(|k| t.p(&format!("etc/a-rather-long-name-of-a-link-{k:04}"))).collect();
    for k in 0..PLANS {
        let needs = Needs { key: k as Key, links: links.clone() };
        match load(&t.cache()) {
            Some(kept) => kept.store_needs(&t.cache(), needs).unwrap(),
            None => store(&t.cache(), &facts, Some(needs)).unwrap(),
        }
    }
    let bytes = std::fs::read(t.cache().join(FILE)).unwrap();
    let head = head_len(&bytes).unwrap();
    assert!(head > 2 * FIRST_READ, "{head}");
    let kept = load(&t.cache()).expect("a long head read");
    assert_eq!(kept.needs.len(), PLANS);
    assert_eq!(kept.needs(0), Some(&links[..]));
    assert_eq!(kept.facts(), Some(facts));
    // Cut in the head, after the first read: a miss.
    std::fs::write(t.cache().join(FILE), &bytes[..head - 1]).unwrap();
    assert!(load(&t.cache()).is_none());
}

/// A Plan's key is the same for the same operations and caller, in every
/// run, and another when anything the needs depend on differs.
#[test]
fn a_plans_key_changes_with_what_its_needs_depend_on() {
    use crate::host::Host;
    use crate::plan::{Access, FsOp};
    let ro =
        |p: &str| FsOp::Bind { src: p.into(), dest: p.into(), access: Access::ReadOnly, optional: false };
    let host = Host::fake("/work");
    let ops = vec![ro("/usr"), ro("/etc"), FsOp::Tmpfs { dest: "/tmp".into(), mode: 0o1777, size: None }];
    let k = key(&ops, &host);
    assert_eq!(k, key(&ops.clone(), &Host::fake("/work")));
    let mut hidden = ops.clone();
    hidden.push(FsOp::Hide { dest: "/etc/shadow".into(), optional: false });
    let mut optional = ops.clone();
    optional[1] =
        FsOp::Bind { src: "/etc".into(), dest: "/etc".into(), access: Access::ReadOnly, optional: true };
    let mut swapped = ops.clone();
    swapped.swap(0, 1);
    let mut home = Host::fake("/work");
    home.home = "/home/other".into();
    let mut private = Host::fake("/work");
    private.private.pop();
    let keys = [
        k,
        key(&hidden, &host),
        key(&optional, &host),
        key(&swapped, &host),
        key(&ops, &home),
        key(&ops, &private),
    ];
    let distinct: BTreeSet<Key> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "{keys:x?}");
    assert!(keys.iter().all(|k| (k >> 64) != 0 && (k & Key::from(u64::MAX)) != 0), "{keys:x?}");
}
