//! [`SwapMap`]: the slot bytes, the clusters and their locks.

use std::fmt;

use crossbeam_utils::CachePadded;

use crate::error::{ConfigError, SwapError};
use crate::lists::{ClusterLists, ListId, SWAP_NR_ORDERS};
use crate::slot::{
    self, COUNT_CONTINUED, SWAP_FREE, SWAP_HAS_CACHE, SWAP_MAP_BAD, SWAP_MAP_SYNC, SlotState,
};
use crate::sync::{AtomicU8, AtomicU32, AtomicU64, Mutex, MutexGuard, Ordering, lock};

/// Slots in a cluster by default (`SWAPFILE_CLUSTER`).
pub const SWAPFILE_CLUSTER: u32 = 512;

/// The largest map the model accepts: 2^36 slots (256 TiB of 4 KiB pages),
/// far beyond anything that fits the slot bytes in memory, and small enough
/// that cluster indices fit in a `u32` for every cluster size.
pub const MAX_SLOTS: u64 = 1 << 36;

/// Spins in [`SwapMap::sync_wait`] before the waiter starts yielding.
pub const SYNC_SPIN_LIMIT: u32 = 128;

/// "No current cluster" in a per-CPU slot.
const NO_CLUSTER: u32 = u32::MAX;

/// Called exactly once each time a slot becomes free, as the kernel's
/// `swap_range_free` calls the block device's `swap_slot_free_notify` (zram
/// discards the slot's data) and `zswap_invalidate`.
///
/// Context: called with the slot's cluster lock held, after the slot byte is
/// already free and before any allocator can hand the slot out again. The
/// hook must not call back into the same [`SwapMap`] (the cluster lock is not
/// re-entrant); it may take its own locks.
pub trait FreeNotify: Send + Sync {
    /// `slot` has just become free.
    fn slot_freed(&self, slot: u64);
}

impl<F: Fn(u64) + Send + Sync> FreeNotify for F {
    fn slot_freed(&self, slot: u64) {
        self(slot)
    }
}

/// Whether a put ([`SwapMap::free`], [`SwapMap::swapcache_clear`], ...)
/// freed the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Freed {
    /// The last reference and the cache flag are gone: the slot is free and
    /// the free-notify hook has run.
    Yes,
    /// The slot is still in use (other references or the cache flag remain).
    No,
}

/// How a [`SwapMap::sync_wait`] call waited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncWait {
    /// Iterations of the bounded spin.
    pub spins: u32,
    /// Yields to the scheduler after the spin budget ran out.
    pub yields: u64,
}

/// A snapshot of the map's accounting, from [`SwapMap::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapMapStats {
    /// Slots in the map, header and bad slots included (`si->max`).
    pub nr_slots: u64,
    /// Slots per cluster.
    pub cluster_size: u32,
    /// Slots in use: a reference or the cache flag (`si->inuse_pages`).
    pub inuse_slots: u64,
    /// Free slots that can be allocated.
    pub free_slots: u64,
    /// Bad slots, slot 0 included.
    pub bad_slots: u64,
    /// In-use slots with `SWAP_HAS_CACHE` set (SYNC slots included).
    pub cached_slots: u64,
    /// Slots in the SYNC state.
    pub sync_slots: u64,
    /// Slots whose count continues past `SWAP_MAP_MAX`.
    pub continued_slots: u64,
    /// Clusters on the free list.
    pub free_clusters: u32,
    /// Clusters on the nonfull lists (all orders).
    pub nonfull_clusters: u32,
    /// Clusters on the frag lists (all orders): partly used clusters in
    /// which an allocation of their order found no aligned free run.
    pub frag_clusters: u32,
    /// Clusters on the full list.
    pub full_clusters: u32,
    /// Clusters off the lists, held as some CPU's current cluster.
    pub percpu_clusters: u32,
    /// Slots handed out by allocations since the map was built.
    pub allocs: u64,
    /// Slots freed since the map was built (free-notify calls).
    pub frees: u64,
    /// Order-0 allocations that found the map full.
    pub alloc_failures: u64,
    /// Successful allocations per folio order ([`SwapMap::alloc_order`]).
    pub order_allocs: [u64; SWAP_NR_ORDERS],
    /// Allocations per order above 0 that found no aligned run, so that
    /// the folio is split and swapped out page by page (the kernel's
    /// `THP_SWPOUT_FALLBACK` and per-order `swpout_fallback` counters).
    pub order_fallbacks: [u64; SWAP_NR_ORDERS],
}

/// Per-cluster state under the cluster lock (`swap_cluster_info`).
pub(crate) struct ClusterInfo {
    /// Non-free slots: in use, bad, and padding past the end of the map.
    used: u32,
    /// Bad slots (padding excluded).
    bad: u32,
    /// Padding slots past the end of the map (only in the last cluster).
    padding: u32,
    /// Where the next scan starts (the per-CPU `next` offset).
    next: u32,
    /// The list the cluster is on (`ci->flags`). Changed only with both the
    /// cluster lock and the lists lock held, so either lock makes it stable.
    list: ListId,
    /// The folio order the cluster serves (`ci->order`), set by the first
    /// allocation in it while it is empty.
    order: u8,
    /// Continuation digits, allocated on first use, like the kernel's
    /// continuation pages.
    cont: Option<Box<[u32]>>,
    allocs: u64,
    frees: u64,
    /// Allocations per order made in this cluster (counted under its lock,
    /// so that the hot path shares no counter between CPUs).
    order_allocs: [u64; SWAP_NR_ORDERS],
}

impl ClusterInfo {
    pub(crate) fn cont(&self, off: usize) -> u32 {
        self.cont.as_ref().map_or(0, |c| c[off])
    }

    pub(crate) fn set_cont(&mut self, off: usize, v: u32, size: u32) {
        if v == 0 && self.cont.is_none() {
            return;
        }
        self.cont
            .get_or_insert_with(|| vec![0; size as usize].into_boxed_slice())[off] = v;
    }
}

/// Builder for a [`SwapMap`] (the parameters of `swapon`).
pub struct SwapMapBuilder {
    nr_slots: u64,
    cluster_size: u32,
    percpu: usize,
    cont_limit: u32,
    notify: Option<Box<dyn FreeNotify>>,
    swap_table: bool,
}

impl fmt::Debug for SwapMapBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwapMapBuilder")
            .field("nr_slots", &self.nr_slots)
            .field("cluster_size", &self.cluster_size)
            .field("percpu", &self.percpu)
            .field("cont_limit", &self.cont_limit)
            .field("free_notify", &self.notify.is_some())
            .field("swap_table", &self.swap_table)
            .finish()
    }
}

impl SwapMapBuilder {
    /// Slots per cluster: a power of two in `2..=65536`; default
    /// [`SWAPFILE_CLUSTER`]. Tests and loom use 2-4.
    pub fn cluster_size(mut self, n: u32) -> Self {
        self.cluster_size = n;
        self
    }

    /// Number of per-CPU current-cluster slots (`percpu_swap_cluster`);
    /// threads are spread over them round-robin. Default 64.
    pub fn percpu_clusters(mut self, n: usize) -> Self {
        self.percpu = n;
        self
    }

    /// The largest continuation digit a slot may reach; a duplicate beyond
    /// it fails with [`SwapError::CountOverflow`], as the kernel does when a
    /// continuation page cannot be allocated. Default `u32::MAX` (counts up to
    /// about 2.7e11).
    pub fn continuation_limit(mut self, n: u32) -> Self {
        self.cont_limit = n;
        self
    }

