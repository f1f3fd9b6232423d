//! `fault_path_ops`: see `fault_path::fuzzing::fault_path_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fault_path::fuzzing::fault_path_ops(data));
