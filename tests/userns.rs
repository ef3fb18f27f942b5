//! `--userns auto` (issue 19): the whole id space through the caller's
//! subordinate ids, written by newuidmap and newgidmap. Checked inside
//! (the maps, setgroups, chown) and on the host (the owners files get).

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;
use sandbox::idmap::{auto_map, parse_map_file, Extent, Files, Kind};

/// The test user's ids and first subordinate ranges; `None` (a skip) when
/// the tests are not root.
fn ids() -> Option<((u32, u32), (u32, u32))> {
    if !root_or_skip("--userns auto runs as the test user, who has subordinate ids") {
        return None;
    }
    let (uid, gid) = test_ids()?;
    let (su, sg) = test_subids().expect("tests/common gives the test user subordinate ids");
    Some(((uid, gid), (su.start, sg.start)))
}

fn run(cwd: &Dir, home: &Dir, args: &[&str]) -> Out {
    sbx(cwd.path(), home.path(), args).output()
}

fn ext(inside: u32, outside: u32, count: u32) -> Extent {
    Extent { inside, outside, count }
}

/// The map `--userns auto` should write for the test user (all its
/// ranges, the command as `inside`), by the library's own rule.
fn expected(kind: Kind, inside: u32, real: u32) -> Vec<Extent> {
    let (uid, _) = test_ids().unwrap();
    let ranges = Files::read().ranges(kind, Some(TEST_USER), uid);
    auto_map(kind, inside, real, &ranges).unwrap()
}

#[test]
fn uid_map_shows_the_caller_and_the_subordinate_ranges() {
    let Some(((uid, gid), (su, sg))) = ids() else { return };
    let (cwd, home) = (Dir::new(), Dir::new());
    let script = "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; cat /proc/self/setgroups";
    let text = run(&cwd, &home, &["--userns", "auto", "--", "sh", "-c", script]).ok();
    let parts: Vec<&str> = text.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{text}");
    let uids = parse_map_file(parts[0]).unwrap();
    let gids = parse_map_file(parts[1]).unwrap();
    // The caller's own id inside is the caller; 0 up to it and past it are
    // the subordinate ranges in order (podman's keep-id layout).
    assert_eq!(uids[..2], [ext(uid, uid, 1), ext(0, su, uid)]);
    assert_eq!(gids[..2], [ext(gid, gid, 1), ext(0, sg, gid)]);
    assert_eq!((uids[2].inside, uids[2].outside), (uid + 1, su + uid));
    assert_eq!(uids, expected(Kind::Uid, uid, uid));
    assert_eq!(gids, expected(Kind::Gid, gid, gid));
    assert_eq!(parts[2].trim(), "allow", "newgidmap maps ranges, so setgroups is allowed");
    // The default maps one id, setgroups denied.
    let text = run(&cwd, &home, &["--", "sh", "-c", script]).ok();
    assert_eq!(text, format!("{uid:>10} {uid:>10} {:>10}\n--\n{gid:>10} {gid:>10} {:>10}\n--\ndeny\n", 1, 1));
}

#[test]
fn subordinate_ids_never_include_the_callers_or_roots() {
    let Some(((uid, gid), _)) = ids() else { return };
    let (cwd, home) = (Dir::new(), Dir::new());
    for extra in [&[][..], &["--uid", "0", "--gid", "0"][..]] {
        let mut args = vec!["--userns", "auto"];
        args.extend(extra);
        args.extend(["--", "sh", "-c", "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map"]);
        let text = run(&cwd, &home, &args).ok();
        let (u, g) = text.split_once("--\n").unwrap();
        for (map, own) in [(parse_map_file(u).unwrap(), uid), (parse_map_file(g).unwrap(), gid)] {
            let owners: Vec<&Extent> =
                map.iter().filter(|e| e.outside <= own && own < e.outside + e.count).collect();
            assert_eq!(owners.len(), 1, "the caller's id {own} once, alone: {map:?}");
            assert_eq!(owners[0].count, 1);
            assert!(map.iter().all(|e| e.outside != 0), "root's id 0 mapped: {map:?}");
        }
    }
}

