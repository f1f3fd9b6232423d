//! `zswap_decompress`: see `zswap_tree::fuzzing::zswap_decompress`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zswap_tree::fuzzing::zswap_decompress(data));
