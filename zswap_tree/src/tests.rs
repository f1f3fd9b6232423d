//! Unit tests of `ZswapTree` (single-threaded semantics; the concurrent
//! stress test is `tests/stress.rs`, the loom models `tests/loom.rs`).

use std::sync::Mutex as StdMutex;

use super::*;

const SLOTS: u64 = 4 * REGION_SLOTS;

fn check(z: &ZswapTree) {
    if let Err(e) = z.check_invariants() {
        panic!("invariant violated: {e}");
    }
}

fn cfg(backend: Backend) -> Config {
    Config {
        backend,
        ..Config::default()
    }
}

/// Offsets spread over several regions.
fn offsets() -> Vec<u64> {
    vec![
        0,
        1,
        7,
        REGION_SLOTS - 1,
        REGION_SLOTS,
        2 * REGION_SLOTS + 5,
        SLOTS - 1,
    ]
}

#[test]
fn round_trip_every_class_and_backend_both_modes() {
    for backend in Backend::ALL {
        let z = ZswapTree::new(SLOTS, cfg(backend));
        for (i, &off) in offsets().iter().enumerate() {
            for class in [
                ContentClass::ZeroTail,
                ContentClass::Text,
                ContentClass::HalfRandom,
            ] {
                let page = class.page(off ^ i as u64);
                z.store(off, &page).unwrap();
                check(&z);
                let mut out = [0u8; PAGE_SIZE];
                assert!(z.load(off, &mut out, LoadMode::Optimistic).unwrap());
                assert_eq!(out, *page, "{} {}", backend.name(), class.name());
                out.fill(0xEE);
                assert!(z.load(off, &mut out, LoadMode::Exclusive).unwrap());
                assert_eq!(out, *page, "{} {}", backend.name(), class.name());
                assert!(!z.contains(off));
                check(&z);
            }
        }
        let s = z.stats();
        assert_eq!((s.stored_pages, s.pool_bytes), (0, 0), "{s:?}");
        assert_eq!(s.loads_exclusive, s.loads_optimistic);
    }
}

#[test]
fn random_page_is_rejected_as_poor_and_threshold_is_configurable() {
    let z = ZswapTree::new(SLOTS, Config::default());
    let random = ContentClass::Random.page(3);
    let err = z.store(5, &random).unwrap_err();
    assert!(
        matches!(err, StoreError::CompressPoor { offset: 5, len } if len >= PAGE_SIZE),
        "{err:?}"
    );
    assert_eq!(z.stats().reject_compress_poor, 1);
    assert!(!z.contains(5));

    // A threshold of 2048 rejects the half-random (~2:1) page but not text.
    let z = ZswapTree::new(
        SLOTS,
        Config {
            reject_len: 2048,
            ..Config::default()
        },
    );
    assert!(matches!(
        z.store(1, &ContentClass::HalfRandom.page(1)),
        Err(StoreError::CompressPoor { .. })
    ));
    z.store(2, &ContentClass::Text.page(1)).unwrap();
    // A threshold above the worst case accepts random pages.
    let z = ZswapTree::new(
        SLOTS,
        Config {
            reject_len: MAX_COMPRESSED,
            ..Config::default()
        },
    );
    z.store(3, &random).unwrap();
    let mut out = [0u8; PAGE_SIZE];
    assert!(z.load(3, &mut out, LoadMode::Exclusive).unwrap());
    assert_eq!(out, *random);
}

#[test]
fn rejected_store_invalidates_the_stale_entry() {
    let z = ZswapTree::new(SLOTS, Config::default());
    z.store(9, &ContentClass::Text.page(1)).unwrap();
    assert!(z.store(9, &ContentClass::Random.page(1)).is_err());
    assert!(
        !z.contains(9),
        "a stale entry must not survive a rejected store"
    );
    let s = z.stats();
    assert_eq!(
        (
            s.stored_pages,
            s.pool_bytes,
            s.invalidations,
            s.compressed_frees
        ),
        (0, 0, 1, 1)
    );
}

