//! Random operation sequences against the sequential reference model
//! (`swapmap::reference`), continuation counts, notifications and the swap
//! table included, on maps with and without a swap table.

use std::num::NonZeroU64;

use proptest::prelude::*;
use swapmap::reference::{Harness, Op, RangeKind, Target, Val};

fn target(nr_slots: u64) -> impl Strategy<Value = Target> + Clone {
    prop_oneof![
        4 => (0usize..64).prop_map(Target::Used),
        1 => (0..nr_slots + 3).prop_map(Target::Raw),
        2 => Just(Target::Last),
    ]
}

/// Mostly the slot's current value (a delete that matches), else a small
/// literal, so that values collide across slots.
fn val() -> impl Strategy<Value = Val> + Clone {
    prop_oneof![
        1 => Just(Val::Current),
        1 => (1u64..5).prop_map(|x| Val::Lit(NonZeroU64::new(x).unwrap())),
    ]
}

/// A batch for `table_prepare_add_many`: a readahead window (consecutive
/// in-use slots, distinct values) or arbitrary items, with a results slice
/// one short, exact, or one long.
fn batch(nr_slots: u64) -> impl Strategy<Value = Op> {
    let window = (0usize..64, 0usize..=8, 1u64..100).prop_map(|(first, n, v)| {
        (0..n)
            .map(|i| {
                let v = NonZeroU64::new(v + i as u64).unwrap();
                (Target::Used(first + i), Val::Lit(v))
            })
            .collect::<Vec<_>>()
    });
    let items = prop_oneof![
        window,
        prop::collection::vec((target(nr_slots), val()), 0..=8),
    ];
    (
        items,
        prop_oneof![4 => Just(0usize), 1 => Just(1), 1 => Just(2)],
    )
        .prop_map(|(items, d)| {
            let results = match d {
                0 => items.len(),
                1 => items.len().saturating_sub(1),
                _ => items.len() + 1,
            };
            Op::TablePrepareAddMany { items, results }
        })
}

fn op(nr_slots: u64) -> impl Strategy<Value = Op> {
    let t = target(nr_slots);
    prop_oneof![
        6 => Just(Op::Alloc),
        4 => t.clone().prop_map(Op::Duplicate),
        1 => (t.clone(), 1u16..200).prop_map(|(t, n)| Op::DuplicateMany(t, n)),
        1 => t.clone().prop_map(Op::DuplicateIfSingle),
        3 => t.clone().prop_map(Op::Prepare),
        2 => t.clone().prop_map(Op::PrepareSingle),
        4 => t.clone().prop_map(Op::Clear),
        6 => t.clone().prop_map(Op::Free),
        2 => t.clone().prop_map(Op::FreeAndClear),
        2 => t.clone().prop_map(Op::SyncAcquire),
        2 => t.clone().prop_map(Op::SyncRelease),
        1 => t.clone().prop_map(Op::SyncReleaseFree),
        1 => t.clone().prop_map(Op::MarkBad),
        1 => t.clone().prop_map(Op::HasCountOrdered),
        1 => t.clone().prop_map(Op::TableGet),
        4 => (t.clone(), val()).prop_map(|(t, v)| Op::TableAdd(t, v)),
        2 => (t.clone(), val()).prop_map(|(t, v)| Op::TableDel(t, v)),
        2 => (t, val()).prop_map(|(t, v)| Op::TableDelFreeAndClear(t, v)),
        3 => batch(nr_slots),
        3 => (0u32..=4).prop_map(Op::AllocOrder),
        10 => range(nr_slots),
    ]
}

/// A folio's life on the map, as the fault path drives it: allocate an
/// aligned run of an order, give it the PTEs' references and drop the
/// allocation's pin (swap-out), then one of the swap-in endings on the whole
/// range: pinned bypass, `SWAP_MAP_SYNC`, the swap cache, or a zap.
fn folio_chain() -> impl Strategy<Value = Vec<Op>> {
    let r = |kind, nr| Op::Range {
        kind,
        at: Target::Last,
        nr,
        align: true,
        val: Val::Lit(NonZeroU64::new(9).unwrap()),
    };
    (1u32..=3, 0usize..6).prop_map(move |(order, end)| {
        use RangeKind::*;
        let nr = 1 << order;
        let mut v = vec![Op::AllocOrder(order), r(Duplicate, nr), r(Clear, nr)];
        v.extend(match end {
            0 => vec![r(PrepareSingle, nr), r(FreeAndClear, nr)],
            1 => vec![r(SyncAcquire, nr), r(SyncReleaseFree, nr)],
            2 => vec![r(Prepare, nr), r(TableAdd, nr), r(TableDelFreeAndClear, nr)],
            3 => vec![r(SyncAcquire, nr), r(SyncAcquire, nr), r(SyncRelease, nr)],
            4 => vec![
                r(Prepare, nr),
                r(TableAdd, nr),
                r(TableDel, nr),
                r(Clear, nr),
            ],
            _ => vec![r(Free, nr)],
        });
        v
    })
}

