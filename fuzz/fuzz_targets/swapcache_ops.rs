//! `swapcache_ops`: see `swapcache::fuzzing::swapcache_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swapcache::fuzzing::swapcache_ops(data));
