//! Per-thread fault statistics: each thread accumulates into its own
//! [`FaultStats`] (no shared counters on the fault path), merged afterwards.

use std::ops::AddAssign;

/// Counters of the fault path, accumulated by the caller of
/// [`AddressSpace::access`](crate::AddressSpace::access).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FaultStats {
    /// Accesses that completed.
    pub accesses: u64,
    /// Faults on a swap entry or a swap-in marker (`do_swap_page` calls).
    pub faults: u64,
    /// Faults that read the page from the device or zswap (major faults).
    pub major: u64,
    /// Faults satisfied from the swap cache (minor faults).
    pub minor: u64,
    /// Faults on an empty PTE (`do_anonymous_page`).
    pub anon: u64,
    /// Faults that returned without mapping the page and were taken again
    /// (the refaults of `pin-retry`, `pte_same` failures, stale folios).
    pub retries: u64,
    /// `pte_same` checks that failed after a read.
    pub pte_same_fail: u64,
    /// Swap-cache folios that left the cache (or changed slot) before the
    /// fault could lock them.
    pub stale: u64,
    /// Swap-cache path attempts that found the entry freed under them.
    pub entry_gone: u64,
    /// `swapcache_prepare` refusals on the bypass path (another swap-in
    /// holds the pin).
    pub pin_busy: u64,
    /// Waits of the swap-cache path for a pin holder (`-EEXIST` in
    /// `__read_swap_cache_async`).
    pub cache_waits: u64,
    /// Pages read ahead on the swap-cache path.
    pub readahead: u64,
    /// Shared swap entries mapped as a private copy.
    pub copies: u64,
    /// Sleeps (`pin-sleep`'s tick).
    pub sleeps: u64,
    /// Waits on a wait queue, slot or folio (`pin-waitqueue`, `sync-map`,
    /// `pte-marker`).
    pub waits: u64,
    /// Wake-ups issued to waiters.
    pub wakeups: u64,
    /// Spin iterations while waiting (on a SYNC slot or a folio lock).
    pub spins: u64,
    /// Yields to the scheduler after a spin budget ran out.
    pub yields: u64,
    /// Pages paged out.
    pub pageouts: u64,
    /// Large folios paged out whole (`THP_SWPOUT`, the mTHP `swpout`
    /// counters).
    pub thp_swpout: u64,
    /// Large folios split for page-out because the swap map had no aligned
    /// run of their order (`THP_SWPOUT_FALLBACK`).
    pub thp_swpout_fallback: u64,
    /// Swap-ins that read a whole large folio (`THP_SWPIN`, the mTHP
    /// `swpin` counters).
    pub thp_swpin: u64,
    /// Large-folio swap-ins that fell back to order 0 after choosing an
    /// order (`THP_SWPIN_FALLBACK`: no folio of the order, or the range
    /// pin refused with a shared or changed entry).
    pub thp_swpin_fallback: u64,
}

impl FaultStats {
    /// Every kind of wait: `waits + cache_waits + sleeps`.
    pub fn all_waits(&self) -> u64 {
        self.waits + self.cache_waits + self.sleeps
    }
}

impl AddAssign for FaultStats {
    fn add_assign(&mut self, o: FaultStats) {
        self.accesses += o.accesses;
        self.faults += o.faults;
        self.major += o.major;
        self.minor += o.minor;
        self.anon += o.anon;
        self.retries += o.retries;
        self.pte_same_fail += o.pte_same_fail;
        self.stale += o.stale;
        self.entry_gone += o.entry_gone;
        self.pin_busy += o.pin_busy;
        self.cache_waits += o.cache_waits;
        self.readahead += o.readahead;
        self.copies += o.copies;
        self.sleeps += o.sleeps;
        self.waits += o.waits;
        self.wakeups += o.wakeups;
        self.spins += o.spins;
        self.yields += o.yields;
        self.pageouts += o.pageouts;
        self.thp_swpout += o.thp_swpout;
        self.thp_swpout_fallback += o.thp_swpout_fallback;
        self.thp_swpin += o.thp_swpin;
        self.thp_swpin_fallback += o.thp_swpin_fallback;
    }
}
