//! The command line (clap derive) and the parsing of its values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fault_path::{LargeBug, SwapCacheKind, ZswapLarge, ZswapLoad};
use zswap_tree::Backend;

use super::content::Content;

/// Pages in the kernel run's populated region: 32 GiB of 4 KiB pages.
pub const KERNEL_POPULATED: usize = 32 << 18;
/// Pages the kernel run swapped back in: 10 GiB.
pub const KERNEL_SWAPPED_IN: usize = 10 << 18;

/// The `swapin` tool.
#[derive(Debug, Parser)]
#[command(
    name = "swapin",
    about = "The seed-004 swap-in measurement and the swap-stress-race harness, on the fault_path model",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// What to run; `bench` when omitted, so that `cargo run --release
    /// --bin swapin` is the measurement and `swapin --json x.json` is
    /// `swapin bench --json x.json`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `bench`'s options, for the command line without a subcommand.
    #[command(flatten)]
    pub bench: BenchArgs,
}

impl Cli {
    /// The subcommand to run: the one given, or `bench` with the options
    /// given without one.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Bench(self.bench))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Populate, page everything out, fault a part back in with T threads,
    /// per strategy; print a table, write JSON and an SVG plot.
    Bench(BenchArgs),
    /// The stress harness (swap-stress-race's shape) per strategy; print
    /// data loss and misload.
    Race(RaceArgs),
    /// `race` at 10,000 rounds and one seed for every fixed strategy (every
    /// row but `bypass`); fails unless every row is clean. Takes `race`'s
    /// options.
    Soak(RaceArgs),
    /// Compare two `bench` JSON files (before, after): per row the change
    /// in us/page and in the ratio to bypass, with a bootstrap 95%
    /// confidence interval from the per-repeat figures.
    Compare(CompareArgs),
    /// Read a live process's private anonymous memory into a page corpus
    /// file (for `--content corpus:FILE`).
    Capture(CaptureArgs),
    /// `bench` at each thread count of `--threads 1,2,4,...`: pages per
    /// second and the ratio to bypass per strategy; JSON and an SVG plot.
    Scale(BenchArgs),
    /// Per content class and compressor: compression ratio, same-filled
    /// share, compress and decompress time per page.
    Codecs(CodecsArgs),
    /// Single-thread swap-in of N pages for one strategy, untimed except for
    /// one total: a driver for profilers (`valgrind --tool=callgrind
    /// --toggle-collect='*fault_loop*'`).
    #[command(hide = true)]
    Profile(ProfileArgs),
}

/// `swapin profile` options.
#[derive(Clone, Debug, Args)]
pub struct ProfileArgs {
    /// Strategy, optionally with the swap cache (`STRATEGY:xarray`).
    #[arg(long, default_value = "bypass", value_parser = parse_row)]
    pub strategy: String,
    /// `null` (metadata only) or `zram`.
    #[arg(long, default_value = "null")]
    pub device: String,
    /// Pages faulted.
    #[arg(long, default_value_t = 20_000, value_parser = parse_pages)]
    pub pages: usize,
    /// Readahead window.
    #[arg(long, default_value_t = 8)]
    pub readahead: u32,
    /// Largest folio order (0: 4 KiB pages only; every order up to it is
    /// enabled).
    #[arg(long, default_value_t = 0, value_parser = parse_order)]
    pub order: u32,
    /// zram multi-page objects of 2^N pages (0: off; zram only).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub zram_multi_pages: u32,
}

/// The swap device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// zram: compressed, synchronous, discards a slot's data on free.
    Zram,
    /// brd: uncompressed, synchronous, keeps stale data.
    Ramdisk,
    /// zswap (unlimited pool) in front of a ram disk.
    Zswap,
}

impl DeviceArg {
    /// The name the table and JSON use.
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Zram => "zram",
            DeviceArg::Ramdisk => "ramdisk",
            DeviceArg::Zswap => "zswap",
        }
    }
}

/// How the threads share the pages swapped back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Every thread walks all of them, in the same order and started
    /// together (the reproducer's shared pages: threads race on each
    /// fault).
    Same,
    /// The pages are split into one contiguous range per thread.
    Disjoint,
}

impl Mode {
    /// The name the table and JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Same => "same",
            Mode::Disjoint => "disjoint",
        }
    }
}

/// zswap's load mode on swap-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ZswapArg {
    /// Always exclusive (Linux 6.5-6.8); races with `bypass` (seed 001).
    Exclusive,
    /// Exclusive only for swap-cache folios (25cd241408a2).
    ExclusiveIfCached,
}

