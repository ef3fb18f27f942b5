//! A failed launch in bubblewrap's words.
//!
//! launch reports what failed as a [`Kind`] (step and object) with the
//! errno; here each kind becomes the line bubblewrap 0.11 prints for it
//! (after `bwrap: `), mostly `<message>: <strerror>` as its
//! `die_with_error` writes it. A kind bubblewrap has no words for reads as
//! sandbox says it: `<what>: <cause>`. The exit status is always 1.

use nix::errno::Errno;

use crate::launch::error::{strerror, Kind, Program};
use crate::launch::SetupError;

/// bubblewrap's exit status for any failure before the command runs.
pub const EXIT: u8 = 1;

/// The message for `e`, without the `bwrap: ` prefix.
pub fn words(e: &SetupError) -> String {
    let cause = e.errno.map(|n| strerror(Errno::from_raw(n))).unwrap_or_else(|| e.cause.clone());
    let with = |msg: &str| format!("{msg}: {cause}");
    match &*e.kind {
        Kind::Other => format!("{}: {}", e.what, e.cause),
        Kind::Mkdir { path } => with(&format!("Can't mkdir {path}")),
        Kind::CreateFile { path } => with(&format!("Can't create file at {path}")),
        Kind::BindSource { .. } if e.errno_is(Errno::ESTALE) => "Race condition binding dirfd".into(),
        Kind::BindSource { src } => with(&format!("Can't find source path {src}")),
        Kind::Mount { fstype, dest } => with(&format!("Can't mount {fstype} on /newroot{dest}")),
        Kind::Symlink { dest } => with(&format!("Can't make symlink at {dest}")),
        Kind::SymlinkExists { dest, points_at: Some(to) } => {
            format!("Can't make symlink at {dest}: existing destination is {to}")
        }
        Kind::SymlinkExists { dest, points_at: None } => {
            format!("Can't make symlink at {dest}: destination exists and is not a symlink")
        }
        Kind::WriteFile { dest } => with(&format!("Can't create file {dest}")),
        Kind::Chmod { dest, mode } => with(&format!("Can't chmod {} {dest}", c_octal(*mode))),
        Kind::RemountFind { dest } => {
            with(&format!("Can't remount readonly on /newroot{dest}: realpath(destination)"))
        }
        // mount_setattr refuses a path that is not a mount's root.
        Kind::Remount { dest } if e.errno_is(Errno::EINVAL) => format!(
            "Can't remount readonly on /newroot{dest}: Unable to find \"/newroot{dest}\" in mount table"
        ),
        Kind::Remount { dest } => with(&format!("Can't remount readonly on /newroot{dest}")),
        Kind::OverlayLayer { path } => with(&format!("Can't find source path {path}")),
        Kind::OverlayWorkDir { work } => {
            with(&format!("Can't make overlay mount with work directory {work}"))
        }
        Kind::Overlay { dest } if e.errno_is(Errno::ELOOP) => {
            format!("Can't make overlay mount on {dest}: Overlay directories may not overlap")
        }
        Kind::Overlay { dest } => with(&format!("Can't make overlay mount on {dest}")),
        Kind::Hostname { name } => with(&format!("Can't set hostname to {name}")),
        Kind::Exec { file } => with(&format!("execvp {file}")),
        Kind::NotFound { file } => format!("execvp {file}: {}", strerror(Errno::ENOENT)),
        Kind::SeccompProgram { problem, .. } => program(*problem, &cause),
        Kind::SeccompInstall => with("prctl(PR_SET_SECCOMP)"),
        Kind::StatusWrite => with("Write to info_fd"),
        Kind::JoinUserNs if e.errno_is(Errno::EINVAL) => "Joining the specified user namespace failed, it \
                                                         might not be a descendant of the current user \
                                                         namespace."
            .into(),
        Kind::JoinUserNs => with("Joining specified user namespace failed"),
        Kind::JoinPidNs => with("Setting pidns failed"),
        Kind::EnterUserNs => with("Setting userns2 failed"),
        Kind::UsernsNotDisabled => "creation of new user namespaces was not disabled as requested".into(),
        Kind::NestOpen { path } => with(&format!("cannot open /proc/{path}")),
        Kind::NestWrite { path } => with(nest_step(path)),
        Kind::NestUnshare => with("unshare user ns"),
        Kind::LockOpen { path } => with(&format!("Unable to open lock file {path}")),
        Kind::Lock { path } => with(&format!("Unable to lock file {path}")),
        Kind::SetGid { gid } => with(&format!("unable to switch to gid {gid}")),
        Kind::SetUid { uid } => with(&format!("unable to switch to uid {uid}")),
        Kind::Chdir { dir } => with(&format!("Can't chdir to {dir}")),
        Kind::ExecLabel => with("label_exec"),
    }
}

