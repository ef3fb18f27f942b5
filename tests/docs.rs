//! The man pages and shell completions are generated from the clap
//! definition (`sandbox::cli::command()`), never written by hand. These tests
//! regenerate them in memory and compare them byte for byte with the
//! committed files:
//!
//! - `man/sandbox.1`: the main page (`clap_mangen::Man::render`);
//! - `man/sandbox-SUB.1`: one separate page per visible subcommand (today
//!   `explain` and `check`), the pages `clap_mangen::generate_to` would
//!   write: clap's own `help` subcommand gets none, a page is titled
//!   `sandbox-SUB` and its synopsis reads `sandbox SUB`, and the main page's
//!   SUBCOMMANDS section points at `sandbox-SUB(1)`. A `man/sandbox-*.1`
//!   left over from a removed subcommand is reported (and deleted on update);
//! - `completions/sandbox.bash`, `completions/_sandbox` (zsh) and
//!   `completions/sandbox.fish` (`clap_complete::generate`, bin name
//!   `sandbox`).
//!
//! When a file is stale the test fails and says so; `UPDATE_DOCS=1 cargo
//! test --test docs` rewrites the files instead of failing (commit them with
//! the change to `src/cli.rs`).
//!
//! A last test checks that every long option of the clap definition is
//! documented (has help text) and mentioned in the page that describes it.

use std::path::PathBuf;

use clap_complete::Shell;

const UPDATE_HINT: &str = "run `UPDATE_DOCS=1 cargo test --test docs` to regenerate it and commit the result";

/// The command as `clap_mangen::generate_to` prepares it: without clap's
/// `help` subcommand (it would get a page of its own), built, so that help
/// and version flags are there and a subcommand is displayed as
/// `sandbox-SUB` with the usage `sandbox SUB`.
fn command() -> clap::Command {
    let mut cmd = sandbox::cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The subcommands that get a page of their own.
fn subcommands(cmd: &clap::Command) -> Vec<clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect()
}

/// `sandbox-SUB.1` for a subcommand of [`command`], `sandbox.1` for itself.
fn man_file(cmd: &clap::Command) -> String {
    format!("man/{}", clap_mangen::Man::new(cmd.clone()).get_filename())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Renders one page. Every page names the package and its version in the
/// footer (clap_mangen would write "explain " for a subcommand, which has no
/// version of its own).
fn render_man(cmd: clap::Command) -> Vec<u8> {
    let source = format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).source(source).render(&mut out).expect("render man page");
    out
}

/// The pages by file name relative to the crate root.
fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = command();
    let mut pages = vec![(man_file(&cmd), render_man(cmd.clone()))];
    for sub in subcommands(&cmd) {
        pages.push((man_file(&sub), render_man(sub)));
    }
    pages
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = sandbox::cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sandbox", &mut out);
    out
}

fn updating() -> bool {
    std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares `want` with the committed file `rel`; rewrites it under
/// `UPDATE_DOCS`, otherwise returns a description of the difference.
fn check_file(rel: &str, want: &[u8]) -> Option<String> {
    let path = root().join(rel);
    let have = std::fs::read(&path).ok();
    if have.as_deref() == Some(want) {
        return None;
    }
    if updating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&path, want).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("docs: rewrote {rel}");
        return None;
    }
    Some(match have {
        None => format!("{rel} is missing"),
        Some(have) => format!("{rel} is stale ({})", first_difference(&have, want)),
    })
}

/// "line N: committed `...`, generated `...`".
fn first_difference(have: &[u8], want: &[u8]) -> String {
    let have = String::from_utf8_lossy(have);
    let want = String::from_utf8_lossy(want);
    let mut h = have.lines();
    let mut w = want.lines();
    for n in 1.. {
        match (h.next(), w.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => return "line endings differ".into(),
            (a, b) => {
                return format!(
                    "line {n}: committed {:?}, generated {:?}",
                    a.unwrap_or("<end of file>"),
                    b.unwrap_or("<end of file>")
                )
            }
        }
    }
    unreachable!()
}

