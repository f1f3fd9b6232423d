//! `swapmap_ops`: see `swapmap::fuzzing::swapmap_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swapmap::fuzzing::swapmap_ops(data));
