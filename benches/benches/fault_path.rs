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
//!   readahead (the others use the default window of 8), `swapcache-xa`
//!   the swap-cache path on the xarray swap cache (the others use the swap
//!   table).
//! - `fault_2t_disjoint/zram`: two threads fault disjoint pages at once;
//!   the time is per fault per thread (the slowest thread's wall time over
//!   its faults), the throughput counts both threads' faults.
//! - `fault_2t_same/zram`: two threads fault the same pages at once, in the
//!   same order (the reproducer's shared pages): the racers' retries and
//!   waits are in the time.
//!
//! - `targets`: not a criterion group but a paired check of the issue's
//!   targets. One zram and one null fixture of 2048 pages; in each of 1001
//!   rounds (after 5 warm-up rounds) every case faults the same pages back
//!   in, single-threaded, once, in a fresh random order: zram `bypass`
//!   (the reference), zram `bypass` again (an A/A control: how far a
//!   ratio strays with nothing changed), `pin-retry`, `swapcache` on the
//!   swap table and on the xarray, and null `bypass`. Strategy and swap
//!   cache are switched on the same fixture between runs
//!   (`System::set_strategy`), so memory placement cannot bias a ratio
//!   (separate fixtures per strategy did: an A/A pair read 1.05-1.29).
//!   Before each run the caches are evicted (64 MiB touched), as in the
//!   kernel's 10 GiB run; `TARGETS_CACHE=warm` skips that. The medians of
//!   the per-round ns/page and of the per-round ratios to the reference are
//!   compared with the targets (pin-retry at most 1% over bypass,
//!   swapcache at most 5%, zram zero-tail at most 1.0 us, null at most
//!   100 ns). Run it alone with `-- targets`.
//!
//! - `large`: not a criterion group but a paired check of the large-folio
//!   target (issue 13): one zram fixture of 2048 zero-tail pages with
//!   folio orders up to 4 allowed; in each of 101 rounds (after 3 warm-up
//!   rounds) every case, in a fresh random order, repopulates the pages
//!   with folios of its order, pages them all out and, timed and after the
//!   caches are evicted, faults them back in single-threaded in address
//!   order: `pin-retry` at order 0 (the reference), again (A/A), at order
//!   4 (64 KiB folios: one fault reads 16 pages), `bypass` at order 4,
//!   and `pin-retry` at order 4 on a second zram fixture that stores 64
//!   KiB multi-page objects (`Zram::multi_pages(4)`).
//!   The medians of ns/page and of the per-round ratio to the reference
//!   are compared with the target (64 KiB swap-in at most 0.5x order 0's
//!   time per page). Run it alone with `-- large`.
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
use fault_path::{AddressSpace, FaultStats, SwapCacheKind, System, SystemConfig};

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

/// The cases: (id, strategy, readahead, swap cache).
fn cases() -> Vec<(String, &'static str, u32, SwapCacheKind)> {
    let mut v: Vec<_> = fault_path::strategy::names()
        .into_iter()
        .map(|s| (s.to_string(), s, 8, SwapCacheKind::Table))
        .collect();
    v.push(("swapcache-ra0".into(), "swapcache", 0, SwapCacheKind::Table));
    v.push(("swapcache-xa".into(), "swapcache", 8, SwapCacheKind::XArray));
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

/// Touches a buffer larger than the last-level cache, so that the next
/// faults find the fixture's memory cold, as a 10 GiB swap-in does.
fn evict_caches(buf: &mut [u64]) {
    for (i, w) in buf.iter_mut().enumerate().step_by(8) {
        *w = w.wrapping_add(i as u64);
    }
    black_box(&*buf);
}

/// `0..n` in a random order (Fisher-Yates on a xorshift stream), so that
/// what one case leaves behind biases no particular successor.
fn shuffled(rng: &mut u64, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        order.swap(k, (*rng % (k as u64 + 1)) as usize);
    }
    order
}