#[test]
fn chown_inside_gives_the_matching_subordinate_id_on_the_host() {
    let Some((_, (su, sg))) = ids() else { return };
    let (cwd, home) = (Dir::new(), Dir::new());
    cwd.file("f", "x");
    let args = ["--userns", "auto", "--uid", "0", "--cap-add", "chown", "--", "chown", "1234:1234", "f"];
    run(&cwd, &home, &args).ok();
    let m = std::fs::metadata(cwd.path().join("f")).unwrap();
    // With --uid 0 inside, id 0 is the caller and id k the range's k-th id.
    assert_eq!((m.uid(), m.gid()), (su + 1233, sg + 1233));
    // Without --userns auto there is no id 1234 inside.
    cwd.file("g", "x");
    let out = run(&cwd, &home, &["--uid", "0", "--cap-add", "chown", "--", "chown", "1234:1234", "g"]);
    assert_ne!(out.code(), 0, "chown to an unmapped id worked: {}", out.stderr());
}

#[test]
fn overlays_copy_up_files_of_any_mapped_id() {
    let Some((_, (su, sg))) = ids() else { return };
    let (cwd, home, lower) = (Dir::new(), Dir::new(), Dir::new());
    let f = lower.file("theirs", "before\n");
    // Owned on the host by a subordinate id (id 42 inside with --uid 0
    // --gid 0), writable by anyone: no capability is needed to write it.
    std::os::unix::fs::chown(&f, Some(su + 41), Some(sg + 41)).unwrap();
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let dest = format!("{}:/data", lower.path().display());
    let script = "echo after >> /data/theirs && cat /data/theirs && stat -c %u:%g /data/theirs";
    let args = ["--userns", "auto", "--uid", "0", "--gid", "0", "--overlay", &dest, "--", "sh", "-c", script];
    let text = run(&cwd, &home, &args).ok();
    assert_eq!(text, "before\nafter\n42:42\n");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "before\n", "the host file changed");
    // With only the caller's id mapped, the same copy-up fails (EOVERFLOW).
    let out = run(&cwd, &home, &["--uid", "0", "--overlay", &dest, "--", "sh", "-c", script]);
    assert_ne!(out.code(), 0, "{}", out.stdout());
    assert!(out.stderr().contains("Value too large"), "{}", out.stderr());
}

#[test]
fn without_ranges_the_error_names_etc_subuid_and_the_fix() {
    if !root_or_skip("running sandbox as a user without subordinate ids (nobody)") {
        return;
    }
    let (cwd, home) = (Dir::new(), Dir::new());
    let mut cmd = Command::new(bin());
    cmd.args(["--userns", "auto", "--", "true"])
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .uid(65534)
        .gid(65534);
    let out = common::out(&mut cmd);
    out.fails(125, "nobody has no subordinate uids in /etc/subuid");
    assert!(out.stderr().contains("hint: sudo usermod --add-subuids "), "{}", out.stderr());
}

