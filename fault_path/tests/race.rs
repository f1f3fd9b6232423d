//! The race harness (swap-stress-race's shape) across strategies.
//!
//! Fixed strategies must report zero loss and zero misload over many
//! rounds, with the accounting closed. `bypass` with a read delay on a tiny
//! ram disk must lose data within a bounded number of rounds (seed 004's
//! ABA), and the harness must report it.

use std::time::Duration;

use fault_path::harness::{DeviceKind, RaceConfig, run_race};

/// The reproducer's recipe for slot reuse: a tiny device, workers in pairs
/// walking in opposite directions, a slow read.
fn tight(strategy: &str, device: DeviceKind, seed: u64) -> RaceConfig {
    RaceConfig {
        strategy: strategy.into(),
        pages: 16,
        swap_slots: 3,
        workers: 4,
        rounds: 30,
        chunk: 16,
        device,
        delay: Some((Duration::from_micros(100), 1)),
        seed,
        readahead: 8,
    }
}

#[test]
fn fixed_strategies_never_lose_data() {
    let fixed = fault_path::strategy::names();
    for &s in fixed.iter().filter(|&&s| s != "bypass") {
        for device in [DeviceKind::Ramdisk, DeviceKind::Zram] {
            for cfg in [
                tight(s, device, 7),
                RaceConfig {
                    strategy: s.into(),
                    rounds: 8,
                    device,
                    delay: Some((Duration::from_micros(20), 8)),
                    ..RaceConfig::default()
                },
            ] {
                let r = run_race(&cfg).unwrap();
                assert!(r.clean(), "{s} {device:?}: {r:#?}");
                assert_eq!(r.rounds, cfg.rounds);
                assert!(r.stats.faults > 0 && r.stats.pageouts > 0, "{r:?}");
            }
        }
    }
}

#[test]
fn bypass_loses_data_under_slot_reuse() {
    // Each attempt is 30 rounds (about 0.2 s); the loss shows within the
    // first few rounds in most attempts. Bounded: at most 20 attempts.
    let mut attempts = 0;
    let found = (0..20).find_map(|seed| {
        attempts += 1;
        let r = run_race(&tight("bypass", DeviceKind::Ramdisk, seed)).unwrap();
        // Loss, not a broken harness: the accounting must still close.
        assert!(r.accounting.is_empty(), "{r:#?}");
        (r.data_loss > 0).then_some(r)
    });
    let r = found.unwrap_or_else(|| panic!("no data loss in {attempts} attempts"));
    assert!(r.first_bad_round.is_some());
    assert!(r.stats.pte_same_fail > 0, "{:?}", r.stats);
}
