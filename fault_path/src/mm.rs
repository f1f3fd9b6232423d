//! [`AddressSpace`]: atomic PTEs under split locks, and the operations on
//! them: access (with the fault path), page-out, zap, fork.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::frame::{FrameId, GetLock, MAX_FOLIO_ORDER, PG_SWAPCACHE};
use crate::pte::{Pte, PteCell, PteKind};
use crate::stats::FaultStats;
use crate::strategy::{SwapFault, SwapIn};
use crate::sync::{Mutex, MutexGuard, Ordering, lock};
use crate::system::{FaultError, System};

/// PTEs per page-table page, each with its own lock (`USE_SPLIT_PTE_PTLOCKS`:
/// one `ptl` per PTE page of 512 entries).
pub const PTES_PER_TABLE: usize = 512;

/// Word 1 of every page holds its index xor this tag, so that a zero page
/// (a discarded zram slot reads as zeros) never passes for page 0.
pub const INDEX_TAG: u64 = 0x5157_4150_0000_0000;

/// The value word 1 of page `vpn` must hold.
pub fn index_word(vpn: usize) -> u64 {
    INDEX_TAG ^ vpn as u64
}

/// What an access does once the page is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read the page (no change).
    Read,
    /// Add 1 to word 0 atomically, as the reproducer's workers do.
    Write,
}

/// An address space (`struct mm_struct` with one VMA of `pages` pages).
pub struct AddressSpace {
    sys: Arc<System>,
    ptes: Box<[PteCell]>,
    ptl: Box<[CachePadded<Mutex<()>>]>,
}

impl fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressSpace")
            .field("pages", &self.ptes.len())
            .finish_non_exhaustive()
    }
}

impl AddressSpace {
    /// An address space of `pages` pages, all `pte_none`.
    pub fn new(sys: Arc<System>, pages: usize) -> AddressSpace {
        AddressSpace {
            sys,
            ptes: (0..pages).map(|_| PteCell::new(Pte::NONE)).collect(),
            ptl: (0..pages.div_ceil(PTES_PER_TABLE))
                .map(|_| CachePadded::new(Mutex::new(())))
                .collect(),
        }
    }

    /// Allocates and maps every page, word 0 = 0 and word 1 =
    /// [`index_word`], as the reproducer's populate loop does.
    ///
    /// With large folios enabled ([`SystemConfig::orders`]) each aligned
    /// range is mapped by one folio of the largest enabled order that fits,
    /// as `alloc_anon_folio` does for a fault in an empty range.
    ///
    /// [`SystemConfig::orders`]: crate::SystemConfig::orders
    pub fn populate(&self) -> Result<(), FaultError> {
        let mut vpn = 0;
        while vpn < self.ptes.len() {
            vpn += self.map_anon(vpn, true)?.max(1);
        }
        Ok(())
    }

    /// The orders whose aligned range around `vpn` lies inside the address
    /// space and is all `pte_none` (`alloc_anon_folio`'s
    /// `thp_vma_suitable_orders` and `pte_range_none`), as a mask.
    fn anon_orders(&self, vpn: usize) -> u32 {
        let (mut mask, enabled) = (1, self.sys.orders());
        for k in 1..=crate::frame::MAX_FOLIO_ORDER {
            let nr = 1usize << k;
            if enabled & (1 << k) == 0 {
                continue;
            }
            let v0 = vpn & !(nr - 1);
            if v0 + nr <= self.ptes.len() && (v0..v0 + nr).all(|v| self.pte(v) == Pte::NONE) {
                mask |= 1 << k;
            }
        }
        mask
    }

    /// Maps a new anonymous folio over the empty aligned range around
    /// `vpn`, of the largest usable order: zeroed pages (word 1 the page's
    /// index when `indexed`, as populate writes it). Returns the pages
    /// mapped (0 when the range was filled meanwhile).
    fn map_anon(&self, vpn: usize, indexed: bool) -> Result<usize, FaultError> {
        let frames = &self.sys.frames;
        let (fr, order) = frames
            .alloc_folio(self.anon_orders(vpn))
            .ok_or(FaultError::NoMemory)?;
        let nr = 1usize << order;
        let v0 = vpn & !(nr - 1);
        for i in 0..nr {
            let f = fr + i as FrameId;
            frames.zero(f);
            if indexed {
                frames.set_word(f, 1, index_word(v0 + i));
            }
        }
        let _g = self.lock_ptl(v0);
        if (v0..v0 + nr).any(|v| self.pte(v) != Pte::NONE) {
            frames.put(fr);
            return Ok(0);
        }
        // One reference per PTE (`folio_ref_add(folio, nr - 1)` on top of
        // the allocation's).
        frames.get_n(fr, nr as u32 - 1);
        for i in 0..nr {
            self.set_pte(v0 + i, Pte::present(fr + i as FrameId));
        }
        Ok(nr)
    }

