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

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Mutex, Ordering, lock};

/// A frame number.
pub type FrameId = u32;

/// Words per frame: a 4 KiB page normally; 2 under loom (word 0, the
/// counter, and word 1, the index, are all the models look at).
pub const WORDS: usize = if cfg!(loom) { 2 } else { 512 };

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
    /// `flags << 32 | refs`.
    state: AtomicU64,
    swap: AtomicU64,
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
    /// Frames currently allocated.
    pub in_use: u32,
    /// `put` of a frame whose count was already 0: a double free (a bug in
    /// a strategy). Always 0 in a correct run.
    pub double_frees: u64,
    /// Allocations that found no free frame.
    pub alloc_failures: u64,
}

/// Free-list shards (per-CPU page lists, `per_cpu_pages`); 1 under loom.
const FREE_SHARDS: usize = if cfg!(loom) { 1 } else { 8 };

/// The calling thread's free-list shard.
#[inline]
#[cfg_attr(loom, allow(clippy::modulo_one))] // one shard under loom
fn home_shard() -> usize {
    crate::sync::shard() % FREE_SHARDS
}

/// Frames moved at most per refill of an empty shard.
const REFILL: usize = 64;

/// The frame pool.
pub struct Frames {
    words: Box<[AtomicU64]>,
    folios: Box<[CachePadded<Folio>]>,
    /// Free frames, sharded by thread like the kernel's per-CPU page lists:
    /// a thread allocates from and frees to its own shard, and steals from
    /// the others only when its own is empty.
    free: Box<[CachePadded<Mutex<Vec<FrameId>>>]>,
    double_frees: AtomicU64,
    alloc_failures: AtomicU64,
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
                    })
                })
                .collect(),
            // Frames dealt round-robin; popped from the end, so each shard
            // hands out its frames in ascending order.
            free: (0..FREE_SHARDS)
                .map(|i| {
                    let mine = (0..n).rev().filter(|f| *f as usize % FREE_SHARDS == i);
                    CachePadded::new(Mutex::new(mine.collect()))
                })
                .collect(),
            double_frees: AtomicU64::new(0),
            alloc_failures: AtomicU64::new(0),
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
        // Two statements: the home shard's guard must be dropped before
        // `refill` locks it again.
        let own = lock(&self.free[home]).pop();
        let found = own.or_else(|| self.refill(home));
        let Some(f) = found else {
            self.alloc_failures.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.init(f, refs, flags, swap);
        Some(f)
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

    /// The home shard is empty: take half of the first non-empty shard
    /// (at most [`REFILL`] frames), keep one and move the rest home, like a
    /// per-CPU page list refilled in a batch (`rmqueue_bulk`), so that a
    /// thread whose frames are freed elsewhere does not scan every shard on
    /// every allocation.
    fn refill(&self, home: usize) -> Option<FrameId> {
        for i in 1..FREE_SHARDS {
            let mut victim = lock(&self.free[(home + i) % FREE_SHARDS]);
            let Some(f) = victim.pop() else {
                continue;
            };
            let take = (victim.len() / 2).min(REFILL);
            let at = victim.len() - take;
            let batch: Vec<FrameId> = victim.drain(at..).collect();
            drop(victim);
            lock(&self.free[home]).extend(batch);
            return Some(f);
        }
        None
    }

    /// Takes another reference on a frame the caller already holds one on.
    pub fn get(&self, f: FrameId) {
        self.state(f).fetch_add(1, Ordering::Relaxed);
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
        self.put_clear(f, 0);
    }

    /// `folio_unlock` and then `folio_put`, in one atomic step (see the
    /// module docs).
    pub fn unlock_put(&self, f: FrameId) {
        self.put_clear(f, PG_LOCKED);
    }

    /// Drops a reference, unlocks the folio and clears `bits` in one atomic
    /// step: `__folio_clear_swapcache` + `folio_unlock` after
    /// `delete_from_swap_cache`'s `folio_ref_sub` of the cache's reference,
    /// on a folio no one else can lock (see the module docs).
    pub fn put_unlock_clear(&self, f: FrameId, bits: u32) {
        self.put_clear(f, PG_LOCKED | bits);
    }

    /// Drops a reference and clears `bits` (the lock among them, when the
    /// caller holds it).
    fn put_clear(&self, f: FrameId, bits: u32) {
        let state = self.state(f);
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            if refs_of(cur) == 0 {
                self.double_frees.fetch_add(1, Ordering::Relaxed);
                return;
            }
            debug_assert!(
                bits & PG_LOCKED == 0 || flags_of(cur) & PG_LOCKED != 0,
                "unlock of an unlocked folio"
            );
            let new = (cur - 1) & !fl(bits);
            // AcqRel: the last put must see every other holder's writes
            // before the frame is reused (Acquire), and publish ours
            // (Release), as `folio_put_testzero`; the Release is also the
            // unlock's, paired with the next locker's Acquire.
            match state.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) if refs_of(cur) == 1 => {
                    self.push_free(f);
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

    /// Returns a frozen frame to the free list.
    pub fn free_frozen(&self, f: FrameId) {
        debug_assert_eq!(self.refs(f), 0);
        self.push_free(f);
    }

    fn push_free(&self, f: FrameId) {
        lock(&self.free[home_shard()]).push(f);
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
    #[cfg(not(loom))]
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
        FrameStats {
            total,
            in_use: total - self.free.iter().map(|s| lock(s).len() as u32).sum::<u32>(),
            double_frees: self.double_frees.load(Ordering::Relaxed),
            alloc_failures: self.alloc_failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(loom)))]
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
