//! `swapin race`: `fault_path::harness::run_race` (the swap-stress-race
//! reproducer's shape) for each largest folio order, strategy and seed;
//! `swapin soak`: the same at 10,000 rounds for every fixed strategy.
//!
//! With `--orders m` (m > 0) the recipe is the large-folio one of
//! `fault_path/tests/race.rs` (`large_tight`) scaled to 2^m-page folios:
//! clusters of 2^m slots on a 3-cluster device (cluster 0 holds the
//! header slot, so one or two aligned runs are free at a time and reused
//! as soon as a swap-in frees them), four folios of pages, page-out one
//! folio at a time. `--large-bug` adds what its race needs (see
//! [`config`]).

use std::time::{Duration, Instant};

use fault_path::harness::{DeviceKind, RaceConfig, RaceContent, RaceReport, run_race};
use serde::Serialize;
use zswap_tree::{PAGE_SIZE, Page};

use super::cli::{DeviceArg, LargeBugArg, RaceArgs, ZswapArg};
use super::content::Content;

/// Rounds of a race run unless `--rounds` says otherwise.
pub const RACE_ROUNDS: usize = 30;
/// Seeds of a race run unless `--seeds` says otherwise.
pub const RACE_SEEDS: u64 = 5;
/// Rounds of `swapin soak` (issue 14).
pub const SOAK_ROUNDS: usize = 10_000;

/// The strategies with a large-folio swap-in whose range is held (the
/// default rows of a negative control; `bypass` holds nothing and loses
/// data at order 0 already).
pub const LARGE_FORMS: [&str; 5] = [
    "pin-retry",
    "pin-sleep",
    "pin-waitqueue",
    "sync-map",
    "swapcache",
];

/// zswap's pool limit (bytes, the whole pool) of the writeback recipe
/// (`writeback-ignores-pins`, `skip-backend-recheck`): a few zero-tail
/// pages, so that nearly every store writes back and writeback keeps
/// meeting ranges a large swap-in is reading.
pub const WRITEBACK_RACE_POOL: u64 = 150;

/// zswap's pool limit of the skip-backend-check recipe, per page of a
/// folio: a zero-tail page compresses to about 35 bytes with lz4, so a
/// pool of 16 bytes a folio page holds about half a folio, and stores
/// keep writing the oldest entries back to the device: ranges end up half
/// in zswap, half on the device.
pub const BACKEND_MIX_POOL_PER_PAGE: u64 = 16;

/// One strategy at one largest order over every seed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RaceRow {
    /// Strategy.
    pub strategy: String,
    /// Largest folio order (0: 4 KiB pages only).
    pub order: u32,
    /// The negative control, if one is on.
    pub large_bug: Option<String>,
    /// Device (`zswap` means zswap over a ram disk).
    pub device: String,
    /// zswap load mode, if zswap is in front.
    pub zswap: Option<String>,
    /// Page content of words 2...
    pub content: String,
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
    /// Runs with loss, misload, excess, an accounting violation or an
    /// error.
    pub bad_runs: u64,
    /// Accounting violations (first few, over every run).
    pub accounting: Vec<String>,
    /// Runs that ended with an error of the fault path (or a panic of a
    /// harness thread).
    pub errors: u64,
    /// The first such error.
    pub first_error: Option<String>,
    /// Runs stopped by the watchdog (`--hang-secs` without a completed
    /// round: a livelock), also counted in `errors`. A hung run's
    /// threads cannot be stopped: they spin until `swapin` exits, beside
    /// the rows that follow, and the row's remaining seeds are skipped.
    pub hung: u64,
    /// Whether an earlier row's run hung: this row ran beside its
    /// threads, which spin on, so its rounds per second are low.
    pub after_hang: bool,
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
    /// Large folios paged out whole (`THP_SWPOUT`), summed.
    pub thp_swpout: u64,
    /// Large folios split for page-out (`THP_SWPOUT_FALLBACK`), summed.
    pub thp_swpout_fallback: u64,
    /// Large-folio swap-ins (`THP_SWPIN`), summed.
    pub thp_swpin: u64,
    /// Large-folio swap-ins that fell back to order 0, summed.
    pub thp_swpin_fallback: u64,
    /// Wall time of every run, seconds.
    pub seconds: f64,
    /// Rounds per second of wall time.
    pub rounds_per_sec: f64,
}

