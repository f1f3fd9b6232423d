//! The race harness: the shape of the upstream swap-stress-race reproducer
//! (test-thread-swap-race.c), and the accounting checks run after it.
//!
//! Workers add 1 to word 0 of every page of a shared region, walking it in
//! opposite directions (even workers up, odd workers down); one thread pages
//! the region out in chunks the whole time; the device may delay reads to
//! widen the race windows. After each round every page's counter must equal
//! rounds × workers (a smaller value is **data loss**), word 1 must still
//! hold the page's index (otherwise a **misload**), and at the end every
//! swap slot and frame must be accounted for.
//!
//! Options beyond the reproducer: page contents in words 2.. (a
//! [`RaceContent`], checked with the index: a page whose content is not
//! its own is a misload too), a zap region that a zapper thread empties
//! (`MADV_DONTNEED`, one page first, then its whole folio) and refills
//! while the workers read it (race 6 of DESIGN.md section 7), and a zswap
//! pool limit, so that writeback leaves folio ranges half in zswap and
//! half on the device (race 7).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering as StdOrdering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

pub use crate::accounting::check_accounting;
use crate::device::{Ramdisk, ReadDelay, SwapDevice, Zram};
use crate::mm::{AddressSpace, index_word};
use crate::pte::PteKind;
use crate::stats::FaultStats;
use crate::system::{FaultError, System, SystemConfig};

/// Which device the harness swaps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// [`Zram`] with the default compressor.
    Zram,
    /// [`Ramdisk`] (brd), with the configured read delay.
    Ramdisk,
}

/// Parameters of a race run.
#[derive(Clone, Debug)]
pub struct RaceConfig {
    /// The strategy's name.
    pub strategy: String,
    /// Pages in the shared region.
    pub pages: usize,
    /// Swap slots on the device (a small device makes slot reuse, and so
    /// the ABA of seed 004, likely).
    pub swap_slots: u64,
    /// Worker threads.
    pub workers: usize,
    /// Rounds.
    pub rounds: usize,
    /// Pages per page-out call.
    pub chunk: usize,
    /// The device.
    pub device: DeviceKind,
    /// Read delay of the ram disk: (duration, one read in `every`).
    pub delay: Option<(Duration, u32)>,
    /// Seed of the delay choice and of the page-out order.
    pub seed: u64,
    /// Readahead window (pages).
    pub readahead: u32,
    /// zswap in front of the device, with this load mode.
    pub zswap: Option<crate::system::ZswapLoad>,
    /// Enabled folio orders ([`SystemConfig::orders`]); with large orders
    /// the pager pages out chunks aligned to the largest folio, so that
    /// whole folios go out and come back.
    pub orders: u32,
    /// Swap-map cluster size (512; large folios on a small device need
    /// smaller clusters to find aligned runs).
    pub cluster_size: u32,
    /// zswap's large-folio rule ([`SystemConfig::zswap_large`]).
    pub zswap_large: crate::system::ZswapLarge,
    /// **Negative control only**: a large-folio swap-in missing one check.
    pub large_bug: Option<crate::system::LargeBug>,
    /// How the swap cache is kept (the swap table or the xarray).
    pub swap_cache: crate::system::SwapCacheKind,
    /// Contents of words 2.. of every page (`None`: zeros, the
    /// reproducer's pages), checked after every round with the index.
    pub content: Option<RaceContent>,
    /// Pages of a zap region after the counted ones (0: none). The workers
    /// read them (no increments); a zapper thread zaps one page of an
    /// aligned folio range, then the whole range, then refills it (index
    /// and content), so that a zap lands inside a large swap-in's range
    /// and the freed slot is reused by the pager. After every round each
    /// of them must hold count 0, its index and its content.
    pub zap_pages: usize,
    /// zswap's pool limit in compressed bytes (`None`: unlimited). A small
    /// limit makes stores write the oldest entries back to the device, so
    /// that a folio's range ends up half in zswap and half on the device.
    pub zswap_pool_bytes: Option<u64>,
    /// A shrinker thread (with zswap): while the workers run it writes
    /// zswap's oldest entry back to the device, one at a time
    /// ([`zswap_tree::ZswapTree::shrink`], through the system's writeback
    /// target, which pins the slot: the kernel's asynchronous
    /// `shrink_worker`), so that writeback meets ranges a swap-in is
    /// reading.
    pub zswap_shrinker: bool,
    /// Rounds completed so far, stored after every round's check
    /// (`None`: not kept). A watchdog reads it: a negative control can
    /// leave a swap-in retrying for ever (a leaked pin), and then
    /// [`run_race`] does not return; a counter that stops moving is how a
    /// caller tells a livelock from a slow round.
    pub progress: Option<Arc<AtomicUsize>>,
}

