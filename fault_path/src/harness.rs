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

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering as StdOrdering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

pub use crate::accounting::check_accounting;
use crate::device::{Ramdisk, ReadDelay, SwapDevice, Zram};
use crate::mm::{AddressSpace, index_word};
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
        tree: zswap_tree::Config::default(),
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
    let mm = Arc::new(AddressSpace::new(Arc::clone(&sys), cfg.pages));
    mm.populate()?;
    let mut report = RaceReport {
        strategy: cfg.strategy.clone(),
        ..RaceReport::default()
    };
    for round in 0..cfg.rounds {
        let done = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(cfg.workers + 1));
        let workers: Vec<_> = (0..cfg.workers)
            .map(|w| {
                let (mm, barrier) = (Arc::clone(&mm), Arc::clone(&barrier));
                std::thread::spawn(move || -> Result<FaultStats, FaultError> {
                    let mut st = FaultStats::default();
                    barrier.wait();
                    let n = mm.pages();
                    for i in 0..n {
                        let vpn = if w % 2 == 0 { i } else { n - 1 - i };
                        mm.write(vpn, &mut st)?;
                    }
                    Ok(st)
                })
            })
            .collect();
        let pager = {
            let (mm, done, barrier) = (Arc::clone(&mm), Arc::clone(&done), Arc::clone(&barrier));
            let (chunk, seed) = (cfg.chunk.max(1), cfg.seed ^ round as u64);
            // Chunks aligned to the largest folio, so that page-out takes
            // whole folios (the reproducer pages out its whole region).
            let align = 1usize << (31 - (cfg.orders | 1).leading_zeros());
            std::thread::spawn(move || -> Result<FaultStats, FaultError> {
                let mut st = FaultStats::default();
                barrier.wait();
                let n = mm.pages();
                let mut i = 0u64;
                while !done.load(StdOrdering::Relaxed) {
                    let start = ((crate::device::mix(seed ^ i) as usize) % n) & !(align - 1);
                    match mm.pageout(start..start + chunk, &mut st) {
                        Ok(_) | Err(FaultError::SwapFull) => {}
                        Err(e) => return Err(e),
                    }
                    i += 1;
                }
                Ok(st)
            })
        };
        for w in workers {
            report.stats += w.join().map_err(|_| panic_error("worker"))??;
        }
        done.store(true, StdOrdering::Relaxed);
        report.stats += pager.join().map_err(|_| panic_error("pager"))??;
        report.rounds = round + 1;
        let expected = ((round + 1) * cfg.workers) as u64;
        let (loss, misload, excess) = check_pages(&mm, 0..mm.pages(), expected, &mut report.stats)?;
        report.data_loss += loss;
        report.misload += misload;
        report.excess += excess;
        if (loss | misload | excess) != 0 && report.first_bad_round.is_none() {
            report.first_bad_round = Some(round);
        }
    }
    report.accounting = check_accounting(&sys, &[&mm]);
    report.device = sys.device().stats();
    Ok(report)
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
    let (mut loss, mut misload, mut excess) = (0, 0, 0);
    for vpn in pages {
        let (count, index) = mm.access(vpn, st, |f, fr| (f.word(fr, 0), f.word(fr, 1)))?;
        if index != index_word(vpn) {
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
