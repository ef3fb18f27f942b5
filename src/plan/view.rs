//! What a Plan's file-system operations show at a path, read from the
//! operations alone (nothing is mounted): the last operation whose
//! destination is the path or one of its parents decides.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{FsOp, Upper};

/// What is at a path inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The host's own file at the same path.
    Same,
    /// The host path bound there (another path than the one asked).
    Host(PathBuf),
    /// Something of the sandbox's own (tmpfs, hidden, a generated file…),
    /// or nothing (the empty root).
    Own,
}

/// Links followed through `--symlink` operations before giving up.
const MAX_HOPS: usize = 16;

/// What `ops` put at the absolute path `p`, and the index of the operation
/// that decides it (`None`: the empty root).
pub fn at(ops: &[FsOp], p: &Path) -> (Shown, Option<usize>) {
    at_depth(ops, p, 0)
}

fn at_depth(ops: &[FsOp], p: &Path, hops: usize) -> (Shown, Option<usize>) {
    let p_clean = clean(p);
    for (i, op) in ops.iter().enumerate().rev() {
        let dest = op.dest();
        // A byte comparison first, exact between clean paths: most
        // operations are elsewhere, and `strip_prefix` walks both paths'
        // components.
        if p_clean && !p.as_os_str().as_bytes().starts_with(dest.as_os_str().as_bytes()) && clean(dest) {
            continue;
        }
        let Ok(rest) = p.strip_prefix(dest) else { continue };
        let shown = match op {
            // Metadata only: whatever was there before stays.
            FsOp::Chmod { .. } | FsOp::RemountRo { .. } => continue,
            FsOp::Bind { src, .. } => host(src.join(rest), p),
            FsOp::Overlay { lowers, upper, .. } => match lowers.first() {
                Some(top) if *upper != Upper::ReadOnly || lowers.len() == 1 => host(top.join(rest), p),
                _ => Shown::Own,
            },
            FsOp::Symlink { target, .. } if hops < MAX_HOPS => {
                let base = dest.parent().unwrap_or(Path::new("/"));
                let next = normalize(&base.join(target).join(rest));
                return at_depth(ops, &next, hops + 1);
            }
            _ => Shown::Own,
        };
        return (shown, Some(i));
    }
    (Shown::Own, None)
}

/// Whether `p` is absolute and spelled one way only (no empty, `.` or
/// `..` component, no trailing `/`): then a path is beneath it exactly when
/// its bytes start with `p`'s and go on with `/` or end.
fn clean(p: &Path) -> bool {
    let b = p.as_os_str().as_bytes();
    b.first() == Some(&b'/')
        && (b.len() == 1 || b.last() != Some(&b'/'))
        && b.split(|c| *c == b'/').skip(1).all(|c| !matches!(c, b"." | b".."))
        && !b.windows(2).any(|w| w == b"//")
}

/// `p` with `.` and `..` resolved lexically (never above `/`).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn host(src: PathBuf, p: &Path) -> Shown {
    if src == p {
        Shown::Same
    } else {
        Shown::Host(src)
    }
}

/// Whether the sandbox may show the host's `p` on its own initiative: it
/// shows nothing of the host there but emptiness it made itself (the empty
/// root, or a tmpfs above `p` such as the empty `$HOME`). Not where an
/// option hides it (`--hide`), empties it (a tmpfs at `p` itself), or puts
/// something else (a bind, a file).
pub fn fillable(ops: &[FsOp], p: &Path) -> bool {
    match at(ops, p) {
        (Shown::Own, None) => true,
        (Shown::Own, Some(i)) => matches!(&ops[i], FsOp::Tmpfs { dest, .. } if dest != p),
        _ => false,
    }
}

/// The host path a `--hide` of `p` is about, for the check that it names
/// something: the source of the bind that shows it, or `p` itself where the
/// sandbox shows the host's own or nothing of its own (the empty root, an
/// empty tmpfs, a hidden path); `None` where the sandbox made the content
/// itself (a directory, a link, a file, /dev, /proc).
pub fn host_path(ops: &[FsOp], p: &Path) -> Option<PathBuf> {
    match at(ops, p) {
        (Shown::Same, _) | (Shown::Own, None) => Some(p.to_path_buf()),
        (Shown::Host(src), _) => Some(src),
        (Shown::Own, Some(i)) => {
            matches!(ops[i], FsOp::Tmpfs { .. } | FsOp::Hide { .. }).then(|| p.to_path_buf())
        }
    }
}

