//! The native command line: NUL-separated words into `native::parse`.
//! Invariant: never panics; an error is one line.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use sandbox::host::Host;

fuzz_target!(|data: &[u8]| {
    let mut argv = vec![OsString::from("sandbox")];
    argv.extend(data.split(|&b| b == 0).map(|w| OsString::from_vec(w.to_vec())));
    let mut host = Host::fake("/work/proj");
    // Only built-in profiles: a fuzzed name must not read the machine's files.
    host.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-fuzz".into()));
    if let Err(e) = sandbox::native::parse(argv, &host) {
        assert!(!e.0.contains('\n'), "multi-line error: {:?}", e.0);
    }
});
