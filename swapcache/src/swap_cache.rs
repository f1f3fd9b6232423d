//! `SwapCache<F>`: the swap cache of one swap device (mm/swap_state.c), one
//! [`XArray`] per 64 MiB of swap.

use core::fmt;
use core::marker::PhantomData;
use core::ptr;

use crossbeam_epoch::{Collector, Guard};
use crossbeam_utils::CachePadded;

use crate::pointer::{ClonePointer, Pointer, SharedPointer};
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crate::xarray::{BadRange, Entry, MAX_RANGE_ORDER, PtrItem, RangeRefusal, ValueEntry, XArray};

/// log2 of the swap slots per address space (`SWAP_ADDRESS_SPACE_SHIFT`).
pub const SWAP_ADDRESS_SPACE_SHIFT: u32 = 14;

/// Swap slots per address space, i.e. per tree: 16384 slots of 4 KiB is
/// 64 MiB (`SWAP_ADDRESS_SPACE_PAGES`).
pub const SWAP_ADDRESS_SPACE_PAGES: u64 = 1 << SWAP_ADDRESS_SPACE_SHIFT;

/// The largest folio order [`SwapCache::add_range`] accepts: a folio of up
/// to `2^MAX_FOLIO_ORDER` pages ([`MAX_RANGE_ORDER`]: 64 pages, 256 KiB;
/// 4 pages under `cfg(loom)` and `cfg(shuttle)`).
pub const MAX_FOLIO_ORDER: u32 = MAX_RANGE_ORDER;

// An aligned range of at most 2^MAX_FOLIO_ORDER slots never crosses a tree.
const _: () = assert!(MAX_FOLIO_ORDER <= SWAP_ADDRESS_SPACE_SHIFT);

/// Checks a range of `nr` slots at `offset` on a device of `nr_slots`;
/// returns its order. The checks, in order: empty, not a power of two,
/// order too large, unaligned, beyond the device.
fn range_order(offset: u64, nr: u64, nr_slots: u64) -> Result<u32, BadRange> {
    if nr == 0 {
        return Err(BadRange::Empty);
    }
    if !nr.is_power_of_two() {
        return Err(BadRange::NotPowerOfTwo { nr });
    }
    let order = nr.trailing_zeros();
    if order > MAX_FOLIO_ORDER {
        return Err(BadRange::OrderTooLarge {
            order,
            max: MAX_FOLIO_ORDER,
        });
    }
    if offset & (nr - 1) != 0 {
        return Err(BadRange::Unaligned { start: offset, nr });
    }
    if offset >= nr_slots || nr > nr_slots - offset {
        return Err(BadRange::BeyondEnd {
            start: offset,
            nr,
            end: nr_slots,
        });
    }
    Ok(order)
}

/// [`SwapCache::add`] failed; the folio is handed back.
pub enum AddError<F> {
    /// A folio is already cached for the slot (`-EEXIST`): the existence
    /// check made inside the tree's lock, as seed 002 asks.
    Exists {
        /// The swap offset.
        offset: u64,
        /// The folio that was not added.
        folio: F,
    },
    /// The offset is beyond the device (`nr_slots`).
    OutOfRange {
        /// The swap offset.
        offset: u64,
        /// The folio that was not added.
        folio: F,
    },
    /// [`SwapCache::add_range`] was given a malformed range.
    BadRange {
        /// Why.
        reason: BadRange,
        /// The folio that was not added.
        folio: F,
    },
}

impl<F> AddError<F> {
    /// Takes the folio back.
    pub fn into_folio(self) -> F {
        match self {
            AddError::Exists { folio, .. }
            | AddError::OutOfRange { folio, .. }
            | AddError::BadRange { folio, .. } => folio,
        }
    }
}

impl<F> fmt::Debug for AddError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::Exists { offset, .. } => f
                .debug_struct("Exists")
                .field("offset", offset)
                .finish_non_exhaustive(),
            AddError::OutOfRange { offset, .. } => f
                .debug_struct("OutOfRange")
                .field("offset", offset)
                .finish_non_exhaustive(),
            AddError::BadRange { reason, .. } => f
                .debug_struct("BadRange")
                .field("reason", reason)
                .finish_non_exhaustive(),
        }
    }
}

impl<F> fmt::Display for AddError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::Exists { offset, .. } => {
                write!(
                    f,
                    "swap offset {offset} already has a folio in the swap cache"
                )
            }
            AddError::OutOfRange { offset, .. } => {
                write!(f, "swap offset {offset} is beyond the device")
            }
            AddError::BadRange { reason, .. } => write!(f, "bad swap cache range: {reason}"),
        }
    }
}

