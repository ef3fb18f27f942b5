//! Not a parser: the target `fuzz/run --self-test` uses to show that a
//! crash fails the run. It panics on any input that starts with `crash`
//! (the committed seed), and `fuzz/run` leaves it out of normal runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"crash") {
        panic!("fuzz self-test: planted panic on {:?}", String::from_utf8_lossy(data));
    }
});
