//! Replays the fuzz inputs on stable: every committed seed under
//! `fuzz/corpus/<target>/` and every input under `fuzz/regressions/<target>/`
//! goes through [`fault_path::fuzzing`], the same code the cargo-fuzz target
//! runs (see the `fuzz_replay` crate).

#[test]
fn fault_path_ops() {
    fuzz_replay::replay("fault_path_ops", fault_path::fuzzing::fault_path_ops);
}