/// C's `"%#o"`: a 0 in front, except for 0 itself.
fn c_octal(mode: u32) -> String {
    if mode == 0 {
        "0".to_string()
    } else {
        format!("0{mode:o}")
    }
}

/// bubblewrap's messages for a program it cannot use.
fn program(problem: Program, cause: &str) -> String {
    match problem {
        Program::Partial => "Invalid seccomp data, must be multiple of 8".into(),
        // bubblewrap hands the kernel an empty program, which refuses it.
        Program::Empty => "Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) \
                           reported EINVAL. (Hint: this requires a kernel configured with CONFIG_SECCOMP \
                           and CONFIG_SECCOMP_FILTER.)"
            .into(),
        Program::Unreadable | Program::TooLong => format!("Can't read seccomp data: {cause}"),
    }
}

/// What bubblewrap calls each write of the nested user namespace's setup.
fn nest_step(path: &str) -> &'static str {
    match path {
        "self/uid_map" => "setting up uid map",
        "self/gid_map" => "setting up gid map",
        _ => "sysctl user.max_user_namespaces = 1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_bubblewrap_words_them() {
        let e = |kind: Kind, errno: Errno| SetupError::errno("x", errno).kind(kind);
        let src = Kind::BindSource { src: "/x".into() };
        assert_eq!(
            words(&e(src.clone(), Errno::ENOENT)),
            "Can't find source path /x: No such file or directory"
        );
        assert_eq!(words(&e(src, Errno::ESTALE)), "Race condition binding dirfd");
        let mount = Kind::Mount { fstype: "tmpfs".into(), dest: "/t".into() };
        assert_eq!(
            words(&e(mount, Errno::EPERM)),
            "Can't mount tmpfs on /newroot/t: Operation not permitted"
        );
        let chmod = Kind::Chmod { dest: "/f".into(), mode: 0o644 };
        assert_eq!(words(&e(chmod, Errno::ENOENT)), "Can't chmod 0644 /f: No such file or directory");
        let remount = Kind::Remount { dest: "/r".into() };
        assert_eq!(
            words(&e(remount, Errno::EINVAL)),
            "Can't remount readonly on /newroot/r: Unable to find \"/newroot/r\" in mount table"
        );
        let nest = Kind::NestWrite { path: "self/uid_map".into() };
        assert_eq!(words(&e(nest, Errno::EPERM)), "setting up uid map: Operation not permitted");
    }

    #[test]
    fn the_cause_is_the_errno_even_where_sandbox_words_it_otherwise() {
        // The native wording of an unreachable cwd is sandbox's own text;
        // bubblewrap's is the errno launch attaches.
        let e = SetupError::new("cwd /d", "it is not reachable from the sandbox's root")
            .kind(Kind::Chdir { dir: "/d".into() });
        let e = SetupError { errno: Some(libc::EXDEV), ..e };
        assert_eq!(words(&e), "Can't chdir to /d: Invalid cross-device link");
        let plain = SetupError::new("exec foo", "not found");
        assert_eq!(words(&plain), "exec foo: not found");
        let missing =
            SetupError::new("exec foo", "command not found").kind(Kind::NotFound { file: "foo".into() });
        assert_eq!(words(&missing), "execvp foo: No such file or directory");
    }
}
