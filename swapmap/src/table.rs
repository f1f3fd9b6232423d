//! The swap table: the swap cache kept beside the swap map, one word per
//! slot, as Linux 6.18 does (`mm/swap_table.h`, "mm, swap: use the swap
//! table for the swap cache and switch API", Kairui Song).
//!
//! Before the swap table, the swap cache was an xarray per 64 MiB of swap
//! (the `swapcache` crate models it): a lookup walks the tree under RCU, and
//! an add or delete takes the tree's lock and may allocate or free nodes.
//! The swap table replaces it with a flat array per cluster whose entry for a
//! slot holds the folio (or a shadow), so a lookup is one load, and the
//! writers already hold what serialises the slot.
//!
//! # Who writes an entry, and under what
//!
//! As in the kernel, entries are written under the slot's cluster lock
//! (`ci->lock`), which every count change also takes, and read lock-free
//! ([`SwapMap::table_get`], RCU in the kernel). An entry is non-zero only
//! while the slot's `SWAP_HAS_CACHE` flag is set, and is written by the
//! holder of that flag: the task that took the pin with
//! [`SwapMap::swapcache_prepare`] (or got the slot from [`SwapMap::alloc`],
//! which hands it out pinned) adds its folio with [`SwapMap::table_add`];
//! the folio's owner (in the kernel: whoever holds the folio lock) removes
//! it with [`SwapMap::table_del`] before dropping the pin, or with
//! [`SwapMap::table_del_free_and_clear`], which drops the pin and a
//! reference in the same locked step.
//!
//! Because the lock orders an add against every count change, a put of a
//! slot's last reference that leaves the slot cache-only, and then looks the
//! slot up, always finds the value added before it; swap-in readahead pins
//! and adds its whole window under one lock round trip
//! ([`SwapMap::table_prepare_add_many`]) and needs no count re-check.
//!
//! # Where the model differs from the kernel on purpose
//!
//! - The pin stays in the slot byte (`SWAP_HAS_CACHE`, set lock-free by
//!   `swapcache_prepare`); the kernel's later phases fold it into the table.
//! - One flat array for the whole device instead of a table per cluster
//!   allocated while the cluster is in use (`swap_cluster_alloc_table`):
//!   8 bytes per slot, allocated once.
//! - Values are opaque non-zero words chosen by the caller (the fault model
//!   stores frame numbers); shadow entries are not modelled.

use std::num::NonZeroU64;

use crate::error::SwapError;
use crate::map::Freed;
use crate::map::SwapMap;
use crate::slot::{SWAP_FREE, SWAP_HAS_CACHE, SWAP_MAP_BAD, SWAP_MAP_SYNC};
use crate::sync::{AtomicU64, Ordering};

impl SwapMap {
    /// Whether the map was built with a swap table
    /// ([`SwapMapBuilder::swap_table`](crate::SwapMapBuilder::swap_table)).
    pub fn has_table(&self) -> bool {
        self.table.is_some()
    }

    #[inline]
    fn entry(&self, slot: u64) -> Result<&AtomicU64, SwapError> {
        self.check(slot)?;
        let t = self.table.as_ref().ok_or(SwapError::NoTable)?;
        Ok(&t[slot as usize])
    }

    /// The slot's swap-cache value, if any: lock-free, one load.
    ///
    /// Models `swap_cache_get_folio` → `swap_table_get` (under RCU in the
    /// kernel). The value may be stale by the time the caller uses it, as a
    /// folio the kernel finds may leave the swap cache before it is locked:
    /// the caller must be able to tell (the fault model's frames are never
    /// freed as memory, and a lookup re-checks the folio under its lock, as
    /// `folio_try_get` + `folio_lock` + the `folio->swap` check do).
    ///
    /// Errors: [`SwapError::NoTable`], [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    #[inline]
    pub fn table_get(&self, slot: u64) -> Result<Option<NonZeroU64>, SwapError> {
        // Acquire: pairs with the Release of `table_add`, so a reader that
        // sees a value sees what its adder did before adding it
        // (`rcu_dereference` against `rcu_assign_pointer`).
        Ok(NonZeroU64::new(self.entry(slot)?.load(Ordering::Acquire)))
    }