#[test]
fn same_filled_pages_skip_the_compressor() {
    let z = ZswapTree::new(SLOTS, Config::default());
    let mut page = [0u8; PAGE_SIZE];
    fill_page(&mut page, 0xABCD_0000_1234_5678);
    z.store(100, &page).unwrap();
    z.store(101, &[0u8; PAGE_SIZE]).unwrap();
    let s = z.stats();
    assert_eq!(
        (s.stored_pages, s.same_filled_pages, s.pool_bytes),
        (2, 2, 0)
    );
    let mut out = [1u8; PAGE_SIZE];
    assert!(z.load(100, &mut out, LoadMode::Optimistic).unwrap());
    assert_eq!(out, page);
    assert!(z.load(101, &mut out, LoadMode::Exclusive).unwrap());
    assert_eq!(out, [0u8; PAGE_SIZE]);
    assert_eq!(z.stats().same_filled_pages, 1);
    // Same-filled entries are not written back.
    assert_eq!(
        z.writeback(10, |_, _| panic!("same-filled page written back")),
        0
    );

    // Disabled: the page goes through the compressor.
    let z = ZswapTree::new(
        SLOTS,
        Config {
            same_filled_pages: false,
            ..Config::default()
        },
    );
    z.store(1, &page).unwrap();
    let s = z.stats();
    assert_eq!(s.same_filled_pages, 0);
    assert!(s.pool_bytes > 0);
}

#[test]
fn exclusive_erases_optimistic_keeps() {
    let z = ZswapTree::new(SLOTS, Config::default());
    let page = ContentClass::ZeroTail.page(77);
    let mut out = [0u8; PAGE_SIZE];
    z.store(3, &page).unwrap();
    for _ in 0..3 {
        assert!(z.load(3, &mut out, LoadMode::Optimistic).unwrap());
        assert_eq!(out, *page);
    }
    assert!(z.contains(3));
    assert!(z.load(3, &mut out, LoadMode::Exclusive).unwrap());
    assert_eq!(out, *page);
    // The double swap-in of seed 001: a second exclusive load finds nothing.
    assert!(!z.load(3, &mut out, LoadMode::Exclusive).unwrap());
    assert!(!z.load(3, &mut out, LoadMode::Optimistic).unwrap());
    let s = z.stats();
    assert_eq!(
        (s.loads_optimistic, s.loads_exclusive, s.load_misses),
        (3, 1, 2)
    );
    assert_eq!(
        (s.stored_pages, s.pool_bytes, s.compressed_frees),
        (0, 0, 1)
    );
    // An optimistically loaded entry is removed by invalidate (swap_free).
    z.store(4, &page).unwrap();
    assert!(z.load(4, &mut out, LoadMode::Optimistic).unwrap());
    assert!(z.invalidate(4));
    assert!(!z.invalidate(4));
    assert!(!z.load(4, &mut out, LoadMode::Optimistic).unwrap());
}

#[test]
fn store_replaces_and_accounts() {
    let z = ZswapTree::new(SLOTS, Config::default());
    let a = ContentClass::Text.page(1);
    let b = ContentClass::HalfRandom.page(2);
    z.store(8, &a).unwrap();
    let after_a = z.stats().pool_bytes;
    z.store(8, &b).unwrap();
    check(&z);
    let s = z.stats();
    assert_eq!(
        (s.stored_pages, s.duplicates, s.stores, s.compressed_frees),
        (1, 1, 2, 1)
    );
    assert_ne!(s.pool_bytes, after_a);
    let mut out = [0u8; PAGE_SIZE];
    assert!(z.load(8, &mut out, LoadMode::Exclusive).unwrap());
    assert_eq!(out, *b);
}

#[test]
fn writeback_takes_lru_oldest_first() {
    let z = ZswapTree::new(SLOTS, Config::default());
    // Store order deliberately unlike offset order and across regions.
    let order = [
        2 * REGION_SLOTS + 5,
        1,
        REGION_SLOTS,
        7,
        SLOTS - 1,
        0,
        REGION_SLOTS - 1,
    ];
    for (i, &off) in order.iter().enumerate() {
        z.store(off, &ContentClass::ZeroTail.page(i as u64))
            .unwrap();
    }
    // Re-storing moves an entry to the young end.
    z.store(1, &ContentClass::ZeroTail.page(1)).unwrap();
    // A loaded-exclusively entry leaves the LRU.
    let mut out = [0u8; PAGE_SIZE];
    assert!(z.load(7, &mut out, LoadMode::Exclusive).unwrap());
    check(&z);
    let mut seen = Vec::new();
    let n = z.writeback(3, |off, page| {
        seen.push(off);
        let i = order.iter().position(|&o| o == off).unwrap();
        assert_eq!(page, &*ContentClass::ZeroTail.page(i as u64));
    });
    assert_eq!(n, 3);
    assert_eq!(seen, [2 * REGION_SLOTS + 5, REGION_SLOTS, SLOTS - 1]);
    check(&z);
    let n = z.writeback(10, |off, _| seen.push(off));
    assert_eq!(n, 3);
    assert_eq!(seen[3..], [0, REGION_SLOTS - 1, 1]);
    let s = z.stats();
    assert_eq!((s.writebacks, s.stored_pages, s.pool_bytes), (6, 0, 0));
    assert_eq!(z.writeback(1, |_, _| unreachable!()), 0);
}

