//! After parsing: bubblewrap's checks, in its order and with its words,
//! then the Plan.
//!
//! The order matters for which message a wrong command line gets. Note
//! that bubblewrap implies `--unshare-user` for an unprivileged caller
//! only *after* the `--userns-block-fd` and `--disable-userns` checks, so
//! those two still want `--unshare-user` spelled out.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::parse::{State, Unshare};
use super::{message, names, usage, Exit, Io, Ready};
use crate::host::Host;
use crate::plan::landlock::{Landlock, Mode};
use crate::plan::limits::{Limits, StatusStyle};
use crate::plan::seccomp::{Base, Seccomp};
use crate::plan::{
    EnvVar, Fds, FsOp, IdMap, Ids, Namespaces, NsSetup, Pid1, Plan, Process, Root, RootSource, RootTmpfs,
    Signals, Special,
};

/// Runs the checks and builds the Plan for `command`.
pub fn finish(
    mut st: State,
    command: &[OsString],
    host: &Host,
    io: &mut dyn Io,
    prog: &str,
) -> Result<Ready, Exit> {
    let die = |st: &State, msg: &str| Exit { stdout: String::new(), stderr: line(st, msg), code: 1 };
    if let Some(msg) = option_conflicts(&st) {
        return Err(die(&st, msg));
    }
    if host.uid != 0 && st.b.userns_fd.is_none() {
        st.unshare.user = true;
    }
    if st.unshare.user_try && io.exists("/proc/self/ns/user") && !userns_disabled(io) {
        st.unshare.user = true;
    }
    if command.is_empty() {
        return Err(Exit { stdout: String::new(), stderr: usage(prog), code: 1 });
    }
    let ids = Ids { uid: st.uid.unwrap_or(host.uid), gid: st.gid.unwrap_or(host.gid) };
    if let Some(msg) = id_checks(&st, ids, host) {
        return Err(die(&st, msg));
    }
    if st.unshare.cgroup && !io.exists("/proc/self/ns/cgroup") {
        return Err(die(&st, "Cannot create new cgroup namespace because the kernel does not support it"));
    }
    if st.unshare.cgroup_try {
        st.unshare.cgroup = io.exists("/proc/self/ns/cgroup");
    }
    read_data(&mut st, io).map_err(|msg| die(&st, &msg))?;
    let level_prefix = st.level_prefix;
    let plan = build(st, command, ids, host);
    crate::plan::validate(&plan).map_err(|e| Exit {
        stdout: String::new(),
        stderr: message(level_prefix, 3, &e) + "\n",
        code: 1,
    })?;
    Ok(Ready { plan, level_prefix })
}

fn line(st: &State, msg: &str) -> String {
    message(st.level_prefix, 3, msg) + "\n"
}

/// Combinations bubblewrap refuses before it implies anything.
fn option_conflicts(st: &State) -> Option<&'static str> {
    let (b, u) = (&st.b, &st.unshare);
    if b.userns_block_fd.is_some() && !u.user {
        return Some("--userns-block-fd requires --unshare-user");
    }
    if b.userns_block_fd.is_some() && b.info_fd.is_none() {
        return Some("--userns-block-fd requires --info-fd");
    }
    if b.userns_fd.is_some() && u.user {
        return Some("--userns not compatible --unshare-user");
    }
    if b.userns_fd.is_some() && u.user_try {
        return Some("--userns not compatible --unshare-user-try");
    }
    if b.disable_userns && !u.user {
        return Some("--disable-userns requires --unshare-user");
    }
    if b.disable_userns && b.userns_block_fd.is_some() {
        return Some("--disable-userns is not compatible with  --userns-block-fd");
    }
    None
}

/// `--unshare-user-try` is skipped where user namespaces are switched off.
fn userns_disabled(io: &dyn Io) -> bool {
    let enable = io.read_file("/sys/module/user_namespace/parameters/enable");
    let max = io.read_file("/proc/sys/user/max_user_namespaces");
    enable.is_some_and(|e| e.first() == Some(&b'N')) || max.is_some_and(|m| m == b"0\n")
}

fn id_checks(st: &State, ids: Ids, host: &Host) -> Option<&'static str> {
    let userns = st.unshare.user || st.b.userns_fd.is_some();
    if !userns && ids.uid != host.uid {
        return Some("Specifying --uid requires --unshare-user or --userns");
    }
    if !userns && ids.gid != host.gid {
        return Some("Specifying --gid requires --unshare-user or --userns");
    }
    if !st.unshare.uts && st.hostname.is_some() {
        return Some("Specifying --hostname requires --unshare-uts");
    }
    if st.b.as_pid_1 && !st.unshare.pid {
        return Some("Specifying --as-pid-1 requires --unshare-pid");
    }
    if st.b.as_pid_1 && !st.b.lock_files.is_empty() {
        return Some("Specifying --as-pid-1 and --lock-file is not permitted");
    }
    None
}

/// Reads the content of every `--file`, `--bind-data` and
/// `--ro-bind-data` descriptor into its operation.
fn read_data(st: &mut State, io: &mut dyn Io) -> Result<(), String> {
    for (at, fd) in std::mem::take(&mut st.pending_data) {
        let data = io.read_fd(fd);
        if let Some(FsOp::File { dest, content, .. }) = st.ops.get_mut(at) {
            match data {
                Ok(d) => *content = d,
                Err(e) => {
                    let dest = crate::escape::path(dest);
                    return Err(format!("Can't write data to file {dest}: {}", super::strerror(e)));
                }
            }
        }
    }
    Ok(())
}