/// Page contents for words 2.. of the harness's pages: page `vpn` takes
/// `pages[vpn % pages.len()]` (its bytes 16.. as little-endian words).
#[derive(Clone)]
pub struct RaceContent {
    name: String,
    pages: Arc<[zswap_tree::Page]>,
}

impl RaceContent {
    /// Contents named `name` (for reports) cycling over `pages`.
    ///
    /// Errors: [`FaultError::Config`] for no page.
    pub fn new(name: &str, pages: Vec<zswap_tree::Page>) -> Result<RaceContent, FaultError> {
        if pages.is_empty() {
            return Err(FaultError::Config(format!("content {name:?}: no page")));
        }
        Ok(RaceContent {
            name: name.into(),
            pages: pages.into(),
        })
    }

    /// The name given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Word `w` (2.. [`WORDS`](crate::frame::WORDS)) of page `vpn`'s content.
    #[inline]
    pub fn word(&self, vpn: usize, w: usize) -> u64 {
        let p = &self.pages[vpn % self.pages.len()];
        let b = &p[w * 8..w * 8 + 8];
        u64::from_le_bytes(b.try_into().expect("8 bytes"))
    }

    /// Writes words 2.. of page `vpn` into frame `fr`.
    // Under loom and shuttle a frame has only words 0 and 1 (WORDS is 2).
    #[cfg_attr(any(loom, shuttle), allow(clippy::reversed_empty_ranges))]
    fn fill(&self, f: &crate::frame::Frames, fr: crate::frame::FrameId, vpn: usize) {
        for w in 2..crate::frame::WORDS {
            f.set_word(fr, w, self.word(vpn, w));
        }
    }

    /// Whether frame `fr` holds page `vpn`'s words 2...
    fn matches(&self, f: &crate::frame::Frames, fr: crate::frame::FrameId, vpn: usize) -> bool {
        (2..crate::frame::WORDS).all(|w| f.word(fr, w) == self.word(vpn, w))
    }
}

impl std::fmt::Debug for RaceContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RaceContent({:?}, {} pages)",
            self.name,
            self.pages.len()
        )
    }
}

impl Default for RaceConfig {
    fn default() -> Self {
        RaceConfig {
            strategy: "swapcache".into(),
            pages: 256,
            swap_slots: 64,
            workers: 2,
            rounds: 4,
            chunk: 16,
            device: DeviceKind::Ramdisk,
            delay: None,
            seed: 1,
            readahead: 8,
            zswap: None,
            swap_cache: crate::system::SwapCacheKind::default(),
            orders: 1,
            cluster_size: swapmap::SWAPFILE_CLUSTER,
            zswap_large: crate::system::ZswapLarge::default(),
            large_bug: None,
            content: None,
            zap_pages: 0,
            zswap_pool_bytes: None,
            zswap_shrinker: false,
            progress: None,
        }
    }
}

/// What a race run found.
#[derive(Clone, Debug, Default)]
pub struct RaceReport {
    /// The strategy.
    pub strategy: String,
    /// Rounds completed.
    pub rounds: usize,
    /// Lost increments, summed over pages and rounds.
    pub data_loss: u64,
    /// Pages whose word 1 did not hold their index, summed over rounds.
    pub misload: u64,
    /// Increments beyond the expected count (should be impossible).
    pub excess: u64,
    /// The first round with loss or misload.
    pub first_bad_round: Option<usize>,
    /// Accounting violations found at the end (leaks, double frees).
    pub accounting: Vec<String>,
    /// The merged fault statistics of every thread.
    pub stats: FaultStats,
    /// The device's counters.
    pub device: crate::device::DeviceStats,
    /// Zapped pages of the zap region found mapped again with their old
    /// data before the zapper refilled them (a swap-in installed into a
    /// zapped PTE: race 6); also counted in `misload`.
    pub resurrected: u64,
}

