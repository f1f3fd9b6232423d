//! Rows of the `swapin bench` table and JSON, ratios, and the text table.

use fault_path::FaultStats;
use fault_path::device::DeviceStats;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::bench::Plan;
use super::cli::BenchArgs;
use super::rss::RssScope;

/// The version of the `swapin bench` JSON document ([`BenchJson`]);
/// `swapin compare` reads this one and version 2 (rows without the
/// large-folio fields: order 0). Version 1 (before the field existed) was
/// a bare list of rows without per-repeat figures. Version 3 added per
/// row `order`, `faults_per_page`, `ratio_to_order0`, `thp_swpout` and
/// `thp_swpout_fallback` (`--orders`).
pub const JSON_VERSION: u32 = 3;

/// The `swapin bench --json` document.
#[derive(Debug, Serialize)]
pub struct BenchJson<'a> {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// `swapin bench`.
    pub tool: &'static str,
    /// The header line of the run.
    pub header: &'a str,
    /// Scale (`full`, `1/N`).
    pub scale: String,
    /// Compressor label.
    pub compressor: String,
    /// Content name.
    pub content: &'a str,
    /// Swap-in threads.
    pub threads: usize,
    /// Repeats of each row.
    pub repeat: usize,
    /// Discarded warm-up runs.
    pub warmup: usize,
    /// Seed of the contents.
    pub seed: u64,
    /// The rows.
    pub rows: &'a [Row],
}

impl<'a> BenchJson<'a> {
    /// The document of a run.
    pub fn new(header: &'a str, args: &BenchArgs, plan: &'a Plan, rows: &'a [Row]) -> Self {
        BenchJson {
            version: JSON_VERSION,
            tool: "swapin bench",
            header,
            scale: args.scale.to_string(),
            compressor: plan.compressor.label(),
            content: plan.content.name(),
            threads: plan.threads,
            repeat: args.repeat.max(1),
            warmup: args.warmup,
            seed: args.seed,
            rows,
        }
    }
}

/// The kernel measurement of seed 004 (10 GiB swapped in from 32 GiB on
/// zram), in microseconds: (strategy, time).
pub const KERNEL_US: [(&str, u64); 3] = [
    ("bypass", 10_934_698),
    ("pin-retry", 11_157_121),
    ("swapcache", 13_155_355),
];

/// The kernel's total for the row (seed 004), where it has one.
pub fn kernel_total_us(row: &str) -> Option<u64> {
    let strategy = row.split_once(':').map_or(row, |(s, _)| s);
    KERNEL_US
        .iter()
        .find(|(s, _)| *s == strategy)
        .map(|&(_, us)| us)
}

/// The kernel's ratio to bypass for `strategy`, where seed 004 has one:
/// 1.000 (bypass), 1.020 (pin-retry), 1.203 (swapcache).
pub fn kernel_ratio(row: &str) -> Option<f64> {
    // The kernel's rows do not say how the swap cache was kept (the
    // xarray, in 2024); both swap-cache rows are compared with "Cached".
    let strategy = row.split_once(':').map_or(row, |(s, _)| s);
    let base = KERNEL_US[0].1 as f64;
    KERNEL_US
        .iter()
        .find(|(s, _)| *s == strategy)
        .map(|&(_, us)| us as f64 / base)
}

/// Fault latency percentiles in nanoseconds (one sample per access,
/// present-page accesses included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub samples: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Maximum.
    pub max_ns: u64,
}

impl Latency {
    /// The percentiles of `h` (nanoseconds).
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            samples: h.len(),
            mean_ns: h.mean(),
            p50_ns: h.value_at_quantile(0.50),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }
}