impl RaceRow {
    /// No loss, misload, excess, accounting violation or error.
    pub fn clean(&self) -> bool {
        self.data_loss == 0
            && self.misload == 0
            && self.excess == 0
            && self.accounting.is_empty()
            && self.errors == 0
    }

    /// Adds one run's report.
    pub fn add(&mut self, r: &RaceReport, took: Duration) {
        self.runs += 1;
        self.rounds += r.rounds;
        self.data_loss += r.data_loss;
        self.misload += r.misload;
        self.excess += r.excess;
        self.bad_runs +=
            u64::from(r.data_loss + r.misload + r.excess > 0 || !r.accounting.is_empty());
        for a in r.accounting.iter().take(3) {
            if self.accounting.len() < 5 {
                self.accounting.push(a.clone());
            }
        }
        let s = &r.stats;
        self.faults += s.faults;
        self.retries += s.retries;
        self.pte_same_fail += s.pte_same_fail;
        self.pin_busy += s.pin_busy;
        self.waits += s.all_waits();
        self.thp_swpout += s.thp_swpout;
        self.thp_swpout_fallback += s.thp_swpout_fallback;
        self.thp_swpin += s.thp_swpin;
        self.thp_swpin_fallback += s.thp_swpin_fallback;
        self.took(took);
    }

    /// Adds a run that ended with `error`.
    pub fn add_error(&mut self, error: String, took: Duration) {
        self.runs += 1;
        self.errors += 1;
        self.bad_runs += 1;
        self.first_error.get_or_insert(error);
        self.took(took);
    }

    fn took(&mut self, took: Duration) {
        self.seconds += took.as_secs_f64();
        self.rounds_per_sec = if self.seconds > 0.0 {
            self.rounds as f64 / self.seconds
        } else {
            0.0
        };
    }

    /// The verdict column: a fixed form is `clean` or `FAILED`, a
    /// negative control `caught` (in how many runs) or `NOT caught`.
    pub fn verdict(&self) -> String {
        match (&self.large_bug, self.clean()) {
            (None, true) => "clean".into(),
            (None, false) => format!("FAILED in {}/{} runs", self.bad_runs, self.runs),
            (Some(_), false) => format!("caught in {}/{} runs", self.bad_runs, self.runs),
            (Some(_), true) => format!("NOT caught in {} runs", self.runs),
        }
    }

    /// The verdict, marked when the row ran beside a hung run's threads.
    pub fn verdict_marked(&self) -> String {
        if self.after_hang {
            format!("{} (after a hang)", self.verdict())
        } else {
            self.verdict()
        }
    }
}

/// Pages, slots, page-out chunk and cluster size of a run at largest
/// order `order`: the options given, else the recipe's.
fn sizes(args: &RaceArgs, order: u32) -> (usize, u64, usize, u32) {
    let n = 1usize << order;
    let (pages, slots, chunk, cluster) = if order == 0 {
        (16, 3, 16, swapmap::SWAPFILE_CLUSTER)
    } else {
        (16.max(4 * n), 3 * n as u64, n, n as u32)
    };
    (
        args.pages.unwrap_or(pages),
        args.slots.unwrap_or(slots),
        args.chunk.unwrap_or(chunk),
        cluster,
    )
}

