//! loom models of the slot protocol, with 2-slot clusters.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p swapmap --test loom`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::thread;
use swapmap::{Freed, SlotState, SwapError, SwapMap};

/// A 4-slot map (slot 0 bad) in 2-slot clusters, counting notifications.
fn tiny() -> (Arc<SwapMap>, Arc<AtomicUsize>) {
    tiny_with_table(false)
}

/// [`tiny`], with a swap table if `table`.
fn tiny_with_table(table: bool) -> (Arc<SwapMap>, Arc<AtomicUsize>) {
    let notes = Arc::new(AtomicUsize::new(0));
    let n = notes.clone();
    let map = SwapMap::builder(4)
        .cluster_size(2)
        .swap_table(table)
        .free_notify(move |_| {
            n.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    (Arc::new(map), notes)
}

/// A slot with count `refs` and no cache flag, as after page-out.
fn swapped_out(m: &SwapMap, refs: u32) -> u64 {
    let s = m.alloc().unwrap();
    for _ in 0..refs {
        m.duplicate(s).unwrap();
    }
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    s
}

/// Model 1: Two racers on swapcache_prepare: exactly one wins.
#[test]
fn prepare_race_one_winner() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out(&m, 1);
        let m2 = m.clone();
        let t = thread::spawn(move || m2.swapcache_prepare(s));
        let a = m.swapcache_prepare(s);
        let b = t.join().unwrap();
        let wins = [a, b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{a:?} {b:?}");
        assert!([a, b].contains(&Err(SwapError::Exists { slot: s })));
        assert_eq!(
            m.state(s),
            Ok(SlotState::Used {
                count: 1,
                has_cache: true
            })
        );
        assert_eq!(notes.load(Ordering::Relaxed), 0);
    });
}

/// Model 2a: Prepare racing with the free of the last reference: freed exactly
/// once, notified exactly once, and a won pin is never lost.
#[test]
fn prepare_vs_free_last_reference() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out(&m, 1);
        let m2 = m.clone();
        let t = thread::spawn(move || m2.free(s).unwrap());
        let p = m.swapcache_prepare(s);
        let freed = t.join().unwrap();
        match p {
            Ok(()) => {
                // The pin came first: the free could not free the slot and
                // the cache bit survived the locked CAS.
                assert_eq!(freed, Freed::No);
                assert_eq!(
                    m.state(s),
                    Ok(SlotState::Used {
                        count: 0,
                        has_cache: true
                    })
                );
                assert_eq!(notes.load(Ordering::Relaxed), 0);
                assert_eq!(m.swapcache_clear(s), Ok(Freed::Yes));
            }
            Err(e) => {
                assert_eq!(e, SwapError::NoEntry { slot: s });
                assert_eq!(freed, Freed::Yes);
            }
        }
        assert_eq!(m.state(s), Ok(SlotState::Free));
        assert_eq!(notes.load(Ordering::Relaxed), 1);
        assert_eq!(m.stats().inuse_slots, 0);
    });
}

/// Model 2b: Prepare racing with both a swapcache_clear and the free of the last
/// reference on a slot held by the swap cache (count 1 + cache).
#[test]
fn prepare_vs_clear_and_free() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = m.alloc().unwrap();
        m.duplicate(s).unwrap(); // count 1 + cache: folio in the swap cache
        let (m1, m2) = (m.clone(), m.clone());
        let clear = thread::spawn(move || m1.swapcache_clear(s).unwrap());
        let free = thread::spawn(move || m2.free(s).unwrap());
        let p = m.swapcache_prepare(s);
        let freed = [clear.join().unwrap(), free.join().unwrap()];
        if p.is_ok() {
            // Our pin is the one holding the slot now.
            assert_eq!(freed, [Freed::No, Freed::No]);
            assert_eq!(
                m.state(s),
                Ok(SlotState::Used {
                    count: 0,
                    has_cache: true
                })
            );
            assert_eq!(m.swapcache_clear(s), Ok(Freed::Yes));
        } else {
            assert_eq!(freed.iter().filter(|&&f| f == Freed::Yes).count(), 1);
        }
        assert_eq!(m.state(s), Ok(SlotState::Free));
        assert_eq!(notes.load(Ordering::Relaxed), 1);
    });
}

