//! Large folios (mTHP) through the fault path, single-threaded: page-out of
//! whole folios and its fallback, swap-in of whole folios per strategy,
//! partial operations on a folio's range (zap, page-out, fork, a write to
//! one page), the zswap rules, and bad configurations; the accounting is
//! checked after each.

use std::sync::Arc;

use fault_path::device::{Ramdisk, SwapDevice, Zram};
use fault_path::pte::PteKind;
use fault_path::strategy::names;
use fault_path::{
    AddressSpace, FaultError, FaultStats, SwapCacheKind, System, SystemConfig, ZswapConfig,
    ZswapLarge, ZswapLoad, check_accounting, index_word,
};

/// 16-page folios (order 4) enabled, besides order 0.
const ORDER4: u32 = 1 << 4;

fn zram(slots: u64) -> Arc<dyn SwapDevice> {
    Arc::new(Zram::new(
        slots,
        zswap_tree::Backend::default().compressor(),
    ))
}

fn cfg(strategy: &str, dev: Arc<dyn SwapDevice>, frames: u32) -> SystemConfig {
    let mut c = SystemConfig::new(frames, dev).strategy(strategy);
    c.orders = ORDER4;
    // Clusters of 16 slots, so that the small test devices have free
    // clusters for order-4 allocations (cluster 0 holds the header slot).
    c.cluster_size = 16;
    c
}

fn assert_clean(sys: &System, mms: &[&AddressSpace]) {
    let errs = check_accounting(sys, mms);
    assert!(errs.is_empty(), "accounting: {errs:#?}");
}

fn slot(mm: &AddressSpace, vpn: usize) -> u64 {
    match mm.pte(vpn).kind() {
        PteKind::Swap(s) => s,
        k => panic!("page {vpn}: {k:?}"),
    }
}

/// Every page reads back its index, and word 0 holds `count(vpn)`.
fn check_all(mm: &AddressSpace, st: &mut FaultStats, count: impl Fn(usize) -> u64) {
    for vpn in 0..mm.pages() {
        assert_eq!(mm.read_word(vpn, 1, st), Ok(index_word(vpn)), "page {vpn}");
        assert_eq!(mm.read_word(vpn, 0, st), Ok(count(vpn)), "page {vpn}");
    }
}

#[test]
fn populate_maps_large_folios_and_pageout_swaps_them_out_whole() {
    let sys = System::new(cfg("pin-retry", zram(256), 256)).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 40);
    mm.populate().unwrap();
    let frame = |v| match mm.pte(v).kind() {
        PteKind::Present(f) => f,
        k => panic!("{k:?}"),
    };
    // Pages 0..32: two order-4 folios; 32..40 do not fill one: order 0.
    let f = sys.frames();
    assert_eq!((f.order(frame(0)), f.folio_of(frame(5))), (4, frame(0)));
    assert_eq!(frame(5), frame(0) + 5);
    assert_eq!(f.order(frame(35)), 0);
    assert_clean(&sys, &[&mm]);
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..40, &mut st), Ok(40));
    assert_eq!((st.thp_swpout, st.thp_swpout_fallback), (2, 0));
    // Contiguous, aligned slots per folio.
    let s0 = slot(&mm, 0);
    assert_eq!(s0 % 16, 0);
    assert!((0..16).all(|v| slot(&mm, v) == s0 + v as u64));
    assert_eq!(sys.swap_map().stats().order_allocs[4], 2);
    assert_clean(&sys, &[&mm]);
}

#[test]
fn every_strategy_swaps_large_ranges_back_in_correctly() {
    for s in names() {
        let sys = System::new(cfg(s, zram(256), 256)).unwrap();
        let mm = AddressSpace::new(Arc::clone(&sys), 48);
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        for vpn in (0..48).step_by(3) {
            mm.write(vpn, &mut st).unwrap();
        }
        assert_eq!(mm.pageout(0..48, &mut st), Ok(48), "{s}");
        let mut st = FaultStats::default();
        check_all(&mm, &mut st, |v| u64::from(v % 3 == 0));
        let large = matches!(
            s,
            "bypass" | "pin-retry" | "pin-sleep" | "pin-waitqueue" | "sync-map"
        );
        // Three folios of 16: one major fault each for the large forms.
        if large {
            assert_eq!((st.thp_swpin, st.major), (3, 3), "{s}: {st:?}");
        } else {
            assert_eq!(st.thp_swpin, 0, "{s}");
        }
        assert_clean(&sys, &[&mm]);
        // Swapped in large, written, paged out whole again.
        mm.write(7, &mut st).unwrap();
        let before = st.thp_swpout;
        assert_eq!(mm.pageout(0..16, &mut st), Ok(16), "{s}");
        if large {
            assert_eq!(st.thp_swpout, before + 1, "{s}");
        }
        check_all(&mm, &mut st, |v| u64::from(v % 3 == 0) + u64::from(v == 7));
        assert_clean(&sys, &[&mm]);
    }
}

