//! The synchronisation facade: std primitives normally, loom's under
//! `--cfg loom`, shuttle's under `--cfg shuttle`. Nothing else in the crate
//! names `std::sync`, `loom` or `shuttle` directly, so that every atomic and
//! lock is visible to the model checker (loom) or the randomized scheduler
//! (shuttle).

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` are exclusive: build one at a time");

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{Mutex, MutexGuard};
#[cfg(shuttle)]
pub(crate) use shuttle::thread::yield_now;

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::thread::yield_now;

pub(crate) use std::sync::atomic::Ordering;

/// A CPU relax hint inside a spin loop. Under loom and shuttle this is a
/// yield point so that the model can schedule the thread being waited for
/// (shuttle's PCT scheduler also lowers a yielding thread's priority, so a
/// spinner cannot starve the thread it waits for).
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::hint::spin_loop();
    #[cfg(shuttle)]
    shuttle::thread::yield_now();
    #[cfg(not(any(loom, shuttle)))]
    std::hint::spin_loop();
}

/// Locks `m`, ignoring poisoning: every critical section in this crate
/// finishes its bookkeeping before it runs caller code (the free-notify hook),
/// so a panic in a hook cannot leave a half-updated cluster behind.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This thread's "CPU": an index into the per-CPU current clusters. Only a
/// placement hint; correctness never depends on it.
#[cfg(not(any(loom, shuttle)))]
pub(crate) fn this_cpu() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    std::thread_local! {
        static THIS_CPU: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    // Round-robin numbering of threads; Relaxed: a counter, nothing else.
    static NEXT_CPU: AtomicUsize = AtomicUsize::new(0);
    THIS_CPU.with(|c| {
        if c.get() == usize::MAX {
            c.set(NEXT_CPU.fetch_add(1, Ordering::Relaxed));
        }
        c.get()
    })
}

/// Under loom the hint must be the same in every execution of a model. The
/// `ThreadId` itself carries the execution's id, so only the thread number
/// that its `Debug` form prints ("ThreadId(3)") is used.
#[cfg(loom)]
pub(crate) fn this_cpu() -> usize {
    let id = format!("{:?}", loom::thread::current().id());
    id.bytes()
        .filter(u8::is_ascii_digit)
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))
}

/// Under shuttle every model thread runs on the test's OS thread (std
/// thread-locals are shared), and the hint must be the same in every replay
/// of a schedule: the shuttle task number.
#[cfg(shuttle)]
pub(crate) fn this_cpu() -> usize {
    usize::from(shuttle::thread::current().id())
}
