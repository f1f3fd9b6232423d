//! A sequential reference model of the swap map, and a harness that runs
//! the same operations on a [`SwapMap`] and on the model and compares them.
//!
//! The model is the executable specification of the crate's semantics: a
//! plain map from slot to (count, cache, sync) with no encoding, clusters or
//! atomics, and, for a map built with a swap table, a plain map from slot to
//! swap-cache value. The property tests and the fuzz target drive
//! [`Harness`] with arbitrary [`Op`] sequences, on maps with and without a
//! swap table; any difference in a result, a slot state, a swap-table entry,
//! a free notification or the statistics is reported as a [`Mismatch`].
//!
//! # The swap table in the model
//!
//! The table is a map from slot to value, separate from the slot states:
//!
//! - only [`Op::TableAdd`], [`Op::TablePrepareAddMany`] (insert),
//!   [`Op::TableDel`] and [`Op::TableDelFreeAndClear`] (remove) change it;
//! - no other operation looks at it or touches it. In particular dropping
//!   the `SWAP_HAS_CACHE` pin ([`Op::Clear`], [`Op::FreeAndClear`],
//!   [`Op::SyncRelease`]) does not remove the slot's value, even when the
//!   slot becomes free: the protocol makes the pin holder delete its value
//!   first (the kernel calls `swap_cache_del_folio` before
//!   `put_swap_folio`, and only asserts, under `CONFIG_DEBUG_VM`, that a
//!   freed range of the swap table is empty), and the map does not enforce
//!   it. A value left behind by a caller that broke the protocol stays,
//!   across the slot's free and re-allocation, until a [`Op::TableDel`] of
//!   that value: meanwhile [`SwapMap::table_get`] returns it and adds for
//!   the slot fail with [`SwapError::Exists`].
//!
//! Without a table every table operation fails with [`SwapError::NoTable`]
//! (after the range check; in a batch, per item) and
//! [`SwapMap::table_len`] is 0.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex as StdMutex};

use crate::slot::CONT_BASE;
use crate::{Freed, SlotState, SwapError, SwapMap, SwapMapStats};

/// Which slot an [`Op`] targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The `n`-th in-use slot of the model (modulo their number), so that
    /// random sequences mostly hit live slots; slot 1 when none is in use.
    Used(usize),
    /// A raw slot number, possibly free, bad or out of range.
    Raw(u64),
    /// The first slot of the last successful allocation (slot 1 before
    /// any), so that generated sequences can follow a folio's range from
    /// its allocation through swap-in.
    Last,
}

/// Which swap-table value an [`Op`] passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// The value the model's table holds for the target slot, or 1 when it
    /// holds none (or there is no table): a delete that matches when it can.
    Current,
    /// This value.
    Lit(NonZeroU64),
}

/// The result the harness pre-fills the results of
/// [`Op::TablePrepareAddMany`] with, to tell an entry the map did not write
/// (an error no swap-table operation returns).
pub const UNTOUCHED: Result<(), SwapError> = Err(SwapError::InUse { slot: u64::MAX });

/// The batched operation a [`Op::Range`] runs over `nr` slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeKind {
    /// [`SwapMap::swapcache_prepare_nr`].
    Prepare,
    /// [`SwapMap::swapcache_prepare_single_nr`].
    PrepareSingle,
    /// [`SwapMap::sync_acquire_nr`].
    SyncAcquire,
    /// [`SwapMap::sync_release_nr`].
    SyncRelease,
    /// [`SwapMap::sync_release_free_nr`].
    SyncReleaseFree,
    /// [`SwapMap::swapcache_clear_nr`].
    Clear,
    /// [`SwapMap::free_nr`].
    Free,
    /// [`SwapMap::free_and_clear_nr`].
    FreeAndClear,
    /// [`SwapMap::duplicate_nr`].
    Duplicate,
    /// [`SwapMap::table_add_nr`].
    TableAdd,
    /// [`SwapMap::table_del_nr`].
    TableDel,
    /// [`SwapMap::table_del_free_and_clear_nr`].
    TableDelFreeAndClear,
}

impl RangeKind {
    /// Every kind.
    pub const ALL: [RangeKind; 12] = [
        RangeKind::Prepare,
        RangeKind::PrepareSingle,
        RangeKind::SyncAcquire,
        RangeKind::SyncRelease,
        RangeKind::SyncReleaseFree,
        RangeKind::Clear,
        RangeKind::Free,
        RangeKind::FreeAndClear,
        RangeKind::Duplicate,
        RangeKind::TableAdd,
        RangeKind::TableDel,
        RangeKind::TableDelFreeAndClear,
    ];

    /// Whether the range must be a folio's (a naturally aligned power of
    /// two); the others take any `nr` slots of one cluster.
    pub fn aligned(self) -> bool {
        !matches!(
            self,
            RangeKind::Clear | RangeKind::Free | RangeKind::Duplicate
        )
    }

    /// Whether it is a swap-table operation ([`SwapError::NoTable`] after
    /// the range check without a table).
    fn table(self) -> bool {
        matches!(
            self,
            RangeKind::TableAdd | RangeKind::TableDel | RangeKind::TableDelFreeAndClear
        )
    }

    /// Whether it returns the number of slots freed (else `()`).
    fn puts(self) -> bool {
        matches!(
            self,
            RangeKind::SyncRelease
                | RangeKind::Clear
                | RangeKind::Free
                | RangeKind::FreeAndClear
                | RangeKind::TableDelFreeAndClear
        )
    }

