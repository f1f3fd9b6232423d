//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`, shuttle's under `--cfg shuttle`. Only this module (and the
//! wait queue's std-only condition variable) names `loom` or `shuttle`.
//!
//! Under shuttle, as under loom, every model thread is scheduled by the
//! checker, but shuttle runs them all on the test's one OS thread: std
//! thread-locals are shared between model threads, so what is per-thread
//! normally (the counter shards, the page bounce buffer) takes the loom
//! form, which needs no thread-local.

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` are exclusive: build one at a time");

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{Mutex, MutexGuard};
#[cfg(shuttle)]
pub(crate) use shuttle::thread::yield_now;

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::thread::yield_now;

pub(crate) use std::sync::atomic::Ordering;

/// A CPU relax hint in a spin loop; a yield point under loom and shuttle
/// (shuttle's PCT scheduler lowers a yielding thread's priority, so that a
/// spinner does not starve the thread it waits for).
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::hint::spin_loop();
    #[cfg(shuttle)]
    shuttle::thread::yield_now();
    #[cfg(not(any(loom, shuttle)))]
    std::hint::spin_loop();
}

/// Sleeps for `d` (one scheduler tick in the `pin-sleep` strategy, a device
/// read delay). Under loom and shuttle a sleep is just a yield point (a
/// yield, not shuttle's `sleep`, which is a plain context switch: under PCT
/// a sleeper that kept its priority could spin out the step bound).
#[inline]
pub(crate) fn sleep(d: std::time::Duration) {
    #[cfg(any(loom, shuttle))]
    {
        let _ = d;
        yield_now();
    }
    #[cfg(not(any(loom, shuttle)))]
    std::thread::sleep(d);
}

/// Locks `m`, ignoring poisoning (a panicking test thread must not turn
/// every later lock into a second panic that hides the first).
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tries to lock `m` without waiting, ignoring poisoning; `None` when it
/// is held.
#[inline]
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// A new swap cache: the process-wide epoch collector normally; under loom
/// and shuttle a collector owned by the model (see the `swapcache` crate
/// docs). Under shuttle this also keeps crossbeam's thread-local handle of
/// the global collector, which all model threads would share, out of use:
/// with a collector of its own every pin registers its own handle.
pub(crate) fn new_swap_cache<F: swapcache::Pointer>(nr_slots: u64) -> swapcache::SwapCache<F> {
    #[cfg(any(loom, shuttle))]
    return swapcache::SwapCache::with_collector(nr_slots, swapcache::epoch::Collector::new());
    #[cfg(not(any(loom, shuttle)))]
    return swapcache::SwapCache::new(nr_slots);
}

/// A small per-thread number for sharding (the frame free lists, the
/// counters; 0 under loom and shuttle): the shard the thread owns
/// ([`own_shard`]), or
/// the shared last one. Like a CPU number, it is reused by a later thread
/// once its owner exits.
#[inline]
pub(crate) fn shard() -> usize {
    #[cfg(any(loom, shuttle))]
    return 0;
    #[cfg(not(any(loom, shuttle)))]
    own_shard().unwrap_or(SHARDS - 1)
}

/// A statistics counter sharded by thread, so that threads faulting on
/// different CPUs do not bounce one cache line per I/O (the kernel's
/// per-CPU vm events). One shard under loom and shuttle.
///
/// A live thread owns one of the first `SHARDS - 1` shards of every
/// counter (see [`own_shard`]) and increments it with a plain load and
/// store, as `this_cpu_inc` needs no locked instruction: no other thread
/// writes that shard while its owner lives. Threads beyond that, and a
/// thread whose thread-locals are being torn down, share the last shard
/// with atomic increments.
#[derive(Debug)]
pub(crate) struct Counter {
    shards: Box<[crossbeam_utils::CachePadded<AtomicU64>]>,
}

const SHARDS: usize = if cfg!(any(loom, shuttle)) { 1 } else { 16 };

impl Default for Counter {
    fn default() -> Self {
        Counter {
            shards: (0..SHARDS)
                .map(|_| crossbeam_utils::CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }
}

/// The counter shard the calling thread owns exclusively, if any: taken
/// from a bitmap of the first `SHARDS - 1` shards on first use, given back
/// when the thread exits.
#[cfg(not(any(loom, shuttle)))]
#[inline]
fn own_shard() -> Option<usize> {
    use std::sync::atomic::{AtomicU32, Ordering};
    /// Bit i: shard i has a live owner.
    static OWNED: AtomicU32 = AtomicU32::new(0);
    const ALL: u32 = (1 << (SHARDS - 1)) - 1;
    struct Owner(Option<usize>);
    impl Owner {
        fn take() -> Owner {
            let mut cur = OWNED.load(Ordering::Relaxed);
            while cur & ALL != ALL {
                let i = (!cur).trailing_zeros() as usize;
                // Acquire: pairs with the Release of the previous owner's
                // exit, so this thread's first load of shard i sees that
                // owner's last store.
                match OWNED.compare_exchange_weak(
                    cur,
                    cur | 1 << i,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Owner(Some(i)),
                    Err(now) => cur = now,
                }
            }
            Owner(None)
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            if let Some(i) = self.0 {
                // Release: publishes this thread's stores to shard i to
                // the next owner (pairs with the Acquire in `take`).
                OWNED.fetch_and(!(1 << i), Ordering::Release);
            }
        }
    }
    std::thread_local! {
        static OWNER: Owner = Owner::take();
    }
    // `try_with`: during thread-local teardown the shard may already be
    // given back; then the shared shard is used.
    OWNER.try_with(|o| o.0).ok().flatten()
}

impl Counter {
    /// Adds one; returns a number unique to this increment.
    #[inline]
    pub(crate) fn bump(&self) -> u64 {
        #[cfg(not(any(loom, shuttle)))]
        if let Some(i) = own_shard() {
            let c = &self.shards[i];
            // Relaxed load and store: only this thread writes shard i while
            // it owns it (the ownership hand-over orders owners); readers
            // only sum.
            let v = c.load(Ordering::Relaxed);
            c.store(v + 1, Ordering::Relaxed);
            return v * SHARDS as u64 + i as u64;
        }
        let i = SHARDS - 1;
        // Relaxed: a statistic; it orders nothing.
        self.shards[i].fetch_add(1, Ordering::Relaxed) * SHARDS as u64 + i as u64
    }

    pub(crate) fn get(&self) -> u64 {
        self.shards.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn counter_is_exact_and_unique_across_owners_and_sharers() {
        const PER: u64 = if cfg!(miri) { 20 } else { 5_000 };
        let c = Arc::new(Counter::default());
        let mut all = HashSet::new();
        // Three waves: 40 concurrent threads (more than the owned shards,
        // so some share the last one), then waves that reuse the shards
        // the exited threads gave back.
        // Under miri (which spawns slowly) smaller waves, still more than
        // the 15 owned shards in the first.
        let waves: &[usize] = if cfg!(miri) {
            &[18, 4, 8]
        } else {
            &[40, 8, 20]
        };
        let threads: usize = waves.iter().sum();
        for &wave in waves {
            let hs: Vec<_> = (0..wave)
                .map(|_| {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || (0..PER).map(|_| c.bump()).collect::<Vec<_>>())
                })
                .collect();
            for h in hs {
                for n in h.join().unwrap() {
                    assert!(all.insert(n), "number {n} handed out twice");
                }
            }
        }
        assert_eq!(c.get(), threads as u64 * PER);
        assert_eq!(all.len() as u64, threads as u64 * PER);
    }
}