/// A writeback target that refuses the slots in `held` (a swap-in holds
/// them) and records what it pinned, wrote and unpinned.
struct Holding {
    held: Vec<u64>,
    log: std::sync::Arc<StdMutex<Vec<(char, u64)>>>,
}

impl WritebackTarget for Holding {
    fn pin(&self, offset: u64) -> bool {
        let ok = !self.held.contains(&offset);
        if ok {
            self.log.lock().unwrap().push(('p', offset));
        }
        ok
    }
    fn write(&self, offset: u64, _page: &Page) {
        self.log.lock().unwrap().push(('w', offset));
    }
    fn unpin(&self, offset: u64) {
        self.log.lock().unwrap().push(('u', offset));
    }
}

#[test]
fn shrink_skips_held_slots_and_gives_up_on_a_held_lru() {
    let log = std::sync::Arc::default();
    let held = vec![1, 3, REGION_SLOTS + 1];
    let target = Holding {
        held: held.clone(),
        log: std::sync::Arc::clone(&log),
    };
    let z = ZswapTree::with_writeback_target(SLOTS, Config::default(), target);
    let offsets = [0, 1, 2, REGION_SLOTS + 1, 3, 4, REGION_SLOTS + 2];
    for (i, &off) in offsets.iter().enumerate() {
        z.store(off, &ContentClass::Text.page(i as u64)).unwrap();
    }
    // Oldest first, the held ones rotated to the tail: 0, 2, 4, R+2 are
    // written (each pinned, written, unpinned in that order); then only
    // held entries are left, and 16 refusals in a row end the shrink.
    assert_eq!(z.shrink(10), 4);
    let want: Vec<(char, u64)> = [0, 2, 4, REGION_SLOTS + 2]
        .iter()
        .flat_map(|&o| [('p', o), ('w', o), ('u', o)])
        .collect();
    assert_eq!(*log.lock().unwrap(), want);
    let s = z.stats();
    // 0 W, 1 R, 2 W, R+1 R, 3 R, 4 W, R+2 W, then 16 more refusals.
    assert_eq!((s.writebacks, s.writeback_refused), (4, 3 + 16));
    check(&z);
    // Nothing held was lost: each is still stored, and loads back.
    let mut sorted = held.clone();
    sorted.sort_unstable();
    assert_eq!(z.offsets(), sorted);
    for (i, &off) in offsets.iter().enumerate() {
        let mut out = [0u8; PAGE_SIZE];
        let hit = z.load(off, &mut out, LoadMode::Optimistic).unwrap();
        assert_eq!(hit, held.contains(&off), "{off}");
        if hit {
            assert_eq!(out, *ContentClass::Text.page(i as u64));
        }
    }
}

#[test]
fn a_store_over_the_limit_with_every_slot_held_is_rejected_and_loses_nothing() {
    let text_len = {
        let mut buf = [0u8; MAX_COMPRESSED];
        Lz4.compress(&ContentClass::Text.page(0), &mut buf).unwrap() as u64
    };
    let config = Config {
        max_pool_bytes: Some(2 * text_len + text_len / 2),
        ..Config::default()
    };
    let target = Holding {
        held: (0..8).collect(),
        log: std::sync::Arc::default(),
    };
    let z = ZswapTree::with_writeback_target(SLOTS, config, target);
    let mut off = 0;
    let err = loop {
        match z.store(off, &ContentClass::Text.page(off)) {
            Ok(()) => off += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, StoreError::PoolLimit { offset, .. } if offset == off),
        "{err:?}"
    );
    let s = z.stats();
    assert_eq!(
        (s.writebacks, s.writeback_refused, s.reject_pool_limit),
        (0, 16, 1)
    );
    for o in 0..off {
        let mut out = [0u8; PAGE_SIZE];
        assert_eq!(z.load(o, &mut out, LoadMode::Optimistic), Ok(true));
        assert_eq!(out, *ContentClass::Text.page(o));
    }
    check(&z);
}

