//! The race harness (swap-stress-race's shape) across strategies.
//!
//! Fixed strategies must report zero loss and zero misload over many
//! rounds, with the accounting closed. `bypass` with a read delay on a tiny
//! ram disk must lose data within a bounded number of rounds (seed 004's
//! ABA), and the harness must report it.

use std::time::Duration;

use fault_path::SwapCacheKind;
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
        zswap: None,
        swap_cache: SwapCacheKind::default(),
        ..RaceConfig::default()
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
fn empty_races_are_refused() {
    for cfg in [
        RaceConfig {
            pages: 0,
            ..RaceConfig::default()
        },
        RaceConfig {
            workers: 0,
            ..RaceConfig::default()
        },
        RaceConfig {
            rounds: 0,
            ..RaceConfig::default()
        },
    ] {
        let e = run_race(&cfg).unwrap_err();
        assert!(matches!(e, fault_path::FaultError::Config(_)), "{e:?}");
    }
    // Too big for the model's frame numbers: refused, not truncated.
    let big = RaceConfig {
        pages: 1 << 31,
        ..RaceConfig::default()
    };
    assert!(matches!(
        run_race(&big),
        Err(fault_path::FaultError::Config(_))
    ));
    // A chunk of 0 pages is taken as 1 (whether the pager gets to page
    // anything out before the workers finish one round is up to timing).
    let r = run_race(&RaceConfig {
        chunk: 0,
        rounds: 1,
        ..RaceConfig::default()
    })
    .unwrap();
    assert!(r.clean() && r.rounds == 1, "{r:?}");
}

#[test]
fn swapcache_on_the_xarray_never_loses_data() {
    // The swap-cache path with the pre-6.18 swap cache (the xarray, with
    // its epoch-protected lookups and node reuse) under the same stress.
    for device in [DeviceKind::Ramdisk, DeviceKind::Zram] {
        let cfg = RaceConfig {
            swap_cache: SwapCacheKind::XArray,
            ..tight("swapcache", device, 11)
        };
        let r = run_race(&cfg).unwrap();
        assert!(r.clean(), "{device:?}: {r:#?}");
        assert!(r.stats.faults > 0 && r.stats.pageouts > 0, "{r:?}");
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

/// Race 2 (seed 001) under stress: four workers on four pages held by zswap
/// with always-exclusive loads.
fn zswap_tight(strategy: &str, load: fault_path::ZswapLoad, seed: u64) -> RaceConfig {
    RaceConfig {
        strategy: strategy.into(),
        pages: 4,
        swap_slots: 64,
        workers: 4,
        rounds: 100,
        chunk: 4,
        device: DeviceKind::Ramdisk,
        delay: None,
        seed,
        readahead: 8,
        zswap: Some(load),
        swap_cache: SwapCacheKind::default(),
        ..RaceConfig::default()
    }
}

#[test]
fn bypass_with_exclusive_zswap_misloads() {
    let mut attempts = 0;
    let found = (0..10).find_map(|seed| {
        attempts += 1;
        let r = run_race(&zswap_tight(
            "bypass",
            fault_path::ZswapLoad::Exclusive,
            seed,
        ))
        .unwrap();
        assert!(r.accounting.is_empty(), "{r:#?}");
        (r.misload > 0).then_some(r)
    });
    assert!(found.is_some(), "no misload in {attempts} attempts");
}

/// Always-exclusive loads are safe only for the strategies that never read
/// into a folio they may drop: the pinned bypasses (`pin-retry`,
/// `sync-map`) can pin a slot a page-out has reused under a stale fault,
/// erase the new page's zswap entry and then fail `pte_same` (the data
/// loss 25cd241408a2 fixed; shuttle's
/// `race2_zswap_exclusive_pageout_*_negative_control`), so they run with
/// `exclusive-if-cached` here.
#[test]
fn pinned_strategies_with_exclusive_zswap_are_clean() {
    use fault_path::ZswapLoad::{Exclusive, ExclusiveIfCached};
    for (s, load) in [
        ("pin-retry", ExclusiveIfCached),
        ("sync-map", ExclusiveIfCached),
        ("pte-marker", Exclusive),
        ("swapcache", Exclusive),
    ] {
        let mut cfg = zswap_tight(s, load, 3);
        cfg.rounds = 30;
        let r = run_race(&cfg).unwrap();
        assert!(r.clean(), "{s}: {r:#?}");
        let z = r.stats;
        assert!(z.faults > 0, "{s}: {z:?}");
    }
}

/// Large folios under stress: order-2 folios (and order 0), clusters of 4
/// on a 12-slot device, so that one aligned run is free at a time and its
/// slots are reused as soon as a swap-in frees them; workers in opposite
/// directions and a slow read.
fn large_tight(strategy: &str, bug: Option<fault_path::LargeBug>, seed: u64) -> RaceConfig {
    RaceConfig {
        orders: 1 << 2,
        cluster_size: 4,
        swap_slots: 12,
        pages: 16,
        chunk: 4,
        rounds: 40,
        large_bug: bug,
        ..tight(strategy, DeviceKind::Ramdisk, seed)
    }
}

#[test]
fn large_folio_races_stay_clean_for_the_fixed_strategies() {
    for s in fault_path::strategy::names()
        .into_iter()
        .filter(|&s| s != "bypass")
    {
        let r = run_race(&large_tight(s, None, 5)).unwrap();
        assert!(r.clean(), "{s}: {r:#?}");
        assert!(
            r.stats.thp_swpout > 0,
            "{s}: no large page-out: {:?}",
            r.stats
        );
        if !matches!(s, "swap-count" | "pte-marker" | "swapcache") {
            assert!(
                r.stats.thp_swpin > 0,
                "{s}: no large swap-in: {:?}",
                r.stats
            );
        }
    }
}

/// Race 7, writeback form, under stress: every page in zswap (the 2026
/// RFC's all-in-zswap rule lets whole ranges come back as large folios), a
/// 150-byte pool, so that stores write back constantly, and a shrinker
/// thread writing back the oldest entry while the workers fault. Writeback
/// pins the slot it writes and is refused a held one; a large swap-in
/// re-checks the backend under its hold. `swap-count` is left out: it is
/// unsafe with zswap's exclusive-if-cached loads at order 0 already. A
/// smoke test of the set-up (pins, refusals and the shrinker together
/// neither hang nor leak, accounting closes): at this size it rarely
/// catches the negative controls, which loom (`large_writeback_*`),
/// shuttle (`race7_writeback_*`) and `swapin race --large-bug
/// writeback-ignores-pins` (100,000 rounds a row) do.
#[test]
fn large_swap_ins_racing_zswap_writeback_stay_clean() {
    for s in [
        "pin-retry",
        "pin-sleep",
        "pin-waitqueue",
        "sync-map",
        "swapcache",
    ] {
        let cfg = RaceConfig {
            zswap: Some(fault_path::ZswapLoad::ExclusiveIfCached),
            zswap_large: fault_path::ZswapLarge::AllInZswap,
            zswap_pool_bytes: Some(150),
            zswap_shrinker: true,
            delay: None,
            rounds: 300,
            ..large_tight(s, None, 7)
        };
        let r = run_race(&cfg).unwrap();
        assert!(r.clean(), "{s}: {r:#?}");
        assert!(
            r.stats.thp_swpin > 0,
            "{s}: no large swap-in: {:?}",
            r.stats
        );
    }
}
