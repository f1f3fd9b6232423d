//! Unit and property tests. Sizes shrink under miri.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use crossbeam_epoch::{Collector, LocalHandle};
use proptest::prelude::*;

use crate::{
    AddError, BadRange, ClonePointer, CompareError, DeleteError, Entry, FANOUT, InsertRangeError,
    Item, MAX_RANGE_ORDER, RemoveRangeError, SWAP_ADDRESS_SPACE_PAGES, SwapCache, ValueEntry,
    XArray,
};

const F: u64 = FANOUT as u64;

fn val(v: u64) -> ValueEntry {
    ValueEntry::new(v).unwrap()
}

/// Drives the collector until nothing more can be freed: each fresh pin
/// lets the global epoch advance one step, garbage is freed two steps after
/// it was retired, and one flush frees at most 8 bags (of 64 objects, 4
/// under miri).
fn collect(handle: &LocalHandle) {
    for _ in 0..256 {
        handle.pin().flush();
    }
}

// ---------------------------------------------------------------------------
// XArray basics
// ---------------------------------------------------------------------------

#[test]
fn empty_tree() {
    let xa: XArray<u32> = XArray::new();
    let g = xa.pin();
    assert!(xa.is_empty());
    assert_eq!(xa.len(), 0);
    assert_eq!(xa.height(), 0);
    assert!(xa.load(0, &g).is_none());
    assert!(xa.load(u64::MAX, &g).is_none());
    assert!(xa.remove(5, &g).is_none());
    assert_eq!(xa.iter(&g).count(), 0);
    xa.check_invariants();
}

#[test]
fn insert_load_store_remove() {
    let xa = XArray::new();
    let g = xa.pin();
    xa.insert(3, 30u32, &g).unwrap();
    assert_eq!(xa.load(3, &g).and_then(Entry::as_ptr), Some(30));
    assert!(xa.load(2, &g).is_none());
    assert!(xa.load(4, &g).is_none());

    let err = xa.insert(3, 31, &g).unwrap_err();
    assert_eq!(err.index, 3);
    assert_eq!(err.into_item(), Item::Ptr(31));
    assert_eq!(xa.load(3, &g).and_then(Entry::as_ptr), Some(30));

    let old = xa.store(3, 32, &g);
    assert_eq!(old.and_then(Entry::as_ptr), Some(30));
    assert_eq!(xa.load(3, &g).and_then(Entry::as_ptr), Some(32));
    assert_eq!(xa.len(), 1);

    assert!(xa.store(4, 40, &g).is_none());
    assert_eq!(xa.len(), 2);
    assert_eq!(xa.remove(3, &g).and_then(Entry::as_ptr), Some(32));
    assert!(xa.remove(3, &g).is_none());
    assert_eq!(xa.len(), 1);
    assert!(!xa.is_empty());
    assert_eq!(xa.remove(4, &g).and_then(Entry::as_ptr), Some(40));
    assert!(xa.is_empty());
    xa.check_invariants();
}

#[test]
fn value_entries() {
    let xa: XArray<Box<String>> = XArray::new();
    let g = xa.pin();
    assert_eq!(
        ValueEntry::new(ValueEntry::MAX).unwrap().get(),
        ValueEntry::MAX
    );
    let err = ValueEntry::new(ValueEntry::MAX + 1).unwrap_err();
    assert_eq!(err.value, ValueEntry::MAX + 1);
    assert!(ValueEntry::new(u64::MAX).is_err());

    for v in [0, 1, 2, 12345, ValueEntry::MAX] {
        xa.store(v % 1000, Item::Value(val(v)), &g);
        assert_eq!(
            xa.load(v % 1000, &g).and_then(Entry::as_value),
            Some(val(v))
        );
    }
    // Indices 0, 1, 2, 345 and 807.
    assert_eq!(xa.value_count(), 5);
    xa.check_invariants();
}

#[test]
fn value_and_pointer_counts() {
    let xa = XArray::new();
    let g = xa.pin();
    xa.insert(0, Item::Value(val(0)), &g).unwrap();
    xa.insert(1, Item::Value(val(ValueEntry::MAX)), &g).unwrap();
    xa.insert(2, 2u32, &g).unwrap();
    assert_eq!((xa.ptr_count(), xa.value_count(), xa.len()), (1, 2, 3));
    // Replace a value by a pointer and a pointer by a value.
    xa.store(0, 100u32, &g);
    xa.store(2, Item::Value(val(7)), &g);
    assert_eq!((xa.ptr_count(), xa.value_count()), (1, 2));
    assert_eq!(xa.load(0, &g).and_then(Entry::as_ptr), Some(100));
    assert_eq!(
        xa.load(1, &g).and_then(Entry::as_value),
        Some(val(ValueEntry::MAX))
    );
    assert_eq!(xa.load(2, &g).and_then(Entry::as_value), Some(val(7)));
    xa.check_invariants();
}

/// A zero-sized type aligned to 2: a `Box` of it is the dangling address 2.
#[repr(align(2))]
#[derive(Debug, PartialEq)]
struct Unit;

#[test]
fn zero_sized_boxes_and_unowned_indices() {
    // A boxed ZST has no allocation; its address must still leave bit 0 for
    // the tag. Unowned indices take their whole range, 0 and MAX included.
    let units: XArray<Box<Unit>> = XArray::new();
    let bytes: XArray<u8> = XArray::new();
    let words: XArray<u32> = XArray::new();
    let g = units.pin();
    for i in 0..10 {
        units.insert(i, Box::new(Unit), &g).unwrap();
        bytes.insert(i, i as u8, &g).unwrap();
    }
    bytes.insert(255, u8::MAX, &g).unwrap();
    for (i, v) in [(0, 0), (1, u32::MAX), (2, 1 << 31), (3, 7)] {
        words.insert(i, v, &g).unwrap();
    }
    for i in 0..10 {
        assert_eq!(units.load(i, &g).and_then(Entry::as_ptr), Some(&Unit));
        assert_eq!(bytes.load(i, &g).and_then(Entry::as_ptr), Some(i as u8));
    }
    assert_eq!(bytes.load(255, &g).and_then(Entry::as_ptr), Some(u8::MAX));
    let got: Vec<(u64, u32)> = words
        .iter(&g)
        .map(|(i, e)| (i, e.as_ptr().unwrap()))
        .collect();
    assert_eq!(got, [(0, 0), (1, u32::MAX), (2, 1 << 31), (3, 7)]);
    assert_eq!(units.ptr_count(), 10);
    assert_eq!(bytes.value_count(), 0);
    assert_eq!(words.ptr_count(), 4);
    // Unowned identity is equality: `compare_remove` with an equal index
    // removes it.
    assert_eq!(
        words
            .compare_remove(1, Entry::Ptr(u32::MAX), &g)
            .unwrap()
            .as_ptr(),
        Some(u32::MAX)
    );
    assert!(words.compare_remove(3, Entry::Ptr(8), &g).is_err());
}

