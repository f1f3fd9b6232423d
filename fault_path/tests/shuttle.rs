//! shuttle scenarios of the fault path: the races of DESIGN.md (1-4, and
//! the large-folio races 5-7) at sizes loom cannot explore: 3-6 threads
//! (workers walking the pages in opposite directions, a page-out thread, a
//! zap thread), 8-256 pages, every strategy.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release -p fault_path
//! --test shuttle --target-dir target/shuttle`.
//!
//! Each scenario runs [`iterations`] schedules (`SHUTTLE_ITERATIONS`,
//! default 10^4): half under shuttle's PCT scheduler (bug depth
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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use fault_path::device::{Ramdisk, SwapDevice};
use fault_path::harness::check_accounting;
use fault_path::pte::PteKind;
use fault_path::{
    AddressSpace, FaultError, FaultStats, LargeBug, SwapCacheKind, System, SystemConfig,
    ZswapConfig, ZswapLarge, ZswapLoad, index_word,
};
use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, FailurePersistence, Runner};

/// Schedules per scenario: `SHUTTLE_ITERATIONS`, default 10^4.
fn iterations() -> usize {
    env_usize("SHUTTLE_ITERATIONS", 10_000)
}

/// PCT's bug depth: `SHUTTLE_PCT_DEPTH`, default 3.
fn depth() -> usize {
    env_usize("SHUTTLE_PCT_DEPTH", 3).max(1)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    let mut c = Config::new();
    // shuttle runs every execution sequentially consistent (it warns that
    // weaker orderings are not modelled): the orderings are loom's job.
    c.silence_warnings = true;
    // The fault path's frames are deeper than shuttle's default 60 KiB.
    c.stack_size = 1 << 20;
    if let Ok(dir) = std::env::var("SHUTTLE_SCHEDULE_DIR") {
        c.failure_persistence = FailurePersistence::File(Some(dir.into()));
    }
    c
}

/// Runs `f` under PCT for half of `n` schedules, then under the random
/// scheduler for the other half, or replays one schedule (see the module
/// docs). Returns the schedules run.
fn explore_n(f: impl Fn() + Send + Sync + 'static, n: usize) -> usize {
    explore_with(f, n, None)
}

/// [`explore_n`], with all `n` schedules under one scheduler when `only`
/// is `Some("pct")` or `Some("random")` (as `SHUTTLE_SCHEDULER` does).
fn explore_with(f: impl Fn() + Send + Sync + 'static, n: usize, only: Option<&str>) -> usize {
    if let Ok(s) = std::env::var("SHUTTLE_REPLAY") {
        shuttle::replay(f, s.trim());
        return 1;
    }
    if let Ok(p) = std::env::var("SHUTTLE_REPLAY_FILE") {
        shuttle::replay_from_file(f, p);
        return 1;
    }
    let f = Arc::new(f);
    // `SHUTTLE_SCHEDULER=pct` or `random` runs all `n` under one of them.
    let env = std::env::var("SHUTTLE_SCHEDULER").ok();
    let pct = match only.or(env.as_deref()) {
        Some("pct") => n,
        Some("random") => 0,
        _ => n.div_ceil(2),
    };
    let g = Arc::clone(&f);
    let mut ran = 0;
    if pct > 0 {
        ran += Runner::new(PctScheduler::new(depth(), pct), config()).run(move || g());
    }
    if n > pct {
        ran += Runner::new(RandomScheduler::new(n - pct), config()).run(move || f());
    }
    ran
}

