//! Fuzz-target logic, compiled with the `fuzzing` feature.
//!
//! The cargo-fuzz targets `xarray_ops` (the raw tree) and `swapcache_ops`
//! (the swap cache on it), in the workspace's `fuzz/` directory, are
//! one-line calls to [`xarray_ops`] and [`swapcache_ops`]; the crate's
//! `tests/fuzz_replay.rs` calls the same functions on every committed input
//! under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`, so
//! stable `cargo test` replays what the fuzzer found.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::{Result, Unstructured};
use crossbeam_epoch::Collector;

use crate::{
    AddError, ArcRef, BadRange, DeleteError, Entry, FANOUT, InsertRangeError, Item,
    MAX_FOLIO_ORDER, MAX_RANGE_ORDER, RemoveRangeError, SWAP_ADDRESS_SPACE_PAGES,
    SWAP_ADDRESS_SPACE_SHIFT, SwapCache, SwapCacheStats, ValueEntry, XArray,
};

/// The longest operation sequence one input decodes to.
pub const MAX_OPS: usize = 256;

/// The `T` the fuzzed tree holds: a serial number unique to each pointer
/// entry ever stored, and a shared count of drops, so that leaks and double
/// frees show up as a wrong count (and under AddressSanitizer).
#[derive(Debug)]
struct Tracked {
    serial: u64,
    drops: Arc<AtomicU64>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the model holds at an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum M {
    /// A pointer entry, by serial.
    Ptr(u64),
    /// A value entry.
    Value(u64),
}

fn m_of(e: Entry<'_, Arc<Tracked>>) -> M {
    match e {
        Entry::Ptr(t) => M::Ptr(t.serial),
        Entry::Value(v) => M::Value(v.get()),
    }
}

/// The item an operation stores: a new pointer or a value.
#[derive(Clone, Copy, Debug)]
enum NewItem {
    Ptr,
    Value(ValueEntry),
}

/// A predicate for [`XArray::remove_if`].
#[derive(Clone, Copy, Debug)]
enum Pred {
    Always,
    Never,
    IsValue,
    IsPtr,
    /// Serial or value is even.
    Even,
}

impl Pred {
    fn eval(self, m: M) -> bool {
        match (self, m) {
            (Pred::Always, _) => true,
            (Pred::Never, _) => false,
            (Pred::IsValue, m) => matches!(m, M::Value(_)),
            (Pred::IsPtr, m) => matches!(m, M::Ptr(_)),
            (Pred::Even, M::Ptr(x) | M::Value(x)) => x % 2 == 0,
        }
    }
}

/// The expected entry of [`XArray::compare_remove`].
#[derive(Clone, Copy, Debug)]
enum Expected {
    /// The entry loaded from this index now (skipped if it is empty).
    LoadedFrom(u64),
    /// A pointer to a `T` that is not in the tree, with the serial of the
    /// entry at the target index if it is a pointer: equal contents, other
    /// identity, so it must never match.
    Fresh,
    /// A value entry.
    Value(ValueEntry),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Load(u64),
    Insert(u64, NewItem),
    Store(u64, NewItem),
    Remove(u64),
    RemoveIf(u64, Pred),
    CompareRemove(u64, Expected),
    Range(Bound<u64>, Bound<u64>),
    /// Loads an entry under the long-lived reader guard (if the input has
    /// one) and keeps the reference until the end.
    Hold(u64),
    /// Flushes the writer's garbage towards reclamation.
    Flush,
    /// `ValueEntry::new` on a raw `u64`: refused exactly above `MAX`.
    MakeValue(u64),
    /// `insert_range(start, order, new pointer)` (multi-index format only).
    InsertRange(u64, u32),
    /// `remove_range(start, order, expected)` (multi-index format only).
    RemoveRange(u64, u32, Expected),
}

/// Every reference taken under a guard still names what it named then
/// (`ArcRef`s must not see their target replaced or freed under them).
fn check_held(held: &[(u64, ArcRef<'_, Tracked>)], what: &str) {
    for (serial, t) in held {
        assert_eq!(
            t.serial, *serial,
            "a held {what} changed under a pinned guard"
        );
    }
}

/// The first two bytes of an input in the multi-index format, which adds
/// the range operations (`insert_range`, `remove_range`). Inputs without
/// it decode as before the range operations existed, so that every
/// committed seed keeps its meaning (none starts with these bytes).
pub const MULTI_INDEX_MAGIC: &[u8; 2] = b"MI";

/// Decodes `data` into an operation sequence and runs it on an
/// [`XArray`] and on a `BTreeMap` model: load, insert, store, remove,
/// `remove_if` with assorted predicates, `compare_remove` against entries
/// loaded from the tree (identity), look-alike pointers and values, ranges
/// with every kind of bound, pointer and value entries, and indices from
/// small to sparse and huge (so that the tree grows and shrinks through
/// every height). After every operation `len`, `ptr_count`, `value_count`,
/// `is_empty` and a `load` of each index it wrote (and of the indices on
/// either side) must match the model, and every [`FULL_CHECK_EVERY`]
/// operations and after the last a full iteration. Some inputs keep a
/// reader guard pinned throughout and hold references loaded under it,
/// which must still read their original entries at the end. Finally every
/// `T` stored must have been dropped exactly once.
///
/// # Panics
/// On any divergence: that is the bug the fuzzer looks for.
pub fn xarray_ops(data: &[u8]) {
    let (ranges, data) = match data.strip_prefix(MULTI_INDEX_MAGIC) {
        Some(rest) => (true, rest),
        None => (false, data),
    };
    let mut u = Unstructured::new(data);
    let hold = u.arbitrary::<u8>().is_ok_and(|b| b % 4 == 0);
    let drops = Arc::new(AtomicU64::new(0));
    let mut created = 0u64;
    {
        // Declared so that they drop in reverse: the tree, then the
        // handles, then the collector (which must outlive its handles).
        let collector = Collector::new();
        let writer = collector.register();
        let reader_handle = collector.register();
        let xa: XArray<Arc<Tracked>> = XArray::with_collector(collector.clone());
        let reader = hold.then(|| reader_handle.pin());
        let mut held: Vec<(u64, ArcRef<'_, Tracked>)> = Vec::new();
        let side: XArray<Arc<Tracked>> = XArray::with_collector(collector.clone());
        let mut model: BTreeMap<u64, M> = BTreeMap::new();
        let mut next_serial = 0u64;
        let mut step = 0;
        while !u.is_empty() && step < MAX_OPS {
            let Ok(op) = xa_op(&mut u, &model, ranges) else {
                break;
            };
            let at = |what: String| format!("step {step} ({op:?}): {what}");
            let mut make = |item: NewItem| match item {
                NewItem::Ptr => {
                    next_serial += 1;
                    created += 1;
                    (
                        Item::Ptr(Arc::new(Tracked {
                            serial: next_serial,
                            drops: Arc::clone(&drops),
                        })),
                        M::Ptr(next_serial),
                    )
                }
                NewItem::Value(v) => (Item::Value(v), M::Value(v.get())),
            };
            let g = writer.pin();
            match op {
                Op::Load(i) => {
                    let got = xa.load(i, &g).map(m_of);
                    assert_eq!(got, model.get(&i).copied(), "{}", at("load".into()));
                }
                Op::Insert(i, item) => {
                    let (item, m) = make(item);
                    match (xa.insert(i, item, &g), model.get(&i)) {
                        (Ok(()), None) => {
                            model.insert(i, m);
                        }
                        (Err(e), Some(_)) => {
                            assert_eq!(e.index, i, "{}", at("insert error index".into()));
                            let back = match e.into_item() {
                                Item::Ptr(t) => M::Ptr(t.serial),
                                Item::Value(v) => M::Value(v.get()),
                            };
                            assert_eq!(back, m, "{}", at("insert handed back".into()));
                        }
                        (r, cur) => panic!("{}", at(format!("insert {r:?}, model {cur:?}"))),
                    }
                }
                Op::Store(i, item) => {
                    let (item, m) = make(item);
                    let old = xa.store(i, item, &g).map(m_of);
                    assert_eq!(old, model.insert(i, m), "{}", at("store old".into()));
                }
                Op::Remove(i) => {
                    let old = xa.remove(i, &g).map(m_of);
                    assert_eq!(old, model.remove(&i), "{}", at("remove".into()));
                }
                Op::RemoveIf(i, pred) => {
                    let calls = Cell::new(0);
                    let got = xa.remove_if(i, &g, |e| {
                        calls.set(calls.get() + 1);
                        pred.eval(m_of(e))
                    });
                    let cur = model.get(&i).copied();
                    assert_eq!(
                        calls.get(),
                        u32::from(cur.is_some()),
                        "{}",
                        at("predicate calls".into())
                    );
                    match (got, cur) {
                        (Ok(e), Some(c)) if pred.eval(c) => {
                            assert_eq!(m_of(e), c, "{}", at("removed entry".into()));
                            model.remove(&i);
                        }
                        (Err(e), c) if !c.is_some_and(|c| pred.eval(c)) => {
                            assert_eq!(e.index, i, "{}", at("error index".into()));
                            assert_eq!(e.current.map(m_of), c, "{}", at("current".into()));
                        }
                        (r, c) => panic!("{}", at(format!("{r:?}, model {c:?}"))),
                    }
                }
                Op::CompareRemove(i, expected) => 'op: {
                    let cur = model.get(&i).copied();
                    let fresh;
                    let (exp, matches) = match expected {
                        Expected::LoadedFrom(j) => {
                            let Some(e) = xa.load(j, &g) else {
                                assert!(!model.contains_key(&j), "{}", at("load".into()));
                                break 'op;
                            };
                            (e, cur == Some(m_of(e)))
                        }
                        Expected::Fresh => {
                            fresh = fresh_entry(&side, &g, cur);
                            (fresh, false)
                        }
                        Expected::Value(v) => (Entry::Value(v), cur == Some(M::Value(v.get()))),
                    };
                    match xa.compare_remove(i, exp, &g) {
                        Ok(e) if matches => {
                            assert_eq!(Some(m_of(e)), cur, "{}", at("removed".into()));
                            model.remove(&i);
                        }
                        Err(e) if !matches => {
                            assert_eq!(e.index, i, "{}", at("error index".into()));
                            assert_eq!(e.current.map(m_of), cur, "{}", at("current".into()));
                        }
                        r => panic!("{}", at(format!("{r:?}, model {cur:?}"))),
                    }
                }
                Op::Range(lo, hi) => {
                    let got: Vec<(u64, M)> =
                        xa.range((lo, hi), &g).map(|(i, e)| (i, m_of(e))).collect();
                    let want: Vec<(u64, M)> = if range_is_empty(lo, hi) {
                        Vec::new()
                    } else {
                        model.range((lo, hi)).map(|(&i, &m)| (i, m)).collect()
                    };
                    assert_eq!(got, want, "{}", at("range".into()));
                }
                Op::Hold(i) => {
                    if let Some(r) = &reader
                        && let Some(Entry::Ptr(t)) = xa.load(i, r)
                    {
                        held.push((t.serial, t));
                    }
                }
                Op::Flush => g.flush(),
                Op::InsertRange(start, order) => {
                    next_serial += 1;
                    created += 1;
                    let t = Arc::new(Tracked {
                        serial: next_serial,
                        drops: Arc::clone(&drops),
                    });
                    let res = xa.insert_range(start, order, t, &g);
                    let nr = 1u64 << order;
                    let aligned = order <= MAX_RANGE_ORDER && start % nr == 0;
                    let last = start.wrapping_add(nr - 1);
                    match res {
                        Err(InsertRangeError::Bad { .. }) => {
                            assert!(!aligned, "{}", at("well-formed range refused".into()));
                        }
                        Err(InsertRangeError::Occupied { index, item }) => {
                            let first = model.range(start..=last).next().map(|(&i, _)| i);
                            assert!(
                                aligned && first == Some(index),
                                "{}",
                                at(format!("occupied {index}, model {first:?}"))
                            );
                            assert_eq!(item.serial, next_serial, "{}", at("handed back".into()));
                        }
                        Ok(()) => {
                            assert!(aligned, "{}", at("malformed range stored".into()));
                            assert!(
                                model.range(start..=last).next().is_none(),
                                "{}",
                                at("range stored over entries".into())
                            );
                            for i in start..=last {
                                model.insert(i, M::Ptr(next_serial));
                            }
                        }
                    }
                }
                Op::RemoveRange(start, order, expected) => 'op: {
                    let nr = 1u64 << order;
                    let aligned = order <= MAX_RANGE_ORDER && start % nr == 0;
                    let last = start.wrapping_add(nr - 1);
                    let fresh;
                    let exp = match expected {
                        Expected::LoadedFrom(j) => match xa.load(j, &g) {
                            Some(e) => e,
                            None => break 'op,
                        },
                        Expected::Fresh => {
                            fresh = fresh_entry(&side, &g, model.get(&start).copied());
                            fresh
                        }
                        Expected::Value(v) => Entry::Value(v),
                    };
                    let want = m_of(exp);
                    let res = xa.remove_range(start, order, exp, &g);
                    if !aligned {
                        assert!(
                            matches!(res, Err(RemoveRangeError::Bad(_))),
                            "{}",
                            at("malformed range".into())
                        );
                        break 'op;
                    }
                    // A fresh pointer or a value never matches a range.
                    let matchable =
                        matches!(expected, Expected::LoadedFrom(_)) && matches!(want, M::Ptr(_));
                    let bad = (start..=last).find(|i| !matchable || model.get(i) != Some(&want));
                    match (res, bad) {
                        (Ok(e), None) => {
                            assert_eq!(m_of(e), want, "{}", at("removed".into()));
                            for i in start..=last {
                                model.remove(&i);
                            }
                        }
                        (Err(RemoveRangeError::Mismatch { index, current }), Some(b)) => {
                            assert_eq!(index, b, "{}", at("mismatch index".into()));
                            assert_eq!(
                                current.map(m_of),
                                model.get(&b).copied(),
                                "{}",
                                at("current".into())
                            );
                        }
                        (r, b) => panic!(
                            "{}",
                            at(format!("{:?}, model first mismatch {b:?}", r.map(m_of)))
                        ),
                    }
                }
                Op::MakeValue(v) => {
                    let made = ValueEntry::new(v);
                    assert_eq!(
                        made.is_ok(),
                        v <= ValueEntry::MAX,
                        "{}",
                        at("ValueEntry".into())
                    );
                    if let Ok(e) = made {
                        assert_eq!(e.get(), v, "{}", at("ValueEntry".into()));
                    }
                }
            }
            drop(g);
            // The step is formatted only if the check fails. Every step
            // compares the counts and the indices the operation wrote (and
            // their neighbours); every FULL_CHECK_EVERY steps and after the
            // last the whole tree is iterated against the model.
            let g = writer.pin();
            if (step + 1) % FULL_CHECK_EVERY == 0 || u.is_empty() || step + 1 == MAX_OPS {
                check(&xa, &g, &model, &|| at(String::new()));
            } else {
                check_near(&xa, &g, &model, written(op), &|| at(String::new()));
            }
            drop(g);
            step += 1;
        }
        // An input that stopped at a decoding error ends unchecked above.
        check(&xa, &writer.pin(), &model, &|| format!("after step {step}"));
        check_held(&held, "entry");
        drop(held);
        drop(reader);
        assert!(
            drops.load(Ordering::Relaxed) <= created,
            "more drops than entries"
        );
    }
    assert_eq!(
        drops.load(Ordering::Relaxed),
        created,
        "entries leaked or dropped twice once the tree and collector are gone"
    );
}

/// `BTreeMap::range` panics on a start after the end (or equal and both
/// excluded); the tree yields nothing.
fn range_is_empty(lo: Bound<u64>, hi: Bound<u64>) -> bool {
    use Bound::*;
    match (lo, hi) {
        (Included(a), Included(b)) => a > b,
        (Included(a), Excluded(b)) | (Excluded(a), Included(b)) => a >= b,
        (Excluded(a), Excluded(b)) => a >= b,
        _ => false,
    }
}

/// How often [`xarray_ops`] iterates the whole tree against the model:
/// every this many operations and after the last. Every operation still
/// compares the counts and, by `load`, each index it wrote and the indices
/// next to them. A full iteration after every operation cost O(entries x
/// height) per step, most of the target's time on inputs with ranges.
pub const FULL_CHECK_EVERY: usize = 8;

/// The indices `op` may have written: `(first, last)`, inclusive.
fn written(op: Op) -> Option<(u64, u64)> {
    match op {
        Op::Insert(i, _)
        | Op::Store(i, _)
        | Op::Remove(i)
        | Op::RemoveIf(i, _)
        | Op::CompareRemove(i, _) => Some((i, i)),
        Op::InsertRange(start, order) | Op::RemoveRange(start, order, _) => {
            let nr = 1u64 << order.min(MAX_RANGE_ORDER + 1);
            Some((start, start.saturating_add(nr - 1)))
        }
        Op::Load(_) | Op::Range(..) | Op::Hold(_) | Op::Flush | Op::MakeValue(_) => None,
    }
}

/// The counts, and a `load` of every index of `near` and the one on each
/// side, against the model.
fn check_near(
    xa: &XArray<Arc<Tracked>>,
    g: &crossbeam_epoch::Guard,
    model: &BTreeMap<u64, M>,
    near: Option<(u64, u64)>,
    at: &dyn Fn() -> String,
) {
    check_counts(xa, model, at);
    if let Some((first, last)) = near {
        for i in first.saturating_sub(1)..=last.saturating_add(1) {
            let got = xa.load(i, g).map(m_of);
            assert_eq!(got, model.get(&i).copied(), "{}: load {i}", at());
        }
    }
}

fn check_counts(xa: &XArray<Arc<Tracked>>, model: &BTreeMap<u64, M>, at: &dyn Fn() -> String) {
    let values = model.values().filter(|m| matches!(m, M::Value(_))).count();
    assert_eq!(xa.len(), model.len(), "{}: len", at());
    assert_eq!(xa.value_count(), values, "{}: value_count", at());
    assert_eq!(xa.ptr_count(), model.len() - values, "{}: ptr_count", at());
    assert_eq!(xa.is_empty(), model.is_empty(), "{}: is_empty", at());
}

fn check(
    xa: &XArray<Arc<Tracked>>,
    g: &crossbeam_epoch::Guard,
    model: &BTreeMap<u64, M>,
    at: &dyn Fn() -> String,
) {
    check_counts(xa, model, at);
    let got: Vec<(u64, M)> = xa.iter(g).map(|(i, e)| (i, m_of(e))).collect();
    let want: Vec<(u64, M)> = model.iter().map(|(&i, &m)| (i, m)).collect();
    assert_eq!(got, want, "{}: iteration", at());
}

/// An index: small, a live one, one near a live one, one at a boundary of
/// some tree height (`FANOUT^k` plus or minus a little), near `u64::MAX`,
/// or anything.
fn index(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>) -> Result<u64> {
    let live = |u: &mut Unstructured<'_>| -> Result<u64> {
        Ok(if model.is_empty() {
            0
        } else {
            let n = usize::from(u.arbitrary::<u8>()?) % model.len();
            *model.keys().nth(n).unwrap_or(&0)
        })
    };
    Ok(match u.int_in_range(0u8..=11)? {
        0..=2 => u.int_in_range(0u64..=130)?,
        3..=4 => live(u)?,
        5..=6 => live(u)?
            .wrapping_add(u.int_in_range(0u64..=4)?)
            .wrapping_sub(2),
        7..=8 => {
            let k = u.int_in_range(1u32..=10)?;
            (FANOUT as u64)
                .pow(k)
                .wrapping_add(u.int_in_range(0u64..=4)?)
                .wrapping_sub(2)
        }
        9 => u64::MAX - u.int_in_range(0u64..=3)?,
        _ => u.arbitrary()?,
    })
}

fn value(u: &mut Unstructured<'_>) -> Result<ValueEntry> {
    let v = match u.int_in_range(0u8..=3)? {
        0 => u64::from(u.arbitrary::<u8>()?),
        1 => ValueEntry::MAX - u64::from(u.int_in_range(0u8..=1)?),
        _ => u.arbitrary::<u64>()? & ValueEntry::MAX,
    };
    Ok(ValueEntry::new(v).unwrap_or_else(|e| panic!("{v} <= MAX was refused: {e}")))
}

fn new_item(u: &mut Unstructured<'_>) -> Result<NewItem> {
    Ok(if u.ratio(2u8, 3)? {
        NewItem::Ptr
    } else {
        NewItem::Value(value(u)?)
    })
}

fn bound(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>) -> Result<Bound<u64>> {
    Ok(match u.int_in_range(0u8..=4)? {
        0..=1 => Bound::Included(index(u, model)?),
        2..=3 => Bound::Excluded(index(u, model)?),
        _ => Bound::Unbounded,
    })
}

/// A pointer entry that is not in `xa`: an `ArcRef` out of the side tree,
/// with the serial of `cur` if that is a pointer (equal contents, another
/// identity, so it never matches).
fn fresh_entry<'g>(
    side: &'g XArray<Arc<Tracked>>,
    g: &'g crossbeam_epoch::Guard,
    cur: Option<M>,
) -> Entry<'g, Arc<Tracked>> {
    let serial = match cur {
        Some(M::Ptr(s)) => s,
        _ => 0,
    };
    let t = Arc::new(Tracked {
        serial,
        drops: Arc::new(AtomicU64::new(0)),
    });
    let index = side.len() as u64;
    side.insert(index, t, g).expect("side tree index is free");
    side.load(index, g).expect("just inserted")
}

