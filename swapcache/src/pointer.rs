//! [`Pointer`]: what a pointer entry of an [`XArray`](crate::XArray) is. The
//! kernel's XArray stores any pointer with bit 0 clear (`struct folio *`,
//! with the folio's reference count managed outside the tree); here the
//! pointer type decides what the tree owns and what a reader borrows, as
//! Rust-for-Linux's `ForeignOwnable` does for its `XArray<T>`.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use std::sync::Arc;

/// A type that fits in one tree slot without an allocation of the tree's
/// own: an owned pointer ([`Box`], [`Arc`]) or an unowned index ([`u32`],
/// [`u16`], [`u8`]: a frame number, as the kernel's `struct folio *` is to
/// the page cache, whose reference it does not own).
///
/// | `P` | the tree owns | a reader gets ([`Pointer::Ref`]) | retiring it |
/// |---|---|---|---|
/// | `Box<T>` | the `T` | `&'g T` | drop of the `Box` after the grace period |
/// | `Arc<T>` | one strong count | [`ArcRef<'g, T>`] (derefs to `T`, [`ArcRef::to_arc`] takes a count, as `folio_try_get`) | drop of the count after the grace period |
/// | `u32`, `u16`, `u8` | nothing | the index | nothing: no epoch deferral at all |
///
/// `T` of a `Box<T>` or `Arc<T>` must be aligned to at least 2 bytes (bit 0
/// of the slot tags value entries); a smaller alignment is a compile-time
/// error. Wrap a byte-aligned type in a `#[repr(align(2))]` struct.
///
/// # Safety
/// An implementation promises, for every `p: Self`:
/// - `p.into_raw()` is not null and has bit 0 clear, and
///   `Self::from_raw(p.into_raw())` gives `p` back (ownership round trip);
/// - for a word `raw` made by `into_raw` and not yet passed to `from_raw`,
///   `Self::borrow(raw)` is valid for any lifetime `'g` that ends before
///   `from_raw(raw)` is called (the tree calls `from_raw` only after every
///   guard that could have read `raw` is gone);
/// - `Ref<'g>` may be used from any thread that can use `&Self` (if
///   `Self: Sync`, sending a `Ref` to another thread is sound);
/// - dropping `Self` is the only clean-up `from_raw(raw)` needs, and it
///   never accesses the tree.
pub unsafe trait Pointer: Send + 'static {
    /// What a lock-free reader gets for the entry, bound to the epoch guard
    /// (and the tree borrow) it was read under.
    type Ref<'g>: Copy;

    /// Gives up ownership, as a slot word (not null, bit 0 clear).
    fn into_raw(self) -> *mut ();

    /// Takes ownership back.
    ///
    /// # Safety
    /// `raw` came from [`Pointer::into_raw`] and is not used again, by the
    /// caller or through any [`Pointer::Ref`] made from it.
    unsafe fn from_raw(raw: *mut ()) -> Self;

    /// Borrows the entry.
    ///
    /// # Safety
    /// `raw` came from [`Pointer::into_raw`], and `from_raw(raw)` will not be
    /// called before `'g` ends.
    unsafe fn borrow<'g>(raw: *mut ()) -> Self::Ref<'g>;

    /// Identity: the same object (not merely an equal one) for an owned
    /// pointer, the same index for an unowned one. This is the comparison
    /// [`XArray::compare_remove`](crate::XArray::compare_remove) and
    /// [`SwapCache::delete`](crate::SwapCache::delete) use.
    fn same(a: Self::Ref<'_>, b: Self::Ref<'_>) -> bool;
}

