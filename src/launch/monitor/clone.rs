//! clone and what surrounds it: init is cloned into the namespaces (a
//! plain fork in landlock-only mode), the monitor writes its id maps, puts
//! it in the cgroup, starts the user-mode network, reports it, releases
//! it; while init builds the root, waits for the network and sets up its
//! firewall (`--allow-host`), then lets init fork the command and
//! supervises.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::cgroup::Cgroup;
use super::usernet::UserNet;
use super::{direct, egress, ids, pipe, relay, status, supervise, usernet, Launch};
use crate::launch::command::{self, landlock};
use crate::launch::error::{Result, SetupError};
use crate::launch::init::{self, reaper, InitSide};
use crate::launch::{sys, Ctx};
use crate::plan::landlock::Mode;
use crate::plan::{IdMap, Pid1, Signals};

/// The signals the monitor takes from its signalfd: without forwarding,
/// only SIGCHLD (a signal to it has its default effect: the sandbox lives
/// on unless it dies with its parent).
pub(super) fn monitor_signals(ctx: &Ctx) -> SigSet {
    match ctx.plan.process.signals {
        Signals::Forward => init::handled(),
        Signals::NotForwarded => {
            let mut set = SigSet::empty();
            set.add(Signal::SIGCHLD);
            set
        }
    }
}

fn clone_flags(ctx: &Ctx) -> libc::c_int {
    if ctx.plan.mode == Mode::Landlock {
        return 0;
    }
    let ns = &ctx.plan.namespaces;
    let mut flags = libc::CLONE_NEWNS;
    for (on, flag) in [
        (ns.user, libc::CLONE_NEWUSER),
        (ns.pid, libc::CLONE_NEWPID),
        (ns.ipc, libc::CLONE_NEWIPC),
        (ns.uts, libc::CLONE_NEWUTS),
        (ns.net, libc::CLONE_NEWNET),
        (ns.cgroup, libc::CLONE_NEWCGROUP),
    ] {
        if on {
            flags |= flag;
        }
    }
    flags
}

/// clone init into the namespaces (none in landlock-only mode), release
/// it, supervise.
pub(super) fn clone_init(ctx: &Ctx, launch: Launch, old_mask: SigSet) -> Result<u8> {
    let own_ns = ctx.plan.mode == Mode::Namespaces;
    let ((release_r, release_w), (report_r, report_w), (ended_r, ended_w)) = (pipe()?, pipe()?, pipe()?);
    let mut flags = clone_flags(ctx);
    if launch.cgroup.is_some() {
        // init makes its cgroup namespace once it is in the sandbox's cgroup.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    match own_ns {
        true => ctx.log("clone", &format!("namespaces {flags:#x}")),
        false => ctx.log("fork", "landlock-only mode: no namespaces"),
    }
    if reaper::is_reaper(ctx) {
        // The second reaper, should init be killed (see reaper.rs).
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    // The command's landlock ruleset made ready, in the monitor (see command/landlock.rs).
    let landlock = Some(landlock::prepare(ctx));
    crate::trace::step("monitor", "clone");
    let pid = match sys::clone_fork(flags) {
        Ok(pid) => pid,
        Err(e) if !own_ns => return Err(SetupError::errno("fork", e)),
        // A root directory or an id map of ranges has no landlock-only form.
        Err(e)
            if ctx.plan.best_effort
                && ctx.plan.landlock.enabled
                && ctx.plan.root.source.is_tmpfs()
                && ctx.plan.id_map.is_own()
                && direct::refused(e) =>
        {
            drop((release_r, release_w, report_r, report_w, ended_r, ended_w));
            return direct::fallback(ctx, launch, old_mask, e);
        }
        Err(e) => return Err(ids::clone_error(e)),
    };
    let Launch { exec, mut reporter, cgroup, tty, timeout, desktop } = launch;
    if pid == 0 {
        drop((release_w, report_r, ended_r));
        let unshare_cgroup = cgroup.is_some() && ctx.plan.namespaces.cgroup && own_ns;
        // Removing the cgroup and the pid file and stopping the helpers are
        // the monitor's job, never init's.
        std::mem::forget((cgroup, reporter, desktop));
        let prepared = command::Prepared { exec, landlock };
        init::init(ctx, InitSide { release_r, report_w, ended_w, tty, unshare_cgroup }, old_mask, prepared);
    }
    drop((release_r, report_w, ended_w));
    crate::trace::step("monitor", "cloned");
    let child = Pid::from_raw(pid);
    let net = release(ctx, child, cgroup.as_ref(), &mut reporter, (&release_w, &report_r))?;
    let run = supervise::Run {
        ctx,
        init: child,
        _alive: release_w,
        _net: net,
        _desktop: desktop,
        report: Some(report_r),
        ended: Some(ended_r),
        tty: tty.map(relay::Relay::from_outside),
        cgroup,
        reporter,
        timeout,
    };
    supervise::supervise(run, &monitor_signals(ctx))
}

/// After clone: the id maps, the cgroup, the user-mode network started
/// (it stops when dropped), what the status fd needs of init while it can
/// still be inspected, the early reports and the map helper; then init may
/// go on, and once the network is ready (configured while init builds the
/// root), it may fork the command: a second byte on `release` (`pipes`:
/// the release pipe's write end and the report pipe's read end).
fn release(
    ctx: &Ctx,
    child: Pid,
    cgroup: Option<&Cgroup>,
    reporter: &mut status::Reporter,
    (release_w, report_r): (&OwnedFd, &OwnedFd),
) -> Result<Option<UserNet>> {
    let abort = |e: SetupError| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        e
    };
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    let ids = init::userns::first_level_ids(ctx);
    let own_ns = ctx.plan.mode == Mode::Namespaces;
    if own_ns {
        match &ctx.plan.id_map {
            IdMap::Own => ctx.log("uid map", &format!("uid {} -> {uid}, gid {} -> {gid}", ids.uid, ids.gid)),
            IdMap::Ranges(r) => {
                let text = |m: &[crate::idmap::Extent]| crate::idmap::map_text(m).replace('\n', ", ");
                ctx.log("uid map", &format!("uid_map {}gid_map {}", text(&r.uid), text(&r.gid)));
            }
        }
    }
    ctx.pause("before-maps");
    // A joined user namespace has its maps; a helper outside may write them.
    let helper_maps = ctx.plan.ns_setup.map_helper_fd.is_some();
    if ctx.plan.namespaces.user && !helper_maps && own_ns {
        match &ctx.plan.id_map {
            IdMap::Own => ids::write_maps(child.as_raw(), ids, uid, gid).map_err(abort)?,
            IdMap::Ranges(r) => ids::write_ranges(child.as_raw(), r).map_err(abort)?,
        }
    }
    crate::trace::step("monitor", "id maps written");
    if let Some(cg) = cgroup {
        cg.attach(ctx, child.as_raw() as u32).map_err(abort)?;
        ctx.pause("cgroup");
    }
    if reaper::leaves_group(ctx) {
        let _ = nix::unistd::setpgid(child, child);
    }
    let (net, egress) = match own_ns {
        true => (
            usernet::spawn(ctx, child.as_raw(), cgroup.is_some()).map_err(abort)?,
            egress::prepare(ctx, child.as_raw()).map_err(abort)?,
        ),
        false => (None, None),
    };
    if own_ns {
        reporter.namespaces(ctx, child.as_raw() as u32);
    }
    // From here on nothing in the sandbox may ptrace or read the monitor.
    let _ = nix::sys::prctl::set_dumpable(false);
    started(ctx, child.as_raw(), reporter).map_err(abort)?;
    if nix::unistd::write(release_w, b"1") != Ok(1) {
        let _ = waitpid(child, None);
        return Err(SetupError::new("start the sandbox", "it ended before setup"));
    }
    crate::trace::step("monitor", "released");
    match net {
        Some(starting) => {
            network_ready(ctx, child, starting, egress, reporter, (release_w, report_r)).map(Some)
        }
        // Never a firewall without the network it filters (the plan says so).
        None if egress.is_some() => Err(abort(SetupError::new("egress", "no user-mode network to filter"))),
        None => Ok(None),
    }
}

