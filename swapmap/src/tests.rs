//! Unit tests: every transition and every error of the slot state machine.

use std::num::NonZeroU64;
use std::sync::{Arc, Mutex as StdMutex};

use crate::*;

fn map_with_log(n: u64, cs: u32) -> (SwapMap, Arc<StdMutex<Vec<u64>>>) {
    let log = Arc::new(StdMutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let m = SwapMap::builder(n)
        .cluster_size(cs)
        .free_notify(move |s| sink.lock().unwrap().push(s))
        .build()
        .unwrap();
    (m, log)
}

fn taken(log: &StdMutex<Vec<u64>>) -> Vec<u64> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// A slot with count 1 and no cache, as after page-out.
fn swapped_out(m: &SwapMap) -> u64 {
    let s = m.alloc().unwrap();
    m.duplicate(s).unwrap();
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    s
}

/// A 16-slot map in 4-slot clusters with a swap table.
fn table_map() -> SwapMap {
    SwapMap::builder(16)
        .cluster_size(4)
        .swap_table(true)
        .build()
        .unwrap()
}

/// A swap-table value.
fn v(x: u64) -> NonZeroU64 {
    NonZeroU64::new(x).unwrap()
}

#[test]
fn config_errors() {
    assert_eq!(SwapMap::new(0).unwrap_err(), ConfigError::TooFewSlots(0));
    assert_eq!(SwapMap::new(1).unwrap_err(), ConfigError::TooFewSlots(1));
    assert_eq!(
        SwapMap::new(MAX_SLOTS + 1).unwrap_err(),
        ConfigError::TooManySlots(MAX_SLOTS + 1)
    );
    for cs in [0, 1, 3, 100, 1 << 17] {
        assert_eq!(
            SwapMap::builder(16).cluster_size(cs).build().unwrap_err(),
            ConfigError::ClusterSize(cs)
        );
    }
    assert_eq!(
        SwapMap::builder(16).percpu_clusters(0).build().unwrap_err(),
        ConfigError::NoPercpu
    );
    assert!(
        ConfigError::ClusterSize(3)
            .to_string()
            .contains("power of two")
    );
}

#[test]
fn fresh_map_slot0_is_bad() {
    let m = SwapMap::builder(10).cluster_size(4).build().unwrap();
    assert_eq!(m.state(0), Ok(SlotState::Bad));
    assert_eq!(m.state(1), Ok(SlotState::Free));
    let s = m.stats();
    assert_eq!(
        (s.nr_slots, s.bad_slots, s.free_slots, s.inuse_slots),
        (10, 1, 9, 0)
    );
    // 3 clusters: [0 bad,1,2,3] nonfull, [4..8] free, [8,9 + 2 padding] nonfull.
    assert_eq!(
        (s.free_clusters, s.nonfull_clusters, s.full_clusters),
        (1, 2, 0)
    );
    m.check_consistency();
}

#[test]
fn alloc_sets_cache_with_count_zero_and_exhausts() {
    let (m, log) = map_with_log(10, 4);
    let mut got = Vec::new();
    while let Some(s) = m.alloc() {
        assert_eq!(
            m.state(s),
            Ok(SlotState::Used {
                count: 0,
                has_cache: true
            })
        );
        got.push(s);
    }
    got.sort();
    assert_eq!(got, (1..10).collect::<Vec<_>>());
    let st = m.stats();
    assert_eq!((st.free_slots, st.inuse_slots, st.cached_slots), (0, 9, 9));
    assert_eq!((st.full_clusters, st.allocs, st.alloc_failures), (3, 9, 1));
    m.check_consistency();
    // Dropping the cache of an unreferenced slot frees it, and it is reused.
    assert_eq!(m.swapcache_clear(5), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![5]);
    assert_eq!(m.alloc(), Some(5));
    m.check_consistency();
}

#[test]
fn out_of_range_everywhere() {
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    let e = Err(SwapError::OutOfRange {
        slot: 8,
        nr_slots: 8,
    });
    assert_eq!(m.duplicate(8), e);
    assert_eq!(m.duplicate_if_single(8), e);
    assert_eq!(m.swapcache_prepare(8), e);
    assert_eq!(m.swapcache_clear(8).map(|_| ()), e);
    assert_eq!(
        m.free(u64::MAX).map(|_| ()),
        Err(SwapError::OutOfRange {
            slot: u64::MAX,
            nr_slots: 8
        })
    );
    assert_eq!(m.sync_acquire(8), e);
    assert_eq!(m.sync_release(8).map(|_| ()), e);
    assert_eq!(m.sync_release_free(8), e);
    assert_eq!(m.sync_wait(8).map(|_| ()), e);
    assert_eq!(m.mark_bad(8), e);
    assert_eq!(m.count(8).map(|_| ()), e);
    assert_eq!(m.count_locked(8).map(|_| ()), e);
    assert_eq!(m.has_cache(8).map(|_| ()), e);
    assert_eq!(m.state(8).map(|_| ()), e);
}

#[test]
fn free_slot_is_refused_and_unchanged() {
    let (m, log) = map_with_log(8, 4);
    let before = m.stats();
    assert_eq!(m.free(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(m.swapcache_clear(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(m.duplicate(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(
        m.duplicate_if_single(3),
        Err(SwapError::NoEntry { slot: 3 })
    );
    assert_eq!(m.swapcache_prepare(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(m.sync_acquire(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(m.sync_release(3), Err(SwapError::NoEntry { slot: 3 }));
    assert_eq!(m.sync_release_free(3), Err(SwapError::NotSync { slot: 3 }));
    assert_eq!(m.count(3), Ok(0));
    assert_eq!(m.count_locked(3), Ok(0));
    assert_eq!(m.has_cache(3), Ok(false));
    assert_eq!(m.stats(), before);
    assert!(taken(&log).is_empty());
}

#[test]
fn bad_slots_are_refused() {
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    assert_eq!(m.mark_bad(5), Ok(()));
    for s in [0, 5] {
        let e = SwapError::Bad { slot: s };
        assert_eq!(m.duplicate(s), Err(e));
        assert_eq!(m.duplicate_if_single(s), Err(e));
        assert_eq!(m.swapcache_prepare(s), Err(e));
        assert_eq!(m.swapcache_clear(s), Err(e));
        assert_eq!(m.free(s), Err(e));
        assert_eq!(m.sync_acquire(s), Err(e));
        assert_eq!(m.sync_release(s), Err(e));
        assert_eq!(m.sync_release_free(s), Err(SwapError::NotSync { slot: s }));
        assert_eq!(m.mark_bad(s), Err(e));
        assert_eq!(m.count(s), Err(e));
        assert_eq!(m.count_locked(s), Err(e));
        assert_eq!(m.has_cache(s), Err(e));
    }
    assert_eq!(m.stats().bad_slots, 2);
    // A bad slot is never handed out.
    let mut got: Vec<u64> = std::iter::from_fn(|| m.alloc()).collect();
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 6, 7]);
    assert_eq!(m.mark_bad(6), Err(SwapError::InUse { slot: 6 }));
    m.check_consistency();
}

#[test]
fn pageout_lifecycle_and_notify_once() {
    let (m, log) = map_with_log(16, 4);
    let s = m.alloc().unwrap(); // folio_alloc_swap: cache only
    m.duplicate(s).unwrap(); // try_to_unmap: one PTE
    m.duplicate(s).unwrap(); // a second mapping (fork)
    assert_eq!(
        m.state(s),
        Ok(SlotState::Used {
            count: 2,
            has_cache: true
        })
    );
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No)); // writeback done, folio dropped
    assert_eq!(m.swapcache_clear(s), Err(SwapError::NotCached { slot: s }));
    assert_eq!(m.free(s), Ok(Freed::No));
    assert_eq!(m.count(s), Ok(1));
    assert!(taken(&log).is_empty());
    assert_eq!(m.free(s), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![s]);
    assert_eq!(m.free(s), Err(SwapError::NoEntry { slot: s }));
    assert!(taken(&log).is_empty());
    m.check_consistency();
}

#[test]
fn cache_only_slot_has_no_count_to_free() {
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    let s = m.alloc().unwrap();
    assert_eq!(m.free(s), Err(SwapError::NoCount { slot: s }));
    assert_eq!(
        m.state(s),
        Ok(SlotState::Used {
            count: 0,
            has_cache: true
        })
    );
}

#[test]
fn prepare_and_clear() {
    let (m, log) = map_with_log(8, 4);
    let s = swapped_out(&m);
    assert_eq!(m.swapcache_prepare(s), Ok(()));
    assert_eq!(m.swapcache_prepare(s), Err(SwapError::Exists { slot: s }));
    assert_eq!(m.has_cache(s), Ok(true));
    // The last reference goes while the cache pin is held: not freed yet.
    assert_eq!(m.free(s), Ok(Freed::No));
    assert_eq!(
        m.state(s),
        Ok(SlotState::Used {
            count: 0,
            has_cache: true
        })
    );
    assert!(taken(&log).is_empty());
    assert_eq!(m.swapcache_clear(s), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![s]);
}

#[test]
fn continuation_counts_to_a_million_and_back() {
    let (m, log) = map_with_log(8, 4);
    let s = swapped_out(&m);
    const N: u64 = if cfg!(miri) { 500 } else { 1_000_000 };
    for _ in 1..N {
        m.duplicate(s).unwrap();
    }
    assert_eq!(m.count(s), Ok(N));
    assert_eq!(m.count_locked(s), Ok(N));
    assert_eq!(m.stats().continued_slots, 1);
    // The cache flag rides along with a continued count.
    m.swapcache_prepare(s).unwrap();
    assert_eq!(
        m.state(s),
        Ok(SlotState::Used {
            count: N,
            has_cache: true
        })
    );
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    for i in (1..N).rev() {
        assert_eq!(m.free(s), Ok(Freed::No));
        if i % 997 == 0 || i < 130 {
            assert_eq!(m.count(s), Ok(i));
        }
    }
    assert_eq!(m.stats().continued_slots, 0);
    assert_eq!(m.free(s), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![s]);
    m.check_consistency();
}

#[test]
fn continuation_overflow_leaves_map_unchanged() {
    let m = SwapMap::builder(8)
        .cluster_size(4)
        .continuation_limit(2)
        .build()
        .unwrap();
    let s = swapped_out(&m);
    // Largest count with digit limit 2: 62 + 63 * 2 = 188.
    for _ in 1..188 {
        m.duplicate(s).unwrap();
    }
    assert_eq!(m.count(s), Ok(188));
    assert_eq!(m.duplicate(s), Err(SwapError::CountOverflow { slot: s }));
    assert_eq!(m.count(s), Ok(188));
    assert_eq!(m.free(s), Ok(Freed::No));
    assert_eq!(m.duplicate(s), Ok(()));
    assert_eq!(m.count(s), Ok(188));
}

#[test]
fn duplicate_if_single() {
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    let s = swapped_out(&m);
    assert_eq!(m.duplicate_if_single(s), Ok(()));
    assert_eq!(m.count(s), Ok(2));
    assert_eq!(
        m.duplicate_if_single(s),
        Err(SwapError::NotSingle { slot: s })
    );
    let t = m.alloc().unwrap();
    assert_eq!(
        m.duplicate_if_single(t),
        Err(SwapError::NotSingle { slot: t })
    );
    m.duplicate(t).unwrap();
    // Count 1 with the cache flag set (a page-out still writing it) is
    // refused: the swap-in must take the swap-cache path.
    assert_eq!(m.duplicate_if_single(t), Err(SwapError::Exists { slot: t }));
    assert_eq!(
        m.state(t),
        Ok(SlotState::Used {
            count: 1,
            has_cache: true
        })
    );
    assert_eq!(m.swapcache_clear(t), Ok(Freed::No));
    assert_eq!(m.duplicate_if_single(t), Ok(()));
    assert_eq!(m.count(t), Ok(2));
}

#[test]
fn sync_acquire_release_keep() {
    let (m, log) = map_with_log(8, 4);
    let s = swapped_out(&m);
    assert_eq!(m.sync_acquire(s), Ok(()));
    assert_eq!(m.state(s), Ok(SlotState::Sync));
    assert_eq!(m.count(s), Ok(1));
    assert_eq!(m.has_cache(s), Ok(true));
    assert_eq!(m.sync_acquire(s), Err(SwapError::Sync { slot: s }));
    assert_eq!(m.swapcache_prepare(s), Err(SwapError::Exists { slot: s }));
    assert_eq!(m.duplicate(s), Err(SwapError::Sync { slot: s }));
    assert_eq!(m.duplicate_if_single(s), Err(SwapError::Sync { slot: s }));
    assert_eq!(m.swapcache_clear(s), Err(SwapError::Sync { slot: s }));
    assert_eq!(m.mark_bad(s), Err(SwapError::InUse { slot: s }));
    assert_eq!(m.stats().sync_slots, 1);
    assert_eq!(m.sync_release(s), Ok(Freed::No));
    assert_eq!(
        m.state(s),
        Ok(SlotState::Used {
            count: 1,
            has_cache: false
        })
    );
    assert_eq!(m.sync_wait(s), Ok(SyncWait::default()));
    assert_eq!(m.sync_release(s), Err(SwapError::NotSync { slot: s }));
    assert_eq!(m.sync_release_free(s), Err(SwapError::NotSync { slot: s }));
    assert!(taken(&log).is_empty());
}

#[test]
fn sync_release_free_and_zap_during_sync() {
    let (m, log) = map_with_log(8, 4);
    let s = swapped_out(&m);
    m.sync_acquire(s).unwrap();
    assert_eq!(m.sync_release_free(s), Ok(()));
    assert_eq!(m.state(s), Ok(SlotState::Free));
    assert_eq!(taken(&log), vec![s]);

    // A zap (free) while the swap-in owns the slot keeps the pin; the
    // owner's release then frees the slot, exactly once.
    let t = swapped_out(&m);
    m.sync_acquire(t).unwrap();
    assert_eq!(m.free(t), Ok(Freed::No));
    assert_eq!(
        m.state(t),
        Ok(SlotState::Used {
            count: 0,
            has_cache: true
        })
    );
    assert_eq!(m.sync_release_free(t), Err(SwapError::NotSync { slot: t }));
    assert!(taken(&log).is_empty());
    assert_eq!(m.sync_release(t), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![t]);
    m.check_consistency();
}

#[test]
fn sync_acquire_needs_single_unpinned() {
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    let s = m.alloc().unwrap();
    assert_eq!(m.sync_acquire(s), Err(SwapError::Exists { slot: s }));
    m.duplicate(s).unwrap();
    m.duplicate(s).unwrap();
    assert_eq!(m.swapcache_clear(s), Ok(Freed::No));
    assert_eq!(m.sync_acquire(s), Err(SwapError::NotSingle { slot: s }));
}

#[test]
fn sync_wait_spins_then_yields_until_released() {
    let m = Arc::new(SwapMap::builder(8).cluster_size(4).build().unwrap());
    let s = swapped_out(&m);
    m.sync_acquire(s).unwrap();
    let m2 = Arc::clone(&m);
    let waiter = std::thread::spawn(move || m2.sync_wait(s).unwrap());
    // No timing assertion: only give the waiter a chance to exhaust its
    // spin budget before the release.
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(m.sync_release(s), Ok(Freed::No));
    let w = waiter.join().unwrap();
    assert!(w.spins <= SYNC_SPIN_LIMIT);
    assert!(w.yields == 0 || w.spins == SYNC_SPIN_LIMIT);
}

#[test]
fn iter_used_and_stats() {
    let m = SwapMap::builder(12).cluster_size(4).build().unwrap();
    let a = swapped_out(&m);
    let b = m.alloc().unwrap();
    let c = swapped_out(&m);
    m.sync_acquire(c).unwrap();
    let mut want = vec![
        (
            a,
            SlotState::Used {
                count: 1,
                has_cache: false,
            },
        ),
        (
            b,
            SlotState::Used {
                count: 0,
                has_cache: true,
            },
        ),
        (c, SlotState::Sync),
    ];
    want.sort_by_key(|x| x.0);
    assert_eq!(m.iter_used().collect::<Vec<_>>(), want);
    let st = m.stats();
    assert_eq!((st.inuse_slots, st.cached_slots, st.sync_slots), (3, 2, 1));
    assert_eq!(st.inuse_slots + st.free_slots + st.bad_slots, st.nr_slots);
}

#[test]
fn clusters_move_between_lists() {
    let m = SwapMap::builder(8)
        .cluster_size(4)
        .percpu_clusters(1)
        .build()
        .unwrap();
    let slots: Vec<u64> = std::iter::from_fn(|| m.alloc()).collect();
    assert_eq!(slots.len(), 7);
    let st = m.stats();
    assert_eq!(
        (st.free_clusters, st.nonfull_clusters, st.full_clusters),
        (0, 0, 2)
    );
    for &s in &slots {
        assert_eq!(m.swapcache_clear(s), Ok(Freed::Yes));
        m.check_consistency();
    }
    let st = m.stats();
    // Cluster 0 keeps the bad header slot: nonfull, never free.
    assert_eq!(
        (st.free_clusters, st.nonfull_clusters, st.full_clusters),
        (1, 1, 0)
    );
}

#[test]
fn slot_state_helpers() {
    assert_eq!(SlotState::Free.count(), 0);
    assert_eq!(SlotState::Sync.count(), 1);
    assert!(SlotState::Sync.has_cache());
    assert!(!SlotState::Bad.has_cache());
    assert_eq!(SWAP_MAP_SYNC, 0x7f);
    assert!(SwapError::Exists { slot: 3 }.to_string().contains('3'));
}

#[test]
fn free_and_clear_drops_reference_and_pin_together() {
    let (m, log) = map_with_log(8, 4);
    let s = swapped_out(&m);
    // Without the pin it is refused, unchanged.
    assert_eq!(m.free_and_clear(s), Err(SwapError::NotCached { slot: s }));
    m.swapcache_prepare(s).unwrap();
    assert_eq!(m.free_and_clear(s), Ok(Freed::Yes));
    assert_eq!(taken(&log), vec![s]);
    // A shared slot keeps its other reference.
    let t = swapped_out(&m);
    m.duplicate(t).unwrap();
    m.swapcache_prepare(t).unwrap();
    assert_eq!(m.free_and_clear(t), Ok(Freed::No));
    assert_eq!(
        m.state(t),
        Ok(SlotState::Used {
            count: 1,
            has_cache: false
        })
    );
    // A cache-only slot has no reference to drop; SYNC is refused.
    let u = m.alloc().unwrap();
    assert_eq!(m.free_and_clear(u), Err(SwapError::NoCount { slot: u }));
    assert_eq!(m.sync_acquire(t), Ok(()));
    assert_eq!(m.free_and_clear(t), Err(SwapError::Sync { slot: t }));
    assert_eq!(m.free_and_clear(0), Err(SwapError::Bad { slot: 0 }));
    assert_eq!(
        m.free_and_clear(99),
        Err(SwapError::OutOfRange {
            slot: 99,
            nr_slots: 8
        })
    );
    m.check_consistency();
}

#[test]
fn swap_table_add_get_del_and_errors() {
    let plain = SwapMap::new(16).unwrap();
    assert!(!plain.has_table());
    assert_eq!(plain.table_get(1), Err(SwapError::NoTable));
    assert_eq!(plain.table_add(1, v(1)), Err(SwapError::NoTable));
    assert_eq!(plain.table_len(), 0);

    let m = table_map();
    assert!(m.has_table());
    // Free, bad and out-of-range slots are refused.
    assert_eq!(m.table_add(5, v(7)), Err(SwapError::NoEntry { slot: 5 }));
    assert_eq!(m.table_add(0, v(7)), Err(SwapError::Bad { slot: 0 }));
    assert!(matches!(m.table_get(16), Err(SwapError::OutOfRange { .. })));
    // A slot with a count but no pin: the caller is not the writer.
    let s = swapped_out(&m);
    assert_eq!(m.table_add(s, v(7)), Err(SwapError::NotCached { slot: s }));
    // The SYNC state is not a swap-cache pin.
    m.sync_acquire(s).unwrap();
    assert_eq!(m.table_add(s, v(7)), Err(SwapError::NotCached { slot: s }));
    assert_eq!(m.sync_release(s), Ok(Freed::No));
    // With the pin: add once, the second add is refused and changes nothing.
    m.swapcache_prepare(s).unwrap();
    assert_eq!(m.table_get(s), Ok(None));
    assert_eq!(m.table_add(s, v(7)), Ok(()));
    assert_eq!(m.table_add(s, v(8)), Err(SwapError::Exists { slot: s }));
    assert_eq!(m.table_get(s), Ok(Some(v(7))));
    assert_eq!(m.table_len(), 1);
    m.check_consistency();
    // Delete only the value given.
    assert_eq!(
        m.table_del(s, v(8)),
        Err(SwapError::TableMismatch { slot: s })
    );
    assert_eq!(m.table_get(s), Ok(Some(v(7))));
    assert_eq!(m.table_del(s, v(7)), Ok(()));
    assert_eq!(
        m.table_del(s, v(7)),
        Err(SwapError::TableMismatch { slot: s })
    );
    assert_eq!(m.table_get(s), Ok(None));
    assert_eq!(m.free_and_clear(s), Ok(Freed::Yes));
    // A freshly allocated slot is handed out pinned: page-out adds at once.
    let n = m.alloc().unwrap();
    assert_eq!(m.table_add(n, v(9)), Ok(()));
    assert_eq!(m.table_len(), 1);
    m.check_consistency();
}

#[test]
fn prepare_single_and_ordered_count() {
    let m = SwapMap::builder(16).cluster_size(4).build().unwrap();
    assert_eq!(
        m.swapcache_prepare_single(5),
        Err(SwapError::NoEntry { slot: 5 })
    );
    assert_eq!(
        m.swapcache_prepare_single(0),
        Err(SwapError::Bad { slot: 0 })
    );
    assert!(matches!(
        m.swapcache_prepare_single(99),
        Err(SwapError::OutOfRange { .. })
    ));
    assert_eq!(m.has_count_ordered(0), Err(SwapError::Bad { slot: 0 }));
    let s = swapped_out(&m);
    assert_eq!(m.has_count_ordered(s), Ok(true));
    // Shared: refused, unchanged.
    m.duplicate(s).unwrap();
    assert_eq!(
        m.swapcache_prepare_single(s),
        Err(SwapError::NotSingle { slot: s })
    );
    assert_eq!(m.count(s), Ok(2));
    assert_eq!(m.has_cache(s), Ok(false));
    assert_eq!(m.free(s), Ok(Freed::No));
    // Count 1: pinned; a second pin is refused.
    assert_eq!(m.swapcache_prepare_single(s), Ok(()));
    assert_eq!(m.has_cache(s), Ok(true));
    assert_eq!(
        m.swapcache_prepare_single(s),
        Err(SwapError::Exists { slot: s })
    );
    // The SYNC state is a pin too.
    assert_eq!(m.free_and_clear(s), Ok(Freed::Yes));
    let t = swapped_out(&m);
    m.sync_acquire(t).unwrap();
    assert_eq!(
        m.swapcache_prepare_single(t),
        Err(SwapError::Exists { slot: t })
    );
    assert_eq!(m.has_count_ordered(t), Ok(true));
    // Cache only: no count.
    assert_eq!(m.free(t), Ok(Freed::No));
    assert_eq!(m.has_count_ordered(t), Ok(false));
    assert_eq!(
        m.swapcache_prepare_single(t),
        Err(SwapError::Exists { slot: t })
    );
    m.check_consistency();
}

#[test]
fn swap_table_prepare_add_many() {
    let m = table_map();
    // Slots 1..=7 span clusters 0 and 1.
    let slots: Vec<u64> = (0..7).map(|_| swapped_out(&m)).collect();
    m.swapcache_prepare(slots[2]).unwrap(); // pinned by someone else
    assert_eq!(m.free(slots[4]), Ok(Freed::Yes)); // freed meanwhile
    let mut items: Vec<(u64, NonZeroU64)> = slots.iter().map(|&s| (s, v(100 + s))).collect();
    items.push((99, v(1))); // out of range
    let mut res = vec![Ok(()); items.len()];
    m.table_prepare_add_many(&items, &mut res);
    for (i, &s) in slots.iter().enumerate() {
        match i {
            2 => {
                assert_eq!(res[i], Err(SwapError::Exists { slot: s }));
                assert_eq!(m.table_get(s), Ok(None));
            }
            4 => {
                assert_eq!(res[i], Err(SwapError::NoEntry { slot: s }));
                assert_eq!(m.table_get(s), Ok(None));
            }
            _ => {
                assert_eq!(res[i], Ok(()), "slot {s}");
                assert_eq!(m.table_get(s), Ok(Some(v(100 + s))));
                assert_eq!(m.has_cache(s), Ok(true));
                assert_eq!(m.count(s), Ok(1));
            }
        }
    }
    assert!(matches!(res[7], Err(SwapError::OutOfRange { .. })));
    assert_eq!(m.table_len(), 5);
    m.check_consistency();
    // A shorter result slice processes only that many items.
    let mut one = [Ok(())];
    m.table_prepare_add_many(&items[2..], &mut one);
    assert_eq!(one[0], Err(SwapError::Exists { slot: slots[2] }));
    // Without a table every item is refused after its range check, and
    // results beyond the items are left alone.
    let plain = SwapMap::new(16).unwrap();
    let mut r = [Ok(()), Ok(()), Ok(())];
    plain.table_prepare_add_many(&[(1, v(1)), (99, v(2))], &mut r);
    assert_eq!(r[0], Err(SwapError::NoTable));
    assert_eq!(
        r[1],
        Err(SwapError::OutOfRange {
            slot: 99,
            nr_slots: 16
        })
    );
    assert_eq!(r[2], Ok(()));
}

#[test]
fn swap_table_del_free_and_clear() {
    let m = table_map();
    let s = swapped_out(&m);
    m.swapcache_prepare(s).unwrap();
    m.table_add(s, v(3)).unwrap();
    // Wrong value: nothing changes.
    assert_eq!(
        m.table_del_free_and_clear(s, v(4)),
        Err(SwapError::TableMismatch { slot: s })
    );
    assert_eq!(m.table_get(s), Ok(Some(v(3))));
    assert_eq!(m.count(s), Ok(1));
    assert_eq!(m.has_cache(s), Ok(true));
    // Right value: entry, reference and pin go, and the slot is free.
    assert_eq!(m.table_del_free_and_clear(s, v(3)), Ok(Freed::Yes));
    assert_eq!(m.table_get(s), Ok(None));
    assert_eq!(m.state(s), Ok(SlotState::Free));
    // A byte-level refusal (no count left) also leaves the entry.
    let t = m.alloc().unwrap(); // cache only, pinned
    m.table_add(t, v(5)).unwrap();
    assert_eq!(
        m.table_del_free_and_clear(t, v(5)),
        Err(SwapError::NoCount { slot: t })
    );
    assert_eq!(m.table_get(t), Ok(Some(v(5))));
    m.check_consistency();
}

#[test]
fn reference_model_keeps_a_value_left_behind_by_a_pin_drop() {
    use crate::reference::{Harness, Op, Outcome, Target, UNTOUCHED, Val};
    // A pin dropped without deleting the value first (a protocol breach the
    // map does not refuse; the kernel only warns): the value stays through
    // the slot's free and re-allocation and blocks adds until a delete of
    // that value. Map and model agree on every result and, after every
    // step, on every slot and table entry.
    let mut h = Harness::with_table(4, 4, 1, true).unwrap();
    let s = Target::Raw(1);
    let lit = |x| Val::Lit(v(x));
    let unit = |r| Outcome::Unit(r);
    let exists = Err(SwapError::Exists { slot: 1 });
    let script = [
        (Op::Alloc, Outcome::Alloc(Some(1))),
        (Op::TableAdd(s, lit(7)), unit(Ok(()))),
        (Op::Clear(s), Outcome::Put(Ok(Freed::Yes))),
        (Op::TableGet(s), Outcome::Value(Ok(Some(v(7))))),
        (Op::Alloc, Outcome::Alloc(Some(2))),
        (Op::Alloc, Outcome::Alloc(Some(3))),
        (Op::Alloc, Outcome::Alloc(Some(1))),
        (Op::TableAdd(s, lit(8)), unit(exists)),
        // Count 1, no pin, the old value still there: readahead pins,
        // finds the entry occupied, and drops the pin again.
        (Op::Duplicate(s), unit(Ok(()))),
        (Op::Clear(s), Outcome::Put(Ok(Freed::No))),
        (
            Op::TablePrepareAddMany {
                items: vec![(s, lit(9)), (Target::Raw(2), lit(9))],
                results: 3,
            },
            Outcome::Many(vec![exists, Err(SwapError::Exists { slot: 2 }), UNTOUCHED]),
        ),
        (
            Op::TableDel(s, lit(9)),
            unit(Err(SwapError::TableMismatch { slot: 1 })),
        ),
        (Op::TableDel(s, Val::Current), unit(Ok(()))),
        (
            Op::TablePrepareAddMany {
                items: vec![(s, lit(9)), (Target::Raw(9), lit(9))],
                results: 1,
            },
            Outcome::Many(vec![Ok(())]),
        ),
        (Op::HasCountOrdered(s), Outcome::Bool(Ok(true))),
        (
            Op::TableDelFreeAndClear(s, lit(9)),
            Outcome::Put(Ok(Freed::Yes)),
        ),
        (Op::HasCountOrdered(s), Outcome::Bool(Ok(false))),
    ];
    for (i, (op, want)) in script.iter().enumerate() {
        assert_eq!(h.step(op).as_ref(), Ok(want), "step {i}: {op:?}");
        h.check_all().unwrap();
    }
    assert_eq!(h.map().table_len(), 0);
}

#[test]
fn reference_harness_sees_a_wrong_table_entry() {
    use crate::reference::{Harness, Op, Target};
    // Not vacuous: an entry changed behind the model's back is reported.
    let mut h = Harness::with_table(8, 4, 1, true).unwrap();
    h.step(&Op::Alloc).unwrap();
    h.check_all().unwrap();
    let t = h.map().table.as_ref().unwrap();
    t[5].store(3, std::sync::atomic::Ordering::Relaxed);
    assert!(h.check_all().unwrap_err().contains("slot 5: table"));
    assert!(h.step(&Op::TableGet(Target::Raw(5))).is_err());
    // Without a table, every table operation is refused after the range
    // check, and the batch fills its whole results slice.
    let mut h = Harness::new(8, 4, 1).unwrap();
    h.step(&Op::Alloc).unwrap();
    for op in [
        Op::TableGet(Target::Raw(1)),
        Op::TableAdd(Target::Raw(1), crate::reference::Val::Current),
        Op::TableDel(Target::Raw(1), crate::reference::Val::Current),
        Op::TableDelFreeAndClear(Target::Raw(8), crate::reference::Val::Current),
        Op::TablePrepareAddMany {
            items: vec![(Target::Raw(99), crate::reference::Val::Current)],
            results: 2,
        },
    ] {
        h.step(&op).unwrap();
        h.check_all().unwrap();
    }
}

/// An order-`order` run as after the swap-out of a large folio: count 1 and
/// no cache flag on each of its slots.
fn swapped_out_folio(m: &SwapMap, order: u32) -> u64 {
    let s = m.alloc_order(order).unwrap().unwrap();
    let nr = 1 << order;
    m.duplicate_nr(s, nr).unwrap();
    assert_eq!(m.swapcache_clear_nr(s, nr), Ok(0));
    s
}

fn states(m: &SwapMap, r: std::ops::Range<u64>) -> Vec<SlotState> {
    r.map(|s| m.state(s).unwrap()).collect()
}

#[test]
fn alloc_order_hands_out_aligned_runs_of_one_cluster() {
    let m = SwapMap::builder(80).cluster_size(16).build().unwrap();
    assert_eq!(m.max_order(), 4);
    for order in [1, 2, 3, 2, 1] {
        let s = m.alloc_order(order).unwrap().unwrap();
        let nr = 1u64 << order;
        assert_eq!(s % nr, 0, "order {order}: slot {s}");
        assert_eq!(s / 16, (s + nr - 1) / 16);
        for x in s..s + nr {
            assert_eq!(
                m.state(x),
                Ok(SlotState::Used {
                    count: 0,
                    has_cache: true
                })
            );
        }
    }
    let st = m.stats();
    assert_eq!(st.order_allocs[..4], [0, 2, 2, 1]);
    assert_eq!(st.allocs, 2 * 2 + 2 * 4 + 8);
    // A whole cluster is one order-4 folio.
    let s = m.alloc_order(4).unwrap().unwrap();
    assert_eq!(s % 16, 0);
    m.check_consistency();
}

#[test]
fn large_alloc_falls_back_when_fragmented_and_counts_it() {
    // Two clusters of 4; cluster 0 holds the bad slot 0.
    let m = SwapMap::builder(8).cluster_size(4).build().unwrap();
    let all: Vec<u64> = std::iter::from_fn(|| m.alloc()).collect();
    assert_eq!(all.len(), 7);
    // Free every other slot: no aligned pair is free anywhere.
    for &s in &all {
        if s % 2 == 1 {
            assert_eq!(m.swapcache_clear(s), Ok(Freed::Yes));
        }
    }
    assert_eq!(m.alloc_order(1), Ok(None));
    assert_eq!(m.alloc_order(2), Ok(None));
    let st = m.stats();
    assert_eq!(st.order_fallbacks[..3], [0, 1, 1]);
    assert_eq!(
        st.alloc_failures, 1,
        "the order-0 allocation that found it full"
    );
    // Order 0 still finds the free slots.
    assert!(m.alloc().is_some());
    // Emptying cluster 1 puts it on the free list, where order 2 takes it.
    for s in 4..8 {
        let _ = m.swapcache_clear(s);
    }
    assert_eq!(m.alloc_order(2), Ok(Some(4)));
    m.check_consistency();
}

#[test]
fn a_fragmented_cluster_goes_to_the_frag_list() {
    let m = SwapMap::builder(16).cluster_size(8).build().unwrap();
    // Cluster 1 serves order 1: fill it, then free the odd slot of each
    // pair so that no aligned pair is left.
    let pairs: Vec<u64> = (0..4).map(|_| m.alloc_order(1).unwrap().unwrap()).collect();
    assert!(pairs.iter().all(|&s| s >= 8));
    for &s in &pairs {
        assert_eq!(m.swapcache_clear(s + 1), Ok(Freed::Yes));
    }
    // Cluster 0 (slot 0 bad) serves order 0; cluster 1 has no pair left.
    assert_eq!(m.alloc_order(1), Ok(None));
    let st = m.stats();
    assert_eq!(st.frag_clusters, 1, "{st:?}");
    assert_eq!(st.order_fallbacks[1], 1);
    // Frees that restore a pair make the frag cluster usable again.
    assert_eq!(m.swapcache_clear(pairs[0]), Ok(Freed::Yes));
    assert_eq!(m.alloc_order(1), Ok(Some(pairs[0])));
    m.check_consistency();
}

#[test]
fn range_errors_change_nothing() {
    let m = SwapMap::builder(32).cluster_size(8).build().unwrap();
    let s = swapped_out_folio(&m, 2);
    let before = states(&m, 0..32);
    let cs = 8;
    assert_eq!(
        m.alloc_order(4),
        Err(SwapError::OrderTooLarge { order: 4, max: 3 })
    );
    assert_eq!(
        m.swapcache_prepare_nr(s, 0),
        Err(SwapError::EmptyRange { slot: s })
    );
    assert_eq!(
        m.swapcache_prepare_nr(s + 1, 2),
        Err(SwapError::Unaligned { slot: s + 1, nr: 2 })
    );
    assert_eq!(
        m.swapcache_prepare_nr(s, 3),
        Err(SwapError::Unaligned { slot: s, nr: 3 })
    );
    assert_eq!(
        m.swapcache_prepare_nr(0, 16),
        Err(SwapError::CrossesCluster {
            slot: 0,
            nr: 16,
            cluster_size: cs
        })
    );
    assert_eq!(
        m.free_nr(6, 4),
        Err(SwapError::CrossesCluster {
            slot: 6,
            nr: 4,
            cluster_size: cs
        })
    );
    assert_eq!(
        m.free_nr(30, 4),
        Err(SwapError::OutOfRange {
            slot: 32,
            nr_slots: 32
        })
    );
    assert_eq!(
        m.free_nr(u64::MAX, 2),
        Err(SwapError::OutOfRange {
            slot: u64::MAX,
            nr_slots: 32
        })
    );
    assert_eq!(m.table_add_nr(s, 4, v(1)), Err(SwapError::NoTable));
    assert_eq!(before, states(&m, 0..32));
    m.check_consistency();
}

#[test]
fn range_pin_is_all_or_nothing_and_names_the_slot() {
    let (m, log) = map_with_log(32, 8);
    let s = swapped_out_folio(&m, 2);
    // One subpage pinned by an order-0 swap-in.
    m.swapcache_prepare(s + 2).unwrap();
    let before = states(&m, s..s + 4);
    assert_eq!(
        m.swapcache_prepare_nr(s, 4),
        Err(SwapError::Exists { slot: s + 2 })
    );
    assert_eq!(
        m.swapcache_prepare_single_nr(s, 4),
        Err(SwapError::Exists { slot: s + 2 })
    );
    assert_eq!(
        m.sync_acquire_nr(s, 4),
        Err(SwapError::Exists { slot: s + 2 })
    );
    assert_eq!(before, states(&m, s..s + 4));
    // The order-0 swap-in ends; the large one then takes the whole range.
    assert_eq!(m.free_and_clear(s + 2), Ok(Freed::Yes));
    assert_eq!(taken(&log), [s + 2]);
    assert_eq!(
        m.swapcache_prepare_single_nr(s, 4),
        Err(SwapError::NoEntry { slot: s + 2 })
    );
    m.duplicate(s + 2).unwrap_err();
    let t = swapped_out_folio(&m, 2);
    m.swapcache_prepare_single_nr(t, 4).unwrap();
    assert_eq!(m.free_and_clear_nr(t, 4), Ok(4));
    assert_eq!(taken(&log), [t, t + 1, t + 2, t + 3]);
    m.check_consistency();
}

#[test]
fn range_counts_fork_zap_and_sync() {
    let (m, log) = map_with_log(32, 8);
    let s = swapped_out_folio(&m, 2);
    // Fork: every slot shared; a large pin-single refuses it.
    m.duplicate_nr(s, 4).unwrap();
    assert_eq!(
        m.swapcache_prepare_single_nr(s, 4),
        Err(SwapError::NotSingle { slot: s })
    );
    // The child zaps part of the range: those slots are single again.
    assert_eq!(m.free_nr(s + 1, 2), Ok(0));
    assert_eq!(m.count(s), Ok(2));
    assert_eq!(m.count(s + 1), Ok(1));
    assert_eq!(
        m.swapcache_prepare_single_nr(s, 4),
        Err(SwapError::NotSingle { slot: s })
    );
    // The child's other PTEs go; the parent's large swap-in with the
    // SWAP_MAP_SYNC state, a zap of one subpage meanwhile, and its release.
    assert_eq!(m.free(s), Ok(Freed::No));
    assert_eq!(m.free(s + 3), Ok(Freed::No));
    m.sync_acquire_nr(s, 4).unwrap();
    assert_eq!(m.duplicate_nr(s, 4), Err(SwapError::Sync { slot: s }));
    assert_eq!(m.free(s + 1), Ok(Freed::No)); // zap: cache-only now
    assert_eq!(
        m.sync_release_free_nr(s, 4),
        Err(SwapError::NotSync { slot: s + 1 })
    );
    assert_eq!(m.sync_release_nr(s, 4), Ok(1));
    assert_eq!(taken(&log), [s + 1]);
    assert_eq!(m.count(s), Ok(1));
    // A partial free of the rest, any alignment.
    assert_eq!(m.free_nr(s + 2, 2), Ok(2));
    assert_eq!(m.free_nr(s, 1), Ok(1));
    assert_eq!(taken(&log), [s + 2, s + 3, s]);
    assert_eq!(m.stats().inuse_slots, 0);
    m.check_consistency();
}

#[test]
fn a_large_folio_sits_in_each_of_its_table_slots() {
    let m = table_map();
    let s = m.alloc_order(2).unwrap().unwrap();
    m.table_add_nr(s, 4, v(7)).unwrap();
    for x in s..s + 4 {
        assert_eq!(m.table_get(x), Ok(Some(v(7))));
    }
    assert_eq!(m.table_len(), 4);
    // Another folio cannot join, even in part.
    assert_eq!(
        m.table_add_nr(s, 4, v(8)),
        Err(SwapError::Exists { slot: s })
    );
    assert_eq!(
        m.table_del_nr(s, 4, v(8)),
        Err(SwapError::TableMismatch { slot: s })
    );
    // The PTEs' references, then an exclusive large swap-in from the cache.
    m.duplicate_nr(s, 4).unwrap();
    m.table_del(s + 3, v(7)).unwrap();
    assert_eq!(
        m.table_del_free_and_clear_nr(s, 4, v(7)),
        Err(SwapError::TableMismatch { slot: s + 3 })
    );
    assert_eq!(m.table_len(), 3);
    m.table_add(s + 3, v(7)).unwrap();
    assert_eq!(m.table_del_free_and_clear_nr(s, 4, v(7)), Ok(4));
    assert_eq!(m.table_len(), 0);
    assert_eq!(m.stats().inuse_slots, 0);
    m.check_consistency();
}

#[test]
fn a_failed_duplicate_range_is_undone() {
    // Continuation limit 0: the 63rd reference of a slot cannot be taken.
    let m = SwapMap::builder(16)
        .cluster_size(8)
        .continuation_limit(0)
        .build()
        .unwrap();
    let s = swapped_out_folio(&m, 2);
    for _ in 0..61 {
        m.duplicate(s + 3).unwrap();
    }
    let before = states(&m, s..s + 4);
    assert_eq!(
        m.duplicate_nr(s, 4),
        Err(SwapError::CountOverflow { slot: s + 3 })
    );
    assert_eq!(before, states(&m, s..s + 4));
    m.check_consistency();
}