    /// The hook called exactly once each time a slot becomes free.
    pub fn free_notify(mut self, hook: impl FreeNotify + 'static) -> Self {
        self.notify = Some(Box::new(hook));
        self
    }

    /// Gives the map a swap table: one word per slot that holds the slot's
    /// swap-cache value (a folio), read lock-free and written by the holder
    /// of the slot's `SWAP_HAS_CACHE` pin. See [`SwapMap::table_get`].
    /// Default off (a map used without a swap cache does not pay for it).
    pub fn swap_table(mut self, on: bool) -> Self {
        self.swap_table = on;
        self
    }

    /// Builds the map: every slot free except slot 0 (the swap header),
    /// which is bad, as `setup_swap_map` does.
    pub fn build(self) -> Result<SwapMap, ConfigError> {
        let cs = self.cluster_size;
        if !(2..=65536).contains(&cs) || !cs.is_power_of_two() {
            return Err(ConfigError::ClusterSize(cs));
        }
        if self.nr_slots < 2 {
            return Err(ConfigError::TooFewSlots(self.nr_slots));
        }
        if self.nr_slots > MAX_SLOTS {
            return Err(ConfigError::TooManySlots(self.nr_slots));
        }
        if self.percpu == 0 {
            return Err(ConfigError::NoPercpu);
        }
        let nr_clusters = self.nr_slots.div_ceil(u64::from(cs));
        let padded = nr_clusters * u64::from(cs);
        // Slot 0 and the padding past the end are SWAP_MAP_BAD in the byte
        // array, so that no scan ever hands them out.
        let slots: Box<[AtomicU8]> = (0..padded)
            .map(|s| {
                AtomicU8::new(if s == 0 || s >= self.nr_slots {
                    SWAP_MAP_BAD
                } else {
                    SWAP_FREE
                })
            })
            .collect();
        let last = nr_clusters - 1;
        let padding = (padded - self.nr_slots) as u32;
        let info = |c: u64| {
            let pad = if c == last { padding } else { 0 };
            let bad = u32::from(c == 0);
            ClusterInfo {
                used: pad + bad,
                bad,
                padding: pad,
                next: 0,
                list: ListId::classify(pad + bad, cs, 0),
                order: 0,
                cont: None,
                allocs: 0,
                frees: 0,
                order_allocs: [0; SWAP_NR_ORDERS],
            }
        };
        let clusters: Box<[CachePadded<Mutex<ClusterInfo>>]> = (0..nr_clusters)
            .map(|c| CachePadded::new(Mutex::new(info(c))))
            .collect();
        let lists = ClusterLists::new(nr_clusters as u32, |c| info(u64::from(c)).list);
        let table = self
            .swap_table
            .then(|| (0..padded).map(|_| AtomicU64::new(0)).collect());
        Ok(SwapMap {
            slots,
            table,
            clusters,
            lists: Mutex::new(lists),
            percpu: (0..self.percpu)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU32::new(NO_CLUSTER))))
                .collect(),
            order_fallbacks: std::array::from_fn(|_| AtomicU64::new(0)),
            nr_slots: self.nr_slots,
            cluster_shift: cs.trailing_zeros(),
            cont_limit: self.cont_limit,
            notify: self.notify,
            alloc_failures: AtomicU64::new(0),
        })
    }
}

/// The swap map of one swap device: one state byte per slot, grouped in
/// locked clusters. See the [crate documentation](crate) for the state
/// machine and the locking.
pub struct SwapMap {
    slots: Box<[AtomicU8]>,
    /// The swap table (see `table.rs`), if the map was built with one.
    pub(crate) table: Option<Box<[AtomicU64]>>,
    clusters: Box<[CachePadded<Mutex<ClusterInfo>>]>,
    /// `si->lock` for the list heads. Lock order: cluster, then lists.
    lists: Mutex<ClusterLists>,
    /// Per CPU, the current cluster of each order
    /// (`percpu_cluster->next[order]`).
    percpu: Box<[CachePadded<[AtomicU32; SWAP_NR_ORDERS]>]>,
    order_fallbacks: [AtomicU64; SWAP_NR_ORDERS],
    nr_slots: u64,
    cluster_shift: u32,
    cont_limit: u32,
    notify: Option<Box<dyn FreeNotify>>,
    alloc_failures: AtomicU64,
}

impl fmt::Debug for SwapMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwapMap")
            .field("nr_slots", &self.nr_slots)
            .field("cluster_size", &self.cluster_size())
            .finish_non_exhaustive()
    }
}

impl SwapMap {
    /// A map of `nr_slots` slots with the default configuration.
    ///
    /// # Example
    ///
    /// (The quick start of the crate's README.md: keep the two the same.)
    ///
    /// ```
    /// use swapmap::{Freed, SwapError, SwapMap};
    ///
    /// let map = SwapMap::new(1024).unwrap(); // 4 MiB of swap; slot 0 is the swap header
    /// let slot = map.alloc().unwrap(); // folio_alloc_swap: SWAP_HAS_CACHE already set
    /// map.duplicate(slot).unwrap(); // a PTE holds the swap entry: count 1
    /// assert_eq!(map.swapcache_clear(slot), Ok(Freed::No)); // page-out done, pin dropped
    /// map.swapcache_prepare(slot).unwrap(); // a swap-in pins the slot (one CAS, no lock)
    /// assert!(matches!(map.swapcache_prepare(slot), Err(SwapError::Exists { .. }))); // racer
    /// assert_eq!(map.free(slot), Ok(Freed::No)); // swap_free: count 0, still pinned
    /// assert_eq!(map.swapcache_clear(slot), Ok(Freed::Yes)); // pin dropped: the slot is free
    /// assert_eq!(map.count(slot), Ok(0));
    /// ```
    pub fn new(nr_slots: u64) -> Result<SwapMap, ConfigError> {
        SwapMap::builder(nr_slots).build()
    }

    /// A builder for a map of `nr_slots` slots.
    pub fn builder(nr_slots: u64) -> SwapMapBuilder {
        SwapMapBuilder {
            nr_slots,
            cluster_size: SWAPFILE_CLUSTER,
            percpu: 64,
            cont_limit: u32::MAX,
            notify: None,
            swap_table: false,
        }
    }

    /// Slots in the map, slot 0 included.
    pub fn nr_slots(&self) -> u64 {
        self.nr_slots
    }

    /// Slots per cluster.
    pub fn cluster_size(&self) -> u32 {
        1 << self.cluster_shift
    }

    #[inline]
    pub(crate) fn cluster_shift(&self) -> u32 {
        self.cluster_shift
    }

    #[inline]
    pub(crate) fn check(&self, slot: u64) -> Result<(), SwapError> {
        if slot < self.nr_slots {
            Ok(())
        } else {
            Err(SwapError::OutOfRange {
                slot,
                nr_slots: self.nr_slots,
            })
        }
    }

    #[inline]
    pub(crate) fn byte(&self, slot: u64) -> &AtomicU8 {
        &self.slots[slot as usize]
    }

    #[inline]
    pub(crate) fn offset(&self, slot: u64) -> usize {
        (slot & ((1 << self.cluster_shift) - 1)) as usize
    }