/// The directory bubblewrap starts from, as `get_current_dir_name()`
/// gives it: `$PWD` when it names the current directory, else the
/// resolved path.
fn current_dir_name(host: &Host) -> PathBuf {
    let same = |a: &std::path::Path, b: &std::path::Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    };
    match host.var("PWD").map(PathBuf::from) {
        Some(pwd) if pwd.is_absolute() && same(&pwd, &host.cwd) => pwd,
        _ => host.cwd.clone(),
    }
}

fn build(st: State, command: &[OsString], ids: Ids, host: &Host) -> Plan {
    let mut st = st;
    // bubblewrap has no filter of its own: only the caller's programs.
    let seccomp = Seccomp {
        base: Base::None,
        bpf_fds: st.seccomp_fd.into_iter().chain(std::mem::take(&mut st.add_seccomp_fds)).collect(),
        ..Seccomp::default()
    };
    let u: Unshare = st.unshare;
    let b = &st.b;
    let limits = Limits {
        status_fd: b.json_status_fd,
        status_style: StatusStyle::Early,
        info_fd: b.info_fd,
        // bubblewrap has no time-out, limits or pid file.
        ..Limits::default()
    };
    Plan {
        namespaces: Namespaces {
            // sandbox never runs privileged: a user namespace even for root.
            user: b.userns_fd.is_none(),
            pid: u.pid,
            ipc: u.ipc,
            uts: u.uts,
            net: u.net,
            cgroup: u.cgroup,
        },
        ns_setup: ns_setup(&st, ids),
        ids,
        // bubblewrap maps one id and builds its root from its options.
        id_map: IdMap::Own,
        root: Root {
            tmpfs: RootTmpfs::Writable,
            special: Special::Plain,
            parent_modes: b.parent_modes.clone(),
            source: RootSource::Tmpfs,
            create_dirs: Vec::new(),
            file_label: b.file_label.clone(),
        },
        process: process(&st, &seccomp, host),
        env: std::mem::take(&mut st.env).into_iter().map(|(name, value)| EnvVar { name, value }).collect(),
        fs: st.ops,
        network: Default::default(),
        desktop: Default::default(),
        best_effort: false,
        limits,
        mode: Mode::Namespaces,
        // No landlock: bubblewrap confines with the mounts alone.
        landlock: Landlock { enabled: false, ..Landlock::default() },
        seccomp,
        command: command.to_vec(),
    }
}

/// Joined namespaces, and the nested user namespace bubblewrap makes for
/// `--dev` (devpts must be mounted by root to belong to the user, so the
/// caller is root at the first level) and for `--disable-userns`.
fn ns_setup(st: &State, ids: Ids) -> NsSetup {
    let b = &st.b;
    let user = b.userns_fd.is_none();
    let has_dev = st.ops.iter().any(|op| matches!(op, FsOp::Dev { .. }));
    let own_maps = user && b.userns_block_fd.is_none();
    let outer = if has_dev && own_maps { Ids { uid: 0, gid: 0 } } else { ids };
    NsSetup {
        join_user_fd: b.userns_fd,
        join_pid_fd: b.pidns_fd,
        enter_user_fd: b.userns2_fd,
        map_helper_fd: b.userns_block_fd,
        nest: (own_maps && (outer != ids || b.disable_userns)).then_some(outer),
        disable_userns: b.disable_userns,
        assert_userns_disabled: b.assert_userns_disabled,
    }
}

/// bubblewrap's process: the cwd fallback and `PWD`, every descriptor but
/// those an option consumed, no pty, no signal passed on, its plain pid 1.
fn process(st: &State, seccomp: &Seccomp, host: &Host) -> Process {
    let b = &st.b;
    let mut cwd_fallback = vec![current_dir_name(host)];
    if let Some(home) = st.getenv("HOME") {
        cwd_fallback.push(PathBuf::from(home));
    }
    let mut consumed = b.consumed_fds.clone();
    consumed.extend(seccomp.bpf_fds.iter().copied());
    consumed.extend([b.info_fd, b.json_status_fd, b.block_fd, b.userns_block_fd].into_iter().flatten());
    if !b.as_pid_1 {
        consumed.extend(b.sync_fd);
    }
    consumed.sort_unstable();
    consumed.dedup();
    Process {
        cwd: st.chdir.clone().map(PathBuf::from),
        cwd_fallback,
        set_pwd: true,
        hostname: st.hostname.as_deref().map(os_lossy),
        die_with_parent: st.die_with_parent,
        die_with_caller: st.die_with_parent,
        new_session: st.new_session,
        own_tty: false,
        fds: Fds::AllBut(consumed),
        keep_fds: Vec::new(),
        caps: names::cap_names(st.caps),
        pid1: if b.as_pid_1 { Pid1::Command } else { Pid1::PlainInit },
        signals: Signals::NotForwarded,
        argv0: b.argv0.clone(),
        // execvp's search path when PATH is unset.
        search_path: "/bin:/usr/bin".into(),
        block_fd: b.block_fd,
        sync_fd: b.sync_fd,
        lock_files: b.lock_files.clone(),
        exec_label: b.exec_label.clone(),
    }
}

fn os_lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}
