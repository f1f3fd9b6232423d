//! [`System`]: what the address spaces share: the frame pool, the swap map
//! of one swap device, its swap cache, the device, and the strategy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use swapcache::SwapCache;
use swapmap::{Freed, SwapMap};

use crate::device::SwapDevice;
use crate::frame::{FrameId, Frames, GetLock, PG_DIRTY, PG_SWAPCACHE};
use crate::stats::FaultStats;
use crate::strategy::{self, Cached, Strategy};
use zswap_tree::{LoadMode, ZswapTree};

/// Why a [`System`] could not be built or an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// The virtual page is beyond the address space.
    OutOfRange {
        /// The page.
        vpn: usize,
        /// Pages in the address space.
        pages: usize,
    },
    /// No free frame (the model's OOM).
    NoMemory,
    /// No free swap slot for a page-out.
    SwapFull,
    /// A device I/O error (the kernel's `SIGBUS` on a swap-in).
    Io(String),
    /// An unknown strategy name.
    UnknownStrategy(String),
    /// A configuration error.
    Config(String),
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::OutOfRange { vpn, pages } => {
                write!(f, "page {vpn} beyond the address space ({pages} pages)")
            }
            FaultError::NoMemory => f.write_str("out of frames"),
            FaultError::SwapFull => f.write_str("no free swap slot"),
            FaultError::Io(e) => write!(f, "swap I/O error: {e}"),
            FaultError::UnknownStrategy(s) => write!(
                f,
                "unknown strategy {s:?}; known: {}",
                strategy::names().join(", ")
            ),
            FaultError::Config(e) => write!(f, "configuration: {e}"),
        }
    }
}

impl std::error::Error for FaultError {}

/// How zswap loads on swap-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZswapLoad {
    /// Always exclusive: the entry is erased and ownership moves to the
    /// folio, which is marked dirty (Linux 6.5-6.8). Races with the bypass
    /// path (seed 001).
    Exclusive,
    /// Exclusive only when the folio is in the swap cache, optimistic
    /// otherwise (25cd241408a2).
    ExclusiveIfCached,
}

impl ZswapLoad {
    /// The names the command line uses: `exclusive`, `exclusive-if-cached`.
    pub fn name(self) -> &'static str {
        match self {
            ZswapLoad::Exclusive => "exclusive",
            ZswapLoad::ExclusiveIfCached => "exclusive-if-cached",
        }
    }

    /// Parses [`ZswapLoad::name`].
    pub fn from_name(s: &str) -> Option<ZswapLoad> {
        [ZswapLoad::Exclusive, ZswapLoad::ExclusiveIfCached]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

/// How the swap cache is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SwapCacheKind {
    /// The swap table (Linux 6.18, `mm/swap_table.h`): the folio of a slot
    /// is a word beside the slot in the swap map
    /// ([`swapmap::SwapMap::table_get`]); a lookup is one load, an add or
    /// delete one compare-and-swap by the holder of the slot's
    /// `SWAP_HAS_CACHE` pin. No epoch pin is needed: frames are never freed
    /// as memory, so a stale frame number is caught by the re-check under
    /// the folio lock, as `folio_try_get` + the `folio->swap` check do.
    #[default]
    Table,
    /// An xarray per 64 MiB of swap (Linux up to 6.17, `mm/swap_state.c`
    /// on `lib/xarray.c`): the [`swapcache`] crate, read under an epoch
    /// guard, written under the tree's lock. The seed-002 legacy mode needs
    /// it ([`SystemConfig::legacy_add_to_swap_cache`]).
    XArray,
}

impl SwapCacheKind {
    /// The names the command line uses: `table`, `xarray`.
    pub fn name(self) -> &'static str {
        match self {
            SwapCacheKind::Table => "table",
            SwapCacheKind::XArray => "xarray",
        }
    }

    /// Parses [`SwapCacheKind::name`].
    pub fn from_name(s: &str) -> Option<SwapCacheKind> {
        [SwapCacheKind::Table, SwapCacheKind::XArray]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// Whether a large folio may be swapped in from zswap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ZswapLarge {
    /// Mainline (6.12-6.18): zswap cannot load a large folio
    /// (`zswap_load` warns and fails on one), so large-folio swap-in is off
    /// once zswap is enabled (`!zswap_never_enabled()` in
    /// `alloc_swap_folio`; here: once zswap has stored a page, even if it
    /// holds none now) and every swap-in takes order 0.
    #[default]
    Mainline,
    /// The 2026 zswap large-folio swap-in RFC: a range entirely in zswap
    /// may be swapped in as a large folio; a range partly in zswap and
    /// partly on the device takes order 0.
    AllInZswap,
}

impl ZswapLarge {
    /// The names the command line uses: `mainline`, `all-in-zswap`.
    pub fn name(self) -> &'static str {
        match self {
            ZswapLarge::Mainline => "mainline",
            ZswapLarge::AllInZswap => "all-in-zswap",
        }
    }
}

/// A deliberately broken large-folio swap-in, for the negative controls of
/// the large-folio races (DESIGN.md section 7): each drops one check of
/// `do_swap_page`'s large-folio path, and the loom models and the race
/// harness must catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LargeBug {
    /// Race 5: pin only the faulting entry, not the whole range.
    PinFaultingOnly,
    /// Race 6: under the PTE lock re-check only the faulting PTE.
    RecheckFaultingOnly,
    /// Race 7: skip the check that the range is on one backend (all in
    /// zswap or all on the device).
    SkipBackendCheck,
    /// Race 8: skip the check that no entry of the range is in the swap
    /// cache (`non_swapcache_batch`).
    SkipSwapCacheCheck,
    /// Race 7, writeback form (the 2026 RFC's rule,
    /// [`ZswapLarge::AllInZswap`]): zswap writeback takes no swap-cache
    /// pin on the slot it writes (`zswap_writeback_entry` without
    /// `__read_swap_cache_async`), so it can move a page of a pinned
    /// all-in-zswap range to the device while the swap-in reads the range
    /// from zswap.
    WritebackIgnoresPins,
    /// Race 7, writeback form: check that the range is on one backend
    /// only before pinning it, not again under the pin; a writeback that
    /// ends between the two leaves the range mixed.
    SkipBackendRecheck,
}

