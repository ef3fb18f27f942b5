//! bubblewrap's command line: NUL-separated words into `compat::parse`. The
//! first word, if any, is also what `--args N` and `--file N …` read from
//! any descriptor, so nested argument files are exercised too.
//! Invariant: never panics; an error is one `bwrap: ` line (or the usage).
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use sandbox::compat::{self, Io};
use sandbox::host::Host;

struct FuzzIo(Vec<u8>);

impl Io for FuzzIo {
    fn read_fd(&mut self, fd: i32) -> Result<Vec<u8>, nix::errno::Errno> {
        if fd % 2 == 0 {
            Ok(self.0.clone())
        } else {
            Err(nix::errno::Errno::EBADF)
        }
    }
    fn exists(&self, _path: &str) -> bool {
        true
    }
    fn read_file(&self, _path: &str) -> Option<Vec<u8>> {
        None
    }
    fn effective_caps(&self) -> u64 {
        0
    }
}

fuzz_target!(|data: &[u8]| {
    let mut words = data.split(|&b| b == 0);
    let file = words.next().unwrap_or_default().to_vec();
    let argv: Vec<OsString> = words.map(|w| OsString::from_vec(w.to_vec())).collect();
    let host = Host::fake("/work/proj");
    let parsed = compat::parse("bwrap", &argv, &host, &mut FuzzIo(file));
    for w in &parsed.warnings {
        assert!(!w.contains('\n') && w.contains("bwrap: "), "warning: {w:?}");
    }
    if let Err(exit) = parsed.result {
        if exit.code == 1 && !exit.stderr.starts_with("usage: ") {
            assert_eq!(exit.stderr.matches('\n').count(), 1, "error: {:?}", exit.stderr);
            assert!(exit.stderr.contains("bwrap: "), "error: {:?}", exit.stderr);
        }
    }
});
