//! `swapcache`: an xarray-like radix tree with lock-free reads
//! ([`XArray`], lib/xarray.c), and the Linux swap cache built on it
//! ([`SwapCache`], mm/swap_state.c).
//!
//! # Design notes
//!
//! ## Node layout
//!
//! ```text
//!   XArray { root: AtomicPtr<Node>, collector, CachePadded{ lock, ptrs, values } }
//!              |
//!              v   shift = 6 (height 2, indices 0..4096)
//!   Node { shift, count, slots[64] }          slot of index i: (i >> shift) & 63
//!              |  slots[0]       ...  slots[k]
//!              v                         v   shift = 0 (leaves)
//!   Node { 0, count, slots[64] }   Node { 0, count, slots[64] }
//!              |  leaf word: null | value entry | P::into_raw (pointer or index)
//! ```
//!
//! Nodes have [`FANOUT`] = 64 slots (6 index bits per level,
//! `XA_CHUNK_SHIFT`), 4 under `cfg(loom)`. A node's `shift` never changes;
//! the root's shift gives the height, and a root of shift `s` covers the
//! indices below `2^(s + 6)`. `count` (non-empty slots) and the tree's
//! entry counters are touched only under the lock. Unlike the kernel, index
//! 0 is never stored in the head itself: the root is always a node (or
//! null), which keeps the reader to one kind of step.
//!
//! ## Entry encoding
//!
//! A leaf slot is one `AtomicPtr<()>` word, tagged by bit 0, as
//! `xa_mk_value` does:
//!
//! | word | meaning |
//! |---|---|
//! | null | empty |
//! | `(v << 1) \| 1` | value entry `v` ([`ValueEntry`], up to 63 bits; an integer without provenance, never dereferenced) |
//! | anything else | a pointer entry: the word [`Pointer::into_raw`] made (bit 0 clear, never null) |
//!
//! What a pointer entry is depends on the tree's pointer type `P`
//! ([`Pointer`]), stored in the slot as it is, with no allocation of the
//! tree's own (the kernel stores a `struct folio *` the same way):
//!
//! | `P` | slot word | a reader gets | retired on remove |
//! |---|---|---|---|
//! | `Box<T>` (`T` aligned to 2 or more) | `Box::into_raw` | `&'g T` | the `Box`, dropped after the grace period |
//! | `Arc<T>` (`T` aligned to 2 or more) | `Arc::into_raw` | [`ArcRef<'g, T>`] (`to_arc` = `folio_try_get`) | one strong count, dropped after the grace period |
//! | `u32`, `u16`, `u8` (unowned index, e.g. a frame number) | `(i << 2) \| 2`, an integer without provenance | the index | nothing: no epoch deferral |
//!
//! Before the `Pointer` parameter the tree boxed every `T` itself (`XArray<T>` held
//! `Box<Aligned<T>>`): one `malloc` per insert and one deferred `free` per
//! remove. An insert + remove pair on dense keys took 657 instructions
//! (callgrind), of which `malloc`, the deferral and the free took about
//! 300 and a second locked walk (insert walked once to check, once to
//! store) most of the rest; with `P = u32` and one walk it takes 316.
//! `XArray<Box<T>>` is the old layout, spelled out.
//!
//! Interior slots hold null or a child node; the level, not a tag, tells
//! them apart (`xa_is_node` is not needed). Pointer arithmetic uses the
//! strict-provenance API (`addr`, `without_provenance_mut`), so miri runs
//! with `-Zmiri-strict-provenance`.
//!
//! ## Writers, growing and shrinking
//!
//! Every modification takes the tree's lock (`xa_lock`), walks from the root
//! with `Relaxed` loads (the lock orders them) and then:
//! - **grow** (`xas_expand`): while the root does not cover the index, a new
//!   root of shift `s + 6` is allocated with slot 0 = the old root and
//!   published by a Release store to `root`. A reader that loaded the old
//!   root keeps walking a subtree that is still current; for an index the
//!   old root does not cover it answers "absent", which was true when it
//!   loaded the root.
//! - **create** (`xas_create`): missing interior nodes and the leaf are
//!   allocated, initialised, and published by a Release store into their
//!   parent's slot. The entry is stored last.
//! - **remove** (`xa_erase`): the leaf slot is set to null; empty nodes are
//!   unlinked bottom-up (`xas_delete_node`), the root last.
//! - **shrink** (`xas_shrink`): while the root's only child is in slot 0,
//!   that child becomes the root. The old root keeps slot 0 pointing at it.
//!
//! An unlinked node's slots are never written again while a reader can be
//! inside it (it is reused only after its grace period, see "Node cache"),
//! so a reader still inside it sees the tree as it was at the unlink, a state
//! that existed during the reader's walk: each read is linearisable at some
//! instant of the call.
//!
//! ## Memory ordering and reclamation
//!
//! - Every store of a non-null word (`root` or a slot) is **Release**, and
//!   every reader load of `root` or a slot is **Acquire**. Each reader
//!   Acquire pairs with the Release store that wrote the word it read: the
//!   root store in `ensure_leaf` (new or grown root) or in `shrink`, the
//!   child store in `ensure_leaf` or `ensure_home`, the entry store in
//!   `store_if`, or the store of a copied leaf in `store_range_if` /
//!   `remove_range_if` (`set_home`).
//! - A node or an entry's pointee is fully written (the caller's `Box::new`
//!   / `Arc::new` before `into_raw`, or the reset and filling of a
//!   recycled or copied node, slot 0 of a grown root) *before*
//!   the Release store that makes it reachable, so a reader that read the
//!   pointer also sees the contents: it cannot see a half-initialised node or value. Contents
//!   written by earlier critical sections (the old root under a grown root,
//!   the child hoisted by a shrink) reach the reader through the lock's
//!   happens-before chain followed by the Release store.
//! - Stores of null are Release too (a uniform rule; they publish nothing).
//! - Reclamation: a writer retires what it unlinks (replaced or removed
//!   entries, pruned nodes, the old root of a shrink) with
//!   `Guard::defer_unchecked`, *after* the unlinking store: one deferred
//!   function per locked operation, for the entry and every node it
//!   unlinked. crossbeam-epoch runs the deferred function only when every
//!   thread that was pinned at that point has unpinned (two epoch advances,
//!   each behind a SeqCst fence), and a thread that pins later cannot reach
//!   the unlinked object. Readers pin before their first load, and every
//!   reference they get is bound to both the guard and the tree borrow
//!   (`load<'g>(&'g self, .., &'g Guard) -> Entry<'g, T>`), so it cannot
//!   outlive the protection. Dropping the tree frees everything still
//!   reachable; retired objects are freed (nodes: cached) by the collector
//!   (when it advances, or when it is dropped). Retired `P`s may be dropped
//!   on another thread or after the tree: hence `Pointer: Send + 'static`.
//!   A type without drop glue (an unowned index) is not retired at all:
//!   a remove that unlinks no node defers nothing.
//! - Guards must come from the tree's own collector (checked, panics
//!   otherwise): a guard of another collector would not hold back this
//!   tree's reclamation.
//!
//! ## Node cache
//!
//! Nodes are not freed after their grace period but go back to a cache of
//! the tree, the model of the kernel's `radix_tree_node_cachep` slab: node
//! allocation (`xas_alloc`) takes from it first, and the deferred function
//! (`xa_node_free` → `call_rcu` → `radix_tree_node_rcu_free`) puts back.
//!
//! ```text
//!   cache free list ──alloc: pop, reset all slots and count──┐
//!        ^                        (or Box::new if empty)     v
//!        |                                   Release store: in the tree
//!   put (cache lock), or free if full                        |
//!        ^                         unlink (tree lock): prune, shrink
//!        |                                                   v
//!   deferred fn ── after every guard pinned at the defer ── Retired batch
//! ```
//!
//! - **Soundness.** A node reaches a free list only inside the deferred
//!   function, so it is reused only once no guard can reach it, exactly the
//!   condition under which it used to be freed. The function holds an
//!   `Arc` of the cache, so it may run after the tree is dropped; the last
//!   `Arc` frees the cached nodes.
//! - **Reset.** Allocation clears every slot and the count of a recycled
//!   node (a `memset`; the kernel clears in `radix_tree_node_rcu_free`, on
//!   the way into the slab, we on the way out), so no child, pointer or
//!   value entry of its previous life shows. There is one free
//!   list per level and a node keeps its `shift` for life, so the field
//!   readers check under loom is never rewritten.
//! - **Bound.** At most 64 nodes (34 KiB) per tree; beyond that retired
//!   nodes are freed. The cache is per tree, not per [`SwapCache`]: every
//!   access to a node, recycled or not, is then ordered by one lock (the
//!   tree's), which keeps the loom model exact, and trees (one per 64 MiB of
//!   swap) do not contend on a shared list. Unlike a slab, the cache does
//!   not shrink under memory pressure: a tree holds its 34 KiB until it is
//!   dropped.
//! - **Batching.** The nodes one operation unlinks (a prune, a shrink) and
//!   the entry it removed go to one deferred function, not one each: a
//!   remove that empties a tree of height 3 defers once instead of four
//!   times.
//! - **Locks.** The tree's lock, then the cache's (allocation). The cache's
//!   lock is a leaf: nothing runs under it (no epoch operation, no
//!   allocation, no `T` code), so a deferred function that runs inside any
//!   epoch operation, on any thread, can take it.
//!
//! ## Kernel functions modelled
//!
//! | here | kernel |
//! |---|---|
//! | [`XArray::load`] | `xa_load` |
//! | [`XArray::insert`] | `xa_insert` / `__xa_insert` (`-EBUSY` when occupied) |
//! | [`XArray::store`] | `xa_store` |
//! | [`XArray::remove`] | `xa_erase` |
//! | [`XArray::compare_remove`], [`XArray::remove_if`] | `xa_cmpxchg(xa, index, old, NULL)` |
//! | [`XArray::range`], [`XArray::iter`] | `xa_for_each_range`, `xa_find` / `xa_find_after` |
//! | node cache (allocation, deferred return) | `radix_tree_node_cachep`, `xas_alloc`, `xa_node_free` → `radix_tree_node_rcu_free` |
//! | [`SwapCache::add`] | `add_to_swap_cache`, with the seed-002 existence check under the lock |
//! | [`SwapCache::delete`] | `__delete_from_swap_cache` / `delete_from_swap_cache` |
//! | [`SwapCache::get`] | `swap_cache_get_folio` / `filemap_get_folio` |
//! | [`SwapCache::get_shadow`], [`SwapCache::clear_shadow`] | `get_shadow_from_swap_cache`, `clear_shadow_from_swap_cache` |
//! | one tree per [`SWAP_ADDRESS_SPACE_PAGES`] slots | `swap_address_space`, `SWAP_ADDRESS_SPACE_SHIFT = 14` |
//!
//! | [`XArray::insert_range`], [`XArray::remove_range`] | `xas_create_range` + one `xas_store` per index under one `xa_lock` (the swap cache's large-folio add and delete); published as one leaf copy, see below |
//! | [`SwapCache::add_range`], [`SwapCache::delete_range`] | `add_to_swap_cache` / `__delete_from_swap_cache` of a folio of `nr` pages |
//! | [`SwapCache::get_entry`] | `filemap_get_entry` (`xa_load` of folio or shadow) |
//!
//! ## Multi-index ranges (large folios)
//!
//! A large folio of order `k` occupies its `nr = 2^k` naturally aligned
//! indices, each slot holding the same entry (a clone: [`SharedPointer`],
//! as the kernel stores the same `struct folio *` in each slot and takes
//! `nr` references). Orders go up to [`MAX_RANGE_ORDER`] (6: 64 pages), so
//! that a range lies in one leaf. A range add or delete is one locked
//! operation: it checks every index first (all or nothing; the error names
//! the first offending index), then builds a private copy of the leaf with
//! the range filled in (or cleared) and publishes it with **one** Release
//! store, retiring the old leaf through the epoch like any unlinked node
//! (a delete that empties the leaf unlinks it instead, also one store).
//! Readers, who look up one index at a time, therefore never see half a
//! range: once a lookup of one index shows the folio, every later lookup of
//! any index of the range does, until it is deleted, and after the delete
//! none does ([`XArray::insert_range`] states it exactly). The kernel's own
//! loop of per-slot stores does not give this; the loom scenario 7 shows
//! that such a loop is caught (a reader sees `[empty, folio, empty,
//! folio]`). The price is one node allocation (usually from the node cache)
//! and a 64-word copy per large-folio add or delete, amortised over its
//! `nr` pages.
//!
//! # Loom
//!
//! `RUSTFLAGS="--cfg loom"` swaps the tree's atomics and lock for loom's
//! (through `src/sync.rs`) and shrinks nodes to 4 slots. crossbeam-epoch is
//! used **unmodified** (no `crossbeam_loom`): each model creates its own
//! `Collector`, and each model thread registers its own handle of it. loom
//! then explores the interleavings of the tree's own atomics and lock
//! (within the preemption bound), and checks the Release/Acquire
//! publication of nodes and values: a node's `shift` is a
//! `loom::cell::UnsafeCell` under loom and readers check it, and the tests
//! store values holding one, so a node or value reached without a
//! happens-before edge to its initialisation is reported. (Each of these
//! was checked by weakening the corresponding Release store to Relaxed:
//! loom then fails.) Writers read words under the lock with `unsync_load`
//! (`sync::LoadLocked`), which also checks that every store to them is made
//! under the lock, and keeps loom's partial-order reduction from missing a
//! reader's load that precedes the writer's store. The epoch
//! protocol runs for real inside each model: its steps (pin, unpin, defer,
//! collect) take place atomically between loom's scheduling points, in a
//! sequentially consistent order. So loom checks *our* use of the collector
//! (pin before load, unlink before retire, no free while pinned: a value's
//! `Drop` sets a flag that the reader checks while it holds the reference),
//! but not crossbeam-epoch's own weak-memory correctness, which is
//! crossbeam's tested responsibility. Only `--cfg loom` is needed.
//!
//! Because crossbeam's own `SeqCst` fences (in `pin` and when it advances
//! the epoch) are invisible to loom, every guarded operation and every
//! retirement executes a loom `SeqCst` fence under `cfg(loom)`
//! (`sync::epoch_fence`) in their place. Without it loom's weak-memory model
//! allows an execution real hardware forbids: a reader pinned after a node
//! was retired loads the stale pointer and reads the node after the
//! collector freed it. The `fault_path` loom models, which add and delete
//! the same swap-cache slot over and over, found this.
//!
//! Node recycling runs under loom too, with a cache of 2 nodes so that the
//! models both reuse nodes and overflow the cache (scenario 5 of
//! `tests/loom.rs` reuses a pruned leaf and a shrunk root at the offsets a
//! pinned reader may still be walking; making the nodes reusable before
//! their grace period fails it). The cache's lock is a
//! loom mutex. A recycled node's reset uses atomic stores under loom (not
//! `with_mut`), since the reads of its previous life are ordered before it
//! only through the epoch; its later accesses are all under the tree's
//! lock, which loom does see. The `link` field that carries a retired node
//! from the writer to the deferred function is a plain `core` cell for the
//! same reason, and is never touched by readers.
//!
//! # Shuttle
//!
//! `RUSTFLAGS="--cfg shuttle"` swaps the tree's atomics and lock for
//! shuttle's and shrinks nodes to 4 slots (a cache of 2 recycled nodes), as
//! loom does. crossbeam-epoch has no shuttle build and needs none: it runs
//! unmodified on std atomics, which shuttle does not schedule, so each of
//! its steps (pin, unpin, defer, collect) is atomic between shuttle's
//! scheduling points, and shuttle's executions are sequentially consistent
//! (no weak memory: `sync::epoch_fence` is a no-op). What must not happen
//! is two model threads sharing one epoch participant: shuttle runs every
//! model thread on the test's one OS thread, so the thread-local handle of
//! crossbeam's global collector would be shared. Under shuttle, as under
//! loom, callers therefore give each tree (or swap cache) a collector of its
//! own (`with_collector`), whose `pin` registers a fresh handle each time,
//! and `fault_path` does so. A deferred free that takes the node cache's
//! lock is a shuttle scheduling point inside crossbeam's collection; each
//! handle still belongs to one model thread, so that is a preemption real
//! threads can also take. `tests/shuttle.rs` runs readers, inserters and
//! removers over 64-256 indices with values that check they are not freed
//! while read.
//!
//! # Miri
//!
//! The crate's own pointer handling follows strict provenance (tagging with
//! `addr`/`map_addr`-style APIs, value entries made with
//! `without_provenance_mut`), and the unit tests shrink under `cfg(miri)`.
//! crossbeam-epoch 0.9 does not: its `Pointable` turns integers back into
//! pointers (rejected by `-Zmiri-strict-provenance`) and its intrusive lists
//! break Stacked Borrows (crossbeam issue #545; crossbeam's own CI runs
//! epoch under Tree Borrows), and its global collector is a static that is
//! never dropped, so the thread handles registered with it are reported as
//! leaks at exit. The miri run for this crate therefore needs
//! `MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows
//! -Zmiri-ignore-leaks"`; with it, the only integer-to-pointer casts miri
//! reports are crossbeam's, and every reported leak was allocated inside
//! crossbeam-epoch. (Leaks of the tree's own nodes and values are checked by
//! the drop-counting tests, on collectors the tests own.)
//!
//! # Example
//!
//! ```
//! use swapcache::{Entry, Item, ValueEntry, XArray};
//!
//! // Owned pointers: the tree owns each `Box`, readers borrow `&String`.
//! let xa: XArray<Box<String>> = XArray::new();
//! let guard = xa.pin();
//! xa.insert(7, Box::new(String::from("folio")), &guard).unwrap();
//! assert!(xa.insert(7, Box::new(String::from("other")), &guard).is_err());
//! xa.store(9, Item::Value(ValueEntry::new(42).unwrap()), &guard);
//! assert_eq!(xa.load(7, &guard).and_then(Entry::as_ptr).map(String::as_str), Some("folio"));
//! assert_eq!(xa.iter(&guard).map(|(i, _)| i).collect::<Vec<_>>(), vec![7, 9]);
//!
//! // Unowned indices (frame numbers): no allocation, nothing to reclaim.
//! let frames: XArray<u32> = XArray::new();
//! frames.insert(3, 1234, &guard).unwrap();
//! assert_eq!(frames.load(3, &guard).and_then(Entry::as_ptr), Some(1234));
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod pointer;
mod swap_cache;
mod sync;
mod xarray;

#[cfg(test)]
mod tests;

/// The README's code blocks, compiled and run as doc tests (so that its
/// quick start cannot drift from the API).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The epoch-based reclamation crate the trees use, re-exported so that
/// callers can name `Guard` and `Collector` with the right version.
pub use crossbeam_epoch as epoch;

pub use crate::pointer::{ArcRef, ClonePointer, Pointer, SharedPointer};
pub use crate::swap_cache::{
    AddError, DeleteError, MAX_FOLIO_ORDER, SWAP_ADDRESS_SPACE_PAGES, SWAP_ADDRESS_SPACE_SHIFT,
    SwapCache, SwapCacheStats,
};
pub use crate::xarray::{
    BadRange, CompareError, Entry, FANOUT, InsertError, InsertRangeError, Item, MAX_RANGE_ORDER,
    Range, RemoveRangeError, ValueEntry, ValueTooLarge, XArray,
};
