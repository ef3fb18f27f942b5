#!/usr/bin/env python3
"""pss.py TOKEN EXE...: the memory of a launcher's own processes.

Waits (up to 10 s) for the process whose command line is `sleep TOKEN`,
then walks up from it through its parents as long as a parent runs one of
EXE (by /proc/PID/exe's name: the launcher's monitor and init), and prints
one line per such process and a total: PSS, RSS and private memory in
KiB, from /proc/PID/smaps_rollup. The sleep itself is not counted.
"""
import os
import sys
import time


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
    except OSError:
        return []


def parent(pid):
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).removesuffix(" (deleted)")
    except OSError:
        return ""


def rollup(pid):
    out = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0].rstrip(":")] = int(parts[1])
    return out


def main():
    token, exes = sys.argv[1], set(sys.argv[2:])
    want = [b"sleep", token.encode()]
    deadline = time.time() + 10
    sleeper = None
    while sleeper is None and time.time() < deadline:
        sleeper = next((int(p) for p in os.listdir("/proc") if p.isdigit() and cmdline(p) == want), None)
        time.sleep(0.02)
    if sleeper is None:
        sys.exit(f"pss.py: no `sleep {token}` appeared")
    time.sleep(0.5)  # let the launcher settle into its wait (it trims its memory after 100 ms)
    total = {"Pss": 0, "Rss": 0, "Private": 0}
    pid = parent(sleeper)
    while pid > 1 and exe_name(pid) in exes:
        r = rollup(pid)
        private = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        print(f"pid {pid} {exe_name(pid)}: PSS {r['Pss']} KiB, RSS {r['Rss']} KiB, private {private} KiB")
        for k, v in (("Pss", r["Pss"]), ("Rss", r["Rss"]), ("Private", private)):
            total[k] += v
        pid = parent(pid)
    print(f"TOTAL {total['Pss']} {total['Rss']} {total['Private']}")


main()
