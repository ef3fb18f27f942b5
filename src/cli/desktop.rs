//! Desktop options of the native command line: the display, sound, the
//! GPU and the session bus (see `crate::desktop`). Bus names are checked
//! here, so a typo is a usage error naming the flag.

use clap::ArgAction;

use super::ordered::Ordered;
use super::UsageError;
use crate::desktop::resolve::{self, Ask, BusMode, NameAsk, Want, X11Mode};
use crate::settings::Setting;
use crate::{escape, values};

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
    /// A leading `~` of `--app-state` is $HOME, where the shell did not
    /// expand it (`--app-state=~/apps`).
    pub(super) fn settings(&self, o: &mut Ordered, host: &crate::host::Host) -> Result<(), UsageError> {
        if let Some(d) = &self.app_state {
            let d = values::tilde(d.as_os_str(), &host.home)
                .map_err(|e| UsageError(format!("--app-state {e}")))?;
            let dir = values::normalize(&host.cwd.join(d));
            o.one("app_state", Some(Setting::Desktop(Ask::AppState(dir))));
        }
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use crate::desktop::detect::Session;
    use crate::host::Host;
    use crate::native::{parse, Command};
    use crate::plan::desktop::{BusMode, HelperFile, X11};
    use crate::plan::Plan;

    fn run(args: &[&str]) -> Result<Plan, String> {
        let mut h = Host::fake("/work/proj");
        h.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()));
        h.session = Session::fake().into();
        let mut argv = vec![OsString::from("sandbox")];
        argv.extend(args.iter().map(OsString::from));
        argv.extend(["--", "xeyes"].map(OsString::from));
        match parse(argv, &h) {
            Ok(Command::Run { built, .. }) => Ok(built.plan),
            Ok(other) => panic!("{args:?}: {other:?}"),
            Err(e) => Err(e.0),
        }
    }

    fn env(p: &Plan, name: &str) -> Option<String> {
        p.env.iter().find(|v| v.name == name).map(|v| v.value.to_string_lossy().into_owned())
    }

    #[test]
    fn each_option_asks_for_its_part() {
        assert!(run(&[]).unwrap().desktop.is_empty());
        let p = run(&["--x11", "nested", "--wayland", "--dbus-talk", "org.example.A"]).unwrap();
        assert_eq!(
            p.desktop.x11,
            Some(X11::Nested { display: ":0".into(), xauthority: "/home/u/.Xauthority".into() })
        );
        let bus = p.desktop.bus.as_ref().unwrap();
        assert_eq!(
            (bus.policy.mode, bus.policy.talk.as_slice()),
            (BusMode::Filtered, &["org.example.A".to_string()][..])
        );
        let what: Vec<HelperFile> = p.desktop.helpers.iter().map(|h| h.what).collect();
        assert_eq!(what, [HelperFile::NestedDisplay, HelperFile::Xauthority, HelperFile::SessionBus]);
        assert_eq!(env(&p, "WAYLAND_DISPLAY").as_deref(), Some("wayland-0"));
        assert_eq!(env(&p, "DISPLAY").as_deref(), Some(":0"));
    }

    #[test]
    fn the_session_is_read_only_when_a_desktop_option_asks() {
        let parsed = |h: &Host, args: &[&str]| {
            let argv = ["sandbox"].iter().chain(args).chain(&["--", "true"]).map(OsString::from);
            assert!(matches!(parse(argv.collect(), h), Ok(Command::Run { .. })), "{args:?}");
        };
        let h = Host { session: std::cell::OnceCell::new(), ..Host::fake("/work/proj") };
        parsed(&h, &[]);
        assert!(h.session.get().is_none(), "a run without desktop options read the session");
        parsed(&h, &["--x11", "none"]);
        assert!(h.session.get().is_some());
    }

    #[test]
    fn the_command_line_overrides_the_profile() {
        let p = run(&["--profile", "desktop", "--x11", "none", "--wayland=no", "--dbus", "none"]).unwrap();
        assert_eq!((p.desktop.x11.as_ref(), p.desktop.bus.as_ref()), (None, None));
        assert_eq!(env(&p, "WAYLAND_DISPLAY"), None);
        assert!(p.desktop.app_state.is_some(), "the profile's other keys stay");
        let p = run(&["--profile", "desktop"]).unwrap();
        assert_eq!(p.desktop.bus.unwrap().policy.talk, ["org.freedesktop.portal.*"]);
    }

    #[test]
    fn mistakes_name_the_flag() {
        assert_eq!(run(&["--dbus-talk", "nodots"]).unwrap_err(), "--dbus-talk nodots: \"nodots\" is not a bus name: it needs at least two elements, as in org.example");
        assert!(run(&["--dbus-call", "org.a.B"]).unwrap_err().starts_with("--dbus-call org.a.B: "));
        assert!(run(&["--x11", "maybe"]).unwrap_err().contains("host, nested, none, auto"));
        assert!(run(&["--wayland=sometimes"]).unwrap_err().contains("yes, no, auto"));
    }
}