    /// The single-slot operation it is, slot by slot, all or nothing.
    fn single(self, slot: u64, v: Val) -> Op {
        let t = Target::Raw(slot);
        match self {
            RangeKind::Prepare => Op::Prepare(t),
            RangeKind::PrepareSingle => Op::PrepareSingle(t),
            RangeKind::SyncAcquire => Op::SyncAcquire(t),
            RangeKind::SyncRelease => Op::SyncRelease(t),
            RangeKind::SyncReleaseFree => Op::SyncReleaseFree(t),
            RangeKind::Clear => Op::Clear(t),
            RangeKind::Free => Op::Free(t),
            RangeKind::FreeAndClear => Op::FreeAndClear(t),
            RangeKind::Duplicate => Op::Duplicate(t),
            RangeKind::TableAdd => Op::TableAdd(t, v),
            RangeKind::TableDel => Op::TableDel(t, v),
            RangeKind::TableDelFreeAndClear => Op::TableDelFreeAndClear(t, v),
        }
    }
}

/// One operation of the map's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`SwapMap::alloc`].
    Alloc,
    /// [`SwapMap::alloc_order`] of this order.
    AllocOrder(u32),
    /// A batched operation over `nr` slots from the target (aligned down to
    /// a multiple of `nr` when `align` is set and `nr` is a power of two);
    /// the value, resolved against the first slot, is that of every slot
    /// (table kinds only).
    Range {
        /// The operation.
        kind: RangeKind,
        /// The first slot, before the alignment.
        at: Target,
        /// The number of slots.
        nr: u32,
        /// Align the first slot down to `nr`.
        align: bool,
        /// The swap-table value (table kinds).
        val: Val,
    },
    /// [`SwapMap::duplicate`].
    Duplicate(Target),
    /// [`SwapMap::duplicate_if_single`].
    DuplicateIfSingle(Target),
    /// [`SwapMap::swapcache_prepare`].
    Prepare(Target),
    /// [`SwapMap::swapcache_prepare_single`].
    PrepareSingle(Target),
    /// [`SwapMap::swapcache_clear`].
    Clear(Target),
    /// [`SwapMap::free`].
    Free(Target),
    /// [`SwapMap::free_and_clear`].
    FreeAndClear(Target),
    /// [`SwapMap::sync_acquire`].
    SyncAcquire(Target),
    /// [`SwapMap::sync_release`].
    SyncRelease(Target),
    /// [`SwapMap::sync_release_free`].
    SyncReleaseFree(Target),
    /// [`SwapMap::mark_bad`].
    MarkBad(Target),
    /// `n` duplicates in a row (reaches the continuation counts quickly).
    DuplicateMany(Target, u16),
    /// [`SwapMap::has_count_ordered`].
    HasCountOrdered(Target),
    /// [`SwapMap::table_get`].
    TableGet(Target),
    /// [`SwapMap::table_add`].
    TableAdd(Target, Val),
    /// [`SwapMap::table_del`].
    TableDel(Target, Val),
    /// [`SwapMap::table_del_free_and_clear`].
    TableDelFreeAndClear(Target, Val),
    /// [`SwapMap::table_prepare_add_many`] of `items` (targets and values
    /// resolved against the model before the call) with a results slice of
    /// `results` entries, pre-filled with [`UNTOUCHED`].
    TablePrepareAddMany {
        /// The batch.
        items: Vec<(Target, Val)>,
        /// Length of the results slice: fewer entries than items leave the
        /// rest of the batch unprocessed.
        results: usize,
    },
}

