//! Synchronisation facade: std's primitives normally, loom's under
//! `RUSTFLAGS="--cfg loom"`, shuttle's under `RUSTFLAGS="--cfg shuttle"`.
//! Only this module names `loom` or `shuttle`.
//!
//! [`Mutex::lock`] ignores poisoning: no critical section in this crate calls
//! user code, so a poisoned lock can only follow a bug in the crate itself,
//! and the tree invariants are re-checked by the tests.

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::{Mutex as Inner, MutexGuard};

// shuttle's `Arc` is std's.
#[cfg(shuttle)]
pub(crate) use shuttle::sync::Arc;
#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(shuttle)]
use shuttle::sync::{Mutex as Inner, MutexGuard};

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::Arc;
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(any(loom, shuttle)))]
use std::sync::{Mutex as Inner, MutexGuard};

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` are exclusive: build one at a time");

/// Turns a fresh (unique) `std::sync::Arc`, possibly unsized by coercion,
/// into the facade's `Arc`: the identity normally (and under shuttle, whose
/// `Arc` is std's), `loom::sync::Arc::from_std` under loom (loom's `Arc`
/// cannot be unsized itself).
#[cfg(not(loom))]
pub(crate) fn arc_from_std<T: ?Sized>(arc: std::sync::Arc<T>) -> Arc<T> {
    arc
}

/// Turns a fresh (unique) `std::sync::Arc`, possibly unsized by coercion,
/// into the facade's `Arc`: the identity normally, `loom::sync::Arc::from_std`
/// under loom (loom's `Arc` cannot be unsized itself).
#[cfg(loom)]
pub(crate) fn arc_from_std<T: ?Sized>(arc: std::sync::Arc<T>) -> Arc<T> {
    Arc::from_std(arc)
}

/// A mutex whose `lock` returns the guard directly (poisoning is ignored).
pub(crate) struct Mutex<T>(Inner<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Inner::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
