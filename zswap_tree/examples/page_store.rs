//! `zswap_tree` on its own: a compressed in-memory page store with a pool
//! limit. Pages go in compressed (same-filled pages as one word); when the
//! pool is full, the oldest entries are written back to a slower "device"
//! (here a `HashMap`) to make room, as zswap's shrinker does; a read looks
//! in the store first and falls back to the device.
//!
//! `cargo run --release -p zswap_tree --example page_store [PAGES]`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zswap_tree::{Config, ContentClass, LoadMode, PAGE_SIZE, Page, ZswapTree};

fn main() {
    let pages: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    // The backing device: what writeback sends there.
    let device: Arc<Mutex<HashMap<u64, Box<Page>>>> = Arc::default();
    let dev = device.clone();
    let config = Config {
        // A pool of 4 MiB of compressed bytes; above it, stores first write
        // back the oldest entries, down to 90% of the limit.
        max_pool_bytes: Some(4 << 20),
        ..Config::default()
    };
    let store = ZswapTree::with_writeback(pages, config, move |offset, page| {
        dev.lock()
            .expect("device lock")
            .insert(offset, Box::new(*page));
    });

    // Mixed content: text compresses about 4:1, zero-tail pages about
    // 100:1, every 16th page is all zeros (same-filled: no compression).
    let content = |i: u64| {
        if i.is_multiple_of(16) {
            Box::new([0u8; PAGE_SIZE])
        } else if i.is_multiple_of(2) {
            ContentClass::Text.page(i)
        } else {
            ContentClass::ZeroTail.page(i)
        }
    };
    for i in 0..pages {
        store
            .store(i, &content(i))
            .expect("compressible page accepted");
    }

    // Read everything back, exclusively (the entry leaves the store, as a
    // swap-in into the swap cache does); misses come from the device.
    let mut page = [0u8; PAGE_SIZE];
    let (mut from_store, mut from_device) = (0u64, 0u64);
    for i in 0..pages {
        if store
            .load(i, &mut page, LoadMode::Exclusive)
            .expect("intact data")
        {
            from_store += 1;
        } else {
            let dev = device.lock().expect("device lock");
            page.copy_from_slice(&dev[&i][..]);
            from_device += 1;
        }
        assert_eq!(page, *content(i), "page {i}");
    }

    let s = store.stats();
    println!(
        "{pages} pages of {} KiB: {} same-filled, {} written back under a 4 MiB pool \
         (limit hit {} times), {from_store} loaded from the store, {from_device} from the device",
        PAGE_SIZE / 1024,
        pages.div_ceil(16),
        s.writebacks,
        s.pool_limit_hit,
    );
    assert_eq!(from_store + from_device, pages);
    assert_eq!(s.writebacks, from_device);
    assert_eq!(s.stored_pages, 0);
}