/// zswap in front of the swap device.
#[derive(Clone, Debug)]
pub struct ZswapConfig {
    /// The load mode.
    pub load: ZswapLoad,
    /// The compressed store's configuration (compressor, pool limit, ...).
    /// A store over the pool limit first writes back the oldest entries to
    /// the device, then is rejected and goes to the device itself.
    pub tree: zswap_tree::Config,
}

/// How to build a [`System`].
#[derive(Clone)]
pub struct SystemConfig {
    /// Frames in the pool (memory).
    pub frames: u32,
    /// The swap device; its size is the swap map's size.
    pub device: Arc<dyn SwapDevice>,
    /// Swap-map cluster size (512 normally, 2 in loom models).
    pub cluster_size: u32,
    /// The swap-in strategy, by name (see [`strategy::names`]).
    pub strategy: String,
    /// Swap-in readahead window in pages on the swap-cache path
    /// (`1 << page_cluster`; 8 by default); 0 or 1 disables it.
    pub readahead: u32,
    /// The tick `pin-sleep` sleeps (`schedule_timeout_uninterruptible(1)`
    /// at HZ=1000).
    pub tick: Duration,
    /// zswap in front of the device, if any.
    pub zswap: Option<ZswapConfig>,
    /// How the swap cache is kept (default: the swap table).
    pub swap_cache: SwapCacheKind,
    /// **Negative control only**: the pre-fix swap cache of seed 002.
    /// Page-out's slot allocation does not pin the slot with
    /// `SWAP_HAS_CACHE` (it gets a count of 1, as the old `get_swap_page`
    /// did), and readahead checks the swap cache *before* taking a reference
    /// with `swap_duplicate` and adds its folio without the in-lock
    /// existence check ([`swapcache::SwapCache::add_unchecked`]). Two folios
    /// can then be added for one slot. Needs [`SwapCacheKind::XArray`].
    pub legacy_add_to_swap_cache: bool,
    /// The folio orders enabled for anonymous memory (bit k: order k, the
    /// `hugepages-<size>kB/enabled` knobs of mTHP): populate and anonymous
    /// faults map folios of the largest enabled order that fits, page-out
    /// swaps them out whole when the swap map has an aligned run (else
    /// splits them), and a synchronous swap-in may read a whole aligned
    /// range as one folio (`alloc_swap_folio`). Order 0 is always allowed.
    /// Default `1` (order 0 only, as before large folios).
    pub orders: u32,
    /// Whether zswap may back a large-folio swap-in.
    pub zswap_large: ZswapLarge,
    /// **Negative control only**: a large-folio swap-in with one check
    /// missing.
    pub large_bug: Option<LargeBug>,
}

impl fmt::Debug for SystemConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemConfig")
            .field("frames", &self.frames)
            .field("device", &self.device.name())
            .field("cluster_size", &self.cluster_size)
            .field("strategy", &self.strategy)
            .field("readahead", &self.readahead)
            .field("zswap", &self.zswap)
            .field("swap_cache", &self.swap_cache)
            .field("orders", &format_args!("{:#b}", self.orders))
            .field("zswap_large", &self.zswap_large)
            .field("large_bug", &self.large_bug)
            .finish()
    }
}

impl SystemConfig {
    /// A configuration with `frames` frames, `device`, and the `swapcache`
    /// strategy.
    pub fn new(frames: u32, device: Arc<dyn SwapDevice>) -> SystemConfig {
        SystemConfig {
            frames,
            device,
            cluster_size: swapmap::SWAPFILE_CLUSTER,
            strategy: "swapcache".into(),
            readahead: 8,
            tick: Duration::from_millis(1),
            zswap: None,
            swap_cache: SwapCacheKind::default(),
            legacy_add_to_swap_cache: false,
            orders: 1,
            zswap_large: ZswapLarge::default(),
            large_bug: None,
        }
    }

    /// Sets the strategy by name.
    pub fn strategy(mut self, name: &str) -> SystemConfig {
        self.strategy = name.into();
        self
    }
}

/// The shared machine: frames, swap map, swap cache, device, strategy.
pub struct System {
    pub(crate) frames: Frames,
    pub(crate) map: SwapMap,
    /// The xarray swap cache (used when the kind is
    /// [`SwapCacheKind::XArray`]; the swap table is in `map`).
    pub(crate) cache: SwapCache<FrameId>,
    pub(crate) device: Arc<dyn SwapDevice>,
    /// Index into [`strategy::STRATEGIES`] (see [`System::set_strategy`]).
    strategy: std::sync::atomic::AtomicUsize,
    /// [`SwapCacheKind`] as a byte (see [`System::set_swap_cache_kind`]).
    cache_kind: std::sync::atomic::AtomicU8,
    pub(crate) readahead: u32,
    pub(crate) tick: Duration,
    pub(crate) zswap: Option<(Arc<ZswapTree>, ZswapLoad)>,
    pub(crate) legacy: bool,
    /// The shared wait queue of `pin-waitqueue` (`swapcache_wq`).
    pub(crate) swapcache_wq: crate::waitq::WaitQueue,
    /// Enabled folio orders (bit 0 always set); see [`System::set_orders`].
    orders: std::sync::atomic::AtomicU32,
    pub(crate) zswap_large: ZswapLarge,
    pub(crate) large_bug: Option<LargeBug>,
    notified: Arc<crate::sync::Counter>,
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("strategy", &self.strategy().name())
            .field("swap_cache", &self.swap_cache_kind())
            .field("device", &self.device)
            .field("frames", &self.frames.stats())
            .finish_non_exhaustive()
    }
}

