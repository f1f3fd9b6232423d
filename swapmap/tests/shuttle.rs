//! shuttle scenarios of the slot protocol, larger than the loom models:
//! 3-6 threads on 16-64 slots in 2- and 4-slot clusters.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release -p swapmap --test
//! shuttle --target-dir target/shuttle`. Each scenario runs
//! `SHUTTLE_ITERATIONS` schedules (default 10^4), half under PCT (depth
//! `SHUTTLE_PCT_DEPTH`, default 3), half random. A failure prints
//! `failing schedule: "<hex>"`; `SHUTTLE_REPLAY='<hex>'` (or
//! `SHUTTLE_REPLAY_FILE=<file>` for one written under
//! `SHUTTLE_SCHEDULE_DIR`) replays it once, deterministically: run the one
//! test with `-- --exact <test>` (see `fault_path/tests/shuttle.rs`).
#![cfg(shuttle)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::sync::Mutex;
use shuttle::thread;
use shuttle::{Config, FailurePersistence, Runner};
use swapmap::{Freed, SlotState, SwapError, SwapMap};

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

/// Half PCT, half random, `SHUTTLE_ITERATIONS` schedules in all; or a
/// replay of `SHUTTLE_REPLAY` / `SHUTTLE_REPLAY_FILE`.
fn explore(name: &str, f: impl Fn() + Send + Sync + 'static) {
    if let Ok(s) = std::env::var("SHUTTLE_REPLAY") {
        return shuttle::replay(f, s.trim());
    }
    if let Ok(p) = std::env::var("SHUTTLE_REPLAY_FILE") {
        return shuttle::replay_from_file(f, p);
    }
    let t = Instant::now();
    let n = env_usize("SHUTTLE_ITERATIONS", 10_000);
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

/// A map of `slots` slots (slot 0 bad) in clusters of `cluster`, counting
/// free notifications.
fn map(slots: u64, cluster: u32) -> (Arc<SwapMap>, Arc<AtomicUsize>) {
    let notes = Arc::new(AtomicUsize::new(0));
    let n = notes.clone();
    let m = SwapMap::builder(slots)
        .cluster_size(cluster)
        .free_notify(move |_| {
            // Relaxed: a std counter the test reads after the joins.
            n.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    (Arc::new(m), notes)
}

/// A slot with count 1 and no cache flag, as after page-out.
fn swapped_out(m: &SwapMap) -> u64 {
    let s = m.alloc().unwrap();
    m.duplicate(s).unwrap();
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    s
}

/// Four swap-ins race `swapcache_prepare` on each of 8 swapped-out slots
/// (each in its own order), and a fifth thread frees the references of
/// half of them: per slot at most one pin wins; a pinned slot keeps its
/// cache flag across the free; every slot is freed and notified once.
#[test]
fn prepare_racers_and_frees() {
    explore("prepare_racers_and_frees", || {
        let (m, notes) = map(16, 2);
        let slots: Vec<u64> = (0..8).map(|_| swapped_out(&m)).collect();
        let wins = Arc::new(Mutex::new(vec![0u32; 16]));
        let mut ts = Vec::new();
        for t in 0..4usize {
            let (m, wins, slots) = (m.clone(), wins.clone(), slots.clone());
            ts.push(thread::spawn(move || {
                for i in 0..slots.len() {
                    let s = slots[(i + 3 * t) % slots.len()];
                    match m.swapcache_prepare(s) {
                        Ok(()) => wins.lock().unwrap()[s as usize] += 1,
                        Err(SwapError::Exists { .. } | SwapError::NoEntry { .. }) => {}
                        Err(e) => panic!("prepare {s}: {e}"),
                    }
                }
            }));
        }
        let (m2, freed_slots) = (m.clone(), slots[..4].to_vec());
        ts.push(thread::spawn(move || {
            for s in freed_slots {
                // Freed now, or by the pin's clear below.
                let _ = m2.free(s).unwrap();
            }
        }));
        for t in ts {
            t.join().unwrap();
        }
        let wins = wins.lock().unwrap().clone();
        for &s in &slots {
            assert!(
                wins[s as usize] <= 1,
                "slot {s} pinned {} times",
                wins[s as usize]
            );
            if wins[s as usize] == 1 {
                assert!(m.has_cache(s).unwrap(), "slot {s} lost its pin");
                let last = if slots[..4].contains(&s) {
                    Freed::Yes
                } else {
                    Freed::No
                };
                assert_eq!(m.swapcache_clear(s), Ok(last), "slot {s}");
            } else {
                // Only a freed slot can refuse every pin.
                assert!(slots[..4].contains(&s), "slot {s}: no pin won");
            }
        }
        for &s in &slots[4..] {
            assert_eq!(m.free(s), Ok(Freed::Yes));
        }
        assert_eq!(notes.load(Ordering::Relaxed), 8);
        assert_eq!(m.stats().inuse_slots, 0);
    });
}

/// Allocation churn: four threads each allocate, reference, page in and
/// free slots on a 16-slot map of 2-slot clusters (more threads than
/// per-CPU clusters), while the slots run out and come back: a slot is
/// never handed out twice at once, and every allocation is freed and
/// notified exactly once.
#[test]
fn alloc_free_churn() {
    explore("alloc_free_churn", || {
        let (m, notes) = map(16, 2);
        let held = Arc::new(Mutex::new(Vec::<u64>::new()));
        let allocs = Arc::new(AtomicUsize::new(0));
        let mut ts = Vec::new();
        for _ in 0..4 {
            let (m, held, allocs) = (m.clone(), held.clone(), allocs.clone());
            ts.push(thread::spawn(move || {
                let mut mine = Vec::new();
                for round in 0..6 {
                    if let Some(s) = m.alloc() {
                        {
                            let mut h = held.lock().unwrap();
                            assert!(!h.contains(&s), "slot {s} allocated twice");
                            h.push(s);
                        }
                        // Relaxed: a std counter read after the joins.
                        allocs.fetch_add(1, Ordering::Relaxed);
                        m.duplicate(s).unwrap();
                        assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
                        mine.push(s);
                    }
                    if round % 2 == 1
                        && let Some(s) = mine.pop()
                    {
                        held.lock().unwrap().retain(|&x| x != s);
                        assert_eq!(m.free(s), Ok(Freed::Yes));
                    }
                }
                for s in mine {
                    held.lock().unwrap().retain(|&x| x != s);
                    assert_eq!(m.free(s), Ok(Freed::Yes));
                }
            }));
        }
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(
            notes.load(Ordering::Relaxed),
            allocs.load(Ordering::Relaxed)
        );
        let st = m.stats();
        assert_eq!(st.inuse_slots, 0, "{st:?}");
    });
}

/// Large folios: four order-2 ranges (4-slot clusters); per range, a range
/// pin (`swapcache_prepare_single_nr`) races two order-0 pins of its
/// subpages and a zap (free) of another subpage. All or nothing: a won
/// range holds all four slots, and no single pin inside it won; a lost
/// range left none of its own pins behind. Every slot is freed once.
#[test]
fn range_pins_vs_single_pins_and_zap() {
    explore("range_pins_vs_single_pins_and_zap", || {
        let (m, notes) = map(20, 4);
        let ranges: Vec<u64> = (0..4)
            .map(|_| {
                let s = m.alloc_order(2).unwrap().unwrap();
                m.duplicate_nr(s, 4).unwrap();
                assert_eq!(m.swapcache_clear_nr(s, 4), Ok(0));
                s
            })
            .collect();
        let m1 = m.clone();
        let r1 = ranges.clone();
        let ranger = thread::spawn(move || {
            r1.iter()
                .map(|&s| m1.swapcache_prepare_single_nr(s, 4).is_ok())
                .collect::<Vec<bool>>()
        });
        let singles: Vec<_> = (1..3u64)
            .map(|k| {
                let (m, r) = (m.clone(), ranges.clone());
                thread::spawn(move || {
                    r.iter()
                        .rev()
                        .map(|&s| m.swapcache_prepare_single(s + k).is_ok())
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let (m3, r3) = (m.clone(), ranges.clone());
        let zap = thread::spawn(move || {
            for &s in &r3 {
                // Freed now, or by a pin holder's clear.
                let _ = m3.free(s + 3).unwrap();
            }
        });
        let range_won = ranger.join().unwrap();
        let single_won: Vec<Vec<bool>> = singles.into_iter().map(|t| t.join().unwrap()).collect();
        zap.join().unwrap();
        for (i, &s) in ranges.iter().enumerate() {
            let j = ranges.len() - 1 - i;
            if range_won[i] {
                assert!(
                    !single_won[0][j] && !single_won[1][j],
                    "range {s} and a single pin both won"
                );
                for x in s..s + 3 {
                    assert_eq!(
                        m.state(x),
                        Ok(SlotState::Used {
                            count: 1,
                            has_cache: true
                        }),
                        "slot {x}"
                    );
                }
                assert!(
                    m.has_cache(s + 3).unwrap(),
                    "range {s}: pin of the zapped slot lost"
                );
                // The swap-in's end: the three mapped pages keep their
                // references (freed below), the zapped one goes now.
                assert_eq!(m.swapcache_clear_nr(s, 4), Ok(1));
            } else {
                assert!(
                    !m.has_cache(s).unwrap(),
                    "range {s}: the failed range left its first pin"
                );
                for (k, won) in [(1, single_won[0][j]), (2, single_won[1][j])] {
                    if won {
                        assert_eq!(m.swapcache_clear(s + k), Ok(Freed::No));
                    }
                }
            }
            for x in s..s + 3 {
                assert_eq!(m.free(x), Ok(Freed::Yes), "slot {x}");
            }
        }
        assert_eq!(notes.load(Ordering::Relaxed), 16);
        assert_eq!(m.stats().inuse_slots, 0);
    });
}

/// SYNC hand-off with several waiters and a zap: an owner holds 4 slots in
/// `SWAP_MAP_SYNC`; three racers each try every slot, wait on the ones
/// held and retry; a zapper frees two of them meanwhile. At most one
/// holder per slot at a time (checked with a holder count), every waiter is
/// released, and each slot is freed exactly once.
#[test]
fn sync_owners_waiters_and_zap() {
    explore("sync_owners_waiters_and_zap", || {
        let (m, notes) = map(16, 2);
        let slots: Vec<u64> = (0..4).map(|_| swapped_out(&m)).collect();
        let holders = Arc::new(Mutex::new(vec![0u32; 16]));
        let mut ts = Vec::new();
        for t in 0..4usize {
            let (m, slots, holders) = (m.clone(), slots.clone(), holders.clone());
            ts.push(thread::spawn(move || {
                let mut freed = 0;
                for i in 0..slots.len() {
                    let s = slots[(i + t) % slots.len()];
                    loop {
                        match m.sync_acquire(s) {
                            Ok(()) => {
                                {
                                    let mut h = holders.lock().unwrap();
                                    h[s as usize] += 1;
                                    assert_eq!(h[s as usize], 1, "slot {s}: two SYNC holders");
                                }
                                holders.lock().unwrap()[s as usize] -= 1;
                                if m.sync_release(s).unwrap() == Freed::Yes {
                                    freed += 1;
                                }
                                break;
                            }
                            Err(SwapError::Sync { .. }) => {
                                let _ = m.sync_wait(s);
                            }
                            // Zapped while held: cache-only until the
                            // holder's release frees it (a swap-in would
                            // refault and find its PTE gone).
                            Err(SwapError::Exists { .. }) => thread::yield_now(),
                            // Freed by the zap and the release of an
                            // earlier holder: nothing left to swap in.
                            Err(SwapError::NoEntry { .. }) => break,
                            Err(e) => panic!("sync_acquire {s}: {e}"),
                        }
                    }
                }
                freed
            }));
        }
        let (m2, zapped) = (m.clone(), slots[..2].to_vec());
        let zap = thread::spawn(move || {
            zapped
                .iter()
                .filter(|&&s| m2.free(s).unwrap() == Freed::Yes)
                .count()
        });
        let mut freed: usize = ts.into_iter().map(|t| t.join().unwrap()).sum();
        freed += zap.join().unwrap();
        assert_eq!(freed, 2, "the two zapped slots are freed once each");
        for &s in &slots[2..] {
            assert_eq!(
                m.state(s),
                Ok(SlotState::Used {
                    count: 1,
                    has_cache: false
                }),
                "slot {s}"
            );
            assert_eq!(m.free(s), Ok(Freed::Yes));
        }
        assert_eq!(notes.load(Ordering::Relaxed), 4);
        assert_eq!(m.stats().inuse_slots, 0);
    });
}
