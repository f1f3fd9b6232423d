//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`. Nothing else in the crate names `std::sync` or `loom`
//! directly, so that every atomic and lock is visible to the model checker.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

pub(crate) use std::sync::atomic::Ordering;

/// A CPU relax hint inside a spin loop. Under loom this is a yield point so
/// that the model can schedule the thread being waited for.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::hint::spin_loop();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Locks `m`, ignoring poisoning: every critical section in this crate
/// finishes its bookkeeping before it runs caller code (the free-notify hook),
/// so a panic in a hook cannot leave a half-updated cluster behind.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
