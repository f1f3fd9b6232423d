//! shuttle scenarios of the fault path: the races of DESIGN.md (1-4, and
//! the large-folio races 5-8) at sizes loom cannot explore: 3-6 threads
//! (workers walking the pages in opposite directions, a page-out thread, a
//! zap thread), 8-256 pages, every strategy.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release -p fault_path
//! --test shuttle --target-dir target/shuttle`.
//!
//! Each scenario runs `SHUTTLE_ITERATIONS` schedules (default 10^4; the
//! explore helpers are the `shuttle_explore` crate's, shared by every
//! crate's suite): half under shuttle's PCT scheduler (bug depth
//! `SHUTTLE_PCT_DEPTH`, default 3), half under its random scheduler. A
//! negative control (the unfixed strategy, or a large-folio swap-in with
//! one check removed: [`LargeBug`]) must be caught within that many
//! schedules, for the reason named (data loss, misload, a zapped PTE
//! mapped, an accounting error); each fixed strategy must pass all of them.
//! `SHUTTLE_RANDOM_SEED` fixes the seed of both schedulers (shuttle reads
//! it); by default each run draws its own.
//!
//! # Replaying a failure
//!
//! A failing schedule is printed by shuttle as
//! `failing schedule: "<hex>"` (it encodes the scheduler's seed and every
//! scheduling decision). Replay it, deterministically and once, with
//!
//! ```text
//! SHUTTLE_REPLAY='<hex>' RUSTFLAGS="--cfg shuttle" cargo test --release \
//!     -p fault_path --test shuttle --target-dir target/shuttle -- --exact <test>
//! ```
//!
//! which runs the test's scenario under `shuttle::replay` instead of the
//! schedulers (a test with several scenarios replays the first one, so
//! replay a scenario of such a test through a test of its own). Long
//! schedules: `SHUTTLE_SCHEDULE_DIR=<dir>` makes shuttle write each
//! failing schedule to `<dir>/scheduleNNN.txt` instead of printing it, and
//! `SHUTTLE_REPLAY_FILE=<file>` replays one (`shuttle::replay_from_file`).
//! A replay panics with the original failure. The negative controls print
//! the schedule that caught them, and so can be replayed the same way.
#![cfg(shuttle)]

use std::ops::Range;
use std::sync::Arc;

use fault_path::device::{Ramdisk, SwapDevice};
use fault_path::harness::check_accounting;
use fault_path::pte::PteKind;
use fault_path::{
    AddressSpace, FaultError, FaultStats, LargeBug, SwapCacheKind, System, SystemConfig,
    ZswapConfig, ZswapLarge, ZswapLoad, index_word,
};
use shuttle_explore::{explore, explore_named, iterations, must_catch};

/// One scenario: a region of `pages` pages on a device of `slots` slots;
/// the pages first go out to swap (as many as fit), then `workers`
/// threads add 1 to every page (even workers walking up, odd ones down),
/// while a page-out thread makes `pageouts` page-out calls and a zap
/// thread zaps `zap` (MADV_DONTNEED) once.
#[derive(Clone, Debug)]
struct Scenario {
    strategy: &'static str,
    pages: usize,
    slots: u64,
    workers: usize,
    /// The workers touch only these pages (all by default).
    touch: Option<Range<usize>>,
    /// Odd workers page each page out again (alone) right after writing
    /// it, so that a subpage of a large range is swapped in at order 0 and
    /// its slot reused at once (race 5's shape).
    own_pageout: bool,
    /// Page-out calls of the page-out thread (0: no such thread).
    pageouts: usize,
    /// Pages per page-out call; with large orders, calls alternate
    /// between one page and an aligned largest folio.
    chunk: usize,
    /// A range zapped by a thread of its own.
    zap: Option<Range<usize>>,
    readahead: u32,
    zswap: Option<ZswapLoad>,
    /// zswap entries written back to the device after the first page-out
    /// (oldest first), so that ranges are on mixed backends.
    writeback: usize,
    /// Calls of zswap's shrinker (`ZswapTree::shrink(1)`: writeback
    /// through the system's target, which pins) by a thread of its own.
    shrinks: usize,
    swap_cache: SwapCacheKind,
    legacy: bool,
    orders: u32,
    cluster_size: u32,
    large_bug: Option<LargeBug>,
    /// Paged out alone before the others, so that the rest land on slots
    /// one further (aligned pairs when slot 0 is the header).
    pageout_first: Option<usize>,
    /// Written once after the setup page-out (swapped in: their slots
    /// are freed, the ramdisk keeps their old copies).
    setup_writes: &'static [usize],
    /// Folio orders enabled after the setup (0: none).
    late_orders: u32,
    /// The page-out thread pages out these pages one by one instead of
    /// its walk (`pageouts` is ignored then).
    pageout_list: &'static [usize],
}