/// The harness configuration of `args` for the row `strategy`
/// (`STRATEGY[:table|xarray]`, see [`super::cli::split_row`]) at largest
/// order `order`, with `seed` and page `content`.
///
/// With `--large-bug` the recipe adds, unless the options say otherwise:
/// for `recheck-faulting-only` a zap region of 4 folios (its race is a zap
/// inside a large swap-in's range); for `skip-backend-check` zswap
/// (exclusive-if-cached) in front of the ram disk with a pool of
/// [`BACKEND_MIX_POOL_PER_PAGE`] bytes a page of the region, so that
/// ranges are half in zswap and half on the device.
pub fn config(
    args: &RaceArgs,
    strategy: &str,
    order: u32,
    seed: u64,
    content: Option<RaceContent>,
) -> Result<RaceConfig, String> {
    let (name, swap_cache) = super::cli::split_row(strategy)?;
    let bug = args.large_bug;
    let mix = bug == Some(LargeBugArg::SkipBackendCheck);
    let wb_race = bug.is_some_and(LargeBugArg::is_writeback_race);
    let zswap = match (args.device, args.zswap) {
        (_, Some(z)) => Some(z.into()),
        (DeviceArg::Zswap, None) => Some(ZswapArg::ExclusiveIfCached.into()),
        _ if mix || wb_race => Some(ZswapArg::ExclusiveIfCached.into()),
        _ => None,
    };
    let (pages, slots, chunk, cluster_size) = sizes(args, order);
    let n = 1usize << order;
    let zap_pages = args
        .zap_pages
        .unwrap_or(if bug == Some(LargeBugArg::RecheckFaultingOnly) {
            4 * n
        } else {
            0
        });
    let zswap_pool_bytes = args
        .zswap_pool
        .or_else(|| mix.then(|| (pages + zap_pages) as u64 * BACKEND_MIX_POOL_PER_PAGE))
        .or_else(|| wb_race.then_some(WRITEBACK_RACE_POOL));
    Ok(RaceConfig {
        strategy: name.into(),
        pages,
        swap_slots: slots,
        workers: args.threads,
        rounds: args.rounds(),
        chunk,
        device: match args.device {
            DeviceArg::Zram => DeviceKind::Zram,
            DeviceArg::Ramdisk | DeviceArg::Zswap => DeviceKind::Ramdisk,
        },
        delay: (args.delay > 0).then(|| (Duration::from_micros(args.delay), args.every.max(1))),
        seed,
        readahead: args.readahead,
        zswap,
        swap_cache,
        orders: super::cli::orders_mask(order),
        cluster_size,
        zswap_large: if wb_race {
            fault_path::ZswapLarge::AllInZswap
        } else {
            args.zswap_large.into()
        },
        large_bug: bug.map(Into::into),
        content,
        zap_pages,
        zswap_pool_bytes,
        zswap_shrinker: args.zswap_shrinker || wb_race,
        progress: None,
    })
}

/// The harness content of `content` for `pages` pages (`None` for
/// zero-tail, the harness's own zeros): a class is generated page by page
/// with `seed`, as bench's populate does; a corpus is cycled.
pub fn race_content(
    content: &Content,
    seed: u64,
    pages: usize,
) -> Result<Option<RaceContent>, String> {
    let list: Vec<Page> = match content {
        c if c.is_zero_tail() => return Ok(None),
        Content::Corpus(c) => c.pages.iter().map(|p| **p).collect(),
        Content::Class(_) => (0..pages.max(1))
            .map(|vpn| {
                let mut p: Page = [0u8; PAGE_SIZE];
                content.fill(seed, vpn, &mut p);
                p
            })
            .collect(),
    };
    RaceContent::new(content.name(), list)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The text table.
pub fn table(rows: &[RaceRow]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{:<16} {:>3} {:>4} {:>6} {:>6} {:>7} {:>6} {:>4} {:>8} {:>9} {:>8} {:>9} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7} {:>8}  verdict\n",
        "strategy",
        "ord",
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
        "swpout",
        "out_fb",
        "swpin",
        "in_fb",
        "secs",
        "rounds/s",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<16} {:>3} {:>4} {:>6} {:>6} {:>7} {:>6} {:>4} {:>8} {:>9} {:>8} {:>9} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7.2} {:>8.0}  {}",
            r.strategy,
            r.order,
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
            r.thp_swpout,
            r.thp_swpout_fallback,
            r.thp_swpin,
            r.thp_swpin_fallback,
            r.seconds,
            r.rounds_per_sec,
            r.verdict_marked(),
        );
    }
    s
}

