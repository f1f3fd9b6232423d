//! Multi-thread stress: threads allocate, duplicate, pin, free and clear
//! about a million operations on a shared map; afterwards every slot must be
//! free and every freeing must have been notified exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use swapmap::{Freed, SwapError, SwapMap};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = if cfg!(miri) { 500 } else { 250_000 };

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn stress_accounting() {
    let nr = 4096u64;
    let notified: Arc<Vec<AtomicU64>> = Arc::new((0..nr).map(|_| AtomicU64::new(0)).collect());
    let n2 = Arc::clone(&notified);
    let map = Arc::new(
        SwapMap::builder(nr)
            .cluster_size(64)
            .free_notify(move |s| {
                n2[s as usize].fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .unwrap(),
    );
    let barrier = Arc::new(Barrier::new(THREADS));
    let frees = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (map, barrier, frees) = (map.clone(), barrier.clone(), frees.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                // Slots this thread holds references on: (slot, refs).
                let mut mine: Vec<(u64, u32)> = Vec::new();
                barrier.wait();
                for _ in 0..OPS_PER_THREAD {
                    let r = rng.next();
                    match r % 8 {
                        // Page out: alloc, map once, drop the cache.
                        0 | 1 => {
                            if let Some(s) = map.alloc() {
                                map.duplicate(s).unwrap();
                                assert_eq!(map.swapcache_clear(s), Ok(Freed::No));
                                mine.push((s, 1));
                            }
                        }
                        // Fork: another reference.
                        2 if !mine.is_empty() => {
                            let i = (r >> 8) as usize % mine.len();
                            map.duplicate(mine[i].0).unwrap();
                            mine[i].1 += 1;
                        }
                        // Swap-in on the cache path: pin, then drop the pin.
                        3 | 4 => {
                            // Also poke random slots: they may belong to
                            // another thread; prepare must then be
                            // consistent with the owner's frees.
                            let s = (r >> 8) % nr;
                            match map.swapcache_prepare(s) {
                                Ok(()) => {
                                    let f = map.swapcache_clear(s).unwrap();
                                    frees.fetch_add(u64::from(f == Freed::Yes), Ordering::Relaxed);
                                }
                                Err(SwapError::Exists { .. })
                                | Err(SwapError::NoEntry { .. })
                                | Err(SwapError::Bad { .. }) => {}
                                Err(e) => panic!("prepare: {e}"),
                            }
                        }
                        // Zap: drop a reference.
                        _ if !mine.is_empty() => {
                            let i = (r >> 8) as usize % mine.len();
                            let s = mine[i].0;
                            let f = map.free(s).unwrap();
                            mine[i].1 -= 1;
                            if mine[i].1 == 0 {
                                mine.swap_remove(i);
                            }
                            frees.fetch_add(u64::from(f == Freed::Yes), Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
                for (s, refs) in mine {
                    for _ in 0..refs {
                        let f = map.free(s).unwrap();
                        frees.fetch_add(u64::from(f == Freed::Yes), Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = map.stats();
    assert_eq!(st.inuse_slots, 0, "{st:?}");
    assert_eq!(st.free_slots, nr - 1);
    assert_eq!(st.allocs, st.frees, "{st:?}");
    assert_eq!(st.frees, frees.load(Ordering::Relaxed));
    assert!(st.allocs > OPS_PER_THREAD as u64 / 8, "{st:?}");
    assert_eq!(map.iter_used().count(), 0);
    let total: u64 = notified.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    assert_eq!(total, st.frees, "every freeing notified exactly once");
    assert_eq!(notified[0].load(Ordering::Relaxed), 0);
}