    #[inline]
    pub(crate) fn lock_cluster_of(&self, slot: u64) -> MutexGuard<'_, ClusterInfo> {
        lock(&self.clusters[(slot >> self.cluster_shift) as usize])
    }

    /// Allocates a free slot for a folio being swapped out, handing it out
    /// with `SWAP_HAS_CACHE` set and a count of 0, so that swap-in readahead
    /// cannot race the folio's `add_to_swap_cache` (seed 002). Returns `None`
    /// only when no slot is free. [`SwapMap::alloc_order`] with order 0.
    ///
    /// Models `folio_alloc_swap` → `cluster_alloc_swap_entry` for an
    /// order-0 folio: the calling CPU's current cluster
    /// (`percpu_swap_cluster`) first; then a cluster isolated from the
    /// order-0 nonfull list, then from the free list (the order for devices
    /// without discard, such as zram); then the order-0 frag list; then,
    /// stealing, the frag and nonfull clusters of the other orders; then the
    /// other CPUs' current clusters.
    ///
    /// Context: takes one cluster lock at a time; takes the lists lock
    /// (`si->lock`) when it needs a new cluster or a cluster changes list.
    pub fn alloc(&self) -> Option<u64> {
        self.alloc_order(0).ok().flatten()
    }

    /// The largest folio order the map allocates and batches: 9 (the PMD
    /// order, `SWAP_NR_ORDERS - 1`), or less when a cluster is smaller than
    /// 512 slots (a folio's range never crosses a cluster).
    pub fn max_order(&self) -> u32 {
        self.cluster_shift.min(SWAP_NR_ORDERS as u32 - 1)
    }

    /// Allocates `nr = 2^order` contiguous, `nr`-aligned free slots inside
    /// one cluster for a folio of that order, each handed out with
    /// `SWAP_HAS_CACHE` set and a count of 0, and returns the first.
    /// `Ok(None)` when no such run is found: for order 0 that means the map
    /// is full (counted in [`SwapMapStats::alloc_failures`]); for a larger
    /// order the caller splits the folio and swaps out its pages one by
    /// one, which the kernel counts as `THP_SWPOUT_FALLBACK` (counted here
    /// in [`SwapMapStats::order_fallbacks`]).
    ///
    /// Models `folio_alloc_swap` → `cluster_alloc_swap_entry(si, order)`
    /// (Chris Li / Kairui Song, 6.11-6.12): the calling CPU's current
    /// cluster for this order (`percpu_cluster->next[order]`); then a
    /// cluster isolated from `nonfull_clusters[order]`, then from the free
    /// list (whose clusters take on the order of their first allocation);
    /// then `frag_clusters[order]`. A cluster of this order in which no
    /// aligned run is free goes to `frag_clusters[order]`
    /// (`CLUSTER_FLAG_FRAG`). A large order never steals another order's
    /// clusters; order 0 does (see [`SwapMap::alloc`]).
    ///
    /// Differs on purpose: one swap device, so there is no per-device
    /// rotation; a fully free cluster is always on the free list (the
    /// kernel's discard list is not modelled), so a large allocation fails
    /// only when no cluster is entirely free and every partly used cluster
    /// of its order lacks an aligned free run.
    ///
    /// Errors: [`SwapError::OrderTooLarge`] above [`SwapMap::max_order`].
    ///
    /// Context: as [`SwapMap::alloc`].
    pub fn alloc_order(&self, order: u32) -> Result<Option<u64>, SwapError> {
        if order > self.max_order() {
            return Err(SwapError::OrderTooLarge {
                order,
                max: self.max_order(),
            });
        }
        let o = order as u8;
        let pcp = &self.percpu[crate::sync::this_cpu() % self.percpu.len()][order as usize];
        // Relaxed: the current cluster is a hint, re-validated under the
        // cluster lock.
        let hint = pcp.load(Ordering::Relaxed);
        if hint != NO_CLUSTER {
            let mut c = lock(&self.clusters[hint as usize]);
            if let Some(slot) = self.alloc_in(hint, &mut c, pcp, o) {
                return Ok(Some(slot));
            }
        }
        // Clusters that become this CPU's current cluster for the order.
        while let Some((ci, mut c)) = self.isolate_cluster(pcp, o) {
            if let Some(slot) = self.alloc_in(ci, &mut c, pcp, o) {
                return Ok(Some(slot));
            }
            // No aligned run in a cluster of this order: alloc_in moved it
            // to the frag list, so the loop moves on.
        }
        // The frag list of the order, each cluster tried once and rotated.
        if let Some(slot) = self.alloc_from_list(ListId::Frag(o), o) {
            return Ok(Some(slot));
        }
        if o != 0 {
            self.order_fallbacks[order as usize].fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        // Order 0 steals from the other orders' clusters: any partly used
        // cluster has a free slot.
        for so in 1..SWAP_NR_ORDERS as u8 {
            for from in [ListId::Frag(so), ListId::Nonfull(so)] {
                if let Some(slot) = self.alloc_from_list(from, 0) {
                    return Ok(Some(slot));
                }
            }
        }
        Ok(self.alloc_from_other_cpus())
    }

    /// Whether cluster `c` may serve an allocation of `order`
    /// (`cluster_is_usable`): it is empty, or already serves that order.
    #[inline]
    fn usable(c: &ClusterInfo, order: u8) -> bool {
        c.used == 0 || c.order == order
    }

    /// Scans cluster `ci` (locked) for an aligned run of `order`; keeps it
    /// as `pcp`'s current cluster while it has room. A cluster of the order
    /// without a free run goes to the order's frag list.
    fn alloc_in(&self, ci: u32, c: &mut ClusterInfo, pcp: &AtomicU32, order: u8) -> Option<u64> {
        let slot = Self::usable(c, order)
            .then(|| self.scan_cluster(ci, c, order))
            .flatten();
        if slot.is_none() || c.used == self.cluster_size() {
            // Full (set_used moved it to the full list), fragmented for this
            // order, or serving another order now: forget it.
            let _ = pcp.compare_exchange(ci, NO_CLUSTER, Ordering::Relaxed, Ordering::Relaxed);
            if slot.is_none() && c.order == order && c.used != 0 && c.used != self.cluster_size() {
                self.relist(ci, c, ListId::Frag(order));
            }
        } else if c.list != ListId::Isolated && pcp.load(Ordering::Relaxed) == ci {
            // Our current cluster went back on a list while we were away
            // (frees emptied it, or another CPU's frees moved it): take it
            // off again.
            self.relist(ci, c, ListId::Isolated);
        }
        slot
    }

    /// `isolate_lock_cluster`: takes the first cluster of the order's
    /// nonfull list, else of the free list, off its list and makes it
    /// `pcp`'s current cluster. Returns it locked, or `None` when both lists
    /// are empty.
    fn isolate_cluster(
        &self,
        pcp: &AtomicU32,
        order: u8,
    ) -> Option<(u32, MutexGuard<'_, ClusterInfo>)> {
        loop {
            let (ci, from) = {
                let l = lock(&self.lists);
                let pick = |id| l.head(id).map(|c| (c, id));
                pick(ListId::Nonfull(order)).or_else(|| pick(ListId::Free))?
            };
            // Lock order is cluster, then lists: drop the lists lock, take
            // the cluster's, and re-check that it is still where we saw it.
            let mut c = lock(&self.clusters[ci as usize]);
            let mut l = lock(&self.lists);
            if c.list != from || l.on(ci) != from {
                continue; // Moved meanwhile: every retry follows a change.
            }
            // Install the hint under the lists lock, so that an allocator
            // that finds the lists empty (under that lock) also finds this
            // cluster in `alloc_from_other_cpus`.
            if pcp
                .compare_exchange(NO_CLUSTER, ci, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
                || pcp.load(Ordering::Relaxed) == ci
            {
                l.move_to(ci, ListId::Isolated);
                c.list = ListId::Isolated;
            }
            // Otherwise another thread on this CPU slot installed a cluster
            // first: allocate from this one without isolating it.
            return Some((ci, c));
        }
    }

    /// Tries the clusters of list `from` once each, in list order, for a
    /// run of `order`, without making them a current cluster; a cluster
    /// that fails is moved to the tail (`list_move_tail`; a cluster of the
    /// order goes to its frag list). Returns the run found.
    fn alloc_from_list(&self, from: ListId, order: u8) -> Option<u64> {
        let tries = lock(&self.lists).len(from);
        for _ in 0..tries {
            let ci = lock(&self.lists).head(from)?;
            let mut c = lock(&self.clusters[ci as usize]);
            if c.list != from {
                continue; // Moved meanwhile.
            }
            if let Some(slot) = self.scan_cluster(ci, &mut c, order) {
                return Some(slot);
            }
            let to = if c.order == order {
                ListId::Frag(order)
            } else {
                from
            };
            self.relist(ci, &mut c, to);
        }
        None
    }

    /// No list has room: try the clusters other CPUs hold (the kernel's
    /// fallback to other CPUs' clusters when the device is nearly full).
    /// Order 0 only.
    fn alloc_from_other_cpus(&self) -> Option<u64> {
        let hints: Vec<u32> = {
            let l = lock(&self.lists);
            let listed = l.len(ListId::Free)
                + (0..SWAP_NR_ORDERS as u8)
                    .map(|o| l.len(ListId::Nonfull(o)) + l.len(ListId::Frag(o)))
                    .sum::<u32>();
            if listed > 0 {
                drop(l);
                return self.alloc(); // A cluster came back meanwhile.
            }
            // Relaxed: installs happen under the lists lock we hold.
            let orders = self.max_order() as usize + 1;
            self.percpu
                .iter()
                .flat_map(|p| p[..orders].iter())
                .map(|h| h.load(Ordering::Relaxed))
                .filter(|&h| h != NO_CLUSTER)
                .collect()
        };
        for ci in hints {
            let mut c = lock(&self.clusters[ci as usize]);
            if let Some(slot) = self.scan_cluster(ci, &mut c, 0) {
                return Some(slot);
            }
        }
        self.alloc_failures.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// `alloc_swap_scan_cluster`: finds `2^order` free slots aligned to
    /// their number in cluster `ci`, from its `next` offset on, and marks
    /// them `SWAP_HAS_CACHE` (`cluster_alloc_range`). An empty cluster takes
    /// on the order (`ci->order`).
    fn scan_cluster(&self, ci: u32, c: &mut ClusterInfo, order: u8) -> Option<u64> {
        let size = self.cluster_size();
        let nr = 1u32 << order;
        if size - c.used < nr {
            return None;
        }
        let base = u64::from(ci) << self.cluster_shift;
        let start = c.next & !(nr - 1);
        for i in (0..size).step_by(nr as usize) {
            let off = (start + i) & (size - 1);
            let run = base + u64::from(off)..base + u64::from(off + nr);
            // Relaxed: a free byte only changes under this cluster's lock,
            // which we hold (lock-free paths refuse free slots).
            if !run
                .clone()
                .all(|s| self.byte(s).load(Ordering::Relaxed) == SWAP_FREE)
            {
                continue;
            }
            for s in run {
                // Release: pairs with the Acquire loads of lock-free readers
                // (swapcache_prepare, has_cache) so they see an in-use slot
                // only after the cluster accounting that precedes it.
                self.byte(s).store(SWAP_HAS_CACHE, Ordering::Release);
            }
            if c.used == 0 {
                c.order = order;
            }
            c.next = (off + nr) & (size - 1);
            c.allocs += u64::from(nr);
            c.order_allocs[order as usize] += 1;
            self.set_used(ci, c, c.used + nr);
            return Some(base + u64::from(off));
        }
        if order == 0 {
            return unreachable_used_mismatch(ci);
        }
        None
    }

    /// Moves cluster `ci` to list `to`. Context: cluster lock held.
    fn relist(&self, ci: u32, c: &mut ClusterInfo, to: ListId) {
        lock(&self.lists).move_to(ci, to);
        c.list = to;
    }

    /// Updates a cluster's used count and, when its class changes, its list
    /// (`relocate_cluster`): an emptied cluster goes to the free list (where
    /// any order may take it), a filled one to the full list; a current
    /// (isolated) or fragmented cluster otherwise stays where it is.
    /// Context: cluster lock held; takes the lists lock on a change.
    fn set_used(&self, ci: u32, c: &mut ClusterInfo, used: u32) {
        let size = self.cluster_size();
        c.used = used;
        let to = match c.list {
            ListId::Isolated | ListId::Frag(_) if used != size && used != 0 => c.list,
            _ => ListId::classify(used, size, c.order),
        };
        if to != c.list {
            self.relist(ci, c, to);
        }
    }

    /// The slot byte has just gone to free: account and notify.
    /// Context: cluster lock held.
    pub(crate) fn slot_freed(&self, slot: u64, c: &mut ClusterInfo) {
        let ci = (slot >> self.cluster_shift) as u32;
        c.frees += 1;
        self.set_used(ci, c, c.used - 1);
        if let Some(hook) = &self.notify {
            hook.slot_freed(slot);
        }
    }

    /// Adds a reference to an in-use slot (a page-table entry copied by
    /// fork, a shmem mapping). Past `SWAP_MAP_MAX` the count continues in the
    /// slot's continuation digit.
    ///
    /// Models `swap_duplicate` → `__swap_duplicate(entry, 1)` and
    /// `swap_count_continued`.
    ///
    /// Errors: [`SwapError::NoEntry`] for a free slot, [`SwapError::Bad`],
    /// [`SwapError::Sync`] while a synchronous swap-in owns the slot,
    /// [`SwapError::CountOverflow`], [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock.
    pub fn duplicate(&self, slot: u64) -> Result<(), SwapError> {
        self.update_count(slot, |b, cont| self.duplicate_step(slot, b, cont))
            .map(drop)
    }

    /// Raises the count of a singly referenced, unpinned slot from 1 to 2,
    /// so that racing swap-ins see a shared slot and take the swap-cache
    /// path: the `swap-count` proposal of the SWP_SYNCHRONOUS_IO race thread
    /// ("lock the cluster; check the count is still 1, bail out if not; set
    /// it to 2"). Never merged upstream.
    ///
    /// Differs from the proposal as written: the slot must also be free of
    /// `SWAP_HAS_CACHE`, checked in the same step. A swap-in that read the
    /// PTE before the slot was freed and reused can otherwise pin the *new*
    /// incarnation while its page-out is still writing it (the folio is in
    /// the swap cache, the flag is set) and read stale data from the device;
    /// `pte_same` then passes (the ABA of seed 004). The `fault_path` loom
    /// model finds this lost update.
    ///
    /// Errors: [`SwapError::NotSingle`] when the count is not exactly 1,
    /// [`SwapError::Exists`] when the cache flag is set, and the errors of
    /// [`SwapMap::duplicate`].
    ///
    /// Context: takes the slot's cluster lock.
    pub fn duplicate_if_single(&self, slot: u64) -> Result<(), SwapError> {
        self.check(slot)?;
        let _c = self.lock_cluster_of(slot);
        self.update_locked(slot, |b| match b {
            SWAP_FREE => Err(SwapError::NoEntry { slot }),
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => Err(SwapError::Sync { slot }),
            1 => Ok((2, 0)),
            _ if b & !SWAP_HAS_CACHE == 1 => Err(SwapError::Exists { slot }),
            _ => Err(SwapError::NotSingle { slot }),
        })
        .map(|_| ())
    }

    /// Sets `SWAP_HAS_CACHE` on an in-use slot: the pin taken before a folio
    /// is added to the swap cache, and by the SWP_SYNCHRONOUS_IO swap-in
    /// since 13ddaf26be32. Lock-free: one compare-and-swap on the slot byte.
    ///
    /// Models `swapcache_prepare` → `__swap_duplicate(entry,
    /// SWAP_HAS_CACHE)`.
    ///
    /// Errors: [`SwapError::Exists`] when the flag is already set (including
    /// the SYNC state, which carries the pin), [`SwapError::NoEntry`] for a
    /// free slot, [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn swapcache_prepare(&self, slot: u64) -> Result<(), SwapError> {
        self.check(slot)?;
        self.try_pin(slot)
    }

    /// The compare-and-swap of [`SwapMap::swapcache_prepare`] on a checked
    /// slot.
    #[inline]
    pub(crate) fn try_pin(&self, slot: u64) -> Result<(), SwapError> {
        let a = self.byte(slot);
        // Relaxed: only the starting guess for the CAS.
        let mut cur = a.load(Ordering::Relaxed);
        loop {
            let new = crate::range::pin_step(slot, cur)?;
            // AcqRel: Acquire pairs with the Release of the put that dropped
            // the previous pin (swapcache_clear, sync_release), so the new
            // pin holder sees everything the previous one did; Release
            // orders this pin before what the holder does next for the
            // locked paths' CAS loops that read it.
            match a.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => cur = now,
            }
        }
    }

    /// Drops a pin just taken by [`SwapMap::try_pin`] on a slot that keeps
    /// its count (the caller holds the cluster lock, so a pin on a
    /// cache-only slot cannot have been taken: it would need a count).
    pub(crate) fn unpin_unlocked(&self, slot: u64) {
        let done = self.clear_flag_unlocked(slot, |b| {
            (b != SWAP_MAP_SYNC && b & SWAP_HAS_CACHE != 0).then_some(b & !SWAP_HAS_CACHE)
        });
        debug_assert!(done, "slot {slot}: pin vanished under the cluster lock");
    }

    /// Pins a slot whose count is exactly 1 (and has no cache flag) with
    /// `SWAP_HAS_CACHE`, in one compare-and-swap: the `SWP_SYNCHRONOUS_IO`
    /// swap-in's bypass condition and its pin taken together.
    ///
    /// Models `__swap_count(entry) == 1` followed by `swapcache_prepare` in
    /// `do_swap_page` (13ddaf26be32). Differs on purpose: the kernel reads
    /// the count, then sets the flag; one atomic step makes the pin the
    /// first write to the slot's line and leaves no window between the two
    /// (a window the kernel tolerates: a count that grows in between only
    /// sends the swap-in down the bypass path with a shared entry, which its
    /// `pte_same` check catches).
    ///
    /// Errors: [`SwapError::Exists`] when the cache flag is set (the SYNC
    /// state included), [`SwapError::NotSingle`] when the count is not 1,
    /// [`SwapError::NoEntry`], [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn swapcache_prepare_single(&self, slot: u64) -> Result<(), SwapError> {
        self.take_single(slot, 1 | SWAP_HAS_CACHE)
    }

    /// Moves a slot from count 1 (no flag, no continuation: the byte `1`,
    /// the only one accepted) to `to` in one compare-and-swap: the pinned
    /// bypass's pin or the SYNC state. A slot already SYNC is refused with
    /// [`SwapError::Sync`] when `to` is SYNC, else as any pinned slot, with
    /// [`SwapError::Exists`].
    #[inline]
    fn take_single(&self, slot: u64, to: u8) -> Result<(), SwapError> {
        self.check(slot)?;
        // AcqRel on success: Acquire pairs with the Release of the previous
        // pin's or owner's release (swapcache_clear, sync_release); Release
        // publishes the new state to the locked paths and to waiters.
        match self
            .byte(slot)
            .compare_exchange(1, to, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            // `b` is not 1 (a strong CAS), so the step reports why.
            Err(b) => crate::range::single_step(slot, b, to).map(drop),
        }
    }

    /// Clears `SWAP_HAS_CACHE`: the folio left the swap cache, or a
    /// swap-in drops its pin. Frees the slot when no reference remains.
    ///
    /// Models `swapcache_clear` / `put_swap_folio` →
    /// `__swap_entry_free_locked(si, offset, SWAP_HAS_CACHE)`.
    ///
    /// Differs on purpose: the kernel always takes `ci->lock`. Here, when
    /// the slot keeps a reference the clear cannot free it, so it is a pure
    /// flag transition done with one compare-and-swap, like
    /// `swapcache_prepare`; only a clear that may free the slot takes the
    /// lock. The locked paths' CAS loops make the two safe together.
    ///
    /// Errors: [`SwapError::NotCached`] when the flag is not set,
    /// [`SwapError::Sync`] for a SYNC slot (use [`SwapMap::sync_release`]),
    /// [`SwapError::NoEntry`], [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: lock-free when the slot keeps a reference; otherwise takes
    /// the slot's cluster lock and may run the free-notify hook.
    pub fn swapcache_clear(&self, slot: u64) -> Result<Freed, SwapError> {
        self.check(slot)?;
        if self.clear_flag_unlocked(slot, |b| {
            (b != SWAP_MAP_SYNC && b & SWAP_HAS_CACHE != 0 && slot::has_count(b))
                .then_some(b & !SWAP_HAS_CACHE)
        }) {
            return Ok(Freed::No);
        }
        let mut c = self.lock_cluster_of(slot);
        let (nb, _) = self.update_locked(slot, |b| clear_step(slot, b, 0))?;
        Ok(self.finish_put(slot, nb, &mut c))
    }

    /// The byte transition of [`SwapMap::duplicate`]: one more reference.
    pub(crate) fn duplicate_step(
        &self,
        slot: u64,
        b: u8,
        cont: u32,
    ) -> Result<(u8, u32), SwapError> {
        match b {
            SWAP_FREE => Err(SwapError::NoEntry { slot }),
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => Err(SwapError::Sync { slot }),
            _ => slot::inc(b, cont, self.cont_limit).ok_or(SwapError::CountOverflow { slot }),
        }
    }

    /// Drops one reference. Frees the slot when no reference and no cache
    /// flag remain. Dropping the reference of a SYNC slot (a zap during the
    /// synchronous swap-in) leaves the owner's pin: the slot becomes
    /// cache-only and the owner's [`SwapMap::sync_release`] frees it.
    ///
    /// Models `swap_free` → `__swap_entry_free` →
    /// `__swap_entry_free_locked(si, offset, 1)` (with
    /// `swap_count_continued` borrowing from the continuation).
    ///
    /// Errors: [`SwapError::NoEntry`] for a free slot (double free),
    /// [`SwapError::NoCount`] for a cache-only slot, [`SwapError::Bad`],
    /// [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock; may run the free-notify hook.
    pub fn free(&self, slot: u64) -> Result<Freed, SwapError> {
        let (nb, mut c) = self.update_count(slot, |b, cont| free_step(slot, b, cont))?;
        Ok(self.finish_put(slot, nb, &mut c))
    }

    /// A count change under the slot's cluster lock: `f` maps the slot byte
    /// and its continuation digit to their new values (applied with
    /// `update_locked`'s CAS loop); a changed digit is written back, and the
    /// guard is returned so that a put can finish under the same lock.
    fn update_count(
        &self,
        slot: u64,
        f: impl FnMut(u8, u32) -> Result<(u8, u32), SwapError>,
    ) -> Result<(u8, MutexGuard<'_, ClusterInfo>), SwapError> {
        self.update_count_checked(slot, || Ok(()), f)
    }

    /// [`SwapMap::update_count`] with `pre` run first under the lock: an
    /// error from it leaves everything unchanged.
    pub(crate) fn update_count_checked(
        &self,
        slot: u64,
        pre: impl FnOnce() -> Result<(), SwapError>,
        mut f: impl FnMut(u8, u32) -> Result<(u8, u32), SwapError>,
    ) -> Result<(u8, MutexGuard<'_, ClusterInfo>), SwapError> {
        self.check(slot)?;
        let off = self.offset(slot);
        let mut c = self.lock_cluster_of(slot);
        pre()?;
        let cont = c.cont(off);
        let (nb, nc) = self.update_locked(slot, |b| f(b, cont))?;
        if nc != cont {
            c.set_cont(off, nc, self.cluster_size());
        }
        Ok((nb, c))
    }

    /// A lock-free transition that never frees the slot: `f` gives the new
    /// byte, or `None` when the transition needs the locked path (it may
    /// free, or the state is an error the locked path reports). Returns
    /// whether the transition was made.
    #[inline]
    fn clear_flag_unlocked(&self, slot: u64, f: impl Fn(u8) -> Option<u8>) -> bool {
        let a = self.byte(slot);
        // Relaxed: the starting guess for the CAS.
        let mut cur = a.load(Ordering::Relaxed);
        while let Some(nb) = f(cur) {
            // AcqRel: Release hands the pin holder's work to the next
            // Acquire of swapcache_prepare / sync_acquire / sync_wait;
            // Acquire pairs with the Release of the RMW that set the flag.
            match a.compare_exchange_weak(cur, nb, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Drops one reference and the `SWAP_HAS_CACHE` pin in one
    /// cluster-locked step: the end of the pinned bypass swap-in
    /// (13ddaf26be32), which calls `swap_free` under the PTE lock and
    /// `swapcache_clear` after it.
    ///
    /// Also the end of an exclusive swap-in from the swap cache (`swap_free`
    /// under the PTE lock, then `folio_free_swap`'s `put_swap_folio` once the
    /// folio left the cache).
    ///
    /// Differs on purpose: one lock round-trip instead of two. The result is
    /// the same, because while the pin is held no one else can act on the
    /// count that the swap-in is about to drop: its PTE already maps the
    /// folio, and fork is excluded by the faulting task.
    ///
    /// Errors: [`SwapError::NotCached`] when the flag is not set,
    /// [`SwapError::NoCount`] when no reference is left, [`SwapError::Sync`],
    /// [`SwapError::NoEntry`], [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock; may run the free-notify hook.
    pub fn free_and_clear(&self, slot: u64) -> Result<Freed, SwapError> {
        let (nb, mut c) = self.update_count(slot, |b, cont| free_and_clear_step(slot, b, cont))?;
        Ok(self.finish_put(slot, nb, &mut c))
    }

    pub(crate) fn finish_put(&self, slot: u64, nb: u8, c: &mut ClusterInfo) -> Freed {
        if nb == SWAP_FREE {
            self.slot_freed(slot, c);
            Freed::Yes
        } else {
            Freed::No
        }
    }

    /// Takes a slot for a synchronous swap-in: moves a slot with count 1
    /// and no cache flag to `SWAP_MAP_SYNC` in one compare-and-swap. Racing
    /// swap-ins get [`SwapError::Sync`] and wait with [`SwapMap::sync_wait`]
    /// instead of faulting again.
    ///
    /// Models the `SWAP_MAP_SYNC` (also called `SWAP_MAP_LOCK`) slot state
    /// proposed by Kairui Song in the "fix race when skipping swapcache"
    /// thread. Never merged upstream.
    ///
    /// Errors: [`SwapError::Sync`] when another swap-in owns it,
    /// [`SwapError::Exists`] when the cache flag is set,
    /// [`SwapError::NotSingle`] when the count is not 1,
    /// [`SwapError::NoEntry`], [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn sync_acquire(&self, slot: u64) -> Result<(), SwapError> {
        self.take_single(slot, SWAP_MAP_SYNC)
    }

    /// Ends a synchronous swap-in that keeps its reference (the folio was
    /// not installed): SYNC goes back to count 1 and waiters are released.
    /// If the reference was dropped meanwhile (a zap freed it), the slot is
    /// cache-only and this drops the pin, freeing the slot.
    ///
    /// Models the release half of the `SWAP_MAP_SYNC` proposal; the second
    /// case is `swapcache_clear` after a concurrent `free_swap_and_cache`.
    ///
    /// Errors: [`SwapError::NotSync`] when the slot is neither SYNC nor
    /// pinned, [`SwapError::NoEntry`], [`SwapError::Bad`],
    /// [`SwapError::OutOfRange`].
    ///
    /// Context: lock-free for SYNC → count 1; takes the slot's cluster lock
    /// when the release frees the slot, and then runs the free-notify hook.
    pub fn sync_release(&self, slot: u64) -> Result<Freed, SwapError> {
        self.check(slot)?;
        // SYNC → count 1 never frees: one CAS, no lock.
        if self.clear_flag_unlocked(slot, |b| (b == SWAP_MAP_SYNC).then_some(1)) {
            return Ok(Freed::No);
        }
        let mut c = self.lock_cluster_of(slot);
        let (nb, _) = self.update_locked(slot, |b| match b {
            SWAP_FREE => Err(SwapError::NoEntry { slot }),
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => Ok((1, 0)),
            _ if b & SWAP_HAS_CACHE != 0 => Ok((b & !SWAP_HAS_CACHE, 0)),
            _ => Err(SwapError::NotSync { slot }),
        })?;
        Ok(self.finish_put(slot, nb, &mut c))
    }

    /// Ends a synchronous swap-in that installed its folio and so drops the
    /// slot's last reference as well: SYNC goes straight to free, the hook
    /// runs, and waiters are released (they find the PTE changed).
    ///
    /// Models the success path of `do_swap_page` under the `SWAP_MAP_SYNC`
    /// proposal: `swap_free` and the release of the SYNC state in one
    /// cluster-locked step.
    ///
    /// Errors: [`SwapError::NotSync`] unless the slot is exactly SYNC (a
    /// zapped SYNC slot has no reference to drop: use
    /// [`SwapMap::sync_release`]), [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock; runs the free-notify hook.
    pub fn sync_release_free(&self, slot: u64) -> Result<(), SwapError> {
        self.check(slot)?;
        let mut c = self.lock_cluster_of(slot);
        self.update_locked(slot, |b| match b {
            SWAP_MAP_SYNC => Ok((SWAP_FREE, 0)),
            _ => Err(SwapError::NotSync { slot }),
        })?;
        self.slot_freed(slot, &mut c);
        Ok(())
    }

    /// Waits until the slot leaves the SYNC state: a bounded spin of
    /// [`SYNC_SPIN_LIMIT`] iterations, then yields to the scheduler, so a
    /// waiter never burns a CPU while the owner is descheduled. Returns at
    /// once when the slot is not SYNC.
    ///
    /// Models the racer's wait of the `SWAP_MAP_SYNC` proposal ("any racer
    /// can just spin on it").
    ///
    /// Context: any; takes no lock. Must not be called by the owner.
    pub fn sync_wait(&self, slot: u64) -> Result<SyncWait, SwapError> {
        self.check(slot)?;
        let a = self.byte(slot);
        let mut w = SyncWait::default();
        // Acquire: pairs with the Release CAS in sync_release /
        // sync_release_free / free, so after the wait the waiter sees
        // everything the owner did before releasing (the installed PTE).
        while a.load(Ordering::Acquire) == SWAP_MAP_SYNC {
            if w.spins < SYNC_SPIN_LIMIT {
                w.spins += 1;
                crate::sync::spin_loop();
            } else {
                w.yields += 1;
                crate::sync::yield_now();
            }
        }
        Ok(w)
    }

    /// Marks a free slot bad, as `swapon` does for the bad pages listed in
    /// the swap header (`setup_swap_map`). A bad slot is never allocated and
    /// every operation on it fails with [`SwapError::Bad`].
    ///
    /// Errors: [`SwapError::InUse`], [`SwapError::Bad`] (already bad),
    /// [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock.
    pub fn mark_bad(&self, slot: u64) -> Result<(), SwapError> {
        self.check(slot)?;
        let ci = (slot >> self.cluster_shift) as u32;
        let mut c = self.lock_cluster_of(slot);
        let a = self.byte(slot);
        // Relaxed: a free byte only changes under the cluster lock we hold.
        match a.load(Ordering::Relaxed) {
            SWAP_FREE => {
                // Release: pairs with the Acquire loads of lock-free readers.
                a.store(SWAP_MAP_BAD, Ordering::Release);
                c.bad += 1;
                let used = c.used + 1;
                self.set_used(ci, &mut c, used);
                Ok(())
            }
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            _ => Err(SwapError::InUse { slot }),
        }
    }

    /// The slot's reference count (`__swap_count` / `swp_swapcount`,
    /// continuation included): 0 when free, 1 when SYNC.
    ///
    /// Errors: [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: lock-free unless the count is continued, then takes the
    /// cluster lock to read the continuation digit.
    #[inline]
    pub fn count(&self, slot: u64) -> Result<u64, SwapError> {
        self.check(slot)?;
        // Acquire: pairs with the Release RMWs of every transition. The fast
        // path covers every state but a continued count.
        match self.byte(slot).load(Ordering::Acquire) {
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => Ok(1),
            b if b & COUNT_CONTINUED == 0 => Ok(u64::from(b & slot::COUNT_MASK)),
            _ => match self.state(slot)? {
                SlotState::Bad => Err(SwapError::Bad { slot }),
                s => Ok(s.count()),
            },
        }
    }

    /// The slot's reference count read under the cluster lock
    /// (`swap_swapcount`). Unlike the lock-free [`SwapMap::count`], the read
    /// is ordered against every locked put of the slot: a caller that
    /// published something (a folio in the swap cache) before this read,
    /// and a putter that looks for it after its put, cannot both miss each
    /// other. `folio_free_swap` relies on this.
    ///
    /// Errors: [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock.
    pub fn count_locked(&self, slot: u64) -> Result<u64, SwapError> {
        self.check(slot)?;
        let c = self.lock_cluster_of(slot);
        // Relaxed: count changes happen under the lock we hold; the lock-free
        // flag transitions do not change the count.
        let b = self.byte(slot).load(Ordering::Relaxed);
        match slot::decode(b, || c.cont(self.offset(slot))) {
            SlotState::Bad => Err(SwapError::Bad { slot }),
            s => Ok(s.count()),
        }
    }

    /// Whether the slot keeps a reference, read with a read-modify-write of
    /// the slot byte (an atomic add of zero) rather than a load.
    ///
    /// Every count change is a read-modify-write of the same byte, so this
    /// read is ordered against each of them, as [`SwapMap::count_locked`]
    /// is through the lock, at the price of one atomic instead of a lock
    /// round trip: a caller that published something (a folio in the swap
    /// cache) before this read, and a putter that looks for it after its
    /// put, cannot both miss each other. `folio_free_swap`'s
    /// `swap_swapcount` check needs exactly this.
    ///
    /// Errors: [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn has_count_ordered(&self, slot: u64) -> Result<bool, SwapError> {
        self.check(slot)?;
        // AcqRel: the Release puts this read (and the caller's publication
        // before it) in the byte's release sequence, which the next count
        // change's Acquire reads from; the Acquire pairs with the Release of
        // the count change it reads.
        match self.byte(slot).fetch_add(0, Ordering::AcqRel) {
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            b => Ok(slot::has_count(b)),
        }
    }

    /// Whether `SWAP_HAS_CACHE` is set (SYNC included).
    ///
    /// Errors: [`SwapError::Bad`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn has_cache(&self, slot: u64) -> Result<bool, SwapError> {
        self.check(slot)?;
        // Acquire: pairs with the Release RMWs that set or clear the flag.
        match self.byte(slot).load(Ordering::Acquire) {
            SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
            b => Ok(b & SWAP_HAS_CACHE != 0),
        }
    }

    /// The decoded state of a slot.
    ///
    /// Context: lock-free unless the count is continued, then takes the
    /// cluster lock.
    pub fn state(&self, slot: u64) -> Result<SlotState, SwapError> {
        self.check(slot)?;
        // Acquire: pairs with the Release RMWs of every transition.
        let b = self.byte(slot).load(Ordering::Acquire);
        if b & COUNT_CONTINUED == 0 || b == SWAP_MAP_SYNC {
            return Ok(slot::decode(b, || 0));
        }
        let c = self.lock_cluster_of(slot);
        // Re-read under the lock: the digit and the byte change together.
        let b = self.byte(slot).load(Ordering::Acquire);
        Ok(slot::decode(b, || c.cont(self.offset(slot))))
    }

    /// Iterates over the in-use slots (neither free nor bad) in slot order,
    /// one cluster at a time: each cluster is read under its lock, so a
    /// slot's count is consistent, but the walk is not a snapshot of the
    /// whole map.
    ///
    /// Models the scans of `swap_map` done by `swapoff`'s `unuse_mm` /
    /// `find_next_to_unuse`.
    pub fn iter_used(&self) -> UsedSlots<'_> {
        UsedSlots {
            map: self,
            cluster: 0,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// A snapshot of the accounting, read cluster by cluster.
    ///
    /// Context: takes every cluster lock in turn, then the lists lock.
    pub fn stats(&self) -> SwapMapStats {
        let mut s = SwapMapStats {
            nr_slots: self.nr_slots,
            cluster_size: self.cluster_size(),
            alloc_failures: self.alloc_failures.load(Ordering::Relaxed),
            ..SwapMapStats::default()
        };
        let size = u64::from(self.cluster_size());
        for (ci, cl) in self.clusters.iter().enumerate() {
            let c = lock(cl);
            s.inuse_slots += u64::from(c.used - c.bad - c.padding);
            s.bad_slots += u64::from(c.bad);
            s.free_slots += size - u64::from(c.used);
            s.allocs += c.allocs;
            for (t, n) in s.order_allocs.iter_mut().zip(c.order_allocs) {
                *t += n;
            }
            s.frees += c.frees;
            let base = ci as u64 * size;
            for slot in base..(base + size).min(self.nr_slots) {
                let b = self.byte(slot).load(Ordering::Relaxed);
                if b == SWAP_FREE || b == SWAP_MAP_BAD {
                    continue;
                }
                s.cached_slots += u64::from(b & SWAP_HAS_CACHE != 0);
                s.sync_slots += u64::from(b == SWAP_MAP_SYNC);
                s.continued_slots += u64::from(b != SWAP_MAP_SYNC && b & COUNT_CONTINUED != 0);
            }
        }
        let l = lock(&self.lists);
        s.free_clusters = l.len(ListId::Free);
        for o in 0..SWAP_NR_ORDERS as u8 {
            s.nonfull_clusters += l.len(ListId::Nonfull(o));
            s.frag_clusters += l.len(ListId::Frag(o));
        }
        s.full_clusters = l.len(ListId::Full);
        s.percpu_clusters = l.len(ListId::Isolated);
        for (t, n) in s.order_fallbacks.iter_mut().zip(&self.order_fallbacks) {
            *t = n.load(Ordering::Relaxed);
        }
        s
    }

    /// Applies `f` to the slot byte with a CAS loop: the transition is one
    /// atomic read-modify-write, so a concurrent lock-free
    /// `swapcache_prepare` / `sync_acquire` is never overwritten. Returns the
    /// new byte and what `f` returned beside it.
    ///
    /// Context: the caller holds the slot's cluster lock, so only the
    /// lock-free transitions (which never free or allocate) can interleave.
    fn update_locked<E>(
        &self,
        slot: u64,
        mut f: impl FnMut(u8) -> Result<(u8, u32), E>,
    ) -> Result<(u8, u32), E> {
        let a = self.byte(slot);
        // Relaxed: the starting guess for the CAS.
        let mut cur = a.load(Ordering::Relaxed);
        loop {
            let (nb, extra) = f(cur)?;
            // AcqRel: Release publishes this transition (and, for a put, the
            // owner's work before it) to the Acquire of swapcache_prepare,
            // sync_acquire and sync_wait; Acquire pairs with their Release so
            // the locked path sees the pin it is building on.
            match a.compare_exchange_weak(cur, nb, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok((nb, extra)),
                Err(now) => cur = now,
            }
        }
    }

    /// Checks the internal accounting against the slot bytes (tests).
    /// Takes each cluster lock, then the lists lock, in the lock order.
    #[cfg(test)]
    pub(crate) fn check_consistency(&self) {
        let size = self.cluster_size();
        for (ci, cl) in self.clusters.iter().enumerate() {
            let c = lock(cl);
            let base = ci as u64 * u64::from(size);
            let used = (base..base + u64::from(size))
                .filter(|&s| self.byte(s).load(Ordering::Relaxed) != SWAP_FREE)
                .count() as u32;
            assert_eq!(c.used, used, "cluster {ci} used count");
            if let Some(t) = &self.table {
                for s in base..base + u64::from(size) {
                    let b = self.byte(s).load(Ordering::Relaxed);
                    assert!(
                        t[s as usize].load(Ordering::Relaxed) == 0 || b & SWAP_HAS_CACHE != 0,
                        "slot {s}: a swap-table value without SWAP_HAS_CACHE ({b:#x})"
                    );
                }
            }
            let l = lock(&self.lists);
            assert_eq!(l.on(ci as u32), c.list, "cluster {ci} list");
            match c.list {
                ListId::Isolated => {
                    assert!(
                        0 < c.used && c.used < size,
                        "isolated cluster {ci}: {}",
                        c.used
                    )
                }
                ListId::Frag(o) => {
                    assert!(0 < c.used && c.used < size, "frag cluster {ci}: {}", c.used);
                    assert_eq!(o, c.order, "frag cluster {ci} order");
                }
                _ => assert_eq!(
                    c.list,
                    ListId::classify(c.used, size, c.order),
                    "cluster {ci} list"
                ),
            }
        }
        lock(&self.lists).check();
    }
}