/// A range start: an index rounded down to a multiple of `2^order` most of
/// the time (so that ranges are well formed), or as it is.
fn range_start(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>, order: u32) -> Result<u64> {
    let i = index(u, model)?;
    Ok(if u.ratio(7u8, 8)? {
        i & !((1u64 << order) - 1)
    } else {
        i
    })
}

fn xa_op(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>, ranges: bool) -> Result<Op> {
    if ranges && u.ratio(1u8, 4)? {
        let order = u.int_in_range(0u32..=MAX_RANGE_ORDER + 1)?;
        let start = range_start(u, model, order)?;
        return Ok(if u.ratio(1u8, 2)? {
            Op::InsertRange(start, order)
        } else {
            let expected = match u.int_in_range(0u8..=3)? {
                0..=1 => Expected::LoadedFrom(start),
                2 => Expected::Fresh,
                _ => Expected::Value(value(u)?),
            };
            Op::RemoveRange(start, order, expected)
        });
    }
    Ok(match u.int_in_range(0u8..=20)? {
        0..=2 => Op::Load(index(u, model)?),
        3..=5 => Op::Insert(index(u, model)?, new_item(u)?),
        6..=8 => Op::Store(index(u, model)?, new_item(u)?),
        9..=11 => Op::Remove(index(u, model)?),
        12..=13 => {
            let i = index(u, model)?;
            let pred = *u.choose(&[
                Pred::Always,
                Pred::Never,
                Pred::IsValue,
                Pred::IsPtr,
                Pred::Even,
            ])?;
            Op::RemoveIf(i, pred)
        }
        14..=15 => {
            let i = index(u, model)?;
            let expected = match u.int_in_range(0u8..=3)? {
                0..=1 => Expected::LoadedFrom(if u.ratio(3u8, 4)? {
                    i
                } else {
                    index(u, model)?
                }),
                2 => Expected::Fresh,
                _ => Expected::Value(value(u)?),
            };
            Op::CompareRemove(i, expected)
        }
        16..=17 => Op::Range(bound(u, model)?, bound(u, model)?),
        18 => Op::Hold(index(u, model)?),
        19 => Op::Flush,
        _ => Op::MakeValue(u.arbitrary()?),
    })
}