#[test]
fn a_fragmented_swap_map_splits_the_folio_for_pageout() {
    // 40 slots in clusters of 16: cluster 0 has the header slot and
    // cluster 2 the end of the device, so only cluster 1 can take an
    // order-4 folio; a second folio falls back and is split over 0 and 2.
    let sys = System::new(cfg("pin-retry", zram(40), 128)).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 32);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..16, &mut st), Ok(16));
    assert_eq!(st.thp_swpout, 1);
    assert_eq!(mm.pageout(16..32, &mut st), Ok(16));
    assert_eq!(st.thp_swpout_fallback, 1);
    assert_eq!(sys.frames().stats().splits, 1);
    assert_eq!(sys.swap_map().stats().order_fallbacks[4], 1);
    // The split range's entries are not one aligned run: order 0 for it.
    let mut st = FaultStats::default();
    check_all(&mm, &mut st, |_| 0);
    assert_eq!(st.thp_swpin, 1);
    assert_clean(&sys, &[&mm]);
}

#[test]
fn partial_operations_on_a_folio_range_take_order_0() {
    let sys = System::new(cfg("pin-retry", zram(256), 256)).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 64);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    // Page-out of part of a folio splits it and pages out that part.
    assert_eq!(mm.pageout(0..8, &mut st), Ok(8));
    assert_eq!((st.thp_swpout, sys.frames().stats().splits), (0, 1));
    assert!(matches!(mm.pte(8).kind(), PteKind::Present(_)));
    assert_clean(&sys, &[&mm]);
    // Whole folios out, then zap one page of a swapped-out range.
    assert_eq!(mm.pageout(16..64, &mut st), Ok(48));
    mm.dontneed(20..21);
    assert_clean(&sys, &[&mm]);
    let mut st = FaultStats::default();
    for vpn in 16..32 {
        let want = if vpn == 20 { 0 } else { index_word(vpn) };
        assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(want), "page {vpn}");
    }
    assert_eq!(st.thp_swpin, 0, "a partly zapped range swaps in order 0");
    // A write to one page of a large folio swapped in whole.
    mm.write(40, &mut st).unwrap();
    assert_eq!(st.thp_swpin, 1);
    for vpn in 32..48 {
        assert_eq!(mm.read_word(vpn, 0, &mut st), Ok(u64::from(vpn == 40)));
    }
    // Zap part of a mapped large folio: the rest stays mapped and counted.
    mm.dontneed(34..36);
    assert_clean(&sys, &[&mm]);
    assert_eq!(mm.pageout(32..48, &mut st), Ok(14));
    assert_clean(&sys, &[&mm]);
    assert_eq!(mm.read_word(40, 0, &mut st), Ok(1));
    assert_clean(&sys, &[&mm]);
}

#[test]
fn a_forked_range_is_shared_and_swaps_in_order_0() {
    let sys = System::new(cfg("pin-retry", zram(256), 256)).unwrap();
    let mut mm = AddressSpace::new(Arc::clone(&sys), 32);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..32, &mut st), Ok(32));
    let child = mm.fork().unwrap();
    assert_eq!(sys.swap_map().count(slot(&mm, 3)), Ok(2));
    // Shared entries: no large swap-in (large folios are exclusive).
    let mut st = FaultStats::default();
    mm.write(3, &mut st).unwrap();
    assert_eq!(st.thp_swpin, 0);
    assert_clean(&sys, &[&mm, &child]);
    // The child goes; the parent's other range is single again.
    drop(child);
    mm.write(20, &mut st).unwrap();
    assert_eq!(st.thp_swpin, 1);
    check_all(&mm, &mut st, |v| u64::from(v == 3 || v == 20));
    assert_clean(&sys, &[&mm]);
}

