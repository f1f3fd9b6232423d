//! The large-folio (mTHP) swap-in of `do_swap_page` (Barry Song, Linux
//! 6.12: "mm: support large folios swap-in for sync io devices"), shared by
//! the strategies that have a large form.
//!
//! ```text
//!  1. alloc_swap_folio / can_swapin_thp: the largest enabled order whose
//!     aligned PTE range holds swap entries of contiguous, aligned slots
//!     (swap_pte_batch), none in the swap cache (non_swapcache_batch), all
//!     on one backend (zswap or the device), and a folio of that order
//!  2. hold the whole range: swapcache_prepare(entry, nr) (pin-*), the
//!     SWAP_MAP_SYNC state (sync-map), or nothing (bypass); a busy pin
//!     refaults like an order-0 one, any other refusal takes order 0;
//!     under the hold, the backend check again (zswap writeback skips a
//!     held slot, but may have ended just before the hold)
//!  3. swap_read_folio: every page, from one backend
//!  4. under the PTE lock re-check all nr PTEs, install nr PTEs,
//!     swap_free_nr; then swapcache_clear(entry, nr) and wake waiters
//! ```
//!
//! Large folios are always exclusive here (every slot has count 1), as in
//! the kernel's 6.12 swap-in. The strategies without a large form in their
//! proposal get this one where it fits the proposal: `sync-map` holds the
//! range in `SWAP_MAP_SYNC`; `swap-count` and `pte-marker` stay at order 0
//! (see their docs). [`LargeBug`] drops one check at a time for the
//! negative controls of the large-folio races.

use super::{SwapFault, SwapIn};
use crate::frame::{FrameId, MAX_FOLIO_ORDER, PG_SWAPCACHE, PG_UPTODATE};
use crate::pte::Pte;
use crate::system::{FaultError, LargeBug, ZswapLarge};
use swapmap::SwapError;

/// How a large swap-in holds its range while it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// No hold: the unpinned `bypass`, whose range can be freed and reused
    /// under it (caught only by the range re-check).
    Nothing,
    /// `SWAP_HAS_CACHE` on every slot (`swapcache_prepare(entry, nr)`).
    Pin,
    /// `SWAP_MAP_SYNC` on every slot (this model's large form of the
    /// `sync-map` proposal).
    Sync,
}

/// The range a large swap-in covers: `nr` PTEs from `v0`, naming the `nr`
/// slots from `s0`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Batch {
    order: u32,
    v0: usize,
    s0: u64,
}

impl Batch {
    fn nr(self) -> u32 {
        1 << self.order
    }
}

