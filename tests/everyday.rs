//! Everyday use (issue 16): what /etc points at is there, a command that
//! tries the network without one fails at once, mistakes leave nothing to
//! guess, and `sandbox man` / `sandbox completions` print the committed
//! pages.

mod common;

use std::path::Path;

use common::*;

fn run(args: &[&str]) -> Out {
    let (cwd, home) = (Dir::new(), Dir::new());
    sbx(cwd.path(), home.path(), args).output()
}

#[test]
fn the_fontconfig_cache_is_there() {
    let plan = run(&["explain", "--", "true"]).ok();
    assert!(plan.contains("  ro       /var/cache/fontconfig (if present)\n"), "{plan}");
    if !Path::new("/var/cache/fontconfig").is_dir() {
        note("NOT TESTED on this host: no /var/cache/fontconfig");
        return;
    }
    assert_eq!(run(&["--", "sh", "-c", "test -d /var/cache/fontconfig && echo yes"]).ok(), "yes\n");
}

#[test]
fn a_destination_error_after_a_colon_mentions_the_escape() {
    run(&["--ro", "/usr/a:b", "--", "true"])
        .fails(125, "destination b: must be an absolute path (the value was split at ':'; a literal ':' in a path is written '\\:')");
}

#[test]
fn man_and_completions_print_the_committed_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();
    assert_eq!(run(&["man"]).ok(), committed("man/sandbox.1"));
    assert_eq!(run(&["man", "profile"]).ok(), committed("man/sandbox-profile.5"));
    assert_eq!(run(&["man", "explain"]).ok(), committed("man/sandbox-explain.1"));
    assert_eq!(run(&["completions", "bash"]).ok(), committed("completions/sandbox.bash"));
    assert_eq!(run(&["completions", "zsh"]).ok(), committed("completions/_sandbox"));
    assert_eq!(run(&["completions", "fish"]).ok(), committed("completions/sandbox.fish"));
    run(&["completions", "tcsh"]).fails(125, "invalid value 'tcsh'");
    run(&["man", "nope"]).fails(125, "no such page");
}
