//! The front ends depend only downward: cli (argv), profile (TOML) and
//! compat (bubblewrap's argv) import none of each other, and nothing below
//! them (settings, values, host, plan, seccomp) imports a front end or
//! `native`, which puts cli and profile together.
//!
//! Read from the source: every `crate::NAME` path outside test code
//! (`tests.rs` files, and what follows a file's first `#[cfg(test)]`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const FRONT_ENDS: [&str; 3] = ["cli", "profile", "compat"];
const BELOW: [&str; 6] = ["settings", "values", "host", "plan", "seccomp", "escape"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            out.push(path);
        }
    }
}

/// The top-level modules that module `top` names (non-test code).
fn imports(src: &Path, top: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    let dir = src.join(top);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    let file = src.join(format!("{top}.rs"));
    if file.is_file() {
        files.push(file);
    }
    assert!(!files.is_empty(), "no source for module {top}");
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![rest],
                };
                for n in names {
                    let name: String =
                        n.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() && name != top {
                        out.insert(name);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn front_ends_depend_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for top in FRONT_ENDS {
        for other in imports(&src, top) {
            if FRONT_ENDS.contains(&other.as_str()) || other == "native" {
                problems.push(format!("front end {top} imports {other}"));
            }
        }
    }
    for top in BELOW {
        for other in imports(&src, top) {
            if FRONT_ENDS.contains(&other.as_str()) || other == "native" {
                problems.push(format!("{top} imports the front end {other}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
