//! The new root's calls, in order, recorded without root: the default
//! profile, a Flatpak-style bubblewrap vector, and overlays, each built from its
//! front end's Plan through [`RecordingSys`]. What each line says is
//! `Call`'s display (`sys/recording.rs`); the new root reads `/newroot`.

use std::collections::HashMap;
use std::ffi::OsString;

use nix::errno::Errno;

use super::*;
use crate::host::Host;
use crate::launch::filters::Filters;
use crate::launch::sys::recording::{Call, RecordingSys};
use crate::plan::Plan;

fn host() -> Host {
    let mut h = Host::fake("/work/proj");
    h.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()));
    h
}

/// The native front end's Plan for `args`.
fn native(args: &[&str]) -> Plan {
    let argv: Vec<OsString> = ["sandbox"].iter().chain(args).map(OsString::from).collect();
    // An empty host file system: nothing of this host's /etc or PATH is added.
    match crate::native::parse_with(argv, &host(), &crate::hostfs::fake::FakeFs::new()) {
        Ok(crate::native::Command::Run { built, .. }) => built.plan,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// The bubblewrap-compatible front end's Plan for `args`, with `data`
/// behind its fds.
fn compat_plan(args: &[&str], data: &[(i32, &[u8])]) -> Plan {
    struct Io(HashMap<i32, Vec<u8>>);
    impl crate::compat::Io for Io {
        fn read_fd(&mut self, fd: i32) -> std::result::Result<Vec<u8>, Errno> {
            self.0.remove(&fd).ok_or(Errno::EBADF)
        }
        fn exists(&self, _: &str) -> bool {
            true
        }
        fn read_file(&self, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn effective_caps(&self) -> u64 {
            0
        }
        // An SELinux host, where any label is valid.
        fn check_label(&self, _: &str) -> crate::compat::Label {
            crate::compat::Label::Valid
        }
    }
    let mut io = Io(data.iter().map(|(fd, d)| (*fd, d.to_vec())).collect());
    let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
    match crate::compat::parse("compat", &argv, &host(), &mut io).result {
        Ok(ready) => ready.plan,
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}

/// Builds `plan`'s root through `sys`.
fn build_with(plan: &Plan, sys: &RecordingSys) -> Result<()> {
    let filters = Filters::default();
    let caller = crate::plan::Ids { uid: 1000, gid: 1000 };
    let ctx = Ctx {
        plan,
        verbose: false,
        filters: &filters,
        pause_at: None,
        dns_floor: None,
        egress_fault: None,
        caller,
    };
    let sources = open_sources(sys, &plan.root.source, &plan.fs)?;
    build(&ctx, sys, sources)
}

/// The recorded lines, with a readable diff when they differ.
fn assert_lines(sys: &RecordingSys, want: &[&str]) {
    let got = sys.lines();
    if got != want {
        let mut text = String::new();
        for (i, g) in got.iter().enumerate() {
            let mark = if want.get(i) == Some(&g.as_str()) { " " } else { ">" };
            text.push_str(&format!("{mark} {g:?},\n"));
        }
        panic!("recorded calls differ (> marks a difference; {} wanted):\n{text}", want.len());
    }
}

/// The first calls of every build: the scratch tmpfs (with `data`) made
/// the root, the host's root beneath it at /oldroot, the empty new root.
fn scratch(data: Option<&str>) -> Vec<String> {
    let tmpfs = match data {
        Some(d) => format!("mount tmpfs /tmp (nosuid,nodev) {d}"),
        None => "mount tmpfs /tmp (nosuid,nodev)".to_string(),
    };
    [
        "mount / (rec,slave)",
        &tmpfs,
        "mkdir /newroot 0755",
        "mkdir /tmp/oldroot 0755",
        "mount /newroot -> /newroot (bind)",
        "pivot_root /tmp /tmp/oldroot",
        "chdir /",
        "symlink /tmp/proc -> /oldroot/proc",
    ]
    .map(String::from)
    .to_vec()
}

/// The last calls of every build: into the new root, the old one detached.
const PIVOT: [&str; 4] = ["chdir /newroot", "pivot_root . .", "umount . detach", "chdir /"];

fn all<'a>(first: &'a [String], middle: &[&'a str], last: &[&'a str]) -> Vec<&'a str> {
    first.iter().map(String::as_str).chain(middle.iter().copied()).chain(last.iter().copied()).collect()
}

/// A host like most: /etc/shadow and friends are files, some are absent.
fn etc_host() -> RecordingSys {
    RecordingSys::default().files(&["/etc/shadow", "/etc/gshadow", "/etc/security/opasswd"]).missing(&[
        "/etc/shadow-",
        "/etc/gshadow-",
        "/etc/ssl/private",
    ])
}

/// The default profile on a host where /bin is a link into /usr and
/// /lib64 a directory: every bind is followed by its flags, recursively
/// (ro, nosuid, nodev for the read-only ones, nosuid, nodev for the
/// current directory); hidden files get an empty read-only file over
/// them, absent ones nothing; /dev's devices are noexec, /dev/shm
/// sticky; /proc's sys, sysrq-trigger, irq, bus are covered read-only;
/// /etc/resolv.conf is --net none's unreachable resolver, bound right after
/// /etc; fontconfig's cache comes last; the root itself is remounted
/// read-only last, before pivot_root.
#[test]
fn the_default_profile_builds_its_root_in_this_order() {
    let plan = native(&["--", "true"]);
    let sys = etc_host();
    build_with(&plan, &sys).unwrap();
    let first = scratch(Some("mode=0755"));
    let middle = [
        "mkdir /newroot/usr 0755",
        "open_tree /usr",
        "setattr /usr ro,nosuid,nodev recursive",
        "move_mount /usr -> /newroot/usr",
        "mkdir /newroot/etc 0755",
        "open_tree /etc",
        "setattr /etc ro,nosuid,nodev recursive",
        "move_mount /etc -> /newroot/etc",
        // --net none's unreachable resolver, right after /etc.
        "create /tmp/data-2 0644",
        "write /tmp/data-2 231 bytes",
        "mount /tmp/data-2 -> /newroot/etc/resolv.conf (bind)",
        "setattr /newroot/etc/resolv.conf ro,nosuid,nodev",
        "symlink /newroot/bin -> usr/bin",
        "mkdir /newroot/lib64 0755",
        "open_tree /lib64",
        "setattr /lib64 ro,nosuid,nodev recursive",
        "move_mount /lib64 -> /newroot/lib64",
        // The first hidden file: the cover made, bound over itself and
        // flagged once; every cover is a bind of it, its flags copied.
        "create /tmp/hidden-file 0444",
        "mount /tmp/hidden-file -> /tmp/hidden-file (bind)",
        "setattr /tmp/hidden-file ro,nosuid,nodev,noexec",
        "mount /tmp/hidden-file -> /newroot/etc/shadow (bind)",
        "mount /tmp/hidden-file -> /newroot/etc/gshadow (bind)",
        "mount /tmp/hidden-file -> /newroot/etc/security/opasswd (bind)",
        "mkdir /newroot/tmp 0755",
        "mount tmpfs /newroot/tmp (nosuid,nodev) mode=755",
        "mkdir /newroot/home 0755",
        "mkdir /newroot/home/u 0755",
        "mount tmpfs /newroot/home/u (nosuid,nodev) mode=755",
        "mkdir /newroot/dev 0755",
        "mount tmpfs /newroot/dev (nosuid,noexec) mode=0755",
        "create /newroot/dev/null 0444",
        "open_tree /oldroot/dev/null",
        "setattr /oldroot/dev/null nosuid,noexec recursive",
        "move_mount /oldroot/dev/null -> /newroot/dev/null",
        "create /newroot/dev/zero 0444",
        "open_tree /oldroot/dev/zero",
        "setattr /oldroot/dev/zero nosuid,noexec recursive",
        "move_mount /oldroot/dev/zero -> /newroot/dev/zero",
        "create /newroot/dev/full 0444",
        "open_tree /oldroot/dev/full",
        "setattr /oldroot/dev/full nosuid,noexec recursive",
        "move_mount /oldroot/dev/full -> /newroot/dev/full",
        "create /newroot/dev/random 0444",
        "open_tree /oldroot/dev/random",
        "setattr /oldroot/dev/random nosuid,noexec recursive",
        "move_mount /oldroot/dev/random -> /newroot/dev/random",
        "create /newroot/dev/urandom 0444",
        "open_tree /oldroot/dev/urandom",
        "setattr /oldroot/dev/urandom nosuid,noexec recursive",
        "move_mount /oldroot/dev/urandom -> /newroot/dev/urandom",
        "create /newroot/dev/tty 0444",
        "open_tree /oldroot/dev/tty",
        "setattr /oldroot/dev/tty nosuid,noexec recursive",
        "move_mount /oldroot/dev/tty -> /newroot/dev/tty",
        "symlink /newroot/dev/stdin -> /proc/self/fd/0",
        "symlink /newroot/dev/stdout -> /proc/self/fd/1",
        "symlink /newroot/dev/stderr -> /proc/self/fd/2",
        "symlink /newroot/dev/fd -> /proc/self/fd",
        "symlink /newroot/dev/core -> /proc/kcore",
        "symlink /newroot/dev/ptmx -> pts/ptmx",
        "mkdir /newroot/dev/shm 1777",
        "mkdir /newroot/dev/pts 0755",
        "mount devpts /newroot/dev/pts (nosuid,noexec) newinstance,ptmxmode=0666,mode=620",
        "mkdir /newroot/proc 0755",
        "mount proc /newroot/proc (nosuid,nodev,noexec)",
        "open_tree /newroot/proc/sys",
        "setattr /newroot/proc/sys ro,nosuid,nodev,noexec recursive",
        "move_mount /newroot/proc/sys -> /newroot/proc/sys",
        "open_tree /newroot/proc/sysrq-trigger",
        "setattr /newroot/proc/sysrq-trigger ro,nosuid,nodev,noexec recursive",
        "move_mount /newroot/proc/sysrq-trigger -> /newroot/proc/sysrq-trigger",
        "open_tree /newroot/proc/irq",
        "setattr /newroot/proc/irq ro,nosuid,nodev,noexec recursive",
        "move_mount /newroot/proc/irq -> /newroot/proc/irq",
        "open_tree /newroot/proc/bus",
        "setattr /newroot/proc/bus ro,nosuid,nodev,noexec recursive",
        "move_mount /newroot/proc/bus -> /newroot/proc/bus",
        "mkdir /newroot/work 0755",
        "mkdir /newroot/work/proj 0755",
        "open_tree /work/proj",
        "setattr /work/proj nosuid,nodev recursive",
        "move_mount /work/proj -> /newroot/work/proj",
        "mkdir /newroot/var 0755",
        "mkdir /newroot/var/cache 0755",
        "mkdir /newroot/var/cache/fontconfig 0755",
        "open_tree /var/cache/fontconfig",
        "setattr /var/cache/fontconfig ro,nosuid,nodev recursive",
        "move_mount /var/cache/fontconfig -> /newroot/var/cache/fontconfig",
        "mount /newroot (remount,bind,ro,nosuid,nodev)", // the root read-only
    ];
    assert_lines(&sys, &all(&first, &middle, &PIVOT));
}

/// A Flatpak-style vector through the bubblewrap-compatible front end: bubblewrap's root
/// (the scratch tmpfs with the kernel's defaults, never remounted
/// read-only), missing parents 0700 under mounts and links and 0755 under
/// `--dir`, its plain /dev (nosuid only on the devices, /dev/shm 0755),
/// no /proc entry covered (none is writable here), a data file bound
/// read-only, and `--remount-ro` as a non-recursive read-only flag.
#[test]
fn a_flatpak_style_bubblewrap_vector_builds_bubblewraps_root() {
    let args = "--unshare-pid --die-with-parent \
                --ro-bind /var/lib/flatpak/runtime/files /usr --lock-file /usr/.ref \
                --ro-bind /var/lib/flatpak/app/files /app --symlink usr/lib /lib --symlink usr/bin /bin \
                --proc /proc --dev /dev --dir /tmp --dir /run/user/1000 --symlink ../run /var/run \
                --ro-bind-data 3 /.flatpak-info \
                --bind /home/u/.var/app/org.x /home/u/.var/app/org.x --remount-ro /app \
                --chdir /home/u /app/bin/x";
    let plan =
        compat_plan(&args.split_whitespace().collect::<Vec<_>>(), &[(3, b"[Application]\nname=org.x\n")]);
    let sys = RecordingSys::default();
    build_with(&plan, &sys).unwrap();
    let first = scratch(None);
    let middle = [
        "mkdir /newroot/usr 0755",
        "open_tree /var/lib/flatpak/runtime/files",
        "setattr /var/lib/flatpak/runtime/files ro,nosuid,nodev recursive",
        "move_mount /var/lib/flatpak/runtime/files -> /newroot/usr",
        "mkdir /newroot/app 0755",
        "open_tree /var/lib/flatpak/app/files",
        "setattr /var/lib/flatpak/app/files ro,nosuid,nodev recursive",
        "move_mount /var/lib/flatpak/app/files -> /newroot/app",
        "symlink /newroot/lib -> usr/lib",
        "symlink /newroot/bin -> usr/bin",
        "mkdir /newroot/proc 0755",
        "mount proc /newroot/proc (nosuid,nodev,noexec)",
        "mkdir /newroot/dev 0755",
        "mount tmpfs /newroot/dev (nosuid,nodev) mode=0755",
        "create /newroot/dev/null 0444",
        "open_tree /oldroot/dev/null",
        "setattr /oldroot/dev/null nosuid recursive",
        "move_mount /oldroot/dev/null -> /newroot/dev/null",
        "create /newroot/dev/zero 0444",
        "open_tree /oldroot/dev/zero",
        "setattr /oldroot/dev/zero nosuid recursive",
        "move_mount /oldroot/dev/zero -> /newroot/dev/zero",
        "create /newroot/dev/full 0444",
        "open_tree /oldroot/dev/full",
        "setattr /oldroot/dev/full nosuid recursive",
        "move_mount /oldroot/dev/full -> /newroot/dev/full",
        "create /newroot/dev/random 0444",
        "open_tree /oldroot/dev/random",
        "setattr /oldroot/dev/random nosuid recursive",
        "move_mount /oldroot/dev/random -> /newroot/dev/random",
        "create /newroot/dev/urandom 0444",
        "open_tree /oldroot/dev/urandom",
        "setattr /oldroot/dev/urandom nosuid recursive",
        "move_mount /oldroot/dev/urandom -> /newroot/dev/urandom",
        "create /newroot/dev/tty 0444",
        "open_tree /oldroot/dev/tty",
        "setattr /oldroot/dev/tty nosuid recursive",
        "move_mount /oldroot/dev/tty -> /newroot/dev/tty",
        "symlink /newroot/dev/stdin -> /proc/self/fd/0",
        "symlink /newroot/dev/stdout -> /proc/self/fd/1",
        "symlink /newroot/dev/stderr -> /proc/self/fd/2",
        "symlink /newroot/dev/fd -> /proc/self/fd",
        "symlink /newroot/dev/core -> /proc/kcore",
        "symlink /newroot/dev/ptmx -> pts/ptmx",
        "mkdir /newroot/dev/shm 0755",
        "mkdir /newroot/dev/pts 0755",
        "mount devpts /newroot/dev/pts (nosuid,noexec) newinstance,ptmxmode=0666,mode=620",
        "mkdir /newroot/tmp 0755",
        "mkdir /newroot/run 0755",
        "mkdir /newroot/run/user 0755",
        "mkdir /newroot/run/user/1000 0755",
        "mkdir /newroot/var 0700",
        "symlink /newroot/var/run -> ../run",
        "create /tmp/data-9 0600",
        "write /tmp/data-9 25 bytes",
        "create /newroot/.flatpak-info 0444",
        "mount /tmp/data-9 -> /newroot/.flatpak-info (bind)",
        "setattr /newroot/.flatpak-info ro,nosuid,nodev",
        "mkdir /newroot/home 0700",
        "mkdir /newroot/home/u 0700",
        "mkdir /newroot/home/u/.var 0700",
        "mkdir /newroot/home/u/.var/app 0700",
        "mkdir /newroot/home/u/.var/app/org.x 0755",
        "open_tree /home/u/.var/app/org.x",
        "setattr /home/u/.var/app/org.x nosuid,nodev recursive",
        "move_mount /home/u/.var/app/org.x -> /newroot/home/u/.var/app/org.x",
        "setattr /newroot/app ro",
    ];
    assert_lines(&sys, &all(&first, &middle, &PIVOT));
}

/// Overlays, then the mounts that back explicit write rules: a tmpfs
/// upper in the scratch tmpfs, a read-only stack of two lowers (the top
/// first), both nosuid, nodev, userxattr; then every mount read-only but
/// copies of the writable ones (/dev and the rule's directory) put back
/// on top; then the read-only root.
#[test]
fn overlays_and_the_write_rules_mounts_come_after_the_binds() {
    let args = [
        "--overlay",
        "/work/proj/src:/src",
        "--ro-overlay",
        "/opt/a:/opt/b:/opt/ab",
        "--allow-write",
        "/work/proj",
        "--",
        "true",
    ];
    let plan = native(&args);
    let n = plan.fs.iter().position(|op| matches!(op, crate::plan::FsOp::Overlay { .. })).unwrap();
    let sys = etc_host();
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    let start = lines.iter().position(|l| l.starts_with("mkdir /tmp/overlay-upper")).unwrap();
    let want = [
        format!("mkdir /tmp/overlay-upper-{n} 0755"),
        format!("mkdir /tmp/overlay-work-{n} 0755"),
        "mkdir /newroot/src 0755".into(),
        format!(
            "mount overlay /newroot/src (nosuid,nodev) lowerdir=/work/proj/src,\
             upperdir=/tmp/overlay-upper-{n},workdir=/tmp/overlay-work-{n},userxattr"
        ),
        "mkdir /newroot/opt 0755".into(),
        "mkdir /newroot/opt/ab 0755".into(),
        "mount overlay /newroot/opt/ab (nosuid,nodev) lowerdir=/opt/a:/opt/b,userxattr".into(),
        "open_tree /newroot/dev".into(),
        "open_tree /newroot/work/proj".into(),
        "setattr /newroot ro recursive".into(),
        "move_mount /newroot/dev -> /newroot/dev".into(),
        "move_mount /newroot/work/proj -> /newroot/work/proj".into(),
        "mount /newroot (remount,bind,ro,nosuid,nodev)".into(),
    ];
    let got: Vec<&str> = lines[start..lines.len() - PIVOT.len()].iter().map(String::as_str).collect();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}

/// A call that fails stops the build at once, and the error names the
/// step and object: here the flags of the first bind (call 11: after the
/// eight of the scratch tmpfs, the mkdir and the clone of /usr's tree).
#[test]
fn a_failed_call_stops_the_build_and_names_its_object() {
    let plan = native(&["--", "true"]);
    let sys = etc_host().fail_at(11, Errno::EPERM);
    let err = build_with(&plan, &sys).unwrap_err();
    assert_eq!(err.to_string(), "remount /usr: Operation not permitted");
    let lines = sys.lines();
    assert_eq!(lines.len(), 10, "nothing after the failure: {lines:#?}");
    assert_eq!(lines[9], "open_tree /usr");
    assert!(matches!(sys.calls().last(), Some(Call::OpenTree { .. })));
}

/// A destination reached through a symlink made earlier is resolved inside
/// the new root (RESOLVE_IN_ROOT): the link to /x leads to the new root's
/// /x, a fresh tmpfs, never to the host's /x.
#[test]
fn a_link_made_earlier_is_followed_inside_the_new_root() {
    let plan = native(&["--tmpfs", "/x", "--symlink", "/x:/e", "--tmpfs", "/e/t", "--", "true"]);
    let sys = etc_host();
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    let at = lines.iter().position(|l| l == "symlink /newroot/e -> /x").expect("the link");
    assert_eq!(
        lines[at + 1..at + 3],
        ["mkdir /newroot/x/t 0755", "mount tmpfs /newroot/x/t (nosuid,nodev) mode=755"]
    );
}

/// A bind source is opened on the host once, its symlinks followed (as
/// bubblewrap's realpath does), and bound through that descriptor: what
/// is mounted is the link's target.
#[test]
fn a_bind_source_is_opened_once_through_its_links() {
    let plan = native(&["--ro", "/opt/app", "--", "true"]);
    let sys = etc_host().link("/opt/app", "/srv/app-2.1");
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    let at = lines.iter().position(|l| l == "mkdir /newroot/opt 0755").expect("the parent");
    assert_eq!(
        lines[at + 1..at + 5],
        [
            "mkdir /newroot/opt/app 0755",
            "open_tree /srv/app-2.1",
            "setattr /srv/app-2.1 ro,nosuid,nodev recursive",
            "move_mount /srv/app-2.1 -> /newroot/opt/app"
        ]
    );
}

/// `--rootfs`: the directory first, as an overlay's lower layer (its
/// upper a tmpfs of the scratch space), every operation on top, the root
/// remounted read-only last; with `--rw-rootfs` a writable nosuid, nodev
/// bind instead (cloned, flagged, attached), and no read-only remount.
#[test]
fn a_root_directory_comes_first_and_the_operations_land_on_it() {
    let plan = native(&["--rootfs", "/img", "--", "true"]);
    let n = plan.fs.len();
    let sys = etc_host();
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    let start = scratch(Some("mode=0755")).len();
    let want = [
        format!("mkdir /tmp/overlay-upper-{n} 0755"),
        format!("mkdir /tmp/overlay-work-{n} 0755"),
        format!(
            "mount overlay /newroot (nosuid,nodev) lowerdir=/img,upperdir=/tmp/overlay-upper-{n},\
             workdir=/tmp/overlay-work-{n},userxattr"
        ),
        "mkdir /newroot/tmp 0755".into(),
    ];
    assert_eq!(lines[start..start + want.len()], want);
    assert_eq!(lines[lines.len() - PIVOT.len() - 1], "mount /newroot (remount,bind,ro,nosuid,nodev)");
    let plan = native(&["--rootfs", "/img", "--rw-rootfs", "--", "true"]);
    let sys = etc_host();
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    // (The double takes the bound directory to have a /tmp.) The tree is
    // cloned, its flags set, then attached, as every bind is.
    let want = [
        "open_tree /img",
        "setattr /img nosuid,nodev recursive",
        "move_mount /img -> /newroot",
        "mount tmpfs /newroot/tmp (nosuid,nodev) mode=755",
    ];
    assert_eq!(lines[start..start + want.len()], want);
    assert!(!lines.iter().any(|l| l.contains("remount,bind,ro")), "{lines:#?}");
}

/// A directory bound read-write at `/` (`--rw DIR:/`) replaces the root
/// and keeps its own access: nothing remounts it read-only after the
/// operations; a read-only one is read-only through its own flags. Only
/// the tmpfs root itself gets the read-only remount.
#[test]
fn a_directory_bound_at_the_root_keeps_its_own_access() {
    let remounted = |args: &[&str]| {
        let sys = etc_host();
        build_with(&native(args), &sys).unwrap();
        let lines = sys.lines();
        (lines.iter().any(|l| l == "mount /newroot (remount,bind,ro,nosuid,nodev)"), lines)
    };
    let (ro, lines) = remounted(&["--profile", "none", "--rw", "/data:/", "--", "true"]);
    assert!(!ro, "{lines:#?}");
    assert!(lines.contains(&"setattr /data nosuid,nodev recursive".to_string()), "{lines:#?}");
    let (ro, lines) = remounted(&["--profile", "none", "--ro", "/data:/", "--", "true"]);
    assert!(!ro, "{lines:#?}");
    assert!(lines.contains(&"setattr /data ro,nosuid,nodev recursive".to_string()), "{lines:#?}");
    let (ro, lines) = remounted(&["--profile", "none", "--rw", "/data:/srv", "--", "true"]);
    assert!(ro, "the tmpfs root stays read-only: {lines:#?}");
}

/// bubblewrap's --file-label where SELinux is on: the context set for the
/// files the setup makes (setfscreatecon) before anything is made, and on
/// every tmpfs, /dev's included.
#[test]
fn a_file_label_marks_the_files_made_and_every_tmpfs() {
    let args = "--file-label system_u:object_r:container_file_t:s0 --dev /dev --tmpfs /tmp true";
    let plan = compat_plan(&args.split_whitespace().collect::<Vec<_>>(), &[]);
    let sys = RecordingSys::default().files(&["/proc/thread-self/attr/fscreate"]);
    build_with(&plan, &sys).unwrap();
    let lines = sys.lines();
    assert_eq!(lines[0], "write /proc/thread-self/attr/fscreate 37 bytes", "first of all: {lines:#?}");
    let ctx = "context=\"system_u:object_r:container_file_t:s0\"";
    assert!(
        lines.contains(&format!("mount tmpfs /newroot/dev (nosuid,nodev) mode=0755,{ctx}")),
        "{lines:#?}"
    );
    assert!(lines.contains(&format!("mount tmpfs /newroot/tmp (nosuid,nodev) mode=755,{ctx}")), "{lines:#?}");
}