/// The paired target check (see the module docs).
fn targets(_: &mut Criterion) {
    if !benches::selected("targets") {
        return;
    }
    // A round's ratio strays by about +-8% (IQR); the median of 1001 of
    // them is good to about +-0.6% (the A/A row shows it), where 101 rounds
    // left +-2%, too coarse for a 5% target.
    const ROUNDS: usize = 1001;
    const WARMUP: usize = 5;
    const N: usize = 2048;
    // `TARGETS_CACHE=warm` skips the eviction between rounds.
    let cold = std::env::var("TARGETS_CACHE").map_or(true, |v| v != "warm");
    use SwapCacheKind::{Table, XArray};
    // (label, fixture, strategy, swap cache); the first is the reference.
    let cases = [
        ("zram bypass", 0, "bypass", Table),
        ("zram bypass (A/A)", 0, "bypass", Table),
        ("zram pin-retry", 0, "pin-retry", Table),
        ("zram swapcache", 0, "swapcache", Table),
        ("zram swapcache xa", 0, "swapcache", XArray),
        ("null bypass", 1, "bypass", Table),
    ];
    // One fixture per device: every zram case runs on the same memory
    // (strategy and swap cache are switched between runs), so that where
    // the allocator put a fixture cannot bias a ratio.
    let fixtures = [
        fixture("bypass", Dev::Zram, N, 8),
        fixture("bypass", Dev::Null, N, 8),
    ];
    let mut evict = vec![0u64; if cold { 64 << 17 } else { 0 }]; // 64 MiB
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..WARMUP + ROUNDS {
        let mut this = vec![0.0; cases.len()];
        // A fresh random order every round: what a case leaves behind (the
        // frame free-list order, the allocator's state) then biases no
        // particular successor.
        let order = shuffled(&mut rng, cases.len());
        for i in order {
            let (_, fx, strategy, kind) = cases[i];
            let (sys, mm) = &fixtures[fx];
            sys.set_strategy(strategy).expect("strategy");
            sys.set_swap_cache_kind(kind).expect("swap cache kind");
            evict_caches(&mut evict);
            this[i] = fault_threads(mm, 1, true, 0..N).as_nanos() as f64 / N as f64;
            pageout(mm, 0..N);
        }
        if round >= WARMUP {
            for i in 0..cases.len() {
                ns[i].push(this[i]);
                ratios[i].push(this[i] / this[0]);
            }
        }
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets ({} caches; medians of {ROUNDS} rounds of {N} single-thread faults, \
         every case once per round in a random order on the same memory, ratios per round):",
        if cold { "cold" } else { "warm" }
    );
    let mut med = Vec::new();
    for (i, (name, ..)) in cases.iter().enumerate() {
        let t = benches::median(&mut ns[i]);
        let r = benches::median(&mut ratios[i]);
        let (q1, q3) = benches::quartiles(&mut ratios[i]);
        println!("  {name:<18} {t:8.1} ns/page   ratio {r:.4} (IQR {q1:.4}-{q3:.4})");
        med.push((t, r));
    }
    let (zram, null) = (med[0].0, med[5].0);
    let (aa, pin, cache, xa) = (med[1].1, med[2].1, med[3].1, med[4].1);
    println!("  A/A control (bypass / bypass): {aa:.4}: the resolution of the ratios below");
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
        "  swapcache / bypass: {cache:.4} (target 1.05: {}); xarray swap cache: {xa:.4}",
        verdict(cache <= 1.05)
    );
}

