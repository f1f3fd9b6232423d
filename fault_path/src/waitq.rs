//! A wait queue with a timeout, as 01626a182302's `swapcache_wq`: a racer
//! that finds the swap-in pin taken sleeps for up to one tick on the queue,
//! and the pin holder wakes the queue after dropping the pin, but only when
//! someone is waiting (`waitqueue_active`), so the common path pays one
//! load.

use std::time::Duration;

use crate::sync::{AtomicU32, AtomicU64, Ordering};

pub(crate) struct WaitQueue {
    waiters: AtomicU32,
    generation: AtomicU64,
    #[cfg(not(any(loom, shuttle)))]
    lock: std::sync::Mutex<()>,
    #[cfg(not(any(loom, shuttle)))]
    cv: std::sync::Condvar,
}

impl WaitQueue {
    pub(crate) fn new() -> Self {
        WaitQueue {
            waiters: AtomicU32::new(0),
            generation: AtomicU64::new(0),
            #[cfg(not(any(loom, shuttle)))]
            lock: std::sync::Mutex::new(()),
            #[cfg(not(any(loom, shuttle)))]
            cv: std::sync::Condvar::new(),
        }
    }

    /// `add_wait_queue`, `schedule_timeout_uninterruptible(timeout)`,
    /// `remove_wait_queue`. Returns whether a wake-up (rather than the
    /// timeout) ended the wait. A wake-up issued before the waiter was added
    /// is missed and the waiter sleeps out its tick, as in the kernel.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        // SeqCst: the waiter count and the holder's pin release form a
        // store-buffering pair (waiter: count++, then sleep; holder: clear
        // the pin, then read the count); SeqCst on both sides bounds the
        // missed wake-ups to the window the kernel also has.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let g = self.generation.load(Ordering::SeqCst);
        #[cfg(not(any(loom, shuttle)))]
        let woken = {
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let (_guard, res) = self
                .cv
                .wait_timeout_while(guard, timeout, |_| {
                    // SeqCst: the wake-up's generation bump (see above).
                    self.generation.load(Ordering::SeqCst) == g
                })
                .unwrap_or_else(|e| e.into_inner());
            !res.timed_out()
        };
        #[cfg(any(loom, shuttle))]
        let woken = {
            let _ = timeout;
            // A tick is a couple of scheduling points.
            let mut woken = false;
            for _ in 0..2 {
                // SeqCst: as in the std branch.
                if self.generation.load(Ordering::SeqCst) != g {
                    woken = true;
                    break;
                }
                crate::sync::yield_now();
            }
            woken
        };
        // SeqCst: the other half of the waiter count's pair.
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        woken
    }

    /// `if (waitqueue_active(&swapcache_wq)) wake_up(&swapcache_wq)`.
    /// Returns whether it woke anyone.
    pub(crate) fn wake_if_waiters(&self) -> bool {
        // SeqCst: see `wait`.
        if self.waiters.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        #[cfg(not(any(loom, shuttle)))]
        {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_all();
        }
        true
    }
}
