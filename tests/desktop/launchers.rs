//! `sandbox desktop install|list|remove`, and what every desktop profile
//! leaves on the host: nothing outside its declared directories, and
//! `~/.ssh` unreadable.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{as_caller, out, sbx, Dir};
use crate::services::runtime_dir;

/// Every path beneath `dir`, with its size, for before/after comparisons.
fn snapshot(dir: &Path) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            all.insert(format!(
                "{} {}",
                p.strip_prefix(dir).unwrap().display(),
                if m.is_dir() { 0 } else { m.len() }
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    all
}

#[test]
fn install_writes_a_launcher_that_runs_through_sandbox_and_remove_deletes_only_it() {
    let (cwd, home, share) = (Dir::new(), Dir::new(), Dir::new());
    share.file(
        "applications/org.example.Probe.desktop",
        "[Desktop Entry]\nType=Application\nName=Probe\nIcon=probe\nMimeType=text/plain;\n\
         Exec=sh -c \"hostname; test -e $HOME/.ssh/id_rsa || echo no-ssh\" %f\nDBusActivatable=true\n",
    );
    let mine =
        home.file(".local/share/applications/mine.desktop", "[Desktop Entry]\nType=Application\nExec=x\n");
    let data_dirs = share.path().to_str().unwrap().to_string();
    let run = |args: &[&str]| sbx(cwd.path(), home.path(), args).env("XDG_DATA_DIRS", &data_dirs).output();
    let o = run(&["desktop", "install", "org.example.Probe", "--profile", "strict"]);
    let launcher = home.path().join(".local/share/applications/org.example.Probe.desktop");
    assert_eq!(o.ok(), format!("installed {} (profile strict)\n", launcher.display()));
    let text = std::fs::read_to_string(&launcher).unwrap();
    let entry = sandbox::desktop::entry::Entry::parse(&text).unwrap();
    assert_eq!(entry.main("X-Sandbox-Profile").as_deref(), Some("strict"));
    assert_eq!(entry.main("DBusActivatable"), None);
    assert_eq!(entry.main("MimeType").as_deref(), Some("text/plain;"));
    // Run the Exec line as a launcher would (no file: %f goes).
    let mut args = sandbox::desktop::entry::split_exec(&entry.main("Exec").unwrap()).unwrap();
    args.retain(|a| a != "%f");
    assert_eq!(args[1..4], ["--profile", "strict", "--"]);
    home.file(".ssh/id_rsa", "secret");
    let mut exec = std::process::Command::new(crate::common::bin());
    exec.args(&args[1..])
        .current_dir(cwd.path())
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/bin:/bin");
    assert_eq!(
        out(as_caller(&mut exec)).ok(),
        "sandbox\nno-ssh\n",
        "the launcher did not run through sandbox"
    );
    let o = run(&["desktop", "list"]);
    assert!(o.ok().starts_with("org.example.Probe.desktop"), "{}", o.stdout());
    assert!(!o.stdout().contains("mine.desktop"));
    let before = snapshot(home.path());
    run(&["desktop", "remove", "mine"]).fails(125, "was not made by sandbox; left alone");
    assert_eq!(snapshot(home.path()), before);
    let o = run(&["desktop", "remove", "org.example.Probe"]);
    assert_eq!(o.ok(), format!("removed {}\n", launcher.display()));
    let after: BTreeSet<String> = before
        .into_iter()
        .filter(|p| !p.starts_with(".local/share/applications/org.example.Probe"))
        .collect();
    assert_eq!(snapshot(home.path()), after, "remove touched something else");
    assert!(mine.exists());
    run(&["desktop", "install", "nothing-here"]).fails(125, "no nothing-here.desktop in");
    run(&["desktop", "install", "org.example.Probe", "--profile", "nope"]).fails(125, "--profile nope");
}

#[test]
fn desktop_profiles_write_only_their_own_dirs_and_never_show_ssh() {
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    home.file(".ssh/id_rsa", "secret");
    home.mkdir("Downloads");
    let probe = "cat ~/.ssh/id_rsa 2>/dev/null || echo unreadable; ls ~/.ssh 2>/dev/null | wc -l; \
                 touch ~/written ~/.config/setting ~/Downloads/file 2>/dev/null; true";
    for profile in ["x11", "wayland", "audio", "gpu", "fonts", "desktop", "browser"] {
        let rt_before = snapshot(rt.path());
        let home_before = snapshot(home.path());
        let mut args = vec!["--profile", profile, "--x11", "none", "--wayland=no", "--audio=no", "--gpu=no"];
        args.extend(["--", "sh", "-c", probe]);
        let o =
            sbx(cwd.path(), home.path(), &args).env("XDG_RUNTIME_DIR", rt.path().to_str().unwrap()).output();
        assert_eq!(o.ok(), "unreadable\n0\n", "{profile}");
        // sandbox's own cache of what /etc's links point at is no write of
        // the command's.
        let not_ours = |s: BTreeSet<String>| -> BTreeSet<String> {
            s.into_iter().filter(|e| e != "sandbox 0" && !e.starts_with("sandbox/etc-links ")).collect()
        };
        assert_eq!(
            not_ours(snapshot(rt.path())),
            not_ours(rt_before),
            "{profile} wrote in the runtime directory"
        );
        let new: Vec<String> = snapshot(home.path()).difference(&home_before).cloned().collect();
        let declared = |p: &String| p.starts_with("Downloads") || p.starts_with(".local");
        let undeclared: Vec<&String> = new.iter().filter(|p| !declared(p)).collect();
        assert!(undeclared.is_empty(), "{profile} wrote {undeclared:?}");
        if profile == "desktop" || profile == "browser" {
            assert!(new.iter().any(|p| p.starts_with("Downloads/file")), "{profile}: ~/Downloads is shared");
            let setting = home.path().join(".local/state/sandbox/apps/sh/config/setting");
            assert!(setting.exists(), "{profile}: the application's settings are kept");
            std::fs::remove_file(setting).unwrap();
        }
        let _ = std::fs::remove_file(home.path().join("Downloads/file"));
    }
}