// ------------------------------------------------------------ swapcache_ops

/// The device sizes [`swapcache_ops`] picks from (`nr_slots`), by the
/// input's first byte: none and one slot; one leaf (64); a tree of height 2
/// exactly (4096) and just past it (4096 + 7, height 3); one address space
/// ([`SWAP_ADDRESS_SPACE_PAGES`]) plus one slot, so that a second tree
/// exists; three address spaces and a bit; 16 address spaces (2^18 slots).
pub const SWAPCACHE_NR_SLOTS: [u64; 8] = [
    0,
    1,
    64,
    4096,
    4096 + 7,
    SWAP_ADDRESS_SPACE_PAGES + 1,
    3 * SWAP_ADDRESS_SPACE_PAGES + 100,
    1 << 18,
];

/// Where the folio of a single-slot [`SwapCache::add`] comes from.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// A new folio (a new serial).
    New,
    /// Another reference to the folio cached at this offset, if there is one
    /// (a new folio otherwise): the same allocation at a second slot.
    CloneOf(u64),
}

/// The folio reference a [`SwapCache::delete`] or
/// [`SwapCache::delete_range`] is given.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// The folio `get` returns at this offset now (the operation is skipped
    /// if there is none).
    LoadedFrom(u64),
    /// A look-alike: another allocation with the serial of the folio at the
    /// target offset (if any), which must never match (identity, not
    /// contents).
    Fresh,
}