impl System {
    /// Builds the machine: a swap map the size of the device whose
    /// free-notify hook discards the device's copy (`swap_slot_free_notify`).
    ///
    /// # Example
    ///
    /// (The quick start of the crate's README.md: keep the two the same.)
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fault_path::device::{Ramdisk, SwapDevice};
    /// use fault_path::{AddressSpace, FaultStats, System, SystemConfig, index_word};
    ///
    /// let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(64, None)); // a 64-slot brd
    /// let sys = System::new(SystemConfig::new(64, dev).strategy("pin-waitqueue")).unwrap();
    /// let mm = AddressSpace::new(Arc::clone(&sys), 16); // one VMA of 16 pages
    /// mm.populate().unwrap(); // word 1 of each page = its index
    /// let mut st = FaultStats::default();
    /// mm.write(3, &mut st).unwrap(); // word 0 += 1, as the stress reproducer does
    /// assert_eq!(mm.pageout(0..16, &mut st), Ok(16)); // MADV_PAGEOUT
    /// assert_eq!(mm.read_word(3, 0, &mut st), Ok(1)); // do_swap_page brings it back
    /// assert_eq!(mm.read_word(5, 1, &mut st), Ok(index_word(5)));
    /// ```
    pub fn new(cfg: SystemConfig) -> Result<Arc<System>, FaultError> {
        let strategy = strategy_index(&cfg.strategy)?;
        check_legacy_cache(cfg.legacy_add_to_swap_cache, cfg.swap_cache)?;
        let nr_slots = cfg.device.nr_slots();
        // zswap writes back to the device (`zswap_writeback_entry`). The
        // callback has no error path: a failed device write loses the page,
        // as a failed writeback does.
        let wb = Arc::new(ZswapWriteback {
            sys: std::sync::OnceLock::new(),
            dev: Arc::clone(&cfg.device),
            ignore_pins: cfg.large_bug == Some(LargeBug::WritebackIgnoresPins),
        });
        let zswap = cfg.zswap.as_ref().map(|z| {
            let target = WritebackTo(Arc::clone(&wb));
            let tree = ZswapTree::with_writeback_target(nr_slots, z.tree.clone(), target);
            (Arc::new(tree), z.load)
        });
        let notified = Arc::new(crate::sync::Counter::default());
        let (dev, n2) = (Arc::clone(&cfg.device), Arc::clone(&notified));
        let zs = zswap.as_ref().map(|(t, _)| Arc::clone(t));
        let map = SwapMap::builder(nr_slots)
            .cluster_size(cfg.cluster_size)
            .swap_table(true)
            .free_notify(move |slot| {
                // swap_range_free: zswap_invalidate, then the device's
                // swap_slot_free_notify.
                n2.bump();
                if let Some(z) = &zs {
                    z.invalidate(slot);
                }
                dev.discard(slot);
            })
            .build()
            .map_err(|e| FaultError::Config(e.to_string()))?;
        check_orders(cfg.orders, &map)?;
        let sys = Arc::new(System {
            frames: Frames::new(cfg.frames),
            cache: crate::sync::new_swap_cache(nr_slots),
            map,
            device: cfg.device,
            strategy: std::sync::atomic::AtomicUsize::new(strategy),
            cache_kind: std::sync::atomic::AtomicU8::new(cfg.swap_cache as u8),
            readahead: cfg.readahead,
            tick: cfg.tick,
            zswap,
            legacy: cfg.legacy_add_to_swap_cache,
            swapcache_wq: crate::waitq::WaitQueue::new(),
            orders: std::sync::atomic::AtomicU32::new(cfg.orders | 1),
            zswap_large: cfg.zswap_large,
            large_bug: cfg.large_bug,
            notified,
        });
        // The pins need the map, which is built after zswap (its free
        // hook invalidates zswap); nothing writes back before this.
        let _ = wb.sys.set(Arc::downgrade(&sys));
        Ok(sys)
    }

    /// zswap, if the system has it.
    pub fn zswap(&self) -> Option<&ZswapTree> {
        self.zswap.as_ref().map(|(t, _)| &**t)
    }

    /// The frame pool.
    pub fn frames(&self) -> &Frames {
        &self.frames
    }

    /// The swap map.
    pub fn swap_map(&self) -> &SwapMap {
        &self.map
    }

    /// The xarray swap cache (in use when [`System::swap_cache_kind`] is
    /// [`SwapCacheKind::XArray`]).
    pub fn swap_cache(&self) -> &SwapCache<FrameId> {
        &self.cache
    }

    /// How the swap cache is kept.
    #[inline]
    pub fn swap_cache_kind(&self) -> SwapCacheKind {
        // Relaxed: changed only while the swap cache is empty and the
        // system quiet (see `set_swap_cache_kind`).
        if self.cache_kind.load(std::sync::atomic::Ordering::Relaxed) == SwapCacheKind::XArray as u8
        {
            SwapCacheKind::XArray
        } else {
            SwapCacheKind::Table
        }
    }

