//! Probes of what this kernel allows, for `sandbox check`.
//!
//! Each probe either asks the kernel directly (the landlock ABI version, the
//! seccomp mode) or tries the real thing in a throwaway child (a user
//! namespace, an overlay mount inside one) and returns the errno. Children
//! end with `_exit` and are reaped before a probe returns; nothing they do
//! (namespaces, mounts) outlives them. Like the rest of launch, the callers
//! must be single-threaded.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

use super::sys;

fn read_num(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Names the host setting that refuses unprivileged user namespaces, if one does.
pub fn userns_hint() -> Option<String> {
    if read_num("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        return Some(
            "unprivileged user namespaces are disabled: run 'sudo sysctl kernel.unprivileged_userns_clone=1'"
                .into(),
        );
    }
    if read_num("/proc/sys/user/max_user_namespaces") == Some(0) {
        return Some(
            "user.max_user_namespaces is 0 here: run 'sudo sysctl user.max_user_namespaces=15000' \
             (inside a container, the container's own limit applies)"
                .into(),
        );
    }
    if read_num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
        return Some(
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): run 'sudo sysctl \
             kernel.apparmor_restrict_unprivileged_userns=0', or give sandbox an AppArmor profile with 'userns,'"
                .into(),
        );
    }
    None
}

/// Said with every refusal: the way to run without user namespaces.
const LANDLOCK_ONLY: &str =
    "; or run without namespaces, confined by landlock: --mode landlock (or --best-effort)";

/// What to do about a user namespace refused with `e`, if anything is
/// known: the host setting, or the likely cause; and the way to run
/// without user namespaces.
pub fn userns_fix(e: Errno) -> Option<String> {
    let hint = match (userns_hint(), e) {
        (Some(h), _) => h,
        (None, Errno::EINVAL) => "this kernel lacks user namespaces (CONFIG_USER_NS)".into(),
        (None, Errno::ENOSPC) => "too many nested user namespaces (user.max_user_namespaces)".into(),
        (None, Errno::EPERM) => {
            "user namespaces are refused here; inside a container, a seccomp profile or a \
             security module may forbid them"
                .into()
        }
        _ => return None,
    };
    Some(format!("{hint}{LANDLOCK_ONLY}"))
}

/// Waits for `pid`; its exit code, or 128+N when signal N killed it.
/// ECHILD when SIGCHLD is ignored (the kernel then reaps by itself).
fn reap(pid: libc::pid_t) -> nix::Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Creates a user and a mount namespace in a child that exits at once.
pub fn user_namespace() -> nix::Result<()> {
    let pid = sys::clone_fork(libc::CLONE_NEWUSER | libc::CLONE_NEWNS)?;
    if pid == 0 {
        sys::exit_now(0);
    }
    // The namespaces exist once clone returns; the child only has to go.
    let _ = reap(pid);
    Ok(())
}

/// The landlock ABI version: `landlock_create_ruleset(NULL, 0, VERSION)`.
/// EOPNOTSUPP: built but not enabled at boot; ENOSYS: not built.
pub fn landlock_abi() -> nix::Result<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute pointer and size 0 the kernel reads no
    // memory; the VERSION flag only returns a number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    Errno::result(r)
}

/// This thread's seccomp mode (0 none, 2 filtered); EINVAL without CONFIG_SECCOMP.
pub fn seccomp_mode() -> nix::Result<i32> {
    // SAFETY: PR_GET_SECCOMP takes no pointers and only reads the mode.
    Errno::result(unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) })
}