/// The identity test of a [`SwapCache::delete_if`].
#[derive(Clone, Copy, Debug)]
enum Is {
    /// The serial the model has at the target offset.
    Model,
    /// The serial the model has at this offset.
    IdAt(u64),
    Always,
    Never,
}

#[derive(Clone, Copy, Debug)]
enum ScOp {
    Add(u64, Src),
    AddUnchecked(u64),
    Get(u64),
    GetCloned(u64),
    GetEntry(u64),
    GetShadow(u64),
    Delete(u64, Want, Option<ValueEntry>),
    DeleteIf(u64, Is, Option<ValueEntry>),
    /// `add_range(offset, nr, new folio)`.
    AddRange(u64, u64),
    DeleteRange(u64, u64, Want, Option<ValueEntry>),
    ClearShadow(u64),
    /// A lookup under the long-lived reader guard (if the input has one),
    /// whose reference is kept until the end.
    Hold(u64),
    /// Flushes the writer's garbage towards reclamation.
    Flush,
}

/// The sequential reference of [`swapcache_ops`]: what each slot holds, the
/// address spaces that must exist, and the counters [`SwapCache::stats`]
/// must report.
#[derive(Default)]
struct ScModel {
    slots: BTreeMap<u64, M>,
    ptrs: usize,
    values: usize,
    spaces: std::collections::BTreeSet<u64>,
    adds: usize,
    add_exists: usize,
    deletes: usize,
}