impl From<ZswapArg> for ZswapLoad {
    fn from(z: ZswapArg) -> ZswapLoad {
        match z {
            ZswapArg::Exclusive => ZswapLoad::Exclusive,
            ZswapArg::ExclusiveIfCached => ZswapLoad::ExclusiveIfCached,
        }
    }
}

/// The run's size as a fraction of the kernel's 32 GiB / 10 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// The kernel sizes are divided by this.
    pub divisor: usize,
}

impl Scale {
    /// Pages populated (and paged out).
    pub fn populated(self) -> usize {
        KERNEL_POPULATED / self.divisor
    }

    /// Pages swapped back in.
    pub fn swapped_in(self) -> usize {
        KERNEL_SWAPPED_IN / self.divisor
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.divisor == 1 {
            f.write_str("full")
        } else {
            write!(f, "1/{}", self.divisor)
        }
    }
}

/// Parses `full`, `1/N` or `N` (meaning 1/N); N must divide 10 GiB of
/// pages into at least one page.
pub fn parse_scale(s: &str) -> Result<Scale, String> {
    let divisor = match s.trim() {
        "full" | "1" | "1/1" => 1,
        t => {
            let n = t.strip_prefix("1/").unwrap_or(t);
            n.parse::<usize>()
                .map_err(|_| format!("scale {s:?}: expected full, 1/N or N"))?
        }
    };
    if divisor == 0 || divisor > KERNEL_SWAPPED_IN {
        return Err(format!(
            "scale {s:?}: the divisor must be in 1..={KERNEL_SWAPPED_IN}"
        ));
    }
    Ok(Scale { divisor })
}

/// The most pages (or slots) a run may name: 2^40, 4 PiB of 4 KiB pages,
/// far beyond any machine, so that every size computed from it fits a
/// `u64`; whether a run fits this machine is checked before it allocates.
pub const MAX_PAGES: u64 = 1 << 40;

/// The most threads a run may start.
pub const MAX_THREADS: usize = 1024;

/// The most repeats of a `swapin bench` run.
pub const MAX_REPEAT: usize = 10_000;

/// Parses a count of at most `max` `what`.
fn parse_at_most(s: &str, max: u64, what: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if n > max {
        return Err(format!("{n} {what}: at most {max}"));
    }
    Ok(n)
}

/// Parses a page count of at most [`MAX_PAGES`].
pub fn parse_pages(s: &str) -> Result<usize, String> {
    let n = parse_at_most(s, MAX_PAGES, "pages")?;
    usize::try_from(n).map_err(|e| e.to_string())
}

/// Parses a slot count of at most [`MAX_PAGES`].
pub fn parse_slots(s: &str) -> Result<u64, String> {
    parse_at_most(s, MAX_PAGES, "slots")
}

/// Parses a thread count of at most [`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    if s.trim().is_empty() {
        return Err("empty thread count (an empty --threads list?)".into());
    }
    parse_at_most(s, MAX_THREADS as u64, "threads").map(|n| n as usize)
}

/// Parses a repeat count of at most [`MAX_REPEAT`].
pub fn parse_repeat(s: &str) -> Result<usize, String> {
    parse_at_most(s, MAX_REPEAT as u64, "repeats").map(|n| n as usize)
}

/// The largest folio order a run may ask for: the model's largest
/// (`fault_path::frame::MAX_FOLIO_ORDER`, 9 = 2 MiB, the PMD order).
pub const MAX_ORDER: u32 = fault_path::frame::MAX_FOLIO_ORDER;

/// Parses one entry of `--orders`: the largest folio order of a row, 0
/// (4 KiB pages only) to [`MAX_ORDER`].
pub fn parse_order(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty folio order (an empty --orders list?)".into());
    }
    let n: u32 = t
        .parse()
        .map_err(|_| format!("folio order {s:?}: expected a number 0..={MAX_ORDER}"))?;
    if n > MAX_ORDER {
        return Err(format!(
            "folio order {n}: above the largest, {MAX_ORDER} ({} KiB folios)",
            4u64 << MAX_ORDER
        ));
    }
    Ok(n)
}

/// The `SystemConfig::orders` mask of a largest order `max`: every order
/// from 0 to `max` enabled (bit k: order k), so that `--orders 2` means
/// "folios up to 16 KiB": a range that cannot take an order-2 folio takes
/// order 1, then 0, as the kernel's loop over the enabled mTHP sizes does.
pub fn orders_mask(max: u32) -> u32 {
    (2u32 << max.min(MAX_ORDER)) - 1
}

