//! X11: the session's display (`--x11 host`, the `x11` profile) and a
//! display of the command's own (`--x11 nested`).

use crate::common::{out, sbx, spawn, wait_for, Dir, Sbx};
use crate::services::{have, runtime_dir, Xvfb};

/// A sandbox run on the display of `x`, as a session would start it.
pub fn on(x: &Xvfb, cwd: &Dir, home: &Dir, rt: &Dir, args: &[&str]) -> Sbx {
    sbx(cwd.path(), home.path(), args)
        .env("DISPLAY", &x.name())
        .env("XAUTHORITY", x.auth.to_str().unwrap())
        .env("XDG_RUNTIME_DIR", rt.path().to_str().unwrap())
}

/// The sockets X server `pid` listens on in /tmp/.X11-unix (its open
/// sockets' inodes looked up in the host's /proc/net/unix).
fn server_files(pid: u32) -> Vec<std::path::PathBuf> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten();
    let links = fds.filter_map(|e| std::fs::read_link(e.path()).ok());
    let inodes: Vec<String> = links
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let table = std::fs::read_to_string("/proc/net/unix").unwrap();
    let rows = table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>());
    let ours = rows.filter(|r| r.len() == 8 && inodes.iter().any(|i| i == r[6]) && r[7].starts_with("/tmp/"));
    ours.map(|r| r[7].into()).collect()
}

/// Whether process `pid` has ended (gone, or a zombie).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// Windows on the host display whose name is exactly `name`.
fn host_windows(x: &Xvfb, name: &str) -> usize {
    out(x.client("xdotool").args(["search", "--name", &format!("^{name}$")])).stdout().lines().count()
}

#[test]
fn an_x11_client_under_the_x11_profile_maps_a_window_the_screen_shows() {
    if !have(&["Xvfb", "xeyes", "xdotool", "import", "convert"]) {
        return;
    }
    let (cwd, home, rt, x) = (Dir::new(), Dir::new(), runtime_dir(), Xvfb::start());
    assert_eq!(x.colours(), 1, "the display is not empty before the test");
    // Without a display option nothing of X11 is inside.
    let o = on(&x, &cwd, &home, &rt, &["--", "xeyes"]).output();
    assert_ne!(o.code(), 0);
    assert!(o.stderr().contains("Can't open display"), "{}", o.stderr());
    let mut run =
        on(&x, &cwd, &home, &rt, &["--profile", "x11", "--", "xeyes", "-geometry", "300x300+0+0"]).spawn();
    assert!(wait_for(30.0, || host_windows(&x, "xeyes") == 1), "no xeyes window on the display");
    assert!(wait_for(10.0, || x.colours() >= 2), "the screen shows only the background");
    run.kill();
}

#[test]
fn inside_the_display_has_its_socket_and_a_cookie_of_its_own() {
    if !have(&["Xvfb", "xwininfo"]) {
        return;
    }
    let (cwd, home, rt, x) = (Dir::new(), Dir::new(), runtime_dir(), Xvfb::start());
    let probe = "echo $DISPLAY; ls /tmp/.X11-unix; xwininfo -root >/dev/null && echo connected; \
                 test -e \"$XAUTHORITY\" && test \"$XAUTHORITY\" != ";
    let probe = format!("{probe}{} && echo own-xauthority", x.auth.display());
    let o = on(&x, &cwd, &home, &rt, &["--x11", "host", "--", "sh", "-c", &probe]).output();
    assert_eq!(o.ok(), format!("{}\nX{}\nconnected\nown-xauthority\n", x.name(), x.display));
}

#[test]
fn a_nested_display_hides_the_host_windows_and_shows_on_the_host() {
    if !have(&["Xvfb", "Xephyr", "xeyes", "xdotool", "import", "convert"]) {
        return;
    }
    let (cwd, home, rt, x) = (Dir::new(), Dir::new(), runtime_dir(), Xvfb::start());
    let mut host_app =
        spawn(x.client("xeyes").args(["-name", "host-window", "-geometry", "100x100+530+370"]));
    assert!(wait_for(30.0, || host_windows(&x, "host-window") == 1));
    let count = "xdotool search --name '^host-window$' | wc -l";
    // The contrast: on the session's display the host's window is found.
    let seen = on(&x, &cwd, &home, &rt, &["--x11", "host", "--", "sh", "-c", count]).output();
    assert_eq!(seen.ok().trim(), "1");
    let script = format!("{count}; xeyes -geometry 400x300+0+0 & sleep 60");
    let mut run = on(&x, &cwd, &home, &rt, &["--x11", "nested", "--", "sh", "-c", &script]).spawn();
    let mut lines = run.lines();
    assert_eq!(lines.line().trim(), "0", "the host's window is visible from the nested display");
    // The nested server's window is on the host display (at 0,0: no window
    // manager), and the app draws inside it, away from the host's xeyes.
    assert!(wait_for(30.0, || host_windows(&x, "sandbox: sh") == 1), "no nested display window on the host");
    assert!(wait_for(20.0, || x.colours_in("400x300+0+0") >= 2), "nothing drawn in the nested display");
    // Xephyr is the monitor's child; SIGKILL of the monitor ends it too
    // (PDEATHSIG), and it removes its socket.
    let xephyr = crate::common::children_named(run.id(), "Xephyr");
    assert_eq!(xephyr.len(), 1, "one Xephyr for the sandbox");
    let files = server_files(xephyr[0]);
    assert_eq!(files.len(), 1, "Xephyr's socket: {files:?}");
    run.kill();
    assert!(wait_for(10.0, || ended(xephyr[0])), "Xephyr outlived a killed monitor");
    assert!(wait_for(5.0, || files.iter().all(|f| !f.exists())), "left on the host: {files:?}");
    host_app.kill();
}

#[test]
fn a_nested_display_leaves_nothing_when_the_run_ends() {
    if !have(&["Xvfb", "Xephyr", "xwininfo"]) {
        return;
    }
    let (cwd, home, rt, x) = (Dir::new(), Dir::new(), runtime_dir(), Xvfb::start());
    let script = "xwininfo -root >/dev/null && echo up; sleep 2";
    let mut run = on(&x, &cwd, &home, &rt, &["--x11", "nested", "--", "sh", "-c", script]).spawn();
    assert_eq!(run.lines().line(), "up");
    let xephyr = crate::common::children_named(run.id(), "Xephyr");
    assert_eq!(xephyr.len(), 1, "one Xephyr for the sandbox");
    let files = server_files(xephyr[0]);
    assert_eq!(files.len(), 1, "Xephyr's socket: {files:?}");
    let status = run.wait_up_to(std::time::Duration::from_secs(30)).expect("the run ends");
    assert!(status.success());
    // Killed and not waited for: gone within a bounded wait, its files at once.
    assert!(wait_for(10.0, || ended(xephyr[0])), "Xephyr outlived the run");
    assert!(files.iter().all(|f| !f.exists()), "left on the host: {files:?}");
}
