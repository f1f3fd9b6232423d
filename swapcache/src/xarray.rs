//! `XArray<T>`: the radix tree (lib/xarray.c). The design notes are in the
//! crate documentation; this module documents each step where it happens.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Bound, RangeBounds};
use core::ptr;

use crossbeam_epoch::{Collector, Guard};
use crossbeam_utils::CachePadded;

use crate::pointer::{ClonePointer, Pointer, SharedPointer};
use crate::sync::{
    Arc, AtomicPtr, AtomicUsize, Frozen, LoadLocked, Mutex, Ordering, ResetOwned, lock,
};

#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "swapcache stores 63-bit value entries in pointer-sized slots: it needs a 64-bit target"
);

/// log2 of the fan-out: index bits consumed per level (`XA_CHUNK_SHIFT`).
/// 6 normally, as the kernel; 2 under loom so that a handful of indices
/// produce trees of height 1 to 3 (and under shuttle, where 8-256 pages
/// make trees of height 2 to 4).
pub(crate) const CHUNK_SHIFT: u32 = if cfg!(any(loom, shuttle)) { 2 } else { 6 };

/// Slots per node (`XA_CHUNK_SIZE`): 64, or 4 under `cfg(loom)` and
/// `cfg(shuttle)`.
pub const FANOUT: usize = 1 << CHUNK_SHIFT;

const CHUNK_MASK: u64 = FANOUT as u64 - 1;

/// The most levels a tree of `u64` indices can have.
const MAX_HEIGHT: usize = 64usize.div_ceil(CHUNK_SHIFT as usize);

/// The most retired nodes a tree keeps for reuse (see [`NodeCache`]): 64
/// nodes of 544 bytes, 34 KiB per tree (0.05% of the 64 MiB of swap a swap
/// cache tree indexes). 2 under loom and shuttle, so that the models both
/// reuse nodes and overflow the cache.
///
/// Retired nodes come back in bursts (whatever the collector frees at its
/// next collection, every 128th pin of a thread), so the bound decides how
/// much of a burst is kept. Measured on `swapin profile --strategy
/// swapcache` (zram, 10000 pages, callgrind): 38% of node allocations are
/// served from the cache at 64 nodes, 62% at 128, 97% at 256, yet the
/// instructions per fault stay within 0.5% of each other (5877, 5873, 5906;
/// 5962 before the cache): what glibc saves on nodes it spends on the
/// entries' boxes. A loop that empties and refills a tree with one pin per
/// operation gains more from 256 (1908 -> 1251 instructions per
/// insert + remove), at four times the memory.
pub(crate) const NODE_CACHE_NODES: usize = if cfg!(any(loom, shuttle)) { 2 } else { 64 };

/// Does a node whose slots are selected by `index >> shift` cover `index`?
#[inline]
fn covers(shift: u32, index: u64) -> bool {
    let top = shift + CHUNK_SHIFT;
    top >= 64 || index >> top == 0
}

/// The slot of `index` in a node of the given shift.
#[inline]
fn offset(index: u64, shift: u32) -> usize {
    // The mask keeps the result below FANOUT, so slot indexing needs no
    // bounds check.
    ((index >> shift) & CHUNK_MASK) as usize
}

/// The shift of the smallest root that covers `index`.
fn min_shift(index: u64) -> u32 {
    let mut shift = 0;
    while !covers(shift, index) {
        shift += CHUNK_SHIFT;
    }
    shift
}

// ---------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------

/// A small integer stored in the tree in place of a pointer: the kernel's
/// value entry (`xa_mk_value`), used by the swap cache for workingset shadow
/// entries. It holds up to 63 bits ([`ValueEntry::MAX`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueEntry(u64);

impl ValueEntry {
    /// The largest value an entry can hold: `2^63 - 1` (the kernel's
    /// `LONG_MAX`), one bit being taken by the tag.
    pub const MAX: u64 = (1 << 63) - 1;

    /// Makes a value entry (`xa_mk_value`).
    ///
    /// # Errors
    /// [`ValueTooLarge`] when `value > ValueEntry::MAX`.
    pub const fn new(value: u64) -> Result<Self, ValueTooLarge> {
        if value > Self::MAX {
            Err(ValueTooLarge { value })
        } else {
            Ok(ValueEntry(value))
        }
    }

    /// The integer held (`xa_to_value`).
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A value does not fit in a [`ValueEntry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueTooLarge {
    /// The rejected value.
    pub value: u64,
}

impl fmt::Display for ValueTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "value {:#x} does not fit in a 63-bit value entry",
            self.value
        )
    }
}

impl std::error::Error for ValueTooLarge {}

/// An owned entry to put into the tree: a [`Pointer`] (an owned `Box` or
/// `Arc`, or an unowned index, stored in the slot as it is: no allocation
/// of the tree's own) or a value entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item<P> {
    /// A pointer entry.
    Ptr(P),
    /// A value entry.
    Value(ValueEntry),
}

impl<P: Pointer> From<P> for Item<P> {
    fn from(value: P) -> Self {
        Item::Ptr(value)
    }
}

/// An entry read from the tree. A pointer entry is the pointer type's
/// [`Pointer::Ref`] (`&'g T` for a `Box<T>`, [`ArcRef`](crate::ArcRef) for
/// an `Arc<T>`, the index itself for an unowned index); it lives as long as
/// both the tree borrow and the epoch [`Guard`] it was read under.
pub enum Entry<'g, P: Pointer> {
    /// A pointer entry.
    Ptr(P::Ref<'g>),
    /// A value entry.
    Value(ValueEntry),
}

impl<P: Pointer> Clone for Entry<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Pointer> Copy for Entry<'_, P> {}

impl<'g, P: Pointer> fmt::Debug for Entry<'g, P>
where
    P::Ref<'g>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Ptr(p) => f.debug_tuple("Ptr").field(p).finish(),
            Entry::Value(v) => f.debug_tuple("Value").field(&v.get()).finish(),
        }
    }
}

impl<'g, P: Pointer> Entry<'g, P> {
    /// The pointer, if this is a pointer entry.
    pub fn as_ptr(self) -> Option<P::Ref<'g>> {
        match self {
            Entry::Ptr(p) => Some(p),
            Entry::Value(_) => None,
        }
    }

    /// The value, if this is a value entry (`xa_is_value`).
    pub fn as_value(self) -> Option<ValueEntry> {
        match self {
            Entry::Ptr(_) => None,
            Entry::Value(v) => Some(v),
        }
    }

    /// Identity: the same pointer (not merely an equal `T`; see
    /// [`Pointer::same`]), or the same value. This is the comparison
    /// [`XArray::compare_remove`] uses.
    pub fn same(self, other: Entry<'_, P>) -> bool {
        match (self, other) {
            (Entry::Ptr(a), Entry::Ptr(b)) => P::same(a, b),
            (Entry::Value(a), Entry::Value(b)) => a == b,
            _ => false,
        }
    }

    /// An owned copy: see [`ClonePointer`], or the value.
    pub fn to_item(self) -> Item<P>
    where
        P: ClonePointer,
    {
        match self {
            Entry::Ptr(p) => Item::Ptr(P::clone_ref(p)),
            Entry::Value(v) => Item::Value(v),
        }
    }
}

/// Insert-if-absent found the index occupied (the kernel's `-EBUSY` from
/// `xa_insert`). The rejected item is handed back.
pub struct InsertError<P> {
    /// The index that was occupied.
    pub index: u64,
    /// The item that was not inserted.
    pub item: Item<P>,
}

impl<P> InsertError<P> {
    /// Takes the rejected item back.
    pub fn into_item(self) -> Item<P> {
        self.item
    }
}

impl<P> fmt::Debug for InsertError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<P> fmt::Display for InsertError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {} is occupied", self.index)
    }
}

impl<P> std::error::Error for InsertError<P> {}

/// A conditional removal did not happen: the entry at `index` was absent or
/// was not the expected one (`xa_cmpxchg` returning something other than
/// `old`). `current` is what the tree held when the lock was taken.
pub struct CompareError<'g, P: Pointer> {
    /// The index looked at.
    pub index: u64,
    /// The entry found there, bound to the guard.
    pub current: Option<Entry<'g, P>>,
}

impl<'g, P: Pointer> fmt::Debug for CompareError<'g, P>
where
    P::Ref<'g>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompareError")
            .field("index", &self.index)
            .field("current", &self.current)
            .finish()
    }
}

impl<P: Pointer> fmt::Display for CompareError<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.current {
            None => write!(f, "index {} is empty", self.index),
            Some(_) => write!(f, "index {} holds a different entry", self.index),
        }
    }
}

impl<'g, P: Pointer> std::error::Error for CompareError<'g, P> where P::Ref<'g>: fmt::Debug {}

// ---------------------------------------------------------------------------
// Slot encoding
// ---------------------------------------------------------------------------

/// Bit 0 set: a value entry (`xa_mk_value`: `(v << 1) | 1`).
#[inline]
fn is_value(raw: *mut ()) -> bool {
    raw.addr() & 1 == 1
}

#[inline]
fn encode_value(v: ValueEntry) -> *mut () {
    // A value entry is an integer, not a pointer: it carries no provenance
    // and is never dereferenced (strict provenance holds).
    ptr::without_provenance_mut(((v.get() as usize) << 1) | 1)
}

#[inline]
fn decode_value(raw: *mut ()) -> ValueEntry {
    ValueEntry((raw.addr() >> 1) as u64)
}

/// Something the locked core can put into a leaf slot and hand back
/// unchanged when the caller's condition fails.
pub(crate) trait Encode<P>: Sized {
    /// Converts into a slot word (never null).
    fn encode(self) -> *mut ();
    /// Undoes [`Encode::encode`].
    ///
    /// # Safety
    /// `raw` comes from `Self::encode` and has not been published to the tree
    /// or decoded since.
    unsafe fn decode(raw: *mut ()) -> Self;
}

impl<P: Pointer> Encode<P> for Item<P> {
    #[inline]
    fn encode(self) -> *mut () {
        match self {
            Item::Ptr(p) => p.into_raw(),
            Item::Value(v) => encode_value(v),
        }
    }