#[test]
fn zswap_rules_for_large_swap_in() {
    for (mode, want_large) in [(ZswapLarge::Mainline, 0), (ZswapLarge::AllInZswap, 2)] {
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(256, None));
        let mut c = cfg("pin-retry", dev, 256);
        c.zswap = Some(ZswapConfig {
            load: ZswapLoad::ExclusiveIfCached,
            tree: zswap_tree::Config::default(),
        });
        c.zswap_large = mode;
        let sys = System::new(c).unwrap();
        let mm = AddressSpace::new(Arc::clone(&sys), 32);
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        assert_eq!(mm.pageout(0..32, &mut st), Ok(32));
        assert_eq!(sys.zswap().unwrap().stats().stored_pages, 32);
        let mut st = FaultStats::default();
        check_all(&mm, &mut st, |_| 0);
        assert_eq!(st.thp_swpin, want_large, "{mode:?}");
        assert_clean(&sys, &[&mm]);
    }
    // A mixed range (one page written back to the device) takes order 0.
    let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(256, None));
    let mut c = cfg("pin-retry", dev, 256);
    c.zswap = Some(ZswapConfig {
        load: ZswapLoad::ExclusiveIfCached,
        tree: zswap_tree::Config::default(),
    });
    c.zswap_large = ZswapLarge::AllInZswap;
    let sys = System::new(c).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 16);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..16, &mut st), Ok(16));
    let z = sys.zswap().unwrap();
    assert_eq!(z.writeback(1, |s, p| sys.device().write(s, p).unwrap()), 1);
    let mut st = FaultStats::default();
    check_all(&mm, &mut st, |_| 0);
    assert_eq!(st.thp_swpin, 0);
    assert_clean(&sys, &[&mm]);
}

#[test]
fn the_xarray_swap_cache_splits_large_folios() {
    let mut c = cfg("swapcache", zram(256), 256);
    c.swap_cache = SwapCacheKind::XArray;
    let sys = System::new(c).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 32);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..32, &mut st), Ok(32));
    assert_eq!((st.thp_swpout, sys.frames().stats().splits), (0, 2));
    check_all(&mm, &mut st, |_| 0);
    assert_clean(&sys, &[&mm]);
}

#[test]
fn orders_beyond_the_cluster_are_refused() {
    let mut c = cfg("pin-retry", zram(64), 64);
    c.cluster_size = 8;
    let err = System::new(c).unwrap_err();
    assert!(
        matches!(&err, FaultError::Config(m) if m.contains("largest is 3")),
        "{err}"
    );
    let mut c = cfg("pin-retry", zram(64), 64);
    c.orders = 1 << 10;
    assert!(matches!(System::new(c), Err(FaultError::Config(_))));
}

/// zram multi-page compression (2024 RFC) under the fault path: a whole
/// page-out stores one 64 KiB object per folio, a large swap-in reads it
/// once, and an order-0 swap-in of one page of a range that can no longer
/// be swapped in large (one page zapped) decompresses the whole object.
#[test]
fn zram_multi_page_objects_through_the_fault_path() {
    let dev = Arc::new(
        Zram::new(256, zswap_tree::Backend::default().compressor())
            .multi_pages(4)
            .unwrap(),
    );
    let sys = System::new(cfg("pin-retry", dev.clone(), 256)).unwrap();
    let mm = AddressSpace::new(Arc::clone(&sys), 32);
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    for vpn in (0..32).step_by(5) {
        mm.write(vpn, &mut st).unwrap();
    }
    assert_eq!(mm.pageout(0..32, &mut st), Ok(32));
    assert_eq!((st.thp_swpout, dev.stats().multi_writes), (2, 2));
    // Folio 0 whole: one object read.
    mm.write(3, &mut st).unwrap();
    assert_eq!((st.thp_swpin, dev.stats().multi_reads), (1, 1));
    // Folio 1 with page 17 zapped: order 0 for each page, each a partial
    // read of the object.
    mm.dontneed(17..18);
    let mut st = FaultStats::default();
    let count = |v: usize| u64::from(v.is_multiple_of(5)) + u64::from(v == 3);
    for vpn in (16..32).chain(0..16).filter(|&v| v != 17) {
        assert_eq!(mm.read_word(vpn, 0, &mut st), Ok(count(vpn)), "page {vpn}");
        assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)));
    }
    assert_eq!(st.thp_swpin, 0);
    assert_eq!(dev.stats().multi_partial_reads, 15);
    assert_clean(&sys, &[&mm]);
}
