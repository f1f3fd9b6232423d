//! [`AddressSpace`]: atomic PTEs under split locks, and the operations on
//! them: access (with the fault path), page-out, zap, fork.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::frame::{FrameId, GetLock, PG_SWAPCACHE};
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
    pub fn populate(&self) -> Result<(), FaultError> {
        for vpn in 0..self.ptes.len() {
            let fr = self.sys.frames.alloc().ok_or(FaultError::NoMemory)?;
            self.sys.frames.zero(fr);
            self.sys.frames.set_word(fr, 1, index_word(vpn));
            let _g = self.lock_ptl(vpn);
            match self.pte(vpn).kind() {
                PteKind::None => self.set_pte(vpn, Pte::present(fr)),
                _ => self.sys.frames.put(fr),
            }
        }
        Ok(())
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

    /// `do_anonymous_page`: a zero page for a `pte_none` entry.
    fn do_anonymous_page(&self, vpn: usize, st: &mut FaultStats) -> Result<(), FaultError> {
        st.anon += 1;
        let fr = self.sys.frames.alloc().ok_or(FaultError::NoMemory)?;
        self.sys.frames.zero(fr);
        let _g = self.lock_ptl(vpn);
        if self.pte(vpn) == Pte::NONE {
            self.set_pte(vpn, Pte::present(fr));
        } else {
            self.sys.frames.put(fr);
        }
        Ok(())
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
        for vpn in range.start..end {
            let PteKind::Present(fr) = self.pte(vpn).kind() else {
                continue;
            };
            let sys = &*self.sys;
            // folio_try_get + folio_trylock (reclaim skips a locked folio).
            match sys.frames.try_get_lock(fr) {
                GetLock::Locked => {}
                GetLock::Got => {
                    sys.frames.put(fr);
                    continue;
                }
                GetLock::Free => continue,
            }
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
                continue;
            }
            // try_to_unmap: replace the PTE with the swap entry (legacy: the
            // allocation's count is the PTE's).
            let unmapped = {
                let _g = self.lock_ptl(vpn);
                if self.pte(vpn) == Pte::present(fr)
                    && (sys.legacy || sys.map.duplicate(slot).is_ok())
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
                n += usize::from(unmapped);
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
                continue;
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
                n += 1;
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
        }
        Ok(n)
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
                PteKind::Present(fr) => self.sys.frames.put(fr),
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
