//! Criterion benches of the swap map's hot operations on 1 and 2 threads.
//!
//! `cargo bench -p benches --bench swapmap`
//!
//! Multi-thread cases use `iter_custom` with a `Barrier` (sharded-slab's
//! MultithreadedBench): every thread runs `iters` operations at once and the
//! reported time is the slowest thread's wall time divided by `iters`, i.e.
//! the per-operation latency each thread sees under that contention.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use swapmap::{Freed, SwapMap};

fn map() -> SwapMap {
    // 64 MiB of swap: 16384 slots in 32 clusters of 512.
    SwapMap::new(16_384).expect("valid map")
}

/// A slot with count 1 and no cache, as after page-out.
fn swapped_out(m: &SwapMap) -> u64 {
    let s = m.alloc().expect("room");
    m.duplicate(s).expect("fresh");
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("swapmap");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    for threads in [1usize, 2] {
        g.bench_with_input(
            BenchmarkId::new("alloc+free", threads),
            &threads,
            |b, &n| {
                let m = map();
                b.iter_custom(|iters| {
                    benches::timed_threads(n, |_| {
                        for _ in 0..iters {
                            // folio_alloc_swap, then put_swap_folio of the
                            // never-mapped slot: alloc and free one slot.
                            let s = m.alloc().expect("room");
                            let _ = black_box(m.swapcache_clear(black_box(s)));
                        }
                    })
                })
            },
        );
        // Each thread works on its own slot, swapped out beforehand; the
        // slots share one cluster, so the locked halves share its lock.
        per_slot(&mut g, "duplicate+free", threads, |m, s| {
            m.duplicate(black_box(s)).expect("in use");
            let _ = black_box(m.free(black_box(s)));
        });
        per_slot(&mut g, "prepare+clear", threads, |m, s| {
            m.swapcache_prepare(black_box(s)).expect("unpinned");
            let _ = black_box(m.swapcache_clear(black_box(s)));
        });
        per_slot(&mut g, "sync_acquire+release", threads, |m, s| {
            m.sync_acquire(black_box(s)).expect("single");
            let _ = black_box(m.sync_release(black_box(s)));
        });
    }
    g.finish();
}

/// Benchmarks `op` on `threads` threads, each on its own swapped-out slot.
fn per_slot(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    op: fn(&SwapMap, u64),
) {
    g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &n| {
        let m = map();
        let slots: Vec<u64> = (0..n).map(|_| swapped_out(&m)).collect();
        b.iter_custom(|iters| {
            benches::timed_threads(n, |t| {
                let s = slots[t];
                for _ in 0..iters {
                    op(&m, s);
                }
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