/// The byte transition of [`SwapMap::free`]: one reference dropped.
pub(crate) fn free_step(slot: u64, b: u8, cont: u32) -> Result<(u8, u32), SwapError> {
    match b {
        SWAP_FREE => Err(SwapError::NoEntry { slot }),
        SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
        // SYNC implies a count of 1 and no continuation digit.
        SWAP_MAP_SYNC => Ok((SWAP_HAS_CACHE, cont)),
        _ if !slot::has_count(b) => Err(SwapError::NoCount { slot }),
        _ => Ok(slot::dec(b, cont)),
    }
}

/// The byte transition of the locked [`SwapMap::swapcache_clear`]: the
/// cache flag dropped.
pub(crate) fn clear_step(slot: u64, b: u8, cont: u32) -> Result<(u8, u32), SwapError> {
    match b {
        SWAP_FREE => Err(SwapError::NoEntry { slot }),
        SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
        SWAP_MAP_SYNC => Err(SwapError::Sync { slot }),
        _ if b & SWAP_HAS_CACHE == 0 => Err(SwapError::NotCached { slot }),
        _ => Ok((b & !SWAP_HAS_CACHE, cont)),
    }
}

/// The byte transition of [`SwapMap::free_and_clear`]: one reference and
/// the cache flag dropped.
pub(crate) fn free_and_clear_step(slot: u64, b: u8, cont: u32) -> Result<(u8, u32), SwapError> {
    match b {
        SWAP_FREE => Err(SwapError::NoEntry { slot }),
        SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
        SWAP_MAP_SYNC => Err(SwapError::Sync { slot }),
        _ if b & SWAP_HAS_CACHE == 0 => Err(SwapError::NotCached { slot }),
        _ if !slot::has_count(b) => Err(SwapError::NoCount { slot }),
        _ => {
            let (nb, nc) = slot::dec(b, cont);
            Ok((nb & !SWAP_HAS_CACHE, nc))
        }
    }
}

