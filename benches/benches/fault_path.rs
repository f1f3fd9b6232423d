//! Criterion benches of the swap-in fault path, per strategy.
//!
//! `cargo bench -p benches --bench fault_path`
//!
//! Groups (ids are strategy names):
//! - `fault_single/null`: one thread faults pages back in from the null
//!   device, which transfers no data: the metadata-only fault (PTE, swap
//!   map, swap cache, frame allocator, the strategy's synchronisation).
//! - `fault_single/zram`: the same on zram with zero-tail pages (word 0 a
//!   counter, word 1 the index, zeros): decompression and the copy into the
//!   frame included. `swapcache-ra0` is the swap-cache path without
//!   readahead (the others use the default window of 8).
//! - `fault_2t_disjoint/zram`: two threads fault disjoint pages at once;
//!   the time is per fault per thread (the slowest thread's wall time over
//!   its faults), the throughput counts both threads' faults.
//! - `fault_2t_same/zram`: two threads fault the same pages at once, in the
//!   same order (the reproducer's shared pages): the racers' retries and
//!   waits are in the time.
//!
//! - `targets`: not a criterion group but a paired check of the issue's
//!   targets: in each of 101 rounds (after 5 warm-up rounds) the same 2048
//!   pages are faulted back in, single-threaded, for zram `bypass`,
//!   `pin-retry`, `swapcache` and null `bypass`, in an order that alternates
//!   between rounds; the medians of the per-round ns/page and of the
//!   per-round ratios to `bypass` are compared with the targets (pin-retry
//!   at most 1% over bypass, swapcache at most 5%, zram zero-tail at most
//!   1.0 us, null at most 100 ns). Run it alone with `-- targets`.
//!
//! Every case uses `iter_custom`: pages are paged out in batches outside the
//! timed region (page-out compresses, which costs more than the fault), and
//! only the faults are timed, one clock read per batch. Each fault is a write
//! access (word 0 += 1), as in `swapin bench`. Multi-thread cases start the
//! threads with a `Barrier` (sharded-slab's MultithreadedBench).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use benches::swapin::bench::prefault_frames;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fault_path::device::{NullDevice, SwapDevice, Zram};
use fault_path::{AddressSpace, FaultStats, System, SystemConfig};

/// Pages per timed batch (per thread).
const BATCH: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dev {
    Null,
    Zram,
}

impl Dev {
    fn name(self) -> &'static str {
        match self {
            Dev::Null => "null",
            Dev::Zram => "zram",
        }
    }
}

/// A system for `strategy` on `dev` with `pages` populated pages (word 0
/// zero, word 1 the index, zeros: zero-tail), all paged out.
fn fixture(strategy: &str, dev: Dev, pages: usize, readahead: u32) -> (Arc<System>, AddressSpace) {
    let slots = pages as u64 + 1024;
    let device: Arc<dyn SwapDevice> = match dev {
        Dev::Null => Arc::new(NullDevice::new(slots)),
        Dev::Zram => Arc::new(Zram::new(
            slots,
            zswap_tree::Backend::default().compressor(),
        )),
    };
    let mut cfg = SystemConfig::new(pages as u32 + 1024, device).strategy(strategy);
    cfg.readahead = readahead;
    let sys = System::new(cfg).expect("system");
    prefault_frames(&sys);
    let mm = AddressSpace::new(Arc::clone(&sys), pages);
    mm.populate().expect("populate");
    pageout(&mm, 0..pages);
    (sys, mm)
}

/// Pages out the present pages of `range` (those still swapped out are
/// skipped).
fn pageout(mm: &AddressSpace, range: std::ops::Range<usize>) {
    let mut st = FaultStats::default();
    mm.pageout(range, &mut st).expect("page-out");
}

/// The cases: (id, strategy, readahead).
fn cases() -> Vec<(String, &'static str, u32)> {
    let mut v: Vec<_> = fault_path::strategy::names()
        .into_iter()
        .map(|s| (s.to_string(), s, 8))
        .collect();
    v.push(("swapcache-ra0".into(), "swapcache", 0));
    v
}

/// Faults `range` back in on `threads` threads (`same`: each thread the
/// whole range; else a share each); returns the slowest thread's time.
fn fault_threads(
    mm: &AddressSpace,
    threads: usize,
    same: bool,
    range: std::ops::Range<usize>,
) -> Duration {
    benches::timed_threads(threads, |t| {
        let r = if same {
            range.clone()
        } else {
            let (a, n) = (range.start, range.len());
            a + n * t / threads..a + n * (t + 1) / threads
        };
        let mut st = FaultStats::default();
        for vpn in r {
            mm.write(black_box(vpn), &mut st).expect("fault");
        }
    })
}

