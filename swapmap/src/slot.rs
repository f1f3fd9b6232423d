//! The one-byte slot encoding of `swap_info_struct->swap_map`
//! (include/linux/swap.h), plus this model's `SWAP_MAP_SYNC`.

/// A free slot.
pub const SWAP_FREE: u8 = 0x00;
/// The largest count kept in the slot byte itself (`SWAP_MAP_MAX`).
pub const SWAP_MAP_MAX: u8 = 0x3e;
/// A bad slot: never allocated, refused by every operation (`SWAP_MAP_BAD`).
pub const SWAP_MAP_BAD: u8 = 0x3f;
/// A folio for this slot is, or is about to be, in the swap cache; or a
/// swap-in holds the slot pinned (`SWAP_HAS_CACHE`).
pub const SWAP_HAS_CACHE: u8 = 0x40;
/// The count continues in the slot's continuation digit (`COUNT_CONTINUED`).
pub const COUNT_CONTINUED: u8 = 0x80;
/// A synchronous swap-in owns this slot (the `SWAP_MAP_SYNC` proposed in the
/// SWP_SYNCHRONOUS_IO race thread; never merged upstream).
///
/// Encoding: `SWAP_HAS_CACHE | SWAP_MAP_BAD`, a combination that no other
/// state produces (a bad slot never gets the cache flag). The state implies a
/// count of exactly 1 and a held cache pin, so every reader that tests
/// `SWAP_HAS_CACHE` (swapcache_prepare, readahead) already treats it as
/// pinned without knowing about it.
pub const SWAP_MAP_SYNC: u8 = SWAP_HAS_CACHE | SWAP_MAP_BAD;

/// The count bits of a slot byte.
pub(crate) const COUNT_MASK: u8 = 0x3f;
/// The weight of one continuation unit: counts `0..=SWAP_MAP_MAX` live in the
/// byte, so the continuation digit counts in units of `SWAP_MAP_MAX + 1`.
pub(crate) const CONT_BASE: u64 = SWAP_MAP_MAX as u64 + 1;

/// The decoded state of one slot, as returned by
/// [`SwapMap::state`](crate::SwapMap::state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Free (`0x00`).
    Free,
    /// Bad (`SWAP_MAP_BAD`), including slot 0, the swap header.
    Bad,
    /// In use: `count` references (continuation included), and whether the
    /// `SWAP_HAS_CACHE` flag is set.
    Used {
        /// Number of references (page-table entries, shmem, ...).
        count: u64,
        /// `SWAP_HAS_CACHE` is set.
        has_cache: bool,
    },
    /// Owned by a synchronous swap-in (`SWAP_MAP_SYNC`): count 1, pinned.
    Sync,
}

impl SlotState {
    /// The reference count of the slot (`__swap_count`): 0 when free or bad.
    pub fn count(self) -> u64 {
        match self {
            SlotState::Free | SlotState::Bad => 0,
            SlotState::Used { count, .. } => count,
            SlotState::Sync => 1,
        }
    }

    /// Whether the cache flag (or the SYNC pin, which implies it) is set.
    pub fn has_cache(self) -> bool {
        match self {
            SlotState::Free | SlotState::Bad => false,
            SlotState::Used { has_cache, .. } => has_cache,
            SlotState::Sync => true,
        }
    }
}

/// The count held by the byte `b` together with the continuation digit `cont`.
#[inline]
pub(crate) fn total_count(b: u8, cont: u32) -> u64 {
    let low = u64::from(b & COUNT_MASK);
    if b & COUNT_CONTINUED != 0 {
        low + CONT_BASE * u64::from(cont)
    } else {
        low
    }
}

/// Decodes a byte; `cont` is the slot's continuation digit (only read when
/// `COUNT_CONTINUED` is set).
#[inline]
pub(crate) fn decode(b: u8, cont: impl FnOnce() -> u32) -> SlotState {
    match b {
        SWAP_FREE => SlotState::Free,
        SWAP_MAP_BAD => SlotState::Bad,
        SWAP_MAP_SYNC => SlotState::Sync,
        _ => {
            let c = if b & COUNT_CONTINUED != 0 { cont() } else { 0 };
            SlotState::Used {
                count: total_count(b, c),
                has_cache: b & SWAP_HAS_CACHE != 0,
            }
        }
    }
}

/// One more reference (`__swap_duplicate` with usage 1, and
/// `swap_count_continued` when the byte is at `SWAP_MAP_MAX`).
/// Returns the new byte and digit, or `None` when the digit is at `limit`.
#[inline]
pub(crate) fn inc(b: u8, cont: u32, limit: u32) -> Option<(u8, u32)> {
    let low = b & COUNT_MASK;
    if low < SWAP_MAP_MAX {
        Some((b + 1, cont))
    } else if cont >= limit {
        None
    } else {
        // Carry: the byte wraps to 0 and the digit takes one unit of
        // SWAP_MAP_MAX + 1 references.
        Some(((b & SWAP_HAS_CACHE) | COUNT_CONTINUED, cont + 1))
    }
}

/// One reference fewer. The caller has checked that the count is not zero.
#[inline]
pub(crate) fn dec(b: u8, cont: u32) -> (u8, u32) {
    let low = b & COUNT_MASK;
    if low > 0 {
        (b - 1, cont)
    } else {
        // Borrow from the continuation digit.
        debug_assert!(b & COUNT_CONTINUED != 0 && cont > 0);
        let cont = cont - 1;
        let flag = if cont > 0 { COUNT_CONTINUED } else { 0 };
        ((b & SWAP_HAS_CACHE) | flag | SWAP_MAP_MAX, cont)
    }
}

/// The byte carries at least one reference.
#[inline]
pub(crate) fn has_count(b: u8) -> bool {
    b & (COUNT_MASK | COUNT_CONTINUED) != 0
}
