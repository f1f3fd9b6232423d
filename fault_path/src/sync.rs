//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`. Only this module names `loom`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

pub(crate) use std::sync::atomic::Ordering;

/// A CPU relax hint in a spin loop; a yield point under loom.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::hint::spin_loop();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Sleeps for `d` (one scheduler tick in the `pin-sleep` strategy, a device
/// read delay). Under loom a sleep is just a yield point.
#[inline]
pub(crate) fn sleep(d: std::time::Duration) {
    #[cfg(loom)]
    {
        let _ = d;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    std::thread::sleep(d);
}

/// Locks `m`, ignoring poisoning (a panicking test thread must not turn
/// every later lock into a second panic that hides the first).
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new swap cache: the process-wide epoch collector normally; under loom
/// a collector owned by the model (see the `swapcache` crate docs).
pub(crate) fn new_swap_cache<F: Send + 'static>(nr_slots: u64) -> swapcache::SwapCache<F> {
    #[cfg(loom)]
    return swapcache::SwapCache::with_collector(nr_slots, swapcache::epoch::Collector::new());
    #[cfg(not(loom))]
    return swapcache::SwapCache::new(nr_slots);
}

/// A small per-thread number for sharding statistics (0 under loom).
#[inline]
pub(crate) fn shard() -> usize {
    #[cfg(loom)]
    return 0;
    #[cfg(not(loom))]
    {
        use std::cell::Cell;
        use std::sync::atomic::AtomicUsize;
        std::thread_local! {
            static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        // Round-robin numbering of threads; Relaxed: only a number.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        SHARD.with(|c| {
            if c.get() == usize::MAX {
                c.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            }
            c.get()
        })
    }
}

/// A statistics counter sharded by thread, so that threads faulting on
/// different CPUs do not bounce one cache line per I/O (the kernel's
/// per-CPU vm events). One shard under loom.
#[derive(Debug)]
pub(crate) struct Counter {
    shards: Box<[crossbeam_utils::CachePadded<AtomicU64>]>,
}

const SHARDS: usize = if cfg!(loom) { 1 } else { 16 };

impl Default for Counter {
    fn default() -> Self {
        Counter {
            shards: (0..SHARDS)
                .map(|_| crossbeam_utils::CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }
}

impl Counter {
    /// Adds one; returns a number unique to this increment.
    #[inline]
    pub(crate) fn bump(&self) -> u64 {
        let i = shard() % SHARDS;
        // Relaxed: a statistic; it orders nothing.
        self.shards[i].fetch_add(1, Ordering::Relaxed) * SHARDS as u64 + i as u64
    }

    pub(crate) fn get(&self) -> u64 {
        self.shards.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}
