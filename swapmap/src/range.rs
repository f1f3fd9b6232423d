//! Range operations: the batched swap-map operations of large folios
//! (mTHP), each one cluster-locked step over `nr` slots of one cluster.
//!
//! Since Linux 6.10-6.12 a folio of order k is swapped out to `nr = 2^k`
//! contiguous, aligned slots of one cluster ([`SwapMap::alloc_order`]) and
//! may be swapped in as one folio, which pins, frees and clears its `nr`
//! entries at once: `swapcache_prepare(entry, nr)` and `swapcache_clear(si,
//! entry, nr)` (Barry Song, 2024, "add nr argument in swapcache_prepare and
//! swapcache_clear"), `swap_free_nr`, `swap_duplicate_nr`.
//!
//! # All or nothing
//!
//! Each operation checks its range first ([`SwapError::EmptyRange`],
//! [`SwapError::OutOfRange`] naming the first slot beyond the map,
//! [`SwapError::Unaligned`] for the operations on a folio's range,
//! [`SwapError::CrossesCluster`]), then takes the cluster lock and checks
//! every slot in order: the first slot that the single-slot operation would
//! refuse is named in the error, and nothing changes. Only then are the
//! slots changed, each with a compare-and-swap, and the slots that became
//! free are accounted and notified (in slot order) before the lock is
//! dropped.
//!
//! The single-slot pin transitions take no lock (see the crate docs), so a
//! pin can land on a slot of the range between the check and the change.
//! The range operation then undoes the slots it had already changed and
//! reports the pin ([`SwapError::Exists`], or [`SwapError::Sync`]): the
//! range is left as it was, but a racer may have seen some of its pins for
//! that instant (and got `Exists` for a slot it then finds unpinned, as it
//! could after a pin taken and dropped). The kernel takes `ci->lock` for
//! single-slot pins too, so there no racer sees a failed range's pins; the
//! model keeps its lock-free single-slot pins, and the loom suite checks
//! that exactly one of a range pin and a racing single pin wins each slot.

use crate::error::SwapError;
use crate::map::{SwapMap, clear_step, free_and_clear_step, free_step};
use crate::slot::{SWAP_FREE, SWAP_HAS_CACHE, SWAP_MAP_BAD, SWAP_MAP_SYNC};
use crate::sync::Ordering;

/// The longest range whose undo log lives on the stack.
const INLINE_LOG: usize = 64;

/// A slot's change made by a range operation: the byte before and after,
/// and the continuation digit before.
#[derive(Clone, Copy, Default)]
struct Change {
    before: u8,
    after: u8,
    cont: u32,
}

/// The pin transition of `swapcache_prepare` (`__swap_duplicate(entry,
/// SWAP_HAS_CACHE)`): an in-use slot without the flag gets it.
pub(crate) fn pin_step(slot: u64, b: u8) -> Result<u8, SwapError> {
    match b {
        SWAP_FREE => Err(SwapError::NoEntry { slot }),
        SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
        _ if b & SWAP_HAS_CACHE != 0 => Err(SwapError::Exists { slot }),
        _ => Ok(b | SWAP_HAS_CACHE),
    }
}

/// The transition from count 1 (the byte `1`: no flag, no continuation) to
/// `to`, with the errors of `swapcache_prepare_single` / `sync_acquire`.
pub(crate) fn single_step(slot: u64, b: u8, to: u8) -> Result<u8, SwapError> {
    match b {
        1 => Ok(to),
        SWAP_FREE => Err(SwapError::NoEntry { slot }),
        SWAP_MAP_BAD => Err(SwapError::Bad { slot }),
        SWAP_MAP_SYNC if to == SWAP_MAP_SYNC => Err(SwapError::Sync { slot }),
        _ if b & SWAP_HAS_CACHE != 0 => Err(SwapError::Exists { slot }),
        _ => Err(SwapError::NotSingle { slot }),
    }
}

