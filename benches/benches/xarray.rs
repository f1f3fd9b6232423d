//! `swapcache::XArray` against other concurrent maps on dense `u64` keys
//! (swap offsets): load hit and miss, insert + remove, and a read-mostly mix
//! (90% load, 10% insert + remove) on 1 and 2 threads.
//!
//! Run: `cargo bench -p benches --bench xarray`. Medians are in
//! `target/criterion/xarray_*/*/new/estimates.json`.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::{Barrier, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use swapcache::epoch::{self, Guard};
use swapcache::{Entry, XArray};

/// Dense keys: 65536 slots, four swap address spaces' worth.
const N: u64 = 1 << 16;
/// Guards (and papaya's pinned references) are refreshed this often in the
/// write and mixed cases, so that retired memory can be reclaimed.
const REPIN_EVERY: u64 = 64;

/// The `i`-th key of a pseudo-random walk over `0..n` (`n` a power of two):
/// an odd multiplier is a bijection modulo a power of two.
#[inline]
fn key(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9) & (n - 1)
}

/// The operations measured, over whatever per-thread state the map needs
/// (an epoch guard, papaya's pinned reference).
trait Map: Sync + Sized {
    type Session<'a>
    where
        Self: 'a;
    fn new() -> Self;
    fn session(&self) -> Self::Session<'_>;
    fn refresh<'a>(&'a self, s: &mut Self::Session<'a>);
    fn get(&self, s: &Self::Session<'_>, k: u64) -> Option<u64>;
    fn insert(&self, s: &Self::Session<'_>, k: u64, v: u64) -> bool;
    fn remove(&self, s: &Self::Session<'_>, k: u64) -> bool;
}

/// The xarray holding an unowned index per key (as the swap cache holds a
/// frame number): no allocation, nothing to retire.
impl Map for XArray<u32> {
    type Session<'a> = Guard;
    fn new() -> Self {
        XArray::new()
    }
    fn session(&self) -> Guard {
        epoch::pin()
    }
    fn refresh(&self, s: &mut Guard) {
        s.repin();
    }
    #[inline]
    fn get(&self, g: &Guard, k: u64) -> Option<u64> {
        self.load(k, g).and_then(Entry::as_ptr).map(u64::from)
    }
    fn insert(&self, g: &Guard, k: u64, v: u64) -> bool {
        XArray::insert(self, k, v as u32, g).is_ok()
    }
    fn remove(&self, g: &Guard, k: u64) -> bool {
        XArray::remove(self, k, g).is_some()
    }
}

/// The xarray owning a boxed value per key (the 0.1 layout: one allocation
/// per insert, one epoch-deferred free per remove).
impl Map for XArray<Box<u64>> {
    type Session<'a> = Guard;
    fn new() -> Self {
        XArray::new()
    }
    fn session(&self) -> Guard {
        epoch::pin()
    }
    fn refresh(&self, s: &mut Guard) {
        s.repin();
    }
    #[inline]
    fn get(&self, g: &Guard, k: u64) -> Option<u64> {
        self.load(k, g).and_then(Entry::as_ptr).copied()
    }
    fn insert(&self, g: &Guard, k: u64, v: u64) -> bool {
        XArray::insert(self, k, Box::new(v), g).is_ok()
    }
    fn remove(&self, g: &Guard, k: u64) -> bool {
        XArray::remove(self, k, g).is_some()
    }
}

type Papaya = papaya::HashMap<u64, u64>;

impl Map for Papaya {
    type Session<'a> =
        papaya::HashMapRef<'a, u64, u64, std::hash::RandomState, papaya::LocalGuard<'a>>;
    fn new() -> Self {
        papaya::HashMap::new()
    }
    fn session(&self) -> Self::Session<'_> {
        self.pin()
    }
    fn refresh<'a>(&'a self, s: &mut Self::Session<'a>) {
        *s = self.pin();
    }
    #[inline]
    fn get(&self, s: &Self::Session<'_>, k: u64) -> Option<u64> {
        s.get(&k).copied()
    }
    fn insert(&self, s: &Self::Session<'_>, k: u64, v: u64) -> bool {
        s.insert(k, v).is_none()
    }
    fn remove(&self, s: &Self::Session<'_>, k: u64) -> bool {
        s.remove(&k).is_some()
    }
}

impl Map for RwLock<BTreeMap<u64, u64>> {
    type Session<'a> = ();
    fn new() -> Self {
        RwLock::new(BTreeMap::new())
    }
    fn session(&self) {}
    fn refresh(&self, _: &mut ()) {}
    #[inline]
    fn get(&self, _: &(), k: u64) -> Option<u64> {
        self.read().unwrap().get(&k).copied()
    }
    fn insert(&self, _: &(), k: u64, v: u64) -> bool {
        self.write().unwrap().insert(k, v).is_none()
    }
    fn remove(&self, _: &(), k: u64) -> bool {
        self.write().unwrap().remove(&k).is_some()
    }
}

impl Map for Mutex<HashMap<u64, u64>> {
    type Session<'a> = ();
    fn new() -> Self {
        Mutex::new(HashMap::new())
    }
    fn session(&self) {}
    fn refresh(&self, _: &mut ()) {}
    #[inline]
    fn get(&self, _: &(), k: u64) -> Option<u64> {
        self.lock().unwrap().get(&k).copied()
    }
    fn insert(&self, _: &(), k: u64, v: u64) -> bool {
        self.lock().unwrap().insert(k, v).is_none()
    }
    fn remove(&self, _: &(), k: u64) -> bool {
        self.lock().unwrap().remove(&k).is_some()
    }
}

impl Map for dashmap::DashMap<u64, u64> {
    type Session<'a> = ();
    fn new() -> Self {
        dashmap::DashMap::new()
    }
    fn session(&self) {}
    fn refresh(&self, _: &mut ()) {}
    #[inline]
    fn get(&self, _: &(), k: u64) -> Option<u64> {
        dashmap::DashMap::get(self, &k).map(|r| *r)
    }
    fn insert(&self, _: &(), k: u64, v: u64) -> bool {
        dashmap::DashMap::insert(self, k, v).is_none()
    }
    fn remove(&self, _: &(), k: u64) -> bool {
        dashmap::DashMap::remove(self, &k).is_some()
    }
}

impl Map for scc::HashMap<u64, u64> {
    type Session<'a> = ();
    fn new() -> Self {
        scc::HashMap::new()
    }
    fn session(&self) {}
    fn refresh(&self, _: &mut ()) {}
    #[inline]
    fn get(&self, _: &(), k: u64) -> Option<u64> {
        self.read(&k, |_, v| *v)
    }
    fn insert(&self, _: &(), k: u64, v: u64) -> bool {
        scc::HashMap::insert(self, k, v).is_ok()
    }
    fn remove(&self, _: &(), k: u64) -> bool {
        scc::HashMap::remove(self, &k).is_some()
    }
}

/// A map holding `keys`, each mapped to itself.
fn filled<M: Map>(keys: impl Iterator<Item = u64>) -> M {
    let map = M::new();
    let s = map.session();
    for k in keys {
        assert!(map.insert(&s, k, k));
    }
    drop(s);
    map
}

fn load_hit<M: Map>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
    let map: M = filled(0..N);
    let s = map.session();
    let mut i = 0u64;
    g.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            let v = map.get(&s, key(i, N));
            debug_assert!(v.is_some());
            black_box(v)
        })
    });
}

