//! shuttle scenarios of the tree's publication and reclamation protocol,
//! larger than the loom models: 5 threads (two inserters, a remover, two
//! readers) over 64 and 256 indices of 4-slot nodes (trees of height 3-4,
//! grown, pruned and shrunk while read), on a collector of the model's own
//! (see "Shuttle" in the crate docs).
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release -p swapcache --test
//! shuttle --target-dir target/shuttle`. Each scenario runs
//! `SHUTTLE_ITERATIONS` schedules (default 10^4; a tenth for 256
//! indices), half under PCT (depth `SHUTTLE_PCT_DEPTH`, default 3), half
//! random. A failure prints `failing schedule: "<hex>"`;
//! `SHUTTLE_REPLAY='<hex>'` (or `SHUTTLE_REPLAY_FILE=<file>` for one
//! written under `SHUTTLE_SCHEDULE_DIR`) replays it once: run the one test
//! with `-- --exact <test>` (see `fault_path/tests/shuttle.rs`).
#![cfg(shuttle)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::sync::Mutex;
use shuttle::thread;
use shuttle::{Config, FailurePersistence, Runner};
use swapcache::epoch::Collector;
use swapcache::{Entry, XArray};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    let mut c = Config::new();
    // Every execution is sequentially consistent under shuttle (it warns
    // that weaker orderings are not modelled): the orderings are loom's job.
    c.silence_warnings = true;
    if let Ok(dir) = std::env::var("SHUTTLE_SCHEDULE_DIR") {
        c.failure_persistence = FailurePersistence::File(Some(dir.into()));
    }
    c
}

/// Half PCT, half random, `n` schedules in all; or a replay of
/// `SHUTTLE_REPLAY` / `SHUTTLE_REPLAY_FILE`.
fn explore(name: &str, n: usize, f: impl Fn() + Send + Sync + 'static) {
    if let Ok(s) = std::env::var("SHUTTLE_REPLAY") {
        return shuttle::replay(f, s.trim());
    }
    if let Ok(p) = std::env::var("SHUTTLE_REPLAY_FILE") {
        return shuttle::replay_from_file(f, p);
    }
    let t = Instant::now();
    let depth = env_usize("SHUTTLE_PCT_DEPTH", 3).max(1);
    let f = Arc::new(f);
    let g = Arc::clone(&f);
    let mut ran = Runner::new(PctScheduler::new(depth, n.div_ceil(2)), config()).run(move || g());
    ran += Runner::new(RandomScheduler::new(n / 2), config()).run(move || f());
    eprintln!(
        "shuttle {name}: {ran} schedules passed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn iterations() -> usize {
    env_usize("SHUTTLE_ITERATIONS", 10_000)
}

/// A value that records its own drop (a std flag: shuttle's executions
/// are sequentially consistent, and the flag is read, never waited on).
struct Canary {
    value: u64,
    freed: Arc<AtomicBool>,
}

impl Drop for Canary {
    fn drop(&mut self) {
        // SeqCst: read by the readers and the final check; no pairing
        // beyond shuttle's one-thread-at-a-time order.
        assert!(!self.freed.swap(true, Ordering::SeqCst), "double free");
    }
}

/// Two inserters fill `n` indices (one the even, one the odd, walking in
/// opposite directions), a remover removes every third index once it is
/// there (two passes), two readers walk every index: a reader sees nothing
/// or the value for that index, never a freed one (checked before and
/// after a scheduling point under its guard). At the end the tree holds
/// exactly the inserted-and-not-removed values, and after collection the
/// removed ones are freed, once, and the kept ones are not.
fn churn(n: u64) {
    let collector = Collector::new();
    let xa = Arc::new(XArray::<Box<Canary>>::with_collector(collector.clone()));
    let flags: Arc<Vec<Arc<AtomicBool>>> =
        Arc::new((0..n).map(|_| Arc::new(AtomicBool::new(false))).collect());
    let removed = Arc::new(Mutex::new(vec![false; n as usize]));
    let mut ts = Vec::new();
    for parity in 0..2u64 {
        let (xa, flags) = (xa.clone(), flags.clone());
        ts.push(thread::spawn(move || {
            let idx: Vec<u64> = (0..n).filter(|i| i % 2 == parity).collect();
            let idx: Vec<u64> = if parity == 0 {
                idx
            } else {
                idx.into_iter().rev().collect()
            };
            for i in idx {
                let c = Box::new(Canary {
                    value: i,
                    freed: flags[i as usize].clone(),
                });
                xa.insert(i, c, &xa.pin())
                    .unwrap_or_else(|_| panic!("insert {i}"));
            }
        }));
    }
    {
        let (xa, removed) = (xa.clone(), removed.clone());
        ts.push(thread::spawn(move || {
            for _ in 0..2 {
                for i in (0..n).step_by(3) {
                    if removed.lock().unwrap()[i as usize] {
                        continue;
                    }
                    let g = xa.pin();
                    if let Some(e) = xa.remove(i, &g) {
                        let v = e.as_ptr().map(|c| c.value);
                        assert_eq!(v, Some(i), "removed the wrong value");
                        removed.lock().unwrap()[i as usize] = true;
                    }
                }
            }
        }));
    }
    for r in 0..2u64 {
        let (xa, flags) = (xa.clone(), flags.clone());
        ts.push(thread::spawn(move || {
            for k in 0..n {
                let i = if r == 0 { k } else { n - 1 - k };
                let g = xa.pin();
                if let Some(Entry::Ptr(c)) = xa.load(i, &g) {
                    let freed = &flags[i as usize];
                    assert!(
                        !freed.load(Ordering::SeqCst),
                        "value {i} freed under a reader"
                    );
                    assert_eq!(c.value, i, "index {i} holds another index's value");
                    thread::yield_now();
                    assert!(
                        !freed.load(Ordering::SeqCst),
                        "value {i} freed under a reader"
                    );
                }
            }
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
    let removed = removed.lock().unwrap().clone();
    let g = xa.pin();
    for i in 0..n {
        let there = xa.load(i, &g).is_some();
        assert_eq!(there, !removed[i as usize], "index {i}");
    }
    drop(g);
    assert_eq!(
        xa.len(),
        removed.iter().filter(|&&r| !r).count(),
        "the tree's count"
    );
    // crossbeam collects a bounded number of bags per call: drive it until
    // every removed value is freed (or give up after 1024 rounds).
    let h = collector.register();
    for _ in 0..1024 {
        let all = (0..n as usize).all(|i| !removed[i] || flags[i].load(Ordering::SeqCst));
        if all {
            break;
        }
        h.pin().flush();
    }
    for i in 0..n as usize {
        assert_eq!(
            flags[i].load(Ordering::SeqCst),
            removed[i],
            "index {i}: freed iff removed"
        );
    }
}

#[test]
fn churn_64_indices() {
    explore("churn_64_indices", iterations(), || churn(64));
}

#[test]
fn churn_256_indices() {
    explore("churn_256_indices", (iterations() / 10).max(1), || {
        churn(256)
    });
}