/// Checks an `--orders` list: not empty, no order twice.
pub fn check_orders(list: &[u32]) -> Result<(), String> {
    if list.is_empty() {
        return Err("--orders: an empty list".into());
    }
    for (i, o) in list.iter().enumerate() {
        if list[..i].contains(o) {
            return Err(format!("--orders: order {o} given twice"));
        }
    }
    Ok(())
}

/// Parses one strategy name against `fault_path::strategy::names()`.
pub fn parse_strategy(s: &str) -> Result<String, String> {
    let names = fault_path::strategy::names();
    if names.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown strategy {s:?}; known: {}",
            names.join(", ")
        ))
    }
}

/// Splits a `swapin bench` row name, `STRATEGY[:CACHE]`, into the strategy
/// and how the swap cache is kept (`table`, the default, or `xarray`).
pub fn split_row(row: &str) -> Result<(&str, SwapCacheKind), String> {
    let (name, kind) = match row.split_once(':') {
        None => (row, SwapCacheKind::default()),
        Some((name, k)) => (
            name,
            SwapCacheKind::from_name(k).ok_or_else(|| {
                format!("unknown swap cache {k:?} in {row:?}; known: table, xarray")
            })?,
        ),
    };
    parse_strategy(name)?;
    Ok((name, kind))
}

/// Parses one `swapin bench` row name (see [`split_row`]).
pub fn parse_row(s: &str) -> Result<String, String> {
    split_row(s).map(|_| s.to_string())
}

/// The row of the xarray swap cache that the default table adds after the
/// strategies: the swap-cache path as the kernel measured it (seed 004's
/// "Cached" row predates the swap table).
pub const XARRAY_ROW: &str = "swapcache:xarray";

/// The selected rows: every strategy (in table order) plus
/// [`XARRAY_ROW`] when none is given.
pub fn strategies_or_all(sel: &[String]) -> Vec<String> {
    if sel.is_empty() {
        fault_path::strategy::names()
            .into_iter()
            .map(String::from)
            .chain([XARRAY_ROW.to_string()])
            .collect()
    } else {
        sel.to_vec()
    }
}

/// The default thread count: 2, or fewer if the machine has fewer CPUs.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(2))
}