    #[inline]
    unsafe fn decode(raw: *mut ()) -> Self {
        if is_value(raw) {
            Item::Value(decode_value(raw))
        } else {
            // SAFETY: by the contract, `raw` is the unpublished word made by
            // `P::into_raw` in `encode`, owned by the caller.
            Item::Ptr(unsafe { P::from_raw(raw) })
        }
    }
}

/// A `P` that must go in as a pointer entry (the swap cache adds folios).
pub(crate) struct PtrItem<P>(pub(crate) P);

impl<P: Pointer> Encode<P> for PtrItem<P> {
    #[inline]
    fn encode(self) -> *mut () {
        self.0.into_raw()
    }

    #[inline]
    unsafe fn decode(raw: *mut ()) -> Self {
        // SAFETY: as for `Item::decode`; `encode` only makes pointer entries.
        PtrItem(unsafe { P::from_raw(raw) })
    }
}

impl<P> Encode<P> for ValueEntry {
    #[inline]
    fn encode(self) -> *mut () {
        encode_value(self)
    }

    #[inline]
    unsafe fn decode(raw: *mut ()) -> Self {
        decode_value(raw)
    }
}

/// An encoded item not yet published: gives itself back (and drops) if the
/// operation unwinds (a panicking predicate) before it is either stored or
/// handed back.
struct Pending<P, N: Encode<P>> {
    raw: *mut (),
    _marker: PhantomData<(N, P)>,
}

impl<P, N: Encode<P>> Pending<P, N> {
    #[inline]
    fn new(item: N) -> Self {
        Pending {
            raw: item.encode(),
            _marker: PhantomData,
        }
    }

    /// Gives up ownership: the word is about to be published.
    #[inline]
    fn publish(self) -> *mut () {
        let raw = self.raw;
        core::mem::forget(self);
        raw
    }

    #[inline]
    fn into_item(self) -> N {
        let raw = self.publish();
        // SAFETY: `raw` came from `N::encode` in `new` and was not published.
        unsafe { N::decode(raw) }
    }
}

impl<P, N: Encode<P>> Drop for Pending<P, N> {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `N::encode` and was neither published nor
        // decoded (both go through `publish`, which forgets `self`).
        drop(unsafe { N::decode(self.raw) });
    }
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

/// An interior or leaf node (`struct xa_node`).
struct Node {
    /// Index bits below this level: the slot of `index` is
    /// `(index >> shift) & CHUNK_MASK`. 0 for a leaf. Never changes (under
    /// loom, reading it checks that the node's publication happens-before
    /// the read).
    shift: Frozen<u32>,
    /// Non-empty slots. Read and written only under the tree's lock
    /// (`load_locked`, `Relaxed` stores: the lock orders them).
    count: AtomicUsize,
    /// Where the node goes once it is retired (see [`Link`]). Readers never
    /// touch it.
    link: UnsafeCell<Link>,
    /// Leaf (`shift == 0`): null, a value entry (bit 0 set) or a pointer
    /// entry (a `P::into_raw` word). Interior: null or a `*mut Node` of
    /// shift `shift - CHUNK_SHIFT`.
    slots: [AtomicPtr<()>; FANOUT],
}

/// A retired node's place in a chain: the batch one operation retired, then
/// a free list of the [`NodeCache`]. Written by the lock holder that unlinks
/// the node, then by whoever owns the node: the deferred function after the
/// grace period, the cache under its lock. A `core` cell, not the loom
/// facade's, because its hand-over from the retiring writer to the deferred
/// function goes through crossbeam-epoch, which loom cannot see.
#[derive(Clone, Copy)]
struct Link {
    /// The next node of the chain, or null.
    next: *mut Node,
    /// `shift / CHUNK_SHIFT`: which free list the node belongs on. Recorded
    /// at retirement so that the deferred function does not read `shift`
    /// (whose initialisation it is ordered after only through the epoch).
    level: usize,
    /// At the head of a retired batch: how many copies of the batch's entry
    /// the deferred function drops (1, or `nr` after a range delete). Kept
    /// here so that the closure stays three words (stored inline by
    /// crossbeam, no allocation).
    copies: usize,
}

#[cfg(test)]
thread_local! {
    /// Nodes allocated minus nodes freed on this thread (tests only: the
    /// leak tests run every allocation and free on one thread).
    pub(crate) static LIVE_NODES: core::cell::Cell<isize> = const { core::cell::Cell::new(0) };
}

#[cfg(test)]
impl Drop for Node {
    fn drop(&mut self) {
        LIVE_NODES.with(|n| n.set(n.get() - 1));
    }
}

impl Node {
    /// A new, empty, unpublished node, from the allocator.
    fn new(shift: u32) -> *mut Node {
        #[cfg(test)]
        LIVE_NODES.with(|n| n.set(n.get() + 1));
        Box::into_raw(Box::new(Node {
            shift: Frozen::new(shift),
            count: AtomicUsize::new(0),
            link: UnsafeCell::new(Link {
                next: ptr::null_mut(),
                level: 0,
                copies: 0,
            }),
            slots: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }))
    }

    /// `count += delta`, under the tree's lock.
    fn add_count(&self, delta: isize) {
        let c = self.count.load_locked();
        self.count
            .store(c.wrapping_add_signed(delta), Ordering::Relaxed);
    }
}

/// The retired nodes a tree keeps for reuse: the model of the kernel's
/// `radix_tree_node_cachep` slab with its per-CPU free lists, except that
/// there is one cache per tree (so every access to a cached node is ordered
/// by that tree's lock, which keeps the loom model exact) and that it holds
/// at most [`NODE_CACHE_NODES`] nodes; beyond that they go back to the
/// allocator.
///
/// Life of a node:
///
/// ```text
///   alloc: free list (reset) or Box::new --Release store--> in the tree
///   unlink (under the lock) --> Retired batch of the operation
///     --one Guard::defer_unchecked per operation--> grace period
///     --> NodeCache::put: free list of its level, or freed if the cache is full
/// ```
///
/// A node enters a free list only from the deferred function, that is after
/// every guard that could have reached it has been dropped (as the kernel's
/// `xa_node_free` → `call_rcu` → `radix_tree_node_rcu_free`), so reusing it
/// cannot change what a reader sees. There is one free list per level and a
/// node keeps its `shift` for life: a reader's `shift` read (checked by loom
/// under `cfg(loom)`) never races with a rewrite. The deferred function
/// holds an `Arc` of the cache, so a batch retired just before the tree is
/// dropped still finds it; the last `Arc` frees the cached nodes.
///
/// Lock order: the tree's lock, then the cache's. Nothing is called under
/// the cache's lock (no epoch operation, no allocation, no `T` code), so a
/// deferred function that runs inside any epoch operation, on any thread,
/// can always take it.
struct NodeCache {
    free: Mutex<FreeLists>,
    /// Allocations served from the cache (tests only).
    #[cfg(test)]
    reused: AtomicUsize,
}

/// The free lists of a [`NodeCache`], by level, linked through
/// [`Node::link`].
struct FreeLists {
    heads: [*mut Node; MAX_HEIGHT],
    /// Nodes on all lists, at most [`NODE_CACHE_NODES`].
    len: usize,
}

// SAFETY: the lists own the nodes they link (plain heap memory with no `T`
// in them); they are only reached under the cache's lock.
unsafe impl Send for FreeLists {}

impl NodeCache {
    fn new() -> Self {
        NodeCache {
            free: Mutex::new(FreeLists {
                heads: [ptr::null_mut(); MAX_HEIGHT],
                len: 0,
            }),
            #[cfg(test)]
            reused: AtomicUsize::new(0),
        }
    }

    /// An empty, unpublished node of the given shift (`xas_alloc`): a cached
    /// one, reset, if there is one, else a new one. Called under the tree's
    /// lock; takes the cache's.
    fn alloc(&self, shift: u32) -> *mut Node {
        let level = (shift / CHUNK_SHIFT) as usize;
        let node = {
            let mut free = lock(&self.free);
            let node = free.heads[level];
            if !node.is_null() {
                // SAFETY: a node on a free list is owned by the cache, and we
                // hold its lock.
                free.heads[level] = unsafe { (*(*node).link.get()).next };
                free.len -= 1;
            }
            node
        };
        if node.is_null() {
            return Node::new(shift);
        }
        #[cfg(test)]
        self.reused.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the node left the free list under the cache's lock, so it
        // is ours alone: no reader can hold a reference to it (it went on
        // the list only after its grace period) and no other writer can
        // take it.
        let n = unsafe { &mut *node };
        debug_assert_eq!(n.shift.get(), shift);
        // Nothing of the node's previous life may show: every slot empty
        // (no stale child, pointer or value entry), no count.
        for slot in &mut n.slots {
            slot.reset_owned(ptr::null_mut());
        }
        n.count.reset_owned(0);
        node
    }

    /// Takes back a chain of retired nodes (linked through `link`): onto the
    /// free lists while there is room, to the allocator beyond that.
    ///
    /// # Safety
    /// Every node of the chain was unlinked from this cache's tree, is past
    /// its grace period (no guard can reach it), and is owned by the caller.
    unsafe fn put(&self, mut chain: *mut Node) {
        let mut overflow: *mut Node = ptr::null_mut();
        {
            let mut free = lock(&self.free);
            while !chain.is_null() {
                let node = chain;
                // SAFETY: the caller owns the chain's nodes; we hold the
                // cache's lock for the free lists.
                let link = unsafe { &mut *(*node).link.get() };
                chain = link.next;
                if free.len < NODE_CACHE_NODES {
                    link.next = free.heads[link.level];
                    free.heads[link.level] = node;
                    free.len += 1;
                } else {
                    link.next = overflow;
                    overflow = node;
                }
            }
        }
        // SAFETY: `overflow` is a chain of nodes we own (from the caller).
        unsafe { free_chain(overflow) };
    }

