//! [`ZswapTree`]: the compressed store, one locked red-black tree per region.

use std::fmt;

use crate::compress::{
    Backend, CompressError, Compressor, DecompressError, MAX_COMPRESSED, PAGE_SIZE, Page,
    fill_page, same_filled,
};
use crate::rbtree::{InvariantError, NodeId, RbTree};
use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering::Relaxed, arc_from_std};

/// log2 of the slots per region: 14 (16384 slots = 64 MiB of 4 KiB pages,
/// `SWAP_ADDRESS_SPACE_SHIFT`), shrunk to 1 under loom so that tiny models
/// span several regions, and to 3 under shuttle (8-256 pages span 1-32).
pub const REGION_SHIFT: u32 = if cfg!(loom) {
    1
} else if cfg!(shuttle) {
    3
} else {
    14
};

/// Slots per region (one tree and one lock each).
pub const REGION_SLOTS: u64 = 1 << REGION_SHIFT;

/// How [`ZswapTree::load`] treats the entry it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadMode {
    /// Erase the entry: ownership of the data moves to the caller (the swap
    /// cache), which must treat the page as dirty. Linux 6.5-6.8 always
    /// loaded this way; since 25cd241408a2 only folios in the swap cache do.
    Exclusive,
    /// Copy the page out and keep the entry (since 25cd241408a2 for
    /// swap-cache-bypassing synchronous swap-ins). The entry goes when the
    /// slot is freed ([`ZswapTree::invalidate`]).
    Optimistic,
}

/// Configuration of a [`ZswapTree`] (zswap's module parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Compressor (`zswap.compressor`). Default [`Backend::Lz4`].
    pub backend: Backend,
    /// Store same-filled pages as their word, without compression
    /// (`zswap.same_filled_pages_enabled`). Default `true`.
    pub same_filled_pages: bool,
    /// A page whose compressed length is at least this many bytes is
    /// rejected with [`StoreError::CompressPoor`]. Default [`PAGE_SIZE`]: the
    /// compressed page must be smaller than a page.
    pub reject_len: usize,
    /// Pool size limit in compressed bytes (`zswap.max_pool_percent` of RAM).
    /// `None`: unlimited (the default).
    pub max_pool_bytes: Option<u64>,
    /// Once the pool has been full, stores are refused until it shrinks to
    /// this percentage of the limit (`zswap.accept_threshold_percent`).
    /// Default 90.
    pub accept_threshold_percent: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            same_filled_pages: true,
            reject_len: PAGE_SIZE,
            max_pool_bytes: None,
            accept_threshold_percent: 90,
        }
    }
}