impl<F> std::error::Error for AddError<F> {}

/// [`SwapCache::delete`] did not delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteError {
    /// No folio is cached for the slot (it is empty or holds a shadow).
    NotCached {
        /// The swap offset.
        offset: u64,
    },
    /// Another folio is cached for the slot; it was left in place.
    Mismatch {
        /// The swap offset.
        offset: u64,
    },
    /// The offset is beyond the device.
    OutOfRange {
        /// The swap offset.
        offset: u64,
    },
    /// [`SwapCache::delete_range`] was given a malformed range.
    BadRange(BadRange),
}

impl fmt::Display for DeleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteError::NotCached { offset } => {
                write!(f, "swap offset {offset} has no cached folio")
            }
            DeleteError::Mismatch { offset } => {
                write!(f, "swap offset {offset} caches a different folio")
            }
            DeleteError::OutOfRange { offset } => {
                write!(f, "swap offset {offset} is beyond the device")
            }
            DeleteError::BadRange(reason) => write!(f, "bad swap cache range: {reason}"),
        }
    }
}

impl std::error::Error for DeleteError {}

/// Counters of a [`SwapCache`] (`total_swapcache_pages`, `swap_cache_info`).
/// Each is exact when no writer runs concurrently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapCacheStats {
    /// Folios in the cache.
    pub folios: usize,
    /// Shadow (value) entries in the cache.
    pub shadows: usize,
    /// Address spaces (trees) created so far.
    pub address_spaces: usize,
    /// Successful adds.
    pub adds: usize,
    /// Adds refused because a folio was cached.
    pub add_exists: usize,
    /// Successful deletes.
    pub deletes: usize,
}

struct Counters {
    adds: AtomicUsize,
    add_exists: AtomicUsize,
    deletes: AtomicUsize,
}

/// The swap cache of one swap device: folios (or workingset shadows) by swap
/// offset, split into address spaces of [`SWAP_ADDRESS_SPACE_PAGES`] slots,
/// each its own [`XArray`] with its own lock (`swapper_spaces[type][]`).
/// Trees are created when their first folio is added.
///
/// Lookups are lock-free; adds and deletes take the lock of one tree. Every
/// tree is protected by the cache's collector: pin it with
/// [`SwapCache::pin`] or a handle of [`SwapCache::collector`].
pub struct SwapCache<F: Pointer> {
    /// One pointer per address space: null until created, then a
    /// `Box<XArray<F>>` freed in `Drop`.
    spaces: Box<[AtomicPtr<XArray<F>>]>,
    nr_slots: u64,
    collector: Collector,
    counters: CachePadded<Counters>,
    _marker: PhantomData<(F, *const ())>,
}

// SAFETY: as for `XArray`, which is what the cache owns.
unsafe impl<F: Pointer> Send for SwapCache<F> {}
// SAFETY: as for `XArray`.
unsafe impl<F: Pointer + Sync> Sync for SwapCache<F> {}

impl<F: Pointer> fmt::Debug for SwapCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwapCache")
            .field("nr_slots", &self.nr_slots)
            .finish_non_exhaustive()
    }
}

impl<F: Pointer> SwapCache<F> {
    /// The swap cache of a device of `nr_slots` slots
    /// (`init_swap_address_space`), on crossbeam-epoch's global collector.
    ///
    /// ```
    /// use swapcache::{AddError, SwapCache};
    ///
    /// let cache: SwapCache<u32> = SwapCache::new(1 << 16); // 256 MiB of swap
    /// let guard = cache.pin();
    /// assert_eq!(cache.add(9, 1234, &guard).unwrap(), None); // frame 1234 at slot 9
    /// assert!(matches!(cache.add(9, 99, &guard), Err(AddError::Exists { offset: 9, .. })));
    /// assert_eq!(cache.get(9, &guard), Some(1234));
    /// assert_eq!(cache.delete(9, 1234, None, &guard), Ok(1234));
    /// assert_eq!(cache.get(9, &guard), None);
    /// ```
    pub fn new(nr_slots: u64) -> Self {
        Self::with_collector(nr_slots, crossbeam_epoch::default_collector().clone())
    }

