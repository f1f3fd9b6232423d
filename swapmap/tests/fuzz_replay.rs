//! Replays the fuzz inputs on stable: every committed seed under
//! `fuzz/corpus/<target>/` and every input under `fuzz/regressions/<target>/`
//! goes through [`swapmap::fuzzing`], the same code the cargo-fuzz target
//! runs (see the `fuzz_replay` crate).

#[test]
fn swapmap_ops() {
    fuzz_replay::replay("swapmap_ops", swapmap::fuzzing::swapmap_ops);
}
