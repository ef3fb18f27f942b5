//! Escaping untrusted bytes before they reach a terminal.
//!
//! Paths and names from the command line or the environment may hold
//! control characters (an ANSI escape can hide text, CVE-2023-28101) or
//! invalid UTF-8. Every message that shows one goes through here: printable
//! text stays as it is, everything else becomes `\xNN`.

use std::ffi::OsStr;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Escapes a byte string for display.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\u{7f}' {
                for byte in c.to_string().bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            } else if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

pub fn os(s: &OsStr) -> String {
    bytes(s.as_bytes())
}

pub fn path(p: &Path) -> String {
    bytes(p.as_os_str().as_bytes())
}

pub fn str(s: &str) -> String {
    bytes(s.as_bytes())
}

/// The C library's text for an I/O error ("No such file or directory"),
/// without Rust's " (os error 2)" suffix.
pub fn cause(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invalid_bytes_are_escaped() {
        assert_eq!(bytes(b"/tmp/\x1b[2Jx"), "/tmp/\\x1b[2Jx");
        assert_eq!(bytes(b"/tmp/\xff"), "/tmp/\\xff");
        assert_eq!(bytes(b"a\nb"), "a\\x0ab");
        assert_eq!(bytes("/home/zoë".as_bytes()), "/home/zoë");
    }
}
