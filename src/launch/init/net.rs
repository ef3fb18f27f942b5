//! Network and UTS: the host name, and the loopback interface.
//!
//! A new network namespace starts with only `lo`, and it is down. Bringing it
//! up (SIOCSIFFLAGS with IFF_UP) makes the kernel give it 127.0.0.1/8 and
//! ::1, so programs that talk to themselves over TCP keep working while
//! nothing else is reachable.

use std::os::fd::AsRawFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::launch::error::{Context, Kind, Result, SetupError};
use crate::launch::Ctx;

pub fn hostname(ctx: &Ctx) -> Result<()> {
    if let Some(name) = &ctx.plan.process.hostname {
        ctx.log("hostname", name);
        let shown = crate::escape::str(name);
        nix::unistd::sethostname(name)
            .what(|| format!("sethostname {shown}"))
            .map_err(|e| e.kind(Kind::Hostname { name: shown.clone() }))?;
    }
    Ok(())
}

pub fn loopback(ctx: &Ctx) -> Result<()> {
    if !ctx.plan.namespaces.net {
        return Ok(());
    }
    if ctx.plan.network.user.is_none() {
        let why = "no network: only loopback, and a name lookup fails at once; --net user or --net host give the sandbox one";
        ctx.log("network", why);
    }
    ctx.log("loopback", "lo up");
    lo_up().map_err(|(what, e)| SetupError::errno(format!("loopback: {what}"), e))
}

/// Brings `lo` up in the calling thread's network namespace; on failure,
/// what failed and why.
pub fn lo_up() -> std::result::Result<(), (&'static str, nix::errno::Errno)> {
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| ("socket", e))?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo"; the kernel writes the flags
    // into it and reads nothing else.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(("get flags of lo", nix::errno::Errno::last()));
    }
    // SAFETY: ifru_flags is the member SIOCGIFFLAGS filled in.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS reads the name and flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(("bring lo up", nix::errno::Errno::last()));
    }
    Ok(())
}
