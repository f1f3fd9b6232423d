//! loom models of the fault path: one page, a 2-slot device (slot 0 is the
//! header, so every page-out reuses slot 1), 2-slot clusters, no readahead.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p fault_path --test loom`.
//!
//! - Race 1 (seed 004, ABA on slot reuse): `bypass` is a negative control,
//!   loom must find the lost update; every other strategy passes.
//! - Race 2 (seed 001, zswap double swap-in): with `bypass` and exclusive
//!   zswap loads, loom finds the second swap-in reading the device after the
//!   first erased zswap's copy (a misload); `exclusive-if-cached` fixes
//!   `bypass`, and every pinning strategy passes with either mode.
//!   `swap-count`, which lets two swap-ins read the slot at once, loses the
//!   page with either mode (two more negative controls).
//! - Race 3 (seed 002, two contrary uses of add_to_swap_cache): in the
//!   legacy mode (no `SWAP_HAS_CACHE` pin at allocation, readahead checks
//!   the cache before the lock) loom finds two folios for one slot; the
//!   modern path passes.
//! - Race 4 (seeds 000/003, zap during swap-in): every strategy passes: the
//!   slot is freed exactly once and nothing is installed into a zapped PTE
//!   (for `pte-marker`, including a zap of the marker itself).
//! - Races 5-8 (large folios, DESIGN.md section 7), on two order-1 folios:
//!   an order-1 swap-in against an order-0 swap-in of one of its pages
//!   whose slot is then reused (negative control: pin only the faulting
//!   entry); against a zap of one page whose slot a page-out reuses
//!   (negative control: re-check only the faulting PTE, with `bypass` and
//!   `pin-retry`); on a range half in zswap (negative control: skip the
//!   backend check). The strategies without a large form stay correct on
//!   large ranges. Race 8: a range with one page in the swap cache,
//!   mid-page-out and newer than its device copy (negative control: skip
//!   the swap-cache check, with the unpinned `bypass`).
//! - The folio state word (reference count and flags in one atomic): a
//!   stale swap-cache lookup against the owner's map, free and reuse of the
//!   frame.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use fault_path::device::{Ramdisk, SwapDevice};
use fault_path::harness::check_accounting;
use fault_path::pte::PteKind;
use fault_path::{
    AddressSpace, FaultStats, LargeBug, SwapCacheKind, System, SystemConfig, ZswapConfig,
    ZswapLarge, ZswapLoad, index_word,
};
use loom::sync::Arc;
use loom::thread;

/// One page, populated and paged out to slot 1, through zswap if `zswap`.
fn swapped_page_zswap(
    strategy: &str,
    zswap: Option<ZswapLoad>,
) -> (StdArc<System>, Arc<AddressSpace>) {
    swapped_page_with(strategy, zswap, SwapCacheKind::default())
}

/// One page, populated and paged out to slot 1, through zswap if `zswap`,
/// with the swap cache kept as `kind`.
fn swapped_page_with(
    strategy: &str,
    zswap: Option<ZswapLoad>,
    kind: SwapCacheKind,
) -> (StdArc<System>, Arc<AddressSpace>) {
    let dev: StdArc<dyn SwapDevice> = StdArc::new(Ramdisk::new(2, None));
    let mut cfg = SystemConfig::new(4, dev).strategy(strategy);
    cfg.swap_cache = kind;
    cfg.cluster_size = 2;
    cfg.readahead = 0;
    cfg.zswap = zswap.map(|load| ZswapConfig {
        load,
        tree: zswap_tree::Config::default(),
    });
    let sys = System::new(cfg).unwrap();
    let mm = Arc::new(AddressSpace::new(StdArc::clone(&sys), 1));
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..1, &mut st), Ok(1));
    assert_eq!(mm.pte(0).kind(), PteKind::Swap(1));
    (sys, mm)
}

/// Race 1: T0 writes the page; T1 writes it and pages it out again, which
/// reuses slot 1 and restores the very same PTE value. Both increments must
/// survive.
fn aba(strategy: &'static str) {
    aba_with(strategy, SwapCacheKind::default());
}