    /// Switches how the swap cache is kept, so that the two can be compared
    /// on the same memory. Both structures always exist; the switch is
    /// refused unless the swap cache is empty (no folio would be lost or
    /// found twice). As [`System::set_strategy`], call it only while no
    /// fault or page-out is in progress.
    ///
    /// Errors: [`FaultError::Config`] when folios are cached, or when the
    /// legacy mode (xarray only) would get the swap table.
    pub fn set_swap_cache_kind(&self, kind: SwapCacheKind) -> Result<(), FaultError> {
        check_legacy_cache(self.legacy, kind)?;
        let n = self.nr_cached_folios();
        if n != 0 {
            return Err(FaultError::Config(format!(
                "{n} folios in the swap cache: switch while it is empty"
            )));
        }
        // Relaxed: see `swap_cache_kind`.
        self.cache_kind
            .store(kind as u8, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    #[inline]
    fn xarray(&self) -> Option<&SwapCache<FrameId>> {
        (self.swap_cache_kind() == SwapCacheKind::XArray).then_some(&self.cache)
    }

    /// The folio in the swap cache for `slot`, if any, without a reference
    /// (`swap_cache_get_folio` minus the `folio_try_get`): a snapshot for
    /// checks and statistics.
    pub fn cached_folio(&self, slot: u64) -> Option<FrameId> {
        match self.xarray() {
            Some(c) => c.get_cloned(slot),
            None => self.map.table_get(slot).ok().flatten().map(table_frame),
        }
    }

    /// Folios in the swap cache (a scan; a snapshot when quiet).
    pub fn nr_cached_folios(&self) -> usize {
        match self.xarray() {
            Some(c) => c.nr_folios(),
            None => self.map.table_len() as usize,
        }
    }

    /// Adds the locked folio `fr` to the swap cache at `slot`
    /// (`add_to_swap_cache` / `swap_cache_add_folio`). The caller holds the
    /// slot's `SWAP_HAS_CACHE` pin, so the add cannot find the slot
    /// occupied (seed 002's in-lock check); returns `false` if it does.
    ///
    /// A large folio occupies each of its `nr` slots from `slot` (its first)
    /// in one locked step: [`swapmap::SwapMap::table_add_nr`] on the swap
    /// table, [`swapcache::SwapCache::add_range`] on the xarray (the
    /// kernel's `xas_create_range` + one `xas_store` per index under the
    /// tree lock, in `add_to_swap_cache` up to 6.17), so that a lookup of
    /// any slot sees the whole folio or none of it.
    pub(crate) fn cache_add(&self, slot: u64, fr: FrameId) -> bool {
        let nr = self.nr_pages(fr);
        match self.xarray() {
            Some(c) => {
                let guard = c.pin();
                if nr == 1 {
                    c.add(slot, fr, &guard).is_ok()
                } else {
                    c.add_range(slot, u64::from(nr), fr, &guard).is_ok()
                }
            }
            None if nr == 1 => self.map.table_add(slot, table_value(fr)).is_ok(),
            None => self.map.table_add_nr(slot, nr, table_value(fr)).is_ok(),
        }
    }

    /// Pages in the folio headed by `fr` (`folio_nr_pages`).
    #[inline]
    pub(crate) fn nr_pages(&self, fr: FrameId) -> u32 {
        1 << self.frames.order(fr)
    }

    /// Whether the folio `fr` is in the swap cache for `slot`, one of its
    /// `nr` slots (`folio_test_swapcache` and `folio->swap` covering the
    /// entry). Context: the caller holds the folio lock.
    #[inline]
    pub(crate) fn caches(&self, fr: FrameId, slot: u64) -> bool {
        self.frames.flags(fr) & PG_SWAPCACHE != 0
            && slot.wrapping_sub(self.frames.swap(fr)) < u64::from(self.nr_pages(fr))
    }

    /// Whether large folios are usable with this configuration: both swap
    /// caches keep them (the swap table and the xarray in each of their
    /// `nr` slots); the seed-002 legacy mode does not (it predates them).
    #[inline]
    pub(crate) fn large_ok(&self) -> bool {
        self.orders() > 1 && !self.legacy
    }

    /// The enabled folio orders (bit k: order k; bit 0 always set).
    #[inline]
    pub fn orders(&self) -> u32 {
        // Relaxed: a policy knob; a fault that reads the old value makes a
        // choice the old setting allowed, as a fault racing a write to the
        // sysfs file does.
        self.orders.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Enables the folio orders of `orders` (bit k: order k) for anonymous
    /// memory from now on, as writing the mTHP sysfs knobs
    /// (`/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled`)
    /// does at run time. Folios already mapped or swapped keep their order.
    /// Safe to call while faults run.
    ///
    /// Errors: [`FaultError::Config`] for an order above the largest the
    /// swap map's clusters hold; nothing changes.
    pub fn set_orders(&self, orders: u32) -> Result<(), FaultError> {
        check_orders(orders, &self.map)?;
        // Relaxed: see `orders`.
        self.orders
            .store(orders | 1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The pre-fix add of seed 002 (negative control only): no existence
    /// check, a folio already there is displaced. The xarray cache only
    /// (the legacy mode is refused with the swap table).
    pub(crate) fn cache_add_unchecked(&self, slot: u64, fr: FrameId) {
        if let Some(c) = self.xarray() {
            let guard = c.pin();
            let _ = c.add_unchecked(slot, fr, &guard);
        }
    }

    /// Removes `fr` from the swap cache at `slot` if it is the folio there
    /// (`__delete_from_swap_cache` / `swap_cache_del_folio`); returns
    /// whether it was.
    pub(crate) fn cache_del(&self, slot: u64, fr: FrameId) -> bool {
        let nr = self.nr_pages(fr);
        match self.xarray() {
            Some(c) if nr == 1 => {
                let guard = c.pin();
                c.delete_if(slot, None, &guard, |f| f == fr).is_ok()
            }
            // A large folio leaves all its slots in one locked step.
            Some(c) => {
                let guard = c.pin();
                c.delete_range(slot, u64::from(nr), fr, None, &guard)
                    .is_ok()
            }
            None if nr == 1 => self.map.table_del(slot, table_value(fr)).is_ok(),
            None => self.map.table_del_nr(slot, nr, table_value(fr)).is_ok(),
        }
    }

    /// The swap device.
    pub fn device(&self) -> &dyn SwapDevice {
        &*self.device
    }

    /// The strategy in use.
    #[inline]
    pub fn strategy(&self) -> &'static dyn Strategy {
        // Relaxed: changed only while the system is quiet (see
        // `set_strategy`); the faults that follow are ordered after the
        // change by however the caller starts them (a join, a barrier).
        strategy::STRATEGIES[self.strategy.load(std::sync::atomic::Ordering::Relaxed)]
    }

    /// Switches the swap-in strategy, so that strategies can be compared
    /// on the same memory (the benches and `swapin` do). Call it only while
    /// no fault is in progress: a switch in the middle of a swap-in mixes
    /// two protocols, which models nothing (the kernel does not switch at
    /// run time). Memory-safe either way.
    ///
    /// Errors: [`FaultError::UnknownStrategy`].
    pub fn set_strategy(&self, name: &str) -> Result<(), FaultError> {
        let i = strategy_index(name)?;
        // Relaxed: see `strategy`.
        self.strategy.store(i, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The tick the `pin-sleep` strategy sleeps.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// Slot frees notified by the swap map so far.
    pub fn slots_freed(&self) -> u64 {
        self.notified.get()
    }

    /// The folio in the swap cache for `slot`, with a reference taken
    /// (`swap_cache_get_folio` → `filemap_get_folio` + `folio_try_get`).
    /// Not locked: the caller locks it and re-checks.
    pub(crate) fn lookup_cache(&self, slot: u64) -> Option<FrameId> {
        let fr = self.cached_folio(slot)?;
        self.frames.try_get(fr).then_some(fr)
    }

    /// `swap_cache_get_folio` + `folio_lock_or_retry` + the check that the
    /// folio is still the swap-cache folio of `slot` (the kernel's
    /// `!folio_test_swapcache(folio) || folio->swap.val != entry.val`
    /// after the lock). The reference and, when the folio is unlocked, the
    /// lock are taken in one step ([`Frames::try_get_lock`]).
    pub(crate) fn lookup_locked(&self, slot: u64, st: &mut FaultStats) -> Cached {
        let Some(fr) = self.cached_folio(slot) else {
            return Cached::Miss;
        };
        match self.frames.try_get_lock(fr) {
            GetLock::Locked => {}
            GetLock::Got => {
                let w = self.frames.lock(fr);
                st.spins += u64::from(w.spins);
                st.yields += w.yields;
            }
            // Freed since the lookup: it left the cache.
            GetLock::Free => return Cached::Miss,
        }
        if self.caches(fr, slot) {
            return Cached::Hit(fr);
        }
        self.frames.unlock_put(fr);
        st.stale += 1;
        Cached::Stale
    }

    /// Removes a locked swap-cache folio whose slot has no reference left
    /// (`folio_free_swap`): deletes it from the cache, clears the cache flag
    /// (freeing the slot) and drops the cache's reference. Returns whether it
    /// did. Context: the caller holds the folio lock.
    ///
    /// A large folio leaves the cache only when none of its `nr` slots has a
    /// reference left (`folio_swapped`), all at once.
    pub(crate) fn try_free_swap(&self, fr: FrameId) -> bool {
        if self.frames.flags(fr) & PG_SWAPCACHE == 0 {
            return false;
        }
        let slot = self.frames.swap(fr);
        // An ordered read (`swap_swapcount` reads under the cluster lock):
        // a read-modify-write of the slot byte, ordered against a racing
        // `free_swap_and_cache`'s put, whose lookup then sees this folio if
        // we see a count left. With a plain load both sides could miss each
        // other and orphan the folio (loom finds it).
        let nr = u64::from(self.nr_pages(fr));
        if (slot..slot + nr).any(|s| self.map.has_count_ordered(s) != Ok(false)) {
            return false;
        }
        self.delete_from_swap_cache(fr, slot);
        true
    }

    /// `delete_from_swap_cache` + `put_swap_folio`: out of the cache, the
    /// pins of its `nr` slots dropped (freeing them), and the cache's `nr`
    /// references. Context: folio locked, in the cache from `slot`.
    pub(crate) fn delete_from_swap_cache(&self, fr: FrameId, slot: u64) {
        let nr = self.nr_pages(fr);
        self.remove_from_swap_cache(fr, slot);
        let _ = if nr == 1 {
            self.map.swapcache_clear(slot).map(drop)
        } else {
            self.map.swapcache_clear_nr(slot, nr).map(drop)
        };
        self.frames.put_n(fr, nr);
    }

    /// The end of an exclusive swap-in from the swap cache for the locked
    /// folio `fr` of `slot`, whose PTE maps it now: out of the swap cache,
    /// one reference and the pin dropped (`swap_free`, then
    /// `folio_free_swap`'s `delete_from_swap_cache` + `put_swap_folio`), in
    /// one cluster-locked step with the swap table
    /// ([`swapmap::SwapMap::table_del_free_and_clear`]). `PG_SWAPCACHE` and
    /// the cache's frame reference are left to the caller.
    pub(crate) fn del_free_and_clear(&self, fr: FrameId, slot: u64) {
        match self.xarray() {
            Some(_) => {
                let deleted = self.cache_del(slot, fr);
                debug_assert!(deleted, "folio {fr} not in the swap cache at {slot}");
                let _ = self.map.free_and_clear(slot);
            }
            None => {
                let r = self.map.table_del_free_and_clear(slot, table_value(fr));
                debug_assert!(r.is_ok(), "folio {fr} at {slot}: {r:?}");
            }
        }
    }

    /// `__delete_from_swap_cache`: takes the locked folio `fr` out of the
    /// swap cache for `slot` and clears its flag. The slot's pin and the
    /// cache's reference to the frame are left to the caller.
    pub(crate) fn remove_from_swap_cache(&self, fr: FrameId, slot: u64) {
        let deleted = self.cache_del(slot, fr);
        debug_assert!(deleted, "folio {fr} not in the swap cache at {slot}");
        self.frames.clear_flags(fr, PG_SWAPCACHE);
    }

    /// Drops one reference to `slot` (`swap_free`), and when that leaves
    /// only a swap-cache folio behind, removes the folio
    /// (`free_swap_and_cache` → `__try_to_reclaim_swap`). `held` is a folio
    /// the caller has locked already.
    ///
    /// Differs on purpose: the kernel only trylocks the folio and leaves a
    /// locked one for reclaim to find later; the model has no background
    /// reclaim, so it waits for the lock and the accounting stays exact.
    /// Context: no PTE lock held (the folio's holder may be waiting for it).
    pub(crate) fn free_swap_and_cache(&self, slot: u64, held: Option<FrameId>) {
        if self.map.free(slot) == Ok(Freed::No) {
            self.reclaim_orphan(slot, held);
        }
    }

    /// If `slot` has no reference but a swap-cache folio, remove the folio.
    pub(crate) fn reclaim_orphan(&self, slot: u64, held: Option<FrameId>) {
        if self.map.count(slot) != Ok(0) || self.map.has_cache(slot) != Ok(true) {
            return;
        }
        let Some(fr) = self.lookup_cache(slot) else {
            return; // A swap-in's pin, not a cached folio: its owner clears it.
        };
        if Some(fr) == held {
            self.try_free_swap(fr);
            self.frames.put(fr);
            return;
        }
        self.frames.lock(fr);
        if self.caches(fr, slot) {
            self.try_free_swap(fr);
        }
        self.frames.unlock_put(fr);
    }

    /// Reads `slot` into frame `fr` (`swap_read_folio`): from zswap if it
    /// holds the page (`zswap_load`), else from the device. `in_swapcache`
    /// tells an `exclusive-if-cached` zswap whether it may erase its entry;
    /// an exclusive load marks the folio dirty, since zswap no longer has a
    /// copy. The data is decompressed straight into the frame.
    ///
    /// # Safety
    /// As [`Frames::fill_private`]: nobody else accesses `fr`'s contents
    /// until this returns (a private folio, or one the caller has locked).
    pub(crate) unsafe fn read_into(
        &self,
        fr: FrameId,
        slot: u64,
        in_swapcache: bool,
    ) -> Result<(), FaultError> {
        // SAFETY: forwarded from our caller.
        unsafe { self.read_page(fr, fr, slot, in_swapcache, Backend::Any) }
    }

    /// Reads the `nr` slots from `s0` into the frames of the large folio
    /// `head` (`swap_read_folio` on a large folio). The folio is read from
    /// one backend, chosen by its first page as `swap_read_folio` does: all
    /// from zswap when zswap holds the first page (a page of the range that
    /// it lacks is an I/O error: `zswap_load` of a large folio), else all
    /// from the device. The caller has checked the range is on one backend
    /// ([`ZswapLarge`]); a range that is not reads stale data for the pages
    /// on the other one (the negative control [`LargeBug::SkipBackendCheck`]).
    ///
    /// # Safety
    /// As [`System::read_into`], for every frame of the folio.
    pub(crate) unsafe fn read_folio(
        &self,
        head: FrameId,
        s0: u64,
        in_swapcache: bool,
    ) -> Result<(), FaultError> {
        let nr = self.nr_pages(head);
        let backend = match &self.zswap {
            Some((tree, _)) if tree.contains(s0) => Backend::Zswap,
            _ => Backend::Device,
        };
        if backend == Backend::Device && nr > 1 {
            // One request for the folio: zram decompresses a multi-page
            // object once (`Zram::multi_pages`).
            let read = |pages: &mut [zswap_tree::Page]| {
                self.device
                    .read_run(s0, pages)
                    .map_err(|e| FaultError::Io(e.to_string()))
            };
            #[cfg(not(any(loom, shuttle)))]
            // SAFETY: forwarded from our caller, for every frame of the folio.
            return unsafe { self.frames.fill_private_run(head, nr, read) }.map(|_| ());
            #[cfg(any(loom, shuttle))]
            {
                let mut pages = vec![[0u8; zswap_tree::PAGE_SIZE]; nr as usize];
                if read(&mut pages)? {
                    for (i, p) in pages.iter().enumerate() {
                        self.frames.copy_in(head + i as FrameId, p);
                    }
                }
                return Ok(());
            }
        }
        for i in 0..nr {
            // SAFETY: forwarded from our caller.
            unsafe { self.read_page(head, head + i, s0 + u64::from(i), in_swapcache, backend)? };
        }
        Ok(())
    }

    /// Reads `slot` into frame `fr` of the folio headed by `head` from
    /// `backend`.
    ///
    /// # Safety
    /// As [`System::read_into`].
    unsafe fn read_page(
        &self,
        head: FrameId,
        fr: FrameId,
        slot: u64,
        in_swapcache: bool,
        backend: Backend,
    ) -> Result<(), FaultError> {
        #[cfg(not(any(loom, shuttle)))]
        {
            // SAFETY: forwarded from our caller.
            unsafe {
                self.frames.fill_private(fr, |page| {
                    self.read_into_buf(head, slot, in_swapcache, backend, page)
                })
            }
            .map(|_transferred| ())
        }
        #[cfg(any(loom, shuttle))]
        {
            // Under loom (shuttle) frames are loom (shuttle) atomics: read into a
            // buffer, copy.
            with_page_buffer(|page| {
                let copy = self.read_into_buf(head, slot, in_swapcache, backend, page)?;
                if copy {
                    self.frames.copy_in(fr, page);
                }
                Ok(())
            })
        }
    }

    /// Reads into `page` from `backend` (an exclusive zswap load marks the
    /// folio `head` dirty); returns whether data was transferred.
    fn read_into_buf(
        &self,
        fr: FrameId,
        slot: u64,
        in_swapcache: bool,
        backend: Backend,
        page: &mut zswap_tree::Page,
    ) -> Result<bool, FaultError> {
        if let Some((tree, load)) = self.zswap.as_ref().filter(|_| backend != Backend::Device) {
            let exclusive = match load {
                ZswapLoad::Exclusive => true,
                ZswapLoad::ExclusiveIfCached => in_swapcache,
            };
            let mode = if exclusive {
                LoadMode::Exclusive
            } else {
                LoadMode::Optimistic
            };
            match tree.load(slot, page, mode) {
                Ok(true) => {
                    if exclusive {
                        self.frames.set_flags(fr, PG_DIRTY);
                    }
                    return Ok(true);
                }
                Ok(false) if backend == Backend::Zswap => {
                    return Err(FaultError::Io(format!(
                        "slot {slot} of a large folio read from zswap is not in zswap"
                    )));
                }
                Ok(false) => {}
                Err(e) => return Err(FaultError::Io(e.to_string())),
            }
        }
        self.device
            .read(slot, page)
            .map_err(|e| FaultError::Io(e.to_string()))
    }

    /// Writes the large folio `head` to the slots from `s0` (`swap_writepage`
    /// of a large folio): into zswap page by page if there is one (6.13's
    /// `zswap_store` of a large folio, one entry per page; a page it refuses
    /// goes to the device alone), else to the device as one run, which zram
    /// may store as multi-page objects (`Zram::multi_pages`).
    pub(crate) fn write_folio(&self, head: FrameId, s0: u64) -> Result<(), FaultError> {
        let nr = self.nr_pages(head);
        if self.zswap.is_some() || nr == 1 {
            return (0..nr).try_for_each(|i| self.write_from(head + i, s0 + u64::from(i)));
        }
        with_pages_buffer(nr as usize, |pages| {
            for (i, p) in pages.iter_mut().enumerate() {
                self.frames.copy_out(head + i as FrameId, p);
            }
            self.device
                .write_run(s0, pages)
                .map_err(|e| FaultError::Io(e.to_string()))
        })
    }

    /// Writes frame `fr` to `slot` (`swap_writepage`): into zswap if it
    /// takes the page (`zswap_store`), else to the device.
    pub(crate) fn write_from(&self, fr: FrameId, slot: u64) -> Result<(), FaultError> {
        with_page_buffer(|page| {
            self.frames.copy_out(fr, page);
            if let Some((tree, _)) = &self.zswap
                && tree.store(slot, page).is_ok()
            {
                return Ok(());
            }
            self.device
                .write(slot, page)
                .map_err(|e| FaultError::Io(e.to_string()))
        })
    }
}

/// zswap's writeback target (`zswap_writeback_entry`): pins the slot as
/// `__read_swap_cache_async` does (`swapcache_prepare`; `-EEXIST` when a
/// swap-in or the swap cache holds it, and zswap then skips the entry),
/// writes the page to the device, and drops the pin after zswap's lock
/// (`swapcache_clear`, which frees a slot zapped meanwhile and so
/// invalidates it). The kernel adds a locked folio to the swap cache
/// under that pin; the model holds the pin alone, so an order-0 swap-in
/// of the slot meanwhile waits on the pin (`read_swap_cache_async`'s
/// `-EEXIST` loop) instead of finding the folio: the same exclusion, with
/// the write done under zswap's region lock. A failed device write loses
/// the page, as a failed writeback does (the callback has no error path).
struct ZswapWriteback {
    /// Set once the system is built.
    sys: std::sync::OnceLock<std::sync::Weak<System>>,
    dev: Arc<dyn SwapDevice>,
    /// The negative control [`LargeBug::WritebackIgnoresPins`].
    ignore_pins: bool,
}

/// The [`zswap_tree::WritebackTarget`] handed to zswap: a shared
/// [`ZswapWriteback`].
struct WritebackTo(Arc<ZswapWriteback>);

impl zswap_tree::WritebackTarget for WritebackTo {
    fn pin(&self, slot: u64) -> bool {
        if self.0.ignore_pins {
            return true;
        }
        // The system outlives every store it makes, which is where
        // writeback runs; an upgrade that fails (teardown) refuses.
        let Some(sys) = self.0.sys.get().and_then(std::sync::Weak::upgrade) else {
            return false;
        };
        sys.map.swapcache_prepare(slot).is_ok()
    }

    fn write(&self, slot: u64, page: &zswap_tree::Page) {
        let _ = self.0.dev.write(slot, page);
    }

    fn unpin(&self, slot: u64) {
        if self.0.ignore_pins {
            return;
        }
        if let Some(sys) = self.0.sys.get().and_then(std::sync::Weak::upgrade) {
            let _ = sys.map.swapcache_clear(slot);
            // pin-waitqueue racers that met the pin sleep on swapcache_wq.
            sys.swapcache_wq.wake_if_waiters();
        }
    }
}

/// Where [`System::read_page`] reads from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// zswap if it holds the page, else the device (order 0).
    Any,
    /// zswap only (a large folio whose first page is in zswap).
    Zswap,
    /// The device only (a large folio whose first page is not in zswap).
    Device,
}

/// Refuses folio orders above what the map's clusters (and the frame
/// pool) hold.
fn check_orders(orders: u32, map: &SwapMap) -> Result<(), FaultError> {
    let max = map.max_order().min(crate::frame::MAX_FOLIO_ORDER);
    if orders >> (max + 1) != 0 {
        return Err(FaultError::Config(format!(
            "folio orders {orders:#b}: the largest is {max} (clusters of {} slots)",
            map.cluster_size()
        )));
    }
    Ok(())
}

/// The index of the strategy called `name` in [`strategy::STRATEGIES`].
fn strategy_index(name: &str) -> Result<usize, FaultError> {
    strategy::index_of(name).ok_or_else(|| FaultError::UnknownStrategy(name.to_string()))
}

/// The seed-002 legacy mode models the xarray swap cache
/// ([`SwapCache::add_unchecked`]); the swap table has no unchecked add.
fn check_legacy_cache(legacy: bool, kind: SwapCacheKind) -> Result<(), FaultError> {
    if legacy && kind != SwapCacheKind::XArray {
        return Err(FaultError::Config(
            "the legacy add_to_swap_cache mode needs the xarray swap cache \
             (SwapCacheKind::XArray)"
                .into(),
        ));
    }
    Ok(())
}

/// The swap-table word for frame `fr` (0 means empty).
#[inline]
pub(crate) fn table_value(fr: FrameId) -> std::num::NonZeroU64 {
    std::num::NonZeroU64::MIN.saturating_add(u64::from(fr))
}

/// The frame a swap-table word names (the inverse of [`table_value`]).
#[inline]
fn table_frame(v: std::num::NonZeroU64) -> FrameId {
    (v.get() - 1) as FrameId
}

/// Runs `f` on a 4 KiB bounce buffer: one per thread, reused, so that a
/// fault does not zero a page of stack for every read. Under loom and
/// shuttle, model
/// threads share an OS thread (and its thread-locals) and switch inside
/// `f`, so each call gets its own buffer there.
fn with_page_buffer<R>(f: impl FnOnce(&mut zswap_tree::Page) -> R) -> R {
    #[cfg(not(any(loom, shuttle)))]
    {
        std::thread_local! {
            static PAGE: std::cell::RefCell<Box<zswap_tree::Page>> =
                std::cell::RefCell::new(Box::new([0; zswap_tree::PAGE_SIZE]));
        }
        // The buffer is never borrowed across a call back into this module
        // (devices and zswap do not call back), so the borrow cannot fail;
        // fall back to a fresh buffer rather than panic if it ever does.
        PAGE.with(|p| match p.try_borrow_mut() {
            Ok(mut page) => f(&mut page),
            Err(_) => f(&mut Box::new([0; zswap_tree::PAGE_SIZE])),
        })
    }
    #[cfg(any(loom, shuttle))]
    {
        f(&mut Box::new([0; zswap_tree::PAGE_SIZE]))
    }
}

/// Runs `f` on `nr` bounce pages, one buffer per thread grown to the
/// largest folio written so far (`write_folio` of a large folio to the
/// device: up to 2 MiB at order 9, which a fresh allocation per page-out
/// would zero and fault in every time). Under loom and shuttle each call
/// gets its own buffer, as [`with_page_buffer`].
fn with_pages_buffer<R>(nr: usize, f: impl FnOnce(&mut [zswap_tree::Page]) -> R) -> R {
    #[cfg(not(any(loom, shuttle)))]
    {
        std::thread_local! {
            static PAGES: std::cell::RefCell<Vec<zswap_tree::Page>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        // As `with_page_buffer`: never borrowed across a call back into
        // this module; a fresh buffer rather than a panic if it ever is.
        PAGES.with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.len() < nr {
                    buf.resize(nr, [0; zswap_tree::PAGE_SIZE]);
                }
                f(&mut buf[..nr])
            }
            Err(_) => f(&mut vec![[0; zswap_tree::PAGE_SIZE]; nr]),
        })
    }
    #[cfg(any(loom, shuttle))]
    {
        f(&mut vec![[0; zswap_tree::PAGE_SIZE]; nr])
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use crate::device::Ramdisk;
    use crate::{AddressSpace, FaultStats, index_word};

    /// Every read path decompresses straight into the frame
    /// (`Frames::fill_private`); miri checks those writes. A ram disk keeps
    /// the test free of C code.
    #[test]
    fn swap_in_reads_straight_into_the_frame() {
        // Under miri, one strategy of each read path (a private folio, the
        // marker's, SWAP_MAP_SYNC's, the swap cache's): the frame writes
        // they share are what miri checks, and it runs slowly.
        let all = crate::strategy::names();
        let some = ["bypass", "pte-marker", "sync-map", "swapcache"];
        for s in if cfg!(miri) { &some[..] } else { &all[..] } {
            let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(16, None));
            let sys = System::new(SystemConfig::new(16, dev).strategy(s)).unwrap();
            let mm = AddressSpace::new(Arc::clone(&sys), 4);
            mm.populate().unwrap();
            let mut st = FaultStats::default();
            mm.write(2, &mut st).unwrap();
            assert_eq!(mm.pageout(0..4, &mut st), Ok(4));
            for vpn in 0..4 {
                assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)), "{s}");
            }
            assert_eq!(mm.read_word(2, 0, &mut st), Ok(1), "{s}");
            assert!(crate::check_accounting(&sys, &[&mm]).is_empty());
        }
    }