#[test]
fn pool_limit_writes_back_then_rejects() {
    let written = std::sync::Arc::new(StdMutex::new(Vec::new()));
    let w = std::sync::Arc::clone(&written);
    let text_len = {
        let mut buf = [0u8; MAX_COMPRESSED];
        Lz4.compress(&ContentClass::Text.page(0), &mut buf).unwrap() as u64
    };
    // Room for about four text pages.
    let max = 4 * text_len + text_len / 5;
    let config = Config {
        max_pool_bytes: Some(max),
        ..Config::default()
    };
    let z = ZswapTree::with_writeback(SLOTS, config.clone(), move |off, _| {
        w.lock().unwrap().push(off)
    });
    for off in 0..12u64 {
        z.store(off, &ContentClass::Text.page(0)).unwrap();
        assert!(z.stats().pool_bytes <= max + text_len);
        check(&z);
    }
    let s = z.stats();
    assert!(s.pool_limit_hit > 0 && s.writebacks > 0, "{s:?}");
    assert_eq!(s.reject_pool_limit, 0);
    let written = written.lock().unwrap().clone();
    assert_eq!(
        written,
        (0..written.len() as u64).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(s.stored_pages as usize + written.len(), 12);

    // Without a writeback target, a store over the limit is rejected, and
    // stays rejected until the pool is below the accept threshold.
    let z = ZswapTree::new(SLOTS, config);
    let mut off = 0;
    let err = loop {
        match z.store(off, &ContentClass::Text.page(0)) {
            Ok(()) => off += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, StoreError::PoolLimit { max_pool_bytes, .. } if max_pool_bytes == max));
    assert_eq!(z.stats().reject_pool_limit, 1);
    // Just under the limit but above 90%: still refused (hysteresis).
    assert!(z.invalidate(0));
    let bytes = z.stats().pool_bytes;
    assert!(bytes <= max && bytes > max * 9 / 10, "{bytes} {max}");
    assert!(matches!(
        z.store(100, &ContentClass::Text.page(0)),
        Err(StoreError::PoolLimit { .. })
    ));
    assert!(z.invalidate(1));
    z.store(100, &ContentClass::Text.page(0)).unwrap();
}

#[test]
fn corrupt_and_truncated_data_are_errors() {
    for backend in Backend::ALL {
        let z = ZswapTree::new(SLOTS, cfg(backend));
        let mut buf = [0u8; MAX_COMPRESSED];
        let n = backend
            .compressor()
            .compress(&ContentClass::Text.page(4), &mut buf)
            .unwrap();
        let mut out = [0u8; PAGE_SIZE];
        z.store_compressed(1, &buf[..n / 2]).unwrap();
        let e = z.load(1, &mut out, LoadMode::Optimistic).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::Truncated { offset: 1 } | LoadError::Corrupt { offset: 1 }
            ),
            "{e:?}"
        );
        // Exclusive: error, and the unusable entry is gone.
        assert!(z.load(1, &mut out, LoadMode::Exclusive).is_err());
        assert!(!z.contains(1));
        z.store_compressed(2, &[0xFF; 64]).unwrap();
        assert!(z.load(2, &mut out, LoadMode::Optimistic).is_err());
        z.store_compressed(3, &[]).unwrap();
        assert!(z.load(3, &mut out, LoadMode::Optimistic).is_err());
        // Undecodable entries are dropped by writeback, never written.
        assert_eq!(
            z.writeback(10, |_, _| panic!("corrupt page written back")),
            0
        );
        let s = z.stats();
        assert_eq!(s.load_errors, 6, "{} {s:?}", backend.name());
        assert_eq!((s.stored_pages, s.pool_bytes), (0, 0));
    }
}

#[test]
fn out_of_range_offsets() {
    let z = ZswapTree::new(100, Config::default());
    let page = ContentClass::Text.page(0);
    assert_eq!(
        z.store(100, &page),
        Err(StoreError::OutOfRange {
            offset: 100,
            nr_slots: 100
        })
    );
    let mut out = [0u8; PAGE_SIZE];
    assert!(matches!(
        z.load(u64::MAX, &mut out, LoadMode::Exclusive),
        Err(LoadError::OutOfRange { .. })
    ));
    assert!(!z.invalidate(100));
    z.store(99, &page).unwrap();
    assert_eq!(z.offsets(), [99]);
}

#[test]
fn invalidate_all_empties_every_region() {
    let z = ZswapTree::new(SLOTS, Config::default());
    for (i, &off) in offsets().iter().enumerate() {
        let class = ContentClass::ALL[i % 3];
        z.store(off, &class.page(i as u64)).unwrap();
    }
    assert_eq!(z.invalidate_all(), offsets().len());
    check(&z);
    let s = z.stats();
    assert_eq!(
        (s.stored_pages, s.same_filled_pages, s.pool_bytes),
        (0, 0, 0)
    );
    assert!(z.offsets().is_empty());
    assert_eq!(z.writeback(5, |_, _| unreachable!()), 0);
}

