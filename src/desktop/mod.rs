//! Desktop applications: what `sandbox` needs to know about a graphical
//! session, apart from running the command.
//!
//! Everything here is pure logic over text, paths and the environment, or
//! reads (and, for launchers, writes) files of the user's own; no process is
//! started and no namespace touched:
//!
//! - [`entry`]: the Desktop Entry format (`.desktop` files): parsing, the
//!   `Exec` quoting and field-code rules, and the rewrite that runs every
//!   `Exec` line through `sandbox --profile P --`.
//! - [`launcher`]: `sandbox desktop install|list|remove`, writing only
//!   beneath the user's applications directory, never through a symlink.
//! - [`dbus`]: the session-bus policy (`--dbus`, `--dbus-talk`, …) and the
//!   command line of xdg-dbus-proxy that enforces it.
//! - [`x11`]: `DISPLAY`, the X11 socket, Xauthority files and the nested X
//!   server's (Xephyr's) command line.
//! - [`detect`]: what this session offers (display, Wayland, audio, bus,
//!   GPU nodes) and which helper programs are installed, for `sandbox check`.

pub mod dbus;
pub mod detect;
pub mod entry;
pub mod launcher;
pub mod resolve;
pub mod x11;