#[cold]
fn unreachable_used_mismatch(ci: u32) -> Option<u64> {
    // The used count said there was room but no free byte was found. Only a
    // bug in this crate can get here; report "no slot" rather than corrupt.
    debug_assert!(false, "cluster {ci}: used count disagrees with slot bytes");
    None
}

/// Iterator over the in-use slots, from [`SwapMap::iter_used`].
#[derive(Debug)]
pub struct UsedSlots<'a> {
    map: &'a SwapMap,
    cluster: usize,
    buf: Vec<(u64, SlotState)>,
    pos: usize,
}

impl Iterator for UsedSlots<'_> {
    type Item = (u64, SlotState);

    fn next(&mut self) -> Option<(u64, SlotState)> {
        while self.pos == self.buf.len() {
            if self.cluster == self.map.clusters.len() {
                return None;
            }
            self.buf.clear();
            self.pos = 0;
            let size = u64::from(self.map.cluster_size());
            let base = self.cluster as u64 * size;
            let c = lock(&self.map.clusters[self.cluster]);
            for slot in base..(base + size).min(self.map.nr_slots) {
                // Acquire: pairs with the Release of the lock-free slot
                // transitions (the pin, the cache flag), which the cluster
                // lock held here does not order.
                let b = self.map.byte(slot).load(Ordering::Acquire);
                let st = slot::decode(b, || c.cont(self.map.offset(slot)));
                if !matches!(st, SlotState::Free | SlotState::Bad) {
                    self.buf.push((slot, st));
                }
            }
            self.cluster += 1;
        }
        let item = self.buf[self.pos];
        self.pos += 1;
        Some(item)
    }
}
