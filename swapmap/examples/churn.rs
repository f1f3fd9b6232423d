//! Swap-map churn: several threads page slots out (alloc, map, drop the
//! cache), fork (duplicate), swap in through the cache pin
//! (swapcache_prepare / swapcache_clear), take the SYNC state, and zap
//! (free), then the map's statistics are printed and checked.
//!
//! `cargo run --release -p swapmap --example churn [THREADS] [OPS_PER_THREAD]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use swapmap::{Freed, SwapError, SwapMap};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let ops: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    // 256 MiB of swap in 4 KiB slots.
    let nr_slots = 65_536;
    let notified = Arc::new(AtomicU64::new(0));
    let n2 = Arc::clone(&notified);
    let map = Arc::new(
        SwapMap::builder(nr_slots)
            .free_notify(move |_| {
                n2.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .expect("valid configuration"),
    );
    let barrier = Arc::new(Barrier::new(threads + 1));
    let counters: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (map, barrier, c) = (map.clone(), barrier.clone(), counters.clone());
            std::thread::spawn(move || {
                let mut x = 0x2545_f491_4f6c_dd1du64 ^ (t as u64 * 0x9e37_79b9);
                let mut held: Vec<u64> = Vec::new();
                barrier.wait();
                for _ in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let pick = |len: usize| (x >> 16) as usize % len;
                    match x % 9 {
                        0 | 1 => {
                            // Page-out.
                            if let Some(s) = map.alloc() {
                                map.duplicate(s).expect("fresh slot");
                                let _ = map.swapcache_clear(s).expect("cache set by alloc");
                                held.push(s);
                                c[0].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        2 if !held.is_empty() => {
                            // Fork.
                            let s = held[pick(held.len())];
                            map.duplicate(s).expect("held slot");
                            held.push(s);
                            c[1].fetch_add(1, Ordering::Relaxed);
                        }
                        3 | 4 if !held.is_empty() => {
                            // Swap-in through the swap cache pin.
                            let s = held[pick(held.len())];
                            match map.swapcache_prepare(s) {
                                Ok(()) => {
                                    let _ = map.swapcache_clear(s).expect("pinned");
                                    c[2].fetch_add(1, Ordering::Relaxed);
                                }
                                Err(SwapError::Exists { .. }) => {
                                    c[3].fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("prepare: {e}"),
                            }
                        }
                        5 if !held.is_empty() => {
                            // Synchronous swap-in with the SYNC state.
                            let s = held[pick(held.len())];
                            if map.sync_acquire(s).is_ok() {
                                let _ = map.sync_release(s).expect("owned");
                                c[4].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ if !held.is_empty() => {
                            // Zap.
                            let i = pick(held.len());
                            let s = held.swap_remove(i);
                            if map.free(s).expect("held slot") == Freed::Yes {
                                c[5].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {}
                    }
                }
                for s in held {
                    if map.free(s).expect("held slot") == Freed::Yes {
                        c[5].fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().expect("worker panicked");
    }
    let elapsed = start.elapsed();
    let st = map.stats();
    let c: Vec<u64> = counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    println!("swapmap churn: {threads} threads x {ops} ops on {nr_slots} slots in {elapsed:.2?}");
    println!(
        "  {:.1} ns per operation (wall time / total ops)",
        elapsed.as_nanos() as f64 / (threads * ops) as f64
    );
    println!(
        "  page-outs {}  forks {}  cache swap-ins {} ({} found pinned)  sync swap-ins {}  slots freed {}",
        c[0], c[1], c[2], c[3], c[4], c[5]
    );
    println!("  final {st:#?}");
    assert_eq!(st.inuse_slots, 0, "slots leaked");
    assert_eq!(st.allocs, st.frees);
    assert_eq!(notified.load(Ordering::Relaxed), st.frees);
    println!(
        "  ok: every slot free again, {} free notifications, one per freeing",
        st.frees
    );
}
