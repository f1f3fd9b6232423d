//! `swapin bench`: the seed-004 measurement on the model.
//!
//! Per strategy and mode, on a fresh [`System`]:
//!
//! 1. **populate** P pages and page them all out, in chunks of [`CHUNK`]
//!    pages (so that only a chunk is resident at a time: the end state is
//!    that of populating everything and paging it all out, with a frame
//!    pool the size of the swapped-in part). Word 0 is the counter (0),
//!    word 1 [`index_word`]; with a content class other than `zero-tail`
//!    words 2.. are filled by [`ContentClass::fill`].
//! 2. **swap in** the first N pages on T threads started by a barrier; each
//!    access is a write (word 0 += 1, as the reproducer's workers do) and
//!    is timed into a per-thread hdrhistogram. `same`: every thread walks
//!    all N in order; `disjoint`: thread t walks the t-th N/T.
//! 3. **verify** the N pages (word 0 must be T in `same` mode, 1 in
//!    `disjoint`; word 1 its index) and the accounting of slots and frames
//!    (`harness::check_accounting`).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fault_path::device::{Ramdisk, SwapDevice, Zram};
use fault_path::frame::WORDS;
use fault_path::harness::{self, check_accounting};
use fault_path::{AddressSpace, FaultStats, System, SystemConfig, ZswapConfig, index_word};
use hdrhistogram::Histogram;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use zswap_tree::{Backend, PAGE_SIZE, Page};

use super::cli::{BenchArgs, DeviceArg, Mode};
use super::content::Content;
use super::report::{self, Latency, Row};
use super::rss::{self, RssScope};

/// Pages populated and paged out per step of the populate phase.
pub const CHUNK: usize = 4096;

/// Progress bar updates every this many pages.
const TICK: usize = 1024;

/// Histogram range: 1 ns to 100 s, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// What one run needs besides the strategy and mode.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Pages populated.
    pub pages: usize,
    /// Pages swapped back in.
    pub part: usize,
    /// Threads.
    pub threads: usize,
    /// Device.
    pub device: DeviceArg,
    /// zswap load mode (with [`DeviceArg::Zswap`]).
    pub zswap: fault_path::ZswapLoad,
    /// Page content.
    pub content: Content,
    /// Compressor of zram and zswap.
    pub compressor: Backend,
    /// Readahead window.
    pub readahead: u32,
    /// Content seed.
    pub seed: u64,
}

impl Plan {
    /// The plan of `args`.
    pub fn of(args: &BenchArgs) -> Plan {
        Plan {
            pages: args.populated(),
            part: args.swapped_in(),
            threads: args.threads(),
            device: args.device,
            zswap: args.zswap.into(),
            content: args.content.clone(),
            compressor: args.compressor,
            readahead: args.readahead,
            seed: args.seed,
        }
    }

    /// The page range thread `t` faults in `mode`.
    pub fn range(&self, mode: Mode, t: usize) -> std::ops::Range<usize> {
        match mode {
            Mode::Same => 0..self.part,
            Mode::Disjoint => self.part * t / self.threads..self.part * (t + 1) / self.threads,
        }
    }

    /// The count word 0 of a swapped-in page must hold afterwards.
    pub fn expected(&self, mode: Mode) -> u64 {
        match mode {
            Mode::Same => self.threads as u64,
            Mode::Disjoint => 1,
        }
    }

    /// Progress steps of one run: populate, swap-in accesses, verify.
    pub fn steps(&self, mode: Mode) -> u64 {
        let swapin = (0..self.threads)
            .map(|t| self.range(mode, t).len())
            .sum::<usize>();
        (self.pages + swapin + self.part) as u64
    }
}

/// Bytes a run needs, roughly: each frame's 4 KiB and its folio, and per
/// populated page its PTE, swap-map byte, swap-table word, device slot and
/// (compressed or not) its stored copy, counted at 64 bytes for zram (a
/// zero-tail page compresses to a few dozen bytes) and 4 KiB otherwise.
fn memory_needed(plan: &Plan, frames: u32) -> u64 {
    let stored = match plan.device {
        DeviceArg::Zram | DeviceArg::Zswap if plan.content.is_zero_tail() => 64,
        _ => 4096,
    };
    (u64::from(frames) * (4096 + 128))
        .saturating_add((plan.pages as u64).saturating_mul(64 + stored))
}