/// Operation sequences: single operations interleaved with folio chains.
fn ops(nr_slots: u64) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            12 => op(nr_slots).prop_map(|o| vec![o]),
            1 => folio_chain(),
        ],
        1..150,
    )
    .prop_map(|v| v.into_iter().flatten().collect())
}

/// A range operation: any kind, mostly on a folio's aligned range of 2-8
/// slots of a live slot, sometimes of 1, 3 (unaligned), 16 (crossing small
/// clusters) or 0 slots.
fn range(nr_slots: u64) -> impl Strategy<Value = Op> {
    (
        prop::sample::select(RangeKind::ALL.to_vec()),
        target(nr_slots),
        prop_oneof![2 => Just(1u32), 4 => Just(2), 4 => Just(4), 2 => Just(8), 1 => Just(3), 1 => Just(16), 1 => Just(0)],
        prop_oneof![5 => Just(true), 1 => Just(false)],
        val(),
    )
        .prop_map(|(kind, at, nr, align, val)| Op::Range {
            kind,
            at,
            nr,
            align,
            val,
        })
}

fn config() -> impl Strategy<Value = (u64, u32, u32, bool)> {
    // (slots, cluster size, continuation limit, swap table): tiny clusters
    // and limits so that list moves, exhaustion and count overflow all
    // happen; a map without a table checks that every table operation is
    // refused.
    (
        2u64..40,
        prop_oneof![Just(2u32), Just(4), Just(8), Just(512)],
        1u32..4,
        prop_oneof![3 => Just(true), 1 => Just(false)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference_model(
        (n, cs, limit, table) in config(),
        ops in ops(40),
    ) {
        let mut h = Harness::with_table(n, cs, limit, table).unwrap();
        if let Err(m) = h.run(&ops) {
            return Err(TestCaseError::fail(m.to_string()));
        }
    }
}

#[test]
fn reference_model_catches_a_wrong_result() {
    // The harness must not be vacuous: the model rejects an alloc of a slot
    // it thinks is in use.
    let mut model = swapmap::reference::Model::new(8, 4);
    let first = model.apply(0, &Op::Alloc, Some(3)).unwrap();
    assert_eq!(first, swapmap::reference::Outcome::Alloc(Some(3)));
    assert!(model.apply(0, &Op::Alloc, Some(3)).is_err());
    assert!(model.apply(0, &Op::Alloc, None).is_err());
}

/// The name of a result: `Ok(..)` with its value for booleans and puts,
/// else the error variant.
fn result_name(r: String) -> String {
    let r = r.trim_start_matches("Err(");
    let end = r.find([' ', '(', ')', '{', ',']).unwrap_or(r.len());
    let name = &r[..end];
    if name == "Ok"
        && (r.starts_with("Ok(true")
            || r.starts_with("Ok(false")
            || r.starts_with("Ok(Yes")
            || r.starts_with("Ok(No"))
    {
        r[..=r.find(')').unwrap()].to_string()
    } else {
        name.to_string()
    }
}

/// The generator is what makes the model a check: random sequences must
/// reach every result of the operations added with the swap table, and a
/// swap-table value left behind on a free slot by a pin dropped without a
/// delete (the protocol breach the map does not refuse).
#[test]
fn random_sequences_reach_every_table_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;
    use swapmap::SlotState;
    use swapmap::reference::Outcome;

    let mut runner = TestRunner::deterministic();
    let strat = (config(), prop::collection::vec(op(40), 1..200));
    let mut seen = BTreeSet::new();
    for _ in 0..256 {
        let ((n, cs, limit, table), ops) = strat.new_tree(&mut runner).unwrap().current();
        let mut h = Harness::with_table(n, cs, limit, table).unwrap();
        for op in &ops {
            let name = format!("{op:?}");
            let name = name[..name.find([' ', '(']).unwrap_or(name.len())].to_string();
            let results = match h.step(op).unwrap() {
                Outcome::Many(rs) => rs.iter().map(|r| format!("{r:?}")).collect(),
                Outcome::Unit(r) => vec![format!("{r:?}")],
                Outcome::Put(r) => vec![format!("{r:?}")],
                Outcome::Bool(r) => vec![format!("{r:?}")],
                Outcome::Value(r) => vec![format!("{r:?}")],
                Outcome::Alloc(_) | Outcome::AllocOrder(_) | Outcome::PutNr(_) => vec![],
            };
            for r in results {
                seen.insert(format!("{name} {}", result_name(r)));
            }
            let m = h.model();
            if (1..n)
                .any(|s| m.state(s) == SlotState::Free && m.table_get(s).is_ok_and(|v| v.is_some()))
            {
                seen.insert("stale value on a free slot".to_string());
            }
        }
    }
    let want = [
        "PrepareSingle Ok",
        "PrepareSingle NotSingle",
        "PrepareSingle Exists",
        "PrepareSingle NoEntry",
        "PrepareSingle Bad",
        "PrepareSingle OutOfRange",
        "HasCountOrdered Ok(true)",
        "HasCountOrdered Ok(false)",
        "HasCountOrdered Bad",
        "HasCountOrdered OutOfRange",
        "TableGet Ok",
        "TableGet NoTable",
        "TableGet OutOfRange",
        "TableAdd Ok",
        "TableAdd Exists",
        "TableAdd NotCached",
        "TableAdd NoEntry",
        "TableAdd Bad",
        "TableAdd NoTable",
        "TableAdd OutOfRange",
        "TableDel Ok",
        "TableDel TableMismatch",
        "TableDel NoTable",
        "TableDel OutOfRange",
        "TableDelFreeAndClear Ok(Yes)",
        "TableDelFreeAndClear Ok(No)",
        "TableDelFreeAndClear TableMismatch",
        "TableDelFreeAndClear NoCount",
        "TableDelFreeAndClear NotCached",
        "TableDelFreeAndClear NoTable",
        "TableDelFreeAndClear OutOfRange",
        "TablePrepareAddMany Ok",
        "TablePrepareAddMany Exists",
        "TablePrepareAddMany NoEntry",
        "TablePrepareAddMany Bad",
        "TablePrepareAddMany OutOfRange",
        "TablePrepareAddMany NoTable",
        "TablePrepareAddMany InUse",
        "stale value on a free slot",
    ];
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !seen.contains(*w))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nreached: {seen:#?}"
    );
}