/// One row: one strategy in one mode.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Strategy name.
    pub strategy: String,
    /// `same` or `disjoint`.
    pub mode: String,
    /// `zram`, `ramdisk` or `zswap`.
    pub device: String,
    /// Page content.
    pub content: String,
    /// Compressor of zram / zswap (`lz4`, `zstd:3`, ...).
    pub compressor: String,
    /// Swap-in threads.
    pub threads: usize,
    /// Pages populated and paged out.
    pub pages_populated: usize,
    /// Pages faulted back in.
    pub pages_swapped_in: usize,
    /// Wall time of the swap-in phase (first thread start to last thread
    /// end), microseconds.
    pub total_us: f64,
    /// `total_us / pages_swapped_in` (the kernel's 4.17 us for bypass).
    pub us_per_page: f64,
    /// Runs of this strategy and mode; the row's figures are those of the
    /// run with the median time.
    pub runs: usize,
    /// The fastest run's `us_per_page`.
    pub us_per_page_min: f64,
    /// Every run's `us_per_page`, in repeat order (what `swapin compare`
    /// bootstraps).
    pub per_repeat_us_per_page: Vec<f64>,
    /// `us_per_page` times the kernel run's 2621440 pages: the total the
    /// kernel's run size would take at this speed.
    pub at_kernel_size_us: f64,
    /// The kernel's total for this row (seed 004), where it has one.
    pub kernel_total_us: Option<u64>,
    /// Time over bypass's in the same mode (`None` without a bypass row):
    /// the median over the repeats of this strategy's run over bypass's run
    /// of the same repeat ([`paired_ratio`]).
    pub ratio_to_bypass: Option<f64>,
    /// The per-repeat ratios to bypass, in repeat order (empty without a
    /// bypass row).
    pub per_repeat_ratio: Vec<f64>,
    /// The kernel's ratio (seed 004), where it has one.
    pub kernel_ratio: Option<f64>,
    /// Fault latency.
    pub latency: Latency,
    /// On-CPU time of the swap-in threads per page swapped in (summed over
    /// the threads; `None` where the kernel gives no schedstat): the cost
    /// of the path, free of the time the threads waited for a CPU.
    pub cpu_us_per_page: Option<f64>,
    /// Where the swap-in threads' time went (median-time run).
    pub sched: super::bench::Sched,
    /// Largest folio order of the run (0: 4 KiB pages only).
    pub order: u32,
    /// Faults (swap-in and anonymous) per page swapped in: below 1 with
    /// large folios (one fault maps a whole folio).
    pub faults_per_page: f64,
    /// `us_per_page` over the order-0 row's of the same strategy and mode
    /// (`None` for order 0 or without an order-0 row).
    pub ratio_to_order0: Option<f64>,
    /// Large folios paged out whole in the populate phase (`THP_SWPOUT`).
    pub thp_swpout: u64,
    /// Large folios split for page-out in the populate phase
    /// (`THP_SWPOUT_FALLBACK`).
    pub thp_swpout_fallback: u64,
    /// Fault-path counters of the swap-in phase (`thp_swpin`,
    /// `thp_swpin_fallback` among them).
    pub stats: FaultStats,
    /// Device counters of the whole run.
    pub device_stats: DeviceStats,
    /// Lost increments (word 0 short of the expected count), summed over
    /// every run.
    pub data_loss: u64,
    /// Pages whose word 1 is not their index, summed over every run.
    pub misload: u64,
    /// Increments beyond the expected count.
    pub excess: u64,
    /// Accounting violations (leaks, double frees), from
    /// `harness::check_accounting`.
    pub accounting: Vec<String>,
    /// Peak RSS in KiB (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
    /// What the peak covers.
    pub peak_rss_scope: RssScope,
}

/// Sets `ratio_to_order0` of every row of an order above 0: its median
/// us/page over that of the order-0 row of the same strategy and mode.
pub fn ratios_to_order0(rows: &mut [Row]) {
    let base: Vec<(String, String, f64)> = rows
        .iter()
        .filter(|r| r.order == 0)
        .map(|r| (r.strategy.clone(), r.mode.clone(), r.us_per_page))
        .collect();
    for r in rows.iter_mut().filter(|r| r.order > 0) {
        r.ratio_to_order0 = base
            .iter()
            .find(|(s, m, us)| *s == r.strategy && *m == r.mode && *us > 0.0)
            .map(|(_, _, us)| r.us_per_page / us);
    }
}

/// Picks the median-time run of `runs` (one strategy and mode) as the
/// row, recording the run count and the fastest time. Loss, misload,
/// excess and accounting violations are those of every run, summed: a
/// failure in any run shows.
pub fn median_row(mut runs: Vec<Row>) -> Option<Row> {
    runs.sort_by(|a, b| a.total_us.total_cmp(&b.total_us));
    let min = runs.first()?.us_per_page;
    let n = runs.len();
    let (loss, misload, excess) = runs.iter().fold((0, 0, 0), |(l, m, e), r| {
        (l + r.data_loss, m + r.misload, e + r.excess)
    });
    let accounting: Vec<String> = runs.iter().flat_map(|r| r.accounting.clone()).collect();
    let mut row = runs.swap_remove((n - 1) / 2);
    row.runs = n;
    row.us_per_page_min = min;
    row.data_loss = loss;
    row.misload = misload;
    row.excess = excess;
    row.accounting = accounting;
    Some(row)
}

/// The median over repeats of `runs[r].total_us / base[r].total_us`: each
/// run compared with the reference's run of the same repeat (the repeats go
/// round-robin over the strategies), so that a slow phase of a shared
/// machine, which hits every strategy of one repeat alike, cancels out
/// instead of landing on whichever strategy ran then. `None` when the two
/// have different numbers of runs or a reference time is zero.
pub fn paired_ratio(runs: &[Row], base: &[Row]) -> Option<f64> {
    let mut r = per_repeat_ratios(runs, base);
    (!r.is_empty()).then(|| crate::median(&mut r))
}