/// While init builds the root: the network ready and its firewall (if
/// any) set up with the DNS filter running, then the second byte, which
/// lets init fork the command. A setup error of init's
/// own that ended it (and so the backend's namespace) is the one reported.
fn network_ready(
    ctx: &Ctx,
    child: Pid,
    starting: usernet::Starting,
    egress: Option<egress::Pending>,
    reporter: &status::Reporter,
    (release_w, report_r): (&OwnedFd, &OwnedFd),
) -> Result<UserNet> {
    let abort = |e: SetupError, ending| {
        let e = init_error(child, report_r, ending).unwrap_or(e);
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        e
    };
    // The firewall needs the routes only for --allow-host-loopback's
    // gateways; otherwise it is set up while the backend configures.
    let (early, late) = match egress {
        Some(e) if e.needs_routes(ctx) => (None, Some(e)),
        e => (e, None),
    };
    let start =
        |e: egress::Pending| e.start(ctx, child.as_raw(), reporter.report()).map_err(|e| abort(e, false));
    early.map(start).transpose()?;
    let net = starting.ready(ctx).map_err(|e| abort(e, false))?;
    late.map(start).transpose()?;
    if nix::unistd::write(release_w, b"n") != Ok(1) {
        // init has closed its end: it is ending.
        return Err(abort(SetupError::new("start the sandbox", "it ended before setup"), true));
    }
    Ok(net)
}

/// init's own setup error, if it ended with one: init writes its report
/// before it exits (and the command is not forked yet, so init holds the
/// only write end), so a report waiting in the pipe means init is ending
/// (`ending`: it is known to be); then it is waited for and the report read.
fn init_error(child: Pid, report_r: &OwnedFd, ending: bool) -> Option<SetupError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(report_r.as_fd(), PollFlags::POLLIN)];
    if !ending && !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1..)) {
        return None;
    }
    let _ = waitpid(child, None);
    let mut report = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = nix::unistd::read(report_r.as_raw_fd(), &mut buf) {
        report.extend_from_slice(&buf[..n]);
    }
    SetupError::decode(&report)
}

/// The monitor's part once init exists and its maps are written: it dies
/// with its own parent if asked, reports the sandbox early (status and
/// info fds), lets go of the sync fd (pid 1 holds it), and waits for the
/// map helper.
fn started(ctx: &Ctx, pid: i32, reporter: &mut status::Reporter) -> Result<()> {
    let p = &ctx.plan.process;
    if p.die_with_caller && p.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    reporter.created(pid as u32)?;
    if let Some(fd) = p.sync_fd.filter(|_| p.pid1 != Pid1::Command) {
        let _ = nix::unistd::close(fd);
    }
    if let Some(fd) = ctx.plan.ns_setup.map_helper_fd {
        let mut byte = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut byte);
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}
