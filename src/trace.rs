//! `SANDBOX_TRACE=1`: when each step of a run happens, on stderr.
//!
//! ```text
//! sandbox: trace:    412 µs  monitor  profile read
//! sandbox: trace:   2391 µs  init     root built
//! ```
//!
//! Each line names the step just done, in microseconds since sandbox's `main` began (the exec of the binary and
//! the dynamic loader before it are not counted), from every process of
//! the run: the monitor, init and the command up to its seccomp filter
//! (after it, a write could be what the filter kills: init's `command
//! execed` says when the execve was done). Off, a
//! step costs one atomic load; the variable is read once,
//! at the start, and never passed to the command (it is the caller's, and
//! the Plan's environment decides what the command sees).
//!
//! It is a measuring aid for bench/ and for users asking why a start is
//! slow, not a log: the step names may change.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

/// When `main` began, set only when tracing is on.
static START: OnceLock<Instant> = OnceLock::new();

/// Turns tracing on when `SANDBOX_TRACE` is set to anything but `0` or
/// the empty string. Called once, first thing in `main`.
pub fn start() {
    let on = std::env::var_os("SANDBOX_TRACE").is_some_and(|v| !v.is_empty() && v != "0");
    if on {
        let _ = START.set(Instant::now());
    }
}

/// Whether tracing is on.
pub fn on() -> bool {
    START.get().is_some()
}

/// Writes one step: `who` is the process (`monitor`, `init`, `command`).
/// One write(2) per line, so that lines of the three processes do not mix.
pub fn step(who: &str, what: &str) {
    if let Some(start) = START.get() {
        let line = format!("sandbox: trace: {:>6} µs  {who:<8} {what}\n", start.elapsed().as_micros());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}
