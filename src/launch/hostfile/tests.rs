use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

fn dir_fd(p: &Path) -> OwnedFd {
    sys::open(p, libc::O_PATH | libc::O_DIRECTORY).unwrap()
}

#[test]
fn symlinks_are_never_followed_beneath_a_state_dir() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let state = t.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::symlink(&victim, state.join("upper")).unwrap();
    std::os::unix::fs::symlink(victim.join("made"), state.join("lock")).unwrap();
    let fd = dir_fd(&state);
    let e = dir_beneath(&fd, "upper").unwrap_err();
    assert_eq!(e, "upper is a symlink; sandbox never follows one there");
    let e = file_beneath(&fd, "lock").unwrap_err();
    assert_eq!(e, "lock is a symlink; sandbox never follows one there");
    assert!(!victim.join("made").exists(), "the dangling symlink's target was created");
    let e = open_dir(&state.join("upper")).unwrap_err();
    assert_eq!(e, "it is a symlink; sandbox never follows one there");
}

#[test]
fn what_is_created_is_private_and_what_is_opened_is_checked() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("a/b/state");
    create_dirs(&state).unwrap();
    for d in ["a", "a/b", "a/b/state"] {
        let mode = std::fs::metadata(t.path().join(d)).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "{d}");
    }
    let fd = open_dir(&state).unwrap();
    dir_beneath(&fd, "upper").unwrap();
    file_beneath(&fd, "lock").unwrap();
    assert_eq!(std::fs::metadata(state.join("upper")).unwrap().mode() & 0o7777, 0o700);
    assert_eq!(std::fs::metadata(state.join("lock")).unwrap().mode() & 0o7777, 0o600);
    // A FIFO does not block the open, a file is not a directory.
    nix::unistd::mkfifo(&state.join("work"), Mode::from_bits_truncate(0o600)).unwrap();
    assert_eq!(dir_beneath(&fd, "work").unwrap_err(), "work is not a directory");
    assert_eq!(open_file(&state.join("work")).unwrap_err(), "it is not a regular file");
    assert_eq!(dir_beneath(&fd, "lock").unwrap_err(), "lock is not a directory");
}

#[test]
fn a_pid_file_is_never_written_through_a_link() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("bashrc");
    std::fs::write(&victim, "original").unwrap();
    let pid = t.path().join("job.pid");
    std::os::unix::fs::symlink(&victim, &pid).unwrap();
    assert_eq!(open_file(&pid).unwrap_err(), "it is a symlink; sandbox never follows one there");
    std::fs::remove_file(&pid).unwrap();
    std::fs::hard_link(&victim, &pid).unwrap();
    assert_eq!(open_file(&pid).unwrap_err(), "it has other hard links; sandbox never writes through one");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original");
    std::fs::remove_file(&pid).unwrap();
    let f = open_file(&pid).unwrap();
    assert_eq!(f.metadata().unwrap().mode() & 0o7777, 0o600);
    assert!(is_same(&pid, &f));
    std::fs::rename(&victim, &pid).unwrap();
    assert!(!is_same(&pid, &f), "another file at the name");
}