    /// A readahead window wider than one batch on the swap table reads
    /// every other slot of the window, and every page comes back right.
    #[test]
    fn wide_readahead_on_the_swap_table() {
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(64, None));
        let mut cfg = SystemConfig::new(64, dev);
        cfg.readahead = 32;
        let sys = System::new(cfg).unwrap();
        // 24 pages under miri: the window still spans three batches.
        let pages = if cfg!(miri) { 24 } else { 40 };
        let mm = AddressSpace::new(Arc::clone(&sys), pages);
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        assert_eq!(mm.pageout(0..pages, &mut st), Ok(pages));
        let slot = |vpn| match mm.pte(vpn).kind() {
            crate::pte::PteKind::Swap(s) => s,
            k => panic!("{k:?}"),
        };
        let window = slot(0) & !31..(slot(0) & !31) + 32;
        let in_window = (0..pages).filter(|&v| window.contains(&slot(v))).count() as u64;
        assert!(in_window > 2 * 8, "the window spans several batches");
        assert_eq!(mm.read_word(0, 1, &mut st), Ok(index_word(0)));
        assert_eq!(st.readahead, in_window - 1);
        assert_eq!(sys.nr_cached_folios() as u64, in_window - 1);
        for vpn in 0..pages {
            assert_eq!(mm.read_word(vpn, 1, &mut st), Ok(index_word(vpn)));
        }
        assert_eq!(sys.nr_cached_folios(), 0);
        assert!(crate::check_accounting(&sys, &[&mm]).is_empty());
    }

    /// Strategy and swap cache switch between runs; a switch that would
    /// strand cached folios, or give the legacy mode the swap table, is
    /// refused and changes nothing.
    #[test]
    fn switching_strategy_and_swap_cache() {
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(16, None));
        let sys = System::new(SystemConfig::new(16, dev).strategy("bypass")).unwrap();
        assert!(matches!(
            sys.set_strategy("nope"),
            Err(FaultError::UnknownStrategy(_))
        ));
        assert_eq!(sys.strategy().name(), "bypass");
        sys.set_strategy("swapcache").unwrap();
        assert_eq!(sys.strategy().name(), "swapcache");
        assert_eq!(sys.swap_cache_kind(), SwapCacheKind::Table);

        // A folio left in the swap cache by readahead blocks the switch.
        let mm = AddressSpace::new(Arc::clone(&sys), 4);
        mm.populate().unwrap();
        let mut st = FaultStats::default();
        assert_eq!(mm.pageout(0..4, &mut st), Ok(4));
        mm.write(0, &mut st).unwrap();
        assert_eq!(st.readahead, 3);
        assert_eq!(sys.nr_cached_folios(), 3);
        assert!(matches!(
            sys.set_swap_cache_kind(SwapCacheKind::XArray),
            Err(FaultError::Config(_))
        ));
        assert_eq!(sys.swap_cache_kind(), SwapCacheKind::Table);
        for vpn in 1..4 {
            mm.write(vpn, &mut st).unwrap();
        }
        assert_eq!(sys.nr_cached_folios(), 0);
        sys.set_swap_cache_kind(SwapCacheKind::XArray).unwrap();
        assert_eq!(sys.swap_cache_kind(), SwapCacheKind::XArray);
        assert!(crate::check_accounting(&sys, &[&mm]).is_empty());

        // The legacy mode is the xarray's only.
        let dev: Arc<dyn SwapDevice> = Arc::new(Ramdisk::new(16, None));
        let mut cfg = SystemConfig::new(16, dev);
        cfg.legacy_add_to_swap_cache = true;
        assert!(matches!(
            System::new(cfg.clone()),
            Err(FaultError::Config(_))
        ));
        cfg.swap_cache = SwapCacheKind::XArray;
        let legacy = System::new(cfg).unwrap();
        assert!(matches!(
            legacy.set_swap_cache_kind(SwapCacheKind::Table),
            Err(FaultError::Config(_))
        ));
    }
}