    /// Nodes cached (tests only).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.free).len
    }

    /// Fills every slot of every cached node with a value entry and its count
    /// with garbage, as if reset had been forgotten (tests only).
    #[cfg(test)]
    fn poison(&self) {
        let free = lock(&self.free);
        for &head in &free.heads {
            let mut node = head;
            while !node.is_null() {
                // SAFETY: cached nodes are owned by the cache; we hold its
                // lock.
                let n = unsafe { &*node };
                for (i, slot) in n.slots.iter().enumerate() {
                    slot.store(encode_value(ValueEntry(i as u64 + 1)), Ordering::Relaxed);
                }
                n.count.store(usize::MAX / 2, Ordering::Relaxed);
                // SAFETY: as above.
                node = unsafe { (*n.link.get()).next };
            }
        }
    }
}

impl Drop for NodeCache {
    fn drop(&mut self) {
        let free = self.free.get_mut().unwrap_or_else(|e| e.into_inner());
        for head in free.heads {
            // SAFETY: the last reference to the cache is going: the lists
            // are ours, and no node on them is reachable from anywhere else.
            unsafe { free_chain(head) };
        }
    }
}

/// Frees a chain of nodes linked through `link`, without following their
/// slots.
///
/// # Safety
/// The caller owns every node of the chain, and nothing else refers to them.
unsafe fn free_chain(mut chain: *mut Node) {
    while !chain.is_null() {
        // SAFETY: owned (contract), allocated by `Node::new`.
        let mut node = unsafe { Box::from_raw(chain) };
        chain = node.link.get_mut().next;
    }
}

/// The nodes one locked operation unlinked, chained through their `link`,
/// retired together with one deferred function.
struct Retired {
    head: *mut Node,
}

impl Retired {
    fn new() -> Self {
        Retired {
            head: ptr::null_mut(),
        }
    }

    /// Adds a node to the batch.
    ///
    /// # Safety
    /// Under the tree's lock; `node` was just unlinked from the tree and is
    /// added once.
    unsafe fn push(&mut self, node: *mut Node) {
        // SAFETY: the node is still live (it is retired, not freed, below);
        // under the lock its `shift` is initialised (it was published by an
        // earlier critical section or this one).
        let level = (unsafe { &*node }.shift.get() / CHUNK_SHIFT) as usize;
        // SAFETY: `link` is touched only by the lock holder while the node
        // is in the tree or being retired (readers never read it), and the
        // node was unlinked by this critical section, so no one else writes
        // it.
        unsafe {
            *(*node).link.get() = Link {
                next: self.head,
                level,
                copies: 0,
            };
        }
        self.head = node;
    }
}

/// The nodes a locked walk went through, root first.
struct Path {
    /// Raw pointers as loaded from the tree (never derived from a
    /// reference), so that a pruned node can be freed through them.
    nodes: [*mut Node; MAX_HEIGHT],
    offsets: [usize; MAX_HEIGHT],
    depth: usize,
}

impl Path {
    fn new() -> Self {
        Path {
            nodes: [ptr::null_mut(); MAX_HEIGHT],
            offsets: [0; MAX_HEIGHT],
            depth: 0,
        }
    }

    fn push(&mut self, node: *mut Node, offset: usize) {
        self.nodes[self.depth] = node;
        self.offsets[self.depth] = offset;
        self.depth += 1;
    }
}

/// Writer-side state, on its own cache line so that writers do not bounce
/// the line readers load `root` from.
struct Writer {
    /// `xa_lock`: serialises every modification of the tree.
    lock: Mutex<()>,
    /// Pointer entries stored (written under the lock, read `Relaxed`).
    ptrs: AtomicUsize,
    /// Value entries stored (written under the lock, read `Relaxed`).
    values: AtomicUsize,
    /// Retired nodes kept for reuse; shared with the deferred functions that
    /// hand nodes back to it.
    cache: Arc<NodeCache>,
}

/// A radix tree over `u64` indices with lock-free, epoch-protected reads and
/// a writer lock, modelled on the kernel's XArray (lib/xarray.c). See the
/// crate documentation for the layout and the memory-ordering argument.
///
/// `XArray<P>` is `Send` (every [`Pointer`] is), and `Sync` when `P` is:
/// entries are then read through `P::Ref` on other threads and dropped on
/// whichever thread runs the epoch collection.
///
/// Every method takes a [`Guard`] pinned from the tree's
/// [collector](XArray::collector) (see [`XArray::pin`]) and panics if it was
/// pinned from another collector: a foreign guard would not hold back the
/// reclamation of the entries it is used to read.
pub struct XArray<P: Pointer> {
    /// The root node, or null when the tree is empty. Its `shift` is the
    /// height: a root of shift `s` covers indices below `2^(s + CHUNK_SHIFT)`.
    root: AtomicPtr<Node>,
    collector: Collector,
    writer: CachePadded<Writer>,
    /// The tree owns its `P`s; the raw marker opts out of the auto traits,
    /// which are implemented below with the right bounds.
    _marker: PhantomData<(P, *const ())>,
}

// SAFETY: moving the tree to another thread moves the `P`s it owns, which
// needs `P: Send` (a supertrait of `Pointer`); the nodes themselves are plain
// heap memory.
unsafe impl<P: Pointer> Send for XArray<P> {}
// SAFETY: through `&XArray`, one thread can insert a `P` whose `P::Ref`
// another thread reads (sound when `P: Sync`, by the `Pointer` contract) or
// that is dropped on whichever thread runs the epoch collection (`P: Send`).
unsafe impl<P: Pointer + Sync> Sync for XArray<P> {}

impl<P: Pointer> fmt::Debug for XArray<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XArray")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<P: Pointer> Default for XArray<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Pointer> XArray<P> {
    /// Number of entries, pointer and value (the kernel keeps no such
    /// counter; `xa_empty` is the closest).
    ///
    /// Context: any context, lock-free. Exact when no writer runs
    /// concurrently; otherwise a recent value.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ptr_count() + self.value_count()
    }

    /// Is the tree empty? (`xa_empty`)
    ///
    /// Context: any context, lock-free.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        // Acquire is not needed: only the null-ness is used.
        self.root.load(Ordering::Relaxed).is_null()
    }

    /// Number of pointer entries.
    ///
    /// Context: any context, lock-free; as [`XArray::len`].
    #[must_use]
    pub fn ptr_count(&self) -> usize {
        self.writer.ptrs.load(Ordering::Relaxed)
    }

    /// Number of value entries.
    ///
    /// Context: any context, lock-free; as [`XArray::len`].
    #[must_use]
    pub fn value_count(&self) -> usize {
        self.writer.values.load(Ordering::Relaxed)
    }

    /// The epoch collector that protects this tree's readers.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }
}

