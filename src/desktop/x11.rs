//! X11: which display the session has, its socket, its Xauthority, and the
//! nested X server that keeps an untrusted client off the user's display.
//!
//! Rules this relies on:
//! - A local display `:N` (or `unix:N`) listens on the socket
//!   `/tmp/.X11-unix/XN` and, on Linux, on the abstract socket of the same
//!   name. The sandbox's own network namespace hides the abstract one (and
//!   landlock's scope blocks it), so the path socket is what gets bound in.
//!   A display on a host name (`localhost:10`, ssh's forwarding) is TCP and
//!   needs the host's network; it is refused rather than opened silently.
//! - Any client of a display can read every window's contents and input and
//!   send input to any window: X11 has no isolation between clients. That is
//!   why `--x11 host` is a note in `-v` and `explain`, and why `nested` runs
//!   the command on a display of its own (Xephyr), shown in one window on
//!   the user's display.
//! - An Xauthority file is a list of records, each five fields in network
//!   byte order: family (u16), address, display number, auth name, auth
//!   data (each a u16 length and its bytes). A client picks the record
//!   whose family and address match its connection and whose number is
//!   the display's. Inside the sandbox the host name differs, so the one
//!   record sandbox writes there has the family Wild (0xffff), which any
//!   address matches, as Flatpak does.
//! - Xephyr picks a free display number itself with `-displayfd FD` and
//!   writes it on FD, followed by a newline, once it accepts connections:
//!   that line is the readiness signal, and no number is guessed.

use std::path::PathBuf;

/// The directory of local X11 sockets.
pub const SOCKET_DIR: &str = "/tmp/.X11-unix";
/// The auth scheme of the cookie records sandbox writes.
pub const COOKIE_NAME: &[u8] = b"MIT-MAGIC-COOKIE-1";

/// Families of Xauthority records.
pub const FAMILY_LOCAL: u16 = 256;
pub const FAMILY_WILD: u16 = 0xffff;

/// A local display, as `$DISPLAY` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    pub number: u32,
    pub screen: Option<u32>,
}

impl Display {
    /// Parses `:N`, `:N.S`, `unix:N`; a display on another host (TCP) is an
    /// error that says so.
    pub fn parse(s: &str) -> Result<Display, String> {
        let Some((host, rest)) = s.rsplit_once(':') else {
            return Err(format!("DISPLAY={s:?} is not of the form :N"));
        };
        if !(host.is_empty() || host == "unix") {
            return Err(format!(
                "DISPLAY={s} is on the network (TCP, as ssh -X forwards it), which sandbox does not bind in"
            ));
        }
        let (num, screen) = match rest.split_once('.') {
            Some((n, sc)) => (n, Some(sc)),
            None => (rest, None),
        };
        let number = num.parse().map_err(|_| format!("DISPLAY={s:?}: {num:?} is not a display number"))?;
        let screen = match screen {
            Some(sc) => {
                Some(sc.parse().map_err(|_| format!("DISPLAY={s:?}: {sc:?} is not a screen number"))?)
            }
            None => None,
        };
        Ok(Display { number, screen })
    }

    /// The display's socket.
    pub fn socket(&self) -> PathBuf {
        socket(self.number)
    }
}

/// The socket of display `number`.
pub fn socket(number: u32) -> PathBuf {
    PathBuf::from(format!("{SOCKET_DIR}/X{number}"))
}

/// One record of an Xauthority file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    pub family: u16,
    pub address: Vec<u8>,
    /// The display number, in decimal digits.
    pub number: Vec<u8>,
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

/// Parses an Xauthority file; a truncated record is an error.
pub fn parse_auth(bytes: &[u8]) -> Result<Vec<AuthRecord>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("the Xauthority file ends inside a record".into());
        }
        let (head, tail) = b.split_at(n);
        *b = tail;
        Ok(head)
    }
    fn field(b: &mut &[u8]) -> Result<Vec<u8>, String> {
        let len = take(b, 2)?;
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        Ok(take(b, n)?.to_vec())
    }
    let mut b = bytes;
    let mut out = Vec::new();
    while !b.is_empty() {
        let fam = take(&mut b, 2)?;
        let family = u16::from_be_bytes([fam[0], fam[1]]);
        let (address, number, name, data) = (field(&mut b)?, field(&mut b)?, field(&mut b)?, field(&mut b)?);
        out.push(AuthRecord { family, address, number, name, data });
    }
    Ok(out)
}

/// Writes records in the Xauthority format.
pub fn write_auth(records: &[AuthRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&r.family.to_be_bytes());
        for f in [&r.address, &r.number, &r.name, &r.data] {
            let len = u16::try_from(f.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&f[..len as usize]);
        }
    }
    out
}

/// The cookie for local display `number` of the host `hostname` in
/// `records`: a Local record for this host, else a Wild one (libXau's
/// order of preference), MIT-MAGIC-COOKIE-1 only.
pub fn find_cookie(records: &[AuthRecord], hostname: &[u8], number: u32) -> Option<Vec<u8>> {
    let num = number.to_string().into_bytes();
    let usable = |r: &&AuthRecord| r.number == num && r.name == COOKIE_NAME;
    let local = records.iter().filter(usable).find(|r| r.family == FAMILY_LOCAL && r.address == hostname);
    let wild = || records.iter().filter(usable).find(|r| r.family == FAMILY_WILD);
    local.or_else(wild).map(|r| r.data.clone())
}