/// The rows of a run: `--strategies`, else every strategy and the xarray
/// row (without `bypass` in a soak), or the [`LARGE_FORMS`] a negative
/// control changes: not `sync-map` for pin-faulting-only (sync-map holds
/// its range by the sync map, not by pins), not `swapcache` for
/// pin-faulting-only and recheck-faulting-only (its form always pins and
/// re-checks the whole range).
fn rows_of(args: &RaceArgs, soak: bool) -> Vec<String> {
    if !args.strategies.is_empty() {
        return args.strategies.clone();
    }
    if let Some(bug) = args.large_bug {
        use LargeBugArg::{PinFaultingOnly, RecheckFaultingOnly};
        return LARGE_FORMS
            .iter()
            .filter(|&&s| !(bug == PinFaultingOnly && s == "sync-map"))
            .filter(|&&s| {
                !(matches!(bug, PinFaultingOnly | RecheckFaultingOnly) && s == "swapcache")
            })
            .map(|s| s.to_string())
            .collect();
    }
    let mut all = super::cli::strategies_or_all(&[]);
    if soak {
        all.retain(|s| s != "bypass");
    }
    all
}

/// Refuses a run that would test nothing or cannot be built, before any
/// thread starts.
fn check(args: &RaceArgs) -> Result<(), String> {
    super::cli::check_orders(&args.orders)?;
    if args.rounds() == 0 {
        return Err("--rounds: at least 1".into());
    }
    if args.threads == 0 {
        return Err("--threads: at least 1 worker".into());
    }
    if args.pages == Some(0) {
        return Err("--pages: at least 1".into());
    }
    if args.large_bug.is_some() && args.orders.iter().all(|&o| o == 0) {
        return Err(format!(
            "--large-bug {}: a large-folio negative control needs an order above 0 (--orders 2)",
            args.large_bug.map_or("", LargeBugArg::name)
        ));
    }
    Ok(())
}

