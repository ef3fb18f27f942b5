//! The file-system options: each becomes an [`FsOp`], in order, with the
//! mode its missing parents get (see [`push`]). `--perms` and `--size` are
//! taken by the option right after them; `--overlay-src` layers by the next
//! overlay option.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::args::{self, SizeError, MAX_TMPFS_BYTES};
use super::parse::{parse_fd, take, State, Stop};
use crate::plan::{Access, FileHow, FsOp, Upper};

/// A destination inside the sandbox: bubblewrap joins it to the new root,
/// so a relative one is taken from `/`. `.` and `..` are resolved here.
pub fn dest(v: &OsStr) -> PathBuf {
    crate::values::normalize(Path::new(v))
}

/// A host source: relative to the caller's directory, as realpath(3) takes it.
fn source(st: &State, v: &OsStr) -> PathBuf {
    let p = Path::new(v);
    if p.is_absolute() || v.is_empty() {
        p.to_path_buf()
    } else {
        st.cwd.join(p)
    }
}

/// Adds an operation. bubblewrap makes the missing parents of its
/// destination with mode 0755 less the group and other bits `perms` (the
/// operation's own permissions) lacks: `--perms 0700 --dir /a/b` makes `/a`
/// 0700 too, and a mount, whose permissions are 0, makes 0700 parents.
fn push(st: &mut State, perms: u32, op: FsOp) {
    let mut parent_mode = 0o755;
    if perms & 0o070 == 0 {
        parent_mode &= !0o050;
    }
    if perms & 0o007 == 0 {
        parent_mode &= !0o005;
    }
    st.ops.push(op);
    st.b.parent_modes.push(parent_mode);
}

pub(super) fn fs_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    let (access, optional) = match name {
        "--bind" => (Access::ReadWrite, false),
        "--bind-try" => (Access::ReadWrite, true),
        "--ro-bind" => (Access::ReadOnly, false),
        "--ro-bind-try" => (Access::ReadOnly, true),
        "--dev-bind" => (Access::Device, false),
        "--dev-bind-try" => (Access::Device, true),
        _ => return mount_option(st, name, rest),
    };
    let v = take(st, rest, 2, &format!("{name} takes two arguments"))?;
    let op = FsOp::Bind { src: source(st, &v[0]), dest: dest(&v[1]), access, optional };
    push(st, 0, op);
    Ok(Some(2))
}

fn mount_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    match name {
        "--proc" | "--dev" | "--mqueue" | "--remount-ro" => {
            let msg = if name == "--remount-ro" { "one argument" } else { "an argument" };
            let v = take(st, rest, 1, &format!("{name} takes {msg}"))?;
            let dest = dest(&v[0]);
            push(
                st,
                0,
                match name {
                    "--proc" => FsOp::Proc { dest },
                    "--dev" => FsOp::Dev { dest },
                    "--mqueue" => FsOp::Mqueue { dest },
                    _ => FsOp::RemountRo { dest },
                },
            );
        }
        "--tmpfs" => {
            let v = take(st, rest, 1, "--tmpfs takes an argument")?;
            let (perms, size) = (st.next_perms.take(), st.next_size.take());
            let mode = perms.unwrap_or(0o755);
            push(st, mode, FsOp::Tmpfs { dest: dest(&v[0]), mode, size });
        }
        "--dir" => {
            let v = take(st, rest, 1, "--dir takes an argument")?;
            let mode = st.next_perms.take().unwrap_or(0o755);
            push(st, mode, FsOp::Dir { dest: dest(&v[0]), mode });
        }
        "--symlink" => {
            let v = take(st, rest, 2, "--symlink takes two arguments")?;
            push(st, 0, FsOp::Symlink { target: PathBuf::from(&v[0]), dest: dest(&v[1]) });
            return Ok(Some(2));
        }
        "--chmod" => {
            let v = take(st, rest, 2, "--chmod takes two arguments")?;
            let mode =
                args::octal(&v[0]).ok_or_else(|| st.die("--chmod takes an octal argument <= 07777"))?;
            push(st, 0, FsOp::Chmod { dest: dest(&v[1]), mode });
            return Ok(Some(2));
        }
        "--bind-fd" | "--ro-bind-fd" => {
            let v = take(st, rest, 2, "--bind-fd takes two arguments")?;
            let fd = parse_fd(st, &v[0])?;
            let access = if name == "--bind-fd" { Access::ReadWrite } else { Access::ReadOnly };
            let src = PathBuf::from(format!("/proc/self/fd/{fd}"));
            push(st, 0, FsOp::Bind { src, dest: dest(&v[1]), access, optional: false });
            st.b.consumed_fds.push(fd);
            return Ok(Some(2));
        }
        _ => return overlay_option(st, name, rest),
    }
    Ok(Some(1))
}