/// `swapin bench` options.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// Rows, comma-separated: a strategy, optionally with how the swap
    /// cache is kept, `STRATEGY:table` (the default, Linux 6.18's swap
    /// table) or `STRATEGY:xarray` (up to 6.17). Default: every strategy,
    /// then `swapcache:xarray`.
    #[arg(long, value_delimiter = ',', value_parser = parse_row)]
    pub strategies: Vec<String>,
    /// Threads faulting pages back in (default: 2, or the CPU count if
    /// lower). `swapin scale` takes a list (default 1, 2, 4, ... up to
    /// twice the CPU count).
    #[arg(long, value_delimiter = ',', value_parser = parse_threads)]
    pub threads: Vec<usize>,
    /// Page content: zero-tail (word 0 counter, word 1 index, zeros), text,
    /// half-random, random, real (the shipped corpus of a real program's
    /// memory) or corpus:FILE (a `swapin capture` file). Words 0 and 1 of
    /// every page are the counter and the index.
    #[arg(long, default_value = "zero-tail", value_parser = super::content::parse_content)]
    pub content: Content,
    /// Compressor of zram and zswap: lz4, lz4_flex, deflate, lzo, zstd or
    /// zstd:LEVEL (1-22).
    #[arg(long, default_value = "lz4", value_parser = Backend::parse)]
    pub compressor: Backend,
    /// Swap device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Zram)]
    pub device: DeviceArg,
    /// zswap load mode (with `--device zswap`).
    #[arg(long, value_enum, default_value_t = ZswapArg::ExclusiveIfCached)]
    pub zswap: ZswapArg,
    /// Size relative to the kernel run (32 GiB populated, 10 GiB swapped
    /// in): `full`, `1/N` or `N`.
    #[arg(long, default_value = "1/32", value_parser = parse_scale)]
    pub scale: Scale,
    /// Override: pages populated and paged out.
    #[arg(long, value_parser = parse_pages)]
    pub pages: Option<usize>,
    /// Override: pages faulted back in (the first ones).
    #[arg(long, value_parser = parse_pages)]
    pub swapin_pages: Option<usize>,
    /// Modes, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "same,disjoint"
    )]
    pub modes: Vec<Mode>,
    /// Largest folio orders, comma-separated, a row set per order: 0 (4 KiB
    /// pages only, the default), 2 (folios up to 16 KiB), 4 (up to 64 KiB),
    /// ... up to 9 (2 MiB). Every order up to the given one is enabled.
    #[arg(long, value_delimiter = ',', default_value = "0", value_parser = parse_order)]
    pub orders: Vec<u32>,
    /// zram multi-page compression (the 2024 RFC's
    /// `ZSMALLOC_MULTI_PAGES_ORDER`): a large folio's page-out stores each
    /// aligned run of 2^N pages as one object (1-4; 0, the default, is off,
    /// as upstream). Only with `--device zram`; it pays with `--orders`
    /// of at least N.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub zram_multi_pages: u32,
    /// Swap-in readahead window on the swap-cache path (pages; 0 or 1
    /// disables it).
    #[arg(long, default_value_t = 8)]
    pub readahead: u32,
    /// Runs of each strategy and mode (round-robin over the strategies, so
    /// that machine noise spreads over all of them); the row is the run
    /// with the median time, `us_per_page_min` the fastest, and the ratio
    /// to bypass the median of the per-repeat ratios.
    #[arg(long, default_value_t = 5, value_parser = parse_repeat)]
    pub repeat: usize,
    /// Discarded runs before the measured ones (the first row in the first
    /// mode), so that no row pays the process's first-run costs. The rows
    /// also rotate: repeat r starts with row r (mod the row count).
    #[arg(long, default_value_t = 1, value_parser = parse_repeat)]
    pub warmup: usize,
    /// Seed of the page contents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the rows as JSON to this path.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency plot here (default: next to the JSON, else
    /// target/swapin.svg).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl BenchArgs {
    /// Pages populated.
    pub fn populated(&self) -> usize {
        self.pages.unwrap_or(self.scale.populated())
    }

    /// Pages swapped back in (at most the populated ones).
    pub fn swapped_in(&self) -> usize {
        self.swapin_pages
            .unwrap_or(self.scale.swapped_in())
            .min(self.populated())
    }

    /// Threads (the first of `--threads`).
    pub fn threads(&self) -> usize {
        self.threads
            .first()
            .copied()
            .unwrap_or_else(default_threads)
            .max(1)
    }

    /// The thread counts of `swapin scale`: `--threads`, else 1, 2, 4, ...
    /// up to twice the CPU count. An empty list or a zero is an error.
    pub fn thread_list(&self) -> Result<Vec<usize>, String> {
        if self.threads.is_empty() {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            return Ok(std::iter::successors(Some(1usize), |&t| Some(t * 2))
                .take_while(|&t| t <= 2 * cpus)
                .collect());
        }
        if self.threads.contains(&0) {
            return Err("--threads: a thread count must be at least 1".into());
        }
        Ok(self.threads.clone())
    }

    /// The SVG path: `--svg`, else the JSON path with an `.svg`
    /// extension, else `target/swapin.svg`.
    pub fn svg_path(&self) -> PathBuf {
        match (&self.svg, &self.json) {
            (Some(p), _) => p.clone(),
            (None, Some(j)) => j.with_extension("svg"),
            (None, None) => PathBuf::from("target/swapin.svg"),
        }
    }
}

