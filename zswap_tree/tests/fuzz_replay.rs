//! Replays the fuzz inputs on stable: every committed seed under
//! `fuzz/corpus/<target>/` and every input under `fuzz/regressions/<target>/`
//! goes through [`zswap_tree::fuzzing`], the same code the cargo-fuzz target
//! runs (see the `fuzz_replay` crate).

#[test]
fn zswap_ops() {
    fuzz_replay::replay("zswap_ops", zswap_tree::fuzzing::zswap_ops);
}

#[test]
fn zswap_decompress() {
    fuzz_replay::replay("zswap_decompress", zswap_tree::fuzzing::zswap_decompress);
}
