//! The setup error that travels from the sandbox back to the monitor, and
//! from launch to the front end.
//!
//! A step that fails inside the sandbox cannot print on its own (its
//! stderr may be anything, its message must be one line), so it sends a
//! [`SetupError`] over a close-on-exec pipe (JSON) and the monitor returns
//! it. launch never prints it: the front end does, in its own words.
//!
//! A [`SetupError`] says what failed as data: the [`Kind`] of step with the
//! object it acted on, the errno when the cause is one, and, for any front
//! end that has no words of its own for a kind, sandbox's wording (`what`,
//! `cause`, and a `hint` where the cause is known). Its `Display` is that
//! wording: `bind /a -> /b: No such file or directory`.

use std::fmt;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// The status a process of the sandbox exits with when its setup failed
/// (the monitor reads the error itself; nobody reads this status).
pub const SETUP: u8 = 125;

/// Which step failed, and on what. Objects are shown as `escape::path`
/// shows them. `Other` is every failure a front end words as `what: cause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Other,
    /// Making a directory inside the new root.
    Mkdir {
        path: String,
    },
    /// Making an empty file to mount on.
    CreateFile {
        path: String,
    },
    /// Opening a bind source on the host; `ESTALE`: a passed descriptor's
    /// path no longer names its file.
    BindSource {
        src: String,
    },
    /// Mounting a fresh file system of `fstype` (tmpfs, proc, mqueue, …).
    Mount {
        fstype: String,
        dest: String,
    },
    /// Making a symbolic link (the errno says why).
    Symlink {
        dest: String,
    },
    /// A symbolic link cannot be made because something is there: a link
    /// to another target, or (`None`) something that is not a link.
    SymlinkExists {
        dest: String,
        points_at: Option<String>,
    },
    /// Creating a file with given content at its destination.
    WriteFile {
        dest: String,
    },
    /// chmod of an existing path.
    Chmod {
        dest: String,
        mode: u32,
    },
    /// A read-only remount whose destination cannot be found.
    RemountFind {
        dest: String,
    },
    /// A read-only remount (`EINVAL`: not a mount point).
    Remount {
        dest: String,
    },
    /// Opening an overlay layer on the host.
    OverlayLayer {
        path: String,
    },
    /// The work directory of an overlay is not on the upper one's file system.
    OverlayWorkDir {
        work: String,
    },
    /// Mounting an overlay (`ELOOP`: the layers overlap).
    Overlay {
        dest: String,
    },
    /// sethostname.
    Hostname {
        name: String,
    },
    /// execve of `file` (the errno says why).
    Exec {
        file: String,
    },
    /// `file` was not found in the search path.
    NotFound {
        file: String,
    },
    /// A raw seccomp program on `fd` cannot be used.
    SeccompProgram {
        fd: i32,
        problem: Program,
    },
    /// Installing a seccomp program.
    SeccompInstall,
    /// Writing the status or info fd.
    StatusWrite,
    /// Joining the user namespace of a descriptor (`EINVAL`: not a descendant).
    JoinUserNs,
    JoinPidNs,
    /// Entering a user namespace after setup.
    EnterUserNs,
    /// User namespaces were to be disabled inside, yet one could be made.
    UsernsNotDisabled,
    /// The nested user namespace: opening a file of the host's /proc
    /// (`path` beneath it: `self/uid_map`, `sys/user/max_user_namespaces`).
    NestOpen {
        path: String,
    },
    /// The nested user namespace: writing that file.
    NestWrite {
        path: String,
    },
    /// The nested user namespace: unshare.
    NestUnshare,
    LockOpen {
        path: String,
    },
    Lock {
        path: String,
    },
    SetGid {
        gid: u32,
    },
    SetUid {
        uid: u32,
    },
    /// Entering the working directory.
    Chdir {
        dir: String,
    },
    /// Setting the SELinux exec label.
    ExecLabel,
}

/// What is wrong with a raw seccomp program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Program {
    /// The descriptor cannot be read.
    Unreadable,
    /// It holds no program at all.
    Empty,
    /// Its length is not a multiple of the 8 bytes of one instruction.
    Partial,
    /// It has more instructions than the kernel takes.
    TooLong,
}

/// How a front end may classify a failure for its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The sandbox could not be set up.
    Setup,
    /// The command exists but cannot be executed.
    NotExecutable,
    /// The command was not found.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupError {
    /// Boxed: the error travels in every `Result` of launch.
    pub kind: Box<Kind>,
    /// `<step> <object>` in sandbox's words, e.g. `bind /a -> /b`.
    pub what: String,
    /// Why: the C library's text for an errno, or sandbox's own words.
    pub cause: String,
    /// The errno, when the cause is one.
    pub errno: Option<i32>,
    /// What may help, in sandbox's words.
    pub hint: Option<String>,
}

impl SetupError {
    pub fn new(what: impl Into<String>, cause: impl Into<String>) -> Self {
        SetupError {
            kind: Box::new(Kind::Other),
            what: what.into(),
            cause: cause.into(),
            errno: None,
            hint: None,
        }
    }

    pub fn errno(what: impl Into<String>, e: Errno) -> Self {
        SetupError { errno: Some(e as i32), ..Self::new(what, strerror(e)) }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = Box::new(kind);
        self
    }

    /// The errno of the cause, if it is one.
    pub fn errno_is(&self, e: Errno) -> bool {
        self.errno == Some(e as i32)
    }

    /// Whether the command could not be executed or found, or the setup failed.
    pub fn class(&self) -> Class {
        match *self.kind {
            Kind::NotFound { .. } => Class::NotFound,
            Kind::Exec { .. } if self.errno_is(Errno::ENOENT) => Class::NotFound,
            Kind::Exec { .. } => Class::NotExecutable,
            _ => Class::Setup,
        }
    }

    /// The pipe's format.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        serde_json::from_slice(b).ok()
    }
}

impl fmt::Display for SetupError {
    /// sandbox's wording: `<what>: <cause>`, then `hint: …` on a line of its own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.cause)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

/// The C library's text for `e` ("No such file or directory"), the wording
/// bubblewrap and coreutils use.
pub fn strerror(e: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(e as i32).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

pub type Result<T> = std::result::Result<T, SetupError>;

/// Attaches the object to a nix error.
pub trait Context<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| SetupError::errno(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_the_pipe_format() {
        let e = SetupError::errno("bind /a -> /b", Errno::ENOENT)
            .hint("the source must exist")
            .kind(Kind::BindSource { src: "/a".into() });
        assert_eq!(SetupError::decode(&e.encode()), Some(e.clone()));
        assert_eq!(e.to_string(), "bind /a -> /b: No such file or directory\nhint: the source must exist");
        assert_eq!(e.errno, Some(libc::ENOENT));
        let plain =
            SetupError::new("exec f\u{e9}e", "command not found").kind(Kind::NotFound { file: "f".into() });
        assert_eq!(SetupError::decode(&plain.encode()), Some(plain.clone()));
        assert_eq!(SetupError::decode(b"\x7fgarbled"), None);
    }

    #[test]
    fn exec_failures_are_classed_by_their_errno() {
        let exec = |e| SetupError::errno("exec /x", e).kind(Kind::Exec { file: "/x".into() });
        assert_eq!(exec(Errno::ENOENT).class(), Class::NotFound);
        assert_eq!(exec(Errno::EACCES).class(), Class::NotExecutable);
        assert_eq!(
            SetupError::new("x", "y").kind(Kind::NotFound { file: "x".into() }).class(),
            Class::NotFound
        );
        assert_eq!(SetupError::errno("mkdir /a", Errno::ENOENT).class(), Class::Setup);
    }
}