/// `swapin race` options. The defaults are the reproducer's recipe for
/// slot reuse (fault_path/tests/race.rs `tight`): bypass loses data, the
/// others stay clean.
#[derive(Clone, Debug, Args)]
pub struct RaceArgs {
    /// Strategies, comma-separated, each optionally with how the swap
    /// cache is kept (`STRATEGY:table`, the default, or `STRATEGY:xarray`).
    /// Default: every strategy, then `swapcache:xarray`.
    #[arg(long, value_delimiter = ',', value_parser = parse_row)]
    pub strategies: Vec<String>,
    /// Rounds per run (default 30; `swapin soak`: 10,000).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Worker threads (in pairs walking in opposite directions), plus one
    /// page-out thread.
    #[arg(long, alias = "workers", default_value_t = 4, value_parser = parse_threads)]
    pub threads: usize,
    /// Device read delay in microseconds (0: none).
    #[arg(long, default_value_t = 100)]
    pub delay: u64,
    /// Delay one read in this many.
    #[arg(long, default_value_t = 1)]
    pub every: u32,
    /// Pages in the shared region (default 16; with a largest order m > 0,
    /// 4 folios: max(16, 4 x 2^m)).
    #[arg(long, value_parser = parse_pages)]
    pub pages: Option<usize>,
    /// Swap slots on the device (small: slots are reused at once; default
    /// 3; with a largest order m > 0, 3 clusters of 2^m).
    #[arg(long, value_parser = parse_slots)]
    pub slots: Option<u64>,
    /// Pages per page-out call (default 16; with a largest order m > 0,
    /// one folio: 2^m).
    #[arg(long, value_parser = parse_pages)]
    pub chunk: Option<usize>,
    /// Swap device (`zswap` = zswap over a ram disk).
    #[arg(long, value_enum, default_value_t = DeviceArg::Ramdisk)]
    pub device: DeviceArg,
    /// Put zswap in front of the device with this load mode.
    #[arg(long, value_enum)]
    pub zswap: Option<ZswapArg>,
    /// Page content of words 2.. (as bench's `--content`): zero-tail (the
    /// default: zeros), text, half-random, random, real or corpus:FILE. The
    /// harness checks every page's content with its index after each
    /// round (a page holding another page's content is a misload).
    #[arg(long, value_parser = super::content::parse_content)]
    pub content: Option<Content>,
    /// Largest folio orders, comma-separated: a row set per order (0, the
    /// default: 4 KiB pages only; m > 0: folios up to 2^m pages, on
    /// clusters of 2^m slots).
    #[arg(long, value_delimiter = ',', default_value = "0", value_parser = parse_order)]
    pub orders: Vec<u32>,
    /// Negative control: a large-folio swap-in missing one check (needs an
    /// order above 0). Adds what exercises its race unless given
    /// otherwise: a zap region for recheck-faulting-only, zswap with a
    /// small pool for skip-backend-check; for writeback-ignores-pins and
    /// skip-backend-recheck zswap with a 150-byte pool and the
    /// all-in-zswap rule (their race exists only there). Default rows: the
    /// large forms (pin-retry, pin-sleep, pin-waitqueue, sync-map, and
    /// swapcache where the control applies to it).
    #[arg(long, value_enum)]
    pub large_bug: Option<LargeBugArg>,
    /// Pages of a zap region after the counted ones, zapped and refilled
    /// by a zapper thread while the workers read them (default 0; 4 folios
    /// with `--large-bug recheck-faulting-only`).
    #[arg(long, value_parser = parse_pages)]
    pub zap_pages: Option<usize>,
    /// zswap's pool limit in compressed bytes, so that writeback leaves
    /// ranges half in zswap and half on the device (default: unlimited;
    /// with `--large-bug skip-backend-check`, 64 bytes a folio page... see
    /// the README).
    #[arg(long)]
    pub zswap_pool: Option<u64>,
    /// A zswap shrinker thread writing the oldest entry back to the
    /// device, one at a time, while the workers run (the kernel's
    /// `shrink_worker`; on by default with `--large-bug
    /// writeback-ignores-pins` and `skip-backend-recheck`).
    #[arg(long)]
    pub zswap_shrinker: bool,
    /// zswap's large-folio rule: mainline (no large swap-in once zswap
    /// has stored a page: `zswap_never_enabled`) or all-in-zswap (the 2026 RFC: a range all in zswap
    /// may come back as one folio).
    #[arg(long, value_enum, default_value_t = ZswapLargeArg::Mainline)]
    pub zswap_large: ZswapLargeArg,
    /// First seed (read-delay choice and page-out order).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs per strategy, with seeds seed, seed+1, ... (default 5;
    /// `swapin soak`: 1).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Readahead window (pages).
    #[arg(long, default_value_t = 8)]
    pub readahead: u32,
    /// Watchdog: a run in which no round completes for this many seconds
    /// is stopped and counted as hung (a livelock: a failure of a fixed
    /// form, a catch of a negative control).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub hang_secs: u64,
    /// Write the rows as JSON to this path.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl RaceArgs {
    /// Rounds per run: `--rounds`, else 30 (`swapin soak`: 10,000, which
    /// sets it before the run).
    pub fn rounds(&self) -> usize {
        self.rounds.unwrap_or(super::race::RACE_ROUNDS)
    }

    /// Runs per strategy: `--seeds`, else 5 (`soak`: 1).
    pub fn seeds(&self, soak: bool) -> u64 {
        self.seeds
            .unwrap_or(if soak { 1 } else { super::race::RACE_SEEDS })
    }

    /// These options as `swapin soak` takes them: 10,000 rounds unless
    /// `--rounds` is given.
    pub fn soak(mut self) -> RaceArgs {
        self.rounds.get_or_insert(super::race::SOAK_ROUNDS);
        self
    }
}

