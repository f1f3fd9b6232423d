//! Page frames and their folios.
//!
//! A frame is [`WORDS`] 64-bit words that can each be updated atomically
//! (the reproducer's workers `atomic_add` word 0 of shared pages). Its folio
//! metadata is a reference count, a lock bit and flags, as `struct folio`:
//!
//! ```text
//!  refs     one per holder: a present PTE, the swap cache, a fault or
//!           page-out in progress (folio_get / folio_put)
//!  LOCKED   folio_lock: held across I/O and while a swap-in decides
//!  SWAPCACHE the folio is in the swap cache for `swap` (folio_test_swapcache)
//!  UPTODATE its contents are valid (set after a successful read)
//!  DIRTY    its contents differ from its swap copy (zswap exclusive load)
//! ```
//!
//! The reference count and the flags share one 64-bit word (count in the
//! low half, flags in the high half). Differs on purpose: `struct folio`
//! keeps `_refcount` and `flags` in two words, so `folio_try_get` followed
//! by `folio_trylock`, or `folio_put` after `folio_unlock`, are two atomic
//! read-modify-writes there. Here a step that does both on one folio
//! ([`Frames::try_get_lock`], [`Frames::unlock_put`],
//! [`Frames::put_unlock_clear`]) is one. That takes away no interleaving a
//! caller could rely on (the pair was never atomic in the kernel, so no
//! caller may depend on anything happening between its halves), and it adds
//! none; it only makes the model's swap-cache path cheaper than the
//! kernel's, as the kernel's own swap-table work set out to.
//!
//! Freed frames go back on a free list and are reused, so that a stale frame
//! number is a real hazard, as in the kernel: a speculative lookup takes a
//! reference with [`Frames::try_get`] and re-checks the folio under its lock.
//!
//! # Large folios
//!
//! A folio of order k is `2^k` frames aligned to their number
//! ([`Frames::alloc_order`]), as `folio_alloc(gfp, order)` hands out: one
//! reference count, one lock and one set of flags, kept in the head frame's
//! state word; every frame of it records the order, so that the folio of
//! any frame is found with [`Frames::folio_of`] (`page_folio`). Each PTE
//! that maps a page of the folio holds one reference on it, and the swap
//! cache one per slot (`folio_ref_add(folio, nr)`), as in the kernel. The
//! pool is a buddy allocator (`mm/page_alloc.c`: free blocks of each order,
//! split on allocation, merged with their buddy on free) behind per-thread
//! lists of order-0 frames (`per_cpu_pages`, refilled and drained in
//! batches), so the order-0 fast path takes one uncontended lock, as
//! before. [`Frames::split`] turns a large folio into order-0 folios
//! (`split_folio`).

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU32, AtomicU64, Mutex, Ordering, lock};

/// A frame number.
pub type FrameId = u32;

/// Words per frame: a 4 KiB page normally; 2 under loom and shuttle (word 0, the
/// counter, and word 1, the index, are all the models look at).
pub const WORDS: usize = if cfg!(any(loom, shuttle)) { 2 } else { 512 };

/// Folio flag: locked (`PG_locked`).
pub const PG_LOCKED: u32 = 1 << 0;
/// Folio flag: in the swap cache (`PG_swapcache`).
pub const PG_SWAPCACHE: u32 = 1 << 1;
/// Folio flag: contents valid (`PG_uptodate`).
pub const PG_UPTODATE: u32 = 1 << 2;
/// Folio flag: dirty (`PG_dirty`).
pub const PG_DIRTY: u32 = 1 << 3;

/// Spins before a folio-lock waiter starts yielding.
const LOCK_SPINS: u32 = 64;

struct Folio {
    /// `flags << 32 | refs` (meaningful on a folio's head frame).
    state: AtomicU64,
    swap: AtomicU64,
    /// The order of the folio this frame belongs to (`folio_order`), on
    /// every frame of it; 0 for a free frame.
    order: AtomicU32,
}

/// The reference-count half of a folio's state word.
const REFS: u64 = 0xffff_ffff;

/// The state word's reference count.
#[inline]
fn refs_of(state: u64) -> u32 {
    (state & REFS) as u32
}

/// The state word's flags.
#[inline]
fn flags_of(state: u64) -> u32 {
    (state >> 32) as u32
}

/// Flags placed in the state word.
#[inline]
fn fl(bits: u32) -> u64 {
    u64::from(bits) << 32
}

/// The outcome of [`Frames::try_get_lock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetLock {
    /// A reference taken and the folio locked.
    Locked,
    /// A reference taken; the folio was locked by someone else (lock it
    /// with [`Frames::lock`]).
    Got,
    /// The frame was free: nothing taken.
    Free,
}

/// Counters of the frame allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames in the pool.
    pub total: u32,
    /// Frames currently allocated (a folio of order k counts `2^k`).
    pub in_use: u32,
    /// Successful allocations per large folio order (index 0 stays 0: the
    /// order-0 fast path keeps no shared counter).
    pub order_allocs: [u64; NR_FOLIO_ORDERS],
    /// Large folios split into order-0 folios ([`Frames::split`]).
    pub splits: u64,
    /// `put` of a frame whose count was already 0: a double free (a bug in
    /// a strategy). Always 0 in a correct run.
    pub double_frees: u64,
    /// Allocations that found no free frame (order 0), or no free block of
    /// their order (a large allocation, which the caller then retries at a
    /// lower order).
    pub alloc_failures: u64,
}

/// Free-list shards (per-CPU page lists, `per_cpu_pages`); 1 under loom and
/// shuttle (no per-thread state: shuttle threads share one OS thread).
const FREE_SHARDS: usize = if cfg!(any(loom, shuttle)) { 1 } else { 8 };

/// Folio orders the pool hands out: 0 to 9 (4 KiB to 2 MiB, the PMD order).
pub const NR_FOLIO_ORDERS: usize = 10;

/// The largest folio order.
pub const MAX_FOLIO_ORDER: u32 = NR_FOLIO_ORDERS as u32 - 1;

