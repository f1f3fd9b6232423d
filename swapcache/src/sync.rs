//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`, shuttle's under `--cfg shuttle`. Nothing else in the crate
//! names `std::sync` atomics, `loom` or `shuttle` directly, so that every
//! atomic and lock of the tree is visible to the model checker (or to
//! shuttle's scheduler).
//!
//! The epoch collector (`crossbeam-epoch`) is deliberately *not* routed
//! through here: see "Loom" and "Shuttle" in the crate documentation.

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` are exclusive: build one at a time");

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

// shuttle's `Arc` is std's (reference counts need no scheduling points).
#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

/// Locks `m`, ignoring poisoning. The only caller code that runs inside a
/// tree's critical section is a predicate that is evaluated *before* the tree
/// is modified, so a panic in it cannot leave a half-updated tree behind.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A load by a holder of the lock under which *every* store to the atomic is
/// made. Under loom this is `unsync_load`, which checks that claim (every
/// store must happen-before the load) and, unlike an atomic load, does not
/// hide a reader's earlier load from loom's partial-order reduction when the
/// writer then stores to the same atomic.
pub(crate) trait LoadLocked {
    /// The value type.
    type Value;
    /// See the trait.
    fn load_locked(&self) -> Self::Value;
}

impl<T> LoadLocked for AtomicPtr<T> {
    type Value = *mut T;

    #[inline]
    fn load_locked(&self) -> *mut T {
        #[cfg(loom)]
        // SAFETY: callers hold the lock that every store to this atomic is
        // made under (or have `&mut` of its owner), so no store is
        // concurrent with this load; loom checks it.
        return unsafe { self.unsync_load() };
        #[cfg(not(loom))]
        // Relaxed: the lock orders this load after every store.
        return self.load(Ordering::Relaxed);
    }
}

impl LoadLocked for AtomicUsize {
    type Value = usize;

    #[inline]
    fn load_locked(&self) -> usize {
        #[cfg(loom)]
        // SAFETY: as for `AtomicPtr`.
        return unsafe { self.unsync_load() };
        #[cfg(not(loom))]
        // Relaxed: as for `AtomicPtr`.
        return self.load(Ordering::Relaxed);
    }
}

/// Resets atomics that the caller owns exclusively: those of a recycled
/// node, which no other thread can reach any more (see `NodeCache` in
/// `xarray.rs`).
pub(crate) trait ResetOwned {
    /// The value type.
    type Value;
    /// Sets the value through `&mut self`.
    fn reset_owned(&mut self, value: Self::Value);
}

impl<T> ResetOwned for AtomicPtr<T> {
    type Value = *mut T;

    #[inline]
    fn reset_owned(&mut self, value: *mut T) {
        // Under loom, an atomic store rather than `with_mut`: the node's
        // readers of its previous life are ordered before us only through
        // crossbeam-epoch, which loom cannot see, so loom would report a
        // non-atomic write racing with their (atomic) loads. Every later
        // access is by a holder of the tree's lock, which is also the thread
        // making this store, so `load_locked` still checks them.
        #[cfg(loom)]
        self.store(value, Ordering::Relaxed);
        // A plain write (`&mut`): lets the compiler clear a node's slots with
        // one `memset`.
        #[cfg(not(loom))]
        {
            *self.get_mut() = value;
        }
    }
}

impl ResetOwned for AtomicUsize {
    type Value = usize;

    #[inline]
    fn reset_owned(&mut self, value: usize) {
        // As for `AtomicPtr`.
        #[cfg(loom)]
        self.store(value, Ordering::Relaxed);
        #[cfg(not(loom))]
        {
            *self.get_mut() = value;
        }
    }
}

/// A field written once, when its owner is created, and only read after the
/// owner is published. Under loom it is a `loom::cell::UnsafeCell`, so that
/// a read from a thread the publication does not happen-before is reported.
#[cfg(loom)]
pub(crate) struct Frozen<T>(loom::cell::UnsafeCell<T>);

#[cfg(loom)]
impl<T: Copy> Frozen<T> {
    pub(crate) fn new(value: T) -> Self {
        Frozen(loom::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(crate) fn get(&self) -> T {
        // SAFETY: the cell is never written after `new` (there is no
        // setter), so reads cannot race with a write.
        self.0.with(|p| unsafe { *p })
    }
}

/// See the loom version: a plain value outside loom.
#[cfg(not(loom))]
pub(crate) struct Frozen<T>(T);

#[cfg(not(loom))]
impl<T: Copy> Frozen<T> {
    pub(crate) fn new(value: T) -> Self {
        Frozen(value)
    }

    #[inline]
    pub(crate) fn get(&self) -> T {
        self.0
    }
}

/// Under loom, a `SeqCst` fence standing in for the ones crossbeam-epoch
/// executes but loom cannot see (its atomics are std's): the fence in
/// `pin` (after a reader announces its epoch, before it reads the tree) and
/// the one in `try_advance` (after a writer unlinked a node, before garbage
/// of its epoch can be freed). Without them loom's weak-memory model lets a
/// reader that pinned after a node was retired still load the stale pointer
/// to it, then read it after the collector freed it: an execution the real
/// fences forbid. With them: if the writer's fence comes first in the total
/// order, the reader's later loads see the unlinking store; if the reader's
/// comes first, the reader was pinned before the retirement (loom runs one
/// thread at a time, so crossbeam sees it pinned) and the node outlives it.
/// A no-op outside loom, and under shuttle, whose executions are
/// sequentially consistent (one thread runs at a time and its atomics are
/// std's, so crossbeam's own fences are all it needs).
#[inline]
pub(crate) fn epoch_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}
