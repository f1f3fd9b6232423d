//! `zswap_ops`: see `zswap_tree::fuzzing::zswap_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zswap_tree::fuzzing::zswap_ops(data));