/// `MemAvailable` of `/proc/meminfo` in bytes, if readable.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses a run that needs `need` bytes when less is available (`avail`,
/// when known), so that an oversized `--pages` or `--scale full` on a
/// small machine ends in an error instead of the allocator aborting the
/// process. `what` names the run in the message.
pub fn check_memory(what: &str, need: u64, avail: Option<u64>) -> Result<(), String> {
    const GIB: f64 = (1u64 << 30) as f64;
    match avail {
        Some(avail) if need > avail => Err(format!(
            "{what} need about {:.1} GiB; {:.1} GiB is available",
            need as f64 / GIB,
            avail as f64 / GIB
        )),
        _ => Ok(()),
    }
}

/// Builds the system for `strategy`: a device with room for every page
/// (and a little slack for the cluster allocator), a frame pool for the
/// swapped-in part plus a populate chunk.
pub fn build_system(plan: &Plan, row: &str) -> Result<Arc<System>, String> {
    let (strategy, kind) = crate::swapin::cli::split_row(row)?;
    let frames = plan.part + CHUNK + 64 * plan.threads + 4096;
    let frames = u32::try_from(frames).map_err(|_| format!("{frames} frames: too many"))?;
    check_memory(
        &format!(
            "{} pages populated and {} swapped in",
            plan.pages, plan.part
        ),
        memory_needed(plan, frames),
        mem_available(),
    )?;
    let slots = (plan.pages + plan.pages / 16 + 2048) as u64;
    let device: Arc<dyn SwapDevice> = match plan.device {
        DeviceArg::Zram => Arc::new(Zram::new(slots, plan.compressor.compressor())),
        DeviceArg::Ramdisk | DeviceArg::Zswap => Arc::new(Ramdisk::new(slots, None)),
    };
    let mut cfg = SystemConfig::new(frames, device).strategy(strategy);
    cfg.readahead = plan.readahead;
    cfg.swap_cache = kind;
    if plan.device == DeviceArg::Zswap {
        cfg.zswap = Some(ZswapConfig {
            load: plan.zswap,
            tree: zswap_tree::Config {
                backend: plan.compressor,
                ..zswap_tree::Config::default()
            },
        });
    }
    System::new(cfg).map_err(|e| e.to_string())
}

/// Touches every frame of the pool once, so that the operating system's
/// first-touch page faults on the pool's memory (a zeroed allocation is
/// mapped lazily) land here and not in the timed swap-in. The frames go
/// back in reverse order, which restores the pool's ascending hand-out
/// order.
pub fn prefault_frames(sys: &System) {
    let f = sys.frames();
    let mut all = Vec::with_capacity(f.stats().total as usize);
    while let Some(fr) = f.alloc() {
        f.zero(fr);
        all.push(fr);
    }
    for fr in all.into_iter().rev() {
        f.put(fr);
    }
}

/// Populates every page and pages it out, chunk by chunk.
pub fn populate_and_pageout(
    mm: &AddressSpace,
    plan: &Plan,
    pb: &ProgressBar,
) -> Result<(), String> {
    let mut st = FaultStats::default();
    let mut page: Page = [0u8; PAGE_SIZE];
    let fill = !plan.content.is_zero_tail();
    for start in (0..plan.pages).step_by(CHUNK) {
        let end = (start + CHUNK).min(plan.pages);
        for vpn in start..end {
            if fill {
                plan.content.fill(plan.seed, vpn, &mut page);
            }
            // A first touch: do_anonymous_page maps a zeroed frame (word 0,
            // the counter, is 0), then the access writes the rest.
            mm.access(vpn, &mut st, |f, fr| {
                f.set_word(fr, 1, index_word(vpn));
                if fill {
                    for (w, b) in page.chunks_exact(8).enumerate().take(WORDS).skip(2) {
                        f.set_word(fr, w, u64::from_le_bytes(b.try_into().expect("8 bytes")));
                    }
                }
            })
            .map_err(|e| format!("populate page {vpn}: {e}"))?;
        }
        let n = mm
            .pageout(start..end, &mut st)
            .map_err(|e| format!("page-out of {start}..{end}: {e}"))?;
        if n != end - start {
            return Err(format!(
                "page-out of {start}..{end} wrote {n} pages, not {}",
                end - start
            ));
        }
        pb.inc((end - start) as u64);
    }
    Ok(())
}

/// What a swap-in thread brings back.
struct ThreadResult {
    stats: FaultStats,
    hist: Histogram<u64>,
    start: Instant,
    end: Instant,
    sched: Sched,
}

