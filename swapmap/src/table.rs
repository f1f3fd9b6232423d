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
//! # Who writes an entry
//!
//! An entry is non-zero only while the slot's `SWAP_HAS_CACHE` flag is set,
//! and it is written only by the holder of that flag: the task that took the
//! pin with [`SwapMap::swapcache_prepare`] (or got the slot from
//! [`SwapMap::alloc`], which hands it out pinned) adds its folio with
//! [`SwapMap::table_add`]; the folio's owner (in the kernel: whoever holds
//! the folio lock) removes it with [`SwapMap::table_del`] before dropping the
//! pin. So every transition of an entry is made by one writer at a time, and
//! a compare-and-swap is enough: it needs no lock.
//!
//! # Where the model differs from the kernel on purpose
//!
//! - The kernel writes entries under the cluster lock (`ci->lock`), because
//!   there the table also replaces the count byte and the flag. Here the
//!   flag stays in the slot byte and already gives a single writer; adding
//!   a cluster-lock round trip would only cost.
//! - One flat array for the whole device instead of a table per cluster
//!   allocated while the cluster is in use (`swap_cluster_alloc_table`):
//!   8 bytes per slot, allocated once.
//! - Values are opaque non-zero words chosen by the caller (the fault model
//!   stores frame numbers); shadow entries are not modelled.

use std::num::NonZeroU64;

use crate::error::SwapError;
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
    /// Context: any; takes no lock.
    pub fn table_add(&self, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        let e = self.entry(slot)?;
        // Relaxed: the pin was taken by this caller, so the flag is stable
        // for it; the load only reports misuse.
        match self.byte(slot).load(Ordering::Relaxed) {
            SWAP_FREE => return Err(SwapError::NoEntry { slot }),
            SWAP_MAP_BAD => return Err(SwapError::Bad { slot }),
            SWAP_MAP_SYNC => return Err(SwapError::NotCached { slot }),
            b if b & SWAP_HAS_CACHE == 0 => return Err(SwapError::NotCached { slot }),
            _ => {}
        }
        // Release: pairs with the Acquire of `table_get`. The CAS (not a
        // store) keeps an occupied entry intact on misuse.
        e.compare_exchange(0, value.get(), Ordering::Release, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|_| SwapError::Exists { slot })
    }

    /// Removes the slot's swap-cache value if it is `value`. The caller
    /// owns the cached folio (holds its lock) and drops the pin afterwards
    /// ([`SwapMap::swapcache_clear`], [`SwapMap::free_and_clear`]).
    ///
    /// Models `swap_cache_del_folio` (`__swap_cache_del_folio`), which
    /// replaces the folio with a shadow (here: empties the entry).
    ///
    /// Errors: [`SwapError::TableMismatch`] when the entry holds another
    /// value or none (the table is unchanged), [`SwapError::NoTable`],
    /// [`SwapError::OutOfRange`].
    ///
    /// Context: any; takes no lock.
    pub fn table_del(&self, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        // Release: orders the owner's work on the folio before the entry
        // goes, for a reader that finds the entry empty and then takes the
        // pin (whose own Acquire pairs with the pin's release anyway).
        self.entry(slot)?
            .compare_exchange(value.get(), 0, Ordering::Release, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|_| SwapError::TableMismatch { slot })
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