impl RaceReport {
    /// No loss, no misload, no excess, and the accounting closed.
    pub fn clean(&self) -> bool {
        self.data_loss == 0 && self.misload == 0 && self.excess == 0 && self.accounting.is_empty()
    }
}

/// The frames a race run's system gets: room for every page twice (mapped
/// and in the swap cache), every slot, and the in-flight folios of the
/// threads (saturating: an absurd configuration is refused by the caller,
/// not wrapped).
pub fn race_frames(cfg: &RaceConfig) -> u64 {
    (cfg.pages as u64)
        .saturating_add(cfg.zap_pages as u64)
        .saturating_mul(2)
        .saturating_add(cfg.swap_slots)
        .saturating_add(64 * (cfg.workers as u64).saturating_add(1))
}

/// Builds the system for a race run.
pub fn race_system(cfg: &RaceConfig) -> Result<Arc<System>, FaultError> {
    let frames = race_frames(cfg);
    let frames = u32::try_from(frames).map_err(|_| {
        FaultError::Config(format!(
            "{frames} frames: more than a u32 frame number holds"
        ))
    })?;
    let device: Arc<dyn SwapDevice> = match cfg.device {
        DeviceKind::Zram => Arc::new(Zram::new(
            cfg.swap_slots,
            zswap_tree::Backend::default().compressor(),
        )),
        DeviceKind::Ramdisk => Arc::new(Ramdisk::new(
            cfg.swap_slots,
            cfg.delay.map(|(duration, every)| ReadDelay {
                duration,
                every,
                seed: cfg.seed,
            }),
        )),
    };
    let mut sc = SystemConfig::new(frames, device).strategy(&cfg.strategy);
    sc.readahead = cfg.readahead;
    sc.swap_cache = cfg.swap_cache;
    sc.orders = cfg.orders;
    sc.cluster_size = cfg.cluster_size;
    sc.zswap_large = cfg.zswap_large;
    sc.large_bug = cfg.large_bug;
    sc.zswap = cfg.zswap.map(|load| crate::system::ZswapConfig {
        load,
        tree: zswap_tree::Config {
            max_pool_bytes: cfg.zswap_pool_bytes,
            ..zswap_tree::Config::default()
        },
    });
    System::new(sc)
}

