//! The layers of the crate, checked on its source (issue 15).
//!
//! - The front ends depend only downward: cli (argv), profile (TOML) and
//!   compat (bubblewrap's argv) import none of each other, and nothing
//!   below them (settings, values, host, plan, seccomp) imports a front end
//!   or `native`, which puts cli and profile together. Read from the
//!   source: every `crate::NAME` path outside test code (`tests.rs` files,
//!   and what follows a file's first `#[cfg(test)]`).
//! - Inside src/launch, its parts (the folders monitor, init, root,
//!   command, and the files beside mod.rs) use each other without a
//!   circle: every `use` and path of production code (`#[cfg(test)]`
//!   modules and tests.rs files left out) that names `crate::launch::…` or
//!   `super::…` is resolved to the part it names, and the graph of parts
//!   must have an order; and launch never names a front end (`crate::cli`,
//!   `compat`, `profile`, `settings`, `native`), nor `bwrap`.
//!
//! Plain text scans, not a compiler: they read `use` trees (braces
//! included) and paths in expressions, which is all this code uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FRONT_ENDS: [&str; 3] = ["cli", "profile", "compat"];
const BELOW: [&str; 7] = ["settings", "values", "host", "plan", "seccomp", "egress", "escape"];

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

// src/launch, by process.

const LAUNCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/launch");

/// Every .rs file under `dir` but tests.rs, as (module path, text).
fn sources(dir: &Path, module: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        if p.is_dir() {
            let mut m = module.to_vec();
            m.push(name);
            sources(&p, &m, out);
        } else if p.extension().is_some_and(|e| e == "rs") && name != "tests" {
            let mut m = module.to_vec();
            if name != "mod" {
                m.push(name);
            }
            out.push((m, without_tests(&std::fs::read_to_string(&p).unwrap())));
        }
    }
}

/// The text without `#[cfg(test)]` items (a module in braces, or a line).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let (Some(brace), Some(semi)) = (after.find('{'), after.find(';')) else { break };
        if semi < brace {
            rest = &after[semi + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (j, c) in after.char_indices().skip(brace) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every path that starts with `crate::launch::` or `super::`, with the
/// items of `use …::{a, b::c}` trees expanded one level.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let start_ok = i == 0 || !(word(bytes[i - 1]) || bytes[i - 1] == b':');
        let rest = &text[i..];
        if start_ok && (rest.starts_with("crate::launch") || rest.starts_with("super::")) {
            let (head, used) = segments(rest);
            i += used;
            if text[i..].starts_with("::{") {
                let inner = &text[i + 3..];
                let close = inner.find('}').unwrap_or(inner.len());
                for item in inner[..close].split(',') {
                    let first = item.trim().split("::").next().unwrap_or("").trim().to_string();
                    if !first.is_empty() {
                        let mut p = head.clone();
                        p.push(first);
                        out.push(p);
                    }
                }
            } else {
                out.push(head);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The `a::b::c` at the start of `s`, and how many bytes it took.
fn segments(s: &str) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    let mut used = 0;
    loop {
        let ident: String = s[used..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            break;
        }
        used += ident.len();
        segs.push(ident);
        if s[used..].starts_with("::") && s[used + 2..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            used += 2;
        } else {
            break;
        }
    }
    (segs, used)
}

/// The part of launch a path names: its first segment below `launch`, with
/// the re-exports of launch/mod.rs resolved.
fn part_of(module: &[String], path: &[String]) -> Option<String> {
    let mut abs: Vec<String> = vec!["launch".into()];
    abs.extend(module.iter().cloned());
    let mut segs = path.iter().peekable();
    if segs.peek().map(|s| s.as_str()) == Some("crate") {
        segs.next();
        abs = vec![segs.next()?.clone()];
    } else {
        while segs.peek().map(|s| s.as_str()) == Some("super") {
            segs.next();
            abs.pop();
        }
    }
    abs.extend(segs.cloned());
    if abs.first().map(String::as_str) != Some("launch") {
        return None;
    }
    let part = abs.get(1)?.clone();
    Some(match part.as_str() {
        "Ctx" | "Options" => "ctx".into(),
        "SetupError" => "error".into(),
        _ => part,
    })
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(Path::new(LAUNCH), &[], &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let from = module.first().cloned().unwrap_or_else(|| "mod".into());
        edges.entry(from.clone()).or_default();
        for p in paths(text) {
            if let Some(to) = part_of(module, &p).filter(|to| *to != from) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

#[test]
fn the_parts_of_launch_use_each_other_without_a_circle() {
    let edges = graph();
    let shown: Vec<String> = edges.iter().map(|(f, t)| format!("{f} -> {t:?}")).collect();
    eprintln!("{}", shown.join("\n"));
    for folder in ["monitor", "init", "root", "command"] {
        assert!(edges.contains_key(folder), "no part {folder} in:\n{}", shown.join("\n"));
    }
    // Kahn: take away the parts nothing left uses until none is left.
    let mut left = edges.clone();
    while !left.is_empty() {
        let free: Vec<String> =
            left.keys().filter(|k| !left.values().any(|t| t.contains(*k))).cloned().collect();
        assert!(
            !free.is_empty(),
            "a circle among {:?}:\n{}",
            left.keys().collect::<Vec<_>>(),
            shown.join("\n")
        );
        for k in free {
            left.remove(&k);
        }
    }
    // The order the folders' docs promise.
    let uses = |a: &str, b: &str| edges.get(a).is_some_and(|t| t.contains(b));
    for (low, high) in [("root", "command"), ("root", "init"), ("command", "init"), ("init", "monitor")] {
        assert!(!uses(low, high), "{low} uses {high}");
    }
}

#[test]
fn launch_names_no_front_end() {
    let mut files = Vec::new();
    sources(Path::new(LAUNCH), &[], &mut files);
    for (module, text) in &files {
        for front in
            ["crate::cli", "crate::compat", "crate::profile", "crate::settings", "crate::native", "bwrap"]
        {
            assert!(!text.contains(front), "launch::{} names {front}", module.join("::"));
        }
    }
}

#[test]
fn the_scan_finds_what_it_must() {
    let text = "use super::{a, b::c};\nuse crate::launch::init::{self, reaper};\nlet x = super::super::root::build();\n\
                #[cfg(test)]\nmod tests { use crate::launch::monitor; }\n// crate::launch::monitor\n";
    let found = paths(&without_tests(text));
    let shown: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "super::a",
            "super::b",
            "crate::launch::init::self",
            "crate::launch::init::reaper",
            "super::super::root::build"
        ]
    );
    let m = vec!["command".to_string(), "begin".to_string()];
    assert_eq!(part_of(&m, &found[4]).as_deref(), Some("root"));
    assert_eq!(part_of(&m, &found[0]).as_deref(), Some("command"));
    assert_eq!(
        part_of(&["ctx".into()], &["super".into(), "filters".into(), "Filters".into()]).as_deref(),
        Some("filters")
    );
}