/// [`explore_n`] at [`iterations`], reporting the schedules and the time.
fn explore(name: &str, f: impl Fn() + Send + Sync + 'static) {
    let t = Instant::now();
    let ran = explore_n(f, iterations());
    eprintln!(
        "shuttle {name}: {ran} schedules passed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// Runs a negative control: the scenario must fail within
/// [`iterations`] schedules (at least 10^4), with a panic message containing one of
/// `reasons`. Prints how many schedules it took.
fn must_catch(name: &str, reasons: &[&str], f: impl Fn() + Send + Sync + 'static) {
    let t = Instant::now();
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let r = catch_unwind(AssertUnwindSafe(|| {
        explore_n(
            move || {
                // Relaxed: a std counter of executions, outside the model.
                c.fetch_add(1, Ordering::Relaxed);
                f()
            },
            // At least 10^4 even when CI runs fewer per scenario: a caught
            // control stops at its first failure, so this costs little.
            iterations().max(10_000),
        )
    }));
    let msg = match r {
        Ok(_) => String::new(),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(a panic without a message)".into()),
    };
    let n = count.load(Ordering::Relaxed);
    assert!(
        reasons.iter().any(|r| msg.contains(r)),
        "{name}: shuttle did not catch the negative control in {n} schedules \
         (wanted one of {reasons:?}, got {msg:?})"
    );
    eprintln!(
        "shuttle {name}: negative control caught at schedule {n} in {:.1} s: {msg}",
        t.elapsed().as_secs_f64()
    );
}

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
    swap_cache: SwapCacheKind,
    legacy: bool,
    orders: u32,
    cluster_size: u32,
    large_bug: Option<LargeBug>,
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
            swap_cache: SwapCacheKind::default(),
            legacy: false,
            orders: 1,
            cluster_size: 2,
            large_bug: None,
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
        if self.pageouts > 0 {
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
            };
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
    race4_zap_swapcache => "swapcache",
}

/// `pte-marker` under the random scheduler only: see
/// [`finding_zap_pte_marker_pct`].
#[test]
fn race4_zap_pte_marker() {
    let sc = zap("pte-marker", 0);
    let name = scenario_name(&sc);
    let t = Instant::now();
    let ran = explore_with(move || sc.run(), iterations(), Some("random"));
    eprintln!(
        "shuttle {name} (random): {ran} schedules passed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// **Open finding**: under PCT, `pte-marker` with a zap thread exceeds
/// shuttle's step bound: a worker keeps refaulting a PTE that holds a
/// swap-in marker (`waits` counts up, the folio lock is never contended:
/// the marker's folio is unlocked or free), i.e. a marker outlives its
/// swap-in, or its owner never runs again while the waiter spins without
/// a yield point (`access` retries a marker with no `spin_loop`). Ignored
/// until it is understood; the random scheduler passes (above).
#[test]
#[ignore = "open finding: pte-marker + zap spins past shuttle's step bound under PCT"]
fn finding_zap_pte_marker_pct() {
    let sc = zap("pte-marker", 0);
    explore_with(move || sc.run(), iterations(), Some("pct"));
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

/// **Open finding** (not a loom race): exclusive loads with a page-out
/// thread. PCT finds a misload with `pin-retry` and `sync-map` (e.g.
/// "misload of page 5" within 10^4 PCT schedules; the random scheduler
/// did not find it in 10^4); `swapcache` passes. Ignored until it is
/// understood: run it with `--ignored`, replay its printed schedule.
#[test]
#[ignore = "open finding: exclusive zswap loads + page-out misload under PCT (pin-retry, sync-map)"]
fn finding_zswap_exclusive_pageout() {
    for s in ["pin-retry", "sync-map"] {
        pass(Scenario {
            pageouts: 4,
            ..zswap(s, ZswapLoad::Exclusive)
        });
    }
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

#[test]
fn race3_contrary_adds_legacy_negative_control() {
    control(
        contrary(true, SwapCacheKind::XArray),
        &["accounting", "misload", "data loss"],
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
    for s in ["bypass", "pin-retry", "sync-map"] {
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
        let t = Instant::now();
        let name = scenario_name(&sc);
        let ran = explore_n(move || sc.run(), n);
        eprintln!(
            "shuttle {name}: {ran} schedules passed in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
}
