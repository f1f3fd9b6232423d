//! Criterion benches of the fault path (filled in by the next commit).

fn main() {}