/// A [`Pointer`] whose borrowed entry can be turned into an owned one: the
/// pointee cloned (`Box<T: Clone>`), one more strong count (`Arc`, as
/// `folio_try_get`), or the index copied.
pub trait ClonePointer: Pointer {
    /// An owned copy of a borrowed entry.
    fn clone_ref(r: Self::Ref<'_>) -> Self;
}

/// Compile-time check that bit 0 of a `*const T` is free for the tag.
struct AlignCheck<T>(PhantomData<T>);

impl<T> AlignCheck<T> {
    const OK: () = assert!(
        align_of::<T>() >= 2,
        "swapcache: an XArray pointer entry must point at a type aligned to at least 2 bytes \
         (bit 0 tags value entries); wrap it in a #[repr(align(2))] struct"
    );
}

// SAFETY: `Box::into_raw` is never null and, by `AlignCheck`, even (a
// zero-sized `T` gets its alignment as address, also even and non-zero);
// `from_raw` is `Box::from_raw` of that pointer. A borrow is `&T` into the
// box, valid until `from_raw` frees it. `&T` crosses threads exactly when
// `Box<T>: Sync` (`T: Sync`). Dropping the box only runs `T`'s drop.
unsafe impl<T: Send + Sync + 'static> Pointer for Box<T> {
    type Ref<'g> = &'g T;

    #[inline]
    fn into_raw(self) -> *mut () {
        let () = AlignCheck::<T>::OK;
        Box::into_raw(self).cast()
    }

    #[inline]
    unsafe fn from_raw(raw: *mut ()) -> Self {
        // SAFETY: `raw` is a `Box::into_raw` (contract).
        unsafe { Box::from_raw(raw.cast::<T>()) }
    }

    #[inline]
    unsafe fn borrow<'g>(raw: *mut ()) -> &'g T {
        // SAFETY: the box lives until `from_raw`, after `'g` (contract).
        unsafe { &*raw.cast::<T>() }
    }

    #[inline]
    fn same(a: &T, b: &T) -> bool {
        ptr::eq(a, b)
    }
}

impl<T: Clone + Send + Sync + 'static> ClonePointer for Box<T> {
    fn clone_ref(r: &T) -> Self {
        Box::new(r.clone())
    }
}

/// A borrowed [`Arc`] entry: derefs to the `T`, and [`ArcRef::to_arc`]
/// takes a strong count of its own (`folio_try_get` on a swap-cache folio).
/// Made only by the tree, from the `Arc` it holds, so that `to_arc` is
/// sound.
pub struct ArcRef<'g, T> {
    ptr: NonNull<T>,
    _borrow: PhantomData<&'g T>,
}

impl<T> Clone for ArcRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ArcRef<'_, T> {}

impl<'g, T> ArcRef<'g, T> {
    /// The `T`, for the borrow's lifetime.
    pub fn get(self) -> &'g T {
        // SAFETY: `ptr` came from `Arc::into_raw` of an `Arc` that keeps its
        // strong count until after `'g` (the `Pointer` contract of `borrow`).
        unsafe { self.ptr.as_ref() }
    }

    /// A new strong reference to the entry (`folio_try_get`; it cannot fail
    /// here, since the tree's count outlives the borrow).
    pub fn to_arc(self) -> Arc<T> {
        // SAFETY: `ptr` came from `Arc::into_raw`, and the tree's strong
        // count (or the one its deferred drop holds) is alive for `'g`, so
        // the count is at least 1 while we increment it and the `Arc` we
        // make owns the increment.
        unsafe {
            Arc::increment_strong_count(self.ptr.as_ptr());
            Arc::from_raw(self.ptr.as_ptr())
        }
    }

    /// Is this the allocation `arc` points at? (`Arc::ptr_eq`.)
    pub fn ptr_eq(self, arc: &Arc<T>) -> bool {
        ptr::eq(self.ptr.as_ptr(), Arc::as_ptr(arc))
    }
}

impl<T> Deref for ArcRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T: fmt::Debug> fmt::Debug for ArcRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.get(), f)
    }
}

// SAFETY: `ArcRef` is a `&T` that can also make an `Arc<T>`: sending it
// needs what sending both does, `T: Send + Sync` (`Arc<T>: Send`).
unsafe impl<T: Send + Sync> Send for ArcRef<'_, T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for ArcRef<'_, T> {}