impl<P: Pointer> XArray<P> {
    /// An empty tree protected by crossbeam-epoch's global collector
    /// (`DEFINE_XARRAY`).
    ///
    /// ```
    /// use swapcache::XArray;
    ///
    /// let xa: XArray<Box<String>> = XArray::new();
    /// assert!(xa.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_collector(crossbeam_epoch::default_collector().clone())
    }

    /// An empty tree protected by `collector` (`xa_init`). Use a collector of
    /// your own to control when retired entries are freed (tests, loom).
    pub fn with_collector(collector: Collector) -> Self {
        XArray {
            root: AtomicPtr::new(ptr::null_mut()),
            collector,
            writer: CachePadded::new(Writer {
                lock: Mutex::new(()),
                ptrs: AtomicUsize::new(0),
                values: AtomicUsize::new(0),
                cache: Arc::new(NodeCache::new()),
            }),
            _marker: PhantomData,
        }
    }

    /// Pins the current thread on the tree's collector (`rcu_read_lock`).
    ///
    /// With the global collector this is `crossbeam_epoch::pin()` (a
    /// thread-local handle); with a collector of your own it registers a
    /// handle for the guard's lifetime, which is slower: keep a
    /// `LocalHandle` of your own and pin it instead on hot paths.
    pub fn pin(&self) -> Guard {
        if self.collector == *crossbeam_epoch::default_collector() {
            crossbeam_epoch::pin()
        } else {
            self.collector.register().pin()
        }
    }

    #[inline]
    fn check_guard(&self, guard: &Guard) {
        assert!(
            guard.collector() == Some(&self.collector),
            "swapcache: the guard was not pinned from this tree's collector"
        );
        // Every operation under a guard starts here: the reader side of the
        // pin fence (see `epoch_fence`).
        crate::sync::epoch_fence();
    }

    /// The leaf slot word for `index`, read without the lock.
    #[inline]
    fn lookup(&self, index: u64) -> *mut () {
        // Acquire: pairs with the Release store of `root` in `ensure_leaf`
        // (new or grown root) and `shrink` (shrunk root), so the node's
        // `shift` and slots are initialised when we read them.
        let root = self.root.load(Ordering::Acquire);
        if root.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a node read from the tree under a guard pinned on the
        // tree's collector (checked by every caller) is retired only after
        // it is unlinked, and freed only after every guard that was pinned
        // when it was retired has been dropped; our guard outlives this call.
        let mut node = unsafe { &*root };
        let mut shift = node.shift.get();
        if !covers(shift, index) {
            return ptr::null_mut();
        }
        loop {
            // Acquire: pairs with the Release store that published this
            // word (a child node in `ensure_leaf`, an entry in `store_if`), so
            // what it points to is fully initialised.
            let raw = node.slots[offset(index, shift)].load(Ordering::Acquire);
            if shift == 0 || raw.is_null() {
                return raw;
            }
            shift -= CHUNK_SHIFT;
            // SAFETY: an interior slot holds null or a node; protected as
            // the root is, above.
            node = unsafe { &*raw.cast::<Node>() };
            if cfg!(loom) {
                // The reader computes the child's shift; under loom, also
                // read it, so that loom checks the child was published.
                assert_eq!(node.shift.get(), shift);
            }
        }
    }

    /// Turns a leaf word into an entry bound to `'g`.
    ///
    /// # Safety
    /// `raw` was read from a leaf slot of this tree, either under the lock
    /// or under `guard`, and `guard` is pinned on the tree's collector.
    #[inline]
    unsafe fn entry<'g>(&'g self, raw: *mut (), _guard: &'g Guard) -> Option<Entry<'g, P>> {
        if raw.is_null() {
            None
        } else if is_value(raw) {
            Some(Entry::Value(decode_value(raw)))
        } else {
            // SAFETY: a pointer entry is a `P::into_raw` published with
            // Release after its pointee was initialised. It is taken back
            // (`from_raw`) only by a deferred function retired after it was
            // unlinked, which cannot run while `_guard` (pinned before the
            // word was read) lives; or by `Drop`, which needs `&mut self` and
            // so cannot run while `'g` borrows the tree.
            Some(Entry::Ptr(unsafe { P::borrow(raw) }))
        }
    }

    /// Reads the entry at `index` (`xa_load`).
    ///
    /// Context: any context; lock-free, takes no lock. The entry was the one
    /// at `index` at some instant during the call.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    ///
    /// ```
    /// use swapcache::{Entry, XArray};
    ///
    /// let xa: XArray<u32> = XArray::new();
    /// let guard = xa.pin();
    /// xa.insert(5, 50, &guard).unwrap();
    /// assert_eq!(xa.load(5, &guard).and_then(Entry::as_ptr), Some(50));
    /// assert!(xa.load(6, &guard).is_none());
    /// ```
    #[must_use]
    #[inline]
    pub fn load<'g>(&'g self, index: u64, guard: &'g Guard) -> Option<Entry<'g, P>> {
        self.check_guard(guard);
        let raw = self.lookup(index);
        // SAFETY: `raw` is a leaf word read under `guard`, which is ours.
        unsafe { self.entry(raw, guard) }
    }

    /// Reads the entry at `index` and clones it out, pinning internally
    /// (`xa_load` followed by taking a reference, as `filemap_get_folio`
    /// does with `folio_try_get`).
    ///
    /// Context: any context; lock-free.
    #[must_use]
    pub fn load_cloned(&self, index: u64) -> Option<Item<P>>
    where
        P: ClonePointer,
    {
        let guard = self.pin();
        self.load(index, &guard).map(Entry::to_item)
    }

    /// Inserts `item` at `index` only if the index is empty (`xa_insert` /
    /// `__xa_insert`). The emptiness check is made inside the lock, which is
    /// the fix seed 002 asks for in `add_to_swap_cache`.
    ///
    /// Context: takes the tree's lock; may allocate. Must not be called from
    /// a callback that runs under the same tree's lock.
    ///
    /// # Errors
    /// [`InsertError`] with the item handed back if `index` is occupied.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    ///
    /// ```
    /// use swapcache::{Item, XArray};
    ///
    /// let xa: XArray<Box<u64>> = XArray::new();
    /// let guard = xa.pin();
    /// xa.insert(1, Box::new(10), &guard).unwrap();
    /// let err = xa.insert(1, Box::new(11), &guard).unwrap_err();
    /// assert_eq!(err.index, 1);
    /// assert_eq!(err.into_item(), Item::Ptr(Box::new(11))); // handed back
    /// ```
    pub fn insert<'g>(
        &'g self,
        index: u64,
        item: impl Into<Item<P>>,
        guard: &'g Guard,
    ) -> Result<(), InsertError<P>> {
        self.store_if(index, item.into(), guard, |cur| cur.is_none())
            .map(|_| ())
            .map_err(|(item, _)| InsertError { index, item })
    }

    /// Stores `item` at `index`, replacing what was there (`xa_store`). The
    /// old entry is retired through the collector and returned, valid for
    /// `'g`.
    ///
    /// Context: takes the tree's lock; may allocate.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    pub fn store<'g>(
        &'g self,
        index: u64,
        item: impl Into<Item<P>>,
        guard: &'g Guard,
    ) -> Option<Entry<'g, P>> {
        // The predicate accepts everything, so `Err` does not happen; its
        // `cur` would be the right answer anyway.
        self.store_if(index, item.into(), guard, |_| true)
            .unwrap_or_else(|(_, cur)| cur)
    }

    /// Removes the entry at `index` (`xa_erase`), shrinking the tree as
    /// needed. The old entry is retired and returned, valid for `'g`.
    ///
    /// Context: takes the tree's lock.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    ///
    /// ```
    /// use swapcache::{Entry, XArray};
    ///
    /// let xa: XArray<Box<String>> = XArray::new();
    /// let guard = xa.pin();
    /// xa.insert(3, Box::new("x".into()), &guard).unwrap();
    /// // The removed entry stays readable until the guard is dropped.
    /// let old = xa.remove(3, &guard).and_then(Entry::as_ptr);
    /// assert_eq!(old.map(String::as_str), Some("x"));
    /// assert!(xa.is_empty());
    /// ```
    pub fn remove<'g>(&'g self, index: u64, guard: &'g Guard) -> Option<Entry<'g, P>> {
        // With a predicate that accepts everything, `Err` means "empty".
        self.remove_where(index, guard, |_| true)
            .map_or_else(|cur| cur, Some)
    }

    /// Removes the entry at `index` if `pred` accepts it. `pred` runs under
    /// the tree's lock on the current entry (never on an empty slot).
    ///
    /// Context: takes the tree's lock; `pred` must not touch this tree.
    ///
    /// # Errors
    /// [`CompareError`] with the current entry if the slot is empty or `pred`
    /// refused.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector, or if `pred`
    /// panics (the tree is left unchanged).
    pub fn remove_if<'g>(
        &'g self,
        index: u64,
        guard: &'g Guard,
        pred: impl FnOnce(Entry<'g, P>) -> bool,
    ) -> Result<Entry<'g, P>, CompareError<'g, P>> {
        self.remove_where(index, guard, pred)
            .map_err(|current| CompareError { index, current })
    }

    /// Removes the entry at `index` only if it is `expected`: the same
    /// pointer (not merely an equal `T`) or the same value
    /// (`xa_cmpxchg(xa, index, old, NULL)`; `__delete_from_swap_cache`).
    ///
    /// Context: takes the tree's lock.
    ///
    /// # Errors
    /// [`CompareError`] with the current entry otherwise.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    pub fn compare_remove<'g>(
        &'g self,
        index: u64,
        expected: Entry<'_, P>,
        guard: &'g Guard,
    ) -> Result<Entry<'g, P>, CompareError<'g, P>> {
        self.remove_if(index, guard, |cur| cur.same(expected))
    }

    /// Iterates over the entries whose index is in `range`, in index order
    /// (`xa_for_each_range`).
    ///
    /// Context: any context; lock-free. Each step walks from the root (as
    /// `xa_find_after`), so the iteration sees every entry that stays in
    /// place throughout, never sees an index twice, and may or may not see
    /// entries inserted or removed concurrently.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    pub fn range<'g>(&'g self, range: impl RangeBounds<u64>, guard: &'g Guard) -> Range<'g, P> {
        self.check_guard(guard);
        let next = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let last = match range.end_bound() {
            Bound::Included(&e) => Some(e),
            Bound::Excluded(&e) => e.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        let (next, last, done) = match (next, last) {
            (Some(n), Some(l)) if n <= l => (n, l, false),
            _ => (0, 0, true),
        };
        Range {
            xa: self,
            guard,
            next,
            last,
            done,
        }
    }

    /// Iterates over every entry in index order (`xa_for_each`); see
    /// [`XArray::range`].
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    pub fn iter<'g>(&'g self, guard: &'g Guard) -> Range<'g, P> {
        self.range(.., guard)
    }

    /// The first entry with an index in `start..=last` (`xa_find`), read
    /// without the lock, under a guard checked by the caller; `start <=
    /// last` (the only caller, [`Range`], never asks for an empty range).
    fn find(&self, start: u64, last: u64) -> Option<(u64, *mut ())> {
        // Acquire: as in `lookup`.
        let root = self.root.load(Ordering::Acquire);
        if root.is_null() {
            return None;
        }
        // SAFETY: as in `lookup`.
        let node = unsafe { &*root };
        if !covers(node.shift.get(), start) {
            return None;
        }
        // SAFETY: `node` is a live node of shift `node.shift` covering
        // `start`, read under the caller's guard.
        unsafe { find_in(node, node.shift.get(), 0, start, last) }
    }

    /// Retires what one locked operation unlinked: `copies` owned copies of
    /// the entry word `raw` (taken back and dropped if it is a pointer entry
    /// of a type with drop glue; null, value entries and unowned indices own
    /// nothing) and the batch of `nodes` (handed to the tree's
    /// [`NodeCache`]), all with one deferred function, which runs once no
    /// guard can still see them. A single-index operation retires one copy;
    /// a range delete one per index of the range (each slot owned one).
    ///
    /// # Safety
    /// Called under the lock, after `raw` (in `copies` slots, each of which
    /// owned one copy) and every node of `nodes` were unlinked from the tree,
    /// once for each.
    unsafe fn retire(&self, raw: *mut (), copies: usize, nodes: Retired, guard: &Guard) {
        // An entry needs a deferred drop only if it is a pointer entry of a
        // type with drop glue: an unowned index (`u32`) retires nothing, and
        // costs no epoch operation at all.
        let owned = core::mem::needs_drop::<P>() && !raw.is_null() && !is_value(raw);
        let owned = if owned { raw } else { ptr::null_mut() };
        if owned.is_null() && nodes.head.is_null() {
            return;
        }
        crate::sync::epoch_fence();
        if nodes.head.is_null() {
            // SAFETY: the deferred function takes `owned` back (and drops
            // it) only after every guard pinned before this point is
            // dropped; guards pinned later cannot reach it because it is
            // already unlinked (crossbeam-epoch's guarantee, given that the
            // unlinking store precedes this call), so no `P::Ref` made from
            // it outlives the drop (the `Pointer::borrow` contract). The `P`
            // may be dropped on whichever thread runs the collection:
            // `P: Send`; and after the tree is gone: `P: 'static` (both
            // supertraits of `Pointer`), so it borrows nothing.
            unsafe {
                guard.defer_unchecked(move || {
                    for _ in 0..copies {
                        drop(P::from_raw(owned));
                    }
                });
            }
            return;
        }
        // The deferred function may run after the tree is dropped: it holds
        // its own reference to the cache.
        let cache = Arc::into_raw(Arc::clone(&self.writer.cache));
        let head = nodes.head;
        // SAFETY: the batch's nodes were unlinked by this critical section
        // and are touched by no one else until the deferred function runs
        // (see `Retired::push`).
        unsafe { (*(*head).link.get()).copies = copies };
        // Three words: crossbeam stores the closure inline, without an
        // allocation of its own.
        // SAFETY: as for `owned` above, for `owned` and for every node of
        // the chain, which the function then owns; a node is therefore reused
        // (or freed) only once no guard can reach it. `cache` came from
        // `Arc::into_raw` and is turned back into an `Arc` once, here, so the
        // cache lives until the function has run. A retired node owns no `T`
        // and no other node: its slots may still point at live children, and
        // neither `put` nor `free_chain` follows them.
        unsafe {
            guard.defer_unchecked(move || {
                let copies = (*(*head).link.get()).copies;
                let cache = Arc::from_raw(cache);
                cache.put(head);
                drop(cache);
                if !owned.is_null() {
                    for _ in 0..copies {
                        drop(P::from_raw(owned));
                    }
                }
            });
        }
    }

    /// The locked core of the storing writers: reads the entry at `index`,
    /// asks `pred` whether to go on, then stores `new`, growing the tree as
    /// needed. Returns the old entry (retired), or hands `new` back with the
    /// current entry if `pred` said no.
    #[allow(clippy::type_complexity)]
    pub(crate) fn store_if<'g, N: Encode<P>>(
        &'g self,
        index: u64,
        new: N,
        guard: &'g Guard,
        pred: impl FnOnce(Option<Entry<'g, P>>) -> bool,
    ) -> Result<Option<Entry<'g, P>>, (N, Option<Entry<'g, P>>)> {
        self.check_guard(guard);
        // Allocate before taking the lock.
        let new = Pending::<P, N>::new(new);
        let _lock = lock(&self.writer.lock);

        // One walk, no path: a store never unlinks nodes.
        let mut leaf = self.leaf_locked(index);
        let cur = if leaf.is_null() {
            ptr::null_mut()
        } else {
            // SAFETY: a live leaf of this tree, under the lock.
            unsafe { &*leaf }.slots[offset(index, 0)].load_locked()
        };
        // SAFETY: `cur` was read from a leaf under the lock; `guard` checked.
        let cur_entry = unsafe { self.entry(cur, guard) };
        if !pred(cur_entry) {
            return Err((new.into_item(), cur_entry));
        }
        if leaf.is_null() {
            leaf = self.ensure_leaf(index);
        }
        // SAFETY: `ensure_leaf` and `leaf_locked` return live leaves of this
        // tree; we hold the lock, so nothing unlinks them.
        let leaf = unsafe { &*leaf };
        let raw = new.publish();
        // Release: publishes the entry (whatever `P::into_raw` points at,
        // initialised before `encode`). Pairs with the Acquire loads of leaf
        // slots in `lookup` and `find_in`.
        leaf.slots[offset(index, 0)].store(raw, Ordering::Release);
        self.count_entry(raw, 1);
        if cur.is_null() {
            leaf.add_count(1);
        } else {
            self.count_entry(cur, -1);
            // SAFETY: `cur` was just unlinked (overwritten), under the lock,
            // and is retired once.
            unsafe { self.retire(cur, 1, Retired::new(), guard) };
        }
        Ok(cur_entry)
    }

    /// The locked core of the removing writers: removes the entry at `index`
    /// if there is one and `pred` accepts it, then prunes and shrinks the
    /// tree. Returns the removed entry (retired), or the current one.
    pub(crate) fn remove_where<'g>(
        &'g self,
        index: u64,
        guard: &'g Guard,
        pred: impl FnOnce(Entry<'g, P>) -> bool,
    ) -> Result<Entry<'g, P>, Option<Entry<'g, P>>> {
        self.check_guard(guard);
        let _lock = lock(&self.writer.lock);

        let mut path = Path::new();
        let cur = self.walk_locked(index, &mut path);
        // SAFETY: `cur` was read from a leaf under the lock; `guard` checked.
        let Some(cur_entry) = (unsafe { self.entry(cur, guard) }) else {
            return Err(None);
        };
        if !pred(cur_entry) {
            return Err(Some(cur_entry));
        }
        let depth = path.depth;
        // SAFETY: the walk found `cur`, so `path` holds live nodes down to
        // the leaf; we hold the lock.
        let leaf = unsafe { &*path.nodes[depth - 1] };
        // Release: null publishes nothing; kept so that every slot store is
        // Release (a uniform rule) and the unlink is ordered before the
        // retirement below.
        leaf.slots[path.offsets[depth - 1]].store(ptr::null_mut(), Ordering::Release);
        leaf.add_count(-1);
        self.count_entry(cur, -1);
        let mut nodes = Retired::new();
        // SAFETY: `path` is the full walk to `index`; lock held.
        unsafe { self.prune(&path, &mut nodes) };
        // SAFETY: lock held.
        unsafe { self.shrink(&mut nodes) };
        // SAFETY: `cur` was unlinked above, the nodes by `prune` and
        // `shrink`, all under the lock, each once.
        unsafe { self.retire(cur, 1, nodes, guard) };
        Ok(cur_entry)
    }

    /// Adjusts the pointer or value counter for one leaf word.
    fn count_entry(&self, raw: *mut (), delta: isize) {
        let counter = if is_value(raw) {
            &self.writer.values
        } else {
            &self.writer.ptrs
        };
        // Written only under the lock (see `Writer`); read `Relaxed` by
        // `len`.
        let c = counter.load_locked();
        counter.store(c.wrapping_add_signed(delta), Ordering::Relaxed);
    }

    /// Walks to the leaf slot of `index` under the lock, recording the path.
    /// Returns the slot's word, or null if the slot or its path is missing.
    fn walk_locked(&self, index: u64, path: &mut Path) -> *mut () {
        // `load_locked` (Relaxed): under the lock every node and entry was
        // published by an earlier critical section, which happens-before
        // ours.
        let mut raw = self.root.load_locked();
        if raw.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: under the lock, nodes reachable from the root are live:
        // only lock holders unlink and retire them.
        let mut node = unsafe { &*raw };
        if !covers(node.shift.get(), index) {
            return ptr::null_mut();
        }
        loop {
            let off = offset(index, node.shift.get());
            path.push(raw, off);
            let word = node.slots[off].load_locked();
            if node.shift.get() == 0 || word.is_null() {
                return word;
            }
            raw = word.cast();
            // SAFETY: as above.
            node = unsafe { &*raw };
        }
    }

    /// The leaf node for `index` under the lock, or null if it (or a node
    /// on its path) does not exist.
    #[inline]
    fn leaf_locked(&self, index: u64) -> *const Node {
        // `load_locked` (Relaxed): as in `walk_locked`.
        let mut raw = self.root.load_locked();
        if raw.is_null() {
            return ptr::null();
        }
        // SAFETY: under the lock, nodes reachable from the root are live
        // (see `walk_locked`).
        let mut node = unsafe { &*raw };
        let mut shift = node.shift.get();
        if !covers(shift, index) {
            return ptr::null();
        }
        while shift > 0 {
            raw = node.slots[offset(index, shift)].load_locked().cast();
            if raw.is_null() {
                return ptr::null();
            }
            // SAFETY: as above.
            node = unsafe { &*raw };
            shift -= CHUNK_SHIFT;
        }
        raw
    }

    /// Makes sure the leaf for `index` exists, growing the tree and creating
    /// interior nodes as needed (`xas_expand`, `xas_create`); returns it.
    /// Called under the lock.
    fn ensure_leaf(&self, index: u64) -> *const Node {
        let mut root = self.root.load_locked();
        if root.is_null() {
            root = self.writer.cache.alloc(min_shift(index));
            // Release: publishes the new (empty) root; pairs with the
            // Acquire load of `root` in `lookup` and `find`.
            self.root.store(root, Ordering::Release);
        }
        loop {
            // SAFETY: under the lock the root is live (see `walk_locked`).
            let r = unsafe { &*root };
            if covers(r.shift.get(), index) {
                break;
            }
            // Grow: a new root whose slot 0 is the old root. Readers that
            // loaded the old root keep walking a valid (and current) subtree.
            let grown = self.writer.cache.alloc(r.shift.get() + CHUNK_SHIFT);
            // SAFETY: `grown` was just allocated and is not shared yet.
            let g = unsafe { &*grown };
            g.slots[0].store(root.cast(), Ordering::Relaxed);
            g.add_count(1);
            // Release: publishes `grown` with its slot 0 (and, through the
            // lock's happens-before chain, the old root's contents). Pairs
            // with the Acquire load of `root` in `lookup` and `find`.
            self.root.store(grown, Ordering::Release);
            root = grown;
        }
        let mut node = root;
        loop {
            // SAFETY: live node under the lock.
            let n = unsafe { &*node };
            if n.shift.get() == 0 {
                return node;
            }
            let slot = &n.slots[offset(index, n.shift.get())];
            let mut child = slot.load_locked().cast::<Node>();
            if child.is_null() {
                child = self.writer.cache.alloc(n.shift.get() - CHUNK_SHIFT);
                // Release: publishes the new node; pairs with the Acquire
                // slot loads in `lookup` and `find_in`.
                slot.store(child.cast(), Ordering::Release);
                n.add_count(1);
            }
            node = child;
        }
    }

    /// Unlinks the empty nodes at the bottom of `path` (`xas_delete_node`)
    /// and adds them to `nodes`, to be retired. An unlinked node's slots are
    /// not written again until it is reused, after its grace period (only its
    /// `link`, which readers never read, is): a reader still inside it sees
    /// it as it was when it was unlinked.
    ///
    /// # Safety
    /// Under the lock; `path` is a full walk of the current tree.
    unsafe fn prune(&self, path: &Path, nodes: &mut Retired) {
        let mut level = path.depth - 1;
        loop {
            let node = path.nodes[level];
            // SAFETY: live node under the lock.
            let n = unsafe { &*node };
            if n.count.load_locked() != 0 {
                return;
            }
            if level == 0 {
                // Release: by the rule that every store to `root` is Release
                // (null publishes nothing).
                self.root.store(ptr::null_mut(), Ordering::Release);
                // SAFETY: just unlinked, under the lock, once.
                unsafe { nodes.push(node) };
                return;
            }
            // SAFETY: live node under the lock.
            let parent = unsafe { &*path.nodes[level - 1] };
            parent.slots[path.offsets[level - 1]].store(ptr::null_mut(), Ordering::Release);
            parent.add_count(-1);
            // SAFETY: just unlinked, under the lock, once.
            unsafe { nodes.push(node) };
            level -= 1;
        }
    }

    /// Lowers the height while the root's only child is in slot 0
    /// (`xas_shrink`), adding the old roots to `nodes`. An old root is
    /// retired with its slot 0 still pointing at the new root, so a reader
    /// inside it walks on into the current tree, and finds every other slot
    /// empty, which is true.
    ///
    /// # Safety
    /// Under the lock.
    unsafe fn shrink(&self, nodes: &mut Retired) {
        loop {
            let root = self.root.load_locked();
            if root.is_null() {
                return;
            }
            // SAFETY: live node under the lock.
            let r = unsafe { &*root };
            if r.shift.get() == 0 || r.count.load_locked() != 1 {
                return;
            }
            let child = r.slots[0].load_locked();
            if child.is_null() {
                return;
            }
            // Release: the child was published earlier (by a Release store
            // into the old root, in an earlier critical section); this store
            // extends that chain to readers who now find it at the root.
            // Pairs with the Acquire load of `root` in `lookup` and `find`.
            self.root.store(child.cast(), Ordering::Release);
            // SAFETY: the old root was just unlinked, under the lock, once.
            unsafe { nodes.push(root) };
        }
    }

    /// Checks the structural invariants (tests only): counts match the
    /// slots, no interior node is empty, the root is as low as it can be,
    /// and the counters match the entries.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        fn walk(node: &Node, expect_shift: u32, ptrs: &mut usize, values: &mut usize) {
            assert_eq!(node.shift.get(), expect_shift);
            let mut count = 0;
            for slot in &node.slots {
                let raw = slot.load(Ordering::Relaxed);
                if raw.is_null() {
                    continue;
                }
                count += 1;
                if node.shift.get() == 0 {
                    if is_value(raw) {
                        *values += 1;
                    } else {
                        *ptrs += 1;
                    }
                } else {
                    // SAFETY: tests call this with no concurrent writer.
                    walk(
                        unsafe { &*raw.cast::<Node>() },
                        expect_shift - CHUNK_SHIFT,
                        ptrs,
                        values,
                    );
                }
            }
            assert_eq!(count, node.count.load(Ordering::Relaxed));
            assert!(count > 0, "empty node left in the tree");
        }
        let root = self.root.load(Ordering::Relaxed);
        let (mut ptrs, mut values) = (0, 0);
        if !root.is_null() {
            // SAFETY: as above.
            let r = unsafe { &*root };
            if r.shift.get() > 0 {
                let only_slot0 = r.count.load(Ordering::Relaxed) == 1
                    && !r.slots[0].load(Ordering::Relaxed).is_null();
                assert!(!only_slot0, "root should have been shrunk");
            }
            walk(r, r.shift.get(), &mut ptrs, &mut values);
        }
        assert_eq!(ptrs, self.ptr_count());
        assert_eq!(values, self.value_count());
    }

    /// Retired nodes waiting in the tree's cache for reuse (tests only).
    #[cfg(test)]
    pub(crate) fn cached_nodes(&self) -> usize {
        self.writer.cache.len()
    }

    /// Node allocations served from the tree's cache so far (tests only).
    #[cfg(test)]
    pub(crate) fn reused_nodes(&self) -> usize {
        self.writer.cache.reused.load(Ordering::Relaxed)
    }

    /// Fills the cached nodes with stale entries and counts, as a forgotten
    /// reset would leave them (tests only).
    #[cfg(test)]
    pub(crate) fn poison_node_cache(&self) {
        self.writer.cache.poison();
    }

    /// The height of the tree: 0 when empty (tests only).
    #[cfg(test)]
    pub(crate) fn height(&self) -> u32 {
        let root = self.root.load(Ordering::Relaxed);
        if root.is_null() {
            0
        } else {
            // SAFETY: tests call this with no concurrent writer.
            unsafe { (*root).shift.get() / CHUNK_SHIFT + 1 }
        }
    }
}

