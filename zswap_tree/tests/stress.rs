//! Concurrent stress: threads store, load (both modes) and invalidate their
//! own offsets and a shared set, while the pool limit forces writeback to a
//! "device" map. Every page carries its offset and version, so content
//! checks catch torn, misplaced or stale data.

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use zswap_tree::{
    Config, LoadMode, PAGE_SIZE, Page, REGION_SLOTS, ZswapTree, fill_page, same_filled,
};

const THREADS: u64 = 4;
const OPS: u64 = if cfg!(miri) { 200 } else { 20_000 };
const PRIVATE: u64 = 24;
const SHARED: u64 = 8;

/// Private offsets of thread `t`, alternating between two regions.
fn private_offset(t: u64, i: u64) -> u64 {
    (i % 2) * REGION_SLOTS + 100 + t * PRIVATE + i
}

/// Shared offsets, in both regions.
fn shared_offset(i: u64) -> u64 {
    let i = i % SHARED;
    (i % 2) * REGION_SLOTS + 50 + i
}

/// Page `(offset, version)`: one in five same-filled, the rest half
/// pseudo-random and half zeros; words 0 and 1 hold offset and version.
fn make(offset: u64, version: u64) -> Box<Page> {
    let mut page = Box::new([0u8; PAGE_SIZE]);
    if version.is_multiple_of(5) {
        fill_page(&mut page, offset << 32 | version);
        return page;
    }
    page[..8].copy_from_slice(&offset.to_ne_bytes());
    page[8..16].copy_from_slice(&version.to_ne_bytes());
    let mut x = (offset << 32 | version) | 1;
    for w in page[16..PAGE_SIZE / 2].chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&(x & 0x0F0F_0F0F_0F0F_0F0F).to_ne_bytes());
    }
    page
}

/// The `(offset, version)` a page claims, after checking it is intact.
fn decode(page: &Page) -> (u64, u64) {
    let (offset, version) = match same_filled(page) {
        Some(w) => (w >> 32, w & 0xFFFF_FFFF),
        None => (
            u64::from_ne_bytes(page[..8].try_into().unwrap()),
            u64::from_ne_bytes(page[8..16].try_into().unwrap()),
        ),
    };
    assert!(
        page[..] == make(offset, version)[..],
        "torn page claiming ({offset}, {version})"
    );
    (offset, version)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Where {
    /// Never stored, or taken by an exclusive load / invalidated.
    Nowhere,
    /// In zswap, or (after writeback) on the device.
    Stored(u64),
}

#[test]
fn concurrent_store_load_invalidate_writeback() {
    let device: Arc<Mutex<HashMap<u64, Box<Page>>>> = Arc::default();
    let dev = Arc::clone(&device);
    let config = Config {
        max_pool_bytes: Some(40 * 2100),
        ..Config::default()
    };
    let zswap = Arc::new(ZswapTree::with_writeback(
        2 * REGION_SLOTS,
        config,
        move |off, page| {
            dev.lock().unwrap().insert(off, Box::new(*page));
        },
    ));
    let barrier = Arc::new(Barrier::new(THREADS as usize + 1));
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let zswap = Arc::clone(&zswap);
        let device = Arc::clone(&device);
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            let mut model = vec![Where::Nowhere; PRIVATE as usize];
            let mut version = 1u64;
            let mut rng = 0x2545_F491_4F6C_DD1D_u64 ^ t;
            let mut out = Box::new([0u8; PAGE_SIZE]);
            barrier.wait();
            for _ in 0..OPS {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = (rng >> 8) % PRIVATE;
                let off = private_offset(t, i);
                match rng % 8 {
                    0..=2 => {
                        version += 1;
                        let page = make(off, version);
                        match zswap.store(off, &page) {
                            Ok(()) => model[i as usize] = Where::Stored(version),
                            // Rejected: the caller writes the device itself.
                            Err(_) => {
                                device.lock().unwrap().insert(off, page);
                                model[i as usize] = Where::Stored(version);
                            }
                        }
                    }
                    3 | 4 => {
                        let mode = if rng % 8 == 3 {
                            LoadMode::Exclusive
                        } else {
                            LoadMode::Optimistic
                        };
                        let hit = zswap.load(off, &mut out, mode).unwrap();
                        let expect = model[i as usize];
                        if hit {
                            assert_eq!(Where::Stored(decode(&out).1), expect, "offset {off}");
                            assert_eq!(decode(&out).0, off);
                        } else if let Where::Stored(v) = expect {
                            // Not in zswap: written back, and the device
                            // must hold exactly the latest version.
                            let dev = device.lock().unwrap();
                            let page = dev.get(&off).expect("data in neither zswap nor device");
                            assert_eq!(decode(page), (off, v), "stale device data");
                        }
                        if hit && mode == LoadMode::Exclusive {
                            model[i as usize] = Where::Nowhere;
                        }
                    }
                    5 => {
                        zswap.invalidate(off);
                        device.lock().unwrap().remove(&off);
                        model[i as usize] = Where::Nowhere;
                    }
                    _ => {
                        // Shared offsets: any intact page of that offset.
                        let off = shared_offset(rng >> 40);
                        match (rng >> 20) % 3 {
                            0 => {
                                version += 1;
                                let _ = zswap.store(off, &make(off, version));
                            }
                            1 => {
                                if zswap.load(off, &mut out, LoadMode::Optimistic).unwrap() {
                                    assert_eq!(decode(&out).0, off);
                                }
                            }
                            _ => {
                                if zswap.load(off, &mut out, LoadMode::Exclusive).unwrap() {
                                    assert_eq!(decode(&out).0, off);
                                }
                            }
                        }
                    }
                }
            }
        }));
    }
    // A writeback thread, as zswap's shrink worker.
    let wb = {
        let zswap = Arc::clone(&zswap);
        let device = Arc::clone(&device);
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            barrier.wait();
            let mut n = 0;
            for _ in 0..OPS / 20 {
                n += zswap.writeback(2, |off, page| {
                    assert_eq!(decode(page).0, off);
                    device.lock().unwrap().insert(off, Box::new(*page));
                });
                thread::yield_now();
            }
            n
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    let written = wb.join().unwrap();
    if let Err(e) = zswap.check_invariants() {
        panic!("invariant violated: {e}");
    }
    let s = zswap.stats();
    eprintln!("{s:?}");
    assert_eq!(s.stored_pages as usize, zswap.offsets().len());
    assert!(s.writebacks >= written as u64);
    assert!(
        s.loads_exclusive > 0 && s.loads_optimistic > 0 && s.invalidations > 0,
        "{s:?}"
    );
    assert_eq!(s.load_errors, 0);
    zswap.invalidate_all();
    let s = zswap.stats();
    assert_eq!(
        (s.stored_pages, s.same_filled_pages, s.pool_bytes),
        (0, 0, 0),
        "{s:?}"
    );
}
