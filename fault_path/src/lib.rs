//! `fault_path`: the Linux swap-in fault path (`do_swap_page` in
//! `mm/memory.c`) and the synchronisation strategies proposed for it,
//! composed from [`swapmap`], [`swapcache`] and [`zswap_tree`].
//!
//! # Model
//!
//! ```text
//!   AddressSpace (mm_struct)          System (shared)
//!   ┌──────────────────────┐          ┌────────────────────────────────┐
//!   │ PTEs: atomic u64     │  swap    │ SwapMap   one byte per slot    │
//!   │  none│present│swap│  │ entry ──▶│ swap cache  slot → folio       │
//!   │  marker               │          │ Frames    refs, lock, flags    │
//!   │ one lock per 512 PTEs │          │ device    zram │ brd │ null     │
//!   └──────────────────────┘          │ strategy  bypass, pin-retry, … │
//!                                      └────────────────────────────────┘
//! ```
//!
//! - [`AddressSpace`]: PTEs as 64-bit atomics (see [`pte`]) with a split
//!   lock per [`PTES_PER_TABLE`] entries; [`AddressSpace::access`] runs the
//!   fault path and then the access under the PTE lock; `pageout`
//!   (`MADV_PAGEOUT`), `dontneed` (`MADV_DONTNEED`), `fork`.
//! - [`Frames`](frame::Frames): 4 KiB frames of atomic words, folio
//!   metadata (refcount, lock bit, swap-cache / uptodate / dirty flags, swap
//!   slot), and a free list that reuses frames.
//! - Devices behind [`SwapDevice`](device::SwapDevice): [`Zram`](device::Zram)
//!   (compressed, per-slot lock, synchronous, discards on free),
//!   [`Ramdisk`](device::Ramdisk) (brd, optional read delay),
//!   [`NullDevice`](device::NullDevice).
//! - The swap map's free-notify hook discards the device's copy, exactly
//!   once per freeing, as `swap_range_free` → `swap_slot_free_notify` does.
//!
//! # The fault path
//!
//! ```text
//!   access(vpn) ─ pte present ─▶ access under the PTE lock
//!       │ pte none ─▶ do_anonymous_page (zero page)
//!       │ pte swap ─▶ strategy.swap_in ─ Mapped ─▶ retry the access
//!       │                              └ Retry  ─▶ fault again (refault)
//!       │ pte marker ─▶ strategy.on_marker (wait), fault again
//! ```
//!
//! | strategy | what it does | source |
//! |---|---|---|
//! | `bypass` | skip the swap cache when the device is synchronous and the count is 1; no pin | 0bcac06f27d7 |
//! | `pin-retry` | pin with `swapcache_prepare`; a racer that gets "exists" faults again | 13ddaf26be32 v1/v2 |
//! | `pin-sleep` | as pin-retry, the racer first sleeps one tick | 13ddaf26be32 as merged |
//! | `pin-waitqueue` | the racer waits on a shared wait queue the holder wakes | 01626a182302 (6.12) |
//! | `sync-map` | `SWAP_MAP_SYNC` slot state; racers wait on the slot | proposal, seed 004 |
//! | `swap-count` | raise the count 1 -> 2 so racers take the swap-cache path | proposal, seed 004 |
//! | `pte-marker` | a marker PTE names the locked folio; racers wait on its lock | proposal, seeds 000/003 |
//! | `swapcache` | every swap-in goes through the swap cache | the non-direct path |
//!
//! A strategy is one [`Strategy`] impl plus one line in
//! [`strategy::STRATEGIES`]; the shared steps (swap-cache lookup, the
//! swap-cache path with readahead, a private read, the `pte_same` install)
//! are methods of [`strategy::SwapFault`].
//!
//! # The swap cache
//!
//! Two ways to keep it, chosen by [`SystemConfig::swap_cache`] (and
//! switchable between runs with [`System::set_swap_cache_kind`]):
//! - [`SwapCacheKind::Table`] (default): the swap table of Linux 6.18, a
//!   word per slot beside the swap map ([`swapmap::SwapMap::table_get`]),
//!   read with one load, written under the cluster lock that also orders
//!   every count change. Readahead pins and adds its window in one lock
//!   round trip; the end of an exclusive swap-in deletes the entry and
//!   drops the reference and the pin in another. No epoch pin: frames are
//!   never freed as memory, and a lookup re-checks the folio under its lock.
//! - [`SwapCacheKind::XArray`]: an xarray per 64 MiB of swap, as up to
//!   Linux 6.17 ([`swapcache::SwapCache`]), read under an epoch guard and
//!   written under the tree's lock. The seed-002 legacy mode needs it.
//!
//! The kernel's measurement in seed 004 (the swap-cache path 20.3% slower
//! than the bypass path) is of the xarray era; `swapin bench` prints both.
//!
//! zswap can sit in front of the device ([`SystemConfig::zswap`]): page-out
//! stores into it, swap-in loads from it ([`ZswapLoad::Exclusive`], as
//! Linux 6.5-6.8, or [`ZswapLoad::ExclusiveIfCached`], 25cd241408a2), a slot
//! free invalidates it, and a pool limit writes back to the device.
//! [`SystemConfig::legacy_add_to_swap_cache`] restores the pre-fix swap
//! cache of seed 002 (negative control only).
//!
//! # Verification
//!
//! `tests/loom.rs` models each race of the design with one page and a
//! 2-slot device, for every strategy; the unfixed variants are negative
//! controls that loom must catch (ABA with `bypass`; zswap double swap-in
//! with `bypass` + exclusive, and with `swap-count` in both zswap modes;
//! seed 002 in the legacy mode). `tests/race.rs` runs the swap-stress-race
//! harness ([`harness`]). The models run with the swap table; the
//! swap-cache strategy's ABA, zap and seed-002 models also run with the
//! xarray. The loom models also found three holes, fixed
//! here: `folio_free_swap`'s count read must be ordered against a racing
//! put (the kernel reads it under the cluster lock; the model uses a
//! read-modify-write of the slot byte, [`swapmap::SwapMap::has_count_ordered`],
//! and loom catches a plain load); `pte-marker` must not install its
//! marker while a page-out of the reused slot is still writing it; and the
//! `swap-count` 1 -> 2 step must refuse a slot with `SWAP_HAS_CACHE` set.
//!
//! `tests/shuttle.rs` runs the same races, and races 5-7 of large folios,
//! at sizes loom cannot explore (3-6 threads: workers walking the pages in
//! opposite directions, a page-out thread, a zap thread; 8-256 pages;
//! every strategy) under shuttle's PCT and random schedulers, 10^4
//! schedules per scenario by default (`SHUTTLE_ITERATIONS`), built with
//! `RUSTFLAGS="--cfg shuttle"`. Every negative control that loom catches
//! is caught there too. A failure prints `failing schedule: "<hex>"`;
//! `SHUTTLE_REPLAY='<hex>'` replays it once, deterministically, through the
//! same test (`-- --exact <test>`), and `SHUTTLE_SCHEDULE_DIR` /
//! `SHUTTLE_REPLAY_FILE` do the same through files (`shuttle::replay`,
//! `shuttle::replay_from_file`; the module docs of `tests/shuttle.rs` give
//! the commands). Under `cfg(shuttle)` the crate takes its loom shapes
//! (2-word frames, one counter and free-list shard, a bounce buffer per
//! read, a wait queue of yields), since shuttle runs every model thread on
//! the test's one OS thread, where thread-locals are shared.

//! # Where the model differs from the kernel on purpose
//!
//! - The access after a fault runs under the PTE lock: it stands in for the
//!   TLB shootdown that keeps a CPU from writing a page being unmapped.
//! - A shared swap entry (after fork) is mapped as a private copy at once;
//!   the kernel maps the folio read-only and copies on the first write.
//! - A zap that leaves only a swap-cache folio behind waits for the folio
//!   lock and removes it; the kernel trylocks and leaves a locked folio to
//!   reclaim. The model has no background reclaim, and wants exact
//!   accounting of slots and frames after every run.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

mod accounting;
pub mod device;
pub mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod harness;
mod mm;
pub mod pte;
mod stats;
pub mod strategy;
mod sync;
mod system;
mod waitq;

pub use accounting::check_accounting;
pub use mm::{Access, AddressSpace, INDEX_TAG, PTES_PER_TABLE, index_word};
pub use stats::FaultStats;
pub use strategy::{Strategy, SwapIn};
pub use system::{
    FaultError, LargeBug, SwapCacheKind, System, SystemConfig, ZswapConfig, ZswapLarge, ZswapLoad,
};
