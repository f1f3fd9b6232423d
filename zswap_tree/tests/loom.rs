//! loom models of the entry-ownership protocol (tiny trees: 2 slots per
//! region under loom). Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p zswap_tree --test loom`.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use loom::sync::Arc;
use loom::thread;

use zswap_tree::{Config, ContentClass, LoadMode, PAGE_SIZE, ZswapTree};

/// 1. An exclusive load races an invalidation of the same entry: exactly one
///    of them takes the entry, the loader (if it wins) gets the page intact,
///    and the compressed bytes are freed exactly once.
#[test]
fn exclusive_load_races_invalidate() {
    // Outcomes seen across the explored interleavings (plain std atomics,
    // outside the model): both winners must be explored.
    static LOADER_WON: AtomicUsize = AtomicUsize::new(0);
    static INVALIDATE_WON: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let zswap = Arc::new(ZswapTree::new(4, Config::default()));
        let page = ContentClass::Text.page(1);
        zswap.store(3, &page).unwrap();
        let loader = {
            let zswap = Arc::clone(&zswap);
            let page = page.clone();
            thread::spawn(move || {
                let mut out = Box::new([0u8; PAGE_SIZE]);
                let hit = zswap.load(3, &mut out, LoadMode::Exclusive).unwrap();
                if hit {
                    assert!(out == page, "exclusive load returned a damaged page");
                }
                hit
            })
        };
        let invalidated = zswap.invalidate(3);
        let loaded = loader.join().unwrap();
        assert!(
            loaded ^ invalidated,
            "loaded {loaded}, invalidated {invalidated}"
        );
        let s = zswap.stats();
        assert_eq!(s.compressed_frees, 1, "freed {} times", s.compressed_frees);
        assert_eq!((s.stored_pages, s.pool_bytes), (0, 0));
        assert_eq!(s.loads_exclusive + s.invalidations, 1);
        if loaded { &LOADER_WON } else { &INVALIDATE_WON }.fetch_add(1, Relaxed);
    });
    assert!(LOADER_WON.load(Relaxed) > 0 && INVALIDATE_WON.load(Relaxed) > 0);
}

/// 2. An optimistic load races a store replacing the entry: the load returns
///    the old page or the new one, intact, never a miss; afterwards only the
///    new entry remains and the old bytes were freed exactly once (possibly
///    by the loader, when it dropped its reference).
#[test]
fn optimistic_load_races_replacing_store() {
    static SAW_OLD: AtomicUsize = AtomicUsize::new(0);
    static SAW_NEW: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let zswap = Arc::new(ZswapTree::new(4, Config::default()));
        let old = ContentClass::Text.page(1);
        let new = ContentClass::HalfRandom.page(2);
        zswap.store(2, &old).unwrap();
        let storer = {
            let zswap = Arc::clone(&zswap);
            let new = new.clone();
            thread::spawn(move || zswap.store(2, &new).unwrap())
        };
        let mut out = Box::new([0u8; PAGE_SIZE]);
        assert!(
            zswap.load(2, &mut out, LoadMode::Optimistic).unwrap(),
            "optimistic load missed"
        );
        assert!(
            out == old || out == new,
            "optimistic load returned a damaged page"
        );
        if out == old { &SAW_OLD } else { &SAW_NEW }.fetch_add(1, Relaxed);
        storer.join().unwrap();
        let s = zswap.stats();
        assert_eq!(
            (s.stored_pages, s.duplicates, s.compressed_frees),
            (1, 1, 1)
        );
        assert!(zswap.load(2, &mut out, LoadMode::Exclusive).unwrap());
        assert!(out == new);
        let s = zswap.stats();
        assert_eq!((s.pool_bytes, s.compressed_frees), (0, 2));
    });
    assert!(SAW_OLD.load(Relaxed) > 0 && SAW_NEW.load(Relaxed) > 0);
}

/// 3. A writeback races an exclusive load of its entry: the page ends up in
///    exactly one place (the device or the loader), intact, freed once.
#[test]
fn writeback_races_exclusive_load() {
    static WRITTEN: AtomicUsize = AtomicUsize::new(0);
    static LOADED: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let zswap = Arc::new(ZswapTree::new(4, Config::default()));
        let page = ContentClass::ZeroTail.page(7);
        zswap.store(1, &page).unwrap();
        let loader = {
            let zswap = Arc::clone(&zswap);
            let page = page.clone();
            thread::spawn(move || {
                let mut out = Box::new([0u8; PAGE_SIZE]);
                let hit = zswap.load(1, &mut out, LoadMode::Exclusive).unwrap();
                assert!(!hit || out == page);
                hit
            })
        };
        let mut written = 0;
        zswap.writeback(1, |off, p| {
            assert_eq!(off, 1);
            assert!(p == &*page);
            written += 1;
        });
        let loaded = loader.join().unwrap();
        assert_eq!(usize::from(loaded) + written, 1);
        let s = zswap.stats();
        assert_eq!(
            (s.stored_pages, s.pool_bytes, s.compressed_frees),
            (0, 0, 1)
        );
        if loaded { &LOADED } else { &WRITTEN }.fetch_add(1, Relaxed);
    });
    assert!(WRITTEN.load(Relaxed) > 0 && LOADED.load(Relaxed) > 0);
}