/// Runs the harness for every order, strategy and seed; prints the table
/// and writes the JSON. `soak`: `swapin soak` (its defaults, a summary,
/// and an error when a row is not clean).
pub fn run_with(args: &RaceArgs, soak: bool) -> Result<Vec<RaceRow>, String> {
    check(args)?;
    let strategies = rows_of(args, soak);
    let seeds = args.seeds(soak).max(1);
    let content = args
        .content
        .clone()
        .unwrap_or_else(|| Content::from(zswap_tree::ContentClass::ZeroTail));
    let mut rows: Vec<RaceRow> = Vec::new();
    let t_all = Instant::now();
    for &order in &args.orders {
        let probe = config(args, "bypass", order, args.seed, None)?;
        // The harness's frame pool at 4 KiB + metadata a frame, and per
        // page and slot their metadata and stored copy.
        let (pages, slots) = ((probe.pages + probe.zap_pages) as u64, probe.swap_slots);
        let need = fault_path::harness::race_frames(&probe)
            .saturating_mul(4096 + 128)
            .saturating_add(pages.saturating_add(slots).saturating_mul(4096 + 64));
        super::bench::check_memory(
            &format!("{} pages on {} slots", pages, probe.swap_slots),
            need,
            super::bench::mem_available(),
        )?;
        // A configuration the model refuses (an order its clusters cannot
        // hold) is an error of the command line, not a failed run.
        fault_path::harness::race_system(&probe).map_err(|e| format!("order {order}: {e}"))?;
        let rc = race_content(&content, args.seed, probe.pages + probe.zap_pages)?;
        println!(
            "swapin {}: order {order} (folios up to {} KiB{}), {} pages{}, {} slots (clusters of {}), {} workers + 1 pager{}, chunk {}, {:?} device{}, content {}, read delay {} us on 1 read in {}, {} rounds x {} seeds from {}",
            if soak { "soak" } else { "race" },
            4usize << order,
            args.large_bug
                .map_or_else(String::new, |b| format!(", negative control {}", b.name())),
            probe.pages,
            if probe.zap_pages > 0 {
                format!(" + {} zapped", probe.zap_pages)
            } else {
                String::new()
            },
            probe.swap_slots,
            probe.cluster_size,
            probe.workers,
            if probe.zap_pages > 0 {
                " + 1 zapper"
            } else {
                ""
            },
            probe.chunk,
            probe.device,
            probe.zswap.map_or_else(String::new, |z| format!(
                " behind zswap ({}{}, large: {}{})",
                z.name(),
                probe
                    .zswap_pool_bytes
                    .map_or_else(String::new, |b| format!(", pool {b} bytes")),
                probe.zswap_large.name(),
                if probe.zswap_shrinker {
                    ", + 1 shrinker"
                } else {
                    ""
                }
            )),
            content.name(),
            args.delay,
            args.every.max(1),
            args.rounds(),
            seeds,
            args.seed,
        );
        for s in &strategies {
            let mut row = RaceRow {
                strategy: s.clone(),
                order,
                large_bug: args.large_bug.map(|b| b.name().into()),
                device: args.device.name().into(),
                zswap: probe.zswap.map(|z| z.name().into()),
                content: content.name().into(),
                after_hang: rows.iter().any(|r| r.hung > 0),
                ..RaceRow::default()
            };
            for seed in (0..seeds).map(|k| args.seed.wrapping_add(k)) {
                let cfg = config(args, s, order, seed, rc.clone())?;
                let t = Instant::now();
                match watched(cfg, Duration::from_secs(args.hang_secs)) {
                    Watched::Done(r) => match *r {
                        Ok(r) => row.add(&r, t.elapsed()),
                        // The fault path's own errors (a negative control can
                        // end in one) fail the run, not the command.
                        Err(e) => row.add_error(format!("{s} seed {seed}: {e}"), t.elapsed()),
                    },
                    Watched::Hung { rounds } => {
                        row.hung += 1;
                        row.add_error(
                            format!(
                                "{s} seed {seed}: hung: no round completed in {} s after round {rounds} (livelock)",
                                args.hang_secs
                            ),
                            t.elapsed(),
                        );
                        eprintln!(
                            "{s} order {order} seed {seed}: hung after {rounds} rounds; its threads spin on until swapin exits, remaining seeds skipped"
                        );
                        break;
                    }
                }
            }
            eprintln!(
                "{s} order {order}: loss {} misload {} errors {} ({:.1} s, {:.0} rounds/s)",
                row.data_loss, row.misload, row.errors, row.seconds, row.rounds_per_sec
            );
            rows.push(row);
        }
    }
    print!("{}", table(&rows));
    for r in &rows {
        if !r.accounting.is_empty() {
            println!(
                "{} order {}: accounting: {}",
                r.strategy,
                r.order,
                r.accounting.join("; ")
            );
        }
        if let Some(e) = &r.first_error {
            println!("{} order {}: first error: {e}", r.strategy, r.order);
        }
    }
    let total: usize = rows.iter().map(|r| r.rounds).sum();
    let secs = t_all.elapsed().as_secs_f64();
    println!(
        "{total} rounds in {secs:.1} s ({:.0} rounds/s over every row)",
        total as f64 / secs.max(1e-9)
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n";
        super::bench::write_file(path, &text)?;
        println!("json: {}", path.display());
    }
    if soak {
        let bad: Vec<_> = rows
            .iter()
            .filter(|r| !r.clean())
            .map(|r| format!("{} (order {})", r.strategy, r.order))
            .collect();
        if !bad.is_empty() {
            return Err(format!("soak: not clean: {}", bad.join(", ")));
        }
    }
    Ok(rows)
}

