//! `sandbox check`: what this kernel and host allow. (Being written.)

/// Prints one line per feature; returns the exit status.
pub fn run() -> u8 {
    0
}