/// Runs the reproducer's shape and checks the result.
///
/// Errors: [`FaultError::Config`] for a run that would test nothing (no
/// page, no worker or no round), or whatever building the system refuses.
pub fn run_race(cfg: &RaceConfig) -> Result<RaceReport, FaultError> {
    for (what, n) in [
        ("pages", cfg.pages),
        ("workers", cfg.workers),
        ("rounds", cfg.rounds),
    ] {
        if n == 0 {
            return Err(FaultError::Config(format!(
                "a race needs at least one of {what} (0 given)"
            )));
        }
    }
    let sys = race_system(cfg)?;
    let counted = cfg.pages;
    let total = counted.checked_add(cfg.zap_pages).ok_or_else(|| {
        FaultError::Config(format!("{} + {} pages: too many", cfg.pages, cfg.zap_pages))
    })?;
    let mm = Arc::new(AddressSpace::new(Arc::clone(&sys), total));
    mm.populate()?;
    let content = cfg.content.clone();
    if let Some(c) = &content {
        let mut st = FaultStats::default();
        for vpn in 0..total {
            mm.access(vpn, &mut st, |f, fr| c.fill(f, fr, vpn))?;
        }
    }
    let mut report = RaceReport {
        strategy: cfg.strategy.clone(),
        ..RaceReport::default()
    };
    // The largest enabled folio: the pager's and the zapper's alignment.
    let align = 1usize << (31 - (cfg.orders | 1).leading_zeros());
    let zapper_on = cfg.zap_pages > 0;
    let shrinker = sys.zswap().filter(|_| cfg.zswap_shrinker);
    // The threads live for the whole run and meet at two barriers per
    // round (start, end), so that a round costs no thread creation: the
    // workers walk, the last one to finish raises `round_done`, which
    // stops the pager and the zapper; between `end` and the next `start`
    // the main thread checks every page alone. `stop` (read after
    // `start`) ends the threads; an error or a panic in a thread is kept
    // in `failed` and ends the run after the round.
    let threads = cfg.workers + 1 + usize::from(zapper_on) + usize::from(shrinker.is_some());
    let (start, end) = (Barrier::new(threads + 1), Barrier::new(threads + 1));
    let (stop, round_done) = (AtomicBool::new(false), AtomicBool::new(false));
    let workers_left = AtomicUsize::new(0);
    let resurrected = &AtomicU64::new(0);
    let failed: Mutex<Option<FaultError>> = Mutex::new(None);
    let sync = Shared {
        start: &start,
        end: &end,
        stop: &stop,
        failed: &failed,
    };
    let mm = &*mm;
    let content = content.as_ref();
    let result = std::thread::scope(|s| -> Result<(), FaultError> {
        let mut handles = Vec::with_capacity(threads);
        for w in 0..cfg.workers {
            let (round_done, workers_left) = (&round_done, &workers_left);
            handles.push(s.spawn(move || {
                sync.rounds("worker", |_, st| {
                    // The last worker out (by return or by panic) ends
                    // the round for the pager and the zapper.
                    let _last = LastOut {
                        left: workers_left,
                        done: round_done,
                    };
                    let n = mm.pages();
                    (|| {
                        for i in 0..n {
                            let vpn = if w % 2 == 0 { i } else { n - 1 - i };
                            if vpn < counted {
                                mm.write(vpn, st)?;
                            } else {
                                // The zap region: read, never counted.
                                mm.read_word(vpn, 0, st)?;
                            }
                        }
                        Ok(())
                    })()
                })
            }));
        }
        let (chunk, seed) = (cfg.chunk.max(1), cfg.seed);
        let round_done = &round_done;
        handles.push(s.spawn(move || {
            sync.rounds("pager", |round, st| {
                // Chunks aligned to the largest folio, so that page-out
                // takes whole folios (the reproducer pages out its whole
                // region).
                let seed = seed ^ round as u64;
                let n = mm.pages();
                let mut i = 0u64;
                // Acquire: pairs with the last worker's Release store.
                while !round_done.load(StdOrdering::Acquire) {
                    let start = ((crate::device::mix(seed ^ i) as usize) % n) & !(align - 1);
                    match mm.pageout(start..start + chunk, st) {
                        Ok(0) | Err(FaultError::SwapFull) => {
                            // Nothing to page out (or no slot): let the
                            // workers run rather than spin through their
                            // time slice on a busy machine.
                            std::thread::yield_now();
                        }
                        Ok(_) => {}
                        Err(e) => return Err(e),
                    }
                    i += 1;
                }
                Ok(())
            })
        }));
        if zapper_on {
            handles.push(s.spawn(move || {
                sync.rounds("zapper", |round, st| {
                    let z = Zap {
                        counted,
                        align,
                        content,
                        seed: cfg.seed ^ round as u64 ^ 0x5a5a,
                        window: cfg.delay.map_or(Duration::ZERO, |(d, _)| 2 * d),
                        resurrected,
                    };
                    z.run(mm, round_done, st)
                })
            }));
        }
        if let Some(z) = shrinker {
            handles.push(s.spawn(move || {
                sync.rounds("shrinker", |_, _| {
                    // Acquire: pairs with the last worker's Release store.
                    while !round_done.load(StdOrdering::Acquire) {
                        if z.shrink(1) == 0 {
                            std::thread::yield_now();
                        }
                    }
                    Ok(())
                })
            }));
        }
        // A panic of this thread's own work (the page-out before a round,
        // the check after it: both while every harness thread waits at
        // `start`) must let them go, or `thread::scope` would wait for
        // them for ever and the panic would never surface.
        let _release = ReleaseOnPanic {
            stop: &stop,
            start: &start,
        };
        let mut outcome = Ok(());
        for round in 0..cfg.rounds {
            round_done.store(false, StdOrdering::Relaxed);
            workers_left.store(cfg.workers, StdOrdering::Relaxed);
            // The check faulted every page in: page out what the device
            // holds before the workers start, so that every round begins
            // with swapped-out pages to race on (the threads' start-up
            // used to give the pager that head start, at the cost of a
            // thread creation per thread and round).
            match mm.pageout(0..total, &mut report.stats) {
                Ok(_) | Err(FaultError::SwapFull) => {}
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
            start.wait();
            end.wait();
            if let Some(e) = lock(&failed).take() {
                outcome = Err(e);
                break;
            }
            report.rounds = round + 1;
            if let Some(p) = &cfg.progress {
                // Relaxed: a count for a watchdog, ordering nothing.
                p.store(round + 1, StdOrdering::Relaxed);
            }
            let expected = ((round + 1) * cfg.workers) as u64;
            let checked = check_pages_with(mm, 0..counted, expected, content, &mut report.stats)
                .and_then(|a| {
                    check_pages_with(mm, counted..total, 0, content, &mut report.stats)
                        .map(|b| (a, b))
                });
            let ((loss, misload, excess), (zl, zm, ze)) = match checked {
                Ok(x) => x,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            let back = resurrected.swap(0, StdOrdering::Relaxed);
            report.resurrected += back;
            let zm = zm + back;
            report.data_loss += loss + zl;
            report.misload += misload + zm;
            report.excess += excess + ze;
            if (loss | misload | excess | zl | zm | ze) != 0 && report.first_bad_round.is_none() {
                report.first_bad_round = Some(round);
            }
            // A negative control is caught: stop, since its broken state
            // (a leaked pin) can keep a refaulting swap-in spinning for
            // ever in the next round.
            if cfg.large_bug.is_some() && report.first_bad_round.is_some() {
                break;
            }
        }
        stop.store(true, StdOrdering::Relaxed);
        start.wait();
        for h in handles {
            match h.join() {
                Ok(st) => report.stats += st,
                Err(_) => outcome = outcome.and(Err(panic_error("harness"))),
            }
        }
        outcome
    });
    result?;
    report.accounting = check_accounting(&sys, &[mm]);
    report.device = sys.device().stats();
    Ok(report)
}

/// What the harness's threads share: the round barriers, the stop flag and
/// the first failure.
#[derive(Clone, Copy)]
struct Shared<'a> {
    start: &'a Barrier,
    end: &'a Barrier,
    stop: &'a AtomicBool,
    failed: &'a Mutex<Option<FaultError>>,
}

impl Shared<'_> {
    /// A harness thread's life: `body(round, stats)` once per round
    /// between the barriers, until `stop`. A failure (an error or a panic
    /// of the fault path) is recorded and the thread idles through the
    /// remaining barriers, so that no one waits for it forever. Returns the
    /// thread's statistics.
    fn rounds(
        self,
        who: &str,
        mut body: impl FnMut(usize, &mut FaultStats) -> Result<(), FaultError>,
    ) -> FaultStats {
        let mut st = FaultStats::default();
        let mut broken = false;
        for round in 0.. {
            self.start.wait();
            // Relaxed: the barrier orders it after the main thread's store.
            if self.stop.load(StdOrdering::Relaxed) {
                break;
            }
            if !broken {
                let r =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(round, &mut st)))
                        .unwrap_or_else(|_| Err(panic_error(who)));
                if let Err(e) = r {
                    broken = true;
                    lock(self.failed).get_or_insert(e);
                }
            }
            self.end.wait();
        }
        st
    }
}