impl Op {
    /// The single slot the operation targets (`None` for [`Op::Alloc`] and
    /// the batch).
    fn target(&self) -> Option<Target> {
        match *self {
            Op::Alloc | Op::AllocOrder(_) | Op::TablePrepareAddMany { .. } => None,
            Op::Range { at, .. } => Some(at),
            Op::Duplicate(t)
            | Op::DuplicateIfSingle(t)
            | Op::Prepare(t)
            | Op::PrepareSingle(t)
            | Op::Clear(t)
            | Op::Free(t)
            | Op::FreeAndClear(t)
            | Op::SyncAcquire(t)
            | Op::SyncRelease(t)
            | Op::SyncReleaseFree(t)
            | Op::MarkBad(t)
            | Op::DuplicateMany(t, _)
            | Op::HasCountOrdered(t)
            | Op::TableGet(t)
            | Op::TableAdd(t, _)
            | Op::TableDel(t, _)
            | Op::TableDelFreeAndClear(t, _) => Some(t),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MSlot {
    Bad,
    Used { count: u64, cache: bool },
    Sync,
}

/// The sequential model: slot → state, with free slots absent; and, with a
/// swap table, slot → value, with empty entries absent.
#[derive(Clone, Debug)]
pub struct Model {
    nr_slots: u64,
    cont_limit: u32,
    slots: BTreeMap<u64, MSlot>,
    /// `None` without a swap table.
    table: Option<BTreeMap<u64, NonZeroU64>>,
    allocs: u64,
    frees: u64,
    cluster_size: u32,
    order_allocs: [u64; crate::SWAP_NR_ORDERS],
    order_fallbacks: [u64; crate::SWAP_NR_ORDERS],
    /// Slots freed by the operation being applied, in order.
    freed_log: Vec<u64>,
    /// See [`Target::Last`].
    last_alloc: u64,
}

impl Model {
    /// A model of a fresh map (slot 0 bad) of `nr_slots` slots whose
    /// continuation digit is limited to `cont_limit`, without a swap table.
    pub fn new(nr_slots: u64, cont_limit: u32) -> Model {
        let mut slots = BTreeMap::new();
        slots.insert(0, MSlot::Bad);
        Model {
            nr_slots,
            cont_limit,
            slots,
            table: None,
            allocs: 0,
            frees: 0,
            cluster_size: crate::SWAPFILE_CLUSTER,
            order_allocs: [0; crate::SWAP_NR_ORDERS],
            order_fallbacks: [0; crate::SWAP_NR_ORDERS],
            freed_log: Vec::new(),
            last_alloc: 1,
        }
    }

    /// The model of a map with clusters of `n` slots (default 512): range
    /// operations may not cross them, and orders above their log2 are
    /// refused.
    pub fn cluster_size(mut self, n: u32) -> Model {
        self.cluster_size = n;
        self
    }

    /// The largest order the map serves ([`SwapMap::max_order`]).
    fn max_order(&self) -> u32 {
        self.cluster_size
            .trailing_zeros()
            .min(crate::SWAP_NR_ORDERS as u32 - 1)
    }

    /// The first slot of a range op: the target, aligned down to `nr` when
    /// asked and `nr` is a power of two.
    pub fn range_start(&self, at: Target, nr: u32, align: bool) -> u64 {
        let s = self.resolve(at);
        if align && nr.is_power_of_two() {
            s & !(u64::from(nr) - 1)
        } else {
            s
        }
    }

    /// The range checks of every range operation, in the map's order.
    fn check_range(&self, slot: u64, nr: u32, aligned: bool) -> Result<(), SwapError> {
        if nr == 0 {
            return Err(SwapError::EmptyRange { slot });
        }
        let last = match slot.checked_add(u64::from(nr) - 1) {
            Some(l) if l < self.nr_slots => l,
            _ => {
                return Err(SwapError::OutOfRange {
                    slot: slot.max(self.nr_slots),
                    nr_slots: self.nr_slots,
                });
            }
        };
        if aligned && (!nr.is_power_of_two() || !slot.is_multiple_of(u64::from(nr))) {
            return Err(SwapError::Unaligned { slot, nr });
        }
        let cs = u64::from(self.cluster_size);
        if slot / cs != last / cs {
            return Err(SwapError::CrossesCluster {
                slot,
                nr,
                cluster_size: self.cluster_size,
            });
        }
        Ok(())
    }

    /// A range operation: the range checks, the table check, then the
    /// single-slot operation on each slot in order on a copy of the model,
    /// kept only if every slot succeeded; else the first slot's error.
    fn apply_range(
        &mut self,
        kind: RangeKind,
        slot: u64,
        nr: u32,
        v: Val,
    ) -> Result<Result<u32, SwapError>, String> {
        if let Err(e) = self.check_range(slot, nr, kind.aligned()) {
            return Ok(Err(e));
        }
        if kind.table() && self.table.is_none() {
            return Ok(Err(SwapError::NoTable));
        }
        let v = Val::Lit(self.value(slot, v));
        let mut m = self.clone();
        let mut freed = 0;
        for s in slot..slot + u64::from(nr) {
            let r = match m.apply(s, &kind.single(s, v), None)? {
                Outcome::Unit(r) => r.map(|()| 0),
                Outcome::Put(r) => r.map(|f| u32::from(f == Freed::Yes)),
                other => return Err(format!("range of {kind:?}: unexpected {other:?}")),
            };
            match r {
                Ok(n) => freed += n,
                Err(e) => return Ok(Err(e)),
            }
        }
        *self = m;
        Ok(Ok(freed))
    }

    /// Whether some cluster lies inside the map with all its slots free (a
    /// large allocation must then succeed).
    fn has_free_cluster(&self) -> bool {
        let cs = u64::from(self.cluster_size);
        (0..self.nr_slots / cs).any(|c| self.slots.range(c * cs..(c + 1) * cs).next().is_none())
    }

    /// Drains the slots freed by the last operation, in order.
    pub fn take_freed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.freed_log)
    }

    /// The model of a map built with (`on`) or without a swap table
    /// ([`SwapMapBuilder::swap_table`](crate::SwapMapBuilder::swap_table));
    /// the table starts empty.
    pub fn swap_table(mut self, on: bool) -> Model {
        self.table = on.then(BTreeMap::new);
        self
    }

    /// The state of `slot` in the model.
    pub fn state(&self, slot: u64) -> SlotState {
        match self.slots.get(&slot) {
            None => SlotState::Free,
            Some(MSlot::Bad) => SlotState::Bad,
            Some(MSlot::Sync) => SlotState::Sync,
            Some(&MSlot::Used { count, cache }) => SlotState::Used {
                count,
                has_cache: cache,
            },
        }
    }

    /// Whether the model has a swap table.
    pub fn has_table(&self) -> bool {
        self.table.is_some()
    }

    /// The slot's swap-table value, as [`SwapMap::table_get`] returns it:
    /// [`SwapError::OutOfRange`], then [`SwapError::NoTable`].
    pub fn table_get(&self, slot: u64) -> Result<Option<NonZeroU64>, SwapError> {
        self.check(slot)?;
        let t = self.table.as_ref().ok_or(SwapError::NoTable)?;
        Ok(t.get(&slot).copied())
    }

    /// Non-empty swap-table entries ([`SwapMap::table_len`]): 0 without a
    /// table.
    pub fn table_len(&self) -> u64 {
        self.table.as_ref().map_or(0, |t| t.len() as u64)
    }

    /// Resolves a [`Target`] to a slot number.
    pub fn resolve(&self, t: Target) -> u64 {
        match t {
            Target::Raw(s) => s,
            Target::Last => self.last_alloc,
            Target::Used(n) => {
                let used: Vec<u64> = self
                    .slots
                    .iter()
                    .filter(|(_, s)| !matches!(s, MSlot::Bad))
                    .map(|(&k, _)| k)
                    .collect();
                if used.is_empty() {
                    1
                } else {
                    used[n % used.len()]
                }
            }
        }
    }

    /// Resolves a [`Val`] for `slot` against the model's table.
    pub fn value(&self, slot: u64, v: Val) -> NonZeroU64 {
        match v {
            Val::Lit(x) => x,
            Val::Current => self
                .table
                .as_ref()
                .and_then(|t| t.get(&slot).copied())
                .unwrap_or(NonZeroU64::MIN),
        }
    }

    /// Resolves the items of a batch, all against the model as it is
    /// before the batch.
    fn resolve_items(&self, items: &[(Target, Val)]) -> Vec<(u64, NonZeroU64)> {
        items
            .iter()
            .map(|&(t, v)| {
                let s = self.resolve(t);
                (s, self.value(s, v))
            })
            .collect()
    }

    fn free_slots(&self) -> u64 {
        self.nr_slots - self.slots.len() as u64
    }

    fn check(&self, slot: u64) -> Result<Option<MSlot>, SwapError> {
        if slot >= self.nr_slots {
            return Err(SwapError::OutOfRange {
                slot,
                nr_slots: self.nr_slots,
            });
        }
        Ok(self.slots.get(&slot).copied())
    }

    /// Sets the state; `Used { 0, false }` frees the slot and returns true.
    /// The slot's swap-table entry is left alone either way.
    fn set(&mut self, slot: u64, s: MSlot) -> bool {
        if s == (MSlot::Used {
            count: 0,
            cache: false,
        }) {
            self.slots.remove(&slot);
            self.frees += 1;
            self.freed_log.push(slot);
            true
        } else {
            self.slots.insert(slot, s);
            false
        }
    }

    fn freed(&mut self, slot: u64, s: MSlot) -> Freed {
        if self.set(slot, s) {
            Freed::Yes
        } else {
            Freed::No
        }
    }

    fn inc(&self, slot: u64, count: u64) -> Result<u64, SwapError> {
        // The byte holds count % 63 and the digit count / 63; the digit can
        // only grow when the byte is at SWAP_MAP_MAX.
        if count % CONT_BASE == CONT_BASE - 1 && count / CONT_BASE >= u64::from(self.cont_limit) {
            Err(SwapError::CountOverflow { slot })
        } else {
            Ok(count + 1)
        }
    }

    /// What `swapcache_prepare` requires of a slot (range checked): in use,
    /// not bad, no pin (the SYNC state is one). Returns the count to keep.
    fn pin_check(slot: u64, st: Option<MSlot>) -> Result<u64, SwapError> {
        use MSlot::*;
        match st {
            None => Err(SwapError::NoEntry { slot }),
            Some(Bad) => Err(SwapError::Bad { slot }),
            Some(Sync | Used { cache: true, .. }) => Err(SwapError::Exists { slot }),
            Some(Used { count, .. }) => Ok(count),
        }
    }

    /// What `free_and_clear` requires of a slot (range checked): pinned
    /// (not SYNC) and referenced. Returns the count left.
    fn free_and_clear_check(slot: u64, st: Option<MSlot>) -> Result<u64, SwapError> {
        use MSlot::*;
        match st {
            None => Err(SwapError::NoEntry { slot }),
            Some(Bad) => Err(SwapError::Bad { slot }),
            Some(Sync) => Err(SwapError::Sync { slot }),
            Some(Used { cache: false, .. }) => Err(SwapError::NotCached { slot }),
            Some(Used { count: 0, .. }) => Err(SwapError::NoCount { slot }),
            Some(Used { count, .. }) => Ok(count - 1),
        }
    }

    /// The value check of `table_del` and `table_del_free_and_clear`: the
    /// range, the table, then the slot's value must be `v`.
    fn check_holds(&self, slot: u64, v: NonZeroU64) -> Result<(), SwapError> {
        if self.table_get(slot)? == Some(v) {
            Ok(())
        } else {
            Err(SwapError::TableMismatch { slot })
        }
    }

    /// Empties the slot's table entry (no table: nothing to do).
    fn remove_value(&mut self, slot: u64) {
        if let Some(t) = self.table.as_mut() {
            t.remove(&slot);
        }
    }

    /// One item of `table_prepare_add_many`: the range, the table, then the
    /// pin as `swapcache_prepare`, then an empty entry (else the pin is
    /// dropped again: nothing changes).
    fn prepare_add(&mut self, slot: u64, value: NonZeroU64) -> Result<(), SwapError> {
        let st = self.check(slot)?;
        let t = self.table.as_mut().ok_or(SwapError::NoTable)?;
        let count = Self::pin_check(slot, st)?;
        if t.contains_key(&slot) {
            return Err(SwapError::Exists { slot });
        }
        t.insert(slot, value);
        self.set(slot, MSlot::Used { count, cache: true });
        Ok(())
    }

    /// Applies `op` to the model; `slot` is the op's target, resolved with
    /// [`Model::resolve`] before the map ran it (ignored by [`Op::Alloc`]
    /// and the batch, which resolves its items itself). `alloc` is what the
    /// real map's [`SwapMap::alloc`] returned: the model checks it was
    /// allowed to.
    pub fn apply(&mut self, slot: u64, op: &Op, alloc: Option<u64>) -> Result<Outcome, String> {
        use MSlot::*;
        use SwapError as E;
        let r = |x: Result<Freed, SwapError>| Ok(Outcome::Put(x));
        let u = |x: Result<(), SwapError>| Ok(Outcome::Unit(x));
        let st = self.check(slot);
        match *op {
            Op::Alloc => match alloc {
                Some(s) => {
                    if s >= self.nr_slots || self.slots.contains_key(&s) {
                        return Err(format!("alloc returned slot {s}, which is not free"));
                    }
                    self.slots.insert(
                        s,
                        Used {
                            count: 0,
                            cache: true,
                        },
                    );
                    self.allocs += 1;
                    self.order_allocs[0] += 1;
                    self.last_alloc = s;
                    Ok(Outcome::Alloc(Some(s)))
                }
                None if self.free_slots() > 0 => Err(format!(
                    "alloc failed with {} free slots",
                    self.free_slots()
                )),
                None => Ok(Outcome::Alloc(None)),
            },
            Op::AllocOrder(order) => {
                let max = self.max_order();
                if order > max {
                    return Ok(Outcome::AllocOrder(Err(E::OrderTooLarge { order, max })));
                }
                let nr = 1u64 << order;
                match alloc {
                    Some(s) => {
                        let run = s..s.saturating_add(nr);
                        if !s.is_multiple_of(nr)
                            || run.end > self.nr_slots
                            || self.slots.range(run.clone()).next().is_some()
                        {
                            return Err(format!(
                                "alloc_order({order}) returned slot {s}, not a free aligned run"
                            ));
                        }
                        for x in run {
                            self.slots.insert(
                                x,
                                Used {
                                    count: 0,
                                    cache: true,
                                },
                            );
                        }
                        self.allocs += nr;
                        self.last_alloc = s;
                        self.order_allocs[order as usize] += 1;
                        Ok(Outcome::AllocOrder(Ok(Some(s))))
                    }
                    None if order == 0 && self.free_slots() > 0 => Err(format!(
                        "alloc_order(0) failed with {} free slots",
                        self.free_slots()
                    )),
                    None if order > 0 && self.has_free_cluster() => {
                        Err(format!("alloc_order({order}) failed with a free cluster"))
                    }
                    None => {
                        if order > 0 {
                            self.order_fallbacks[order as usize] += 1;
                        }
                        Ok(Outcome::AllocOrder(Ok(None)))
                    }
                }
            }
            Op::Range {
                kind, nr, val: v, ..
            } => {
                let r = self.apply_range(kind, slot, nr, v)?;
                Ok(if kind.puts() {
                    Outcome::PutNr(r)
                } else {
                    Outcome::Unit(r.map(drop))
                })
            }
            Op::Duplicate(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { count, cache })) => self.inc(slot, count).map(|count| {
                    self.set(slot, Used { count, cache });
                }),
            }),
            Op::DuplicateMany(_, n) => {
                let mut last = Ok(());
                for _ in 0..n {
                    last = match self.apply(slot, &Op::Duplicate(Target::Raw(slot)), None)? {
                        Outcome::Unit(x) => x,
                        other => return Err(format!("unexpected {other:?}")),
                    };
                    if last.is_err() {
                        break;
                    }
                }
                u(last)
            }
            Op::DuplicateIfSingle(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used {
                    count: 1,
                    cache: false,
                })) => {
                    self.set(
                        slot,
                        Used {
                            count: 2,
                            cache: false,
                        },
                    );
                    Ok(())
                }
                Ok(Some(Used {
                    count: 1,
                    cache: true,
                })) => Err(E::Exists { slot }),
                Ok(Some(Used { .. })) => Err(E::NotSingle { slot }),
            }),
            Op::Prepare(_) => u(st.and_then(|st| Self::pin_check(slot, st)).map(|count| {
                self.set(slot, Used { count, cache: true });
            })),
            // Count exactly 1 and no pin, pinned in one step; a pin (SYNC
            // included) is reported before a count that is not 1.
            Op::PrepareSingle(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync | Used { cache: true, .. })) => Err(E::Exists { slot }),
                Ok(Some(Used { count: 1, .. })) => {
                    self.set(
                        slot,
                        Used {
                            count: 1,
                            cache: true,
                        },
                    );
                    Ok(())
                }
                Ok(Some(Used { .. })) => Err(E::NotSingle { slot }),
            }),
            Op::Clear(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { cache: false, .. })) => Err(E::NotCached { slot }),
                Ok(Some(Used { count, .. })) => Ok(self.freed(
                    slot,
                    Used {
                        count,
                        cache: false,
                    },
                )),
            }),
            Op::Free(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Ok(self.freed(
                    slot,
                    Used {
                        count: 0,
                        cache: true,
                    },
                )),
                Ok(Some(Used { count: 0, .. })) => Err(E::NoCount { slot }),
                Ok(Some(Used { count, cache })) => Ok(self.freed(
                    slot,
                    Used {
                        count: count - 1,
                        cache,
                    },
                )),
            }),
            Op::FreeAndClear(_) => {
                r(st.and_then(|st| Self::free_and_clear_check(slot, st))
                    .map(|count| {
                        self.freed(
                            slot,
                            Used {
                                count,
                                cache: false,
                            },
                        )
                    }))
            }
            Op::SyncAcquire(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Err(E::Sync { slot }),
                Ok(Some(Used { cache: true, .. })) => Err(E::Exists { slot }),
                Ok(Some(Used { count: 1, .. })) => {
                    self.set(slot, Sync);
                    Ok(())
                }
                Ok(Some(Used { .. })) => Err(E::NotSingle { slot }),
            }),
            Op::SyncRelease(_) => r(match st {
                Err(e) => Err(e),
                Ok(None) => Err(E::NoEntry { slot }),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Ok(self.freed(
                    slot,
                    Used {
                        count: 1,
                        cache: false,
                    },
                )),
                Ok(Some(Used { count, cache: true })) => Ok(self.freed(
                    slot,
                    Used {
                        count,
                        cache: false,
                    },
                )),
                Ok(Some(Used { .. })) => Err(E::NotSync { slot }),
            }),
            Op::SyncReleaseFree(_) => u(match st {
                Err(e) => Err(e),
                Ok(Some(Sync)) => {
                    self.set(
                        slot,
                        Used {
                            count: 0,
                            cache: false,
                        },
                    );
                    Ok(())
                }
                Ok(_) => Err(E::NotSync { slot }),
            }),
            Op::MarkBad(_) => u(match st {
                Err(e) => Err(e),
                Ok(None) => {
                    self.slots.insert(slot, Bad);
                    Ok(())
                }
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(_)) => Err(E::InUse { slot }),
            }),
            // Whether a reference is left: SYNC holds one, a cache-only slot
            // none; only a bad slot is an error.
            Op::HasCountOrdered(_) => Ok(Outcome::Bool(match st {
                Err(e) => Err(e),
                Ok(None) => Ok(false),
                Ok(Some(Bad)) => Err(E::Bad { slot }),
                Ok(Some(Sync)) => Ok(true),
                Ok(Some(Used { count, .. })) => Ok(count > 0),
            })),
            Op::TableGet(_) => Ok(Outcome::Value(self.table_get(slot))),
            // The caller must hold a swap-cache pin (SYNC is not one) and
            // the entry must be empty.
            Op::TableAdd(_, v) => {
                let v = self.value(slot, v);
                u(self.table_get(slot).and_then(|cur| {
                    match st? {
                        None => return Err(E::NoEntry { slot }),
                        Some(Bad) => return Err(E::Bad { slot }),
                        Some(Sync | Used { cache: false, .. }) => {
                            return Err(E::NotCached { slot });
                        }
                        Some(Used { cache: true, .. }) => {}
                    }
                    if cur.is_some() {
                        return Err(E::Exists { slot });
                    }
                    if let Some(t) = self.table.as_mut() {
                        t.insert(slot, v);
                    }
                    Ok(())
                }))
            }
            // Only the value: the slot's state is not looked at.
            Op::TableDel(_, v) => {
                let v = self.value(slot, v);
                u(self.check_holds(slot, v).map(|()| self.remove_value(slot)))
            }
            // The value first, then the checks of `free_and_clear`; on
            // success the entry, a reference and the pin go together.
            Op::TableDelFreeAndClear(_, v) => {
                let v = self.value(slot, v);
                r(self.check_holds(slot, v).and_then(|()| {
                    let count = Self::free_and_clear_check(slot, st?)?;
                    self.remove_value(slot);
                    Ok(self.freed(
                        slot,
                        Used {
                            count,
                            cache: false,
                        },
                    ))
                }))
            }
            // The first min(items, results) items are pinned and added in
            // order (a slot twice in the batch: the second finds the first's
            // pin; without a table each fails after its range check), the
            // rest of the results untouched.
            Op::TablePrepareAddMany { ref items, results } => {
                let items = self.resolve_items(items);
                let mut out = vec![UNTOUCHED; results];
                for (&(s, v), o) in items.iter().zip(out.iter_mut()) {
                    *o = self.prepare_add(s, v);
                }
                Ok(Outcome::Many(out))
            }
        }
    }

    /// The statistics the model predicts (the list counts are not modelled
    /// and are copied from `actual`).
    pub fn stats(&self, actual: &SwapMapStats) -> SwapMapStats {
        let mut s = SwapMapStats {
            nr_slots: self.nr_slots,
            cluster_size: actual.cluster_size,
            free_slots: self.free_slots(),
            allocs: self.allocs,
            frees: self.frees,
            alloc_failures: actual.alloc_failures,
            free_clusters: actual.free_clusters,
            nonfull_clusters: actual.nonfull_clusters,
            frag_clusters: actual.frag_clusters,
            order_allocs: self.order_allocs,
            order_fallbacks: self.order_fallbacks,
            full_clusters: actual.full_clusters,
            percpu_clusters: actual.percpu_clusters,
            ..SwapMapStats::default()
        };
        for st in self.slots.values() {
            match *st {
                MSlot::Bad => s.bad_slots += 1,
                MSlot::Sync => {
                    s.inuse_slots += 1;
                    s.cached_slots += 1;
                    s.sync_slots += 1;
                }
                MSlot::Used { count, cache } => {
                    s.inuse_slots += 1;
                    s.cached_slots += u64::from(cache);
                    s.continued_slots += u64::from(count >= CONT_BASE);
                }
            }
        }
        s
    }
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// From [`Op::Alloc`].
    Alloc(Option<u64>),
    /// From [`Op::AllocOrder`].
    AllocOrder(Result<Option<u64>, SwapError>),
    /// From a range put: the number of slots freed.
    PutNr(Result<u32, SwapError>),
    /// From an operation that returns `()`.
    Unit(Result<(), SwapError>),
    /// From a put that may free the slot.
    Put(Result<Freed, SwapError>),
    /// From [`Op::HasCountOrdered`].
    Bool(Result<bool, SwapError>),
    /// From [`Op::TableGet`].
    Value(Result<Option<NonZeroU64>, SwapError>),
    /// The results slice of [`Op::TablePrepareAddMany`].
    Many(Vec<Result<(), SwapError>>),
}

