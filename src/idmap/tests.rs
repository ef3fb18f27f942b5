use std::path::{Path, PathBuf};

use super::helper::{find, Found};
use super::subid::{free_block, no_range, parse, ranges_for, Entry};
use super::*;

fn r(start: u32, count: u32) -> Range {
    Range::new(start, count).unwrap()
}

fn e(inside: u32, outside: u32, count: u32) -> Extent {
    Extent { inside, outside, count }
}

const FILE: &str = "\
# subordinate ids
alice:100000:65536
  bob:165536:65536  \n\
\n\
1002:231072:1000
alice:300000:10
#carol:400000:65536
broken line
dave:500000
erin:600000:0
frank:-1:10
gina:4294967290:10
hank:1:2:3
:700000:10
alice:100000:65536
";

#[test]
fn parse_skips_comments_blank_and_malformed_lines() {
    let owners: Vec<String> = parse(FILE).into_iter().map(|e| e.owner).collect();
    assert_eq!(owners, ["alice", "bob", "1002", "alice", "alice"]);
}

#[test]
fn ranges_by_name_or_number_several_each_listed_once() {
    let entries = parse(FILE);
    assert_eq!(ranges_for(&entries, Some("alice"), 1001), [r(100000, 65536), r(300000, 10)]);
    assert_eq!(ranges_for(&entries, Some("bob"), 4000), [r(165536, 65536)]);
    // A numeric entry matches the uid, whatever the name.
    assert_eq!(ranges_for(&entries, Some("nobody2"), 1002), [r(231072, 1000)]);
    assert_eq!(ranges_for(&entries, None, 1002), [r(231072, 1000)]);
    assert_eq!(ranges_for(&entries, Some("carol"), 1003), []);
    assert_eq!(ranges_for(&entries, Some("erin"), 1004), []);
    assert_eq!(ranges_for(&[], Some("alice"), 1001), []);
}

#[test]
fn a_range_never_reaches_the_invalid_id() {
    assert_eq!(Range::new(4294967290, 5).map(|r| r.end()), Some(u32::MAX));
    assert_eq!(Range::new(4294967290, 6), None);
    assert_eq!(Range::new(5, 0), None);
    assert_eq!(r(100000, 65536).to_string(), "100000-165535");
}

#[test]
fn uid_zero_inside_is_rootless_podmans_layout() {
    let map = auto_map(Kind::Uid, 0, 1000, &[r(100000, 65536)]).unwrap();
    assert_eq!(map, [e(0, 1000, 1), e(1, 100000, 65536)]);
    assert_eq!(outside_of(&map, 1234), Some(100000 + 1233));
    assert_eq!(outside_of(&map, 65537), None);
}

#[test]
fn own_id_inside_is_keep_id_layout() {
    let map = auto_map(Kind::Uid, 1000, 1000, &[r(100000, 65536)]).unwrap();
    assert_eq!(map, [e(1000, 1000, 1), e(0, 100000, 1000), e(1001, 101000, 64536)]);
    assert_eq!(outside_of(&map, 0), Some(100000));
    assert_eq!(outside_of(&map, 1234), Some(100000 + 1233));
    assert_eq!(outside_of(&map, 999), Some(100999));
}

#[test]
fn several_ranges_fill_the_id_space_in_the_files_order() {
    let map = auto_map(Kind::Gid, 5, 1000, &[r(300000, 3), r(100000, 10)]).unwrap();
    assert_eq!(map, [e(5, 1000, 1), e(0, 300000, 3), e(3, 100000, 2), e(6, 100002, 8)]);
    // Every id from 0 to 13 maps, each to a different host id.
    let mut outside: Vec<u32> = (0..14).map(|i| outside_of(&map, i).unwrap()).collect();
    outside.sort();
    outside.dedup();
    assert_eq!(outside.len(), 14);
    assert_eq!(outside_of(&map, 14), None);
}

