//! A small internet for the egress tests, made of namespaces the test
//! creates: the island (the "host", as in `island`) whose uplink `up0` is
//! a veth pair into a second namespace, the world, which is the island's
//! gateway (192.0.2.1, 2001:db8:1::1) and holds the test servers'
//! addresses on its loopback. Nothing is routed anywhere else.
//!
//! The servers live in the world rather than on the island's own
//! addresses because pasta binds its outgoing sockets to the host's
//! outbound interface: an address on the island's `lo` would never be
//! reached through it.

use std::sync::mpsc;

use super::{bind_resolv, ip, GATEWAY, HOST_ADDR};

/// The world's gateway address for IPv6 and the island's on the same link.
pub const GATEWAY6: &str = "2001:db8:1::1";
pub const HOST_ADDR6: &str = "2001:db8:1::2";

type Job = Box<dyn FnOnce() + Send>;

/// The world namespace: runs code on a thread inside it.
pub struct World {
    jobs: mpsc::Sender<Job>,
}

impl World {
    /// Runs `f` in the world's network namespace and returns its result.
    /// Threads and processes `f` starts live there too.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        self.jobs.send(Box::new(move || tx.send(f()).unwrap())).unwrap();
        rx.recv().expect("the world's thread ended")
    }
}

/// Runs `body` on an island whose uplink reaches a world holding `addrs`
/// (IPv4 or IPv6 addresses, for the test servers); panics propagate.
pub fn world_island<F: FnOnce(&World) + Send + 'static>(addrs: &[&str], body: F) {
    let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let t = std::thread::spawn(move || {
        use nix::mount::{mount, MsFlags};
        use nix::sched::{unshare, CloneFlags};
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).expect("unshare net and mount (root)");
        super::rulesets::assert_off_host();
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
            .expect("make / rslave");
        let _resolv = bind_resolv();
        let (world, tid) = start_world();
        ip(&["link", "set", "lo", "up"]);
        ip(&["link", "add", "up0", "type", "veth", "peer", "name", "w0", "netns", &tid.to_string()]);
        ip(&["addr", "add", &format!("{HOST_ADDR}/24"), "dev", "up0"]);
        ip(&["addr", "add", &format!("{HOST_ADDR6}/64"), "dev", "up0", "nodad"]);
        ip(&["link", "set", "up0", "up"]);
        ip(&["route", "add", "default", "via", GATEWAY, "dev", "up0"]);
        ip(&["-6", "route", "add", "default", "via", GATEWAY6, "dev", "up0"]);
        world.run(move || {
            ip(&["link", "set", "lo", "up"]);
            ip(&["addr", "add", &format!("{GATEWAY}/24"), "dev", "w0"]);
            ip(&["addr", "add", &format!("{GATEWAY6}/64"), "dev", "w0", "nodad"]);
            ip(&["link", "set", "w0", "up"]);
            for a in &addrs {
                match a.contains(':') {
                    true => ip(&["addr", "add", &format!("{a}/128"), "dev", "lo", "nodad"]),
                    false => ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]),
                }
            }
        });
        body(&world);
    });
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

/// The world's thread, in a network namespace of its own; its thread id
/// (which `ip link … netns` takes for its namespace).
fn start_world() -> (World, i32) {
    let (jobs, rx) = mpsc::channel::<Job>();
    let (tid_tx, tid_rx) = mpsc::channel();
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare the world's net");
        tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
        for job in rx {
            job();
        }
    });
    (World { jobs }, tid_rx.recv().unwrap())
}
