//! In-root resolution of mount destinations: fuzzed paths through a tree
//! full of hostile symlinks. Invariant: whatever is resolved (openat2 or the
//! fallback walk) lies inside the root, and both agree.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn tree() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("sandbox-fuzz-root-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        let links: [(&str, &str); 8] = [
            ("up", "../../../../.."),
            ("abs", "/"),
            ("etc", "/etc"),
            ("a/b/esc", "../../../.."),
            ("a/self", "."),
            ("a/b/loop1", "loop2"),
            ("a/b/loop2", "loop1"),
            ("a/outside", "/proc/self/root"),
        ];
        for (link, target) in links {
            let _ = std::os::unix::fs::symlink(target, root.join(link));
        }
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let root = tree();
    let path = Path::new(std::ffi::OsStr::from_bytes(data));
    if data.contains(&0) {
        return;
    }
    let a = sandbox::launch::resolve_in_root(root, path, false);
    let b = sandbox::launch::resolve_in_root(root, path, true);
    for got in [&a, &b].into_iter().flatten() {
        assert!(got.starts_with(root), "{path:?} escaped to {got:?}");
    }
    assert_eq!(a.as_ref().ok(), b.as_ref().ok(), "openat2 and the walk disagree on {path:?}");
});
