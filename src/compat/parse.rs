//! bubblewrap's options, one at a time, in order, into [`State`].
//!
//! Rules kept from bubblewrap (see the module docs of [`super`]):
//! - only `--opt VALUE` as separate words; parsing stops at `--` or at the
//!   first word that does not start with `-`; any other `-…` word is an
//!   unknown option;
//! - a single-valued option given twice warns `Only the last --X option
//!   will take effect` (`--argv0` twice is an error);
//! - `--perms` and `--size` apply to the very next option, which must use
//!   them; `--overlay-src` piles up for the next overlay option, the last
//!   one given being the top layer;
//! - `--setenv`, `--unsetenv` and `--clearenv` edit the environment at once;
//! - `--args FD` parses the NUL-separated arguments read from FD in place.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::args::{self, MAX_ARGS};
use super::options::Options;
use super::{message, names, ops, Io};
use crate::escape;
use crate::host::Host;
use crate::plan::FsOp;

/// Why parsing stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// A mistake: the formatted `bwrap: …` line; exit 1.
    Die(String),
    /// `--help`: usage on stdout, exit 0.
    Help,
    /// `--version`: the version on stdout, exit 0.
    Version,
}

/// Which `--unshare-*` options were given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unshare {
    pub user: bool,
    pub user_try: bool,
    pub ipc: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub cgroup: bool,
    pub cgroup_try: bool,
}

/// Everything the options said so far.
#[derive(Debug)]
pub struct State {
    pub ops: Vec<FsOp>,
    /// bubblewrap's own environment, edited in place by the env options.
    pub env: Vec<(OsString, OsString)>,
    pub warnings: Vec<String>,
    pub level_prefix: bool,
    pub unshare: Unshare,
    pub b: Options,
    pub seccomp_fd: Option<i32>,
    pub add_seccomp_fds: Vec<i32>,
    pub chdir: Option<OsString>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub hostname: Option<OsString>,
    pub new_session: bool,
    pub die_with_parent: bool,
    /// The requested capabilities, by number.
    pub caps: u64,
    /// `--file`/`--bind-data` contents still to read: (index in `ops`, fd).
    pub pending_data: Vec<(usize, i32)>,
    pub(super) next_perms: Option<u32>,
    pub(super) next_size: Option<u64>,
    pub(super) overlay_srcs: Vec<PathBuf>,
    total: usize,
    pub(super) cwd: PathBuf,
}

impl State {
    /// Fresh state for `host`; the capability mask starts as the caller's
    /// effective set when it is root, empty otherwise.
    pub fn new(host: &Host, effective_caps: u64) -> State {
        State {
            ops: Vec::new(),
            env: host.env.clone(),
            warnings: Vec::new(),
            level_prefix: false,
            unshare: Unshare::default(),
            b: Options::default(),
            seccomp_fd: None,
            add_seccomp_fds: Vec::new(),
            chdir: None,
            uid: None,
            gid: None,
            hostname: None,
            new_session: false,
            die_with_parent: false,
            caps: if host.uid == 0 { effective_caps } else { 0 },
            pending_data: Vec::new(),
            next_perms: None,
            next_size: None,
            overlay_srcs: Vec::new(),
            total: 0,
            cwd: host.cwd.clone(),
        }
    }

    /// An error line, with the level prefix as it stands now.
    pub fn die(&self, msg: impl AsRef<str>) -> Stop {
        Stop::Die(message(self.level_prefix, 3, msg.as_ref()))
    }

    fn warn_last(&mut self, name: &str) {
        let line = message(self.level_prefix, 4, &format!("Only the last {name} option will take effect"));
        self.warnings.push(line);
    }

    pub fn getenv(&self, name: &str) -> Option<&OsStr> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_os_str())
    }

    /// glibc's setenv with overwrite: replaced in place, or appended.
    pub fn setenv(&mut self, name: &OsStr, value: &OsStr) {
        match self.env.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.env.push((name.to_owned(), value.to_owned())),
        }
    }
}

