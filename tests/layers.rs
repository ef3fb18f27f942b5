//! The layers of the crate, checked on its source (issue 15).
//!
//! - The top-level modules of src/ (those src/lib.rs declares) use each
//!   other without a circle: every path of production code that leads to
//!   another top-level module (`crate::plan::…`, a `use crate::{…}` tree,
//!   `super::…` out of a top-level module) is an edge, and the graph must
//!   have an order; a circle is printed with the line of each of its edges.
//! - The front ends depend only downward: cli (argv), profile (TOML) and
//!   compat (bubblewrap's argv) import none of each other, and nothing
//!   below them (settings, values, host, plan, seccomp) imports a front end
//!   or `native`, which puts cli and profile together.
//! - Inside src/launch, its parts (the folders monitor, init, root,
//!   command, and the files beside mod.rs) use each other without a
//!   circle, in the order the folders' docs promise; and launch never
//!   names a front end (`crate::cli`, `compat`, `profile`, `settings`,
//!   `native`), nor `bwrap`.
//!
//! Production code is what the compiler sees without `cfg(test)`: the
//! files declared from src/lib.rs down, without `#[cfg(test)]` items
//! (tests/layers/scan.rs reads it).

#[path = "layers/scan.rs"]
mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use scan::File;

const FRONT_ENDS: [&str; 3] = ["cli", "profile", "compat"];
const BELOW: [&str; 8] = ["settings", "values", "host", "plan", "seccomp", "egress", "escape", "desktop"];