/// Why a store was rejected (zswap's `reject_*` counters). After a rejected
/// store no entry is left at the offset: an older entry there is stale and
/// has been invalidated, as zswap does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The offset is beyond the device.
    OutOfRange {
        /// The offset asked for.
        offset: u64,
        /// Slots of the device.
        nr_slots: u64,
    },
    /// The page compressed to at least [`Config::reject_len`] bytes
    /// (`zswap_reject_compress_poor`).
    CompressPoor {
        /// The offset.
        offset: u64,
        /// The compressed length.
        len: usize,
    },
    /// The compressor failed (`zswap_reject_compress_fail`).
    CompressFail {
        /// The offset.
        offset: u64,
        /// The compressor's error.
        error: CompressError,
    },
    /// The pool is over its limit even after writeback
    /// (`zswap_pool_limit_hit`, then a reject).
    PoolLimit {
        /// The offset.
        offset: u64,
        /// Pool size when the store gave up.
        pool_bytes: u64,
        /// The limit.
        max_pool_bytes: u64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { offset, nr_slots } => {
                write!(f, "offset {offset} beyond the device's {nr_slots} slots")
            }
            Self::CompressPoor { offset, len } => {
                write!(f, "page at {offset} compressed to {len} bytes: rejected")
            }
            Self::CompressFail { offset, error } => write!(f, "page at {offset}: {error}"),
            Self::PoolLimit {
                offset,
                pool_bytes,
                max_pool_bytes,
            } => write!(
                f,
                "page at {offset} rejected: pool {pool_bytes} bytes, limit {max_pool_bytes}"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// A load found an entry that could not be turned back into a page. The
/// page's contents are unspecified; in [`LoadMode::Exclusive`] the entry has
/// been erased (its data is unusable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The offset is beyond the device.
    OutOfRange {
        /// The offset asked for.
        offset: u64,
        /// Slots of the device.
        nr_slots: u64,
    },
    /// The compressed data is malformed.
    Corrupt {
        /// The offset.
        offset: u64,
    },
    /// The compressed data ends early.
    Truncated {
        /// The offset.
        offset: u64,
    },
    /// The compressed data decodes to something other than one page.
    WrongLength {
        /// The offset.
        offset: u64,
        /// Bytes decoded (`PAGE_SIZE + 1` for "more than a page").
        len: usize,
    },
}

impl LoadError {
    fn from_decompress(offset: u64, e: DecompressError) -> Self {
        match e {
            DecompressError::Corrupt => Self::Corrupt { offset },
            DecompressError::Truncated => Self::Truncated { offset },
            DecompressError::WrongLength { len } => Self::WrongLength { offset, len },
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { offset, nr_slots } => {
                write!(f, "offset {offset} beyond the device's {nr_slots} slots")
            }
            Self::Corrupt { offset } => write!(f, "entry at {offset}: corrupt data"),
            Self::Truncated { offset } => write!(f, "entry at {offset}: truncated data"),
            Self::WrongLength { offset, len } => {
                write!(f, "entry at {offset} decodes to {len} bytes")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A violated invariant of a [`ZswapTree`], from [`ZswapTree::check_invariants`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// A region's red-black tree is broken.
    RbTree {
        /// The region.
        region: usize,
        /// What is broken.
        error: InvariantError,
    },
    /// A region's LRU list is inconsistent with its tree.
    Lru {
        /// The region.
        region: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// An entry sits in the wrong region.
    Misplaced {
        /// The entry's offset.
        offset: u64,
    },
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RbTree { region, error } => write!(f, "region {region}: {error}"),
            Self::Lru { region, what } => write!(f, "region {region} LRU: {what}"),
            Self::Misplaced { offset } => write!(f, "entry {offset} is in the wrong region"),
        }
    }
}

impl std::error::Error for TreeError {}

/// A snapshot of the counters (zswap's debugfs files). Counters are read
/// region by region (under each region's lock) and atomic by atomic, so
/// under concurrency they need not agree exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries in the trees (`stored_pages`).
    pub stored_pages: u64,
    /// Of those, same-filled entries (`same_filled_pages`).
    pub same_filled_pages: u64,
    /// Compressed bytes allocated (`pool_total_size`, counting payload only).
    /// Bytes of an erased entry are released when its last reader drops it.
    pub pool_bytes: u64,
    /// Successful stores.
    pub stores: u64,
    /// Stores that replaced an entry at the same offset (`duplicate_entry`).
    pub duplicates: u64,
    /// Rejects: compressed length at least [`Config::reject_len`].
    pub reject_compress_poor: u64,
    /// Rejects: the compressor failed.
    pub reject_compress_fail: u64,
    /// Rejects: the pool stayed over its limit.
    pub reject_pool_limit: u64,
    /// Stores that found the pool over its limit (`pool_limit_hit`).
    pub pool_limit_hit: u64,
    /// Successful exclusive loads.
    pub loads_exclusive: u64,
    /// Successful optimistic loads.
    pub loads_optimistic: u64,
    /// Loads that found no entry.
    pub load_misses: u64,
    /// Loads (and writebacks) that met undecodable data.
    pub load_errors: u64,
    /// Entries written back and erased (`written_back_pages`).
    pub writebacks: u64,
    /// Writebacks given up because the target refused to pin the slot (a
    /// swap-in or the swap cache holds it): `reject_reclaim_fail`. The
    /// entry stays, moved to the tail of its LRU.
    pub writeback_refused: u64,
    /// Entries erased by [`ZswapTree::invalidate`], [`ZswapTree::invalidate_all`]
    /// or a rejected store over a stale entry.
    pub invalidations: u64,
    /// Compressed buffers freed (each exactly once, when the last holder
    /// drops it), to the allocator or into a region's cache of buffers for
    /// reuse ([`ZswapTree::recycled_bytes`]).
    pub compressed_frees: u64,
}

/// Counters updated outside the region locks (relaxed atomics).
#[derive(Default)]
struct Counters {
    pool_bytes: AtomicU64,
    reject_compress_poor: AtomicU64,
    reject_compress_fail: AtomicU64,
    reject_pool_limit: AtomicU64,
    pool_limit_hit: AtomicU64,
    /// Exclusive and optimistic loads that found an entry but could not
    /// decode it (counted as hits under the lock first).
    load_errors_exclusive: AtomicU64,
    load_errors_optimistic: AtomicU64,
    /// Writebacks that dropped undecodable data.
    writeback_errors: AtomicU64,
    /// Writebacks whose target refused the slot's pin.
    writeback_refused: AtomicU64,
    compressed_frees: AtomicU64,
}

/// Counters updated only under a region's lock: plain integers, summed by
/// [`ZswapTree::stats`]. Keeping them out of the shared atomics saves the
/// load path two atomic read-modify-writes.
#[derive(Clone, Copy, Debug, Default)]
struct RegionCounts {
    stored_pages: u64,
    same_filled_pages: u64,
    stores: u64,
    duplicates: u64,
    hits_exclusive: u64,
    hits_optimistic: u64,
    load_misses: u64,
    writebacks: u64,
    invalidations: u64,
}

// Every counter is Relaxed: they are statistics, and `pool_bytes` only feeds
// the pool-limit heuristic, which zswap also reads without ordering.
fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Compressed bytes as stored: the array of a size class, or (above the
/// largest class, only reachable through [`ZswapTree::store_compressed`]) a
/// boxed slice.
type Bytes = dyn Buffer;

/// Byte storage readable and (for reuse) writable as a slice.
trait Buffer: AsRef<[u8]> + AsMut<[u8]> + Send + Sync {}

impl<T: AsRef<[u8]> + AsMut<[u8]> + Send + Sync + ?Sized> Buffer for T {}

/// A compressed page: the zpool allocation. Header and bytes are one
/// allocation (the `Arc`'s), sized by a 64-byte size class as zsmalloc's
/// classes do; `len` is the payload (`entry->length`). The payload bytes are
/// counted in `pool_bytes` from creation to drop, and the drop, which runs
/// exactly once when the last `Arc` goes, is the free (`zpool_free` in
/// `zswap_entry_free`).
struct Compressed<B: ?Sized = Bytes> {
    counters: Arc<Counters>,
    len: usize,
    /// `false` while the buffer waits in a region's [`Recycler`]: it has
    /// been freed (left `pool_bytes`, counted in `compressed_frees`) and
    /// its drop must not count again. Atomic only so that the last holder
    /// can retire the buffer without `Arc::get_mut`'s compare-and-swap
    /// (see [`ZswapTree::release`]); relaxed accesses suffice, as the
    /// buffer has a single holder whenever it changes.
    live: AtomicBool,
    /// Size class: the capacity of `bytes` / [`CLASS_BYTES`], or
    /// `u8::MAX` for a boxed buffer above the classes (never recycled).
    class: u8,
    bytes: B,
}

/// Size-class granularity of [`Compressed`] allocations.
const CLASS_BYTES: usize = 64;

impl Compressed {
    fn new(src: &[u8], counters: &Arc<Counters>) -> Arc<Self> {
        counters.pool_bytes.fetch_add(src.len() as u64, Relaxed);
        let counters = Arc::clone(counters);
        macro_rules! classes {
            ($($class:literal => $n:literal),* $(,)?) => {
                match src.len().div_ceil(CLASS_BYTES) {
                    0 => sized::<0>(src, counters),
                    $($class => sized::<$n>(src, counters),)*
                    _ => arc_from_std(std::sync::Arc::new(Compressed {
                        counters,
                        len: src.len(),
                        live: AtomicBool::new(true),
                        class: u8::MAX,
                        bytes: Box::<[u8]>::from(src),
                    })),
                }
            };
        }
        classes!(
            1 => 64, 2 => 128, 3 => 192, 4 => 256, 5 => 320, 6 => 384, 7 => 448, 8 => 512,
            9 => 576, 10 => 640, 11 => 704, 12 => 768, 13 => 832, 14 => 896, 15 => 960, 16 => 1024,
            17 => 1088, 18 => 1152, 19 => 1216, 20 => 1280, 21 => 1344, 22 => 1408, 23 => 1472, 24 => 1536,
            25 => 1600, 26 => 1664, 27 => 1728, 28 => 1792, 29 => 1856, 30 => 1920, 31 => 1984, 32 => 2048,
            33 => 2112, 34 => 2176, 35 => 2240, 36 => 2304, 37 => 2368, 38 => 2432, 39 => 2496, 40 => 2560,
            41 => 2624, 42 => 2688, 43 => 2752, 44 => 2816, 45 => 2880, 46 => 2944, 47 => 3008, 48 => 3072,
            49 => 3136, 50 => 3200, 51 => 3264, 52 => 3328, 53 => 3392, 54 => 3456, 55 => 3520, 56 => 3584,
            57 => 3648, 58 => 3712, 59 => 3776, 60 => 3840, 61 => 3904, 62 => 3968, 63 => 4032, 64 => 4096,
            65 => 4160, 66 => 4224, 67 => 4288, 68 => 4352, 69 => 4416, 70 => 4480, 71 => 4544, 72 => 4608,
            73 => 4672, 74 => 4736, 75 => 4800, 76 => 4864, 77 => 4928, 78 => 4992, 79 => 5056, 80 => 5120,
            81 => 5184, 82 => 5248, 83 => 5312, 84 => 5376, 85 => 5440, 86 => 5504, 87 => 5568, 88 => 5632,
            89 => 5696, 90 => 5760, 91 => 5824, 92 => 5888, 93 => 5952, 94 => 6016, 95 => 6080, 96 => 6144,
            97 => 6208, 98 => 6272, 99 => 6336, 100 => 6400, 101 => 6464, 102 => 6528, 103 => 6592, 104 => 6656,
            105 => 6720, 106 => 6784, 107 => 6848, 108 => 6912, 109 => 6976, 110 => 7040, 111 => 7104, 112 => 7168,
            113 => 7232, 114 => 7296, 115 => 7360, 116 => 7424, 117 => 7488, 118 => 7552, 119 => 7616, 120 => 7680,
            121 => 7744, 122 => 7808, 123 => 7872, 124 => 7936, 125 => 8000, 126 => 8064, 127 => 8128, 128 => 8192
        )
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes.as_ref()[..self.len]
    }
}

/// One allocation of size class `N` (`N >= src.len()`).
fn sized<const N: usize>(src: &[u8], counters: Arc<Counters>) -> Arc<Compressed> {
    let mut bytes = [0u8; N];
    bytes[..src.len()].copy_from_slice(src);
    arc_from_std(std::sync::Arc::new(Compressed {
        counters,
        len: src.len(),
        live: AtomicBool::new(true),
        class: (N / CLASS_BYTES) as u8,
        bytes,
    }))
}

impl<B: ?Sized> Drop for Compressed<B> {
    fn drop(&mut self) {
        if self.live.load(Relaxed) {
            self.counters.pool_bytes.fetch_sub(self.len as u64, Relaxed);
            inc(&self.counters.compressed_frees);
        }
    }
}

/// Size classes kept by a [`Recycler`]: 0 to 128 (0 to 8192 bytes); the
/// boxed buffers above them are never recycled.
const CLASSES: usize = MAX_CLASS + 1;

/// The largest size class ([`Compressed::new`]'s last array size / 64).
const MAX_CLASS: usize = 128;

/// Bytes a region's [`Recycler`] may hold (class capacity plus the `Arc`
/// and `Compressed` headers): about 60 buffers of half-random (2:1) pages,
/// 0.2% of the 64 MiB of pages a region stands for.
const RECYCLE_BYTES: usize = 128 << 10;

/// A region's cache of freed compressed buffers, one LIFO stack per size
/// class (zsmalloc keeps freed objects in its size classes' zspages in the
/// same way). When the last reference to an entry's buffer is dropped by
/// the tree itself (an exclusive load after decompressing, an invalidation,
/// a replacing or rejected store, a writeback), the buffer is freed
/// logically (out of `pool_bytes`, into `compressed_frees`) and kept here,
/// up to [`RECYCLE_BYTES`]; a store of the same class takes it back instead
/// of allocating. This saves the allocator's `free` (a 2 KiB chunk is too
/// big for glibc's tcache) and `malloc`, and the `Arc` header's release.
/// Buffers over the bound, and the last clones dropped by optimistic
/// readers, go to the allocator as before. The cache is not part of
/// [`Stats::pool_bytes`]; [`ZswapTree::recycled_bytes`] reports it.
#[derive(Default)]
struct Recycler {
    /// Allocated on first use (a region that never frees costs nothing).
    classes: Option<Box<[Vec<Arc<Compressed>>]>>,
    /// Capacity held, headers included.
    bytes: usize,
    /// Buffers freed into this cache (part of [`Stats::compressed_frees`]).
    frees: u64,
}

/// Bytes a recycled buffer of `capacity` payload bytes holds.
fn recycle_cost(capacity: usize) -> usize {
    capacity + std::mem::size_of::<Compressed<[u8; 0]>>() + 2 * std::mem::size_of::<usize>()
}

impl Recycler {
    /// Frees `arc`, the only reference to a buffer of size class `class`
    /// already marked not live (see [`ZswapTree::release`]): accounts the
    /// free, then keeps the buffer if there is room. Returns it otherwise,
    /// for the caller to drop after the lock (to the allocator; the drop of
    /// a buffer that is not live does not count again).
    fn put(&mut self, arc: Arc<Compressed>, class: usize) -> Option<Arc<Compressed>> {
        arc.counters.pool_bytes.fetch_sub(arc.len as u64, Relaxed);
        self.frees += 1;
        let cost = recycle_cost(class * CLASS_BYTES);
        if self.bytes + cost > RECYCLE_BYTES {
            return Some(arc);
        }
        self.bytes += cost;
        let classes = self
            .classes
            .get_or_insert_with(|| (0..CLASSES).map(|_| Vec::new()).collect());
        classes[class].push(arc);
        None
    }

    /// A cached buffer of size class `class`, if any.
    fn take(&mut self, class: usize) -> Option<Arc<Compressed>> {
        let arc = self.classes.as_mut()?.get_mut(class)?.pop()?;
        self.bytes -= recycle_cost(class * CLASS_BYTES);
        Some(arc)
    }
}

/// What an entry holds (`zswap_entry`'s `handle`/`length` or `value`).
#[derive(Clone)]
enum Payload {
    /// A same-filled page: the repeated word (`entry->length == 0`).
    Same(u64),
    /// Compressed bytes, shared with optimistic readers and writeback.
    Compressed(Arc<Compressed>),
}

/// An entry in a region's tree.
struct Slot {
    /// Unique per store: tells a writeback whether the entry it wrote is
    /// still the one in the tree, and orders LRU heads across regions.
    id: u64,
    payload: Payload,
    /// LRU links (oldest at `lru_head`). Same-filled entries are never on
    /// the LRU, as in zswap: writing them back frees no pool memory.
    prev: Option<NodeId>,
    next: Option<NodeId>,
    on_lru: bool,
}

/// One region: a tree and its LRU, under the region's lock (`tree->lock`).
#[derive(Default)]
struct RegionTree {
    tree: RbTree<Slot>,
    lru_head: Option<NodeId>,
    lru_tail: Option<NodeId>,
    counts: RegionCounts,
}

impl RegionTree {
    fn slot(&mut self, id: NodeId) -> &mut Slot {
        self.tree.node_mut(id).expect("LRU links name live nodes")
    }

    fn lru_push_tail(&mut self, id: NodeId) {
        let tail = self.lru_tail;
        {
            let s = self.slot(id);
            s.prev = tail;
            s.next = None;
            s.on_lru = true;
        }
        match tail {
            Some(t) => self.slot(t).next = Some(id),
            None => self.lru_head = Some(id),
        }
        self.lru_tail = Some(id);
    }

    /// Unlinks an entry that was between `prev` and `next` on the LRU (its
    /// node may already be erased: only the neighbours are touched).
    fn lru_unlink(&mut self, prev: Option<NodeId>, next: Option<NodeId>) {
        match prev {
            Some(p) => self.slot(p).next = next,
            None => self.lru_head = next,
        }
        match next {
            Some(n) => self.slot(n).prev = prev,
            None => self.lru_tail = prev,
        }
    }

    /// Inserts an entry, returning the one it replaces (`zswap_rb_insert`
    /// plus the duplicate handling of `zswap_store`).
    fn insert(&mut self, offset: u64, slot: Slot) -> Option<Slot> {
        let old = self.erase(offset);
        let same = matches!(slot.payload, Payload::Same(_));
        let (id, _) = self.tree.insert_node(offset, slot);
        if !same {
            self.lru_push_tail(id);
        }
        self.counts.stored_pages += 1;
        self.counts.same_filled_pages += u64::from(same);
        self.counts.stores += 1;
        self.counts.duplicates += u64::from(old.is_some());
        old
    }

    /// Erases the entry at `offset` (`zswap_rb_erase` + LRU removal). The
    /// caller owns the returned slot: dropping it is the free.
    fn erase(&mut self, offset: u64) -> Option<Slot> {
        let id = self.tree.find(offset)?;
        let (_, slot) = self.tree.remove_node(id)?;
        if slot.on_lru {
            // Node ids stay valid across other nodes' erasure: the links
            // name the erased entry's live neighbours.
            self.lru_unlink(slot.prev, slot.next);
        }
        self.counts.stored_pages -= 1;
        self.counts.same_filled_pages -= u64::from(matches!(slot.payload, Payload::Same(_)));
        Some(slot)
    }

    fn oldest_id(&self) -> Option<u64> {
        self.lru_head
            .and_then(|h| self.tree.node(h))
            .map(|(_, s)| s.id)
    }

    fn check(&self, region: usize) -> Result<(), TreeError> {
        self.tree
            .check_invariants()
            .map_err(|error| TreeError::RbTree { region, error })?;
        let lru = |what| TreeError::Lru { region, what };
        let mut count = 0usize;
        let mut prev: Option<NodeId> = None;
        let mut cur = self.lru_head;
        while let Some(id) = cur {
            let (_, s) = self.tree.node(id).ok_or(lru("link to a free node"))?;
            if !s.on_lru {
                return Err(lru("listed entry not marked on_lru"));
            }
            if s.prev != prev {
                return Err(lru("prev link mismatch"));
            }
            if matches!(s.payload, Payload::Same(_)) {
                return Err(lru("same-filled entry on the LRU"));
            }
            count += 1;
            if count > self.tree.len() {
                return Err(lru("cycle"));
            }
            prev = cur;
            cur = s.next;
        }
        if self.lru_tail != prev {
            return Err(lru("tail mismatch"));
        }
        let marked = self.tree.iter().filter(|(_, s)| s.on_lru).count();
        if marked != count {
            return Err(lru("on_lru entries missing from the list"));
        }
        Ok(())
    }
}

struct Region {
    inner: Mutex<RegionTree>,
    /// Freed buffers for reuse, under their own lock (never held with
    /// `inner`), so that recycling does not lengthen the tree's critical
    /// sections.
    recycler: Mutex<Recycler>,
}

/// The writeback callback: receives the offset and the decompressed page,
/// and must write the page to the backing device before returning
/// (`__swap_writepage`). It runs under a region lock and must not call back
/// into the `ZswapTree`. Any such closure is a [`WritebackTarget`] that
/// never refuses a slot.
pub type WritebackFn = dyn Fn(u64, &Page) + Send + Sync;

/// Where the pool-limit writeback sends pages, and how it keeps the slot
/// of each still while it does: `zswap_writeback_entry`, which first puts
/// a locked folio in the swap cache (`__read_swap_cache_async` →
/// `swapcache_prepare`) and gives up with `-EEXIST` when the slot is
/// already cached or pinned by a swap-in, then writes the page
/// (`__swap_writepage`), and lets go of the slot when the folio leaves
/// the swap cache.
///
/// A swap-in that pins its slots before it chooses where to read them
/// from (a large folio's swap-in checks that its whole range is in zswap)
/// relies on the refusal: without it, writeback could move one page of a
/// pinned range to the device while the swap-in reads the range from
/// zswap.
///
/// A plain closure `Fn(u64, &Page)` is a target that pins every slot
/// (a device with no swap cache, as in this crate's own tests).
pub trait WritebackTarget: Send + Sync {
    /// Takes the slot's swap-cache pin (`swapcache_prepare`), or refuses:
    /// the slot is in the swap cache or held by a swap-in (`-EEXIST`), or
    /// freed (`-ENOENT`). A refused entry is moved to the tail of its LRU
    /// list and counted in [`Stats::writeback_refused`]
    /// (`zswap_reject_reclaim_fail`; `shrink_memcg_cb` rotates it the same
    /// way). Runs under the entry's region lock: it must not block, nor
    /// call back into the `ZswapTree`.
    fn pin(&self, offset: u64) -> bool {
        let _ = offset;
        true
    }

    /// Writes the decompressed page to the device (`__swap_writepage`),
    /// after the entry was erased. Runs under the region lock, with the
    /// slot pinned; must not call back into the `ZswapTree`.
    fn write(&self, offset: u64, page: &Page);

    /// Drops the pin taken by [`WritebackTarget::pin`]
    /// (`swapcache_clear` when the folio leaves the swap cache), after the
    /// write, with no lock of the tree held: it may free the slot and so
    /// call [`ZswapTree::invalidate`].
    fn unpin(&self, offset: u64) {
        let _ = offset;
    }
}

impl<F: Fn(u64, &Page) + Send + Sync> WritebackTarget for F {
    fn write(&self, offset: u64, page: &Page) {
        self(offset, page)
    }
}

/// Consecutive refused entries after which a shrink gives up
/// (`MAX_RECLAIM_RETRIES` in `shrink_worker`).
const MAX_RECLAIM_RETRIES: usize = 16;

/// A zswap instance for one swap device: one red-black tree per
/// [`REGION_SLOTS`] slots, each under its own lock. `Send + Sync`; share it
/// with `Arc`. See the crate docs for the protocol.
pub struct ZswapTree {
    regions: Box<[Region]>,
    nr_slots: u64,
    config: Config,
    compressor: &'static dyn Compressor,
    writeback: Option<Box<dyn WritebackTarget>>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
    /// 1 after the pool hit its limit, until it shrinks below the accept
    /// threshold (`zswap_pool_reached_full`).
    reached_full: AtomicU64,
    /// Set by the first store and never cleared: see
    /// [`ZswapTree::ever_stored`].
    ever_stored: AtomicBool,
}

impl fmt::Debug for ZswapTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZswapTree")
            .field("nr_slots", &self.nr_slots)
            .field("regions", &self.regions.len())
            .field("config", &self.config)
            .field("writeback", &self.writeback.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

/// What one writeback attempt did.
enum WbOutcome {
    /// No entry on any LRU.
    Empty,
    /// The oldest entry was written and erased.
    Written,
    /// The oldest entry could not be decoded: erased, not written.
    Dropped,
    /// The target refused the oldest entry's slot: rotated to its LRU's
    /// tail.
    Refused,
}

impl ZswapTree {
    /// A store for a device of `nr_slots` slots, without a writeback target
    /// (`zswap_swapon`: allocates the trees). A store over the pool limit is
    /// then rejected at once.
    ///
    /// # Example
    ///
    /// (The quick start of the crate's README.md: keep the two the same.)
    ///
    /// ```
    /// use zswap_tree::{Config, ContentClass, LoadMode, PAGE_SIZE, ZswapTree};
    ///
    /// let zswap = ZswapTree::new(1 << 16, Config::default()); // 256 MiB of swap, liblz4
    /// let page = ContentClass::Text.page(1); // a 4 KiB page of log-like text
    /// zswap.store(42, &page).unwrap(); // compressed about 4:1
    /// let mut out = [0u8; PAGE_SIZE];
    /// assert!(zswap.load(42, &mut out, LoadMode::Optimistic).unwrap()); // copy out, keep it
    /// assert_eq!(out, *page);
    /// assert!(zswap.load(42, &mut out, LoadMode::Exclusive).unwrap()); // move out (6.5-6.8)
    /// assert!(!zswap.load(42, &mut out, LoadMode::Exclusive).unwrap()); // gone: read the device
    /// assert_eq!(zswap.stats().stored_pages, 0);
    /// ```
    pub fn new(nr_slots: u64, config: Config) -> Self {
        Self::build(nr_slots, config, None)
    }

    /// As [`ZswapTree::new`], with a writeback callback used when a store
    /// finds the pool over its limit and by [`ZswapTree::shrink`]: it
    /// writes the page, and no slot is ever refused. See
    /// [`ZswapTree::with_writeback_target`] for a target that pins.
    pub fn with_writeback(
        nr_slots: u64,
        config: Config,
        writeback: impl Fn(u64, &Page) + Send + Sync + 'static,
    ) -> Self {
        Self::build(nr_slots, config, Some(Box::new(writeback)))
    }

    /// As [`ZswapTree::with_writeback`], with a [`WritebackTarget`] that
    /// also pins each slot while its page is written, and may refuse a slot
    /// a swap-in holds (`zswap_writeback_entry`'s `-EEXIST`).
    pub fn with_writeback_target(
        nr_slots: u64,
        config: Config,
        target: impl WritebackTarget + 'static,
    ) -> Self {
        Self::build(nr_slots, config, Some(Box::new(target)))
    }

    fn build(nr_slots: u64, config: Config, writeback: Option<Box<dyn WritebackTarget>>) -> Self {
        let nr_regions = nr_slots.div_ceil(REGION_SLOTS).max(1);
        let regions = (0..nr_regions)
            .map(|_| Region {
                inner: Mutex::new(RegionTree::default()),
                recycler: Mutex::new(Recycler::default()),
            })
            .collect();
        Self {
            regions,
            nr_slots,
            compressor: config.backend.compressor(),
            config,
            writeback,
            counters: Arc::new(Counters::default()),
            next_id: AtomicU64::new(0),
            reached_full: AtomicU64::new(0),
            ever_stored: AtomicBool::new(false),
        }
    }

    /// Slots of the device.
    pub fn nr_slots(&self) -> u64 {
        self.nr_slots
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compressor in use.
    pub fn compressor(&self) -> &'static dyn Compressor {
        self.compressor
    }

    fn region(&self, offset: u64) -> Option<&Region> {
        if offset >= self.nr_slots {
            return None;
        }
        self.regions.get((offset >> REGION_SHIFT) as usize)
    }

    /// A compressed buffer holding `src`: a recycled one of its size class
    /// from `region`'s cache if there is one, else a new allocation.
    fn compressed(&self, region: &Region, src: &[u8]) -> Arc<Compressed> {
        let class = src.len().div_ceil(CLASS_BYTES);
        if class <= MAX_CLASS {
            let cached = region.recycler.lock().take(class);
            if let Some(mut arc) = cached {
                // The cache held the only reference.
                if let Some(c) = Arc::get_mut(&mut arc) {
                    c.bytes.as_mut()[..src.len()].copy_from_slice(src);
                    c.len = src.len();
                    c.live.store(true, Relaxed);
                    self.counters
                        .pool_bytes
                        .fetch_add(src.len() as u64, Relaxed);
                    return arc;
                }
            }
        }
        Compressed::new(src, &self.counters)
    }

    /// Drops an erased entry's payload (after the region's tree lock): if
    /// this was the last reference to compressed bytes, they are freed into
    /// the region's [`Recycler`], or to the allocator when it is full.
    fn release(region: &Region, payload: Payload) {
        let Payload::Compressed(arc) = payload else {
            return;
        };
        // Only the last reference frees; a clone held by an optimistic
        // reader frees when that reader drops it. The entry is out of the
        // tree, the only place clones are made from, so a count of 1 (ours)
        // cannot grow again: no compare-and-swap (`Arc::get_mut`) needed.
        let class = usize::from(arc.class);
        if Arc::strong_count(&arc) != 1 || class > MAX_CLASS {
            return;
        }
        arc.live.store(false, Relaxed);
        let rest = region.recycler.lock().put(arc, class);
        drop(rest); // after the recycler's lock
    }

    /// Bytes held by the regions' caches of freed compressed buffers (at
    /// most 128 KiB per region, headers included; not in
    /// [`Stats::pool_bytes`]).
    ///
    /// Context: takes each region's cache lock in turn.
    pub fn recycled_bytes(&self) -> usize {
        self.regions.iter().map(|r| r.recycler.lock().bytes).sum()
    }

    /// Compresses `page` and stores it at `offset`, replacing any entry
    /// there (`zswap_store`).
    ///
    /// Order, as zswap: the pool limit is checked first (over the limit, the
    /// oldest entries are written back through the writeback target until
    /// the pool is below the accept threshold; if that is not possible the
    /// store is rejected), then same-filled detection, then compression
    /// (rejected if the result is at least [`Config::reject_len`] bytes).
    /// A rejected store invalidates the stale entry at `offset`, if any.
    ///
    /// Context: takes the region lock once, for the insertion only;
    /// compression and writeback run without any lock held. May call the
    /// writeback target.
    pub fn store(&self, offset: u64, page: &Page) -> Result<(), StoreError> {
        let region = self.region(offset).ok_or(StoreError::OutOfRange {
            offset,
            nr_slots: self.nr_slots,
        })?;
        if let Err(e) = self.make_room(offset) {
            return Err(self.reject(region, offset, e));
        }
        let payload = match same_filled(page) {
            Some(word) if self.config.same_filled_pages => Payload::Same(word),
            _ => {
                let mut buf = [0u8; MAX_COMPRESSED];
                match self.compressor.compress(page, &mut buf) {
                    Err(error) => {
                        return Err(self.reject(
                            region,
                            offset,
                            StoreError::CompressFail { offset, error },
                        ));
                    }
                    Ok(len) if len >= self.config.reject_len || len > buf.len() => {
                        return Err(self.reject(
                            region,
                            offset,
                            StoreError::CompressPoor { offset, len },
                        ));
                    }
                    Ok(len) => Payload::Compressed(self.compressed(region, &buf[..len])),
                }
            }
        };
        self.insert(region, offset, payload);
        Ok(())
    }

    /// Stores already-compressed bytes at `offset` as they are, bypassing
    /// same-filled detection, the reject threshold and the pool limit. For
    /// fault injection and fuzzing: a later load decompresses `compressed`
    /// with the configured backend and must report malformed data as a
    /// [`LoadError`].
    ///
    /// Context: takes the region lock once.
    pub fn store_compressed(&self, offset: u64, compressed: &[u8]) -> Result<(), StoreError> {
        let region = self.region(offset).ok_or(StoreError::OutOfRange {
            offset,
            nr_slots: self.nr_slots,
        })?;
        let payload = Payload::Compressed(self.compressed(region, compressed));
        self.insert(region, offset, payload);
        Ok(())
    }

    fn insert(&self, region: &Region, offset: u64, payload: Payload) {
        let id = self.next_id.fetch_add(1, Relaxed);
        let slot = Slot {
            id,
            payload,
            prev: None,
            next: None,
            on_lru: false,
        };
        if !self.ever_stored.load(Relaxed) {
            // Before the entry is visible, as the kernel's static key is
            // enabled before zswap stores anything. Relaxed: a flag read
            // without ordering (see `ever_stored`).
            self.ever_stored.store(true, Relaxed);
        }
        let old = region.inner.lock().insert(offset, slot);
        // After the lock: the free of a replaced entry.
        if let Some(old) = old {
            Self::release(region, old.payload);
        }
    }

    fn reject(&self, region: &Region, offset: u64, e: StoreError) -> StoreError {
        let c = &self.counters;
        inc(match e {
            StoreError::CompressPoor { .. } => &c.reject_compress_poor,
            StoreError::CompressFail { .. } => &c.reject_compress_fail,
            StoreError::PoolLimit { .. } => &c.reject_pool_limit,
            StoreError::OutOfRange { .. } => return e,
        });
        // The old entry is stale: if it stayed, a writeback could overwrite
        // the newer data the caller now writes to the device.
        let stale = {
            let mut tree = region.inner.lock();
            let stale = tree.erase(offset);
            tree.counts.invalidations += u64::from(stale.is_some());
            stale
        };
        if let Some(stale) = stale {
            Self::release(region, stale.payload); // after the lock: the free
        }
        e
    }

    /// The pool-limit check of `zswap_store` (`zswap_is_full`,
    /// `zswap_can_accept`), with the shrink done synchronously.
    fn make_room(&self, offset: u64) -> Result<(), StoreError> {
        let Some(max) = self.config.max_pool_bytes else {
            return Ok(());
        };
        let accept = max / 100 * u64::from(self.config.accept_threshold_percent)
            + max % 100 * u64::from(self.config.accept_threshold_percent) / 100;
        let bytes = self.counters.pool_bytes.load(Relaxed);
        if bytes > max {
            inc(&self.counters.pool_limit_hit);
            self.reached_full.store(1, Relaxed);
        } else if self.reached_full.load(Relaxed) == 0 || bytes <= accept {
            self.reached_full.store(0, Relaxed);
            return Ok(());
        }
        if let Some(wb) = &self.writeback {
            let mut refused = 0;
            while self.counters.pool_bytes.load(Relaxed) > accept {
                match self.write_back_through(&**wb) {
                    WbOutcome::Empty => break,
                    WbOutcome::Refused => {
                        refused += 1;
                        if refused == MAX_RECLAIM_RETRIES {
                            break;
                        }
                    }
                    WbOutcome::Written | WbOutcome::Dropped => refused = 0,
                }
            }
        }
        let bytes = self.counters.pool_bytes.load(Relaxed);
        if bytes <= accept {
            self.reached_full.store(0, Relaxed);
            Ok(())
        } else {
            Err(StoreError::PoolLimit {
                offset,
                pool_bytes: bytes,
                max_pool_bytes: max,
            })
        }
    }

    /// Loads the page at `offset` into `page` (`zswap_load`). Returns
    /// `Ok(false)` if zswap holds no entry there (the caller reads the
    /// backing device), `Ok(true)` if `page` now holds the data.
    ///
    /// [`LoadMode::Exclusive`] erases the entry under the region lock, then
    /// decompresses; [`LoadMode::Optimistic`] takes a reference to the
    /// compressed bytes under the lock and decompresses after it. A
    /// same-filled page is filled after the lock in both modes.
    ///
    /// Context: takes the region lock once, briefly; never calls back.
    pub fn load(&self, offset: u64, page: &mut Page, mode: LoadMode) -> Result<bool, LoadError> {
        let region = self.region(offset).ok_or(LoadError::OutOfRange {
            offset,
            nr_slots: self.nr_slots,
        })?;
        let c = &self.counters;
        let payload = {
            let mut tree = region.inner.lock();
            // Hits are counted here, under the lock; the rare decode failure
            // is subtracted in `stats`.
            let payload = match mode {
                LoadMode::Exclusive => tree.erase(offset).map(|s| {
                    tree.counts.hits_exclusive += 1;
                    s.payload
                }),
                LoadMode::Optimistic => tree.tree.get(offset).map(|s| s.payload.clone()),
            };
            match (&payload, mode) {
                (None, _) => tree.counts.load_misses += 1,
                (Some(_), LoadMode::Optimistic) => tree.counts.hits_optimistic += 1,
                (Some(_), LoadMode::Exclusive) => {}
            }
            payload
        };
        let Some(payload) = payload else {
            return Ok(false);
        };
        let decoded = match &payload {
            Payload::Same(word) => {
                fill_page(page, *word);
                Ok(())
            }
            Payload::Compressed(bytes) => self.compressor.decompress(bytes.bytes(), page),
        };
        // In exclusive mode, `payload` is the last reference unless an
        // optimistic reader still holds one: releasing it frees the bytes
        // (into the recycler). An optimistic load's clone is not the last
        // one unless the entry was erased meanwhile: it is just dropped.
        if mode == LoadMode::Exclusive {
            Self::release(region, payload);
        }
        match decoded {
            Ok(()) => Ok(true),
            Err(e) => {
                inc(match mode {
                    LoadMode::Exclusive => &c.load_errors_exclusive,
                    LoadMode::Optimistic => &c.load_errors_optimistic,
                });
                Err(LoadError::from_decompress(offset, e))
            }
        }
    }

    /// Whether an entry is stored at `offset`.
    ///
    /// Context: takes the region lock briefly.
    pub fn contains(&self, offset: u64) -> bool {
        self.region(offset)
            .is_some_and(|r| r.inner.lock().tree.contains_key(offset))
    }

    /// Erases the entry at `offset`, if any (`zswap_invalidate`, called when
    /// the swap slot is freed). Returns whether there was one.
    ///
    /// Context: takes the region lock once; the free happens after it.
    pub fn invalidate(&self, offset: u64) -> bool {
        let Some(region) = self.region(offset) else {
            return false;
        };
        let slot = {
            let mut tree = region.inner.lock();
            let slot = tree.erase(offset);
            tree.counts.invalidations += u64::from(slot.is_some());
            slot
        };
        match slot {
            Some(slot) => {
                Self::release(region, slot.payload);
                true
            }
            None => false,
        }
    }

    /// Erases every entry (`zswap_swapoff`). Returns how many there were.
    ///
    /// Context: takes each region lock in turn.
    pub fn invalidate_all(&self) -> usize {
        let mut total = 0;
        for region in self.regions.iter() {
            let drained = {
                let mut tree = region.inner.lock();
                let drained = tree.tree.drain();
                tree.lru_head = None;
                tree.lru_tail = None;
                tree.counts.stored_pages = 0;
                tree.counts.same_filled_pages = 0;
                tree.counts.invalidations += drained.len() as u64;
                drained
            };
            total += drained.len();
        }
        total
    }

    /// Writes back up to `n` of the least recently stored entries, oldest
    /// first, through `f(offset, &page)` (`shrink_worker` →
    /// `zswap_reclaim_entry` → `zswap_writeback_entry`), pinning nothing:
    /// for a store used without a swap map. Returns how many entries were
    /// written back and erased. Same-filled entries are never written back.
    /// [`ZswapTree::shrink`] writes back through the tree's own target,
    /// which may refuse slots.
    ///
    /// Each entry is erased, decompressed and passed to `f` while its region
    /// lock is held, so that no load, store or invalidation of that region
    /// can interleave with the write: the region lock stands in for the
    /// locked swap-cache folio with which `zswap_writeback_entry` excludes
    /// them. `f` must therefore not call back into this `ZswapTree` (that
    /// would deadlock); it should only write the page to the device.
    /// Entries whose data cannot be decoded are dropped without calling `f`
    /// and counted in [`Stats::load_errors`].
    ///
    /// The global LRU order is approximated by per-region lists whose heads
    /// are compared (`list_lru` is per node and memcg in the kernel).
    ///
    /// Context: takes every region lock briefly per entry to find the
    /// oldest, then that entry's region lock for the erase, the
    /// decompression and `f`.
    pub fn writeback(&self, n: usize, mut f: impl FnMut(u64, &Page)) -> usize {
        let mut written = 0;
        for _ in 0..n {
            match self.writeback_one(&|_| true, &mut f).0 {
                WbOutcome::Empty => break,
                WbOutcome::Written => written += 1,
                WbOutcome::Dropped | WbOutcome::Refused => {}
            }
        }
        written
    }

    /// Writes back up to `n` of the oldest entries through the writeback
    /// target given to [`ZswapTree::with_writeback`] (`shrink_worker`), as
    /// a store over the pool limit does; returns how many were written.
    /// An entry whose slot the target refuses to pin is moved to the tail
    /// of its LRU and counted in [`Stats::writeback_refused`]; the shrink
    /// stops after 16 refusals in a row (`MAX_RECLAIM_RETRIES`). Without a
    /// target it writes nothing.
    ///
    /// Context: as [`ZswapTree::writeback`]; the target's `unpin` runs
    /// after the region lock is dropped.
    pub fn shrink(&self, n: usize) -> usize {
        let Some(wb) = &self.writeback else {
            return 0;
        };
        let (mut written, mut refused) = (0, 0);
        while written < n && refused < MAX_RECLAIM_RETRIES {
            match self.write_back_through(&**wb) {
                WbOutcome::Empty => break,
                WbOutcome::Written => {
                    written += 1;
                    refused = 0;
                }
                WbOutcome::Dropped => refused = 0,
                WbOutcome::Refused => refused += 1,
            }
        }
        written
    }

    /// One writeback through `target`: pin, write, and (after the lock)
    /// unpin.
    fn write_back_through(&self, target: &dyn WritebackTarget) -> WbOutcome {
        let (outcome, pinned) =
            self.writeback_one(&|o| target.pin(o), &mut |o, p| target.write(o, p));
        if let Some(offset) = pinned {
            target.unpin(offset);
        }
        outcome
    }

    /// Writes back the globally oldest entry: `pin` its slot (refused:
    /// rotate it), erase, decompress, `write`, all under its region lock.
    /// Returns what happened and the offset pinned, which the caller must
    /// unpin now that no lock is held.
    fn writeback_one(
        &self,
        pin: &dyn Fn(u64) -> bool,
        write: &mut dyn FnMut(u64, &Page),
    ) -> (WbOutcome, Option<u64>) {
        loop {
            let oldest = self
                .regions
                .iter()
                .filter_map(|r| r.inner.lock().oldest_id().map(|id| (id, r)))
                .min_by_key(|&(id, _)| id);
            let Some((_, region)) = oldest else {
                return (WbOutcome::Empty, None);
            };
            let mut tree = region.inner.lock();
            // Another writeback or an erase may have taken that head since
            // the scan: rescan.
            let Some(head) = tree.lru_head else {
                continue;
            };
            let Some((offset, _)) = tree.tree.node(head) else {
                continue;
            };
            if !pin(offset) {
                // -EEXIST: a swap-in holds the slot. Rotate the entry to the
                // tail with a fresh age, so that the scan moves on.
                let s = tree.slot(head);
                let (prev, next) = (s.prev, s.next);
                s.id = self.next_id.fetch_add(1, Relaxed);
                tree.lru_unlink(prev, next);
                tree.lru_push_tail(head);
                drop(tree);
                inc(&self.counters.writeback_refused);
                return (WbOutcome::Refused, None);
            }
            let Some(slot) = tree.erase(offset) else {
                unreachable!("the LRU head {offset} is in the tree");
            };
            let mut page = [0u8; PAGE_SIZE];
            let decoded = match &slot.payload {
                Payload::Same(word) => {
                    fill_page(&mut page, *word);
                    Ok(())
                }
                Payload::Compressed(bytes) => self.compressor.decompress(bytes.bytes(), &mut page),
            };
            if decoded.is_ok() {
                write(offset, &page);
                tree.counts.writebacks += 1;
            } else {
                // Undecodable data is dropped: no device can be given it.
                inc(&self.counters.writeback_errors);
                tree.counts.invalidations += 1;
            }
            drop(tree);
            // After the lock: the free.
            Self::release(region, slot.payload);
            let outcome = if decoded.is_ok() {
                WbOutcome::Written
            } else {
                WbOutcome::Dropped
            };
            return (outcome, Some(offset));
        }
    }

    /// Whether any page was ever stored: the negation of the kernel's
    /// `zswap_never_enabled()` (a static key set when zswap is first
    /// enabled and never cleared), which `alloc_swap_folio` checks before
    /// it tries a large folio: zswap cannot load one. The model counts
    /// zswap as enabled from its first store, so that a system configured
    /// with zswap but never storing keeps large swap-ins. One relaxed load,
    /// where [`ZswapTree::stats`] takes every region lock.
    ///
    /// Relaxed: it orders nothing; a reader racing the first store may see
    /// `false`, as a fault racing the kernel's static-key flip may.
    ///
    /// ```
    /// use zswap_tree::{Config, PAGE_SIZE, ZswapTree};
    /// let zswap = ZswapTree::new(64, Config::default());
    /// assert!(!zswap.ever_stored());
    /// zswap.store(3, &[7u8; PAGE_SIZE]).unwrap();
    /// assert!(zswap.invalidate(3));
    /// assert!(zswap.ever_stored()); // empty again, but it has been used
    /// ```
    pub fn ever_stored(&self) -> bool {
        self.ever_stored.load(Relaxed)
    }

    /// A snapshot of the counters.
    ///
    /// Context: takes each region lock in turn (the per-region counters
    /// live under them).
    pub fn stats(&self) -> Stats {
        let mut t = RegionCounts::default();
        for region in self.regions.iter() {
            let r = region.inner.lock().counts;
            t.stored_pages += r.stored_pages;
            t.same_filled_pages += r.same_filled_pages;
            t.stores += r.stores;
            t.duplicates += r.duplicates;
            t.hits_exclusive += r.hits_exclusive;
            t.hits_optimistic += r.hits_optimistic;
            t.load_misses += r.load_misses;
            t.writebacks += r.writebacks;
            t.invalidations += r.invalidations;
        }
        let recycled: u64 = self.regions.iter().map(|r| r.recycler.lock().frees).sum();
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Relaxed);
        let (err_x, err_o) = (r(&c.load_errors_exclusive), r(&c.load_errors_optimistic));
        Stats {
            stored_pages: t.stored_pages,
            same_filled_pages: t.same_filled_pages,
            pool_bytes: r(&c.pool_bytes),
            stores: t.stores,
            duplicates: t.duplicates,
            reject_compress_poor: r(&c.reject_compress_poor),
            reject_compress_fail: r(&c.reject_compress_fail),
            reject_pool_limit: r(&c.reject_pool_limit),
            pool_limit_hit: r(&c.pool_limit_hit),
            loads_exclusive: t.hits_exclusive.saturating_sub(err_x),
            loads_optimistic: t.hits_optimistic.saturating_sub(err_o),
            load_misses: t.load_misses,
            load_errors: err_x + err_o + r(&c.writeback_errors),
            writeback_refused: r(&c.writeback_refused),
            writebacks: t.writebacks,
            invalidations: t.invalidations,
            compressed_frees: r(&c.compressed_frees) + recycled,
        }
    }

    /// Offsets of the stored entries, in order.
    ///
    /// Context: takes each region lock in turn.
    pub fn offsets(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for region in self.regions.iter() {
            out.extend(region.inner.lock().tree.keys());
        }
        out
    }

    /// Checks every region: red-black invariants, LRU links, and that each
    /// entry sits in its offset's region.
    ///
    /// Context: takes each region lock in turn.
    pub fn check_invariants(&self) -> Result<(), TreeError> {
        for (i, region) in self.regions.iter().enumerate() {
            let tree = region.inner.lock();
            tree.check(i)?;
            if let Some(offset) = tree
                .tree
                .keys()
                .find(|&o| (o >> REGION_SHIFT) as usize != i)
            {
                return Err(TreeError::Misplaced { offset });
            }
        }
        Ok(())
    }
}
