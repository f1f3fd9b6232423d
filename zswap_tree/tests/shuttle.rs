//! shuttle scenarios of the entry-ownership protocol, larger than the loom
//! models: 5 threads over 16 entries in 4 regions (8 slots per region
//! under `cfg(shuttle)`).
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release -p zswap_tree --test
//! shuttle --target-dir target/shuttle`. `SHUTTLE_ITERATIONS` schedules
//! (default 10^4), half PCT (depth `SHUTTLE_PCT_DEPTH`, default 3), half
//! random. A failure prints `failing schedule: "<hex>"`;
//! `SHUTTLE_REPLAY='<hex>'` (or `SHUTTLE_REPLAY_FILE=<file>` for one
//! written under `SHUTTLE_SCHEDULE_DIR`) replays it once: run the one test
//! with `-- --exact <test>` (see `fault_path/tests/shuttle.rs`).
#![cfg(shuttle)]

use std::sync::Arc;

use shuttle::sync::Mutex;
use shuttle::thread;
use shuttle_explore::explore;
use zswap_tree::{Config as ZConfig, ContentClass, LoadMode, PAGE_SIZE, ZswapTree};

/// 16 entries (offsets 1..=16 of 32) stored; two exclusive loaders walk
/// them in opposite directions, an invalidator takes every third, a
/// writeback thread writes back the 6 oldest, an optimistic loader reads
/// them all. Every entry ends up in exactly one place (a loader, the
/// invalidation, the device), every page that comes out is intact, and
/// the compressed bytes are freed exactly once each.
#[test]
fn loads_invalidations_and_writeback() {
    explore("loads_invalidations_and_writeback", || {
        let z = Arc::new(ZswapTree::new(32, ZConfig::default()));
        let pages: Arc<Vec<_>> = Arc::new(
            (0..=16u64)
                .map(|i| {
                    let class = if i % 2 == 0 {
                        ContentClass::ZeroTail
                    } else {
                        ContentClass::Text
                    };
                    class.page(i)
                })
                .collect(),
        );
        for off in 1..=16u64 {
            z.store(off, &pages[off as usize]).unwrap();
        }
        // Per offset: how many took it (loaders, invalidation, writeback).
        let taken = Arc::new(Mutex::new(vec![0u32; 17]));
        let mut ts = Vec::new();
        for dir in 0..2 {
            let (z, pages, taken) = (z.clone(), pages.clone(), taken.clone());
            ts.push(thread::spawn(move || {
                let mut out = Box::new([0u8; PAGE_SIZE]);
                for k in 1..=16u64 {
                    let off = if dir == 0 { k } else { 17 - k };
                    if z.load(off, &mut out, LoadMode::Exclusive).unwrap() {
                        assert!(out == pages[off as usize], "damaged page {off}");
                        taken.lock().unwrap()[off as usize] += 1;
                    }
                }
            }));
        }
        {
            let (z, taken) = (z.clone(), taken.clone());
            ts.push(thread::spawn(move || {
                for off in (1..=16u64).step_by(3) {
                    if z.invalidate(off) {
                        taken.lock().unwrap()[off as usize] += 1;
                    }
                }
            }));
        }
        {
            let (z, pages, taken) = (z.clone(), pages.clone(), taken.clone());
            ts.push(thread::spawn(move || {
                let mut written = Vec::new();
                z.writeback(6, |off, p| {
                    assert!(p == &*pages[off as usize], "damaged write-back {off}");
                    written.push(off);
                });
                let mut t = taken.lock().unwrap();
                for off in written {
                    t[off as usize] += 1;
                }
            }));
        }
        {
            let (z, pages) = (z.clone(), pages.clone());
            ts.push(thread::spawn(move || {
                let mut out = Box::new([0u8; PAGE_SIZE]);
                for off in 1..=16u64 {
                    if z.load(off, &mut out, LoadMode::Optimistic).unwrap() {
                        assert!(out == pages[off as usize], "damaged optimistic load {off}");
                    }
                }
            }));
        }
        for t in ts {
            t.join().unwrap();
        }
        let taken = taken.lock().unwrap().clone();
        for (off, &n) in taken.iter().enumerate().skip(1).take(16) {
            assert_eq!(n, 1, "entry {off} taken {n} times");
        }
        let s = z.stats();
        assert_eq!(
            (s.stored_pages, s.pool_bytes, s.compressed_frees),
            (0, 0, 16),
            "{s:?}"
        );
    });
}