fn overlay_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    let (needs, count_msg, upper) = match name {
        "--overlay-src" => {
            // Without a value bubblewrap counts it and then finds nothing
            // after it: the "must be followed by" error at the end.
            let src = rest.first().map(|v| source(st, v)).unwrap_or_default();
            st.overlay_srcs.push(src);
            return Ok(Some(rest.len().min(1)));
        }
        "--overlay" => {
            let v = take(st, rest, 3, "--overlay takes three arguments")?;
            let upper = Upper::Dir { upper: source(st, &v[0]), work: source(st, &v[1]) };
            (1, "--overlay requires at least one --overlay-src", upper)
        }
        "--tmp-overlay" => (1, "--tmp-overlay requires at least one --overlay-src", Upper::Tmpfs),
        "--ro-overlay" => (2, "--ro-overlay requires at least two --overlay-src", Upper::ReadOnly),
        _ => return Ok(None),
    };
    let used = if name == "--overlay" { 3 } else { 1 };
    let v = take(st, rest, used, &format!("{name} takes an argument"))?;
    if st.overlay_srcs.len() < needs {
        return Err(st.die(count_msg));
    }
    // The last --overlay-src given is the top layer: the kernel wants it first.
    let lowers: Vec<PathBuf> = st.overlay_srcs.drain(..).rev().collect();
    push(st, 0, FsOp::Overlay { lowers, dest: dest(&v[used - 1]), upper });
    Ok(Some(used))
}

/// `--file`, `--bind-data`, `--ro-bind-data`: the content is read from the
/// descriptor once parsing is done (see `check::read_data`).
pub(super) fn data_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    let (how, default_mode) = match name {
        "--file" => (FileHow::Copy, 0o666),
        "--bind-data" => (FileHow::Bind, 0o600),
        "--ro-bind-data" => (FileHow::BindRo, 0o600),
        "--perms" => {
            let v = take(st, rest, 1, "--perms takes an argument")?;
            if st.next_perms.is_some() {
                return Err(st.die("--perms given twice for the same action"));
            }
            st.next_perms =
                Some(args::octal(&v[0]).ok_or_else(|| st.die("--perms takes an octal argument <= 07777"))?);
            return Ok(Some(1));
        }
        "--size" => return size_option(st, rest),
        _ => return Ok(None),
    };
    let v = take(st, rest, 2, &format!("{name} takes two arguments"))?;
    let fd = parse_fd(st, &v[0])?;
    let mode = st.next_perms.take().unwrap_or(default_mode);
    push(st, mode, FsOp::File { dest: dest(&v[1]), content: Vec::new(), mode, how });
    st.pending_data.push((st.ops.len() - 1, fd));
    st.b.consumed_fds.push(fd);
    Ok(Some(2))
}

fn size_option(st: &mut State, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    let v = take(st, rest, 1, "--size takes an argument")?;
    if st.next_size.is_some() {
        return Err(st.die("--size given twice for the same action"));
    }
    match args::size(&v[0]) {
        Ok(n) => st.next_size = Some(n),
        Err(SizeError::Invalid) => return Err(st.die("--size takes a non-zero number of bytes")),
        Err(SizeError::TooLarge) => {
            return Err(st.die(format!("--size (for tmpfs) is limited to {MAX_TMPFS_BYTES}")))
        }
    }
    Ok(Some(1))
}