/// `runs[r].total_us / base[r].total_us` for every repeat r; empty when
/// the two have different numbers of runs or a reference time is zero.
pub fn per_repeat_ratios(runs: &[Row], base: &[Row]) -> Vec<f64> {
    if runs.len() != base.len() || base.iter().any(|b| b.total_us <= 0.0) {
        return Vec::new();
    }
    runs.iter()
        .zip(base)
        .map(|(a, b)| a.total_us / b.total_us)
        .collect()
}

fn pct(v: f64, s: &super::bench::Sched) -> String {
    if s.known && s.thread_us > 0.0 {
        format!("{:.0}", 100.0 * v / s.thread_us)
    } else {
        "-".into()
    }
}

fn opt3(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

/// The table: one line per row, grouped as the rows come.
pub fn table(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<16} {:<8} {:>3} {:>11} {:>11} {:>11} {:>7} {:>7} {:>7} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7} {:>6} {:>5} {:>5} {:>4} {:>7}",
        "strategy",
        "mode",
        "ord",
        "total us",
        "@10GiB us",
        "kernel us",
        "us/pg",
        "min",
        "cpu/pg",
        "runq%",
        "blk%",
        "ratio",
        "kernel",
        "x ord0",
        "flt/pg",
        "swpout",
        "out_fb",
        "swpin",
        "in_fb",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "faults",
        "major",
        "retries",
        "waits",
        "loss",
        "misl",
        "acct",
        "RSS MiB",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<16} {:<8} {:>3} {:>11.0} {:>11.0} {:>11} {:>7.3} {:>7.3} {:>7} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6.3} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7} {:>6} {:>5} {:>5} {:>4} {:>7}",
            r.strategy,
            r.mode,
            r.order,
            r.total_us,
            r.at_kernel_size_us,
            r.kernel_total_us
                .map_or_else(|| "-".into(), |k| k.to_string()),
            r.us_per_page,
            r.us_per_page_min,
            opt3(r.cpu_us_per_page),
            pct(r.sched.runqueue_us, &r.sched),
            pct(r.sched.blocked_us(), &r.sched),
            opt3(r.ratio_to_bypass),
            opt3(r.kernel_ratio),
            opt3(r.ratio_to_order0),
            r.faults_per_page,
            r.thp_swpout,
            r.thp_swpout_fallback,
            r.stats.thp_swpin,
            r.stats.thp_swpin_fallback,
            r.latency.p50_ns,
            r.latency.p99_ns,
            r.latency.p999_ns,
            r.stats.faults,
            r.stats.major,
            r.stats.retries,
            r.stats.all_waits(),
            r.data_loss,
            r.misload,
            if r.accounting.is_empty() { "ok" } else { "BAD" },
            r.peak_rss_kib
                .map_or_else(|| "-".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
        );
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row with the given identity and per-page time, zero elsewhere.
    pub(crate) fn row(strategy: &str, mode: &str, us_per_page: f64) -> Row {
        Row {
            strategy: strategy.into(),
            mode: mode.into(),
            device: "zram".into(),
            content: "zero-tail".into(),
            compressor: "lz4".into(),
            threads: 2,
            pages_populated: 1024,
            pages_swapped_in: 320,
            total_us: us_per_page * 320.0,
            us_per_page,
            runs: 1,
            us_per_page_min: us_per_page,
            per_repeat_us_per_page: vec![us_per_page],
            at_kernel_size_us: us_per_page * 2_621_440.0,
            kernel_total_us: kernel_total_us(strategy),
            ratio_to_bypass: None,
            per_repeat_ratio: Vec::new(),
            kernel_ratio: kernel_ratio(strategy),
            latency: Latency {
                samples: 640,
                mean_ns: 900.0,
                p50_ns: 800,
                p99_ns: 4000,
                p999_ns: 20000,
                max_ns: 50000,
            },
            cpu_us_per_page: Some(us_per_page),
            sched: Default::default(),
            order: 0,
            faults_per_page: 1.0,
            ratio_to_order0: None,
            thp_swpout: 0,
            thp_swpout_fallback: 0,
            stats: FaultStats::default(),
            device_stats: DeviceStats::default(),
            data_loss: 0,
            misload: 0,
            excess: 0,
            accounting: Vec::new(),
            peak_rss_kib: Some(2048),
            peak_rss_scope: RssScope::PerRun,
        }
    }

    #[test]
    fn kernel_ratios_of_seed_004() {
        assert_eq!(kernel_ratio("bypass"), Some(1.0));
        let pin = kernel_ratio("pin-retry").unwrap();
        let cached = kernel_ratio("swapcache").unwrap();
        assert!((pin - 1.020).abs() < 0.0005, "{pin}");
        assert!((cached - 1.203).abs() < 0.0005, "{cached}");
        assert_eq!(kernel_ratio("pte-marker"), None);
    }

    #[test]
    fn paired_ratios_cancel_slow_repeats() {
        // Repeat 2 ran on a busy machine: both strategies slowed down.
        let base = [
            row("bypass", "same", 1.0),
            row("bypass", "same", 2.0),
            row("bypass", "same", 1.0),
        ];
        let runs = [
            row("swapcache", "same", 1.03),
            row("swapcache", "same", 2.06),
            row("swapcache", "same", 1.05),
        ];
        let r = paired_ratio(&runs, &base).unwrap();
        assert!((r - 1.03).abs() < 1e-9, "{r}");
        // Unpaired medians would give 1.05 / 1.0.
        assert_eq!(paired_ratio(&runs[..2], &base), None);
        assert_eq!(paired_ratio(&[], &[]), None);
        let zero = [row("bypass", "same", 0.0)];
        assert_eq!(paired_ratio(&runs[..1], &zero), None);
    }

    #[test]
    fn json_rows_carry_the_required_fields() {
        let mut rows = vec![row("bypass", "same", 1.0), row("swapcache", "same", 1.1)];
        rows[1].ratio_to_bypass = Some(1.1);
        let v: serde_json::Value = serde_json::to_value(&rows).unwrap();
        let a = v.as_array().expect("a list of rows");
        assert_eq!(a.len(), 2);
        for r in a {
            for k in [
                "strategy",
                "us_per_page",
                "data_loss",
                "misload",
                "mode",
                "device",
                "threads",
                "ratio_to_bypass",
                "kernel_ratio",
                "stats",
                "peak_rss_kib",
            ] {
                assert!(r.get(k).is_some(), "missing {k}: {r}");
            }
            assert!(r["latency"]["p999_ns"].is_u64());
            assert!(r["stats"]["retries"].is_u64());
        }
        assert_eq!(a[1]["strategy"], "swapcache");
        assert_eq!(a[0]["peak_rss_scope"], "per-run");
        assert!(a[1]["kernel_ratio"].as_f64().unwrap() > 1.2);
    }

    #[test]
    fn order_rows_are_divided_by_their_order0_row() {
        let mut rows = vec![
            row("bypass", "same", 2.0),
            row("bypass", "disjoint", 1.0),
            row("bypass", "same", 1.0),
            row("pin-retry", "same", 1.0),
        ];
        rows[2].order = 4;
        rows[3].order = 4;
        ratios_to_order0(&mut rows);
        assert_eq!(rows[0].ratio_to_order0, None);
        assert_eq!(rows[2].ratio_to_order0, Some(0.5));
        assert_eq!(rows[3].ratio_to_order0, None, "no order-0 pin-retry row");
        let v = serde_json::to_value(&rows[2]).unwrap();
        for k in [
            "order",
            "faults_per_page",
            "ratio_to_order0",
            "thp_swpout",
            "thp_swpout_fallback",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert!(v["stats"]["thp_swpin"].is_u64());
        assert!(table(&rows).contains(" x ord0 "));
    }

    #[test]
    fn median_of_runs() {
        let runs = vec![
            row("bypass", "same", 3.0),
            row("bypass", "same", 1.0),
            row("bypass", "same", 2.0),
        ];
        let r = median_row(runs).unwrap();
        assert_eq!((r.us_per_page, r.us_per_page_min, r.runs), (2.0, 1.0, 3));
        let mut lossy = row("bypass", "same", 5.0);
        lossy.data_loss = 4;
        let r = median_row(vec![
            lossy,
            row("bypass", "same", 1.0),
            row("bypass", "same", 2.0),
        ]);
        assert_eq!(r.map(|r| (r.us_per_page, r.data_loss)), Some((2.0, 4)));
        let two = median_row(vec![row("bypass", "same", 3.0), row("bypass", "same", 1.0)]);
        assert_eq!(two.unwrap().us_per_page, 1.0);
        assert!(median_row(Vec::new()).is_none());
    }

    #[test]
    fn table_has_a_line_per_row() {
        let rows = vec![row("bypass", "same", 1.0), row("pte-marker", "same", 1.1)];
        let t = table(&rows);
        assert_eq!(t.lines().count(), 3);
        assert!(t.lines().nth(2).unwrap().starts_with("pte-marker"));
        assert!(t.contains(" - "), "no kernel ratio for pte-marker: {t}");
    }
}
