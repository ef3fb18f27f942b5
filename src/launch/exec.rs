//! The command's execve: argv, environment and PATH search prepared before
//! clone, so that a bad argument is an error with nothing started.
//!
//! In bwrap mode argv[0] may differ from the file executed (`--argv0`), a
//! `PWD` is added once the working directory is known, and failures read as
//! bubblewrap's (`execvp foo: No such file or directory`).
//!
//! A failure, here or in any step before, travels to the monitor over the
//! report pipe ([`report`]).

use std::ffi::{CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use super::error::{strerror, Result, SetupError, NOT_EXECUTABLE, NOT_FOUND};
use super::{sys, Ctx};
use crate::escape;

/// Everything execve needs.
pub struct Exec {
    /// The file to execute (searched in PATH when it has no `/`).
    file: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    path: Vec<u8>,
    bwrap: bool,
}

fn nul(what: &str) -> SetupError {
    SetupError::new(what.to_string(), "contains a NUL byte")
}

impl Exec {
    pub(super) fn prepare(ctx: &Ctx) -> Result<Exec> {
        let mut argv = ctx
            .plan
            .command
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| nul("command argument")))
            .collect::<Result<Vec<_>>>()?;
        let Some(file) = argv.first().cloned() else {
            return Err(SetupError::new("command", "none given"));
        };
        let bwrap = ctx.plan.bwrap.as_ref();
        if let Some(argv0) = bwrap.and_then(|b| b.argv0.as_ref()) {
            argv[0] = CString::new(argv0.as_bytes()).map_err(|_| nul("--argv0"))?;
        }
        // execvp's default search path when PATH is unset, in bwrap mode.
        let mut path = if bwrap.is_some() {
            b"/bin:/usr/bin".to_vec()
        } else {
            b"/usr/local/bin:/usr/bin:/bin".to_vec()
        };
        let mut envp = Vec::new();
        for v in &ctx.plan.env {
            if v.name == "PATH" {
                path = v.value.as_bytes().to_vec();
            }
            envp.push(pair(v.name.as_bytes(), v.value.as_bytes())?);
        }
        Ok(Exec { file, argv, envp, path, bwrap: bwrap.is_some() })
    }

    /// Sets `name` in the command's environment: replaced in place, or
    /// added at the end (as setenv(3) does).
    pub(super) fn set_env(&mut self, name: &str, value: &OsStr) {
        let Ok(kv) = pair(name.as_bytes(), value.as_bytes()) else { return };
        let prefix = format!("{name}=");
        match self.envp.iter_mut().find(|e| e.as_bytes().starts_with(prefix.as_bytes())) {
            Some(slot) => *slot = kv,
            None => self.envp.push(kv),
        }
    }

    /// execve, searching PATH like execvp when the command has no `/`.
    /// Returns only on failure.
    pub(super) fn run(&self) -> SetupError {
        let cmd = self.file.as_bytes();
        if cmd.contains(&b'/') {
            let e = self.execve(&self.file);
            return self.failed(e, if e == Errno::ENOENT { NOT_FOUND } else { NOT_EXECUTABLE });
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
                e => return self.failed(e, NOT_EXECUTABLE),
            }
        }
        match denied {
            Some(e) => self.failed(e, NOT_EXECUTABLE),
            None => SetupError::new(format!("exec {}", escape::bytes(cmd)), "command not found")
                .hint(format!(
                    "searched PATH={} inside the sandbox; share the directory it is in with --ro",
                    escape::bytes(&self.path)
                ))
                .bwrap(format!("execvp {}: {}", escape::bytes(cmd), strerror(Errno::ENOENT)))
                .code(NOT_FOUND),
        }
    }

    fn failed(&self, e: Errno, code: u8) -> SetupError {
        let shown = escape::bytes(self.file.as_bytes());
        let err = SetupError::errno(format!("exec {shown}"), e).code(code);
        if self.bwrap {
            err.bwrap_errno(format!("execvp {shown}"))
        } else {
            err
        }
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

/// Sends `err` to the monitor over the report pipe and exits with its code.
pub(super) fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(err.code as i32)
}