/// Parses the whole command line; returns where the command starts.
pub fn parse_all(st: &mut State, io: &mut dyn Io, argv: &[OsString]) -> Result<usize, Stop> {
    st.total = argv.len();
    let at = parse_list(st, io, argv, false)?;
    if !st.overlay_srcs.is_empty() {
        return Err(st.die(OVERLAY_SRC_ALONE));
    }
    Ok(at)
}

pub(super) const OVERLAY_SRC_ALONE: &str =
    "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay";

fn parse_list(st: &mut State, io: &mut dyn Io, argv: &[OsString], in_file: bool) -> Result<usize, Stop> {
    if st.total > MAX_ARGS {
        return Err(st.die(format!("Exceeded maximum number of arguments {MAX_ARGS}")));
    }
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_bytes();
        if arg == b"--" {
            return Ok(i + 1);
        }
        if !arg.starts_with(b"-") {
            return Ok(i);
        }
        let name = std::str::from_utf8(arg).unwrap_or("");
        let rest = &argv[i + 1..];
        let used = if name == "--args" {
            args_option(st, io, rest, in_file)?
        } else {
            match option(st, name, rest)? {
                Some(n) => n,
                None => return Err(st.die(format!("Unknown option {}", escape::bytes(arg)))),
            }
        };
        if name == "--exec-label" || name == "--file-label" {
            check_label(st, io, name)?;
        }
        after_option(st, name)?;
        i += 1 + used;
    }
    Ok(i)
}

/// bubblewrap's `die_unless_label_valid`: a label needs SELinux, and one
/// SELinux accepts.
fn check_label(st: &State, io: &dyn Io, name: &str) -> Result<(), Stop> {
    let label = if name == "--exec-label" { &st.b.exec_label } else { &st.b.file_label };
    let label = label.as_deref().unwrap_or_default();
    match io.check_label(label) {
        super::Label::Valid => Ok(()),
        super::Label::Unsupported => Err(st.die("labeling not supported on this system")),
        super::Label::Invalid(e) => {
            Err(st.die(format!("invalid label {}: {}", escape::str(label), super::strerror(e))))
        }
    }
}

/// The checks bubblewrap makes after every option: a modifier must have
/// been used by the option right after it.
fn after_option(st: &State, name: &str) -> Result<(), Stop> {
    let modifier = name == "--perms" || name == "--size";
    if !modifier && st.next_perms.is_some() {
        return Err(st.die("--perms must be followed by an option that creates a file"));
    }
    if !modifier && st.next_size.is_some() {
        return Err(st.die("--size must be followed by --tmpfs"));
    }
    if name != "--overlay-src" && !st.overlay_srcs.is_empty() {
        return Err(st.die(OVERLAY_SRC_ALONE));
    }
    Ok(())
}

fn args_option(st: &mut State, io: &mut dyn Io, rest: &[OsString], in_file: bool) -> Result<usize, Stop> {
    if in_file {
        return Err(st.die("--args not supported in arguments file"));
    }
    let v = take(st, rest, 1, "--args takes an argument")?;
    let fd = args::fd(&v[0]).ok_or_else(|| st.die(format!("Invalid fd: {}", escape::os(&v[0]))))?;
    let data =
        io.read_fd(fd).map_err(|e| st.die(format!("Can't read --args data: {}", super::strerror(e))))?;
    st.b.consumed_fds.push(fd);
    let inner = args::split_nul(&data);
    for _ in &inner {
        st.total += 1;
        if st.total > MAX_ARGS {
            return Err(st.die(format!("Exceeded maximum number of arguments {MAX_ARGS}")));
        }
    }
    parse_list(st, io, &inner, true)?;
    Ok(1)
}

