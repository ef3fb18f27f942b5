//! The bwrap front end against Debian's bubblewrap (issue 7): the same
//! argument vectors through /usr/bin/bwrap and through sandbox installed
//! as `bwrap`, as the same unprivileged user; a probe inside prints what
//! matters and the outputs must agree. Options newer than Debian's 0.8 are
//! tested directly in `direct.rs`.

#[path = "../common/mod.rs"]
mod common;
mod direct;
mod harness;
mod vectors;

fn check(group: &str, vectors: Vec<harness::Vector>) {
    if !harness::need_reference() {
        return;
    }
    let n = vectors.len();
    let bad = harness::compare(&vectors);
    assert!(bad.is_empty(), "{} of {n} {group} vectors differ:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn namespaces_match_bubblewrap() {
    check("namespace", vectors::namespaces());
}

#[test]
fn filesystem_matches_bubblewrap() {
    check("file-system", vectors::filesystem());
}

#[test]
fn environment_and_cwd_match_bubblewrap() {
    check("environment", vectors::environment());
}

#[test]
fn process_options_match_bubblewrap() {
    check("process", vectors::process());
}

#[test]
fn errors_match_bubblewrap() {
    check("error", vectors::errors());
}

#[test]
fn real_callers_match_bubblewrap() {
    check("caller", vectors::callers());
}

/// The suite covers at least 60 vectors, each with its own fixture name.
#[test]
fn the_suite_is_large_enough() {
    let all: Vec<harness::Vector> = [
        vectors::namespaces(),
        vectors::filesystem(),
        vectors::environment(),
        vectors::process(),
        vectors::errors(),
        vectors::callers(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(all.len() >= 60, "only {} vectors", all.len());
    let mut names: Vec<&str> = all.iter().map(|v| v.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "vector names must be unique");
}
