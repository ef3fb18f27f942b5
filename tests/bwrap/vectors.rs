//! The argument vectors of the differential suite, by theme. Every option
//! Debian's bubblewrap 0.8 knows appears in at least one.

use super::harness::{v, Vector, MIN, STD};

fn std(name: &'static str, rest: &str) -> Vector {
    v(name, &format!("{STD} {rest}"))
}

/// Raw classic BPF, 8 bytes per instruction (`seccomp_export_bpf`'s format).
pub fn bpf(insns: &[(u16, u8, u8, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(code, jt, jf, k) in insns {
        out.extend(code.to_ne_bytes());
        out.extend([jt, jf]);
        out.extend(k.to_ne_bytes());
    }
    out
}

/// Fails uname(2) with EPERM, allows the rest.
pub fn deny_uname() -> Vec<u8> {
    bpf(&[
        (0x20, 0, 0, 0),                                // ld [nr]
        (0x15, 0, 1, libc::SYS_uname as u32),           // jeq uname
        (0x06, 0, 0, 0x0005_0000 | libc::EPERM as u32), // ret ERRNO(EPERM)
        (0x06, 0, 0, 0x7fff_0000),                      // ret ALLOW
    ])
}

/// Fails mkdir(2)/mkdirat(2) with EACCES, allows the rest.
pub fn deny_mkdir() -> Vec<u8> {
    bpf(&[
        (0x20, 0, 0, 0),
        (0x15, 1, 0, libc::SYS_mkdir as u32),
        (0x15, 0, 1, libc::SYS_mkdirat as u32),
        (0x06, 0, 0, 0x0005_0000 | libc::EACCES as u32),
        (0x06, 0, 0, 0x7fff_0000),
    ])
}

pub fn namespaces() -> Vec<Vector> {
    vec![
        v("min-no-proc", MIN),
        std("std", ""),
        std("unshare-pid", "--unshare-pid"),
        std("unshare-all", "--unshare-all"),
        std("unshare-all-share-net", "--unshare-all --share-net"),
        std("share-net-first", "--share-net --unshare-all"),
        std("unshare-user", "--unshare-user"),
        std("unshare-user-try", "--unshare-user-try"),
        std("unshare-ipc", "--unshare-ipc").extra("ipcs -q 2>&1 | head -3"),
        std("unshare-net", "--unshare-net"),
        std("unshare-uts-hostname", "--unshare-uts --hostname sbx-host"),
        std("unshare-cgroup", "--unshare-cgroup").extra("cat /proc/self/cgroup"),
        std("unshare-cgroup-try", "--unshare-cgroup-try").extra("cat /proc/self/cgroup"),
        std("uid-gid-0", "--uid 0 --gid 0"),
        std("uid-gid-other", "--unshare-user --uid 1234 --gid 5678"),
        std("proc-host-pids", "--proc /proc"),
        std("as-pid-1", "--unshare-pid --as-pid-1"),
    ]
}

/// A recursive bind of a host tree (/ or /dev) copies the host's own
/// submounts, which differ from host to host; bubblewrap means to add
/// nosuid/nodev/ro to each, but Debian's 0.8 was seen to leave some
/// without (here the host's /dev/shm and /dev/pts: its remount of them is
/// refused and the error ignored), while sandbox adds them to every one
/// with mount_setattr(AT_RECURSIVE). So those vectors compare only the
/// mount points their own options make.
const SUBMOUNTS: &str = "host submounts of a recursive bind: host-specific, and bwrap 0.8 misses some";

/// The mount points STD and the vectors above make themselves (not
/// /dev/pts: the host has one too).
const OWN_MOUNTS: [&str; 11] = [
    "/",
    "/usr",
    "/proc",
    "/dev",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/tmp",
];

pub fn filesystem() -> Vec<Vector> {
    vec![
        std("bind-rw", "--bind {F}/data /data").extra("cat /data/file; echo new > /data/new"),
        std("ro-bind", "--ro-bind {F}/data /data").extra("echo x > /data/file; cat /data/file"),
        std("dev-bind", "--dev-bind /dev /dev")
            .extra("test -c /dev/null && echo chardev")
            .only_mounts(&OWN_MOUNTS, SUBMOUNTS),
        std(
            "bind-try-missing",
            "--bind-try {F}/nope /x --ro-bind-try {F}/data /data --dev-bind-try {F}/nope2 /y",
        ),
        std("bind-file", "--ro-bind {F}/data/file /etc/file").extra("cat /etc/file; stat -c %a /etc"),
        std("bind-over-bind", "--bind {F}/data /data --ro-bind {F}/data/sub /data/sub"),
        std("remount-ro", "--tmpfs /t --dir /t/d --remount-ro /t").extra("touch /t/x; ls /t"),
        std("tmpfs", "--tmpfs /t --tmpfs /tmp"),
        std("tmpfs-perms-size", "--perms 0700 --size 1048576 --tmpfs /t --size 0x200000 --tmpfs /u"),
        std("dir", "--dir /a/b/c --dir /tmp"),
        std("dir-perms-parents", "--perms 0700 --dir /p/q/r --perms 0604 --dir /s/t --perms 0750 --dir /v/w")
            .env("PROBE_PATHS", "/p /p/q /p/q/r /s /s/t /v /v/w"),
        std("file", "--file 3 /etc/f3 --perms 0640 --file 4 /x/y/f4")
            .input(3, b"file three\n")
            .input(4, b"file four\n")
            .env("PROBE_PATHS", "/etc/f3 /x /x/y /x/y/f4")
            .extra("cat /etc/f3 /x/y/f4"),
        std("bind-data", "--bind-data 3 /etc/d3 --ro-bind-data 4 /etc/d4 --perms 0444 --bind-data 5 /etc/d5")
            .input(3, b"three\n")
            .input(4, b"four\n")
            .input(5, b"five\n")
            .env("PROBE_PATHS", "/etc/d3 /etc/d4 /etc/d5")
            .extra("cat /etc/d3 /etc/d4 /etc/d5; echo w >> /etc/d3 && echo w3; echo w >> /etc/d4 && echo w4"),
        std("symlinks", "--symlink /usr/bin /ubin --symlink ../usr /a/b --symlink nowhere /dangling")
            .env("PROBE_PATHS", "/ubin /a /a/b /dangling"),
        std("chmod", "--tmpfs /t --dir /t/d --chmod 0700 /t/d --chmod 01777 /t")
            .env("PROBE_PATHS", "/t /t/d"),
        std("mqueue-needs-ipc", "--mqueue /dev/mqueue").expect(1),
        std("mqueue", "--unshare-ipc --mqueue /dev/mqueue"),
        std("two-procs-two-devs", "--proc /proc2 --dev /dev2"),
        std("bind-fd", "--bind-fd 3 /fd-rw --ro-bind-fd 4 /fd-ro")
            .open(3, "data")
            .open(4, "data/sub")
            .extra("ls /fd-rw /fd-ro; touch /fd-rw/w && echo rw; touch /fd-ro/w && echo ro"),
        std("whole-root-ro", "--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp")
            .only_mounts(&OWN_MOUNTS, SUBMOUNTS),
        std("relative-paths", "--bind ../data data --dir rel/dir --symlink usr/bin rel/bin")
            .env("PROBE_PATHS", "/data /rel /rel/dir /rel/bin"),
    ]
}

pub fn environment() -> Vec<Vector> {
    vec![
        std("clearenv", "--clearenv"),
        std("setenv-then-clearenv", "--setenv A 1 --clearenv --setenv B 2"),
        std("setenv-unsetenv", "--setenv A 1 --setenv PATH /usr/bin:/bin --unsetenv LANG --setenv Z last"),
        std("cwd-mapped", "--bind {F}/cwd {F}/cwd"),
        std("cwd-to-home", "--bind {F}/home {F}/home"),
        std("cwd-to-root", ""),
        std("cwd-home-changed", "--setenv HOME /usr"),
        std("chdir", "--chdir /usr/share"),
        std("chdir-relative", "--chdir usr"),
        std("umask", "--tmpfs /t").pre("umask 027;"),
    ]
}

pub fn process() -> Vec<Vector> {
    vec![
        std("exit-code", "").env("PROBE_EXIT", "42").expect(42),
        std("killed", "--unshare-pid").cmd(&["sh", "-c", "kill -9 $$"]).expect(137),
        std("new-session", "--new-session"),
        std("die-with-parent", "--die-with-parent --unshare-pid"),
        std("lock-file", "--bind {F}/lockfile /lock --lock-file /lock --unshare-pid")
            .extra("i=$(stat -c %i /lock); grep -q \":$i \" /proc/locks && echo locked || echo unlocked"),
        std("sync-fd", "--sync-fd 3").input(3, b""),
        std("block-fd", "--block-fd 3").input(3, b"go"),
        std("info-fd", "--info-fd 3 --unshare-pid --unshare-net").output(3),
        std("json-status", "--json-status-fd 3 --unshare-all").output(3).env("PROBE_EXIT", "7").expect(7),
        std("status-both", "--info-fd 3 --json-status-fd 4 --unshare-ipc --unshare-uts").output(3).output(4),
        std("json-exec-failure", "--json-status-fd 3").cmd(&["/nonexistent"]).output(3).expect(1),
        std("json-pre-exec-failure", "--json-status-fd 3 --chdir /nonexistent").output(3).expect(1),
        std("passed-fds", "").input(5, b"x").input(9, b"y"),
        std("cap-add-unprivileged", "--cap-add CAP_NET_ADMIN --cap-add cap_chown"),
        std("cap-add-root", "--uid 0 --gid 0 --cap-add ALL --cap-drop CAP_SYS_ADMIN"),
        std("cap-number", "--uid 0 --cap-add 12 --cap-drop all --cap-add CAP_KILL"),
        std("seccomp", "--seccomp 3").input(3, &deny_uname()),
        std("add-seccomp", "--add-seccomp-fd 3 --add-seccomp-fd 4")
            .input(3, &deny_uname())
            .input(4, &deny_mkdir())
            .extra("mkdir /tmp/x 2>&1 | sed 's/.*: //'"),
        std("disable-userns", "--unshare-user --disable-userns")
            .extra("unshare -U true 2>/dev/null && echo created || echo refused"),
        std("disable-and-assert", "--unshare-user --disable-userns --assert-userns-disabled --dev /dev"),
        std("args-fd", "--args 3").input(3, b"--unshare-pid\0--dir\0/from-args\0--setenv\0FROM\0args\0"),
        std("args-many", "--args 3 --args 4 --dir /z --args 5")
            .input(3, b"--dir\0/tmp/hello/world\0")
            .input(4, b"--dir\0/tmp/hello/world2\0")
            .input(5, b"--dir\0/tmp/hello/world3"),
    ]
}

pub fn errors() -> Vec<Vector> {
    let e = |name, args: &str| std(name, args).expect(1);
    vec![
        e("missing-source", "--bind {F}/nope /x"),
        e("missing-chdir", "--chdir /nonexistent"),
        e("not-found", "").cmd(&["no-such-command"]),
        e("unknown-option", "--frobnicate"),
        e("perms-alone", "--perms 0700 --bind /usr /u"),
        e("perms-twice", "--perms 0700 --perms 0700 --dir /d"),
        e("perms-bad", "--perms 8 --dir /d"),
        e("size-not-tmpfs", "--size 100 --dir /d"),
        e("size-zero", "--size 0 --tmpfs /t"),
        e("size-bogus", "--size 123bogus --tmpfs /t"),
        e("chmod-missing", "--chmod 0700 /nonexistent"),
        e("remount-not-a-mount", "--dir /x --remount-ro /x"),
        e("remount-missing", "--remount-ro /y/z"),
        e("hostname-needs-uts", "--hostname h"),
        e("hostname-too-long", &format!("--unshare-uts --hostname {}", "h".repeat(65))),
        e("as-pid-1-needs-pid", "--as-pid-1"),
        e("as-pid-1-and-lock", "--unshare-pid --as-pid-1 --lock-file /x"),
        e("disable-userns-needs-user", "--disable-userns"),
        e("assert-not-disabled", "--assert-userns-disabled"),
        e("userns-block-needs-user", "--userns-block-fd 3"),
        e("userns-block-needs-info", "--unshare-user --userns-block-fd 3"),
        e("seccomp-combined", "--seccomp 3 --add-seccomp-fd 4"),
        e("seccomp-bad-length", "--seccomp 3").input(3, b"1234567"),
        e("args-in-args", "--args 3").input(3, b"--args\x003\0"),
        e("bad-fd", "--sync-fd x3"),
        e("cap-unknown", "--cap-add sys_admin"),
        e("missing-value", "--bind /usr"),
        e(
            "last-wins-warnings",
            "--chdir / --chdir /usr --hostname a --hostname b --unshare-uts --chdir /nonexistent",
        ),
        e("no-command", "").cmd(&[]),
        e("dashdash-command", "--").cmd(&["--bind", "/", "/"]),
        e("setenv-invalid", "--setenv A=B x"),
        // Without SELinux (this host, CI): bubblewrap refuses any label.
        e("exec-label-without-selinux", "--exec-label system_u:system_r:container_t:s0"),
        e("file-label-without-selinux", "--file-label system_u:object_r:container_file_t:s0"),
    ]
}

/// Real callers' argument vectors.
pub fn callers() -> Vec<Vector> {
    vec![flatpak(), thumbnailer()]
}

/// The vector Flatpak builds for an app, reconstructed from
/// flatpak/flatpak common/flatpak-run.c (`flatpak_run_setup_base_argv`,
/// read through the code search tool, and `flatpak_run_app`'s namespace,
/// /app, lock-file, info-fd and seccomp parts): like Flatpak it passes the
/// options through `--args FD` and the command after `--` on the real argv.
/// Adapted to this host: the runtime is the host's /usr, the app a
/// fixture directory with its `.ref` lock file; /etc/machine-id (bound by
/// Flatpak only when it exists) as --ro-bind-try.
fn flatpak() -> Vector {
    let uid = crate::common::caller_uid();
    let run = format!("/run/user/{uid}");
    let words: Vec<String> = [
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-user-try",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "{F}/app",
        "/app",
        "--lock-file",
        "/app/.ref",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--dir",
        "/tmp",
        "--dir",
        "/var/tmp",
        "--dir",
        "/run/host",
        "--dir",
        &run,
        "--setenv",
        "XDG_RUNTIME_DIR",
        &run,
        "--symlink",
        "../run",
        "/var/run",
        "--ro-bind",
        "/sys/block",
        "/sys/block",
        "--ro-bind",
        "/sys/bus",
        "/sys/bus",
        "--ro-bind",
        "/sys/class",
        "/sys/class",
        "--ro-bind",
        "/sys/dev",
        "/sys/dev",
        "--ro-bind",
        "/sys/devices",
        "/sys/devices",
        "--ro-bind-try",
        "/proc/self/ns/user",
        "/run/.userns",
        "--symlink",
        "/etc/timezone",
        "/var/db/zoneinfo",
        "--ro-bind-data",
        "4",
        "/etc/passwd",
        "--ro-bind-data",
        "5",
        "/etc/group",
        "--ro-bind-data",
        "6",
        "/etc/pkcs11/pkcs11.conf",
        "--ro-bind",
        "/etc/machine-id",
        "/etc/machine-id",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--ro-bind-data",
        "7",
        "/.flatpak-info",
        "--symlink",
        "../../../.flatpak-info",
        &format!("{run}/flatpak-info"),
        "--dir",
        "{F}/home",
        "--bind",
        "{F}/data",
        "{F}/home/.var/app/org.example.App",
        "--setenv",
        "PATH",
        "/app/bin:/usr/bin",
        "--setenv",
        "FLATPAK_ID",
        "org.example.App",
        "--setenv",
        "container",
        "flatpak",
        "--unsetenv",
        "LANG",
        "--chdir",
        "{F}/home",
        "--seccomp",
        "8",
        "--info-fd",
        "9",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    let mut args = Vec::new();
    for w in &words {
        args.extend(w.as_bytes());
        args.push(0);
    }
    let mut vec = v("flatpak-app", "--args 3 --")
        .input(4, format!("user:x:{uid}:{uid}:User:/home/user:/bin/sh\nnfsnobody:x:65534:65534:Unmapped user:/:/sbin/nologin\n").as_bytes())
        .input(5, b"user:x:1000:user\nnfsnobody:x:65534:\n")
        .input(6, b"# Disable user pkcs11 config, because the host modules don't work in the runtime\nuser-config: none\n")
        .input(7, b"[Application]\nname=org.example.App\nruntime=runtime/org.example.Platform/x86_64/1\n")
        .input(8, &bpf(&[(0x06, 0, 0, 0x7fff_0000)]))
        .output(9)
        .env("PROBE_PATHS", "/.flatpak-info /etc/passwd /var/run /run/user /app")
        .extra("cat /etc/passwd /.flatpak-info | head -2; ls -A {F}/home/.var/app/org.example.App");
    vec.inputs.insert(0, (3, args));
    vec
}

/// GNOME's thumbnailer sandbox, the vector gnome-desktop's
/// libgnome-desktop/gnome-desktop-thumbnail-script.c (`add_bwrap`, read
/// through the code search tool) builds on a merged-usr host: /bin, /lib,
/// /lib64 and /sbin are symlinks there, which it recreates as symlinks to
/// "/usr//bin" etc. (its g_strdup_printf ("/usr/%s", "/bin")); the
/// thumbnailer's output dir bound on /tmp and the input file read-only
/// beside it. Its seccomp filter comes as `--seccomp FD`. The thumbnailer
/// here is a shell that copies the input to the output.
fn thumbnailer() -> Vector {
    let mut vec = v(
        "gnome-thumbnailer",
        "--ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache \
         --symlink /usr//bin /bin --symlink /usr//lib64 /lib64 --symlink /usr//lib /lib --symlink /usr//sbin /sbin \
         --proc /proc --dev /dev --chdir / --setenv GIO_USE_VFS local --unshare-all --die-with-parent \
         --bind {F}/out /tmp --ro-bind {F}/input.png /tmp/gnome-desktop-file-to-thumbnail.png --seccomp 3",
    )
    .input(3, &deny_uname())
    .cmd(&[
        "sh",
        "-c",
        "uname -n 2>&1 | sed 's/.*: //'; cp /tmp/gnome-desktop-file-to-thumbnail.png /tmp/gnome-desktop-thumbnailer.png \
         && ls -l /tmp | sed 1d | cut -c1-10",
    ]);
    vec.name = "gnome-thumbnailer";
    vec
}