    /// Adds `value` as the slot's swap-cache value. The caller holds the
    /// slot's `SWAP_HAS_CACHE` pin (from [`SwapMap::swapcache_prepare`] or
    /// [`SwapMap::alloc`]), which makes it the only writer of the entry.
    ///
    /// Models `swap_cache_add_folio` (`__swap_cache_add_folio`); the
    /// occupied check is the one seed 002 asks for, made where the value is
    /// stored, so two folios can never be added for one slot.
    ///
    /// Errors: [`SwapError::NotCached`] when the slot has no pin (or is the
    /// SYNC state, which is not a swap-cache pin), [`SwapError::Exists`]
    /// when the entry holds a value already, [`SwapError::NoEntry`] for a
    /// free slot, [`SwapError::Bad`], [`SwapError::NoTable`],
    /// [`SwapError::OutOfRange`]. The table is unchanged on error.
    ///
    /// Context: takes the slot's cluster lock.
    pub fn table_add(&self, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        let e = self.entry(slot)?;
        let _c = self.lock_cluster_of(slot);
        // Relaxed: the flag is the caller's own pin, stable for it; the
        // load only reports misuse.
        match self.byte(slot).load(Ordering::Relaxed) {
            SWAP_FREE => return Err(SwapError::NoEntry { slot }),
            SWAP_MAP_BAD => return Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => return Err(SwapError::NotCached { slot }),
            b if b & SWAP_HAS_CACHE == 0 => return Err(SwapError::NotCached { slot }),
            _ => {}
        }
        Self::store_if_empty(e, slot, value)
    }

    /// Stores `value` in an empty entry. Context: the cluster lock is held
    /// (all writers take it, so the check and the store are one step).
    #[inline]
    fn store_if_empty(e: &AtomicU64, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        // Relaxed: writers are serialised by the cluster lock we hold.
        if e.load(Ordering::Relaxed) != 0 {
            return Err(SwapError::Exists { slot });
        }
        // Release: pairs with the Acquire of `table_get`.
        e.store(value.get(), Ordering::Release);
        Ok(())
    }

    /// Removes the slot's swap-cache value if it is `value`. The caller
    /// owns the cached folio (holds its lock) and drops the pin afterwards
    /// ([`SwapMap::swapcache_clear`]).
    ///
    /// Models `swap_cache_del_folio` (`__swap_cache_del_folio`), which
    /// replaces the folio with a shadow (here: empties the entry).
    ///
    /// Errors: [`SwapError::TableMismatch`] when the entry holds another
    /// value or none (the table is unchanged), [`SwapError::NoTable`],
    /// [`SwapError::OutOfRange`].
    ///
    /// Context: takes the slot's cluster lock.
    pub fn table_del(&self, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        let e = self.entry(slot)?;
        let _c = self.lock_cluster_of(slot);
        Self::clear_if(e, slot, value)
    }