impl SwapMap {
    /// Checks the arguments of a range operation on `slot..slot + nr`; with
    /// `aligned`, the range must be a folio's: `nr` a power of two and
    /// `slot` a multiple of it.
    pub(crate) fn check_range(&self, slot: u64, nr: u32, aligned: bool) -> Result<(), SwapError> {
        if nr == 0 {
            return Err(SwapError::EmptyRange { slot });
        }
        let last = match slot.checked_add(u64::from(nr) - 1) {
            Some(last) if last < self.nr_slots() => last,
            _ => {
                return Err(SwapError::OutOfRange {
                    slot: slot.max(self.nr_slots()),
                    nr_slots: self.nr_slots(),
                });
            }
        };
        if aligned && (!nr.is_power_of_two() || !slot.is_multiple_of(u64::from(nr))) {
            return Err(SwapError::Unaligned { slot, nr });
        }
        if slot >> self.cluster_shift() != last >> self.cluster_shift() {
            return Err(SwapError::CrossesCluster {
                slot,
                nr,
                cluster_size: self.cluster_size(),
            });
        }
        Ok(())
    }

    /// The skeleton of every range operation (see the module docs): range
    /// check, then under the cluster lock `f` (a slot's byte transition,
    /// given the byte and its continuation digit) checked on every slot,
    /// then applied to every slot with a compare-and-swap, undone if a
    /// lock-free pin changed a slot in between; then the freed slots are
    /// accounted and notified. Returns how many slots were freed.
    fn update_range(
        &self,
        slot: u64,
        nr: u32,
        aligned: bool,
        f: impl Fn(u64, u8, u32) -> Result<(u8, u32), SwapError>,
    ) -> Result<u32, SwapError> {
        self.check_range(slot, nr, aligned)?;
        self.update_range_checked(slot, nr, f)
    }

    /// [`SwapMap::update_range`] on a range already checked.
    pub(crate) fn update_range_checked(
        &self,
        slot: u64,
        nr: u32,
        f: impl Fn(u64, u8, u32) -> Result<(u8, u32), SwapError>,
    ) -> Result<u32, SwapError> {
        let mut c = self.lock_cluster_of(slot);
        let range = slot..slot + u64::from(nr);
        for s in range.clone() {
            // Relaxed: a check only. Counts change under the lock we hold;
            // a lock-free flag change landing after this load is seen by the
            // compare-and-swap below.
            f(
                s,
                self.byte(s).load(Ordering::Relaxed),
                c.cont(self.offset(s)),
            )?;
        }
        let mut inline = [Change::default(); INLINE_LOG];
        let mut heap = Vec::new();
        let log: &mut [Change] = if nr as usize <= INLINE_LOG {
            &mut inline[..nr as usize]
        } else {
            heap.resize(nr as usize, Change::default());
            &mut heap
        };
        for (i, s) in range.clone().enumerate() {
            let (a, off) = (self.byte(s), self.offset(s));
            let cont = c.cont(off);
            // Relaxed: the starting guess for the CAS.
            let mut cur = a.load(Ordering::Relaxed);
            loop {
                let (nb, nc) = match f(s, cur, cont) {
                    Ok(t) => t,
                    Err(e) => {
                        self.undo_range(slot, &log[..i], &mut c);
                        return Err(e);
                    }
                };
                // AcqRel: as `update_locked`: Release publishes the
                // transition (and a putter's work before it) to the Acquire
                // of the lock-free pins and waits; Acquire pairs with their
                // Release so we build on the pin we read.
                match a.compare_exchange_weak(cur, nb, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => {
                        log[i] = Change {
                            before: cur,
                            after: nb,
                            cont,
                        };
                        if nc != cont {
                            c.set_cont(off, nc, self.cluster_size());
                        }
                        break;
                    }
                    Err(now) => cur = now,
                }
            }
        }
        let mut freed = 0;
        for (s, ch) in range.zip(log.iter()) {
            if ch.after == SWAP_FREE {
                self.slot_freed(s, &mut c);
                freed += 1;
            }
        }
        Ok(freed)
    }