/// Random sequences reach every outcome of the large-folio operations:
/// allocations of each order that succeed and fall back, and for every range
/// kind a success over several slots and each range error.
#[test]
fn random_sequences_reach_every_range_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;
    use swapmap::reference::Outcome;

    let mut runner = TestRunner::deterministic();
    let strat = (config(), ops(40));
    let mut seen = BTreeSet::new();
    for _ in 0..512 {
        let ((n, cs, limit, table), ops) = strat.new_tree(&mut runner).unwrap().current();
        let mut h = Harness::with_table(n, cs, limit, table).unwrap();
        for op in &ops {
            let got = h.step(op).unwrap();
            let name = match (op, &got) {
                (Op::AllocOrder(o), Outcome::AllocOrder(Ok(Some(_)))) => {
                    format!("AllocOrder({o}) Some")
                }
                (Op::AllocOrder(o), Outcome::AllocOrder(Ok(None))) if *o > 0 => {
                    "AllocOrder fallback".to_string()
                }
                (Op::AllocOrder(_), Outcome::AllocOrder(r)) => {
                    format!("AllocOrder {}", result_name(format!("{r:?}")))
                }
                (Op::Range { kind, nr, .. }, Outcome::Unit(Ok(()))) if *nr > 1 => {
                    format!("{kind:?} Ok nr>1")
                }
                (Op::Range { kind, nr, .. }, Outcome::PutNr(Ok(f))) if *nr > 1 => {
                    format!("{kind:?} Ok nr>1{}", if *f > 0 { " freed" } else { "" })
                }
                (Op::Range { kind, .. }, Outcome::Unit(r)) => {
                    format!("{kind:?} {}", result_name(format!("{r:?}")))
                }
                (Op::Range { kind, .. }, Outcome::PutNr(r)) => {
                    format!("{kind:?} {}", result_name(format!("{r:?}")))
                }
                _ => continue,
            };
            seen.insert(name);
        }
    }
    let mut want: Vec<String> = [
        "AllocOrder(1) Some",
        "AllocOrder(2) Some",
        "AllocOrder(3) Some",
        "AllocOrder fallback",
        "AllocOrder OrderTooLarge",
        "Prepare Exists",
        "PrepareSingle NotSingle",
        "SyncAcquire Sync",
        "SyncRelease Ok nr>1 freed",
        "SyncReleaseFree NotSync",
        "Clear Ok nr>1 freed",
        "Clear NotCached",
        "Free Ok nr>1 freed",
        "Free NoCount",
        "FreeAndClear Ok nr>1 freed",
        "FreeAndClear NotCached",
        "Duplicate NoEntry",
        "TableAdd NotCached",
        "TableAdd NoTable",
        "TableDel TableMismatch",
        "TableDelFreeAndClear Ok nr>1 freed",
        "TableDelFreeAndClear TableMismatch",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for kind in RangeKind::ALL {
        want.push(format!("{kind:?} Ok nr>1"));
        for e in ["EmptyRange", "OutOfRange", "CrossesCluster"] {
            want.push(format!("{kind:?} {e}"));
        }
        if kind.aligned() {
            want.push(format!("{kind:?} Unaligned"));
        }
    }
    let missing: Vec<&String> = want
        .iter()
        .filter(|w| !seen.iter().any(|s| s.starts_with(w.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nreached: {seen:#?}"
    );
}