#[test]
fn a_helper_that_cannot_act_is_never_run() {
    if ids().is_none() {
        return;
    }
    let (cwd, home, fake) = (Dir::new(), Dir::new(), Dir::new());
    let marker = fake.path().join("ran");
    // An executable of the caller's named newuidmap, first in PATH: a
    // command could have left it there. It would leave a mark if run.
    let script = format!("#!/bin/sh\ntouch {}\n", marker.display());
    for helper in ["newuidmap", "newgidmap"] {
        let p = fake.file(helper, &script);
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", fake.path().display());
    let out = sbx(cwd.path(), home.path(), ["--userns", "auto", "--", "true"]).env("PATH", &path).output();
    assert_eq!(out.code(), 0, "the real helper, later in PATH, was not taken: {}", out.stderr());
    assert!(!marker.exists(), "an unprivileged newuidmap was run");
    let path = fake.path().display().to_string();
    let out = sbx(cwd.path(), home.path(), ["--userns", "auto", "--", "true"]).env("PATH", &path).output();
    out.fails(125, "newuidmap is neither setuid root nor has file capabilities");
    assert!(!marker.exists(), "an unprivileged newuidmap was run");
}

#[test]
fn explain_and_check_show_the_map_and_the_ranges() {
    let Some(((uid, _), (su, _))) = ids() else { return };
    let (cwd, home) = (Dir::new(), Dir::new());
    let text = run(&cwd, &home, &["explain", "--userns", "auto", "--uid", "0", "--", "true"]).ok();
    let lines: Vec<String> = expected(Kind::Uid, 0, uid).iter().map(|e| e.to_string()).collect();
    assert!(lines[0] == format!("0 {uid} 1") && lines[1].starts_with(&format!("1 {su} ")), "{lines:?}");
    assert!(text.contains(&format!("  uid_map   {} (inside outside count)", lines.join(", "))), "{text}");
    assert!(text.contains("setgroups allowed"), "{text}");
    let text = run(&cwd, &home, &["check"]).stdout();
    let line = text.lines().find(|l| l.contains("uid ranges:")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with("ok "), "{line}");
    assert!(line.contains(&format!("/etc/subuid {su}-")), "{line}");
}

/// tests/setup-test-user (run by .ci/run and by the harness) in a root of
/// its own (`--root`): on a fresh machine it makes the user and one range
/// of each kind that overlaps no other owner's entry in either file and no
/// real id; an unsound range of the user (overlapping another's) goes, a
/// duplicated line is left once; a second run changes nothing.
#[test]
fn the_test_users_setup_is_idempotent_and_never_collides() {
    use sandbox::idmap::subid::{parse, Entry};
    if !root_or_skip("tests/setup-test-user runs useradd and usermod") {
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/setup-test-user");
    let fresh = |subuid: &str, subgid: &str| {
        let d = Dir::new();
        let passwd = "root:x:0:0:root:/root:/bin/sh\nother:x:1000:1000::/home/other:/bin/sh\n\
                      high:x:170000:170000::/:/bin/sh\n";
        d.file("etc/passwd", passwd);
        d.file("etc/group", "root:x:0:\nother:x:1000:\nhigh:x:170000:\n");
        d.file("etc/shadow", "root:*:1::::::\nother:*:1::::::\nhigh:*:1::::::\n");
        d.file("etc/gshadow", "root:*::\nother:!::\nhigh:!::\n");
        d.file("etc/subuid", subuid);
        d.file("etc/subgid", subgid);
        d
    };
    let setup = |d: &Dir| {
        let o = common::out(Command::new(&script).arg("--root").arg(d.path()));
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let read = |f: &str| std::fs::read_to_string(d.path().join("etc").join(f)).unwrap();
        (read("subuid"), read("subgid"))
    };
    let sound = |files: &(String, String), real: &[u32]| {
        let all: Vec<Entry> = [parse(&files.0), parse(&files.1)].concat();
        for text in [&files.0, &files.1] {
            let mine: Vec<Entry> = parse(text).into_iter().filter(|e| e.owner == TEST_USER).collect();
            assert_eq!(mine.len(), 1, "not one line of the test user:\n{text}");
            let r = mine[0].range;
            assert_eq!(r.count, 65536, "{text}");
            let others = all.iter().filter(|e| e.owner != TEST_USER);
            assert!(
                others.clone().all(|e| e.range.end() <= r.start || r.end() <= e.range.start),
                "{files:?}"
            );
            assert!(!real.iter().any(|&id| r.contains(id)), "a real id is in {r}: {files:?}");
        }
    };
    let d = fresh("other:100000:65536\n", "other:100000:65536\nthird:165536:1000\n");
    let first = setup(&d);
    let passwd = std::fs::read_to_string(d.path().join("etc/passwd")).unwrap();
    let uid: u32 = passwd
        .lines()
        .find_map(|l| l.strip_prefix("sandbox-test:x:"))
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    sound(&first, &[0, 1000, 170000, uid]);
    assert_eq!(setup(&d), first, "a second run changed the files");
    let unsound = "other:100000:65536\nsandbox-test:130000:65536\nsandbox-test:300000:65536\nsandbox-test:300000:65536\n";
    let d = fresh(unsound, "sandbox-test:100000:65536\n");
    let first = setup(&d);
    sound(&first, &[0, 1000, 170000]);
    assert!(first.0.contains("sandbox-test:300000:65536\n"), "the sound range was not kept: {}", first.0);
    assert_eq!(setup(&d), first, "a second run changed the files");
}