    /// Empties an entry holding `value`. Context: the cluster lock is held.
    #[inline]
    fn clear_if(e: &AtomicU64, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        Self::holds(e, slot, value)?;
        // Relaxed: an empty entry publishes nothing; a reader that still
        // sees the old value re-checks the folio under its lock.
        e.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Whether an entry holds `value` ([`SwapError::TableMismatch`] if
    /// not). Context: the cluster lock is held.
    #[inline]
    fn holds(e: &AtomicU64, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        // Relaxed: writers are serialised by the cluster lock we hold.
        if e.load(Ordering::Relaxed) == value.get() {
            Ok(())
        } else {
            Err(SwapError::TableMismatch { slot })
        }
    }

    /// Removes the slot's swap-cache value `value`, drops one reference and
    /// the `SWAP_HAS_CACHE` pin, all in one cluster-locked step: the end of
    /// an exclusive swap-in from the swap cache (`swap_free` under the PTE
    /// lock, then `folio_free_swap`: `swap_cache_del_folio` +
    /// `put_swap_folio`). See [`SwapMap::free_and_clear`] for why one step
    /// gives the same result.
    ///
    /// Errors: [`SwapError::TableMismatch`] (checked first), then as
    /// [`SwapMap::free_and_clear`]; on any error nothing changes.
    ///
    /// Context: takes the slot's cluster lock; may run the free-notify hook.
    pub fn table_del_free_and_clear(
        &self,
        slot: u64,
        value: NonZeroU64,
    ) -> Result<Freed, SwapError> {
        let e = self.entry(slot)?;
        let (nb, mut c) = self.update_count_checked(
            slot,
            || Self::holds(e, slot, value),
            |b, cont| crate::map::free_and_clear_step(slot, b, cont),
        )?;
        // Relaxed: as in `clear_if`.
        e.store(0, Ordering::Relaxed);
        Ok(self.finish_put(slot, nb, &mut c))
    }

    /// Pins and adds a batch of slots under their cluster locks, one lock
    /// round trip per run of slots in the same cluster: for each `(slot,
    /// value)`, sets `SWAP_HAS_CACHE` as [`SwapMap::swapcache_prepare`] does
    /// and, if that succeeded, stores `value` in the slot's entry; the
    /// outcome is written to `results` (items beyond `results.len()` are not
    /// processed).
    ///
    /// Models swap-in readahead on the swap table (Linux 6.18:
    /// `swapcache_prepare` and `swap_cache_add_folio` for each slot of
    /// `swap_cluster_readahead`'s window, the add under `ci->lock`).
    ///
    /// Because the pin and the add happen under the cluster lock, which
    /// every count change also takes, a racing put of a slot's last
    /// reference comes either before (the pin then fails: the slot is free)
    /// or after the add, and then finds the value with
    /// [`SwapMap::table_get`] (the lock orders the two); the adder needs no
    /// re-check of the count afterwards.
    ///
    /// Errors, per item, as [`SwapMap::swapcache_prepare`]
    /// ([`SwapError::Exists`], [`SwapError::NoEntry`], [`SwapError::Bad`],
    /// [`SwapError::OutOfRange`]), plus [`SwapError::NoTable`] (after the
    /// range check, as for every table operation); only the first
    /// `min(items.len(), results.len())` results are written. An entry
    /// found occupied despite the pin just taken (only a caller breaking
    /// the protocol can cause it) is reported as [`SwapError::Exists`], with
    /// the pin dropped again and the entry intact.
    ///
    /// Context: takes each cluster lock once per run; no hook runs.
    pub fn table_prepare_add_many(
        &self,
        items: &[(u64, NonZeroU64)],
        results: &mut [Result<(), SwapError>],
    ) {
        let mut held: Option<(u64, crate::sync::MutexGuard<'_, _>)> = None;
        for (&(slot, value), r) in items.iter().zip(results.iter_mut()) {
            // The range first, then the table, as every table operation.
            let e = match self.entry(slot) {
                Ok(e) => e,
                Err(err) => {
                    *r = Err(err);
                    continue;
                }
            };
            let ci = slot >> self.cluster_shift();
            if held.as_ref().is_none_or(|(c, _)| *c != ci) {
                drop(held.take()); // unlock the previous cluster first
                held = Some((ci, self.lock_cluster_of(slot)));
            }
            *r = self.try_pin(slot).and_then(|()| {
                Self::store_if_empty(e, slot, value).inspect_err(|_| {
                    self.unpin_unlocked(slot);
                })
            });
        }
    }

    /// Adds `value` as the swap-cache value of every slot of a folio's
    /// range, all or nothing: a large folio sits in each of its `nr` slots,
    /// as the kernel stores the same folio in each entry of the swap table
    /// (and, before it, in each index of the xarray). The caller holds the
    /// pins of the whole range ([`SwapMap::swapcache_prepare_nr`] or
    /// [`SwapMap::alloc_order`]).
    ///
    /// Models `swap_cache_add_folio` of a large folio (6.18: one
    /// `ci->lock` round trip, the `nr` entries written under it).
    ///
    /// Errors: the range errors ([`SwapError::EmptyRange`],
    /// [`SwapError::OutOfRange`], [`SwapError::Unaligned`],
    /// [`SwapError::CrossesCluster`]), [`SwapError::NoTable`], then for the
    /// first failing slot those of [`SwapMap::table_add`]; the table is
    /// unchanged on error.
    ///
    /// Context: takes the cluster lock.
    pub fn table_add_nr(&self, slot: u64, nr: u32, value: NonZeroU64) -> Result<(), SwapError> {
        let t = self.table_range(slot, nr)?;
        let _c = self.lock_cluster_of(slot);
        for (s, e) in (slot..).zip(t) {
            // Relaxed: the flags are the caller's own pins; a misuse check.
            match self.byte(s).load(Ordering::Relaxed) {
                SWAP_FREE => return Err(SwapError::NoEntry { slot: s }),
                SWAP_MAP_BAD => return Err(SwapError::Bad { slot: s }),
                b if b == SWAP_MAP_SYNC || b & SWAP_HAS_CACHE == 0 => {
                    return Err(SwapError::NotCached { slot: s });
                }
                // Relaxed: writers are serialised by the cluster lock.
                _ if e.load(Ordering::Relaxed) != 0 => return Err(SwapError::Exists { slot: s }),
                _ => {}
            }
        }
        for e in t {
            // Release: pairs with the Acquire of `table_get`.
            e.store(value.get(), Ordering::Release);
        }
        Ok(())
    }

    /// Removes a large folio's `value` from every slot of its range if each
    /// holds it, all or nothing (`swap_cache_del_folio` of a large folio).
    ///
    /// Errors: the range errors, [`SwapError::NoTable`], then
    /// [`SwapError::TableMismatch`] for the first slot holding another
    /// value or none; the table is unchanged on error.
    ///
    /// Context: takes the cluster lock.
    pub fn table_del_nr(&self, slot: u64, nr: u32, value: NonZeroU64) -> Result<(), SwapError> {
        let t = self.table_range(slot, nr)?;
        let _c = self.lock_cluster_of(slot);
        for (s, e) in (slot..).zip(t) {
            Self::holds(e, s, value)?;
        }
        for e in t {
            // Relaxed: as in `clear_if`.
            e.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The end of an exclusive large-folio swap-in from the swap cache:
    /// removes `value` from the range, and drops one reference and the pin
    /// of each slot, in one cluster-locked step (the large-folio form of
    /// [`SwapMap::table_del_free_and_clear`]). Returns how many slots were
    /// freed.
    ///
    /// Errors: the range errors, [`SwapError::NoTable`], then for the first
    /// failing slot [`SwapError::TableMismatch`] or those of
    /// [`SwapMap::free_and_clear`]; nothing changes on error.
    ///
    /// Context: takes the cluster lock; may run the free-notify hook.
    pub fn table_del_free_and_clear_nr(
        &self,
        slot: u64,
        nr: u32,
        value: NonZeroU64,
    ) -> Result<u32, SwapError> {
        let t = self.table_range(slot, nr)?;
        let freed = self.update_range_checked(slot, nr, |s, b, cont| {
            Self::holds(&t[(s - slot) as usize], s, value)?;
            crate::map::free_and_clear_step(s, b, cont)
        })?;
        for e in t {
            // Relaxed: as in `clear_if`.
            e.store(0, Ordering::Relaxed);
        }
        Ok(freed)
    }

    /// The table entries of a folio's range, after the range check.
    fn table_range(&self, slot: u64, nr: u32) -> Result<&[AtomicU64], SwapError> {
        self.check_range(slot, nr, true)?;
        let t = self.table.as_ref().ok_or(SwapError::NoTable)?;
        Ok(&t[slot as usize..(slot + u64::from(nr)) as usize])
    }

    /// Number of non-empty swap-table entries (a scan of the table; for
    /// statistics and checks, not for fast paths). 0 without a table.
    ///
    /// Context: any; the result is a snapshot only when the map is quiet.
    pub fn table_len(&self) -> u64 {
        self.table.as_ref().map_or(0, |t| {
            // Relaxed: a statistics snapshot.
            t.iter().filter(|e| e.load(Ordering::Relaxed) != 0).count() as u64
        })
    }
}