/// The one record the sandbox's Xauthority holds: `cookie` for display
/// `number` from any address.
pub fn sandbox_auth(number: u32, cookie: &[u8]) -> Vec<u8> {
    write_auth(&[AuthRecord {
        family: FAMILY_WILD,
        address: Vec::new(),
        number: number.to_string().into_bytes(),
        name: COOKIE_NAME.to_vec(),
        data: cookie.to_vec(),
    }])
}

/// The Xauthority file of the session: `$XAUTHORITY`, else `~/.Xauthority`.
pub fn auth_file(env: Option<&str>, home: &std::path::Path) -> PathBuf {
    match env.filter(|s| !s.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => home.join(".Xauthority"),
    }
}

/// The nested server's window size.
pub const NESTED_SCREEN: &str = "1280x800";

/// Xephyr's arguments: a display number of its choosing written on
/// `displayfd`, connections only with the cookie in `auth` (a file of
/// [`sandbox_auth`] records), no TCP, and no MIT-SHM (the extension would
/// let a client name shared-memory segments of the host's IPC namespace,
/// where the server lives).
pub fn xephyr_args(displayfd: i32, auth: &str, title: &str) -> Vec<String> {
    [
        "-displayfd",
        &displayfd.to_string(),
        "-auth",
        auth,
        "-nolisten",
        "tcp",
        "-extension",
        "MIT-SHM",
        "-screen",
        NESTED_SCREEN,
        "-resizeable",
        "-no-host-grab",
        "-title",
        title,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The display number in what Xephyr wrote on its `-displayfd`, once the
/// line is complete.
pub fn parse_displayfd(bytes: &[u8]) -> Option<Result<u32, String>> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let text = String::from_utf8_lossy(&bytes[..end]);
    Some(text.trim().parse().map_err(|_| format!("the nested X server wrote {text:?}, not a display number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays() {
        assert_eq!(Display::parse(":0"), Ok(Display { number: 0, screen: None }));
        assert_eq!(Display::parse("unix:12.1"), Ok(Display { number: 12, screen: Some(1) }));
        assert_eq!(Display::parse(":3").unwrap().socket(), PathBuf::from("/tmp/.X11-unix/X3"));
        assert!(Display::parse("localhost:10.0").unwrap_err().contains("TCP"));
        assert!(Display::parse("0").unwrap_err().contains("form :N"));
        assert!(Display::parse(":x").unwrap_err().contains("not a display number"));
        assert!(Display::parse(":1.y").unwrap_err().contains("screen"));
    }

    fn rec(family: u16, address: &str, number: &str, data: &[u8]) -> AuthRecord {
        AuthRecord {
            family,
            address: address.into(),
            number: number.into(),
            name: COOKIE_NAME.to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn xauthority_round_trips_and_finds_the_right_cookie() {
        let records = vec![
            rec(FAMILY_LOCAL, "other", "0", b"nope"),
            rec(FAMILY_WILD, "", "0", b"wild"),
            rec(FAMILY_LOCAL, "box", "1", b"one"),
            rec(FAMILY_LOCAL, "box", "0", b"zero"),
            AuthRecord { name: b"XDM-AUTHORIZATION-1".to_vec(), ..rec(FAMILY_LOCAL, "box", "2", b"xdm") },
        ];
        let bytes = write_auth(&records);
        assert_eq!(parse_auth(&bytes).unwrap(), records);
        assert_eq!(find_cookie(&records, b"box", 0).as_deref(), Some(&b"zero"[..]));
        assert_eq!(find_cookie(&records, b"elsewhere", 0).as_deref(), Some(&b"wild"[..]));
        assert_eq!(find_cookie(&records, b"box", 2), None);
        assert_eq!(find_cookie(&records, b"box", 7), None);
        assert!(parse_auth(&bytes[..bytes.len() - 1]).unwrap_err().contains("ends inside"));
        assert_eq!(parse_auth(&[]).unwrap(), vec![]);
    }

    #[test]
    fn the_sandbox_record_matches_any_address() {
        let bytes = sandbox_auth(5, &[1, 2, 3]);
        // The bytes `xauth nmerge` writes for "ffff 0000 0001 35 0012 4d49…31 0003 010203".
        let mut want = vec![0xff, 0xff, 0, 0, 0, 1, b'5', 0, 18];
        want.extend_from_slice(COOKIE_NAME);
        want.extend_from_slice(&[0, 3, 1, 2, 3]);
        assert_eq!(bytes, want);
        let parsed = parse_auth(&bytes).unwrap();
        assert_eq!(find_cookie(&parsed, b"any-host", 5).as_deref(), Some(&[1u8, 2, 3][..]));
    }

    #[test]
    fn xephyr_and_its_display_number() {
        let args = xephyr_args(7, "/run/a", "sandbox: xeyes");
        assert_eq!(args[..4], ["-displayfd", "7", "-auth", "/run/a"]);
        assert!(args.windows(2).any(|w| w == ["-extension", "MIT-SHM"]));
        assert!(args.windows(2).any(|w| w == ["-nolisten", "tcp"]));
        assert_eq!(parse_displayfd(b"1"), None);
        assert_eq!(parse_displayfd(b"12\n"), Some(Ok(12)));
        assert!(parse_displayfd(b"x\n").unwrap().unwrap_err().contains("not a display number"));
        assert_eq!(auth_file(None, std::path::Path::new("/h")), PathBuf::from("/h/.Xauthority"));
        assert_eq!(auth_file(Some("/x/a"), std::path::Path::new("/h")), PathBuf::from("/x/a"));
    }
}
