//! The scratch tmpfs the sandbox's root is built in.
//!
//! As bubblewrap does it, the scratch tmpfs is mounted on /tmp (a directory that
//! always exists; the mount is only visible in our own mount namespace,
//! CVE-2019-12439) and made the root with a first pivot_root, the host's
//! root moving beneath it to [`HOST`]. Host objects are reached through the
//! descriptors opened before, or through [`host`] paths.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::launch::error::{Context, Result};
use crate::launch::sys::Sys;
use crate::launch::Ctx;
use crate::plan::RootTmpfs;

/// Where the scratch tmpfs is mounted before it becomes the root.
const BASE: &str = "/tmp";

/// Where the host's root is while the new root is built.
pub const HOST: &str = "/oldroot";

/// A host path as seen while the new root is built.
pub fn host(p: &Path) -> PathBuf {
    Path::new(HOST).join(p.strip_prefix("/").unwrap_or(p))
}

/// Mounts the scratch tmpfs and makes it the root, with the host's root
/// moved beneath it at [`HOST`] (bubblewrap's first pivot_root). A later
/// recursive bind of the host's `/` or `/tmp` then copies the host's own
/// mounts, never the scratch tmpfs. `/proc` there is a link to the host's,
/// so `/proc/self/fd/N` keeps naming the descriptors. Returns the scratch
/// directory.
pub fn mount(ctx: &Ctx, sys: &dyn Sys) -> Result<OwnedFd> {
    let root_flags = MsFlags::MS_REC | MsFlags::MS_SLAVE;
    sys.mount(None, Path::new("/"), None, root_flags, None).what(|| "make / rslave".into())?;
    let base = Path::new(BASE);
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    // A writable root keeps the kernel's defaults; findmnt shows them.
    let mode = match ctx.plan.root.tmpfs {
        RootTmpfs::ReadOnly => Some("mode=0755"),
        RootTmpfs::Writable => None,
    };
    sys.mount(Some(Path::new("tmpfs")), base, Some("tmpfs"), flags, mode)
        .what(|| format!("mount scratch tmpfs on {BASE}"))?;
    let base_fd = sys.open(base, libc::O_PATH | libc::O_DIRECTORY).what(|| format!("open {BASE}"))?;
    let mkdir =
        |name: &str, mode: u32| sys.mkdirat(&base_fd, Path::new(name), mode).what(|| format!("mkdir {name}"));
    mkdir("root", 0o755)?;
    mkdir(&HOST[1..], 0o755)?;
    // (What hidden paths are covered with is made when first needed:
    // `ops::hide`.)
    let root_path = base.join("root");
    sys.mount(Some(&root_path), &root_path, None, MsFlags::MS_BIND, None)
        .what(|| "bind the new root".into())?;
    sys.pivot_root(base, &base.join(&HOST[1..])).what(|| "pivot_root to the scratch tmpfs".into())?;
    sys.chdir(Path::new("/")).what(|| "chdir /".into())?;
    sys.symlinkat(&host(Path::new("/proc")), &base_fd, Path::new("proc")).what(|| "link /proc".into())?;
    Ok(base_fd)
}
