//! Test support for the library crates' `tests/shuttle.rs` suites (built
//! with `RUSTFLAGS="--cfg shuttle"`; without it this crate is empty): runs
//! a scenario under shuttle's PCT scheduler for half of its schedules and
//! under its random scheduler for the other half, or replays one failing
//! schedule. A dev-dependency only: no library depends on it.
//!
//! Environment:
//! - `SHUTTLE_ITERATIONS`: schedules per scenario (`iterations`, default
//!   10^4);
//! - `SHUTTLE_PCT_DEPTH`: PCT's bug depth (`depth`, default 3);
//! - `SHUTTLE_SCHEDULER=pct` or `random`: all schedules under one of them;
//! - `SHUTTLE_RANDOM_SEED`: the seed of both schedulers (shuttle reads it);
//! - `SHUTTLE_SCHEDULE_DIR=<dir>`: a failing schedule is written to
//!   `<dir>/scheduleNNN.txt` instead of printed;
//! - `SHUTTLE_REPLAY='<hex>'` or `SHUTTLE_REPLAY_FILE=<file>`: replay that
//!   schedule once, deterministically, instead of exploring (run the one
//!   test with `-- --exact <test>`; a test with several scenarios replays
//!   its first).
#![cfg(shuttle)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, FailurePersistence, Runner};

/// The environment variable `name` as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Schedules per scenario: `SHUTTLE_ITERATIONS`, default 10^4.
pub fn iterations() -> usize {
    env_usize("SHUTTLE_ITERATIONS", 10_000)
}

/// PCT's bug depth: `SHUTTLE_PCT_DEPTH`, default 3.
pub fn depth() -> usize {
    env_usize("SHUTTLE_PCT_DEPTH", 3).max(1)
}

/// The runners' configuration.
pub fn config() -> Config {
    let mut c = Config::new();
    // shuttle runs every execution sequentially consistent (it warns that
    // weaker orderings are not modelled): the orderings are loom's job.
    c.silence_warnings = true;
    // The fault path's frames are deeper than shuttle's default 60 KiB.
    c.stack_size = 1 << 20;
    if let Ok(dir) = std::env::var("SHUTTLE_SCHEDULE_DIR") {
        c.failure_persistence = FailurePersistence::File(Some(dir.into()));
    }
    c
}

/// Runs `f` under PCT for half of `n` schedules, then under the random
/// scheduler for the other half (all under one with `SHUTTLE_SCHEDULER`),
/// or replays one schedule (`SHUTTLE_REPLAY`, `SHUTTLE_REPLAY_FILE`).
/// Returns the schedules run.
pub fn explore_n(f: impl Fn() + Send + Sync + 'static, n: usize) -> usize {
    if let Ok(s) = std::env::var("SHUTTLE_REPLAY") {
        shuttle::replay(f, s.trim());
        return 1;
    }
    if let Ok(p) = std::env::var("SHUTTLE_REPLAY_FILE") {
        shuttle::replay_from_file(f, p);
        return 1;
    }
    let f = Arc::new(f);
    let pct = match std::env::var("SHUTTLE_SCHEDULER").as_deref() {
        Ok("pct") => n,
        Ok("random") => 0,
        _ => n.div_ceil(2),
    };
    let g = Arc::clone(&f);
    let mut ran = 0;
    if pct > 0 {
        ran += Runner::new(PctScheduler::new(depth(), pct), config()).run(move || g());
    }
    if n > pct {
        ran += Runner::new(RandomScheduler::new(n - pct), config()).run(move || f());
    }
    ran
}

/// [`explore_n`] at `n` schedules, reporting the schedules and the time
/// under `name`.
pub fn explore_named(name: &str, n: usize, f: impl Fn() + Send + Sync + 'static) {
    let t = Instant::now();
    let ran = explore_n(f, n);
    eprintln!(
        "shuttle {name}: {ran} schedules passed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// [`explore_named`] at [`iterations`].
pub fn explore(name: &str, f: impl Fn() + Send + Sync + 'static) {
    explore_named(name, iterations(), f);
}

/// Runs a negative control: the scenario must fail within [`iterations`]
/// schedules (at least 10^4), with a panic message containing one of
/// `reasons`. Prints the schedule number that caught it.
pub fn must_catch(name: &str, reasons: &[&str], f: impl Fn() + Send + Sync + 'static) {
    let t = Instant::now();
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let r = catch_unwind(AssertUnwindSafe(|| {
        explore_n(
            move || {
                // Relaxed: a std counter of executions, outside the model.
                c.fetch_add(1, Ordering::Relaxed);
                f()
            },
            // At least 10^4 even when CI runs fewer per scenario: a caught
            // control stops at its first failure, so this costs little.
            iterations().max(10_000),
        )
    }));
    let msg = match r {
        Ok(_) => String::new(),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(a panic without a message)".into()),
    };
    let n = count.load(Ordering::Relaxed);
    assert!(
        reasons.iter().any(|r| msg.contains(r)),
        "{name}: shuttle did not catch the negative control in {n} schedules \
         (wanted one of {reasons:?}, got {msg:?})"
    );
    eprintln!(
        "shuttle {name}: negative control caught at schedule {n} in {:.1} s: {msg}",
        t.elapsed().as_secs_f64()
    );
}