/// The first entry in `node` (of the given shift, covering indices from
/// `base`) with an index in `start..=last`.
///
/// # Safety
/// `node` is a node of the tree read under a guard the caller holds, and
/// `start` is at least `base` and inside the node's range. Also required,
/// though not for memory safety: `start <= last` (`find`'s callers ensure
/// it; the recursion keeps it, as a child's index is at most `last`), so
/// that `last - base` cannot underflow.
unsafe fn find_in(
    node: &Node,
    shift: u32,
    base: u64,
    start: u64,
    last: u64,
) -> Option<(u64, *mut ())> {
    let first = ((start - base) >> shift) as usize;
    // A top-level node may have slots beyond `u64::MAX`: never visit them.
    let max_off = if shift + CHUNK_SHIFT > 64 {
        (u64::MAX >> shift) as usize
    } else {
        FANOUT - 1
    };
    // The last slot that starts at or before `last` (`base <= last`: the
    // caller's `start` is in this node and the parent's loop stops past
    // `last`), so the loop needs no per-slot bound check.
    let end = max_off.min(((last - base) >> shift) as usize);
    for off in first..=end {
        let index = base + ((off as u64) << shift);
        // Acquire: as in `lookup`.
        let raw = node.slots[off].load(Ordering::Acquire);
        if raw.is_null() {
            continue;
        }
        if shift == 0 {
            return Some((index, raw));
        }
        // SAFETY: an interior slot holds a node, protected by the caller's
        // guard; the child covers `index..` and `start.max(index)` is in it.
        let hit = unsafe {
            find_in(
                &*raw.cast::<Node>(),
                shift - CHUNK_SHIFT,
                index,
                start.max(index),
                last,
            )
        };
        if hit.is_some() {
            return hit;
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Multi-index ranges
// ---------------------------------------------------------------------------

/// The largest order of a multi-index range: 6, a range of up to 64
/// indices (256 KiB of 4 KiB pages), which is exactly one leaf node; 2 under
/// `cfg(loom)`, where leaves have 4 slots.
///
/// The bound is what makes a range's publication one store: an aligned
/// range of at most [`FANOUT`] indices lies in one leaf, and the leaf is
/// replaced as a whole (see [`XArray::insert_range`]). A PMD-sized folio
/// (order 9) would span 8 leaves, whose common parent would have to be
/// copied instead; that is not modelled.
pub const MAX_RANGE_ORDER: u32 = CHUNK_SHIFT;

/// A multi-index range that cannot be stored: the input is refused before
/// anything is looked at, and nothing changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BadRange {
    /// `nr` is 0.
    Empty,
    /// `nr` is not a power of two (a folio has `2^order` pages).
    NotPowerOfTwo {
        /// The number of indices asked for.
        nr: u64,
    },
    /// The order is above [`MAX_RANGE_ORDER`].
    OrderTooLarge {
        /// The order asked for.
        order: u32,
        /// The largest order accepted.
        max: u32,
    },
    /// `start` is not a multiple of `nr` (a large folio is naturally
    /// aligned in the swap device).
    Unaligned {
        /// The first index.
        start: u64,
        /// The number of indices.
        nr: u64,
    },
    /// The range does not end inside the index space (`end` is the first
    /// index beyond it, e.g. the swap device's size).
    BeyondEnd {
        /// The first index.
        start: u64,
        /// The number of indices.
        nr: u64,
        /// The first index that is not valid.
        end: u64,
    },
}

impl fmt::Display for BadRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BadRange::Empty => write!(f, "a range of 0 indices"),
            BadRange::NotPowerOfTwo { nr } => {
                write!(f, "a range of {nr} indices: not a power of two")
            }
            BadRange::OrderTooLarge { order, max } => {
                write!(f, "range order {order} is above the maximum {max}")
            }
            BadRange::Unaligned { start, nr } => {
                write!(f, "range start {start} is not aligned to {nr} indices")
            }
            BadRange::BeyondEnd { start, nr, end } => {
                write!(f, "range {start}..{start}+{nr} crosses the end {end}")
            }
        }
    }
}