    /// The shared machine.
    pub fn system(&self) -> &Arc<System> {
        &self.sys
    }

    /// Pages in the address space.
    pub fn pages(&self) -> usize {
        self.ptes.len()
    }

    /// The PTE of `vpn` (lock-free read, as `ptep_get`).
    pub fn pte(&self, vpn: usize) -> Pte {
        // Acquire: pairs with the Release store of `set_pte`, so a present
        // PTE's frame contents are visible to whoever reads it.
        self.ptes[vpn].load(Ordering::Acquire)
    }

    pub(crate) fn set_pte(&self, vpn: usize, p: Pte) {
        // Release: publishes the frame's contents and folio state before the
        // entry that points at them (`set_pte_at`). Context: PTE lock held.
        self.ptes[vpn].store(p, Ordering::Release);
    }

    pub(crate) fn lock_ptl(&self, vpn: usize) -> MutexGuard<'_, ()> {
        lock(&self.ptl[vpn / PTES_PER_TABLE])
    }

    fn check(&self, vpn: usize) -> Result<(), FaultError> {
        if vpn < self.ptes.len() {
            Ok(())
        } else {
            Err(FaultError::OutOfRange {
                vpn,
                pages: self.ptes.len(),
            })
        }
    }

    /// Accesses page `vpn`, faulting it in as needed (`handle_mm_fault` →
    /// `do_swap_page` / `do_anonymous_page`), then runs `f` on its frame
    /// under the PTE lock, so that a page-out cannot unmap the frame halfway
    /// through the access (the model's TLB shootdown).
    ///
    /// Context: takes the PTE lock of `vpn`; the strategy may take folio
    /// locks, cluster locks and device locks (never while waiting on
    /// another of the same kind).
    pub fn access<R>(
        &self,
        vpn: usize,
        st: &mut FaultStats,
        f: impl FnOnce(&crate::frame::Frames, FrameId) -> R,
    ) -> Result<R, FaultError> {
        self.check(vpn)?;
        loop {
            let orig = self.pte(vpn);
            match orig.kind() {
                PteKind::Present(fr) => {
                    let _g = self.lock_ptl(vpn);
                    if self.pte(vpn) == orig {
                        st.accesses += 1;
                        return Ok(f(&self.sys.frames, fr));
                    }
                }
                PteKind::None => self.do_anonymous_page(vpn, st)?,
                PteKind::Swap(slot) => {
                    st.faults += 1;
                    let mut ctx = SwapFault {
                        mm: self,
                        sys: &self.sys,
                        vpn,
                        orig,
                        slot,
                        st,
                    };
                    match self.sys.strategy().swap_in(&mut ctx)? {
                        SwapIn::Mapped => {}
                        SwapIn::Retry => {
                            st.retries += 1;
                            crate::sync::spin_loop();
                        }
                    }
                }
                PteKind::Marker(fr) => {
                    st.faults += 1;
                    self.sys.strategy().on_marker(self, vpn, orig, fr, st);
                    st.retries += 1;
                    // As after a `Retry`: the wait may have found the
                    // folio free or unlocked (its swap-in just ended), and
                    // under loom and shuttle a refault loop must yield.
                    crate::sync::spin_loop();
                }
            }
        }
    }

    /// A write access: faults the page in and adds 1 to word 0.
    pub fn write(&self, vpn: usize, st: &mut FaultStats) -> Result<(), FaultError> {
        self.access(vpn, st, |frames, fr| frames.add_word(fr, 0, 1))
    }

    /// A read access of word `w` (`w` < [`WORDS`](crate::frame::WORDS)).
    pub fn read_word(&self, vpn: usize, w: usize, st: &mut FaultStats) -> Result<u64, FaultError> {
        if w >= crate::frame::WORDS {
            return Err(FaultError::Config(format!("word {w} beyond the frame")));
        }
        self.access(vpn, st, |frames, fr| frames.word(fr, w))
    }

    /// `do_anonymous_page`: a zero page for a `pte_none` entry, or a zeroed
    /// large folio over its empty aligned range (`alloc_anon_folio`).
    fn do_anonymous_page(&self, vpn: usize, st: &mut FaultStats) -> Result<(), FaultError> {
        st.anon += 1;
        self.map_anon(vpn, false).map(drop)
    }

    /// Pages out the present pages of `range` (`MADV_PAGEOUT` →
    /// `reclaim_pages` → `shrink_folio_list`): for each, allocate a slot
    /// (`folio_alloc_swap`, which sets `SWAP_HAS_CACHE`), add the folio to
    /// the swap cache, unmap it (`try_to_unmap`: the PTE becomes the swap
    /// entry and the slot count goes to 1), write it (`swap_writepage`),
    /// then drop it from the swap cache (`__remove_mapping`) and free the
    /// frame. Locked folios are skipped, as reclaim's trylock does. Returns
    /// the number of pages written; stops early with [`FaultError::SwapFull`]
    /// when no slot is left (pages already written stay written).
    pub fn pageout(&self, range: Range<usize>, st: &mut FaultStats) -> Result<usize, FaultError> {
        let end = range.end.min(self.ptes.len());
        let mut n = 0;
        let mut vpn = range.start;
        while vpn < end {
            let PteKind::Present(fr) = self.pte(vpn).kind() else {
                vpn += 1;
                continue;
            };
            let sys = &*self.sys;
            let head = sys.frames.folio_of(fr);
            // folio_try_get + folio_trylock (reclaim skips a locked folio).
            match sys.frames.try_get_lock(head) {
                GetLock::Locked => {}
                GetLock::Got => {
                    sys.frames.put(head);
                    vpn += 1;
                    continue;
                }
                GetLock::Free => {
                    vpn += 1;
                    continue;
                }
            }
            // The folio may have been split or freed and reused between
            // the lookup and the reference (`page_folio` re-checked).
            if sys.frames.folio_of(fr) != head {
                sys.frames.unlock_put(head);
                continue;
            }
            // The PTE was read without its lock: the frame may have been
            // freed and reallocated since (a swap-in's new folio, locked
            // by us before its owner could). With our reference held, a
            // PTE that still maps it means it is this mapping's folio
            // (reclaim reaches a folio through its rmap, never through a
            // stale PTE).
            if self.pte(vpn) != Pte::present(fr) {
                sys.frames.unlock_put(head);
                vpn += 1;
                continue;
            }
            let nr = sys.nr_pages(head) as usize;
            if !sys.legacy && sys.frames.flags(head) & PG_SWAPCACHE != 0 {
                // Already in the swap cache (a large folio one of whose
                // pages a fault mapped from there, so that the last
                // page-out could not free it): it keeps its slots.
                // shrink_folio_list calls add_to_swap only for a folio not
                // in the swap cache yet, and try_to_unmap writes the
                // entries of folio->swap. Allocating new slots here would
                // leave the old ones cached and pinned for ever.
                let v0 = self.folio_start(vpn, fr, head, nr);
                if range.start <= v0 && v0 + nr <= end {
                    let s0 = sys.frames.swap(head);
                    n += self.pageout_whole(v0, head, s0, true, st)?;
                } else {
                    // Differs on purpose: MADV_PAGEOUT would split it
                    // (split_folio keeps each piece cached at its slot);
                    // the model leaves a partly covered cached folio
                    // alone, as reclaim may.
                    sys.frames.unlock_put(head);
                }
                vpn = v0 + nr;
                continue;
            }
            if nr == 1 {
                n += self.pageout_one(vpn, fr, st)?;
                vpn += 1;
                continue;
            }
            let v0 = self.folio_start(vpn, fr, head, nr);
            n += self.pageout_large(v0, head, range.start..end, st)?;
            vpn = v0 + nr;
        }
        Ok(n)
    }

    /// The first page of the aligned range that maps the folio `head` (of
    /// `nr` pages) whose page `fr` is mapped at `vpn`. A large folio is only
    /// ever mapped whole-range aligned, page i at `v0 + i`; a page of it at
    /// any other place means the swap cache handed out a stale folio, a
    /// model bug, reported here with what the page-out saw rather than as
    /// an index out of bounds further on.
    fn folio_start(&self, vpn: usize, fr: FrameId, head: FrameId, nr: usize) -> usize {
        let k = fr.wrapping_sub(head) as usize;
        match vpn.checked_sub(k) {
            Some(v0) if k < nr && v0 + nr <= self.ptes.len() && v0 % nr == 0 => v0,
            _ => panic!(
                "page-out: page {k} of folio {head} (order {}, swap {:#x}, flags {:#x}) \
                 is mapped at vpn {vpn}, outside its aligned range",
                self.sys.frames.order(head),
                self.sys.frames.swap(head),
                self.sys.frames.flags(head),
            ),
        }
    }

    /// Pages out the locked order-0 folio `fr` mapped at `vpn`, on which the
    /// caller holds a reference (given up here). Returns the pages written.
    fn pageout_one(
        &self,
        vpn: usize,
        fr: FrameId,
        st: &mut FaultStats,
    ) -> Result<usize, FaultError> {
        let sys = &*self.sys;
        let Some(slot) = sys.map.alloc() else {
            sys.frames.unlock_put(fr);
            return Err(FaultError::SwapFull);
        };
        // The legacy (seed 002) allocation: a count of 1 for the swap
        // cache, no SWAP_HAS_CACHE pin.
        if sys.legacy {
            let _ = sys.map.duplicate(slot);
            let _ = sys.map.swapcache_clear(slot);
        }
        // add_to_swap_cache: the cache takes a reference.
        sys.frames.set_swap(fr, slot);
        sys.frames.set_flags(fr, PG_SWAPCACHE);
        sys.frames.get(fr);
        let added = if sys.legacy {
            sys.cache_add_unchecked(slot, fr);
            true
        } else {
            sys.cache_add(slot, fr)
        };
        if !added {
            // The slot was just allocated with SWAP_HAS_CACHE set, so
            // nobody else can have added a folio for it (seed 002).
            unreachable_cache_conflict(slot);
            sys.frames.clear_flags(fr, PG_SWAPCACHE);
            sys.frames.put(fr);
            let _ = sys.map.swapcache_clear(slot);
            sys.frames.unlock_put(fr);
            return Ok(0);
        }
        // try_to_unmap: replace the PTE with the swap entry (legacy: the
        // allocation's count is the PTE's).
        let unmapped = {
            let _g = self.lock_ptl(vpn);
            if self.pte(vpn) == Pte::present(fr) && (sys.legacy || sys.map.duplicate(slot).is_ok())
            {
                self.set_pte(vpn, Pte::swap(slot));
                true
            } else {
                false
            }
        };
        if sys.legacy {
            if !unmapped {
                let _ = sys.map.free(slot);
            }
            if unmapped && let Err(e) = sys.write_from(fr, slot) {
                sys.frames.unlock_put(fr);
                sys.frames.put(fr);
                return Err(e);
            }
            st.pageouts += u64::from(unmapped);
            // Out of the swap cache, if a readahead did not replace us.
            let _ = sys.cache_del(slot, fr);
            sys.frames.clear_flags(fr, PG_SWAPCACHE);
            sys.frames.unlock(fr);
            sys.frames.put(fr); // the cache's
            sys.frames.put(fr); // ours
            if unmapped {
                sys.frames.put(fr); // the PTE's
            }
            return Ok(usize::from(unmapped));
        }
        if unmapped {
            sys.frames.put(fr); // the PTE's reference
            if let Err(e) = sys.write_from(fr, slot) {
                // The folio stays in the swap cache (a fault maps it
                // from there), as the kernel redirties it on an error.
                sys.frames.unlock_put(fr);
                return Err(e);
            }
            st.pageouts += 1;
        }
        // __remove_mapping: freeze the count at ours + the cache's. If
        // someone else holds a reference (a fault found the folio in the
        // swap cache and waits for its lock), keep the folio in the
        // cache for it, as the kernel does when the freeze fails.
        if sys.frames.freeze(fr, 2) {
            sys.remove_from_swap_cache(fr, slot);
            // The slot keeps the PTE's count, or is freed if the unmap
            // failed.
            let _ = sys.map.swapcache_clear(slot);
            sys.frames.unlock(fr);
            sys.frames.free_frozen(fr);
        } else {
            if !unmapped {
                sys.try_free_swap(fr);
            }
            sys.frames.unlock_put(fr);
        }
        Ok(usize::from(unmapped))
    }

    /// Pages out the locked large folio `head` that maps `v0..v0 + nr`
    /// (the caller holds a reference, given up here), within `range`.
    ///
    /// Models `shrink_folio_list` on a large folio: when the folio's whole
    /// range is being paged out and the swap map has an aligned run of its
    /// order (`folio_alloc_swap`), the folio is added to the swap cache in
    /// each of its `nr` slots, unmapped, written page by page (zswap stores
    /// one entry per page, 6.13; zram one object per page), and freed whole
    /// (`THP_SWPOUT`). Otherwise it is split (`split_folio_to_list`; on a
    /// failed allocation that is `THP_SWPOUT_FALLBACK`) and its pages inside
    /// `range` are paged out one by one, as `MADV_PAGEOUT` splits a folio it
    /// covers only in part. Returns the pages written.
    fn pageout_large(
        &self,
        v0: usize,
        head: FrameId,
        range: Range<usize>,
        st: &mut FaultStats,
    ) -> Result<usize, FaultError> {
        let sys = &*self.sys;
        let nr = sys.nr_pages(head) as usize;
        let order = sys.frames.order(head);
        let covered = range.start <= v0 && v0 + nr <= range.end;
        if covered && sys.large_ok() {
            match sys.map.alloc_order(order) {
                Ok(Some(s0)) => return self.pageout_whole(v0, head, s0, false, st),
                Ok(None) => st.thp_swpout_fallback += 1,
                Err(e) => {
                    sys.frames.unlock_put(head);
                    return Err(FaultError::Config(format!(
                        "page-out of order {order}: {e}"
                    )));
                }
            }
        }
        // Split: each page keeps its PTE's reference and gets one of ours.
        let split = {
            let _g = self.lock_ptl(v0);
            let mut refs = [0u32; 1 << MAX_FOLIO_ORDER];
            let refs = &mut refs[..nr];
            for (i, r) in refs.iter_mut().enumerate() {
                *r = 1 + u32::from(self.pte(v0 + i) == Pte::present(head + i as FrameId));
            }
            let mapped = refs.iter().sum::<u32>() - nr as u32;
            sys.frames.split(head, mapped + 1, refs)
        };
        if !split {
            // An extra reference (a racing fault or lookup): leave it.
            sys.frames.unlock_put(head);
            return Ok(0);
        }
        let mut n = 0;
        let mut err = None;
        for i in 0..nr {
            let (vpn, fr) = (v0 + i, head + i as FrameId);
            if err.is_none() && range.contains(&vpn) && self.pte(vpn) == Pte::present(fr) {
                match self.pageout_one(vpn, fr, st) {
                    Ok(k) => n += k,
                    Err(e) => err = Some(e),
                }
            } else {
                // Outside the range, unmapped, or after an error (swap
                // full): the piece is released, locked and referenced by
                // us since the split.
                sys.frames.unlock_put(fr);
            }
        }
        err.map_or(Ok(n), Err)
    }

    /// The whole-folio page-out of [`AddressSpace::pageout_large`] to the
    /// `nr` slots from `s0` that the allocation handed out pinned, or, when
    /// `cached`, to the slots of the swap cache the folio is already in
    /// (each cache-only where a PTE maps its page, or referenced by a swap
    /// PTE where none does).
    fn pageout_whole(
        &self,
        v0: usize,
        head: FrameId,
        s0: u64,
        cached: bool,
        st: &mut FaultStats,
    ) -> Result<usize, FaultError> {
        let sys = &*self.sys;
        let nr = sys.nr_pages(head);
        if !cached {
            // add_to_swap_cache: the folio in each of its nr slots, with
            // the cache's nr references.
            sys.frames.set_swap(head, s0);
            sys.frames.set_flags(head, PG_SWAPCACHE);
            sys.frames.get_n(head, nr);
            if !sys.cache_add(s0, head) {
                unreachable_cache_conflict(s0);
                sys.frames.clear_flags(head, PG_SWAPCACHE);
                sys.frames.put_n(head, nr);
                let _ = sys.map.swapcache_clear_nr(s0, nr);
                sys.frames.unlock_put(head);
                return Ok(0);
            }
        }
        // try_to_unmap: every PTE still mapping its page becomes the swap
        // entry of its slot (count 1); a page zapped meanwhile leaves its
        // slot cache-only, freed when the pins go.
        let unmapped = {
            let _g = self.lock_ptl(v0);
            let mut mapped = [false; 1 << MAX_FOLIO_ORDER];
            let mapped = &mut mapped[..nr as usize];
            for (i, m) in mapped.iter_mut().enumerate() {
                *m = self.pte(v0 + i) == Pte::present(head + i as FrameId);
            }
            let ok = if mapped.iter().all(|&m| m) {
                sys.map.duplicate_nr(s0, nr).is_ok()
            } else {
                true
            };
            let mut unmapped = 0;
            for (i, &m) in mapped.iter().enumerate() {
                let slot = s0 + i as u64;
                if m && ok && (mapped.iter().all(|&m| m) || sys.map.duplicate(slot).is_ok()) {
                    self.set_pte(v0 + i, Pte::swap(slot));
                    unmapped += 1;
                }
            }
            unmapped
        };
        sys.frames.put_n(head, unmapped); // the PTEs' references
        if let Err(e) = sys.write_folio(head, s0) {
            // The folio stays in the swap cache, as on an order-0 error.
            sys.frames.unlock_put(head);
            return Err(e);
        }
        st.pageouts += u64::from(unmapped);
        st.thp_swpout += u64::from(nr > 1);
        // __remove_mapping: freeze at ours + the cache's nr.
        if sys.frames.freeze(head, 1 + nr) {
            sys.remove_from_swap_cache(head, s0);
            let _ = sys.map.swapcache_clear_nr(s0, nr);
            sys.frames.unlock(head);
            sys.frames.free_frozen(head);
        } else {
            if unmapped < nr {
                sys.try_free_swap(head);
            }
            sys.frames.unlock_put(head);
        }
        Ok(unmapped as usize)
    }

    /// Zaps `range` (`MADV_DONTNEED` → `zap_pte_range`): present pages are
    /// unmapped and their frames released; swap entries are cleared and
    /// their slots put (`free_swap_and_cache`); a swap-in marker is cleared
    /// and its swap-in cleans up.
    pub fn dontneed(&self, range: Range<usize>) {
        let end = range.end.min(self.ptes.len());
        for vpn in range.start..end {
            let old = {
                let _g = self.lock_ptl(vpn);
                let old = self.pte(vpn);
                if old != Pte::NONE {
                    self.set_pte(vpn, Pte::NONE);
                }
                old
            };
            match old.kind() {
                PteKind::None => {}
                PteKind::Present(fr) => self.sys.frames.put(self.sys.frames.folio_of(fr)),
                PteKind::Swap(slot) => self.sys.free_swap_and_cache(slot, None),
                PteKind::Marker(fr) => self.sys.strategy().on_marker_zapped(&self.sys, fr),
            }
        }
    }

    /// Forks the address space (`dup_mmap` → `copy_pte_range`): swap
    /// entries are shared and their counts raised (`swap_duplicate`);
    /// present pages are copied into new frames at once (the kernel shares
    /// them copy-on-write; eager copying keeps the model's pages private).
    ///
    /// Takes `&mut self`: like the kernel's `mmap_lock` held for write, it
    /// excludes every fault in this address space, so no swap-in marker or
    /// pinned swap-in is in flight.
    pub fn fork(&mut self) -> Result<AddressSpace, FaultError> {
        let child = AddressSpace::new(Arc::clone(&self.sys), self.ptes.len());
        for vpn in 0..self.ptes.len() {
            match self.pte(vpn).kind() {
                PteKind::None => {}
                PteKind::Present(fr) => {
                    let nf = self.sys.frames.alloc().ok_or(FaultError::NoMemory)?;
                    self.sys.frames.copy_frame(fr, nf);
                    child.set_pte(vpn, Pte::present(nf));
                }
                PteKind::Swap(slot) => {
                    self.sys
                        .map
                        .duplicate(slot)
                        .map_err(|e| FaultError::Config(format!("fork: {e}")))?;
                    child.set_pte(vpn, Pte::swap(slot));
                }
                PteKind::Marker(_) => {
                    return Err(FaultError::Config("fork with a swap-in in flight".into()));
                }
            }
        }
        Ok(child)
    }
}

impl Drop for AddressSpace {
    /// `exit_mmap`: zaps everything, so frames and slots are returned.
    fn drop(&mut self) {
        self.dontneed(0..self.ptes.len());
    }
}

#[cold]
fn unreachable_cache_conflict(slot: u64) {
    debug_assert!(
        false,
        "swap cache already holds a folio for fresh slot {slot}"
    );
}