/// Whether the host's own `p` is what the sandbox shows at `p`.
pub fn shows(ops: &[FsOp], p: &Path) -> bool {
    at(ops, p).0 == Shown::Same
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Access;

    fn bind(src: &str, dest: &str) -> FsOp {
        FsOp::Bind { src: src.into(), dest: dest.into(), access: Access::ReadOnly, optional: false }
    }

    fn tmpfs(dest: &str) -> FsOp {
        FsOp::Tmpfs { dest: dest.into(), mode: 0o755, size: None }
    }

    #[test]
    fn paths_spelled_other_ways_are_compared_by_components() {
        for p in ["/", "/usr", "/usr/share/x"] {
            assert!(clean(Path::new(p)), "{p}");
        }
        for p in ["usr", "/usr/", "//usr", "/usr//share", "/usr/./share", "/usr/..", "/usr/."] {
            assert!(!clean(Path::new(p)), "{p}");
        }
        // The byte test never hides an operation strip_prefix would find.
        let ops = vec![bind("/data", "/usr/"), tmpfs("/home//u"), bind("/o", "/opt/./x")];
        assert_eq!(at(&ops, Path::new("/usr/share")), (Shown::Host("/data/share".into()), Some(0)));
        assert_eq!(at(&ops, Path::new("/home/u/f")), (Shown::Own, Some(1)));
        assert_eq!(at(&ops, Path::new("/opt/x")), (Shown::Host("/o".into()), Some(2)));
        assert_eq!(at(&ops, Path::new("/usrx")), (Shown::Own, None));
    }

    #[test]
    fn the_last_operation_above_a_path_decides() {
        let ops = vec![
            bind("/usr", "/usr"),
            bind("/etc", "/etc"),
            FsOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() },
            tmpfs("/home/u"),
            bind("/data", "/home/u/data"),
            FsOp::Hide { dest: "/etc/shadow".into(), optional: false },
            FsOp::Chmod { dest: "/usr".into(), mode: 0o755 },
        ];
        let at = |p: &str| at(&ops, Path::new(p));
        assert_eq!(at("/usr/bin/ls"), (Shown::Same, Some(0)), "a chmod changes no content");
        assert_eq!(at("/bin/ls"), (Shown::Same, Some(0)), "through the merged-usr link");
        assert_eq!(at("/etc/shadow"), (Shown::Own, Some(5)));
        assert_eq!(at("/etc/passwd"), (Shown::Same, Some(1)));
        assert_eq!(at("/home/u/.cargo/bin"), (Shown::Own, Some(3)));
        assert_eq!(at("/home/u/data/x"), (Shown::Host("/data/x".into()), Some(4)));
        assert_eq!(at("/opt/tool"), (Shown::Own, None));
        assert!(shows(&ops, Path::new("/usr/local/bin")));
        assert!(!shows(&ops, Path::new("/home/u")));
        assert!(fillable(&ops, Path::new("/home/u/.cargo/bin")), "beneath the empty home");
        assert!(fillable(&ops, Path::new("/opt/tool")), "the empty root");
        assert!(!fillable(&ops, Path::new("/home/u")), "the tmpfs itself");
        assert!(!fillable(&ops, Path::new("/etc/shadow")), "hidden");
        assert!(!fillable(&ops, Path::new("/home/u/data/x")), "another bind");
        assert!(!fillable(&ops, Path::new("/usr/bin")), "shown already");
        let host = |p: &str| host_path(&ops, Path::new(p));
        assert_eq!(host("/home/u/data/x"), Some("/data/x".into()), "through the bind");
        assert_eq!(host("/home/u/.ssh"), Some("/home/u/.ssh".into()), "beneath the empty home");
        assert_eq!(host("/opt/x"), Some("/opt/x".into()), "the empty root");
        let made = [FsOp::Dir { dest: "/made".into(), mode: 0o755 }];
        assert_eq!(host_path(&made, Path::new("/made/x")), None, "the sandbox's own");
    }

    #[test]
    fn overlays_show_their_top_layer_and_links_cannot_loop() {
        let ops = vec![
            FsOp::Overlay { lowers: vec!["/src".into()], dest: "/src".into(), upper: Upper::Tmpfs },
            FsOp::Symlink { target: "/a".into(), dest: "/a".into() },
        ];
        assert!(shows(&ops, Path::new("/src/x")));
        assert_eq!(at(&ops, Path::new("/a/x")).0, Shown::Own);
    }
}