impl std::error::Error for BadRange {}

/// Checks an order-`order` range at `start`; returns `nr = 2^order`.
fn check_range(start: u64, order: u32) -> Result<u64, BadRange> {
    if order > MAX_RANGE_ORDER {
        return Err(BadRange::OrderTooLarge {
            order,
            max: MAX_RANGE_ORDER,
        });
    }
    let nr = 1u64 << order;
    if start & (nr - 1) != 0 {
        return Err(BadRange::Unaligned { start, nr });
    }
    Ok(nr)
}

/// [`XArray::insert_range`] stored nothing; the item is handed back.
pub enum InsertRangeError<P> {
    /// The range itself is malformed.
    Bad {
        /// Why.
        reason: BadRange,
        /// The item that was not inserted.
        item: P,
    },
    /// An index of the range is occupied: the first one found, in index
    /// order (the kernel's `-EEXIST` from `add_to_swap_cache`).
    Occupied {
        /// The first occupied index.
        index: u64,
        /// The item that was not inserted.
        item: P,
    },
}

impl<P> InsertRangeError<P> {
    /// Takes the rejected item back.
    pub fn into_item(self) -> P {
        match self {
            InsertRangeError::Bad { item, .. } | InsertRangeError::Occupied { item, .. } => item,
        }
    }
}

impl<P> fmt::Debug for InsertRangeError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertRangeError::Bad { reason, .. } => f
                .debug_struct("Bad")
                .field("reason", reason)
                .finish_non_exhaustive(),
            InsertRangeError::Occupied { index, .. } => f
                .debug_struct("Occupied")
                .field("index", index)
                .finish_non_exhaustive(),
        }
    }
}

impl<P> fmt::Display for InsertRangeError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertRangeError::Bad { reason, .. } => reason.fmt(f),
            InsertRangeError::Occupied { index, .. } => {
                write!(f, "index {index} of the range is occupied")
            }
        }
    }
}