fn assert_fresh(files: &[(String, Vec<u8>)]) {
    let problems: Vec<String> = files.iter().filter_map(|(rel, want)| check_file(rel, want)).collect();
    assert!(problems.is_empty(), "{}\n{UPDATE_HINT}", problems.join("\n"));
}

#[test]
fn man_pages_are_fresh() {
    let pages = man_pages();
    assert_fresh(&pages);

    // A page for a subcommand that no longer exists.
    let mut stale = Vec::new();
    let dir = root().join("man");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let name = entry.expect("man/ entry").file_name().to_string_lossy().into_owned();
        let rel = format!("man/{name}");
        if name.starts_with("sandbox-") && name.ends_with(".1") && !pages.iter().any(|(p, _)| *p == rel) {
            if updating() {
                std::fs::remove_file(root().join(&rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
                eprintln!("docs: removed {rel}");
            } else {
                stale.push(rel);
            }
        }
    }
    assert!(stale.is_empty(), "{} describe no subcommand\n{UPDATE_HINT}", stale.join(", "));
}

#[test]
fn bash_completion_is_fresh() {
    assert_fresh(&[("completions/sandbox.bash".into(), completion(Shell::Bash))]);
}

#[test]
fn zsh_completion_is_fresh() {
    assert_fresh(&[("completions/_sandbox".into(), completion(Shell::Zsh))]);
}

#[test]
fn fish_completion_is_fresh() {
    assert_fresh(&[("completions/sandbox.fish".into(), completion(Shell::Fish))]);
}

/// Roff escapes `-` as `\-`; `--keep-env` is written `\-\-keep\-env`.
fn mentions(page: &str, long: &str) -> bool {
    let plain = page.replace("\\-", "-");
    let needle = format!("--{long}");
    plain.match_indices(&needle).any(|(at, _)| {
        let next = plain[at + needle.len()..].chars().next();
        !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

fn check_options(cmd: &clap::Command, page: &str, file: &str, problems: &mut Vec<String>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(long) = arg.get_long() else { continue };
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            problems.push(format!("--{long} has no help text in src/cli.rs"));
        }
        if !mentions(page, long) {
            problems.push(format!("{file} does not mention --{long}"));
        }
    }
}

#[test]
fn man_pages_mention_every_long_option() {
    let cmd = command();
    let mut problems = Vec::new();
    let main = String::from_utf8(render_man(cmd.clone())).expect("UTF-8 man page");
    check_options(&cmd, &main, &man_file(&cmd), &mut problems);
    for sub in subcommands(&cmd) {
        let page = String::from_utf8(render_man(sub.clone())).expect("UTF-8 man page");
        check_options(&sub, &page, &man_file(&sub), &mut problems);
        // The main page points at the subcommand's own page.
        let name = sub.get_display_name().unwrap_or_else(|| sub.get_name());
        if !main.replace("\\-", "-").contains(&format!("{name}(1)")) {
            problems.push(format!("{} does not point at {name}(1)", man_file(&cmd)));
        }
    }
    // The pages checked are the rendered ones; man_pages_are_fresh makes
    // sure the committed files are the same bytes.
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `sandbox man` and `sandbox completions` print the committed files
/// (embedded at build time): every page and script is there, byte for byte.
#[test]
fn the_binary_embeds_every_committed_page_and_completion() {
    let mut problems = Vec::new();
    let dir = root().join("man");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let name = entry.expect("man/ entry").file_name().to_string_lossy().into_owned();
        let committed = std::fs::read_to_string(dir.join(&name)).expect("a UTF-8 page");
        match sandbox::docs::MAN.iter().find(|(file, _)| *file == name) {
            Some((_, text)) if *text == committed => {}
            Some(_) => problems.push(format!("man/{name} differs from the embedded page (rebuild)")),
            None => problems.push(format!("man/{name} is not in sandbox::docs::MAN (src/docs.rs)")),
        }
    }
    for (shell, file) in [("bash", "sandbox.bash"), ("zsh", "_sandbox"), ("fish", "sandbox.fish")] {
        let committed = std::fs::read_to_string(root().join("completions").join(file)).expect("completion");
        if sandbox::docs::completion(shell).ok() != Some(committed.as_str()) {
            problems.push(format!("completions/{file} is not what `sandbox completions {shell}` prints"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