/// Where a swap-in thread's time went, from the kernel's accounting of the
/// thread (`/proc/thread-self/schedstat` and `status`): on a CPU, waiting
/// for one (runnable: the machine is shared or oversubscribed), or neither
/// (blocked: sleeping on a lock or a wait). Sums over the threads. The
/// kernel brings a running thread's figures up to date at scheduler ticks
/// and switches, so each is exact to about a tick (4 ms at HZ=250) per
/// thread: good for runs of a second, rough for runs of milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Sched {
    /// Swap-in time of the threads, summed (each thread's own wall time).
    pub thread_us: f64,
    /// On a CPU.
    pub cpu_us: f64,
    /// Runnable, waiting for a CPU.
    pub runqueue_us: f64,
    /// Voluntary context switches (the thread blocked).
    pub voluntary: u64,
    /// Involuntary context switches (it was preempted).
    pub involuntary: u64,
    /// Whether the kernel gave the figures (zero otherwise).
    pub known: bool,
}

impl Sched {
    /// This thread's counters now (cumulative since it started).
    fn now() -> Sched {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        let mut f = stat.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (run, wait) = (f.next().flatten(), f.next().flatten());
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        let ctxt = |k: &str| super::rss::parse_status_kib(&status, k);
        match (run, wait) {
            (Some(run), Some(wait)) => Sched {
                thread_us: 0.0,
                cpu_us: run as f64 / 1e3,
                runqueue_us: wait as f64 / 1e3,
                voluntary: ctxt("voluntary_ctxt_switches:").unwrap_or(0),
                involuntary: ctxt("nonvoluntary_ctxt_switches:").unwrap_or(0),
                known: true,
            },
            _ => Sched::default(),
        }
    }

    /// `self - before`, with the thread's wall time `wall`.
    fn since(self, before: Sched, wall: Duration) -> Sched {
        Sched {
            thread_us: wall.as_secs_f64() * 1e6,
            cpu_us: self.cpu_us - before.cpu_us,
            runqueue_us: self.runqueue_us - before.runqueue_us,
            voluntary: self.voluntary.saturating_sub(before.voluntary),
            involuntary: self.involuntary.saturating_sub(before.involuntary),
            known: self.known && before.known,
        }
    }

    /// Time neither on a CPU nor waiting for one: blocked.
    pub fn blocked_us(&self) -> f64 {
        (self.thread_us - self.cpu_us - self.runqueue_us).max(0.0)
    }
}

impl std::ops::AddAssign for Sched {
    fn add_assign(&mut self, o: Sched) {
        self.thread_us += o.thread_us;
        self.cpu_us += o.cpu_us;
        self.runqueue_us += o.runqueue_us;
        self.voluntary += o.voluntary;
        self.involuntary += o.involuntary;
        self.known = self.known && o.known;
    }
}

/// Faults the plan's part back in on `plan.threads` threads; returns the
/// merged statistics, the merged histogram and the wall time.
fn swap_in(
    mm: &AddressSpace,
    plan: &Plan,
    mode: Mode,
    pb: &ProgressBar,
) -> Result<(FaultStats, Histogram<u64>, Duration, Sched), String> {
    let barrier = Barrier::new(plan.threads);
    let results: Vec<Result<ThreadResult, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..plan.threads)
            .map(|t| {
                let (barrier, range) = (&barrier, plan.range(mode, t));
                s.spawn(move || {
                    let mut stats = FaultStats::default();
                    let mut hist = histogram();
                    barrier.wait();
                    let sched0 = Sched::now();
                    let start = Instant::now();
                    // One clock read per access: the sample is the time
                    // from the end of the previous access to the end of
                    // this one (the loop's own cost is a few ns).
                    let mut prev = start;
                    for (i, vpn) in range.enumerate() {
                        mm.write(vpn, &mut stats)
                            .map_err(|e| format!("swap-in of page {vpn}: {e}"))?;
                        let now = Instant::now();
                        hist.saturating_record((now - prev).as_nanos() as u64);
                        prev = now;
                        if i % TICK == TICK - 1 {
                            pb.inc(TICK as u64);
                        }
                    }
                    let sched = Sched::now().since(sched0, prev - start);
                    Ok(ThreadResult {
                        stats,
                        hist,
                        start,
                        end: prev,
                        sched,
                    })
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("swap-in thread panicked".into()))
            })
            .collect()
    });
    let mut stats = FaultStats::default();
    let mut hist = histogram();
    let mut sched = Sched {
        known: true,
        ..Sched::default()
    };
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for r in results {
        let r = r?;
        stats += r.stats;
        sched += r.sched;
        hist.add(&r.hist).map_err(|e| format!("histogram: {e:?}"))?;
        first = Some(first.map_or(r.start, |f| f.min(r.start)));
        last = Some(last.map_or(r.end, |l| l.max(r.end)));
    }
    let wall = match (first, last) {
        (Some(f), Some(l)) => l - f,
        _ => Duration::ZERO,
    };
    Ok((stats, hist, wall, sched))
}