/// [`aba`] with the swap cache kept as `kind`.
fn aba_with(strategy: &'static str, kind: SwapCacheKind) {
    loom::model(move || {
        let (sys, mm) = swapped_page_with(strategy, None, kind);
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            mm1.write(0, &mut st).unwrap();
            let _ = mm1.pageout(0..1, &mut st);
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        assert_eq!(mm.read_word(0, 1, &mut st), Ok(index_word(0)), "misload");
        assert_eq!(mm.read_word(0, 0, &mut st), Ok(2), "data loss ({strategy})");
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn aba_bypass_negative_control() {
    // loom must find the interleaving of seed 004 in which the stale page
    // is installed and an increment is lost.
    let found = std::panic::catch_unwind(|| aba("bypass"));
    assert!(found.is_err(), "loom did not find the bypass ABA");
}

#[test]
fn aba_pin_retry() {
    aba("pin-retry");
}

#[test]
fn aba_pin_sleep() {
    aba("pin-sleep");
}

#[test]
fn aba_pin_waitqueue() {
    aba("pin-waitqueue");
}

#[test]
fn aba_sync_map() {
    aba("sync-map");
}

#[test]
fn aba_swap_count() {
    aba("swap-count");
}

#[test]
fn aba_pte_marker() {
    aba("pte-marker");
}

#[test]
fn aba_swapcache() {
    aba("swapcache");
}

#[test]
fn aba_swapcache_xarray() {
    aba_with("swapcache", SwapCacheKind::XArray);
}

/// Race 4: a write fault against MADV_DONTNEED of the same page.
fn zap(strategy: &'static str) {
    zap_with(strategy, SwapCacheKind::default());
}

/// [`zap`] with the swap cache kept as `kind`.
fn zap_with(strategy: &'static str, kind: SwapCacheKind) {
    loom::model(move || {
        let (sys, mm) = swapped_page_with(strategy, None, kind);
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || mm1.dontneed(0..1));
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        match mm.pte(0).kind() {
            // The zap came last.
            PteKind::None => {}
            // The fault came after the zap: a fresh zero page, written once.
            // Never the swapped-in contents in a zapped PTE.
            PteKind::Present(fr) => {
                assert_eq!(
                    sys.frames().word(fr, 1),
                    0,
                    "swap-in installed into a zapped PTE"
                );
                assert_eq!(sys.frames().word(fr, 0), 1);
            }
            k => panic!("unexpected {k:?}"),
        }
        // The slot was freed exactly once.
        assert_eq!(
            sys.slots_freed(),
            1,
            "pte {:?} slot {:?} cache {:?} stats {st:?}",
            mm.pte(0),
            sys.swap_map().state(1),
            sys.cached_folio(1)
        );
        assert_eq!(sys.swap_map().stats().inuse_slots, 0);
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn zap_bypass() {
    // Without slot reuse the zap race is harmless even unpinned.
    zap("bypass");
}

#[test]
fn zap_pin_retry() {
    zap("pin-retry");
}

#[test]
fn zap_pin_sleep() {
    zap("pin-sleep");
}

#[test]
fn zap_pin_waitqueue() {
    zap("pin-waitqueue");
}

#[test]
fn zap_sync_map() {
    zap("sync-map");
}

#[test]
fn zap_swap_count() {
    zap("swap-count");
}

/// With `pte-marker` the zap can clear the marker itself while the folio
/// is being read: the swap-in must then free the slot and map nothing.
#[test]
fn zap_pte_marker() {
    zap("pte-marker");
}

/// `pte-marker`: the zap comes right after the swap-in maps its folio,
/// and the frame it frees is reused at once by another owner that locks
/// it. The swap-in must not touch the folio once its reference has become
/// the PTE's: an unlock after the PTE lock goes would release the new
/// owner's lock (loom catches that with the unlock after `pte_unmap_unlock`;
/// do_swap_page's `folio_unlock` comes before it, and so does the model's).
#[test]
fn zap_pte_marker_then_reuse_keeps_the_new_owners_lock() {
    loom::model(|| {
        let (sys, mm) = swapped_page_with("pte-marker", None, SwapCacheKind::default());
        let (mm1, sys1) = (mm.clone(), StdArc::clone(&sys));
        let t1 = thread::spawn(move || {
            mm1.dontneed(0..1);
            let frames = sys1.frames();
            if let Some(f) = frames.alloc() {
                frames.lock(f);
                assert!(
                    frames.is_locked(f),
                    "frame {f}: the lock its new owner holds was released by another"
                );
                frames.unlock_put(f);
            }
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn zap_swapcache_xarray() {
    zap_with("swapcache", SwapCacheKind::XArray);
}

#[test]
fn zap_swapcache() {
    zap("swapcache");
}

/// Race 2: two write faults on a page that zswap holds (the device was
/// never written). An exclusive load by a swap-in that then loses the
/// `pte_same` race drops the only copy.
fn zswap_double_swapin(strategy: &'static str, load: ZswapLoad) {
    loom::model(move || {
        let (sys, mm) = swapped_page_zswap(strategy, Some(load));
        assert_eq!(sys.zswap().map(|z| z.stats().stored_pages), Some(1));
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            mm1.write(0, &mut st).unwrap();
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        assert_eq!(
            mm.read_word(0, 1, &mut st),
            Ok(index_word(0)),
            "misload ({strategy})"
        );
        assert_eq!(mm.read_word(0, 0, &mut st), Ok(2), "data loss ({strategy})");
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn zswap_exclusive_bypass_negative_control() {
    let found = std::panic::catch_unwind(|| zswap_double_swapin("bypass", ZswapLoad::Exclusive));
    assert!(found.is_err(), "loom did not find the zswap double swap-in");
}

#[test]
fn zswap_exclusive_if_cached_bypass() {
    zswap_double_swapin("bypass", ZswapLoad::ExclusiveIfCached);
}

/// Every strategy that lets only one swap-in read the slot at a time (a
/// pin, the SYNC state, a marker, the swap cache) is safe with exclusive
/// loads.
#[test]
fn zswap_exclusive_pinned_strategies() {
    for s in [
        "pin-retry",
        "pin-sleep",
        "pin-waitqueue",
        "sync-map",
        "pte-marker",
        "swapcache",
    ] {
        zswap_double_swapin(s, ZswapLoad::Exclusive);
    }
}

/// `swap-count` does not pin: the owner reads on the bypass path while
/// racers read through the swap cache, so an exclusive load by the owner
/// leaves the racers nothing but the device. A second negative control: the
/// proposal is unsafe with Linux 6.5-6.8's exclusive zswap loads.
#[test]
fn zswap_exclusive_swap_count_negative_control() {
    let found =
        std::panic::catch_unwind(|| zswap_double_swapin("swap-count", ZswapLoad::Exclusive));
    assert!(
        found.is_err(),
        "loom did not find swap-count's zswap double swap-in"
    );
}

/// Nor does 25cd241408a2 save it: the racer's folio *is* in the swap cache,
/// so its load is exclusive, while the bypass owner is still reading. That
/// commit's argument ("the synchronous read already has to pin the
/// swp_entry_t ... using swapcache_prepare()") assumes a pin that
/// `swap-count` does not take.
#[test]
fn zswap_exclusive_if_cached_swap_count_negative_control() {
    let found = std::panic::catch_unwind(|| {
        zswap_double_swapin("swap-count", ZswapLoad::ExclusiveIfCached)
    });
    assert!(
        found.is_err(),
        "loom did not find swap-count's double swap-in"
    );
}

/// Race 3 (seed 002): a page-out allocates a slot and adds its folio to the
/// swap cache while a swap-in's readahead of a neighbouring slot reaches
/// the new slot. Two pages on a 4-slot device; page 1 is swapped out at
/// slot 1 beforehand, and readahead covers slots 0..4.
fn contrary_adds(legacy: bool, kind: SwapCacheKind) {
    loom::model(move || {
        let dev: StdArc<dyn SwapDevice> = StdArc::new(Ramdisk::new(4, None));
        let mut cfg = SystemConfig::new(8, dev).strategy("swapcache");
        cfg.swap_cache = kind;
        cfg.cluster_size = 2;
        cfg.readahead = 4;
        cfg.legacy_add_to_swap_cache = legacy;
        let sys = System::new(cfg).unwrap();
        let mm = Arc::new(AddressSpace::new(StdArc::clone(&sys), 2));
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        assert_eq!(mm.pageout(1..2, &mut st), Ok(1));
        let mm1 = mm.clone();
        let pager = thread::spawn(move || {
            let mut st = FaultStats::default();
            mm1.pageout(0..1, &mut st).unwrap();
        });
        // The fault on page 1 reads ahead into the slot page 0 is getting.
        assert_eq!(mm.read_word(1, 1, &mut st), Ok(index_word(1)));
        pager.join().unwrap();
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "two folios for one slot: {errs:?}");
        assert_eq!(mm.read_word(0, 1, &mut st), Ok(index_word(0)), "misload");
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn contrary_adds_legacy_negative_control() {
    let found = std::panic::catch_unwind(|| contrary_adds(true, SwapCacheKind::XArray));
    assert!(found.is_err(), "loom did not find seed 002's race");
}

#[test]
fn contrary_adds_modern() {
    contrary_adds(false, SwapCacheKind::Table);
}

#[test]
fn contrary_adds_modern_xarray() {
    contrary_adds(false, SwapCacheKind::XArray);
}

/// The folio state word: a stale swap-cache lookup (`try_get_lock` on a
/// frame number read before the folio left the cache) races with the
/// owner, who maps it (`put_unlock_clear`), frees it and reuses the frame
/// for another slot. The lookup either finds the frame free, or takes a
/// reference and the lock, and then sees the state and the contents of one
/// moment: `PG_SWAPCACHE` only for the new slot, with that slot's data
/// (the Acquire of the combined step pairs with the Release of the
/// owner's). Nothing leaks and nothing is freed twice; while the lookup
/// holds its reference the frame cannot be reused.
#[test]
fn folio_stale_lookup_vs_free_and_reuse() {
    use fault_path::frame::{Frames, GetLock, PG_SWAPCACHE};
    loom::model(|| {
        let frames = Arc::new(Frames::new(1));
        let f = frames.alloc_swapcache(5, 2).unwrap();
        frames.set_word(f, 0, 42);
        let owner = {
            let frames = frames.clone();
            thread::spawn(move || {
                // The exclusive map: the cache's reference, the flag and the
                // lock go; then the PTE's reference goes (a zap).
                frames.put_unlock_clear(f, PG_SWAPCACHE);
                frames.put(f);
                // Reused for slot 6 (unless the lookup's reference kept it
                // allocated): filled under the lock, then unlocked.
                let Some(g) = frames.alloc_swapcache(6, 1) else {
                    return false;
                };
                assert_eq!(g, f);
                frames.set_word(g, 0, 7);
                frames.end_read(g, true);
                true
            })
        };
        match frames.try_get_lock(f) {
            GetLock::Free => {}
            got => {
                if got == GetLock::Got {
                    frames.lock(f);
                }
                if frames.flags(f) & PG_SWAPCACHE != 0 {
                    assert_eq!(frames.swap(f), 6, "a stale folio still cached");
                    assert_eq!(frames.word(f, 0), 7, "the new slot's data unseen");
                }
                frames.unlock_put(f);
            }
        }
        let reused = owner.join().unwrap();
        let st = frames.stats();
        assert_eq!((st.in_use, st.double_frees), (u32::from(reused), 0));
        assert_eq!(frames.refs(f), u32::from(reused));
    });
}

/// Large folios: four pages, two order-1 folios, on a 4-slot device in
/// 2-slot clusters: folio A (pages 0-1) is paged out whole to slots 2-3;
/// folio B is split by a page-out that covers only page 2, which goes to
/// slot 1, the last free slot, so that a later page-out reuses a slot of
/// A's range once it is freed. Page 3 stays mapped.
fn large_pair(
    strategy: &str,
    bug: Option<LargeBug>,
    zswap: Option<ZswapLoad>,
) -> (StdArc<System>, Arc<AddressSpace>) {
    let dev: StdArc<dyn SwapDevice> = StdArc::new(Ramdisk::new(4, None));
    let mut cfg = SystemConfig::new(10, dev).strategy(strategy);
    cfg.cluster_size = 2;
    cfg.readahead = 0;
    cfg.orders = 0b11;
    cfg.large_bug = bug;
    cfg.zswap_large = ZswapLarge::AllInZswap;
    cfg.zswap = zswap.map(|load| ZswapConfig {
        load,
        tree: zswap_tree::Config::default(),
    });
    let sys = System::new(cfg).unwrap();
    let mm = Arc::new(AddressSpace::new(StdArc::clone(&sys), 4));
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(0..3, &mut st), Ok(3));
    assert_eq!(st.thp_swpout, 1);
    let kinds: Vec<PteKind> = (0..3).map(|v| mm.pte(v).kind()).collect();
    assert_eq!(
        kinds,
        [PteKind::Swap(2), PteKind::Swap(3), PteKind::Swap(1)],
        "setup"
    );
    (sys, mm)
}

/// `loom::model` with room for the retry loops of the large-folio models:
/// a refaulting thread (pin-retry's) may take many steps while the pin
/// holder is descheduled, and the default bound of 1000 branches would end
/// such an execution before the violation under test shows.
fn large_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 20_000;
    b.check(f);
}

/// The message of the panic a negative control's model raised ("" when
/// it raised none), so that the test checks it failed for the right
/// reason.
fn caught(r: std::thread::Result<()>) -> String {
    let Err(p) = r else {
        return String::new();
    };
    let msg = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    eprintln!("negative control caught: {msg}");
    msg
}

/// Every page's index and counter after a large-folio race, and the
/// accounting.
fn check_large(sys: &System, mm: &AddressSpace, counts: [u64; 4]) {
    let mut st = FaultStats::default();
    for (vpn, want) in counts.into_iter().enumerate() {
        assert_eq!(
            mm.read_word(vpn, 1, &mut st),
            Ok(index_word(vpn)),
            "misload"
        );
        assert_eq!(
            mm.read_word(vpn, 0, &mut st),
            Ok(want),
            "data loss, page {vpn}"
        );
    }
    let errs = check_accounting(sys, &[mm]);
    assert!(errs.is_empty(), "{errs:?}");
}

/// Race 5: an order-1 swap-in of pages 0-1 (T0 writes page 0) against an
/// order-0 swap-in of page 1 that writes it and pages it out again (T1),
/// which reuses slot 3: the PTE gets back its very value. Exactly one wins
/// each slot and both increments survive; pinning only the faulting entry
/// lets T0 install its stale copy of page 1.
fn large_vs_order0(strategy: &'static str, bug: Option<LargeBug>) {
    large_model(move || {
        let (sys, mm) = large_pair(strategy, bug, None);
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            mm1.write(1, &mut st).unwrap();
            let _ = mm1.pageout(1..2, &mut st);
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        check_large(&sys, &mm, [1, 1, 0, 0]);
    });
}

#[test]
fn large_vs_order0_pin_retry() {
    large_vs_order0("pin-retry", None);
}

#[test]
fn large_vs_order0_pin_waitqueue() {
    large_vs_order0("pin-waitqueue", None);
}

#[test]
fn large_vs_order0_swapcache() {
    large_vs_order0("swapcache", None);
}

#[test]
fn large_vs_order0_sync_map() {
    large_vs_order0("sync-map", None);
}

#[test]
fn large_vs_order0_pin_faulting_only_negative_control() {
    let found =
        std::panic::catch_unwind(|| large_vs_order0("pin-retry", Some(LargeBug::PinFaultingOnly)));
    assert!(
        caught(found).contains("data loss"),
        "loom did not find the half-pinned range"
    );
}

/// Race 6: an order-1 swap-in of pages 0-1 (T0 writes page 0) against a
/// zap of page 1 and a page-out of page 3 (T1), which reuses slot 3 once
/// the zap freed it. Nothing is installed into the zapped PTE, and every
/// slot is accounted for; re-checking only the faulting PTE installs into
/// it.
fn large_zap(strategy: &'static str, bug: Option<LargeBug>) {
    large_model(move || {
        let (sys, mm) = large_pair(strategy, bug, None);
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            mm1.dontneed(1..2);
            let mut st = FaultStats::default();
            let _ = mm1.pageout(3..4, &mut st);
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        if let PteKind::Present(fr) = mm.pte(1).kind() {
            panic!(
                "page 1 mapped after its zap (index {:#x})",
                sys.frames().word(fr, 1)
            );
        }
        mm.dontneed(1..2);
        let mut st = FaultStats::default();
        assert_eq!(mm.read_word(0, 0, &mut st), Ok(1), "data loss");
        assert_eq!(mm.read_word(3, 1, &mut st), Ok(index_word(3)), "misload");
        let errs = check_accounting(&sys, &[&mm]);
        assert!(errs.is_empty(), "{errs:?}");
    });
}

#[test]
fn large_zap_bypass() {
    large_zap("bypass", None);
}

#[test]
fn large_zap_pin_retry() {
    large_zap("pin-retry", None);
}

#[test]
fn large_zap_swapcache() {
    large_zap("swapcache", None);
}

#[test]
fn large_zap_sync_map() {
    large_zap("sync-map", None);
}

#[test]
fn large_zap_recheck_one_negative_control() {
    for s in ["bypass", "pin-retry"] {
        let found = std::panic::catch_unwind(|| large_zap(s, Some(LargeBug::RecheckFaultingOnly)));
        let msg = caught(found);
        assert!(
            msg.contains("after its zap") || msg.contains("slot"),
            "{s}: loom did not find the unchecked zap: {msg:?}"
        );
    }
}

/// Race 7: a mixed-backend range: pages 0-2 went to zswap, and page 0 was
/// written back to the device (its zswap entry is gone). T0 writes page
/// 0 and T1 page 1. With the 2026 RFC's rule the mixed range swaps in at
/// order 0 and both pages are right; skipping the backend check reads the
/// folio from the device, where page 1 never was: a misload.
fn large_mixed_backend(strategy: &'static str, bug: Option<LargeBug>) {
    large_model(move || {
        let (sys, mm) = large_pair(strategy, bug, Some(ZswapLoad::ExclusiveIfCached));
        let z = sys.zswap().unwrap();
        assert_eq!(z.writeback(1, |s, p| sys.device().write(s, p).unwrap()), 1);
        assert!(!z.contains(2) && z.contains(3));
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            mm1.write(1, &mut st).unwrap();
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        check_large(&sys, &mm, [1, 1, 0, 0]);
    });
}

#[test]
fn large_mixed_backend_pin_retry() {
    large_mixed_backend("pin-retry", None);
}

#[test]
fn large_mixed_backend_skip_check_negative_control() {
    let found = std::panic::catch_unwind(|| {
        large_mixed_backend("pin-retry", Some(LargeBug::SkipBackendCheck))
    });
    assert!(
        found.is_err(),
        "loom did not find the mixed-backend misload"
    );
}

/// Race 7, writeback form (the 2026 RFC's rule): pages 0-1 (slots 2-3)
/// and page 2 (slot 1) are all in zswap. T0 writes page 0, an order-1
/// swap-in of the all-in-zswap range; T1 is zswap's shrinker writing back
/// the two oldest entries to the device. Writeback pins each slot it
/// writes and is refused a held one, and the swap-in re-checks the
/// backend under its pin, so it either reads the whole range from zswap,
/// or meets a mixed range and takes order 0. Either control reads one
/// page of the folio from where it is not: a writeback that ignores the
/// pins moves it under the read, and a swap-in that checks only before
/// its pin misses a writeback that ended in between.
fn large_writeback(strategy: &'static str, bug: Option<LargeBug>) {
    large_model(move || {
        let (sys, mm) = large_pair(strategy, bug, Some(ZswapLoad::ExclusiveIfCached));
        let z = sys.zswap().unwrap();
        assert!((1..4).all(|s| z.contains(s)), "setup");
        let sys1 = StdArc::clone(&sys);
        let t1 = thread::spawn(move || {
            sys1.zswap().unwrap().shrink(2);
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        check_large(&sys, &mm, [1, 0, 0, 0]);
    });
}

#[test]
fn large_writeback_pin_retry() {
    large_writeback("pin-retry", None);
}

#[test]
fn large_writeback_swapcache() {
    large_writeback("swapcache", None);
}

#[test]
fn large_writeback_negative_controls() {
    for (bug, what) in [
        (
            LargeBug::WritebackIgnoresPins,
            "the writeback under the pinned read",
        ),
        (LargeBug::SkipBackendRecheck, "the writeback before the pin"),
    ] {
        let msg = caught(std::panic::catch_unwind(|| {
            large_writeback("pin-retry", Some(bug))
        }));
        assert!(
            msg.contains("zswap") || msg.contains("misload"),
            "loom did not find {what}: {msg:?}"
        );
    }
}

/// Race 8's setup: four order-0 pages; page 2 is paged out to slot 1,
/// pages 0-1 to slots 2-3 (contiguous and aligned, so an order-1 range);
/// page 1 is then swapped in and written, which frees slot 3 but leaves
/// its old copy on the device (a ramdisk does not discard), and slot 3 is
/// the only free slot. Order 1 is enabled afterwards.
fn cached_pair(strategy: &str, bug: Option<LargeBug>) -> (StdArc<System>, Arc<AddressSpace>) {
    let dev: StdArc<dyn SwapDevice> = StdArc::new(Ramdisk::new(4, None));
    let mut cfg = SystemConfig::new(10, dev).strategy(strategy);
    cfg.cluster_size = 2;
    cfg.readahead = 0;
    cfg.large_bug = bug;
    let sys = System::new(cfg).unwrap();
    let mm = Arc::new(AddressSpace::new(StdArc::clone(&sys), 4));
    mm.populate().unwrap();
    let mut st = FaultStats::default();
    assert_eq!(mm.pageout(2..3, &mut st), Ok(1));
    assert_eq!(mm.pageout(0..2, &mut st), Ok(2));
    mm.write(1, &mut st).unwrap();
    let kinds: Vec<PteKind> = (0..3).map(|v| mm.pte(v).kind()).collect();
    assert!(
        matches!(
            kinds[..],
            [PteKind::Swap(2), PteKind::Present(_), PteKind::Swap(1)]
        ),
        "setup: {kinds:?}"
    );
    sys.set_orders(0b11).unwrap();
    (sys, mm)
}

/// Race 8: a partially cached range. T1 pages page 1 out again: its
/// folio (dirty: the counter is 1) enters the swap cache at slot 3, the
/// PTE becomes `swap(3)`, and only then is the folio written; until then
/// slot 3 holds page 1's stale copy. T0 writes page 0, whose aligned
/// order-1 range is slots 2-3. `non_swapcache_batch` sees the cached
/// folio and takes order 0; skipping that check (with the unpinned
/// `bypass`, where no pin on slot 3 masks it) reads the stale copy and
/// installs it over the dirty folio: page 1's write is lost.
fn large_cached(strategy: &'static str, bug: Option<LargeBug>) {
    large_model(move || {
        let (sys, mm) = cached_pair(strategy, bug);
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            let _ = mm1.pageout(1..2, &mut st);
        });
        // A scheduling point before T0's fault: loom reorders T0's later
        // accesses against T1's but never moves a store of T1 ahead of a
        // load T0 already made (it explores one execution if T0 reads the
        // PTE first), so without it T1's page-out could not reach the
        // PTE before T0's batch check.
        thread::yield_now();
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        check_large(&sys, &mm, [1, 1, 0, 0]);
    });
}

#[test]
fn large_cached_bypass() {
    large_cached("bypass", None);
}

#[test]
fn large_cached_pin_retry() {
    large_cached("pin-retry", None);
}

#[test]
fn large_cached_swapcache() {
    large_cached("swapcache", None);
}

#[test]
fn large_cached_sync_map() {
    large_cached("sync-map", None);
}

#[test]
fn large_cached_skip_check_negative_control() {
    let found =
        std::panic::catch_unwind(|| large_cached("bypass", Some(LargeBug::SkipSwapCacheCheck)));
    assert!(
        caught(found).contains("data loss, page 1"),
        "loom did not find the stale copy under the cached folio"
    );
}

/// A large folio that a page-out left in the swap cache, and whose page 0
/// a fault mapped from there, is paged out again, on either swap cache.
/// T1 pages out the order-1 folio of pages 0-1 (slots 2-3), which enters
/// the cache in both slots in one step (the table's `table_add_nr`, the
/// xarray's `add_range`); T0 writes page 0, finds the folio in the swap
/// cache mid-page-out (the lookup of its slot finds the whole folio) and
/// takes a reference, so the freeze of `__remove_mapping` fails and the
/// folio stays cached; T0 maps page 0 from it. Then the range is paged out
/// again: the folio must go back to its own slots (shrink_folio_list skips
/// add_to_swap for a swap-cache folio). A run of new slots would leave
/// slots 2-3 naming a folio that is no longer in the swap cache for them,
/// and page 1's fault would find it stale forever (shuttle's race-7
/// scenario with `pin-waitqueue` spun past its step bound on that).
fn large_cached_folio_paged_out_again(strategy: &'static str, kind: SwapCacheKind) {
    use fault_path::frame::PG_SWAPCACHE;
    large_model(move || {
        let dev: StdArc<dyn SwapDevice> = StdArc::new(Ramdisk::new(6, None));
        let mut cfg = SystemConfig::new(12, dev).strategy(strategy);
        cfg.cluster_size = 2;
        cfg.readahead = 0;
        cfg.orders = 0b11;
        cfg.swap_cache = kind;
        let sys = System::new(cfg).unwrap();
        let mm = Arc::new(AddressSpace::new(StdArc::clone(&sys), 4));
        mm.populate().unwrap();
        let mm1 = mm.clone();
        let t1 = thread::spawn(move || {
            let mut st = FaultStats::default();
            let _ = mm1.pageout(0..2, &mut st);
        });
        let mut st = FaultStats::default();
        mm.write(0, &mut st).unwrap();
        t1.join().unwrap();
        let _ = mm.pageout(0..2, &mut st);
        let frames = sys.frames();
        for s in 0..sys.swap_map().nr_slots() {
            if let Some(fr) = sys.cached_folio(s) {
                let nr = 1u64 << frames.order(fr);
                assert!(
                    frames.flags(fr) & PG_SWAPCACHE != 0 && s.wrapping_sub(frames.swap(fr)) < nr,
                    "slot {s} names folio {fr}, which is not in the swap cache for it"
                );
            }
        }
        check_large(&sys, &mm, [1, 0, 0, 0]);
    });
}

#[test]
fn large_cached_folio_paged_out_again_keeps_its_slots() {
    large_cached_folio_paged_out_again("pin-retry", SwapCacheKind::Table);
}

#[test]
fn large_cached_folio_paged_out_again_xarray() {
    for s in ["pin-retry", "swapcache"] {
        large_cached_folio_paged_out_again(s, SwapCacheKind::XArray);
    }
}

/// Ranges swapped out as large folios under the strategies that stay at
/// order 0 (`swap-count`, `pte-marker`): two order-0 swap-ins of the two
/// pages of one range race, and both are right.
#[test]
fn large_range_under_order0_strategies() {
    for s in ["swap-count", "pte-marker"] {
        large_model(move || {
            let (sys, mm) = large_pair(s, None, None);
            let mm1 = mm.clone();
            let t1 = thread::spawn(move || {
                let mut st = FaultStats::default();
                mm1.write(1, &mut st).unwrap();
                st.thp_swpin
            });
            let mut st = FaultStats::default();
            mm.write(0, &mut st).unwrap();
            assert_eq!(t1.join().unwrap() + st.thp_swpin, 0, "{s}");
            check_large(&sys, &mm, [1, 1, 0, 0]);
        });
    }
}
