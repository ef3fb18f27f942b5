//! slirp4netns's API socket, through which ports are published.
//!
//! slirp4netns listens on a UNIX socket path of our choosing; each request is
//! one JSON object on a fresh connection, written and then shut down for
//! writing, answered with `{"return": …}` or `{"error": {"desc": …}}`. The
//! socket lives in a private directory (mode 0700, in $XDG_RUNTIME_DIR or
//! the temp directory) that is removed as soon as the ports are added,
//! before the command starts: slirp4netns keeps its listening socket, and
//! no name is left on the host for the rest of the run.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use super::args;
use crate::launch::error::{Result, SetupError};
use crate::plan::network::Publish;

/// The longest socket path `sockaddr_un` holds.
const SUN_PATH_MAX: usize = 107;

pub struct ApiDir {
    dir: PathBuf,
}

impl ApiDir {
    pub fn create() -> Result<ApiDir> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let pid = std::process::id();
        for n in 0..100 {
            let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("sandbox-net.{pid}.{nanos:x}{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let api = ApiDir { dir };
                    if api.socket().len() > SUN_PATH_MAX {
                        return Err(SetupError::new("slirp4netns API socket", "the path is too long")
                            .hint("set TMPDIR to a short directory such as /tmp"));
                    }
                    return Ok(api);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(SetupError::new(
                        format!("mkdir {}", crate::escape::path(&dir)),
                        e.to_string(),
                    ))
                }
            }
        }
        Err(SetupError::new("slirp4netns API socket", "no free directory name"))
    }

    pub fn socket(&self) -> String {
        self.dir.join("api.sock").to_string_lossy().into_owned()
    }

    /// Publishes one port; slirp4netns's refusal becomes the error.
    pub fn add_hostfwd(&self, p: &Publish) -> Result<()> {
        let what = || format!("publish {p}");
        let fail = |e: std::io::Error| SetupError::new(what(), format!("slirp4netns API: {e}"));
        let mut s = UnixStream::connect(self.socket()).map_err(fail)?;
        s.set_read_timeout(Some(Duration::from_secs(10))).map_err(fail)?;
        s.write_all(args::add_hostfwd(p).as_bytes()).map_err(fail)?;
        s.shutdown(Shutdown::Write).map_err(fail)?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).map_err(fail)?;
        reply_result(&reply).map_err(|cause| {
            SetupError::new(what(), cause)
                .hint("the host port may be in use (ports below 1024 need privileges)")
        })
    }
}

/// `Ok` for `{"return": …}`, the error's description otherwise.
fn reply_result(reply: &str) -> std::result::Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_str(reply.trim()).map_err(|_| format!("unexpected API reply {:?}", reply.trim()))?;
    if v.get("return").is_some() {
        return Ok(());
    }
    let desc = v.pointer("/error/desc").and_then(|d| d.as_str()).unwrap_or("refused");
    Err(format!("slirp4netns: {desc}"))
}

impl Drop for ApiDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::reply_result;

    #[test]
    fn replies() {
        assert_eq!(reply_result("{\"return\": {\"id\": 1}}\n"), Ok(()));
        let e = reply_result(r#"{"error": {"desc": "bad request: add_hostfwd: slirp_add_hostfwd failed"}}"#);
        assert_eq!(e, Err("slirp4netns: bad request: add_hostfwd: slirp_add_hostfwd failed".into()));
        assert!(reply_result("").unwrap_err().contains("unexpected"));
    }
}
