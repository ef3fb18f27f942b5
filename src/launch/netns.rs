//! Which network namespace a descriptor acts on, so that the egress
//! firewall is only ever installed in the sandbox's own: never in the
//! caller's (the host's), whatever went wrong on the way there.
//!
//! A namespace is named by its nsfs inode: the device and inode numbers
//! that stat(2) of `/proc/PID/ns/net` (or fstat of a descriptor opened
//! there) gives. A netlink or IP socket acts, for its whole life, on the
//! network namespace it was created in, whoever sends on it and wherever
//! the sender is; SIOCGSKNS (Linux 4.9) opens that namespace. It needs
//! CAP_NET_ADMIN over the namespace, which the owner of the sandbox's user
//! namespace holds (and root over the host's).

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{fstat, stat};

/// A network namespace, by its nsfs device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetNs {
    dev: u64,
    ino: u64,
}

impl NetNs {
    /// The namespace of a descriptor opened at `/proc/PID/ns/net` (or
    /// returned by SIOCGSKNS).
    pub fn of_ns_fd(fd: BorrowedFd) -> nix::Result<NetNs> {
        let st = fstat(fd.as_raw_fd())?;
        Ok(NetNs { dev: st.st_dev, ino: st.st_ino })
    }

    /// The namespace a `/proc/…/ns/net` path names.
    pub fn of_path(path: &Path) -> nix::Result<NetNs> {
        let st = stat(path)?;
        Ok(NetNs { dev: st.st_dev, ino: st.st_ino })
    }

    /// The namespace of the calling thread.
    pub fn current() -> nix::Result<NetNs> {
        NetNs::of_path(Path::new("/proc/thread-self/ns/net"))
    }

    /// The namespace a socket was created in: the one every message sent
    /// on it acts on.
    pub fn of_socket(sock: BorrowedFd) -> nix::Result<NetNs> {
        // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor
        // (or -1); `sock` is a live descriptor for the duration of the call.
        let fd = Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGSKNS as _) })?;
        // SAFETY: the kernel just installed `fd` for us; nothing else owns it.
        let ns = unsafe { OwnedFd::from_raw_fd(fd) };
        NetNs::of_ns_fd(std::os::fd::AsFd::as_fd(&ns))
    }

    /// The inode number, as `/proc/PID/ns/net` shows it (`net:[N]`).
    pub fn inode(&self) -> u64 {
        self.ino
    }
}

impl fmt::Display for NetNs {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "net:[{}]", self.ino)
    }
}

/// Whether a socket in `got` may carry the firewall meant for `target`
/// while the caller's own namespace is `own`: only in `target`, and never
/// when `target` is the caller's own. The error says which.
pub fn check(what: &str, got: NetNs, target: NetNs, own: NetNs) -> Result<(), String> {
    if target == own {
        Err(format!("the sandbox's network namespace ({target}) is the caller's own"))
    } else if got == own {
        Err(format!("{what} is in the caller's network namespace ({own}), not the sandbox's ({target})"))
    } else if got != target {
        Err(format!("{what} is in {got}, not in the sandbox's network namespace ({target})"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn only_the_target_namespace_and_never_the_callers() {
        let (own, target, other) =
            (NetNs { dev: 4, ino: 1 }, NetNs { dev: 4, ino: 2 }, NetNs { dev: 4, ino: 3 });
        assert_eq!(check("s", target, target, own), Ok(()));
        assert!(check("s", own, target, own)
            .unwrap_err()
            .contains("the caller's network namespace (net:[1])"));
        assert!(check("s", other, target, own).unwrap_err().contains("s is in net:[3]"));
        // Even a socket in the "target" is refused when the target is our own.
        assert!(check("s", own, own, own).unwrap_err().contains("is the caller's own"));
        let same_ino_other_dev = NetNs { dev: 5, ino: 2 };
        assert!(check("s", same_ino_other_dev, target, own).is_err());
    }

    #[test]
    fn a_path_and_its_descriptor_name_the_same_namespace() {
        let here = NetNs::current().unwrap();
        assert_eq!(NetNs::of_path(Path::new("/proc/self/ns/net")).unwrap(), here);
        let fd = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        assert_eq!(NetNs::of_ns_fd(fd.as_fd()).unwrap(), here);
        assert_eq!(here.to_string(), format!("net:[{}]", here.inode()));
    }
}
