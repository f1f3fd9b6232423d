//! Fuzz-target logic, compiled with the `fuzzing` feature.
//!
//! The cargo-fuzz target `swapmap_ops` (in the workspace's `fuzz/`
//! directory) is a one-line call to [`swapmap_ops`]; the crate's
//! `tests/fuzz_replay.rs` calls the same function on every committed input
//! under `fuzz/corpus/swapmap_ops/` and `fuzz/regressions/swapmap_ops/`, so
//! stable `cargo test` replays what the fuzzer found.
//!
//! # Input format
//!
//! The bytes are decoded with [`arbitrary::Unstructured`]: first the map's
//! shape (2-40 slots, clusters of 2, 4, 8 or 512 slots, then one byte whose
//! value modulo 8 gives a continuation limit of 0-3 digits in its low two
//! bits and, in bit 2, whether the map has a swap table), then operations
//! until the bytes run out (at most [`MAX_OPS`]). Each operation is one
//! [`Op`] of the reference model, whose target is mostly [`Target::Used`]
//! (a live slot) and sometimes a [`Target::Raw`] slot number, in range,
//! just beyond it, or anywhere; swap-table operations then read a
//! [`Val`] (half the time the slot's current value, else one of 1-4), and a batch
//! ([`Op::TablePrepareAddMany`]) reads its length (0-[`MAX_BATCH`]), whether
//! it is a window of consecutive targets from the first (as readahead's) or
//! items decoded one by one, and the length of its results slice (one
//! short, exact, or one long).
//!
//! Kinds 48-63 are the large-folio operations ([`Op::AllocOrder`] and
//! [`Op::Range`]: the batched operations over `nr` slots), decoded by
//! `large` below; a kind byte below 48 decodes as before they were added
//! (taken modulo 64 where it was modulo 48).
//!
//! A kind byte below 32 and a limit byte below 4 decode as they did before
//! the swap-table operations were added (kinds 32-47, taken modulo 48 where
//! they were modulo 32), so the seeds of `fuzz/make-seeds.py` keep their
//! meaning and run without a table; inputs the fuzzer generated before may
//! decode differently. The `table-*` inputs in `fuzz/corpus/swapmap_ops/`
//! exercise the table: fuzzer finds, four of them minimised on a
//! deliberately broken table semantic that they catch, and one made by
//! hand (`table-readahead-window`).

use std::num::NonZeroU64;

use arbitrary::{Result, Unstructured};

use crate::reference::{Harness, Op, RangeKind, Target, Val};

/// The longest operation sequence one input decodes to.
pub const MAX_OPS: usize = 512;

/// How often the whole map is compared with the model (every slot, the
/// whole table, `iter_used`; [`Harness::check_all`]): every this many
/// operations and after the last. Every operation still compares its result,
/// the slots it touched, the notifications, the statistics and the table's
/// length ([`Harness::run_checking_all_every`]). Comparing everything after
/// every operation made the check most of the target's time.
pub const FULL_CHECK_EVERY: usize = 8;

/// The longest batch of [`Op::TablePrepareAddMany`] (the fault model's
/// readahead batch).
pub const MAX_BATCH: usize = 8;

/// Decodes `data` into a map shape and an operation sequence, runs them on a
/// [`SwapMap`](crate::SwapMap) and the sequential [`Model`] in lockstep
/// ([`Harness::run_checking_all_every`]: results, touched slots' states,
/// free notifications and statistics compared after every operation, every
/// slot, the table and iteration every [`FULL_CHECK_EVERY`] operations and
/// at the end).
///
/// [`Model`]: crate::reference::Model
///
/// # Panics
/// On any [`Mismatch`](crate::reference::Mismatch) between the map and the
/// model: that is the bug the fuzzer looks for.
pub fn swapmap_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((nr_slots, cluster_size, cont_limit, table)) = shape(&mut u) else {
        return;
    };
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        match op(&mut u, nr_slots) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    let mut h = match Harness::with_table(nr_slots, cluster_size, cont_limit, table) {
        Ok(h) => h,
        Err(e) => panic!("the decoder chose an invalid shape: {e}"),
    };
    if let Err(m) = h.run_checking_all_every(&ops, FULL_CHECK_EVERY) {
        panic!(
            "swapmap diverged from the reference model \
             (slots {nr_slots}, cluster {cluster_size}, continuation limit {cont_limit}, \
             swap table {table}): \
             {m}\nops: {ops:?}"
        );
    }
}

