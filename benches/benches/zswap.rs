//! zswap_tree benches: raw compress/decompress per backend and content class,
//! store and load per page through `ZswapTree`, the region tree's lookup
//! against `Mutex<BTreeMap>`, and a paired check of the two load targets.
//!
//! Run: `cargo bench -p benches --bench zswap` (about 1.5 minutes; filter with
//! e.g. `-- load/lz4/`, `-- rbtree`, `-- targets`). Groups:
//!
//! - `raw/<backend>/<class>/{compress,decompress}`: every backend, deflate
//!   included.
//! - `store/<backend>/<class>`, `load/<backend>/<class>/optimistic`: lz4 and
//!   lz4_flex (deflate, 10-40x slower, is measured raw only: its store and
//!   load are its raw times plus the same tree overhead as the others).
//! - `load/lz4/<class>/exclusive`: the default backend.
//! - `rbtree-lookup/...`: one full region (16384 keys).
//! - `targets`: not a criterion group but a paired measurement printed as
//!   text: rounds alternate raw lz4 decompression of the half-random page
//!   with optimistic and exclusive loads of it and of a same-filled page,
//!   and the medians over the rounds are compared with the targets (a
//!   same-filled load at most 0.2 us; a half-random, 2:1, load within 1.3x
//!   of the raw decompression).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zswap_tree::rbtree::RbTree;
use zswap_tree::{
    Backend, Config, ContentClass, LoadMode, MAX_COMPRESSED, PAGE_SIZE, Page, ZswapTree,
};

/// Backends of the store/load matrix.
const TREE_BACKENDS: [Backend; 2] = [Backend::Lz4, Backend::Lz4Flex];

/// Exclusive loads are timed in batches of this many entries, stored
/// untimed before each batch. A batch is small enough that the pool stays
/// near a steady size: freeing a much larger batch (1024 pages, 2 MiB)
/// returns the emptied heap top to the OS (glibc's 128 KiB trim threshold),
/// and the `brk` calls, a property of the benchmark's drain-everything
/// pattern, then land in the timed loads.
const EXCLUSIVE_BATCH: u64 = 32;

/// First offset of the exclusive batches (region 1, away from the entries
/// the optimistic loads read).
const BATCH_BASE: u64 = 20_000;

/// The four content classes plus an all-zero (same-filled) page.
fn pages() -> Vec<(&'static str, Box<Page>)> {
    let mut v: Vec<_> = ContentClass::ALL
        .iter()
        .map(|c| (c.name(), c.page(12345)))
        .collect();
    v.push(("same-filled", Box::new([0u8; PAGE_SIZE])));
    v
}

fn config(backend: Backend) -> Config {
    // Accept every page (random ones too) so each class takes the full path.
    Config {
        backend,
        reject_len: MAX_COMPRESSED,
        ..Config::default()
    }
}

/// Stores a batch of `n` copies of `page` at `BATCH_BASE..`: through
/// `store_compressed` when `compressed` is given (the same entry `store`
/// would make, without paying the compression untimed), else `store`.
fn store_batch(zswap: &ZswapTree, page: &Page, compressed: Option<&[u8]>, n: u64) {
    for o in BATCH_BASE..BATCH_BASE + n {
        match compressed {
            Some(bytes) => zswap.store_compressed(o, bytes).unwrap(),
            None => zswap.store(o, page).unwrap(),
        }
    }
}

/// Times `n` exclusive loads of the batch stored by `store_batch`.
fn load_batch(zswap: &ZswapTree, out: &mut Page, n: u64) -> Duration {
    let start = Instant::now();
    for o in BATCH_BASE..BATCH_BASE + n {
        black_box(zswap.load(black_box(o), out, LoadMode::Exclusive).unwrap());
    }
    start.elapsed()
}

/// The compressed form of `page`, or `None` for a same-filled page.
fn compressed_form(zswap: &ZswapTree, page: &Page) -> Option<Vec<u8>> {
    if zswap_tree::same_filled(page).is_some() {
        return None;
    }
    let mut buf = vec![0u8; MAX_COMPRESSED];
    let len = zswap.compressor().compress(page, &mut buf).unwrap();
    buf.truncate(len);
    Some(buf)
}

fn raw(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw");
    g.throughput(Throughput::Bytes(PAGE_SIZE as u64));
    for backend in Backend::ALL {
        let comp = backend.compressor();
        for class in ContentClass::ALL {
            let page = class.page(12345);
            let mut buf = vec![0u8; MAX_COMPRESSED];
            let len = comp.compress(&page, &mut buf).unwrap();
            println!(
                "ratio {} {}: {} bytes ({:.2}:1)",
                backend.name(),
                class.name(),
                len,
                PAGE_SIZE as f64 / len as f64
            );
            g.bench_function(
                format!("{}/{}/compress", backend.name(), class.name()),
                |b| b.iter(|| comp.compress(black_box(&page), &mut buf).unwrap()),
            );
            let compressed = buf[..len].to_vec();
            let mut out = Box::new([0u8; PAGE_SIZE]);
            g.bench_function(
                format!("{}/{}/decompress", backend.name(), class.name()),
                |b| b.iter(|| comp.decompress(black_box(&compressed), &mut out).unwrap()),
            );
        }
    }
    g.finish();
}