#[test]
fn the_id_space_ends_before_the_invalid_id() {
    let map = auto_map(Kind::Uid, 0, 1000, &[r(1_000_000, u32::MAX - 1_000_000)]).unwrap();
    assert_eq!(map, [e(0, 1000, 1), e(1, 1_000_000, u32::MAX - 1_000_000)]);
    // Every id but root's and the caller's: the whole space, still within it.
    let all = [r(1, 999), r(1001, u32::MAX - 1001)];
    let map = auto_map(Kind::Uid, 4_000_000_000, 1000, &all).unwrap();
    let last = map.last().unwrap();
    assert_eq!(u64::from(last.inside) + u64::from(last.count), u64::from(u32::MAX) - 1);
    assert_eq!(outside_of(&map, 4_000_000_000), Some(1000));
}

#[test]
fn subordinate_ids_never_include_root_or_the_caller() {
    let root = auto_map(Kind::Uid, 0, 1000, &[r(0, 65536)]).unwrap_err();
    assert!(root.message.contains("includes root's id 0"), "{root}");
    assert!(root.message.contains("/etc/subuid"), "{root}");
    let own = auto_map(Kind::Gid, 0, 1000, &[r(100000, 10), r(900, 200)]).unwrap_err();
    assert!(own.message.contains("the range 900-1099 in /etc/subgid includes your own id 1000"), "{own}");
    let overlap = auto_map(Kind::Uid, 0, 1000, &[r(100000, 100), r(100050, 100)]).unwrap_err();
    assert!(overlap.message.contains("overlap"), "{overlap}");
    // Whatever the layout, no host id but the caller's own and the ranges'.
    for inside in [0, 1, 999, 1000, 70000] {
        let ranges = [r(200000, 5000), r(100000, 70000)];
        for ext in auto_map(Kind::Uid, inside, 1000, &ranges).unwrap() {
            let first = ext.outside;
            let last = ext.outside + ext.count - 1;
            let own = ext == e(inside, 1000, 1);
            let within = ranges.iter().any(|r| r.contains(first) && r.contains(last));
            assert!(own || within, "{ext:?} for inside {inside}");
            assert!(!(first..=last).contains(&0));
        }
    }
}

#[test]
fn too_many_lines_are_refused() {
    let ranges: Vec<Range> = (0..MAX_EXTENTS as u32).map(|i| r(100000 + 10 * i, 5)).collect();
    let err = auto_map(Kind::Uid, 0, 1000, &ranges).unwrap_err();
    assert!(err.message.contains("341 lines"), "{err}");
    assert!(auto_map(Kind::Uid, 0, 1000, &ranges[..MAX_EXTENTS - 1]).is_ok());
}

#[test]
fn setgroups_only_with_subordinate_gids() {
    assert_eq!(setgroups(&self_map(0, 1000), 1000), Setgroups::Deny);
    assert_eq!(setgroups(&self_map(1000, 1000), 1000), Setgroups::Deny);
    let auto = auto_map(Kind::Gid, 0, 1000, &[r(100000, 65536)]).unwrap();
    assert_eq!(setgroups(&auto, 1000), Setgroups::Allow);
}

#[test]
fn helper_arguments_and_map_text() {
    let map = [e(1000, 1000, 1), e(0, 100000, 1000)];
    assert_eq!(helper_args(4242, &map), ["4242", "1000", "1000", "1", "0", "100000", "1000"]);
    assert_eq!(map_text(&map), "1000 1000 1\n0 100000 1000\n");
}

fn lookup(path: &str, table: &[(&str, Found)]) -> Result<PathBuf, Error> {
    let examine = |p: &Path| table.iter().find(|(q, _)| Path::new(q) == p).map_or(Found::Absent, |(_, f)| *f);
    find(Kind::Uid, path.as_ref(), examine)
}