/// Whether `path` carries file capabilities (a `security.capability` xattr).
pub fn has_file_caps(path: &Path) -> bool {
    let Ok(c) = sys::cstring(path) else { return false };
    // SAFETY: both names are NUL-terminated strings; a NULL buffer of size 0
    // asks only for the size of the value, nothing is written.
    let r = unsafe { libc::getxattr(c.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    r > 0
}

/// `cmd` in $PATH, if it is an executable file.
pub fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
}

/// A set-id helper (newuidmap) in $PATH, and whether it can act: setuid
/// root or file capabilities.
pub fn setid_helper(cmd: &str) -> Option<(PathBuf, bool)> {
    let path = which(cmd)?;
    let setuid_root = path.metadata().is_ok_and(|m| m.mode() & 0o4000 != 0 && m.uid() == 0);
    let able = setuid_root || has_file_caps(&path);
    Some((path, able))
}

/// Mounts an overlay with `userxattr` inside a child's own user and mount
/// namespace, its layers in a fresh directory under `tmp` that is removed
/// afterwards, whatever happened. The error names the failed step. Also
/// says whether a tmpfs there takes user xattrs (Linux 6.6+): `--overlay`'s
/// upper layer is one, and overlayfs needs them to remove or rename a
/// lower directory that has entries (EIO otherwise).
pub fn overlay_in_userns(tmp: &Path) -> Result<bool, String> {
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
    let dir = tmp.join(format!("sandbox-check-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let result = overlay_probe(&dir);
    remove_tree(&dir);
    result
}

/// Removes `dir` even where overlayfs left a directory without permissions.
fn remove_tree(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() {
        return;
    }
    for sub in ["work/work", "work/index", "work", "upper", "lower", "merged"] {
        let _ = std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o700));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn overlay_probe(dir: &Path) -> Result<bool, String> {
    for sub in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
    }
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (uid, gid) = (Uid::current(), Gid::current());
    let pid = sys::clone_fork(0).map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        drop(rd);
        let result = overlay_child(dir, uid, gid);
        let msg = match &result {
            Ok(true) => "ok",
            Ok(false) => "ok, no user xattrs on tmpfs",
            Err(e) => e.as_str(),
        };
        let _ = nix::unistd::write(&wr, msg.as_bytes());
        sys::exit_now(i32::from(result.is_err()));
    }
    drop(wr);
    // The child's word decides: with SIGCHLD ignored there is no status to wait for.
    let mut msg = String::new();
    let _ = File::from(rd).read_to_string(&mut msg);
    let status = reap(pid);
    match msg.as_str() {
        "ok" => Ok(true),
        "ok, no user xattrs on tmpfs" => Ok(false),
        "" => Err(format!("the probe ended without a word ({status:?})")),
        _ => Err(msg),
    }
}

/// The child's part: unshare, map itself to root, mount the overlay, then
/// a tmpfs over the lower layer to try a user xattr on.
fn overlay_child(dir: &Path, uid: Uid, gid: Gid) -> Result<bool, String> {
    let step = |what: &'static str| move |e: Errno| format!("{what}: {e}");
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(step("unshare"))?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| format!("write {file}: {e}"))
    };
    // Kernels before 3.19 have no setgroups file; the gid_map write then decides.
    let _ = write("setgroups", "deny".into());
    write("uid_map", format!("0 {uid} 1\n"))?;
    write("gid_map", format!("0 {gid} 1\n"))?;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).map_err(step("make / private"))?;
    // Relative layer paths (from the cwd) need no escaping of ',' or ':'.
    nix::unistd::chdir(dir).map_err(step("chdir"))?;
    let opts = "lowerdir=lower,upperdir=upper,workdir=work,userxattr";
    mount(Some("overlay"), "merged", Some("overlay"), MsFlags::empty(), Some(opts))
        .map_err(step("mount overlay"))?;
    mount(Some("tmpfs"), "lower", Some("tmpfs"), MsFlags::empty(), none).map_err(step("mount tmpfs"))?;
    std::fs::write("lower/x", "").map_err(|e| format!("create a file on tmpfs: {e}"))?;
    Ok(user_xattr(c"lower/x"))
}

/// Sets up the egress firewall (`--allow-host`) in a child's own user and
/// network namespace, as a sandbox would: the whole table, the timeout
/// sets, reject and the NFLOG binding. The error names the failed step.
pub fn firewall() -> Result<(), String> {
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let pid = sys::clone_fork(0).map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        drop(rd);
        let result = firewall_child();
        let msg = result.as_ref().map_or_else(String::as_str, |()| "ok");
        let _ = nix::unistd::write(&wr, msg.as_bytes());
        sys::exit_now(i32::from(result.is_err()));
    }
    drop(wr);
    let mut msg = String::new();
    let _ = File::from(rd).read_to_string(&mut msg);
    let status = reap(pid);
    match msg.as_str() {
        "ok" => Ok(()),
        "" => Err(format!("the probe ended without a word ({status:?})")),
        _ => Err(msg),
    }
}

fn firewall_child() -> Result<(), String> {
    use crate::egress::{netlink, nflog, ruleset};
    use crate::launch::netns::{self, NetNs};
    use nix::sys::socket::{bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType};
    use std::os::fd::{AsFd, AsRawFd};
    let host = NetNs::current().map_err(|e| format!("the caller's network namespace: {e}"))?;
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare: {e}"))?;
    let own = NetNs::current().map_err(|e| format!("the probe's network namespace: {e}"))?;
    let open = || {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| format!("netfilter socket: {e}"))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(|e| format!("bind the netfilter socket: {e}"))?;
        Ok::<_, String>(fd)
    };
    let nl = open()?;
    // Never a table in the caller's namespace, whatever unshare did.
    let got = NetNs::of_socket(nl.as_fd()).map_err(|e| format!("the netfilter socket's namespace: {e}"))?;
    netns::check("the netfilter socket", got, own, host)?;
    let (bytes, seqs) = ruleset::Firewall::default().batch(1).finish();
    netlink::transact(nl.as_fd(), &bytes, &seqs).map_err(|e| format!("nf_tables: {e}"))?;
    for (req, seq) in nflog::bind_requests(ruleset::LOG_GROUP, ruleset::SNAPLEN, 100) {
        netlink::transact(nl.as_fd(), &req, &[seq]).map_err(|e| format!("NFLOG: {e}"))?;
    }
    Ok(())
}

/// Whether a `user.` extended attribute can be set on `path`.
fn user_xattr(path: &std::ffi::CStr) -> bool {
    let (name, value) = (c"user.sandbox-check", b"1");
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    let r = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    r == 0
}

/// The controllers the caller's systemd user manager can give a scope (it
/// answers on D-Bus and can then put a sandbox in one); why not otherwise.
pub fn systemd_user_manager() -> Result<Vec<String>, String> {
    crate::cgroup::systemd::manager_controllers()
}