    /// As [`SwapCache::new`], on a collector of your own.
    pub fn with_collector(nr_slots: u64, collector: Collector) -> Self {
        let spaces = nr_slots.div_ceil(SWAP_ADDRESS_SPACE_PAGES);
        SwapCache {
            spaces: (0..spaces)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            nr_slots,
            collector,
            counters: CachePadded::new(Counters {
                adds: AtomicUsize::new(0),
                add_exists: AtomicUsize::new(0),
                deletes: AtomicUsize::new(0),
            }),
            _marker: PhantomData,
        }
    }

    /// Number of swap slots the cache covers.
    pub fn nr_slots(&self) -> u64 {
        self.nr_slots
    }

    /// The collector protecting every tree of the cache.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// Pins the current thread on the cache's collector; see
    /// [`XArray::pin`].
    pub fn pin(&self) -> Guard {
        if self.collector == *crossbeam_epoch::default_collector() {
            crossbeam_epoch::pin()
        } else {
            self.collector.register().pin()
        }
    }

    /// The tree for `offset` and the index inside it, if it exists
    /// (`swap_address_space`, `swap_cache_index`).
    fn space(&self, offset: u64) -> Option<(&XArray<F>, u64)> {
        if offset >= self.nr_slots {
            return None;
        }
        let slot = &self.spaces[(offset >> SWAP_ADDRESS_SPACE_SHIFT) as usize];
        // Acquire: pairs with the Release half of the compare_exchange in
        // `space_or_create`, so the tree is initialised.
        let tree = slot.load(Ordering::Acquire);
        // SAFETY: a non-null slot holds a `Box<XArray>` that lives until the
        // cache is dropped, which cannot happen while `&self` is borrowed.
        let tree = unsafe { tree.as_ref() }?;
        Some((tree, offset & (SWAP_ADDRESS_SPACE_PAGES - 1)))
    }

