//! The setup error that travels from the sandbox back to the monitor.
//!
//! A step that fails inside the sandbox cannot print nicely on its own (its
//! stderr may be anything, its message must be one line), so it sends a
//! [`SetupError`] over a close-on-exec pipe. The monitor prints it as
//! `sandbox: <step> <object>: <cause>` with an optional `hint:` line and
//! exits with its code: 125 setup, 126 not executable, 127 not found.

use std::fmt;

use nix::errno::Errno;

/// Exit status for a failed setup.
pub const SETUP: u8 = 125;
pub const NOT_EXECUTABLE: u8 = 126;
pub const NOT_FOUND: u8 = 127;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    pub code: u8,
    /// `<step> <object>`, e.g. `bind /a -> /b`.
    pub what: String,
    pub cause: String,
    pub hint: Option<String>,
    /// The same failure in bubblewrap's words (`Can't find source path /x:
    /// No such file or directory`), printed in bwrap mode.
    pub bwrap: Option<String>,
}

impl SetupError {
    pub fn new(what: impl Into<String>, cause: impl Into<String>) -> Self {
        SetupError { code: SETUP, what: what.into(), cause: cause.into(), hint: None, bwrap: None }
    }

    pub fn errno(what: impl Into<String>, e: Errno) -> Self {
        Self::new(what, strerror(e))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// bubblewrap's wording of this failure, for bwrap mode.
    pub fn bwrap(mut self, msg: impl Into<String>) -> Self {
        self.bwrap = Some(msg.into());
        self
    }

    /// bubblewrap's wording with `: <cause>` appended, as its
    /// `die_with_error` does.
    pub fn bwrap_errno(self, msg: impl std::fmt::Display) -> Self {
        let line = format!("{msg}: {}", self.cause);
        self.bwrap(line)
    }

    /// The message bwrap mode prints after `bwrap: `.
    pub fn bwrap_line(&self) -> String {
        self.bwrap.clone().unwrap_or_else(|| format!("{}: {}", self.what, self.cause))
    }

    /// Wire format: code byte, then `what`, `cause`, `hint`, `bwrap`
    /// separated by NUL.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.code];
        out.extend(self.what.as_bytes());
        out.push(0);
        out.extend(self.cause.as_bytes());
        out.push(0);
        out.extend(self.hint.as_deref().unwrap_or("").as_bytes());
        out.push(0);
        out.extend(self.bwrap.as_deref().unwrap_or("").as_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let (&code, rest) = b.split_first()?;
        let mut parts = rest.split(|&c| c == 0).map(|p| String::from_utf8_lossy(p).into_owned());
        let what = parts.next()?;
        let cause = parts.next()?;
        let hint = parts.next().filter(|h| !h.is_empty());
        let bwrap = parts.next().filter(|h| !h.is_empty());
        Some(SetupError { code, what, cause, hint, bwrap })
    }
}

impl fmt::Display for SetupError {
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
        let e = SetupError::errno("bind /a -> /b", Errno::ENOENT).hint("the source must exist");
        assert_eq!(SetupError::decode(&e.encode()), Some(e.clone()));
        assert_eq!(e.to_string(), "bind /a -> /b: No such file or directory\nhint: the source must exist");
        let plain = SetupError::new("exec foo", "not found").code(NOT_FOUND);
        assert_eq!(SetupError::decode(&plain.encode()), Some(plain.clone()));
        assert_eq!(plain.bwrap_line(), "exec foo: not found");
        let b = SetupError::errno("bind /x -> /y", Errno::ENOENT).bwrap_errno("Can't find source path /x");
        assert_eq!(SetupError::decode(&b.encode()), Some(b.clone()));
        assert_eq!(b.bwrap_line(), "Can't find source path /x: No such file or directory");
    }
}
