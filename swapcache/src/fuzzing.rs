//! Fuzz-target logic, compiled with the `fuzzing` feature.
//!
//! The cargo-fuzz target `xarray_ops` (in the workspace's `fuzz/`
//! directory) is a one-line call to [`xarray_ops`]; the crate's
//! `tests/fuzz_replay.rs` calls the same function on every committed input
//! under `fuzz/corpus/xarray_ops/` and `fuzz/regressions/xarray_ops/`, so
//! stable `cargo test` replays what the fuzzer found.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::{Result, Unstructured};
use crossbeam_epoch::Collector;

use crate::{
    ArcRef, Entry, FANOUT, InsertRangeError, Item, MAX_RANGE_ORDER, RemoveRangeError, ValueEntry,
    XArray,
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

/// The first two bytes of an input in the multi-index format, which adds
/// [`Op::InsertRange`] and [`Op::RemoveRange`]. Inputs without it decode as
/// before the range operations existed, so that every committed seed keeps
/// its meaning (none starts with these bytes).
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
        for (serial, t) in &held {
            assert_eq!(
                t.serial, *serial,
                "a held entry changed under a pinned guard"
            );
        }
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