impl ScModel {
    fn get(&self, offset: u64) -> Option<M> {
        self.slots.get(&offset).copied()
    }

    fn ptr_at(&self, offset: u64) -> Option<u64> {
        match self.get(offset) {
            Some(M::Ptr(s)) => Some(s),
            _ => None,
        }
    }

    /// Sets (or with `None` clears) a slot, keeping the counts.
    fn set(&mut self, offset: u64, m: Option<M>) {
        let old = match m {
            Some(m) => self.slots.insert(offset, m),
            None => self.slots.remove(&offset),
        };
        for (entry, delta) in [(old, -1isize), (m, 1)] {
            match entry {
                Some(M::Ptr(_)) => self.ptrs = self.ptrs.wrapping_add_signed(delta),
                Some(M::Value(_)) => self.values = self.values.wrapping_add_signed(delta),
                None => {}
            }
        }
    }

    fn stats(&self) -> SwapCacheStats {
        SwapCacheStats {
            folios: self.ptrs,
            shadows: self.values,
            address_spaces: self.spaces.len(),
            adds: self.adds,
            add_exists: self.add_exists,
            deletes: self.deletes,
        }
    }
}

/// What `add_range` and `delete_range` must refuse a range for, in the
/// documented order of the checks (or `None` for a well-formed range).
fn sc_bad_range(offset: u64, nr: u64, nr_slots: u64) -> Option<BadRange> {
    if nr == 0 {
        Some(BadRange::Empty)
    } else if !nr.is_power_of_two() {
        Some(BadRange::NotPowerOfTwo { nr })
    } else if nr.trailing_zeros() > MAX_FOLIO_ORDER {
        Some(BadRange::OrderTooLarge {
            order: nr.trailing_zeros(),
            max: MAX_FOLIO_ORDER,
        })
    } else if !offset.is_multiple_of(nr) {
        Some(BadRange::Unaligned { start: offset, nr })
    } else if offset.checked_add(nr).is_none_or(|end| end > nr_slots) {
        Some(BadRange::BeyondEnd {
            start: offset,
            nr,
            end: nr_slots,
        })
    } else {
        None
    }
}

