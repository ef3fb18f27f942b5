//! `sandbox`: parse → plan → launch; errors to exit codes.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use sandbox::host::Host;
use sandbox::native::{self, Command};
use sandbox::{check, launch};

/// Exit status for a sandbox setup failure (bad input included), as GNU env
/// and docker run use it.
const SETUP_FAILED: u8 = 125;

fn main() -> ExitCode {
    sandbox::trace::start();
    // sandbox is never privileged: a setuid or setgid install would turn
    // every option into a way to act as another user.
    let (uid, euid) = (nix::unistd::getuid(), nix::unistd::geteuid());
    let (gid, egid) = (nix::unistd::getgid(), nix::unistd::getegid());
    if uid != euid || gid != egid {
        eprintln!("sandbox: refusing to run setuid or setgid: remove the bit (chmod u-s,g-s) and run it as yourself");
        return ExitCode::from(SETUP_FAILED);
    }
    let host = Host::current();
    sandbox::trace::step("monitor", "host read");
    let argv: Vec<OsString> = std::env::args_os().collect();
    // Installed as `bwrap` (a symlink), or such a binary re-executing
    // itself through /proc/self/exe: bubblewrap's command line.
    let exe = || std::fs::read_link("/proc/self/exe").ok();
    if sandbox::dispatch::bwrap_mode(&argv, exe) {
        let prog = argv.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        return bwrap(&prog, &argv[1..], &host);
    }
    let parsed = native::parse(argv, &host);
    sandbox::trace::step("monitor", "Plan built");
    let command = match parsed {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sandbox: {e}");
            return ExitCode::from(SETUP_FAILED);
        }
    };
    match command {
        Command::Print(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Check => ExitCode::from(check::run()),
        Command::Bwrap(args) => bwrap("bwrap", &args, &host),
        Command::Desktop(action) => desktop(action, &host),
        Command::ProfilesList => profiles_list(&host),
        Command::ProfilesShow(name) => match sandbox::profile::load(&name, &host) {
            Ok(p) => {
                print!("{}", sandbox::profile::render(p.description.as_deref(), &p.settings));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sandbox: {e}");
                ExitCode::from(SETUP_FAILED)
            }
        },
        Command::Explain { built, json } => explain(&built, json),
        Command::Run { built, verbose } => run(&built, verbose, &host),
        Command::Completions(shell) => print_doc(sandbox::docs::completion(shell.name())),
        Command::Man(page) => print_doc(sandbox::docs::man(page.as_deref())),
    }
}