/// How a watched run ended.
enum Watched {
    /// `run_race` returned.
    Done(Box<Result<RaceReport, fault_path::FaultError>>),
    /// No round completed within the watchdog's time; `rounds` had.
    Hung {
        /// Rounds completed before it stopped moving.
        rounds: usize,
    },
}

/// Runs `run_race(cfg)` on its own thread and watches its progress
/// counter: a run whose count stands still for `hang` is given up as
/// hung. Its thread is left running (a thread cannot be stopped from
/// outside; the process's exit ends it).
fn watched(mut cfg: RaceConfig, hang: Duration) -> Watched {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{RecvTimeoutError, channel};
    let progress = std::sync::Arc::new(AtomicUsize::new(0));
    cfg.progress = Some(std::sync::Arc::clone(&progress));
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        // The receiver is gone only after a hang: nothing to report to.
        let _ = tx.send(run_race(&cfg));
    });
    let (mut seen, mut since) = (0, Instant::now());
    let tick = hang.min(Duration::from_millis(200));
    loop {
        match rx.recv_timeout(tick) {
            Ok(r) => return Watched::Done(Box::new(r)),
            Err(RecvTimeoutError::Disconnected) => {
                return Watched::Done(Box::new(Err(fault_path::FaultError::Config(
                    "race thread ended without a report".into(),
                ))));
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = progress.load(Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() >= hang {
                    return Watched::Hung { rounds: now };
                }
            }
        }
    }
}

/// `swapin race`.
pub fn run(args: &RaceArgs) -> Result<Vec<RaceRow>, String> {
    run_with(args, false)
}

