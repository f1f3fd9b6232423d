//! `swapin race`: `fault_path::harness::run_race` (the swap-stress-race
//! reproducer's shape) for each strategy and seed.

use std::time::{Duration, Instant};

use fault_path::harness::{DeviceKind, RaceConfig, RaceReport, run_race};
use serde::Serialize;

use super::cli::{DeviceArg, RaceArgs, ZswapArg};

/// One strategy over every seed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RaceRow {
    /// Strategy.
    pub strategy: String,
    /// Device (`zswap` means zswap over a ram disk).
    pub device: String,
    /// zswap load mode, if zswap is in front.
    pub zswap: Option<String>,
    /// Runs (seeds).
    pub runs: u64,
    /// Rounds completed, over every run.
    pub rounds: usize,
    /// Lost increments, summed.
    pub data_loss: u64,
    /// Misloaded pages, summed.
    pub misload: u64,
    /// Excess increments, summed.
    pub excess: u64,
    /// Runs with loss, misload or excess.
    pub bad_runs: u64,
    /// Accounting violations (first few, over every run).
    pub accounting: Vec<String>,
    /// Faults, summed.
    pub faults: u64,
    /// Refaults, summed.
    pub retries: u64,
    /// Failed `pte_same` checks, summed.
    pub pte_same_fail: u64,
    /// Pin refusals, summed.
    pub pin_busy: u64,
    /// Waits of every kind, summed.
    pub waits: u64,
    /// Wall time of every run, seconds.
    pub seconds: f64,
}

impl RaceRow {
    /// No loss, misload, excess or accounting violation.
    pub fn clean(&self) -> bool {
        self.data_loss == 0 && self.misload == 0 && self.excess == 0 && self.accounting.is_empty()
    }

    /// Adds one run's report.
    pub fn add(&mut self, r: &RaceReport, took: Duration) {
        self.runs += 1;
        self.rounds += r.rounds;
        self.data_loss += r.data_loss;
        self.misload += r.misload;
        self.excess += r.excess;
        self.bad_runs += u64::from(r.data_loss + r.misload + r.excess > 0);
        for a in r.accounting.iter().take(3) {
            if self.accounting.len() < 5 {
                self.accounting.push(a.clone());
            }
        }
        self.faults += r.stats.faults;
        self.retries += r.stats.retries;
        self.pte_same_fail += r.stats.pte_same_fail;
        self.pin_busy += r.stats.pin_busy;
        self.waits += r.stats.all_waits();
        self.seconds += took.as_secs_f64();
    }
}

/// The harness configuration of `args` for the row `strategy`
/// (`STRATEGY[:table|xarray]`, see [`super::cli::split_row`]) and `seed`.
pub fn config(args: &RaceArgs, strategy: &str, seed: u64) -> Result<RaceConfig, String> {
    let (name, swap_cache) = super::cli::split_row(strategy)?;
    let zswap = match (args.device, args.zswap) {
        (_, Some(z)) => Some(z.into()),
        (DeviceArg::Zswap, None) => Some(ZswapArg::ExclusiveIfCached.into()),
        _ => None,
    };
    Ok(RaceConfig {
        strategy: name.into(),
        pages: args.pages,
        swap_slots: args.slots,
        workers: args.threads,
        rounds: args.rounds,
        chunk: args.chunk,
        device: match args.device {
            DeviceArg::Zram => DeviceKind::Zram,
            DeviceArg::Ramdisk | DeviceArg::Zswap => DeviceKind::Ramdisk,
        },
        delay: (args.delay > 0).then(|| (Duration::from_micros(args.delay), args.every.max(1))),
        seed,
        readahead: args.readahead,
        zswap,
        swap_cache,
        ..RaceConfig::default()
    })
}

/// The text table.
pub fn table(rows: &[RaceRow]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{:<16} {:>4} {:>6} {:>6} {:>7} {:>6} {:>4} {:>7} {:>8} {:>8} {:>8} {:>7} {:>7}  verdict\n",
        "strategy",
        "runs",
        "rounds",
        "loss",
        "misload",
        "excess",
        "acct",
        "faults",
        "retries",
        "pte_same",
        "pin_busy",
        "waits",
        "secs",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<16} {:>4} {:>6} {:>6} {:>7} {:>6} {:>4} {:>7} {:>8} {:>8} {:>8} {:>7} {:>7.2}  {}",
            r.strategy,
            r.runs,
            r.rounds,
            r.data_loss,
            r.misload,
            r.excess,
            if r.accounting.is_empty() { "ok" } else { "BAD" },
            r.faults,
            r.retries,
            r.pte_same_fail,
            r.pin_busy,
            r.waits,
            r.seconds,
            if r.clean() {
                "clean".to_string()
            } else {
                format!("FAILED in {}/{} runs", r.bad_runs, r.runs)
            },
        );
    }
    s
}

