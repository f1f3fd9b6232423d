//! The swap-stress-race reproducer against each strategy.
//!
//! `cargo run --release -p fault_path --example race -- [ROUNDS] [DELAY_US] [STRATEGY...]`
//!
//! Environment: `PAGES`, `SLOTS` (device size), `WORKERS`, `CHUNK` (pages per
//! page-out), `EVERY` (delay one read in N), `VERBOSE` (print all counters).
//! The reproducer's recipe for slot reuse:
//! `PAGES=16 SLOTS=3 WORKERS=4 CHUNK=16 EVERY=1 ... -- 30 100 bypass`.
//! `ZSWAP=exclusive|exclusive-if-cached` puts zswap in front of the device.

use std::time::{Duration, Instant};

use fault_path::harness::{DeviceKind, RaceConfig, run_race};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let delay_us: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let mut strategies: Vec<String> = args.collect();
    if strategies.is_empty() {
        strategies = fault_path::strategy::names()
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    for s in strategies {
        for device in [DeviceKind::Ramdisk, DeviceKind::Zram] {
            let env = |k: &str, d: usize| {
                std::env::var(k)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(d)
            };
            let cfg = RaceConfig {
                strategy: s.clone(),
                rounds,
                device,
                pages: env("PAGES", 256),
                swap_slots: env("SLOTS", 64) as u64,
                workers: env("WORKERS", 2),
                chunk: env("CHUNK", 16),
                delay: (delay_us > 0)
                    .then(|| (Duration::from_micros(delay_us), env("EVERY", 4) as u32)),
                zswap: std::env::var("ZSWAP")
                    .ok()
                    .and_then(|z| fault_path::ZswapLoad::from_name(&z)),
                ..RaceConfig::default()
            };
            let t = Instant::now();
            let verbose = std::env::var("VERBOSE").is_ok();
            match run_race(&cfg) {
                Ok(r) if verbose => println!("{s} {device:?} {:?}", r.stats),
                Ok(r) => println!(
                    "{s:>10} {device:?}: {} rounds in {:.2?}: loss {} misload {} excess {} first bad {:?} accounting {:?} | faults {} retries {} pte_same_fail {} pin_busy {} cache_waits {}",
                    r.rounds,
                    t.elapsed(),
                    r.data_loss,
                    r.misload,
                    r.excess,
                    r.first_bad_round,
                    r.accounting.iter().take(3).collect::<Vec<_>>(),
                    r.stats.faults,
                    r.stats.retries,
                    r.stats.pte_same_fail,
                    r.stats.pin_busy,
                    r.stats.cache_waits
                ),
                Err(e) => println!("{s}: error {e}"),
            }
        }
    }
}
