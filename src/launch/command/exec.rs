//! The command's execve: argv, environment and PATH search prepared before
//! clone, so that a bad argument is an error with nothing started.
//!
//! argv[0] may differ from the file executed (`Process::argv0`), and a
//! `PWD` may be added once the working directory is known. A failure says
//! which file and the errno ([`Kind::Exec`]), or that none was found in the
//! search path ([`Kind::NotFound`]).
//!
//! A failure, here or in any step before, travels to the monitor over the
//! report pipe ([`report`]).

use std::ffi::{CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use crate::escape;
use crate::launch::error::{Kind, Result, SetupError, SETUP};
use crate::launch::{sys, Ctx};

/// Everything execve needs.
pub struct Exec {
    /// The file to execute (searched in PATH when it has no `/`).
    file: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    path: Vec<u8>,
}

fn nul(what: &str) -> SetupError {
    SetupError::new(what.to_string(), "contains a NUL byte")
}

impl Exec {
    pub(crate) fn prepare(ctx: &Ctx) -> Result<Exec> {
        let mut argv = ctx
            .plan
            .command
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| nul("command argument")))
            .collect::<Result<Vec<_>>>()?;
        let Some(file) = argv.first().cloned() else {
            return Err(SetupError::new("command", "none given"));
        };
        let p = &ctx.plan.process;
        if let Some(argv0) = &p.argv0 {
            argv[0] = CString::new(argv0.as_bytes()).map_err(|_| nul("argv0"))?;
        }
        let mut path = p.search_path.as_bytes().to_vec();
        let mut envp = Vec::new();
        for v in &ctx.plan.env {
            if v.name == "PATH" {
                path = v.value.as_bytes().to_vec();
            }
            envp.push(pair(v.name.as_bytes(), v.value.as_bytes())?);
        }
        Ok(Exec { file, argv, envp, path })
    }

    /// Sets `name` in the command's environment: replaced in place, or
    /// added at the end (as setenv(3) does).
    pub(crate) fn set_env(&mut self, name: &str, value: &OsStr) {
        let Ok(kv) = pair(name.as_bytes(), value.as_bytes()) else { return };
        let prefix = format!("{name}=");
        match self.envp.iter_mut().find(|e| e.as_bytes().starts_with(prefix.as_bytes())) {
            Some(slot) => *slot = kv,
            None => self.envp.push(kv),
        }
    }

    /// execve, searching PATH like execvp when the command has no `/`.
    /// Returns only on failure.
    pub(crate) fn run(&self) -> SetupError {
        let cmd = self.file.as_bytes();
        if cmd.contains(&b'/') {
            return self.failed(self.execve(&self.file));
        }
        let mut denied = None;
        for dir in self.path.split(|&b| b == b':') {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend(cmd);
            let Ok(full) = CString::new(full) else { continue };
            match self.execve(&full) {
                Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {}
                Errno::EACCES => denied = Some(Errno::EACCES),
                e => return self.failed(e),
            }
        }
        match denied {
            Some(e) => self.failed(e),
            None => SetupError::new(format!("exec {}", escape::bytes(cmd)), "command not found")
                .hint(format!(
                    "searched PATH={} inside the sandbox; share the directory it is in with --ro",
                    escape::bytes(&self.path)
                ))
                .kind(Kind::NotFound { file: escape::bytes(cmd) }),
        }
    }

    /// execve of the file failed with `e`: ENOENT means not found, any
    /// other errno not executable ([`SetupError::class`]).
    fn failed(&self, e: Errno) -> SetupError {
        let shown = escape::bytes(self.file.as_bytes());
        SetupError::errno(format!("exec {shown}"), e).kind(Kind::Exec { file: shown })
    }

    fn execve(&self, file: &CString) -> Errno {
        match nix::unistd::execve(file, &self.argv, &self.envp) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

fn pair(name: &[u8], value: &[u8]) -> Result<CString> {
    let mut kv = name.to_vec();
    kv.push(b'=');
    kv.extend(value);
    CString::new(kv).map_err(|_| nul("environment variable"))
}

/// Sends `err` to the monitor over the report pipe and exits.
pub(crate) fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(SETUP as i32)
}