/// `swapin soak`: every fixed strategy at [`SOAK_ROUNDS`] rounds, one
/// seed; an error if a row is not clean.
pub fn soak(args: &RaceArgs) -> Result<Vec<RaceRow>, String> {
    run_with(args, true)
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
    fn the_watchdog_reports_a_stalled_run_and_passes_a_moving_one() {
        let a = args(&["--rounds", "400", "--strategies", "bypass"]);
        let cfg = config(&a, "bypass", 0, 1, None).unwrap();
        // No round completes within a nanosecond: hung at round 0 (the
        // run goes on in the background and ends by itself).
        match watched(cfg, Duration::from_nanos(1)) {
            Watched::Hung { rounds } => assert!(rounds < 400, "{rounds}"),
            Watched::Done(r) => panic!("not given up: {:?}", r.map(|r| r.rounds)),
        }
        let a = args(&["--rounds", "3", "--strategies", "bypass"]);
        let cfg = config(&a, "bypass", 0, 1, None).unwrap();
        match watched(cfg, Duration::from_secs(60)) {
            Watched::Done(r) => assert_eq!(r.expect("run").rounds, 3),
            Watched::Hung { rounds } => panic!("hung at {rounds}"),
        }
    }

    #[test]
    fn default_config_is_the_tight_recipe() {
        let c = config(&args(&[]), "bypass", 0, 7, None).unwrap();
        assert_eq!((c.pages, c.swap_slots, c.workers, c.chunk), (16, 3, 4, 16));
        assert_eq!(c.delay, Some((Duration::from_micros(100), 1)));
        assert_eq!((c.device, c.zswap, c.seed), (DeviceKind::Ramdisk, None, 7));
        assert_eq!((c.orders, c.zap_pages, c.large_bug), (1, 0, None));
        let z = config(
            &args(&["--device", "zswap", "--delay", "0"]),
            "bypass",
            0,
            1,
            None,
        )
        .unwrap();
        assert_eq!(z.zswap, Some(fault_path::ZswapLoad::ExclusiveIfCached));
        assert_eq!(z.delay, None);
        let z = config(&args(&["--zswap", "exclusive"]), "bypass", 0, 1, None).unwrap();
        assert_eq!(z.zswap, Some(fault_path::ZswapLoad::Exclusive));
        assert_eq!(c.swap_cache, fault_path::SwapCacheKind::Table);
        // A row may name the swap cache; the default list ends with the
        // xarray row, which must run (it once failed as an unknown name).
        let x = config(&args(&[]), "swapcache:xarray", 0, 1, None).unwrap();
        assert_eq!(
            (x.strategy.as_str(), x.swap_cache),
            ("swapcache", fault_path::SwapCacheKind::XArray)
        );
        assert!(config(&args(&[]), "swapcache:btree", 0, 1, None).is_err());
        let a = args(&["--strategies", "swapcache:xarray,bypass"]);
        assert_eq!(a.strategies, ["swapcache:xarray", "bypass"]);
    }

    #[test]
    fn large_orders_scale_the_recipe_and_bugs_add_their_race() {
        let a = args(&["--orders", "0,2,4"]);
        assert_eq!(a.orders, [0, 2, 4]);
        let c = config(&a, "pin-retry", 2, 1, None).unwrap();
        // fault_path/tests/race.rs large_tight, with orders 1 and 2 on.
        assert_eq!(
            (c.pages, c.swap_slots, c.chunk, c.cluster_size, c.orders),
            (16, 12, 4, 4, 0b111)
        );
        let c = config(&a, "pin-retry", 4, 1, None).unwrap();
        assert_eq!(
            (c.pages, c.swap_slots, c.chunk, c.cluster_size, c.orders),
            (64, 48, 16, 16, 0b1_1111)
        );
        // Explicit sizes win.
        let c = config(
            &args(&["--pages", "32", "--slots", "9"]),
            "pin-retry",
            2,
            1,
            None,
        )
        .unwrap();
        assert_eq!((c.pages, c.swap_slots), (32, 9));
        let z = config(
            &args(&["--orders", "2", "--large-bug", "recheck-faulting-only"]),
            "pin-retry",
            2,
            1,
            None,
        )
        .unwrap();
        assert_eq!(
            (z.zap_pages, z.large_bug),
            (16, Some(fault_path::LargeBug::RecheckFaultingOnly))
        );
        let m = config(
            &args(&["--orders", "2", "--large-bug", "skip-backend-check"]),
            "pin-retry",
            2,
            1,
            None,
        )
        .unwrap();
        assert_eq!(m.zswap, Some(fault_path::ZswapLoad::ExclusiveIfCached));
        assert_eq!(m.zswap_pool_bytes, Some(16 * BACKEND_MIX_POOL_PER_PAGE));
        // A fixed form can run the same recipe.
        let f = config(
            &args(&["--orders", "2", "--zap-pages", "8", "--zswap-pool", "100"]),
            "pin-retry",
            2,
            1,
            None,
        )
        .unwrap();
        assert_eq!(
            (f.zap_pages, f.zswap_pool_bytes, f.large_bug),
            (8, Some(100), None)
        );
    }

    #[test]
    fn bad_orders_and_bugs_are_refused() {
        for bad in [
            vec!["--orders", ""],
            vec!["--orders", "10"],
            vec!["--orders", "x"],
            vec!["--orders", "-1"],
            vec!["--large-bug", "nope"],
        ] {
            let mut v = vec!["swapin", "race"];
            v.extend_from_slice(&bad);
            assert!(Cli::try_parse_from(&v).is_err(), "{bad:?}");
        }
        let e = Cli::try_parse_from(["swapin", "race", "--orders", "12"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("above the largest, 9"), "{e}");
        let e = run(&args(&["--orders", "2,2"])).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
        let e = run(&args(&["--large-bug", "pin-faulting-only"])).unwrap_err();
        assert!(e.contains("needs an order above 0"), "{e}");
        let e = run(&args(&["--rounds", "0"])).unwrap_err();
        assert!(e.contains("--rounds"), "{e}");
        // An order the clusters cannot hold, from the options given: an
        // error of the command, before any run.
        let e = run(&args(&["--orders", "4", "--slots", "8", "--rounds", "1"]));
        assert!(e.is_ok() || e.unwrap_err().contains("order 4"));
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
    fn large_orders_run_clean_with_large_swapins() {
        let rows = run(&args(&[
            "--orders",
            "0,2",
            "--rounds",
            "20",
            "--seeds",
            "1",
            "--strategies",
            "pin-retry,sync-map,swapcache",
            "--delay",
            "20",
        ]))
        .unwrap();
        assert_eq!(rows.len(), 6);
        for r in &rows {
            assert!(r.clean(), "{r:?}");
            assert!(r.rounds_per_sec > 0.0);
        }
        let large: Vec<_> = rows.iter().filter(|r| r.order == 2).collect();
        assert!(large.iter().all(|r| r.thp_swpout > 0), "{large:?}");
        assert!(large[0].thp_swpin > 0, "pin-retry: {:?}", large[0]);
        assert!(
            rows.iter()
                .filter(|r| r.order == 0)
                .all(|r| r.thp_swpout == 0)
        );
    }

    #[test]
    fn content_reaches_the_harness_pages() {
        // A class: one generated page per page of the region, checked by
        // the harness after each round.
        let text = super::super::content::parse_content("text").unwrap();
        let c = race_content(&text, 1, 20).unwrap().unwrap();
        assert_eq!(c.name(), "text");
        let mut p = [0u8; PAGE_SIZE];
        text.fill(1, 3, &mut p);
        assert_eq!(
            c.word(3, 5),
            u64::from_le_bytes(p[40..48].try_into().unwrap())
        );
        assert!(
            race_content(&Content::from(zswap_tree::ContentClass::ZeroTail), 1, 20)
                .unwrap()
                .is_none()
        );
        // The shipped corpus, cycled; a run with it is clean and its rows
        // name it.
        let real = Content::real().unwrap();
        let r = race_content(&real, 1, 20).unwrap().unwrap();
        let Content::Corpus(corpus) = &real else {
            panic!("real is a corpus")
        };
        let w = |p: &Page, k: usize| u64::from_le_bytes(p[k * 8..k * 8 + 8].try_into().unwrap());
        let n = corpus.pages.len();
        assert_eq!(r.word(n + 2, 7), w(&corpus.pages[2], 7));
        for content in ["text", "real"] {
            let rows = run(&args(&[
                "--content",
                content,
                "--rounds",
                "3",
                "--seeds",
                "1",
                "--strategies",
                "pin-retry,swapcache",
                "--device",
                "zswap",
                "--orders",
                "0,2",
            ]))
            .unwrap();
            for row in &rows {
                assert!(row.clean(), "{row:?}");
                assert_eq!(row.content, content);
            }
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
        assert!((row.rounds_per_sec - 75.0).abs() < 1e-9);
        let t = table(std::slice::from_ref(&row));
        assert!(t.contains("FAILED in 1/2 runs"), "{t}");
        row.large_bug = Some("pin-faulting-only".into());
        assert_eq!(row.verdict(), "caught in 1/2 runs");
        let mut quiet = RaceRow {
            large_bug: Some("skip-swapcache-check".into()),
            ..RaceRow::default()
        };
        quiet.add(&RaceReport::default(), Duration::from_millis(1));
        assert_eq!(quiet.verdict(), "NOT caught in 1 runs");
        let later = RaceRow {
            after_hang: true,
            ..quiet.clone()
        };
        assert_eq!(
            later.verdict_marked(),
            "NOT caught in 1 runs (after a hang)"
        );
        quiet.add_error("boom".into(), Duration::from_millis(1));
        assert_eq!((quiet.errors, quiet.bad_runs), (1, 1));
        assert!(!quiet.clean());
        let v = serde_json::to_value(RaceRow::default()).unwrap();
        for k in [
            "data_loss",
            "misload",
            "order",
            "thp_swpin",
            "rounds_per_sec",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }
}
