//! `swapmap`: a cluster-locked, reference-counted swap slot map, modelled on
//! the `swap_map` of Linux `mm/swapfile.c`.
//!
//! A swap device is an array of slots; each slot has one byte of state
//! (`swap_info_struct->swap_map[offset]`). The byte counts the references to
//! the slot (page-table entries holding the swap entry, shmem), and carries
//! the `SWAP_HAS_CACHE` flag that says a folio for the slot is in (or on its
//! way into) the swap cache, or that a swap-in holds the slot pinned.
//!
//! # The slot byte
//!
//! ```text
//!  bit   7                6                5..0
//!        COUNT_CONTINUED  SWAP_HAS_CACHE   count (0x01..=0x3e = SWAP_MAP_MAX)
//!
//!  0x00              free
//!  0x01..=0x3e       count, no cache
//!  0x3f              SWAP_MAP_BAD (slot 0, the swap header, and marked slots)
//!  0x40              cache only (count 0): just allocated, or pinned after
//!                    the last reference went
//!  0x41..=0x7e       count + cache
//!  0x7f              SWAP_MAP_SYNC = SWAP_HAS_CACHE | SWAP_MAP_BAD: a
//!                    synchronous swap-in owns the slot; implies count 1
//!                    and a cache pin (this model's encoding of the proposal)
//!  0x80 | ...        count continues in the slot's continuation digit:
//!                    total = (byte & 0x3f) + 63 * digit
//! ```
//!
//! # Transitions
//!
//! ```text
//!  operation (kernel function)              from              to               lock
//!  ---------------------------------------  ----------------  ---------------  ---------
//!  alloc (folio_alloc_swap)                 free              cache only       cluster
//!  duplicate (swap_duplicate)               count|cache       count+1          cluster
//!  duplicate_if_single (swap-count prop.)   count 1           count 2          cluster
//!  swapcache_prepare                        count, no cache   count + cache    none (CAS)
//!  swapcache_clear (put_swap_folio)         count + cache     count            none (CAS)
//!                                           cache only        free             cluster
//!  free (swap_free)                         count n           n-1; free if     cluster
//!                                                             0 and no cache
//!  free (zap during a sync swap-in)         SYNC              cache only       cluster
//!  sync_acquire (SWAP_MAP_SYNC proposal)    count 1, no cache SYNC             none (CAS)
//!  sync_release                             SYNC              count 1          none (CAS)
//!                                           cache only        free             cluster
//!  sync_release_free                        SYNC              free             cluster
//!  mark_bad (setup_swap_map)                free              bad              cluster
//! ```
//!
//! # Large folios
//!
//! ```text
//!  operation (kernel function)                 slots                        lock
//!  ------------------------------------------  ---------------------------  -------
//!  alloc_order (folio_alloc_swap, order k)     2^k aligned, one cluster     cluster
//!  swapcache_prepare_nr (swapcache_prepare nr) a folio's range, all or none cluster
//!  swapcache_prepare_single_nr, sync_acquire_nr  (count 1 on each)          cluster
//!  free_nr (swap_free_nr), duplicate_nr,       any nr of one cluster        cluster
//!  swapcache_clear_nr (swapcache_clear nr)
//!  free_and_clear_nr, sync_release[_free]_nr   a folio's range              cluster
//!  table_add_nr / table_del_nr / ..._nr        a folio's range              cluster
//! ```
//!
//! Allocation keeps, per order, each CPU's current cluster and the
//! `nonfull_clusters[order]` and `frag_clusters[order]` lists (a cluster
//! takes on the order of its first allocation while empty); a large order
//! that finds no aligned run fails, and the caller splits the folio
//! (`THP_SWPOUT_FALLBACK`, counted in [`SwapMapStats::order_fallbacks`]).
//! Each range operation is one cluster-locked step, all or nothing: the
//! first slot that the single-slot operation would refuse is named in the
//! error and nothing changes (see the `range` module source for how a
//! racing lock-free pin is undone). Ranges may not cross a cluster; the
//! operations on a folio's range also need it naturally aligned.
//!
//! Every other (state, operation) pair is refused with a [`SwapError`] and
//! leaves the map unchanged: a double free, clearing a flag that is not set,
//! duplicating a free or bad slot, an out-of-range slot.
//!
//! # Locking and atomicity
//!
//! Slots are grouped in clusters of [`SWAPFILE_CLUSTER`] (512) slots; tests
//! and loom use clusters of 2-4. Each cluster has a lock (`ci->lock`) that
//! serialises the count changes of its slots, its used count and its move
//! between the free / nonfull / full lists (the lists themselves are under a
//! map-wide lock, `si->lock`; lock order: cluster, then lists).
//!
//! The flag transitions that can neither free nor allocate a slot take no
//! lock: `swapcache_prepare`, `sync_acquire`, and `swapcache_clear` /
//! `sync_release` while the slot keeps a reference. Each is one
//! compare-and-swap on the slot byte; they refuse a free byte and never
//! produce one, so the cluster accounting stays under the cluster lock. Because they can run while a locked path is updating the
//! same byte, the locked paths also update the byte with a compare-and-swap
//! loop (`update_locked`), never a plain store: no `SWAP_HAS_CACHE` bit set
//! by a racing prepare can be lost. The loom suite (`tests/loom.rs`) checks
//! this. The only plain stores are to free bytes (alloc, mark_bad), which
//! the lock-free paths never touch.
//!
//! The transition of a byte to free is made by exactly one successful CAS,
//! under the cluster lock, and the free-notify hook ([`FreeNotify`]) runs
//! right after it under the same lock: exactly once per freeing, and before
//! an allocator (which needs that lock) can hand the slot out again. This is
//! where zram discards the slot's data (`swap_slot_free_notify`) and zswap
//! invalidates its entry.
//!
//! Allocation hands out slots with `SWAP_HAS_CACHE` already set, from the
//! calling thread's current cluster (`percpu_swap_cluster`; threads are
//! spread round-robin over a fixed number of "CPUs"), so a freshly allocated
//! slot cannot be raced by swap-in readahead: that is the fix of the two
//! contrary uses of `add_to_swap_cache` (seed 002).
//!
//! # The swap table
//!
//! A map built with [`SwapMapBuilder::swap_table`] also keeps one word per
//! slot for the slot's swap-cache value, as Linux 6.18's swap table does:
//! [`SwapMap::table_get`] is one lock-free load, and [`SwapMap::table_add`] /
//! [`SwapMap::table_del`] are made by the holder of the slot's
//! `SWAP_HAS_CACHE` pin, the entry's only writer. See the `table` module
//! source for the protocol and where it differs from the kernel.
//!
//! # Where the model differs from the kernel on purpose
//!
//! - Continuation counts are one `u32` digit per slot instead of chains of
//!   continuation pages; the digit is allocated per cluster on first use.
//!   The limit is configurable so that the out-of-memory case can be tested.
//! - `SWAP_MAP_SYNC` was never merged; its encoding and its release
//!   operations are this model's (see [`SWAP_MAP_SYNC`]).
//! - `swapcache_clear` takes no lock when the slot keeps a reference (the
//!   kernel always takes `ci->lock`): it is then a flag-only transition.
//! - There is one swap device, so a slot is just its offset (`u64`).
//! - The swap slots cache is not modelled (removed upstream in 6.15).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod lists;
mod map;
mod range;
pub mod reference;
mod slot;
mod sync;
mod table;

pub use error::{ConfigError, SwapError};
pub use lists::SWAP_NR_ORDERS;
pub use map::{
    FreeNotify, Freed, MAX_SLOTS, SWAPFILE_CLUSTER, SYNC_SPIN_LIMIT, SwapMap, SwapMapBuilder,
    SwapMapStats, SyncWait, UsedSlots,
};
pub use slot::{
    COUNT_CONTINUED, SWAP_FREE, SWAP_HAS_CACHE, SWAP_MAP_BAD, SWAP_MAP_MAX, SWAP_MAP_SYNC,
    SlotState,
};

#[cfg(test)]
mod tests;
