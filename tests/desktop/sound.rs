//! Sound and Wayland: the PulseAudio server and the compositor the test
//! starts are reachable under their profiles, and not without them.

use crate::common::{sbx, Dir, Sbx};
use crate::services::{have, runtime_dir, Pulse, Weston};

fn run(cwd: &Dir, home: &Dir, rt: &Dir, args: &[&str]) -> Sbx {
    sbx(cwd.path(), home.path(), args).env("XDG_RUNTIME_DIR", rt.path().to_str().unwrap())
}

#[test]
fn pactl_and_paplay_work_under_the_audio_profile_only() {
    if !have(&["pulseaudio", "pactl", "paplay"]) {
        return;
    }
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    let _pulse = Pulse::start(&rt, &home);
    let script = "pactl info | grep -c '^Default Sink: null$'; \
                  head -c 8000 /dev/zero > /tmp/s.raw && paplay --raw --rate=8000 --channels=1 --format=u8 /tmp/s.raw && echo played";
    let o = run(&cwd, &home, &rt, &["--profile", "audio", "--", "sh", "-c", script]).output();
    assert_eq!(o.ok(), "1\nplayed\n");
    let o = run(&cwd, &home, &rt, &["--", "sh", "-c", &format!("{script} || echo refused")]).output();
    assert_eq!(o.ok(), "0\nrefused\n", "sound without --audio");
}

#[test]
fn a_wayland_client_lists_the_globals_under_the_wayland_profile_only() {
    if !have(&["weston", "wayland-info"]) {
        return;
    }
    let (cwd, home, rt) = (Dir::new(), Dir::new(), runtime_dir());
    let w = Weston::start(&rt, &home);
    let script = "wayland-info | grep -c \"interface: 'wl_compositor'\"; ls \"$XDG_RUNTIME_DIR\"";
    let o = run(&cwd, &home, &rt, &["--profile", "wayland", "--", "sh", "-c", script])
        .env("WAYLAND_DISPLAY", w.name)
        .output();
    // Only the compositor's socket is in the sandbox's runtime directory.
    assert_eq!(o.ok(), format!("1\n{}\n", w.name));
    let o = run(&cwd, &home, &rt, &["--", "sh", "-c", "wayland-info >/dev/null 2>&1 || echo refused"])
        .env("WAYLAND_DISPLAY", w.name)
        .output();
    assert_eq!(o.ok(), "refused\n");
}
