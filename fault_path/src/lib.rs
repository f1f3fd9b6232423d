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
//!   │  none│present│swap│  │ entry ──▶│ SwapCache slot → folio (frame) │
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
//! | `swapcache` | every swap-in goes through the swap cache | the non-direct path |
//!
//! A strategy is one [`Strategy`] impl plus one line in
//! [`strategy::STRATEGIES`].
//!
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

pub use mm::{Access, AddressSpace, INDEX_TAG, PTES_PER_TABLE, index_word};
pub use stats::FaultStats;
pub use strategy::{Strategy, SwapIn};
pub use system::{FaultError, System, SystemConfig, ZswapConfig, ZswapLoad};
