//! Error values. Every error leaves the map exactly as it was.

use std::fmt;

/// Why a slot operation was refused. The kernel's errno is given where the
/// kernel has one; the map is unchanged whenever an error is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapError {
    /// The slot is beyond the end of the map (`get_swap_device` fails).
    OutOfRange {
        /// The slot asked for.
        slot: u64,
        /// Slots in the map.
        nr_slots: u64,
    },
    /// The slot is `SWAP_MAP_BAD` (`-ENOENT` in `__swap_duplicate`).
    Bad {
        /// The slot.
        slot: u64,
    },
    /// The slot is free: no reference and no cache (`-ENOENT`; a double
    /// free in `swap_free`).
    NoEntry {
        /// The slot.
        slot: u64,
    },
    /// `swap_free` on a slot that only holds the cache flag: there is no
    /// reference left to drop (the kernel warns "Unused swap offset").
    NoCount {
        /// The slot.
        slot: u64,
    },
    /// `SWAP_HAS_CACHE` is already set (`-EEXIST`): another task pinned the
    /// slot or holds its folio in the swap cache.
    Exists {
        /// The slot.
        slot: u64,
    },
    /// `swapcache_clear` of a slot whose cache flag is not set.
    NotCached {
        /// The slot.
        slot: u64,
    },
    /// The slot is owned by a synchronous swap-in (`SWAP_MAP_SYNC`); wait
    /// with [`SwapMap::sync_wait`](crate::SwapMap::sync_wait) and retry.
    Sync {
        /// The slot.
        slot: u64,
    },
    /// `sync_release` of a slot that is not in the SYNC state.
    NotSync {
        /// The slot.
        slot: u64,
    },
    /// The operation needs a count of exactly 1 without a cache pin (the
    /// `SWP_SYNCHRONOUS_IO` bypass condition `__swap_count(entry) == 1`).
    NotSingle {
        /// The slot.
        slot: u64,
    },
    /// The continuation count is exhausted (`-ENOMEM` from
    /// `add_swap_count_continuation`).
    CountOverflow {
        /// The slot.
        slot: u64,
    },
    /// `mark_bad` of a slot that is in use.
    InUse {
        /// The slot.
        slot: u64,
    },
    /// A range operation with `nr == 0`.
    EmptyRange {
        /// The first slot of the range.
        slot: u64,
    },
    /// A folio's range must be naturally aligned: `nr` a power of two and
    /// `slot` a multiple of it (the kernel's `VM_WARN_ON` on an unaligned
    /// large-folio entry).
    Unaligned {
        /// The first slot of the range.
        slot: u64,
        /// The number of slots.
        nr: u32,
    },
    /// The range `slot..slot + nr` crosses a cluster boundary: every range
    /// operation is one cluster-locked step, as the kernel's batched swap
    /// map operations are (a folio's range never crosses a cluster).
    CrossesCluster {
        /// The first slot of the range.
        slot: u64,
        /// The number of slots.
        nr: u32,
        /// Slots per cluster.
        cluster_size: u32,
    },
    /// A folio order above the largest the map allocates
    /// ([`SwapMap::max_order`](crate::SwapMap::max_order)).
    OrderTooLarge {
        /// The order asked for.
        order: u32,
        /// The largest order the map serves.
        max: u32,
    },
    /// A swap-table operation on a map built without a swap table
    /// ([`SwapMapBuilder::swap_table`](crate::SwapMapBuilder::swap_table)).
    NoTable,
    /// A swap-table delete whose value is not the one in the table (the
    /// kernel's `VM_WARN_ON_ONCE` in `__swap_cache_del_folio`); nothing was
    /// removed.
    TableMismatch {
        /// The slot.
        slot: u64,
    },
}

impl fmt::Display for SwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SwapError::OutOfRange { slot, nr_slots } => {
                write!(
                    f,
                    "swap slot {slot} out of range (map has {nr_slots} slots)"
                )
            }
            SwapError::Bad { slot } => write!(f, "swap slot {slot} is bad"),
            SwapError::NoEntry { slot } => write!(f, "swap slot {slot} is free"),
            SwapError::NoCount { slot } => {
                write!(f, "swap slot {slot} has no reference to drop")
            }
            SwapError::Exists { slot } => write!(f, "swap slot {slot} already has a cache pin"),
            SwapError::NotCached { slot } => write!(f, "swap slot {slot} has no cache flag"),
            SwapError::Sync { slot } => {
                write!(f, "swap slot {slot} is owned by a synchronous swap-in")
            }
            SwapError::NotSync { slot } => write!(f, "swap slot {slot} is not in the SYNC state"),
            SwapError::NotSingle { slot } => {
                write!(f, "swap slot {slot} is not singly referenced and unpinned")
            }
            SwapError::CountOverflow { slot } => {
                write!(f, "swap slot {slot}: continuation count exhausted")
            }
            SwapError::InUse { slot } => write!(f, "swap slot {slot} is in use"),
            SwapError::EmptyRange { slot } => write!(f, "empty range at swap slot {slot}"),
            SwapError::Unaligned { slot, nr } => write!(
                f,
                "range of {nr} swap slots at {slot} is not a naturally aligned power of two"
            ),
            SwapError::CrossesCluster {
                slot,
                nr,
                cluster_size,
            } => write!(
                f,
                "range of {nr} swap slots at {slot} crosses a cluster of {cluster_size}"
            ),
            SwapError::OrderTooLarge { order, max } => {
                write!(f, "folio order {order} above the largest, {max}")
            }
            SwapError::NoTable => f.write_str("the swap map has no swap table"),
            SwapError::TableMismatch { slot } => {
                write!(f, "swap slot {slot} holds another swap-table value")
            }
        }
    }
}

impl std::error::Error for SwapError {}

/// Why a [`SwapMap`](crate::SwapMap) could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Fewer than two slots: slot 0 is the header, so nothing could be
    /// allocated.
    TooFewSlots(u64),
    /// More slots than the model supports (`MAX_SLOTS`).
    TooManySlots(u64),
    /// The cluster size must be a power of two in `2..=65536`.
    ClusterSize(u32),
    /// At least one per-CPU cluster slot is needed.
    NoPercpu,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::TooFewSlots(n) => write!(f, "{n} slots: a map needs at least 2"),
            ConfigError::TooManySlots(n) => write!(f, "{n} slots: more than the model supports"),
            ConfigError::ClusterSize(n) => {
                write!(f, "cluster size {n}: must be a power of two in 2..=65536")
            }
            ConfigError::NoPercpu => write!(f, "at least one per-CPU cluster is needed"),
        }
    }
}

impl std::error::Error for ConfigError {}