fn files() -> Vec<File> {
    scan::crate_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Who uses whom: from -> to -> the first place that says so.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The graph of the parts `part` gives a module path (None: not a part),
/// from every path of every file.
fn graph(files: &[File], part: impl Fn(&[String]) -> Option<String>) -> Graph {
    let mut edges = Graph::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in files {
        if let Some(from) = part(&f.module) {
            edges.entry(from).or_default();
        }
        for p in scan::paths(f) {
            let (Some(from), Some(to)) = (part(&p.from), part(&p.to)) else { continue };
            if from != to {
                let at = f.path.strip_prefix(root).unwrap_or(&f.path).display();
                let place = format!("{at}:{} names {}", p.line, p.to.join("::"));
                edges.entry(from).or_default().entry(to).or_insert(place);
            }
        }
    }
    edges
}

/// A circle of `edges` (its first part again at the end), if there is one.
fn circle(edges: &Graph) -> Option<Vec<String>> {
    // Take away the parts that use nothing left until none is left; what
    // stays has a circle, and following the edges inside it finds one.
    let mut left: BTreeSet<&String> = edges.keys().collect();
    loop {
        let sinks: Vec<&String> =
            left.iter().filter(|k| !edges[**k].keys().any(|t| left.contains(t))).copied().collect();
        if sinks.is_empty() {
            break;
        }
        for k in sinks {
            left.remove(k);
        }
    }
    let mut walk: Vec<&String> = vec![left.first()?];
    loop {
        let last = walk[walk.len() - 1];
        let next = edges[last].keys().find(|t| left.contains(t)).expect("a part left uses one left");
        if let Some(i) = walk.iter().position(|w| *w == next) {
            let mut c: Vec<String> = walk[i..].iter().map(|s| s.to_string()).collect();
            c.push(next.clone());
            return Some(c);
        }
        walk.push(next);
    }
}

/// The graph as text, a line a part.
fn show(edges: &Graph) -> String {
    edges
        .iter()
        .map(|(f, t)| format!("{f} -> {:?}", t.keys().collect::<Vec<_>>()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The circle `c` with the place of each of its edges, then the graph.
fn show_circle(edges: &Graph, c: &[String]) -> String {
    let places: Vec<String> =
        c.windows(2).map(|w| format!("  {} -> {}: {}", w[0], w[1], edges[&w[0]][&w[1]])).collect();
    format!("a circle: {}\n{}\n\nthe whole graph:\n{}", c.join(" -> "), places.join("\n"), show(edges))
}

/// The top-level module a path is in.
fn top(path: &[String]) -> Option<String> {
    path.first().cloned()
}

#[test]
fn the_top_level_modules_use_each_other_without_a_circle() {
    let files = files();
    let edges = graph(&files, top);
    eprintln!("{}", show(&edges));
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let declared = lib.lines().filter_map(|l| l.strip_prefix("pub mod")).count();
    assert!(declared > 10 && edges.len() == declared, "{declared} modules in lib.rs:\n{}", show(&edges));
    for (from, to) in [("launch", "plan"), ("cli", "settings"), ("plan", "escape")] {
        assert!(edges[from].contains_key(to), "the scan misses {from} -> {to}:\n{}", show(&edges));
    }
    if let Some(c) = circle(&edges) {
        panic!("{}", show_circle(&edges, &c));
    }
}

#[test]
fn front_ends_depend_only_downward() {
    let edges = graph(&files(), top);
    let mut problems = Vec::new();
    for top in FRONT_ENDS {
        for other in edges[top].keys() {
            if FRONT_ENDS.contains(&other.as_str()) || other == "native" {
                problems.push(format!("front end {top} imports {other}: {}", edges[top][other]));
            }
        }
    }
    for top in BELOW {
        for other in edges[top].keys() {
            if FRONT_ENDS.contains(&other.as_str()) || other == "native" {
                problems.push(format!("{top} imports the front end {other}: {}", edges[top][other]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// src/launch, by process.

/// The part of launch a path is in: the folder or file below launch/ it
/// names, `mod` for launch/mod.rs and its own items; the re-exports of
/// launch/mod.rs are their files'.
fn launch_part(parts: &BTreeSet<String>, path: &[String]) -> Option<String> {
    if path.first().map(String::as_str) != Some("launch") {
        return None;
    }
    Some(match path.get(1).map(String::as_str) {
        Some("Ctx" | "Options") => "ctx".into(),
        Some("SetupError") => "error".into(),
        Some(part) if parts.contains(part) => part.into(),
        _ => "mod".into(),
    })
}

fn launch_graph() -> Graph {
    let files = files();
    let parts: BTreeSet<String> = files
        .iter()
        .filter(|f| f.module.first().is_some_and(|m| m == "launch"))
        .filter_map(|f| f.module.get(1).cloned())
        .collect();
    graph(&files, |p| launch_part(&parts, p))
}

#[test]
fn the_parts_of_launch_use_each_other_without_a_circle() {
    let edges = launch_graph();
    eprintln!("{}", show(&edges));
    for folder in ["monitor", "init", "root", "command"] {
        assert!(edges.contains_key(folder), "no part {folder} in:\n{}", show(&edges));
    }
    assert!(edges["monitor"].contains_key("init"), "the scan misses monitor -> init:\n{}", show(&edges));
    if let Some(c) = circle(&edges) {
        panic!("{}", show_circle(&edges, &c));
    }
    // The order the folders' docs promise.
    let uses = |a: &str, b: &str| edges.get(a).is_some_and(|t| t.contains_key(b));
    for (low, high) in [("root", "command"), ("root", "init"), ("command", "init"), ("init", "monitor")] {
        assert!(!uses(low, high), "{low} uses {high}: {}", edges[low][high]);
    }
}

#[test]
fn launch_names_no_front_end() {
    for f in files().iter().filter(|f| f.module.first().is_some_and(|m| m == "launch")) {
        for front in
            ["crate::cli", "crate::compat", "crate::profile", "crate::settings", "crate::native", "bwrap"]
        {
            assert!(!f.text.contains(front), "{} names {front}", f.path.display());
        }
    }
}

// The scan and the search for a circle, on made-up input.

#[test]
fn the_scan_finds_what_it_must() {
    let text = r##"//! Not here: crate::cli
use super::{a, b::c};
use crate::{
    launch::init::{self, reaper as r},
    plan::{seccomp::{Facts, Base}, Plan},
};
let x = super::super::root::build::<u8>(); let s = "crate::cli"; let r = r#"a " crate::compat"#;
let c = '"'; let q = '\''; fn f<'a>(x: &'a str) -> crate::values::V<'a> { $crate::nope::x }
/* crate::profile /* nested */ crate::profile */
pub(crate) mod inner { pub(super) fn g() { super::super::h(); self::k(); } }
#[cfg(test)]
mod tests { use crate::launch::monitor; }
#[cfg(test)]
use crate::native;
let y = crate::escape::str(x); // crate::settings
"##;
    let (kept, code) = scan::without_tests(text);
    assert!(kept.contains("\"crate::cli\"") && !kept.contains("crate::launch::monitor"));
    assert!(!code.contains("crate::cli") && !code.contains("Not here"));
    let module = ["command".to_string(), "begin".to_string()];
    let found: Vec<String> = scan::paths_in(&module, &code)
        .iter()
        .map(|p| format!("{}:{} {}", p.line, p.from.join("::"), p.to.join("::")))
        .collect();
    assert_eq!(
        found,
        [
            "2:command::begin command::a",
            "2:command::begin command::b::c",
            "3:command::begin launch::init",
            "3:command::begin launch::init::reaper",
            "3:command::begin plan::seccomp::Facts",
            "3:command::begin plan::seccomp::Base",
            "3:command::begin plan::Plan",
            "7:command::begin root::build",
            "8:command::begin values::V",
            "10:command::begin::inner command::h",
            "15:command::begin escape::str",
        ]
    );
}

#[test]
fn a_circle_is_found_and_shown_with_its_places() {
    let mut edges = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b"), ("e", "a"), ("f", "f2")] {
        edges.entry(from.into()).or_default().insert(to.into(), format!("{from}.rs:1"));
        edges.entry(to.into()).or_default();
    }
    let c = circle(&edges).expect("b -> c -> d -> b");
    assert_eq!(c, ["b", "c", "d", "b"]);
    assert!(show_circle(&edges, &c).contains("a circle: b -> c -> d -> b\n  b -> c: b.rs:1\n"));
    edges.get_mut("d").unwrap().clear();
    assert_eq!(circle(&edges), None);
}
