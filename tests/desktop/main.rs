//! Desktop applications (issue 17): X11, the session bus, sound, Wayland,
//! a real browser and launchers, each against servers the test starts
//! (`services.rs`), run through the real binary as the unprivileged user.

mod browser;
mod bus;
#[path = "../common/mod.rs"]
mod common;
mod launchers;
mod services;
mod sound;
mod x11;

use common::{out, Dir};
use services::{caller_cmd, have, runtime_dir, Bus, Pulse, Weston, Xvfb};

/// The harness itself: each server answers a client on the host, Xvfb
/// refuses one without the cookie, and nothing is left once dropped.
#[test]
fn the_test_desktop_starts_and_stops() {
    if !have(&["Xvfb", "xwininfo", "dbus-daemon", "gdbus", "pulseaudio", "pactl", "weston", "wayland-info"]) {
        return;
    }
    let (runtime, home) = (runtime_dir(), Dir::new());
    let x = Xvfb::start();
    out(x.client("xwininfo").arg("-root")).ok();
    let refused = out(x.client("xwininfo").arg("-root").env("XAUTHORITY", "/dev/null"));
    assert_ne!(refused.code(), 0, "Xvfb let a client in without the cookie");
    let bus = Bus::start(&runtime, &home, &["org.example.Allowed"]);
    let mut call = caller_cmd("gdbus", runtime.path(), home.path());
    call.env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args(["call", "--session", "--dest", "org.example.Allowed", "--object-path", "/org/example/Test"])
        .args(["--method", "org.example.Test.Ping"]);
    assert!(out(&mut call).ok().contains("pong from org.example.Allowed"));
    let pulse = Pulse::start(&runtime, &home);
    let weston = Weston::start(&runtime, &home);
    let pids = [x.proc.id(), bus.daemon.id(), bus.services[0].id(), pulse.proc.id(), weston.proc.id()];
    drop((x, bus, pulse, weston));
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} outlived its server");
    }
}