fn load_miss<M: Map>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
    let map: M = filled(0..N);
    let s = map.session();
    let mut i = 0u64;
    g.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            // Absent keys just above the filled range: inside the radix
            // tree's current height.
            let v = map.get(&s, N + key(i, N));
            debug_assert!(v.is_none());
            black_box(v)
        })
    });
}

fn insert_remove<M: Map>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
    // Even keys present; odd keys come and go between them (as swap cache
    // adds and deletes among neighbours).
    let map: M = filled((0..N).map(|k| 2 * k));
    let mut s = map.session();
    let mut i = 0u64;
    g.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(REPIN_EVERY) {
                map.refresh(&mut s);
            }
            let k = 2 * key(i, N) + 1;
            let ok = map.insert(&s, k, k) && map.remove(&s, k);
            debug_assert!(ok);
            black_box(ok)
        })
    });
}

/// `threads` threads each run `iters` operations: 90% loads of present keys,
/// 10% an insert + remove of a key of their own. Returns the slowest
/// thread's time.
fn mix<M: Map>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, threads: u64) {
    let map: M = filled((0..N).map(|k| 4 * k));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(threads as usize);
            thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (map, barrier) = (&map, &barrier);
                        scope.spawn(move || {
                            let mut s = map.session();
                            barrier.wait();
                            let start = Instant::now();
                            for i in 0..iters {
                                let r = key(i + t * 7919, 1 << 20);
                                if i.is_multiple_of(REPIN_EVERY) {
                                    map.refresh(&mut s);
                                }
                                if r.is_multiple_of(10) {
                                    // Thread t owns keys 4k + 1 + t.
                                    let k = 4 * key(i, N) + 1 + t;
                                    black_box(map.insert(&s, k, k) && map.remove(&s, k));
                                } else {
                                    black_box(map.get(&s, 4 * (r & (N - 1))));
                                }
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .max()
                    .unwrap_or_default()
            })
        })
    });
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);
    g
}

macro_rules! for_each_map {
    ($f:ident, $g:expr $(, $arg:expr)*) => {
        $f::<XArray<u32>>($g, "xarray" $(, $arg)*);
        $f::<XArray<Box<u64>>>($g, "xarray_box" $(, $arg)*);
        $f::<Papaya>($g, "papaya" $(, $arg)*);
        $f::<RwLock<BTreeMap<u64, u64>>>($g, "rwlock_btreemap" $(, $arg)*);
        $f::<Mutex<HashMap<u64, u64>>>($g, "mutex_hashmap" $(, $arg)*);
        $f::<dashmap::DashMap<u64, u64>>($g, "dashmap" $(, $arg)*);
        $f::<scc::HashMap<u64, u64>>($g, "scc_hashmap" $(, $arg)*);
    };
}

fn benches(c: &mut Criterion) {
    {
        let mut g = group(c, "xarray_load_hit");
        for_each_map!(load_hit, &mut g);
        // The same loads, pinning the epoch for every single load.
        let xa: XArray<u32> = filled(0..N);
        let mut i = 0u64;
        g.bench_function("xarray_pin_per_load", |b| {
            b.iter(|| {
                i += 1;
                let guard = epoch::pin();
                black_box(xa.load(key(i, N), &guard).and_then(Entry::as_ptr))
            })
        });
        let pm: Papaya = filled(0..N);
        g.bench_function("papaya_pin_per_load", |b| {
            b.iter(|| {
                i += 1;
                black_box(pm.pin().get(&key(i, N)).copied())
            })
        });
        g.finish();
    }
    {
        let mut g = group(c, "xarray_load_miss");
        for_each_map!(load_miss, &mut g);
        g.finish();
    }
    {
        let mut g = group(c, "xarray_insert_remove");
        for_each_map!(insert_remove, &mut g);
        g.finish();
    }
    for threads in [1, 2] {
        let mut g = group(c, &format!("xarray_mix90_{threads}t"));
        for_each_map!(mix, &mut g, threads);
        g.finish();
    }
}

criterion_group!(xarray, benches);
criterion_main!(xarray);