impl<P> std::error::Error for InsertRangeError<P> {}

/// [`XArray::remove_range`] removed nothing.
pub enum RemoveRangeError<'g, P: Pointer> {
    /// The range itself is malformed.
    Bad(BadRange),
    /// An index of the range does not hold the expected entry: the first one
    /// found, in index order, with what it holds.
    Mismatch {
        /// The first index that does not hold the entry.
        index: u64,
        /// What it holds, bound to the guard.
        current: Option<Entry<'g, P>>,
    },
}

impl<'g, P: Pointer> fmt::Debug for RemoveRangeError<'g, P>
where
    P::Ref<'g>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveRangeError::Bad(reason) => f.debug_tuple("Bad").field(reason).finish(),
            RemoveRangeError::Mismatch { index, current } => f
                .debug_struct("Mismatch")
                .field("index", index)
                .field("current", current)
                .finish(),
        }
    }
}

impl<P: Pointer> fmt::Display for RemoveRangeError<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveRangeError::Bad(reason) => reason.fmt(f),
            RemoveRangeError::Mismatch {
                index,
                current: None,
            } => {
                write!(f, "index {index} of the range is empty")
            }
            RemoveRangeError::Mismatch { index, .. } => {
                write!(f, "index {index} of the range holds a different entry")
            }
        }
    }
}

impl<'g, P: Pointer> std::error::Error for RemoveRangeError<'g, P> where P::Ref<'g>: fmt::Debug {}

/// Why the locked range cores did nothing.
pub(crate) enum RangeRefusal<'g, P: Pointer> {
    /// Malformed range.
    Bad(BadRange),
    /// The first index the caller's condition (or the core's own rule)
    /// refused, and what it holds.
    Refused {
        index: u64,
        current: Option<Entry<'g, P>>,
    },
}

/// Where a leaf hangs: the tree's root word, or slot `usize` of an interior
/// node of shift `CHUNK_SHIFT`.
enum Home {
    Root,
    Slot(*const Node, usize),
}

impl<P: Pointer> XArray<P> {
    /// Inserts `item` at every index of the naturally aligned range of
    /// `2^order` indices starting at `start`, only if every one of them is
    /// empty: the swap cache's add of a large folio (`add_to_swap_cache`
    /// with `folio_nr_pages(folio) > 1`, which stores the same folio in each
    /// of its `nr` slots under one `xa_lock`, after `xas_create_range`).
    /// Each slot holds a clone of `item` ([`SharedPointer`]: the same entry,
    /// owning one copy, as the swap cache takes `nr` folio references).
    ///
    /// # Readers never see half a range
    /// The range is checked and the new contents are built in a private
    /// copy of its leaf (a range of at most [`FANOUT`] aligned indices lies
    /// in one leaf), which is then published by **one** Release store (into
    /// the parent's slot, or the root); the old leaf is retired. A reader
    /// looks up one index at a time, and each lookup reads either the old
    /// leaf (none of the range) or a leaf that holds all of it. What is
    /// guaranteed, for one reader thread, as long as no other write to the
    /// range's indices intervenes: **if a lookup of any index of the range
    /// returns the entry, every later lookup (in the reader's program
    /// order, or happening after it) of any index of the range returns it
    /// too**. (The later walk reads the same slot that pointed at the new
    /// leaf, or a later value of it, by read-read coherence: grows and
    /// shrinks keep the same nodes on the path, and a later copy of the
    /// leaf still holds the range.) [`XArray::remove_range`] gives the
    /// mirror guarantee: once a lookup finds one index of the removed range
    /// without the entry, no later lookup finds the entry at any of them.
    /// The kernel gives readers less: its loop of `xas_store` makes the
    /// slots visible one by one, and `swap_cache_get_folio` callers cope
    /// by locking the folio and checking `folio->swap`; here a range is one
    /// step, which is what the model's race checks rely on.
    ///
    /// Context: takes the tree's lock; allocates one node (from the tree's
    /// node cache when it can). Clones `item` `2^order - 1` times under the
    /// lock (for `Arc`: atomic increments, no `T` code runs).
    ///
    /// # Errors
    /// [`InsertRangeError::Bad`] for an order above [`MAX_RANGE_ORDER`] or a
    /// `start` not aligned to `2^order`; [`InsertRangeError::Occupied`]
    /// naming the first occupied index. Either way nothing changed and the
    /// item is handed back.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use swapcache::{Entry, InsertRangeError, XArray};
    ///
    /// let xa: XArray<Arc<u64>> = XArray::new();
    /// let guard = xa.pin();
    /// let folio = Arc::new(7);
    /// xa.insert_range(16, 4, folio.clone(), &guard).unwrap(); // indices 16..32
    /// assert_eq!(Arc::strong_count(&folio), 17); // one count per slot
    /// let e = xa.load(31, &guard).unwrap();
    /// assert!(e.as_ptr().unwrap().ptr_eq(&folio));
    /// // Overlapping, or unaligned: refused, nothing changed.
    /// assert!(matches!(
    ///     xa.insert_range(0, 5, Arc::new(8), &guard),
    ///     Err(InsertRangeError::Occupied { index: 16, .. })
    /// ));
    /// assert!(xa.insert_range(8, 4, Arc::new(8), &guard).is_err());
    /// xa.remove_range(16, 4, e, &guard).unwrap();
    /// assert!(xa.is_empty());
    /// ```
    pub fn insert_range<'g>(
        &'g self,
        start: u64,
        order: u32,
        item: P,
        guard: &'g Guard,
    ) -> Result<(), InsertRangeError<P>>
    where
        P: SharedPointer,
    {
        self.store_range_if(start, order, item, guard, |cur| cur.is_none())
            .map(|_| ())
            .map_err(|(item, why)| match why {
                RangeRefusal::Bad(reason) => InsertRangeError::Bad { reason, item },
                RangeRefusal::Refused { index, .. } => InsertRangeError::Occupied { index, item },
            })
    }

    /// Removes the entry `expected` from every index of the naturally
    /// aligned range of `2^order` indices at `start`, only if every one of
    /// them holds it (`__delete_from_swap_cache` of a large folio: `nr`
    /// slots, one `xa_lock`). One step for readers, as
    /// [`XArray::insert_range`] explains. Returns the entry, valid for
    /// `'g`; its `2^order` copies are retired.
    ///
    /// Context: takes the tree's lock; allocates one node unless the leaf
    /// empties.
    ///
    /// # Errors
    /// [`RemoveRangeError::Bad`] for a malformed range;
    /// [`RemoveRangeError::Mismatch`] naming the first index that does not
    /// hold `expected`. Nothing changed.
    ///
    /// # Panics
    /// If `guard` was not pinned from this tree's collector.
    pub fn remove_range<'g>(
        &'g self,
        start: u64,
        order: u32,
        expected: Entry<'_, P>,
        guard: &'g Guard,
    ) -> Result<Entry<'g, P>, RemoveRangeError<'g, P>> {
        self.remove_range_if(start, order, None, guard, |cur| cur.same(expected))
            .map_err(|why| match why {
                RangeRefusal::Bad(reason) => RemoveRangeError::Bad(reason),
                RangeRefusal::Refused { index, current } => {
                    RemoveRangeError::Mismatch { index, current }
                }
            })
    }

    /// The locked core of range stores: checks every index with `pred` (and
    /// refuses any index holding a pointer entry: a range store replaces
    /// only empty slots and value entries, which own nothing), then
    /// publishes a copy of the leaf holding `new` at every index, in one
    /// store. Returns the first value entry replaced.
    #[allow(clippy::type_complexity)]
    pub(crate) fn store_range_if<'g>(
        &'g self,
        start: u64,
        order: u32,
        new: P,
        guard: &'g Guard,
        mut pred: impl FnMut(Option<Entry<'g, P>>) -> bool,
    ) -> Result<Option<ValueEntry>, (P, RangeRefusal<'g, P>)>
    where
        P: SharedPointer,
    {
        self.check_guard(guard);
        let nr = match check_range(start, order) {
            Ok(nr) => nr as usize,
            Err(reason) => return Err((new, RangeRefusal::Bad(reason))),
        };
        let new = Pending::<P, PtrItem<P>>::new(PtrItem(new));
        let _lock = lock(&self.writer.lock);

        let old = self.leaf_locked(start);
        let first = offset(start, 0);
        let mut shadow = None;
        for i in 0..nr {
            let cur = if old.is_null() {
                ptr::null_mut()
            } else {
                // SAFETY: a live leaf of this tree, under the lock.
                unsafe { &*old }.slots[first + i].load_locked()
            };
            // SAFETY: read from a leaf under the lock; `guard` checked.
            let cur_entry = unsafe { self.entry(cur, guard) };
            let is_ptr = !cur.is_null() && !is_value(cur);
            if is_ptr || !pred(cur_entry) {
                let index = start + i as u64;
                return Err((
                    new.into_item().0,
                    RangeRefusal::Refused {
                        index,
                        current: cur_entry,
                    },
                ));
            }
            if shadow.is_none() && !cur.is_null() {
                shadow = Some(decode_value(cur));
            }
        }
        // The copies each slot will own, made before anything changes (a
        // panicking `clone_ref` then leaves the tree as it was).
        let raw = new.publish();
        let mut words = [ptr::null_mut::<()>(); FANOUT];
        words[0] = raw;
        for w in &mut words[1..nr] {
            // SAFETY: `raw` came from `P::into_raw` and is owned by us (and
            // soon by the tree); it is taken back only after a grace period.
            *w = P::clone_ref(unsafe { P::borrow(raw) }).into_raw();
        }

        // Build the new leaf privately: a copy of the old one (if any) with
        // the range filled in. Relaxed stores: it is published below.
        let leaf = self.writer.cache.alloc(0);
        // SAFETY: just allocated, not shared yet.
        let l = unsafe { &*leaf };
        let mut count = 0;
        if !old.is_null() {
            // SAFETY: live leaf under the lock.
            let o = unsafe { &*old };
            for (dst, src) in l.slots.iter().zip(&o.slots) {
                dst.store(src.load_locked(), Ordering::Relaxed);
            }
            count = o.count.load_locked();
        }
        for (i, &word) in words[..nr].iter().enumerate() {
            let slot = &l.slots[first + i];
            let cur = slot.load_locked();
            if cur.is_null() {
                count += 1;
            } else {
                self.count_entry(cur, -1);
            }
            slot.store(word, Ordering::Relaxed);
            self.count_entry(word, 1);
        }
        l.count.store(count, Ordering::Relaxed);

        let home = self.ensure_home(start);
        // Release: publishes the whole new leaf, the range with it, in one
        // store. Pairs with the Acquire loads of `root` and of interior
        // slots in `lookup` and `find`/`find_in`.
        self.set_home(&home, leaf, old.is_null());
        let mut nodes = Retired::new();
        if !old.is_null() {
            // SAFETY: the old leaf was just unlinked (replaced), under the
            // lock, once. Its entries now belong to the new leaf; retiring a
            // node never touches its slots' entries.
            unsafe { nodes.push(old.cast_mut()) };
        }
        // SAFETY: `nodes` was unlinked above; no entry is retired (the
        // replaced words were value entries or empty).
        unsafe { self.retire(ptr::null_mut(), 0, nodes, guard) };
        Ok(shadow)
    }

    /// The locked core of range removals: every index of the range must
    /// hold the same pointer entry (word for word) and `pred` must accept
    /// it; the range is then cleared (or set to `shadow`) in one store, a
    /// copy of the leaf or, if the leaf empties, its unlinking. Returns the
    /// entry; its `nr` copies are retired.
    pub(crate) fn remove_range_if<'g>(
        &'g self,
        start: u64,
        order: u32,
        shadow: Option<ValueEntry>,
        guard: &'g Guard,
        mut pred: impl FnMut(Entry<'g, P>) -> bool,
    ) -> Result<Entry<'g, P>, RangeRefusal<'g, P>> {
        self.check_guard(guard);
        let nr = check_range(start, order).map_err(RangeRefusal::Bad)? as usize;
        let _lock = lock(&self.writer.lock);

        let mut path = Path::new();
        self.walk_locked(start, &mut path);
        let depth = path.depth;
        // SAFETY: nodes on the path are live under the lock.
        let is_leaf = depth > 0 && unsafe { &*path.nodes[depth - 1] }.shift.get() == 0;
        if !is_leaf {
            return Err(RangeRefusal::Refused {
                index: start,
                current: None,
            });
        }
        let leaf_ptr = path.nodes[depth - 1];
        // SAFETY: as above.
        let leaf = unsafe { &*leaf_ptr };
        let first = offset(start, 0);
        let raw = leaf.slots[first].load_locked();
        for i in 0..nr {
            let cur = leaf.slots[first + i].load_locked();
            // SAFETY: read from a leaf under the lock; `guard` checked.
            let cur_entry = unsafe { self.entry(cur, guard) };
            let ok = match cur_entry {
                Some(e) if !is_value(cur) && cur == raw => pred(e),
                _ => false,
            };
            if !ok {
                return Err(RangeRefusal::Refused {
                    index: start + i as u64,
                    current: cur_entry,
                });
            }
        }
        // SAFETY: as above.
        let Some(removed) = (unsafe { self.entry(raw, guard) }) else {
            unreachable!("checked non-null above");
        };
        let shadow_word = shadow.map(encode_value);
        let remaining = leaf.count.load_locked() - if shadow.is_some() { 0 } else { nr };
        self.count_entry(raw, -(nr as isize));
        if let Some(w) = shadow_word {
            self.count_entry(w, nr as isize);
        }
        let mut nodes = Retired::new();
        if remaining == 0 {
            // The leaf holds nothing else: unlink it (and the empty nodes
            // above it) in one store, leaving its slots as they were for any
            // reader still inside. Its count is read by writers only.
            leaf.count.store(0, Ordering::Relaxed);
            // SAFETY: `path` is the full walk to the leaf; lock held.
            unsafe { self.prune(&path, &mut nodes) };
        } else {
            let copy = self.writer.cache.alloc(0);
            // SAFETY: just allocated, not shared yet.
            let c = unsafe { &*copy };
            for (dst, src) in c.slots.iter().zip(&leaf.slots) {
                dst.store(src.load_locked(), Ordering::Relaxed);
            }
            let fill = shadow_word.unwrap_or(ptr::null_mut());
            for slot in &c.slots[first..first + nr] {
                slot.store(fill, Ordering::Relaxed);
            }
            c.count.store(remaining, Ordering::Relaxed);
            let home = if depth == 1 {
                Home::Root
            } else {
                Home::Slot(path.nodes[depth - 2], path.offsets[depth - 2])
            };
            // Release: publishes the copy without the range, in one store;
            // pairs with the Acquire loads in `lookup` and `find`/`find_in`.
            self.set_home(&home, copy, false);
            // SAFETY: the old leaf was just replaced, under the lock, once.
            unsafe { nodes.push(leaf_ptr) };
        }
        // SAFETY: lock held.
        unsafe { self.shrink(&mut nodes) };
        // SAFETY: the `nr` slots that each owned a copy of `raw` were
        // unlinked above (with their leaf), the nodes by the copy, `prune`
        // and `shrink`, all under the lock, once each.
        unsafe { self.retire(raw, nr, nodes, guard) };
        Ok(removed)
    }

    /// Grows the tree to cover `index` and creates the interior nodes down
    /// to the parent of its leaf, without creating the leaf; returns where
    /// the leaf hangs. Called under the lock.
    fn ensure_home(&self, index: u64) -> Home {
        let mut root = self.root.load_locked();
        if root.is_null() {
            let shift = min_shift(index);
            if shift == 0 {
                return Home::Root;
            }
            root = self.writer.cache.alloc(shift);
            // Release: publishes the new (empty) root; pairs with the
            // Acquire load of `root` in `lookup` and `find`.
            self.root.store(root, Ordering::Release);
        }
        loop {
            // SAFETY: under the lock the root is live.
            let r = unsafe { &*root };
            if covers(r.shift.get(), index) {
                break;
            }
            // Grow, as in `ensure_leaf`.
            let grown = self.writer.cache.alloc(r.shift.get() + CHUNK_SHIFT);
            // SAFETY: just allocated, not shared yet.
            let g = unsafe { &*grown };
            g.slots[0].store(root.cast(), Ordering::Relaxed);
            g.add_count(1);
            // Release: as in `ensure_leaf`.
            self.root.store(grown, Ordering::Release);
            root = grown;
        }
        let mut node = root;
        loop {
            // SAFETY: live node under the lock.
            let n = unsafe { &*node };
            let shift = n.shift.get();
            if shift == 0 {
                return Home::Root;
            }
            let off = offset(index, shift);
            if shift == CHUNK_SHIFT {
                return Home::Slot(node, off);
            }
            let slot = &n.slots[off];
            let mut child = slot.load_locked().cast::<Node>();
            if child.is_null() {
                child = self.writer.cache.alloc(shift - CHUNK_SHIFT);
                // Release: as in `ensure_leaf`.
                slot.store(child.cast(), Ordering::Release);
                n.add_count(1);
            }
            node = child;
        }
    }

    /// Stores `leaf` where a leaf hangs (Release: the caller's publication)
    /// and counts it in the parent if the place was empty.
    fn set_home(&self, home: &Home, leaf: *mut Node, was_empty: bool) {
        match *home {
            Home::Root => self.root.store(leaf, Ordering::Release),
            Home::Slot(parent, off) => {
                // SAFETY: a live interior node under the lock.
                let p = unsafe { &*parent };
                p.slots[off].store(leaf.cast(), Ordering::Release);
                if was_empty {
                    p.add_count(1);
                }
            }
        }
    }
}