    /// Undoes the changes `log` made to the slots from `slot` on, newest
    /// first. A lock-free transition since our change can only have toggled
    /// `SWAP_HAS_CACHE`, so the undo flips back exactly the bits we changed
    /// and keeps that toggle; a slot the undo leaves free (a duplicate of a
    /// cache-only slot whose flag was cleared meanwhile) is accounted and
    /// notified as any freed slot.
    /// Context: the cluster lock is held (`c`).
    fn undo_range(&self, slot: u64, log: &[Change], c: &mut crate::map::ClusterInfo) {
        for (i, ch) in log.iter().enumerate().rev() {
            let s = slot + i as u64;
            let (a, off) = (self.byte(s), self.offset(s));
            // Relaxed: the starting guess for the CAS.
            let mut cur = a.load(Ordering::Relaxed);
            let undone = loop {
                debug_assert_eq!((ch.after ^ cur) & !SWAP_HAS_CACHE, 0, "slot {s}");
                let back = ch.before ^ (ch.after ^ cur);
                // AcqRel: as in `update_range`.
                match a.compare_exchange_weak(cur, back, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => break back,
                    Err(now) => cur = now,
                }
            };
            c.set_cont(off, ch.cont, self.cluster_size());
            if undone == SWAP_FREE && cur != SWAP_FREE {
                self.slot_freed(s, c);
            }
        }
    }

    /// Sets `SWAP_HAS_CACHE` on the `nr` slots of a folio's range, all or
    /// nothing: the pin of a large-folio swap-in (`swapcache_prepare(entry,
    /// nr)`, 6.12) and of adding a large folio to the swap cache.
    ///
    /// Models `swapcache_prepare(entry, nr)` → `__swap_duplicate(entry,
    /// SWAP_HAS_CACHE, nr)`, which checks every entry under `ci->lock` and
    /// changes none when one fails. With `nr == 1` it is the lock-free
    /// [`SwapMap::swapcache_prepare`]. See the module docs for a racing
    /// single-slot pin.
    ///
    /// Errors: the range errors ([`SwapError::EmptyRange`],
    /// [`SwapError::OutOfRange`], [`SwapError::Unaligned`],
    /// [`SwapError::CrossesCluster`]), then, for the first slot that fails,
    /// those of [`SwapMap::swapcache_prepare`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock (none when `nr == 1`).
    pub fn swapcache_prepare_nr(&self, slot: u64, nr: u32) -> Result<(), SwapError> {
        self.check_range(slot, nr, true)?;
        if nr == 1 {
            return self.try_pin(slot);
        }
        self.update_range(slot, nr, true, |s, b, cont| Ok((pin_step(s, b)?, cont)))
            .map(drop)
    }

    /// Pins the `nr` slots of a folio's range if every one has a count of
    /// exactly 1 and no cache flag, all or nothing: the large-folio form of
    /// [`SwapMap::swapcache_prepare_single`] (the bypass condition and the
    /// pin of a `SWP_SYNCHRONOUS_IO` large-folio swap-in in one step).
    ///
    /// Models `can_swapin_thp`'s checks of the range (no entry in the swap
    /// cache; the model also requires count 1 on every entry, so that the
    /// large folio is exclusive, "large folios are always exclusive" in
    /// Barry Song's 6.12 swap-in) followed by `swapcache_prepare(entry,
    /// nr)`.
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::swapcache_prepare_single`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock (none when `nr == 1`).
    pub fn swapcache_prepare_single_nr(&self, slot: u64, nr: u32) -> Result<(), SwapError> {
        self.check_range(slot, nr, true)?;
        if nr == 1 {
            return self.swapcache_prepare_single(slot);
        }
        self.update_range(slot, nr, true, |s, b, cont| {
            Ok((single_step(s, b, 1 | SWAP_HAS_CACHE)?, cont))
        })
        .map(drop)
    }

    /// Moves the `nr` slots of a folio's range from count 1 to
    /// `SWAP_MAP_SYNC`, all or nothing: the large-folio form of
    /// [`SwapMap::sync_acquire`] that this model gives the `SWAP_MAP_SYNC`
    /// proposal (which has none): a large synchronous swap-in owns its whole
    /// range, and a racer on any slot of it waits on that slot.
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::sync_acquire`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock (none when `nr == 1`).
    pub fn sync_acquire_nr(&self, slot: u64, nr: u32) -> Result<(), SwapError> {
        self.check_range(slot, nr, true)?;
        if nr == 1 {
            return self.sync_acquire(slot);
        }
        self.update_range(slot, nr, true, |s, b, cont| {
            Ok((single_step(s, b, SWAP_MAP_SYNC)?, cont))
        })
        .map(drop)
    }

