use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

const ENTRY: &str = "[Desktop Entry]\nType=Application\nName=Calc\nExec=calc %f\nIcon=calc\n";

fn setup() -> (tempfile::TempDir, Dirs) {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let share = t.path().join("share");
    std::fs::create_dir_all(share.join("applications/kde4")).unwrap();
    std::fs::write(share.join("applications/calc.desktop"), ENTRY).unwrap();
    std::fs::write(share.join("applications/kde4/konq.desktop"), ENTRY).unwrap();
    let dirs = Dirs::new(&home, None, Some(share.as_os_str()));
    (t, dirs)
}

fn wrap(source: &str) -> Wrap<'_> {
    Wrap { program: "/usr/bin/sandbox", profile: "desktop", source }
}

#[test]
fn dirs_follow_the_base_directory_spec() {
    let d = Dirs::new(Path::new("/h"), None, None);
    assert_eq!(d.applications(), PathBuf::from("/h/.local/share/applications"));
    assert_eq!(d.data_dirs, [PathBuf::from("/usr/local/share"), PathBuf::from("/usr/share")]);
    let d = Dirs::new(Path::new("/h"), Some(OsStr::new("rel")), Some(OsStr::new("rel:/a")));
    assert_eq!((d.data_home, d.data_dirs), (PathBuf::from("/h/.local/share"), vec![PathBuf::from("/a")]));
}

#[test]
fn sources_by_name_and_by_path() {
    let (_t, dirs) = setup();
    let (p, id) = find_source("calc", &dirs).unwrap();
    assert_eq!((p.ends_with("applications/calc.desktop"), id.as_str()), (true, "calc.desktop"));
    let (p, id) = find_source("kde4-konq.desktop", &dirs).unwrap();
    assert_eq!((p.ends_with("kde4/konq.desktop"), id.as_str()), (true, "kde4-konq.desktop"));
    assert!(find_source("nothing", &dirs).unwrap_err().starts_with("no nothing.desktop in "));
    assert!(find_source("../x", &dirs).unwrap_err().contains("not a desktop-file ID"));
    assert!(find_source("/tmp/x.txt", &dirs).unwrap_err().contains("not a desktop-file ID"));
    assert_eq!(find_source("/a/b.desktop", &dirs).unwrap().1, "b.desktop");
    assert!(check_id(".hidden.desktop").is_err() && check_id("a b.desktop").is_err());
}

#[test]
fn install_list_remove() {
    let (_t, dirs) = setup();
    // A launcher of the user's own is never touched.
    let got = install(ENTRY, "calc.desktop", &wrap("/s/calc.desktop"), &dirs).unwrap();
    assert!(!got.replaced);
    let apps = dirs.applications();
    for (dir, mode) in
        [(dirs.home.join(".local"), 0o700), (dirs.home.join(".local/share"), 0o700), (apps.clone(), 0o700)]
    {
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, mode, "{}", dir.display());
    }
    let meta = std::fs::metadata(&got.path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    let text = std::fs::read_to_string(&got.path).unwrap();
    assert!(text.contains("Exec=/usr/bin/sandbox --profile desktop -- calc %f\n"), "{text}");
    assert!(install(ENTRY, "calc.desktop", &wrap("/s/calc.desktop"), &dirs).unwrap().replaced);
    std::fs::write(apps.join("mine.desktop"), ENTRY).unwrap();
    let e = install(ENTRY, "mine.desktop", &wrap("/s"), &dirs).unwrap_err();
    assert!(e.contains("was not made by sandbox"), "{e}");
    assert_eq!(std::fs::read_to_string(apps.join("mine.desktop")).unwrap(), ENTRY);
    let listed = list(&dirs).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].made.profile.as_str()), ("calc.desktop", "desktop"));
    assert!(remove("mine", &dirs).unwrap_err().contains("not made by sandbox; left alone"));
    assert!(remove("none", &dirs).unwrap_err().contains("no such launcher"));
    assert_eq!(remove("calc", &dirs).unwrap(), apps.join("calc.desktop"));
    assert!(!apps.join("calc.desktop").exists() && apps.join("mine.desktop").exists());
    // Nothing else was left in the directory (no temporary files).
    let names: Vec<_> = std::fs::read_dir(&apps).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("mine.desktop")]);
}

#[test]
fn symlinks_are_never_followed() {
    let (t, dirs) = setup();
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::create_dir_all(dirs.home.join(".local/share")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dirs.applications()).unwrap();
    let e = install(ENTRY, "calc.desktop", &wrap("/s"), &dirs).unwrap_err();
    assert!(e.contains("symlink"), "{e}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(dirs.applications()).unwrap();
    std::fs::create_dir(dirs.applications()).unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, dirs.applications().join("calc.desktop")).unwrap();
    let e = install(ENTRY, "calc.desktop", &wrap("/s"), &dirs).unwrap_err();
    assert!(e.contains("symlink"), "{e}");
    assert!(remove("calc", &dirs).unwrap_err().contains("symlink"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn a_bad_entry_writes_nothing() {
    let (_t, dirs) = setup();
    let e = install("[Desktop Entry]\nType=Link\n", "x.desktop", &wrap("/s/x.desktop"), &dirs).unwrap_err();
    assert!(e.starts_with("/s/x.desktop: ") && e.contains("only an Application"), "{e}");
    assert!(!dirs.home.join(".local").exists());
}
