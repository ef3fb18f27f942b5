//! bubblewrap's status reports, byte for byte: `--info-fd` (one
//! pretty-printed JSON object) and `--json-status-fd` (JSON lines: the same
//! object on one line, then `{ "exit-code": N }`).
//!
//! Namespace ids are the inode numbers of `/proc/<pid>/ns/<name>`. Only the
//! namespaces the sandbox got of its own are listed, always in the order
//! cgroup, ipc, mnt, net, pid, uts; the mount namespace is always its own
//! and always listed; the user namespace never is (bubblewrap reads the ids
//! before its child may have moved into a nested one).
//!
//! The formatting functions are pure, so any front end can write the same
//! format; [`write_all`] does the writing.

use std::os::unix::fs::MetadataExt;

use crate::plan::Namespaces;

/// `(name, inode)` of each namespace to report, in bubblewrap's order.
pub type NsIds = Vec<(&'static str, u64)>;

/// The ids of `pid`'s namespaces that `ns` says are the sandbox's own.
/// A namespace whose id cannot be read is left out, as bubblewrap does.
pub fn namespace_ids(pid: i32, ns: &Namespaces) -> NsIds {
    [("cgroup", ns.cgroup), ("ipc", ns.ipc), ("mnt", true), ("net", ns.net), ("pid", ns.pid), ("uts", ns.uts)]
        .into_iter()
        .filter(|(_, own)| *own)
        .filter_map(|(name, _)| {
            let meta = std::fs::metadata(format!("/proc/{pid}/ns/{name}")).ok()?;
            Some((name, meta.ino()))
        })
        .collect()
}

/// The `--info-fd` object: `{\n    "child-pid": N,\n    "<ns>-namespace": ID…\n}\n`.
pub fn info_object(child_pid: i32, ids: &[(&str, u64)]) -> String {
    let mut out = format!("{{\n    \"child-pid\": {child_pid}");
    for (name, id) in ids {
        out.push_str(&format!(",\n    \"{name}-namespace\": {id}"));
    }
    out.push_str("\n}\n");
    out
}

/// The first `--json-status-fd` line: `{ "child-pid": N, "<ns>-namespace": ID… }\n`.
pub fn start_line(child_pid: i32, ids: &[(&str, u64)]) -> String {
    let mut out = format!("{{ \"child-pid\": {child_pid}");
    for (name, id) in ids {
        out.push_str(&format!(", \"{name}-namespace\": {id}"));
    }
    out.push_str(" }\n");
    out
}

/// The last `--json-status-fd` line, written only when the command was
/// executed: `{ "exit-code": N }\n` (N is the shell's encoding: the
/// status, or 128+signal).
pub fn exit_line(code: i32) -> String {
    format!("{{ \"exit-code\": {code} }}\n")
}

/// Writes all of `text` to the caller's descriptor `fd` (retrying short
/// writes and EINTR).
pub fn write_all(fd: i32, text: &str) -> nix::Result<()> {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: `fd` is a descriptor the caller handed over for this
        // purpose; borrowing it for the duration of one write is sound.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        match nix::unistd::write(borrowed, rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_bubblewrap_to_the_byte() {
        let ids = [("ipc", 4026532181u64), ("mnt", 4026532180), ("pid", 4026532182)];
        assert_eq!(
            info_object(12345, &ids),
            "{\n    \"child-pid\": 12345,\n    \"ipc-namespace\": 4026532181,\n    \
             \"mnt-namespace\": 4026532180,\n    \"pid-namespace\": 4026532182\n}\n"
        );
        assert_eq!(
            start_line(12345, &ids),
            "{ \"child-pid\": 12345, \"ipc-namespace\": 4026532181, \"mnt-namespace\": 4026532180, \
             \"pid-namespace\": 4026532182 }\n"
        );
        assert_eq!(info_object(7, &[]), "{\n    \"child-pid\": 7\n}\n");
        assert_eq!(exit_line(42), "{ \"exit-code\": 42 }\n");
    }

    #[test]
    fn ids_are_listed_in_bubblewraps_order_and_mnt_always() {
        let me = std::process::id() as i32;
        let ns = Namespaces { user: true, pid: true, ipc: false, uts: true, net: false, cgroup: true };
        let names: Vec<&str> = namespace_ids(me, &ns).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["cgroup", "mnt", "pid", "uts"]);
        let none = Namespaces { user: false, pid: false, ipc: false, uts: false, net: false, cgroup: false };
        let ids = namespace_ids(me, &none);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].1, std::fs::metadata("/proc/self/ns/mnt").unwrap().ino());
    }
}
