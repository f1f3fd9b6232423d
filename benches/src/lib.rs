//! Shared helpers for the benchmark suites, and the logic of the `swapin`
//! tool (`cargo run --release -p benches --bin swapin -- --help`).
//!
//! The tool's pure parts (argument parsing, rows and ratios, the table, the
//! SVG plot) live in [`swapin`] so that they are unit-tested; the binary in
//! `src/bin/swapin.rs` only dispatches.

pub mod swapin;