/// The negative controls of the large-folio races
/// (`fault_path::LargeBug`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LargeBugArg {
    /// Race 5: pin only the faulting entry, not the whole range.
    PinFaultingOnly,
    /// Race 6: re-check only the faulting PTE under the PTE lock.
    RecheckFaultingOnly,
    /// Race 7: skip the one-backend check (all in zswap or none).
    SkipBackendCheck,
    /// Race 8: skip the no-entry-in-the-swap-cache check.
    SkipSwapcacheCheck,
    /// Race 7, writeback form: zswap writeback ignores the swap-in's pins.
    WritebackIgnoresPins,
    /// Race 7, writeback form: check the backend only before the pin.
    SkipBackendRecheck,
}

impl LargeBugArg {
    /// The name the table and JSON use.
    pub fn name(self) -> &'static str {
        match self {
            LargeBugArg::PinFaultingOnly => "pin-faulting-only",
            LargeBugArg::RecheckFaultingOnly => "recheck-faulting-only",
            LargeBugArg::SkipBackendCheck => "skip-backend-check",
            LargeBugArg::SkipSwapcacheCheck => "skip-swapcache-check",
            LargeBugArg::WritebackIgnoresPins => "writeback-ignores-pins",
            LargeBugArg::SkipBackendRecheck => "skip-backend-recheck",
        }
    }

    /// Whether this control is zswap writeback racing a large swap-in of
    /// an all-in-zswap range (the 2026 RFC's rule only).
    pub fn is_writeback_race(self) -> bool {
        matches!(
            self,
            LargeBugArg::WritebackIgnoresPins | LargeBugArg::SkipBackendRecheck
        )
    }
}

impl From<LargeBugArg> for LargeBug {
    fn from(b: LargeBugArg) -> LargeBug {
        match b {
            LargeBugArg::PinFaultingOnly => LargeBug::PinFaultingOnly,
            LargeBugArg::RecheckFaultingOnly => LargeBug::RecheckFaultingOnly,
            LargeBugArg::SkipBackendCheck => LargeBug::SkipBackendCheck,
            LargeBugArg::SkipSwapcacheCheck => LargeBug::SkipSwapCacheCheck,
            LargeBugArg::WritebackIgnoresPins => LargeBug::WritebackIgnoresPins,
            LargeBugArg::SkipBackendRecheck => LargeBug::SkipBackendRecheck,
        }
    }
}

/// zswap's large-folio rule (`fault_path::ZswapLarge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ZswapLargeArg {
    /// Mainline: no large swap-in once zswap has stored a page.
    Mainline,
    /// The 2026 RFC: a range entirely in zswap may be one folio.
    AllInZswap,
}

impl From<ZswapLargeArg> for ZswapLarge {
    fn from(z: ZswapLargeArg) -> ZswapLarge {
        match z {
            ZswapLargeArg::Mainline => ZswapLarge::Mainline,
            ZswapLargeArg::AllInZswap => ZswapLarge::AllInZswap,
        }
    }
}

/// `swapin compare` options.
#[derive(Clone, Debug, Args)]
pub struct CompareArgs {
    /// The "before" JSON of `swapin bench --json`.
    pub before: PathBuf,
    /// The "after" JSON.
    pub after: PathBuf,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub resamples: u32,
    /// Seed of the bootstrap (the result is reproducible).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `swapin capture` options.
#[derive(Clone, Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["pid", "self_"])))]
pub struct CaptureArgs {
    /// The process to read (root or its owner).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Read this process (a demo).
    #[arg(long = "self")]
    pub self_: bool,
    /// Stop after this many MiB of pages.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max: u64,
    /// Output file (written whole or not at all).
    #[arg(short, long)]
    pub output: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `swapin codecs` options.
#[derive(Clone, Debug, Args)]
pub struct CodecsArgs {
    /// Compressors, comma-separated (default: lz4, lz4_flex, deflate, lzo,
    /// zstd:1, zstd:3, zstd:9).
    #[arg(long, value_delimiter = ',', value_parser = Backend::parse)]
    pub compressors: Vec<Backend>,
    /// Content classes, comma-separated (default: zero-tail, text,
    /// half-random, random, real).
    #[arg(long, value_delimiter = ',', value_parser = super::content::parse_content)]
    pub contents: Vec<Content>,
    /// Pages per class (a corpus is cycled).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    pub pages: u32,
    /// Timed passes; the figure is the median pass.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub passes: u32,
    /// Write the rows as JSON to this path.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use zswap_tree::ContentClass;

