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