/// Decodes `data` into a device size ([`SWAPCACHE_NR_SLOTS`]) and an
/// operation sequence, and runs it on a [`SwapCache`] of
/// `Arc`-shared folios (each a unique serial) and on a sequential model
/// (a `BTreeMap` of slot to folio serial or shadow):
///
/// - `add` (`add_to_swap_cache`) of a new folio or of another reference to
///   a cached one, and the legacy `add_unchecked` (seed 002's unlocked
///   check), which must return exactly the folio it displaced;
/// - `get` (`swap_cache_get_folio`), `get_cloned`, `get_entry`
///   (`filemap_get_entry`), `get_shadow` (`get_shadow_from_swap_cache`);
/// - `delete` (`__delete_from_swap_cache`) with the cached folio, another
///   one or a look-alike (equal serial, other allocation: must not match),
///   and `delete_if` with assorted identity tests, each with or without a
///   shadow left behind;
/// - `add_range` / `delete_range` of large folios (`nr` of 1 to 512 pages,
///   0 and non-powers of two; aligned, unaligned, crossing the device's
///   end), which must be all or nothing and name the first offending slot;
/// - `clear_shadow` (`clear_shadow_from_swap_cache`).
///
/// Offsets are small, live, next to live ones, at node (`64^k`), address
/// space ([`SWAP_ADDRESS_SPACE_PAGES`]) and device boundaries, or anywhere.
/// Every result (and every error variant, with the folio a failed add hands
/// back, untouched and not retained) must be the one the model predicts;
/// after every operation `stats()` and `nr_folios()` must match the model
/// and every lookup of the slots it wrote (and their neighbours) too;
/// every [`FULL_CHECK_EVERY`] operations and after the last, every slot the
/// model holds and each one next to them. References held under a pinned
/// reader guard must still read their folio at the end, and every folio
/// must have been dropped exactly once when the cache and its collector are
/// gone.
///
/// # Panics
/// On any divergence: that is the bug the fuzzer looks for.
pub fn swapcache_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(nr_slots) = u.choose(&SWAPCACHE_NR_SLOTS).copied() else {
        return;
    };
    let hold = u.arbitrary::<u8>().is_ok_and(|b| b % 4 == 0);
    let drops = Arc::new(AtomicU64::new(0));
    let mut created = 0u64;
    {
        // Declared so that they drop in reverse: the cache, then the
        // handles, then the collector.
        let collector = Collector::new();
        let writer = collector.register();
        let reader_handle = collector.register();
        let cache: SwapCache<Arc<Tracked>> = SwapCache::with_collector(nr_slots, collector.clone());
        let reader = hold.then(|| reader_handle.pin());
        let mut held: Vec<(u64, ArcRef<'_, Tracked>)> = Vec::new();
        let side: XArray<Arc<Tracked>> = XArray::with_collector(collector.clone());
        let mut model = ScModel::default();
        let mut next_serial = 0u64;
        let mut step = 0;
        while !u.is_empty() && step < MAX_OPS {
            let Ok(op) = sc_op(&mut u, &model.slots, nr_slots) else {
                break;
            };
            let at = |what: String| format!("step {step} ({op:?}), nr_slots {nr_slots}: {what}");
            let mut new_folio = || {
                next_serial += 1;
                created += 1;
                (
                    Arc::new(Tracked {
                        serial: next_serial,
                        drops: Arc::clone(&drops),
                    }),
                    next_serial,
                )
            };
            let g = writer.pin();
            match op {
                ScOp::Add(off, src) => {
                    let existing = match src {
                        Src::CloneOf(j) => cache.get(j, &g).map(ArcRef::to_arc),
                        Src::New => None,
                    };
                    let fresh = existing.is_none();
                    let (folio, serial) = match existing {
                        Some(f) => {
                            let s = f.serial;
                            (f, s)
                        }
                        None => new_folio(),
                    };
                    let cur = model.get(off);
                    match cache.add(off, folio, &g) {
                        Ok(shadow) => {
                            assert!(
                                off < nr_slots && !matches!(cur, Some(M::Ptr(_))),
                                "{}",
                                at(format!("added over {cur:?}"))
                            );
                            let want = match cur {
                                Some(M::Value(v)) => Some(v),
                                _ => None,
                            };
                            assert_eq!(
                                shadow.map(ValueEntry::get),
                                want,
                                "{}",
                                at("shadow".into())
                            );
                            model.set(off, Some(M::Ptr(serial)));
                            model.spaces.insert(off >> SWAP_ADDRESS_SPACE_SHIFT);
                            model.adds += 1;
                        }
                        Err(e) => {
                            match (&e, cur) {
                                (AddError::OutOfRange { offset, .. }, _) if off >= nr_slots => {
                                    assert_eq!(*offset, off, "{}", at("error offset".into()));
                                }
                                (AddError::Exists { offset, .. }, Some(M::Ptr(_)))
                                    if off < nr_slots =>
                                {
                                    assert_eq!(*offset, off, "{}", at("error offset".into()));
                                    model.add_exists += 1;
                                }
                                _ => panic!("{}", at(format!("{e:?}, model {cur:?}"))),
                            }
                            sc_handed_back(e.into_folio(), serial, fresh, &at);
                        }
                    }
                }
                ScOp::AddUnchecked(off) => {
                    let (folio, serial) = new_folio();
                    let cur = model.get(off);
                    match cache.add_unchecked(off, folio, &g) {
                        Ok(displaced) => {
                            assert!(off < nr_slots, "{}", at("added beyond the device".into()));
                            assert_eq!(
                                displaced.map(|f| f.serial),
                                model.ptr_at(off),
                                "{}",
                                at("displaced folio".into())
                            );
                            model.set(off, Some(M::Ptr(serial)));
                            model.spaces.insert(off >> SWAP_ADDRESS_SPACE_SHIFT);
                            model.adds += 1;
                        }
                        Err(AddError::OutOfRange { offset, folio }) if off >= nr_slots => {
                            assert_eq!(offset, off, "{}", at("error offset".into()));
                            sc_handed_back(folio, serial, true, &at);
                        }
                        Err(e) => panic!("{}", at(format!("{e:?}, model {cur:?}"))),
                    }
                }
                ScOp::Get(off) => {
                    let got = cache.get(off, &g).map(|f| f.serial);
                    assert_eq!(got, model.ptr_at(off), "{}", at("get".into()));
                }
                ScOp::GetCloned(off) => {
                    let got = cache.get_cloned(off);
                    assert_eq!(
                        got.as_ref().map(|f| f.serial),
                        model.ptr_at(off),
                        "{}",
                        at("get_cloned".into())
                    );
                    if let Some(f) = got {
                        let cached = cache.get(off, &g).expect("still cached");
                        assert!(cached.ptr_eq(&f), "{}", at("clone of another folio".into()));
                    }
                }
                ScOp::GetEntry(off) => {
                    let got = cache.get_entry(off, &g).map(m_of);
                    assert_eq!(got, model.get(off), "{}", at("get_entry".into()));
                }
                ScOp::GetShadow(off) => {
                    let got = cache.get_shadow(off, &g).map(ValueEntry::get);
                    let want = match model.get(off) {
                        Some(M::Value(v)) => Some(v),
                        _ => None,
                    };
                    assert_eq!(got, want, "{}", at("get_shadow".into()));
                }
                ScOp::Delete(off, want, shadow) => 'op: {
                    let cur = model.get(off);
                    let fresh;
                    let (folio, matches) = match want {
                        Want::LoadedFrom(j) => {
                            let Some(f) = cache.get(j, &g) else {
                                break 'op;
                            };
                            (f, model.ptr_at(off) == Some(f.serial))
                        }
                        Want::Fresh => {
                            fresh = sc_look_alike(&side, &g, model.ptr_at(off));
                            (fresh, false)
                        }
                    };
                    let res = cache.delete(off, folio, shadow, &g);
                    sc_check_delete(res, off, nr_slots, cur, matches, &at);
                    if matches {
                        model.set(off, shadow.map(|v| M::Value(v.get())));
                        model.deletes += 1;
                    }
                }
                ScOp::DeleteIf(off, is, shadow) => {
                    let cur = model.get(off);
                    let target = match is {
                        Is::Model => model.ptr_at(off),
                        Is::IdAt(j) => model.ptr_at(j),
                        Is::Always | Is::Never => None,
                    };
                    let test = |serial: u64| match is {
                        Is::Model | Is::IdAt(_) => target == Some(serial),
                        Is::Always => true,
                        Is::Never => false,
                    };
                    let calls = Cell::new(0u32);
                    let res = cache.delete_if(off, shadow, &g, |f| {
                        calls.set(calls.get() + 1);
                        test(f.serial)
                    });
                    let is_ptr = matches!(cur, Some(M::Ptr(_)));
                    assert_eq!(
                        calls.get(),
                        u32::from(is_ptr),
                        "{}",
                        at("test calls".into())
                    );
                    let matches = model.ptr_at(off).is_some_and(test);
                    sc_check_delete(res, off, nr_slots, cur, matches, &at);
                    if matches {
                        model.set(off, shadow.map(|v| M::Value(v.get())));
                        model.deletes += 1;
                    }
                }
                ScOp::AddRange(off, nr) => {
                    let (folio, serial) = new_folio();
                    let res = cache.add_range(off, nr, folio, &g);
                    let bad = sc_bad_range(off, nr, nr_slots);
                    // Well formed: `off + nr` cannot overflow.
                    let occupied = || {
                        model
                            .slots
                            .range(off..off + nr)
                            .find(|(_, m)| matches!(m, M::Ptr(_)))
                            .map(|(&i, _)| i)
                    };
                    match res {
                        Err(AddError::BadRange { reason, folio }) => {
                            assert_eq!(Some(reason), bad, "{}", at("range refused".into()));
                            sc_handed_back(folio, serial, true, &at);
                        }
                        Err(AddError::Exists { offset, folio }) => {
                            assert_eq!(bad, None, "{}", at("malformed range checked".into()));
                            assert_eq!(Some(offset), occupied(), "{}", at("exists at".into()));
                            model.add_exists += 1;
                            sc_handed_back(folio, serial, true, &at);
                        }
                        Err(e @ AddError::OutOfRange { .. }) => {
                            panic!("{}", at(format!("{e:?}")))
                        }
                        Ok(shadow) => {
                            assert_eq!(bad, None, "{}", at("malformed range added".into()));
                            assert_eq!(occupied(), None, "{}", at("added over a folio".into()));
                            let first_shadow =
                                model.slots.range(off..off + nr).find_map(|(_, m)| match m {
                                    M::Value(v) => Some(*v),
                                    M::Ptr(_) => None,
                                });
                            assert_eq!(
                                shadow.map(ValueEntry::get),
                                first_shadow,
                                "{}",
                                at("first shadow".into())
                            );
                            for i in off..off + nr {
                                model.set(i, Some(M::Ptr(serial)));
                            }
                            model.spaces.insert(off >> SWAP_ADDRESS_SPACE_SHIFT);
                            model.adds += 1;
                        }
                    }
                }
                ScOp::DeleteRange(off, nr, want, shadow) => 'op: {
                    let fresh;
                    let (folio, serial) = match want {
                        Want::LoadedFrom(j) => {
                            let Some(f) = cache.get(j, &g) else {
                                break 'op;
                            };
                            (f, Some(f.serial))
                        }
                        Want::Fresh => {
                            fresh = sc_look_alike(&side, &g, model.ptr_at(off));
                            (fresh, None)
                        }
                    };
                    let res = cache.delete_range(off, nr, folio, shadow, &g);
                    let want_err = match sc_bad_range(off, nr, nr_slots) {
                        Some(reason) => Some(DeleteError::BadRange(reason)),
                        None => (off..off + nr).find_map(|i| match model.get(i) {
                            Some(M::Ptr(s)) if Some(s) == serial => None,
                            Some(M::Ptr(_)) => Some(DeleteError::Mismatch { offset: i }),
                            None | Some(M::Value(_)) => Some(DeleteError::NotCached { offset: i }),
                        }),
                    };
                    match (res, want_err) {
                        (Ok(f), None) => {
                            assert_eq!(Some(f.serial), serial, "{}", at("deleted".into()));
                            for i in off..off + nr {
                                model.set(i, shadow.map(|v| M::Value(v.get())));
                            }
                            model.deletes += 1;
                        }
                        (Err(e), Some(w)) => assert_eq!(e, w, "{}", at("error".into())),
                        (r, w) => {
                            panic!("{}", at(format!("{:?}, model {w:?}", r.map(|f| f.serial))))
                        }
                    }
                }
                ScOp::ClearShadow(off) => {
                    let got = cache.clear_shadow(off, &g).map(ValueEntry::get);
                    let want = match model.get(off) {
                        Some(M::Value(v)) => Some(v),
                        _ => None,
                    };
                    assert_eq!(got, want, "{}", at("clear_shadow".into()));
                    if want.is_some() {
                        model.set(off, None);
                    }
                }
                ScOp::Hold(off) => {
                    if let Some(r) = &reader
                        && let Some(f) = cache.get(off, r)
                    {
                        held.push((f.serial, f));
                    }
                }
                ScOp::Flush => g.flush(),
            }
            drop(g);
            let g = writer.pin();
            if (step + 1) % FULL_CHECK_EVERY == 0 || u.is_empty() || step + 1 == MAX_OPS {
                sc_check(&cache, &g, &model, &|| at(String::new()));
            } else {
                sc_check_near(&cache, &g, &model, sc_written(op), &|| at(String::new()));
            }
            drop(g);
            step += 1;
        }
        sc_check(&cache, &writer.pin(), &model, &|| {
            format!("after step {step}")
        });
        check_held(&held, "folio");
        drop(held);
        drop(reader);
        assert!(
            drops.load(Ordering::Relaxed) <= created,
            "more drops than folios"
        );
    }
    assert_eq!(
        drops.load(Ordering::Relaxed),
        created,
        "folios leaked or dropped twice once the cache and collector are gone"
    );
}

