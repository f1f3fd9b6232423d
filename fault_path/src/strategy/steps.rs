//! The shared steps of `do_swap_page`: the fault being handled
//! ([`SwapFault`]), the swap-cache lookup and path with readahead, a private
//! read and the `pte_same` install.

use std::fmt;

use crate::frame::{FrameId, PG_SWAPCACHE, PG_UPTODATE};
use crate::mm::AddressSpace;
use crate::pte::Pte;
use crate::stats::FaultStats;
use crate::system::{FaultError, SwapCacheKind, System};
use swapmap::Freed;

use super::SwapIn;

/// Readahead slots pinned and added per cluster-lock round trip on the
/// swap table (the default window, `1 << page_cluster` = 8, is one batch;
/// a small batch keeps the per-fault stack arrays small).
const READAHEAD_BATCH: usize = 8;

/// The fault being handled, and the shared steps of `do_swap_page`.
pub struct SwapFault<'a> {
    pub(crate) mm: &'a AddressSpace,
    pub(crate) sys: &'a System,
    /// The faulting page.
    pub vpn: usize,
    /// The PTE the fault saw (`vmf->orig_pte`).
    pub orig: Pte,
    /// Its swap slot.
    pub slot: u64,
    /// The faulting thread's statistics.
    pub st: &'a mut FaultStats,
}

impl fmt::Debug for SwapFault<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwapFault")
            .field("vpn", &self.vpn)
            .field("orig", &self.orig)
            .field("slot", &self.slot)
            .finish()
    }
}

/// Result of a swap-cache lookup.
pub(crate) enum Cached {
    /// Found, locked, and still the folio of this slot.
    Hit(FrameId),
    /// Found, but it left the cache before we locked it.
    Stale,
    /// Not in the cache.
    Miss,
}