/// Checks the swapped-in pages: returns (loss, misload, excess).
fn verify(
    mm: &AddressSpace,
    plan: &Plan,
    mode: Mode,
    pb: &ProgressBar,
) -> Result<(u64, u64, u64), String> {
    let mut st = FaultStats::default();
    let r = harness::check_pages(mm, 0..plan.part, plan.expected(mode), &mut st)
        .map_err(|e| format!("verify: {e}"))?;
    pb.inc(plan.part as u64);
    Ok(r)
}

/// One strategy in one mode, on a fresh system.
pub fn run_one(plan: &Plan, strategy: &str, mode: Mode, pb: &ProgressBar) -> Result<Row, String> {
    let scope = if rss::reset_peak() {
        RssScope::PerRun
    } else {
        RssScope::Process
    };
    let sys = build_system(plan, strategy)?;
    prefault_frames(&sys);
    let mm = AddressSpace::new(Arc::clone(&sys), plan.pages);
    pb.set_message(format!("{strategy} {}: populate + page-out", mode.name()));
    populate_and_pageout(&mm, plan, pb)?;
    pb.set_message(format!("{strategy} {}: swap-in", mode.name()));
    let (stats, hist, wall, sched) = swap_in(&mm, plan, mode, pb)?;
    pb.set_message(format!("{strategy} {}: verify", mode.name()));
    let (data_loss, misload, excess) = verify(&mm, plan, mode, pb)?;
    let accounting = check_accounting(&sys, &[&mm]);
    let peak_rss_kib = rss::peak_kib();
    let total_us = wall.as_secs_f64() * 1e6;
    Ok(Row {
        strategy: strategy.to_string(),
        mode: mode.name().into(),
        device: plan.device.name().into(),
        content: plan.content.name().into(),
        compressor: plan.compressor.label(),
        threads: plan.threads,
        pages_populated: plan.pages,
        pages_swapped_in: plan.part,
        total_us,
        us_per_page: total_us / plan.part.max(1) as f64,
        runs: 1,
        us_per_page_min: total_us / plan.part.max(1) as f64,
        per_repeat_us_per_page: Vec::new(),
        at_kernel_size_us: total_us / plan.part.max(1) as f64
            * super::cli::KERNEL_SWAPPED_IN as f64,
        kernel_total_us: report::kernel_total_us(strategy),
        ratio_to_bypass: None,
        per_repeat_ratio: Vec::new(),
        kernel_ratio: report::kernel_ratio(strategy),
        latency: Latency::of(&hist),
        cpu_us_per_page: sched.known.then(|| sched.cpu_us / plan.part.max(1) as f64),
        sched,
        stats,
        device_stats: sys.device().stats(),
        data_loss,
        misload,
        excess,
        accounting,
        peak_rss_kib,
        peak_rss_scope: scope,
    })
}

fn mib(pages: usize) -> String {
    let m = pages as f64 * 4096.0 / (1 << 20) as f64;
    if m >= 1024.0 {
        format!("{:.1} GiB", m / 1024.0)
    } else {
        format!("{m:.0} MiB")
    }
}

/// The order of the rows in repeat `rep`: rotated by one per repeat, so
/// that over `n` repeats every row runs once in every position and no row
/// is always first (or always after the same neighbour).
pub fn schedule(n: usize, rep: usize) -> Vec<usize> {
    (0..n).map(|k| (k + rep) % n.max(1)).collect()
}

/// The header line of a run.
pub fn header(args: &BenchArgs, plan: &Plan) -> String {
    format!(
        "swapin bench: {} ({}), compressor {}, content {}, {} thread(s), {} pages populated ({}), {} swapped in ({}); scale {}, readahead {}",
        plan.device.name(),
        if plan.device == DeviceArg::Zswap {
            plan.zswap.name()
        } else {
            "no zswap"
        },
        plan.compressor.label(),
        plan.content.name(),
        plan.threads,
        plan.pages,
        mib(plan.pages),
        plan.part,
        mib(plan.part),
        args.scale,
        plan.readahead,
    )
}