/// A failed add handed `folio` back: it must be the one given (`serial`)
/// and, if it was a new folio, no one else may hold it (the cache kept no
/// clone).
fn sc_handed_back(folio: Arc<Tracked>, serial: u64, fresh: bool, at: &dyn Fn(String) -> String) {
    assert_eq!(
        folio.serial,
        serial,
        "{}",
        at("handed back another folio".into())
    );
    if fresh {
        assert_eq!(
            Arc::strong_count(&folio),
            1,
            "{}",
            at("the cache kept a reference to a refused folio".into())
        );
    }
}

/// The result of a single-slot delete against the model: `matches` is
/// whether the model's folio at `off` is the one being deleted.
fn sc_check_delete(
    res: core::result::Result<ArcRef<'_, Tracked>, DeleteError>,
    off: u64,
    nr_slots: u64,
    cur: Option<M>,
    matches: bool,
    at: &dyn Fn(String) -> String,
) {
    let want = if off >= nr_slots {
        Err(DeleteError::OutOfRange { offset: off })
    } else {
        match cur {
            Some(M::Ptr(s)) if matches => Ok(s),
            Some(M::Ptr(_)) => Err(DeleteError::Mismatch { offset: off }),
            None | Some(M::Value(_)) => Err(DeleteError::NotCached { offset: off }),
        }
    };
    assert_eq!(
        res.map(|f| f.serial),
        want,
        "{}",
        at(format!("delete, model {cur:?}"))
    );
}

/// A folio that is not in the cache: an `ArcRef` out of the side tree, with
/// `serial` if given (equal contents, another identity).
fn sc_look_alike<'g>(
    side: &'g XArray<Arc<Tracked>>,
    g: &'g crossbeam_epoch::Guard,
    serial: Option<u64>,
) -> ArcRef<'g, Tracked> {
    match fresh_entry(side, g, serial.map(M::Ptr)) {
        Entry::Ptr(f) => f,
        Entry::Value(_) => unreachable!("the side tree holds pointers only"),
    }
}

/// The slots `op` may have written: `(first, last)`, inclusive.
fn sc_written(op: ScOp) -> Option<(u64, u64)> {
    match op {
        ScOp::Add(off, _)
        | ScOp::AddUnchecked(off)
        | ScOp::Delete(off, ..)
        | ScOp::DeleteIf(off, ..)
        | ScOp::ClearShadow(off) => Some((off, off)),
        ScOp::AddRange(off, nr) | ScOp::DeleteRange(off, nr, ..) => {
            let nr = nr.clamp(1, 1 << MAX_FOLIO_ORDER);
            Some((off, off.saturating_add(nr - 1)))
        }
        ScOp::Get(_)
        | ScOp::GetCloned(_)
        | ScOp::GetEntry(_)
        | ScOp::GetShadow(_)
        | ScOp::Hold(_)
        | ScOp::Flush => None,
    }
}

/// One slot through every lookup: `get_entry`, `get` and `get_shadow` must
/// all agree with the model.
fn sc_check_slot(
    cache: &SwapCache<Arc<Tracked>>,
    g: &crossbeam_epoch::Guard,
    model: &ScModel,
    off: u64,
    at: &dyn Fn() -> String,
) {
    let want = model.get(off);
    assert_eq!(
        cache.get_entry(off, g).map(m_of),
        want,
        "{}: get_entry {off}",
        at()
    );
    assert_eq!(
        cache.get(off, g).map(|f| f.serial),
        model.ptr_at(off),
        "{}: get {off}",
        at()
    );
    let shadow = match want {
        Some(M::Value(v)) => Some(v),
        _ => None,
    };
    assert_eq!(
        cache.get_shadow(off, g).map(ValueEntry::get),
        shadow,
        "{}: get_shadow {off}",
        at()
    );
}

fn sc_check_counts(cache: &SwapCache<Arc<Tracked>>, model: &ScModel, at: &dyn Fn() -> String) {
    assert_eq!(cache.stats(), model.stats(), "{}: stats", at());
    assert_eq!(cache.nr_folios(), model.ptrs, "{}: nr_folios", at());
}