#[test]
fn helpers_are_found_in_path_order_the_first_able_one() {
    let nixos = [
        ("/run/wrappers/bin/newuidmap", Found::Able),
        ("/run/current-system/sw/bin/newuidmap", Found::Unprivileged),
    ];
    let path = "/home/u/.nix-profile/bin:/run/current-system/sw/bin:/run/wrappers/bin";
    assert_eq!(lookup(path, &nixos).unwrap(), Path::new("/run/wrappers/bin/newuidmap"));
    let debian = [("/usr/bin/newuidmap", Found::Able)];
    assert_eq!(lookup("/usr/local/bin:/usr/bin:/bin", &debian).unwrap(), Path::new("/usr/bin/newuidmap"));
    // Relative entries (the current directory) are never searched.
    let planted = [("bin/newuidmap", Found::Able), ("./newuidmap", Found::Able)];
    let err = lookup("bin:.::/usr/bin", &planted).unwrap_err();
    assert!(err.message.contains("newuidmap not found in PATH"), "{err}");
    assert!(err.hint.unwrap().contains("uidmap"));
    let err = lookup("/run/current-system/sw/bin", &nixos).unwrap_err();
    assert!(err.message.contains("/run/current-system/sw/bin/newuidmap is neither setuid root"), "{err}");
}

#[test]
fn no_range_names_the_file_and_a_free_range_for_usermod() {
    let taken = parse("alice:100000:65536\nbob:165536:65536\n");
    let err = no_range(Kind::Uid, "carol", Ok(()), &taken);
    assert_eq!(err.message, "--userns auto: carol has no subordinate uids in /etc/subuid");
    let hint = err.hint.unwrap();
    assert!(
        hint.contains("sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 carol"),
        "{hint}"
    );
    let err = no_range(Kind::Gid, "carol", Err("Permission denied".into()), &[]);
    assert_eq!(err.message, "--userns auto: cannot read /etc/subgid: Permission denied");
    assert!(err.to_string().contains("\nhint: sudo usermod --add-subuids 100000-165535"));
}

#[test]
fn free_block_skips_every_taken_range() {
    assert_eq!(free_block(&[]), r(100000, 65536));
    let taken: Vec<Entry> = parse("a:150000:10\nb:50000:60000\nc:300000:5\n");
    assert_eq!(free_block(&taken), r(150010, 65536));
    let taken = parse("a:100000:4294867000\n");
    assert_eq!(free_block(&taken), r(100000, 65536));
}

#[test]
fn auto_maps_read_both_files_by_name_or_uid() {
    let files = Files { subuid: Ok("alice:100000:65536\n".into()), subgid: Ok("1001:200000:65536\n".into()) };
    let alice = Caller { name: Some("alice".into()), uid: 1001, gid: 1001 };
    let (uids, gids) = auto_maps(&files, &alice, (0, 0)).unwrap();
    assert_eq!(uids, [e(0, 1001, 1), e(1, 100000, 65536)]);
    assert_eq!(gids, [e(0, 1001, 1), e(1, 200000, 65536)]);
    let bob = Caller { name: Some("bob".into()), uid: 1002, gid: 1002 };
    let err = auto_maps(&files, &bob, (0, 0)).unwrap_err();
    assert_eq!(err.message, "--userns auto: bob has no subordinate uids in /etc/subuid");
    assert!(err.hint.unwrap().contains("--add-subuids 265536-331071"));
    let files =
        Files { subuid: Ok("alice:100000:65536\n".into()), subgid: Err("No such file or directory".into()) };
    let err = auto_maps(&files, &alice, (0, 0)).unwrap_err();
    assert_eq!(err.message, "--userns auto: cannot read /etc/subgid: No such file or directory");
}

#[test]
fn the_kernels_map_file_is_read_back_and_compared() {
    let text = "         0       1000          1\n         1     100000      65536\n";
    let found = parse_map_file(text).unwrap();
    assert_eq!(found, [e(0, 1000, 1), e(1, 100000, 65536)]);
    assert!(same_map(&[e(1, 100000, 65536), e(0, 1000, 1)], &found));
    assert!(!same_map(&[e(0, 1000, 1)], &found));
    assert_eq!(parse_map_file(""), Some(vec![]));
    assert_eq!(parse_map_file("0 1000\n"), None);
    assert_eq!(parse_map_file("0 1000 x\n"), None);
}
