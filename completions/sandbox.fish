# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sandbox_global_optspecs
    string join \n profile= ro= rw= ro-try= rw-try= dev-bind= dev= proc= overlay= persist= ro-overlay= tmpfs= hide= hide-try= state= no-toolchains caches= mkdir= symlink= merged-usr bind-cwd= net= publish= allow-host-loopback allow-host= allow-addr= report-fd= report-file= share= env= keep-env= clear-env cwd= hostname= uid= gid= cap-add= keep-fd= no-die-with-parent no-new-session best-effort timeout= kill-after= limit= memory= pids= cpus= io-weight= status-fd= pid-file= v/verbose no-landlock allow-read= allow-write= allow-exec= allow-connect= allow-bind= allow-signals allow-abstract-unix log-denials mode= seccomp= seccomp-deny= seccomp-allow= seccomp-policy= seccomp-oci= seccomp-log allow-userns add-seccomp-fd= h/help V/version
end

function __fish_sandbox_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sandbox_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sandbox_using_subcommand
    set -l cmd (__fish_sandbox_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sandbox -n "__fish_sandbox_needs_command" -l profile -d 'Start from profile NAME (looked up in ~/.config/sandbox/profiles, /etc/sandbox/profiles, then the built-ins: default, none, strict, ci, build, agent, net-service) or from the file PATH (anything with a `/`). See `sandbox profiles list` and sandbox-profile(5)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l ro -d 'Bind SRC read-only at DEST (DEST defaults to SRC; write a literal `:` as `\\:`). Read-only, nosuid and nodev apply to every mount beneath SRC too' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l rw -d 'Bind SRC read-write at DEST (DEST defaults to SRC). Writes land on the host' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l ro-try -d 'Like --ro, but skipped when SRC does not exist' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l rw-try -d 'Like --rw, but skipped when SRC does not exist' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l dev-bind -d 'Bind SRC read-write at DEST with device nodes usable (bwrap --dev-bind)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l dev -d 'Mount a minimal /dev at PATH: null zero full random urandom tty, a private devpts, shm, and the stdin/stdout/stderr/fd links (bwrap --dev)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l proc -d 'Mount a fresh /proc for the sandbox\'s pid namespace at PATH, with /proc/sys and friends read-only (bwrap --proc)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l overlay -d 'Overlay the host directory PATH at DEST: the sandbox may change it, the writes go to a tmpfs and vanish at exit, the host\'s PATH never changes' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l persist -d 'Like --overlay, but the writes persist in STATEDIR (created if absent, mode 0700; its upper/ and work/ hold them, its lock file is 0600), so the next run sees them; PATH on the host never changes. A state directory in use by another running sandbox is refused, and so is one that is, or holds an upper, work or lock that is, a symlink or not yours' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l ro-overlay -d 'Stack several host directories read-only at DEST, the first on top' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l tmpfs -d 'Mount a fresh, empty tmpfs at PATH (mode 0755, nosuid, nodev)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l hide -d 'Hide PATH: cover a directory with an empty read-only one, a file with an empty read-only file. A PATH the host does not have is an error (a typo would protect nothing); see --hide-try' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l hide-try -d 'Like --hide, but nothing is said when PATH does not exist' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l state -d 'Bind the host directory DIR read-write at DEST (default: the same path), creating DIR and its missing parents (mode 0700) when it does not exist; a note says where the first time. For a service\'s state that outlives the sandbox' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l caches -d 'Package caches of your home: `none` (the default profile\'s), `ro` (those that exist, read-only: ci), `overlay` (writable, the writes vanish at exit and the host\'s caches never change: agent), or `rw` (read-write, a missing one created 0700 when its tool is on your PATH: build). For cargo, npm, yarn, pnpm, pip, uv, go, maven and gradle' -r -f -a "none\t'Not shared (the empty `$HOME` has none)'
ro\t'Those that exist, read-only'
overlay\t'Those that exist, writable through an overlay: writes vanish at exit and the host\'s caches never change'
rw\t'Read-write; a missing one is created (0700) when its tool is on PATH'"
complete -c sandbox -n "__fish_sandbox_needs_command" -l mkdir -d 'Create the directory PATH (and missing parents) inside the sandbox' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l symlink -d 'Create a symbolic link at PATH pointing at TARGET' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l bind-cwd -d 'Share the current directory: `rw`, `ro`, or `none`. Never $HOME, /tmp, /var/tmp, /dev/shm, /run, $XDG_RUNTIME_DIR, /run/user/*, or a directory above one of them, compared with symlinks resolved (then nothing is shared and a note says how to share it on purpose); a subdirectory such as /tmp/build is shared' -r -f -a "rw\t'Share it read-write (never $HOME, /tmp, /run and the like, or a directory above them)'
ro\t'Share it read-only'
none\t'Do not share it; the command starts in $HOME (or `/`)'"
complete -c sandbox -n "__fish_sandbox_needs_command" -l net -d 'Network: `none` (own namespace, loopback only; the default), `host` (the host\'s network), or `user` (own namespace with a user-mode stack: a default route, DNS, and the ports given with --publish; pasta, or slirp4netns when pasta is missing; choose with `user:pasta` or `user:slirp4netns`)' -r -f -a "none\t'Own network namespace with only the loopback interface up'
host\t'Share the host\'s network namespace'
user\t'Own network namespace with user-mode networking: pasta, or slirp4netns when pasta is missing'
user:pasta\t'User-mode networking with pasta'
user:slirp4netns\t'User-mode networking with slirp4netns'"
complete -c sandbox -n "__fish_sandbox_needs_command" -l publish -d 'With --net user: HOST_PORT on the host reaches PORT inside the sandbox (repeatable). The host address is 127.0.0.1 unless HOST_IP is written (an IPv6 one in brackets, e.g. [::1]:8080:80); the protocol is tcp unless /udp is written' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-host -d 'With --net user: the sandbox may resolve and reach the host names PATTERN matches, and nothing else (repeatable). PATTERN is a name (`pypi.org`) or `*.` and a name (`*.pythonhosted.org`: every name beneath it, not the name itself); `:PORT` narrows it to that TCP and UDP port. The sandbox\'s resolver becomes a filter that answers other names with REFUSED; each address an allowed answer gives stays reachable for its TTL (at least 60 s); every other packet is refused at once (TCP reset, ICMP administratively prohibited), IPv4 and IPv6, for any program and protocol' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-addr -d 'With --net user: the sandbox may reach these addresses by number (repeatable): `192.0.2.0/24`, `192.0.2.7:443`, `2001:db8::/32`, `[2001:db8::1]:22`; `:PORT` narrows it to that TCP and UDP port. Like --allow-host, it refuses everything else' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l report-fd -d 'With --allow-host or --allow-addr: write JSON lines to FD for every refused name and connection (time, name or address, port, protocol, the rule that refused it), and when the command starts and ends. After the first 10 refusals of one name or address and port, the others are counted instead (a `refusals-suppressed` line)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l report-file -d 'Like --report-fd, to the file PATH (emptied first). PATH is opened once, before anything starts, never through a symlink: it must be a regular file of yours with no other hard link, or absent (then it is created 0600)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l share -d 'Share a namespace with the host instead of getting a new one (repeatable)' -r -f -a "ipc\t''
pid\t''
uts\t''
net\t''
cgroup\t''"
complete -c sandbox -n "__fish_sandbox_needs_command" -l env -d 'Set NAME=VALUE in the command\'s environment' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l keep-env -d 'Pass NAME from the caller\'s environment (a trailing `*` matches a prefix, e.g. `LC_*`)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l cwd -d 'Working directory inside the sandbox (absolute)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l hostname -d 'Host name inside the sandbox (default: `sandbox`)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l uid -d 'User id inside the sandbox (mapped to your own uid outside)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l gid -d 'Group id inside the sandbox (mapped to your own gid outside)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l cap-add -d 'Keep capability CAP (e.g. CAP_NET_ADMIN) for the command; needs --uid 0' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l keep-fd -d 'Pass the caller\'s file descriptor N to the command (0, 1, 2 are always passed)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l timeout -d 'Stop the command after DURATION (30s, 5m, 1.5h, 250ms; a bare number is seconds): SIGTERM to the command, then SIGKILL to the whole sandbox after --kill-after. sandbox then exits with status 124, however the command ended' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l kill-after -d 'Grace period between the SIGTERM of --timeout and the SIGKILL of the whole sandbox (default 5s)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l limit -d 'Set a resource limit (setrlimit) of the command: NAME=VALUE or NAME=SOFT:HARD with NAME one of as, core, cpu, data, fsize, memlock, nofile, nproc, stack. Sizes take K, M, G, T (512M), cpu takes s, m, h (10s), and `unlimited` lifts a limit. A limit can be lowered freely, raised only up to your own hard limit (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l memory -d 'Limit the memory of the whole sandbox to SIZE (512M, 2G; cgroup v2 memory.max). Needs cgroup v2 delegation or a systemd user manager (see `sandbox check`)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l pids -d 'Limit the number of processes and threads in the whole sandbox (cgroup v2 pids.max). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l cpus -d 'Limit the CPU time of the whole sandbox to FRACTION of one CPU per second (0.5: half a CPU, 2: two CPUs; cgroup v2 cpu.max). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l io-weight -d 'Relative weight of the sandbox\'s block I/O, 1 to 10000 (default 100; cgroup v2 io.weight). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l status-fd -l json-status-fd -d 'Write JSON lines to the caller\'s file descriptor FD: `{ "child-pid": N, "command-pid": N, ... }` when the command has started, `{ "exit-code": N }` (with "signal" and "timed-out" when they apply) when it has ended. The format of bubblewrap\'s --json-status-fd; readers ignore keys they do not know' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l pid-file -d 'Write the command\'s pid (as the host sees it) to PATH once it has started; the file is removed when the sandbox ends. PATH is opened once, before anything starts, never through a symlink: it must be a regular file of yours with no other hard link, or absent (then it is created 0600)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-read -d 'Landlock: allow reading (and executing) beneath PATH. Any --allow-read or --allow-write replaces the mirror of the mounts: the command may then read only beneath these paths, write only beneath --allow-write ones, and use the sandbox\'s own /dev; a path bound read-write but not listed cannot be written, /proc is not readable unless listed. Every mount is then also made read-only except beneath the --allow-write paths and /dev, so that metadata (chmod, utime, xattrs) cannot change elsewhere either. PATH is inside the sandbox, relative to the current directory, and must exist' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-write -d 'Landlock: allow reading, writing, creating and removing (and executing) beneath PATH' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-exec -d 'Landlock: allow executing beneath PATH. When any is given, programs run only from beneath --allow-exec paths (reading elsewhere is unaffected), and every mount elsewhere is noexec, so the dynamic loader cannot map a program from there either; the loader and the libraries must be beneath an --allow-exec path (/usr on merged-usr systems)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-connect -d 'Landlock (ABI 4): allow TCP connections to PORT. Any --allow-connect or --allow-bind denies every other TCP connect and bind, also with --net host' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-bind -d 'Landlock (ABI 4): allow binding TCP PORT (0: any ephemeral port)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l mode -d '`namespaces` (the default) or `landlock`: no namespaces at all, for hosts that refuse user namespaces; read-only and read-write binds become landlock rules on the host\'s paths, tmpfs and hidden paths become inaccessible' -r -f -a "namespaces\t'Namespaces, mounts, landlock and seccomp (the default)'
landlock\t'No namespaces: landlock, seccomp, no_new_privs, a new session and die-with-parent on the host\'s own file system (where user namespaces are refused)'"
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp -d 'Built-in system-call filter: `default` (a deny-list of kernel attack surface) or `none`' -r -f -a "default\t'The built-in deny-list (see below)'
none\t'No built-in filter'"
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp-deny -d 'Make system call NAME fail with ERRNO (a name such as EACCES, or a number; default EPERM). Applied after the built-in policy, so its errno wins for the same call' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp-allow -d 'Take system call NAME out of the built-in policy\'s denies' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp-policy -d 'Also install the policy in FILE, in sandbox\'s JSON format (the format of seccomp/default.json: `default`, `rules` with `syscalls`, `action`, `args`)' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp-oci -d 'Also install the seccomp policy of an OCI runtime config in FILE (its `linux.seccomp`, or the bare object, such as Docker\'s default profile). Every filter applies: add `--seccomp none` to run under that policy alone' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l add-seccomp-fd -d 'Also install the raw classic-BPF program read from file descriptor FD (a `struct sock_filter` array, as bwrap\'s --add-seccomp-fd), after every other filter' -r
complete -c sandbox -n "__fish_sandbox_needs_command" -l no-toolchains -d 'Do not share the toolchains the command needs. By default, when the command (looked up on your PATH) or a PATH entry lives where the sandbox shows nothing of the host ($HOME, /opt), the toolchain it belongs to is shared read-only: rustup\'s ~/.cargo/bin and ~/.rustup, pyenv, nvm, volta, fnm, ~/.local/bin with its Python packages, Go, bun, deno, mise, asdf, /opt/NAME… (profiles/toolchains.toml); credentials inside them stay hidden. `sandbox explain` lists what is added and why'
complete -c sandbox -n "__fish_sandbox_needs_command" -l merged-usr -d 'Recreate the host\'s /bin, /sbin, /lib, /lib64…: the same symlinks into /usr where the host has them (merged /usr), read-only binds where they are directories'
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-host-loopback -d 'With --net user: let the sandbox reach services listening on the host\'s loopback, at the default gateway\'s address (10.0.2.2 with slirp4netns). Off by default: a service on the host\'s 127.0.0.1 is unreachable from inside'
complete -c sandbox -n "__fish_sandbox_needs_command" -l clear-env -d 'Start from an empty environment instead of the profile\'s allowlist'
complete -c sandbox -n "__fish_sandbox_needs_command" -l no-die-with-parent -d 'Let the sandbox outlive the process that started it'
complete -c sandbox -n "__fish_sandbox_needs_command" -l no-new-session -d 'Keep the caller\'s session and controlling terminal (allows job control, but lets the command push input into your terminal with TIOCSTI on old kernels)'
complete -c sandbox -n "__fish_sandbox_needs_command" -l best-effort -d 'Run even when a confinement asked for cannot be applied on this kernel; a warning lists every rule that was dropped. Without it, sandbox refuses to run'
complete -c sandbox -n "__fish_sandbox_needs_command" -s v -l verbose -d 'Print each setup step on stderr, with the milliseconds since the launch began'
complete -c sandbox -n "__fish_sandbox_needs_command" -l no-landlock -d 'Do not confine the command with landlock (the mounts and namespaces still do)'
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-signals -d 'Let the command send signals to processes outside the sandbox (by default landlock ABI 6 scopes signals to the sandbox)'
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-abstract-unix -d 'Let the command connect to abstract unix sockets made outside the sandbox, such as X11\'s or D-Bus\'s under --net host (by default landlock ABI 6 scopes them)'
complete -c sandbox -n "__fish_sandbox_needs_command" -l log-denials -d 'Log the command\'s landlock denials to the kernel audit log (ABI 7); read them with `ausearch -m 1423,1424` or `journalctl -k | grep -i landlock`'
complete -c sandbox -n "__fish_sandbox_needs_command" -l seccomp-log -d 'Dry run: calls any filter denies go through and are logged by the kernel (SECCOMP_RET_LOG; see the audit log or dmesg)'
complete -c sandbox -n "__fish_sandbox_needs_command" -l allow-userns -d 'Let the command create nested namespaces (unshare, setns, clone with namespace flags, clone3, mount): needed to run a sandbox or container tool inside'
complete -c sandbox -n "__fish_sandbox_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_needs_command" -s V -l version -d 'Print version'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "explain" -d 'Print the plan for a command line (mounts, namespaces, environment) and run nothing'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "check" -d 'Report what this kernel and host allow: user namespaces, landlock, seccomp, overlayfs, uid ranges, user-mode networking, cgroup delegation'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "bwrap" -d 'Run with bubblewrap\'s command line (a drop-in for bwrap 0.11)'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "profiles" -d 'List the profiles on the search path, or show one merged and expanded'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "completions" -d 'Print the shell completion script for SHELL (the file under completions/), e.g. `sandbox completions bash > ~/.local/share/bash-completion/completions/sandbox`'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "man" -d 'Print a man page (roff, as under man/): `sandbox` (the default), a subcommand\'s (`explain`, `check`, `bwrap`, `profiles`, `completions`, `man`), or `profile` for the profile format, e.g. `sandbox man | man -l -`'
complete -c sandbox -n "__fish_sandbox_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l profile -d 'Start from profile NAME (looked up in ~/.config/sandbox/profiles, /etc/sandbox/profiles, then the built-ins: default, none, strict, ci, build, agent, net-service) or from the file PATH (anything with a `/`). See `sandbox profiles list` and sandbox-profile(5)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l ro -d 'Bind SRC read-only at DEST (DEST defaults to SRC; write a literal `:` as `\\:`). Read-only, nosuid and nodev apply to every mount beneath SRC too' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l rw -d 'Bind SRC read-write at DEST (DEST defaults to SRC). Writes land on the host' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l ro-try -d 'Like --ro, but skipped when SRC does not exist' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l rw-try -d 'Like --rw, but skipped when SRC does not exist' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l dev-bind -d 'Bind SRC read-write at DEST with device nodes usable (bwrap --dev-bind)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l dev -d 'Mount a minimal /dev at PATH: null zero full random urandom tty, a private devpts, shm, and the stdin/stdout/stderr/fd links (bwrap --dev)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l proc -d 'Mount a fresh /proc for the sandbox\'s pid namespace at PATH, with /proc/sys and friends read-only (bwrap --proc)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l overlay -d 'Overlay the host directory PATH at DEST: the sandbox may change it, the writes go to a tmpfs and vanish at exit, the host\'s PATH never changes' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l persist -d 'Like --overlay, but the writes persist in STATEDIR (created if absent, mode 0700; its upper/ and work/ hold them, its lock file is 0600), so the next run sees them; PATH on the host never changes. A state directory in use by another running sandbox is refused, and so is one that is, or holds an upper, work or lock that is, a symlink or not yours' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l ro-overlay -d 'Stack several host directories read-only at DEST, the first on top' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l tmpfs -d 'Mount a fresh, empty tmpfs at PATH (mode 0755, nosuid, nodev)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l hide -d 'Hide PATH: cover a directory with an empty read-only one, a file with an empty read-only file. A PATH the host does not have is an error (a typo would protect nothing); see --hide-try' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l hide-try -d 'Like --hide, but nothing is said when PATH does not exist' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l state -d 'Bind the host directory DIR read-write at DEST (default: the same path), creating DIR and its missing parents (mode 0700) when it does not exist; a note says where the first time. For a service\'s state that outlives the sandbox' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l caches -d 'Package caches of your home: `none` (the default profile\'s), `ro` (those that exist, read-only: ci), `overlay` (writable, the writes vanish at exit and the host\'s caches never change: agent), or `rw` (read-write, a missing one created 0700 when its tool is on your PATH: build). For cargo, npm, yarn, pnpm, pip, uv, go, maven and gradle' -r -f -a "none\t'Not shared (the empty `$HOME` has none)'
ro\t'Those that exist, read-only'
overlay\t'Those that exist, writable through an overlay: writes vanish at exit and the host\'s caches never change'
rw\t'Read-write; a missing one is created (0700) when its tool is on PATH'"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l mkdir -d 'Create the directory PATH (and missing parents) inside the sandbox' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l symlink -d 'Create a symbolic link at PATH pointing at TARGET' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l bind-cwd -d 'Share the current directory: `rw`, `ro`, or `none`. Never $HOME, /tmp, /var/tmp, /dev/shm, /run, $XDG_RUNTIME_DIR, /run/user/*, or a directory above one of them, compared with symlinks resolved (then nothing is shared and a note says how to share it on purpose); a subdirectory such as /tmp/build is shared' -r -f -a "rw\t'Share it read-write (never $HOME, /tmp, /run and the like, or a directory above them)'
ro\t'Share it read-only'
none\t'Do not share it; the command starts in $HOME (or `/`)'"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l net -d 'Network: `none` (own namespace, loopback only; the default), `host` (the host\'s network), or `user` (own namespace with a user-mode stack: a default route, DNS, and the ports given with --publish; pasta, or slirp4netns when pasta is missing; choose with `user:pasta` or `user:slirp4netns`)' -r -f -a "none\t'Own network namespace with only the loopback interface up'
host\t'Share the host\'s network namespace'
user\t'Own network namespace with user-mode networking: pasta, or slirp4netns when pasta is missing'
user:pasta\t'User-mode networking with pasta'
user:slirp4netns\t'User-mode networking with slirp4netns'"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l publish -d 'With --net user: HOST_PORT on the host reaches PORT inside the sandbox (repeatable). The host address is 127.0.0.1 unless HOST_IP is written (an IPv6 one in brackets, e.g. [::1]:8080:80); the protocol is tcp unless /udp is written' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-host -d 'With --net user: the sandbox may resolve and reach the host names PATTERN matches, and nothing else (repeatable). PATTERN is a name (`pypi.org`) or `*.` and a name (`*.pythonhosted.org`: every name beneath it, not the name itself); `:PORT` narrows it to that TCP and UDP port. The sandbox\'s resolver becomes a filter that answers other names with REFUSED; each address an allowed answer gives stays reachable for its TTL (at least 60 s); every other packet is refused at once (TCP reset, ICMP administratively prohibited), IPv4 and IPv6, for any program and protocol' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-addr -d 'With --net user: the sandbox may reach these addresses by number (repeatable): `192.0.2.0/24`, `192.0.2.7:443`, `2001:db8::/32`, `[2001:db8::1]:22`; `:PORT` narrows it to that TCP and UDP port. Like --allow-host, it refuses everything else' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l report-fd -d 'With --allow-host or --allow-addr: write JSON lines to FD for every refused name and connection (time, name or address, port, protocol, the rule that refused it), and when the command starts and ends. After the first 10 refusals of one name or address and port, the others are counted instead (a `refusals-suppressed` line)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l report-file -d 'Like --report-fd, to the file PATH (emptied first). PATH is opened once, before anything starts, never through a symlink: it must be a regular file of yours with no other hard link, or absent (then it is created 0600)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l share -d 'Share a namespace with the host instead of getting a new one (repeatable)' -r -f -a "ipc\t''
pid\t''
uts\t''
net\t''
cgroup\t''"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l env -d 'Set NAME=VALUE in the command\'s environment' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l keep-env -d 'Pass NAME from the caller\'s environment (a trailing `*` matches a prefix, e.g. `LC_*`)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l cwd -d 'Working directory inside the sandbox (absolute)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l hostname -d 'Host name inside the sandbox (default: `sandbox`)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l uid -d 'User id inside the sandbox (mapped to your own uid outside)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l gid -d 'Group id inside the sandbox (mapped to your own gid outside)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l cap-add -d 'Keep capability CAP (e.g. CAP_NET_ADMIN) for the command; needs --uid 0' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l keep-fd -d 'Pass the caller\'s file descriptor N to the command (0, 1, 2 are always passed)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l timeout -d 'Stop the command after DURATION (30s, 5m, 1.5h, 250ms; a bare number is seconds): SIGTERM to the command, then SIGKILL to the whole sandbox after --kill-after. sandbox then exits with status 124, however the command ended' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l kill-after -d 'Grace period between the SIGTERM of --timeout and the SIGKILL of the whole sandbox (default 5s)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l limit -d 'Set a resource limit (setrlimit) of the command: NAME=VALUE or NAME=SOFT:HARD with NAME one of as, core, cpu, data, fsize, memlock, nofile, nproc, stack. Sizes take K, M, G, T (512M), cpu takes s, m, h (10s), and `unlimited` lifts a limit. A limit can be lowered freely, raised only up to your own hard limit (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l memory -d 'Limit the memory of the whole sandbox to SIZE (512M, 2G; cgroup v2 memory.max). Needs cgroup v2 delegation or a systemd user manager (see `sandbox check`)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l pids -d 'Limit the number of processes and threads in the whole sandbox (cgroup v2 pids.max). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l cpus -d 'Limit the CPU time of the whole sandbox to FRACTION of one CPU per second (0.5: half a CPU, 2: two CPUs; cgroup v2 cpu.max). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l io-weight -d 'Relative weight of the sandbox\'s block I/O, 1 to 10000 (default 100; cgroup v2 io.weight). Needs cgroup v2 delegation or a systemd user manager' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l status-fd -l json-status-fd -d 'Write JSON lines to the caller\'s file descriptor FD: `{ "child-pid": N, "command-pid": N, ... }` when the command has started, `{ "exit-code": N }` (with "signal" and "timed-out" when they apply) when it has ended. The format of bubblewrap\'s --json-status-fd; readers ignore keys they do not know' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l pid-file -d 'Write the command\'s pid (as the host sees it) to PATH once it has started; the file is removed when the sandbox ends. PATH is opened once, before anything starts, never through a symlink: it must be a regular file of yours with no other hard link, or absent (then it is created 0600)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-read -d 'Landlock: allow reading (and executing) beneath PATH. Any --allow-read or --allow-write replaces the mirror of the mounts: the command may then read only beneath these paths, write only beneath --allow-write ones, and use the sandbox\'s own /dev; a path bound read-write but not listed cannot be written, /proc is not readable unless listed. Every mount is then also made read-only except beneath the --allow-write paths and /dev, so that metadata (chmod, utime, xattrs) cannot change elsewhere either. PATH is inside the sandbox, relative to the current directory, and must exist' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-write -d 'Landlock: allow reading, writing, creating and removing (and executing) beneath PATH' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-exec -d 'Landlock: allow executing beneath PATH. When any is given, programs run only from beneath --allow-exec paths (reading elsewhere is unaffected), and every mount elsewhere is noexec, so the dynamic loader cannot map a program from there either; the loader and the libraries must be beneath an --allow-exec path (/usr on merged-usr systems)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-connect -d 'Landlock (ABI 4): allow TCP connections to PORT. Any --allow-connect or --allow-bind denies every other TCP connect and bind, also with --net host' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-bind -d 'Landlock (ABI 4): allow binding TCP PORT (0: any ephemeral port)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l mode -d '`namespaces` (the default) or `landlock`: no namespaces at all, for hosts that refuse user namespaces; read-only and read-write binds become landlock rules on the host\'s paths, tmpfs and hidden paths become inaccessible' -r -f -a "namespaces\t'Namespaces, mounts, landlock and seccomp (the default)'
landlock\t'No namespaces: landlock, seccomp, no_new_privs, a new session and die-with-parent on the host\'s own file system (where user namespaces are refused)'"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp -d 'Built-in system-call filter: `default` (a deny-list of kernel attack surface) or `none`' -r -f -a "default\t'The built-in deny-list (see below)'
none\t'No built-in filter'"
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp-deny -d 'Make system call NAME fail with ERRNO (a name such as EACCES, or a number; default EPERM). Applied after the built-in policy, so its errno wins for the same call' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp-allow -d 'Take system call NAME out of the built-in policy\'s denies' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp-policy -d 'Also install the policy in FILE, in sandbox\'s JSON format (the format of seccomp/default.json: `default`, `rules` with `syscalls`, `action`, `args`)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp-oci -d 'Also install the seccomp policy of an OCI runtime config in FILE (its `linux.seccomp`, or the bare object, such as Docker\'s default profile). Every filter applies: add `--seccomp none` to run under that policy alone' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l add-seccomp-fd -d 'Also install the raw classic-BPF program read from file descriptor FD (a `struct sock_filter` array, as bwrap\'s --add-seccomp-fd), after every other filter' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l json -d 'Print the plan as JSON (the same data `sandbox` would run)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l no-toolchains -d 'Do not share the toolchains the command needs. By default, when the command (looked up on your PATH) or a PATH entry lives where the sandbox shows nothing of the host ($HOME, /opt), the toolchain it belongs to is shared read-only: rustup\'s ~/.cargo/bin and ~/.rustup, pyenv, nvm, volta, fnm, ~/.local/bin with its Python packages, Go, bun, deno, mise, asdf, /opt/NAME… (profiles/toolchains.toml); credentials inside them stay hidden. `sandbox explain` lists what is added and why'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l merged-usr -d 'Recreate the host\'s /bin, /sbin, /lib, /lib64…: the same symlinks into /usr where the host has them (merged /usr), read-only binds where they are directories'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-host-loopback -d 'With --net user: let the sandbox reach services listening on the host\'s loopback, at the default gateway\'s address (10.0.2.2 with slirp4netns). Off by default: a service on the host\'s 127.0.0.1 is unreachable from inside'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l clear-env -d 'Start from an empty environment instead of the profile\'s allowlist'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l no-die-with-parent -d 'Let the sandbox outlive the process that started it'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l no-new-session -d 'Keep the caller\'s session and controlling terminal (allows job control, but lets the command push input into your terminal with TIOCSTI on old kernels)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l best-effort -d 'Run even when a confinement asked for cannot be applied on this kernel; a warning lists every rule that was dropped. Without it, sandbox refuses to run'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -s v -l verbose -d 'Print each setup step on stderr, with the milliseconds since the launch began'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l no-landlock -d 'Do not confine the command with landlock (the mounts and namespaces still do)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-signals -d 'Let the command send signals to processes outside the sandbox (by default landlock ABI 6 scopes signals to the sandbox)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-abstract-unix -d 'Let the command connect to abstract unix sockets made outside the sandbox, such as X11\'s or D-Bus\'s under --net host (by default landlock ABI 6 scopes them)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l log-denials -d 'Log the command\'s landlock denials to the kernel audit log (ABI 7); read them with `ausearch -m 1423,1424` or `journalctl -k | grep -i landlock`'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l seccomp-log -d 'Dry run: calls any filter denies go through and are logged by the kernel (SECCOMP_RET_LOG; see the audit log or dmesg)'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -l allow-userns -d 'Let the command create nested namespaces (unshare, setns, clone with namespace flags, clone3, mount): needed to run a sandbox or container tool inside'
complete -c sandbox -n "__fish_sandbox_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand check" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'Name, where it was found, and description of every profile on the search path'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'A profile with its includes applied and variables expanded, as TOML'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "list" -d 'Name, where it was found, and description of every profile on the search path'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "show" -d 'A profile with its includes applied and variables expanded, as TOML'
complete -c sandbox -n "__fish_sandbox_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand completions" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand man" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "explain" -d 'Print the plan for a command line (mounts, namespaces, environment) and run nothing'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "check" -d 'Report what this kernel and host allow: user namespaces, landlock, seccomp, overlayfs, uid ranges, user-mode networking, cgroup delegation'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "bwrap" -d 'Run with bubblewrap\'s command line (a drop-in for bwrap 0.11)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "profiles" -d 'List the profiles on the search path, or show one merged and expanded'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "completions" -d 'Print the shell completion script for SHELL (the file under completions/), e.g. `sandbox completions bash > ~/.local/share/bash-completion/completions/sandbox`'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "man" -d 'Print a man page (roff, as under man/): `sandbox` (the default), a subcommand\'s (`explain`, `check`, `bwrap`, `profiles`, `completions`, `man`), or `profile` for the profile format, e.g. `sandbox man | man -l -`'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from explain check bwrap profiles completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from profiles" -f -a "list" -d 'Name, where it was found, and description of every profile on the search path'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from profiles" -f -a "show" -d 'A profile with its includes applied and variables expanded, as TOML'