/// Model 3: SYNC handoff: the owner writes the page and releases; a racer that
/// found the slot owned waits, then sees the owner's write (the release and
/// the waiter's load synchronise) and can take the slot itself.
#[test]
fn sync_handoff_with_waiter() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out(&m, 1);
        let page = Arc::new(AtomicU64::new(0));
        m.sync_acquire(s).unwrap();
        let (m2, page2) = (m.clone(), page.clone());
        let racer = thread::spawn(move || {
            loop {
                match m2.sync_acquire(s) {
                    Ok(()) => {
                        // Relaxed on purpose: visibility must come from the
                        // Release of sync_release and the Acquire of
                        // sync_wait / sync_acquire.
                        assert_eq!(page2.load(Ordering::Relaxed), 42);
                        return;
                    }
                    Err(SwapError::Sync { .. }) => {
                        m2.sync_wait(s).unwrap();
                        assert_eq!(page2.load(Ordering::Relaxed), 42);
                    }
                    Err(e) => panic!("racer: {e}"),
                }
            }
        });
        page.store(42, Ordering::Relaxed);
        assert_eq!(m.sync_release(s), Ok(Freed::No));
        racer.join().unwrap();
        assert_eq!(m.state(s), Ok(SlotState::Sync));
        m.sync_release_free(s).unwrap();
        assert_eq!(notes.load(Ordering::Relaxed), 1);
    });
}

/// Model 3b: A zap (free) during a sync swap-in, with a waiter: the slot is freed
/// exactly once, by the owner's release, and the waiter is released.
#[test]
fn sync_zap_during_swapin() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out(&m, 1);
        m.sync_acquire(s).unwrap();
        let (m1, m2) = (m.clone(), m.clone());
        let zap = thread::spawn(move || m1.free(s).unwrap());
        let waiter = thread::spawn(move || {
            m2.sync_wait(s).unwrap();
            m2.state(s).unwrap()
        });
        assert_eq!(zap.join().unwrap(), Freed::No);
        assert_eq!(m.sync_release(s), Ok(Freed::Yes));
        assert_ne!(waiter.join().unwrap(), SlotState::Sync);
        assert_eq!(notes.load(Ordering::Relaxed), 1);
    });
}

/// Model 4: Two allocators and a free on 2-slot clusters: never the same slot
/// twice, and the accounting adds up.
#[test]
fn two_allocators_and_a_free() {
    loom::model(|| {
        let (m, notes) = tiny();
        let held = swapped_out(&m, 1);
        let (m1, m2, m3) = (m.clone(), m.clone(), m.clone());
        let a1 = thread::spawn(move || m1.alloc());
        let a2 = thread::spawn(move || m2.alloc());
        let f = thread::spawn(move || m3.free(held).unwrap());
        let (x, y) = (a1.join().unwrap(), a2.join().unwrap());
        assert_eq!(f.join().unwrap(), Freed::Yes);
        // Three slots, one held until the free: both allocations succeed.
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_ne!(x, y);
        for s in [x, y] {
            assert_eq!(
                m.state(s),
                Ok(SlotState::Used {
                    count: 0,
                    has_cache: true
                })
            );
        }
        let st = m.stats();
        assert_eq!(st.inuse_slots, 2);
        assert_eq!(st.free_slots, 1);
        assert_eq!(notes.load(Ordering::Relaxed), 1);
    });
}

/// Model 7: The swap table: a reader that finds the value added under the pin
/// sees what the adder wrote before adding it (Release/Acquire), and the
/// owner's delete and pin release leave the slot free exactly once.
#[test]
fn swap_table_publish_and_delete() {
    use std::num::NonZeroU64;
    loom::model(|| {
        let (m, notes) = tiny_with_table(true);
        let s = swapped_out(&m, 1);
        let payload = Arc::new(AtomicU64::new(0));
        let (m2, p2) = (m.clone(), payload.clone());
        let reader = thread::spawn(move || {
            if let Ok(Some(v)) = m2.table_get(s) {
                assert_eq!(v.get(), 42);
                assert_eq!(p2.load(Ordering::Relaxed), 1, "published before the add");
            }
        });
        m.swapcache_prepare(s).unwrap();
        payload.store(1, Ordering::Relaxed);
        m.table_add(s, NonZeroU64::new(42).unwrap()).unwrap();
        m.table_del(s, NonZeroU64::new(42).unwrap()).unwrap();
        assert_eq!(m.free_and_clear(s), Ok(Freed::Yes));
        reader.join().unwrap();
        assert_eq!(m.table_len(), 0);
        assert_eq!(notes.load(Ordering::Relaxed), 1);
    });
}

