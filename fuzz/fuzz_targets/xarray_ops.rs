//! `xarray_ops`: see `swapcache::fuzzing::xarray_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swapcache::fuzzing::xarray_ops(data));