/// A per-thread list holding more frames than this gives [`REFILL`] of them
/// back to the buddy allocator (the `pcp->high` watermark).
const PCP_HIGH: usize = 4 * REFILL;

/// The calling thread's free-list shard.
#[inline]
#[cfg_attr(any(loom, shuttle), allow(clippy::modulo_one))] // one shard under loom
fn home_shard() -> usize {
    crate::sync::shard() % FREE_SHARDS
}

/// Frames moved per refill of an empty per-thread list, and per drain of a
/// full one (`pcp->batch`).
const REFILL: usize = if cfg!(any(loom, shuttle)) { 2 } else { 64 };

/// "Not the head of a free block" in [`Buddy::free_order`].
const NOT_FREE: u8 = u8::MAX;
/// The end of a buddy free list.
const NIL: u32 = u32::MAX;

/// The buddy allocator: free blocks of `2^k` frames aligned to their size,
/// one doubly linked list per order, linked through the frames.
struct Buddy {
    next: Box<[u32]>,
    prev: Box<[u32]>,
    /// The order of the free block this frame heads, or [`NOT_FREE`].
    free_order: Box<[u8]>,
    head: [u32; NR_FOLIO_ORDERS],
    /// Frames in free blocks.
    free: u32,
}

impl Buddy {
    /// Every frame of `0..n` free, in the largest aligned blocks.
    fn new(n: u32) -> Buddy {
        let mut b = Buddy {
            next: vec![NIL; n as usize].into(),
            prev: vec![NIL; n as usize].into(),
            free_order: vec![NOT_FREE; n as usize].into(),
            head: [NIL; NR_FOLIO_ORDERS],
            free: 0,
        };
        // Highest addresses first, so that the lowest frames of each order
        // are at the heads of the lists and are handed out first.
        let mut blocks = Vec::new();
        let mut f = 0u32;
        while f < n {
            let k = (0..=MAX_FOLIO_ORDER)
                .rev()
                .find(|&k| f.is_multiple_of(1 << k) && u64::from(f) + (1u64 << k) <= u64::from(n))
                .unwrap_or(0);
            blocks.push((f, k));
            f += 1 << k;
        }
        for (f, k) in blocks.into_iter().rev() {
            b.push(f, k);
            b.free += 1 << k;
        }
        b
    }

    fn push(&mut self, f: u32, k: u32) {
        let h = self.head[k as usize];
        self.next[f as usize] = h;
        self.prev[f as usize] = NIL;
        if h != NIL {
            self.prev[h as usize] = f;
        }
        self.head[k as usize] = f;
        self.free_order[f as usize] = k as u8;
    }

    fn remove(&mut self, f: u32) {
        let k = self.free_order[f as usize] as usize;
        let (p, n) = (self.prev[f as usize], self.next[f as usize]);
        if p == NIL {
            self.head[k] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n != NIL {
            self.prev[n as usize] = p;
        }
        self.free_order[f as usize] = NOT_FREE;
    }

    /// `__rmqueue_smallest`: a block of order `k`, split off the smallest
    /// free block that has one (`expand`).
    fn alloc(&mut self, k: u32) -> Option<u32> {
        let mut j = (k..=MAX_FOLIO_ORDER).find(|&j| self.head[j as usize] != NIL)?;
        let f = self.head[j as usize];
        self.remove(f);
        while j > k {
            j -= 1;
            self.push(f + (1 << j), j);
        }
        self.free -= 1 << k;
        Some(f)
    }

    /// `__free_one_page`: frees the block of order `k` at `f`, merged with
    /// its buddy as long as the buddy is a free block of the same order.
    fn free(&mut self, mut f: u32, mut k: u32) {
        self.free += 1 << k;
        while k < MAX_FOLIO_ORDER {
            let b = f ^ (1 << k);
            if b as usize >= self.free_order.len() || self.free_order[b as usize] != k as u8 {
                break;
            }
            self.remove(b);
            f = f.min(b);
            k += 1;
        }
        self.push(f, k);
    }
}

/// The frame pool.
pub struct Frames {
    words: Box<[AtomicU64]>,
    folios: Box<[CachePadded<Folio>]>,
    /// Free order-0 frames, sharded by thread like the kernel's per-CPU
    /// page lists: a thread allocates from and frees to its own shard, which
    /// is refilled from and drained to the buddy allocator in batches.
    free: Box<[CachePadded<Mutex<Vec<FrameId>>>]>,
    /// Free blocks of every order (`zone->free_area`). Lock order: a
    /// shard's lock, then this one.
    buddy: Mutex<Buddy>,
    double_frees: AtomicU64,
    alloc_failures: AtomicU64,
    order_allocs: [AtomicU64; NR_FOLIO_ORDERS],
    splits: AtomicU64,
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("stats", &self.stats())
            .finish()
    }
}

/// How a folio lock was taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockWait {
    /// Spin iterations.
    pub spins: u32,
    /// Yields after the spin budget.
    pub yields: u64,
}