/// Model 8: Readahead's locked pin + add against the put of the last reference:
/// either the put came first (the pin is refused: the slot is free), or
/// the putter, seeing the slot left cache-only, finds the added value.
#[test]
fn swap_table_add_many_vs_last_put() {
    use std::num::NonZeroU64;
    loom::model(|| {
        let (m, _) = tiny_with_table(true);
        let s = swapped_out(&m, 1);
        let m2 = m.clone();
        let putter = thread::spawn(move || {
            let freed = m2.free(s).unwrap();
            // Cache-only left behind: the orphan must be findable.
            if freed == Freed::No {
                assert_eq!(m2.table_get(s).unwrap().map(|v| v.get()), Some(42));
            }
            freed
        });
        let mut r = [Ok(())];
        m.table_prepare_add_many(&[(s, NonZeroU64::new(42).unwrap())], &mut r);
        let freed = putter.join().unwrap();
        match r[0] {
            Ok(()) => {
                assert_eq!(freed, Freed::No);
                assert_eq!(m.table_len(), 1);
            }
            Err(e) => {
                assert_eq!(e, SwapError::NoEntry { slot: s });
                assert_eq!(freed, Freed::Yes);
                assert_eq!(m.table_len(), 0);
            }
        }
    });
}

/// The slots 2 and 3 (cluster 1) as after the swap-out of an order-1 folio:
/// count 1, no cache flag.
fn swapped_out_pair(m: &SwapMap) -> u64 {
    let s = m.alloc_order(1).unwrap().unwrap();
    m.duplicate_nr(s, 2).unwrap();
    assert_eq!(m.swapcache_clear_nr(s, 2), Ok(0));
    s
}

/// Model 9 (large folios): a range pin of an order-1 swap-in racing an
/// order-0 pin of its second slot: exactly one wins that slot; a failed
/// range leaves its first slot unpinned (the undo), a won range holds both.
#[test]
fn range_pin_vs_single_pin() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out_pair(&m);
        let m2 = m.clone();
        let t = thread::spawn(move || m2.swapcache_prepare_single(s + 1));
        let range = m.swapcache_prepare_single_nr(s, 2);
        let single = t.join().unwrap();
        let pinned = |x| {
            m.state(x)
                == Ok(SlotState::Used {
                    count: 1,
                    has_cache: true,
                })
        };
        match (range, single) {
            (Ok(()), Err(SwapError::Exists { slot })) => {
                assert_eq!(slot, s + 1);
                assert!(pinned(s) && pinned(s + 1));
            }
            (Err(SwapError::Exists { slot }), Ok(())) => {
                assert_eq!(slot, s + 1);
                assert!(!pinned(s), "the failed range left its pin on {s}");
                assert!(pinned(s + 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(notes.load(Ordering::Relaxed), 0);
    });
}

/// Model 10 (large folios): the end of an order-1 swap-in
/// (`free_and_clear_nr`) racing an order-0 swap-in's pin of one subpage:
/// the pin fails while the range holds it, or finds the slot free after;
/// each slot is freed and notified exactly once.
#[test]
fn range_free_and_clear_vs_single_pin() {
    loom::model(|| {
        let (m, notes) = tiny();
        let s = swapped_out_pair(&m);
        m.swapcache_prepare_single_nr(s, 2).unwrap();
        let m2 = m.clone();
        let t = thread::spawn(move || m2.swapcache_prepare(s + 1));
        assert_eq!(m.free_and_clear_nr(s, 2), Ok(2));
        let single = t.join().unwrap();
        assert!(
            matches!(
                single,
                Err(SwapError::Exists { .. } | SwapError::NoEntry { .. })
            ),
            "{single:?}"
        );
        assert_eq!(m.state(s), Ok(SlotState::Free));
        assert_eq!(m.state(s + 1), Ok(SlotState::Free));
        assert_eq!(notes.load(Ordering::Relaxed), 2);
    });
}