/// The counts, and every slot of `near` and the one on each side.
fn sc_check_near(
    cache: &SwapCache<Arc<Tracked>>,
    g: &crossbeam_epoch::Guard,
    model: &ScModel,
    near: Option<(u64, u64)>,
    at: &dyn Fn() -> String,
) {
    sc_check_counts(cache, model, at);
    if let Some((first, last)) = near {
        for off in first.saturating_sub(1)..=last.saturating_add(1) {
            sc_check_slot(cache, g, model, off, at);
        }
    }
}

/// The counts, every slot the model holds and the empty ones next to them,
/// and the device's first and last slots and the first beyond it. With the
/// counts equal, nothing outside the model can be cached.
fn sc_check(
    cache: &SwapCache<Arc<Tracked>>,
    g: &crossbeam_epoch::Guard,
    model: &ScModel,
    at: &dyn Fn() -> String,
) {
    sc_check_counts(cache, model, at);
    let nr_slots = cache.nr_slots();
    for (&off, &m) in &model.slots {
        assert_eq!(
            cache.get_entry(off, g).map(m_of),
            Some(m),
            "{}: get_entry {off}",
            at()
        );
        for n in [off.wrapping_sub(1), off.wrapping_add(1)] {
            if !model.slots.contains_key(&n) {
                sc_check_slot(cache, g, model, n, at);
            }
        }
    }
    for off in [0, nr_slots.wrapping_sub(1), nr_slots, u64::MAX] {
        sc_check_slot(cache, g, model, off, at);
    }
}

/// A swap offset: small, a live one, one next to a live one, next to the
/// device's end, at an address-space or node boundary (plus or minus a
/// little), anywhere on the device, near `u64::MAX`, or anything.
fn sc_offset(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>, nr_slots: u64) -> Result<u64> {
    let live = |u: &mut Unstructured<'_>| -> Result<u64> {
        Ok(if model.is_empty() {
            0
        } else {
            let n = usize::from(u.arbitrary::<u8>()?) % model.len();
            *model.keys().nth(n).unwrap_or(&0)
        })
    };
    let near = |u: &mut Unstructured<'_>, base: u64| -> Result<u64> {
        Ok(base.wrapping_add(u.int_in_range(0u64..=4)?).wrapping_sub(2))
    };
    Ok(match u.int_in_range(0u8..=11)? {
        0..=2 => u.int_in_range(0u64..=130)?,
        3..=4 => live(u)?,
        5 => {
            let l = live(u)?;
            near(u, l)?
        }
        6 => near(u, nr_slots.wrapping_sub(1))?,
        7 => {
            let spaces = nr_slots.div_ceil(SWAP_ADDRESS_SPACE_PAGES);
            let k = u.int_in_range(0u64..=spaces)?;
            near(u, k * SWAP_ADDRESS_SPACE_PAGES)?
        }
        8 => {
            let k = u.int_in_range(1u32..=3)?;
            near(u, (FANOUT as u64).pow(k))?
        }
        9 => u.int_in_range(0u64..=nr_slots.saturating_sub(1))?,
        10 => u64::MAX - u.int_in_range(0u64..=3)?,
        _ => u.arbitrary()?,
    })
}

/// A large folio's page count: mostly a valid `2^order` (order up to
/// [`MAX_FOLIO_ORDER`]), sometimes 128 to 512 (order too large), 0, or any
/// count up to 600.
fn sc_nr(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=13)? {
        0..=9 => 1 << u.int_in_range(0u32..=MAX_FOLIO_ORDER)?,
        10..=11 => 1 << u.int_in_range(MAX_FOLIO_ORDER + 1..=9)?,
        12 => 0,
        _ => u.int_in_range(3u64..=600)?,
    })
}

/// A range start for `nr` pages: an offset rounded down to a multiple of
/// `nr` most of the time, or as it is.
fn sc_range_start(
    u: &mut Unstructured<'_>,
    model: &BTreeMap<u64, M>,
    nr_slots: u64,
    nr: u64,
) -> Result<u64> {
    let off = sc_offset(u, model, nr_slots)?;
    Ok(if nr.is_power_of_two() && u.ratio(7u8, 8)? {
        off & !(nr - 1)
    } else {
        off
    })
}

fn sc_shadow(u: &mut Unstructured<'_>) -> Result<Option<ValueEntry>> {
    Ok(if u.ratio(1u8, 2)? {
        None
    } else {
        Some(value(u)?)
    })
}

fn sc_want(
    u: &mut Unstructured<'_>,
    model: &BTreeMap<u64, M>,
    nr_slots: u64,
    off: u64,
) -> Result<Want> {
    Ok(match u.int_in_range(0u8..=3)? {
        0..=1 => Want::LoadedFrom(off),
        2 => Want::LoadedFrom(sc_offset(u, model, nr_slots)?),
        _ => Want::Fresh,
    })
}

fn sc_op(u: &mut Unstructured<'_>, model: &BTreeMap<u64, M>, nr_slots: u64) -> Result<ScOp> {
    let off = |u: &mut Unstructured<'_>| sc_offset(u, model, nr_slots);
    Ok(match u.int_in_range(0u8..=18)? {
        0..=2 => {
            let o = off(u)?;
            let src = if u.ratio(1u8, 8)? {
                Src::CloneOf(off(u)?)
            } else {
                Src::New
            };
            ScOp::Add(o, src)
        }
        3 => ScOp::AddUnchecked(off(u)?),
        4 => ScOp::Get(off(u)?),
        5 => ScOp::GetCloned(off(u)?),
        6 => ScOp::GetEntry(off(u)?),
        7 => ScOp::GetShadow(off(u)?),
        8..=9 => {
            let o = off(u)?;
            let want = sc_want(u, model, nr_slots, o)?;
            ScOp::Delete(o, want, sc_shadow(u)?)
        }
        10..=11 => {
            let o = off(u)?;
            let is = match u.int_in_range(0u8..=4)? {
                0..=1 => Is::Model,
                2 => Is::IdAt(off(u)?),
                3 => Is::Always,
                _ => Is::Never,
            };
            ScOp::DeleteIf(o, is, sc_shadow(u)?)
        }
        12..=13 => {
            let nr = sc_nr(u)?;
            ScOp::AddRange(sc_range_start(u, model, nr_slots, nr)?, nr)
        }
        14..=15 => {
            let nr = sc_nr(u)?;
            let o = sc_range_start(u, model, nr_slots, nr)?;
            let want = sc_want(u, model, nr_slots, o)?;
            ScOp::DeleteRange(o, nr, want, sc_shadow(u)?)
        }
        16 => ScOp::ClearShadow(off(u)?),
        17 => ScOp::Hold(off(u)?),
        _ => ScOp::Flush,
    })
}
