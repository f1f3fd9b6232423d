//! Page-table entries: 64-bit words with a 2-bit tag.
//!
//! ```text
//!  bits 63..2           bits 1..0
//!  0                    00   none (pte_none)
//!  frame number         01   present: maps a frame
//!  swap offset          10   swap entry (a non-present PTE naming a slot)
//!  frame number         11   swap-in marker: a swap-in of the locked folio
//!                            in that frame is in progress (`pte-marker`
//!                            strategy; David Hildenbrand's proposal)
//! ```

use bytemuck::NoUninit;

use crate::frame::FrameId;

/// One page-table entry.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, NoUninit)]
pub struct Pte(u64);

/// A decoded [`Pte`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PteKind {
    /// `pte_none`: nothing mapped.
    None,
    /// A present page in this frame.
    Present(FrameId),
    /// A swap entry for this slot (`pte_to_swp_entry`).
    Swap(u64),
    /// A swap-in of the folio in this frame is in progress.
    Marker(FrameId),
}

const TAG_MASK: u64 = 0b11;
const TAG_PRESENT: u64 = 0b01;
const TAG_SWAP: u64 = 0b10;
const TAG_MARKER: u64 = 0b11;

impl Pte {
    /// The empty entry.
    pub const NONE: Pte = Pte(0);

    /// A present entry mapping `frame` (`mk_pte`).
    pub fn present(frame: FrameId) -> Pte {
        Pte((u64::from(frame) << 2) | TAG_PRESENT)
    }

    /// A swap entry for `slot` (`swp_entry_to_pte`). Slots fit in 62 bits
    /// (`swapmap::MAX_SLOTS` is 2^36).
    pub fn swap(slot: u64) -> Pte {
        debug_assert!(slot < 1 << 62);
        Pte((slot << 2) | TAG_SWAP)
    }

    /// A swap-in marker for the folio in `frame`.
    pub fn marker(frame: FrameId) -> Pte {
        Pte((u64::from(frame) << 2) | TAG_MARKER)
    }

    /// Decodes the entry.
    pub fn kind(self) -> PteKind {
        match self.0 & TAG_MASK {
            0 => PteKind::None,
            TAG_PRESENT => PteKind::Present((self.0 >> 2) as FrameId),
            TAG_SWAP => PteKind::Swap(self.0 >> 2),
            _ => PteKind::Marker((self.0 >> 2) as FrameId),
        }
    }

    /// The raw word.
    pub fn raw(self) -> u64 {
        self.0
    }

    #[cfg(any(loom, shuttle))]
    fn from_raw(v: u64) -> Pte {
        Pte(v)
    }
}

impl std::fmt::Debug for Pte {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pte({:?})", self.kind())
    }
}

/// An atomic PTE slot: `atomic::Atomic<Pte>` normally; the facade's
/// `AtomicU64` under loom and shuttle (the `atomic` crate supports neither).
pub(crate) struct PteCell {
    #[cfg(not(any(loom, shuttle)))]
    v: atomic::Atomic<Pte>,
    #[cfg(any(loom, shuttle))]
    v: crate::sync::AtomicU64,
}

impl PteCell {
    pub(crate) fn new(p: Pte) -> Self {
        #[cfg(not(any(loom, shuttle)))]
        return PteCell {
            v: atomic::Atomic::new(p),
        };
        #[cfg(any(loom, shuttle))]
        return PteCell {
            v: crate::sync::AtomicU64::new(p.raw()),
        };
    }

    #[inline]
    pub(crate) fn load(&self, o: crate::sync::Ordering) -> Pte {
        #[cfg(not(any(loom, shuttle)))]
        return self.v.load(o);
        #[cfg(any(loom, shuttle))]
        return Pte::from_raw(self.v.load(o));
    }

    #[inline]
    pub(crate) fn store(&self, p: Pte, o: crate::sync::Ordering) {
        #[cfg(not(any(loom, shuttle)))]
        self.v.store(p, o);
        #[cfg(any(loom, shuttle))]
        self.v.store(p.raw(), o);
    }
}

#[cfg(not(any(loom, shuttle)))]
const _: () = assert!(atomic::Atomic::<Pte>::is_lock_free());
