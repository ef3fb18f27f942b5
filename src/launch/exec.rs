//! The command's execve: its arguments and environment converted before
//! anything starts, the PATH search, and the one report of a failure.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use super::error::{Result, SetupError, NOT_EXECUTABLE, NOT_FOUND};
use super::{sys, Ctx};
use crate::escape;

/// Everything execve needs, converted before clone so that a bad argument is
/// an error with nothing started.
pub struct Exec {
    argv: Vec<CString>,
    envp: Vec<CString>,
    path: Vec<u8>,
}

impl Exec {
    pub(super) fn prepare(ctx: &Ctx) -> Result<Exec> {
        let nul = |what: &str| SetupError::new(what.to_string(), "contains a NUL byte");
        let argv = ctx
            .plan
            .command
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| nul("command argument")))
            .collect::<Result<Vec<_>>>()?;
        if argv.is_empty() {
            return Err(SetupError::new("command", "none given"));
        }
        let mut path = b"/usr/local/bin:/usr/bin:/bin".to_vec();
        let mut envp = Vec::new();
        for v in &ctx.plan.env {
            if v.name == "PATH" {
                path = v.value.as_bytes().to_vec();
            }
            let mut kv = v.name.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend(v.value.as_bytes());
            envp.push(CString::new(kv).map_err(|_| nul("environment variable"))?);
        }
        Ok(Exec { argv, envp, path })
    }

    /// execve, searching PATH like execvp when the command has no `/`.
    pub(super) fn run(&self) -> SetupError {
        let cmd = self.argv[0].as_bytes();
        let shown = escape::bytes(cmd);
        if cmd.contains(&b'/') {
            let e = self.execve(&self.argv[0]);
            let code = if e == Errno::ENOENT { NOT_FOUND } else { NOT_EXECUTABLE };
            return SetupError::errno(format!("exec {shown}"), e).code(code);
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
                e => return SetupError::errno(format!("exec {shown}"), e).code(NOT_EXECUTABLE),
            }
        }
        match denied {
            Some(e) => SetupError::errno(format!("exec {shown}"), e).code(NOT_EXECUTABLE),
            None => SetupError::new(format!("exec {shown}"), "command not found")
                .hint(format!(
                    "searched PATH={} inside the sandbox; share the directory it is in with --ro",
                    escape::bytes(&self.path)
                ))
                .code(NOT_FOUND),
        }
    }

    fn execve(&self, file: &CString) -> Errno {
        match nix::unistd::execve(file, &self.argv, &self.envp) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

/// Sends `err` to the monitor over the report pipe and exits with its code.
pub(super) fn report(report_w: &OwnedFd, err: &SetupError) -> ! {
    let _ = nix::unistd::write(report_w, &err.encode());
    sys::exit_now(err.code as i32)
}