/// A run: the checks made before anything starts, then launch; a command
/// not found gets a hint naming where it is on the host.
fn run(built: &native::Built, verbose: bool, host: &Host) -> ExitCode {
    print_notes(&built.notes);
    let result = launch::check(&built.plan).and_then(|checked| {
        sandbox::trace::step("monitor", "Plan checked");
        checked.run(&options(verbose))
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.class() == launch::error::Class::NotFound => {
            let cmd = built.plan.command.first().cloned().unwrap_or_default();
            let off = built.toolchains_off.as_deref();
            let fs = sandbox::hostfs::RealFs;
            match sandbox::toolchain::not_found_hint(&cmd, host, &built.plan.fs, &fs, off) {
                Some(hint) => ExitCode::from(failed(&e.hint(hint))),
                None => ExitCode::from(failed(&e)),
            }
        }
        Err(e) => ExitCode::from(failed(&e)),
    }
}

/// `sandbox man`, `sandbox completions`: the committed text, or why not.
fn print_doc(text: Result<&str, String>) -> ExitCode {
    match text {
        Ok(text) => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sandbox: writing: {e}");
                ExitCode::from(SETUP_FAILED)
            }
        },
        Err(e) => {
            eprintln!("sandbox: {e}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

/// `sandbox explain`: the Plan as JSON, or readable with where each entry
/// came from.
fn explain(built: &native::Built, json: bool) -> ExitCode {
    print_notes(&built.notes);
    // What a run would refuse before starting, refused here with its line.
    if let Err(e) = launch::check(&built.plan) {
        return ExitCode::from(failed(&e));
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &built.plan)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        writeln!(out, "{}\n\n{}", built.plan, sandbox::settings::describe(&built.plan, &built.prov)).and_then(
            |_| {
                for s in &built.skipped {
                    writeln!(out, "  not shared: {:<20} {}", sandbox::escape::path(&s.path), s.why)?;
                }
                Ok(())
            },
        )
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`explain | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox: writing the plan: {e}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

/// The bwrap front end: bubblewrap's messages, its exit status 1 for a
/// mistake, then the same launch as the native front end.
fn bwrap(prog: &str, args: &[OsString], host: &Host) -> ExitCode {
    let parsed = sandbox::compat::parse(prog, args, host, &mut sandbox::compat::RealIo);
    for w in &parsed.warnings {
        eprintln!("{w}");
    }
    match parsed.result {
        Ok(ready) => match launch::run(&ready.plan, &options(false)) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("{}", ready.failure_line(&e));
                ExitCode::from(sandbox::compat::failure::EXIT)
            }
        },
        Err(exit) => {
            print!("{}", exit.stdout);
            eprint!("{}", exit.stderr);
            ExitCode::from(exit.code)
        }
    }
}

/// The native front end's report of a failed launch: `sandbox: <what>:
/// <cause>` (and a hint), exit status 125, or 126 (not executable) and 127
/// (not found) for the command, as GNU env and docker run use them.
fn failed(e: &launch::SetupError) -> u8 {
    eprintln!("sandbox: {e}");
    match e.class() {
        launch::error::Class::Setup => SETUP_FAILED,
        launch::error::Class::NotExecutable => 126,
        launch::error::Class::NotFound => 127,
    }
}

/// How to launch: `-v`, and the tests' hooks.
fn options(verbose: bool) -> launch::Options {
    launch::Options {
        verbose,
        pause_at: test_pause(),
        dns_floor: test_dns_floor(),
        egress_fault: test_hook("SANDBOX_TEST_EGRESS_FAULT"),
    }
}

/// The robustness tests' hook (see `launch::Options::pause_at`); release
/// builds never read it.
fn test_pause() -> Option<String> {
    test_hook("SANDBOX_TEST_PAUSE_AT")
}

/// A test hook's variable (see `launch::Options`); release builds never
/// read it.
fn test_hook(var: &str) -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var(var).ok()
    } else {
        None
    }
}

/// The egress tests' hook (see `launch::Options::dns_floor`), in
/// milliseconds; release builds never read it.
fn test_dns_floor() -> Option<std::time::Duration> {
    if cfg!(debug_assertions) {
        let ms = std::env::var("SANDBOX_TEST_DNS_FLOOR_MS").ok()?.parse().ok()?;
        Some(std::time::Duration::from_millis(ms))
    } else {
        None
    }
}

fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("sandbox: note: {n}");
    }
}

fn profiles_list(host: &Host) -> ExitCode {
    let mut out = std::io::stdout().lock();
    for (name, label, desc) in sandbox::profile::list(host) {
        if writeln!(out, "{name:<12} {label:<40} {desc}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// `sandbox desktop install|list|remove`: results on stdout, a mistake as
/// one line and exit 125.
fn desktop(action: sandbox::cli::DesktopAction, host: &Host) -> ExitCode {
    use sandbox::cli::DesktopAction;
    use sandbox::desktop::launcher;
    let var = |n: &str| host.env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_os_str());
    let dirs = launcher::Dirs::new(&host.home, var("XDG_DATA_HOME"), var("XDG_DATA_DIRS"));
    let done = match action {
        DesktopAction::Install { what, profile } => install(&what, &profile, &dirs, host),
        DesktopAction::List => launcher::list(&dirs).map(|all| {
            all.iter()
                .map(|l| {
                    let exec = l.made.exec.as_deref().unwrap_or("");
                    format!("{:<40} {:<10} {}\n", l.id, l.made.profile, sandbox::escape::str(exec))
                })
                .collect()
        }),
        DesktopAction::Remove { name } => {
            launcher::remove(&name, &dirs).map(|p| format!("removed {}\n", sandbox::escape::path(&p)))
        }
    };
    match done {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sandbox: desktop: {e}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

fn install(
    what: &str,
    profile: &str,
    dirs: &sandbox::desktop::launcher::Dirs,
    host: &Host,
) -> Result<String, String> {
    use sandbox::desktop::{entry, launcher};
    // The profile must load here, as it will when the launcher runs.
    sandbox::profile::load(profile, host).map_err(|e| format!("--profile {profile}: {e}"))?;
    let program = std::env::current_exe().map_err(|e| format!("where sandbox is: {e}"))?;
    let program = program.to_str().ok_or("sandbox's own path is not UTF-8, which a .desktop file needs")?;
    let (source, id) = launcher::find_source(what, dirs)?;
    let text = launcher::read_source(&source)?;
    let source_shown = source.to_string_lossy();
    let wrap = entry::Wrap { program, profile, source: &source_shown };
    let done = launcher::install(&text, &id, &wrap, dirs)?;
    let verb = if done.replaced { "replaced" } else { "installed" };
    Ok(format!("{verb} {} (profile {profile})\n", sandbox::escape::path(&done.path)))
}
