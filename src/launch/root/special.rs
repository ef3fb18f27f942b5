//! The special file systems: a fresh /proc and a minimal /dev.
//!
//! - proc: a new procfs instance shows only the sandbox's pid namespace. The
//!   kernel lets a user namespace mount one only while a fully visible procfs
//!   exists in the mount namespace, so this runs before pivot_root (the
//!   host's /proc is still there). `sys`, `sysrq-trigger`, `irq` and `bus`
//!   get read-only binds over themselves, as bubblewrap does: some of their
//!   files are writable by namespace root and reach the host kernel.
//!   Without a pid namespace of its own the sandbox gets the host's /proc
//!   bound instead (a new instance would need privileges over the host's
//!   pid namespace).
//! - dev: a tmpfs with bind mounts of the host's harmless character devices
//!   (null zero full random urandom tty), a private devpts instance for
//!   ptys, /dev/shm, and the usual links.

use std::path::Path;

use nix::mount::MsFlags;

use super::ops;
use super::resolve::Root;
use crate::escape;
use crate::launch::error::{Context, Result};
use crate::launch::sys;
use crate::launch::Ctx;
use crate::plan::Special;

const PROC_READ_ONLY: [&str; 4] = ["sys", "sysrq-trigger", "irq", "bus"];
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
const DEV_LINKS: [(&str, &str); 6] = [
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("fd", "/proc/self/fd"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];

pub fn proc(ctx: &Ctx, root: &Root, dest: &Path) -> Result<()> {
    let joined_pidns = ctx.plan.ns_setup.join_pid_fd.is_some();
    if !ctx.plan.namespaces.pid && !joined_pidns {
        let host = root
            .sys
            .open(&super::scratch::host(Path::new("/proc")), libc::O_PATH | libc::O_DIRECTORY)
            .what(|| "open /proc".into())?;
        // Made or resolved just now, nothing mounted since: the mount point.
        let target = ops::ensure_dir(root, dest, 0o755)?;
        ops::bind_over(root, &host, &target, dest, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV)?;
    } else {
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        ops::mount_new(root, dest, "proc", flags, None)?;
    }
    let attrs =
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
    for name in PROC_READ_ONLY {
        let path = dest.join(name);
        let Ok(fd) = root.open(&path, 0) else {
            continue;
        };
        // Plain covers only those the sandbox could write to (in a user
        // namespace, none of them: they belong to the host's root).
        if ctx.plan.root.special == Special::Plain && !root.sys.writable(&fd) {
            continue;
        }
        ctx.log("mount", &format!("{} read-only", escape::path(&path)));
        // The entry is both the source and the mount point: resolved after
        // proc was mounted, and the binds of this loop land on its other
        // entries (siblings, never a parent), so it is still what the path
        // means.
        ops::bind_over(root, &fd, &fd, &path, attrs)?;
    }
    Ok(())
}

/// The flags of /dev: strict adds noexec; plain's tmpfs is nosuid,nodev
/// (the device binds carry no nodev), its /dev/shm a 0755 directory.
struct DevFlavour {
    tmpfs: MsFlags,
    devices: u64,
    shm_mode: u32,
}

fn flavour(ctx: &Ctx) -> DevFlavour {
    match ctx.plan.root.special {
        Special::Plain => DevFlavour {
            tmpfs: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            devices: sys::MOUNT_ATTR_NOSUID,
            shm_mode: 0o755,
        },
        Special::Strict => DevFlavour {
            tmpfs: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            devices: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC,
            shm_mode: 0o1777,
        },
    }
}

pub fn dev(ctx: &Ctx, root: &Root, dest: &Path) -> Result<()> {
    let fl = flavour(ctx);
    ops::mount_new(root, dest, "tmpfs", fl.tmpfs, Some(&ops::labelled(ctx, "mode=0755".into())))?;
    // The tmpfs just mounted, resolved once now that it is there; every
    // entry below is made in it through this fd. The mounts that follow
    // land on entries inside it (the devices, pts, console), never on
    // `dest` or a parent of it, so none changes what the fd names. Each
    // mount point's own fd comes from creating it (O_EXCL, O_NOFOLLOW: a
    // new object, no link followed) right before its mount. The tmpfs is
    // new and empty, so nothing is there to be found first.
    let dir = root.open(dest, libc::O_DIRECTORY).what(|| format!("open {}", escape::path(dest)))?;
    for name in DEVICES {
        let host = super::scratch::host(&Path::new("/dev").join(name));
        let Ok(src) = root.sys.open(&host, libc::O_PATH) else {
            ctx.log("mount", &format!("{} is missing on the host: skipped", host.display()));
            continue;
        };
        let path = dest.join(name);
        let target = ops::make_file(root, &dir, name.as_ref()).map_err(|e| ops::create_error(&path, e))?;
        ops::bind_over(root, &src, &target, &path, fl.devices)?;
    }
    for (name, target) in DEV_LINKS {
        root.sys
            .symlinkat(Path::new(target), &dir, Path::new(name))
            .what(|| format!("symlink {}", escape::path(&dest.join(name))))?;
    }
    let shm = dest.join("shm");
    root.sys.mkdirat(&dir, Path::new("shm"), fl.shm_mode).map_err(|e| ops::mkdir_error(&shm, e))?;
    let pts = dest.join("pts");
    let target = ops::make_dir(root, &dir, "pts".as_ref(), 0o755).map_err(|e| ops::mkdir_error(&pts, e))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    ops::mount_new_on(root, &target, &pts, "devpts", flags, Some("newinstance,ptmxmode=0666,mode=620"))?;
    // The caller's terminal as /dev/console, as bubblewrap does, so programs
    // that write to the console reach the terminal the sandbox runs in. It
    // is opened by name: the caller's fd 1 lives on a mount of the caller's
    // mount namespace, which cannot be bound into this one (EINVAL).
    if let Some(tty) = root.sys.terminal(Path::new(super::scratch::HOST)) {
        let console = dest.join("console");
        let target =
            ops::make_file(root, &dir, "console".as_ref()).map_err(|e| ops::create_error(&console, e))?;
        ops::bind_over(root, &tty, &target, &console, fl.devices)?;
    }
    Ok(())
}