/// The next `n` values, or bubblewrap's "takes N arguments" error.
pub(super) fn take<'a>(
    st: &State,
    rest: &'a [OsString],
    n: usize,
    msg: &str,
) -> Result<&'a [OsString], Stop> {
    rest.get(..n).ok_or_else(|| st.die(msg))
}

/// Handles one option other than `--args`; `None` when it is unknown.
/// Returns how many values it used.
fn option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    if flag(st, name)? {
        return Ok(Some(0));
    }
    if let Some(n) = ops::fs_option(st, name, rest)? {
        return Ok(Some(n));
    }
    if let Some(n) = ops::data_option(st, name, rest)? {
        return Ok(Some(n));
    }
    if let Some(n) = fd_option(st, name, rest)? {
        return Ok(Some(n));
    }
    process_option(st, name, rest)
}

fn flag(st: &mut State, name: &str) -> Result<bool, Stop> {
    let u = &mut st.unshare;
    match name {
        "--help" => return Err(Stop::Help),
        "--version" => return Err(Stop::Version),
        "--level-prefix" => st.level_prefix = true,
        "--unshare-all" => {
            (u.user_try, u.ipc, u.pid, u.uts, u.cgroup_try, u.net) = (true, true, true, true, true, true)
        }
        "--unshare-user" => u.user = true,
        "--unshare-user-try" => u.user_try = true,
        "--unshare-ipc" => u.ipc = true,
        "--unshare-pid" => u.pid = true,
        "--unshare-net" => u.net = true,
        "--unshare-uts" => u.uts = true,
        "--unshare-cgroup" => u.cgroup = true,
        "--unshare-cgroup-try" => u.cgroup_try = true,
        "--share-net" => u.net = false,
        "--disable-userns" => st.b.disable_userns = true,
        "--assert-userns-disabled" => st.b.assert_userns_disabled = true,
        "--new-session" => st.new_session = true,
        "--die-with-parent" => st.die_with_parent = true,
        "--as-pid-1" => st.b.as_pid_1 = true,
        "--clearenv" => st.env.clear(),
        _ => return Ok(false),
    }
    Ok(true)
}

pub(super) fn parse_fd(st: &State, v: &OsStr) -> Result<i32, Stop> {
    args::fd(v).ok_or_else(|| st.die(format!("Invalid fd: {}", escape::os(v))))
}

/// The single-valued descriptor options (the last one wins, with a warning).
fn fd_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    if name == "--add-seccomp-fd" {
        let v = take(st, rest, 1, "--add-seccomp-fd takes an argument")?;
        if st.seccomp_fd.is_some() {
            return Err(st.die("--add-seccomp-fd cannot be combined with --seccomp"));
        }
        let fd = parse_fd(st, &v[0])?;
        st.add_seccomp_fds.push(fd);
        return Ok(Some(1));
    }
    if name == "--seccomp" {
        take(st, rest, 1, "--seccomp takes an argument")?;
        if !st.add_seccomp_fds.is_empty() {
            return Err(st.die("--seccomp cannot be combined with --add-seccomp-fd"));
        }
    }
    let was_set = match name {
        "--sync-fd" => st.b.sync_fd.is_some(),
        "--block-fd" => st.b.block_fd.is_some(),
        "--userns-block-fd" => st.b.userns_block_fd.is_some(),
        "--info-fd" => st.b.info_fd.is_some(),
        "--json-status-fd" => st.b.json_status_fd.is_some(),
        "--seccomp" => st.seccomp_fd.is_some(),
        "--userns" => st.b.userns_fd.is_some(),
        "--userns2" => st.b.userns2_fd.is_some(),
        "--pidns" => st.b.pidns_fd.is_some(),
        _ => return Ok(None),
    };
    let v = take(st, rest, 1, &format!("{name} takes an argument"))?;
    if was_set {
        st.warn_last(name);
    }
    let fd = Some(parse_fd(st, &v[0])?);
    match name {
        "--sync-fd" => st.b.sync_fd = fd,
        "--block-fd" => st.b.block_fd = fd,
        "--userns-block-fd" => st.b.userns_block_fd = fd,
        "--info-fd" => st.b.info_fd = fd,
        "--json-status-fd" => st.b.json_status_fd = fd,
        "--seccomp" => st.seccomp_fd = fd,
        "--userns" => st.b.userns_fd = fd,
        "--userns2" => st.b.userns2_fd = fd,
        _ => st.b.pidns_fd = fd,
    }
    Ok(Some(1))
}