impl Frames {
    /// A pool of `n` frames.
    pub fn new(n: u32) -> Frames {
        let words: Box<[AtomicU64]> = (0..n as usize * WORDS).map(|_| AtomicU64::new(0)).collect();
        // Touch every page of the pool now: the zeroed allocation may be
        // lazily mapped (calloc), and first-touch faults of the host would
        // otherwise land inside timed swap-ins.
        for w in words.iter().step_by(512) {
            w.store(0, Ordering::Relaxed);
        }
        Frames {
            words,
            folios: (0..n)
                .map(|_| {
                    CachePadded::new(Folio {
                        state: AtomicU64::new(0),
                        swap: AtomicU64::new(0),
                        order: AtomicU32::new(0),
                    })
                })
                .collect(),
            free: (0..FREE_SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
            buddy: Mutex::new(Buddy::new(n)),
            double_frees: AtomicU64::new(0),
            alloc_failures: AtomicU64::new(0),
            order_allocs: std::array::from_fn(|_| AtomicU64::new(0)),
            splits: AtomicU64::new(0),
        }
    }

    /// Allocates a frame with one reference, no flags, and stale contents
    /// (the caller fills it). `None` when the pool is exhausted.
    pub fn alloc(&self) -> Option<FrameId> {
        self.alloc_with(1, 0, 0)
    }

    /// Allocates a frame for the swap cache: locked, `PG_SWAPCACHE` set,
    /// its swap slot `slot`, and `refs` references (at least 1: the
    /// cache's; 2 when the caller keeps one). The caller adds it to the swap
    /// cache and reads into it.
    ///
    /// Models `folio_alloc`, `__folio_set_locked`, `__folio_set_swapbacked`
    /// and the `folio_ref_add` and `folio->swap` setup of `__add_to_swap_cache`
    /// in `__read_swap_cache_async`: the state is written with plain stores
    /// before the folio is reachable, and published by the reference count's
    /// Release, so a speculative [`Frames::try_get`] of a stale frame number
    /// finds it already locked.
    pub fn alloc_swapcache(&self, slot: u64, refs: u32) -> Option<FrameId> {
        self.alloc_with(refs.max(1), PG_LOCKED | PG_SWAPCACHE, slot)
    }

    fn alloc_with(&self, refs: u32, flags: u32, swap: u64) -> Option<FrameId> {
        let home = home_shard();
        let found = {
            let mut list = lock(&self.free[home]);
            match list.pop() {
                Some(f) => Some(f),
                None => self.refill(&mut list),
            }
        };
        let Some(f) = found else {
            self.alloc_failures.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.init(f, refs, flags, swap);
        Some(f)
    }

    /// Allocates a folio of `2^order` frames aligned to their number, with
    /// one reference, no flags and stale contents, and returns its head
    /// frame; `None` when no free block of that order exists (the caller
    /// falls back to a lower order, as `alloc_swap_folio` and
    /// `folio_alloc_swap`'s callers do). Order 0 is [`Frames::alloc`].
    ///
    /// Models `folio_alloc(gfp, order)` → `__rmqueue_smallest`; when no
    /// block is free, the per-thread lists are drained into the buddy
    /// allocator once and the allocation retried (`drain_all_pages` before
    /// giving up, as the slow path does).
    ///
    /// Context: takes the buddy lock, and each shard lock when draining.
    pub fn alloc_order(&self, order: u32) -> Option<FrameId> {
        if order == 0 {
            return self.alloc();
        }
        if order > MAX_FOLIO_ORDER {
            return None;
        }
        let mut got = lock(&self.buddy).alloc(order);
        if got.is_none() {
            self.drain_all();
            got = lock(&self.buddy).alloc(order);
        }
        let Some(f) = got else {
            self.alloc_failures.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        for t in f..f + (1 << order) {
            // Relaxed: published by the head's state Release in `init`.
            self.folios[t as usize]
                .order
                .store(order, Ordering::Relaxed);
        }
        self.order_allocs[order as usize].fetch_add(1, Ordering::Relaxed);
        self.init(f, 1, 0, 0);
        Some(f)
    }

    /// [`Frames::alloc_order`] of the largest order in `orders` (a bit mask,
    /// bit k for order k) that has a free block, trying the others in
    /// descending order: `alloc_swap_folio`'s loop over the enabled orders.
    /// Returns the head and its order.
    pub fn alloc_folio(&self, orders: u32) -> Option<(FrameId, u32)> {
        (0..=MAX_FOLIO_ORDER)
            .rev()
            .filter(|k| orders & (1 << k) != 0)
            .find_map(|k| self.alloc_order(k).map(|f| (f, k)))
    }

    /// The order of the folio frame `f` belongs to (`folio_order`); 0 for
    /// a free frame.
    #[inline]
    pub fn order(&self, f: FrameId) -> u32 {
        // Relaxed: stable while the caller holds a reference (set before
        // the folio was published, reset only after its last put).
        self.folios[f as usize].order.load(Ordering::Relaxed)
    }

    /// The head frame of the folio frame `f` belongs to (`page_folio`).
    /// Stable while the caller holds a reference to the folio (or maps `f`
    /// under the PTE lock); a speculative caller re-checks it after taking
    /// a reference, as the kernel re-checks `page_folio` after
    /// `folio_try_get`.
    #[inline]
    pub fn folio_of(&self, f: FrameId) -> FrameId {
        f & !((1 << self.order(f)) - 1)
    }

    /// Splits the large folio headed by `head` into `2^order` order-0
    /// folios (`split_folio`): frame `head + i` becomes a folio of its own
    /// with `refs[i]` references and the head's flags (the lock among them:
    /// every piece comes out locked, as the kernel's split leaves the new
    /// folios locked for the caller to unlock). The split happens only if
    /// the folio's reference count is exactly `expected`, frozen for the
    /// time of the split so that no speculative reference slips in
    /// (`folio_ref_freeze(folio, 1 + mapped)`); otherwise nothing changes
    /// and it returns false, as a split that finds an extra reference fails
    /// with `-EAGAIN`. The new counts may add references the caller takes
    /// on every piece (reclaim keeps one on each folio of its list).
    ///
    /// Context: the caller holds the folio lock and accounts for every
    /// reference in `refs` (its own, and the PTEs that map each page, which
    /// it keeps from changing by holding their PTE lock). A folio in the
    /// swap cache is refused (the model splits only before a swap-out).
    pub fn split(&self, head: FrameId, expected: u32, refs: &[u32]) -> bool {
        let order = self.order(head);
        let nr = 1usize << order;
        if order == 0
            || refs.len() != nr
            || self.flags(head) & PG_SWAPCACHE != 0
            || refs.contains(&0)
        {
            return false;
        }
        if !self.freeze(head, expected) {
            return false;
        }
        let flags = self.flags(head);
        for (i, &r) in refs.iter().enumerate() {
            let f = head + i as FrameId;
            self.folios[f as usize].order.store(0, Ordering::Relaxed);
            if f != head {
                self.folios[f as usize].swap.store(0, Ordering::Relaxed);
            }
            // Release: the tails' new state (and order) is published before
            // any reference to them is taken with the Acquire of try_get;
            // for the head, it unfreezes (`folio_ref_unfreeze`).
            self.state(f)
                .store(fl(flags) | u64::from(r), Ordering::Release);
        }
        self.splits.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Frees the folio headed by `f` whose last reference just went: an
    /// order-0 frame goes to the home shard, a large folio back to the buddy
    /// allocator in one block (`free_frozen_pages` of the whole order).
    fn free_folio(&self, f: FrameId) {
        let order = self.order(f);
        if order == 0 {
            self.push_free(f);
            return;
        }
        for t in f..f + (1 << order) {
            // Relaxed: the folio has no holder left.
            self.folios[t as usize].order.store(0, Ordering::Relaxed);
        }
        lock(&self.buddy).free(f, order);
    }

    /// Gives every shard's frames back to the buddy allocator
    /// (`drain_all_pages`), so that free order-0 frames can merge into a
    /// block a large allocation needs.
    fn drain_all(&self) {
        for shard in self.free.iter() {
            let batch = std::mem::take(&mut *lock(shard));
            let mut b = lock(&self.buddy);
            for f in batch {
                b.free(f, 0);
            }
        }
    }

    /// Gives a frame just taken off a free list its first state.
    #[inline]
    fn init(&self, f: FrameId, refs: u32, flags: u32, swap: u64) {
        let folio = &self.folios[f as usize];
        folio.swap.store(swap, Ordering::Relaxed);
        // A plain store: a free frame's word is written by no one (try_get
        // and put leave a zero count alone). Release: pairs with the
        // Acquire of try_get / try_get_lock, so a speculative reader that
        // wins a reference sees the new flags (the lock) and `swap`.
        folio
            .state
            .store(fl(flags) | u64::from(refs), Ordering::Release);
    }

    /// [`Frames::alloc_swapcache`] with one reference (the cache's) for
    /// each of `slots`, into `out`, taking the free-list lock once (a
    /// batched `alloc_pages` of readahead). Returns how many were allocated,
    /// in order: `out[..n]` are the folios of `slots[..n]`.
    pub fn alloc_swapcache_many(&self, slots: &[u64], out: &mut [FrameId]) -> usize {
        let want = slots.len().min(out.len());
        let mut n = 0;
        {
            let home = home_shard();
            let mut list = lock(&self.free[home]);
            while n < want {
                let Some(f) = list.pop() else { break };
                out[n] = f;
                n += 1;
            }
        }
        for i in 0..n {
            self.init(out[i], 1, PG_LOCKED | PG_SWAPCACHE, slots[i]);
        }
        // The home list ran dry: the rest one by one (refilling it).
        while n < want {
            let Some(f) = self.alloc_swapcache(slots[n], 1) else {
                break;
            };
            out[n] = f;
            n += 1;
        }
        n
    }

    /// The home shard `list` (locked) is empty: move up to [`REFILL`]
    /// order-0 frames from the buddy allocator into it, as a per-CPU page
    /// list is refilled in a batch (`rmqueue_bulk`), and return one. When
    /// the buddy allocator is empty too, take half of another shard's
    /// frames (at most `REFILL`), so that frames freed by other threads are
    /// found. Context: the home shard's lock is held; takes the buddy lock,
    /// or one other shard's lock (never while holding the buddy's).
    // Under loom and shuttle FREE_SHARDS is 1: the loop over the other
    // shards is empty there, by design.
    #[cfg_attr(
        any(loom, shuttle),
        allow(clippy::reversed_empty_ranges, clippy::modulo_one)
    )]
    fn refill(&self, list: &mut Vec<FrameId>) -> Option<FrameId> {
        {
            let mut b = lock(&self.buddy);
            while list.len() < REFILL {
                let Some(f) = b.alloc(0) else { break };
                list.push(f);
            }
        }
        // Popped from the end: hand the lowest frame out first.
        list.reverse();
        if let Some(f) = list.pop() {
            return Some(f);
        }
        let home = home_shard();
        for i in 1..FREE_SHARDS {
            let other = (home + i) % FREE_SHARDS;
            // Shards are locked in index order, so two refills that each
            // hold their own shard cannot wait for each other: a refill
            // that would take a lower shard's lock while holding a higher
            // one skips it (try_lock).
            let Some(mut victim) = crate::sync::try_lock(&self.free[other]) else {
                continue;
            };
            let Some(f) = victim.pop() else {
                continue;
            };
            let take = (victim.len() / 2).min(REFILL);
            let at = victim.len() - take;
            list.extend(victim.drain(at..));
            return Some(f);
        }
        None
    }

    /// Takes another reference on a frame the caller already holds one on.
    pub fn get(&self, f: FrameId) {
        self.get_n(f, 1);
    }

    /// Takes `n` more references on a folio the caller holds one on
    /// (`folio_ref_add`: the swap cache's `nr` of a large folio, or the
    /// `nr` PTEs that map it).
    pub fn get_n(&self, f: FrameId, n: u32) {
        self.state(f).fetch_add(u64::from(n), Ordering::Relaxed);
    }

    /// Drops `n` references (`folio_ref_sub` + `folio_put`); the last one
    /// frees the folio.
    pub fn put_n(&self, f: FrameId, n: u32) {
        self.put_clear(f, n, 0);
    }

    #[inline]
    fn state(&self, f: FrameId) -> &AtomicU64 {
        &self.folios[f as usize].state
    }

    /// Takes a reference if the frame is still allocated
    /// (`folio_try_get`): the speculative get of a swap-cache lookup. The
    /// frame may have been freed and reused meanwhile; the caller re-checks
    /// the folio under its lock.
    pub fn try_get(&self, f: FrameId) -> bool {
        self.try_get_with(f, false) != GetLock::Free
    }

    /// `folio_try_get` and then `folio_trylock`, in one atomic step (see
    /// the module docs): takes a reference if the frame is allocated, and
    /// the lock as well if it is free. The swap-cache lookup's fast path.
    pub fn try_get_lock(&self, f: FrameId) -> GetLock {
        self.try_get_with(f, true)
    }

    fn try_get_with(&self, f: FrameId, lock: bool) -> GetLock {
        let state = self.state(f);
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            if refs_of(cur) == 0 {
                return GetLock::Free;
            }
            let locks = lock && flags_of(cur) & PG_LOCKED == 0;
            let new = (cur + 1) | if locks { fl(PG_LOCKED) } else { 0 };
            // Acquire: pairs with the Release of init (a reused frame's new
            // state), of put (the previous holders' writes) and of unlock
            // (the previous lock holder's writes, when we take the lock).
            match state.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) if locks => return GetLock::Locked,
                Ok(_) => return GetLock::Got,
                Err(now) => cur = now,
            }
        }
    }

    /// Drops a reference (`folio_put`); the last one frees the frame. A put
    /// of a free frame is counted in [`FrameStats::double_frees`] and
    /// otherwise ignored.
    pub fn put(&self, f: FrameId) {
        self.put_clear(f, 1, 0);
    }

    /// `folio_unlock` and then `folio_put`, in one atomic step (see the
    /// module docs).
    pub fn unlock_put(&self, f: FrameId) {
        self.put_clear(f, 1, PG_LOCKED);
    }

    /// Drops a reference, unlocks the folio and clears `bits` in one atomic
    /// step: `__folio_clear_swapcache` + `folio_unlock` after
    /// `delete_from_swap_cache`'s `folio_ref_sub` of the cache's reference,
    /// on a folio no one else can lock (see the module docs).
    pub fn put_unlock_clear(&self, f: FrameId, bits: u32) {
        self.put_clear(f, 1, PG_LOCKED | bits);
    }

    /// [`Frames::put_unlock_clear`] dropping `n` references: a large
    /// folio's `nr` swap-cache references.
    pub fn put_n_unlock_clear(&self, f: FrameId, n: u32, bits: u32) {
        self.put_clear(f, n, PG_LOCKED | bits);
    }

    /// Drops `n` references and clears `bits` (the lock among them, when
    /// the caller holds it).
    fn put_clear(&self, f: FrameId, n: u32, bits: u32) {
        let state = self.state(f);
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            if refs_of(cur) < n {
                self.double_frees.fetch_add(1, Ordering::Relaxed);
                return;
            }
            debug_assert!(
                bits & PG_LOCKED == 0 || flags_of(cur) & PG_LOCKED != 0,
                "unlock of an unlocked folio"
            );
            let new = (cur - u64::from(n)) & !fl(bits);
            // AcqRel: the last put must see every other holder's writes
            // before the frame is reused (Acquire), and publish ours
            // (Release), as `folio_put_testzero`; the Release is also the
            // unlock's, paired with the next locker's Acquire.
            match state.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) if refs_of(cur) == n => {
                    self.free_folio(f);
                    return;
                }
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Freezes the reference count at `expected` (`folio_ref_freeze`): if
    /// exactly `expected` references exist, sets the count to 0 so that no
    /// speculative `try_get` can take one, and returns true. The caller then
    /// owns the frame and returns it with [`Frames::free_frozen`].
    pub fn freeze(&self, f: FrameId, expected: u32) -> bool {
        let state = self.state(f);
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            if refs_of(cur) != expected {
                return false;
            }
            // Acquire: pairs with the Release of every earlier put, so the
            // freezer sees what the other holders did.
            match state.compare_exchange_weak(
                cur,
                cur & !REFS,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Returns a frozen folio to the free lists.
    pub fn free_frozen(&self, f: FrameId) {
        debug_assert_eq!(self.refs(f), 0);
        self.free_folio(f);
    }

    /// Frees an order-0 frame to the home shard; a shard past [`PCP_HIGH`]
    /// gives a batch back to the buddy allocator (`free_pcppages_bulk`).
    fn push_free(&self, f: FrameId) {
        let mut list = lock(&self.free[home_shard()]);
        list.push(f);
        if list.len() > PCP_HIGH {
            let at = list.len() - REFILL;
            let mut b = lock(&self.buddy);
            for g in list.drain(at..) {
                b.free(g, 0);
            }
        }
    }

    /// The frame's reference count.
    pub fn refs(&self, f: FrameId) -> u32 {
        // Acquire: pairs with the Release of put / init, so a reader of the
        // count (the accounting checks) sees the holders' writes.
        refs_of(self.state(f).load(Ordering::Acquire))
    }

    /// Locks the folio (`folio_lock`): spins, then yields. Returns how it
    /// waited.
    pub fn lock(&self, f: FrameId) -> LockWait {
        let state = self.state(f);
        let mut w = LockWait::default();
        // Acquire: pairs with the Release in `unlock`, so the new holder
        // sees everything the previous one wrote into the folio.
        while state.fetch_or(fl(PG_LOCKED), Ordering::Acquire) & fl(PG_LOCKED) != 0 {
            while state.load(Ordering::Relaxed) & fl(PG_LOCKED) != 0 {
                if w.spins < LOCK_SPINS {
                    w.spins += 1;
                    crate::sync::spin_loop();
                } else {
                    w.yields += 1;
                    crate::sync::yield_now();
                }
            }
        }
        w
    }

    /// Tries to lock the folio (`folio_trylock`).
    pub fn try_lock(&self, f: FrameId) -> bool {
        // Acquire: as in `lock`.
        self.state(f).fetch_or(fl(PG_LOCKED), Ordering::Acquire) & fl(PG_LOCKED) == 0
    }

    /// Unlocks the folio (`folio_unlock`).
    pub fn unlock(&self, f: FrameId) {
        self.unlock_clear(f, 0);
    }

    /// Ends a read into the locked folio (`folio_end_read`): sets
    /// `PG_UPTODATE` if `uptodate` and unlocks, in one atomic step.
    pub fn end_read(&self, f: FrameId, uptodate: bool) {
        let bits = if uptodate { PG_UPTODATE } else { 0 };
        // Release: as `unlock`; it also publishes the data read.
        let old = flags_of(
            self.state(f)
                .fetch_xor(fl(PG_LOCKED | bits), Ordering::Release),
        );
        debug_assert!(old & PG_LOCKED != 0, "end_read of an unlocked folio");
        debug_assert!(old & bits == 0, "end_read of an uptodate folio");
    }

    /// Unlocks the folio and clears `bits` in the same atomic step, so that
    /// the next holder of the lock sees them cleared (`folio_unlock` after
    /// `__folio_clear_swapcache` on a folio no one else can lock).
    pub fn unlock_clear(&self, f: FrameId, bits: u32) {
        // Release: pairs with the Acquire of the next `lock` / `try_lock` /
        // `try_get_lock`.
        let old = self
            .state(f)
            .fetch_and(!fl(PG_LOCKED | bits), Ordering::Release);
        debug_assert!(old & fl(PG_LOCKED) != 0, "unlock of an unlocked folio");
    }

    /// Whether the folio is locked.
    pub fn is_locked(&self, f: FrameId) -> bool {
        self.flags(f) & PG_LOCKED != 0
    }

    /// The folio's flags.
    pub fn flags(&self, f: FrameId) -> u32 {
        // Acquire: pairs with the Release of set_flags / unlock.
        flags_of(self.state(f).load(Ordering::Acquire))
    }

    /// Sets flags (the caller holds the folio lock, or owns the folio).
    pub fn set_flags(&self, f: FrameId, bits: u32) {
        // Release: publishes the folio state the flag describes.
        self.state(f).fetch_or(fl(bits), Ordering::Release);
    }

    /// Clears flags (the caller holds the folio lock).
    pub fn clear_flags(&self, f: FrameId, bits: u32) {
        // Release: as set_flags.
        self.state(f).fetch_and(!fl(bits), Ordering::Release);
    }

    /// The folio's swap slot (`folio->swap`), meaningful with PG_SWAPCACHE.
    pub fn swap(&self, f: FrameId) -> u64 {
        self.folios[f as usize].swap.load(Ordering::Acquire)
    }

    /// Sets the folio's swap slot (the caller owns the locked folio).
    pub fn set_swap(&self, f: FrameId, slot: u64) {
        // Release: published before PG_SWAPCACHE is set.
        self.folios[f as usize].swap.store(slot, Ordering::Release);
    }

    #[inline]
    fn word_cell(&self, f: FrameId, w: usize) -> &AtomicU64 {
        &self.words[f as usize * WORDS + w]
    }

    /// The frame's words, bounds-checked once.
    #[inline]
    fn words(&self, f: FrameId) -> &[AtomicU64] {
        let start = f as usize * WORDS;
        &self.words[start..start + WORDS]
    }

    /// Reads word `w` of frame `f`.
    pub fn word(&self, f: FrameId, w: usize) -> u64 {
        self.word_cell(f, w).load(Ordering::Relaxed)
    }

    /// Writes word `w` of frame `f`.
    pub fn set_word(&self, f: FrameId, w: usize, v: u64) {
        self.word_cell(f, w).store(v, Ordering::Relaxed);
    }

    /// Adds to word `w` of frame `f` atomically.
    pub fn add_word(&self, f: FrameId, w: usize, v: u64) {
        self.word_cell(f, w).fetch_add(v, Ordering::Relaxed);
    }

    /// Copies the frame into a 4 KiB page (little-endian words; the rest of
    /// the page is zero under loom, where frames are shorter).
    ///
    /// The words are Relaxed atomics: whoever publishes the frame (a PTE
    /// store, the swap cache) provides the ordering. Relaxed loads and stores
    /// compile to plain moves, so a copy costs a few instructions a word.
    pub fn copy_out(&self, f: FrameId, page: &mut zswap_tree::Page) {
        let (head, tail) = page.split_at_mut(WORDS * 8);
        for (w, chunk) in self.words(f).iter().zip(head.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        tail.fill(0);
    }

    /// Copies a 4 KiB page into the frame.
    pub fn copy_in(&self, f: FrameId, page: &zswap_tree::Page) {
        for (w, chunk) in self.words(f).iter().zip(page.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
    }

    /// Runs `fill` on the bytes of frame `f`, so that a device or zswap can
    /// decompress straight into it instead of through a bounce buffer and a
    /// word-by-word copy (`swap_read_folio` reads into the folio itself).
    ///
    /// # Safety
    /// No other thread may access the words of frame `f` until `fill`
    /// returns. That holds for a folio being filled by a swap-in: a private
    /// folio is reachable from no PTE and not from the swap cache; a folio in
    /// the swap cache, or named by a swap-in marker, is locked by the filler,
    /// and every reader of such a folio's contents takes the folio lock first
    /// (`map_cached`, page-out, the marker waiters).
    #[cfg(not(any(loom, shuttle)))]
    pub(crate) unsafe fn fill_private<R>(
        &self,
        f: FrameId,
        fill: impl FnOnce(&mut zswap_tree::Page) -> R,
    ) -> R {
        const { assert!(WORDS * 8 == zswap_tree::PAGE_SIZE) };
        let words = self.words(f);
        // The words are `AtomicU64`s, i.e. `UnsafeCell`s: writing through a
        // pointer derived from a shared reference to them is allowed. Size
        // (4096 bytes) and alignment (8 >= 1) fit a `Page`.
        let page = words.as_ptr().cast::<zswap_tree::Page>().cast_mut();
        // SAFETY: the caller guarantees no other access to these words while
        // the `&mut` lives (see # Safety), so it is unique; the memory is
        // initialised (every word was written at allocation).
        fill(unsafe { &mut *page })
    }

    /// As [`Frames::fill_private`] for the `nr` frames from `head`, which
    /// are contiguous in the pool (a large folio), as one slice of pages:
    /// a device decompresses a multi-page object straight into the folio.
    ///
    /// # Safety
    /// As [`Frames::fill_private`], for each of the `nr` frames.
    #[cfg(not(any(loom, shuttle)))]
    pub(crate) unsafe fn fill_private_run<R>(
        &self,
        head: FrameId,
        nr: u32,
        fill: impl FnOnce(&mut [zswap_tree::Page]) -> R,
    ) -> R {
        let start = head as usize * WORDS;
        let words = &self.words[start..start + nr as usize * WORDS];
        // As in `fill_private`: writing through a pointer derived from the
        // shared reference to these `UnsafeCell`s is allowed, and `nr`
        // pages of 4096 bytes are exactly the `nr * WORDS` words.
        let pages = std::ptr::slice_from_raw_parts_mut(
            words.as_ptr().cast::<zswap_tree::Page>().cast_mut(),
            nr as usize,
        );
        // SAFETY: the caller guarantees no other access to these words
        // while the `&mut` lives (see # Safety), so it is unique; the memory
        // is initialised and in bounds (the slice above was bounds-checked).
        fill(unsafe { &mut *pages })
    }

    /// Copies frame `from` into frame `to`.
    pub fn copy_frame(&self, from: FrameId, to: FrameId) {
        for (d, s) in self.words(to).iter().zip(self.words(from)) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Zeroes the frame (`clear_highpage`).
    pub fn zero(&self, f: FrameId) {
        for w in self.words(f) {
            w.store(0, Ordering::Relaxed);
        }
    }

    /// The allocator's counters.
    pub fn stats(&self) -> FrameStats {
        let total = self.folios.len() as u32;
        let cached: u32 = self.free.iter().map(|s| lock(s).len() as u32).sum();
        let free = cached + lock(&self.buddy).free;
        FrameStats {
            total,
            in_use: total - free,
            order_allocs: std::array::from_fn(|k| self.order_allocs[k].load(Ordering::Relaxed)),
            splits: self.splits.load(Ordering::Relaxed),
            double_frees: self.double_frees.load(Ordering::Relaxed),
            alloc_failures: self.alloc_failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    #[test]
    fn alloc_refills_from_other_shards_and_exhausts_exactly() {
        // 16 frames dealt over the shards: this thread's own shard holds
        // two, the rest come by refills from the others.
        let frames = Frames::new(16);
        let mut got: Vec<FrameId> = std::iter::from_fn(|| frames.alloc()).collect();
        assert_eq!(frames.stats().alloc_failures, 1);
        got.sort();
        assert_eq!(got, (0..16).collect::<Vec<_>>());
        assert_eq!(frames.stats().in_use, 16);
        for f in got {
            frames.put(f);
        }
        assert_eq!(frames.stats().in_use, 0);
        assert_eq!(std::iter::from_fn(|| frames.alloc()).count(), 16);
    }

    #[test]
    fn try_get_lock_takes_the_lock_only_when_free() {
        let frames = Frames::new(4);
        let f = frames.alloc().unwrap();
        assert_eq!(frames.try_get_lock(f), GetLock::Locked);
        assert_eq!((frames.refs(f), frames.flags(f)), (2, PG_LOCKED));
        // Locked already: a reference only.
        assert_eq!(frames.try_get_lock(f), GetLock::Got);
        assert_eq!((frames.refs(f), frames.flags(f)), (3, PG_LOCKED));
        frames.put(f);
        frames.unlock_put(f);
        assert_eq!((frames.refs(f), frames.flags(f)), (1, 0));
        frames.put(f);
        // Free: nothing taken, nothing written.
        assert_eq!(frames.try_get_lock(f), GetLock::Free);
        assert!(!frames.try_get(f));
        assert_eq!((frames.refs(f), frames.stats().in_use), (0, 0));
    }

    #[test]
    fn combined_puts_clear_their_bits_and_free_on_the_last_reference() {
        let frames = Frames::new(4);
        let f = frames.alloc_swapcache(7, 2).unwrap();
        frames.set_flags(f, PG_UPTODATE | PG_DIRTY);
        assert_eq!(
            frames.flags(f),
            PG_LOCKED | PG_SWAPCACHE | PG_UPTODATE | PG_DIRTY
        );
        // The cache's reference, PG_SWAPCACHE and the lock go at once; the
        // other flags and the caller's reference stay.
        frames.put_unlock_clear(f, PG_SWAPCACHE);
        assert_eq!(
            (frames.refs(f), frames.flags(f)),
            (1, PG_UPTODATE | PG_DIRTY)
        );
        assert_eq!(frames.stats().in_use, 1);
        // The last reference with the lock: the frame is free again.
        assert!(frames.try_lock(f));
        frames.unlock_put(f);
        assert_eq!((frames.refs(f), frames.stats().in_use), (0, 0));
        // A double put, combined or not, is counted and changes nothing.
        frames.unlock_put(f);
        frames.put(f);
        assert_eq!(frames.stats().double_frees, 2);
        assert_eq!(frames.stats().in_use, 0);
        // Reallocation resets the flags.
        let g = frames.alloc().unwrap();
        assert_eq!(g, f);
        assert_eq!((frames.refs(g), frames.flags(g)), (1, 0));
    }

    #[test]
    fn freeze_compares_the_count_not_the_flags() {
        let frames = Frames::new(2);
        let f = frames.alloc_swapcache(3, 2).unwrap();
        assert!(!frames.freeze(f, 1));
        assert!(!frames.freeze(f, 3));
        assert!(frames.freeze(f, 2));
        // Frozen: no speculative reference, the flags kept for the owner.
        assert_eq!(frames.try_get_lock(f), GetLock::Free);
        assert_eq!(frames.flags(f), PG_LOCKED | PG_SWAPCACHE);
        frames.unlock_clear(f, PG_SWAPCACHE);
        frames.free_frozen(f);
        assert_eq!(frames.stats().in_use, 0);
    }

    #[test]
    fn large_folios_are_aligned_and_merge_back() {
        let frames = Frames::new(64);
        let a = frames.alloc_order(4).unwrap();
        assert_eq!(a % 16, 0);
        assert_eq!((frames.order(a + 5), frames.folio_of(a + 5)), (4, a));
        assert_eq!(frames.stats().in_use, 16);
        // Order-0 frames come from another block; the order-4 folio's
        // frames are not handed out twice.
        let small: Vec<FrameId> = (0..8).map(|_| frames.alloc().unwrap()).collect();
        assert!(small.iter().all(|&f| !(a..a + 16).contains(&f)));
        assert!(
            small
                .iter()
                .all(|&f| frames.order(f) == 0 && frames.folio_of(f) == f)
        );
        // One reference per mapped page plus ours; the last put frees all.
        for _ in 0..3 {
            frames.get(a);
        }
        for _ in 0..4 {
            frames.put(a);
        }
        assert_eq!(frames.order(a + 5), 0);
        assert_eq!(frames.stats().in_use, 8);
        for f in small {
            frames.put(f);
        }
        // Everything merged back (64 frames are one order-6 block): four
        // order-4 folios fit, and a fifth does not.
        let big: Vec<FrameId> = (0..4).map(|_| frames.alloc_order(4).unwrap()).collect();
        assert_eq!(frames.alloc_order(4), None);
        assert_eq!(frames.stats().order_allocs[4], 5);
        assert_eq!(frames.stats().alloc_failures, 1);
        for f in big {
            frames.put(f);
        }
        assert_eq!(frames.stats().in_use, 0);
        assert_eq!(frames.alloc_folio(0b1_0100).map(|(_, k)| k), Some(4));
    }

    #[test]
    fn large_allocation_drains_the_per_thread_lists() {
        // All frames pass through this thread's list: a large allocation
        // must find them merged back in the buddy allocator.
        let frames = Frames::new(32);
        let all: Vec<FrameId> = std::iter::from_fn(|| frames.alloc()).collect();
        assert_eq!(all.len(), 32);
        for f in all {
            frames.put(f);
        }
        assert_eq!(frames.alloc_order(5).map(|f| frames.order(f)), Some(5));
    }

    #[test]
    fn fallback_to_a_lower_order_when_fragmented() {
        let frames = Frames::new(16);
        let all: Vec<FrameId> = std::iter::from_fn(|| frames.alloc()).collect();
        // Keep every other frame: no aligned pair is free.
        for &f in all.iter().filter(|&&f| f % 2 == 1) {
            frames.put(f);
        }
        assert_eq!(frames.alloc_order(1), None);
        let (f, k) = frames.alloc_folio(0b111).unwrap();
        assert_eq!((k, frames.order(f)), (0, 0));
    }

    #[test]
    fn split_gives_each_page_its_references_and_the_lock() {
        let frames = Frames::new(16);
        let h = frames.alloc_order(2).unwrap();
        assert!(frames.try_lock(h));
        frames.set_flags(h, PG_DIRTY);
        // Two pages mapped (one reference each) plus ours on every piece.
        frames.get(h);
        frames.get(h);
        frames.get(h);
        frames.get(h);
        frames.get(h);
        // 6 references; a split that accounts for 5 is refused.
        assert!(!frames.split(h, 5, &[2, 1, 1, 1]));
        assert_eq!((frames.order(h + 1), frames.refs(h)), (2, 6));
        assert!(!frames.split(h, 6, &[2, 2, 1]));
        assert!(frames.split(h, 6, &[2, 1, 2, 1]));
        for (i, want) in [2, 1, 2, 1].into_iter().enumerate() {
            let f = h + i as FrameId;
            assert_eq!((frames.order(f), frames.folio_of(f)), (0, f));
            assert_eq!(frames.refs(f), want);
            assert_eq!(frames.flags(f), PG_LOCKED | PG_DIRTY);
        }
        assert_eq!(frames.stats().splits, 1);
        for i in 0..4 {
            let f = h + i;
            frames.unlock_put(f);
            if frames.refs(f) > 0 {
                frames.put(f);
            }
        }
        assert_eq!(frames.stats().in_use, 0);
        // An order-0 folio and a folio in the swap cache do not split.
        let g = frames.alloc().unwrap();
        assert!(!frames.split(g, 1, &[1]));
        frames.put(g);
        let c = frames.alloc_order(1).unwrap();
        frames.set_flags(c, PG_SWAPCACHE);
        assert!(!frames.split(c, 1, &[1, 1]));
    }

    #[test]
    fn fill_private_run_writes_every_frame_of_the_folio() {
        let frames = Frames::new(8);
        let head = frames.alloc_order(2).unwrap();
        // SAFETY: `head` was just allocated and is visible to no one else.
        unsafe {
            frames.fill_private_run(head, 4, |pages| {
                assert_eq!(pages.len(), 4);
                for (i, p) in pages.iter_mut().enumerate() {
                    p.fill(0);
                    p[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                }
            })
        };
        for i in 0..4 {
            assert_eq!(frames.word(head + i, 0), u64::from(i) + 1);
        }
        frames.put(head);
        assert_eq!(frames.stats().in_use, 0);
    }

    #[test]
    fn fill_private_writes_the_words() {
        let frames = Frames::new(2);
        let f = frames.alloc().unwrap();
        // SAFETY: `f` was just allocated and is visible to no one else.
        unsafe {
            frames.fill_private(f, |page| {
                page.fill(0);
                page[..8].copy_from_slice(&7u64.to_le_bytes());
                page[4088..].copy_from_slice(&9u64.to_le_bytes());
            })
        };
        assert_eq!(frames.word(f, 0), 7);
        assert_eq!(frames.word(f, WORDS - 1), 9);
        frames.add_word(f, 0, 1);
        let mut out = [0u8; zswap_tree::PAGE_SIZE];
        frames.copy_out(f, &mut out);
        assert_eq!(out[..8], 8u64.to_le_bytes());
        frames.put(f);
        assert_eq!(frames.stats().in_use, 0);
    }
}
