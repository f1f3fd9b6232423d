//! Shared helpers for the benchmark suites, and the logic of the `swapin`
//! tool (`cargo run --release -p benches --bin swapin -- --help`).
//!
//! The tool's pure parts (argument parsing, rows and ratios, the table, the
//! SVG plot) live in [`swapin`] so that they are unit-tested; the binary in
//! `src/bin/swapin.rs` only dispatches.

pub mod swapin;

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs `op(thread_index)` on `threads` scoped threads released together by
/// a `Barrier` (sharded-slab's MultithreadedBench) and returns the slowest
/// thread's time, measured from its release; one thread runs inline.
pub fn timed_threads(threads: usize, op: impl Fn(usize) + Sync) -> Duration {
    if threads == 1 {
        // On the calling thread: its thread-locals (epoch handle, frame
        // shard) are warm, as in a process that keeps faulting.
        let start = Instant::now();
        op(0);
        return start.elapsed();
    }
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    op(t);
                    start.elapsed()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

/// Whether the command line's filter (criterion's positional argument, a
/// substring match) selects `name`. No filter selects everything.
pub fn selected(name: &str) -> bool {
    // criterion options that take a separate value.
    const WITH_VALUE: [&str; 14] = [
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--output-format",
        "--plotting-backend",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filters = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if WITH_VALUE.contains(&a.as_str()) || a == "--color" || a == "-c" {
            i += 1;
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
        i += 1;
    }
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// The median of `v` (sorted in place); `v` must not be empty.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The first and third quartiles of `v` (sorted in place); `v` must not be
/// empty.
pub fn quartiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 4], v[v.len() * 3 / 4])
}