// SAFETY: `Arc::into_raw` is never null and even by `AlignCheck` (the
// pointer is to the `T` inside the allocation, aligned as `T`); `from_raw`
// is `Arc::from_raw`, which takes back the count `into_raw` gave up. While
// that count is held (until `from_raw`), the allocation lives, so a borrow
// is valid. `ArcRef` is `Send`/`Sync` exactly when `Arc<T>` is. Dropping
// the `Arc` drops one count (and the `T` on the last).
unsafe impl<T: Send + Sync + 'static> Pointer for Arc<T> {
    type Ref<'g> = ArcRef<'g, T>;

    #[inline]
    fn into_raw(self) -> *mut () {
        let () = AlignCheck::<T>::OK;
        Arc::into_raw(self).cast_mut().cast()
    }

    #[inline]
    unsafe fn from_raw(raw: *mut ()) -> Self {
        // SAFETY: `raw` is an `Arc::into_raw` (contract).
        unsafe { Arc::from_raw(raw.cast::<T>()) }
    }

    #[inline]
    unsafe fn borrow<'g>(raw: *mut ()) -> ArcRef<'g, T> {
        ArcRef {
            // SAFETY: `into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(raw.cast::<T>()) },
            _borrow: PhantomData,
        }
    }

    #[inline]
    fn same(a: ArcRef<'_, T>, b: ArcRef<'_, T>) -> bool {
        a.ptr == b.ptr
    }
}

impl<T: Send + Sync + 'static> ClonePointer for Arc<T> {
    fn clone_ref(r: ArcRef<'_, T>) -> Self {
        r.to_arc()
    }
}

/// An unowned index encoded as `(i << 2) | 0b10`: never null, bit 0 clear,
/// an integer without provenance that is never dereferenced.
macro_rules! unowned_index {
    ($($t:ty),*) => {$(
        // SAFETY: `(i << 2) | 2` is non-zero and even, and fits a 64-bit
        // word for every value of the type (at most 32 bits); `from_raw` and
        // `borrow` decode it back exactly. The index owns nothing: no drop,
        // no borrow to outlive, and it is `Copy + Send + Sync`.
        unsafe impl Pointer for $t {
            type Ref<'g> = $t;

            #[inline]
            fn into_raw(self) -> *mut () {
                ptr::without_provenance_mut(((self as usize) << 2) | 0b10)
            }

            #[inline]
            unsafe fn from_raw(raw: *mut ()) -> Self {
                (raw.addr() >> 2) as $t
            }

            #[inline]
            unsafe fn borrow<'g>(raw: *mut ()) -> Self::Ref<'g> {
                (raw.addr() >> 2) as $t
            }

            #[inline]
            fn same(a: $t, b: $t) -> bool {
                a == b
            }
        }

        impl ClonePointer for $t {
            fn clone_ref(r: $t) -> Self {
                r
            }
        }
    )*};
}

unowned_index!(u8, u16, u32);

/// A [`ClonePointer`] whose clones are the same entry ([`Pointer::same`]
/// holds between a clone and its original): an `Arc` (one more strong
/// count on the same allocation, as the swap cache's `folio_ref_add(folio,
/// nr)` for a large folio) or an unowned index. Multi-index ranges
/// ([`XArray::insert_range`](crate::XArray::insert_range),
/// [`SwapCache::add_range`](crate::SwapCache::add_range)) store one clone
/// per index, so that every slot of the range holds the same entry and owns
/// one copy of it. `Box` is not one: a clone is another allocation.
pub trait SharedPointer: ClonePointer {}

impl<T: Send + Sync + 'static> SharedPointer for Arc<T> {}
impl SharedPointer for u8 {}
impl SharedPointer for u16 {}
impl SharedPointer for u32 {}
