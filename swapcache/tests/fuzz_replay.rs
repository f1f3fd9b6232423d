//! Replays the fuzz inputs on stable: every committed seed under
//! `fuzz/corpus/<target>/` and every input under `fuzz/regressions/<target>/`
//! goes through [`swapcache::fuzzing`], the same code the cargo-fuzz target
//! runs (see the `fuzz_replay` crate).

#[test]
fn xarray_ops() {
    fuzz_replay::replay("xarray_ops", swapcache::fuzzing::xarray_ops);
}

#[test]
fn swapcache_ops() {
    fuzz_replay::replay("swapcache_ops", swapcache::fuzzing::swapcache_ops);
}