/// Counts a worker out of its round when dropped; the last one raises
/// `done`.
struct LastOut<'a> {
    left: &'a AtomicUsize,
    done: &'a AtomicBool,
}

impl Drop for LastOut<'_> {
    fn drop(&mut self) {
        // AcqRel / Release: the last worker's store pairs with the
        // Acquire loads of the pager and the zapper, after every walk.
        if self.left.fetch_sub(1, StdOrdering::AcqRel) == 1 {
            self.done.store(true, StdOrdering::Release);
        }
    }
}

/// Releases the harness threads waiting at `start` with `stop` set when
/// dropped during a panic of the main thread (see `run_race`).
struct ReleaseOnPanic<'a> {
    stop: &'a AtomicBool,
    start: &'a Barrier,
}

impl Drop for ReleaseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Relaxed: the barrier orders it before the threads' read.
            self.stop.store(true, StdOrdering::Relaxed);
            self.start.wait();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The zapper of one round.
struct Zap<'a> {
    counted: usize,
    align: usize,
    content: Option<&'a RaceContent>,
    seed: u64,
    /// How long a zapped page is watched before the rest of its range is
    /// zapped (twice the read delay: a swap-in in flight has finished).
    window: Duration,
    resurrected: &'a AtomicU64,
}

impl Zap<'_> {
    /// Until `round_done`: zaps one page of an aligned folio range of the
    /// zap region (`counted..`), watches it for [`Zap::window`] (a swap-in
    /// may map it again only with a zero page: the old data back means a
    /// swap-in installed into the zapped PTE), then zaps the whole range
    /// and refills it with count 0, the index and the content.
    fn run(
        &self,
        mm: &AddressSpace,
        round_done: &AtomicBool,
        st: &mut FaultStats,
    ) -> Result<(), FaultError> {
        let (counted, align, total) = (self.counted, self.align, mm.pages());
        // Aligned folio ranges of the zap region (the whole region when it
        // holds none).
        let base = counted.next_multiple_of(align);
        let folios = total.saturating_sub(base) / align;
        let frames = mm.system().frames();
        let mut i = 0u64;
        // Acquire: pairs with the last worker's Release store.
        while !round_done.load(StdOrdering::Acquire) {
            let r = crate::device::mix(self.seed ^ i) as usize;
            let (v0, end) = if folios == 0 {
                (counted, total)
            } else {
                let v0 = base + (r % folios) * align;
                (v0, v0 + align)
            };
            // One page inside the range first (not its first), so that a
            // swap-in of the range faulting on another page sees it
            // zapped; then the rest, then a refill.
            let one = v0 + 1 + (r >> 8) % (end - v0).saturating_sub(1).max(1);
            if one < end {
                mm.dontneed(one..one + 1);
                if self.window.is_zero() {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(self.window);
                }
                // Only the zapper writes indexes here, after the full zap:
                // a reader's fault maps a zero page.
                if let PteKind::Present(fr) = mm.pte(one).kind()
                    && frames.word(fr, 1) == index_word(one)
                {
                    self.resurrected.fetch_add(1, StdOrdering::Relaxed);
                }
            } else {
                std::thread::yield_now();
            }
            mm.dontneed(v0..end);
            for vpn in v0..end {
                mm.access(vpn, st, |f, fr| {
                    f.set_word(fr, 0, 0);
                    f.set_word(fr, 1, index_word(vpn));
                    if let Some(c) = self.content {
                        c.fill(f, fr, vpn);
                    }
                })?;
            }
            i += 1;
        }
        Ok(())
    }
}

