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
//! shape (2-40 slots, clusters of 2, 4, 8 or 512 slots, a continuation
//! limit of 0-3 digits), then operations until the bytes run out (at most
//! [`MAX_OPS`]). Each operation is one [`Op`] of the reference model, whose
//! target is mostly [`Target::Used`] (a live slot) and sometimes a
//! [`Target::Raw`] slot number, in range, just beyond it, or anywhere.

use arbitrary::{Result, Unstructured};

use crate::reference::{Harness, Op, Target};

/// The longest operation sequence one input decodes to.
pub const MAX_OPS: usize = 512;

/// Decodes `data` into a map shape and an operation sequence, runs them on a
/// [`SwapMap`](crate::SwapMap) and the sequential [`Model`] in lockstep
/// ([`Harness::run`]: results, slot states, free notifications, iteration
/// and statistics compared after every operation).
///
/// [`Model`]: crate::reference::Model
///
/// # Panics
/// On any [`Mismatch`](crate::reference::Mismatch) between the map and the
/// model: that is the bug the fuzzer looks for.
pub fn swapmap_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((nr_slots, cluster_size, cont_limit)) = shape(&mut u) else {
        return;
    };
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        match op(&mut u, nr_slots) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    let mut h = match Harness::new(nr_slots, cluster_size, cont_limit) {
        Ok(h) => h,
        Err(e) => panic!("the decoder chose an invalid shape: {e}"),
    };
    if let Err(m) = h.run(&ops) {
        panic!(
            "swapmap diverged from the reference model \
             (slots {nr_slots}, cluster {cluster_size}, continuation limit {cont_limit}): \
             {m}\nops: {ops:?}"
        );
    }
}

/// (slots, cluster size, continuation limit): tiny clusters and limits so
/// that list moves, exhaustion and count overflow all happen.
fn shape(u: &mut Unstructured<'_>) -> Result<(u64, u32, u32)> {
    let nr_slots = u.int_in_range(2u64..=40)?;
    let cluster_size = *u.choose(&[2u32, 4, 8, 512])?;
    let cont_limit = u.int_in_range(0u32..=3)?;
    Ok((nr_slots, cluster_size, cont_limit))
}

fn target(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<Target> {
    Ok(match u.int_in_range(0u8..=15)? {
        0..=11 => Target::Used(usize::from(u.arbitrary::<u8>()?)),
        12..=14 => Target::Raw(u.int_in_range(0..=nr_slots + 2)?),
        _ => Target::Raw(u.arbitrary()?),
    })
}

fn op(u: &mut Unstructured<'_>, nr_slots: u64) -> Result<Op> {
    // Weights as in the property test: allocations and frees dominate.
    let kind = u.int_in_range(0u8..=31)?;
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
        _ => Op::FreeAndClear(t),
    })
}
