//! `pte-marker`: the proposed swap-in marker PTE (seeds 000 and 003).

use super::{Strategy, SwapFault, SwapIn};
use crate::frame::PG_UPTODATE;
use crate::pte::Pte;
use crate::system::FaultError;

/// `pte-marker`: a "swap-in in progress" marker PTE naming the locked
/// folio; racers wait on the folio lock; a zap clears the marker and the
/// swap-in cleans up and installs nothing. Proposed by David Hildenbrand
/// (seeds 000 and 003).
///
/// Large folios: none in this model yet. A marker names one locked folio
/// per PTE; a large form would install `nr` markers naming the pages of one
/// locked large folio and have a zap of any of them abort the whole
/// swap-in. Until then `pte-marker` swaps in order-0 folios, also on ranges
/// swapped out as large folios (checked by the same loom model).
#[derive(Debug)]
pub struct PteMarker;

impl Strategy for PteMarker {
    fn name(&self) -> &'static str {
        "pte-marker"
    }
    fn source(&self) -> &'static str {
        "proposal (David Hildenbrand, seeds 000/003): a swapin_in_process marker PTE"
    }
    fn swap_in(&self, f: &mut SwapFault<'_>) -> Result<SwapIn, FaultError> {
        if let Some(r) = f.bypass_prologue() {
            return r;
        }
        let sys = f.sys;
        // (1) allocate the folio and lock it.
        let fr = sys.frames.alloc().ok_or(FaultError::NoMemory)?;
        sys.frames.lock(fr);
        let marker = Pte::marker(fr);
        // (2) under the PTE lock, if the PTE is unchanged, install the
        // marker. The slot's reference now belongs to this swap-in.
        //
        // An unchanged PTE may be a new incarnation of the entry (seed
        // 004's ABA): harmless here, since the read comes after the marker
        // and so sees the new data, unless the page-out that created the
        // incarnation is still writing it. Its folio then sits in the swap
        // cache with SWAP_HAS_CACHE set (set before the unmap, cleared after
        // the write, and the unmap was under this lock), so back off and let
        // the refault take it from the swap cache. The proposal in the
        // thread does not spell this out; loom finds the lost update
        // without it.
        let (same, busy) = {
            let _g = f.mm.lock_ptl(f.vpn);
            let same = f.mm.pte(f.vpn) == f.orig;
            let busy = same && sys.map.has_cache(f.slot) != Ok(false);
            if same && !busy {
                f.mm.set_pte(f.vpn, marker);
            }
            (same, busy)
        };
        if !same || busy {
            if busy {
                f.st.pin_busy += 1;
            } else {
                f.st.pte_same_fail += 1;
            }
            sys.frames.unlock_put(fr);
            return Ok(SwapIn::Retry);
        }
        // (3) read the folio; racers that see the marker wait for its lock.
        // SAFETY: `fr` is locked by us and named only by our marker, whose
        // waiters take its lock before anything else.
        let read = unsafe { sys.read_into(fr, f.slot, false) };
        if read.is_ok() {
            sys.frames.set_flags(fr, PG_UPTODATE);
            f.st.major += 1;
        }
        // (4) under the PTE lock: if the marker is still there, map the
        // folio (or, after an I/O error, put the swap entry back);
        // otherwise a zap cleared it and left the slot's reference to us.
        let (installed, zapped) = {
            let _g = f.mm.lock_ptl(f.vpn);
            let still = f.mm.pte(f.vpn) == marker;
            if still && read.is_ok() {
                let _ = sys.map.free(f.slot);
                f.mm.set_pte(f.vpn, Pte::present(fr));
                // Unlock before the PTE lock goes, as do_swap_page's
                // folio_unlock comes before its pte_unmap_unlock: our
                // reference is the PTE's now, so once the PTE lock is
                // dropped a zap may put it and free the frame, and an
                // unlock after that would release the lock of the frame's
                // next owner (a marker whose folio is then unlocked while
                // its swap-in is still reading: shuttle found its waiters
                // spinning on it).
                sys.frames.unlock(fr);
            } else if still {
                f.mm.set_pte(f.vpn, f.orig);
            }
            (still && read.is_ok(), !still)
        };
        if zapped {
            f.st.pte_same_fail += 1;
            sys.free_swap_and_cache(f.slot, None);
        }
        if !installed {
            // Not mapped: the reference is still ours.
            sys.frames.unlock_put(fr);
        }
        read?;
        Ok(if installed {
            SwapIn::Mapped
        } else {
            SwapIn::Retry
        })
    }
}