fn panic_error(who: &str) -> FaultError {
    FaultError::Config(format!("a {who} thread panicked"))
}

/// Reads the pages of `pages` back through the fault path and compares
/// word 0 with `expected` and word 1 with the page's index. Returns (loss,
/// misload, excess).
pub fn check_pages(
    mm: &AddressSpace,
    pages: Range<usize>,
    expected: u64,
    st: &mut FaultStats,
) -> Result<(u64, u64, u64), FaultError> {
    check_pages_with(mm, pages, expected, None, st)
}

/// [`check_pages`], and with `content` words 2.. too: a page whose index
/// or content is not its own is a misload.
pub fn check_pages_with(
    mm: &AddressSpace,
    pages: Range<usize>,
    expected: u64,
    content: Option<&RaceContent>,
    st: &mut FaultStats,
) -> Result<(u64, u64, u64), FaultError> {
    let (mut loss, mut misload, mut excess) = (0, 0, 0);
    for vpn in pages {
        let (count, index, own) = mm.access(vpn, st, |f, fr| {
            let own = content.is_none_or(|c| c.matches(f, fr, vpn));
            (f.word(fr, 0), f.word(fr, 1), own)
        })?;
        if index != index_word(vpn) || !own {
            misload += 1;
        }
        if count < expected {
            loss += expected - count;
        } else {
            excess += count - expected;
        }
    }
    Ok((loss, misload, excess))
}