/// (slots, cluster size, continuation limit, swap table): tiny clusters and
/// limits so that list moves, exhaustion and count overflow all happen.
fn shape(u: &mut Unstructured<'_>) -> Result<(u64, u32, u32, bool)> {
    let nr_slots = u.int_in_range(2u64..=40)?;
    let cluster_size = *u.choose(&[2u32, 4, 8, 512])?;
    // One byte: limit in bits 0-1 (as when it was read alone as 0..=3),
    // the swap table in bit 2.
    let b = u.int_in_range(0u32..=7)?;
    Ok((nr_slots, cluster_size, b & 3, b & 4 != 0))
}

fn target(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<Target> {
    Ok(match u.int_in_range(0u8..=15)? {
        0..=11 => Target::Used(usize::from(u.arbitrary::<u8>()?)),
        12..=14 => Target::Raw(u.int_in_range(0..=nr_slots + 2)?),
        _ => Target::Raw(u.arbitrary()?),
    })
}

/// A small literal value, so that values collide across slots and a
/// literal delete sometimes matches.
fn lit(x: u8) -> Val {
    Val::Lit(NonZeroU64::MIN.saturating_add(u64::from(x)))
}

fn val(u: &mut Unstructured<'_>) -> Result<Val> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => Val::Current,
        x => lit(x - 4),
    })
}

/// The `i`-th target of a window starting at `t`.
fn nth_after(t: Target, i: usize) -> Target {
    match t {
        Target::Used(n) => Target::Used(n.wrapping_add(i)),
        Target::Raw(s) => Target::Raw(s.saturating_add(i as u64)),
        Target::Last => Target::Last,
    }
}

fn batch(u: &mut Unstructured<'_>, nr_slots: u64, first: Target) -> Result<Op> {
    let n = u.int_in_range(0..=MAX_BATCH)?;
    let items = if u.arbitrary::<bool>()? {
        // A readahead window: consecutive targets, distinct values.
        let v = u.arbitrary::<u8>()?;
        (0..n)
            .map(|i| (nth_after(first, i), lit(v.wrapping_add(i as u8))))
            .collect()
    } else {
        let mut items = vec![(first, val(u)?)];
        while items.len() < n {
            items.push((target(u, nr_slots)?, val(u)?));
        }
        items.truncate(n);
        items
    };
    let results = match u.int_in_range(0u8..=3)? {
        0 => n.saturating_sub(1),
        3 => n + 1,
        _ => n,
    };
    Ok(Op::TablePrepareAddMany { items, results })
}

/// The large-folio operations (kinds 48-63): allocations of an order, and
/// range operations mostly on the last allocation's run (so that a folio's
/// range is followed from its allocation through its swap-in) with `nr` a
/// power of two up to 16, sometimes 0 or 3.
fn large(u: &mut Unstructured<'_>, nr_slots: u64, kind: u8) -> Result<Op> {
    if kind < 51 {
        return Ok(Op::AllocOrder(u.int_in_range(0u32..=4)?));
    }
    let kind = *u.choose(&RangeKind::ALL)?;
    let at = if u.int_in_range(0u8..=3)? < 3 {
        Target::Last
    } else {
        target(u, nr_slots)?
    };
    let nr = match u.int_in_range(0u8..=7)? {
        0 => 0,
        1 => 3,
        n => 1 << (n - 2).min(4),
    };
    let align = u.int_in_range(0u8..=7)? != 0;
    let val = val(u)?;
    Ok(Op::Range {
        kind,
        at,
        nr,
        align,
        val,
    })
}

fn op(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<Op> {
    // Weights as in the property test: allocations and frees dominate.
    // Kinds 0-31 decode as before the swap-table operations (32-47), and
    // 0-47 as before the large-folio operations (48-63).
    let kind = u.int_in_range(0u8..=63)?;
    if kind >= 48 {
        return large(u, nr_slots, kind);
    }
    let t = target(u, nr_slots)?;
    Ok(match kind {
        0..=5 => Op::Alloc,
        6..=9 => Op::Duplicate(t),
        10 => Op::DuplicateMany(t, u.int_in_range(1u16..=300)?),
        11 => Op::DuplicateIfSingle(t),
        12..=14 => Op::Prepare(t),
        15..=18 => Op::Clear(t),
        19..=24 => Op::Free(t),
        25..=26 => Op::SyncAcquire(t),
        27..=28 => Op::SyncRelease(t),
        29 => Op::SyncReleaseFree(t),
        30 => Op::MarkBad(t),
        31 => Op::FreeAndClear(t),
        32..=33 => Op::PrepareSingle(t),
        34 => Op::HasCountOrdered(t),
        35 => Op::TableGet(t),
        36..=39 => Op::TableAdd(t, val(u)?),
        40..=41 => Op::TableDel(t, val(u)?),
        42..=43 => Op::TableDelFreeAndClear(t, val(u)?),
        _ => batch(u, nr_slots, t)?,
    })
}