#[test]
fn height_grows_and_shrinks() {
    let xa = XArray::new();
    let g = xa.pin();
    xa.insert(0, 0u32, &g).unwrap();
    assert_eq!(xa.height(), 1);
    xa.insert(F, 1, &g).unwrap();
    assert_eq!(xa.height(), 2);
    xa.insert(F * F, 2, &g).unwrap();
    assert_eq!(xa.height(), 3);
    xa.insert(u64::MAX, 3, &g).unwrap();
    assert_eq!(xa.height(), 64u32.div_ceil(FANOUT.trailing_zeros()));
    xa.check_invariants();
    for (i, v) in [(0, 0), (F, 1), (F * F, 2), (u64::MAX, 3)] {
        assert_eq!(xa.load(i, &g).and_then(Entry::as_ptr), Some(v));
    }

    xa.remove(u64::MAX, &g).unwrap();
    assert_eq!(xa.height(), 3);
    xa.check_invariants();
    xa.remove(F * F, &g).unwrap();
    assert_eq!(xa.height(), 2);
    xa.remove(F, &g).unwrap();
    assert_eq!(xa.height(), 1);
    xa.check_invariants();
    xa.remove(0, &g).unwrap();
    assert_eq!(xa.height(), 0);
    assert!(xa.is_empty());

    // A lone high index gets a root of exactly the needed height, and does
    // not shrink: its path is not through slot 0.
    xa.insert(F * F * 5, 9, &g).unwrap();
    assert_eq!(xa.height(), 3);
    xa.insert(1, 1, &g).unwrap();
    xa.remove(F * F * 5, &g).unwrap();
    assert_eq!(xa.height(), 1);
    assert_eq!(xa.load(1, &g).and_then(Entry::as_ptr), Some(1));
    xa.check_invariants();
}

#[test]
fn compare_remove_is_pointer_identity() {
    let xa = XArray::new();
    let g = xa.pin();
    xa.insert(5, Box::new(String::from("a")), &g).unwrap();
    let a = xa.load(5, &g).unwrap();
    let equal = String::from("a");
    // An equal but distinct `T` is not the entry.
    let err = xa.compare_remove(5, Entry::Ptr(&equal), &g).unwrap_err();
    assert!(err.current.is_some_and(|c| c.same(a)));
    // A value entry is not the pointer either.
    assert!(xa.compare_remove(5, Entry::Value(val(1)), &g).is_err());
    // After a replacement, the old pointer no longer matches.
    xa.store(5, Box::new(String::from("a")), &g);
    assert!(xa.compare_remove(5, a, &g).is_err());
    let b = xa.load(5, &g).unwrap();
    assert_eq!(
        xa.compare_remove(5, b, &g)
            .unwrap()
            .as_ptr()
            .map(String::as_str),
        Some("a")
    );
    let err: CompareError<'_, Box<String>> = xa.compare_remove(5, b, &g).unwrap_err();
    assert!(err.current.is_none());
    assert!(xa.is_empty());

    xa.insert(6, Item::Value(val(3)), &g).unwrap();
    assert!(xa.compare_remove(6, Entry::Value(val(4)), &g).is_err());
    assert!(xa.compare_remove(6, Entry::Value(val(3)), &g).is_ok());
    assert!(xa.remove_if(6, &g, |_| true).is_err());
}

