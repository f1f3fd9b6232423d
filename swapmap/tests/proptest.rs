//! Random operation sequences against the sequential reference model
//! (`swapmap::reference`), continuation counts and notifications included.

use proptest::prelude::*;
use swapmap::reference::{Harness, Op, Target};

fn target(nr_slots: u64) -> impl Strategy<Value = Target> + Clone {
    prop_oneof![
        4 => (0usize..64).prop_map(Target::Used),
        1 => (0..nr_slots + 3).prop_map(Target::Raw),
    ]
}

fn op(nr_slots: u64) -> impl Strategy<Value = Op> {
    let t = target(nr_slots);
    prop_oneof![
        6 => Just(Op::Alloc),
        4 => t.clone().prop_map(Op::Duplicate),
        1 => (t.clone(), 1u16..200).prop_map(|(t, n)| Op::DuplicateMany(t, n)),
        1 => t.clone().prop_map(Op::DuplicateIfSingle),
        3 => t.clone().prop_map(Op::Prepare),
        4 => t.clone().prop_map(Op::Clear),
        6 => t.clone().prop_map(Op::Free),
        2 => t.clone().prop_map(Op::FreeAndClear),
        2 => t.clone().prop_map(Op::SyncAcquire),
        2 => t.clone().prop_map(Op::SyncRelease),
        1 => t.clone().prop_map(Op::SyncReleaseFree),
        1 => t.prop_map(Op::MarkBad),
    ]
}

fn config() -> impl Strategy<Value = (u64, u32, u32)> {
    // (slots, cluster size, continuation limit): tiny clusters and limits so
    // that list moves, exhaustion and count overflow all happen.
    (
        2u64..40,
        prop_oneof![Just(2u32), Just(4), Just(8), Just(512)],
        1u32..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference_model(
        (n, cs, limit) in config(),
        ops in prop::collection::vec(op(40), 1..200),
    ) {
        let mut h = Harness::new(n, cs, limit).unwrap();
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
    let first = model.apply(0, Op::Alloc, Some(3)).unwrap();
    assert_eq!(first, swapmap::reference::Outcome::Alloc(Some(3)));
    assert!(model.apply(0, Op::Alloc, Some(3)).is_err());
    assert!(model.apply(0, Op::Alloc, None).is_err());
}