/// A difference between the map and the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the operation in the sequence.
    pub step: usize,
    /// The operation.
    pub op: Op,
    /// What differed.
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({:?}): {}", self.step, self.op, self.what)
    }
}

impl std::error::Error for Mismatch {}

/// A [`SwapMap`] and a [`Model`] driven in lockstep. The map's free-notify
/// hook records every freed slot so that notifications are compared too.
#[derive(Debug)]
pub struct Harness {
    map: SwapMap,
    model: Model,
    notified: Arc<StdMutex<Vec<u64>>>,
    step: usize,
}

impl Harness {
    /// A map of `nr_slots` slots with clusters of `cluster_size` and a
    /// continuation limit of `cont_limit`, without a swap table, and its
    /// model.
    pub fn new(nr_slots: u64, cluster_size: u32, cont_limit: u32) -> Result<Harness, String> {
        Harness::with_table(nr_slots, cluster_size, cont_limit, false)
    }

    /// As [`Harness::new`], with a swap table when `swap_table` is set (the
    /// table operations are refused with [`SwapError::NoTable`] otherwise).
    pub fn with_table(
        nr_slots: u64,
        cluster_size: u32,
        cont_limit: u32,
        swap_table: bool,
    ) -> Result<Harness, String> {
        let notified = Arc::new(StdMutex::new(Vec::new()));
        let sink = Arc::clone(&notified);
        let map = SwapMap::builder(nr_slots)
            .cluster_size(cluster_size)
            .continuation_limit(cont_limit)
            .swap_table(swap_table)
            .free_notify(move |slot| sink.lock().unwrap_or_else(|e| e.into_inner()).push(slot))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Harness {
            map,
            model: Model::new(nr_slots, cont_limit)
                .swap_table(swap_table)
                .cluster_size(cluster_size),
            notified,
            step: 0,
        })
    }

    /// The map under test.
    pub fn map(&self) -> &SwapMap {
        &self.map
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Runs `op` on both and compares the result, the state and swap-table
    /// entry of every slot it targets, and the notifications.
    pub fn step(&mut self, op: &Op) -> Result<Outcome, Mismatch> {
        let step = self.step;
        self.step += 1;
        let err = |what: String| Mismatch {
            step,
            op: op.clone(),
            what,
        };
        let target = match *op {
            Op::Range { at, nr, align, .. } => Some(self.model.range_start(at, nr, align)),
            _ => op.target().map(|t| self.model.resolve(t)),
        };
        let slot = target.unwrap_or(0);
        let value = |v| self.model.value(slot, v);
        let m = &self.map;
        let mut batch = Vec::new();
        let got = match *op {
            Op::Alloc => Outcome::Alloc(m.alloc()),
            Op::AllocOrder(order) => Outcome::AllocOrder(m.alloc_order(order)),
            Op::Range { kind, nr, val, .. } => {
                let v = value(val);
                match kind {
                    RangeKind::Prepare => Outcome::Unit(m.swapcache_prepare_nr(slot, nr)),
                    RangeKind::PrepareSingle => {
                        Outcome::Unit(m.swapcache_prepare_single_nr(slot, nr))
                    }
                    RangeKind::SyncAcquire => Outcome::Unit(m.sync_acquire_nr(slot, nr)),
                    RangeKind::SyncRelease => Outcome::PutNr(m.sync_release_nr(slot, nr)),
                    RangeKind::SyncReleaseFree => Outcome::Unit(m.sync_release_free_nr(slot, nr)),
                    RangeKind::Clear => Outcome::PutNr(m.swapcache_clear_nr(slot, nr)),
                    RangeKind::Free => Outcome::PutNr(m.free_nr(slot, nr)),
                    RangeKind::FreeAndClear => Outcome::PutNr(m.free_and_clear_nr(slot, nr)),
                    RangeKind::Duplicate => Outcome::Unit(m.duplicate_nr(slot, nr)),
                    RangeKind::TableAdd => Outcome::Unit(m.table_add_nr(slot, nr, v)),
                    RangeKind::TableDel => Outcome::Unit(m.table_del_nr(slot, nr, v)),
                    RangeKind::TableDelFreeAndClear => {
                        Outcome::PutNr(m.table_del_free_and_clear_nr(slot, nr, v))
                    }
                }
            }
            Op::Duplicate(_) => Outcome::Unit(m.duplicate(slot)),
            Op::DuplicateMany(_, n) => {
                let mut last = Ok(());
                for _ in 0..n {
                    last = m.duplicate(slot);
                    if last.is_err() {
                        break;
                    }
                }
                Outcome::Unit(last)
            }
            Op::DuplicateIfSingle(_) => Outcome::Unit(m.duplicate_if_single(slot)),
            Op::Prepare(_) => Outcome::Unit(m.swapcache_prepare(slot)),
            Op::PrepareSingle(_) => Outcome::Unit(m.swapcache_prepare_single(slot)),
            Op::Clear(_) => Outcome::Put(m.swapcache_clear(slot)),
            Op::Free(_) => Outcome::Put(m.free(slot)),
            Op::FreeAndClear(_) => Outcome::Put(m.free_and_clear(slot)),
            Op::SyncAcquire(_) => Outcome::Unit(m.sync_acquire(slot)),
            Op::SyncRelease(_) => Outcome::Put(m.sync_release(slot)),
            Op::SyncReleaseFree(_) => Outcome::Unit(m.sync_release_free(slot)),
            Op::MarkBad(_) => Outcome::Unit(m.mark_bad(slot)),
            Op::HasCountOrdered(_) => Outcome::Bool(m.has_count_ordered(slot)),
            Op::TableGet(_) => Outcome::Value(m.table_get(slot)),
            Op::TableAdd(_, v) => Outcome::Unit(m.table_add(slot, value(v))),
            Op::TableDel(_, v) => Outcome::Unit(m.table_del(slot, value(v))),
            Op::TableDelFreeAndClear(_, v) => {
                Outcome::Put(m.table_del_free_and_clear(slot, value(v)))
            }
            Op::TablePrepareAddMany { ref items, results } => {
                batch = self.model.resolve_items(items);
                let mut res = vec![UNTOUCHED; results];
                m.table_prepare_add_many(&batch, &mut res);
                Outcome::Many(res)
            }
        };
        let alloc = match got {
            Outcome::Alloc(a) | Outcome::AllocOrder(Ok(a)) => a,
            _ => None,
        };
        // The slots an allocation or a range touches, beside the target.
        let span = match *op {
            Op::AllocOrder(order) if order < 64 => 1u64 << order,
            Op::Range { nr, .. } => u64::from(nr),
            _ => 1,
        };
        self.model.take_freed();
        let want = self.model.apply(slot, op, alloc).map_err(err)?;
        if got != want {
            return Err(err(format!("map returned {got:?}, model {want:?}")));
        }
        let touched = alloc
            .into_iter()
            .chain(target)
            .flat_map(|s| (s..s.saturating_add(span)).take(crate::SWAPFILE_CLUSTER as usize))
            .chain(batch.iter().map(|&(s, _)| s))
            .filter(|&s| s < self.model.nr_slots);
        for s in touched {
            let (a, b) = (self.map.state(s), self.model.state(s));
            if a != Ok(b) {
                return Err(err(format!("slot {s}: map {a:?}, model {b:?}")));
            }
            let (a, b) = (self.map.table_get(s), self.model.table_get(s));
            if a != b {
                return Err(err(format!("slot {s}: table map {a:?}, model {b:?}")));
            }
        }
        let notes: Vec<u64> =
            std::mem::take(&mut *self.notified.lock().unwrap_or_else(|e| e.into_inner()));
        let expect = self.model.take_freed();
        if notes != expect {
            return Err(err(format!("notified {notes:?}, expected {expect:?}")));
        }
        Ok(got)
    }

    /// Compares every slot, the swap table (every entry, one slot past the
    /// end, and the number of entries) and the statistics.
    pub fn check_all(&self) -> Result<(), String> {
        for s in 0..self.model.nr_slots {
            let (a, b) = (self.map.state(s), self.model.state(s));
            if a != Ok(b) {
                return Err(format!("slot {s}: map {a:?}, model {b:?}"));
            }
        }
        for s in 0..=self.model.nr_slots {
            let (a, b) = (self.map.table_get(s), self.model.table_get(s));
            if a != b {
                return Err(format!("slot {s}: table map {a:?}, model {b:?}"));
            }
        }
        let (a, b) = (self.map.table_len(), self.model.table_len());
        if a != b {
            return Err(format!("table_len: map {a}, model {b}"));
        }
        if self.map.has_table() != self.model.has_table() {
            return Err(format!("has_table: map {}", self.map.has_table()));
        }
        let used: Vec<(u64, SlotState)> = self.map.iter_used().collect();
        let want: Vec<(u64, SlotState)> = self
            .model
            .slots
            .keys()
            .map(|&s| (s, self.model.state(s)))
            .filter(|(_, st)| *st != SlotState::Bad)
            .collect();
        if used != want {
            return Err(format!("iter_used {used:?}, model {want:?}"));
        }
        let actual = self.map.stats();
        let want = self.model.stats(&actual);
        if actual != want {
            return Err(format!("stats {actual:?}, model {want:?}"));
        }
        let clusters = actual.free_clusters
            + actual.nonfull_clusters
            + actual.frag_clusters
            + actual.full_clusters
            + actual.percpu_clusters;
        if u64::from(clusters) != self.model.nr_slots.div_ceil(u64::from(actual.cluster_size)) {
            return Err(format!("{clusters} clusters accounted for"));
        }
        Ok(())
    }

    /// The statistics (every counter and cluster list count) and the number
    /// of swap-table entries: the part of [`Harness::check_all`] that sees a
    /// change to any slot, in O(clusters + slots) without allocating.
    pub fn check_counts(&self) -> Result<(), String> {
        let (a, b) = (self.map.table_len(), self.model.table_len());
        if a != b {
            return Err(format!("table_len: map {a}, model {b}"));
        }
        let actual = self.map.stats();
        let want = self.model.stats(&actual);
        if actual != want {
            return Err(format!("stats {actual:?}, model {want:?}"));
        }
        Ok(())
    }

    /// Runs a whole sequence, checking everything after every step.
    pub fn run(&mut self, ops: &[Op]) -> Result<(), Mismatch> {
        self.run_checking_all_every(ops, 1)
    }

    /// Runs a whole sequence: after every step what [`Harness::step`]
    /// compares (the result, every slot the operation touched, the
    /// notifications) and [`Harness::check_counts`]; after every `every`-th
    /// step and after the last one, [`Harness::check_all`] as well. A slot
    /// the operation did not touch but changed is seen at once when the
    /// change moves a count (free, in use, cached, sync, continued, bad,
    /// table entries), and otherwise (a count of 2 becoming 3) slot by slot
    /// within `every` steps, or sooner by the next operation that targets
    /// it, whose result then differs.
    pub fn run_checking_all_every(&mut self, ops: &[Op], every: usize) -> Result<(), Mismatch> {
        let every = every.max(1);
        for (i, op) in ops.iter().enumerate() {
            self.step(op)?;
            let full = (i + 1) % every == 0 || i + 1 == ops.len();
            let r = if full {
                self.check_all()
            } else {
                self.check_counts()
            };
            r.map_err(|what| Mismatch {
                step: self.step - 1,
                op: op.clone(),
                what,
            })?;
        }
        Ok(())
    }
}
