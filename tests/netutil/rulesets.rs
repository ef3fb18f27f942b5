//! The firewall is only ever the sandbox's (issue 20): the egress tests
//! read the machine's nftables ruleset (the test process's own network
//! namespace, which no island enters) and the island's (where the monitor
//! runs) before and after a run, and check that neither changed, after a
//! normal end, a refused setup or a `kill -9` of the monitor. The tests
//! that install a ruleset themselves check first that they are not in the
//! machine's namespace.
//!
//! A namespace is named by the device and inode numbers of its nsfs file
//! (`/proc/PID/ns/net`), read here with plain stat(2), independently of
//! the code under test.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A network namespace: the nsfs device and inode numbers.
pub type NetNs = (u64, u64);

pub fn netns_of(path: &Path) -> NetNs {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.dev(), m.ino())
}

/// The test process's own network namespace: that of its main thread,
/// which never enters an island (each island is a thread of its own).
pub fn host_netns_path() -> PathBuf {
    PathBuf::from(format!("/proc/{}/ns/net", std::process::id()))
}

/// The calling thread's network namespace.
pub fn current_netns() -> NetNs {
    netns_of(Path::new("/proc/thread-self/ns/net"))
}

/// Panics unless the calling thread is in a network namespace other than
/// the machine's.
pub fn assert_off_host() {
    assert_ne!(
        current_netns(),
        netns_of(&host_netns_path()),
        "this thread is in the machine's network namespace"
    );
}

/// Panics unless `sock` acts on a network namespace other than the
/// machine's (as SIOCGSKNS says): a test never installs a firewall there.
pub fn assert_socket_off_host(sock: std::os::fd::BorrowedFd) {
    use sandbox::launch::netns::NetNs;
    let ns = NetNs::of_socket(sock).expect("the socket's network namespace");
    let host = NetNs::of_path(&host_netns_path()).expect("the machine's network namespace");
    assert_ne!(ns, host, "a netlink socket of the test is in the machine's network namespace");
}

/// `nft list ruleset` of the machine and of the calling thread's island.
#[derive(Debug, PartialEq, Eq)]
pub struct Rulesets {
    pub host: String,
    pub island: String,
}

impl Rulesets {
    /// Reads both; `None` (a skip, a failure under CI=true) without nft.
    pub fn read() -> Option<Rulesets> {
        if nft().is_none() {
            crate::common::skip(
                "nft (Debian package nftables) is not installed: the rulesets are not compared",
            );
            return None;
        }
        assert_off_host();
        let island = list();
        // A thread of its own joins the machine's namespace to list it.
        let host = std::thread::spawn(|| {
            let ns = std::fs::File::open(host_netns_path()).expect("open the machine's network namespace");
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("join the machine's namespace");
            assert_eq!(current_netns(), netns_of(&host_netns_path()));
            list()
        })
        .join()
        .expect("listing the machine's ruleset");
        Some(Rulesets { host, island })
    }

    /// Panics when either ruleset differs from `self` now.
    pub fn assert_unchanged(&self, when: &str) {
        let Some(now) = Rulesets::read() else { return };
        assert_eq!(now.host, self.host, "{when}: the machine's nftables ruleset changed");
        assert_eq!(now.island, self.island, "{when}: the island's nftables ruleset changed");
    }
}

fn nft() -> Option<&'static str> {
    ["/usr/sbin/nft", "/sbin/nft"].into_iter().find(|p| Path::new(p).exists())
}

/// `nft list ruleset` in the calling thread's network namespace.
fn list() -> String {
    let o = crate::common::out(Command::new(nft().expect("nft")).args(["list", "ruleset"]));
    assert_eq!(o.code(), 0, "nft list ruleset: {}", o.stderr());
    o.stdout()
}
