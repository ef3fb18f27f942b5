//! The small grammars of bubblewrap's arguments: `--args` data and the
//! numeric values (descriptors, octal modes, byte counts, ids), each with
//! the C library semantics bubblewrap relies on (`strtol`, `strtoul`,
//! `strtoull` with base 0), so the same strings are accepted and refused.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// At most this many arguments in all, counting those read through `--args`.
pub const MAX_ARGS: usize = 9000;

/// Splits `--args` data: every NUL ends one argument; a last argument
/// without a trailing NUL still counts; empty data holds none.
pub fn split_nul(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\0").unwrap_or(data);
    body.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec())).collect()
}

/// Leading white space as C's `isspace` knows it.
fn skip_space(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    &b[n..]
}

/// `strtol(s, &end, 10)` that must consume everything: the sign and the
/// digits, after optional white space. `None` when nothing or not all of
/// it is a number, or it does not fit.
fn strtol(s: &OsStr) -> Option<i64> {
    let b = skip_space(s.as_bytes());
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// A file descriptor as bubblewrap accepts it (`Invalid fd: %s` otherwise):
/// a whole decimal number, not negative. 0 is allowed.
pub fn fd(s: &OsStr) -> Option<i32> {
    if s.is_empty() {
        return None;
    }
    strtol(s).filter(|&v| v >= 0).and_then(|v| i32::try_from(v).ok())
}

/// A uid or gid (`Invalid uid: %s` otherwise): as [`fd`], up to 2^31-1.
pub fn id(s: &OsStr) -> Option<u32> {
    fd(s).map(|v| v as u32)
}

/// An octal mode up to 07777 for `--perms` and `--chmod` (`strtoul` base 8:
/// a `-` wraps around and is then too large).
pub fn octal(s: &OsStr) -> Option<u32> {
    let b = skip_space(s.as_bytes());
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if s.is_empty() || digits.is_empty() || !digits.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    let v = u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()?;
    if neg && v != 0 {
        return None;
    }
    u32::try_from(v).ok().filter(|&m| m <= 0o7777)
}

/// Why a `--size` value was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SizeError {
    /// Not a non-zero number of bytes.
    Invalid,
    /// Above half the address space.
    TooLarge,
}

/// The largest tmpfs size bubblewrap accepts: half the address space.
pub const MAX_TMPFS_BYTES: u64 = u64::MAX >> 1;

/// `--size BYTES`: `strtoull` with base 0 (decimal, `0x` hex, `0` octal),
/// starting with a digit, not zero, at most [`MAX_TMPFS_BYTES`].
pub fn size(s: &OsStr) -> Result<u64, SizeError> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return Err(SizeError::Invalid);
    }
    let text = std::str::from_utf8(b).map_err(|_| SizeError::Invalid)?;
    let (radix, digits) = if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (16, h)
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(SizeError::Invalid);
    }
    // Too many digits for 64 bits is ERANGE: also "not a number of bytes".
    let v = u64::from_str_radix(digits, radix).map_err(|_| SizeError::Invalid)?;
    match v {
        0 => Err(SizeError::Invalid),
        v if v > MAX_TMPFS_BYTES => Err(SizeError::TooLarge),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn args_data_splits_on_every_nul() {
        assert_eq!(split_nul(b""), Vec::<OsString>::new());
        assert_eq!(split_nul(b"\0"), vec![OsString::new()]);
        assert_eq!(split_nul(b"--dir\0/a\0"), vec![OsString::from("--dir"), "/a".into()]);
        assert_eq!(split_nul(b"--dir\0/a"), vec![OsString::from("--dir"), "/a".into()]);
        assert_eq!(split_nul(b"a\0\0"), vec![OsString::from("a"), OsString::new()]);
        assert_eq!(split_nul(b"\0--dir\0/tmp/hello/world\0").len(), 3);
    }

    #[test]
    fn fds_are_whole_non_negative_decimals() {
        for (s, want) in [
            ("0", Some(0)),
            ("3", Some(3)),
            (" 7", Some(7)),
            ("+5", Some(5)),
            ("-0", Some(0)),
            ("", None),
            ("-1", None),
            ("3x", None),
            ("x", None),
            ("3 ", None),
            ("0x3", None),
            ("99999999999", None),
        ] {
            assert_eq!(fd(os(s)), want, "{s:?}");
        }
    }

    #[test]
    fn modes_are_octal_up_to_07777() {
        for (s, want) in [
            ("0700", Some(0o700)),
            ("755", Some(0o755)),
            ("07777", Some(0o7777)),
            ("0", Some(0)),
            ("010000", None),
            ("0800", None),
            ("", None),
            ("-1", None),
            ("0755x", None),
        ] {
            assert_eq!(octal(os(s)), want, "{s:?}");
        }
    }

    /// The values bubblewrap's own test suite feeds to --size.
    #[test]
    fn sizes_follow_strtoull_base_0() {
        assert_eq!(size(os("1")), Ok(1));
        assert_eq!(size(os("0x10")), Ok(16));
        assert_eq!(size(os("010")), Ok(8));
        assert_eq!(size(os("9223372036854775807")), Ok(MAX_TMPFS_BYTES));
        for bad in ["0", "123bogus", "", "-1", " -1", " 1", "18446744073709551616", "0x", "08"] {
            assert_eq!(size(os(bad)), Err(SizeError::Invalid), "{bad:?}");
        }
        assert_eq!(size(os("9223372036854775809")), Err(SizeError::TooLarge));
        assert_eq!(size(os("18446744073709551615")), Err(SizeError::TooLarge));
    }
}
