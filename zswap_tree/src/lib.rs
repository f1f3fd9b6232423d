//! `zswap_tree`: a user-space model of zswap as it was in Linux 6.5-6.9
//! (`mm/zswap.c`): a compressed in-memory store for swapped-out pages, one
//! red-black tree per 64 MiB region of a swap device, each under its own
//! lock, keyed by swap offset.
//!
//! # Design notes
//!
//! ## Entry lifecycle
//!
//! ```text
//!  state            | how it is entered                       | who owns the data
//! ------------------+-----------------------------------------+---------------------------------
//!  (absent)         | start; or any erase below               | nobody (loads miss: read device)
//!  stored           | store (same-filled word, or compressed) | the tree (the erase owns it next)
//!  stored, loaded   | load Optimistic: Arc clone under lock,  | tree + reader (bytes live until
//!  optimistically   |   decompress after unlock               |   the reader drops its clone)
//!  loaded           | load Exclusive: erased under lock,      | the caller's page (swap cache),
//!  exclusively      |   decompress after unlock               |   which must be marked dirty
//!  invalidated      | invalidate / invalidate_all / a store   | nobody: freed
//!                   |   replacing it / a rejected store       |
//!  written back     | writeback: erased, decompressed and     | the backing device
//!                   |   written, all under the region lock    |
//! ```
//!
//! Every transition out of "stored" is an erase from the tree under the
//! region lock, and only the thread whose erase succeeds holds the entry
//! afterwards; so exactly one of a racing exclusive load, invalidation,
//! replacing store or writeback frees it. The compressed bytes are an
//! `Arc`-shared allocation, header (length, counters) and bytes in one
//! (zswap 6.5-6.8 refcounted `zswap_entry` for the same reason): an
//! optimistic load or a writeback holds a clone while it decompresses
//! without the lock, and the bytes are freed (and leave
//! [`Stats::pool_bytes`], and count in [`Stats::compressed_frees`]) exactly
//! once, when the last clone drops. The loom suite checks both. When the
//! last holder is the tree's own code (an exclusive load after
//! decompressing, an invalidation, a replacing or rejected store, a
//! writeback), the freed buffer goes to its region's cache of free buffers
//! (one LIFO stack per 64-byte size class, at most 128 KiB per region,
//! under its own lock) and the next store of that class reuses it instead
//! of calling the allocator; a buffer freed by an optimistic reader's last
//! clone, or finding the cache full, goes to the allocator.
//! [`ZswapTree::recycled_bytes`] reports the cache, which is not part of
//! [`Stats::pool_bytes`].
//!
//! ## Locking
//!
//! One mutex per region of [`REGION_SLOTS`] = 16384 slots (zswap's
//! `tree->lock` spin lock per `SWAP_ADDRESS_SPACE_PAGES`). The region's
//! red-black tree and its LRU list live under that lock; nothing else does.
//! Counters that change under a region lock (stored and same-filled pages,
//! stores, duplicates, load hits and misses, writebacks, invalidations) are
//! plain integers in the region, summed by [`ZswapTree::stats`]; the rest
//! (pool bytes, rejects, frees, decode errors) are relaxed atomics.
//!
//! | operation | lock held | for |
//! |---|---|---|
//! | [`ZswapTree::store`] | its region's, once | the insert (and erase of the old entry); compression runs before, unlocked |
//! | [`ZswapTree::load`] | its region's, once | lookup, then erase (exclusive) or `Arc` clone (optimistic); decompression after |
//! | [`ZswapTree::invalidate`] | its region's, once | the erase; the free after |
//! | [`ZswapTree::writeback`], [`ZswapTree::shrink`] | every region's briefly per entry (to find the oldest), then the chosen one | the target's pin, erase, decompression and the device write; the unpin after the lock |
//! | [`ZswapTree::invalidate_all`] | each region's in turn | draining the tree |
//!
//! No operation holds two locks at once. The only user code that runs under
//! a lock is the writeback target's `pin` and `write`
//! ([`WritebackTarget`]), which must not call back into the `ZswapTree`;
//! its `unpin` runs after the lock and may (it frees the slot, which
//! invalidates it).
//!
//! ## Kernel functions modelled
//!
//! | here | `mm/zswap.c` |
//! |---|---|
//! | [`ZswapTree::new`] | `zswap_swapon` |
//! | [`ZswapTree::store`] | `zswap_store` (`zswap_is_full`, `zswap_can_accept`, `zswap_is_page_same_filled`, `zswap_compress`, `zswap_rb_insert`) |
//! | [`ZswapTree::load`] | `zswap_load` (`zswap_rb_search`, `zswap_rb_erase`, `zswap_decompress`, `zswap_fill_page`, `zswap_entry_free`) |
//! | [`ZswapTree::invalidate`] | `zswap_invalidate` |
//! | [`ZswapTree::invalidate_all`] | `zswap_swapoff` |
//! | [`ZswapTree::writeback`], [`ZswapTree::shrink`] | `shrink_worker` → `zswap_reclaim_entry` → `zswap_writeback_entry` |
//! | [`WritebackTarget`] | `zswap_writeback_entry`'s `__read_swap_cache_async` (the pin, `-EEXIST`), `__swap_writepage` |
//! | [`same_filled`], [`fill_page`] | `zswap_is_page_same_filled`, `zswap_fill_page` |
//! | [`rbtree::RbTree`] | `lib/rbtree.c` as used by `zswap_rb_*` |
//! | [`Stats`] | the debugfs counters (`stored_pages`, `pool_total_size`, `same_filled_pages`, `reject_*`, `pool_limit_hit`, `written_back_pages`, `duplicate_entry`) |
//!
//! ## Where the model differs on purpose
//!
//! - **Pool limit**: zswap rejects the store and queues an asynchronous
//!   shrink; here a store over the limit first writes back synchronously
//!   (through the writeback target given to [`ZswapTree::with_writeback`])
//!   down to the accept threshold, and is rejected only if that fails. The
//!   limit counts compressed payload bytes, not zpool pages.
//! - **Replacing store**: zswap 6.7-6.9 invalidates a duplicate before
//!   compressing; here the old entry stays visible until the new one is
//!   inserted (one lock acquisition), so a concurrent optimistic load sees the
//!   old page or the new one, never a miss. A rejected store still
//!   invalidates the stale entry, as zswap does.
//! - **Writeback exclusion**: zswap puts a locked folio in the swap cache
//!   first, which makes loads, stores and invalidations of that slot wait,
//!   then erases the entry, drops the tree lock, and writes. The model has
//!   no swap cache of its own, so the region lock plays the folio lock: the
//!   entry is erased, decompressed and handed to the callback under it. A
//!   load never misses an entry whose data has not reached the device yet,
//!   and a stale write can never land after a newer store of the same slot.
//!   The swap-cache pin itself is the target's ([`WritebackTarget::pin`]):
//!   a slot held by a swap-in or the swap cache is refused, as
//!   `swapcache_prepare` refuses it with `-EEXIST`, and its entry is
//!   rotated to the LRU tail. The pin is taken under the region lock (the
//!   kernel takes it before the tree lock, then re-checks the entry under
//!   the lock); with one lock held across pin, erase and write, the entry
//!   cannot change in between and no re-check is needed.
//! - **Corrupt data**: zswap `BUG()`s when decompression fails; here it is a
//!   [`LoadError`]. [`ZswapTree::store_compressed`] injects such data.
//! - **No zpool, no memcg, no per-CPU buffers**: compressed bytes live in one
//!   `Arc` allocation with their header, rounded up to a 64-byte size class
//!   (zsmalloc's classes are 16 bytes apart; [`Stats::pool_bytes`] counts the
//!   payload), and freed allocations are kept per region and class for
//!   reuse, up to 128 KiB per region (zsmalloc keeps freed objects in its
//!   class pages likewise; the bound keeps this cache from hoarding: at most
//!   0.2% of the 64 MiB of pages a region stands for); the compression
//!   buffer is on the stack.
//!
//! # Compressors: measurement and choice
//!
//! [`Backend::Lz4`] (liblz4 via the `lz4` crate) is the default. Measured
//! with `cargo bench -p benches --bench zswap` (about a minute; criterion
//! medians for one 4 KiB page; a 2-core machine shared with other jobs, so
//! +-30% noise between runs; [`ContentClass`] generates the pages). The
//! store/load matrix covers lz4 and lz4_flex; deflate is measured raw only
//! (its store and load are its raw times plus the same tree overhead; the
//! first full run measured store 8-42 us and load 0.2-9.4 us):
//!
//! | class | backend | bytes (ratio) | compress | decompress | store | load (optimistic) |
//! |---|---|---|---|---|---|---|
//! | zero-tail | lz4 | 35 (117:1) | 0.50 us | 0.34 us | 1.04 us | 0.40 us |
//! | zero-tail | lz4_flex | 36 (114:1) | 0.40 us | **5.27 us** | 1.08 us | 5.05 us |
//! | zero-tail | deflate | 46 (89:1) | 6.8 us | 3.5 us | - | - |
//! | text | lz4 | 933 (4.4:1) | 1.92 us | 0.41 us | 2.50 us | 0.44 us |
//! | text | lz4_flex | 927 (4.4:1) | 1.99 us | 0.65 us | 2.59 us | 0.68 us |
//! | text | deflate | 658 (6.2:1) | 14.6 us | 6.6 us | - | - |
//! | half-random | lz4 | 2082 (1.97:1) | 0.99 us | 0.24 us | 2.02 us | 0.28 us |
//! | half-random | lz4_flex | 2086 (1.96:1) | 1.31 us | 2.21 us | 1.73 us | 1.38 us |
//! | half-random | deflate | 2119 (1.93:1) | 23.4 us | 12.4 us | - | - |
//! | random | lz4 | 4114 (1.00:1) | 1.27 us | 0.07 us | 2.27 us | 0.14 us |
//! | random | lz4_flex | 4114 (1.00:1) | 0.99 us | 0.08 us | 1.79 us | 0.09 us |
//! | random | deflate | 4101 (1.00:1) | 27.0 us | 0.22 us | - | - |
//! | same-filled (zeros) | lz4, lz4_flex | 0 (word only) | - | - | 0.28-0.31 us | 0.07-0.08 us |
//!
//! (Random pages are rejected by default, `reject_len = PAGE_SIZE`; the
//! bench raises the threshold so they take the whole path.)
//!
//! The design note's warning holds: `lz4_flex` takes about 5-6 us to decode
//! a zero-tail page (long overlapping matches are copied byte by byte) where
//! liblz4 takes 0.2-0.35 us, and it is 5-10x slower on half-random pages.
//! Building `lz4_flex` without `safe-decode` did not help (a separate probe:
//! 3.97 us zero-tail either way, 0.65 against 0.90 us half-random), so the
//! crate keeps the safe decoder. deflate compresses text 40% better but is
//! 10-40x slower both ways. liblz4 is the fastest or tied everywhere, hence
//! the default. Same-filled pages never reach the compressor.
//!
//! ## Load targets
//!
//! `cargo bench -p benches --bench zswap -- targets` alternates, in 301
//! rounds of 32 operations, raw lz4 decompression of the half-random page
//! with optimistic and exclusive loads of it and of a same-filled page
//! (exclusive entries are stored untimed before each round) and prints the
//! medians. Medians over 25 such runs of each version, alternating the
//! previous version of the crate ("before": one allocation per entry, freed
//! to glibc) with this one ("now": recycled buffers, leaner erase); ratios
//! are medians of the per-run ratios:
//!
//! | ns per page | before | now |
//! |---|---|---|
//! | raw lz4 decompress, half-random | 154 | 176 |
//! | load optimistic, half-random | 161 (1.04x) | 160 (0.91x) |
//! | load exclusive, half-random | 200 (1.35x) | 194 (1.12x) |
//! | runs with exclusive over 1.3x | 14 of 25 (worst 1.47x) | 8 of 25 (worst 1.36x) |
//! | runs with raw under 150 ns: raw, exclusive | 134, 187 (1.40x, 12 runs) | 134, 177 (1.32x, 9 runs) |
//! | load optimistic, same-filled | 45 | 44 |
//! | load exclusive, same-filled | 57 | 60 |
//!
//! A same-filled load is well under 0.2 us (target met). A half-random (2:1)
//! optimistic load costs what the decompression costs (target 1.3x met).
//! The exclusive one is **not reliably within 1.3x**: the raw time is
//! bimodal from run to run on this shared machine (125-145 or 170-195 ns,
//! for the same binary, with or without address randomisation) and the
//! ratio follows it; in the runs where raw decompression is fast, the
//! exclusive load is at 1.32x now against 1.40x before (177 against 187
//! ns at the same raw time). The same-filled exclusive load paid 3 ns for
//! the release step.
//!
//! What changed, from callgrind (an exclusive load of the half-random page
//! in a batch of 32; the decompression is 2578 instructions): before,
//! 3182 instructions, of which about 270 were the free after the lock
//! (glibc's `free` of a 2 KiB chunk, not a tcache size, and the `Arc`
//! release with four atomics); now 3046. A freed buffer goes to its
//! region's cache (`Arc::strong_count` decides that the tree holds the last
//! reference, no compare-and-swap; one lock, one atomic for
//! `pool_bytes`: about 110 instructions, and no `free`/`malloc` pair at
//! all); the red-black search is branch-free (NIL ends the walk through
//! `Vec::get`, the child is selected with a conditional move) and the
//! erase unlinks the LRU through the removed slot's own links (erase from
//! 275 to 232 instructions).
//!
//! What is left is not only the erase. An optimistic load of 32 distinct
//! entries costs the raw time plus 25-40 ns, where the bench's optimistic
//! load of one entry repeated costs plus 5-10 ns, with the same
//! instructions; callgrind's cache simulation shows about 35 L1 read
//! misses per load (the batch's 70 KiB of buffers exceed the 48 KiB L1d):
//! the exclusive/optimistic comparison sets a cold buffer against a hot one,
//! and the exclusive load's own work (erase, release) is about 10-20 ns of
//! the gap. Reading one byte per line of the buffer before the rebalance
//! (a prefetch in safe code) made the exclusive load 30 ns slower and was
//! dropped. The batch is 32 entries because draining 1024 (2 MiB) at a
//! time has glibc trim the heap (`brk`) inside the timed loads.
//!
//! The region tree itself: a lookup in a full region (16384 keys) takes
//! 0.16 us under an uncontended mutex against 0.10 us for
//! `Mutex<BTreeMap>`: the B-tree's wide nodes take fewer cache misses than a
//! red-black tree's 14-28 levels. The model keeps the red-black tree because
//! it models zswap's `rb_root`.
//!
//! # Example
//!
//! ```
//! use zswap_tree::{Config, ContentClass, LoadMode, PAGE_SIZE, ZswapTree};
//!
//! let zswap = ZswapTree::new(1 << 16, Config::default());
//! let page = ContentClass::Text.page(1);
//! zswap.store(42, &page).unwrap();
//! let mut out = [0u8; PAGE_SIZE];
//! assert!(zswap.load(42, &mut out, LoadMode::Optimistic).unwrap());
//! assert_eq!(out, *page);
//! assert!(zswap.load(42, &mut out, LoadMode::Exclusive).unwrap());
//! assert!(!zswap.load(42, &mut out, LoadMode::Exclusive).unwrap());
//! ```

#![forbid(unsafe_code)]

mod compress;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod rbtree;
mod sync;
mod tree;

#[cfg(feature = "lzo")]
pub use compress::Lzo;
pub use compress::{
    Backend, CompressError, Compressor, ContentClass, DecompressError, Deflate, Lz4, Lz4Flex,
    MAX_COMPRESSED, PAGE_SIZE, Page, Zstd, fill_page, max_compressed_len, same_filled,
};
pub use tree::{
    Config, LoadError, LoadMode, REGION_SHIFT, REGION_SLOTS, Stats, StoreError, TreeError,
    WritebackFn, WritebackTarget, ZswapTree,
};

#[cfg(test)]
mod tests;
