#!/usr/bin/env python3
"""bwrap_args.py PLAN.json [--share-net] [--files DIR]: bwrap's arguments for
the sandbox a Plan describes.

Reads what `sandbox explain --json -- COMMAND` prints and writes, NUL-
separated, the bwrap arguments that build the same sandbox: the same
namespaces, the file-system operations in the Plan's order (read-only and
read-write binds, symlinks, hidden paths, tmpfs with their modes, /dev,
/proc), hostname, die-with-parent, new session, working directory and a
cleared environment with the Plan's variables, then `--` and the command.
What bwrap cannot do (landlock, seccomp, limits) is left out: it is the
part of sandbox's figure bwrap does not pay for. A file the Plan writes
(resolv.conf with --net user) is written into DIR and bound read-only.
--share-net keeps the network namespace of the caller (pasta's, when pasta
runs bwrap). An operation with no bwrap equivalent is an error naming it.
bench/lib/floor.c reads the same arguments.
"""
import json
import os
import sys


def namespaces(plan, share_net):
    ns = dict(plan.get("namespaces", {}))
    if share_net:
        ns["net"] = False
    kinds = ["user", "pid", "ipc", "uts", "net", "cgroup"]
    if all(ns.get(k) for k in kinds):
        return ["--unshare-all"]
    return [f"--unshare-{k}" for k in kinds if ns.get(k)]


def hide(dest):
    if os.path.isdir(dest) and not os.path.islink(dest):
        return ["--perms", "0755", "--tmpfs", dest, "--remount-ro", dest]
    if os.path.lexists(dest):
        return ["--ro-bind", "/dev/null", dest]
    return []


def fs_op(op, files):
    kind, dest = op["op"], op.get("dest")
    if kind == "bind":
        flag = {"read-only": "--ro-bind", "read-write": "--bind", "dev": "--dev-bind"}[op.get("access", "read-only")]
        return [flag, op["src"], dest]
    if kind == "symlink":
        return ["--symlink", op["target"], dest]
    if kind == "hide":
        return hide(dest)
    if kind == "tmpfs":
        return ["--perms", format(op.get("mode", 0o755), "04o"), "--tmpfs", dest]
    if kind == "dev":
        return ["--dev", dest]
    if kind == "proc":
        return ["--proc", dest]
    if kind == "mkdir":
        return ["--dir", dest]
    if kind == "file" and files:
        path = os.path.join(files, dest.strip("/").replace("/", "_"))
        with open(path, "w") as f:
            f.write(op["content"])
        os.chmod(path, op.get("mode", 0o644))
        return ["--ro-bind", path, dest]
    sys.exit(f"bwrap_args: the Plan's `{kind}` operation has no bwrap equivalent here")


def main():
    argv = sys.argv[1:]
    share_net = "--share-net" in argv
    files = argv[argv.index("--files") + 1] if "--files" in argv else None
    plan = json.load(open(argv[0]))
    args = namespaces(plan, share_net)
    proc = plan.get("process", {})
    if proc.get("hostname"):
        args += ["--hostname", proc["hostname"]]
    if proc.get("die_with_parent"):
        args.append("--die-with-parent")
    if proc.get("new_session"):
        args.append("--new-session")
    for op in plan.get("fs", []):
        args += fs_op(op, files)
    if proc.get("cwd"):
        args += ["--chdir", proc["cwd"]]
    args.append("--clearenv")
    for var in plan.get("env", []):
        args += ["--setenv", var["name"], var["value"]]
    args += ["--"] + plan["command"]
    sys.stdout.write("".join(a + "\0" for a in args))


main()