fn process_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    match name {
        "--setenv" => {
            let v = take(st, rest, 2, "--setenv takes two arguments")?;
            if !valid_env_name(&v[0]) {
                return Err(st.die("setenv failed"));
            }
            st.setenv(&v[0], &v[1]);
            return Ok(Some(2));
        }
        "--unsetenv" => {
            let v = take(st, rest, 1, "--unsetenv takes an argument")?;
            if !valid_env_name(&v[0]) {
                return Err(st.die("unsetenv failed"));
            }
            st.env.retain(|(k, _)| k != &v[0]);
        }
        "--argv0" => {
            let v = take(st, rest, 1, "--argv0 takes one argument")?;
            if st.b.argv0.is_some() {
                return Err(st.die("--argv0 used multiple times"));
            }
            st.b.argv0 = Some(v[0].clone());
        }
        "--lock-file" => {
            let v = take(st, rest, 1, "--lock-file takes an argument")?;
            st.b.lock_files.push(PathBuf::from(&v[0]));
        }
        "--cap-add" | "--cap-drop" => {
            let v = take(st, rest, 1, &format!("{name} takes an argument"))?;
            cap_option(st, name == "--cap-add", &v[0])?;
        }
        _ => return single_option(st, name, rest),
    }
    Ok(Some(1))
}

/// setenv(3) and unsetenv(3) refuse an empty name or one with `=`.
fn valid_env_name(name: &OsStr) -> bool {
    !name.is_empty() && !name.as_bytes().contains(&b'=')
}

fn cap_option(st: &mut State, add: bool, v: &OsStr) -> Result<(), Stop> {
    let text = v.to_str().unwrap_or("");
    let bits = if text.eq_ignore_ascii_case("ALL") {
        u64::MAX
    } else {
        let n = names::capability(text).ok_or_else(|| st.die(format!("unknown cap: {}", escape::os(v))))?;
        1u64 << n
    };
    if add {
        st.caps |= bits;
    } else {
        st.caps &= !bits;
    }
    Ok(())
}

/// The single-valued text options (the last one wins, with a warning).
fn single_option(st: &mut State, name: &str, rest: &[OsString]) -> Result<Option<usize>, Stop> {
    let was_set = match name {
        "--chdir" => st.chdir.is_some(),
        "--exec-label" => st.b.exec_label.is_some(),
        "--file-label" => st.b.file_label.is_some(),
        "--uid" => st.uid.is_some(),
        "--gid" => st.gid.is_some(),
        "--hostname" => st.hostname.is_some(),
        _ => return Ok(None),
    };
    let msg = if name == "--chdir" { "one argument" } else { "an argument" };
    let v = take(st, rest, 1, &format!("{name} takes {msg}"))?[0].clone();
    if was_set {
        st.warn_last(name);
    }
    let label = || Some(v.to_string_lossy().into_owned());
    match name {
        "--chdir" => st.chdir = Some(v),
        "--exec-label" => st.b.exec_label = label(),
        "--file-label" => st.b.file_label = label(),
        "--hostname" => st.hostname = Some(v),
        _ => {
            let what = &name[2..];
            let id = args::id(&v).ok_or_else(|| st.die(format!("Invalid {what}: {}", escape::os(&v))))?;
            if name == "--uid" {
                st.uid = Some(id)
            } else {
                st.gid = Some(id)
            }
        }
    }
    Ok(Some(1))
}