fn store(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    for backend in TREE_BACKENDS {
        let zswap = ZswapTree::new(1 << 16, config(backend));
        for (name, page) in pages() {
            // Rotate over 1024 offsets: each store replaces (and frees) an entry.
            let mut off = 0u64;
            g.bench_function(format!("{}/{}", backend.name(), name), |b| {
                b.iter(|| {
                    off = (off + 1) & 1023;
                    zswap.store(off, black_box(&page)).unwrap()
                })
            });
        }
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    for backend in TREE_BACKENDS {
        let zswap = ZswapTree::new(1 << 16, config(backend));
        for (i, (name, page)) in pages().into_iter().enumerate() {
            let off = 1000 + i as u64;
            zswap.store(off, &page).unwrap();
            let mut out = Box::new([0u8; PAGE_SIZE]);
            g.bench_function(format!("{}/{}/optimistic", backend.name(), name), |b| {
                b.iter(|| {
                    zswap
                        .load(black_box(off), &mut out, LoadMode::Optimistic)
                        .unwrap()
                })
            });
            // Checked outside the timed closure, which a filter may skip.
            assert!(zswap.load(off, &mut out, LoadMode::Optimistic).unwrap());
            assert_eq!(*out, *page);
            if backend == Backend::default() {
                let compressed = compressed_form(&zswap, &page);
                g.bench_function(format!("{}/{}/exclusive", backend.name(), name), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        let mut left = iters;
                        while left > 0 {
                            let n = left.min(EXCLUSIVE_BATCH);
                            store_batch(&zswap, &page, compressed.as_deref(), n);
                            total += load_batch(&zswap, &mut out, n);
                            left -= n;
                        }
                        total
                    })
                });
                store_batch(&zswap, &page, compressed.as_deref(), 1);
                load_batch(&zswap, &mut out, 1);
                assert_eq!(*out, *page);
            }
        }
    }
    g.finish();
}

fn rbtree(c: &mut Criterion) {
    // One full region: 16384 keys, looked up in a scattered order.
    const N: u64 = 16384;
    let tree = Mutex::new({
        let mut t = RbTree::new();
        for k in 0..N {
            t.insert(k, k);
        }
        t
    });
    let map = Mutex::new((0..N).map(|k| (k, k)).collect::<BTreeMap<u64, u64>>());
    let mut g = c.benchmark_group("rbtree-lookup");
    let mut k = 0u64;
    g.bench_function("RbTree under Mutex", |b| {
        b.iter(|| {
            k = (k + 7919) % N;
            *tree.lock().unwrap().get(black_box(k)).unwrap()
        })
    });
    g.bench_function("Mutex<BTreeMap>", |b| {
        b.iter(|| {
            k = (k + 7919) % N;
            *map.lock().unwrap().get(&black_box(k)).unwrap()
        })
    });
    g.finish();
}

/// The paired target check (see the module docs).
fn targets(_: &mut Criterion) {
    if !benches::selected("targets") {
        return;
    }
    const ROUNDS: usize = 301;
    const N: u64 = EXCLUSIVE_BATCH;
    let zswap = ZswapTree::new(1 << 16, config(Backend::Lz4));
    let comp = zswap.compressor();
    let half = ContentClass::HalfRandom.page(12345);
    let same: Box<Page> = Box::new([0u8; PAGE_SIZE]);
    let half_c = compressed_form(&zswap, &half).unwrap();
    zswap.store(1000, &half).unwrap();
    zswap.store(1001, &same).unwrap();
    let mut out = Box::new([0u8; PAGE_SIZE]);
    let per_op = |d: Duration| d.as_nanos() as f64 / N as f64;
    let [mut raw, mut opt, mut excl, mut same_opt, mut same_excl] =
        std::array::from_fn(|_| Vec::with_capacity(ROUNDS));
    for round in 0..ROUNDS + 10 {
        let t = Instant::now();
        for _ in 0..N {
            comp.decompress(black_box(&half_c), &mut out).unwrap();
        }
        let r = per_op(t.elapsed());
        let t = Instant::now();
        for _ in 0..N {
            black_box(
                zswap
                    .load(black_box(1000), &mut out, LoadMode::Optimistic)
                    .unwrap(),
            );
        }
        let o = per_op(t.elapsed());
        store_batch(&zswap, &half, Some(&half_c), N);
        let x = per_op(load_batch(&zswap, &mut out, N));
        assert_eq!(*out, *half);
        let t = Instant::now();
        for _ in 0..N {
            black_box(
                zswap
                    .load(black_box(1001), &mut out, LoadMode::Optimistic)
                    .unwrap(),
            );
        }
        let so = per_op(t.elapsed());
        store_batch(&zswap, &same, None, N);
        let sx = per_op(load_batch(&zswap, &mut out, N));
        assert_eq!(*out, *same);
        if round >= 10 {
            // The first rounds warm up.
            raw.push(r);
            opt.push(o);
            excl.push(x);
            same_opt.push(so);
            same_excl.push(sx);
        }
    }
    let raw = benches::median(&mut raw);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets (medians of {ROUNDS} paired rounds of {N} ops, ns per page):");
    println!("  raw lz4 decompress, half-random: {raw:.1}");
    for (mode, v) in [("optimistic", &mut opt), ("exclusive", &mut excl)] {
        let m = benches::median(v);
        let ratio = m / raw;
        println!(
            "  load {mode:<10} half-random: {m:.1} = {ratio:.2}x raw (target 1.3x: {})",
            verdict(ratio <= 1.3)
        );
    }
    for (mode, v) in [("optimistic", &mut same_opt), ("exclusive", &mut same_excl)] {
        let m = benches::median(v);
        println!(
            "  load {mode:<10} same-filled: {m:.1} (target 200 ns: {})",
            verdict(m <= 200.0)
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .without_plots()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = raw, store, load, rbtree, targets
}
criterion_main!(benches);