#[test]
fn range_iteration() {
    let xa = XArray::new();
    let g = xa.pin();
    let keys = [
        0,
        1,
        F - 1,
        F,
        3 * F + 7,
        F * F,
        F * F * F + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &k in &keys {
        xa.insert(k, Box::new(k), &g).unwrap();
    }
    let all: Vec<u64> = xa
        .iter(&g)
        .map(|(i, e)| {
            assert_eq!(e.as_ptr(), Some(&i));
            i
        })
        .collect();
    assert_eq!(all, keys);
    let r = |lo: u64, hi: u64| xa.range(lo..hi, &g).map(|(i, _)| i).collect::<Vec<_>>();
    assert_eq!(r(1, F), vec![1, F - 1]);
    assert_eq!(r(2, F + 1), vec![F - 1, F]);
    assert_eq!(r(F + 1, F * F), vec![3 * F + 7]);
    assert_eq!(r(5, 5), Vec::<u64>::new());
    assert_eq!(r(F * F + 1, u64::MAX), vec![F * F * F + 1, u64::MAX - 1]);
    let incl: Vec<u64> = xa.range(u64::MAX..=u64::MAX, &g).map(|(i, _)| i).collect();
    assert_eq!(incl, vec![u64::MAX]);
    let from: Vec<u64> = xa.range(F * F.., &g).map(|(i, _)| i).collect();
    assert_eq!(from, vec![F * F, F * F * F + 1, u64::MAX - 1, u64::MAX]);
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = xa.range(10..=2, &g).count();
    assert_eq!(backwards, 0);
    let excluded = xa.range(
        (
            std::ops::Bound::Excluded(u64::MAX),
            std::ops::Bound::Unbounded,
        ),
        &g,
    );
    assert_eq!(excluded.count(), 0);
}

#[test]
#[should_panic(expected = "not pinned from this tree's collector")]
fn foreign_guard_is_refused() {
    let xa: XArray<u32> = XArray::with_collector(Collector::new());
    // The collector outlives its handle (crossbeam-epoch frees a collector
    // from inside its last handle's finalisation otherwise, which miri's
    // Tree Borrows rejects).
    let other_collector = Collector::new();
    let other = other_collector.register();
    let g = other.pin();
    let _ = xa.load(0, &g);
}

#[test]
fn load_cloned_and_default() {
    let xa: XArray<Arc<u32>> = XArray::default();
    let g = xa.pin();
    let a = Arc::new(5);
    xa.insert(1, a.clone(), &g).unwrap();
    xa.insert(2, Item::Value(val(9)), &g).unwrap();
    drop(g);
    match xa.load_cloned(1) {
        Some(Item::Ptr(b)) => assert!(Arc::ptr_eq(&a, &b)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(xa.load_cloned(2), Some(Item::Value(val(9))));
    assert_eq!(xa.load_cloned(3), None);
}

// ---------------------------------------------------------------------------
// Property test against BTreeMap
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, Item<u32>),
    Store(u64, Item<u32>),
    Remove(u64),
    /// Compare-and-remove with the entry currently loaded (must succeed if
    /// present).
    RemoveLoaded(u64),
    /// Compare-and-remove with a freshly made entry (must fail for pointers).
    RemoveOther(u64, Item<u32>),
    Load(u64),
    Range(u64, u64),
    /// `insert_range(start, order, v)` (pointer types that can share only).
    InsertRange(u64, u32, u32),
    /// `remove_range(start, order, entry loaded at start)`.
    RemoveRange(u64, u32),
}

/// A pointer type the property test runs on: `Box<u32>` (identity is the
/// allocation) and `u32` (an unowned index: identity is equality).
trait TestPtr: ClonePointer + Clone + PartialEq + std::fmt::Debug + Sync {
    fn make(v: u32) -> Self;
    /// Does a fresh `make(v)` count as the same entry as a stored `make(v)`?
    const FRESH_IS_SAME: bool;
    fn with_ref<R>(&self, f: impl FnOnce(Self::Ref<'_>) -> R) -> R;
    /// `xa.insert_range(..)`, if the type supports ranges.
    fn insert_range(
        xa: &XArray<Self>,
        start: u64,
        order: u32,
        v: Self,
        g: &crossbeam_epoch::Guard,
    ) -> Option<Result<(), InsertRangeError<Self>>>;
}

impl TestPtr for Box<u32> {
    fn make(v: u32) -> Self {
        Box::new(v)
    }
    const FRESH_IS_SAME: bool = false;
    fn with_ref<R>(&self, f: impl FnOnce(&u32) -> R) -> R {
        f(self)
    }
    fn insert_range(
        _: &XArray<Self>,
        _: u64,
        _: u32,
        _: Self,
        _: &crossbeam_epoch::Guard,
    ) -> Option<Result<(), InsertRangeError<Self>>> {
        None
    }
}

impl TestPtr for u32 {
    fn make(v: u32) -> Self {
        v
    }
    const FRESH_IS_SAME: bool = true;
    fn with_ref<R>(&self, f: impl FnOnce(u32) -> R) -> R {
        f(*self)
    }
    fn insert_range(
        xa: &XArray<Self>,
        start: u64,
        order: u32,
        v: Self,
        g: &crossbeam_epoch::Guard,
    ) -> Option<Result<(), InsertRangeError<Self>>> {
        Some(xa.insert_range(start, order, v, g))
    }
}

fn conv<P: TestPtr>(item: Item<u32>) -> Item<P> {
    match item {
        Item::Ptr(v) => Item::Ptr(P::make(v)),
        Item::Value(v) => Item::Value(v),
    }
}

fn check_ops(ops: &[Op]) {
    check_ops_on::<Box<u32>>(ops);
    check_ops_on::<u32>(ops);
}

fn check_ops_on<P: TestPtr>(ops: &[Op]) {
    let collector = Collector::new();
    let handle = collector.register();
    let xa: XArray<P> = XArray::with_collector(collector.clone());
    let mut model: BTreeMap<u64, Item<P>> = BTreeMap::new();
    let as_item = |e: Entry<'_, P>| e.to_item();
    for op in ops {
        let g = handle.pin();
        match op.clone() {
            Op::Insert(i, item) => {
                let item = conv::<P>(item);
                let res = xa.insert(i, item.clone(), &g);
                if let std::collections::btree_map::Entry::Vacant(v) = model.entry(i) {
                    assert!(res.is_ok());
                    v.insert(item);
                } else {
                    let err = res.unwrap_err();
                    assert_eq!((err.index, err.item), (i, item));
                }
            }
            Op::Store(i, item) => {
                let item = conv::<P>(item);
                let old = xa.store(i, item.clone(), &g).map(as_item);
                assert_eq!(old, model.insert(i, item));
            }
            Op::Remove(i) => {
                assert_eq!(xa.remove(i, &g).map(as_item), model.remove(&i));
            }
            Op::RemoveLoaded(i) => match xa.load(i, &g) {
                Some(e) => {
                    let removed = xa
                        .compare_remove(i, e, &g)
                        .ok()
                        .expect("removes the loaded entry");
                    assert!(removed.same(e));
                    assert_eq!(Some(removed.to_item()), model.remove(&i));
                }
                None => assert!(!model.contains_key(&i)),
            },
            Op::RemoveOther(i, item) => {
                let item = conv::<P>(item);
                let res = match &item {
                    Item::Ptr(v) => v.with_ref(|r| xa.compare_remove(i, Entry::Ptr(r), &g)),
                    Item::Value(v) => xa.compare_remove(i, Entry::Value(*v), &g),
                };
                let matches = match (&item, model.get(&i)) {
                    (Item::Value(a), Some(Item::Value(b))) => a == b,
                    (Item::Ptr(a), Some(Item::Ptr(b))) => P::FRESH_IS_SAME && a == b,
                    _ => false,
                };
                assert_eq!(res.is_ok(), matches);
                if matches {
                    model.remove(&i);
                } else {
                    let cur = res.err().expect("refused").current.map(as_item);
                    assert_eq!(cur.as_ref(), model.get(&i));
                }
            }
            Op::Load(i) => {
                assert_eq!(xa.load(i, &g).map(as_item).as_ref(), model.get(&i));
            }
            Op::InsertRange(start, order, v) => {
                let Some(res) = P::insert_range(&xa, start, order, P::make(v), &g) else {
                    continue;
                };
                let nr = 1u64 << order.min(63);
                if order > MAX_RANGE_ORDER || start % nr != 0 {
                    assert!(matches!(res, Err(InsertRangeError::Bad { .. })), "{res:?}");
                } else if let Some(&first) =
                    model.range(start..=start + (nr - 1)).next().map(|(i, _)| i)
                {
                    match res {
                        Err(InsertRangeError::Occupied { index, item }) => {
                            assert_eq!((index, item), (first, P::make(v)));
                        }
                        other => panic!("expected occupied at {first}: {other:?}"),
                    }
                } else {
                    assert!(res.is_ok(), "{res:?}");
                    for i in start..=start + (nr - 1) {
                        model.insert(i, Item::Ptr(P::make(v)));
                    }
                }
            }
            Op::RemoveRange(start, order) => {
                let nr = 1u64 << order.min(63);
                let loaded = xa.load(start, &g);
                let fresh = P::make(u32::MAX);
                let res = match loaded {
                    Some(e) => xa.remove_range(start, order, e, &g),
                    None => fresh.with_ref(|r| xa.remove_range(start, order, Entry::Ptr(r), &g)),
                };
                if order > MAX_RANGE_ORDER || start % nr != 0 {
                    assert!(matches!(res, Err(RemoveRangeError::Bad(_))));
                    continue;
                }
                let want = match model.get(&start) {
                    Some(Item::Ptr(p)) => Some(p.clone()),
                    _ => None,
                };
                let first_bad = (start..=start + (nr - 1)).find(
                    |i| !matches!((model.get(i), &want), (Some(Item::Ptr(p)), Some(w)) if p == w),
                );
                match (res, first_bad) {
                    (Ok(e), None) => {
                        assert_eq!(Some(e.to_item()), want.map(Item::Ptr));
                        for i in start..=start + (nr - 1) {
                            model.remove(&i);
                        }
                    }
                    (Err(RemoveRangeError::Mismatch { index, current }), Some(bad)) => {
                        assert_eq!(index, bad);
                        assert_eq!(current.map(as_item).as_ref(), model.get(&bad));
                    }
                    (Ok(_), Some(bad)) => panic!("removed a range with {bad} not matching"),
                    (Err(RemoveRangeError::Bad(b)), _) => panic!("well-formed range refused: {b}"),
                    (Err(_), None) => panic!("refused a range that matched"),
                }
            }
            Op::Range(a, b) => {
                let (lo, hi) = (a.min(b), a.max(b));
                let got: Vec<(u64, Item<P>)> = xa
                    .range(lo..=hi, &g)
                    .map(|(i, e)| (i, e.to_item()))
                    .collect();
                let want: Vec<(u64, Item<P>)> =
                    model.range(lo..=hi).map(|(i, e)| (*i, e.clone())).collect();
                assert_eq!(got, want);
            }
        }
        assert_eq!(xa.len(), model.len());
        xa.check_invariants();
    }
    let g = handle.pin();
    let got: Vec<(u64, Item<P>)> = xa.iter(&g).map(|(i, e)| (i, e.to_item())).collect();
    let want: Vec<(u64, Item<P>)> = model.into_iter().collect();
    assert_eq!(got, want);
    drop(g);
    drop(xa);
    collect(&handle);
}

fn index_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..(2 * F),
        2 => (1u32..11, -2i64..=2).prop_map(|(k, d)| {
            // Around the coverage boundary of each height: 64^k.
            let base = 1u64.checked_shl(6 * k).unwrap_or(0);
            base.wrapping_add_signed(d)
        }),
        1 => any::<u64>(),
        1 => (0u64..4).prop_map(|d| u64::MAX - d),
    ]
}

fn item_strategy() -> impl Strategy<Value = Item<u32>> {
    prop_oneof![
        3 => any::<u32>().prop_map(Item::Ptr),
        1 => (0..=ValueEntry::MAX).prop_map(|v| Item::Value(val(v))),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let i = index_strategy;
    prop_oneof![
        4 => (i(), item_strategy()).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => (i(), item_strategy()).prop_map(|(i, v)| Op::Store(i, v)),
        3 => i().prop_map(Op::Remove),
        1 => i().prop_map(Op::RemoveLoaded),
        1 => (i(), item_strategy()).prop_map(|(i, v)| Op::RemoveOther(i, v)),
        2 => i().prop_map(Op::Load),
        1 => (i(), i()).prop_map(|(a, b)| Op::Range(a, b)),
        2 => (i(), 0u32..=7, any::<u32>()).prop_map(|(i, o, v)| Op::InsertRange(i & !3, o, v)),
        1 => (i(), 0u32..=7).prop_map(|(i, o)| Op::RemoveRange(i & !3, o)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    #[cfg_attr(miri, ignore = "proptest runs hundreds of cases: far too slow under miri; `random_ops_small` covers the same code")]
    fn proptest_against_btreemap(ops in proptest::collection::vec(op_strategy(), 1..200)) {
        check_ops(&ops);
    }
}

/// The property test's checker on a fixed pseudo-random sequence, small
/// enough for miri.
#[test]
fn random_ops_small() {
    // Run on two pointer types (see `check_ops`): half the miri length of
    // one, so that the miri step takes as long as before.
    let n = if cfg!(miri) { 75 } else { 5000 };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next();
        let index = match r % 8 {
            0 => next(),
            1 => u64::MAX - next() % 3,
            2 => (F * F).wrapping_add(next() % 3).wrapping_sub(1),
            _ => next() % (3 * F),
        };
        let item = if r % 5 == 0 {
            Item::Value(val(next() >> 1))
        } else {
            Item::Ptr(next() as u32)
        };
        let order = (next() % 8) as u32;
        ops.push(match (r >> 8) % 9 {
            0 | 1 => Op::Insert(index, item),
            2 => Op::Store(index, item),
            3 => Op::Remove(index),
            4 => Op::RemoveLoaded(index),
            5 => Op::Load(index),
            6 => Op::InsertRange(index & !((1 << order) - 1) & !3, order, next() as u32),
            7 => Op::RemoveRange(index & !3, order),
            _ => Op::Range(index, next() % (4 * F)),
        });
    }
    check_ops(&ops);
}

// ---------------------------------------------------------------------------
// Reclamation
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn every_value_is_dropped_exactly_once() {
    let n: usize = if cfg!(miri) { 200 } else { 5000 };
    // Ids 0..n are inserted first, n..2n replace some of them.
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..2 * n).map(|_| AtomicUsize::new(0)).collect());
    let make = |id: usize| {
        Box::new(Tracked {
            id,
            drops: drops.clone(),
        })
    };
    let collector = Collector::new();
    let writer = collector.register();
    let reader = collector.register();
    let xa = XArray::with_collector(collector.clone());
    let mut retired = Vec::new();
    {
        let g = writer.pin();
        for id in 0..n {
            xa.insert(id as u64 * 3, make(id), &g).unwrap();
        }
        // Refused inserts hand the value back: it is not retired.
        let back = xa.insert(0, make(n), &g).unwrap_err().into_item();
        drop(back);
        assert_eq!(drops[n].swap(0, Ordering::Relaxed), 1);
    }

    // A reader pinned before the removals holds a reference across them.
    let rg = reader.pin();
    let held = xa.load(0, &rg).and_then(Entry::as_ptr).unwrap();
    {
        let g = writer.pin();
        for id in 0..n {
            let index = id as u64 * 3;
            match id % 4 {
                0 => {
                    xa.remove(index, &g).unwrap();
                    retired.push(id);
                }
                1 => {
                    xa.store(index, make(n + id), &g).unwrap();
                    retired.push(id);
                }
                2 => {
                    let cur = xa.load(index, &g).unwrap();
                    xa.compare_remove(index, cur, &g).unwrap();
                    retired.push(id);
                }
                _ => {}
            }
        }
    }
    collect(&writer);
    // Nothing retired after the reader pinned may be freed yet.
    assert_eq!(held.id, 0);
    for &id in &retired {
        assert_eq!(
            drops[id].load(Ordering::Relaxed),
            0,
            "id {id} freed under a pinned reader"
        );
    }
    drop(rg);
    collect(&writer);
    for id in 0..2 * n {
        let want = usize::from(id < n && id % 4 != 3);
        assert_eq!(
            drops[id].load(Ordering::Relaxed),
            want,
            "id {id} after collection"
        );
    }

    // Dropping the tree frees what is still in it, once.
    drop(xa);
    for id in 0..2 * n {
        let want = usize::from(id < n || (id - n) % 4 == 1);
        assert_eq!(
            drops[id].load(Ordering::Relaxed),
            want,
            "id {id} after drop"
        );
    }
    drop((writer, reader, collector));
    for id in 0..2 * n {
        let want = usize::from(id < n || (id - n) % 4 == 1);
        assert_eq!(
            drops[id].load(Ordering::Relaxed),
            want,
            "id {id} at the end"
        );
    }
}

#[test]
fn retired_nodes_and_values_are_freed_with_the_collector() {
    // Garbage still queued when the collector goes is freed with it.
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    let collector = Collector::new();
    let handle = collector.register();
    let xa = XArray::with_collector(collector.clone());
    {
        let g = handle.pin();
        for id in 0..64 {
            xa.insert(
                id as u64 * F,
                Box::new(Tracked {
                    id,
                    drops: drops.clone(),
                }),
                &g,
            )
            .unwrap();
        }
        for id in 0..32 {
            xa.remove(id as u64 * F, &g).unwrap();
        }
    }
    drop(xa);
    for id in 32..64 {
        assert_eq!(drops[id].load(Ordering::Relaxed), 1);
    }
    drop((handle, collector));
    for id in 0..64 {
        assert_eq!(drops[id].load(Ordering::Relaxed), 1, "id {id}");
    }
}

// ---------------------------------------------------------------------------
// Node cache
// ---------------------------------------------------------------------------

/// Indices whose paths need a chain of three nodes (root, interior, leaf),
/// none through slot 0 of the root, plus two that shrink the tree when
/// removed (1 and `F * F * 2`: the root keeps only slot 0).
fn chain_indices() -> Vec<u64> {
    vec![F * F + F + 1, F * F + 2 * F + 3, 1, F * F * 2]
}

#[test]
fn recycled_nodes_come_back_empty() {
    let collector = Collector::new();
    let handle = collector.register();
    let xa: XArray<Box<u64>> = XArray::with_collector(collector.clone());
    // Fill leaves with pointer and value entries, so that a recycled node
    // with a stale slot would show them, then empty the tree: prune retires
    // empty nodes, shrink retires old roots whose slot 0 still points down.
    {
        let g = handle.pin();
        for round in 0..3u64 {
            for (k, &i) in chain_indices().iter().enumerate() {
                for d in 0..3 {
                    if (k as u64 + d).is_multiple_of(2) {
                        xa.insert(i + d, Box::new(i + d + round), &g).unwrap();
                    } else {
                        xa.insert(i + d, Item::Value(val(i + d + round)), &g)
                            .unwrap();
                    }
                }
            }
            xa.check_invariants();
            // Remove the far entries first so that the root shrinks
            // (retired with slot 0 set) before the last leaf goes.
            for &i in chain_indices().iter().rev() {
                for d in 0..3 {
                    assert!(xa.remove(i + d, &g).is_some());
                }
            }
            assert!(xa.is_empty());
        }
    }
    collect(&handle);
    let cached = xa.cached_nodes();
    assert!(cached >= 4, "only {cached} nodes cached");
    // As if a reset had been forgotten: every cached slot holds a value
    // entry and every count is garbage. Allocation must clear them.
    xa.poison_node_cache();

    let reused_before = xa.reused_nodes();
    let g = handle.pin();
    // Other positions and heights than before, so that recycled nodes land
    // where their stale slots would be visible to loads and iteration.
    let targets = [F * F * 3 + 5, F * F * 3 + F * 7, 2 * F + 9, F * F * 3 + 2];
    let mut model = BTreeMap::new();
    for (k, &i) in targets.iter().enumerate() {
        if k.is_multiple_of(2) {
            xa.insert(i, Box::new(i), &g).unwrap();
            model.insert(i, Item::Ptr(Box::new(i)));
        } else {
            xa.insert(i, Item::Value(val(i)), &g).unwrap();
            model.insert(i, Item::Value(val(i)));
        }
        xa.check_invariants();
        let got: Vec<(u64, Item<Box<u64>>)> = xa.iter(&g).map(|(i, e)| (i, e.to_item())).collect();
        let want: Vec<(u64, Item<Box<u64>>)> = model.iter().map(|(i, e)| (*i, e.clone())).collect();
        assert_eq!(got, want);
    }
    assert!(
        xa.reused_nodes() > reused_before,
        "the inserts did not reuse cached nodes"
    );
    for probe in (0..4 * F * F).step_by(7).chain(chain_indices()) {
        assert_eq!(
            xa.load(probe, &g).map(Entry::to_item).as_ref(),
            model.get(&probe),
            "index {probe}"
        );
    }
    assert_eq!(xa.len(), targets.len());
}

#[test]
fn node_cache_is_bounded() {
    let collector = Collector::new();
    let handle = collector.register();
    let xa: XArray<Box<u64>> = XArray::with_collector(collector.clone());
    let cap = crate::xarray::NODE_CACHE_NODES;
    // More leaves than the cache holds, retired in one go.
    let leaves = 2 * cap as u64;
    {
        let g = handle.pin();
        for l in 0..leaves {
            xa.insert(l * F, Box::new(l), &g).unwrap();
        }
        for l in 0..leaves {
            xa.remove(l * F, &g).unwrap();
        }
    }
    collect(&handle);
    assert_eq!(xa.cached_nodes(), cap);
    // Growing again takes from the cache; retiring again refills it to the
    // bound, never beyond.
    for round in 0..3 {
        let g = handle.pin();
        for l in 0..leaves / 2 {
            xa.insert(l * F + round, Box::new(l), &g).unwrap();
        }
        assert!(xa.cached_nodes() < cap);
        for l in 0..leaves / 2 {
            xa.remove(l * F + round, &g).unwrap();
        }
        drop(g);
        collect(&handle);
        assert!(xa.cached_nodes() <= cap);
    }
    assert_eq!(xa.cached_nodes(), cap);
}

#[test]
fn drop_frees_every_node_and_value() {
    // Every node is allocated and freed on this thread: the collector is the
    // test's own and only this thread pins it.
    let live = || crate::xarray::LIVE_NODES.with(std::cell::Cell::get);
    let start = live();
    let n = if cfg!(miri) { 40 } else { 400 };
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let collector = Collector::new();
    let handle = collector.register();
    let xa = XArray::with_collector(collector.clone());
    {
        let g = handle.pin();
        for id in 0..n {
            let item = Box::new(Tracked {
                id,
                drops: drops.clone(),
            });
            xa.insert(id as u64 * F + id as u64 % 3, item, &g).unwrap();
        }
        // Retire some nodes and values and let them reach the cache...
        for id in 0..n / 4 {
            xa.remove(id as u64 * F + id as u64 % 3, &g).unwrap();
        }
    }
    collect(&handle);
    assert!(xa.cached_nodes() > 0);
    assert!(live() > start);
    // ...and retire more that are still waiting for their grace period when
    // the tree goes.
    {
        let g = handle.pin();
        for id in n / 4..n / 2 {
            xa.remove(id as u64 * F + id as u64 % 3, &g).unwrap();
        }
    }
    drop(xa);
    for id in n / 2..n {
        assert_eq!(drops[id].load(Ordering::Relaxed), 1, "id {id}");
    }
    // The deferred functions still queued hold the cache; the last one frees
    // it with the nodes it caches.
    drop((handle, collector));
    for id in 0..n {
        assert_eq!(drops[id].load(Ordering::Relaxed), 1, "id {id}");
    }
    assert_eq!(live(), start, "nodes leaked or freed twice");
}

#[test]
fn readers_walk_while_writers_recycle_nodes() {
    let (rounds, windows) = if cfg!(miri) { (6, 3) } else { (20_000, 8) };
    let collector = Collector::new();
    let xa: Arc<XArray<Box<u64>>> = Arc::new(XArray::with_collector(collector.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // An entry's contents are a function of its index: a reader that ends up
    // in a recycled node, or sees a stale slot, finds a mismatch.
    let check = |i: u64, e: Entry<'_, Box<u64>>| match e {
        Entry::Ptr(&v) => assert_eq!(v, i * 7, "index {i}"),
        Entry::Value(v) => assert_eq!(v.get(), i * 3, "index {i}"),
    };
    let barrier = Arc::new(Barrier::new(4));
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let (xa, barrier, collector) = (xa.clone(), barrier.clone(), collector.clone());
        writers.push(thread::spawn(move || {
            let handle = collector.register();
            barrier.wait();
            for r in 0..rounds {
                let g = handle.pin();
                // Windows of 8 slots at scattered places, as readahead adds
                // them: the tree grows to height 3 and back to empty (when
                // the other writer is empty too), retiring and reusing
                // chains of nodes.
                let base = (r * 0x9e37 + w * 0x51) % (F * F * 4);
                let base = base & !7 | w;
                for d in (0..windows).map(|d| base + 2 * d) {
                    if d % 4 < 2 {
                        xa.insert(d, Box::new(d * 7), &g).unwrap();
                    } else {
                        xa.insert(d, Item::Value(val(d * 3)), &g).unwrap();
                    }
                }
                for d in (0..windows).map(|d| base + 2 * d) {
                    xa.remove(d, &g).unwrap();
                }
                drop(g);
                if r.is_multiple_of(16) {
                    // Hurry the grace periods along.
                    handle.pin().flush();
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for t in 0..2u64 {
        let (xa, barrier, collector, stop) =
            (xa.clone(), barrier.clone(), collector.clone(), stop.clone());
        readers.push(thread::spawn(move || {
            let handle = collector.register();
            barrier.wait();
            let mut r = t;
            let mut seen = 0usize;
            // Relaxed: only a stop signal, ordering nothing.
            while !stop.load(Ordering::Relaxed) {
                r += 1;
                let g = handle.pin();
                let i = r.wrapping_mul(0x9e37_79b9) % (F * F * 4 + 64);
                if let Some(e) = xa.load(i, &g) {
                    check(i, e);
                    seen += 1;
                }
                // Whole-tree walks go through whatever chains the writers
                // have in place at the time.
                for (i, e) in xa.iter(&g) {
                    check(i, e);
                    seen += 1;
                }
                if cfg!(miri) && r > 40 {
                    break;
                }
            }
            seen
        }));
    }
    for t in writers {
        t.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let seen: usize = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(xa.is_empty());
    xa.check_invariants();
    if !cfg!(miri) {
        assert!(xa.reused_nodes() > 0, "no node was reused");
        assert!(seen > 0, "the readers never met an entry");
    }
}

// ---------------------------------------------------------------------------
// Concurrency smoke tests (the loom suite is the real check)
// ---------------------------------------------------------------------------

#[test]
fn concurrent_readers_and_writers() {
    let (rounds, span) = if cfg!(miri) {
        (3, 2 * F)
    } else {
        (20, 4 * F * F)
    };
    let xa: Arc<XArray<Box<u64>>> = Arc::new(XArray::new());
    let writers = 2u64;
    let barrier = Arc::new(Barrier::new(4));
    let mut threads = Vec::new();
    for w in 0..writers {
        let (xa, barrier) = (xa.clone(), barrier.clone());
        threads.push(thread::spawn(move || {
            barrier.wait();
            for r in 0..rounds {
                let g = xa.pin();
                // Each writer owns the indices congruent to w mod 2; the
                // stride makes the height change back and forth.
                let stride = if r % 2 == 0 { 1 } else { F + 1 };
                let mut i = w;
                while i < span * stride {
                    xa.insert(i, Box::new(i * 7), &g).unwrap();
                    i += writers * stride;
                }
                let mut i = w;
                while i < span * stride {
                    assert_eq!(xa.remove(i, &g).and_then(Entry::as_ptr), Some(&(i * 7)));
                    i += writers * stride;
                }
            }
        }));
    }
    for _ in 0..2 {
        let (xa, barrier) = (xa.clone(), barrier.clone());
        threads.push(thread::spawn(move || {
            barrier.wait();
            for r in 0..rounds * 4 {
                let g = xa.pin();
                let i = (r as u64).wrapping_mul(0x9e37_79b9) % ((F + 1) * span);
                if let Some(e) = xa.load(i, &g) {
                    assert_eq!(e.as_ptr(), Some(&(i * 7)));
                }
                for (i, e) in xa.range(i..i + 3 * F, &g) {
                    assert_eq!(e.as_ptr(), Some(&(i * 7)));
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(xa.is_empty());
    xa.check_invariants();
}

#[test]
fn racing_inserters_exactly_one_wins() {
    let rounds = if cfg!(miri) { 4 } else { 500 };
    let xa: Arc<XArray<Box<u64>>> = Arc::new(XArray::new());
    for r in 0..rounds {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                let (xa, barrier) = (xa.clone(), barrier.clone());
                thread::spawn(move || {
                    let g = xa.pin();
                    barrier.wait();
                    xa.insert(r * F * F, Box::new(t), &g).is_ok()
                })
            })
            .collect();
        let wins: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(wins.iter().filter(|&&w| w).count(), 1);
        let g = xa.pin();
        let winner = wins.iter().position(|&w| w).unwrap() as u64;
        assert_eq!(
            xa.load(r * F * F, &g).and_then(Entry::as_ptr),
            Some(&winner)
        );
    }
    assert_eq!(xa.len(), rounds as usize);
}

// ---------------------------------------------------------------------------
// SwapCache
// ---------------------------------------------------------------------------

#[test]
fn swap_cache_add_get_delete() {
    let cache: SwapCache<Box<String>> = SwapCache::new(3 * SWAP_ADDRESS_SPACE_PAGES + 10);
    let g = cache.pin();
    assert_eq!(cache.stats().address_spaces, 0);
    assert!(cache.get(5, &g).is_none());

    assert_eq!(cache.add(5, Box::new("a".into()), &g).unwrap(), None);
    assert_eq!(cache.get(5, &g).map(String::as_str), Some("a"));
    match cache.add(5, Box::new("b".into()), &g) {
        Err(AddError::Exists { offset: 5, folio }) => assert_eq!(*folio, "b"),
        other => panic!("unexpected {other:?}"),
    }
    // Offsets in other address spaces, including the last partial one.
    let last = cache.nr_slots() - 1;
    cache
        .add(SWAP_ADDRESS_SPACE_PAGES, Box::new("c".into()), &g)
        .unwrap();
    cache.add(last, Box::new("d".into()), &g).unwrap();
    assert_eq!(cache.get(last, &g).map(String::as_str), Some("d"));
    assert!(cache.get(SWAP_ADDRESS_SPACE_PAGES + 5, &g).is_none());
    let stats = cache.stats();
    assert_eq!(
        (
            stats.folios,
            stats.address_spaces,
            stats.adds,
            stats.add_exists
        ),
        (3, 3, 3, 1)
    );

    // Out of range: an error for writers, `None` for readers.
    let err = cache
        .add(cache.nr_slots(), Box::new("e".into()), &g)
        .unwrap_err();
    assert!(matches!(err, AddError::OutOfRange { .. }));
    assert_eq!(*err.into_folio(), "e");
    assert!(cache.get(u64::MAX, &g).is_none());
    assert_eq!(
        cache.delete_if(u64::MAX, None, &g, |_| true).unwrap_err(),
        DeleteError::OutOfRange { offset: u64::MAX }
    );

    // Delete removes only the folio it is given.
    let other = String::from("a");
    assert_eq!(
        cache.delete(5, &other, None, &g).unwrap_err(),
        DeleteError::Mismatch { offset: 5 }
    );
    let a = cache.get(5, &g).unwrap();
    assert_eq!(cache.delete(5, a, None, &g).unwrap(), "a");
    assert_eq!(
        cache.delete(5, a, None, &g).unwrap_err(),
        DeleteError::NotCached { offset: 5 }
    );
    // A never-created address space: not cached.
    assert_eq!(
        cache
            .delete_if(2 * SWAP_ADDRESS_SPACE_PAGES, None, &g, |_| true)
            .unwrap_err(),
        DeleteError::NotCached {
            offset: 2 * SWAP_ADDRESS_SPACE_PAGES
        }
    );
    assert_eq!(cache.nr_folios(), 2);
    assert_eq!(cache.stats().deletes, 1);
}

#[test]
fn swap_cache_shadows() {
    let cache: SwapCache<u32> = SwapCache::new(100);
    let g = cache.pin();
    cache.add(7, 70, &g).unwrap();
    let f = cache.get(7, &g).unwrap();
    // Delete leaving a shadow: the slot now holds a value, not a folio.
    cache.delete(7, f, Some(val(1234)), &g).unwrap();
    assert!(cache.get(7, &g).is_none());
    assert_eq!(cache.get_shadow(7, &g), Some(val(1234)));
    let stats = cache.stats();
    assert_eq!((stats.folios, stats.shadows), (0, 1));
    // A shadow is not a folio: deleting fails, adding replaces it and hands
    // the shadow to the caller (workingset refault detection).
    assert_eq!(
        cache.delete_if(7, None, &g, |_| true).unwrap_err(),
        DeleteError::NotCached { offset: 7 }
    );
    assert_eq!(cache.add(7, 71, &g).unwrap(), Some(val(1234)));
    assert_eq!(cache.get(7, &g), Some(71));
    assert_eq!(cache.get_shadow(7, &g), None);
    // clear_shadow leaves folios alone.
    assert_eq!(cache.clear_shadow(7, &g), None);
    assert_eq!(cache.get(7, &g), Some(71));
    let f = cache.get(7, &g).unwrap();
    cache.delete(7, f, Some(val(5)), &g).unwrap();
    assert_eq!(cache.clear_shadow(7, &g), Some(val(5)));
    assert_eq!(cache.get_shadow(7, &g), None);
    assert_eq!(cache.stats().shadows, 0);
}

#[test]
fn swap_cache_with_arc_folios() {
    // The fault path stores `Arc<Folio>`: it gets clones out and deletes by
    // `Arc::ptr_eq`.
    let cache: SwapCache<Arc<u64>> = SwapCache::new(SWAP_ADDRESS_SPACE_PAGES);
    let mine = Arc::new(1);
    {
        let g = cache.pin();
        cache.add(3, mine.clone(), &g).unwrap();
    }
    let got = cache.get_cloned(3).unwrap();
    assert!(Arc::ptr_eq(&got, &mine));
    assert!(cache.get_cloned(4).is_none());
    let g = cache.pin();
    let impostor = Arc::new(1);
    assert_eq!(
        cache
            .delete_if(3, None, &g, |c| c.ptr_eq(&impostor))
            .unwrap_err(),
        DeleteError::Mismatch { offset: 3 }
    );
    assert!(cache.delete_if(3, None, &g, |c| c.ptr_eq(&mine)).is_ok());
    assert!(cache.get(3, &g).is_none());
}

#[test]
fn swap_cache_racing_adds_seed_002() {
    // Swap-out adding an old folio for a new slot against readahead adding
    // a new folio for the same slot: exactly one gets in.
    let rounds = if cfg!(miri) { 3 } else { 300 };
    let cache: Arc<SwapCache<u32>> = Arc::new(SwapCache::new(4 * SWAP_ADDRESS_SPACE_PAGES));
    for r in 0..rounds {
        // Spread the rounds over the address spaces, so that the lazy
        // creation of a tree races too.
        let offset = (r % 4) * SWAP_ADDRESS_SPACE_PAGES + r;
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                let t = t as u32;
                let (cache, barrier) = (cache.clone(), barrier.clone());
                thread::spawn(move || {
                    let g = cache.pin();
                    barrier.wait();
                    match cache.add(offset, t, &g) {
                        Ok(_) => true,
                        Err(e) => {
                            assert_eq!(e.into_folio(), t);
                            false
                        }
                    }
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&w| w)
            .count();
        assert_eq!(wins, 1);
    }
    let stats = cache.stats();
    assert_eq!(
        (stats.folios, stats.adds, stats.add_exists),
        (rounds as usize, rounds as usize, rounds as usize)
    );
    assert_eq!(stats.address_spaces, 4.min(rounds as usize));
}

#[test]
fn swap_cache_drop_frees_folios() {
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..10).map(|_| AtomicUsize::new(0)).collect());
    let collector = Collector::new();
    let handle = collector.register();
    let cache = SwapCache::with_collector(2 * SWAP_ADDRESS_SPACE_PAGES, collector.clone());
    {
        let g = handle.pin();
        for id in 0..10 {
            let offset = id as u64 * 3000;
            cache
                .add(
                    offset,
                    Box::new(Tracked {
                        id,
                        drops: drops.clone(),
                    }),
                    &g,
                )
                .unwrap();
        }
        let f = cache.get(0, &g).unwrap();
        cache.delete(0, f, None, &g).unwrap();
    }
    collect(&handle);
    assert_eq!(drops[0].load(Ordering::Relaxed), 1);
    drop(cache);
    for id in 0..10 {
        assert_eq!(drops[id].load(Ordering::Relaxed), 1, "id {id}");
    }
}

#[test]
fn swap_cache_add_unchecked_replaces() {
    let cache: SwapCache<Box<String>> = SwapCache::new(16);
    let g = cache.pin();
    assert_eq!(
        cache.add_unchecked(3, Box::new("old".into()), &g).unwrap(),
        None
    );
    let displaced = cache.add_unchecked(3, Box::new("new".into()), &g).unwrap();
    assert_eq!(displaced.map(String::as_str), Some("old"));
    assert_eq!(cache.get(3, &g).map(String::as_str), Some("new"));
    assert_eq!(cache.nr_folios(), 1);
    match cache.add_unchecked(16, Box::new("x".into()), &g) {
        Err(AddError::OutOfRange { offset: 16, folio }) => assert_eq!(*folio, "x"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn arc_entries_hold_one_count_until_the_grace_period() {
    let collector = Collector::new();
    let handle = collector.register();
    let xa: XArray<Arc<u64>> = XArray::with_collector(collector.clone());
    let a = Arc::new(7u64);
    {
        let g = handle.pin();
        xa.insert(1, a.clone(), &g).unwrap();
        assert_eq!(Arc::strong_count(&a), 2, "the tree holds one count");
        let r = xa.load(1, &g).and_then(Entry::as_ptr).unwrap();
        assert_eq!(*r, 7);
        let mine = r.to_arc();
        assert_eq!(Arc::strong_count(&a), 3);
        drop(mine);
        xa.remove(1, &g).unwrap();
        // Retired, not dropped: `g` may still borrow it.
        assert_eq!(Arc::strong_count(&a), 2);
        assert_eq!(*r, 7);
    }
    collect(&handle);
    assert_eq!(Arc::strong_count(&a), 1, "the retired count was dropped");
    // Dropping the tree drops the counts of what it still holds.
    xa.insert(2, a.clone(), &handle.pin()).unwrap();
    drop(xa);
    assert_eq!(Arc::strong_count(&a), 1);
}

// ---------------------------------------------------------------------------
// Multi-index ranges
// ---------------------------------------------------------------------------

#[test]
fn ranges_insert_and_remove_whole() {
    let collector = Collector::new();
    let handle = collector.register();
    let xa: XArray<Arc<u64>> = XArray::with_collector(collector.clone());
    let folio = Arc::new(16u64);
    let g = handle.pin();
    // Into an empty tree beyond the first leaf (interior nodes are created,
    // the leaf is published last), then next to an existing entry.
    xa.insert_range(F * 3 + 16, 4, folio.clone(), &g).unwrap();
    assert_eq!(Arc::strong_count(&folio), 17, "one count per slot");
    xa.insert(F * 3 + 1, Arc::new(1), &g).unwrap();
    xa.check_invariants();
    assert_eq!(xa.ptr_count(), 17);
    for i in F * 3 + 16..F * 3 + 32 {
        let r = xa.load(i, &g).and_then(Entry::as_ptr).unwrap();
        assert!(r.ptr_eq(&folio), "index {i}");
    }
    assert!(xa.load(F * 3 + 32, &g).is_none());
    // Overlap: refused with the first occupied index, nothing changed.
    let other = Arc::new(0u64);
    match xa.insert_range(F * 3, 5, other.clone(), &g) {
        Err(InsertRangeError::Occupied { index, item }) => {
            assert_eq!(index, F * 3 + 1);
            assert!(Arc::ptr_eq(&item, &other));
        }
        r => panic!("{r:?}"),
    }
    // Malformed ranges.
    assert!(matches!(
        xa.insert_range(F * 3 + 8, 4, other.clone(), &g),
        Err(InsertRangeError::Bad {
            reason: BadRange::Unaligned { start, nr: 16 },
            ..
        }) if start == F * 3 + 8
    ));
    assert!(matches!(
        xa.insert_range(0, MAX_RANGE_ORDER + 1, other.clone(), &g),
        Err(InsertRangeError::Bad {
            reason: BadRange::OrderTooLarge { .. },
            ..
        })
    ));
    assert_eq!(Arc::strong_count(&other), 1);
    assert_eq!(xa.ptr_count(), 17);
    // Remove: the expected entry must be at every index.
    let loaded = xa.load(F * 3 + 16, &g).unwrap();
    match xa.remove_range(F * 3, 5, loaded, &g) {
        Err(RemoveRangeError::Mismatch { index, current }) => {
            assert_eq!(index, F * 3);
            assert!(current.is_none());
        }
        r => panic!("{r:?}"),
    }
    let removed = xa.remove_range(F * 3 + 16, 4, loaded, &g).unwrap();
    assert!(removed.same(loaded));
    xa.check_invariants();
    assert_eq!(xa.ptr_count(), 1);
    assert!(xa.load(F * 3 + 20, &g).is_none());
    drop(g);
    collect(&handle);
    assert_eq!(
        Arc::strong_count(&folio),
        1,
        "the 16 retired counts dropped"
    );
    // A range that fills a whole leaf, removed: the leaf empties and is
    // pruned, the tree shrinks back.
    let g = handle.pin();
    xa.remove(F * 3 + 1, &g).unwrap();
    xa.insert_range(0, MAX_RANGE_ORDER, folio.clone(), &g)
        .unwrap();
    assert_eq!(xa.height(), 1);
    let e = xa.load(F - 1, &g).unwrap();
    xa.remove_range(0, MAX_RANGE_ORDER, e, &g).unwrap();
    assert!(xa.is_empty());
    xa.check_invariants();
    drop(g);
    collect(&handle);
    assert_eq!(Arc::strong_count(&folio), 1);
}

#[test]
fn swap_cache_large_folios() {
    let cache: SwapCache<u32> = SwapCache::new(3 * SWAP_ADDRESS_SPACE_PAGES - 8);
    let g = cache.pin();
    // A shadow in the range is replaced and handed back.
    cache.add(33, 7, &g).unwrap();
    cache.delete(33, 7, Some(val(99)), &g).unwrap();
    assert_eq!(cache.add_range(32, 16, 500, &g).unwrap(), Some(val(99)));
    for off in 32..48 {
        assert_eq!(cache.get(off, &g), Some(500), "offset {off}");
    }
    assert_eq!(cache.stats().folios, 16);
    // Occupied: the first cached slot is named, nothing changes.
    match cache.add_range(32, 32, 600, &g) {
        Err(AddError::Exists {
            offset: 32,
            folio: 600,
        }) => {}
        r => panic!("{r:?}"),
    }
    cache.add(66, 1, &g).unwrap();
    match cache.add_range(64, 4, 600, &g) {
        Err(AddError::Exists {
            offset: 66,
            folio: 600,
        }) => {}
        r => panic!("{r:?}"),
    }
    assert_eq!(cache.get(64, &g), None);
    // Bad input, each kind, nothing changed.
    let bad = |offset, nr| match cache.add_range(offset, nr, 9, &g) {
        Err(AddError::BadRange { reason, folio: 9 }) => reason,
        r => panic!("{offset} {nr}: {r:?}"),
    };
    assert_eq!(bad(0, 0), BadRange::Empty);
    assert_eq!(bad(0, 12), BadRange::NotPowerOfTwo { nr: 12 });
    assert!(matches!(
        bad(0, 128),
        BadRange::OrderTooLarge { order: 7, .. }
    ));
    assert_eq!(bad(8, 16), BadRange::Unaligned { start: 8, nr: 16 });
    let end = cache.nr_slots();
    assert_eq!(
        bad(end - 8, 16),
        BadRange::BeyondEnd {
            start: end - 8,
            nr: 16,
            end
        }
    );
    assert_eq!(
        bad(end - 8 + 8, 8),
        BadRange::BeyondEnd {
            start: end,
            nr: 8,
            end
        }
    );
    // Across a tree boundary: only possible unaligned.
    assert_eq!(
        bad(SWAP_ADDRESS_SPACE_PAGES - 32, 64),
        BadRange::Unaligned {
            start: SWAP_ADDRESS_SPACE_PAGES - 32,
            nr: 64
        }
    );
    // The last full range of the device, in the last (partial) tree.
    cache.add_range(end - 8, 8, 700, &g).unwrap();
    assert_eq!(cache.stats().folios, 16 + 1 + 8);

    // Delete: all or nothing, by identity.
    assert_eq!(
        cache.delete_range(32, 16, 501, None, &g).unwrap_err(),
        DeleteError::Mismatch { offset: 32 }
    );
    assert_eq!(
        cache.delete_range(32, 32, 500, None, &g).unwrap_err(),
        DeleteError::NotCached { offset: 48 }
    );
    assert_eq!(
        cache.delete_range(32, 3, 500, None, &g).unwrap_err(),
        DeleteError::BadRange(BadRange::NotPowerOfTwo { nr: 3 })
    );
    assert_eq!(cache.delete_range(32, 16, 500, Some(val(5)), &g), Ok(500));
    for off in 32..48 {
        assert_eq!(cache.get(off, &g), None);
        assert_eq!(cache.get_shadow(off, &g), Some(val(5)));
    }
    assert_eq!(cache.delete_range(end - 8, 8, 700, None, &g), Ok(700));
    let stats = cache.stats();
    assert_eq!((stats.folios, stats.shadows), (1, 16));
}
