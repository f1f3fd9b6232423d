//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`. Nothing else in the crate names `std::sync` atomics or
//! `loom` directly, so that every atomic and lock of the tree is visible to
//! the model checker.
//!
//! The epoch collector (`crossbeam-epoch`) is deliberately *not* routed
//! through here: see "Loom" in the crate documentation.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

/// Locks `m`, ignoring poisoning. The only caller code that runs inside a
/// tree's critical section is a predicate that is evaluated *before* the tree
/// is modified, so a panic in it cannot leave a half-updated tree behind.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