    fn bench(args: &[&str]) -> BenchArgs {
        let mut v = vec!["swapin", "bench"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).expect("parses").command() {
            Command::Bench(b) => b,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn sizes_beyond_any_machine_are_refused_by_the_parser() {
        let max = MAX_PAGES.to_string();
        let over = (MAX_PAGES + 1).to_string();
        assert_eq!(bench(&["--pages", &max]).populated() as u64, MAX_PAGES);
        for args in [
            ["swapin", "bench", "--pages", over.as_str()],
            ["swapin", "bench", "--swapin-pages", over.as_str()],
            ["swapin", "bench", "--threads", "1025"],
            ["swapin", "bench", "--repeat", "10001"],
            ["swapin", "race", "--slots", over.as_str()],
            ["swapin", "race", "--chunk", over.as_str()],
            ["swapin", "race", "--threads", "100000"],
            ["swapin", "profile", "--pages", "-1"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn no_subcommand_is_bench() {
        match Cli::try_parse_from(["swapin"]).expect("parses").command() {
            Command::Bench(b) => assert_eq!(b.populated(), 262_144),
            c => panic!("{c:?}"),
        }
        // bench's flags work without naming it.
        let c = Cli::try_parse_from([
            "swapin",
            "--json",
            "x.json",
            "--strategies",
            "bypass",
            "--compressor",
            "zstd:7",
            "--repeat",
            "3",
        ])
        .expect("parses");
        match c.command() {
            Command::Bench(b) => {
                assert_eq!(b.json, Some(PathBuf::from("x.json")));
                assert_eq!(b.strategies, ["bypass"]);
                assert_eq!(b.compressor, Backend::Zstd(7));
                assert_eq!(b.repeat, 3);
            }
            c => panic!("{c:?}"),
        }
        // A subcommand's own flags still go to it, and mixing is refused.
        assert!(matches!(
            Cli::try_parse_from(["swapin", "race", "--rounds", "2"]).unwrap().command(),
            Command::Race(r) if r.rounds() == 2
        ));
        assert!(Cli::try_parse_from(["swapin", "--repeat", "2", "race"]).is_err());
        assert!(Cli::try_parse_from(["swapin", "--nope"]).is_err());
    }

    #[test]
    fn new_commands_refuse_bad_input() {
        for args in [
            vec!["swapin", "bench", "--compressor", "lz5"],
            vec!["swapin", "bench", "--compressor", "zstd:40"],
            vec!["swapin", "--compressor", "lzo-rle"],
            vec!["swapin", "bench", "--content", "corpus:/nonexistent.swpc"],
            vec!["swapin", "scale", "--threads", ""],
            vec!["swapin", "capture", "-o", "x.swpc"],
            vec!["swapin", "capture", "--pid", "1", "--self", "-o", "x"],
            vec!["swapin", "capture", "--pid", "x", "-o", "x"],
            vec!["swapin", "capture", "--self"],
            vec!["swapin", "compare", "a.json"],
            vec!["swapin", "codecs", "--compressors", "nope"],
        ] {
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?}");
        }
        let e = Cli::try_parse_from(["swapin", "--compressor", "lzo-rle"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not available"), "{e}");
    }

    #[test]
    fn bench_orders_parse_and_bad_ones_are_refused() {
        assert_eq!(bench(&[]).orders, [0], "the default stays order 0");
        let b = bench(&["--orders", "0,2,4"]);
        assert_eq!(b.orders, [0, 2, 4]);
        assert_eq!(
            (
                orders_mask(0),
                orders_mask(2),
                orders_mask(4),
                orders_mask(9)
            ),
            (1, 0b111, 0b1_1111, 0x3ff)
        );
        for bad in ["", "0,", "10", "99", "x", "-2", "2.5"] {
            let e = Cli::try_parse_from(["swapin", "bench", "--orders", bad]);
            assert!(e.is_err(), "{bad:?}");
        }
        let e = Cli::try_parse_from(["swapin", "bench", "--orders", "10"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("above the largest, 9"), "{e}");
        let e = Cli::try_parse_from(["swapin", "bench", "--orders", ""])
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        assert!(check_orders(&[]).unwrap_err().contains("empty"));
        assert!(check_orders(&[2, 0, 2]).unwrap_err().contains("twice"));
        assert!(check_orders(&[0, 2, 4]).is_ok());
    }

    #[test]
    fn bench_defaults_are_the_1_32_run() {
        let b = bench(&[]);
        assert_eq!(b.populated(), 262_144, "1 GiB");
        assert_eq!(b.swapped_in(), 81_920, "320 MiB");
        assert_eq!(b.device, DeviceArg::Zram);
        assert_eq!(b.content, Content::Class(ContentClass::ZeroTail));
        assert_eq!(b.compressor, Backend::Lz4);
        assert_eq!(b.warmup, 1);
        assert_eq!(b.modes, vec![Mode::Same, Mode::Disjoint]);
        assert!(b.strategies.is_empty());
        let rows = strategies_or_all(&b.strategies);
        assert_eq!(rows.len(), 9);
        assert_eq!(rows.last().map(String::as_str), Some(XARRAY_ROW));
        assert_eq!(b.svg_path(), PathBuf::from("target/swapin.svg"));
        assert!((1..=2).contains(&b.threads()));
    }

    #[test]
    fn rows_name_the_swap_cache() {
        assert_eq!(
            split_row("swapcache"),
            Ok(("swapcache", SwapCacheKind::Table))
        );
        assert_eq!(
            split_row("swapcache:xarray"),
            Ok(("swapcache", SwapCacheKind::XArray))
        );
        assert_eq!(
            split_row("bypass:table"),
            Ok(("bypass", SwapCacheKind::Table))
        );
        assert!(split_row("swapcache:btree").is_err());
        assert!(split_row("nope:xarray").is_err());
        let b = bench(&["--strategies", "bypass,swapcache:xarray"]);
        assert_eq!(b.strategies, vec!["bypass", "swapcache:xarray"]);
    }

    #[test]
    fn bench_options_parse() {
        let b = bench(&[
            "--strategies",
            "bypass,pin-retry,swapcache",
            "--threads",
            "3",
            "--content",
            "half-random",
            "--device",
            "zswap",
            "--scale",
            "full",
            "--modes",
            "disjoint",
            "--seed",
            "9",
            "--json",
            "out/r.json",
        ]);
        assert_eq!(b.strategies, ["bypass", "pin-retry", "swapcache"]);
        assert_eq!(b.threads(), 3);
        assert_eq!(b.content, Content::Class(ContentClass::HalfRandom));
        assert_eq!(b.device, DeviceArg::Zswap);
        assert_eq!(b.populated(), KERNEL_POPULATED);
        assert_eq!(b.swapped_in(), KERNEL_SWAPPED_IN);
        assert_eq!(b.modes, vec![Mode::Disjoint]);
        assert_eq!(b.seed, 9);
        assert_eq!(b.svg_path(), PathBuf::from("out/r.svg"));
    }

    #[test]
    fn overrides_and_scales() {
        let b = bench(&[
            "--scale",
            "1/256",
            "--pages",
            "100",
            "--swapin-pages",
            "500",
        ]);
        assert_eq!(b.scale.divisor, 256);
        assert_eq!((b.populated(), b.swapped_in()), (100, 100));
        assert_eq!(parse_scale("64"), Ok(Scale { divisor: 64 }));
        assert_eq!(
            parse_scale("full").map(|s| s.to_string()),
            Ok("full".into())
        );
        assert!(parse_scale("0").is_err());
        assert!(parse_scale("1/x").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            ["--strategies", "nope"],
            ["--content", "jpeg"],
            ["--device", "floppy"],
        ] {
            let mut v = vec!["swapin", "bench"];
            v.extend_from_slice(&args);
            assert!(Cli::try_parse_from(v).is_err(), "{args:?}");
        }
    }

    #[test]
    fn race_defaults_are_the_tight_recipe() {
        let Command::Race(r) = Cli::try_parse_from(["swapin", "race"]).unwrap().command() else {
            panic!("not race");
        };
        assert_eq!(
            (r.threads, r.delay, r.every, r.rounds(), r.seeds(false)),
            (4, 100, 1, 30, 5)
        );
        let Command::Soak(s) = Cli::try_parse_from(["swapin", "soak"]).unwrap().command() else {
            panic!("not soak");
        };
        assert_eq!((s.clone().soak().rounds(), s.seeds(true)), (10_000, 1));
        let Command::Soak(s) = Cli::try_parse_from(["swapin", "soak", "--rounds", "500"])
            .unwrap()
            .command()
        else {
            panic!("not soak");
        };
        assert_eq!(s.soak().rounds(), 500);
        // Sizes follow the order (race::config resolves them).
        assert_eq!((r.pages, r.slots, r.chunk), (None, None, None));
        assert_eq!((r.orders.as_slice(), r.large_bug), (&[0][..], None));
        assert_eq!(r.device, DeviceArg::Ramdisk);
        let Command::Race(r) =
            Cli::try_parse_from(["swapin", "race", "--workers", "2", "--zswap", "exclusive"])
                .unwrap()
                .command()
        else {
            panic!("not race");
        };
        assert_eq!(r.threads, 2);
        assert_eq!(r.zswap, Some(ZswapArg::Exclusive));
    }
}