/// The paired large-folio check (see the module docs).
fn large(_: &mut Criterion) {
    if !benches::selected("large") {
        return;
    }
    const ROUNDS: usize = 101;
    const WARMUP: usize = 3;
    const N: usize = 2048;
    // (label, strategy, enabled orders, zram multi-page order); the first
    // is the reference.
    let cases = [
        ("pin-retry order 0", "pin-retry", 1u32, 0u32),
        ("pin-retry order 0 (A/A)", "pin-retry", 1, 0),
        ("pin-retry order 4", "pin-retry", 1 << 4, 0),
        ("bypass order 4", "bypass", 1 << 4, 0),
        ("pin-retry order 4, 64K obj", "pin-retry", 1 << 4, 4),
    ];
    // One fixture per zram granularity: 4 KiB objects (upstream's default)
    // and 64 KiB multi-page objects (the 2024 RFC).
    let fixture = |multi: u32| {
        let zram = Zram::new(N as u64 + 1024, zswap_tree::Backend::default().compressor())
            .multi_pages(multi)
            .expect("multi-page order");
        let device: Arc<dyn SwapDevice> = Arc::new(zram);
        let mut cfg = SystemConfig::new(N as u32 + 1024, device);
        cfg.orders = 1 | 1 << 4;
        let sys = System::new(cfg).expect("system");
        prefault_frames(&sys);
        let mm = AddressSpace::new(Arc::clone(&sys), N);
        (sys, mm)
    };
    let fixtures = [fixture(0), fixture(4)];
    let mut evict = vec![0u64; 64 << 17]; // 64 MiB
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut swpin = vec![0u64; cases.len()];
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..WARMUP + ROUNDS {
        let mut this = vec![0.0; cases.len()];
        let order = shuffled(&mut rng, cases.len());
        for i in order {
            let (_, strategy, orders, multi) = cases[i];
            let (sys, mm) = &fixtures[usize::from(multi > 0)];
            sys.set_strategy(strategy).expect("strategy");
            sys.set_orders(orders).expect("orders");
            mm.dontneed(0..N);
            mm.populate().expect("populate");
            pageout(mm, 0..N);
            evict_caches(&mut evict);
            let mut st = FaultStats::default();
            let t0 = std::time::Instant::now();
            for vpn in 0..N {
                mm.write(black_box(vpn), &mut st).expect("fault");
            }
            this[i] = t0.elapsed().as_nanos() as f64 / N as f64;
            if round >= WARMUP {
                swpin[i] += st.thp_swpin;
            }
        }
        if round >= WARMUP {
            for i in 0..cases.len() {
                ns[i].push(this[i]);
                ratios[i].push(this[i] / this[0]);
            }
        }
    }
    println!(
        "large folios (cold caches; medians of {ROUNDS} rounds of {N} single-thread faults \
         on zram zero-tail pages, every case once per round in a random order, ratios per round):"
    );
    let mut med = Vec::new();
    for (i, (name, ..)) in cases.iter().enumerate() {
        let t = benches::median(&mut ns[i]);
        let r = benches::median(&mut ratios[i]);
        let (q1, q3) = benches::quartiles(&mut ratios[i]);
        let per_round = swpin[i] / ROUNDS as u64;
        println!(
            "  {name:<24} {t:8.1} ns/page   ratio {r:.4} (IQR {q1:.4}-{q3:.4})   \
             large swap-ins/round {per_round}"
        );
        med.push(r);
    }
    println!("  A/A control: {:.4}", med[1]);
    let verdict = if med[2] <= 0.5 { "met" } else { "MISSED" };
    println!(
        "  order 4 / order 0 (pin-retry): {:.4} (target 0.5: {verdict})",
        med[2]
    );
    let verdict = if med[4] <= 0.5 { "met" } else { "MISSED" };
    println!(
        "  order 4 with 64 KiB zram objects / order 0 (pin-retry): {:.4} (target 0.5: {verdict})",
        med[4]
    );
}

fn single(c: &mut Criterion) {
    for dev in [Dev::Null, Dev::Zram] {
        let mut g = c.benchmark_group(format!("fault_single/{}", dev.name()));
        g.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
            .throughput(Throughput::Elements(1));
        for (id, strategy, ra, kind) in cases() {
            let (sys, mm) = fixture(strategy, dev, BATCH, ra);
            sys.set_swap_cache_kind(kind).expect("swap cache kind");
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
        for (id, strategy, ra, kind) in cases() {
            if id == "swapcache-ra0" {
                continue;
            }
            // Disjoint: each thread BATCH pages; same: BATCH shared pages.
            let pages = if same { BATCH } else { 2 * BATCH };
            let (sys, mm) = fixture(strategy, Dev::Zram, pages, ra);
            sys.set_swap_cache_kind(kind).expect("swap cache kind");
            g.bench_function(BenchmarkId::from_parameter(&id), |b| {
                b.iter_custom(|iters| batched(&mm, iters, 2, same, pages))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, single, two_threads, targets, large);
criterion_main!(benches);