#[test]
fn is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ZswapTree>();
    assert_send_sync::<rbtree::RbTree<u64>>();
}

#[test]
fn size_classes_keep_exact_lengths_and_accounting() {
    // Lengths at and around the 64-byte class boundaries, the largest class
    // and beyond it (the boxed fallback): the load sees exactly the bytes
    // stored, pool_bytes counts payload only, each buffer is freed once.
    let z = ZswapTree::new(SLOTS, Config::default());
    let text = ContentClass::Text.page(9);
    let mut buf = [0u8; MAX_COMPRESSED];
    let n = Lz4.compress(&text, &mut buf).unwrap();
    let lens = [0, 1, 63, 64, 65, 127, 128, 4095, 4096, MAX_COMPRESSED];
    let mut total = 0u64;
    for (i, &len) in lens.iter().enumerate() {
        let bytes: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
        z.store_compressed(i as u64, &bytes).unwrap();
        total += len as u64;
    }
    let mut big = buf[..n].to_vec();
    big.resize(MAX_COMPRESSED + 100, 0xA5);
    z.store_compressed(100, &big).unwrap();
    z.store_compressed(101, &buf[..n]).unwrap();
    total += (big.len() + n) as u64;
    assert_eq!(z.stats().pool_bytes, total);
    let mut out = [0u8; PAGE_SIZE];
    // Trailing bytes after a valid block: not exactly the block, an error.
    assert!(z.load(100, &mut out, LoadMode::Exclusive).is_err());
    // The exact block, in a class with slack after it, decodes.
    assert!(z.load(101, &mut out, LoadMode::Optimistic).unwrap());
    assert_eq!(out, *text);
    assert_eq!(z.invalidate_all(), lens.len() + 1);
    let s = z.stats();
    assert_eq!(
        (s.pool_bytes, s.compressed_frees),
        (0, lens.len() as u64 + 2)
    );
}

#[test]
fn freed_buffers_are_recycled_once_and_bounded() {
    let z = ZswapTree::new(SLOTS, Config::default());
    let mut out = [0u8; PAGE_SIZE];
    // A buffer of the 2:1 page's 64-byte class, first holding a longer
    // payload (a valid block plus junk), then, reused, the exact block: the
    // load must see exactly the new bytes, not the old tail.
    let page = ContentClass::HalfRandom.page(3);
    let mut buf = [0u8; MAX_COMPRESSED];
    let n = Lz4.compress(&page, &mut buf).unwrap();
    let class_end = n.div_ceil(64) * 64;
    assert!(class_end > n, "the test needs slack in the class");
    let mut long = buf[..n].to_vec();
    long.resize(class_end, 0xA5);
    z.store_compressed(5, &long).unwrap();
    assert_eq!(z.recycled_bytes(), 0);
    assert!(z.load(5, &mut out, LoadMode::Exclusive).is_err());
    let cached = z.recycled_bytes();
    assert!(cached >= class_end, "freed buffer not cached: {cached}");
    let s = z.stats();
    assert_eq!((s.pool_bytes, s.compressed_frees), (0, 1));
    // The next store of the class takes it back.
    z.store_compressed(6, &buf[..n]).unwrap();
    assert_eq!(z.recycled_bytes(), 0);
    assert_eq!(z.stats().pool_bytes, n as u64);
    assert!(z.load(6, &mut out, LoadMode::Exclusive).unwrap());
    assert_eq!(out, *page);
    let s = z.stats();
    assert_eq!((s.pool_bytes, s.compressed_frees), (0, 2));

    // Many frees in one region: the cache stays within its bound, every
    // buffer is freed exactly once, and the pool empties.
    let n = 200u64;
    for o in 0..n {
        z.store(o, &page).unwrap();
    }
    for o in 0..n {
        assert!(z.load(o, &mut out, LoadMode::Exclusive).unwrap());
        assert_eq!(out, *page);
    }
    let s = z.stats();
    assert_eq!((s.stored_pages, s.pool_bytes), (0, 0));
    assert_eq!(s.compressed_frees, s.stores);
    let cached = z.recycled_bytes();
    assert!(cached > 0 && cached <= 128 << 10, "cached {cached}");
    // invalidate_all (swapoff) frees to the allocator; counted once too.
    for o in 0..n {
        z.store(o, &page).unwrap();
    }
    assert_eq!(z.invalidate_all(), n as usize);
    let s = z.stats();
    assert_eq!((s.pool_bytes, s.compressed_frees), (0, s.stores));
    check(&z);
}
