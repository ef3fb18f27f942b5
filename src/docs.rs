//! The man pages and shell completions, built into the binary.
//!
//! They are generated from the clap definition and committed under `man/`
//! and `completions/` (tests/docs.rs fails when they are stale), so
//! embedding the committed files gives `sandbox man` and `sandbox
//! completions` the same text without a generator at run time, and a
//! `cargo install` user gets them too.

/// The completion scripts by shell.
pub const COMPLETIONS: [(&str, &str); 3] = [
    ("bash", include_str!("../completions/sandbox.bash")),
    ("zsh", include_str!("../completions/_sandbox")),
    ("fish", include_str!("../completions/sandbox.fish")),
];

/// The man pages by file name, the main page first.
pub const MAN: [(&str, &str); 9] = [
    ("sandbox.1", include_str!("../man/sandbox.1")),
    ("sandbox-explain.1", include_str!("../man/sandbox-explain.1")),
    ("sandbox-check.1", include_str!("../man/sandbox-check.1")),
    ("sandbox-bwrap.1", include_str!("../man/sandbox-bwrap.1")),
    ("sandbox-profiles.1", include_str!("../man/sandbox-profiles.1")),
    ("sandbox-desktop.1", include_str!("../man/sandbox-desktop.1")),
    ("sandbox-completions.1", include_str!("../man/sandbox-completions.1")),
    ("sandbox-man.1", include_str!("../man/sandbox-man.1")),
    ("sandbox-profile.5", include_str!("../man/sandbox-profile.5")),
];

/// The completion script for `shell`.
pub fn completion(shell: &str) -> Result<&'static str, String> {
    COMPLETIONS.iter().find(|(s, _)| *s == shell).map(|(_, text)| *text).ok_or_else(|| {
        let shells: Vec<&str> = COMPLETIONS.iter().map(|(s, _)| *s).collect();
        format!("completions {}: expected one of {}", crate::escape::str(shell), shells.join(", "))
    })
}

/// A man page by name: `sandbox` (the default), `explain` or
/// `sandbox-explain`, `profile` or `sandbox-profile` (the profile format),
/// or a file name such as `sandbox-profile.5`.
pub fn man(page: Option<&str>) -> Result<&'static str, String> {
    let page = page.unwrap_or("sandbox");
    let base = page.trim_end_matches(".1").trim_end_matches(".5");
    let full = if base.starts_with("sandbox") { base.to_string() } else { format!("sandbox-{base}") };
    MAN.iter()
        .find(|(file, _)| *file == page || file.rsplit_once('.').is_some_and(|(stem, _)| stem == full))
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            format!("man {}: no such page; the pages are {}", crate::escape::str(page), pages().join(", "))
        })
}

/// The pages' short names, as `sandbox man NAME` takes them.
pub fn pages() -> Vec<&'static str> {
    MAN.iter()
        .map(|(file, _)| {
            let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
            stem.strip_prefix("sandbox-").unwrap_or(stem)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_found_by_short_name_full_name_or_file() {
        assert!(man(None).unwrap().contains(".TH sandbox 1"));
        for name in ["explain", "sandbox-explain", "sandbox-explain.1"] {
            assert!(man(Some(name)).unwrap().contains(".TH sandbox-explain 1"), "{name}");
        }
        assert!(man(Some("profile")).unwrap().contains("sandbox-profile"));
        assert!(man(Some("sandbox-profile.5")).unwrap().contains("sandbox-profile"));
        let e = man(Some("nope")).unwrap_err();
        assert!(
            e.starts_with("man nope: no such page; the pages are sandbox, explain, check, bwrap, profiles, desktop, completions, man, profile"),
            "{e}"
        );
    }

    #[test]
    fn completions_by_shell() {
        assert!(completion("bash").unwrap().contains("_sandbox()"));
        assert!(completion("zsh").unwrap().starts_with("#compdef sandbox"));
        assert!(completion("fish").unwrap().contains("complete -c sandbox"));
        assert_eq!(completion("tcsh").unwrap_err(), "completions tcsh: expected one of bash, zsh, fish");
    }
}