/// Runs the harness for every strategy and seed; prints the table and
/// writes the JSON.
pub fn run(args: &RaceArgs) -> Result<Vec<RaceRow>, String> {
    let strategies = super::cli::strategies_or_all(&args.strategies);
    let probe = config(args, "bypass", args.seed)?;
    // The harness's frame pool at 4 KiB + metadata a frame, and per page
    // and slot their metadata and stored copy.
    let (pages, slots) = (probe.pages as u64, probe.swap_slots);
    let need = fault_path::harness::race_frames(&probe)
        .saturating_mul(4096 + 128)
        .saturating_add(pages.saturating_add(slots).saturating_mul(4096 + 64));
    super::bench::check_memory(
        &format!("{} pages on {} slots", probe.pages, probe.swap_slots),
        need,
        super::bench::mem_available(),
    )?;
    println!(
        "swapin race: {} pages, {} slots, {} workers + 1 pager, chunk {}, {:?} device{}, read delay {} us on 1 read in {}, {} rounds x {} seeds from {}",
        probe.pages,
        probe.swap_slots,
        probe.workers,
        probe.chunk,
        probe.device,
        probe
            .zswap
            .map_or_else(String::new, |z| format!(" behind zswap ({})", z.name())),
        args.delay,
        args.every.max(1),
        args.rounds,
        args.seeds.max(1),
        args.seed,
    );
    let mut rows = Vec::new();
    for s in &strategies {
        let mut row = RaceRow {
            strategy: s.clone(),
            device: args.device.name().into(),
            zswap: probe.zswap.map(|z| z.name().into()),
            ..RaceRow::default()
        };
        for seed in (0..args.seeds.max(1)).map(|k| args.seed.wrapping_add(k)) {
            let t = Instant::now();
            let r = run_race(&config(args, s, seed)?).map_err(|e| format!("{s}: {e}"))?;
            row.add(&r, t.elapsed());
        }
        eprintln!(
            "{s}: loss {} misload {} ({:.1} s)",
            row.data_loss, row.misload, row.seconds
        );
        rows.push(row);
    }
    print!("{}", table(&rows));
    for r in rows.iter().filter(|r| !r.accounting.is_empty()) {
        println!("{}: accounting: {}", r.strategy, r.accounting.join("; "));
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n";
        super::bench::write_file(path, &text)?;
        println!("json: {}", path.display());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::super::cli::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> RaceArgs {
        let mut v = vec!["swapin", "race"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v).unwrap().command() {
            Command::Race(r) => r,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn default_config_is_the_tight_recipe() {
        let c = config(&args(&[]), "bypass", 7).unwrap();
        assert_eq!((c.pages, c.swap_slots, c.workers, c.chunk), (16, 3, 4, 16));
        assert_eq!(c.delay, Some((Duration::from_micros(100), 1)));
        assert_eq!((c.device, c.zswap, c.seed), (DeviceKind::Ramdisk, None, 7));
        let z = config(&args(&["--device", "zswap", "--delay", "0"]), "bypass", 1).unwrap();
        assert_eq!(z.zswap, Some(fault_path::ZswapLoad::ExclusiveIfCached));
        assert_eq!(z.delay, None);
        let z = config(&args(&["--zswap", "exclusive"]), "bypass", 1).unwrap();
        assert_eq!(z.zswap, Some(fault_path::ZswapLoad::Exclusive));
        assert_eq!(c.swap_cache, fault_path::SwapCacheKind::Table);
        // A row may name the swap cache; the default list ends with the
        // xarray row, which must run (it once failed as an unknown name).
        let x = config(&args(&[]), "swapcache:xarray", 1).unwrap();
        assert_eq!(
            (x.strategy.as_str(), x.swap_cache),
            ("swapcache", fault_path::SwapCacheKind::XArray)
        );
        assert!(config(&args(&[]), "swapcache:btree", 1).is_err());
        let a = args(&["--strategies", "swapcache:xarray,bypass"]);
        assert_eq!(a.strategies, ["swapcache:xarray", "bypass"]);
    }

    #[test]
    fn the_default_rows_all_run() {
        // Every default row, the xarray one included, one short round each.
        let rows = run(&args(&["--rounds", "1", "--seeds", "1", "--delay", "0"])).unwrap();
        let names: Vec<_> = rows.iter().map(|r| r.strategy.as_str()).collect();
        assert_eq!(names.len(), fault_path::strategy::names().len() + 1);
        assert_eq!(names.last(), Some(&"swapcache:xarray"));
        for r in rows.iter().filter(|r| r.strategy != "bypass") {
            assert!(r.clean() && r.rounds == 1, "{r:?}");
        }
    }

    #[test]
    fn rows_sum_runs_and_render() {
        let mut row = RaceRow {
            strategy: "bypass".into(),
            ..RaceRow::default()
        };
        let bad = RaceReport {
            rounds: 30,
            data_loss: 3,
            ..RaceReport::default()
        };
        row.add(&bad, Duration::from_millis(200));
        row.add(&RaceReport::default(), Duration::from_millis(200));
        assert_eq!(
            (row.runs, row.rounds, row.data_loss, row.bad_runs),
            (2, 30, 3, 1)
        );
        assert!(!row.clean());
        let t = table(&[row]);
        assert!(t.contains("FAILED in 1/2 runs"), "{t}");
        let v = serde_json::to_value(RaceRow::default()).unwrap();
        assert!(v.get("data_loss").is_some() && v.get("misload").is_some());
    }
}