/// The iterator of [`XArray::range`] and [`XArray::iter`]: yields
/// `(index, entry)` pairs in index order.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Range<'g, P: Pointer> {
    xa: &'g XArray<P>,
    guard: &'g Guard,
    next: u64,
    last: u64,
    done: bool,
}

impl<P: Pointer> fmt::Debug for Range<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Range")
            .field("next", &self.next)
            .field("last", &self.last)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'g, P: Pointer> Iterator for Range<'g, P> {
    type Item = (u64, Entry<'g, P>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some((index, raw)) = self.xa.find(self.next, self.last) else {
            self.done = true;
            return None;
        };
        match index.checked_add(1) {
            Some(n) if n <= self.last => self.next = n,
            _ => self.done = true,
        }
        // SAFETY: `raw` is a non-null leaf word read under `self.guard`,
        // which `range` checked against the tree's collector.
        let entry = unsafe { self.xa.entry(raw, self.guard) };
        entry.map(|e| (index, e))
    }
}

impl<P: Pointer> Drop for XArray<P> {
    fn drop(&mut self) {
        // `load_locked`: `&mut self` means every writer's critical section
        // happens-before this point, and no reader holds a reference
        // (entries are bound to a borrow of the tree).
        let root = self.root.load_locked();
        if !root.is_null() {
            // SAFETY: the root and everything below it are owned by the tree
            // and reachable once; retired nodes and entries are not
            // reachable from it and are freed by the collector instead.
            unsafe { free_subtree::<P>(root) };
        }
    }
}

/// Frees `node`, its descendants and the entries (`P`s) below it.
///
/// # Safety
/// Exclusive access; every node and pointer entry below `node` is owned by
/// the tree and freed nowhere else.
unsafe fn free_subtree<P: Pointer>(node: *mut Node) {
    // SAFETY: `node` came from `Node::new` and is owned (contract).
    let node = unsafe { Box::from_raw(node) };
    for slot in &node.slots {
        let raw = slot.load_locked();
        if raw.is_null() {
            continue;
        }
        if node.shift.get() > 0 {
            // SAFETY: an interior slot owns its child node.
            unsafe { free_subtree::<P>(raw.cast()) };
        } else if !is_value(raw) {
            // SAFETY: a leaf pointer entry is a `P::into_raw` that the tree
            // owns; it is taken back once, here.
            drop(unsafe { P::from_raw(raw) });
        }
    }
}
