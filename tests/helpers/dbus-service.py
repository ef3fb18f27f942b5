#!/usr/bin/python3
# A test service on the session bus (tests/desktop): owns the name given as
# the only argument and answers org.example.Test.Ping on /org/example/Test
# with "pong from NAME". Prints "ready" once the name is owned.
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
NAME = sys.argv[1]
BUS = dbus.SessionBus()


class Service(dbus.service.Object):
    @dbus.service.method("org.example.Test", out_signature="s")
    def Ping(self):
        return "pong from " + NAME


Service(BUS, "/org/example/Test")
OWNED = dbus.service.BusName(NAME, BUS, do_not_queue=True)
print("ready", flush=True)
GLib.MainLoop().run()