    /// Ends a large synchronous swap-in that installed its folio: every SYNC
    /// slot of the range goes straight to free. The large-folio form of
    /// [`SwapMap::sync_release_free`].
    ///
    /// Errors: the range errors, then [`SwapError::NotSync`] for the first
    /// slot that is not exactly SYNC; nothing changes on error.
    ///
    /// Context: takes the cluster lock; runs the free-notify hook per slot.
    pub fn sync_release_free_nr(&self, slot: u64, nr: u32) -> Result<(), SwapError> {
        self.update_range(slot, nr, true, |s, b, cont| match b {
            SWAP_MAP_SYNC => Ok((SWAP_FREE, cont)),
            _ => Err(SwapError::NotSync { slot: s }),
        })
        .map(drop)
    }

    /// Ends a large synchronous swap-in that did not install its folio:
    /// SYNC slots go back to count 1, and slots left cache-only by a zap
    /// drop the pin and are freed. The large-folio form of
    /// [`SwapMap::sync_release`]; returns how many slots were freed.
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::sync_release`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock; may run the free-notify hook.
    pub fn sync_release_nr(&self, slot: u64, nr: u32) -> Result<u32, SwapError> {
        self.update_range(slot, nr, true, |s, b, cont| match b {
            SWAP_FREE => Err(SwapError::NoEntry { slot: s }),
            SWAP_MAP_BAD => Err(SwapError::Bad { slot: s }),
            SWAP_MAP_SYNC => Ok((1, cont)),
            _ if b & SWAP_HAS_CACHE != 0 => Ok((b & !SWAP_HAS_CACHE, cont)),
            _ => Err(SwapError::NotSync { slot: s }),
        })
    }

    /// Clears `SWAP_HAS_CACHE` on `nr` slots, freeing those left without a
    /// reference; returns how many were freed.
    ///
    /// Models `swapcache_clear(si, entry, nr)` (6.11) /
    /// `put_swap_folio` of a large folio: one cluster-locked step. The
    /// range need not be a folio's (any `nr` slots of one cluster).
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::swapcache_clear`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock; may run the free-notify hook.
    pub fn swapcache_clear_nr(&self, slot: u64, nr: u32) -> Result<u32, SwapError> {
        self.update_range(slot, nr, false, clear_step)
    }

    /// Drops one reference from each of `nr` slots, freeing those left
    /// with neither a reference nor the cache flag; returns how many were
    /// freed. A SYNC slot becomes cache-only, as with [`SwapMap::free`].
    ///
    /// Models `swap_free_nr` (Chuanhua Han / Barry Song, 6.10), which puts
    /// a batch of entries with one `ci->lock` round trip per cluster. The
    /// model takes one cluster per call (a zap or a large swap-in never
    /// spans two); the range need not be aligned (a zap of part of a
    /// folio's range).
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::free`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock; may run the free-notify hook.
    pub fn free_nr(&self, slot: u64, nr: u32) -> Result<u32, SwapError> {
        self.update_range(slot, nr, false, free_step)
    }

    /// Drops one reference and the `SWAP_HAS_CACHE` pin from each slot of a
    /// folio's range in one cluster-locked step: the end of a pinned
    /// large-folio swap-in (`swap_free_nr` under the PTE lock, then
    /// `swapcache_clear(si, entry, nr)`). See [`SwapMap::free_and_clear`]
    /// for why one step gives the same result; returns how many slots were
    /// freed.
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::free_and_clear`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock; may run the free-notify hook.
    pub fn free_and_clear_nr(&self, slot: u64, nr: u32) -> Result<u32, SwapError> {
        self.update_range(slot, nr, true, free_and_clear_step)
    }

    /// Adds a reference to each of `nr` in-use slots, all or nothing (a
    /// fork copying a batch of swap PTEs).
    ///
    /// Models `swap_duplicate_nr` (`copy_nonpresent_pte` batched over
    /// `swap_pte_batch`, 6.12): one cluster-locked step. The range need not
    /// be aligned.
    ///
    /// Errors: the range errors, then for the first failing slot those of
    /// [`SwapMap::duplicate`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock.
    pub fn duplicate_nr(&self, slot: u64, nr: u32) -> Result<(), SwapError> {
        self.update_range(slot, nr, false, |s, b, cont| {
            self.duplicate_step(s, b, cont)
        })
        .map(drop)
    }
}