impl SwapFault<'_> {
    /// `swap_cache_get_folio` + `folio_lock_or_retry` + the check that the
    /// folio is still the swap-cache folio of this entry.
    pub(crate) fn lookup_cache(&mut self) -> Cached {
        // A folio enters the swap cache only under the slot's
        // SWAP_HAS_CACHE pin, so without the flag there is nothing to look
        // up (and no epoch pin to pay). Reading the flag a moment before a
        // racing add is the same as looking up a moment before it: every
        // path after a miss copes with that add (the pin, pte_same).
        if self.sys.map.has_cache(self.slot) == Ok(false) {
            return Cached::Miss;
        }
        self.sys.lookup_locked(self.slot, self.st)
    }

    /// The `SWP_SYNCHRONOUS_IO` bypass condition: a synchronous device and
    /// `__swap_count(entry) == 1`.
    pub(crate) fn can_bypass(&self) -> bool {
        self.sys.device.synchronous() && self.sys.map.count(self.slot) == Ok(1)
    }

    /// The swap-cache path of `do_swap_page`: find or create the folio in
    /// the swap cache (`swapin_readahead`), then map it.
    pub(crate) fn swapcache_path(&mut self) -> Result<SwapIn, FaultError> {
        match self.read_swap_cache_async()? {
            Some(fr) => self.map_cached(fr),
            None => Ok(SwapIn::Retry),
        }
    }

    /// `__read_swap_cache_async`: returns the locked swap-cache folio for
    /// the slot (with a reference), reading it if this call created it, or
    /// `None` if the entry was freed meanwhile. The existence check is made
    /// under the pin (`swapcache_prepare`), not before it (seed 002).
    pub(crate) fn read_swap_cache_async(&mut self) -> Result<Option<FrameId>, FaultError> {
        let sys = self.sys;
        loop {
            match self.lookup_cache() {
                Cached::Hit(fr) => {
                    self.st.minor += 1;
                    return Ok(Some(fr));
                }
                Cached::Stale => continue,
                Cached::Miss => {}
            }
            match sys.map.swapcache_prepare(self.slot) {
                Ok(()) => break,
                // Someone is adding a folio for the slot, or a bypass
                // swap-in holds the pin: wait for it (the kernel sleeps a
                // tick here; the model yields).
                Err(swapmap::SwapError::Exists { .. }) => {
                    self.st.cache_waits += 1;
                    crate::sync::yield_now();
                }
                // Freed: the PTE has changed.
                Err(_) => {
                    self.st.entry_gone += 1;
                    return Ok(None);
                }
            }
        }
        let fr = self.new_cache_folio(self.slot)?;
        let Some(fr) = fr else { return Ok(None) };
        // SAFETY: `fr` was created locked by `new_cache_folio` and is only
        // reachable through the swap cache, whose readers lock it first.
        if let Err(e) = unsafe { sys.read_into(fr, self.slot, true) } {
            sys.delete_from_swap_cache(fr, self.slot);
            sys.frames.unlock_put(fr);
            return Err(e);
        }
        sys.frames.set_flags(fr, PG_UPTODATE);
        self.st.major += 1;
        self.readahead();
        Ok(Some(fr))
    }

    /// Allocates a locked folio for `slot` and adds it to the swap cache.
    /// The caller holds the `SWAP_HAS_CACHE` pin; on failure it is dropped.
    fn new_cache_folio(&mut self, slot: u64) -> Result<Option<FrameId>, FaultError> {
        let sys = self.sys;
        // Locked, PG_SWAPCACHE, swap = slot; our reference and the cache's.
        let Some(fr) = sys.frames.alloc_swapcache(slot, 2) else {
            let _ = sys.map.swapcache_clear(slot);
            return Err(FaultError::NoMemory);
        };
        if sys.cache_add(slot, fr) {
            return Ok(Some(fr));
        }
        // Impossible while we hold the pin: the in-lock check of seed 002.
        // The cache's reference goes with the flag and the lock; then ours.
        sys.frames.put_unlock_clear(fr, PG_SWAPCACHE);
        sys.frames.put(fr);
        let _ = sys.map.swapcache_clear(slot);
        Ok(None)
    }

    /// `swap_cluster_readahead`: reads the other slots of the aligned window
    /// into the swap cache, skipping those cached, pinned or free.
    fn readahead(&mut self) {
        let sys = self.sys;
        let win = u64::from(sys.readahead);
        if win <= 1 {
            return;
        }
        let start = self.slot & !(win - 1);
        let end = (start + win).min(sys.map.nr_slots());
        if sys.swap_cache_kind() == SwapCacheKind::Table {
            self.readahead_table(start, end);
            return;
        }
        for s in start..end {
            if s == self.slot {
                continue;
            }
            if sys.legacy {
                self.legacy_readahead_one(s);
                continue;
            }
            if sys.map.swapcache_prepare(s).is_err() {
                continue;
            }
            let Ok(Some(fr)) = self.new_cache_folio(s) else {
                return;
            };
            // SAFETY: as in `read_swap_cache_async`: a new folio we hold
            // locked, reachable only through the swap cache.
            let ok = unsafe { sys.read_into(fr, s, true) }.is_ok();
            if ok {
                self.st.readahead += 1;
                // Drop the cache entry again if the slot was freed
                // meanwhile.
                sys.try_free_swap(fr);
            } else {
                sys.delete_from_swap_cache(fr, s);
            }
            sys.frames.end_read(fr, ok);
            sys.frames.put(fr);
        }
    }

    /// Readahead on the swap table: a folio for each slot of the window
    /// that has a count and no cache flag, pinned and added in batches of
    /// [`READAHEAD_BATCH`] under one cluster-lock round trip each
    /// ([`swapmap::SwapMap::table_prepare_add_many`]: a racing put of a
    /// slot's last reference then finds the folio, so no count re-check is
    /// needed), then read one by one, each unlocked as its read ends
    /// (`folio_end_read`). The folios keep only the cache's reference.
    fn readahead_table(&mut self, start: u64, end: u64) {
        let sys = self.sys;
        let mut s = start;
        while s < end {
            let mut slots = [0u64; READAHEAD_BATCH];
            let mut n = 0;
            while s < end && n < READAHEAD_BATCH {
                // A racy pre-filter, so that no folio is allocated in vain
                // for a free, cached or pinned slot; the locked step decides.
                if s != self.slot
                    && sys.map.count(s).is_ok_and(|c| c > 0)
                    && sys.map.has_cache(s) == Ok(false)
                {
                    slots[n] = s;
                    n += 1;
                }
                s += 1;
            }
            if !self.readahead_batch(&slots[..n]) {
                return; // out of frames
            }
        }
    }

    /// One batch of [`SwapFault::readahead_table`]; `false` when frames ran
    /// out.
    fn readahead_batch(&mut self, slots: &[u64]) -> bool {
        let sys = self.sys;
        let mut frs: [FrameId; READAHEAD_BATCH] = [0; READAHEAD_BATCH];
        let n = sys.frames.alloc_swapcache_many(slots, &mut frs);
        let mut items = [(0, std::num::NonZeroU64::MIN); READAHEAD_BATCH];
        for i in 0..n {
            items[i] = (slots[i], crate::system::table_value(frs[i]));
        }
        let mut res = [Ok(()); READAHEAD_BATCH];
        sys.map.table_prepare_add_many(&items[..n], &mut res[..n]);
        for (&(s, _), (&fr, r)) in items[..n].iter().zip(frs.iter().zip(res)) {
            if r.is_err() {
                // Never published; a stale lookup that took a reference
                // meanwhile finds it unlocked and out of the cache.
                sys.frames.put_unlock_clear(fr, PG_SWAPCACHE);
                continue;
            }
            // SAFETY: a new folio we hold locked, reachable only through
            // the swap cache, whose readers lock it first.
            if unsafe { sys.read_into(fr, s, true) }.is_ok() {
                self.st.readahead += 1;
                sys.frames.end_read(fr, true);
            } else {
                let deleted = sys.cache_del(s, fr);
                debug_assert!(deleted);
                let _ = sys.map.swapcache_clear(s);
                sys.frames.put_unlock_clear(fr, PG_SWAPCACHE); // the cache's
            }
        }
        n == slots.len()
    }

    /// The pre-fix readahead of seed 002 (negative control only): check the
    /// cache first, take a reference with `swap_duplicate` (which succeeds
    /// on a slot just allocated for a page-out), add the folio without the
    /// in-lock check, then take the cache pin, read, and drop the reference.
    fn legacy_readahead_one(&mut self, s: u64) {
        let sys = self.sys;
        if sys.cached_folio(s).is_some() || sys.map.duplicate(s).is_err() {
            return;
        }
        let Some(fr) = sys.frames.alloc() else {
            let _ = sys.map.free(s);
            return;
        };
        sys.frames.lock(fr);
        sys.frames.set_swap(fr, s);
        sys.frames.set_flags(fr, PG_SWAPCACHE);
        sys.frames.get(fr);
        sys.cache_add_unchecked(s, fr);
        let _ = sys.map.swapcache_prepare(s);
        // SAFETY: a folio we hold locked, reachable only through the swap
        // cache (even when a racing add displaced it).
        if unsafe { sys.read_into(fr, s, true) }.is_ok() {
            sys.frames.set_flags(fr, PG_UPTODATE);
            self.st.readahead += 1;
        }
        let _ = sys.map.free(s);
        sys.frames.unlock_put(fr);
    }

    /// Maps the locked swap-cache folio `fr` (the end of `do_swap_page` on
    /// the swap-cache path): under the PTE lock, `pte_same`, `swap_free`,
    /// and install the folio itself when this was the last reference (then
    /// `folio_free_swap` drops it from the cache) or a private copy when the
    /// entry is still shared (the kernel maps it read-only and copies on the
    /// first write).
    pub(crate) fn map_cached(&mut self, fr: FrameId) -> Result<SwapIn, FaultError> {
        let sys = self.sys;
        // The page of this slot: the folio itself at order 0; in a large
        // folio a page-out left in the cache, the slot's page of it.
        let large = sys.nr_pages(fr) > 1;
        let page = fr + (self.slot - sys.frames.swap(fr)) as FrameId;
        let mut result = Ok(SwapIn::Mapped);
        let mut mapped = false;
        {
            let _g = self.mm.lock_ptl(self.vpn);
            if self.mm.pte(self.vpn) != self.orig {
                self.st.pte_same_fail += 1;
                result = Ok(SwapIn::Retry);
            } else if sys.map.count(self.slot).is_ok_and(|c| c > 1) {
                // Shared: map a private copy and drop our reference.
                match sys.frames.alloc() {
                    None => result = Err(FaultError::NoMemory),
                    Some(t) => {
                        sys.frames.copy_frame(page, t);
                        self.st.copies += 1;
                        let _ = sys.map.free(self.slot);
                        self.mm.set_pte(self.vpn, Pte::present(t));
                    }
                }
            } else {
                // Our reference becomes the PTE's. A large folio stays in
                // the cache for its other slots: only this slot's reference
                // goes here.
                if large {
                    let _ = sys.map.free(self.slot);
                }
                self.mm.set_pte(self.vpn, Pte::present(page));
                mapped = true;
                if large {
                    // folio_free_swap and folio_unlock under the PTE lock,
                    // as do_swap_page does: our reference is the PTE's now,
                    // and once the PTE lock goes a zap may put it; if the
                    // cache's references went here too, that frees the
                    // folio, and a later unlock would release the lock of
                    // the frame's next owner.
                    sys.try_free_swap(fr);
                    sys.frames.unlock(fr);
                }
            }
        }
        if mapped && !large {
            // Only this PTE named the slot (count 1; fork is excluded), and
            // it maps the folio now: nobody else can act on the slot, so
            // `swap_free` and `folio_free_swap`'s delete + put_swap_folio
            // take one cluster-lock round trip (see
            // `SwapMap::free_and_clear`) instead of three. The cache's
            // reference, PG_SWAPCACHE and the lock then go in one step
            // (anyone who looks at the flag takes the folio lock first).
            sys.del_free_and_clear(fr, self.slot);
            sys.frames.put_unlock_clear(fr, PG_SWAPCACHE);
            return result;
        }
        if mapped {
            // A large folio, unlocked above.
            return result;
        }
        // folio_free_swap: if the last reference went meanwhile (a zap,
        // another address space), or none of a large folio's slots is
        // referenced any more (`folio_swapped`), drop the cache.
        sys.try_free_swap(fr);
        sys.frames.unlock_put(fr);
        result
    }

    /// Allocates a private folio and reads the slot into it (the bypass
    /// path's `swap_read_folio` on a folio outside the swap cache).
    pub(crate) fn read_private(&mut self) -> Result<FrameId, FaultError> {
        let sys = self.sys;
        let fr = sys.frames.alloc().ok_or(FaultError::NoMemory)?;
        // SAFETY: `fr` was just allocated and is reachable from nowhere.
        if let Err(e) = unsafe { sys.read_into(fr, self.slot, false) } {
            sys.frames.put(fr);
            return Err(e);
        }
        sys.frames.set_flags(fr, PG_UPTODATE);
        self.st.major += 1;
        Ok(fr)
    }

    /// Installs the private folio `fr` if the PTE is unchanged
    /// (`pte_same`), dropping the entry's reference (`swap_free`). Without a
    /// pin this is where the ABA of seed 004 bites: a PTE that went away and
    /// came back with the same slot passes the check. Returns whether it
    /// mapped; otherwise `fr` is released.
    pub(crate) fn install_private(&mut self, fr: FrameId) -> bool {
        let slot = self.slot;
        self.install_private_with(fr, self.orig, |sys| sys.map.free(slot) == Ok(Freed::No))
    }

    /// As [`SwapFault::install_private`], with the PTE expected to hold
    /// `expect` and `put` dropping the slot reference under the PTE lock;
    /// `put` returns whether the slot may have been left in use (so that a
    /// swap-cache folio left behind is looked for).
    pub(crate) fn install_private_with(
        &mut self,
        fr: FrameId,
        expect: Pte,
        put: impl FnOnce(&System) -> bool,
    ) -> bool {
        let sys = self.sys;
        let (mapped, left) = {
            let _g = self.mm.lock_ptl(self.vpn);
            if self.mm.pte(self.vpn) == expect {
                let left = put(sys);
                self.mm.set_pte(self.vpn, Pte::present(fr));
                (true, left)
            } else {
                (false, false)
            }
        };
        if left {
            // Only a swap-cache folio (readahead's, or a racer's on the
            // swap-cache path) can be left behind.
            sys.reclaim_orphan(self.slot, None);
        }
        if !mapped {
            self.st.pte_same_fail += 1;
            sys.frames.put(fr);
        }
        mapped
    }

    /// The common head of the bypass family: a folio in the swap cache is
    /// mapped from there; a device that is not synchronous, or a shared
    /// entry, takes the swap-cache path. `None` means "go on bypassing".
    pub(crate) fn bypass_prologue(&mut self) -> Option<Result<SwapIn, FaultError>> {
        match self.lookup_cache() {
            Cached::Hit(fr) => {
                self.st.minor += 1;
                Some(self.map_cached(fr))
            }
            Cached::Stale => Some(Ok(SwapIn::Retry)),
            Cached::Miss if !self.can_bypass() => Some(self.swapcache_path()),
            Cached::Miss => None,
        }
    }
}