impl Scenario {
    fn new(strategy: &'static str) -> Scenario {
        Scenario {
            strategy,
            pages: 8,
            slots: 5,
            workers: 3,
            touch: None,
            own_pageout: false,
            pageouts: 4,
            chunk: 2,
            zap: None,
            readahead: 0,
            zswap: None,
            writeback: 0,
            shrinks: 0,
            swap_cache: SwapCacheKind::default(),
            legacy: false,
            orders: 1,
            cluster_size: 2,
            large_bug: None,
            pageout_first: None,
            setup_writes: &[],
            late_orders: 0,
            pageout_list: &[],
        }
    }

    fn system(&self) -> Arc<System> {
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(self.slots, None));
        let frames = 2 * self.pages as u32 + self.slots as u32 + 16 * (self.workers as u32 + 2);
        let mut cfg = SystemConfig::new(frames, dev).strategy(self.strategy);
        cfg.swap_cache = self.swap_cache;
        cfg.cluster_size = self.cluster_size;
        cfg.readahead = self.readahead;
        cfg.legacy_add_to_swap_cache = self.legacy;
        cfg.orders = self.orders;
        cfg.large_bug = self.large_bug;
        cfg.zswap_large = ZswapLarge::AllInZswap;
        cfg.zswap = self.zswap.map(|load| ZswapConfig {
            load,
            tree: zswap_tree::Config::default(),
        });
        System::new(cfg).unwrap()
    }

    /// One execution (inside shuttle).
    fn run(&self) {
        let sys = self.system();
        let mm = Arc::new(AddressSpace::new(Arc::clone(&sys), self.pages));
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        let align = 1usize << (31 - (self.orders | 1).leading_zeros());
        if let Some(v) = self.pageout_first {
            mm.pageout(v..v + 1, &mut st).unwrap();
        }
        // Out to swap in aligned chunks, as many as fit.
        for start in (0..self.pages).step_by(align) {
            match mm.pageout(start..start + align, &mut st) {
                Ok(_) | Err(FaultError::SwapFull) => {}
                Err(e) => panic!("setup page-out: {e}"),
            }
        }
        if self.writeback > 0 {
            let z = sys.zswap().expect("writeback needs zswap");
            let n = z.writeback(self.writeback, |s, p| sys.device().write(s, p).unwrap());
            assert_eq!(n, self.writeback, "setup writeback");
        }
        for &v in self.setup_writes {
            mm.write(v, &mut st).unwrap();
        }
        if self.late_orders != 0 {
            sys.set_orders(self.late_orders).unwrap();
        }
        let touch = self.touch.clone().unwrap_or(0..self.pages);
        let mut threads = Vec::new();
        for w in 0..self.workers {
            let (mm, touch) = (Arc::clone(&mm), touch.clone());
            let own_pageout = self.own_pageout && w % 2 == 1;
            threads.push(shuttle::thread::spawn(move || {
                let mut st = FaultStats::default();
                let pages: Vec<usize> = if w % 2 == 0 {
                    touch.collect()
                } else {
                    touch.rev().collect()
                };
                for vpn in pages {
                    mm.write(vpn, &mut st).unwrap();
                    if own_pageout {
                        match mm.pageout(vpn..vpn + 1, &mut st) {
                            Ok(_) | Err(FaultError::SwapFull) => {}
                            Err(e) => panic!("page-out: {e}"),
                        }
                    }
                }
            }));
        }
        if !self.pageout_list.is_empty() {
            let (mm, list) = (Arc::clone(&mm), self.pageout_list);
            threads.push(shuttle::thread::spawn(move || {
                let mut st = FaultStats::default();
                for &v in list {
                    match mm.pageout(v..v + 1, &mut st) {
                        Ok(_) | Err(FaultError::SwapFull) => {}
                        Err(e) => panic!("page-out: {e}"),
                    }
                }
            }));
        } else if self.pageouts > 0 {
            let (mm, pages, chunk, n) = (Arc::clone(&mm), self.pages, self.chunk, self.pageouts);
            threads.push(shuttle::thread::spawn(move || {
                let mut st = FaultStats::default();
                for i in 0..n {
                    let (len, al) = if align > 1 {
                        if i % 2 == 0 { (1, 1) } else { (align, align) }
                    } else {
                        (chunk, 1)
                    };
                    // A fixed walk (no randomness: a replay must see the
                    // same calls): odd multiples of a stride that is
                    // prime to most region sizes.
                    let start = ((i * 5 + 3) % pages) / al * al;
                    match mm.pageout(start..(start + len).min(pages), &mut st) {
                        Ok(_) | Err(FaultError::SwapFull) => {}
                        Err(e) => panic!("page-out: {e}"),
                    }
                }
            }));
        }
        if let Some(zap) = self.zap.clone() {
            let mm = Arc::clone(&mm);
            threads.push(shuttle::thread::spawn(move || mm.dontneed(zap)));
        }
        if self.shrinks > 0 {
            let (sys, n) = (Arc::clone(&sys), self.shrinks);
            threads.push(shuttle::thread::spawn(move || {
                let z = sys.zswap().expect("shrinks need zswap");
                for _ in 0..n {
                    z.shrink(1);
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        self.check(&sys, &mm);
    }

    /// Every page's counter and index, and the accounting.
    fn check(&self, sys: &System, mm: &AddressSpace) {
        let touch = self.touch.clone().unwrap_or(0..self.pages);
        let zapped = |v: usize| self.zap.as_ref().is_some_and(|z| z.contains(&v));
        let mut st = FaultStats::default();
        for vpn in 0..self.pages {
            // Before the read below faults a zapped page in.
            if zapped(vpn)
                && let PteKind::Present(fr) = mm.pte(vpn).kind()
            {
                // Contents after the zap come from a zero page.
                let index = sys.frames().word(fr, 1);
                assert!(
                    index == 0,
                    "page {vpn} mapped after its zap (index {index:#x}, strategy {})",
                    self.strategy
                );
            }
            let (count, index) = mm
                .access(vpn, &mut st, |f, fr| (f.word(fr, 0), f.word(fr, 1)))
                .unwrap();
            let want = if touch.contains(&vpn) {
                self.workers as u64
            } else {
                0
            } + u64::from(self.setup_writes.contains(&vpn));
            if zapped(vpn) {
                assert!(index == 0, "page {vpn} mapped after its zap");
                assert!(count <= want, "page {vpn}: {count} increments of {want}");
            } else {
                assert_eq!(index, index_word(vpn), "misload of page {vpn}");
                assert!(count <= want, "page {vpn}: {count} increments of {want}");
                assert_eq!(count, want, "data loss, page {vpn} ({})", self.strategy);
            }
        }
        let errs = check_accounting(sys, &[mm]);
        assert!(errs.is_empty(), "accounting: {errs:?}");
    }
}

fn scenario_name(s: &Scenario) -> String {
    format!(
        "{} pages={} slots={} workers={} pageouts={} zap={:?}",
        s.strategy, s.pages, s.slots, s.workers, s.pageouts, s.zap
    )
}

fn pass(s: Scenario) {
    let name = scenario_name(&s);
    explore(&name, move || s.run());
}

fn control(s: Scenario, reasons: &[&str]) {
    let name = scenario_name(&s);
    must_catch(&name, reasons, move || s.run());
}

/// One passing test per (name, strategy) of a scenario maker.
macro_rules! per_strategy {
    ($make:expr; $($name:ident => $s:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                pass($make($s));
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// Race 1 (seed 004): ABA on slot reuse. Three workers and a page-out thread
// on 8 pages and 4 usable slots: page-outs reuse the slots swap-ins free.

fn aba(strategy: &'static str) -> Scenario {
    Scenario::new(strategy)
}

#[test]
fn race1_aba_bypass_negative_control() {
    control(aba("bypass"), &["data loss", "misload", "accounting"]);
}

per_strategy! { aba;
    race1_aba_pin_retry => "pin-retry",
    race1_aba_pin_sleep => "pin-sleep",
    race1_aba_pin_waitqueue => "pin-waitqueue",
    race1_aba_sync_map => "sync-map",
    race1_aba_swap_count => "swap-count",
    race1_aba_pte_marker => "pte-marker",
    race1_aba_swapcache => "swapcache",
}

#[test]
fn race1_aba_swapcache_xarray() {
    pass(Scenario {
        swap_cache: SwapCacheKind::XArray,
        ..aba("swapcache")
    });
}

// ---------------------------------------------------------------------------
// Race 4 (seeds 000/003): zap during swap-in. Three workers swap 8 pages
// in while a zap thread clears half of them; the slots are not reused (no
// page-out thread), so `bypass` is right here too. Then the same with a
// page-out thread reusing the slots, for the fixed strategies. Nothing is
// installed into a zapped PTE, and every slot and frame is accounted for.

fn zap(strategy: &'static str, pageouts: usize) -> Scenario {
    Scenario {
        slots: 9,
        pageouts,
        zap: Some(2..6),
        ..Scenario::new(strategy)
    }
}

per_strategy! { |s| zap(s, 0);
    race4_zap_bypass => "bypass",
    race4_zap_pin_retry => "pin-retry",
    race4_zap_pin_sleep => "pin-sleep",
    race4_zap_pin_waitqueue => "pin-waitqueue",
    race4_zap_sync_map => "sync-map",
    race4_zap_swap_count => "swap-count",
    // Once a finding under PCT (past shuttle's step bound): the swap-in
    // unlocked its folio after dropping the PTE lock, when its reference
    // was already the PTE's. A zap in between freed the frame, another
    // pte-marker swap-in reused it for its own marker and locked it, and
    // the stale unlock released that lock: the new marker's waiters then
    // took the unlocked folio's lock at once and refaulted without a
    // yield point while PCT kept its owner descheduled. The fix unlocks
    // under the PTE lock, as do_swap_page does (loom:
    // `zap_pte_marker_then_reuse_keeps_the_new_owners_lock`), and the
    // marker refault now yields as a `Retry` does.
    race4_zap_pte_marker => "pte-marker",
    race4_zap_swapcache => "swapcache",
}

#[test]
fn race4_zap_swapcache_xarray() {
    pass(Scenario {
        swap_cache: SwapCacheKind::XArray,
        ..zap("swapcache", 0)
    });
}

/// With a page-out thread reusing the slots (4 usable).
fn zap_reuse(strategy: &'static str) -> Scenario {
    Scenario {
        slots: 5,
        ..zap(strategy, 4)
    }
}

per_strategy! { zap_reuse;
    race4_zap_reuse_pin_retry => "pin-retry",
    race4_zap_reuse_pin_sleep => "pin-sleep",
    race4_zap_reuse_pin_waitqueue => "pin-waitqueue",
    race4_zap_reuse_sync_map => "sync-map",
    race4_zap_reuse_swap_count => "swap-count",
    race4_zap_reuse_swapcache => "swapcache",
}

// ---------------------------------------------------------------------------
// Race 2 (seed 001): zswap double swap-in. Every page is in zswap only (the
// device was never written); three workers fault the same pages. With an
// exclusive load, a swap-in that loses its race must not have erased the
// only copy.

fn zswap(strategy: &'static str, load: ZswapLoad) -> Scenario {
    Scenario {
        slots: 9,
        pageouts: 0,
        zswap: Some(load),
        ..Scenario::new(strategy)
    }
}

#[test]
fn race2_zswap_exclusive_bypass_negative_control() {
    control(
        zswap("bypass", ZswapLoad::Exclusive),
        &["misload", "data loss"],
    );
}

#[test]
fn race2_zswap_exclusive_swap_count_negative_control() {
    control(
        zswap("swap-count", ZswapLoad::Exclusive),
        &["misload", "data loss"],
    );
}

#[test]
fn race2_zswap_exclusive_if_cached_swap_count_negative_control() {
    control(
        zswap("swap-count", ZswapLoad::ExclusiveIfCached),
        &["misload", "data loss"],
    );
}

#[test]
fn race2_zswap_exclusive_if_cached_bypass() {
    pass(zswap("bypass", ZswapLoad::ExclusiveIfCached));
}

/// Every strategy that lets one swap-in at a time read the slot is safe
/// with exclusive loads (seed 001's race at scale: no page-out thread).
fn zswap_pinned(strategy: &'static str) -> Scenario {
    zswap(strategy, ZswapLoad::Exclusive)
}

/// With loads exclusive only for swap-cache folios (25cd241408a2) and a
/// page-out thread, so that zswap stores race the loads.
fn zswap_if_cached_pageout(strategy: &'static str) -> Scenario {
    Scenario {
        pageouts: 4,
        ..zswap(strategy, ZswapLoad::ExclusiveIfCached)
    }
}

per_strategy! { zswap_if_cached_pageout;
    race2_zswap_if_cached_pageout_pin_retry => "pin-retry",
    race2_zswap_if_cached_pageout_pin_sleep => "pin-sleep",
    race2_zswap_if_cached_pageout_pin_waitqueue => "pin-waitqueue",
    race2_zswap_if_cached_pageout_sync_map => "sync-map",
    race2_zswap_if_cached_pageout_pte_marker => "pte-marker",
    race2_zswap_if_cached_pageout_swapcache => "swapcache",
}

/// Exclusive loads (6.5-6.8) with a page-out thread that reuses slots:
/// the pin does not make a bypass swap-in's exclusive load safe. A fault
/// reads its PTE (`orig`, slot S) without a lock; another swap-in maps the
/// page and frees S, and a page-out gives S to another page, which zswap
/// now holds at S. The stale fault's `swapcache_prepare` (or
/// `SWAP_MAP_SYNC`) succeeds on the new incarnation of S (count 1, no
/// cache), its exclusive load erases the other page's only copy, and its
/// `pte_same` check fails, so the folio is dropped: the other page later
/// reads the device (a misload; replayed: page 1's stale fault on slot 8
/// erased page 4's entry). This is the data loss 25cd241408a2 ("mm: zswap:
/// fix data loss on SWP_SYNCHRONOUS_IO devices") fixed in the kernel,
/// where do_swap_page pins and reads the same way: "an optimistic read of
/// the swap data into a page that will be dismissed if the fault fails due
/// to races. In this case, zswap mustn't drop its authoritative copy."
/// So these are negative controls: the fix is `exclusive-if-cached`
/// ([`race2_zswap_if_cached_pageout_pin_retry`] and the others), and the
/// strategies that never read into a folio they may dismiss pass with
/// exclusive loads too: the swap-cache path (the folio stays in the cache)
/// and `pte-marker` (it checks the PTE under its lock before the read).
/// loom's race 2 has no page-out thread, so no slot reuse; there the pin
/// is enough.
fn zswap_exclusive_pageout(strategy: &'static str) -> Scenario {
    Scenario {
        pageouts: 4,
        ..zswap(strategy, ZswapLoad::Exclusive)
    }
}

#[test]
fn race2_zswap_exclusive_pageout_pin_retry_negative_control() {
    control(
        zswap_exclusive_pageout("pin-retry"),
        &["misload", "data loss"],
    );
}

#[test]
fn race2_zswap_exclusive_pageout_sync_map_negative_control() {
    control(
        zswap_exclusive_pageout("sync-map"),
        &["misload", "data loss"],
    );
}

per_strategy! { zswap_exclusive_pageout;
    race2_zswap_exclusive_pageout_pte_marker => "pte-marker",
    race2_zswap_exclusive_pageout_swapcache => "swapcache",
}

per_strategy! { zswap_pinned;
    race2_zswap_exclusive_pin_retry => "pin-retry",
    race2_zswap_exclusive_pin_sleep => "pin-sleep",
    race2_zswap_exclusive_pin_waitqueue => "pin-waitqueue",
    race2_zswap_exclusive_sync_map => "sync-map",
    race2_zswap_exclusive_pte_marker => "pte-marker",
    race2_zswap_exclusive_swapcache => "swapcache",
}

// ---------------------------------------------------------------------------
// Race 3 (seed 002): two contrary uses of add_to_swap_cache. The swap-cache
// path with readahead over the whole device: workers' faults read ahead
// into the slots the page-out thread is allocating and adding.

fn contrary(legacy: bool, kind: SwapCacheKind) -> Scenario {
    Scenario {
        slots: 12,
        readahead: 8,
        legacy,
        swap_cache: kind,
        pageouts: 6,
        chunk: 1,
        ..Scenario::new("swapcache")
    }
}

/// Besides a leak or a lost update, the legacy double add can leave a
/// folio in the cache at a slot whose `SWAP_HAS_CACHE` is clear: the
/// lookup then misses, `swapcache_prepare` succeeds, the add finds the
/// slot occupied and the fault retries forever (replayed: three workers
/// refaulting page 0, swap(1), with no stale lookup, cache wait or freed
/// entry counted). Shuttle reports that as its step bound.
#[test]
fn race3_contrary_adds_legacy_negative_control() {
    control(
        contrary(true, SwapCacheKind::XArray),
        &["accounting", "misload", "data loss", "exceeded max_steps"],
    );
}

#[test]
fn race3_contrary_adds_modern() {
    pass(contrary(false, SwapCacheKind::Table));
    pass(contrary(false, SwapCacheKind::XArray));
}

// ---------------------------------------------------------------------------
// Races 5-7: large folios (DESIGN.md section 7). 8 pages in order-1 and
// order-2 folios (4-slot clusters), paged out whole first; the page-out
// thread alternates single pages (splitting folios, so that order-0
// swap-ins and slot reuse happen inside ranges) and whole folios.

fn large(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        slots: 13,
        orders: 0b111,
        cluster_size: 4,
        large_bug: bug,
        ..Scenario::new(strategy)
    }
}

/// The strategies with a large form.
const LARGE: [&str; 3] = ["pin-retry", "pin-waitqueue", "sync-map"];

/// Race 5: large swap-ins against order-0 swap-ins of their subpages
/// whose slots are reused at once, on order-1 folios (an order-0 swap-in
/// of a subpage needs a range whose smaller order is 0). The device is
/// full after the first page-out (11 pages in the 11 usable slots of three
/// 4-slot clusters; the workers touch two folios, the other pages fill the
/// device), so that a page-out of one page reuses the slot its swap-in
/// just freed; odd workers page each page out again right after writing
/// it.
fn large_vs_order0(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        pages: 11,
        slots: 12,
        orders: 0b11,
        touch: Some(0..4),
        own_pageout: true,
        pageouts: 0,
        ..large(strategy, bug)
    }
}

per_strategy! { |s| large_vs_order0(s, None);
    race5_large_vs_order0_pin_retry => "pin-retry",
    race5_large_vs_order0_pin_waitqueue => "pin-waitqueue",
    race5_large_vs_order0_sync_map => "sync-map",
}

/// Race 5 through the swap cache (the swap table series' large form), on
/// both caches. The order-0 swap-in of a subpage frees its slot, which a
/// page-out at another address reuses, between the large swap-in's look at
/// the range and its pins: the pins take the reused slot (count 1 again),
/// so the large swap-in must look at the range again under them, or it
/// caches a folio whose page a fault elsewhere then maps (the harness's
/// `swapin race --orders 2 --strategies swapcache` found this; shuttle has
/// not, and the lib test `a_range_reused_before_the_pin_takes_order_0`
/// replays that interleaving step by step). With the page-out thread too.
#[test]
fn race5_large_vs_order0_swapcache() {
    for kind in [SwapCacheKind::Table, SwapCacheKind::XArray] {
        pass(Scenario {
            swap_cache: kind,
            ..large_vs_order0("swapcache", None)
        });
        pass(Scenario {
            swap_cache: kind,
            ..large("swapcache", None)
        });
    }
}

/// The same with the page-out thread (whole folios and single pages).
#[test]
fn race5_large_with_pageout_thread() {
    for s in LARGE {
        pass(large(s, None));
    }
}

#[test]
fn race5_large_vs_order0_pin_faulting_only_negative_control() {
    control(
        large_vs_order0("pin-retry", Some(LargeBug::PinFaultingOnly)),
        &["data loss", "misload", "accounting"],
    );
}

/// Race 6: a zap of PTEs inside large ranges, their slots reused by the
/// page-out thread.
fn large_zap(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        zap: Some(1..3),
        ..large(strategy, bug)
    }
}

#[test]
fn race6_large_zap_fixed() {
    for s in ["bypass", "pin-retry", "sync-map", "swapcache"] {
        // `bypass` only without slot reuse by page-out (race 1 is its
        // loss); the zap's own frees are still reused by nothing.
        let sc = if s == "bypass" {
            Scenario {
                pageouts: 0,
                ..large_zap(s, None)
            }
        } else {
            large_zap(s, None)
        };
        pass(sc);
    }
}

#[test]
fn race6_large_zap_recheck_faulting_only_negative_control() {
    for s in ["bypass", "pin-retry"] {
        control(
            Scenario {
                pageouts: 0,
                ..large_zap(s, Some(LargeBug::RecheckFaultingOnly))
            },
            &["after its zap", "accounting", "data loss"],
        );
    }
}

/// Race 7: mixed backends: every page went to zswap, then the oldest
/// entries were written back to the device, so that some ranges are half
/// in zswap. The 2026 RFC's rule swaps a mixed range in at order 0.
fn mixed(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        zswap: Some(ZswapLoad::ExclusiveIfCached),
        writeback: 3,
        ..large(strategy, bug)
    }
}

#[test]
fn race7_mixed_backend_fixed() {
    for s in LARGE {
        pass(mixed(s, None));
    }
}

#[test]
fn race7_mixed_backend_skip_check_negative_control() {
    control(
        mixed("pin-retry", Some(LargeBug::SkipBackendCheck)),
        &["misload", "data loss", "read from zswap"],
    );
}

/// Race 7, writeback form: every page in zswap (the all-in-zswap rule
/// lets whole ranges come back as large folios) while a shrinker thread
/// writes the oldest entries back to the device, one at a time, and the
/// page-out thread stores new ones. Writeback pins each slot and is
/// refused a held one; the swap-in re-checks the backend under its hold.
fn writeback_race(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        zswap: Some(ZswapLoad::ExclusiveIfCached),
        shrinks: 6,
        ..large(strategy, bug)
    }
}

#[test]
fn race7_writeback_fixed() {
    for s in LARGE.into_iter().chain(["swapcache"]) {
        pass(writeback_race(s, None));
    }
}

#[test]
fn race7_writeback_negative_controls() {
    for bug in [LargeBug::WritebackIgnoresPins, LargeBug::SkipBackendRecheck] {
        control(
            writeback_race("pin-retry", Some(bug)),
            &["misload", "data loss", "read from zswap"],
        );
    }
}

/// Race 8: partially cached ranges (loom's `large_cached_*` at 17 pages).
/// Page 16 goes out first (slot 1), then pages 0-15 to slots 2-17, so
/// that pages 2k, 2k+1 hold the aligned pair 2k+2, 2k+3; then the odd
/// pages 1, 3, 5, 7 are swapped in and written, which frees their slots
/// and leaves their old copies on the ramdisk, and order 1 is enabled.
/// The device is full but for those four slots. While three workers write
/// every page, a page-out thread pages 1, 3, 5 and 7 out again: each
/// reuses one of the freed slots, enters the swap cache dirty and is
/// written only after its PTE is the swap entry, so for a while a range
/// is contiguous with one page cached and its device copy stale.
/// `non_swapcache_batch` takes order 0 there; skipping it with the
/// unpinned `bypass` reads the stale copy over the dirty folio.
fn cached_range(strategy: &'static str, bug: Option<LargeBug>) -> Scenario {
    Scenario {
        pages: 17,
        slots: 18,
        orders: 1,
        cluster_size: 2,
        pageout_first: Some(16),
        setup_writes: &[1, 3, 5, 7],
        late_orders: 0b11,
        pageout_list: &[1, 3, 5, 7],
        large_bug: bug,
        ..Scenario::new(strategy)
    }
}

per_strategy! { |s| cached_range(s, None);
    race8_cached_range_bypass => "bypass",
    race8_cached_range_pin_retry => "pin-retry",
    race8_cached_range_pin_waitqueue => "pin-waitqueue",
    race8_cached_range_sync_map => "sync-map",
}

#[test]
fn race8_cached_range_skip_check_negative_control() {
    control(
        cached_range("bypass", Some(LargeBug::SkipSwapCacheCheck)),
        &["data loss", "misload"],
    );
}

/// Large ranges under the strategies that stay at order 0.
#[test]
fn large_ranges_under_order0_strategies() {
    for s in ["swap-count", "pte-marker", "swapcache"] {
        pass(large(s, None));
    }
}

// ---------------------------------------------------------------------------
// Scale: 256 pages, six threads (four workers, a page-out thread, a zap
// thread), order-0 to order-2 folios, every strategy with a large form
// and one of each other kind. Fewer schedules (a tenth): each is long.

#[test]
fn scale_256_pages_six_threads() {
    let n = (iterations() / 10).max(1);
    for s in ["pin-retry", "sync-map", "swapcache", "pte-marker"] {
        let sc = Scenario {
            pages: 256,
            slots: 200,
            workers: 4,
            pageouts: 32,
            zap: Some(100..104),
            ..large(s, None)
        };
        let name = scenario_name(&sc);
        explore_named(&name, n, move || sc.run());
    }
}
