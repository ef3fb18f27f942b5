//! A real browser end to end: Chromium under `--profile browser`, headless
//! and in a window, with its own sandbox on (never --no-sandbox).

use std::process::Command;

use crate::common::{out, sbx, wait_for, Dir, Sbx};
use crate::services::{have, runtime_dir, Xvfb};

/// A page of one colour, in a directory the sandbox is given read-only.
fn page(dir: &Dir) -> String {
    let p = dir.file("page.html", "<html><body style=\"margin:0;background:#00c864\"></body></html>");
    format!("file://{}", p.display())
}

fn browser(cwd: &Dir, home: &Dir, rt: &Dir, pages: &Dir, shots: &Dir, extra: &[&str]) -> Sbx {
    let mut args = vec!["--profile", "browser", "--ro", pages.path().to_str().unwrap()];
    args.extend(["--rw", shots.path().to_str().unwrap()]);
    args.extend(extra);
    sbx(cwd.path(), home.path(), &args).env("XDG_RUNTIME_DIR", rt.path().to_str().unwrap())
}

fn pixel(png: &std::path::Path, x: u32, y: u32) -> String {
    let f = format!("%[pixel:p{{{x},{y}}}]");
    out(Command::new("convert").arg(png).args(["-format", &f, "info:"])).ok().trim().to_string()
}

const CHROMIUM: &[&str] = &["chromium", "--no-first-run", "--disable-gpu"];

#[test]
fn chromium_headless_screenshots_a_page_with_its_own_sandbox_on() {
    if !have(&["chromium", "convert"]) {
        return;
    }
    let (cwd, home, rt, pages, shots) = (Dir::new(), Dir::new(), runtime_dir(), Dir::new(), Dir::new());
    let url = page(&pages);
    let shot = shots.path().join("shot.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    let mut args = vec!["--"];
    args.extend(CHROMIUM);
    args.extend(["--headless", &shot_arg, "--window-size=200,200", &url]);
    let o = browser(&cwd, &home, &rt, &pages, &shots, &args).output();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(pixel(&shot, 100, 100), "srgb(0,200,100)");
    // Chromium's own sandbox: its renderers run in a user namespace of
    // their own, under a seccomp filter more than the browser's.
    let probe = "chromium --no-first-run --disable-gpu --headless --remote-debugging-port=0 about:blank \
                 >/dev/null 2>&1 & \
                 for i in $(seq 100); do r=$(pgrep -f '^/usr/lib/chromium/chromium --type=renderer' | head -1); [ -n \"$r\" ] && break; sleep 0.2; done; \
                 [ \"$(readlink /proc/$r/ns/user)\" != \"$(readlink /proc/$$/ns/user)\" ] && echo own-userns; \
                 f() { grep Seccomp_filters /proc/$1/status | cut -f2; }; [ \"$(f $r)\" -gt \"$(f $$)\" ] && echo more-filters; \
                 kill %1 2>/dev/null; true";
    let o = browser(&cwd, &home, &rt, &pages, &shots, &["--", "sh", "-c", probe]).output();
    assert_eq!(o.ok(), "own-userns\nmore-filters\n");
    // The contrast: without nested user namespaces Chromium refuses to start
    // (it never runs without its sandbox unless told --no-sandbox).
    let o = sbx(
        cwd.path(),
        home.path(),
        ["--ro", pages.path().to_str().unwrap(), "--", "chromium", "--headless", &url],
    )
    .output();
    assert!(o.stderr().contains("No usable sandbox"), "{}", o.stderr());
}

#[test]
fn chromium_in_a_window_on_the_display() {
    if !have(&["chromium", "Xvfb", "import", "convert"]) {
        return;
    }
    let (cwd, home, rt, pages, shots, x) =
        (Dir::new(), Dir::new(), runtime_dir(), Dir::new(), Dir::new(), Xvfb::start());
    let url = page(&pages);
    let app = format!("--app={url}");
    let mut args = vec!["--"];
    args.extend(CHROMIUM);
    args.extend(["--window-position=0,0", "--window-size=400,300", &app]);
    let mut run = browser(&cwd, &home, &rt, &pages, &shots, &args)
        .env("DISPLAY", &x.name())
        .env("XAUTHORITY", x.auth.to_str().unwrap())
        .spawn();
    assert!(
        wait_for(45.0, || x.pixel(200, 150) == "srgb(0,200,100)"),
        "the page's colour is not on the display"
    );
    run.kill();
}
