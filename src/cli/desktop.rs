//! Desktop options of the native command line: the display, sound, the
//! GPU and the session bus (see `crate::desktop`). Bus names are checked
//! here, so a typo is a usage error naming the flag.

use clap::ArgAction;

use super::ordered::Ordered;
use super::UsageError;
use crate::desktop::resolve::{self, Ask, BusMode, NameAsk, Want, X11Mode};
use crate::escape;
use crate::settings::Setting;

#[derive(clap::Args, Debug, Default)]
pub struct DesktopArgs {
    /// X11: `host` binds the session's display socket and gives the command an Xauthority
    /// holding only that display's cookie (any X11 client can read and type into every other
    /// window of the display); `nested` runs the command on a display of its own (Xephyr, in
    /// one window on yours), so it sees and types into nothing else; `none` (the default) keeps
    /// X11 out; `auto` is `host` when the session has a display.
    #[arg(long, value_name = "host|nested|none|auto", value_parser = X11Mode::parse)]
    pub x11: Option<X11Mode>,

    /// The session's Wayland compositor: only its socket, in a runtime directory of the
    /// sandbox's own. `--wayland=auto`: only where the session has one (`yes` refuses to run
    /// without it).
    #[arg(long, value_name = "yes|no|auto", num_args = 0..=1, require_equals = true,
          default_missing_value = "yes", value_parser = Want::parse)]
    pub wayland: Option<Want>,

    /// Sound: the PulseAudio (or PipeWire pulse) socket and its cookie, read-only.
    #[arg(long, value_name = "yes|no|auto", num_args = 0..=1, require_equals = true,
          default_missing_value = "yes", value_parser = Want::parse)]
    pub audio: Option<Want>,

    /// The GPU: /dev/dri/renderD* and the NVIDIA nodes as devices, their sysfs entries
    /// read-only.
    #[arg(long, value_name = "yes|no|auto", num_args = 0..=1, require_equals = true,
          default_missing_value = "yes", value_parser = Want::parse)]
    pub gpu: Option<Want>,

    /// The session bus: `none` (the default) keeps it out; `filtered` goes through
    /// xdg-dbus-proxy, which hides every name the --dbus-* options do not allow; `open` is
    /// the whole bus (through the proxy), which can act outside the sandbox for the command.
    #[arg(long, value_name = "none|filtered|open", value_parser = BusMode::parse)]
    pub dbus: Option<BusMode>,

    /// Let the command see NAME on the session bus (listed, its owner looked up); `org.foo.*`
    /// covers the names beneath. Implies --dbus filtered unless a mode is given.
    #[arg(long, value_name = "NAME", action = ArgAction::Append)]
    pub dbus_see: Vec<String>,

    /// Let the command call NAME and receive its signals (and see it). Implies --dbus filtered.
    #[arg(long, value_name = "NAME", action = ArgAction::Append)]
    pub dbus_talk: Vec<String>,

    /// Let the command own NAME (and talk to it). Implies --dbus filtered.
    #[arg(long, value_name = "NAME", action = ArgAction::Append)]
    pub dbus_own: Vec<String>,

    /// Let the command make only the calls RULE allows on NAME: `[METHOD][@PATH]`, METHOD `*`,
    /// an interface (`.*` allowed) or a method, PATH an object path (`/*` allowed), as
    /// xdg-dbus-proxy takes it. Implies --dbus filtered.
    #[arg(long, value_name = "NAME=RULE", action = ArgAction::Append)]
    pub dbus_call: Vec<String>,

    /// A filtered system bus at /run/dbus/system_bus_socket on which the command can call
    /// only NAME (repeatable).
    #[arg(long, value_name = "NAME", action = ArgAction::Append)]
    pub dbus_system_talk: Vec<String>,

    /// Keep the command's own settings between runs: DIR/NAME/config (NAME: the command's
    /// file name; created 0700 when missing, never through a symlink) is read-write at
    /// $XDG_CONFIG_HOME (~/.config) inside.
    #[arg(long, value_name = "DIR", value_parser = clap::value_parser!(std::path::PathBuf))]
    pub app_state: Option<std::path::PathBuf>,
}

impl DesktopArgs {
    /// The desktop settings, in the order written.
    pub(super) fn settings(&self, o: &mut Ordered, cwd: &std::path::Path) -> Result<(), UsageError> {
        let state = self.app_state.as_ref().map(|d| Ask::AppState(crate::values::normalize(&cwd.join(d))));
        o.one("app_state", state.map(Setting::Desktop));
        let one = |a: Option<Ask>| a.map(Setting::Desktop);
        o.one("x11", one(self.x11.map(Ask::X11)));
        o.one("wayland", one(self.wayland.map(Ask::Wayland)));
        o.one("audio", one(self.audio.map(Ask::Audio)));
        o.one("gpu", one(self.gpu.map(Ask::Gpu)));
        o.one("dbus", one(self.dbus.map(Ask::Bus)));
        let names: [(&str, &Vec<String>, NameAsk); 5] = [
            ("dbus_see", &self.dbus_see, resolve::SEE),
            ("dbus_talk", &self.dbus_talk, resolve::TALK),
            ("dbus_own", &self.dbus_own, resolve::OWN),
            ("dbus_call", &self.dbus_call, resolve::CALL),
            ("dbus_system_talk", &self.dbus_system_talk, resolve::SYSTEM_TALK),
        ];
        for (id, values, (ask, check)) in names {
            o.each(id, values, |v| {
                check(v).map_err(|e| format!("{}: {e}", escape::str(v)))?;
                Ok(Setting::Desktop(ask(v.clone())))
            })?;
        }
        Ok(())
    }
}