/// The progress bars of a run: one over every step of every run, with
/// the time left, and one per run.
pub struct Progress {
    mp: MultiProgress,
    overall: ProgressBar,
    style: ProgressStyle,
}

impl Progress {
    /// Bars for `total` steps (hidden when `quiet`).
    pub fn new(total: u64, quiet: bool) -> Progress {
        let mp = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let overall = mp.add(ProgressBar::new(total));
        overall.set_style(
            ProgressStyle::with_template(
                "{percent:>3}% [{elapsed_precise}, eta {eta_precise}] {wide_msg}",
            )
            .expect("template"),
        );
        let style =
            ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} {msg}").expect("template");
        Progress { mp, overall, style }
    }

    /// Runs `f` with a bar of `steps` steps, counted into the overall bar.
    pub fn step<T>(&self, steps: u64, f: impl FnOnce(&ProgressBar) -> T) -> T {
        let pb = self.mp.add(ProgressBar::new(steps));
        pb.set_style(self.style.clone());
        let r = f(&pb);
        pb.finish_and_clear();
        self.mp.remove(&pb);
        self.overall.inc(steps);
        r
    }

    /// Sets the overall bar's message.
    pub fn message(&self, m: String) {
        self.overall.set_message(m);
    }

    /// Clears the bars.
    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}

/// Runs the plan's rows in every mode: `args.warmup` discarded runs, then
/// `args.repeat` repeats with the rows rotated per repeat; returns the
/// rows (by mode, then in the order given) with the per-repeat figures
/// and the paired ratio to bypass.
pub fn measure(
    args: &BenchArgs,
    plan: &Plan,
    strategies: &[String],
    progress: &Progress,
) -> Result<Vec<Row>, String> {
    let repeat = args.repeat.max(1);
    if let (Some(first), Some(&mode)) = (strategies.first(), args.modes.first()) {
        for w in 0..args.warmup {
            progress.message(format!(
                "warm-up {}/{}: {first} {}",
                w + 1,
                args.warmup,
                mode.name()
            ));
            progress.step(plan.steps(mode), |pb| run_one(plan, first, mode, pb))?;
        }
    }
    // all[i][j]: the runs of strategy i in mode j, in repeat order.
    let mut all: Vec<Vec<Vec<Row>>> = vec![vec![Vec::new(); args.modes.len()]; strategies.len()];
    for rep in 0..repeat {
        for i in schedule(strategies.len(), rep) {
            let s = &strategies[i];
            for (j, &mode) in args.modes.iter().enumerate() {
                let row = progress.step(plan.steps(mode), |pb| run_one(plan, s, mode, pb))?;
                progress.message(format!(
                    "repeat {}/{repeat}, last: {s} {} {:.3} us/page, loss {}, misload {}",
                    rep + 1,
                    mode.name(),
                    row.us_per_page,
                    row.data_loss,
                    row.misload
                ));
                all[i][j].push(row);
            }
        }
    }
    // The reference: the first bypass row on the default swap cache
    // (`bypass` or `bypass:table`).
    let base = strategies.iter().position(|s| {
        super::cli::split_row(s).is_ok_and(|(name, kind)| {
            name == "bypass" && kind == fault_path::SwapCacheKind::default()
        })
    });
    let mut rows = Vec::new();
    for j in 0..args.modes.len() {
        let per_repeat: Vec<(Vec<f64>, Vec<f64>)> = (0..strategies.len())
            .map(|i| {
                let us = all[i][j].iter().map(|r| r.us_per_page).collect();
                let ratios = base.map_or_else(Vec::new, |b| {
                    report::per_repeat_ratios(&all[i][j], &all[b][j])
                });
                (us, ratios)
            })
            .collect();
        let ratios: Vec<Option<f64>> = (0..strategies.len())
            .map(|i| base.and_then(|b| report::paired_ratio(&all[i][j], &all[b][j])))
            .collect();
        for ((runs, ratio), (us, rr)) in all.iter_mut().zip(ratios).zip(per_repeat) {
            rows.extend(
                report::median_row(std::mem::take(&mut runs[j])).map(|mut r| {
                    r.ratio_to_bypass = ratio;
                    r.per_repeat_us_per_page = us;
                    r.per_repeat_ratio = rr;
                    r
                }),
            );
        }
    }
    Ok(rows)
}

