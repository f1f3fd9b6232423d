//! zswap_tree benches: raw compress/decompress per backend and content class,
//! store and load per page through `ZswapTree`, and the region tree's lookup
//! against `Mutex<BTreeMap>`.
//!
//! Run: `cargo bench -p benches --bench zswap` (filter with e.g. `-- load/`).
//! Targets (crate docs): a same-filled load at most 0.2 us; a load of a 2:1
//! page (half-random) within 1.3x of the default backend's raw decompress.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zswap_tree::rbtree::RbTree;
use zswap_tree::{
    Backend, Config, ContentClass, LoadMode, MAX_COMPRESSED, PAGE_SIZE, Page, ZswapTree,
};

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
    for backend in Backend::ALL {
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
    for backend in Backend::ALL {
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
            assert_eq!(*out, *page);
            if backend == Backend::default() {
                // Each exclusive load erases its entry: store a chunk of
                // entries untimed, then time loading them.
                g.bench_function(format!("{}/{}/exclusive", backend.name(), name), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        let mut left = iters;
                        while left > 0 {
                            let n = left.min(1024);
                            for o in 0..n {
                                zswap.store(20_000 + o, &page).unwrap();
                            }
                            let start = Instant::now();
                            for o in 0..n {
                                black_box(
                                    zswap
                                        .load(black_box(20_000 + o), &mut out, LoadMode::Exclusive)
                                        .unwrap(),
                                );
                            }
                            total += start.elapsed();
                            left -= n;
                        }
                        total
                    })
                });
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_secs(1));
    targets = raw, store, load, rbtree
}
criterion_main!(benches);
