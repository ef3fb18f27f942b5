//! Mount flags that back the explicit landlock rules: read-only outside the
//! write rules, noexec outside the exec rules (why: the Plan's
//! `plan::landlock::mounts`, which also decides the paths).
//!
//! Kernel rules this relies on:
//! - open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) copies the mount tree beneath
//!   a path into a detached tree, each mount with its flags; mount_setattr
//!   on the root does not reach a detached tree, and move_mount puts it back
//!   on top of the same place. So: copy beneath each kept path, restrict
//!   the whole root recursively, put the copies back. A kept path beneath a
//!   read-only bind is copied read-only and stays so.
//! - Restrictions are only ever added (mount_setattr's attr_set), so a flag
//!   the host locked is never in the way.
//! - Mount points need no write access to their parent: the copies go back
//!   onto a root that is read-only (noexec) by then.
//! - This runs after every operation of the plan, so the paths resolve
//!   inside the root the way the command's landlock rules will see them
//!   (symlinks followed within the root), and before the root itself is
//!   made read-only and pivoted into.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::ops::restrict;
use super::resolve::Root;
use crate::escape;
use crate::launch::error::{Context, Result, SetupError};
use crate::launch::{sys, Ctx};
use crate::plan::landlock::mounts::mount_rules;

/// The step: read-only outside the write rules, then noexec outside the
/// exec rules (the second copies carry the first's flags).
pub fn apply(ctx: &Ctx, root: &Root) -> Result<()> {
    let rules = mount_rules(ctx.plan);
    if let Some(keep) = &rules.writable {
        narrow(ctx, root, keep, sys::MOUNT_ATTR_RDONLY, "read-only", "written")?;
    }
    if let Some(keep) = &rules.exec {
        narrow(ctx, root, keep, sys::MOUNT_ATTR_NOEXEC, "noexec", "executed")?;
    }
    Ok(())
}

/// Where an fd of the root's tree is, as a path without symlinks.
fn location(root: &Root, fd: &OwnedFd, what: &Path) -> Result<PathBuf> {
    root.sys.location(fd).what(|| format!("open {}", escape::path(what)))
}

/// A kept path: as the plan names it, where it is, and an fd of it.
struct Kept {
    path: PathBuf,
    at: PathBuf,
    fd: OwnedFd,
}

/// The kept paths resolved inside the root, outermost only (a copy carries
/// everything beneath it); `None` when one of them is the root itself.
fn resolve(ctx: &Ctx, root: &Root, keep: &[PathBuf]) -> Result<Option<Vec<Kept>>> {
    let top = root.open(Path::new("/"), 0).what(|| "open the new root".into())?;
    let top = location(root, &top, Path::new("/"))?;
    let mut found: Vec<Kept> = Vec::new();
    for p in keep {
        let fd = match root.open(p, 0) {
            Ok(fd) => fd,
            // The landlock step refuses a missing rule path, with its name.
            Err(Errno::ENOENT) => {
                ctx.log("mount", &format!("{} does not exist: nothing to keep", escape::path(p)));
                continue;
            }
            other => other.what(|| format!("open {}", escape::path(p)))?,
        };
        let at = location(root, &fd, p)?;
        if at == top {
            return Ok(None);
        }
        // Beneath one found before: covered by its copy.
        if found.iter().any(|k| at.starts_with(&k.at)) {
            continue;
        }
        found.retain(|k| !k.at.starts_with(&at));
        found.push(Kept { path: p.clone(), at, fd });
    }
    Ok(Some(found))
}

/// Makes every mount of the root `attr` except beneath the `keep` paths.
fn narrow(ctx: &Ctx, root: &Root, keep: &[PathBuf], attr: u64, word: &str, verb: &str) -> Result<()> {
    let Some(kept) = resolve(ctx, root, keep)? else {
        ctx.log("mount", &format!("everything may be {verb}: no mount made {word}"));
        return Ok(());
    };
    let mut copies = Vec::with_capacity(kept.len());
    for k in &kept {
        match root.sys.open_tree(&k.fd) {
            Ok(copy) => copies.push(copy),
            // Linux before 5.2, which has no landlock either: the rules are
            // not enforced at all there (refused unless --best-effort).
            Err(Errno::ENOSYS) => {
                ctx.log("mount", &format!("this kernel cannot copy mount trees: no mount made {word}"));
                return Ok(());
            }
            Err(e) => {
                return Err(SetupError::errno(format!("copy the mounts at {}", escape::path(&k.path)), e))
            }
        }
    }
    let shown: Vec<String> = kept.iter().map(|k| escape::path(&k.path)).collect();
    ctx.log("mount", &format!("every mount {word} but beneath {}", shown.join(" ")));
    restrict(root, Path::new("/"), attr, true)?;
    for (k, copy) in kept.iter().zip(copies) {
        root.sys
            .move_mount(&copy, &k.fd)
            .what(|| format!("mount the copy back at {}", escape::path(&k.path)))?;
    }
    Ok(())
}
