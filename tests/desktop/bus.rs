//! The session bus through xdg-dbus-proxy: allowed names callable, the
//! others neither callable nor listed, no bus without --dbus, and no proxy
//! left after the run or after SIGKILL of the monitor.

use crate::common::{sbx, wait_for, Dir, Sbx};
use crate::services::{have, runtime_dir, Bus};

fn on(bus: &Bus, cwd: &Dir, home: &Dir, rt: &Dir, args: &[&str]) -> Sbx {
    sbx(cwd.path(), home.path(), args)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("XDG_RUNTIME_DIR", rt.path().to_str().unwrap())
}

const PING: &str =
    "gdbus call --session --object-path /org/example/Test --method org.example.Test.Ping --dest";
const LIST: &str =
    "dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames";

/// Processes of xdg-dbus-proxy whose command line names a socket in `rt`.
fn proxies(rt: &Dir) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("/usr/bin/xdg-dbus-proxy") && cmd.contains(rt.path().to_str().unwrap()) {
            out.push(pid);
        }
    }
    out
}

/// What the proxy left in the runtime directory: its sockets are named `.sandbox-*`.
fn leftovers(rt: &Dir) -> Vec<String> {
    let names =
        std::fs::read_dir(rt.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with(".sandbox-")).collect()
}

#[test]
fn only_the_allowed_name_is_callable_or_listed() {
    if !have(&["dbus-daemon", "xdg-dbus-proxy", "gdbus", "dbus-send", "python3"]) {
        return;
    }
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    let bus = Bus::start(&rt, &home, &["org.example.Allowed", "org.example.Hidden"]);
    let script = format!(
        "{PING} org.example.Allowed; {PING} org.example.Hidden 2>&1 | grep -o ServiceUnknown | head -1; \
         {LIST} | grep -o 'org.example[A-Za-z.]*'"
    );
    let o = on(&bus, &cwd, &home, &rt, &["--dbus-talk", "org.example.Allowed", "--", "sh", "-c", &script])
        .output();
    assert_eq!(o.ok(), "('pong from org.example.Allowed',)\nServiceUnknown\norg.example.Allowed\n");
    // Killed and not waited for: gone within a bounded wait, its sockets at once.
    assert!(leftovers(&rt).is_empty(), "the proxy's sockets outlived the run");
    assert!(wait_for(10.0, || proxies(&rt).is_empty()), "the proxy outlived the run");
    // The contrast: the whole bus with --dbus open.
    let o = on(
        &bus,
        &cwd,
        &home,
        &rt,
        &["--dbus", "open", "--", "sh", "-c", &format!("{PING} org.example.Hidden")],
    )
    .output();
    assert_eq!(o.ok(), "('pong from org.example.Hidden',)\n");
}

#[test]
fn without_dbus_no_bus_is_reachable() {
    if !have(&["dbus-daemon", "gdbus", "python3"]) {
        return;
    }
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    let bus = Bus::start(&rt, &home, &["org.example.Allowed"]);
    let path = bus.address.trim_start_matches("unix:path=");
    let script = format!(
        "echo \"[$DBUS_SESSION_BUS_ADDRESS]\"; test -e {path} || echo no-socket; \
         DBUS_SESSION_BUS_ADDRESS={} {PING} org.example.Allowed 2>/dev/null || echo unreachable",
        bus.address
    );
    let o = on(&bus, &cwd, &home, &rt, &["--", "sh", "-c", &script]).output();
    assert_eq!(o.ok(), "[]\nno-socket\nunreachable\n");
}

#[test]
fn the_proxy_ends_with_a_killed_monitor() {
    if !have(&["dbus-daemon", "xdg-dbus-proxy", "python3"]) {
        return;
    }
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    let bus = Bus::start(&rt, &home, &["org.example.Allowed"]);
    let mut run = on(
        &bus,
        &cwd,
        &home,
        &rt,
        &["--dbus-talk", "org.example.Allowed", "--", "sh", "-c", "echo up; sleep 60"],
    )
    .spawn();
    assert_eq!(run.lines().line(), "up");
    let proxy = proxies(&rt);
    assert_eq!(proxy.len(), 1, "one proxy while the sandbox runs");
    assert_eq!(leftovers(&rt).len(), 1, "its socket");
    run.kill(); // SIGKILL to the monitor only
    let gone =
        |p: u32| std::fs::read_to_string(format!("/proc/{p}/stat")).map_or(true, |s| s.contains(") Z "));
    assert!(wait_for(10.0, || gone(proxy[0])), "the proxy outlived a killed monitor");
    assert!(wait_for(5.0, || leftovers(&rt).is_empty()), "its socket is left: {:?}", leftovers(&rt));
}