/// Runs every selected strategy in every selected mode, prints the table
/// and writes the JSON and SVG files.
pub fn run(args: &BenchArgs) -> Result<Vec<Row>, String> {
    if args.threads.len() > 1 {
        return Err(format!(
            "bench takes one thread count, not {:?}; `swapin scale --threads ...` sweeps a list",
            args.threads
        ));
    }
    let plan = Plan::of(args);
    if plan.part == 0 {
        return Err("nothing to swap in".into());
    }
    let strategies = super::cli::strategies_or_all(&args.strategies);
    let header = header(args, &plan);
    println!("{header}");
    let repeat = args.repeat.max(1);
    let per_pass: u64 = args.modes.iter().map(|&m| plan.steps(m)).sum();
    let warm = args.modes.first().map_or(0, |&m| plan.steps(m)) * args.warmup as u64;
    let progress = Progress::new(
        per_pass * (strategies.len() * repeat) as u64 + warm,
        args.quiet,
    );
    let rows = measure(args, &plan, &strategies, &progress)?;
    progress.finish();
    print!("{}", report::table(&rows));
    let scope = rows.first().map(|r| r.peak_rss_scope);
    println!(
        "us/pg: swap-in wall time / pages swapped in, the median-time run (kernel, seed 004: bypass 4.17, pin-retry 4.26, swapcache 5.02). \
         @10GiB: us/pg x 2621440, the total of the kernel's run size; kernel: its totals (10,934,698 / 11,157,121 / 13,155,355 us). \
         cpu/pg: the swap-in threads' on-CPU time per page (schedstat), free of waits for a CPU; runq%/blk%: share of the threads' time runnable but waiting for a CPU (a shared or oversubscribed machine) / blocked. \
         ratio: median over the repeats of the time over bypass's in the same repeat. \
         {} warm-up run(s) discarded; rows rotated per repeat. \
         Latency: per access, present-page accesses of the other threads included. waits = waits + cache_waits + sleeps. \
         RSS: VmHWM {}.",
        args.warmup,
        match scope {
            Some(RssScope::PerRun) => "reset before each run (per-run peak)",
            _ => "process-wide and monotone (reset refused)",
        }
    );
    for r in rows.iter().filter(|r| !r.accounting.is_empty()) {
        println!(
            "{} {}: accounting: {}",
            r.strategy,
            r.mode,
            r.accounting
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    // The content table: the run's content beside zero-tail and the
    // shipped real-program corpus, with the run's compressor.
    let mut contents = vec![plan.content.clone()];
    for c in [
        Content::from(zswap_tree::ContentClass::ZeroTail),
        Content::real()?,
    ] {
        if !contents.contains(&c) {
            contents.push(c);
        }
    }
    let codec_rows = super::codecs::measure(&[plan.compressor], &contents, 1024, 3)?;
    print!("{}", super::codecs::table(&codec_rows));
    if let Some(path) = &args.json {
        let doc = report::BenchJson::new(&header, args, &plan, &rows);
        write_file(
            path,
            &(serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n"),
        )?;
        println!("json: {}", path.display());
    }
    let svg = args.svg_path();
    write_file(&svg, &super::svg::render(&rows, &header))?;
    println!("svg: {}", svg.display());
    Ok(rows)
}

/// Writes `text` to `path`, creating its directory.
pub fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Faults `vpns` in, single-threaded (kept out of line so a profiler can
/// collect this function alone).
#[inline(never)]
pub fn fault_loop(mm: &AddressSpace, vpns: std::ops::Range<usize>, st: &mut FaultStats) {
    for vpn in vpns {
        mm.write(std::hint::black_box(vpn), st).expect("fault");
    }
}

/// `swapin profile`: populate and page out `pages` zero-tail pages, then
/// fault them back in with [`fault_loop`] and print the time per fault.
pub fn profile(a: &super::cli::ProfileArgs) -> Result<(), String> {
    if a.pages == 0 {
        return Err("profile: nothing to fault (--pages 0)".into());
    }
    let frames = u32::try_from(a.pages)
        .ok()
        .and_then(|p| p.checked_add(1024))
        .ok_or_else(|| {
            format!(
                "profile: {} pages is more than the model's frame numbers hold",
                a.pages
            )
        })?;
    let slots = u64::from(frames);
    let device: Arc<dyn SwapDevice> = match a.device.as_str() {
        "null" => Arc::new(fault_path::device::NullDevice::new(slots)),
        "zram" => Arc::new(Zram::new(
            slots,
            zswap_tree::Backend::default().compressor(),
        )),
        d => return Err(format!("profile: device {d:?}: null or zram")),
    };
    let (strategy, kind) = crate::swapin::cli::split_row(&a.strategy)?;
    let mut cfg = SystemConfig::new(frames, device).strategy(strategy);
    cfg.readahead = a.readahead;
    cfg.swap_cache = kind;
    let sys = System::new(cfg).map_err(|e| e.to_string())?;
    prefault_frames(&sys);
    let mm = AddressSpace::new(Arc::clone(&sys), a.pages);
    mm.populate().map_err(|e| e.to_string())?;
    let mut st = FaultStats::default();
    mm.pageout(0..a.pages, &mut st).map_err(|e| e.to_string())?;
    let mut st = FaultStats::default();
    let t = Instant::now();
    fault_loop(&mm, 0..a.pages, &mut st);
    let ns = t.elapsed().as_nanos() as f64 / a.pages as f64;
    println!("{} {}: {ns:.1} ns/fault, {st:?}", a.strategy, a.device);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zswap_tree::ContentClass;

    fn plan(threads: usize, part: usize) -> Plan {
        Plan {
            pages: part * 3,
            part,
            threads,
            device: DeviceArg::Zram,
            zswap: fault_path::ZswapLoad::ExclusiveIfCached,
            content: Content::Class(ContentClass::ZeroTail),
            compressor: Backend::Lz4,
            readahead: 8,
            seed: 1,
        }
    }

    #[test]
    fn oversized_runs_are_refused_before_allocating() {
        let p = plan(2, 1 << 20);
        let need = memory_needed(&p, 1 << 20);
        assert!(need > 4 << 30, "{need}");
        assert!(check_memory("run", need, Some(need)).is_ok());
        let e = check_memory("run", need, Some(need - 1)).unwrap_err();
        assert!(
            e.starts_with("run need about") && e.contains("GiB is available"),
            "{e}"
        );
        assert!(check_memory("run", need, None).is_ok());
        // The full scale fits a 24 GiB machine: 10 GiB of frames, 32 GiB
        // of zero-tail pages compressed.
        let full = Plan {
            pages: 8 << 20,
            ..plan(2, 10 << 18)
        };
        assert!(memory_needed(&full, (10 << 18) + 8192) < 14 << 30);
    }

    #[test]
    fn disjoint_ranges_cover_the_part_once() {
        let p = plan(3, 100);
        let mut seen = vec![0; 100];
        for t in 0..3 {
            for v in p.range(Mode::Disjoint, t) {
                seen[v] += 1;
            }
            assert_eq!(p.range(Mode::Same, t), 0..100);
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!((p.expected(Mode::Same), p.expected(Mode::Disjoint)), (3, 1));
        assert_eq!(p.steps(Mode::Same), 300 + 300 + 100);
        assert_eq!(p.steps(Mode::Disjoint), 300 + 100 + 100);
    }

    /// A tiny untimed run of every strategy and content on each device:
    /// the pipeline works and a fixed strategy reports clean.
    #[test]
    fn tiny_runs_are_clean() {
        let pb = ProgressBar::hidden();
        let cases = ContentClass::ALL
            .into_iter()
            .map(|c| (DeviceArg::Zram, Content::from(c), Backend::Lz4))
            .chain([
                (
                    DeviceArg::Ramdisk,
                    ContentClass::ZeroTail.into(),
                    Backend::Lz4,
                ),
                (DeviceArg::Zswap, ContentClass::Text.into(), Backend::Lz4),
            ]);
        for (device, content, compressor) in cases {
            let p = Plan {
                device,
                content: content.clone(),
                compressor,
                pages: CHUNK + 100,
                ..plan(2, 300)
            };
            check_clean(&p, &["pin-retry", "swapcache"], &pb);
        }
    }

    /// The real corpus and the new compressors on zram and zswap.
    #[test]
    fn corpus_and_compressor_runs_are_clean() {
        let pb = ProgressBar::hidden();
        for (device, content, compressor) in [
            (DeviceArg::Zram, Content::real().unwrap(), Backend::Lzo),
            (DeviceArg::Zswap, Content::real().unwrap(), Backend::Zstd(3)),
            (DeviceArg::Zram, ContentClass::Text.into(), Backend::Zstd(9)),
        ] {
            let p = Plan {
                device,
                content,
                compressor,
                pages: 700,
                ..plan(2, 300)
            };
            check_clean(&p, &["pin-retry"], &pb);
        }
    }

    fn check_clean(p: &Plan, strategies: &[&str], pb: &ProgressBar) {
        let (content, compressor) = (&p.content, p.compressor);
        {
            for &s in strategies {
                for mode in [Mode::Same, Mode::Disjoint] {
                    let r = run_one(p, s, mode, pb).unwrap();
                    assert_eq!((r.data_loss, r.misload, r.excess), (0, 0, 0), "{r:?}");
                    assert!(r.accounting.is_empty(), "{:?}", r.accounting);
                    assert_eq!(r.latency.samples, p.steps(mode) - 300 - p.pages as u64);
                    assert!(r.stats.faults >= 300, "{:?}", r.stats);
                    assert_eq!(r.content, content.name());
                    assert_eq!(r.compressor, compressor.label());
                    // schedstat, where the kernel has it: on-CPU time fits
                    // in the threads' time (to within the kernel's
                    // accounting granularity, a scheduler tick, 10 ms here
                    // per thread at most). The run-queue wait is not bounded
                    // here: a wait that began before the timed part (the
                    // threads' release) is counted whole when it ends in it,
                    // so on a loaded machine cpu + wait can exceed the time.
                    if r.sched.known {
                        let s = r.sched;
                        assert!(s.cpu_us >= 0.0 && s.runqueue_us >= 0.0, "{s:?}");
                        assert!(
                            s.cpu_us <= s.thread_us + 10_000.0 * p.threads as f64,
                            "{s:?}"
                        );
                        assert!(r.cpu_us_per_page.is_some());
                    }
                }
            }
        }
    }

    #[test]
    fn every_row_runs_in_every_position() {
        for n in 1..6 {
            let mut seen = vec![vec![false; n]; n];
            for rep in 0..n {
                let order = schedule(n, rep);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation");
                for (pos, &row) in order.iter().enumerate() {
                    seen[row][pos] = true;
                }
            }
            assert!(seen.iter().flatten().all(|&x| x), "n = {n}: {seen:?}");
        }
    }

    fn tiny_args(rows: &str) -> BenchArgs {
        use clap::Parser;
        let a = [
            "swapin",
            "bench",
            "--strategies",
            rows,
            "--pages",
            "1200",
            "--swapin-pages",
            "400",
            "--repeat",
            "3",
            "--quiet",
            "--threads",
            "2",
            "--modes",
            "disjoint,same",
        ];
        match super::super::cli::Cli::try_parse_from(a).unwrap().command() {
            super::super::cli::Command::Bench(b) => b,
            c => panic!("{c:?}"),
        }
    }

    /// The rows in two orders: every row keeps its identity, its paired
    /// ratio's reference (bypass, wherever it stands), its run count and
    /// its deterministic figures (faults, majors, loss in disjoint mode).
    #[test]
    fn rows_in_two_orders_give_the_same_figures() {
        let measure_order = |rows: &str| {
            let a = tiny_args(rows);
            let plan = Plan::of(&a);
            let s = super::super::cli::strategies_or_all(&a.strategies);
            measure(&a, &plan, &s, &Progress::new(0, true)).unwrap()
        };
        let one = measure_order("bypass,pin-retry,swapcache");
        let two = measure_order("swapcache,pin-retry,bypass");
        assert_eq!(one.len(), 6);
        assert_eq!(two.len(), 6);
        for r in &one {
            let o = two
                .iter()
                .find(|x| x.strategy == r.strategy && x.mode == r.mode)
                .unwrap();
            assert_eq!((r.runs, o.runs), (3, 3));
            assert_eq!(r.per_repeat_us_per_page.len(), 3);
            assert_eq!(r.per_repeat_ratio.len(), 3, "{} {}", r.strategy, r.mode);
            assert_eq!(r.ratio_to_bypass.is_some(), o.ratio_to_bypass.is_some());
            if r.strategy == "bypass" {
                assert_eq!(
                    (r.ratio_to_bypass, o.ratio_to_bypass),
                    (Some(1.0), Some(1.0))
                );
            }
            if r.mode == "disjoint" {
                assert_eq!(
                    (r.stats.faults, r.stats.major, r.data_loss),
                    (o.stats.faults, o.stats.major, o.data_loss),
                    "{} {}",
                    r.strategy,
                    r.mode
                );
            }
        }
        // The table keeps the order given, by mode.
        let names: Vec<_> = two.iter().map(|r| r.strategy.as_str()).collect();
        assert_eq!(names[..3], ["swapcache", "pin-retry", "bypass"]);
    }

    #[test]
    fn bench_refuses_a_thread_list() {
        let mut a = tiny_args("bypass");
        a.threads = vec![1, 2];
        assert!(run(&a).unwrap_err().contains("swapin scale"));
    }
}
