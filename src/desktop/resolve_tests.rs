use super::*;
use crate::desktop::dbus::BusMode;

fn session(env: &[(&str, &str)], sockets: &[&str]) -> Session {
    Session {
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        home: PathBuf::from("/home/u"),
        paths: sockets.iter().map(|p| (PathBuf::from(p), Kind::Socket)).collect(),
        ..Session::default()
    }
}

fn full() -> Session {
    let mut s = session(
        &[
            ("DISPLAY", ":3"),
            ("WAYLAND_DISPLAY", "wayland-1"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
        ],
        &[
            "/tmp/.X11-unix/X3",
            "/run/user/1000/wayland-1",
            "/run/user/1000/pulse/native",
            "/run/user/1000/bus",
        ],
    );
    s.gpu_nodes = vec![PathBuf::from("/dev/dri/renderD128")];
    s
}

fn env(r: &Resolved, k: &str) -> Option<String> {
    r.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[test]
fn nothing_asked_nothing_given() {
    assert_eq!(resolve(&Asked::default(), &full(), 1000).unwrap(), Resolved::default());
}

#[test]
fn the_host_display_is_its_socket_and_a_cookie_of_its_own() {
    let asked = Asked { x11: X11Mode::Host, ..Asked::default() };
    let r = resolve(&asked, &full(), 1000).unwrap();
    let rt = PathBuf::from("/run/user/1000");
    assert_eq!(
        r.ops,
        [
            FsOp::Tmpfs { dest: rt.clone(), mode: 0o700, size: None },
            bind(Path::new("/tmp/.X11-unix/X3"), Path::new("/tmp/.X11-unix/X3"), Access::ReadOnly, false),
        ]
    );
    assert_eq!(r.desktop.helpers, [Helper { what: HelperFile::Xauthority, dest: rt.join("Xauthority") }]);
    assert_eq!(env(&r, "DISPLAY").as_deref(), Some(":3"));
    assert_eq!(env(&r, "XAUTHORITY").as_deref(), Some("/run/user/1000/Xauthority"));
    assert_eq!(env(&r, "XDG_RUNTIME_DIR").as_deref(), Some("/run/user/1000"));
    assert_eq!(
        r.desktop.x11,
        Some(X11::Host { number: 3, xauthority: PathBuf::from("/home/u/.Xauthority") })
    );
    assert_eq!(r.desktop.notes, [X11_HOST_NOTE]);
}

#[test]
fn a_nested_display_is_display_zero_inside() {
    let asked = Asked { x11: X11Mode::Nested, ..Asked::default() };
    let mut s = full();
    s.env.push(("XAUTHORITY".into(), "/run/user/1000/xauth_x".into()));
    let r = resolve(&asked, &s, 1000).unwrap();
    assert_eq!(r.ops.len(), 1, "only the runtime directory: the socket comes from the monitor");
    assert!(r
        .desktop
        .helpers
        .contains(&Helper { what: HelperFile::NestedDisplay, dest: PathBuf::from("/tmp/.X11-unix/X0") }));
    assert_eq!(env(&r, "DISPLAY").as_deref(), Some(":0"));
    let want = X11::Nested { display: ":3".into(), xauthority: "/run/user/1000/xauth_x".into() };
    assert_eq!(r.desktop.x11, Some(want));
    assert!(r.desktop.notes.is_empty());
}

#[test]
fn yes_refuses_what_is_missing_and_auto_leaves_it_out() {
    let empty = session(&[("XDG_RUNTIME_DIR", "/r")], &[]);
    for (asked, needle) in [
        (Asked { x11: X11Mode::Host, ..Asked::default() }, "--x11 host: DISPLAY is not set"),
        (Asked { x11: X11Mode::Nested, ..Asked::default() }, "--x11 nested shows on the session's display"),
        (Asked { wayland: Want::Yes, ..Asked::default() }, "--wayland: no Wayland compositor named"),
        (
            Asked { audio: Want::Yes, ..Asked::default() },
            "--audio: no PulseAudio (or PipeWire pulse) socket at /r/pulse/native",
        ),
        (Asked { gpu: Want::Yes, ..Asked::default() }, "--gpu: no /dev/dri/renderD*"),
    ] {
        let e = resolve(&asked, &empty, 1).unwrap_err();
        assert!(e.starts_with(needle), "{e}");
    }
    let auto = Asked {
        x11: X11Mode::Auto,
        wayland: Want::Auto,
        audio: Want::Auto,
        gpu: Want::Auto,
        ..Asked::default()
    };
    let r = resolve(&auto, &empty, 1).unwrap();
    assert!(r.ops.is_empty() && r.env.is_empty(), "{r:?}");
    assert_eq!(r.desktop.notes.len(), 4, "{:?}", r.desktop.notes);
    let s = session(&[("DISPLAY", ":9")], &[]);
    let e = resolve(&Asked { x11: X11Mode::Host, ..Asked::default() }, &s, 1).unwrap_err();
    assert_eq!(e, "--x11 host: DISPLAY=:9 but there is no socket /tmp/.X11-unix/X9");
}

#[test]
fn wayland_sound_and_gpu_bind_only_their_own_nodes() {
    let asked = Asked { wayland: Want::Yes, audio: Want::Auto, gpu: Want::Auto, ..Asked::default() };
    let r = resolve(&asked, &full(), 1000).unwrap();
    let rt = Path::new("/run/user/1000");
    assert_eq!(r.ops[0], FsOp::Tmpfs { dest: rt.to_path_buf(), mode: 0o700, size: None });
    assert_eq!(r.ops[1], bind(&rt.join("wayland-1"), &rt.join("wayland-1"), Access::ReadOnly, false));
    assert_eq!(r.ops[2], bind(&rt.join("pulse/native"), &rt.join("pulse/native"), Access::ReadOnly, false));
    let cookie = Path::new("/home/u/.config/pulse/cookie");
    assert_eq!(r.ops[3], bind(cookie, cookie, Access::ReadOnly, true));
    let node = Path::new("/dev/dri/renderD128");
    assert_eq!(r.ops[4], bind(node, node, Access::Device, false));
    assert!(r.ops[5..]
        .iter()
        .all(|op| matches!(op, FsOp::Bind { optional: true, access: Access::ReadOnly, .. })));
    assert_eq!(env(&r, "WAYLAND_DISPLAY").as_deref(), Some("wayland-1"));
    assert!(r.desktop.is_empty());
}

#[test]
fn the_bus_goes_through_the_proxy() {
    let policy = BusPolicy {
        mode: BusMode::Filtered,
        talk: vec!["org.example.Allowed".into()],
        system_talk: vec!["org.freedesktop.NetworkManager".into()],
        ..BusPolicy::default()
    };
    let r = resolve(&Asked { bus: policy.clone(), ..Asked::default() }, &full(), 1000).unwrap();
    assert_eq!(
        r.desktop.helpers,
        [
            Helper { what: HelperFile::SessionBus, dest: PathBuf::from("/run/user/1000/bus") },
            Helper { what: HelperFile::SystemBus, dest: PathBuf::from(SYSTEM_BUS_INSIDE) },
        ]
    );
    assert_eq!(env(&r, "DBUS_SESSION_BUS_ADDRESS").as_deref(), Some("unix:path=/run/user/1000/bus"));
    assert_eq!(env(&r, "DBUS_SYSTEM_BUS_ADDRESS").as_deref(), Some("unix:path=/run/dbus/system_bus_socket"));
    let bus = r.desktop.bus.unwrap();
    assert_eq!(bus.session, "unix:path=/run/user/1000/bus");
    assert_eq!(bus.system.as_deref(), Some("unix:path=/run/dbus/system_bus_socket"));
    assert_eq!(bus.socket_dir, PathBuf::from("/run/user/1000"));
    let bad = BusPolicy { mode: BusMode::Filtered, talk: vec!["nodots".into()], ..BusPolicy::default() };
    let e = resolve(&Asked { bus: bad, ..Asked::default() }, &full(), 1).unwrap_err();
    assert!(e.starts_with("--dbus: \"nodots\" is not a bus name"), "{e}");
    let no_rt = session(&[("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=x")], &[]);
    let e = resolve(&Asked { bus: policy, ..Asked::default() }, &no_rt, 1).unwrap_err();
    assert!(e.contains("XDG_RUNTIME_DIR is not set"), "{e}");
    let open = BusPolicy { mode: BusMode::Open, ..BusPolicy::default() };
    let r = resolve(&Asked { bus: open, ..Asked::default() }, &full(), 1).unwrap();
    assert!(r.desktop.notes[0].starts_with("D-Bus open"));
}