/// `iters` faults per thread, in batches of at most [`BATCH`] pages per
/// thread: each batch is faulted back in on `threads` threads (timed), the
/// next one is paged out first (untimed; the fixture starts paged out), and
/// the fixture's `pages` are left paged out for the next sample.
fn batched(mm: &AddressSpace, iters: u64, threads: usize, same: bool, pages: usize) -> Duration {
    let per_batch = if same { 1 } else { threads };
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    let mut first = true;
    while left > 0 {
        let n = left.min(BATCH);
        let range = 0..n * per_batch;
        if !first {
            pageout(mm, range.clone());
        }
        first = false;
        total += fault_threads(mm, threads, same, range);
        left -= n;
    }
    pageout(mm, 0..pages);
    total
}

/// The paired target check (see the module docs).
fn targets(_: &mut Criterion) {
    if !benches::selected("targets") {
        return;
    }
    const ROUNDS: usize = 101;
    const WARMUP: usize = 5;
    const N: usize = 2048;
    let cases = [
        ("zram bypass", "bypass", Dev::Zram),
        ("zram pin-retry", "pin-retry", Dev::Zram),
        ("zram swapcache", "swapcache", Dev::Zram),
        ("null bypass", "bypass", Dev::Null),
    ];
    let fixtures: Vec<_> = cases.iter().map(|&(_, s, d)| fixture(s, d, N, 8)).collect();
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let (mut pin, mut cache) = (Vec::new(), Vec::new());
    for round in 0..WARMUP + ROUNDS {
        let mut this = [0.0; 4];
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            let (_, mm) = &fixtures[i];
            this[i] = fault_threads(mm, 1, true, 0..N).as_nanos() as f64 / N as f64;
            pageout(mm, 0..N);
        }
        if round >= WARMUP {
            for (v, t) in ns.iter_mut().zip(this) {
                v.push(t);
            }
            pin.push(this[1] / this[0]);
            cache.push(this[2] / this[0]);
        }
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets (medians of {ROUNDS} paired rounds of {N} single-thread faults):");
    for ((name, _, _), v) in cases.iter().zip(ns.iter_mut()) {
        println!("  {name:<15} {:8.1} ns/page", benches::median(v));
    }
    let zram = benches::median(&mut ns[0].clone());
    let null = benches::median(&mut ns[3].clone());
    let pin = benches::median(&mut pin);
    let cache = benches::median(&mut cache);
    println!(
        "  zram zero-tail bypass: {zram:.1} ns (target 1000: {})",
        verdict(zram <= 1000.0)
    );
    println!(
        "  metadata-only (null) bypass: {null:.1} ns (target 100: {})",
        verdict(null <= 100.0)
    );
    println!(
        "  pin-retry / bypass: {pin:.4} (target 1.01: {})",
        verdict(pin <= 1.01)
    );
    println!(
        "  swapcache / bypass: {cache:.4} (target 1.05: {})",
        verdict(cache <= 1.05)
    );
}

fn single(c: &mut Criterion) {
    for dev in [Dev::Null, Dev::Zram] {
        let mut g = c.benchmark_group(format!("fault_single/{}", dev.name()));
        g.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
            .throughput(Throughput::Elements(1));
        for (id, strategy, ra) in cases() {
            let (_sys, mm) = fixture(strategy, dev, BATCH, ra);
            g.bench_function(BenchmarkId::from_parameter(&id), |b| {
                b.iter_custom(|iters| batched(&mm, iters, 1, true, BATCH))
            });
        }
        g.finish();
    }
}

fn two_threads(c: &mut Criterion) {
    for same in [false, true] {
        let mut g = c.benchmark_group(format!(
            "fault_2t_{}/zram",
            if same { "same" } else { "disjoint" }
        ));
        g.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20)
            .throughput(Throughput::Elements(if same { 1 } else { 2 }));
        for (id, strategy, ra) in cases() {
            if id == "swapcache-ra0" {
                continue;
            }
            // Disjoint: each thread BATCH pages; same: BATCH shared pages.
            let pages = if same { BATCH } else { 2 * BATCH };
            let (_sys, mm) = fixture(strategy, Dev::Zram, pages, ra);
            g.bench_function(BenchmarkId::from_parameter(&id), |b| {
                b.iter_custom(|iters| batched(&mm, iters, 2, same, pages))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, single, two_threads, targets);
criterion_main!(benches);