impl SwapFault<'_> {
    /// Whether every PTE of the range still holds the swap entry of its
    /// slot (`pte_same` over the range). Context: the PTE lock, or the
    /// range's pins (then a look that a PTE-locked check confirms later).
    fn range_unchanged(&self, b: Batch) -> bool {
        (0..b.nr()).all(|i| self.mm.pte(b.v0 + i as usize) == Pte::swap(b.s0 + u64::from(i)))
    }

    /// Maps the `nr` pages of `fr` over the range (`set_ptes`), one
    /// reference per PTE: the caller's and `nr - 1` more. Context: the PTE
    /// lock.
    fn map_range(&self, fr: FrameId, b: Batch) {
        let nr = b.nr();
        self.sys.frames.get_n(fr, nr - 1);
        for i in 0..nr {
            self.mm
                .set_pte(b.v0 + i as usize, Pte::present(fr + i as FrameId));
        }
    }

    /// Whether the model's negative control `bug` is on.
    fn bug(&self, bug: LargeBug) -> bool {
        self.sys.large_bug == Some(bug)
    }

    /// `can_swapin_thp` for each enabled order, largest first: the first
    /// whose aligned range passes every check. `None`: take order 0.
    pub(crate) fn large_batch(&self, hold: Hold) -> Option<Batch> {
        let sys = self.sys;
        if !sys.large_ok() || !sys.device.synchronous() {
            return None;
        }
        let zswap = sys.zswap();
        // Mainline: zswap cannot load a large folio, so none is swapped in
        // once zswap has been used (`zswap_never_enabled` in
        // `alloc_swap_folio`; zswap counts as enabled from its first
        // store). A racing first store seen late is caught by the backend
        // check below (a mixed range) or is an all-in-zswap range, which
        // loads page by page.
        if zswap.is_some_and(|z| z.ever_stored())
            && sys.zswap_large == ZswapLarge::Mainline
            && !self.bug(LargeBug::SkipBackendCheck)
        {
            return None;
        }
        (1..=MAX_FOLIO_ORDER).rev().find_map(|order| {
            if sys.orders() & (1 << order) == 0 {
                return None;
            }
            let nr = 1usize << order;
            let v0 = self.vpn & !(nr - 1);
            let idx = (self.vpn - v0) as u64;
            let s0 = self.slot.checked_sub(idx)?;
            if v0 + nr > self.mm.pages() || !s0.is_multiple_of(nr as u64) {
                return None;
            }
            let range = s0..s0 + nr as u64;
            // swap_pte_batch: contiguous swap entries of aligned slots.
            if (0..nr).any(|i| self.mm.pte(v0 + i) != Pte::swap(s0 + i as u64)) {
                return None;
            }
            // non_swapcache_batch: no folio (and no pin) on any of them.
            if !self.bug(LargeBug::SkipSwapCacheCheck)
                && range.clone().any(|s| sys.map.has_cache(s) != Ok(false))
            {
                return None;
            }
            // Without a pin, the count-1 condition is checked here; the
            // pins check it in the same step as they take the range.
            if hold == Hold::Nothing && range.clone().any(|s| sys.map.count(s) != Ok(1)) {
                return None;
            }
            // One backend: all in zswap or none (the 2026 RFC).
            let b = Batch { order, v0, s0 };
            if self.mixed_backend(b) {
                return None;
            }
            Some(b)
        })
    }

    /// Whether the range is part in zswap, part on the device (never with
    /// [`LargeBug::SkipBackendCheck`]). [`SwapFault::large_batch`] asks
    /// first; a held swap-in asks again under its hold, because a zswap
    /// writeback that ended in between moved a page of the range to the
    /// device. After the hold none can start: writeback pins the slot it
    /// writes and is refused a held one (`zswap_writeback_entry`'s
    /// `-EEXIST`). The kernel's second check is `zswap_load`'s, made with
    /// the range pinned.
    fn mixed_backend(&self, b: Batch) -> bool {
        let Some(z) = self.sys.zswap() else {
            return false;
        };
        if self.bug(LargeBug::SkipBackendCheck) {
            return false;
        }
        let nr = u64::from(b.nr());
        let inz = (b.s0..b.s0 + nr).filter(|&s| z.contains(s)).count() as u64;
        inz != 0 && inz != nr
    }

    /// [`SwapFault::mixed_backend`] under the hold (skipped by the
    /// negative control [`LargeBug::SkipBackendRecheck`]).
    fn mixed_under_hold(&self, b: Batch) -> bool {
        !self.bug(LargeBug::SkipBackendRecheck) && self.mixed_backend(b)
    }

    /// Tries a large-folio swap-in holding its range with `hold`; `on_busy`
    /// is what a racer does when another swap-in holds a slot of the range
    /// (it then faults again), `after` runs once the hold is dropped.
    /// `None` means "take order 0".
    pub(crate) fn swap_in_large(
        &mut self,
        hold: Hold,
        on_busy: &dyn Fn(&mut SwapFault<'_>),
        after: &dyn Fn(&mut SwapFault<'_>),
    ) -> Option<Result<SwapIn, FaultError>> {
        let b = self.large_batch(hold)?;
        let sys = self.sys;
        let nr = b.nr();
        let Some(fr) = sys.frames.alloc_order(b.order) else {
            self.st.thp_swpin_fallback += 1;
            return None;
        };
        // The pin: the whole range (or, as the negative control of race 5,
        // the faulting entry only).
        let held = match hold {
            Hold::Nothing => Ok(()),
            Hold::Pin if self.bug(LargeBug::PinFaultingOnly) => {
                sys.map.swapcache_prepare_single(self.slot)
            }
            Hold::Pin => sys.map.swapcache_prepare_single_nr(b.s0, nr),
            Hold::Sync => sys.map.sync_acquire_nr(b.s0, nr),
        };
        match held {
            Ok(()) => {}
            Err(SwapError::Exists { .. }) if hold == Hold::Pin => {
                sys.frames.put(fr);
                self.st.pin_busy += 1;
                on_busy(self);
                return Some(Ok(SwapIn::Retry));
            }
            Err(SwapError::Sync { slot }) => {
                sys.frames.put(fr);
                self.st.waits += 1;
                if let Ok(w) = sys.map.sync_wait(slot) {
                    self.st.spins += u64::from(w.spins);
                    self.st.yields += w.yields;
                }
                return Some(Ok(SwapIn::Retry));
            }
            // A shared, cached or freed entry: order 0 sorts it out.
            Err(_) => {
                sys.frames.put(fr);
                self.st.thp_swpin_fallback += 1;
                return None;
            }
        }
        if hold != Hold::Nothing && self.mixed_under_hold(b) {
            self.release(hold, b);
            sys.frames.put(fr);
            after(self);
            self.st.thp_swpin_fallback += 1;
            return None;
        }
        // SAFETY: `fr` was just allocated and is reachable from nowhere
        // until the PTEs below map it.
        if let Err(e) = unsafe { sys.read_folio(fr, b.s0, false) } {
            self.release(hold, b);
            sys.frames.put(fr);
            after(self);
            return Some(Err(e));
        }
        self.st.major += 1;
        let mapped = self.install_large(fr, b, hold);
        if !mapped {
            self.st.pte_same_fail += 1;
            self.release(hold, b);
            sys.frames.put(fr);
        } else {
            self.st.thp_swpin += 1;
        }
        after(self);
        Some(Ok(if mapped {
            SwapIn::Mapped
        } else {
            SwapIn::Retry
        }))
    }

    /// The large form of the swap-cache path (`swapcache`): the swap table
    /// series (Kairui Song, 2025-2026: every swap-in through the swap cache,
    /// `SWP_SYNCHRONOUS_IO` bypass removed) swaps a large folio in on a
    /// synchronous device as `__read_swap_cache_async` does an order-0 one:
    /// pin the whole range (`swapcache_prepare(entry, nr)`, all or nothing,
    /// count 1 each: large folios are exclusive), allocate the folio
    /// locked, add it to the swap cache in its `nr` slots in one step, read
    /// it, then map it as `do_swap_page` maps a swap-cache folio: under the
    /// PTE lock re-check the whole range, install `nr` PTEs and
    /// `swap_free_nr`; after it `folio_free_swap` takes the folio out of the
    /// cache and drops the pins. Order-0 faults on its other pages meanwhile
    /// find it in the cache and wait for its lock, as on the order-0 path.
    /// `None`: take order 0 (no batch, no folio, or the pin refused: a
    /// cached or shared entry, which the order-0 path sorts out).
    ///
    /// The negative controls of races 5-8 are those of
    /// [`SwapFault::large_batch`] only; this form always pins and re-checks
    /// the whole range.
    pub(crate) fn swap_in_large_cached(&mut self) -> Option<Result<SwapIn, FaultError>> {
        let b = self.large_batch(Hold::Pin)?;
        self.swap_in_large_cached_batch(b)
    }

    /// [`SwapFault::swap_in_large_cached`] from its pin on, for the range
    /// `b` that `large_batch` chose (a test runs other faults in between).
    fn swap_in_large_cached_batch(&mut self, b: Batch) -> Option<Result<SwapIn, FaultError>> {
        let sys = self.sys;
        let nr = b.nr();
        let Some(fr) = sys.frames.alloc_order(b.order) else {
            self.st.thp_swpin_fallback += 1;
            return None;
        };
        match sys.map.swapcache_prepare_single_nr(b.s0, nr) {
            Ok(()) => {}
            // Another swap-in holds a slot of the range (the order-0 path
            // waits for it): busy, not a fallback.
            Err(SwapError::Exists { .. }) => {
                sys.frames.put(fr);
                self.st.pin_busy += 1;
                return None;
            }
            Err(_) => {
                sys.frames.put(fr);
                self.st.thp_swpin_fallback += 1;
                return None;
            }
        }
        // Under the pins, the range again: between `large_batch`'s look
        // and the pin, a PTE of the range may have been zapped and its
        // slot freed and reused by a page-out elsewhere (count 1 again, so
        // the pin took it). Cached for the range, the folio would then hand
        // that slot's page to a fault at an unrelated address. With the
        // pins held no slot can be reused, so a range that still matches
        // now keeps every slot's only reference at its own PTE.
        //
        // Differs on purpose: the kernel re-checks only under the PTE lock
        // after the read (`do_swap_page`), and a folio it leaves in the
        // swap cache may later be mapped one page at a time anywhere (a
        // PTE-mapped large folio need not be aligned). The model maps the
        // pages of a large folio only at their aligned range, so it must
        // not cache one for slots that have moved.
        if self.mixed_under_hold(b) || !self.range_unchanged(b) {
            let _ = sys.map.swapcache_clear_nr(b.s0, nr);
            sys.frames.put(fr);
            self.st.thp_swpin_fallback += 1;
            return None;
        }
        // A stale lookup of this frame number may hold the lock for a
        // moment (it then finds the folio caches nothing and lets go).
        let w = sys.frames.lock(fr);
        self.st.spins += u64::from(w.spins);
        self.st.yields += w.yields;
        // add_to_swap_cache: the cache's nr references, then the folio in
        // each of its slots in one locked step.
        sys.frames.set_swap(fr, b.s0);
        sys.frames.set_flags(fr, PG_SWAPCACHE);
        sys.frames.get_n(fr, nr);
        if !sys.cache_add(b.s0, fr) {
            // Impossible under the pins (seed 002's in-lock check).
            sys.frames.clear_flags(fr, PG_SWAPCACHE);
            sys.frames.put_n(fr, nr);
            let _ = sys.map.swapcache_clear_nr(b.s0, nr);
            sys.frames.unlock_put(fr);
            self.st.thp_swpin_fallback += 1;
            return None;
        }
        // SAFETY: `fr` is locked by us and reachable only through the swap
        // cache, whose readers take the folio lock before they look at its
        // contents (as `read_swap_cache_async`'s read).
        if let Err(e) = unsafe { sys.read_folio(fr, b.s0, true) } {
            sys.delete_from_swap_cache(fr, b.s0);
            sys.frames.unlock_put(fr);
            return Some(Err(e));
        }
        sys.frames.set_flags(fr, PG_UPTODATE);
        self.st.major += 1;
        let mapped = {
            let _g = self.mm.lock_ptl(b.v0);
            let same = self.range_unchanged(b);
            if same {
                self.map_range(fr, b);
                let _ = sys.map.free_nr(b.s0, nr);
                // folio_free_swap (no reference left on any slot) and
                // folio_unlock under the PTE lock, as do_swap_page does:
                // our reference is a PTE's now, and once the PTE lock goes
                // a zap may put it; with the cache's references gone too
                // that frees the folio, and a later unlock would release
                // the lock of the frame's next owner.
                sys.delete_from_swap_cache(fr, b.s0);
                sys.frames.unlock(fr);
            }
            same
        };
        if mapped {
            self.st.thp_swpin += 1;
            return Some(Ok(SwapIn::Mapped));
        }
        // A PTE of the range changed (a zap): the folio stays in the cache
        // for the others' faults, unless no slot is referenced any more.
        self.st.pte_same_fail += 1;
        sys.try_free_swap(fr);
        sys.frames.unlock_put(fr);
        Some(Ok(SwapIn::Retry))
    }

    /// Under the PTE lock: re-checks the whole range (the faulting PTE only,
    /// as the negative control of race 6), maps the `nr` pages of `fr` and
    /// drops the slots' references and the hold. Returns whether it mapped;
    /// otherwise the hold is still the caller's to release.
    fn install_large(&mut self, fr: FrameId, b: Batch, hold: Hold) -> bool {
        let sys = self.sys;
        let nr = b.nr();
        let pinned_one = hold == Hold::Pin && self.bug(LargeBug::PinFaultingOnly);
        let left = {
            let _g = self.mm.lock_ptl(b.v0);
            let ok = if self.bug(LargeBug::RecheckFaultingOnly) {
                self.mm.pte(self.vpn) == self.orig
            } else {
                self.range_unchanged(b)
            };
            if !ok {
                return false;
            }
            // One reference per PTE: the allocation's and nr - 1 more.
            self.map_range(fr, b);
            // swap_free_nr under the PTE lock (the kernel's order); the
            // pinned forms drop references and pins together after it.
            match hold {
                Hold::Nothing => sys.map.free_nr(b.s0, nr).map_or(0, |f| nr - f),
                Hold::Sync => {
                    let _ = sys.map.sync_release_free_nr(b.s0, nr);
                    0
                }
                Hold::Pin => 0,
            }
        };
        match hold {
            Hold::Pin if pinned_one => {
                let _ = sys.map.free_nr(b.s0, nr);
                let _ = sys.map.swapcache_clear(self.slot);
            }
            Hold::Pin => {
                let _ = sys.map.free_and_clear_nr(b.s0, nr);
            }
            _ => {}
        }
        if left > 0 {
            // Unpinned: a swap-cache folio (readahead's) may be left on a
            // slot whose last reference we dropped.
            for s in b.s0..b.s0 + u64::from(nr) {
                sys.reclaim_orphan(s, None);
            }
        }
        true
    }

    /// Drops a large swap-in's hold after a failed read or re-check; slots
    /// zapped meanwhile (cache-only now) are freed.
    fn release(&mut self, hold: Hold, b: Batch) {
        let sys = self.sys;
        match hold {
            Hold::Nothing => {}
            Hold::Pin if self.bug(LargeBug::PinFaultingOnly) => {
                let _ = sys.map.swapcache_clear(self.slot);
            }
            Hold::Pin => {
                let _ = sys.map.swapcache_clear_nr(b.s0, b.nr());
            }
            Hold::Sync => {
                let _ = sys.map.sync_release_nr(b.s0, b.nr());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Hold;
    use crate::device::Ramdisk;
    use crate::pte::Pte;
    use crate::strategy::SwapFault;
    use crate::system::{SwapCacheKind, System, SystemConfig};
    use crate::{AddressSpace, FaultStats, check_accounting, index_word};

    /// The interleaving `swapin race --orders 2 --strategies swapcache`
    /// found (race 5 through the swap cache), step by step: a large
    /// swap-in looks at the range 0-1; before it pins, an order-0 swap-in
    /// of page 1 frees page 1's slot and a page-out of page 4 reuses it.
    /// The pins then succeed (the slot has count 1 again). The swap-in
    /// must see under its pins that the range moved and take order 0;
    /// caching the folio for slots 2-3 would hand its page 1 to page 4's
    /// fault, at an address outside the folio's range.
    #[test]
    fn a_range_reused_before_the_pin_takes_order_0() {
        for kind in [SwapCacheKind::Table, SwapCacheKind::XArray] {
            // Slot 0 is the header; 2-slot clusters: order-1 runs 2-3, 4-5;
            // slot 1 is filled by page 6 first, so that the device is full
            // and a page-out can only reuse a freed slot. No readahead
            // (it would cache slot 2 with page 1's swap-in, and the pins
            // would then be refused, which is the other safe outcome).
            let mut c =
                SystemConfig::new(64, Arc::new(Ramdisk::new(6, None))).strategy("swapcache");
            c.orders = 0b11;
            c.cluster_size = 2;
            c.swap_cache = kind;
            c.readahead = 0;
            let sys = System::new(c).unwrap();
            let mm = AddressSpace::new(Arc::clone(&sys), 8);
            mm.populate().unwrap();
            let st = &mut FaultStats::default();
            assert_eq!(mm.pageout(6..7, st), Ok(1));
            assert_eq!(mm.pageout(0..4, st), Ok(4));
            let swapped = [mm.pte(6), mm.pte(0), mm.pte(2)];
            assert_eq!(swapped, [Pte::swap(1), Pte::swap(2), Pte::swap(4)]);

            // The large swap-in of page 0 looks at the range 0-1.
            let mut st0 = FaultStats::default();
            let mut f = SwapFault {
                mm: &mm,
                sys: &sys,
                vpn: 0,
                orig: Pte::swap(2),
                slot: 2,
                st: &mut st0,
            };
            let b = f.large_batch(Hold::Pin).expect("range 0-1 is a batch");
            assert_eq!((b.v0, b.s0, b.nr()), (0, 2, 2));

            // Meanwhile: page 1 in at order 0 (slot 3 freed), page 4 out
            // (split from its folio) to slot 3.
            sys.set_orders(1).unwrap();
            mm.write(1, st).unwrap();
            assert_eq!(mm.pageout(4..5, st), Ok(1));
            assert_eq!(mm.pte(4), Pte::swap(3), "page 4 reuses page 1's slot");
            sys.set_orders(0b11).unwrap();

            // The large swap-in goes on: order 0, nothing cached.
            assert!(f.swap_in_large_cached_batch(b).is_none(), "{kind:?}");
            assert_eq!(sys.cached_folio(3), None, "{kind:?}");
            assert_eq!(mm.pte(0), Pte::swap(2));

            // Every page comes back right, the accounting closes.
            for vpn in 0..8 {
                assert_eq!(mm.read_word(vpn, 1, st), Ok(index_word(vpn)), "page {vpn}");
                assert_eq!(
                    mm.read_word(vpn, 0, st),
                    Ok(u64::from(vpn == 1)),
                    "page {vpn}"
                );
            }
            let errs = check_accounting(&sys, &[&mm]);
            assert!(errs.is_empty(), "{kind:?}: {errs:#?}");
        }
    }
}