    /// As `space`, creating the tree if needed. `offset < nr_slots`.
    fn space_or_create(&self, offset: u64) -> (&XArray<F>, u64) {
        let index = offset & (SWAP_ADDRESS_SPACE_PAGES - 1);
        let slot = &self.spaces[(offset >> SWAP_ADDRESS_SPACE_SHIFT) as usize];
        // Acquire: as in `space`.
        let tree = slot.load(Ordering::Acquire);
        if !tree.is_null() {
            // SAFETY: as in `space`.
            return (unsafe { &*tree }, index);
        }
        let new = Box::into_raw(Box::new(XArray::with_collector(self.collector.clone())));
        // Success, Release: publishes the new tree; pairs with the Acquire
        // loads above and in `space` (AcqRel because a success ordering may
        // not be weaker than the failure one on every checker).
        // Failure, Acquire: pairs with the winner's Release, so its tree is
        // initialised before we use it.
        match slot.compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: we published `new`; it lives as long as the cache.
            Ok(_) => (unsafe { &*new }, index),
            Err(winner) => {
                // SAFETY: `new` lost the race and was never shared.
                drop(unsafe { Box::from_raw(new) });
                // SAFETY: as in `space`.
                (unsafe { &*winner }, index)
            }
        }
    }

    /// Adds `folio` for the swap slot `offset` (`add_to_swap_cache`), unless
    /// a folio is already cached there. The check is made under the tree's
    /// lock, so of two racing adders exactly one wins (seed 002: swap-out
    /// adding an old folio for a new slot against readahead adding a new
    /// folio for an old slot). A shadow entry in the slot is replaced and
    /// returned (`shadowp`).
    ///
    /// Context: takes the lock of one tree; may allocate (the tree itself,
    /// the first time).
    ///
    /// # Errors
    /// [`AddError`], handing the folio back.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn add<'g>(
        &'g self,
        offset: u64,
        folio: F,
        guard: &'g Guard,
    ) -> Result<Option<ValueEntry>, AddError<F>> {
        if offset >= self.nr_slots {
            return Err(AddError::OutOfRange { offset, folio });
        }
        let (tree, index) = self.space_or_create(offset);
        let no_folio = |cur: Option<Entry<'g, F>>| !matches!(cur, Some(Entry::Ptr(_)));
        match tree.store_if(index, PtrItem(folio), guard, no_folio) {
            Ok(old) => {
                self.counters.adds.fetch_add(1, Ordering::Relaxed);
                Ok(old.and_then(Entry::as_value))
            }
            Err((PtrItem(folio), _)) => {
                self.counters.add_exists.fetch_add(1, Ordering::Relaxed);
                Err(AddError::Exists { offset, folio })
            }
        }
    }

    /// Adds `folio` for `offset` **without** the existence check, replacing
    /// whatever is cached there, as the pre-2.6 `add_to_swap_cache` callers
    /// of seed 002 effectively did (their check ran before the lock). Returns
    /// the displaced folio, retired through the collector. For negative
    /// controls only: this is the bug that [`SwapCache::add`] fixes, kept so
    /// that the model can show the race it causes.
    ///
    /// Context: takes the lock of one tree; may allocate.
    ///
    /// # Errors
    /// [`AddError::OutOfRange`], handing the folio back.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn add_unchecked<'g>(
        &'g self,
        offset: u64,
        folio: F,
        guard: &'g Guard,
    ) -> Result<Option<F::Ref<'g>>, AddError<F>> {
        if offset >= self.nr_slots {
            return Err(AddError::OutOfRange { offset, folio });
        }
        let (tree, index) = self.space_or_create(offset);
        match tree.store_if(index, PtrItem(folio), guard, |_| true) {
            Ok(old) => {
                self.counters.adds.fetch_add(1, Ordering::Relaxed);
                Ok(old.and_then(Entry::as_ptr))
            }
            // The predicate always accepts.
            Err((PtrItem(folio), _)) => Err(AddError::Exists { offset, folio }),
        }
    }

    /// The folio cached for `offset` (`swap_cache_get_folio`,
    /// `filemap_get_folio` on `swap_address_space`). A shadow or an offset
    /// beyond the device gives `None`.
    ///
    /// Context: any context; lock-free.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    #[must_use]
    #[inline]
    pub fn get<'g>(&'g self, offset: u64, guard: &'g Guard) -> Option<F::Ref<'g>> {
        let (tree, index) = self.space(offset)?;
        tree.load(index, guard)?.as_ptr()
    }

    /// A clone of the folio cached for `offset`, pinning internally (for
    /// `F = Arc<Folio>`: `filemap_get_folio` taking a reference).
    ///
    /// Context: any context; lock-free.
    #[must_use]
    pub fn get_cloned(&self, offset: u64) -> Option<F>
    where
        F: ClonePointer,
    {
        let guard = self.pin();
        self.get(offset, &guard).map(F::clone_ref)
    }

    /// Whatever the slot of `offset` holds, folio or shadow, in one lookup
    /// (`filemap_get_entry` on `swap_address_space`, i.e. `xa_load`).
    ///
    /// Context: any context; lock-free.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    #[must_use]
    pub fn get_entry<'g>(&'g self, offset: u64, guard: &'g Guard) -> Option<Entry<'g, F>> {
        let (tree, index) = self.space(offset)?;
        tree.load(index, guard)
    }

    /// The shadow entry left for `offset` (`get_shadow_from_swap_cache`).
    ///
    /// Context: any context; lock-free.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    #[must_use]
    pub fn get_shadow(&self, offset: u64, guard: &Guard) -> Option<ValueEntry> {
        let (tree, index) = self.space(offset)?;
        tree.load(index, guard)?.as_value()
    }

    /// Deletes `folio` from the cache (`__delete_from_swap_cache`,
    /// `delete_from_swap_cache`) only if it is the very folio cached for
    /// `offset` (pointer identity, as the kernel's
    /// `VM_BUG_ON_PAGE(entry != folio)`), leaving `shadow` in its place if
    /// given. Returns the deleted folio, valid for `'g`, retired through the
    /// collector.
    ///
    /// Context: takes the lock of one tree.
    ///
    /// # Errors
    /// [`DeleteError`]; the cache is unchanged.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn delete<'g>(
        &'g self,
        offset: u64,
        folio: F::Ref<'_>,
        shadow: Option<ValueEntry>,
        guard: &'g Guard,
    ) -> Result<F::Ref<'g>, DeleteError> {
        self.delete_if(offset, shadow, guard, |cached| F::same(cached, folio))
    }

    /// As [`SwapCache::delete`], with the identity test supplied by the
    /// caller, for callers that hold a clone rather than the cached value
    /// (for `F = Arc<Folio>`: `|cached| Arc::ptr_eq(cached, &mine)`). `is_it`
    /// runs under the tree's lock and must not touch the cache.
    ///
    /// # Errors
    /// [`DeleteError`]; the cache is unchanged.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn delete_if<'g>(
        &'g self,
        offset: u64,
        shadow: Option<ValueEntry>,
        guard: &'g Guard,
        is_it: impl FnOnce(F::Ref<'g>) -> bool,
    ) -> Result<F::Ref<'g>, DeleteError> {
        let Some((tree, index)) = self.space(offset) else {
            return Err(if offset >= self.nr_slots {
                DeleteError::OutOfRange { offset }
            } else {
                DeleteError::NotCached { offset }
            });
        };
        let result = match shadow {
            Some(shadow) => tree
                .store_if(index, shadow, guard, |cur| match cur {
                    Some(Entry::Ptr(cached)) => is_it(cached),
                    _ => false,
                })
                .map_err(|(_, cur)| cur),
            None => tree
                .remove_where(index, guard, |cur| match cur {
                    Entry::Ptr(cached) => is_it(cached),
                    Entry::Value(_) => false,
                })
                .map(Some),
        };
        match result {
            Ok(Some(Entry::Ptr(folio))) => {
                self.counters.deletes.fetch_add(1, Ordering::Relaxed);
                Ok(folio)
            }
            // The predicates accept only folios, so a success returned one;
            // a refusal is either "no folio" or "another folio".
            Ok(_) | Err(None | Some(Entry::Value(_))) => Err(DeleteError::NotCached { offset }),
            Err(Some(Entry::Ptr(_))) => Err(DeleteError::Mismatch { offset }),
        }
    }

    /// Adds a large folio of `nr` pages for the `nr` swap slots from
    /// `offset` (`add_to_swap_cache` with `folio_nr_pages(folio) == nr`): the
    /// same folio at every slot (a clone each, as the kernel's
    /// `folio_ref_add(folio, nr)`), all in one locked operation on one tree,
    /// unless a folio is cached at any of them. Shadows in the range are
    /// replaced; the first one is returned. Readers never see half the
    /// folio: see [`XArray::insert_range`] for what exactly is guaranteed.
    ///
    /// `nr` must be a power of two of at most `2^MAX_FOLIO_ORDER`
    /// ([`MAX_FOLIO_ORDER`] = [`MAX_RANGE_ORDER`]), `offset` a multiple of
    /// `nr` (a large folio is naturally aligned in the swap device), and the
    /// range inside the device. It then lies inside one tree: a tree covers
    /// an aligned block of [`SWAP_ADDRESS_SPACE_PAGES`] = 2^14 slots, and an
    /// aligned block of 2^k <= 2^14 slots is inside exactly one such block.
    /// A range across two trees could not be added under one lock (each
    /// tree has its own), so neither its all-or-nothing check nor its single
    /// publication would hold; the alignment rule makes it impossible, so
    /// it needs no error of its own (such a range is always
    /// [`BadRange::Unaligned`] or [`BadRange::OrderTooLarge`]).
    ///
    /// Context: takes the lock of one tree; allocates one node (and the
    /// tree itself, the first time).
    ///
    /// # Errors
    /// [`AddError::BadRange`] for a malformed range (checked in the order
    /// [`BadRange::Empty`], [`BadRange::NotPowerOfTwo`],
    /// [`BadRange::OrderTooLarge`], [`BadRange::Unaligned`],
    /// [`BadRange::BeyondEnd`]); [`AddError::Exists`] naming the first slot
    /// of the range that has a folio. Nothing changed; the folio is handed
    /// back.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn add_range<'g>(
        &'g self,
        offset: u64,
        nr: u64,
        folio: F,
        guard: &'g Guard,
    ) -> Result<Option<ValueEntry>, AddError<F>>
    where
        F: SharedPointer,
    {
        let order = match range_order(offset, nr, self.nr_slots) {
            Ok(order) => order,
            Err(reason) => return Err(AddError::BadRange { reason, folio }),
        };
        let (tree, index) = self.space_or_create(offset);
        let no_folio = |cur: Option<Entry<'g, F>>| !matches!(cur, Some(Entry::Ptr(_)));
        match tree.store_range_if(index, order, folio, guard, no_folio) {
            Ok(shadow) => {
                self.counters.adds.fetch_add(1, Ordering::Relaxed);
                Ok(shadow)
            }
            Err((folio, RangeRefusal::Refused { index: at, .. })) => {
                self.counters.add_exists.fetch_add(1, Ordering::Relaxed);
                Err(AddError::Exists {
                    offset: offset - index + at,
                    folio,
                })
            }
            // `range_order` checked everything `store_range_if` checks.
            Err((folio, RangeRefusal::Bad(reason))) => Err(AddError::BadRange { reason, folio }),
        }
    }

    /// Deletes the large folio `folio` from its `nr` slots from `offset`
    /// (`__delete_from_swap_cache` of a large folio), only if every one of
    /// them caches this very folio ([`Pointer::same`]), leaving `shadow` in
    /// each if given: one locked operation, one step for readers (see
    /// [`XArray::remove_range`]). The range rules are those of
    /// [`SwapCache::add_range`]. Returns the folio, valid for `'g`; the
    /// cache's `nr` copies are retired.
    ///
    /// A single-slot [`SwapCache::delete`] of one slot of a large folio
    /// removes that slot only (as `xa_erase` of one index would); delete a
    /// large folio with this function.
    ///
    /// Context: takes the lock of one tree.
    ///
    /// # Errors
    /// [`DeleteError::BadRange`]; [`DeleteError::NotCached`] or
    /// [`DeleteError::Mismatch`] naming the first slot of the range without
    /// the folio. Nothing changed.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn delete_range<'g>(
        &'g self,
        offset: u64,
        nr: u64,
        folio: F::Ref<'_>,
        shadow: Option<ValueEntry>,
        guard: &'g Guard,
    ) -> Result<F::Ref<'g>, DeleteError> {
        let order = range_order(offset, nr, self.nr_slots).map_err(DeleteError::BadRange)?;
        let Some((tree, index)) = self.space(offset) else {
            return Err(DeleteError::NotCached { offset });
        };
        let it = |cur: Entry<'g, F>| matches!(cur, Entry::Ptr(c) if F::same(c, folio));
        match tree.remove_range_if(index, order, shadow, guard, it) {
            Ok(Entry::Ptr(f)) => {
                self.counters.deletes.fetch_add(1, Ordering::Relaxed);
                Ok(f)
            }
            // `remove_range_if` removes pointer entries only.
            Ok(Entry::Value(_)) => Err(DeleteError::NotCached { offset }),
            Err(RangeRefusal::Refused { index: at, current }) => {
                let offset = offset - index + at;
                Err(match current {
                    Some(Entry::Ptr(_)) => DeleteError::Mismatch { offset },
                    None | Some(Entry::Value(_)) => DeleteError::NotCached { offset },
                })
            }
            Err(RangeRefusal::Bad(reason)) => Err(DeleteError::BadRange(reason)),
        }
    }

    /// Removes the shadow entry of `offset`, if the slot holds one
    /// (`clear_shadow_from_swap_cache`, called when the slot is freed).
    ///
    /// Context: takes the lock of one tree.
    ///
    /// # Panics
    /// If `guard` was not pinned from the cache's collector.
    pub fn clear_shadow(&self, offset: u64, guard: &Guard) -> Option<ValueEntry> {
        let (tree, index) = self.space(offset)?;
        tree.remove_where(index, guard, |cur| cur.as_value().is_some())
            .ok()
            .and_then(Entry::as_value)
    }

    /// Folios in the cache (`total_swapcache_pages`).
    ///
    /// Context: any context; lock-free; exact when no writer runs.
    #[must_use]
    pub fn nr_folios(&self) -> usize {
        self.trees().map(XArray::ptr_count).sum()
    }

    /// The cache's counters.
    ///
    /// Context: any context; lock-free; exact when no writer runs.
    #[must_use]
    pub fn stats(&self) -> SwapCacheStats {
        let mut stats = SwapCacheStats {
            adds: self.counters.adds.load(Ordering::Relaxed),
            add_exists: self.counters.add_exists.load(Ordering::Relaxed),
            deletes: self.counters.deletes.load(Ordering::Relaxed),
            ..SwapCacheStats::default()
        };
        for tree in self.trees() {
            stats.folios += tree.ptr_count();
            stats.shadows += tree.value_count();
            stats.address_spaces += 1;
        }
        stats
    }

    fn trees(&self) -> impl Iterator<Item = &XArray<F>> {
        self.spaces.iter().filter_map(|slot| {
            // Acquire: as in `space`.
            let tree = slot.load(Ordering::Acquire);
            // SAFETY: as in `space`.
            unsafe { tree.as_ref() }
        })
    }
}

impl<F: Pointer> Drop for SwapCache<F> {
    fn drop(&mut self) {
        for slot in self.spaces.iter() {
            // Relaxed: `&mut self` orders every earlier access before us.
            let tree = slot.load(Ordering::Relaxed);
            if !tree.is_null() {
                // SAFETY: a non-null slot owns its `Box<XArray>`, freed only
                // here.
                drop(unsafe { Box::from_raw(tree) });
            }
        }
    }
}
